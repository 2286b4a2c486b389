/*
 * tests/client/peer_suite.c: crpc's client against a real gRPC server of
 * crpc.servertest.WorkerTest and LoopTest (tests/server/README.md says what
 * their handlers do), called through the stubs protoc-gen-crpc generates
 * from tests/server/proto/server_test.proto.
 *
 * run-peer-tests.sh starts each server (crpc-server with the test module,
 * grpcio's reference_server.py, grpc-js's server_test_server.js) in
 * plaintext, over TLS and over mutual TLS, and runs this suite against it,
 * configured by the environment:
 *   CRPC_TEST_TARGET       the server, "127.0.0.1:PORT" (required)
 *   CRPC_TEST_PEER         crpc (the default), grpcio or grpc-js: which
 *                          Rep.placement the handlers report
 *   CRPC_TEST_TLS=1        TLS, checked against CRPC_TEST_CA for the name
 *                          CRPC_TEST_SERVER_NAME (when set)
 *   CRPC_TEST_CLIENT_CERT, CRPC_TEST_CLIENT_KEY  a client certificate (mTLS)
 *
 * Every test makes and frees its own channel, frees every reply and drops
 * every future it gets, so that the sanitizer builds can run it too. Time
 * bounds leave room for a sanitizer build on a busy two-core machine.
 */
#define _GNU_SOURCE

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crpc/call.h"
#include "crpc/channel.h"
#include "crpc/error.h"
#include "crpc/future.h"
#include "crpc/interceptor.h"
#include "crpc/metadata.h"
#include "server_test.crpc.h"

typedef Crpc__Servertest__Req req_t;
typedef Crpc__Servertest__Rep rep_t;

#define MiB (1024u * 1024u)
#define LIMIT (4 * MiB) /* every server's message size limit */
#define CALL_MS 30000   /* the deadline of calls that should just work */
#define READY_MS 20000  /* for a channel to connect */
#define PROMPT_MS 2000  /* for a cancelled or expired call to end */
#define STATS_MS 5000   /* for the server to count a cancellation */

/* A non-ASCII status message with '%' in it: it is percent-encoded on the
 * wire and must come back exactly. */
static const char status_message[] =
    "failed: \xc3\xbc"
    "n\xc3\xaf"
    "c\xc3\xb6"
    "d\xc3\xa9 \xe2\x9c\x93 100% done, %41 stays %41";

/* The configuration: what to call, and how. */

static const char *env(const char *name) {
  const char *v = getenv(name);
  return v != NULL && v[0] != '\0' ? v : NULL;
}

static int has_client_cert(void) {
  return env("CRPC_TEST_CLIENT_CERT") != NULL;
}

static int uses_tls(void) {
  const char *tls = env("CRPC_TEST_TLS");
  return tls != NULL && strcmp(tls, "0") != 0;
}

/* A channel to the server with |base| (NULL: the defaults) and the
 * configured TLS settings; |client_cert| 0 leaves out the client
 * certificate even when one is configured. */
static crpc_channel *channel_opts_with(int client_cert,
                                       const crpc_channel_opts *base) {
  const char *target = env("CRPC_TEST_TARGET");
  cr_assert_not_null(target, "CRPC_TEST_TARGET is not set: run this suite "
                             "through tests/client/run-peer-tests.sh");
  crpc_channel_opts o;
  if (base != NULL)
    o = *base;
  else
    crpc_channel_opts_init(&o);
  const char *tls = env("CRPC_TEST_TLS");
  if (tls != NULL && strcmp(tls, "0") != 0) {
    o.tls = 1;
    o.tls_ca_file = env("CRPC_TEST_CA");
    o.tls_server_name = env("CRPC_TEST_SERVER_NAME");
    if (client_cert) {
      o.tls_cert_file = env("CRPC_TEST_CLIENT_CERT");
      o.tls_key_file = env("CRPC_TEST_CLIENT_KEY");
    }
  }
  crpc_channel *ch = NULL;
  int rc = crpc_channel_new(target, &o, &ch);
  cr_assert_eq(rc, 0, "crpc_channel_new(%s): %s", target, crpc_strerror(rc));
  cr_assert_not_null(ch);
  return ch;
}

static crpc_channel *channel_with(int client_cert) {
  return channel_opts_with(client_cert, NULL);
}

static crpc_channel *channel(void) {
  return channel_with(1);
}

/* Small helpers. */

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pause_ms(int64_t ms) {
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
  while (nanosleep(&ts, &ts) != 0)
    ;
}

static const char *or_empty(const char *s) {
  return s != NULL ? s : "";
}

static void rep_free(rep_t *rep) {
  if (rep != NULL)
    protobuf_c_message_free_unpacked(&rep->base, NULL);
}

static ProtobufCBinaryData bytes(const void *p, size_t len) {
  return (ProtobufCBinaryData){.len = len, .data = (uint8_t *)p};
}

/* A tag for wait_cancel calls that no other test, run or process uses. */
static void unique_tag(char *buf, size_t size, const char *what) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  snprintf(buf, size, "%s-%ld-%lld%09ld", what, (long)getpid(),
           (long long)ts.tv_sec, ts.tv_nsec);
}

/* Waits for |f| (at most |ms|), failing the test when it stays pending. */
static void wait_done(crpc_future *f, int64_t ms, const char *what) {
  cr_assert_not_null(f, "%s: no future", what);
  int rc = crpc_future_wait_for(f, ms);
  cr_assert_eq(rc, 0, "%s: still pending after %lld ms (%d)", what,
               (long long)ms, rc);
}

/* The one entry of |md| named |key|, which must hold the |len| bytes at
 * |want|. */
static void expect_entry(const crpc_metadata *md, const char *where,
                         const char *key, const void *want, size_t len) {
  cr_assert_not_null(md, "no %s at all", where);
  ptrdiff_t i = crpc_metadata_find(md, key, 0);
  cr_assert_geq(i, 0, "%s has no %s (%zu entries)", where, key,
                crpc_metadata_count(md));
  cr_assert_lt(crpc_metadata_find(md, key, (size_t)i + 1), 0,
               "%s has %s more than once", where, key);
  const crpc_metadata_entry *e = crpc_metadata_at(md, (size_t)i);
  cr_assert_eq(e->value_len, len, "%s %s is %zu bytes, want %zu", where, key,
               e->value_len, len);
  cr_assert_arr_eq(e->value, want, len, "%s %s differs", where, key);
}

/* The services. WorkerTest and LoopTest have the same methods but their
 * generated stream handles differ in type: each service's adapters
 * (SERVICE_ADAPTERS) wrap its typed stubs in untyped ones, so that one
 * test body serves both. */

typedef struct service {
  const char *name;
  int loop; /* LoopTest: crpc-server runs the handlers on its loop */
  crpc_status (*unary)(crpc_channel *ch, const req_t *req, rep_t **reply,
                       const crpc_call_opts *opts);
  crpc_future *(*unary_async)(crpc_channel *ch, const req_t *req,
                              const crpc_call_opts *opts);
  crpc_status (*unary_result)(crpc_future *f, rep_t **reply);
  /* ServerStream */
  crpc_status (*ss_start)(crpc_channel *ch, const req_t *req, void **reader,
                          const crpc_call_opts *opts);
  crpc_status (*ss_read)(void *reader, rep_t **msg);
  crpc_future *(*ss_read_async)(void *reader);
  crpc_status (*ss_read_result)(crpc_future *f, rep_t **msg);
  crpc_status (*ss_finish)(void *reader);
  void (*ss_free)(void *reader);
  /* ClientStream */
  crpc_status (*cs_start)(crpc_channel *ch, void **writer,
                          const crpc_call_opts *opts);
  crpc_status (*cs_write)(void *writer, const req_t *msg);
  crpc_future *(*cs_write_async)(void *writer, const req_t *msg);
  crpc_status (*cs_finish)(void *writer, rep_t **reply);
  crpc_future *(*cs_finish_async)(void *writer);
  crpc_status (*cs_finish_result)(crpc_future *f, rep_t **reply);
  void (*cs_free)(void *writer);
  /* Bidi */
  crpc_status (*bidi_start)(crpc_channel *ch, void **stream,
                            const crpc_call_opts *opts);
  crpc_status (*bidi_read)(void *stream, rep_t **msg);
  crpc_status (*bidi_write)(void *stream, const req_t *msg);
  crpc_status (*bidi_close_send)(void *stream);
  crpc_status (*bidi_finish)(void *stream);
  void (*bidi_free)(void *stream);
} service;

