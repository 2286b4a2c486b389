/*
 * codegen/file_desc.c: the crpc_file_desc of a .proto file in a generated
 * .crpc.c (file_desc.h): its FileDescriptorProto re-packed without
 * source_code_info (protobuf-c keeps unknown fields, so custom options
 * survive) as a byte array, its imports, its full names and extensions.
 */
#include "file_desc.h"

#include <stdlib.h>
#include <string.h>

#include "emit.h"

typedef Google__Protobuf__FieldDescriptorProto pb_field;
typedef Google__Protobuf__EnumDescriptorProto pb_enum;

#define TEXT(...) crpc__printer_printf(out, __VA_ARGS__)

/* The files libcrpc carries (proto/CMakeLists.txt builds them). */
static const char *const builtins[] = {
    "crpc/options.proto",
    "google/protobuf/any.proto",
    "google/protobuf/api.proto",
    "google/protobuf/descriptor.proto",
    "google/protobuf/duration.proto",
    "google/protobuf/empty.proto",
    "google/protobuf/field_mask.proto",
    "google/protobuf/source_context.proto",
    "google/protobuf/struct.proto",
    "google/protobuf/timestamp.proto",
    "google/protobuf/type.proto",
    "google/protobuf/wrappers.proto",
    "grpc/health/v1/health.proto",
    "grpc/reflection/v1/reflection.proto",
    "grpc/reflection/v1alpha/reflection.proto",
};

char *crpc__file_desc_symbol(const char *name) {
  crpc__printer p;
  const unsigned char *c;

  crpc__printer_init(&p, (size_t)1 << 20);
  crpc__printer_puts(&p, "crpc_file_");
  for (c = (const unsigned char *)name; *c; c++) {
    if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
        (*c >= '0' && *c <= '9'))
      crpc__printer_add(&p, (const char *)c, 1);
    else if (*c == '/')
      crpc__printer_puts(&p, "__");
    else if (*c == '_')
      crpc__printer_puts(&p, "_u");
    else if (*c == '.')
      crpc__printer_puts(&p, "_d");
    else if (*c == '-')
      crpc__printer_puts(&p, "_h");
    else
      crpc__printer_printf(&p, "_x%02x", *c);
  }
  if (p.failed) {
    crpc__printer_cleanup(&p);
    return NULL;
  }
  return p.data;
}

