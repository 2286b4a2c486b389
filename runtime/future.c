/*
 * runtime/future.c: reference-counted futures, completed once, waitable
 * from any thread.
 *
 * Lock order: a future's |mu| is a leaf; nothing else is locked under it,
 * and listeners fire after it is released.
 */
#include "future_internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "coro_internal.h"
#include "crpc/error.h"
#include "loop_internal.h"
#include "pool_internal.h"

typedef struct then_rec {
  crpc__listener l;
  crpc__task task;
  crpc_future *f;
  crpc_loop *loop; /* NULL: run on the completing thread */
  crpc_future_cb cb;
  void *user_data;
  int embedded; /* lives inside the future: not freed */
} then_rec;

struct crpc_future {
  atomic_long refs;
  atomic_int done;
  /* Lock order: a leaf. Listeners and continuations run after it is
   * released, so they may take any lock. */
  uv_mutex_t mu;
  uv_cond_t cv; /* created on the first blocking wait */
  int cv_ready;
  int waiters;
  int cancel_requested;
  crpc_status code;
  char *message;
  void *value;
  crpc_free_fn value_free;
  ptrdiff_t any_index;
  crpc_loop *loop;
  crpc__listener *listeners; /* newest first */
  crpc_future_cancel_fn cancel_fn;
  void *cancel_data;
  void (*finalize)(void *data); /* internal: runs when the future is freed */
  void *finalize_data;
  int then_slot_used;
  then_rec then_slot; /* the first then() needs no allocation */
};

int crpc_future_new(crpc_loop *loop, crpc_future **out) {
  crpc_future *f = malloc(sizeof(*f));
  if (f == NULL)
    return CRPC_ENOMEM;
  memset(f, 0, offsetof(crpc_future, then_slot));
  if (uv_mutex_init(&f->mu) != 0) {
    free(f);
    return CRPC_ENOMEM;
  }
  atomic_init(&f->refs, 1);
  atomic_init(&f->done, 0);
  f->code = CRPC_STATUS_UNKNOWN;
  f->any_index = -1;
  f->loop = loop;
  *out = f;
  return 0;
}

crpc_future *crpc_future_ref(crpc_future *f) {
  atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
  return f;
}

void crpc_future_unref(crpc_future *f) {
  if (f == NULL)
    return;
  if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1)
    return;
  if (f->finalize)
    f->finalize(f->finalize_data);
  if (f->value_free && f->value)
    f->value_free(f->value);
  free(f->message);
  if (f->cv_ready)
    uv_cond_destroy(&f->cv);
  uv_mutex_destroy(&f->mu);
  free(f);
}

int crpc__future_renew(crpc_future *f) {
  /* Every other holder is gone (their unref released what they did), so
   * nothing else can reach |f| unless a listener still names it. */
  if (atomic_load_explicit(&f->refs, memory_order_acquire) != 1 ||
      f->listeners != NULL || f->waiters != 0 || f->finalize != NULL) {
    crpc_future_unref(f);
    return 0;
  }
  if (f->value_free && f->value)
    f->value_free(f->value);
  free(f->message);
  f->message = NULL;
  f->value = NULL;
  f->value_free = NULL;
  f->code = CRPC_STATUS_UNKNOWN;
  f->any_index = -1;
  f->cancel_requested = 0;
  f->cancel_fn = NULL;
  f->cancel_data = NULL;
  f->then_slot_used = 0;
  atomic_store_explicit(&f->done, 0, memory_order_relaxed);
  return 1;
}

int crpc_future_is_done(const crpc_future *f) {
  return atomic_load_explicit(&f->done, memory_order_acquire);
}

crpc_status crpc_future_status(const crpc_future *f) {
  return crpc_future_is_done(f) ? f->code : CRPC_STATUS_UNKNOWN;
}

const char *crpc_future_message(const crpc_future *f) {
  if (!crpc_future_is_done(f) || f->message == NULL)
    return "";
  return f->message;
}

void *crpc_future_value(const crpc_future *f) {
  return crpc_future_is_done(f) ? f->value : NULL;
}

