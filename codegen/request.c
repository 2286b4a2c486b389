/*
 * codegen/request.c: decoding the CodeGeneratorRequest, the index of its
 * message types, and the comments and options the generator reads from it.
 *
 * protobuf-c decodes descriptor.proto without knowing crpc's or its own
 * extensions, so their values are read here from the unknown fields it
 * keeps, with the protobuf wire format spelled out in a few helpers.
 */
#include "request.h"

#include <stdlib.h>
#include <string.h>

/* Nesting deeper than this is not indexed (its types are then unknown),
 * which bounds the recursion on hostile input. */
#define MAX_NESTING 100

/* Descriptor field numbers of the SourceCodeInfo paths used here. */
#define PATH_FILE_SERVICE 6
#define PATH_SERVICE_METHOD 2

static void free_msgs(crpc__request *r) {
  size_t i;
  for (i = 0; i < r->n_msgs; i++)
    free(r->msgs[i].full_name);
  free(r->msgs);
  r->msgs = NULL;
  r->n_msgs = r->cap_msgs = 0;
}

void crpc__request_free(crpc__request *r) {
  if (!r)
    return;
  free_msgs(r);
  if (r->pb)
    protobuf_c_message_free_unpacked(&r->pb->base, NULL);
  free(r);
}

/* Joins |prefix| ("" for none) and |name| with a dot. */
static char *join_name(const char *prefix, const char *name) {
  size_t a = strlen(prefix), b = strlen(name);
  char *s = malloc(a + b + 2);

  if (!s)
    return NULL;
  memcpy(s, prefix, a);
  if (a > 0)
    s[a++] = '.';
  memcpy(s + a, name, b + 1);
  return s;
}

static int add_msg(crpc__request *r, const crpc__pb_file *f,
                   const crpc__pb_message *m, char *full_name) {
  if (r->n_msgs == r->cap_msgs) {
    size_t cap = r->cap_msgs ? r->cap_msgs * 2 : 64;
    crpc__message_ref *n = realloc(r->msgs, cap * sizeof(*n));
    if (!n)
      return -1;
    r->msgs = n;
    r->cap_msgs = cap;
  }
  r->msgs[r->n_msgs].full_name = full_name;
  r->msgs[r->n_msgs].file = f;
  r->msgs[r->n_msgs].msg = m;
  r->n_msgs++;
  return 0;
}

/* Indexes |m| (named |prefix|.name) and its nested types. Returns 0 or -1
 * when out of memory. */
static int index_msg(crpc__request *r, const crpc__pb_file *f,
                     const crpc__pb_message *m, const char *prefix, int depth) {
  char *full;
  size_t i;

  if (!m || !m->name || depth > MAX_NESTING)
    return 0;
  full = join_name(prefix, m->name);
  if (!full || add_msg(r, f, m, full) != 0) {
    free(full);
    return -1;
  }
  for (i = 0; i < m->n_nested_type; i++)
    if (index_msg(r, f, m->nested_type[i], full, depth + 1) != 0)
      return -1;
  return 0;
}

static int cmp_ref(const void *a, const void *b) {
  return strcmp(((const crpc__message_ref *)a)->full_name,
                ((const crpc__message_ref *)b)->full_name);
}

static int index_all(crpc__request *r) {
  size_t i, j;

  for (i = 0; i < r->pb->n_proto_file; i++) {
    const crpc__pb_file *f = r->pb->proto_file[i];
    const char *pkg = f->package ? f->package : "";
    for (j = 0; j < f->n_message_type; j++)
      if (index_msg(r, f, f->message_type[j], pkg, 0) != 0)
        return -1;
  }
  if (r->n_msgs > 0)
    qsort(r->msgs, r->n_msgs, sizeof(*r->msgs), cmp_ref);
  return 0;
}

int crpc__request_decode(const uint8_t *data, size_t len, crpc__request **out) {
  crpc__request *r = calloc(1, sizeof(*r));
  int rc = -2;

  if (!r)
    return -2;
  r->pb = google__protobuf__compiler__code_generator_request__unpack(NULL, len,
                                                                     data);
  if (!r->pb) {
    rc = -1; /* protobuf-c does not tell bad bytes from no memory */
    goto fail;
  }
  if (index_all(r) != 0)
    goto fail;
  *out = r;
  return 0;

fail:
  crpc__request_free(r);
  return rc;
}

