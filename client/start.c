/*
 * client/start.c: making a call (any thread): its options copied, its
 * deadline and cancellation inherited from the enclosing handler's call
 * scope, its request framed, its future made, and its start posted to the
 * channel's loop; the unary and streaming entry points of crpc/call.h.
 */
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"
#include "crpc/error.h"
#include "log_internal.h"
#include "call_scope.h"
#include "coro_internal.h"
#include "method_internal.h"
#include "msgcheck.h"

/* The first retry's wait when the options name none. */
#define DEFAULT_RETRY_BACKOFF_MS 100

static void parent_fired(crpc__listener *l, crpc_future *f) {
  crpc__client_call *call =
      (crpc__client_call *)((char *)l - offsetof(crpc__client_call, parent_l));
  crpc_status code = crpc_future_status(f);
  crpc__client_call_cancel(call, code == CRPC_STATUS_DEADLINE_EXCEEDED
                                     ? CRPC_STATUS_DEADLINE_EXCEEDED
                                     : CRPC_STATUS_CANCELLED);
  crpc__client_call_unref(call);
}

static void done_finalize(void *data) {
  crpc__client_call_unref(data);
}

/* crpc_future_cancel() on a call's future: the call ends CANCELLED. */
static void done_cancel(crpc_future *f, void *data) {
  crpc__client_call *call = data;
  crpc__client_result *r =
      crpc__client_result_new(CRPC_STATUS_CANCELLED, "cancelled");
  crpc__client_call_cancel(call, CRPC_STATUS_CANCELLED);
  if (r && crpc_future_complete(f, CRPC_STATUS_CANCELLED, "cancelled", r,
                                crpc__client_result_free) != 0)
    crpc__client_result_free(r);
}

static crpc_status fail_early(crpc_status code, const char *msg,
                              crpc_status_info *out) {
  if (out)
    crpc_status_info_set(out, code, msg);
  return code;
}

/* Room for a message naming the field of a request that cannot be
 * encoded. */

/* The status, and in |*why| its message, for a request message |msg| that
 * crpc__frame_encode_compressed() refused with |rc|; |buf|
 * (CRPC__CLIENT_WHY_MAX bytes) holds the message when it names the field at
 * fault. */
crpc_status crpc__client_encode_status(int rc, const ProtobufCMessage *msg,
                                       char *buf, const char **why) {
  switch (rc) {
  case CRPC_ETOOBIG:
    *why = "the request message is larger than the channel's send limit";
    return CRPC_STATUS_RESOURCE_EXHAUSTED;
  case CRPC_ENOMEM:
    *why = "out of memory";
    return CRPC_STATUS_RESOURCE_EXHAUSTED;
  case CRPC_EPACK: {
    static const char pfx[] = "the request message cannot be encoded: ";
    memcpy(buf, pfx, sizeof(pfx));
    crpc__msgcheck(msg, buf + sizeof(pfx) - 1,
                   CRPC__CLIENT_WHY_MAX - sizeof(pfx) + 1);
    *why = buf;
    return CRPC_STATUS_INTERNAL;
  }
  default:
    *why = "the request could not be encoded";
    return CRPC_STATUS_INTERNAL;
  }
}

/* Checks what a call is asked; |*enc| is the compression it names. */
static crpc_status check_args(const crpc_channel *ch, const crpc_method *method,
                              const ProtobufCMessage *req,
                              const crpc_call_opts *opts, crpc__encoding *enc,
                              const char **why) {
  if (!ch || !method) {
    *why = "no channel or method";
    return CRPC_STATUS_INVALID_ARGUMENT;
  }
  *enc = CRPC__ENCODING_IDENTITY;
  if (opts->compression &&
      crpc__compress_lookup(opts->compression, strlen(opts->compression),
                            enc) != 0) {
    *why = "unsupported compression";
    return CRPC_STATUS_INVALID_ARGUMENT;
  }
  if (crpc__method_single_request(method) != (req != NULL)) {
    *why = req ? "a streaming request takes no message at start"
               : "the call needs a request message";
    return CRPC_STATUS_INVALID_ARGUMENT;
  }
  return CRPC_STATUS_OK;
}

