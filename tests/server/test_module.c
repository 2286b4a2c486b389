/*
 * tests/server/test_module.c: the module crpc-server loads in the server
 * integration tests. It serves crpc.servertest.WorkerTest (handlers on
 * the worker pool) and crpc.servertest.LoopTest (the same handlers as
 * coroutines on the loop) from proto/server_test.proto, as README.md
 * describes.
 *
 * One set of handler functions serves both services. The two generated
 * handler tables differ only in the types of their stream handles, so the
 * streaming handlers take a small reader/writer pair that each service's
 * adapters (STREAM_ADAPTERS below) fill with its typed generated wrappers.
 *
 * Sleeping (Req.sleep_ms) waits on the call's cancellation future with a
 * timeout rather than crpc_sleep(): a call cancelled by its client, its
 * deadline or the server's drain stops waiting at once and gives its worker
 * or loop back.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crpc/coro.h"
#include "crpc/ctx.h"
#include "crpc/future.h"
#include "crpc/interceptor.h"
#include "crpc/metadata.h"
#include "crpc/peer_auth.h"
#include "crpc/server.h"
#include "server_test.crpc.h"

typedef Crpc__Servertest__Req req_t;
typedef Crpc__Servertest__Rep rep_t;

/* What Stats reports: wait_cancel calls by tag, how many are waiting and
 * how those that ended saw their end. */
#define STATS_MAX_TAGS 1024

typedef struct tag_count {
  char *tag;
  int cancelled;
  int deadline;
  int waiting;
} tag_count;

typedef struct stats_table {
  pthread_mutex_t mu;
  tag_count tags[STATS_MAX_TAGS];
  size_t n;
} stats_table;

/* The services' user data (crpc_ctx_user_data()). */
static stats_table stats = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* The count for |tag|, added when new; NULL when the table is full. Called
 * with |t->mu| held. */
static tag_count *tag_find(stats_table *t, const char *tag) {
  for (size_t i = 0; i < t->n; i++)
    if (strcmp(t->tags[i].tag, tag) == 0)
      return &t->tags[i];
  if (t->n == STATS_MAX_TAGS)
    return NULL;
  char *copy = strdup(tag);
  if (copy == NULL)
    return NULL;
  t->tags[t->n] = (tag_count){.tag = copy};
  return &t->tags[t->n++];
}

static void stats_begin(stats_table *t, const char *tag) {
  pthread_mutex_lock(&t->mu);
  tag_count *c = tag_find(t, tag);
  if (c != NULL)
    c->waiting++;
  pthread_mutex_unlock(&t->mu);
}

static void stats_record(stats_table *t, const char *tag, crpc_status how) {
  pthread_mutex_lock(&t->mu);
  tag_count *c = tag_find(t, tag);
  if (c != NULL)
    c->waiting--;
  if (c != NULL && how == CRPC_STATUS_CANCELLED)
    c->cancelled++;
  else if (c != NULL && how == CRPC_STATUS_DEADLINE_EXCEEDED)
    c->deadline++;
  pthread_mutex_unlock(&t->mu);
}

static const char *placement(void) {
  return crpc_in_coroutine() ? "loop" : "worker";
}

static const char *str_or_empty(const char *s) {
  return s != NULL ? s : "";
}

/* Request metadata and compression. */

