/*
 * runtime/pool.c: fixed worker threads over a bounded FIFO of jobs.
 *
 * Lock order: the pool's |mu|, then (inside crpc__loop_post_task) a loop's
 * |mu|. Completions are posted after |mu| is released, so in practice the
 * two are never held together.
 */
#include "pool_internal.h"

#include <stdlib.h>
#include <string.h>

#include "crpc/error.h"

#define DEFAULT_QUEUE_MAX 4096

struct crpc_pool {
  uv_mutex_t mu;
  uv_cond_t cv;
  crpc__job *head;
  crpc__job *tail;
  size_t queued;
  size_t queue_max;
  unsigned idle;
  int stopping;
  unsigned n_threads;
  uv_thread_t *threads;
};

/* The pool whose worker this thread is. Per-thread by nature. */
static _Thread_local const crpc_pool *current_pool;

void crpc_pool_opts_init(crpc_pool_opts *opts) {
  memset(opts, 0, sizeof(*opts));
  opts->threads = uv_available_parallelism();
  opts->queue_max = DEFAULT_QUEUE_MAX;
}

unsigned crpc_pool_threads(const crpc_pool *pool) {
  return pool->n_threads;
}

int crpc_pool_is_worker(const crpc_pool *pool) {
  return pool != NULL && current_pool == pool;
}

static void job_done_task(crpc__task *t) {
  crpc__job *job = (crpc__job *)t;
  crpc_loop *loop = job->loop;
  if (job->done)
    job->done(job, job->status);
  crpc__loop_release(loop);
}

static void deliver(crpc__job *job) {
  if (job->loop == NULL) {
    if (job->done)
      job->done(job, job->status);
    return;
  }
  job->task.fn = job_done_task;
  if (crpc__loop_post_task(job->loop, &job->task) != 0)
    job_done_task(&job->task); /* loop shutting down: do not lose it */
}

static crpc__job *pop(crpc_pool *p) {
  crpc__job *job = p->head;
  p->head = job->next;
  if (p->head == NULL)
    p->tail = NULL;
  p->queued--;
  return job;
}

static void worker_main(void *arg) {
  crpc_pool *p = arg;
  current_pool = p;
  uv_mutex_lock(&p->mu);
  for (;;) {
    while (p->head == NULL && !p->stopping) {
      p->idle++;
      uv_cond_wait(&p->cv, &p->mu);
      p->idle--;
    }
    if (p->head == NULL)
      break;
    crpc__job *job = pop(p);
    uv_mutex_unlock(&p->mu);
    job->work(job);
    job->status = 0;
    deliver(job);
    uv_mutex_lock(&p->mu);
  }
  uv_mutex_unlock(&p->mu);
  current_pool = NULL;
}

int crpc__pool_submit(crpc_pool *p, crpc_loop *loop, crpc__job *job) {
  int rc = 0;
  job->loop = loop;
  job->next = NULL;
  job->status = 0;
  if (loop != NULL)
    crpc__loop_hold(loop);
  uv_mutex_lock(&p->mu);
  if (p->stopping) {
    rc = CRPC_ECLOSED;
  } else if (p->queued >= p->queue_max) {
    rc = CRPC_EQUEUEFULL;
  } else {
    if (p->tail)
      p->tail->next = job;
    else
      p->head = job;
    p->tail = job;
    p->queued++;
    if (p->idle > 0)
      uv_cond_signal(&p->cv);
  }
  uv_mutex_unlock(&p->mu);
  if (rc != 0 && loop != NULL)
    crpc__loop_release(loop);
  return rc;
}

typedef struct user_job {
  crpc__job job;
  crpc_work_fn work;
  crpc_after_work_fn after;
  void *arg;
} user_job;

static void user_work(crpc__job *j) {
  user_job *u = (user_job *)j;
  u->work(u->arg);
}

static void user_done(crpc__job *j, int status) {
  user_job *u = (user_job *)j;
  if (u->after)
    u->after(u->arg, status);
  free(u);
}

int crpc_pool_submit(crpc_pool *pool, crpc_loop *loop, crpc_work_fn work,
                     crpc_after_work_fn after, void *arg) {
  if (pool == NULL || work == NULL)
    return CRPC_EINVAL;
  user_job *u = malloc(sizeof(*u));
  if (u == NULL)
    return CRPC_ENOMEM;
  u->job.work = user_work;
  u->job.done = user_done;
  u->work = work;
  u->after = after;
  u->arg = arg;
  int rc = crpc__pool_submit(pool, loop, &u->job);
  if (rc != 0)
    free(u);
  return rc;
}

static void stop_threads(crpc_pool *p, unsigned started) {
  uv_mutex_lock(&p->mu);
  p->stopping = 1;
  uv_cond_broadcast(&p->cv);
  uv_mutex_unlock(&p->mu);
  for (unsigned i = 0; i < started; i++)
    uv_thread_join(&p->threads[i]);
}

static void destroy(crpc_pool *p) {
  uv_cond_destroy(&p->cv);
  uv_mutex_destroy(&p->mu);
  free(p->threads);
  free(p);
}

int crpc_pool_new(const crpc_pool_opts *opts, crpc_pool **out) {
  crpc_pool_opts o;
  unsigned started = 0;
  int rc;

  crpc_pool_opts_init(&o);
  if (opts != NULL) {
    if (opts->threads)
      o.threads = opts->threads;
    if (opts->queue_max)
      o.queue_max = opts->queue_max;
  }
  crpc_pool *p = calloc(1, sizeof(*p));
  if (p == NULL)
    return CRPC_ENOMEM;
  p->queue_max = o.queue_max;
  p->threads = calloc(o.threads, sizeof(*p->threads));
  if (p->threads == NULL) {
    free(p);
    return CRPC_ENOMEM;
  }
  uv_mutex_init(&p->mu);
  uv_cond_init(&p->cv);
  for (; started < o.threads; started++) {
    rc = uv_thread_create(&p->threads[started], worker_main, p);
    if (rc != 0)
      goto fail;
  }
  p->n_threads = o.threads;
  *out = p;
  return 0;

fail:
  stop_threads(p, started);
  destroy(p);
  return rc;
}

void crpc_pool_free(crpc_pool *pool) {
  if (pool == NULL)
    return;
  stop_threads(pool, pool->n_threads);
  destroy(pool);
}
