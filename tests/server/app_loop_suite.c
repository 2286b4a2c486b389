/*
 * tests/server/app_loop_suite.c: a server and a client on one application
 * loop, in one thread: the server runs its connections and coroutine
 * handlers on the application's uv_loop_t (crpc_server_opts.loop), worker
 * handlers on its pool, and frees itself on that loop; the loop then has
 * nothing left open.
 */
#define _GNU_SOURCE /* <uv.h> */

#include <criterion/criterion.h>
#include <stdio.h>
#include <uv.h>

#include "crpc/coro.h"
#include "crpc/error.h"
#include "mistakes.crpc.h"

static crpc_status answer(crpc_ctx *ctx, const Crpc__Mistakes__Ask *req,
                          Crpc__Mistakes__Answer *reply) {
  (void)req;
  reply->text = crpc_in_coroutine() ? "loop" : "worker";
  return crpc_ctx_loop(ctx) != NULL ? CRPC_STATUS_OK : CRPC_STATUS_INTERNAL;
}

static const crpc_mistakes_mistakes_handlers handlers = {
    .status = answer,      /* on a worker */
    .status_loop = answer, /* a coroutine on the application's loop */
};

/* Runs |uv| until |f| is done (at most 20 s of turns). */
static void run_until(uv_loop_t *uv, crpc_future *f) {
  uint64_t end = uv_hrtime() + 20000000000ull;
  while (!crpc_future_is_done(f) && uv_hrtime() < end)
    uv_run(uv, UV_RUN_ONCE);
  cr_assert(crpc_future_is_done(f), "still pending after 20 s");
}

static void free_cb(uv_handle_t *h, void *arg) {
  (void)arg;
  cr_assert_fail("handle of type %s left open", uv_handle_type_name(h->type));
}

Test(app_loop, server_and_client_on_one_application_loop, .timeout = 60) {
  uv_loop_t uv;
  cr_assert_eq(uv_loop_init(&uv), 0);
  crpc_loop *loop;
  cr_assert_eq(crpc_loop_new(&uv, NULL, &loop), 0);

  crpc_server_opts so;
  crpc_server_opts_init(&so);
  so.loop = loop;
  so.workers = 1;
  crpc_server *srv;
  cr_assert_eq(crpc_server_new(&so, &srv), 0);
  cr_assert_eq(crpc_server_add_service(
                   srv, crpc_mistakes_mistakes_service(&handlers, NULL)),
               0);
  cr_assert_eq(crpc_server_listen(srv, "127.0.0.1:0", NULL), 0);
  cr_assert_eq(crpc_server_start(srv), 0, "%s", crpc_server_error(srv));

  char target[64];
  snprintf(target, sizeof(target), "127.0.0.1:%d", crpc_server_port(srv, 0));
  crpc_channel_opts co;
  crpc_channel_opts_init(&co);
  co.loop = loop;
  crpc_channel *ch;
  cr_assert_eq(crpc_channel_new(target, &co, &ch), 0);

  Crpc__Mistakes__Ask ask = CRPC__MISTAKES__ASK__INIT;
  crpc_future *fs[2] = {
      crpc_mistakes_mistakes_status_async(ch, &ask, NULL),
      crpc_mistakes_mistakes_status_loop_async(ch, &ask, NULL)};
  crpc_future *all;
  cr_assert_eq(crpc_future_all(fs, 2, &all), 0);
  run_until(&uv, all);
  const char *want[2] = {"worker", "loop"};
  for (int i = 0; i < 2; i++) {
    Crpc__Mistakes__Answer *rep = NULL;
    cr_assert_eq(crpc_mistakes_mistakes_status_result(fs[i], &rep),
                 CRPC_STATUS_OK, "%s", crpc_future_message(fs[i]));
    cr_assert_str_eq(rep->text, want[i]);
    crpc__mistakes__answer__free_unpacked(rep, NULL);
    crpc_future_unref(fs[i]);
  }
  crpc_future_unref(all);

  crpc_server_stats st;
  crpc_server_stats_get(srv, &st);
  cr_assert_geq(st.workers.threads, 1);

  /* Both free themselves on the loop: it runs until they are gone. */
  crpc_channel_free(ch);
  crpc_server_free(srv);
  uv_run(&uv, UV_RUN_DEFAULT);
  crpc_loop_free(loop);
  uv_run(&uv, UV_RUN_DEFAULT);
  uv_walk(&uv, free_cb, NULL);
  cr_assert_eq(uv_loop_close(&uv), 0);
}

/* A server on an application loop that never started frees itself too. */
Test(app_loop, never_started, .timeout = 30) {
  uv_loop_t uv;
  cr_assert_eq(uv_loop_init(&uv), 0);
  crpc_loop *loop;
  cr_assert_eq(crpc_loop_new(&uv, NULL, &loop), 0);
  crpc_server_opts so;
  crpc_server_opts_init(&so);
  so.loop = loop;
  crpc_server *srv;
  cr_assert_eq(crpc_server_new(&so, &srv), 0);
  cr_assert_eq(crpc_server_listen(srv, "127.0.0.1:0", NULL), 0);
  crpc_server_free(srv);
  uv_run(&uv, UV_RUN_DEFAULT);
  crpc_loop_free(loop);
  uv_run(&uv, UV_RUN_DEFAULT);
  uv_walk(&uv, free_cb, NULL);
  cr_assert_eq(uv_loop_close(&uv), 0);
}
