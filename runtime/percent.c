/* runtime/percent.c: grpc-message percent-encoding, both directions. */
#include "percent.h"

#include <stdlib.h>

static const char hex_upper[] = "0123456789ABCDEF";

static int needs_escape(uint8_t b) {
  return b < 0x20 || b > 0x7E || b == '%';
}

/* Returns the value of hex digit |c| in either case, or -1. */
static int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/* Returns the byte of a well-formed "%XX" at |src[i]|, or -1 when the text
 * there is anything else (which then passes through literally). */
static int escape_at(const char *src, size_t n, size_t i) {
  if (src[i] != '%' || n - i < 3)
    return -1;
  int hi = hex_value(src[i + 1]);
  int lo = hex_value(src[i + 2]);
  if (hi < 0 || lo < 0)
    return -1;
  return hi << 4 | lo;
}

size_t crpc__percent_encoded_len(const uint8_t *src, size_t n) {
  size_t len = n;
  for (size_t i = 0; i < n; i++)
    if (needs_escape(src[i]))
      len += 2;
  return len;
}

size_t crpc__percent_encode(const uint8_t *src, size_t n, char *dst) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    uint8_t b = src[i];
    if (needs_escape(b)) {
      dst[o++] = '%';
      dst[o++] = hex_upper[b >> 4];
      dst[o++] = hex_upper[b & 15];
    } else {
      dst[o++] = (char)b;
    }
  }
  return o;
}

size_t crpc__percent_decoded_len(const char *src, size_t n) {
  size_t len = 0;
  for (size_t i = 0; i < n; len++)
    i += escape_at(src, n, i) >= 0 ? 3 : 1;
  return len;
}

size_t crpc__percent_decode(const char *src, size_t n, uint8_t *dst) {
  size_t o = 0;
  size_t i = 0;
  while (i < n) {
    int b = escape_at(src, n, i);
    if (b >= 0) {
      dst[o++] = (uint8_t)b;
      i += 3;
    } else {
      dst[o++] = (uint8_t)src[i];
      i++;
    }
  }
  return o;
}

char *crpc__percent_encode_alloc(const void *src, size_t n, size_t *out_len) {
  size_t len = crpc__percent_encoded_len(src, n);
  char *out = malloc(len + 1);
  if (out == NULL)
    return NULL;
  crpc__percent_encode(src, n, out);
  out[len] = '\0';
  if (out_len != NULL)
    *out_len = len;
  return out;
}

char *crpc__percent_decode_alloc(const char *src, size_t n, size_t *out_len) {
  size_t len = crpc__percent_decoded_len(src, n);
  char *out = malloc(len + 1);
  if (out == NULL)
    return NULL;
  crpc__percent_decode(src, n, (uint8_t *)out);
  out[len] = '\0';
  if (out_len != NULL)
    *out_len = len;
  return out;
}
