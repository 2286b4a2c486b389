/*
 * codegen/emit_header.c: <path>.crpc.h, the declarations of a .proto
 * file's client stubs, server handler tables and service constructors.
 */
#include "emit.h"

#include <stdlib.h>
#include <string.h>

#define DECL(...) crpc__printer_line(out, CRPC__LINE_DECL, 0, __VA_ARGS__)
#define NAMED(...)                                                             \
  crpc__printer_line(out, CRPC__LINE_DECLARATOR, 0, __VA_ARGS__)

const char *const crpc__emit_kind_words[4] = {
    "unary", "server streaming", "client streaming", "bidirectional"};

/* What every header says once: how the declarations below are used. */
static const char usage[] =
    "/*\n"
    " * Client: for a method M of a service with prefix p_, p_m() makes a\n"
    " * unary call and waits for it (suspending instead, inside a "
    "coroutine);\n"
    " * p_m_async() returns a future whose reply p_m_result() takes. A\n"
    " * streaming p_m() starts the call and gives a reader, writer or stream\n"
    " * whose _read and _write calls block and whose _async variants return\n"
    " * futures; _finish waits for the status, _free releases the handle.\n"
    " * Replies and read messages belong to the caller, who frees them with\n"
    " * protobuf_c_message_free_unpacked(). Thread: any.\n"
    " *\n"
    " * Server: p_service() serves a p_handlers table (a NULL member answers\n"
    " * UNIMPLEMENTED). A handler's request, the messages it receives and\n"
    " * the reply it fills belong to its call (see crpc/ctx.h).\n"
    " */\n";

/* ---- comments ---- */

static int is_trigraph_end(char c) {
  return c && strchr("=/'()!<>-", c) != NULL;
}

/*
 * Copies |text| into |out| made safe for a block comment: control
 * characters become spaces, comment delimiters and trigraphs get a space in
 * the middle, trailing blanks and leading and trailing empty lines go.
 */
static void clean_comment(crpc__printer *out, const char *text) {
  const char *s = text;
  char prev = '\n';
  size_t keep = 0;

  for (; *s == '\n' || *s == ' ' || *s == '\t' || *s == '\r'; s++)
    if (*s == '\n')
      text = s + 1;
  for (s = text; *s; s++) {
    char c = *s;
    if (c != '\n' && ((unsigned char)c < 0x20 || c == 0x7f))
      c = ' ';
    while (c == '\n' && out->len > 0 && out->data[out->len - 1] == ' ')
      out->len--;
    if ((prev == '*' && c == '/') || (prev == '/' && c == '*') ||
        (prev == '?' && c == '?' && is_trigraph_end(s[1])))
      crpc__printer_add(out, " ", 1);
    crpc__printer_add(out, &c, 1);
    prev = c;
    if (c != '\n' && c != ' ')
      keep = out->len;
  }
  if (out->data) {
    out->len = keep; /* drops trailing blanks and empty lines */
    out->data[keep] = '\0';
  }
}

/* Appends one line of comment text, wrapped at spaces so that no part
 * passes the limit unless it is a single word; wrapped parts keep the
 * line's indentation. */
static void comment_line(crpc__printer *p, int indent, const char *s,
                         size_t n) {
  size_t lead = strspn(s, " "), cut, i;
  int room;

  if (lead >= n) {
    crpc__printer_printf(p, "%*s *\n", indent, "");
    return;
  }
  s += lead;
  n -= lead;
  lead = lead ? lead : 1;
  room = p->limit - indent - 2 - (int)lead;
  for (;;) {
    crpc__printer_printf(p, "%*s *%*s", indent, "", (int)lead, "");
    for (cut = 0, i = 1; i < n && crpc__printer_width(s, n) > room; i++) {
      if (s[i] != ' ' || s[i - 1] == ' ')
        continue;
      if (crpc__printer_width(s, i) <= room || cut == 0)
        cut = i;
      if (crpc__printer_width(s, i) > room)
        break;
    }
    if (cut == 0) {
      crpc__printer_printf(p, "%.*s\n", (int)n, s);
      return;
    }
    crpc__printer_printf(p, "%.*s\n", (int)cut, s);
    cut += strspn(s + cut, " ");
    s += cut;
    n -= cut;
  }
}

