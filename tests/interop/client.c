/*
 * tests/interop/client.c: crpc-interop-client, gRPC's interop test client.
 *
 *   crpc-interop-client --server_port P [--server_host H]
 *       [--test_case NAME|all|NAME,NAME...] [--use_tls [true|false]
 *       [--ca_file F] [--server_host_override NAME]]
 *
 * Runs the cases of cases.c against the server at H:P (127.0.0.1 unless
 * given) over one channel, in order. "all" is the 16 cases of gRPC's
 * specification; client_compressed_unary_noprobe and server_id run only
 * when named. Prints "ok - CASE" or "not ok - CASE: REASON" per case, then
 * "N passed, M failed", and exits 0 when none failed (1 otherwise, 2 for a
 * bad command line).
 */
#define _POSIX_C_SOURCE 200809L

#include "cases.h"
#include "flags.h"

#include <crpc/channel.h>
#include <crpc/error.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char USAGE[] =
    "usage: crpc-interop-client --server_port P [--server_host H]\n"
    "           [--test_case NAME|all|NAME,NAME...] [--use_tls [true|false]\n"
    "           [--ca_file FILE] [--server_host_override NAME]]\n";

/* Adds the cases named in the comma-separated |list| to |run|; -1 after
 * printing an unknown name. */
static int select_cases(const char *list, const interop_case **run, size_t *n) {
  char *copy = strdup(list), *save = NULL;
  if (!copy)
    return -1;
  for (char *name = strtok_r(copy, ",", &save); name;
       name = strtok_r(NULL, ",", &save)) {
    if (strcmp(name, "all") == 0) {
      for (size_t i = 0; i < interop_n_cases; i++)
        if (interop_cases[i].standard)
          run[(*n)++] = &interop_cases[i];
      continue;
    }
    const interop_case *c = interop_case_find(name);
    if (!c) {
      fprintf(stderr, "crpc-interop-client: unknown test case: %s\n", name);
      free(copy);
      return -1;
    }
    run[(*n)++] = c;
  }
  free(copy);
  return 0;
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1", *cases = "all", *ca = NULL, *override = NULL;
  int port = -1, use_tls = 0;
  const tool_flag flags[] = {
      {"server_host", TOOL_FLAG_STRING, &host},
      {"server_port", TOOL_FLAG_INT, &port},
      {"test_case", TOOL_FLAG_STRING, &cases},
      {"use_tls", TOOL_FLAG_BOOL, &use_tls},
      {"ca_file", TOOL_FLAG_STRING, &ca},
      {"server_host_override", TOOL_FLAG_STRING, &override},
  };
  const char *prog = "crpc-interop-client";
  if (tool_flags_parse(prog, USAGE, argc, argv, flags,
                       sizeof(flags) / sizeof(flags[0])) != 0)
    return 2;
  if (port <= 0 || port > 65535) {
    fprintf(stderr, "%s: --server_port P is required\n%s", prog, USAGE);
    return 2;
  }
  /* Each case may be named many times; 64 runs are plenty. */
  const interop_case *run[64];
  size_t n = 0;
  if (strlen(cases) > 4096 || select_cases(cases, run, &n) != 0)
    return 2;
  signal(SIGPIPE, SIG_IGN);

  char target[300];
  snprintf(target, sizeof(target), strchr(host, ':') ? "[%s]:%d" : "%s:%d",
           host, port);
  crpc_channel_opts opts;
  crpc_channel_opts_init(&opts);
  opts.tls = use_tls;
  opts.tls_ca_file = ca;
  opts.tls_server_name = override;
  crpc_channel *ch;
  int rc = crpc_channel_new(target, &opts, &ch);
  if (rc != 0) {
    fprintf(stderr, "%s: cannot make a channel to %s: %s\n", prog, target,
            crpc_strerror(rc));
    return 1;
  }

  size_t passed = 0, failed = 0;
  for (size_t i = 0; i < n; i++) {
    char why[INTEROP_WHY] = "";
    if (run[i]->run(ch, why) == 0) {
      passed++;
      printf(why[0] ? "ok - %s: %s\n" : "ok - %s\n", run[i]->name, why);
    } else {
      failed++;
      printf("not ok - %s: %s\n", run[i]->name, why);
    }
    fflush(stdout);
  }
  printf("%zu passed, %zu failed\n", passed, failed);
  crpc_channel_free(ch);
  return failed ? 1 : 0;
}
