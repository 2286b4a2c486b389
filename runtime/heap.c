/*
 * runtime/heap.c: giving freed memory back to the system (heap.h).
 */
#include "heap.h"

#include <stdatomic.h>
#include <stdint.h>

#include <uv.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#define MIN_INTERVAL_NS 1000000000u

int crpc__heap_release(void) {
#ifdef __GLIBC__
  static atomic_uint_fast64_t last_ns;
  uint64_t now = uv_hrtime();
  uint_fast64_t last = atomic_load(&last_ns);
  if (last != 0 && now - last < MIN_INTERVAL_NS)
    return 0;
  if (!atomic_compare_exchange_strong(&last_ns, &last, now))
    return 0; /* another thread does it now */
  malloc_trim(0);
#endif
  return 1;
}
