/*
 * client/resolve.c: a channel's addresses. A target's literal addresses
 * are taken once; a name is looked up (uv_getaddrinfo, on the libuv
 * thread pool, answered on the channel's loop) when first needed, then
 * again every |resolve_interval_ms| and as soon as every address has
 * failed, no sooner than MIN_RESOLVE_GAP_MS after the last lookup began.
 * Everything here runs on the channel's loop thread.
 *
 * Each answer is matched against the subchannels by address: a new
 * address gets a subchannel, a kept one keeps its state and connections,
 * and a dropped one is retired: its connections take no new calls and
 * close once their calls have ended, and it is freed when its timer has
 * closed. A failed or empty answer changes nothing but is logged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"
#include "crpc/error.h"
#include "log_internal.h"
#include "resolve.h"

#define MIN_RESOLVE_GAP_MS 1000

static const crpc_logger *lg(crpc_channel *ch) {
  return &ch->opts.logger;
}

/* The timer of a subchannel whose address is gone has closed: nothing
 * refers to it any more. */
static void on_retired_closed(uv_handle_t *h) {
  crpc__sub *sub = h->data;
  crpc_channel *ch = sub->ch;
  free(sub->more);
  free(sub);
  crpc__channel_handle_closed(ch);
}

/* A subchannel for |addr|, not yet started: no handle is open. */
static crpc__sub *sub_new(crpc_channel *ch, const crpc__addr *addr) {
  crpc__sub *s = calloc(1, sizeof(*s));
  if (s) {
    s->ch = ch;
    s->addr = *addr;
  }
  return s;
}

static void sub_start(crpc__sub *s) {
  uv_timer_init(crpc_loop_uv(s->ch->loop), &s->retry);
  s->retry.data = s;
  s->ch->open_handles++;
}

/* |sub|'s address is gone: it takes no new calls, its calls in flight
 * finish on their connections, which then close, and it is freed once
 * its timer has closed. */
static void sub_retire(crpc__sub *sub) {
  crpc__log(lg(sub->ch), CRPC_LOG_DEBUG, "%s: no longer resolved",
            sub->addr.name);
  if (sub->conn)
    crpc__client_conn_retire(sub->conn);
  while (sub->n_more) /* each retire takes itself off |more| */
    crpc__client_conn_retire(sub->more[sub->n_more - 1]);
  uv_timer_stop(&sub->retry);
  uv_close((uv_handle_t *)&sub->retry, on_retired_closed);
}

/* Makes |addrs| the channel's addresses, in their order: a subchannel
 * whose address is among them is kept as it is, the others are retired.
 * Returns how many subchannels were added or retired, or CRPC_ENOMEM and
 * then nothing changed. */
static int set_addrs(crpc_channel *ch, const crpc__addr *addrs, size_t n) {
  size_t n_cur = ch->n_subs, added = 0, gone;
  crpc__sub **next = calloc(n, sizeof(*next));
  size_t *found = calloc(n, sizeof(*found));
  const crpc__addr **cur = calloc(n_cur + 1, sizeof(*cur));
  unsigned char *kept = calloc(n_cur + 1, 1);
  int rc = CRPC_ENOMEM;
  if (!next || !found || !cur || !kept)
    goto done;
  for (size_t j = 0; j < n_cur; j++)
    cur[j] = &ch->subs[j]->addr;
  gone = crpc__addrs_diff(cur, n_cur, addrs, n, found, kept);
  for (size_t i = 0; i < n; i++) {
    if (found[i] != SIZE_MAX) {
      next[i] = ch->subs[found[i]];
    } else if ((next[i] = sub_new(ch, &addrs[i])) != NULL) {
      added++;
    } else {
      for (size_t k = 0; k < i; k++)
        if (found[k] == SIZE_MAX)
          free(next[k]);
      goto done;
    }
  }
  for (size_t i = 0; i < n; i++) {
    if (found[i] == SIZE_MAX) {
      sub_start(next[i]);
      crpc__log(lg(ch), CRPC_LOG_DEBUG, "%s: resolved", next[i]->addr.name);
    }
  }
  for (size_t j = 0; j < n_cur; j++)
    if (!kept[j])
      sub_retire(ch->subs[j]);
  free(ch->subs);
  ch->subs = next;
  ch->n_subs = n;
  next = NULL;
  ch->resolved = 1;
  rc = (int)(added + gone);
done:
  free(next);
  free(found);
  free(cur);
  free(kept);
  return rc;
}

static void start_lookup(crpc_channel *ch);

static void on_resolve_timer(uv_timer_t *t) {
  start_lookup(t->data);
}