void crpc__emit_comment(crpc__printer *p, int indent, const char *text) {
  crpc__printer clean;
  const char *s, *nl;

  crpc__printer_init(&clean, p->max);
  clean_comment(&clean, text);
  p->failed |= clean.failed;
  s = clean.data;
  if (clean.failed || clean.len == 0) {
    /* nothing to say */
  } else if (!strchr(s, '\n') &&
             indent + 6 + crpc__printer_width(s, clean.len) <= p->limit) {
    crpc__printer_printf(p, "%*s/* %s */\n", indent, "", s + strspn(s, " "));
  } else {
    crpc__printer_printf(p, "%*s/*\n", indent, "");
    for (; *s; s = *nl ? nl + 1 : nl) {
      nl = strchr(s, '\n');
      if (!nl)
        nl = s + strlen(s);
      comment_line(p, indent, s, (size_t)(nl - s));
    }
    crpc__printer_printf(p, "%*s */\n", indent, "");
  }
  crpc__printer_cleanup(&clean);
}

/* ---- declarations ---- */

/* Appends |body|'s lines with backslashes at column 80, or one past the
 * longest line that has one (clang-format's AlignEscapedNewlines: Right);
 * macro lines are ASCII. */
static void macro(crpc__printer *out, const crpc__printer *body) {
  const char *s, *nl;
  size_t col = 79;

  if (body->failed || !body->data) {
    out->failed |= body->failed;
    return;
  }
  for (s = body->data; (nl = strchr(s, '\n')) && nl[1]; s = nl + 1)
    if ((size_t)(nl - s) + 1 > col)
      col = (size_t)(nl - s) + 1;
  for (s = body->data; (nl = strchr(s, '\n')); s = nl + 1) {
    if (nl[1])
      crpc__printer_printf(out, "%-*.*s\\\n", (int)col, (int)(nl - s), s);
    else
      crpc__printer_printf(out, "%.*s\n", (int)(nl - s), s);
  }
}

/* "#define NAME (&P_methods[i])", as a continuation line when it does
 * not fit, itself broken before "[" when too long. */
static void define(crpc__printer *out, const char *name, const char *prefix,
                   size_t i) {
  char *body = crpc__printer_format("(&%s_methods[%zu])", prefix, i);
  size_t n = strlen(name), b = body ? strlen(body) : 0;
  crpc__printer m;

  crpc__printer_init(&m, out->max);
  if (!body)
    m.failed = 1;
  else if (8 + n + 1 + b <= (size_t)out->limit)
    crpc__printer_printf(out, "#define %s %s\n", name, body);
  else if (2 + b <= (size_t)out->limit)
    crpc__printer_printf(&m, "#define %s\n  %s\n", name, body);
  else
    crpc__printer_printf(&m, "#define %s\n  (&%s_methods\n       [%zu])\n",
                         name, prefix, i);
  if (m.failed || m.data)
    macro(out, &m);
  crpc__printer_cleanup(&m);
  free(body);
}

/* "unary SayHello(HelloRequest) returns (HelloReply)", with |comment|
 * after a blank line when there is one. NULL when out of memory. */
static char *describe(const crpc__method_names *m, const char *comment) {
  return crpc__printer_format(
      "%s %s(%s%s) returns (%s%s)%s%s", crpc__emit_kind_words[m->kind], m->name,
      m->kind >= CRPC__KIND_CLIENT_STREAMING ? "stream " : "", m->in_proto,
      m->kind & CRPC__KIND_SERVER_STREAMING ? "stream " : "", m->out_proto,
      comment ? "\n\n" : "", comment ? comment : "");
}

static void comment(crpc__printer *out, int indent, char *text) {
  if (!text)
    out->failed = 1;
  else
    crpc__emit_comment(out, indent, text);
  free(text);
}

