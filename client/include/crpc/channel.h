/*
 * crpc/channel.h: a channel to a gRPC server.
 *
 * A channel names a target, connects lazily (or on crpc_channel_connect()),
 * reconnects with backoff, follows the DNS answer of a host name as it
 * changes, and multiplexes calls from any thread over its HTTP/2
 * connections. By default it runs its own I/O thread; it can instead
 * attach to a crpc_loop the application runs.
 */
#ifndef CRPC_CHANNEL_H
#define CRPC_CHANNEL_H

#include "crpc/common.h"
#include "crpc/future.h"
#include "crpc/interceptor.h"
#include "crpc/log.h"
#include "crpc/loop.h"
#include "crpc/metadata.h"
#include "crpc/method.h"

CRPC_BEGIN_DECLS

typedef struct crpc_channel crpc_channel;

/* crpc_channel_opts.resolve_interval_ms: no lookup on a timer. */
#define CRPC_RESOLVE_INTERVAL_OFF UINT32_MAX

typedef enum {
  CRPC_LB_PICK_FIRST = 0, /* the first address that connects */
  CRPC_LB_ROUND_ROBIN = 1 /* calls spread over every ready address */
} crpc_lb_policy;

/*
 * Call credentials: a callback that adds metadata to each call before it
 * is sent, such as "authorization: Bearer <token>". Set on a channel (every
 * call) or on one call (crpc_call_opts); a call with both runs the
 * channel's first.
 */
typedef struct crpc_call_credentials {
  /* Adds to |md|, the call's metadata so far, for a call of |method| on a
   * channel to |target|. Returns 0, or anything else to fail the call
   * UNAUTHENTICATED without sending it. Thread: the one making the call
   * (it may block there, but never on a loop thread). */
  int (*get)(void *data, const crpc_method *method, const char *target,
             crpc_metadata *md);
  void *data; /* the callback's; it must outlive the channel or the call */
  /* 0: a channel without TLS refuses to run the callback and fails the
   * call UNAUTHENTICATED, so that a token is never sent in the clear by
   * mistake. Nonzero: plaintext is fine (a loopback or unix-socket
   * peer, a TLS-terminating proxy on the same host). */
  int allow_insecure;
} crpc_call_credentials;

