/* runtime/pool_internal.h: allocation-free jobs for crpc's own users. */
#ifndef CRPC_POOL_INTERNAL_H
#define CRPC_POOL_INTERNAL_H

#include "crpc/pool.h"
#include "loop_internal.h"

/* A job embedded in its owner; it must stay valid until |done| has run. */
typedef struct crpc__job {
  crpc__task task; /* the completion, queued on |loop| */
  struct crpc__job *next;
  void (*work)(struct crpc__job *job); /* on a worker */
  /* On |loop|'s thread (on the worker when |loop| is NULL); |status| is 0
   * after |work| ran. May be NULL. */
  void (*done)(struct crpc__job *job, int status);
  crpc_loop *loop;
  int status;
} crpc__job;

/*
 * Queues |job|, whose |work| and |done| are set, to complete on |loop|
 * (may be NULL). Same contract as crpc_pool_submit().
 */
int crpc__pool_submit(crpc_pool *pool, crpc_loop *loop, crpc__job *job);

/*
 * Around a wait inside crpc: on one of a pool's workers, begin gives the
 * worker's place to another thread until end; elsewhere both do nothing.
 * Pass end what begin returned. Thread: the waiting one.
 */
crpc_pool *crpc__pool_blocking_begin(void);
void crpc__pool_blocking_end(crpc_pool *pool);

#endif /* CRPC_POOL_INTERNAL_H */
