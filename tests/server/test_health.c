/* Tests for server/health.c: the registry of serving statuses behind the
 * grpc.health.v1.Health service, its wake-ups and its shutdown, and the
 * shape of the service's method table. */
#include <criterion/criterion.h>
#include <uv.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "crpc/coro.h"
#include "crpc/error.h"
#include "crpc/loop.h"
#include "grpc/health/v1/health.pb-c.h"
#include "health.h"

static crpc__health *new_health(void) {
  crpc__health *h = crpc__health_new();
  cr_assert_not_null(h);
  return h;
}

Test(health, unknown_names_are_not_found_until_set, .timeout = 10) {
  crpc__health *h = new_health();
  crpc_health_status st = CRPC_HEALTH_SERVING;
  cr_assert_eq(crpc__health_get(h, "", &st), CRPC_ENOTFOUND);
  cr_assert_eq(crpc__health_get(h, "demo.Greeter", &st), CRPC_ENOTFOUND);
  cr_assert_eq(st, CRPC_HEALTH_SERVING, "a failed get wrote its output");

  cr_assert_eq(crpc__health_set(h, "demo.Greeter", CRPC_HEALTH_SERVING), 0);
  cr_assert_eq(crpc__health_get(h, "demo.Greeter", &st), 0);
  cr_assert_eq(st, CRPC_HEALTH_SERVING);
  /* "" is a name of its own, the whole server, and so is a prefix. */
  cr_assert_eq(crpc__health_get(h, "", &st), CRPC_ENOTFOUND);
  cr_assert_eq(crpc__health_get(h, "demo.Greete", &st), CRPC_ENOTFOUND);
  cr_assert_eq(crpc__health_get(h, "demo.Greeter2", &st), CRPC_ENOTFOUND);

  cr_assert_eq(crpc__health_set(h, "", CRPC_HEALTH_NOT_SERVING), 0);
  cr_assert_eq(crpc__health_get(h, "", &st), 0);
  cr_assert_eq(st, CRPC_HEALTH_NOT_SERVING);
  cr_assert_eq(crpc__health_get(h, "demo.Greeter", &st), 0);
  cr_assert_eq(st, CRPC_HEALTH_SERVING);
  crpc__health_free(h);
}

Test(health, set_overwrites_and_accepts_every_status, .timeout = 10) {
  crpc__health *h = new_health();
  const crpc_health_status all[] = {
      CRPC_HEALTH_SERVING, CRPC_HEALTH_UNKNOWN, CRPC_HEALTH_NOT_SERVING,
      CRPC_HEALTH_NOT_SERVING, CRPC_HEALTH_SERVING};
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
    crpc_health_status st;
    cr_assert_eq(crpc__health_set(h, "svc", all[i]), 0);
    cr_assert_eq(crpc__health_get(h, "svc", &st), 0);
    cr_assert_eq(st, all[i]);
  }
  crpc__health_free(h);
}

Test(health, many_names, .timeout = 10) {
  crpc__health *h = new_health();
  char name[32];
  for (int i = 0; i < 100; i++) {
    snprintf(name, sizeof(name), "pkg.Svc%d", i);
    cr_assert_eq(
        crpc__health_set(h, name,
                         i % 2 ? CRPC_HEALTH_SERVING : CRPC_HEALTH_NOT_SERVING),
        0);
  }
  for (int i = 0; i < 100; i++) {
    crpc_health_status st;
    snprintf(name, sizeof(name), "pkg.Svc%d", i);
    cr_assert_eq(crpc__health_get(h, name, &st), 0);
    cr_assert_eq(st, i % 2 ? CRPC_HEALTH_SERVING : CRPC_HEALTH_NOT_SERVING);
  }
  crpc__health_free(h);
}

