/* runtime/h2conn.c: see h2conn.h. */
#include "h2conn.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "crpc/error.h"
#include "log_internal.h"
#include "loop_internal.h"

/* Streams a client assumes the server allows until its SETTINGS say. */
#define INITIAL_PEER_MAX_STREAMS 100
/* The largest header block either side sends. */
#define MAX_SEND_HEADER_BLOCK (64 * 1024)

int crpc__h2group_init(crpc__h2group *g, crpc_loop *loop) {
  memset(g, 0, sizeof(*g));
  g->loop = loop;
  g->limits = crpc__h2limits_or_default(NULL);
  crpc__h2io_out_init(&g->wbuf);
  /* Not calloc: a read touches only the pages it fills. */
  g->rbuf = malloc(CRPC__H2IO_READ_BUF);
  return g->rbuf ? 0 : CRPC_ENOMEM;
}

void crpc__h2group_cleanup(crpc__h2group *g) {
  crpc__h2io_out_cleanup(&g->wbuf);
  free(g->rbuf);
  g->rbuf = NULL;
}

void crpc__h2conn_ref(crpc__h2conn *c) {
  c->refs++;
}

void crpc__h2conn_unref(crpc__h2conn *c) {
  if (--c->refs > 0)
    return;
  crpc__h2io_rest_cleanup(&c->rest);
  crpc__peer_auth_free(c->peer_auth);
  c->role->destroy(c);
}

crpc__h2limits crpc__h2limits_or_default(const crpc__h2limits *l) {
  crpc__h2limits d = l ? *l : (crpc__h2limits){0};
  if (!d.max_streams)
    d.max_streams = 100;
  if (!d.max_header_list)
    d.max_header_list = CRPC__H2_MAX_HEADER_LIST;
  if (!d.idle_frame_burst)
    d.idle_frame_burst = CRPC__H2_IDLE_FRAMES_BURST;
  if (!d.idle_frame_rate)
    d.idle_frame_rate = CRPC__H2_IDLE_FRAMES_PER_SECOND;
  if (!d.stream_window)
    d.stream_window = CRPC__H2_STREAM_WINDOW;
  if (d.stream_window > CRPC__H2_MAX_WINDOW)
    d.stream_window = CRPC__H2_MAX_WINDOW;
  if (!d.conn_window)
    d.conn_window = CRPC__H2_CONN_WINDOW;
  if (d.conn_window > CRPC__H2_MAX_WINDOW)
    d.conn_window = CRPC__H2_MAX_WINDOW;
  return d;
}

const crpc_peer_auth *crpc__h2conn_peer_auth(const crpc__h2conn *c) {
  const crpc_peer_auth *a =
      c->tls ? crpc__tls_conn_peer_auth(c->tls) : c->peer_auth;
  return a ? a : &crpc__peer_auth_plaintext;
}

void crpc__h2conn_init(crpc__h2conn *c, const crpc__h2conn_role *role,
                       crpc__h2group *group, const crpc_logger *lg) {
  memset(c, 0, sizeof(*c));
  c->role = role;
  c->group = group;
  c->lg = lg;
  c->refs = 1;
  crpc__h2io_rest_init(&c->rest);
}

void crpc__h2conn_mark_dirty(crpc__h2conn *c) {
  CRPC__ASSERT_LOOP_THREAD(c->group->loop);
  if (c->in_dirty || c->closed)
    return;
  c->in_dirty = 1;
  c->refs++;
  c->next_dirty = c->group->dirty;
  c->group->dirty = c;
}

static void set_error(crpc__h2conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_error(crpc__h2conn *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->error, sizeof(c->error), fmt, ap);
  va_end(ap);
}

void crpc__h2conn_fail(crpc__h2conn *c, const char *why) {
  if (!c->error[0] && why)
    set_error(c, "%s", why);
  c->fatal = 1;
  crpc__h2conn_mark_dirty(c);
}

/* The user data of |stream_id|. The last one found is remembered, as a
 * frame's callbacks ask for the same stream one after the other: a
 * request's header fields come one callback each. Only a stream that has
 * user data is remembered, and crpc__h2conn_set_stream() is the one way
 * it changes (a stream that closes has its user data unset first). */
