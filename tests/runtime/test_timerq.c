/*
 * tests/runtime/test_timerq.c: many one-shot timers on one libuv timer
 * (runtime/timerq.c), on a real loop: they fire once each, in the order
 * they are due, removed ones never, and the loop is left with nothing
 * active once none waits.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <uv.h>

#include "crpc/error.h"
#include "timerq.h"

#define MAX_FIRED 4096

typedef struct entry {
  crpc__timer t;
  int id;
  uint64_t after;
  int fired;
} entry;

static crpc__timerq q;
static int fired[MAX_FIRED];
static uint64_t fired_at[MAX_FIRED];
static size_t n_fired;

static entry *of(crpc__timer *t) {
  return (entry *)((char *)t - offsetof(entry, t));
}

static void record(crpc__timer *t) {
  entry *e = of(t);
  cr_assert_not(crpc__timer_queued(t), "out of the queue when it fires");
  e->fired++;
  cr_assert_lt(n_fired, MAX_FIRED);
  fired[n_fired] = e->id;
  fired_at[n_fired++] = uv_now(q.uv.loop);
}

static void on_closed(uv_handle_t *h) {
  (void)h;
}

static uv_loop_t *start(void) {
  static uv_loop_t uv;
  cr_assert_eq(uv_loop_init(&uv), 0);
  cr_assert_eq(crpc__timerq_open(&q, &uv), 0);
  n_fired = 0;
  return &uv;
}

static void finish(uv_loop_t *uv) {
  crpc__timerq_close(&q, on_closed, NULL);
  uv_run(uv, UV_RUN_DEFAULT);
  crpc__timerq_cleanup(&q);
  cr_assert_eq(uv_loop_close(uv), 0, "a handle was left open");
}

Test(timerq, timers_fire_once_in_the_order_they_are_due, .timeout = 10) {
  uv_loop_t *uv = start();
  entry e[3] = {
      {.id = 0, .after = 30}, {.id = 1, .after = 5}, {.id = 2, .after = 15}};
  uint64_t t0 = uv_now(uv);
  for (int i = 0; i < 3; i++)
    cr_assert_eq(crpc__timerq_add(&q, &e[i].t, e[i].after, record), 0);
  /* Runs until no timer is active: nothing waits once all fired. */
  uv_run(uv, UV_RUN_DEFAULT);
  cr_assert_eq(n_fired, 3);
  cr_assert_eq(fired[0], 1);
  cr_assert_eq(fired[1], 2);
  cr_assert_eq(fired[2], 0);
  for (size_t i = 0; i < 3; i++)
    cr_assert_geq(fired_at[i] - t0, e[fired[i]].after, "fired early");
  cr_assert_not(uv_is_active((uv_handle_t *)&q.uv));
  finish(uv);
}

Test(timerq, a_removed_timer_never_fires, .timeout = 10) {
  uv_loop_t *uv = start();
  entry e[3] = {
      {.id = 0, .after = 10}, {.id = 1, .after = 1}, {.id = 2, .after = 20}};
  for (int i = 0; i < 3; i++)
    cr_assert_eq(crpc__timerq_add(&q, &e[i].t, e[i].after, record), 0);
  crpc__timerq_remove(&q, &e[1].t); /* the earliest, the one armed for */
  cr_assert_not(crpc__timer_queued(&e[1].t));
  crpc__timerq_remove(&q, &e[1].t); /* twice is nothing */
  uv_run(uv, UV_RUN_DEFAULT);
  cr_assert_eq(n_fired, 2);
  cr_assert_eq(fired[0], 0);
  cr_assert_eq(fired[1], 2);
  cr_assert_eq(e[1].fired, 0);
  finish(uv);
}

Test(timerq, removing_the_last_stops_the_libuv_timer, .timeout = 10) {
  uv_loop_t *uv = start();
  entry e = {.id = 0};
  cr_assert_eq(crpc__timerq_add(&q, &e.t, 60 * 60 * 1000, record), 0);
  cr_assert(uv_is_active((uv_handle_t *)&q.uv));
  crpc__timerq_remove(&q, &e.t);
  cr_assert_not(uv_is_active((uv_handle_t *)&q.uv),
                "an empty queue keeps the loop alive");
  /* Returns at once: nothing keeps the loop running. */
  cr_assert_eq(uv_run(uv, UV_RUN_DEFAULT), 0);
  cr_assert_eq(n_fired, 0);
  finish(uv);
}

