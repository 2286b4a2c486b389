/*
 * tests/client/test_channel.c: a channel against an in-process crpc
 * server's built-in health service, and against addresses where nothing
 * listens: connecting, fail-fast and wait-for-ready, cancellation,
 * closing a channel under calls, and blocking calls inside coroutines.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crpc/call.h"
#include "crpc/channel.h"
#include "crpc/coro.h"
#include "crpc/error.h"
#include "crpc/server.h"
#include "grpc/health/v1/health.pb-c.h"
#include "health.h"

static const crpc_method *check_m(void) {
  return &crpc__health_desc.methods[0];
}

static const crpc_method *watch_m(void) {
  return &crpc__health_desc.methods[1];
}

static crpc_server *srv;
static char target[64];

/* The options of the tests' servers: one loop, one worker. */
static crpc_server_opts server_opts(void) {
  crpc_server_opts o;
  crpc_server_opts_init(&o);
  o.loops = 1;
  o.workers = 1;
  return o;
}

/* Starts |srv| with |o| on 127.0.0.1, and sets |target|. */
static void start_server_with(const crpc_server_opts *o) {
  cr_assert_eq(crpc_server_new(o, &srv), 0);
  cr_assert_eq(crpc_server_listen(srv, "127.0.0.1:0", NULL), 0);
  cr_assert_eq(crpc_server_start(srv), 0, "%s", crpc_server_error(srv));
  snprintf(target, sizeof(target), "127.0.0.1:%d", crpc_server_port(srv, 0));
}

static void start_server(void) {
  crpc_server_opts o = server_opts();
  start_server_with(&o);
}

static void stop_server(void) {
  crpc_future *f = crpc_server_shutdown(srv);
  crpc_future_wait(f);
  crpc_future_unref(f);
  crpc_server_free(srv);
}

/* A TCP port on 127.0.0.1 that nothing listens on (bound, then closed). */
static int dead_port(void) {
  crpc_server *s;
  crpc_server_opts o;
  crpc_server_opts_init(&o);
  cr_assert_eq(crpc_server_new(&o, &s), 0);
  cr_assert_eq(crpc_server_listen(s, "127.0.0.1:0", NULL), 0);
  cr_assert_eq(crpc_server_start(s), 0);
  int port = crpc_server_port(s, 0);
  crpc_future *f = crpc_server_shutdown(s);
  crpc_future_wait(f);
  crpc_future_unref(f);
  crpc_server_free(s);
  return port;
}

static int64_t now_ms(void) {
  return crpc_now_ns() / 1000000;
}

static crpc_status check(crpc_channel *ch, const crpc_call_opts *o,
                         int *serving) {
  Grpc__Health__V1__HealthCheckRequest req =
      GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
  req.service = "";
  ProtobufCMessage *rep = NULL;
  crpc_status st = crpc_call_unary(ch, check_m(), &req.base, &rep, o);
  if (rep) {
    *serving = ((Grpc__Health__V1__HealthCheckResponse *)rep)->status;
    protobuf_c_message_free_unpacked(rep, NULL);
  }
  return st;
}

Test(channel, bad_targets_are_refused) {
  crpc_channel *ch = NULL;
  cr_assert_eq(crpc_channel_new("ipv4:1.2.3", NULL, &ch), CRPC_EINVAL);
  cr_assert_eq(crpc_channel_new("", NULL, &ch), CRPC_EINVAL);
  cr_assert_null(ch);
}

Test(channel, unary_call_and_connect_future, .init = start_server,
     .fini = stop_server) {
  crpc_channel *ch;
  cr_assert_eq(crpc_channel_new(target, NULL, &ch), 0);
  crpc_future *ready = crpc_channel_connect(ch);
  cr_assert_eq(crpc_future_wait_for(ready, 10000), 0);
  cr_assert_eq(crpc_future_status(ready), CRPC_STATUS_OK, "%s",
               crpc_future_message(ready));
  crpc_future_unref(ready);
  int serving = -1;
  cr_assert_eq(check(ch, NULL, &serving), CRPC_STATUS_OK);
  cr_assert_eq(serving, (int)CRPC_HEALTH_SERVING);
  crpc_channel_free(ch);
}

