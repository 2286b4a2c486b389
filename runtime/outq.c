/* runtime/outq.c: a call's framed messages queued for its DATA frames. */
#include "outq.h"

#include <stdlib.h>
#include <string.h>

#include "crpc/error.h"

/* Queue and spare slots crpc__outq_keep() keeps: a unary call's reply
 * needs one of each. */
#define KEEP_SLOTS 4

void crpc__outq_init(crpc__outq *q) {
  memset(q, 0, sizeof(*q));
}

static void free_spares(crpc__outq *q) {
  for (size_t i = 0; i < q->n_spares; i++)
    crpc__buf_cleanup(&q->spares[i]);
  q->n_spares = 0;
  q->spare_bytes = 0;
}

/* Sets aside the front buffer, which has slices lent: room was made for
 * it when the first was (reserve_parked()). */
static void park_front(crpc__outq *q) {
  q->parked[q->n_parked++] = q->bufs[0];
  crpc__buf_init(&q->bufs[0], SIZE_MAX);
  q->front_lent = 0;
}

/* Room for one more buffer in the array |*a| of |n| with room for |*cap|.
 * Returns 0 or CRPC_ENOMEM. */
static int room_for_one(crpc__buf **a, size_t n, size_t *cap) {
  if (n < *cap)
    return 0;
  size_t c = *cap ? 2 * *cap : 4;
  crpc__buf *p = realloc(*a, c * sizeof(*p));
  if (p == NULL)
    return CRPC_ENOMEM;
  *a = p;
  *cap = c;
  return 0;
}

static int reserve_parked(crpc__outq *q) {
  return room_for_one(&q->parked, q->n_parked, &q->parked_cap);
}

void crpc__outq_cleanup(crpc__outq *q) {
  /* No slice is out: each holds the owner, whose queue this is. */
  for (size_t i = 0; i < q->n; i++)
    crpc__buf_cleanup(&q->bufs[i]);
  free(q->bufs);
  for (size_t i = 0; i < q->n_parked; i++)
    crpc__buf_cleanup(&q->parked[i]);
  free(q->parked);
  free_spares(q);
  free(q->spares);
  crpc__outq_init(q);
}

void crpc__outq_lent_back(crpc__outq *q) {
  if (--q->lent > 0)
    return;
  q->front_lent = 0;
  for (size_t i = 0; i < q->n_parked; i++) {
    crpc__outq_give_spare(q, &q->parked[i]);
    crpc__buf_cleanup(&q->parked[i]);
  }
  q->n_parked = 0;
}

size_t crpc__outq_keep(crpc__outq *q, size_t max) {
  /* The largest memory of all goes to the front of the queue, then
   * becomes the one spare. */
  crpc__buf best;
  crpc__buf_init(&best, SIZE_MAX);
  if (q->front_lent) /* written from still: it waits for its slices */
    park_front(q);
  for (size_t i = 0; i < q->n + q->n_spares; i++) {
    crpc__buf *b = i < q->n ? &q->bufs[i] : &q->spares[i - q->n];
    if (b->cap > best.cap && b->cap <= max) {
      crpc__buf t = best;
      best = *b;
      *b = t;
    }
    crpc__buf_cleanup(b);
  }
  q->n = 0;
  q->len = 0;
  q->n_spares = 0;
  q->spare_bytes = 0;
  if (q->cap > KEEP_SLOTS) { /* a long stream's: not for every call */
    free(q->bufs);
    q->bufs = NULL;
    q->cap = 0;
  }
  if (q->spares_cap > KEEP_SLOTS) {
    free(q->spares);
    q->spares = NULL;
    q->spares_cap = 0;
  }
  crpc__outq_give_spare(q, &best);
  size_t kept = q->spare_bytes;
  crpc__buf_cleanup(&best); /* no room for the one spare */
  return kept;
}

crpc__buf crpc__outq_take_spare(crpc__outq *q) {
  crpc__buf b;
  crpc__buf_init(&b, SIZE_MAX);
  if (q->n_spares > 0) {
    b = q->spares[--q->n_spares];
    q->spare_bytes -= b.cap;
  }
  return b;
}

