/*
 * tests/runtime/test_nvlist.c: suite of runtime/nvlist.c, the nghttp2_nv
 * list builder over an arena: borrowed and copied fields, metadata as it
 * goes on the wire, growth, and the sticky |oom| flag.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "arena.h"
#include "crpc/metadata.h"
#include "nvlist.h"

/* Checks field |i| of |l| is exactly |name| = the |vlen| bytes at |value|. */
static void check_nv(const crpc__nvlist *l, size_t i, const char *name,
                     const void *value, size_t vlen) {
  cr_assert_lt(i, l->n, "field %zu of %zu", i, l->n);
  const nghttp2_nv *nv = &l->nv[i];
  cr_assert_eq(nv->namelen, strlen(name), "field %zu name length", i);
  cr_assert_arr_eq(nv->name, name, nv->namelen, "field %zu name", i);
  cr_assert_eq(nv->valuelen, vlen, "field %zu (%s) value length %zu, want %zu",
               i, name, nv->valuelen, vlen);
  if (vlen)
    cr_assert_arr_eq(nv->value, value, vlen, "field %zu (%s) value", i, name);
  cr_assert_eq(nv->flags, NGHTTP2_NV_FLAG_NONE);
}

Test(nvlist, init_is_empty, .timeout = 10) {
  crpc__arena a;
  crpc__nvlist l;
  crpc__arena_init(&a, NULL, 0, 0);
  crpc__nvlist_init(&l, &a);
  cr_assert_eq(l.n, 0);
  cr_assert_eq(l.cap, 0);
  cr_assert_null(l.nv);
  cr_assert_eq(l.a, &a);
  cr_assert_eq(l.oom, 0);
  cr_assert_eq(crpc__arena_footprint(&a), 0, "init allocates nothing");
  crpc__arena_cleanup(&a);
}

Test(nvlist, add_and_str_borrow, .timeout = 10) {
  static const char name[] = "x-name-and-more";
  static const char value[] = "v\0with nul";
  static const char sname[] = "content-type";
  static const char svalue[] = "application/grpc";
  crpc__arena a;
  crpc__nvlist l;
  crpc__arena_init(&a, NULL, 0, 0);
  crpc__nvlist_init(&l, &a);

  crpc__nvlist_add(&l, name, 6, value, sizeof(value) - 1);
  crpc__nvlist_str(&l, sname, svalue);
  crpc__nvlist_add(&l, "x-empty", 7, "", 0);

  cr_assert_eq(l.n, 3);
  cr_assert_eq(l.oom, 0);
  check_nv(&l, 0, "x-name", value, sizeof(value) - 1);
  check_nv(&l, 1, sname, svalue, strlen(svalue));
  check_nv(&l, 2, "x-empty", "", 0);
  /* Borrowed: the very pointers given, not copies. */
  cr_assert_eq((const void *)l.nv[0].name, (const void *)name);
  cr_assert_eq((const void *)l.nv[0].value, (const void *)value);
  cr_assert_eq((const void *)l.nv[1].name, (const void *)sname);
  cr_assert_eq((const void *)l.nv[1].value, (const void *)svalue);
  crpc__arena_cleanup(&a);
}

Test(nvlist, constants_go_as_they_are, .timeout = 10) {
  static const char status[] = "12";
  const uint8_t both =
      NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE;
  crpc__arena a;
  crpc__nvlist l;
  crpc__arena_init(&a, NULL, 0, 0);
  crpc__nvlist_init(&l, &a);
  CRPC__NVLIST_LIT(&l, "te", "trailers");
  crpc__nvlist_const(&l, "grpc-status", 11, status, 2);
  crpc__nvlist_str(&l, "x-after", "v");
  cr_assert_eq(l.n, 3);
  cr_assert_eq(l.nv[0].namelen, 2);
  cr_assert_eq(l.nv[0].valuelen, 8);
  cr_assert_arr_eq(l.nv[0].value, "trailers", 8);
  cr_assert_eq(l.nv[0].flags, both, "nghttp2 neither copies nor lowercases");
  cr_assert_eq((const void *)l.nv[1].value, (const void *)status);
  cr_assert_eq(l.nv[1].valuelen, 2);
  cr_assert_eq(l.nv[1].flags, both);
  cr_assert_eq(l.nv[2].flags, NGHTTP2_NV_FLAG_NONE);
  crpc__arena_cleanup(&a);
}

