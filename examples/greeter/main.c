/*
 * examples/greeter/main.c: the greeter served by a program of its own.
 *
 *   greeter-server [ADDR]        ADDR: 127.0.0.1:50051 unless given
 *
 * The same handlers as the module (greeter.c), with the server embedded:
 * create it, add the services, listen, start, and on SIGINT or SIGTERM shut
 * down gracefully, then free what the handlers kept (Relay's channels).
 * crpc-server does the same with more options; a program of your own can add
 * services from several sources, set health, or run its own work next to the
 * server.
 */
#define _POSIX_C_SOURCE 200809L

#include "greeter.h"

#include <crpc/error.h>
#include <crpc/future.h>
#include <crpc/server.h>
#include <signal.h>
#include <stdio.h>

static const greeter_settings settings = {.greeting = "Hello"};
static greeter_peers peers = GREETER_PEERS_INIT;

/* Adds |svc| (NULL when its constructor ran out of memory); the server
 * owns it from here on, also if this fails. Returns 0 or a crpc error. */
static int add(crpc_server *srv, crpc_service *svc) {
  return svc != NULL ? crpc_server_add_service(srv, svc) : CRPC_ENOMEM;
}

/* Adds the services, listens on |addr| and starts. Returns 0, or a crpc
 * error code after printing what failed. */
static int start(crpc_server *srv, const char *addr) {
  int rc;

  if ((rc = add(srv, greeter_greeter_service(&greeter_handlers,
                                             (void *)&settings))) != 0 ||
      (rc = add(srv, greeter_relay_service(&relay_handlers, &peers))) != 0 ||
      (rc = crpc_server_listen(srv, addr, NULL)) != 0 ||
      (rc = crpc_server_start(srv)) != 0) {
    const char *why = crpc_server_error(srv);
    fprintf(stderr, "greeter-server: %s\n",
            why[0] != '\0' ? why : crpc_strerror(rc));
  }
  return rc;
}

int main(int argc, char **argv) {
  const char *addr = argc > 1 ? argv[1] : "127.0.0.1:50051";
  crpc_server_opts opts;
  crpc_server *srv;
  crpc_future *done;
  sigset_t sigs;
  int sig;

  if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
    fprintf(stderr, "usage: greeter-server [ADDR]\n");
    return 2;
  }
  /* Block the shutdown signals before the server starts its threads, which
   * inherit the mask; main() then takes them with sigwait(), so no signal
   * handler has to do anything. A peer closing its socket mid-write must
   * not kill the process: ignore SIGPIPE. */
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  sigprocmask(SIG_BLOCK, &sigs, NULL);
  signal(SIGPIPE, SIG_IGN);

  /* Log at INFO: the server says where it listens and where each method
   * runs. */
  crpc_server_opts_init(&opts);
  opts.logger.level = CRPC_LOG_INFO;
  opts.logger.level_set = 1;
  if (crpc_server_new(&opts, &srv) != 0) {
    fprintf(stderr, "greeter-server: out of memory\n");
    return 1;
  }
  if (start(srv, addr) != 0) {
    crpc_server_free(srv);
    greeter_peers_cleanup(&peers);
    return 1;
  }

  sigwait(&sigs, &sig);
  /* GOAWAY, stop accepting, let calls in flight finish (up to
   * opts.drain_ms), then wait until every connection is closed. */
  done = crpc_server_shutdown(srv);
  if (done != NULL) {
    crpc_future_wait(done);
    crpc_future_unref(done);
  }
  crpc_server_free(srv);
  /* No handler runs any more: Relay's channels can go. */
  greeter_peers_cleanup(&peers);
  return 0;
}
