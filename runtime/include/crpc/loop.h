/*
 * crpc/loop.h: a libuv loop that crpc code runs on.
 *
 * A crpc_loop wraps one uv_loop_t, either its own or one the application
 * already runs, and adds what the rest of crpc needs from a loop thread: a
 * queue that any thread can post work to, the coroutine scheduler, and the
 * worker pool that coroutines hand blocking work to. Everything that belongs
 * to a loop (connections, streams, coroutines) runs on its thread only.
 */
#ifndef CRPC_LOOP_H
#define CRPC_LOOP_H

#include "crpc/common.h"
#include "crpc/log.h"

CRPC_BEGIN_DECLS

typedef struct crpc_loop crpc_loop;
typedef struct crpc_pool crpc_pool;

/* libuv's loop, declared here so that crpc's headers do not pull in <uv.h>
 * (which needs POSIX feature macros a strict C11 build does not set). It is
 * the same type as uv_loop_t. */
struct uv_loop_s;

/* How crpc_loop_run() runs: the values of libuv's uv_run_mode. */
typedef enum {
  CRPC_RUN_DEFAULT = 0, /* until nothing is left to do */
  CRPC_RUN_ONCE = 1,    /* one iteration, waiting for I/O if needed */
  CRPC_RUN_NOWAIT = 2   /* one iteration, without waiting */
} crpc_run_mode;

typedef struct crpc_loop_opts {
  /* Worker pool for crpc_run_blocking() and worker placement. Borrowed: it
   * must outlive the loop. NULL: no pool (crpc_run_blocking fails with
   * CRPC_ENOPOOL). */
  crpc_pool *pool;
  /* Usable stack of each coroutine, rounded up to whole pages. 0: 256 KiB.
   * Stacks are mapped lazily, so only touched pages cost memory. */
  size_t coro_stack_size;
  /* Finished coroutines' stacks kept for reuse. 0: 64. Under a load of
   * more coroutines at once, as many as the peak are kept, until the loop
   * has had none running for a second. */
  size_t coro_cache;
  /* A coroutine that runs this long without suspending is reported at
   * debug level, as asyncio reports a slow callback. 0: 100 ms. */
  uint32_t slow_coro_ms;
  /* Busy polling, for a loop on its own thread (crpc_loop_start_thread()):
   * after a turn that read from a connection or ran work posted from
   * another thread, the loop keeps polling without sleeping for up to this
   * many microseconds before it blocks. A request that arrives meanwhile
   * is taken at once, and its sender's kernel does not have to wake a
   * sleeping thread (on virtual machines an inter-processor interrupt, paid
   * by the sender): lower latency for the callers and less CPU for clients
   * that send one request at a time, for up to one CPU per loop spent
   * polling while traffic is steady. Like Linux's net.core.busy_poll, for
   * deployments that trade CPU for latency. 0 (the default): never. */
  uint32_t busy_poll_us;
  /* Gathering under load, for a loop on its own thread that does not busy
   * poll: when a turn that read from a peer is followed at once by a
   * non-blocking turn that reads more, requests come faster than the loop
   * turns. It then sleeps this many microseconds (plus the kernel's timer
   * slack) after each turn's writes and before its next poll, so that
   * requests gather in the sockets and are read, handled and answered
   * together: fewer system calls and fuller writes per call for the loop,
   * and its peers' sends no longer have to wake a sleeping thread. It goes
   * on while each sleep brings more than one new stream, and skips the
   * sleep while a turn works longer than a sleep lasts (a loop that is
   * behind loses no capacity). A response waits for a sleep only when its
   * request came during it. A loop that is not kept busy blocks as before,
   * and an idle one costs nothing. 0: 20; at most 1000; CRPC_GATHER_OFF:
   * never. */
  uint32_t gather_us;
  crpc_logger logger;
} crpc_loop_opts;

