/*
 * server/server_internal.h: the server's objects and how they refer to
 * each other.
 *
 *   crpc_server ──< crpc__sloop (one per I/O loop thread)
 *                        └──< crpc__server_conn (a TCP/unix connection, its
 *                                 │        nghttp2 session, maybe TLS)
 *                                 └──< crpc__server_call (one HTTP/2 stream)
 *
 * A connection and its calls belong to one loop thread for their whole
 * life: only that thread touches nghttp2 and the connection. A call's
 * handler may run elsewhere (on a worker); what the handler and the loop
 * share is guarded by the call's mutex, and everything the loop must do on
 * a worker's behalf is posted to the loop as the call's |kick| task.
 */
#ifndef CRPC_SERVER_INTERNAL_H
#define CRPC_SERVER_INTERNAL_H

#include <stdatomic.h>

#include <nghttp2/nghttp2.h>
#include <uv.h>

#include "arena.h"
#include "buf.h"
#include "compress.h"
#include "crpc/server.h"
#include "frame.h"
#include "grpc_headers.h"
#include "h2conn.h"
#include "h2mem.h"
#include "icall.h"
#include "loop_internal.h"
#include "msg_cache.h"
#include "outq.h"
#include "pool_internal.h"
#include "timerq.h"

typedef struct crpc__sloop crpc__sloop;
typedef struct crpc__server_conn crpc__server_conn;
typedef struct crpc__server_call crpc__server_call;
typedef struct crpc__acceptor crpc__acceptor;
typedef struct crpc__health crpc__health;
typedef struct crpc__metrics_http crpc__metrics_http;
typedef struct crpc__tls_ctx crpc__tls_ctx;
typedef struct crpc__tls_conn crpc__tls_conn;

struct crpc_service {
  const crpc_service_desc *desc;
  const void *handlers;
  void *user_data;
  crpc_placement *placement; /* per method: the effective placement */
  crpc__ichain own;          /* crpc_service_add_interceptor() */
  crpc__ichain chain;        /* the server's then |own|, made at start */
  int builtin;               /* crpc's own (health) */
  crpc_service *next;
};

/* A routing entry: one method of one service, found by its :path. */
typedef struct crpc__route {
  const char *path;
  size_t path_len;
  crpc_service *svc;
  const crpc_method *method;
  crpc_placement placement;
  int implemented; /* the handler table has a function for it */
} crpc__route;

/* One listen address. Lives on the first loop; freed with the server,
 * after every connection it accepted. */
struct crpc__acceptor {
  crpc_server *srv;
  char *addr;  /* as given */
  char *shown; /* as logged: "127.0.0.1:40123", "unix:/p" */
  int is_unix;
  int port; /* bound TCP port, or -1 */
  crpc__tls_ctx *tls;
  /* The names a client certificate must carry one of (crpc_tls_opts), in
   * one allocation; NULL when any will do. */
  char **client_names;
  size_t n_client_names;
  crpc__stream_handle h;
  int open;
  crpc__acceptor *next;
};

/* A loop thread of the server and the connections it owns. */
struct crpc__sloop {
  crpc_server *srv;
  crpc_loop *loop;
  int own_loop;      /* |loop| is the server's (a thread of its own) */
  int handles_ready; /* the handles below are initialized */
  unsigned index;
  uv_prepare_t flush;       /* writes are batched until the loop would block */
  crpc__timerq deadlines;   /* its calls' */
  crpc__h2group h2;         /* its connections' flush and read buffer */
  crpc__server_conn *conns; /* every open connection */
  size_t n_conns;
  size_t conns_peak; /* the most open at once since the last sweep */
  size_t gone; /* connections and calls freed since the last heap release */
  size_t n_handlers; /* handlers of its calls still running */
  crpc__task shutdown_task;
  crpc__task lame_duck_task; /* the first loop's: starts |lame_duck_timer| */
  uv_timer_t lame_duck_timer;
  int shutting_down;
  int drained; /* every connection closed after shutdown */
  uv_timer_t drain_timer;
  uv_timer_t goaway_timer;
  uv_timer_t sweep;    /* closes connections stuck in their handshake */
  crpc__arena scratch; /* response header text until submitted */
  crpc__h2mem h2mem;   /* what its connections' sessions allocate */
  /* Memory of request messages of CRPC__MSG_CACHE_MIN bytes or more, kept
   * for the next (its calls' decoders take it), trimmed by the sweep. */
  crpc__msg_cache *msgs;
  /* Finished calls kept for reuse (call.c), linked by next_in_conn. */
  crpc__server_call *free_calls;
  size_t n_free_calls;
  size_t free_bytes;             /* the large buffers the free calls keep */
  size_t calls_live, calls_peak; /* peak: since the last trim */
  /* Streams of its connections open now, the sum of their n_calls:
   * written by the loop thread alone, read by any (crpc_server_stats). */
  atomic_uint_fast64_t streams;
};