int crpc__file_desc_builtin(const char *name) {
  size_t i;

  for (i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
    if (strcmp(name, builtins[i]) == 0)
      return 1;
  return 0;
}

/* How a .crpc.c gets at one descriptor. */
typedef enum { REF_EXTERN, REF_WEAK, REF_SELF } ref_kind;

typedef struct entry {
  const crpc__pb_file *file;
  ref_kind kind;
  char *symbol;
} entry;

/* The descriptors one .crpc.c refers to: imports before their importers. */
typedef struct plan {
  const crpc__request *r;
  entry *e;
  size_t n;
  int oom;
} plan;

static int generated(const crpc__request *r, const char *name) {
  size_t i;

  for (i = 0; i < r->pb->n_file_to_generate; i++)
    if (strcmp(r->pb->file_to_generate[i], name) == 0)
      return 1;
  return 0;
}

static entry *plan_find(const plan *pl, const char *name) {
  size_t i;

  for (i = 0; i < pl->n; i++)
    if (strcmp(pl->e[i].file->name, name) == 0)
      return &pl->e[i];
  return NULL;
}

static void plan_add(plan *pl, const crpc__pb_file *f, ref_kind kind) {
  entry *grown = realloc(pl->e, (pl->n + 1) * sizeof(*grown));
  char *sym = crpc__file_desc_symbol(f->name);

  if (!grown || !sym) {
    free(sym);
    if (grown)
      pl->e = grown;
    pl->oom = 1;
    return;
  }
  pl->e = grown;
  pl->e[pl->n].file = f;
  pl->e[pl->n].kind = kind;
  pl->e[pl->n].symbol = sym;
  pl->n++;
}

/* Adds the imports of |f| (weak copies after their own imports). An import
 * missing from the request is an error protoc never makes: skipped. */
static void plan_deps(plan *pl, const crpc__pb_file *f) {
  size_t i;

  for (i = 0; i < f->n_dependency && !pl->oom; i++) {
    const crpc__pb_file *d = crpc__request_file(pl->r, f->dependency[i]);
    if (!d || plan_find(pl, d->name))
      continue;
    if (crpc__file_desc_builtin(d->name) || generated(pl->r, d->name)) {
      plan_add(pl, d, REF_EXTERN);
    } else {
      plan_deps(pl, d);
      if (!plan_find(pl, d->name))
        plan_add(pl, d, REF_WEAK);
    }
  }
}

static void plan_cleanup(plan *pl) {
  size_t i;

  for (i = 0; i < pl->n; i++)
    free(pl->e[i].symbol);
  free(pl->e);
}

/* A growing list of malloc'd strings. */
typedef struct strings {
  char **s;
  size_t n;
  int oom;
} strings;

static void strings_add(strings *l, char *s) {
  char **grown = s ? realloc(l->s, (l->n + 1) * sizeof(*grown)) : NULL;

  if (!grown) {
    free(s);
    l->oom = 1;
    return;
  }
  l->s = grown;
  l->s[l->n++] = s;
}

static void strings_cleanup(strings *l) {
  size_t i;

  for (i = 0; i < l->n; i++)
    free(l->s[i]);
  free(l->s);
}

/* The names a file defines, and its extensions as "extendee\0number". */
typedef struct names {
  strings symbols;
  strings extendees;
  int32_t *numbers;
} names;

static void add_extensions(names *nm, const char *scope, pb_field *const *ext,
                           size_t n) {
  size_t i;

  for (i = 0; i < n; i++) {
    const char *t = ext[i]->extendee ? ext[i]->extendee : "";
    int32_t *grown =
        realloc(nm->numbers, (nm->extendees.n + 1) * sizeof(*grown));
    strings_add(&nm->symbols,
                crpc__printer_format("%s%s", scope, ext[i]->name));
    if (!grown) {
      nm->extendees.oom = 1;
      return;
    }
    nm->numbers = grown;
    nm->numbers[nm->extendees.n] = ext[i]->number;
    strings_add(&nm->extendees, strdup(t[0] == '.' ? t + 1 : t));
  }
}

static void add_enums(names *nm, const char *scope, pb_enum *const *en,
                      size_t n) {
  size_t i;

  for (i = 0; i < n; i++)
    strings_add(&nm->symbols, crpc__printer_format("%s%s", scope, en[i]->name));
}

/* |m| and everything nested in it, |scope| ("pkg.") before its name. */
static void add_message(names *nm, const char *scope,
                        const crpc__pb_message *m) {
  char *full = crpc__printer_format("%s%s", scope, m->name);
  char *inner = crpc__printer_format("%s%s.", scope, m->name);
  size_t i;

  strings_add(&nm->symbols, full);
  if (!inner) {
    nm->symbols.oom = 1;
    return;
  }
  for (i = 0; i < m->n_nested_type; i++)
    add_message(nm, inner, m->nested_type[i]);
  add_enums(nm, inner, m->enum_type, m->n_enum_type);
  add_extensions(nm, inner, m->extension, m->n_extension);
  free(inner);
}

static int names_build(names *nm, const crpc__pb_file *f) {
  const char *pkg = f->package ? f->package : "";
  char *scope = crpc__printer_format("%s%s", pkg, *pkg ? "." : "");
  size_t i, j;

  memset(nm, 0, sizeof(*nm));
  if (!scope)
    return -1;
  for (i = 0; i < f->n_message_type; i++)
    add_message(nm, scope, f->message_type[i]);
  add_enums(nm, scope, f->enum_type, f->n_enum_type);
  for (i = 0; i < f->n_service; i++) {
    const crpc__pb_service *s = f->service[i];
    strings_add(&nm->symbols, crpc__printer_format("%s%s", scope, s->name));
    for (j = 0; j < s->n_method; j++)
      strings_add(&nm->symbols, crpc__printer_format("%s%s.%s", scope, s->name,
                                                     s->method[j]->name));
  }
  add_extensions(nm, scope, f->extension, f->n_extension);
  free(scope);
  return nm->symbols.oom || nm->extendees.oom ? -1 : 0;
}

static void names_cleanup(names *nm) {
  strings_cleanup(&nm->symbols);
  strings_cleanup(&nm->extendees);
  free(nm->numbers);
}

/* |n| elements of |w| columns each, from |text|, in clang-format's
 * columns. */
static void list(crpc__printer *out, char **text, const int *w, size_t n) {
  int sizes[CRPC__PRINTER_MAX_COLUMNS];
  int c = crpc__printer_columns(w, n, out->limit - 4, sizes);
  size_t i;

  for (i = 0; i < n; i++) {
    int col = (int)(i % (size_t)c), last = col == c - 1 || i == n - 1;
    if (col == 0)
      TEXT("    ");
    if (c == 1 && text[i][0] == '"')
      crpc__emit_split_string(out, out->limit, text[i] + 1,
                              (int)strlen(text[i]) - 3, 4);
    else
      TEXT("%s%*s", text[i], last ? 0 : sizes[col] - w[i] + 1,
           last ? "\n" : "");
  }
}

/* "static const TYPE NAME[N] = {", the elements |text| and "};". */
static void array(crpc__printer *out, const char *decl, char **text, size_t n) {
  int *w = malloc(n * sizeof(*w));
  size_t i;

  if (!w) {
    out->failed = 1;
    return;
  }
  for (i = 0; i < n; i++)
    w[i] = crpc__printer_width(text[i], strlen(text[i]));
  TEXT("\nstatic const %s[%zu] = {\n", decl, n);
  list(out, text, w, n);
  TEXT("};\n");
  free(w);
}

/* The serialized |f| without source_code_info, as "0x.." elements. */
static int data_array(crpc__printer *out, const crpc__pb_file *f, size_t k,
                      size_t *len) {
  crpc__pb_file copy = *f;
  uint8_t *buf;
  strings hex = {NULL, 0, 0};
  char *decl;
  size_t i;

  copy.source_code_info = NULL;
  *len = google__protobuf__file_descriptor_proto__get_packed_size(&copy);
  buf = malloc(*len ? *len : 1);
  if (!buf)
    return -1;
  google__protobuf__file_descriptor_proto__pack(&copy, buf);
  for (i = 0; i < *len && !hex.oom; i++)
    strings_add(&hex, crpc__printer_format("0x%02x,", buf[i]));
  free(buf);
  decl = crpc__printer_format("uint8_t file_desc%zu_data_", k);
  if (!hex.oom && decl)
    array(out, decl, hex.s, hex.n);
  free(decl);
  strings_cleanup(&hex);
  return hex.oom || !decl ? -1 : 0;
}

/* The symbols and extensions of |nm| as the arrays of definition |k|. */
static int name_arrays(crpc__printer *out, const names *nm, size_t k) {
  strings text = {NULL, 0, 0};
  char *decl;
  size_t i;

  if (nm->symbols.n > 0) {
    for (i = 0; i < nm->symbols.n; i++)
      strings_add(&text, crpc__printer_format("\"%s\",", nm->symbols.s[i]));
    decl = crpc__printer_format("char *const file_desc%zu_symbols_", k);
    if (!text.oom && decl)
      array(out, decl, text.s, text.n);
    free(decl);
    strings_cleanup(&text);
    if (text.oom || !decl)
      return -1;
  }
  for (i = 0; i < nm->extendees.n; i++) {
    if (i == 0)
      TEXT("\nstatic const crpc_extension_desc file_desc%zu_extensions_[%zu] = "
           "{\n",
           k, nm->extendees.n);
    TEXT("    {\"%s\", %ld},\n", nm->extendees.s[i], (long)nm->numbers[i]);
    if (i + 1 == nm->extendees.n)
      TEXT("};\n");
  }
  return 0;
}

/* |name| as the inside of a C string literal. */
static char *c_string(const char *name) {
  crpc__printer p;
  const unsigned char *c;

  crpc__printer_init(&p, (size_t)1 << 20);
  for (c = (const unsigned char *)name; *c; c++)
    if (*c == '"' || *c == '\\')
      crpc__printer_printf(&p, "\\%c", *c);
    else if (*c < 0x20 || *c >= 0x7f)
      crpc__printer_printf(&p, "\\%03o", *c);
    else
      crpc__printer_add(&p, (const char *)c, 1);
  if (p.failed || !p.data) {
    crpc__printer_cleanup(&p);
    return p.failed ? NULL : strdup("");
  }
  return p.data;
}

typedef struct desc_arg {
  const entry *e;
  size_t k, len, n_deps;
  const names *nm;
  const char *name;
} desc_arg;

static void desc_body(crpc__printer *out, int in, const void *arg) {
  const desc_arg *d = arg;

  crpc__emit_string_member(out, in, "name", d->name);
  TEXT("%*s.data = file_desc%zu_data_,\n", in, "", d->k);
  TEXT("%*s.len = %zu,\n", in, "", d->len);
  if (d->n_deps > 0)
    TEXT("%*s.deps = file_desc%zu_deps_,\n", in, "", d->k);
  else
    TEXT("%*s.deps = NULL,\n", in, "");
  TEXT("%*s.n_deps = %zu,\n", in, "", d->n_deps);
  if (d->nm->symbols.n > 0)
    TEXT("%*s.symbols = file_desc%zu_symbols_,\n", in, "", d->k);
  else
    TEXT("%*s.symbols = NULL,\n", in, "");
  TEXT("%*s.n_symbols = %zu,\n", in, "", d->nm->symbols.n);
  if (d->nm->extendees.n > 0)
    TEXT("%*s.extensions = file_desc%zu_extensions_,\n", in, "", d->k);
  else
    TEXT("%*s.extensions = NULL,\n", in, "");
  TEXT("%*s.n_extensions = %zu,\n", in, "", d->nm->extendees.n);
}

/* The imports of |f| as "&symbol," elements. */
static int deps_array(crpc__printer *out, const plan *pl,
                      const crpc__pb_file *f, size_t k, size_t *n) {
  strings text = {NULL, 0, 0};
  char *decl =
      crpc__printer_format("crpc_file_desc *const file_desc%zu_deps_", k);
  size_t i;

  for (i = 0; i < f->n_dependency; i++) {
    const entry *e = plan_find(pl, f->dependency[i]);
    if (e)
      strings_add(&text, crpc__printer_format("&%s,", e->symbol));
  }
  *n = text.n;
  if (text.n > 0 && !text.oom && decl)
    array(out, decl, text.s, text.n);
  strings_cleanup(&text);
  free(decl);
  return text.oom || !decl ? -1 : 0;
}

/* The arrays and the descriptor of |e|, the |k|th defined here. */
static int define(crpc__printer *out, const plan *pl, const entry *e,
                  size_t k) {
  names nm;
  desc_arg d;
  char *name = NULL;
  int rc = names_build(&nm, e->file);

  d.e = e;
  d.k = k;
  d.nm = &nm;
  if (rc == 0)
    rc = data_array(out, e->file, k, &d.len);
  if (rc == 0)
    rc = deps_array(out, pl, e->file, k, &d.n_deps);
  if (rc == 0)
    rc = name_arrays(out, &nm, k);
  if (rc == 0 && !(name = c_string(e->file->name)))
    rc = -1;
  if (rc == 0) {
    d.name = name;
    TEXT("\n");
    if (e->kind == REF_WEAK) {
      char *why = crpc__printer_format(
          "Weak: every generated file that imports %s defines it, and a "
          "program keeps one.",
          name);
      if (why)
        crpc__emit_comment(out, 0, why);
      else
        out->failed = 1;
      free(why);
      TEXT("#pragma weak %s\n", e->symbol);
    }
    crpc__printer_initializer(out, desc_body, &d, "const crpc_file_desc %s = {",
                              e->symbol);
  }
  free(name);
  names_cleanup(&nm);
  return rc;
}

int crpc__file_desc_emit(const crpc__request *r, const crpc__pb_file *f,
                         int define_self, int declare, crpc__printer *out) {
  plan pl = {r, NULL, 0, 0};
  size_t i, k = 0;
  int rc = 0, any = 0;

  plan_deps(&pl, f);
  if (!pl.oom && !plan_find(&pl, f->name))
    plan_add(&pl, f, define_self ? REF_SELF : REF_EXTERN);
  if (pl.oom)
    rc = -1;
  for (i = 0; i < pl.n && rc == 0; i++) {
    if (pl.e[i].file == f && !declare)
      continue;
    if (!any)
      TEXT("\n");
    crpc__printer_line(out, CRPC__LINE_DECLARATOR, 0,
                       "extern const crpc_file_desc %s;", pl.e[i].symbol);
    any = 1;
  }
  for (i = 0; i < pl.n && rc == 0; i++)
    if (pl.e[i].kind != REF_EXTERN)
      rc = define(out, &pl, &pl.e[i], k++);
  plan_cleanup(&pl);
  return rc == 0 && !out->failed ? 0 : -1;
}
