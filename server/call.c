/*
 * server/call.c: one gRPC call on one HTTP/2 stream, server side: request
 * headers and their checks, request messages and flow control, deadlines
 * and cancellation, and the response (headers, messages, trailers, or a
 * trailers-only answer). Running the handler is dispatch.c, the pool of
 * calls call_pool.c.
 *
 * Everything here runs on the loop thread, except crpc__server_call_end(),
 * crpc__server_call_kick() and crpc__server_call_queue_locked(), which a
 * handler's thread may call. See server_internal.h for which fields the
 * two share.
 */
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "crpc/error.h"
#include "grpc_headers.h"
#include "log_internal.h"
#include "method_internal.h"
#include "server_internal.h"

/* A client's reset this close to the deadline is the deadline passing. */
#define CRPC__DEADLINE_SLACK_MS 100
/* Received messages a handler has not read yet, before the window stops
 * being given back to the client. */

static void kick_local(crpc__server_call *call);
static void kick_task(crpc__task *t);

/* Adds |d| to the open streams of |sl|, which only its loop thread
 * writes (others read them for crpc_server_stats_get()). */
static void count_streams(crpc__sloop *sl, int d) {
  uint64_t n = atomic_load_explicit(&sl->streams, memory_order_relaxed);
  atomic_store_explicit(&sl->streams, n + (uint64_t)(int64_t)d,
                        memory_order_relaxed);
}

/* Why a request message could not be read, from the decoder's error. */
static crpc__reject message_reject(int rc) {
  return rc == CRPC_ETOOBIG  ? CRPC__REJECT_MESSAGE_TOO_LARGE
         : rc == CRPC_ENOMEM ? CRPC__REJECT_OUT_OF_MEMORY
                             : CRPC__REJECT_BAD_MESSAGE;
}

/* The loop's time in crpc_now_ns() units, as of this iteration: cheap
 * enough for every DATA frame, fine enough for stall detection. */
static int64_t loop_now_ns(const crpc__server_call *call) {
  return (int64_t)uv_now(crpc_loop_uv(call->sl->loop)) * 1000000;
}

crpc__server_call *crpc__server_call_new(crpc__server_conn *c,
                                         int32_t stream_id) {
  int reused;
  crpc__server_call *call = crpc__server_call_take(c->sl, &reused);
  if (!call)
    return NULL;
  const crpc_server_opts *o = &c->sl->srv->opts;
  atomic_init(&call->refs, 1); /* the stream's */
  atomic_init(&call->cancelled, 0);
  atomic_init(&call->handler_started, 0);
  crpc__kick_init(&call->kick, kick_task);
  call->ctx.call = call;
  call->conn = c;
  crpc__h2conn_ref(&c->h2);
  call->sl = c->sl;
  if (++c->sl->calls_live > c->sl->calls_peak)
    c->sl->calls_peak = c->sl->calls_live;
  call->stream_id = stream_id;
  call->progress_ns = loop_now_ns(call);
  call->deadline = CRPC_DEADLINE_INFINITE;
  call->resp_enc = CRPC__ENCODING_IDENTITY;
  call->peer = c->h2.name; /* the call holds the connection */
  call->peer_auth = crpc__h2conn_peer_auth(&c->h2); /* as long-lived */
  if (!reused) {
    crpc__grpc_request_init(&call->req, &call->arena);
    crpc_metadata_init(&call->resp_headers);
    crpc_metadata_init(&call->resp_trailers);
    crpc__arena_init(&call->arena, NULL, 0, 0);
    crpc__outq_init(&call->out);
  }
  call->req.max_bytes = o->max_header_list_bytes;
  crpc__frame_decoder_init(&call->dec, o->max_receive_bytes);
  crpc__frame_decoder_set_headroom(&call->dec, offsetof(crpc__cmsg, data));
  /* A large request is assembled in memory the loop kept. */
  crpc__frame_decoder_set_mem(&call->dec, crpc__msg_cache_mem, c->sl->msgs);
  call->alloc = crpc__arena_allocator(&call->arena);
  crpc__arena_init(&call->read_arena, NULL, 0, 0);
  call->read_alloc = crpc__arena_allocator(&call->read_arena);
  crpc__buf_init(&call->scratch, o->max_receive_bytes);
  uv_mutex_init(&call->mu);
  call->next_in_conn = c->calls;
  if (c->calls)
    c->calls->prev_in_conn = call;
  c->calls = call;
  c->n_calls++;
  count_streams(c->sl, 1);
  return call;
}

