/*
 * server/metrics_http.c: the HTTP/1.1 endpoint of the metrics page: its
 * listener and connections on one loop, their timeouts, and the answers.
 * A connection reads a request head (server/http1.c parses it), writes
 * one answer while it reads nothing more, then goes on with what follows;
 * everything here runs on the endpoint's loop thread.
 */
#include "metrics_http.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crpc/error.h"
#include "http1.h"
#include "log_internal.h"
#include "prom_text.h"
#include "server_internal.h"

typedef struct mconn mconn;

struct crpc__metrics_http {
  uv_tcp_t listener;
  int listening;
  int port;
  char *shown;
  crpc__metrics_render_fn render;
  void *render_arg;
  const crpc_logger *lg;
  mconn *conns;
  unsigned n_conns;
  /* Handles initialized and not yet closed; once closing, each close runs
   * |closed(closed_arg)|. */
  unsigned open_handles;
  int closing;
  void (*closed)(void *arg);
  void *closed_arg;
  int free_when_closed; /* opening failed: the last close frees it */
};

struct mconn {
  uv_tcp_t tcp; /* data: the connection, as the timer's */
  uv_timer_t timer;
  crpc__metrics_http *h;
  mconn *next, *prev;
  unsigned handles; /* of its two, not closed yet */
  int closing;
  int reading;
  int writing;     /* an answer is being written */
  int close_after; /* ... and the connection closes after it */
  int lingering;   /* shut for writing; what comes is read and dropped */
  size_t dropped;
  uv_write_t wreq;
  uv_shutdown_t sreq;
  char head[512]; /* the answer's status line and headers */
  char *body;     /* its body, freed after the write when |own_body| */
  int own_body;
  size_t in_len;
  char in[CRPC__METRICS_HTTP_HEAD_MAX];
};

static void serve(mconn *c);
static void start_reading(mconn *c);

/* Handles. */

static void handle_closed(crpc__metrics_http *h) {
  h->open_handles--;
  if (h->closing && h->closed)
    h->closed(h->closed_arg);
  if (h->free_when_closed && h->open_handles == 0)
    crpc__metrics_http_free(h);
}

static void on_listener_closed(uv_handle_t *hd) {
  handle_closed(hd->data);
}

static void on_conn_handle_closed(uv_handle_t *hd) {
  mconn *c = hd->data;
  crpc__metrics_http *h = c->h;
  if (--c->handles == 0) {
    if (c->own_body)
      free(c->body);
    free(c);
  }
  handle_closed(h);
}

static void conn_close(mconn *c) {
  if (c->closing)
    return;
  c->closing = 1;
  crpc__metrics_http *h = c->h;
  if (c->prev)
    c->prev->next = c->next;
  else
    h->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  h->n_conns--;
  uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
  uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
}

static void on_timeout(uv_timer_t *t) {
  conn_close(t->data);
}

static void arm(mconn *c, uint64_t ms) {
  uv_timer_start(&c->timer, on_timeout, ms, 0);
}

/* Answers. */

static void on_shutdown(uv_shutdown_t *req, int status) {
  (void)req;
  (void)status; /* the timer or the peer's close ends it */
}

/* Closes |c| once its peer has read the answer: closing a socket with
 * unread input sends RST, which can destroy the answer on its way (a
 * head past the limit, a body never read). So the write side is shut
 * (FIN after the answer) and what comes is read and dropped until the
 * peer closes, for a short time and a bounded number of bytes. */
static void linger(mconn *c) {
  c->lingering = 1;
  c->in_len = 0;
  arm(c, CRPC__METRICS_HTTP_LINGER_MS);
  c->sreq.data = c;
  if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
    conn_close(c);
    return;
  }
  start_reading(c);
}

static void on_written(uv_write_t *req, int status) {
  mconn *c = req->data;
  c->writing = 0;
  if (c->own_body)
    free(c->body);
  c->body = NULL;
  c->own_body = 0;
  if (status < 0)
    conn_close(c);
  else if (c->close_after)
    linger(c);
  else
    serve(c);
}

/* Writes an answer of |status| with the |len| bytes of |body| (taken over
 * when |own|; written unless |head_only|), keeping the connection when
 * |keep|, with |extra| header lines (CRLF-terminated) or NULL. */
static void answer(mconn *c, int status, const char *reason, const char *type,
                   char *body, size_t len, int own, int head_only, int keep,
                   const char *extra) {
  int n = snprintf(c->head, sizeof(c->head),
                   "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: "
                   "%zu\r\nConnection: %s\r\n%s\r\n",
                   status, reason, type, len, keep ? "keep-alive" : "close",
                   extra ? extra : "");
  c->body = body;
  c->own_body = own;
  c->close_after = !keep;
  uv_buf_t bufs[2] = {uv_buf_init(c->head, (unsigned)n),
                      uv_buf_init(body, head_only ? 0 : (unsigned)len)};
  if (c->reading) {
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
  }
  c->wreq.data = c;
  c->writing = 1;
  arm(c, CRPC__METRICS_HTTP_WRITE_MS);
  if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, bufs, 2, on_written) != 0) {
    c->writing = 0;
    conn_close(c);
  }
}

/* A short plain-text answer for what is not the page. */
static void refuse(mconn *c, int status, const char *reason, const char *text,
                   int head_only, int keep, const char *extra) {
  answer(c, status, reason, "text/plain; charset=utf-8", (char *)text,
         strlen(text), 0, head_only, keep, extra);
}

static int is(const char *p, size_t n, const char *want) {
  return strlen(want) == n && memcmp(p, want, n) == 0;
}

