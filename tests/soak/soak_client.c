/*
 * tests/soak/soak_client.c: crpc-soak-client, crpc's client in the soak test
 * (soak.py, README.md).
 *
 *   crpc-soak-client --target 127.0.0.1:P --cut-target 127.0.0.1:Q
 *       [--seconds N] [--threads N] [--seed N]
 *
 * For --seconds, --threads threads each call crpc.servertest.WorkerTest and
 * LoopTest (tests/server/README.md) in a loop, one scenario at a time, each
 * of the four method kinds on either service:
 *   ok        the call completes and the reply is the one the request asks
 *   deadline  a short deadline passes while the handler sleeps
 *   cancel    the client cancels the call while it runs
 *   close     the thread frees its channel under two running calls, then
 *             opens a new one (both calls end CANCELLED)
 *   cut       a new channel through the cutting relay at --cut-target, which
 *             resets the connection both ways once it sees "hello CUT!" go
 *             to the client: the call asking for it and the streams opened
 *             before it end UNAVAILABLE
 * Every call has a deadline. A call whose status is not the one its
 * scenario expects, or whose reply is wrong, is lost; a scenario still
 * running GRACE_MS after its calls' deadlines is hung. At the end it prints
 * one JSON line: calls, outcomes by status, scenarios, lost, hung and the
 * first few failures; it exits 0 when none was lost or hung, 1 otherwise
 * (2 for a bad command line). A hung thread is left behind: the process
 * ends with _exit() once the line is out.
 */
#define _POSIX_C_SOURCE 200809L

#include "flags.h"
#include "server_test.crpc.h"

#include <crpc/call.h>
#include <crpc/channel.h>
#include <crpc/status.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef Crpc__Servertest__Req req_t;
typedef Crpc__Servertest__Rep rep_t;

#define CALL_TIMEOUT_MS 10000 /* every call but the deadline scenario's */
#define GRACE_MS 5000         /* past its deadline a call counts as hung */
#define MAX_THREADS 64
#define MAX_SAMPLES 10
#define CUT_NAME "CUT!" /* the relay cuts once "hello CUT!" comes back */

enum { UNARY, SERVER_STREAM, CLIENT_STREAM, BIDI, N_KINDS };
enum { WORKER, LOOP, N_SERVICES };
enum { S_OK, S_DEADLINE, S_CANCEL, S_CLOSE, S_CUT, N_SCENARIOS };

static const char *const KIND_NAMES[N_KINDS] = {"unary", "server_stream",
                                                "client_stream", "bidi"};
static const char *const SERVICE_NAMES[N_SERVICES] = {"worker", "loop"};
static const char *const SCENARIO_NAMES[N_SCENARIOS] = {
    "ok", "deadline", "cancel", "close", "cut"};
/* How often each scenario is picked, in percent. */
static const int SCENARIO_WEIGHTS[N_SCENARIOS] = {55, 15, 15, 5, 10};

/* Every outcome of the run, shared by the threads under |mu|. */
typedef struct tally {
  pthread_mutex_t mu;
  unsigned long outcomes[CRPC_STATUS_UNAUTHENTICATED + 1];
  unsigned long scenarios[N_SCENARIOS];
  unsigned long calls, lost, hung;
  char samples[MAX_SAMPLES][240];
  int n_samples;
} tally;

typedef struct soak {
  const char *target, *cut_target;
  int64_t end_ms;
  atomic_int stop;
  tally t;
} soak;

/* One calling thread. |limit_ms| (0 between scenarios) is when its running
 * scenario counts as hung; main() watches it. */
typedef struct worker {
  soak *s;
  pthread_t thread;
  int id;
  uint64_t rng;
  unsigned long seq;
  crpc_channel *ch;
  atomic_llong limit_ms;
  atomic_ulong serial; /* scenarios begun */
  atomic_int done;
  unsigned long hung_serial; /* main()'s: the scenario it counted hung */
  char what[64]; /* the running scenario; main() reads it once it is hung */
} worker;

