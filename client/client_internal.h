/*
 * client/client_internal.h: the client's objects and how they refer to
 * each other.
 *
 *   crpc_channel ──< crpc__sub (one per resolved address)
 *        │               └── crpc__client_conn (its HTTP/2 connection, if any;
 *        │                        │       older ones drain after GOAWAY;
 *        │                        │       |more| when one is not enough)
 *        │                        └──< crpc__client_call (one stream each)
 *        └── pending: calls waiting for a ready connection
 *
 * Everything but a call's shared part lives on the channel's loop thread.
 * A call is made and used from any thread: what the user's thread and the
 * loop share is guarded by the call's |mu|, and whatever the loop must do
 * for the user (start, send more, give back window, cancel) is posted as
 * the call's |kick| task.
 */
#ifndef CRPC_CLIENT_INTERNAL_H
#define CRPC_CLIENT_INTERNAL_H

#include <stdatomic.h>

#include <nghttp2/nghttp2.h>
#include <uv.h>

#include "arena.h"
#include "buf.h"
#include "compress.h"
#include "crpc/call.h"
#include "crpc/channel.h"
#include "frame.h"
#include "future_internal.h"
#include "grpc_headers.h"
#include "h2conn.h"
#include "icall.h"
#include "loop_internal.h"
#include "msg_cache.h"
#include "outq.h"
#include "target.h"
#include "timerq.h"
#include "tls.h"

typedef struct crpc__sub crpc__sub;
typedef struct crpc__client_conn crpc__client_conn;
typedef struct crpc__client_call crpc__client_call;

/* A queue of calls, linked through their |pend_next|. */
typedef struct crpc__client_call_list {
  crpc__client_call *head, *tail;
} crpc__client_call_list;

typedef enum {
  CRPC__SUB_IDLE = 0,   /* no connection, none being made */
  CRPC__SUB_CONNECTING, /* a connection is being made */
  CRPC__SUB_READY,      /* |conn| takes calls */
  CRPC__SUB_FAILED      /* the last attempt failed; a retry is timed */
} crpc__sub_state;

/* One address of the channel and the connection to it. */
struct crpc__sub {
  crpc_channel *ch;
  crpc__addr addr;
  crpc__sub_state state;
  crpc__client_conn *conn; /* connecting or ready */
  uv_timer_t retry;        /* the next attempt, while FAILED */
  uint32_t backoff_ms;     /* the next backoff to wait */
  char error[160];         /* why the last attempt failed */
  /* Further connections, opened while every one has as many streams as
   * the server allows and calls wait (max_connections_per_address - 1 at
   * most); they take calls only while the subchannel is READY. */
  crpc__client_conn **more;
  size_t n_more;
  uint64_t more_after_ms; /* no new one before (uv_now): one just failed */
};

struct crpc_channel {
  crpc_channel_opts opts; /* strings below are the channel's copies */
  char *tls_ca_file, *tls_server_name, *tls_cert_file, *tls_key_file;
  char *user_agent;
  crpc__target target;
  char *target_text;  /* as given */
  crpc__ichain chain; /* opts.interceptors */
  crpc_loop *loop;
  int owns_loop;
  crpc__tls_ctx *tls;

  /* Loop thread only. */
  int started;          /* handles are initialized */
  int resolving;        /* a DNS lookup is under way */
  int resolved;         /* |subs| are known */
  uv_getaddrinfo_t gai; /* the lookup */
  /* The next lookup of a DNS name, and when the last one began (uv_now). */
  uv_timer_t resolve_timer;
  crpc__timerq timers; /* its calls' deadlines and retry waits */
  uint64_t resolve_started_ms;
  crpc__sub **subs; /* the current addresses' (retired ones drain apart) */
  size_t n_subs;
  size_t rr_next;                 /* round robin: where the next pick starts */
  size_t pf_index;                /* pick first: the address being tried */
  crpc__client_call_list pending; /* calls waiting for a ready connection */
  crpc__client_call *live;        /* every started, unfinished call */
  crpc_future **ready_waiters;    /* crpc_channel_connect() futures */
  size_t n_ready_waiters, cap_ready_waiters;
  char error[200];       /* why the channel is failing, for statuses */
  uv_prepare_t flush;    /* writes are batched until the loop would block */
  crpc__h2group h2;      /* its connections' flush and read buffer */
  crpc__arena scratch;   /* request headers until submitted */
  crpc__msg_cache *msgs; /* received messages' memory, for its calls */
  /* Trims |msgs| every CRPC__MSG_CACHE_SWEEP_MS while it keeps memory
   * (crpc__channel_note_large_message()). */
  uv_timer_t msgs_sweep;
  int open_handles; /* handles not yet closed after close_start */
  int closing;
  crpc_future *closed;   /* completes once every handle has closed */
  crpc__task start_task; /* the first use starts the handles */
  crpc__task close_task;
  /* crpc_channel_free() was called on the loop's own thread: the channel
   * frees itself once closed (|free_task|, see channel.c). */
  int free_when_closed;
  crpc__task free_task;
  size_t n_pending;      /* calls in |pending| */
  crpc__task retry_task; /* runs |pending| again (crpc__channel_room) */
  int retry_posted;
};

