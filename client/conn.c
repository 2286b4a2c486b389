/*
 * client/conn.c: the client's role on one connection of a subchannel (the
 * connection itself is runtime/h2conn.c): connecting, TLS's client side,
 * the connect timeout and keepalive PINGs, the subchannel learning when
 * the connection is ready, drains (GOAWAY) or is lost, and streams for
 * calls. Everything here runs on the channel's loop thread.
 *
 * A connection is ready once the server's SETTINGS arrive, so that its
 * MAX_CONCURRENT_STREAMS is known before calls go out; nghttp2 holds back
 * streams beyond it until others close.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"
#include "crpc/error.h"
#include "grpc_headers.h"
#include "log_internal.h"

static crpc__client_conn *conn_of(crpc__h2conn *h) {
  return (crpc__client_conn *)((char *)h - offsetof(crpc__client_conn, h2));
}

static const crpc_logger *lg(crpc__client_conn *c) {
  return &c->ch->opts.logger;
}

void crpc__client_conn_mark_dirty(crpc__client_conn *c) {
  crpc__h2conn_mark_dirty(&c->h2);
}

static void on_timer(uv_timer_t *t);

static void on_ready(crpc__client_conn *c) {
  c->state = CRPC__CLIENT_CONN_READY;
  uv_timer_stop(&c->timer);
  uint32_t ka = c->ch->opts.keepalive_ms;
  if (ka)
    uv_timer_start(&c->timer, on_timer, ka, ka);
  if (c->extra)
    crpc__channel_room(c->ch);
  else if (c->sub)
    crpc__sub_on_ready(c->sub);
}

/* Takes |c| off |sub->more|. */
static void unlink_more(crpc__sub *sub, crpc__client_conn *c) {
  for (size_t i = 0; i < sub->n_more; i++) {
    if (sub->more[i] == c) {
      sub->more[i] = sub->more[--sub->n_more];
      return;
    }
  }
}

/* |c| leaves its subchannel (GOAWAY, closed): the subchannel learns, for
 * its own connection, or forgets it, for one of |more|. */
static void leave_sub(crpc__client_conn *c, int was_connecting) {
  crpc__sub *sub = c->sub;
  c->sub = NULL;
  if (!sub)
    return;
  if (c->extra) {
    unlink_more(sub, c);
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
      crpc__sub_on_failed(sub, c->h2.error);
    else
      crpc__sub_on_lost(sub);
  }
}

static void on_goaway(crpc__client_conn *c, const nghttp2_goaway *ga) {
  crpc__log(lg(c), CRPC_LOG_DEBUG, "%s: GOAWAY (last stream %d, error %u)",
            c->h2.name, ga->last_stream_id, ga->error_code);
  if (c->state == CRPC__CLIENT_CONN_CLOSED)
    return;
  int was_connecting = c->state == CRPC__CLIENT_CONN_CONNECTING;
  c->state = CRPC__CLIENT_CONN_DRAINING;
  snprintf(c->h2.error, sizeof(c->h2.error), "the server sent GOAWAY");
  leave_sub(c, was_connecting);
}

void crpc__client_conn_retire(crpc__client_conn *c) {
  crpc__sub *sub = c->sub;
  c->sub = NULL;
  if (sub && c->extra)
    unlink_more(sub, c);
  else if (sub && sub->conn == c)
    sub->conn = NULL;
  if (c->state == CRPC__CLIENT_CONN_CONNECTING) {
    crpc__client_conn_close(c, "its address is no longer resolved");
    return;
  }
  if (c->state != CRPC__CLIENT_CONN_READY)
    return;
  crpc__log(lg(c), CRPC_LOG_DEBUG,
            "%s: no longer resolved: closing once its %zu calls end",
            c->h2.name, c->n_calls);
  c->state = CRPC__CLIENT_CONN_DRAINING;
  crpc__client_conn_mark_dirty(c); /* the flush closes it once idle */
}

/* The role's callbacks. */

static int on_header(void *stream, const nghttp2_frame *frame,
                     const uint8_t *name, size_t nlen, const uint8_t *value,
                     size_t vlen) {
  if (frame->hd.type != NGHTTP2_HEADERS)
    return 0;
  int trailers = frame->headers.cat == NGHTTP2_HCAT_HEADERS;
  return crpc__client_call_on_header(stream, trailers, name, nlen, value, vlen);
}

