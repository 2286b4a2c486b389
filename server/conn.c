/*
 * server/conn.c: the server's role on an accepted connection (the
 * connection itself is runtime/h2conn.c): a request's HEADERS make a call,
 * its frames go to that call, and the connection belongs to its loop's
 * list until it closes. The handshake sweep and the graceful close
 * (GOAWAY twice, as RFC 9113 section 6.8 suggests) are here too.
 * Everything here runs on the connection's loop thread.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crpc/error.h"
#include "log_internal.h"
#include "server_internal.h"
#include "tls.h"

static crpc__server_conn *conn_of(crpc__h2conn *h) {
  return (crpc__server_conn *)((char *)h - offsetof(crpc__server_conn, h2));
}

/* The role's callbacks. */

static int on_begin_headers(crpc__h2conn *h, const nghttp2_frame *frame) {
  if (frame->hd.type != NGHTTP2_HEADERS ||
      frame->headers.cat != NGHTTP2_HCAT_REQUEST)
    return 0;
  crpc__server_call *call =
      crpc__server_call_new(conn_of(h), frame->hd.stream_id);
  if (!call) /* nghttp2 resets the stream */
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  crpc__h2conn_set_stream(h, frame->hd.stream_id, call);
  return 0;
}

static int on_header(void *stream, const nghttp2_frame *frame,
                     const uint8_t *name, size_t nlen, const uint8_t *value,
                     size_t vlen) {
  if (frame->hd.type == NGHTTP2_HEADERS &&
      frame->headers.cat != NGHTTP2_HCAT_REQUEST)
    return 0; /* request trailers: gRPC clients send none; ignore them */
  return crpc__server_call_on_header(stream, name, nlen, value, vlen);
}

/* max_connection_age's GOAWAY comes in two, as gRPC's: the first (the
 * largest stream id) with a PING of this payload, the second (the last
 * stream id the server took) once the client answers it, so that no
 * stream the client opened meanwhile is refused; or after the keepalive
 * timeout if no answer comes. */
#define AGE_PING "crpc-age"

/* Pings more often than a PING each this long, with no call open, are
 * strikes unless permit_keepalive_without_calls (gRPC's two hours). */
#define IDLE_PING_INTERVAL_MS (2u * 3600 * 1000)
/* Strikes a client may have; the next ends the connection (gRPC's). */
#define MAX_PING_STRIKES 2

/* A PING from the client, counted as gRPC's keepalive enforcement does:
 * one sooner than the policy allows after the last, with no HEADERS or
 * DATA since, is a strike; past MAX_PING_STRIKES the connection ends with
 * GOAWAY ENHANCE_YOUR_CALM. gRPC resets the strikes when the server sends
 * HEADERS or DATA; crpc when either side does, so pings that ride with
 * data (flow-control probes) never count. */
static void on_ping(crpc__server_conn *c, const nghttp2_frame *frame) {
  const crpc_server_opts *o = &c->sl->srv->opts;
  uint64_t now = uv_now(crpc_loop_uv(c->sl->loop));
  if (frame->hd.flags & NGHTTP2_FLAG_ACK) {
    c->ka_ping_ms = 0;
    /* The client has read the age's first GOAWAY: it opens no stream
     * after this, and the last stream id can follow. */
    if (c->aged_ms &&
        memcmp(frame->ping.opaque_data, AGE_PING, sizeof(AGE_PING) - 1) == 0)
      crpc__server_conn_final_goaway(c);
    return;
  }
  if (o->min_ping_interval_ms == UINT32_MAX)
    return;
  if (c->h2.ping_with_work) {
    c->ping_strikes = 0;
    c->ping_recv_ms = 0;
  }
  uint64_t min = c->n_calls > 0 || o->permit_keepalive_without_calls
                     ? o->min_ping_interval_ms
                     : IDLE_PING_INTERVAL_MS;
  if (c->ping_recv_ms && now + 1 - c->ping_recv_ms < min) {
    c->ping_strikes++;
    crpc__log(&c->sl->srv->opts.logger, CRPC_LOG_DEBUG,
              "%s: PING %llu ms after the last, no HEADERS or DATA either "
              "way since: strike %u (more than %u end the connection)",
              c->h2.name, (unsigned long long)(now + 1 - c->ping_recv_ms),
              c->ping_strikes, MAX_PING_STRIKES);
    if (c->ping_strikes > MAX_PING_STRIKES) {
      crpc__log(&c->sl->srv->opts.logger, CRPC_LOG_INFO,
                "%s: PINGs more often than every %llu ms: too_many_pings",
                c->h2.name, (unsigned long long)min);
      crpc__h2conn_goaway(&c->h2, NGHTTP2_ENHANCE_YOUR_CALM, "too_many_pings");
    }
  }
  c->ping_recv_ms = now + 1;
}

