/* Tests for runtime/loop.c: posting work to a loop from any thread. */
#include <criterion/criterion.h>
#include <uv.h>
#include <stdatomic.h>

#include "crpc/error.h"
#include "crpc/loop.h"

typedef struct counter {
  crpc_loop *loop;
  atomic_int n;
  int on_loop;
  int order_ok;
  int last[8];
} counter;

static void bump(void *arg) {
  counter *c = arg;
  if (crpc_loop_is_current(c->loop) && crpc_loop_current() == c->loop)
    c->on_loop++;
  atomic_fetch_add(&c->n, 1);
}

Test(loop, post_from_loop_thread_is_deferred, .timeout = 10) {
  crpc_loop *loop;
  counter c = {0};
  cr_assert_eq(crpc_loop_new(NULL, NULL, &loop), 0);
  c.loop = loop;
  cr_assert_not(crpc_loop_is_current(loop));
  cr_assert_eq(crpc_loop_post(loop, bump, &c), 0);
  cr_assert_eq(atomic_load(&c.n), 0, "ran inline");
  crpc_loop_run(loop, CRPC_RUN_DEFAULT);
  cr_assert_eq(atomic_load(&c.n), 1);
  cr_assert_eq(c.on_loop, 1);
  crpc_loop_free(loop);
}

typedef struct seq {
  counter *c;
  int thread;
  int i;
} seq;

static void check_order(void *arg) {
  seq *s = arg;
  if (s->c->last[s->thread] != s->i)
    s->c->order_ok = 0;
  s->c->last[s->thread] = s->i + 1;
  bump(s->c);
}

typedef struct poster {
  crpc_loop *loop;
  counter *c;
  int thread;
  seq items[2000];
} poster;

static void post_many(void *arg) {
  poster *p = arg;
  for (int i = 0; i < 2000; i++) {
    p->items[i] = (seq){.c = p->c, .thread = p->thread, .i = i};
    cr_assert_eq(crpc_loop_post(p->loop, check_order, &p->items[i]), 0);
  }
}

Test(loop, posts_from_many_threads_all_run_in_order, .timeout = 30) {
  crpc_loop *loop;
  static counter c;
  static poster ps[4];
  uv_thread_t th[4];
  cr_assert_eq(crpc_loop_new(NULL, NULL, &loop), 0);
  c = (counter){.loop = loop, .order_ok = 1};
  cr_assert_eq(crpc_loop_start_thread(loop), 0);
  for (int i = 0; i < 4; i++) {
    ps[i] = (poster){.loop = loop, .c = &c, .thread = i};
    uv_thread_create(&th[i], post_many, &ps[i]);
  }
  for (int i = 0; i < 4; i++)
    uv_thread_join(&th[i]);
  cr_assert_eq(crpc_loop_stop(loop), 0);
  cr_assert_eq(atomic_load(&c.n), 8000);
  cr_assert_eq(c.on_loop, 8000);
  cr_assert(c.order_ok, "posts from one thread ran out of order");
  crpc_loop_free(loop);
}

static void try_stop(void *arg) {
  crpc_loop *loop = arg;
  cr_assert_eq(crpc_loop_stop(loop), CRPC_ELOOPTHREAD);
}

Test(loop, thread_lifecycle_errors, .timeout = 10) {
  crpc_loop *loop;
  cr_assert_eq(crpc_loop_new(NULL, NULL, &loop), 0);
  cr_assert_eq(crpc_loop_stop(loop), CRPC_ESTATE);
  cr_assert_eq(crpc_loop_start_thread(loop), 0);
  cr_assert_eq(crpc_loop_start_thread(loop), CRPC_ESTATE);
  cr_assert_eq(crpc_loop_post(loop, try_stop, loop), 0);
  cr_assert_eq(crpc_loop_stop(loop), 0);
  crpc_loop_free(loop);
}

Test(loop, attached_to_an_application_loop, .timeout = 10) {
  uv_loop_t uv;
  crpc_loop *loop;
  counter c = {0};
  cr_assert_eq(uv_loop_init(&uv), 0);
  cr_assert_eq(crpc_loop_new(&uv, NULL, &loop), 0);
  c.loop = loop;
  cr_assert(crpc_loop_is_current(loop));
  cr_assert_eq(crpc_loop_uv(loop), &uv);
  cr_assert_eq(crpc_loop_start_thread(loop), CRPC_ESTATE);
  cr_assert_eq(crpc_loop_post(loop, bump, &c), 0);
  uv_run(&uv, UV_RUN_DEFAULT);
  cr_assert_eq(atomic_load(&c.n), 1);
  crpc_loop_free(loop);
  uv_run(&uv, UV_RUN_DEFAULT); /* runs the close callbacks */
  cr_assert_eq(uv_loop_close(&uv), 0, "crpc left a handle open");
}

static void repost(void *arg) {
  counter *c = arg;
  if (atomic_fetch_add(&c->n, 1) < 99)
    crpc_loop_post(c->loop, repost, c);
}

Test(loop, free_runs_queued_work_then_refuses_more, .timeout = 10) {
  crpc_loop *loop;
  counter c = {0};
  cr_assert_eq(crpc_loop_new(NULL, NULL, &loop), 0);
  c.loop = loop;
  cr_assert_eq(crpc_loop_post(loop, repost, &c), 0);
  crpc_loop_free(loop); /* drains the chain of 100 posts */
  cr_assert_eq(atomic_load(&c.n), 100);
}

Test(loop, default_run_returns_when_idle, .timeout = 10) {
  crpc_loop *loop;
  crpc_loop_opts o;
  crpc_loop_opts_init(&o);
  cr_assert_eq(crpc_loop_new(NULL, &o, &loop), 0);
  cr_assert_null(crpc_loop_pool(loop));
  cr_assert_eq(crpc_loop_run(loop, CRPC_RUN_DEFAULT), 0);
  cr_assert_null(crpc_loop_current());
  crpc_loop_free(loop);
  crpc_loop_free(NULL);
}
