/*
 * bench/runtime/bench_runtime.c: costs of the runtime's primitives.
 *
 * Prints one "name value unit" line per figure, each the median of several
 * timed rounds: the raw context switch, a coroutine's yield through the
 * loop, a future created, completed and continued on its loop, the round
 * trip of a job handed to the worker pool and back, and a message framed
 * for the wire (packed by protobuf-c) next to the check that runs before
 * the packing (crpc__msgcheck), for a small message and a nested one; and
 * what metrics cost (crpc/metrics.h): a call's start and end hooks of the
 * registry's interceptor, and writing a page of 300 methods.
 *
 * Usage: crpc-bench-runtime [--quick]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "buf.h"
#include "coro_ctx.h"
#include "crpc/coro.h"
#include "crpc/metrics.h"
#include "crpc/pool.h"
#include "frame.h"
#include "google/protobuf/api.pb-c.h"
#include "grpc/health/v1/health.pb-c.h"
#include "icall.h"
#include "msgcheck.h"
#include "stack.h"

#define ROUNDS 7

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof(*v), cmp_double);
  return v[n / 2];
}

static void report(const char *name, double *per_round, const char *unit) {
  printf("%s %.1f %s\n", name, median(per_round, ROUNDS), unit);
  fflush(stdout);
}

/* Raw switch: main -> context -> main, through crpc__ctx_switch only. */
static crpc__ctx main_ctx, co_ctx;

static void ping(void *arg) {
  (void)arg;
  for (;;)
    crpc__ctx_switch(&co_ctx, &main_ctx);
}

static void bench_ctx_switch(long n) {
  crpc__stack_pool pool;
  double r[ROUNDS];
  crpc__stack_pool_init(&pool, 64 * 1024, 1);
  crpc__stack *st = crpc__stack_get(&pool);
  crpc__ctx_make(&co_ctx, st->base, st->size, ping, NULL);
  for (int k = 0; k < ROUNDS; k++) {
    uint64_t t0 = uv_hrtime();
    for (long i = 0; i < n; i++)
      crpc__ctx_switch(&main_ctx, &co_ctx);
    r[k] = (double)(uv_hrtime() - t0) / (double)n;
  }
  report("coro_switch_round_trip", r, "ns");
  crpc__stack_put(&pool, st);
  crpc__stack_pool_cleanup(&pool);
}

/* Yield: suspend, be queued on the loop, be resumed. */
static crpc_status yielder(void *arg) {
  long n = *(long *)arg;
  for (long i = 0; i < n; i++)
    crpc_yield();
  return CRPC_STATUS_OK;
}

static void bench_yield(crpc_loop *loop, long n) {
  double r[ROUNDS];
  for (int k = 0; k < ROUNDS; k++) {
    crpc_coro_spawn(loop, yielder, &n, NULL);
    uint64_t t0 = uv_hrtime();
    crpc_loop_run(loop, CRPC_RUN_DEFAULT);
    r[k] = (double)(uv_hrtime() - t0) / (double)n;
  }
  report("coro_yield_via_loop", r, "ns");
}

/* Future: create, register a continuation, complete, run the continuation
 * on the loop, release. */
static long continued;

static void on_done(crpc_future *f, void *ud) {
  (void)f;
  (void)ud;
  continued++;
}

typedef struct future_round {
  crpc_loop *loop;
  long n;
} future_round;

static void future_batch(void *arg) {
  future_round *fr = arg;
  for (long i = 0; i < fr->n; i++) {
    crpc_future *f;
    crpc_future_new(fr->loop, &f);
    crpc_future_then(f, on_done, NULL);
    crpc_future_complete(f, CRPC_STATUS_OK, NULL, NULL, NULL);
    crpc_future_unref(f);
  }
}

static void bench_future(crpc_loop *loop, long n) {
  double r[ROUNDS];
  future_round fr = {loop, n};
  for (int k = 0; k < ROUNDS; k++) {
    continued = 0;
    crpc_loop_post(loop, future_batch, &fr);
    uint64_t t0 = uv_hrtime();
    crpc_loop_run(loop, CRPC_RUN_DEFAULT);
    r[k] = (double)(uv_hrtime() - t0) / (double)n;
    if (continued != n)
      fprintf(stderr, "bench: %ld of %ld continuations ran\n", continued, n);
  }
  report("future_create_complete_then", r, "ns");
}

/* Worker hand-off: a coroutine runs a no-op on the pool and resumes. */
static void *noop(void *arg) {
  return arg;
}

static crpc_status handoff(void *arg) {
  long n = *(long *)arg;
  for (long i = 0; i < n; i++)
    crpc_run_blocking(noop, NULL, NULL);
  return CRPC_STATUS_OK;
}

static void bench_handoff(crpc_loop *loop, long n) {
  double r[ROUNDS];
  for (int k = 0; k < ROUNDS; k++) {
    crpc_coro_spawn(loop, handoff, &n, NULL);
    uint64_t t0 = uv_hrtime();
    crpc_loop_run(loop, CRPC_RUN_DEFAULT);
    r[k] = (double)(uv_hrtime() - t0) / (double)n / 1000.0;
  }
  report("worker_handoff_round_trip", r, "us");
}

/* Framing |msg| (crpc__frame_encode, which checks, then packs) and the
 * check alone, per message. */
