/*
 * runtime/trace.c: W3C Trace Context values (crpc/trace.h): parsing and
 * writing traceparent, and new span and trace ids.
 */
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "crpc/error.h"
#include "crpc/trace.h"

static int hex_nibble(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1; /* uppercase is invalid in traceparent */
}

/* Reads 2n lowercase hex digits at |s| into |out|. Returns 0 or -1. */
static int read_hex(const char *s, uint8_t *out, size_t n) {
  for (size_t i = 0; i < n; i++) {
    int hi = hex_nibble(s[2 * i]), lo = hex_nibble(s[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return -1;
    out[i] = (uint8_t)(hi << 4 | lo);
  }
  return 0;
}

static int all_zero(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i])
      return 0;
  return 1;
}

int crpc_trace_parse(const char *s, size_t len, crpc_trace_context *out) {
  memset(out, 0, sizeof(*out));
  uint8_t version;
  if (!s || len < CRPC_TRACEPARENT_LEN || read_hex(s, &version, 1) != 0 ||
      version == 0xff || s[2] != '-' || s[35] != '-' || s[52] != '-')
    return CRPC_EINVAL;
  /* Version 00 is exactly 55 characters; a later version may append
   * fields after a dash, which a version-00 reader ignores. */
  if (len > CRPC_TRACEPARENT_LEN && (version == 0 || s[55] != '-'))
    return CRPC_EINVAL;
  crpc_trace_context tc = {0};
  if (read_hex(s + 3, tc.trace_id, 16) != 0 ||
      read_hex(s + 36, tc.parent_span_id, 8) != 0 ||
      read_hex(s + 53, &tc.flags, 1) != 0 || all_zero(tc.trace_id, 16) ||
      all_zero(tc.parent_span_id, 8))
    return CRPC_EINVAL;
  tc.valid = 1;
  *out = tc;
  return 0;
}

void crpc_trace_hex(const uint8_t *id, size_t n, char *buf) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    buf[2 * i] = digits[id[i] >> 4];
    buf[2 * i + 1] = digits[id[i] & 15];
  }
  buf[2 * n] = '\0';
}

void crpc_trace_format(const crpc_trace_context *tc,
                       char buf[CRPC_TRACEPARENT_LEN + 1]) {
  memcpy(buf, "00-", 3);
  crpc_trace_hex(tc->trace_id, 16, buf + 3);
  buf[35] = '-';
  crpc_trace_hex(tc->span_id, 8, buf + 36);
  buf[52] = '-';
  crpc_trace_hex(&tc->flags, 1, buf + 53);
}

/* Random ids: xorshift128+ per thread, seeded from the kernel. Ids need
 * to be unique, not secret. */
static _Thread_local uint64_t rng_s[2];

static uint64_t next_random(void) {
  if (!rng_s[0] && !rng_s[1]) {
    if (getrandom(rng_s, sizeof(rng_s), 0) != (ssize_t)sizeof(rng_s)) {
      struct timespec ts;
      clock_gettime(CLOCK_MONOTONIC, &ts);
      rng_s[0] = (uint64_t)ts.tv_nsec ^ (uint64_t)(uintptr_t)&ts;
      rng_s[1] = (uint64_t)ts.tv_sec * 0x9e3779b97f4a7c15u;
    }
    rng_s[1] |= 1;
  }
  uint64_t x = rng_s[0], y = rng_s[1];
  rng_s[0] = y;
  x ^= x << 23;
  rng_s[1] = x ^ y ^ (x >> 17) ^ (y >> 26);
  return rng_s[1] + y;
}

/* Fills |n| (8 or 16) bytes with a random id that is not all zero. */
static void random_id(uint8_t *id, size_t n) {
  do {
    for (size_t i = 0; i < n; i += 8) {
      uint64_t r = next_random();
      memcpy(id + i, &r, 8);
    }
  } while (all_zero(id, n));
}

void crpc_trace_new_span(crpc_trace_context *tc, int sampled) {
  if (!tc->valid) {
    memset(tc, 0, sizeof(*tc));
    tc->valid = 1;
    random_id(tc->trace_id, 16);
    tc->flags = sampled ? 1 : 0;
  } else if (!all_zero(tc->span_id, 8)) {
    memcpy(tc->parent_span_id, tc->span_id, 8);
  }
  random_id(tc->span_id, 8);
}
