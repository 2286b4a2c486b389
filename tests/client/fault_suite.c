/*
 * tests/client/fault_suite.c: the client against servers that fail,
 * misbehave or are themselves clients.
 *
 * run-fault-tests.py drives it: for each scenario it starts the servers
 * (crpc-server with the test and compose modules, garbage_server.py), then
 * runs this suite with FAULT_TEST naming the one test to run and FAULT_*
 * variables saying where the servers listen. A test that needs the driver
 * to act on a server mid-test (kill, restart, SIGTERM, start) asks through
 * files in FAULT_CTL (driver.h); the answer is a pid.
 *
 * Timing bounds are generous: sanitizer builds on a shared two-core
 * machine. Measured times and statuses are printed on stderr.
 */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compose.crpc.h"
#include "crpc/call.h"
#include "crpc/channel.h"
#include "crpc/deadline.h"
#include "crpc/error.h"
#include "crpc/future.h"
#include "crpc/metadata.h"
#include "driver.h"
#include "server_test.crpc.h"

typedef Crpc__Servertest__Req req_t;
typedef Crpc__Servertest__Rep rep_t;

/* Channels and calls. */

static crpc_channel *open_channel(const char *target, crpc_lb_policy lb) {
  crpc_channel_opts opts;
  crpc_channel *ch = NULL;
  int rc;

  crpc_channel_opts_init(&opts);
  opts.lb_policy = lb;
  opts.backoff_initial_ms = 100;
  opts.backoff_max_ms = 300;
  rc = crpc_channel_new(target, &opts, &ch);
  cr_assert_eq(rc, 0, "crpc_channel_new(%s): %s", target, crpc_strerror(rc));
  return ch;
}

/* What one LoopTest.Unary call did. */
typedef struct outcome {
  crpc_status code;
  char message[512];
  int64_t elapsed_ms;
  char text[128];
  int32_t count;
} outcome;

/* Options of a test call: a timeout, wait-for-ready, retries, and up to
 * four x-garbage-* headers as "key", "value" pairs. */
typedef struct call_spec {
  int64_t timeout_ms;
  int wait_for_ready;
  unsigned max_attempts;
  const char *md[8];
} call_spec;

static outcome loop_call(crpc_channel *ch, const char *name, int sleep,
                         const call_spec *spec) {
  req_t req = CRPC__SERVERTEST__REQ__INIT;
  rep_t *rep = NULL;
  crpc_metadata md;
  crpc_status_info si;
  crpc_call_opts opts = {0};
  outcome o = {0};
  int64_t start;

  crpc_metadata_init(&md);
  crpc_status_info_init(&si);
  for (size_t i = 0; i + 1 < 8 && spec->md[i] != NULL; i += 2)
    cr_assert_eq(crpc_metadata_add_str(&md, spec->md[i], spec->md[i + 1]), 0);
  req.name = (char *)name;
  req.sleep_ms = sleep;
  opts.timeout_ms = spec->timeout_ms;
  opts.wait_for_ready = spec->wait_for_ready;
  opts.max_attempts = spec->max_attempts;
  opts.metadata = &md;
  opts.status_out = &si;
  start = now_ms();
  o.code = crpc_servertest_loop_test_unary(ch, &req, &rep, &opts);
  o.elapsed_ms = now_ms() - start;
  snprintf(o.message, sizeof(o.message), "%s",
           si.message != NULL ? si.message : "");
  cr_assert_eq(o.code, si.code, "status_out disagrees with the return");
  cr_assert((o.code == CRPC_STATUS_OK) == (rep != NULL),
            "a reply with OK, none otherwise (%s)", crpc_status_name(o.code));
  if (rep != NULL) {
    snprintf(o.text, sizeof(o.text), "%s", rep->text ? rep->text : "");
    o.count = rep->count;
    crpc__servertest__rep__free_unpacked(rep, NULL);
  }
  crpc_status_info_cleanup(&si);
  crpc_metadata_cleanup(&md);
  return o;
}

/* A call that must succeed with "hello <name>". */
static outcome ok_call(crpc_channel *ch, const char *name,
                       const call_spec *spec) {
  char want[160];
  outcome o = loop_call(ch, name, 0, spec);

  cr_assert_eq(o.code, CRPC_STATUS_OK, "call %s: %s: %s", name,
               crpc_status_name(o.code), o.message);
  snprintf(want, sizeof(want), "hello %s", name);
  cr_assert_str_eq(o.text, want);
  return o;
}

static const call_spec patient = {.timeout_ms = 10000, .wait_for_ready = 1};
static const call_spec quick = {.timeout_ms = 5000};

static crpc_future *slow_async(crpc_channel *ch, const char *name, int sleep,
                               int on_worker) {
  req_t req = CRPC__SERVERTEST__REQ__INIT;
  crpc_call_opts opts = {.timeout_ms = 30000};
  crpc_future *f;

  req.name = (char *)name;
  req.sleep_ms = sleep;
  f = on_worker ? crpc_servertest_worker_test_unary_async(ch, &req, &opts)
                : crpc_servertest_loop_test_unary_async(ch, &req, &opts);
  cr_assert_not_null(f);
  return f;
}

/* Waits for |f| (at most |ms|) and returns its status. */
static crpc_status wait_status(crpc_future *f, int64_t ms) {
  cr_assert_eq(crpc_future_wait_for(f, ms), 0, "no outcome within %lld ms",
               (long long)ms);
  return crpc_future_status(f);
}

