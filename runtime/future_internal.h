/* runtime/future_internal.h: listeners, the hook under then(), await and
 * gathering. */
#ifndef CRPC_FUTURE_INTERNAL_H
#define CRPC_FUTURE_INTERNAL_H

#include "crpc/future.h"

/*
 * Called inline, on the completing thread, right after |f| completes (or
 * at once by crpc__future_listen() when it already has). Must not block.
 * Embedded in its owner; it must stay valid until it fires or is removed.
 */
typedef struct crpc__listener {
  struct crpc__listener *next;
  void (*fn)(struct crpc__listener *l, crpc_future *f);
} crpc__listener;

/* Registers |l| on |f|, or fires it now when |f| is done. Thread: any. */
void crpc__future_listen(crpc_future *f, crpc__listener *l);

/* Removes |l| if it has not fired. Returns 1 when removed, 0 when it has
 * fired or is firing. Thread: any. */
int crpc__future_unlisten(crpc_future *f, crpc__listener *l);

/* The function that frees the value of a completed |f| (NULL while it is
 * pending or has none): tells what kind of value it holds. Thread: any. */
crpc_free_fn crpc__future_value_free(const crpc_future *f);

/* Runs |fn|(|data|) when |f| is freed, for producers whose state must
 * outlive the future. Set before |f| is shared. */
void crpc__future_set_finalize(crpc_future *f, void (*fn)(void *data),
                               void *data);

/* Makes |f| pending again, as crpc_future_new() made it, when the
 * caller's reference is its only one and nothing listens to it: returns 1
 * and the caller keeps |f|. Otherwise drops the caller's reference and
 * returns 0. For an owner that makes one future per job and would
 * allocate a new one each time. Thread: the caller's reference. */
int crpc__future_renew(crpc_future *f);

#endif /* CRPC_FUTURE_INTERNAL_H */
