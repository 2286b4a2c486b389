/* Tests for runtime/coro.c: stackful coroutines on a crpc_loop. */
#include <criterion/criterion.h>
#include <uv.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#include "crpc/coro.h"
#include "crpc/error.h"
#include "crpc/pool.h"
#include "loop_internal.h"

static crpc_loop *new_loop(crpc_pool *pool) {
  crpc_loop_opts o;
  crpc_loop *loop;
  crpc_loop_opts_init(&o);
  o.pool = pool;
  cr_assert_eq(crpc_loop_new(NULL, &o, &loop), 0);
  return loop;
}

typedef struct trace {
  char log[256];
  size_t len;
} trace;

static void mark(trace *t, char c) {
  t->log[t->len++] = c;
  t->log[t->len] = '\0';
}

static crpc_status body_simple(void *arg) {
  trace *t = arg;
  cr_assert(crpc_in_coroutine());
  mark(t, 'a');
  return CRPC_STATUS_ALREADY_EXISTS;
}

Test(coro, spawn_runs_later_and_completes_its_future, .timeout = 10) {
  crpc_loop *loop = new_loop(NULL);
  trace t = {0};
  crpc_future *done;
  cr_assert_not(crpc_in_coroutine());
  cr_assert_eq(crpc_coro_spawn(loop, body_simple, &t, &done), 0);
  cr_assert_eq(t.len, 0, "ran inside spawn");
  crpc_loop_run(loop, CRPC_RUN_DEFAULT);
  cr_assert_str_eq(t.log, "a");
  cr_assert_eq(crpc_future_status(done), CRPC_STATUS_ALREADY_EXISTS);
  crpc_future_unref(done);
  cr_assert_eq(crpc_coro_spawn(NULL, body_simple, &t, NULL), CRPC_EINVAL);
  crpc_loop_free(loop);
}

typedef struct sleeper {
  trace *t;
  char c;
  int ms;
} sleeper;

static crpc_status body_sleep(void *arg) {
  sleeper *s = arg;
  mark(s->t, s->c);
  cr_assert_eq(crpc_sleep(s->ms), 0);
  mark(s->t, (char)(s->c - 'a' + 'A'));
  return CRPC_STATUS_OK;
}

Test(coro, a_sleeping_coroutine_lets_others_run, .timeout = 10) {
  crpc_loop *loop = new_loop(NULL);
  trace t = {0};
  sleeper a = {&t, 'a', 60}, b = {&t, 'b', 10};
  crpc_coro_spawn(loop, body_sleep, &a, NULL);
  crpc_coro_spawn(loop, body_sleep, &b, NULL);
  uint64_t t0 = uv_hrtime();
  crpc_loop_run(loop, CRPC_RUN_DEFAULT);
  uint64_t ms = (uv_hrtime() - t0) / 1000000;
  cr_assert_str_eq(t.log, "abBA");
  cr_assert(ms >= 55 && ms < 1000, "took %llu ms", (unsigned long long)ms);
  crpc_loop_free(loop);
}

typedef struct awaiter {
  crpc_future *f;
  int64_t timeout;
  int rc;
  crpc_status seen;
} awaiter;

static crpc_status body_await(void *arg) {
  awaiter *a = arg;
  a->rc = a->timeout < 0 ? crpc_await(a->f)
                         : crpc_future_wait_for(a->f, a->timeout);
  a->seen = crpc_future_status(a->f);
  return CRPC_STATUS_OK;
}

static void complete_after(void *arg) {
  crpc_future *f = arg;
  uv_sleep(20);
  crpc_future_complete(f, CRPC_STATUS_PERMISSION_DENIED, NULL, NULL, NULL);
}

Test(coro, await_suspends_until_another_thread_completes, .timeout = 10) {
  crpc_loop *loop = new_loop(NULL);
  awaiter a = {.timeout = -1};
  uv_thread_t th;
  crpc_future_new(NULL, &a.f);
  crpc_coro_spawn(loop, body_await, &a, NULL);
  uv_thread_create(&th, complete_after, a.f);
  crpc_loop_run(loop, CRPC_RUN_DEFAULT);
  uv_thread_join(&th);
  cr_assert_eq(a.rc, 0);
  cr_assert_eq(a.seen, CRPC_STATUS_PERMISSION_DENIED);
  crpc_future_unref(a.f);
  crpc_loop_free(loop);
}

