/*
 * crpc/call.h: calls on a channel.
 *
 * The generated stubs (protoc-gen-crpc) wrap these untyped calls in typed
 * functions per method; applications normally use the stubs. A blocking
 * call made inside a coroutine suspends the coroutine instead of blocking
 * its loop, and inside a server handler the handler's deadline and
 * cancellation pass to the call unless the options say otherwise.
 */
#ifndef CRPC_CALL_H
#define CRPC_CALL_H

#include "crpc/channel.h"
#include "crpc/deadline.h"
#include "crpc/future.h"
#include "crpc/metadata.h"
#include "crpc/method.h"
#include "crpc/status.h"

CRPC_BEGIN_DECLS

/* A cancellation handle: triggering it cancels every call it was given to,
 * blocking or not. */
typedef struct crpc_cancel crpc_cancel;

/* Creates an untriggered handle; the caller frees it with
 * crpc_cancel_free(). Thread: any. Returns 0, or CRPC_ENOMEM and then
 * |*out| is untouched. */
CRPC_EXTERN int crpc_cancel_new(crpc_cancel **out);

/* Cancels the calls using |c|, now and later. Thread: any. */
CRPC_EXTERN void crpc_cancel_trigger(crpc_cancel *c);

/* Drops the caller's reference to |c|; calls still using it keep their
 * own. NULL is a no-op. Thread: any. */
CRPC_EXTERN void crpc_cancel_free(crpc_cancel *c);

/*
 * Per-call options; a zeroed struct (or NULL) means: no deadline, no
 * metadata, no compression, fail fast, propagate from the enclosing
 * handler. Inputs are read before the call function returns: |metadata|
 * is copied, |compression| looked up, and |cancel| referenced by the call
 * (the caller may crpc_cancel_free() its own reference at once). The
 * outputs are the exception: see below.
 */
typedef struct crpc_call_opts {
  int64_t timeout_ms;            /* >0: the deadline is this far from now */
  crpc_deadline deadline;        /* >0: absolute deadline (the earlier wins) */
  const crpc_metadata *metadata; /* initial metadata to send */
  const char *compression; /* "gzip" compresses requests; NULL: identity */
  int wait_for_ready;      /* wait for a connection instead of failing */
  crpc_cancel *cancel;     /* cancels the call when triggered */
  int no_propagation;      /* do not inherit the handler's deadline/cancel */
  /* Retries: a call ending UNAVAILABLE before any response message reached
   * the caller is tried again, up to |max_attempts| attempts in all (0 or
   * 1: no retry; at most 5), waiting |retry_backoff_ms| (0: 100 ms) times
   * 1.6 per retry, with jitter, within the call's deadline. Only unary and
   * server-streaming calls, whose request is known in full, retry.
   * A call refused before the server saw it (GOAWAY, REFUSED_STREAM) is
   * retried once regardless, as gRPC's transparent retry does. */
  unsigned max_attempts;
  uint32_t retry_backoff_ms;
  /* Credentials for this call, after the channel's (crpc/channel.h);
   * read before the call function returns. NULL: none. */
  const crpc_call_credentials *credentials;
  /* Outputs, filled when non-NULL (initialized by the caller): response
   * headers, trailers, and the full status (message and details). A
   * blocking unary call fills them before it returns; a streaming call
   * (crpc_call_start(), and so the generated readers, writers and
   * streams) fills them when it finishes, so they must stay valid until
   * then. _async unary calls ignore them: read crpc_call_status_info()
   * and friends from the future. */
  crpc_metadata *headers_out;
  crpc_metadata *trailers_out;
  crpc_status_info *status_out;
} crpc_call_opts;

/*
 * Makes a unary call and waits for it (suspending in a coroutine).
 * On OK, |*reply| gets the reply, unpacked with protobuf-c's default
 * allocator: the caller frees it with protobuf_c_message_free_unpacked()
 * (or the generated __free_unpacked helper). On failure |*reply| is NULL;
 * message, details and trailers go to |opts|' outputs.
 * Ownership: |req| is serialized before return; the caller keeps it.
 * Thread: any but a loop thread outside a coroutine (which gets
 * UNAVAILABLE with a message saying so, rather than a stalled loop).
 */
CRPC_EXTERN crpc_status crpc_call_unary(crpc_channel *ch,
                                        const crpc_method *method,
                                        const ProtobufCMessage *req,
                                        ProtobufCMessage **reply,
                                        const crpc_call_opts *opts);

/*
 * Starts a unary call and returns its future (one reference, the
 * caller's, dropped with crpc_future_unref()). Cancelling the future
 * cancels the call (RST_STREAM) and completes it with CANCELLED. Read the
 * outcome with crpc_call_result().
 * Ownership: |req| is serialized (copied) before return: the caller may
 * change or free it at once, before the call is even sent. |opts| as
 * crpc_call_opts says; its outputs are ignored.
 * A call that cannot start (a request protobuf-c cannot pack, one over
 * the send limit, a closed channel) gives a future already completed with
 * that status and a message saying why.
 * Thread: any. Returns NULL only when out of memory.
 */
CRPC_EXTERN crpc_future *crpc_call_unary_async(crpc_channel *ch,
                                               const crpc_method *method,
                                               const ProtobufCMessage *req,
                                               const crpc_call_opts *opts);

