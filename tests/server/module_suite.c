/*
 * tests/server/module_suite.c: loading a module with settings
 * (crpc__module_load(), as crpc-server --module-arg does), the settings
 * reaching its handlers, the health it sets, its shutdown hook before the
 * drain and after the stop, and what a failing init says. The module is
 * config_module.c; CONFIG_MODULE is its path.
 */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crpc/error.h"
#include "grpc/health/v1/health.crpc.h"
#include "mistakes.crpc.h"
#include "module.h"

/* A scratch file for the module's events. */
static char events[64];

static void make_events_file(void) {
  snprintf(events, sizeof(events), "/tmp/crpc-module-suite.XXXXXX");
  int fd = mkstemp(events);
  cr_assert_geq(fd, 0);
  close(fd);
}

static void drop_events_file(void) {
  unlink(events);
}

/* The events file's content. */
static char *read_events(void) {
  static char buf[4096];
  FILE *f = fopen(events, "r");
  cr_assert_not_null(f);
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

static crpc_server *new_server(void) {
  crpc_server_opts o;
  crpc_server_opts_init(&o);
  o.loops = 1;
  o.workers = 1;
  crpc_server *srv;
  cr_assert_eq(crpc_server_new(&o, &srv), 0);
  return srv;
}

/* Loads the config module into |srv| with |args|; returns what the load
 * returned, its message in |err|. */
static int load(crpc_server *srv, const char *const *args, size_t n, char *err,
                size_t errlen) {
  size_t n_services;
  return crpc__module_load(srv, CONFIG_MODULE, args, n, &n_services, err,
                           errlen);
}

static int health_of(crpc_channel *ch, const char *service) {
  Grpc__Health__V1__HealthCheckRequest req =
      GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
  req.service = (char *)service;
  Grpc__Health__V1__HealthCheckResponse *rep = NULL;
  cr_assert_eq(grpc_health_v1_health_check(ch, &req, &rep, NULL),
               CRPC_STATUS_OK);
  int status = rep->status;
  grpc__health__v1__health_check_response__free_unpacked(rep, NULL);
  return status;
}

Test(module, settings_reach_handlers_and_hooks_run_in_order,
     .init = make_events_file, .fini = drop_events_file, .timeout = 60) {
  char ev_arg[96];
  snprintf(ev_arg, sizeof(ev_arg), "events=%s", events);
  const char *args[] = {"greeting=first", ev_arg, "health=not_serving",
                        "greeting=Hi there", "empty="};
  crpc_server *srv = new_server();
  char err[512];
  cr_assert_eq(load(srv, args, 5, err, sizeof(err)), 0, "%s", err);
  char want[256];
  snprintf(want, sizeof(want),
           "init greeting=first events=%s health=not_serving "
           "greeting=Hi there empty=\n",
           events);
  cr_assert_str_eq(read_events(), want);

  cr_assert_eq(crpc_server_listen(srv, "127.0.0.1:0", NULL), 0);
  cr_assert_eq(crpc_server_start(srv), 0);
  char target[64];
  snprintf(target, sizeof(target), "127.0.0.1:%d", crpc_server_port(srv, 0));
  crpc_channel *ch;
  cr_assert_eq(crpc_channel_new(target, NULL, &ch), 0);
  Crpc__Mistakes__Ask ask = CRPC__MISTAKES__ASK__INIT;
  Crpc__Mistakes__Answer *rep = NULL;
  cr_assert_eq(crpc_mistakes_mistakes_status(ch, &ask, &rep, NULL),
               CRPC_STATUS_OK);
  cr_assert_str_eq(rep->text, "Hi there"); /* the last one given */
  crpc__mistakes__answer__free_unpacked(rep, NULL);
  cr_assert_eq(health_of(ch, "crpc.mistakes.Mistakes"),
               (int)CRPC_HEALTH_NOT_SERVING);
  cr_assert_eq(health_of(ch, ""), (int)CRPC_HEALTH_SERVING);
  crpc_channel_free(ch);

  crpc_future *f = crpc_server_shutdown(srv);
  /* The drain hook runs inside crpc_server_shutdown(), before it returns;
   * the stop hook not yet. */
  strcat(want, "draining\n");
  cr_assert_str_eq(read_events(), want);
  cr_assert_eq(crpc_future_wait(f), 0);
  crpc_future_unref(f);
  cr_assert_str_eq(read_events(), want);
  crpc_server_free(srv);
  strcat(want, "stopped\n");
  cr_assert_str_eq(read_events(), want);
}

Test(module, a_server_never_started_only_stops, .init = make_events_file,
     .fini = drop_events_file, .timeout = 30) {
  char ev_arg[96];
  snprintf(ev_arg, sizeof(ev_arg), "events=%s", events);
  const char *args[] = {ev_arg};
  crpc_server *srv = new_server();
  char err[512];
  cr_assert_eq(load(srv, args, 1, err, sizeof(err)), 0, "%s", err);
  crpc_server_free(srv);
  char want[256];
  snprintf(want, sizeof(want), "init events=%s\nstopped\n", events);
  cr_assert_str_eq(read_events(), want);
}

Test(module, failing_init_says_why_and_still_stops, .init = make_events_file,
     .fini = drop_events_file, .timeout = 30) {
  char ev_arg[96], err[512], want[256];
  snprintf(ev_arg, sizeof(ev_arg), "events=%s", events);
  const char *args[] = {ev_arg, "fail=no upstream= given"};
  crpc_server *srv = new_server();
  cr_assert_eq(load(srv, args, 2, err, sizeof(err)), -1);
  snprintf(want, sizeof(want),
           "module %s: crpc_module_init_v1 failed: no upstream= given",
           CONFIG_MODULE);
  cr_assert_str_eq(err, want);
  crpc_server_free(srv);
  snprintf(want, sizeof(want), "init %s fail=no upstream= given\nstopped\n",
           ev_arg);
  cr_assert_str_eq(read_events(), want);
}

Test(module, init_return_values_are_named, .timeout = 30) {
  static const struct {
    const char *arg;
    int rc;
    const char *says;
  } cases[] = {
      {"return=-1", -1, "crpc_module_init_v1 returned -1"},
      {"return=7", 7, "crpc_module_init_v1 returned 7"},
      {"return=-1003", CRPC_EINVAL,
       "crpc_module_init_v1 failed: CRPC_EINVAL (invalid argument)"},
      {"return=0", CRPC_ESTATE, "crpc_module_init_v1 added no services"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char err[512], want[512];
    crpc_server *srv = new_server();
    cr_assert_eq(load(srv, &cases[i].arg, 1, err, sizeof(err)), cases[i].rc,
                 "%s", cases[i].arg);
    snprintf(want, sizeof(want), "module %s: %s", CONFIG_MODULE, cases[i].says);
    cr_assert_str_eq(err, want);
    crpc_server_free(srv);
  }
}

Test(module, malformed_settings_are_refused, .timeout = 30) {
  const char *bad[] = {"novalue", "=x"};
  for (size_t i = 0; i < 2; i++) {
    char err[512], want[512];
    crpc_server *srv = new_server();
    cr_assert_eq(load(srv, &bad[i], 1, err, sizeof(err)), CRPC_EINVAL);
    snprintf(want, sizeof(want), "module %s: argument '%s' is not KEY=VALUE",
             CONFIG_MODULE, bad[i]);
    cr_assert_str_eq(err, want);
    crpc_server_free(srv);
  }
}

/* The accessors, on a handle the suite fills as the loader does. */
Test(module, argument_accessors, .timeout = 10) {
  char *keys[] = {"a", "b", "a"}, *values[] = {"1", "", "3"};
  crpc_module m = {
      .path = "./x.so", .keys = keys, .values = values, .n_args = 3};
  cr_assert_str_eq(crpc_module_arg(&m, "a"), "3");
  cr_assert_str_eq(crpc_module_arg(&m, "b"), "");
  cr_assert_null(crpc_module_arg(&m, "c"));
  cr_assert_eq(crpc_module_arg_count(&m), 3);
  const char *k, *v;
  cr_assert_eq(crpc_module_arg_at(&m, 1, &k, &v), 0);
  cr_assert_str_eq(k, "b");
  cr_assert_str_eq(v, "");
  cr_assert_eq(crpc_module_arg_at(&m, 3, &k, &v), CRPC_ENOTFOUND);
  cr_assert_str_eq(crpc_module_path(&m), "./x.so");
  cr_assert_eq(crpc_module_on_shutdown(&m, NULL, NULL), CRPC_EINVAL);
}