#define SERVICE_ADAPTERS(P)                                                    \
  static crpc_status P##_ss_start(crpc_channel *ch, const req_t *req,          \
                                  void **reader, const crpc_call_opts *opts) { \
    P##_server_stream_reader *r = NULL;                                        \
    crpc_status st = P##_server_stream(ch, req, &r, opts);                     \
    *reader = r;                                                               \
    return st;                                                                 \
  }                                                                            \
  static crpc_status P##_ss_read(void *r, rep_t **msg) {                       \
    return P##_server_stream_read(r, msg);                                     \
  }                                                                            \
  static crpc_future *P##_ss_read_async(void *r) {                             \
    return P##_server_stream_read_async(r);                                    \
  }                                                                            \
  static crpc_status P##_ss_finish(void *r) {                                  \
    return P##_server_stream_finish(r);                                        \
  }                                                                            \
  static void P##_ss_free(void *r) {                                           \
    P##_server_stream_free(r);                                                 \
  }                                                                            \
  static crpc_status P##_cs_start(crpc_channel *ch, void **writer,             \
                                  const crpc_call_opts *opts) {                \
    P##_client_stream_writer *w = NULL;                                        \
    crpc_status st = P##_client_stream(ch, &w, opts);                          \
    *writer = w;                                                               \
    return st;                                                                 \
  }                                                                            \
  static crpc_status P##_cs_write(void *w, const req_t *msg) {                 \
    return P##_client_stream_write(w, msg);                                    \
  }                                                                            \
  static crpc_future *P##_cs_write_async(void *w, const req_t *msg) {          \
    return P##_client_stream_write_async(w, msg);                              \
  }                                                                            \
  static crpc_status P##_cs_finish(void *w, rep_t **reply) {                   \
    return P##_client_stream_finish(w, reply);                                 \
  }                                                                            \
  static crpc_future *P##_cs_finish_async(void *w) {                           \
    return P##_client_stream_finish_async(w);                                  \
  }                                                                            \
  static void P##_cs_free(void *w) {                                           \
    P##_client_stream_free(w);                                                 \
  }                                                                            \
  static crpc_status P##_bidi_start(crpc_channel *ch, void **stream,           \
                                    const crpc_call_opts *opts) {              \
    P##_bidi_stream *s = NULL;                                                 \
    crpc_status st = P##_bidi(ch, &s, opts);                                   \
    *stream = s;                                                               \
    return st;                                                                 \
  }                                                                            \
  static crpc_status P##_bidi_read_msg(void *s, rep_t **msg) {                 \
    return P##_bidi_read(s, msg);                                              \
  }                                                                            \
  static crpc_status P##_bidi_write_msg(void *s, const req_t *msg) {           \
    return P##_bidi_write(s, msg);                                             \
  }                                                                            \
  static crpc_status P##_bidi_close(void *s) {                                 \
    return P##_bidi_close_send(s);                                             \
  }                                                                            \
  static crpc_status P##_bidi_end(void *s) {                                   \
    return P##_bidi_finish(s);                                                 \
  }                                                                            \
  static void P##_bidi_release(void *s) {                                      \
    P##_bidi_free(s);                                                          \
  }

#define SERVICE(P, NAME, LOOP)                                                 \
  {                                                                            \
    .name = NAME, .loop = LOOP, .unary = P##_unary,                            \
    .unary_async = P##_unary_async, .unary_result = P##_unary_result,          \
    .ss_start = P##_ss_start, .ss_read = P##_ss_read,                          \
    .ss_read_async = P##_ss_read_async,                                        \
    .ss_read_result = P##_server_stream_read_result,                           \
    .ss_finish = P##_ss_finish, .ss_free = P##_ss_free,                        \
    .cs_start = P##_cs_start, .cs_write = P##_cs_write,                        \
    .cs_write_async = P##_cs_write_async, .cs_finish = P##_cs_finish,          \
    .cs_finish_async = P##_cs_finish_async,                                    \
    .cs_finish_result = P##_client_stream_finish_result,                       \
    .cs_free = P##_cs_free, .bidi_start = P##_bidi_start,                      \
    .bidi_read = P##_bidi_read_msg, .bidi_write = P##_bidi_write_msg,          \
    .bidi_close_send = P##_bidi_close, .bidi_finish = P##_bidi_end,            \
    .bidi_free = P##_bidi_release                                              \
  }

SERVICE_ADAPTERS(crpc_servertest_worker_test)
SERVICE_ADAPTERS(crpc_servertest_loop_test)

static const service worker =
    SERVICE(crpc_servertest_worker_test, "WorkerTest", 0);
static const service loop = SERVICE(crpc_servertest_loop_test, "LoopTest", 1);

/* Where |svc|'s handlers say they ran: crpc-server names its loop or worker
 * pool, other servers name themselves. */
static const char *want_placement(const service *svc) {
  const char *peer = env("CRPC_TEST_PEER");
  if (peer == NULL || strcmp(peer, "crpc") == 0)
    return svc->loop ? "loop" : "worker";
  return peer;
}

/* |rep| says "hello |name|", carries the |len| bytes at |payload| and ran
 * where |svc| runs handlers. */
static void expect_rep(const service *svc, const rep_t *rep, const char *name,
                       const void *payload, size_t len) {
  char want[128];
  snprintf(want, sizeof want, "hello %s", name);
  cr_assert_not_null(rep, "%s: no reply", svc->name);
  cr_assert_str_eq(or_empty(rep->text), want, "%s: text \"%s\", want \"%s\"",
                   svc->name, or_empty(rep->text), want);
  cr_assert_eq(rep->payload.len, len, "%s: payload of %zu bytes, want %zu",
               svc->name, rep->payload.len, len);
  if (len > 0)
    cr_assert_arr_eq(rep->payload.data, payload, len, "%s: payload differs",
                     svc->name);
  cr_assert_str_eq(or_empty(rep->placement), want_placement(svc),
                   "%s: ran on \"%s\", want \"%s\"", svc->name,
                   or_empty(rep->placement), want_placement(svc));
}

/* Fails the test unless |st| is |want|, showing the status message. */
static void expect_status(crpc_status st, crpc_status want,
                          const crpc_status_info *si, const char *what) {
  cr_assert_eq(st, want, "%s: %s (\"%s\"), want %s", what, crpc_status_name(st),
               si != NULL ? or_empty(si->message) : "", crpc_status_name(want));
}

/* How many wait_cancel calls tagged |tag| the server saw cancelled and
 * expire; polled until one of them counts one, or STATS_MS passes. */
typedef struct seen {
  int cancelled;
  int deadline;
} seen;

static seen server_saw(crpc_channel *ch, const char *tag) {
  Crpc__Servertest__StatsReq req = CRPC__SERVERTEST__STATS_REQ__INIT;
  req.tag = (char *)tag;
  const crpc_call_opts o = {.timeout_ms = CALL_MS};
  int64_t end = now_ms() + STATS_MS;
  seen s = {0, 0};
  for (;;) {
    Crpc__Servertest__StatsRep *rep = NULL;
    crpc_status st = crpc_servertest_worker_test_stats(ch, &req, &rep, &o);
    expect_status(st, CRPC_STATUS_OK, NULL, "Stats");
    s = (seen){rep->cancelled, rep->deadline};
    protobuf_c_message_free_unpacked(&rep->base, NULL);
    if (s.cancelled + s.deadline > 0 || now_ms() > end)
      return s;
    pause_ms(50);
  }
}

/* Polls the server until a wait_cancel call named |tag| has reached its
 * handler, so that what the test does next reaches a handler, not a call
 * the server has yet to start. */
static void await_waiting(crpc_channel *ch, const char *tag) {
  Crpc__Servertest__StatsReq req = CRPC__SERVERTEST__STATS_REQ__INIT;
  req.tag = (char *)tag;
  const crpc_call_opts o = {.timeout_ms = CALL_MS};
  int64_t end = now_ms() + STATS_MS;
  for (;;) {
    Crpc__Servertest__StatsRep *rep = NULL;
    crpc_status st = crpc_servertest_worker_test_stats(ch, &req, &rep, &o);
    expect_status(st, CRPC_STATUS_OK, NULL, "Stats");
    /* (Or it has been there already and seen its call end.) */
    int reached = rep->waiting + rep->cancelled + rep->deadline > 0;
    protobuf_c_message_free_unpacked(&rep->base, NULL);
    if (reached)
      return;
    cr_assert_lt(now_ms(), end, "the call %s never reached its handler", tag);
    pause_ms(10);
  }
}

TestSuite(peers, .timeout = 120);

/* The channel. */