static void *stream_of(crpc__h2conn *c, int32_t stream_id) {
  if (stream_id == c->last_stream_id && c->last_stream)
    return c->last_stream;
  void *stream = nghttp2_session_get_stream_user_data(c->ng, stream_id);
  if (stream) {
    c->last_stream_id = stream_id;
    c->last_stream = stream;
  }
  return stream;
}

void crpc__h2conn_set_stream(crpc__h2conn *c, int32_t stream_id, void *stream) {
  if (stream_id == c->last_stream_id)
    c->last_stream = NULL;
  if (c->ng)
    nghttp2_session_set_stream_user_data(c->ng, stream_id, stream);
}

/* nghttp2 callbacks: the stream's user data goes to the role. */

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *frame,
                            void *user_data) {
  (void)ng;
  crpc__h2conn *c = user_data;
  if (frame->hd.type == NGHTTP2_HEADERS &&
      frame->headers.cat == NGHTTP2_HCAT_REQUEST)
    crpc__loop_note_request(c->group->loop);
  return c->role->begin_headers ? c->role->begin_headers(c, frame) : 0;
}

/* Ends the connection for what the peer did: GOAWAY |code| naming |why|,
 * and no more reading. From inside a session callback, which then returns
 * NGHTTP2_ERR_CALLBACK_FAILURE. */
static int peer_error(crpc__h2conn *c, uint32_t code, const char *why) {
  nghttp2_submit_goaway(c->ng, NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(c->ng), code,
                        (const uint8_t *)why, strlen(why));
  c->fatal = 1;
  crpc__h2conn_mark_dirty(c);
  return NGHTTP2_ERR_CALLBACK_FAILURE;
}

void crpc__h2conn_goaway(crpc__h2conn *c, uint32_t code, const char *why) {
  if (c->closed || !c->ng)
    return;
  set_error(c, "%s: %s", nghttp2_http2_strerror(code), why);
  peer_error(c, code, why);
}

/* Whether a frame with header |hd| asks nothing of the connection. A
 * PING after HEADERS or DATA with a payload does (flow-control probes,
 * as gRPC's BDP estimation sends along with data, are not counted: the
 * rule gRPC's keepalive enforcement uses). */
static int idle_frame(crpc__h2conn *c, const nghttp2_frame_hd *hd) {
  switch (hd->type) {
  case NGHTTP2_DATA:
    if (hd->length > 0) {
      c->work_since_ping = 1;
      return 0;
    }
    return !(hd->flags & NGHTTP2_FLAG_END_STREAM);
  case NGHTTP2_HEADERS:
    c->work_since_ping = 1;
    return 0;
  case NGHTTP2_PING:
    if (hd->flags & NGHTTP2_FLAG_ACK)
      return 0;
    c->ping_with_work = c->work_since_ping || c->sent_since_ping;
    c->sent_since_ping = 0;
    if (c->work_since_ping) {
      c->work_since_ping = 0;
      return 0;
    }
    return 1;
  case NGHTTP2_PRIORITY:
    return 1;
  case NGHTTP2_SETTINGS:
    return !(hd->flags & NGHTTP2_FLAG_ACK);
  case NGHTTP2_RST_STREAM: /* nghttp2 limits resets itself */
  case NGHTTP2_PUSH_PROMISE:
  case NGHTTP2_GOAWAY:
  case NGHTTP2_WINDOW_UPDATE:
  case NGHTTP2_CONTINUATION: /* nghttp2 limits their count per block */
    return 0;
  default:
    return 1; /* a type crpc does not know: ignored, but not for free */
  }
}

/* Takes one frame from the idle-frame budget; 0 when it is spent. */
static int idle_frame_allowed(crpc__h2conn *c) {
  const crpc__h2limits *l = &c->group->limits;
  uint64_t now = uv_now(c->h.handle.loop);
  if (c->idle_frames_ms == 0) {
    c->idle_frames = l->idle_frame_burst;
  } else if (now > c->idle_frames_ms) {
    c->idle_frames +=
        (double)(now - c->idle_frames_ms) * l->idle_frame_rate / 1000.0;
    if (c->idle_frames > l->idle_frame_burst)
      c->idle_frames = l->idle_frame_burst;
  }
  c->idle_frames_ms = now ? now : 1;
  if (c->idle_frames < 1)
    return 0;
  c->idle_frames -= 1;
  return 1;
}