/* The reply text of a finished LoopTest or WorkerTest future, checked OK. */
static void expect_reply(crpc_future *f, const char *name, int on_worker) {
  rep_t *rep = NULL;
  char want[160];
  crpc_status st = on_worker ? crpc_servertest_worker_test_unary_result(f, &rep)
                             : crpc_servertest_loop_test_unary_result(f, &rep);

  cr_assert_eq(st, CRPC_STATUS_OK, "call %s: %s: %s", name,
               crpc_status_name(st), crpc_future_message(f));
  snprintf(want, sizeof(want), "hello %s", name);
  cr_assert_not_null(rep);
  cr_assert_str_eq(rep->text, want);
  crpc__servertest__rep__free_unpacked(rep, NULL);
}

/* Each test ends well within its timeout when the client behaves; a
 * timeout names the test that hung instead of stalling the whole run. */
TestSuite(faults, .timeout = 60);

/* 1. A server killed mid-call; the same port serves again later. */

Test(faults, killed_mid_call) {
  SELECT("killed_mid_call");
  crpc_channel *ch = open_channel(env("FAULT_TARGET"), CRPC_LB_PICK_FIRST);
  crpc_future *fl, *fw;
  int64_t t0;
  outcome o;

  ok_call(ch, "warm-up", &patient);
  fl = slow_async(ch, "doomed-loop", 20000, 0);
  fw = slow_async(ch, "doomed-worker", 20000, 1);
  /* Streams of one connection arrive in order: once this is answered,
   * the server holds both slow calls. */
  ok_call(ch, "in-order", &quick);
  t0 = now_ms();
  ctl_do("kill");
  for (int i = 0; i < 2; i++) {
    crpc_future *f = i == 0 ? fl : fw;
    crpc_status st = wait_status(f, 10000);
    fprintf(stderr,
            "killed_mid_call: call in flight: %s \"%s\" %lld ms after "
            "the kill\n",
            crpc_status_name(st), crpc_future_message(f),
            (long long)(now_ms() - t0));
    cr_assert_eq(st, CRPC_STATUS_UNAVAILABLE);
    cr_assert_lt(now_ms() - t0, 8000, "the failure took too long");
    crpc_future_unref(f);
  }
  o = loop_call(ch, "while-down", 0, &quick);
  fprintf(stderr,
          "killed_mid_call: fail-fast call while down: %s \"%s\" in "
          "%lld ms\n",
          crpc_status_name(o.code), o.message, (long long)o.elapsed_ms);
  cr_assert_eq(o.code, CRPC_STATUS_UNAVAILABLE);
  cr_assert_lt(o.elapsed_ms, 4000);

  ctl_do("restart");
  o = ok_call(ch, "back", &patient);
  fprintf(stderr,
          "killed_mid_call: first call after the restart: OK in %lld "
          "ms\n",
          (long long)o.elapsed_ms);
  ok_call(ch, "fail-fast-after", &quick);
  crpc_channel_free(ch);
}

/* 2. GOAWAY: a draining crpc-server, then a server refusing streams. */

#define DRAIN_CALLS 20

Test(faults, goaway_drain, .timeout = 30) {
  SELECT("goaway_drain");
  crpc_channel *ch = open_channel(env("FAULT_TARGET"), CRPC_LB_PICK_FIRST);
  crpc_future *fs[DRAIN_CALLS];
  char names[DRAIN_CALLS][32];
  int64_t t0;

  ok_call(ch, "warm-up", &patient);
  for (int i = 0; i < DRAIN_CALLS; i++) {
    snprintf(names[i], sizeof(names[i]), "drain-%d", i);
    fs[i] = slow_async(ch, names[i], 500, 0);
  }
  ok_call(ch, "in-order", &quick);
  t0 = now_ms();
  ctl_do("term");
  for (int i = 0; i < DRAIN_CALLS; i++) {
    wait_status(fs[i], 15000);
    expect_reply(fs[i], names[i], 0);
    crpc_future_unref(fs[i]);
  }
  fprintf(stderr,
          "goaway_drain: %d calls in flight at SIGTERM all OK, the "
          "last %lld ms after it\n",
          DRAIN_CALLS, (long long)(now_ms() - t0));
  crpc_channel_free(ch);
}

#define GOAWAY_CALLS 6

