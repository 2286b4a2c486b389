/*
 * tests/server/config_module.c: a module configured on crpc-server's
 * command line (--module-arg), for module_suite.c and
 * check-crpc-server-cli.sh. It serves crpc.mistakes.Mistakes
 * (proto/mistakes.proto), whose Status method answers with the greeting.
 * Its settings:
 *
 *   greeting=TEXT    Status replies Answer.text = TEXT (default "hello")
 *   health=not_serving  its service starts NOT_SERVING
 *   events=PATH      appends one line per event to PATH: "init K=V ..."
 *                    (every setting, in order), "draining", "stopped"
 *   fail=MESSAGE     the init fails with MESSAGE (crpc_module_set_error)
 *   return=N         the init returns N without a message
 *
 * The hook is registered before any failure, so a failed init still sees
 * "stopped".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <crpc/error.h>
#include <crpc/server.h>

#include "mistakes.crpc.h"

typedef struct config {
  const char *greeting;
  const char *events;
} config;

static config cfg;

static void event(const char *fmt, const char *arg) {
  if (cfg.events == NULL)
    return;
  FILE *f = fopen(cfg.events, "a");
  if (f == NULL)
    return;
  fprintf(f, fmt, arg);
  fclose(f);
}

static crpc_status status(crpc_ctx *ctx, const Crpc__Mistakes__Ask *req,
                          Crpc__Mistakes__Answer *reply) {
  const config *c = crpc_ctx_user_data(ctx);
  (void)req;
  reply->text = (char *)c->greeting;
  return CRPC_STATUS_OK;
}

static const crpc_mistakes_mistakes_handlers handlers = {.status = status};

static void on_shutdown(crpc_module *m, crpc_module_event ev, void *data) {
  (void)m;
  (void)data;
  event("%s\n", ev == CRPC_MODULE_DRAINING ? "draining" : "stopped");
}

static int init(crpc_module *m) {
  const char *fail, *ret, *health;
  cfg.greeting = crpc_module_arg(m, "greeting");
  if (cfg.greeting == NULL)
    cfg.greeting = "hello";
  cfg.events = crpc_module_arg(m, "events");
  if (cfg.events != NULL) {
    char line[1024] = "init";
    for (size_t i = 0; i < crpc_module_arg_count(m); i++) {
      const char *k, *v;
      crpc_module_arg_at(m, i, &k, &v);
      size_t n = strlen(line);
      snprintf(line + n, sizeof(line) - n, " %s=%s", k, v);
    }
    event("%s\n", line);
  }
  crpc_module_on_shutdown(m, on_shutdown, NULL);
  if ((fail = crpc_module_arg(m, "fail")) != NULL) {
    crpc_module_set_error(m, fail);
    return -1;
  }
  if ((ret = crpc_module_arg(m, "return")) != NULL)
    return atoi(ret);
  int rc = crpc_module_add_service(
      m, crpc_mistakes_mistakes_service(&handlers, &cfg));
  health = crpc_module_arg(m, "health");
  if (rc == 0 && health != NULL && strcmp(health, "not_serving") == 0)
    rc = crpc_server_set_health(crpc_module_server(m), "crpc.mistakes.Mistakes",
                                CRPC_HEALTH_NOT_SERVING);
  return rc;
}

CRPC_MODULE(init)
