/*
 * client/call.c: a call on the channel's loop: its references, its kick,
 * its timer, starting it, receiving the response, sending the request, and
 * ending it once. Making calls is start.c, the streaming API stream.c,
 * retries retry.c.
 *
 * A call is made on the caller's thread (options copied, request framed),
 * then started on the channel's loop by its |kick| task, which also does
 * whatever the caller asks later: send what was written, give back the
 * window of what was read, cancel. The loop receives the response, and
 * ends the call once: its |done_f| future then completes with a
 * crpc__client_result (reply, status, headers, trailers).
 *
 * References on a call: its done_f's (dropped when the future is freed),
 * the loop's while it runs, a queued kick's, its queued timer's, a parent
 * listener's, and a streaming caller's handle. The loop holds a reference
 * on done_f while the call runs, so a future nobody keeps (fire and
 * forget) lives until the call ends and then frees it all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"
#include "grpc_headers.h"
#include "crpc/error.h"
#include "log_internal.h"
#include "method_internal.h"
#include "msgcheck.h"

/* References. */

void crpc__client_call_ref(crpc__client_call *call) {
  atomic_fetch_add(&call->refs, 1);
}

static void put_msgs(crpc__msg_cache *c, crpc__cmsg *m) {
  while (m) {
    crpc__cmsg *next = m->next;
    crpc__msg_cache_put(c, m);
    m = next;
  }
}

void crpc__client_call_unref(crpc__client_call *call) {
  if (atomic_fetch_sub(&call->refs, 1) != 1)
    return;
  crpc_metadata_cleanup(&call->md);
  crpc__outq_cleanup(&call->out);
  crpc__grpc_response_cleanup(&call->resp);
  crpc_metadata_cleanup(&call->resp_headers);
  /* The request's memory and the decoder's go back to the channel's
   * cache, which gave a large one (call_new()); it keeps or frees them. */
  size_t len, cap;
  uint8_t *mem = crpc__buf_exchange(&call->request, NULL, 0, &len, &cap);
  crpc__msg_cache_put_mem(call->msgs, mem, cap);
  mem = crpc__frame_decoder_release(&call->dec, &cap);
  crpc__msg_cache_put_mem(call->msgs, mem, cap);
  crpc__frame_decoder_cleanup(&call->dec);
  crpc__msg_cache_put(call->msgs, call->reply_msg);
  put_msgs(call->msgs, call->in_head);
  crpc__msg_cache_unref(call->msgs);
  crpc_future_unref(call->parent);
  if (call->ic) {
    crpc__icall_cleanup(call->ic);
    free(call->ic);
  }
  uv_mutex_destroy(&call->mu);
  free(call);
}

void crpc__client_result_free(void *p) {
  crpc__client_result *r = p;
  if (!r)
    return;
  if (r->reply)
    protobuf_c_message_free_unpacked(r->reply, NULL);
  crpc_status_info_cleanup(&r->status);
  crpc_metadata_cleanup(&r->headers);
  crpc_metadata_cleanup(&r->trailers);
  free(r);
}