Test(faults, goaway_retry, .timeout = 30) {
  SELECT("goaway_retry");
  crpc_channel *ch = open_channel(env("FAULT_GARBAGE"), CRPC_LB_PICK_FIRST);
  crpc_metadata md;
  crpc_future *fs[GOAWAY_CALLS];
  char names[GOAWAY_CALLS][32];
  int32_t conn[GOAWAY_CALLS], first = INT32_MAX;
  int on_first = 0, on_later = 0;

  crpc_metadata_init(&md);
  cr_assert_eq(crpc_metadata_add_str(&md, "x-garbage-mode", "goaway"), 0);
  cr_assert_eq(crpc_metadata_add_str(&md, "x-garbage-key", "goaway-1"), 0);
  cr_assert_eq(crpc_metadata_add_str(&md, "x-garbage-hold", "6"), 0);
  for (int i = 0; i < GOAWAY_CALLS; i++) {
    req_t req = CRPC__SERVERTEST__REQ__INIT;
    crpc_call_opts opts = {.timeout_ms = 15000, .metadata = &md};
    snprintf(names[i], sizeof(names[i]), "g-%d", i);
    req.name = names[i];
    fs[i] = crpc_servertest_loop_test_unary_async(ch, &req, &opts);
    cr_assert_not_null(fs[i]);
  }
  for (int i = 0; i < GOAWAY_CALLS; i++) {
    rep_t *rep = NULL;
    wait_status(fs[i], 20000);
    crpc_status st = crpc_servertest_loop_test_unary_result(fs[i], &rep);
    cr_assert_eq(st, CRPC_STATUS_OK, "call %s: %s: %s", names[i],
                 crpc_status_name(st), crpc_future_message(fs[i]));
    conn[i] = rep->count;
    first = conn[i] < first ? conn[i] : first;
    crpc__servertest__rep__free_unpacked(rep, NULL);
    crpc_future_unref(fs[i]);
  }
  for (int i = 0; i < GOAWAY_CALLS; i++)
    conn[i] == first ? on_first++ : on_later++;
  fprintf(stderr,
          "goaway_retry: %d answered on connection %d before its "
          "GOAWAY, %d retried on a later one\n",
          on_first, first, on_later);
  cr_assert_eq(on_first, GOAWAY_CALLS / 2);
  cr_assert_eq(on_later, GOAWAY_CALLS / 2);
  crpc_metadata_cleanup(&md);
  ok_call(ch, "after-goaway", &quick);
  crpc_channel_free(ch);
}

/* 3. Several addresses: round-robin and pick-first. */

static int32_t whoami(crpc_channel *ch) {
  Crpc__Composetest__WhoamiReq req = CRPC__COMPOSETEST__WHOAMI_REQ__INIT;
  Crpc__Composetest__WhoamiRep *rep = NULL;
  crpc_status_info si;
  crpc_call_opts opts = {.timeout_ms = 5000, .status_out = &si};
  crpc_status st;
  int32_t pid;

  crpc_status_info_init(&si);
  st = crpc_composetest_compose_whoami(ch, &req, &rep, &opts);
  cr_assert_eq(st, CRPC_STATUS_OK, "Whoami: %s: %s", crpc_status_name(st),
               si.message != NULL ? si.message : "");
  pid = rep->pid;
  crpc__composetest__whoami_rep__free_unpacked(rep, NULL);
  crpc_status_info_cleanup(&si);
  return pid;
}

/* Calls until both servers have answered (round-robin connects to every
 * address, some a moment later than the first). */
static void until_both_answer(crpc_channel *ch, int32_t pa, int32_t pb) {
  int seen_a = 0, seen_b = 0;
  int64_t end = now_ms() + 10000;
  crpc_future *ready = crpc_channel_connect(ch);

  cr_assert_not_null(ready);
  cr_assert_eq(wait_status(ready, 10000), CRPC_STATUS_OK, "connect: %s",
               crpc_future_message(ready));
  crpc_future_unref(ready);
  while (!(seen_a && seen_b)) {
    int32_t pid = whoami(ch);
    seen_a |= pid == pa;
    seen_b |= pid == pb;
    cr_assert(pid == pa || pid == pb, "answered by pid %d", pid);
    cr_assert_lt(now_ms(), end, "round-robin did not reach both servers");
  }
}

#define LB_CALLS 100

Test(faults, lb_split, .timeout = 30) {
  SELECT("lb_split");
  int32_t pa = atoi(env("FAULT_PID_A")), pb = atoi(env("FAULT_PID_B"));
  crpc_channel *rr = open_channel(env("FAULT_TARGETS"), CRPC_LB_ROUND_ROBIN);
  crpc_channel *pf = open_channel(env("FAULT_TARGETS"), CRPC_LB_PICK_FIRST);
  int na = 0, nb = 0, pf_a = 0;

  until_both_answer(rr, pa, pb);
  for (int i = 0; i < LB_CALLS; i++)
    whoami(rr) == pa ? na++ : nb++;
  fprintf(stderr,
          "lb_split: round-robin: %d calls to the first server, %d "
          "to the second\n",
          na, nb);
  cr_assert_geq(na, 30);
  cr_assert_geq(nb, 30);

  for (int i = 0; i < LB_CALLS; i++)
    pf_a += whoami(pf) == pa;
  fprintf(stderr,
          "lb_split: pick-first: %d of %d calls to the first "
          "address\n",
          pf_a, LB_CALLS);
  cr_assert_eq(pf_a, LB_CALLS);
  crpc_channel_free(rr);
  crpc_channel_free(pf);
}

Test(faults, lb_failover) {
  SELECT("lb_failover");
  int32_t pa = atoi(env("FAULT_PID_A")), pb = atoi(env("FAULT_PID_B"));
  crpc_channel *rr = open_channel(env("FAULT_TARGETS"), CRPC_LB_ROUND_ROBIN);
  int32_t pb2;
  int64_t end;
  int n = 0, on_a = 0;
  char *answer;

  until_both_answer(rr, pa, pb);
  ctl_do("kill-b");
  /* The client learns of the lost connection from its socket; a call
   * already sent on it may fail, as with any gRPC client. */
  sleep_ms(300);
  for (int i = 0; i < 50; i++)
    cr_assert_eq(whoami(rr), pa, "call %d after the kill", i);
  fprintf(stderr, "lb_failover: 50 calls after the second server died, all "
                  "OK on the first\n");

  answer = ctl("restart-b");
  pb2 = atoi(answer);
  free(answer);
  end = now_ms() + 15000;
  for (;;) {
    int32_t pid = whoami(rr);
    n++;
    if (pid == pb2)
      break;
    cr_assert_eq(pid, pa);
    on_a++;
    cr_assert_lt(now_ms(), end, "the restarted server got no call");
    sleep_ms(10);
  }
  fprintf(stderr,
          "lb_failover: the restarted server answered call %d after "
          "its restart\n",
          n);
  crpc_channel_free(rr);
}

