/*
 * examples/greeter/client.c: a tour of crpc's client, calling the greeter.
 *
 *   greeter-client TARGET        TARGET: the server, e.g. 127.0.0.1:50051
 *
 * Every step uses the stubs generated from greeter.proto and prints what
 * happened and how long it took:
 *   a. a blocking call;
 *   b. 100 _async calls at once, gathered with crpc_future_all();
 *   c. a server stream read to its end;
 *   d. a coroutine handler on the server that calls another service with
 *      the blocking stub (Relay.Greet calling Greeter.SayHello at TARGET);
 *   e. a deadline that expires;
 *   f. a call cancelled through its future.
 * It exits 0 when every step behaved as expected, 1 otherwise.
 *
 * This program is a plain thread without a loop, so the blocking stubs
 * block it; inside a coroutine the same calls would suspend instead.
 */
#define _POSIX_C_SOURCE 200809L

#include "greeter.crpc.h" /* generated from greeter.proto */

#include <crpc/channel.h>
#include <crpc/deadline.h>
#include <crpc/error.h>
#include <crpc/future.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define N_ASYNC 100       /* step b: calls at once... */
#define ASYNC_DELAY 200   /* ...each answered this many ms later */
#define N_STREAM 5        /* step c: replies... */
#define STREAM_GAP 50     /* ...this many ms apart */
#define LATE_DELAY 2000   /* step e: a reply this late... */
#define DEADLINE 300      /* ...for a caller this impatient */
#define CANCEL_DELAY 5000 /* step f: a reply this late... */
#define CANCEL_AFTER 100  /* ...cancelled after this many ms */

typedef struct tour {
  crpc_channel *ch;
  const char *target;
  int failures;
} tour;

/* Milliseconds since |t0|, on the monotonic clock (crpc_now_ns()). */
static double ms_since(int64_t t0) {
  return (double)(crpc_now_ns() - t0) / 1e6;
}

/* Prints one step: ok or FAIL, what it was, how long it took since |t0|,
 * and what came back. */
static void step(tour *t, int ok, const char *what, int64_t t0, const char *fmt,
                 ...) {
  double ms = ms_since(t0);
  char detail[256];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(detail, sizeof(detail), fmt, ap);
  va_end(ap);
  printf("  %s %-44s %7.1f ms  %s\n", ok ? "ok  " : "FAIL", what, ms, detail);
  fflush(stdout);
  if (!ok)
    t->failures++;
}

/* "CODE: message" of a failed call, for the step's line. */
static const char *failure(crpc_status st, const crpc_status_info *info,
                           char *buf, size_t len) {
  snprintf(buf, len, "%s: %s", crpc_status_name(st),
           info->message != NULL ? info->message : "");
  return buf;
}

/* The channel connects lazily, at its first call; crpc_channel_connect()
 * connects now, for programs that want to know the server is there. */
static int connect_now(tour *t) {
  int64_t t0 = crpc_now_ns();
  crpc_future *f = crpc_channel_connect(t->ch);
  int rc = f != NULL ? crpc_future_wait_for(f, 5000) : CRPC_ENOMEM;
  int ok = rc == 0 && crpc_future_status(f) == CRPC_STATUS_OK;

  if (rc != 0)
    step(t, 0, "crpc_channel_connect()", t0, "-> %s", crpc_strerror(rc));
  else if (!ok)
    step(t, 0, "crpc_channel_connect()", t0, "-> %s: %s",
         crpc_status_name(crpc_future_status(f)), crpc_future_message(f));
  else
    step(t, 1, "crpc_channel_connect()", t0, "-> OK, a connection is ready");
  crpc_future_unref(f);
  return ok;
}

/* a. SayHello, blocking: the reply is the caller's to free. */
static void blocking_call(tour *t) {
  Greeter__HelloRequest req = GREETER__HELLO_REQUEST__INIT;
  Greeter__HelloReply *reply = NULL;
  crpc_call_opts opts = {.timeout_ms = 5000};
  crpc_status_info info;
  int64_t t0 = crpc_now_ns();
  crpc_status st;
  char buf[160];

  crpc_status_info_init(&info);
  opts.status_out = &info;
  req.name = "world";
  st = greeter_greeter_say_hello(t->ch, &req, &reply, &opts);
  if (st != CRPC_STATUS_OK)
    step(t, 0, "a. SayHello, blocking", t0, "-> %s",
         failure(st, &info, buf, sizeof(buf)));
  else
    step(t,
         strcmp(reply->message, "Hello, world!") == 0 &&
             strcmp(reply->placement, "worker") == 0,
         "a. SayHello, blocking", t0, "-> \"%s\", ran on a %s", reply->message,
         reply->placement);
  greeter__hello_reply__free_unpacked(reply, NULL);
  crpc_status_info_cleanup(&info);
}

/* Reads the results of the gathered futures |fs| and drops them; returns
 * how many were OK replies from the loop. */
