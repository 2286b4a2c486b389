/* tests/runtime/test_arena.c: the per-call arena. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "test_messages.pb-c.h"

/* A base allocator that counts, and fails from the |fail_at|-th call on. */
typedef struct counting {
  size_t calls;
  size_t live;
  size_t fail_at;
} counting;

static void *counting_alloc(void *allocator_data, size_t size) {
  counting *c = allocator_data;

  if (c->calls++ >= c->fail_at)
    return NULL;
  c->live++;
  return malloc(size);
}

static void counting_free(void *allocator_data, void *pointer) {
  counting *c = allocator_data;

  c->live--;
  free(pointer);
}

static ProtobufCAllocator counting_base(counting *c, size_t fail_at) {
  ProtobufCAllocator base;

  c->calls = 0;
  c->live = 0;
  c->fail_at = fail_at;
  base.alloc = counting_alloc;
  base.free = counting_free;
  base.allocator_data = c;
  return base;
}

static int is_aligned(const void *p) {
  return ((uintptr_t)p % CRPC__ARENA_ALIGN) == 0;
}

static uint32_t xorshift(uint32_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 17;
  *s ^= *s << 5;
  return *s;
}

typedef struct piece {
  uint8_t *p;
  size_t n;
} piece;

/* Fills each piece with its own byte, then checks none was overwritten by
 * another: allocations must not overlap. */
static void check_pieces(piece *v, size_t count) {
  size_t i;
  size_t j;

  for (i = 0; i < count; i++)
    memset(v[i].p, (int)(i & 0xFF), v[i].n);
  for (i = 0; i < count; i++) {
    for (j = 0; j < v[i].n; j++) {
      if (v[i].p[j] != (uint8_t)(i & 0xFF))
        cr_assert_fail("piece %zu overwritten at %zu", i, j);
    }
  }
}

static Crpc__Test__Echo *sample_echo(void) {
  static char *tags[] = {"alpha", "beta", "", "delta"};
  static uint8_t bytes[300];
  static Crpc__Test__Echo m = CRPC__TEST__ECHO__INIT;
  size_t i;

  for (i = 0; i < sizeof(bytes); i++)
    bytes[i] = (uint8_t)(i * 7);
  m.text = "hello arena";
  m.payload.data = bytes;
  m.payload.len = sizeof(bytes);
  m.n = -42;
  m.n_tags = 4;
  m.tags = tags;
  return &m;
}

Test(arena, every_allocation_is_aligned, .timeout = 30) {
  crpc__arena a;
  piece v[600];
  size_t i;
  uint32_t seed = 1;

  crpc__arena_init(&a, NULL, 1024, 0);
  cr_assert_geq(CRPC__ARENA_ALIGN, 16);
  cr_assert_eq(CRPC__ARENA_ALIGN % _Alignof(max_align_t), 0);
  for (i = 0; i < 600; i++) {
    v[i].n = i < 300 ? i : xorshift(&seed) % 700;
    v[i].p = crpc__arena_alloc(&a, v[i].n);
    cr_assert_not_null(v[i].p);
    cr_assert(is_aligned(v[i].p), "allocation %zu of %zu bytes", i, v[i].n);
  }
  check_pieces(v, 600);
  crpc__arena_cleanup(&a);
}

Test(arena, zero_bytes_gives_distinct_pointers, .timeout = 30) {
  crpc__arena a;
  void *p;
  void *q;

  crpc__arena_init(&a, NULL, 0, 0);
  p = crpc__arena_alloc(&a, 0);
  q = crpc__arena_alloc(&a, 0);
  cr_assert_not_null(p);
  cr_assert_not_null(q);
  cr_assert_neq(p, q);
  crpc__arena_cleanup(&a);
}