/* The deadline of a call with |opts| made here, in |scope| (NULL: none):
 * the earliest of its timeout, its deadline and the scope's; |*parent| is
 * the scope's cancellation (a new reference), or NULL. */
static crpc_deadline call_deadline(const crpc_call_opts *opts,
                                   const crpc__call_scope *scope,
                                   crpc_future **parent) {
  crpc_deadline d = CRPC_DEADLINE_INFINITE;
  if (opts->timeout_ms > 0)
    d = crpc_deadline_after_ms(opts->timeout_ms);
  if (opts->deadline > 0)
    d = crpc_deadline_min(d, opts->deadline);
  *parent = NULL;
  if (scope) {
    d = crpc_deadline_min(d, scope->deadline);
    *parent = scope->cancelled ? crpc_future_ref(scope->cancelled) : NULL;
  }
  return d;
}

/* Runs |creds| for |call|. Returns OK, or UNAUTHENTICATED with |*why|. */
static crpc_status run_credentials(crpc__client_call *call,
                                   const crpc_call_credentials *creds,
                                   const char **why) {
  crpc_channel *ch = call->ch;
  if (!creds || !creds->get)
    return CRPC_STATUS_OK;
  if (!ch->opts.tls && !creds->allow_insecure) {
    *why = "refusing to send call credentials over a connection without TLS "
           "(allow_insecure permits it)";
    return CRPC_STATUS_UNAUTHENTICATED;
  }
  if (creds->get(creds->data, call->method, ch->target_text, &call->md) != 0) {
    *why = "the call credentials failed";
    return CRPC_STATUS_UNAUTHENTICATED;
  }
  return CRPC_STATUS_OK;
}

/* Writes |tc| into the call's metadata as traceparent and tracestate,
 * replacing what was there. Returns 0 or CRPC_ENOMEM. */
static int put_trace(crpc_metadata *md, const crpc_trace_context *tc) {
  char tp[CRPC_TRACEPARENT_LEN + 1];
  crpc_trace_format(tc, tp);
  crpc_metadata_remove(md, "traceparent");
  crpc_metadata_remove(md, "tracestate");
  int rc = crpc_metadata_add(md, "traceparent", tp, CRPC_TRACEPARENT_LEN);
  if (rc == 0 && tc->tracestate[0])
    rc = crpc_metadata_add_str(md, "tracestate", tc->tracestate);
  return rc == CRPC_ENOMEM ? rc : 0; /* a bad tracestate is dropped */
}

/* The interceptors' end for a call that ends before it is sent. */
static void end_unsent(crpc__client_call *call, crpc_status code,
                       const char *why) {
  crpc_icall_end e = {.code = code, .message = why};
  e.duration_ns = crpc_now_ns() - call->start_ns;
  crpc__icall_end(call->ic, &e);
}

/* Makes the call's trace context, runs its credentials and its
 * interceptors' start, and writes its trace into its metadata. A call
 * made in a traced handler (|scope|) gets a span of its own in the
 * handler's trace, unless its metadata names a traceparent already.
 * Returns OK, or the status the call ends with and |*why| (a static
 * message, or |buf|). */
