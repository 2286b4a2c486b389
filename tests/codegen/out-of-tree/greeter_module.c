/* The handlers of demo.Greeter, exported for crpc-server --module. */
#include <stdio.h>

#include "greeter.crpc.h"

static crpc_status say_hello(crpc_ctx *ctx, const Demo__HelloRequest *req,
                             Demo__HelloReply *reply) {
  char *text = crpc_ctx_alloc(ctx, 64);
  if (text == NULL)
    return CRPC_STATUS_RESOURCE_EXHAUSTED;
  snprintf(text, 64, "hello, %s", req->name);
  reply->message = text;
  return CRPC_STATUS_OK;
}

static crpc_status watch(crpc_ctx *ctx, const Demo__HelloRequest *req,
                         demo_greeter_watch_sender *out) {
  Demo__HelloReply reply = DEMO__HELLO_REPLY__INIT;
  (void)ctx;
  reply.message = req->name;
  return demo_greeter_watch_send(out, &reply);
}

static const demo_greeter_handlers handlers = {
    .say_hello = say_hello,
    .lookup = say_hello,
    .watch = watch,
};

DEMO_GREETER_MODULE(&handlers, NULL)
