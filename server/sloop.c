/*
 * server/sloop.c: one loop thread of the server (crpc__sloop): its handles
 * (the end-of-iteration flush of its connections, the sweep, the shutdown
 * timers), the memory its connections share (read buffer, nghttp2 cache,
 * header scratch, pooled calls), and its part of a shutdown: GOAWAY, the
 * final GOAWAY, the drain, and reporting itself drained. Each function
 * runs on the loop's thread unless it says otherwise.
 */
#include <stdlib.h>

#include "crpc/error.h"
#include "heap.h"
#include "log_internal.h"
#include "server_internal.h"

/* Connections or calls gone since the memory was last given back to the
 * system (session blocks count 1/16 each) past which it is again. */
#define RELEASE_AFTER 64

int crpc__sloop_init(crpc__sloop *sl, crpc_server *srv, unsigned index) {
  const crpc_server_opts *o = &srv->opts;
  if (o->loop) {
    sl->loop = o->loop;
  } else {
    crpc_loop_opts lo;
    crpc_loop_opts_init(&lo);
    lo.pool = srv->pool;
    lo.logger = o->logger;
    lo.busy_poll_us = o->busy_poll_us;
    lo.gather_us = o->gather_us;
    int rc = crpc_loop_new(NULL, &lo, &sl->loop);
    if (rc != 0) {
      sl->loop = NULL;
      return rc;
    }
    sl->own_loop = 1;
  }
  sl->srv = srv;
  int rc = crpc__h2group_init(&sl->h2, sl->loop);
  if (rc == 0 &&
      (sl->msgs = crpc__msg_cache_new(o->message_cache_bytes)) == NULL)
    rc = CRPC_ENOMEM;
  if (rc != 0) {
    crpc__h2group_cleanup(&sl->h2);
    if (sl->own_loop)
      crpc_loop_free(sl->loop);
    sl->own_loop = 0;
    sl->loop = NULL;
    return rc;
  }
  sl->h2.limits = srv->h2limits;
  crpc__arena_init(&sl->scratch, NULL, 0, 0);
  crpc__h2mem_init(&sl->h2mem);
  sl->index = index;
  return 0;
}

void crpc__sloop_cleanup(crpc__sloop *sl) {
  if (sl->own_loop)
    crpc_loop_free(sl->loop);
  crpc__server_call_pool_trim(sl, 1);
  crpc__timerq_cleanup(&sl->deadlines);
  crpc__h2mem_cleanup(&sl->h2mem);
  crpc__msg_cache_unref(sl->msgs);
  crpc__arena_cleanup(&sl->scratch);
  crpc__h2group_cleanup(&sl->h2);
}

void crpc__sloop_open_handles(crpc__sloop *sl) {
  uv_loop_t *uv = crpc_loop_uv(sl->loop);
  uv_prepare_init(uv, &sl->flush);
  sl->flush.data = sl;
  (void)crpc__timerq_open(&sl->deadlines, uv); /* a timer: cannot fail */
  uv_timer_init(uv, &sl->drain_timer);
  sl->drain_timer.data = sl;
  uv_timer_init(uv, &sl->goaway_timer);
  sl->goaway_timer.data = sl;
  uv_timer_init(uv, &sl->sweep);
  sl->sweep.data = sl;
  uv_timer_init(uv, &sl->lame_duck_timer);
  sl->lame_duck_timer.data = sl;
  uv_unref((uv_handle_t *)&sl->sweep);
  sl->handles_ready = 1;
}

unsigned crpc__sloop_close_handles(crpc__sloop *sl, uv_close_cb cb) {
  if (!sl->handles_ready)
    return 0;
  sl->handles_ready = 0;
  uv_close((uv_handle_t *)&sl->flush, cb);
  uv_close((uv_handle_t *)&sl->drain_timer, cb);
  uv_close((uv_handle_t *)&sl->goaway_timer, cb);
  uv_close((uv_handle_t *)&sl->sweep, cb);
  uv_close((uv_handle_t *)&sl->lame_duck_timer, cb);
  crpc__timerq_close(&sl->deadlines, cb, sl);
  return 6;
}

static void on_flush(uv_prepare_t *h) {
  crpc__h2group_flush(&((crpc__sloop *)h->data)->h2);
}

static void on_sweep(uv_timer_t *t) {
  crpc__sloop_sweep(t->data);
}

