/*
 * tests/runtime/test_watchdog.c: runtime/watchdog.c sees a loop stall
 * while it lasts, names the coroutine's label, and says when it ends.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include "coro_internal.h"
#include "crpc/coro.h"
#include "crpc/deadline.h"
#include "crpc/error.h"
#include "watchdog.h"

typedef struct seen {
  pthread_mutex_t mu;
  char text[4096];
} seen;

static seen log_seen = {PTHREAD_MUTEX_INITIALIZER, ""};

static void capture(crpc_log_level level, const char *msg, void *ud) {
  seen *s = ud;
  (void)level;
  pthread_mutex_lock(&s->mu);
  strncat(s->text, msg, sizeof(s->text) - strlen(s->text) - 2);
  strcat(s->text, "\n");
  pthread_mutex_unlock(&s->mu);
}

static int logged(const char *what) {
  pthread_mutex_lock(&log_seen.mu);
  int found = strstr(log_seen.text, what) != NULL;
  pthread_mutex_unlock(&log_seen.mu);
  return found;
}

/* How often |what| was logged before |until| first was (all of the log
 * when it was not). */
static int logged_before(const char *what, const char *until) {
  pthread_mutex_lock(&log_seen.mu);
  const char *end = strstr(log_seen.text, until);
  int n = 0;
  for (const char *p = log_seen.text;
       (p = strstr(p, what)) != NULL && (end == NULL || p < end);
       p += strlen(what))
    n++;
  pthread_mutex_unlock(&log_seen.mu);
  return n;
}

/* Keeps the loop thread busy, without suspending, until |what| is logged
 * (at most 10 s): the warning must come while the stall lasts. */
static int busy_until_logged(const char *what) {
  crpc_deadline d = crpc_deadline_after_ms(10000);
  while (!logged(what))
    if (crpc_deadline_expired(d))
      return 0;
  return 1;
}

static atomic_int saw_warning;

static crpc_status spinning_handler(void *arg) {
  (void)arg;
  crpc__coro_set_label("/demo.Svc/Spin");
  atomic_store(&saw_warning, busy_until_logged("has not turned for ") &&
                                 logged("loop 0 has not turned for ") &&
                                 logged("/demo.Svc/Spin has run for "));
  return CRPC_STATUS_OK;
}

static crpc_logger capture_logger(void) {
  crpc_logger lg = {.level = CRPC_LOG_DEBUG,
                    .level_set = 1,
                    .fn = capture,
                    .user_data = &log_seen};
  return lg;
}

Test(watchdog, a_spinning_coroutine_is_named_while_it_spins, .timeout = 30) {
  crpc_loop *loop;
  cr_assert_eq(crpc_loop_new(NULL, NULL, &loop), 0);
  crpc_logger lg = capture_logger();
  crpc__watchdog *w;
  cr_assert_eq(crpc__watchdog_new(&loop, 1, 50, &lg, &w), 0);
  crpc_future *done;
  cr_assert_eq(crpc_coro_spawn(loop, spinning_handler, NULL, &done), 0);
  crpc_loop_run(loop, CRPC_RUN_DEFAULT);
  cr_assert(atomic_load(&saw_warning), "log:\n%s", log_seen.text);
  /* Once the loop runs its tasks again, the end of the stall is
   * reported. */
  crpc_deadline d = crpc_deadline_after_ms(10000);
  while (!logged("loop 0 turned again after ") && !crpc_deadline_expired(d))
    crpc_loop_run(loop, CRPC_RUN_NOWAIT);
  cr_assert(logged("loop 0 turned again after "), "log:\n%s", log_seen.text);
  cr_assert(logged("(/demo.Svc/Spin)"));
  /* One stall, reported and counted once while it lasted. The watchdog
   * pings again at once, and this thread no longer runs the loop: a
   * starved machine may see that as a stall of its own. */
  cr_assert_eq(
      logged_before("loop 0 has not turned for ", "loop 0 turned again after "),
      1, "log:\n%s", log_seen.text);
  cr_assert_geq(crpc__watchdog_stalls(w), 1);
  crpc_future_unref(done);
  crpc__watchdog_free(w);
  crpc_loop_free(loop);
}

