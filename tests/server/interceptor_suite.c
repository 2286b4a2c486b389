/*
 * tests/server/interceptor_suite.c: interceptors (crpc/interceptor.h) on
 * an in-process server and on channels to it, calling
 * crpc.intercepttest.Observe (proto/intercept.proto):
 *
 *   - order: the server's interceptors, then the service's, start in the
 *     order added; end comes back in reverse, once the handler is done;
 *   - where: start runs where the handler runs (a coroutine on the loop,
 *     or a worker), on the caller's thread on a channel;
 *   - refusals: a start that returns a status ends the call with it and
 *     its message before the handler runs (or before anything is sent),
 *     skips the interceptors after it, and the ones before it see end; a
 *     value that is no status ends the call UNKNOWN;
 *   - metadata: request metadata changed in start reaches the handler
 *     (server) or the server (channel); response headers added through
 *     crpc_icall_ctx() reach the caller;
 *   - streams: message sees each streamed message, and end counts
 *     messages and bytes each way, with the status;
 *   - credentials: refused over plaintext unless allowed, then sent;
 *   - trace context: a traceparent sent to Hop reaches its nested call in
 *     the same trace, with the spans linked hop to hop.
 */
#define _GNU_SOURCE

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "crpc/coro.h"
#include "crpc/error.h"
#include "crpc/interceptor.h"
#include "intercept.crpc.h"

typedef Crpc__Intercepttest__Note Note;

#define CALL_MS 20000

/* What the hooks did, in order: "name.hook" words separated by spaces. */
static pthread_mutex_t events_mu = PTHREAD_MUTEX_INITIALIZER;
static char events[4096];