/* Whether |a| and |b| are the same field, the very same text. */
static int same_nv(const nghttp2_nv *a, const nghttp2_nv *b) {
  return a->name == b->name && a->value == b->value &&
         a->namelen == b->namelen && a->valuelen == b->valuelen &&
         a->flags == b->flags;
}

/* A constant array starts a list as it is; what follows it makes the
 * list the arena's, the array untouched (it is read-only memory here: a
 * write into it would crash the test). */
Test(nvlist, a_constant_array_is_the_list_until_something_follows,
     .timeout = 10) {
  static const nghttp2_nv fields[] = {CRPC__NV_LIT(":status", "200"),
                                      CRPC__NV_LIT("te", "trailers")};
  const uint8_t both =
      NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE;
  crpc__arena a;
  crpc__nvlist l;
  crpc__arena_init(&a, NULL, 0, 0);
  crpc__nvlist_init(&l, &a);
  crpc__nvlist_const_array(&l, fields, 2);
  cr_assert_eq((const void *)l.nv, (const void *)fields, "the array itself");
  cr_assert_eq(l.n, 2);
  cr_assert_eq(crpc__arena_footprint(&a), 0, "nothing allocated");
  cr_assert_eq(fields[1].flags, both);
  cr_assert_eq(fields[1].namelen, 2);
  cr_assert_eq(fields[1].valuelen, 8);

  crpc__nvlist_str(&l, "x-after", "v");
  cr_assert_eq(l.oom, 0);
  cr_assert_eq(l.n, 3);
  cr_assert_neq((const void *)l.nv, (const void *)fields, "copied to grow");
  cr_assert_gt(crpc__arena_footprint(&a), 0);
  for (size_t i = 0; i < 2; i++)
    cr_assert(same_nv(&l.nv[i], &fields[i]), "field %zu as it was", i);
  check_nv(&l, 2, "x-after", "v", 1);
  cr_assert_arr_eq(fields[0].value, "200", 3, "the array is unchanged");

  /* On a list that has fields, the array's are appended. */
  crpc__nvlist_const_array(&l, fields, 2);
  cr_assert_eq(l.n, 5);
  cr_assert(same_nv(&l.nv[3], &fields[0]));
  cr_assert(same_nv(&l.nv[4], &fields[1]));

  /* An empty list that ran out of memory stays so. */
  crpc__nvlist_init(&l, &a);
  l.oom = 1;
  crpc__nvlist_const_array(&l, fields, 2);
  cr_assert_eq(l.n, 0);
  cr_assert_null(l.nv);
  crpc__arena_cleanup(&a);
}

Test(nvlist, copy_really_copies, .timeout = 10) {
  char src[] = "changing text";
  const uint8_t bin[] = {0x00, 0xff, 0x7f, 0x00};
  crpc__arena a;
  crpc__nvlist l;
  crpc__arena_init(&a, NULL, 0, 0);
  crpc__nvlist_init(&l, &a);

  crpc__nvlist_copy(&l, "x-text", src, strlen(src));
  crpc__nvlist_copy(&l, "x-bytes", bin, sizeof(bin));
  crpc__nvlist_copy(&l, "x-empty", "", 0);
  cr_assert_eq(l.n, 3);
  cr_assert_eq(l.oom, 0);
  cr_assert_neq((const void *)l.nv[0].value, (const void *)src);
  cr_assert_neq((const void *)l.nv[1].value, (const void *)bin);
  cr_assert_not_null(l.nv[2].value);

  memset(src, 'X', strlen(src));
  check_nv(&l, 0, "x-text", "changing text", 13);
  check_nv(&l, 1, "x-bytes", bin, sizeof(bin));
  check_nv(&l, 2, "x-empty", "", 0);
  crpc__arena_cleanup(&a);
}

