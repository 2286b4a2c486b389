/*
 * examples/greeter/greeter.c: the handlers of greeter.proto's Greeter.
 *
 * A handler gets its call's context, the request, and either the reply to
 * fill (unary) or a sender for the replies (server streaming). It returns a
 * gRPC status; a failure can carry a message with crpc_ctx_set_message().
 * Strings in the reply come from the call's arena (crpc_ctx_alloc(),
 * crpc_ctx_strdup()), which is released once the response is sent: no
 * handler frees anything.
 *
 * Where a handler runs is decided by greeter.proto: SayHelloLater has
 * (crpc.coroutine) = true and runs on the connection's event loop; the
 * other two run on the worker pool. The code looks the same either way:
 * crpc_sleep() and future waits suspend a coroutine and block a worker.
 */
#include "greeter.h"

#include <crpc/coro.h>
#include <crpc/ctx.h>
#include <crpc/future.h>
#include <stdio.h>
#include <string.h>

#define MAX_DELAY_MS 10000
#define MAX_COUNT 100

/* Fails the call with INVALID_ARGUMENT and says why. */
static crpc_status invalid(crpc_ctx *ctx, const char *why) {
  crpc_ctx_set_message(ctx, why);
  return CRPC_STATUS_INVALID_ARGUMENT;
}

/* "Hello, NAME!" in the call's arena, or NULL when out of memory. */
static char *greeting(crpc_ctx *ctx, const char *name) {
  const greeter_settings *settings = crpc_ctx_user_data(ctx);
  const char *hello = settings != NULL ? settings->greeting : "Hello";
  size_t n = strlen(hello) + strlen(name) + sizeof(", !");
  char *s = crpc_ctx_alloc(ctx, n);

  if (s != NULL)
    snprintf(s, n, "%s, %s!", hello, name);
  return s;
}

/* Fills |reply|; shared by the three methods. */
static crpc_status fill(crpc_ctx *ctx, const char *name,
                        Greeter__HelloReply *reply) {
  reply->message = greeting(ctx, name);
  /* Shows where this handler runs: only the loop runs coroutines. Nothing
   * frees a reply's fields, so a string literal may go there too. */
  reply->placement = crpc_in_coroutine() ? "loop" : "worker";
  return reply->message != NULL ? CRPC_STATUS_OK
                                : CRPC_STATUS_RESOURCE_EXHAUSTED;
}

/* SayHello, on a worker thread: it could block on a file or a database
 * without holding up any other call. */
static crpc_status say_hello(crpc_ctx *ctx, const Greeter__HelloRequest *req,
                             Greeter__HelloReply *reply) {
  if (req->name[0] == '\0')
    return invalid(ctx, "name is empty");
  return fill(ctx, req->name, reply);
}

/* SayHelloLater, a coroutine on the event loop: crpc_sleep() suspends it on
 * a loop timer, and the loop serves other calls meanwhile. A blocking call
 * here (sleep(), a blocking read) would stall every connection of the
 * loop; hand such work to crpc_run_blocking() instead. crpc_sleep() does
 * not end early when the call is cancelled: for long waits, wait on
 * crpc_ctx_cancelled() with a timeout instead, as say_hellos() does. */
static crpc_status say_hello_later(crpc_ctx *ctx,
                                   const Greeter__DelayedHelloRequest *req,
                                   Greeter__HelloReply *reply) {
  if (req->name[0] == '\0')
    return invalid(ctx, "name is empty");
  if (req->delay_ms > MAX_DELAY_MS)
    return invalid(ctx, "delay_ms is over 10000");
  crpc_sleep(req->delay_ms);
  /* The client may have gone, or its deadline passed, while we slept. */
  if (crpc_ctx_is_cancelled(ctx))
    return CRPC_STATUS_CANCELLED;
  return fill(ctx, req->name, reply);
}

/* SayHellos, server streaming on a worker thread. Each send waits while
 * HTTP/2 flow control holds the reply back, so a slow client slows the
 * handler down instead of filling memory. Between replies it waits on the
 * call's cancellation future rather than sleeping, so a client that
 * cancels stops the stream at once. */
static crpc_status say_hellos(crpc_ctx *ctx,
                              const Greeter__RepeatedHelloRequest *req,
                              greeter_greeter_say_hellos_sender *out) {
  crpc_status st;

  if (req->name[0] == '\0')
    return invalid(ctx, "name is empty");
  if (req->count > MAX_COUNT)
    return invalid(ctx, "count is over 100");
  if (req->interval_ms > MAX_DELAY_MS)
    return invalid(ctx, "interval_ms is over 10000");
  for (uint32_t i = 0; i < req->count; i++) {
    Greeter__HelloReply reply = GREETER__HELLO_REPLY__INIT;

    if (i > 0 && req->interval_ms > 0 &&
        crpc_future_wait_for(crpc_ctx_cancelled(ctx), req->interval_ms) == 0)
      return CRPC_STATUS_CANCELLED;
    if ((st = fill(ctx, req->name, &reply)) != CRPC_STATUS_OK)
      return st;
    /* The reply is serialized before send returns: a stack copy is fine. */
    if ((st = greeter_greeter_say_hellos_send(out, &reply)) != CRPC_STATUS_OK)
      return st;
  }
  return CRPC_STATUS_OK;
}

/* A NULL member would answer UNIMPLEMENTED. */
const greeter_greeter_handlers greeter_handlers = {
    .say_hello = say_hello,
    .say_hello_later = say_hello_later,
    .say_hellos = say_hellos,
};