void crpc__sloop_start(crpc__sloop *sl) {
  const crpc_server_opts *o = &sl->srv->opts;
  uv_prepare_start(&sl->flush, on_flush);
  /* Often enough for the handshake, stall, idle, keepalive and age limits
   * (a quarter of the shortest one), and at least every second, so that
   * the caches are
   * trimmed and a burst's memory given back within a few seconds. */
  uint32_t shortest = o->handshake_timeout_ms;
  if (o->stall_timeout_ms < shortest)
    shortest = o->stall_timeout_ms;
  const uint32_t limits[] = {o->idle_timeout_ms, o->keepalive_time_ms,
                             o->max_connection_age_ms,
                             o->max_connection_age_grace_ms};
  for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++)
    if (limits[i] && limits[i] < shortest)
      shortest = limits[i];
  if (o->keepalive_time_ms && o->keepalive_timeout_ms < shortest)
    shortest = o->keepalive_timeout_ms;
  uint64_t every = shortest / 4 + 1;
  if (every > 1000)
    every = 1000;
  uv_timer_start(&sl->sweep, on_sweep, every, every);
}

void crpc__sloop_sweep(crpc__sloop *sl) {
  CRPC__ASSERT_LOOP_THREAD(sl->loop);
  uint64_t now = uv_now(crpc_loop_uv(sl->loop));
  /* Once a burst is over (many connections gone since the last sweep, or
   * many cached calls and session blocks freed now that the peak they
   * were kept for has passed), what it used goes back to the system: a
   * flood of connections or of streams leaves no lasting footprint. */
  sl->gone += sl->conns_peak - sl->n_conns;
  sl->gone += crpc__server_call_pool_trim(sl, 0);
  sl->gone += crpc__h2mem_trim(&sl->h2mem) / 16;
  crpc__msg_cache_trim(sl->msgs); /* what the last period did not need */
  sl->conns_peak = sl->n_conns;
  if (sl->gone >= RELEASE_AFTER && crpc__heap_release())
    sl->gone = 0;
  uint32_t limit = sl->srv->opts.handshake_timeout_ms;
  int64_t stall_ns = (int64_t)sl->srv->opts.stall_timeout_ms * 1000000;
  /* Under pressure (calls wait for a worker and none is idle), worker
   * calls that wait on their clients get a shorter time. */
  int64_t worker_stall_ns = stall_ns;
  size_t stalled = 0;
  if (sl->srv->pool &&
      sl->srv->opts.pressure_stall_ms < sl->srv->opts.stall_timeout_ms) {
    crpc_pool_stats ps;
    crpc_pool_stats_get(sl->srv->pool, &ps);
    if (ps.queued > 0 && ps.idle == 0)
      worker_stall_ns = (int64_t)sl->srv->opts.pressure_stall_ms * 1000000;
  }
  uint32_t idle = sl->srv->opts.idle_timeout_ms;
  for (crpc__server_conn *c = sl->conns, *n; c; c = n) {
    n = c->next;
    if (!c->h2.established && now - c->accepted_ms >= limit) {
      char why[80];
      snprintf(why, sizeof(why), "no HTTP/2 preface within %u ms",
               (unsigned)limit);
      crpc__h2conn_close(&c->h2, why);
      continue;
    }
    /* A header block holds the whole connection until it ends, so one
     * left unfinished (a slowloris) gets the handshake's time, no more. */
    if (c->h2.block_since_ms && now + 1 - c->h2.block_since_ms >= limit) {
      char why[80];
      snprintf(why, sizeof(why), "a header block not finished within %u ms",
               (unsigned)limit);
      crpc__h2conn_close(&c->h2, why);
      continue;
    }
    if (idle && c->h2.established && c->n_calls == 0 && !c->goaway_sent &&
        now - c->idle_since_ms >= idle) {
      /* GOAWAY, then the close once the session has nothing left. */
      crpc__log(&sl->srv->opts.logger, CRPC_LOG_DEBUG,
                "%s: no call for %u ms: closing", c->h2.name, (unsigned)idle);
      crpc__server_conn_final_goaway(c);
      continue;
    }
    if (crpc__server_conn_sweep(c, now))
      continue;
    /* Cancelling ends no stream at once (its close comes later), so the
     * list stays as it is while it is walked. */
    for (crpc__server_call *call = c->calls; call; call = call->next_in_conn)
      stalled += (size_t)crpc__server_call_cancel_if_stalled(
          call, (int64_t)now * 1000000,
          call->route && call->route->placement == CRPC_PLACEMENT_WORKER
              ? worker_stall_ns
              : stall_ns);
    crpc__server_conn_unpark(c); /* ends the parked calls just cancelled */
  }
  /* One line per sweep, not one per call: a client opening thousands of
   * stalled calls must not flood the log. */
  if (stalled)
    crpc__log(
        &sl->srv->opts.logger, CRPC_LOG_INFO,
        "%zu calls cancelled: their streams made no progress for %lld "
        "ms%s",
        stalled,
        (long long)((worker_stall_ns < stall_ns ? worker_stall_ns : stall_ns) /
                    1000000),
        worker_stall_ns < stall_ns ? " (every worker taken)" : "");
}