Test(coro, await_with_timeout_gives_up_and_detaches, .timeout = 10) {
  crpc_loop *loop = new_loop(NULL);
  awaiter a = {.timeout = 15};
  crpc_future_new(NULL, &a.f);
  crpc_coro_spawn(loop, body_await, &a, NULL);
  crpc_loop_run(loop, CRPC_RUN_DEFAULT);
  cr_assert_eq(a.rc, CRPC_ETIMEDOUT);
  cr_assert_eq(a.seen, CRPC_STATUS_UNKNOWN);
  /* Completing after the waiter left must not touch its stack. */
  crpc_future_complete(a.f, CRPC_STATUS_OK, NULL, NULL, NULL);
  crpc_loop_run(loop, CRPC_RUN_DEFAULT);
  crpc_future_unref(a.f);

  /* A future that completes in time wins over the timer. */
  awaiter b = {.timeout = 5000};
  uv_thread_t th;
  crpc_future_new(NULL, &b.f);
  crpc_coro_spawn(loop, body_await, &b, NULL);
  uv_thread_create(&th, complete_after, b.f);
  crpc_loop_run(loop, CRPC_RUN_DEFAULT);
  uv_thread_join(&th);
  cr_assert_eq(b.rc, 0);
  cr_assert_eq(b.seen, CRPC_STATUS_PERMISSION_DENIED);
  crpc_future_unref(b.f);
  crpc_loop_free(loop);
}

typedef struct spawner {
  crpc_loop *loop;
  crpc_future *done;
  trace t;
} spawner;

static void spawn_from_thread(void *arg) {
  spawner *s = arg;
  cr_assert_eq(crpc_coro_spawn(s->loop, body_simple, &s->t, &s->done), 0);
}

Test(coro, spawn_from_another_thread, .timeout = 10) {
  crpc_loop *loop = new_loop(NULL);
  spawner s = {.loop = loop};
  uv_thread_t th;
  cr_assert_eq(crpc_loop_start_thread(loop), 0);
  uv_thread_create(&th, spawn_from_thread, &s);
  uv_thread_join(&th);
  cr_assert_eq(crpc_future_wait(s.done), 0);
  cr_assert_eq(crpc_future_status(s.done), CRPC_STATUS_ALREADY_EXISTS);
  crpc_loop_stop(loop);
  crpc_future_unref(s.done);
  crpc_loop_free(loop);
}

/* Thousands of coroutines, each suspending many times. */
/* ThreadSanitizer makes each switch a fiber switch of its own, about a
 * hundred times dearer: 5000 coroutines took 45-75 s of a 60 s limit on a
 * busy two-core machine, so it gets fewer (still far above the loop's
 * coroutine cache). */
#if defined(__SANITIZE_THREAD__) || defined(CRPC_SANITIZE_THREAD)
#define MANY 1000
#else
#define MANY 5000
#endif

typedef struct many {
  atomic_int steps;
  atomic_int finished;
} many;

static crpc_status body_many(void *arg) {
  many *m = arg;
  for (int i = 0; i < 10; i++) {
    cr_assert_eq(crpc_yield(), 0);
    atomic_fetch_add(&m->steps, 1);
  }
  crpc_sleep(1);
  atomic_fetch_add(&m->finished, 1);
  return CRPC_STATUS_OK;
}

Test(coro, thousands_of_coroutines_suspend_and_resume, .timeout = 60) {
  crpc_loop *loop = new_loop(NULL);
  static many m;
  crpc_future *fs[MANY], *all;
  atomic_store(&m.steps, 0);
  atomic_store(&m.finished, 0);
  for (int i = 0; i < MANY; i++)
    cr_assert_eq(crpc_coro_spawn(loop, body_many, &m, &fs[i]), 0);
  crpc_future_all(fs, MANY, &all);
  crpc_loop_run(loop, CRPC_RUN_DEFAULT);
  cr_assert(crpc_future_is_done(all));
  cr_assert_eq(atomic_load(&m.steps), MANY * 10);
  cr_assert_eq(atomic_load(&m.finished), MANY);
  crpc_future_unref(all);
  for (int i = 0; i < MANY; i++)
    crpc_future_unref(fs[i]);
  crpc_loop_free(loop);
}

