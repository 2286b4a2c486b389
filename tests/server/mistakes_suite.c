/*
 * tests/server/mistakes_suite.c: handlers that make the mistakes C
 * programmers make (proto/mistakes.proto), on workers and on the loop,
 * called through crpc's client against an in-process server:
 *
 *   - a return value that is not a gRPC status (-1, a CRPC_E* code, 17):
 *     the client gets UNKNOWN saying so, the log a warning naming the
 *     method;
 *   - a reply protobuf-c cannot pack (Ask.how below): the client gets
 *     INTERNAL, the log a warning naming the method and the field, and
 *     the server does not crash;
 *   - the same in a server stream: the send fails INTERNAL, the messages
 *     before it arrive;
 *   - a request the client cannot pack: the call fails INTERNAL at once,
 *     naming the field, and sends nothing.
 *
 * After every mistake the same server answers a good call.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "crpc/error.h"
#include "mistakes.crpc.h"

typedef Crpc__Mistakes__Ask Ask;
typedef Crpc__Mistakes__Answer Answer;

/* Ask.how: the broken replies, and the field the warning must name. */
static const struct breakage {
  const char *how;
  const char *field;
} breakages[] = {
    {"null-tag", "crpc.mistakes.Answer.tags[1]: NULL string in a repeated "
                 "field"},
    {"null-blob", "crpc.mistakes.Answer.blob: 3 bytes with NULL data"},
    {"null-answer", "crpc.mistakes.Answer.answers[0]: NULL message in a "
                    "repeated field"},
    {"no-array", "crpc.mistakes.Answer.answers: 2 elements but no array"},
    {"oneof-null", "crpc.mistakes.Answer.inner: the oneof's case names this "
                   "field, which is NULL"},
    {"deep", "crpc.mistakes.Answer.answers[0].tags[0]: NULL string"},
};

/* Breaks |a| as |how| says; returns 0, or -1 for an unknown |how|. */
static int break_reply(crpc_ctx *ctx, const char *how, Answer *a) {
  char **tags = crpc_ctx_alloc(ctx, 2 * sizeof(*tags));
  Answer **answers = crpc_ctx_alloc(ctx, sizeof(*answers));
  Answer *inner = crpc_ctx_alloc(ctx, sizeof(*inner));
  if (!tags || !answers || !inner)
    return -1;
  crpc__mistakes__answer__init(inner);
  a->text = "a reply that cannot be sent";
  if (strcmp(how, "null-tag") == 0) {
    tags[0] = "fine";
    tags[1] = NULL;
    a->n_tags = 2;
    a->tags = tags;
  } else if (strcmp(how, "null-blob") == 0) {
    a->blob.len = 3;
    a->blob.data = NULL;
  } else if (strcmp(how, "null-answer") == 0) {
    answers[0] = NULL;
    a->n_answers = 1;
    a->answers = answers;
  } else if (strcmp(how, "no-array") == 0) {
    a->n_answers = 2;
    a->answers = NULL;
  } else if (strcmp(how, "oneof-null") == 0) {
    a->pick_case = CRPC__MISTAKES__ANSWER__PICK_INNER;
    a->inner = NULL;
  } else if (strcmp(how, "deep") == 0) {
    tags[0] = NULL;
    inner->n_tags = 1;
    inner->tags = tags;
    answers[0] = inner;
    a->n_answers = 1;
    a->answers = answers;
  } else {
    return -1;
  }
  return 0;
}

static crpc_status do_return(crpc_ctx *ctx, const Ask *req, Answer *reply) {
  (void)ctx;
  reply->text = "returned";
  return (crpc_status)req->ret;
}

static crpc_status do_break(crpc_ctx *ctx, const Ask *req, Answer *reply) {
  if (break_reply(ctx, req->how, reply) != 0)
    return CRPC_STATUS_INVALID_ARGUMENT;
  return CRPC_STATUS_OK;
}

/* One good message, then the broken one; returns what the send said. */
static crpc_status
do_break_stream(crpc_ctx *ctx, const Ask *req,
                crpc_mistakes_mistakes_broken_stream_sender *out) {
  Answer good = CRPC__MISTAKES__ANSWER__INIT,
         bad = CRPC__MISTAKES__ANSWER__INIT;
  good.text = "first";
  crpc_status st = crpc_mistakes_mistakes_broken_stream_send(out, &good);
  if (st != CRPC_STATUS_OK)
    return st;
  if (break_reply(ctx, req->how, &bad) != 0)
    return CRPC_STATUS_INVALID_ARGUMENT;
  return crpc_mistakes_mistakes_broken_stream_send(out, &bad);
}

static const crpc_mistakes_mistakes_handlers handlers = {
    .status = do_return,
    .status_loop = do_return,
    .broken = do_break,
    .broken_loop = do_break,
    .broken_stream = do_break_stream,
};

