/*
 * server/reflection.c: gRPC server reflection (grpc.reflection.v1 and
 * grpc.reflection.v1alpha ServerReflection), which
 * crpc_server_enable_reflection() adds to a server.
 *
 * It answers from the tables protoc-gen-crpc generates: each service's
 * crpc_service_desc names its .proto file (crpc_file_desc), whose
 * serialized FileDescriptorProto, imports, symbols and extensions are all
 * reflection needs; nothing is parsed at run time. The two versions have
 * the same messages, field for field, so both methods decode and encode
 * with v1's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crpc/ctx.h"
#include "crpc/error.h"
#include "file_descs.h"
#include "grpc/reflection/v1/reflection.pb-c.h"
#include "server_internal.h"

typedef Grpc__Reflection__V1__ServerReflectionRequest refl_req;
typedef Grpc__Reflection__V1__ServerReflectionResponse refl_rep;

/* The files of a server's services and everything they import, each once,
 * and which of them this stream has sent. */
typedef struct file_set {
  const crpc_file_desc **v;
  unsigned char *sent;
  size_t n, cap;
} file_set;

static int set_find(const file_set *s, const char *name) {
  for (size_t i = 0; i < s->n; i++)
    if (strcmp(s->v[i]->name, name) == 0)
      return (int)i;
  return -1;
}

/* Adds |f| and its imports, depth first. Returns 0 or CRPC_ENOMEM. */
static int set_add(file_set *s, const crpc_file_desc *f) {
  if (!f || set_find(s, f->name) >= 0)
    return 0;
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 32;
    const crpc_file_desc **v = realloc(s->v, cap * sizeof(*v));
    if (!v)
      return CRPC_ENOMEM;
    s->v = v;
    unsigned char *sent = realloc(s->sent, cap);
    if (!sent)
      return CRPC_ENOMEM;
    s->sent = sent;
    s->cap = cap;
  }
  s->sent[s->n] = 0;
  s->v[s->n++] = f;
  for (size_t i = 0; i < f->n_deps; i++)
    if (set_add(s, f->deps[i]) != 0)
      return CRPC_ENOMEM;
  return 0;
}

static void set_free(file_set *s) {
  free(s->v);
  free(s->sent);
}

static int set_of_server(file_set *s, const crpc_server *srv) {
  for (const crpc_service *svc = srv->services; svc; svc = svc->next)
    if (set_add(s, svc->desc->file) != 0)
      return CRPC_ENOMEM;
  return 0;
}

/* The file defining the full name |sym| (a leading dot allowed), or -1. */
static int find_symbol(const file_set *s, const char *sym) {
  if (sym[0] == '.')
    sym++;
  for (size_t i = 0; i < s->n; i++)
    for (size_t j = 0; j < s->v[i]->n_symbols; j++)
      if (strcmp(s->v[i]->symbols[j], sym) == 0)
        return (int)i;
  return -1;
}

static int find_extension(const file_set *s, const char *type, int32_t num) {
  if (type[0] == '.')
    type++;
  for (size_t i = 0; i < s->n; i++)
    for (size_t j = 0; j < s->v[i]->n_extensions; j++)
      if (s->v[i]->extensions[j].number == num &&
          strcmp(s->v[i]->extensions[j].extendee, type) == 0)
        return (int)i;
  return -1;
}

/* One answer being built: what it points to is static, the request's, or
 * in |mem| (freed once it is written: a stream may ask many questions). */
typedef struct answer {
  void *mem[3];
  size_t n_mem;
  refl_rep rep;
  Grpc__Reflection__V1__FileDescriptorResponse files;
  Grpc__Reflection__V1__ExtensionNumberResponse numbers;
  Grpc__Reflection__V1__ListServiceResponse services;
  Grpc__Reflection__V1__ErrorResponse error;
} answer;

/* |n| bytes that live as long as |a|, or NULL. */
static void *answer_alloc(answer *a, size_t n) {
  void *p = a->n_mem < 3 ? malloc(n ? n : 1) : NULL;
  if (p)
    a->mem[a->n_mem++] = p;
  return p;
}

static void answer_free(answer *a) {
  for (size_t i = 0; i < a->n_mem; i++)
    free(a->mem[i]);
}

/* The longest part of a request quoted in an error message. */
#define QUOTE_MAX 200

static crpc_status set_error(answer *a, crpc_status code, const char *fmt,
                             const char *what) {
  char quoted[QUOTE_MAX + 4];
  snprintf(quoted, sizeof(quoted), "%.*s%s", QUOTE_MAX, what,
           strlen(what) > QUOTE_MAX ? "..." : "");
  size_t len = strlen(fmt) + strlen(quoted) + 1;
  char *msg = answer_alloc(a, len);
  if (!msg)
    return CRPC_STATUS_RESOURCE_EXHAUSTED;
  snprintf(msg, len, fmt, quoted);
  a->error.error_code = (int32_t)code;
  a->error.error_message = msg;
  a->rep.message_response_case =
      GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ERROR_RESPONSE;
  a->rep.error_response = &a->error;
  return CRPC_STATUS_OK;
}