/* 4. Nothing listening: wait-for-ready against fail-fast. */

Test(faults, refused, .timeout = 30) {
  SELECT("refused");
  const char *down = env("FAULT_DOWN");
  crpc_channel *ch = open_channel(down, CRPC_LB_PICK_FIRST);
  crpc_channel *fresh = open_channel(down, CRPC_LB_PICK_FIRST);
  const call_spec wfr = {.timeout_ms = 700, .wait_for_ready = 1};
  const call_spec ff = {.timeout_ms = 700};
  outcome o = loop_call(ch, "wait-for-ready", 0, &wfr);

  fprintf(stderr, "refused: wait-for-ready, 700 ms: %s \"%s\" after %lld ms\n",
          crpc_status_name(o.code), o.message, (long long)o.elapsed_ms);
  cr_assert_eq(o.code, CRPC_STATUS_DEADLINE_EXCEEDED);
  cr_assert_geq(o.elapsed_ms, 650);
  cr_assert_lt(o.elapsed_ms, 3000);

  /* Fail-fast: on a new channel (which connects for it) and on the one
   * that has just failed to connect (in backoff). */
  for (int i = 0; i < 2; i++) {
    o = loop_call(i == 0 ? fresh : ch, "fail-fast", 0, &ff);
    fprintf(stderr,
            "refused: fail-fast, 700 ms, %s channel: %s \"%s\" after "
            "%lld ms\n",
            i == 0 ? "new" : "backing-off", crpc_status_name(o.code), o.message,
            (long long)o.elapsed_ms);
    cr_assert_eq(o.code, CRPC_STATUS_UNAVAILABLE);
    cr_assert_lt(o.elapsed_ms, 500);
    cr_assert_neq(o.message[0], '\0', "UNAVAILABLE should say why");
  }
  crpc_channel_free(ch);
  crpc_channel_free(fresh);
}

Test(faults, refused_then_started, .timeout = 30) {
  SELECT("refused_then_started");
  crpc_channel *ch = open_channel(env("FAULT_DOWN"), CRPC_LB_PICK_FIRST);
  req_t req = CRPC__SERVERTEST__REQ__INIT;
  crpc_call_opts opts = {.timeout_ms = 20000, .wait_for_ready = 1};
  crpc_future *f;
  int64_t t0;

  req.name = "late";
  f = crpc_servertest_loop_test_unary_async(ch, &req, &opts);
  cr_assert_not_null(f);
  sleep_ms(500);
  cr_assert_not(crpc_future_is_done(f), "gave up with %s: %s",
                crpc_status_name(crpc_future_status(f)),
                crpc_future_message(f));
  ctl_do("start");
  t0 = now_ms();
  wait_status(f, 15000);
  expect_reply(f, "late", 0);
  fprintf(stderr,
          "refused_then_started: the waiting call succeeded %lld ms "
          "after the server started\n",
          (long long)(now_ms() - t0));
  cr_assert_lt(now_ms() - t0, 5000);
  crpc_future_unref(f);
  crpc_channel_free(ch);
}

/* 5. Retries of UNAVAILABLE. */

/* One call of garbage_server's unavailable mode: |fails| failures with
 * |code| before success, for a fresh |key|. */
static outcome flaky_call(crpc_channel *ch, const char *key, const char *fails,
                          const char *code, unsigned max_attempts) {
  const call_spec spec = {.timeout_ms = 10000,
                          .max_attempts = max_attempts,
                          .md = {"x-garbage-mode", "unavailable",
                                 "x-garbage-key", key, "x-garbage-fail-times",
                                 fails, "x-garbage-fail-code", code}};
  outcome o = loop_call(ch, key, 0, &spec);

  fprintf(stderr,
          "retries: key %s, %s failure(s) with %s, max_attempts %u: "
          "%s \"%s\" (attempt %d) in %lld ms\n",
          key, fails, code, max_attempts, crpc_status_name(o.code), o.message,
          o.count, (long long)o.elapsed_ms);
  return o;
}

Test(faults, retries, .timeout = 30) {
  SELECT("retries");
  crpc_channel *ch = open_channel(env("FAULT_GARBAGE"), CRPC_LB_PICK_FIRST);
  outcome o;

  o = flaky_call(ch, "r1", "1", "14", 3);
  cr_assert_eq(o.code, CRPC_STATUS_OK);
  cr_assert_eq(o.count, 2, "answered by attempt %d", o.count);
  o = flaky_call(ch, "r2", "2", "14", 3);
  cr_assert_eq(o.code, CRPC_STATUS_OK);
  cr_assert_eq(o.count, 3, "answered by attempt %d", o.count);
  /* Three attempts in all: the third failure is the call's. */
  o = flaky_call(ch, "r3", "5", "14", 3);
  cr_assert_eq(o.code, CRPC_STATUS_UNAVAILABLE);
  cr_assert_str_eq(o.message, "attempt 3 of key r3");
  /* No retries unless asked for. */
  o = flaky_call(ch, "r4", "1", "14", 0);
  cr_assert_eq(o.code, CRPC_STATUS_UNAVAILABLE);
  cr_assert_str_eq(o.message, "attempt 1 of key r4");
  o = flaky_call(ch, "r5", "1", "14", 1);
  cr_assert_eq(o.code, CRPC_STATUS_UNAVAILABLE);
  cr_assert_str_eq(o.message, "attempt 1 of key r5");
  /* Only UNAVAILABLE is retried. */
  o = flaky_call(ch, "r6", "1", "13", 3);
  cr_assert_eq(o.code, CRPC_STATUS_INTERNAL);
  cr_assert_str_eq(o.message, "attempt 1 of key r6");
  crpc_channel_free(ch);
}

