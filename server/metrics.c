/*
 * server/metrics.c: the server's metrics: its registry (crpc/metrics.h),
 * whose interceptor goes first on every call, the page that adds the
 * server's own gauges and counters to the registry's, and the endpoint of
 * metrics_listen that serves it (metrics_http.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crpc/error.h"
#include "metrics_http.h"
#include "metrics_internal.h"
#include "prom_text.h"
#include "server_internal.h"

static const char *const reject_labels[CRPC__REJECT_COUNT] = {
#define X(name, label) label,
    CRPC__REJECT_MAP(X)
#undef X
};

void crpc__server_count_rejected(crpc_server *srv, crpc__reject why) {
  atomic_fetch_add_explicit(&srv->rejected[why], 1, memory_order_relaxed);
}

int crpc__server_metrics_init(crpc_server *srv) {
  if (!srv->opts.metrics_listen)
    return 0;
  /* The options are the caller's: keep a copy of the address. */
  srv->metrics_listen = strdup(srv->opts.metrics_listen);
  srv->opts.metrics_listen = srv->metrics_listen;
  if (!srv->metrics_listen)
    return CRPC_ENOMEM;
  return crpc_metrics_new(&srv->metrics);
}

crpc_metrics *crpc_server_metrics(crpc_server *srv) {
  if (!srv->metrics && !srv->started && crpc_metrics_new(&srv->metrics) != 0)
    srv->metrics = NULL;
  return srv->metrics;
}

int crpc_server_metrics_port(const crpc_server *srv) {
  return srv->metrics_http ? crpc__metrics_http_port(srv->metrics_http) : -1;
}

static int render(void *srv, char **text, size_t *len) {
  return crpc_server_metrics_text(srv, text, len);
}

int crpc__server_metrics_chain(crpc_server *srv, crpc__ichain *out) {
  crpc__ichain first = {0};
  crpc_interceptor ic;
  if (srv->metrics) {
    ic = crpc_metrics_interceptor(srv->metrics);
    if (crpc__ichain_add(&first, &ic) != 0)
      return CRPC_ENOMEM;
  }
  int rc = crpc__ichain_concat(out, &first, &srv->chain);
  crpc__ichain_free(&first);
  return rc;
}

int crpc__server_metrics_start(crpc_server *srv) {
  if (!srv->metrics_listen || srv->metrics_http)
    return 0;
  int rc = crpc__metrics_http_open(
      crpc_loop_uv(srv->loops[0].loop), srv->metrics_listen, render, srv,
      &srv->opts.logger, &srv->metrics_http, srv->err, sizeof(srv->err));
  if (rc != 0 && strstr(srv->err, "metrics") == NULL) {
    char why[sizeof(srv->err)];
    snprintf(why, sizeof(why), "%s", srv->err);
    snprintf(srv->err, sizeof(srv->err), "metrics: %.480s", why);
  }
  return rc;
}

unsigned crpc__server_metrics_close(crpc_server *srv, void (*closed)(void *),
                                    void *arg) {
  return srv->metrics_http
             ? crpc__metrics_http_close(srv->metrics_http, closed, arg)
             : 0;
}

typedef struct stop_task {
  crpc_server *srv;
  crpc_future *done;
} stop_task;

static void stop_on_loop(void *arg) {
  stop_task *t = arg;
  crpc__metrics_http_close(t->srv->metrics_http, NULL, NULL);
  crpc_future_complete(t->done, CRPC_STATUS_OK, NULL, NULL, NULL);
}

void crpc__server_metrics_stop(crpc_server *srv) {
  stop_task t = {srv, NULL};
  if (!srv->metrics_http || crpc_future_new(NULL, &t.done) != 0)
    return;
  if (crpc_loop_post(srv->loops[0].loop, stop_on_loop, &t) == 0)
    crpc_future_wait(t.done);
  crpc_future_unref(t.done);
}

void crpc__server_metrics_free(crpc_server *srv) {
  crpc__metrics_http_free(srv->metrics_http);
  crpc_metrics_free(srv->metrics);
  free(srv->metrics_listen);
}

/* The server's own families. */

typedef struct gauge {
  const char *name, *help, *type;
  uint64_t value;
} gauge;