/* File |i| of |s|, then those it imports, breadth first, that this stream
 * has not sent yet (the file asked for is always sent). */
static crpc_status answer_file(answer *a, file_set *s, int i) {
  size_t cap = s->n, n = 0, head = 0;
  ProtobufCBinaryData *out = answer_alloc(a, cap * sizeof(*out));
  int *queue = answer_alloc(a, cap * sizeof(*queue));
  unsigned char *seen = answer_alloc(a, cap);
  if (!out || !queue || !seen)
    return CRPC_STATUS_RESOURCE_EXHAUSTED;
  memset(seen, 0, cap);
  size_t tail = 0;
  queue[tail++] = i;
  seen[i] = 1;
  while (head < tail) {
    int k = queue[head++];
    const crpc_file_desc *f = s->v[k];
    if (n == 0 || !s->sent[k]) {
      s->sent[k] = 1;
      out[n].data = (uint8_t *)f->data;
      out[n].len = f->len;
      n++;
    }
    for (size_t d = 0; d < f->n_deps; d++) {
      int j = f->deps[d] ? set_find(s, f->deps[d]->name) : -1;
      if (j >= 0 && !seen[j]) {
        seen[j] = 1;
        queue[tail++] = j;
      }
    }
  }
  a->files.n_file_descriptor_proto = n;
  a->files.file_descriptor_proto = out;
  a->rep.message_response_case =
      GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_FILE_DESCRIPTOR_RESPONSE;
  a->rep.file_descriptor_response = &a->files;
  return CRPC_STATUS_OK;
}

static crpc_status answer_services(answer *a, const crpc_server *srv) {
  size_t n = 0;
  for (const crpc_service *svc = srv->services; svc; svc = svc->next)
    n++;
  Grpc__Reflection__V1__ServiceResponse **v = answer_alloc(a, n * sizeof(*v));
  Grpc__Reflection__V1__ServiceResponse *items =
      answer_alloc(a, n * sizeof(*items));
  if (!v || !items)
    return CRPC_STATUS_RESOURCE_EXHAUSTED;
  size_t i = 0;
  for (const crpc_service *svc = srv->services; svc; svc = svc->next, i++) {
    grpc__reflection__v1__service_response__init(&items[i]);
    items[i].name = (char *)svc->desc->name;
    v[i] = &items[i];
  }
  a->services.n_service = n;
  a->services.service = v;
  a->rep.message_response_case =
      GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_LIST_SERVICES_RESPONSE;
  a->rep.list_services_response = &a->services;
  return CRPC_STATUS_OK;
}

static crpc_status answer_numbers(answer *a, const file_set *s,
                                  const char *type) {
  const char *name = type[0] == '.' ? type + 1 : type;
  if (find_symbol(s, name) < 0)
    return set_error(a, CRPC_STATUS_NOT_FOUND, "type not found: %s", type);
  size_t n = 0;
  for (size_t i = 0; i < s->n; i++)
    for (size_t j = 0; j < s->v[i]->n_extensions; j++)
      n += strcmp(s->v[i]->extensions[j].extendee, name) == 0;
  int32_t *nums = answer_alloc(a, n * sizeof(*nums));
  if (!nums)
    return CRPC_STATUS_RESOURCE_EXHAUSTED;
  n = 0;
  for (size_t i = 0; i < s->n; i++)
    for (size_t j = 0; j < s->v[i]->n_extensions; j++)
      if (strcmp(s->v[i]->extensions[j].extendee, name) == 0)
        nums[n++] = s->v[i]->extensions[j].number;
  a->numbers.base_type_name = (char *)name;
  a->numbers.n_extension_number = n;
  a->numbers.extension_number = nums;
  a->rep.message_response_case =
      GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ALL_EXTENSION_NUMBERS_RESPONSE;
  a->rep.all_extension_numbers_response = &a->numbers;
  return CRPC_STATUS_OK;
}

/* Fills |a| with the answer to |req|. Returns OK, or the status that ends
 * the stream (out of memory). */
static crpc_status answer_request(answer *a, file_set *s,
                                  const crpc_server *srv, const refl_req *req) {
  int i;
  switch (req->message_request_case) {
  case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_BY_FILENAME:
    i = set_find(s, req->file_by_filename);
    if (i < 0)
      return set_error(a, CRPC_STATUS_NOT_FOUND, "file not found: %s",
                       req->file_by_filename);
    return answer_file(a, s, i);
  case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_SYMBOL:
    i = find_symbol(s, req->file_containing_symbol);
    if (i < 0)
      return set_error(a, CRPC_STATUS_NOT_FOUND, "symbol not found: %s",
                       req->file_containing_symbol);
    return answer_file(a, s, i);
  case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_EXTENSION: {
    const Grpc__Reflection__V1__ExtensionRequest *e =
        req->file_containing_extension;
    const char *type = e && e->containing_type ? e->containing_type : "";
    i = e ? find_extension(s, type, e->extension_number) : -1;
    if (i < 0)
      return set_error(a, CRPC_STATUS_NOT_FOUND, "extension not found: %s",
                       type);
    return answer_file(a, s, i);
  }
  case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_ALL_EXTENSION_NUMBERS_OF_TYPE:
    return answer_numbers(a, s, req->all_extension_numbers_of_type);
  case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_LIST_SERVICES:
    return answer_services(a, srv);
  default:
    return set_error(a, CRPC_STATUS_INVALID_ARGUMENT, "%s",
                     "the request asks for nothing this server knows");
  }
}

