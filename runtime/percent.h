/*
 * runtime/percent.h: the percent-encoding of the grpc-message trailer, as
 * gRPC's PROTOCOL-HTTP2 defines it. Every byte outside 0x20-0x7E, and '%'
 * itself, is sent as "%XX" with uppercase hex digits. Decoding never fails:
 * a '%' not followed by two hex digits is kept literally, because the
 * specification requires decoders to accept bad encodings.
 */
#ifndef CRPC_PERCENT_H
#define CRPC_PERCENT_H

#include <stddef.h>
#include <stdint.h>

/*
 * Returns the encoded length of the |n| bytes at |src|, without a NUL
 * terminator. Thread: any.
 */
size_t crpc__percent_encoded_len(const uint8_t *src, size_t n);

/*
 * Writes the encoding of the |n| bytes at |src| to |dst|, which must have
 * room for crpc__percent_encoded_len(src, n) characters. No NUL is written.
 * Returns the number of characters written. Thread: any.
 */
size_t crpc__percent_encode(const uint8_t *src, size_t n, char *dst);

/*
 * Returns the decoded length of the |n| characters at |src|. Never more
 * than |n|. Thread: any.
 */
size_t crpc__percent_decoded_len(const char *src, size_t n);

/*
 * Writes the decoding of the |n| characters at |src| to |dst|, which must
 * have room for crpc__percent_decoded_len(src, n) bytes (|n| always
 * suffices). Hex digits are accepted in either case. Returns the number of
 * bytes written. Thread: any.
 */
size_t crpc__percent_decode(const char *src, size_t n, uint8_t *dst);

/*
 * Returns a new NUL-terminated string holding the encoding of the |n| bytes
 * at |src|, and sets |*out_len| (when not NULL) to its length.
 * Ownership: |src| is borrowed for the call; the caller frees the result
 * with free(). Thread: any.
 * Returns NULL only when out of memory, and then |*out_len| is untouched.
 */
char *crpc__percent_encode_alloc(const void *src, size_t n, size_t *out_len);

/*
 * Returns a new NUL-terminated buffer holding the decoding of the |n|
 * characters at |src|, and sets |*out_len| (when not NULL) to its length,
 * which excludes the terminator; the decoded bytes may contain NULs.
 * Ownership: |src| is borrowed for the call; the caller frees the result
 * with free(). Thread: any.
 * Returns NULL only when out of memory, and then |*out_len| is untouched.
 */
char *crpc__percent_decode_alloc(const char *src, size_t n, size_t *out_len);

#endif /* CRPC_PERCENT_H */
