/* runtime/coro_internal.h: the coroutine scheduler's private interface. */
#ifndef CRPC_CORO_INTERNAL_H
#define CRPC_CORO_INTERNAL_H

#include "crpc/coro.h"
#include "coro_ctx.h"
#include "loop_internal.h"

/* The coroutine running on this thread, or NULL. Thread: any. */
crpc__coro *crpc__coro_current(void);

/*
 * Suspends the current coroutine until |f| is done or |timeout_ms| passes
 * (negative: no limit). Returns 0 or CRPC_ETIMEDOUT.
 * Thread: coroutine (suspends).
 */
int crpc__coro_await(crpc_future *f, int64_t timeout_ms);

/*
 * Suspends the current coroutine until crpc__coro_wake() is called for it.
 * Thread: coroutine (suspends).
 */
void crpc__coro_suspend(void);

/*
 * Queues a resume of |co|, which must be suspended (or about to suspend)
 * and must not have a resume queued already. Thread: any.
 */
void crpc__coro_wake(crpc__coro *co);

/*
 * Names what the current coroutine runs (a method's path), for the
 * watchdog's reports of a loop that stalls (runtime/watchdog.c). |label|
 * is borrowed: it must outlive the coroutine and any watchdog of its loop.
 * Thread: coroutine.
 */
void crpc__coro_set_label(const char *label);

#endif /* CRPC_CORO_INTERNAL_H */