static int has_prefix(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* "x-echo-a" -> "x-echo-a-trailer", "x-echo-a-bin" ->
 * "x-echo-a-trailer-bin", in the call's arena; NULL when out of memory. */
static char *trailer_key(crpc_ctx *ctx, const char *key) {
  size_t len = strlen(key);
  int bin = crpc_metadata_is_binary_key(key, len);
  size_t base = bin ? len - strlen("-bin") : len;
  char *out = crpc_ctx_alloc(ctx, len + strlen("-trailer") + 1);
  if (out == NULL)
    return NULL;
  memcpy(out, key, base);
  strcpy(out + base, bin ? "-trailer-bin" : "-trailer");
  return out;
}

/* Every x-echo-* request header back as a header and as a trailer, and
 * the traceparent and tracestate the call came with as x-seen-traceparent
 * and x-seen-tracestate. */
static crpc_status echo_metadata(crpc_ctx *ctx) {
  const crpc_metadata *md = crpc_ctx_request_metadata(ctx);
  size_t n = md != NULL ? crpc_metadata_count(md) : 0;
  const crpc_metadata_entry *tp =
      md != NULL ? crpc_metadata_get(md, "traceparent") : NULL;

  const crpc_metadata_entry *ts =
      md != NULL ? crpc_metadata_get(md, "tracestate") : NULL;

  if (tp != NULL && crpc_ctx_add_header(ctx, "x-seen-traceparent", tp->value,
                                        tp->value_len) != 0)
    return CRPC_STATUS_INTERNAL;
  if (ts != NULL && crpc_ctx_add_header(ctx, "x-seen-tracestate", ts->value,
                                        ts->value_len) != 0)
    return CRPC_STATUS_INTERNAL;
  for (size_t i = 0; i < n; i++) {
    const crpc_metadata_entry *e = crpc_metadata_at(md, i);
    if (!has_prefix(e->key, "x-echo-"))
      continue;
    char *tkey = trailer_key(ctx, e->key);
    if (tkey == NULL)
      return CRPC_STATUS_RESOURCE_EXHAUSTED;
    if (crpc_ctx_add_header(ctx, e->key, e->value, e->value_len) != 0 ||
        crpc_ctx_add_trailer(ctx, tkey, e->value, e->value_len) != 0)
      return CRPC_STATUS_INTERNAL;
  }
  return CRPC_STATUS_OK;
}

/* What every call does first: metadata echo, and the compression asked
 * for with x-want-compression. */
static crpc_status begin(crpc_ctx *ctx) {
  const crpc_metadata *md = crpc_ctx_request_metadata(ctx);
  const crpc_metadata_entry *want =
      md != NULL ? crpc_metadata_get(md, "x-want-compression") : NULL;

  if (want != NULL &&
      crpc_ctx_set_compression(ctx, (const char *)want->value) != 0) {
    crpc_ctx_set_message(ctx, "x-want-compression: unsupported encoding");
    return CRPC_STATUS_INVALID_ARGUMENT;
  }
  return echo_metadata(ctx);
}

/* x-want-peer-auth: 1 asks for what crpc_ctx_peer_auth() says, as
 * response headers: x-peer-tls ("0" or "1"), x-peer-verified, and, when
 * set, x-peer-tls-version, x-peer-alpn, x-peer-subject,
 * x-peer-common-name and one x-peer-san per subjectAltName. */
static crpc_status peer_auth_headers(crpc_ctx *ctx) {
  const crpc_metadata *md = crpc_ctx_request_metadata(ctx);
  const crpc_metadata_entry *want =
      md != NULL ? crpc_metadata_get(md, "x-want-peer-auth") : NULL;
  const crpc_peer_auth *a = crpc_ctx_peer_auth(ctx);
  struct {
    const char *key, *value;
  } h[] = {{"x-peer-tls", a->tls ? "1" : "0"},
           {"x-peer-verified", a->verified ? "1" : "0"},
           {"x-peer-tls-version", a->tls_version},
           {"x-peer-alpn", a->alpn},
           {"x-peer-subject", a->subject},
           {"x-peer-common-name", a->common_name}};
  int rc = 0;

  if (want == NULL || strcmp((const char *)want->value, "1") != 0)
    return CRPC_STATUS_OK;
  for (size_t i = 0; rc == 0 && i < sizeof(h) / sizeof(h[0]); i++) {
    if (h[i].value != NULL)
      rc = crpc_ctx_add_header(ctx, h[i].key, h[i].value, strlen(h[i].value));
  }
  for (size_t i = 0; rc == 0 && i < a->n_sans; i++)
    rc = crpc_ctx_add_header(ctx, "x-peer-san", a->sans[i], strlen(a->sans[i]));
  return rc == 0 ? CRPC_STATUS_OK : CRPC_STATUS_INTERNAL;
}

/* Waiting. */

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The call's cancellation status, or OK while it is not cancelled. */
static crpc_status cancelled_status(crpc_ctx *ctx) {
  crpc_future *c = crpc_ctx_cancelled(ctx);
  if (crpc_future_is_done(c))
    return crpc_future_status(c);
  return crpc_ctx_is_cancelled(ctx) ? CRPC_STATUS_CANCELLED : CRPC_STATUS_OK;
}

/* Burns CPU for |ms| without yielding, stopping early on cancellation. */
static void spin(crpc_ctx *ctx, int ms) {
  volatile uint64_t sink = 0;
  uint64_t end = now_ms() + (uint64_t)ms;

  while (now_ms() < end && !crpc_ctx_is_cancelled(ctx))
    for (int i = 0; i < 10000; i++)
      sink += (uint64_t)i;
}

/* Req.sleep_ms: sleeps (or spins) that long. Returns OK, or the call's
 * cancellation status when it was cancelled meanwhile. */
static crpc_status pause_for(crpc_ctx *ctx, const req_t *req) {
  if (req->sleep_ms <= 0)
    return CRPC_STATUS_OK;
  if (req->spin)
    spin(ctx, req->sleep_ms);
  else /* 0 once cancelled, CRPC_ETIMEDOUT after the whole time */
    crpc_future_wait_for(crpc_ctx_cancelled(ctx), req->sleep_ms);
  return cancelled_status(ctx);
}

/* Req.wait_cancel: waits for the cancellation, records it under the tag
 * Req.name, and ends the call with it. */
static crpc_status wait_cancel(crpc_ctx *ctx, const req_t *req) {
  crpc_future *c = crpc_ctx_cancelled(ctx);

  stats_begin(crpc_ctx_user_data(ctx), str_or_empty(req->name));
  if (crpc_await(c) != 0) {
    stats_record(crpc_ctx_user_data(ctx), str_or_empty(req->name),
                 CRPC_STATUS_INTERNAL);
    return CRPC_STATUS_INTERNAL;
  }
  crpc_status how = crpc_future_status(c);
  stats_record(crpc_ctx_user_data(ctx), str_or_empty(req->name), how);
  return how;
}

/* Req.status: fails with it, its message and a trailer. */
static crpc_status fail(crpc_ctx *ctx, const req_t *req) {
  if (req->message != NULL && req->message[0] != '\0')
    crpc_ctx_set_message(ctx, req->message);
  crpc_ctx_add_trailer(ctx, "x-status-trailer", "yes", 3);
  if (req->status < 1 || req->status > 16)
    return CRPC_STATUS_UNKNOWN;
  return (crpc_status)req->status;
}

/* Replies. */

/* Memory for a streamed reply's fields, reused from message to message: a
 * stream write serializes the message before it returns. */
typedef struct scratch {
  void *text;
  size_t text_cap;
  void *bytes;
  size_t bytes_cap;
} scratch;

static void *grow(void **p, size_t *cap, size_t n) {
  if (n > *cap) {
    void *q = realloc(*p, n);
    if (q == NULL)
      return NULL;
    *p = q;
    *cap = n;
  }
  return *p;
}

static void scratch_free(scratch *sc) {
  free(sc->text);
  free(sc->bytes);
}

/*
 * Fills |rep| for |req|: text "hello <name>", payload the request's,
 * reply_bytes bytes of 'x', or reply_sizes[count % n] bytes of value
 * count % 251, the placement, and |count|. Memory comes from
 * the call's arena when |sc| is NULL (a reply the server packs after the
 * handler returns), else from |sc|, so that a long stream does not grow the
 * arena message by message. The payload may point into |req|.
 */
static crpc_status fill_rep(crpc_ctx *ctx, const req_t *req, int32_t count,
                            rep_t *rep, scratch *sc) {
  const char *name = str_or_empty(req->name);
  size_t tlen = strlen("hello ") + strlen(name) + 1;
  size_t nx = req->reply_bytes > 0 ? (size_t)req->reply_bytes : 0;
  int fill = 'x';
  if (req->n_reply_sizes > 0) {
    int32_t size = req->reply_sizes[(size_t)count % req->n_reply_sizes];
    nx = size > 0 ? (size_t)size : 0;
    fill = count % 251;
  }
  char *text =
      sc ? grow(&sc->text, &sc->text_cap, tlen) : crpc_ctx_alloc(ctx, tlen);
  /* A streamed message is serialized at once: a static string will do. */
  char *where = sc ? (char *)placement() : crpc_ctx_strdup(ctx, placement());

  if (text == NULL || where == NULL)
    return CRPC_STATUS_RESOURCE_EXHAUSTED;
  strcpy(text, "hello ");
  strcat(text, name);
  rep->text = text;
  rep->placement = where;
  rep->count = count;
  rep->payload = req->payload;
  if (nx > 0) {
    uint8_t *x =
        sc ? grow(&sc->bytes, &sc->bytes_cap, nx) : crpc_ctx_alloc(ctx, nx);
    if (x == NULL)
      return CRPC_STATUS_RESOURCE_EXHAUSTED;
    memset(x, fill, nx);
    rep->payload.data = x;
    rep->payload.len = nx;
  } else if (req->n_reply_sizes > 0) {
    rep->payload.len = 0;
  }
  return CRPC_STATUS_OK;
}

/* The handlers, shared by both services. */

/* A service's typed stream wrappers behind one shape. */
typedef struct rep_writer {
  crpc_status (*send)(void *stream, const rep_t *msg);
  void *stream;
} rep_writer;

typedef struct req_reader {
  crpc_status (*recv)(void *stream, req_t **msg);
  void *stream;
} req_reader;

static crpc_status unary(crpc_ctx *ctx, const req_t *req, rep_t *rep) {
  crpc_status st = begin(ctx);

  if (st == CRPC_STATUS_OK)
    st = peer_auth_headers(ctx);

  if (st == CRPC_STATUS_OK)
    st = pause_for(ctx, req);
  if (st == CRPC_STATUS_OK && req->wait_cancel)
    return wait_cancel(ctx, req);
  if (st == CRPC_STATUS_OK && req->status != 0)
    return fail(ctx, req);
  if (st == CRPC_STATUS_OK)
    st = fill_rep(ctx, req, 0, rep, NULL);
  return st;
}

static crpc_status stats_handler(crpc_ctx *ctx,
                                 const Crpc__Servertest__StatsReq *req,
                                 Crpc__Servertest__StatsRep *rep) {
  stats_table *t = crpc_ctx_user_data(ctx);
  const char *tag = str_or_empty(req->tag);

  pthread_mutex_lock(&t->mu);
  for (size_t i = 0; i < t->n; i++) {
    if (strcmp(t->tags[i].tag, tag) == 0) {
      rep->cancelled = t->tags[i].cancelled;
      rep->deadline = t->tags[i].deadline;
      rep->waiting = t->tags[i].waiting;
      break;
    }
  }
  pthread_mutex_unlock(&t->mu);
  return CRPC_STATUS_OK;
}

static crpc_status server_stream(crpc_ctx *ctx, const req_t *req,
                                 const rep_writer *out) {
  scratch sc = {0};
  crpc_status st = begin(ctx);

  for (int32_t i = 0; st == CRPC_STATUS_OK && i < req->count; i++) {
    rep_t rep = CRPC__SERVERTEST__REP__INIT;
    if (i > 0)
      st = pause_for(ctx, req);
    if (st == CRPC_STATUS_OK)
      st = fill_rep(ctx, req, i, &rep, &sc);
    if (st == CRPC_STATUS_OK)
      st = out->send(out->stream, &rep);
  }
  scratch_free(&sc);
  if (st == CRPC_STATUS_OK && req->status != 0)
    return fail(ctx, req);
  return st;
}

/* A growing byte string, for what a client stream accumulates. */
typedef struct bytes {
  uint8_t *p;
  size_t len, cap;
} bytes;

/* Bounds what one client stream may accumulate. */
#define MAX_GATHERED ((size_t)64 << 20)

static int bytes_append(bytes *b, const void *p, size_t n) {
  if (n > MAX_GATHERED - b->len)
    return -1;
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + n)
      cap *= 2;
    void *q = realloc(b->p, cap);
    if (q == NULL)
      return -1;
    b->p = q;
    b->cap = cap;
  }
  if (n > 0)
    memcpy(b->p + b->len, p, n);
  b->len += n;
  return 0;
}

