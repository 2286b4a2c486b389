/*
 * codegen/naming.c: protoc-c's name transforms, crpc's prefixes, and the
 * names of one file's generated code, checked for clashes.
 *
 * The transforms follow protoc-c 1.4.1's c_helpers.cc character for
 * character (its output was compared on odd names: HTTPRequest, getURL,
 * foo_bar, Foo_Bar, lower, V2x3Y, _Under, a__b); tests/codegen/test_naming.c
 * pins them.
 */
#include "naming.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "file_desc.h"

static int is_upper(char c) {
  return c >= 'A' && c <= 'Z';
}

static int is_alpha(char c) {
  return is_upper(c) || (c >= 'a' && c <= 'z') || c == '_';
}

static int is_alnum(char c) {
  return is_alpha(c) || (c >= '0' && c <= '9');
}

void crpc__naming_camel(crpc__printer *out, const char *s, size_t n) {
  int next_upper = 1;
  size_t i;

  for (i = 0; i < n; i++) {
    char c = s[i];
    if (c == '_') {
      next_upper = 1;
      continue;
    }
    if (next_upper && c >= 'a' && c <= 'z')
      c = (char)(c - 'a' + 'A');
    next_upper = 0;
    crpc__printer_add(out, &c, 1);
  }
}

void crpc__naming_lower(crpc__printer *out, const char *s, size_t n) {
  int was_upper = 1; /* no '_' before a leading capital */
  size_t i;

  for (i = 0; i < n; i++) {
    char c = s[i];
    int up = is_upper(c);
    if (up && !was_upper)
      crpc__printer_add(out, "_", 1);
    if (up)
      c = (char)(c - 'A' + 'a');
    crpc__printer_add(out, &c, 1);
    was_upper = up;
  }
}

void crpc__naming_full(crpc__printer *out, const char *full, int lower) {
  const char *s = full, *dot;
  int first = 1;

  for (; *s; s = *dot ? dot + 1 : dot) {
    dot = strchr(s, '.');
    if (!dot)
      dot = s + strlen(s);
    if (dot == s)
      continue;
    if (!first)
      crpc__printer_add(out, "__", 2);
    first = 0;
    if (lower)
      crpc__naming_lower(out, s, (size_t)(dot - s));
    else
      crpc__naming_camel(out, s, (size_t)(dot - s));
  }
}

/* The text of |p|, handed over (an empty string if nothing was written),
 * or NULL when it failed. */
static char *take(crpc__printer *p) {
  char *s = p->data;
  if (p->failed) {
    crpc__printer_cleanup(p);
    return NULL;
  }
  if (!s)
    s = calloc(1, 1);
  p->data = NULL;
  crpc__printer_cleanup(p);
  return s;
}

char *crpc__naming_message(const char *full, const char *package,
                           const char *c_package, int lower) {
  crpc__printer p;
  size_t plen = strlen(package);

  crpc__printer_init(&p, 1 << 20);
  if (c_package) {
    /* protoc-c's OverrideFullName: c_package, then the name past the
     * package ("pkg.A.B" -> c_package + ".A.B") */
    crpc__printer_printf(&p, "%s%s%s", c_package, plen ? "" : ".",
                         strlen(full) >= plen ? full + plen : full);
    if (!p.failed) {
      char *over = take(&p);
      crpc__printer_init(&p, 1 << 20);
      if (over)
        crpc__naming_full(&p, over, lower);
      else
        p.failed = 1;
      free(over);
    }
  } else {
    crpc__naming_full(&p, full, lower);
  }
  return take(&p);
}

char *crpc__naming_prefix(const char *package, const char *service) {
  crpc__printer p;
  const char *s = package, *dot;

  crpc__printer_init(&p, 1 << 20);
  for (; *s; s = *dot ? dot + 1 : dot) {
    dot = strchr(s, '.');
    if (!dot)
      dot = s + strlen(s);
    if (dot == s)
      continue;
    crpc__naming_lower(&p, s, (size_t)(dot - s));
    crpc__printer_add(&p, "_", 1);
  }
  crpc__naming_lower(&p, service, strlen(service));
  return take(&p);
}

/* Names a generated handler-table member cannot take: C11 and C23
 * keywords, C++ keywords and alternative tokens (the header is also C++),
 * and object-like macros of standard headers and GNU modes. Method names
 * arrive lower-cased, so only lower-case names can clash. */
