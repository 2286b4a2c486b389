/*
 * crpc/trace.h: W3C Trace Context (https://www.w3.org/TR/trace-context/).
 *
 * A call that arrives with a `traceparent` header is part of a trace: the
 * server gives its handling a span of its own (a new span id whose parent
 * is the caller's), and every call the handler makes carries the trace on
 * with a new span id of its own whose parent is the handler's span, and
 * the caller's `tracestate` unchanged, as deadline and cancellation are
 * carried. Interceptors (crpc/interceptor.h) read and set a call's trace
 * context with crpc_icall_trace(); exporting the spans to a tracer is an
 * interceptor's job too (docs/guide.md, "Tracing").
 */
#ifndef CRPC_TRACE_H
#define CRPC_TRACE_H

#include "crpc/common.h"

CRPC_BEGIN_DECLS

/* The longest tracestate crpc carries on; a longer one is dropped, as the
 * specification allows. */
#define CRPC_TRACESTATE_MAX 512
/* The length of a traceparent value: "00-" 32 hex "-" 16 hex "-" 2 hex. */
#define CRPC_TRACEPARENT_LEN 55

typedef struct crpc_trace_context {
  /* Nonzero when the call is part of a trace; the rest is then set. */
  int valid;
  uint8_t trace_id[16];
  /* The span of this call on this side: the server's handling of it, or
   * the client's call. */
  uint8_t span_id[8];
  /* The span it was made from: the caller's, as its traceparent said, on
   * the server; the enclosing handler's on the client. All zero for a
   * trace that starts here. */
  uint8_t parent_span_id[8];
  uint8_t flags; /* trace-flags: bit 0 is "sampled" */
  /* The vendor list, as received (NUL-terminated; "" for none). */
  char tracestate[CRPC_TRACESTATE_MAX + 1];
} crpc_trace_context;

/*
 * Parses a traceparent header value (version 00, or a later version read
 * as 00 as the specification says) into |out|'s trace id, parent span id
 * (the value's parent-id) and flags; |out|'s span id is left zero and its
 * tracestate empty. Returns 0, or CRPC_EINVAL for a malformed value, an
 * all-zero trace or parent id, or version ff; |out| is then zeroed.
 * Thread: any.
 */
CRPC_EXTERN int crpc_trace_parse(const char *traceparent, size_t len,
                                 crpc_trace_context *out);

/*
 * Writes the traceparent value that names |tc|'s span (its span id as the
 * parent-id) into |buf|, which holds CRPC_TRACEPARENT_LEN + 1 bytes, NUL
 * included. Thread: any.
 */
CRPC_EXTERN void crpc_trace_format(const crpc_trace_context *tc,
                                   char buf[CRPC_TRACEPARENT_LEN + 1]);

/*
 * Makes |tc| a new span of its trace: a new random span id is drawn, and
 * the old one, if any (a context crpc_trace_parse() made has none: its
 * parent is the caller's span), becomes the parent. With |tc| not valid,
 * starts a new trace instead: a random trace id, no parent, and flags
 * that say |sampled|. Thread: any.
 */
CRPC_EXTERN void crpc_trace_new_span(crpc_trace_context *tc, int sampled);

/* Writes |n| bytes of |id| as 2n lowercase hex digits and a NUL into
 * |buf|. Thread: any. */
CRPC_EXTERN void crpc_trace_hex(const uint8_t *id, size_t n, char *buf);

CRPC_END_DECLS

#endif /* CRPC_TRACE_H */
