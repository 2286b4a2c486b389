/* tests/runtime/test_metadata.c: suite of runtime/metadata.c. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "crpc/error.h"
#include "crpc/metadata.h"
#include "metadata_wire.h"

static crpc_metadata md;

static void setup(void) {
  crpc_metadata_init(&md);
}

static void teardown(void) {
  crpc_metadata_cleanup(&md);
}

TestSuite(metadata, .init = setup, .fini = teardown, .timeout = 10);

static void assert_entry(size_t i, const char *key, const void *value,
                         size_t len) {
  const crpc_metadata_entry *e = crpc_metadata_at(&md, i);
  cr_assert_not_null(e, "no entry %zu", i);
  cr_assert_str_eq(e->key, key, "key of entry %zu", i);
  cr_assert_eq(e->value_len, len, "value length of entry %zu", i);
  cr_assert_arr_eq(e->value, value, len, "value of entry %zu", i);
  cr_assert_eq(e->value[len], '\0', "value of entry %zu not terminated", i);
}

static void add_ok(const char *key, const char *value) {
  cr_assert_eq(crpc_metadata_add_str(&md, key, value), 0, "add %s", key);
}

/* Fills |md| with three entries, to check failures leave them alone. */
static void add_three(void) {
  add_ok("a", "1");
  add_ok("b", "2");
  add_ok("c-bin", "3");
}

static void assert_three(void) {
  cr_assert_eq(crpc_metadata_count(&md), 3);
  assert_entry(0, "a", "1", 1);
  assert_entry(1, "b", "2", 1);
  assert_entry(2, "c-bin", "3", 1);
}

Test(metadata, starts_empty, .timeout = 10) {
  cr_assert_eq(crpc_metadata_count(&md), 0);
  cr_assert_null(crpc_metadata_at(&md, 0));
  cr_assert_null(crpc_metadata_get(&md, "a"));
  cr_assert_eq(crpc_metadata_find(&md, "a", 0), -1);
  cr_assert_eq(crpc_metadata_remove(&md, "a"), 0);
  cr_assert_eq(crpc_metadata_wire_size(&md), 0);
}

Test(metadata, preserves_order, .timeout = 10) {
  add_ok("zeta", "z");
  add_ok("alpha", "a");
  add_ok("mid", "m");
  cr_assert_eq(crpc_metadata_count(&md), 3);
  assert_entry(0, "zeta", "z", 1);
  assert_entry(1, "alpha", "a", 1);
  assert_entry(2, "mid", "m", 1);
  cr_assert_null(crpc_metadata_at(&md, 3));
}

Test(metadata, copies_key_and_value, .timeout = 10) {
  char key[] = "user-id";
  char value[] = "42";
  cr_assert_eq(crpc_metadata_add(&md, key, value, 2), 0);
  key[0] = 'X';
  value[0] = '9';
  assert_entry(0, "user-id", "42", 2);
}

Test(metadata, repeated_keys, .timeout = 10) {
  add_ok("x", "1");
  add_ok("y", "a");
  add_ok("x", "2");
  add_ok("x", "3");
  cr_assert_str_eq((char *)crpc_metadata_get(&md, "x")->value, "1");
  const char *want[] = {"1", "2", "3"};
  size_t n = 0;
  for (ptrdiff_t i = crpc_metadata_find(&md, "x", 0); i >= 0;
       i = crpc_metadata_find(&md, "x", (size_t)i + 1)) {
    cr_assert_lt(n, 3);
    cr_assert_str_eq((char *)crpc_metadata_at(&md, (size_t)i)->value, want[n]);
    n++;
  }
  cr_assert_eq(n, 3);
  cr_assert_eq(crpc_metadata_find(&md, "y", 0), 1);
  cr_assert_eq(crpc_metadata_find(&md, "y", 2), -1);
  cr_assert_eq(crpc_metadata_find(&md, "x", 100), -1);
  cr_assert_null(crpc_metadata_get(&md, "z"));
  cr_assert_null(crpc_metadata_get(&md, "X"));
}

