/* Tests for runtime/pool.c: the worker pool and its hand-off to loops. */
#include <criterion/criterion.h>
#include <uv.h>
#include <stdatomic.h>

#include "crpc/coro.h"
#include "crpc/error.h"
#include "crpc/future.h"
#include "crpc/pool.h"

typedef struct jobs {
  crpc_pool *pool;
  crpc_loop *loop;
  atomic_int worked;
  atomic_int on_worker;
  int after_on_loop;
  int after_calls;
} jobs;

static void work(void *arg) {
  jobs *j = arg;
  if (crpc_pool_is_worker(j->pool))
    atomic_fetch_add(&j->on_worker, 1);
  atomic_fetch_add(&j->worked, 1);
}

static void after(void *arg, int status) {
  jobs *j = arg;
  cr_assert_eq(status, 0);
  j->after_calls++;
  if (crpc_loop_is_current(j->loop))
    j->after_on_loop++;
}

Test(pool, jobs_run_on_workers_and_complete_on_the_loop, .timeout = 20) {
  crpc_pool_opts po;
  crpc_pool_opts_init(&po);
  po.threads = 3;
  jobs j = {0};
  cr_assert_eq(crpc_pool_new(&po, &j.pool), 0);
  cr_assert_eq(crpc_pool_threads(j.pool), 3);
  cr_assert_eq(crpc_loop_new(NULL, NULL, &j.loop), 0);
  cr_assert_not(crpc_pool_is_worker(j.pool));
  for (int i = 0; i < 1000; i++)
    cr_assert_eq(crpc_pool_submit(j.pool, j.loop, work, after, &j), 0);
  /* Pending jobs keep the run going until every completion ran. */
  crpc_loop_run(j.loop, CRPC_RUN_DEFAULT);
  cr_assert_eq(atomic_load(&j.worked), 1000);
  cr_assert_eq(atomic_load(&j.on_worker), 1000);
  cr_assert_eq(j.after_calls, 1000);
  cr_assert_eq(j.after_on_loop, 1000);
  crpc_loop_free(j.loop);
  crpc_pool_free(j.pool);
}

typedef struct gate {
  uv_sem_t entered;
  uv_sem_t release;
  atomic_int ran;
} gate;

static void blocker(void *arg) {
  gate *g = arg;
  uv_sem_post(&g->entered);
  uv_sem_wait(&g->release);
  atomic_fetch_add(&g->ran, 1);
}

static void counted(void *arg) {
  gate *g = arg;
  atomic_fetch_add(&g->ran, 1);
}

Test(pool, a_full_queue_is_an_error_not_a_stall, .timeout = 10) {
  crpc_pool *pool;
  crpc_pool_opts po = {.threads = 1, .queue_max = 2};
  gate g;
  uv_sem_init(&g.entered, 0);
  uv_sem_init(&g.release, 0);
  atomic_init(&g.ran, 0);
  cr_assert_eq(crpc_pool_new(&po, &pool), 0);
  cr_assert_eq(crpc_pool_submit(pool, NULL, blocker, NULL, &g), 0);
  uv_sem_wait(&g.entered); /* the only worker is busy */
  cr_assert_eq(crpc_pool_submit(pool, NULL, counted, NULL, &g), 0);
  cr_assert_eq(crpc_pool_submit(pool, NULL, counted, NULL, &g), 0);
  cr_assert_eq(crpc_pool_submit(pool, NULL, counted, NULL, &g),
               CRPC_EQUEUEFULL);
  cr_assert_eq(crpc_pool_submit(NULL, NULL, counted, NULL, &g), CRPC_EINVAL);
  uv_sem_post(&g.release);
  crpc_pool_free(pool); /* runs what was queued */
  cr_assert_eq(atomic_load(&g.ran), 3);
  uv_sem_destroy(&g.entered);
  uv_sem_destroy(&g.release);
}

typedef struct from_threads {
  crpc_pool *pool;
  crpc_loop *loop;
  atomic_int done;
} from_threads;

static void ft_work(void *arg) {
  (void)arg;
}

static void ft_after(void *arg, int status) {
  from_threads *f = arg;
  cr_assert_eq(status, 0);
  cr_assert(crpc_loop_is_current(f->loop));
  atomic_fetch_add(&f->done, 1);
}

static void submit_many(void *arg) {
  from_threads *f = arg;
  for (int i = 0; i < 500; i++) {
    while (crpc_pool_submit(f->pool, f->loop, ft_work, ft_after, f) ==
           CRPC_EQUEUEFULL)
      uv_sleep(1);
  }
}

Test(pool, stress_submits_from_many_threads, .timeout = 30) {
  from_threads f = {0};
  crpc_pool_opts po = {.threads = 4, .queue_max = 64};
  uv_thread_t th[4];
  cr_assert_eq(crpc_pool_new(&po, &f.pool), 0);
  cr_assert_eq(crpc_loop_new(NULL, NULL, &f.loop), 0);
  cr_assert_eq(crpc_loop_start_thread(f.loop), 0);
  for (int i = 0; i < 4; i++)
    uv_thread_create(&th[i], submit_many, &f);
  for (int i = 0; i < 4; i++)
    uv_thread_join(&th[i]);
  crpc_pool_free(f.pool); /* every job ran and its completion was posted */
  cr_assert_eq(crpc_loop_stop(f.loop), 0);
  cr_assert_eq(atomic_load(&f.done), 2000);
  crpc_loop_free(f.loop);
}