static void on_frame_recv(crpc__h2conn *h, void *stream,
                          const nghttp2_frame *frame) {
  crpc__client_conn *c = conn_of(h);
  switch (frame->hd.type) {
  case NGHTTP2_SETTINGS:
    if (!(frame->hd.flags & NGHTTP2_FLAG_ACK) &&
        c->state == CRPC__CLIENT_CONN_CONNECTING)
      on_ready(c);
    break;
  case NGHTTP2_PING:
    if (frame->hd.flags & NGHTTP2_FLAG_ACK)
      c->ping_outstanding = 0;
    break;
  case NGHTTP2_GOAWAY:
    on_goaway(c, &frame->goaway);
    break;
  case NGHTTP2_HEADERS:
    if (stream)
      crpc__client_call_on_headers_done(stream, frame->hd.flags &
                                                    NGHTTP2_FLAG_END_STREAM);
    break;
  default:
    break;
  }
}

static void on_data(void *stream, const uint8_t *p, size_t n) {
  crpc__client_call_on_data(stream, p, n);
}

static void on_stream_close(void *stream, uint32_t error_code) {
  crpc__client_call_on_stream_close(stream, error_code);
}

static int conn_done(crpc__h2conn *h, int session_idle) {
  crpc__client_conn *c = conn_of(h);
  return session_idle ||
         (c->state == CRPC__CLIENT_CONN_DRAINING && c->n_calls == 0);
}

static void on_timer_closed(uv_handle_t *t) {
  crpc__client_conn *c = t->data;
  crpc_channel *ch = c->ch;
  crpc__h2conn_unref(&c->h2);
  crpc__channel_handle_closed(ch);
}

static void conn_closing(crpc__h2conn *h) {
  crpc__client_conn *c = conn_of(h);
  int was_connecting = c->state == CRPC__CLIENT_CONN_CONNECTING;
  c->state = CRPC__CLIENT_CONN_CLOSED;
  /* Its calls learn first, while the subchannel is still theirs. */
  while (c->calls) {
    crpc__client_call *call = c->calls;
    crpc__h2conn_set_stream(h, call->stream_id, NULL);
    crpc__client_call_on_conn_lost(call, h->error);
  }
  leave_sub(c, was_connecting);
  crpc__h2conn_ref(h); /* the timer's, until it has closed */
  uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}

static void conn_closed(crpc__h2conn *h) {
  crpc__channel_handle_closed(conn_of(h)->ch);
}

static void conn_destroy(crpc__h2conn *h) {
  free(conn_of(h));
}

static const crpc__h2conn_role client_role = {
    .server = 0,
    .peer_noun = "the server",
    .header = on_header,
    .frame_recv = on_frame_recv,
    .data = on_data,
    .stream_close = on_stream_close,
    .read_body = crpc__client_call_read_body,
    .send_data = crpc__client_call_send_data,
    .body_ready = crpc__client_call_body_ready,
    .done = conn_done,
    .closing = conn_closing,
    .closed = conn_closed,
    .destroy = conn_destroy,
};

void crpc__client_conn_close(crpc__client_conn *c, const char *why) {
  crpc__h2conn_close(&c->h2, why);
}

/* Timers: the connect timeout while connecting, keepalive once ready. */

static void on_timer(uv_timer_t *t) {
  crpc__client_conn *c = t->data;
  if (c->state == CRPC__CLIENT_CONN_CONNECTING) {
    crpc__client_conn_close(c, "connection attempt timed out");
    return;
  }
  uint64_t now = uv_now(crpc_loop_uv(c->ch->loop));
  uint32_t limit = c->ch->opts.keepalive_timeout_ms;
  if (c->ping_outstanding) {
    if (now - c->ping_sent_ms >= limit)
      crpc__client_conn_close(c, "keepalive PING not answered");
    return;
  }
  if (nghttp2_submit_ping(c->h2.ng, NGHTTP2_FLAG_NONE, NULL) == 0) {
    c->ping_outstanding = 1;
    c->ping_sent_ms = now;
    crpc__client_conn_mark_dirty(c);
  }
}