/* crpc_loop_opts.gather_us: a loop that never gathers. */
#define CRPC_GATHER_OFF UINT32_MAX

/* Fills |opts| with the defaults. Thread: any. */
CRPC_EXTERN void crpc_loop_opts_init(crpc_loop_opts *opts);

/*
 * Creates a loop. With |uv| NULL the crpc_loop owns a new uv_loop_t; else it
 * attaches to |uv| (borrowed: it must outlive the crpc_loop) and the
 * application keeps running it with uv_run().
 * |opts| is copied; NULL means the defaults.
 * Thread: for an attached loop, the thread that runs |uv|, which becomes
 * this loop's thread. For an owned loop, any; its thread is the one that
 * calls crpc_loop_run() or the one crpc_loop_start_thread() starts.
 * Returns 0, or CRPC_ENOMEM or a libuv error, and then |*out| is untouched.
 */
CRPC_EXTERN int crpc_loop_new(struct uv_loop_s *uv, const crpc_loop_opts *opts,
                              crpc_loop **out);

/*
 * Runs the loop on the calling thread, as uv_run() does with |mode|. With
 * CRPC_RUN_DEFAULT it returns once nothing is left to do: no active handles,
 * no posted work, no live coroutine and no pending worker-pool job.
 * Thread: the loop's thread (any thread for an owned loop that is not
 * started on its own thread). Returns uv_run()'s result.
 */
CRPC_EXTERN int crpc_loop_run(crpc_loop *loop, crpc_run_mode mode);

/*
 * Starts a thread that runs the (owned) loop until crpc_loop_stop().
 * Thread: any, once. Returns 0, CRPC_ESTATE for an attached or already
 * started loop, or a libuv error.
 */
CRPC_EXTERN int crpc_loop_start_thread(crpc_loop *loop);

/*
 * Stops a loop started with crpc_loop_start_thread() after the work already
 * posted to it has run, and joins its thread. Thread: any but the loop's
 * own. Returns 0, or CRPC_ESTATE when the loop was not started, or
 * CRPC_ELOOPTHREAD when called on the loop's thread.
 */
CRPC_EXTERN int crpc_loop_stop(crpc_loop *loop);

/*
 * Frees the loop. Work still queued runs first. Coroutines must have
 * finished: one still suspended is never resumed and its stack is not
 * released (the loop logs a warning saying how many). An owned loop is run
 * until its handles are closed and then closed itself; for an attached loop the
 * memory is released from the last close callback, so the application must
 * run its loop once more. NULL is a no-op.
 * Thread: the loop's thread, or any after crpc_loop_stop().
 */
CRPC_EXTERN void crpc_loop_free(crpc_loop *loop);

/* The underlying libuv loop (borrowed). Thread: any. */
CRPC_EXTERN struct uv_loop_s *crpc_loop_uv(crpc_loop *loop);

/* The worker pool given in the options, or NULL. Thread: any. */
CRPC_EXTERN crpc_pool *crpc_loop_pool(crpc_loop *loop);

typedef void (*crpc_loop_fn)(void *arg);

/*
 * Runs |fn|(|arg|) on the loop's thread soon: from another thread after a
 * wake-up, from the loop's own thread on a later iteration (never inline).
 * Work runs in the order it was posted by each thread.
 * Thread: any. Returns 0, or CRPC_ENOMEM, or CRPC_ECLOSED once the loop is
 * being freed; on error |fn| is never called.
 */
CRPC_EXTERN int crpc_loop_post(crpc_loop *loop, crpc_loop_fn fn, void *arg);

/* Nonzero when the calling thread is |loop|'s thread. Thread: any. */
CRPC_EXTERN int crpc_loop_is_current(const crpc_loop *loop);

/* The crpc_loop whose thread is the calling thread, or NULL. Thread: any. */
CRPC_EXTERN crpc_loop *crpc_loop_current(void);

CRPC_END_DECLS

#endif /* CRPC_LOOP_H */
