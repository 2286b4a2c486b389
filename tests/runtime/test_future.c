/* Tests for runtime/future.c: completion, waiting, continuations,
 * cancellation and gathering. */
#include <criterion/criterion.h>
#include <uv.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "crpc/error.h"
#include "crpc/future.h"
#include "future_internal.h"

static atomic_int freed;

static void count_free(void *p) {
  free(p);
  atomic_fetch_add(&freed, 1);
}

Test(future, completes_once_with_status_message_and_value, .timeout = 10) {
  crpc_future *f;
  cr_assert_eq(crpc_future_new(NULL, &f), 0);
  cr_assert_not(crpc_future_is_done(f));
  cr_assert_eq(crpc_future_status(f), CRPC_STATUS_UNKNOWN);
  cr_assert_str_eq(crpc_future_message(f), "");
  cr_assert_null(crpc_future_value(f));
  atomic_store(&freed, 0);
  int *v = malloc(sizeof(int));
  *v = 7;
  cr_assert_eq(
      crpc_future_complete(f, CRPC_STATUS_NOT_FOUND, "no such", v, count_free),
      0);
  cr_assert(crpc_future_is_done(f));
  cr_assert_eq(crpc_future_status(f), CRPC_STATUS_NOT_FOUND);
  cr_assert_str_eq(crpc_future_message(f), "no such");
  cr_assert_eq(*(int *)crpc_future_value(f), 7);
  int *other = malloc(sizeof(int));
  cr_assert_eq(crpc_future_complete(f, CRPC_STATUS_OK, NULL, other, count_free),
               CRPC_EALREADY);
  free(other); /* the caller keeps its value on error */
  cr_assert_eq(crpc_future_wait(f), 0);
  crpc_future_unref(f);
  cr_assert_eq(atomic_load(&freed), 1);
}

Test(future, take_value_transfers_ownership, .timeout = 10) {
  crpc_future *f;
  crpc_future_new(NULL, &f);
  cr_assert_null(crpc_future_take_value(f));
  atomic_store(&freed, 0);
  char *s = strdup("x");
  crpc_future_complete(f, CRPC_STATUS_OK, NULL, s, count_free);
  char *got = crpc_future_take_value(f);
  cr_assert_eq(got, s);
  cr_assert_null(crpc_future_take_value(f));
  crpc_future_unref(crpc_future_ref(f));
  crpc_future_unref(f);
  cr_assert_eq(atomic_load(&freed), 0);
  free(got);
  crpc_future_unref(NULL);
}

typedef struct delayed {
  crpc_future *f;
  int ms;
  crpc_status code;
} delayed;

static void complete_later(void *arg) {
  delayed *d = arg;
  uv_sleep(d->ms);
  crpc_future_complete(d->f, d->code, NULL, NULL, NULL);
}

Test(future, wait_blocks_a_plain_thread_until_done, .timeout = 10) {
  crpc_future *f;
  uv_thread_t t;
  crpc_future_new(NULL, &f);
  delayed d = {f, 30, CRPC_STATUS_ABORTED};
  uv_thread_create(&t, complete_later, &d);
  uint64_t t0 = uv_hrtime();
  cr_assert_eq(crpc_future_wait(f), 0);
  cr_assert_geq(uv_hrtime() - t0, 25 * 1000000ull);
  cr_assert_eq(crpc_future_status(f), CRPC_STATUS_ABORTED);
  uv_thread_join(&t);
  crpc_future_unref(f);
}

Test(future, wait_for_times_out_and_stays_pending, .timeout = 10) {
  crpc_future *f;
  crpc_future_new(NULL, &f);
  uint64_t t0 = uv_hrtime();
  cr_assert_eq(crpc_future_wait_for(f, 20), CRPC_ETIMEDOUT);
  cr_assert_geq(uv_hrtime() - t0, 19 * 1000000ull);
  cr_assert_not(crpc_future_is_done(f));
  cr_assert_eq(crpc_future_wait_for(f, 0), CRPC_ETIMEDOUT);
  crpc_future_complete(f, CRPC_STATUS_OK, NULL, NULL, NULL);
  cr_assert_eq(crpc_future_wait_for(f, 0), 0);
  crpc_future_unref(f);
}

typedef struct then_ctx {
  crpc_loop *loop;
  int ran;
  int on_loop;
  crpc_status seen;
} then_ctx;

static void on_then(crpc_future *f, void *ud) {
  then_ctx *c = ud;
  c->ran++;
  c->on_loop = crpc_loop_is_current(c->loop);
  c->seen = crpc_future_status(f);
}

