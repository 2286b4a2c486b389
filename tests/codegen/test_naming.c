/*
 * tests/codegen/test_naming.c: suite of codegen/naming.c.
 *
 * The expected protoc-c names were read from protoc-c 1.4.1's own output
 * (protoc --c_out) for messages with these names; crpc's names are the
 * ones docs and DESIGN.md promise.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "naming.h"
#include "request.h"

typedef void (*transform_fn)(crpc__printer *out, const char *s, size_t n);

static void check(transform_fn fn, const char *in, const char *want) {
  crpc__printer p;
  crpc__printer_init(&p, 1 << 16);
  fn(&p, in, strlen(in));
  cr_assert(!p.failed);
  cr_assert_str_eq(p.data ? p.data : "", want, "%s -> %s, want %s", in,
                   p.data ? p.data : "", want);
  crpc__printer_cleanup(&p);
}

Test(naming, to_camel_as_protoc_c, .timeout = 10) {
  check(crpc__naming_camel, "HelloRequest", "HelloRequest");
  check(crpc__naming_camel, "HTTPRequest", "HTTPRequest");
  check(crpc__naming_camel, "getURL", "GetURL");
  check(crpc__naming_camel, "foo_bar", "FooBar");
  check(crpc__naming_camel, "Foo_Bar", "FooBar");
  check(crpc__naming_camel, "lower", "Lower");
  check(crpc__naming_camel, "V2x3Y", "V2x3Y");
  check(crpc__naming_camel, "ABC_def_GHI", "ABCDefGHI");
  check(crpc__naming_camel, "_Under", "Under");
  check(crpc__naming_camel, "a__b", "AB");
  check(crpc__naming_camel, "v1Beta", "V1Beta");
  check(crpc__naming_camel, "alt_Pkg", "AltPkg");
  check(crpc__naming_camel, "x_1y", "X1y");
}

Test(naming, camel_to_lower_as_protoc_c, .timeout = 10) {
  check(crpc__naming_lower, "SayHello", "say_hello");
  check(crpc__naming_lower, "HTTPRequest", "httprequest");
  check(crpc__naming_lower, "HTTPService", "httpservice");
  check(crpc__naming_lower, "getURL", "get_url");
  check(crpc__naming_lower, "GetHTTPResponse", "get_httpresponse");
  check(crpc__naming_lower, "foo_bar", "foo_bar");
  check(crpc__naming_lower, "Foo_Bar", "foo__bar");
  check(crpc__naming_lower, "lower", "lower");
  check(crpc__naming_lower, "V2x3Y", "v2x3_y");
  check(crpc__naming_lower, "ABC_def_GHI", "abc_def__ghi");
  check(crpc__naming_lower, "_Under", "__under");
  check(crpc__naming_lower, "a__b", "a__b");
  check(crpc__naming_lower, "v1Beta", "v1_beta");
  check(crpc__naming_lower, "alt_Pkg", "alt__pkg");
  check(crpc__naming_lower, "Default", "default");
}

static void check_message(const char *full, const char *pkg, const char *cpkg,
                          const char *want_type, const char *want_lower) {
  char *t = crpc__naming_message(full, pkg, cpkg, 0);
  char *l = crpc__naming_message(full, pkg, cpkg, 1);
  cr_assert(t && l);
  cr_assert_str_eq(t, want_type, "type of %s: %s", full, t);
  cr_assert_str_eq(l, want_lower, "descriptor of %s: %s", full, l);
  free(t);
  free(l);
}

Test(naming, message_types_as_protoc_c, .timeout = 10) {
  check_message("demo.HelloRequest", "demo", NULL, "Demo__HelloRequest",
                "demo__hello_request");
  check_message("grpc.testing.SimpleRequest", "grpc.testing", NULL,
                "Grpc__Testing__SimpleRequest",
                "grpc__testing__simple_request");
  check_message("my_pkg.Sub.v1Beta.HTTPRequest", "my_pkg.Sub.v1Beta", NULL,
                "MyPkg__Sub__V1Beta__HTTPRequest",
                "my_pkg__sub__v1_beta__httprequest");
  check_message("my_pkg.Sub.v1Beta.Outer.Inner_x.deepURL", "my_pkg.Sub.v1Beta",
                NULL, "MyPkg__Sub__V1Beta__Outer__InnerX__DeepURL",
                "my_pkg__sub__v1_beta__outer__inner_x__deep_url");
  check_message("my_pkg.Sub.v1Beta._Under", "my_pkg.Sub.v1Beta", NULL,
                "MyPkg__Sub__V1Beta__Under", "my_pkg__sub__v1_beta____under");
  check_message("Top2", "", NULL, "Top2", "top2");
  check_message("google.protobuf.Empty", "google.protobuf", NULL,
                "Google__Protobuf__Empty", "google__protobuf__empty");
}

Test(naming, c_package_replaces_the_package, .timeout = 10) {
  check_message("some.pkg.Msg.In", "some.pkg", "alt_Pkg.x",
                "AltPkg__X__Msg__In", "alt__pkg__x__msg__in");
  check_message("Top", "", "cp", "Cp__Top", "cp__top");
  check_message("q.r.Top3", "q.r", "", "Top3", "top3");
}

static void check_prefix(const char *pkg, const char *svc, const char *want) {
  char *p = crpc__naming_prefix(pkg, svc);
  cr_assert(p);
  cr_assert_str_eq(p, want, "prefix of %s.%s: %s", pkg, svc, p);
  free(p);
}

Test(naming, service_prefixes, .timeout = 10) {
  check_prefix("demo", "Greeter", "demo_greeter");
  check_prefix("grpc.testing", "TestService", "grpc_testing_test_service");
  check_prefix("", "Greeter", "greeter");
  check_prefix("", "lower_service", "lower_service");
  check_prefix("golden.everything.v1", "HTTPService",
               "golden_everything_v1_httpservice");
  check_prefix("alt_Pkg.x", "Svc", "alt__pkg_x_svc");
  check_prefix("grpc.health.v1", "Health", "grpc_health_v1_health");
}

Test(naming, reserved_member_names, .timeout = 10) {
  static const char *const yes[] = {
      "default", "switch", "register", "int",     "bool",  "true",
      "false",   "new",    "class",    "this",    "and",   "errno",
      "linux",   "unix",   "typeof",   "alignas", "assert"};
  static const char *const no[] = {"say_hello", "defaults", "default_",
                                   "http",      "_bool",    ""};
  size_t i;
  for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
    cr_assert(crpc__naming_is_reserved(yes[i]), "%s", yes[i]);
  for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
    cr_assert(!crpc__naming_is_reserved(no[i]), "%s", no[i]);
}

Test(naming, identifiers, .timeout = 10) {
  cr_assert(crpc__naming_is_identifier("a_1", 0));
  cr_assert(crpc__naming_is_identifier("_x", 0));
  cr_assert(!crpc__naming_is_identifier("a.b", 0));
  cr_assert(crpc__naming_is_identifier("a.b.c1", 1));
  cr_assert(!crpc__naming_is_identifier("a..b", 1));
  cr_assert(!crpc__naming_is_identifier(".a", 1));
  cr_assert(!crpc__naming_is_identifier("a.", 1));
  cr_assert(!crpc__naming_is_identifier("1a", 0));
  cr_assert(!crpc__naming_is_identifier("a-b", 0));
  cr_assert(!crpc__naming_is_identifier("", 0));
  cr_assert(!crpc__naming_is_identifier(NULL, 0));
}

/* ---- names of whole files, from a request built here ---- */

