/*
 * codegen/emit_source.c: <path>.crpc.c, the file's descriptor for
 * reflection (file_desc.c), the method tables, service descriptors and
 * constructors, the invokers that call typed handlers, and
 * the client and server stubs over crpc/call.h and crpc/ctx.h.
 *
 * Messages cross the untyped API as ProtobufCMessage pointers (each
 * protoc-c message starts with one); stubs receive them in a local
 * ProtobufCMessage * and cast that, never a T ** to a ProtobufCMessage **.
 * Typed handles (readers, writers, streams) are the untyped crpc_call and
 * crpc_server_stream under other names, converted only here.
 */
#include "emit.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "file_desc.h"

#define DECL(...) crpc__printer_line(out, CRPC__LINE_DECL, 0, __VA_ARGS__)
#define STMT(...) crpc__printer_line(out, CRPC__LINE_CALL, 2, __VA_ARGS__)
#define LET(...) crpc__printer_line(out, CRPC__LINE_ASSIGN, 2, __VA_ARGS__)
#define TEXT(...) crpc__printer_printf(out, __VA_ARGS__)

static const char *const kind_enums[4] = {
    "CRPC_METHOD_UNARY", "CRPC_METHOD_SERVER_STREAMING",
    "CRPC_METHOD_CLIENT_STREAMING", "CRPC_METHOD_BIDI_STREAMING"};

/* The rest of a stub that gets a message from |call| (which fills the
 * local |m|) and hands it out through |*name| as a |type|. */
static void typed_result(crpc__printer *out, const char *name, const char *type,
                         const char *call) {
  TEXT("  ProtobufCMessage *m = NULL;\n");
  LET("crpc_status st = %s;", call);
  TEXT("\n");
  LET("*%s = (%s *)m;", name, type);
  TEXT("  return st;\n}\n\n");
}

/* The invoker: the handler table's member for |m|, called with typed
 * arguments. */
static void invoker(crpc__printer *out, const crpc__service_names *s,
                    const crpc__method_names *m) {
  static const char *const stream_type[4] = {NULL, "sender", "receiver",
                                             "server_stream"};
  int kind = m->kind, has_req = !(kind & CRPC__KIND_CLIENT_STREAMING),
      has_reply = !(kind & CRPC__KIND_SERVER_STREAMING);

  crpc__printer_line(out, CRPC__LINE_DECL, 0,
                     "static crpc_status %s_invoke_(const void *handlers, "
                     "crpc_ctx *ctx, const ProtobufCMessage *request, "
                     "ProtobufCMessage *reply, crpc_server_stream *stream) {",
                     m->fn);
  LET("const %s_handlers *h = handlers;", s->prefix);
  if (has_req)
    LET("const %s *req = (const %s *)request;", m->in_type, m->in_type);
  if (has_reply)
    LET("%s *rep = (%s *)reply;", m->out_type, m->out_type);
  if (stream_type[kind])
    LET("%s_%s *st = (%s_%s *)stream;", m->fn, stream_type[kind], m->fn,
        stream_type[kind]);
  TEXT("\n%s%s%s", has_req ? "" : "  (void)request;\n",
       has_reply ? "" : "  (void)reply;\n",
       stream_type[kind] ? "" : "  (void)stream;\n");
  STMT("return h->%s(ctx%s%s%s);", m->field, has_req ? ", req" : "",
       stream_type[kind] ? ", st" : "", has_reply ? ", rep" : "");
  TEXT("}\n\n");
}

/* Appends the literal |s| (|n| bytes, without quotes) from column |col|
 * (to |out| unless NULL), split as clang-format splits a literal that
 * does not fit: after the last space, else '/', else other punctuation
 * that fits, else at the limit; the pieces line up under the first, and
 * "," follows the last. Returns the number of splits. */
int crpc__emit_split_string(crpc__printer *out, int limit, const char *s, int n,
                            int col) {
  int splits = 0;

  for (;;) {
    int budget = limit - col - 2, i, space = 0, slash = 0, word = 0, cut;
    if (col + n + 3 <= limit || budget <= 0)
      break;
    for (i = 0; i < n - 1 && i < budget; i++) {
      space = s[i] == ' ' ? i : space;
      slash = s[i] == '/' ? i : slash;
      word = isalnum((unsigned char)s[i]) ? word : i;
    }
    cut = space ? space + 1 : slash ? slash + 1 : word ? word + 1 : i;
    if (cut <= 0 || cut >= n)
      break;
    if (out)
      TEXT("\"%.*s\"\n%*s", cut, s, col, "");
    s += cut;
    n -= cut;
    splits++;
  }
  if (out)
    TEXT("\"%.*s\",\n", n, s);
  return splits;
}

