/*
 * bench/crpc/client.c: crpc-bench-client, a closed-loop load client for
 * grpc.testing.BenchmarkService and helloworld.Greeter on crpc's stubs.
 *
 *   crpc-bench-client --target H:P --scenario
 * unary|pingpong|server_stream|hello
 *       [--channels N (1)] [--outstanding N (1)] [--req_size B (0)]
 *       [--resp_size B (0)] [--duration_s S (10)] [--warmup_s S (1)]
 *       [--tls_ca FILE]
 *
 * Each channel is its own HTTP/2 connection on its own I/O thread (a
 * crpc_loop the client starts), and carries --outstanding slots:
 *   unary, hello   each slot starts the next call from the completion of
 *                  its previous one (a crpc_future_then() continuation on
 *                  the channel's loop: no thread hand-off per call);
 *   pingpong       each slot holds one StreamingCall open and does rounds
 *                  of one write and one read, both _async;
 *   server_stream  each slot opens one StreamingFromServer and counts the
 *                  messages it reads.
 * With --tls_ca every connection is TLS with ALPN h2, the server's
 * certificate verified against the PEM CAs in FILE for the target's host;
 * without it, cleartext HTTP/2.
 * Every call has a deadline 5 s after the run's end, as gRPC C++'s load
 * client gives its calls.
 * Latency per call or round runs from just before the send to the
 * continuation, on the monotonic clock, into a log-linear histogram (under
 * 1% error). Nothing is counted during the warmup; after warmup + duration
 * every call still in flight is cancelled. Then one line goes to stdout:
 *   scenario=unary channels=4 outstanding=32 req_size=0 resp_size=0
 *   seconds=10.00 calls=123456 rate=12345.6 p50_us=210 p90_us=300
 *   p99_us=450 errors=0
 * (one line; server_stream reports messages as calls and 0 latencies). It
 * exits 1 when a call failed or none completed, 2 for a bad command line.
 *
 * For example, against crpc-bench-server on another core:
 *   taskset -c 1 crpc-bench-client --target 127.0.0.1:PORT --scenario unary \
 *       --channels 4 --outstanding 32 --duration_s 5
 */
#define _GNU_SOURCE

#include "grpc/examples/helloworld.crpc.h"
#include "grpc/testing/benchmark_service.crpc.h"
#include "flags.h"

#include <crpc/error.h>
#include <crpc/loop.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char USAGE[] =
    "usage: crpc-bench-client --target H:P\n"
    "           --scenario unary|pingpong|server_stream|hello\n"
    "           [--channels N] [--outstanding N] [--req_size B]\n"
    "           [--resp_size B] [--duration_s S] [--warmup_s S]\n"
    "           [--tls_ca FILE]\n";

typedef enum { UNARY, PINGPONG, SERVER_STREAM, HELLO } scenario;
static const char *const SCENARIOS[] = {"unary", "pingpong", "server_stream",
                                        "hello"};

/* Latencies in ns, log-linear: exact below 256 ns, then 128 buckets per
 * power of two. */
#define SUB_BITS 7
#define N_BUCKETS (64 << SUB_BITS)

static size_t bucket_of(uint64_t ns) {
  if (ns < (2u << SUB_BITS))
    return (size_t)ns;
  int shift = 63 - __builtin_clzll(ns) - SUB_BITS;
  return ((size_t)shift + 1) * (1u << SUB_BITS) + (size_t)(ns >> shift) -
         (1u << SUB_BITS);
}

/* The middle of bucket |b|. */
static uint64_t bucket_value(size_t b) {
  if (b < (2u << SUB_BITS))
    return b;
  int shift = (int)(b >> SUB_BITS) - 1;
  uint64_t low = ((b & ((1u << SUB_BITS) - 1)) + (1u << SUB_BITS)) << shift;
  return low + ((1ull << shift) >> 1);
}

typedef struct bench_run bench_run;
typedef struct bench_chan bench_chan;

typedef struct bench_slot {
  bench_chan *c;
  int64_t sent_ns;
  crpc_call *call; /* pingpong and server_stream */
} bench_slot;

/* A channel and its slots; everything here but |ch| is touched only on
 * |loop|'s thread once the run has started. */
struct bench_chan {
  bench_run *run;
  crpc_loop *loop;
  crpc_channel *ch;
  crpc_cancel *cancel;
  crpc_call_opts opts;
  bench_slot *slots;
  uint64_t calls, errors;
  uint64_t hist[N_BUCKETS];
};

