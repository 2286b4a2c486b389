/*
 * runtime/frame.h: gRPC length-prefixed message framing, as PROTOCOL-HTTP2's
 * "Length-Prefixed-Message" defines it: a compressed flag (0 or 1), a 4-byte
 * big-endian length, then that many bytes of message. Bytes in and bytes
 * out: nothing here does I/O.
 */
#ifndef CRPC_FRAME_H
#define CRPC_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "buf.h"
#include "compress.h"

/* Bytes of the prefix before each message. */
#define CRPC__FRAME_PREFIX_LEN 5

typedef struct crpc__frame_prefix {
  uint8_t compressed; /* 0 or 1 */
  uint32_t length;    /* bytes of message after the prefix */
} crpc__frame_prefix;

/* A decoded message, borrowed from the decoder or the fed chunk. */
typedef struct crpc__frame_msg {
  int compressed;      /* 1 when compressed with the stream's encoding */
  const uint8_t *data; /* never NULL, even when |len| is 0 */
  size_t len;
} crpc__frame_msg;

/* Memory for a message that a decoder has to buffer: |*n| >= |want|
 * bytes from malloc, or NULL, and then the decoder allocates its own.
 * |want| is its headroom and the message, or the first 128 KiB of a
 * larger one (the rest is taken as it arrives). */
typedef uint8_t *(*crpc__frame_mem_fn)(void *ctx, size_t want, size_t *n);

typedef struct crpc__frame_decoder {
  size_t max_size;           /* largest accepted message */
  crpc__frame_mem_fn mem_fn; /* where buffers come from, or NULL */
  void *mem_ctx;
  int err;           /* sticky error, or 0 */
  int in_payload;    /* the prefix is complete */
  int delivered;     /* |payload| was handed out */
  size_t headroom;   /* bytes before a buffered message, for its taker */
  size_t prefix_len; /* bytes of |prefix| so far */
  uint8_t prefix[CRPC__FRAME_PREFIX_LEN]; /* prefix being assembled */
  crpc__frame_prefix cur;                 /* parsed prefix */
  crpc__buf payload;                      /* payload split across chunks */
} crpc__frame_decoder;

/*
 * Parses the prefix at |p| into |*out|. Thread: any.
 * Returns 0, or CRPC_EPROTO when the flag is neither 0 nor 1, and then
 * |*out| is untouched.
 */
int crpc__frame_parse_prefix(const uint8_t p[5], crpc__frame_prefix *out);

/*
 * Writes the prefix |*fp| to |p|; its |compressed| must be 0 or 1.
 * Thread: any.
 */
void crpc__frame_write_prefix(uint8_t p[5], const crpc__frame_prefix *fp);

/*
 * Initializes |d| to decode messages of at most |max_size| bytes. Allocates
 * nothing, so it cannot fail.
 * Thread: any, on a |d| the caller owns.
 */
void crpc__frame_decoder_init(crpc__frame_decoder *d, size_t max_size);

/*
 * Makes |d| keep |n| bytes free in front of every message it has to
 * buffer (one split across chunks), so that crpc__frame_decoder_trade()
 * can hand the buffer over with room for the taker's header: a queued
 * message is then never copied. Call it before the first feed.
 * Thread: any, on a |d| the caller owns.
 */
void crpc__frame_decoder_set_headroom(crpc__frame_decoder *d, size_t n);

/*
 * Makes |d| ask |fn| for memory whenever it has none to buffer a message
 * in (the first message it buffers, and each after a trade for none).
 * Thread: any, on a |d| the caller owns.
 */
void crpc__frame_decoder_set_mem(crpc__frame_decoder *d, crpc__frame_mem_fn fn,
                                 void *ctx);

