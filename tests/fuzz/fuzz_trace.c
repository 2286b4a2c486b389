/*
 * tests/fuzz/fuzz_trace.c: libFuzzer target for W3C traceparent values
 * (runtime/trace.c), as a request's header brings them: the input is the
 * value. One that parses has a nonzero trace id and parent id, and a new
 * span of it formats to a value that parses back to the same trace, flags
 * and (as parent id) that span.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crpc/trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int all_zero(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i])
      return 0;
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  crpc_trace_context tc, back;
  if (crpc_trace_parse((const char *)data, size, &tc) != 0) {
    if (tc.valid)
      abort(); /* a refused value leaves the context zeroed */
    return 0;
  }
  if (!tc.valid || all_zero(tc.trace_id, 16) || all_zero(tc.parent_span_id, 8))
    abort();
  crpc_trace_new_span(&tc, 0);
  if (all_zero(tc.span_id, 8))
    abort();
  char out[CRPC_TRACEPARENT_LEN + 1];
  crpc_trace_format(&tc, out);
  if (strlen(out) != CRPC_TRACEPARENT_LEN ||
      crpc_trace_parse(out, CRPC_TRACEPARENT_LEN, &back) != 0 ||
      memcmp(back.trace_id, tc.trace_id, 16) != 0 ||
      memcmp(back.parent_span_id, tc.span_id, 8) != 0 || back.flags != tc.flags)
    abort();
  return 0;
}
