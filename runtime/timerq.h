/*
 * runtime/timerq.h: many one-shot timers on one libuv timer, for the
 * deadlines of a loop's calls.
 *
 * A uv_timer_t per call costs more than its start and stop: a handle must
 * be closed, and a closing handle makes the loop turn once more without
 * blocking, one more epoll_wait() per call. Against gRPC C++'s client,
 * which gives every call a deadline, crpc's server made 1.40 epoll_wait()
 * calls per call with 128 calls in flight (0.93 with this), and spent
 * about 7 % more CPU per call with one in flight (18.8 against 17.5 us).
 * Here an entry is a node of a binary min-heap, in the
 * memory of whoever owns it; the one libuv timer is armed for the
 * earliest. Removing an entry leaves the timer as it is unless none is
 * left: the timer then fires for nothing, finds what is due by then, and
 * is armed again, which for calls that end long before their deadlines
 * is one wake-up per deadline's length, not one per call.
 *
 * Times are the loop's (uv_now(), milliseconds). Loop thread only.
 */
#ifndef CRPC_TIMERQ_H
#define CRPC_TIMERQ_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct crpc__timer crpc__timer;
typedef void (*crpc__timer_fn)(crpc__timer *t);

/* One timer, zeroed (or crpc__timer_init()) before its first use. */
struct crpc__timer {
  uint64_t due; /* uv_now() at which it fires */
  size_t slot;  /* its place in the heap, from 1; 0: not queued */
  crpc__timer_fn fire;
};

typedef struct crpc__timerq {
  uv_timer_t uv;
  crpc__timer **heap; /* heap[1] is the earliest; heap[0] unused */
  size_t n, cap;
  uint64_t armed; /* when |uv| fires, or UINT64_MAX when stopped */
  int open;
} crpc__timerq;

static inline void crpc__timer_init(crpc__timer *t) {
  t->due = 0;
  t->slot = 0;
  t->fire = NULL;
}

/* Whether |t| is queued. */
static inline int crpc__timer_queued(const crpc__timer *t) {
  return t->slot != 0;
}

/* Opens |q| on |uv|; its timer does not keep the loop alive while no
 * entry waits. Returns 0 or a libuv error. */
int crpc__timerq_open(crpc__timerq *q, uv_loop_t *uv);

/* Closes |q|'s timer: |cb| gets it as a handle whose data is |data|, as
 * for the owner's other handles. Entries still queued stay queued and
 * never fire; they may still be removed. */
void crpc__timerq_close(crpc__timerq *q, uv_close_cb cb, void *data);

/* Frees |q|'s memory, once it is closed (or was never opened). Entries
 * still queued are let go: removing them afterwards does nothing. */
void crpc__timerq_cleanup(crpc__timerq *q);

/*
 * Queues |t| to run |fire|(|t|) |after_ms| from now, once; a queued |t| is
 * moved. |fire| runs on the loop, |t| already out of the queue, and may
 * queue or remove any timer, |t| included. Returns 0, or CRPC_ENOMEM or
 * CRPC_ECLOSED (|q| is closed), and then |t| is not queued.
 */
int crpc__timerq_add(crpc__timerq *q, crpc__timer *t, uint64_t after_ms,
                     crpc__timer_fn fire);

/* Takes |t| out of the queue; nothing when it is not queued. */
void crpc__timerq_remove(crpc__timerq *q, crpc__timer *t);

#endif /* CRPC_TIMERQ_H */
