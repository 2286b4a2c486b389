/*
 * server/server.c: the server object: its loops and workers, services and
 * routes, listen addresses, start and graceful shutdown.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crpc/error.h"
#include "h2io.h"
#include "health.h"
#include "log_internal.h"
#include "metrics_http.h"
#include "module.h"
#include "server_internal.h"
#include "tls.h"
#include "watchdog.h"

#define CRPC__DEFAULT_MAX_MESSAGE (4u * 1024 * 1024)
/* crpc_server_opts.message_cache_bytes by default: four loops' calls of
 * 1 MiB, 32 at once, with their replies and unpacked requests. With the
 * 32 MiB the pool kept before, a loop took fresh memory for most of them
 * (43-53k page faults in 2.5 s, against the 25k of their first touch). */
#define CRPC__SERVER_MSG_CACHE_BYTES ((size_t)128 << 20)

void crpc_server_opts_init(crpc_server_opts *opts) {
  *opts = (crpc_server_opts){0};
}

static unsigned cpu_count(void) {
  unsigned n = uv_available_parallelism();
  return n ? n : 1;
}

static void set_error(crpc_server *srv, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_error(crpc_server *srv, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(srv->err, sizeof(srv->err), fmt, ap);
  va_end(ap);
}

const char *crpc_server_error(const crpc_server *srv) {
  return srv->err;
}

/* Closes the loops' handles with |cb| (NULL for the server's own loops,
 * which crpc_loop_free() then runs until they are closed). */
static void close_loop_handles(crpc_server *srv, uv_close_cb cb) {
  for (unsigned i = 0; i < srv->n_loops; i++)
    srv->app_closing += crpc__sloop_close_handles(&srv->loops[i], cb);
}

/* Frees the loops (the server's own) and what each sloop holds; their
 * handles are closed. */
static void free_loops(crpc_server *srv) {
  for (unsigned i = 0; i < srv->n_loops; i++)
    crpc__sloop_cleanup(&srv->loops[i]);
  free(srv->loops);
  srv->loops = NULL;
}

int crpc_server_new(const crpc_server_opts *opts, crpc_server **out) {
  crpc_server *srv = calloc(1, sizeof(*srv));
  if (!srv)
    return CRPC_ENOMEM;
  if (opts)
    srv->opts = *opts;
  crpc_server_opts *o = &srv->opts;
  if (!o->loops)
    o->loops = cpu_count();
  if (!o->workers)
    o->workers = cpu_count();
  if (!o->worker_queue_max)
    o->worker_queue_max = 4096;
  if (!o->max_receive_bytes)
    o->max_receive_bytes = CRPC__DEFAULT_MAX_MESSAGE;
  if (!o->max_send_bytes)
    o->max_send_bytes = CRPC__DEFAULT_MAX_MESSAGE;
  if (!o->message_cache_bytes)
    o->message_cache_bytes = CRPC__SERVER_MSG_CACHE_BYTES;
  else if (o->message_cache_bytes == CRPC_MESSAGE_CACHE_OFF)
    o->message_cache_bytes = 0;
  srv->h2limits = crpc__h2limits_or_default(&(crpc__h2limits){
      .max_streams = o->max_concurrent_streams,
      .max_header_list = o->max_header_list_bytes,
      .idle_frame_burst = o->idle_frames_burst,
      .idle_frame_rate = o->idle_frames_per_second,
      .stream_window = o->stream_window_bytes ? o->stream_window_bytes
                                              : CRPC__H2_SERVER_STREAM_WINDOW,
      .conn_window = o->connection_window_bytes,
  });
  o->max_concurrent_streams = srv->h2limits.max_streams;
  o->max_header_list_bytes = srv->h2limits.max_header_list;
  o->idle_frames_burst = srv->h2limits.idle_frame_burst;
  o->idle_frames_per_second = srv->h2limits.idle_frame_rate;
  o->stream_window_bytes = srv->h2limits.stream_window;
  o->connection_window_bytes = srv->h2limits.conn_window;
  if (!o->drain_ms)
    o->drain_ms = 5000;
  if (!o->handshake_timeout_ms)
    o->handshake_timeout_ms = 10000;
  if (!o->max_workers)
    o->max_workers = o->workers + 64;
  if (o->max_workers < o->workers)
    o->max_workers = o->workers;
  if (!o->max_worker_calls_per_connection)
    o->max_worker_calls_per_connection =
        o->max_workers / 2 ? o->max_workers / 2 : 1;
  if (!o->max_send_buffer_bytes)
    o->max_send_buffer_bytes = 2 * o->max_send_bytes > (16u << 20)
                                   ? 2 * o->max_send_bytes
                                   : (16u << 20);
  if (!o->pressure_stall_ms)
    o->pressure_stall_ms = 1000;
  if (!o->stall_timeout_ms)
    o->stall_timeout_ms = 300000;
  if (!o->loop_stall_ms)
    o->loop_stall_ms = 100;
  if (!o->keepalive_timeout_ms)
    o->keepalive_timeout_ms = 20000;
  if (!o->min_ping_interval_ms)
    o->min_ping_interval_ms = 300000;
  uv_mutex_init(&srv->mu);
  atomic_init(&srv->stalled_calls, 0);
  atomic_init(&srv->refused_conns, 0);
  atomic_init(&srv->open_conns, 0);
  atomic_init(&srv->held_calls, 0);
  atomic_init(&srv->parked_calls, 0);
  for (int i = 0; i < CRPC__REJECT_COUNT; i++)
    atomic_init(&srv->rejected[i], 0);

  int rc = crpc__server_metrics_init(srv);
  if (rc != 0)
    goto fail;
  crpc_pool_opts po;
  crpc_pool_opts_init(&po);
  po.threads = o->workers;
  po.max_threads = o->max_workers;
  po.queue_max = o->worker_queue_max;
  if ((rc = crpc_pool_new(&po, &srv->pool)) != 0)
    goto fail;
  if (o->loop)
    o->loops = 1;
  srv->loops = calloc(o->loops, sizeof(*srv->loops));
  if (!srv->loops) {
    rc = CRPC_ENOMEM;
    goto fail;
  }
  for (unsigned i = 0; i < o->loops; i++) {
    if ((rc = crpc__sloop_init(&srv->loops[i], srv, i)) != 0)
      goto fail;
    srv->n_loops = i + 1;
  }
  srv->health = crpc__health_new();
  if (!srv->health) {
    rc = CRPC_ENOMEM;
    goto fail;
  }
  crpc_service *hs = crpc__health_service(srv->health);
  if (!hs) {
    rc = CRPC_ENOMEM;
    goto fail;
  }
  hs->builtin = 1;
  hs->next = srv->services;
  srv->services = hs;
  crpc__health_set(srv->health, "", CRPC_HEALTH_SERVING);
  /* Last, once nothing can fail: handles on an application's loop close
   * only as it runs. */
  for (unsigned i = 0; i < srv->n_loops; i++)
    crpc__sloop_open_handles(&srv->loops[i]);
  *out = srv;
  return 0;

fail:
  free_loops(srv); /* no handle is open yet */
  crpc_pool_free(srv->pool);
  for (crpc_service *s = srv->services, *n; s; s = n) {
    n = s->next;
    crpc_service_free(s);
  }
  crpc__health_free(srv->health);
  crpc__server_metrics_free(srv);
  uv_mutex_destroy(&srv->mu);
  free(srv);
  return rc;
}

int crpc_server_add_service(crpc_server *srv, crpc_service *svc) {
  if (!svc)
    return CRPC_EINVAL;
  if (srv->started) {
    crpc_service_free(svc);
    set_error(srv, "services must be added before the server starts");
    return CRPC_ESTATE;
  }
  for (crpc_service *s = srv->services; s; s = s->next) {
    if (strcmp(s->desc->name, svc->desc->name) == 0) {
      set_error(srv, "service %s added twice", svc->desc->name);
      crpc_service_free(svc);
      return CRPC_EALREADY;
    }
  }
  svc->next = srv->services;
  srv->services = svc;
  crpc__health_set(srv->health, svc->desc->name, CRPC_HEALTH_SERVING);
  return 0;
}

int crpc_server_add_interceptor(crpc_server *srv, const crpc_interceptor *ic) {
  if (srv->started) {
    set_error(srv, "interceptors must be added before the server starts");
    return CRPC_ESTATE;
  }
  return crpc__ichain_add(&srv->chain, ic);
}

/* Eight bytes a step, then a final mix for the low bits the table uses:
 * every call hashes its path, and a byte at a time (FNV-1a) was one
 * multiply per byte in a chain, 1.5 % of a unary call's time. */
static size_t hash_path(const char *p, size_t n) {
  const uint64_t k = 0x9e3779b97f4a7c15u;
  uint64_t h = n * k;
  uint64_t w;
  for (; n >= 8; p += 8, n -= 8) {
    memcpy(&w, p, 8);
    h = (h ^ w) * k;
    h ^= h >> 32;
  }
  w = 0;
  memcpy(&w, p, n);
  h = (h ^ w) * k;
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9u;
  h ^= h >> 32;
  return (size_t)h;
}

static int build_routes(crpc_server *srv) {
  size_t n = 0;
  for (crpc_service *s = srv->services; s; s = s->next)
    n += s->desc->n_methods;
  size_t cap = 16;
  while (cap < n * 2)
    cap *= 2;
  crpc__ichain all;
  if (crpc__server_metrics_chain(srv, &all) != 0)
    return CRPC_ENOMEM;
  for (crpc_service *s = srv->services; s; s = s->next) {
    crpc__ichain_free(&s->chain);
    if ((all.n || s->own.n) &&
        crpc__ichain_concat(&s->chain, &all, &s->own) != 0) {
      crpc__ichain_free(&all);
      return CRPC_ENOMEM;
    }
  }
  crpc__ichain_free(&all);
  crpc__route *r = calloc(cap, sizeof(*r));
  if (!r)
    return CRPC_ENOMEM;
  for (crpc_service *s = srv->services; s; s = s->next) {
    for (size_t i = 0; i < s->desc->n_methods; i++) {
      const crpc_method *m = &s->desc->methods[i];
      size_t len = strlen(m->path);
      size_t at = hash_path(m->path, len) & (cap - 1);
      while (r[at].path)
        at = (at + 1) & (cap - 1);
      const void *fn = NULL;
      memcpy(&fn, (const char *)s->handlers + m->handler_offset, sizeof(fn));
      r[at] = (crpc__route){.path = m->path,
                            .path_len = len,
                            .svc = s,
                            .method = m,
                            .placement = s->placement[i],
                            .implemented = fn != NULL && m->invoke != NULL};
    }
  }
  srv->routes = r;
  srv->route_cap = cap;
  return 0;
}

const crpc__route *crpc__server_route(const crpc_server *srv, const char *path,
                                      size_t len) {
  size_t at = hash_path(path, len) & (srv->route_cap - 1);
  for (;;) {
    const crpc__route *r = &srv->routes[at];
    if (!r->path)
      return NULL;
    if (r->path_len == len && memcmp(r->path, path, len) == 0)
      return r;
    at = (at + 1) & (srv->route_cap - 1);
  }
}

/* Copies the |n| |names| into one allocation: the pointers, then the
 * strings. NULL when out of memory. */
static char **names_copy(const char *const *names, size_t n) {
  size_t size = n * sizeof(char *);
  for (size_t i = 0; i < n; i++)
    size += strlen(names[i]) + 1;
  char **out = malloc(size);
  if (!out)
    return NULL;
  char *at = (char *)(out + n);
  for (size_t i = 0; i < n; i++) {
    size_t len = strlen(names[i]) + 1;
    memcpy(at, names[i], len);
    out[i] = at;
    at += len;
  }
  return out;
}

/* Gives |l| the TLS of |tls|: its context and its client names. Returns
 * 0, or an error with its message in the server's error buffer. */
static int acceptor_tls(crpc_server *srv, crpc__acceptor *l,
                        const crpc_tls_opts *tls) {
  if (!tls->cert_file || !tls->key_file) {
    set_error(srv, "TLS needs both a certificate and a key file");
    return CRPC_EINVAL;
  }
  if (tls->n_client_names && !tls->client_ca_file) {
    set_error(srv, "TLS client names need a client CA file: without one no "
                   "client certificate is asked for");
    return CRPC_EINVAL;
  }
  for (size_t i = 0; i < tls->n_client_names; i++) {
    if (!tls->client_names || !tls->client_names[i] ||
        !tls->client_names[i][0]) {
      set_error(srv, "TLS client name %zu is empty", i);
      return CRPC_EINVAL;
    }
  }
  if (tls->n_client_names) {
    l->client_names = names_copy(tls->client_names, tls->n_client_names);
    if (!l->client_names)
      return CRPC_ENOMEM;
    l->n_client_names = tls->n_client_names;
  }
  return crpc__tls_ctx_new_server(tls->cert_file, tls->key_file,
                                  tls->client_ca_file, &l->tls, srv->err,
                                  sizeof(srv->err));
}

static void acceptor_free(crpc__acceptor *l) {
  crpc__tls_ctx_free(l->tls);
  free(l->client_names);
  free(l->addr);
  free(l->shown);
  free(l);
}

int crpc_server_listen(crpc_server *srv, const char *addr,
                       const crpc_tls_opts *tls) {
  if (!addr || !*addr) {
    set_error(srv, "empty listen address");
    return CRPC_EINVAL;
  }
  if (srv->started) {
    set_error(srv, "listen addresses must be added before the server starts");
    return CRPC_ESTATE;
  }
  crpc__acceptor *l = calloc(1, sizeof(*l));
  if (!l || !(l->addr = strdup(addr))) {
    free(l);
    return CRPC_ENOMEM;
  }
  l->srv = srv;
  l->port = -1;
  int rc = tls ? acceptor_tls(srv, l, tls) : 0;
  if (rc == 0)
    rc = crpc__acceptor_open(srv, l);
  if (rc != 0) {
    acceptor_free(l);
    return rc;
  }
  /* Keep the order of the calls: crpc_server_port() indexes it. */
  crpc__acceptor **tail = &srv->listeners;
  while (*tail)
    tail = &(*tail)->next;
  *tail = l;
  srv->n_listeners++;
  return 0;
}

int crpc_server_port(const crpc_server *srv, size_t index) {
  const crpc__acceptor *l = srv->listeners;
  for (size_t i = 0; l && i < index; i++)
    l = l->next;
  return l ? l->port : -1;
}

static void log_start(crpc_server *srv) {
  const crpc_logger *lg = &srv->opts.logger;
  for (crpc__acceptor *l = srv->listeners; l; l = l->next)
    crpc__log(lg, CRPC_LOG_INFO, "listening on %s (%s)", l->shown,
              l->tls ? "tls" : "h2c");
  if (srv->metrics_http)
    crpc__log(lg, CRPC_LOG_INFO, "metrics on http://%s/metrics",
              crpc__metrics_http_address(srv->metrics_http));
  for (crpc_service *s = srv->services; s; s = s->next) {
    for (size_t i = 0; i < s->desc->n_methods; i++) {
      const crpc_method *m = &s->desc->methods[i];
      crpc__log(lg, CRPC_LOG_INFO, "method %s (%s) runs on %s", m->path,
                crpc_method_kind_name(m->kind),
                crpc_placement_name(s->placement[i]));
    }
  }
  if (srv->opts.loop)
    crpc__log(lg, CRPC_LOG_INFO,
              "on the application's loop, %u worker thread%s (at most %u)",
              srv->opts.workers, srv->opts.workers == 1 ? "" : "s",
              srv->opts.max_workers);
  else
    crpc__log(lg, CRPC_LOG_INFO,
              "%u loop thread%s, %u worker thread%s (at most %u)", srv->n_loops,
              srv->n_loops == 1 ? "" : "s", srv->opts.workers,
              srv->opts.workers == 1 ? "" : "s", srv->opts.max_workers);
}

/* Starts the watchdog of the server's loops, before they run. */
static int start_watchdog(crpc_server *srv) {
  crpc_loop **loops = calloc(srv->n_loops, sizeof(*loops));
  if (!loops)
    return CRPC_ENOMEM;
  for (unsigned i = 0; i < srv->n_loops; i++)
    loops[i] = srv->loops[i].loop;
  int rc = crpc__watchdog_new(loops, srv->n_loops, srv->opts.loop_stall_ms,
                              &srv->opts.logger, &srv->watchdog);
  free(loops);
  if (rc != 0)
    set_error(srv, "cannot start the loop watchdog: %s", crpc_strerror(rc));
  return rc;
}

int crpc_server_start(crpc_server *srv) {
  if (srv->started) {
    set_error(srv, "the server is already started");
    return CRPC_ESTATE;
  }
  int rc = crpc__access_log_install(srv);
  if (rc == 0)
    rc = build_routes(srv);
  if (rc != 0)
    return rc;
  if ((rc = crpc__server_metrics_start(srv)) != 0)
    return rc;
  if (!srv->watchdog && (rc = start_watchdog(srv)) != 0)
    return rc;
  for (unsigned i = 0; i < srv->n_loops; i++)
    crpc__sloop_start(&srv->loops[i]);
  for (unsigned i = 0; i < srv->n_loops && srv->loops[i].own_loop; i++) {
    if ((rc = crpc_loop_start_thread(srv->loops[i].loop)) != 0) {
      for (unsigned j = 0; j < i; j++)
        crpc_loop_stop(srv->loops[j].loop);
      set_error(srv, "cannot start a loop thread: %s", crpc_strerror(rc));
      return rc;
    }
  }
  srv->started = 1;
  log_start(srv);
  return 0;
}

void crpc__server_loop_drained(crpc_server *srv) {
  uv_mutex_lock(&srv->mu);
  int all = ++srv->loops_drained == srv->n_loops;
  uv_mutex_unlock(&srv->mu);
  if (all) {
    crpc__log(&srv->opts.logger, CRPC_LOG_INFO, "shutdown complete");
    crpc_future_complete(srv->shutdown_f, CRPC_STATUS_OK, NULL, NULL, NULL);
  }
}

crpc_future *crpc_server_shutdown(crpc_server *srv) {
  uv_mutex_lock(&srv->mu);
  if (!srv->shutdown_f) {
    if (crpc_future_new(NULL, &srv->shutdown_f) != 0) {
      uv_mutex_unlock(&srv->mu);
      return NULL;
    }
  }
  int first = !srv->shutdown_started;
  srv->shutdown_started = 1;
  int lame = first && srv->started && srv->opts.lame_duck_ms > 0;
  if (first)
    srv->lame_duck = lame;
  crpc_future *f = crpc_future_ref(srv->shutdown_f);
  uv_mutex_unlock(&srv->mu);
  if (!first) {
    /* A second call cuts the lame-duck period short. */
    crpc__server_end_lame_duck(srv);
    return f;
  }
  if (!srv->started) {
    crpc_future_complete(srv->shutdown_f, CRPC_STATUS_OK, NULL, NULL, NULL);
    return f;
  }
  if (lame)
    crpc__log(&srv->opts.logger, CRPC_LOG_INFO,
              "shutting down: lame duck for %u ms (health NOT_SERVING, "
              "calls still served), then draining calls for up to %u ms",
              srv->opts.lame_duck_ms, srv->opts.drain_ms);
  else
    crpc__log(&srv->opts.logger, CRPC_LOG_INFO,
              "shutting down: draining calls for up to %u ms",
              srv->opts.drain_ms);
  crpc__health_shutdown(srv->health);
  crpc__modules_notify(srv, CRPC_MODULE_DRAINING);
  if (lame) {
    crpc__sloop_post_lame_duck(&srv->loops[0]);
    return f;
  }
  for (unsigned i = 0; i < srv->n_loops; i++)
    crpc__sloop_post_shutdown(&srv->loops[i]);
  return f;
}

void crpc__server_end_lame_duck(crpc_server *srv) {
  uv_mutex_lock(&srv->mu);
  int was = srv->lame_duck;
  srv->lame_duck = 0;
  uv_mutex_unlock(&srv->mu);
  if (!was)
    return;
  crpc__log(&srv->opts.logger, CRPC_LOG_INFO,
            "lame duck over: draining calls for up to %u ms",
            srv->opts.drain_ms);
  for (unsigned i = 0; i < srv->n_loops; i++)
    crpc__sloop_post_shutdown(&srv->loops[i]);
}

static void close_listener_task(void *arg) {
  crpc_server *srv = arg;
  for (crpc__acceptor *l = srv->listeners; l; l = l->next)
    crpc__acceptor_close(l);
}

/* What is left once the loops are done with the server. */
static void server_release(crpc_server *srv) {
  free_loops(srv);
  crpc__modules_free(srv);
  for (crpc__acceptor *l = srv->listeners, *n; l; l = n) {
    n = l->next;
    acceptor_free(l);
  }
  for (crpc_service *s = srv->services, *n; s; s = n) {
    n = s->next;
    crpc_service_free(s);
  }
  crpc__health_free(srv->health);
  if (srv->shutdown_f)
    crpc_future_unref(srv->shutdown_f);
  crpc__ichain_free(&srv->chain);
  crpc__server_metrics_free(srv);
  free(srv->routes);
  uv_mutex_destroy(&srv->mu);
  free(srv);
}

/* On an application loop: a handle of the server has closed; the last
 * one releases it. */
static void app_closed(crpc_server *srv) {
  if (--srv->app_closing == 0)
    server_release(srv);
}

static void on_app_sloop_closed(uv_handle_t *h) {
  app_closed(((crpc__sloop *)h->data)->srv);
}

static void on_app_listener_closed(uv_handle_t *h) {
  app_closed(((crpc__acceptor *)h->data)->srv);
}

static void on_app_metrics_closed(void *srv) {
  app_closed(srv);
}

static void app_free(crpc_server *srv);

static void app_free_after_shutdown(crpc_future *f, void *arg) {
  (void)f;
  app_free(arg);
}

/* crpc_server_free() on an application loop: once the shutdown is over
 * (a continuation until then), stops the workers and closes the handles,
 * counting them: the last close callback frees the rest. Loop thread. */
static void app_free(crpc_server *srv) {
  if (srv->started &&
      !(srv->shutdown_f && crpc_future_is_done(srv->shutdown_f))) {
    crpc_future *f = crpc_server_shutdown(srv);
    crpc__server_end_lame_duck(srv); /* freeing waits out no lame duck */
    if (!f || crpc_future_then(f, app_free_after_shutdown, srv) != 0)
      crpc__log(&srv->opts.logger, CRPC_LOG_ERROR,
                "out of memory: the server cannot be freed");
    crpc_future_unref(f);
    return;
  }
  crpc__watchdog_free(srv->watchdog);
  srv->watchdog = NULL;
  crpc_pool_free(srv->pool);
  srv->pool = NULL;
  crpc__modules_notify(srv, CRPC_MODULE_STOPPED);
  srv->app_closing = 1; /* held while the closes are made */
  for (crpc__acceptor *l = srv->listeners; l; l = l->next) {
    if (l->open) {
      l->open = 0;
      uv_close(&l->h.handle, on_app_listener_closed);
      srv->app_closing++;
    }
  }
  close_loop_handles(srv, on_app_sloop_closed);
  srv->app_closing +=
      crpc__server_metrics_close(srv, on_app_metrics_closed, srv);
  app_closed(srv);
}

void crpc_server_free(crpc_server *srv) {
  if (!srv)
    return;
  if (srv->opts.loop) {
    app_free(srv);
    return;
  }
  if (srv->started) {
    crpc_future *f = crpc_server_shutdown(srv);
    crpc__server_end_lame_duck(srv); /* freeing waits out no lame duck */
    if (f) {
      crpc_future_wait(f);
      crpc_future_unref(f);
    }
    /* The metrics page reads the watchdog: no page from here on. */
    crpc__server_metrics_stop(srv);
    /* Before the loops stop, which it would take for stalls. */
    crpc__watchdog_free(srv->watchdog);
    srv->watchdog = NULL;
    /* Listeners are closed by the shutdown; let their close run. */
    for (unsigned i = 0; i < srv->n_loops; i++)
      crpc_loop_stop(srv->loops[i].loop);
  } else if (srv->listeners) {
    /* Never started: close the listeners on the (idle) first loop. */
    close_listener_task(srv);
  }
  /* Handlers that ignore cancellation finish before the pool goes. */
  crpc_pool_free(srv->pool);
  srv->pool = NULL;
  /* The loop threads have stopped: their handles are ours to close, and
   * crpc_loop_free() (in free_loops) runs the loops until they are. */
  close_loop_handles(srv, NULL);
  crpc__server_metrics_close(srv, NULL, NULL);
  /* Nothing of the modules' runs any more: they may free what it used. */
  crpc__modules_notify(srv, CRPC_MODULE_STOPPED);
  server_release(srv);
}

/* Appends the methods of |s| to |out| (up to |cap|) from |*n|. */
static void list_service(const crpc_service *s, int builtin,
                         crpc_server_method_info *out, size_t cap, size_t *n) {
  for (size_t i = 0; i < s->desc->n_methods; i++, (*n)++) {
    if (*n >= cap)
      continue;
    const crpc_method *m = &s->desc->methods[i];
    const void *fn = NULL;
    memcpy(&fn, (const char *)s->handlers + m->handler_offset, sizeof(fn));
    out[*n] = (crpc_server_method_info){.service = s->desc,
                                        .method = m,
                                        .placement = s->placement[i],
                                        .implemented =
                                            fn != NULL && m->invoke != NULL,
                                        .builtin = builtin};
  }
}

/* Lists the services of |srv| from the end of the list (the first added)
 * back, the built-in ones (|builtin| 1) or the others (0). */
static void list_services(const crpc_service *s, int builtin,
                          crpc_server_method_info *out, size_t cap, size_t *n) {
  if (!s)
    return;
  list_services(s->next, builtin, out, cap, n);
  if (s->builtin == builtin)
    list_service(s, builtin, out, cap, n);
}

size_t crpc_server_methods(const crpc_server *srv, crpc_server_method_info *out,
                           size_t cap) {
  size_t n = 0;
  list_services(srv->services, 0, out, cap, &n);
  list_services(srv->services, 1, out, cap, &n);
  return n;
}

void crpc_server_stats_get(crpc_server *srv, crpc_server_stats *out) {
  crpc_pool_stats_get(srv->pool, &out->workers);
  out->loop_stalls = srv->watchdog ? crpc__watchdog_stalls(srv->watchdog) : 0;
  out->stalled_calls = atomic_load(&srv->stalled_calls);
  out->connections = atomic_load(&srv->open_conns);
  out->refused_connections = atomic_load(&srv->refused_conns);
  out->held_calls = atomic_load(&srv->held_calls);
  out->parked_calls = atomic_load(&srv->parked_calls);
  out->streams = out->bytes_received = out->bytes_sent = 0;
  for (unsigned i = 0; i < srv->n_loops; i++) {
    crpc__sloop *sl = &srv->loops[i];
    out->streams += atomic_load_explicit(&sl->streams, memory_order_relaxed);
    out->bytes_received +=
        atomic_load_explicit(&sl->h2.bytes_read, memory_order_relaxed);
    out->bytes_sent +=
        atomic_load_explicit(&sl->h2.bytes_written, memory_order_relaxed);
  }
}

int crpc_server_set_health(crpc_server *srv, const char *service,
                           crpc_health_status status) {
  if (!service)
    return CRPC_EINVAL;
  return crpc__health_set(srv->health, service, status);
}
