/*
 * bench/crpc/server.c: crpc-bench-server, crpc's side of the benchmarks
 * against gRPC C++ (issue 7).
 *
 *   crpc-bench-server --port N [--host H] [--placement loop|worker]
 *       [--tls_cert FILE --tls_key FILE]
 *       [--loops N] [--workers N] [--max_lifetime_s N]
 *       [--metrics_listen ADDR] [--busy_poll_us N] [--gather_us N|off]
 *
 * Serves grpc.testing.BenchmarkService and helloworld.Greeter on H:N
 * (127.0.0.1 unless given; port 0 picks a free one) with the server
 * embedded: UnaryCall answers response_size zero bytes, StreamingCall one
 * such reply per request, StreamingFromServer sends them back to back
 * until the client cancels, StreamingFromClient replies once after the
 * client half-closes, StreamingBothWays is UNIMPLEMENTED, and SayHello
 * answers "Hello " + name. --placement runs every method as a coroutine on
 * the connection's loop (the default) or on the worker pool; --loops and
 * --workers size them (1 each by default). --metrics_listen serves the
 * server's metrics at http://ADDR/metrics (crpc_server_opts.metrics_listen),
 * so that every call is counted and timed as a scraped server's are.
 * --busy_poll_us sets crpc_server_opts.busy_poll_us (0, off, by default),
 * --gather_us crpc_server_opts.gather_us (off: CRPC_GATHER_OFF). Once
 * serving it prints "listening on HOST:PORT", then, with metrics, "metrics
 * on port N"; SIGTERM or SIGINT (or the parent's death, or
 * --max_lifetime_s, default 3600) shuts it down and it exits 0.
 * --tls_cert and --tls_key (both or neither: PEM certificate chain and
 * private key) serve TLS with ALPN h2 instead of cleartext HTTP/2.
 *
 * For example, server on core 0 and load on core 1:
 *   taskset -c 0 crpc-bench-server --port 0 &
 *   taskset -c 1 crpc-bench-client --target 127.0.0.1:PORT --scenario unary
 */
#define _GNU_SOURCE

#include "grpc/examples/helloworld.crpc.h"
#include "grpc/testing/benchmark_service.crpc.h"
#include "flags.h"

#include <crpc/error.h>
#include <crpc/future.h>
#include <crpc/server.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

static const char USAGE[] =
    "usage: crpc-bench-server --port N [--host H] [--placement loop|worker]\n"
    "           [--tls_cert FILE --tls_key FILE]\n"
    "           [--loops N] [--workers N] [--max_lifetime_s N]\n"
    "           [--metrics_listen ADDR] [--busy_poll_us N] [--gather_us "
    "N|off]\n";

/* The largest reply payload: the server's default send limit. Replies
 * point into this one zeroed buffer (untouched pages cost no memory); it
 * is only read, and the server serializes a reply after its handler has
 * returned, so nothing is copied per call but by that serialization. */
#define MAX_PAYLOAD (4u << 20)
static uint8_t zeros[MAX_PAYLOAD];

/* Checks a requested response size; sets |*n| on success. */
static crpc_status response_size(crpc_ctx *ctx, int32_t size, size_t *n) {
  if (size < 0 || (uint32_t)size > MAX_PAYLOAD) {
    crpc_ctx_set_message(ctx, "response_size out of range");
    return CRPC_STATUS_INVALID_ARGUMENT;
  }
  *n = (size_t)size;
  return CRPC_STATUS_OK;
}

static crpc_status unary_call(crpc_ctx *ctx,
                              const Grpc__Testing__SimpleRequest *req,
                              Grpc__Testing__SimpleResponse *reply) {
  size_t n;
  crpc_status st = response_size(ctx, req->response_size, &n);
  if (st != CRPC_STATUS_OK)
    return st;
  Grpc__Testing__Payload *payload = crpc_ctx_alloc(ctx, sizeof(*payload));
  if (!payload)
    return CRPC_STATUS_RESOURCE_EXHAUSTED;
  grpc__testing__payload__init(payload);
  payload->body.len = n;
  payload->body.data = zeros;
  reply->payload = payload;
  return CRPC_STATUS_OK;
}

/* Ping-pong: one reply per request, until the client half-closes. */
static crpc_status streaming_call(
    crpc_ctx *ctx,
    grpc_testing_benchmark_service_streaming_call_server_stream *stream) {
  Grpc__Testing__Payload payload = GRPC__TESTING__PAYLOAD__INIT;
  Grpc__Testing__SimpleResponse reply = GRPC__TESTING__SIMPLE_RESPONSE__INIT;
  payload.body.data = zeros;
  reply.payload = &payload;
  for (;;) {
    Grpc__Testing__SimpleRequest *req = NULL;
    crpc_status st =
        grpc_testing_benchmark_service_streaming_call_recv(stream, &req);
    if (st != CRPC_STATUS_OK || !req)
      return st;
    st = response_size(ctx, req->response_size, &payload.body.len);
    if (st == CRPC_STATUS_OK)
      st = grpc_testing_benchmark_service_streaming_call_send(stream, &reply);
    if (st != CRPC_STATUS_OK)
      return st;
  }
}