Test(future, then_runs_on_the_loop_never_inline, .timeout = 10) {
  crpc_loop *loop;
  crpc_future *f;
  uv_thread_t t;
  cr_assert_eq(crpc_loop_new(NULL, NULL, &loop), 0);
  then_ctx c = {.loop = loop};
  crpc_future_new(loop, &f);
  cr_assert_eq(crpc_future_then(f, on_then, &c), 0);
  delayed d = {f, 10, CRPC_STATUS_DATA_LOSS};
  uv_thread_create(&t, complete_later, &d);
  uv_thread_join(&t);
  cr_assert_eq(c.ran, 0, "continuation ran off its loop");
  crpc_loop_run(loop, CRPC_RUN_DEFAULT);
  cr_assert_eq(c.ran, 1);
  cr_assert(c.on_loop);
  cr_assert_eq(c.seen, CRPC_STATUS_DATA_LOSS);

  /* Already done: still queued, not run inside then(). */
  then_ctx c2 = {.loop = loop};
  cr_assert_eq(crpc_future_then(f, on_then, &c2), 0);
  cr_assert_eq(c2.ran, 0);
  crpc_loop_run(loop, CRPC_RUN_DEFAULT);
  cr_assert_eq(c2.ran, 1);
  crpc_future_unref(f);
  crpc_loop_free(loop);
}

Test(future, then_without_any_loop_runs_on_the_completing_thread,
     .timeout = 10) {
  crpc_future *f;
  crpc_future_new(NULL, &f);
  then_ctx c = {0};
  cr_assert_eq(crpc_future_then(f, on_then, &c), 0);
  cr_assert_eq(c.ran, 0);
  crpc_future_complete(f, CRPC_STATUS_OK, NULL, NULL, NULL);
  cr_assert_eq(c.ran, 1);
  crpc_future_unref(f);
}

typedef struct on_loop_wait {
  crpc_future *f;
  int rc;
} on_loop_wait;

static void wait_on_loop(void *arg) {
  on_loop_wait *w = arg;
  w->rc = crpc_future_wait(w->f);
}

Test(future, waiting_on_a_loop_thread_is_an_error_not_a_hang, .timeout = 10) {
  crpc_loop *loop;
  crpc_loop_new(NULL, NULL, &loop);
  on_loop_wait w = {0};
  crpc_future_new(NULL, &w.f);
  crpc_loop_post(loop, wait_on_loop, &w);
  crpc_loop_run(loop, CRPC_RUN_DEFAULT);
  cr_assert_eq(w.rc, CRPC_ELOOPTHREAD);
  crpc_future_unref(w.f);
  crpc_loop_free(loop);
}

static int hook_calls;

static void hook(crpc_future *f, void *ud) {
  (void)ud;
  hook_calls++;
  cr_assert_not(crpc_future_is_done(f));
}

Test(future, cancel_runs_the_hook_and_completes_cancelled, .timeout = 10) {
  crpc_future *f;
  crpc_future_new(NULL, &f);
  hook_calls = 0;
  cr_assert_eq(crpc_future_on_cancel(f, hook, NULL), 0);
  cr_assert_eq(crpc_future_cancel(f), 0);
  cr_assert_eq(hook_calls, 1);
  cr_assert_eq(crpc_future_status(f), CRPC_STATUS_CANCELLED);
  cr_assert_eq(crpc_future_cancel(f), CRPC_EALREADY);
  cr_assert_eq(hook_calls, 1);
  /* The producer finishing later is told it lost the race. */
  cr_assert_eq(crpc_future_complete(f, CRPC_STATUS_OK, NULL, NULL, NULL),
               CRPC_EALREADY);
  cr_assert_eq(crpc_future_on_cancel(f, hook, NULL), CRPC_EALREADY);
  crpc_future_unref(f);
}

static void on_fired(crpc__listener *l, crpc_future *f) {
  (void)l, (void)f;
}

Test(future, renew_makes_a_sole_future_pending_again, .timeout = 10) {
  crpc_future *f;
  cr_assert_eq(crpc_future_new(NULL, &f), 0);
  atomic_store(&freed, 0);
  hook_calls = 0;
  cr_assert_eq(crpc_future_on_cancel(f, hook, NULL), 0);
  cr_assert_eq(crpc_future_complete(f, CRPC_STATUS_CANCELLED, "gone", malloc(4),
                                    count_free),
               0);
  /* The only reference: the same future, pending as if new. */
  cr_assert_eq(crpc__future_renew(f), 1);
  cr_assert_eq(atomic_load(&freed), 1, "the old value is freed");
  cr_assert_not(crpc_future_is_done(f));
  cr_assert_eq(crpc_future_status(f), CRPC_STATUS_UNKNOWN);
  cr_assert_str_eq(crpc_future_message(f), "");
  cr_assert_eq(crpc_future_any_index(f), -1);
  /* No hook left from before: a cancel completes it and runs none. */
  cr_assert_eq(crpc_future_cancel(f), 0);
  cr_assert_eq(hook_calls, 0);
  cr_assert_eq(crpc_future_status(f), CRPC_STATUS_CANCELLED);
  cr_assert_eq(crpc__future_renew(f), 1);
  cr_assert_eq(crpc_future_complete(f, CRPC_STATUS_OK, "again", NULL, NULL), 0);
  cr_assert_str_eq(crpc_future_message(f), "again");

  /* Another holder: the caller's reference goes, the future stays done
   * for the other. */
  crpc_future *other = crpc_future_ref(f);
  cr_assert_eq(crpc__future_renew(f), 0);
  cr_assert(crpc_future_is_done(other));
  cr_assert_str_eq(crpc_future_message(other), "again");

  /* A listener still registered: not renewed either. */
  cr_assert_eq(crpc_future_new(NULL, &f), 0);
  crpc__listener l = {.fn = on_fired};
  crpc__future_listen(f, &l);
  crpc_future_ref(f);
  cr_assert_eq(crpc__future_renew(f), 0);
  cr_assert_eq(crpc__future_unlisten(f, &l), 1);
  cr_assert_eq(crpc__future_renew(f), 1);
  crpc_future_unref(f);
  crpc_future_unref(other);
}