/* 7. Bad input: a clear status on the call that got it, and no harm to
 * the others. */

typedef struct bad_case {
  const char *mode;
  crpc_status allowed[2];
  int connection_survives; /* a stream-level fault */
} bad_case;

static int allowed(const bad_case *c, crpc_status st) {
  return st == c->allowed[0] || st == c->allowed[1];
}

static void bad_input(const bad_case *c) {
  crpc_channel *ch = open_channel(env("FAULT_GARBAGE"), CRPC_LB_PICK_FIRST);
  const call_spec bad = {.timeout_ms = 8000, .md = {"x-garbage-mode", c->mode}};
  crpc_metadata md;
  crpc_future *bystander = NULL;
  int32_t conn = ok_call(ch, "before", &patient).count;
  outcome o;

  crpc_metadata_init(&md);
  if (c->connection_survives) {
    /* A call in flight on the same connection while the bad one fails. */
    req_t req = CRPC__SERVERTEST__REQ__INIT;
    crpc_call_opts opts = {.timeout_ms = 15000, .metadata = &md};
    cr_assert_eq(crpc_metadata_add_str(&md, "x-garbage-sleep-ms", "1000"), 0);
    req.name = "bystander";
    bystander = crpc_servertest_loop_test_unary_async(ch, &req, &opts);
    cr_assert_not_null(bystander);
  }
  o = loop_call(ch, c->mode, 0, &bad);
  fprintf(stderr, "bad input %s: %s \"%s\" in %lld ms\n", c->mode,
          crpc_status_name(o.code), o.message, (long long)o.elapsed_ms);
  cr_assert(allowed(c, o.code), "%s: got %s", c->mode,
            crpc_status_name(o.code));
  cr_assert_neq(o.message[0], '\0', "%s: the status should say what was wrong",
                c->mode);
  cr_assert_lt(o.elapsed_ms, 5000, "%s: waited for the deadline", c->mode);
  if (c->connection_survives) {
    wait_status(bystander, 15000);
    expect_reply(bystander, "bystander", 0);
    crpc_future_unref(bystander);
    cr_assert_eq(ok_call(ch, "after", &quick).count, conn,
                 "%s: the connection should have survived", c->mode);
  } else {
    ok_call(ch, "after", &patient);
  }
  crpc_metadata_cleanup(&md);
  crpc_channel_free(ch);
}

Test(faults, bad_garbage, .timeout = 30) {
  SELECT("bad_garbage");
  const bad_case c = {
      "garbage", {CRPC_STATUS_INTERNAL, CRPC_STATUS_UNAVAILABLE}, 0};
  bad_input(&c);
}

Test(faults, bad_truncated, .timeout = 30) {
  SELECT("bad_truncated");
  const bad_case c = {
      "truncated", {CRPC_STATUS_INTERNAL, CRPC_STATUS_INTERNAL}, 1};
  bad_input(&c);
}

Test(faults, bad_oversize, .timeout = 30) {
  SELECT("bad_oversize");
  const bad_case c = {
      "oversize",
      {CRPC_STATUS_RESOURCE_EXHAUSTED, CRPC_STATUS_RESOURCE_EXHAUSTED},
      1};
  bad_input(&c);
}

/* A server's HPACK bomb: 100 KiB of response headers in a small block.
 * The call ends at the 16 KiB limit, without reading the rest. */
Test(faults, bad_hugeheaders, .timeout = 30) {
  SELECT("bad_hugeheaders");
  const bad_case c = {
      "hugeheaders",
      {CRPC_STATUS_RESOURCE_EXHAUSTED, CRPC_STATUS_RESOURCE_EXHAUSTED},
      1};
  bad_input(&c);
}

/* A server's gzip bomb: 64 MiB of zeros in 64 KiB. The call ends at the
 * 4 MiB message limit, without inflating the rest. */
Test(faults, bad_gzipbomb, .timeout = 30) {
  SELECT("bad_gzipbomb");
  const bad_case c = {
      "gzipbomb",
      {CRPC_STATUS_RESOURCE_EXHAUSTED, CRPC_STATUS_RESOURCE_EXHAUSTED},
      1};
  bad_input(&c);
}

/* A length prefix of 4 GiB: refused on the prefix alone. */
Test(faults, bad_hugelength, .timeout = 30) {
  SELECT("bad_hugelength");
  const bad_case c = {
      "hugelength",
      {CRPC_STATUS_RESOURCE_EXHAUSTED, CRPC_STATUS_RESOURCE_EXHAUSTED},
      1};
  bad_input(&c);
}

/* A server's PING flood: the client ends the connection with GOAWAY
 * ENHANCE_YOUR_CALM after its budget of frames that ask nothing, and the
 * call fails as any call on a lost connection does. */
Test(faults, bad_pingflood, .timeout = 30) {
  SELECT("bad_pingflood");
  const bad_case c = {
      "pingflood", {CRPC_STATUS_UNAVAILABLE, CRPC_STATUS_INTERNAL}, 0};
  bad_input(&c);
}

