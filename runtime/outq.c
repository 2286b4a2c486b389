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

void crpc__outq_cleanup(crpc__outq *q) {
  for (size_t i = 0; i < q->n; i++)
    crpc__buf_cleanup(&q->bufs[i]);
  free(q->bufs);
  free_spares(q);
  free(q->spares);
  crpc__outq_init(q);
}

size_t crpc__outq_keep(crpc__outq *q, size_t max) {
  /* The largest memory of all goes to the front of the queue, then
   * becomes the one spare. */
  crpc__buf best;
  crpc__buf_init(&best, SIZE_MAX);
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
  if (q->n_spares == q->spares_cap) {
    size_t cap = q->spares_cap ? 2 * q->spares_cap : 4;
    crpc__buf *s = realloc(q->spares, cap * sizeof(*s));
    if (s == NULL)
      return;
    q->spares = s;
    q->spares_cap = cap;
  }
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
   * realloc() copy it), goes in a buffer of its own. */
  if (last == NULL || n >= CRPC__H2IO_OWNED_MIN ||
      (queued >= CRPC__H2IO_OWNED_MIN && crpc__buf_room(last) < n)) {
    if (q->n == q->cap) {
      size_t cap = q->cap ? 2 * q->cap : 4;
      crpc__buf *bufs = realloc(q->bufs, cap * sizeof(*bufs));
      if (bufs == NULL)
        return CRPC_ENOMEM;
      q->bufs = bufs;
      q->cap = cap;
    }
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
  crpc__outq_give_spare(q, b);
  crpc__buf_cleanup(b);
  q->n--;
  memmove(&q->bufs[0], &q->bufs[1], q->n * sizeof(q->bufs[0]));
}

/* Hands the first |take| bytes of |b|, the first buffer, to |out| without
 * copying them: the batch takes the buffer, and what follows in it (no
 * more than |take|) is copied to a buffer of its own, which takes its
 * place. Returns 0, or CRPC_ENOMEM (nothing changed). */
static int hand_over(crpc__outq *q, crpc__h2io_out *out, crpc__buf *b,
                     size_t take, void *owner, void (*hold)(void *owner),
                     void (*release)(void *owner, crpc__buf *buf)) {
  crpc__buf rest = crpc__outq_take_spare(q);
  if (crpc__buf_append(&rest, crpc__buf_data(b) + take,
                       crpc__buf_len(b) - take) != 0) {
    crpc__outq_give_spare(q, &rest);
    crpc__buf_cleanup(&rest);
    return CRPC_ENOMEM;
  }
  crpc__buf payload = *b;
  crpc__buf_truncate(&payload, take);
  *b = rest;
  hold(owner);
  crpc__h2io_put_owned_piece(out, &payload, owner, release);
  return 0;
}

int crpc__outq_put(crpc__outq *q, crpc__h2io_out *out, size_t n, void *owner,
                   void (*hold)(void *owner),
                   void (*release)(void *owner, crpc__buf *buf)) {
  while (n > 0) {
    if (q->n == 0) /* never: the caller asks for what is queued */
      return NGHTTP2_ERR_CALLBACK_FAILURE;
    crpc__buf *b = &q->bufs[0];
    size_t have = crpc__buf_len(b);
    size_t take = have < n ? have : n;
    /* A large piece goes over whole, unless it is the smaller part of a
     * buffer the frame ends in: then the piece is copied. */
    if (crpc__h2io_owned_room(out) == 0 || take < CRPC__H2IO_OWNED_MIN ||
        have - take > take ||
        hand_over(q, out, b, take, owner, hold, release) != 0) {
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