static void unary_client(crpc__printer *out, const crpc__method_names *m) {
  DECL("crpc_status %s(crpc_channel *ch, const %s *req, %s **reply, "
       "const crpc_call_opts *opts);",
       m->fn, m->in_type, m->out_type);
  DECL("crpc_future *%s_async(crpc_channel *ch, const %s *req, "
       "const crpc_call_opts *opts);",
       m->fn, m->in_type);
  DECL("crpc_status %s_result(crpc_future *f, %s **reply);", m->fn,
       m->out_type);
}

static void reader_client(crpc__printer *out, const crpc__method_names *m) {
  NAMED("typedef struct %s_reader %s_reader;", m->fn, m->fn);
  DECL("crpc_status %s(crpc_channel *ch, const %s *req, %s_reader **reader, "
       "const crpc_call_opts *opts);",
       m->fn, m->in_type, m->fn);
  DECL("crpc_status %s_read(%s_reader *r, %s **msg);", m->fn, m->fn,
       m->out_type);
  DECL("crpc_future *%s_read_async(%s_reader *r);", m->fn, m->fn);
  DECL("crpc_status %s_read_result(crpc_future *f, %s **msg);", m->fn,
       m->out_type);
  DECL("crpc_status %s_finish(%s_reader *r);", m->fn, m->fn);
  DECL("void %s_cancel(%s_reader *r);", m->fn, m->fn);
  DECL("void %s_free(%s_reader *r);", m->fn, m->fn);
}

static void writer_client(crpc__printer *out, const crpc__method_names *m) {
  NAMED("typedef struct %s_writer %s_writer;", m->fn, m->fn);
  DECL("crpc_status %s(crpc_channel *ch, %s_writer **writer, "
       "const crpc_call_opts *opts);",
       m->fn, m->fn);
  DECL("crpc_status %s_write(%s_writer *w, const %s *msg);", m->fn, m->fn,
       m->in_type);
  DECL("crpc_future *%s_write_async(%s_writer *w, const %s *msg);", m->fn,
       m->fn, m->in_type);
  DECL("crpc_status %s_finish(%s_writer *w, %s **reply);", m->fn, m->fn,
       m->out_type);
  DECL("crpc_future *%s_finish_async(%s_writer *w);", m->fn, m->fn);
  DECL("crpc_status %s_finish_result(crpc_future *f, %s **reply);", m->fn,
       m->out_type);
  DECL("void %s_cancel(%s_writer *w);", m->fn, m->fn);
  DECL("void %s_free(%s_writer *w);", m->fn, m->fn);
}

static void stream_client(crpc__printer *out, const crpc__method_names *m) {
  NAMED("typedef struct %s_stream %s_stream;", m->fn, m->fn);
  DECL("crpc_status %s(crpc_channel *ch, %s_stream **stream, "
       "const crpc_call_opts *opts);",
       m->fn, m->fn);
  DECL("crpc_status %s_read(%s_stream *s, %s **msg);", m->fn, m->fn,
       m->out_type);
  DECL("crpc_future *%s_read_async(%s_stream *s);", m->fn, m->fn);
  DECL("crpc_status %s_read_result(crpc_future *f, %s **msg);", m->fn,
       m->out_type);
  DECL("crpc_status %s_write(%s_stream *s, const %s *msg);", m->fn, m->fn,
       m->in_type);
  DECL("crpc_future *%s_write_async(%s_stream *s, const %s *msg);", m->fn,
       m->fn, m->in_type);
  DECL("crpc_status %s_close_send(%s_stream *s);", m->fn, m->fn);
  DECL("crpc_future *%s_close_send_async(%s_stream *s);", m->fn, m->fn);
  DECL("crpc_status %s_finish(%s_stream *s);", m->fn, m->fn);
  DECL("void %s_cancel(%s_stream *s);", m->fn, m->fn);
  DECL("void %s_free(%s_stream *s);", m->fn, m->fn);
}

