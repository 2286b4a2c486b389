/* Tests for server/metrics_http.c, through a server made with
 * metrics_listen: GET /metrics answers the server's page (its grpc_server_*
 * and, from a channel with its interceptor, grpc_client_* families, and
 * its own gauges), other paths 404, other methods 405, bad and oversized
 * heads 400 and 431; connections kept alive or closed as HTTP/1.x says,
 * pipelined requests answered in turn; crpc_server_metrics_port() and
 * crpc_server_metrics_text(); a server without metrics; and a server on an
 * application's loop that closes its endpoint with itself. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <uv.h>

#include "crpc/call.h"
#include "crpc/channel.h"
#include "crpc/error.h"
#include "crpc/server.h"
#include "grpc/health/v1/health.pb-c.h"
#include "health.h"

/* A socket to 127.0.0.1:|port| that gives up reading after 10 s. */
static int dial(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  cr_assert_geq(fd, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  struct timeval tv = {10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

static void send_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    cr_assert_gt(w, 0);
    p += w;
    n -= (size_t)w;
  }
}

typedef struct response {
  int status;
  char head[1024];
  char *body; /* NUL-terminated, malloc'd */
  size_t len;
} response;

/* Bytes read from a connection and not yet taken as a response. */
typedef struct reader {
  int fd;
  char buf[1 << 20];
  size_t n;
} reader;

/* Reads one response; |head_only|: it has no body whatever its
 * Content-Length says. Returns 0, or -1 when the connection closed first.
 */
static int read_response(reader *rd, response *r, int head_only) {
  char *end;
  while (!(end = memmem(rd->buf, rd->n, "\r\n\r\n", 4))) {
    ssize_t got = recv(rd->fd, rd->buf + rd->n, sizeof(rd->buf) - rd->n, 0);
    if (got <= 0)
      return -1;
    rd->n += (size_t)got;
  }
  size_t head_len = (size_t)(end - rd->buf) + 4;
  cr_assert_lt(head_len, sizeof(r->head));
  memcpy(r->head, rd->buf, head_len);
  r->head[head_len] = '\0';
  cr_assert_eq(sscanf(r->head, "HTTP/1.1 %d ", &r->status), 1, "%s", r->head);
  const char *cl = strcasestr(r->head, "\r\nContent-Length: ");
  cr_assert_not_null(cl, "no Content-Length in %s", r->head);
  size_t len = strtoul(cl + 18, NULL, 10);
  if (head_only)
    len = 0;
  while (rd->n < head_len + len) {
    ssize_t got = recv(rd->fd, rd->buf + rd->n, sizeof(rd->buf) - rd->n, 0);
    cr_assert_gt(got, 0, "the body was cut short");
    rd->n += (size_t)got;
  }
  r->body = malloc(len + 1);
  memcpy(r->body, rd->buf + head_len, len);
  r->body[len] = '\0';
  r->len = len;
  rd->n -= head_len + len;
  memmove(rd->buf, rd->buf + head_len + len, rd->n);
  return 0;
}

/* Whether the server closes the connection (reads 0, not a timeout). */
static int closed_by_server(reader *rd) {
  char c;
  return rd->n == 0 && recv(rd->fd, &c, 1, 0) == 0;
}

static reader *open_reader(int port) {
  reader *rd = calloc(1, sizeof(*rd));
  rd->fd = dial(port);
  return rd;
}

static void close_reader(reader *rd) {
  close(rd->fd);
  free(rd);
}

/* One request on a connection of its own; the response. */
static response request(int port, const char *text) {
  reader *rd = open_reader(port);
  send_all(rd->fd, text, strlen(text));
  response r;
  cr_assert_eq(read_response(rd, &r, 0), 0, "no response to %s", text);
  close_reader(rd);
  return r;
}

static void assert_has(const char *text, const char *what) {
  cr_assert_not_null(strstr(text, what), "no '%s' in:\n%s", what, text);
}

/* A started server with metrics on 127.0.0.1:0 and a gRPC listener. */
static crpc_server *metrics_server(const char *metrics_listen) {
  crpc_server_opts o;
  crpc_server_opts_init(&o);
  o.loops = 2;
  o.workers = 1;
  o.metrics_listen = metrics_listen;
  crpc_server *srv = NULL;
  cr_assert_eq(crpc_server_new(&o, &srv), 0);
  cr_assert_eq(crpc_server_listen(srv, "127.0.0.1:0", NULL), 0);
  cr_assert_eq(crpc_server_metrics_port(srv), -1, "a port before the start");
  cr_assert_eq(crpc_server_start(srv), 0, "%s", crpc_server_error(srv));
  return srv;
}

/* A Check of the health service over |ch|. */
static void health_check(crpc_channel *ch) {
  Grpc__Health__V1__HealthCheckRequest req =
      GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
  ProtobufCMessage *reply = NULL;
  cr_assert_eq(crpc_call_unary(ch, &crpc__health_desc.methods[0], &req.base,
                               &reply, NULL),
               CRPC_STATUS_OK);
  protobuf_c_message_free_unpacked(reply, NULL);
}

Test(metrics_http, get_metrics_has_the_calls_and_the_server, .timeout = 60) {
  crpc_server *srv = metrics_server("127.0.0.1:0");
  int port = crpc_server_metrics_port(srv);
  cr_assert_gt(port, 0);
  cr_assert_neq(port, crpc_server_port(srv, 0));

  /* The server's registry counts a channel's calls too. */
  crpc_metrics *m = crpc_server_metrics(srv);
  cr_assert_not_null(m);
  crpc_interceptor ic = crpc_metrics_interceptor(m);
  crpc_channel_opts co;
  crpc_channel_opts_init(&co);
  co.interceptors = &ic;
  co.n_interceptors = 1;
  char target[64];
  snprintf(target, sizeof(target), "127.0.0.1:%d", crpc_server_port(srv, 0));
  crpc_channel *ch;
  cr_assert_eq(crpc_channel_new(target, &co, &ch), 0);
  for (int i = 0; i < 3; i++)
    health_check(ch);

  response r = request(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  cr_assert_eq(r.status, 200, "%s", r.head);
  assert_has(r.head,
             "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n");
  assert_has(r.head, "\r\nConnection: keep-alive\r\n");
  assert_has(r.body, "\ngrpc_server_handled_total{grpc_code=\"OK\","
                     "grpc_method=\"Check\",grpc_service=\"grpc.health.v1."
                     "Health\",grpc_type=\"unary\"} 3\n");
  assert_has(r.body, "\ngrpc_client_handled_total{grpc_code=\"OK\","
                     "grpc_method=\"Check\",grpc_service=\"grpc.health.v1."
                     "Health\",grpc_type=\"unary\"} 3\n");
  assert_has(r.body, "\n# TYPE crpc_server_connections gauge\n"
                     "crpc_server_connections 1\n");
  assert_has(r.body, "\n# TYPE crpc_server_rejected_calls_total counter\n");
  assert_has(r.body,
             "\ncrpc_server_rejected_calls_total{reason=\"unimplemented\"} "
             "0\n");
  assert_has(r.body, "\ncrpc_server_worker_threads 1\n");
  cr_assert_eq(strncmp(r.body, "# HELP grpc_server_started_total ", 33), 0,
               "the page starts with %.60s", r.body);
  cr_assert_eq(r.body[r.len - 1], '\n');
  const char *rx = strstr(r.body, "\ncrpc_server_received_bytes_total ");
  cr_assert_not_null(rx);
  cr_assert_gt(strtoull(rx + 34, NULL, 10), 0);

  /* The embedding API writes the same page. */
  char *text;
  size_t len;
  cr_assert_eq(crpc_server_metrics_text(srv, &text, &len), 0);
  cr_assert_eq(strlen(text), len);
  assert_has(text, "grpc_client_started_total{grpc_method=\"Check\","
                   "grpc_service=\"grpc.health.v1.Health\",grpc_type="
                   "\"unary\"} 3\n");
  free(text);
  free(r.body);

  crpc_channel_free(ch);
  crpc_server_free(srv);
}

Test(metrics_http, other_paths_methods_and_heads, .timeout = 60) {
  crpc_server *srv = metrics_server("127.0.0.1:0");
  int port = crpc_server_metrics_port(srv);

  response r = request(port, "GET / HTTP/1.1\r\n\r\n");
  cr_assert_eq(r.status, 404);
  free(r.body);
  r = request(port, "GET /metricsx HTTP/1.1\r\n\r\n");
  cr_assert_eq(r.status, 404);
  free(r.body);
  r = request(port, "GET /metrics?name[]=up HTTP/1.1\r\n\r\n");
  cr_assert_eq(r.status, 200, "a query is not part of the path");
  free(r.body);
  r = request(port, "DELETE /metrics HTTP/1.1\r\n\r\n");
  cr_assert_eq(r.status, 405);
  assert_has(r.head, "\r\nAllow: GET, HEAD\r\n");
  free(r.body);

  /* HEAD: the page's length, no body. */
  reader *rd = open_reader(port);
  const char *head = "HEAD /metrics HTTP/1.1\r\n\r\nGET /nope HTTP/1.1\r\n\r\n";
  send_all(rd->fd, head, strlen(head));
  cr_assert_eq(read_response(rd, &r, 1), 0);
  cr_assert_eq(r.status, 200, "%s", r.head);
  cr_assert_eq(r.len, 0);
  free(r.body);
  cr_assert_eq(read_response(rd, &r, 0), 0, "the next request is answered");
  cr_assert_eq(r.status, 404);
  free(r.body);
  close_reader(rd);

  /* A head that cannot be parsed: 400, then the connection closes. */
  rd = open_reader(port);
  send_all(rd->fd, "NOT HTTP\r\n\r\n", 12);
  cr_assert_eq(read_response(rd, &r, 0), 0);
  cr_assert_eq(r.status, 400);
  assert_has(r.head, "\r\nConnection: close\r\n");
  free(r.body);
  cr_assert(closed_by_server(rd));
  close_reader(rd);

  /* A head past 8 KiB: 431, then the connection closes. */
  rd = open_reader(port);
  char *big = malloc(20000);
  int n = snprintf(big, 20000, "GET /metrics HTTP/1.1\r\nX-Big: ");
  memset(big + n, 'a', 19000);
  send_all(rd->fd, big, (size_t)n + 19000);
  free(big);
  cr_assert_eq(read_response(rd, &r, 0), 0);
  cr_assert_eq(r.status, 431);
  free(r.body);
  cr_assert(closed_by_server(rd));
  close_reader(rd);

  /* A body is not read: the answer closes the connection. */
  rd = open_reader(port);
  const char *post = "POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc";
  send_all(rd->fd, post, strlen(post));
  cr_assert_eq(read_response(rd, &r, 0), 0);
  cr_assert_eq(r.status, 405);
  assert_has(r.head, "\r\nConnection: close\r\n");
  free(r.body);
  rd->n = 0;
  cr_assert(closed_by_server(rd));
  close_reader(rd);
  crpc_server_free(srv);
}

Test(metrics_http, keep_alive_pipelining_and_close, .timeout = 60) {
  crpc_server *srv = metrics_server("127.0.0.1:0");
  int port = crpc_server_metrics_port(srv);
  response r;

  /* HTTP/1.1: several requests on one connection, some sent at once. */
  reader *rd = open_reader(port);
  const char *one = "GET /metrics HTTP/1.1\r\n\r\n";
  send_all(rd->fd, one, strlen(one));
  cr_assert_eq(read_response(rd, &r, 0), 0);
  cr_assert_eq(r.status, 200);
  free(r.body);
  char three[256];
  snprintf(three, sizeof(three), "%s%s%s", one, one,
           "GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n");
  send_all(rd->fd, three, strlen(three));
  for (int i = 0; i < 3; i++) {
    cr_assert_eq(read_response(rd, &r, 0), 0, "response %d", i);
    cr_assert_eq(r.status, 200);
    assert_has(r.head, i < 2 ? "\r\nConnection: keep-alive\r\n"
                             : "\r\nConnection: close\r\n");
    free(r.body);
  }
  cr_assert(closed_by_server(rd), "Connection: close is honoured");
  close_reader(rd);

  /* HTTP/1.0: closed after the answer unless asked to keep it. */
  rd = open_reader(port);
  const char *old = "GET /metrics HTTP/1.0\r\n\r\n";
  send_all(rd->fd, old, strlen(old));
  cr_assert_eq(read_response(rd, &r, 0), 0);
  cr_assert_eq(r.status, 200);
  assert_has(r.head, "\r\nConnection: close\r\n");
  free(r.body);
  cr_assert(closed_by_server(rd));
  close_reader(rd);
  rd = open_reader(port);
  const char *kept = "GET /metrics HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
  send_all(rd->fd, kept, strlen(kept));
  send_all(rd->fd, kept, strlen(kept));
  for (int i = 0; i < 2; i++) {
    cr_assert_eq(read_response(rd, &r, 0), 0);
    cr_assert_eq(r.status, 200);
    free(r.body);
  }
  close_reader(rd);

  /* Connections still open when the server goes are closed with it. */
  rd = open_reader(port);
  send_all(rd->fd, "GET /met", 8);
  reader *idle = open_reader(port);
  crpc_server_free(srv);
  cr_assert(closed_by_server(rd));
  cr_assert(closed_by_server(idle));
  close_reader(rd);
  close_reader(idle);
}

Test(metrics_http, without_metrics_nothing_is_installed, .timeout = 30) {
  crpc_server_opts o;
  crpc_server_opts_init(&o);
  o.loops = 1;
  o.workers = 1;
  crpc_server *srv;
  cr_assert_eq(crpc_server_new(&o, &srv), 0);
  cr_assert_eq(crpc_server_start(srv), 0);
  cr_assert_eq(crpc_server_metrics_port(srv), -1);
  cr_assert_null(crpc_server_metrics(srv), "no registry once started");
  char *text;
  size_t len;
  cr_assert_eq(crpc_server_metrics_text(srv, &text, &len), 0);
  cr_assert_null(strstr(text, "grpc_server_"));
  assert_has(text, "crpc_server_connections 0\n");
  free(text);
  crpc_server_free(srv);

  /* Asked for before the start, without an endpoint. */
  cr_assert_eq(crpc_server_new(&o, &srv), 0);
  crpc_metrics *m = crpc_server_metrics(srv);
  cr_assert_not_null(m);
  cr_assert_eq(crpc_server_metrics(srv), m, "one registry");
  cr_assert_eq(crpc_server_start(srv), 0);
  cr_assert_eq(crpc_server_metrics_port(srv), -1);
  cr_assert_eq(crpc_server_metrics(srv), m);
  crpc_server_free(srv);
}

Test(metrics_http, an_address_it_cannot_listen_on_fails_the_start,
     .timeout = 30) {
  crpc_server_opts o;
  crpc_server_opts_init(&o);
  o.loops = 1;
  o.workers = 1;
  o.metrics_listen = "nowhere";
  crpc_server *srv;
  cr_assert_eq(crpc_server_new(&o, &srv), 0);
  cr_assert_eq(crpc_server_start(srv), CRPC_EINVAL);
  assert_has(crpc_server_error(srv), "metrics: bad listen address 'nowhere'");
  crpc_server_free(srv);

  /* A port in use: bound, then refused; the handle closes with the loop. */
  crpc_server *first = metrics_server("127.0.0.1:0");
  char addr[64];
  snprintf(addr, sizeof(addr), "127.0.0.1:%d", crpc_server_metrics_port(first));
  o.metrics_listen = addr;
  cr_assert_eq(crpc_server_new(&o, &srv), 0);
  cr_assert_eq(crpc_server_start(srv), UV_EADDRINUSE);
  assert_has(crpc_server_error(srv), "metrics: cannot listen on 127.0.0.1:");
  crpc_server_free(srv);
  crpc_server_free(first);
}

/* On an application's loop: the endpoint runs there, and the server's
 * free closes it with the rest, leaving nothing open. */
typedef struct app {
  int port;
  int status;
  uv_async_t done;
  crpc_server *srv;
} app;

static void fetch_then_free(void *arg) {
  app *a = arg;
  reader *rd = open_reader(a->port);
  const char *req = "GET /metrics HTTP/1.1\r\n\r\n";
  send_all(rd->fd, req, strlen(req));
  response r;
  if (read_response(rd, &r, 0) == 0) {
    a->status = r.status;
    free(r.body);
  }
  /* Left open: the server's free must close it. */
  uv_async_send(&a->done);
  close_reader(rd);
}

static void on_done(uv_async_t *h) {
  app *a = h->data;
  uv_close((uv_handle_t *)h, NULL);
  crpc_server_free(a->srv);
}

static void left_open(uv_handle_t *h, void *arg) {
  (void)arg;
  cr_assert_fail("handle of type %s left open", uv_handle_type_name(h->type));
}

Test(metrics_http, on_an_application_loop, .timeout = 60) {
  uv_loop_t uv;
  cr_assert_eq(uv_loop_init(&uv), 0);
  crpc_loop *loop;
  cr_assert_eq(crpc_loop_new(&uv, NULL, &loop), 0);
  crpc_server_opts o;
  crpc_server_opts_init(&o);
  o.loop = loop;
  o.workers = 1;
  o.metrics_listen = "127.0.0.1:0";
  app a = {0};
  cr_assert_eq(crpc_server_new(&o, &a.srv), 0);
  cr_assert_eq(crpc_server_start(a.srv), 0, "%s", crpc_server_error(a.srv));
  a.port = crpc_server_metrics_port(a.srv);
  cr_assert_gt(a.port, 0);
  uv_async_init(&uv, &a.done, on_done);
  a.done.data = &a;
  uv_thread_t t;
  cr_assert_eq(uv_thread_create(&t, fetch_then_free, &a), 0);
  uv_run(&uv, UV_RUN_DEFAULT);
  uv_thread_join(&t);
  cr_assert_eq(a.status, 200);
  crpc_loop_free(loop);
  uv_run(&uv, UV_RUN_DEFAULT);
  uv_walk(&uv, left_open, NULL);
  cr_assert_eq(uv_loop_close(&uv), 0);
}