Test(peers, connect_completes_ready) {
  crpc_channel *ch = channel();
  crpc_future *f = crpc_channel_connect(ch);
  wait_done(f, READY_MS, "crpc_channel_connect");
  cr_assert_eq(crpc_future_status(f), CRPC_STATUS_OK, "connect: %s (%s)",
               crpc_status_name(crpc_future_status(f)), crpc_future_message(f));
  crpc_future_unref(f);
  crpc_channel_free(ch);
}

/* A server that requires client certificates refuses a channel without
 * one (only where the server was started so). */
Test(peers, mtls_refuses_a_channel_without_client_cert) {
  if (!has_client_cert())
    return;
  crpc_channel *ch = channel_with(0);
  req_t req = CRPC__SERVERTEST__REQ__INIT;
  req.name = "refused";
  rep_t *rep = NULL;
  crpc_status_info si;
  crpc_status_info_init(&si);
  const crpc_call_opts o = {.timeout_ms = CALL_MS, .status_out = &si};
  crpc_status st = worker.unary(ch, &req, &rep, &o);
  expect_status(st, CRPC_STATUS_UNAVAILABLE, &si, "a call without a cert");
  cr_assert_null(rep);
  crpc_status_info_cleanup(&si);
  crpc_channel_free(ch);
}

/* Unary calls. */

static const uint8_t small_payload[] = {0, 1, 0x70, 0x61, 0x79, 0xff, 0};

static void unary_blocking(const service *svc) {
  crpc_channel *ch = channel();
  req_t req = CRPC__SERVERTEST__REQ__INIT;
  req.name = "unary";
  req.payload = bytes(small_payload, sizeof small_payload);
  rep_t *rep = NULL;
  crpc_status_info si;
  crpc_status_info_init(&si);
  si.code = CRPC_STATUS_UNKNOWN;
  const crpc_call_opts o = {.timeout_ms = CALL_MS, .status_out = &si};
  crpc_status st = svc->unary(ch, &req, &rep, &o);
  expect_status(st, CRPC_STATUS_OK, &si, svc->name);
  cr_assert_eq(si.code, CRPC_STATUS_OK, "status_out says %s",
               crpc_status_name(si.code));
  expect_rep(svc, rep, "unary", small_payload, sizeof small_payload);
  rep_free(rep);
  crpc_status_info_cleanup(&si);
  crpc_channel_free(ch);
}

Test(peers, unary_blocking_worker) {
  unary_blocking(&worker);
}

Test(peers, unary_blocking_loop) {
  unary_blocking(&loop);
}

static void unary_async(const service *svc) {
  crpc_channel *ch = channel();
  req_t req = CRPC__SERVERTEST__REQ__INIT;
  req.name = "async";
  req.payload = bytes(small_payload, sizeof small_payload);
  const crpc_call_opts o = {.timeout_ms = CALL_MS};
  crpc_future *f = svc->unary_async(ch, &req, &o);
  wait_done(f, CALL_MS + PROMPT_MS, "Unary _async");
  const crpc_status_info *si = crpc_call_status_info(f);
  cr_assert_not_null(si, "no status info on a finished call future");
  expect_status(crpc_future_status(f), CRPC_STATUS_OK, si, svc->name);
  cr_assert_eq(si->code, CRPC_STATUS_OK);
  rep_t *rep = NULL;
  crpc_status st = svc->unary_result(f, &rep);
  expect_status(st, CRPC_STATUS_OK, si, "_result");
  expect_rep(svc, rep, "async", small_payload, sizeof small_payload);
  rep_t *again = NULL;
  cr_assert_eq(svc->unary_result(f, &again), CRPC_STATUS_OK);
  cr_assert_null(again, "the reply was handed out twice");
  rep_free(rep);
  crpc_future_unref(f);
  crpc_channel_free(ch);
}

Test(peers, unary_async_worker) {
  unary_async(&worker);
}

Test(peers, unary_async_loop) {
  unary_async(&loop);
}

/* The next reply of server stream |r|, by read or (|async|) read_async;
 * NULL at its end. */
static rep_t *ss_read(const service *svc, void *r, int async) {
  rep_t *m = NULL;
  crpc_status st;
  if (async) {
    crpc_future *f = svc->ss_read_async(r);
    wait_done(f, CALL_MS + PROMPT_MS, "read_async");
    st = svc->ss_read_result(f, &m);
    crpc_future_unref(f);
  } else {
    st = svc->ss_read(r, &m);
  }
  expect_status(st, CRPC_STATUS_OK, NULL, "ServerStream read");
  return m;
}

/* Server streaming: |count| replies named |name|, read blockingly or with
 * read_async, each with a payload of |reply_bytes| 'x's (0: the request's
 * payload, "p"). */
/* |count| replies of |reply_bytes| on a channel whose streams' windows
 * are |window| bytes (0: the default). */
static void server_stream_in(const service *svc, int async, const char *name,
                             int count, size_t reply_bytes, uint32_t window) {
  crpc_channel_opts co;
  crpc_channel_opts_init(&co);
  co.stream_window_bytes = window;
  crpc_channel *ch = channel_opts_with(1, &co);
  req_t req = CRPC__SERVERTEST__REQ__INIT;
  req.name = (char *)name;
  req.count = count;
  req.payload = bytes("p", 1);
  req.reply_bytes = (int32_t)reply_bytes;
  uint8_t *want = reply_bytes ? malloc(reply_bytes) : NULL;
  if (reply_bytes) {
    cr_assert_not_null(want);
    memset(want, 'x', reply_bytes);
  }
  crpc_status_info si;
  crpc_status_info_init(&si);
  si.code = CRPC_STATUS_UNKNOWN;
  const crpc_call_opts o = {.timeout_ms = CALL_MS, .status_out = &si};
  void *r = NULL;
  crpc_status st = svc->ss_start(ch, &req, &r, &o);
  expect_status(st, CRPC_STATUS_OK, NULL, "ServerStream start");
  int n = 0;
  for (;;) {
    rep_t *m = ss_read(svc, r, async);
    if (m == NULL)
      break;
    cr_assert_lt(n, count, "more than %d replies", count);
    if (reply_bytes)
      expect_rep(svc, m, name, want, reply_bytes);
    else
      expect_rep(svc, m, name, "p", 1);
    cr_assert_eq(m->count, n, "reply %d has count %d", n, m->count);
    rep_free(m);
    n++;
  }
  cr_assert_eq(n, count, "%d replies, want %d", n, count);
  st = svc->ss_finish(r);
  expect_status(st, CRPC_STATUS_OK, &si, "ServerStream finish");
  cr_assert_eq(si.code, CRPC_STATUS_OK, "status_out says %s",
               crpc_status_name(si.code));
  svc->ss_free(r);
  free(want);
  crpc_status_info_cleanup(&si);
  crpc_channel_free(ch);
}

static void server_stream(const service *svc, int async) {
  server_stream_in(svc, async, "ss", 5, 0, 0);
}

Test(peers, server_stream_worker) {
  server_stream(&worker, 0);
}

Test(peers, server_stream_loop) {
  server_stream(&loop, 0);
}

Test(peers, server_stream_read_async_worker) {
  server_stream(&worker, 1);
}

Test(peers, server_stream_read_async_loop) {
  server_stream(&loop, 1);
}

/* Streams of many small messages at once on one connection, written by
 * handlers while the loop sends them, so that frames carry several
 * messages and the streams' frames share full write batches: every
 * message arrives whole and in order. crpc-server sends them fast enough
 * for the batches to fill; the other servers get a tenth as many, which
 * they take as long to send. */
static void many_streams_of_many_messages(const service *svc) {
  enum { STREAMS = 8 };
  const char *peer = env("CRPC_TEST_PEER");
  const int COUNT = peer == NULL || strcmp(peer, "crpc") == 0 ? 30000 : 3000;
  crpc_channel *ch = channel();
  const crpc_call_opts o = {.timeout_ms = CALL_MS};
  void *r[STREAMS];
  for (int s = 0; s < STREAMS; s++) {
    req_t req = CRPC__SERVERTEST__REQ__INIT;
    req.name = "many";
    req.count = COUNT;
    req.reply_bytes = 64;
    expect_status(svc->ss_start(ch, &req, &r[s], &o), CRPC_STATUS_OK, NULL,
                  "ServerStream start");
  }
  uint8_t want[64];
  memset(want, 'x', sizeof(want));
  /* Read in turns, a few at a time from each, so that all stay busy. */
  int n[STREAMS] = {0}, open = STREAMS;
  while (open > 0) {
    for (int s = 0; s < STREAMS; s++) {
      for (int k = 0; k < 64 && n[s] >= 0; k++) {
        rep_t *m = NULL;
        crpc_status st = svc->ss_read(r[s], &m);
        expect_status(st, CRPC_STATUS_OK, NULL, "ServerStream read");
        if (m == NULL) {
          cr_assert_eq(n[s], COUNT, "stream %d: %d replies", s, n[s]);
          expect_status(svc->ss_finish(r[s]), CRPC_STATUS_OK, NULL,
                        "ServerStream finish");
          svc->ss_free(r[s]);
          n[s] = -1;
          open--;
          break;
        }
        expect_rep(svc, m, "many", want, sizeof(want));
        cr_assert_eq(m->count, n[s], "stream %d: reply %d has count %d", s,
                     n[s], m->count);
        rep_free(m);
        n[s]++;
      }
    }
  }
  crpc_channel_free(ch);
}