/* Cancellation. */

/* Marks the call cancelled with |code| (first one wins) and wakes what
 * waits on it. Thread: any. */
static void cancel_call(crpc__server_call *call, crpc_status code,
                        const char *msg) {
  int expected = 0;
  if (!atomic_compare_exchange_strong(&call->cancelled, &expected, (int)code))
    return;
  crpc__server_call_lock(call);
  crpc_future *r = call->read_wait, *w = call->write_wait;
  call->read_wait = call->write_wait = NULL;
  crpc_future *cf = call->cancel_f ? crpc_future_ref(call->cancel_f) : NULL;
  crpc__server_call_unlock(call);
  if (r) {
    crpc_future_complete(r, code, msg, NULL, NULL);
    crpc_future_unref(r);
  }
  if (w) {
    crpc_future_complete(w, code, msg, NULL, NULL);
    crpc_future_unref(w);
  }
  if (cf) {
    crpc_future_complete(cf, code, msg, NULL, NULL);
    crpc_future_unref(cf);
  }
}

/* Sets the final status unless one is set. Returns 1 when it was set. */
int crpc__server_call_set_status_locked(crpc__server_call *call,
                                        crpc_status code, const char *msg) {
  int set = !call->status_set;
  if (set) {
    call->status_set = 1;
    call->final_status = code;
    if (msg) {
      free(call->final_message);
      call->final_message = strdup(msg);
    }
  }
  return set;
}

int crpc__server_call_set_status(crpc__server_call *call, crpc_status code,
                                 const char *msg) {
  crpc__server_call_lock(call);
  int set = crpc__server_call_set_status_locked(call, code, msg);
  crpc__server_call_unlock(call);
  return set;
}

/* Ends the call now with |code|: the handler, if running, is cancelled and
 * its result dropped. Loop thread. */
static void fail_call(crpc__server_call *call, crpc_status code,
                      const char *msg) {
  crpc__log(&call->sl->srv->opts.logger, CRPC_LOG_DEBUG, "%s: %s: %s: %s",
            call->peer, call->req.path ? call->req.path : "?",
            crpc_status_name(code), msg);
  if (call->state == CRPC__SERVER_CALL_HEADERS ||
      call->state == CRPC__SERVER_CALL_WAITING)
    call->state = CRPC__SERVER_CALL_DONE;
  crpc__server_call_set_status(call, code, msg);
  cancel_call(call, code, msg);
  kick_local(call);
}

void crpc__server_call_abort(crpc__server_call *call, crpc_status code,
                             const char *msg) {
  CRPC__ASSERT_LOOP_THREAD(call->sl->loop);
  fail_call(call, code, msg);
}

int crpc__server_call_cancel_if_stalled(crpc__server_call *call, int64_t now_ns,
                                        int64_t limit_ns) {
  if (call->state != CRPC__SERVER_CALL_RUNNING || call->stream_closed ||
      atomic_load(&call->cancelled))
    return 0;
  /* Waiting on the peer: the handler waits for a message or for room to
   * write, or it is parked until the peer takes its output, or it has not
   * started and waits for a worker while its peer has sent it nothing. */
  const crpc_method *m = call->route->method;
  int unstarted_empty = !atomic_load(&call->handler_started) &&
                        call->n_received == 0 && !call->remote_closed &&
                        (m->kind == CRPC_METHOD_CLIENT_STREAMING ||
                         m->kind == CRPC_METHOD_BIDI_STREAMING);
  crpc__server_call_lock(call);
  int waiting = unstarted_empty || call->parked || call->read_wait != NULL ||
                call->write_wait != NULL;
  int64_t since = call->wait_since_ns > call->progress_ns ? call->wait_since_ns
                                                          : call->progress_ns;
  crpc__server_call_unlock(call);
  if (!waiting || now_ns - since < limit_ns)
    return 0;
  char msg[96];
  snprintf(msg, sizeof(msg), "the stream made no progress for %lld ms",
           (long long)(limit_ns / 1000000));
  crpc__log(&call->sl->srv->opts.logger, CRPC_LOG_DEBUG, "%s: %s %s: cancelled",
            call->peer, call->req.path, msg);
  atomic_fetch_add(&call->sl->srv->stalled_calls, 1);
  crpc__server_count_rejected(call->sl->srv, CRPC__REJECT_STALLED);
  fail_call(call, CRPC_STATUS_CANCELLED, msg);
  /* The peer may not take the trailers (a window at zero): reset. */
  nghttp2_submit_rst_stream(call->conn->h2.ng, NGHTTP2_FLAG_NONE,
                            call->stream_id, NGHTTP2_CANCEL);
  crpc__server_conn_mark_dirty(call->conn);
  return 1;
}

