/* runtime/deadline.c: monotonic deadlines and grpc-timeout encoding. */
#include "deadline_internal.h"

#include <stdio.h>
#include <uv.h>

#include "crpc/error.h"

#define NS_PER_MS INT64_C(1000000)

int64_t crpc_now_ns(void) {
  return (int64_t)uv_hrtime();
}

static int64_t sat_add(int64_t a, int64_t b) {
  if (b > 0 && a > INT64_MAX - b)
    return INT64_MAX;
  if (b < 0 && a < INT64_MIN - b)
    return INT64_MIN;
  return a + b;
}

static int64_t sat_mul(int64_t a, int64_t b) {
  if (a != 0 && (a > INT64_MAX / b || a < INT64_MIN / b))
    return a > 0 ? INT64_MAX : INT64_MIN;
  return a * b;
}

crpc_deadline crpc_deadline_after_ns(int64_t ns) {
  return sat_add(crpc_now_ns(), ns);
}

crpc_deadline crpc_deadline_after_ms(int64_t ms) {
  return crpc_deadline_after_ns(sat_mul(ms, NS_PER_MS));
}

int64_t crpc_deadline_remaining_ns(crpc_deadline d) {
  if (d == CRPC_DEADLINE_INFINITE)
    return INT64_MAX;
  int64_t now = crpc_now_ns();
  return d > now ? d - now : 0;
}

int64_t crpc_deadline_remaining_ms(crpc_deadline d) {
  int64_t ns = crpc_deadline_remaining_ns(d);
  if (ns == INT64_MAX)
    return INT64_MAX;
  return ns / NS_PER_MS + (ns % NS_PER_MS != 0);
}

int crpc_deadline_expired(crpc_deadline d) {
  return d != CRPC_DEADLINE_INFINITE && crpc_now_ns() >= d;
}

crpc_deadline crpc_deadline_min(crpc_deadline a, crpc_deadline b) {
  return a < b ? a : b;
}

/* Units from finest to coarsest, as grpc-timeout spells them. */
static const struct {
  char unit;
  int64_t ns;
} units[] = {
    {'n', 1},
    {'u', 1000},
    {'m', NS_PER_MS},
    {'S', 1000 * NS_PER_MS},
    {'M', 60 * 1000 * NS_PER_MS},
    {'H', 3600 * 1000 * NS_PER_MS},
};
#define N_UNITS (sizeof(units) / sizeof(units[0]))
#define MAX_VALUE INT64_C(99999999)

int crpc__timeout_parse(const char *s, size_t len, int64_t *ns) {
  int64_t value = 0;

  if (s == NULL || len < 2 || len > 9)
    return CRPC_EBADTIMEOUT;
  for (size_t i = 0; i + 1 < len; i++) {
    if (s[i] < '0' || s[i] > '9')
      return CRPC_EBADTIMEOUT;
    value = value * 10 + (s[i] - '0');
  }
  for (size_t u = 0; u < N_UNITS; u++) {
    if (s[len - 1] == units[u].unit) {
      *ns = sat_mul(value, units[u].ns);
      return 0;
    }
  }
  return CRPC_EBADTIMEOUT;
}

size_t crpc__timeout_encode(int64_t ns, char out[CRPC__TIMEOUT_MAX]) {
  if (ns < 1)
    ns = 1;
  for (size_t u = 0; u < N_UNITS; u++) {
    int64_t v = ns / units[u].ns + (ns % units[u].ns != 0);
    if (v <= MAX_VALUE || u == N_UNITS - 1) {
      if (v > MAX_VALUE)
        v = MAX_VALUE;
      return (size_t)snprintf(out, CRPC__TIMEOUT_MAX, "%lld%c", (long long)v,
                              units[u].unit);
    }
  }
  return 0; /* not reached: the last unit always fits */
}
