/* tests/runtime/test_percent.c: suite of runtime/percent.c. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "percent.h"

static char *enc(const char *s) {
  char *out = crpc__percent_encode_alloc(s, strlen(s), NULL);
  cr_assert_not_null(out);
  return out;
}

/* Decodes |s| and checks the result is exactly the |n| bytes at |want|. */
static void check_decode(const char *s, const void *want, size_t n) {
  size_t len = 999;
  char *out = crpc__percent_decode_alloc(s, strlen(s), &len);
  cr_assert_not_null(out);
  cr_assert_eq(len, n, "decode(\"%s\") length %zu, want %zu", s, len, n);
  cr_assert_arr_eq(out, want, n, "decode(\"%s\")", s);
  cr_assert_eq(out[len], '\0', "not NUL-terminated");
  cr_assert_eq(crpc__percent_decoded_len(s, strlen(s)), n);
  free(out);
}

static void check_passthrough(const char *s) {
  check_decode(s, s, strlen(s));
}

Test(percent, plain_text_unchanged, .timeout = 10) {
  const char *s = "Hello, world! (status: ok) ~`{}[]|\\\"'";
  char *out = enc(s);
  cr_assert_str_eq(out, s);
  free(out);
}

Test(percent, escapes_percent_and_controls_uppercase, .timeout = 10) {
  char *out = enc("100%\r\n\tdone\x7f");
  cr_assert_str_eq(out, "100%25%0D%0A%09done%7F");
  free(out);
}

Test(percent, each_byte_encodes_as_the_spec_says, .timeout = 10) {
  for (int b = 0; b < 256; b++) {
    uint8_t in = (uint8_t)b;
    char out[4] = {0};
    size_t n = crpc__percent_encode(&in, 1, out);
    cr_assert_eq(n, crpc__percent_encoded_len(&in, 1));
    if (b >= 0x20 && b <= 0x7E && b != '%') {
      cr_assert_eq(n, 1, "byte 0x%02X", b);
      cr_assert_eq((uint8_t)out[0], in);
    } else {
      char want[4];
      snprintf(want, sizeof(want), "%%%02X", b);
      cr_assert_eq(n, 3, "byte 0x%02X", b);
      cr_assert_str_eq(out, want);
    }
  }
}

Test(percent, round_trips_every_byte, .timeout = 10) {
  uint8_t all[256];
  for (int i = 0; i < 256; i++)
    all[i] = (uint8_t)i;
  size_t elen = 0, dlen = 0;
  char *e = crpc__percent_encode_alloc(all, sizeof(all), &elen);
  cr_assert_not_null(e);
  /* 95 printable minus '%' stay; the other 162 bytes grow to three. */
  cr_assert_eq(elen, 94 + 162 * 3);
  cr_assert_eq(strlen(e), elen);
  for (size_t i = 0; i < elen; i++)
    cr_assert(e[i] >= 0x20 && e[i] <= 0x7E, "unsafe char at %zu", i);
  char *d = crpc__percent_decode_alloc(e, elen, &dlen);
  cr_assert_not_null(d);
  cr_assert_eq(dlen, sizeof(all));
  cr_assert_arr_eq(d, all, sizeof(all));
  free(e);
  free(d);
}

Test(percent, utf8_text, .timeout = 10) {
  const char *s = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";
  char *out = enc(s);
  cr_assert_str_eq(out, "caf%C3%A9 %E2%82%AC %F0%9F%98%80");
  check_decode(out, s, strlen(s));
  free(out);
}

Test(percent, decodes_lowercase_hex, .timeout = 10) {
  check_decode("%c3%a9%7e", "\xc3\xa9~", 3);
}

Test(percent, decodes_nul, .timeout = 10) {
  check_decode("a%00b", "a\0b", 3);
}

Test(percent, malformed_sequences_pass_through, .timeout = 10) {
  check_passthrough("%");
  check_passthrough("%4");
  check_passthrough("abc%");
  check_passthrough("abc%4");
  check_passthrough("%zz");
  check_passthrough("%g0");
  check_passthrough("%0g");
  check_passthrough("%%");
  check_passthrough("% 41");
  check_passthrough("100%");
}

Test(percent, malformed_then_valid, .timeout = 10) {
  check_decode("%%41", "%A", 2);
  check_decode("%4%41", "%4A", 3);
  check_decode("%zz%20x", "%zz x", 5);
  check_decode("%2541", "%41", 3); /* decoded once, not twice */
}

Test(percent, empty, .timeout = 10) {
  size_t len = 7;
  char *e = crpc__percent_encode_alloc(NULL, 0, &len);
  cr_assert_not_null(e);
  cr_assert_eq(len, 0);
  cr_assert_str_eq(e, "");
  free(e);
  len = 7;
  char *d = crpc__percent_decode_alloc("", 0, &len);
  cr_assert_not_null(d);
  cr_assert_eq(len, 0);
  cr_assert_str_eq(d, "");
  free(d);
}

Test(percent, bounded_writers_stay_in_bounds, .timeout = 10) {
  const char *s = "a%41%zz";
  uint8_t out[16];
  memset(out, '#', sizeof(out));
  size_t n = crpc__percent_decode(s, strlen(s), out);
  cr_assert_eq(n, 5);
  cr_assert_arr_eq(out, "aA%zz", 5);
  cr_assert_eq(out[5], '#');
  char eout[16];
  memset(eout, '#', sizeof(eout));
  n = crpc__percent_encode((const uint8_t *)"\x01%", 2, eout);
  cr_assert_eq(n, 6);
  cr_assert_arr_eq(eout, "%01%25", 6);
  cr_assert_eq(eout[6], '#');
}

Test(percent, decode_respects_length, .timeout = 10) {
  /* Only the first |n| characters count, even when an escape continues. */
  const char s[] = "%41%42";
  uint8_t out[8];
  cr_assert_eq(crpc__percent_decoded_len(s, 2), 2);
  cr_assert_eq(crpc__percent_decode(s, 2, out), 2);
  cr_assert_arr_eq(out, "%4", 2);
  cr_assert_eq(crpc__percent_decode(s, 5, out), 3);
  cr_assert_arr_eq(out, "A%4", 3);
}
