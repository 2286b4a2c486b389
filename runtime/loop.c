/*
 * runtime/loop.c: crpc_loop, a libuv loop with a task queue any thread can
 * post to.
 *
 * Tasks from other threads go through |remote| under |mu| and wake the loop
 * with uv_async_send(); tasks from the loop's own thread go through |local|
 * without a lock and are drained by an idle handle, which also keeps the
 * poll from blocking while they wait. Kicks posted by a drain's tasks run
 * at its end (|soon|), before the loop polls.
 */
#include "loop_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crpc/error.h"
#include "log_internal.h"

#define DEFAULT_STACK_SIZE (256 * 1024)
#define DEFAULT_CORO_CACHE 64
#define DEFAULT_SLOW_CORO_MS 100

_Static_assert(CRPC_RUN_DEFAULT == (int)UV_RUN_DEFAULT &&
                   CRPC_RUN_ONCE == (int)UV_RUN_ONCE &&
                   CRPC_RUN_NOWAIT == (int)UV_RUN_NOWAIT,
               "crpc_run_mode mirrors uv_run_mode");

/* The loop whose thread this is. Per-thread by nature, like errno. */
static _Thread_local crpc_loop *current_loop;

crpc_loop *crpc__loop_set_current(crpc_loop *loop) {
  crpc_loop *prev = current_loop;
  current_loop = loop;
  return prev;
}

crpc_loop *crpc_loop_current(void) {
  return current_loop;
}

int crpc_loop_is_current(const crpc_loop *loop) {
  return loop != NULL && current_loop == loop;
}

uv_loop_t *crpc_loop_uv(crpc_loop *loop) {
  return loop->uv;
}

crpc_pool *crpc_loop_pool(crpc_loop *loop) {
  return loop->opts.pool;
}

void crpc_loop_opts_init(crpc_loop_opts *opts) {
  memset(opts, 0, sizeof(*opts));
  opts->coro_stack_size = DEFAULT_STACK_SIZE;
  opts->coro_cache = DEFAULT_CORO_CACHE;
  opts->slow_coro_ms = DEFAULT_SLOW_CORO_MS;
}

static void list_push(crpc__task_list *l, crpc__task *t) {
  t->next = NULL;
  if (l->tail)
    l->tail->next = t;
  else
    l->head = t;
  l->tail = t;
}

static void run_list(crpc__task *t) {
  while (t != NULL) {
    crpc__task *next = t->next;
    t->fn(t);
    t = next;
  }
}

/* The async handle is referenced exactly while something holds the loop,
 * so that UV_RUN_DEFAULT returns once all crpc work is done. */
static void sync_ref(crpc_loop *loop) {
  int want = atomic_load_explicit(&loop->holds, memory_order_acquire) > 0;
  if (want == loop->async_referenced || loop->closing)
    return;
  if (want)
    uv_ref((uv_handle_t *)&loop->async);
  else
    uv_unref((uv_handle_t *)&loop->async);
  loop->async_referenced = want;
}

void crpc__loop_hold(crpc_loop *loop) {
  atomic_fetch_add_explicit(&loop->holds, 1, memory_order_acq_rel);
  if (current_loop == loop)
    sync_ref(loop);
}

void crpc__loop_release(crpc_loop *loop) {
  atomic_fetch_sub_explicit(&loop->holds, 1, memory_order_acq_rel);
  if (current_loop == loop)
    sync_ref(loop);
}

static void on_idle(uv_idle_t *h);

static void start_idle(crpc_loop *loop) {
  if (!loop->idle_active && !loop->closing) {
    uv_idle_start(&loop->idle, on_idle);
    loop->idle_active = 1;
  }
}

/* How often the kicks of one drain may kick again within it. A kick is
 * bounded work that rarely kicks itself; the bound keeps one that does
 * from starving I/O. */
#define SOON_ROUNDS 4

/* Runs |t| and the kicks it posts. Other tasks posted meanwhile wait for
 * the next turn of the loop, so that I/O is not starved. */
static void run_drain(crpc_loop *loop, crpc__task *t) {
  int was = loop->draining;
  loop->draining = 1;
  run_list(t);
  for (int i = 0; i < SOON_ROUNDS && loop->soon.head != NULL; i++) {
    t = loop->soon.head;
    loop->soon.head = loop->soon.tail = NULL;
    run_list(t);
  }
  loop->draining = was;
  if (!was && loop->soon.head != NULL) { /* left for the next turn */
    if (loop->local.tail)
      loop->local.tail->next = loop->soon.head;
    else
      loop->local.head = loop->soon.head;
    loop->local.tail = loop->soon.tail;
    loop->soon.head = loop->soon.tail = NULL;
    start_idle(loop);
  }
}