static const char *const reserved[] = {"alignas",       "alignof",
                                       "and",           "and_eq",
                                       "asm",           "assert",
                                       "auto",          "bitand",
                                       "bitor",         "bool",
                                       "break",         "case",
                                       "catch",         "char",
                                       "char16_t",      "char32_t",
                                       "char8_t",       "class",
                                       "co_await",      "co_return",
                                       "co_yield",      "compl",
                                       "complex",       "concept",
                                       "const",         "const_cast",
                                       "consteval",     "constexpr",
                                       "constinit",     "continue",
                                       "decltype",      "default",
                                       "delete",        "do",
                                       "double",        "dynamic_cast",
                                       "else",          "enum",
                                       "errno",         "explicit",
                                       "export",        "extern",
                                       "false",         "float",
                                       "for",           "friend",
                                       "goto",          "if",
                                       "imaginary",     "inline",
                                       "int",           "linux",
                                       "long",          "mutable",
                                       "namespace",     "new",
                                       "noexcept",      "noreturn",
                                       "not",           "not_eq",
                                       "nullptr",       "offsetof",
                                       "operator",      "or",
                                       "or_eq",         "private",
                                       "protected",     "public",
                                       "register",      "reinterpret_cast",
                                       "requires",      "restrict",
                                       "return",        "short",
                                       "signed",        "sizeof",
                                       "static",        "static_assert",
                                       "static_cast",   "stderr",
                                       "stdin",         "stdout",
                                       "struct",        "switch",
                                       "template",      "this",
                                       "thread_local",  "throw",
                                       "true",          "try",
                                       "typedef",       "typeid",
                                       "typename",      "typeof",
                                       "typeof_unqual", "union",
                                       "unix",          "unsigned",
                                       "using",         "virtual",
                                       "void",          "volatile",
                                       "wchar_t",       "while",
                                       "xor",           "xor_eq"};

int crpc__naming_is_reserved(const char *s) {
  size_t i;
  for (i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
    if (strcmp(s, reserved[i]) == 0)
      return 1;
  return 0;
}

int crpc__naming_is_identifier(const char *s, int dotted) {
  int start = 1;

  if (!s || !*s)
    return 0;
  for (; *s; s++) {
    if (dotted && *s == '.' && !start && s[1]) {
      start = 1;
      continue;
    }
    if (start ? !is_alpha(*s) : !is_alnum(*s))
      return 0;
    start = 0;
  }
  return 1;
}

/* ---- the names of a file ---- */

/* Takes ownership of |s| for |n|'s cleanup; NULL (and |s| freed) when out
 * of memory. */
static char *own(crpc__file_names *n, char *s) {
  if (!s)
    return NULL;
  if (n->n_owned == n->cap_owned) {
    size_t cap = n->cap_owned ? n->cap_owned * 2 : 64;
    char **o = realloc(n->owned, cap * sizeof(*o));
    if (!o) {
      free(s);
      return NULL;
    }
    n->owned = o;
    n->cap_owned = cap;
  }
  n->owned[n->n_owned++] = s;
  return s;
}

void crpc__file_names_cleanup(crpc__file_names *n) {
  size_t i;
  for (i = 0; i < n->n_owned; i++)
    free(n->owned[i]);
  free(n->owned);
  for (i = 0; i < n->n_services; i++)
    free(n->services[i].methods);
  free(n->services);
  memset(n, 0, sizeof(*n));
}

static char *upper(const char *s) {
  char *u = crpc__printer_format("%s", s), *p;
  for (p = u; p && *p; p++)
    if (*p >= 'a' && *p <= 'z')
      *p = (char)(*p - 'a' + 'A');
  return u;
}

/* "a/b/x" from "a/b/x.proto", as protoc-c's StripProto. */
static char *strip_proto(const char *name) {
  size_t n = strlen(name);
  if (n > 11 && strcmp(name + n - 11, ".protodevel") == 0)
    n -= 11;
  else if (n > 6 && strcmp(name + n - 6, ".proto") == 0)
    n -= 6;
  return crpc__printer_format("%.*s", (int)n, name);
}

/* The header's include guard: the path, upper-cased, every other
 * character an underscore ("a/b/x" -> A_B_X_CRPC_H). */
static char *guard_of(const char *base) {
  char *g = crpc__printer_format("%s%s_CRPC_H", is_alpha(base[0]) ? "" : "P",
                                 base),
       *p;
  for (p = g; p && *p; p++)
    if (*p >= 'a' && *p <= 'z')
      *p = (char)(*p - 'a' + 'A');
    else if (!is_alnum(*p))
      *p = '_';
  return g;
}

/* Nonzero when |name| can go into #include "..." as is: no quotes,
 * backslashes, control characters or trigraphs. */
static int usable_path(const char *name) {
  const char *s;
  if (!name || !*name || strstr(name, "??"))
    return 0;
  for (s = name; *s; s++)
    if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20 || *s == 0x7f)
      return 0;
  return 1;
}

