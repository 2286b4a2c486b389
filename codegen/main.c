/*
 * codegen/main.c: protoc-gen-crpc, the protoc plugin that writes crpc's
 * stubs beside protoc-c's messages:
 *
 *   protoc -I. -I<crpc>/proto --c_out=gen --crpc_out=gen greeter.proto
 *
 * protoc runs it with a CodeGeneratorRequest on stdin and reads a
 * CodeGeneratorResponse from stdout. Problems in the .proto files go into
 * the response's error (protoc prints it and fails); input that is not a
 * request at all gets a line on stderr and exit status 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit.h"
#include "naming.h"
#include "printer.h"
#include "request.h"

typedef Google__Protobuf__Compiler__CodeGeneratorResponse response;
typedef Google__Protobuf__Compiler__CodeGeneratorResponse__File response_file;

#define MAX_REQUEST ((size_t)1 << 30) /* bytes of request */
#define MAX_OUTPUT ((size_t)1 << 28)  /* bytes of one generated file */

/* Reads all of |f|. Returns 0, or -1 on a read error, too much input or no
 * memory. */
static int read_all(FILE *f, uint8_t **data, size_t *len) {
  size_t cap = 1 << 16, n = 0, got;
  uint8_t *buf = malloc(cap), *bigger;

  while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n < cap)
      continue;
    bigger = cap < MAX_REQUEST ? realloc(buf, cap * 2) : NULL;
    if (!bigger)
      goto fail;
    buf = bigger;
    cap *= 2;
  }
  if (!buf || ferror(f))
    goto fail;
  *data = buf;
  *len = n;
  return 0;

fail:
  free(buf);
  return -1;
}

/* protoc-gen-crpc takes no options: an empty parameter is the only valid
 * one. Returns 0, -1 with |*err| set, or -2 when out of memory. */
static int check_parameter(const char *param, char **err) {
  const char *s = param ? param : "", *comma;

  for (; *s; s = *comma ? comma + 1 : comma) {
    comma = strchr(s, ',');
    if (!comma)
      comma = s + strlen(s);
    if (comma > s) {
      *err = crpc__printer_format("protoc-gen-crpc: unknown parameter '%.*s'",
                                  (int)(comma - s), s);
      return *err ? -1 : -2;
    }
  }
  return 0;
}

/* Adds the file |name| with |text| (taken over) to |resp|. */
static int add_file(response *resp, char *name, crpc__printer *text) {
  response_file *f = malloc(sizeof(*f)), **files;

  files = realloc(resp->file, (resp->n_file + 1) * sizeof(*files));
  if (!f || !files || !name || text->failed) {
    free(f);
    free(name);
    if (files)
      resp->file = files;
    return -2;
  }
  google__protobuf__compiler__code_generator_response__file__init(f);
  f->name = name;
  f->content = text->data ? text->data : calloc(1, 1);
  text->data = NULL;
  resp->file = files;
  resp->file[resp->n_file++] = f;
  return f->content ? 0 : -2;
}

/* Fails on proto2 groups, which protoc-c does not support (it crashes). */
static int check_groups(const crpc__pb_file *f, char **err) {
  char *msg = NULL;
  int oom;
  const Google__Protobuf__FieldDescriptorProto *g =
      crpc__request_find_group(f, &msg, &oom);

  if (oom)
    return -2;
  if (!g)
    return 0;
  *err = crpc__printer_format("%s: field '%s' in message '%s' is a group; "
                              "protobuf-c and crpc do not support groups",
                              f->name, g->name ? g->name : "", msg);
  free(msg);
  return *err ? -1 : -2;
}

