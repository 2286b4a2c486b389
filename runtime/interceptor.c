/*
 * runtime/interceptor.c: interceptor chains, running their hooks, and the
 * accessors of crpc/interceptor.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crpc/error.h"
#include "icall.h"
#include "log_internal.h"

#define STATE_ALIGN 16

int crpc__ichain_add(crpc__ichain *chain, const crpc_interceptor *ic) {
  if (!ic)
    return CRPC_EINVAL;
  crpc_interceptor *v = realloc(chain->v, (chain->n + 1) * sizeof(*v));
  if (!v)
    return CRPC_ENOMEM;
  chain->v = v;
  size_t *o = realloc(chain->offsets, (chain->n + 1) * sizeof(*o));
  if (!o)
    return CRPC_ENOMEM;
  chain->offsets = o;
  size_t size = (ic->state_size + STATE_ALIGN - 1) & ~(size_t)(STATE_ALIGN - 1);
  v[chain->n] = *ic;
  o[chain->n] = chain->state_bytes;
  chain->state_bytes += size;
  chain->n++;
  return 0;
}

int crpc__ichain_concat(crpc__ichain *out, const crpc__ichain *a,
                        const crpc__ichain *b) {
  crpc__ichain c = {0};
  for (size_t i = 0; i < a->n; i++)
    if (crpc__ichain_add(&c, &a->v[i]) != 0)
      goto fail;
  for (size_t i = 0; i < b->n; i++)
    if (crpc__ichain_add(&c, &b->v[i]) != 0)
      goto fail;
  *out = c;
  return 0;
fail:
  crpc__ichain_free(&c);
  return CRPC_ENOMEM;
}

void crpc__ichain_free(crpc__ichain *chain) {
  free(chain->v);
  free(chain->offsets);
  memset(chain, 0, sizeof(*chain));
}

static void *state_of(crpc_icall *call, size_t i) {
  const crpc__ichain *c = call->chain;
  if (c->v[i].state_size == 0)
    return NULL;
  return call->state + c->offsets[i];
}

int crpc__icall_init(crpc_icall *call) {
  return uv_mutex_init(&call->mu);
}

crpc_status crpc__icall_start(crpc_icall *call, const crpc_logger *lg,
                              const char **msg) {
  const crpc__ichain *c = call->chain;
  *msg = NULL;
  for (size_t i = 0; i < c->n; i++) {
    const crpc_interceptor *ic = &c->v[i];
    call->started = i + 1;
    if (!ic->start)
      continue;
    crpc_status st = ic->start(ic->data, call, state_of(call, i));
    if (st == CRPC_STATUS_OK)
      continue;
    if ((int)st < 0 || (int)st > 16) {
      crpc__log(lg, CRPC_LOG_WARN,
                "%s: interceptor %zu returned %d, which is not a gRPC status "
                "code; the call ends UNKNOWN",
                call->method->path, i, (int)st);
      free(call->message);
      call->message = strdup("an interceptor failed");
      st = CRPC_STATUS_UNKNOWN;
    }
    *msg = call->message ? call->message : "rejected by an interceptor";
    return st;
  }
  return CRPC_STATUS_OK;
}

void crpc__icall_message(crpc_icall *call, int sent,
                         const ProtobufCMessage *msg, size_t wire_bytes) {
  const crpc__ichain *c = call->chain;
  uv_mutex_lock(&call->mu);
  for (size_t i = 0; i < call->started && !call->finished; i++)
    if (c->v[i].message)
      c->v[i].message(c->v[i].data, call, state_of(call, i), sent, msg,
                      wire_bytes);
  uv_mutex_unlock(&call->mu);
}

void crpc__icall_end(crpc_icall *call, const crpc_icall_end *end) {
  const crpc__ichain *c = call->chain;
  uv_mutex_lock(&call->mu);
  size_t n = call->finished ? 0 : call->started;
  call->finished = 1;
  while (n-- > 0)
    if (c->v[n].end)
      c->v[n].end(c->v[n].data, call, state_of(call, n), end);
  uv_mutex_unlock(&call->mu);
}

void crpc__icall_cleanup(crpc_icall *call) {
  free(call->message);
  call->message = NULL;
  uv_mutex_destroy(&call->mu);
}

/* Accessors. */

crpc_side crpc_icall_side(const crpc_icall *call) {
  return call->side;
}

const crpc_method *crpc_icall_method(const crpc_icall *call) {
  return call->method;
}

const char *crpc_icall_peer(const crpc_icall *call) {
  return call->peer;
}

crpc_deadline crpc_icall_deadline(const crpc_icall *call) {
  return call->deadline;
}

crpc_placement crpc_icall_placement(const crpc_icall *call) {
  return call->placement;
}

crpc_metadata *crpc_icall_metadata(crpc_icall *call) {
  return call->md;
}

const crpc_metadata *crpc_icall_response_headers(const crpc_icall *call) {
  return call->resp_headers;
}

const crpc_metadata *crpc_icall_response_trailers(const crpc_icall *call) {
  return call->resp_trailers;
}

struct crpc_ctx *crpc_icall_ctx(crpc_icall *call) {
  return call->ctx;
}

crpc_trace_context *crpc_icall_trace(crpc_icall *call) {
  return &call->trace;
}

int crpc_icall_set_message(crpc_icall *call, const char *message) {
  char *m = message ? strdup(message) : NULL;
  if (message && !m)
    return CRPC_ENOMEM;
  free(call->message);
  call->message = m;
  return 0;
}
