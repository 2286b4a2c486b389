/*
 * crpc/ctx.h: what a server handler sees of its call.
 *
 * A crpc_ctx lives for one call. It owns the call's arena: the request is
 * unpacked into it, the reply is filled from it (crpc_ctx_alloc(),
 * crpc_ctx_strdup()), and all of it is released once the response is
 * sent. Every function here is for the handler of that call, on whichever
 * thread runs it (a worker, or the loop for coroutine handlers).
 */
#ifndef CRPC_CTX_H
#define CRPC_CTX_H

#include "crpc/deadline.h"
#include "crpc/future.h"
#include "crpc/loop.h"
#include "crpc/metadata.h"
#include "crpc/method.h"
#include "crpc/peer_auth.h"

CRPC_BEGIN_DECLS

/*
 * |n| bytes from the call's arena, aligned for any type, freed with the
 * call. Returns NULL when out of memory or past the call's memory limit.
 */
CRPC_EXTERN void *crpc_ctx_alloc(crpc_ctx *ctx, size_t n);

/* A copy of |s| in the call's arena, or NULL. */
CRPC_EXTERN char *crpc_ctx_strdup(crpc_ctx *ctx, const char *s);

/* The user data given to the service's constructor. */
CRPC_EXTERN void *crpc_ctx_user_data(const crpc_ctx *ctx);

/* The method being called (static, generated). */
CRPC_EXTERN const crpc_method *crpc_ctx_method(const crpc_ctx *ctx);

/* The call's deadline from grpc-timeout; CRPC_DEADLINE_INFINITE if none. */
CRPC_EXTERN crpc_deadline crpc_ctx_deadline(const crpc_ctx *ctx);

/* Nonzero once the client cancelled or the deadline passed. */
CRPC_EXTERN int crpc_ctx_is_cancelled(const crpc_ctx *ctx);

/* A future that completes (CANCELLED or DEADLINE_EXCEEDED) when the call
 * is cancelled; borrowed, valid while the handler runs. gRPC clients reset
 * the stream when their own deadline passes, a moment before the server's:
 * a reset within 100 ms of the deadline completes it DEADLINE_EXCEEDED. A
 * call the server ends itself (an oversize or undecodable request message
 * in a stream) completes it with that status. */
CRPC_EXTERN crpc_future *crpc_ctx_cancelled(crpc_ctx *ctx);

/* The client's metadata (borrowed; reserved and HTTP/2 headers removed). */
CRPC_EXTERN const crpc_metadata *crpc_ctx_request_metadata(const crpc_ctx *ctx);

/* The peer's address, "ipv4:127.0.0.1:51234" style (borrowed). */
CRPC_EXTERN const char *crpc_ctx_peer(const crpc_ctx *ctx);

/*
 * Who the peer is, as its connection's TLS handshake established it: the
 * TLS version and ALPN protocol, and, when the client presented a
 * certificate that verified against the server's client CA file (mTLS),
 * that certificate's subject, common name and subjectAltNames (see
 * crpc/peer_auth.h). On a plaintext connection |tls| is 0. A listener
 * with client names (crpc_tls_opts) has already refused the call when the
 * certificate carries none of them, so a handler that runs has one.
 * Ownership: borrowed from the call's connection, which the call holds:
 * valid as long as |ctx| is; every call on one connection gets the same.
 * Thread: the handler's; the struct never changes, so another thread may
 * read it too while |ctx| is valid.
 * Returns the connection's peer auth, never NULL.
 */
CRPC_EXTERN const crpc_peer_auth *crpc_ctx_peer_auth(const crpc_ctx *ctx);

/* The loop that owns the call's connection. */
CRPC_EXTERN crpc_loop *crpc_ctx_loop(const crpc_ctx *ctx);

/*
 * Adds response metadata: headers go out before the first message (or
 * with a trailers-only response), trailers with the status. Same key and
 * value rules and errors as crpc_metadata_add(); CRPC_ESTATE once headers
 * (or trailers) have been sent.
 */
CRPC_EXTERN int crpc_ctx_add_header(crpc_ctx *ctx, const char *key,
                                    const void *value, size_t len);
CRPC_EXTERN int crpc_ctx_add_trailer(crpc_ctx *ctx, const char *key,
                                     const void *value, size_t len);

/*
 * Sets the status message (copied; sent percent-encoded) and the binary
 * details (a serialized google.rpc.Status, copied; sent as
 * grpc-status-details-bin) that go with the code the handler returns.
 * Returns 0 or CRPC_ENOMEM.
 */
CRPC_EXTERN int crpc_ctx_set_message(crpc_ctx *ctx, const char *message);
CRPC_EXTERN int crpc_ctx_set_details(crpc_ctx *ctx, const uint8_t *details,
                                     size_t len);

/* Compresses the responses with "gzip" (when the client accepts it) or
 * "identity". Returns 0, or CRPC_EENCODING. */
CRPC_EXTERN int crpc_ctx_set_compression(crpc_ctx *ctx, const char *encoding);

/* Whether the response messages sent from now on are compressed with the
 * call's encoding (the default) or sent plain: gRPC's per-message
 * no-compression write flag. The grpc-encoding header is unchanged; with
 * the identity encoding this has no effect. Thread: the handler's. */
CRPC_EXTERN void crpc_ctx_set_message_compression(crpc_ctx *ctx, int enabled);

/* Nonzero when the request message (of a unary or server-streaming call),
 * or the one crpc_server_stream_read() returned last, arrived compressed
 * on the wire; 0 when it came plain. Thread: the handler's. */
CRPC_EXTERN int crpc_ctx_request_compressed(const crpc_ctx *ctx);

/*
 * Reads the next request message of a client- or bidirectional-streaming
 * call. Returns OK with |*msg| set (owned by the call, valid until the next
 * read or the handler's return), OK with |*msg| NULL once the client has
 * half-closed, or CANCELLED / DEADLINE_EXCEEDED / RESOURCE_EXHAUSTED /
 * INTERNAL for a call that can no longer be read.
 * Thread: the handler's; in a coroutine it suspends, on a worker it blocks.
 */
CRPC_EXTERN crpc_status crpc_server_stream_read(crpc_server_stream *s,
                                                ProtobufCMessage **msg);

/*
 * Sends one response message of a server- or bidirectional-streaming
 * call, waiting while HTTP/2 flow control holds it back.
 * Ownership: |msg| is serialized before return.
 * Returns OK, or CANCELLED / DEADLINE_EXCEEDED when the call is gone, or
 * RESOURCE_EXHAUSTED for a message over the send limit (or out of
 * memory), or INTERNAL for a message protobuf-c cannot pack (a NULL
 * element of a repeated field, bytes with a length and no data, a oneof
 * case naming a NULL member, a sub-message never initialized), which is
 * logged at warning level with the method and the field.
 */
CRPC_EXTERN crpc_status crpc_server_stream_write(crpc_server_stream *s,
                                                 const ProtobufCMessage *msg);

CRPC_END_DECLS

#endif /* CRPC_CTX_H */