/*
 * Takes the memory of the message the last feed completed, when |d|
 * buffered it (|headroom| bytes, then the message, where that feed's
 * |out->data| points), and gives |d| memory in exchange: the |n| bytes at
 * |mem| (from malloc), which |d| buffers its next messages in, or none
 * (|mem| NULL, |n| 0), and then |d| gets memory when it next needs some
 * (from its crpc__frame_decoder_set_mem() function, else malloc). A
 * reader that hands each message's memory back once done with it (and
 * gets it back here) then neither copies a message nor allocates for one.
 * A message that came whole in one chunk is not buffered: the caller
 * copies it.
 * Ownership: the caller frees the result with free(); |d| owns |mem|, and
 * the caller keeps it when NULL is returned.
 * Thread: any, on a |d| the caller owns.
 * Returns the memory, |*cap| bytes with |headroom| first, or NULL when
 * the message was not buffered or was already taken.
 */
uint8_t *crpc__frame_decoder_trade(crpc__frame_decoder *d, uint8_t *mem,
                                   size_t n, size_t *cap);

/*
 * Takes the memory |d| buffers messages in, whatever it holds, for a
 * decoder that is done with: |*cap| bytes, the caller's to free().
 * Thread: any, on a |d| the caller owns.
 * Returns NULL when |d| holds none.
 */
uint8_t *crpc__frame_decoder_release(crpc__frame_decoder *d, size_t *cap);

/*
 * Frees the memory of |d|. Calling crpc__frame_decoder_init() again makes
 * it usable. Thread: any, on a |d| the caller owns.
 */
void crpc__frame_decoder_cleanup(crpc__frame_decoder *d);

/*
 * Returns |d| to the start of a message and clears its error, keeping its
 * memory for reuse. Thread: any, on a |d| the caller owns.
 */
void crpc__frame_decoder_reset(crpc__frame_decoder *d);

/*
 * Feeds the |n| bytes at |p|, a chunk of the stream cut anywhere, to |d|,
 * and sets |*consumed| to how many of them it used. The limit is checked as
 * soon as a prefix is complete, before any of its message is buffered. A
 * message lying whole in the chunk, with nothing buffered before it, is not
 * copied: |out| then points into |p|. Otherwise the message is copied, up
 * to its declared length, into memory of |d|.
 * Ownership: |p| is borrowed for the call; |out->data| is valid until the
 * next feed, reset or cleanup of |d|, and while |p| is.
 * Thread: any, on a |d| the caller owns.
 * Returns 1 when a message is complete in |*out| (feed the remaining
 * n - *consumed bytes next), 0 when all |n| bytes were used and more are
 * needed, or one of these, and then |d| keeps returning it until reset:
 *   CRPC_EPROTO   a prefix with a flag other than 0 or 1.
 *   CRPC_ETOOBIG  a prefix declaring more than |max_size| bytes.
 *   CRPC_ENOMEM   out of memory buffering a message.
 */
int crpc__frame_decoder_feed(crpc__frame_decoder *d, const uint8_t *p, size_t n,
                             size_t *consumed, crpc__frame_msg *out);

/*
 * Returns 1 when |d| holds part of a message (some of a prefix, or a prefix
 * and not all of its message), 0 between messages. A stream that ends while
 * this returns 1 was truncated. Thread: any, on a |d| the caller owns.
 */
int crpc__frame_decoder_mid_message(const crpc__frame_decoder *d);

/*
 * Appends |msg| to |out| as one uncompressed message: the prefix, then the
 * message packed by protobuf-c straight into |out|.
 * Ownership: |msg| is borrowed for the call.
 * Thread: any, on an |out| the caller owns.
 * Returns 0, or one of these, and then the content of |out| is unchanged:
 *   CRPC_EPACK    protobuf-c cannot pack |msg| (crpc__msgcheck() says
 *                 which field and why).
 *   CRPC_ETOOBIG  the packed message exceeds |max_size| (or 4 GiB - 1),
 *                 or the frame does not fit under the limit of |out|.
 *   CRPC_ENOMEM   out of memory.
 */
int crpc__frame_encode(crpc__buf *out, const ProtobufCMessage *msg,
                       size_t max_size);

