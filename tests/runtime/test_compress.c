/* tests/runtime/test_compress.c: message compression with zlib. */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "compress.h"
#include "crpc/error.h"

#define MIB ((size_t)1 << 20)

/* printf hello | gzip -n | xxd -i */
static const uint8_t gzip_hello[] = {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00,
                                     0x00, 0x00, 0x03, 0xcb, 0x48, 0xcd, 0xc9,
                                     0xc9, 0x07, 0x00, 0x86, 0xa6, 0x10, 0x36,
                                     0x05, 0x00, 0x00, 0x00};

/* printf 'hello\n' > h.txt; gzip -c -9 h.txt | xxd -i: a header with the
 * FNAME field and the XFL of maximum compression. */
static const uint8_t gzip_named[] = {
    0x1f, 0x8b, 0x08, 0x08, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0x68,
    0x2e, 0x74, 0x78, 0x74, 0x00, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0xe7,
    0x02, 0x00, 0x20, 0x30, 0x3a, 0x36, 0x06, 0x00, 0x00, 0x00};

/* printf '' | gzip -n | xxd -i */
static const uint8_t gzip_empty[] = {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00,
                                     0x00, 0x00, 0x03, 0x03, 0x00, 0x00, 0x00,
                                     0x00, 0x00, 0x00, 0x00, 0x00, 0x00};

static uint32_t xorshift(uint32_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 17;
  *s ^= *s << 5;
  return *s;
}

static uint8_t *random_bytes(size_t n, uint32_t seed) {
  uint8_t *p = malloc(n > 0 ? n : 1);
  size_t i;

  cr_assert_not_null(p);
  for (i = 0; i < n; i++)
    p[i] = (uint8_t)xorshift(&seed);
  return p;
}

static uint8_t *text_bytes(size_t n) {
  static const char line[] = "the quick brown fox jumps over the lazy dog ";
  uint8_t *p = malloc(n > 0 ? n : 1);
  size_t i;

  cr_assert_not_null(p);
  for (i = 0; i < n; i++)
    p[i] = (uint8_t)line[i % (sizeof(line) - 1)];
  return p;
}

/* Compresses |n| bytes, checks the gzip magic, decompresses and compares;
 * returns the compressed size. */
static size_t round_trip(const uint8_t *in, size_t n) {
  crpc__buf z;
  crpc__buf plain;
  size_t zlen;

  crpc__buf_init(&z, SIZE_MAX);
  crpc__buf_init(&plain, SIZE_MAX);
  cr_assert_eq(crpc__compress_encode(CRPC__ENCODING_GZIP, in, n, &z), 0);
  zlen = crpc__buf_len(&z);
  cr_assert_geq(zlen, 18);
  cr_assert_eq(crpc__buf_data(&z)[0], 0x1f);
  cr_assert_eq(crpc__buf_data(&z)[1], 0x8b);
  cr_assert_eq(crpc__buf_data(&z)[2], 0x08);
  cr_assert_eq(crpc__compress_decode(CRPC__ENCODING_GZIP, crpc__buf_data(&z),
                                     zlen, n, &plain),
               0);
  cr_assert_eq(crpc__buf_len(&plain), n);
  if (n > 0)
    cr_assert(memcmp(crpc__buf_data(&plain), in, n) == 0);
  crpc__buf_cleanup(&z);
  crpc__buf_cleanup(&plain);
  return zlen;
}

/* Decodes |n| gzip bytes with a |max_out| limit into a buffer holding
 * "pre", expecting |want|, and checks the buffer is then unchanged. */
static void expect_decode_error(const uint8_t *in, size_t n, size_t max_out,
                                int want) {
  crpc__buf out;
  int rc;

  crpc__buf_init(&out, SIZE_MAX);
  cr_assert_eq(crpc__buf_append(&out, "pre", 3), 0);
  rc = crpc__compress_decode(CRPC__ENCODING_GZIP, in, n, max_out, &out);
  cr_assert_eq(rc, want, "decoding %zu bytes gave %d, not %d", n, rc, want);
  cr_assert_eq(crpc__buf_len(&out), 3);
  cr_assert_arr_eq(crpc__buf_data(&out), "pre", 3);
  crpc__buf_cleanup(&out);
}

static void expect_decode(const uint8_t *in, size_t n, const char *want) {
  crpc__buf out;
  size_t len = strlen(want);

  crpc__buf_init(&out, 1024);
  cr_assert_eq(crpc__compress_decode(CRPC__ENCODING_GZIP, in, n, 1024, &out),
               0);
  cr_assert_eq(crpc__buf_len(&out), len);
  if (len > 0)
    cr_assert_arr_eq(crpc__buf_data(&out), want, len);
  crpc__buf_cleanup(&out);
}