static crpc_status call_intercept(crpc__client_call *call,
                                  const crpc_call_opts *opts,
                                  const crpc__call_scope *scope,
                                  const char **why, char *buf) {
  crpc_channel *ch = call->ch;
  crpc_trace_context child, *tc = &child;
  child.valid = 0;
  int own_trace = 0;
  if (ch->chain.n) {
    crpc_icall *ic = calloc(1, sizeof(*ic) + ch->chain.state_bytes);
    if (!ic || crpc__icall_init(ic) != 0) {
      free(ic);
      *why = "out of memory";
      return CRPC_STATUS_RESOURCE_EXHAUSTED;
    }
    ic->side = CRPC_SIDE_CLIENT;
    ic->method = call->method;
    ic->peer = ch->target_text;
    ic->deadline = call->deadline;
    ic->placement = CRPC_PLACEMENT_WORKER;
    ic->md = &call->md;
    ic->chain = &ch->chain;
    ic->state = ch->chain.state_bytes ? (unsigned char *)(ic + 1) : NULL;
    call->ic = ic;
    call->start_ns = crpc_now_ns();
    tc = &ic->trace;
  }
  ptrdiff_t given = crpc_metadata_find(&call->md, "traceparent", 0);
  if (given >= 0) {
    const crpc_metadata_entry *e = &call->md.entries[given];
    own_trace = crpc_trace_parse((const char *)e->value, e->value_len, tc) == 0;
    if (own_trace) { /* the span the caller named is this call's */
      memcpy(tc->span_id, tc->parent_span_id, 8);
      memset(tc->parent_span_id, 0, 8);
    }
  } else if (scope && scope->trace && scope->trace->valid) {
    *tc = *scope->trace;
    crpc_trace_new_span(tc, 0);
  }
  crpc_status st = run_credentials(call, &ch->opts.credentials, why);
  if (st == CRPC_STATUS_OK)
    st = run_credentials(call, opts->credentials, why);
  if (st == CRPC_STATUS_OK && call->ic) {
    st = crpc__icall_start(call->ic, &ch->opts.logger, why);
    if (st != CRPC_STATUS_OK) {
      snprintf(buf, CRPC__CLIENT_WHY_MAX, "%s", *why);
      *why = buf;
    }
  }
  if (st == CRPC_STATUS_OK && tc->valid && !(own_trace && !call->ic) &&
      put_trace(&call->md, tc) != 0) {
    *why = "out of memory";
    st = CRPC_STATUS_RESOURCE_EXHAUSTED;
  }
  if (st != CRPC_STATUS_OK && call->ic)
    end_unsent(call, st, *why);
  return st;
}

/*
 * A new call, not started: its options copied, its request framed, its
 * future made. It holds two references: the done future's (kept by the
 * future's finalizer, dropped when the future is freed) and the handle's
 * (dropped by crpc_call_free(), or at once for unary calls). On failure
 * nothing is left and |*why| is a static message or |buf|.
 */
