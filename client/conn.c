/*
 * client/conn.c: one HTTP/2 connection of a subchannel: the socket, TLS
 * when the channel has it, and the nghttp2 client session. Everything here
 * runs on the channel's loop thread.
 *
 * A connection is ready once the server's SETTINGS arrive, so that its
 * MAX_CONCURRENT_STREAMS is known before calls go out; nghttp2 holds back
 * streams beyond it until others close. Writes are batched as the
 * server's are: whatever the session has to send is gathered once per loop
 * iteration into one uv_write.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"
#include "crpc/error.h"
#include "deadline_internal.h"
#include "log_internal.h"
#include "metadata_wire.h"

#define STREAM_WINDOW (1 << 20)
#define CONN_WINDOW (8 << 20)
#define MAX_HEADER_LIST (16 * 1024)
/* Streams assumed allowed until the server's SETTINGS say otherwise. */
#define INITIAL_MAX_STREAMS 100

static const crpc_logger *lg(crpc__cconn *c) {
  return &c->ch->opts.logger;
}

static void conn_unref(crpc__cconn *c) {
  if (--c->refs > 0)
    return;
  crpc__buf_cleanup(&c->wbuf);
  free(c);
}

void crpc__cconn_mark_dirty(crpc__cconn *c) {
  if (c->in_dirty || c->state == CRPC__CONN_CLOSED)
    return;
  c->in_dirty = 1;
  c->refs++;
  c->next_dirty = c->ch->dirty;
  c->ch->dirty = c;
}

/* nghttp2 callbacks. */

static int on_header(nghttp2_session *ng, const nghttp2_frame *frame,
                     const uint8_t *name, size_t namelen, const uint8_t *value,
                     size_t valuelen, uint8_t flags, void *user_data) {
  (void)flags;
  (void)user_data;
  if (frame->hd.type != NGHTTP2_HEADERS)
    return 0;
  crpc__ccall *call =
      nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
  if (!call)
    return 0;
  int trailers = frame->headers.cat == NGHTTP2_HCAT_HEADERS;
  return crpc__ccall_on_header(call, trailers, name, namelen, value, valuelen);
}

static void on_timer(uv_timer_t *t);

static void on_ready(crpc__cconn *c) {
  c->state = CRPC__CONN_READY;
  uv_timer_stop(&c->timer);
  uint32_t ka = c->ch->opts.keepalive_ms;
  if (ka)
    uv_timer_start(&c->timer, on_timer, ka, ka);
  if (c->extra)
    crpc__channel_room(c->ch);
  else if (c->sub)
    crpc__sub_on_ready(c->sub);
}

/* |c| leaves its subchannel (GOAWAY, closed): the subchannel learns, for
 * its own connection, or forgets it, for one of |more|. */
static void leave_sub(crpc__cconn *c, int was_connecting) {
  crpc__sub *sub = c->sub;
  c->sub = NULL;
  if (!sub)
    return;
  if (c->extra) {
    for (size_t i = 0; i < sub->n_more; i++) {
      if (sub->more[i] == c) {
        sub->more[i] = sub->more[--sub->n_more];
        break;
      }
    }
    /* One that could not be opened is not tried again for a while. */
    if (was_connecting)
      sub->more_after_ms =
          uv_now(crpc_loop_uv(c->ch->loop)) + c->ch->opts.backoff_initial_ms;
    crpc__channel_room(c->ch); /* calls may have waited for it */
    return;
  }
  if (sub->conn == c) {
    sub->conn = NULL;
    if (was_connecting)
      crpc__sub_on_failed(sub, c->error);
    else
      crpc__sub_on_lost(sub);
  }
}