Test(compress, names, .timeout = 30) {
  cr_assert_str_eq(crpc__compress_name(CRPC__ENCODING_IDENTITY), "identity");
  cr_assert_str_eq(crpc__compress_name(CRPC__ENCODING_GZIP), "gzip");
  cr_assert_null(crpc__compress_name((crpc__encoding)2));
  cr_assert_null(crpc__compress_name((crpc__encoding)-1));
}

Test(compress, lookup, .timeout = 30) {
  crpc__encoding e = CRPC__ENCODING_IDENTITY;

  cr_assert_eq(crpc__compress_lookup("gzip", 4, &e), 0);
  cr_assert_eq(e, CRPC__ENCODING_GZIP);
  cr_assert_eq(crpc__compress_lookup("identity", 8, &e), 0);
  cr_assert_eq(e, CRPC__ENCODING_IDENTITY);
  cr_assert_eq(crpc__compress_lookup("GZip", 4, &e), 0);
  cr_assert_eq(e, CRPC__ENCODING_GZIP);
  /* Not NUL-terminated: only the given length counts. */
  cr_assert_eq(crpc__compress_lookup("gzipped", 4, &e), 0);
  e = CRPC__ENCODING_IDENTITY;
  cr_assert_eq(crpc__compress_lookup("gzi", 3, &e), CRPC_EENCODING);
  cr_assert_eq(crpc__compress_lookup("gzipx", 5, &e), CRPC_EENCODING);
  cr_assert_eq(crpc__compress_lookup("deflate", 7, &e), CRPC_EENCODING);
  cr_assert_eq(crpc__compress_lookup("snappy", 6, &e), CRPC_EENCODING);
  cr_assert_eq(crpc__compress_lookup("", 0, &e), CRPC_EENCODING);
  cr_assert_eq(crpc__compress_lookup(" gzip", 5, &e), CRPC_EENCODING);
  cr_assert_eq(e, CRPC__ENCODING_IDENTITY, "untouched after a failure");
}

Test(compress, accept_parse, .timeout = 30) {
  const unsigned id = CRPC__ENCODING_BIT(CRPC__ENCODING_IDENTITY);
  const unsigned gz = CRPC__ENCODING_BIT(CRPC__ENCODING_GZIP);
  static const struct {
    const char *value;
    unsigned mask;
  } cases[] = {
      {"gzip, identity", 3},
      {"identity,deflate,gzip", 3},
      {"gzip", 2},
      {"identity", 1},
      {"", 0},
      {",,,", 0},
      {"  gzip\t,\t identity  ", 3},
      {"\tgzip\t", 2},
      {"deflate, snappy", 0},
      {"gzipx,identityy", 0},
      {"x-gzip, gzip ,", 2},
      {"gz ip, identity", 1},
      {"GZIP,Identity", 3},
      {"deflate,,gzip,,", 2},
      {" , ", 0},
  };
  size_t i;

  cr_assert_eq(id | gz, 3u);
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    cr_assert_eq(
        crpc__compress_accept_parse(cases[i].value, strlen(cases[i].value)),
        cases[i].mask, "\"%s\"", cases[i].value);
  }
  /* Only |len| characters are read. */
  cr_assert_eq(crpc__compress_accept_parse("identity,gzip", 8), id);
  cr_assert_eq(crpc__compress_accept_parse(NULL, 0), 0u);
}

Test(compress, accept_format, .timeout = 30) {
  char s[CRPC__COMPRESS_ACCEPT_MAX];
  unsigned m;

  cr_assert_eq(crpc__compress_accept_format(3, s, sizeof(s)), 13);
  cr_assert_str_eq(s, "identity,gzip");
  cr_assert_eq(crpc__compress_accept_format(2, s, sizeof(s)), 4);
  cr_assert_str_eq(s, "gzip");
  cr_assert_eq(crpc__compress_accept_format(0, s, sizeof(s)), 0);
  cr_assert_str_eq(s, "");
  cr_assert_eq(crpc__compress_accept_format(0xF0u | 1u, s, sizeof(s)), 8);
  cr_assert_str_eq(s, "identity");
  cr_assert_eq(crpc__compress_accept_format(3, s, 14), 13);
  cr_assert_eq(crpc__compress_accept_format(3, s, 13), CRPC_EINVAL);
  cr_assert_str_eq(s, "");
  cr_assert_eq(crpc__compress_accept_format(3, s, 0), CRPC_EINVAL);
  for (m = 0; m < 4; m++) {
    cr_assert_geq(crpc__compress_accept_format(m, s, sizeof(s)), 0);
    cr_assert_eq(crpc__compress_accept_parse(s, strlen(s)), m);
  }
}