/* Why the server refused or cut short a call, for the metrics'
 * crpc_server_rejected_calls_total{reason}: the label value, and what it
 * counts. */
#define CRPC__REJECT_MAP(X)                                                    \
  X(UNIMPLEMENTED, "unimplemented") /* no such method, or no handler */        \
  X(NOT_GRPC, "not_grpc")           /* not a POST, or not gRPC content */      \
  X(BAD_REQUEST, "bad_request")     /* malformed gRPC request headers */       \
  X(HEADERS_TOO_LARGE, "headers_too_large") /* max_header_list_bytes */        \
  X(DEADLINE_BEFORE_START, "deadline_before_start") /* already passed */       \
  X(WORKER_QUEUE_FULL, "worker_queue_full")         /* worker_queue_max */     \
  X(MESSAGE_TOO_LARGE, "message_too_large")         /* max_receive_bytes */    \
  X(BAD_MESSAGE, "bad_message")     /* a request message it cannot read */     \
  X(OUT_OF_MEMORY, "out_of_memory") /* or no coroutine stack */                \
  X(STALLED, "stalled") /* stall_timeout_ms or pressure_stall_ms */            \
  X(SHUTTING_DOWN, "shutting_down") /* refused or cut by the shutdown */

typedef enum {
#define X(name, label) CRPC__REJECT_##name,
  CRPC__REJECT_MAP(X)
#undef X
      CRPC__REJECT_COUNT
} crpc__reject;

struct crpc_server {
  crpc_server_opts opts;   /* defaults filled in */
  crpc__h2limits h2limits; /* what its connections allow, from |opts| */
  crpc_pool *pool;
  crpc__sloop *loops;
  unsigned n_loops;
  crpc_service *services;
  crpc__ichain chain;  /* crpc_server_add_interceptor(), for every service */
  int access_log_on;   /* its interceptor is first in |chain| */
  int reflection_on;   /* crpc_server_enable_reflection() added its services */
  crpc__route *routes; /* open addressing, |route_cap| slots */
  size_t route_cap;
  crpc__acceptor *listeners;
  size_t n_listeners;
  crpc__health *health;
  crpc_module *modules; /* loaded modules (module.c), in load order */
  struct crpc__watchdog *watchdog; /* sees its loops stall (once started) */
  unsigned app_closing; /* on an application loop: handles still closing */
  atomic_uint_fast64_t stalled_calls, held_calls;    /* crpc_server_stats */
  atomic_uint_fast64_t parked_calls;                 /* crpc_server_stats */
  atomic_uint_fast64_t refused_conns;                /* crpc_server_stats */
  atomic_uint_fast64_t rejected[CRPC__REJECT_COUNT]; /* by crpc__reject */
  /* Metrics (metrics.c): the registry whose interceptor runs first on
   * every call, made by metrics_listen or crpc_server_metrics() before the
   * start (NULL: none, and nothing installed), and the HTTP endpoint of
   * metrics_listen (a copy of it), open once started. */
  crpc_metrics *metrics;
  char *metrics_listen;
  crpc__metrics_http *metrics_http;
  /* Accepted connections not yet closed, over all loops (listener.c
   * counts them in, the connection's close out). */
  atomic_uint open_conns;
  atomic_uint next_loop; /* round robin for accepted connections */
  int started;
  int shutdown_started;
  int lame_duck; /* in the lame-duck period (under |mu|) */
  /* Guards |loops_drained| and |shutdown_f|. Lock order: a leaf (the
   * shutdown future completes after it is released). */
  uv_mutex_t mu;
  unsigned loops_drained;
  crpc_future *shutdown_f;
  char err[512]; /* the last failure's message */
};

