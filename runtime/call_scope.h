/*
 * runtime/call_scope.h: what a call in progress hands down to the calls
 * made while it runs. The server sets a scope around each handler; a
 * client call made inside that handler (from its thread or coroutine)
 * reads it and takes the handler's deadline when that is sooner, ends
 * CANCELLED when the handler's call is cancelled, and carries its trace
 * on with a span of its own. Neither side knows the
 * other: this is the only thing they share about a call.
 *
 * The current scope follows coroutines: inside one it is that coroutine's
 * (kept across its suspensions, whichever thread resumes it), elsewhere
 * the thread's (runtime/coro.c keeps both).
 */
#ifndef CRPC_CALL_SCOPE_H
#define CRPC_CALL_SCOPE_H

#include "crpc/deadline.h"
#include "crpc/future.h"
#include "crpc/trace.h"

typedef struct crpc__call_scope {
  /* The enclosing call's deadline, or CRPC_DEADLINE_INFINITE. */
  crpc_deadline deadline;
  /* Completes when the enclosing call is cancelled, or NULL. Borrowed:
   * it lives as long as the scope is set; a reader that keeps it past
   * that takes a reference. */
  crpc_future *cancelled;
  /* The enclosing call's trace context (its span), or NULL outside a
   * trace. Borrowed as |cancelled| is. */
  const crpc_trace_context *trace;
} crpc__call_scope;

/*
 * The scope of the code running now, or NULL outside any.
 * Thread: any (what it returns is the calling thread's or coroutine's).
 */
const crpc__call_scope *crpc__call_scope_current(void);

/*
 * Makes |scope| (borrowed, NULL for none) the current one and returns the
 * previous one, which the caller restores when |scope| ends.
 * Thread: any.
 */
const crpc__call_scope *crpc__call_scope_enter(const crpc__call_scope *scope);

#endif /* CRPC_CALL_SCOPE_H */