Test(pool, free_null_and_defaults, .timeout = 10) {
  crpc_pool_opts po;
  crpc_pool_opts_init(&po);
  cr_assert_geq(po.threads, 1);
  cr_assert_eq(po.queue_max, 4096);
  cr_assert_eq(po.max_threads, po.threads + 64);
  crpc_pool_free(NULL);
}

/* Jobs that wait inside crpc: on a future another job completes. */
typedef struct waiter {
  crpc_future *wait_on;  /* waited for, may be NULL */
  crpc_future *complete; /* completed, may be NULL */
  atomic_int done;
} waiter;

static void wait_then_complete(void *arg) {
  waiter *w = arg;
  if (w->wait_on)
    cr_assert_eq(crpc_future_wait(w->wait_on), 0);
  if (w->complete)
    crpc_future_complete(w->complete, CRPC_STATUS_OK, NULL, NULL, NULL);
  atomic_store(&w->done, 1);
}

/* Polls |pool| until |ok| holds of its stats, for up to 20 s. */
static int stats_reach(crpc_pool *pool, int (*ok)(const crpc_pool_stats *)) {
  crpc_pool_stats st;
  for (int i = 0; i < 2000; i++) {
    crpc_pool_stats_get(pool, &st);
    if (ok(&st))
      return 1;
    uv_sleep(10);
  }
  return 0;
}

/* One thread: a job that waits on what a later job does would wait forever
 * if its wait held the only thread. */
Test(pool, a_waiting_job_gives_its_place_to_the_next, .timeout = 20) {
  crpc_pool *pool;
  crpc_pool_opts po = {.threads = 1};
  cr_assert_eq(crpc_pool_new(&po, &pool), 0);
  crpc_future *f;
  cr_assert_eq(crpc_future_new(NULL, &f), 0);
  waiter a = {.wait_on = f}, b = {.complete = f};
  atomic_init(&a.done, 0);
  atomic_init(&b.done, 0);
  cr_assert_eq(crpc_pool_submit(pool, NULL, wait_then_complete, NULL, &a), 0);
  cr_assert_eq(crpc_pool_submit(pool, NULL, wait_then_complete, NULL, &b), 0);
  crpc_pool_free(pool); /* returns once both have run */
  cr_assert(atomic_load(&a.done) && atomic_load(&b.done));
  crpc_future_unref(f);
}

static int two_blocked_one_queued(const crpc_pool_stats *s) {
  return s->blocked == 2 && s->queued == 1 && s->threads == 2;
}

static int back_to_one_thread(const crpc_pool_stats *s) {
  return s->threads == 1 && s->blocked == 0 && s->queued == 0;
}

/* The stand-ins stop at max_threads; a queued job then waits for a wait
 * to end, and the extra thread ends after 5 idle seconds. */
Test(pool, stand_ins_stop_at_max_threads_and_retire, .timeout = 40) {
  crpc_pool *pool;
  crpc_pool_opts po = {.threads = 1, .max_threads = 2};
  cr_assert_eq(crpc_pool_new(&po, &pool), 0);
  crpc_future *f1, *f2;
  cr_assert_eq(crpc_future_new(NULL, &f1), 0);
  cr_assert_eq(crpc_future_new(NULL, &f2), 0);
  waiter a = {.wait_on = f1}, b = {.wait_on = f2}, c = {.complete = f2};
  atomic_init(&a.done, 0);
  atomic_init(&b.done, 0);
  atomic_init(&c.done, 0);
  cr_assert_eq(crpc_pool_submit(pool, NULL, wait_then_complete, NULL, &a), 0);
  cr_assert_eq(crpc_pool_submit(pool, NULL, wait_then_complete, NULL, &b), 0);
  cr_assert_eq(crpc_pool_submit(pool, NULL, wait_then_complete, NULL, &c), 0);
  cr_assert(stats_reach(pool, two_blocked_one_queued));
  crpc_pool_stats st;
  crpc_pool_stats_get(pool, &st);
  cr_assert_eq(st.compensations, 1);
  cr_assert_eq(atomic_load(&c.done), 0);
  /* The first wait ends: its thread goes on to c, which ends b's. */
  crpc_future_complete(f1, CRPC_STATUS_OK, NULL, NULL, NULL);
  cr_assert(stats_reach(pool, back_to_one_thread));
  cr_assert(atomic_load(&a.done) && atomic_load(&b.done) &&
            atomic_load(&c.done));
  crpc_pool_free(pool);
  crpc_future_unref(f1);
  crpc_future_unref(f2);
}

/* A job waiting with crpc_sleep() gives its place too. */
static void sleeper(void *arg) {
  crpc_sleep(300);
  atomic_fetch_add((atomic_int *)arg, 1);
}

static int one_blocked(const crpc_pool_stats *s) {
  return s->blocked == 1;
}

Test(pool, crpc_sleep_on_a_worker_gives_its_place, .timeout = 20) {
  crpc_pool *pool;
  crpc_pool_opts po = {.threads = 1};
  atomic_int n;
  atomic_init(&n, 0);
  cr_assert_eq(crpc_pool_new(&po, &pool), 0);
  cr_assert_eq(crpc_pool_submit(pool, NULL, sleeper, NULL, &n), 0);
  cr_assert(stats_reach(pool, one_blocked));
  crpc_pool_free(pool);
  cr_assert_eq(atomic_load(&n), 1);
}
