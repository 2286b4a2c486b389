/*
 * crpc/pool.h: the worker pool, an object rather than a process-wide pool.
 *
 * |threads| threads run jobs from a bounded FIFO queue at once. A job's
 * completion callback runs on the crpc_loop it names, delivered through
 * that loop's queue and uv_async_t, so loop-owned state is never touched
 * from a worker.
 *
 * A job that waits inside crpc (crpc_future_wait() and what is built on
 * it: stream reads and writes, blocking stubs, crpc_await(), crpc_sleep())
 * does not hold its place: while it waits, another thread takes the next
 * job, started for the purpose when none is idle, up to |max_threads| in
 * all. So a handler waiting on its peer, or calling its own server, does
 * not starve the others. Blocking outside crpc (a handler's own I/O, a
 * plain sleep()) keeps its thread, as in any pool.
 */
#ifndef CRPC_POOL_H
#define CRPC_POOL_H

#include "crpc/common.h"
#include "crpc/loop.h"

CRPC_BEGIN_DECLS

typedef struct crpc_pool_opts {
  unsigned threads; /* jobs running at once; 0: the number of CPUs */
  size_t queue_max; /* jobs waiting at most; 0: 4096 */
  /* Threads at most, those that stand in for jobs waiting inside crpc
   * included; 0: threads + 64. Idle ones above |threads| end after 5 s. */
  unsigned max_threads;
} crpc_pool_opts;

/* Fills |opts| with the defaults. Thread: any. */
CRPC_EXTERN void crpc_pool_opts_init(crpc_pool_opts *opts);

/*
 * Starts the pool's threads. |opts| is copied; NULL means the defaults.
 * Thread: any. Returns 0, or CRPC_ENOMEM or a libuv error, and then |*out|
 * is untouched and no thread is left running.
 */
CRPC_EXTERN int crpc_pool_new(const crpc_pool_opts *opts, crpc_pool **out);

/*
 * Stops accepting jobs, lets every queued job run, joins the threads and
 * frees the pool. Completions of those jobs are still delivered, so their
 * loops must outlive this call's deliveries. NULL is a no-op.
 * Thread: any but one of the pool's workers.
 */
CRPC_EXTERN void crpc_pool_free(crpc_pool *pool);

typedef void (*crpc_work_fn)(void *arg);
/* |status| is 0 after |work| ran. */
typedef void (*crpc_after_work_fn)(void *arg, int status);

/*
 * Queues |work|(|arg|) to run on a worker. Afterwards |after|(|arg|, 0)
 * (may be NULL) runs on |loop|'s thread, or, with |loop| NULL, on the
 * worker right after |work|. A pending job keeps an CRPC_RUN_DEFAULT run of
 * |loop| alive.
 * Ownership: |arg| is borrowed until |after| has run.
 * Thread: any. Returns 0, or CRPC_EQUEUEFULL (queue_max jobs are waiting),
 * CRPC_ECLOSED (the pool is being freed) or CRPC_ENOMEM; on error neither
 * callback runs.
 */
CRPC_EXTERN int crpc_pool_submit(crpc_pool *pool, crpc_loop *loop,
                                 crpc_work_fn work, crpc_after_work_fn after,
                                 void *arg);

/* The number of jobs that run at once (crpc_pool_opts.threads).
 * Thread: any. */
CRPC_EXTERN unsigned crpc_pool_threads(const crpc_pool *pool);

/* What the pool is doing, read at one moment. */
typedef struct crpc_pool_stats {
  unsigned threads;       /* threads alive */
  unsigned running;       /* running a job */
  unsigned blocked;       /* running a job that waits inside crpc */
  unsigned idle;          /* waiting for a job */
  size_t queued;          /* jobs waiting for a thread */
  uint64_t compensations; /* threads started beyond |threads|, ever */
} crpc_pool_stats;

/* Fills |out|. Thread: any. */
CRPC_EXTERN void crpc_pool_stats_get(crpc_pool *pool, crpc_pool_stats *out);

/* Nonzero when the calling thread is one of |pool|'s workers. Thread: any. */
CRPC_EXTERN int crpc_pool_is_worker(const crpc_pool *pool);

CRPC_END_DECLS

#endif /* CRPC_POOL_H */
