/*
 * client/channel.c: channels, their subchannels (one per address), load
 * balancing and reconnection. Everything past crpc_channel_new() runs on
 * the channel's loop thread.
 *
 * A subchannel goes IDLE -> CONNECTING -> READY, or to FAILED when an
 * attempt fails, and back to IDLE when its backoff has passed (gRPC's
 * connection-backoff: 1 s, times 1.6, +-20% jitter, at most 120 s). A
 * ready connection that is lost or sent GOAWAY leaves its subchannel IDLE,
 * reconnected at once when calls are waiting.
 *
 * Calls wait in |pending| while the channel is connecting. A channel with
 * no address READY or CONNECTING and none left to try is failing: its
 * fail-fast calls end UNAVAILABLE with the last error, and its
 * wait-for-ready calls keep waiting (until their deadline).
 *
 * Which subchannels there are is resolve.c's: the target's addresses, or
 * its name's latest answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "client_internal.h"
#include "crpc/error.h"
#include "log_internal.h"
#include "resolve.h"

#define DEFAULT_MAX_MESSAGE (4u * 1024 * 1024)
#define DEFAULT_BACKOFF_MS 1000
#define DEFAULT_BACKOFF_MAX_MS 120000
#define DEFAULT_CONNECT_TIMEOUT_MS 20000
#define DEFAULT_CONNS_PER_ADDRESS 16
#define MAX_CONNS_PER_ADDRESS 256
#define DEFAULT_KEEPALIVE_TIMEOUT_MS 20000
#define DEFAULT_RESOLVE_INTERVAL_MS 30000
#define CRPC_USER_AGENT "crpc-c/0.1"

void crpc_channel_opts_init(crpc_channel_opts *opts) {
  memset(opts, 0, sizeof(*opts));
}

static void apply_defaults(crpc_channel_opts *o) {
  if (!o->max_receive_bytes)
    o->max_receive_bytes = DEFAULT_MAX_MESSAGE;
  if (!o->max_send_bytes)
    o->max_send_bytes = DEFAULT_MAX_MESSAGE;
  if (!o->keepalive_timeout_ms)
    o->keepalive_timeout_ms = DEFAULT_KEEPALIVE_TIMEOUT_MS;
  if (!o->backoff_initial_ms)
    o->backoff_initial_ms = DEFAULT_BACKOFF_MS;
  if (!o->backoff_max_ms)
    o->backoff_max_ms = DEFAULT_BACKOFF_MAX_MS;
  if (o->backoff_max_ms < o->backoff_initial_ms)
    o->backoff_max_ms = o->backoff_initial_ms;
  if (!o->connect_timeout_ms)
    o->connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
  if (!o->max_connections_per_address)
    o->max_connections_per_address = DEFAULT_CONNS_PER_ADDRESS;
  if (o->max_connections_per_address > MAX_CONNS_PER_ADDRESS)
    o->max_connections_per_address = MAX_CONNS_PER_ADDRESS;
  if (!o->resolve_interval_ms)
    o->resolve_interval_ms = DEFAULT_RESOLVE_INTERVAL_MS;
  if (!o->message_cache_bytes)
    o->message_cache_bytes = CRPC__MSG_CACHE_BYTES;
  else if (o->message_cache_bytes == CRPC_MESSAGE_CACHE_OFF)
    o->message_cache_bytes = 0;
}

static const crpc_logger *lg(crpc_channel *ch) {
  return &ch->opts.logger;
}

/* Handles. */

static void closed_now(crpc_channel *ch);

void crpc__channel_handle_closed(crpc_channel *ch) {
  if (--ch->open_handles == 0 && ch->closing)
    closed_now(ch);
}

static void on_handle_closed(uv_handle_t *h) {
  crpc__channel_handle_closed(h->data);
}

static void on_retry_closed(uv_handle_t *h) {
  crpc__sub *sub = h->data;
  crpc__channel_handle_closed(sub->ch);
}

static void on_flush(uv_prepare_t *p) {
  crpc__h2group_flush(&((crpc_channel *)p->data)->h2);
}