/* Answers the request |r|. */
static void respond(mconn *c, const crpc__http1_request *r) {
  crpc__metrics_http *h = c->h;
  int head_only = is(r->method, r->method_len, "HEAD");
  /* A body is not read: the connection cannot go on after it. */
  int keep = r->keep_alive && !r->has_body;
  if (!head_only && !is(r->method, r->method_len, "GET")) {
    refuse(c, 405, "Method Not Allowed", "only GET is served here\n", 0, keep,
           "Allow: GET, HEAD\r\n");
    return;
  }
  if (!is(r->path, r->path_len, "/metrics")) {
    refuse(c, 404, "Not Found", "not found: the metrics are at /metrics\n",
           head_only, keep, NULL);
    return;
  }
  char *text = NULL;
  size_t len = 0;
  int rc = h->render(h->render_arg, &text, &len);
  if (rc != 0) {
    crpc__log(h->lg, CRPC_LOG_WARN, "metrics: cannot write the page: %s",
              crpc_strerror(rc));
    refuse(c, 500, "Internal Server Error", "the page could not be written\n",
           head_only, keep, NULL);
    return;
  }
  answer(c, 200, "OK", CRPC__PROM_CONTENT_TYPE, text, len, 1, head_only, keep,
         NULL);
}

/* Answers the requests read so far, one at a time, then reads on. */
static void serve(mconn *c) {
  while (!c->writing && !c->closing) {
    crpc__http1_request r;
    ssize_t n = crpc__http1_parse(c->in, c->in_len, &r);
    if (n < 0) {
      refuse(c, 400, "Bad Request", "bad request\n", 0, 0, NULL);
      return;
    }
    if (n == 0 && c->in_len == sizeof(c->in)) {
      refuse(c, 431, "Request Header Fields Too Large",
             "request head too large\n", 0, 0, NULL);
      return;
    }
    if (n == 0) {
      arm(c,
          c->in_len ? CRPC__METRICS_HTTP_HEAD_MS : CRPC__METRICS_HTTP_IDLE_MS);
      start_reading(c);
      return;
    }
    respond(c, &r); /* before the request's bytes are consumed */
    c->in_len -= (size_t)n;
    memmove(c->in, c->in + n, c->in_len);
  }
}

/* Connections. */

static void on_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  mconn *c = hd->data;
  *buf = uv_buf_init(c->in + c->in_len, (unsigned)(sizeof(c->in) - c->in_len));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  (void)buf;
  mconn *c = s->data;
  if (nread == 0)
    return;
  if (nread < 0) { /* the peer closed, or the head filled the buffer */
    conn_close(c);
    return;
  }
  if (c->lingering) {
    c->dropped += (size_t)nread;
    if (c->dropped > CRPC__METRICS_HTTP_LINGER_BYTES)
      conn_close(c);
    return; /* dropped: the next read reuses the buffer */
  }
  c->in_len += (size_t)nread;
  serve(c);
}

static void start_reading(mconn *c) {
  if (c->closing || c->writing || c->reading)
    return;
  if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
    conn_close(c);
  else
    c->reading = 1;
}

static void on_connection(uv_stream_t *server, int status) {
  crpc__metrics_http *h = server->data;
  if (status < 0 || h->closing)
    return;
  mconn *c = calloc(1, sizeof(*c));
  if (!c)
    return; /* accepted once memory is back */
  c->h = h;
  uv_tcp_init(server->loop, &c->tcp);
  uv_timer_init(server->loop, &c->timer);
  c->tcp.data = c->timer.data = c;
  c->handles = 2;
  h->open_handles += 2;
  c->next = h->conns;
  if (h->conns)
    h->conns->prev = c;
  h->conns = c;
  h->n_conns++;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 ||
      h->n_conns > CRPC__METRICS_HTTP_MAX_CONNS) {
    crpc__log(h->lg, CRPC_LOG_DEBUG, "metrics: %u connections open: closed",
              h->n_conns - 1);
    conn_close(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  serve(c);
}

/* The endpoint. */

int crpc__metrics_http_open(uv_loop_t *uv, const char *addr,
                            crpc__metrics_render_fn render, void *arg,
                            const crpc_logger *lg, crpc__metrics_http **out,
                            char *err, size_t cap) {
  crpc__metrics_http *h = calloc(1, sizeof(*h));
  if (!h) {
    snprintf(err, cap, "out of memory");
    return CRPC_ENOMEM;
  }
  h->render = render;
  h->render_arg = arg;
  h->lg = lg;
  h->listener.data = h;
  int inited = 0;
  int rc = crpc__listen_tcp(uv, addr, &h->listener, on_connection, &inited,
                            &h->port, &h->shown, err, cap);
  h->listener.data = h;
  if (rc != 0) {
    if (!inited) {
      crpc__metrics_http_free(h);
      return rc;
    }
    h->open_handles = 1;
    h->free_when_closed = 1;
    h->closing = 1;
    uv_close((uv_handle_t *)&h->listener, on_listener_closed);
    return rc;
  }
  h->open_handles = 1;
  h->listening = 1;
  *out = h;
  return 0;
}

int crpc__metrics_http_port(const crpc__metrics_http *h) {
  return h->port;
}

const char *crpc__metrics_http_address(const crpc__metrics_http *h) {
  return h->shown;
}

unsigned crpc__metrics_http_close(crpc__metrics_http *h,
                                  void (*closed)(void *arg), void *arg) {
  if (h->closing)
    return 0;
  h->closing = 1;
  h->closed = closed;
  h->closed_arg = arg;
  unsigned n = h->open_handles;
  if (h->listening) {
    h->listening = 0;
    uv_close((uv_handle_t *)&h->listener, on_listener_closed);
  }
  while (h->conns)
    conn_close(h->conns);
  return n;
}

void crpc__metrics_http_free(crpc__metrics_http *h) {
  if (!h)
    return;
  free(h->shown);
  free(h);
}
