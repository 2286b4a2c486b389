/*
 * client/call.c: calls, unary and streaming, from any thread.
 *
 * A call is made on the caller's thread (options copied, request framed),
 * then started on the channel's loop by its |kick| task, which also does
 * whatever the caller asks later: send what was written, give back the
 * window of what was read, cancel. The loop receives the response, and
 * ends the call once: its |done_f| future then completes with a
 * crpc__call_result (reply, status, headers, trailers).
 *
 * References on a call: its done_f's (dropped when the future is freed),
 * the loop's while it runs, a queued kick's, its open timer's, a parent
 * listener's, and a streaming caller's handle. The loop holds a reference
 * on done_f while the call runs, so a future nobody keeps (fire and
 * forget) lives until the call ends and then frees it all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call_scope.h"
#include "client_internal.h"
#include "coro_internal.h"
#include "grpc_headers.h"
#include "crpc/error.h"
#include "log_internal.h"
#include "metadata_wire.h"
#include "msgcheck.h"

/* A writer waits while more than HIGH bytes are queued, until LOW. */
#define OUT_HIGH_WATER (256u * 1024)
#define OUT_LOW_WATER (64u * 1024)
#define MAX_ATTEMPTS_CAP 5
#define DEFAULT_RETRY_BACKOFF_MS 100

static int single_reply(const crpc_method *m) {
  return m->kind == CRPC_METHOD_UNARY ||
         m->kind == CRPC_METHOD_CLIENT_STREAMING;
}

static int single_request(const crpc_method *m) {
  return m->kind == CRPC_METHOD_UNARY ||
         m->kind == CRPC_METHOD_SERVER_STREAMING;
}

/* References. */

void crpc__ccall_ref(crpc__ccall *call) {
  atomic_fetch_add(&call->refs, 1);
}

static void free_msgs(crpc__cmsg *m) {
  while (m) {
    crpc__cmsg *next = m->next;
    free(m);
    m = next;
  }
}

void crpc__ccall_unref(crpc__ccall *call) {
  if (atomic_fetch_sub(&call->refs, 1) != 1)
    return;
  crpc_metadata_cleanup(&call->md);
  crpc__buf_cleanup(&call->request);
  crpc__buf_cleanup(&call->out);
  crpc__frame_decoder_cleanup(&call->dec);
  crpc__grpc_response_cleanup(&call->resp);
  crpc_metadata_cleanup(&call->resp_headers);
  free(call->reply_msg);
  free_msgs(call->in_head);
  crpc_future_unref(call->parent);
  uv_mutex_destroy(&call->mu);
  free(call);
}

void crpc__call_result_free(void *p) {
  crpc__call_result *r = p;
  if (!r)
    return;
  if (r->reply)
    protobuf_c_message_free_unpacked(r->reply, NULL);
  crpc_status_info_cleanup(&r->status);
  crpc_metadata_cleanup(&r->headers);
  crpc_metadata_cleanup(&r->trailers);
  free(r);
}

static crpc__call_result *result_new(crpc_status code, const char *msg) {
  crpc__call_result *r = calloc(1, sizeof(*r));
  if (!r)
    return NULL;
  crpc_status_info_init(&r->status);
  crpc_metadata_init(&r->headers);
  crpc_metadata_init(&r->trailers);
  crpc_status_info_set(&r->status, code, msg);
  return r;
}

static const char *code_message(crpc_status code) {
  switch (code) {
  case CRPC_STATUS_CANCELLED:
    return "the call was cancelled";
  case CRPC_STATUS_DEADLINE_EXCEEDED:
    return "the deadline was exceeded";
  case CRPC_STATUS_INTERNAL:
    return "a response message could not be decoded";
  default:
    return crpc_status_name(code);
  }
}

/* The kick: everything the loop does for the caller. */

static void start_on_loop(crpc__ccall *call);

static void kick_run(crpc__task *t) {
  crpc__ccall *call =
      (crpc__ccall *)((char *)t - offsetof(crpc__ccall, kick.task));
  crpc__kick_taken(&call->kick);
  if (!call->started) {
    call->started = 1;
    start_on_loop(call);
  } else if (!call->finished) {
    int code = atomic_load(&call->cancel_code);
    if (code) {
      crpc__ccall_end(call, (crpc_status)code, code_message(code));
    } else if (call->conn) {
      nghttp2_session *ng = call->conn->h2.ng;
      uv_mutex_lock(&call->mu);
      size_t give = call->to_consume;
      call->to_consume = 0;
      int has_body = crpc__buf_len(&call->out) > 0 || call->send_closed;
      uv_mutex_unlock(&call->mu);
      if (give)
        nghttp2_session_consume(ng, call->stream_id, give);
      if (call->deferred && has_body) {
        call->deferred = 0;
        nghttp2_session_resume_data(ng, call->stream_id);
      }
      crpc__cconn_mark_dirty(call->conn);
    }
  }
  crpc__ccall_unref(call);
}

void crpc__ccall_kick_locked(crpc__ccall *call) {
  crpc__ccall_ref(call); /* the task's */
  if (crpc__kick_post(&call->kick, call->ch->loop) != 1)
    atomic_fetch_sub(&call->refs, 1); /* a reference remains: not the last */
}