static void on_msgs_sweep(uv_timer_t *t) {
  crpc_channel *ch = t->data;
  if (crpc__msg_cache_trim(ch->msgs) == 0)
    uv_timer_stop(t); /* until the next large message */
}

void crpc__channel_note_large_message(crpc_channel *ch) {
  if (!uv_is_active((uv_handle_t *)&ch->msgs_sweep) &&
      ch->opts.message_cache_bytes > 0)
    uv_timer_start(&ch->msgs_sweep, on_msgs_sweep, CRPC__MSG_CACHE_SWEEP_MS,
                   CRPC__MSG_CACHE_SWEEP_MS);
}

static void channel_start(crpc__task *t) {
  crpc_channel *ch =
      (crpc_channel *)((char *)t - offsetof(crpc_channel, start_task));
  uv_prepare_init(crpc_loop_uv(ch->loop), &ch->flush);
  ch->flush.data = ch;
  uv_prepare_start(&ch->flush, on_flush);
  uv_unref((uv_handle_t *)&ch->flush);
  /* Looking a name up again on a timer keeps no loop running. */
  uv_timer_init(crpc_loop_uv(ch->loop), &ch->resolve_timer);
  ch->resolve_timer.data = ch;
  uv_unref((uv_handle_t *)&ch->resolve_timer);
  (void)crpc__timerq_open(&ch->timers, crpc_loop_uv(ch->loop)); /* a timer */
  uv_timer_init(crpc_loop_uv(ch->loop), &ch->msgs_sweep);
  ch->msgs_sweep.data = ch;
  uv_unref((uv_handle_t *)&ch->msgs_sweep);
  ch->open_handles += 4;
  ch->started = 1;
}

/* Readiness waiters (crpc_channel_connect). */

static void complete_waiters(crpc_channel *ch, crpc_status code,
                             const char *msg) {
  for (size_t i = 0; i < ch->n_ready_waiters; i++) {
    crpc_future_complete(ch->ready_waiters[i], code, msg, NULL, NULL);
    crpc_future_unref(ch->ready_waiters[i]);
  }
  ch->n_ready_waiters = 0;
}

/* Picking a connection. */

static int sub_usable(const crpc__sub *s) {
  return s->state == CRPC__SUB_READY && s->conn &&
         s->conn->state == CRPC__CLIENT_CONN_READY;
}