/* A frame nghttp2 refused as a stream error: a malformed request's
 * HEADERS, or a stream past the concurrency limit the peer has not
 * acknowledged yet (past an acknowledged one it is a connection error).
 * nghttp2 answers each with RST_STREAM; it asked for an answer and gave
 * nothing to serve, so it takes from the idle-frame budget too. */
static int on_invalid_frame(nghttp2_session *ng, const nghttp2_frame *frame,
                            int lib_error, void *user_data) {
  (void)ng, (void)frame, (void)lib_error;
  crpc__h2conn *c = user_data;
  if (!idle_frame_allowed(c))
    return peer_error(c, NGHTTP2_ENHANCE_YOUR_CALM,
                      "too many frames that ask nothing");
  return 0;
}

/* An extension frame (declared in session_new() only to be counted):
 * dropped. */
static int unpack_extension(nghttp2_session *ng, void **payload,
                            const nghttp2_frame_hd *hd, void *user_data) {
  (void)ng, (void)hd, (void)user_data;
  *payload = NULL;
  return NGHTTP2_ERR_CANCEL;
}

/* Every frame's header, before nghttp2 handles the frame: the checks
 * nghttp2 leaves to its user. */
static int on_begin_frame(nghttp2_session *ng, const nghttp2_frame_hd *hd,
                          void *user_data) {
  crpc__h2conn *c = user_data;
  if (idle_frame(c, hd) && !idle_frame_allowed(c))
    return peer_error(c, NGHTTP2_ENHANCE_YOUR_CALM,
                      "too many frames that ask nothing");
  if (hd->type == NGHTTP2_HEADERS || hd->type == NGHTTP2_PUSH_PROMISE ||
      hd->type == NGHTTP2_CONTINUATION) {
    if (hd->flags & NGHTTP2_FLAG_END_HEADERS)
      c->block_since_ms = 0;
    else if (c->block_since_ms == 0)
      c->block_since_ms = uv_now(c->h.handle.loop) + 1;
  }
  if (hd->type != NGHTTP2_HEADERS || !c->role->server || hd->stream_id == 0)
    return 0;
  if (hd->stream_id > c->last_peer_stream) {
    c->last_peer_stream = hd->stream_id;
    return 0;
  }
  /* RFC 9113 5.1.1: a new stream's id is above every one the peer opened.
   * A HEADERS frame on a lower id that names no stream the session still
   * knows opens nothing legitimately (gRPC clients send no request
   * trailers), so it is the connection error the RFC asks for. Streams
   * the session knows, open or just closed, are nghttp2's to judge. */
  if (!nghttp2_session_find_stream(ng, hd->stream_id))
    return peer_error(c, NGHTTP2_PROTOCOL_ERROR,
                      "HEADERS on a stream id not above the last one opened");
  return 0;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *frame,
                     const uint8_t *name, size_t namelen, const uint8_t *value,
                     size_t valuelen, uint8_t flags, void *user_data) {
  (void)flags;
  (void)ng;
  crpc__h2conn *c = user_data;
  void *stream = stream_of(c, frame->hd.stream_id);
  if (!stream)
    return 0;
  return c->role->header(stream, frame, name, namelen, value, valuelen);
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *frame,
                         void *user_data) {
  (void)ng;
  crpc__h2conn *c = user_data;
  if (frame->hd.type == NGHTTP2_SETTINGS &&
      !(frame->hd.flags & NGHTTP2_FLAG_ACK))
    c->established = 1;
  int per_stream =
      frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA;
  void *stream = per_stream ? stream_of(c, frame->hd.stream_id) : NULL;
  c->role->frame_recv(c, stream, frame);
  return 0;
}

/* Flow control: the connection's window is given back as DATA arrives,
 * each stream's as its reader takes the messages (the role calls
 * nghttp2_session_consume_stream()). A stream whose reader is slow or
 * never reads then holds at most its own window, and never the
 * connection's: were the connection's window held for unread streams, a
 * few of them would stop every other stream on the connection, the one
 * its reader waits for among them. Received bytes a connection holds stay
 * bounded by its streams' windows and read queues. */
