/*
 * server/conn.c: one accepted connection: the socket, TLS when the listen
 * address has it, and the nghttp2 server session. Everything here runs on
 * the connection's loop thread.
 *
 * Reads go straight into nghttp2 (through TLS first when there is TLS).
 * Writes are batched: whatever the session has to send is collected once
 * per loop iteration, in the loop's prepare phase, into one buffer and one
 * uv_write(); while that write is in flight nothing more is taken from the
 * session, so a peer that stops reading holds back only its own
 * connection, and response bodies stay in their calls, bounded by flow
 * control.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crpc/error.h"
#include "log_internal.h"
#include "server_internal.h"
#include "h2io.h"
#include "tls.h"

#define CRPC__STREAM_WINDOW (1 << 20)
#define CRPC__CONN_WINDOW (8 << 20)
#define CRPC__MAX_HEADER_LIST (16 * 1024)

static void conn_close(crpc__conn *c);

void crpc__conn_unref(crpc__conn *c) {
  if (--c->refs > 0)
    return;
  crpc__buf_cleanup(&c->wbuf);
  free(c);
}

void crpc__conn_mark_dirty(crpc__conn *c) {
  if (c->in_dirty || c->closing)
    return;
  c->in_dirty = 1;
  c->refs++;
  c->next_dirty = c->sl->dirty;
  c->sl->dirty = c;
}

/* nghttp2 callbacks. */

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *frame,
                            void *user_data) {
  crpc__conn *c = user_data;
  if (frame->hd.type != NGHTTP2_HEADERS ||
      frame->headers.cat != NGHTTP2_HCAT_REQUEST)
    return 0;
  crpc__call *call = crpc__call_new(c, frame->hd.stream_id);
  if (!call) /* nghttp2 resets the stream */
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  nghttp2_session_set_stream_user_data(ng, frame->hd.stream_id, call);
  return 0;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *frame,
                     const uint8_t *name, size_t namelen, const uint8_t *value,
                     size_t valuelen, uint8_t flags, void *user_data) {
  (void)flags;
  (void)user_data;
  crpc__call *call =
      nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
  if (!call)
    return 0;
  if (frame->hd.type == NGHTTP2_HEADERS &&
      frame->headers.cat != NGHTTP2_HCAT_REQUEST)
    return 0; /* request trailers: gRPC clients send none; ignore them */
  return crpc__call_on_header(call, name, namelen, value, valuelen);
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *frame,
                         void *user_data) {
  crpc__conn *c = user_data;
  if (frame->hd.type == NGHTTP2_SETTINGS)
    c->established = 1;
  if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
    return 0;
  crpc__call *call =
      nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
  if (!call)
    return 0;
  if (frame->hd.type == NGHTTP2_HEADERS &&
      frame->headers.cat == NGHTTP2_HCAT_REQUEST)
    crpc__call_on_headers_done(call);
  if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)
    crpc__call_on_remote_close(call);
  return 0;
}

static int on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t stream_id,
                         const uint8_t *data, size_t len, void *user_data) {
  (void)flags;
  (void)user_data;
  crpc__call *call = nghttp2_session_get_stream_user_data(ng, stream_id);
  if (!call) {
    /* A stream we no longer track: give the window back at once. */
    nghttp2_session_consume(ng, stream_id, len);
    return 0;
  }
  crpc__call_on_data(call, data, len);
  return 0;
}

static int on_stream_close(nghttp2_session *ng, int32_t stream_id,
                           uint32_t error_code, void *user_data) {
  (void)user_data;
  crpc__call *call = nghttp2_session_get_stream_user_data(ng, stream_id);
  if (call) {
    nghttp2_session_set_stream_user_data(ng, stream_id, NULL);
    crpc__call_on_stream_close(call, error_code);
  }
  return 0;
}