/* The streams |c|'s server lets it run at once. */
static uint32_t stream_limit(const crpc__client_conn *c) {
  return nghttp2_session_get_remote_settings(
      c->h2.ng, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
}

/* The ready connection of |s| with the fewest calls; |*full| says whether
 * even that one has as many as its server allows. */
static crpc__client_conn *least_loaded(const crpc__sub *s, int *full) {
  crpc__client_conn *best = s->conn;
  for (size_t i = 0; i < s->n_more; i++) {
    crpc__client_conn *c = s->more[i];
    if (c->state == CRPC__CLIENT_CONN_READY && c->n_calls < best->n_calls)
      best = c;
  }
  *full = best->n_calls >= stream_limit(best);
  return best;
}

static crpc__client_conn *pick(crpc_channel *ch) {
  if (ch->opts.lb_policy == CRPC_LB_ROUND_ROBIN) {
    for (size_t i = 0; i < ch->n_subs; i++) {
      size_t k = (ch->rr_next + i) % ch->n_subs;
      if (sub_usable(ch->subs[k])) {
        ch->rr_next = k + 1;
        return ch->subs[k]->conn;
      }
    }
    return NULL;
  }
  for (size_t i = 0; i < ch->n_subs; i++)
    if (sub_usable(ch->subs[i]))
      return ch->subs[i]->conn;
  return NULL;
}

static void sub_connect(crpc__sub *sub) {
  char why[200];
  int rc = crpc__client_conn_start(sub);
  if (rc != 0) {
    snprintf(why, sizeof(why), "cannot connect to %s: %s", sub->addr.name,
             crpc_strerror(rc));
    crpc__sub_on_failed(sub, why);
  }
}

void crpc__channel_connect_some(crpc_channel *ch) {
  if (ch->closing)
    return;
  if (!ch->resolved) {
    crpc__channel_resolve(ch);
    return;
  }
  if (ch->opts.lb_policy == CRPC_LB_ROUND_ROBIN) {
    for (size_t i = 0; i < ch->n_subs; i++)
      if (ch->subs[i]->state == CRPC__SUB_IDLE)
        sub_connect(ch->subs[i]);
    return;
  }
  for (size_t i = 0; i < ch->n_subs; i++)
    if (ch->subs[i]->state == CRPC__SUB_READY ||
        ch->subs[i]->state == CRPC__SUB_CONNECTING)
      return;
  for (size_t i = 0; i < ch->n_subs; i++) {
    if (ch->subs[i]->state == CRPC__SUB_IDLE) {
      sub_connect(ch->subs[i]);
      return;
    }
  }
}

int crpc__channel_is_failing(crpc_channel *ch) {
  if (!ch->resolved)
    return ch->error[0] != '\0' && !ch->resolving;
  for (size_t i = 0; i < ch->n_subs; i++)
    if (ch->subs[i]->state != CRPC__SUB_FAILED)
      return 0;
  return 1;
}

/* The subchannel |pick| would choose, for a new call. */
static crpc__sub *pick_sub(crpc_channel *ch) {
  crpc__client_conn *c = pick(ch);
  return c ? c->sub : NULL;
}

/* Whether a call for |sub|, whose connections are all full, should wait
 * for another connection: one being opened has room for it, or one is
 * opened now. With nothing more to open it goes to a full connection,
 * whose HTTP/2 session holds it back until a stream ends. */
static int wait_for_more(crpc_channel *ch, crpc__sub *sub) {
  uint32_t per_conn = stream_limit(sub->conn);
  size_t connecting = 0;
  for (size_t i = 0; i < sub->n_more; i++)
    connecting += sub->more[i]->state == CRPC__CLIENT_CONN_CONNECTING;
  if (ch->n_pending < connecting * per_conn)
    return 1;
  if (1 + sub->n_more >= ch->opts.max_connections_per_address ||
      uv_now(crpc_loop_uv(ch->loop)) < sub->more_after_ms)
    return 0;
  return crpc__client_conn_start_more(sub) == 0;
}

static void pending_push(crpc_channel *ch, crpc__client_call *call) {
  call->pending = 1;
  call->pend_next = NULL;
  if (ch->pending.tail)
    ch->pending.tail->pend_next = call;
  else
    ch->pending.head = call;
  ch->pending.tail = call;
  ch->n_pending++;
}

static void pending_remove(crpc_channel *ch, crpc__client_call *call) {
  crpc__client_call **p = &ch->pending.head, *prev = NULL;
  while (*p && *p != call) {
    prev = *p;
    p = &(*p)->pend_next;
  }
  if (!*p)
    return;
  *p = call->pend_next;
  if (ch->pending.tail == call)
    ch->pending.tail = prev;
  call->pend_next = NULL;
  call->pending = 0;
  ch->n_pending--;
}

void crpc__channel_unqueue(crpc_channel *ch, crpc__client_call *call) {
  if (call->pending)
    pending_remove(ch, call);
}

void crpc__channel_fail_waiting(crpc_channel *ch) {
  crpc__client_call_list keep = {NULL, NULL};
  size_t kept = 0;
  crpc__client_call *c = ch->pending.head;
  ch->pending.head = ch->pending.tail = NULL;
  ch->n_pending = 0;
  while (c) {
    crpc__client_call *next = c->pend_next;
    c->pend_next = NULL;
    if (c->wait_for_ready) {
      if (keep.tail)
        keep.tail->pend_next = c;
      else
        keep.head = c;
      keep.tail = c;
      kept++;
    } else {
      c->pending = 0;
      crpc__client_call_end(c, CRPC_STATUS_UNAVAILABLE, ch->error);
    }
    c = next;
  }
  /* Calls ended above may have queued others meanwhile (retries). */
  if (keep.head) {
    keep.tail->pend_next = ch->pending.head;
    if (!ch->pending.head)
      ch->pending.tail = keep.tail;
    ch->pending.head = keep.head;
    ch->n_pending += kept;
  }
  complete_waiters(ch, CRPC_STATUS_UNAVAILABLE, ch->error);
}

void crpc__channel_dispatch(crpc_channel *ch, crpc__client_call *call) {
  CRPC__ASSERT_LOOP_THREAD(ch->loop);
  if (ch->closing) {
    crpc__client_call_end(call, CRPC_STATUS_CANCELLED,
                          "the channel was closed");
    return;
  }
  crpc__sub *sub = pick_sub(ch);
  if (sub) {
    int full;
    crpc__client_conn *c = least_loaded(sub, &full);
    if (full && wait_for_more(ch, sub)) {
      pending_push(ch, call);
      return;
    }
    int rc = crpc__client_conn_submit(c, call);
    if (rc == 0)
      return;
    char why[160];
    snprintf(why, sizeof(why), "cannot start the call: %s", crpc_strerror(rc));
    crpc__client_call_end(call, CRPC_STATUS_INTERNAL, why);
    return;
  }
  crpc__channel_connect_some(ch);
  if (crpc__channel_is_failing(ch) && !call->wait_for_ready) {
    crpc__client_call_end(call, CRPC_STATUS_UNAVAILABLE, ch->error);
    return;
  }
  pending_push(ch, call);
}

static void run_pending(crpc_channel *ch);

static void retry_run(crpc__task *t) {
  crpc_channel *ch =
      (crpc_channel *)((char *)t - offsetof(crpc_channel, retry_task));
  ch->retry_posted = 0;
  run_pending(ch);
}

void crpc__channel_room(crpc_channel *ch) {
  CRPC__ASSERT_LOOP_THREAD(ch->loop);
  if (!ch->pending.head || ch->retry_posted || ch->closing)
    return;
  ch->retry_posted = 1;
  ch->retry_task.fn = retry_run;
  crpc__loop_post_task(ch->loop, &ch->retry_task);
}

/* Gives every waiting call a connection, once one is ready. */
static void run_pending(crpc_channel *ch) {
  crpc__client_call *c = ch->pending.head;
  ch->pending.head = ch->pending.tail = NULL;
  ch->n_pending = 0;
  while (c) {
    crpc__client_call *next = c->pend_next;
    c->pend_next = NULL;
    c->pending = 0;
    crpc__channel_dispatch(ch, c);
    c = next;
  }
}

/* Subchannel transitions. */

void crpc__sub_on_ready(crpc__sub *sub) {
  crpc_channel *ch = sub->ch;
  sub->state = CRPC__SUB_READY;
  sub->backoff_ms = 0;
  ch->error[0] = '\0';
  crpc__log(lg(ch), CRPC_LOG_DEBUG, "%s: ready", sub->addr.name);
  complete_waiters(ch, CRPC_STATUS_OK, NULL);
  run_pending(ch);
}

static void on_retry_timer(uv_timer_t *t) {
  crpc__sub *sub = t->data;
  crpc_channel *ch = sub->ch;
  if (sub->state != CRPC__SUB_FAILED)
    return;
  sub->state = CRPC__SUB_IDLE;
  if (ch->pending.head || ch->n_ready_waiters ||
      ch->opts.lb_policy == CRPC_LB_ROUND_ROBIN)
    crpc__channel_connect_some(ch);
}

void crpc__sub_on_failed(crpc__sub *sub, const char *why) {
  crpc_channel *ch = sub->ch;
  sub->state = CRPC__SUB_FAILED;
  snprintf(sub->error, sizeof(sub->error), "%s", why);
  snprintf(ch->error, sizeof(ch->error), "%s", why);
  sub->backoff_ms = crpc__backoff_step(
      sub->backoff_ms, ch->opts.backoff_initial_ms, ch->opts.backoff_max_ms);
  uint64_t wait = crpc__backoff_jitter(sub->backoff_ms, ch->loop);
  crpc__log(lg(ch), CRPC_LOG_DEBUG, "%s: %s; next attempt in %llu ms",
            sub->addr.name, why, (unsigned long long)wait);
  if (!ch->closing)
    uv_timer_start(&sub->retry, on_retry_timer, wait, 0);
  crpc__channel_connect_some(ch); /* pick first: the next address */
  if (crpc__channel_is_failing(ch)) {
    crpc__channel_fail_waiting(ch);
    crpc__channel_resolve_soon(ch); /* the name may have moved on */
  }
}

void crpc__sub_on_lost(crpc__sub *sub) {
  crpc_channel *ch = sub->ch;
  sub->state = CRPC__SUB_IDLE;
  if (ch->closing)
    return;
  if (ch->pending.head || ch->opts.lb_policy == CRPC_LB_ROUND_ROBIN)
    crpc__channel_connect_some(ch);
}

/* Creating, connecting and closing. */

static int dup_opt(const char *s, char **out) {
  *out = NULL;
  if (!s)
    return 0;
  *out = strdup(s);
  return *out ? 0 : CRPC_ENOMEM;
}

static void channel_release(crpc_channel *ch) {
  crpc__tls_ctx_free(ch->tls);
  crpc__target_cleanup(&ch->target);
  free(ch->target_text);
  crpc__ichain_free(&ch->chain);
  free(ch->tls_ca_file);
  free(ch->tls_server_name);
  free(ch->tls_cert_file);
  free(ch->tls_key_file);
  free(ch->user_agent);
  for (size_t i = 0; i < ch->n_subs; i++) {
    free(ch->subs[i]->more);
    free(ch->subs[i]);
  }
  free(ch->subs);
  free(ch->ready_waiters);
  crpc_future_unref(ch->closed);
  crpc__arena_cleanup(&ch->scratch);
  crpc__msg_cache_unref(ch->msgs);
  crpc__timerq_cleanup(&ch->timers);
  crpc__h2group_cleanup(&ch->h2);
  free(ch);
}

int crpc_channel_new(const char *target, const crpc_channel_opts *opts,
                     crpc_channel **out) {
  crpc_channel *ch = calloc(1, sizeof(*ch));
  int rc;
  if (!ch)
    return CRPC_ENOMEM;
  crpc__arena_init(&ch->scratch, NULL, 0, 0);
  if (opts)
    ch->opts = *opts;
  apply_defaults(&ch->opts);
  rc = crpc__target_parse(target, &ch->target);
  if (rc != 0) {
    free(ch);
    return rc;
  }
  rc = dup_opt(target, &ch->target_text);
  for (size_t i = 0;
       ch->opts.interceptors && i < ch->opts.n_interceptors && rc == 0; i++)
    rc = crpc__ichain_add(&ch->chain, &ch->opts.interceptors[i]);
  ch->opts.interceptors = NULL;
  ch->opts.n_interceptors = 0;
  rc |= dup_opt(ch->opts.tls_ca_file, &ch->tls_ca_file);
  rc |= dup_opt(ch->opts.tls_server_name, &ch->tls_server_name);
  rc |= dup_opt(ch->opts.tls_cert_file, &ch->tls_cert_file);
  rc |= dup_opt(ch->opts.tls_key_file, &ch->tls_key_file);
  size_t ualen = (ch->opts.user_agent ? strlen(ch->opts.user_agent) : 0) +
                 sizeof(CRPC_USER_AGENT) + 1;
  ch->user_agent = malloc(ualen);
  if (ch->user_agent)
    snprintf(ch->user_agent, ualen, "%s%s%s",
             ch->opts.user_agent ? ch->opts.user_agent : "",
             ch->opts.user_agent ? " " : "", CRPC_USER_AGENT);
  ch->msgs = crpc__msg_cache_new(ch->opts.message_cache_bytes);
  if (rc != 0 || !ch->user_agent || !ch->msgs ||
      crpc_future_new(NULL, &ch->closed) != 0) {
    channel_release(ch);
    return CRPC_ENOMEM;
  }
  ch->opts.tls_ca_file = ch->tls_ca_file;
  ch->opts.tls_server_name = ch->tls_server_name;
  ch->opts.tls_cert_file = ch->tls_cert_file;
  ch->opts.tls_key_file = ch->tls_key_file;
  ch->opts.user_agent = NULL;
  if (ch->opts.tls) {
    char err[CRPC__TLS_ERR_MAX];
    rc = crpc__tls_ctx_new_client(ch->tls_ca_file, ch->tls_cert_file,
                                  ch->tls_key_file, &ch->tls, err, sizeof(err));
    if (rc != 0) {
      crpc__log(lg(ch), CRPC_LOG_ERROR, "channel to %s: %s", target, err);
      channel_release(ch);
      return rc;
    }
  }
  if (ch->opts.loop) {
    ch->loop = ch->opts.loop;
  } else {
    crpc_loop_opts lo;
    crpc_loop_opts_init(&lo);
    lo.logger = ch->opts.logger;
    rc = crpc_loop_new(NULL, &lo, &ch->loop);
    if (rc == 0) {
      rc = crpc_loop_start_thread(ch->loop);
      if (rc != 0)
        crpc_loop_free(ch->loop);
    }
    if (rc != 0) {
      channel_release(ch);
      return rc;
    }
    ch->owns_loop = 1;
  }
  rc = crpc__h2group_init(&ch->h2, ch->loop);
  ch->h2.limits = crpc__h2limits_or_default(&(crpc__h2limits){
      .stream_window = ch->opts.stream_window_bytes,
      .conn_window = ch->opts.connection_window_bytes,
  });
  if (rc == 0) {
    ch->start_task.fn = channel_start;
    rc = crpc__loop_post_task(ch->loop, &ch->start_task);
  }
  if (rc != 0) {
    if (ch->owns_loop) {
      crpc_loop_stop(ch->loop);
      crpc_loop_free(ch->loop);
    }
    channel_release(ch);
    return rc;
  }
  *out = ch;
  return 0;
}

typedef struct connect_req {
  crpc__task task;
  crpc_channel *ch;
  crpc_future *f;
} connect_req;

static void connect_run(crpc__task *t) {
  connect_req *r = (connect_req *)t;
  crpc_channel *ch = r->ch;
  crpc_future *f = r->f;
  free(r);
  crpc__loop_release(ch->loop);
  if (ch->closing) {
    crpc_future_complete(f, CRPC_STATUS_CANCELLED, "the channel was closed",
                         NULL, NULL);
    crpc_future_unref(f);
    return;
  }
  if (pick(ch)) {
    crpc_future_complete(f, CRPC_STATUS_OK, NULL, NULL, NULL);
    crpc_future_unref(f);
    return;
  }
  if (ch->n_ready_waiters == ch->cap_ready_waiters) {
    size_t cap = ch->cap_ready_waiters ? ch->cap_ready_waiters * 2 : 4;
    crpc_future **w = realloc(ch->ready_waiters, cap * sizeof(*w));
    if (!w) {
      crpc_future_complete(f, CRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory",
                           NULL, NULL);
      crpc_future_unref(f);
      return;
    }
    ch->ready_waiters = w;
    ch->cap_ready_waiters = cap;
  }
  ch->ready_waiters[ch->n_ready_waiters++] = f;
  /* A failed address waiting out its backoff is tried again now. */
  for (size_t i = 0; i < ch->n_subs; i++) {
    if (ch->subs[i]->state == CRPC__SUB_FAILED) {
      uv_timer_stop(&ch->subs[i]->retry);
      ch->subs[i]->state = CRPC__SUB_IDLE;
    }
  }
  crpc__channel_connect_some(ch);
}

crpc_future *crpc_channel_connect(crpc_channel *ch) {
  crpc_future *f;
  connect_req *r = malloc(sizeof(*r));
  if (!r || crpc_future_new(NULL, &f) != 0) {
    free(r);
    return NULL;
  }
  r->task.fn = connect_run;
  r->ch = ch;
  r->f = crpc_future_ref(f);
  crpc__loop_hold(ch->loop);
  if (crpc__loop_post_task(ch->loop, &r->task) != 0) {
    crpc__loop_release(ch->loop);
    crpc_future_unref(f);
    crpc_future_complete(f, CRPC_STATUS_CANCELLED, "the channel was closed",
                         NULL, NULL);
    crpc_future_unref(f);
    free(r);
  }
  return f;
}

static void close_run(crpc__task *t) {
  crpc_channel *ch =
      (crpc_channel *)((char *)t - offsetof(crpc_channel, close_task));
  ch->closing = 1;
  /* Calls first: they end CANCELLED while their connections still exist. */
  while (ch->live)
    crpc__client_call_end(ch->live, CRPC_STATUS_CANCELLED,
                          "the channel was closed");
  complete_waiters(ch, CRPC_STATUS_CANCELLED, "the channel was closed");
  for (size_t i = 0; i < ch->n_subs; i++) {
    crpc__sub *s = ch->subs[i];
    if (s->conn)
      crpc__client_conn_close(s->conn, "the channel was closed");
    while (s->n_more) /* each close takes itself off |more| */
      crpc__client_conn_close(s->more[s->n_more - 1], "the channel was closed");
    uv_close((uv_handle_t *)&s->retry, on_retry_closed);
  }
  if (ch->resolving)
    uv_cancel((uv_req_t *)&ch->gai);
  if (ch->started) {
    uv_close((uv_handle_t *)&ch->flush, on_handle_closed);
    uv_close((uv_handle_t *)&ch->resolve_timer, on_handle_closed);
    uv_close((uv_handle_t *)&ch->msgs_sweep, on_handle_closed);
    crpc__timerq_close(&ch->timers, on_handle_closed, ch);
  }
  crpc__h2group_flush(&ch->h2);
  if (ch->open_handles == 0)
    closed_now(ch);
}

/* The last step of every free: releases |ch| and says so. */
static void channel_finish(void *arg) {
  crpc_channel *ch = arg;
  crpc_logger lg = ch->opts.logger;
  char target[160];
  snprintf(target, sizeof(target), "%s",
           ch->target.authority ? ch->target.authority : "?");
  channel_release(ch);
  crpc__log(&lg, CRPC_LOG_DEBUG, "channel to %s closed", target);
}

/* A channel freed on its own loop, now closed. Runs as a task, so that no
 * close callback is still using the channel. */
static void free_run(crpc__task *t) {
  crpc_channel *ch =
      (crpc_channel *)((char *)t - offsetof(crpc_channel, free_task));
  if (ch->owns_loop)
    crpc__loop_retire(ch->loop, channel_finish, ch); /* its thread frees */
  else
    channel_finish(ch);
}

/* Every handle has closed. Loop thread. Once |closed| completes, a thread
 * waiting in crpc_channel_free() may free |ch| at once: nothing of it is
 * touched after. */
static void closed_now(crpc_channel *ch) {
  if (ch->free_when_closed) {
    /* Freed on the loop's own thread: nobody waits on |closed|, and the
     * free task runs on a later turn. */
    ch->free_task.fn = free_run;
    crpc__loop_post_task(ch->loop, &ch->free_task);
  }
  crpc_future_complete(ch->closed, CRPC_STATUS_OK, NULL, NULL, NULL);
}

void crpc_channel_free(crpc_channel *ch) {
  if (!ch)
    return;
  ch->close_task.fn = close_run;
  if (crpc_loop_is_current(ch->loop)) {
    /* Waiting here would stall the very loop that closes the channel. */
    ch->free_when_closed = 1;
    crpc__loop_post_task(ch->loop, &ch->close_task);
    return;
  }
  if (crpc__loop_post_task(ch->loop, &ch->close_task) == 0)
    crpc_future_wait(ch->closed);
  if (ch->owns_loop) {
    crpc_loop_stop(ch->loop);
    crpc_loop_free(ch->loop);
  }
  channel_finish(ch);
}
