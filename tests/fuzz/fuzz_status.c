/*
 * tests/fuzz/fuzz_status.c: libFuzzer target for a status as a peer sends
 * it: the input is a serialized google.rpc.Status (runtime/status.c's
 * decoder, as grpc-status-details-bin carries it), and also a grpc-status
 * and an HTTP :status value (runtime/grpc_headers.c). What decodes is
 * encoded again and decodes to the same code, message and details.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crpc/error.h"
#include "crpc/status.h"
#include "grpc_headers.h"

#define ANY_CAP 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Encodes what was decoded and checks that it decodes the same. */
static void round_trip(int32_t code, const char *msg, size_t msg_len,
                       const crpc_status_any *any, size_t n_any) {
  char *text = strndup(msg ? msg : "", msg_len);
  if (!text)
    abort();
  if (strlen(text) != msg_len) {
    free(text); /* NULs inside: not a C string, the encoder's input */
    return;
  }
  uint8_t *buf = NULL;
  size_t len = 0;
  if (crpc_status_details_encode((crpc_status)code, text, any, n_any, &buf,
                                 &len) != 0)
    abort();
  int32_t code2;
  const char *msg2;
  size_t msg2_len, n2;
  crpc_status_any any2[ANY_CAP];
  if (crpc_status_details_decode(buf, len, &code2, &msg2, &msg2_len, any2,
                                 ANY_CAP, &n2) != 0)
    abort();
  if (code2 != code || msg2_len != msg_len || n2 != n_any ||
      (msg_len && memcmp(msg2, text, msg_len) != 0))
    abort();
  for (size_t i = 0; i < n_any; i++)
    if (any2[i].type_url_len != any[i].type_url_len ||
        any2[i].value_len != any[i].value_len ||
        (any[i].type_url_len &&
         memcmp(any2[i].type_url, any[i].type_url, any[i].type_url_len)) ||
        (any[i].value_len &&
         memcmp(any2[i].value, any[i].value, any[i].value_len)))
      abort();
  free(buf);
  free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int32_t code = -1;
  const char *msg = NULL;
  size_t msg_len = 0, n_any = 0;
  crpc_status_any any[ANY_CAP];
  int rc = crpc_status_details_decode(data, size, &code, &msg, &msg_len, any,
                                      ANY_CAP, &n_any);
  if (rc == 0) {
    if (msg_len > size ||
        (msg_len && (msg < (const char *)data ||
                     msg + msg_len > (const char *)data + size)))
      abort();
    /* Only what fits |any| was written: round-trip that many. */
    if (n_any <= ANY_CAP)
      round_trip(code, msg, msg_len, any, n_any);
  } else if (rc != CRPC_EPROTO) {
    abort();
  }
  /* Decoding with no room for details counts them all the same. */
  size_t n_only = 0;
  if ((crpc_status_details_decode(data, size, NULL, NULL, NULL, NULL, 0,
                                  &n_only) == 0) != (rc == 0) ||
      (rc == 0 && n_only != n_any))
    abort();

  crpc_status st;
  if (crpc__grpc_status_parse(data, size, &st) == 0 &&
      (size < 1 || size > 2 || st < CRPC_STATUS_OK ||
       st > CRPC_STATUS_UNAUTHENTICATED))
    abort();
  int http = crpc__grpc_http_status_parse(data, size);
  if (http != 0 && (size != 3 || http < 0 || http > 999))
    abort();
  (void)crpc_status_name(crpc__grpc_status_from_http(http));
  if (size >= 4) {
    uint32_t rst;
    memcpy(&rst, data, sizeof(rst));
    (void)crpc_status_name(crpc__grpc_status_from_rst(rst));
  }
  (void)crpc__grpc_content_type_ok(data, size);
  return 0;
}