Test(peers, many_streams_of_many_messages_worker) {
  many_streams_of_many_messages(&worker);
}

Test(peers, many_streams_of_many_messages_loop) {
  many_streams_of_many_messages(&loop);
}

/* Sixteen streams nobody reads fill their windows (1 MiB each, of which
 * at least half arrives after the 1 MiB queue crpc's client takes ahead of
 * its reader); another on the same connection still gets all its replies.
 * Were the connection's window held for unread streams, theirs would use
 * it up (16 MiB) and the other would wait forever. */
static void unread_streams_hold_only_their_own_window(const service *svc) {
  enum { UNREAD = 16, MSG = 64 * 1024 };
  crpc_channel *ch = channel();
  const crpc_call_opts o = {.timeout_ms = CALL_MS};
  void *r[UNREAD];
  for (int s = 0; s < UNREAD; s++) {
    req_t req = CRPC__SERVERTEST__REQ__INIT;
    req.name = "unread";
    req.count = 40; /* 2.5 MiB: more than the window and the queue */
    req.reply_bytes = MSG;
    expect_status(svc->ss_start(ch, &req, &r[s], &o), CRPC_STATUS_OK, NULL,
                  "ServerStream start");
    rep_t *m = NULL;
    expect_status(svc->ss_read(r[s], &m), CRPC_STATUS_OK, NULL,
                  "ServerStream read");
    cr_assert_not_null(m, "stream %d ended at once", s);
    rep_free(m);
  }
  enum { COUNT = 320 }; /* 20 MiB, more than the connection's window */
  req_t req = CRPC__SERVERTEST__REQ__INIT;
  req.name = "read";
  req.count = COUNT;
  req.reply_bytes = MSG;
  const crpc_call_opts po = {.timeout_ms = CALL_MS / 2};
  void *probe = NULL;
  expect_status(svc->ss_start(ch, &req, &probe, &po), CRPC_STATUS_OK, NULL,
                "ServerStream start");
  uint8_t *want = malloc(MSG);
  cr_assert_not_null(want);
  memset(want, 'x', MSG);
  int n = 0;
  for (;;) {
    rep_t *m = NULL;
    expect_status(svc->ss_read(probe, &m), CRPC_STATUS_OK, NULL,
                  "the read stream's read");
    if (m == NULL)
      break;
    expect_rep(svc, m, "read", want, MSG);
    rep_free(m);
    n++;
  }
  cr_assert_eq(n, COUNT, "%d replies, want %d", n, COUNT);
  expect_status(svc->ss_finish(probe), CRPC_STATUS_OK, NULL,
                "ServerStream finish");
  svc->ss_free(probe);
  for (int s = 0; s < UNREAD; s++)
    svc->ss_free(r[s]); /* cancels them */
  free(want);
  crpc_channel_free(ch);
}

Test(peers, unread_streams_hold_only_their_own_window_worker) {
  unread_streams_hold_only_their_own_window(&worker);
}

Test(peers, unread_streams_hold_only_their_own_window_loop) {
  unread_streams_hold_only_their_own_window(&loop);
}

/* Client streaming: five requests, written blockingly and with
 * write_async in turn, then the reply from finish or finish_async. */

static void client_stream(const service *svc, int async_finish) {
  crpc_channel *ch = channel();
  const crpc_call_opts o = {.timeout_ms = CALL_MS};
  void *w = NULL;
  crpc_status st = svc->cs_start(ch, &w, &o);
  expect_status(st, CRPC_STATUS_OK, NULL, "ClientStream start");
  uint8_t want[15];
  for (int i = 0; i < 5; i++) {
    char name[8];
    uint8_t payload[3];
    snprintf(name, sizeof name, "c%d", i);
    memset(payload, i, sizeof payload);
    memcpy(want + 3 * i, payload, sizeof payload);
    req_t req = CRPC__SERVERTEST__REQ__INIT;
    req.name = name;
    req.payload = bytes(payload, sizeof payload);
    if (i % 2 == 0) {
      st = svc->cs_write(w, &req);
    } else {
      crpc_future *f = svc->cs_write_async(w, &req);
      wait_done(f, CALL_MS, "write_async");
      st = crpc_future_status(f);
      crpc_future_unref(f);
    }
    expect_status(st, CRPC_STATUS_OK, NULL, "ClientStream write");
  }
  rep_t *rep = NULL;
  if (async_finish) {
    crpc_future *f = svc->cs_finish_async(w);
    wait_done(f, CALL_MS + PROMPT_MS, "finish_async");
    st = svc->cs_finish_result(f, &rep);
    crpc_future_unref(f);
  } else {
    st = svc->cs_finish(w, &rep);
  }
  expect_status(st, CRPC_STATUS_OK, NULL, "ClientStream finish");
  cr_assert_not_null(rep);
  cr_assert_str_eq(or_empty(rep->text), "c0,c1,c2,c3,c4", "text \"%s\"",
                   or_empty(rep->text));
  cr_assert_eq(rep->count, 5, "count %d, want 5", rep->count);
  cr_assert_eq(rep->payload.len, sizeof want);
  cr_assert_arr_eq(rep->payload.data, want, sizeof want);
  cr_assert_str_eq(or_empty(rep->placement), want_placement(svc));
  rep_free(rep);
  svc->cs_free(w);
  crpc_channel_free(ch);
}

Test(peers, client_stream_worker) {
  client_stream(&worker, 0);
}

Test(peers, client_stream_loop) {
  client_stream(&loop, 0);
}

Test(peers, client_stream_finish_async_worker) {
  client_stream(&worker, 1);
}

/* Bidi: each request's replies are read before the next request goes. */

static void bidi(const service *svc) {
  crpc_channel *ch = channel();
  crpc_status_info si;
  crpc_status_info_init(&si);
  si.code = CRPC_STATUS_UNKNOWN;
  const crpc_call_opts o = {.timeout_ms = CALL_MS, .status_out = &si};
  void *s = NULL;
  crpc_status st = svc->bidi_start(ch, &s, &o);
  expect_status(st, CRPC_STATUS_OK, NULL, "Bidi start");
  for (int i = 0; i < 5; i++) {
    char name[8];
    snprintf(name, sizeof name, "b%d", i);
    req_t req = CRPC__SERVERTEST__REQ__INIT;
    req.name = name;
    req.count = 1 + i % 2;
    st = svc->bidi_write(s, &req);
    expect_status(st, CRPC_STATUS_OK, NULL, "Bidi write");
    for (int j = 0; j < req.count; j++) {
      rep_t *m = NULL;
      st = svc->bidi_read(s, &m);
      expect_status(st, CRPC_STATUS_OK, NULL, "Bidi read");
      cr_assert_not_null(m, "the stream ended before reply %d to b%d", j, i);
      expect_rep(svc, m, name, NULL, 0);
      cr_assert_eq(m->count, i, "reply to b%d has count %d", i, m->count);
      rep_free(m);
    }
  }
  st = svc->bidi_close_send(s);
  expect_status(st, CRPC_STATUS_OK, NULL, "Bidi close_send");
  rep_t *m = NULL;
  st = svc->bidi_read(s, &m);
  expect_status(st, CRPC_STATUS_OK, NULL, "Bidi read at the end");
  cr_assert_null(m, "a reply after the last request");
  st = svc->bidi_finish(s);
  expect_status(st, CRPC_STATUS_OK, &si, "Bidi finish");
  cr_assert_eq(si.code, CRPC_STATUS_OK);
  svc->bidi_free(s);
  crpc_status_info_cleanup(&si);
  crpc_channel_free(ch);
}

Test(peers, bidi_worker) {
  bidi(&worker);
}

Test(peers, bidi_loop) {
  bidi(&loop);
}

/* A failed call: code, message and trailers. */

static void expect_status_trailer(const crpc_metadata *trailers) {
  expect_entry(trailers, "trailers", "x-status-trailer", "yes", 3);
}

