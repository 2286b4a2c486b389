/*
 * client/backoff.h: gRPC's exponential backoff (connection-backoff.md),
 * for reconnecting a subchannel and for retrying a call: each wait 1.6
 * times the last, capped, with +-20% uniform jitter.
 */
#ifndef CRPC_BACKOFF_H
#define CRPC_BACKOFF_H

#include <stdint.h>

#include "crpc/loop.h"

/* The wait after |cur| ms: |initial| when |cur| is 0, else 1.6 times
 * |cur|, at most |max|. Thread: any. */
uint32_t crpc__backoff_step(uint32_t cur, uint32_t initial, uint32_t max);

/* |ms| with +-20% of uniform jitter, drawn from |loop|'s generator.
 * Thread: |loop|'s. */
uint64_t crpc__backoff_jitter(uint32_t ms, crpc_loop *loop);

#endif /* CRPC_BACKOFF_H */
