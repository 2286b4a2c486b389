/*
 * tests/runtime/test_msgcheck.c: crpc__msgcheck() refuses exactly the
 * messages protobuf-c cannot pack, names the field, and what it passes
 * packs; crpc__frame_encode() refuses them with CRPC_EPACK.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "crpc/error.h"
#include "frame.h"
#include "msgcheck.h"
#include "test_messages.pb-c.h"

typedef Crpc__Test__Tree Tree;

/* Packs |t| and unpacks it again: proof that a message passed as valid
 * really packs. */
static void packs(const Tree *t) {
  size_t n = protobuf_c_message_get_packed_size(&t->base);
  uint8_t *buf = malloc(n ? n : 1);
  cr_assert_not_null(buf);
  cr_assert_eq(protobuf_c_message_pack(&t->base, buf), n);
  Tree *back = crpc__test__tree__unpack(NULL, n, buf);
  cr_assert_not_null(back);
  crpc__test__tree__free_unpacked(back, NULL);
  free(buf);
}

static void refused(const Tree *t, const char *want) {
  char why[256];
  cr_assert_eq(crpc__msgcheck(&t->base, why, sizeof(why)), CRPC_EPACK);
  cr_assert_str_eq(why, want);
  /* No description asked for: the same answer. */
  cr_assert_eq(crpc__msgcheck(&t->base, NULL, 0), CRPC_EPACK);
  crpc__buf out;
  crpc__buf_init(&out, SIZE_MAX);
  cr_assert_eq(crpc__frame_encode(&out, &t->base, SIZE_MAX), CRPC_EPACK);
  cr_assert_eq(crpc__frame_encode_compressed(&out, &t->base,
                                             CRPC__ENCODING_GZIP, SIZE_MAX),
               CRPC_EPACK);
  cr_assert_eq(crpc__buf_len(&out), 0);
  crpc__buf_cleanup(&out);
}

Test(msgcheck, full_valid_message_passes_and_packs, .timeout = 10) {
  Tree t = CRPC__TEST__TREE__INIT, child = CRPC__TEST__TREE__INIT,
       kid = CRPC__TEST__TREE__INIT, node = CRPC__TEST__TREE__INIT;
  Crpc__Test__Echo echo = CRPC__TEST__ECHO__INIT;
  char *tags[] = {"a", "b"};
  uint8_t raw[] = {1, 2, 3};
  ProtobufCBinaryData blobs[] = {{3, raw}, {0, NULL}};
  Tree *kids[] = {&kid};
  t.name = NULL; /* a NULL string packs as "" */
  t.n_tags = 2;
  t.tags = tags;
  t.blob = (ProtobufCBinaryData){0, NULL};
  t.n_blobs = 2;
  t.blobs = blobs;
  t.child = &child;
  t.n_children = 1;
  t.children = kids;
  t.pick_case = CRPC__TEST__TREE__PICK_NODE;
  t.node = &node;
  t.echo = &echo;
  cr_assert_eq(crpc__msgcheck(&t.base, NULL, 0), 0);
  packs(&t);
}

Test(msgcheck, null_string_in_repeated_field, .timeout = 10) {
  Tree t = CRPC__TEST__TREE__INIT;
  char *tags[] = {"a", NULL};
  t.n_tags = 2;
  t.tags = tags;
  refused(&t, "crpc.test.Tree.tags[1]: NULL string in a repeated field");
}

Test(msgcheck, repeated_count_without_array, .timeout = 10) {
  Tree t = CRPC__TEST__TREE__INIT;
  t.n_children = 3;
  refused(&t, "crpc.test.Tree.children: 3 elements but no array (NULL)");
}

Test(msgcheck, null_message_in_repeated_field, .timeout = 10) {
  Tree t = CRPC__TEST__TREE__INIT, a = CRPC__TEST__TREE__INIT;
  Tree *kids[] = {&a, NULL};
  t.n_children = 2;
  t.children = kids;
  refused(&t, "crpc.test.Tree.children[1]: NULL message in a repeated field");
}

Test(msgcheck, bytes_with_length_and_no_data, .timeout = 10) {
  Tree t = CRPC__TEST__TREE__INIT;
  t.blob.len = 5;
  refused(&t, "crpc.test.Tree.blob: 5 bytes with NULL data");
  Tree u = CRPC__TEST__TREE__INIT;
  ProtobufCBinaryData blobs[] = {{0, NULL}, {7, NULL}};
  u.n_blobs = 2;
  u.blobs = blobs;
  refused(&u, "crpc.test.Tree.blobs[1]: 7 bytes with NULL data");
}

