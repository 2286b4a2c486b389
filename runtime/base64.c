/* runtime/base64.c: standard-alphabet base64, padded and unpadded. */
#include "base64.h"

#include "crpc/error.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Returns the 6-bit value of |c|, or -1 when |c| is not in the alphabet. */
static int sextet(unsigned char c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+')
    return 62;
  if (c == '/')
    return 63;
  return -1;
}

size_t crpc__base64_encoded_len(size_t n, int pad) {
  size_t full = n / 3 * 4;
  size_t rem = n % 3;
  if (rem == 0)
    return full;
  return full + (pad ? 4 : rem + 1);
}

size_t crpc__base64_encode(const uint8_t *src, size_t n, int pad, char *dst) {
  size_t i = 0, o = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v =
        (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 | src[i + 2];
    dst[o++] = alphabet[v >> 18];
    dst[o++] = alphabet[v >> 12 & 63];
    dst[o++] = alphabet[v >> 6 & 63];
    dst[o++] = alphabet[v & 63];
  }
  if (i == n)
    return o;
  uint32_t v = (uint32_t)src[i] << 16;
  if (n - i == 2)
    v |= (uint32_t)src[i + 1] << 8;
  dst[o++] = alphabet[v >> 18];
  dst[o++] = alphabet[v >> 12 & 63];
  if (n - i == 2)
    dst[o++] = alphabet[v >> 6 & 63];
  else if (pad)
    dst[o++] = '=';
  if (pad)
    dst[o++] = '=';
  return o;
}

size_t crpc__base64_decoded_max_len(size_t n) {
  return n / 4 * 3 + (n % 4 > 1 ? n % 4 - 1 : 0);
}

/* Strips up to two '=' from the end of |src|; padding is only allowed when
 * the whole text is a multiple of 4 long. Returns the length of the data
 * part, or (size_t)-1 when the padding is misplaced. */
static size_t strip_padding(const char *src, size_t n) {
  size_t len = n;
  while (len > 0 && n - len < 2 && src[len - 1] == '=')
    len--;
  if (len != n && n % 4 != 0)
    return (size_t)-1;
  return len;
}

int crpc__base64_decode(const char *src, size_t n, uint8_t *dst, size_t dst_cap,
                        size_t *out_len) {
  size_t len = strip_padding(src, n);
  if (len == (size_t)-1 || len % 4 == 1)
    return CRPC_EBASE64;
  /* A 2- or 3-character tail carries 4 or 2 bits beyond its last byte. We
   * ignore them even when non-zero, as many decoders do, since being
   * lenient on received metadata costs nothing and aids interoperability. */
  size_t need = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
  if (need > dst_cap)
    return CRPC_EINVAL;
  uint32_t acc = 0;
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    int s = sextet((unsigned char)src[i]);
    if (s < 0)
      return CRPC_EBASE64;
    acc = acc << 6 | (uint32_t)s;
    if (i % 4 == 3) {
      dst[o++] = (uint8_t)(acc >> 16);
      dst[o++] = (uint8_t)(acc >> 8);
      dst[o++] = (uint8_t)acc;
      acc = 0;
    }
  }
  if (len % 4 == 2) {
    dst[o++] = (uint8_t)(acc >> 4);
  } else if (len % 4 == 3) {
    dst[o++] = (uint8_t)(acc >> 10);
    dst[o++] = (uint8_t)(acc >> 2);
  }
  *out_len = o;
  return 0;
}