Test(peers, failed_call_blocking) {
  crpc_channel *ch = channel();
  req_t req = CRPC__SERVERTEST__REQ__INIT;
  req.name = "st";
  req.status = CRPC_STATUS_OUT_OF_RANGE;
  req.message = (char *)status_message;
  crpc_status_info si;
  crpc_metadata headers, trailers;
  crpc_status_info_init(&si);
  crpc_metadata_init(&headers);
  crpc_metadata_init(&trailers);
  const crpc_call_opts o = {.timeout_ms = CALL_MS,
                            .status_out = &si,
                            .headers_out = &headers,
                            .trailers_out = &trailers};
  rep_t *rep = NULL;
  crpc_status st = worker.unary(ch, &req, &rep, &o);
  expect_status(st, CRPC_STATUS_OUT_OF_RANGE, &si, "Unary");
  cr_assert_null(rep, "a reply from a failed call");
  cr_assert_eq(si.code, CRPC_STATUS_OUT_OF_RANGE, "status_out says %s",
               crpc_status_name(si.code));
  cr_assert_str_eq(or_empty(si.message), status_message,
                   "message \"%s\", want \"%s\"", or_empty(si.message),
                   status_message);
  expect_status_trailer(&trailers);
  crpc_metadata_cleanup(&headers);
  crpc_metadata_cleanup(&trailers);
  crpc_status_info_cleanup(&si);
  crpc_channel_free(ch);
}

Test(peers, failed_call_async) {
  crpc_channel *ch = channel();
  req_t req = CRPC__SERVERTEST__REQ__INIT;
  req.name = "st";
  req.status = CRPC_STATUS_OUT_OF_RANGE;
  req.message = (char *)status_message;
  const crpc_call_opts o = {.timeout_ms = CALL_MS};
  crpc_future *f = loop.unary_async(ch, &req, &o);
  wait_done(f, CALL_MS + PROMPT_MS, "Unary _async");
  const crpc_status_info *si = crpc_call_status_info(f);
  cr_assert_not_null(si, "no status info on a finished call future");
  expect_status(crpc_future_status(f), CRPC_STATUS_OUT_OF_RANGE, si,
                "the future");
  cr_assert_eq(si->code, CRPC_STATUS_OUT_OF_RANGE);
  cr_assert_str_eq(or_empty(si->message), status_message,
                   "message \"%s\", want \"%s\"", or_empty(si->message),
                   status_message);
  cr_assert_str_eq(crpc_future_message(f), status_message,
                   "the future's message \"%s\"", crpc_future_message(f));
  expect_status_trailer(crpc_call_trailers(f));
  rep_t *rep = NULL;
  crpc_status st = loop.unary_result(f, &rep);
  expect_status(st, CRPC_STATUS_OUT_OF_RANGE, si, "_result");
  cr_assert_null(rep, "a reply from a failed call");
  crpc_future_unref(f);
  crpc_channel_free(ch);
}

/* Three replies, then the status, which read, finish and the outputs in
 * the options all report. */
Test(peers, failed_server_stream) {
  crpc_channel *ch = channel();
  req_t req = CRPC__SERVERTEST__REQ__INIT;
  req.name = "sst";
  req.count = 3;
  req.status = CRPC_STATUS_FAILED_PRECONDITION;
  req.message = (char *)status_message;
  crpc_status_info si;
  crpc_metadata trailers;
  crpc_status_info_init(&si);
  crpc_metadata_init(&trailers);
  const crpc_call_opts o = {
      .timeout_ms = CALL_MS, .status_out = &si, .trailers_out = &trailers};
  void *r = NULL;
  crpc_status st = worker.ss_start(ch, &req, &r, &o);
  expect_status(st, CRPC_STATUS_OK, NULL, "ServerStream start");
  int n = 0;
  for (;;) {
    rep_t *m = NULL;
    st = worker.ss_read(r, &m);
    if (st != CRPC_STATUS_OK || m == NULL)
      break;
    cr_assert_eq(m->count, n, "reply %d has count %d", n, m->count);
    rep_free(m);
    n++;
  }
  cr_assert_eq(n, 3, "%d replies before the status, want 3", n);
  expect_status(st, CRPC_STATUS_FAILED_PRECONDITION, NULL, "the last read");
  st = worker.ss_finish(r);
  expect_status(st, CRPC_STATUS_FAILED_PRECONDITION, &si, "finish");
  cr_assert_eq(si.code, CRPC_STATUS_FAILED_PRECONDITION);
  cr_assert_str_eq(or_empty(si.message), status_message,
                   "message \"%s\", want \"%s\"", or_empty(si.message),
                   status_message);
  expect_status_trailer(&trailers);
  worker.ss_free(r);
  crpc_metadata_cleanup(&trailers);
  crpc_status_info_cleanup(&si);
  crpc_channel_free(ch);
}

/* Deadlines. */

Test(peers, deadline_exceeded_on_time) {
  crpc_channel *ch = channel();
  req_t req = CRPC__SERVERTEST__REQ__INIT;
  req.name = "dl";
  req.sleep_ms = 5000;
  crpc_status_info si;
  crpc_status_info_init(&si);
  const crpc_call_opts o = {.timeout_ms = 200, .status_out = &si};
  rep_t *rep = NULL;
  int64_t t0 = now_ms();
  crpc_status st = loop.unary(ch, &req, &rep, &o);
  int64_t took = now_ms() - t0;
  expect_status(st, CRPC_STATUS_DEADLINE_EXCEEDED, &si, "a 200 ms call");
  cr_assert_null(rep);
  cr_assert_eq(si.code, CRPC_STATUS_DEADLINE_EXCEEDED);
  cr_assert_geq(took, 190,
                "DEADLINE_EXCEEDED after %lld ms, before the "
                "200 ms deadline",
                (long long)took);
  cr_assert_lt(took, 200 + PROMPT_MS, "DEADLINE_EXCEEDED after %lld ms",
               (long long)took);
  crpc_status_info_cleanup(&si);
  crpc_channel_free(ch);
}

Test(peers, deadline_seen_by_server) {
  crpc_channel *ch = channel();
  char tag[96];
  unique_tag(tag, sizeof tag, "deadline");
  req_t req = CRPC__SERVERTEST__REQ__INIT;
  req.name = tag;
  req.wait_cancel = 1;
  /* Long enough for a loaded server to start the handler: a call whose
   * deadline passes while it waits for a worker never reaches one, and
   * then the handler has nothing to see. */
  const int64_t deadline_ms = 1500;
  const crpc_call_opts o = {.timeout_ms = deadline_ms};
  int64_t t0 = now_ms();
  crpc_future *f = worker.unary_async(ch, &req, &o);
  cr_assert_not_null(f);
  await_waiting(ch, tag);
  wait_done(f, deadline_ms + PROMPT_MS, "a call past its deadline");
  int64_t took = now_ms() - t0;
  rep_t *rep = NULL;
  cr_assert_eq(worker.unary_result(f, &rep), CRPC_STATUS_DEADLINE_EXCEEDED,
               "status %s", crpc_status_name(crpc_future_status(f)));
  cr_assert_null(rep);
  crpc_future_unref(f);
  cr_assert_lt(took, deadline_ms + PROMPT_MS, "DEADLINE_EXCEEDED after %lld ms",
               (long long)took);
  seen s = server_saw(ch, tag);
  cr_assert(s.deadline == 1 && s.cancelled == 0,
            "the server saw deadline=%d cancelled=%d, want 1 and 0", s.deadline,
            s.cancelled);
  crpc_channel_free(ch);
}

/* Cancellation the server sees. */

Test(peers, future_cancel_seen_by_server) {
  crpc_channel *ch = channel();
  char tag[96];
  unique_tag(tag, sizeof tag, "cancel-future");
  req_t req = CRPC__SERVERTEST__REQ__INIT;
  req.name = tag;
  req.wait_cancel = 1;
  const crpc_call_opts o = {.timeout_ms = CALL_MS};
  crpc_future *f = worker.unary_async(ch, &req, &o);
  cr_assert_not_null(f);
  await_waiting(ch, tag);
  cr_assert_not(crpc_future_is_done(f), "the call ended by itself: %s (%s)",
                crpc_status_name(crpc_future_status(f)),
                crpc_future_message(f));
  int64_t t0 = now_ms();
  cr_assert_eq(crpc_future_cancel(f), 0);
  wait_done(f, PROMPT_MS, "a cancelled future");
  int64_t took = now_ms() - t0;
  cr_assert_eq(crpc_future_status(f), CRPC_STATUS_CANCELLED, "status %s",
               crpc_status_name(crpc_future_status(f)));
  cr_assert_lt(took, PROMPT_MS, "completed %lld ms after the cancel",
               (long long)took);
  rep_t *rep = NULL;
  cr_assert_eq(worker.unary_result(f, &rep), CRPC_STATUS_CANCELLED);
  cr_assert_null(rep);
  crpc_future_unref(f);
  seen s = server_saw(ch, tag);
  cr_assert(s.cancelled == 1 && s.deadline == 0,
            "the server saw cancelled=%d deadline=%d, want 1 and 0",
            s.cancelled, s.deadline);
  crpc_channel_free(ch);
}

