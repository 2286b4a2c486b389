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
  int held, released;
  crpc__outq *q;
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
  cr_assert_eq(crpc__outq_put(q, &out, n, w, hold, release), 0);
  *handed += out.n_seg;
  flatten(&out, got);
  crpc__h2io_out_cleanup(&out); /* "written": the payloads go back */
}

Test(outq, messages_leave_in_order_and_large_ones_uncopied, .timeout = 30) {
  crpc__outq q;
  crpc__outq_init(&q);
  owner w = {.q = &q};
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
  owner w = {.q = &q};
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
  cr_assert_eq(crpc__outq_put(&q, &out, 200000, &w, hold, release), 0);
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