Test(metadata, remove_all_matches_keeps_order, .timeout = 10) {
  add_ok("x", "1");
  add_ok("a", "A");
  add_ok("x", "2");
  add_ok("b", "B");
  add_ok("x", "3");
  add_ok("c", "C");
  cr_assert_eq(crpc_metadata_remove(&md, "x"), 3);
  cr_assert_eq(crpc_metadata_count(&md), 3);
  assert_entry(0, "a", "A", 1);
  assert_entry(1, "b", "B", 1);
  assert_entry(2, "c", "C", 1);
  cr_assert_eq(crpc_metadata_remove(&md, "x"), 0);
  cr_assert_eq(crpc_metadata_remove(&md, "b"), 1);
  assert_entry(1, "c", "C", 1);
  add_ok("d", "D");
  assert_entry(2, "d", "D", 1);
}

Test(metadata, copy_appends_deeply, .timeout = 10) {
  crpc_metadata src;
  crpc_metadata_init(&src);
  cr_assert_eq(crpc_metadata_add_str(&src, "k1", "v1"), 0);
  cr_assert_eq(crpc_metadata_add(&src, "k2-bin", "\0\1", 2), 0);
  add_ok("first", "f");
  cr_assert_eq(crpc_metadata_copy(&md, &src), 0);
  crpc_metadata_cleanup(&src);
  cr_assert_eq(crpc_metadata_count(&md), 3);
  assert_entry(0, "first", "f", 1);
  assert_entry(1, "k1", "v1", 2);
  assert_entry(2, "k2-bin", "\0\1", 2);
}

Test(metadata, copy_into_itself_doubles, .timeout = 10) {
  for (int i = 0; i < 5; i++) {
    char key[8];
    snprintf(key, sizeof(key), "k%d", i);
    add_ok(key, key);
  }
  cr_assert_eq(crpc_metadata_copy(&md, &md), 0);
  cr_assert_eq(crpc_metadata_count(&md), 10);
  for (size_t i = 0; i < 10; i++) {
    char key[8];
    snprintf(key, sizeof(key), "k%zu", i % 5);
    assert_entry(i, key, key, strlen(key));
  }
}

Test(metadata, copy_of_empty, .timeout = 10) {
  crpc_metadata src;
  crpc_metadata_init(&src);
  add_three();
  cr_assert_eq(crpc_metadata_copy(&md, &src), 0);
  assert_three();
}

Test(metadata, clear_then_reuse, .timeout = 10) {
  add_three();
  size_t cap = md.cap;
  crpc_metadata_clear(&md);
  cr_assert_eq(crpc_metadata_count(&md), 0);
  cr_assert_eq(md.cap, cap);
  cr_assert_null(crpc_metadata_get(&md, "a"));
  add_three();
  assert_three();
}

Test(metadata, grows_to_many_entries, .timeout = 10) {
  for (int i = 0; i < 1000; i++) {
    char key[16], value[16];
    snprintf(key, sizeof(key), "key-%d", i);
    snprintf(value, sizeof(value), "value %d", i);
    add_ok(key, value);
  }
  cr_assert_eq(crpc_metadata_count(&md), 1000);
  cr_assert_geq(md.cap, 1000);
  cr_assert_str_eq((char *)crpc_metadata_get(&md, "key-999")->value,
                   "value 999");
  cr_assert_eq(crpc_metadata_find(&md, "key-500", 0), 500);
}

Test(metadata, rejects_bad_keys_unchanged, .timeout = 10) {
  const char *bad[] = {
      "",      "Foo", "fOo",  "a b",         " a",  ":path",   "grpc-foo",
      "grpc-", "a/b", "a\tb", "caf\xc3\xa9", "x@y", "key\x7f", "a,b"};
  add_three();
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    cr_assert_eq(crpc_metadata_add_str(&md, bad[i], "v"), CRPC_EBADKEY,
                 "key \"%s\" accepted", bad[i]);
    cr_assert_eq(crpc_metadata_validate_key(bad[i], strlen(bad[i])),
                 CRPC_EBADKEY, "validate \"%s\"", bad[i]);
  }
  cr_assert_eq(crpc_metadata_add_str(&md, NULL, "v"), CRPC_EBADKEY);
  assert_three();
}

