/*
 * runtime/icall.h: interceptor chains and the calls they see
 * (crpc/interceptor.h), shared by the server and the client. A side
 * fills a crpc_icall with what it knows of a call and runs the chain's
 * hooks through these functions; the accessors of crpc/interceptor.h read
 * it.
 */
#ifndef CRPC_ICALL_H
#define CRPC_ICALL_H

#include <uv.h>

#include "crpc/interceptor.h"
#include "crpc/log.h"

/* Interceptors in the order they run, and where each one's per-call
 * state lies in a call's state block. */
typedef struct crpc__ichain {
  crpc_interceptor *v;
  size_t *offsets; /* of each one's state in the block */
  size_t n;
  size_t state_bytes; /* the block's size */
} crpc__ichain;

struct crpc_icall {
  crpc_side side;
  const crpc_method *method;
  const char *peer;
  crpc_deadline deadline;
  crpc_placement placement;
  crpc_metadata *md;
  const crpc_metadata *resp_headers, *resp_trailers;
  struct crpc_ctx *ctx;
  crpc_trace_context trace;
  char *message; /* crpc_icall_set_message(), malloc'd */
  const crpc__ichain *chain;
  size_t started;       /* interceptors whose start ran: they get end */
  unsigned char *state; /* chain->state_bytes, zeroed */
  /* Keeps the message and end hooks of one call apart (a stream may be
   * read and written on two threads); |finished| once end has run. */
  uv_mutex_t mu;
  int finished;
};

/* Appends a copy of |ic| to |chain|. Returns 0, CRPC_EINVAL (NULL) or
 * CRPC_ENOMEM. Thread: the one configuring the owner. */
int crpc__ichain_add(crpc__ichain *chain, const crpc_interceptor *ic);
/* Makes |out| |a| followed by |b|. Returns 0 or CRPC_ENOMEM. */
int crpc__ichain_concat(crpc__ichain *out, const crpc__ichain *a,
                        const crpc__ichain *b);
/* Frees |chain|'s storage, leaving it empty. */
void crpc__ichain_free(crpc__ichain *chain);

/* Readies |call|'s lock once its fields are set. Returns 0 or a libuv
 * error. */
int crpc__icall_init(crpc_icall *call);

/* Runs the chain's start hooks on |call| (whose fields and |state| block
 * are set) until one rejects. Returns OK, or the status to end the call
 * with, and then |*msg| is its message (owned by |call|, valid until
 * crpc__icall_cleanup()); a value that is no gRPC status is logged to |lg|
 * and becomes UNKNOWN. Thread: the call's. */
crpc_status crpc__icall_start(crpc_icall *call, const crpc_logger *lg,
                              const char **msg);
/* Runs the message hooks of the interceptors that started, unless end has
 * run. Thread: any. */
void crpc__icall_message(crpc_icall *call, int sent,
                         const ProtobufCMessage *msg, size_t wire_bytes);
/* Runs the end hooks of the interceptors that started, last first, once;
 * later calls do nothing. */
void crpc__icall_end(crpc_icall *call, const crpc_icall_end *end);
/* Frees what the call holds (its message, its lock); not the call itself.
 */
void crpc__icall_cleanup(crpc_icall *call);

#endif /* CRPC_ICALL_H */