static int write_one(crpc__buf *b, const gauge *g) {
  int rc = crpc__prom_family(b, g->name, g->help, g->type);
  return rc == 0 ? crpc__prom_sample(b, g->name, NULL, NULL, g->value) : rc;
}

static int write_rejected(crpc__buf *b, crpc_server *srv) {
  static const char name[] = "crpc_server_rejected_calls_total";
  int rc = crpc__prom_family(
      b, name,
      "Calls the server refused or cut short before their handler could "
      "answer, by reason.",
      "counter");
  crpc__buf l;
  crpc__buf_init(&l, SIZE_MAX);
  for (int i = 0; i < CRPC__REJECT_COUNT && rc == 0; i++) {
    crpc__buf_reset(&l);
    rc = crpc__prom_label(&l, "reason", reject_labels[i],
                          strlen(reject_labels[i]));
    if (rc == 0)
      rc = crpc__buf_append(&l, "", 1);
    if (rc == 0)
      rc = crpc__prom_sample(
          b, name, NULL, (char *)crpc__buf_data(&l),
          atomic_load_explicit(&srv->rejected[i], memory_order_relaxed));
  }
  crpc__buf_cleanup(&l);
  return rc;
}

static int write_server(crpc__buf *b, crpc_server *srv) {
  crpc_server_stats st;
  crpc_server_stats_get(srv, &st);
  const gauge gauges[] = {
      {"crpc_server_connections", "Connections open now.", "gauge",
       st.connections},
      {"crpc_server_streams", "HTTP/2 streams (calls) open now.", "gauge",
       st.streams},
      {"crpc_server_worker_threads", "Worker pool threads alive.", "gauge",
       st.workers.threads},
      {"crpc_server_worker_threads_running",
       "Worker pool threads running a handler.", "gauge", st.workers.running},
      {"crpc_server_worker_threads_blocked",
       "Worker pool threads running a handler that waits inside crpc.", "gauge",
       st.workers.blocked},
      {"crpc_server_worker_threads_idle",
       "Worker pool threads waiting for work.", "gauge", st.workers.idle},
      {"crpc_server_worker_queue_length", "Calls waiting for a worker thread.",
       "gauge", st.workers.queued},
      {"crpc_server_worker_compensations_total",
       "Worker threads started beyond the pool's size to stand in for "
       "handlers waiting inside crpc.",
       "counter", st.workers.compensations},
      {"crpc_server_loop_stalls_total",
       "Times a loop thread was seen busy past loop_stall_ms.", "counter",
       st.loop_stalls},
      {"crpc_server_stalled_calls_total",
       "Calls cancelled because their stream made no progress.", "counter",
       st.stalled_calls},
      {"crpc_server_held_calls_total",
       "Worker calls that waited for their connection's share of the "
       "workers.",
       "counter", st.held_calls},
      {"crpc_server_parked_calls_total",
       "Calls that waited to start while their connection's unsent output "
       "was past max_send_buffer_bytes.",
       "counter", st.parked_calls},
      {"crpc_server_refused_connections_total",
       "Connections closed as accepted: max_connections were open.", "counter",
       st.refused_connections},
      {"crpc_server_received_bytes_total",
       "Bytes read from the connections' sockets, TLS included.", "counter",
       st.bytes_received},
      {"crpc_server_sent_bytes_total",
       "Bytes written to the connections' sockets, TLS included.", "counter",
       st.bytes_sent},
  };
  int rc = 0;
  for (size_t i = 0; i < sizeof(gauges) / sizeof(gauges[0]) && rc == 0; i++)
    rc = write_one(b, &gauges[i]);
  return rc == 0 ? write_rejected(b, srv) : rc;
}

int crpc_server_metrics_text(crpc_server *srv, char **text, size_t *len) {
  crpc__buf b;
  crpc__buf_init(&b, CRPC__METRICS_TEXT_MAX);
  int rc = srv->metrics ? crpc__metrics_render(srv->metrics, &b) : 0;
  if (rc == 0)
    rc = write_server(&b, srv);
  if (rc == 0)
    rc = crpc__buf_append(&b, "", 1);
  if (rc != 0) {
    crpc__buf_cleanup(&b);
    return rc;
  }
  size_t n;
  *text = (char *)crpc__buf_detach(&b, &n);
  *len = n - 1;
  return 0;
}