Test(metadata, accepts_good_keys, .timeout = 10) {
  const char *good[] = {"a",           "0", "x-user_id.v2", "grpc", "grpcx-a",
                        "my-grpc-key", "-", "._-",          "-bin"};
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    cr_assert_eq(crpc_metadata_validate_key(good[i], strlen(good[i])), 0,
                 "validate \"%s\"", good[i]);
    cr_assert_eq(crpc_metadata_add_str(&md, good[i], "v"), 0, "add %s",
                 good[i]);
  }
  cr_assert_eq(crpc_metadata_count(&md), sizeof(good) / sizeof(good[0]));
}

Test(metadata, validate_key_uses_length, .timeout = 10) {
  cr_assert_eq(crpc_metadata_validate_key("abcD", 3), 0);
  cr_assert_eq(crpc_metadata_validate_key("ab\0c", 4), CRPC_EBADKEY);
  cr_assert_eq(crpc_metadata_validate_key("abc", 0), CRPC_EBADKEY);
  cr_assert_eq(crpc_metadata_validate_key(NULL, 0), CRPC_EBADKEY);
  cr_assert_eq(crpc_metadata_validate_key("grpc-x", 4), 0); /* "grpc" */
}

Test(metadata, rejects_bad_values_unchanged, .timeout = 10) {
  add_three();
  cr_assert_eq(crpc_metadata_add_str(&md, "k", "line\n"), CRPC_EBADVALUE);
  cr_assert_eq(crpc_metadata_add_str(&md, "k", "cr\r"), CRPC_EBADVALUE);
  cr_assert_eq(crpc_metadata_add_str(&md, "k", "tab\t"), CRPC_EBADVALUE);
  cr_assert_eq(crpc_metadata_add_str(&md, "k", "del\x7f"), CRPC_EBADVALUE);
  cr_assert_eq(crpc_metadata_add_str(&md, "k", "caf\xc3\xa9"), CRPC_EBADVALUE);
  cr_assert_eq(crpc_metadata_add(&md, "k", "a\0b", 3), CRPC_EBADVALUE);
  cr_assert_eq(crpc_metadata_add(&md, "k", "\0", 1), CRPC_EBADVALUE);
  cr_assert_eq(crpc_metadata_add(&md, "k", NULL, 1), CRPC_EINVAL);
  cr_assert_eq(crpc_metadata_add_str(&md, "k", NULL), CRPC_EINVAL);
  assert_three();
}

Test(metadata, accepts_printable_and_empty_values, .timeout = 10) {
  char all[96];
  for (int i = 0; i < 95; i++)
    all[i] = (char)(0x20 + i);
  all[95] = '\0';
  add_ok("printable", all);
  cr_assert_eq(crpc_metadata_add(&md, "empty", NULL, 0), 0);
  add_ok("empty2", "");
  assert_entry(0, "printable", all, 95);
  assert_entry(1, "empty", "", 0);
  assert_entry(2, "empty2", "", 0);
}

Test(metadata, binary_values_with_nuls, .timeout = 10) {
  uint8_t bin[256];
  for (int i = 0; i < 256; i++)
    bin[i] = (uint8_t)(255 - i);
  cr_assert_eq(crpc_metadata_add(&md, "trace-bin", bin, sizeof(bin)), 0);
  cr_assert_eq(crpc_metadata_add(&md, "z-bin", "\0\0\0", 3), 0);
  assert_entry(0, "trace-bin", bin, sizeof(bin));
  assert_entry(1, "z-bin", "\0\0\0", 3);
}

Test(metadata, is_binary_key, .timeout = 10) {
  cr_assert_eq(crpc_metadata_is_binary_key("x-bin", 5), 1);
  cr_assert_eq(crpc_metadata_is_binary_key("-bin", 4), 1);
  cr_assert_eq(crpc_metadata_is_binary_key("grpc-status-details-bin", 23), 1);
  cr_assert_eq(crpc_metadata_is_binary_key("bin", 3), 0);
  cr_assert_eq(crpc_metadata_is_binary_key("x_bin", 5), 0);
  cr_assert_eq(crpc_metadata_is_binary_key("x-bin2", 6), 0);
  cr_assert_eq(crpc_metadata_is_binary_key("x-BIN", 5), 0);
  cr_assert_eq(crpc_metadata_is_binary_key("x-bins", 5), 1);
  cr_assert_eq(crpc_metadata_is_binary_key("x-bin", 4), 0);
  cr_assert_eq(crpc_metadata_is_binary_key(NULL, 0), 0);
}

