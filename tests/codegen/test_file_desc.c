/*
 * tests/codegen/test_file_desc.c: suite of codegen/file_desc.c.
 *
 * Links the code protoc-gen-crpc generated from tests/codegen/file_desc
 * (a.proto and b.proto; shared.proto, which both import, only through
 * protoc-c) and checks the descriptors reflection will serve.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "a.crpc.h"
#include "b.crpc.h"
#include "file_desc.h"
#include "google/protobuf/descriptor.pb-c.h"

extern const crpc_file_desc crpc_file_shared_dproto;
extern const crpc_file_desc crpc_file_google__protobuf__timestamp_dproto;
extern const crpc_file_desc crpc_file_google__protobuf__descriptor_dproto;

static int has_symbol(const crpc_file_desc *f, const char *name) {
  size_t i;

  for (i = 0; i < f->n_symbols; i++)
    if (strcmp(f->symbols[i], name) == 0)
      return 1;
  return 0;
}

Test(file_desc, symbol_names_are_injective) {
  char *x = crpc__file_desc_symbol("a/b_c.proto");
  char *y = crpc__file_desc_symbol("a_b/c.proto");
  char *z = crpc__file_desc_symbol("a-b/c+d.proto");

  cr_assert_str_eq(x, "crpc_file_a__b_uc_dproto");
  cr_assert_str_eq(y, "crpc_file_a_ub__c_dproto");
  cr_assert_str_eq(z, "crpc_file_a_hb__c_x2bd_dproto");
  free(x);
  free(y);
  free(z);
}

Test(file_desc, builtin_files) {
  cr_assert(crpc__file_desc_builtin("google/protobuf/timestamp.proto"));
  cr_assert(crpc__file_desc_builtin("grpc/reflection/v1/reflection.proto"));
  cr_assert_not(crpc__file_desc_builtin("shared.proto"));
}

Test(file_desc, bytes_parse_as_the_file) {
  const crpc_file_desc *f = &crpc_file_a_dproto;
  Google__Protobuf__FileDescriptorProto *pb =
      google__protobuf__file_descriptor_proto__unpack(NULL, f->len, f->data);

  cr_assert_not_null(pb);
  cr_assert_str_eq(f->name, "a.proto");
  cr_assert_str_eq(pb->name, "a.proto");
  cr_assert_str_eq(pb->package, "fd.a");
  cr_assert_null(pb->source_code_info);
  cr_assert_eq(pb->n_dependency, 3);
  cr_assert_eq(pb->n_service, 1);
  cr_assert_eq(fd_a_svc_desc.file, f);
  google__protobuf__file_descriptor_proto__free_unpacked(pb, NULL);
}

Test(file_desc, deps_in_import_order_reach_the_well_known_types) {
  const crpc_file_desc *f = &crpc_file_a_dproto;

  cr_assert_eq(f->n_deps, 3);
  cr_assert_eq(f->deps[0], &crpc_file_shared_dproto);
  cr_assert_eq(f->deps[1], &crpc_file_google__protobuf__timestamp_dproto);
  cr_assert_eq(f->deps[2], &crpc_file_google__protobuf__descriptor_dproto);
  cr_assert_str_eq(f->deps[0]->name, "shared.proto");
  cr_assert_eq(f->deps[0]->n_deps, 2);
  cr_assert_eq(f->deps[0]->deps[1],
               &crpc_file_google__protobuf__timestamp_dproto);
  cr_assert_str_eq(f->deps[1]->name, "google/protobuf/timestamp.proto");
  cr_assert(has_symbol(f->deps[1], "google.protobuf.Timestamp"));
  cr_assert(has_symbol(f->deps[2], "google.protobuf.FileDescriptorProto"));
}

Test(file_desc, symbols_and_extensions) {
  const crpc_file_desc *f = &crpc_file_a_dproto;
  static const char *const want[] = {
      "fd.a.Req", "fd.a.Req.Inner", "fd.a.Req.Inner.Kind",
      "fd.a.Rep", "fd.a.Holder",    "fd.a.Holder.flag",
      "fd.a.Svc", "fd.a.Svc.Run",   "fd.a.tag",
  };
  size_t i;

  for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
    cr_assert(has_symbol(f, want[i]), "%s missing", want[i]);
  cr_assert_eq(f->n_symbols, sizeof(want) / sizeof(want[0]));
  cr_assert_eq(f->n_extensions, 2);
  cr_assert_str_eq(f->extensions[0].extendee, "google.protobuf.MethodOptions");
  cr_assert_eq(f->extensions[0].number, 51602);
  cr_assert_str_eq(f->extensions[1].extendee, "google.protobuf.FieldOptions");
  cr_assert_eq(f->extensions[1].number, 51601);
  cr_assert(has_symbol(&crpc_file_shared_dproto, "fd.shared.Shared.Nested"));
  cr_assert(has_symbol(&crpc_file_shared_dproto, "fd.shared.shared_opt"));
}

Test(file_desc, a_shared_dependency_links_to_one_copy) {
  cr_assert_eq(crpc_file_a_dproto.deps[0], &crpc_file_shared_dproto);
  cr_assert_eq(crpc_file_b_dproto.deps[0], &crpc_file_shared_dproto);
  cr_assert_eq(fd_b_other_desc.file, &crpc_file_b_dproto);
}
