/*
 * runtime/h2conn.h: one HTTP/2 connection, the core both sides share: the
 * socket (TCP or unix), TLS when there is TLS, the nghttp2 session with
 * crpc's settings, the read path, the batched write path, the close
 * sequence and the reason it closed. server/conn.c and client/conn.c embed
 * one and add only their role: what to do with streams and frames, and
 * who learns when the connection goes.
 *
 * Reads go straight into nghttp2 (through TLS first). Writes are batched:
 * a connection with something to send is marked dirty, and once per loop
 * iteration (the owner's uv_prepare_t calls crpc__h2group_flush()) whatever
 * its session has to send is collected into one buffer and written with
 * one write(2) where the socket takes it all. While a write is in flight
 * nothing more is taken from the session, so a peer that stops reading
 * holds back only its own connection.
 *
 * Lifetime: a connection is reference counted (|refs|, loop thread only).
 * Its owner holds the first reference, which the close sequence drops once
 * the socket's handle has closed; a pending write and a dirty mark hold
 * one each, and roles take more for their streams. The last one runs the
 * role's destroy().
 *
 * Thread: everything here runs on the connection's loop thread.
 */
#ifndef CRPC_H2CONN_H
#define CRPC_H2CONN_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <nghttp2/nghttp2.h>
#include <uv.h>

#include "buf.h"
#include "crpc/log.h"
#include "crpc/loop.h"
#include "h2io.h"
#include "tls.h"

/* What both sides announce by default: a stream window of
 * CRPC__H2_STREAM_WINDOW for a client, CRPC__H2_SERVER_STREAM_WINDOW for
 * a server, a 16 MiB connection window, 16 KiB of header list, and frames
 * of up to CRPC__H2_MAX_DATA_FRAME (crpc__h2limits overrides the
 * windows).
 *
 * gRPC C++'s client sent 4 x 8 calls of 1 MiB to crpc's server at 1.18-
 * 1.32k a second with a 1 MiB stream window and 1.26-1.49k (median 1.43k)
 * with 4 MiB; a 1 MiB window that grew to hold each message once its
 * prefix had come did no better than 1 MiB (1.12-1.29k): the client, not
 * the message, wanted the larger window. A client's streams keep 1 MiB:
 * with 4 MiB, 64 KiB messages streamed from crpc's server to crpc's client
 * came 6 % slower and cost the server 23 % more CPU each. The connection's
 * window, given back as data arrives, bounds only what is in flight: 8 MiB
 * was the other half of the calls' wait above (neither larger window alone
 * did more than 5 %). */
#define CRPC__H2_STREAM_WINDOW (1 << 20)
#define CRPC__H2_SERVER_STREAM_WINDOW (4 << 20)
#define CRPC__H2_CONN_WINDOW (16 << 20)
/* HTTP/2's largest window (RFC 9113, 6.9.1). */
#define CRPC__H2_MAX_WINDOW ((1u << 31) - 1)

/* A stream's received messages not yet read, in bytes, past which its
 * window stops being given back (the reader's backpressure on the peer).
 * Bytes are given back as they arrive while the queue is shorter, those
 * of a message still arriving included: a message larger than the window
 * could never be completed otherwise. */
#define CRPC__H2_READ_QUEUE_BYTES (1u << 20)
#define CRPC__H2_MAX_HEADER_LIST (16 * 1024)

/* The largest DATA frame either side sends, when the peer's
 * SETTINGS_MAX_FRAME_SIZE allows more than HTTP/2's 16 KiB (gRPC's C core
 * announces 4 MiB), and the SETTINGS_MAX_FRAME_SIZE both sides announce,
 * so that crpc's client and server send each other large frames too:
 * with 16 KiB ones crpc's server spent 427 us per 1 MiB message to its
 * client, each frame's payload copied into the write batch. A frame this
 * large holds no more memory than the windows already allow a peer; of
 * the frames nghttp2 buffers whole, SETTINGS is bounded by the number of
 * entries, and only a GOAWAY's debug data (once, as the connection ends)
 * by this. Fewer frames cost the peer less: gRPC C++'s client
 * spent 250 us per 1 MiB message in 16 KiB frames, 176 us in 256 KiB
 * ones. And a frame that takes all a stream has queued (up to the high
 * water mark below) hands the sender's buffer to the socket whole instead
 * of copying it (crpc__h2io_put_owned_piece()). It is also how long a small
 * reply on another stream of the connection may wait behind it, and
 * nghttp2 grows a session's frame buffer to the largest frame it made
 * (address space only: with NGHTTP2_DATA_FLAG_NO_COPY it writes just the
 * frame header there). */
