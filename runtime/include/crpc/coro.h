/*
 * crpc/coro.h: stackful coroutines on a crpc_loop.
 *
 * A coroutine runs on its loop's thread and suspends instead of blocking:
 * crpc_await() on a future, crpc_sleep(), crpc_yield() and
 * crpc_run_blocking() give the loop back to its other work until they can
 * continue. Blocking calls elsewhere in crpc (future waits, the generated
 * blocking stubs) do the same when called inside a coroutine, so code that
 * blocks on an ordinary thread suspends on a loop.
 */
#ifndef CRPC_CORO_H
#define CRPC_CORO_H

#include "crpc/common.h"
#include "crpc/future.h"
#include "crpc/loop.h"
#include "crpc/status.h"

CRPC_BEGIN_DECLS

/* A coroutine's body; its result completes the coroutine's future. */
typedef crpc_status (*crpc_coro_fn)(void *arg);

/*
 * Starts |fn|(|arg|) as a coroutine on |loop|. It first runs on a later
 * loop iteration, never inside this call. When |done| is non-NULL it gets a
 * future that completes with |fn|'s status once the coroutine returns (one
 * reference, the caller's to drop); the future's continuations run on
 * |loop|.
 * Ownership: |arg| is borrowed; it must stay valid until |fn| returns.
 * Thread: any. Returns 0, or CRPC_ENOMEM / CRPC_ECLOSED (loop shutting
 * down), and then |fn| never runs and |*done| is untouched. A stack that
 * cannot be mapped later completes |done| with RESOURCE_EXHAUSTED.
 */
CRPC_EXTERN int crpc_coro_spawn(crpc_loop *loop, crpc_coro_fn fn, void *arg,
                                crpc_future **done);

/* Nonzero when called inside a coroutine. Thread: any. */
CRPC_EXTERN int crpc_in_coroutine(void);

/*
 * Waits for |f|: suspends the coroutine, or blocks a plain thread; the same
 * as crpc_future_wait(). Returns 0, or CRPC_ELOOPTHREAD on a loop thread
 * outside a coroutine. Thread: any; coroutine (may suspend).
 */
CRPC_EXTERN int crpc_await(crpc_future *f);

/*
 * Sleeps |ms| milliseconds: suspends the coroutine on a loop timer, or
 * sleeps a plain thread. Returns 0, or CRPC_ELOOPTHREAD on a loop thread
 * outside a coroutine. Thread: any; coroutine (may suspend).
 */
CRPC_EXTERN int crpc_sleep(int64_t ms);

/*
 * Lets the loop run its other ready work, then continues.
 * Thread: coroutine (suspends). Returns 0, or CRPC_ENOTCORO.
 */
CRPC_EXTERN int crpc_yield(void);

typedef void *(*crpc_blocking_fn)(void *arg);

/*
 * Runs |fn|(|arg|) on the loop's worker pool and suspends until it is done,
 * storing its return value in |*result| (may be NULL). Outside a coroutine,
 * on a plain thread, runs |fn| directly.
 * Thread: any but a loop thread outside a coroutine; coroutine (may
 * suspend). Returns 0, or CRPC_ENOPOOL (the loop has no pool),
 * CRPC_EQUEUEFULL (the pool's queue is full; |fn| did not run) or
 * CRPC_ELOOPTHREAD.
 */
CRPC_EXTERN int crpc_run_blocking(crpc_blocking_fn fn, void *arg,
                                  void **result);

CRPC_END_DECLS

#endif /* CRPC_CORO_H */
