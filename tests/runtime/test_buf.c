/* tests/runtime/test_buf.c: the bounded byte buffer. */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "crpc/error.h"

static void assert_content(const crpc__buf *b, const char *s) {
  size_t n = strlen(s);

  cr_assert_eq(crpc__buf_len(b), n);
  if (n > 0)
    cr_assert_arr_eq(crpc__buf_data(b), s, n);
}

Test(buf, starts_empty_without_memory, .timeout = 10) {
  crpc__buf b;

  crpc__buf_init(&b, 100);
  cr_assert_eq(crpc__buf_len(&b), 0);
  cr_assert_null(crpc__buf_data(&b));
  cr_assert_eq(crpc__buf_reserve(&b, 0), 0);
  cr_assert_eq(crpc__buf_append(&b, NULL, 0), 0);
  cr_assert_null(crpc__buf_data(&b));
  crpc__buf_cleanup(&b);
}

Test(buf, append_up_to_the_limit, .timeout = 10) {
  crpc__buf b;

  crpc__buf_init(&b, 10);
  cr_assert_eq(crpc__buf_append(&b, "hello", 5), 0);
  cr_assert_eq(crpc__buf_append(&b, "world", 5), 0);
  assert_content(&b, "helloworld");
  cr_assert_eq(crpc__buf_append(&b, "!", 1), CRPC_ETOOBIG);
  cr_assert_eq(crpc__buf_reserve(&b, 1), CRPC_ETOOBIG);
  assert_content(&b, "helloworld");
  cr_assert_leq(b.cap, 10, "the allocation never exceeds the limit");
  crpc__buf_cleanup(&b);
}

Test(buf, too_big_leaves_content_unchanged, .timeout = 10) {
  crpc__buf b;

  crpc__buf_init(&b, 8);
  cr_assert_eq(crpc__buf_append(&b, "abc", 3), 0);
  cr_assert_eq(crpc__buf_append(&b, "defghi", 6), CRPC_ETOOBIG);
  assert_content(&b, "abc");
  cr_assert_eq(crpc__buf_reserve(&b, SIZE_MAX), CRPC_ETOOBIG);
  cr_assert_eq(crpc__buf_reserve(&b, SIZE_MAX - 1), CRPC_ETOOBIG);
  assert_content(&b, "abc");
  crpc__buf_cleanup(&b);
}

Test(buf, zero_limit_holds_nothing, .timeout = 10) {
  crpc__buf b;

  crpc__buf_init(&b, 0);
  cr_assert_eq(crpc__buf_append(&b, "x", 1), CRPC_ETOOBIG);
  cr_assert_eq(crpc__buf_len(&b), 0);
  crpc__buf_cleanup(&b);
}

Test(buf, out_of_memory_leaves_content_unchanged, .timeout = 10) {
  crpc__buf b;

  crpc__buf_init(&b, SIZE_MAX);
  cr_assert_eq(crpc__buf_append(&b, "abc", 3), 0);
  cr_assert_eq(crpc__buf_reserve(&b, (size_t)1 << 62), CRPC_ENOMEM);
  assert_content(&b, "abc");
  cr_assert_eq(crpc__buf_append(&b, "d", 1), 0);
  assert_content(&b, "abcd");
  crpc__buf_cleanup(&b);
}

Test(buf, consume_from_the_front, .timeout = 10) {
  crpc__buf b;

  crpc__buf_init(&b, 16);
  cr_assert_eq(crpc__buf_append(&b, "0123456789", 10), 0);
  crpc__buf_consume(&b, 4);
  assert_content(&b, "456789");
  crpc__buf_consume(&b, 0);
  assert_content(&b, "456789");
  crpc__buf_consume(&b, 6);
  assert_content(&b, "");
  cr_assert_eq(crpc__buf_append(&b, "ab", 2), 0);
  assert_content(&b, "ab");
  crpc__buf_cleanup(&b);
}

Test(buf, consumed_space_counts_against_nothing, .timeout = 10) {
  crpc__buf b;
  int i;

  /* Consumed bytes leave the limit: a stream through a small buffer. */
  crpc__buf_init(&b, 16);
  for (i = 0; i < 1000; i++) {
    cr_assert_eq(crpc__buf_append(&b, "0123456789", 10), 0);
    crpc__buf_consume(&b, 7);
    cr_assert_eq(crpc__buf_len(&b), 3);
    cr_assert_arr_eq(crpc__buf_data(&b), "789", 3);
    crpc__buf_consume(&b, 3);
  }
  cr_assert_eq(crpc__buf_append(&b, "0123456789", 10), 0);
  crpc__buf_consume(&b, 8);
  cr_assert_eq(crpc__buf_append(&b, "abcdefghijklmn", 14), 0);
  assert_content(&b, "89abcdefghijklmn");
  cr_assert_leq(b.cap, 16);
  crpc__buf_cleanup(&b);
}

Test(buf, reserve_then_commit_in_place, .timeout = 10) {
  crpc__buf b;
  uint8_t *t;

  crpc__buf_init(&b, 1000);
  cr_assert_eq(crpc__buf_append(&b, "ab", 2), 0);
  cr_assert_eq(crpc__buf_reserve(&b, 500), 0);
  cr_assert_geq(crpc__buf_room(&b), 500);
  t = crpc__buf_tail(&b);
  cr_assert_eq(t, crpc__buf_data(&b) + 2);
  memset(t, 'x', 500);
  crpc__buf_commit(&b, 3);
  assert_content(&b, "abxxx");
  crpc__buf_truncate(&b, 1);
  assert_content(&b, "a");
  crpc__buf_cleanup(&b);
}