static int on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t stream_id,
                         const uint8_t *data, size_t len, void *user_data) {
  (void)flags;
  crpc__h2conn *c = user_data;
  nghttp2_session_consume_connection(ng, len);
  void *stream = stream_of(c, stream_id);
  if (!stream) {
    /* A stream no one tracks any more: its window goes back at once. */
    nghttp2_session_consume_stream(ng, stream_id, len);
    return 0;
  }
  c->role->data(stream, data, len);
  return 0;
}

static int on_stream_close(nghttp2_session *ng, int32_t stream_id,
                           uint32_t error_code, void *user_data) {
  (void)ng;
  crpc__h2conn *c = user_data;
  void *stream = stream_of(c, stream_id);
  if (stream) {
    crpc__h2conn_set_stream(c, stream_id, NULL);
    c->role->stream_close(stream, error_code);
  }
  return 0;
}

/* A GOAWAY with an error that nghttp2 sends names what the peer did
 * wrong, in its debug data: that is the reason the connection ends. */
static int on_frame_send(nghttp2_session *ng, const nghttp2_frame *frame,
                         void *user_data) {
  (void)ng;
  crpc__h2conn *c = user_data;
  if (frame->hd.type == NGHTTP2_GOAWAY &&
      frame->goaway.error_code != NGHTTP2_NO_ERROR) {
    set_error(c, "bad HTTP/2 from %s: %s%s%.*s", c->role->peer_noun,
              nghttp2_http2_strerror(frame->goaway.error_code),
              frame->goaway.opaque_data_len ? ": " : "",
              (int)frame->goaway.opaque_data_len,
              (const char *)frame->goaway.opaque_data);
    return 0;
  }
  int work =
      frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA;
  c->sent_since_ping |= work;
  int ends = work && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM);
  if (ends && c->role->end_sent) {
    void *stream = stream_of(c, frame->hd.stream_id);
    if (stream)
      c->role->end_sent(stream);
  }
  return 0;
}

static int on_error(nghttp2_session *ng, int lib_error_code, const char *msg,
                    size_t len, void *user_data) {
  (void)ng;
  (void)lib_error_code;
  crpc__h2conn *c = user_data;
  crpc__log(c->lg, CRPC_LOG_DEBUG, "%s: http2: %.*s", c->name, (int)len, msg);
  set_error(c, "HTTP/2 error: %.*s", (int)len, msg);
  return 0;
}

/* A stream that has ended on the role's side left the session: its data
 * source may be stale, and nghttp2 must not use it. */
static int stale(crpc__h2conn *c, int32_t stream_id, void *source) {
  return stream_of(c, stream_id) != source;
}

static ssize_t read_body(nghttp2_session *ng, int32_t stream_id, uint8_t *buf,
                         size_t length, uint32_t *data_flags,
                         nghttp2_data_source *source, void *user_data) {
  (void)ng, (void)buf;
  crpc__h2conn *c = user_data;
  if (stale(c, stream_id, source->ptr))
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  return c->role->read_body(source->ptr, length, data_flags);
}

/* DATA frames as large as the peer takes, up to CRPC__H2_MAX_DATA_FRAME,
 * but never larger than what the stream has ready: nghttp2 grows its
 * frame buffer to the length asked for, and a connection of small
 * messages should keep its 16 KiB one. nghttp2 applies the flow-control
 * windows afterwards. */
static ssize_t data_length(nghttp2_session *ng, uint8_t frame_type,
                           int32_t stream_id, int32_t session_window,
                           int32_t stream_window, uint32_t peer_max,
                           void *user_data) {
  (void)ng, (void)frame_type, (void)session_window, (void)stream_window;
  crpc__h2conn *c = user_data;
  size_t n = CRPC__H2_FRAME_PAYLOAD;
  if (peer_max <= n)
    return (ssize_t)n;
  void *stream = stream_of(c, stream_id);
  size_t ready = stream ? c->role->body_ready(stream) : 0;
  if (ready > n)
    n = ready;
  if (n > peer_max)
    n = peer_max;
  if (n > CRPC__H2_MAX_DATA_FRAME)
    n = CRPC__H2_MAX_DATA_FRAME;
  return (ssize_t)n;
}