static void on_goaway(crpc__cconn *c, const nghttp2_goaway *ga) {
  crpc__log(lg(c), CRPC_LOG_DEBUG, "%s: GOAWAY (last stream %d, error %u)",
            c->sub ? c->sub->addr.name : "?", ga->last_stream_id,
            ga->error_code);
  if (c->state == CRPC__CONN_CLOSED)
    return;
  int was_connecting = c->state == CRPC__CONN_CONNECTING;
  c->state = CRPC__CONN_DRAINING;
  snprintf(c->error, sizeof(c->error), "the server sent GOAWAY");
  leave_sub(c, was_connecting);
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *frame,
                         void *user_data) {
  crpc__cconn *c = user_data;
  switch (frame->hd.type) {
  case NGHTTP2_SETTINGS:
    if (!(frame->hd.flags & NGHTTP2_FLAG_ACK) &&
        c->state == CRPC__CONN_CONNECTING)
      on_ready(c);
    return 0;
  case NGHTTP2_PING:
    if (frame->hd.flags & NGHTTP2_FLAG_ACK)
      c->ping_outstanding = 0;
    return 0;
  case NGHTTP2_GOAWAY:
    on_goaway(c, &frame->goaway);
    return 0;
  case NGHTTP2_HEADERS: {
    crpc__ccall *call =
        nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
    if (call)
      crpc__ccall_on_headers_done(call,
                                  frame->hd.flags & NGHTTP2_FLAG_END_STREAM);
    return 0;
  }
  default:
    return 0;
  }
}

static int on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t stream_id,
                         const uint8_t *data, size_t len, void *user_data) {
  (void)flags;
  (void)user_data;
  crpc__ccall *call = nghttp2_session_get_stream_user_data(ng, stream_id);
  if (!call) {
    nghttp2_session_consume(ng, stream_id, len);
    return 0;
  }
  crpc__ccall_on_data(call, data, len);
  return 0;
}

static int on_stream_close(nghttp2_session *ng, int32_t stream_id,
                           uint32_t error_code, void *user_data) {
  (void)user_data;
  crpc__ccall *call = nghttp2_session_get_stream_user_data(ng, stream_id);
  if (call) {
    nghttp2_session_set_stream_user_data(ng, stream_id, NULL);
    crpc__ccall_on_stream_close(call, error_code);
  }
  return 0;
}

/* A GOAWAY with an error that nghttp2 sends names what the server did
 * wrong, in its debug data. */
static int on_frame_send(nghttp2_session *ng, const nghttp2_frame *frame,
                         void *user_data) {
  (void)ng;
  crpc__cconn *c = user_data;
  if (frame->hd.type != NGHTTP2_GOAWAY ||
      frame->goaway.error_code == NGHTTP2_NO_ERROR)
    return 0;
  snprintf(c->error, sizeof(c->error), "bad HTTP/2 from the server: %s%s%.*s",
           nghttp2_http2_strerror(frame->goaway.error_code),
           frame->goaway.opaque_data_len ? ": " : "",
           (int)frame->goaway.opaque_data_len,
           (const char *)frame->goaway.opaque_data);
  return 0;
}

static int on_error(nghttp2_session *ng, int lib_error_code, const char *msg,
                    size_t len, void *user_data) {
  (void)ng;
  (void)lib_error_code;
  crpc__cconn *c = user_data;
  crpc__log(lg(c), CRPC_LOG_DEBUG, "%s: http2: %.*s",
            c->sub ? c->sub->addr.name : "?", (int)len, msg);
  snprintf(c->error, sizeof(c->error), "HTTP/2 error: %.*s", (int)len, msg);
  return 0;
}

static ssize_t read_body(nghttp2_session *ng, int32_t stream_id, uint8_t *buf,
                         size_t length, uint32_t *data_flags,
                         nghttp2_data_source *source, void *user_data) {
  /* A call that has ended left its stream: its pointer may be stale. */
  if (nghttp2_session_get_stream_user_data(ng, stream_id) != source->ptr)
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  crpc__cconn *c = user_data;
  return crpc__ccall_read_body(source->ptr, buf, length, data_flags,
                               CRPC__H2IO_NO_COPY(c->tls));
}

static int on_send_data(nghttp2_session *ng, nghttp2_frame *frame,
                        const uint8_t *framehd, size_t length,
                        nghttp2_data_source *source, void *user_data) {
  crpc__cconn *c = user_data;
  if (nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id) !=
      source->ptr)
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  return crpc__ccall_send_data(source->ptr, &c->wbuf, frame, framehd, length);
}