static void on_frame_recv(crpc__h2conn *h, void *stream,
                          const nghttp2_frame *frame) {
  if (frame->hd.type == NGHTTP2_PING) {
    on_ping(conn_of(h), frame);
    return;
  }
  if (!stream ||
      (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA))
    return;
  if (frame->hd.type == NGHTTP2_HEADERS &&
      frame->headers.cat == NGHTTP2_HCAT_REQUEST)
    crpc__server_call_on_headers_done(stream);
  if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)
    crpc__server_call_on_remote_close(stream);
}

static void on_data(void *stream, const uint8_t *p, size_t n) {
  crpc__server_call_on_data(stream, p, n);
}

static void on_stream_close(void *stream, uint32_t error_code) {
  crpc__server_call_on_stream_close(stream, error_code);
}

static void on_end_sent(void *stream) {
  crpc__server_call_on_frame_sent(stream, 1);
}

static int conn_done(crpc__h2conn *h, int session_idle) {
  crpc__server_conn *c = conn_of(h);
  /* What was written may have taken its output below the mark. */
  crpc__server_conn_unpark(c);
  /* After a shutdown notice, only the final GOAWAY lets it go. */
  return session_idle && (!c->goaway_sent || c->final_goaway);
}

static void conn_closing(crpc__h2conn *h) {
  crpc__server_conn *c = conn_of(h);
  /* Calls still streaming learn that their peer is gone. */
  while (c->calls)
    crpc__server_call_on_stream_close(c->calls, NGHTTP2_CANCEL);
  crpc__sloop *sl = c->sl;
  atomic_fetch_sub(&sl->srv->open_conns, 1);
  if (c->prev)
    c->prev->next = c->next;
  else
    sl->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  sl->n_conns--;
}

static void conn_closed(crpc__h2conn *h) {
  crpc__sloop_check_drained(conn_of(h)->sl);
}

static void conn_destroy(crpc__h2conn *h) {
  crpc__server_conn *c = conn_of(h);
  /* Every call has gone, and with it every byte it counted. */
  assert(atomic_load(&c->out_bytes) == 0);
  free(c->refusal);
  free(c);
}

static const crpc__h2conn_role server_role = {
    .server = 1,
    .peer_noun = "the client",
    .begin_headers = on_begin_headers,
    .header = on_header,
    .frame_recv = on_frame_recv,
    .data = on_data,
    .stream_close = on_stream_close,
    .end_sent = on_end_sent,
    .read_body = crpc__server_call_read_body,
    .send_data = crpc__server_call_send_data,
    .body_ready = crpc__server_call_body_ready,
    .done = conn_done,
    .closing = conn_closing,
    .closed = conn_closed,
    .destroy = conn_destroy,
};

void crpc__server_conn_unref(crpc__server_conn *c) {
  crpc__h2conn_unref(&c->h2);
}

void crpc__server_conn_mark_dirty(crpc__server_conn *c) {
  crpc__h2conn_mark_dirty(&c->h2);
}

/* Lifecycle. */

/* The peer's address as gRPC names it: "ipv4:1.2.3.4:5", "ipv6:[::1]:5". */
static void peer_name(uv_tcp_t *tcp, char *out, size_t cap) {
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  char ip[64] = "?";
  snprintf(out, cap, "?");
  if (uv_tcp_getpeername(tcp, (struct sockaddr *)&ss, &len) != 0)
    return;
  if (ss.ss_family == AF_INET6) {
    uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof(ip));
    snprintf(out, cap, "ipv6:[%s]:%d", ip,
             ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
  } else {
    uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof(ip));
    snprintf(out, cap, "ipv4:%s:%d", ip,
             ntohs(((struct sockaddr_in *)&ss)->sin_port));
  }
}