void crpc__server_call_end(crpc__server_call *call, crpc_status code,
                           const char *msg) {
  crpc__server_call_set_status(call, code, msg);
  cancel_call(call, code, msg);
  crpc__server_call_kick(call);
}

/* The deadline's timer holds a reference on its call while queued. */
static void stop_timer(crpc__server_call *call) {
  if (!crpc__timer_queued(&call->deadline_timer))
    return;
  crpc__timerq_remove(&call->sl->deadlines, &call->deadline_timer);
  crpc__server_call_unref(call);
}

static void on_deadline(crpc__timer *t) {
  crpc__server_call *call =
      (crpc__server_call *)((char *)t -
                            offsetof(crpc__server_call, deadline_timer));
  fail_call(call, CRPC_STATUS_DEADLINE_EXCEEDED, "Deadline Exceeded");
  crpc__server_call_unref(call);
}

/* Request headers. */

int crpc__server_call_on_header(crpc__server_call *call, const uint8_t *name,
                                size_t nlen, const uint8_t *value,
                                size_t vlen) {
  if (crpc__grpc_request_header(&call->req, name, nlen, value, vlen))
    crpc__log(&call->sl->srv->opts.logger, CRPC_LOG_DEBUG,
              "%s: dropped a malformed metadata entry %.*s", call->peer,
              (int)(nlen > 64 ? 64 : nlen), (const char *)name);
  if (call->req.bytes <= call->req.max_bytes ||
      call->state != CRPC__SERVER_CALL_HEADERS)
    return 0;
  /* Past the limit the rest of the block is not looked at: a small block
   * can name a large field of the dynamic table thousands of times (an
   * HPACK bomb), and nghttp2 checks every copy it hands over. The session
   * is told to skip the remaining fields, which resets the stream and
   * drops any answer queued for it; the reset says ENHANCE_YOUR_CALM,
   * which gRPC clients read as RESOURCE_EXHAUSTED (as gRPC's own servers
   * reset a stream whose metadata is too large), where nghttp2's own
   * would say INTERNAL_ERROR. */
  crpc__server_count_rejected(call->sl->srv, CRPC__REJECT_HEADERS_TOO_LARGE);
  crpc__server_call_abort(call, CRPC_STATUS_RESOURCE_EXHAUSTED,
                          "request headers too large");
  nghttp2_submit_rst_stream(call->conn->h2.ng, NGHTTP2_FLAG_NONE,
                            call->stream_id, NGHTTP2_ENHANCE_YOUR_CALM);
  return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
}

/* Response headers and trailers are built in the loop's scratch arena,
 * which is reset once they are submitted (nghttp2 copies them). */

/* The status part of the trailers, then the handler's trailers. Called
 * with |mu| held. */
static void nv_status(crpc__nvlist *l, crpc__server_call *call) {
  crpc_status st = call->final_status;
  const char *msg = call->final_message;
  if (!msg && st != CRPC_STATUS_OK)
    msg = call->status_message;
  crpc__grpc_trailers(l, st, msg,
                      call->final_message ? NULL : call->status_details,
                      call->status_details_len);
  crpc__nvlist_metadata(l, &call->resp_trailers);
}

