/*
 * runtime/pool.c: worker threads over a bounded FIFO of jobs, with
 * compensation for workers that wait inside crpc.
 *
 * |target| threads run jobs at once. A job that waits inside crpc (a
 * future wait: a stream read or write, a blocking stub, crpc_sleep())
 * calls crpc__pool_blocking_begin() first and crpc__pool_blocking_end()
 * after: while it waits it does not count as running, so another thread,
 * an idle one or one started for the purpose, takes the next queued job
 * (Go's hand-off of a thread blocked in a system call, Java's
 * ForkJoinPool.managedBlock). So a handler waiting on its peer, or calling
 * its own server, does not take a worker away from the others. Threads are
 * capped at |max_threads|; the ones above |target| that stay idle for
 * IDLE_RETIRE_MS end. A wait that ends lets its job go on at once, so for
 * a moment more than |target| may run; no new job starts until fewer do.
 *
 * Threads are tracked in |slots|: a thread that ends marks its slot
 * EXITED and is joined by the next thread start, or by crpc_pool_free(),
 * which claims each slot (JOINING) before it joins, so no thread is left
 * unjoined and none is joined twice.
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
/* Compensating threads beyond |target|, by default. */
#define DEFAULT_EXTRA_THREADS 64
/* An idle thread above |target| ends after this long. */
#define IDLE_RETIRE_MS 5000

typedef enum {
  SLOT_FREE = 0,
  SLOT_LIVE,   /* its thread runs */
  SLOT_EXITED, /* its thread has ended and waits to be joined */
  SLOT_JOINING /* crpc_pool_free() joins it */
} slot_state;

typedef struct slot {
  uv_thread_t thread;
  slot_state state;
} slot;

struct crpc_pool {
  /* Lock order: a leaf; jobs run and complete without it. */
  uv_mutex_t mu;
  uv_cond_t cv; /* idle threads wait here for a job they may run */
  crpc__job *head;
  crpc__job *tail;
  size_t queued;
  size_t queue_max;
  unsigned target;        /* jobs running at once, waits aside */
  unsigned max_threads;   /* threads at most, compensating ones included */
  unsigned live;          /* threads started and not ended */
  unsigned idle;          /* of those, waiting for a job */
  unsigned running;       /* running a job and not waiting inside crpc */
  unsigned blocked;       /* running a job that waits inside crpc */
  uint64_t compensations; /* threads started beyond |target| */
  int stopping;
  slot *slots; /* |max_threads| */
};

/* The pool whose worker this thread is. Per-thread by nature. */
static _Thread_local crpc_pool *current_pool;

void crpc_pool_opts_init(crpc_pool_opts *opts) {
  memset(opts, 0, sizeof(*opts));
  opts->threads = uv_available_parallelism();
  opts->queue_max = DEFAULT_QUEUE_MAX;
  opts->max_threads = opts->threads + DEFAULT_EXTRA_THREADS;
}

unsigned crpc_pool_threads(const crpc_pool *pool) {
  return pool->target;
}

int crpc_pool_is_worker(const crpc_pool *pool) {
  return pool != NULL && current_pool == pool;
}