Test(compress, round_trip_empty_and_small, .timeout = 30) {
  round_trip((const uint8_t *)"", 0);
  round_trip((const uint8_t *)"hello", 5);
  round_trip((const uint8_t *)"\0\0\0", 3);
}

Test(compress, round_trip_large_compressible, .timeout = 30) {
  uint8_t *p = text_bytes(MIB);

  cr_assert_lt(round_trip(p, MIB), MIB / 20);
  free(p);
}

Test(compress, round_trip_incompressible, .timeout = 30) {
  uint8_t *p = random_bytes(MIB, 12345);
  size_t zlen = round_trip(p, MIB);

  cr_assert_gt(zlen, MIB, "random data cannot shrink");
  free(p);
}

Test(compress, round_trip_many_sizes, .timeout = 30) {
  uint8_t *p = random_bytes(70000, 99);
  size_t n;

  for (n = 1; n < 70000; n = n * 3 + 1)
    round_trip(p, n);
  free(p);
}

Test(compress, decodes_the_gzip_tool_output, .timeout = 30) {
  expect_decode(gzip_hello, sizeof(gzip_hello), "hello");
  expect_decode(gzip_named, sizeof(gzip_named), "hello\n");
  expect_decode(gzip_empty, sizeof(gzip_empty), "");
}

Test(compress, appends_after_existing_content, .timeout = 30) {
  crpc__buf b;
  size_t zlen;

  crpc__buf_init(&b, 4096);
  cr_assert_eq(crpc__buf_append(&b, "ab", 2), 0);
  cr_assert_eq(crpc__compress_encode(CRPC__ENCODING_GZIP,
                                     (const uint8_t *)"hello", 5, &b),
               0);
  zlen = crpc__buf_len(&b) - 2;
  cr_assert_arr_eq(crpc__buf_data(&b), "ab", 2);
  crpc__buf_consume(&b, 2);
  cr_assert_eq(crpc__compress_decode(CRPC__ENCODING_GZIP, gzip_hello,
                                     sizeof(gzip_hello), 5, &b),
               0);
  cr_assert_eq(crpc__buf_len(&b), zlen + 5);
  cr_assert_arr_eq(crpc__buf_data(&b) + zlen, "hello", 5);
  crpc__buf_cleanup(&b);
}

Test(compress, rejects_truncated_input, .timeout = 30) {
  crpc__buf z;
  uint8_t *p = text_bytes(5000);
  size_t n;

  crpc__buf_init(&z, SIZE_MAX);
  cr_assert_eq(crpc__compress_encode(CRPC__ENCODING_GZIP, p, 5000, &z), 0);
  for (n = 0; n < crpc__buf_len(&z); n++)
    expect_decode_error(crpc__buf_data(&z), n, 5000, CRPC_EDECOMPRESS);
  for (n = 0; n < sizeof(gzip_hello); n++)
    expect_decode_error(gzip_hello, n, 100, CRPC_EDECOMPRESS);
  crpc__buf_cleanup(&z);
  free(p);
}

Test(compress, rejects_corrupt_input, .timeout = 30) {
  uint8_t bad[sizeof(gzip_named)];
  size_t i;

  /* Bytes 4-9 (mtime, xfl, os) and the file name are informational; every
   * other byte is checked by the header, the deflate format, the CRC-32 or
   * the length. */
  for (i = 0; i < sizeof(bad); i++) {
    if (i >= 4 && i < 15)
      continue;
    memcpy(bad, gzip_named, sizeof(bad));
    bad[i] ^= 0xFF;
    expect_decode_error(bad, sizeof(bad), MIB, CRPC_EDECOMPRESS);
  }
  expect_decode_error((const uint8_t *)"hello world, not gzip", 21, 100,
                      CRPC_EDECOMPRESS);
}

Test(compress, rejects_trailing_garbage, .timeout = 30) {
  uint8_t two[2 * sizeof(gzip_hello)];
  uint8_t tail[sizeof(gzip_hello) + 1];

  memcpy(tail, gzip_hello, sizeof(gzip_hello));
  tail[sizeof(gzip_hello)] = 0;
  expect_decode_error(tail, sizeof(tail), 100, CRPC_EDECOMPRESS);
  /* A second gzip member is trailing data too: a message is one member. */
  memcpy(two, gzip_hello, sizeof(gzip_hello));
  memcpy(two + sizeof(gzip_hello), gzip_hello, sizeof(gzip_hello));
  expect_decode_error(two, sizeof(two), 100, CRPC_EDECOMPRESS);
}