static crpc_status call_new(crpc_channel *ch, const crpc_method *method,
                            const ProtobufCMessage *req,
                            const crpc_call_opts *opts, crpc__encoding enc,
                            crpc__client_call **out, const char **why,
                            char *buf) {
  crpc__client_call *call = calloc(1, sizeof(*call));
  if (!call || uv_mutex_init(&call->mu) != 0) {
    free(call);
    *why = "out of memory";
    return CRPC_STATUS_RESOURCE_EXHAUSTED;
  }
  atomic_init(&call->refs, 2);
  crpc__kick_init(&call->kick, crpc__client_call_kick_run);
  atomic_init(&call->cancel_code, 0);
  call->ch = ch;
  call->method = method;
  call->enc = enc;
  call->wait_for_ready = opts->wait_for_ready;
  call->max_attempts = opts->max_attempts;
  call->retry_backoff_ms = opts->retry_backoff_ms ? opts->retry_backoff_ms
                                                  : DEFAULT_RETRY_BACKOFF_MS;
  crpc_metadata_init(&call->md);
  crpc__grpc_response_init(&call->resp);
  crpc_metadata_init(&call->resp_headers);
  crpc__buf_init(&call->request, SIZE_MAX);
  crpc__outq_init(&call->out);
  crpc__frame_decoder_init(&call->dec, ch->opts.max_receive_bytes);
  crpc__frame_decoder_set_headroom(&call->dec, offsetof(crpc__cmsg, data));
  call->msgs = crpc__msg_cache_ref(ch->msgs);
  crpc__frame_decoder_set_mem(&call->dec, crpc__msg_cache_mem, call->msgs);
  const crpc__call_scope *scope =
      opts->no_propagation ? NULL : crpc__call_scope_current();
  call->deadline = call_deadline(opts, scope, &call->parent);

  int rc = 0;
  if (opts->metadata)
    rc = crpc_metadata_copy(&call->md, opts->metadata);
  if (rc == 0 &&
      (ch->chain.n || opts->credentials || ch->opts.credentials.get ||
       (scope && scope->trace) || call->md.count)) {
    crpc_status st = call_intercept(call, opts, scope, why, buf);
    if (st != CRPC_STATUS_OK) {
      atomic_store(&call->refs, 1); /* no future holds it */
      crpc__client_call_unref(call);
      return st;
    }
  }
  /* A large request is packed into memory the channel kept: new memory
   * faults in page by page (architecture.md, the client's reading). */
  if (rc == 0 && req)
    rc =
        crpc__frame_encode_in(&call->request, req, enc, ch->opts.max_send_bytes,
                              crpc__msg_cache_mem, call->msgs);
  if (rc == 0 && crpc_future_new(NULL, &call->done_f) != 0)
    rc = CRPC_ENOMEM;
  if (rc != 0) {
    crpc_status st = crpc__client_encode_status(rc, req, buf, why);
    if (call->ic)
      end_unsent(call, st, *why);
    crpc_future_unref(call->done_f);
    atomic_store(&call->refs, 1); /* no future holds it */
    crpc__client_call_unref(call);
    return st;
  }
  call->send_closed = crpc__method_single_request(method);
  if (req) {
    call->msgs_out = 1;
    call->bytes_out = crpc__buf_len(&call->request);
  }
  if (method->kind != CRPC_METHOD_UNARY) {
    /* Streams fill the outputs as they end; unary calls when read. */
    call->headers_out = opts->headers_out;
    call->trailers_out = opts->trailers_out;
    call->status_out = opts->status_out;
  }
  /* The future keeps the call (its first reference). */
  crpc__future_set_finalize(call->done_f, done_finalize, call);
  crpc_future_on_cancel(call->done_f, done_cancel, call);
  *out = call;
  return CRPC_STATUS_OK;
}

/*
 * Posts the start of a new call to its channel's loop. While it runs, the
 * call holds the loop (crpc__loop_hold) and a reference on its future, and
 * is held by the loop, by its start kick and, inside a handler, by the
 * listener on the handler's cancellation: each of those references is
 * dropped by whoever took it (crpc__client_call_end(), the kick, the
 * listener or its removal). On a channel that is closing the call ends
 * CANCELLED at once and none of them is taken.
 */
static void call_post(crpc__client_call *call, const crpc_call_opts *opts) {
  crpc_channel *ch = call->ch;
  crpc_future_ref(call->done_f);
  crpc__client_call_ref(call); /* the loop's */
  crpc__client_call_ref(call); /* the start kick's */
  crpc__loop_hold(ch->loop);
  if (crpc__kick_post(&call->kick, ch->loop) != 1) {
    crpc__loop_release(ch->loop);
    /* The channel is closing: the call ends here, never started. */
    call->done = 1;
    call->ended = 1;
    if (call->ic)
      end_unsent(call, CRPC_STATUS_CANCELLED, "the channel was closed");
    crpc_future_complete(call->done_f, CRPC_STATUS_CANCELLED,
                         "the channel was closed", NULL, NULL);
    crpc_future_unref(call->done_f);
    atomic_fetch_sub(&call->refs, 2); /* the loop's and the kick's */
    crpc_future_unref(call->parent);
    call->parent = NULL;
    return;
  }
  if (opts->cancel)
    crpc__cancel_link(opts->cancel, call);
  if (call->parent) {
    call->parent_l.fn = parent_fired;
    crpc__client_call_ref(call); /* the listener's */
    crpc__future_listen(call->parent, &call->parent_l);
  }
}