void crpc_pool_stats_get(crpc_pool *pool, crpc_pool_stats *out) {
  uv_mutex_lock(&pool->mu);
  out->threads = pool->live;
  out->running = pool->running;
  out->blocked = pool->blocked;
  out->idle = pool->idle;
  out->queued = pool->queued;
  out->compensations = pool->compensations;
  uv_mutex_unlock(&pool->mu);
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

/* Joins the threads that have ended. Called with |mu| held: an ended
 * thread no longer needs it. */
static void join_exited(crpc_pool *p) {
  for (unsigned i = 0; i < p->max_threads; i++) {
    if (p->slots[i].state == SLOT_EXITED) {
      uv_thread_join(&p->slots[i].thread);
      p->slots[i].state = SLOT_FREE;
    }
  }
}

static void worker_main(void *arg);

/* Starts a thread in a free slot. Called with |mu| held. Returns 0 or a
 * libuv error (no slot free is CRPC_EQUEUEFULL). */
static int start_thread(crpc_pool *p) {
  if (!p->stopping) /* else crpc_pool_free() joins them */
    join_exited(p);
  for (unsigned i = 0; i < p->max_threads; i++) {
    if (p->slots[i].state != SLOT_FREE)
      continue;
    int rc = uv_thread_create(&p->slots[i].thread, worker_main, p);
    if (rc != 0)
      return rc;
    p->slots[i].state = SLOT_LIVE;
    p->live++;
    return 0;
  }
  return CRPC_EQUEUEFULL;
}

/* Whether a thread may take the next job now. */
static int can_run(const crpc_pool *p) {
  return p->head != NULL && p->running < p->target;
}

/* A job is queued and fewer than |target| run: wakes an idle thread, or
 * starts one when none is idle and the cap allows (while stopping too:
 * queued jobs still run, and a waiting one may wait for them). Called with
 * |mu| held. */
static void ensure_runner(crpc_pool *p) {
  if (!can_run(p))
    return;
  if (p->idle > 0) {
    uv_cond_signal(&p->cv);
    return;
  }
  if (p->live < p->max_threads && start_thread(p) == 0 && p->live > p->target)
    p->compensations++;
}

/* The calling thread's slot. Called with |mu| held. */
static slot *own_slot(crpc_pool *p) {
  uv_thread_t self = uv_thread_self();
  for (unsigned i = 0; i < p->max_threads; i++)
    if ((p->slots[i].state == SLOT_LIVE || p->slots[i].state == SLOT_JOINING) &&
        uv_thread_equal(&p->slots[i].thread, &self))
      return &p->slots[i];
  return NULL;
}

static void worker_main(void *arg) {
  crpc_pool *p = arg;
  current_pool = p;
  uv_mutex_lock(&p->mu);
  for (;;) {
    while (!can_run(p) && !(p->stopping && p->head == NULL)) {
      p->idle++;
      int rc = uv_cond_timedwait(&p->cv, &p->mu,
                                 (uint64_t)IDLE_RETIRE_MS * 1000000u);
      p->idle--;
      /* A thread above the target that found nothing to do ends. */
      if (rc == UV_ETIMEDOUT && p->live > p->target && !can_run(p))
        goto out;
    }
    if (p->head == NULL)
      break; /* stopping, and nothing is left */
    crpc__job *job = pop(p);
    p->running++;
    uv_mutex_unlock(&p->mu);
    job->work(job);
    job->status = 0;
    deliver(job);
    uv_mutex_lock(&p->mu);
    /* This thread takes the next job itself: nothing to wake. */
    p->running--;
  }
out:;
  slot *s = own_slot(p);
  if (s != NULL && s->state == SLOT_LIVE)
    s->state = SLOT_EXITED;
  p->live--;
  uv_mutex_unlock(&p->mu);
  current_pool = NULL;
}

crpc_pool *crpc__pool_blocking_begin(void) {
  crpc_pool *p = current_pool;
  if (p == NULL)
    return NULL;
  uv_mutex_lock(&p->mu);
  p->running--;
  p->blocked++;
  ensure_runner(p);
  uv_mutex_unlock(&p->mu);
  return p;
}

void crpc__pool_blocking_end(crpc_pool *p) {
  if (p == NULL)
    return;
  uv_mutex_lock(&p->mu);
  p->blocked--;
  p->running++;
  uv_mutex_unlock(&p->mu);
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
    ensure_runner(p);
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

/* Stops the threads once the queue is empty and joins every one,
 * including those started meanwhile for jobs still queued. */
static void stop_threads(crpc_pool *p) {
  uv_mutex_lock(&p->mu);
  p->stopping = 1;
  uv_cond_broadcast(&p->cv);
  for (;;) {
    unsigned i = 0;
    while (i < p->max_threads && (p->slots[i].state == SLOT_FREE ||
                                  p->slots[i].state == SLOT_JOINING))
      i++;
    if (i == p->max_threads)
      break;
    p->slots[i].state = SLOT_JOINING;
    uv_thread_t t = p->slots[i].thread;
    uv_mutex_unlock(&p->mu);
    uv_thread_join(&t);
    uv_mutex_lock(&p->mu);
    p->slots[i].state = SLOT_FREE;
  }
  uv_mutex_unlock(&p->mu);
}

static void destroy(crpc_pool *p) {
  uv_cond_destroy(&p->cv);
  uv_mutex_destroy(&p->mu);
  free(p->slots);
  free(p);
}

int crpc_pool_new(const crpc_pool_opts *opts, crpc_pool **out) {
  crpc_pool_opts o;
  int rc = 0;

  crpc_pool_opts_init(&o);
  if (opts != NULL) {
    if (opts->threads)
      o.threads = opts->threads;
    if (opts->queue_max)
      o.queue_max = opts->queue_max;
    o.max_threads = opts->max_threads ? opts->max_threads
                                      : o.threads + DEFAULT_EXTRA_THREADS;
  }
  if (o.max_threads < o.threads)
    o.max_threads = o.threads;
  crpc_pool *p = calloc(1, sizeof(*p));
  if (p == NULL)
    return CRPC_ENOMEM;
  p->queue_max = o.queue_max;
  p->target = o.threads;
  p->max_threads = o.max_threads;
  p->slots = calloc(o.max_threads, sizeof(*p->slots));
  if (p->slots == NULL) {
    free(p);
    return CRPC_ENOMEM;
  }
  uv_mutex_init(&p->mu);
  uv_cond_init(&p->cv);
  uv_mutex_lock(&p->mu);
  while (rc == 0 && p->live < o.threads)
    rc = start_thread(p);
  uv_mutex_unlock(&p->mu);
  if (rc != 0) {
    stop_threads(p);
    destroy(p);
    return rc;
  }
  *out = p;
  return 0;
}

void crpc_pool_free(crpc_pool *pool) {
  if (pool == NULL)
    return;
  stop_threads(pool);
  destroy(pool);
}