/* Reads every request, then replies once with the last one's size. */
static crpc_status streaming_from_client(
    crpc_ctx *ctx,
    grpc_testing_benchmark_service_streaming_from_client_receiver *in,
    Grpc__Testing__SimpleResponse *reply) {
  int32_t size = 0;
  for (;;) {
    Grpc__Testing__SimpleRequest *req = NULL;
    crpc_status st =
        grpc_testing_benchmark_service_streaming_from_client_recv(in, &req);
    if (st != CRPC_STATUS_OK)
      return st;
    if (!req)
      break;
    size = req->response_size;
  }
  Grpc__Testing__SimpleRequest last = GRPC__TESTING__SIMPLE_REQUEST__INIT;
  last.response_size = size;
  return unary_call(ctx, &last, reply);
}

/* Replies back to back until the client cancels. */
static crpc_status streaming_from_server(
    crpc_ctx *ctx, const Grpc__Testing__SimpleRequest *req,
    grpc_testing_benchmark_service_streaming_from_server_sender *out) {
  Grpc__Testing__Payload payload = GRPC__TESTING__PAYLOAD__INIT;
  Grpc__Testing__SimpleResponse reply = GRPC__TESTING__SIMPLE_RESPONSE__INIT;
  crpc_status st = response_size(ctx, req->response_size, &payload.body.len);
  payload.body.data = zeros;
  reply.payload = &payload;
  while (st == CRPC_STATUS_OK)
    st = grpc_testing_benchmark_service_streaming_from_server_send(out, &reply);
  return st;
}

static const grpc_testing_benchmark_service_handlers benchmark_handlers = {
    .unary_call = unary_call,
    .streaming_call = streaming_call,
    .streaming_from_client = streaming_from_client,
    .streaming_from_server = streaming_from_server,
    .streaming_both_ways = NULL, /* UNIMPLEMENTED, as the contract allows */
};

static crpc_status say_hello(crpc_ctx *ctx, const Helloworld__HelloRequest *req,
                             Helloworld__HelloReply *reply) {
  static const char hello[] = "Hello ";
  size_t n = strlen(req->name);
  char *msg = crpc_ctx_alloc(ctx, sizeof(hello) + n);
  if (!msg)
    return CRPC_STATUS_RESOURCE_EXHAUSTED;
  memcpy(msg, hello, sizeof(hello) - 1);
  memcpy(msg + sizeof(hello) - 1, req->name, n + 1);
  reply->message = msg;
  return CRPC_STATUS_OK;
}

static const helloworld_greeter_handlers greeter_handlers = {
    .say_hello = say_hello,
};

/* Puts every method of |svc| (described by |desc|) on |where|. */
static int place_all(crpc_service *svc, const crpc_service_desc *desc,
                     crpc_placement where) {
  for (size_t i = 0; i < desc->n_methods; i++) {
    int rc = crpc_service_set_placement(svc, desc->methods[i].name, where);
    if (rc != 0)
      return rc;
  }
  return 0;
}

typedef struct server_flags {
  int port, loops, workers, lifetime_s, busy_poll_us;
  uint32_t gather_us;
  const char *host;
  const char *metrics_listen;     /* NULL: no metrics */
  const char *tls_cert, *tls_key; /* both NULL: cleartext */
  crpc_placement placement;
} server_flags;

/* Checks that --|name|'s value |v| lies in [lo, hi]; -1 after printing
 * why. */
static int in_range(const char *name, int v, int lo, int hi) {
  if (v >= lo && v <= hi)
    return 0;
  fprintf(stderr, "crpc-bench-server: --%s must be in [%d, %d]\n%s", name, lo,
          hi, USAGE);
  return -1;
}