/* Submits the trailers after the last message. Loop thread. */
static void submit_trailers(crpc__server_call *call) {
  crpc__nvlist l;
  crpc__nvlist_init(&l, &call->sl->scratch);
  crpc__server_call_lock(call);
  nv_status(&l, call);
  crpc__server_call_unlock(call);
  crpc__server_conn *c = call->conn;
  if (l.oom ||
      nghttp2_submit_trailer(c->h2.ng, call->stream_id, l.nv, l.n) != 0)
    nghttp2_submit_rst_stream(c->h2.ng, NGHTTP2_FLAG_NONE, call->stream_id,
                              NGHTTP2_INTERNAL_ERROR);
  call->trailers_submitted = 1;
  crpc__arena_reset(l.a);
}

/* Starts the response: headers and a body, or trailers-only. */
static void start_response(crpc__server_call *call, int trailers_only) {
  crpc__nvlist l;
  crpc__nvlist_init(&l, &call->sl->scratch);
  crpc__server_call_lock(call);
  call->headers_frozen = 1;
  crpc__grpc_response_headers(&l, call->resp_enc);
  crpc__nvlist_metadata(&l, &call->resp_headers);
  if (trailers_only)
    nv_status(&l, call);
  crpc__server_call_unlock(call);
  crpc__server_conn *c = call->conn;
  nghttp2_data_provider dp = crpc__h2conn_body(call);
  int rv = l.oom ? NGHTTP2_ERR_NOMEM
                 : nghttp2_submit_response(c->h2.ng, call->stream_id, l.nv, l.n,
                                           trailers_only ? NULL : &dp);
  if (rv != 0)
    nghttp2_submit_rst_stream(c->h2.ng, NGHTTP2_FLAG_NONE, call->stream_id,
                              NGHTTP2_INTERNAL_ERROR);
  call->response_started = 1;
  call->trailers_submitted = trailers_only;
  crpc__arena_reset(l.a);
}

/* An HTTP-level refusal, for requests that are not gRPC. */
static void respond_http_error(crpc__server_call *call, int http_status,
                               const char *msg) {
  crpc__nvlist l;
  crpc__nvlist_init(&l, &call->sl->scratch);
  crpc__grpc_http_error(&l, http_status, msg);
  call->state = CRPC__SERVER_CALL_DONE;
  crpc__server_call_set_status(call, CRPC_STATUS_INTERNAL, msg);
  if (l.oom || nghttp2_submit_response(call->conn->h2.ng, call->stream_id, l.nv,
                                       l.n, NULL) != 0)
    nghttp2_submit_rst_stream(call->conn->h2.ng, NGHTTP2_FLAG_NONE,
                              call->stream_id, NGHTTP2_INTERNAL_ERROR);
  crpc__arena_reset(l.a);
  call->response_started = 1;
  call->trailers_submitted = 1;
  crpc__server_conn_mark_dirty(call->conn);
}

ssize_t crpc__server_call_read_body(void *stream, size_t length,
                                    uint32_t *data_flags) {
  crpc__server_call *call = stream;
  crpc__server_call_lock(call);
  size_t avail = crpc__outq_len(&call->out);
  size_t n = avail < length ? avail : length;
  /* The bytes stay queued until crpc__server_call_send_data() takes them
   * (and wakes a writer waiting for them to drain). */
  if (n)
    *data_flags |= NGHTTP2_DATA_FLAG_NO_COPY;
  int fin = call->status_set && avail == n;
  crpc__server_call_unlock(call);
  if (n)
    call->progress_ns = loop_now_ns(call);
  if (fin) {
    *data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
    submit_trailers(call);
    return (ssize_t)n;
  }
  if (n == 0) {
    call->deferred = 1;
    return NGHTTP2_ERR_DEFERRED;
  }
  return (ssize_t)n;
}

size_t crpc__server_call_body_ready(void *stream) {
  crpc__server_call *call = stream;
  crpc__server_call_lock(call);
  size_t n = crpc__outq_len(&call->out);
  crpc__server_call_unlock(call);
  return n;
}