static void drain_remote(crpc_loop *loop) {
  uv_mutex_lock(&loop->mu);
  crpc__task *t = loop->remote.head;
  loop->remote.head = loop->remote.tail = NULL;
  uv_mutex_unlock(&loop->mu);
  run_drain(loop, t);
}

/* Runs the tasks queued so far; tasks they post, except kicks, wait for
 * the next round. */
static void drain_local(crpc_loop *loop) {
  crpc__task *t = loop->local.head;
  loop->local.head = loop->local.tail = NULL;
  run_drain(loop, t);
}

static void on_async(uv_async_t *h) {
  crpc_loop *loop = h->data;
  crpc_loop *prev = crpc__loop_set_current(loop);
  crpc__loop_note_work(loop);
  drain_remote(loop);
  sync_ref(loop);
  crpc__loop_set_current(prev);
}

static void on_idle(uv_idle_t *h) {
  crpc_loop *loop = h->data;
  crpc_loop *prev = crpc__loop_set_current(loop);
  drain_local(loop);
  if (loop->local.head == NULL && loop->idle_active) {
    uv_idle_stop(&loop->idle);
    loop->idle_active = 0;
  }
  sync_ref(loop);
  crpc__loop_set_current(prev);
}

int crpc__loop_post_task(crpc_loop *loop, crpc__task *task) {
  if (current_loop == loop) {
    list_push(&loop->local, task);
    start_idle(loop);
    return 0;
  }
  uv_mutex_lock(&loop->mu);
  if (loop->closing) {
    uv_mutex_unlock(&loop->mu);
    return CRPC_ECLOSED;
  }
  /* A non-empty list already has a wake-up on its way. */
  int wake = loop->remote.head == NULL;
  list_push(&loop->remote, task);
  uv_mutex_unlock(&loop->mu);
  if (wake)
    uv_async_send(&loop->async);
  return 0;
}