Test(channel, unknown_service_status_and_trailers, .init = start_server,
     .fini = stop_server) {
  crpc_channel *ch;
  cr_assert_eq(crpc_channel_new(target, NULL, &ch), 0);
  Grpc__Health__V1__HealthCheckRequest req =
      GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
  req.service = "no.such.Service";
  crpc_status_info si;
  crpc_status_info_init(&si);
  crpc_call_opts o = {.status_out = &si};
  ProtobufCMessage *rep = NULL;
  crpc_status st = crpc_call_unary(ch, check_m(), &req.base, &rep, &o);
  cr_assert_eq(st, CRPC_STATUS_NOT_FOUND);
  cr_assert_null(rep);
  cr_assert_eq(si.code, CRPC_STATUS_NOT_FOUND);
  crpc_status_info_cleanup(&si);
  crpc_channel_free(ch);
}

Test(channel, refused_fails_fast_or_waits_for_the_deadline) {
  char t[64];
  snprintf(t, sizeof(t), "127.0.0.1:%d", dead_port());
  crpc_channel *ch;
  cr_assert_eq(crpc_channel_new(t, NULL, &ch), 0);
  int serving;
  crpc_status_info si;
  crpc_status_info_init(&si);
  crpc_call_opts o = {.timeout_ms = 5000, .status_out = &si};
  int64_t t0 = now_ms();
  cr_assert_eq(check(ch, &o, &serving), CRPC_STATUS_UNAVAILABLE);
  cr_assert_lt(now_ms() - t0, 3000);
  cr_assert(si.message && strstr(si.message, "connect"), "message: %s",
            si.message ? si.message : "(none)");
  crpc_status_info_cleanup(&si);

  crpc_call_opts w = {.timeout_ms = 400, .wait_for_ready = 1};
  t0 = now_ms();
  cr_assert_eq(check(ch, &w, &serving), CRPC_STATUS_DEADLINE_EXCEEDED);
  cr_assert_geq(now_ms() - t0, 390);
  crpc_channel_free(ch);
}

Test(channel, unix_socket_target) {
  char path[64], t[80];
  snprintf(path, sizeof(path), "/tmp/crpc-client-test-%d.sock", (int)getpid());
  unlink(path);
  snprintf(t, sizeof(t), "unix:%s", path);
  crpc_server_opts so;
  crpc_server_opts_init(&so);
  so.loops = 1;
  cr_assert_eq(crpc_server_new(&so, &srv), 0);
  cr_assert_eq(crpc_server_listen(srv, t, NULL), 0);
  cr_assert_eq(crpc_server_start(srv), 0);
  crpc_channel *ch;
  cr_assert_eq(crpc_channel_new(t, NULL, &ch), 0);
  int serving = -1;
  cr_assert_eq(check(ch, NULL, &serving), CRPC_STATUS_OK);
  cr_assert_eq(serving, (int)CRPC_HEALTH_SERVING);
  crpc_channel_free(ch);
  stop_server();
  unlink(path);
}

Test(channel, cancel_handle_and_channel_close_end_waiting_calls) {
  char t[64];
  snprintf(t, sizeof(t), "127.0.0.1:%d", dead_port());
  crpc_channel *ch;
  cr_assert_eq(crpc_channel_new(t, NULL, &ch), 0);
  crpc_cancel *c;
  cr_assert_eq(crpc_cancel_new(&c), 0);
  Grpc__Health__V1__HealthCheckRequest req =
      GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
  crpc_call_opts o = {.wait_for_ready = 1, .cancel = c};
  crpc_future *a = crpc_call_unary_async(ch, check_m(), &req.base, &o);
  crpc_call_opts o2 = {.wait_for_ready = 1};
  crpc_future *b = crpc_call_unary_async(ch, check_m(), &req.base, &o2);
  crpc_future *gone = crpc_call_unary_async(ch, check_m(), &req.base, &o2);
  crpc_future_unref(gone); /* fire and forget: freed with the channel */
  cr_assert_eq(crpc_future_wait_for(a, 200), CRPC_ETIMEDOUT);
  crpc_cancel_trigger(c);
  cr_assert_eq(crpc_future_wait_for(a, 5000), 0);
  cr_assert_eq(crpc_future_status(a), CRPC_STATUS_CANCELLED);
  crpc_cancel_free(c);
  cr_assert_not(crpc_future_is_done(b));
  crpc_channel_free(ch);
  cr_assert(crpc_future_is_done(b));
  cr_assert_eq(crpc_future_status(b), CRPC_STATUS_CANCELLED);
  const crpc_status_info *si = crpc_call_status_info(b);
  cr_assert_not_null(si);
  cr_assert_eq(si->code, CRPC_STATUS_CANCELLED);
  crpc_future_unref(a);
  crpc_future_unref(b);
}