/* ".field = \"value\",": on one line, after a break after "=", or split
 * where that takes fewer pieces (in place on ties), as clang-format does. */
void crpc__emit_string_member(crpc__printer *out, int in, const char *field,
                              const char *value) {
  int n = (int)strlen(value), f = (int)strlen(field);
  int col1 = in + f + 4, col2 = in + 4, eq_break;

  if (col1 + n + 3 <= out->limit) {
    TEXT("%*s.%s = \"%s\",\n", in, "", field, value);
    return;
  }
  eq_break = col2 + n + 3 <= out->limit ||
             crpc__emit_split_string(NULL, out->limit, value, n, col2) <
                 crpc__emit_split_string(NULL, out->limit, value, n, col1);
  TEXT("%*s.%s =%s%*s", in, "", field, eq_break ? "\n" : " ",
       eq_break ? col2 : 0, "");
  crpc__emit_split_string(out, out->limit, value, n, eq_break ? col2 : col1);
}

static void method_entry(crpc__printer *out, int in,
                         const crpc__service_names *s,
                         const crpc__method_names *m) {
  char *path;

  TEXT("%*s{\n", in, "");
  in += 4;
  path = crpc__printer_format("/%s/%s", s->full_name, m->name);
  if (!path) {
    out->failed = 1;
    return;
  }
  crpc__emit_string_member(out, in, "name", m->name);
  crpc__emit_string_member(out, in, "path", path);
  free(path);
  TEXT("%*s.kind = %s,\n%*s.placement = %s,\n", in, "", kind_enums[m->kind], in,
       "", m->coroutine ? "CRPC_PLACEMENT_LOOP" : "CRPC_PLACEMENT_WORKER");
  crpc__printer_line(out, CRPC__LINE_ASSIGN, in, ".input = &%s,", m->in_desc);
  crpc__printer_line(out, CRPC__LINE_ASSIGN, in, ".output = &%s,", m->out_desc);
  crpc__printer_line(out, CRPC__LINE_ASSIGN, in,
                     ".handler_offset = offsetof(%s_handlers, %s),", s->prefix,
                     m->field);
  crpc__printer_line(out, CRPC__LINE_ASSIGN, in, ".invoke = %s_invoke_,",
                     m->fn);
  TEXT("%*s},\n", in - 4, "");
}

static void methods_body(crpc__printer *out, int in, const void *arg) {
  const crpc__service_names *s = arg;
  size_t i;

  for (i = 0; i < s->n_methods; i++)
    method_entry(out, in, s, &s->methods[i]);
}

typedef struct desc_arg {
  const crpc__file_names *n;
  const crpc__service_names *s;
} desc_arg;

static void desc_body(crpc__printer *out, int in, const void *arg) {
  const crpc__service_names *s = ((const desc_arg *)arg)->s;

  crpc__emit_string_member(out, in, "name", s->full_name);
  crpc__emit_string_member(out, in, "package",
                           ((const desc_arg *)arg)->n->package);
  TEXT("%*s.n_methods = %zu,\n", in, "", s->n_methods);
  if (s->n_methods > 0)
    crpc__printer_line(out, CRPC__LINE_ASSIGN, in, ".methods = %s_methods,",
                       s->prefix);
  else
    TEXT("%*s.methods = NULL,\n", in, "");
  crpc__printer_line(out, CRPC__LINE_ASSIGN, in,
                     ".handlers_size = sizeof(%s_handlers),", s->prefix);
  crpc__printer_line(out, CRPC__LINE_ASSIGN, in, ".file = &%s,",
                     ((const desc_arg *)arg)->n->file_desc);
}

/* The method table and the service descriptor. */
static void tables(crpc__printer *out, const crpc__file_names *n,
                   const crpc__service_names *s) {
  desc_arg d;

  if (s->n_methods > 0) {
    crpc__printer_initializer(out, methods_body, s,
                              "const crpc_method %s_methods[%zu] = {",
                              s->prefix, s->n_methods);
    TEXT("\n");
  }
  d.n = n;
  d.s = s;
  crpc__printer_initializer(out, desc_body, &d,
                            "const crpc_service_desc %s_desc = {", s->prefix);
  TEXT("\n");
}

/* The head of a stub: "const crpc_method *md = P_M;" and the request as
 * a ProtobufCMessage. */
static void call_head(crpc__printer *out, const crpc__method_names *m,
                      int with_req) {
  LET("const crpc_method *md = %s;", m->macro);
  if (with_req)
    TEXT("  const ProtobufCMessage *in = (const ProtobufCMessage *)req;\n");
}

