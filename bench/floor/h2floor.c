/*
 * bench/floor/h2floor.c: crpc-bench-h2floor, the HTTP/2 floor under the
 * benchmarks' h2load figures.
 *
 *   crpc-bench-h2floor --port N [--host H] [--resp_size N]
 *       [--max_lifetime_s N]
 *
 * A bare nghttp2 server that answers every request the way
 * crpc-bench-server answers grpc.testing.BenchmarkService/UnaryCall, with
 * no RPC work at all: once a request stream has ended (END_STREAM), its
 * answer is the headers ":status: 200" and "content-type:
 * application/grpc", one DATA frame holding a gRPC-framed SimpleResponse,
 * and the trailers "grpc-status: 0". The SimpleResponse is empty (framed,
 * 5 bytes: 00 00000000; crpc-bench-server's has an empty payload field,
 * 2 bytes more), or with --resp_size N carries N zero bytes (field 1
 * payload, a Payload whose field 2 body holds them), byte for byte what
 * crpc-bench-server sends for response_size N. The request's path,
 * headers and body are not looked at: nghttp2 reads the body and drops it.
 *
 * What it keeps is the HTTP/2 machinery crpc's server runs on, done as
 * crpc does it: one libuv loop thread, TCP_NODELAY, an nghttp2 server
 * session per connection fed with nghttp2_session_mem_recv(), its output
 * taken with nghttp2_session_mem_send() into one buffer per connection
 * and written once per loop iteration (a uv_prepare_t: uv_try_write(),
 * then uv_write() for the rest), DATA payloads appended where they lie
 * (NGHTTP2_DATA_FLAG_NO_COPY), and nghttp2's default settings but 100
 * concurrent streams. What it leaves out is everything of gRPC's: no
 * method lookup, no header checks, no deadlines, no messages parsed or
 * built, no calls, no limits. Under the same load, crpc's server CPU per
 * call set against this one's is what crpc adds to HTTP/2 itself.
 *
 * It prints "listening on HOST:PORT" once it accepts (127.0.0.1 unless
 * given; port 0 picks a free one), and exits 0 on SIGTERM or SIGINT (or
 * when its parent dies, or after --max_lifetime_s, default 3600); 1 when
 * it cannot listen, 2 for a bad command line.
 *
 * For example, server on core 0 and h2load on core 1, BODY holding the 5
 * bytes 00 00000000:
 *   taskset -c 0 crpc-bench-h2floor --port 0 &
 *   taskset -c 1 h2load -n 100000 -c 16 -m 32 -t 1 \
 *       -H 'content-type: application/grpc' -H 'te: trailers' -d BODY \
 *       http://127.0.0.1:PORT/grpc.testing.BenchmarkService/UnaryCall
 */
#define _GNU_SOURCE

#include "flags.h"

#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include <nghttp2/nghttp2.h>
#include <uv.h>

static const char USAGE[] =
    "usage: crpc-bench-h2floor --port N [--host H] [--resp_size N]\n"
    "           [--max_lifetime_s N]\n";

/* crpc-bench-server's largest reply payload. */
#define MAX_RESP_SIZE (4 << 20)
/* Bytes read from a socket at a time; output past which a connection
 * takes no more frames from its session until it has written. */
#define READ_BUF (64 * 1024)
#define WRITE_BATCH (64 * 1024)
/* SETTINGS_MAX_CONCURRENT_STREAMS, crpc's default. */
#define MAX_STREAMS 100

#define NV(name, value)                                                        \
  {                                                                            \
    (uint8_t *)(name), (uint8_t *)(value), sizeof(name) - 1,                   \
        sizeof(value) - 1,                                                     \
        NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE           \
  }

static const nghttp2_nv RESPONSE_HEADERS[] = {
    NV(":status", "200"),
    NV("content-type", "application/grpc"),
};
static const nghttp2_nv TRAILERS[] = {NV("grpc-status", "0")};

/* Bytes to send on a connection: p[off, len) is not written yet. */
typedef struct out_buf {
  uint8_t *p;
  size_t off, len, cap;
} out_buf;