typedef struct blocking_call {
  crpc_channel *ch;
  const char *tag;
  crpc_cancel *cancel;
  crpc_status st;
  rep_t *rep;
  int64_t ended_ms;
} blocking_call;

static void *wait_cancel_thread(void *arg) {
  blocking_call *c = arg;
  req_t req = CRPC__SERVERTEST__REQ__INIT;
  req.name = (char *)c->tag;
  req.wait_cancel = 1;
  const crpc_call_opts o = {.timeout_ms = CALL_MS, .cancel = c->cancel};
  c->st = worker.unary(c->ch, &req, &c->rep, &o);
  c->ended_ms = now_ms();
  return NULL;
}

Test(peers, cancel_handle_seen_by_server) {
  crpc_channel *ch = channel();
  char tag[96];
  unique_tag(tag, sizeof tag, "cancel-handle");
  blocking_call c = {.ch = ch, .tag = tag, .st = CRPC_STATUS_UNKNOWN};
  cr_assert_eq(crpc_cancel_new(&c.cancel), 0);
  pthread_t t;
  cr_assert_eq(pthread_create(&t, NULL, wait_cancel_thread, &c), 0);
  await_waiting(ch, tag);
  int64_t t0 = now_ms();
  crpc_cancel_trigger(c.cancel);
  struct timespec limit;
  clock_gettime(CLOCK_REALTIME, &limit);
  limit.tv_sec += 10;
  int rc = pthread_timedjoin_np(t, NULL, &limit);
  cr_assert_eq(rc, 0,
               "the blocking call did not return within 10 s of "
               "the cancel");
  expect_status(c.st, CRPC_STATUS_CANCELLED, NULL, "the blocking call");
  cr_assert_null(c.rep);
  cr_assert_lt(c.ended_ms - t0, PROMPT_MS, "returned %lld ms after the cancel",
               (long long)(c.ended_ms - t0));
  crpc_cancel_free(c.cancel);
  seen s = server_saw(ch, tag);
  cr_assert(s.cancelled == 1 && s.deadline == 0,
            "the server saw cancelled=%d deadline=%d, want 1 and 0",
            s.cancelled, s.deadline);
  crpc_channel_free(ch);
}

/* Metadata both ways: x-echo-* comes back as headers and trailers. */

static const char echo_text[] = "text value, with spaces & punctuation!";
static const uint8_t echo_bin[] = {0, 1, 2, 'c', 'r', 'p', 'c', 0, 0xfe, 0xff};

static void request_metadata(crpc_metadata *md) {
  crpc_metadata_init(md);
  cr_assert_eq(crpc_metadata_add_str(md, "x-echo-a", echo_text), 0);
  cr_assert_eq(crpc_metadata_add(md, "x-echo-b-bin", echo_bin, sizeof echo_bin),
               0);
  cr_assert_eq(crpc_metadata_add_str(md, "x-other", "not echoed"), 0);
}

static void expect_echo(const crpc_metadata *headers,
                        const crpc_metadata *trailers) {
  expect_entry(headers, "headers", "x-echo-a", echo_text, strlen(echo_text));
  expect_entry(headers, "headers", "x-echo-b-bin", echo_bin, sizeof echo_bin);
  cr_assert_lt(crpc_metadata_find(headers, "x-other", 0), 0,
               "x-other was echoed");
  expect_entry(trailers, "trailers", "x-echo-a-trailer", echo_text,
               strlen(echo_text));
  expect_entry(trailers, "trailers", "x-echo-b-trailer-bin", echo_bin,
               sizeof echo_bin);
}

Test(peers, metadata_both_ways_blocking) {
  crpc_channel *ch = channel();
  crpc_metadata md, headers, trailers;
  request_metadata(&md);
  crpc_metadata_init(&headers);
  crpc_metadata_init(&trailers);
  const crpc_call_opts o = {.timeout_ms = CALL_MS,
                            .metadata = &md,
                            .headers_out = &headers,
                            .trailers_out = &trailers};
  req_t req = CRPC__SERVERTEST__REQ__INIT;
  req.name = "md";
  rep_t *rep = NULL;
  crpc_status st = worker.unary(ch, &req, &rep, &o);
  expect_status(st, CRPC_STATUS_OK, NULL, "Unary");
  expect_rep(&worker, rep, "md", NULL, 0);
  expect_echo(&headers, &trailers);
  rep_free(rep);
  crpc_metadata_cleanup(&md);
  crpc_metadata_cleanup(&headers);
  crpc_metadata_cleanup(&trailers);
  crpc_channel_free(ch);
}

Test(peers, metadata_both_ways_async) {
  crpc_channel *ch = channel();
  crpc_metadata md;
  request_metadata(&md);
  const crpc_call_opts o = {.timeout_ms = CALL_MS, .metadata = &md};
  req_t req = CRPC__SERVERTEST__REQ__INIT;
  req.name = "md";
  crpc_future *f = loop.unary_async(ch, &req, &o);
  /* The options are borrowed only until the call has started. */
  crpc_metadata_cleanup(&md);
  wait_done(f, CALL_MS + PROMPT_MS, "Unary _async");
  expect_status(crpc_future_status(f), CRPC_STATUS_OK, crpc_call_status_info(f),
                "the future");
  expect_echo(crpc_call_headers(f), crpc_call_trailers(f));
  rep_t *rep = NULL;
  cr_assert_eq(loop.unary_result(f, &rep), CRPC_STATUS_OK);
  expect_rep(&loop, rep, "md", NULL, 0);
  rep_free(rep);
  crpc_future_unref(f);
  crpc_channel_free(ch);
}

/* Message sizes: up to the 4 MiB limit both ways; beyond it the call fails
 * and the channel goes on. */

static uint8_t *pattern(size_t n) {
  uint8_t *p = malloc(n);
  cr_assert_not_null(p);
  for (size_t i = 0; i < n; i++)
    p[i] = (uint8_t)(i * 7 + (i >> 11));
  return p;
}

Test(peers, message_4mib_request) {
  crpc_channel *ch = channel();
  req_t req = CRPC__SERVERTEST__REQ__INIT;
  req.name = "big";
  /* A request 48 bytes under the limit, whatever its framing. */
  size_t n = LIMIT - 64;
  uint8_t *payload = pattern(LIMIT);
  req.payload = bytes(payload, n);
  n += LIMIT - 48 - crpc__servertest__req__get_packed_size(&req);
  req.payload = bytes(payload, n);
  cr_assert_eq(crpc__servertest__req__get_packed_size(&req), LIMIT - 48);
  const crpc_call_opts o = {.timeout_ms = CALL_MS};
  rep_t *rep = NULL;
  crpc_status st = worker.unary(ch, &req, &rep, &o);
  expect_status(st, CRPC_STATUS_OK, NULL, "a 4 MiB request");
  expect_rep(&worker, rep, "big", payload, n);
  rep_free(rep);
  free(payload);
  crpc_channel_free(ch);
}

Test(peers, message_4mib_response) {
  crpc_channel *ch = channel();
  req_t req = CRPC__SERVERTEST__REQ__INIT;
  req.name = "bigrep";
  req.reply_bytes = (int32_t)(LIMIT - 64);
  const crpc_call_opts o = {.timeout_ms = CALL_MS};
  rep_t *rep = NULL;
  crpc_status st = loop.unary(ch, &req, &rep, &o);
  expect_status(st, CRPC_STATUS_OK, NULL, "a 4 MiB response");
  uint8_t *want = malloc(LIMIT - 64);
  cr_assert_not_null(want);
  memset(want, 'x', LIMIT - 64);
  expect_rep(&loop, rep, "bigrep", want, LIMIT - 64);
  free(want);
  rep_free(rep);
  crpc_channel_free(ch);
}

/* Streamed replies of 3 MiB, larger than the stream's 1 MiB flow-control
 * window: the window of a message still arriving must be given back as it
 * arrives, or the server can never finish sending it. */
static void server_stream_big(const service *svc, int async) {
  server_stream_in(svc, async, "ssbig", 3, 3 * MiB, MiB);
}

Test(peers, server_stream_messages_larger_than_the_window) {
  server_stream_big(&loop, 0);
}

Test(peers, server_stream_messages_larger_than_the_window_async) {
  server_stream_big(&worker, 1);
}