static void unary_client(crpc__printer *out, const crpc__method_names *m) {
  DECL("crpc_status %s(crpc_channel *ch, const %s *req, %s **reply, "
       "const crpc_call_opts *opts) {",
       m->fn, m->in_type, m->out_type);
  call_head(out, m, 1);
  TEXT("  ProtobufCMessage *m = NULL;\n"
       "  crpc_status st = crpc_call_unary(ch, md, in, &m, opts);\n\n");
  LET("*reply = (%s *)m;", m->out_type);
  TEXT("  return st;\n}\n\n");
  DECL("crpc_future *%s_async(crpc_channel *ch, const %s *req, "
       "const crpc_call_opts *opts) {",
       m->fn, m->in_type);
  call_head(out, m, 1);
  TEXT("\n  return crpc_call_unary_async(ch, md, in, opts);\n}\n\n");
  DECL("crpc_status %s_result(crpc_future *f, %s **reply) {", m->fn,
       m->out_type);
  typed_result(out, "reply", m->out_type, "crpc_call_result(f, &m)");
}

/* The stub that starts a streaming call and names its handle |var| of
 * type P_M_|handle|. */
static void start(crpc__printer *out, const crpc__method_names *m,
                  const char *handle, const char *var) {
  int with_req = m->kind == CRPC__KIND_SERVER_STREAMING;

  if (with_req)
    DECL("crpc_status %s(crpc_channel *ch, const %s *req, %s_%s **%s, "
         "const crpc_call_opts *opts) {",
         m->fn, m->in_type, m->fn, handle, var);
  else
    DECL("crpc_status %s(crpc_channel *ch, %s_%s **%s, "
         "const crpc_call_opts *opts) {",
         m->fn, m->fn, handle, var);
  call_head(out, m, with_req);
  TEXT("  crpc_call *call = NULL;\n");
  LET("crpc_status st = crpc_call_start(ch, md, %s, opts, &call);",
      with_req ? "in" : "NULL");
  TEXT("\n");
  LET("*%s = (%s_%s *)call;", var, m->fn, handle);
  TEXT("  return st;\n}\n\n");
}

/* _read, _read_async and _read_result on a P_M_|handle| named |v|. */
static void reads(crpc__printer *out, const crpc__method_names *m,
                  const char *handle, const char *v) {
  char *call = crpc__printer_format("crpc_call_read((crpc_call *)%s, &m)", v);

  DECL("crpc_status %s_read(%s_%s *%s, %s **msg) {", m->fn, m->fn, handle, v,
       m->out_type);
  if (call)
    typed_result(out, "msg", m->out_type, call);
  else
    out->failed = 1;
  free(call);
  DECL("crpc_future *%s_read_async(%s_%s *%s) {", m->fn, m->fn, handle, v);
  STMT("return crpc_call_read_async((crpc_call *)%s);", v);
  TEXT("}\n\n");
  DECL("crpc_status %s_read_result(crpc_future *f, %s **msg) {", m->fn,
       m->out_type);
  typed_result(out, "msg", m->out_type, "crpc_call_read_result(f, &m)");
}

/* _write and _write_async on a P_M_|handle| named |v|. */
static void writes(crpc__printer *out, const crpc__method_names *m,
                   const char *handle, const char *v) {
  static const char *const suffix[2] = {"", "_async"};
  static const char *const ret[2] = {"crpc_status ", "crpc_future *"};
  int i;

  for (i = 0; i < 2; i++) {
    DECL("%s%s_write%s(%s_%s *%s, const %s *msg) {", ret[i], m->fn, suffix[i],
         m->fn, handle, v, m->in_type);
    STMT("return crpc_call_write%s((crpc_call *)%s, "
         "(const ProtobufCMessage *)msg);",
         suffix[i], v);
    TEXT("}\n\n");
  }
}

/* A void or returning one-line stub: "RET P_M_name(P_M_handle *v)". */
static void simple(crpc__printer *out, const crpc__method_names *m,
                   const char *ret, const char *name, const char *handle,
                   const char *v, const char *call) {
  DECL("%s%s_%s(%s_%s *%s) {", ret, m->fn, name, m->fn, handle, v);
  STMT("%s%s((crpc_call *)%s%s);", strcmp(ret, "void ") ? "return " : "", call,
       v, strcmp(name, "finish") ? "" : ", NULL");
  TEXT("}\n\n");
}

/* _cancel and _free of a handle. */
static void ends(crpc__printer *out, const crpc__method_names *m,
                 const char *handle, const char *v) {
  simple(out, m, "void ", "cancel", handle, v, "crpc_call_cancel");
  simple(out, m, "void ", "free", handle, v, "crpc_call_free");
}