Test(arena, many_small_and_a_few_huge, .timeout = 30) {
  enum { SMALL = 20000, HUGE_N = 4 };
  static piece v[SMALL + HUGE_N];
  crpc__arena a;
  counting c;
  ProtobufCAllocator base = counting_base(&c, SIZE_MAX);
  size_t i;
  size_t k = 0;
  uint32_t seed = 7;
  uint8_t *before;
  uint8_t *after;

  crpc__arena_init(&a, &base, 4096, 0);
  for (i = 0; i < SMALL; i++) {
    if (i % 5000 == 2500) {
      before = crpc__arena_alloc(&a, 16);
      v[k].n = (size_t)1 << 20;
      v[k].p = crpc__arena_alloc(&a, v[k].n);
      cr_assert_not_null(v[k].p);
      cr_assert(is_aligned(v[k].p));
      k++;
      /* The huge one did not end the block small ones come from. */
      after = crpc__arena_alloc(&a, 16);
      cr_assert_eq(after, before + 16);
    }
    v[k].n = 1 + xorshift(&seed) % 100;
    v[k].p = crpc__arena_alloc(&a, v[k].n);
    cr_assert_not_null(v[k].p);
    k++;
  }
  check_pieces(v, k);
  cr_assert_lt(c.live, 1000, "small ones share blocks");
  cr_assert_geq(crpc__arena_footprint(&a), HUGE_N * ((size_t)1 << 20));
  crpc__arena_cleanup(&a);
  cr_assert_eq(c.live, 0);
  cr_assert_eq(crpc__arena_footprint(&a), 0);
}

Test(arena, max_bytes_is_enforced, .timeout = 30) {
  crpc__arena a;
  size_t total = 0;
  size_t before;
  void *p;

  crpc__arena_init(&a, NULL, 1024, 16384);
  while ((p = crpc__arena_alloc(&a, 100)) != NULL) {
    memset(p, 1, 100);
    total += 100;
    cr_assert_leq(crpc__arena_footprint(&a), 16384);
  }
  cr_assert_gt(total, 16384 / 2, "most of the budget is usable");
  before = crpc__arena_footprint(&a);
  cr_assert_null(crpc__arena_alloc(&a, 100));
  cr_assert_null(crpc__arena_alloc(&a, 20000));
  cr_assert_null(crpc__arena_alloc(&a, SIZE_MAX));
  cr_assert_null(crpc__arena_calloc(&a, SIZE_MAX / 2, 4));
  cr_assert_eq(crpc__arena_footprint(&a), before, "unchanged by failures");
  crpc__arena_reset(&a);
  cr_assert_not_null(crpc__arena_alloc(&a, 100));
  crpc__arena_cleanup(&a);
}

Test(arena, budget_smaller_than_a_block, .timeout = 30) {
  crpc__arena a;

  /* A block would not fit the budget, but a smaller one does. */
  crpc__arena_init(&a, NULL, 4096, 1024);
  cr_assert_not_null(crpc__arena_alloc(&a, 100));
  cr_assert_leq(crpc__arena_footprint(&a), 1024);
  cr_assert_null(crpc__arena_alloc(&a, 2000));
  crpc__arena_cleanup(&a);
}

Test(arena, reset_reuses_the_first_block, .timeout = 30) {
  crpc__arena a;
  counting c;
  ProtobufCAllocator base = counting_base(&c, SIZE_MAX);
  uint8_t *first;
  size_t first_footprint;
  size_t calls;
  int i;

  crpc__arena_init(&a, &base, 1024, 0);
  first = crpc__arena_alloc(&a, 10);
  first_footprint = crpc__arena_footprint(&a);
  cr_assert_eq(c.live, 1);
  for (i = 0; i < 100; i++)
    cr_assert_not_null(crpc__arena_alloc(&a, 200));
  cr_assert_not_null(crpc__arena_alloc(&a, 100000));
  cr_assert_gt(c.live, 10);
  crpc__arena_reset(&a);
  cr_assert_eq(c.live, 1);
  cr_assert_eq(crpc__arena_footprint(&a), first_footprint);
  calls = c.calls;
  cr_assert_eq(crpc__arena_alloc(&a, 10), first);
  cr_assert_eq(c.calls, calls, "no new block for what the first holds");
  crpc__arena_reset(&a);
  crpc__arena_reset(&a);
  cr_assert_eq(crpc__arena_alloc(&a, 10), first);
  crpc__arena_cleanup(&a);
  cr_assert_eq(c.live, 0);
  crpc__arena_cleanup(&a);
  crpc__arena_reset(&a);
  cr_assert_not_null(crpc__arena_alloc(&a, 10));
  crpc__arena_cleanup(&a);
  cr_assert_eq(c.live, 0);
}