static const crpc_method *method_of(int svc, int kind) {
  return svc == WORKER ? &crpc_servertest_worker_test_methods[kind]
                       : &crpc_servertest_loop_test_methods[kind];
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* xorshift64*: each thread draws from its own generator. */
static uint32_t rnd(worker *w, uint32_t n) {
  w->rng ^= w->rng >> 12;
  w->rng ^= w->rng << 25;
  w->rng ^= w->rng >> 27;
  return (uint32_t)((w->rng * 2685821657736338717ull) >> 32) % n;
}

/* Bookkeeping. */

static void sample(tally *t, const char *fmt, ...) {
  if (t->n_samples == MAX_SAMPLES)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(t->samples[t->n_samples++], sizeof(t->samples[0]), fmt, ap);
  va_end(ap);
}

/* Records one finished call of the running scenario: it got |got|, its
 * scenario wants |want|; |wrong| (may be NULL) says what was wrong with an
 * OK reply. */
static void note(worker *w, crpc_status want, crpc_status got,
                 const char *wrong) {
  tally *t = &w->s->t;
  pthread_mutex_lock(&t->mu);
  t->calls++;
  if ((unsigned)got <= CRPC_STATUS_UNAUTHENTICATED)
    t->outcomes[got]++;
  if (got != want || wrong != NULL) {
    t->lost++;
    sample(t, "%s: got %s, want %s%s%s", w->what, crpc_status_name(got),
           crpc_status_name(want), wrong ? ": " : "", wrong ? wrong : "");
  }
  pthread_mutex_unlock(&t->mu);
}

/* Raises the running scenario's hung limit to cover a call with a deadline
 * |timeout_ms| from now. */
static void watch(worker *w, int64_t timeout_ms) {
  int64_t limit = now_ms() + timeout_ms + GRACE_MS;
  if (limit > atomic_load(&w->limit_ms))
    atomic_store(&w->limit_ms, limit);
}

static crpc_call_opts opts_for(worker *w, int64_t timeout_ms) {
  crpc_call_opts o;
  memset(&o, 0, sizeof(o));
  o.timeout_ms = timeout_ms;
  watch(w, timeout_ms);
  return o;
}

/* Requests and replies. */

static req_t make_req(worker *w, char *name, size_t cap) {
  req_t r = CRPC__SERVERTEST__REQ__INIT;
  snprintf(name, cap, "c%d-%lu", w->id, ++w->seq);
  r.name = name;
  return r;
}

/* NULL when |rep| is the |index|-th reply to a request named |name| from a
 * handler on |svc|, else what is wrong (static text). */
static const char *check_rep(const rep_t *rep, const char *name, int32_t index,
                             int svc) {
  char want[96];
  snprintf(want, sizeof(want), "hello %s", name);
  if (rep == NULL)
    return "no reply";
  if (rep->text == NULL || strcmp(rep->text, want) != 0)
    return "wrong text";
  if (rep->count != index)
    return "wrong count";
  if (rep->placement == NULL || strcmp(rep->placement, SERVICE_NAMES[svc]) != 0)
    return "wrong placement";
  return NULL;
}

static void free_rep(rep_t *rep) {
  if (rep != NULL)
    protobuf_c_message_free_unpacked(&rep->base, NULL);
}

/* Reads |call| until its stream fails or ends; returns the failure, or OK
 * at the end. */
static crpc_status drain(crpc_call *call) {
  for (;;) {
    ProtobufCMessage *m = NULL;
    crpc_status st = crpc_call_read(call, &m);
    if (st != CRPC_STATUS_OK || m == NULL)
      return st;
    protobuf_c_message_free_unpacked(m, NULL);
  }
}

/* Reads one message and checks it as the |index|-th reply to |name|. */
static crpc_status read_one(crpc_call *call, const char *name, int32_t index,
                            int svc, const char **wrong) {
  rep_t *rep = NULL;
  crpc_status st = crpc_call_read(call, (ProtobufCMessage **)&rep);
  if (st == CRPC_STATUS_OK && *wrong == NULL)
    *wrong = check_rep(rep, name, index, svc);
  free_rep(rep);
  return st;
}

/* The ok scenario, one call of each kind. */

static void ok_unary(worker *w, int svc) {
  char name[32];
  uint8_t payload[256];
  req_t req = make_req(w, name, sizeof(name));
  crpc_call_opts o = opts_for(w, CALL_TIMEOUT_MS);
  rep_t *rep = NULL;

  req.payload.len = rnd(w, sizeof(payload));
  for (size_t i = 0; i < req.payload.len; i++)
    payload[i] = (uint8_t)rnd(w, 256);
  req.payload.data = payload;
  req.sleep_ms = (int32_t)rnd(w, 3);
  crpc_status st = crpc_call_unary(w->ch, method_of(svc, UNARY), &req.base,
                                   (ProtobufCMessage **)&rep, &o);
  const char *wrong = st == CRPC_STATUS_OK ? check_rep(rep, name, 0, svc) : 0;
  if (wrong == NULL && rep != NULL &&
      (rep->payload.len != req.payload.len ||
       (req.payload.len > 0 &&
        memcmp(rep->payload.data, payload, req.payload.len) != 0)))
    wrong = "wrong payload";
  note(w, CRPC_STATUS_OK, st, wrong);
  free_rep(rep);
}

static void ok_server_stream(worker *w, int svc) {
  char name[32];
  req_t req = make_req(w, name, sizeof(name));
  crpc_call_opts o = opts_for(w, CALL_TIMEOUT_MS);
  crpc_call *call = NULL;
  const char *wrong = NULL;
  int32_t i = 0;

  req.count = 1 + (int32_t)rnd(w, 16);
  crpc_status st = crpc_call_start(w->ch, method_of(svc, SERVER_STREAM),
                                   &req.base, &o, &call);
  for (; st == CRPC_STATUS_OK && i < req.count; i++)
    st = read_one(call, name, i, svc, &wrong);
  if (st == CRPC_STATUS_OK)
    st = drain(call); /* nothing more: a clean end */
  if (st == CRPC_STATUS_OK)
    st = crpc_call_finish(call, NULL);
  note(w, CRPC_STATUS_OK, st, wrong);
  crpc_call_free(call);
}

static void ok_client_stream(worker *w, int svc) {
  char name[32];
  req_t req = make_req(w, name, sizeof(name));
  crpc_call_opts o = opts_for(w, CALL_TIMEOUT_MS);
  crpc_call *call = NULL;
  rep_t *rep = NULL;
  int32_t n = 1 + (int32_t)rnd(w, 16);
  const char *wrong = NULL;

  crpc_status st =
      crpc_call_start(w->ch, method_of(svc, CLIENT_STREAM), NULL, &o, &call);
  for (int32_t i = 0; st == CRPC_STATUS_OK && i < n; i++)
    st = crpc_call_write(call, &req.base);
  if (call != NULL) /* the call's own status, whatever a write said */
    st = crpc_call_finish(call, (ProtobufCMessage **)&rep);
  if (st == CRPC_STATUS_OK && (rep == NULL || rep->count != n))
    wrong = "wrong count";
  note(w, CRPC_STATUS_OK, st, wrong);
  free_rep(rep);
  crpc_call_free(call);
}

static void ok_bidi(worker *w, int svc) {
  char name[32];
  req_t req = make_req(w, name, sizeof(name));
  crpc_call_opts o = opts_for(w, CALL_TIMEOUT_MS);
  crpc_call *call = NULL;
  int32_t n = 1 + (int32_t)rnd(w, 8);
  const char *wrong = NULL;

  crpc_status st =
      crpc_call_start(w->ch, method_of(svc, BIDI), NULL, &o, &call);
  for (int32_t i = 0; st == CRPC_STATUS_OK && i < n; i++) {
    st = crpc_call_write(call, &req.base);
    if (st == CRPC_STATUS_OK)
      st = read_one(call, name, i, svc, &wrong);
  }
  if (st == CRPC_STATUS_OK)
    st = crpc_call_close_send(call);
  if (st == CRPC_STATUS_OK)
    st = drain(call);
  if (call != NULL)
    st = crpc_call_finish(call, NULL);
  note(w, CRPC_STATUS_OK, st, wrong);
  crpc_call_free(call);
}

/* The deadline and cancel scenarios. */

/*
 * Starts a call of |kind| on |svc| that cannot end by itself within
 * CALL_TIMEOUT_MS: a unary handler waits for the cancellation, a server
 * stream sends one reply and sleeps 5 s, a client stream's handler sleeps
 * 5 s on the first request, a bidi handler answers one request and waits
 * for the next. Streams have their reply read when this returns. Returns
 * the call's status so far; |*call| (streams) or |*f| (unary) is the
 * caller's, to end with end_of().
 */
static crpc_status start_slow(worker *w, int svc, int kind, int64_t timeout_ms,
                              crpc_call **call, crpc_future **f) {
  char name[32];
  req_t req = make_req(w, name, sizeof(name));
  crpc_call_opts o = opts_for(w, timeout_ms);
  const crpc_method *m = method_of(svc, kind);
  const char *wrong = NULL;

  if (kind == UNARY) {
    req.wait_cancel = 1;
    req.name = "soak"; /* the handler records it under this tag */
    *f = crpc_call_unary_async(w->ch, m, &req.base, &o);
    return *f != NULL ? CRPC_STATUS_OK : CRPC_STATUS_RESOURCE_EXHAUSTED;
  }
  req.count = kind == SERVER_STREAM ? 50 : 1;
  req.sleep_ms = kind == BIDI ? 0 : 5000;
  crpc_status st = crpc_call_start(
      w->ch, m, kind == SERVER_STREAM ? &req.base : NULL, &o, call);
  if (st == CRPC_STATUS_OK && kind != SERVER_STREAM)
    st = crpc_call_write(*call, &req.base);
  if (st == CRPC_STATUS_OK && kind != CLIENT_STREAM)
    st = read_one(*call, name, 0, svc, &wrong);
  return st;
}

/* Waits for the end of a call start_slow() started and frees it; returns
 * its final status. */
static crpc_status end_of(int kind, crpc_call *call, crpc_future *f) {
  ProtobufCMessage *rep = NULL;
  crpc_status st = CRPC_STATUS_OK;

  if (kind == UNARY && f != NULL) {
    st = crpc_call_result(f, &rep);
    crpc_future_unref(f);
  } else if (call != NULL) {
    if (kind != CLIENT_STREAM)
      st = drain(call); /* a clean end here would be a bug */
    crpc_status fin = crpc_call_finish(call, kind == CLIENT_STREAM ? &rep : 0);
    st = st != CRPC_STATUS_OK ? st : fin;
    crpc_call_free(call);
  }
  if (rep != NULL)
    protobuf_c_message_free_unpacked(rep, NULL);
  return st;
}

static void deadline_call(worker *w, int svc, int kind) {
  crpc_call *call = NULL;
  crpc_future *f = NULL;

  crpc_status st = start_slow(w, svc, kind, 50 + rnd(w, 250), &call, &f);
  crpc_status end = end_of(kind, call, f);
  /* The deadline may pass before the stream's first reply is read. */
  note(w, CRPC_STATUS_DEADLINE_EXCEEDED, st != CRPC_STATUS_OK ? st : end, NULL);
}

static void cancel_call(worker *w, int svc, int kind) {
  crpc_call *call = NULL;
  crpc_future *f = NULL;

  crpc_status st = start_slow(w, svc, kind, CALL_TIMEOUT_MS, &call, &f);
  nap_ms(10 + (int)rnd(w, 150));
  if (f != NULL)
    crpc_future_cancel(f);
  else if (call != NULL)
    crpc_call_cancel(call);
  crpc_status end = end_of(kind, call, f);
  note(w, CRPC_STATUS_CANCELLED, st != CRPC_STATUS_OK ? st : end, NULL);
}

/* Dropped connections. */

static crpc_channel *channel_or_die(const char *target) {
  crpc_channel_opts co;
  crpc_channel *ch = NULL;

  crpc_channel_opts_init(&co);
  co.max_connections_per_address = 1; /* what the relay cuts is all */
  if (crpc_channel_new(target, &co, &ch) != 0) {
    fprintf(stderr, "crpc-soak-client: cannot make a channel to %s\n", target);
    abort();
  }
  return ch;
}

/* A slow server stream and a slow unary call on the thread's channel, then
 * the channel freed under them: both end CANCELLED; the thread goes on with
 * a new channel. */
static void close_channel(worker *w, int svc) {
  crpc_call *call = NULL, *none = NULL;
  crpc_future *f = NULL, *nof = NULL;

  crpc_status st =
      start_slow(w, svc, SERVER_STREAM, CALL_TIMEOUT_MS, &call, &nof);
  start_slow(w, !svc, UNARY, CALL_TIMEOUT_MS, &none, &f);
  nap_ms(10 + (int)rnd(w, 50));
  crpc_channel_free(w->ch);
  w->ch = NULL;
  note(w, CRPC_STATUS_CANCELLED, end_of(UNARY, NULL, f), NULL);
  crpc_status end = end_of(SERVER_STREAM, call, NULL);
  note(w, CRPC_STATUS_CANCELLED, st != CRPC_STATUS_OK ? st : end, NULL);
  w->ch = channel_or_die(w->s->target);
}

/*
 * A new channel through the relay: up to two streams of |svc| known to run
 * (a reply read), then a unary call whose reply makes the relay reset the
 * connection. Every call ends UNAVAILABLE.
 */
static void cut_connection(worker *w, int svc, int kind) {
  crpc_channel *keep = w->ch;
  crpc_call *streams[2] = {NULL, NULL};
  crpc_status started[2] = {CRPC_STATUS_OK, CRPC_STATUS_OK};
  int n = (int)rnd(w, 3), skind = kind == BIDI ? BIDI : SERVER_STREAM;
  crpc_future *nof = NULL;
  char name[32];
  req_t req = make_req(w, name, sizeof(name));
  ProtobufCMessage *rep = NULL;

  w->ch = channel_or_die(w->s->cut_target);
  for (int i = 0; i < n; i++)
    started[i] = start_slow(w, svc, skind, CALL_TIMEOUT_MS, &streams[i], &nof);
  crpc_call_opts o = opts_for(w, CALL_TIMEOUT_MS);
  req.name = CUT_NAME;
  crpc_status st =
      crpc_call_unary(w->ch, method_of(!svc, UNARY), &req.base, &rep, &o);
  if (rep != NULL)
    protobuf_c_message_free_unpacked(rep, NULL);
  note(w, CRPC_STATUS_UNAVAILABLE, st, NULL);
  for (int i = 0; i < n; i++) {
    crpc_status end = end_of(skind, streams[i], NULL);
    note(w, CRPC_STATUS_UNAVAILABLE,
         started[i] != CRPC_STATUS_OK ? started[i] : end, NULL);
  }
  crpc_channel_free(w->ch);
  w->ch = keep;
}

/* The threads. */

static void run_one(worker *w) {
  static void (*const ok[N_KINDS])(worker *, int) = {ok_unary, ok_server_stream,
                                                     ok_client_stream, ok_bidi};
  int pick = (int)rnd(w, 100), sc = 0;
  int kind = (int)rnd(w, N_KINDS), svc = (int)rnd(w, N_SERVICES);

  while (sc < N_SCENARIOS - 1 && pick >= SCENARIO_WEIGHTS[sc])
    pick -= SCENARIO_WEIGHTS[sc++];
  snprintf(w->what, sizeof(w->what), "%s %s %s", SCENARIO_NAMES[sc],
           sc == S_CLOSE ? "two calls" : KIND_NAMES[kind], SERVICE_NAMES[svc]);
  if (sc == S_OK)
    ok[kind](w, svc);
  else if (sc == S_DEADLINE)
    deadline_call(w, svc, kind);
  else if (sc == S_CANCEL)
    cancel_call(w, svc, kind);
  else if (sc == S_CLOSE)
    close_channel(w, svc);
  else
    cut_connection(w, svc, kind);
  pthread_mutex_lock(&w->s->t.mu);
  w->s->t.scenarios[sc]++;
  pthread_mutex_unlock(&w->s->t.mu);
}

static void *worker_main(void *arg) {
  worker *w = arg;

  while (!atomic_load(&w->s->stop) && now_ms() < w->s->end_ms) {
    atomic_fetch_add(&w->serial, 1);
    run_one(w);
    atomic_store(&w->limit_ms, 0);
  }
  crpc_channel_free(w->ch);
  w->ch = NULL;
  atomic_store(&w->done, 1);
  return NULL;
}

/* Counts |w|'s scenario as hung, once, if it is past its limit, or if it
 * has not stopped by |last|; returns 1 when it is hung. */
static int check_hung(worker *w, int64_t now, int64_t last) {
  int64_t limit = atomic_load(&w->limit_ms);
  unsigned long serial = atomic_load(&w->serial);

  if (atomic_load(&w->done) || (now <= last && (!limit || now <= limit)))
    return 0;
  if (w->hung_serial == serial)
    return 1;
  w->hung_serial = serial;
  pthread_mutex_lock(&w->s->t.mu);
  w->s->t.hung++;
  sample(&w->s->t, "%s: still running %d ms past its deadline", w->what,
         GRACE_MS);
  pthread_mutex_unlock(&w->s->t.mu);
  return 1;
}

/* Watches the threads until all have stopped, or until one is hung and the
 * run is over; returns how many stopped. */
static int watch_all(soak *s, worker *ws, int n) {
  int64_t last = s->end_ms + CALL_TIMEOUT_MS + 2 * GRACE_MS;

  for (;;) {
    int64_t now = now_ms();
    int done = 0, hung = 0;
    for (int i = 0; i < n; i++) {
      hung += check_hung(&ws[i], now, last);
      done += atomic_load(&ws[i].done);
    }
    if (done == n || (hung > 0 && now > s->end_ms))
      return done;
    nap_ms(100);
  }
}

static void print_json(soak *s, double seconds) {
  tally *t = &s->t;
  const char *sep = "";

  printf("{\"client\": \"crpc\", \"seconds\": %.1f, \"calls\": %lu, "
         "\"outcomes\": {",
         seconds, t->calls);
  for (int c = 0; c <= CRPC_STATUS_UNAUTHENTICATED; c++) {
    if (t->outcomes[c] == 0)
      continue;
    printf("%s\"%s\": %lu", sep, crpc_status_name(c), t->outcomes[c]);
    sep = ", ";
  }
  printf("}, \"scenarios\": {");
  for (int i = 0; i < N_SCENARIOS; i++)
    printf("%s\"%s\": %lu", i ? ", " : "", SCENARIO_NAMES[i], t->scenarios[i]);
  printf("}, \"lost\": %lu, \"hung\": %lu, \"failures\": [", t->lost, t->hung);
  for (int i = 0; i < t->n_samples; i++) { /* JSON strings: no escapes */
    for (char *p = t->samples[i]; *p; p++)
      if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
        *p = '\'';
    printf("%s\"%s\"", i ? ", " : "", t->samples[i]);
  }
  printf("]}\n");
  fflush(stdout);
}

static const char USAGE[] =
    "usage: crpc-soak-client --target 127.0.0.1:P --cut-target 127.0.0.1:Q\n"
    "           [--seconds N] [--threads N] [--seed N]\n";

int main(int argc, char **argv) {
  soak s = {0};
  worker ws[MAX_THREADS];
  int seconds = 10, threads = 4, seed = (int)getpid();
  const tool_flag flags[] = {
      {"target", TOOL_FLAG_STRING, &s.target},
      {"cut-target", TOOL_FLAG_STRING, &s.cut_target},
      {"seconds", TOOL_FLAG_INT, &seconds},
      {"threads", TOOL_FLAG_INT, &threads},
      {"seed", TOOL_FLAG_INT, &seed},
  };

  if (tool_flags_parse("crpc-soak-client", USAGE, argc, argv, flags,
                       sizeof(flags) / sizeof(flags[0])) != 0)
    return 2;
  if (!s.target || !s.cut_target || threads < 1 || threads > MAX_THREADS) {
    fprintf(stderr, "crpc-soak-client: bad command line\n%s", USAGE);
    return 2;
  }
  pthread_mutex_init(&s.t.mu, NULL);
  int64_t t0 = now_ms();
  s.end_ms = t0 + (int64_t)seconds * 1000;
  for (int i = 0; i < threads; i++) {
    ws[i] = (worker){.s = &s, .id = i, .rng = (uint64_t)seed * 7919 + i + 1};
    ws[i].ch = channel_or_die(s.target);
    if (pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]) != 0) {
      fprintf(stderr, "crpc-soak-client: cannot start thread %d\n", i);
      return 1;
    }
  }
  int done = watch_all(&s, ws, threads);
  atomic_store(&s.stop, 1);
  print_json(&s, (double)(now_ms() - t0) / 1000.0);
  if (done < threads)
    _exit(1); /* a hung thread cannot be joined */
  for (int i = 0; i < threads; i++)
    pthread_join(ws[i].thread, NULL);
  pthread_mutex_destroy(&s.t.mu);
  return s.t.lost == 0 && s.t.hung == 0 ? 0 : 1;
}
