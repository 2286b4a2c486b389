/*
 * server/health.c: the grpc.health.v1.Health service (Check and Watch) and
 * its registry of serving statuses. See health.h.
 */
#include "health.h"

#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "crpc/coro.h"
#include "crpc/ctx.h"
#include "crpc/error.h"
#include "file_descs.h"
#include "grpc/health/v1/health.pb-c.h"

typedef Grpc__Health__V1__HealthCheckRequest health_req;
typedef Grpc__Health__V1__HealthCheckResponse health_rep;

typedef struct health_entry {
  char *name;
  crpc_health_status status;
} health_entry;

struct crpc__health {
  uv_mutex_t mu; /* a leaf: guards everything below */
  health_entry *entries;
  size_t n, cap;
  /* Completed (and replaced) by the next change; NULL after shutdown. */
  crpc_future *changed;
  int shut_down;
};

crpc__health *crpc__health_new(void) {
  crpc__health *h = calloc(1, sizeof(*h));
  if (h == NULL)
    return NULL;
  if (crpc_future_new(NULL, &h->changed) != 0)
    goto fail;
  if (uv_mutex_init(&h->mu) != 0)
    goto fail;
  return h;

fail:
  crpc_future_unref(h->changed);
  free(h);
  return NULL;
}

void crpc__health_free(crpc__health *h) {
  if (h == NULL)
    return;
  for (size_t i = 0; i < h->n; i++)
    free(h->entries[i].name);
  free(h->entries);
  crpc_future_unref(h->changed);
  uv_mutex_destroy(&h->mu);
  free(h);
}

/* The entry named |name|, or NULL. Called with |h->mu| held. */
static health_entry *find(crpc__health *h, const char *name) {
  for (size_t i = 0; i < h->n; i++)
    if (strcmp(h->entries[i].name, name) == 0)
      return &h->entries[i];
  return NULL;
}

/* Appends |name| with |st|. Called with |h->mu| held. Returns 0 or
 * CRPC_ENOMEM, and then |h| is unchanged. */
static int add_entry(crpc__health *h, const char *name, crpc_health_status st) {
  if (h->n == h->cap) {
    size_t cap = h->cap ? h->cap * 2 : 8;
    health_entry *e = realloc(h->entries, cap * sizeof(*e));
    if (e == NULL)
      return CRPC_ENOMEM;
    h->entries = e;
    h->cap = cap;
  }
  char *copy = strdup(name);
  if (copy == NULL)
    return CRPC_ENOMEM;
  h->entries[h->n++] = (health_entry){.name = copy, .status = st};
  return 0;
}

/* Wakes the watchers of the previous generation: |old| was swapped out of
 * the registry, and this drops the registry's reference. */
static void wake(crpc_future *old) {
  if (old == NULL)
    return;
  crpc_future_complete(old, CRPC_STATUS_OK, NULL, NULL, NULL);
  crpc_future_unref(old);
}

static int valid_status(crpc_health_status st) {
  return st == CRPC_HEALTH_UNKNOWN || st == CRPC_HEALTH_SERVING ||
         st == CRPC_HEALTH_NOT_SERVING;
}

int crpc__health_set(crpc__health *h, const char *service,
                     crpc_health_status st) {
  crpc_future *next = NULL, *old = NULL;
  health_entry *e;
  int rc = 0;

  if (h == NULL || service == NULL || !valid_status(st))
    return CRPC_EINVAL;
  /* Allocated before the lock, so that a failure changes nothing. */
  if (crpc_future_new(NULL, &next) != 0)
    return CRPC_ENOMEM;
  uv_mutex_lock(&h->mu);
  if (h->shut_down) {
    rc = CRPC_ESTATE;
    goto out;
  }
  e = find(h, service);
  if (e != NULL && e->status == st)
    goto out;
  if (e != NULL)
    e->status = st;
  else if ((rc = add_entry(h, service, st)) != 0)
    goto out;
  old = h->changed;
  h->changed = next;
  next = NULL;

out:
  uv_mutex_unlock(&h->mu);
  wake(old);
  crpc_future_unref(next);
  return rc;
}

int crpc__health_get(crpc__health *h, const char *service,
                     crpc_health_status *out) {
  int rc = CRPC_ENOTFOUND;

  if (h == NULL || service == NULL || out == NULL)
    return CRPC_EINVAL;
  uv_mutex_lock(&h->mu);
  health_entry *e = find(h, service);
  if (e != NULL) {
    *out = e->status;
    rc = 0;
  }
  uv_mutex_unlock(&h->mu);
  return rc;
}

int crpc__health_watch(crpc__health *h, const char *service, int *status,
                       crpc_future **changed) {
  if (h == NULL || service == NULL || status == NULL || changed == NULL)
    return CRPC_EINVAL;
  uv_mutex_lock(&h->mu);
  health_entry *e = find(h, service);
  *status = e != NULL ? (int)e->status : CRPC__HEALTH_SERVICE_UNKNOWN;
  *changed = h->changed != NULL ? crpc_future_ref(h->changed) : NULL;
  int closed = h->shut_down;
  uv_mutex_unlock(&h->mu);
  return closed ? CRPC_ECLOSED : 0;
}

void crpc__health_shutdown(crpc__health *h) {
  crpc_future *old;

  if (h == NULL)
    return;
  uv_mutex_lock(&h->mu);
  if (h->shut_down) {
    uv_mutex_unlock(&h->mu);
    return;
  }
  h->shut_down = 1;
  for (size_t i = 0; i < h->n; i++)
    h->entries[i].status = CRPC_HEALTH_NOT_SERVING;
  old = h->changed;
  h->changed = NULL;
  uv_mutex_unlock(&h->mu);
  wake(old);
}