typedef Google__Protobuf__FileDescriptorProto file_pb;
typedef Google__Protobuf__DescriptorProto msg_pb;
typedef Google__Protobuf__ServiceDescriptorProto svc_pb;
typedef Google__Protobuf__MethodDescriptorProto method_pb;

/* A file "t.proto" of package "p" with message M and the services and
 * methods in |spec|: "Svc:MethodA,MethodB;Other:X" (a method "name>"
 * streams its replies). */
static crpc__request *request_of(const char *spec) {
  static char specbuf[256];
  file_pb f = GOOGLE__PROTOBUF__FILE_DESCRIPTOR_PROTO__INIT;
  msg_pb m = GOOGLE__PROTOBUF__DESCRIPTOR_PROTO__INIT, *mp = &m;
  Google__Protobuf__Compiler__CodeGeneratorRequest r =
      GOOGLE__PROTOBUF__COMPILER__CODE_GENERATOR_REQUEST__INIT;
  svc_pb svcs[4], *sp[4];
  method_pb methods[4][4], *mps[4][4];
  file_pb *fp = &f;
  char *gen = "t.proto", *s, *svc_end;
  crpc__request *out = NULL;
  uint8_t buf[4096];
  size_t len;

  strcpy(specbuf, spec);
  m.name = "M";
  f.name = "t.proto";
  f.package = "p";
  f.n_message_type = 1;
  f.message_type = &mp;
  for (s = specbuf; s && *s && f.n_service < 4; s = svc_end) {
    svc_pb *sv = &svcs[f.n_service];
    char *colon = strchr(s, ':'), *name;
    svc_end = strchr(s, ';');
    if (svc_end)
      *svc_end++ = '\0';
    *colon = '\0';
    google__protobuf__service_descriptor_proto__init(sv);
    sv->name = s;
    sv->method = mps[f.n_service];
    for (name = strtok(colon + 1, ","); name && sv->n_method < 4;
         name = strtok(NULL, ",")) {
      method_pb *mt = &methods[f.n_service][sv->n_method];
      google__protobuf__method_descriptor_proto__init(mt);
      mt->name = name;
      if (name[strlen(name) - 1] == '>') {
        name[strlen(name) - 1] = '\0';
        mt->has_server_streaming = mt->server_streaming = 1;
      }
      mt->input_type = ".p.M";
      mt->output_type = ".p.M";
      mps[f.n_service][sv->n_method++] = mt;
    }
    sp[f.n_service++] = sv;
  }
  f.service = sp;
  r.n_file_to_generate = 1;
  r.file_to_generate = &gen;
  r.n_proto_file = 1;
  r.proto_file = &fp;
  len = google__protobuf__compiler__code_generator_request__get_packed_size(&r);
  cr_assert(len <= sizeof(buf));
  google__protobuf__compiler__code_generator_request__pack(&r, buf);
  cr_assert_eq(crpc__request_decode(buf, len, &out), 0);
  return out;
}

