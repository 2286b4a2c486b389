/* runtime/timerq.c: many one-shot timers on one libuv timer (timerq.h). */
#include "timerq.h"

#include <stdlib.h>

#include "crpc/error.h"

static int earlier(const crpc__timer *a, const crpc__timer *b) {
  return a->due < b->due;
}

static void place(crpc__timerq *q, size_t i, crpc__timer *t) {
  q->heap[i] = t;
  t->slot = i;
}

/* Moves the entry at |i| towards the root while it is earlier than its
 * parent. */
static void sift_up(crpc__timerq *q, size_t i) {
  crpc__timer *t = q->heap[i];
  while (i > 1 && earlier(t, q->heap[i / 2])) {
    place(q, i, q->heap[i / 2]);
    i /= 2;
  }
  place(q, i, t);
}

/* Moves the entry at |i| towards the leaves while a child is earlier. */
static void sift_down(crpc__timerq *q, size_t i) {
  crpc__timer *t = q->heap[i];
  for (;;) {
    size_t c = 2 * i;
    if (c > q->n)
      break;
    if (c < q->n && earlier(q->heap[c + 1], q->heap[c]))
      c++;
    if (!earlier(q->heap[c], t))
      break;
    place(q, i, q->heap[c]);
    i = c;
  }
  place(q, i, t);
}

static void on_timer(uv_timer_t *h);

/* Arms the libuv timer for the earliest entry, unless it fires before. */
static void arm(crpc__timerq *q) {
  if (!q->open || q->n == 0 || q->heap[1]->due >= q->armed)
    return;
  uint64_t now = uv_now(q->uv.loop);
  uint64_t due = q->heap[1]->due;
  uv_timer_start(&q->uv, on_timer, due > now ? due - now : 0, 0);
  q->armed = due;
}

static void on_timer(uv_timer_t *h) {
  crpc__timerq *q = h->data;
  q->armed = UINT64_MAX;
  uint64_t now = uv_now(h->loop);
  /* At most as many as were queued: a callback that queues its timer
   * again for now cannot hold the loop here. */
  size_t budget = q->n;
  while (budget-- > 0 && q->n > 0 && q->heap[1]->due <= now) {
    crpc__timer *t = q->heap[1];
    crpc__timerq_remove(q, t);
    t->fire(t);
  }
  arm(q);
}

int crpc__timerq_open(crpc__timerq *q, uv_loop_t *uv) {
  q->heap = NULL;
  q->n = q->cap = 0;
  q->armed = UINT64_MAX;
  q->open = 0;
  int rc = uv_timer_init(uv, &q->uv);
  if (rc != 0)
    return rc;
  q->uv.data = q;
  q->open = 1;
  return 0;
}

void crpc__timerq_close(crpc__timerq *q, uv_close_cb cb, void *data) {
  if (!q->open)
    return;
  q->open = 0;
  q->armed = UINT64_MAX;
  q->uv.data = data;
  uv_close((uv_handle_t *)&q->uv, cb);
}

void crpc__timerq_cleanup(crpc__timerq *q) {
  /* An entry still queued is still held (its owner's reference): it is
   * let go, so that removing it later does nothing. */
  for (size_t i = 1; i <= q->n; i++)
    q->heap[i]->slot = 0;
  free(q->heap);
  q->heap = NULL;
  q->n = q->cap = 0;
}

int crpc__timerq_add(crpc__timerq *q, crpc__timer *t, uint64_t after_ms,
                     crpc__timer_fn fire) {
  crpc__timerq_remove(q, t);
  if (!q->open)
    return CRPC_ECLOSED;
  if (q->n + 1 >= q->cap) {
    size_t cap = q->cap ? 2 * q->cap : 64;
    crpc__timer **heap = realloc(q->heap, cap * sizeof(*heap));
    if (heap == NULL)
      return CRPC_ENOMEM;
    q->heap = heap;
    q->cap = cap;
  }
  t->due = uv_now(q->uv.loop) + after_ms;
  t->fire = fire;
  place(q, ++q->n, t);
  sift_up(q, q->n);
  arm(q);
  return 0;
}

void crpc__timerq_remove(crpc__timerq *q, crpc__timer *t) {
  size_t i = t->slot;
  if (i == 0)
    return;
  t->slot = 0;
  crpc__timer *last = q->heap[q->n--];
  if (last != t) {
    place(q, i, last);
    if (i > 1 && earlier(last, q->heap[i / 2]))
      sift_up(q, i);
    else
      sift_down(q, i);
  }
  if (q->n == 0 && q->armed != UINT64_MAX) {
    uv_timer_stop(&q->uv);
    q->armed = UINT64_MAX;
  }
}
