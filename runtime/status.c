/* runtime/status.c: gRPC status codes and names, crpc_status_info, and the
 * google.rpc.Status message of the grpc-status-details-bin trailer. */
#include "crpc/status.h"

#include <stdlib.h>
#include <string.h>

#include "crpc/error.h"

static const char *const status_names[] = {
#define STATUS_NAME(name, code) [code] = #name,
    CRPC_STATUS_MAP(STATUS_NAME)
#undef STATUS_NAME
};

#define N_STATUS (sizeof(status_names) / sizeof(status_names[0]))

/* Protobuf wire types (protobuf's encoding guide). Groups (3 and 4) are
 * deprecated and absent from google.rpc.Status, so the decoder rejects
 * them with the undefined types 6 and 7. */
enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

/* Tags of google.rpc.Status and google.protobuf.Any: (field << 3) | type. */
enum {
  TAG_STATUS_CODE = 1 << 3 | WT_VARINT,
  TAG_STATUS_MESSAGE = 2 << 3 | WT_LEN,
  TAG_STATUS_DETAILS = 3 << 3 | WT_LEN,
  TAG_ANY_TYPE_URL = 1 << 3 | WT_LEN,
  TAG_ANY_VALUE = 2 << 3 | WT_LEN,
};

const char *crpc_status_name(int code) {
  if (code < 0 || (size_t)code >= N_STATUS)
    return "NOT_A_GRPC_STATUS";
  return status_names[code];
}

int crpc_status_from_name(const char *name, crpc_status *out) {
  if (name == NULL || out == NULL)
    return CRPC_EINVAL;
  for (size_t i = 0; i < N_STATUS; i++) {
    if (strcmp(status_names[i], name) == 0) {
      *out = (crpc_status)i;
      return 0;
    }
  }
  return CRPC_EINVAL;
}

/* ---- crpc_status_info ---- */

/* Copies |n| bytes into a new buffer, or sets NULL when |n| is 0. */
static int dup_bytes(const void *src, size_t n, void **out) {
  *out = NULL;
  if (n == 0)
    return 0;
  void *p = malloc(n);
  if (p == NULL)
    return CRPC_ENOMEM;
  memcpy(p, src, n);
  *out = p;
  return 0;
}

/* Copies a message, mapping NULL and "" to NULL as crpc_status_info keeps
 * them. */
static int dup_message(const char *message, char **out) {
  size_t n = message ? strlen(message) : 0;
  void *p = NULL;
  int rc = dup_bytes(message, n ? n + 1 : 0, &p);
  *out = p;
  return rc;
}

void crpc_status_info_init(crpc_status_info *st) {
  st->code = CRPC_STATUS_OK;
  st->message = NULL;
  st->details = NULL;
  st->details_len = 0;
}

void crpc_status_info_cleanup(crpc_status_info *st) {
  if (st == NULL)
    return;
  free(st->message);
  free(st->details);
  crpc_status_info_init(st);
}

int crpc_status_info_set(crpc_status_info *st, crpc_status code,
                         const char *message) {
  char *m = NULL;
  int rc = dup_message(message, &m);
  if (rc != 0)
    return rc;
  crpc_status_info_cleanup(st);
  st->code = code;
  st->message = m;
  return 0;
}

int crpc_status_info_set_details(crpc_status_info *st, const uint8_t *details,
                                 size_t len) {
  if (details == NULL && len > 0)
    return CRPC_EINVAL;
  void *d = NULL;
  int rc = dup_bytes(details, len, &d);
  if (rc != 0)
    return rc;
  free(st->details);
  st->details = d;
  st->details_len = len;
  return 0;
}

int crpc_status_info_copy(crpc_status_info *dst, const crpc_status_info *src) {
  char *m = NULL;
  void *d = NULL;
  if (dst == src)
    return 0;
  int rc = dup_message(src->message, &m);
  if (rc != 0)
    goto fail;
  rc = dup_bytes(src->details, src->details_len, &d);
  if (rc != 0)
    goto fail;
  crpc_status_info_cleanup(dst);
  dst->code = src->code;
  dst->message = m;
  dst->details = d;
  dst->details_len = d ? src->details_len : 0;
  return 0;
fail:
  free(m);
  return rc;
}

/* ---- google.rpc.Status encoding ---- */

