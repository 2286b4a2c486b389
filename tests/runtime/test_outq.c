/*
 * tests/runtime/test_outq.c: a call's queue of framed messages
 * (runtime/outq.c): large messages queued in their own buffers and handed
 * to the write batch whole, small ones gathered and copied, frames ending
 * anywhere in a buffer, and the memory coming back as the spare.
 */
#include <criterion/criterion.h>
#include <nghttp2/nghttp2.h>
#include <string.h>

#include "buf.h"
#include "h2io.h"
#include "outq.h"

typedef struct owner {
  int held, released, lent;
  crpc__outq *q;
  crpc__outq_owner o;
} owner;

static void hold(void *o) {
  ((owner *)o)->held++;
}

/* As a call does: the written buffer's memory becomes the spare. */
static void release(void *o, crpc__buf *buf) {
  owner *w = o;
  w->released++;
  crpc__outq_give_spare(w->q, buf);
  crpc__buf_cleanup(buf);
}

static void lent_back(void *o, crpc__buf *view) {
  owner *w = o;
  (void)view;
  w->released++;
  w->lent++;
  crpc__outq_lent_back(w->q);
}

static void owner_init(owner *w, crpc__outq *q) {
  *w = (owner){.q = q};
  w->o = (crpc__outq_owner){
      .owner = w, .hold = hold, .release = release, .lent_back = lent_back};
}

/* A buffer of |n| bytes counting on from |*next|, as a serialized
 * message. */
static crpc__buf message(size_t n, uint8_t *next) {
  crpc__buf b;
  crpc__buf_init(&b, SIZE_MAX);
  cr_assert_eq(crpc__buf_reserve(&b, n), 0);
  uint8_t *p = crpc__buf_tail(&b);
  for (size_t i = 0; i < n; i++)
    p[i] = (*next)++;
  crpc__buf_commit(&b, n);
  return b;
}

/* The bytes of |out| in the order they are written: its bytes, with each
 * payload after the first |at| of them. */
static void flatten(const crpc__h2io_out *out, crpc__buf *to) {
  size_t from = 0;
  const uint8_t *bytes = crpc__buf_data(&out->bytes);
  for (size_t i = 0; i < out->n_seg; i++) {
    crpc__buf_append(to, bytes + from, out->seg[i].at - from);
    crpc__buf_append(to, crpc__buf_data(&out->seg[i].buf),
                     crpc__buf_len(&out->seg[i].buf));
    from = out->seg[i].at;
  }
  crpc__buf_append(to, bytes + from, crpc__buf_len(&out->bytes) - from);
}

/* Takes |n| bytes off |q| as one frame's payload, into |got|. */
static void frame_of(crpc__outq *q, owner *w, size_t n, crpc__buf *got,
                     size_t *handed) {
  crpc__h2io_out out;
  crpc__h2io_out_init(&out);
  cr_assert_eq(crpc__outq_put(q, &out, n, &w->o), 0);
  *handed += out.n_seg;
  flatten(&out, got);
  crpc__h2io_out_cleanup(&out); /* "written": the payloads go back */
}