/* Response headers and trailers, status and body, as the handler sets
 * them; read by the loop once the handler has finished or written. */
struct crpc_ctx {
  crpc__server_call *call;
};

typedef enum {
  CRPC__SERVER_CALL_HEADERS = 0, /* receiving request headers */
  CRPC__SERVER_CALL_WAITING, /* headers done, waiting for the unary request */
  CRPC__SERVER_CALL_RUNNING, /* the handler runs */
  CRPC__SERVER_CALL_DONE     /* the handler returned (or never will run) */
} crpc__server_call_state;

struct crpc__server_call {
  crpc_ctx ctx; /* handed to the handler */
  atomic_int refs;
  crpc__server_conn *conn; /* holds a reference on the connection */
  crpc__sloop *sl;
  int32_t stream_id;
  crpc__server_call_state state;

  /* Request headers (loop thread). */
  const crpc__route *route;
  crpc__grpc_request req; /* what they said */
  crpc_deadline deadline;
  const char *peer;                /* its connection's h2.name */
  const crpc_peer_auth *peer_auth; /* its connection's */

  /* Request messages (loop thread, then shared under |mu|). */
  crpc__frame_decoder dec;
  int remote_closed;             /* END_STREAM received */
  size_t n_received;             /* messages received */
  crpc__cmsg *in_head, *in_tail; /* received, not yet read (streaming) */
  size_t in_bytes;               /* bytes of queued messages */
  size_t unconsumed; /* DATA bytes not yet given back to the window */

  /* The handler's world (handler thread). */
  crpc__arena arena;
  ProtobufCAllocator alloc;
  ProtobufCMessage *request;
  ProtobufCMessage *reply;
  /* The message a streaming handler read last, unpacked here; the next
   * read resets it (keeping its largest block for the next message), the
   * handler's return frees it. */
  crpc__arena read_arena;
  ProtobufCAllocator read_alloc;
  int req_compressed; /* the last request message was compressed */
  int msg_identity;   /* send the next messages uncompressed */
  crpc__buf scratch;  /* decompression */
  crpc__job job;
  crpc_status handler_status;

  /* Shared between the handler and the loop, once a worker runs the
   * handler (|shared|): crpc__server_call_lock() takes |mu| only then,
   * since everything else about a call, a coroutine handler included,
   * runs on the loop's thread. Lock order: a leaf (futures are completed
   * and kicks posted after it is released). */
  uv_mutex_t mu;
  int shared; /* set on the loop thread before a worker can see the call */
  int headers_frozen; /* the handler can no longer add headers */
  crpc_metadata resp_headers;
  crpc_metadata resp_trailers;
  crpc__encoding resp_enc;
  char *status_message;
  uint8_t *status_details;
  size_t status_details_len;
  /* Framed response messages not yet sent, all counted in its
   * connection's out_bytes (crpc__server_call_queue_locked()). Its spare
   * is the memory the last message sent was in, for the next one: a
   * stream of large messages allocates nothing once warm, where a fresh
   * buffer each time has glibc map and unmap it. */
  crpc__outq out;
  /* While pooled: the bytes of its output buffer and arena spare, counted
   * in its loop's |free_bytes|. */
  size_t pooled_bytes;
  int status_set; /* the final status is set */
  crpc_status final_status;
  char *final_message;     /* overrides |status_message| when set */
  atomic_int cancelled;    /* 0, or CANCELLED / DEADLINE_EXCEEDED */
  crpc_future *cancel_f;   /* completes when cancelled */
  crpc_future *read_wait;  /* a reader waiting for a message */
  crpc_future *write_wait; /* a writer waiting for room */
  crpc__kick kick;         /* posted by the handler's thread */

