/*
 * runtime/h2io.h: the byte plumbing between a socket and an nghttp2
 * session, shared by the server's and the client's connections: bytes
 * read go through TLS (when there is TLS) into the session, and what the
 * session has to send goes through TLS into one output buffer, which the
 * connection writes with a single uv_write per loop iteration.
 */
#ifndef CRPC_H2IO_H
#define CRPC_H2IO_H

#include <stddef.h>
#include <stdint.h>

#include <nghttp2/nghttp2.h>
#include <uv.h>

#include "buf.h"
#include "tls.h"

/* A connection stops taking frames from its session once this many bytes
 * wait to be written. */
#define CRPC__H2IO_WRITE_BATCH (64 * 1024)

/* A TCP or unix stream socket, seen as whichever libuv type a call needs. */
typedef union crpc__stream_handle {
  uv_handle_t handle;
  uv_stream_t stream;
  uv_tcp_t tcp;
  uv_pipe_t pipe;
} crpc__stream_handle;

/* Bytes of an HTTP/2 frame header (RFC 9113, section 4.1). */
#define CRPC__H2_FRAME_HDLEN 9

/* Bytes a connection reads from its socket at a time. */
#define CRPC__H2IO_READ_BUF (64 * 1024)

/*
 * Feeds the |n| bytes at |p|, read from the socket, to |ng|, through |tls|
 * when it is not NULL. |tls| may queue output while reading (handshake
 * records, alerts): collect it afterwards.
 * Ownership: |p| is borrowed for the call.
 * Thread: the connection's loop.
 * Returns 0, or one of these, and then the connection is done for:
 *   CRPC_ECLOSED  the peer closed TLS (close_notify).
 *   CRPC_EPROTO   TLS failed; crpc__tls_conn_error() says why.
 *   < 0           nghttp2's error (nghttp2_strerror() says why).
 */
int crpc__h2io_feed(nghttp2_session *ng, crpc__tls_conn *tls, const uint8_t *p,
                    size_t n);

/*
 * Appends to |out| the bytes to send: first any TLS records |tls| has
 * queued, then, once there is no TLS or its handshake is done, frames
 * from |ng| (encrypted through |tls|), until |out| holds at least
 * CRPC__H2IO_WRITE_BATCH bytes or the session has nothing more to send.
 * |ng| may be NULL (TLS records only).
 * Thread: the connection's loop.
 * Returns 0, or CRPC_ENOMEM, CRPC_EPROTO (TLS) or nghttp2's error, and then
 * the connection is done for.
 */
int crpc__h2io_collect(nghttp2_session *ng, crpc__tls_conn *tls,
                       crpc__buf *out);

/*
 * Writes the bytes of |out| to |s|: first as many as the socket takes at
 * once (uv_try_write(): no request, no callback, and no change to what the
 * loop polls for, so a reply that fits costs one write(2)), then the rest,
 * if any, through |req| and |cb|.
 * Ownership: when it returns 1, |out| belongs to the write until |cb| runs:
 * neither append to it nor free it before; |cb| then resets it.
 * Thread: the connection's loop.
 * Returns 0 when all of |out| was written (|out| is then empty), 1 when
 * |req| carries the rest, or a negative libuv error (the connection is done
 * for; uv_strerror() says why).
 */
int crpc__h2io_write(crpc__stream_handle *s, crpc__buf *out, uv_write_t *req,
                     uv_write_cb cb);

/*
 * Whether DATA frames may leave their payload where it is until they are
 * written (NGHTTP2_DATA_FLAG_NO_COPY, then crpc__h2io_put_data()), which
 * saves nghttp2 copying it into its own frame buffer first. Only without
 * TLS: with TLS, header and payload are encrypted as one record.
 */
#define CRPC__H2IO_NO_COPY(tls) ((tls) == NULL)

/*
 * Appends to |out| a DATA frame nghttp2 prepared with
 * NGHTTP2_DATA_FLAG_NO_COPY: its 9-byte header |framehd| and the |n|
 * payload bytes at |p|. For a nghttp2_send_data_callback, which then
 * consumes the |n| bytes from wherever the data source keeps them.
 * Thread: the connection's loop.
 * Returns 0; NGHTTP2_ERR_WOULDBLOCK when |out| already holds
 * CRPC__H2IO_WRITE_BATCH bytes (the session offers the same frame again on
 * the next collect); NGHTTP2_ERR_CALLBACK_FAILURE when |frame| is padded
 * (crpc never pads) or memory ran out.
 */
int crpc__h2io_put_data(crpc__buf *out, const nghttp2_frame *frame,
                        const uint8_t *framehd, const uint8_t *p, size_t n);

#endif /* CRPC_H2IO_H */