typedef struct h2floor h2floor;

/* An accepted connection. It stays on the server's list until its handle
 * has closed. */
typedef struct conn {
  uv_tcp_t tcp;
  uv_write_t wreq;
  h2floor *srv;
  nghttp2_session *ng;
  out_buf out;
  /* |dirty|: to flush at the next loop iteration; |writing|: a uv_write
   * owns |out|; |failed|: the session is done for, the close follows
   * what it queued. */
  int dirty, writing, failed, closing;
  struct conn *prev, *next;
} conn;

struct h2floor {
  uv_loop_t loop;
  uv_tcp_t listener;
  uv_prepare_t flush;
  uv_signal_t sigterm, sigint;
  uv_timer_t lifetime;
  nghttp2_session_callbacks *cbs;
  uint8_t *resp; /* the response body, gRPC-framed: |resp_len| bytes */
  size_t resp_len;
  conn *conns;
  int stopping, rc;
  uint8_t rbuf[READ_BUF]; /* each read is fed to a session at once */
};

/* ---- the response ---- */

/* Writes |n| as a protobuf varint at |p|; the bytes it took. */
static size_t put_varint(uint8_t *p, size_t n) {
  size_t i = 0;
  for (; n >= 0x80; n >>= 7)
    p[i++] = (uint8_t)(n | 0x80);
  p[i++] = (uint8_t)n;
  return i;
}

/* The gRPC-framed SimpleResponse whose payload's body is |size| zero bytes
 * (nothing at all for 0), into |s|. Returns 0, or -1 when out of memory. */
static int make_response(h2floor *s, size_t size) {
  uint8_t payload_hd[11], body_hd[11];
  size_t np = 0, nb = 0, msg = 0;
  if (size > 0) {
    body_hd[0] = 0x12; /* field 2 (body), length-delimited */
    nb = 1 + put_varint(body_hd + 1, size);
    payload_hd[0] = 0x0a; /* field 1 (payload), length-delimited */
    np = 1 + put_varint(payload_hd + 1, nb + size);
    msg = np + nb + size;
  }
  s->resp_len = 5 + msg;
  s->resp = calloc(1, s->resp_len); /* the body's zeros are calloc's */
  if (!s->resp)
    return -1;
  /* 5-byte prefix: not compressed, then the length, big-endian. */
  s->resp[1] = (uint8_t)(msg >> 24);
  s->resp[2] = (uint8_t)(msg >> 16);
  s->resp[3] = (uint8_t)(msg >> 8);
  s->resp[4] = (uint8_t)msg;
  memcpy(s->resp + 5, payload_hd, np);
  memcpy(s->resp + 5 + np, body_hd, nb);
  return 0;
}

/* ---- the session ---- */

static int out_append(out_buf *b, const uint8_t *p, size_t n) {
  if (b->cap - b->len < n) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < n)
      cap *= 2;
    uint8_t *q = realloc(b->p, cap);
    if (!q)
      return -1;
    b->p = q;
    b->cap = cap;
  }
  memcpy(b->p + b->len, p, n);
  b->len += n;
  return 0;
}

/* The bytes of the response stream |id| has sent: its user data holds a
 * count, not a pointer, so that no stream allocates anything. */
static size_t body_sent(nghttp2_session *ng, int32_t id) {
  return (size_t)(uintptr_t)nghttp2_session_get_stream_user_data(ng, id);
}

/* The next DATA frame of stream |id|: its length only, since its payload
 * stays in the response until send_data() appends it. The trailers follow
 * the last one. */
static ssize_t read_body(nghttp2_session *ng, int32_t id, uint8_t *buf,
                         size_t length, uint32_t *flags,
                         nghttp2_data_source *source, void *user_data) {
  (void)buf;
  (void)source;
  conn *c = user_data;
  size_t left = c->srv->resp_len - body_sent(ng, id);
  size_t n = left < length ? left : length;
  *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
  if (n == left) {
    *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
    if (nghttp2_submit_trailer(ng, id, TRAILERS, 1) != 0)
      return NGHTTP2_ERR_CALLBACK_FAILURE;
  }
  return (ssize_t)n;
}