Test(compress, bomb_guard, .timeout = 30) {
  const size_t n = 10 * MIB;
  uint8_t *zeros = calloc(n, 1);
  crpc__buf z;
  crpc__buf out;

  cr_assert_not_null(zeros);
  crpc__buf_init(&z, SIZE_MAX);
  cr_assert_eq(crpc__compress_encode(CRPC__ENCODING_GZIP, zeros, n, &z), 0);
  cr_assert_lt(crpc__buf_len(&z), 64 * 1024);
  free(zeros);
  expect_decode_error(crpc__buf_data(&z), crpc__buf_len(&z), MIB, CRPC_ETOOBIG);
  expect_decode_error(crpc__buf_data(&z), crpc__buf_len(&z), n - 1,
                      CRPC_ETOOBIG);
  /* The limit of the output buffer bounds it as well. */
  crpc__buf_init(&out, MIB);
  cr_assert_eq(crpc__compress_decode(CRPC__ENCODING_GZIP, crpc__buf_data(&z),
                                     crpc__buf_len(&z), SIZE_MAX, &out),
               CRPC_ETOOBIG);
  cr_assert_eq(crpc__buf_len(&out), 0);
  cr_assert_leq(out.cap, MIB);
  crpc__buf_cleanup(&out);
  /* Exactly at the limit is fine. */
  crpc__buf_init(&out, n);
  cr_assert_eq(crpc__compress_decode(CRPC__ENCODING_GZIP, crpc__buf_data(&z),
                                     crpc__buf_len(&z), n, &out),
               0);
  cr_assert_eq(crpc__buf_len(&out), n);
  crpc__buf_cleanup(&out);
  crpc__buf_cleanup(&z);
}

Test(compress, zero_limit, .timeout = 30) {
  crpc__buf out;

  expect_decode_error(gzip_hello, sizeof(gzip_hello), 0, CRPC_ETOOBIG);
  expect_decode_error(gzip_hello, sizeof(gzip_hello), 4, CRPC_ETOOBIG);
  crpc__buf_init(&out, 0);
  cr_assert_eq(crpc__compress_decode(CRPC__ENCODING_GZIP, gzip_empty,
                                     sizeof(gzip_empty), 0, &out),
               0);
  cr_assert_eq(crpc__buf_len(&out), 0);
  crpc__buf_cleanup(&out);
}

Test(compress, encode_respects_the_buffer_limit, .timeout = 30) {
  uint8_t *p = random_bytes(10000, 7);
  crpc__buf out;

  crpc__buf_init(&out, 5000);
  cr_assert_eq(crpc__buf_append(&out, "pre", 3), 0);
  cr_assert_eq(crpc__compress_encode(CRPC__ENCODING_GZIP, p, 10000, &out),
               CRPC_ETOOBIG);
  cr_assert_eq(crpc__buf_len(&out), 3);
  cr_assert_arr_eq(crpc__buf_data(&out), "pre", 3);
  crpc__buf_cleanup(&out);
  free(p);
}

Test(compress, identity_and_unknown, .timeout = 30) {
  crpc__buf out;

  crpc__buf_init(&out, 100);
  cr_assert_eq(crpc__compress_encode(CRPC__ENCODING_IDENTITY,
                                     (const uint8_t *)"abc", 3, &out),
               0);
  cr_assert_eq(crpc__compress_decode(CRPC__ENCODING_IDENTITY,
                                     (const uint8_t *)"def", 3, 3, &out),
               0);
  cr_assert_eq(crpc__buf_len(&out), 6);
  cr_assert_arr_eq(crpc__buf_data(&out), "abcdef", 6);
  cr_assert_eq(crpc__compress_decode(CRPC__ENCODING_IDENTITY,
                                     (const uint8_t *)"ghi", 3, 2, &out),
               CRPC_ETOOBIG);
  cr_assert_eq(
      crpc__compress_encode((crpc__encoding)2, (const uint8_t *)"abc", 3, &out),
      CRPC_EENCODING);
  cr_assert_eq(crpc__compress_decode((crpc__encoding)2, (const uint8_t *)"abc",
                                     3, 100, &out),
               CRPC_EENCODING);
  cr_assert_eq(crpc__buf_len(&out), 6);
  crpc__buf_cleanup(&out);
}