static void client(crpc__printer *out, const crpc__method_names *m) {
  comment(out, 0, describe(m, m->comment));
  switch (m->kind) {
  case CRPC__KIND_UNARY:
    unary_client(out, m);
    break;
  case CRPC__KIND_SERVER_STREAMING:
    reader_client(out, m);
    break;
  case CRPC__KIND_CLIENT_STREAMING:
    writer_client(out, m);
    break;
  default:
    stream_client(out, m);
  }
  crpc__printer_printf(out, "\n");
}

/* The typed server-side stream of a streaming method, and its calls. */
static void server_stream(crpc__printer *out, const crpc__method_names *m) {
  static const char *const type[4] = {NULL, "sender", "receiver",
                                      "server_stream"};
  const char *t = type[m->kind];

  if (!t)
    return;
  NAMED("typedef struct %s_%s %s_%s;", m->fn, t, m->fn, t);
  if (m->kind != CRPC__KIND_SERVER_STREAMING)
    DECL("crpc_status %s_recv(%s_%s *%c, %s **msg);", m->fn, m->fn, t,
         t[0] == 'r' ? 'r' : 's', m->in_type);
  if (m->kind != CRPC__KIND_CLIENT_STREAMING)
    DECL("crpc_status %s_send(%s_%s *s, const %s *msg);", m->fn, m->fn, t,
         m->out_type);
}

/* The handler table member of |m|, after its description. */
static void handler(crpc__printer *out, const crpc__method_names *m) {
  char *what = describe(m, NULL);

  comment(out, 2,
          what ? crpc__printer_format(
                     "%s, %s%s%s", what,
                     m->coroutine ? "as a coroutine on the loop"
                                  : "on a worker thread",
                     m->comment ? "\n\n" : "", m->comment ? m->comment : "")
               : NULL);
  free(what);
  if (m->kind == CRPC__KIND_UNARY)
    crpc__printer_line(out, CRPC__LINE_FPTR, 2,
                       "crpc_status (*%s)(crpc_ctx *ctx, const %s *req, "
                       "%s *reply);",
                       m->field, m->in_type, m->out_type);
  else if (m->kind == CRPC__KIND_SERVER_STREAMING)
    crpc__printer_line(out, CRPC__LINE_FPTR, 2,
                       "crpc_status (*%s)(crpc_ctx *ctx, const %s *req, "
                       "%s_sender *out);",
                       m->field, m->in_type, m->fn);
  else if (m->kind == CRPC__KIND_CLIENT_STREAMING)
    crpc__printer_line(out, CRPC__LINE_FPTR, 2,
                       "crpc_status (*%s)(crpc_ctx *ctx, %s_receiver *in, "
                       "%s *reply);",
                       m->field, m->fn, m->out_type);
  else
    crpc__printer_line(out, CRPC__LINE_FPTR, 2,
                       "crpc_status (*%s)(crpc_ctx *ctx, "
                       "%s_server_stream *stream);",
                       m->field, m->fn);
}

/* The macro that exports the service from a shared object. */
static void module(crpc__printer *out, const crpc__service_names *s) {
  crpc__printer body;

  crpc__printer_init(&body, out->max);
  body.limit = 78; /* room for the backslashes */
  body.macro = 1;
  crpc__printer_line(&body, CRPC__LINE_CALL, 0,
                     "#define %s_MODULE(handlers, user_data)", s->macro);
  crpc__printer_line(&body, CRPC__LINE_DECL, 2,
                     "static int %s_module_init_(crpc_module *m) {", s->prefix);
  crpc__printer_line(&body, CRPC__LINE_ASSIGN, 4,
                     "crpc_service *svc = %s_service((handlers), "
                     "(user_data));",
                     s->prefix);
  crpc__printer_printf(&body, "    return crpc_module_add_service(m, svc);\n"
                              "  }\n");
  body.limit = 80; /* the last line has no backslash */
  crpc__printer_line(&body, CRPC__LINE_CALL, 2, "CRPC_MODULE(%s_module_init_)",
                     s->prefix);
  crpc__emit_comment(out, 0,
                     "Exports this one service from a shared object for "
                     "`crpc-server --module`.");
  macro(out, &body);
  crpc__printer_cleanup(&body);
}

