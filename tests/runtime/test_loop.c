/* Tests for runtime/loop.c: posting work to a loop from any thread. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "crpc/error.h"
#include "crpc/loop.h"
#include "loop_internal.h"

typedef struct counter {
  crpc_loop *loop;
  atomic_int n;
  int on_loop;
  int order_ok;
  int last[8];
} counter;

static void bump(void *arg) {
  counter *c = arg;
  if (crpc_loop_is_current(c->loop) && crpc_loop_current() == c->loop)
    c->on_loop++;
  atomic_fetch_add(&c->n, 1);
}

Test(loop, post_from_loop_thread_is_deferred, .timeout = 10) {
  crpc_loop *loop;
  counter c = {0};
  cr_assert_eq(crpc_loop_new(NULL, NULL, &loop), 0);
  c.loop = loop;
  cr_assert_not(crpc_loop_is_current(loop));
  cr_assert_eq(crpc_loop_post(loop, bump, &c), 0);
  cr_assert_eq(atomic_load(&c.n), 0, "ran inline");
  crpc_loop_run(loop, CRPC_RUN_DEFAULT);
  cr_assert_eq(atomic_load(&c.n), 1);
  cr_assert_eq(c.on_loop, 1);
  crpc_loop_free(loop);
}

/* Kicks posted by a task run in the same turn of the loop; other tasks it
 * posts wait for the next. */
typedef struct kicker {
  crpc_loop *loop;
  crpc__task first, later;
  crpc__kick kick;
  int first_ran, later_ran, kicks, kick_again;
} kicker;

static void kicker_kick(crpc__task *t) {
  kicker *k = (kicker *)((char *)t - offsetof(kicker, kick.task));
  crpc__kick_taken(&k->kick);
  k->kicks++;
  if (k->kicks < k->kick_again)
    cr_assert_eq(crpc__kick_post(&k->kick, k->loop), 1);
}

static void kicker_later(crpc__task *t) {
  kicker *k = (kicker *)((char *)t - offsetof(kicker, later));
  k->later_ran++;
  int queued_already = atomic_load(&k->kick.queued);
  cr_assert_eq(crpc__kick_post(&k->kick, k->loop), !queued_already);
  cr_assert_eq(crpc__kick_post(&k->kick, k->loop), 0, "queued twice");
}

static void kicker_first(crpc__task *t) {
  kicker *k = (kicker *)((char *)t - offsetof(kicker, first));
  k->first_ran++;
  cr_assert_eq(crpc__kick_post(&k->kick, k->loop), 1);
  cr_assert_eq(crpc__loop_post_task(k->loop, &k->later), 0);
}

static kicker *kicker_new(crpc_loop *loop, int kick_again) {
  kicker *k = calloc(1, sizeof(*k));
  cr_assert_not_null(k);
  k->loop = loop;
  k->kick_again = kick_again;
  k->first.fn = kicker_first;
  k->later.fn = kicker_later;
  crpc__kick_init(&k->kick, kicker_kick);
  return k;
}

Test(loop, a_kick_posted_by_a_task_runs_in_the_same_turn, .timeout = 10) {
  crpc_loop *loop;
  cr_assert_eq(crpc_loop_new(NULL, NULL, &loop), 0);
  kicker *k = kicker_new(loop, 0);
  /* From another thread: the first turn's poll sees the wake-up and runs
   * |first|, which kicks and posts |later|. The hold keeps the loop alive
   * for the turns run one by one. */
  crpc__loop_hold(loop);
  cr_assert_eq(crpc__loop_post_task(loop, &k->first), 0);
  crpc_loop_run(loop, CRPC_RUN_NOWAIT);
  cr_assert_eq(k->first_ran, 1);
  cr_assert_eq(k->kicks, 1, "the kick waited for another turn");
  cr_assert_eq(k->later_ran, 0, "a task ran in the turn it was posted in");
  /* The next turn runs |later|, and its kick with it. */
  crpc_loop_run(loop, CRPC_RUN_NOWAIT);
  cr_assert_eq(k->later_ran, 1);
  cr_assert_eq(k->kicks, 2, "the kick waited for another turn");
  crpc__loop_release(loop);
  crpc_loop_run(loop, CRPC_RUN_DEFAULT);
  cr_assert_eq(k->kicks, 2);
  crpc_loop_free(loop);
  free(k);
}

