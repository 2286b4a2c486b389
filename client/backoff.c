/* client/backoff.c: see backoff.h. */
#include "backoff.h"

#include "loop_internal.h"

#define BACKOFF_MULTIPLIER 1.6
#define BACKOFF_JITTER 0.2

uint32_t crpc__backoff_step(uint32_t cur, uint32_t initial, uint32_t max) {
  if (cur == 0)
    return initial < max ? initial : max;
  double next = cur * BACKOFF_MULTIPLIER;
  return next > max ? max : (uint32_t)next;
}

uint64_t crpc__backoff_jitter(uint32_t ms, crpc_loop *loop) {
  /* A uniform draw in [0, 1). */
  double u = (crpc__loop_random(loop) >> 11) * (1.0 / 9007199254740992.0);
  double j = 1.0 + BACKOFF_JITTER * (2.0 * u - 1.0);
  return (uint64_t)(ms * j);
}