Test(outq, messages_leave_in_order_and_large_ones_uncopied, .timeout = 30) {
  crpc__outq q;
  crpc__outq_init(&q);
  owner w;
  owner_init(&w, &q);
  uint8_t next = 0;
  crpc__buf want, got;
  crpc__buf_init(&want, SIZE_MAX);
  crpc__buf_init(&got, SIZE_MAX);
  /* Small, large, small, small, large, large, small. */
  const size_t sizes[] = {5, 70000, 300, 9, 16384, 100000, 7};
  uint8_t *large_at[2] = {NULL, NULL};
  int n_large = 0;
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    crpc__buf b = message(sizes[i], &next);
    crpc__buf_append(&want, crpc__buf_data(&b), sizes[i]);
    if (sizes[i] >= 70000)
      large_at[n_large++] = crpc__buf_data(&b);
    cr_assert_eq(crpc__outq_push(&q, &b), 0);
    if (sizes[i] >= CRPC__H2IO_OWNED_MIN || i == 0)
      cr_assert_null(crpc__buf_data(&b), "message %zu was copied", i);
    crpc__buf_cleanup(&b);
  }
  cr_assert_eq(crpc__outq_len(&q), crpc__buf_len(&want));
  /* The large messages are queued where they were serialized. */
  int found = 0;
  for (size_t i = 0; i < q.n; i++)
    for (int k = 0; k < n_large; k++)
      found += crpc__buf_data(&q.bufs[i]) == large_at[k];
  cr_assert_eq(found, 2);

  /* Frames that end inside buffers, and one that spans several. */
  size_t handed = 0;
  frame_of(&q, &w, 3, &got, &handed);
  frame_of(&q, &w, 60000, &got, &handed);
  frame_of(&q, &w, 16384 + 10000 + 300 + 9, &got, &handed);
  frame_of(&q, &w, crpc__outq_len(&q), &got, &handed);
  cr_assert_eq(crpc__outq_len(&q), 0);
  cr_assert_eq(q.n, 0);
  cr_assert_eq(crpc__buf_len(&got), crpc__buf_len(&want));
  cr_assert_arr_eq(crpc__buf_data(&got), crpc__buf_data(&want),
                   crpc__buf_len(&want));
  cr_assert_gt(handed, 0, "large pieces go over whole");
  cr_assert_eq(w.held, w.released);
  cr_assert_eq((size_t)w.held, handed);
  /* What was written came back as the spare, for the next message. */
  crpc__buf s = crpc__outq_take_spare(&q);
  cr_assert_not_null(s.mem, "no memory came back");
  cr_assert_eq(crpc__buf_len(&s), 0);
  crpc__outq_give_spare(&q, &s);
  crpc__buf_cleanup(&s);
  crpc__buf_cleanup(&want);
  crpc__buf_cleanup(&got);
  crpc__outq_cleanup(&q);
}

Test(outq, a_batch_without_room_for_payloads_takes_copies, .timeout = 30) {
  crpc__outq q;
  crpc__outq_init(&q);
  owner w;
  owner_init(&w, &q);
  uint8_t next = 0;
  crpc__buf b = message(200000, &next);
  cr_assert_eq(crpc__outq_push(&q, &b), 0);
  crpc__h2io_out out;
  crpc__h2io_out_init(&out);
  /* No room left for payloads (as under TLS, where there is none). */
  for (size_t i = 0; i < CRPC__H2IO_SEGS; i++) {
    crpc__buf p = message(1, &next);
    crpc__h2io_put_owned_piece(&out, &p, &w, release);
    w.held++;
  }
  cr_assert_eq(crpc__h2io_owned_room(&out), 0);
  size_t bytes = crpc__buf_len(&out.bytes);
  cr_assert_eq(crpc__outq_put(&q, &out, 200000, &w.o), 0);
  cr_assert_eq(crpc__buf_len(&out.bytes), bytes + 200000);
  cr_assert_eq(crpc__outq_len(&q), 0);
  crpc__h2io_out_cleanup(&out);
  cr_assert_eq(w.released, w.held);
  crpc__outq_cleanup(&q);
}

Test(outq, keep_holds_the_largest_memory_within_the_limit, .timeout = 30) {
  crpc__outq q;
  crpc__outq_init(&q);
  uint8_t next = 0;
  crpc__buf a = message(20000, &next), b = message(300000, &next);
  cr_assert_eq(crpc__outq_push(&q, &a), 0);
  cr_assert_eq(crpc__outq_push(&q, &b), 0);
  size_t kept = crpc__outq_keep(&q, SIZE_MAX);
  cr_assert_geq(kept, 300000);
  cr_assert_eq(crpc__outq_len(&q), 0);
  cr_assert_eq(q.n, 0);
  /* Past the limit nothing is kept. */
  crpc__buf c = message(300000, &next);
  cr_assert_eq(crpc__outq_push(&q, &c), 0);
  cr_assert_eq(crpc__outq_keep(&q, 100000), 0);
  cr_assert_eq(q.n_spares, 0);
  crpc__outq_cleanup(&q);
}

