/* runtime/h2mem.c: the per-loop caching allocator for nghttp2 (h2mem.h). */
#include "h2mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Bytes of class 0; an odd class is 1.5 times the class below it. */
#define SMALLEST 64
#define LARGE CRPC__H2MEM_CLASSES

/* In front of every block: its class (LARGE: straight from malloc). The
 * size keeps what follows aligned as malloc's own blocks are. */
typedef union header {
  size_t cls;
  max_align_t align;
} header;

/* A cached block, its link in the payload. */
struct crpc__h2mem_block {
  header h;
  crpc__h2mem_block *next;
};

static size_t class_size(size_t cls) {
  size_t base = cls % 2 == 0 ? SMALLEST : SMALLEST * 3 / 2;
  return base << (cls / 2);
}

size_t crpc__h2mem_class_of(size_t size) {
  if (size > class_size(LARGE - 1))
    return LARGE;
  /* The smallest even class (a power of two) that holds |size|, then the
   * odd one below it if that holds it too: nghttp2 allocates several
   * times per request, so no walk through every class. */
  size_t cls = 0, top = SMALLEST;
  for (; top < size; top <<= 1)
    cls += 2;
  if (cls > 0 && size <= top / 4 * 3)
    cls--;
  return cls;
}

static void *payload(header *h) {
  return h + 1;
}

static header *header_of(void *p) {
  return (header *)p - 1;
}

static void *h2_malloc(size_t size, void *user) {
  crpc__h2mem *m = user;
  size_t cls = crpc__h2mem_class_of(size);
  header *h;

  if (cls == LARGE) {
    if (size > SIZE_MAX - sizeof(header))
      return NULL;
    h = malloc(sizeof(header) + size);
  } else if (m->free[cls] != NULL) {
    crpc__h2mem_block *b = m->free[cls];
    m->free[cls] = b->next;
    m->n_free[cls]--;
    h = &b->h;
  } else {
    h = malloc(sizeof(header) + class_size(cls));
  }
  if (h == NULL)
    return NULL;
  h->cls = cls;
  if (cls != LARGE && ++m->out[cls] > m->peak[cls])
    m->peak[cls] = m->out[cls];
  return payload(h);
}

static void h2_free(void *ptr, void *user) {
  crpc__h2mem *m = user;
  if (ptr == NULL)
    return;
  header *h = header_of(ptr);
  size_t cls = h->cls;
  if (cls == LARGE) {
    free(h);
    return;
  }
  crpc__h2mem_block *b = (crpc__h2mem_block *)h;
  b->next = m->free[cls];
  m->free[cls] = b;
  m->n_free[cls]++;
  m->out[cls]--;
}

static void *h2_calloc(size_t n, size_t size, void *user) {
  if (size != 0 && n > SIZE_MAX / size)
    return NULL;
  void *p = h2_malloc(n * size, user);
  if (p != NULL)
    memset(p, 0, n * size);
  return p;
}

static void *h2_realloc(void *ptr, size_t size, void *user) {
  if (ptr == NULL)
    return h2_malloc(size, user);
  header *h = header_of(ptr);
  if (h->cls == LARGE && crpc__h2mem_class_of(size) == LARGE) {
    if (size > SIZE_MAX - sizeof(header))
      return NULL;
    h = realloc(h, sizeof(header) + size);
    return h ? payload(h) : NULL;
  }
  if (h->cls != LARGE && size <= class_size(h->cls))
    return ptr;
  void *p = h2_malloc(size, user);
  if (p == NULL)
    return NULL;
  /* Growing from a class, or shrinking from a large block into one. */
  size_t old = h->cls == LARGE ? size : class_size(h->cls);
  memcpy(p, ptr, old < size ? old : size);
  h2_free(ptr, user);
  return p;
}

void crpc__h2mem_init(crpc__h2mem *m) {
  memset(m, 0, sizeof(*m));
}

/* Frees the free blocks of class |cls| past |keep|; returns how many. */
static size_t drop(crpc__h2mem *m, size_t cls, size_t keep) {
  size_t n = 0;
  for (; m->n_free[cls] > keep; n++) {
    crpc__h2mem_block *b = m->free[cls];
    m->free[cls] = b->next;
    m->n_free[cls]--;
    free(b);
  }
  return n;
}

void crpc__h2mem_cleanup(crpc__h2mem *m) {
  for (size_t cls = 0; cls < LARGE; cls++)
    drop(m, cls, 0);
}

size_t crpc__h2mem_trim(crpc__h2mem *m) {
  size_t n = 0;
  for (size_t cls = 0; cls < LARGE; cls++) {
    n += drop(m, cls, m->peak[cls] - m->out[cls]);
    m->peak[cls] = m->out[cls];
  }
  return n;
}

nghttp2_mem crpc__h2mem_allocator(crpc__h2mem *m) {
  nghttp2_mem mem = {.mem_user_data = m,
                     .malloc = h2_malloc,
                     .free = h2_free,
                     .calloc = h2_calloc,
                     .realloc = h2_realloc};
  return mem;
}