static void *add_one(void *arg) {
  int *v = arg;
  uv_sleep(5);
  (*v)++;
  return v;
}

typedef struct blocking {
  int value;
  int rc;
  void *result;
  int ticks_during;
  atomic_int ticks;
} blocking;

static crpc_status body_blocking(void *arg) {
  blocking *b = arg;
  b->rc = crpc_run_blocking(add_one, &b->value, &b->result);
  return CRPC_STATUS_OK;
}

static crpc_status body_ticker(void *arg) {
  blocking *b = arg;
  for (int i = 0; i < 3; i++) {
    atomic_fetch_add(&b->ticks, 1);
    crpc_yield();
  }
  return CRPC_STATUS_OK;
}

Test(coro, run_blocking_hands_work_to_the_pool, .timeout = 10) {
  crpc_pool *pool;
  crpc_pool_opts po = {.threads = 2};
  cr_assert_eq(crpc_pool_new(&po, &pool), 0);
  crpc_loop *loop = new_loop(pool);
  blocking b = {.value = 41};
  crpc_coro_spawn(loop, body_blocking, &b, NULL);
  crpc_coro_spawn(loop, body_ticker, &b, NULL);
  crpc_loop_run(loop, CRPC_RUN_DEFAULT);
  cr_assert_eq(b.rc, 0);
  cr_assert_eq(b.value, 42);
  cr_assert_eq(b.result, &b.value);
  cr_assert_eq(atomic_load(&b.ticks), 3, "the loop was blocked");
  crpc_loop_free(loop);
  crpc_pool_free(pool);

  /* On a plain thread it just runs. */
  void *r = NULL;
  int v = 1;
  cr_assert_eq(crpc_run_blocking(add_one, &v, &r), 0);
  cr_assert_eq(v, 2);
}

Test(coro, run_blocking_without_a_pool_fails, .timeout = 10) {
  crpc_loop *loop = new_loop(NULL);
  blocking b = {.value = 1};
  crpc_coro_spawn(loop, body_blocking, &b, NULL);
  crpc_loop_run(loop, CRPC_RUN_DEFAULT);
  cr_assert_eq(b.rc, CRPC_ENOPOOL);
  cr_assert_eq(b.value, 1);
  crpc_loop_free(loop);
}

typedef struct loop_calls {
  int sleep_rc, yield_rc, block_rc;
} loop_calls;

static void calls_on_loop(void *arg) {
  loop_calls *c = arg;
  int v = 0;
  c->sleep_rc = crpc_sleep(1);
  c->yield_rc = crpc_yield();
  c->block_rc = crpc_run_blocking(add_one, &v, NULL);
}

Test(coro, suspending_calls_outside_a_coroutine, .timeout = 10) {
  crpc_loop *loop = new_loop(NULL);
  loop_calls c = {0};
  crpc_loop_post(loop, calls_on_loop, &c);
  crpc_loop_run(loop, CRPC_RUN_DEFAULT);
  cr_assert_eq(c.sleep_rc, CRPC_ELOOPTHREAD);
  cr_assert_eq(c.yield_rc, CRPC_ENOTCORO);
  cr_assert_eq(c.block_rc, CRPC_ELOOPTHREAD);
  crpc_loop_free(loop);
  cr_assert_eq(crpc_sleep(1), 0, "a plain thread just sleeps");
  cr_assert_eq(crpc_yield(), CRPC_ENOTCORO);
}

static size_t touch_stack(size_t depth) {
  volatile char buf[1024];
  memset((char *)buf, (int)depth, sizeof(buf));
  if (depth == 0)
    return buf[0];
  return touch_stack(depth - 1) + buf[depth % sizeof(buf)];
}

static crpc_status body_deep(void *arg) {
  size_t *depth = arg;
  touch_stack(*depth);
  return CRPC_STATUS_OK;
}