Test(faults, bad_notrailers, .timeout = 30) {
  SELECT("bad_notrailers");
  const bad_case c = {
      "notrailers", {CRPC_STATUS_INTERNAL, CRPC_STATUS_UNKNOWN}, 1};
  bad_input(&c);
}

Test(faults, bad_nostatus, .timeout = 30) {
  SELECT("bad_nostatus");
  const bad_case c = {
      "nostatus", {CRPC_STATUS_INTERNAL, CRPC_STATUS_UNKNOWN}, 1};
  bad_input(&c);
}

Test(faults, bad_http1, .timeout = 30) {
  SELECT("bad_http1");
  crpc_channel *ch =
      open_channel(env("FAULT_GARBAGE_HTTP1"), CRPC_LB_PICK_FIRST);
  crpc_channel *good = open_channel(env("FAULT_GARBAGE"), CRPC_LB_PICK_FIRST);
  outcome o = loop_call(ch, "http1", 0, &quick);

  fprintf(stderr, "bad input http1: %s \"%s\" in %lld ms\n",
          crpc_status_name(o.code), o.message, (long long)o.elapsed_ms);
  cr_assert(o.code == CRPC_STATUS_UNAVAILABLE || o.code == CRPC_STATUS_INTERNAL,
            "got %s", crpc_status_name(o.code));
  cr_assert_neq(o.message[0], '\0');
  cr_assert_lt(o.elapsed_ms, 4000);
  ok_call(good, "after", &patient);
  crpc_channel_free(ch);
  crpc_channel_free(good);
}

/* 6. Composition: handlers that are clients (compose_module.c). */

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static Crpc__Composetest__FanRep *fan_out_result(crpc_future *f) {
  Crpc__Composetest__FanRep *rep = NULL;
  crpc_status st;

  wait_status(f, 120000);
  st = crpc_composetest_compose_fan_out_result(f, &rep);
  cr_assert_eq(st, CRPC_STATUS_OK, "FanOut: %s: %s", crpc_status_name(st),
               crpc_future_message(f));
  return rep;
}

static crpc_future *fan_out_async(crpc_channel *ch, int n, int sleep,
                                  int parallel, int worker) {
  Crpc__Composetest__FanReq req = CRPC__COMPOSETEST__FAN_REQ__INIT;
  crpc_call_opts opts = {.timeout_ms = 120000};
  crpc_future *f;

  req.target = (char *)env("FAULT_DOWNSTREAM");
  req.n = n;
  req.sleep_ms = sleep;
  req.parallel = parallel;
  req.worker = worker;
  f = crpc_composetest_compose_fan_out_async(ch, &req, &opts);
  cr_assert_not_null(f);
  return f;
}

#define MAX_SAMPLES 4096

Test(faults, compose_fan_out, .timeout = 120) {
  SELECT("compose_fan_out");
  crpc_channel *ch = open_channel(env("FAULT_COMPOSE"), CRPC_LB_PICK_FIRST);
  int64_t *lat = calloc(MAX_SAMPLES, sizeof(*lat));
  size_t n = 0;
  crpc_future *f;
  Crpc__Composetest__FanRep *rep;
  int64_t seq_ms;

  cr_assert_not_null(lat);
  ok_call(ch, "warm-up", &patient);
  /* 100 blocking stub calls of 20 ms, one after another, from a coroutine
   * on the compose server's only loop, while quick calls to that loop are
   * timed. */
  f = fan_out_async(ch, 100, 20, 0, 0);
  while (!crpc_future_is_done(f) && n < MAX_SAMPLES) {
    lat[n++] = ok_call(ch, "quick", &quick).elapsed_ms;
    sleep_ms(5);
  }
  rep = fan_out_result(f);
  crpc_future_unref(f);
  seq_ms = rep->elapsed_ms;
  qsort(lat, n, sizeof(*lat), cmp_i64);
  fprintf(stderr,
          "compose_fan_out: 100 sequential blocking calls: %d OK, %d "
          "failed, %lld ms; meanwhile %zu calls to the same loop: p50 "
          "%lld ms, p90 %lld ms, max %lld ms\n",
          rep->ok, rep->failed, (long long)seq_ms, n,
          (long long)(n ? lat[n / 2] : -1),
          (long long)(n ? lat[n * 9 / 10] : -1),
          (long long)(n ? lat[n - 1] : -1));
  cr_assert_eq(rep->ok, 100, "first error: %s", rep->first_error);
  cr_assert_geq(seq_ms, 100 * 20, "the calls did not run one after another");
  cr_assert_geq(n, 10, "too few calls answered during the fan-out");
  cr_assert_lt(lat[n / 2], 250);
  cr_assert_lt(lat[n / 2] * 10, seq_ms);
  cr_assert_lt(lat[n - 1], seq_ms / 2, "the loop stalled during the fan-out");
  crpc__composetest__fan_rep__free_unpacked(rep, NULL);

  /* The same through _async stubs gathered with crpc_future_all. */
  f = fan_out_async(ch, 100, 20, 1, 0);
  rep = fan_out_result(f);
  crpc_future_unref(f);
  fprintf(stderr,
          "compose_fan_out: 100 _async calls gathered: %d OK, %lld "
          "ms\n",
          rep->ok, (long long)rep->elapsed_ms);
  cr_assert_eq(rep->ok, 100, "first error: %s", rep->first_error);
  cr_assert_lt(rep->elapsed_ms, seq_ms / 3, "the calls did not overlap");
  crpc__composetest__fan_rep__free_unpacked(rep, NULL);

  /* Blocking calls to the downstream server's worker pool. */
  f = fan_out_async(ch, 20, 10, 0, 1);
  rep = fan_out_result(f);
  crpc_future_unref(f);
  cr_assert_eq(rep->ok, 20, "first error: %s", rep->first_error);
  crpc__composetest__fan_rep__free_unpacked(rep, NULL);
  free(lat);
  crpc_channel_free(ch);
}

