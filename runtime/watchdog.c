/* runtime/watchdog.c: a thread that sees a loop stall while it stalls. */
#include "watchdog.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "crpc/error.h"
#include "log_internal.h"
#include "loop_internal.h"

/* One watched loop. |ping| runs on the loop and sets |pong_ns|; the rest
 * belongs to the watchdog's thread. */
typedef struct watched {
  crpc__task ping;
  _Atomic int64_t pong_ns; /* when the loop last ran a ping */
  crpc_loop *loop;
  int64_t sent_ns; /* when the ping in flight was posted; 0: none */
  int stalled;
  const char *label; /* what ran when the stall was seen */
} watched;

struct crpc__watchdog {
  uv_thread_t thread;
  uv_mutex_t mu; /* guards |stopping| */
  uv_cond_t cv;
  int stopping;
  int started;
  int64_t stall_ns;
  uint64_t period_ns;
  crpc_logger logger;
  atomic_uint_fast64_t stalls;
  size_t n;
  watched loops[];
};

/* On the loop: it has come back to its task queue. */
static void pong(crpc__task *t) {
  watched *lw = (watched *)t;
  atomic_store_explicit(&lw->pong_ns, (int64_t)uv_hrtime(),
                        memory_order_release);
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
    int64_t got = atomic_load_explicit(&lw->pong_ns, memory_order_acquire);
    if (got < lw->sent_ns) {
      if (!lw->stalled && now - lw->sent_ns >= w->stall_ns)
        report_stall(w, i, now);
      return;
    }
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
  lw->ping.fn = pong;
  if (crpc__loop_post_task(lw->loop, &lw->ping) != 0)
    lw->sent_ns = 0; /* the loop is closing */
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
  w->n = n;
  for (size_t i = 0; i < n; i++) {
    w->loops[i].loop = loops[i];
    atomic_init(&w->loops[i].pong_ns, 0);
  }
  uv_mutex_init(&w->mu);
  uv_cond_init(&w->cv);
  int rc = uv_thread_create(&w->thread, watch_main, w);
  if (rc != 0) {
    uv_cond_destroy(&w->cv);
    uv_mutex_destroy(&w->mu);
    free(w);
    return rc;
  }
  w->started = 1;
  *out = w;
  return 0;
}

uint64_t crpc__watchdog_stalls(crpc__watchdog *w) {
  return atomic_load(&w->stalls);
}

void crpc__watchdog_stop(crpc__watchdog *w) {
  if (w == NULL || !w->started)
    return;
  uv_mutex_lock(&w->mu);
  w->stopping = 1;
  uv_cond_signal(&w->cv);
  uv_mutex_unlock(&w->mu);
  uv_thread_join(&w->thread);
  w->started = 0;
}

void crpc__watchdog_free(crpc__watchdog *w) {
  if (w == NULL)
    return;
  crpc__watchdog_stop(w);
  uv_cond_destroy(&w->cv);
  uv_mutex_destroy(&w->mu);
  free(w);
}
