/*
 * tests/interop/service.h: grpc.testing.TestService as gRPC's interop
 * specification describes it (doc/interop-test-descriptions.md, "Server").
 *
 * One handler table, served by crpc-interop-server (server.c) and, as a
 * module, by crpc-server (module.c). The handlers run in either placement:
 * their waits (interval_us) suspend a coroutine or block a worker, and end
 * early when the call is cancelled.
 */
#ifndef CRPC_INTEROP_SERVICE_H
#define CRPC_INTEROP_SERVICE_H

#include "grpc/testing/test.crpc.h"

/* What a server says about itself in SimpleResponse (fill_server_id,
 * fill_hostname). The handlers only read it. */
typedef struct interop_settings {
  char server_id[64];
  char hostname[256];
} interop_settings;

/* Fills |s|: server_id "<impl>-<pid>" and the machine's host name. */
void interop_settings_init(interop_settings *s, const char *impl);

/* The handlers; their user data is an interop_settings. UnimplementedCall
 * stays NULL, so the server answers it UNIMPLEMENTED. */
extern const grpc_testing_test_service_handlers interop_handlers;

#endif /* CRPC_INTEROP_SERVICE_H */
