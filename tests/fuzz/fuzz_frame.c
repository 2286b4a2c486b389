/*
 * tests/fuzz/fuzz_frame.c: libFuzzer target for gRPC message framing
 * (runtime/frame.c) as a call's DATA reaches it: the input after its first
 * byte is a stream of length-prefixed messages, fed to a decoder in chunks
 * cut where the first byte says, and each message it delivers is unpacked
 * (inflated first when its flag says so) as the first byte's message type,
 * as the server and client do with what a peer sends.
 *
 * First byte: bits 0-2 the chunk size (1, 2, 3, 7, 16, 100, 4096, all),
 * bit 3 the stream's grpc-encoding (gzip, else identity), bit 4 the type
 * (google.protobuf.Type, else BytesValue).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "crpc/error.h"
#include "frame.h"
#include "google/protobuf/type.pb-c.h"
#include "google/protobuf/wrappers.pb-c.h"

/* Small, so that the limit is reached and a bomb costs little. */
#define MAX_MESSAGE (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const size_t chunks[8] = {1, 2, 3, 7, 16, 100, 4096, SIZE_MAX};

/* Unpacks |m| as the server or client would, and frees the result. */
static void unpack(const crpc__frame_msg *m, crpc__encoding enc,
                   crpc__buf *scratch, const ProtobufCMessageDescriptor *desc) {
  ProtobufCMessage *msg = NULL;
  int rc = crpc__frame_unpack(m, enc, MAX_MESSAGE, scratch, desc, NULL, &msg);
  if (rc == 0)
    protobuf_c_message_free_unpacked(msg, NULL);
  else if (msg != NULL)
    abort(); /* a failed unpack leaves |*out| untouched */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  uint8_t mode = data[0];
  size_t chunk = chunks[mode & 7];
  crpc__encoding enc =
      (mode & 8) ? CRPC__ENCODING_GZIP : CRPC__ENCODING_IDENTITY;
  const ProtobufCMessageDescriptor *desc =
      (mode & 16) ? &google__protobuf__type__descriptor
                  : &google__protobuf__bytes_value__descriptor;
  data++, size--;

  crpc__frame_decoder d;
  crpc__buf scratch;
  crpc__frame_decoder_init(&d, MAX_MESSAGE);
  crpc__buf_init(&scratch, MAX_MESSAGE);
  for (size_t off = 0; off < size;) {
    size_t n = size - off < chunk ? size - off : chunk;
    const uint8_t *p = data + off;
    off += n;
    while (n > 0) {
      size_t used = 0;
      crpc__frame_msg m;
      int rc = crpc__frame_decoder_feed(&d, p, n, &used, &m);
      if (used > n)
        abort();
      p += used;
      n -= used;
      if (rc < 0) {
        /* A sticky error: the stream is over, as the call ends. */
        off = size;
        break;
      }
      if (rc == 0)
        break;
      if (m.data == NULL)
        abort();
      unpack(&m, enc, &scratch, desc);
    }
  }
  (void)crpc__frame_decoder_mid_message(&d);
  crpc__buf_cleanup(&scratch);
  crpc__frame_decoder_cleanup(&d);
  return 0;
}
