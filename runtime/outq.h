/*
 * runtime/outq.h: a call's framed messages on their way out, queued for
 * its stream's DATA frames; the server's calls and the client's streams
 * share it.
 *
 * A message of CRPC__H2IO_OWNED_MIN bytes or more stays in the buffer it
 * was serialized in, behind the others, and is never copied there;
 * smaller ones are appended to the last buffer, so that a frame carries
 * many. A frame takes the bytes at the front as pieces, one per buffer it
 * spans: a small piece is copied into the write batch, a large one is
 * handed over whole (crpc__h2io_put_owned_piece()) and its memory comes
 * back once written, as a spare a next message is serialized into. A
 * large piece of a buffer a frame ends inside (the flow-control window
 * ends it there) is lent (crpc__h2io_put_borrowed_piece()): the buffer
 * stays at the front, nothing is appended to it, and it is not reused or
 * freed before every slice lent of it is back (crpc__outq_lent_back()),
 * even when the queue is dropped meanwhile. Up to
 * CRPC__OUTQ_SPARE_BYTES of spares are kept: a stream of 64 KiB messages
 * has a few dozen buffers queued or being written, and allocating each
 * anew cost crpc's server 223 us per message instead of 12 (glibc maps
 * and unmaps a 128 KiB buffer, or grows and trims its heap).
 *
 * Not thread-safe: its owner's lock guards it.
 */
#ifndef CRPC_OUTQ_H
#define CRPC_OUTQ_H

#include <stddef.h>

#include "buf.h"
#include "h2io.h"

/* The memory kept for messages to come: the most a writer queues
 * (CRPC__OUT_HIGH_WATER) and a frame being written come back in buffers
 * while it queues more. */
#define CRPC__OUTQ_SPARE_BYTES (2u * 1024 * 1024)

typedef struct crpc__outq {
  crpc__buf *bufs; /* oldest first, none empty */
  size_t n, cap;
  size_t len;        /* bytes in |bufs| */
  crpc__buf *spares; /* empty buffers' memory, for messages to come */
  size_t n_spares, spares_cap;
  size_t spare_bytes; /* their capacity */
  /* Slices lent to write batches and not yet back, whether the front
   * buffer has some, and the buffers with slices out that left the queue:
   * they become spares once |lent| is back to 0. */
  size_t lent;
  int front_lent;
  crpc__buf *parked;
  size_t n_parked, parked_cap;
} crpc__outq;

/* Makes |q| empty; allocates nothing. */
void crpc__outq_init(crpc__outq *q);
/* Frees everything |q| holds. */
void crpc__outq_cleanup(crpc__outq *q);

/* Drops what is queued. The largest memory of it and of the spares stays
 * as the one spare when it is no more than |max| bytes; the rest is
 * freed, as is a queue grown past a few slots. Returns the spare's
 * bytes. */
size_t crpc__outq_keep(crpc__outq *q, size_t max);

/* Bytes queued. */
static inline size_t crpc__outq_len(const crpc__outq *q) {
  return q->len;
}

/* A spare, empty (without memory when there is none), to serialize the
 * next message into, the owner's lock released meanwhile. */
crpc__buf crpc__outq_take_spare(crpc__outq *q);

/* |b|'s memory becomes a spare while the spares are under
 * CRPC__OUTQ_SPARE_BYTES; |b| is left with no memory, or with memory for
 * the caller to free. */
void crpc__outq_give_spare(crpc__outq *q, crpc__buf *b);

/* Queues the framed messages in |b| behind the others, taking |b|'s
 * memory when they are CRPC__H2IO_OWNED_MIN bytes or more or nothing is
 * queued; |b| is left as crpc__outq_give_spare() leaves it, or with its
 * memory to give back. Returns 0, or CRPC_ENOMEM (nothing queued). */
int crpc__outq_push(crpc__outq *q, crpc__buf *b);

/* What crpc__outq_put() asks of the queue's owner, whose lock guards
 * the queue: |hold| takes a reference for each piece handed over or lent;
 * |release|(|owner|, buffer) says a buffer handed over was written or
 * dropped, and gives its memory back with crpc__outq_give_spare();
 * |lent_back|(|owner|, view) says a lent slice (|view|, not to be freed)
 * was, and calls crpc__outq_lent_back(). Each does so under the owner's
 * lock, then drops the reference. */
typedef struct crpc__outq_owner {
  void *owner;
  void (*hold)(void *owner);
  void (*release)(void *owner, crpc__buf *buf);
  void (*lent_back)(void *owner, crpc__buf *view);
} crpc__outq_owner;

/*
 * Appends the first |n| queued bytes to the DATA frame started in |out|
 * (crpc__h2io_put_frame()) and takes them off the queue, handing large
 * pieces over or lending them as |o| says.
 * Returns 0, or NGHTTP2_ERR_CALLBACK_FAILURE (memory; the bytes put so
 * far are off the queue).
 */
int crpc__outq_put(crpc__outq *q, crpc__h2io_out *out, size_t n,
                   const crpc__outq_owner *o);

/* A slice crpc__outq_put() lent was written or dropped: once none is out,
 * the buffers they lay in that left the queue become spares. */
void crpc__outq_lent_back(crpc__outq *q);

#endif /* CRPC_OUTQ_H */