static void event(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void event(const char *fmt, ...) {
  char word[128];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(word, sizeof(word), fmt, ap);
  va_end(ap);
  pthread_mutex_lock(&events_mu);
  size_t n = strlen(events);
  snprintf(events + n, sizeof(events) - n, "%s%s", n ? " " : "", word);
  pthread_mutex_unlock(&events_mu);
}

static void events_take(char *out, size_t len) {
  pthread_mutex_lock(&events_mu);
  size_t n = strlen(events) < len ? strlen(events) : len - 1;
  memcpy(out, events, n);
  out[n] = '\0';
  events[0] = '\0';
  pthread_mutex_unlock(&events_mu);
}

/* Handlers. */

static int handler_runs;

/* The request metadata, "k=v;" each, into the call's arena. */
static char *dump_metadata(crpc_ctx *ctx) {
  const crpc_metadata *md = crpc_ctx_request_metadata(ctx);
  size_t len = 1;
  for (size_t i = 0; i < md->count; i++)
    len += strlen(md->entries[i].key) + md->entries[i].value_len + 2;
  char *s = crpc_ctx_alloc(ctx, len), *p = s;
  if (!s)
    return NULL;
  *p = '\0';
  for (size_t i = 0; i < md->count; i++)
    p += sprintf(p, "%s=%s;", md->entries[i].key,
                 (const char *)md->entries[i].value);
  return s;
}

static crpc_status unary(crpc_ctx *ctx, const Note *req, Note *reply) {
  (void)req;
  __atomic_add_fetch(&handler_runs, 1, __ATOMIC_SEQ_CST);
  event("handler");
  reply->text = dump_metadata(ctx);
  reply->count = crpc_in_coroutine();
  return reply->text ? CRPC_STATUS_OK : CRPC_STATUS_RESOURCE_EXHAUSTED;
}

static crpc_status serve(crpc_ctx *ctx, const Note *req,
                         crpc_intercepttest_observe_serve_sender *out) {
  (void)ctx;
  Note n = CRPC__INTERCEPTTEST__NOTE__INIT;
  for (int i = 0; i < req->count; i++) {
    n.count = i;
    n.text = "reply";
    crpc_status st = crpc_intercepttest_observe_serve_send(out, &n);
    if (st != CRPC_STATUS_OK)
      return st;
  }
  return CRPC_STATUS_OK;
}

static crpc_status collect(crpc_ctx *ctx,
                           crpc_intercepttest_observe_collect_receiver *in,
                           Note *reply) {
  (void)ctx;
  Note *m;
  for (;;) {
    crpc_status st = crpc_intercepttest_observe_collect_recv(in, &m);
    if (st != CRPC_STATUS_OK)
      return st;
    if (!m)
      break;
    reply->count++;
  }
  return CRPC_STATUS_OK;
}

static crpc_status chat(crpc_ctx *ctx,
                        crpc_intercepttest_observe_chat_server_stream *s) {
  (void)ctx;
  Note *m;
  for (;;) {
    crpc_status st = crpc_intercepttest_observe_chat_recv(s, &m);
    if (st != CRPC_STATUS_OK || !m)
      return st;
    st = crpc_intercepttest_observe_chat_send(s, m);
    if (st != CRPC_STATUS_OK)
      return st;
  }
}

/* Hop calls Unary on this channel (the test's, to the same server). */
static crpc_channel *hop_channel;

static crpc_status hop(crpc_ctx *ctx, const Note *req, Note *reply) {
  (void)req;
  Note *inner = NULL;
  Note r = CRPC__INTERCEPTTEST__NOTE__INIT;
  crpc_status st =
      crpc_intercepttest_observe_unary(hop_channel, &r, &inner, NULL);
  if (st == CRPC_STATUS_OK) {
    reply->text = crpc_ctx_strdup(ctx, inner->text);
    crpc__intercepttest__note__free_unpacked(inner, NULL);
  }
  return st;
}

static const crpc_intercepttest_observe_handlers handlers = {
    .unary = unary,
    .unary_loop = unary,
    .serve = serve,
    .collect = collect,
    .chat = chat,
    .hop = hop,
};

/* Interceptors. */

/* Each records its hooks under its name (its data). Its state counts the
 * messages it saw and remembers that start ran. */
typedef struct rec_state {
  int started;
  int sent, received;
} rec_state;

static crpc_status rec_start(void *data, crpc_icall *call, void *state) {
  rec_state *s = state;
  s->started = 1;
  event("%s.start", (const char *)data);
  (void)call;
  return CRPC_STATUS_OK;
}

static void rec_message(void *data, crpc_icall *call, void *state, int sent,
                        const ProtobufCMessage *msg, size_t wire) {
  (void)data;
  (void)call;
  rec_state *s = state;
  cr_assert(msg != NULL && wire >= 5);
  if (sent)
    s->sent++;
  else
    s->received++;
}

static crpc_icall_end last_end;
static int last_end_sent, last_end_received;

static void rec_end(void *data, crpc_icall *call, void *state,
                    const crpc_icall_end *e) {
  (void)call;
  rec_state *s = state;
  cr_assert(s->started, "end without start");
  event("%s.end=%s", (const char *)data, crpc_status_name(e->code));
  pthread_mutex_lock(&events_mu);
  last_end = *e;
  last_end.message = NULL;
  last_end_sent = s->sent;
  last_end_received = s->received;
  pthread_mutex_unlock(&events_mu);
}

static crpc_interceptor recorder(const char *name) {
  crpc_interceptor ic = {.data = (void *)name,
                         .state_size = sizeof(rec_state),
                         .start = rec_start,
                         .message = rec_message,
                         .end = rec_end};
  return ic;
}

/* The fixture: a server with |srv_ics| (and the service with |svc_ics|)
 * and a channel to it with |ch_ics|. */
typedef struct fixture {
  crpc_server *srv;
  crpc_channel *ch;
} fixture;

static fixture fixture_new(const crpc_interceptor *srv_ics, size_t n_srv,
                           const crpc_interceptor *svc_ics, size_t n_svc,
                           const crpc_channel_opts *base) {
  fixture f;
  crpc_server_opts so;
  crpc_server_opts_init(&so);
  so.loops = 1;
  so.workers = 2;
  cr_assert_eq(crpc_server_new(&so, &f.srv), 0);
  crpc_service *svc = crpc_intercepttest_observe_service(&handlers, NULL);
  cr_assert(svc != NULL);
  for (size_t i = 0; i < n_svc; i++)
    cr_assert_eq(crpc_service_add_interceptor(svc, &svc_ics[i]), 0);
  cr_assert_eq(crpc_server_add_service(f.srv, svc), 0);
  for (size_t i = 0; i < n_srv; i++)
    cr_assert_eq(crpc_server_add_interceptor(f.srv, &srv_ics[i]), 0);
  cr_assert_eq(crpc_server_listen(f.srv, "127.0.0.1:0", NULL), 0);
  cr_assert_eq(crpc_server_start(f.srv), 0);
  char target[64];
  snprintf(target, sizeof(target), "127.0.0.1:%d", crpc_server_port(f.srv, 0));
  crpc_channel_opts co;
  if (base)
    co = *base;
  else
    crpc_channel_opts_init(&co);
  cr_assert_eq(crpc_channel_new(target, &co, &f.ch), 0);
  crpc_channel_opts plain;
  crpc_channel_opts_init(&plain);
  cr_assert_eq(crpc_channel_new(target, &plain, &hop_channel), 0);
  return f;
}

static void fixture_free(fixture *f) {
  crpc_channel_free(f->ch);
  crpc_channel_free(hop_channel);
  hop_channel = NULL;
  crpc_server_free(f->srv);
}

static crpc_status call_unary(fixture *f, int loop, const crpc_call_opts *o,
                              char *text, size_t len, int *count) {
  Note req = CRPC__INTERCEPTTEST__NOTE__INIT, *rep = NULL;
  crpc_call_opts opts = {.timeout_ms = CALL_MS};
  if (o)
    opts = *o;
  crpc_status st =
      loop ? crpc_intercepttest_observe_unary_loop(f->ch, &req, &rep, &opts)
           : crpc_intercepttest_observe_unary(f->ch, &req, &rep, &opts);
  if (rep) {
    if (text)
      snprintf(text, len, "%s", rep->text);
    if (count)
      *count = rep->count;
    crpc__intercepttest__note__free_unpacked(rep, NULL);
  }
  return st;
}

/* The server's end runs on its loop once the stream has closed, which may
 * be a moment after the client has its reply: waits for |word|. */
static void wait_event(const char *word, char *out, size_t len) {
  for (int i = 0; i < 2000; i++) {
    pthread_mutex_lock(&events_mu);
    int found = strstr(events, word) != NULL;
    pthread_mutex_unlock(&events_mu);
    if (found)
      break;
    crpc_sleep(5);
  }
  events_take(out, len);
}

Test(interceptors, server_then_service_order_and_end_in_reverse) {
  crpc_interceptor srv_ics[] = {recorder("a"), recorder("b")};
  crpc_interceptor svc_ics[] = {recorder("c")};
  fixture f = fixture_new(srv_ics, 2, svc_ics, 1, NULL);
  char got[512];
  for (int loop = 0; loop < 2; loop++) {
    cr_assert_eq(call_unary(&f, loop, NULL, NULL, 0, NULL), CRPC_STATUS_OK);
    wait_event("a.end", got, sizeof(got));
    cr_assert_str_eq(got, "a.start b.start c.start handler c.end=OK b.end=OK "
                          "a.end=OK");
  }
  fixture_free(&f);
}

/* Runs where the handler runs: records whether start is in a coroutine. */
static crpc_status where_start(void *data, crpc_icall *call, void *state) {
  (void)data;
  (void)state;
  char v[2] = {crpc_in_coroutine() ? 'L' : 'W', 0};
  crpc_metadata_add_str(crpc_icall_metadata(call), "x-start-ran-on", v);
  cr_assert_eq(crpc_icall_side(call), CRPC_SIDE_SERVER);
  cr_assert(crpc_icall_ctx(call) != NULL);
  cr_assert_eq(crpc_icall_placement(call), crpc_in_coroutine()
                                               ? CRPC_PLACEMENT_LOOP
                                               : CRPC_PLACEMENT_WORKER);
  crpc_ctx_add_header(crpc_icall_ctx(call), "x-from-interceptor", "yes", 3);
  return CRPC_STATUS_OK;
}

Test(interceptors, start_runs_where_the_handler_runs_and_changes_metadata) {
  crpc_interceptor ic = {.start = where_start};
  fixture f = fixture_new(&ic, 1, NULL, 0, NULL);
  char text[256];
  int in_coro;
  for (int loop = 0; loop < 2; loop++) {
    crpc_metadata headers;
    crpc_metadata_init(&headers);
    crpc_call_opts o = {.timeout_ms = CALL_MS, .headers_out = &headers};
    cr_assert_eq(call_unary(&f, loop, &o, text, sizeof(text), &in_coro),
                 CRPC_STATUS_OK);
    cr_assert_eq(in_coro, loop);
    cr_assert(strstr(text, loop ? "x-start-ran-on=L;" : "x-start-ran-on=W;"),
              "%s", text);
    const crpc_metadata_entry *e =
        crpc_metadata_get(&headers, "x-from-interceptor");
    cr_assert(e && strcmp((const char *)e->value, "yes") == 0);
    crpc_metadata_cleanup(&headers);
  }
  fixture_free(&f);
}

static crpc_status deny_start(void *data, crpc_icall *call, void *state) {
  (void)state;
  event("deny.start");
  if (data)
    return (crpc_status)(intptr_t)data; /* not a status */
  crpc_icall_set_message(call, "no entry");
  return CRPC_STATUS_PERMISSION_DENIED;
}

Test(interceptors, refusal_skips_the_rest_and_the_handler) {
  crpc_interceptor srv_ics[] = {
      recorder("a"), {.start = deny_start, .end = NULL}, recorder("b")};
  fixture f = fixture_new(srv_ics, 3, NULL, 0, NULL);
  crpc_status_info si;
  crpc_status_info_init(&si);
  crpc_call_opts o = {.timeout_ms = CALL_MS, .status_out = &si};
  char got[512];
  for (int loop = 0; loop < 2; loop++) {
    cr_assert_eq(call_unary(&f, loop, &o, NULL, 0, NULL),
                 CRPC_STATUS_PERMISSION_DENIED);
    cr_assert_str_eq(si.message, "no entry");
    wait_event("a.end", got, sizeof(got));
    cr_assert_str_eq(got, "a.start deny.start a.end=PERMISSION_DENIED");
  }
  /* A bidi call is refused the same way. */
  crpc_intercepttest_observe_chat_stream *s;
  cr_assert_eq(crpc_intercepttest_observe_chat(f.ch, &s, &o), CRPC_STATUS_OK);
  cr_assert_eq(crpc_intercepttest_observe_chat_finish(s),
               CRPC_STATUS_PERMISSION_DENIED);
  crpc_intercepttest_observe_chat_free(s);
  cr_assert_eq(handler_runs, 0);
  crpc_status_info_cleanup(&si);
  fixture_free(&f);
}

Test(interceptors, a_start_returning_no_status_ends_unknown) {
  crpc_interceptor ic = {.data = (void *)(intptr_t)-3, .start = deny_start};
  fixture f = fixture_new(&ic, 1, NULL, 0, NULL);
  cr_assert_eq(call_unary(&f, 0, NULL, NULL, 0, NULL), CRPC_STATUS_UNKNOWN);
  cr_assert_eq(handler_runs, 0);
  fixture_free(&f);
}

Test(interceptors, streams_pass_each_message_and_end_counts_them) {
  crpc_interceptor ic = recorder("s");
  fixture f = fixture_new(&ic, 1, NULL, 0, NULL);
  char got[512];
  crpc_call_opts o = {.timeout_ms = CALL_MS};
  Note n = CRPC__INTERCEPTTEST__NOTE__INIT, *m;

  /* Server streaming: 3 replies sent by the handler. */
  n.count = 3;
  crpc_intercepttest_observe_serve_reader *r;
  cr_assert_eq(crpc_intercepttest_observe_serve(f.ch, &n, &r, &o),
               CRPC_STATUS_OK);
  int read = 0;
  while (crpc_intercepttest_observe_serve_read(r, &m) == CRPC_STATUS_OK && m) {
    read++;
    crpc__intercepttest__note__free_unpacked(m, NULL);
  }
  cr_assert_eq(read, 3);
  crpc_intercepttest_observe_serve_free(r);
  wait_event("s.end", got, sizeof(got));
  cr_assert_eq(last_end_sent, 3);
  cr_assert_eq(last_end_received, 0); /* the single request is not passed */
  cr_assert_eq(last_end.messages_sent, 3);
  cr_assert_eq(last_end.messages_received, 1);
  cr_assert_gt(last_end.bytes_sent, 3 * 5);
  cr_assert_gt(last_end.duration_ns, 0);

  /* Client streaming: 4 requests read. */
  crpc_intercepttest_observe_collect_writer *w;
  cr_assert_eq(crpc_intercepttest_observe_collect(f.ch, &w, &o),
               CRPC_STATUS_OK);
  n.text = "x";
  for (int i = 0; i < 4; i++)
    cr_assert_eq(crpc_intercepttest_observe_collect_write(w, &n),
                 CRPC_STATUS_OK);
  cr_assert_eq(crpc_intercepttest_observe_collect_finish(w, &m),
               CRPC_STATUS_OK);
  cr_assert_eq(m->count, 4);
  crpc__intercepttest__note__free_unpacked(m, NULL);
  crpc_intercepttest_observe_collect_free(w);
  wait_event("s.end", got, sizeof(got));
  cr_assert_eq(last_end_received, 4);
  cr_assert_eq(last_end.messages_received, 4);
  cr_assert_eq(last_end.messages_sent, 1);
  cr_assert_geq(last_end.bytes_received, 4 * 8);

  /* Bidi on the loop, ended by the client's cancel. */
  crpc_intercepttest_observe_chat_stream *s;
  cr_assert_eq(crpc_intercepttest_observe_chat(f.ch, &s, &o), CRPC_STATUS_OK);
  cr_assert_eq(crpc_intercepttest_observe_chat_write(s, &n), CRPC_STATUS_OK);
  cr_assert_eq(crpc_intercepttest_observe_chat_read(s, &m), CRPC_STATUS_OK);
  crpc__intercepttest__note__free_unpacked(m, NULL);
  crpc_intercepttest_observe_chat_cancel(s);
  crpc_intercepttest_observe_chat_free(s);
  wait_event("s.end", got, sizeof(got));
  cr_assert_str_eq(got, "s.start s.end=CANCELLED");
  cr_assert_eq(last_end_received, 1);
  cr_assert_eq(last_end_sent, 1);
  fixture_free(&f);
}

/* Channel interceptors. */

static crpc_status client_start(void *data, crpc_icall *call, void *state) {
  (void)data;
  (void)state;
  cr_assert_eq(crpc_icall_side(call), CRPC_SIDE_CLIENT);
  cr_assert(crpc_icall_ctx(call) == NULL);
  cr_assert(strncmp(crpc_icall_peer(call), "127.0.0.1:", 10) == 0);
  crpc_metadata *md = crpc_icall_metadata(call);
  if (crpc_metadata_get(md, "x-refuse"))
    return CRPC_STATUS_FAILED_PRECONDITION;
  crpc_metadata_add_str(md, "x-client-interceptor", "was-here");
  event("client.start");
  return CRPC_STATUS_OK;
}

static void client_end(void *data, crpc_icall *call, void *state,
                       const crpc_icall_end *e) {
  (void)data;
  (void)state;
  const crpc_metadata *h = crpc_icall_response_headers(call);
  event("client.end=%s headers=%s", crpc_status_name(e->code),
        h ? "yes" : "no");
  pthread_mutex_lock(&events_mu);
  last_end = *e;
  last_end.message = NULL;
  pthread_mutex_unlock(&events_mu);
}

Test(interceptors, channel_interceptor_adds_metadata_and_sees_the_end) {
  crpc_interceptor ic = {.start = client_start, .end = client_end};
  crpc_channel_opts co;
  crpc_channel_opts_init(&co);
  co.interceptors = &ic;
  co.n_interceptors = 1;
  fixture f = fixture_new(NULL, 0, NULL, 0, &co);
  char text[256], got[256];
  cr_assert_eq(call_unary(&f, 0, NULL, text, sizeof(text), NULL),
               CRPC_STATUS_OK);
  cr_assert(strstr(text, "x-client-interceptor=was-here;"), "%s", text);
  /* The blocking call returns after end has run. */
  events_take(got, sizeof(got));
  cr_assert_str_eq(got, "client.start handler client.end=OK headers=yes");
  cr_assert_eq(last_end.messages_sent, 1);
  cr_assert_eq(last_end.messages_received, 1);
  cr_assert_gt(last_end.bytes_received, 5);

  /* Refused on the client: nothing is sent, end sees the refusal. */
  crpc_metadata md;
  crpc_metadata_init(&md);
  crpc_metadata_add_str(&md, "x-refuse", "1");
  crpc_call_opts o = {.timeout_ms = CALL_MS, .metadata = &md};
  cr_assert_eq(call_unary(&f, 0, &o, NULL, 0, NULL),
               CRPC_STATUS_FAILED_PRECONDITION);
  events_take(got, sizeof(got));
  cr_assert_str_eq(got, "client.end=FAILED_PRECONDITION headers=no");
  cr_assert_eq(handler_runs, 1);
  crpc_metadata_cleanup(&md);
  fixture_free(&f);
}

/* Credentials. */

static int creds_calls;

static int bearer(void *data, const crpc_method *method, const char *target,
                  crpc_metadata *md) {
  (void)method;
  (void)target;
  __atomic_add_fetch(&creds_calls, 1, __ATOMIC_SEQ_CST);
  if (data)
    return -1;
  return crpc_metadata_add_str(md, "authorization", "Bearer t0ken");
}

Test(interceptors, credentials_refused_over_plaintext_unless_allowed) {
  crpc_channel_opts co;
  crpc_channel_opts_init(&co);
  co.credentials.get = bearer;
  fixture f = fixture_new(NULL, 0, NULL, 0, &co);
  crpc_status_info si;
  crpc_status_info_init(&si);
  crpc_call_opts o = {.timeout_ms = CALL_MS, .status_out = &si};
  cr_assert_eq(call_unary(&f, 0, &o, NULL, 0, NULL),
               CRPC_STATUS_UNAUTHENTICATED);
  cr_assert(strstr(si.message, "without TLS"), "%s", si.message);
  cr_assert_eq(creds_calls, 0);
  cr_assert_eq(handler_runs, 0);
  crpc_status_info_cleanup(&si);
  fixture_free(&f);

  /* Allowed: the token is sent. Per-call credentials come after. */
  co.credentials.allow_insecure = 1;
  f = fixture_new(NULL, 0, NULL, 0, &co);
  char text[256];
  cr_assert_eq(call_unary(&f, 0, NULL, text, sizeof(text), NULL),
               CRPC_STATUS_OK);
  cr_assert(strstr(text, "authorization=Bearer t0ken;"), "%s", text);
  crpc_call_credentials failing = {
      .get = bearer, .data = (void *)1, .allow_insecure = 1};
  crpc_call_opts fo = {.timeout_ms = CALL_MS, .credentials = &failing};
  cr_assert_eq(call_unary(&f, 0, &fo, NULL, 0, NULL),
               CRPC_STATUS_UNAUTHENTICATED);
  cr_assert_eq(handler_runs, 1);
  fixture_free(&f);
}

/* Trace context: records each side's span of each call. */
typedef struct span {
  char side;
  char method[16];
  crpc_trace_context tc;
} span;

static span spans[8];
static int n_spans;

static crpc_status span_start(void *data, crpc_icall *call, void *state) {
  (void)data;
  (void)state;
  pthread_mutex_lock(&events_mu);
  span *s = &spans[n_spans++];
  s->side = crpc_icall_side(call) == CRPC_SIDE_SERVER ? 'S' : 'C';
  snprintf(s->method, sizeof(s->method), "%s", crpc_icall_method(call)->name);
  s->tc = *crpc_icall_trace(call);
  pthread_mutex_unlock(&events_mu);
  return CRPC_STATUS_OK;
}

static const span *find_span(char side, const char *method) {
  for (int i = 0; i < n_spans; i++)
    if (spans[i].side == side && strcmp(spans[i].method, method) == 0)
      return &spans[i];
  return NULL;
}

Test(interceptors, trace_context_follows_the_nested_call) {
  crpc_interceptor ic = {.start = span_start};
  fixture f = fixture_new(&ic, 1, NULL, 0, NULL);
  /* The nested call's channel sees its client span too. */
  crpc_channel_free(hop_channel);
  crpc_channel_opts co;
  crpc_channel_opts_init(&co);
  co.interceptors = &ic;
  co.n_interceptors = 1;
  char target[64];
  snprintf(target, sizeof(target), "127.0.0.1:%d", crpc_server_port(f.srv, 0));
  cr_assert_eq(crpc_channel_new(target, &co, &hop_channel), 0);

  const char *tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  crpc_metadata md;
  crpc_metadata_init(&md);
  crpc_metadata_add_str(&md, "traceparent", tp);
  crpc_metadata_add_str(&md, "tracestate", "vendor=1");
  crpc_call_opts o = {.timeout_ms = CALL_MS, .metadata = &md};
  Note req = CRPC__INTERCEPTTEST__NOTE__INIT, *rep = NULL;
  cr_assert_eq(crpc_intercepttest_observe_hop(f.ch, &req, &rep, &o),
               CRPC_STATUS_OK);
  crpc_metadata_cleanup(&md);

  const span *hop_srv = find_span('S', "Hop");
  const span *inner_cli = find_span('C', "Unary");
  const span *inner_srv = find_span('S', "Unary");
  cr_assert(hop_srv && inner_cli && inner_srv);
  char a[33], b[CRPC_TRACEPARENT_LEN + 1];
  crpc_trace_hex(hop_srv->tc.trace_id, 16, a);
  cr_assert_str_eq(a, "0af7651916cd43dd8448eb211c80319c");
  crpc_trace_hex(hop_srv->tc.parent_span_id, 8, a);
  cr_assert_str_eq(a, "b7ad6b7169203331");
  /* hop's server span -> the nested call's client span -> its server
   * span, all in one trace. */
  cr_assert(memcmp(inner_cli->tc.parent_span_id, hop_srv->tc.span_id, 8) == 0);
  cr_assert(memcmp(inner_srv->tc.parent_span_id, inner_cli->tc.span_id, 8) ==
            0);
  cr_assert(memcmp(inner_srv->tc.trace_id, hop_srv->tc.trace_id, 16) == 0);
  cr_assert(memcmp(inner_cli->tc.span_id, hop_srv->tc.span_id, 8) != 0);
  cr_assert_str_eq(inner_srv->tc.tracestate, "vendor=1");
  cr_assert_eq(inner_srv->tc.flags, 1);
  /* What the second hop received, as traceparent. */
  crpc_trace_format(&inner_cli->tc, b);
  cr_assert(strstr(rep->text, b), "%s lacks %s", rep->text, b);
  crpc__intercepttest__note__free_unpacked(rep, NULL);

  /* Without a traceparent, no trace is made up. */
  n_spans = 0;
  cr_assert_eq(crpc_intercepttest_observe_hop(f.ch, &req, &rep, NULL),
               CRPC_STATUS_OK);
  cr_assert(strstr(rep->text, "traceparent") == NULL, "%s", rep->text);
  cr_assert(!find_span('S', "Unary")->tc.valid);
  crpc__intercepttest__note__free_unpacked(rep, NULL);
  fixture_free(&f);
}

Test(trace, parse_and_format) {
  crpc_trace_context tc;
  const char *tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  cr_assert_eq(crpc_trace_parse(tp, strlen(tp), &tc), 0);
  cr_assert(tc.valid);
  crpc_trace_new_span(&tc, 0);
  char out[CRPC_TRACEPARENT_LEN + 1], hex[17];
  crpc_trace_format(&tc, out);
  cr_assert_eq(strncmp(out, tp, 36), 0);
  cr_assert_str_eq(out + 52, "-01");
  crpc_trace_hex(tc.parent_span_id, 8, hex);
  cr_assert_str_eq(hex, "b7ad6b7169203331");
  const char *bad[] = {
      "00-00000000000000000000000000000000-b7ad6b7169203331-01",
      "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
      "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333",
      "0x-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    cr_assert_eq(crpc_trace_parse(bad[i], strlen(bad[i]), &tc), CRPC_EINVAL,
                 "%s", bad[i]);
  /* A later version may carry more fields. */
  const char *v1 = "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-ab";
  cr_assert_eq(crpc_trace_parse(v1, strlen(v1), &tc), 0);
  /* A new trace: random ids, no parent. */
  crpc_trace_context root = {0};
  crpc_trace_new_span(&root, 1);
  cr_assert(root.valid && root.flags == 1);
  crpc_trace_hex(root.parent_span_id, 8, hex);
  cr_assert_str_eq(hex, "0000000000000000");
}
