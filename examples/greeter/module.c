/*
 * examples/greeter/module.c: the greeter as a module for crpc-server.
 *
 *   crpc-server --listen 127.0.0.1:50051 --module ./libgreeter.so
 *
 * crpc-server looks for one function, crpc_module_init_v1, which
 * CRPC_MODULE() exports. It adds both services of greeter.proto with their
 * handlers and user data. (A module of one service can leave even that to
 * the generated macro: GREETER_GREETER_MODULE(&greeter_handlers, &settings).)
 */
#include "greeter.h"

/* Static: the server reads it for as long as it runs. */
static const greeter_settings settings = {.greeting = "Hello"};

/* The channels Relay.Greet makes. A module is never unloaded and has no
 * hook at the server's end, so they live until the process exits; a
 * program that embeds the server frees them after the server (main.c). */
static greeter_peers peers = GREETER_PEERS_INIT;

static int init(crpc_module *m) {
  int rc = crpc_module_add_service(
      m, greeter_greeter_service(&greeter_handlers, (void *)&settings));

  if (rc == 0)
    rc = crpc_module_add_service(
        m, greeter_relay_service(&relay_handlers, &peers));
  return rc; /* nonzero: crpc-server says why and refuses to start */
}

CRPC_MODULE(init)