static void writer_finish(crpc__printer *out, const crpc__method_names *m) {
  DECL("crpc_status %s_finish(%s_writer *w, %s **reply) {", m->fn, m->fn,
       m->out_type);
  typed_result(out, "reply", m->out_type,
               "crpc_call_finish((crpc_call *)w, &m)");
  simple(out, m, "crpc_future *", "finish_async", "writer", "w",
         "crpc_call_finish_async");
  DECL("crpc_status %s_finish_result(crpc_future *f, %s **reply) {", m->fn,
       m->out_type);
  typed_result(out, "reply", m->out_type, "crpc_call_result(f, &m)");
}

static void client(crpc__printer *out, const crpc__method_names *m) {
  switch (m->kind) {
  case CRPC__KIND_UNARY:
    unary_client(out, m);
    return;
  case CRPC__KIND_SERVER_STREAMING:
    start(out, m, "reader", "reader");
    reads(out, m, "reader", "r");
    simple(out, m, "crpc_status ", "finish", "reader", "r", "crpc_call_finish");
    ends(out, m, "reader", "r");
    return;
  case CRPC__KIND_CLIENT_STREAMING:
    start(out, m, "writer", "writer");
    writes(out, m, "writer", "w");
    writer_finish(out, m);
    ends(out, m, "writer", "w");
    return;
  default:
    start(out, m, "stream", "stream");
    reads(out, m, "stream", "s");
    writes(out, m, "stream", "s");
    simple(out, m, "crpc_status ", "close_send", "stream", "s",
           "crpc_call_close_send");
    simple(out, m, "crpc_future *", "close_send_async", "stream", "s",
           "crpc_call_close_send_async");
    simple(out, m, "crpc_status ", "finish", "stream", "s", "crpc_call_finish");
    ends(out, m, "stream", "s");
  }
}

/* The typed calls on a handler's stream. */
static void server_stream(crpc__printer *out, const crpc__method_names *m) {
  static const char *const type[4] = {NULL, "sender", "receiver",
                                      "server_stream"};
  const char *t = type[m->kind];
  char v = m->kind == CRPC__KIND_CLIENT_STREAMING ? 'r' : 's';

  if (m->kind != CRPC__KIND_SERVER_STREAMING && t) {
    DECL("crpc_status %s_recv(%s_%s *%c, %s **msg) {", m->fn, m->fn, t, v,
         m->in_type);
    TEXT("  ProtobufCMessage *m = NULL;\n");
    LET("crpc_status st = crpc_server_stream_read((crpc_server_stream *)%c, "
        "&m);",
        v);
    TEXT("\n");
    LET("*msg = (%s *)m;", m->in_type);
    TEXT("  return st;\n}\n\n");
  }
  if (m->kind != CRPC__KIND_CLIENT_STREAMING && t) {
    DECL("crpc_status %s_send(%s_%s *s, const %s *msg) {", m->fn, m->fn, t,
         m->out_type);
    STMT("return crpc_server_stream_write((crpc_server_stream *)s, "
         "(const ProtobufCMessage *)msg);");
    TEXT("}\n\n");
  }
}

static void constructor(crpc__printer *out, const crpc__service_names *s) {
  DECL("crpc_service *%s_service(const %s_handlers *handlers, "
       "void *user_data) {",
       s->prefix, s->prefix);
  LET("const crpc_service_desc *desc = &%s_desc;", s->prefix);
  TEXT("  crpc_service *svc = NULL;\n\n"
       "  if (crpc_service_new(desc, handlers, user_data, &svc) != 0)\n"
       "    return NULL;\n"
       "  return svc;\n}\n");
}

int crpc__emit_source(const crpc__file_names *n, crpc__printer *out) {
  char *head = crpc__printer_format(
      "Generated by protoc-gen-crpc from %s. Do not edit.", n->pb->name);
  size_t i, j;

  if (!head)
    return -1;
  crpc__emit_comment(out, 0, head);
  free(head);
  TEXT("#include \"%s.crpc.h\"\n\n#include <stddef.h>\n", n->base);
  /* libcrpc defines the descriptors of the files it carries */
  if (crpc__file_desc_emit(n->request, n->pb,
                           !crpc__file_desc_builtin(n->pb->name), 0, out) != 0)
    return -1;
  for (i = 0; i < n->n_services; i++) {
    const crpc__service_names *s = &n->services[i];
    TEXT("\n");
    for (j = 0; j < s->n_methods; j++)
      invoker(out, s, &s->methods[j]);
    tables(out, n, s);
    for (j = 0; j < s->n_methods; j++) {
      client(out, &s->methods[j]);
      server_stream(out, &s->methods[j]);
    }
    constructor(out, s);
  }
  return out->failed ? -1 : 0;
}