Test(nvlist, metadata_as_on_the_wire, .timeout = 10) {
  static const struct {
    const char *key;
    const void *value;
    size_t len;
    const char *wire; /* as sent */
  } cases[] = {
      {"x-text", "hello world", 11, "hello world"},
      {"x-bin", "\xff\x00", 2, "/wA"}, /* base64 without padding */
      {"x-one-bin", "\x01", 1, "AQ"},
      {"x-three-bin", "abc", 3, "YWJj"},
      {"x-empty", "", 0, ""},
      {"x-empty-bin", "", 0, ""},
      {"x-text", "repeated", 8, "repeated"},
  };
  size_t n = sizeof(cases) / sizeof(cases[0]);
  crpc_metadata md;
  crpc__arena a;
  crpc__nvlist l;
  crpc_metadata_init(&md);
  for (size_t i = 0; i < n; i++)
    cr_assert_eq(
        crpc_metadata_add(&md, cases[i].key, cases[i].value, cases[i].len), 0,
        "add %s", cases[i].key);
  crpc__arena_init(&a, NULL, 0, 0);
  crpc__nvlist_init(&l, &a);
  crpc__nvlist_str(&l, ":status", "200");
  crpc__nvlist_metadata(&l, &md);

  cr_assert_eq(l.oom, 0);
  cr_assert_eq(l.n, n + 1);
  check_nv(&l, 0, ":status", "200", 3);
  for (size_t i = 0; i < n; i++) {
    check_nv(&l, i + 1, cases[i].key, cases[i].wire, strlen(cases[i].wire));
    /* Keys are borrowed from |md|, values are the arena's. */
    cr_assert_eq((const void *)l.nv[i + 1].name,
                 (const void *)md.entries[i].key);
    cr_assert_neq((const void *)l.nv[i + 1].value,
                  (const void *)md.entries[i].value);
  }
  crpc_metadata_cleanup(&md);
  crpc__arena_cleanup(&a);
}

Test(nvlist, empty_metadata_adds_nothing, .timeout = 10) {
  crpc_metadata md;
  crpc__arena a;
  crpc__nvlist l;
  crpc_metadata_init(&md);
  crpc__arena_init(&a, NULL, 0, 0);
  crpc__nvlist_init(&l, &a);
  crpc__nvlist_metadata(&l, &md);
  cr_assert_eq(l.n, 0);
  cr_assert_eq(l.oom, 0);
  crpc__arena_cleanup(&a);
}

Test(nvlist, grows_past_16_keeping_order_and_values, .timeout = 10) {
  enum { N = 100 };
  static char names[N][16];
  const uint8_t *values[N];
  crpc__arena a;
  crpc__nvlist l;
  crpc__arena_init(&a, NULL, 0, 0);
  crpc__nvlist_init(&l, &a);
  for (size_t i = 0; i < N; i++) {
    char v[16];
    int vl = snprintf(v, sizeof(v), "value-%zu", i);
    snprintf(names[i], sizeof(names[i]), "x-%zu", i);
    if (i % 2)
      crpc__nvlist_copy(&l, names[i], v, (size_t)vl);
    else
      crpc__nvlist_str(&l, names[i], "borrowed");
    cr_assert_eq(l.n, i + 1);
    values[i] = l.nv[i].value;
    if (i == 15)
      cr_assert_eq(l.cap, 16, "the first array holds 16");
  }
  cr_assert_eq(l.oom, 0);
  cr_assert_geq(l.cap, N);
  for (size_t i = 0; i < N; i++) {
    char v[16];
    int vl = snprintf(v, sizeof(v), "value-%zu", i);
    /* The same pointers as before the array moved, still readable. */
    cr_assert_eq((const void *)l.nv[i].name, (const void *)names[i]);
    cr_assert_eq(l.nv[i].value, values[i], "field %zu moved", i);
    if (i % 2)
      check_nv(&l, i, names[i], v, (size_t)vl);
    else
      check_nv(&l, i, names[i], "borrowed", 8);
  }
  crpc__arena_cleanup(&a);
}

Test(nvlist, oom_on_the_first_array, .timeout = 10) {
  crpc__arena a;
  crpc__nvlist l;
  /* Too small for any block: the first add cannot get its array. */
  crpc__arena_init(&a, NULL, 0, 64);
  crpc__nvlist_init(&l, &a);
  crpc__nvlist_str(&l, "te", "trailers");
  cr_assert_eq(l.oom, 1);
  cr_assert_eq(l.n, 0);
  crpc__nvlist_str(&l, "te", "trailers");
  crpc__nvlist_add(&l, "a", 1, "b", 1);
  cr_assert_eq(l.oom, 1);
  cr_assert_eq(l.n, 0);
  crpc__arena_cleanup(&a);
}

