/*
 * runtime/h2io.c: socket bytes to and from an nghttp2 session, through
 * TLS when the connection has it.
 */
#include "h2io.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "crpc/error.h"

void crpc__h2io_out_init(crpc__h2io_out *o) {
  memset(o, 0, sizeof(*o));
  crpc__buf_init(&o->bytes, SIZE_MAX);
}

void crpc__h2io_out_reset(crpc__h2io_out *o) {
  for (size_t i = 0; i < o->n_seg; i++)
    if (o->seg[i].release) /* else handed over to a rest */
      o->seg[i].release(o->seg[i].owner, &o->seg[i].buf);
  o->n_seg = 0;
  o->seg_bytes = 0;
  crpc__buf_reset(&o->bytes);
}

void crpc__h2io_out_cleanup(crpc__h2io_out *o) {
  crpc__h2io_out_reset(o);
  crpc__buf_cleanup(&o->bytes);
}

size_t crpc__h2io_out_len(const crpc__h2io_out *o) {
  return crpc__buf_len(&o->bytes) + o->seg_bytes + o->staged;
}

int crpc__h2io_out_full(const crpc__h2io_out *o) {
  return crpc__buf_len(&o->bytes) + o->staged >= CRPC__H2IO_WRITE_BATCH;
}

int crpc__h2io_feed(nghttp2_session *ng, crpc__tls_conn *tls, const uint8_t *p,
                    size_t n) {
  if (tls == NULL) {
    ssize_t rv = nghttp2_session_mem_recv(ng, p, n);
    return rv < 0 ? (int)rv : 0;
  }
  uint8_t plain[16 * 1024];
  for (;;) {
    size_t used = 0, got = 0;
    int rc = crpc__tls_conn_read(tls, p, n, &used, plain, sizeof(plain), &got);
    if (rc != 0)
      return rc;
    p += used;
    n -= used;
    if (got == 0)
      return 0;
    ssize_t rv = nghttp2_session_mem_recv(ng, plain, got);
    if (rv < 0)
      return (int)rv;
  }
}

/* Moves TLS records waiting to go out into |out|. */
static int take_tls_output(crpc__tls_conn *tls, crpc__buf *out) {
  size_t n;
  const uint8_t *p = crpc__tls_conn_peek(tls, &n);
  if (n == 0)
    return 0;
  if (crpc__buf_append(out, p, n) != 0)
    return CRPC_ENOMEM;
  crpc__tls_conn_consume(tls, n);
  return 0;
}

/* Encrypts the bytes staged in |out| into its bytes as one record. */
static int flush_stage(crpc__h2io_out *out) {
  if (out->staged == 0)
    return 0;
  int rc =
      crpc__tls_conn_write_to(out->tls, out->stage, out->staged, &out->bytes);
  out->staged = 0;
  return rc;
}

/* Under TLS: the |n| bytes at |p| gathered into the stage while they fit
 * in one record with it, else the stage encrypted first; then |p|
 * encrypted from where it is when large, else staged. */
static int tls_put(crpc__h2io_out *out, const uint8_t *p, size_t n) {
  if (out->staged + n <= sizeof(out->stage)) {
    memcpy(out->stage + out->staged, p, n);
    out->staged += n;
    return 0;
  }
  int rc = flush_stage(out);
  if (rc != 0)
    return rc;
  if (n >= sizeof(out->stage) / 2)
    return crpc__tls_conn_write_to(out->tls, p, n, &out->bytes);
  memcpy(out->stage, p, n);
  out->staged = n;
  return 0;
}

/* Under TLS, frames go out in as few records as they fit: the small ones
 * (headers, trailers, small DATA, control frames) are gathered into one
 * record of up to 16 KiB, since every record costs both sides a cipher
 * pass and 22 bytes or more; a frame too large to gather is encrypted
 * from where nghttp2 left it. Records go straight to |out|. */
static int collect_tls(nghttp2_session *ng, crpc__tls_conn *tls,
                       crpc__h2io_out *out) {
  int rc = 0;
  out->tls = tls;
  out->staged = 0;
  while (rc == 0 && !crpc__h2io_out_full(out)) {
    const uint8_t *p;
    /* DATA payloads come through crpc__h2io_put_frame() and its pieces
     * meanwhile. */
    ssize_t n = nghttp2_session_mem_send(ng, &p);
    if (n <= 0) {
      rc = (int)n;
      break;
    }
    rc = tls_put(out, p, (size_t)n);
  }
  int rc2 = flush_stage(out);
  out->tls = NULL;
  return rc != 0 ? rc : rc2;
}