Test(health, bad_arguments, .timeout = 10) {
  crpc__health *h = new_health();
  crpc_health_status st;
  int ws;
  crpc_future *f = NULL;
  cr_assert_eq(crpc__health_set(NULL, "", CRPC_HEALTH_SERVING), CRPC_EINVAL);
  cr_assert_eq(crpc__health_set(h, NULL, CRPC_HEALTH_SERVING), CRPC_EINVAL);
  cr_assert_eq(crpc__health_set(h, "x", (crpc_health_status)3), CRPC_EINVAL,
               "SERVICE_UNKNOWN is Watch's, not a status to set");
  cr_assert_eq(crpc__health_set(h, "x", (crpc_health_status)-1), CRPC_EINVAL);
  cr_assert_eq(crpc__health_get(h, "x", &st), CRPC_ENOTFOUND,
               "a rejected set added the name");
  cr_assert_eq(crpc__health_get(h, NULL, &st), CRPC_EINVAL);
  cr_assert_eq(crpc__health_get(h, "", NULL), CRPC_EINVAL);
  cr_assert_eq(crpc__health_watch(h, NULL, &ws, &f), CRPC_EINVAL);
  cr_assert_eq(crpc__health_watch(h, "", NULL, &f), CRPC_EINVAL);
  cr_assert_eq(crpc__health_watch(h, "", &ws, NULL), CRPC_EINVAL);
  cr_assert_null(f);
  crpc__health_free(h);
  crpc__health_free(NULL);
  crpc__health_shutdown(NULL);
}

Test(health, watch_reads_the_status_and_a_pending_future, .timeout = 10) {
  crpc__health *h = new_health();
  int st = -1;
  crpc_future *f = NULL;
  cr_assert_eq(crpc__health_watch(h, "svc", &st, &f), 0);
  cr_assert_eq(st, CRPC__HEALTH_SERVICE_UNKNOWN);
  cr_assert_eq(
      CRPC__HEALTH_SERVICE_UNKNOWN,
      GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN);
  cr_assert_not_null(f);
  cr_assert_not(crpc_future_is_done(f));

  cr_assert_eq(crpc__health_set(h, "svc", CRPC_HEALTH_SERVING), 0);
  cr_assert(crpc_future_is_done(f), "a new name did not wake the watcher");
  cr_assert_eq(crpc_future_status(f), CRPC_STATUS_OK);
  crpc_future_unref(f);

  cr_assert_eq(crpc__health_watch(h, "svc", &st, &f), 0);
  cr_assert_eq(st, CRPC_HEALTH_SERVING);
  cr_assert_not(crpc_future_is_done(f), "the next generation is pending");
  /* The same status again is no change. */
  cr_assert_eq(crpc__health_set(h, "svc", CRPC_HEALTH_SERVING), 0);
  cr_assert_not(crpc_future_is_done(f));
  /* Another name's change wakes every watcher; the status read next tells
   * a watcher of "svc" that nothing changed for it. */
  cr_assert_eq(crpc__health_set(h, "other", CRPC_HEALTH_NOT_SERVING), 0);
  cr_assert(crpc_future_is_done(f));
  crpc_future_unref(f);
  cr_assert_eq(crpc__health_watch(h, "svc", &st, &f), 0);
  cr_assert_eq(st, CRPC_HEALTH_SERVING);
  crpc_future_unref(f);
  crpc__health_free(h);
}

Test(health, watchers_share_one_generation, .timeout = 10) {
  crpc__health *h = new_health();
  crpc_future *f[3];
  int st;
  for (int i = 0; i < 3; i++)
    cr_assert_eq(crpc__health_watch(h, "", &st, &f[i]), 0);
  cr_assert_eq(f[0], f[1]);
  cr_assert_eq(f[1], f[2]);
  /* A watcher that leaves early drops its reference; the others still
   * wake. */
  crpc_future_unref(f[1]);
  cr_assert_eq(crpc__health_set(h, "", CRPC_HEALTH_SERVING), 0);
  cr_assert(crpc_future_is_done(f[0]));
  crpc_future_unref(f[0]);
  crpc_future_unref(f[2]);
  crpc__health_free(h);
}