Test(loop, a_kick_that_keeps_kicking_does_not_hold_the_loop, .timeout = 10) {
  crpc_loop *loop;
  cr_assert_eq(crpc_loop_new(NULL, NULL, &loop), 0);
  kicker *k = kicker_new(loop, 1000);
  crpc__loop_hold(loop);
  cr_assert_eq(crpc__loop_post_task(loop, &k->first), 0);
  crpc_loop_run(loop, CRPC_RUN_NOWAIT);
  cr_assert_gt(k->kicks, 1);
  cr_assert_lt(k->kicks, 10, "one turn ran the kick %d times", k->kicks);
  crpc__loop_release(loop);
  /* The rest runs a few times per turn, every turn, until it stops. */
  crpc_loop_run(loop, CRPC_RUN_DEFAULT);
  cr_assert_eq(k->kicks, 1000, "the kick that was queued ran twice");
  cr_assert_eq(k->later_ran, 1);
  crpc_loop_free(loop);
  free(k);
}

typedef struct seq {
  counter *c;
  int thread;
  int i;
} seq;

static void check_order(void *arg) {
  seq *s = arg;
  if (s->c->last[s->thread] != s->i)
    s->c->order_ok = 0;
  s->c->last[s->thread] = s->i + 1;
  bump(s->c);
}

typedef struct poster {
  crpc_loop *loop;
  counter *c;
  int thread;
  seq items[2000];
} poster;

static void post_many(void *arg) {
  poster *p = arg;
  for (int i = 0; i < 2000; i++) {
    p->items[i] = (seq){.c = p->c, .thread = p->thread, .i = i};
    cr_assert_eq(crpc_loop_post(p->loop, check_order, &p->items[i]), 0);
  }
}

Test(loop, posts_from_many_threads_all_run_in_order, .timeout = 30) {
  crpc_loop *loop;
  static counter c;
  static poster ps[4];
  uv_thread_t th[4];
  cr_assert_eq(crpc_loop_new(NULL, NULL, &loop), 0);
  c = (counter){.loop = loop, .order_ok = 1};
  cr_assert_eq(crpc_loop_start_thread(loop), 0);
  for (int i = 0; i < 4; i++) {
    ps[i] = (poster){.loop = loop, .c = &c, .thread = i};
    uv_thread_create(&th[i], post_many, &ps[i]);
  }
  for (int i = 0; i < 4; i++)
    uv_thread_join(&th[i]);
  cr_assert_eq(crpc_loop_stop(loop), 0);
  cr_assert_eq(atomic_load(&c.n), 8000);
  cr_assert_eq(c.on_loop, 8000);
  cr_assert(c.order_ok, "posts from one thread ran out of order");
  crpc_loop_free(loop);
}

static void try_stop(void *arg) {
  crpc_loop *loop = arg;
  cr_assert_eq(crpc_loop_stop(loop), CRPC_ELOOPTHREAD);
}

Test(loop, thread_lifecycle_errors, .timeout = 10) {
  crpc_loop *loop;
  cr_assert_eq(crpc_loop_new(NULL, NULL, &loop), 0);
  cr_assert_eq(crpc_loop_stop(loop), CRPC_ESTATE);
  cr_assert_eq(crpc_loop_start_thread(loop), 0);
  cr_assert_eq(crpc_loop_start_thread(loop), CRPC_ESTATE);
  cr_assert_eq(crpc_loop_post(loop, try_stop, loop), 0);
  cr_assert_eq(crpc_loop_stop(loop), 0);
  crpc_loop_free(loop);
}

