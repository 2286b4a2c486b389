/* Tests for runtime/pool.c: the worker pool and its hand-off to loops. */
#include <criterion/criterion.h>
#include <uv.h>
#include <stdatomic.h>

#include "crpc/error.h"
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
  crpc_pool_free(NULL);
}