  /* Response progress (loop thread). */
  int response_started; /* headers (or trailers-only) submitted */
  int deferred;         /* the data provider is paused */
  int trailers_submitted;
  int stream_closed;          /* nghttp2 closed the stream */
  crpc__timer deadline_timer; /* in its loop's |deadlines| */

  /* Stall detection (crpc__server_call_stalled): when the stream last moved
   * (loop thread) and when the handler began to wait (under |mu|), in
   * crpc_now_ns() time. */
  int64_t progress_ns;
  int64_t wait_since_ns;

  /* Interceptors (dispatch.c): the call as they see it, in the arena,
   * when its service has any (NULL otherwise), and its trace context (in
   * |ic|, or alone in the arena when the request named a trace; NULL when
   * neither). What end reports: when the headers arrived (with |ic|), the
   * DATA bytes received (loop thread), the messages and bytes the handler
   * sent (under |mu|), and whether end ran (loop thread). */
  crpc_icall *ic;
  crpc_trace_context *trace;
  int64_t start_ns;
  uint64_t bytes_in;
  uint64_t msgs_out, bytes_out;
  int handler_done;
  int ended;

  crpc__server_call *next_in_conn, *prev_in_conn;
  /* Waiting for its connection's worker share, or parked: its handler
   * waits to start until the connection's output drains (loop thread). */
  crpc__server_call *next_held;
  int parked;
  int park_asked;             /* by job_work(), which did not run the handler */
  atomic_int handler_started; /* run_handler() began (any thread) */
};

/* An accepted connection: the HTTP/2 core and the server's part. */
struct crpc__server_conn {
  crpc__h2conn h2; /* its data is this connection; h2.name is the peer */
  crpc__sloop *sl;
  const crpc__acceptor *acceptor; /* that accepted it */
  /* Whether its peer may call (the acceptor's client names), decided at
   * its first call; |refusal| is the status message of its calls (NULL
   * when memory ran out for it). */
  int peer_checked;
  int refused;
  char *refusal;
  crpc__server_conn *next, *prev; /* in the loop's list */
  crpc__server_call *calls;
  size_t n_calls;
  /* Its calls on the worker pool, and those waiting for their share
   * (max_worker_calls_per_connection), linked by |next_held|. */
  unsigned worker_calls;
  crpc__server_call *held_head, *held_tail;
  /* Bytes of response messages its calls hold that the client has not
   * taken (any thread). Past the server's max_send_buffer_bytes, handlers
   * about to start are parked, linked by |next_held|, until it drains to
   * half of that: a client that asks much and reads nothing holds a
   * bounded amount of the server's memory. */
  atomic_size_t out_bytes;
  crpc__server_call *parked_head, *parked_tail;
  int goaway_sent;
  int final_goaway;
  uint64_t accepted_ms;   /* uv_now() when accepted */
  uint64_t idle_since_ms; /* uv_now() when its last call ended */
  /* max_connection_age_ms: when it is sent GOAWAY (0: never), and when
   * that happened (0: not yet). */
  uint64_t age_limit_ms, aged_ms;
  uint64_t ka_ping_ms; /* keepalive: uv_now() + 1 of the unanswered PING */
  /* The client's PINGs, as gRPC's keepalive enforcement counts them:
   * uv_now() + 1 of the last, and the strikes since the server last sent
   * HEADERS or DATA. */
  uint64_t ping_recv_ms;
  unsigned ping_strikes;
};

/* Keepalive and connection age (conn.c), from the loop's sweep: PINGs
 * an idle client, closes a connection whose PING went unanswered, and
 * ages it out (GOAWAY, then the close after the grace). Returns whether
 * |c| is being closed. Loop thread. */
int crpc__server_conn_sweep(crpc__server_conn *c, uint64_t now);

/* Connections (conn.c). */
/* Adopts the socket |fd| (TCP or unix) that |l| accepted on |sl|'s loop
 * thread. */
