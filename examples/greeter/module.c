/*
 * examples/greeter/module.c: the greeter as a module for crpc-server.
 *
 *   crpc-server --listen 127.0.0.1:50051 --module ./libgreeter.so \
 *               [--module-arg greeting=Hi]
 *
 * crpc-server looks for one function, crpc_module_init_v1, which
 * CRPC_MODULE() exports. It reads the module's settings, adds both
 * services of greeter.proto with their handlers and user data, and asks to
 * be told when the server stops, to close Relay's channels. (A module of
 * one service and no settings can leave even that to the generated macro:
 * GREETER_GREETER_MODULE(&greeter_handlers, &settings).)
 */
#include <crpc/error.h>

#include "greeter.h"

/* Static: the server reads it for as long as it runs. The greeting may
 * come from --module-arg greeting=TEXT, a string that lives as long. */
static greeter_settings settings = {.greeting = "Hello"};

/* The channels Relay.Greet makes, closed once the server has stopped. */
static greeter_peers peers = GREETER_PEERS_INIT;

static void on_shutdown(crpc_module *m, crpc_module_event event, void *data) {
  (void)m;
  if (event == CRPC_MODULE_STOPPED)
    greeter_peers_cleanup(data); /* no handler runs any more */
}

static int init(crpc_module *m) {
  const char *greeting = crpc_module_arg(m, "greeting");
  if (greeting != NULL) {
    if (greeting[0] == '\0') {
      crpc_module_set_error(m, "--module-arg greeting= needs some text");
      return CRPC_EINVAL;
    }
    settings.greeting = greeting;
  }
  crpc_module_on_shutdown(m, on_shutdown, &peers);

  int rc = crpc_module_add_service(
      m, greeter_greeter_service(&greeter_handlers, &settings));
  if (rc == 0)
    rc = crpc_module_add_service(
        m, greeter_relay_service(&relay_handlers, &peers));
  return rc; /* nonzero: crpc-server says why and refuses to start */
}

CRPC_MODULE(init)
