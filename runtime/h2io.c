/*
 * runtime/h2io.c: socket bytes to and from an nghttp2 session, through
 * TLS when the connection has it.
 */
#include "h2io.h"

#include "crpc/error.h"

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

int crpc__h2io_collect(nghttp2_session *ng, crpc__tls_conn *tls,
                       crpc__buf *out) {
  int rc = tls ? take_tls_output(tls, out) : 0;
  if (rc != 0 || ng == NULL)
    return rc;
  /* Under TLS, HTTP/2 starts once the handshake is done. */
  if (tls && !crpc__tls_conn_handshake_done(tls))
    return 0;
  while (crpc__buf_len(out) < CRPC__H2IO_WRITE_BATCH) {
    const uint8_t *p;
    ssize_t n = nghttp2_session_mem_send(ng, &p);
    if (n < 0)
      return (int)n;
    if (n == 0)
      break;
    if (tls) {
      rc = crpc__tls_conn_write(tls, p, (size_t)n);
      if (rc == 0)
        rc = take_tls_output(tls, out);
    } else {
      rc = crpc__buf_append(out, p, (size_t)n);
    }
    if (rc != 0)
      return rc;
  }
  return 0;
}

int crpc__h2io_put_data(crpc__buf *out, const nghttp2_frame *frame,
                        const uint8_t *framehd, const uint8_t *p, size_t n) {
  if (crpc__buf_len(out) >= CRPC__H2IO_WRITE_BATCH)
    return NGHTTP2_ERR_WOULDBLOCK;
  if (frame->data.padlen != 0 ||
      crpc__buf_reserve(out, CRPC__H2_FRAME_HDLEN + n))
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  /* Room is reserved: neither append can fail. */
  crpc__buf_append(out, framehd, CRPC__H2_FRAME_HDLEN);
  crpc__buf_append(out, p, n);
  return 0;
}

int crpc__h2io_write(crpc__stream_handle *s, crpc__buf *out, uv_write_t *req,
                     uv_write_cb cb) {
  size_t len = crpc__buf_len(out);
  uv_buf_t b = uv_buf_init((char *)crpc__buf_data(out), (unsigned)len);
  int n = uv_try_write(&s->stream, &b, 1);
  if (n < 0 && n != UV_EAGAIN)
    return n;
  size_t done = n > 0 ? (size_t)n : 0;
  if (done == len) {
    crpc__buf_reset(out);
    return 0;
  }
  crpc__buf_consume(out, done);
  b = uv_buf_init((char *)crpc__buf_data(out), (unsigned)crpc__buf_len(out));
  int rc = uv_write(req, &s->stream, &b, 1, cb);
  return rc == 0 ? 1 : rc;
}