typedef enum {
  CRPC__CLIENT_CONN_CONNECTING =
      0, /* TCP (and TLS) and the server's SETTINGS */
  CRPC__CLIENT_CONN_READY,
  CRPC__CLIENT_CONN_DRAINING, /* GOAWAY received: no new streams */
  CRPC__CLIENT_CONN_CLOSED
} crpc__client_conn_state;

/* One HTTP/2 connection of a subchannel: the core and the client's part. */
struct crpc__client_conn {
  crpc__h2conn h2; /* its data is this connection; h2.name the address */
  crpc_channel *ch;
  crpc__sub *sub; /* NULL once the subchannel moved on (GOAWAY, closing) */
  int extra;      /* one of |sub->more|, not |sub->conn| */
  crpc__client_conn_state state;
  uv_connect_t creq;
  uv_timer_t timer;         /* connect timeout, then keepalive */
  crpc__client_call *calls; /* streams in flight */
  size_t n_calls;
  int ping_outstanding;
  uint64_t ping_sent_ms;
};

/* What a finished call leaves behind: the value of its future. */
typedef struct crpc__client_result {
  ProtobufCMessage *reply;
  int reply_compressed; /* the reply arrived compressed */
  crpc_status_info status;
  crpc_metadata headers;
  crpc_metadata trailers;
} crpc__client_result;

/* The value_free of call futures; tells them from others. */
void crpc__client_result_free(void *p);

struct crpc__client_call {
  atomic_int refs;
  crpc_channel *ch;
  const crpc_method *method;

  /* Fixed once made. */
  crpc_deadline deadline;
  crpc_metadata md;
  crpc__encoding enc;
  int wait_for_ready;
  unsigned max_attempts;
  uint32_t retry_backoff_ms;
  crpc_metadata *headers_out, *trailers_out;
  crpc_status_info *status_out;
  crpc__buf request; /* framed request, kept for retries (unary, server
                        streaming) */
  crpc_cancel *cancel;
  crpc_future *parent; /* the enclosing handler's cancellation */
  crpc__listener parent_l;
  crpc__client_call *cancel_next, *cancel_prev; /* in |cancel|'s list */
  int cancel_linked;
  /* Interceptors: the call as they see it (with its state after it), when
   * the channel has any; when it started (crpc_now_ns()). */
  crpc_icall *ic;
  int64_t start_ns;

  /* Loop thread only. */
  int started;
  crpc__client_conn *conn;
  int32_t stream_id;
  crpc__client_call *conn_prev, *conn_next;
  crpc__client_call *live_prev, *live_next;
  crpc__client_call *pend_next;
  int pending;
  unsigned attempt;
  int transparent_retried;
  crpc__timer timer; /* the deadline, or the wait before a retry, in its
                       channel's |timers| */
  int retry_waiting;
  crpc__frame_decoder dec;
  crpc__grpc_response resp; /* what the response said */
  size_t n_received;
  uint64_t bytes_in;     /* DATA bytes received, for the interceptors */
  crpc__cmsg *reply_msg; /* unary, client streaming: the one reply */
  int ended;             /* ended: the rest is the user's */
  size_t req_off;        /* bytes of |request| handed to nghttp2 */
  int deferred;          /* the data source is waiting for bytes */
  size_t pulled;         /* request bytes handed to nghttp2 this attempt */
  crpc__kick kick;
  int local_error; /* ending locally: the code, else 0 */
  const char *local_message;

