/*
 * tests/fuzz/fuzz_grpc_headers.c: libFuzzer target for gRPC's header and
 * trailer rules (runtime/grpc_headers.c) as header fields from a peer
 * reach them: a server's request intake and verdict, or a client's
 * response intake (headers, then trailers) and final status, and the
 * lists each side then builds from what it read.
 *
 * Input: one byte of mode, then fields, each a byte of name length, a
 * byte of value length, the name, the value. Mode bit 0: a response
 * (else a request); bit 1: the first block ended the stream
 * (trailers-only); bit 2: the stream ended inside a message; bits 3-6: the
 * RST_STREAM error it closed with. In a response, an empty field (both
 * lengths 0) ends the headers block; the fields after it are trailers.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "crpc/status.h"
#include "grpc_headers.h"
#include "nvlist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One field of the input, or 0 at its end. */
static int next_field(const uint8_t **data, size_t *size, const uint8_t **name,
                      size_t *nlen, const uint8_t **value, size_t *vlen) {
  if (*size < 2)
    return 0;
  *nlen = (*data)[0];
  *vlen = (*data)[1];
  if (*nlen + *vlen > *size - 2)
    return 0;
  *name = *data + 2;
  *value = *name + *nlen;
  *data += 2 + *nlen + *vlen;
  *size -= 2 + *nlen + *vlen;
  return 1;
}

static void request(const uint8_t *data, size_t size) {
  crpc__grpc_request r;
  crpc__arena ra;
  const uint8_t *name, *value;
  size_t nlen, vlen;
  crpc__arena_init(&ra, NULL, 0, 0);
  crpc__grpc_request_init(&r, &ra);
  while (next_field(&data, &size, &name, &nlen, &value, &vlen))
    (void)crpc__grpc_request_header(&r, name, nlen, value, vlen);
  crpc_status code = CRPC_STATUS_OK;
  const char *msg = NULL;
  int verdict = crpc__grpc_request_verdict(&r, &code, &msg);

  /* The answer the server builds from it. */
  crpc__arena a;
  crpc__nvlist l;
  crpc__arena_init(&a, NULL, 0, 0);
  crpc__nvlist_init(&l, &a);
  if (verdict > 0) {
    crpc__grpc_http_error(&l, verdict, "not a gRPC request");
  } else if (verdict < 0) {
    if (!msg)
      abort();
    crpc__grpc_trailers(&l, code, msg, NULL, 0);
  } else {
    if (!r.path)
      abort();
    crpc__grpc_response_headers(&l, r.enc);
    crpc__nvlist_metadata(&l, &r.md);
    crpc__grpc_trailers(&l, CRPC_STATUS_OK, NULL, NULL, 0);
  }
  crpc__arena_cleanup(&a);
  crpc__grpc_request_cleanup(&r);
  crpc__arena_cleanup(&ra);
}

static void response(uint8_t mode, const uint8_t *data, size_t size) {
  crpc__grpc_response r;
  const uint8_t *name, *value;
  size_t nlen, vlen;
  int trailers = 0;
  crpc__grpc_response_init(&r);
  while (next_field(&data, &size, &name, &nlen, &value, &vlen)) {
    if (nlen == 0 && vlen == 0 && !trailers) {
      int end = (mode & 2) != 0;
      (void)crpc__grpc_response_headers_done(&r, end);
      if (end)
        break;
      trailers = 1;
      continue;
    }
    (void)crpc__grpc_response_header(&r, trailers, name, nlen, value, vlen);
  }
  char why[128];
  const char *msg = NULL;
  crpc_status st = crpc__grpc_response_status(
      &r, (mode >> 3) & 15, (mode & 4) != 0, why, sizeof(why), &msg);
  if (!msg || st < CRPC_STATUS_OK || st > CRPC_STATUS_UNAUTHENTICATED)
    abort();

  /* A server relaying it sends what it read. */
  crpc__arena a;
  crpc__nvlist l;
  crpc__arena_init(&a, NULL, 0, 0);
  crpc__nvlist_init(&l, &a);
  crpc__nvlist_metadata(&l, &r.headers);
  crpc__grpc_trailers(&l, st, msg, r.details, r.details_len);
  crpc__nvlist_metadata(&l, &r.trailers);
  crpc__arena_cleanup(&a);

  crpc__grpc_response_reset(&r);
  crpc__grpc_response_cleanup(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  if (data[0] & 1)
    response(data[0], data + 1, size - 1);
  else
    request(data + 1, size - 1);
  return 0;
}