/* Output. */

int crpc__server_call_queue_locked(crpc__server_call *call, crpc__buf *b) {
  size_t n = crpc__buf_len(b);
  int rc = crpc__outq_push(&call->out, b);
  if (rc == 0) {
    call->bytes_out += n;
    atomic_fetch_add(&call->conn->out_bytes, n);
  }
  return rc;
}

size_t crpc__server_call_drop_output(crpc__server_call *call, size_t keep) {
  atomic_fetch_sub(&call->conn->out_bytes, crpc__outq_len(&call->out));
  return crpc__outq_keep(&call->out, keep);
}

static void hold_call(void *owner) {
  crpc__server_call_ref(owner);
}

/* A payload handed over by send_data, written: its memory becomes a
 * spare (crpc__outq_give_spare()). */
static void release_payload(void *owner, crpc__buf *buf) {
  crpc__server_call *call = owner;
  crpc__server_call_lock(call);
  crpc__outq_give_spare(&call->out, buf);
  crpc__server_call_unlock(call);
  crpc__buf_cleanup(buf);
  crpc__server_call_unref(call);
}

/* A slice send_data lent, written. */
static void lent_back(void *owner, crpc__buf *view) {
  crpc__server_call *call = owner;
  (void)view;
  crpc__server_call_lock(call);
  crpc__outq_lent_back(&call->out);
  crpc__server_call_unlock(call);
  crpc__server_call_unref(call);
}

/* A writer waits while more than CRPC__OUT_HIGH_WATER bytes are queued
 * (crpc_server_stream_write()); once what is left is down to
 * CRPC__OUT_LOW_WATER, it may go on. Checked where bytes leave the queue,
 * so that no drain goes unseen: a frame that takes all that is queued
 * leaves nghttp2 no reason to ask the stream for more, and a waiting
 * writer would otherwise wait for the peer's next WINDOW_UPDATE, which
 * may never come while the peer waits for this stream. With |mu| held:
 * returns the writer's future to complete, once |mu| is released, with
 * wake_writer(). */
static crpc_future *drained_locked(crpc__server_call *call) {
  crpc_future *w = NULL;
  if (call->write_wait && crpc__outq_len(&call->out) <= CRPC__OUT_LOW_WATER) {
    w = call->write_wait;
    call->write_wait = NULL;
  }
  return w;
}

static void wake_writer(crpc_future *w) {
  if (w) {
    crpc_future_complete(w, CRPC_STATUS_OK, NULL, NULL, NULL);
    crpc_future_unref(w);
  }
}

int crpc__server_call_send_data(void *stream, crpc__h2io_out *out,
                                const nghttp2_frame *frame,
                                const uint8_t *framehd, size_t length) {
  crpc__server_call *call = stream;
  const crpc__outq_owner o = {.owner = call,
                              .hold = hold_call,
                              .release = release_payload,
                              .lent_back = lent_back};
  crpc__server_call_lock(call);
  size_t before = crpc__outq_len(&call->out);
  int rv = crpc__h2io_put_frame(out, frame, framehd);
  if (rv == 0)
    rv = crpc__outq_put(&call->out, out, length, &o);
  atomic_fetch_sub(&call->conn->out_bytes, before - crpc__outq_len(&call->out));
  crpc_future *w = rv == 0 ? drained_locked(call) : NULL;
  crpc__server_call_unlock(call);
  wake_writer(w);
  return rv;
}

/* Gives received bytes back to the flow-control windows when |room|: the
 * queue of unread messages is short. Loop thread. */
static void give_window_if(crpc__server_call *call, int room) {
  if (!room || call->stream_closed || !call->unconsumed)
    return;
  nghttp2_session_consume_stream(call->conn->h2.ng, call->stream_id,
                                 call->unconsumed);
  call->unconsumed = 0;
}

static void give_window(crpc__server_call *call) {
  if (call->stream_closed || !call->unconsumed)
    return;
  crpc__server_call_lock(call);
  int room = call->in_bytes <= CRPC__H2_READ_QUEUE_BYTES;
  crpc__server_call_unlock(call);
  give_window_if(call, room);
}