Test(arena, reset_after_only_a_huge_block, .timeout = 30) {
  crpc__arena a;
  counting c;
  ProtobufCAllocator base = counting_base(&c, SIZE_MAX);

  crpc__arena_init(&a, &base, 1024, 0);
  cr_assert_not_null(crpc__arena_alloc(&a, 5000));
  crpc__arena_reset(&a);
  cr_assert_eq(c.live, 0, "a huge block is never kept");
  cr_assert_eq(crpc__arena_footprint(&a), 0);
  cr_assert_not_null(crpc__arena_alloc(&a, 10));
  crpc__arena_cleanup(&a);
  cr_assert_eq(c.live, 0);
}

Test(arena, keep_saves_the_largest_block_for_the_next_large_one,
     .timeout = 30) {
  crpc__arena a;
  counting c;
  ProtobufCAllocator base = counting_base(&c, SIZE_MAX);

  crpc__arena_init(&a, &base, 1024, 0);
  cr_assert_not_null(crpc__arena_alloc(&a, 10));
  cr_assert_not_null(crpc__arena_alloc(&a, 3000));
  uint8_t *big = crpc__arena_alloc(&a, 70000);
  cr_assert_not_null(big);
  cr_assert_not_null(crpc__arena_alloc(&a, 200000));
  /* Within 100000 bytes, the 70000-byte block is the largest: kept, with
   * the first one; the others go. */
  size_t kept = crpc__arena_keep(&a, 100000);
  cr_assert_geq(kept, 70000);
  cr_assert_lt(kept, 100000);
  cr_assert_eq(c.live, 2);
  size_t calls = c.calls;
  /* The next large allocation that fits takes it, and another the first
   * block cannot hold gets a new one. */
  cr_assert_not_null(crpc__arena_alloc(&a, 10));
  cr_assert_eq(crpc__arena_alloc(&a, 60000), big);
  cr_assert_eq(c.calls, calls, "no new block for what the kept one holds");
  cr_assert_not_null(crpc__arena_alloc(&a, 60000));
  cr_assert_eq(c.calls, calls + 1);
  /* Kept across a keep that has nothing larger; a larger one replaces it. */
  cr_assert_geq(crpc__arena_keep(&a, 100000), 70000);
  cr_assert_eq(c.live, 2);
  cr_assert_not_null(crpc__arena_alloc(&a, 90000));
  cr_assert_geq(crpc__arena_keep(&a, 100000), 90000);
  cr_assert_eq(c.live, 2);
  /* One too large for it drops it (it only stands in the budget's way). */
  cr_assert_not_null(crpc__arena_alloc(&a, 150000));
  cr_assert_eq(c.live, 2);
  /* A keep of nothing and a plain reset keep only the first block. */
  cr_assert_eq(crpc__arena_keep(&a, 0), 0);
  cr_assert_eq(c.live, 1);
  cr_assert_not_null(crpc__arena_alloc(&a, 70000));
  cr_assert_geq(crpc__arena_keep(&a, 100000), 70000);
  crpc__arena_reset(&a);
  cr_assert_eq(c.live, 1);
  cr_assert_not_null(crpc__arena_alloc(&a, 70000));
  cr_assert_geq(crpc__arena_keep(&a, 100000), 70000);
  crpc__arena_cleanup(&a);
  cr_assert_eq(c.live, 0);
  cr_assert_eq(crpc__arena_footprint(&a), 0);
}

Test(arena, calloc_zeroes_reused_memory, .timeout = 30) {
  crpc__arena a;
  uint8_t *p;
  size_t i;

  crpc__arena_init(&a, NULL, 1024, 0);
  p = crpc__arena_alloc(&a, 512);
  memset(p, 0xAB, 512);
  crpc__arena_reset(&a);
  p = crpc__arena_calloc(&a, 64, 8);
  cr_assert_not_null(p);
  for (i = 0; i < 512; i++)
    cr_assert_eq(p[i], 0);
  cr_assert_null(crpc__arena_calloc(&a, SIZE_MAX / 8 + 1, 16));
  cr_assert_not_null(crpc__arena_calloc(&a, 0, 16));
  crpc__arena_cleanup(&a);
}