/* Sets |*err| to "FILE: <message>". Returns -1, or -2 when out of
 * memory. */
static int bad(char **err, const crpc__file_names *n, const char *fmt, ...)
    CRPC__PRINTF(3, 4);
static int bad(char **err, const crpc__file_names *n, const char *fmt, ...) {
  va_list ap;
  char *what;

  va_start(ap, fmt);
  what = crpc__printer_vformat(fmt, ap);
  va_end(ap);
  *err = what ? crpc__printer_format(
                    "%s: %s", n->pb->name ? n->pb->name : "(unnamed)", what)
              : NULL;
  free(what);
  return *err ? -1 : -2;
}

/* The C type, descriptor and display name of the message |type_name|. */
static int name_type(crpc__file_names *n, const crpc__request *r,
                     const char *type_name, char **c_type, char **desc,
                     char **shown) {
  const crpc__message_ref *ref = crpc__request_message(r, type_name);
  const char *pkg, *own_pkg = n->package;
  char *cpkg = NULL, *lower;
  int rc;

  if (!ref)
    return 1;
  pkg = ref->file->package ? ref->file->package : "";
  rc = crpc__request_c_package(ref->file, &cpkg);
  if (rc < 0)
    return -2;
  if (!crpc__naming_is_identifier(ref->full_name, 1) ||
      (cpkg && *cpkg && !crpc__naming_is_identifier(cpkg, 1))) {
    free(cpkg);
    return 2;
  }
  *c_type = own(n, crpc__naming_message(ref->full_name, pkg, cpkg, 0));
  lower = crpc__naming_message(ref->full_name, pkg, cpkg, 1);
  *desc = own(n, lower ? crpc__printer_format("%s__descriptor", lower) : NULL);
  free(lower);
  free(cpkg);
  if (strcmp(pkg, own_pkg) == 0 && *pkg)
    *shown =
        own(n, crpc__printer_format("%s", ref->full_name + strlen(pkg) + 1));
  else
    *shown = own(n, crpc__printer_format("%s", ref->full_name));
  return *c_type && *desc && *shown ? 0 : -2;
}

static int name_method(crpc__file_names *n, const crpc__request *r,
                       crpc__service_names *sv, size_t si, size_t mi,
                       char **err) {
  const crpc__pb_method *m = sv->pb->method[mi];
  crpc__method_names *mn = &sv->methods[mi];
  crpc__printer p;
  char *lower;
  int rc;

  mn->pb = m;
  if (!crpc__naming_is_identifier(m->name, 0))
    return bad(err, n, "service %s has a method with the invalid name '%s'",
               sv->full_name, m->name ? m->name : "");
  mn->name = m->name;
  mn->kind = (crpc__kind)((m->client_streaming ? 2 : 0) |
                          (m->server_streaming ? 1 : 0));
  mn->coroutine = crpc__request_coroutine(sv->pb, m);
  mn->comment = crpc__request_comment(n->pb, si, (int)mi);
  crpc__printer_init(&p, 1 << 20);
  crpc__naming_lower(&p, m->name, strlen(m->name));
  lower = own(n, take(&p));
  if (!lower)
    return -2;
  mn->fn = own(n, crpc__printer_format("%s_%s", sv->prefix, lower));
  mn->field = crpc__naming_is_reserved(lower)
                  ? own(n, crpc__printer_format("%s_", lower))
                  : lower;
  mn->macro = own(n, upper(mn->fn ? mn->fn : ""));
  if (!mn->fn || !mn->field || !mn->macro)
    return -2;
  rc =
      name_type(n, r, m->input_type, &mn->in_type, &mn->in_desc, &mn->in_proto);
  if (rc > 0)
    return bad(err, n, "method %s.%s: %s input type '%s'", sv->full_name,
               m->name, rc == 1 ? "unknown" : "invalid",
               m->input_type ? m->input_type : "");
  if (rc == 0)
    rc = name_type(n, r, m->output_type, &mn->out_type, &mn->out_desc,
                   &mn->out_proto);
  if (rc > 0)
    return bad(err, n, "method %s.%s: %s output type '%s'", sv->full_name,
               m->name, rc == 1 ? "unknown" : "invalid",
               m->output_type ? m->output_type : "");
  return rc;
}

