/* runtime/msgcheck.c: whether protobuf-c can pack a message safely. */
#include "msgcheck.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "crpc/error.h"

/* Where the description of a failure goes. The innermost field writes
 * "field: problem"; each level it unwinds through puts its own field name
 * (and index) in front, and the top level the message's full name. */
typedef struct why_buf {
  char *s;
  size_t cap;
} why_buf;

static void why_set(why_buf *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void why_set(why_buf *w, const char *fmt, ...) {
  va_list ap;
  if (w->s == NULL)
    return;
  va_start(ap, fmt);
  vsnprintf(w->s, w->cap, fmt, ap);
  va_end(ap);
}

/* Puts |fmt| in front of what |w| holds, cutting the end if need be. */
static void why_prepend(why_buf *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void why_prepend(why_buf *w, const char *fmt, ...) {
  char head[160];
  va_list ap;
  if (w->s == NULL)
    return;
  va_start(ap, fmt);
  int n = vsnprintf(head, sizeof(head), fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  size_t hl = (size_t)n < sizeof(head) ? (size_t)n : sizeof(head) - 1;
  if (hl >= w->cap)
    hl = w->cap - 1;
  size_t tl = strlen(w->s);
  if (hl + tl >= w->cap)
    tl = w->cap - 1 - hl;
  memmove(w->s + hl, w->s, tl);
  memcpy(w->s, head, hl);
  w->s[hl + tl] = '\0';
}

static int check_message(const ProtobufCMessage *m, int depth, why_buf *w);

/* |sub|, the value of a message field described by |f|, or element of a
 * repeated one. */
static int check_sub(const ProtobufCFieldDescriptor *f,
                     const ProtobufCMessage *sub, int depth, why_buf *w) {
  const ProtobufCMessageDescriptor *want = f->descriptor;
  if (sub->descriptor == NULL) {
    why_set(w, ": a %s that was never initialized (no descriptor)", want->name);
    return CRPC_EPACK;
  }
  if (sub->descriptor != want) {
    why_set(w, ": a %s where a %s belongs",
            sub->descriptor->magic == PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC
                ? sub->descriptor->name
                : "message of no known type",
            want->name);
    return CRPC_EPACK;
  }
  if (depth >= CRPC__MSGCHECK_MAX_DEPTH) {
    why_set(w, ": nested deeper than %d messages (does it contain itself?)",
            CRPC__MSGCHECK_MAX_DEPTH);
    return CRPC_EPACK;
  }
  return check_message(sub, depth + 1, w);
}

static int bad_bytes(const ProtobufCBinaryData *bd) {
  return bd->len > 0 && bd->data == NULL;
}

/* A repeated field of |count| (> 0) elements at |arr|. On failure |*bad|
 * is the element's index, or SIZE_MAX for the field itself. */
static int check_repeated(const ProtobufCFieldDescriptor *f, size_t count,
                          const void *arr, int depth, why_buf *w, size_t *bad) {
  *bad = SIZE_MAX;
  if (arr == NULL) {
    why_set(w, ": %zu elements but no array (NULL)", count);
    return CRPC_EPACK;
  }
  for (size_t i = 0; i < count; i++) {
    *bad = i;
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING:
      if (((char *const *)arr)[i] == NULL) {
        why_set(w, ": NULL string in a repeated field");
        return CRPC_EPACK;
      }
      break;
    case PROTOBUF_C_TYPE_BYTES:
      if (bad_bytes(&((const ProtobufCBinaryData *)arr)[i])) {
        why_set(w, ": %zu bytes with NULL data",
                ((const ProtobufCBinaryData *)arr)[i].len);
        return CRPC_EPACK;
      }
      break;
    case PROTOBUF_C_TYPE_MESSAGE: {
      const ProtobufCMessage *sub = ((ProtobufCMessage *const *)arr)[i];
      if (sub == NULL) {
        why_set(w, ": NULL message in a repeated field");
        return CRPC_EPACK;
      }
      if (check_sub(f, sub, depth, w) != 0)
        return CRPC_EPACK;
      break;
    }
    default:
      return 0; /* scalars: nothing to follow */
    }
  }
  return 0;
}

/* The member of a oneof whose case names it (|f|, at |member|). */
static int check_oneof(const ProtobufCFieldDescriptor *f, const void *member,
                       int depth, why_buf *w) {
  const void *ptr = *(const void *const *)member;
  switch (f->type) {
  case PROTOBUF_C_TYPE_STRING:
  case PROTOBUF_C_TYPE_MESSAGE:
    if (ptr == NULL) {
      why_set(w, ": the oneof's case names this field, which is NULL");
      return CRPC_EPACK;
    }
    return f->type == PROTOBUF_C_TYPE_MESSAGE ? check_sub(f, ptr, depth, w) : 0;
  case PROTOBUF_C_TYPE_BYTES:
    if (bad_bytes(member)) {
      why_set(w, ": %zu bytes with NULL data",
              ((const ProtobufCBinaryData *)member)->len);
      return CRPC_EPACK;
    }
    return 0;
  default:
    return 0;
  }
}

/* Every field is looked at once; most are decided by their label and type
 * alone (scalars, strings, empty repeated fields, NULL sub-messages), so
 * that a typical reply costs a few compares per field. */
static int check_message(const ProtobufCMessage *m, int depth, why_buf *w) {
  const ProtobufCMessageDescriptor *d = m->descriptor;
  const char *base = (const char *)m;
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    const void *member = base + f->offset;
    const char *q = base + f->quantifier_offset;
    size_t bad = SIZE_MAX;
    int rc;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
      size_t count = *(const size_t *)q;
      if (count == 0)
        continue;
      rc = check_repeated(f, count, *(const void *const *)member, depth, w,
                          &bad);
    } else if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
      if (*(const uint32_t *)q != f->id)
        continue;
      rc = check_oneof(f, member, depth, w);
    } else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
      const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)member;
      if (sub == NULL)
        continue;
      rc = check_sub(f, sub, depth, w);
    } else if (f->type == PROTOBUF_C_TYPE_BYTES) {
      /* A proto2 optional field without its has_ flag is not sent. */
      if (!bad_bytes(member) || (f->label == PROTOBUF_C_LABEL_OPTIONAL &&
                                 !*(const protobuf_c_boolean *)q))
        continue;
      why_set(w, ": %zu bytes with NULL data",
              ((const ProtobufCBinaryData *)member)->len);
      rc = CRPC_EPACK;
    } else {
      continue; /* scalars, and strings: protobuf-c packs NULL as "" */
    }
    if (rc != 0) {
      if (bad != SIZE_MAX)
        why_prepend(w, ".%s[%zu]", f->name, bad);
      else
        why_prepend(w, ".%s", f->name);
      return rc;
    }
  }
  if (m->n_unknown_fields > 0) {
    for (unsigned i = 0; i < m->n_unknown_fields; i++) {
      if (m->unknown_fields == NULL ||
          (m->unknown_fields[i].len > 0 && m->unknown_fields[i].data == NULL)) {
        why_set(w, ": an unknown field (tag %u) with NULL data",
                m->unknown_fields ? m->unknown_fields[i].tag : 0);
        return CRPC_EPACK;
      }
    }
  }
  return 0;
}

int crpc__msgcheck(const ProtobufCMessage *msg, char *why, size_t len) {
  why_buf w = {len > 0 ? why : NULL, len};
  if (w.s)
    w.s[0] = '\0';
  if (msg == NULL || msg->descriptor == NULL ||
      msg->descriptor->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC) {
    why_set(&w, "%s",
            msg == NULL ? "a NULL message"
                        : "a message that was never initialized (no "
                          "descriptor)");
    return CRPC_EPACK;
  }
  if (check_message(msg, 0, &w) != 0) {
    why_prepend(&w, "%s", msg->descriptor->name);
    return CRPC_EPACK;
  }
  return 0;
}