/* Moves the response along after the handler wrote, finished, or read.
 * Loop thread. */
static void kick_local(crpc__server_call *call) {
  if (call->stream_closed)
    return;
  crpc__server_call_lock(call);
  int room = call->in_bytes <= CRPC__H2_READ_QUEUE_BYTES;
  int has_data = crpc__outq_len(&call->out) > 0;
  int fin = call->status_set;
  crpc__server_call_unlock(call);
  give_window_if(call, room);
  if (!call->response_started) {
    if (has_data)
      start_response(call, 0);
    else if (fin)
      start_response(call, 1);
  } else if (call->deferred && (has_data || fin)) {
    call->deferred = 0;
    nghttp2_session_resume_data(call->conn->h2.ng, call->stream_id);
  }
  crpc__server_conn_mark_dirty(call->conn);
}

static void kick_task(crpc__task *t) {
  crpc__server_call *call =
      (crpc__server_call *)((char *)t - offsetof(crpc__server_call, kick.task));
  crpc__kick_taken(&call->kick);
  kick_local(call);
  crpc__server_call_unref(call);
}

void crpc__server_call_kick(crpc__server_call *call) {
  if (crpc_loop_is_current(call->sl->loop)) {
    kick_local(call);
    return;
  }
  crpc__server_call_ref(call); /* the task's */
  if (crpc__kick_post(&call->kick, call->sl->loop) != 1) {
    /* Queued already, or the loop is closing: nothing is left to send to.
     * The caller's reference remains: not the last. */
    atomic_fetch_sub(&call->refs, 1);
  }
}