void crpc__future_set_finalize(crpc_future *f, void (*fn)(void *data),
                               void *data) {
  f->finalize = fn;
  f->finalize_data = data;
}

crpc_free_fn crpc__future_value_free(const crpc_future *f) {
  return crpc_future_is_done(f) ? f->value_free : NULL;
}

void *crpc_future_take_value(crpc_future *f) {
  void *v;
  if (!crpc_future_is_done(f))
    return NULL;
  uv_mutex_lock(&f->mu);
  v = f->value;
  f->value = NULL;
  uv_mutex_unlock(&f->mu);
  return v;
}

/* Listeners were pushed newest first; fire them in registration order. */
static void fire_all(crpc_future *f, crpc__listener *l) {
  crpc__listener *rev = NULL;
  while (l != NULL) {
    crpc__listener *next = l->next;
    l->next = rev;
    rev = l;
    l = next;
  }
  while (rev != NULL) {
    crpc__listener *next = rev->next;
    rev->fn(rev, f);
    rev = next;
  }
}

int crpc_future_complete(crpc_future *f, crpc_status code, const char *message,
                         void *value, crpc_free_fn value_free) {
  char *msg = NULL;
  if (message != NULL && message[0] != '\0') {
    msg = strdup(message);
    if (msg == NULL)
      return CRPC_ENOMEM;
  }
  uv_mutex_lock(&f->mu);
  if (atomic_load_explicit(&f->done, memory_order_relaxed)) {
    uv_mutex_unlock(&f->mu);
    free(msg);
    return CRPC_EALREADY;
  }
  f->code = code;
  f->message = msg;
  f->value = value;
  f->value_free = value_free;
  atomic_store_explicit(&f->done, 1, memory_order_release);
  crpc__listener *ls = f->listeners;
  f->listeners = NULL;
  if (f->waiters > 0)
    uv_cond_broadcast(&f->cv);
  uv_mutex_unlock(&f->mu);
  fire_all(f, ls);
  return 0;
}

void crpc__future_listen(crpc_future *f, crpc__listener *l) {
  uv_mutex_lock(&f->mu);
  if (!atomic_load_explicit(&f->done, memory_order_relaxed)) {
    l->next = f->listeners;
    f->listeners = l;
    uv_mutex_unlock(&f->mu);
    return;
  }
  uv_mutex_unlock(&f->mu);
  l->next = NULL;
  l->fn(l, f);
}

int crpc__future_unlisten(crpc_future *f, crpc__listener *l) {
  int removed = 0;
  uv_mutex_lock(&f->mu);
  for (crpc__listener **p = &f->listeners; *p != NULL; p = &(*p)->next) {
    if (*p == l) {
      *p = l->next;
      removed = 1;
      break;
    }
  }
  uv_mutex_unlock(&f->mu);
  return removed;
}

static void then_run(crpc__task *t) {
  then_rec *r = (then_rec *)((char *)t - offsetof(then_rec, task));
  crpc_future *f = r->f;
  crpc_loop *loop = r->loop;
  r->cb(f, r->user_data);
  if (!r->embedded)
    free(r);
  crpc_future_unref(f);
  if (loop != NULL)
    crpc__loop_release(loop);
}

static void then_fire(crpc__listener *l, crpc_future *f) {
  then_rec *r = (then_rec *)l;
  (void)f;
  if (r->loop != NULL) {
    /* Queued work keeps a running loop alive until it has run. */
    crpc__loop_hold(r->loop);
    if (crpc__loop_post_task(r->loop, &r->task) == 0)
      return;
    crpc__loop_release(r->loop);
  }
  /* No loop, or it is shutting down: run here rather than drop it. */
  r->loop = NULL;
  then_run(&r->task);
}