Test(channel, future_cancel_completes_cancelled, .init = start_server,
     .fini = stop_server) {
  crpc_channel *ch;
  cr_assert_eq(crpc_channel_new(target, NULL, &ch), 0);
  Grpc__Health__V1__HealthCheckRequest req =
      GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
  crpc_call *call;
  cr_assert_eq(crpc_call_start(ch, watch_m(), &req.base, NULL, &call),
               CRPC_STATUS_OK);
  ProtobufCMessage *m = NULL;
  cr_assert_eq(crpc_call_read(call, &m), CRPC_STATUS_OK);
  cr_assert_not_null(m);
  cr_assert_eq((int)((Grpc__Health__V1__HealthCheckResponse *)m)->status,
               (int)CRPC_HEALTH_SERVING);
  protobuf_c_message_free_unpacked(m, NULL);
  cr_assert_not_null(crpc_call_response_headers(call));
  crpc_future *next = crpc_call_read_async(call);
  cr_assert_eq(crpc_future_wait_for(next, 100), CRPC_ETIMEDOUT);
  crpc_call_cancel(call);
  cr_assert_eq(crpc_future_wait_for(next, 5000), 0);
  cr_assert_eq(crpc_future_status(next), CRPC_STATUS_CANCELLED);
  crpc_future_unref(next);
  cr_assert_eq(crpc_call_finish(call, NULL), CRPC_STATUS_CANCELLED);
  cr_assert_eq(crpc_call_final_status(call)->code, CRPC_STATUS_CANCELLED);
  crpc_call_free(call);

  /* crpc_future_cancel() on a unary future. */
  crpc_future *f = crpc_call_unary_async(ch, check_m(), &req.base, NULL);
  crpc_future_cancel(f);
  cr_assert_eq(crpc_future_status(f), CRPC_STATUS_CANCELLED);
  crpc_future_unref(f);
  crpc_channel_free(ch);
}

/* A blocking stub inside a coroutine suspends it; on the loop thread
 * outside one it is refused instead of stalling the loop. */
typedef struct coro_arg {
  crpc_channel *ch;
  crpc_status st;
  int serving;
} coro_arg;

static crpc_status coro_body(void *p) {
  coro_arg *a = p;
  a->st = check(a->ch, NULL, &a->serving);
  return CRPC_STATUS_OK;
}

static void on_loop(void *p) {
  coro_arg *a = p;
  int serving;
  a->st = check(a->ch, NULL, &serving);
}

Test(channel, blocking_stub_in_a_coroutine, .init = start_server,
     .fini = stop_server) {
  crpc_channel *ch;
  cr_assert_eq(crpc_channel_new(target, NULL, &ch), 0);
  crpc_loop *loop;
  cr_assert_eq(crpc_loop_new(NULL, NULL, &loop), 0);
  coro_arg a = {.ch = ch, .st = CRPC_STATUS_UNKNOWN, .serving = -1};
  cr_assert_eq(crpc_coro_spawn(loop, coro_body, &a, NULL), 0);
  crpc_loop_run(loop, CRPC_RUN_DEFAULT);
  cr_assert_eq(a.st, CRPC_STATUS_OK);
  cr_assert_eq(a.serving, (int)CRPC_HEALTH_SERVING);
  coro_arg b = {.ch = ch, .st = CRPC_STATUS_UNKNOWN};
  cr_assert_eq(crpc_loop_post(loop, on_loop, &b), 0);
  crpc_loop_run(loop, CRPC_RUN_DEFAULT);
  cr_assert_eq(b.st, CRPC_STATUS_UNAVAILABLE);
  crpc_loop_free(loop);
  crpc_channel_free(ch);
}

/* A channel attached to a loop the test runs. */
typedef struct attached {
  crpc_channel *ch;
  crpc_future *f;
  int done;
} attached;

static void attached_done(crpc_future *f, void *p) {
  attached *a = p;
  (void)f;
  a->done = 1;
}