Test(loop, attached_to_an_application_loop, .timeout = 10) {
  uv_loop_t uv;
  crpc_loop *loop;
  counter c = {0};
  cr_assert_eq(uv_loop_init(&uv), 0);
  cr_assert_eq(crpc_loop_new(&uv, NULL, &loop), 0);
  c.loop = loop;
  cr_assert(crpc_loop_is_current(loop));
  cr_assert_eq(crpc_loop_uv(loop), &uv);
  cr_assert_eq(crpc_loop_start_thread(loop), CRPC_ESTATE);
  cr_assert_eq(crpc_loop_post(loop, bump, &c), 0);
  uv_run(&uv, UV_RUN_DEFAULT);
  cr_assert_eq(atomic_load(&c.n), 1);
  crpc_loop_free(loop);
  uv_run(&uv, UV_RUN_DEFAULT); /* runs the close callbacks */
  cr_assert_eq(uv_loop_close(&uv), 0, "crpc left a handle open");
}

static void repost(void *arg) {
  counter *c = arg;
  if (atomic_fetch_add(&c->n, 1) < 99)
    crpc_loop_post(c->loop, repost, c);
}

Test(loop, free_runs_queued_work_then_refuses_more, .timeout = 10) {
  crpc_loop *loop;
  counter c = {0};
  cr_assert_eq(crpc_loop_new(NULL, NULL, &loop), 0);
  c.loop = loop;
  cr_assert_eq(crpc_loop_post(loop, repost, &c), 0);
  crpc_loop_free(loop); /* drains the chain of 100 posts */
  cr_assert_eq(atomic_load(&c.n), 100);
}

Test(loop, default_run_returns_when_idle, .timeout = 10) {
  crpc_loop *loop;
  crpc_loop_opts o;
  crpc_loop_opts_init(&o);
  cr_assert_eq(crpc_loop_new(NULL, &o, &loop), 0);
  cr_assert_null(crpc_loop_pool(loop));
  cr_assert_eq(crpc_loop_run(loop, CRPC_RUN_DEFAULT), 0);
  cr_assert_null(crpc_loop_current());
  crpc_loop_free(loop);
  crpc_loop_free(NULL);
}

/* Busy polling (crpc_loop_opts.busy_poll_us). */

typedef struct poller {
  atomic_int ran;
  clockid_t clock; /* the loop thread's CPU clock */
  long tid;        /* and its id, for its scheduler statistics */
} poller;

static void note_thread(void *arg) {
  poller *p = arg;
  pthread_getcpuclockid(pthread_self(), &p->clock);
  p->tid = (long)syscall(SYS_gettid);
  atomic_store(&p->ran, 1);
}

static int64_t clock_ns(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* How long |p|'s thread wanted a CPU so far, in nanoseconds: the time it
 * ran plus, where the kernel keeps scheduler statistics, the time it was
 * runnable but waited for a CPU. A thread that spins wants one all the
 * time, however busy the machine is; one that sleeps, almost never. */
static int64_t wanted_ns(const poller *p) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/self/task/%ld/schedstat", p->tid);
  FILE *f = fopen(path, "r");
  long long run = 0, wait = 0;
  int got = f != NULL ? fscanf(f, "%lld %lld", &run, &wait) : 0;
  if (f != NULL)
    fclose(f);
  return got == 2 ? run + wait : clock_ns(p->clock);
}

/* How long |p|'s thread wanted a CPU during the next |ms| milliseconds of
 * wall time, in milliseconds. */
static int64_t wanted_ms_over(const poller *p, int64_t ms) {
  int64_t w0 = wanted_ns(p), t0 = clock_ns(CLOCK_MONOTONIC);
  while (clock_ns(CLOCK_MONOTONIC) - t0 < ms * 1000000) {
    struct timespec pause = {0, 5000000};
    nanosleep(&pause, NULL);
  }
  return (wanted_ns(p) - w0) / 1000000;
}

/* Starts a loop with |busy_poll_us| on its thread, hands it one task and
 * waits until it ran there; the loop thread's CPU clock. */
