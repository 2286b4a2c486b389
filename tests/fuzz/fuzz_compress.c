/*
 * tests/fuzz/fuzz_compress.c: libFuzzer target for runtime/compress.c's
 * decoding side: the input is a gzip member to inflate under a small
 * limit, as a compressed message from a peer is; what inflates is
 * compressed again and must come back the same. The input read as text is
 * also a grpc-accept-encoding and a grpc-encoding value.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compress.h"
#include "crpc/error.h"

#define MAX_OUT (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  crpc__buf out, again, back;
  crpc__buf_init(&out, SIZE_MAX);
  crpc__buf_init(&again, SIZE_MAX);
  crpc__buf_init(&back, SIZE_MAX);

  int rc =
      crpc__compress_decode(CRPC__ENCODING_GZIP, data, size, MAX_OUT, &out);
  if (rc == 0) {
    if (crpc__buf_len(&out) > MAX_OUT)
      abort();
    /* What inflated deflates and inflates back to itself. */
    if (crpc__compress_encode(CRPC__ENCODING_GZIP, crpc__buf_data(&out),
                              crpc__buf_len(&out), &again) != 0 ||
        crpc__compress_decode(CRPC__ENCODING_GZIP, crpc__buf_data(&again),
                              crpc__buf_len(&again), MAX_OUT, &back) != 0 ||
        crpc__buf_len(&back) != crpc__buf_len(&out) ||
        (crpc__buf_len(&out) > 0 &&
         memcmp(crpc__buf_data(&back), crpc__buf_data(&out),
                crpc__buf_len(&out)) != 0))
      abort();
  } else if (crpc__buf_len(&out) != 0) {
    abort(); /* a failed decode leaves |out| unchanged */
  }

  /* Identity copies, within the limit. */
  crpc__buf_reset(&out);
  rc =
      crpc__compress_decode(CRPC__ENCODING_IDENTITY, data, size, MAX_OUT, &out);
  if ((rc == 0) != (size <= MAX_OUT))
    abort();

  unsigned mask = crpc__compress_accept_parse((const char *)data, size);
  char text[CRPC__COMPRESS_ACCEPT_MAX];
  if (crpc__compress_accept_format(mask, text, sizeof(text)) < 0)
    abort();
  if (crpc__compress_accept_parse(text, strlen(text)) !=
      (mask & ((1u << CRPC__ENCODING_COUNT) - 1)))
    abort();
  crpc__encoding enc;
  if (crpc__compress_lookup((const char *)data, size, &enc) == 0 &&
      crpc__compress_name(enc) == NULL)
    abort();

  crpc__buf_cleanup(&out);
  crpc__buf_cleanup(&again);
  crpc__buf_cleanup(&back);
  return 0;
}
