/*
 * tests/fuzz/fuzz_base64.c: libFuzzer target for base64 (runtime/base64.c)
 * as "-bin" metadata values arrive: the input is text to decode, into a
 * buffer of the bound promised and into one cut short; what decodes
 * encodes, padded or not, to text that decodes back to it; the input as
 * raw bytes encodes and decodes back to itself.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "crpc/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Encodes the |n| bytes at |src| with |pad| and checks that it decodes
 * back. */
static void round_trip(const uint8_t *src, size_t n, int pad) {
  size_t elen = crpc__base64_encoded_len(n, pad);
  char *enc = malloc(elen ? elen : 1);
  size_t cap = crpc__base64_decoded_max_len(elen);
  uint8_t *dec = malloc(cap ? cap : 1);
  size_t dlen = (size_t)-1;
  if (!enc || !dec)
    abort();
  if (crpc__base64_encode(src, n, pad, enc) != elen)
    abort();
  if (crpc__base64_decode(enc, elen, dec, cap, &dlen) != 0 || dlen != n ||
      (n > 0 && memcmp(dec, src, n) != 0))
    abort();
  free(enc);
  free(dec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *text = (const char *)data;
  size_t cap = crpc__base64_decoded_max_len(size);
  uint8_t *dec = malloc(cap ? cap : 1);
  size_t dlen = (size_t)-1;
  if (!dec)
    abort();
  int rc = crpc__base64_decode(text, size, dec, cap, &dlen);
  if (rc == 0) {
    if (dlen > cap)
      abort();
    round_trip(dec, dlen, 1);
    round_trip(dec, dlen, 0);
    /* One byte short of room: refused, not overrun (ASan watches). */
    if (dlen > 0) {
      uint8_t *small = malloc(dlen - 1 ? dlen - 1 : 1);
      size_t slen = (size_t)-1;
      if (!small)
        abort();
      if (crpc__base64_decode(text, size, small, dlen - 1, &slen) !=
              CRPC_EINVAL ||
          slen != (size_t)-1)
        abort();
      free(small);
    }
  } else if (rc != CRPC_EBASE64 || dlen != (size_t)-1) {
    abort();
  }
  round_trip(data, size, 1);
  round_trip(data, size, 0);
  free(dec);
  return 0;
}