static int take_results(crpc_future **fs, int n) {
  int good = 0;

  for (int i = 0; i < n; i++) {
    Greeter__HelloReply *reply = NULL;

    if (greeter_greeter_say_hello_later_result(fs[i], &reply) ==
            CRPC_STATUS_OK &&
        strcmp(reply->placement, "loop") == 0)
      good++;
    greeter__hello_reply__free_unpacked(reply, NULL);
    crpc_future_unref(fs[i]);
  }
  return good;
}

/* b. N_ASYNC SayHelloLater calls started at once, each a future; the
 * server's coroutines wait on them together, so gathering them takes about
 * one delay, not N_ASYNC. */
static void async_calls(tour *t) {
  Greeter__DelayedHelloRequest req = GREETER__DELAYED_HELLO_REQUEST__INIT;
  crpc_call_opts opts = {.timeout_ms = 10000};
  crpc_future *fs[N_ASYNC], *all = NULL;
  int64_t t0 = crpc_now_ns();
  int n = 0, good, rc;
  double gathered;

  req.name = "async";
  req.delay_ms = ASYNC_DELAY;
  while (n < N_ASYNC &&
         (fs[n] = greeter_greeter_say_hello_later_async(t->ch, &req, &opts)))
    n++;
  rc = crpc_future_all(fs, (size_t)n, &all);
  if (rc == 0)
    crpc_future_wait(all);
  gathered = ms_since(t0);
  good = take_results(fs, n);
  if (rc != 0)
    step(t, 0, "b. SayHelloLater x100 _async, gathered", t0,
         "-> crpc_future_all: %s", crpc_strerror(rc));
  else if (crpc_future_status(all) != CRPC_STATUS_OK)
    step(t, 0, "b. SayHelloLater x100 _async, gathered", t0,
         "-> %d of %d OK; the first failure: %s: %s", good, N_ASYNC,
         crpc_status_name(crpc_future_status(all)), crpc_future_message(all));
  else
    step(t, good == N_ASYNC && gathered < 5.0 * ASYNC_DELAY,
         "b. SayHelloLater x100 _async, gathered", t0,
         "-> %d of %d OK from the loop: %d ms each, %.0f ms in all", good,
         N_ASYNC, ASYNC_DELAY, gathered);
  crpc_future_unref(all);
}

/* Reads |r| to its end, noting each arrival in |at|; returns the status
 * of the first failed read, else that of _finish. */
static crpc_status read_stream(greeter_greeter_say_hellos_reader *r, int64_t t0,
                               int *n, char *at, size_t len) {
  Greeter__HelloReply *msg;
  crpc_status st;
  size_t used = 0;

  while ((st = greeter_greeter_say_hellos_read(r, &msg)) == CRPC_STATUS_OK &&
         msg != NULL) {
    if (used < len)
      used += (size_t)snprintf(at + used, len - used, "%s%.0f",
                               *n > 0 ? ", " : "", ms_since(t0));
    (*n)++;
    greeter__hello_reply__free_unpacked(msg, NULL);
  }
  if (st == CRPC_STATUS_OK)
    st = greeter_greeter_say_hellos_finish(r);
  return st;
}

/* c. SayHellos: the request goes out, the replies come one by one. */
static void server_stream(tour *t) {
  Greeter__RepeatedHelloRequest req = GREETER__REPEATED_HELLO_REQUEST__INIT;
  greeter_greeter_say_hellos_reader *r = NULL;
  crpc_call_opts opts = {.timeout_ms = 10000};
  crpc_status_info info;
  int64_t t0 = crpc_now_ns();
  char at[128] = "", buf[160];
  crpc_status st;
  int n = 0;

  crpc_status_info_init(&info);
  opts.status_out = &info; /* filled when the stream ends */
  req.name = "stream";
  req.count = N_STREAM;
  req.interval_ms = STREAM_GAP;
  st = greeter_greeter_say_hellos(t->ch, &req, &r, &opts);
  if (st == CRPC_STATUS_OK)
    st = read_stream(r, t0, &n, at, sizeof(at));
  greeter_greeter_say_hellos_free(r);
  if (st != CRPC_STATUS_OK)
    step(t, 0, "c. SayHellos, a server stream", t0, "-> %d replies, then %s", n,
         failure(st, &info, buf, sizeof(buf)));
  else
    step(t, n == N_STREAM, "c. SayHellos, a server stream", t0,
         "-> %d replies at %s ms, then OK", n, at);
  crpc_status_info_cleanup(&info);
}

/* d. Relay.Greet runs as a coroutine on the server's loop and calls
 * Greeter.SayHello at |t->target| (this same server) with the generated
 * blocking stub. With one loop thread the server could not even read that
 * inner request if the stub blocked the loop: it suspends the coroutine. */
