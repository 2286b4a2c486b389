/* runtime/metadata.c: gRPC custom metadata, an ordered multimap, and its
 * form as HTTP/2 header fields. */
#include "crpc/metadata.h"

#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "crpc/error.h"
#include "metadata_wire.h"

#define INITIAL_CAP 8

static const char reserved_prefix[] = "grpc-";
static const char binary_suffix[] = "-bin";

static int key_char_ok(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

/* The charset rule alone, shared by local adds and received headers. */
static int key_charset_ok(const char *key, size_t len) {
  if (key == NULL || len == 0)
    return 0;
  for (size_t i = 0; i < len; i++)
    if (!key_char_ok(key[i]))
      return 0;
  return 1;
}

/* Text values are printable ASCII; |allow_tab| widens that for values
 * received from peers. */
static int text_value_ok(const uint8_t *v, size_t n, int allow_tab) {
  for (size_t i = 0; i < n; i++) {
    if (v[i] >= 0x20 && v[i] <= 0x7E)
      continue;
    if (allow_tab && v[i] == '\t')
      continue;
    return 0;
  }
  return 1;
}

static int entry_is_binary(const crpc_metadata_entry *e) {
  return crpc_metadata_is_binary_key(e->key, strlen(e->key));
}

/* Makes room for |extra| more entries, doubling the capacity. */
static int reserve(crpc_metadata *md, size_t extra) {
  if (extra <= md->cap - md->count)
    return 0;
  if (extra > SIZE_MAX / sizeof(*md->entries) - md->count)
    return CRPC_ENOMEM;
  size_t need = md->count + extra;
  size_t cap = md->cap ? md->cap : INITIAL_CAP;
  while (cap < need)
    cap = cap > SIZE_MAX / 2 / sizeof(*md->entries) ? need : cap * 2;
  crpc_metadata_entry *e = realloc(md->entries, cap * sizeof(*e));
  if (e == NULL)
    return CRPC_ENOMEM;
  md->entries = e;
  md->cap = cap;
  return 0;
}

/* Allocates one block holding the key and room for a |vlen|-byte value,
 * both NUL-terminated, and points |e| into it. The caller fills the value
 * and may shorten |e->value_len|. Freed with free(e->key). */
static int entry_alloc(crpc_metadata_entry *e, const char *key, size_t klen,
                       size_t vlen) {
  if (vlen > SIZE_MAX - klen - 2)
    return CRPC_ENOMEM;
  char *block = malloc(klen + 1 + vlen + 1);
  if (block == NULL)
    return CRPC_ENOMEM;
  memcpy(block, key, klen);
  block[klen] = '\0';
  e->key = block;
  e->value = (uint8_t *)block + klen + 1;
  e->value[vlen] = '\0';
  e->value_len = vlen;
  return 0;
}

/* Appends a checked pair; |md| is unchanged on failure. */
static int append(crpc_metadata *md, const char *key, size_t klen,
                  const void *value, size_t vlen) {
  int rc = reserve(md, 1);
  if (rc != 0)
    return rc;
  crpc_metadata_entry *e = &md->entries[md->count];
  rc = entry_alloc(e, key, klen, vlen);
  if (rc != 0)
    return rc;
  if (vlen > 0)
    memcpy(e->value, value, vlen);
  md->count++;
  return 0;
}

void crpc_metadata_init(crpc_metadata *md) {
  md->entries = NULL;
  md->count = 0;
  md->cap = 0;
}

void crpc_metadata_cleanup(crpc_metadata *md) {
  if (md == NULL)
    return;
  crpc_metadata_clear(md);
  free(md->entries);
  crpc_metadata_init(md);
}

int crpc_metadata_add(crpc_metadata *md, const char *key, const void *value,
                      size_t len) {
  if (md == NULL || (value == NULL && len > 0))
    return CRPC_EINVAL;
  if (key == NULL)
    return CRPC_EBADKEY;
  size_t klen = strlen(key);
  if (crpc_metadata_validate_key(key, klen) != 0)
    return CRPC_EBADKEY;
  if (!crpc_metadata_is_binary_key(key, klen) && !text_value_ok(value, len, 0))
    return CRPC_EBADVALUE;
  return append(md, key, klen, value, len);
}

int crpc_metadata_add_str(crpc_metadata *md, const char *key,
                          const char *value) {
  if (value == NULL)
    return CRPC_EINVAL;
  return crpc_metadata_add(md, key, value, strlen(value));
}

size_t crpc_metadata_count(const crpc_metadata *md) {
  return md ? md->count : 0;
}

const crpc_metadata_entry *crpc_metadata_at(const crpc_metadata *md, size_t i) {
  if (md == NULL || i >= md->count)
    return NULL;
  return &md->entries[i];
}

ptrdiff_t crpc_metadata_find(const crpc_metadata *md, const char *key,
                             size_t start) {
  if (md == NULL || key == NULL)
    return -1;
  for (size_t i = start; i < md->count; i++)
    if (strcmp(md->entries[i].key, key) == 0)
      return (ptrdiff_t)i;
  return -1;
}

const crpc_metadata_entry *crpc_metadata_get(const crpc_metadata *md,
                                             const char *key) {
  ptrdiff_t i = crpc_metadata_find(md, key, 0);
  return i < 0 ? NULL : &md->entries[i];
}

size_t crpc_metadata_remove(crpc_metadata *md, const char *key) {
  if (md == NULL || key == NULL)
    return 0;
  size_t kept = 0;
  for (size_t i = 0; i < md->count; i++) {
    if (strcmp(md->entries[i].key, key) == 0)
      free(md->entries[i].key);
    else
      md->entries[kept++] = md->entries[i];
  }
  size_t removed = md->count - kept;
  md->count = kept;
  return removed;
}

int crpc_metadata_copy(crpc_metadata *dst, const crpc_metadata *src) {
  if (dst == NULL || src == NULL)
    return CRPC_EINVAL;
  size_t n = src->count;
  size_t old = dst->count;
  int rc = reserve(dst, n);
  if (rc != 0)
    return rc;
  /* Reserving first means that, when |src| is |dst|, the entries read
   * below are the originals, at their possibly moved address. */
  for (size_t i = 0; i < n; i++) {
    const crpc_metadata_entry *s = &src->entries[i];
    rc = append(dst, s->key, strlen(s->key), s->value, s->value_len);
    if (rc != 0)
      goto fail;
  }
  return 0;
fail:
  while (dst->count > old)
    free(dst->entries[--dst->count].key);
  return rc;
}

void crpc_metadata_clear(crpc_metadata *md) {
  if (md == NULL)
    return;
  for (size_t i = 0; i < md->count; i++)
    free(md->entries[i].key);
  md->count = 0;
}

int crpc_metadata_validate_key(const char *key, size_t len) {
  if (!key_charset_ok(key, len))
    return CRPC_EBADKEY;
  size_t plen = sizeof(reserved_prefix) - 1;
  if (len >= plen && memcmp(key, reserved_prefix, plen) == 0)
    return CRPC_EBADKEY;
  return 0;
}

int crpc_metadata_is_binary_key(const char *key, size_t len) {
  size_t slen = sizeof(binary_suffix) - 1;
  if (key == NULL || len < slen)
    return 0;
  return memcmp(key + len - slen, binary_suffix, slen) == 0;
}

size_t crpc_metadata_wire_size(const crpc_metadata *md) {
  size_t total = 0;
  if (md == NULL)
    return 0;
  for (size_t i = 0; i < md->count; i++) {
    const crpc_metadata_entry *e = &md->entries[i];
    total += strlen(e->key) + crpc__metadata_wire_value_len(e) + 32;
  }
  return total;
}

size_t crpc__metadata_wire_value_len(const crpc_metadata_entry *e) {
  if (entry_is_binary(e))
    return crpc__base64_encoded_len(e->value_len, 0);
  return e->value_len;
}

size_t crpc__metadata_wire_value_write(const crpc_metadata_entry *e,
                                       uint8_t *dst) {
  if (entry_is_binary(e))
    return crpc__base64_encode(e->value, e->value_len, 0, (char *)dst);
  if (e->value_len > 0)
    memcpy(dst, e->value, e->value_len);
  return e->value_len;
}

/* Appends |name| with the base64 |text| decoded straight into the new
 * entry's storage. */
static int append_decoded(crpc_metadata *md, const char *name, size_t name_len,
                          const char *text, size_t text_len) {
  size_t max = crpc__base64_decoded_max_len(text_len);
  int rc = reserve(md, 1);
  if (rc != 0)
    return rc;
  crpc_metadata_entry *e = &md->entries[md->count];
  rc = entry_alloc(e, name, name_len, max);
  if (rc != 0)
    return rc;
  size_t len = 0;
  rc = crpc__base64_decode(text, text_len, e->value, max, &len);
  if (rc != 0)
    goto fail;
  e->value_len = len;
  e->value[len] = '\0';
  md->count++;
  return 0;
fail:
  free(e->key);
  return rc;
}

int crpc__metadata_add_wire(crpc_metadata *md, const char *name,
                            size_t name_len, const uint8_t *value,
                            size_t value_len) {
  if (md == NULL || (value == NULL && value_len > 0))
    return CRPC_EINVAL;
  if (!key_charset_ok(name, name_len))
    return CRPC_EBADKEY;
  if (crpc_metadata_is_binary_key(name, name_len))
    return append_decoded(md, name, name_len, (const char *)value, value_len);
  if (!text_value_ok(value, value_len, 1))
    return CRPC_EBADVALUE;
  return append(md, name, name_len, value, value_len);
}