void crpc__server_conn_accept(crpc__sloop *sl, uv_os_sock_t fd,
                              const crpc__acceptor *l) {
  CRPC__ASSERT_LOOP_THREAD(sl->loop);
  const crpc_logger *lg = &sl->srv->opts.logger;
  crpc__server_conn *c = sl->drained ? NULL : calloc(1, sizeof(*c));
  if (!c) {
    /* Out of memory, or accepted just as this loop finished draining. */
    atomic_fetch_sub(&sl->srv->open_conns, 1);
    close(fd);
    return;
  }
  crpc__h2conn_init(&c->h2, &server_role, &sl->h2, lg);
  atomic_init(&c->out_bytes, 0);
  c->sl = sl;
  c->acceptor = l;
  c->accepted_ms = uv_now(crpc_loop_uv(sl->loop));
  c->idle_since_ms = c->accepted_ms;
  uint32_t age = sl->srv->opts.max_connection_age_ms;
  if (age) {
    /* Give or take 10 %, so that connections made together do not all
     * go at once: a hash of the time and the connection's address. */
    uint64_t r = uv_hrtime() ^ (uint64_t)(uintptr_t)c;
    r ^= r >> 33;
    r *= 0xff51afd7ed558ccdull;
    r ^= r >> 33;
    uint64_t tenth = age / 10;
    c->age_limit_ms =
        c->accepted_ms + age - tenth + (tenth ? r % (2 * tenth + 1) : 0);
  }
  uv_loop_t *uv = crpc_loop_uv(sl->loop);
  crpc__h2conn *h = &c->h2;
  int rc;
  if (l->is_unix) {
    uv_pipe_init(uv, &h->h.pipe, 0);
    rc = uv_pipe_open(&h->h.pipe, fd);
    snprintf(h->name, sizeof(h->name), "unix:");
  } else {
    uv_tcp_init(uv, &h->h.tcp);
    rc = uv_tcp_open(&h->h.tcp, fd);
    if (rc == 0) {
      uv_tcp_nodelay(&h->h.tcp, 1);
      peer_name(&h->h.tcp, h->name, sizeof(h->name));
    }
  }
  h->h.handle.data = h;
  /* From here the handle owns the fd, and closing it frees |c|. */
  c->next = sl->conns;
  if (sl->conns)
    sl->conns->prev = c;
  sl->conns = c;
  if (++sl->n_conns > sl->conns_peak)
    sl->conns_peak = sl->n_conns;
  if (rc != 0) {
    crpc__log(lg, CRPC_LOG_WARN, "cannot adopt a connection: %s",
              uv_strerror(rc));
    crpc__h2conn_close(h, "cannot adopt the socket");
    return;
  }
  if (l->tls)
    rc = crpc__tls_conn_new_server(l->tls, &h->tls);
  nghttp2_mem mem = crpc__h2mem_allocator(&sl->h2mem);
  if (rc == 0)
    rc = crpc__h2conn_start(h, &mem);
  if (rc != 0) {
    crpc__log(lg, CRPC_LOG_WARN, "%s: cannot start the connection: %s", h->name,
              crpc_strerror(rc));
    crpc__h2conn_close(h, "cannot start the connection");
    return;
  }
  crpc__log(lg, CRPC_LOG_DEBUG, "%s: connected on loop %u", h->name, sl->index);
  if (sl->shutting_down)
    crpc__server_conn_shutdown_notice(c);
}

void crpc__server_conn_shutdown_notice(crpc__server_conn *c) {
  if (c->h2.closed || c->goaway_sent || !c->h2.ng)
    return;
  c->goaway_sent = 1;
  nghttp2_submit_shutdown_notice(c->h2.ng);
  crpc__server_conn_mark_dirty(c);
}