static int on_frame_send(nghttp2_session *ng, const nghttp2_frame *frame,
                         void *user_data) {
  (void)user_data;
  if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
    return 0;
  if (!(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
    return 0;
  crpc__call *call =
      nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
  if (call)
    crpc__call_on_frame_sent(call, 1);
  return 0;
}

static int on_error(nghttp2_session *ng, int lib_error_code, const char *msg,
                    size_t len, void *user_data) {
  (void)ng;
  (void)lib_error_code;
  crpc__conn *c = user_data;
  crpc__log(&c->sl->srv->opts.logger, CRPC_LOG_DEBUG, "%s: http2: %.*s",
            c->peer, (int)len, msg);
  return 0;
}

static int on_send_data(nghttp2_session *ng, nghttp2_frame *frame,
                        const uint8_t *framehd, size_t length,
                        nghttp2_data_source *source, void *user_data) {
  (void)ng;
  (void)user_data;
  return crpc__call_send_data(source->ptr, frame, framehd, length);
}

static nghttp2_session_callbacks *make_callbacks(void) {
  nghttp2_session_callbacks *cb;
  if (nghttp2_session_callbacks_new(&cb) != 0)
    return NULL;
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
  nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
  nghttp2_session_callbacks_set_send_data_callback(cb, on_send_data);
  nghttp2_session_callbacks_set_error_callback2(cb, on_error);
  return cb;
}

static int session_new(crpc__conn *c) {
  nghttp2_session_callbacks *cb = make_callbacks();
  nghttp2_option *opt = NULL;
  if (!cb || nghttp2_option_new(&opt) != 0) {
    if (cb)
      nghttp2_session_callbacks_del(cb);
    return CRPC_ENOMEM;
  }
  /* Window updates follow what handlers read, not what arrives. */
  nghttp2_option_set_no_auto_window_update(opt, 1);
  nghttp2_option_set_max_send_header_block_length(opt, 64 * 1024);
  nghttp2_mem mem = crpc__h2mem_allocator(&c->sl->h2mem);
  int rv = nghttp2_session_server_new3(&c->ng, cb, c, opt, &mem);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cb);
  if (rv != 0)
    return CRPC_ENOMEM;
  const crpc_server_opts *o = &c->sl->srv->opts;
  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, o->max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, CRPC__STREAM_WINDOW},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, CRPC__MAX_HEADER_LIST},
  };
  if (nghttp2_submit_settings(c->ng, NGHTTP2_FLAG_NONE, iv,
                              sizeof(iv) / sizeof(iv[0])) != 0 ||
      nghttp2_session_set_local_window_size(c->ng, NGHTTP2_FLAG_NONE, 0,
                                            CRPC__CONN_WINDOW) != 0)
    return CRPC_ENOMEM;
  return 0;
}

/* Input. */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  crpc__conn *c = h->data;
  /* Each read is consumed before the next alloc: one buffer per loop. */
  *buf = uv_buf_init((char *)c->sl->rbuf, CRPC__H2IO_READ_BUF);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  crpc__conn *c = s->data;
  if (nread == 0 || c->closing)
    return;
  if (nread < 0) {
    if (nread != UV_EOF)
      crpc__log(&c->sl->srv->opts.logger, CRPC_LOG_DEBUG, "%s: read: %s",
                c->peer, uv_strerror((int)nread));
    conn_close(c);
    return;
  }
  if (c->fatal)
    return;
  int rc =
      crpc__h2io_feed(c->ng, c->tls, (const uint8_t *)buf->base, (size_t)nread);
  if (rc != 0) {
    if (rc != CRPC_ECLOSED)
      crpc__log(&c->sl->srv->opts.logger, CRPC_LOG_DEBUG, "%s: closing: %s",
                c->peer,
                rc == CRPC_EPROTO ? crpc__tls_conn_error(c->tls)
                                  : nghttp2_strerror(rc));
    c->fatal = 1;
  }
  crpc__conn_mark_dirty(c);
}

/* Output. */

static void conn_flush(crpc__conn *c);

static void on_written(uv_write_t *req, int status) {
  crpc__conn *c = req->data;
  c->writing = 0;
  crpc__buf_reset(&c->wbuf);
  if (status < 0 && !c->closing) {
    crpc__log(&c->sl->srv->opts.logger, CRPC_LOG_DEBUG, "%s: write: %s",
              c->peer, uv_strerror(status));
    conn_close(c);
  } else if (!c->closing) {
    crpc__conn_mark_dirty(c);
  }
  crpc__conn_unref(c);
}

static void conn_flush(crpc__conn *c) {
  if (c->closing || c->writing)
    return;
  for (;;) {
    if (crpc__h2io_collect(c->ng, c->tls, &c->wbuf) != 0) {
      c->fatal = 1;
      break;
    }
    size_t len = crpc__buf_len(&c->wbuf);
    if (len == 0)
      break;
    c->wreq.data = c;
    int rc = crpc__h2io_write(&c->h, &c->wbuf, &c->wreq, on_written);
    if (rc == 1) {
      c->writing = 1;
      c->refs++;
      return;
    }
    if (rc < 0) {
      crpc__log(&c->sl->srv->opts.logger, CRPC_LOG_DEBUG, "%s: write: %s",
                c->peer, uv_strerror(rc));
      c->fatal = 1;
      break;
    }
    /* All written; a batch short of full means the session had no more. */
    if (len < CRPC__H2IO_WRITE_BATCH)
      break;
  }
  int done = !nghttp2_session_want_read(c->ng) &&
             !nghttp2_session_want_write(c->ng) &&
             (!c->goaway_sent || c->final_goaway);
  if (c->fatal || done)
    conn_close(c);
}

void crpc__sloop_sweep(crpc__sloop *sl) {
  uint64_t now = uv_now(crpc_loop_uv(sl->loop));
  crpc__call_pool_trim(sl, 0);
  crpc__h2mem_trim(&sl->h2mem);
  uint32_t limit = sl->srv->opts.handshake_timeout_ms;
  int64_t stall_ns = (int64_t)sl->srv->opts.stall_timeout_ms * 1000000;
  for (crpc__conn *c = sl->conns, *n; c; c = n) {
    n = c->next;
    if (!c->established && now - c->accepted_ms >= limit) {
      crpc__log(&sl->srv->opts.logger, CRPC_LOG_DEBUG,
                "%s: no HTTP/2 preface within %u ms: closing", c->peer,
                (unsigned)limit);
      conn_close(c);
      continue;
    }
    /* Cancelling ends no stream at once (its close comes later), so the
     * list stays as it is while it is walked. */
    for (crpc__call *call = c->calls; call; call = call->next_in_conn)
      crpc__call_cancel_if_stalled(call, (int64_t)now * 1000000, stall_ns);
  }
}