static int session_new(crpc__cconn *c) {
  nghttp2_session_callbacks *cb;
  nghttp2_option *opt = NULL;
  if (nghttp2_session_callbacks_new(&cb) != 0)
    return CRPC_ENOMEM;
  nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
  nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
  nghttp2_session_callbacks_set_send_data_callback(cb, on_send_data);
  nghttp2_session_callbacks_set_error_callback2(cb, on_error);
  if (nghttp2_option_new(&opt) != 0) {
    nghttp2_session_callbacks_del(cb);
    return CRPC_ENOMEM;
  }
  /* Window updates follow what the caller reads, not what arrives. */
  nghttp2_option_set_no_auto_window_update(opt, 1);
  nghttp2_option_set_peer_max_concurrent_streams(opt, INITIAL_MAX_STREAMS);
  nghttp2_option_set_max_send_header_block_length(opt, 64 * 1024);
  int rv = nghttp2_session_client_new2(&c->ng, cb, c, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cb);
  if (rv != 0)
    return CRPC_ENOMEM;
  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, MAX_HEADER_LIST},
  };
  if (nghttp2_submit_settings(c->ng, NGHTTP2_FLAG_NONE, iv,
                              sizeof(iv) / sizeof(iv[0])) != 0 ||
      nghttp2_session_set_local_window_size(c->ng, NGHTTP2_FLAG_NONE, 0,
                                            CONN_WINDOW) != 0)
    return CRPC_ENOMEM;
  return 0;
}

/* Closing. */

static void on_handle_closed(uv_handle_t *h) {
  crpc__cconn *c = h->data;
  crpc_channel *ch = c->ch;
  /* Deleted here, not in close, which nghttp2's callbacks may reach. */
  if (c->ng) {
    nghttp2_session_del(c->ng);
    c->ng = NULL;
  }
  crpc__tls_conn_free(c->tls);
  c->tls = NULL;
  conn_unref(c);
  crpc__channel_handle_closed(ch);
}

void crpc__cconn_close(crpc__cconn *c, const char *why) {
  if (c->state == CRPC__CONN_CLOSED)
    return;
  int was_connecting = c->state == CRPC__CONN_CONNECTING;
  if (why && why != c->error)
    snprintf(c->error, sizeof(c->error), "%s", why);
  if (!c->error[0])
    snprintf(c->error, sizeof(c->error), "connection closed");
  c->state = CRPC__CONN_CLOSED;
  crpc__log(lg(c), CRPC_LOG_DEBUG, "%s: closed: %s",
            c->sub ? c->sub->addr.name : "connection", c->error);
  /* Its calls learn first, while the subchannel is still theirs. */
  while (c->calls) {
    crpc__ccall *call = c->calls;
    if (c->ng)
      nghttp2_session_set_stream_user_data(c->ng, call->stream_id, NULL);
    crpc__ccall_on_conn_lost(call, c->error);
  }
  leave_sub(c, was_connecting);
  c->refs += 2;
  uv_close(&c->h.handle, on_handle_closed);
  uv_close((uv_handle_t *)&c->timer, on_handle_closed);
  conn_unref(c); /* the subchannel's reference */
}

/* Output. */

static void flush_one(crpc__cconn *c);

static void on_written(uv_write_t *req, int status) {
  crpc__cconn *c = req->data;
  c->writing = 0;
  crpc__buf_reset(&c->wbuf);
  if (status < 0 && c->state != CRPC__CONN_CLOSED) {
    char why[160];
    snprintf(why, sizeof(why), "write failed: %s", uv_strerror(status));
    crpc__cconn_close(c, why);
  } else {
    crpc__cconn_mark_dirty(c);
  }
  conn_unref(c);
}

