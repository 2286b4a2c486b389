/*
 * crpc/metadata.h: gRPC custom metadata, an ordered multimap of key/value
 * pairs in caller storage.
 *
 * Keys follow gRPC's PROTOCOL-HTTP2 "Custom-Metadata" rules: one or more
 * characters of [0-9a-z_.-] (HTTP/2 requires lowercase) and not starting
 * with the reserved "grpc-" prefix. A key ending in "-bin" holds arbitrary
 * bytes, which travel base64-encoded; any other key holds printable ASCII
 * (0x20-0x7E). Entries keep the order they were added in, and a key may
 * repeat.
 */
#ifndef CRPC_METADATA_H
#define CRPC_METADATA_H

#include "crpc/common.h"

CRPC_BEGIN_DECLS

/*
 * One key/value pair. Both are owned by the crpc_metadata holding the
 * entry and stay valid until the entry is removed or the metadata cleared
 * or cleaned up; do not free or modify them. |value| holds |value_len|
 * bytes followed by a NUL, so text values can be read as C strings.
 */
typedef struct crpc_metadata_entry {
  char *key;
  uint8_t *value;
  size_t value_len;
} crpc_metadata_entry;

/*
 * The multimap. Caller storage: pair crpc_metadata_init() with
 * crpc_metadata_cleanup(). Read the fields, never write them.
 */
typedef struct crpc_metadata {
  crpc_metadata_entry *entries;
  size_t count;
  size_t cap;
} crpc_metadata;

/*
 * Makes |md| empty, owning nothing.
 * Thread: any (on a struct the caller owns).
 */
CRPC_EXTERN void crpc_metadata_init(crpc_metadata *md);

/*
 * Frees every entry and the storage of |md|, leaving it as after init.
 * NULL is a no-op.
 * Thread: any (on a struct the caller owns).
 */
CRPC_EXTERN void crpc_metadata_cleanup(crpc_metadata *md);

/*
 * Appends the pair |key| = the |len| bytes at |value| to |md|.
 * Ownership: |key| and |value| are copied. |value| may be NULL when |len|
 * is 0.
 * Thread: any (on a struct the caller owns).
 * Returns 0, or one of these, and then |md| is unchanged:
 *   CRPC_EBADKEY    |key| is NULL, empty, has a character outside
 *                   [0-9a-z_.-], or starts with the reserved "grpc-".
 *   CRPC_EBADVALUE  |key| does not end in "-bin" and |value| has a byte
 *                   outside 0x20-0x7E.
 *   CRPC_EINVAL     |value| is NULL and |len| is not 0.
 *   CRPC_ENOMEM     out of memory.
 */
CRPC_EXTERN int crpc_metadata_add(crpc_metadata *md, const char *key,
                                  const void *value, size_t len);

/*
 * Appends |key| = the NUL-terminated |value|, as crpc_metadata_add() with
 * strlen(value). Ownership: both are copied.
 * Thread: any (on a struct the caller owns).
 * Returns 0, or the codes of crpc_metadata_add() (CRPC_EINVAL when |value|
 * is NULL), and then |md| is unchanged.
 */
CRPC_EXTERN int crpc_metadata_add_str(crpc_metadata *md, const char *key,
                                      const char *value);

/*
 * Returns the number of entries in |md|.
 * Thread: any (on a struct the caller owns).
 */
CRPC_EXTERN size_t crpc_metadata_count(const crpc_metadata *md);

/*
 * Returns entry |i| of |md| in insertion order, or NULL when |i| is not
 * below the count.
 * Ownership: borrowed; valid until |md| is next modified.
 * Thread: any (on a struct the caller owns).
 */
CRPC_EXTERN const crpc_metadata_entry *crpc_metadata_at(const crpc_metadata *md,
                                                        size_t i);

/*
 * Returns the first entry of |md| whose key equals |key|, or NULL.
 * Ownership: borrowed; valid until |md| is next modified.
 * Thread: any (on a struct the caller owns).
 */
CRPC_EXTERN const crpc_metadata_entry *
crpc_metadata_get(const crpc_metadata *md, const char *key);

/*
 * Returns the index of the first entry at or after |start| whose key equals
 * |key|, or -1 when there is none. Walk a repeated key with
 * `for (i = find(md, k, 0); i >= 0; i = find(md, k, i + 1))`.
 * Thread: any (on a struct the caller owns).
 */
CRPC_EXTERN ptrdiff_t crpc_metadata_find(const crpc_metadata *md,
                                         const char *key, size_t start);

/*
 * Removes every entry whose key equals |key|, keeping the order of the
 * rest. Returns the number removed. Entries borrowed from |md| earlier are
 * no longer valid.
 * Thread: any (on a struct the caller owns).
 */
CRPC_EXTERN size_t crpc_metadata_remove(crpc_metadata *md, const char *key);

/*
 * Appends copies of every entry of |src| to |dst|, in order. |src| may be
 * |dst|, which then doubles. Entries are copied as they are, without
 * checking them again.
 * Ownership: everything is copied; |src| is unchanged.
 * Thread: any (on structs the caller owns).
 * Returns 0, or CRPC_ENOMEM and then |dst| is unchanged.
 */
CRPC_EXTERN int crpc_metadata_copy(crpc_metadata *dst,
                                   const crpc_metadata *src);

/*
 * Removes every entry of |md| and keeps its storage for reuse.
 * Thread: any (on a struct the caller owns).
 */
CRPC_EXTERN void crpc_metadata_clear(crpc_metadata *md);

/*
 * Checks the |len| characters at |key| against the key rules of
 * crpc_metadata_add(): non-empty, only [0-9a-z_.-], not starting with
 * "grpc-". Returns 0 when crpc_metadata_add() would accept the key, else
 * CRPC_EBADKEY.
 * Thread: any.
 */
CRPC_EXTERN int crpc_metadata_validate_key(const char *key, size_t len);

/*
 * Returns 1 when the |len| characters at |key| end in "-bin", so that its
 * values are binary and travel base64-encoded, else 0.
 * Thread: any.
 */
CRPC_EXTERN int crpc_metadata_is_binary_key(const char *key, size_t len);

/*
 * Returns the size |md| adds to an HTTP/2 header list as SETTINGS_MAX_
 * HEADER_LIST_SIZE counts it: for each entry, the key length plus the
 * length of the value as sent (base64 without padding for "-bin" keys)
 * plus 32.
 * Thread: any (on a struct the caller owns).
 */
CRPC_EXTERN size_t crpc_metadata_wire_size(const crpc_metadata *md);

CRPC_END_DECLS

#endif /* CRPC_METADATA_H */
