/*
 * server/ctx.c: what a handler sees of its call. These run on the
 * handler's thread; what the loop also reads is taken under the call's
 * mutex.
 */
#include <stdlib.h>
#include <string.h>

#include "compress.h"
#include "crpc/ctx.h"
#include "crpc/error.h"
#include "server_internal.h"

void *crpc_ctx_alloc(crpc_ctx *ctx, size_t n) {
  return crpc__arena_alloc(&ctx->call->arena, n);
}

char *crpc_ctx_strdup(crpc_ctx *ctx, const char *s) {
  return s ? crpc__arena_strdup(&ctx->call->arena, s) : NULL;
}

void *crpc_ctx_user_data(const crpc_ctx *ctx) {
  return ctx->call->route->svc->user_data;
}

const crpc_method *crpc_ctx_method(const crpc_ctx *ctx) {
  return ctx->call->route->method;
}

crpc_deadline crpc_ctx_deadline(const crpc_ctx *ctx) {
  return ctx->call->deadline;
}

int crpc_ctx_is_cancelled(const crpc_ctx *ctx) {
  return atomic_load(&ctx->call->cancelled) != 0;
}

crpc_future *crpc_ctx_cancelled(crpc_ctx *ctx) {
  return ctx->call->cancel_f;
}

const crpc_metadata *crpc_ctx_request_metadata(const crpc_ctx *ctx) {
  return &ctx->call->req.md;
}

const char *crpc_ctx_peer(const crpc_ctx *ctx) {
  return ctx->call->peer;
}

const crpc_peer_auth *crpc_ctx_peer_auth(const crpc_ctx *ctx) {
  return ctx->call->peer_auth;
}

crpc_loop *crpc_ctx_loop(const crpc_ctx *ctx) {
  return ctx->call->sl->loop;
}

static int add_md(crpc__server_call *call, crpc_metadata *md, int frozen_check,
                  const char *key, const void *value, size_t len) {
  crpc__server_call_lock(call);
  int rc;
  if (frozen_check ? call->headers_frozen : call->status_set)
    rc = CRPC_ESTATE;
  else
    rc = crpc_metadata_add(md, key, value, len);
  crpc__server_call_unlock(call);
  return rc;
}

int crpc_ctx_add_header(crpc_ctx *ctx, const char *key, const void *value,
                        size_t len) {
  return add_md(ctx->call, &ctx->call->resp_headers, 1, key, value, len);
}

int crpc_ctx_add_trailer(crpc_ctx *ctx, const char *key, const void *value,
                         size_t len) {
  return add_md(ctx->call, &ctx->call->resp_trailers, 0, key, value, len);
}

int crpc_ctx_set_message(crpc_ctx *ctx, const char *message) {
  crpc__server_call *call = ctx->call;
  char *m = message ? strdup(message) : NULL;
  if (message && !m)
    return CRPC_ENOMEM;
  crpc__server_call_lock(call);
  free(call->status_message);
  call->status_message = m;
  crpc__server_call_unlock(call);
  return 0;
}

int crpc_ctx_set_details(crpc_ctx *ctx, const uint8_t *details, size_t len) {
  crpc__server_call *call = ctx->call;
  uint8_t *d = NULL;
  if (details && len) {
    d = malloc(len);
    if (!d)
      return CRPC_ENOMEM;
    memcpy(d, details, len);
  }
  crpc__server_call_lock(call);
  free(call->status_details);
  call->status_details = d;
  call->status_details_len = d ? len : 0;
  crpc__server_call_unlock(call);
  return 0;
}

int crpc_ctx_set_compression(crpc_ctx *ctx, const char *encoding) {
  crpc__server_call *call = ctx->call;
  crpc__encoding enc;
  if (!encoding || crpc__compress_lookup(encoding, strlen(encoding), &enc) != 0)
    return CRPC_EENCODING;
  /* Compress only with what the client said it accepts. */
  if (!(call->req.accept_mask & CRPC__ENCODING_BIT(enc)))
    enc = CRPC__ENCODING_IDENTITY;
  crpc__server_call_lock(call);
  int rc = 0;
  if (call->headers_frozen)
    rc = CRPC_ESTATE;
  else
    call->resp_enc = enc;
  crpc__server_call_unlock(call);
  return rc;
}

void crpc_ctx_set_message_compression(crpc_ctx *ctx, int enabled) {
  ctx->call->msg_identity = !enabled;
}

crpc__encoding
crpc__server_call_message_encoding(const crpc__server_call *call) {
  return call->msg_identity ? CRPC__ENCODING_IDENTITY : call->resp_enc;
}

int crpc_ctx_request_compressed(const crpc_ctx *ctx) {
  return ctx->call->req_compressed;
}