int crpc__h2io_collect(nghttp2_session *ng, crpc__tls_conn *tls,
                       crpc__h2io_out *out) {
  int rc = tls ? take_tls_output(tls, &out->bytes) : 0;
  if (rc != 0 || ng == NULL)
    return rc;
  if (tls) {
    /* Under TLS, HTTP/2 starts once the handshake is done. */
    return crpc__tls_conn_handshake_done(tls) ? collect_tls(ng, tls, out) : 0;
  }
  while (!crpc__h2io_out_full(out)) {
    const uint8_t *p;
    ssize_t n = nghttp2_session_mem_send(ng, &p);
    if (n < 0)
      return (int)n;
    if (n == 0)
      break;
    rc = crpc__buf_append(&out->bytes, p, (size_t)n);
    if (rc != 0)
      return rc;
  }
  return 0;
}

int crpc__h2io_put_frame(crpc__h2io_out *out, const nghttp2_frame *frame,
                         const uint8_t *framehd) {
  if (crpc__h2io_out_full(out))
    return NGHTTP2_ERR_WOULDBLOCK;
  if (frame->data.padlen != 0)
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  return crpc__h2io_put_piece(out, framehd, CRPC__H2_FRAME_HDLEN);
}

int crpc__h2io_put_piece(crpc__h2io_out *out, const uint8_t *p, size_t n) {
  /* Under TLS encrypted from where it is; a failure fails the connection. */
  int rc = out->tls ? tls_put(out, p, n) : crpc__buf_append(&out->bytes, p, n);
  return rc != 0 ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
}

size_t crpc__h2io_owned_room(const crpc__h2io_out *out) {
  /* Under TLS a payload is encrypted from where it is, never handed over. */
  return out->tls ? 0 : CRPC__H2IO_SEGS - out->n_seg;
}

void crpc__h2io_put_owned_piece(crpc__h2io_out *out, crpc__buf *payload,
                                void *owner,
                                void (*release)(void *owner, crpc__buf *buf)) {
  assert(crpc__h2io_owned_room(out) > 0);
  crpc__h2io_seg *s = &out->seg[out->n_seg++];
  s->at = crpc__buf_len(&out->bytes);
  s->buf = *payload;
  s->owner = owner;
  s->release = release;
  out->seg_bytes += crpc__buf_len(payload);
  crpc__buf_init(payload, payload->max);
}

void crpc__h2io_put_borrowed_piece(crpc__h2io_out *out, const uint8_t *p,
                                   size_t n, void *owner,
                                   void (*release)(void *owner,
                                                   crpc__buf *buf)) {
  crpc__buf view = {
      .mem = (uint8_t *)p, .off = 0, .len = n, .cap = n, .max = n};
  crpc__h2io_put_owned_piece(out, &view, owner, release);
}

int crpc__h2io_put_data(crpc__h2io_out *out, const nghttp2_frame *frame,
                        const uint8_t *framehd, const uint8_t *p, size_t n) {
  if (crpc__h2io_out_full(out))
    return NGHTTP2_ERR_WOULDBLOCK;
  /* One allocation for the header and the payload. */
  if (out->tls == NULL &&
      crpc__buf_reserve(&out->bytes, CRPC__H2_FRAME_HDLEN + n) != 0)
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  int rv = crpc__h2io_put_frame(out, frame, framehd);
  return rv != 0 ? rv : crpc__h2io_put_piece(out, p, n);
}

void crpc__h2io_rest_init(crpc__h2io_rest *r) {
  crpc__buf_init(&r->bytes, SIZE_MAX);
  r->seg = NULL;
  r->n_seg = 0;
}

void crpc__h2io_rest_cleanup(crpc__h2io_rest *r) {
  for (size_t i = 0; i < r->n_seg; i++)
    r->seg[i].release(r->seg[i].owner, &r->seg[i].buf);
  free(r->seg);
  crpc__buf_cleanup(&r->bytes);
  crpc__h2io_rest_init(r);
}

size_t crpc__h2io_rest_len(const crpc__h2io_rest *r) {
  size_t n = crpc__buf_len(&r->bytes);
  for (size_t i = 0; i < r->n_seg; i++)
    n += crpc__buf_len(&r->seg[i].buf);
  return n;
}