crpc__client_result *crpc__client_result_new(crpc_status code,
                                             const char *msg) {
  crpc__client_result *r = calloc(1, sizeof(*r));
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

static void start_on_loop(crpc__client_call *call);

void crpc__client_call_kick_run(crpc__task *t) {
  crpc__client_call *call =
      (crpc__client_call *)((char *)t - offsetof(crpc__client_call, kick.task));
  crpc__kick_taken(&call->kick);
  if (!call->started) {
    call->started = 1;
    start_on_loop(call);
  } else if (!call->ended) {
    int code = atomic_load(&call->cancel_code);
    if (code) {
      crpc__client_call_end(call, (crpc_status)code, code_message(code));
    } else if (call->conn) {
      nghttp2_session *ng = call->conn->h2.ng;
      uv_mutex_lock(&call->mu);
      size_t give = call->to_consume;
      call->to_consume = 0;
      int has_body = crpc__outq_len(&call->out) > 0 || call->send_closed;
      uv_mutex_unlock(&call->mu);
      if (give)
        nghttp2_session_consume_stream(ng, call->stream_id, give);
      if (call->deferred && has_body) {
        call->deferred = 0;
        nghttp2_session_resume_data(ng, call->stream_id);
      }
      crpc__client_conn_mark_dirty(call->conn);
    }
  }
  crpc__client_call_unref(call);
}

void crpc__client_call_kick_locked(crpc__client_call *call) {
  crpc__client_call_ref(call); /* the task's */
  if (crpc__kick_post(&call->kick, call->ch->loop) != 1)
    atomic_fetch_sub(&call->refs, 1); /* a reference remains: not the last */
}

void crpc__client_call_cancel(crpc__client_call *call, crpc_status code) {
  uv_mutex_lock(&call->mu);
  if (!call->done) {
    int zero = 0;
    atomic_compare_exchange_strong(&call->cancel_code, &zero, (int)code);
    crpc__client_call_kick_locked(call);
  }
  uv_mutex_unlock(&call->mu);
}

/* Timers: the deadline, and the wait before a retry. */

/* A queued timer holds a reference on its call. */
static void on_timer(crpc__timer *t) {
  crpc__client_call *call =
      (crpc__client_call *)((char *)t - offsetof(crpc__client_call, timer));
  if (call->deadline != CRPC_DEADLINE_INFINITE &&
      crpc_deadline_expired(call->deadline))
    crpc__client_call_end(call, CRPC_STATUS_DEADLINE_EXCEEDED,
                          "the deadline was exceeded");
  else if (call->retry_waiting)
    crpc__client_call_retry(call);
  else /* the loop's clock is in whole ms: early by < 1 ms */
    crpc__client_call_arm_timer(call, -1);
  crpc__client_call_unref(call); /* the timer's */
}

static void stop_timer(crpc__client_call *call) {
  if (!crpc__timer_queued(&call->timer))
    return;
  crpc__timerq_remove(&call->ch->timers, &call->timer);
  crpc__client_call_unref(call);
}

int crpc__client_call_arm_timer(crpc__client_call *call, int64_t ms) {
  CRPC__ASSERT_LOOP_THREAD(call->ch->loop);
  int64_t left = -1;
  if (call->deadline != CRPC_DEADLINE_INFINITE) {
    int64_t ns = crpc_deadline_remaining_ns(call->deadline);
    left = ns <= 0 ? 0 : (ns + 999999) / 1000000;
  }
  if (ms < 0 || (left >= 0 && left < ms))
    ms = left;
  if (ms < 0)
    return 0;
  stop_timer(call);
  int rc =
      crpc__timerq_add(&call->ch->timers, &call->timer, (uint64_t)ms, on_timer);
  if (rc == 0) {
    crpc__client_call_ref(call); /* the timer's */
    return 0;
  }
  if (rc == CRPC_ENOMEM)
    crpc__client_call_end(call, CRPC_STATUS_RESOURCE_EXHAUSTED,
                          "out of memory");
  else
    crpc__client_call_end(call, CRPC_STATUS_CANCELLED,
                          "the channel was closed");
  return -1;
}

/* Starting. */

static void live_remove(crpc__client_call *call) {
  crpc_channel *ch = call->ch;
  if (call->live_prev)
    call->live_prev->live_next = call->live_next;
  else if (ch->live == call)
    ch->live = call->live_next;
  if (call->live_next)
    call->live_next->live_prev = call->live_prev;
  call->live_prev = call->live_next = NULL;
}

static void start_on_loop(crpc__client_call *call) {
  crpc_channel *ch = call->ch;
  call->live_prev = NULL;
  call->live_next = ch->live;
  if (ch->live)
    ch->live->live_prev = call;
  ch->live = call;
  call->attempt = 1;
  int code = atomic_load(&call->cancel_code);
  if (code) {
    crpc__client_call_end(call, (crpc_status)code, code_message(code));
    return;
  }
  if (call->deadline != CRPC_DEADLINE_INFINITE &&
      crpc_deadline_expired(call->deadline)) {
    crpc__client_call_end(call, CRPC_STATUS_DEADLINE_EXCEEDED,
                          "the deadline was exceeded before the call started");
    return;
  }
  if (crpc__client_call_arm_timer(call, -1) != 0)
    return;
  crpc__channel_dispatch(ch, call);
}

/* Ending. */

/* Unpacks a received reply message (inflated first when compressed). */
int crpc__client_call_unpack(const crpc__client_call *call, const crpc__cmsg *m,
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
static crpc__client_result *build_result(crpc__client_call *call,
                                         crpc_status *code, const char **msg) {
  ProtobufCMessage *reply = NULL;
  if (*code == CRPC_STATUS_OK && crpc__method_single_reply(call->method)) {
    if (!call->reply_msg) {
      *code = CRPC_STATUS_INTERNAL; /* as gRPC C++ and Java */
      *msg = "the server sent no response message";
    } else {
      int rc = crpc__client_call_unpack(call, call->reply_msg, &reply);
      if (rc != 0) {
        *code = rc == CRPC_ETOOBIG ? CRPC_STATUS_RESOURCE_EXHAUSTED
                                   : CRPC_STATUS_INTERNAL;
        *msg = rc == CRPC_ETOOBIG
                   ? "the response message inflates beyond the limit"
                   : "the response message could not be decoded";
      }
    }
  }
  crpc__client_result *r = crpc__client_result_new(*code, *msg);
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

static void fill_outputs(crpc__client_call *call,
                         const crpc__client_result *r) {
  if (call->status_out)
    crpc_status_info_copy(call->status_out, &r->status);
  if (call->headers_out)
    crpc_metadata_copy(call->headers_out, &r->headers);
  if (call->trailers_out)
    crpc_metadata_copy(call->trailers_out, &r->trailers);
}

void crpc__client_call_end(crpc__client_call *call, crpc_status code,
                           const char *message) {
  CRPC__ASSERT_LOOP_THREAD(call->ch->loop);
  if (call->ended)
    return;
  call->ended = 1;
  crpc_channel *ch = call->ch;
  if (call->pending)
    crpc__channel_unqueue(ch, call);
  crpc__client_conn *c = call->conn;
  if (c) {
    if (c->h2.ng && c->state != CRPC__CLIENT_CONN_CLOSED) {
      crpc__h2conn_set_stream(&c->h2, call->stream_id, NULL);
      nghttp2_submit_rst_stream(c->h2.ng, NGHTTP2_FLAG_NONE, call->stream_id,
                                NGHTTP2_CANCEL);
      crpc__client_conn_mark_dirty(c);
    }
    crpc__client_conn_detach(c, call);
  }
  stop_timer(call);
  live_remove(call);
  if (call->cancel)
    crpc__cancel_unlink(call->cancel, call);
  if (call->parent && crpc__future_unlisten(call->parent, &call->parent_l))
    crpc__client_call_unref(call); /* the listener's reference */

  crpc__client_result *r = build_result(call, &code, &message);
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
  uint64_t msgs_out = call->msgs_out, bytes_out = call->bytes_out;
  uv_mutex_unlock(&call->mu);
  if (r)
    fill_outputs(call, r);
  if (call->ic) {
    /* Before the caller can see the end. */
    crpc_icall_end e = {.code = code,
                        .message = code == CRPC_STATUS_OK ? NULL : message,
                        .duration_ns = crpc_now_ns() - call->start_ns,
                        .messages_received = call->n_received,
                        .messages_sent = msgs_out,
                        .bytes_received = call->bytes_in,
                        .bytes_sent = bytes_out};
    call->ic->resp_headers = call->headers_ready ? &call->resp_headers : NULL;
    call->ic->resp_trailers = r ? &r->trailers : NULL;
    crpc__icall_end(call->ic, &e);
  }
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
  if (!r || crpc_future_complete(df, code, message, r,
                                 crpc__client_result_free) != 0) {
    crpc__client_result_free(r);
    if (!r)
      crpc_future_complete(df, CRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory",
                           NULL, NULL);
  }
  crpc_future_unref(df); /* the loop's */
  /* A running call keeps its loop running. */
  crpc__loop_release(ch->loop);
  crpc__client_call_unref(call); /* the loop's */
}

/* Receiving. */

int crpc__client_call_on_header(crpc__client_call *call, int trailers,
                                const uint8_t *name, size_t namelen,
                                const uint8_t *value, size_t valuelen) {
  if (call->ended)
    return 0;
  if (crpc__grpc_response_header(&call->resp, trailers, name, namelen, value,
                                 valuelen)) {
    /* The rest of the block is not looked at (an HPACK bomb costs its
     * size, not what it expands to); the stream is reset. */
    crpc__client_call_end(call, CRPC_STATUS_RESOURCE_EXHAUSTED,
                          trailers ? "the server's trailers are larger than "
                                     "16 KiB"
                                   : "the server's response headers are "
                                     "larger than 16 KiB");
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  }
  return 0;
}

void crpc__client_call_on_headers_done(crpc__client_call *call,
                                       int end_stream) {
  if (call->ended || !crpc__grpc_response_headers_done(&call->resp, end_stream))
    return; /* trailers-only or not gRPC: the stream's end decides */
  uv_mutex_lock(&call->mu);
  call->resp_headers = call->resp.headers;
  call->headers_ready = 1;
  uv_mutex_unlock(&call->mu);
  crpc_metadata_init(&call->resp.headers);
}

/* The message |m| just decoded, as a crpc__cmsg. When the decoder had to
 * assemble it, in its own memory (it is not copied again): the decoder
 * takes the next from the channel's cache when it needs memory. Else a
 * copy out of the received chunk. */
static crpc__cmsg *cmsg_new(crpc__client_call *call, const crpc__frame_msg *m,
                            size_t wire) {
  if (m->len + offsetof(crpc__cmsg, data) >= CRPC__MSG_CACHE_MIN)
    crpc__channel_note_large_message(call->ch);
  size_t cap = 0;
  crpc__cmsg *c =
      (crpc__cmsg *)crpc__frame_decoder_trade(&call->dec, NULL, 0, &cap);
  if (c) {
    c->cap = cap - offsetof(crpc__cmsg, data);
  } else if ((c = crpc__msg_cache_get(call->msgs, m->len)) != NULL) {
    memcpy(c->data, m->data, m->len);
  } else {
    return NULL;
  }
  c->next = NULL;
  c->len = m->len;
  c->wire = wire;
  c->compressed = m->compressed;
  c->enc = call->resp.enc;
  return c;
}

static void deliver(crpc__client_call *call, const crpc__frame_msg *m) {
  char why[160];
  call->n_received++;
  if (m->compressed && call->resp.enc == CRPC__ENCODING_IDENTITY) {
    crpc__client_call_end(
        call, CRPC_STATUS_INTERNAL,
        "a compressed response message without grpc-encoding");
    return;
  }
  if (crpc__method_single_reply(call->method)) {
    if (call->n_received > 1) {
      snprintf(why, sizeof(why),
               "the server sent more than one response message to a %s call",
               crpc_method_kind_name(call->method->kind));
      crpc__client_call_end(call, CRPC_STATUS_INTERNAL, why);
      return;
    }
    call->reply_msg = cmsg_new(call, m, 0);
    if (!call->reply_msg)
      crpc__client_call_end(call, CRPC_STATUS_RESOURCE_EXHAUSTED,
                            "out of memory");
    return;
  }
  crpc__cmsg *c = cmsg_new(call, m, CRPC__FRAME_PREFIX_LEN + m->len);
  if (!c) {
    crpc__client_call_end(call, CRPC_STATUS_RESOURCE_EXHAUSTED,
                          "out of memory");
    return;
  }
  uv_mutex_lock(&call->mu);
  if (call->in_tail)
    call->in_tail->next = c;
  else
    call->in_head = c;
  call->in_tail = c;
  call->in_wire += c->wire;
  crpc_future *rf = call->read_f;
  call->read_f = NULL;
  uv_mutex_unlock(&call->mu);
  if (rf) {
    /* A reader is waiting: it takes this one now. */
    crpc__client_call_complete_read(call, rf);
    crpc_future_unref(rf);
  }
}

/* A stream's |n| bytes just received go back to its window at once while
 * its queue of unread messages is short; else they wait for the reader
 * (crpc__client_call_complete_read()). Loop thread. */
static void give_window(crpc__client_call *call, size_t n) {
  uv_mutex_lock(&call->mu);
  size_t give = 0;
  if (call->in_wire <= CRPC__H2_READ_QUEUE_BYTES) {
    give = call->held + n;
    call->held = 0;
  } else {
    call->held += n;
  }
  uv_mutex_unlock(&call->mu);
  if (give)
    nghttp2_session_consume_stream(call->conn->h2.ng, call->stream_id, give);
}

void crpc__client_call_on_data(crpc__client_call *call, const uint8_t *p,
                               size_t n) {
  crpc__client_conn *c = call->conn;
  if (call->ended || !c)
    return;
  call->bytes_in += n;
  if (!call->resp.saw_headers || call->resp.http_status != 200 ||
      !call->resp.content_type_ok) {
    nghttp2_session_consume_stream(c->h2.ng, call->stream_id, n);
    return; /* not gRPC: the stream's end decides the status */
  }
  int single = crpc__method_single_reply(call->method);
  if (single)
    nghttp2_session_consume_stream(c->h2.ng, call->stream_id, n);
  size_t got = n;
  while (n > 0 && !call->ended) {
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
      crpc__client_call_end(call,
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
  if (!single && !call->ended)
    give_window(call, got);
}

void crpc__client_call_on_stream_close(crpc__client_call *call,
                                       uint32_t error_code) {
  if (call->ended)
    return;
  if (call->conn)
    crpc__client_conn_detach(call->conn, call);
  char why[200];
  if (error_code == NGHTTP2_REFUSED_STREAM && !call->resp.saw_headers) {
    crpc__client_call_refused(call, "the server refused the stream");
    return;
  }
  const char *msg;
  crpc_status code = crpc__grpc_response_status(
      &call->resp, error_code, crpc__frame_decoder_mid_message(&call->dec), why,
      sizeof(why), &msg);
  if (code == CRPC_STATUS_UNAVAILABLE) {
    if (msg != why)
      snprintf(why, sizeof(why), "%s", msg);
    crpc__client_call_unavailable(call, why);
    return;
  }
  crpc__client_call_end(call, code, msg);
}

void crpc__client_call_on_conn_lost(crpc__client_call *call, const char *why) {
  char msg[220];
  if (call->conn)
    crpc__client_conn_detach(call->conn, call);
  if (call->ended)
    return;
  snprintf(msg, sizeof(msg), "connection lost: %s", why);
  if (!call->resp.saw_headers && call->pulled == 0)
    crpc__client_call_refused(call, msg);
  else
    crpc__client_call_unavailable(call, msg);
}

/* Sending. */

ssize_t crpc__client_call_read_body(void *stream, size_t len, uint32_t *flags) {
  crpc__client_call *call = stream;
  size_t n = 0;
  /* The request of a unary or server-streaming call, then what the caller
   * wrote. The bytes stay where they are until
   * crpc__client_call_send_data() takes them. */
  size_t rlen = crpc__buf_len(&call->request);
  if (call->req_off < rlen) {
    n = rlen - call->req_off;
    if (n > len)
      n = len;
    int last = call->req_off + n == rlen;
    *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    if (last && crpc__method_single_request(call->method))
      *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
  }
  if (crpc__method_single_request(call->method)) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    return 0;
  }
  uv_mutex_lock(&call->mu);
  size_t have = crpc__outq_len(&call->out);
  n = have < len ? have : len;
  if (n)
    *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
  int closed = call->send_closed;
  uv_mutex_unlock(&call->mu);
  if (n == have && closed)
    *flags |= NGHTTP2_DATA_FLAG_EOF;
  if (n == 0 && !closed) {
    call->deferred = 1;
    return NGHTTP2_ERR_DEFERRED;
  }
  return (ssize_t)n;
}

size_t crpc__client_call_body_ready(void *stream) {
  crpc__client_call *call = stream;
  size_t n = crpc__buf_len(&call->request) - call->req_off;
  if (n || crpc__method_single_request(call->method))
    return n;
  uv_mutex_lock(&call->mu);
  n = crpc__outq_len(&call->out);
  uv_mutex_unlock(&call->mu);
  return n;
}

static void hold_call(void *owner) {
  crpc__client_call_ref(owner);
}

/* A piece of the request, written from the call's |request|. */
static void release_request(void *owner, crpc__buf *view) {
  (void)view;
  crpc__client_call_unref(owner);
}

/* A written message's buffer handed over by send_data, written: its
 * memory becomes a spare (crpc__outq_give_spare()). */
static void release_payload(void *owner, crpc__buf *buf) {
  crpc__client_call *call = owner;
  uv_mutex_lock(&call->mu);
  crpc__outq_give_spare(&call->out, buf);
  uv_mutex_unlock(&call->mu);
  crpc__buf_cleanup(buf);
  crpc__client_call_unref(call);
}

/* A slice send_data lent of a written message, written. */
static void lent_back(void *owner, crpc__buf *view) {
  crpc__client_call *call = owner;
  (void)view;
  uv_mutex_lock(&call->mu);
  crpc__outq_lent_back(&call->out);
  uv_mutex_unlock(&call->mu);
  crpc__client_call_unref(call);
}

int crpc__client_call_send_data(void *stream, crpc__h2io_out *out,
                                const nghttp2_frame *frame,
                                const uint8_t *framehd, size_t len) {
  crpc__client_call *call = stream;
  int rv;
  size_t rlen = crpc__buf_len(&call->request);
  if (call->req_off < rlen) {
    /* The request stays whole until the call ends, for another attempt:
     * a large piece of it is written from there, not copied. */
    const uint8_t *p = crpc__buf_data(&call->request) + call->req_off;
    if (len >= CRPC__H2IO_OWNED_MIN && crpc__h2io_owned_room(out) > 0) {
      rv = crpc__h2io_put_frame(out, frame, framehd);
      if (rv == 0) {
        crpc__client_call_ref(call);
        crpc__h2io_put_borrowed_piece(out, p, len, call, release_request);
      }
    } else {
      rv = crpc__h2io_put_data(out, frame, framehd, p, len);
    }
    if (rv == 0)
      call->req_off += len;
  } else {
    /* A writer waiting for what it queued to drain (crpc__client_stream's
     * writes) goes on once it is down to CRPC__OUT_LOW_WATER, checked
     * where bytes leave |out| so that no drain goes unseen (as on the
     * server: a frame that takes all of it leaves nghttp2 no reason to ask
     * for more). */
    const crpc__outq_owner o = {.owner = call,
                                .hold = hold_call,
                                .release = release_payload,
                                .lent_back = lent_back};
    crpc_future *wf = NULL;
    uv_mutex_lock(&call->mu);
    rv = crpc__h2io_put_frame(out, frame, framehd);
    if (rv == 0)
      rv = crpc__outq_put(&call->out, out, len, &o);
    if (call->write_f && crpc__outq_len(&call->out) <= CRPC__OUT_LOW_WATER) {
      wf = call->write_f;
      call->write_f = NULL;
    }
    uv_mutex_unlock(&call->mu);
    if (wf) {
      crpc_future_complete(wf, CRPC_STATUS_OK, NULL, NULL, NULL);
      crpc_future_unref(wf);
    }
  }
  if (rv == 0)
    call->pulled += len;
  return rv;
}