static crpc_future **make_n(size_t n) {
  crpc_future **fs = calloc(n, sizeof(*fs));
  for (size_t i = 0; i < n; i++)
    cr_assert_eq(crpc_future_new(NULL, &fs[i]), 0);
  return fs;
}

static void unref_n(crpc_future **fs, size_t n) {
  for (size_t i = 0; i < n; i++)
    crpc_future_unref(fs[i]);
  free(fs);
}

Test(future, all_waits_for_every_future, .timeout = 10) {
  crpc_future **fs = make_n(3), *all;
  cr_assert_eq(crpc_future_all(fs, 3, &all), 0);
  crpc_future_complete(fs[2], CRPC_STATUS_OK, NULL, NULL, NULL);
  crpc_future_complete(fs[0], CRPC_STATUS_OK, NULL, NULL, NULL);
  cr_assert_not(crpc_future_is_done(all));
  crpc_future_complete(fs[1], CRPC_STATUS_OK, NULL, NULL, NULL);
  cr_assert(crpc_future_is_done(all));
  cr_assert_eq(crpc_future_status(all), CRPC_STATUS_OK);
  cr_assert_eq(crpc_future_any_index(all), -1);
  crpc_future_unref(all);
  unref_n(fs, 3);
}

Test(future, all_reports_the_first_failure_in_array_order, .timeout = 10) {
  crpc_future **fs = make_n(4), *all;
  crpc_future_complete(fs[3], CRPC_STATUS_INTERNAL, "late", NULL, NULL);
  cr_assert_eq(crpc_future_all(fs, 4, &all), 0);
  crpc_future_complete(fs[0], CRPC_STATUS_OK, NULL, NULL, NULL);
  crpc_future_complete(fs[2], CRPC_STATUS_ABORTED, "first", NULL, NULL);
  crpc_future_complete(fs[1], CRPC_STATUS_OK, NULL, NULL, NULL);
  cr_assert_eq(crpc_future_status(all), CRPC_STATUS_ABORTED);
  cr_assert_str_eq(crpc_future_message(all), "first");
  crpc_future_unref(all);
  unref_n(fs, 4);
}

Test(future, all_of_nothing_is_done, .timeout = 10) {
  crpc_future *all, *any;
  cr_assert_eq(crpc_future_all(NULL, 0, &all), 0);
  cr_assert(crpc_future_is_done(all));
  cr_assert_eq(crpc_future_status(all), CRPC_STATUS_OK);
  crpc_future_unref(all);
  cr_assert_eq(crpc_future_any(NULL, 0, &any), CRPC_EINVAL);
  crpc_future *null_one[1] = {NULL};
  cr_assert_eq(crpc_future_all(null_one, 1, &all), CRPC_EINVAL);
}

Test(future, any_completes_with_the_first_and_says_which, .timeout = 10) {
  crpc_future **fs = make_n(5), *any;
  cr_assert_eq(crpc_future_any(fs, 5, &any), 0);
  cr_assert_eq(crpc_future_any_index(any), -1);
  crpc_future_complete(fs[3], CRPC_STATUS_UNAVAILABLE, "down", NULL, NULL);
  cr_assert(crpc_future_is_done(any));
  cr_assert_eq(crpc_future_any_index(any), 3);
  cr_assert_eq(crpc_future_status(any), CRPC_STATUS_UNAVAILABLE);
  crpc_future_complete(fs[1], CRPC_STATUS_OK, NULL, NULL, NULL);
  cr_assert_eq(crpc_future_any_index(any), 3);
  /* The result may go first; inputs completing later must not touch it. */
  crpc_future_unref(any);
  for (int i = 0; i < 5; i++)
    crpc_future_complete(fs[i], CRPC_STATUS_OK, NULL, NULL, NULL);
  unref_n(fs, 5);
}

