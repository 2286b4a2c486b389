/*
 * tests/client/compose_module.c: a crpc-server module whose handlers are
 * clients. It serves crpc.composetest.Compose (proto/compose.proto), whose
 * handlers call crpc.servertest.LoopTest or WorkerTest
 * (tests/server/proto/server_test.proto) on another server, or on their
 * own, through crpc's generated stubs: blocking stubs from a coroutine
 * (FanOut, NestedCo) suspend it, from a worker (Nested) they block that
 * worker only. README.md describes each method.
 *
 * Channels are made on first use of a target and kept for the life of the
 * process, one per target, so that the calls of every handler share its
 * connections; they are freed when the module is unmapped at exit (a
 * module is never unloaded earlier; see server/module.h).
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compose.crpc.h"
#include "crpc/call.h"
#include "crpc/channel.h"
#include "crpc/coro.h"
#include "crpc/ctx.h"
#include "crpc/deadline.h"
#include "crpc/error.h"
#include "crpc/future.h"
#include "crpc/server.h"
#include "server_test.crpc.h"

typedef Crpc__Servertest__Req req_t;
typedef Crpc__Servertest__Rep rep_t;

#define MAX_CHANNELS 16
#define MAX_OUTCOMES 256
#define MAX_FAN_OUT 1000

/* The module's state: channels by target, and how nested calls ended. */

typedef struct cached_channel {
  char *target;
  crpc_channel *ch;
} cached_channel;

typedef struct outcome {
  char *tag;
  crpc_status code;
  char *message;
  int64_t elapsed_ms;
} outcome;

typedef struct compose_state {
  pthread_mutex_t mu; /* guards everything below */
  cached_channel channels[MAX_CHANNELS];
  size_t n_channels;
  outcome outcomes[MAX_OUTCOMES];
  size_t n_outcomes;
} compose_state;

static compose_state state = {.mu = PTHREAD_MUTEX_INITIALIZER};

/*
 * The channel to |target|, made on first use; borrowed, it lives until the
 * module is unmapped. NULL when it cannot be made (|why| says why) or when
 * MAX_CHANNELS targets are in use.
 */
static crpc_channel *channel_for(const char *target, const char **why) {
  crpc_channel *ch = NULL;

  pthread_mutex_lock(&state.mu);
  for (size_t i = 0; i < state.n_channels && ch == NULL; i++)
    if (strcmp(state.channels[i].target, target) == 0)
      ch = state.channels[i].ch;
  if (ch == NULL && state.n_channels == MAX_CHANNELS) {
    *why = "too many targets";
  } else if (ch == NULL) {
    crpc_channel_opts opts;
    crpc_channel_opts_init(&opts);
    opts.backoff_initial_ms = 100;
    opts.backoff_max_ms = 1000;
    char *copy = strdup(target);
    int rc = copy != NULL ? crpc_channel_new(target, &opts, &ch) : CRPC_ENOMEM;
    if (rc == 0) {
      state.channels[state.n_channels++] = (cached_channel){copy, ch};
    } else {
      free(copy);
      ch = NULL;
      *why = crpc_strerror(rc);
    }
  }
  pthread_mutex_unlock(&state.mu);
  return ch;
}

/* Runs when the process exits: crpc-server has freed its server (and so
 * every handler has returned) by then. */
__attribute__((destructor)) static void free_channels(void) {
  for (size_t i = 0; i < state.n_channels; i++) {
    crpc_channel_free(state.channels[i].ch);
    free(state.channels[i].target);
  }
  state.n_channels = 0;
  for (size_t i = 0; i < state.n_outcomes; i++) {
    free(state.outcomes[i].tag);
    free(state.outcomes[i].message);
  }
  state.n_outcomes = 0;
}

/* Records how the nested call tagged |tag| ended (the last one wins). */
static void outcome_record(const char *tag, crpc_status code,
                           const char *message, int64_t elapsed_ms) {
  pthread_mutex_lock(&state.mu);
  outcome *o = NULL;
  for (size_t i = 0; i < state.n_outcomes && o == NULL; i++)
    if (strcmp(state.outcomes[i].tag, tag) == 0)
      o = &state.outcomes[i];
  if (o == NULL && state.n_outcomes < MAX_OUTCOMES) {
    char *copy = strdup(tag);
    if (copy != NULL) {
      o = &state.outcomes[state.n_outcomes++];
      *o = (outcome){.tag = copy};
    }
  }
  if (o != NULL) {
    free(o->message);
    o->message = strdup(message != NULL ? message : "");
    o->code = code;
    o->elapsed_ms = elapsed_ms;
  }
  pthread_mutex_unlock(&state.mu);
}

static int64_t now_ms(void) {
  return crpc_now_ns() / 1000000;
}

static const char *str_or_empty(const char *s) {
  return s != NULL ? s : "";
}