/* Emits the .crpc.h or (|source|) .crpc.c of |n| into |resp|. */
static int emit(response *resp, const crpc__file_names *n, int source) {
  crpc__printer out;
  int rc;

  crpc__printer_init(&out, MAX_OUTPUT);
  rc = source ? crpc__emit_source(n, &out) : crpc__emit_header(n, &out);
  if (rc == 0)
    rc = add_file(
        resp, crpc__printer_format("%s.crpc.%c", n->base, source ? 'c' : 'h'),
        &out);
  crpc__printer_cleanup(&out);
  return rc == 0 ? 0 : -2;
}

/* Generates the outputs of the file |name|. Returns 0, -1 with |*err| set
 * for a problem in the .proto, or -2 when out of memory. */
static int generate(const crpc__request *r, const char *name, response *resp,
                    char **err) {
  const crpc__pb_file *f = crpc__request_file(r, name);
  crpc__file_names n;
  int rc;

  if (!f) {
    *err = crpc__printer_format("%s: not among the request's files", name);
    return *err ? -1 : -2;
  }
  rc = check_groups(f, err);
  if (rc != 0 || f->n_service == 0)
    return rc; /* files without services produce nothing */
  rc = crpc__file_names_build(r, f, &n, err);
  if (rc == 0)
    rc = emit(resp, &n, 0);
  if (rc == 0)
    rc = emit(resp, &n, 1);
  crpc__file_names_cleanup(&n);
  return rc;
}

/* Fills |resp| for the request |r|. Returns 0 or -2 (out of memory). */
static int respond(const crpc__request *r, response *resp) {
  char *err = NULL;
  size_t i;
  int rc = check_parameter(r->pb->parameter, &err);

  for (i = 0; i < r->pb->n_file_to_generate && rc == 0; i++)
    rc = generate(r, r->pb->file_to_generate[i], resp, &err);
  if (rc == -1 && strncmp(err, "protoc-gen-crpc: ", 17) != 0) {
    char *e = crpc__printer_format("protoc-gen-crpc: %s", err);
    free(err);
    err = e;
  }
  if (rc == -1)
    rc = err ? 0 : -2;
  resp->error = err; /* with an error, protoc ignores the files */
  resp->has_supported_features = 1;
  resp->supported_features =
      GOOGLE__PROTOBUF__COMPILER__CODE_GENERATOR_RESPONSE__FEATURE__FEATURE_PROTO3_OPTIONAL;
  return rc;
}

static int write_response(const response *resp) {
  size_t len =
      google__protobuf__compiler__code_generator_response__get_packed_size(
          resp);
  uint8_t *buf = malloc(len ? len : 1);
  int rc = -1;

  if (buf) {
    google__protobuf__compiler__code_generator_response__pack(resp, buf);
    if (fwrite(buf, 1, len, stdout) == len && fflush(stdout) == 0)
      rc = 0;
  }
  free(buf);
  return rc;
}

static void free_response(response *resp) {
  size_t i;
  for (i = 0; i < resp->n_file; i++) {
    free(resp->file[i]->name);
    free(resp->file[i]->content);
    free(resp->file[i]);
  }
  free(resp->file);
  free(resp->error);
}

int main(void) {
  response resp = GOOGLE__PROTOBUF__COMPILER__CODE_GENERATOR_RESPONSE__INIT;
  crpc__request *r = NULL;
  uint8_t *data = NULL;
  size_t len = 0;
  const char *fail = NULL;
  int rc;

  if (read_all(stdin, &data, &len) != 0) {
    fail = "cannot read the CodeGeneratorRequest from stdin";
  } else if ((rc = crpc__request_decode(data, len, &r)) != 0) {
    fail = rc == -1 ? "stdin is not a CodeGeneratorRequest" : "out of memory";
  } else if (respond(r, &resp) != 0) {
    fail = "out of memory";
  } else if (write_response(&resp) != 0) {
    fail = "cannot write the CodeGeneratorResponse to stdout";
  }
  if (fail)
    fprintf(stderr, "protoc-gen-crpc: %s\n", fail);
  free_response(&resp);
  crpc__request_free(r);
  free(data);
  return fail ? 1 : 0;
}