Test(nvlist, oom_on_growth_is_sticky, .timeout = 10) {
  crpc__arena a;
  crpc__nvlist l;
  /* Room for the first array of 16 (640 bytes on LP64), not for 32. */
  crpc__arena_init(&a, NULL, 0, 16 * sizeof(nghttp2_nv) + 256);
  crpc__nvlist_init(&l, &a);
  for (int i = 0; i < 16; i++)
    crpc__nvlist_str(&l, "x-a", "v");
  cr_assert_eq(l.oom, 0);
  cr_assert_eq(l.n, 16);
  nghttp2_nv *before = l.nv;

  crpc__nvlist_str(&l, "x-b", "v");
  cr_assert_eq(l.oom, 1, "growth past 16 does not fit");
  cr_assert_eq(l.n, 16);
  cr_assert_eq(l.nv, before);

  /* Later adds of any kind do nothing. */
  crpc__nvlist_add(&l, "x-c", 3, "v", 1);
  crpc__nvlist_copy(&l, "x-d", "v", 1);
  crpc_metadata md;
  crpc_metadata_init(&md);
  cr_assert_eq(crpc_metadata_add_str(&md, "x-e", "v"), 0);
  crpc__nvlist_metadata(&l, &md);
  cr_assert_eq(l.oom, 1);
  cr_assert_eq(l.n, 16);
  for (size_t i = 0; i < 16; i++)
    check_nv(&l, i, "x-a", "v", 1);
  crpc_metadata_cleanup(&md);
  crpc__arena_cleanup(&a);
}

Test(nvlist, oom_on_copy, .timeout = 10) {
  enum { N = 1000 };
  crpc__arena a;
  crpc__nvlist l;
  char big[512];
  memset(big, 'z', sizeof(big));
  crpc__arena_init(&a, NULL, 0, 4096);
  crpc__nvlist_init(&l, &a);
  size_t i = 0;
  for (; i < N && !l.oom; i++)
    crpc__nvlist_copy(&l, "x-big", big, sizeof(big));
  cr_assert_eq(l.oom, 1, "a 4 KiB arena never filled");
  size_t n = l.n;
  cr_assert_gt(n, 0);
  cr_assert_lt(n, i);
  crpc__nvlist_str(&l, "x-after", "v");
  crpc__nvlist_copy(&l, "x-after", "v", 1);
  cr_assert_eq(l.n, n);
  for (size_t k = 0; k < n; k++)
    check_nv(&l, k, "x-big", big, sizeof(big));
  crpc__arena_cleanup(&a);
}

Test(nvlist, oom_on_metadata, .timeout = 10) {
  enum { N = 64 };
  static uint8_t blob[300];
  crpc_metadata md;
  crpc__arena a;
  crpc__nvlist l;
  crpc_metadata_init(&md);
  for (int i = 0; i < N; i++)
    cr_assert_eq(crpc_metadata_add(&md, "x-blob-bin", blob, sizeof(blob)), 0);
  crpc__arena_init(&a, NULL, 0, 4096);
  crpc__nvlist_init(&l, &a);
  crpc__nvlist_metadata(&l, &md);
  cr_assert_eq(l.oom, 1, "64 x 400 base64 bytes fit in a 4 KiB arena");
  cr_assert_lt(l.n, (size_t)N);
  size_t n = l.n;
  crpc__nvlist_str(&l, "x-after", "v");
  cr_assert_eq(l.n, n);
  crpc_metadata_cleanup(&md);
  crpc__arena_cleanup(&a);
}

Test(nvlist, reuse_after_arena_reset, .timeout = 10) {
  crpc__arena a;
  crpc__nvlist l;
  crpc__arena_init(&a, NULL, 0, 0);
  for (int round = 0; round < 3; round++) {
    crpc__nvlist_init(&l, &a);
    for (int i = 0; i < 40; i++)
      crpc__nvlist_copy(&l, "x-k", "value", 5);
    cr_assert_eq(l.n, 40);
    cr_assert_eq(l.oom, 0);
    for (size_t i = 0; i < 40; i++)
      check_nv(&l, i, "x-k", "value", 5);
    crpc__arena_reset(&a);
  }
  crpc__arena_cleanup(&a);
}