Test(arena, strdup_and_memdup, .timeout = 30) {
  crpc__arena a;
  char *s;
  uint8_t *m;
  char big[3000];

  crpc__arena_init(&a, NULL, 256, 0);
  s = crpc__arena_strdup(&a, "hello");
  cr_assert_str_eq(s, "hello");
  cr_assert(is_aligned(s));
  s = crpc__arena_strdup(&a, "");
  cr_assert_str_eq(s, "");
  m = crpc__arena_memdup(&a, "\0\1\2", 3);
  cr_assert_arr_eq(m, "\0\1\2", 3);
  memset(big, 'z', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  cr_assert_str_eq(crpc__arena_strdup(&a, big), big);
  crpc__arena_cleanup(&a);
}

Test(arena, protobuf_unpack_into_the_arena, .timeout = 30) {
  Crpc__Test__Echo *m = sample_echo();
  size_t n = crpc__test__echo__get_packed_size(m);
  uint8_t *wire = malloc(n);
  uint8_t *again = malloc(n);
  crpc__arena a;
  ProtobufCAllocator alloc;
  Crpc__Test__Echo *u;
  counting c;
  ProtobufCAllocator base = counting_base(&c, SIZE_MAX);

  cr_assert_eq(crpc__test__echo__pack(m, wire), n);
  crpc__arena_init(&a, &base, 0, 0);
  alloc = crpc__arena_allocator(&a);
  u = crpc__test__echo__unpack(&alloc, n, wire);
  cr_assert_not_null(u);
  cr_assert_str_eq(u->text, "hello arena");
  cr_assert_eq(u->n, -42);
  cr_assert_eq(u->n_tags, 4);
  cr_assert_str_eq(u->tags[1], "beta");
  cr_assert_eq(u->payload.len, 300);
  cr_assert_eq(crpc__test__echo__get_packed_size(u), n);
  cr_assert_eq(crpc__test__echo__pack(u, again), n);
  cr_assert_arr_eq(again, wire, n);
  /* Freeing through the arena's allocator is harmless. */
  crpc__test__echo__free_unpacked(u, &alloc);
  cr_assert_gt(c.live, 0);
  crpc__arena_cleanup(&a);
  cr_assert_eq(c.live, 0);
  free(wire);
  free(again);
}

Test(arena, failing_base_allocator, .timeout = 30) {
  Crpc__Test__Echo *m = sample_echo();
  size_t n = crpc__test__echo__get_packed_size(m);
  uint8_t *wire = malloc(n);
  size_t fail_at;
  int unpacked = 0;

  cr_assert_eq(crpc__test__echo__pack(m, wire), n);
  /* A block size of 64 makes unpacking take several blocks, so the
   * failure hits every one of them in turn. */
  for (fail_at = 0; fail_at < 64; fail_at++) {
    counting c;
    ProtobufCAllocator base = counting_base(&c, fail_at);
    ProtobufCAllocator alloc;
    crpc__arena a;
    Crpc__Test__Echo *u;

    crpc__arena_init(&a, &base, 64, 0);
    alloc = crpc__arena_allocator(&a);
    u = crpc__test__echo__unpack(&alloc, n, wire);
    if (u != NULL) {
      unpacked++;
      cr_assert_str_eq(u->tags[3], "delta");
    } else {
      cr_assert_eq(crpc__arena_footprint(&a) == 0, c.live == 0);
      cr_assert_null(crpc__arena_alloc(&a, 1000));
    }
    crpc__arena_cleanup(&a);
    cr_assert_eq(c.live, 0, "failing at call %zu leaked", fail_at);
  }
  cr_assert_gt(unpacked, 0);
  cr_assert_lt(unpacked, 64);
  free(wire);
}