/* Reads "--name value" and "--name=value" flags; -1 after printing why. */
static int parse_flags(int argc, char **argv, server_flags *f) {
  const char *placement = "loop";
  const char *gather = "0";
  const tool_flag flags[] = {
      {"port", TOOL_FLAG_INT, &f->port},
      {"host", TOOL_FLAG_STRING, &f->host},
      {"placement", TOOL_FLAG_STRING, &placement},
      {"loops", TOOL_FLAG_INT, &f->loops},
      {"workers", TOOL_FLAG_INT, &f->workers},
      {"max_lifetime_s", TOOL_FLAG_INT, &f->lifetime_s},
      {"tls_cert", TOOL_FLAG_STRING, &f->tls_cert},
      {"tls_key", TOOL_FLAG_STRING, &f->tls_key},
      {"metrics_listen", TOOL_FLAG_STRING, &f->metrics_listen},
      {"busy_poll_us", TOOL_FLAG_INT, &f->busy_poll_us},
      {"gather_us", TOOL_FLAG_STRING, &gather},
  };
  if (tool_flags_parse("crpc-bench-server", USAGE, argc, argv, flags,
                       sizeof(flags) / sizeof(flags[0])) != 0)
    return -1;
  if (f->port < 0) {
    fprintf(stderr, "crpc-bench-server: --port N is required\n%s", USAGE);
    return -1;
  }
  if ((f->tls_cert == NULL) != (f->tls_key == NULL)) {
    fprintf(stderr, "crpc-bench-server: %s without %s: TLS needs both\n",
            f->tls_cert ? "--tls_cert" : "--tls_key",
            f->tls_cert ? "--tls_key" : "--tls_cert");
    return -1;
  }
  if (strcmp(placement, "loop") == 0) {
    f->placement = CRPC_PLACEMENT_LOOP;
  } else if (strcmp(placement, "worker") == 0) {
    f->placement = CRPC_PLACEMENT_WORKER;
  } else {
    fprintf(stderr, "crpc-bench-server: --placement is loop or worker\n%s",
            USAGE);
    return -1;
  }
  if (in_range("port", f->port, 0, 65535) != 0 ||
      in_range("loops", f->loops, 1, 1024) != 0 ||
      in_range("workers", f->workers, 1, 1024) != 0 ||
      in_range("max_lifetime_s", f->lifetime_s, 1, INT_MAX) != 0 ||
      in_range("busy_poll_us", f->busy_poll_us, 0, 1000000) != 0)
    return -1;
  char *end;
  unsigned long us = strtoul(gather, &end, 10);
  if (strcmp(gather, "off") == 0) {
    f->gather_us = CRPC_GATHER_OFF;
  } else if (*gather < '0' || *gather > '9' || *end != '\0' || us > 1000) {
    fprintf(stderr, "crpc-bench-server: --gather_us is 0..1000 or off\n%s",
            USAGE);
    return -1;
  } else {
    f->gather_us = (uint32_t)us;
  }
  return 0;
}

/* Adds both services, every method placed on |where|. */
static int add_services(crpc_server *srv, crpc_placement where) {
  crpc_service *bench =
      grpc_testing_benchmark_service_service(&benchmark_handlers, NULL);
  crpc_service *greeter = helloworld_greeter_service(&greeter_handlers, NULL);
  int rc = bench && greeter ? 0 : CRPC_ENOMEM;
  if (rc == 0)
    rc = place_all(bench, &grpc_testing_benchmark_service_desc, where);
  if (rc == 0)
    rc = place_all(greeter, &helloworld_greeter_desc, where);
  if (rc != 0) {
    crpc_service_free(bench);
    crpc_service_free(greeter);
    return rc;
  }
  rc = crpc_server_add_service(srv, bench); /* the server's now */
  int rc2 = crpc_server_add_service(srv, greeter);
  return rc != 0 ? rc : rc2;
}

int main(int argc, char **argv) {
  server_flags f = {.port = -1,
                    .loops = 1,
                    .workers = 1,
                    .lifetime_s = 3600,
                    .host = "127.0.0.1",
                    .placement = CRPC_PLACEMENT_LOOP};
  if (parse_flags(argc, argv, &f) != 0)
    return 2;

  /* Signals are waited for below, never delivered to a server thread; the
   * parent's death ends the server as SIGTERM does. */
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  sigprocmask(SIG_BLOCK, &sigs, NULL);
  signal(SIGPIPE, SIG_IGN);
  prctl(PR_SET_PDEATHSIG, SIGTERM);

  crpc_server_opts opts;
  crpc_server_opts_init(&opts);
  opts.loops = (unsigned)f.loops;
  opts.workers = (unsigned)f.workers;
  opts.metrics_listen = f.metrics_listen;
  opts.busy_poll_us = (uint32_t)f.busy_poll_us;
  opts.gather_us = f.gather_us;
  crpc_server *srv;
  if (crpc_server_new(&opts, &srv) != 0) {
    fprintf(stderr, "crpc-bench-server: out of memory\n");
    return 1;
  }
  char addr[300];
  snprintf(addr, sizeof(addr), strchr(f.host, ':') ? "[%s]:%d" : "%s:%d",
           f.host, f.port);
  crpc_tls_opts tls = {.cert_file = f.tls_cert, .key_file = f.tls_key};
  int rc = add_services(srv, f.placement);
  if (rc == 0)
    rc = crpc_server_listen(srv, addr, f.tls_cert ? &tls : NULL);
  if (rc == 0)
    rc = crpc_server_start(srv);
  if (rc != 0) {
    const char *why = crpc_server_error(srv);
    fprintf(stderr, "crpc-bench-server: %s\n",
            why[0] ? why : crpc_strerror(rc));
    crpc_server_free(srv);
    return 1;
  }
  snprintf(addr, sizeof(addr), strchr(f.host, ':') ? "[%s]:%d" : "%s:%d",
           f.host, crpc_server_port(srv, 0));
  printf("listening on %s\n", addr);
  if (f.metrics_listen)
    printf("metrics on port %d\n", crpc_server_metrics_port(srv));
  fflush(stdout);

  struct timespec limit = {f.lifetime_s, 0};
  siginfo_t info;
  while (sigtimedwait(&sigs, &info, &limit) < 0 && errno == EINTR) {
  }
  crpc_future *done = crpc_server_shutdown(srv);
  if (done) {
    crpc_future_wait(done);
    crpc_future_unref(done);
  }
  crpc_server_free(srv);
  return 0;
}
