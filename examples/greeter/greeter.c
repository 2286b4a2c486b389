/*
 * examples/greeter/greeter.c: the handlers of greeter.proto's services.
 *
 * A handler gets its call's context, the request, and either the reply to
 * fill (unary) or a sender for the replies (server streaming). It returns a
 * gRPC status; a failure can carry a message with crpc_ctx_set_message().
 * Strings in the reply come from the call's arena (crpc_ctx_alloc(),
 * crpc_ctx_strdup()), which is released once the response is sent: no
 * handler frees anything of its call's.
 *
 * Where a handler runs is decided by greeter.proto: SayHelloLater and
 * Relay.Greet have (crpc.coroutine) = true and run on the connection's
 * event loop; the other two run on the worker pool. The code looks the same
 * either way: future waits and the generated blocking client stubs suspend
 * a coroutine and block a worker.
 */
#define _POSIX_C_SOURCE 200809L

#include "greeter.h"

#include <crpc/coro.h>
#include <crpc/ctx.h>
#include <crpc/error.h>
#include <crpc/future.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DELAY_MS 10000
#define MAX_COUNT 100

/* Fails the call with INVALID_ARGUMENT and says why. */
static crpc_status invalid(crpc_ctx *ctx, const char *why) {
  crpc_ctx_set_message(ctx, why);
  return CRPC_STATUS_INVALID_ARGUMENT;
}

/* Where this handler runs: only the loop runs coroutines. Nothing frees a
 * reply's fields, so a string literal may go there. */
static char *placement(void) {
  return crpc_in_coroutine() ? "loop" : "worker";
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

/* Fills |reply|; shared by Greeter's three methods. */
static crpc_status fill(crpc_ctx *ctx, const char *name,
                        Greeter__HelloReply *reply) {
  reply->message = greeting(ctx, name);
  reply->placement = placement();
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

/* SayHelloLater, a coroutine on the event loop. It waits on the call's
 * cancellation future for at most delay_ms: the wait suspends it on a loop
 * timer, the loop serves other calls meanwhile, and a client that cancels
 * or whose deadline passes ends the wait at once (crpc_sleep() would sleep
 * on regardless). A blocking call here (sleep(), a blocking read) would
 * stall every connection of the loop; hand such work to crpc_run_blocking()
 * instead. */
static crpc_status say_hello_later(crpc_ctx *ctx,
                                   const Greeter__DelayedHelloRequest *req,
                                   Greeter__HelloReply *reply) {
  crpc_future *gone = crpc_ctx_cancelled(ctx);

  if (req->name[0] == '\0')
    return invalid(ctx, "name is empty");
  if (req->delay_ms > MAX_DELAY_MS)
    return invalid(ctx, "delay_ms is over 10000");
  if (crpc_future_wait_for(gone, req->delay_ms) == 0)
    return crpc_future_status(gone); /* CANCELLED or DEADLINE_EXCEEDED */
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

/* Makes the channel to |target| as p->channels[p->n]. Called with p->mu
 * held; creating a channel does not connect, so it is quick. */
static crpc_status add_peer(crpc_ctx *ctx, greeter_peers *p,
                            const char *target) {
  crpc_channel_opts opts;
  char why[160];
  int rc;

  if (p->n == GREETER_MAX_PEERS) {
    crpc_ctx_set_message(ctx, "Relay calls too many targets already");
    return CRPC_STATUS_RESOURCE_EXHAUSTED;
  }
  if ((p->targets[p->n] = strdup(target)) == NULL)
    return CRPC_STATUS_RESOURCE_EXHAUSTED;
  crpc_channel_opts_init(&opts); /* cleartext, pick-first, its own thread */
  if ((rc = crpc_channel_new(target, &opts, &p->channels[p->n])) != 0) {
    free(p->targets[p->n]);
    p->targets[p->n] = NULL;
    snprintf(why, sizeof(why), "no channel to %s: %s", target,
             crpc_strerror(rc));
    crpc_ctx_set_message(ctx, why);
    return rc == CRPC_EINVAL ? CRPC_STATUS_INVALID_ARGUMENT
                             : CRPC_STATUS_UNAVAILABLE;
  }
  p->n++;
  return CRPC_STATUS_OK;
}

/* The channel to |target|, made on first use. The lock covers the table
 * only: calls are made after it is released. */
static crpc_status peer_channel(crpc_ctx *ctx, greeter_peers *p,
                                const char *target, crpc_channel **out) {
  crpc_status st = CRPC_STATUS_OK;
  size_t i;

  pthread_mutex_lock(&p->mu);
  for (i = 0; i < p->n && strcmp(p->targets[i], target) != 0; i++)
    continue;
  if (i == p->n)
    st = add_peer(ctx, p, target);
  if (st == CRPC_STATUS_OK)
    *out = p->channels[i];
  pthread_mutex_unlock(&p->mu);
  return st;
}

void greeter_peers_cleanup(greeter_peers *p) {
  pthread_mutex_lock(&p->mu);
  for (size_t i = 0; i < p->n; i++) {
    crpc_channel_free(p->channels[i]);
    free(p->targets[i]);
    p->channels[i] = NULL;
    p->targets[i] = NULL;
  }
  p->n = 0;
  pthread_mutex_unlock(&p->mu);
}

/* Copies what SayHello answered into |reply|, from the call's arena. */
static crpc_status relay_reply(crpc_ctx *ctx, const Greeter__HelloReply *got,
                               Greeter__RelayReply *reply) {
  Greeter__HelloReply *copy = crpc_ctx_alloc(ctx, sizeof(*copy));

  if (copy == NULL)
    return CRPC_STATUS_RESOURCE_EXHAUSTED;
  greeter__hello_reply__init(copy);
  copy->message = crpc_ctx_strdup(ctx, got->message);
  copy->placement = crpc_ctx_strdup(ctx, got->placement);
  if (copy->message == NULL || copy->placement == NULL)
    return CRPC_STATUS_RESOURCE_EXHAUSTED;
  reply->reply = copy;
  reply->placement = placement();
  return CRPC_STATUS_OK;
}

/* Relay.Greet, a coroutine on the event loop that is itself a client: the
 * generated blocking stub suspends it until SayHello answers, and the loop
 * serves other calls meanwhile, the SayHello call itself included when the
 * target is this very server. This call's deadline and cancellation pass
 * to the outgoing call (set no_propagation in its options to stop that). */
static crpc_status relay_greet(crpc_ctx *ctx, const Greeter__RelayRequest *req,
                               Greeter__RelayReply *reply) {
  Greeter__HelloRequest hello = GREETER__HELLO_REQUEST__INIT;
  Greeter__HelloReply *got = NULL;
  crpc_call_opts opts = {0};
  crpc_status_info info;
  crpc_channel *ch;
  crpc_status st;

  if (req->target[0] == '\0')
    return invalid(ctx, "target is empty");
  st = peer_channel(ctx, crpc_ctx_user_data(ctx), req->target, &ch);
  if (st != CRPC_STATUS_OK)
    return st;
  hello.name = req->name;
  crpc_status_info_init(&info);
  opts.status_out = &info;
  st = greeter_greeter_say_hello(ch, &hello, &got, &opts);
  if (st == CRPC_STATUS_OK) {
    st = relay_reply(ctx, got, reply);
    greeter__hello_reply__free_unpacked(got, NULL);
  } else if (info.message != NULL) {
    /* The target's failure is this call's, message included. */
    crpc_ctx_set_message(ctx, info.message);
  }
  crpc_status_info_cleanup(&info);
  return st;
}

const greeter_relay_handlers relay_handlers = {
    .greet = relay_greet,
};