void crpc__ccall_cancel(crpc__ccall *call, crpc_status code) {
  uv_mutex_lock(&call->mu);
  if (!call->done) {
    int zero = 0;
    atomic_compare_exchange_strong(&call->cancel_code, &zero, (int)code);
    crpc__ccall_kick_locked(call);
  }
  uv_mutex_unlock(&call->mu);
}

/* Timers: the deadline, and the wait before a retry. */

static void on_timer_closed(uv_handle_t *h) {
  crpc__ccall *call = h->data;
  crpc__channel_handle_closed(call->ch);
  crpc__ccall_unref(call);
}

static void retry_now(crpc__ccall *call);
static void arm_timer(crpc__ccall *call, int64_t ms);

static void on_timer(uv_timer_t *t) {
  crpc__ccall *call = t->data;
  if (call->deadline != CRPC_DEADLINE_INFINITE &&
      crpc_deadline_expired(call->deadline)) {
    crpc__ccall_end(call, CRPC_STATUS_DEADLINE_EXCEEDED,
                    "the deadline was exceeded");
    return;
  }
  if (call->retry_waiting)
    retry_now(call);
  else
    arm_timer(call, -1); /* libuv's clock is in whole ms: early by < 1 ms */
}

/* Arms the timer for |ms| from now (negative: the deadline). */
static void arm_timer(crpc__ccall *call, int64_t ms) {
  int64_t left = -1;
  if (call->deadline != CRPC_DEADLINE_INFINITE) {
    int64_t ns = crpc_deadline_remaining_ns(call->deadline);
    left = ns <= 0 ? 0 : (ns + 999999) / 1000000;
  }
  if (ms < 0 || (left >= 0 && left < ms))
    ms = left;
  if (ms < 0)
    return;
  if (!call->timer_open) {
    uv_timer_init(crpc_loop_uv(call->ch->loop), &call->timer);
    call->timer.data = call;
    call->timer_open = 1;
    call->ch->open_handles++;
    crpc__ccall_ref(call);
  }
  uv_timer_start(&call->timer, on_timer, (uint64_t)ms, 0);
}

/* Starting. */

static void live_remove(crpc__ccall *call) {
  crpc_channel *ch = call->ch;
  if (call->live_prev)
    call->live_prev->live_next = call->live_next;
  else if (ch->live == call)
    ch->live = call->live_next;
  if (call->live_next)
    call->live_next->live_prev = call->live_prev;
  call->live_prev = call->live_next = NULL;
}

static void start_on_loop(crpc__ccall *call) {
  crpc_channel *ch = call->ch;
  call->live_prev = NULL;
  call->live_next = ch->live;
  if (ch->live)
    ch->live->live_prev = call;
  ch->live = call;
  call->attempt = 1;
  int code = atomic_load(&call->cancel_code);
  if (code) {
    crpc__ccall_end(call, (crpc_status)code, code_message(code));
    return;
  }
  if (call->deadline != CRPC_DEADLINE_INFINITE &&
      crpc_deadline_expired(call->deadline)) {
    crpc__ccall_end(call, CRPC_STATUS_DEADLINE_EXCEEDED,
                    "the deadline was exceeded before the call started");
    return;
  }
  arm_timer(call, -1);
  crpc__channel_dispatch(ch, call);
}

/* Retries. */

/* Forgets what the last attempt received, for another one. */
static void reset_attempt(crpc__ccall *call) {
  crpc__frame_decoder_reset(&call->dec);
  crpc__grpc_response_reset(&call->resp);
  call->n_received = 0;
  free(call->reply_msg);
  call->reply_msg = NULL;
  call->req_off = 0;
  call->pulled = 0;
  call->deferred = 0;
}

static void retry_now(crpc__ccall *call) {
  call->retry_waiting = 0;
  call->attempt++;
  reset_attempt(call);
  arm_timer(call, -1);
  crpc__channel_dispatch(call->ch, call);
}

/* Whether another attempt may be made: nothing of the response has
 * reached the caller, and the request can be sent again. */
static int can_retry(crpc__ccall *call) {
  if (call->resp.saw_headers && !call->resp.trailers_only)
    return 0; /* response headers commit the call */
  if (!single_request(call->method) && call->pulled > 0)
    return 0;
  uv_mutex_lock(&call->mu);
  int ok = !call->delivered && !call->headers_ready;
  uv_mutex_unlock(&call->mu);
  return ok && !atomic_load(&call->cancel_code);
}

/* The attempt ended UNAVAILABLE: retry under the policy, or end. */
static void unavailable(crpc__ccall *call, const char *why) {
  unsigned max = call->max_attempts;
  if (max > MAX_ATTEMPTS_CAP)
    max = MAX_ATTEMPTS_CAP;
  if (call->attempt >= max || !single_request(call->method) ||
      !can_retry(call)) {
    crpc__ccall_end(call, CRPC_STATUS_UNAVAILABLE, why);
    return;
  }
  double wait = call->retry_backoff_ms;
  for (unsigned i = 1; i < call->attempt; i++)
    wait *= 1.6;
  wait *= 1.0 + 0.2 * (2.0 * rand() / (double)RAND_MAX - 1.0);
  crpc__log(&call->ch->opts.logger, CRPC_LOG_DEBUG,
            "%s: attempt %u: %s; retrying in %.0f ms", call->method->path,
            call->attempt, why, wait);
  call->retry_waiting = 1;
  arm_timer(call, (int64_t)wait);
}

