/* runtime/arena.c: the per-call arena, a bump allocator working in blocks. */
#include "arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct crpc__arena_block {
  crpc__arena_block *next; /* older block */
  size_t size;             /* bytes taken from the base allocator */
  uint8_t *data;           /* first usable byte, aligned */
  size_t cap;              /* usable bytes at |data| */
  size_t used;             /* bytes handed out, a multiple of the alignment */
};

/* Bytes a block takes beyond its usable ones: the header, and the slack
 * that lets |data| be aligned whatever the base allocator returns. */
#define BLOCK_OVERHEAD (sizeof(crpc__arena_block) + CRPC__ARENA_ALIGN - 1)

static void *system_alloc(void *allocator_data, size_t size) {
  (void)allocator_data;
  return malloc(size);
}

static void system_free(void *allocator_data, void *pointer) {
  (void)allocator_data;
  free(pointer);
}

void crpc__arena_init(crpc__arena *a, const ProtobufCAllocator *base,
                      size_t block_size, size_t max_bytes) {
  if (base != NULL) {
    a->base = *base;
  } else {
    a->base.alloc = system_alloc;
    a->base.free = system_free;
    a->base.allocator_data = NULL;
  }
  a->head = NULL;
  a->first = NULL;
  a->spare = NULL;
  a->block_size = block_size != 0 ? block_size : CRPC__ARENA_DEFAULT_BLOCK;
  a->max_bytes = max_bytes != 0 ? max_bytes : SIZE_MAX;
  a->footprint = 0;
}

static void block_free(crpc__arena *a, crpc__arena_block *b) {
  a->footprint -= b->size;
  a->base.free(a->base.allocator_data, b);
}

void crpc__arena_cleanup(crpc__arena *a) {
  crpc__arena_block *b;
  crpc__arena_block *next;

  for (b = a->head; b != NULL; b = next) {
    next = b->next;
    block_free(a, b);
  }
  if (a->spare != NULL)
    block_free(a, a->spare);
  a->head = NULL;
  a->first = NULL;
  a->spare = NULL;
}

/* Frees every block but the first standard one and, when |max| allows,
 * keeps the largest other one within |max| usable bytes as the spare. */
static void reset(crpc__arena *a, size_t max) {
  crpc__arena_block *b;
  crpc__arena_block *next;

  for (b = a->head; b != NULL; b = next) {
    next = b->next;
    if (b == a->first)
      continue;
    if (b->cap <= max && (a->spare == NULL || b->cap > a->spare->cap)) {
      crpc__arena_block *old = a->spare;
      a->spare = b;
      b = old;
    }
    if (b != NULL)
      block_free(a, b);
  }
  a->head = a->first;
  if (a->first != NULL) {
    a->first->next = NULL;
    a->first->used = 0;
  }
}

void crpc__arena_reset(crpc__arena *a) {
  reset(a, 0);
  if (a->spare != NULL)
    block_free(a, a->spare);
  a->spare = NULL;
}

size_t crpc__arena_keep(crpc__arena *a, size_t max) {
  reset(a, max);
  return a->spare != NULL ? a->spare->size : 0;
}

/* Takes a block with |cap| usable bytes from the base allocator, within
 * the arena's budget. Its |used| and |next| are left for the caller. */
static crpc__arena_block *block_new(crpc__arena *a, size_t cap) {
  crpc__arena_block *b;
  uintptr_t data;
  size_t size;

  if (cap > SIZE_MAX - BLOCK_OVERHEAD)
    return NULL;
  size = BLOCK_OVERHEAD + cap;
  if (size > a->max_bytes - a->footprint)
    return NULL;
  b = a->base.alloc(a->base.allocator_data, size);
  if (b == NULL)
    return NULL;
  data = (uintptr_t)(b + 1);
  data = (data + CRPC__ARENA_ALIGN - 1) & ~(uintptr_t)(CRPC__ARENA_ALIGN - 1);
  b->size = size;
  b->data = (uint8_t *)data;
  b->cap = cap;
  a->footprint += size;
  return b;
}

/* A large allocation gets a block of its own, linked behind the head so
 * that the head keeps serving small ones. */
static void *alloc_own(crpc__arena *a, size_t n) {
  crpc__arena_block *b = a->spare;

  if (b != NULL && b->cap < n) {
    /* Too small this time: it would only stand in the budget's way. */
    block_free(a, b);
    b = NULL;
  }
  a->spare = NULL;
  if (b == NULL)
    b = block_new(a, n);
  if (b == NULL)
    return NULL;
  b->used = n;
  if (a->head != NULL) {
    b->next = a->head->next;
    a->head->next = b;
  } else {
    b->next = NULL;
    a->head = b;
  }
  return b->data;
}

/* The usable size of the next standard block: |block_size|, or less when
 * only a smaller block that still holds |n| bytes fits the budget. */
static size_t standard_cap(const crpc__arena *a, size_t n) {
  size_t left = a->max_bytes - a->footprint;

  if (left >= BLOCK_OVERHEAD + a->block_size || left < BLOCK_OVERHEAD + n)
    return a->block_size;
  return left - BLOCK_OVERHEAD;
}

static void *alloc_new_block(crpc__arena *a, size_t n) {
  crpc__arena_block *b = block_new(a, standard_cap(a, n));

  if (b == NULL)
    return NULL;
  b->used = n;
  b->next = a->head;
  a->head = b;
  if (a->first == NULL)
    a->first = b;
  return b->data;
}

void *crpc__arena_alloc(crpc__arena *a, size_t n) {
  crpc__arena_block *b = a->head;
  void *p;

  if (n == 0)
    n = 1;
  if (n > SIZE_MAX - CRPC__ARENA_ALIGN)
    return NULL;
  /* Whole units keep every block's |used| aligned. */
  n = (n + CRPC__ARENA_ALIGN - 1) & ~(size_t)(CRPC__ARENA_ALIGN - 1);
  if (b != NULL && b->cap - b->used >= n) {
    p = b->data + b->used;
    b->used += n;
    return p;
  }
  if (n > a->block_size / 4)
    return alloc_own(a, n);
  return alloc_new_block(a, n);
}

void *crpc__arena_calloc(crpc__arena *a, size_t count, size_t size) {
  void *p;

  if (size != 0 && count > SIZE_MAX / size)
    return NULL;
  p = crpc__arena_alloc(a, count * size);
  if (p != NULL)
    memset(p, 0, count * size);
  return p;
}

void *crpc__arena_memdup(crpc__arena *a, const void *p, size_t n) {
  void *q = crpc__arena_alloc(a, n);

  if (q != NULL && n > 0)
    memcpy(q, p, n);
  return q;
}

char *crpc__arena_strdup(crpc__arena *a, const char *s) {
  return crpc__arena_memdup(a, s, strlen(s) + 1);
}

size_t crpc__arena_footprint(const crpc__arena *a) {
  return a->footprint;
}

static void *arena_pb_alloc(void *allocator_data, size_t size) {
  return crpc__arena_alloc(allocator_data, size);
}

/* Arena memory is released all at once, never piece by piece. */
static void arena_pb_free(void *allocator_data, void *pointer) {
  (void)allocator_data;
  (void)pointer;
}

ProtobufCAllocator crpc__arena_allocator(crpc__arena *a) {
  ProtobufCAllocator alloc;

  alloc.alloc = arena_pb_alloc;
  alloc.free = arena_pb_free;
  alloc.allocator_data = a;
  return alloc;
}