#define CRPC__H2_MAX_DATA_FRAME (1024 * 1024)

/* A call's writer waits while more than HIGH bytes of its messages are
 * queued for its stream, until they drain to LOW. Streaming 64 KiB
 * messages to gRPC C++'s client, 1 MiB and 256 KiB (with 1 MiB frames)
 * took 15-16 us of server CPU per message where 256 KiB and 64 KiB (with
 * 256 KiB frames) took 18-22: the writer waits and wakes a quarter as
 * often, and each frame carries all that is queued. */
#define CRPC__OUT_HIGH_WATER (1024u * 1024)
#define CRPC__OUT_LOW_WATER (256u * 1024)

/* Frames that ask nothing of the connection (empty DATA without
 * END_STREAM, PRIORITY, unknown types, SETTINGS that are not
 * acknowledgements, PINGs with no HEADERS or DATA since the last one, and
 * frames nghttp2 refuses as stream errors, such as malformed requests)
 * a peer may send by default: a burst of this many, refilled at this many
 * per second. Beyond, the connection ends with GOAWAY ENHANCE_YOUR_CALM: a
 * flood of them costs CPU and, for SETTINGS and PING, an answer each. gRPC
 * clients send a handful (SETTINGS, keepalive PINGs). */
#define CRPC__H2_IDLE_FRAMES_BURST 1000
#define CRPC__H2_IDLE_FRAMES_PER_SECOND 100

/* What a connection allows its peer; a zero field takes the default. */
typedef struct crpc__h2limits {
  uint32_t max_streams;      /* a server's SETTINGS_MAX_CONCURRENT_STREAMS */
  uint32_t max_header_list;  /* SETTINGS_MAX_HEADER_LIST_SIZE announced */
  uint32_t idle_frame_burst; /* the idle-frame budget's burst ... */
  uint32_t idle_frame_rate;  /* ... and its refill per second */
  uint32_t stream_window;    /* SETTINGS_INITIAL_WINDOW_SIZE announced */
  uint32_t conn_window;      /* the connection's receive window */
} crpc__h2limits;

/* |l| with every zero field set to its default (100 streams,
 * CRPC__H2_MAX_HEADER_LIST, CRPC__H2_IDLE_FRAMES_*, CRPC__H2_*_WINDOW)
 * and windows past CRPC__H2_MAX_WINDOW brought down to it. */
crpc__h2limits crpc__h2limits_or_default(const crpc__h2limits *l);

typedef struct crpc__h2conn crpc__h2conn;

/* The connections of one loop that share a read buffer, a flush and their
 * limits: a server loop's, a channel's. Owned by the role's object. */
typedef struct crpc__h2group {
  crpc_loop *loop;     /* the one thread its connections run on */
  crpc__h2conn *dirty; /* marked for the next flush */
  uint8_t *rbuf;       /* CRPC__H2IO_READ_BUF bytes, malloc'd: only the
                        * pages reads fill are ever touched */
  /* The batch being written, shared by its connections as |rbuf| is:
   * what the socket does not take at once moves to the connection's own
   * |rest|. Made by crpc__h2group_init(). */
  crpc__h2io_out wbuf;
  /* What its connections allow, set through crpc__h2limits_or_default()
   * before the first one starts. */
  crpc__h2limits limits;
  /* Bytes its connections read from and wrote to their sockets, TLS
   * records included (a write counts once the socket took it): written by
   * the loop thread alone, read by any (relaxed). Zero when the group is
   * made. */
  atomic_uint_fast64_t bytes_read, bytes_written;
} crpc__h2group;

/* Makes |g| a group of no connection yet on |loop|, with a read buffer of
 * its own; its limits are the defaults.
 * Thread: any, before its first connection starts.
 * Returns 0, or CRPC_ENOMEM; crpc__h2group_cleanup() is safe either way. */