const crpc__pb_file *crpc__request_file(const crpc__request *r,
                                        const char *name) {
  size_t i;
  for (i = 0; i < r->pb->n_proto_file; i++)
    if (r->pb->proto_file[i]->name &&
        strcmp(r->pb->proto_file[i]->name, name) == 0)
      return r->pb->proto_file[i];
  return NULL;
}

const crpc__message_ref *crpc__request_message(const crpc__request *r,
                                               const char *type_name) {
  crpc__message_ref key;

  if (!type_name || r->n_msgs == 0)
    return NULL;
  key.full_name = (char *)(type_name[0] == '.' ? type_name + 1 : type_name);
  return bsearch(&key, r->msgs, r->n_msgs, sizeof(*r->msgs), cmp_ref);
}

const char *crpc__request_comment(const crpc__pb_file *f, size_t s, int m) {
  const Google__Protobuf__SourceCodeInfo *info = f->source_code_info;
  size_t i, want = m >= 0 ? 4 : 2;

  for (i = 0; info && i < info->n_location; i++) {
    const Google__Protobuf__SourceCodeInfo__Location *l = info->location[i];
    if (l->n_path != want || l->path[0] != PATH_FILE_SERVICE ||
        l->path[1] != (int32_t)s)
      continue;
    if (m >= 0 && (l->path[2] != PATH_SERVICE_METHOD || l->path[3] != m))
      continue;
    return l->leading_comments;
  }
  return NULL;
}

/* ---- the wire format, for options kept as unknown fields ---- */

/* Reads a varint at |*p| (before |end|), advancing |*p|. Returns 0, or -1
 * for a truncated or overlong one. */
static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
  unsigned shift;

  *v = 0;
  for (shift = 0; shift < 64 && *p < end; shift += 7) {
    uint8_t b = *(*p)++;
    *v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80))
      return 0;
  }
  return -1;
}

/* The payload of the length-delimited value that spans [p, end) with its
 * length prefix. Returns 0, or -1 if malformed. */
static int delimited(const uint8_t *p, const uint8_t *end, const uint8_t **data,
                     size_t *len) {
  uint64_t n;

  if (read_varint(&p, end, &n) != 0 || n != (uint64_t)(end - p))
    return -1;
  *data = p;
  *len = (size_t)n;
  return 0;
}

/* The last value of the varint field |number| among |base|'s unknown
 * fields: returns 1 and sets |*v|, or 0 when it is absent. */
static int unknown_varint(const ProtobufCMessage *base, uint32_t number,
                          uint64_t *v) {
  size_t i;
  int found = 0;

  for (i = 0; i < base->n_unknown_fields; i++) {
    const ProtobufCMessageUnknownField *u = &base->unknown_fields[i];
    const uint8_t *p = u->data;
    if (u->tag == number && u->wire_type == PROTOBUF_C_WIRE_TYPE_VARINT &&
        read_varint(&p, u->data + u->len, v) == 0)
      found = 1;
  }
  return found;
}

int crpc__request_coroutine(const crpc__pb_service *s,
                            const crpc__pb_method *m) {
  uint64_t v;

  if (m->options && unknown_varint(&m->options->base, CRPC__OPT_COROUTINE, &v))
    return v != 0;
  if (s->options &&
      unknown_varint(&s->options->base, CRPC__OPT_DEFAULT_COROUTINE, &v))
    return v != 0;
  return 0;
}

/* Skips a field of wire type |wt| at |*p|. Returns 0, or -1 if it cannot
 * (malformed, or a group). */