/* Shutdown. */

void crpc__sloop_check_drained(crpc__sloop *sl) {
  /* Drained: every connection closed, and every handler returned (a
   * handler whose call has ended may still be running). */
  if (!sl->shutting_down || sl->drained || sl->n_conns > 0 ||
      sl->n_handlers > 0)
    return;
  sl->drained = 1;
  uv_timer_stop(&sl->drain_timer);
  uv_timer_stop(&sl->goaway_timer);
  crpc__server_loop_drained(sl->srv);
}

static void on_goaway_timer(uv_timer_t *t) {
  crpc__sloop *sl = t->data;
  for (crpc__server_conn *c = sl->conns; c; c = c->next)
    crpc__server_conn_final_goaway(c);
}

static void on_drain_timer(uv_timer_t *t) {
  crpc__sloop *sl = t->data;
  size_t aborted = 0;
  for (crpc__server_conn *c = sl->conns; c; c = c->next) {
    for (crpc__server_call *call = c->calls, *n; call; call = n) {
      n = call->next_in_conn;
      crpc__server_count_rejected(sl->srv, CRPC__REJECT_SHUTTING_DOWN);
      crpc__server_call_abort(call, CRPC_STATUS_UNAVAILABLE,
                              "server shutting down: drain time is over");
      aborted++;
    }
    crpc__server_conn_final_goaway(c);
    crpc__h2conn_fail(&c->h2, "the drain time is over");
  }
  if (aborted)
    crpc__log(&sl->srv->opts.logger, CRPC_LOG_WARN,
              "drain time over: %zu call%s cancelled", aborted,
              aborted == 1 ? "" : "s");
}

static void shutdown_task(crpc__task *task) {
  crpc__sloop *sl =
      (crpc__sloop *)((char *)task - offsetof(crpc__sloop, shutdown_task));
  crpc_server *srv = sl->srv;
  sl->shutting_down = 1;
  uv_timer_stop(&sl->lame_duck_timer); /* cut short by a second shutdown */
  if (sl->index == 0) {
    for (crpc__acceptor *l = srv->listeners; l; l = l->next)
      crpc__acceptor_close(l);
  }
  for (crpc__server_conn *c = sl->conns; c; c = c->next)
    crpc__server_conn_shutdown_notice(c);
  /* A client that sent a stream just before the notice gets it served:
   * the final GOAWAY, with the last stream id, goes out a little later. */
  uv_timer_start(&sl->goaway_timer, on_goaway_timer, 100, 0);
  uv_timer_start(&sl->drain_timer, on_drain_timer, srv->opts.drain_ms, 0);
  crpc__sloop_check_drained(sl);
}

void crpc__sloop_post_shutdown(crpc__sloop *sl) {
  sl->shutdown_task.fn = shutdown_task;
  crpc__loop_post_task(sl->loop, &sl->shutdown_task);
}

static void on_lame_duck_timer(uv_timer_t *t) {
  crpc__sloop *sl = t->data;
  crpc__server_end_lame_duck(sl->srv);
}

static void lame_duck_task(crpc__task *task) {
  crpc__sloop *sl =
      (crpc__sloop *)((char *)task - offsetof(crpc__sloop, lame_duck_task));
  uv_timer_start(&sl->lame_duck_timer, on_lame_duck_timer,
                 sl->srv->opts.lame_duck_ms, 0);
}

void crpc__sloop_post_lame_duck(crpc__sloop *sl) {
  sl->lame_duck_task.fn = lame_duck_task;
  crpc__loop_post_task(sl->loop, &sl->lame_duck_task);
}