nghttp2_data_provider crpc__h2conn_body(void *stream) {
  return (nghttp2_data_provider){.source.ptr = stream,
                                 .read_callback = read_body};
}

static int on_send_data(nghttp2_session *ng, nghttp2_frame *frame,
                        const uint8_t *framehd, size_t length,
                        nghttp2_data_source *source, void *user_data) {
  (void)ng;
  crpc__h2conn *c = user_data;
  if (stale(c, frame->hd.stream_id, source->ptr))
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  /* Only the flush collects: the batch is the group's. */
  return c->role->send_data(source->ptr, &c->group->wbuf, frame, framehd,
                            length);
}

static int session_new(crpc__h2conn *c, nghttp2_mem *mem) {
  const crpc__h2limits *l = &c->group->limits;
  nghttp2_session_callbacks *cb;
  nghttp2_option *opt = NULL;
  if (nghttp2_session_callbacks_new(&cb) != 0)
    return CRPC_ENOMEM;
  nghttp2_session_callbacks_set_on_begin_frame_callback(cb, on_begin_frame);
  nghttp2_session_callbacks_set_unpack_extension_callback(cb, unpack_extension);
  nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(
      cb, on_invalid_frame);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
  nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
  nghttp2_session_callbacks_set_send_data_callback(cb, on_send_data);
  nghttp2_session_callbacks_set_data_source_read_length_callback(cb,
                                                                 data_length);
  nghttp2_session_callbacks_set_error_callback2(cb, on_error);
  if (nghttp2_option_new(&opt) != 0) {
    nghttp2_session_callbacks_del(cb);
    return CRPC_ENOMEM;
  }
  /* Window updates follow what the application reads, not what arrives. */
  nghttp2_option_set_no_auto_window_update(opt, 1);
  nghttp2_option_set_max_send_header_block_length(opt, MAX_SEND_HEADER_BLOCK);
  /* Answers (SETTINGS and PING ACKs) queued and not yet written, before
   * nghttp2 calls the peer a flood and ends the session without a word:
   * twice the idle-frame burst, so that the budget, which says why with a
   * GOAWAY, is what stops a flood of them; and never below twice the
   * default burst, since PINGs that ride with data are not counted by the
   * budget and one read may bring a thousand of them. */
  nghttp2_option_set_max_outbound_ack(
      opt, 2 * (size_t)(l->idle_frame_burst > CRPC__H2_IDLE_FRAMES_BURST
                            ? l->idle_frame_burst
                            : CRPC__H2_IDLE_FRAMES_BURST));
  /* Frame types past CONTINUATION are extensions crpc does not use:
   * nghttp2 skips them without a word, so they are declared here only to
   * reach on_begin_frame() and the idle-frame budget. */
  for (int t = NGHTTP2_CONTINUATION + 1; t <= 0xff; t++)
    nghttp2_option_set_user_recv_extension_type(opt, (uint8_t)t);
  int rv;
  if (c->role->server) {
    rv = nghttp2_session_server_new3(&c->ng, cb, c, opt, mem);
  } else {
    nghttp2_option_set_peer_max_concurrent_streams(opt,
                                                   INITIAL_PEER_MAX_STREAMS);
    rv = nghttp2_session_client_new3(&c->ng, cb, c, opt, mem);
  }
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cb);
  if (rv != 0)
    return CRPC_ENOMEM;
  nghttp2_settings_entry iv[4] = {
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, l->stream_window},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, l->max_header_list},
      {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, CRPC__H2_MAX_DATA_FRAME},
      /* A server's stream limit; a client refuses pushes. */
      c->role->server
          ? (nghttp2_settings_entry){NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS,
                                     l->max_streams}
          : (nghttp2_settings_entry){NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
  };
  if (nghttp2_submit_settings(c->ng, NGHTTP2_FLAG_NONE, iv, 4) != 0 ||
      nghttp2_session_set_local_window_size(c->ng, NGHTTP2_FLAG_NONE, 0,
                                            (int32_t)l->conn_window) != 0)
    return CRPC_ENOMEM;
  return 0;
}

/* Adds |n| to a counter of the group, which only its loop thread
 * writes: no read-modify-write instruction is needed. */