static crpc_future *nested_async(crpc_channel *ch, int coroutine,
                                 const Crpc__Composetest__NestReq *req,
                                 const crpc_call_opts *opts) {
  crpc_future *f = coroutine
                       ? crpc_composetest_compose_nested_co_async(ch, req, opts)
                       : crpc_composetest_compose_nested_async(ch, req, opts);
  cr_assert_not_null(f);
  return f;
}

#define POOL_CALLS 8

/* The compose server has 2 workers; 8 Nested handlers each block their
 * worker on a call back to the same server's loop. */
Test(faults, compose_worker_pool) {
  SELECT("compose_worker_pool");
  const char *self = env("FAULT_COMPOSE");
  crpc_channel *ch = open_channel(self, CRPC_LB_PICK_FIRST);
  crpc_future *fs[POOL_CALLS], *all = NULL;
  char tags[POOL_CALLS][32];
  int64_t t0;

  ok_call(ch, "warm-up", &patient);
  t0 = now_ms();
  for (int i = 0; i < POOL_CALLS; i++) {
    Crpc__Composetest__NestReq req = CRPC__COMPOSETEST__NEST_REQ__INIT;
    crpc_call_opts opts = {.timeout_ms = 60000};
    snprintf(tags[i], sizeof(tags[i]), "pool-%d", i);
    req.target = (char *)self;
    req.tag = tags[i];
    req.sleep_ms = 100;
    fs[i] = nested_async(ch, 0, &req, &opts);
  }
  cr_assert_eq(crpc_future_all(fs, POOL_CALLS, &all), 0);
  cr_assert_eq(crpc_future_wait_for(all, 30000), 0,
               "the nested calls did not complete: a deadlock?");
  for (int i = 0; i < POOL_CALLS; i++) {
    Crpc__Composetest__NestRep *rep = NULL;
    char want[300];
    crpc_status st = crpc_composetest_compose_nested_result(fs[i], &rep);
    cr_assert_eq(st, CRPC_STATUS_OK, "Nested %d: %s: %s", i,
                 crpc_status_name(st), crpc_future_message(fs[i]));
    snprintf(want, sizeof(want), "hello %s", tags[i]);
    cr_assert_str_eq(rep->text, want);
    cr_assert_str_eq(rep->placement, "loop");
    crpc__composetest__nest_rep__free_unpacked(rep, NULL);
    crpc_future_unref(fs[i]);
  }
  crpc_future_unref(all);
  fprintf(stderr,
          "compose_worker_pool: %d nested blocking calls from 2 "
          "workers done in %lld ms\n",
          POOL_CALLS, (long long)(now_ms() - t0));
  crpc_channel_free(ch);
}

/* The downstream server's Stats for |tag|. */
static Crpc__Servertest__StatsRep *stats(crpc_channel *ds, const char *tag) {
  Crpc__Servertest__StatsReq req = CRPC__SERVERTEST__STATS_REQ__INIT;
  Crpc__Servertest__StatsRep *rep = NULL;
  crpc_call_opts opts = {.timeout_ms = 5000};
  crpc_status st;

  req.tag = (char *)tag;
  st = crpc_servertest_worker_test_stats(ds, &req, &rep, &opts);
  cr_assert_eq(st, CRPC_STATUS_OK, "Stats: %s", crpc_status_name(st));
  return rep;
}

/* Waits until the downstream server has seen |tag|'s call end; returns
 * its Stats. */
static Crpc__Servertest__StatsRep *stats_when_ended(crpc_channel *ds,
                                                    const char *tag) {
  int64_t end = now_ms() + 10000;
  for (;;) {
    Crpc__Servertest__StatsRep *rep = stats(ds, tag);
    if (rep->cancelled + rep->deadline > 0)
      return rep;
    crpc__servertest__stats_rep__free_unpacked(rep, NULL);
    cr_assert_lt(now_ms(), end, "the nested call %s never ended", tag);
    sleep_ms(50);
  }
}

/* The compose server's record of how |tag|'s nested call ended. */
static Crpc__Composetest__OutcomeRep *nested_outcome(crpc_channel *cs,
                                                     const char *tag) {
  int64_t end = now_ms() + 10000;
  for (;;) {
    Crpc__Composetest__OutcomeReq req = CRPC__COMPOSETEST__OUTCOME_REQ__INIT;
    Crpc__Composetest__OutcomeRep *rep = NULL;
    crpc_call_opts opts = {.timeout_ms = 5000};
    req.tag = (char *)tag;
    crpc_status st = crpc_composetest_compose_outcome(cs, &req, &rep, &opts);
    cr_assert_eq(st, CRPC_STATUS_OK, "Outcome: %s", crpc_status_name(st));
    if (rep->found)
      return rep;
    crpc__composetest__outcome_rep__free_unpacked(rep, NULL);
    cr_assert_lt(now_ms(), end, "the nested call %s never returned", tag);
    sleep_ms(50);
  }
}

/* Nested (or NestedCo) with a 300 ms deadline; its nested call waits for
 * its cancellation on the downstream server. */
