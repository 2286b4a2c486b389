/*
 * crpc/method.h: what a generated .crpc.c tells the runtime about a
 * service: its methods' paths, kinds, message types and placement, and how
 * to call the user's typed handler for each.
 *
 * These tables are produced by protoc-gen-crpc and are static data; routing,
 * reflection, the interop tests and crpc-server's logs all read them.
 */
#ifndef CRPC_METHOD_H
#define CRPC_METHOD_H

#include <protobuf-c/protobuf-c.h>

#include "crpc/common.h"
#include "crpc/status.h"

CRPC_BEGIN_DECLS

typedef enum {
  CRPC_METHOD_UNARY = 0,
  CRPC_METHOD_SERVER_STREAMING = 1, /* one request, a stream of replies */
  CRPC_METHOD_CLIENT_STREAMING = 2, /* a stream of requests, one reply */
  CRPC_METHOD_BIDI_STREAMING = 3
} crpc_method_kind;

/* Where a server runs a method's handler. */
typedef enum {
  CRPC_PLACEMENT_WORKER = 0, /* on the worker pool (the default) */
  CRPC_PLACEMENT_LOOP = 1    /* as a coroutine on the connection's loop */
} crpc_placement;

typedef struct crpc_ctx crpc_ctx;
typedef struct crpc_server_stream crpc_server_stream;

/*
 * Calls the user's handler for one call of a method, turning the untyped
 * handler table into a typed call. Generated per method. Arguments a kind
 * does not use are NULL: unary gets |request| and |reply|, server streaming
 * |request| and |stream|, client streaming |stream| and |reply|,
 * bidirectional |stream|.
 */
typedef crpc_status (*crpc_method_invoke_fn)(const void *handlers,
                                             crpc_ctx *ctx,
                                             const ProtobufCMessage *request,
                                             ProtobufCMessage *reply,
                                             crpc_server_stream *stream);

typedef struct crpc_method {
  const char *name; /* as in the .proto: "SayHello" */
  const char *path; /* HTTP/2 :path, "/demo.Greeter/SayHello" */
  crpc_method_kind kind;
  crpc_placement placement; /* from (crpc.coroutine) in the .proto */
  const ProtobufCMessageDescriptor *input;
  const ProtobufCMessageDescriptor *output;
  /* Offset of this method's function pointer in the service's handler
   * table; a NULL pointer there makes the method UNIMPLEMENTED. */
  size_t handler_offset;
  crpc_method_invoke_fn invoke;
} crpc_method;

typedef struct crpc_service_desc {
  const char *name;    /* full name: "demo.Greeter" */
  const char *package; /* "demo", or "" */
  size_t n_methods;
  const crpc_method *methods;
  size_t handlers_size; /* sizeof the generated handler table */
} crpc_service_desc;

/* "unary", "server_streaming", "client_streaming", "bidi_streaming"; NULL
 * for other values. Thread: any. */
CRPC_EXTERN const char *crpc_method_kind_name(crpc_method_kind kind);

/* "worker" or "loop"; NULL for other values. Thread: any. */
CRPC_EXTERN const char *crpc_placement_name(crpc_placement placement);

/* The method of |desc| named |name| ("SayHello"), or NULL. Thread: any. */
CRPC_EXTERN const crpc_method *
crpc_service_desc_find(const crpc_service_desc *desc, const char *name);

CRPC_END_DECLS

#endif /* CRPC_METHOD_H */