Test(channel, attached_to_an_application_loop, .init = start_server,
     .fini = stop_server) {
  crpc_loop *loop;
  cr_assert_eq(crpc_loop_new(NULL, NULL, &loop), 0);
  crpc_channel_opts o;
  crpc_channel_opts_init(&o);
  o.loop = loop;
  attached a = {0};
  cr_assert_eq(crpc_channel_new(target, &o, &a.ch), 0);
  Grpc__Health__V1__HealthCheckRequest req =
      GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
  a.f = crpc_call_unary_async(a.ch, check_m(), &req.base, NULL);
  crpc_future_then(a.f, attached_done, &a);
  for (int i = 0; i < 10000 && !a.done; i++)
    crpc_loop_run(loop, CRPC_RUN_ONCE);
  cr_assert(a.done);
  cr_assert_eq(crpc_future_status(a.f), CRPC_STATUS_OK);
  crpc_future_unref(a.f);
  /* Freed from another thread while this one runs the loop. */
  crpc_loop_start_thread(loop);
  crpc_channel_free(a.ch);
  crpc_loop_stop(loop);
  crpc_loop_free(loop);
}

/* Freeing a channel on its own loop thread: it cannot wait for its close
 * there, so it closes and frees itself afterwards. The channel's debug log
 * says when it is gone: the test waits for that line. */
typedef struct freed_log {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int closed;  /* "channel to ... closed" lines seen */
  int on_loop; /* crpc_channel_free() ran on a loop thread */
  crpc_channel *ch;
} freed_log;

static void freed_log_fn(crpc_log_level level, const char *msg, void *p) {
  freed_log *l = p;
  (void)level;
  if (strncmp(msg, "channel to ", 11) != 0 || !strstr(msg, " closed"))
    return;
  pthread_mutex_lock(&l->mu);
  l->closed++;
  pthread_cond_broadcast(&l->cv);
  pthread_mutex_unlock(&l->mu);
}

static crpc_channel_opts freed_log_opts(freed_log *l) {
  crpc_channel_opts o;
  crpc_channel_opts_init(&o);
  o.logger.level = CRPC_LOG_DEBUG;
  o.logger.level_set = 1;
  o.logger.fn = freed_log_fn;
  o.logger.user_data = l;
  return o;
}

/* A continuation: frees the channel whose call just completed. */
static void free_in_continuation(crpc_future *f, void *p) {
  freed_log *l = p;
  (void)f;
  l->on_loop = crpc_loop_current() != NULL;
  crpc_channel_free(l->ch);
}

Test(channel, freed_in_a_continuation_on_its_own_thread, .init = start_server,
     .fini = stop_server, .timeout = 30) {
  freed_log l = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0,
                 NULL};
  crpc_channel_opts o = freed_log_opts(&l);
  cr_assert_eq(crpc_channel_new(target, &o, &l.ch), 0);
  Grpc__Health__V1__HealthCheckRequest req =
      GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
  /* Another call still in flight when the channel goes: it ends CANCELLED
   * or OK, its future stays valid. */
  crpc_future *other = crpc_call_unary_async(l.ch, watch_m(), &req.base, NULL);
  crpc_future *f = crpc_call_unary_async(l.ch, check_m(), &req.base, NULL);
  cr_assert_not_null(f);
  /* Registered from a thread without a loop: the continuation runs where
   * the future completes, the channel's own I/O thread. */
  cr_assert_eq(crpc_future_then(f, free_in_continuation, &l), 0);
  pthread_mutex_lock(&l.mu);
  while (l.closed == 0)
    pthread_cond_wait(&l.cv, &l.mu);
  pthread_mutex_unlock(&l.mu);
  cr_assert(l.on_loop);
  cr_assert_eq(crpc_future_status(f), CRPC_STATUS_OK);
  cr_assert_eq(crpc_future_wait(other), 0);
  crpc_future_unref(other);
  crpc_future_unref(f);
}

/* A function posted to the application's loop, which the channel is
 * attached to. */
static void free_on_app_loop(void *p) {
  freed_log *l = p;
  l->on_loop = crpc_loop_current() != NULL;
  crpc_channel_free(l->ch);
}

static void then_free_on_app_loop(void *p) {
  freed_log *l = p;
  Grpc__Health__V1__HealthCheckRequest req =
      GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
  crpc_future *f = crpc_call_unary_async(l->ch, check_m(), &req.base, NULL);
  /* Registered on the loop's thread: it runs there. */
  crpc_future_then(f, free_in_continuation, l);
  crpc_future_unref(f);
}