/* Fails the handler's call with |code| and a formatted message. */
static crpc_status fail_with(crpc_ctx *ctx, crpc_status code, const char *what,
                             const char *why) {
  char msg[256];
  snprintf(msg, sizeof(msg), "%s: %s", what, why);
  crpc_ctx_set_message(ctx, msg);
  return code;
}

/* FanOut. */

/* Whether |rep| is the reply to "fan-<i>". */
static int fan_reply_ok(const rep_t *rep, int i) {
  char want[32];
  snprintf(want, sizeof(want), "hello fan-%d", i);
  return rep != NULL && rep->text != NULL && strcmp(rep->text, want) == 0;
}

/* Counts one call's outcome into |out|, keeping the first error. */
static void fan_count(crpc_ctx *ctx, Crpc__Composetest__FanRep *out,
                      crpc_status st, const char *message, const rep_t *rep,
                      int i) {
  if (st == CRPC_STATUS_OK && fan_reply_ok(rep, i)) {
    out->ok++;
    return;
  }
  out->failed++;
  if (out->first_error == NULL || out->first_error[0] == '\0') {
    char buf[256];
    snprintf(buf, sizeof(buf), "call %d: %s: %s", i,
             st == CRPC_STATUS_OK ? "wrong reply" : crpc_status_name((int)st),
             str_or_empty(message));
    out->first_error = crpc_ctx_strdup(ctx, buf);
  }
}

/* One blocking stub call after another: each suspends the coroutine. */
static void fan_sequential(crpc_ctx *ctx, crpc_channel *ch,
                           const Crpc__Composetest__FanReq *in,
                           Crpc__Composetest__FanRep *out) {
  for (int i = 0; i < in->n; i++) {
    char name[32];
    req_t req = CRPC__SERVERTEST__REQ__INIT;
    rep_t *rep = NULL;
    crpc_status_info si;
    crpc_call_opts opts = {.status_out = &si};
    crpc_status st;

    snprintf(name, sizeof(name), "fan-%d", i);
    req.name = name;
    req.sleep_ms = in->sleep_ms;
    crpc_status_info_init(&si);
    if (in->worker)
      st = crpc_servertest_worker_test_unary(ch, &req, &rep, &opts);
    else
      st = crpc_servertest_loop_test_unary(ch, &req, &rep, &opts);
    fan_count(ctx, out, st, si.message, rep, i);
    crpc_status_info_cleanup(&si);
    if (rep != NULL)
      crpc__servertest__rep__free_unpacked(rep, NULL);
  }
}

/* Every call started with the _async stub, then gathered. */
static crpc_status fan_parallel(crpc_ctx *ctx, crpc_channel *ch,
                                const Crpc__Composetest__FanReq *in,
                                Crpc__Composetest__FanRep *out) {
  crpc_future **fs = calloc((size_t)in->n, sizeof(*fs));
  crpc_future *all = NULL;
  crpc_status st = CRPC_STATUS_OK;

  if (fs == NULL)
    return fail_with(ctx, CRPC_STATUS_RESOURCE_EXHAUSTED, "fan-out", "memory");
  for (int i = 0; i < in->n; i++) {
    char name[32];
    req_t req = CRPC__SERVERTEST__REQ__INIT;
    snprintf(name, sizeof(name), "fan-%d", i);
    req.name = name;
    req.sleep_ms = in->sleep_ms;
    fs[i] = in->worker ? crpc_servertest_worker_test_unary_async(ch, &req, NULL)
                       : crpc_servertest_loop_test_unary_async(ch, &req, NULL);
    if (fs[i] == NULL) {
      st = fail_with(ctx, CRPC_STATUS_RESOURCE_EXHAUSTED, "fan-out", "memory");
      goto done;
    }
  }
  if (crpc_future_all(fs, (size_t)in->n, &all) != 0 || crpc_await(all) != 0) {
    st = fail_with(ctx, CRPC_STATUS_INTERNAL, "fan-out", "cannot gather");
    goto done;
  }
  for (int i = 0; i < in->n; i++) {
    rep_t *rep = NULL;
    crpc_status cs = in->worker
                         ? crpc_servertest_worker_test_unary_result(fs[i], &rep)
                         : crpc_servertest_loop_test_unary_result(fs[i], &rep);
    fan_count(ctx, out, cs, crpc_future_message(fs[i]), rep, i);
    if (rep != NULL)
      crpc__servertest__rep__free_unpacked(rep, NULL);
  }
done:
  crpc_future_unref(all);
  for (int i = 0; i < in->n; i++)
    crpc_future_unref(fs[i]);
  free(fs);
  return st;
}