static void on_connect(uv_connect_t *req, int status) {
  crpc__client_conn *c = req->data;
  crpc__h2conn *h = &c->h2;
  if (c->state == CRPC__CLIENT_CONN_CLOSED) {
    crpc__h2conn_unref(h);
    return;
  }
  char why[200];
  int rc = status;
  if (rc < 0) {
    snprintf(why, sizeof(why), "cannot connect to %s: %s", h->name,
             uv_strerror(rc));
    goto fail;
  }
  if (!c->sub->addr.is_unix)
    uv_tcp_nodelay(&h->h.tcp, 1);
  if (c->ch->tls) {
    rc = crpc__tls_conn_new_client(c->ch->tls, c->ch->target.tls_name,
                                   c->ch->tls_server_name, &h->tls);
    if (rc == 0)
      rc = crpc__tls_conn_handshake(h->tls);
  }
  if (rc == 0)
    rc = crpc__h2conn_start(h, NULL);
  if (rc != 0) {
    snprintf(why, sizeof(why), "cannot start a connection to %s: %s", h->name,
             crpc_strerror(rc));
    goto fail;
  }
  crpc__log(lg(c), CRPC_LOG_DEBUG, "%s: connected", h->name);
  crpc__h2conn_unref(h);
  return;
fail:
  crpc__client_conn_close(c, why);
  crpc__h2conn_unref(h);
}

/* Opens a connection to |sub|'s address: its own (|extra| 0) or one of
 * |more|. */
static int conn_open(crpc__sub *sub, int extra) {
  crpc_channel *ch = sub->ch;
  crpc__client_conn *c = calloc(1, sizeof(*c));
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
  crpc__h2conn *h = &c->h2;
  crpc__h2conn_init(h, &client_role, &ch->h2, &ch->opts.logger);
  snprintf(h->name, sizeof(h->name), "%s", sub->addr.name);
  c->ch = ch;
  c->sub = sub;
  c->extra = extra;
  int rc = sub->addr.is_unix ? uv_pipe_init(uv, &h->h.pipe, 0)
                             : uv_tcp_init(uv, &h->h.tcp);
  if (rc != 0) {
    free(c);
    return rc;
  }
  uv_timer_init(uv, &c->timer);
  h->h.handle.data = h;
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
  crpc__h2conn_ref(h); /* the connect request's */
  if (sub->addr.is_unix) {
    uv_pipe_connect(&c->creq, &h->h.pipe, sub->addr.path, on_connect);
    return 0;
  }
  rc = uv_tcp_connect(&c->creq, &h->h.tcp, (struct sockaddr *)&sub->addr.ss,
                      on_connect);
  if (rc != 0) {
    char why[200];
    snprintf(why, sizeof(why), "cannot connect to %s: %s", sub->addr.name,
             uv_strerror(rc));
    h->refs--; /* no callback will come */
    crpc__client_conn_close(c, why);
  }
  return 0;
}

int crpc__client_conn_start(crpc__sub *sub) {
  return conn_open(sub, 0);
}

int crpc__client_conn_start_more(crpc__sub *sub) {
  crpc__log(&sub->ch->opts.logger, CRPC_LOG_DEBUG,
            "%s: every connection is at its stream limit: opening another "
            "(%zu)",
            sub->addr.name, sub->n_more + 2);
  return conn_open(sub, 1);
}

/* Requests. */

int crpc__client_conn_submit(crpc__client_conn *c, crpc__client_call *call) {
  CRPC__ASSERT_LOOP_THREAD(c->ch->loop);
  crpc_channel *ch = c->ch;
  crpc__nvlist l;
  crpc__nvlist_init(&l, &ch->scratch);
  crpc__grpc_request_headers(&l, ch->tls != NULL, call->method->path,
                             ch->target.authority, ch->user_agent, call->enc,
                             call->deadline, &call->md);
  int32_t id = CRPC_ENOMEM;
  if (!l.oom) {
    nghttp2_data_provider prd = crpc__h2conn_body(call);
    id = nghttp2_submit_request(c->h2.ng, NULL, l.nv, l.n, &prd, call);
  }
  crpc__arena_reset(&ch->scratch);
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
  crpc__h2conn_ref(&c->h2); /* the call's */
  crpc__client_conn_mark_dirty(c);
  return 0;
}

void crpc__client_conn_detach(crpc__client_conn *c, crpc__client_call *call) {
  if (call->conn_prev)
    call->conn_prev->conn_next = call->conn_next;
  else
    c->calls = call->conn_next;
  if (call->conn_next)
    call->conn_next->conn_prev = call->conn_prev;
  call->conn_prev = call->conn_next = NULL;
  call->conn = NULL;
  c->n_calls--;
  if (c->state == CRPC__CLIENT_CONN_DRAINING && c->n_calls == 0)
    crpc__client_conn_mark_dirty(c); /* the flush closes it */
  else if (c->state == CRPC__CLIENT_CONN_READY)
    crpc__channel_room(c->ch); /* a stream is free for a waiting call */
  crpc__h2conn_unref(&c->h2);
}