/* A stream of 64 KiB messages has a few dozen buffers queued or being
 * written: they all come back as spares, up to CRPC__OUTQ_SPARE_BYTES, so
 * that messages to come allocate nothing. */
Test(outq, spares_are_kept_up_to_their_budget, .timeout = 30) {
  crpc__outq q;
  crpc__outq_init(&q);
  uint8_t next = 0;
  size_t given = 0;
  while (given < 2 * CRPC__OUTQ_SPARE_BYTES) {
    crpc__buf b = message(64 * 1024, &next);
    given += b.cap;
    crpc__outq_give_spare(&q, &b);
    crpc__buf_cleanup(&b); /* past the budget: the caller's to free */
  }
  cr_assert_leq(q.spare_bytes, CRPC__OUTQ_SPARE_BYTES);
  cr_assert_gt(q.spare_bytes, CRPC__OUTQ_SPARE_BYTES - 128 * 1024);
  size_t n = q.n_spares;
  cr_assert_geq(n, 8);
  for (size_t i = 0; i < n; i++) {
    crpc__buf b = crpc__outq_take_spare(&q);
    cr_assert_not_null(b.mem);
    cr_assert_eq(crpc__buf_len(&b), 0);
    crpc__buf_cleanup(&b);
  }
  crpc__buf none = crpc__outq_take_spare(&q);
  cr_assert_null(none.mem);
  cr_assert_eq(q.spare_bytes, 0);
  crpc__outq_cleanup(&q);
}

/* Fills every spare |q| has with 0xee and gives it back: memory a lent
 * slice still lies in must not be among them. */
static void scribble_on_spares(crpc__outq *q) {
  crpc__buf got[16];
  size_t n = 0;
  while (n < 16) {
    got[n] = crpc__outq_take_spare(q);
    if (got[n].mem == NULL)
      break;
    memset(got[n].mem, 0xee, got[n].cap);
    n++;
  }
  while (n > 0) {
    crpc__outq_give_spare(q, &got[--n]);
    crpc__buf_cleanup(&got[n]);
  }
}

/* A frame the window ends inside a large message: its part is lent, not
 * copied, and the rest stays where it is for the next frame. */
Test(outq, a_frame_ending_inside_a_large_buffer_borrows_it, .timeout = 30) {
  crpc__outq q;
  crpc__outq_init(&q);
  owner w;
  owner_init(&w, &q);
  uint8_t next = 0;
  crpc__buf want;
  crpc__buf_init(&want, SIZE_MAX);
  crpc__buf b = message(1048576 + 13, &next);
  const uint8_t *at = crpc__buf_data(&b);
  crpc__buf_append(&want, at, crpc__buf_len(&b));
  cr_assert_eq(crpc__outq_push(&q, &b), 0);
  crpc__buf_cleanup(&b);

  crpc__h2io_out out;
  crpc__h2io_out_init(&out);
  cr_assert_eq(crpc__outq_put(&q, &out, 100000, &w.o), 0);
  cr_assert_eq(crpc__buf_len(&out.bytes), 0, "the piece was copied");
  cr_assert_eq(out.n_seg, 1);
  cr_assert_eq(crpc__buf_data(&out.seg[0].buf), at);
  /* Messages queued meanwhile go behind it, not into it. */
  crpc__buf small = message(10, &next);
  crpc__buf_append(&want, crpc__buf_data(&small), 10);
  cr_assert_eq(crpc__outq_push(&q, &small), 0);
  crpc__buf_cleanup(&small);
  cr_assert_eq(q.n, 2);
  cr_assert_eq(crpc__buf_data(&q.bufs[0]), at + 100000);
  /* A second frame in the same batch ends inside it too. */
  cr_assert_eq(crpc__outq_put(&q, &out, 600000, &w.o), 0);
  cr_assert_eq(out.n_seg, 2);
  cr_assert_eq(crpc__buf_data(&out.seg[1].buf), at + 100000);
  cr_assert_eq(crpc__buf_len(&out.bytes), 0, "the piece was copied");
  crpc__buf got;
  crpc__buf_init(&got, SIZE_MAX);
  flatten(&out, &got);
  crpc__h2io_out_cleanup(&out); /* written */
  cr_assert_eq(w.lent, 2);
  cr_assert_eq(q.lent, 0);
  /* The rest: handed over whole, then the small message copied. */
  crpc__h2io_out_init(&out);
  cr_assert_eq(crpc__outq_put(&q, &out, crpc__outq_len(&q), &w.o), 0);
  flatten(&out, &got);
  crpc__h2io_out_cleanup(&out);
  cr_assert_eq(crpc__buf_len(&got), crpc__buf_len(&want));
  cr_assert_arr_eq(crpc__buf_data(&got), crpc__buf_data(&want),
                   crpc__buf_len(&want));
  cr_assert_eq(w.held, w.released);
  crpc__buf_cleanup(&got);
  crpc__buf_cleanup(&want);
  crpc__outq_cleanup(&q);
}