Test(coro, deep_stacks_within_the_limit_work, .timeout = 10) {
  crpc_loop *loop = new_loop(NULL);
  size_t depth = 100; /* ~100 KiB of the 256 KiB stack */
  crpc_future *done;
  crpc_coro_spawn(loop, body_deep, &depth, &done);
  crpc_loop_run(loop, CRPC_RUN_DEFAULT);
  cr_assert_eq(crpc_future_status(done), CRPC_STATUS_OK);
  crpc_future_unref(done);
  crpc_loop_free(loop);
}

/* Overflowing a coroutine stack must fault on the guard page rather than
 * silently corrupt memory. The sanitizers catch that fault and report a
 * stack overflow themselves, exiting with their own status; the report goes
 * to /dev/null so that it is not mistaken for a finding. */
#if defined(__SANITIZE_ADDRESS__) || defined(CRPC_SANITIZE_ADDRESS)
#define OVERFLOW_ENDS .exit_code = 1
#elif defined(__SANITIZE_THREAD__) || defined(CRPC_SANITIZE_THREAD)
#define OVERFLOW_ENDS .exit_code = 66
#else
#define OVERFLOW_ENDS .signal = SIGSEGV
#endif

Test(coro, stack_overflow_hits_the_guard_page, OVERFLOW_ENDS, .timeout = 10) {
  cr_assert_not_null(freopen("/dev/null", "w", stderr));
  crpc_loop *loop = new_loop(NULL);
  size_t depth = 100000;
  crpc_coro_spawn(loop, body_deep, &depth, NULL);
  crpc_loop_run(loop, CRPC_RUN_DEFAULT);
}

typedef struct slow_log {
  int debug_lines;
} slow_log;

static void capture(crpc_log_level level, const char *msg, void *ud) {
  slow_log *s = ud;
  if (level == CRPC_LOG_DEBUG && strstr(msg, "without suspending"))
    s->debug_lines++;
}

static crpc_status body_busy(void *arg) {
  (void)arg;
  uint64_t t0 = uv_hrtime();
  while (uv_hrtime() - t0 < 30 * 1000000ull)
    ;
  return CRPC_STATUS_OK;
}

Test(coro, a_coroutine_that_hogs_the_loop_is_reported, .timeout = 10) {
  slow_log s = {0};
  crpc_loop_opts o;
  crpc_loop *loop;
  crpc_loop_opts_init(&o);
  o.slow_coro_ms = 10;
  o.logger = (crpc_logger){
      .level = CRPC_LOG_DEBUG, .level_set = 1, .fn = capture, .user_data = &s};
  cr_assert_eq(crpc_loop_new(NULL, &o, &loop), 0);
  trace t = {0};
  crpc_coro_spawn(loop, body_simple, &t, NULL);
  crpc_loop_run(loop, CRPC_RUN_DEFAULT);
  cr_assert_eq(s.debug_lines, 0);
  crpc_coro_spawn(loop, body_busy, NULL, NULL);
  crpc_loop_run(loop, CRPC_RUN_DEFAULT);
  cr_assert_eq(s.debug_lines, 1);
  crpc_loop_free(loop);
}

Test(coro, ucontext_and_asm_agree_on_the_abi, .timeout = 10) {
  /* Floating-point and callee-saved state survive switches. */
  crpc_loop *loop = new_loop(NULL);
  trace t = {0};
  sleeper a = {.t = &t, .c = 'a', .ms = 1};
  volatile double x = 1.5;
  crpc_coro_spawn(loop, body_sleep, &a, NULL);
  crpc_loop_run(loop, CRPC_RUN_DEFAULT);
  cr_assert_eq(x * 2, 3.0);
  crpc_loop_free(loop);
}

typedef struct warn_sink {
  int warnings;
} warn_sink;

static void count_warnings(crpc_log_level level, const char *msg, void *ud) {
  warn_sink *w = ud;
  if (level == CRPC_LOG_WARN && strstr(msg, "1 coroutine(s) still suspended"))
    w->warnings++;
}

/* LeakSanitizer's switch for allocations meant to outlive the test; weak,
 * so that builds without it skip the calls. */
void __lsan_disable(void) __attribute__((weak));
void __lsan_enable(void) __attribute__((weak));

static crpc_status body_forever(void *arg) {
  crpc_await(arg); /* never completed */
  return CRPC_STATUS_OK;
}

