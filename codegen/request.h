/*
 * codegen/request.h: the CodeGeneratorRequest protoc sends a plugin,
 * decoded and indexed: message types by full name, comments from
 * SourceCodeInfo, and the options protobuf-c keeps as unknown fields
 * (crpc's placement options, protobuf-c's own c_package).
 *
 * Everything here is read-only once decoded; pointers into the request
 * stay valid until crpc__request_free().
 */
#ifndef CRPC_CODEGEN_REQUEST_H
#define CRPC_CODEGEN_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "google/protobuf/compiler/plugin.pb-c.h"
#include "google/protobuf/descriptor.pb-c.h"

typedef Google__Protobuf__Compiler__CodeGeneratorRequest crpc__pb_request;
typedef Google__Protobuf__FileDescriptorProto crpc__pb_file;
typedef Google__Protobuf__DescriptorProto crpc__pb_message;
typedef Google__Protobuf__ServiceDescriptorProto crpc__pb_service;
typedef Google__Protobuf__MethodDescriptorProto crpc__pb_method;

/* Extension numbers of the options read from unknown fields. */
#define CRPC__OPT_COROUTINE 51501         /* MethodOptions, crpc.coroutine */
#define CRPC__OPT_DEFAULT_COROUTINE 51502 /* ServiceOptions */
#define CRPC__OPT_PB_C_FILE 1019          /* FileOptions, (pb_c_file) */
#define CRPC__OPT_PB_C_PACKAGE 6          /* ProtobufCFileOptions.c_package */

/* A message type of some file of the request. */
typedef struct crpc__message_ref {
  char *full_name; /* "pkg.Outer.Inner", no leading dot */
  const crpc__pb_file *file;
  const crpc__pb_message *msg;
} crpc__message_ref;

typedef struct crpc__request {
  crpc__pb_request *pb;
  crpc__message_ref *msgs; /* sorted by full_name */
  size_t n_msgs;
  size_t cap_msgs;
} crpc__request;

/*
 * Decodes |len| bytes of a serialized CodeGeneratorRequest and indexes its
 * message types. Returns 0 and sets |*out| (free with
 * crpc__request_free()), -1 when the bytes are not a CodeGeneratorRequest,
 * or -2 when out of memory; then |*out| is untouched.
 */
int crpc__request_decode(const uint8_t *data, size_t len, crpc__request **out);

/* Frees |r| and everything it decoded. NULL is a no-op. */
void crpc__request_free(crpc__request *r);

/* The file named |name| ("a/b/x.proto") among the request's files, or
 * NULL. */
const crpc__pb_file *crpc__request_file(const crpc__request *r,
                                        const char *name);

/* The message type named |type_name| as a method refers to it
 * (".pkg.Outer.Inner"; the leading dot is optional), or NULL. */
const crpc__message_ref *crpc__request_message(const crpc__request *r,
                                               const char *type_name);

/* The leading comment of service |s| of |f|, or of its method |m| when
 * |m| >= 0; NULL when there is none or |f| has no source info. Borrowed
 * from the request. */
const char *crpc__request_comment(const crpc__pb_file *f, size_t s, int m);

/* Nonzero when method |m| of service |s| runs on the loop: its
 * (crpc.coroutine) if set, else its service's (crpc.default_coroutine),
 * else 0 (workers). */
int crpc__request_coroutine(const crpc__pb_service *s,
                            const crpc__pb_method *m);

/*
 * The (pb_c_file).c_package option of |f|: sets |*out| to a malloc'd copy
 * (the caller frees it) and returns 1 when it is set, 0 when not (|*out|
 * NULL), -1 when out of memory.
 */
int crpc__request_c_package(const crpc__pb_file *f, char **out);

/* The first field of a message type of |f| (nested ones included) that is
 * a proto2 group, and the full name of its message in |*msg_name|
 * (malloc'd, the caller frees it); NULL when there is none or out of
 * memory (then |*msg_name| is NULL too, and |*oom| is set). */
const Google__Protobuf__FieldDescriptorProto *
crpc__request_find_group(const crpc__pb_file *f, char **msg_name, int *oom);

#endif /* CRPC_CODEGEN_REQUEST_H */
