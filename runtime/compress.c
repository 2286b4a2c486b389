/* runtime/compress.c: gRPC message compression with zlib. */
#include "compress.h"

#include <limits.h>
#include <string.h>

#define ZLIB_CONST
#include <zlib.h>

#include "crpc/error.h"

/* windowBits for a gzip wrapper (RFC 1952) around a 32 KiB window. */
#define GZIP_WINDOW_BITS (15 + 16)
#define GZIP_MEM_LEVEL 8

/* The smallest output window handed to zlib after the first. */
#define OUT_CHUNK 16384

static const char *const encoding_names[CRPC__ENCODING_COUNT] = {
    [CRPC__ENCODING_IDENTITY] = "identity",
    [CRPC__ENCODING_GZIP] = "gzip",
};

const char *crpc__compress_name(crpc__encoding enc) {
  if ((unsigned)enc >= CRPC__ENCODING_COUNT)
    return NULL;
  return encoding_names[enc];
}

static int ascii_lower(int c) {
  return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Header values are not NUL-terminated, so compare by length. */
static int name_equals(const char *s, size_t len, const char *name) {
  size_t i;

  if (strlen(name) != len)
    return 0;
  for (i = 0; i < len; i++) {
    if (ascii_lower((unsigned char)s[i]) != name[i])
      return 0;
  }
  return 1;
}

int crpc__compress_lookup(const char *name, size_t len, crpc__encoding *out) {
  unsigned e;

  for (e = 0; e < CRPC__ENCODING_COUNT; e++) {
    if (name_equals(name, len, encoding_names[e])) {
      *out = (crpc__encoding)e;
      return 0;
    }
  }
  return CRPC_EENCODING;
}

static int is_blank(char c) {
  return c == ' ' || c == '\t';
}

/* The accept-mask bit of one list element, 0 when it names nothing known. */
static unsigned element_bit(const char *s, size_t len) {
  crpc__encoding enc;

  while (len > 0 && is_blank(s[0])) {
    s++;
    len--;
  }
  while (len > 0 && is_blank(s[len - 1]))
    len--;
  if (crpc__compress_lookup(s, len, &enc) != 0)
    return 0;
  return CRPC__ENCODING_BIT(enc);
}

unsigned crpc__compress_accept_parse(const char *value, size_t len) {
  unsigned mask = 0;
  size_t start = 0;
  size_t i;

  if (len == 0)
    return 0; /* |value| may then be NULL */
  for (i = 0; i <= len; i++) {
    if (i < len && value[i] != ',')
      continue;
    mask |= element_bit(value + start, i - start);
    start = i + 1;
  }
  return mask;
}

int crpc__compress_accept_format(unsigned mask, char *dst, size_t cap) {
  size_t used = 0;
  size_t n;
  unsigned e;

  if (cap == 0)
    return CRPC_EINVAL;
  dst[0] = '\0';
  for (e = 0; e < CRPC__ENCODING_COUNT; e++) {
    if ((mask & CRPC__ENCODING_BIT(e)) == 0)
      continue;
    n = strlen(encoding_names[e]);
    if (used + (used > 0) + n + 1 > cap)
      goto fail;
    if (used > 0)
      dst[used++] = ',';
    memcpy(dst + used, encoding_names[e], n + 1);
    used += n;
  }
  return (int)used;

fail:
  dst[0] = '\0';
  return CRPC_EINVAL;
}

/* zlib counts bytes in uInt, so longer inputs are handed over in pieces. */
static void feed_input(z_stream *z, const uint8_t **in, size_t *left) {
  uInt take;

  if (z->avail_in != 0 || *left == 0)
    return;
  take = *left > UINT_MAX ? UINT_MAX : (uInt)*left;
  z->next_in = *in;
  z->avail_in = take;
  *in += take;
  *left -= take;
}

/* Points zlib's output at the room of |out| after reserving |want| bytes,
 * never more than |room| bytes, the rest of the call's budget. */
static int out_window(z_stream *z, crpc__buf *out, size_t room, size_t want) {
  size_t avail;
  int rc;

  if (want > room)
    want = room;
  if (want == 0)
    return CRPC_ETOOBIG;
  rc = crpc__buf_reserve(out, want);
  if (rc != 0)
    return rc;
  avail = crpc__buf_room(out);
  if (avail > room)
    avail = room;
  z->next_out = crpc__buf_tail(out);
  z->avail_out = avail > UINT_MAX ? UINT_MAX : (uInt)avail;
  return 0;
}

/* The next window doubles what was produced so far, as a buffer grows. */
static size_t next_want(size_t produced) {
  return produced > OUT_CHUNK ? produced : OUT_CHUNK;
}

static int deflate_all(z_stream *z, const uint8_t *in, size_t n,
                       crpc__buf *out) {
  size_t left = n;
  size_t limit = out->max - crpc__buf_len(out);
  size_t produced = 0;
  size_t got;
  /* deflateBound() usually makes the first window the only one. */
  size_t want = deflateBound(z, n > ULONG_MAX ? ULONG_MAX : (uLong)n);
  int zr;
  int rc;

  for (;;) {
    feed_input(z, &in, &left);
    rc = out_window(z, out, limit - produced, want);
    if (rc != 0)
      return rc;
    got = z->avail_out;
    zr = deflate(z, left == 0 ? Z_FINISH : Z_NO_FLUSH);
    got -= z->avail_out;
    crpc__buf_commit(out, got);
    produced += got;
    if (zr == Z_STREAM_END)
      return 0;
    if (zr != Z_OK && zr != Z_BUF_ERROR)
      return CRPC_ECOMPRESS;
    want = next_want(produced);
  }
}

static int gzip_encode(const uint8_t *in, size_t n, crpc__buf *out) {
  z_stream z;
  int zr;
  int rc;

  memset(&z, 0, sizeof(z));
  zr = deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, GZIP_WINDOW_BITS,
                    GZIP_MEM_LEVEL, Z_DEFAULT_STRATEGY);
  if (zr != Z_OK)
    return zr == Z_MEM_ERROR ? CRPC_ENOMEM : CRPC_ECOMPRESS;
  rc = deflate_all(&z, in, n, out);
  deflateEnd(&z);
  return rc;
}