typedef struct thread_watcher {
  crpc__health *h;
  const char *name;
  int first, after, wait_rc;
  atomic_int watching; /* set once |first| is read */
} thread_watcher;

static void watch_on_thread(void *arg) {
  thread_watcher *w = arg;
  crpc_future *f;
  cr_assert_eq(crpc__health_watch(w->h, w->name, &w->first, &f), 0);
  atomic_store(&w->watching, 1);
  w->wait_rc = crpc_future_wait_for(f, 5000);
  crpc_future_unref(f);
  crpc_future *g = NULL;
  crpc__health_watch(w->h, w->name, &w->after, &g);
  crpc_future_unref(g);
}

Test(health, a_blocked_thread_wakes_on_a_set_from_another, .timeout = 10) {
  crpc__health *h = new_health();
  cr_assert_eq(crpc__health_set(h, "svc", CRPC_HEALTH_NOT_SERVING), 0);
  thread_watcher w = {.h = h, .name = "svc"};
  uv_thread_t th;
  uv_thread_create(&th, watch_on_thread, &w);
  while (!atomic_load(&w.watching))
    uv_sleep(1);
  uv_sleep(20); /* let it block */
  uint64_t t0 = uv_hrtime();
  cr_assert_eq(crpc__health_set(h, "svc", CRPC_HEALTH_SERVING), 0);
  uv_thread_join(&th);
  uint64_t ms = (uv_hrtime() - t0) / 1000000;
  cr_assert_eq(w.wait_rc, 0, "the watcher timed out");
  cr_assert_eq(w.first, CRPC_HEALTH_NOT_SERVING);
  cr_assert_eq(w.after, CRPC_HEALTH_SERVING);
  cr_assert_lt(ms, 2000);
  crpc__health_free(h);
}

/*
 * A watcher as the Watch handler runs it: a coroutine on a loop that sends
 * (here: records) the status each time it differs from the last one, and
 * ends once the registry is shut down.
 */
#define MAX_SEEN 16

typedef struct coro_watcher {
  crpc__health *h;
  const char *name;
  int seen[MAX_SEEN];
  atomic_int n_seen; /* release: seen[] up to it is written */
  int end_rc;
} coro_watcher;

static crpc_status watch_body(void *arg) {
  coro_watcher *w = arg;
  int last = -1;
  for (;;) {
    int st;
    crpc_future *f = NULL;
    int rc = crpc__health_watch(w->h, w->name, &st, &f);
    if (st != last) {
      int n = atomic_load_explicit(&w->n_seen, memory_order_relaxed);
      cr_assert_lt(n, MAX_SEEN);
      w->seen[n] = st;
      atomic_store_explicit(&w->n_seen, n + 1, memory_order_release);
      last = st;
    }
    if (rc != 0) {
      cr_assert_null(f);
      w->end_rc = rc;
      return CRPC_STATUS_OK;
    }
    cr_assert_eq(crpc_await(f), 0);
    crpc_future_unref(f);
  }
}

/* Waits (up to 5 s) until |w| has recorded |n| statuses. */
static void wait_seen(coro_watcher *w, int n) {
  for (int i = 0; i < 5000; i++) {
    if (atomic_load_explicit(&w->n_seen, memory_order_acquire) >= n)
      return;
    uv_sleep(1);
  }
  cr_assert_fail("the watcher saw %d statuses, not %d", atomic_load(&w->n_seen),
                 n);
}

typedef struct setter {
  crpc__health *h;
  coro_watcher *w;
  int n_watchers;
  thread_watcher *tw; /* also waited for, when set */
} setter;