void crpc__ccall_refused(crpc__ccall *call, const char *why) {
  if (call->transparent_retried || !can_retry(call)) {
    unavailable(call, why);
    return;
  }
  /* Transparent: the server never saw it; no attempt is counted. */
  call->transparent_retried = 1;
  reset_attempt(call);
  crpc__channel_dispatch(call->ch, call);
}

/* Ending. */

/* Unpacks a received reply message (inflated first when compressed). */
static int unpack_msg(const crpc__ccall *call, const crpc__cmsg *m,
                      ProtobufCMessage **out) {
  crpc__frame_msg fm = {m->compressed, m->data, m->len};
  crpc__buf scratch;
  crpc__buf_init(&scratch, SIZE_MAX);
  int rc = crpc__frame_unpack(&fm, m->enc, call->ch->opts.max_receive_bytes,
                              &scratch, call->method->output, NULL, out);
  crpc__buf_cleanup(&scratch);
  return rc;
}

/* Builds the result the call's future carries. */
static crpc__call_result *build_result(crpc__ccall *call, crpc_status *code,
                                       const char **msg) {
  ProtobufCMessage *reply = NULL;
  if (*code == CRPC_STATUS_OK && single_reply(call->method)) {
    if (!call->reply_msg) {
      *code = CRPC_STATUS_INTERNAL; /* as gRPC C++ and Java */
      *msg = "the server sent no response message";
    } else {
      int rc = unpack_msg(call, call->reply_msg, &reply);
      if (rc != 0) {
        *code = rc == CRPC_ETOOBIG ? CRPC_STATUS_RESOURCE_EXHAUSTED
                                   : CRPC_STATUS_INTERNAL;
        *msg = rc == CRPC_ETOOBIG
                   ? "the response message inflates beyond the limit"
                   : "the response message could not be decoded";
      }
    }
  }
  crpc__call_result *r = result_new(*code, *msg);
  if (!r) {
    if (reply)
      protobuf_c_message_free_unpacked(reply, NULL);
    return NULL;
  }
  r->reply = reply;
  r->reply_compressed = reply && call->reply_msg->compressed;
  if (call->resp.details && call->resp.code == *code)
    crpc_status_info_set_details(&r->status, call->resp.details,
                                 call->resp.details_len);
  r->trailers = call->resp.trailers;
  crpc_metadata_init(&call->resp.trailers);
  return r;
}

static void fill_outputs(crpc__ccall *call, const crpc__call_result *r) {
  if (call->status_out)
    crpc_status_info_copy(call->status_out, &r->status);
  if (call->headers_out)
    crpc_metadata_copy(call->headers_out, &r->headers);
  if (call->trailers_out)
    crpc_metadata_copy(call->trailers_out, &r->trailers);
}

static void parent_fired(crpc__listener *l, crpc_future *f);

void crpc__ccall_end(crpc__ccall *call, crpc_status code, const char *message) {
  if (call->finished)
    return;
  call->finished = 1;
  crpc_channel *ch = call->ch;
  if (call->pending)
    crpc__channel_unqueue(ch, call);
  crpc__cconn *c = call->conn;
  if (c) {
    if (c->h2.ng && c->state != CRPC__CONN_CLOSED) {
      nghttp2_session_set_stream_user_data(c->h2.ng, call->stream_id, NULL);
      nghttp2_submit_rst_stream(c->h2.ng, NGHTTP2_FLAG_NONE, call->stream_id,
                                NGHTTP2_CANCEL);
      crpc__cconn_mark_dirty(c);
    }
    crpc__cconn_detach(c, call);
  }
  if (call->timer_open) {
    call->timer_open = 0;
    uv_close((uv_handle_t *)&call->timer, on_timer_closed);
  }
  live_remove(call);
  if (call->cancel)
    crpc__cancel_unlink(call->cancel, call);
  if (call->parent && crpc__future_unlisten(call->parent, &call->parent_l))
    crpc__ccall_unref(call); /* the listener's reference */

  crpc__call_result *r = build_result(call, &code, &message);
  crpc_future *rf, *wf, *df;
  uv_mutex_lock(&call->mu);
  call->done = 1;
  call->final_code = code;
  if (r && call->headers_ready)
    crpc_metadata_copy(&r->headers, &call->resp_headers);
  rf = call->read_f;
  wf = call->write_f;
  df = call->done_f;
  call->read_f = call->write_f = NULL;
  uv_mutex_unlock(&call->mu);
  if (r)
    fill_outputs(call, r);
  if (rf) {
    crpc_future_complete(rf, code, code == CRPC_STATUS_OK ? NULL : message,
                         NULL, NULL);
    crpc_future_unref(rf);
  }
  if (wf) {
    crpc_future_complete(wf, code, code == CRPC_STATUS_OK ? NULL : message,
                         NULL, NULL);
    crpc_future_unref(wf);
  }
  if (!r ||
      crpc_future_complete(df, code, message, r, crpc__call_result_free) != 0) {
    crpc__call_result_free(r);
    if (!r)
      crpc_future_complete(df, CRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory",
                           NULL, NULL);
  }
  crpc_future_unref(df); /* the loop's */
  /* A running call keeps its loop running. */
  crpc__loop_release(ch->loop);
  crpc__ccall_unref(call); /* the loop's */
}