static crpc_loop *start_after_work(uint32_t busy_poll_us, poller *p,
                                   int64_t *work_ns) {
  crpc_loop_opts o;
  crpc_loop_opts_init(&o);
  o.busy_poll_us = busy_poll_us;
  crpc_loop *loop;
  cr_assert_eq(crpc_loop_new(NULL, &o, &loop), 0);
  cr_assert_eq(crpc_loop_start_thread(loop), 0);
  cr_assert_eq(crpc_loop_post(loop, note_thread, p), 0);
  while (!atomic_load(&p->ran))
    sched_yield();
  *work_ns = clock_ns(CLOCK_MONOTONIC);
  return loop;
}

Test(loop, busy_polling_polls_after_work_then_sleeps, .timeout = 30) {
  /* Polls for 400 ms after the task: a thread that spins wants a CPU all
   * the time (its run time plus its wait for a CPU, which a loaded machine
   * makes long), one that sleeps almost never. */
  poller p = {0};
  int64_t work_ns;
  crpc_loop *loop = start_after_work(400000, &p, &work_ns);
  int64_t polling = wanted_ms_over(&p, 100);
  /* Past the 400 ms, it sleeps. */
  while (clock_ns(CLOCK_MONOTONIC) - work_ns < 500 * 1000000LL)
    sched_yield();
  int64_t after = wanted_ms_over(&p, 200);
  cr_assert_eq(crpc_loop_stop(loop), 0);
  crpc_loop_free(loop);
  cr_assert_geq(polling, 60, "wanted a CPU %lld ms of 100 ms of polling",
                (long long)polling);
  cr_assert_leq(after, 20, "wanted a CPU %lld ms of 200 ms once idle",
                (long long)after);
}

Test(loop, without_busy_polling_an_idle_loop_sleeps, .timeout = 30) {
  poller p = {0};
  int64_t work_ns;
  crpc_loop *loop = start_after_work(0, &p, &work_ns);
  int64_t idle = wanted_ms_over(&p, 200);
  cr_assert_eq(crpc_loop_stop(loop), 0);
  crpc_loop_free(loop);
  cr_assert_leq(idle, 20, "wanted a CPU %lld ms of 200 ms", (long long)idle);
}

/* Gathering under load (crpc_loop_opts.gather_us), one turn at a time as
 * the loop's own thread runs them (crpc__loop_turn()). */

/* A loop kept alive as crpc_loop_start_thread() keeps it, whose thread is
 * the test's. */
static crpc_loop *gathering_loop(uint32_t gather_us) {
  crpc_loop_opts o;
  crpc_loop_opts_init(&o);
  o.gather_us = gather_us;
  crpc_loop *loop;
  cr_assert_eq(crpc_loop_new(NULL, &o, &loop), 0);
  crpc__loop_set_current(loop);
  crpc__loop_hold(loop);
  loop->async_referenced = 1;
  uv_ref((uv_handle_t *)&loop->async);
  return loop;
}

static void free_gathering_loop(crpc_loop *loop) {
  crpc__loop_release(loop);
  crpc_loop_free(loop);
  crpc__loop_set_current(NULL);
}

typedef struct feed {
  crpc_loop *loop;
  int requests;
} feed;

/* Stands for a read from a peer that opened |requests| streams. */
static void fake_read(void *arg) {
  feed *f = arg;
  crpc__loop_note_input(f->loop);
  for (int i = 0; i < f->requests; i++)
    crpc__loop_note_request(f->loop);
}

/* Runs a turn of |f|'s loop from |state|, reading |requests| streams in
 * it (no read at all when negative); the state it leaves for the next. */
static int turn_from(feed *f, int state, int requests) {
  f->loop->gather_state = state;
  if (requests >= 0) {
    f->requests = requests;
    cr_assert_eq(crpc_loop_post(f->loop, fake_read, f), 0);
  }
  crpc__loop_turn(f->loop);
  return f->loop->gather_state;
}