static void flush_one(crpc__cconn *c) {
  if (c->state == CRPC__CONN_CLOSED || c->writing || !c->ng)
    return;
  for (;;) {
    int rc = crpc__h2io_collect(c->ng, c->tls, &c->wbuf);
    if (rc != 0) {
      if (!c->fatal)
        snprintf(c->error, sizeof(c->error), "%s",
                 rc == CRPC_EPROTO ? crpc__tls_conn_error(c->tls)
                                   : crpc_strerror(rc));
      c->fatal = 1;
      break;
    }
    size_t len = crpc__buf_len(&c->wbuf);
    if (len == 0)
      break;
    c->wreq.data = c;
    rc = crpc__h2io_write(&c->h, &c->wbuf, &c->wreq, on_written);
    if (rc == 1) {
      c->writing = 1;
      c->refs++;
      return;
    }
    if (rc < 0) {
      if (!c->fatal)
        snprintf(c->error, sizeof(c->error), "write failed: %s",
                 uv_strerror(rc));
      c->fatal = 1;
      break;
    }
    /* All written; a batch short of full means the session had no more. */
    if (len < CRPC__H2IO_WRITE_BATCH)
      break;
  }
  if (c->fatal) {
    crpc__cconn_close(c, c->error[0] ? c->error : "connection failed");
    return;
  }
  int idle_draining = c->state == CRPC__CONN_DRAINING && c->n_calls == 0;
  if (idle_draining ||
      (!nghttp2_session_want_read(c->ng) && !nghttp2_session_want_write(c->ng)))
    crpc__cconn_close(c, c->error[0] ? c->error : "connection closed");
}

void crpc__channel_flush(crpc_channel *ch) {
  while (ch->dirty) {
    crpc__cconn *c = ch->dirty;
    ch->dirty = c->next_dirty;
    c->in_dirty = 0;
    flush_one(c);
    conn_unref(c);
  }
}

/* Input. */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  crpc__cconn *c = h->data;
  *buf = uv_buf_init((char *)c->ch->rbuf, sizeof(c->ch->rbuf));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  crpc__cconn *c = s->data;
  if (nread == 0 || c->state == CRPC__CONN_CLOSED)
    return;
  if (nread < 0) {
    char why[160];
    if (nread == UV_EOF)
      snprintf(why, sizeof(why), "the server closed the connection");
    else
      snprintf(why, sizeof(why), "read failed: %s", uv_strerror((int)nread));
    crpc__cconn_close(c, why);
    return;
  }
  if (c->fatal)
    return;
  c->refs++; /* callbacks below may close it */
  int rc =
      crpc__h2io_feed(c->ng, c->tls, (const uint8_t *)buf->base, (size_t)nread);
  if (rc != 0 && c->state != CRPC__CONN_CLOSED) {
    c->fatal = 1;
    if (rc == CRPC_ECLOSED)
      snprintf(c->error, sizeof(c->error), "the server closed TLS");
    else if (rc == CRPC_EPROTO)
      snprintf(c->error, sizeof(c->error), "%s", crpc__tls_conn_error(c->tls));
    else
      snprintf(c->error, sizeof(c->error), "bad HTTP/2 from the server: %s",
               nghttp2_strerror(rc));
  }
  crpc__cconn_mark_dirty(c);
  conn_unref(c);
}

/* Timers: the connect timeout while connecting, keepalive once ready. */

static void on_timer(uv_timer_t *t) {
  crpc__cconn *c = t->data;
  if (c->state == CRPC__CONN_CONNECTING) {
    crpc__cconn_close(c, "connection attempt timed out");
    return;
  }
  uint64_t now = uv_now(crpc_loop_uv(c->ch->loop));
  uint32_t limit = c->ch->opts.keepalive_timeout_ms;
  if (c->ping_outstanding) {
    if (now - c->ping_sent_ms >= limit)
      crpc__cconn_close(c, "keepalive PING not answered");
    return;
  }
  if (nghttp2_submit_ping(c->ng, NGHTTP2_FLAG_NONE, NULL) == 0) {
    c->ping_outstanding = 1;
    c->ping_sent_ms = now;
    crpc__cconn_mark_dirty(c);
  }
}

