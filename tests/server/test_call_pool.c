/*
 * tests/server/test_call_pool.c: a server loop keeps finished calls for
 * reuse, as many as its recent peak, and gives them back after a quiet
 * period (server/call.c). Calls go to the built-in health service over
 * 127.0.0.1; the loop's counters are read on the loop's own thread.
 */
#include <criterion/criterion.h>
#include <stdio.h>

#include "crpc/call.h"
#include "crpc/channel.h"
#include "crpc/error.h"
#include "crpc/future.h"
#include "crpc/server.h"
#include "grpc/health/v1/health.pb-c.h"
#include "health.h"
#include "server_internal.h"

static crpc_server *srv;
static crpc_channel *ch;

static void on_stop_sweep(void *arg) {
  crpc_future *done = arg;
  uv_timer_stop(&srv->loops[0].sweep);
  crpc_future_complete(done, CRPC_STATUS_OK, NULL, NULL, NULL);
}

/* The loop sweeps (and trims its pool) at least every second; here only
 * the test trims, so a slow run cannot have a sweep fall between two
 * probes. */
static void stop_sweep(void) {
  crpc_future *done;
  cr_assert_eq(crpc_future_new(NULL, &done), 0);
  cr_assert_eq(crpc_loop_post(srv->loops[0].loop, on_stop_sweep, done), 0);
  crpc_future_wait(done);
  crpc_future_unref(done);
}

static void start(void) {
  crpc_server_opts o;
  char target[64];
  crpc_server_opts_init(&o);
  o.loops = 1;
  o.workers = 1;
  cr_assert_eq(crpc_server_new(&o, &srv), 0);
  cr_assert_eq(crpc_server_listen(srv, "127.0.0.1:0", NULL), 0);
  cr_assert_eq(crpc_server_start(srv), 0, "%s", crpc_server_error(srv));
  snprintf(target, sizeof(target), "127.0.0.1:%d", crpc_server_port(srv, 0));
  cr_assert_eq(crpc_channel_new(target, NULL, &ch), 0);
  stop_sweep();
}

static void stop(void) {
  crpc_channel_free(ch);
  crpc_future *f = crpc_server_shutdown(srv);
  crpc_future_wait(f);
  crpc_future_unref(f);
  crpc_server_free(srv);
}

typedef struct pool_probe {
  int trims; /* trims to run first, as the sweep would */
  size_t n_free, live;
  crpc_future *cancel_f; /* the first free call's */
  int cancel_f_done;
  crpc_future *done;
} pool_probe;

static void on_loop(void *arg) {
  pool_probe *p = arg;
  crpc__sloop *sl = &srv->loops[0];
  for (int i = 0; i < p->trims; i++)
    crpc__server_call_pool_trim(sl, 0);
  p->n_free = sl->n_free_calls;
  p->live = sl->calls_live;
  if (sl->free_calls) {
    crpc__server_call *call = sl->free_calls;
    CRPC__POOL_UNPOISON(call, sizeof(*call));
    p->cancel_f = call->cancel_f;
    p->cancel_f_done = call->cancel_f && crpc_future_is_done(call->cancel_f);
    CRPC__POOL_POISON(call, sizeof(*call));
  }
  crpc_future_complete(p->done, CRPC_STATUS_OK, NULL, NULL, NULL);
}

/* The loop's pool after |trims| trims, read on its thread. */
static pool_probe probe(int trims) {
  pool_probe p = {.trims = trims};
  cr_assert_eq(crpc_future_new(NULL, &p.done), 0);
  cr_assert_eq(crpc_loop_post(srv->loops[0].loop, on_loop, &p), 0);
  crpc_future_wait(p.done);
  crpc_future_unref(p.done);
  return p;
}

static crpc_future *check_async(void) {
  static Grpc__Health__V1__HealthCheckRequest req =
      GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
  req.service = "";
  crpc_future *f =
      crpc_call_unary_async(ch, &crpc__health_desc.methods[0], &req.base, NULL);
  cr_assert_not_null(f);
  return f;
}

static void finish(crpc_future *f) {
  ProtobufCMessage *rep = NULL;
  cr_assert_eq(crpc_call_result(f, &rep), CRPC_STATUS_OK);
  protobuf_c_message_free_unpacked(rep, NULL);
  crpc_future_unref(f);
}

Test(call_pool, keeps_the_peak_then_gives_it_back, .init = start, .fini = stop,
     .timeout = 60) {
  /* One call at a time: one call object serves them all. */
  for (int i = 0; i < 50; i++)
    finish(check_async());
  pool_probe p = probe(0);
  cr_assert_eq(p.live, 0);
  cr_assert_eq(p.n_free, 1, "%zu calls kept after sequential calls", p.n_free);
  /* It keeps its cancellation future too, pending for the next call. */
  crpc_future *cancel_f = p.cancel_f;
  cr_assert_not_null(cancel_f);
  cr_assert_eq(p.cancel_f_done, 0);
  finish(check_async());
  p = probe(0);
  cr_assert_eq(p.n_free, 1);
  cr_assert_eq(p.cancel_f, cancel_f, "the same future serves the next call");

  /* A burst of 64: the pool keeps what the burst needed... */
  crpc_future *fs[64];
  for (int i = 0; i < 64; i++)
    fs[i] = check_async();
  for (int i = 0; i < 64; i++)
    finish(fs[i]);
  p = probe(0);
  cr_assert_eq(p.live, 0);
  cr_assert_gt(p.n_free, 1);
  cr_assert_leq(p.n_free, 64);
  size_t burst = p.n_free;

  /* ...through the sweep after the burst, and gives it all back at the
   * next one, with no call in between. */
  cr_assert_eq(probe(1).n_free, burst);
  cr_assert_eq(probe(1).n_free, 0);

  /* Calls still work from an empty pool. */
  finish(check_async());
  cr_assert_eq(probe(0).n_free, 1);
}