void crpc__sloop_flush(crpc__sloop *sl) {
  while (sl->dirty) {
    crpc__conn *c = sl->dirty;
    sl->dirty = c->next_dirty;
    c->in_dirty = 0;
    conn_flush(c);
    crpc__conn_unref(c);
  }
}

/* Lifecycle. */

static void on_closed(uv_handle_t *h) {
  crpc__conn *c = h->data;
  if (c->ng) {
    nghttp2_session_del(c->ng);
    c->ng = NULL;
  }
  crpc__tls_conn_free(c->tls);
  c->tls = NULL;
  crpc__sloop *sl = c->sl;
  crpc__conn_unref(c);
  crpc__sloop_check_drained(sl);
}

static void conn_close(crpc__conn *c) {
  if (c->closing)
    return;
  /* Calls still streaming learn that their peer is gone. */
  while (c->calls)
    crpc__call_on_stream_close(c->calls, NGHTTP2_CANCEL);
  c->closing = 1;
  crpc__sloop *sl = c->sl;
  if (c->prev)
    c->prev->next = c->next;
  else
    sl->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  sl->n_conns--;
  uv_close(&c->h.handle, on_closed);
}

void crpc__conn_accept(crpc__sloop *sl, uv_os_sock_t fd, int is_unix,
                       crpc__tls_ctx *tls) {
  const crpc_logger *lg = &sl->srv->opts.logger;
  crpc__conn *c = sl->drained ? NULL : calloc(1, sizeof(*c));
  if (!c) {
    /* Out of memory, or accepted just as this loop finished draining. */
    close(fd);
    return;
  }
  c->sl = sl;
  c->refs = 1;
  c->accepted_ms = uv_now(crpc_loop_uv(sl->loop));
  crpc__buf_init(&c->wbuf, SIZE_MAX);
  uv_loop_t *uv = crpc_loop_uv(sl->loop);
  int rc;
  if (is_unix) {
    uv_pipe_init(uv, &c->h.pipe, 0);
    rc = uv_pipe_open(&c->h.pipe, fd);
    snprintf(c->peer, sizeof(c->peer), "unix:");
  } else {
    uv_tcp_init(uv, &c->h.tcp);
    rc = uv_tcp_open(&c->h.tcp, fd);
    if (rc == 0) {
      uv_tcp_nodelay(&c->h.tcp, 1);
      struct sockaddr_storage ss;
      int len = sizeof(ss);
      char ip[64] = "?";
      int port = 0;
      if (uv_tcp_getpeername(&c->h.tcp, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET6) {
          uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof(ip));
          port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
          snprintf(c->peer, sizeof(c->peer), "ipv6:[%s]:%d", ip, port);
        } else {
          uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof(ip));
          port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
          snprintf(c->peer, sizeof(c->peer), "ipv4:%s:%d", ip, port);
        }
      }
    }
  }
  c->h.handle.data = c;
  /* From here the handle owns the fd, and closing it frees |c|. */
  c->next = sl->conns;
  if (sl->conns)
    sl->conns->prev = c;
  sl->conns = c;
  sl->n_conns++;
  if (rc != 0) {
    crpc__log(lg, CRPC_LOG_WARN, "cannot adopt a connection: %s",
              uv_strerror(rc));
    conn_close(c);
    return;
  }
  if (tls)
    rc = crpc__tls_conn_new_server(tls, &c->tls);
  if (rc == 0)
    rc = session_new(c);
  if (rc == 0)
    rc = uv_read_start(&c->h.stream, on_alloc, on_read);
  if (rc != 0) {
    crpc__log(lg, CRPC_LOG_WARN, "%s: cannot start the connection: %s", c->peer,
              crpc_strerror(rc));
    conn_close(c);
    return;
  }
  crpc__log(lg, CRPC_LOG_DEBUG, "%s: connected on loop %u", c->peer, sl->index);
  if (sl->shutting_down)
    crpc__conn_shutdown_notice(c);
  crpc__conn_mark_dirty(c);
}

void crpc__conn_shutdown_notice(crpc__conn *c) {
  if (c->closing || c->goaway_sent || !c->ng)
    return;
  c->goaway_sent = 1;
  nghttp2_submit_shutdown_notice(c->ng);
  crpc__conn_mark_dirty(c);
}

void crpc__conn_final_goaway(crpc__conn *c) {
  if (c->closing || c->final_goaway || !c->ng)
    return;
  c->goaway_sent = 1;
  c->final_goaway = 1;
  nghttp2_submit_goaway(c->ng, NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(c->ng),
                        NGHTTP2_NO_ERROR, NULL, 0);
  crpc__conn_mark_dirty(c);
}
