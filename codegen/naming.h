/*
 * codegen/naming.h: the C names of everything protoc-gen-crpc writes.
 *
 * Message types and their descriptors are named exactly as protoc-c 1.4.1
 * names them, since the generated code refers to protoc-c's output:
 *   type        ".demo.HelloRequest"  -> Demo__HelloRequest
 *   descriptor                        -> demo__hello_request__descriptor
 *   nested      ".foo.Outer.Inner"    -> Foo__Outer__Inner
 * Each dot-separated piece of the full name (with the file's package
 * replaced by its (pb_c_file).c_package, when set) goes through ToCamel or
 * CamelToLower and the pieces are joined with "__".
 *
 * crpc's own names are lower snake case, one prefix per service:
 *   demo.Greeter              -> demo_greeter_ (DEMO_GREETER_ for macros)
 *   grpc.testing.TestService  -> grpc_testing_test_service_
 *   Greeter (no package)      -> greeter_
 *   SayHello                  -> demo_greeter_say_hello, field say_hello
 * (the package is the c_package when the file sets one).
 */
#ifndef CRPC_CODEGEN_NAMING_H
#define CRPC_CODEGEN_NAMING_H

#include <stddef.h>

#include "printer.h"
#include "request.h"

/*
 * protoc-c's ToCamel: drops each '_' and upper-cases the character after
 * it and the first one ("foo_bar" -> "FooBar", "HTTPRequest" unchanged).
 */
void crpc__naming_camel(crpc__printer *out, const char *s, size_t n);

/*
 * protoc-c's CamelToLower: lower-cases each capital and puts '_' before
 * it unless the character before it was a capital ("SayHello" ->
 * "say_hello", "HTTPRequest" -> "httprequest", "getURL" -> "get_url").
 */
void crpc__naming_lower(crpc__printer *out, const char *s, size_t n);

/*
 * Appends the pieces of the dotted name |full| ("pkg.Outer.Inner"), each
 * through crpc__naming_camel() (|lower| 0) or crpc__naming_lower() (1),
 * joined with "__" (protoc-c's FullNameToC and FullNameToLower); empty
 * pieces are skipped.
 */
void crpc__naming_full(crpc__printer *out, const char *full, int lower);

/*
 * The name protoc-c gives the message type |full| ("pkg.Outer.Inner") of a
 * file whose package is |package| and whose c_package is |c_package| (NULL
 * when unset): the C type with |lower| 0, the descriptor symbol's prefix
 * (without "__descriptor") with |lower| 1. NULL when out of memory; the
 * caller frees it.
 */
char *crpc__naming_message(const char *full, const char *package,
                           const char *c_package, int lower);

/*
 * crpc's prefix of the service |service| in |package| ("" for none):
 * each package part and the service name through crpc__naming_lower(),
 * joined with '_'. NULL when out of memory; the caller frees it.
 */
char *crpc__naming_prefix(const char *package, const char *service);

/* Nonzero when |s| cannot name a struct member in C11 or C++ (keywords,
 * alternative tokens, and macros of the standard headers such as errno). */
int crpc__naming_is_reserved(const char *s);

/* Nonzero when |s| is a C identifier ([A-Za-z_][A-Za-z0-9_]*); with
 * |dotted|, a dot-separated sequence of them. */
int crpc__naming_is_identifier(const char *s, int dotted);

typedef enum crpc__kind {
  CRPC__KIND_UNARY = 0,
  CRPC__KIND_SERVER_STREAMING = 1,
  CRPC__KIND_CLIENT_STREAMING = 2,
  CRPC__KIND_BIDI_STREAMING = 3
} crpc__kind;

typedef struct crpc__method_names {
  const crpc__pb_method *pb;
  crpc__kind kind;
  int coroutine;    /* runs on the loop */
  const char *name; /* as in the .proto: "SayHello" */
  char *fn;         /* "demo_greeter_say_hello" */
  char *field;      /* handler table member: "say_hello", "default_" */
  char *macro;      /* "DEMO_GREETER_SAY_HELLO" */
  char *in_type;    /* "Demo__HelloRequest" */
  char *out_type;
  char *in_desc; /* "demo__hello_request__descriptor" */
  char *out_desc;
  char *in_proto; /* for comments: "HelloRequest" in the same package,
                     else "google.protobuf.Empty" */
  char *out_proto;
  const char *comment; /* leading comment, or NULL */
} crpc__method_names;

typedef struct crpc__service_names {
  const crpc__pb_service *pb;
  char *full_name; /* "demo.Greeter" */
  char *prefix;    /* "demo_greeter" */
  char *macro;     /* "DEMO_GREETER" */
  const char *comment;
  size_t n_methods;
  crpc__method_names *methods;
} crpc__service_names;

/* The names of one .proto file's generated code. */
typedef struct crpc__file_names {
  const crpc__request *request; /* the request |pb| is one of the files of */
  const crpc__pb_file *pb;
  char *file_desc;     /* its crpc_file_desc: "crpc_file_x_dproto" */
  char *base;          /* "a/b/x" for "a/b/x.proto" */
  char *guard;         /* include guard of the header */
  const char *package; /* "demo", or "" */
  size_t n_services;
  crpc__service_names *services;
  char **owned; /* every string above, freed by the cleanup */
  size_t n_owned;
  size_t cap_owned;
} crpc__file_names;

/*
 * Names everything generated for |f| (one of |r|'s files). Returns 0, or
 * -1 with |*err| set to a malloc'd message naming the .proto elements at
 * fault (an unknown or invalid name, or two elements that would generate
 * the same C identifier), or -2 when out of memory. Either way |out| must
 * be cleaned up.
 */
int crpc__file_names_build(const crpc__request *r, const crpc__pb_file *f,
                           crpc__file_names *out, char **err);

void crpc__file_names_cleanup(crpc__file_names *n);

#endif /* CRPC_CODEGEN_NAMING_H */
