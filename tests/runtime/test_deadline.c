/* Tests for runtime/deadline.c: monotonic deadlines and grpc-timeout. */
#include <criterion/criterion.h>
#include <string.h>

#include "crpc/error.h"
#include "deadline_internal.h"

static int parse(const char *s, int64_t *ns) {
  return crpc__timeout_parse(s, strlen(s), ns);
}

Test(deadline, parses_every_unit, .timeout = 10) {
  static const struct {
    const char *in;
    int64_t ns;
  } cases[] = {
      {"1n", 1},
      {"7u", 7000},
      {"100m", 100000000},
      {"3S", INT64_C(3000000000)},
      {"2M", INT64_C(120000000000)},
      {"1H", INT64_C(3600000000000)},
      {"0S", 0},
      {"99999999n", 99999999},
      {"00000001m", 1000000},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int64_t ns = -1;
    cr_assert_eq(parse(cases[i].in, &ns), 0, "%s", cases[i].in);
    cr_assert_eq(ns, cases[i].ns, "%s -> %lld", cases[i].in, (long long)ns);
  }
}

Test(deadline, rejects_bad_timeouts, .timeout = 10) {
  static const char *bad[] = {
      "",    "S",    "1",   "123456789S", "-1S", "+1S",  "1s",   "1 S",  " 1S",
      "1S ", "1.5S", "1SS", "1h",         "1x",  "abcS", "1\0S", "0x1S", "1e3m",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int64_t ns = 42;
    cr_assert_eq(parse(bad[i], &ns), CRPC_EBADTIMEOUT, "accepted '%s'", bad[i]);
    cr_assert_eq(ns, 42, "output touched for '%s'", bad[i]);
  }
  int64_t ns = 42;
  cr_assert_eq(crpc__timeout_parse(NULL, 0, &ns), CRPC_EBADTIMEOUT);
  /* An embedded NUL inside the given length is not a digit. */
  cr_assert_eq(crpc__timeout_parse("1\0S", 3, &ns), CRPC_EBADTIMEOUT);
}

Test(deadline, saturates_huge_hours, .timeout = 10) {
  int64_t ns = 0;
  cr_assert_eq(parse("99999999H", &ns), 0);
  cr_assert_eq(ns, INT64_MAX);
}

Test(deadline, encodes_finest_unit_rounding_up, .timeout = 10) {
  static const struct {
    int64_t ns;
    const char *out;
  } cases[] = {
      {0, "1n"},
      {-5, "1n"},
      {1, "1n"},
      {99999999, "99999999n"},
      {100000000, "100000u"},
      {100000001, "100001u"},
      {INT64_C(99999999000), "99999999u"},
      {INT64_C(99999999001), "100000m"},
      {INT64_C(3600000000000), "3600000m"},
      {INT64_MAX, "2562048H"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char buf[CRPC__TIMEOUT_MAX];
    size_t n = crpc__timeout_encode(cases[i].ns, buf);
    cr_assert_str_eq(buf, cases[i].out, "%lld", (long long)cases[i].ns);
    cr_assert_eq(n, strlen(cases[i].out));
  }
}

Test(deadline, encode_parse_round_trip_never_shortens, .timeout = 10) {
  uint64_t x = 88172645463325252u;
  for (int i = 0; i < 100000; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    int64_t ns = (int64_t)(x >> (x % 40 + 1));
    char buf[CRPC__TIMEOUT_MAX];
    int64_t back = 0;
    size_t n = crpc__timeout_encode(ns, buf);
    cr_assert_leq(n, 9);
    cr_assert_eq(crpc__timeout_parse(buf, n, &back), 0, "%s", buf);
    cr_assert_geq(back, ns, "%lld encoded as %s", (long long)ns, buf);
  }
}

Test(deadline, deadlines_follow_the_monotonic_clock, .timeout = 10) {
  crpc_deadline d = crpc_deadline_after_ms(50);
  cr_assert_not(crpc_deadline_expired(d));
  int64_t ms = crpc_deadline_remaining_ms(d);
  cr_assert(ms > 0 && ms <= 50, "%lld", (long long)ms);
  crpc_deadline past = crpc_deadline_after_ms(-1);
  cr_assert(crpc_deadline_expired(past));
  cr_assert_eq(crpc_deadline_remaining_ns(past), 0);
  cr_assert_eq(crpc_deadline_remaining_ms(past), 0);
  cr_assert_not(crpc_deadline_expired(CRPC_DEADLINE_INFINITE));
  cr_assert_eq(crpc_deadline_remaining_ns(CRPC_DEADLINE_INFINITE), INT64_MAX);
  cr_assert_eq(crpc_deadline_after_ms(INT64_MAX), INT64_MAX);
  cr_assert_eq(crpc_deadline_min(d, past), past);
  /* Remaining milliseconds round up: 1 ns left is 1 ms, not 0. */
  cr_assert_eq(crpc_deadline_remaining_ms(crpc_now_ns() + 1000000000), 1000);
}
