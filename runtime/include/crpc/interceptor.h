/*
 * crpc/interceptor.h: code that runs around every call, on the server and
 * on channels: to reject calls, to add or change metadata, to count and
 * time calls, to log them, to carry and export trace context.
 *
 * An interceptor is a table of hooks and the data they share. Installed
 * on a server (crpc_server_add_interceptor(): every service), on one
 * service (crpc_service_add_interceptor()), from a crpc-server module
 * (crpc_module_add_interceptor()) or on a channel (crpc_channel_opts),
 * it sees each call of theirs:
 *
 *   start    once, before the call proceeds: on the server before the
 *            handler runs, on the thread that runs it (a worker, or the
 *            loop for a coroutine handler); on a channel on the thread
 *            that makes the call, before it is sent. It may read the
 *            method, peer, deadline and metadata, change the request
 *            metadata, add response metadata (server: through
 *            crpc_icall_ctx()), read and set the trace context, and
 *            reject the call by returning a status other than OK.
 *   message  for each message of a call's streaming side(s), as the
 *            application reads or writes it (crpc_server_stream_read(),
 *            crpc_call_write(), ...), on that thread, with the message and
 *            its size on the wire. A unary request or reply is not passed
 *            here; end counts it.
 *   end      once, when the call is over: on the server once its handler
 *            has returned and its stream is closed, on the connection's
 *            loop thread; on a channel once the call's status is known, on
 *            the channel's loop thread. It sees the final status, the
 *            messages and bytes each way and the duration.
 *
 * Order: a call's interceptors run in the order they were added, the
 * server's before its service's (and crpc_server_opts.access_log's before
 * those); start goes down that chain, end comes back up it (last started,
 * first ended), like nested calls. The hooks of one call never run at the
 * same time as each other (a stream read on one thread and written on
 * another takes turns), each sees what the hooks before it did, and none
 * runs after end (a message the application reads after the call ended
 * is not passed). The hooks of different calls run concurrently, on any
 * of the threads above, so data shared between calls needs its own
 * synchronization.
 *
 * Failure: a start that returns a status other than OK ends the call with
 * it, with the message set by crpc_icall_set_message() (or "rejected by an
 * interceptor"): the handler does not run (the server answers with that
 * status) or the call is not sent (the caller gets it). The interceptors
 * after it are skipped; those before it, and itself, see end with that
 * status. A start that returns a value that is no gRPC status is logged
 * and the call ends UNKNOWN. Hooks must not block (on the loop they hold
 * every call of the loop's connections) and must not make calls of their
 * own on the thread that runs them.
 *
 * Cost: with no interceptor installed, a call does one pointer test.
 */
#ifndef CRPC_INTERCEPTOR_H
#define CRPC_INTERCEPTOR_H

#include <protobuf-c/protobuf-c.h>

#include "crpc/deadline.h"
#include "crpc/metadata.h"
#include "crpc/method.h"
#include "crpc/status.h"
#include "crpc/trace.h"

CRPC_BEGIN_DECLS

/* A call as its interceptors see it; valid from start to the end of end.
 */
typedef struct crpc_icall crpc_icall;

typedef enum {
  CRPC_SIDE_CLIENT = 0, /* a call made on a channel */
  CRPC_SIDE_SERVER = 1  /* a call a server handles */
} crpc_side;

/* What end sees of a finished call. */
typedef struct crpc_icall_end {
  crpc_status code;    /* the final status */
  const char *message; /* its message, or NULL */
  /* From the arrival of the request headers (server) or the call's start
   * (client) to its end. */
  int64_t duration_ns;
  /* Messages and their bytes on the wire (gRPC's 5-byte prefix included,
   * compressed as they travelled), each way. */
  uint64_t messages_received, messages_sent;
  uint64_t bytes_received, bytes_sent;
} crpc_icall_end;

typedef struct crpc_interceptor {
  /* Handed to every hook as |data|; the interceptor's own. */
  void *data;
  /* Bytes of per-call state crpc keeps for the interceptor, zeroed and
   * aligned for any type, handed to every hook of a call as |state| (NULL
   * when 0); freed after end. */
  size_t state_size;
  /* Each hook may be NULL. */
  crpc_status (*start)(void *data, crpc_icall *call, void *state);
  void (*message)(void *data, crpc_icall *call, void *state, int sent,
                  const ProtobufCMessage *msg, size_t wire_bytes);
  void (*end)(void *data, crpc_icall *call, void *state,
              const crpc_icall_end *end);
} crpc_interceptor;

/* Which side the call is on. Thread: the hook's. */
CRPC_EXTERN crpc_side crpc_icall_side(const crpc_icall *call);

/* The method called (generated, static). Thread: the hook's. */
CRPC_EXTERN const crpc_method *crpc_icall_method(const crpc_icall *call);

/* The server: the client's address ("ipv4:127.0.0.1:51234"). A channel:
 * its target as given. Borrowed for the call's life. Thread: the hook's.
 */
CRPC_EXTERN const char *crpc_icall_peer(const crpc_icall *call);

/* The call's deadline, or CRPC_DEADLINE_INFINITE. Thread: the hook's. */
CRPC_EXTERN crpc_deadline crpc_icall_deadline(const crpc_icall *call);

/* Where the server runs the handler; CRPC_PLACEMENT_WORKER on a channel.
 * Thread: the hook's. */
CRPC_EXTERN crpc_placement crpc_icall_placement(const crpc_icall *call);

/*
 * The request metadata: as received (server) or to be sent (client),
 * reserved and HTTP/2 headers left out. start may change it with the
 * crpc/metadata.h functions: the handler sees, or the server receives,
 * the metadata as the last start left it. After start it is read-only.
 * Borrowed for the call's life. Thread: the hook's.
 */
CRPC_EXTERN crpc_metadata *crpc_icall_metadata(crpc_icall *call);

/* The response headers and trailers a channel received: in end, NULL
 * where there were none (and always NULL on the server, whose handler
 * adds them through crpc_icall_ctx()). Thread: the hook's. */
CRPC_EXTERN const crpc_metadata *
crpc_icall_response_headers(const crpc_icall *call);
CRPC_EXTERN const crpc_metadata *
crpc_icall_response_trailers(const crpc_icall *call);

/* The server: the call's crpc_ctx (crpc/ctx.h), for response metadata,
 * the peer's TLS identity and the call's arena. NULL on a channel.
 * Thread: the hook's. */
CRPC_EXTERN struct crpc_ctx *crpc_icall_ctx(crpc_icall *call);

/*
 * The call's trace context (crpc/trace.h): on the server what its
 * traceparent and tracestate said, with a new span id for the handling;
 * on a channel the call's own span, made from the enclosing handler's.
 * Not valid when the call is part of no trace. start may change it: on
 * the server the calls the handler makes follow what it leaves; on a
 * channel a change is sent (traceparent and tracestate are written again
 * after the last start). Borrowed for the call's life. Thread: the
 * hook's.
 */
CRPC_EXTERN crpc_trace_context *crpc_icall_trace(crpc_icall *call);

/* The message that goes with a status start returns (copied). Returns 0
 * or CRPC_ENOMEM. Thread: the hook's, in start. */
CRPC_EXTERN int crpc_icall_set_message(crpc_icall *call, const char *message);

CRPC_END_DECLS

#endif /* CRPC_INTERCEPTOR_H */
