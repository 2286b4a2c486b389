/* The handlers of wktcheck.Clock, exported for crpc-server --module. Their
 * requests and replies are protobuf's well-known types, whose code is in
 * libcrpc; crpc/wkt.h converts them. */
#include <crpc/wkt.h>

#include "clock.crpc.h"

static crpc_status now(crpc_ctx *ctx, const Google__Protobuf__Empty *req,
                       Google__Protobuf__Timestamp *reply) {
  (void)ctx;
  (void)req;
  return crpc_timestamp_now(reply) == 0 ? CRPC_STATUS_OK : CRPC_STATUS_INTERNAL;
}

static crpc_status time_left(crpc_ctx *ctx, const Google__Protobuf__Empty *req,
                             Google__Protobuf__Duration *reply) {
  (void)req;
  return crpc_duration_from_deadline(crpc_ctx_deadline(ctx), reply) == 0
             ? CRPC_STATUS_OK
             : CRPC_STATUS_INTERNAL;
}

/* The reply's parts come from the call's arena, released after the reply
 * is sent. */
static crpc_status stamp(crpc_ctx *ctx, const Wktcheck__StampRequest *req,
                         Wktcheck__Stamped *reply) {
  Google__Protobuf__StringValue *name = crpc_ctx_alloc(ctx, sizeof(*name));
  Google__Protobuf__Timestamp *at = crpc_ctx_alloc(ctx, sizeof(*at));
  crpc_deadline when;

  if (name == NULL || at == NULL)
    return CRPC_STATUS_RESOURCE_EXHAUSTED;
  if (req->name == NULL || req->after == NULL ||
      crpc_duration_to_deadline(req->after, &when) != 0 ||
      crpc_timestamp_from_deadline(when, at) != 0) {
    crpc_ctx_set_message(ctx, "name and a valid duration are required");
    return CRPC_STATUS_INVALID_ARGUMENT;
  }
  google__protobuf__string_value__init(name);
  name->value = crpc_ctx_strdup(ctx, req->name->value);
  if (name->value == NULL)
    return CRPC_STATUS_RESOURCE_EXHAUSTED;
  reply->name = name;
  reply->at = at;
  return CRPC_STATUS_OK;
}

static const wktcheck_clock_handlers handlers = {
    .now = now,
    .time_left = time_left,
    .stamp = stamp,
};

WKTCHECK_CLOCK_MODULE(&handlers, NULL)