/* Arms the next periodic lookup of a resolved name. */
static void refresh_later(crpc_channel *ch) {
  uint32_t every = ch->opts.resolve_interval_ms;
  if (ch->closing || !ch->resolved || every == CRPC_RESOLVE_INTERVAL_OFF)
    return;
  uv_timer_start(&ch->resolve_timer, on_resolve_timer, every, 0);
}

/* Now, or once the last lookup is MIN_RESOLVE_GAP_MS old, so that a dead
 * name is not hammered (the addresses fail again only as their backoff
 * allows). */
void crpc__channel_resolve_soon(crpc_channel *ch) {
  if (ch->target.kind != CRPC__TARGET_DNS || !ch->resolved || ch->resolving ||
      ch->closing)
    return;
  uint64_t now = uv_now(crpc_loop_uv(ch->loop));
  uint64_t due = ch->resolve_started_ms + MIN_RESOLVE_GAP_MS;
  uint64_t wait = due > now ? due - now : 0;
  if (wait == 0) {
    start_lookup(ch);
    return;
  }
  if (uv_is_active((uv_handle_t *)&ch->resolve_timer) &&
      uv_timer_get_due_in(&ch->resolve_timer) <= wait)
    return;
  uv_timer_start(&ch->resolve_timer, on_resolve_timer, wait, 0);
}

/* A lookup failed or found nothing usable (|why|): a name never resolved
 * fails its calls; one resolved before keeps its addresses. */
static void lookup_failed(crpc_channel *ch, const char *why) {
  if (!ch->resolved) {
    snprintf(ch->error, sizeof(ch->error), "cannot resolve %s: %s",
             ch->target.host, why);
    crpc__channel_fail_waiting(ch);
    return;
  }
  crpc__log(lg(ch), CRPC_LOG_WARN,
            "cannot resolve %s again: %s; keeping its %zu address%s",
            ch->target.host, why, ch->n_subs, ch->n_subs == 1 ? "" : "es");
  refresh_later(ch);
}

static void on_resolved(uv_getaddrinfo_t *req, int status,
                        struct addrinfo *res) {
  crpc_channel *ch = req->data;
  crpc__addr *addrs = NULL;
  size_t n = 0;
  int rc = status;
  ch->resolving = 0;
  if (rc == 0)
    rc = crpc__addrs_from_addrinfo(res, &addrs, &n);
  uv_freeaddrinfo(res);
  if (ch->closing) {
    free(addrs);
    crpc__channel_handle_closed(ch); /* the lookup */
    return;
  }
  ch->open_handles--; /* the lookup */
  int first = !ch->resolved;
  if (rc == 0 && n > 0)
    rc = set_addrs(ch, addrs, n);
  free(addrs);
  if (rc < 0 || n == 0) {
    lookup_failed(ch, rc < 0 ? crpc_strerror(rc) : "no usable address");
    return;
  }
  refresh_later(ch);
  if (first) {
    crpc__channel_connect_some(ch);
    return;
  }
  if (rc == 0)
    return; /* the same addresses */
  crpc__log(lg(ch), CRPC_LOG_INFO, "%s now resolves to %zu address%s",
            ch->target.host, ch->n_subs, ch->n_subs == 1 ? "" : "es");
  if (ch->pending.head || ch->n_ready_waiters ||
      ch->opts.lb_policy == CRPC_LB_ROUND_ROBIN)
    crpc__channel_connect_some(ch);
  if (crpc__channel_is_failing(ch))
    crpc__channel_fail_waiting(ch); /* what is left all waits out its backoff */
  else
    crpc__channel_room(ch); /* calls that waited for a retired address */
}

/* Looks the name up, unless a lookup is under way. */
static void start_lookup(crpc_channel *ch) {
  if (ch->resolving || ch->closing)
    return;
  if (ch->started)
    uv_timer_stop(&ch->resolve_timer); /* armed again once it answers */
  struct addrinfo hints;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  ch->gai.data = ch;
  ch->resolve_started_ms = uv_now(crpc_loop_uv(ch->loop));
  int rc = uv_getaddrinfo(crpc_loop_uv(ch->loop), &ch->gai, on_resolved,
                          ch->target.host, ch->target.port, &hints);
  if (rc != 0) {
    lookup_failed(ch, crpc_strerror(rc));
    return;
  }
  ch->resolving = 1;
  ch->open_handles++;
}

void crpc__channel_resolve(crpc_channel *ch) {
  if (ch->resolving || ch->resolved)
    return;
  if (ch->target.kind == CRPC__TARGET_DNS) {
    start_lookup(ch);
    return;
  }
  if (set_addrs(ch, ch->target.addrs, ch->target.n_addrs) < 0) {
    snprintf(ch->error, sizeof(ch->error), "out of memory");
    crpc__channel_fail_waiting(ch);
    return;
  }
  crpc__channel_connect_some(ch);
}