/* A stream of replies of many sizes, small ones between large ones, sent
 * faster than the window (1 MiB here) lets them go: a server queues each
 * large one in the buffer it was serialized in, behind smaller ones, and
 * a frame may end anywhere in a message. Every byte must arrive, in
 * order: reply i is sizes[i % n] bytes of value i % 251. */
static const int32_t mixed_sizes[] = {
    1,     70000, 5,     300,   (int32_t)MiB + 3,       16384,
    16383, 0,     2,     65536, (int32_t)(3 * MiB / 2), 20000,
    9,     17000, 17000, 17000,
};
#define N_MIXED (sizeof(mixed_sizes) / sizeof(mixed_sizes[0]))

static void server_stream_mixed(const service *svc, int async) {
  crpc_channel_opts co;
  crpc_channel_opts_init(&co);
  co.stream_window_bytes = MiB;
  crpc_channel *ch = channel_opts_with(1, &co);
  req_t req = CRPC__SERVERTEST__REQ__INIT;
  req.name = "mixed";
  req.count = 3 * (int32_t)N_MIXED;
  req.n_reply_sizes = N_MIXED;
  req.reply_sizes = (int32_t *)mixed_sizes;
  uint8_t *want = malloc(2 * MiB);
  cr_assert_not_null(want);
  const crpc_call_opts o = {.timeout_ms = CALL_MS};
  void *r = NULL;
  crpc_status st = svc->ss_start(ch, &req, &r, &o);
  expect_status(st, CRPC_STATUS_OK, NULL, "ServerStream start");
  int n = 0;
  for (;; n++) {
    rep_t *m = ss_read(svc, r, async);
    if (m == NULL)
      break;
    cr_assert_lt(n, req.count, "more than %d replies", req.count);
    cr_assert_eq(m->count, n, "reply %d has count %d", n, m->count);
    size_t len = (size_t)mixed_sizes[(size_t)n % N_MIXED];
    memset(want, n % 251, len);
    expect_rep(svc, m, "mixed", want, len);
    rep_free(m);
  }
  cr_assert_eq(n, req.count, "%d replies, want %d", n, req.count);
  expect_status(svc->ss_finish(r), CRPC_STATUS_OK, NULL, "ServerStream finish");
  svc->ss_free(r);
  free(want);
  crpc_channel_free(ch);
}

Test(peers, server_stream_of_mixed_sizes_worker) {
  server_stream_mixed(&worker, 0);
}

Test(peers, server_stream_of_mixed_sizes_loop) {
  server_stream_mixed(&loop, 1);
}

/* The same sizes the other way: requests written as fast as the window
 * lets them go, each large one queued by crpc's client in the buffer it
 * was serialized in. The reply's payload is all of them joined. */
static void client_stream_mixed(const service *svc) {
  crpc_channel *ch = channel();
  const crpc_call_opts o = {.timeout_ms = CALL_MS};
  void *w = NULL;
  crpc_status st = svc->cs_start(ch, &w, &o);
  expect_status(st, CRPC_STATUS_OK, NULL, "ClientStream start");
  size_t total = 0;
  for (size_t i = 0; i < N_MIXED; i++)
    total += (size_t)mixed_sizes[i];
  uint8_t *want = malloc(total);
  cr_assert_not_null(want);
  size_t at = 0;
  for (size_t i = 0; i < N_MIXED; i++) {
    size_t len = (size_t)mixed_sizes[i];
    memset(want + at, (int)(i % 251), len);
    req_t req = CRPC__SERVERTEST__REQ__INIT;
    req.name = "m";
    req.payload = bytes(want + at, len);
    st = svc->cs_write(w, &req);
    expect_status(st, CRPC_STATUS_OK, NULL, "ClientStream write");
    at += len;
  }
  rep_t *rep = NULL;
  st = svc->cs_finish(w, &rep);
  expect_status(st, CRPC_STATUS_OK, NULL, "ClientStream finish");
  cr_assert_not_null(rep);
  cr_assert_eq(rep->count, (int32_t)N_MIXED, "count %d", rep->count);
  cr_assert_eq(rep->payload.len, total, "%zu bytes, want %zu", rep->payload.len,
               total);
  cr_assert_arr_eq(rep->payload.data, want, total, "the payloads differ");
  rep_free(rep);
  svc->cs_free(w);
  free(want);
  crpc_channel_free(ch);
}

Test(peers, client_stream_of_mixed_sizes_worker) {
  client_stream_mixed(&worker);
}

Test(peers, client_stream_of_mixed_sizes_loop) {
  client_stream_mixed(&loop);
}

Test(peers, oversize_request_then_next_call) {
  crpc_channel *ch = channel();
  uint8_t *payload = malloc(LIMIT + 1024);
  cr_assert_not_null(payload);
  memset(payload, 'o', LIMIT + 1024);
  req_t req = CRPC__SERVERTEST__REQ__INIT;
  req.name = "over";
  req.payload = bytes(payload, LIMIT + 1024);
  req.reply_bytes = 1;
  crpc_status_info si;
  crpc_status_info_init(&si);
  const crpc_call_opts o = {.timeout_ms = CALL_MS, .status_out = &si};
  rep_t *rep = NULL;
  crpc_status st = worker.unary(ch, &req, &rep, &o);
  expect_status(st, CRPC_STATUS_RESOURCE_EXHAUSTED, &si, "an oversize request");
  cr_assert_null(rep);
  free(payload);
  crpc_status_info_cleanup(&si);

  req_t next = CRPC__SERVERTEST__REQ__INIT;
  next.name = "after";
  const crpc_call_opts no = {.timeout_ms = CALL_MS};
  st = worker.unary(ch, &next, &rep, &no);
  expect_status(st, CRPC_STATUS_OK, NULL, "the next call on the channel");
  expect_rep(&worker, rep, "after", NULL, 0);
  rep_free(rep);
  crpc_channel_free(ch);
}

/* gzip: requests compressed by the client, responses by the server (asked
 * for with x-want-compression), contents intact. */

static void gzip_call(const service *svc, int request, int response) {
  crpc_channel *ch = channel();
  crpc_metadata md;
  crpc_metadata_init(&md);
  if (response)
    cr_assert_eq(crpc_metadata_add_str(&md, "x-want-compression", "gzip"), 0);
  size_t n = MiB;
  uint8_t *payload = pattern(n);
  memset(payload, 'z', n / 2); /* half compressible, half not */
  req_t req = CRPC__SERVERTEST__REQ__INIT;
  req.name = "gz";
  req.payload = bytes(payload, n);
  crpc_status_info si;
  crpc_status_info_init(&si);
  const crpc_call_opts o = {.timeout_ms = CALL_MS,
                            .metadata = &md,
                            .compression = request ? "gzip" : NULL,
                            .status_out = &si};
  rep_t *rep = NULL;
  crpc_status st = svc->unary(ch, &req, &rep, &o);
  expect_status(st, CRPC_STATUS_OK, &si, "a gzip call");
  expect_rep(svc, rep, "gz", payload, n);
  rep_free(rep);
  free(payload);
  crpc_status_info_cleanup(&si);
  crpc_metadata_cleanup(&md);
  crpc_channel_free(ch);
}

Test(peers, gzip_request) {
  gzip_call(&worker, 1, 0);
}

Test(peers, gzip_response) {
  gzip_call(&worker, 0, 1);
}

Test(peers, gzip_both_ways) {
  gzip_call(&loop, 1, 1);
}

/* Futures gathered: 1000 calls at once, every reply checked. */

#define MANY 1000

Test(peers, many_async_gathered_with_all) {
  crpc_channel *ch = channel();
  crpc_future **fs = calloc(MANY, sizeof *fs);
  cr_assert_not_null(fs);
  const crpc_call_opts o = {.timeout_ms = 120000};
  for (int i = 0; i < MANY; i++) {
    char name[16]; /* reused: the request is the call's only while it starts */
    snprintf(name, sizeof name, "n%d", i);
    req_t req = CRPC__SERVERTEST__REQ__INIT;
    req.name = name;
    const service *svc = i % 2 ? &loop : &worker;
    fs[i] = svc->unary_async(ch, &req, &o);
    cr_assert_not_null(fs[i], "call %d: no future", i);
  }
  crpc_future *all = NULL;
  cr_assert_eq(crpc_future_all(fs, MANY, &all), 0);
  wait_done(all, 120000 + PROMPT_MS, "1000 calls gathered");
  cr_assert_eq(crpc_future_status(all), CRPC_STATUS_OK, "gathered: %s (%s)",
               crpc_status_name(crpc_future_status(all)),
               crpc_future_message(all));
  for (int i = 0; i < MANY; i++) {
    char name[16];
    snprintf(name, sizeof name, "n%d", i);
    const service *svc = i % 2 ? &loop : &worker;
    cr_assert(crpc_future_is_done(fs[i]), "call %d still pending", i);
    rep_t *rep = NULL;
    crpc_status st = svc->unary_result(fs[i], &rep);
    expect_status(st, CRPC_STATUS_OK, crpc_call_status_info(fs[i]), name);
    expect_rep(svc, rep, name, NULL, 0);
    rep_free(rep);
    crpc_future_unref(fs[i]);
  }
  crpc_future_unref(all);
  free(fs);
  crpc_channel_free(ch);
}