struct bench_run {
  scenario sc;
  int channels, outstanding, req_size, resp_size;
  double duration_s, warmup_s;
  const char *tls_ca;               /* NULL: cleartext */
  int64_t measure_from, measure_to; /* the measured window, ns */
  atomic_int stopping;
  atomic_int live_slots;
  Grpc__Testing__SimpleRequest req;
  Grpc__Testing__Payload payload;
  Helloworld__HelloRequest hello;
  bench_chan *chans;
};

/* A call or round that completed at |now|: counted inside the window. */
static void record(bench_slot *s, int64_t now, int with_latency) {
  bench_chan *c = s->c;
  if (now < c->run->measure_from || now >= c->run->measure_to)
    return;
  c->calls++;
  if (with_latency)
    c->hist[bucket_of((uint64_t)(now - s->sent_ns))]++;
}

/* Counts a failure unless the run is ending (cancelled calls are ours). */
static void failed(bench_slot *s, crpc_status st, const char *why) {
  if (atomic_load(&s->c->run->stopping))
    return;
  if (s->c->errors++ == 0)
    fprintf(stderr, "crpc-bench-client: %s: %s%s%s\n", SCENARIOS[s->c->run->sc],
            crpc_status_name(st), why && why[0] ? ": " : "", why ? why : "");
}

static void slot_end(bench_slot *s) {
  crpc_call_free(s->call);
  s->call = NULL;
  atomic_fetch_sub(&s->c->run->live_slots, 1);
}

/* Unary and hello: each completion starts the next call. */
static void unary_next(bench_slot *s);

static void unary_done(crpc_future *f, void *arg) {
  bench_slot *s = arg;
  int64_t now = crpc_now_ns();
  ProtobufCMessage *reply = NULL;
  crpc_status st = crpc_call_result(f, &reply);
  if (reply)
    protobuf_c_message_free_unpacked(reply, NULL);
  if (st != CRPC_STATUS_OK) {
    failed(s, st, crpc_future_message(f));
    slot_end(s);
    return;
  }
  record(s, now, 1);
  if (atomic_load_explicit(&s->c->run->stopping, memory_order_relaxed))
    slot_end(s);
  else
    unary_next(s);
}

