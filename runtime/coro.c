/*
 * runtime/coro.c: the coroutine scheduler of a crpc_loop.
 *
 * Coroutines are resumed only from loop tasks, in the scheduler context (the
 * loop thread's own stack), and switch back to it when they suspend or
 * finish; they never switch to each other directly. A suspended coroutine is
 * woken by queueing its embedded resume task, which any thread may do.
 */
#include "coro_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "call_scope.h"
#include "crpc/error.h"
#include "future_internal.h"
#include "log_internal.h"
#include "pool_internal.h"
#include "stack.h"

#if defined(__SANITIZE_ADDRESS__) || defined(CRPC_SANITIZE_ADDRESS)
#define CORO_ASAN 1
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom,
                                    size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save,
                                     const void **bottom_old, size_t *size_old);
#endif
#if defined(__SANITIZE_THREAD__) || defined(CRPC_SANITIZE_THREAD)
#define CORO_TSAN 1
void *__tsan_get_current_fiber(void);
void *__tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void *fiber);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
#endif

enum { CORO_READY, CORO_RUNNING, CORO_SUSPENDED, CORO_DONE };

struct crpc__coro {
  crpc__ctx ctx;
  crpc_loop *loop;
  crpc__stack *stack;
  crpc_coro_fn fn;
  void *arg;
  crpc_future *done;
  crpc_status result;
  int state;
  crpc__task resume_task;
  uint64_t resumed_at;
  uv_timer_t timer; /* sleeps and await timeouts; created on first use */
  int timer_ready;
  int timed_out;
  crpc__listener *await_listener; /* registered while awaiting */
  crpc_future *await_future;
  void *asan_fake_stack;
  void *tsan_fiber;
  crpc__coro *next_cached;
  const crpc__call_scope *scope; /* crpc__call_scope_enter() inside it */
  const char *label;             /* crpc__coro_set_label(), or NULL */
};

/* The coroutine this thread is running. Per-thread by nature. */
static _Thread_local crpc__coro *current_coro;

crpc__coro *crpc__coro_current(void) {
  return current_coro;
}

int crpc_in_coroutine(void) {
  return current_coro != NULL;
}

/* The call scope of this thread outside coroutines. */
static _Thread_local const crpc__call_scope *thread_scope;

const crpc__call_scope *crpc__call_scope_current(void) {
  return current_coro ? current_coro->scope : thread_scope;
}

const crpc__call_scope *crpc__call_scope_enter(const crpc__call_scope *scope) {
  const crpc__call_scope **slot =
      current_coro ? &current_coro->scope : &thread_scope;
  const crpc__call_scope *prev = *slot;
  *slot = scope;
  return prev;
}

/* Switches from the running context to |to|; |from_fake| is where ASan
 * keeps the leaving context's fake stack (NULL: the leaving context ends). */
static void switch_ctx(crpc__ctx *from, crpc__ctx *to, void **from_fake,
                       const void *to_bottom, size_t to_size, void *to_fiber) {
#ifdef CORO_ASAN
  __sanitizer_start_switch_fiber(from_fake, to_bottom, to_size);
#else
  (void)from_fake;
  (void)to_bottom;
  (void)to_size;
#endif
#ifdef CORO_TSAN
  __tsan_switch_to_fiber(to_fiber, 0);
#else
  (void)to_fiber;
#endif
  crpc__ctx_switch(from, to);
}

static void after_switch(void *fake, const void **old_bottom,
                         size_t *old_size) {
#ifdef CORO_ASAN
  __sanitizer_finish_switch_fiber(fake, old_bottom, old_size);
#else
  (void)fake;
  (void)old_bottom;
  (void)old_size;
#endif
}

static crpc__ctx *sched_ctx(crpc_loop *loop) {
  return (crpc__ctx *)loop->sched_ctx;
}

/* Leaves the coroutine for the scheduler; returns when resumed. */
static void to_scheduler(crpc__coro *co, int final) {
  crpc_loop *loop = co->loop;
  switch_ctx(&co->ctx, sched_ctx(loop), final ? NULL : &co->asan_fake_stack,
             loop->sched_stack_bottom, loop->sched_stack_size,
             loop->sched_fiber);
  /* Resumed: the stack we came from is the scheduler's. */
  after_switch(co->asan_fake_stack, &loop->sched_stack_bottom,
               &loop->sched_stack_size);
}

static void coro_entry(void *arg) {
  crpc__coro *co = arg;
  crpc_loop *loop = co->loop;
  /* First entry: learn the scheduler's stack for later switches back. */
  after_switch(NULL, &loop->sched_stack_bottom, &loop->sched_stack_size);
  co->result = co->fn(co->arg);
  co->state = CORO_DONE;
  to_scheduler(co, 1);
  abort(); /* a finished coroutine is never resumed */
}