Test(timerq, adding_a_queued_timer_moves_it, .timeout = 10) {
  uv_loop_t *uv = start();
  entry a = {.id = 0}, b = {.id = 1};
  cr_assert_eq(crpc__timerq_add(&q, &a.t, 1, record), 0);
  cr_assert_eq(crpc__timerq_add(&q, &b.t, 10, record), 0);
  cr_assert_eq(crpc__timerq_add(&q, &a.t, 20, record), 0);
  cr_assert_eq(q.n, 2);
  uv_run(uv, UV_RUN_DEFAULT);
  cr_assert_eq(n_fired, 2);
  cr_assert_eq(fired[0], 1);
  cr_assert_eq(fired[1], 0);
  cr_assert_eq(a.fired, 1);
  finish(uv);
}

/* A timer that queues itself again twice, and removes another. */
static entry chain[2];

static void rearm(crpc__timer *t) {
  record(t);
  entry *e = of(t);
  if (e->fired < 3)
    cr_assert_eq(crpc__timerq_add(&q, t, 0, rearm), 0);
  crpc__timerq_remove(&q, &chain[1].t);
}

Test(timerq, a_callback_may_queue_and_remove_timers, .timeout = 10) {
  uv_loop_t *uv = start();
  chain[0] = (entry){.id = 0};
  chain[1] = (entry){.id = 1};
  cr_assert_eq(crpc__timerq_add(&q, &chain[0].t, 1, rearm), 0);
  cr_assert_eq(crpc__timerq_add(&q, &chain[1].t, 50, record), 0);
  uv_run(uv, UV_RUN_DEFAULT);
  cr_assert_eq(chain[0].fired, 3);
  cr_assert_eq(chain[1].fired, 0);
  finish(uv);
}

/* Many timers, half of them removed in a scattered order: the heap keeps
 * its order through removals from the middle. */
Test(timerq, many_timers_with_removals_fire_in_order, .timeout = 20) {
  uv_loop_t *uv = start();
  enum { N = 2000 };
  entry *e = calloc(N, sizeof(*e));
  cr_assert_not_null(e);
  srand(7);
  for (int i = 0; i < N; i++) {
    e[i].id = i;
    e[i].after = (uint64_t)(rand() % 40);
    cr_assert_eq(crpc__timerq_add(&q, &e[i].t, e[i].after, record), 0);
  }
  for (int i = 0; i < N; i += 2)
    crpc__timerq_remove(&q, &e[(i * 7919) % N].t);
  cr_assert_eq(q.n, N / 2);
  uv_run(uv, UV_RUN_DEFAULT);
  cr_assert_eq(n_fired, N / 2);
  for (size_t i = 0; i < n_fired; i++) {
    cr_assert_eq(e[fired[i]].fired, 1);
    if (i > 0)
      cr_assert_geq(e[fired[i]].t.due, e[fired[i - 1]].t.due,
                    "fired out of order");
  }
  free(e);
  finish(uv);
}

Test(timerq, a_closed_queue_takes_no_timer, .timeout = 10) {
  uv_loop_t *uv = start();
  entry a = {.id = 0}, b = {.id = 1}, c = {.id = 2};
  cr_assert_eq(crpc__timerq_add(&q, &a.t, 5, record), 0);
  cr_assert_eq(crpc__timerq_add(&q, &c.t, 10, record), 0);
  crpc__timerq_close(&q, on_closed, NULL);
  cr_assert_eq(crpc__timerq_add(&q, &b.t, 5, record), CRPC_ECLOSED);
  cr_assert_not(crpc__timer_queued(&b.t));
  crpc__timerq_remove(&q, &a.t); /* still possible */
  uv_run(uv, UV_RUN_DEFAULT);
  cr_assert_eq(n_fired, 0);
  /* |c| is still queued: the cleanup lets it go. */
  crpc__timerq_cleanup(&q);
  cr_assert_not(crpc__timer_queued(&c.t));
  crpc__timerq_remove(&q, &c.t);
  cr_assert_eq(uv_loop_close(uv), 0);
}