Test(future, cancelling_a_gather_cancels_its_inputs, .timeout = 10) {
  crpc_future **fs = make_n(3), *all;
  crpc_future_complete(fs[0], CRPC_STATUS_OK, NULL, NULL, NULL);
  crpc_future_all(fs, 3, &all);
  cr_assert_eq(crpc_future_cancel(all), 0);
  cr_assert_eq(crpc_future_status(fs[0]), CRPC_STATUS_OK);
  cr_assert_eq(crpc_future_status(fs[1]), CRPC_STATUS_CANCELLED);
  cr_assert_eq(crpc_future_status(fs[2]), CRPC_STATUS_CANCELLED);
  cr_assert_eq(crpc_future_status(all), CRPC_STATUS_CANCELLED);
  crpc_future_unref(all);
  unref_n(fs, 3);
}

Test(future, fire_and_forget_does_not_leak, .timeout = 10) {
  /* Dropped before completion, with a continuation and a gather still
   * registered: the producer's reference keeps it alive, the last unref
   * frees everything (LeakSanitizer checks). */
  crpc_future *f, *all;
  crpc_future_new(NULL, &f);
  crpc_future_then(f, on_then, &(then_ctx){0});
  crpc_future_all(&f, 1, &all);
  crpc_future_unref(all);
  crpc_future_complete(f, CRPC_STATUS_OK, NULL, strdup("v"), free);
  crpc_future_unref(f);
  /* Never completed and never waited on. */
  crpc_future_new(NULL, &f);
  crpc_future_on_cancel(f, hook, NULL);
  crpc_future_unref(f);
}

/* Stress: producers complete futures that consumers wait on, while a
 * loop thread runs continuations and gathers watch them. */
#define STRESS_N 4000
#define STRESS_THREADS 4

typedef struct stress {
  crpc_future *fs[STRESS_N];
  crpc_loop *loop;
  atomic_int continuations;
  atomic_int waited;
} stress;

static void stress_then(crpc_future *f, void *ud) {
  stress *s = ud;
  cr_assert(crpc_future_is_done(f));
  atomic_fetch_add(&s->continuations, 1);
}

typedef struct stress_arg {
  stress *s;
  int id;
} stress_arg;

static void producer(void *arg) {
  stress_arg *a = arg;
  for (int i = a->id; i < STRESS_N; i += STRESS_THREADS)
    crpc_future_complete(a->s->fs[i], (crpc_status)(i % 17), NULL, NULL, NULL);
}

static void consumer(void *arg) {
  stress_arg *a = arg;
  for (int i = STRESS_N - 1 - a->id; i >= 0; i -= STRESS_THREADS) {
    cr_assert_eq(crpc_future_wait(a->s->fs[i]), 0);
    cr_assert_eq(crpc_future_status(a->s->fs[i]), (crpc_status)(i % 17));
    atomic_fetch_add(&a->s->waited, 1);
  }
}

Test(future, stress_many_threads_complete_and_wait, .timeout = 60) {
  static stress s;
  uv_thread_t prod[STRESS_THREADS], cons[STRESS_THREADS];
  stress_arg args[STRESS_THREADS];
  crpc_future *all;
  memset(&s, 0, sizeof(s));
  cr_assert_eq(crpc_loop_new(NULL, NULL, &s.loop), 0);
  cr_assert_eq(crpc_loop_start_thread(s.loop), 0);
  for (int i = 0; i < STRESS_N; i++) {
    crpc_future_new(s.loop, &s.fs[i]);
    crpc_future_then(s.fs[i], stress_then, &s);
  }
  cr_assert_eq(crpc_future_all(s.fs, STRESS_N, &all), 0);
  for (int i = 0; i < STRESS_THREADS; i++) {
    args[i] = (stress_arg){&s, i};
    uv_thread_create(&cons[i], consumer, &args[i]);
  }
  for (int i = 0; i < STRESS_THREADS; i++)
    uv_thread_create(&prod[i], producer, &args[i]);
  cr_assert_eq(crpc_future_wait(all), 0);
  for (int i = 0; i < STRESS_THREADS; i++) {
    uv_thread_join(&prod[i]);
    uv_thread_join(&cons[i]);
  }
  cr_assert_eq(crpc_future_status(all), CRPC_STATUS_CANCELLED,
               "first failure in order is index 1 (code 1)");
  cr_assert_eq(atomic_load(&s.waited), STRESS_N);
  cr_assert_eq(crpc_loop_stop(s.loop), 0);
  cr_assert_eq(atomic_load(&s.continuations), STRESS_N);
  crpc_future_unref(all);
  for (int i = 0; i < STRESS_N; i++)
    crpc_future_unref(s.fs[i]);
  crpc_loop_free(s.loop);
}