  /* Shared under |mu|. Lock order: |mu|, then the loop's task lock
   * (crpc__client_call_kick_locked() posts under it); futures are
   * completed after it is released. A crpc_cancel's lock is released
   * before its calls' are taken. */
  uv_mutex_t mu;
  int done;
  crpc_status final_code;
  int headers_ready; /* |resp_headers| are received */
  crpc_metadata resp_headers;
  /* Framed requests written and not yet taken by nghttp2; its spare is
   * the memory the last one sent was in, for the next one. */
  crpc__outq out;
  int send_closed;
  uint64_t msgs_out, bytes_out; /* request messages written, for |ic| */
  int delivered;                /* a reply message reached the user */
  crpc__cmsg *in_head, *in_tail;
  crpc__msg_cache *msgs; /* its channel's, where its messages' memory
                          * comes from and goes back to */
  size_t in_wire;        /* DATA bytes of the messages in that queue */
  size_t held;           /* DATA bytes not given back while the queue is long */
  size_t to_consume;     /* window the reader gave back */
  crpc_future *read_f, *write_f;
  crpc_future *done_f; /* completes with the result */
  atomic_int cancel_code;
};

/* Channel (channel.c). */

/* Gives |call| a connection, or queues it until one is ready, or ends it
 * when none can be had. Thread: the channel's loop. */
void crpc__channel_dispatch(crpc_channel *ch, crpc__client_call *call);

/* One of the channel's handles (or its name lookup) has closed; the last
 * one, once the channel is closing, completes |closed|. */
void crpc__channel_handle_closed(crpc_channel *ch);

/* Takes |call| out of the channel's waiting calls, if it is there. */
void crpc__channel_unqueue(crpc_channel *ch, crpc__client_call *call);

/* How often a channel whose cache keeps memory trims it: what no message
 * took for that long goes back to malloc. */
#define CRPC__MSG_CACHE_SWEEP_MS 1000

/* A message of CRPC__MSG_CACHE_MIN bytes or more was received: the
 * channel's cache trims itself from now on, until it keeps nothing.
 * Thread: the channel's loop. */
void crpc__channel_note_large_message(crpc_channel *ch);

/* A connection has room for another stream, or one more is ready, or
 * one that was being opened failed: the waiting calls are dispatched again
 * (on a later loop turn). Thread: the channel's loop. */
void crpc__channel_room(crpc_channel *ch);

/* The subchannel's connection became ready, failed, or closed. */
void crpc__sub_on_ready(crpc__sub *sub);
void crpc__sub_on_failed(crpc__sub *sub, const char *why);
void crpc__sub_on_lost(crpc__sub *sub);

/* Connection (conn.c). */

/* Starts connecting |sub|. Returns 0 or an error (already reported). */
int crpc__client_conn_start(crpc__sub *sub);

/* Opens one more connection to |sub|'s address (|sub->more|), for calls
 * its ready ones have no streams left for. Returns 0 or an error. */
int crpc__client_conn_start_more(crpc__sub *sub);

/* Starts |call| as a new stream on |c|. Returns 0, or an error and then
 * |call| is untouched. Thread: the channel's loop. */
int crpc__client_conn_submit(crpc__client_conn *c, crpc__client_call *call);

/* Takes |call| off |c| (its stream is over or abandoned). */
void crpc__client_conn_detach(crpc__client_conn *c, crpc__client_call *call);

/* |c|'s address is gone from its name's answer: |c| leaves its
 * subchannel; one still connecting closes now, a ready one takes no new
 * calls and closes once its calls have ended (as after GOAWAY). */
void crpc__client_conn_retire(crpc__client_conn *c);

/* Closes |c| now; its calls end UNAVAILABLE with |why|. */
void crpc__client_conn_close(crpc__client_conn *c, const char *why);

/* Queues |c| for the next flush. */
void crpc__client_conn_mark_dirty(crpc__client_conn *c);

/* Call (call.c), on the channel's loop. */

