/*
 * tests/fuzz/fuzz_percent.c: libFuzzer target for the percent-encoding of
 * grpc-message (runtime/percent.c): the input is a received value to
 * decode, which never fails, within the length promised, and encodes and
 * decodes back to itself; the input as raw bytes encodes to printable
 * ASCII that decodes back to it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "percent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Encodes the |n| bytes at |src| and checks that it decodes back. */
static void round_trip(const uint8_t *src, size_t n) {
  size_t elen = crpc__percent_encoded_len(src, n);
  char *enc = malloc(elen ? elen : 1);
  uint8_t *dec = malloc(elen ? elen : 1);
  if (!enc || !dec)
    abort();
  if (crpc__percent_encode(src, n, enc) != elen)
    abort();
  for (size_t i = 0; i < elen; i++)
    if (enc[i] < 0x20 || enc[i] > 0x7e)
      abort();
  if (crpc__percent_decoded_len(enc, elen) != n ||
      crpc__percent_decode(enc, elen, dec) != n ||
      (n > 0 && memcmp(dec, src, n) != 0))
    abort();
  free(enc);
  free(dec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *text = (const char *)data;
  size_t dlen = crpc__percent_decoded_len(text, size);
  if (dlen > size)
    abort();
  uint8_t *dec = malloc(size ? size : 1);
  if (!dec)
    abort();
  if (crpc__percent_decode(text, size, dec) != dlen)
    abort();
  size_t alen = (size_t)-1;
  char *alloc = crpc__percent_decode_alloc(text, size, &alen);
  if (!alloc || alen != dlen || alloc[alen] != '\0' ||
      (dlen > 0 && memcmp(alloc, dec, dlen) != 0))
    abort();
  round_trip(dec, dlen);
  round_trip(data, size);

  size_t elen = (size_t)-1;
  char *enc = crpc__percent_encode_alloc(data, size, &elen);
  if (!enc || elen != crpc__percent_encoded_len(data, size) ||
      strlen(enc) != elen)
    abort();
  free(enc);
  free(alloc);
  free(dec);
  return 0;
}
