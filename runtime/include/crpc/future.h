/*
 * crpc/future.h: the one asynchronous primitive.
 *
 * A crpc_future is completed once, with a gRPC status code, an optional
 * message and an optional value, and can be waited on from any thread.
 * It is reference counted: crpc_future_new() and every function that
 * returns a new future give the caller one reference, dropped with
 * crpc_future_unref(). A future nobody waits on is released by its last
 * unref, completed or not; its value is freed with it. A continuation
 * registered with crpc_future_then() holds a reference until it has run,
 * so such a future lives until its producer completes (or cancels) it.
 *
 * Inside a coroutine (crpc/coro.h) waiting suspends the coroutine instead
 * of blocking. On a loop thread outside a coroutine, waiting would stall
 * the loop, so it fails with CRPC_ELOOPTHREAD rather than hang.
 */
#ifndef CRPC_FUTURE_H
#define CRPC_FUTURE_H

#include "crpc/common.h"
#include "crpc/loop.h"
#include "crpc/status.h"

CRPC_BEGIN_DECLS

typedef struct crpc_future crpc_future;

/* Frees a future's value. */
typedef void (*crpc_free_fn)(void *value);

/* A continuation, run once the future is done. |f| is borrowed for the
 * call; take a reference to keep it. */
typedef void (*crpc_future_cb)(crpc_future *f, void *user_data);

/* The producer's hook for crpc_future_cancel(): stop the work behind |f|.
 * Runs on the cancelling thread, so it must be thread-safe (post to the
 * producer's loop, for instance). */
typedef void (*crpc_future_cancel_fn)(crpc_future *f, void *user_data);

/*
 * Creates a pending future. Continuations registered with then() run on
 * |loop|'s thread (borrowed; it must outlive the future's continuations).
 * With |loop| NULL they run on the loop of the thread that registers them,
 * or, when that thread has none, on the thread that completes the future.
 * Thread: any. Returns 0, or CRPC_ENOMEM and then |*out| is untouched.
 */
CRPC_EXTERN int crpc_future_new(crpc_loop *loop, crpc_future **out);

/* Adds a reference and returns |f|. Thread: any. */
CRPC_EXTERN crpc_future *crpc_future_ref(crpc_future *f);

/* Drops a reference; the last one frees the future and its value. NULL is
 * a no-op. Thread: any. */
CRPC_EXTERN void crpc_future_unref(crpc_future *f);

/*
 * Completes |f| with |code|, a copy of |message| (may be NULL) and |value|.
 * Ownership: on success |f| takes ownership of |value| and frees it with
 * |value_free| (may be NULL) when the future is freed, unless a reader took
 * it. On error the caller keeps |value|.
 * Waiters wake; continuations are queued on their loops.
 * Thread: any. Returns 0, CRPC_EALREADY when |f| was already completed (or
 * cancelled), or CRPC_ENOMEM.
 */
CRPC_EXTERN int crpc_future_complete(crpc_future *f, crpc_status code,
                                     const char *message, void *value,
                                     crpc_free_fn value_free);

/* Nonzero once |f| is completed. Thread: any. */
CRPC_EXTERN int crpc_future_is_done(const crpc_future *f);

/* The status code of a completed future; CRPC_STATUS_UNKNOWN while it is
 * pending. Thread: any. */
CRPC_EXTERN crpc_status crpc_future_status(const crpc_future *f);

/* The status message of a completed future, or "" (borrowed, valid while
 * |f| is). Thread: any. */
CRPC_EXTERN const char *crpc_future_message(const crpc_future *f);

/* The value of a completed future, borrowed; NULL while pending, when it
 * has none, or after crpc_future_take_value(). Thread: any. */
CRPC_EXTERN void *crpc_future_value(const crpc_future *f);

/* Takes ownership of the value of a completed future: the caller frees it,
 * later calls return NULL. NULL while pending. Thread: any. */
CRPC_EXTERN void *crpc_future_take_value(crpc_future *f);

/*
 * Waits until |f| is done. In a coroutine it suspends; on another thread
 * it blocks. Thread: any but a loop thread outside a coroutine.
 * Returns 0, or CRPC_ELOOPTHREAD (and waits not at all).
 */
CRPC_EXTERN int crpc_future_wait(crpc_future *f);

/*
 * As crpc_future_wait(), for at most |timeout_ms| milliseconds (negative:
 * no limit). Returns 0 when done, CRPC_ETIMEDOUT when the time ran out
 * first (|f| stays pending), or CRPC_ELOOPTHREAD. Thread: as
 * crpc_future_wait().
 */
CRPC_EXTERN int crpc_future_wait_for(crpc_future *f, int64_t timeout_ms);

/*
 * Runs |cb|(f, |user_data|) once |f| is done, on the future's loop (see
 * crpc_future_new()): queued there, never run inline in this call, even
 * when |f| is already done. Only a future with no loop at all, registered
 * from a thread without one, runs |cb| on the completing thread (or at once
 * when it is already done). The continuation holds a reference until it
 * has run.
 * Thread: any. Returns 0, or CRPC_ENOMEM and then |cb| is never called.
 */
CRPC_EXTERN int crpc_future_then(crpc_future *f, crpc_future_cb cb,
                                 void *user_data);

/*
 * Cancels |f|: runs the producer's cancel hook, if it set one, and
 * completes |f| with CANCELLED unless the hook completed it first.
 * Thread: any. Returns 0, or CRPC_EALREADY when |f| was already done.
 */
CRPC_EXTERN int crpc_future_cancel(crpc_future *f);

/*
 * For producers: sets the hook crpc_future_cancel() runs, replacing any
 * earlier one. Thread: any. Returns 0, or CRPC_EALREADY when |f| is done
 * (the hook is not kept).
 */
CRPC_EXTERN int crpc_future_on_cancel(crpc_future *f, crpc_future_cancel_fn fn,
                                      void *user_data);

/*
 * Gathers |n| futures (each borrowed; the result holds its own references):
 * the new future completes once all of them are done, with OK when all are
 * OK, else with the code and message of the first failed one in array
 * order. Cancelling it cancels them all. n == 0 gives a completed future.
 * Thread: any. Returns 0, or CRPC_ENOMEM / CRPC_EINVAL (a NULL entry), and
 * then |*out| is untouched.
 */
CRPC_EXTERN int crpc_future_all(crpc_future *const *fs, size_t n,
                                crpc_future **out);

/*
 * The new future completes as soon as one of |n| futures is done, with that
 * one's code and message; crpc_future_any_index() then tells which.
 * Cancelling it cancels them all. n == 0 is CRPC_EINVAL.
 * Thread: any. Returns 0, or CRPC_ENOMEM / CRPC_EINVAL.
 */
CRPC_EXTERN int crpc_future_any(crpc_future *const *fs, size_t n,
                                crpc_future **out);

/* For a completed crpc_future_any() result, the index of the future that
 * finished first; -1 for other futures or while pending. Thread: any. */
CRPC_EXTERN ptrdiff_t crpc_future_any_index(const crpc_future *f);

CRPC_END_DECLS

#endif /* CRPC_FUTURE_H */