/* Appends the DATA frame read_body() prepared: header, then payload. */
static int send_data(nghttp2_session *ng, nghttp2_frame *frame,
                     const uint8_t *framehd, size_t length,
                     nghttp2_data_source *source, void *user_data) {
  (void)source;
  conn *c = user_data;
  int32_t id = frame->hd.stream_id;
  size_t sent = body_sent(ng, id);
  if (out_append(&c->out, framehd, 9) != 0 ||
      out_append(&c->out, c->srv->resp + sent, length) != 0)
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  nghttp2_session_set_stream_user_data(ng, id,
                                       (void *)(uintptr_t)(sent + length));
  return 0;
}

/* A request that has ended gets its response. */
static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *frame,
                         void *user_data) {
  (void)user_data;
  int request =
      frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA;
  if (!request || !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
    return 0;
  nghttp2_data_provider body = {.read_callback = read_body};
  int rv = nghttp2_submit_response(ng, frame->hd.stream_id, RESPONSE_HEADERS, 2,
                                   &body);
  return nghttp2_is_fatal(rv) ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
}

static int callbacks_new(nghttp2_session_callbacks **out) {
  if (nghttp2_session_callbacks_new(out) != 0)
    return -1;
  nghttp2_session_callbacks_set_on_frame_recv_callback(*out, on_frame_recv);
  nghttp2_session_callbacks_set_send_data_callback(*out, send_data);
  return 0;
}

/* ---- the connections ---- */

static void on_conn_closed(uv_handle_t *h) {
  conn *c = h->data;
  if (c->prev)
    c->prev->next = c->next;
  else
    c->srv->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  nghttp2_session_del(c->ng);
  free(c->out.p);
  free(c);
}

static void conn_close(conn *c) {
  if (c->closing)
    return;
  c->closing = 1;
  uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  conn *c = h->data;
  *buf = uv_buf_init((char *)c->srv->rbuf, READ_BUF);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  conn *c = s->data;
  if (nread < 0) {
    conn_close(c);
    return;
  }
  if (nread == 0 || c->closing || c->failed)
    return;
  /* On an error the session has queued a GOAWAY: it goes out first. */
  if (nghttp2_session_mem_recv(c->ng, (const uint8_t *)buf->base,
                               (size_t)nread) < 0)
    c->failed = 1;
  c->dirty = 1;
}

static void on_written(uv_write_t *req, int status) {
  conn *c = req->data;
  c->writing = 0;
  c->out.off = c->out.len = 0;
  if (status < 0)
    conn_close(c);
  else
    c->dirty = 1;
}

/* Appends to |c|'s output what its session has to send, until it holds
 * WRITE_BATCH bytes. Returns 0, or -1 when the session failed. */
static int collect(conn *c) {
  while (c->out.len < WRITE_BATCH) {
    const uint8_t *p;
    ssize_t n = nghttp2_session_mem_send(c->ng, &p);
    if (n < 0)
      return -1;
    if (n == 0)
      return 0;
    if (out_append(&c->out, p, (size_t)n) != 0)
      return -1;
  }
  return 0;
}

/* Writes |c|'s output: what the socket takes at once, then the rest
 * through |c->wreq|. Returns 0 when all of it went, 1 when the request
 * carries the rest, or -1 when the socket failed. */
static int write_out(conn *c) {
  out_buf *b = &c->out;
  uv_buf_t ub = uv_buf_init((char *)b->p, (unsigned)b->len);
  int n = uv_try_write((uv_stream_t *)&c->tcp, &ub, 1);
  if (n < 0 && n != UV_EAGAIN)
    return -1;
  b->off = n > 0 ? (size_t)n : 0;
  if (b->off == b->len) {
    b->off = b->len = 0;
    return 0;
  }
  ub = uv_buf_init((char *)b->p + b->off, (unsigned)(b->len - b->off));
  if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &ub, 1, on_written) != 0)
    return -1;
  c->writing = 1;
  return 1;
}