/* Builds the names of "Svc:..." specs; returns the error or NULL. */
static char *build(const char *spec, crpc__file_names *n) {
  crpc__request *r = request_of(spec);
  char *err = NULL;
  int rc = crpc__file_names_build(r, crpc__request_file(r, "t.proto"), n, &err);
  cr_assert(rc == 0 || rc == -1, "rc %d", rc);
  cr_assert((rc == 0) == (err == NULL));
  crpc__request_free(r);
  return err;
}

Test(naming, file_names, .timeout = 10) {
  crpc__file_names n;
  char *err = build("Greeter:SayHello,Default,ListAll>", &n);
  const crpc__method_names *m;

  cr_assert_null(err, "%s", err);
  cr_assert_str_eq(n.base, "t");
  cr_assert_str_eq(n.guard, "T_CRPC_H");
  cr_assert_eq(n.n_services, 1);
  cr_assert_str_eq(n.services[0].prefix, "p_greeter");
  cr_assert_str_eq(n.services[0].macro, "P_GREETER");
  cr_assert_str_eq(n.services[0].full_name, "p.Greeter");
  m = &n.services[0].methods[0];
  cr_assert_str_eq(m->fn, "p_greeter_say_hello");
  cr_assert_str_eq(m->field, "say_hello");
  cr_assert_str_eq(m->macro, "P_GREETER_SAY_HELLO");
  cr_assert_str_eq(m->in_type, "P__M");
  cr_assert_str_eq(m->in_desc, "p__m__descriptor");
  cr_assert_str_eq(m->in_proto, "M");
  cr_assert_eq(m->kind, CRPC__KIND_UNARY);
  cr_assert_str_eq(n.services[0].methods[1].field, "default_");
  cr_assert_str_eq(n.services[0].methods[1].fn, "p_greeter_default");
  cr_assert_eq(n.services[0].methods[2].kind, CRPC__KIND_SERVER_STREAMING);
  crpc__file_names_cleanup(&n);
}

static void check_clash(const char *spec, const char *want) {
  crpc__file_names n;
  char *err = build(spec, &n);
  cr_assert_not_null(err, "no error for %s", spec);
  cr_assert(strstr(err, want), "error for %s: %s", spec, err);
  free(err);
  crpc__file_names_cleanup(&n);
}

Test(naming, clashes_name_both_elements, .timeout = 10) {
  check_clash("Svc:Foo,FooAsync",
              "t.proto: method p.Svc.Foo and method p.Svc.FooAsync would both "
              "generate the C name 'p_svc_foo_async'; rename one of them");
  check_clash("FooBar:X;Foo:BarX", "method p.FooBar.X and method p.Foo.BarX");
  check_clash("Svc:Default,default_", "handler table member 'default_'");
  check_clash("Svc:Desc", "service p.Svc and method p.Svc.Desc");
  check_clash("Svc:Module", "'P_SVC_MODULE'");
  check_clash("Svc:Foo>,FooRead", "'p_svc_foo_read'");
  check_clash("A_b:X;a_b:X", "service p.A_b and service p.a_b");
}

Test(naming, unknown_types_and_bad_names, .timeout = 10) {
  crpc__file_names n;
  crpc__request *r = request_of("Svc:Get");
  file_pb *f = r->pb->proto_file[0];
  method_pb *m = f->service[0]->method[0];
  char *in = m->input_type, *name = m->name, *err = NULL;
  char nope[] = ".p.Nope", quoted[] = "Get\"x";

  m->input_type = nope;
  cr_assert_eq(crpc__file_names_build(r, f, &n, &err), -1);
  cr_assert_str_eq(err, "t.proto: method p.Svc.Get: unknown input type "
                        "'.p.Nope'");
  free(err);
  crpc__file_names_cleanup(&n);
  m->input_type = in;
  m->name = quoted;
  cr_assert_eq(crpc__file_names_build(r, f, &n, &err), -1);
  cr_assert(strstr(err, "invalid name"), "%s", err);
  free(err);
  crpc__file_names_cleanup(&n);
  m->name = name; /* the request frees what it decoded */
  crpc__request_free(r);
}