/* The server's log, kept for the checks. */
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char log_text[64 * 1024];
static size_t log_len;

static void capture(crpc_log_level level, const char *msg, void *user_data) {
  (void)user_data;
  pthread_mutex_lock(&log_mu);
  int n = snprintf(log_text + log_len, sizeof(log_text) - log_len, "%s: %s\n",
                   crpc_log_level_name(level), msg);
  if (n > 0 && (size_t)n < sizeof(log_text) - log_len)
    log_len += (size_t)n;
  pthread_mutex_unlock(&log_mu);
}

/* Whether the log holds a line with both |a| and |b|. */
static int logged(const char *a, const char *b) {
  int found = 0;
  pthread_mutex_lock(&log_mu);
  for (char *line = log_text; *line && !found;) {
    char *end = strchr(line, '\n');
    size_t n = end ? (size_t)(end - line) : strlen(line);
    char one[1200];
    snprintf(one, sizeof(one), "%.*s", (int)n, line);
    found = strstr(one, a) != NULL && strstr(one, b) != NULL;
    line += n + (end != NULL);
  }
  pthread_mutex_unlock(&log_mu);
  return found;
}

static crpc_server *srv;
static crpc_channel *ch;

static void start(void) {
  crpc_server_opts o;
  crpc_server_opts_init(&o);
  o.loops = 1;
  o.workers = 2;
  o.logger.level = CRPC_LOG_WARN;
  o.logger.level_set = 1;
  o.logger.fn = capture;
  cr_assert_eq(crpc_server_new(&o, &srv), 0);
  cr_assert_eq(crpc_server_add_service(
                   srv, crpc_mistakes_mistakes_service(&handlers, NULL)),
               0);
  cr_assert_eq(crpc_server_listen(srv, "127.0.0.1:0", NULL), 0);
  cr_assert_eq(crpc_server_start(srv), 0, "%s", crpc_server_error(srv));
  char target[64];
  snprintf(target, sizeof(target), "127.0.0.1:%d", crpc_server_port(srv, 0));
  cr_assert_eq(crpc_channel_new(target, NULL, &ch), 0);
}

static void stop(void) {
  crpc_channel_free(ch);
  crpc_future *f = crpc_server_shutdown(srv);
  crpc_future_wait(f);
  crpc_future_unref(f);
  crpc_server_free(srv);
}

typedef crpc_status (*unary_fn)(crpc_channel *, const Ask *, Answer **,
                                const crpc_call_opts *);

/* Calls |fn| with |ask|; the status, with its message in |si|. */
static crpc_status call(unary_fn fn, const Ask *ask, crpc_status_info *si) {
  crpc_call_opts o = {.status_out = si, .timeout_ms = 20000};
  Answer *rep = NULL;
  crpc_status st = fn(ch, ask, &rep, &o);
  if (rep)
    crpc__mistakes__answer__free_unpacked(rep, NULL);
  return st;
}

/* The server still answers a good call. */
static void still_serving(void) {
  Ask ask = CRPC__MISTAKES__ASK__INIT;
  Answer *rep = NULL;
  crpc_call_opts o = {.timeout_ms = 20000};
  cr_assert_eq(crpc_mistakes_mistakes_status(ch, &ask, &rep, &o),
               CRPC_STATUS_OK);
  cr_assert_not_null(rep);
  cr_assert_str_eq(rep->text, "returned");
  crpc__mistakes__answer__free_unpacked(rep, NULL);
}