static int name_service(crpc__file_names *n, const crpc__request *r,
                        const char *c_package, size_t si, char **err) {
  const crpc__pb_service *s = n->pb->service[si];
  crpc__service_names *sv = &n->services[si];
  size_t i;
  int rc;

  sv->pb = s;
  if (!crpc__naming_is_identifier(s->name, 0))
    return bad(err, n, "invalid service name '%s'", s->name ? s->name : "");
  sv->full_name = own(n, crpc__printer_format("%s%s%s", n->package,
                                              *n->package ? "." : "", s->name));
  sv->prefix = own(n, crpc__naming_prefix(c_package, s->name));
  sv->macro = own(n, upper(sv->prefix ? sv->prefix : ""));
  sv->comment = crpc__request_comment(n->pb, si, -1);
  if (!sv->full_name || !sv->prefix || !sv->macro)
    return -2;
  if (s->n_method > 0) {
    sv->methods = calloc(s->n_method, sizeof(*sv->methods));
    if (!sv->methods)
      return -2;
  }
  sv->n_methods = s->n_method;
  for (i = 0; i < s->n_method; i++) {
    rc = name_method(n, r, sv, si, i, err);
    if (rc != 0)
      return rc;
  }
  return 0;
}

/* ---- clashes between generated identifiers ---- */

/* What each kind of method adds to its stub's name. */
static const char *const kind_suffixes[4][15] = {
    {"_async", "_result", NULL},
    {"_reader", "_read", "_read_async", "_read_result", "_finish", "_cancel",
     "_free", "_sender", "_send", NULL},
    {"_writer", "_write", "_write_async", "_finish", "_finish_async",
     "_finish_result", "_cancel", "_free", "_receiver", "_recv", NULL},
    {"_stream", "_read", "_read_async", "_read_result", "_write",
     "_write_async", "_close_send", "_close_send_async", "_finish", "_cancel",
     "_free", "_server_stream", "_recv", "_send", NULL}};

static const char *const service_suffixes[] = {
    "_desc", "_methods", "_handlers", "_service", "_module_init_", NULL};

typedef struct ident {
  const char *id;
  size_t order;           /* ties sort in the order of the .proto */
  const char *owner_kind; /* "service" or "method" */
  const char *owner;      /* its full name */
  const char *scope;      /* NULL, or the prefix of a handler table */
} ident;

typedef struct idents {
  ident *v;
  size_t n, cap;
} idents;

static int add_ident(crpc__file_names *n, idents *ids, char *id,
                     const char *kind, const char *owner, const char *scope) {
  if (!own(n, id))
    return -2;
  if (ids->n == ids->cap) {
    size_t cap = ids->cap ? ids->cap * 2 : 256;
    ident *v = realloc(ids->v, cap * sizeof(*v));
    if (!v)
      return -2;
    ids->v = v;
    ids->cap = cap;
  }
  ids->v[ids->n].id = id;
  ids->v[ids->n].order = ids->n;
  ids->v[ids->n].owner_kind = kind;
  ids->v[ids->n].owner = owner;
  ids->v[ids->n].scope = scope;
  ids->n++;
  return 0;
}

