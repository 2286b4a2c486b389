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
 * were copied into its batch (crpc__h2io_out_full()). */
#define CRPC__H2IO_WRITE_BATCH (64 * 1024)

/*
 * Output on its way to a socket: bytes (frames, TLS records), and DATA
 * payloads written from where their owners keep them
 * (crpc__h2io_put_owned_piece()) instead of being copied in, each going out
 * after the first |at| bytes. A payload's |release| gives its buffer back to
 * |owner| once the socket took it, or dropped (crpc__h2io_out_reset()).
 */
typedef struct crpc__h2io_seg {
  size_t at;
  crpc__buf buf;
  void *owner;
  void (*release)(void *owner, crpc__buf *buf);
} crpc__h2io_seg;

/* Payloads one batch carries at most; more are copied. A 1 MiB frame
 * of 64 KiB messages, each queued in its own buffer, carries 16. */
#define CRPC__H2IO_SEGS 32

/* Plaintext gathered into one TLS record: the most a record carries. */
#define CRPC__H2IO_TLS_RECORD (16 * 1024)

typedef struct crpc__h2io_out {
  crpc__buf bytes;
  crpc__h2io_seg seg[CRPC__H2IO_SEGS];
  size_t n_seg;
  size_t seg_bytes; /* the payloads' bytes */
  /* While crpc__h2io_collect() runs under TLS: the connection, and the
   * small frames gathered for its next record. */
  crpc__tls_conn *tls;
  size_t staged;
  uint8_t stage[CRPC__H2IO_TLS_RECORD];
} crpc__h2io_out;

/* Makes |o| empty. Thread: any, on an |o| the caller owns. */
void crpc__h2io_out_init(crpc__h2io_out *o);
/* Releases its payloads and empties |o|, keeping its bytes' memory. */
void crpc__h2io_out_reset(crpc__h2io_out *o);
/* Releases its payloads and frees its memory. */
void crpc__h2io_out_cleanup(crpc__h2io_out *o);
/* Bytes it holds, payloads included. */
size_t crpc__h2io_out_len(const crpc__h2io_out *o);
/* Whether |o| takes no more frames: CRPC__H2IO_WRITE_BATCH bytes were
 * copied into it. Payloads handed over do not count: they cost no copy,
 * the flow-control windows bound them, and the small frames behind a
 * large one (a message's last bytes, the trailers) then go out in the
 * same write instead of one of their own. */
int crpc__h2io_out_full(const crpc__h2io_out *o);

/* A TCP or unix stream socket, seen as whichever libuv type a call needs. */
typedef union crpc__stream_handle {
  uv_handle_t handle;
  uv_stream_t stream;
  uv_tcp_t tcp;
  uv_pipe_t pipe;
} crpc__stream_handle;

/* Bytes of an HTTP/2 frame header (RFC 9113, section 4.1). */
#define CRPC__H2_FRAME_HDLEN 9
/* The frame payload every peer takes: SETTINGS_MAX_FRAME_SIZE's initial
 * value (RFC 9113, section 6.5.2). */
#define CRPC__H2_FRAME_PAYLOAD 16384

/* Bytes a connection reads from its socket at a time. One buffer serves
 * every connection of a loop, and only what a read fills is touched.
 * Receiving a stream of 64 KiB messages, crpc's client spent 15.6 us per
 * message reading 64 KiB at a time, 10.9 us at 256 KiB and 11-15 us at
 * 1 MiB (a buffer that outgrows the cache); a read costs a wake-up, TCP's
 * acknowledgement work and a pass through nghttp2, whatever it brings. */
#define CRPC__H2IO_READ_BUF (256 * 1024)

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
 * from |ng| (encrypted through |tls|, small frames gathered into records
 * of up to 16 KiB, the records written straight into |out|), until |out|
 * is full (crpc__h2io_out_full()) or the session has nothing more to send.
 * |ng| may be NULL (TLS records only).
 * Thread: the connection's loop.
 * Returns 0, or CRPC_ENOMEM, CRPC_EPROTO (TLS) or nghttp2's error, and then
 * the connection is done for.
 */
int crpc__h2io_collect(nghttp2_session *ng, crpc__tls_conn *tls,
                       crpc__h2io_out *out);

/*
 * What of a batch the socket did not take at once, kept until the write
 * carrying it is done: the bytes among the payloads, copied (frame
 * headers and small frames: at most a batch), and the payloads, left in
 * their owners' buffers. A 1 MiB message the socket takes 64 KiB of is
 * then not copied once more on its way out.
 */