static void count_bytes(atomic_uint_fast64_t *c, size_t n) {
  atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                        memory_order_relaxed);
}

/* Input. */

static void flush_one(crpc__h2conn *c);

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  crpc__h2conn *c = h->data;
  /* Each read is consumed before the next alloc: one buffer per group. */
  *buf = uv_buf_init((char *)c->group->rbuf, CRPC__H2IO_READ_BUF);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  crpc__h2conn *c = s->data;
  if (nread == 0 || c->closed)
    return;
  if (nread < 0) {
    char why[160];
    if (nread == UV_EOF)
      snprintf(why, sizeof(why), "%s closed the connection",
               c->role->peer_noun);
    else
      snprintf(why, sizeof(why), "read failed: %s", uv_strerror((int)nread));
    crpc__h2conn_close(c, why);
    return;
  }
  count_bytes(&c->group->bytes_read, (size_t)nread);
  crpc__loop_note_input(c->group->loop);
  c->read_ms = uv_now(c->h.handle.loop);
  if (c->fatal)
    return;
  c->refs++; /* the callbacks below may close it */
  int rc =
      crpc__h2io_feed(c->ng, c->tls, (const uint8_t *)buf->base, (size_t)nread);
  if (rc != 0 && !c->closed && !c->fatal) {
    /* (A callback that ended the connection has said why.) */
    c->fatal = 1;
    if (rc == CRPC_ECLOSED)
      set_error(c, "%s closed TLS", c->role->peer_noun);
    else if (rc == CRPC_EPROTO)
      set_error(c, "%s", crpc__tls_conn_error(c->tls));
    else
      set_error(c, "bad HTTP/2 from %s: %s", c->role->peer_noun,
                nghttp2_strerror(rc));
    /* nghttp2 answers most errors with a GOAWAY of its own; for the
     * floods it stops on its own terms it only returns, so the peer is
     * told here why the connection ends. */
    if (rc == NGHTTP2_ERR_FLOODED || rc == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS)
      nghttp2_submit_goaway(c->ng, NGHTTP2_FLAG_NONE,
                            nghttp2_session_get_last_proc_stream_id(c->ng),
                            NGHTTP2_ENHANCE_YOUR_CALM,
                            (const uint8_t *)c->error, strlen(c->error));
  }
  /* A read that filled the buffer leaves more waiting, which libuv reads
   * before the loop's flush. What the session has to say meanwhile (the
   * WINDOW_UPDATE nghttp2 queues once half a window is consumed) goes out
   * now: a peer that sent its whole window would otherwise wait idle while
   * the rest is read. Receiving 64 KiB messages from gRPC C++'s server,
   * crpc's client ran 50k a second that way, 56-59k this way. */
  if ((size_t)nread == CRPC__H2IO_READ_BUF && !c->closed && !c->fatal &&
      nghttp2_session_want_write(c->ng))
    flush_one(c);
  crpc__h2conn_mark_dirty(c);
  crpc__h2conn_unref(c);
}

int crpc__h2conn_start(crpc__h2conn *c, nghttp2_mem *mem) {
  CRPC__ASSERT_LOOP_THREAD(c->group->loop);
  int rc = session_new(c, mem);
  if (rc == 0)
    rc = uv_read_start(&c->h.stream, on_alloc, on_read);
  if (rc == 0)
    crpc__h2conn_mark_dirty(c);
  return rc;
}

/* Output. */

static void on_written(uv_write_t *req, int status) {
  crpc__h2conn *c = req->data;
  c->writing = 0;
  if (status == 0)
    count_bytes(&c->group->bytes_written, crpc__h2io_rest_len(&c->rest));
  /* Only a connection whose socket fell behind holds a rest, until then;
   * its payloads go back to their owners now. */
  crpc__h2io_rest_cleanup(&c->rest);
  if (status < 0 && !c->closed) {
    char why[160];
    snprintf(why, sizeof(why), "write failed: %s", uv_strerror(status));
    crpc__h2conn_close(c, why);
  } else {
    crpc__h2conn_mark_dirty(c);
  }
  crpc__h2conn_unref(c);
}