static void deadline_case(crpc_channel *cs, crpc_channel *ds, int coroutine,
                          int no_propagation) {
  Crpc__Composetest__NestReq req = CRPC__COMPOSETEST__NEST_REQ__INIT;
  crpc_call_opts opts = {.timeout_ms = 300};
  Crpc__Servertest__StatsRep *sr;
  Crpc__Composetest__OutcomeRep *o;
  char tag[64];
  const char *how = no_propagation ? "no_propagation" : "propagated";
  int64_t t0 = now_ms();
  crpc_future *f;
  crpc_status st;

  snprintf(tag, sizeof(tag), "deadline-%s-%s-%d",
           coroutine ? "coroutine" : "worker", how, (int)getpid());
  req.target = (char *)env("FAULT_DOWNSTREAM");
  req.tag = tag;
  req.wait_cancel = 1;
  req.no_propagation = no_propagation;
  req.timeout_ms = no_propagation ? 1500 : 0;
  f = nested_async(cs, coroutine, &req, &opts);
  st = wait_status(f, 10000);
  cr_assert_eq(st, CRPC_STATUS_DEADLINE_EXCEEDED, "%s: %s", tag,
               crpc_status_name(st));
  crpc_future_unref(f);
  if (no_propagation) {
    /* Not cut at the parent's deadline: still waiting at 800 ms. */
    sleep_ms(800 - (now_ms() - t0));
    sr = stats(ds, tag);
    cr_assert_eq(sr->cancelled + sr->deadline, 0, "%s ended with its parent",
                 tag);
    crpc__servertest__stats_rep__free_unpacked(sr, NULL);
  }
  sr = stats_when_ended(ds, tag);
  o = nested_outcome(cs, tag);
  fprintf(stderr,
          "compose_deadline: %s: the nested call ended %s \"%s\" "
          "after %lld ms; downstream saw deadline %d, cancelled %d\n",
          tag, crpc_status_name((crpc_status)o->code), o->message,
          (long long)o->elapsed_ms, sr->deadline, sr->cancelled);
  cr_assert_eq(sr->deadline, 1, "%s: the downstream deadline", tag);
  cr_assert_eq(sr->cancelled, 0);
  if (no_propagation) {
    cr_assert_eq(o->code, CRPC_STATUS_DEADLINE_EXCEEDED);
    cr_assert_geq(o->elapsed_ms, 1400);
    cr_assert_lt(o->elapsed_ms, 5000);
  } else {
    /* Cut at the parent's deadline, which passed at 300 ms. */
    cr_assert(o->code == CRPC_STATUS_DEADLINE_EXCEEDED ||
                  o->code == CRPC_STATUS_CANCELLED,
              "%s", crpc_status_name((crpc_status)o->code));
    cr_assert_lt(o->elapsed_ms, 1200);
  }
  crpc__servertest__stats_rep__free_unpacked(sr, NULL);
  crpc__composetest__outcome_rep__free_unpacked(o, NULL);
}

/* A cancelled parent cancels its nested call. */
static void cancel_case(crpc_channel *cs, crpc_channel *ds, int coroutine) {
  Crpc__Composetest__NestReq req = CRPC__COMPOSETEST__NEST_REQ__INIT;
  crpc_call_opts opts = {.timeout_ms = 30000};
  Crpc__Servertest__StatsRep *sr;
  Crpc__Composetest__OutcomeRep *o;
  char tag[64];
  crpc_future *f;

  snprintf(tag, sizeof(tag), "cancel-%s-%d", coroutine ? "coroutine" : "worker",
           (int)getpid());
  req.target = (char *)env("FAULT_DOWNSTREAM");
  req.tag = tag;
  req.wait_cancel = 1;
  f = nested_async(cs, coroutine, &req, &opts);
  sleep_ms(300);
  crpc_future_cancel(f);
  cr_assert_eq(wait_status(f, 5000), CRPC_STATUS_CANCELLED);
  crpc_future_unref(f);
  sr = stats_when_ended(ds, tag);
  o = nested_outcome(cs, tag);
  fprintf(stderr,
          "compose_deadline: %s: the nested call ended %s \"%s\" "
          "after %lld ms; downstream saw deadline %d, cancelled %d\n",
          tag, crpc_status_name((crpc_status)o->code), o->message,
          (long long)o->elapsed_ms, sr->deadline, sr->cancelled);
  cr_assert_eq(sr->cancelled, 1, "%s: the downstream cancellation", tag);
  cr_assert_eq(o->code, CRPC_STATUS_CANCELLED);
  crpc__servertest__stats_rep__free_unpacked(sr, NULL);
  crpc__composetest__outcome_rep__free_unpacked(o, NULL);
}

Test(faults, compose_deadline, .timeout = 120) {
  SELECT("compose_deadline");
  crpc_channel *cs = open_channel(env("FAULT_COMPOSE"), CRPC_LB_PICK_FIRST);
  crpc_channel *ds = open_channel(env("FAULT_DOWNSTREAM"), CRPC_LB_PICK_FIRST);

  ok_call(cs, "warm-up", &patient);
  ok_call(ds, "warm-up", &patient);
  for (int coroutine = 0; coroutine < 2; coroutine++) {
    deadline_case(cs, ds, coroutine, 0);
    deadline_case(cs, ds, coroutine, 1);
    cancel_case(cs, ds, coroutine);
  }
  crpc_channel_free(cs);
  crpc_channel_free(ds);
}