/*
 * Appends |msg| to |out| as one message compressed with |enc| (flag 1), or
 * as crpc__frame_encode() does when |enc| is CRPC__ENCODING_IDENTITY.
 * |max_size| bounds the packed size before compression.
 * Ownership: |msg| is borrowed for the call.
 * Thread: any, on an |out| the caller owns.
 * Returns 0, or one of these, and then the content of |out| is unchanged:
 *   CRPC_EPACK      protobuf-c cannot pack |msg| (see crpc__msgcheck()).
 *   CRPC_ETOOBIG    the packed message exceeds |max_size|, the compressed
 *                   one exceeds 4 GiB - 1, or the frame does not fit under
 *                   the limit of |out|.
 *   CRPC_EENCODING  |enc| is not a known encoding.
 *   CRPC_ENOMEM     out of memory.
 *   CRPC_ECOMPRESS  the compressor failed.
 */
int crpc__frame_encode_compressed(crpc__buf *out, const ProtobufCMessage *msg,
                                  crpc__encoding enc, size_t max_size);

/*
 * As crpc__frame_encode_compressed(), but when |out| is empty and has no
 * memory, an uncompressed message's frame goes into memory from |mem|
 * (called with |mem_ctx| and the frame's size), when it gives some, rather
 * than malloc's: a caller that gives its buffers back to where |mem| takes
 * them from packs each large message into memory already faulted in.
 * Ownership, thread and returns as crpc__frame_encode_compressed(); |out|
 * owns the memory |mem| gave, even on an error.
 */
int crpc__frame_encode_in(crpc__buf *out, const ProtobufCMessage *msg,
                          crpc__encoding enc, size_t max_size,
                          crpc__frame_mem_fn mem, void *mem_ctx);

/*
 * Appends the prefix for |len| bytes with flag |compressed| (0 or 1), then
 * the |len| bytes at |data|, already serialized (and compressed when the
 * flag says so), to |out|.
 * Ownership: |data| is borrowed for the call.
 * Thread: any, on an |out| the caller owns.
 * Returns 0, or one of these, and then the content of |out| is unchanged:
 *   CRPC_ETOOBIG  |len| exceeds |max_size| (or 4 GiB - 1), or the frame
 *                 does not fit under the limit of |out|.
 *   CRPC_ENOMEM   out of memory.
 */
int crpc__frame_encode_raw(crpc__buf *out, const void *data, size_t len,
                           int compressed, size_t max_size);

/*
 * Unpacks the message |*m|, which the stream's grpc-encoding |enc| says how
 * to decompress when its flag is set, as a |desc| message allocated with
 * |alloc| (NULL for protobuf-c's default), and stores it in |*out|. A
 * compressed message is first inflated into |scratch|, which is reset
 * first, to at most |max_size| bytes.
 * Ownership: |m| is borrowed for the call; the caller frees |*out| with
 * protobuf_c_message_free_unpacked(*out, alloc), or with its arena.
 * Thread: any, on a |scratch| the caller owns.
 * Returns 0, or one of these, and then |*out| is untouched:
 *   CRPC_EPROTO       the flag is set but |enc| is identity.
 *   CRPC_EENCODING    |enc| is not a known encoding.
 *   CRPC_ETOOBIG      the message inflates beyond |max_size| or beyond the
 *                     limit of |scratch|.
 *   CRPC_EDECOMPRESS  the compressed bytes are not valid for |enc|.
 *   CRPC_EUNPACK      the bytes are not a valid |desc| message, or
 *                     protobuf-c ran out of memory.
 *   CRPC_ENOMEM       out of memory inflating.
 */
int crpc__frame_unpack(const crpc__frame_msg *m, crpc__encoding enc,
                       size_t max_size, crpc__buf *scratch,
                       const ProtobufCMessageDescriptor *desc,
                       ProtobufCAllocator *alloc, ProtobufCMessage **out);

#endif /* CRPC_FRAME_H */