/* Sends what |c|'s session has to send; closes |c| once the session is
 * done (or failed) and all of it is written. */
static void flush_conn(conn *c) {
  c->dirty = 0;
  if (c->closing || c->writing)
    return;
  int rc;
  size_t len;
  do {
    rc = collect(c);
    len = c->out.len;
    if (rc == 0 && len > 0)
      rc = write_out(c);
  } while (rc == 0 && len >= WRITE_BATCH);
  if (rc == 1)
    return;
  if (rc < 0 || c->failed ||
      (!nghttp2_session_want_read(c->ng) && !nghttp2_session_want_write(c->ng)))
    conn_close(c);
}

/* Once per loop iteration, before it polls: every connection's output in
 * one write. */
static void on_flush(uv_prepare_t *h) {
  h2floor *s = h->data;
  for (conn *c = s->conns; c; c = c->next)
    if (c->dirty)
      flush_conn(c);
}

/* A new connection's session, its SETTINGS queued, and its reads. */
static int conn_start(conn *c) {
  nghttp2_settings_entry iv = {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS,
                               MAX_STREAMS};
  if (uv_tcp_nodelay(&c->tcp, 1) != 0 ||
      nghttp2_session_server_new(&c->ng, c->srv->cbs, c) != 0 ||
      nghttp2_submit_settings(c->ng, NGHTTP2_FLAG_NONE, &iv, 1) != 0)
    return -1;
  c->dirty = 1;
  return uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void stop(h2floor *s);

static void on_accept(uv_stream_t *l, int status) {
  h2floor *s = l->data;
  if (status < 0)
    return;
  conn *c = calloc(1, sizeof(*c));
  if (!c) {
    /* libuv offers no other connection until this one is accepted. */
    fprintf(stderr, "crpc-bench-h2floor: out of memory\n");
    s->rc = 1;
    stop(s);
    return;
  }
  uv_tcp_init(&s->loop, &c->tcp);
  c->tcp.data = c;
  c->wreq.data = c;
  c->srv = s;
  c->next = s->conns;
  if (s->conns)
    s->conns->prev = c;
  s->conns = c;
  if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0 || conn_start(c) != 0)
    conn_close(c);
}

/* ---- the server ---- */

/* Closes every handle: uv_run() then returns. */
static void stop(h2floor *s) {
  if (s->stopping)
    return;
  s->stopping = 1;
  uv_close((uv_handle_t *)&s->listener, NULL);
  uv_close((uv_handle_t *)&s->flush, NULL);
  uv_close((uv_handle_t *)&s->sigterm, NULL);
  uv_close((uv_handle_t *)&s->sigint, NULL);
  uv_close((uv_handle_t *)&s->lifetime, NULL);
  for (conn *c = s->conns; c; c = c->next)
    conn_close(c);
}

static void on_signal(uv_signal_t *h, int signum) {
  (void)signum;
  stop(h->data);
}

static void on_lifetime(uv_timer_t *t) {
  stop(t->data);
}

/* Listens on |host|:|port| and prints where. Returns 0, or -1 after
 * printing why. */
static int listen_on(h2floor *s, const char *host, int port) {
  char service[16];
  snprintf(service, sizeof(service), "%d", port);
  struct addrinfo hints = {.ai_family = AF_UNSPEC,
                           .ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
  struct addrinfo *ai = NULL;
  int rc = getaddrinfo(host, service, &hints, &ai);
  if (rc != 0) {
    fprintf(stderr, "crpc-bench-h2floor: %s: %s\n", host, gai_strerror(rc));
    return -1;
  }
  struct sockaddr_storage sa;
  int len = sizeof(sa);
  rc = uv_tcp_bind(&s->listener, ai->ai_addr, 0);
  if (rc == 0)
    rc = uv_listen((uv_stream_t *)&s->listener, 128, on_accept);
  if (rc == 0)
    rc = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&sa, &len);
  freeaddrinfo(ai);
  if (rc != 0) {
    fprintf(stderr, "crpc-bench-h2floor: cannot listen on %s:%d: %s\n", host,
            port, uv_strerror(rc));
    return -1;
  }
  int bound =
      ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
                                     : ((struct sockaddr_in *)&sa)->sin_port);
  printf(strchr(host, ':') ? "listening on [%s]:%d\n" : "listening on %s:%d\n",
         host, bound);
  fflush(stdout);
  return 0;
}