uint64_t crpc__loop_random(crpc_loop *loop) {
  uint64_t z = (loop->random_state += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

void crpc__kick_init(crpc__kick *k, void (*fn)(crpc__task *task)) {
  k->task.next = NULL;
  k->task.fn = fn;
  atomic_init(&k->queued, 0);
}

int crpc__kick_post(crpc__kick *k, crpc_loop *loop) {
  if (atomic_exchange(&k->queued, 1))
    return 0;
  if (current_loop == loop && loop->draining) {
    list_push(&loop->soon, &k->task);
    return 1;
  }
  int rc = crpc__loop_post_task(loop, &k->task);
  if (rc != 0) {
    atomic_store(&k->queued, 0);
    return rc;
  }
  return 1;
}

void crpc__kick_taken(crpc__kick *k) {
  atomic_store(&k->queued, 0);
}

typedef struct post_rec {
  crpc__task task;
  crpc_loop *loop;
  crpc_loop_fn fn;
  void *arg;
} post_rec;

static void run_post(crpc__task *t) {
  post_rec *p = (post_rec *)t;
  crpc_loop *loop = p->loop;
  p->fn(p->arg);
  free(p);
  crpc__loop_release(loop);
}

int crpc_loop_post(crpc_loop *loop, crpc_loop_fn fn, void *arg) {
  post_rec *p = malloc(sizeof(*p));
  if (p == NULL)
    return CRPC_ENOMEM;
  p->task.fn = run_post;
  p->loop = loop;
  p->fn = fn;
  p->arg = arg;
  crpc__loop_hold(loop);
  int rc = crpc__loop_post_task(loop, &p->task);
  if (rc != 0) {
    crpc__loop_release(loop);
    free(p);
  }
  return rc;
}

#define DEFAULT_GATHER_US 20
#define MAX_GATHER_US 1000

static void apply_defaults(crpc_loop_opts *o) {
  if (o->gather_us == 0)
    o->gather_us = DEFAULT_GATHER_US;
  else if (o->gather_us > MAX_GATHER_US && o->gather_us != CRPC_GATHER_OFF)
    o->gather_us = MAX_GATHER_US;
  if (o->coro_stack_size == 0)
    o->coro_stack_size = DEFAULT_STACK_SIZE;
  if (o->coro_cache == 0)
    o->coro_cache = DEFAULT_CORO_CACHE;
  if (o->slow_coro_ms == 0)
    o->slow_coro_ms = DEFAULT_SLOW_CORO_MS;
}

/* A gathering turn's sleep, after the writes its prepare handles make
 * (libuv runs a loop's prepare handles newest first, and this one is the
 * oldest) and before its poll. None when the last turn worked longer than
 * the last sleep lasted: a loop that busy is behind, its next batch
 * already waits, and a sleep would only take from its capacity. */
static void on_gather(uv_prepare_t *h) {
  crpc_loop *loop = h->data;
  if (!loop->gather_now || loop->gather_worked_ns > loop->gather_slept_ns)
    return;
  struct timespec pause = {(time_t)(loop->gather_ns / 1000000000u),
                           (long)(loop->gather_ns % 1000000000u)};
  uint64_t t0 = uv_hrtime();
  nanosleep(&pause, NULL);
  loop->gather_slept_ns = uv_hrtime() - t0;
  loop->gather_turn_slept_ns = loop->gather_slept_ns;
}

static int init_handles(crpc_loop *loop) {
  int rc = uv_async_init(loop->uv, &loop->async, on_async);
  if (rc != 0)
    return rc;
  loop->async.data = loop;
  uv_unref((uv_handle_t *)&loop->async);
  uv_idle_init(loop->uv, &loop->idle);
  loop->idle.data = loop;
  uv_prepare_init(loop->uv, &loop->gather);
  loop->gather.data = loop;
  uv_prepare_start(&loop->gather, on_gather);
  uv_unref((uv_handle_t *)&loop->gather);
  loop->open_handles = 3;
  return 0;
}

int crpc_loop_new(uv_loop_t *uv, const crpc_loop_opts *opts, crpc_loop **out) {
  crpc_loop *loop = calloc(1, sizeof(*loop));
  int rc;

  if (loop == NULL)
    return CRPC_ENOMEM;
  if (opts != NULL)
    loop->opts = *opts;
  apply_defaults(&loop->opts);
  loop->random_state = uv_hrtime() ^ (uint64_t)(uintptr_t)loop;
  loop->slow_ns = (uint64_t)loop->opts.slow_coro_ms * 1000000u;
#ifdef CLOCK_MONOTONIC_COARSE
  struct timespec res;
  if (clock_getres(CLOCK_MONOTONIC_COARSE, &res) == 0 && res.tv_sec == 0 &&
      (uint64_t)res.tv_nsec * 10 <= loop->slow_ns)
    loop->run_clock = CLOCK_MONOTONIC_COARSE;
#endif
  loop->coro_trim_ms = CRPC__CORO_TRIM_MS;
  if (loop->opts.gather_us != CRPC_GATHER_OFF)
    loop->gather_ns = loop->gather_slept_ns =
        (uint64_t)loop->opts.gather_us * 1000;
  if (uv == NULL) {
    rc = uv_loop_init(&loop->own_uv);
    if (rc != 0)
      goto fail;
    loop->uv = &loop->own_uv;
    loop->owns_uv = 1;
  } else {
    loop->uv = uv;
  }
  rc = uv_mutex_init(&loop->mu);
  if (rc != 0)
    goto fail_loop;
  rc = init_handles(loop);
  if (rc != 0)
    goto fail_mutex;
  crpc__stack_pool_init(&loop->stacks, loop->opts.coro_stack_size,
                        loop->opts.coro_cache);
  atomic_init(&loop->holds, 0);
  atomic_init(&loop->running_label, NULL);
  atomic_init(&loop->running_since_ns, 0);
  if (!loop->owns_uv) {
    loop->thread = uv_thread_self();
    current_loop = loop;
  }
  *out = loop;
  return 0;

fail_mutex:
  uv_mutex_destroy(&loop->mu);
fail_loop:
  if (loop->owns_uv)
    uv_loop_close(&loop->own_uv);
fail:
  free(loop);
  return rc;
}

int crpc_loop_run(crpc_loop *loop, crpc_run_mode mode) {
  crpc_loop *prev = crpc__loop_set_current(loop);
  sync_ref(loop);
  int rc = uv_run(loop->uv, (uv_run_mode)mode);
  crpc__loop_set_current(prev);
  return rc;
}

/* Runs |loop| until it is stopped, polling without sleeping for
 * busy_poll_us after each turn that found work. */
static void run_busy_polling(crpc_loop *loop) {
  const uint64_t spin_ns = (uint64_t)loop->opts.busy_poll_us * 1000;
  uint64_t last_work_ns = 0;
  while (!loop->stop_requested) {
    uint64_t seen = loop->work_seen;
    uint64_t now = uv_hrtime();
    if (now - last_work_ns < spin_ns) {
      uv_run(loop->uv, UV_RUN_NOWAIT);
    } else {
      uv_run(loop->uv, UV_RUN_ONCE);
      now = uv_hrtime();
    }
    if (loop->work_seen != seen)
      last_work_ns = now;
  }
}

void crpc__loop_turn(crpc_loop *loop) {
  int state = loop->gather_state;
  uint64_t seen = loop->input_seen, requests = loop->requests_seen;
  if (state == CRPC__GATHER_BLOCK) {
    uv_run(loop->uv, UV_RUN_ONCE);
  } else {
    uint64_t t0 = uv_hrtime();
    loop->gather_now = state == CRPC__GATHER_SLEEP;
    loop->gather_turn_slept_ns = 0;
    uv_run(loop->uv, UV_RUN_NOWAIT);
    loop->gather_now = 0;
    loop->gather_worked_ns = uv_hrtime() - t0 - loop->gather_turn_slept_ns;
  }
  if (loop->input_seen == seen)
    loop->gather_state = CRPC__GATHER_BLOCK;
  else if (state == CRPC__GATHER_PROBE ||
           (state == CRPC__GATHER_SLEEP && loop->requests_seen - requests > 1))
    loop->gather_state = CRPC__GATHER_SLEEP;
  else
    loop->gather_state = CRPC__GATHER_PROBE;
}

static void thread_main(void *arg) {
  crpc_loop *loop = arg;
  crpc__loop_set_current(loop);
  if (loop->opts.busy_poll_us)
    run_busy_polling(loop);
  else if (loop->gather_ns)
    while (!loop->stop_requested)
      crpc__loop_turn(loop);
  while (!loop->stop_requested)
    uv_run(loop->uv, UV_RUN_DEFAULT);
  crpc__loop_set_current(NULL);
  if (loop->retired) {
    void (*fn)(void *) = loop->retired;
    void *fn_arg = loop->retired_arg;
    pthread_detach(pthread_self());
    crpc_loop_free(loop);
    fn(fn_arg);
  }
}

int crpc_loop_start_thread(crpc_loop *loop) {
  if (!loop->owns_uv || loop->thread_started)
    return CRPC_ESTATE;
  /* The loop runs until stopped, even with nothing to do. */
  crpc__loop_hold(loop);
  loop->async_referenced = 1;
  uv_ref((uv_handle_t *)&loop->async);
  int rc = uv_thread_create(&loop->thread, thread_main, loop);
  if (rc != 0) {
    crpc__loop_release(loop);
    return rc;
  }
  loop->thread_started = 1;
  return 0;
}

void crpc__loop_retire(crpc_loop *loop, void (*fn)(void *arg), void *arg) {
  loop->retired = fn;
  loop->retired_arg = arg;
  loop->stop_requested = 1;
  uv_stop(loop->uv);
}

static void stop_task(void *arg) {
  crpc_loop *loop = arg;
  loop->stop_requested = 1;
  uv_stop(loop->uv);
}

int crpc_loop_stop(crpc_loop *loop) {
  if (!loop->thread_started)
    return CRPC_ESTATE;
  if (current_loop == loop)
    return CRPC_ELOOPTHREAD;
  int rc = crpc_loop_post(loop, stop_task, loop);
  if (rc != 0)
    return rc;
  uv_thread_join(&loop->thread);
  loop->thread_started = 0;
  crpc__loop_release(loop);
  return 0;
}

static void free_memory(crpc_loop *loop) {
  crpc__stack_pool_cleanup(&loop->stacks);
  free(loop->sched_ctx);
  uv_mutex_destroy(&loop->mu);
  free(loop);
}

static void on_handle_closed(uv_handle_t *h) {
  crpc_loop *loop = h->data;
  if (--loop->open_handles == 0 && !loop->owns_uv)
    free_memory(loop);
}

static void close_stray_handle(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

static void close_owned_uv(crpc_loop *loop) {
  while (loop->open_handles > 0)
    uv_run(loop->uv, UV_RUN_ONCE);
  if (uv_loop_close(loop->uv) == UV_EBUSY) {
    crpc__log(&loop->opts.logger, CRPC_LOG_WARN,
              "loop freed with handles still open; closing them");
    uv_walk(loop->uv, close_stray_handle, NULL);
    uv_run(loop->uv, UV_RUN_DEFAULT);
    uv_loop_close(loop->uv);
  }
}

void crpc_loop_free(crpc_loop *loop) {
  if (loop == NULL)
    return;
  crpc_loop *prev = crpc__loop_set_current(loop);
  /* Queued work may queue more; run it all before closing the door. */
  while (loop->local.head != NULL || loop->remote.head != NULL) {
    drain_local(loop);
    drain_remote(loop);
  }
  uv_mutex_lock(&loop->mu);
  loop->closing = 1;
  uv_mutex_unlock(&loop->mu);
  if (loop->on_free)
    loop->on_free(loop);
  if (loop->idle_active)
    uv_idle_stop(&loop->idle);
  uv_close((uv_handle_t *)&loop->async, on_handle_closed);
  uv_close((uv_handle_t *)&loop->idle, on_handle_closed);
  uv_close((uv_handle_t *)&loop->gather, on_handle_closed);

  crpc__loop_set_current(prev == loop ? NULL : prev);
  if (loop->owns_uv) {
    close_owned_uv(loop);
    free_memory(loop);
  }
}
