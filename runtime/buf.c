/* runtime/buf.c: a bounded, growable byte buffer. */
#include "buf.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "crpc/error.h"

/* The first allocation; small enough to waste little on short messages. */
#define BUF_MIN_CAP 256

void crpc__buf_init(crpc__buf *b, size_t max) {
  b->mem = NULL;
  b->off = 0;
  b->len = 0;
  b->cap = 0;
  b->max = max;
}

void crpc__buf_cleanup(crpc__buf *b) {
  free(b->mem);
  crpc__buf_init(b, b->max);
}

void crpc__buf_reset(crpc__buf *b) {
  b->off = 0;
  b->len = 0;
}

/* Doubles from the current capacity until |need| fits, never past the
 * limit: |need| has already been checked against it. */
static size_t grown_cap(const crpc__buf *b, size_t need) {
  size_t cap = b->cap > BUF_MIN_CAP ? b->cap : BUF_MIN_CAP;
  while (cap < need && cap <= SIZE_MAX / 2)
    cap *= 2;
  if (cap < need)
    cap = need;
  return cap > b->max ? b->max : cap;
}

/* Moves the content to the start of the allocation, so the gap left by
 * consumed bytes becomes room at the back. */
static void compact(crpc__buf *b) {
  if (b->off == 0)
    return;
  if (b->len > 0)
    memmove(b->mem, b->mem + b->off, b->len);
  b->off = 0;
}

static int reserve(crpc__buf *b, size_t n, int exact) {
  uint8_t *mem;
  size_t cap;

  if (n > b->max || b->len > b->max - n)
    return CRPC_ETOOBIG;
  if (b->cap - b->off - b->len >= n)
    return 0;
  /* Only the position of the content changes before a failure. */
  compact(b);
  if (b->cap - b->len >= n)
    return 0;
  cap = exact ? b->len + n : grown_cap(b, b->len + n);
  mem = realloc(b->mem, cap);
  if (mem == NULL)
    return CRPC_ENOMEM;
  b->mem = mem;
  b->cap = cap;
  return 0;
}

int crpc__buf_reserve(crpc__buf *b, size_t n) {
  return reserve(b, n, 0);
}

int crpc__buf_reserve_exact(crpc__buf *b, size_t n) {
  return reserve(b, n, 1);
}

int crpc__buf_append(crpc__buf *b, const void *p, size_t n) {
  int rc;

  if (n == 0)
    return 0;
  rc = crpc__buf_reserve(b, n);
  if (rc != 0)
    return rc;
  memcpy(b->mem + b->off + b->len, p, n);
  b->len += n;
  return 0;
}

uint8_t *crpc__buf_tail(crpc__buf *b) {
  return b->mem == NULL ? NULL : b->mem + b->off + b->len;
}

size_t crpc__buf_room(const crpc__buf *b) {
  return b->cap - b->off - b->len;
}

void crpc__buf_commit(crpc__buf *b, size_t n) {
  assert(n <= crpc__buf_room(b));
  b->len += n;
}

void crpc__buf_consume(crpc__buf *b, size_t n) {
  assert(n <= b->len);
  b->len -= n;
  /* An emptied buffer starts again at the front: no gap to reclaim. */
  b->off = b->len == 0 ? 0 : b->off + n;
}

void crpc__buf_truncate(crpc__buf *b, size_t len) {
  assert(len <= b->len);
  b->len = len;
  if (len == 0)
    b->off = 0;
}

uint8_t *crpc__buf_data(const crpc__buf *b) {
  return b->mem == NULL ? NULL : b->mem + b->off;
}

size_t crpc__buf_len(const crpc__buf *b) {
  return b->len;
}

uint8_t *crpc__buf_exchange(crpc__buf *b, uint8_t *mem, size_t n, size_t *len,
                            size_t *cap) {
  uint8_t *old = b->mem;
  compact(b);
  *len = b->len;
  *cap = b->cap;
  b->mem = mem;
  b->cap = n;
  b->len = 0;
  b->off = 0;
  return old;
}

uint8_t *crpc__buf_detach(crpc__buf *b, size_t *len) {
  uint8_t *mem;

  *len = b->len;
  if (b->len == 0) {
    crpc__buf_cleanup(b);
    return NULL;
  }
  compact(b);
  mem = b->mem;
  b->mem = NULL;
  crpc__buf_cleanup(b);
  return mem;
}