static void unary_next(bench_slot *s) {
  bench_chan *c = s->c;
  const bench_run *r = c->run;
  s->sent_ns = crpc_now_ns();
  crpc_future *f =
      r->sc == HELLO
          ? helloworld_greeter_say_hello_async(c->ch, &r->hello, &c->opts)
          : grpc_testing_benchmark_service_unary_call_async(c->ch, &r->req,
                                                            &c->opts);
  if (!f || crpc_future_then(f, unary_done, s) != 0) {
    failed(s, CRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    if (f)
      crpc_future_cancel(f);
    slot_end(s);
  }
  crpc_future_unref(f); /* the continuation holds its own reference */
}

/* Pingpong: a round is one write and one read, started together. */
static void pingpong_round(bench_slot *s);

static void pingpong_done(crpc_future *f, void *arg) {
  bench_slot *s = arg;
  int64_t now = crpc_now_ns();
  ProtobufCMessage *reply = NULL;
  crpc_status st = crpc_call_read_result(f, &reply);
  if (reply) {
    protobuf_c_message_free_unpacked(reply, NULL);
  } else {
    failed(s, st == CRPC_STATUS_OK ? CRPC_STATUS_INTERNAL : st,
           st == CRPC_STATUS_OK ? "the stream ended early"
                                : crpc_future_message(f));
    slot_end(s);
    return;
  }
  record(s, now, 1);
  if (atomic_load_explicit(&s->c->run->stopping, memory_order_relaxed))
    slot_end(s);
  else
    pingpong_round(s);
}

static void pingpong_round(bench_slot *s) {
  s->sent_ns = crpc_now_ns();
  /* A failed write fails the call, and so the read below. */
  crpc_future_unref(crpc_call_write_async(s->call, &s->c->run->req.base));
  crpc_future *f = crpc_call_read_async(s->call);
  if (!f || crpc_future_then(f, pingpong_done, s) != 0) {
    failed(s, CRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    slot_end(s);
  }
  crpc_future_unref(f);
}

/* Server streaming: messages already received are taken at once; a
 * continuation waits only when none is. */
static void stream_read(bench_slot *s);

/* Takes one read's outcome; nonzero when the slot goes on reading. */
static int stream_took(bench_slot *s, crpc_future *f) {
  ProtobufCMessage *msg = NULL;
  crpc_status st = crpc_call_read_result(f, &msg);
  if (!msg) {
    failed(s, st == CRPC_STATUS_OK ? CRPC_STATUS_INTERNAL : st,
           st == CRPC_STATUS_OK ? "the stream ended early"
                                : crpc_future_message(f));
    slot_end(s);
    return 0;
  }
  protobuf_c_message_free_unpacked(msg, NULL);
  record(s, crpc_now_ns(), 0);
  if (!atomic_load_explicit(&s->c->run->stopping, memory_order_relaxed))
    return 1;
  slot_end(s);
  return 0;
}

static void stream_done(crpc_future *f, void *arg) {
  if (stream_took(arg, f))
    stream_read(arg);
}

static void stream_read(bench_slot *s) {
  for (;;) {
    crpc_future *f = crpc_call_read_async(s->call);
    if (!f) {
      failed(s, CRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
      slot_end(s);
      return;
    }
    if (!crpc_future_is_done(f)) {
      if (crpc_future_then(f, stream_done, s) != 0) {
        failed(s, CRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        slot_end(s);
      }
      crpc_future_unref(f);
      return;
    }
    int more = stream_took(s, f);
    crpc_future_unref(f);
    if (!more)
      return;
  }
}

/* Starts a slot, on its channel's loop. */
static void slot_start(void *arg) {
  bench_slot *s = arg;
  bench_chan *c = s->c;
  bench_run *r = c->run;
  if (r->sc == UNARY || r->sc == HELLO) {
    unary_next(s);
    return;
  }
  const crpc_method *m =
      r->sc == PINGPONG ? GRPC_TESTING_BENCHMARK_SERVICE_STREAMING_CALL
                        : GRPC_TESTING_BENCHMARK_SERVICE_STREAMING_FROM_SERVER;
  crpc_status st = crpc_call_start(
      c->ch, m, r->sc == PINGPONG ? NULL : &r->req.base, &c->opts, &s->call);
  if (st != CRPC_STATUS_OK) {
    failed(s, st, "the stream could not start");
    slot_end(s);
  } else if (r->sc == PINGPONG) {
    pingpong_round(s);
  } else {
    stream_read(s);
  }
}

/* Checks that --|name|'s value |v| lies in [lo, hi]; -1 after printing
 * why. */
static int in_range(const char *name, double v, double lo, double hi) {
  if (v >= lo && v <= hi)
    return 0;
  fprintf(stderr, "crpc-bench-client: --%s must be in [%.10g, %.10g]\n%s", name,
          lo, hi, USAGE);
  return -1;
}

/* Reads "--name value" and "--name=value" flags; -1 after printing why. */
static int parse_flags(int argc, char **argv, bench_run *r,
                       const char **target) {
  const char *name = NULL;
  const tool_flag flags[] = {
      {"target", TOOL_FLAG_STRING, target},
      {"scenario", TOOL_FLAG_STRING, &name},
      {"channels", TOOL_FLAG_INT, &r->channels},
      {"outstanding", TOOL_FLAG_INT, &r->outstanding},
      {"req_size", TOOL_FLAG_INT, &r->req_size},
      {"resp_size", TOOL_FLAG_INT, &r->resp_size},
      {"duration_s", TOOL_FLAG_DOUBLE, &r->duration_s},
      {"warmup_s", TOOL_FLAG_DOUBLE, &r->warmup_s},
      {"tls_ca", TOOL_FLAG_STRING, &r->tls_ca},
  };
  if (tool_flags_parse("crpc-bench-client", USAGE, argc, argv, flags,
                       sizeof(flags) / sizeof(flags[0])) != 0)
    return -1;
  if (!*target || !name) {
    fprintf(stderr,
            "crpc-bench-client: --target and --scenario are "
            "required\n%s",
            USAGE);
    return -1;
  }
  int sc = (int)(sizeof(SCENARIOS) / sizeof(SCENARIOS[0])) - 1;
  while (sc >= 0 && strcmp(name, SCENARIOS[sc]) != 0)
    sc--;
  if (sc < 0) {
    fprintf(stderr,
            "crpc-bench-client: --scenario is unary, pingpong, "
            "server_stream or hello\n%s",
            USAGE);
    return -1;
  }
  r->sc = (scenario)sc;
  if (in_range("channels", r->channels, 1, 1024) != 0 ||
      in_range("outstanding", r->outstanding, 1, 10000) != 0 ||
      in_range("req_size", r->req_size, 0, 4 << 20) != 0 ||
      in_range("resp_size", r->resp_size, 0, 4 << 20) != 0 ||
      in_range("duration_s", r->duration_s, 0.001, 86400) != 0 ||
      in_range("warmup_s", r->warmup_s, 0, 86400) != 0)
    return -1;
  /* A CA file that cannot be read is a command-line mistake, and
   * crpc_channel_new() would only say CRPC_EINVAL. */
  FILE *ca = r->tls_ca ? fopen(r->tls_ca, "r") : NULL;
  if (r->tls_ca && !ca) {
    fprintf(stderr, "crpc-bench-client: --tls_ca %s: %s\n", r->tls_ca,
            strerror(errno));
    return -1;
  }
  if (ca)
    fclose(ca);
  return 0;
}

/* Makes channel |c|'s loop, channel and cancellation handle, and waits
 * for its connection. Returns 0, or -1 after printing why. */
static int chan_open(bench_chan *c, const char *target) {
  crpc_channel_opts co;
  crpc_channel_opts_init(&co);
  co.tls = c->run->tls_ca != NULL;
  co.tls_ca_file = c->run->tls_ca;
  int rc = crpc_loop_new(NULL, NULL, &c->loop);
  if (rc == 0 && (rc = crpc_loop_start_thread(c->loop)) != 0) {
    crpc_loop_free(c->loop);
    c->loop = NULL;
  }
  co.loop = c->loop;
  if (rc == 0)
    rc = crpc_channel_new(target, &co, &c->ch);
  if (rc == 0)
    rc = crpc_cancel_new(&c->cancel);
  if (rc != 0) {
    fprintf(stderr, "crpc-bench-client: cannot open a channel to %s: %s\n",
            target, crpc_strerror(rc));
    return -1;
  }
  c->opts.cancel = c->cancel;
  /* Every call has a deadline, as gRPC C++'s load client gives its calls
   * and as production clients do: calls never outlive the run by much,
   * even against a stuck server, and the deadline's cost is measured. */
  c->opts.deadline = crpc_deadline_after_ms(
      (int64_t)((c->run->warmup_s + c->run->duration_s + 5) * 1000));
  crpc_future *ready = crpc_channel_connect(c->ch);
  rc = ready ? crpc_future_wait_for(ready, 10000) : CRPC_ENOMEM;
  crpc_status st = rc == 0 ? crpc_future_status(ready) : CRPC_STATUS_UNKNOWN;
  if (st != CRPC_STATUS_OK)
    fprintf(stderr, "crpc-bench-client: cannot connect to %s: %s\n", target,
            rc == 0 ? crpc_future_message(ready) : crpc_strerror(rc));
  crpc_future_unref(ready);
  return st == CRPC_STATUS_OK ? 0 : -1;
}

/* Frees what chan_open() made; the loop last, once the channel is gone. */
static void chan_close(bench_chan *c) {
  crpc_channel_free(c->ch);
  crpc_cancel_free(c->cancel);
  if (c->loop) {
    crpc_loop_stop(c->loop);
    crpc_loop_free(c->loop);
  }
}

static void sleep_until(int64_t t) {
  for (int64_t left; (left = t - crpc_now_ns()) > 0;) {
    struct timespec ts = {left / 1000000000, left % 1000000000};
    nanosleep(&ts, NULL);
  }
}

/* Stops every slot and waits (at most |limit_ms|) for them to end.
 * Returns 0, or -1 when some never ended. */
static int stop_all(bench_run *r, int64_t limit_ms) {
  atomic_store(&r->stopping, 1);
  for (int i = 0; r->chans && i < r->channels; i++)
    if (r->chans[i].cancel)
      crpc_cancel_trigger(r->chans[i].cancel);
  int64_t until = crpc_now_ns() + limit_ms * 1000000;
  while (atomic_load(&r->live_slots) > 0 && crpc_now_ns() < until) {
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
  return atomic_load(&r->live_slots) > 0 ? -1 : 0;
}

/* The |q|-quantile of the merged histograms, in whole microseconds. */
static uint64_t quantile_us(const uint64_t *hist, uint64_t total, double q) {
  uint64_t rank = (uint64_t)(q * (double)total), seen = 0;
  for (size_t b = 0; b < N_BUCKETS; b++) {
    seen += hist[b];
    if (seen > rank)
      return (bucket_value(b) + 500) / 1000;
  }
  return 0;
}

static void report(const bench_run *r) {
  static uint64_t hist[N_BUCKETS];
  uint64_t calls = 0, errors = 0;
  for (int i = 0; i < r->channels; i++) {
    calls += r->chans[i].calls;
    errors += r->chans[i].errors;
    for (size_t b = 0; b < N_BUCKETS; b++)
      hist[b] += r->chans[i].hist[b];
  }
  int lat = r->sc != SERVER_STREAM && calls > 0;
  printf("scenario=%s channels=%d outstanding=%d req_size=%d resp_size=%d "
         "seconds=%.2f calls=%llu rate=%.1f p50_us=%llu p90_us=%llu "
         "p99_us=%llu errors=%llu\n",
         SCENARIOS[r->sc], r->channels, r->outstanding, r->req_size,
         r->resp_size, r->duration_s, (unsigned long long)calls,
         (double)calls / r->duration_s,
         (unsigned long long)(lat ? quantile_us(hist, calls, 0.50) : 0),
         (unsigned long long)(lat ? quantile_us(hist, calls, 0.90) : 0),
         (unsigned long long)(lat ? quantile_us(hist, calls, 0.99) : 0),
         (unsigned long long)errors);
  fflush(stdout);
}

int main(int argc, char **argv) {
  static bench_run r = {
      .channels = 1, .outstanding = 1, .duration_s = 10, .warmup_s = 1};
  const char *target = NULL;
  if (parse_flags(argc, argv, &r, &target) != 0)
    return 2;
  signal(SIGPIPE, SIG_IGN);

  /* One request for every call: the stubs serialize it before they
   * return and only read it. */
  uint8_t *body = calloc(1, (size_t)r.req_size + 1);
  grpc__testing__simple_request__init(&r.req);
  grpc__testing__payload__init(&r.payload);
  r.payload.body.data = body;
  r.payload.body.len = (size_t)r.req_size;
  r.req.payload = &r.payload;
  r.req.response_size = r.resp_size;
  helloworld__hello_request__init(&r.hello);
  r.hello.name = "bench";

  r.chans = calloc((size_t)r.channels, sizeof(*r.chans));
  bench_slot *slots =
      calloc((size_t)r.channels * (size_t)r.outstanding, sizeof(*slots));
  int ok = body && r.chans && slots;
  for (int i = 0; ok && i < r.channels; i++) {
    r.chans[i].run = &r;
    r.chans[i].slots = slots + (size_t)i * (size_t)r.outstanding;
    ok = chan_open(&r.chans[i], target) == 0;
  }

  int64_t start = crpc_now_ns();
  r.measure_from = start + (int64_t)(r.warmup_s * 1e9);
  r.measure_to = r.measure_from + (int64_t)(r.duration_s * 1e9);
  for (int i = 0; ok && i < r.channels; i++) {
    for (int j = 0; ok && j < r.outstanding; j++) {
      bench_slot *s = &r.chans[i].slots[j];
      s->c = &r.chans[i];
      atomic_fetch_add(&r.live_slots, 1);
      if (crpc_loop_post(s->c->loop, slot_start, s) != 0) {
        atomic_fetch_sub(&r.live_slots, 1);
        ok = 0;
      }
    }
  }
  if (ok)
    sleep_until(r.measure_to);
  if (stop_all(&r, 10000) != 0) {
    /* Slots still running own their channels: leave them be. */
    fprintf(stderr, "crpc-bench-client: %d slots did not stop within 10 s\n",
            atomic_load(&r.live_slots));
    return 1;
  }
  if (ok)
    report(&r);
  uint64_t errors = 0, calls = 0;
  for (int i = 0; r.chans && i < r.channels; i++) {
    errors += r.chans[i].errors;
    calls += r.chans[i].calls;
    chan_close(&r.chans[i]);
  }
  free(slots);
  free(r.chans);
  free(body);
  return ok && errors == 0 && calls > 0 ? 0 : 1;
}