static void on_connect(uv_connect_t *req, int status) {
  crpc__cconn *c = req->data;
  if (c->state == CRPC__CONN_CLOSED) {
    conn_unref(c);
    return;
  }
  char why[200];
  int rc = status;
  if (rc < 0) {
    snprintf(why, sizeof(why), "cannot connect to %s: %s", c->sub->addr.name,
             uv_strerror(rc));
    goto fail;
  }
  if (!c->sub->addr.is_unix)
    uv_tcp_nodelay(&c->h.tcp, 1);
  if (c->ch->tls) {
    rc = crpc__tls_conn_new_client(c->ch->tls, c->ch->target.tls_name,
                                   c->ch->tls_server_name, &c->tls);
    if (rc == 0)
      rc = crpc__tls_conn_handshake(c->tls);
  }
  if (rc == 0)
    rc = session_new(c);
  if (rc == 0)
    rc = uv_read_start(&c->h.stream, on_alloc, on_read);
  if (rc != 0) {
    snprintf(why, sizeof(why), "cannot start a connection to %s: %s",
             c->sub->addr.name, crpc_strerror(rc));
    goto fail;
  }
  crpc__log(lg(c), CRPC_LOG_DEBUG, "%s: connected", c->sub->addr.name);
  crpc__cconn_mark_dirty(c);
  conn_unref(c);
  return;
fail:
  crpc__cconn_close(c, why);
  conn_unref(c);
}

/* Opens a connection to |sub|'s address: its own (|extra| 0) or one of
 * |more|. */
static int conn_open(crpc__sub *sub, int extra) {
  crpc_channel *ch = sub->ch;
  crpc__cconn *c = calloc(1, sizeof(*c));
  if (!c)
    return CRPC_ENOMEM;
  if (extra && !sub->more) {
    sub->more =
        calloc(ch->opts.max_connections_per_address, sizeof(*sub->more));
    if (!sub->more) {
      free(c);
      return CRPC_ENOMEM;
    }
  }
  uv_loop_t *uv = crpc_loop_uv(ch->loop);
  c->ch = ch;
  c->sub = sub;
  c->extra = extra;
  c->refs = 1; /* the subchannel's, dropped by close */
  crpc__buf_init(&c->wbuf, SIZE_MAX);
  int rc = sub->addr.is_unix ? uv_pipe_init(uv, &c->h.pipe, 0)
                             : uv_tcp_init(uv, &c->h.tcp);
  if (rc != 0) {
    free(c);
    return rc;
  }
  uv_timer_init(uv, &c->timer);
  c->h.handle.data = c;
  c->timer.data = c;
  ch->open_handles += 2;
  uint32_t limit = ch->opts.connect_timeout_ms;
  if (extra) {
    sub->more[sub->n_more++] = c;
  } else {
    sub->conn = c;
    sub->state = CRPC__SUB_CONNECTING;
    if (sub->backoff_ms > limit)
      limit = sub->backoff_ms;
  }
  uv_timer_start(&c->timer, on_timer, limit, 0);
  c->creq.data = c;
  c->refs++; /* the connect request's */
  if (sub->addr.is_unix) {
    uv_pipe_connect(&c->creq, &c->h.pipe, sub->addr.path, on_connect);
    return 0;
  }
  rc = uv_tcp_connect(&c->creq, &c->h.tcp, (struct sockaddr *)&sub->addr.ss,
                      on_connect);
  if (rc != 0) {
    char why[200];
    snprintf(why, sizeof(why), "cannot connect to %s: %s", sub->addr.name,
             uv_strerror(rc));
    c->refs--; /* no callback will come */
    crpc__cconn_close(c, why);
  }
  return 0;
}

int crpc__cconn_start(crpc__sub *sub) {
  return conn_open(sub, 0);
}

int crpc__cconn_start_more(crpc__sub *sub) {
  crpc__log(&sub->ch->opts.logger, CRPC_LOG_DEBUG,
            "%s: every connection is at its stream limit: opening another "
            "(%zu)",
            sub->addr.name, sub->n_more + 2);
  return conn_open(sub, 1);
}

/* Requests. */

typedef struct nvlist {
  nghttp2_nv nv[64];
  nghttp2_nv *v;
  size_t n, cap;
} nvlist;

