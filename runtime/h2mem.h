/*
 * runtime/h2mem.h: a caching allocator for the nghttp2 sessions of one
 * loop. nghttp2 allocates a handful of small objects per stream (the
 * stream, its header and data items, header strings) and frees them when
 * the stream closes; under load that is most of a call's allocations. The
 * cache keeps freed blocks in free lists by size class and hands them out
 * again, so a warm loop serves them without malloc. The classes go from
 * 64 B to 4 KiB in steps of 1.5x and 1.33x (64, 96, 128, 192, ...), so that
 * a block wastes at most a third of itself: what nghttp2 asks for once per
 * connection (its session, 2.9 KiB) stays close to its size on an idle
 * connection. Larger requests go to malloc directly.
 *
 * A cache belongs to one loop: every session using it must be used, and
 * freed, on that loop's thread only (or after the loop has stopped).
 * crpc__h2mem_trim() gives back what the last period did not need.
 */
#ifndef CRPC_H2MEM_H
#define CRPC_H2MEM_H

#include <stddef.h>

#include <nghttp2/nghttp2.h>

#define CRPC__H2MEM_CLASSES 13 /* 64, 96, 128, 192, ..., 3072, 4096 bytes */

typedef struct crpc__h2mem_block crpc__h2mem_block;

typedef struct crpc__h2mem {
  crpc__h2mem_block *free[CRPC__H2MEM_CLASSES];
  size_t n_free[CRPC__H2MEM_CLASSES];
  /* Blocks of each class out at once, now and at most since the last
   * trim: the free lists keep up to that peak. */
  size_t out[CRPC__H2MEM_CLASSES];
  size_t peak[CRPC__H2MEM_CLASSES];
} crpc__h2mem;

/* The class a block of |size| bytes comes from; CRPC__H2MEM_CLASSES when
 * it is larger than every class. */
size_t crpc__h2mem_class_of(size_t size);

/* Makes |m| an empty cache. Thread: any, on an |m| the caller owns. */
void crpc__h2mem_init(crpc__h2mem *m);

/*
 * Frees every cached block. Every session using |m| must be freed first.
 * Thread: |m|'s loop, or any once it has stopped.
 */
void crpc__h2mem_cleanup(crpc__h2mem *m);

/*
 * Frees the cached blocks that the peak since the last trim did not use,
 * then starts a new period. Returns how many blocks it freed.
 * Thread: |m|'s loop.
 */
size_t crpc__h2mem_trim(crpc__h2mem *m);

/*
 * The nghttp2_mem to give nghttp2_session_*_new3() and
 * nghttp2_session_callbacks/option functions taking one.
 * Ownership: borrows |m|, which must outlive every session using it.
 */
nghttp2_mem crpc__h2mem_allocator(crpc__h2mem *m);

#endif /* CRPC_H2MEM_H */