/* Returns the wire form of entry |i| in |buf|, NUL-terminated. */
static size_t wire_value(size_t i, char *buf, size_t cap) {
  const crpc_metadata_entry *e = crpc_metadata_at(&md, i);
  size_t n = crpc__metadata_wire_value_len(e);
  cr_assert_lt(n, cap);
  memset(buf, '#', cap);
  cr_assert_eq(crpc__metadata_wire_value_write(e, (uint8_t *)buf), n);
  cr_assert_eq(buf[n], '#', "wrote past the end");
  buf[n] = '\0';
  return n;
}

Test(metadata, wire_values_bin_unpadded_base64, .timeout = 10) {
  char buf[64];
  add_ok("plain", "hello world");
  cr_assert_eq(crpc_metadata_add(&md, "a-bin", "\0\1\2\xff", 4), 0);
  cr_assert_eq(crpc_metadata_add(&md, "b-bin", "foobar", 6), 0);
  cr_assert_eq(crpc_metadata_add(&md, "e-bin", NULL, 0), 0);
  cr_assert_eq(wire_value(0, buf, sizeof(buf)), 11);
  cr_assert_str_eq(buf, "hello world");
  cr_assert_eq(wire_value(1, buf, sizeof(buf)), 6);
  cr_assert_str_eq(buf, "AAEC/w");
  cr_assert_eq(wire_value(2, buf, sizeof(buf)), 8);
  cr_assert_str_eq(buf, "Zm9vYmFy");
  cr_assert_eq(wire_value(3, buf, sizeof(buf)), 0);
}

Test(metadata, wire_round_trip, .timeout = 10) {
  uint8_t bin[100];
  for (int i = 0; i < 100; i++)
    bin[i] = (uint8_t)(i * 37);
  add_ok("user-agent", "crpc/0.1 (test)");
  for (size_t n = 0; n <= 5; n++)
    cr_assert_eq(crpc_metadata_add(&md, "blob-bin", bin, n), 0);
  cr_assert_eq(crpc_metadata_add(&md, "big-bin", bin, sizeof(bin)), 0);
  add_ok("user-agent", "again");
  crpc_metadata back;
  crpc_metadata_init(&back);
  for (size_t i = 0; i < crpc_metadata_count(&md); i++) {
    const crpc_metadata_entry *e = crpc_metadata_at(&md, i);
    uint8_t wire[200];
    size_t n = crpc__metadata_wire_value_write(e, wire);
    cr_assert_eq(
        crpc__metadata_add_wire(&back, e->key, strlen(e->key), wire, n), 0,
        "entry %zu", i);
  }
  cr_assert_eq(crpc_metadata_count(&back), crpc_metadata_count(&md));
  for (size_t i = 0; i < crpc_metadata_count(&md); i++) {
    const crpc_metadata_entry *a = crpc_metadata_at(&md, i);
    const crpc_metadata_entry *b = crpc_metadata_at(&back, i);
    cr_assert_str_eq(b->key, a->key);
    cr_assert_eq(b->value_len, a->value_len, "entry %zu", i);
    cr_assert_arr_eq(b->value, a->value, a->value_len, "entry %zu", i);
    cr_assert_eq(b->value[b->value_len], '\0');
  }
  cr_assert_eq(crpc_metadata_wire_size(&back), crpc_metadata_wire_size(&md));
  crpc_metadata_cleanup(&back);
}

static int add_wire_str(const char *name, const char *value) {
  return crpc__metadata_add_wire(&md, name, strlen(name),
                                 (const uint8_t *)value, strlen(value));
}

Test(metadata, add_wire_base64_padded_and_unpadded, .timeout = 10) {
  cr_assert_eq(add_wire_str("x-bin", "Zm9vYg=="), 0);
  cr_assert_eq(add_wire_str("x-bin", "Zm9vYg"), 0);
  cr_assert_eq(add_wire_str("x-bin", "AAEC/w=="), 0);
  cr_assert_eq(add_wire_str("x-bin", "AAEC/w"), 0);
  cr_assert_eq(add_wire_str("x-bin", ""), 0);
  assert_entry(0, "x-bin", "foob", 4);
  assert_entry(1, "x-bin", "foob", 4);
  assert_entry(2, "x-bin", "\0\1\2\xff", 4);
  assert_entry(3, "x-bin", "\0\1\2\xff", 4);
  assert_entry(4, "x-bin", "", 0);
}