void crpc__server_conn_accept(crpc__sloop *sl, uv_os_sock_t fd,
                              const crpc__acceptor *l);
/* The PERMISSION_DENIED message for calls on |c| when its client
 * certificate carries none of its acceptor's client names, or NULL when
 * they may go on. Decided once per connection, at its first call, and the
 * refusal logged then at warning level. Loop thread. */
const char *crpc__server_conn_refusal(crpc__server_conn *c);
/* Queues |c| for the end-of-iteration flush. Loop thread. */
void crpc__server_conn_mark_dirty(crpc__server_conn *c);
/* Starts a graceful close of |c|: GOAWAY now, final GOAWAY later. */
void crpc__server_conn_shutdown_notice(crpc__server_conn *c);
void crpc__server_conn_final_goaway(crpc__server_conn *c);
void crpc__server_conn_unref(crpc__server_conn *c);

/* Calls (call.c). */
/* The nghttp2 callbacks' entry points for a stream's call. Loop thread. */
crpc__server_call *crpc__server_call_new(crpc__server_conn *c,
                                         int32_t stream_id);
int crpc__server_call_on_header(crpc__server_call *call, const uint8_t *name,
                                size_t nlen, const uint8_t *value, size_t vlen);
void crpc__server_call_on_headers_done(crpc__server_call *call);
void crpc__server_call_on_data(crpc__server_call *call, const uint8_t *p,
                               size_t n);
void crpc__server_call_on_remote_close(crpc__server_call *call);
void crpc__server_call_on_stream_close(crpc__server_call *call,
                                       uint32_t error_code);
void crpc__server_call_on_frame_sent(crpc__server_call *call, int end_stream);
/* The response body for the connection core (crpc__h2conn_role's
 * read_body, send_data and body_ready): the call's queued output, then
 * the trailers. Loop thread. */
ssize_t crpc__server_call_read_body(void *call, size_t len, uint32_t *flags);
size_t crpc__server_call_body_ready(void *call);
int crpc__server_call_send_data(void *call, crpc__h2io_out *out,
                                const nghttp2_frame *frame,
                                const uint8_t *framehd, size_t length);
/* Moves the response along after the handler wrote or finished, or gives
 * the flow-control window back after it read: directly on the loop
 * thread, else as the call's posted |kick| task. Thread: any. */
void crpc__server_call_kick(crpc__server_call *call);
/* Ends the call with |code| and |msg|: the final status unless one is
 * set, the handler cancelled, the status sent. Thread: any (the handler's,
 * for a request message it cannot decode). */
void crpc__server_call_end(crpc__server_call *call, crpc_status code,
                           const char *msg);
/* The encoding of the next response message: the call's, unless the
 * handler asked for plain messages (ctx.c). Thread: the handler's. */
crpc__encoding
crpc__server_call_message_encoding(const crpc__server_call *call);
/* The status, and in |*text| the client's message, for a response message
 * |msg| that crpc__frame_encode_compressed() refused with |rc|; a message
 * protobuf-c cannot pack is logged at warning level with the method and
 * the field at fault. Thread: the handler's. */
crpc_status crpc__server_call_encode_status(crpc__server_call *call,
                                            const ProtobufCMessage *msg, int rc,
                                            const char **text);
/* The status and message for crpc__frame_unpack()'s error |rc|. */
crpc_status crpc__server_call_unpack_status(int rc, const char **msg);
/* Cancels a call still running at the end of the drain time. */
void crpc__server_call_abort(crpc__server_call *call, crpc_status code,
                             const char *msg);
/* Cancels |call| (CANCELLED to the handler, RST_STREAM(CANCEL) to the
 * peer) when its handler waits to read or write and the stream has not
 * moved for |limit_ns|. Returns whether it did. Loop thread. */
int crpc__server_call_cancel_if_stalled(crpc__server_call *call, int64_t now_ns,
                                        int64_t limit_ns);
void crpc__server_call_ref(crpc__server_call *call);
void crpc__server_call_unref(crpc__server_call *call);
/* |call|'s |mu|, taken only when a worker may run its handler. Thread:
 * any that may touch the call. */
