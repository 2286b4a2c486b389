/* runtime/loop_internal.h: the crpc_loop structure and its task queue. */
#ifndef CRPC_LOOP_INTERNAL_H
#define CRPC_LOOP_INTERNAL_H

#include <assert.h>
#include <stdatomic.h>
#include <uv.h>

#include "crpc/loop.h"
#include "stack.h"

/* How long the coroutines cached beyond coro_cache for a burst outlive
 * its peak. */
#define CRPC__CORO_TRIM_MS 1000

/*
 * A unit of work queued on a loop, embedded in the object it belongs to so
 * that posting allocates nothing. It must stay valid until |fn| runs.
 */
typedef struct crpc__task {
  struct crpc__task *next;
  void (*fn)(struct crpc__task *task);
} crpc__task;

typedef struct crpc__task_list {
  crpc__task *head;
  crpc__task *tail;
} crpc__task_list;

typedef struct crpc__coro crpc__coro;

struct crpc_loop {
  uv_loop_t *uv;
  uv_loop_t own_uv;
  int owns_uv;
  crpc_loop_opts opts;

  /* Posted from other threads; |mu| guards |remote| and |closing|. Lock
   * order: a leaf (the wake-up is sent after it is released); callers
   * may hold a call's |mu| (client kicks). */
  uv_mutex_t mu;
  crpc__task_list remote;
  int closing;
  uv_async_t async;

  /* Loop thread only: crpc__loop_random()'s state. */
  uint64_t random_state;

  /* Posted from the loop's own thread; drained by |idle|. */
  crpc__task_list local;
  uv_idle_t idle;
  int idle_active;
  /* Kicks posted while a drain runs (|draining|): they run at its end,
   * in the same turn of the loop. */
  crpc__task_list soon;
  int draining;

  /* Work that must keep an UV_RUN_DEFAULT run alive: live coroutines,
   * pending pool jobs. Changed from any thread; the async handle's ref
   * follows it on the loop thread. */
  atomic_long holds;
  int async_referenced;
  int open_handles;

  /* Thread identity. */
  uv_thread_t thread;
  int thread_started;
  int stop_requested;
  /* crpc__loop_retire(): what the thread runs once it has freed the loop. */
  void (*retired)(void *arg);
  void *retired_arg;
  /* Busy polling (crpc_loop_opts.busy_poll_us): reads from peers and
   * work posted from other threads so far. Gathering (gather_us): reads
   * from peers only, since work handed back by the pool is an answer
   * that waiting would only delay; and streams peers opened (requests).
   * Loop thread only. */
  uint64_t work_seen;
  uint64_t input_seen;
  uint64_t requests_seen;
  /* Gathering: where crpc__loop_turn() stands (CRPC__GATHER_*), and the
   * sleep of a gathering turn, which |gather| (a prepare handle started
   * before any other, so that it runs after them: after the writes)
   * takes when |gather_now|. Loop thread only. */
  int gather_state;
  int gather_now;
  uint64_t gather_ns;
  /* How long the last sleep lasted (gather_ns plus the kernel's timer
   * slack; gather_ns before the first), how long the last non-blocking
   * turn worked, and how long this turn slept. */
  uint64_t gather_slept_ns;
  uint64_t gather_worked_ns;
  uint64_t gather_turn_slept_ns;
  uv_prepare_t gather;

  /* Coroutine scheduler (coro.c). */
  crpc__coro *current;
  void *sched_ctx; /* crpc__ctx of the scheduler, lazily allocated */
  crpc__stack_pool stacks;
  crpc__coro *coro_cache;
  size_t coro_cached;
  size_t coro_live; /* started and not yet finished */
  /* The most coroutines live at once since the loop last had none, and
   * when (uv_now): the cache keeps that many finished ones, so a steady
   * load above coro_cache reuses stacks instead of mapping new ones. */
  size_t coro_peak;
  uint64_t coro_peak_ms;
  /* How long a peak's extra cached coroutines outlive it:
   * CRPC__CORO_TRIM_MS (tests set it to what they check). */
  uint64_t coro_trim_ms;
  const void *sched_stack_bottom; /* for AddressSanitizer fiber switches */
  size_t sched_stack_size;
  void *sched_fiber; /* for ThreadSanitizer */
  uint64_t slow_ns;
  /* The clock that times each run of a coroutine (against |slow_ns|, and
   * for the watchdog): CLOCK_MONOTONIC_COARSE when its ticks are under a
   * tenth of |slow_ns|, since a coroutine is resumed for every call and
   * every message and the precise clock costs more; else 0, the precise
   * one. */
  int run_clock;

  void (*on_free)(crpc_loop *loop); /* coro.c's cleanup of cached coros */

  /* Read by a watchdog's thread (runtime/watchdog.c): the label of the
   * coroutine running on the loop (NULL when none) and when it was
   * resumed (crpc_now_ns). */
  _Atomic(const char *) running_label;
  _Atomic int64_t running_since_ns;
};

