/* runtime/msg_cache.c: messages' memory, kept for the next. */
#include "msg_cache.h"

#include <stdatomic.h>
#include <stdlib.h>

#include <uv.h>

#define HEAD offsetof(crpc__cmsg, data)
/* New memory's size is a multiple of this. */
#define ROUND ((size_t)4096)

struct crpc__msg_cache {
  atomic_int refs;
  size_t max; /* |bytes| at most */
  uv_mutex_t mu;
  crpc__cmsg *kept; /* newest first */
  size_t n;         /* in |kept| */
  size_t low;       /* the fewest in |kept| since the last trim */
  size_t bytes;     /* of |kept|, headers included */
  uint64_t fresh;   /* crpc__msg_cache_fresh() */
};

/* New memory for a message of |len| bytes, its size rounded up to a
 * multiple of |round|, or NULL. */
static crpc__cmsg *alloc_msg(size_t len, size_t round) {
  size_t n = (HEAD + (len ? len : 1) + round - 1) / round * round;
  crpc__cmsg *m = malloc(n);
  if (m)
    m->cap = n - HEAD;
  return m;
}

static void free_list(crpc__cmsg *m) {
  while (m) {
    crpc__cmsg *next = m->next;
    free(m);
    m = next;
  }
}

crpc__msg_cache *crpc__msg_cache_new(size_t max_bytes) {
  crpc__msg_cache *c = calloc(1, sizeof(*c));
  if (!c)
    return NULL;
  if (uv_mutex_init(&c->mu) != 0) {
    free(c);
    return NULL;
  }
  atomic_init(&c->refs, 1);
  c->max = max_bytes;
  return c;
}

crpc__msg_cache *crpc__msg_cache_ref(crpc__msg_cache *c) {
  atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
  return c;
}

void crpc__msg_cache_unref(crpc__msg_cache *c) {
  if (!c || atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
    return;
  free_list(c->kept);
  uv_mutex_destroy(&c->mu);
  free(c);
}

/* The newest kept memory with room for |len| bytes (of at least
 * CRPC__MSG_CACHE_MIN with the header), else new memory. The list holds
 * at most max / CRPC__MSG_CACHE_MIN entries. */
static crpc__cmsg *take(crpc__msg_cache *c, size_t len) {
  uv_mutex_lock(&c->mu);
  crpc__cmsg **pp = &c->kept;
  while (*pp && (*pp)->cap < len)
    pp = &(*pp)->next;
  crpc__cmsg *m = *pp;
  if (m) {
    *pp = m->next;
    c->bytes -= HEAD + m->cap;
    if (--c->n < c->low)
      c->low = c->n;
  } else {
    c->fresh++;
  }
  uv_mutex_unlock(&c->mu);
  /* Rounded up, so that messages a few bytes longer than this one (a
   * stream's later replies, with larger numbers in them) fit too. */
  return m ? m : alloc_msg(len, ROUND);
}

crpc__cmsg *crpc__msg_cache_get(crpc__msg_cache *c, size_t len) {
  if (len + HEAD >= CRPC__MSG_CACHE_MIN)
    return take(c, len);
  return alloc_msg(len, 1);
}

void crpc__msg_cache_put(crpc__msg_cache *c, crpc__cmsg *m) {
  if (!m)
    return;
  size_t n = HEAD + m->cap;
  if (n >= CRPC__MSG_CACHE_MIN) {
    uv_mutex_lock(&c->mu);
    if (c->bytes + n <= c->max) {
      m->next = c->kept;
      c->kept = m;
      c->bytes += n;
      c->n++;
      m = NULL;
    }
    uv_mutex_unlock(&c->mu);
  }
  free(m);
}

size_t crpc__msg_cache_trim(crpc__msg_cache *c) {
  uv_mutex_lock(&c->mu);
  /* The oldest |low| were kept all period long: the last ones. */
  crpc__cmsg **pp = &c->kept, *idle;
  for (size_t i = c->n - c->low; i > 0; i--)
    pp = &(*pp)->next;
  idle = *pp;
  *pp = NULL;
  for (crpc__cmsg *m = idle; m; m = m->next)
    c->bytes -= HEAD + m->cap;
  c->n -= c->low;
  c->low = c->n;
  size_t left = c->bytes;
  uv_mutex_unlock(&c->mu);
  free_list(idle);
  return left;
}

size_t crpc__msg_cache_kept(crpc__msg_cache *c) {
  uv_mutex_lock(&c->mu);
  size_t n = c->bytes;
  uv_mutex_unlock(&c->mu);
  return n;
}

uint64_t crpc__msg_cache_fresh(crpc__msg_cache *c) {
  uv_mutex_lock(&c->mu);
  uint64_t n = c->fresh;
  uv_mutex_unlock(&c->mu);
  return n;
}

uint8_t *crpc__msg_cache_mem(void *c, size_t want, size_t *n) {
  if (want < CRPC__MSG_CACHE_MIN)
    return NULL;
  crpc__cmsg *m = take(c, want - HEAD);
  if (!m)
    return NULL;
  *n = HEAD + m->cap;
  return (uint8_t *)m;
}

void crpc__msg_cache_put_mem(crpc__msg_cache *c, uint8_t *mem, size_t n) {
  if (!mem || n < HEAD) {
    free(mem);
    return;
  }
  crpc__cmsg *m = (crpc__cmsg *)mem;
  m->cap = n - HEAD;
  crpc__msg_cache_put(c, m);
}