static void returns_not_a_status(unary_fn fn, const char *path) {
  static const struct {
    int ret;
    const char *says;
  } cases[] = {
      {-1, "the handler returned -1, which is not a gRPC status code"},
      {CRPC_EINVAL, "the handler returned -1003 (CRPC_EINVAL), which is not a "
                    "gRPC status code"},
      {17, "the handler returned 17, which is not a gRPC status code"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    Ask ask = CRPC__MISTAKES__ASK__INIT;
    ask.ret = cases[i].ret;
    crpc_status_info si;
    crpc_status_info_init(&si);
    cr_assert_eq(call(fn, &ask, &si), CRPC_STATUS_UNKNOWN, "ret %d",
                 cases[i].ret);
    cr_assert_str_eq(si.message, cases[i].says);
    cr_assert(logged(path, cases[i].says), "no warning for %d in:\n%s",
              cases[i].ret, log_text);
    cr_assert(logged(cases[i].says, "the client gets UNKNOWN"));
    crpc_status_info_cleanup(&si);
    still_serving();
  }
  /* A real status passes as is, without a warning. */
  Ask ask = CRPC__MISTAKES__ASK__INIT;
  ask.ret = CRPC_STATUS_NOT_FOUND;
  crpc_status_info si;
  crpc_status_info_init(&si);
  cr_assert_eq(call(fn, &ask, &si), CRPC_STATUS_NOT_FOUND);
  crpc_status_info_cleanup(&si);
  cr_assert_not(logged(path, "returned 5"));
}

Test(mistakes, worker_returns_not_a_status, .init = start, .fini = stop,
     .timeout = 60) {
  returns_not_a_status(crpc_mistakes_mistakes_status,
                       "/crpc.mistakes.Mistakes/Status:");
}

Test(mistakes, coroutine_returns_not_a_status, .init = start, .fini = stop,
     .timeout = 60) {
  returns_not_a_status(crpc_mistakes_mistakes_status_loop,
                       "/crpc.mistakes.Mistakes/StatusLoop:");
}

static void unpackable_reply(unary_fn fn, const char *path) {
  for (size_t i = 0; i < sizeof(breakages) / sizeof(breakages[0]); i++) {
    Ask ask = CRPC__MISTAKES__ASK__INIT;
    ask.how = (char *)breakages[i].how;
    crpc_status_info si;
    crpc_status_info_init(&si);
    cr_assert_eq(call(fn, &ask, &si), CRPC_STATUS_INTERNAL, "%s",
                 breakages[i].how);
    cr_assert_str_eq(si.message,
                     "the server could not encode its response message");
    cr_assert(logged(path, breakages[i].field), "%s: no warning in:\n%s",
              breakages[i].how, log_text);
    crpc_status_info_cleanup(&si);
    still_serving();
  }
}

Test(mistakes, worker_reply_that_cannot_be_packed, .init = start, .fini = stop,
     .timeout = 60) {
  unpackable_reply(crpc_mistakes_mistakes_broken,
                   "/crpc.mistakes.Mistakes/Broken:");
}

Test(mistakes, coroutine_reply_that_cannot_be_packed, .init = start,
     .fini = stop, .timeout = 60) {
  unpackable_reply(crpc_mistakes_mistakes_broken_loop,
                   "/crpc.mistakes.Mistakes/BrokenLoop:");
}

Test(mistakes, stream_message_that_cannot_be_packed, .init = start,
     .fini = stop, .timeout = 60) {
  Ask ask = CRPC__MISTAKES__ASK__INIT;
  ask.how = "null-tag";
  crpc_status_info si;
  crpc_status_info_init(&si);
  crpc_call_opts o = {.status_out = &si, .timeout_ms = 20000};
  crpc_mistakes_mistakes_broken_stream_reader *r;
  cr_assert_eq(crpc_mistakes_mistakes_broken_stream(ch, &ask, &r, &o),
               CRPC_STATUS_OK);
  Answer *a = NULL;
  cr_assert_eq(crpc_mistakes_mistakes_broken_stream_read(r, &a),
               CRPC_STATUS_OK);
  cr_assert_not_null(a);
  cr_assert_str_eq(a->text, "first");
  crpc__mistakes__answer__free_unpacked(a, NULL);
  a = NULL;
  cr_assert_eq(crpc_mistakes_mistakes_broken_stream_read(r, &a),
               CRPC_STATUS_INTERNAL);
  cr_assert_null(a);
  cr_assert_eq(crpc_mistakes_mistakes_broken_stream_finish(r),
               CRPC_STATUS_INTERNAL);
  crpc_mistakes_mistakes_broken_stream_free(r);
  cr_assert_eq(si.code, CRPC_STATUS_INTERNAL);
  crpc_status_info_cleanup(&si);
  cr_assert(logged("/crpc.mistakes.Mistakes/BrokenStream:", breakages[0].field),
            "no warning in:\n%s", log_text);
  still_serving();
}

Test(mistakes, request_that_cannot_be_packed, .init = start, .fini = stop,
     .timeout = 60) {
  Ask ask = CRPC__MISTAKES__ASK__INIT;
  char *notes[] = {NULL};
  ask.n_notes = 1;
  ask.notes = notes;
  static const char says[] = "the request message cannot be encoded: "
                             "crpc.mistakes.Ask.notes[0]: NULL string in a "
                             "repeated field";
  crpc_status_info si;
  crpc_status_info_init(&si);
  cr_assert_eq(call(crpc_mistakes_mistakes_status, &ask, &si),
               CRPC_STATUS_INTERNAL);
  cr_assert_str_eq(si.message, says);
  crpc_status_info_cleanup(&si);
  crpc_future *f = crpc_mistakes_mistakes_status_async(ch, &ask, NULL);
  cr_assert_not_null(f);
  cr_assert_eq(crpc_future_wait(f), 0);
  cr_assert_eq(crpc_future_status(f), CRPC_STATUS_INTERNAL);
  cr_assert_str_eq(crpc_future_message(f), says);
  crpc_future_unref(f);
  /* Nothing reached the server. */
  cr_assert_not(logged("/crpc.mistakes.Mistakes/Status:", ""));
  still_serving();
}