static void relay_call(tour *t) {
  Greeter__RelayRequest req = GREETER__RELAY_REQUEST__INIT;
  Greeter__RelayReply *reply = NULL;
  crpc_call_opts opts = {.timeout_ms = 5000}; /* Relay's call inherits it */
  crpc_status_info info;
  int64_t t0 = crpc_now_ns();
  crpc_status st;
  char buf[160];

  crpc_status_info_init(&info);
  opts.status_out = &info;
  req.target = (char *)t->target;
  req.name = "relay";
  st = greeter_relay_greet(t->ch, &req, &reply, &opts);
  if (st != CRPC_STATUS_OK || reply->reply == NULL)
    step(t, 0, "d. Relay.Greet -> Greeter.SayHello", t0, "-> %s",
         failure(st, &info, buf, sizeof(buf)));
  else
    step(t,
         strcmp(reply->reply->message, "Hello, relay!") == 0 &&
             strcmp(reply->placement, "loop") == 0,
         "d. Relay.Greet -> Greeter.SayHello", t0,
         "-> \"%s\": Relay ran on the %s and called SayHello, which ran on "
         "a %s",
         reply->reply->message, reply->placement, reply->reply->placement);
  greeter__relay_reply__free_unpacked(reply, NULL);
  crpc_status_info_cleanup(&info);
}

/* e. A reply LATE_DELAY ms away, for a caller that waits DEADLINE ms. */
static void deadline_call(tour *t) {
  Greeter__DelayedHelloRequest req = GREETER__DELAYED_HELLO_REQUEST__INIT;
  Greeter__HelloReply *reply = NULL;
  crpc_call_opts opts = {.timeout_ms = DEADLINE};
  crpc_status_info info;
  int64_t t0 = crpc_now_ns();
  crpc_status st;
  double took;
  char buf[160];

  crpc_status_info_init(&info);
  opts.status_out = &info;
  req.name = "late";
  req.delay_ms = LATE_DELAY;
  st = greeter_greeter_say_hello_later(t->ch, &req, &reply, &opts);
  took = ms_since(t0);
  step(t,
       st == CRPC_STATUS_DEADLINE_EXCEEDED && took >= DEADLINE - 10 &&
           took < 5 * DEADLINE,
       "e. SayHelloLater 2000 ms, timeout_ms 300", t0, "-> %s",
       failure(st, &info, buf, sizeof(buf)));
  greeter__hello_reply__free_unpacked(reply, NULL);
  crpc_status_info_cleanup(&info);
}

/* f. A reply CANCEL_DELAY ms away, given up on after CANCEL_AFTER ms:
 * cancelling the future resets the stream, and the server's handler, which
 * waits on its call's cancellation, stops at once. */
static void cancelled_call(tour *t) {
  Greeter__DelayedHelloRequest req = GREETER__DELAYED_HELLO_REQUEST__INIT;
  Greeter__HelloReply *reply = NULL;
  crpc_call_opts opts = {.timeout_ms = 10000};
  int64_t t0 = crpc_now_ns();
  crpc_future *f;
  crpc_status st = CRPC_STATUS_UNKNOWN;
  int rc = CRPC_ENOMEM;

  req.name = "cancelled";
  req.delay_ms = CANCEL_DELAY;
  f = greeter_greeter_say_hello_later_async(t->ch, &req, &opts);
  if (f != NULL) {
    rc = crpc_future_wait_for(f, CANCEL_AFTER); /* CRPC_ETIMEDOUT */
    crpc_future_cancel(f);
    st = greeter_greeter_say_hello_later_result(f, &reply);
  }
  step(t,
       rc == CRPC_ETIMEDOUT && st == CRPC_STATUS_CANCELLED &&
           ms_since(t0) < 10.0 * CANCEL_AFTER,
       "f. SayHelloLater 5000 ms, cancelled at 100", t0,
       "-> waited %d ms (%s), crpc_future_cancel() -> %s", CANCEL_AFTER,
       crpc_err_name(rc), crpc_status_name(st));
  greeter__hello_reply__free_unpacked(reply, NULL);
  crpc_future_unref(f);
}

int main(int argc, char **argv) {
  crpc_channel_opts opts;
  tour t = {0};
  int rc;

  if (argc != 2 || argv[1][0] == '-') {
    fprintf(stderr, "usage: greeter-client TARGET   (e.g. 127.0.0.1:50051)\n");
    return 2;
  }
  t.target = argv[1];
  /* A server closing its socket mid-write must not kill the program; crpc
   * installs no signal handlers of its own. */
  signal(SIGPIPE, SIG_IGN);

  /* Cleartext HTTP/2, pick-first, an I/O thread of the channel's own. */
  crpc_channel_opts_init(&opts);
  if ((rc = crpc_channel_new(t.target, &opts, &t.ch)) != 0) {
    fprintf(stderr, "greeter-client: no channel to %s: %s\n", t.target,
            crpc_strerror(rc));
    return 1;
  }
  printf("crpc client calling %s:\n", t.target);
  if (connect_now(&t)) {
    blocking_call(&t);
    async_calls(&t);
    server_stream(&t);
    relay_call(&t);
    deadline_call(&t);
    cancelled_call(&t);
  }
  /* Frees the connection and the I/O thread; every future is gone. */
  crpc_channel_free(t.ch);
  return t.failures == 0 ? 0 : 1;
}