/* A copy of |b| in the call's arena (NUL-terminated), or NULL. */
static uint8_t *bytes_to_arena(crpc_ctx *ctx, const bytes *b) {
  uint8_t *p = crpc_ctx_alloc(ctx, b->len + 1);
  if (p != NULL) {
    if (b->len > 0)
      memcpy(p, b->p, b->len);
    p[b->len] = 0;
  }
  return p;
}

/* Reads every request; messages read are valid only until the next read,
 * so names and payloads are gathered in copies. */
static crpc_status gather(crpc_ctx *ctx, const req_reader *in, bytes *names,
                          bytes *payload, int32_t *count) {
  for (;;) {
    req_t *m = NULL;
    crpc_status st = in->recv(in->stream, &m);
    if (st != CRPC_STATUS_OK || m == NULL)
      return st;
    if (m->status != 0)
      return fail(ctx, m);
    if ((st = pause_for(ctx, m)) != CRPC_STATUS_OK)
      return st;
    const char *name = str_or_empty(m->name);
    if ((*count > 0 && bytes_append(names, ",", 1) != 0) ||
        bytes_append(names, name, strlen(name)) != 0 ||
        bytes_append(payload, m->payload.data, m->payload.len) != 0)
      return CRPC_STATUS_RESOURCE_EXHAUSTED;
    (*count)++;
  }
}