static void cache_or_free(crpc_loop *loop, crpc__coro *co);
static void trim_cache(crpc_loop *loop);

static void report_slow(crpc__coro *co, uint64_t ran_ns) {
  crpc__log(&co->loop->opts.logger, CRPC_LOG_DEBUG,
            "coroutine %s ran %.1f ms without suspending",
            co->label ? co->label : "(unnamed)", (double)ran_ns / 1e6);
}

void crpc__coro_set_label(const char *label) {
  crpc__coro *co = current_coro;
  co->label = label;
  atomic_store_explicit(&co->loop->running_label, label, memory_order_relaxed);
}

static void finish(crpc__coro *co) {
  crpc_loop *loop = co->loop;
  crpc_future *done = co->done;
  co->done = NULL;
  if (done != NULL) {
    crpc_future_complete(done, co->result, NULL, NULL, NULL);
    crpc_future_unref(done);
  }
  /* The stack goes back first: the next coroutine to start takes it. */
  crpc__stack_put(&loop->stacks, co->stack);
  co->stack = NULL;
  cache_or_free(loop, co);
  loop->coro_live--;
  if (loop->coro_live == 0)
    trim_cache(loop);
  crpc__loop_release(loop);
}

/* Now in ns, on the clock that times coroutines' runs: the same time
 * base as crpc_now_ns(), maybe a tick behind. */
