/* runtime/watchdog.c: a thread that sees a loop stall while it stalls. */
#include "watchdog.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "crpc/error.h"
#include "log_internal.h"
#include "loop_internal.h"

/* What a ping shares with the loop that runs it. It outlives the watchdog
 * while a ping is queued: the watchdog holds one reference, a ping in
 * flight another, and the last one frees it. */
typedef struct pong_box {
  crpc__task ping;
  atomic_int refs;
  /* Pings are numbered: |asked| is the one in flight (set by the
   * watchdog before it posts it), |answered| the last one the loop ran.
   * A ping is posted again only once it has run: comparing times instead
   * let one answered just after the watchdog read the clock pass for the
   * answer to the next, and the same task was queued twice. */
  uint64_t asked;
  _Atomic uint64_t answered;
  _Atomic int64_t pong_ns; /* when the loop last ran a ping */
} pong_box;

/* One watched loop, the watchdog thread's. */
typedef struct watched {
  pong_box *box;
  crpc_loop *loop;
  int64_t sent_ns; /* when the ping in flight was posted; 0: none */
  int stalled;
  const char *label; /* what ran when the stall was seen */
} watched;

struct crpc__watchdog {
  uv_thread_t thread;
  uv_mutex_t mu; /* guards |stopping|; a leaf */
  uv_cond_t cv;
  int stopping;
  int64_t stall_ns;
  uint64_t period_ns;
  crpc_logger logger;
  atomic_uint_fast64_t stalls;
  size_t n;
  watched loops[];
};

static void box_unref(pong_box *box) {
  if (atomic_fetch_sub(&box->refs, 1) == 1)
    free(box);
}

/* On the loop: it has come back to its task queue. */
static void pong(crpc__task *t) {
  pong_box *box = (pong_box *)t;
  atomic_store_explicit(&box->pong_ns, (int64_t)uv_hrtime(),
                        memory_order_relaxed);
  atomic_store_explicit(&box->answered, box->asked, memory_order_release);
  box_unref(box);
}

static void report_stall(crpc__watchdog *w, size_t i, int64_t now) {
  watched *lw = &w->loops[i];
  crpc_loop *loop = lw->loop;
  lw->stalled = 1;
  lw->label = atomic_load_explicit(&loop->running_label, memory_order_relaxed);
  atomic_fetch_add(&w->stalls, 1);
  if (lw->label != NULL) {
    int64_t ran = now - atomic_load_explicit(&loop->running_since_ns,
                                             memory_order_relaxed);
    crpc__log(&w->logger, CRPC_LOG_WARN,
              "loop %zu has not turned for %lld ms: %s has run for %lld ms "
              "without suspending, and every other call on the loop waits",
              i, (long long)((now - lw->sent_ns) / 1000000), lw->label,
              (long long)(ran / 1000000));
  } else {
    crpc__log(&w->logger, CRPC_LOG_WARN,
              "loop %zu has not turned for %lld ms (no coroutine runs: a "
              "callback, or the loop is not being run)",
              i, (long long)((now - lw->sent_ns) / 1000000));
  }
}

/* One look at loop |i|: the answer to the ping in flight, or a new ping. */
static void look(crpc__watchdog *w, size_t i, int64_t now) {
  watched *lw = &w->loops[i];
  if (lw->sent_ns != 0) {
    if (atomic_load_explicit(&lw->box->answered, memory_order_acquire) !=
        lw->box->asked) {
      if (!lw->stalled && now - lw->sent_ns >= w->stall_ns)
        report_stall(w, i, now);
      return;
    }
    int64_t got = atomic_load_explicit(&lw->box->pong_ns, memory_order_relaxed);
    if (lw->stalled) {
      lw->stalled = 0;
      crpc__log(&w->logger, CRPC_LOG_WARN,
                "loop %zu turned again after %lld ms (%s)", i,
                (long long)((got - lw->sent_ns) / 1000000),
                lw->label ? lw->label : "no coroutine: a callback");
    }
    lw->sent_ns = 0;
  }
  lw->sent_ns = now;
  lw->box->asked++;
  lw->box->ping.fn = pong;
  atomic_fetch_add(&lw->box->refs, 1); /* the ping's */
  if (crpc__loop_post_task(lw->loop, &lw->box->ping) != 0) {
    atomic_fetch_sub(&lw->box->refs, 1);
    lw->sent_ns = 0; /* the loop is closing */
  }
}

static void watch_main(void *arg) {
  crpc__watchdog *w = arg;
  uv_mutex_lock(&w->mu);
  while (!w->stopping) {
    uv_cond_timedwait(&w->cv, &w->mu, w->period_ns);
    if (w->stopping)
      break;
    int64_t now = (int64_t)uv_hrtime();
    for (size_t i = 0; i < w->n; i++)
      look(w, i, now);
  }
  uv_mutex_unlock(&w->mu);
}

int crpc__watchdog_new(crpc_loop *const *loops, size_t n, uint32_t stall_ms,
                       const crpc_logger *logger, crpc__watchdog **out) {
  crpc__watchdog *w = calloc(1, sizeof(*w) + n * sizeof(w->loops[0]));
  if (w == NULL)
    return CRPC_ENOMEM;
  w->stall_ns = (int64_t)stall_ms * 1000000;
  w->period_ns = (uint64_t)w->stall_ns / 4 + 1000000;
  if (logger != NULL)
    w->logger = *logger;
  atomic_init(&w->stalls, 0);
  int rc = CRPC_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    w->loops[i].loop = loops[i];
    w->loops[i].box = calloc(1, sizeof(pong_box));
    if (w->loops[i].box == NULL)
      goto fail;
    w->n = i + 1;
    atomic_init(&w->loops[i].box->refs, 1);
    atomic_init(&w->loops[i].box->pong_ns, 0);
    atomic_init(&w->loops[i].box->answered, 0);
  }
  uv_mutex_init(&w->mu);
  uv_cond_init(&w->cv);
  if ((rc = uv_thread_create(&w->thread, watch_main, w)) != 0) {
    uv_cond_destroy(&w->cv);
    uv_mutex_destroy(&w->mu);
    goto fail;
  }
  *out = w;
  return 0;

fail:
  for (size_t i = 0; i < w->n; i++)
    box_unref(w->loops[i].box);
  free(w);
  return rc;
}

uint64_t crpc__watchdog_stalls(crpc__watchdog *w) {
  return atomic_load(&w->stalls);
}

void crpc__watchdog_free(crpc__watchdog *w) {
  if (w == NULL)
    return;
  uv_mutex_lock(&w->mu);
  w->stopping = 1;
  uv_cond_signal(&w->cv);
  uv_mutex_unlock(&w->mu);
  uv_thread_join(&w->thread);
  uv_cond_destroy(&w->cv);
  uv_mutex_destroy(&w->mu);
  /* A ping still queued keeps its box until the loop runs or drops it. */
  for (size_t i = 0; i < w->n; i++)
    box_unref(w->loops[i].box);
  free(w);
}