Test(loop, gathering_starts_when_a_probe_reads_more, .timeout = 30) {
  crpc_loop *loop = gathering_loop(1000);
  feed f = {loop, 0};
  cr_assert_eq(turn_from(&f, CRPC__GATHER_BLOCK, 1), CRPC__GATHER_PROBE,
               "a turn that read is followed by a probe");
  cr_assert_eq(loop->gather_turn_slept_ns, 0);
  cr_assert_eq(turn_from(&f, CRPC__GATHER_PROBE, 1), CRPC__GATHER_SLEEP,
               "a probe that read more starts gathering");
  cr_assert_eq(loop->gather_turn_slept_ns, 0, "a probe does not sleep");
  cr_assert_eq(turn_from(&f, CRPC__GATHER_PROBE, -1), CRPC__GATHER_BLOCK,
               "a probe that read nothing blocks next");
  free_gathering_loop(loop);
}

Test(loop, gathering_goes_on_while_each_sleep_brings_more_than_one_request,
     .timeout = 30) {
  crpc_loop *loop = gathering_loop(1000);
  feed f = {loop, 0};
  loop->gather_worked_ns = 0;
  cr_assert_eq(turn_from(&f, CRPC__GATHER_SLEEP, 2), CRPC__GATHER_SLEEP);
  cr_assert_geq(loop->gather_turn_slept_ns, 1000000, "slept %llu ns",
                (unsigned long long)loop->gather_turn_slept_ns);
  /* One request (a lone client's next, which its answer brought) is no
   * load: a probe decides. */
  loop->gather_worked_ns = 0;
  cr_assert_eq(turn_from(&f, CRPC__GATHER_SLEEP, 1), CRPC__GATHER_PROBE);
  cr_assert_geq(loop->gather_turn_slept_ns, 1000000);
  cr_assert_eq(turn_from(&f, CRPC__GATHER_SLEEP, -1), CRPC__GATHER_BLOCK);
  free_gathering_loop(loop);
}

Test(loop, a_loop_that_works_longer_than_it_sleeps_does_not_sleep,
     .timeout = 30) {
  crpc_loop *loop = gathering_loop(1000);
  feed f = {loop, 0};
  loop->gather_worked_ns = loop->gather_slept_ns + 1;
  cr_assert_eq(turn_from(&f, CRPC__GATHER_SLEEP, 5), CRPC__GATHER_SLEEP);
  cr_assert_eq(loop->gather_turn_slept_ns, 0);
  free_gathering_loop(loop);
}

static void note_prepare(uv_prepare_t *h) {
  uint64_t *at = h->data;
  *at = uv_hrtime();
}

Test(loop, a_gathering_turn_sleeps_after_the_other_prepare_handles,
     .timeout = 30) {
  /* Prepare handles are where connections write what their calls
   * answered (server and channel flushes): the sleep must not hold
   * those answers back. */
  crpc_loop *loop = gathering_loop(1000);
  uv_prepare_t flush;
  uint64_t flushed_at = 0;
  uv_prepare_init(crpc_loop_uv(loop), &flush);
  flush.data = &flushed_at;
  uv_prepare_start(&flush, note_prepare);
  feed f = {loop, 0};
  loop->gather_worked_ns = 0;
  turn_from(&f, CRPC__GATHER_SLEEP, 2);
  uint64_t done_at = uv_hrtime();
  cr_assert_neq(flushed_at, 0);
  cr_assert_geq(done_at - flushed_at, 1000000,
                "the turn ended %llu ns after the flush: it slept before",
                (unsigned long long)(done_at - flushed_at));
  uv_close((uv_handle_t *)&flush, NULL);
  free_gathering_loop(loop);
}

Test(loop, gather_us_defaults_to_20_caps_at_1000_and_turns_off, .timeout = 10) {
  const struct {
    uint32_t us;
    uint64_t ns;
  } cases[] = {{0, 20000},
               {7, 7000},
               {1000, 1000000},
               {5000, 1000000},
               {CRPC_GATHER_OFF, 0}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    crpc_loop_opts o;
    crpc_loop_opts_init(&o);
    o.gather_us = cases[i].us;
    crpc_loop *loop;
    cr_assert_eq(crpc_loop_new(NULL, &o, &loop), 0);
    cr_assert_eq(loop->gather_ns, cases[i].ns, "gather_us %u: %llu ns",
                 (unsigned)cases[i].us, (unsigned long long)loop->gather_ns);
    crpc_loop_free(loop);
  }
}