static inline void crpc__server_call_lock(crpc__server_call *call) {
  if (call->shared)
    uv_mutex_lock(&call->mu);
}
static inline void crpc__server_call_unlock(crpc__server_call *call) {
  if (call->shared)
    uv_mutex_unlock(&call->mu);
}
/* Sets the final status unless one is set (|msg| copied; NULL keeps the
 * handler's message). Returns 1 when it set it. _locked: with |mu| held.
 * Thread: any. */
int crpc__server_call_set_status(crpc__server_call *call, crpc_status code,
                                 const char *msg);
int crpc__server_call_set_status_locked(crpc__server_call *call,
                                        crpc_status code, const char *msg);

/* Queues the framed messages in |b| behind the call's output, without
 * copying them when they are CRPC__H2IO_OWNED_MIN bytes or more or
 * nothing is queued: the call then takes |b|'s memory, and |b| is left
 * with memory to reuse or none. Its connection's |out_bytes| follows.
 * Returns 0, or CRPC_ENOMEM (nothing queued). Thread: any, with |mu|
 * held. */
int crpc__server_call_queue_locked(crpc__server_call *call, crpc__buf *b);
/* Drops what the call's output still holds (the call is done), keeping
 * up to |keep| bytes of its memory (crpc__outq_keep()); returns the bytes
 * kept. */
size_t crpc__server_call_drop_output(crpc__server_call *call, size_t keep);

/* Dispatch (dispatch.c). */
/* Runs the handler of a call whose request headers (and, for a single
 * request, its message) have arrived, where its method is placed. Loop
 * thread. */
void crpc__server_call_dispatch(crpc__server_call *call);
/* Starts the parked handlers of |c| once its output has drained to half
 * of max_send_buffer_bytes, and ends those of cancelled calls. Loop
 * thread. */
void crpc__server_conn_unpark(crpc__server_conn *c);
/* Takes |call| off its connection's parked list and ends it without
 * running its handler (its stream is gone). Loop thread. */
void crpc__server_call_drop_parked(crpc__server_call *call);
/* Runs the interceptors' end hooks once the call's handler has returned
 * and its stream has closed, whichever comes last; once. Loop thread. */
void crpc__server_call_report_end(crpc__server_call *call);

/* The call pool (call_pool.c). */
/* A pooled call is poisoned for AddressSanitizer while it waits: what
 * reads it there unpoisons it first. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define CRPC__POOL_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define CRPC__POOL_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define CRPC__POOL_POISON(p, n) ((void)(p), (void)(n))
#define CRPC__POOL_UNPOISON(p, n) ((void)(p), (void)(n))
#endif
/* A zeroed call, from |sl|'s pool when it has one (|*reused| is then 1:
 * its arena, output buffer and metadata arrays are kept, empty, and its
 * cancellation future, pending). NULL when memory ran out. Loop thread. */
crpc__server_call *crpc__server_call_take(crpc__sloop *sl, int *reused);
/* Frees the pooled calls beyond what the peak since the last trim left
 * unused, or all of them with |all|; returns how many. Loop thread, or any
 * once the loop has stopped. */
size_t crpc__server_call_pool_trim(crpc__sloop *sl, int all);

/* Server loops (sloop.c). */
/* Makes |sl| the |index|th loop of |srv|: the server's own loop or the
 * application's (opts.loop), and its memory; no handle yet. Returns 0 or
 * an error, and then |sl| holds nothing. Thread: any (before start). */
int crpc__sloop_init(crpc__sloop *sl, crpc_server *srv, unsigned index);
/* Frees what crpc__sloop_init() made; its handles are closed. */
void crpc__sloop_cleanup(crpc__sloop *sl);
/* Opens its handles (nothing can fail), and closes them with |cb|:
 * returns how many will call |cb| (0 when none were open). */
