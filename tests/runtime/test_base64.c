/* tests/runtime/test_base64.c: suite of runtime/base64.c. */
#include <criterion/criterion.h>
#include <string.h>

#include "base64.h"
#include "crpc/error.h"

/* RFC 4648 section 10 test vectors. */
static const struct {
  const char *plain;
  const char *padded;
  const char *unpadded;
} rfc4648[] = {
    {"", "", ""},
    {"f", "Zg==", "Zg"},
    {"fo", "Zm8=", "Zm8"},
    {"foo", "Zm9v", "Zm9v"},
    {"foob", "Zm9vYg==", "Zm9vYg"},
    {"fooba", "Zm9vYmE=", "Zm9vYmE"},
    {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
};

#define N_RFC (sizeof(rfc4648) / sizeof(rfc4648[0]))

static void check_encode(const char *plain, int pad, const char *want) {
  char out[64];
  size_t n = strlen(plain);
  memset(out, '#', sizeof(out));
  cr_assert_eq(crpc__base64_encoded_len(n, pad), strlen(want));
  size_t w = crpc__base64_encode((const uint8_t *)plain, n, pad, out);
  cr_assert_eq(w, strlen(want), "encode(%s, %d) wrote %zu", plain, pad, w);
  cr_assert_arr_eq(out, want, w, "encode(%s, %d)", plain, pad);
  cr_assert_eq(out[w], '#', "wrote past the end");
}

static int decode_str(const char *text, uint8_t *out, size_t cap, size_t *len) {
  return crpc__base64_decode(text, strlen(text), out, cap, len);
}

static void check_decode(const char *text, const char *want) {
  uint8_t out[64];
  size_t len = 999;
  size_t max = crpc__base64_decoded_max_len(strlen(text));
  cr_assert_geq(max, strlen(want), "max len of %s", text);
  cr_assert_eq(decode_str(text, out, max, &len), 0, "decode(%s)", text);
  cr_assert_eq(len, strlen(want), "decode(%s) length", text);
  cr_assert_arr_eq(out, want, len, "decode(%s)", text);
}

static void check_rejected(const char *text) {
  uint8_t out[64];
  size_t len = 12345;
  cr_assert_eq(decode_str(text, out, sizeof(out), &len), CRPC_EBASE64,
               "\"%s\" should be rejected", text);
  cr_assert_eq(len, 12345, "out_len touched on failure");
}

Test(base64, rfc4648_encode_padded, .timeout = 10) {
  for (size_t i = 0; i < N_RFC; i++)
    check_encode(rfc4648[i].plain, 1, rfc4648[i].padded);
}

Test(base64, rfc4648_encode_unpadded, .timeout = 10) {
  for (size_t i = 0; i < N_RFC; i++)
    check_encode(rfc4648[i].plain, 0, rfc4648[i].unpadded);
}

Test(base64, rfc4648_decode_padded, .timeout = 10) {
  for (size_t i = 0; i < N_RFC; i++)
    check_decode(rfc4648[i].padded, rfc4648[i].plain);
}

Test(base64, rfc4648_decode_unpadded, .timeout = 10) {
  for (size_t i = 0; i < N_RFC; i++)
    check_decode(rfc4648[i].unpadded, rfc4648[i].plain);
}

Test(base64, full_alphabet, .timeout = 10) {
  /* Bytes 0x00 0x10 0x83 ... chosen so each sextet 0..63 appears once. */
  uint8_t bytes[48];
  for (int i = 0; i < 16; i++) {
    uint32_t v = (uint32_t)(4 * i) << 18 | (uint32_t)(4 * i + 1) << 12 |
                 (uint32_t)(4 * i + 2) << 6 | (uint32_t)(4 * i + 3);
    bytes[3 * i] = (uint8_t)(v >> 16);
    bytes[3 * i + 1] = (uint8_t)(v >> 8);
    bytes[3 * i + 2] = (uint8_t)v;
  }
  const char *want =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  char text[64];
  cr_assert_eq(crpc__base64_encode(bytes, sizeof(bytes), 1, text), 64);
  cr_assert_arr_eq(text, want, 64);
  uint8_t back[48];
  size_t len = 0;
  cr_assert_eq(crpc__base64_decode(want, 64, back, sizeof(back), &len), 0);
  cr_assert_eq(len, 48);
  cr_assert_arr_eq(back, bytes, 48);
}

Test(base64, round_trip_all_lengths, .timeout = 10) {
  uint8_t src[300], back[300];
  char text[400];
  for (size_t i = 0; i < sizeof(src); i++)
    src[i] = (uint8_t)(i * 7 + 3);
  for (size_t n = 0; n <= sizeof(src); n++) {
    for (int pad = 0; pad <= 1; pad++) {
      size_t t = crpc__base64_encode(src, n, pad, text);
      cr_assert_eq(t, crpc__base64_encoded_len(n, pad));
      cr_assert_leq(n, crpc__base64_decoded_max_len(t));
      size_t len = 0;
      cr_assert_eq(crpc__base64_decode(text, t, back, sizeof(back), &len), 0);
      cr_assert_eq(len, n);
      cr_assert_arr_eq(back, src, n);
    }
  }
}

Test(base64, binary_with_nuls, .timeout = 10) {
  const uint8_t bin[] = {0, 0, 0, 0xff, 0, 0xfe};
  char text[8];
  cr_assert_eq(crpc__base64_encode(bin, sizeof(bin), 1, text), 8);
  cr_assert_arr_eq(text, "AAAA/wD+", 8);
}

Test(base64, rejects_invalid_characters, .timeout = 10) {
  check_rejected("Zm9v!");
  check_rejected("Zm 9v");
  check_rejected("Zm9v\n");
  check_rejected("Zm-v"); /* URL-safe alphabet is not accepted */
  check_rejected("Zm_v");
  check_rejected("Zm9\x80");
  uint8_t out[8];
  size_t len;
  cr_assert_eq(crpc__base64_decode("Zm\0v", 4, out, sizeof(out), &len),
               CRPC_EBASE64);
}

Test(base64, rejects_misplaced_padding, .timeout = 10) {
  check_rejected("=");
  check_rejected("==");
  check_rejected("====");
  check_rejected("Z===");
  check_rejected("Zg=");     /* padded text must be a multiple of 4 */
  check_rejected("Zm9vYg="); /* one '=' short */
  check_rejected("Zm8==");   /* one '=' too many */
  check_rejected("Zg==Zg==");
  check_rejected("Z=g=");
  check_rejected("Zm=v");
  check_rejected("Zm9vYg===");
}

Test(base64, rejects_length_one_mod_four, .timeout = 10) {
  check_rejected("Z");
  check_rejected("Zm9vY");
  check_rejected("Zm9vY===");
}

Test(base64, tolerates_nonzero_trailing_bits, .timeout = 10) {
  /* "Zh" carries 0x66 and four extra bits 0001; the bits are dropped. */
  check_decode("Zh", "f");
  check_decode("Zh==", "f");
  check_decode("Zm9=", "fo");
}

Test(base64, rejects_small_buffer, .timeout = 10) {
  uint8_t out[6];
  size_t len = 77;
  cr_assert_eq(decode_str("Zm9vYmFy", out, 5, &len), CRPC_EINVAL);
  cr_assert_eq(len, 77);
  cr_assert_eq(decode_str("Zm9vYmFy", out, 6, &len), 0);
  cr_assert_eq(len, 6);
  cr_assert_eq(decode_str("Zm9vYg", out, 3, &len), CRPC_EINVAL);
  cr_assert_eq(decode_str("Zm9vYg", out, 4, &len), 0);
  cr_assert_eq(len, 4);
}

Test(base64, empty_input, .timeout = 10) {
  size_t len = 5;
  cr_assert_eq(crpc__base64_decode(NULL, 0, NULL, 0, &len), 0);
  cr_assert_eq(len, 0);
  cr_assert_eq(crpc__base64_encoded_len(0, 1), 0);
  cr_assert_eq(crpc__base64_decoded_max_len(0), 0);
}

Test(base64, max_len_is_exact_for_unpadded, .timeout = 10) {
  cr_assert_eq(crpc__base64_decoded_max_len(2), 1);
  cr_assert_eq(crpc__base64_decoded_max_len(3), 2);
  cr_assert_eq(crpc__base64_decoded_max_len(4), 3);
  cr_assert_eq(crpc__base64_decoded_max_len(6), 4);
  cr_assert_eq(crpc__base64_decoded_max_len(8), 6);
}