static crpc_status client_stream(crpc_ctx *ctx, const req_reader *in,
                                 rep_t *rep) {
  bytes names = {0}, payload = {0};
  int32_t count = 0;
  crpc_status st = begin(ctx);

  if (st == CRPC_STATUS_OK)
    st = gather(ctx, in, &names, &payload, &count);
  if (st == CRPC_STATUS_OK) {
    uint8_t *text = bytes_to_arena(ctx, &names);
    uint8_t *data = bytes_to_arena(ctx, &payload);
    char *where = crpc_ctx_strdup(ctx, placement());
    if (text == NULL || data == NULL || where == NULL) {
      st = CRPC_STATUS_RESOURCE_EXHAUSTED;
    } else {
      rep->text = (char *)text;
      rep->payload.data = data;
      rep->payload.len = payload.len;
      rep->count = count;
      rep->placement = where;
    }
  }
  free(names.p);
  free(payload.p);
  return st;
}

/* Answers one Bidi request, the |index|-th, with max(count, 1) replies. */
static crpc_status bidi_answer(crpc_ctx *ctx, const req_t *m, int32_t index,
                               const rep_writer *out, scratch *sc) {
  int32_t n = m->count > 1 ? m->count : 1;
  crpc_status st = CRPC_STATUS_OK;

  for (int32_t k = 0; st == CRPC_STATUS_OK && k < n; k++) {
    rep_t rep = CRPC__SERVERTEST__REP__INIT;
    st = fill_rep(ctx, m, index, &rep, sc);
    if (st == CRPC_STATUS_OK)
      st = out->send(out->stream, &rep);
  }
  return st;
}