void crpc__sloop_open_handles(crpc__sloop *sl);
unsigned crpc__sloop_close_handles(crpc__sloop *sl, uv_close_cb cb);
/* Starts the flush and the sweep. Thread: any, before the loop runs. */
void crpc__sloop_start(crpc__sloop *sl);
/* Starts the loop's part of the shutdown on its thread. Thread: any. */
void crpc__sloop_post_shutdown(crpc__sloop *sl);
/* Has the first loop end the lame-duck period after the server's
 * lame_duck_ms (crpc__server_end_lame_duck()). Thread: any. */
void crpc__sloop_post_lame_duck(crpc__sloop *sl);
/* Ends the lame-duck period, if it has not ended: the drain begins.
 * Thread: any. */
void crpc__server_end_lame_duck(crpc_server *srv);
/* Closes connections that have not finished their TLS and HTTP/2
 * handshakes within the handshake timeout. Loop thread. */
void crpc__sloop_sweep(crpc__sloop *sl);

/* The access log (access_log.c): puts its interceptor first in the
 * server's chain when the options ask for one. Returns 0 or CRPC_ENOMEM.
 * Thread: the one starting the server. */
int crpc__access_log_install(crpc_server *srv);

/* Routing (server.c). NULL when |path| is no method's. */
const crpc__route *crpc__server_route(const crpc_server *srv, const char *path,
                                      size_t len);
/* A shutting-down loop reports that its last connection closed. */
void crpc__server_loop_drained(crpc_server *srv);
/* A connection of |sl| closed (its socket; calls may still hold it), or a
 * handler returned: the loop may have drained. Loop thread. */
void crpc__sloop_check_drained(crpc__sloop *sl);

/* Counts a call refused or cut short for |why|. Thread: any. */
void crpc__server_count_rejected(crpc_server *srv, crpc__reject why);

/* Metrics (metrics.c). */
/* Makes the registry of metrics_listen, if set. Returns 0 or CRPC_ENOMEM.
 * Thread: the one making the server. */
int crpc__server_metrics_init(crpc_server *srv);
/* Makes |out| the interceptors of every call the server handles, before
 * its services' own: the metrics' first (it times the others and sees
 * the status they end a call with), then those added to the server.
 * Returns 0 or CRPC_ENOMEM. */
int crpc__server_metrics_chain(crpc_server *srv, crpc__ichain *out);
/* Opens the endpoint of metrics_listen on the first loop, unless it is
 * open. Returns 0, or an error with its reason in the server's error
 * buffer. Thread: the one starting the server, before the loops run. */
int crpc__server_metrics_start(crpc_server *srv);
/* Closes the endpoint: returns how many handles will run |closed(arg)|
 * as they close (NULL: none to tell). Thread: the first loop's, or any
 * once the loops have stopped. */
unsigned crpc__server_metrics_close(crpc_server *srv, void (*closed)(void *arg),
                                    void *arg);
/* Closes the endpoint on the first loop, which runs, and waits until it
 * has: the page reads the watchdog, which the server frees next.
 * Thread: any but the server's. */
void crpc__server_metrics_stop(crpc_server *srv);
/* Frees the registry and the endpoint, once closed. */
void crpc__server_metrics_free(crpc_server *srv);

/* Listeners (listener.c). */
int crpc__acceptor_open(crpc_server *srv, crpc__acceptor *l);
/*
 * Binds |tcp| to |addr| ("host:port", "[v6]:port"; port 0: any) on |uv|
 * and listens with |cb|; |*port| is then the bound port and |*shown| the
 * bound address as logged ("127.0.0.1:40123"; the caller frees it).
 * |*inited| says whether |tcp| was initialized, and so must be closed,
 * also after a failure. Returns 0, or CRPC_EINVAL, CRPC_ENOMEM or a libuv
 * error with a one-line reason in |err|. Thread: |uv|'s, or any before it
 * runs.
 */
int crpc__listen_tcp(uv_loop_t *uv, const char *addr, uv_tcp_t *tcp,
                     uv_connection_cb cb, int *inited, int *port, char **shown,
                     char *err, size_t cap);
void crpc__acceptor_close(crpc__acceptor *l);

#endif /* CRPC_SERVER_INTERNAL_H */
