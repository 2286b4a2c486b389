/* runtime/stack.c: guarded coroutine stacks and their per-loop cache. */
#include "stack.h"

#include <sys/mman.h>
#include <unistd.h>

static size_t page_size(void) {
  long ps = sysconf(_SC_PAGESIZE);
  return ps > 0 ? (size_t)ps : 4096;
}

static size_t round_up(size_t n, size_t to) {
  return (n + to - 1) / to * to;
}

void crpc__stack_pool_init(crpc__stack_pool *p, size_t stack_size,
                           size_t cache_max) {
  size_t ps = page_size();
  if (stack_size < 4 * ps)
    stack_size = 4 * ps;
  p->stack_size = round_up(stack_size, ps);
  p->cache_max = cache_max;
  p->cached = 0;
  p->maps = 0;
  p->free_list = NULL;
}

static void unmap(crpc__stack *s) {
  munmap(s->map, s->map_len);
}

void crpc__stack_pool_cleanup(crpc__stack_pool *p) {
  while (p->free_list != NULL) {
    crpc__stack *s = p->free_list;
    p->free_list = s->next_free;
    unmap(s);
  }
  p->cached = 0;
}

/*
 * Layout, low to high: guard page (PROT_NONE), usable stack, descriptor.
 * The descriptor sits above the stack so an overflow hits the guard page
 * long before it could reach the bookkeeping.
 */
crpc__stack *crpc__stack_get(crpc__stack_pool *p) {
  if (p->free_list != NULL)
    return crpc__stack_take_cached(p);
  size_t ps = page_size();
  size_t len = ps + p->stack_size + round_up(sizeof(crpc__stack), ps);
  void *map = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (map == MAP_FAILED)
    return NULL;
  if (mprotect(map, ps, PROT_NONE) != 0) {
    munmap(map, len);
    return NULL;
  }
  p->maps++;
  crpc__stack *s = (crpc__stack *)((char *)map + ps + p->stack_size);
  s->map = map;
  s->map_len = len;
  s->base = (char *)map + ps;
  s->size = p->stack_size;
  s->next_free = NULL;
  return s;
}

crpc__stack *crpc__stack_take_cached(crpc__stack_pool *p) {
  crpc__stack *s = p->free_list;
  if (s != NULL) {
    p->free_list = s->next_free;
    p->cached--;
  }
  return s;
}

void crpc__stack_pool_trim(crpc__stack_pool *p, size_t keep) {
  p->cache_max = keep;
  while (p->cached > keep)
    unmap(crpc__stack_take_cached(p));
}

void crpc__stack_put(crpc__stack_pool *p, crpc__stack *s) {
  if (p->cached >= p->cache_max) {
    unmap(s);
    return;
  }
  s->next_free = p->free_list;
  p->free_list = s;
  p->cached++;
}