static void set_in_steps(void *arg) {
  setter *s = arg;
  coro_watcher *w = s->w;
  wait_seen(w, 1);
  crpc__health_set(s->h, "svc", CRPC_HEALTH_SERVING);
  wait_seen(w, 2);
  /* Wakes the watcher without a change of its own status. */
  crpc__health_set(s->h, "other", CRPC_HEALTH_SERVING);
  crpc__health_set(s->h, "svc", CRPC_HEALTH_NOT_SERVING);
  wait_seen(w, 3);
  crpc__health_set(s->h, "svc", CRPC_HEALTH_SERVING);
  wait_seen(w, 4);
  crpc__health_shutdown(s->h);
}

Test(health, a_coroutine_watcher_follows_every_change_until_shutdown,
     .timeout = 20) {
  crpc__health *h = new_health();
  crpc_loop *loop;
  cr_assert_eq(crpc_loop_new(NULL, NULL, &loop), 0);
  coro_watcher w = {.h = h, .name = "svc"};
  crpc_future *done;
  cr_assert_eq(crpc_coro_spawn(loop, watch_body, &w, &done), 0);
  setter s = {.h = h, .w = &w};
  uv_thread_t th;
  uv_thread_create(&th, set_in_steps, &s);
  crpc_loop_run(loop, CRPC_RUN_DEFAULT); /* until the coroutine ends */
  uv_thread_join(&th);
  cr_assert(crpc_future_is_done(done));
  crpc_future_unref(done);

  const int want[] = {CRPC__HEALTH_SERVICE_UNKNOWN, CRPC_HEALTH_SERVING,
                      CRPC_HEALTH_NOT_SERVING, CRPC_HEALTH_SERVING,
                      CRPC_HEALTH_NOT_SERVING};
  int n = atomic_load(&w.n_seen);
  cr_assert_eq(n, 5, "saw %d statuses", n);
  for (int i = 0; i < n; i++)
    cr_assert_eq(w.seen[i], want[i], "status %d: %d, not %d", i, w.seen[i],
                 want[i]);
  cr_assert_eq(w.end_rc, CRPC_ECLOSED);
  crpc_loop_free(loop);
  crpc__health_free(h);
}

static void shutdown_later(void *arg) {
  setter *s = arg;
  for (int i = 0; i < s->n_watchers; i++)
    wait_seen(&s->w[i], 1);
  for (int i = 0; s->tw != NULL && !atomic_load(&s->tw->watching); i++) {
    cr_assert_lt(i, 5000, "the thread watcher never started");
    uv_sleep(1);
  }
  uv_sleep(20);
  crpc__health_shutdown(s->h);
}

Test(health, shutdown_ends_every_watcher, .timeout = 20) {
  crpc__health *h = new_health();
  cr_assert_eq(crpc__health_set(h, "", CRPC_HEALTH_SERVING), 0);
  cr_assert_eq(crpc__health_set(h, "a", CRPC_HEALTH_SERVING), 0);
  cr_assert_eq(crpc__health_set(h, "b", CRPC_HEALTH_NOT_SERVING), 0);
  crpc_loop *loop;
  cr_assert_eq(crpc_loop_new(NULL, NULL, &loop), 0);
  coro_watcher w[4] = {
      {.h = h, .name = ""},
      {.h = h, .name = "a"},
      {.h = h, .name = "b"},
      {.h = h, .name = "never.Set"},
  };
  for (int i = 0; i < 4; i++)
    cr_assert_eq(crpc_coro_spawn(loop, watch_body, &w[i], NULL), 0);
  /* And one watcher blocked on a plain thread. */
  thread_watcher tw = {.h = h, .name = "a"};
  uv_thread_t tw_th;
  uv_thread_create(&tw_th, watch_on_thread, &tw);
  setter s = {.h = h, .w = w, .n_watchers = 4, .tw = &tw};
  uv_thread_t th;
  uv_thread_create(&th, shutdown_later, &s);
  uint64_t t0 = uv_hrtime();
  crpc_loop_run(loop, CRPC_RUN_DEFAULT); /* until every coroutine ends */
  uv_thread_join(&th);
  uv_thread_join(&tw_th);
  uint64_t ms = (uv_hrtime() - t0) / 1000000;
  cr_assert_lt(ms, 3000);

  /* Known names end on NOT_SERVING; an unknown one stays unknown. */
  const int last[] = {CRPC_HEALTH_NOT_SERVING, CRPC_HEALTH_NOT_SERVING,
                      CRPC_HEALTH_NOT_SERVING, CRPC__HEALTH_SERVICE_UNKNOWN};
  const int count[] = {2, 2, 1, 1};
  for (int i = 0; i < 4; i++) {
    int n = atomic_load(&w[i].n_seen);
    cr_assert_eq(n, count[i], "watcher %d saw %d statuses", i, n);
    cr_assert_eq(w[i].seen[n - 1], last[i], "watcher %d", i);
    cr_assert_eq(w[i].end_rc, CRPC_ECLOSED);
  }
  cr_assert_eq(tw.wait_rc, 0);
  cr_assert_eq(tw.first, CRPC_HEALTH_SERVING);
  cr_assert_eq(tw.after, CRPC_HEALTH_NOT_SERVING);
  crpc_loop_free(loop);
  crpc__health_free(h);
}