static crpc_status reflection_info(crpc_ctx *ctx, crpc_server_stream *stream) {
  const crpc_server *srv = crpc_ctx_user_data(ctx);
  file_set files = {0};
  crpc_status st = CRPC_STATUS_OK;

  if (set_of_server(&files, srv) != 0)
    st = CRPC_STATUS_RESOURCE_EXHAUSTED;
  while (st == CRPC_STATUS_OK) {
    ProtobufCMessage *m = NULL;
    st = crpc_server_stream_read(stream, &m);
    if (st != CRPC_STATUS_OK || !m)
      break;
    const refl_req *req = (const refl_req *)m;
    answer a = {.n_mem = 0};
    grpc__reflection__v1__server_reflection_response__init(&a.rep);
    grpc__reflection__v1__file_descriptor_response__init(&a.files);
    grpc__reflection__v1__extension_number_response__init(&a.numbers);
    grpc__reflection__v1__list_service_response__init(&a.services);
    grpc__reflection__v1__error_response__init(&a.error);
    a.rep.valid_host = req->host;
    a.rep.original_request = (refl_req *)req;
    st = answer_request(&a, &files, srv, req);
    if (st == CRPC_STATUS_OK)
      st = crpc_server_stream_write(stream, &a.rep.base);
    answer_free(&a);
  }
  set_free(&files);
  return st;
}

typedef struct reflection_handlers {
  crpc_status (*info)(crpc_ctx *ctx, crpc_server_stream *stream);
} reflection_handlers;

static crpc_status info_invoke(const void *handlers, crpc_ctx *ctx,
                               const ProtobufCMessage *request,
                               ProtobufCMessage *reply,
                               crpc_server_stream *stream) {
  (void)request;
  (void)reply;
  return ((const reflection_handlers *)handlers)->info(ctx, stream);
}

#define REFLECTION_METHOD(pkg)                                                 \
  {                                                                            \
    .name = "ServerReflectionInfo",                                            \
    .path = "/" pkg ".ServerReflection/ServerReflectionInfo",                  \
    .kind = CRPC_METHOD_BIDI_STREAMING, .placement = CRPC_PLACEMENT_LOOP,      \
    .input = &grpc__reflection__v1__server_reflection_request__descriptor,     \
    .output = &grpc__reflection__v1__server_reflection_response__descriptor,   \
    .handler_offset = offsetof(reflection_handlers, info),                     \
    .invoke = info_invoke,                                                     \
  }

static const crpc_method v1_methods[1] = {
    REFLECTION_METHOD("grpc.reflection.v1")};
static const crpc_method v1alpha_methods[1] = {
    REFLECTION_METHOD("grpc.reflection.v1alpha")};

const crpc_service_desc crpc__reflection_v1_desc = {
    .name = "grpc.reflection.v1.ServerReflection",
    .package = "grpc.reflection.v1",
    .n_methods = 1,
    .methods = v1_methods,
    .handlers_size = sizeof(reflection_handlers),
    .file = &crpc_file_grpc__reflection__v1__reflection_dproto,
};

const crpc_service_desc crpc__reflection_v1alpha_desc = {
    .name = "grpc.reflection.v1alpha.ServerReflection",
    .package = "grpc.reflection.v1alpha",
    .n_methods = 1,
    .methods = v1alpha_methods,
    .handlers_size = sizeof(reflection_handlers),
    .file = &crpc_file_grpc__reflection__v1alpha__reflection_dproto,
};

static const reflection_handlers handlers = {.info = reflection_info};

int crpc_server_enable_reflection(crpc_server *srv) {
  if (srv->started)
    return CRPC_ESTATE;
  if (srv->reflection_on)
    return 0;
  const crpc_service_desc *descs[2] = {&crpc__reflection_v1_desc,
                                       &crpc__reflection_v1alpha_desc};
  for (int i = 0; i < 2; i++) {
    crpc_service *svc = NULL;
    int rc = crpc_service_new(descs[i], &handlers, srv, &svc);
    if (rc != 0)
      return rc;
    svc->builtin = 1;
    if ((rc = crpc_server_add_service(srv, svc)) != 0)
      return rc;
  }
  srv->reflection_on = 1;
  return 0;
}