static int skip_field(const uint8_t **p, const uint8_t *end, unsigned wt) {
  uint64_t n;

  switch (wt) {
  case PROTOBUF_C_WIRE_TYPE_VARINT:
    return read_varint(p, end, &n);
  case PROTOBUF_C_WIRE_TYPE_64BIT:
    n = 8;
    break;
  case PROTOBUF_C_WIRE_TYPE_32BIT:
    n = 4;
    break;
  case PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED:
    if (read_varint(p, end, &n) != 0)
      return -1;
    break;
  default:
    return -1;
  }
  if (n > (uint64_t)(end - *p))
    return -1;
  *p += n;
  return 0;
}

/* Finds the last string field |number| in the encoded message |data|. */
static int last_string(const uint8_t *data, size_t len, uint32_t number,
                       const uint8_t **s, size_t *n) {
  const uint8_t *p = data, *end = data + len, *start;
  uint64_t key;
  int found = 0;

  while (p < end) {
    if (read_varint(&p, end, &key) != 0)
      break;
    start = p;
    if (skip_field(&p, end, (unsigned)(key & 7)) != 0)
      break;
    if ((key >> 3) == number && (key & 7) == 2 &&
        delimited(start, p, s, n) == 0)
      found = 1;
  }
  return found;
}

int crpc__request_c_package(const crpc__pb_file *f, char **out) {
  const ProtobufCMessage *base;
  const uint8_t *s = NULL, *d;
  size_t i, n = 0, dl;
  int found = 0;

  *out = NULL;
  if (!f->options)
    return 0;
  base = &f->options->base;
  /* protobuf-c keeps each occurrence of (pb_c_file); as protobuf merges
   * them, the last c_package wins. Its bytes include the length prefix. */
  for (i = 0; i < base->n_unknown_fields; i++) {
    const ProtobufCMessageUnknownField *u = &base->unknown_fields[i];
    if (u->tag == CRPC__OPT_PB_C_FILE &&
        u->wire_type == PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED &&
        delimited(u->data, u->data + u->len, &d, &dl) == 0 &&
        last_string(d, dl, CRPC__OPT_PB_C_PACKAGE, &s, &n))
      found = 1;
  }
  if (!found)
    return 0;
  *out = malloc(n + 1);
  if (!*out)
    return -1;
  memcpy(*out, s, n);
  (*out)[n] = '\0';
  return 1;
}

static int is_group(const Google__Protobuf__FieldDescriptorProto *fd) {
  return fd->has_type &&
         fd->type == GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_GROUP;
}

static const Google__Protobuf__FieldDescriptorProto *
group_in(const crpc__pb_message *m, const char *prefix, char **msg_name,
         int *oom, int depth) {
  const Google__Protobuf__FieldDescriptorProto *g = NULL;
  char *full;
  size_t i;

  if (!m->name || depth > MAX_NESTING)
    return NULL;
  full = join_name(prefix, m->name);
  if (!full) {
    *oom = 1;
    return NULL;
  }
  for (i = 0; i < m->n_field + m->n_extension && !g; i++) {
    const Google__Protobuf__FieldDescriptorProto *fd =
        i < m->n_field ? m->field[i] : m->extension[i - m->n_field];
    if (is_group(fd))
      g = fd;
  }
  if (g) {
    *msg_name = full;
    return g;
  }
  for (i = 0; i < m->n_nested_type && !g && !*oom; i++)
    g = group_in(m->nested_type[i], full, msg_name, oom, depth + 1);
  free(full);
  return g;
}

const Google__Protobuf__FieldDescriptorProto *
crpc__request_find_group(const crpc__pb_file *f, char **msg_name, int *oom) {
  const Google__Protobuf__FieldDescriptorProto *g = NULL;
  size_t i;

  *msg_name = NULL;
  *oom = 0;
  for (i = 0; i < f->n_extension; i++)
    if (is_group(f->extension[i])) {
      /* a group extending |extendee|: name that message */
      const char *e =
          f->extension[i]->extendee ? f->extension[i]->extendee : "";
      *msg_name = join_name("", e[0] == '.' ? e + 1 : e);
      *oom = *msg_name == NULL;
      return *oom ? NULL : f->extension[i];
    }
  for (i = 0; i < f->n_message_type && !g && !*oom; i++)
    g = group_in(f->message_type[i], f->package ? f->package : "", msg_name,
                 oom, 0);
  return g;
}