/* Receiving. */

int crpc__ccall_on_header(crpc__ccall *call, int trailers, const uint8_t *name,
                          size_t namelen, const uint8_t *value,
                          size_t valuelen) {
  if (!call->finished)
    crpc__grpc_response_header(&call->resp, trailers, name, namelen, value,
                               valuelen);
  return 0;
}

void crpc__ccall_on_headers_done(crpc__ccall *call, int end_stream) {
  if (call->finished ||
      !crpc__grpc_response_headers_done(&call->resp, end_stream))
    return; /* trailers-only or not gRPC: the stream's end decides */
  uv_mutex_lock(&call->mu);
  call->resp_headers = call->resp.headers;
  call->headers_ready = 1;
  uv_mutex_unlock(&call->mu);
  crpc_metadata_init(&call->resp.headers);
}

static crpc__cmsg *cmsg_new(const crpc__ccall *call, const crpc__frame_msg *m,
                            size_t wire) {
  crpc__cmsg *c = malloc(sizeof(*c) + (m->len ? m->len : 1));
  if (!c)
    return NULL;
  c->next = NULL;
  c->len = m->len;
  c->wire = wire;
  c->compressed = m->compressed;
  c->enc = call->resp.enc;
  memcpy(c->data, m->data, m->len);
  return c;
}

static void complete_read(crpc__ccall *call, crpc_future *f);