/* The most pieces a batch is written in: its payloads, and the bytes
 * before, between and after them. */
#define MAX_PIECES (2 * CRPC__H2IO_SEGS + 1)

/* A piece of what the socket did not take: |len| bytes from |off| in the
 * rest's bytes, or (|seg| >= 0) that payload of the rest, whole. */
typedef struct piece {
  int seg;
  size_t off, len;
} piece;

/* Moves what the socket did not take of |iov| (|seg_of| says which
 * pieces are |out|'s payloads), after the first |skip| bytes, to |rest|;
 * fills |left| in order. Returns how many pieces are left, or
 * CRPC_ENOMEM. */
static int keep_rest(crpc__h2io_out *out, const uv_buf_t *iov,
                     const int *seg_of, unsigned n_iov, size_t skip,
                     crpc__h2io_rest *rest, piece *left) {
  int n = 0;
  for (unsigned i = 0; i < n_iov; i++) {
    size_t l = iov[i].len;
    if (skip >= l) {
      skip -= l;
      continue;
    }
    if (seg_of[i] < 0) {
      left[n] = (piece){-1, crpc__buf_len(&rest->bytes), l - skip};
      if (crpc__buf_append(&rest->bytes, iov[i].base + skip, l - skip) != 0)
        return CRPC_ENOMEM;
    } else {
      if (rest->seg == NULL &&
          (rest->seg = malloc(CRPC__H2IO_SEGS * sizeof(*rest->seg))) == NULL)
        return CRPC_ENOMEM;
      crpc__h2io_seg *g = &out->seg[seg_of[i]];
      crpc__h2io_seg *k = &rest->seg[rest->n_seg];
      *k = *g;
      g->release = NULL; /* the rest's to give back now */
      crpc__buf_consume(&k->buf, skip);
      left[n] = (piece){(int)rest->n_seg++, 0, l - skip};
    }
    n++;
    skip = 0;
  }
  return n;
}

int crpc__h2io_write(crpc__stream_handle *s, crpc__h2io_out *out,
                     crpc__h2io_rest *rest, uv_write_t *req, uv_write_cb cb) {
  /* The bytes, with each payload between the bytes before and after it. */
  uv_buf_t iov[MAX_PIECES];
  int seg_of[MAX_PIECES];
  unsigned n_iov = 0;
  const uint8_t *bytes = crpc__buf_data(&out->bytes);
  size_t from = 0;
  for (size_t i = 0; i < out->n_seg; i++) {
    const crpc__h2io_seg *g = &out->seg[i];
    if (g->at > from) {
      seg_of[n_iov] = -1;
      iov[n_iov++] =
          uv_buf_init((char *)bytes + from, (unsigned)(g->at - from));
    }
    seg_of[n_iov] = (int)i;
    iov[n_iov++] = uv_buf_init((char *)crpc__buf_data(&g->buf),
                               (unsigned)crpc__buf_len(&g->buf));
    from = g->at;
  }
  size_t blen = crpc__buf_len(&out->bytes);
  if (blen > from) {
    seg_of[n_iov] = -1;
    iov[n_iov++] = uv_buf_init((char *)bytes + from, (unsigned)(blen - from));
  }
  int n = n_iov ? uv_try_write(&s->stream, iov, n_iov) : 0;
  int rc = n < 0 && n != UV_EAGAIN ? n : 0;
  piece left[MAX_PIECES];
  int n_left = 0;
  if (rc == 0) {
    n_left =
        keep_rest(out, iov, seg_of, n_iov, n > 0 ? (size_t)n : 0, rest, left);
    if (n_left < 0)
      rc = n_left;
  }
  crpc__h2io_out_reset(out);
  if (rc != 0 || n_left == 0) {
    crpc__h2io_rest_cleanup(rest);
    return rc;
  }
  /* The rest's bytes are where they will stay: point at them now. */
  for (int i = 0; i < n_left; i++) {
    const piece *p = &left[i];
    iov[i] = p->seg < 0
                 ? uv_buf_init((char *)crpc__buf_data(&rest->bytes) + p->off,
                               (unsigned)p->len)
                 : uv_buf_init((char *)crpc__buf_data(&rest->seg[p->seg].buf),
                               (unsigned)p->len);
  }
  rc = uv_write(req, &s->stream, iov, (unsigned)n_left, cb);
  if (rc != 0)
    crpc__h2io_rest_cleanup(rest);
  return rc == 0 ? 1 : rc;
}