/*
 * Makes a call and posts its start. On success |*out| holds the call with
 * two references: the done future's (the caller's, as |*done|) and the
 * handle's (dropped by crpc_call_free, or at once for unary calls). On
 * failure |*why| is a static message or |buf| (CRPC__CLIENT_WHY_MAX bytes).
 */
static crpc_status call_make(crpc_channel *ch, const crpc_method *method,
                             const ProtobufCMessage *req,
                             const crpc_call_opts *opts,
                             crpc__client_call **out, const char **why,
                             char *buf) {
  static const crpc_call_opts none;
  if (!opts)
    opts = &none;
  *why = NULL;
  crpc__encoding enc;
  crpc_status st = check_args(ch, method, req, opts, &enc, why);
  if (st == CRPC_STATUS_OK)
    st = call_new(ch, method, req, opts, enc, out, why, buf);
  if (st == CRPC_STATUS_OK)
    call_post(*out, opts);
  return st;
}

/* Starting calls. */

static crpc_status loop_thread_refusal(crpc_status_info *out) {
  return fail_early(CRPC_STATUS_UNAVAILABLE,
                    "a blocking call on a loop thread outside a coroutine "
                    "would stall the loop",
                    out);
}

static int on_plain_loop_thread(void) {
  return crpc_loop_current() != NULL && !crpc_in_coroutine();
}

crpc_status crpc_call_start(crpc_channel *ch, const crpc_method *method,
                            const ProtobufCMessage *req,
                            const crpc_call_opts *opts, crpc_call **out) {
  crpc__client_call *call;
  const char *why;
  char buf[CRPC__CLIENT_WHY_MAX];
  crpc_status st = call_make(ch, method, req, opts, &call, &why, buf);
  if (st != CRPC_STATUS_OK)
    return fail_early(st, why, opts ? opts->status_out : NULL);
  *out = (crpc_call *)call;
  return CRPC_STATUS_OK;
}

crpc_future *crpc_call_unary_async(crpc_channel *ch, const crpc_method *method,
                                   const ProtobufCMessage *req,
                                   const crpc_call_opts *opts) {
  crpc__client_call *call;
  const char *why;
  char buf[CRPC__CLIENT_WHY_MAX];
  crpc_status st = call_make(ch, method, req, opts, &call, &why, buf);
  if (st != CRPC_STATUS_OK) {
    crpc_future *f;
    if (crpc_future_new(NULL, &f) != 0)
      return NULL;
    crpc__client_result *r = crpc__client_result_new(st, why);
    if (!r ||
        crpc_future_complete(f, st, why, r, crpc__client_result_free) != 0)
      crpc__client_result_free(r);
    return f;
  }
  crpc_future *f = call->done_f; /* the caller's reference */
  crpc__client_call_unref(call); /* no handle for unary calls */
  return f;
}

crpc_status crpc_call_unary(crpc_channel *ch, const crpc_method *method,
                            const ProtobufCMessage *req,
                            ProtobufCMessage **reply,
                            const crpc_call_opts *opts) {
  if (reply)
    *reply = NULL;
  if (on_plain_loop_thread())
    return loop_thread_refusal(opts ? opts->status_out : NULL);
  crpc_future *f = crpc_call_unary_async(ch, method, req, opts);
  if (!f)
    return fail_early(CRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory",
                      opts ? opts->status_out : NULL);
  crpc_status st = crpc_call_result(f, reply);
  crpc__client_result *r = crpc__client_result_of(f);
  if (opts && r) {
    if (opts->status_out)
      crpc_status_info_copy(opts->status_out, &r->status);
    if (opts->headers_out)
      crpc_metadata_copy(opts->headers_out, &r->headers);
    if (opts->trailers_out)
      crpc_metadata_copy(opts->trailers_out, &r->trailers);
  } else if (opts && opts->status_out) {
    crpc_status_info_set(opts->status_out, st, crpc_future_message(f));
  }
  crpc_future_unref(f);
  return st;
}
