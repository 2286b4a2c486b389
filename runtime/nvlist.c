/* runtime/nvlist.c: see nvlist.h. */
#include "nvlist.h"

#include <string.h>

#include "metadata_wire.h"

void crpc__nvlist_init(crpc__nvlist *l, crpc__arena *a) {
  *l = (crpc__nvlist){.a = a};
}

static void push(crpc__nvlist *l, const char *name, size_t nlen,
                 const void *value, size_t vlen, uint8_t flags) {
  if (l->oom)
    return;
  /* A full list grows into the arena; so does a borrowed constant
   * array, which is always full (crpc__nvlist_const_array()). */
  if (l->n == l->cap) {
    size_t cap = l->cap < 8 ? 16 : l->cap * 2;
    nghttp2_nv *nv = crpc__arena_alloc(l->a, cap * sizeof(*nv));
    if (!nv) {
      l->oom = 1;
      return;
    }
    if (l->n)
      memcpy(nv, l->nv, l->n * sizeof(*nv));
    l->nv = nv;
    l->cap = cap;
  }
  l->nv[l->n++] =
      (nghttp2_nv){(uint8_t *)name, (uint8_t *)value, nlen, vlen, flags};
}

void crpc__nvlist_add(crpc__nvlist *l, const char *name, size_t nlen,
                      const void *value, size_t vlen) {
  push(l, name, nlen, value, vlen, NGHTTP2_NV_FLAG_NONE);
}

void crpc__nvlist_const(crpc__nvlist *l, const char *name, size_t nlen,
                        const char *value, size_t vlen) {
  push(l, name, nlen, value, vlen, CRPC__NV_CONST_FLAGS);
}

void crpc__nvlist_const_array(crpc__nvlist *l, const nghttp2_nv *nv, size_t n) {
  if (l->n == 0 && !l->oom) {
    /* nghttp2 reads the array and never writes it. */
    l->nv = (nghttp2_nv *)nv;
    l->n = l->cap = n;
    return;
  }
  for (size_t i = 0; i < n; i++)
    push(l, (const char *)nv[i].name, nv[i].namelen, nv[i].value,
         nv[i].valuelen, nv[i].flags);
}

void crpc__nvlist_str(crpc__nvlist *l, const char *name, const char *value) {
  crpc__nvlist_add(l, name, strlen(name), value, strlen(value));
}

void crpc__nvlist_copy(crpc__nvlist *l, const char *name, const void *value,
                       size_t vlen) {
  if (l->oom)
    return;
  void *v = crpc__arena_memdup(l->a, value, vlen);
  if (!v) {
    l->oom = 1;
    return;
  }
  crpc__nvlist_add(l, name, strlen(name), v, vlen);
}

void crpc__nvlist_metadata(crpc__nvlist *l, const crpc_metadata *md) {
  for (size_t i = 0; i < md->count && !l->oom; i++) {
    const crpc_metadata_entry *e = &md->entries[i];
    size_t len = crpc__metadata_wire_value_len(e);
    uint8_t *v = crpc__arena_alloc(l->a, len);
    if (!v) {
      l->oom = 1;
      return;
    }
    crpc__metadata_wire_value_write(e, v);
    crpc__nvlist_add(l, e->key, strlen(e->key), v, len);
  }
}