static void freed_on_the_application_loop(crpc_loop_fn how) {
  freed_log l = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0,
                 NULL};
  crpc_loop *loop;
  cr_assert_eq(crpc_loop_new(NULL, NULL, &loop), 0);
  crpc_channel_opts o = freed_log_opts(&l);
  o.loop = loop;
  cr_assert_eq(crpc_channel_new(target, &o, &l.ch), 0);
  cr_assert_eq(crpc_loop_post(loop, how, &l), 0);
  /* Runs until nothing is left: the channel closed its handles. */
  crpc_loop_run(loop, CRPC_RUN_DEFAULT);
  cr_assert(l.on_loop);
  cr_assert_eq(l.closed, 1);
  crpc_loop_free(loop);
}

Test(channel, freed_in_a_callback_of_the_application_loop, .init = start_server,
     .fini = stop_server, .timeout = 30) {
  freed_on_the_application_loop(free_on_app_loop);
}

Test(channel, freed_in_a_continuation_on_the_application_loop,
     .init = start_server, .fini = stop_server, .timeout = 30) {
  freed_on_the_application_loop(then_free_on_app_loop);
}

/* A server letting a connection run 2 streams at once. */
static void start_small_server(void) {
  crpc_server_opts o = server_opts();
  o.max_concurrent_streams = 2;
  start_server_with(&o);
}

/* Starts |n| health Watch streams, which stay open, each with |timeout_ms|
 * but the last, which has |last_timeout_ms|, and reads the first message
 * of each: the status of each read. */
static void watch_n(crpc_channel *ch, int n, int64_t timeout_ms,
                    int64_t last_timeout_ms, crpc_status *out) {
  Grpc__Health__V1__HealthCheckRequest req =
      GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
  crpc_call *calls[8];
  crpc_future *reads[8];
  for (int i = 0; i < n; i++) {
    crpc_call_opts o = {.timeout_ms =
                            i == n - 1 ? last_timeout_ms : timeout_ms};
    cr_assert_eq(crpc_call_start(ch, watch_m(), &req.base, &o, &calls[i]),
                 CRPC_STATUS_OK);
    reads[i] = crpc_call_read_async(calls[i]);
  }
  for (int i = 0; i < n; i++) {
    ProtobufCMessage *m = NULL;
    out[i] = crpc_call_read_result(reads[i], &m);
    if (m)
      protobuf_c_message_free_unpacked(m, NULL);
    crpc_future_unref(reads[i]);
  }
  for (int i = 0; i < n; i++)
    crpc_call_free(calls[i]);
}

/* Six streams that stay open against a limit of 2 per connection: the
 * channel opens more connections to the address, and all six run. */
Test(channel, more_connections_when_every_stream_is_taken,
     .init = start_small_server, .fini = stop_server, .timeout = 30) {
  crpc_channel *ch;
  cr_assert_eq(crpc_channel_new(target, NULL, &ch), 0);
  crpc_status st[6];
  watch_n(ch, 6, 10000, 10000, st);
  for (int i = 0; i < 6; i++)
    cr_assert_eq(st[i], CRPC_STATUS_OK, "stream %d: %s", i,
                 crpc_status_name(st[i]));
  crpc_channel_free(ch);
}

/* With one connection per address, the third stream waits for one of the
 * two to end, which never comes before its deadline (theirs are later, so
 * that none of them ends first and makes room). */
Test(channel, one_connection_when_asked, .init = start_small_server,
     .fini = stop_server, .timeout = 30) {
  crpc_channel_opts o;
  crpc_channel_opts_init(&o);
  o.max_connections_per_address = 1;
  crpc_channel *ch;
  cr_assert_eq(crpc_channel_new(target, &o, &ch), 0);
  crpc_status st[3];
  watch_n(ch, 3, 10000, 1000, st);
  cr_assert_eq(st[0], CRPC_STATUS_OK);
  cr_assert_eq(st[1], CRPC_STATUS_OK);
  cr_assert_eq(st[2], CRPC_STATUS_DEADLINE_EXCEEDED, "%s",
               crpc_status_name(st[2]));
  crpc_channel_free(ch);
}