static size_t varint_len(uint64_t v) {
  size_t n = 1;
  for (; v >= 0x80; v >>= 7)
    n++;
  return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v) {
  for (; v >= 0x80; v >>= 7)
    *p++ = (uint8_t)(v | 0x80);
  *p++ = (uint8_t)v;
  return p;
}

/* Length of a length-delimited field with a one-byte tag. */
static size_t len_field_len(size_t n) {
  return 1 + varint_len(n) + n;
}

static uint8_t *put_len_field(uint8_t *p, uint8_t tag, const void *data,
                              size_t n) {
  *p++ = tag;
  p = put_varint(p, n);
  if (n > 0)
    memcpy(p, data, n);
  return p + n;
}

/* Length of an Any's body; proto3 leaves out empty fields. */
static size_t any_body_len(const crpc_status_any *a) {
  size_t n = 0;
  if (a->type_url_len > 0)
    n += len_field_len(a->type_url_len);
  if (a->value_len > 0)
    n += len_field_len(a->value_len);
  return n;
}

static uint8_t *put_any(uint8_t *p, const crpc_status_any *a) {
  *p++ = TAG_STATUS_DETAILS;
  p = put_varint(p, any_body_len(a));
  if (a->type_url_len > 0)
    p = put_len_field(p, TAG_ANY_TYPE_URL, a->type_url, a->type_url_len);
  if (a->value_len > 0)
    p = put_len_field(p, TAG_ANY_VALUE, a->value, a->value_len);
  return p;
}

static int any_ok(const crpc_status_any *a) {
  return (a->type_url != NULL || a->type_url_len == 0) &&
         (a->value != NULL || a->value_len == 0);
}

/* int32 is sign-extended to 64 bits, so negative codes take 10 bytes. */
static uint64_t int32_wire(crpc_status code) {
  return (uint64_t)(int64_t)(int32_t)code;
}

/* Returns the encoded size, or 0 with |*ok| cleared on a bad argument. */
static size_t status_len(crpc_status code, size_t msg_len,
                         const crpc_status_any *any, size_t n_any, int *ok) {
  size_t n = 0;
  *ok = 1;
  if (code != 0)
    n += 1 + varint_len(int32_wire(code));
  if (msg_len > 0)
    n += len_field_len(msg_len);
  for (size_t i = 0; i < n_any; i++) {
    if (!any_ok(&any[i]))
      *ok = 0;
    n += len_field_len(any_body_len(&any[i]));
  }
  return n;
}

int crpc_status_details_encode(crpc_status code, const char *message,
                               const crpc_status_any *any, size_t n_any,
                               uint8_t **out, size_t *out_len) {
  int ok;
  if (out == NULL || out_len == NULL || (n_any > 0 && any == NULL))
    return CRPC_EINVAL;
  size_t msg_len = message ? strlen(message) : 0;
  size_t total = status_len(code, msg_len, any, n_any, &ok);
  if (!ok)
    return CRPC_EINVAL;
  uint8_t *buf = malloc(total ? total : 1);
  if (buf == NULL)
    return CRPC_ENOMEM;
  uint8_t *p = buf;
  if (code != 0) {
    *p++ = TAG_STATUS_CODE;
    p = put_varint(p, int32_wire(code));
  }
  if (msg_len > 0)
    p = put_len_field(p, TAG_STATUS_MESSAGE, message, msg_len);
  for (size_t i = 0; i < n_any; i++)
    p = put_any(p, &any[i]);
  *out = buf;
  *out_len = (size_t)(p - buf);
  return 0;
}

/* ---- google.rpc.Status decoding ---- */

typedef struct reader {
  const uint8_t *p;
  const uint8_t *end;
} reader;

/* Reads a varint of at most 10 bytes whose value fits 64 bits. */
static int read_varint(reader *r, uint64_t *out) {
  uint64_t v = 0;
  for (unsigned i = 0; i < 10; i++) {
    if (r->p == r->end)
      return CRPC_EPROTO;
    uint8_t b = *r->p++;
    if (i == 9 && b > 1)
      return CRPC_EPROTO; /* overlong, or more than 64 bits */
    v |= (uint64_t)(b & 0x7F) << (7 * i);
    if ((b & 0x80) == 0) {
      *out = v;
      return 0;
    }
  }
  return CRPC_EPROTO;
}