static void flush_one(crpc__h2conn *c) {
  if (c->closed || c->writing || !c->ng)
    return;
  crpc__h2io_out *out = &c->group->wbuf;
  for (;;) {
    int rc = crpc__h2io_collect(c->ng, c->tls, out);
    if (rc != 0) {
      if (!c->fatal)
        set_error(c, "%s",
                  rc == CRPC_EPROTO ? crpc__tls_conn_error(c->tls)
                                    : crpc_strerror(rc));
      c->fatal = 1;
      break;
    }
    size_t len = crpc__h2io_out_len(out);
    if (len == 0)
      break;
    int full = crpc__h2io_out_full(out);
    c->wreq.data = c;
    rc = crpc__h2io_write(&c->h, out, &c->rest, &c->wreq, on_written);
    if (rc >= 0) /* what the socket took at once; on_written() the rest */
      count_bytes(&c->group->bytes_written,
                  len - crpc__h2io_rest_len(&c->rest));
    if (rc == 1) {
      c->writing = 1;
      c->refs++;
      return;
    }
    if (rc < 0) {
      if (!c->fatal)
        set_error(c, "write failed: %s",
                  rc == CRPC_ENOMEM ? crpc_strerror(rc) : uv_strerror(rc));
      c->fatal = 1;
      break;
    }
    /* All written; a batch short of full means the session had no more. */
    if (!full)
      break;
  }
  /* What a failed collect or write left is dropped, as the connection. */
  crpc__h2io_out_reset(out);
  if (c->fatal) {
    crpc__h2conn_close(c, c->error[0] ? NULL : "connection failed");
    return;
  }
  int idle =
      !nghttp2_session_want_read(c->ng) && !nghttp2_session_want_write(c->ng);
  if (c->role->done(c, idle))
    crpc__h2conn_close(c, NULL);
}

void crpc__h2group_flush(crpc__h2group *g) {
  CRPC__ASSERT_LOOP_THREAD(g->loop);
  while (g->dirty) {
    crpc__h2conn *c = g->dirty;
    g->dirty = c->next_dirty;
    c->in_dirty = 0;
    flush_one(c);
    crpc__h2conn_unref(c);
  }
}

/* Closing. */

static void on_closed(uv_handle_t *h) {
  crpc__h2conn *c = h->data;
  /* Deleted here, not in close, which nghttp2's callbacks may reach. */
  if (c->ng) {
    nghttp2_session_del(c->ng);
    c->ng = NULL;
  }
  /* Streams still holding the connection may read who the peer was. */
  if (c->tls)
    c->peer_auth = crpc__tls_conn_take_peer_auth(c->tls);
  crpc__tls_conn_free(c->tls);
  c->tls = NULL;
  c->role->closed(c);
  crpc__h2conn_unref(c); /* the owner's */
}

/* A connection ended for an error, with input the session will not read:
 * closing a socket whose receive buffer holds data sends RST, which can
 * destroy the GOAWAY on its way to the peer before the peer reads it. So
 * the write side is shut first (the GOAWAY is followed by FIN) and what
 * has arrived is read and dropped, up to a bound. */
static void linger(crpc__h2conn *c) {
  uv_os_fd_t fd;
  if (uv_fileno(&c->h.handle, &fd) != 0)
    return;
  shutdown(fd, SHUT_WR);
  /* Not the group's read buffer: a close may come from inside a callback
   * of the session while it parses that buffer. */
  char drop[4096];
  for (size_t total = 0; total < 4 * CRPC__H2IO_READ_BUF;) {
    ssize_t n = recv(fd, drop, sizeof(drop), MSG_DONTWAIT);
    if (n <= 0)
      break;
    total += (size_t)n;
  }
}

void crpc__h2conn_close(crpc__h2conn *c, const char *why) {
  CRPC__ASSERT_LOOP_THREAD(c->group->loop);
  if (c->closed)
    return;
  if (why && why != c->error)
    set_error(c, "%s", why);
  if (!c->error[0])
    set_error(c, "connection closed");
  c->closed = 1;
  crpc__log(c->lg, CRPC_LOG_DEBUG, "%s: closed: %s", c->name, c->error);
  if (c->fatal)
    linger(c);
  c->role->closing(c);
  uv_close(&c->h.handle, on_closed);
}
