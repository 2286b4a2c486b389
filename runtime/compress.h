/*
 * runtime/compress.h: gRPC message compression (grpc-encoding and
 * grpc-accept-encoding) with zlib. Each call runs its own z_stream, so there
 * is no shared state. Output goes into a crpc__buf, whose limit, together
 * with an explicit output limit on decompression, bounds the memory used.
 */
#ifndef CRPC_COMPRESS_H
#define CRPC_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* A message encoding. The values are bit positions in an accept mask. */
typedef enum {
  CRPC__ENCODING_IDENTITY = 0,
  CRPC__ENCODING_GZIP = 1
  /* 2 is kept for deflate. */
} crpc__encoding;

/* Number of known encodings: every value is below it. */
#define CRPC__ENCODING_COUNT 2

/* The accept-mask bit of encoding |e|. */
#define CRPC__ENCODING_BIT(e) (1u << (unsigned)(e))

/* Enough room for crpc__compress_accept_format() of any mask, NUL included. */
#define CRPC__COMPRESS_ACCEPT_MAX 32

/*
 * Returns the grpc-encoding name of |enc| ("identity", "gzip"), a static
 * string, or NULL when |enc| is not a known encoding. Thread: any.
 */
const char *crpc__compress_name(crpc__encoding enc);

/*
 * Looks up the encoding named by the |len| characters at |name|, compared
 * without regard to ASCII case, and stores it in |*out|.
 * Thread: any.
 * Returns 0, or CRPC_EENCODING when the name is not a supported encoding,
 * and then |*out| is untouched.
 */
int crpc__compress_lookup(const char *name, size_t len, crpc__encoding *out);

/*
 * Parses the |len| characters at |value|, a grpc-accept-encoding header
 * value such as "gzip, identity", into a mask of CRPC__ENCODING_BIT()s.
 * Names are separated by commas with optional spaces or tabs around them;
 * unknown names and empty elements are ignored. Never fails.
 * Thread: any.
 */
unsigned crpc__compress_accept_parse(const char *value, size_t len);

/*
 * Writes the names in |mask| as a grpc-accept-encoding value, such as
 * "identity,gzip", in enum order, NUL-terminated, to |dst| with room for
 * |cap| bytes (CRPC__COMPRESS_ACCEPT_MAX always suffices). Unknown bits are
 * ignored; an empty mask gives "".
 * Thread: any.
 * Returns the length written without the NUL, or CRPC_EINVAL when |cap| is
 * too small, and then |dst| holds "" if |cap| > 0.
 */
int crpc__compress_accept_format(unsigned mask, char *dst, size_t cap);

/*
 * Appends the |n| bytes at |in| to |out|, compressed with |enc| (gzip: a
 * single gzip member, RFC 1952; identity: a plain copy).
 * Ownership: |in| is borrowed for the call.
 * Thread: any, on an |out| the caller owns.
 * Returns 0, or one of these, and then the content of |out| is unchanged:
 *   CRPC_EENCODING  |enc| is not a known encoding.
 *   CRPC_ETOOBIG    the output does not fit under the limit of |out|.
 *   CRPC_ENOMEM     out of memory.
 *   CRPC_ECOMPRESS  zlib failed otherwise.
 */
int crpc__compress_encode(crpc__encoding enc, const uint8_t *in, size_t n,
                          crpc__buf *out);

/*
 * Appends the decompression of the |n| bytes at |in|, compressed with
 * |enc|, to |out|, producing at most |max_out| bytes. The limit is checked
 * while inflating, so a small input that would expand beyond it costs no
 * more than |max_out| bytes of memory. For gzip, |in| must be exactly one
 * gzip member: an empty, corrupt or truncated member, or bytes after it, is
 * an error.
 * Ownership: |in| is borrowed for the call.
 * Thread: any, on an |out| the caller owns.
 * Returns 0, or one of these, and then the content of |out| is unchanged:
 *   CRPC_EENCODING    |enc| is not a known encoding.
 *   CRPC_ETOOBIG      the output would exceed |max_out| or the limit of
 *                     |out|.
 *   CRPC_EDECOMPRESS  |in| is not a valid, complete, single gzip member.
 *   CRPC_ENOMEM       out of memory.
 */
int crpc__compress_decode(crpc__encoding enc, const uint8_t *in, size_t n,
                          size_t max_out, crpc__buf *out);

#endif /* CRPC_COMPRESS_H */