int crpc_future_then(crpc_future *f, crpc_future_cb cb, void *user_data) {
  then_rec *r;
  int done;

  /* One lock both claims the embedded record and registers the listener;
   * a record allocated here is only needed when the slot is taken. */
  uv_mutex_lock(&f->mu);
  if (!f->then_slot_used) {
    f->then_slot_used = 1;
    r = &f->then_slot;
    r->embedded = 1;
  } else {
    uv_mutex_unlock(&f->mu);
    r = malloc(sizeof(*r));
    if (r == NULL)
      return CRPC_ENOMEM;
    r->embedded = 0;
    uv_mutex_lock(&f->mu);
  }
  r->l.fn = then_fire;
  r->task.fn = then_run;
  r->f = crpc_future_ref(f);
  r->loop = f->loop != NULL ? f->loop : crpc_loop_current();
  r->cb = cb;
  r->user_data = user_data;
  done = atomic_load_explicit(&f->done, memory_order_relaxed);
  if (!done) {
    r->l.next = f->listeners;
    f->listeners = &r->l;
  }
  uv_mutex_unlock(&f->mu);
  if (done)
    then_fire(&r->l, f);
  return 0;
}

/* Blocks the calling thread; on a pool worker, another thread takes its
 * place meanwhile (crpc__pool_blocking_begin). */
static int wait_blocking(crpc_future *f, int64_t timeout_ms) {
  int rc = 0;
  uint64_t deadline = 0;
  if (timeout_ms >= 0)
    deadline = uv_hrtime() + (uint64_t)timeout_ms * 1000000u;
  crpc_pool *pool = crpc__pool_blocking_begin();
  uv_mutex_lock(&f->mu);
  if (!f->cv_ready) {
    uv_cond_init(&f->cv);
    f->cv_ready = 1;
  }
  f->waiters++;
  while (!atomic_load_explicit(&f->done, memory_order_relaxed)) {
    if (timeout_ms < 0) {
      uv_cond_wait(&f->cv, &f->mu);
      continue;
    }
    uint64_t now = uv_hrtime();
    if (now >= deadline) {
      rc = CRPC_ETIMEDOUT;
      break;
    }
    uv_cond_timedwait(&f->cv, &f->mu, deadline - now);
  }
  f->waiters--;
  uv_mutex_unlock(&f->mu);
  crpc__pool_blocking_end(pool);
  return rc;
}

int crpc_future_wait_for(crpc_future *f, int64_t timeout_ms) {
  if (crpc_future_is_done(f))
    return 0;
  if (crpc__coro_current() != NULL)
    return crpc__coro_await(f, timeout_ms);
  if (crpc_loop_current() != NULL)
    return CRPC_ELOOPTHREAD;
  return wait_blocking(f, timeout_ms);
}

int crpc_future_wait(crpc_future *f) {
  return crpc_future_wait_for(f, -1);
}

int crpc_future_cancel(crpc_future *f) {
  uv_mutex_lock(&f->mu);
  if (atomic_load_explicit(&f->done, memory_order_relaxed)) {
    uv_mutex_unlock(&f->mu);
    return CRPC_EALREADY;
  }
  int first = !f->cancel_requested;
  f->cancel_requested = 1;
  crpc_future_cancel_fn fn = f->cancel_fn;
  void *data = f->cancel_data;
  uv_mutex_unlock(&f->mu);
  if (first && fn != NULL)
    fn(f, data);
  crpc_future_complete(f, CRPC_STATUS_CANCELLED, "cancelled", NULL, NULL);
  return 0;
}

int crpc_future_on_cancel(crpc_future *f, crpc_future_cancel_fn fn,
                          void *user_data) {
  uv_mutex_lock(&f->mu);
  int done = atomic_load_explicit(&f->done, memory_order_relaxed);
  if (!done) {
    f->cancel_fn = fn;
    f->cancel_data = user_data;
  }
  uv_mutex_unlock(&f->mu);
  return done ? CRPC_EALREADY : 0;
}

/*
 * Gathering. The result future owns the gather state (freed by its
 * finalizer), and every listener still registered on an input holds a
 * reference to the result, so the state outlives all of its listeners and
 * any cancel hook running on the result.
 */
typedef struct gather_listener {
  crpc__listener l;
  struct gather *g;
  size_t index;
} gather_listener;

typedef struct gather {
  crpc_future *out;
  size_t n;
  atomic_size_t remaining;
  atomic_int won;
  int is_any;
  crpc_future **in;
  gather_listener *ls;
} gather;

static void gather_free(void *data) {
  gather *g = data;
  for (size_t i = 0; i < g->n; i++)
    crpc_future_unref(g->in[i]);
  free(g->in);
  free(g->ls);
  free(g);
}