int crpc__h2group_init(crpc__h2group *g, crpc_loop *loop);

/* Frees what |g| holds; its connections must all be gone. Also safe on a
 * zeroed |g| and after a failed init. Thread: its loop's, or any once that
 * has stopped. */
void crpc__h2group_cleanup(crpc__h2group *g);

/*
 * What a side does with its connection. |stream| is the stream's user
 * data in the session (a server or client call), never NULL: frames of
 * streams without one are handled by the core (DATA is given back to the
 * window at once, the rest is ignored).
 */
typedef struct crpc__h2conn_role {
  int server;            /* a server session, else a client one */
  const char *peer_noun; /* "the client", "the server": in reasons */
  /* A HEADERS frame opens a stream (server: a request). May be NULL.
   * Returns 0 or an nghttp2 callback error. */
  int (*begin_headers)(crpc__h2conn *c, const nghttp2_frame *frame);
  /* One header field of a HEADERS frame of |stream|. Returns 0 or an
   * nghttp2 callback error. */
  int (*header)(void *stream, const nghttp2_frame *frame, const uint8_t *name,
                size_t nlen, const uint8_t *value, size_t vlen);
  /* A whole frame arrived. |stream| is looked up for HEADERS and DATA
   * only: NULL for other frames and for streams without user data. */
  void (*frame_recv)(crpc__h2conn *c, void *stream, const nghttp2_frame *frame);
  /* DATA payload of |stream|. The connection's window is given back
   * already; the role gives the stream's back, with
   * nghttp2_session_consume_stream(), as its reader takes the bytes. */
  void (*data)(void *stream, const uint8_t *p, size_t n);
  /* |stream| closed with |error_code|; its user data is already unset. */
  void (*stream_close)(void *stream, uint32_t error_code);
  /* The frame that ends this side of |stream| (HEADERS or DATA with
   * END_STREAM) went out. May be NULL. */
  void (*end_sent)(void *stream);
  /* The body of |stream|, for the data provider crpc__h2conn_body()
   * makes: nghttp2_data_source_read_callback's contract for a frame of
   * up to |len| bytes, except that nothing is copied: when the frame
   * carries bytes, |flags| gets NGHTTP2_DATA_FLAG_NO_COPY, and send_data()
   * appends them where they are. */
  ssize_t (*read_body)(void *stream, size_t len, uint32_t *flags);
  /* How many bytes of |stream|'s body are ready to send now: the largest
   * DATA frame worth making for it. */
  size_t (*body_ready)(void *stream);
  /* Appends to |out| the DATA frame read_body() left in place
   * (crpc__h2io_put_data()'s contract). */
  int (*send_data)(void *stream, crpc__h2io_out *out,
                   const nghttp2_frame *frame, const uint8_t *framehd,
                   size_t len);
  /* After a flush: whether the connection is done and closes now.
   * |session_idle| says the session wants neither to read nor to write. */
  int (*done)(crpc__h2conn *c, int session_idle);
  /* The close began (|error| says why): streams learn they are over and
   * the role lets go of the connection. Runs once. */
  void (*closing)(crpc__h2conn *c);
  /* The socket's handle has closed and the session is freed. */
  void (*closed)(crpc__h2conn *c);
  /* The last reference is gone: free the object embedding |c|. */
  void (*destroy)(crpc__h2conn *c);
} crpc__h2conn_role;

