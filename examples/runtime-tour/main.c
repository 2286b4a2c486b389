/*
 * examples/runtime-tour/main.c: crpc's runtime on one loop.
 *
 * Coroutines that sleep without blocking each other, a gather of 100
 * futures completed by worker threads, blocking work handed to the pool
 * while the loop keeps ticking, a plain thread waiting on a coroutine's
 * result, a timeout and a cancellation.
 */
#include <crpc/coro.h>
#include <crpc/deadline.h>
#include <crpc/error.h>
#include <crpc/future.h>
#include <crpc/loop.h>
#include <crpc/pool.h>
#include <stdio.h>
#include <stdlib.h>

static int64_t t_start;

static double ms_since(int64_t t0) {
  return (double)(crpc_now_ns() - t0) / 1e6;
}

static void say(const char *what) {
  printf("[%7.1f ms] %s\n", ms_since(t_start), what);
  fflush(stdout);
}

/* 1. Three coroutines sleep 150, 100 and 50 ms at the same time. */
static crpc_status sleeper(void *arg) {
  int ms = *(int *)arg;
  char line[80];
  crpc_sleep(ms);
  snprintf(line, sizeof(line), "  coroutine woke after its %d ms sleep", ms);
  say(line);
  return CRPC_STATUS_OK;
}

/* 2. A hundred futures, each completed by a worker thread. */
static void complete_on_worker(void *arg) {
  crpc_future_complete(arg, CRPC_STATUS_OK, NULL, NULL, NULL);
}

static crpc_status gatherer(void *arg) {
  crpc_pool *pool = arg;
  crpc_future *fs[100], *all;
  int64_t t0 = crpc_now_ns();
  char line[96];
  for (int i = 0; i < 100; i++) {
    crpc_future_new(NULL, &fs[i]);
    crpc_pool_submit(pool, NULL, complete_on_worker, NULL, fs[i]);
  }
  crpc_future_all(fs, 100, &all);
  crpc_await(all);
  snprintf(line, sizeof(line),
           "  gathered 100 futures completed on workers: %s in %.2f ms",
           crpc_status_name(crpc_future_status(all)), ms_since(t0));
  say(line);
  crpc_future_unref(all);
  for (int i = 0; i < 100; i++)
    crpc_future_unref(fs[i]);
  return CRPC_STATUS_OK;
}

/* 3. CPU-bound work on the pool while another coroutine keeps ticking. */
static void *count_primes(void *arg) {
  long n = (long)(intptr_t)arg, count = 0;
  for (long i = 2; i < n; i++) {
    int prime = 1;
    for (long d = 2; d * d <= i && prime; d++)
      prime = i % d != 0;
    count += prime;
  }
  return (void *)(intptr_t)count;
}

static int ticks;

static crpc_status ticker(void *arg) {
  (void)arg;
  for (int i = 0; i < 10; i++) {
    crpc_sleep(5);
    ticks++;
  }
  return CRPC_STATUS_OK;
}

static crpc_status cruncher(void *arg) {
  (void)arg;
  void *result;
  char line[96];
  int before = ticks;
  crpc_run_blocking(count_primes, (void *)(intptr_t)400000, &result);
  snprintf(line, sizeof(line),
           "  %ld primes below 400000 counted on a worker; the loop ticked %d "
           "times meanwhile",
           (long)(intptr_t)result, ticks - before);
  say(line);
  return CRPC_STATUS_OK;
}

/* 4. A timeout and a cancellation. */
static void on_cancel(crpc_future *f, void *ud) {
  (void)f;
  (void)ud;
  say("  the producer's cancel hook ran");
}

static crpc_status impatient(void *arg) {
  (void)arg;
  crpc_future *never, *doomed;
  char line[96];
  crpc_future_new(NULL, &never);
  int rc = crpc_future_wait_for(never, 30);
  snprintf(line, sizeof(line),
           "  waiting 30 ms for a future that never comes: %s",
           crpc_strerror(rc));
  say(line);
  crpc_future_new(NULL, &doomed);
  crpc_future_on_cancel(doomed, on_cancel, NULL);
  crpc_future_cancel(doomed);
  snprintf(line, sizeof(line), "  cancelled future completed with %s",
           crpc_status_name(crpc_future_status(doomed)));
  say(line);
  crpc_future_unref(never);
  crpc_future_unref(doomed);
  return CRPC_STATUS_OK;
}

static crpc_status answer(void *arg) {
  (void)arg;
  crpc_sleep(20);
  return CRPC_STATUS_OK;
}

int main(void) {
  crpc_pool_opts po = {.threads = 2};
  crpc_loop_opts lo;
  crpc_pool *pool;
  crpc_loop *loop;
  crpc_future *done;
  static int naps[] = {150, 100, 50};

  t_start = crpc_now_ns();
  if (crpc_pool_new(&po, &pool) != 0)
    return 1;
  crpc_loop_opts_init(&lo);
  lo.pool = pool;
  if (crpc_loop_new(NULL, &lo, &loop) != 0)
    return 1;

  say("1. three coroutines sleep 150, 100 and 50 ms on one loop thread");
  for (int i = 0; i < 3; i++)
    crpc_coro_spawn(loop, sleeper, &naps[i], NULL);
  int64_t t0 = crpc_now_ns();
  crpc_loop_run(loop, CRPC_RUN_DEFAULT);
  printf("             all done in %.0f ms, not 300\n", ms_since(t0));

  say("2. a coroutine awaits 100 futures that worker threads complete");
  crpc_coro_spawn(loop, gatherer, pool, NULL);
  crpc_loop_run(loop, CRPC_RUN_DEFAULT);

  say("3. blocking work goes to the pool; the loop keeps running");
  crpc_coro_spawn(loop, ticker, NULL, NULL);
  crpc_coro_spawn(loop, cruncher, NULL, NULL);
  crpc_loop_run(loop, CRPC_RUN_DEFAULT);

  say("4. timeouts and cancellation");
  crpc_coro_spawn(loop, impatient, NULL, NULL);
  crpc_loop_run(loop, CRPC_RUN_DEFAULT);

  say("5. the loop on its own thread; main waits on a coroutine's future");
  crpc_loop_start_thread(loop);
  crpc_coro_spawn(loop, answer, NULL, &done);
  crpc_future_wait(done);
  printf("             main thread got %s from the coroutine\n",
         crpc_status_name(crpc_future_status(done)));
  crpc_future_unref(done);
  crpc_loop_stop(loop);

  crpc_loop_free(loop);
  crpc_pool_free(pool);
  say("done");
  return 0;
}
