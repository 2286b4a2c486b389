/*
 * runtime/base64.h: base64 with the standard alphabet (RFC 4648 section 4),
 * as gRPC uses for the values of "-bin" metadata. Bounded: every function
 * works in caller buffers and none allocates.
 */
#ifndef CRPC_BASE64_H
#define CRPC_BASE64_H

#include <stddef.h>
#include <stdint.h>

/*
 * Returns the length of the base64 text for |n| input bytes, with '='
 * padding to a multiple of 4 when |pad| is non-zero, without it otherwise.
 * No NUL terminator is counted. Thread: any.
 */
size_t crpc__base64_encoded_len(size_t n, int pad);

/*
 * Writes the base64 text of the |n| bytes at |src| to |dst|, which must have
 * room for crpc__base64_encoded_len(n, pad) characters. No NUL is written.
 * Returns the number of characters written. Thread: any.
 */
size_t crpc__base64_encode(const uint8_t *src, size_t n, int pad, char *dst);

/*
 * Returns an upper bound on the decoded length of |n| characters of base64
 * text, padded or not. Thread: any.
 */
size_t crpc__base64_decoded_max_len(size_t n);

/*
 * Decodes the |n| characters at |src|, padded or unpadded, into |dst|, which
 * has room for |dst_cap| bytes, and sets |*out_len| to the decoded length.
 * Trailing bits that do not form a byte are ignored even when non-zero.
 * Thread: any.
 * Returns 0, or one of these, and then |*out_len| is untouched (|dst| may
 * have been written):
 *   CRPC_EBASE64  a character outside the alphabet, a misplaced '=', padding
 *                 on text whose length is not a multiple of 4, or a length
 *                 that is 1 mod 4 once padding is removed.
 *   CRPC_EINVAL   |dst_cap| is smaller than the decoded length.
 */
int crpc__base64_decode(const char *src, size_t n, uint8_t *dst, size_t dst_cap,
                        size_t *out_len);

#endif /* CRPC_BASE64_H */