Test(metadata, add_wire_rejects_bad_base64_unchanged, .timeout = 10) {
  add_three();
  cr_assert_eq(add_wire_str("x-bin", "Zm9vY"), CRPC_EBASE64);
  cr_assert_eq(add_wire_str("x-bin", "Zm9v!"), CRPC_EBASE64);
  cr_assert_eq(add_wire_str("x-bin", "Zg="), CRPC_EBASE64);
  cr_assert_eq(add_wire_str("x-bin", "Zm=v"), CRPC_EBASE64);
  cr_assert_eq(add_wire_str("x-bin", "Zm9v Zm9v"), CRPC_EBASE64);
  assert_three();
}

Test(metadata, add_wire_keys, .timeout = 10) {
  add_three();
  cr_assert_eq(add_wire_str("Content-Type", "x"), CRPC_EBADKEY);
  cr_assert_eq(add_wire_str(":path", "/a/b"), CRPC_EBADKEY);
  cr_assert_eq(add_wire_str("", "x"), CRPC_EBADKEY);
  cr_assert_eq(add_wire_str("a b", "x"), CRPC_EBADKEY);
  assert_three();
  /* Reserved names pass: the transport filters them. */
  cr_assert_eq(add_wire_str("grpc-status", "5"), 0);
  cr_assert_eq(add_wire_str("grpc-status-details-bin", "CAU"), 0);
  assert_entry(3, "grpc-status", "5", 1);
  assert_entry(4, "grpc-status-details-bin", "\x08\x05", 2);
}

Test(metadata, add_wire_name_is_length_bounded, .timeout = 10) {
  const char name[] = "abc-binXYZ";
  cr_assert_eq(crpc__metadata_add_wire(&md, name, 7, (const uint8_t *)"Zm8", 3),
               0);
  cr_assert_eq(crpc__metadata_add_wire(&md, name, 3, (const uint8_t *)"Zm8", 3),
               0);
  assert_entry(0, "abc-bin", "fo", 2);
  assert_entry(1, "abc", "Zm8", 3);
}

Test(metadata, add_wire_values_lenient_on_tab_only, .timeout = 10) {
  add_three();
  cr_assert_eq(add_wire_str("k", "a\nb"), CRPC_EBADVALUE);
  cr_assert_eq(add_wire_str("k", "a\x7f"), CRPC_EBADVALUE);
  cr_assert_eq(add_wire_str("k", "caf\xc3\xa9"), CRPC_EBADVALUE);
  cr_assert_eq(crpc__metadata_add_wire(&md, "k", 1, (const uint8_t *)"a\0", 2),
               CRPC_EBADVALUE);
  assert_three();
  cr_assert_eq(add_wire_str("k", "a\tb"), 0);
  assert_entry(3, "k", "a\tb", 3);
}

Test(metadata, wire_size, .timeout = 10) {
  add_ok("abc", "12345");
  cr_assert_eq(crpc_metadata_wire_size(&md), 3 + 5 + 32);
  /* 4 bytes travel as 6 characters of unpadded base64. */
  cr_assert_eq(crpc_metadata_add(&md, "d-bin", "\0\1\2\3", 4), 0);
  cr_assert_eq(crpc_metadata_wire_size(&md), 40 + 5 + 6 + 32);
  add_ok("e", "");
  cr_assert_eq(crpc_metadata_wire_size(&md), 40 + 43 + 1 + 0 + 32);
  crpc_metadata_remove(&md, "abc");
  cr_assert_eq(crpc_metadata_wire_size(&md), 43 + 33);
}

Test(metadata, cleanup_twice_and_null, .timeout = 10) {
  add_three();
  crpc_metadata_cleanup(&md);
  cr_assert_eq(crpc_metadata_count(&md), 0);
  cr_assert_null(md.entries);
  crpc_metadata_cleanup(&md);
  crpc_metadata_cleanup(NULL);
  add_ok("again", "ok");
  assert_entry(0, "again", "ok", 2);
}