static void spinning_callback(void *arg) {
  atomic_store((atomic_int *)arg,
               busy_until_logged("no coroutine runs: a callback"));
}

Test(watchdog, a_slow_callback_is_reported_too, .timeout = 30) {
  crpc_loop *loop;
  atomic_int ok;
  atomic_init(&ok, 0);
  cr_assert_eq(crpc_loop_new(NULL, NULL, &loop), 0);
  crpc_logger lg = capture_logger();
  crpc__watchdog *w;
  cr_assert_eq(crpc__watchdog_new(&loop, 1, 50, &lg, &w), 0);
  cr_assert_eq(crpc_loop_post(loop, spinning_callback, &ok), 0);
  crpc_loop_run(loop, CRPC_RUN_DEFAULT);
  cr_assert(atomic_load(&ok), "log:\n%s", log_seen.text);
  crpc__watchdog_free(w);
  crpc_loop_free(loop);
}

Test(watchdog, a_loop_that_polls_is_never_reported, .timeout = 30) {
  crpc_loop *loop;
  cr_assert_eq(crpc_loop_new(NULL, NULL, &loop), 0);
  crpc_logger lg = capture_logger();
  crpc__watchdog *w;
  cr_assert_eq(crpc__watchdog_new(&loop, 1, 20, &lg, &w), 0);
  cr_assert_eq(crpc_loop_start_thread(loop), 0);
  /* An idle loop waits in poll for far longer than the limit. */
  for (int i = 0; i < 5; i++) {
    crpc_future *f;
    cr_assert_eq(crpc_future_new(NULL, &f), 0);
    cr_assert_eq(crpc_future_wait_for(f, 40), CRPC_ETIMEDOUT);
    crpc_future_unref(f);
  }
  cr_assert_eq(crpc__watchdog_stalls(w), 0, "log:\n%s", log_seen.text);
  crpc__watchdog_free(w);
  cr_assert_eq(crpc_loop_stop(loop), 0);
  crpc_loop_free(loop);
}

/* Many loops answering pings while they run a stream of short tasks: a
 * ping is posted again only once its last post has run. (It used to be
 * posted again when a ping answered just after the watchdog read the
 * clock looked like the answer to the next one: the same task was then
 * queued twice, and the loop ran a freed box or lost its other tasks.) */
#define BUSY_LOOPS 32
#define BUSY_MS 3000

static atomic_int tasks_ran;

static void count_task(void *arg) {
  (void)arg;
  atomic_fetch_add(&tasks_ran, 1);
}

Test(watchdog, pings_of_busy_loops_are_never_queued_twice, .timeout = 60) {
  crpc_loop *loops[BUSY_LOOPS];
  for (int i = 0; i < BUSY_LOOPS; i++) {
    cr_assert_eq(crpc_loop_new(NULL, NULL, &loops[i]), 0);
    cr_assert_eq(crpc_loop_start_thread(loops[i]), 0);
  }
  /* Busy loops are stalls of a millisecond now and then: not logged. */
  crpc_logger lg = {.level = CRPC_LOG_OFF, .level_set = 1};
  crpc__watchdog *w;
  cr_assert_eq(crpc__watchdog_new(loops, BUSY_LOOPS, 1, &lg, &w), 0);
  atomic_init(&tasks_ran, 0);
  /* Batches of tasks for BUSY_MS, each waited for: a lost task stalls. */
  int posted = 0;
  crpc_deadline end = crpc_deadline_after_ms(BUSY_MS);
  while (!crpc_deadline_expired(end)) {
    for (int i = 0; i < 64 * BUSY_LOOPS; i++, posted++)
      cr_assert_eq(crpc_loop_post(loops[i % BUSY_LOOPS], count_task, NULL), 0);
    crpc_deadline d = crpc_deadline_after_ms(10000);
    while (atomic_load(&tasks_ran) < posted && !crpc_deadline_expired(d))
      sched_yield();
    cr_assert_eq(atomic_load(&tasks_ran), posted, "tasks were lost");
  }
  crpc__watchdog_free(w);
  for (int i = 0; i < BUSY_LOOPS; i++) {
    cr_assert_eq(crpc_loop_stop(loops[i]), 0);
    crpc_loop_free(loops[i]);
  }
}