static void deliver(crpc__ccall *call, const crpc__frame_msg *m) {
  char why[160];
  call->n_received++;
  if (m->compressed && call->resp.enc == CRPC__ENCODING_IDENTITY) {
    crpc__ccall_end(call, CRPC_STATUS_INTERNAL,
                    "a compressed response message without grpc-encoding");
    return;
  }
  if (single_reply(call->method)) {
    if (call->n_received > 1) {
      snprintf(why, sizeof(why),
               "the server sent more than one response message to a %s call",
               crpc_method_kind_name(call->method->kind));
      crpc__ccall_end(call, CRPC_STATUS_INTERNAL, why);
      return;
    }
    call->reply_msg = cmsg_new(call, m, 0);
    if (!call->reply_msg)
      crpc__ccall_end(call, CRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    return;
  }
  crpc__cmsg *c = cmsg_new(call, m, CRPC__FRAME_PREFIX_LEN + m->len);
  if (!c) {
    crpc__ccall_end(call, CRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    return;
  }
  uv_mutex_lock(&call->mu);
  if (call->in_tail)
    call->in_tail->next = c;
  else
    call->in_head = c;
  call->in_tail = c;
  crpc_future *rf = call->read_f;
  call->read_f = NULL;
  uv_mutex_unlock(&call->mu);
  if (rf) {
    /* A reader is waiting: it takes this one now. */
    complete_read(call, rf);
    crpc_future_unref(rf);
  }
}

void crpc__ccall_on_data(crpc__ccall *call, const uint8_t *p, size_t n) {
  crpc__cconn *c = call->conn;
  if (call->finished || !c)
    return;
  if (!call->resp.saw_headers || call->resp.http_status != 200 ||
      !call->resp.content_type_ok) {
    nghttp2_session_consume(c->h2.ng, call->stream_id, n);
    return; /* not gRPC: the stream's end decides the status */
  }
  if (single_reply(call->method))
    nghttp2_session_consume(c->h2.ng, call->stream_id, n);
  while (n > 0 && !call->finished) {
    size_t used = 0;
    crpc__frame_msg m;
    int rc = crpc__frame_decoder_feed(&call->dec, p, n, &used, &m);
    if (rc < 0) {
      char why[160];
      if (rc == CRPC_ETOOBIG)
        snprintf(why, sizeof(why),
                 "a response message is larger than the limit of %zu bytes",
                 call->ch->opts.max_receive_bytes);
      else
        snprintf(why, sizeof(why), "a malformed response message: %s",
                 crpc_strerror(rc));
      crpc__ccall_end(call,
                      rc == CRPC_ETOOBIG ? CRPC_STATUS_RESOURCE_EXHAUSTED
                                         : CRPC_STATUS_INTERNAL,
                      why);
      return;
    }
    p += used;
    n -= used;
    if (rc == 1)
      deliver(call, &m);
  }
}

void crpc__ccall_on_stream_close(crpc__ccall *call, uint32_t error_code) {
  if (call->finished)
    return;
  if (call->conn)
    crpc__cconn_detach(call->conn, call);
  char why[200];
  if (error_code == NGHTTP2_REFUSED_STREAM && !call->resp.saw_headers) {
    crpc__ccall_refused(call, "the server refused the stream");
    return;
  }
  const char *msg;
  crpc_status code = crpc__grpc_response_status(
      &call->resp, error_code, crpc__frame_decoder_mid_message(&call->dec), why,
      sizeof(why), &msg);
  if (code == CRPC_STATUS_UNAVAILABLE) {
    if (msg != why)
      snprintf(why, sizeof(why), "%s", msg);
    unavailable(call, why);
    return;
  }
  crpc__ccall_end(call, code, msg);
}

void crpc__ccall_on_conn_lost(crpc__ccall *call, const char *why) {
  char msg[220];
  if (call->conn)
    crpc__cconn_detach(call->conn, call);
  if (call->finished)
    return;
  snprintf(msg, sizeof(msg), "connection lost: %s", why);
  if (!call->resp.saw_headers && call->pulled == 0)
    crpc__ccall_refused(call, msg);
  else
    unavailable(call, msg);
}

/* Sending. */

ssize_t crpc__ccall_read_body(void *stream, uint8_t *buf, size_t len,
                              uint32_t *flags, int no_copy) {
  crpc__ccall *call = stream;
  size_t n = 0;
  /* The request of a unary or server-streaming call, then what the caller
   * wrote. With |no_copy| the bytes stay where they are until
   * crpc__ccall_send_data() writes them. */
  size_t rlen = crpc__buf_len(&call->request);
  if (call->req_off < rlen) {
    n = rlen - call->req_off;
    if (n > len)
      n = len;
    int last = call->req_off + n == rlen;
    if (no_copy) {
      *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    } else {
      memcpy(buf, crpc__buf_data(&call->request) + call->req_off, n);
      call->req_off += n;
      call->pulled += n;
    }
    if (last && single_request(call->method))
      *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
  }
  if (single_request(call->method)) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    return 0;
  }
  crpc_future *wf = NULL;
  uv_mutex_lock(&call->mu);
  size_t have = crpc__buf_len(&call->out);
  n = have < len ? have : len;
  if (n && no_copy) {
    *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
  } else if (n) {
    memcpy(buf, crpc__buf_data(&call->out), n);
    crpc__buf_consume(&call->out, n);
    call->pulled += n;
  }
  int closed = call->send_closed;
  if (call->write_f && have - n <= OUT_LOW_WATER) {
    wf = call->write_f;
    call->write_f = NULL;
  }
  uv_mutex_unlock(&call->mu);
  if (wf) {
    crpc_future_complete(wf, CRPC_STATUS_OK, NULL, NULL, NULL);
    crpc_future_unref(wf);
  }
  if (n == have && closed)
    *flags |= NGHTTP2_DATA_FLAG_EOF;
  if (n == 0 && !closed) {
    call->deferred = 1;
    return NGHTTP2_ERR_DEFERRED;
  }
  return (ssize_t)n;
}

int crpc__ccall_send_data(void *stream, crpc__buf *out,
                          const nghttp2_frame *frame, const uint8_t *framehd,
                          size_t len) {
  crpc__ccall *call = stream;
  int rv;
  size_t rlen = crpc__buf_len(&call->request);
  if (call->req_off < rlen) {
    rv = crpc__h2io_put_data(out, frame, framehd,
                             crpc__buf_data(&call->request) + call->req_off,
                             len);
    if (rv == 0)
      call->req_off += len;
  } else {
    uv_mutex_lock(&call->mu);
    rv = crpc__h2io_put_data(out, frame, framehd, crpc__buf_data(&call->out),
                             len);
    if (rv == 0)
      crpc__buf_consume(&call->out, len);
    uv_mutex_unlock(&call->mu);
  }
  if (rv == 0)
    call->pulled += len;
  return rv;
}

/* Making a call (any thread). */

static void parent_fired(crpc__listener *l, crpc_future *f) {
  crpc__ccall *call =
      (crpc__ccall *)((char *)l - offsetof(crpc__ccall, parent_l));
  crpc_status code = crpc_future_status(f);
  crpc__ccall_cancel(call, code == CRPC_STATUS_DEADLINE_EXCEEDED
                               ? CRPC_STATUS_DEADLINE_EXCEEDED
                               : CRPC_STATUS_CANCELLED);
  crpc__ccall_unref(call);
}

static void done_finalize(void *data) {
  crpc__ccall_unref(data);
}

/* crpc_future_cancel() on a call's future: the call ends CANCELLED. */
static void done_cancel(crpc_future *f, void *data) {
  crpc__ccall *call = data;
  crpc__call_result *r = result_new(CRPC_STATUS_CANCELLED, "cancelled");
  crpc__ccall_cancel(call, CRPC_STATUS_CANCELLED);
  if (r && crpc_future_complete(f, CRPC_STATUS_CANCELLED, "cancelled", r,
                                crpc__call_result_free) != 0)
    crpc__call_result_free(r);
}

static crpc_status fail_early(crpc_status code, const char *msg,
                              crpc_status_info *out) {
  if (out)
    crpc_status_info_set(out, code, msg);
  return code;
}

/* Room for a message naming the field of a request that cannot be
 * encoded. */
#define WHY_MAX 320

/* The status, and in |*why| its message, for a request message |msg| that
 * crpc__frame_encode_compressed() refused with |rc|; |buf| (WHY_MAX bytes)
 * holds the message when it names the field at fault. */
static crpc_status encode_status(int rc, const ProtobufCMessage *msg, char *buf,
                                 const char **why) {
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
    crpc__msgcheck(msg, buf + sizeof(pfx) - 1, WHY_MAX - sizeof(pfx) + 1);
    *why = buf;
    return CRPC_STATUS_INTERNAL;
  }
  default:
    *why = "the request could not be encoded";
    return CRPC_STATUS_INTERNAL;
  }
}