static uint64_t run_clock_ns(const crpc_loop *loop) {
  struct timespec ts;
  if (loop->run_clock == 0 || clock_gettime(loop->run_clock, &ts) != 0)
    return uv_hrtime();
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A coroutine's first run: it starts on the stack the loop's pool had
 * back last, if there is one, giving its own back instead. Coroutines that
 * run to the end one after another (a loop's unary handlers, queued in a
 * burst) then all run on one stack that stays in the CPU's caches, where
 * each would otherwise touch a stack of its own, cold since its last use.
 * Each keeps the stack it took when spawned until then, so that spawning
 * is where running out of stacks shows. */
static void first_run(crpc_loop *loop, crpc__coro *co) {
  crpc__stack *hot = crpc__stack_take_cached(&loop->stacks);
  if (hot != NULL) {
    crpc__stack_put(&loop->stacks, co->stack);
    co->stack = hot;
  }
  crpc__ctx_make(&co->ctx, co->stack->base, co->stack->size, coro_entry, co);
}

static void resume(crpc__coro *co) {
  crpc_loop *loop = co->loop;
  if (co->state == CORO_READY)
    first_run(loop, co);
#ifdef CORO_TSAN
  loop->sched_fiber = __tsan_get_current_fiber();
#endif
  co->state = CORO_RUNNING;
  loop->current = co;
  current_coro = co;
  co->resumed_at = run_clock_ns(loop);
  /* For the watchdog: what runs, and since when. */
  atomic_store_explicit(&loop->running_label, co->label, memory_order_relaxed);
  atomic_store_explicit(&loop->running_since_ns, (int64_t)co->resumed_at,
                        memory_order_relaxed);
  void *fake = NULL;
  switch_ctx(sched_ctx(loop), &co->ctx, &fake, co->stack->base, co->stack->size,
             co->tsan_fiber);
  after_switch(fake, NULL, NULL);
  current_coro = NULL;
  loop->current = NULL;
  atomic_store_explicit(&loop->running_label, NULL, memory_order_relaxed);
  uint64_t ran = run_clock_ns(loop) - co->resumed_at;
  if (ran > loop->slow_ns)
    report_slow(co, ran);
  if (co->state == CORO_DONE)
    finish(co);
}

static void resume_task(crpc__task *t) {
  crpc__coro *co =
      (crpc__coro *)((char *)t - offsetof(crpc__coro, resume_task));
  resume(co);
}

void crpc__coro_wake(crpc__coro *co) {
  crpc__loop_post_task(co->loop, &co->resume_task);
}

void crpc__coro_suspend(void) {
  crpc__coro *co = current_coro;
  co->state = CORO_SUSPENDED;
  to_scheduler(co, 0);
}

static void coro_free(crpc__coro *co) {
#ifdef CORO_TSAN
  if (co->tsan_fiber)
    __tsan_destroy_fiber(co->tsan_fiber);
#endif
  free(co);
}

static void on_timer_closed(uv_handle_t *h) {
  coro_free(h->data);
}

static void release_coro(crpc__coro *co) {
  if (co->timer_ready)
    uv_close((uv_handle_t *)&co->timer, on_timer_closed);
  else
    coro_free(co);
}

static void cache_or_free(crpc_loop *loop, crpc__coro *co) {
  size_t keep = loop->opts.coro_cache;
  if (loop->coro_peak > keep)
    keep = loop->coro_peak;
  if (loop->coro_cached >= keep) {
    release_coro(co);
    return;
  }
  co->next_cached = loop->coro_cache;
  loop->coro_cache = co;
  loop->coro_cached++;
}

/* The loop has no coroutine left: once the peak that grew the cache is
 * |coro_trim_ms| old, the cache shrinks back to coro_cache. */
static void trim_cache(crpc_loop *loop) {
  if (loop->coro_peak <= loop->opts.coro_cache ||
      uv_now(loop->uv) - loop->coro_peak_ms < loop->coro_trim_ms)
    return;
  while (loop->coro_cached > loop->opts.coro_cache) {
    crpc__coro *co = loop->coro_cache;
    loop->coro_cache = co->next_cached;
    loop->coro_cached--;
    release_coro(co);
  }
  crpc__stack_pool_trim(&loop->stacks, loop->opts.coro_cache);
  loop->coro_peak = 0;
}

static void free_cache(crpc_loop *loop) {
  if (loop->coro_live > 0)
    crpc__log(&loop->opts.logger, CRPC_LOG_WARN,
              "loop freed with %zu coroutine(s) still suspended; they will "
              "not resume and their stacks are not released",
              loop->coro_live);
  while (loop->coro_cache != NULL) {
    crpc__coro *co = loop->coro_cache;
    loop->coro_cache = co->next_cached;
    release_coro(co);
  }
  loop->coro_cached = 0;
}

/* A coroutine, from the cache when it has one, with a stack. */
static crpc__coro *coro_alloc(crpc_loop *loop) {
  crpc__stack *stack = crpc__stack_get(&loop->stacks);
  if (stack == NULL)
    return NULL;
  crpc__coro *co = loop->coro_cache;
  if (co != NULL) {
    loop->coro_cache = co->next_cached;
    loop->coro_cached--;
  } else if ((co = calloc(1, sizeof(*co))) != NULL) {
    co->loop = loop;
  } else {
    crpc__stack_put(&loop->stacks, stack);
    return NULL;
  }
  co->stack = stack;
  return co;
}

static int ensure_scheduler(crpc_loop *loop) {
  if (loop->sched_ctx != NULL)
    return 0;
  loop->sched_ctx = calloc(1, sizeof(crpc__ctx));
  if (loop->sched_ctx == NULL)
    return CRPC_ENOMEM;
  loop->on_free = free_cache;
  return 0;
}

/* Creates the coroutine on its loop's thread and queues its first run. */
static int start_here(crpc_loop *loop, crpc_coro_fn fn, void *arg,
                      crpc_future *done) {
  if (ensure_scheduler(loop) != 0)
    return CRPC_ENOMEM;
  crpc__coro *co = coro_alloc(loop);
  if (co == NULL)
    return CRPC_ESTACK;
  co->fn = fn;
  co->scope = NULL;
  co->label = NULL;
  co->arg = arg;
  co->done = done;
  co->state = CORO_READY;
  co->timed_out = 0;
  co->asan_fake_stack = NULL;
  co->resume_task.fn = resume_task;
#ifdef CORO_TSAN
  co->tsan_fiber = __tsan_create_fiber(0);
#endif
  loop->coro_live++;
  if (loop->coro_live > loop->coro_peak) {
    loop->coro_peak = loop->coro_live;
    loop->coro_peak_ms = uv_now(loop->uv);
    /* The pool keeps the peak's stacks, as the cache its coroutines. */
    if (loop->coro_peak > loop->stacks.cache_max)
      loop->stacks.cache_max = loop->coro_peak;
  }
  crpc__loop_hold(loop);
  crpc__loop_post_task(loop, &co->resume_task);
  return 0;
}

typedef struct spawn_rec {
  crpc__task task;
  crpc_loop *loop;
  crpc_coro_fn fn;
  void *arg;
  crpc_future *done;
} spawn_rec;

static void spawn_task(crpc__task *t) {
  spawn_rec *s = (spawn_rec *)t;
  int rc = start_here(s->loop, s->fn, s->arg, s->done);
  if (rc != 0 && s->done != NULL) {
    crpc_future_complete(s->done, CRPC_STATUS_RESOURCE_EXHAUSTED,
                         crpc_strerror(rc), NULL, NULL);
    crpc_future_unref(s->done);
  }
  crpc__loop_release(s->loop);
  free(s);
}

static int spawn_remote(crpc_loop *loop, crpc_coro_fn fn, void *arg,
                        crpc_future *done) {
  spawn_rec *s = malloc(sizeof(*s));
  if (s == NULL)
    return CRPC_ENOMEM;
  *s = (spawn_rec){
      .task.fn = spawn_task, .loop = loop, .fn = fn, .arg = arg, .done = done};
  crpc__loop_hold(loop);
  int rc = crpc__loop_post_task(loop, &s->task);
  if (rc != 0) {
    crpc__loop_release(loop);
    free(s);
  }
  return rc;
}

int crpc_coro_spawn(crpc_loop *loop, crpc_coro_fn fn, void *arg,
                    crpc_future **done) {
  crpc_future *f = NULL;
  int rc;
  if (loop == NULL || fn == NULL)
    return CRPC_EINVAL;
  if (done != NULL) {
    rc = crpc_future_new(loop, &f);
    if (rc != 0)
      return rc;
    /* One reference for the coroutine, one for the caller. */
    crpc_future_ref(f);
  }
  if (crpc_loop_is_current(loop))
    rc = start_here(loop, fn, arg, f);
  else
    rc = spawn_remote(loop, fn, arg, f);
  if (rc != 0) {
    crpc_future_unref(f);
    crpc_future_unref(f);
    return rc;
  }
  if (done != NULL)
    *done = f;
  return 0;
}

typedef struct await_rec {
  crpc__listener l;
  crpc__coro *co;
} await_rec;

static void await_fire(crpc__listener *l, crpc_future *f) {
  (void)f;
  crpc__coro_wake(((await_rec *)l)->co);
}

static void on_timeout(uv_timer_t *t) {
  crpc__coro *co = t->data;
  /* Still registered means the future has not fired: the timeout wins and
   * wakes. Otherwise the listener's wake is already on its way. */
  if (co->await_listener == NULL ||
      crpc__future_unlisten(co->await_future, co->await_listener)) {
    co->timed_out = 1;
    crpc__coro_wake(co);
  }
}

static void arm_timer(crpc__coro *co, int64_t ms) {
  if (!co->timer_ready) {
    uv_timer_init(co->loop->uv, &co->timer);
    co->timer.data = co;
    co->timer_ready = 1;
  }
  co->timed_out = 0;
  uv_timer_start(&co->timer, on_timeout, (uint64_t)ms, 0);
}

int crpc__coro_await(crpc_future *f, int64_t timeout_ms) {
  crpc__coro *co = current_coro;
  await_rec w = {.l.fn = await_fire, .co = co};

  if (crpc_future_is_done(f))
    return 0;
  if (timeout_ms >= 0) {
    co->await_listener = &w.l;
    co->await_future = f;
    arm_timer(co, timeout_ms);
  }
  crpc__future_listen(f, &w.l);
  crpc__coro_suspend();
  if (timeout_ms >= 0) {
    uv_timer_stop(&co->timer);
    co->await_listener = NULL;
    co->await_future = NULL;
  }
  return co->timed_out ? CRPC_ETIMEDOUT : 0;
}

int crpc_await(crpc_future *f) {
  return crpc_future_wait(f);
}

int crpc_sleep(int64_t ms) {
  crpc__coro *co = current_coro;
  if (ms < 0)
    ms = 0;
  if (co == NULL) {
    if (crpc_loop_current() != NULL)
      return CRPC_ELOOPTHREAD;
    crpc_pool *pool = crpc__pool_blocking_begin();
    uv_sleep((unsigned int)ms);
    crpc__pool_blocking_end(pool);
    return 0;
  }
  co->await_listener = NULL;
  arm_timer(co, ms);
  crpc__coro_suspend();
  co->timed_out = 0;
  return 0;
}

int crpc_yield(void) {
  crpc__coro *co = current_coro;
  if (co == NULL)
    return CRPC_ENOTCORO;
  crpc__coro_wake(co);
  crpc__coro_suspend();
  return 0;
}

typedef struct blocking_job {
  crpc__job job;
  crpc_blocking_fn fn;
  void *arg;
  void *result;
  crpc__coro *co;
} blocking_job;

static void blocking_work(crpc__job *j) {
  blocking_job *b = (blocking_job *)j;
  b->result = b->fn(b->arg);
}

static void blocking_done(crpc__job *j, int status) {
  blocking_job *b = (blocking_job *)j;
  b->job.status = status;
  crpc__coro_wake(b->co);
}

int crpc_run_blocking(crpc_blocking_fn fn, void *arg, void **result) {
  crpc__coro *co = current_coro;
  if (co == NULL) {
    if (crpc_loop_current() != NULL)
      return CRPC_ELOOPTHREAD;
    void *r = fn(arg);
    if (result)
      *result = r;
    return 0;
  }
  crpc_pool *pool = crpc_loop_pool(co->loop);
  if (pool == NULL)
    return CRPC_ENOPOOL;
  blocking_job b = {.job = {.work = blocking_work, .done = blocking_done},
                    .fn = fn,
                    .arg = arg,
                    .co = co};
  int rc = crpc__pool_submit(pool, co->loop, &b.job);
  if (rc != 0)
    return rc;
  crpc__coro_suspend();
  if (b.job.status != 0)
    return b.job.status;
  if (result)
    *result = b.result;
  return 0;
}