Test(health, after_shutdown_statuses_stay_not_serving, .timeout = 10) {
  crpc__health *h = new_health();
  crpc_health_status st;
  int ws;
  crpc_future *f;
  cr_assert_eq(crpc__health_set(h, "", CRPC_HEALTH_SERVING), 0);
  cr_assert_eq(crpc__health_set(h, "svc", CRPC_HEALTH_UNKNOWN), 0);
  cr_assert_eq(crpc__health_watch(h, "", &ws, &f), 0);
  crpc__health_shutdown(h);
  cr_assert(crpc_future_is_done(f), "shutdown did not wake the watcher");
  crpc_future_unref(f);

  cr_assert_eq(crpc__health_get(h, "", &st), 0);
  cr_assert_eq(st, CRPC_HEALTH_NOT_SERVING);
  cr_assert_eq(crpc__health_get(h, "svc", &st), 0);
  cr_assert_eq(st, CRPC_HEALTH_NOT_SERVING);
  cr_assert_eq(crpc__health_get(h, "other", &st), CRPC_ENOTFOUND);

  cr_assert_eq(crpc__health_set(h, "", CRPC_HEALTH_SERVING), CRPC_ESTATE);
  cr_assert_eq(crpc__health_set(h, "new", CRPC_HEALTH_SERVING), CRPC_ESTATE);
  cr_assert_eq(crpc__health_get(h, "", &st), 0);
  cr_assert_eq(st, CRPC_HEALTH_NOT_SERVING);
  cr_assert_eq(crpc__health_get(h, "new", &st), CRPC_ENOTFOUND);

  /* A watch that starts now reads the status and is told to end. */
  f = (crpc_future *)&f;
  cr_assert_eq(crpc__health_watch(h, "", &ws, &f), CRPC_ECLOSED);
  cr_assert_eq(ws, CRPC_HEALTH_NOT_SERVING);
  cr_assert_null(f);
  cr_assert_eq(crpc__health_watch(h, "other", &ws, &f), CRPC_ECLOSED);
  cr_assert_eq(ws, CRPC__HEALTH_SERVICE_UNKNOWN);
  crpc__health_shutdown(h); /* a no-op */
  crpc__health_free(h);
}

/* Setters on several threads, each for its own name, while watchers and
 * readers run: every set lands and nothing races (see the TSan build). */
#define SETTERS 4
#define ROUNDS 300

typedef struct stress {
  crpc__health *h;
  int index;
  atomic_int *stop;
} stress;