/*
 * Queues |task| to run on |loop|'s thread. Same contract as crpc_loop_post()
 * but allocates nothing. Returns 0 or CRPC_ECLOSED.
 * Thread: any.
 */
int crpc__loop_post_task(crpc_loop *loop, crpc__task *task);

/*
 * A kick: a task that is queued at most once at a time, however many
 * threads ask for it before it runs, for work the loop must do on an
 * object's behalf ("move this call along"). The task's function calls
 * crpc__kick_taken() first, so that a request made while it runs queues
 * it again.
 */
typedef struct crpc__kick {
  crpc__task task;
  atomic_int queued;
} crpc__kick;

/* Makes |k| a kick that runs |fn|. Thread: any, before |k| is shared. */
void crpc__kick_init(crpc__kick *k, void (*fn)(crpc__task *task));

/*
 * Queues |k| on |loop| unless it is queued already. Returns 1 when it
 * queued it (the task will run once), 0 when it was queued already, or
 * CRPC_ECLOSED when |loop| is closing (it will not run). Posted from a
 * task on |loop|'s thread, it runs once the tasks of the current drain
 * have, before the loop polls: a call made from a continuation is on the
 * wire in the same turn.
 * Thread: any.
 */
int crpc__kick_post(crpc__kick *k, crpc_loop *loop);

/* The kick's task has started: later posts queue it again. Thread: the
 * loop's. */
void crpc__kick_taken(crpc__kick *k);

/*
 * Keeps an UV_RUN_DEFAULT run of |loop| alive until the matching release.
 * Thread: any; release runs on the loop thread.
 */
void crpc__loop_hold(crpc_loop *loop);
void crpc__loop_release(crpc_loop *loop);

/* Tells |loop| that this turn found work (posted from another thread): a
 * busy-polling loop keeps polling for a while after it. Thread: the
 * loop's. */
static inline void crpc__loop_note_work(crpc_loop *loop) {
  loop->work_seen++;
}

/* Tells |loop| that this turn read bytes from a peer: work for busy
 * polling, and what gathering watches for. Thread: the loop's. */
static inline void crpc__loop_note_input(crpc_loop *loop) {
  loop->work_seen++;
  loop->input_seen++;
}

/* Tells |loop| that a peer opened a stream: with more than one in a
 * gathering turn, requests come faster than the loop turns. Thread: the
 * loop's. */
static inline void crpc__loop_note_request(crpc_loop *loop) {
  loop->requests_seen++;
}

/* crpc__loop_turn()'s states, for the next turn: block in poll (the last
 * turn read nothing); probe, polling without blocking right after the
 * writes (the last turn read from a peer); or gather, sleeping gather_us
 * after the writes and then polling without blocking (the last turn was
 * a probe that read more, or a gathering turn that took more than one
 * request: requests come faster than the loop turns). A gathering turn
 * that reads less is followed by a probe, so that one client's next
 * request, which its answer brought during the sleep, does not keep the
 * loop sleeping. */
enum { CRPC__GATHER_BLOCK, CRPC__GATHER_PROBE, CRPC__GATHER_SLEEP };

/* Runs one turn of |loop| as its own thread does with gathering on, by
 * |gather_state|, which it then moves on by whether the turn read from a
 * peer. Thread: the loop's. */
void crpc__loop_turn(crpc_loop *loop);

/*
 * Ends a loop started with crpc_loop_start_thread() from its own thread,
 * where crpc_loop_stop() cannot join: the loop stops after this iteration,
 * its thread frees it (crpc_loop_free()) and then runs |fn|(|arg|), and
 * exits without being joined (it is detached). Nothing else may stop or
 * free the loop afterwards. Thread: the loop's.
 */
void crpc__loop_retire(crpc_loop *loop, void (*fn)(void *arg), void *arg);

/*
 * The next of |loop|'s pseudo-random numbers (splitmix64, seeded from the
 * clock and the loop's address when it is made): for jitter, not for
 * anything secret. Thread: |loop|'s.
 */
uint64_t crpc__loop_random(crpc_loop *loop);

/*
 * Checks, in debug builds, what a contract's "Thread: the loop's" says:
 * the calling thread is running |loop| (crpc_loop_is_current()). For the
 * entry points other parts call; code reached only from the loop's own
 * callbacks needs none.
 */
#ifdef NDEBUG
#define CRPC__ASSERT_LOOP_THREAD(loop) ((void)0)
#else
#define CRPC__ASSERT_LOOP_THREAD(loop) assert(crpc_loop_is_current(loop))
#endif

/* Makes |loop| the calling thread's loop, returning the previous one. */
crpc_loop *crpc__loop_set_current(crpc_loop *loop);

#endif /* CRPC_LOOP_INTERNAL_H */