static int nv_add(nvlist *l, const char *name, size_t nlen, const void *value,
                  size_t vlen) {
  if (l->n == l->cap) {
    size_t cap = l->cap * 2;
    nghttp2_nv *v = malloc(cap * sizeof(*v));
    if (!v)
      return CRPC_ENOMEM;
    memcpy(v, l->v, l->n * sizeof(*v));
    if (l->v != l->nv)
      free(l->v);
    l->v = v;
    l->cap = cap;
  }
  l->v[l->n++] = (nghttp2_nv){(uint8_t *)name, (uint8_t *)value, nlen, vlen,
                              NGHTTP2_NV_FLAG_NONE};
  return 0;
}

static int nv_str(nvlist *l, const char *name, const char *value) {
  return nv_add(l, name, strlen(name), value, strlen(value));
}

int crpc__cconn_submit(crpc__cconn *c, crpc__ccall *call) {
  crpc_channel *ch = c->ch;
  nvlist l = {.v = NULL, .n = 0, .cap = 64};
  l.v = l.nv;
  char timeout[CRPC__TIMEOUT_MAX];
  int rc = 0;
  rc |= nv_str(&l, ":method", "POST");
  rc |= nv_str(&l, ":scheme", ch->tls ? "https" : "http");
  rc |= nv_str(&l, ":path", call->method->path);
  rc |= nv_str(&l, ":authority", ch->target.authority);
  rc |= nv_str(&l, "te", "trailers");
  rc |= nv_str(&l, "content-type", "application/grpc");
  rc |= nv_str(&l, "user-agent", ch->user_agent);
  rc |= nv_str(&l, "grpc-accept-encoding", "identity,gzip");
  if (call->enc != CRPC__ENCODING_IDENTITY)
    rc |= nv_str(&l, "grpc-encoding", crpc__compress_name(call->enc));
  if (call->deadline != CRPC_DEADLINE_INFINITE) {
    int64_t left = crpc_deadline_remaining_ns(call->deadline);
    crpc__timeout_encode(left > 0 ? left : 0, timeout);
    rc |= nv_str(&l, "grpc-timeout", timeout);
  }
  /* Metadata values as sent (base64 for -bin keys), in one block. */
  size_t total = 0;
  for (size_t i = 0; i < call->md.count; i++)
    total += crpc__metadata_wire_value_len(&call->md.entries[i]);
  uint8_t *vals = malloc(total ? total : 1);
  if (!vals)
    rc = CRPC_ENOMEM;
  for (size_t i = 0, off = 0; vals && i < call->md.count; i++) {
    const crpc_metadata_entry *e = &call->md.entries[i];
    size_t len = crpc__metadata_wire_value_write(e, vals + off);
    rc |= nv_add(&l, e->key, strlen(e->key), vals + off, len);
    off += len;
  }
  int32_t id = -1;
  if (rc == 0) {
    nghttp2_data_provider prd = {.source.ptr = call,
                                 .read_callback = read_body};
    id = nghttp2_submit_request(c->ng, NULL, l.v, l.n, &prd, call);
  }
  free(vals);
  if (l.v != l.nv)
    free(l.v);
  if (rc != 0)
    return CRPC_ENOMEM;
  if (id < 0)
    return id;
  call->conn = c;
  call->stream_id = id;
  call->conn_prev = NULL;
  call->conn_next = c->calls;
  if (c->calls)
    c->calls->conn_prev = call;
  c->calls = call;
  c->n_calls++;
  c->refs++; /* the call's */
  crpc__cconn_mark_dirty(c);
  return 0;
}

void crpc__cconn_detach(crpc__cconn *c, crpc__ccall *call) {
  if (call->conn_prev)
    call->conn_prev->conn_next = call->conn_next;
  else
    c->calls = call->conn_next;
  if (call->conn_next)
    call->conn_next->conn_prev = call->conn_prev;
  call->conn_prev = call->conn_next = NULL;
  call->conn = NULL;
  c->n_calls--;
  if (c->state == CRPC__CONN_DRAINING && c->n_calls == 0)
    crpc__cconn_mark_dirty(c); /* the flush closes it */
  else if (c->state == CRPC__CONN_READY)
    crpc__channel_room(c->ch); /* a stream is free for a waiting call */
  conn_unref(c);
}