int crpc__server_conn_sweep(crpc__server_conn *c, uint64_t now) {
  const crpc_server_opts *o = &c->sl->srv->opts;
  const crpc_logger *lg = &o->logger;
  if (!c->h2.established || c->h2.closed)
    return 0;
  if (c->ka_ping_ms && now + 1 - c->ka_ping_ms >= o->keepalive_timeout_ms) {
    crpc__log(lg, CRPC_LOG_INFO,
              "%s: keepalive PING not answered within %u ms: closing",
              c->h2.name, (unsigned)o->keepalive_timeout_ms);
    crpc__h2conn_fail(&c->h2, "keepalive PING not answered");
    return 1;
  }
  uint64_t heard =
      c->h2.read_ms > c->accepted_ms ? c->h2.read_ms : c->accepted_ms;
  if (o->keepalive_time_ms && !c->ka_ping_ms &&
      now - heard >= o->keepalive_time_ms &&
      nghttp2_submit_ping(c->h2.ng, NGHTTP2_FLAG_NONE, NULL) == 0) {
    c->ka_ping_ms = now + 1;
    crpc__server_conn_mark_dirty(c);
  }
  if (!c->age_limit_ms)
    return 0;
  if (!c->aged_ms && !c->goaway_sent && now >= c->age_limit_ms) {
    crpc__log(lg, CRPC_LOG_DEBUG,
              "%s: open for %llu ms, past the max connection age: GOAWAY",
              c->h2.name, (unsigned long long)(now - c->accepted_ms));
    crpc__server_conn_shutdown_notice(c);
    nghttp2_submit_ping(c->h2.ng, NGHTTP2_FLAG_NONE, (const uint8_t *)AGE_PING);
    c->aged_ms = now + 1;
    return 0;
  }
  if (!c->aged_ms)
    return 0;
  if (now + 1 - c->aged_ms >= o->keepalive_timeout_ms)
    crpc__server_conn_final_goaway(c);
  uint32_t grace = o->max_connection_age_grace_ms;
  if (grace && now + 1 - c->aged_ms >= grace) {
    size_t n = 0;
    for (crpc__server_call *call = c->calls, *next; call; call = next) {
      next = call->next_in_conn;
      crpc__server_call_abort(call, CRPC_STATUS_UNAVAILABLE,
                              "the connection reached its max age");
      n++;
    }
    if (n)
      crpc__log(lg, CRPC_LOG_INFO,
                "%s: max connection age grace of %u ms over: closing, "
                "cancelling %zu call%s",
                c->h2.name, (unsigned)grace, n, n == 1 ? "" : "s");
    else
      crpc__log(lg, CRPC_LOG_DEBUG,
                "%s: max connection age grace of %u ms over: closing",
                c->h2.name, (unsigned)grace);
    crpc__h2conn_fail(&c->h2, "max connection age grace over");
    return 1;
  }
  return 0;
}

void crpc__server_conn_final_goaway(crpc__server_conn *c) {
  if (c->h2.closed || c->final_goaway || !c->h2.ng)
    return;
  c->goaway_sent = 1;
  c->final_goaway = 1;
  nghttp2_submit_goaway(c->h2.ng, NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(c->h2.ng),
                        NGHTTP2_NO_ERROR, NULL, 0);
  crpc__server_conn_mark_dirty(c);
}

/* Who may call. */

/* The refusal for a peer whose certificate |a| carries none of the
 * client names, in memory of its own (NULL when out of memory). */
static char *refusal_text(const crpc_peer_auth *a) {
  char what[CRPC__PEER_AUTH_DESCRIBE_MAX], msg[sizeof(what) + 64];
  if (!a->verified) {
    snprintf(msg, sizeof(msg), "a verified client certificate is required");
  } else {
    crpc__peer_auth_describe(a, what, sizeof(what));
    snprintf(msg, sizeof(msg), "client certificate %s is not allowed", what);
  }
  return strdup(msg);
}

/* Decides whether the peer of |c| may call, and logs a refusal. */
static void check_peer(crpc__server_conn *c) {
  const crpc__acceptor *l = c->acceptor;
  const crpc_peer_auth *a = crpc__h2conn_peer_auth(&c->h2);
  c->peer_checked = 1;
  if (!l->n_client_names ||
      crpc__peer_auth_has_name(a, (const char *const *)l->client_names,
                               l->n_client_names))
    return;
  c->refused = 1;
  c->refusal = refusal_text(a);
  crpc__log(c->h2.lg, CRPC_LOG_WARN, "%s: %s: its calls are refused",
            c->h2.name, crpc__server_conn_refusal(c));
}

const char *crpc__server_conn_refusal(crpc__server_conn *c) {
  if (!c->peer_checked)
    check_peer(c);
  if (!c->refused)
    return NULL;
  /* Out of memory for the text is no reason to let it call. */
  return c->refusal ? c->refusal : "client certificate is not allowed";
}