/* The server's debug lines that say a connection was aged out. */
static atomic_int aged_out;

static void count_aged(crpc_log_level level, const char *msg, void *ud) {
  (void)level;
  (void)ud;
  if (strstr(msg, "past the max connection age"))
    atomic_fetch_add(&aged_out, 1);
}

/* A server that sends every connection GOAWAY after 150 ms (give or take
 * 10 %): the channel finishes its calls there and opens another for the
 * next, and no call fails, batches of calls in flight across each GOAWAY
 * included. */
Test(channel, calls_go_on_across_max_connection_age, .fini = stop_server,
     .timeout = 60) {
  crpc_server_opts so = server_opts();
  so.max_connection_age_ms = 150;
  so.logger =
      (crpc_logger){.level = CRPC_LOG_DEBUG, .fn = count_aged, .level_set = 1};
  start_server_with(&so);
  crpc_channel *ch;
  cr_assert_eq(crpc_channel_new(target, NULL, &ch), 0);
  Grpc__Health__V1__HealthCheckRequest req =
      GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
  req.service = "";
  int calls = 0;
  /* Until four connections have aged out (bounded by the test's time). */
  while (atomic_load(&aged_out) < 4) {
    crpc_future *fs[16];
    for (int i = 0; i < 16; i++) {
      fs[i] = crpc_call_unary_async(ch, check_m(), &req.base, NULL);
      cr_assert_not_null(fs[i]);
    }
    for (int i = 0; i < 16; i++) {
      ProtobufCMessage *rep = NULL;
      crpc_status st = crpc_call_result(fs[i], &rep);
      cr_assert_eq(st, CRPC_STATUS_OK, "call %d: %s: %s", calls,
                   crpc_status_name(st), crpc_future_message(fs[i]));
      protobuf_c_message_free_unpacked(rep, NULL);
      crpc_future_unref(fs[i]);
      calls++;
    }
  }
  crpc_channel_free(ch);
  cr_assert_gt(calls, 0);
}

/* crpc_server_opts.lame_duck_ms: after crpc_server_shutdown() the server
 * reports NOT_SERVING but goes on accepting and serving; a second
 * shutdown ends the period, and the drain (with nothing in flight) ends
 * at once. */
Test(channel, a_lame_duck_server_serves_until_a_second_shutdown,
     .timeout = 30) {
  crpc_server_opts so = server_opts();
  so.lame_duck_ms = 60000;
  start_server_with(&so);
  crpc_channel *kept;
  cr_assert_eq(crpc_channel_new(target, NULL, &kept), 0);
  int serving = -1;
  cr_assert_eq(check(kept, NULL, &serving), CRPC_STATUS_OK);
  cr_assert_eq(
      serving,
      GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING);

  crpc_future *f = crpc_server_shutdown(srv);
  cr_assert_not_null(f);
  /* The kept connection and a new one (the listener still accepts) are
   * both served, and both hear NOT_SERVING. */
  crpc_channel *fresh;
  cr_assert_eq(crpc_channel_new(target, NULL, &fresh), 0);
  crpc_channel *chs[2] = {kept, fresh};
  for (int i = 0; i < 2; i++) {
    serving = -1;
    cr_assert_eq(check(chs[i], NULL, &serving), CRPC_STATUS_OK);
    cr_assert_eq(
        serving,
        GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING);
  }
  cr_assert_not(crpc_future_is_done(f), "the lame duck ended early");

  int64_t t0 = now_ms();
  crpc_future *again = crpc_server_shutdown(srv);
  crpc_future_wait(again);
  cr_assert_lt(now_ms() - t0, 10000, "the second shutdown waited");
  cr_assert(crpc_future_is_done(f));
  crpc_future_unref(again);
  crpc_future_unref(f);
  crpc_channel_free(kept);
  crpc_channel_free(fresh);
  crpc_server_free(srv);
}

/* crpc_server_free(), with no shutdown before it, does not wait out the
 * lame-duck period. */
Test(channel, freeing_a_lame_duck_server_does_not_wait, .timeout = 30) {
  crpc_server_opts so = server_opts();
  so.lame_duck_ms = 60000;
  start_server_with(&so);
  int64_t t0 = now_ms();
  crpc_server_free(srv);
  cr_assert_lt(now_ms() - t0, 10000);
}