typedef struct crpc_channel_opts {
  /* Run on this loop (borrowed; it must outlive the channel) instead of a
   * thread of the channel's own. */
  crpc_loop *loop;
  /* TLS: all NULL means cleartext HTTP/2 with prior knowledge. */
  int tls;                     /* nonzero: TLS with ALPN h2 */
  const char *tls_ca_file;     /* NULL: the system's trust store */
  const char *tls_server_name; /* overrides the target's host for SNI and
                                  certificate checks */
  const char *tls_cert_file;   /* client certificate, for mTLS */
  const char *tls_key_file;
  crpc_lb_policy lb_policy;
  size_t max_receive_bytes; /* 0: 4 MiB */
  size_t max_send_bytes;    /* 0: 4 MiB */
  /* Keepalive: a PING every |keepalive_ms| (0: off); a connection whose
   * PING gets no answer within |keepalive_timeout_ms| (0: 20 s) is closed
   * and its calls fail UNAVAILABLE. */
  uint32_t keepalive_ms;
  uint32_t keepalive_timeout_ms;
  /* Reconnection, as gRPC's connection-backoff document: the first retry
   * after |backoff_initial_ms| (0: 1 s), each next one 1.6 times later
   * with +-20% jitter, at most |backoff_max_ms| (0: 120 s) apart; an
   * attempt gets max(|connect_timeout_ms| (0: 20 s), the backoff). */
  uint32_t backoff_initial_ms;
  uint32_t backoff_max_ms;
  uint32_t connect_timeout_ms;
  /* DNS re-resolution, for a target that names a host (not a numeric
   * address, an ipv4:/ipv6: list or unix:, which are never looked up
   * again): the name is looked up again every |resolve_interval_ms| (0:
   * 30 s; CRPC_RESOLVE_INTERVAL_OFF: never on a timer), and at once when
   * every address has failed, but no sooner than 1 s after the previous
   * lookup began. An address the answer adds gets connections; one it
   * drops takes no new calls, its calls in flight finish, and its
   * connections close once idle. Pick-first stays on its address while
   * the answer has it, else moves to the first that connects, in the
   * answer's order. A failed or empty answer keeps the addresses the
   * channel has, and is logged at warning level. */
  uint32_t resolve_interval_ms;
  const char *user_agent; /* prepended to crpc's; NULL: crpc's alone */
  crpc_logger logger;
  /* Connections to one address at most. When every connection to the
   * address has as many calls as the server lets one connection run
   * (its SETTINGS_MAX_CONCURRENT_STREAMS) and calls are waiting, the
   * channel opens another, so that a gather of many calls runs at once
   * instead of in turns. 0: 16; 1: one connection, calls past the limit
   * wait for a stream to end. */
  unsigned max_connections_per_address;
  /* Interceptors of every call on the channel, in order (crpc/
   * interceptor.h). The array is copied; what each one's |data| points to
   * must outlive the channel. */
  const crpc_interceptor *interceptors;
  size_t n_interceptors;
  /* Credentials for every call (copied); a NULL |get|: none. */
  crpc_call_credentials credentials;
  /* Memory of messages of 16 KiB and more, received and sent, that the
   * channel keeps, once its calls are done with them, for the messages
   * after them (0: 4 MiB; CRPC_MESSAGE_CACHE_OFF: none). What no message
   * took for a second goes back to malloc. Given back at once, glibc
   * returns it to the kernel whenever a free leaves 128 KiB at the top of
   * a thread's heap, and the next message faults it in again: 64 KiB
   * messages then came 7 to 10 times slower. */
  size_t message_cache_bytes;
  /* HTTP/2 flow control, what the channel lets a server send ahead: each
   * call's response stream (announced as SETTINGS_INITIAL_WINDOW_SIZE) and
   * a connection's calls together. A stream's window is given back as the
   * call's messages are read (and held while more than 1 MiB of them wait
   * unread), the connection's as data arrives. 0: 1 MiB and 16 MiB (a
   * server's streams get 4 MiB, but a client's larger window cost crpc's
   * server 23 % more CPU streaming it 64 KiB messages); at most 2^31 - 1
   * (HTTP/2's largest). */
  uint32_t stream_window_bytes;
  uint32_t connection_window_bytes;
} crpc_channel_opts;

/* Fills |opts| with the defaults. Thread: any. */
CRPC_EXTERN void crpc_channel_opts_init(crpc_channel_opts *opts);

/*
 * Creates a channel to |target|: "host:port", "dns:///host:port",
 * "ipv4:a.b.c.d:p[,a.b.c.d:p...]", "ipv6:[addr]:p[,...]" or "unix:/path".
 * Nothing connects until the first call or crpc_channel_connect().
 * Ownership: |target| and |opts| are copied.
 * Thread: any. Returns 0, or CRPC_EINVAL (a target it cannot parse),
 * CRPC_ENOMEM, or an error reading a TLS file; then |*out| is untouched.
 */
CRPC_EXTERN int crpc_channel_new(const char *target,
                                 const crpc_channel_opts *opts,
                                 crpc_channel **out);

/*
 * Closes and frees the channel: calls still running complete with
 * CANCELLED, and their futures stay valid until unreferenced. NULL is a
 * no-op.
 * Thread: any. On any thread but the channel's loop it returns once the
 * channel is closed and freed (and its own I/O thread, if it has one,
 * joined). On the channel's loop thread (a crpc_future_then()
 * continuation, a callback of the application loop it is attached to) it
 * cannot wait: it returns at once and the channel finishes closing on
 * that loop, then frees itself (its own I/O thread then ends by itself);
 * an application loop must keep running until then (uv_run() returns once
 * the channel's handles are closed). Either way |ch| must not be used once
 * this is called, and the channel logs "channel to TARGET closed" at
 * debug level when it is gone.
 */
CRPC_EXTERN void crpc_channel_free(crpc_channel *ch);

/*
 * Starts connecting if the channel is idle. The future completes with OK
 * once a connection is ready, or with UNAVAILABLE (and the reason as its
 * message) when the first attempt fails. The caller owns one reference.
 * Thread: any. Returns NULL only when out of memory.
 */
CRPC_EXTERN crpc_future *crpc_channel_connect(crpc_channel *ch);

CRPC_END_DECLS

#endif /* CRPC_CHANNEL_H */