/*
 * Makes a call and posts its start. On success |*out| holds the call with
 * two references: the done future's (the caller's, as |*done|) and the
 * handle's (dropped by crpc_call_free, or at once for unary calls). On
 * failure |*why| is a static message or |buf| (WHY_MAX bytes).
 */
static crpc_status call_make(crpc_channel *ch, const crpc_method *method,
                             const ProtobufCMessage *req,
                             const crpc_call_opts *opts, crpc__ccall **out,
                             const char **why, char *buf) {
  static const crpc_call_opts none;
  if (!opts)
    opts = &none;
  *why = NULL;
  if (!ch || !method) {
    *why = "no channel or method";
    return CRPC_STATUS_INVALID_ARGUMENT;
  }
  crpc__encoding enc = CRPC__ENCODING_IDENTITY;
  if (opts->compression &&
      crpc__compress_lookup(opts->compression, strlen(opts->compression),
                            &enc) != 0) {
    *why = "unsupported compression";
    return CRPC_STATUS_INVALID_ARGUMENT;
  }
  if (single_request(method) != (req != NULL)) {
    *why = req ? "a streaming request takes no message at start"
               : "the call needs a request message";
    return CRPC_STATUS_INVALID_ARGUMENT;
  }
  crpc__ccall *call = calloc(1, sizeof(*call));
  if (!call || uv_mutex_init(&call->mu) != 0) {
    free(call);
    *why = "out of memory";
    return CRPC_STATUS_RESOURCE_EXHAUSTED;
  }
  atomic_init(&call->refs, 2);
  crpc__kick_init(&call->kick, kick_run);
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
  crpc__buf_init(&call->out, SIZE_MAX);
  crpc__frame_decoder_init(&call->dec, ch->opts.max_receive_bytes);

  crpc_deadline d = CRPC_DEADLINE_INFINITE;
  if (opts->timeout_ms > 0)
    d = crpc_deadline_after_ms(opts->timeout_ms);
  if (opts->deadline > 0)
    d = crpc_deadline_min(d, opts->deadline);
  const crpc__call_scope *scope =
      opts->no_propagation ? NULL : crpc__call_scope_current();
  if (scope) {
    d = crpc_deadline_min(d, scope->deadline);
    call->parent = scope->cancelled ? crpc_future_ref(scope->cancelled) : NULL;
  }
  call->deadline = d;

  int rc = 0;
  if (opts->metadata)
    rc = crpc_metadata_copy(&call->md, opts->metadata);
  if (rc == 0 && req)
    rc = crpc__frame_encode_compressed(&call->request, req, enc,
                                       ch->opts.max_send_bytes);
  if (rc == 0 && crpc_future_new(NULL, &call->done_f) != 0)
    rc = CRPC_ENOMEM;
  if (rc != 0) {
    crpc_status st = encode_status(rc, req, buf, why);
    crpc_future_unref(call->done_f);
    atomic_store(&call->refs, 1);
    crpc__ccall_unref(call);
    return st;
  }
  call->send_closed = single_request(method);
  if (method->kind != CRPC_METHOD_UNARY) {
    /* Streams fill the outputs as they end; unary calls when read. */
    call->headers_out = opts->headers_out;
    call->trailers_out = opts->trailers_out;
    call->status_out = opts->status_out;
  }
  /* The future keeps the call; the loop keeps the future while it runs. */
  crpc__future_set_finalize(call->done_f, done_finalize, call);
  crpc_future_on_cancel(call->done_f, done_cancel, call);
  crpc_future_ref(call->done_f);
  crpc__ccall_ref(call); /* the loop's */
  crpc__ccall_ref(call); /* the start kick's */
  crpc__loop_hold(ch->loop);
  if (crpc__kick_post(&call->kick, ch->loop) != 1) {
    crpc__loop_release(ch->loop);
    /* The channel is closing: the call ends here, never started. */
    call->done = 1;
    call->finished = 1;
    crpc_future_complete(call->done_f, CRPC_STATUS_CANCELLED,
                         "the channel was closed", NULL, NULL);
    crpc_future_unref(call->done_f);
    atomic_fetch_sub(&call->refs, 2); /* the loop's and the kick's */
    crpc_future_unref(call->parent);
    call->parent = NULL;
    *out = call;
    return CRPC_STATUS_OK;
  }
  if (opts->cancel)
    crpc__cancel_link(opts->cancel, call);
  if (call->parent) {
    call->parent_l.fn = parent_fired;
    crpc__ccall_ref(call);
    crpc__future_listen(call->parent, &call->parent_l);
  }
  *out = call;
  return CRPC_STATUS_OK;
}

/* Reading (streaming replies). */

static void free_msg(void *m) {
  protobuf_c_message_free_unpacked(m, NULL);
}

/* The done future's message, once the call has ended. */
static const char *end_message(crpc__ccall *call) {
  return crpc_future_message(call->done_f);
}

/* Completes |f| with the next received message, or with the end of the
 * stream once the call is done and nothing is left. */