/* The loop's handles, each with |s| as its data. */
static void open_handles(h2floor *s) {
  uv_loop_init(&s->loop);
  uv_tcp_init(&s->loop, &s->listener);
  uv_prepare_init(&s->loop, &s->flush);
  uv_signal_init(&s->loop, &s->sigterm);
  uv_signal_init(&s->loop, &s->sigint);
  uv_timer_init(&s->loop, &s->lifetime);
  s->listener.data = s->flush.data = s->sigterm.data = s;
  s->sigint.data = s->lifetime.data = s;
}

static int serve(const char *host, int port, int resp_size, int lifetime_s) {
  h2floor *s = calloc(1, sizeof(*s));
  if (!s) {
    fprintf(stderr, "crpc-bench-h2floor: out of memory\n");
    return 1;
  }
  open_handles(s);
  /* The parent's death ends the server as SIGTERM does. */
  uv_signal_start(&s->sigterm, on_signal, SIGTERM);
  uv_signal_start(&s->sigint, on_signal, SIGINT);
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (make_response(s, (size_t)resp_size) != 0 || callbacks_new(&s->cbs)) {
    fprintf(stderr, "crpc-bench-h2floor: out of memory\n");
    s->rc = 1;
  } else if (listen_on(s, host, port) != 0) {
    s->rc = 1;
  } else {
    uv_prepare_start(&s->flush, on_flush);
    uv_timer_start(&s->lifetime, on_lifetime, (uint64_t)lifetime_s * 1000, 0);
    uv_run(&s->loop, UV_RUN_DEFAULT);
  }
  stop(s);
  uv_run(&s->loop, UV_RUN_DEFAULT); /* the close callbacks */
  uv_loop_close(&s->loop);
  nghttp2_session_callbacks_del(s->cbs);
  free(s->resp);
  int rc = s->rc;
  free(s);
  return rc;
}

typedef struct h2floor_flags {
  int port, resp_size, lifetime_s;
  const char *host;
} h2floor_flags;

/* The flags' ranges: NULL, or what is wrong. */
static const char *check_flags(const h2floor_flags *f) {
  if (f->port < 0 || f->port > 65535)
    return "--port N (0 to 65535) is required";
  if (f->resp_size > MAX_RESP_SIZE)
    return "--resp_size must be in [0, 4194304]";
  if (f->lifetime_s < 1)
    return "--max_lifetime_s must be at least 1";
  return NULL;
}

int main(int argc, char **argv) {
  /* --port -1: not given (the parser takes no negative number). */
  h2floor_flags f = {
      .port = -1, .resp_size = 0, .lifetime_s = 3600, .host = "127.0.0.1"};
  const tool_flag flags[] = {
      {"port", TOOL_FLAG_INT, &f.port},
      {"host", TOOL_FLAG_STRING, &f.host},
      {"resp_size", TOOL_FLAG_INT, &f.resp_size},
      {"max_lifetime_s", TOOL_FLAG_INT, &f.lifetime_s},
  };
  const char *prog = "crpc-bench-h2floor";
  if (tool_flags_parse(prog, USAGE, argc, argv, flags,
                       sizeof(flags) / sizeof(flags[0])) != 0)
    return 2;
  const char *why = check_flags(&f);
  if (why) {
    fprintf(stderr, "%s: %s\n%s", prog, why, USAGE);
    return 2;
  }
  /* A peer gone mid-write is an error of that write, not a signal. */
  signal(SIGPIPE, SIG_IGN);
  return serve(f.host, f.port, f.resp_size, f.lifetime_s);
}