/* A buffer with a slice in a batch not yet written is not reused, nor
 * freed, when the queue lets it go: when its last bytes leave, or when
 * the queue is dropped (the stream was reset). */
static void check_lent_memory_outlives(int drop) {
  crpc__outq q;
  crpc__outq_init(&q);
  owner w;
  owner_init(&w, &q);
  uint8_t next = 0;
  crpc__buf b = message(200000, &next);
  crpc__buf want;
  crpc__buf_init(&want, SIZE_MAX);
  crpc__buf_append(&want, crpc__buf_data(&b), 190000);
  cr_assert_eq(crpc__outq_push(&q, &b), 0);
  crpc__buf_cleanup(&b);
  crpc__h2io_out out;
  crpc__h2io_out_init(&out);
  cr_assert_eq(crpc__outq_put(&q, &out, 190000, &w.o), 0);
  cr_assert_eq(q.lent, 1);
  if (drop) {
    crpc__outq_keep(&q, SIZE_MAX);
  } else { /* the small rest, copied: the buffer leaves the queue */
    crpc__h2io_out more;
    crpc__h2io_out_init(&more);
    cr_assert_eq(crpc__outq_put(&q, &more, 10000, &w.o), 0);
    crpc__h2io_out_cleanup(&more);
  }
  cr_assert_eq(q.n, 0);
  cr_assert_eq(q.n_parked, 1);
  /* Messages serialized now would go into the spares. */
  scribble_on_spares(&q);
  crpc__buf got;
  crpc__buf_init(&got, SIZE_MAX);
  flatten(&out, &got);
  cr_assert_eq(crpc__buf_len(&got), 190000);
  cr_assert_arr_eq(crpc__buf_data(&got), crpc__buf_data(&want), 190000,
                   "lent bytes changed before they were written");
  crpc__h2io_out_cleanup(&out); /* written: the memory is a spare again */
  cr_assert_eq(q.n_parked, 0);
  cr_assert_eq(q.lent, 0);
  crpc__buf s = crpc__outq_take_spare(&q);
  cr_assert_not_null(s.mem, "the memory did not come back");
  crpc__outq_give_spare(&q, &s);
  crpc__buf_cleanup(&s);
  cr_assert_eq(w.held, w.released);
  crpc__buf_cleanup(&got);
  crpc__buf_cleanup(&want);
  crpc__outq_cleanup(&q);
}

Test(outq, lent_memory_outlives_the_bytes_leaving, .timeout = 30) {
  check_lent_memory_outlives(0);
}

Test(outq, lent_memory_outlives_a_dropped_queue, .timeout = 30) {
  check_lent_memory_outlives(1);
}