/* The stream callbacks of conn.c. */
int crpc__client_call_on_header(crpc__client_call *call, int trailers,
                                const uint8_t *name, size_t namelen,
                                const uint8_t *value, size_t valuelen);
void crpc__client_call_on_headers_done(crpc__client_call *call, int end_stream);
void crpc__client_call_on_data(crpc__client_call *call, const uint8_t *p,
                               size_t n);
void crpc__client_call_on_stream_close(crpc__client_call *call,
                                       uint32_t error_code);
/* Its connection is gone: |why| says how. */
void crpc__client_call_on_conn_lost(crpc__client_call *call, const char *why);

/* The request body for the connection core (crpc__h2conn_role's
 * read_body, send_data and body_ready): read_body sets
 * NGHTTP2_DATA_FLAG_NO_COPY and leaves the bytes for send_data. */
ssize_t crpc__client_call_read_body(void *call, size_t len, uint32_t *flags);
size_t crpc__client_call_body_ready(void *call);
int crpc__client_call_send_data(void *call, crpc__h2io_out *out,
                                const nghttp2_frame *frame,
                                const uint8_t *framehd, size_t len);

/* Ends |call| with |code| and |message| (copied), unless it has ended. */
void crpc__client_call_end(crpc__client_call *call, crpc_status code,
                           const char *message);

/* A connection that cannot take |call| now, for a reason that a retry
 * may fix (GOAWAY, REFUSED_STREAM): retried or ended UNAVAILABLE. */
void crpc__client_call_refused(crpc__client_call *call, const char *why);

/* The user's thread asks the loop to act on |call|. Thread: any, with
 * |call->mu| held and the call not done. */
void crpc__client_call_kick_locked(crpc__client_call *call);

void crpc__client_call_ref(crpc__client_call *call);
void crpc__client_call_unref(crpc__client_call *call);

/* The value of a call's future, for |code| and |msg| (copied); NULL when
 * memory ran out. */
crpc__client_result *crpc__client_result_new(crpc_status code, const char *msg);

/* Room for a status message that names a message's field at fault. */
#define CRPC__CLIENT_WHY_MAX 320

/* The status, and in |*why| its message, for a request message |msg| that
 * crpc__frame_encode_compressed() refused with |rc|; |buf|
 * (CRPC__CLIENT_WHY_MAX bytes) holds the message when it names the field
 * at fault (start.c). Thread: any. */
crpc_status crpc__client_encode_status(int rc, const ProtobufCMessage *msg,
                                       char *buf, const char **why);

/* The call's kick task (crpc__kick): starts the call, then does what the
 * caller asked since (cancel, send, give back window). Loop thread. */
void crpc__client_call_kick_run(crpc__task *t);

/* The result a call's future |f| carries, or NULL for another future. */
crpc__client_result *crpc__client_result_of(crpc_future *f);

/* Arms the call's timer for |ms| from now (negative: its deadline, if
 * any). Loop thread. */
int crpc__client_call_arm_timer(crpc__client_call *call, int64_t ms);

/* Unpacks a received reply message (inflated first when compressed).
 * Returns 0 or a crpc__frame_unpack() error. Thread: any. */
int crpc__client_call_unpack(const crpc__client_call *call, const crpc__cmsg *m,
                             ProtobufCMessage **out);

/* Completes the streaming reader's future |f| with the next received
 * message, or with the call's end (stream.c). Thread: any, without
 * |call->mu|. */
void crpc__client_call_complete_read(crpc__client_call *call, crpc_future *f);

/* Retries (retry.c), on the channel's loop. */

/* The attempt ended UNAVAILABLE (|why|): another under the call's policy,
 * or the end. */
void crpc__client_call_unavailable(crpc__client_call *call, const char *why);

/* Starts the next attempt now (its backoff has passed). */
void crpc__client_call_retry(crpc__client_call *call);

/* Cancel handles (cancel.c). */
void crpc__cancel_link(crpc_cancel *c, crpc__client_call *call);
void crpc__cancel_unlink(crpc_cancel *c, crpc__client_call *call);

/* Asks the loop to end |call| with |code| (CANCELLED or DEADLINE_EXCEEDED).
 * Thread: any. */
void crpc__client_call_cancel(crpc__client_call *call, crpc_status code);

#endif /* CRPC_CLIENT_INTERNAL_H */