static void complete_read(crpc__ccall *call, crpc_future *f) {
  uv_mutex_lock(&call->mu);
  crpc__cmsg *m = call->in_head;
  if (m) {
    call->in_head = m->next;
    if (!call->in_head)
      call->in_tail = NULL;
    call->to_consume += m->wire;
    call->delivered = 1;
    if (!call->done)
      crpc__ccall_kick_locked(call);
  }
  crpc_status code = call->final_code;
  uv_mutex_unlock(&call->mu);
  if (!m) {
    crpc_future_wait(call->done_f); /* done: this returns at once */
    code = crpc_future_status(call->done_f);
    crpc_future_complete(
        f, code, code == CRPC_STATUS_OK ? NULL : end_message(call), NULL, NULL);
    return;
  }
  ProtobufCMessage *out = NULL;
  int rc = unpack_msg(call, m, &out);
  free(m);
  if (rc != 0) {
    crpc__ccall_cancel(call, CRPC_STATUS_INTERNAL);
    crpc_future_complete(f, CRPC_STATUS_INTERNAL,
                         "a response message could not be decoded", NULL, NULL);
    return;
  }
  if (crpc_future_complete(f, CRPC_STATUS_OK, NULL, out, free_msg) != 0)
    free_msg(out); /* the read was cancelled */
}

static crpc_future *done_future(crpc_status code, const char *msg) {
  crpc_future *f;
  if (crpc_future_new(NULL, &f) != 0)
    return NULL;
  crpc_future_complete(f, code, msg, NULL, NULL);
  return f;
}

crpc_future *crpc_call_read_async(crpc_call *handle) {
  crpc__ccall *call = (crpc__ccall *)handle;
  crpc_future *f;
  if (crpc_future_new(NULL, &f) != 0)
    return NULL;
  uv_mutex_lock(&call->mu);
  if (call->in_head || call->done) {
    uv_mutex_unlock(&call->mu);
    complete_read(call, f);
    return f;
  }
  if (call->read_f) {
    uv_mutex_unlock(&call->mu);
    crpc_future_complete(f, CRPC_STATUS_FAILED_PRECONDITION,
                         "another read is pending", NULL, NULL);
    return f;
  }
  call->read_f = crpc_future_ref(f);
  uv_mutex_unlock(&call->mu);
  return f;
}

/* Waits for |f| where the caller may block; UNAVAILABLE where it may not. */
static crpc_status wait_status(crpc_future *f) {
  if (crpc_future_wait(f) != 0) {
    crpc_future_cancel(f);
    return CRPC_STATUS_UNAVAILABLE;
  }
  return crpc_future_status(f);
}

crpc_status crpc_call_read_result(crpc_future *f, ProtobufCMessage **msg) {
  crpc_status st = wait_status(f);
  ProtobufCMessage *m = st == CRPC_STATUS_OK ? crpc_future_take_value(f) : NULL;
  if (msg)
    *msg = m;
  else if (m)
    free_msg(m);
  return st;
}

crpc_status crpc_call_read(crpc_call *call, ProtobufCMessage **msg) {
  if (msg)
    *msg = NULL;
  crpc_future *f = crpc_call_read_async(call);
  if (!f)
    return CRPC_STATUS_RESOURCE_EXHAUSTED;
  crpc_status st = crpc_call_read_result(f, msg);
  crpc_future_unref(f);
  return st;
}

/* Writing (streaming requests). */

crpc_future *crpc_call_write_async(crpc_call *handle,
                                   const ProtobufCMessage *msg) {
  crpc__ccall *call = (crpc__ccall *)handle;
  crpc__buf b;
  crpc__buf_init(&b, SIZE_MAX);
  int rc = crpc__frame_encode_compressed(&b, msg, call->enc,
                                         call->ch->opts.max_send_bytes);
  if (rc != 0) {
    char buf[WHY_MAX];
    const char *why;
    crpc_status st = encode_status(rc, msg, buf, &why);
    crpc__buf_cleanup(&b);
    return done_future(st, why);
  }
  crpc_future *f;
  if (crpc_future_new(NULL, &f) != 0) {
    crpc__buf_cleanup(&b);
    return NULL;
  }
  crpc_status code = CRPC_STATUS_OK;
  const char *why = NULL;
  uv_mutex_lock(&call->mu);
  if (call->done) {
    code = call->final_code != CRPC_STATUS_OK ? call->final_code
                                              : CRPC_STATUS_FAILED_PRECONDITION;
    why = "the call has ended";
  } else if (call->send_closed) {
    code = CRPC_STATUS_FAILED_PRECONDITION;
    why = "the sending side is closed";
  } else if (call->write_f) {
    code = CRPC_STATUS_FAILED_PRECONDITION;
    why = "another write is pending";
  } else if (crpc__buf_len(&call->out) == 0) {
    crpc__buf tmp = call->out;
    call->out = b;
    b = tmp;
  } else if (crpc__buf_append(&call->out, crpc__buf_data(&b),
                              crpc__buf_len(&b)) != 0) {
    code = CRPC_STATUS_RESOURCE_EXHAUSTED;
    why = "out of memory";
  }
  int wait = 0;
  if (code == CRPC_STATUS_OK) {
    crpc__ccall_kick_locked(call);
    if (crpc__buf_len(&call->out) > OUT_HIGH_WATER) {
      call->write_f = crpc_future_ref(f);
      wait = 1;
    }
  }
  uv_mutex_unlock(&call->mu);
  crpc__buf_cleanup(&b);
  if (!wait)
    crpc_future_complete(f, code, why, NULL, NULL);
  return f;
}