int crpc__compress_encode(crpc__encoding enc, const uint8_t *in, size_t n,
                          crpc__buf *out) {
  size_t start = crpc__buf_len(out);
  int rc;

  switch (enc) {
  case CRPC__ENCODING_IDENTITY:
    return crpc__buf_append(out, in, n);
  case CRPC__ENCODING_GZIP:
    rc = gzip_encode(in, n, out);
    break;
  default:
    return CRPC_EENCODING;
  }
  if (rc != 0)
    crpc__buf_truncate(out, start);
  return rc;
}

/* Maps the result of an inflate() call that did not end the stream. */
static int inflate_error(int zr, size_t got) {
  if (zr == Z_OK)
    return 0;
  if (zr == Z_BUF_ERROR && got > 0)
    return 0;
  /* Z_BUF_ERROR without progress: the input ended inside the member. */
  return zr == Z_MEM_ERROR ? CRPC_ENOMEM : CRPC_EDECOMPRESS;
}

/* Runs inflate() until the member ends. Once |limit| bytes are out, a
 * one-byte probe tells whether the member would produce more. */
static int inflate_all(z_stream *z, const uint8_t *in, size_t n, size_t limit,
                       crpc__buf *out) {
  size_t left = n;
  size_t produced = 0;
  size_t got;
  uint8_t probe;
  int zr;
  int rc;

  for (;;) {
    feed_input(z, &in, &left);
    if (produced < limit) {
      rc = out_window(z, out, limit - produced, next_want(produced));
      if (rc != 0)
        return rc;
    } else {
      z->next_out = &probe;
      z->avail_out = 1;
    }
    got = z->avail_out;
    zr = inflate(z, Z_NO_FLUSH);
    got -= z->avail_out;
    if (produced == limit && got > 0)
      return CRPC_ETOOBIG;
    crpc__buf_commit(out, got);
    produced += got;
    if (zr == Z_STREAM_END)
      return z->avail_in == 0 && left == 0 ? 0 : CRPC_EDECOMPRESS;
    rc = inflate_error(zr, got);
    if (rc != 0)
      return rc;
  }
}

static int gzip_decode(const uint8_t *in, size_t n, size_t limit,
                       crpc__buf *out) {
  z_stream z;
  int zr;
  int rc;

  memset(&z, 0, sizeof(z));
  zr = inflateInit2(&z, GZIP_WINDOW_BITS);
  if (zr != Z_OK)
    return zr == Z_MEM_ERROR ? CRPC_ENOMEM : CRPC_EDECOMPRESS;
  rc = inflate_all(&z, in, n, limit, out);
  inflateEnd(&z);
  return rc;
}

int crpc__compress_decode(crpc__encoding enc, const uint8_t *in, size_t n,
                          size_t max_out, crpc__buf *out) {
  size_t start = crpc__buf_len(out);
  size_t limit = out->max - start;
  int rc;

  if (max_out < limit)
    limit = max_out;
  switch (enc) {
  case CRPC__ENCODING_IDENTITY:
    return n > limit ? CRPC_ETOOBIG : crpc__buf_append(out, in, n);
  case CRPC__ENCODING_GZIP:
    rc = gzip_decode(in, n, limit, out);
    break;
  default:
    return CRPC_EENCODING;
  }
  if (rc != 0)
    crpc__buf_truncate(out, start);
  return rc;
}
