/*
 * runtime/nvlist.h: a list of HTTP/2 header fields being built for
 * nghttp2 (nghttp2_nv), the one builder both sides use for request and
 * response headers and trailers. The array and any text copied into it
 * live in an arena the caller resets once the list is submitted (nghttp2
 * copies what it keeps).
 *
 * Building never fails midway: a failed allocation sets |oom|, later adds
 * do nothing, and the caller checks |oom| once before submitting.
 */
#ifndef CRPC_NVLIST_H
#define CRPC_NVLIST_H

#include <stddef.h>
#include <stdint.h>

#include <nghttp2/nghttp2.h>

#include "arena.h"
#include "crpc/metadata.h"

typedef struct crpc__nvlist {
  nghttp2_nv *nv; /* in the arena, or a borrowed constant array */
  size_t n, cap;  /* a borrowed array is full: n == cap */
  crpc__arena *a; /* borrowed */
  int oom;        /* an allocation failed: the list is unusable */
} crpc__nvlist;

/* Starts an empty list allocating from |a|. Thread: |a|'s owner. */
void crpc__nvlist_init(crpc__nvlist *l, crpc__arena *a);

/*
 * Appends |name| and |value| as they are, not copied.
 * Ownership: both are borrowed and must outlive the submit.
 */
void crpc__nvlist_add(crpc__nvlist *l, const char *name, size_t nlen,
                      const void *value, size_t vlen);

/* How a constant field is flagged: nghttp2 sends it from where it is and
 * does not lowercase its name. */
#define CRPC__NV_CONST_FLAGS                                                   \
  (NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE)

/*
 * Appends |name| and |value|, constants that last as long as the program
 * (string literals, static tables): nghttp2 sends them from where they
 * are instead of copying them into the frame it queues, and does not
 * lowercase |name|, which must be lowercase already.
 */
void crpc__nvlist_const(crpc__nvlist *l, const char *name, size_t nlen,
                        const char *value, size_t vlen);

/* crpc__nvlist_const() for two string literals. */
#define CRPC__NVLIST_LIT(l, name, value)                                       \
  crpc__nvlist_const((l), "" name, sizeof(name) - 1, "" value,                 \
                     sizeof(value) - 1)

/*
 * Appends the |n| fields of |nv|, a constant array whose fields are
 * constants too (flagged CRPC__NV_CONST_FLAGS). On an empty
 * list nothing is copied: the list is |nv| itself, and a later append
 * copies it into the arena before adding to it.
 * Ownership: |nv| is borrowed and must last as long as the program.
 */
void crpc__nvlist_const_array(crpc__nvlist *l, const nghttp2_nv *nv, size_t n);

/* One constant field for a crpc__nvlist_const_array() array: two string
 * literals, flagged CRPC__NV_CONST_FLAGS. */
#define CRPC__NV_LIT(name, value)                                              \
  {                                                                            \
    (uint8_t *)"" name, (uint8_t *)"" value, sizeof(name) - 1,                 \
        sizeof(value) - 1, CRPC__NV_CONST_FLAGS                                \
  }

/* As crpc__nvlist_add() for NUL-terminated strings. */
void crpc__nvlist_str(crpc__nvlist *l, const char *name, const char *value);

/* Appends |value| copied into the arena, for text that does not live. */
void crpc__nvlist_copy(crpc__nvlist *l, const char *name, const void *value,
                       size_t vlen);

/*
 * Appends every entry of |md| as it goes on the wire (base64 for -bin
 * keys), values copied into the arena, keys borrowed from |md|.
 */
void crpc__nvlist_metadata(crpc__nvlist *l, const crpc_metadata *md);

#endif /* CRPC_NVLIST_H */