Test(msgcheck, oneof_case_with_null_pointer, .timeout = 10) {
  Tree t = CRPC__TEST__TREE__INIT;
  t.pick_case = CRPC__TEST__TREE__PICK_NODE;
  refused(&t, "crpc.test.Tree.node: the oneof's case names this field, "
              "which is NULL");
  t.pick_case = CRPC__TEST__TREE__PICK_WORD;
  refused(&t, "crpc.test.Tree.word: the oneof's case names this field, "
              "which is NULL");
  t.pick_case = CRPC__TEST__TREE__PICK_RAW;
  t.raw.len = 2;
  refused(&t, "crpc.test.Tree.raw: 2 bytes with NULL data");
  /* A case that names no field of the oneof, or another member, is not
   * this field's business. */
  t.pick_case = CRPC__TEST__TREE__PICK_WORD;
  t.word = "w";
  cr_assert_eq(crpc__msgcheck(&t.base, NULL, 0), 0);
  packs(&t);
}

Test(msgcheck, nested_path_is_named, .timeout = 10) {
  Tree t = CRPC__TEST__TREE__INIT, a = CRPC__TEST__TREE__INIT,
       b = CRPC__TEST__TREE__INIT;
  Tree *kids[] = {&a};
  char *tags[] = {NULL};
  t.n_children = 1;
  t.children = kids;
  a.child = &b;
  b.n_tags = 1;
  b.tags = tags;
  refused(&t, "crpc.test.Tree.children[0].child.tags[0]: NULL string in a "
              "repeated field");
}

Test(msgcheck, uninitialized_and_wrong_sub_messages, .timeout = 10) {
  Tree t = CRPC__TEST__TREE__INIT, zero;
  memset(&zero, 0, sizeof(zero));
  t.child = &zero;
  refused(&t, "crpc.test.Tree.child: a crpc.test.Tree that was never "
              "initialized (no descriptor)");
  Crpc__Test__Echo echo = CRPC__TEST__ECHO__INIT;
  t.child = (Tree *)&echo;
  refused(&t, "crpc.test.Tree.child: a crpc.test.Echo where a crpc.test.Tree "
              "belongs");
}

Test(msgcheck, a_message_that_contains_itself, .timeout = 10) {
  Tree t = CRPC__TEST__TREE__INIT;
  t.child = &t;
  char why[4096];
  cr_assert_eq(crpc__msgcheck(&t.base, why, sizeof(why)), CRPC_EPACK);
  cr_assert(strstr(why, "nested deeper than 100 messages") != NULL, "%s", why);
  cr_assert_eq(strncmp(why, "crpc.test.Tree.child.child.", 27), 0, "%s", why);
}

Test(msgcheck, depth_up_to_the_limit_passes, .timeout = 10) {
  Tree chain[CRPC__MSGCHECK_MAX_DEPTH + 1];
  for (int i = 0; i <= CRPC__MSGCHECK_MAX_DEPTH; i++) {
    crpc__test__tree__init(&chain[i]);
    if (i > 0)
      chain[i - 1].child = &chain[i];
  }
  cr_assert_eq(crpc__msgcheck(&chain[0].base, NULL, 0), 0);
  Tree extra = CRPC__TEST__TREE__INIT;
  chain[CRPC__MSGCHECK_MAX_DEPTH].child = &extra;
  cr_assert_eq(crpc__msgcheck(&chain[0].base, NULL, 0), CRPC_EPACK);
}

Test(msgcheck, null_and_uninitialized_top_level, .timeout = 10) {
  char why[64];
  cr_assert_eq(crpc__msgcheck(NULL, why, sizeof(why)), CRPC_EPACK);
  cr_assert_str_eq(why, "a NULL message");
  Tree zero;
  memset(&zero, 0, sizeof(zero));
  cr_assert_eq(crpc__msgcheck(&zero.base, why, sizeof(why)), CRPC_EPACK);
  cr_assert_str_eq(why, "a message that was never initialized (no "
                        "descriptor)");
}

Test(msgcheck, unknown_fields_without_data, .timeout = 10) {
  Tree t = CRPC__TEST__TREE__INIT;
  ProtobufCMessageUnknownField u = {.tag = 99,
                                    .wire_type =
                                        PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED,
                                    .len = 4,
                                    .data = NULL};
  t.base.n_unknown_fields = 1;
  t.base.unknown_fields = &u;
  refused(&t, "crpc.test.Tree: an unknown field (tag 99) with NULL data");
}

Test(msgcheck, description_is_cut_to_the_buffer, .timeout = 10) {
  Tree t = CRPC__TEST__TREE__INIT;
  char *tags[] = {NULL};
  t.n_tags = 1;
  t.tags = tags;
  char why[12];
  memset(why, 'x', sizeof(why));
  cr_assert_eq(crpc__msgcheck(&t.base, why, sizeof(why)), CRPC_EPACK);
  cr_assert_eq(strlen(why), sizeof(why) - 1);
  cr_assert_eq(strncmp(why, "crpc.test.T", 11), 0, "%s", why);
}