/*
 * The outcome of a finished call future: its status code, and on OK the
 * reply (ownership moves to the caller, once, who frees it as
 * crpc_call_unary()'s; later calls give NULL). A future that is not done
 * yet is waited for first (suspending in a coroutine). |f| stays the
 * caller's. Thread: any; on a loop thread outside a coroutine, where it
 * cannot wait, a future not yet done is cancelled and the result is
 * UNAVAILABLE.
 */
CRPC_EXTERN crpc_status crpc_call_result(crpc_future *f,
                                         ProtobufCMessage **reply);

/* The full status, response headers and trailers of a finished call
 * future, borrowed for as long as the future lives; NULL while pending or
 * for futures that are not calls. Thread: any. */
CRPC_EXTERN const crpc_status_info *crpc_call_status_info(crpc_future *f);
CRPC_EXTERN const crpc_metadata *crpc_call_headers(crpc_future *f);
CRPC_EXTERN const crpc_metadata *crpc_call_trailers(crpc_future *f);

/* 1 when the reply of a finished unary or client-streaming call future
 * arrived compressed on the wire, 0 when it came plain or there is none,
 * -1 while pending or for futures that are not calls. Thread: any. */
CRPC_EXTERN int crpc_call_reply_compressed(crpc_future *f);

/* A streaming call, client side. */
typedef struct crpc_call crpc_call;

/*
 * Starts a streaming call. For server streaming, |req| is the single
 * request (sent and half-closed at once); for client and bidirectional
 * streaming it must be NULL. The call connects in the background; failures
 * surface from read, write and finish.
 * Ownership: |req| is serialized before return; the caller keeps it.
 * |*out| is the caller's, freed with crpc_call_free(); |opts|' outputs
 * must outlive the call (see crpc_call_opts).
 * Thread: any. Returns OK and sets |*out|, or INVALID_ARGUMENT /
 * RESOURCE_EXHAUSTED / INTERNAL (a request protobuf-c cannot pack)
 * without a call.
 */
CRPC_EXTERN crpc_status crpc_call_start(crpc_channel *ch,
                                        const crpc_method *method,
                                        const ProtobufCMessage *req,
                                        const crpc_call_opts *opts,
                                        crpc_call **out);

/*
 * Reads the next message. Returns OK with |*msg| set (caller frees it as a
 * unary reply), OK with |*msg| NULL at the clean end of the stream, or the
 * call's failure status. Thread: any; one reader at a time.
 */
CRPC_EXTERN crpc_status crpc_call_read(crpc_call *call, ProtobufCMessage **msg);

/* As crpc_call_read(), as a future (one reference, the caller's); take
 * its message with crpc_call_read_result(), which moves it to the caller
 * as crpc_call_read() does. Thread: any. NULL only when out of memory. */
CRPC_EXTERN crpc_future *crpc_call_read_async(crpc_call *call);
CRPC_EXTERN crpc_status crpc_call_read_result(crpc_future *f,
                                              ProtobufCMessage **msg);

/*
 * Sends one message, waiting while HTTP/2 flow control holds it back.
 * The _async variant returns a future (one reference, the caller's) that
 * completes when the message is handed to HTTP/2.
 * Ownership: |msg| is serialized before return, in both variants; the
 * caller keeps it.
 * Thread: any; one writer at a time. Returns OK, or the call's failure
 * (INTERNAL, naming the field, for a message protobuf-c cannot pack).
 */
CRPC_EXTERN crpc_status crpc_call_write(crpc_call *call,
                                        const ProtobufCMessage *msg);
CRPC_EXTERN crpc_future *crpc_call_write_async(crpc_call *call,
                                               const ProtobufCMessage *msg);

/* Half-closes the sending side: no more messages. The _async variant's
 * future is the caller's. Thread: any. */
CRPC_EXTERN crpc_status crpc_call_close_send(crpc_call *call);
CRPC_EXTERN crpc_future *crpc_call_close_send_async(crpc_call *call);

/*
 * Half-closes if needed and waits for the call's end. For client streaming
 * |*reply| gets the single reply, the caller's to free as a unary reply
 * (|reply| may be NULL for other kinds, which must have read their stream
 * to the end). Thread: any but a loop thread outside a coroutine.
 */
CRPC_EXTERN crpc_status crpc_call_finish(crpc_call *call,
                                         ProtobufCMessage **reply);

/* As crpc_call_finish(), as a future (the caller's) read with
 * crpc_call_result(). Thread: any. */
CRPC_EXTERN crpc_future *crpc_call_finish_async(crpc_call *call);

/* Cancels the call (RST_STREAM); pending operations end CANCELLED. The
 * handle stays the caller's to free. Thread: any. */
CRPC_EXTERN void crpc_call_cancel(crpc_call *call);

/* The headers, trailers and status once known (NULL before); borrowed
 * from |call|, valid until crpc_call_free(). Thread: any, once the read,
 * finish or future that made them known has returned. */
CRPC_EXTERN const crpc_metadata *crpc_call_response_headers(crpc_call *call);
CRPC_EXTERN const crpc_metadata *crpc_call_response_trailers(crpc_call *call);
CRPC_EXTERN const crpc_status_info *crpc_call_final_status(crpc_call *call);

/* Frees the call, cancelling it if it has not finished. NULL is a no-op.
 * Thread: any. */
CRPC_EXTERN void crpc_call_free(crpc_call *call);

CRPC_END_DECLS

#endif /* CRPC_CALL_H */