void crpc__outq_give_spare(crpc__outq *q, crpc__buf *b) {
  if (b->mem == NULL ||
      (q->n_spares > 0 && q->spare_bytes + b->cap > CRPC__OUTQ_SPARE_BYTES))
    return;
  if (room_for_one(&q->spares, q->n_spares, &q->spares_cap) != 0)
    return;
  crpc__buf_reset(b);
  q->spares[q->n_spares++] = *b;
  q->spare_bytes += b->cap;
  crpc__buf_init(b, SIZE_MAX);
}

int crpc__outq_push(crpc__outq *q, crpc__buf *b) {
  size_t n = crpc__buf_len(b);
  if (n == 0)
    return 0;
  crpc__buf *last = q->n ? &q->bufs[q->n - 1] : NULL;
  size_t queued = last ? crpc__buf_len(last) : 0;
  /* A large message, or one that would make a large buffer grow (and
   * realloc() copy it), goes in a buffer of its own, as does any behind a
   * buffer with slices lent, which must not move. */
  if (last == NULL || n >= CRPC__H2IO_OWNED_MIN ||
      (queued >= CRPC__H2IO_OWNED_MIN && crpc__buf_room(last) < n) ||
      (q->front_lent && q->n == 1)) {
    if (room_for_one(&q->bufs, q->n, &q->cap) != 0)
      return CRPC_ENOMEM;
    q->bufs[q->n++] = *b;
    crpc__buf_init(b, SIZE_MAX);
  } else if (crpc__buf_append(last, crpc__buf_data(b), n) != 0) {
    return CRPC_ENOMEM;
  } else {
    crpc__buf_reset(b);
  }
  q->len += n;
  return 0;
}

/* Takes the first buffer, emptied, off the queue: its memory becomes a
 * spare while the spares are under budget. */
static void pop(crpc__outq *q) {
  crpc__buf *b = &q->bufs[0];
  if (q->front_lent)
    park_front(q);
  crpc__outq_give_spare(q, b);
  crpc__buf_cleanup(b);
  q->n--;
  memmove(&q->bufs[0], &q->bufs[1], q->n * sizeof(q->bufs[0]));
}

/* Hands the first buffer, |b|, to |out| whole: the frame takes all that
 * is left of it. Slices of it lent before are in this batch or in one
 * already written (a connection collects its next batch only then), so
 * its memory comes back no sooner than they do. */
static void hand_over(crpc__h2io_out *out, crpc__buf *b,
                      const crpc__outq_owner *o) {
  crpc__buf payload = *b;
  crpc__buf_init(b, SIZE_MAX);
  o->hold(o->owner);
  crpc__h2io_put_owned_piece(out, &payload, o->owner, o->release);
}

/* Lends |out| the first |take| bytes of |b|, the first buffer, which the
 * frame ends inside: they stay where they are, and so does the rest.
 * Returns 0, or CRPC_ENOMEM (nothing lent). */
static int lend(crpc__outq *q, crpc__h2io_out *out, crpc__buf *b, size_t take,
                const crpc__outq_owner *o) {
  if (!q->front_lent && reserve_parked(q) != 0)
    return CRPC_ENOMEM;
  o->hold(o->owner);
  crpc__h2io_put_borrowed_piece(out, crpc__buf_data(b), take, o->owner,
                                o->lent_back);
  crpc__buf_consume(b, take);
  q->lent++;
  q->front_lent = 1;
  return 0;
}

int crpc__outq_put(crpc__outq *q, crpc__h2io_out *out, size_t n,
                   const crpc__outq_owner *o) {
  while (n > 0) {
    if (q->n == 0) /* never: the caller asks for what is queued */
      return NGHTTP2_ERR_CALLBACK_FAILURE;
    crpc__buf *b = &q->bufs[0];
    size_t have = crpc__buf_len(b);
    size_t take = have < n ? have : n;
    /* A large piece goes over whole when the frame takes all of its
     * buffer, and is lent when the frame ends inside it; a small one is
     * copied. */
    int uncopied = crpc__h2io_owned_room(out) > 0 &&
                   take >= CRPC__H2IO_OWNED_MIN &&
                   (take == have ? (hand_over(out, b, o), 1)
                                 : lend(q, out, b, take, o) == 0);
    if (!uncopied) {
      if (crpc__h2io_put_piece(out, crpc__buf_data(b), take) != 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
      crpc__buf_consume(b, take);
    }
    if (crpc__buf_len(b) == 0)
      pop(q);
    n -= take;
    q->len -= take;
  }
  return 0;
}