/* Reads what a client sends on |fd| until its SETTINGS (not an ACK) and
 * its WINDOW_UPDATE on the connection have come: the stream window it
 * announced (HTTP/2's 65535 when it announced none) and the connection's
 * (65535 plus the update). */
static void windows_announced(int fd, uint32_t *stream, uint32_t *conn) {
  static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  uint8_t buf[4096];
  size_t have = 0, off = sizeof(preface) - 1;
  int settings = 0;
  *stream = 65535;
  *conn = 65535;
  while (!settings || *conn == 65535) {
    size_t need = off + 9;
    if (have >= need)
      need += (size_t)buf[off] << 16 | (size_t)buf[off + 1] << 8 | buf[off + 2];
    if (have < need) {
      cr_assert_lt(need, sizeof(buf), "a frame too large for the test");
      struct pollfd p = {.fd = fd, .events = POLLIN};
      cr_assert_eq(poll(&p, 1, 10000), 1, "the client sent no more");
      ssize_t n = read(fd, buf + have, sizeof(buf) - have);
      cr_assert_gt(n, 0, "the client closed before its windows");
      have += (size_t)n;
      continue;
    }
    cr_assert_eq(memcmp(buf, preface, sizeof(preface) - 1), 0);
    const uint8_t *h = buf + off, *body = h + 9;
    size_t len = need - off - 9;
    uint32_t sid = ((uint32_t)h[5] << 24 | (uint32_t)h[6] << 16 |
                    (uint32_t)h[7] << 8 | h[8]) &
                   0x7fffffff;
    if (h[3] == 4 && !(h[4] & 1)) { /* SETTINGS */
      settings = 1;
      for (size_t i = 0; i + 6 <= len; i += 6)
        if ((body[i] << 8 | body[i + 1]) == 4) /* INITIAL_WINDOW_SIZE */
          *stream = (uint32_t)body[i + 2] << 24 | (uint32_t)body[i + 3] << 16 |
                    (uint32_t)body[i + 4] << 8 | body[i + 5];
    } else if (h[3] == 8 && sid == 0 && len == 4) { /* WINDOW_UPDATE */
      *conn += ((uint32_t)body[0] << 24 | (uint32_t)body[1] << 16 |
                (uint32_t)body[2] << 8 | body[3]) &
               0x7fffffff;
    }
    off = need;
  }
}

/* The windows a channel made with |opts| gives a server. */
static void channel_windows(const crpc_channel_opts *opts, uint32_t *stream,
                            uint32_t *conn) {
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t alen = sizeof(a);
  cr_assert_eq(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
  cr_assert_eq(listen(lfd, 1), 0);
  cr_assert_eq(getsockname(lfd, (struct sockaddr *)&a, &alen), 0);
  char t[64];
  snprintf(t, sizeof(t), "127.0.0.1:%d", ntohs(a.sin_port));
  crpc_channel *ch;
  cr_assert_eq(crpc_channel_new(t, opts, &ch), 0);
  crpc_future *ready = crpc_channel_connect(ch);
  struct pollfd p = {.fd = lfd, .events = POLLIN};
  cr_assert_eq(poll(&p, 1, 10000), 1, "the channel did not connect");
  int fd = accept(lfd, NULL, NULL);
  cr_assert_geq(fd, 0);
  windows_announced(fd, stream, conn);
  close(fd);
  close(lfd);
  crpc_future_unref(ready);
  crpc_channel_free(ch);
}

Test(channel, flow_control_windows_are_the_options, .timeout = 30) {
  uint32_t stream, conn;
  channel_windows(NULL, &stream, &conn);
  cr_assert_eq(stream, 1u << 20);
  cr_assert_eq(conn, 16u << 20);
  crpc_channel_opts o;
  crpc_channel_opts_init(&o);
  o.stream_window_bytes = 300000;
  o.connection_window_bytes = 5000000;
  channel_windows(&o, &stream, &conn);
  cr_assert_eq(stream, 300000);
  cr_assert_eq(conn, 5000000);
  /* Past HTTP/2's largest window: the largest. */
  o.stream_window_bytes = UINT32_MAX;
  o.connection_window_bytes = UINT32_MAX;
  channel_windows(&o, &stream, &conn);
  cr_assert_eq(stream, 0x7fffffffu);
  cr_assert_eq(conn, 0x7fffffffu);
}