Test(coro, freeing_a_loop_with_a_suspended_coroutine_warns, .timeout = 10) {
  warn_sink w = {0};
  crpc_loop_opts o;
  crpc_loop *loop;
  crpc_future *never;
  crpc_loop_opts_init(&o);
  o.logger = (crpc_logger){.fn = count_warnings, .user_data = &w};
  cr_assert_eq(crpc_loop_new(NULL, &o, &loop), 0);
  crpc_future_new(NULL, &never);
  if (__lsan_disable)
    __lsan_disable(); /* the suspended coroutine is the documented leak */
  crpc_coro_spawn(loop, body_forever, never, NULL);
  crpc_loop_run(loop, CRPC_RUN_NOWAIT);
  crpc_loop_run(loop, CRPC_RUN_NOWAIT);
  if (__lsan_enable)
    __lsan_enable();
  crpc_loop_free(loop);
  cr_assert_eq(w.warnings, 1);
  /* The suspended coroutine's listener still sits on |never|; completing
   * it would wake a coroutine whose loop is gone, so it stays pending. */
  crpc_future_unref(never);
}

static crpc_status body_nap(void *arg) {
  (void)arg;
  crpc_sleep(1);
  return CRPC_STATUS_OK;
}

/* Runs |n| coroutines that are all suspended at once, to the end. */
static void wave(crpc_loop *loop, int n) {
  crpc_future *fs[300];
  cr_assert_leq(n, 300);
  for (int i = 0; i < n; i++)
    cr_assert_eq(crpc_coro_spawn(loop, body_nap, NULL, &fs[i]), 0);
  crpc_loop_run(loop, CRPC_RUN_DEFAULT);
  for (int i = 0; i < n; i++)
    crpc_future_unref(fs[i]);
}

/* The peak's extra coroutines are kept for |coro_trim_ms| (a second): the
 * tests set it far longer than a wave takes, or to nothing, so that they
 * do not depend on how fast the machine runs the wave. */
Test(coro, a_load_above_the_cache_reuses_stacks, .timeout = 60) {
  crpc_loop *loop = new_loop(NULL);
  loop->coro_trim_ms = 3600 * 1000;
  wave(loop, 300);
  size_t maps = loop->stacks.maps;
  cr_assert_geq(maps, 300);
  cr_assert_geq(loop->coro_cached, 300);
  /* The same load again: every coroutine gets a kept stack. */
  wave(loop, 300);
  cr_assert_eq(loop->stacks.maps, maps, "%zu new stacks for the second wave",
               loop->stacks.maps - maps);
  crpc_loop_free(loop);
}

Test(coro, the_extra_stacks_go_back_once_the_peak_is_old, .timeout = 60) {
  crpc_loop *loop = new_loop(NULL);
  loop->coro_trim_ms = 0;
  /* The loop runs out of coroutines at the end of the wave, when the peak
   * is old enough: the cache is back to its configured size. */
  wave(loop, 300);
  cr_assert_geq(loop->stacks.maps, 300);
  cr_assert_leq(loop->coro_cached, 64);
  cr_assert_leq(loop->stacks.cached, 64);
  crpc_loop_free(loop);
}

static crpc_status body_where(void *arg) {
  volatile char here = 0;
  *(uintptr_t *)arg = (uintptr_t)&here;
  return CRPC_STATUS_OK;
}

/* Coroutines spawned in a burst that each run to the end without
 * suspending (a loop's unary handlers) all run on the stack the last one
 * gave back, which the CPU still caches, rather than each on its own. */
Test(coro, a_burst_that_never_suspends_runs_on_one_stack, .timeout = 60) {
  enum { N = 100 };
  static uintptr_t where[N];
  crpc_loop *loop = new_loop(NULL);
  for (int i = 0; i < N; i++)
    cr_assert_eq(crpc_coro_spawn(loop, body_where, &where[i], NULL), 0);
  crpc_loop_run(loop, CRPC_RUN_DEFAULT);
  /* Each held a stack of its own while it waited for its first run. */
  cr_assert_geq(loop->stacks.maps, N);
  for (int i = 1; i < N; i++)
    cr_assert_eq(where[i], where[0], "coroutine %d ran on another stack", i);
  crpc_loop_free(loop);
}