static crpc_status fan_out(crpc_ctx *ctx, const Crpc__Composetest__FanReq *in,
                           Crpc__Composetest__FanRep *out) {
  const char *why = "";
  crpc_channel *ch;
  int64_t start = now_ms();
  crpc_status st = CRPC_STATUS_OK;

  if (in->n < 0 || in->n > MAX_FAN_OUT)
    return fail_with(ctx, CRPC_STATUS_INVALID_ARGUMENT, "n", "0 to 1000");
  ch = channel_for(str_or_empty(in->target), &why);
  if (ch == NULL)
    return fail_with(ctx, CRPC_STATUS_INVALID_ARGUMENT, "target", why);
  if (in->parallel)
    st = fan_parallel(ctx, ch, in, out);
  else
    fan_sequential(ctx, ch, in, out);
  out->elapsed_ms = now_ms() - start;
  return st;
}

/* Nested and NestedCo: one handler, on a worker or on the loop. */

static crpc_status nested(crpc_ctx *ctx, const Crpc__Composetest__NestReq *in,
                          Crpc__Composetest__NestRep *out) {
  const char *why = "";
  const char *tag = str_or_empty(in->tag);
  crpc_channel *ch = channel_for(str_or_empty(in->target), &why);
  req_t req = CRPC__SERVERTEST__REQ__INIT;
  rep_t *rep = NULL;
  crpc_status_info si;
  crpc_metadata inner_headers;
  crpc_call_opts opts = {.timeout_ms = in->timeout_ms,
                         .no_propagation = in->no_propagation,
                         .headers_out = &inner_headers,
                         .status_out = &si};
  crpc_status st;
  int64_t start = now_ms();

  if (ch == NULL)
    return fail_with(ctx, CRPC_STATUS_INVALID_ARGUMENT, "target", why);
  req.name = (char *)tag;
  req.sleep_ms = in->sleep_ms;
  req.wait_cancel = in->wait_cancel;
  crpc_status_info_init(&si);
  crpc_metadata_init(&inner_headers);
  if (in->worker)
    st = crpc_servertest_worker_test_unary(ch, &req, &rep, &opts);
  else
    st = crpc_servertest_loop_test_unary(ch, &req, &rep, &opts);
  outcome_record(tag, st, si.message, now_ms() - start);
  /* The trace context the second hop saw, for the trace tests. */
  const crpc_metadata_entry *tp =
      crpc_metadata_get(&inner_headers, "x-seen-traceparent");
  const crpc_metadata_entry *ts =
      crpc_metadata_get(&inner_headers, "x-seen-tracestate");
  if (tp != NULL)
    crpc_ctx_add_header(ctx, "x-inner-traceparent", tp->value, tp->value_len);
  if (ts != NULL)
    crpc_ctx_add_header(ctx, "x-inner-tracestate", ts->value, ts->value_len);
  crpc_metadata_cleanup(&inner_headers);
  if (st == CRPC_STATUS_OK) {
    out->text = crpc_ctx_strdup(ctx, str_or_empty(rep->text));
    out->placement = crpc_ctx_strdup(ctx, str_or_empty(rep->placement));
    if (out->text == NULL || out->placement == NULL)
      st = CRPC_STATUS_RESOURCE_EXHAUSTED;
  } else {
    fail_with(ctx, st, "nested call", str_or_empty(si.message));
  }
  crpc_status_info_cleanup(&si);
  if (rep != NULL)
    crpc__servertest__rep__free_unpacked(rep, NULL);
  return st;
}

static crpc_status outcome_handler(crpc_ctx *ctx,
                                   const Crpc__Composetest__OutcomeReq *in,
                                   Crpc__Composetest__OutcomeRep *out) {
  const char *tag = str_or_empty(in->tag);
  crpc_status st = CRPC_STATUS_OK;

  pthread_mutex_lock(&state.mu);
  for (size_t i = 0; i < state.n_outcomes; i++) {
    const outcome *o = &state.outcomes[i];
    if (strcmp(o->tag, tag) != 0)
      continue;
    out->found = 1;
    out->code = (int32_t)o->code;
    out->elapsed_ms = o->elapsed_ms;
    out->message = crpc_ctx_strdup(ctx, str_or_empty(o->message));
    if (out->message == NULL)
      st = CRPC_STATUS_RESOURCE_EXHAUSTED;
    break;
  }
  pthread_mutex_unlock(&state.mu);
  return st;
}

static crpc_status whoami(crpc_ctx *ctx, const Crpc__Composetest__WhoamiReq *in,
                          Crpc__Composetest__WhoamiRep *out) {
  (void)ctx;
  (void)in;
  out->pid = (int32_t)getpid();
  return CRPC_STATUS_OK;
}

static const crpc_composetest_compose_handlers handlers = {
    .fan_out = fan_out,
    .nested = nested,
    .nested_co = nested,
    .outcome = outcome_handler,
    .whoami = whoami,
};

CRPC_COMPOSETEST_COMPOSE_MODULE(&handlers, NULL)
