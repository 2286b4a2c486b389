/*
 * tests/interop/module.c: grpc.testing.TestService as a crpc-server module.
 *
 *   crpc-server --listen 127.0.0.1:0 --module
 * BUILD/tests/interop/crpc_interop_module.so
 *
 * The same handlers as crpc-interop-server (service.c), on worker threads;
 * the server id is "crpc-server-<pid>", so a client behind a proxy can tell
 * which instance answered (SimpleRequest.fill_server_id).
 */
#include "service.h"

#include <crpc/server.h>

static interop_settings settings;

static int init(crpc_module *m) {
  interop_settings_init(&settings, "crpc-server");
  return crpc_module_add_service(
      m, grpc_testing_test_service_service(&interop_handlers, &settings));
}

CRPC_MODULE(init)