typedef struct crpc__h2io_rest {
  crpc__buf bytes;
  crpc__h2io_seg *seg; /* allocated while it holds payloads */
  size_t n_seg;
} crpc__h2io_rest;

/* Makes |r| empty; allocates nothing. */
void crpc__h2io_rest_init(crpc__h2io_rest *r);
/* Gives its payloads back to their owners and frees its memory. */
void crpc__h2io_rest_cleanup(crpc__h2io_rest *r);
/* Bytes it holds, payloads included. */
size_t crpc__h2io_rest_len(const crpc__h2io_rest *r);

/*
 * Writes the bytes of |out| to |s|, its payloads in place among them:
 * first as many as the socket takes at once (uv_try_write(): no request,
 * no callback, and no change to what the loop polls for, so a reply that
 * fits costs one write(2)); the rest, if any, goes to |rest| (empty: the
 * bytes copied, the payloads handed over) and is written from there
 * through |req| and |cb|. |out| is empty afterwards, the payloads the
 * socket took released.
 * Ownership: when it returns 1, |rest| belongs to the write until |cb|
 * runs, which then gives it back with crpc__h2io_rest_cleanup(); else
 * |rest| is left empty.
 * Thread: the connection's loop.
 * Returns 0 when all of |out| was written, 1 when |req| carries the rest,
 * CRPC_ENOMEM, or a negative libuv error (the connection is done for;
 * uv_strerror() says why).
 */
int crpc__h2io_write(crpc__stream_handle *s, crpc__h2io_out *out,
                     crpc__h2io_rest *rest, uv_write_t *req, uv_write_cb cb);

/*
 * Starts in |out| a DATA frame nghttp2 prepared with
 * NGHTTP2_DATA_FLAG_NO_COPY, for a nghttp2_send_data_callback: appends its
 * 9-byte header |framehd|. The payload follows as pieces, copied
 * (crpc__h2io_put_piece()) or handed over (crpc__h2io_put_owned_piece()),
 * adding up to the frame's length, from wherever the data source keeps
 * it; the callback then consumes those bytes there.
 * Thread: the connection's loop.
 * Returns 0; NGHTTP2_ERR_WOULDBLOCK when |out| is full
 * (crpc__h2io_out_full(): the session offers the same frame again on the
 * next collect); NGHTTP2_ERR_CALLBACK_FAILURE when |frame| is padded
 * (crpc never pads) or memory ran out. After a piece fails the frame is
 * half written: the callback returns NGHTTP2_ERR_CALLBACK_FAILURE.
 */
int crpc__h2io_put_frame(crpc__h2io_out *out, const nghttp2_frame *frame,
                         const uint8_t *framehd);

/* Appends the |n| bytes at |p| to the frame started: copied, or under
 * TLS encrypted from where they are. Returns 0, or
 * NGHTTP2_ERR_CALLBACK_FAILURE. */
int crpc__h2io_put_piece(crpc__h2io_out *out, const uint8_t *p, size_t n);

/* Payloads of DATA frames at least this large are worth handing over
 * (crpc__h2io_put_owned_piece()) rather than copying. */
#define CRPC__H2IO_OWNED_MIN (16 * 1024)

/* How many more payloads |out| can take whole: 0 under TLS, where a
 * payload is encrypted from where it is instead. */
size_t crpc__h2io_owned_room(const crpc__h2io_out *out);

/*
 * Appends to the frame started the whole content of |*payload|, which is
 * not copied: |out| takes the buffer (|*payload| is left empty) and gives
 * it back through |release|(|owner|, buffer) once written, or dropped.
 * Only while crpc__h2io_owned_room() is not 0.
 */
void crpc__h2io_put_owned_piece(crpc__h2io_out *out, crpc__buf *payload,
                                void *owner,
                                void (*release)(void *owner, crpc__buf *buf));

/*
 * Appends to the frame started the |n| bytes at |p|, not copied and not
 * taken: they must stay as they are until |release|(|owner|, buffer)
 * says they were written or dropped. That buffer only views them: release
 * must not free it. Only while crpc__h2io_owned_room() is not 0.
 */
void crpc__h2io_put_borrowed_piece(crpc__h2io_out *out, const uint8_t *p,
                                   size_t n, void *owner,
                                   void (*release)(void *owner,
                                                   crpc__buf *buf));

/* A whole DATA frame, as crpc__h2io_put_frame(), whose payload is the |n|
 * bytes at |p|, copied. */
int crpc__h2io_put_data(crpc__h2io_out *out, const nghttp2_frame *frame,
                        const uint8_t *framehd, const uint8_t *p, size_t n);

#endif /* CRPC_H2IO_H */