static int read_len(reader *r, const uint8_t **data, size_t *len) {
  uint64_t n;
  int rc = read_varint(r, &n);
  if (rc != 0)
    return rc;
  if (n > (uint64_t)(r->end - r->p))
    return CRPC_EPROTO;
  *data = r->p;
  *len = (size_t)n;
  r->p += n;
  return 0;
}

static int read_tag(reader *r, uint32_t *tag) {
  uint64_t t;
  int rc = read_varint(r, &t);
  if (rc != 0)
    return rc;
  if (t > UINT32_MAX || t >> 3 == 0)
    return CRPC_EPROTO; /* field numbers are 1 to 2^29-1 */
  *tag = (uint32_t)t;
  return 0;
}

static int skip_fixed(reader *r, size_t n) {
  if ((size_t)(r->end - r->p) < n)
    return CRPC_EPROTO;
  r->p += n;
  return 0;
}

/* Skips the value of an unknown field of wire type |tag & 7|. */
static int skip_field(reader *r, uint32_t tag) {
  uint64_t v;
  const uint8_t *d;
  size_t n;
  switch (tag & 7) {
  case WT_VARINT:
    return read_varint(r, &v);
  case WT_I64:
    return skip_fixed(r, 8);
  case WT_LEN:
    return read_len(r, &d, &n);
  case WT_I32:
    return skip_fixed(r, 4);
  default:
    return CRPC_EPROTO;
  }
}

static int decode_any(const uint8_t *buf, size_t len, crpc_status_any *a) {
  reader r = {buf, buf + len};
  const uint8_t *d;
  size_t n;
  uint32_t tag;
  *a = (crpc_status_any){NULL, 0, NULL, 0};
  while (r.p < r.end) {
    int rc = read_tag(&r, &tag);
    if (rc == 0 && tag == TAG_ANY_TYPE_URL) {
      rc = read_len(&r, &d, &n);
      a->type_url = (const char *)d;
      a->type_url_len = n;
    } else if (rc == 0 && tag == TAG_ANY_VALUE) {
      rc = read_len(&r, &d, &n);
      a->value = d;
      a->value_len = n;
    } else if (rc == 0) {
      rc = skip_field(&r, tag);
    }
    if (rc != 0)
      return rc;
  }
  return 0;
}

/* What the decoder has found so far; written out only on success. */
typedef struct status_view {
  int32_t code;
  const char *message;
  size_t message_len;
  size_t n_any;
} status_view;

/* Decodes one field of google.rpc.Status. As protobuf does, a known field
 * with an unexpected wire type is skipped as unknown, and the last code and
 * message win. */
static int decode_status_field(reader *r, uint32_t tag, status_view *v,
                               crpc_status_any *any, size_t any_cap) {
  uint64_t x;
  const uint8_t *d;
  size_t n;
  crpc_status_any tmp;
  int rc;
  switch (tag) {
  case TAG_STATUS_CODE:
    rc = read_varint(r, &x);
    v->code = (int32_t)(uint32_t)x; /* int32 keeps the low 32 bits */
    return rc;
  case TAG_STATUS_MESSAGE:
    rc = read_len(r, &d, &n);
    v->message = (const char *)d;
    v->message_len = n;
    return rc;
  case TAG_STATUS_DETAILS:
    rc = read_len(r, &d, &n);
    if (rc == 0)
      rc = decode_any(d, n, &tmp);
    if (rc == 0 && any != NULL && v->n_any < any_cap)
      any[v->n_any] = tmp;
    v->n_any += rc == 0;
    return rc;
  default:
    return skip_field(r, tag);
  }
}

int crpc_status_details_decode(const uint8_t *buf, size_t len, int32_t *code,
                               const char **message, size_t *message_len,
                               crpc_status_any *any, size_t any_cap,
                               size_t *n_any) {
  status_view v = {0, NULL, 0, 0};
  uint32_t tag;
  if (buf == NULL && len > 0)
    return CRPC_EINVAL;
  /* NULL + 0 is undefined in C, so an empty buffer gets no end pointer. */
  reader r = {buf, buf ? buf + len : buf};
  while (r.p < r.end) {
    int rc = read_tag(&r, &tag);
    if (rc == 0)
      rc = decode_status_field(&r, tag, &v, any, any_cap);
    if (rc != 0)
      return rc;
  }
  if (code != NULL)
    *code = v.code;
  if (message != NULL)
    *message = v.message;
  if (message_len != NULL)
    *message_len = v.message_len;
  if (n_any != NULL)
    *n_any = v.n_any;
  return 0;
}
