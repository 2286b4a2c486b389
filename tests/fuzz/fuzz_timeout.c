/*
 * tests/fuzz/fuzz_timeout.c: libFuzzer target for the grpc-timeout header
 * (runtime/deadline.c): the input is a header value to parse; a value that
 * parses, and the input's first 8 bytes read as nanoseconds, encode to a
 * value that parses back to no less (the peer never sees a shorter
 * timeout).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crpc/error.h"
#include "deadline_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Encodes |ns| and checks that the value parses back to at least it. */
static void round_trip(int64_t ns) {
  char text[CRPC__TIMEOUT_MAX];
  size_t n = crpc__timeout_encode(ns, text);
  int64_t back = 0;
  if (n == 0 || n >= sizeof(text) || strlen(text) != n)
    abort();
  if (crpc__timeout_parse(text, n, &back) != 0)
    abort();
  if (back < ns || back < 1)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int64_t ns = -1;
  int rc = crpc__timeout_parse((const char *)data, size, &ns);
  if (rc == 0) {
    if (ns < 0)
      abort();
    round_trip(ns);
  } else if (rc != CRPC_EBADTIMEOUT || ns != -1) {
    abort(); /* a failed parse leaves |*ns| untouched */
  }
  if (size >= sizeof(int64_t)) {
    int64_t v;
    memcpy(&v, data, sizeof(v));
    round_trip(v);
  }
  return 0;
}