/* The quick one of four calls wins crpc_future_any; the others wait for
 * their cancellation, which comes next. */
Test(peers, any_gives_the_first_done) {
  crpc_channel *ch = channel();
  char tag[96];
  unique_tag(tag, sizeof tag, "any");
  crpc_future *fs[4];
  const crpc_call_opts o = {.timeout_ms = CALL_MS};
  for (int i = 0; i < 4; i++) {
    req_t req = CRPC__SERVERTEST__REQ__INIT;
    req.name = i == 2 ? "quick" : tag;
    req.wait_cancel = i != 2;
    fs[i] = loop.unary_async(ch, &req, &o);
    cr_assert_not_null(fs[i]);
  }
  crpc_future *any = NULL;
  cr_assert_eq(crpc_future_any(fs, 4, &any), 0);
  wait_done(any, CALL_MS / 2, "crpc_future_any");
  cr_assert_eq(crpc_future_any_index(any), 2, "call %td finished first",
               crpc_future_any_index(any));
  cr_assert_eq(crpc_future_status(any), CRPC_STATUS_OK, "any: %s (%s)",
               crpc_status_name(crpc_future_status(any)),
               crpc_future_message(any));
  rep_t *rep = NULL;
  cr_assert_eq(loop.unary_result(fs[2], &rep), CRPC_STATUS_OK);
  expect_rep(&loop, rep, "quick", NULL, 0);
  rep_free(rep);
  for (int i = 0; i < 4; i++) {
    if (i == 2)
      continue;
    cr_assert_not(crpc_future_is_done(fs[i]), "waiting call %d ended: %s", i,
                  crpc_status_name(crpc_future_status(fs[i])));
    cr_assert_eq(crpc_future_cancel(fs[i]), 0);
    cr_assert_eq(crpc_future_status(fs[i]), CRPC_STATUS_CANCELLED);
  }
  for (int i = 0; i < 4; i++)
    crpc_future_unref(fs[i]);
  crpc_future_unref(any);
  crpc_channel_free(ch);
}

/* Fire-and-forget: futures dropped at once, one call still running when
 * the channel is freed, which cancels it. LeakSanitizer checks that
 * nothing is left. */
Test(peers, fire_and_forget) {
  crpc_channel *ch = channel();
  const crpc_call_opts o = {.timeout_ms = CALL_MS};
  for (int i = 0; i < 10; i++) {
    req_t req = CRPC__SERVERTEST__REQ__INIT;
    req.name = "forgotten";
    req.payload = bytes(small_payload, sizeof small_payload);
    crpc_future_unref(worker.unary_async(ch, &req, &o));
  }
  char tag[96];
  unique_tag(tag, sizeof tag, "forgotten");
  req_t waiting = CRPC__SERVERTEST__REQ__INIT;
  waiting.name = tag;
  waiting.wait_cancel = 1;
  crpc_future_unref(loop.unary_async(ch, &waiting, &o));

  req_t req = CRPC__SERVERTEST__REQ__INIT;
  req.name = "after";
  rep_t *rep = NULL;
  crpc_status st = worker.unary(ch, &req, &rep, &o);
  expect_status(st, CRPC_STATUS_OK, NULL, "a call after the forgotten ones");
  expect_rep(&worker, rep, "after", NULL, 0);
  rep_free(rep);
  await_waiting(ch, tag);
  crpc_channel_free(ch);

  /* Freeing the channel cancelled the call still waiting. */
  ch = channel();
  seen s = server_saw(ch, tag);
  cr_assert(s.cancelled == 1 && s.deadline == 0,
            "the server saw cancelled=%d deadline=%d, want 1 and 0",
            s.cancelled, s.deadline);
  crpc_channel_free(ch);
}

/* Interceptors and credentials on crpc's channel, as the peer sees them. */

static crpc_icall_end seen_end;
static int seen_ends;

static crpc_status add_echo_start(void *data, crpc_icall *call, void *state) {
  (void)data;
  (void)state;
  return crpc_metadata_add_str(crpc_icall_metadata(call), "x-echo-intercepted",
                               "by-crpc") == 0
             ? CRPC_STATUS_OK
             : CRPC_STATUS_RESOURCE_EXHAUSTED;
}

static void record_end(void *data, crpc_icall *call, void *state,
                       const crpc_icall_end *e) {
  (void)data;
  (void)call;
  (void)state;
  seen_end = *e;
  seen_ends++;
}

Test(peers, client_interceptor_metadata_reaches_the_server) {
  crpc_interceptor ic = {.start = add_echo_start, .end = record_end};
  crpc_channel_opts o;
  crpc_channel_opts_init(&o);
  o.interceptors = &ic;
  o.n_interceptors = 1;
  crpc_channel *ch = channel_opts_with(1, &o);
  crpc_metadata headers;
  crpc_metadata_init(&headers);
  const crpc_call_opts co = {.timeout_ms = CALL_MS, .headers_out = &headers};
  req_t req = CRPC__SERVERTEST__REQ__INIT;
  req.name = "ic";
  rep_t *rep = NULL;
  crpc_status st = worker.unary(ch, &req, &rep, &co);
  expect_status(st, CRPC_STATUS_OK, NULL, "Unary");
  /* The server echoed what the interceptor added. */
  expect_entry(&headers, "headers", "x-echo-intercepted", "by-crpc", 7);
  cr_assert_eq(seen_ends, 1);
  cr_assert_eq(seen_end.code, CRPC_STATUS_OK);
  cr_assert_eq(seen_end.messages_sent, 1);
  cr_assert_eq(seen_end.messages_received, 1);
  cr_assert_gt(seen_end.bytes_received, 5);
  rep_free(rep);
  crpc_metadata_cleanup(&headers);
  crpc_channel_free(ch);
}

static int bearer_token(void *data, const crpc_method *method,
                        const char *target, crpc_metadata *md) {
  (void)data;
  (void)method;
  (void)target;
  /* The peers echo x-echo-* keys: the token comes back to be checked. */
  if (crpc_metadata_add_str(md, "authorization", "Bearer s3cret") != 0)
    return -1;
  return crpc_metadata_add_str(md, "x-echo-token", "Bearer s3cret");
}

Test(peers, bearer_token_only_over_tls_unless_allowed) {
  crpc_channel_opts o;
  crpc_channel_opts_init(&o);
  o.credentials.get = bearer_token;
  crpc_channel *ch = channel_opts_with(1, &o);
  crpc_metadata headers;
  crpc_metadata_init(&headers);
  crpc_status_info si;
  crpc_status_info_init(&si);
  const crpc_call_opts co = {
      .timeout_ms = CALL_MS, .headers_out = &headers, .status_out = &si};
  req_t req = CRPC__SERVERTEST__REQ__INIT;
  req.name = "token";
  rep_t *rep = NULL;
  crpc_status st = worker.unary(ch, &req, &rep, &co);
  if (uses_tls()) {
    expect_status(st, CRPC_STATUS_OK, NULL, "Unary over TLS");
    expect_entry(&headers, "headers", "x-echo-token", "Bearer s3cret", 13);
  } else {
    cr_assert_eq(st, CRPC_STATUS_UNAUTHENTICATED, "%s: %s",
                 crpc_status_name(st), or_empty(si.message));
    cr_assert_eq(crpc_metadata_count(&headers), 0, "the call was sent");
  }
  rep_free(rep);
  rep = NULL;
  crpc_channel_free(ch);
  crpc_metadata_clear(&headers);
  /* Allowed in the clear: sent either way. */
  o.credentials.allow_insecure = 1;
  ch = channel_opts_with(1, &o);
  st = worker.unary(ch, &req, &rep, &co);
  expect_status(st, CRPC_STATUS_OK, NULL, "Unary, allow_insecure");
  expect_entry(&headers, "headers", "x-echo-token", "Bearer s3cret", 13);
  rep_free(rep);
  crpc_status_info_cleanup(&si);
  crpc_metadata_cleanup(&headers);
  crpc_channel_free(ch);
}