struct crpc__h2conn {
  const crpc__h2conn_role *role;
  crpc__h2group *group;
  const crpc_logger *lg;
  crpc__stream_handle h; /* its data is the connection */
  crpc__tls_conn *tls;   /* NULL without TLS */
  /* Who the peer is, taken from |tls| when that is freed at the close, so
   * that it lasts as long as the connection. */
  crpc_peer_auth *peer_auth;
  nghttp2_session *ng;  /* NULL until started, and once closed */
  crpc__h2io_rest rest; /* what the socket did not take at once */
  uv_write_t wreq;
  int refs;
  int writing;     /* |wreq| is in flight */
  int fatal;       /* no more reads: flush what is left and close */
  int closed;      /* the close sequence ran */
  int established; /* the peer's first SETTINGS arrived */
  int in_dirty;
  crpc__h2conn *next_dirty;
  int32_t last_peer_stream; /* the highest stream the peer opened */
  /* The stream whose user data was last looked up (stream_of()), and that
   * user data: never NULL while |last_stream_id| names it. */
  int32_t last_stream_id;
  void *last_stream;
  double idle_frames;  /* what is left of the idle-frame budget */
  int work_since_ping; /* HEADERS or DATA came since the last PING */
  int sent_since_ping; /* HEADERS or DATA went out since the last PING */
  /* The last PING came after HEADERS or DATA either way: not a strike
   * for a server's ping policy. */
  int ping_with_work;
  uint64_t read_ms;        /* uv_now() when the peer last sent bytes */
  uint64_t idle_frames_ms; /* when it was last refilled (uv_now) */
  /* uv_now() + 1 when the peer began a header block it has not finished
   * (nothing else may come on the connection until it does); 0 else. */
  uint64_t block_since_ms;
  char name[128];  /* the peer, for log lines */
  char error[160]; /* why it failed or closed; empty while it has not */
};

/*
 * Makes |c| a connection of |group| (not started) with one reference, its
 * owner's. The role then initializes |c->h| (uv_tcp_init/uv_pipe_init)
 * and sets |c->h.handle.data| to |c|.
 * Ownership: |role|, |group| and |lg| are borrowed and outlive |c|.
 */
void crpc__h2conn_init(crpc__h2conn *c, const crpc__h2conn_role *role,
                       crpc__h2group *group, const crpc_logger *lg);

/*
 * Starts the connected socket: the session (with nghttp2's allocator
 * |mem|, NULL for malloc), crpc's SETTINGS with the group's limits,
 * reading, and a flush. |c->tls| is set before when there is TLS.
 * Returns 0 or a crpc error, and then the caller closes |c|.
 */
int crpc__h2conn_start(crpc__h2conn *c, nghttp2_mem *mem);

/* Queues |c| for the next flush of its group (nothing once closed). */
void crpc__h2conn_mark_dirty(crpc__h2conn *c);

/* Records |why| as the reason unless one is recorded, stops reading, and
 * queues a flush, which sends what is left and closes. */
void crpc__h2conn_fail(crpc__h2conn *c, const char *why);

/* Ends |c| for what the peer did: GOAWAY with |code| and |why| as its
 * debug data (gRPC's "too_many_pings"), no more reading, and |why| as the
 * reason; then as crpc__h2conn_fail(). */
void crpc__h2conn_goaway(crpc__h2conn *c, uint32_t code, const char *why);

/*
 * Closes |c| now: records |why| (NULL keeps the reason there is, else
 * "connection closed"), runs the role's closing(), closes the socket's
 * handle. Does nothing once closed.
 */
void crpc__h2conn_close(crpc__h2conn *c, const char *why);

void crpc__h2conn_ref(crpc__h2conn *c);
void crpc__h2conn_unref(crpc__h2conn *c);

/*
 * Who the peer of |c| is: for TLS, what its handshake established
 * (crpc__tls_conn_peer_auth()); for a plaintext connection, or TLS whose
 * handshake is not done, crpc__peer_auth_plaintext. Never NULL.
 * Ownership: borrowed; once the handshake is done it stays at the same
 * address until the last reference to |c| is gone, so a stream that holds
 * a reference may keep the pointer and read it on any thread.
 */
const crpc_peer_auth *crpc__h2conn_peer_auth(const crpc__h2conn *c);

/* Sets the user data of |stream_id| (what the role's callbacks get as
 * |stream|): the one way to change it once set, as the connection
 * remembers the last stream it looked up. Does nothing once the session
 * is gone. Loop thread. */
void crpc__h2conn_set_stream(crpc__h2conn *c, int32_t stream_id, void *stream);

/* The data provider of a stream whose body the role's read_body() reads;
 * |stream| must be the stream's user data. */
nghttp2_data_provider crpc__h2conn_body(void *stream);

/* Writes what every dirty connection of |g| has to send. */
void crpc__h2group_flush(crpc__h2group *g);

#endif /* CRPC_H2CONN_H */
