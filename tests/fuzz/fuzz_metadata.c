/*
 * tests/fuzz/fuzz_metadata.c: libFuzzer target for metadata validation
 * (runtime/metadata.c) as header fields from a peer reach it, and as an
 * application adds pairs. The input is a list of fields, each a byte of
 * name length, a byte of value length, the name, the value. Each goes to
 * crpc__metadata_add_wire() and to crpc_metadata_add(); what is accepted
 * goes out (crpc__metadata_wire_value_write()) and comes back in
 * unchanged, and the multimap's lookups, copy and removal agree.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crpc/error.h"
#include "crpc/metadata.h"
#include "metadata_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Sends entry |e| and takes it back in: the same value comes out. */
static void wire_round_trip(const crpc_metadata_entry *e) {
  size_t n = crpc__metadata_wire_value_len(e);
  uint8_t *wire = malloc(n ? n : 1);
  crpc_metadata back;
  if (!wire)
    abort();
  if (crpc__metadata_wire_value_write(e, wire) != n)
    abort();
  crpc_metadata_init(&back);
  if (crpc__metadata_add_wire(&back, e->key, strlen(e->key), wire, n) != 0)
    abort();
  const crpc_metadata_entry *b = crpc_metadata_at(&back, 0);
  if (!b || b->value_len != e->value_len || b->value[b->value_len] != '\0' ||
      (e->value_len && memcmp(b->value, e->value, e->value_len) != 0))
    abort();
  crpc_metadata_cleanup(&back);
  free(wire);
}

/* Checks every entry of |md| and its lookups, copy and removal. */
static void check(crpc_metadata *md) {
  size_t count = crpc_metadata_count(md), wire = 0;
  for (size_t i = 0; i < count; i++) {
    const crpc_metadata_entry *e = crpc_metadata_at(md, i);
    if (!e || e->value[e->value_len] != '\0')
      abort();
    wire += strlen(e->key) + crpc__metadata_wire_value_len(e) + 32;
    wire_round_trip(e);
    ptrdiff_t at = crpc_metadata_find(md, e->key, 0);
    if (at < 0 || (size_t)at > i || crpc_metadata_get(md, e->key) == NULL)
      abort();
  }
  if (crpc_metadata_at(md, count) != NULL ||
      crpc_metadata_wire_size(md) != wire)
    abort();
  crpc_metadata copy;
  crpc_metadata_init(&copy);
  if (crpc_metadata_copy(&copy, md) != 0 || crpc_metadata_count(&copy) != count)
    abort();
  if (count > 0) {
    char *key = strdup(crpc_metadata_at(&copy, 0)->key);
    size_t removed = crpc_metadata_remove(&copy, key);
    if (removed == 0 || crpc_metadata_count(&copy) != count - removed ||
        crpc_metadata_get(&copy, key) != NULL)
      abort();
    free(key);
  }
  crpc_metadata_clear(&copy);
  crpc_metadata_cleanup(&copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  crpc_metadata wire, app;
  crpc_metadata_init(&wire);
  crpc_metadata_init(&app);
  while (size >= 2) {
    size_t nlen = data[0], vlen = data[1];
    data += 2, size -= 2;
    if (nlen + vlen > size)
      break;
    const char *name = (const char *)data;
    const uint8_t *value = data + nlen;
    data += nlen + vlen, size -= nlen + vlen;

    size_t before = crpc_metadata_count(&wire);
    int rc = crpc__metadata_add_wire(&wire, name, nlen, value, vlen);
    if (rc != 0 && crpc_metadata_count(&wire) != before)
      abort(); /* a refused field leaves the metadata unchanged */

    /* The application's API takes a C string key. */
    char key[256];
    memcpy(key, name, nlen);
    key[nlen] = '\0';
    int valid = crpc_metadata_validate_key(key, strlen(key)) == 0;
    before = crpc_metadata_count(&app);
    rc = crpc_metadata_add(&app, key, value, vlen);
    if (rc == 0 && !valid)
      abort();
    if (rc != 0 && crpc_metadata_count(&app) != before)
      abort();
  }
  check(&wire);
  check(&app);
  crpc_metadata_cleanup(&wire);
  crpc_metadata_cleanup(&app);
  return 0;
}
