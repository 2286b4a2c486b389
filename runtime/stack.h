/*
 * runtime/stack.h: coroutine stacks, mapped with a guard page below them and
 * cached per loop for reuse.
 */
#ifndef CRPC_STACK_H
#define CRPC_STACK_H

#include <stddef.h>

typedef struct crpc__stack {
  void *map;      /* start of the mapping, the guard page */
  size_t map_len; /* guard page + usable stack */
  void *base;     /* lowest usable address */
  size_t size;    /* usable bytes; the stack grows down from base + size */
  struct crpc__stack *next_free;
} crpc__stack;

typedef struct crpc__stack_pool {
  size_t stack_size; /* usable size, whole pages */
  size_t cache_max;  /* the loop raises it to its coroutines' peak */
  size_t cached;
  size_t maps; /* mappings made so far */
  crpc__stack *free_list;
} crpc__stack_pool;

/* Sets up an empty pool; |stack_size| is rounded up to whole pages.
 * Thread: the owning loop's. */
void crpc__stack_pool_init(crpc__stack_pool *p, size_t stack_size,
                           size_t cache_max);

/* Unmaps every cached stack. Stacks still in use are the caller's. */
void crpc__stack_pool_cleanup(crpc__stack_pool *p);

/*
 * Returns a stack from the cache or a new mapping (the descriptor lives at
 * the top of the mapping, so one mmap serves both).
 * Returns NULL when the mapping fails. Thread: the owning loop's.
 */
crpc__stack *crpc__stack_get(crpc__stack_pool *p);

/* The stack given back last, or NULL when none is cached: never a new
 * mapping. Thread: the owning loop's. */
crpc__stack *crpc__stack_take_cached(crpc__stack_pool *p);

/* Gives |s| back: cached (taken next), or unmapped when the cache holds
 * |cache_max| already. */
void crpc__stack_put(crpc__stack_pool *p, crpc__stack *s);

/* Makes |keep| the cache's size and unmaps what it holds beyond that. */
void crpc__stack_pool_trim(crpc__stack_pool *p, size_t keep);

#endif /* CRPC_STACK_H */