crpc_status crpc_call_write(crpc_call *call, const ProtobufCMessage *msg) {
  crpc_future *f = crpc_call_write_async(call, msg);
  if (!f)
    return CRPC_STATUS_RESOURCE_EXHAUSTED;
  crpc_status st = wait_status(f);
  crpc_future_unref(f);
  return st;
}

crpc_future *crpc_call_close_send_async(crpc_call *handle) {
  crpc__ccall *call = (crpc__ccall *)handle;
  uv_mutex_lock(&call->mu);
  if (!call->done && !call->send_closed) {
    call->send_closed = 1;
    crpc__ccall_kick_locked(call);
  }
  uv_mutex_unlock(&call->mu);
  return done_future(CRPC_STATUS_OK, NULL);
}

crpc_status crpc_call_close_send(crpc_call *call) {
  crpc_future *f = crpc_call_close_send_async(call);
  if (!f)
    return CRPC_STATUS_RESOURCE_EXHAUSTED;
  crpc_future_unref(f);
  return CRPC_STATUS_OK;
}

/* Finishing. */

crpc_status crpc_call_result(crpc_future *f, ProtobufCMessage **reply) {
  if (reply)
    *reply = NULL;
  crpc_status st = wait_status(f);
  if (crpc__future_value_free(f) != crpc__call_result_free)
    return st;
  crpc__call_result *r = crpc_future_value(f);
  if (reply) {
    *reply = r->reply;
    r->reply = NULL;
  }
  return st;
}

static crpc__call_result *result_of(crpc_future *f) {
  if (!f || crpc__future_value_free(f) != crpc__call_result_free)
    return NULL;
  return crpc_future_value(f);
}

const crpc_status_info *crpc_call_status_info(crpc_future *f) {
  crpc__call_result *r = result_of(f);
  return r ? &r->status : NULL;
}

const crpc_metadata *crpc_call_headers(crpc_future *f) {
  crpc__call_result *r = result_of(f);
  return r ? &r->headers : NULL;
}

const crpc_metadata *crpc_call_trailers(crpc_future *f) {
  crpc__call_result *r = result_of(f);
  return r ? &r->trailers : NULL;
}

int crpc_call_reply_compressed(crpc_future *f) {
  crpc__call_result *r = result_of(f);
  return r ? r->reply_compressed : -1;
}

crpc_future *crpc_call_finish_async(crpc_call *handle) {
  crpc__ccall *call = (crpc__ccall *)handle;
  crpc_future_unref(crpc_call_close_send_async(handle));
  return crpc_future_ref(call->done_f);
}

crpc_status crpc_call_finish(crpc_call *call, ProtobufCMessage **reply) {
  crpc_future *f = crpc_call_finish_async(call);
  crpc_status st = crpc_call_result(f, reply);
  crpc_future_unref(f);
  return st;
}

void crpc_call_cancel(crpc_call *call) {
  crpc__ccall_cancel((crpc__ccall *)call, CRPC_STATUS_CANCELLED);
}

const crpc_metadata *crpc_call_response_headers(crpc_call *handle) {
  crpc__ccall *call = (crpc__ccall *)handle;
  uv_mutex_lock(&call->mu);
  const crpc_metadata *md = call->headers_ready ? &call->resp_headers : NULL;
  uv_mutex_unlock(&call->mu);
  return md;
}

const crpc_metadata *crpc_call_response_trailers(crpc_call *handle) {
  return crpc_call_trailers(((crpc__ccall *)handle)->done_f);
}

const crpc_status_info *crpc_call_final_status(crpc_call *handle) {
  return crpc_call_status_info(((crpc__ccall *)handle)->done_f);
}

void crpc_call_free(crpc_call *handle) {
  crpc__ccall *call = (crpc__ccall *)handle;
  if (!call)
    return;
  crpc__ccall_cancel(call, CRPC_STATUS_CANCELLED);
  crpc_future_unref(call->done_f); /* the handle's */
  crpc__ccall_unref(call);
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
  crpc__ccall *call;
  const char *why;
  char buf[WHY_MAX];
  crpc_status st = call_make(ch, method, req, opts, &call, &why, buf);
  if (st != CRPC_STATUS_OK)
    return fail_early(st, why, opts ? opts->status_out : NULL);
  *out = (crpc_call *)call;
  return CRPC_STATUS_OK;
}

crpc_future *crpc_call_unary_async(crpc_channel *ch, const crpc_method *method,
                                   const ProtobufCMessage *req,
                                   const crpc_call_opts *opts) {
  crpc__ccall *call;
  const char *why;
  char buf[WHY_MAX];
  crpc_status st = call_make(ch, method, req, opts, &call, &why, buf);
  if (st != CRPC_STATUS_OK) {
    crpc_future *f;
    if (crpc_future_new(NULL, &f) != 0)
      return NULL;
    crpc__call_result *r = result_new(st, why);
    if (!r || crpc_future_complete(f, st, why, r, crpc__call_result_free) != 0)
      crpc__call_result_free(r);
    return f;
  }
  crpc_future *f = call->done_f; /* the caller's reference */
  crpc__ccall_unref(call);       /* no handle for unary calls */
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
  crpc__call_result *r = result_of(f);
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