static void stress_set(void *arg) {
  stress *s = arg;
  char name[16];
  snprintf(name, sizeof(name), "svc%d", s->index);
  for (int i = 0; i < ROUNDS; i++)
    cr_assert_eq(
        crpc__health_set(s->h, name,
                         i % 2 ? CRPC_HEALTH_NOT_SERVING : CRPC_HEALTH_SERVING),
        0);
}

static void stress_watch(void *arg) {
  stress *s = arg;
  while (!atomic_load(s->stop)) {
    int st;
    crpc_future *f;
    crpc_health_status got;
    if (crpc__health_watch(s->h, "svc0", &st, &f) != 0)
      break;
    crpc_future_wait_for(f, 10);
    crpc_future_unref(f);
    crpc__health_get(s->h, "svc1", &got);
  }
}

Test(health, concurrent_sets_watches_and_reads, .timeout = 60) {
  crpc__health *h = new_health();
  atomic_int stop = 0;
  stress s[SETTERS + 2];
  uv_thread_t th[SETTERS + 2];
  for (int i = 0; i < SETTERS + 2; i++) {
    s[i] = (stress){.h = h, .index = i, .stop = &stop};
    uv_thread_create(&th[i], i < SETTERS ? stress_set : stress_watch, &s[i]);
  }
  for (int i = 0; i < SETTERS; i++)
    uv_thread_join(&th[i]);
  atomic_store(&stop, 1);
  for (int i = SETTERS; i < SETTERS + 2; i++)
    uv_thread_join(&th[i]);
  for (int i = 0; i < SETTERS; i++) {
    char name[16];
    crpc_health_status st;
    snprintf(name, sizeof(name), "svc%d", i);
    cr_assert_eq(crpc__health_get(h, name, &st), 0);
    cr_assert_eq(st, (ROUNDS - 1) % 2 ? CRPC_HEALTH_NOT_SERVING
                                      : CRPC_HEALTH_SERVING);
  }
  crpc__health_free(h);
}

Test(health, the_service_table, .timeout = 10) {
  const crpc_service_desc *d = &crpc__health_desc;
  cr_assert_str_eq(d->name, "grpc.health.v1.Health");
  cr_assert_str_eq(d->package, "grpc.health.v1");
  cr_assert_eq(d->n_methods, 2);
  cr_assert_gt(d->handlers_size, 0);

  const crpc_method *check = crpc_service_desc_find(d, "Check");
  cr_assert_not_null(check);
  cr_assert_str_eq(check->path, "/grpc.health.v1.Health/Check");
  cr_assert_eq(check->kind, CRPC_METHOD_UNARY);
  cr_assert_eq(check->placement, CRPC_PLACEMENT_LOOP);

  const crpc_method *watch = crpc_service_desc_find(d, "Watch");
  cr_assert_not_null(watch);
  cr_assert_str_eq(watch->path, "/grpc.health.v1.Health/Watch");
  cr_assert_eq(watch->kind, CRPC_METHOD_SERVER_STREAMING);
  cr_assert_eq(watch->placement, CRPC_PLACEMENT_LOOP);

  for (size_t i = 0; i < d->n_methods; i++) {
    const crpc_method *m = &d->methods[i];
    cr_assert_str_eq(m->input->name, "grpc.health.v1.HealthCheckRequest");
    cr_assert_str_eq(m->output->name, "grpc.health.v1.HealthCheckResponse");
    cr_assert_not_null(m->invoke);
    cr_assert_lt(m->handler_offset, d->handlers_size);
  }
  cr_assert_null(crpc_service_desc_find(d, "List"));
}

Test(health, the_service_is_made_for_a_registry, .timeout = 10) {
  crpc__health *h = new_health();
  crpc_service *svc = crpc__health_service(h);
  cr_assert_not_null(svc);
  cr_assert_eq(crpc_service_set_placement(svc, "Watch", CRPC_PLACEMENT_LOOP),
               0);
  crpc_service_free(svc);
  crpc__health_free(h);
}
