/*
 * runtime/watchdog.h: a thread that sees a loop stall while it stalls.
 *
 * A loop thread that does not come back to its loop (a coroutine that
 * blocks or spins, a slow callback) holds every other call on that loop.
 * The watchdog pings each of its loops from a thread of its own, every
 * quarter of |stall_ms|: a small task posted to the loop, which an idle
 * loop runs at once. A ping left unanswered for |stall_ms| is a stall: it
 * is logged at warning level while it lasts, with what runs on the loop
 * (the running coroutine's label: a method's path), and again when the
 * loop answers. asyncio's debug mode reports a slow callback after the
 * fact; this reports it live, wherever in the loop the time goes.
 */
#ifndef CRPC_WATCHDOG_H
#define CRPC_WATCHDOG_H

#include <stddef.h>
#include <stdint.h>

#include "crpc/log.h"
#include "crpc/loop.h"

typedef struct crpc__watchdog crpc__watchdog;

/*
 * Starts watching the |n| loops of |loops| (the i-th is called "loop i").
 * Ownership: |loops| and |logger| are copied; each loop must outlive the
 * watchdog (a ping still queued when it is freed runs, or is dropped, with
 * the loop, harmlessly).
 * Thread: any. Returns 0, or CRPC_ENOMEM or a libuv error, and then |*out|
 * is untouched.
 */
int crpc__watchdog_new(crpc_loop *const *loops, size_t n, uint32_t stall_ms,
                       const crpc_logger *logger, crpc__watchdog **out);

/* Stalls seen so far, ended or not. Thread: any. */
uint64_t crpc__watchdog_stalls(crpc__watchdog *w);

/* Stops and joins the thread and frees. NULL is a no-op. Thread: any but
 * the watchdog's. */
void crpc__watchdog_free(crpc__watchdog *w);

#endif /* CRPC_WATCHDOG_H */