static int add_method_idents(crpc__file_names *n, idents *ids,
                             const crpc__service_names *sv,
                             const crpc__method_names *mn) {
  char *owner = own(n, crpc__printer_format("%s.%s", sv->full_name, mn->name));
  const char *const *sfx = kind_suffixes[mn->kind];
  int rc;

  if (!owner)
    return -2;
  rc = add_ident(n, ids, crpc__printer_format("%s", mn->fn), "method", owner,
                 NULL);
  if (rc == 0)
    rc = add_ident(n, ids, crpc__printer_format("%s_invoke_", mn->fn), "method",
                   owner, NULL);
  if (rc == 0)
    rc = add_ident(n, ids, crpc__printer_format("%s", mn->macro), "method",
                   owner, NULL);
  if (rc == 0) /* members of one service's handler table */
    rc = add_ident(n, ids, crpc__printer_format("%s.%s", sv->prefix, mn->field),
                   "method", owner, sv->prefix);
  for (; rc == 0 && *sfx; sfx++)
    rc = add_ident(n, ids, crpc__printer_format("%s%s", mn->fn, *sfx), "method",
                   owner, NULL);
  return rc;
}

static int cmp_ident(const void *a, const void *b) {
  const ident *x = a, *y = b;
  int c = strcmp(x->id, y->id);
  return c ? c : x->order < y->order ? -1 : 1;
}

/* Reports the first identifier two .proto elements would both generate. */
static int find_clash(crpc__file_names *n, idents *ids, char **err) {
  size_t i;

  if (ids->n < 2) /* a file without services names nothing (v NULL) */
    return 0;
  qsort(ids->v, ids->n, sizeof(*ids->v), cmp_ident);
  for (i = 1; i < ids->n; i++) {
    const ident *a = &ids->v[i - 1], *b = &ids->v[i];
    if (strcmp(a->id, b->id) != 0)
      continue;
    if (a->scope)
      return bad(err, n,
                 "%s %s and %s %s would both be the handler table member "
                 "'%s' of %s_handlers; rename one of them",
                 a->owner_kind, a->owner, b->owner_kind, b->owner,
                 a->id + strlen(a->scope) + 1, a->scope);
    return bad(err, n,
               "%s %s and %s %s would both generate the C name '%s'; rename "
               "one of them",
               a->owner_kind, a->owner, b->owner_kind, b->owner, a->id);
  }
  return 0;
}

static int check_clashes(crpc__file_names *n, char **err) {
  idents ids = {NULL, 0, 0};
  size_t i, j;
  int rc = 0;

  for (i = 0; i < n->n_services && rc == 0; i++) {
    const crpc__service_names *sv = &n->services[i];
    const char *const *sfx;
    for (sfx = service_suffixes; rc == 0 && *sfx; sfx++)
      rc = add_ident(n, &ids, crpc__printer_format("%s%s", sv->prefix, *sfx),
                     "service", sv->full_name, NULL);
    if (rc == 0)
      rc = add_ident(n, &ids, crpc__printer_format("%s_MODULE", sv->macro),
                     "service", sv->full_name, NULL);
    for (j = 0; j < sv->n_methods && rc == 0; j++)
      rc = add_method_idents(n, &ids, sv, &sv->methods[j]);
  }
  if (rc == 0)
    rc = find_clash(n, &ids, err);
  free(ids.v);
  return rc;
}

int crpc__file_names_build(const crpc__request *r, const crpc__pb_file *f,
                           crpc__file_names *out, char **err) {
  char *cpkg = NULL;
  size_t i;
  int rc;

  memset(out, 0, sizeof(*out));
  *err = NULL;
  out->request = r;
  out->pb = f;
  out->package = f->package ? f->package : "";
  if (!usable_path(f->name))
    return bad(err, out, "the file name cannot be #included");
  if (*out->package && !crpc__naming_is_identifier(out->package, 1))
    return bad(err, out, "invalid package name '%s'", out->package);
  out->base = own(out, strip_proto(f->name));
  out->guard = own(out, out->base ? guard_of(out->base) : NULL);
  out->file_desc = own(out, crpc__file_desc_symbol(f->name));
  if (!out->guard || !out->file_desc || crpc__request_c_package(f, &cpkg) < 0)
    return -2;
  if (cpkg && !own(out, cpkg))
    return -2;
  if (cpkg && *cpkg && !crpc__naming_is_identifier(cpkg, 1))
    return bad(err, out, "invalid (pb_c_file).c_package '%s'", cpkg);
  if (f->n_service > 0) {
    out->services = calloc(f->n_service, sizeof(*out->services));
    if (!out->services)
      return -2;
  }
  out->n_services = f->n_service;
  for (i = 0; i < f->n_service; i++) {
    rc = name_service(out, r, cpkg ? cpkg : out->package, i, err);
    if (rc != 0)
      return rc;
  }
  return check_clashes(out, err);
}