/* The service. */

typedef struct health_handlers {
  crpc_status (*check)(crpc_ctx *ctx, const health_req *req, health_rep *rep);
  crpc_status (*watch)(crpc_ctx *ctx, const health_req *req,
                       crpc_server_stream *out);
} health_handlers;

static const char *req_service(const health_req *req) {
  return req->service != NULL ? req->service : "";
}

static crpc_status health_check(crpc_ctx *ctx, const health_req *req,
                                health_rep *rep) {
  crpc__health *h = crpc_ctx_user_data(ctx);
  crpc_health_status st;

  if (crpc__health_get(h, req_service(req), &st) != 0) {
    crpc_ctx_set_message(ctx, "unknown service");
    return CRPC_STATUS_NOT_FOUND;
  }
  rep->status = (Grpc__Health__V1__HealthCheckResponse__ServingStatus)st;
  return CRPC_STATUS_OK;
}

static crpc_status send_status(crpc_server_stream *out, int st) {
  health_rep msg = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
  msg.status = (Grpc__Health__V1__HealthCheckResponse__ServingStatus)st;
  return crpc_server_stream_write(out, &msg.base);
}

/*
 * Waits until |changed| completes (OK) or the call is cancelled (its
 * CANCELLED or DEADLINE_EXCEEDED). Suspends a coroutine; blocks a worker
 * when registration moved Watch there.
 */
static crpc_status wait_change(crpc_ctx *ctx, crpc_future *changed) {
  crpc_future *fs[2] = {changed, crpc_ctx_cancelled(ctx)};
  crpc_future *any;
  crpc_status st = CRPC_STATUS_OK;

  if (crpc_future_any(fs, 2, &any) != 0)
    return CRPC_STATUS_RESOURCE_EXHAUSTED;
  /* |any| is never cancelled: that would cancel the call's future and the
   * generation future other watchers share. */
  if (crpc_await(any) != 0)
    st = CRPC_STATUS_INTERNAL;
  else if (crpc_future_any_index(any) == 1)
    st = crpc_future_status(fs[1]);
  crpc_future_unref(any);
  return st;
}

static crpc_status health_watch(crpc_ctx *ctx, const health_req *req,
                                crpc_server_stream *out) {
  crpc__health *h = crpc_ctx_user_data(ctx);
  const char *name = req_service(req);
  int last = -1;

  for (;;) {
    crpc_future *changed = NULL;
    int st = CRPC__HEALTH_SERVICE_UNKNOWN;
    int rc = crpc__health_watch(h, name, &st, &changed);
    crpc_status ws = CRPC_STATUS_OK;

    if (rc != 0 && rc != CRPC_ECLOSED)
      return CRPC_STATUS_INTERNAL;

    if (st != last) {
      ws = send_status(out, st);
      last = st;
    }
    if (ws == CRPC_STATUS_OK && rc == CRPC_ECLOSED) {
      crpc_ctx_set_message(ctx, "server shutting down");
      ws = CRPC_STATUS_UNAVAILABLE;
    }
    if (ws == CRPC_STATUS_OK)
      ws = wait_change(ctx, changed);
    crpc_future_unref(changed);
    if (ws != CRPC_STATUS_OK)
      return ws;
  }
}

static crpc_status health_check_invoke(const void *handlers, crpc_ctx *ctx,
                                       const ProtobufCMessage *request,
                                       ProtobufCMessage *reply,
                                       crpc_server_stream *stream) {
  const health_handlers *hh = handlers;
  (void)stream;
  return hh->check(ctx, (const health_req *)request, (health_rep *)reply);
}

static crpc_status health_watch_invoke(const void *handlers, crpc_ctx *ctx,
                                       const ProtobufCMessage *request,
                                       ProtobufCMessage *reply,
                                       crpc_server_stream *stream) {
  const health_handlers *hh = handlers;
  (void)reply;
  return hh->watch(ctx, (const health_req *)request, stream);
}

static const crpc_method health_methods[2] = {
    {
        .name = "Check",
        .path = "/grpc.health.v1.Health/Check",
        .kind = CRPC_METHOD_UNARY,
        .placement = CRPC_PLACEMENT_LOOP,
        .input = &grpc__health__v1__health_check_request__descriptor,
        .output = &grpc__health__v1__health_check_response__descriptor,
        .handler_offset = offsetof(health_handlers, check),
        .invoke = health_check_invoke,
    },
    {
        .name = "Watch",
        .path = "/grpc.health.v1.Health/Watch",
        .kind = CRPC_METHOD_SERVER_STREAMING,
        .placement = CRPC_PLACEMENT_LOOP,
        .input = &grpc__health__v1__health_check_request__descriptor,
        .output = &grpc__health__v1__health_check_response__descriptor,
        .handler_offset = offsetof(health_handlers, watch),
        .invoke = health_watch_invoke,
    },
};

const crpc_service_desc crpc__health_desc = {
    .name = "grpc.health.v1.Health",
    .package = "grpc.health.v1",
    .n_methods = 2,
    .methods = health_methods,
    .handlers_size = sizeof(health_handlers),
    .file = &crpc_file_grpc__health__v1__health_dproto,
};

static const health_handlers handlers = {
    .check = health_check,
    .watch = health_watch,
};

crpc_service *crpc__health_service(crpc__health *h) {
  crpc_service *svc = NULL;

  if (crpc_service_new(&crpc__health_desc, &handlers, h, &svc) != 0)
    return NULL;
  return svc;
}
