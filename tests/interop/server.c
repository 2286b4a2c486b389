/*
 * tests/interop/server.c: crpc-interop-server, gRPC's interop test server.
 *
 *   crpc-interop-server --port N [--host H] [--use_tls [true|false]
 *       --tls_cert F --tls_key F] [--placement worker|loop]
 *       [--max_lifetime_s N] [--log_level debug|info|warn|error|off]
 *
 * Serves grpc.testing.TestService (service.c) on H:N (127.0.0.1 unless
 * given; port 0 picks a free one). --placement runs every method on the
 * worker pool (the default, as no method of test.proto asks for the loop)
 * or as coroutines on the event loop. Once serving it prints
 * "listening on HOST:PORT (h2c)" (or "(tls)"); SIGTERM or SIGINT shuts it
 * down gracefully and it exits 0, as it does after --max_lifetime_s
 * (default 600) so that no test leaves it behind. --log_level sets the
 * server's log threshold (warn unless given); the log goes to stderr.
 */
#define _POSIX_C_SOURCE 200809L

#include "flags.h"
#include "service.h"

#include <crpc/error.h>
#include <crpc/future.h>
#include <crpc/log.h>
#include <crpc/server.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char USAGE[] =
    "usage: crpc-interop-server --port N [--host H] [--use_tls [true|false]\n"
    "           --tls_cert FILE --tls_key FILE] [--placement worker|loop]\n"
    "           [--max_lifetime_s N] [--log_level LEVEL]\n";

static const char *const METHODS[] = {
    "EmptyCall",           "UnaryCall",          "CacheableUnaryCall",
    "StreamingOutputCall", "StreamingInputCall", "FullDuplexCall",
    "HalfDuplexCall"};

static interop_settings settings;

int main(int argc, char **argv) {
  int port = -1, use_tls = 0, lifetime_s = 600;
  const char *host = "127.0.0.1", *cert = NULL, *key = NULL;
  const char *placement = "worker", *log_level = "warn";
  const tool_flag flags[] = {
      {"port", TOOL_FLAG_INT, &port},
      {"host", TOOL_FLAG_STRING, &host},
      {"use_tls", TOOL_FLAG_BOOL, &use_tls},
      {"tls_cert", TOOL_FLAG_STRING, &cert},
      {"tls_key", TOOL_FLAG_STRING, &key},
      {"placement", TOOL_FLAG_STRING, &placement},
      {"max_lifetime_s", TOOL_FLAG_INT, &lifetime_s},
      {"log_level", TOOL_FLAG_STRING, &log_level},
  };
  const char *prog = "crpc-interop-server";
  if (tool_flags_parse(prog, USAGE, argc, argv, flags,
                       sizeof(flags) / sizeof(flags[0])) != 0)
    return 2;
  if (port < 0 || port > 65535) {
    fprintf(stderr, "%s: --port N is required\n%s", prog, USAGE);
    return 2;
  }
  if (use_tls && (!cert || !key)) {
    fprintf(stderr, "%s: --use_tls needs --tls_cert and --tls_key\n", prog);
    return 2;
  }
  crpc_server_opts opts;
  crpc_server_opts_init(&opts);
  if (crpc_log_level_parse(log_level, &opts.logger.level) != 0) {
    fprintf(stderr, "%s: --log_level is debug, info, warn, error or off\n",
            prog);
    return 2;
  }
  opts.logger.level_set = 1;
  crpc_placement where;
  if (strcmp(placement, "worker") == 0) {
    where = CRPC_PLACEMENT_WORKER;
  } else if (strcmp(placement, "loop") == 0) {
    where = CRPC_PLACEMENT_LOOP;
  } else {
    fprintf(stderr, "%s: --placement is worker or loop\n", prog);
    return 2;
  }

  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  sigprocmask(SIG_BLOCK, &sigs, NULL);
  signal(SIGPIPE, SIG_IGN);

  interop_settings_init(&settings, "crpc");
  crpc_server *srv;
  if (crpc_server_new(&opts, &srv) != 0) {
    fprintf(stderr, "%s: out of memory\n", prog);
    return 1;
  }
  crpc_service *svc =
      grpc_testing_test_service_service(&interop_handlers, &settings);
  int rc = svc ? 0 : CRPC_ENOMEM;
  for (size_t i = 0; rc == 0 && i < sizeof(METHODS) / sizeof(METHODS[0]); i++)
    rc = crpc_service_set_placement(svc, METHODS[i], where);
  if (rc == 0) {
    rc = crpc_server_add_service(srv, svc);
    svc = NULL; /* the server's now */
  }
  char addr[300];
  snprintf(addr, sizeof(addr), strchr(host, ':') ? "[%s]:%d" : "%s:%d", host,
           port);
  crpc_tls_opts tls = {.cert_file = cert, .key_file = key};
  if (rc == 0)
    rc = crpc_server_listen(srv, addr, use_tls ? &tls : NULL);
  if (rc == 0)
    rc = crpc_server_start(srv);
  if (rc != 0) {
    const char *why = crpc_server_error(srv);
    fprintf(stderr, "%s: %s\n", prog, why[0] ? why : crpc_strerror(rc));
    crpc_service_free(svc);
    crpc_server_free(srv);
    return 1;
  }
  snprintf(addr, sizeof(addr), strchr(host, ':') ? "[%s]:%d" : "%s:%d", host,
           crpc_server_port(srv, 0));
  printf("listening on %s (%s)\n", addr, use_tls ? "tls" : "h2c");
  fflush(stdout);

  struct timespec limit = {lifetime_s, 0};
  siginfo_t info;
  sigtimedwait(&sigs, &info, &limit);
  crpc_future *done = crpc_server_shutdown(srv);
  if (done) {
    crpc_future_wait(done);
    crpc_future_unref(done);
  }
  crpc_server_free(srv);
  return 0;
}