static crpc_status bidi(crpc_ctx *ctx, const req_reader *in,
                        const rep_writer *out) {
  scratch sc = {0};
  crpc_status st = begin(ctx);

  for (int32_t index = 0; st == CRPC_STATUS_OK; index++) {
    req_t *m = NULL;
    st = in->recv(in->stream, &m);
    if (st != CRPC_STATUS_OK || m == NULL)
      break;
    if (m->status != 0) {
      st = fail(ctx, m);
      break;
    }
    st = pause_for(ctx, m);
    if (st == CRPC_STATUS_OK)
      st = bidi_answer(ctx, m, index, out, &sc);
  }
  scratch_free(&sc);
  return st;
}

/*
 * Each service's streaming handlers: typed wrappers around its generated
 * send/recv functions, handed to the shared handlers above. |P| is the
 * service's generated prefix.
 */
#define STREAM_ADAPTERS(P)                                                     \
  static crpc_status P##_ss_send(void *s, const rep_t *msg) {                  \
    return P##_server_stream_send(s, msg);                                     \
  }                                                                            \
  static crpc_status P##_cs_recv(void *s, req_t **msg) {                       \
    return P##_client_stream_recv(s, msg);                                     \
  }                                                                            \
  static crpc_status P##_bidi_send_msg(void *s, const rep_t *msg) {            \
    return P##_bidi_send(s, msg);                                              \
  }                                                                            \
  static crpc_status P##_bidi_recv_msg(void *s, req_t **msg) {                 \
    return P##_bidi_recv(s, msg);                                              \
  }                                                                            \
  static crpc_status P##_server_stream_h(crpc_ctx *ctx, const req_t *req,      \
                                         P##_server_stream_sender *out) {      \
    const rep_writer w = {P##_ss_send, out};                                   \
    return server_stream(ctx, req, &w);                                        \
  }                                                                            \
  static crpc_status P##_client_stream_h(                                      \
      crpc_ctx *ctx, P##_client_stream_receiver *in, rep_t *rep) {             \
    const req_reader r = {P##_cs_recv, in};                                    \
    return client_stream(ctx, &r, rep);                                        \
  }                                                                            \
  static crpc_status P##_bidi_h(crpc_ctx *ctx, P##_bidi_server_stream *s) {    \
    const req_reader r = {P##_bidi_recv_msg, s};                               \
    const rep_writer w = {P##_bidi_send_msg, s};                               \
    return bidi(ctx, &r, &w);                                                  \
  }

STREAM_ADAPTERS(crpc_servertest_worker_test)
STREAM_ADAPTERS(crpc_servertest_loop_test)

static const crpc_servertest_worker_test_handlers worker_handlers = {
    .unary = unary,
    .server_stream = crpc_servertest_worker_test_server_stream_h,
    .client_stream = crpc_servertest_worker_test_client_stream_h,
    .bidi = crpc_servertest_worker_test_bidi_h,
    .stats = stats_handler,
};

static const crpc_servertest_loop_test_handlers loop_handlers = {
    .unary = unary,
    .server_stream = crpc_servertest_loop_test_server_stream_h,
    .client_stream = crpc_servertest_loop_test_client_stream_h,
    .bidi = crpc_servertest_loop_test_bidi_h,
};

/* The interceptor of --module-arg interceptor=1: it refuses a call with
 * x-deny (PERMISSION_DENIED, with the header's value in the message), and
 * adds x-echo-intercepted to the request metadata, saying where it ran
 * ("loop" or "worker"), which the handlers echo back. */
static crpc_status intercept_start(void *data, crpc_icall *call, void *state) {
  crpc_metadata *md = crpc_icall_metadata(call);
  const crpc_metadata_entry *deny = crpc_metadata_get(md, "x-deny");
  char msg[160];

  (void)data;
  (void)state;
  if (deny != NULL) {
    snprintf(msg, sizeof(msg), "denied by the test interceptor: %s",
             (const char *)deny->value);
    crpc_icall_set_message(call, msg);
    return CRPC_STATUS_PERMISSION_DENIED;
  }
  if (crpc_metadata_add_str(md, "x-echo-intercepted",
                            crpc_in_coroutine() ? "loop" : "worker") != 0)
    return CRPC_STATUS_RESOURCE_EXHAUSTED;
  return CRPC_STATUS_OK;
}

static const crpc_interceptor test_interceptor = {.start = intercept_start};

static int init(crpc_module *m) {
  const char *ic = crpc_module_arg(m, "interceptor");
  if (ic != NULL && strcmp(ic, "1") == 0 &&
      crpc_module_add_interceptor(m, &test_interceptor) != 0)
    return -1;
  int rc = crpc_module_add_service(
      m, crpc_servertest_worker_test_service(&worker_handlers, &stats));
  if (rc != 0)
    return rc;
  return crpc_module_add_service(
      m, crpc_servertest_loop_test_service(&loop_handlers, &stats));
}

CRPC_MODULE(init)