void crpc__server_call_on_headers_done(crpc__server_call *call) {
  crpc_server *srv = call->sl->srv;
  if (call->state != CRPC__SERVER_CALL_HEADERS)
    return;
  crpc_status code;
  const char *why;
  int verdict = crpc__grpc_request_verdict(&call->req, &code, &why);
  if (verdict != 0)
    crpc__server_count_rejected(srv, verdict > 0 ? CRPC__REJECT_NOT_GRPC
                                                 : CRPC__REJECT_BAD_REQUEST);
  if (verdict > 0) {
    respond_http_error(call, verdict,
                       verdict == 405 ? "method not allowed"
                                      : "invalid gRPC request content-type");
    return;
  }
  if (verdict < 0) {
    fail_call(call, code, why);
    return;
  }
  if (call->req.has_timeout)
    call->deadline = crpc_deadline_after_ns(call->req.timeout_ns);
  const char *path = call->req.path;
  call->route = crpc__server_route(srv, path, strlen(path));
  if (!call->route || !call->route->implemented) {
    char msg[300];
    snprintf(msg, sizeof(msg), "%s: %.200s",
             call->route ? "method not implemented" : "unknown method", path);
    crpc__server_count_rejected(srv, CRPC__REJECT_UNIMPLEMENTED);
    fail_call(call, CRPC_STATUS_UNIMPLEMENTED, msg);
    return;
  }
  const char *refusal = crpc__server_conn_refusal(call->conn);
  if (refusal) {
    fail_call(call, CRPC_STATUS_PERMISSION_DENIED, refusal);
    return;
  }
  if (call->route->svc->chain.n)
    call->start_ns = crpc_now_ns(); /* for the interceptors' end */
  if (call->deadline != CRPC_DEADLINE_INFINITE) {
    int64_t ms = crpc_deadline_remaining_ms(call->deadline);
    if (ms <= 0) {
      crpc__server_count_rejected(srv, CRPC__REJECT_DEADLINE_BEFORE_START);
      fail_call(call, CRPC_STATUS_DEADLINE_EXCEEDED, "Deadline Exceeded");
      return;
    }
    crpc__server_call_ref(call); /* the timer's */
    int rc = crpc__timerq_add(&call->sl->deadlines, &call->deadline_timer,
                              (uint64_t)ms, on_deadline);
    if (rc != 0) {
      crpc__server_call_unref(call);
      if (rc == CRPC_ENOMEM)
        fail_call(call, CRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
      else
        fail_call(call, CRPC_STATUS_UNAVAILABLE, "the server is stopping");
      return;
    }
  }
  if (!crpc__method_single_request(call->route->method))
    crpc__server_call_dispatch(call);
  else
    call->state = CRPC__SERVER_CALL_WAITING;
}

/* Request messages. */

/* Wakes a handler waiting to read, and releases |mu|, which the caller
 * holds. */
static void wake_reader_unlock(crpc__server_call *call) {
  crpc_future *r = call->read_wait;
  call->read_wait = NULL;
  crpc__server_call_unlock(call);
  if (r) {
    crpc_future_complete(r, CRPC_STATUS_OK, NULL, NULL, NULL);
    crpc_future_unref(r);
  }
}

/* Queues the message |msg| just decoded for the handler: in the decoder's
 * own memory when it had to assemble it (no second copy; the decoder
 * takes the next from the loop's cache when it needs memory), else copied
 * out of the received chunk. The reader gives it back to the cache. */
static void push_message(crpc__server_call *call, const crpc__frame_msg *msg) {
  size_t cap = 0;
  crpc__cmsg *m =
      (crpc__cmsg *)crpc__frame_decoder_trade(&call->dec, NULL, 0, &cap);
  if (m)
    m->cap = cap - offsetof(crpc__cmsg, data);
  else if ((m = crpc__msg_cache_get(call->sl->msgs, msg->len)) != NULL)
    memcpy(m->data, msg->data, msg->len);
  if (!m) {
    crpc__server_count_rejected(call->sl->srv, CRPC__REJECT_OUT_OF_MEMORY);
    fail_call(call, CRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    return;
  }
  m->next = NULL;
  m->len = msg->len;
  m->wire = CRPC__FRAME_PREFIX_LEN + msg->len;
  m->compressed = msg->compressed;
  crpc__server_call_lock(call);
  if (call->in_tail)
    call->in_tail->next = m;
  else
    call->in_head = m;
  call->in_tail = m;
  call->in_bytes += m->len;
  wake_reader_unlock(call);
}

void crpc__server_call_on_data(crpc__server_call *call, const uint8_t *p,
                               size_t n) {
  call->unconsumed += n;
  call->bytes_in += n;
  call->progress_ns = loop_now_ns(call);
  int accepting = call->state == CRPC__SERVER_CALL_WAITING ||
                  (call->state == CRPC__SERVER_CALL_RUNNING &&
                   !crpc__method_single_request(call->route->method));
  if (!accepting || atomic_load(&call->cancelled)) {
    give_window(call);
    return;
  }
  while (n > 0) {
    size_t used = 0;
    crpc__frame_msg msg;
    int rc = crpc__frame_decoder_feed(&call->dec, p, n, &used, &msg);
    p += used;
    n -= used;
    if (rc == 0)
      break;
    if (rc < 0) {
      char text[128];
      crpc__server_count_rejected(call->sl->srv, message_reject(rc));
      if (rc == CRPC_ETOOBIG)
        snprintf(text, sizeof(text),
                 "received message larger than max (limit %zu bytes)",
                 call->dec.max_size);
      fail_call(call,
                rc == CRPC_ETOOBIG || rc == CRPC_ENOMEM
                    ? CRPC_STATUS_RESOURCE_EXHAUSTED
                    : CRPC_STATUS_INTERNAL,
                rc == CRPC_ETOOBIG ? text
                : rc == CRPC_EPROTO
                    ? "bad message prefix: compression flag not 0 or 1"
                    : "out of memory");
      break;
    }
    call->n_received++;
    if (!crpc__method_single_request(call->route->method)) {
      push_message(call, &msg);
      continue;
    }
    if (call->n_received > 1) {
      crpc__server_count_rejected(call->sl->srv, CRPC__REJECT_BAD_MESSAGE);
      fail_call(call, CRPC_STATUS_INTERNAL,
                "more than one request message for a unary request");
      break;
    }
    /* Unpacked into the call's arena straight from the received bytes;
     * the handler runs once END_STREAM confirms it is the only one. */
    call->req_compressed = msg.compressed;
    rc = crpc__frame_unpack(&msg, call->req.enc,
                            call->sl->srv->opts.max_receive_bytes,
                            &call->scratch, call->route->method->input,
                            &call->alloc, &call->request);
    if (rc != 0) {
      const char *text;
      crpc_status st = crpc__server_call_unpack_status(rc, &text);
      crpc__server_count_rejected(call->sl->srv, message_reject(rc));
      fail_call(call, st, text);
      break;
    }
  }
  give_window(call);
}

void crpc__server_call_on_remote_close(crpc__server_call *call) {
  crpc__server_call_lock(call);
  call->remote_closed = 1;
  crpc__server_call_unlock(call);
  if (call->state == CRPC__SERVER_CALL_HEADERS ||
      call->state == CRPC__SERVER_CALL_DONE || atomic_load(&call->cancelled))
    return;
  if (crpc__frame_decoder_mid_message(&call->dec)) {
    crpc__server_count_rejected(call->sl->srv, CRPC__REJECT_BAD_MESSAGE);
    fail_call(call, CRPC_STATUS_INTERNAL,
              "the request ended in the middle of a message");
    return;
  }
  if (call->state == CRPC__SERVER_CALL_WAITING) {
    if (call->n_received != 1) {
      crpc__server_count_rejected(call->sl->srv, CRPC__REJECT_BAD_MESSAGE);
      fail_call(call, CRPC_STATUS_INTERNAL,
                "no request message for a unary request");
      return;
    }
    crpc__server_call_dispatch(call);
    return;
  }
  /* A streaming handler reads the end of the stream. */
  crpc__server_call_lock(call);
  wake_reader_unlock(call);
}

void crpc__server_call_on_frame_sent(crpc__server_call *call, int end_stream) {
  /* The response is complete; a client still sending is told to stop. */
  if (end_stream && !call->remote_closed && !call->stream_closed)
    nghttp2_submit_rst_stream(call->conn->h2.ng, NGHTTP2_FLAG_NONE,
                              call->stream_id, NGHTTP2_NO_ERROR);
}

void crpc__server_call_on_stream_close(crpc__server_call *call,
                                       uint32_t error_code) {
  crpc__server_conn *c = call->conn;
  if (call->stream_closed)
    return;
  call->stream_closed = 1;
  if (call->prev_in_conn)
    call->prev_in_conn->next_in_conn = call->next_in_conn;
  else
    c->calls = call->next_in_conn;
  if (call->next_in_conn)
    call->next_in_conn->prev_in_conn = call->prev_in_conn;
  count_streams(c->sl, -1);
  if (--c->n_calls == 0)
    c->idle_since_ms = uv_now(crpc_loop_uv(c->sl->loop));
  stop_timer(call);
  crpc__server_call_lock(call);
  int done = call->status_set && call->trailers_submitted;
  crpc__server_call_unlock(call);
  if (!done || error_code != NGHTTP2_NO_ERROR) {
    /* gRPC clients reset the stream when their deadline passes, which,
     * measured from the client's send, is a little before ours. */
    int at_deadline =
        call->deadline != CRPC_DEADLINE_INFINITE &&
        crpc_deadline_remaining_ms(call->deadline) <= CRPC__DEADLINE_SLACK_MS;
    if (call->state == CRPC__SERVER_CALL_RUNNING)
      crpc__log(&call->sl->srv->opts.logger, CRPC_LOG_DEBUG, "%s: %s %s",
                call->peer, call->req.path,
                at_deadline ? "reached its deadline"
                            : "was cancelled by the client");
    if (at_deadline)
      cancel_call(call, CRPC_STATUS_DEADLINE_EXCEEDED, "Deadline Exceeded");
    else
      cancel_call(call, CRPC_STATUS_CANCELLED, "cancelled by the client");
  }
  if (call->parked)
    crpc__server_call_drop_parked(call);
  if (call->state != CRPC__SERVER_CALL_RUNNING)
    call->state = CRPC__SERVER_CALL_DONE;
  crpc__server_call_report_end(call);
  crpc__server_call_unref(call);
}