Test(buf, grows_across_many_appends, .timeout = 10) {
  crpc__buf b;
  uint8_t chunk[97];
  size_t i;
  size_t total = 0;

  crpc__buf_init(&b, 1 << 20);
  for (i = 0; i < sizeof(chunk); i++)
    chunk[i] = (uint8_t)i;
  while (total + sizeof(chunk) <= (1u << 20)) {
    cr_assert_eq(crpc__buf_append(&b, chunk, sizeof(chunk)), 0);
    total += sizeof(chunk);
  }
  cr_assert_eq(crpc__buf_len(&b), total);
  for (i = 0; i < total; i += sizeof(chunk)) {
    if (memcmp(crpc__buf_data(&b) + i, chunk, sizeof(chunk)) != 0)
      cr_assert_fail("content differs at %zu", i);
  }
  cr_assert_eq(crpc__buf_append(&b, chunk, sizeof(chunk)), CRPC_ETOOBIG);
  cr_assert_eq(crpc__buf_len(&b), total);
  crpc__buf_cleanup(&b);
}

Test(buf, reset_keeps_memory, .timeout = 10) {
  crpc__buf b;
  uint8_t *mem;

  crpc__buf_init(&b, 64);
  cr_assert_eq(crpc__buf_append(&b, "abcdef", 6), 0);
  mem = b.mem;
  crpc__buf_reset(&b);
  cr_assert_eq(crpc__buf_len(&b), 0);
  cr_assert_eq(b.mem, mem);
  cr_assert_eq(crpc__buf_append(&b, "xy", 2), 0);
  cr_assert_eq(crpc__buf_data(&b), mem);
  assert_content(&b, "xy");
  crpc__buf_cleanup(&b);
  cr_assert_null(b.mem);
  cr_assert_eq(b.max, 64);
}

Test(buf, detach_hands_over_the_content, .timeout = 10) {
  crpc__buf b;
  uint8_t *p;
  size_t n;

  crpc__buf_init(&b, 64);
  cr_assert_eq(crpc__buf_append(&b, "xxhello", 7), 0);
  crpc__buf_consume(&b, 2);
  p = crpc__buf_detach(&b, &n);
  cr_assert_not_null(p);
  cr_assert_eq(n, 5);
  cr_assert_arr_eq(p, "hello", 5);
  free(p);
  cr_assert_eq(crpc__buf_len(&b), 0);
  cr_assert_null(crpc__buf_data(&b));
  cr_assert_eq(crpc__buf_append(&b, "again", 5), 0);
  assert_content(&b, "again");
  crpc__buf_cleanup(&b);
}

Test(buf, detach_of_empty_is_null, .timeout = 10) {
  crpc__buf b;
  size_t n = 99;

  crpc__buf_init(&b, 64);
  cr_assert_null(crpc__buf_detach(&b, &n));
  cr_assert_eq(n, 0);
  cr_assert_eq(crpc__buf_append(&b, "ab", 2), 0);
  crpc__buf_consume(&b, 2);
  n = 99;
  cr_assert_null(crpc__buf_detach(&b, &n));
  cr_assert_eq(n, 0);
  cr_assert_null(b.mem);
}

Test(buf, reserve_exact_grows_to_the_size_asked, .timeout = 10) {
  crpc__buf b;

  crpc__buf_init(&b, 1 << 20);
  cr_assert_eq(crpc__buf_append(&b, "abc", 3), 0);
  cr_assert_eq(crpc__buf_reserve_exact(&b, 70000), 0);
  cr_assert_eq(b.cap, 70003);
  cr_assert_eq(memcmp(crpc__buf_data(&b), "abc", 3), 0);
  /* Room enough already: nothing moves. */
  cr_assert_eq(crpc__buf_reserve_exact(&b, 100), 0);
  cr_assert_eq(b.cap, 70003);
  cr_assert_eq(crpc__buf_reserve_exact(&b, 1 << 20), CRPC_ETOOBIG);
  crpc__buf_cleanup(&b);
}

Test(buf, exchange_hands_over_the_memory_and_takes_other, .timeout = 10) {
  crpc__buf b;
  crpc__buf_init(&b, SIZE_MAX);
  size_t len = 1, cap = 1;
  uint8_t *mine = malloc(64);
  cr_assert_not_null(mine);
  /* Without memory there is nothing to hand over: |b| takes |mine|. */
  cr_assert_null(crpc__buf_exchange(&b, mine, 64, &len, &cap));
  cr_assert_eq(crpc__buf_len(&b), 0);
  cr_assert_eq(crpc__buf_tail(&b), mine);
  cr_assert_eq(crpc__buf_room(&b), 64);
  /* Content after a consumed front comes back at the start. */
  cr_assert_eq(crpc__buf_append(&b, "xxmessage", 9), 0);
  crpc__buf_consume(&b, 2);
  uint8_t *other = malloc(16);
  cr_assert_not_null(other);
  uint8_t *got = crpc__buf_exchange(&b, other, 16, &len, &cap);
  cr_assert_eq(got, mine);
  cr_assert_eq(len, 7);
  cr_assert_eq(cap, 64);
  cr_assert_arr_eq(got, "message", 7);
  free(got);
  /* |b| goes on in |other|, empty, and grows from it as from its own. */
  cr_assert_eq(crpc__buf_len(&b), 0);
  cr_assert_eq(crpc__buf_tail(&b), other);
  cr_assert_eq(crpc__buf_append(&b, "0123456789abcdefXYZ", 19), 0);
  assert_content(&b, "0123456789abcdefXYZ");
  crpc__buf_cleanup(&b);
}