static void gather_cancel(crpc_future *out, void *data) {
  gather *g = data;
  (void)out;
  for (size_t i = 0; i < g->n; i++)
    crpc_future_cancel(g->in[i]);
}

static void complete_like(crpc_future *out, const crpc_future *src) {
  crpc_future_complete(out, src->code, src->message, NULL, NULL);
}

static void all_fired(gather *g) {
  for (size_t i = 0; i < g->n; i++) {
    if (g->in[i]->code != CRPC_STATUS_OK) {
      complete_like(g->out, g->in[i]);
      return;
    }
  }
  crpc_future_complete(g->out, CRPC_STATUS_OK, NULL, NULL, NULL);
}

static void any_fired(gather *g, size_t index) {
  g->out->any_index = (ptrdiff_t)index;
  complete_like(g->out, g->in[index]);
  for (size_t i = 0; i < g->n; i++) {
    if (i != index && crpc__future_unlisten(g->in[i], &g->ls[i].l))
      crpc_future_unref(g->out);
  }
}

static void gather_fire(crpc__listener *l, crpc_future *f) {
  gather_listener *gl = (gather_listener *)l;
  gather *g = gl->g;
  crpc_future *out = g->out;
  (void)f;
  if (g->is_any) {
    if (atomic_exchange(&g->won, 1) == 0)
      any_fired(g, gl->index);
  } else if (atomic_fetch_sub(&g->remaining, 1) == 1) {
    all_fired(g);
  }
  crpc_future_unref(out);
}

static int gather_new(crpc_future *const *fs, size_t n, int is_any,
                      crpc_future **out) {
  crpc_future *res = NULL;
  gather *g = NULL;

  for (size_t i = 0; i < n; i++)
    if (fs[i] == NULL)
      return CRPC_EINVAL;
  if (crpc_future_new(NULL, &res) != 0)
    return CRPC_ENOMEM;
  g = calloc(1, sizeof(*g));
  if (g == NULL)
    goto fail;
  g->in = calloc(n ? n : 1, sizeof(*g->in));
  g->ls = calloc(n ? n : 1, sizeof(*g->ls));
  if (g->in == NULL || g->ls == NULL)
    goto fail;
  g->out = res;
  g->n = n;
  g->is_any = is_any;
  atomic_init(&g->remaining, n);
  atomic_init(&g->won, 0);
  res->finalize = gather_free;
  res->finalize_data = g;
  res->cancel_fn = gather_cancel;
  res->cancel_data = g;
  for (size_t i = 0; i < n; i++) {
    g->in[i] = crpc_future_ref(fs[i]);
    g->ls[i] = (gather_listener){.l.fn = gather_fire, .g = g, .index = i};
  }
  *out = res;
  return 0;

fail:
  if (g != NULL) {
    free(g->in);
    free(g->ls);
    free(g);
  }
  crpc_future_unref(res);
  return CRPC_ENOMEM;
}

static int gather_start(crpc_future *const *fs, size_t n, int is_any,
                        crpc_future **out) {
  crpc_future *res;
  int rc = gather_new(fs, n, is_any, &res);
  if (rc != 0)
    return rc;
  gather *g = res->finalize_data;
  /* The caller's reference keeps |res| alive while listeners register. */
  for (size_t i = 0; i < n; i++)
    crpc_future_ref(res);
  for (size_t i = 0; i < n; i++)
    crpc__future_listen(g->in[i], &g->ls[i].l);
  if (n == 0)
    crpc_future_complete(res, CRPC_STATUS_OK, NULL, NULL, NULL);
  *out = res;
  return 0;
}

int crpc_future_all(crpc_future *const *fs, size_t n, crpc_future **out) {
  return gather_start(fs, n, 0, out);
}

int crpc_future_any(crpc_future *const *fs, size_t n, crpc_future **out) {
  if (n == 0)
    return CRPC_EINVAL;
  return gather_start(fs, n, 1, out);
}

ptrdiff_t crpc_future_any_index(const crpc_future *f) {
  return crpc_future_is_done(f) ? f->any_index : -1;
}