static void bench_encode(const char *name, const ProtobufCMessage *msg,
                         long n) {
  char what[96];
  double enc[ROUNDS], chk[ROUNDS];
  crpc__buf out;
  crpc__buf_init(&out, SIZE_MAX);
  for (int k = 0; k < ROUNDS; k++) {
    uint64_t t0 = uv_hrtime();
    for (long i = 0; i < n; i++) {
      crpc__buf_reset(&out);
      if (crpc__frame_encode(&out, msg, SIZE_MAX) != 0)
        abort();
    }
    enc[k] = (double)(uv_hrtime() - t0) / (double)n;
    t0 = uv_hrtime();
    for (long i = 0; i < n; i++)
      if (crpc__msgcheck(msg, NULL, 0) != 0)
        abort();
    chk[k] = (double)(uv_hrtime() - t0) / (double)n;
  }
  snprintf(what, sizeof(what), "frame_encode_%s_%zub", name,
           crpc__buf_len(&out));
  report(what, enc, "ns");
  snprintf(what, sizeof(what), "msgcheck_%s", name);
  report(what, chk, "ns");
  crpc__buf_cleanup(&out);
}

/* A reply the size of a greeting, and a nested one: a google.protobuf.Api
 * of 8 methods with options (repeated messages in repeated messages). */
static void bench_encodes(long n) {
  Grpc__Health__V1__HealthCheckRequest small =
      GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
  small.service = "greeter.Greeter/SayHello";
  bench_encode("small", &small.base, n);

  Google__Protobuf__Api api = GOOGLE__PROTOBUF__API__INIT;
  Google__Protobuf__Method methods[8], *mp[8];
  Google__Protobuf__Option opts[8], *op[8];
  api.name = "greeter.Greeter";
  api.version = "v1";
  for (int i = 0; i < 8; i++) {
    google__protobuf__method__init(&methods[i]);
    google__protobuf__option__init(&opts[i]);
    methods[i].name = "SayHello";
    methods[i].request_type_url = "type.googleapis.com/greeter.HelloRequest";
    methods[i].response_type_url = "type.googleapis.com/greeter.HelloReply";
    opts[i].name = "crpc.coroutine";
    op[i] = &opts[i];
    methods[i].n_options = 1;
    methods[i].options = &op[i];
    mp[i] = &methods[i];
  }
  api.n_methods = 8;
  api.methods = mp;
  bench_encode("nested", &api.base, n);
}

/* The registry's hooks for one call of a method already seen, and the
 * page of |n_methods| methods each called on the server side. */
#define PAGE_METHODS 300
static crpc_method page_methods[PAGE_METHODS];
static char page_paths[PAGE_METHODS][40];

static void metrics_call(crpc_metrics *m, const crpc_method *method) {
  crpc_interceptor ic = crpc_metrics_interceptor(m);
  crpc_icall call = {.side = CRPC_SIDE_SERVER, .method = method};
  void *state[2];
  crpc_icall_end end = {.code = CRPC_STATUS_OK,
                        .duration_ns = 120000,
                        .messages_received = 1,
                        .messages_sent = 1};
  ic.start(ic.data, &call, state);
  ic.end(ic.data, &call, state, &end);
}

static void bench_metrics(long n) {
  crpc_metrics *m;
  if (crpc_metrics_new(&m) != 0)
    abort();
  for (int i = 0; i < PAGE_METHODS; i++) {
    snprintf(page_paths[i], sizeof(page_paths[i]), "/bench.Service%d/M%d",
             i / 10, i);
    page_methods[i] = (crpc_method){.name = strrchr(page_paths[i], '/') + 1,
                                    .path = page_paths[i],
                                    .kind = (crpc_method_kind)(i % 4)};
    metrics_call(m, &page_methods[i]);
  }
  double r[ROUNDS];
  for (int k = 0; k < ROUNDS; k++) {
    uint64_t t0 = uv_hrtime();
    for (long i = 0; i < n; i++)
      metrics_call(m, &page_methods[i % PAGE_METHODS]);
    r[k] = (double)(uv_hrtime() - t0) / (double)n;
  }
  report("metrics_call_start_end", r, "ns");
  size_t len = 0;
  for (int k = 0; k < ROUNDS; k++) {
    char *text;
    uint64_t t0 = uv_hrtime();
    if (crpc_metrics_text(m, &text, &len) != 0)
      abort();
    r[k] = (double)(uv_hrtime() - t0) / 1000.0;
    free(text);
  }
  char what[64];
  snprintf(what, sizeof(what), "metrics_page_%d_methods_%zukb", PAGE_METHODS,
           len / 1024);
  report(what, r, "us");
  crpc_metrics_free(m);
}

int main(int argc, char **argv) {
  int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
  long scale = quick ? 100 : 1;
  crpc_pool *pool;
  crpc_pool_opts po = {.threads = 2};
  crpc_loop_opts lo;
  crpc_loop *loop;

  if (crpc_pool_new(&po, &pool) != 0)
    return 1;
  crpc_loop_opts_init(&lo);
  lo.pool = pool;
  if (crpc_loop_new(NULL, &lo, &loop) != 0)
    return 1;
  bench_ctx_switch(2000000 / scale);
  bench_yield(loop, 500000 / scale);
  bench_future(loop, 500000 / scale);
  bench_handoff(loop, 20000 / scale);
  bench_encodes(1000000 / scale);
  bench_metrics(2000000 / scale);
  crpc_loop_free(loop);
  crpc_pool_free(pool);
  return 0;
}