static void server(crpc__printer *out, const crpc__service_names *s) {
  size_t i;
  int streams = 0;

  for (i = 0; i < s->n_methods; i++) {
    server_stream(out, &s->methods[i]);
    streams |= s->methods[i].kind != CRPC__KIND_UNARY;
  }
  if (streams)
    crpc__printer_printf(out, "\n");
  NAMED("typedef struct %s_handlers {", s->prefix);
  for (i = 0; i < s->n_methods; i++)
    handler(out, &s->methods[i]);
  if (s->n_methods == 0)
    crpc__printer_printf(out, "  char unused_; /* no methods */\n");
  crpc__printer_printf(out, "} %s_handlers;\n\n", s->prefix);
  crpc__emit_comment(out, 0,
                     "A service that serves |handlers| (borrowed: they must "
                     "outlive it) with |user_data| (see crpc_ctx_user_data()), "
                     "for crpc_server_add_service(); NULL when out of memory.");
  DECL("crpc_service *%s_service(const %s_handlers *handlers, "
       "void *user_data);",
       s->prefix, s->prefix);
  crpc__printer_printf(out, "\n");
  module(out, s);
}

static void service(crpc__printer *out, const crpc__service_names *s) {
  size_t i;

  comment(out, 0,
          crpc__printer_format("service %s%s%s", s->full_name,
                               s->comment ? "\n\n" : "",
                               s->comment ? s->comment : ""));
  NAMED("extern const crpc_service_desc %s_desc;", s->prefix);
  if (s->n_methods > 0)
    NAMED("extern const crpc_method %s_methods[%zu];", s->prefix, s->n_methods);
  crpc__printer_printf(out, "\n");
  for (i = 0; i < s->n_methods; i++)
    define(out, s->methods[i].macro, s->prefix, i);
  if (s->n_methods > 0)
    crpc__printer_printf(out, "\n");
  for (i = 0; i < s->n_methods; i++)
    client(out, &s->methods[i]);
  server(out, s);
}

int crpc__emit_header(const crpc__file_names *n, crpc__printer *out) {
  size_t i;

  comment(out, 0,
          crpc__printer_format("Generated by protoc-gen-crpc from %s. Do not "
                               "edit.",
                               n->pb->name));
  if (n->n_services > 0)
    crpc__printer_printf(out,
                         "#ifndef %s\n#define %s\n\n"
                         "#include <crpc/call.h>\n#include <crpc/server.h>\n"
                         "#include \"%s.pb-c.h\"\n\n%s\nCRPC_BEGIN_DECLS\n",
                         n->guard, n->guard, n->base, usage);
  else /* only the descriptor, which crpc/method.h declares the type of */
    crpc__printer_printf(out,
                         "#ifndef %s\n#define %s\n\n"
                         "#include <crpc/method.h>\n\nCRPC_BEGIN_DECLS\n",
                         n->guard, n->guard);
  crpc__printer_printf(out, "\n");
  comment(out, 0,
          crpc__printer_format("%s's descriptor, with its imports', for "
                               "server reflection.",
                               n->pb->name));
  crpc__printer_line(out, CRPC__LINE_DECLARATOR, 0,
                     "extern const crpc_file_desc %s;", n->file_desc);
  for (i = 0; i < n->n_services; i++) {
    crpc__printer_printf(out, "\n");
    service(out, &n->services[i]);
  }
  /* a comment too long for the line would be reflowed by clang-format */
  if (strlen("#endif /*  */") + strlen(n->guard) <= (size_t)out->limit)
    crpc__printer_printf(out, "\nCRPC_END_DECLS\n\n#endif /* %s */\n",
                         n->guard);
  else
    crpc__printer_printf(out, "\nCRPC_END_DECLS\n\n#endif\n");
  return out->failed ? -1 : 0;
}
