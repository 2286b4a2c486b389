/* runtime/frame.c: gRPC length-prefixed message framing, encode and decode. */
#include "frame.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "crpc/error.h"
#include "msgcheck.h"

/* The most room taken for a message before its bytes arrive: up to this,
 * a message split across chunks is copied once into a buffer of its size
 * instead of into one that doubles (a copy per step). A peer announcing a
 * larger message pays for the rest as it sends it: with 100 streams a
 * connection holds at most 12.5 MiB of room for bytes not yet sent, near
 * the 8 MiB its flow-control window lets it send anyway. */
#define RESERVE_AHEAD_MAX ((size_t)128 << 10)

int crpc__frame_parse_prefix(const uint8_t p[5], crpc__frame_prefix *out) {
  if (p[0] > 1)
    return CRPC_EPROTO; /* only 0 (plain) and 1 (compressed) are defined */
  out->compressed = p[0];
  out->length =
      (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
  return 0;
}

void crpc__frame_write_prefix(uint8_t p[5], const crpc__frame_prefix *fp) {
  p[0] = fp->compressed;
  p[1] = (uint8_t)(fp->length >> 24);
  p[2] = (uint8_t)(fp->length >> 16);
  p[3] = (uint8_t)(fp->length >> 8);
  p[4] = (uint8_t)fp->length;
}

void crpc__frame_decoder_init(crpc__frame_decoder *d, size_t max_size) {
  memset(d, 0, sizeof(*d));
  d->max_size = max_size;
  crpc__buf_init(&d->payload, max_size);
}

void crpc__frame_decoder_set_headroom(crpc__frame_decoder *d, size_t n) {
  d->headroom = n;
  crpc__buf_cleanup(&d->payload);
  crpc__buf_init(&d->payload, d->max_size + n);
}

void crpc__frame_decoder_set_mem(crpc__frame_decoder *d, crpc__frame_mem_fn fn,
                                 void *ctx) {
  d->mem_fn = fn;
  d->mem_ctx = ctx;
}

uint8_t *crpc__frame_decoder_trade(crpc__frame_decoder *d, uint8_t *mem,
                                   size_t n, size_t *cap) {
  if (!d->delivered)
    return NULL;
  d->delivered = 0;
  size_t len;
  return crpc__buf_exchange(&d->payload, mem, n, &len, cap);
}

uint8_t *crpc__frame_decoder_release(crpc__frame_decoder *d, size_t *cap) {
  size_t len;
  d->delivered = 0;
  return crpc__buf_exchange(&d->payload, NULL, 0, &len, cap);
}

void crpc__frame_decoder_cleanup(crpc__frame_decoder *d) {
  crpc__buf_cleanup(&d->payload);
}

void crpc__frame_decoder_reset(crpc__frame_decoder *d) {
  d->err = 0;
  d->in_payload = 0;
  d->delivered = 0;
  d->prefix_len = 0;
  crpc__buf_reset(&d->payload);
}

/* Takes up to the rest of a prefix from |p|. A complete prefix is checked
 * against the limit at once, before any of its message is buffered. */
static int take_prefix(crpc__frame_decoder *d, const uint8_t *p, size_t n,
                       size_t *used) {
  size_t k = CRPC__FRAME_PREFIX_LEN - d->prefix_len;
  int rc;

  if (k > n)
    k = n;
  memcpy(d->prefix + d->prefix_len, p, k);
  d->prefix_len += k;
  *used += k;
  if (d->prefix_len < CRPC__FRAME_PREFIX_LEN)
    return 0;
  rc = crpc__frame_parse_prefix(d->prefix, &d->cur);
  if (rc != 0)
    return rc;
  if (d->cur.length > d->max_size)
    return CRPC_ETOOBIG;
  d->prefix_len = 0;
  d->in_payload = 1;
  return 0;
}

static int deliver(crpc__frame_decoder *d, const uint8_t *data,
                   crpc__frame_msg *out) {
  out->compressed = d->cur.compressed;
  out->data = data;
  out->len = d->cur.length;
  d->in_payload = 0;
  return 1;
}

/* Takes message bytes from |p|: returns 1 when the message is complete, 0
 * when all |n| bytes were buffered and more are needed. */
static int take_payload(crpc__frame_decoder *d, const uint8_t *p, size_t n,
                        size_t *used, crpc__frame_msg *out) {
  size_t len = crpc__buf_len(&d->payload);
  size_t have = len ? len - d->headroom : 0; /* of this message */
  size_t need = d->cur.length - have;
  size_t k = need < n ? need : n;
  int rc;

  if (have == 0 && n >= need) {
    /* The whole message is in the caller's chunk: no copy. */
    *used += need;
    return deliver(d, p, out);
  }
  if (len == 0) {
    size_t want =
        d->headroom + (need < RESERVE_AHEAD_MAX ? need : RESERVE_AHEAD_MAX);
    if (d->mem_fn && crpc__buf_tail(&d->payload) == NULL) {
      size_t n_mem, was_len, was_cap; /* |payload| had no memory */
      uint8_t *mem = d->mem_fn(d->mem_ctx, want, &n_mem);
      if (mem)
        crpc__buf_exchange(&d->payload, mem, n_mem, &was_len, &was_cap);
    }
    rc = crpc__buf_reserve_exact(&d->payload, want);
    if (rc != 0)
      return rc;
    crpc__buf_commit(&d->payload, d->headroom);
  }
  rc = crpc__buf_append(&d->payload, p, k);
  if (rc != 0)
    return rc;
  *used += k;
  if (k < need)
    return 0;
  d->delivered = 1;
  return deliver(d, crpc__buf_data(&d->payload) + d->headroom, out);
}

int crpc__frame_decoder_feed(crpc__frame_decoder *d, const uint8_t *p, size_t n,
                             size_t *consumed, crpc__frame_msg *out) {
  size_t used = 0;
  int rc = 0;

  *consumed = 0;
  if (d->err != 0)
    return d->err;
  if (d->delivered) {
    /* The previous message was borrowed until this call. */
    crpc__buf_reset(&d->payload);
    d->delivered = 0;
  }
  /* A message always completes in the call that brings its last byte. */
  if (n == 0)
    return 0;
  if (!d->in_payload) {
    rc = take_prefix(d, p, n, &used);
    if (rc != 0)
      goto fail;
    if (!d->in_payload)
      goto done;
  }
  rc = take_payload(d, p + used, n - used, &used, out);
  if (rc < 0)
    goto fail;
done:
  *consumed = used;
  return rc;

fail:
  d->err = rc;
  *consumed = used;
  return rc;
}

int crpc__frame_decoder_mid_message(const crpc__frame_decoder *d) {
  return d->prefix_len > 0 || d->in_payload;
}

/* A message must fit the caller's limit, the 32-bit length and size_t. */
static int check_size(size_t len, size_t max_size) {
  if (len > max_size || len > UINT32_MAX ||
      len > SIZE_MAX - CRPC__FRAME_PREFIX_LEN)
    return CRPC_ETOOBIG;
  return 0;
}

/* Messages at least this large are packed with
 * protobuf_c_message_pack_to_buffer(). protobuf_c_message_pack() packs a
 * sub-message after a 1-byte length and then moves it along when its
 * length takes more bytes (any sub-message over 127 bytes): a second
 * copy of everything nested, per level of nesting. pack_to_buffer()
 * sizes each sub-message first and writes it once, in place; for small
 * messages its call per field costs more than the move saves. Streaming
 * 1 MiB messages, the move was 4 % of crpc's server CPU. */
#define FLAT_PACK_MIN ((size_t)16 << 10)

typedef struct flat_buffer {
  ProtobufCBuffer base;
  uint8_t *at;
} flat_buffer;

static void flat_append(ProtobufCBuffer *b, size_t n, const uint8_t *p) {
  flat_buffer *f = (flat_buffer *)b;
  if (n > 0) {
    memcpy(f->at, p, n);
    f->at += n;
  }
}

/* Packs |msg|, whose packed size is |len|, at |out|. */
static void pack(const ProtobufCMessage *msg, size_t len, uint8_t *out) {
  if (len < FLAT_PACK_MIN) {
    protobuf_c_message_pack(msg, out);
    return;
  }
  flat_buffer f = {.base.append = flat_append, .at = out};
  protobuf_c_message_pack_to_buffer(msg, &f.base);
  assert(f.at == out + len);
}

/* Writes the prefix and reserves room for |len| more bytes behind it,
 * in memory from |mem| when |out| has none and |mem| gives some; returns
 * where they go, committed by the caller. */
static int start_frame(crpc__buf *out, size_t len, int compressed,
                       crpc__frame_mem_fn mem, void *mem_ctx, uint8_t **body) {
  crpc__frame_prefix fp;
  uint8_t *p;
  int rc;

  if (mem && crpc__buf_len(out) == 0 && crpc__buf_room(out) == 0) {
    size_t n, was_len, was_cap;
    uint8_t *m = mem(mem_ctx, CRPC__FRAME_PREFIX_LEN + len, &n);
    if (m)
      free(crpc__buf_exchange(out, m, n, &was_len, &was_cap));
  }
  /* A message alone in its buffer gets just its size: doubled, a 64 KiB
   * message's buffer would be 128 KiB, which glibc maps and unmaps for
   * each message. */
  rc = crpc__buf_len(out) == 0
           ? crpc__buf_reserve_exact(out, CRPC__FRAME_PREFIX_LEN + len)
           : crpc__buf_reserve(out, CRPC__FRAME_PREFIX_LEN + len);
  if (rc != 0)
    return rc;
  p = crpc__buf_tail(out);
  fp.compressed = (uint8_t)compressed;
  fp.length = (uint32_t)len;
  crpc__frame_write_prefix(p, &fp);
  *body = p + CRPC__FRAME_PREFIX_LEN;
  return 0;
}

static int encode(crpc__buf *out, const ProtobufCMessage *msg, size_t max_size,
                  crpc__frame_mem_fn mem, void *mem_ctx) {
  uint8_t *body;
  size_t len;
  int rc;

  if (crpc__msgcheck(msg, NULL, 0) != 0)
    return CRPC_EPACK;
  len = protobuf_c_message_get_packed_size(msg);
  rc = check_size(len, max_size);
  if (rc != 0)
    return rc;
  rc = start_frame(out, len, 0, mem, mem_ctx, &body);
  if (rc != 0)
    return rc;
  /* Packed straight into the frame: no intermediate copy. */
  if (len > 0)
    pack(msg, len, body);
  crpc__buf_commit(out, CRPC__FRAME_PREFIX_LEN + len);
  return 0;
}

int crpc__frame_encode(crpc__buf *out, const ProtobufCMessage *msg,
                       size_t max_size) {
  return encode(out, msg, max_size, NULL, NULL);
}

int crpc__frame_encode_raw(crpc__buf *out, const void *data, size_t len,
                           int compressed, size_t max_size) {
  uint8_t *body;
  int rc;

  rc = check_size(len, max_size);
  if (rc != 0)
    return rc;
  rc = start_frame(out, len, compressed, NULL, NULL, &body);
  if (rc != 0)
    return rc;
  if (len > 0)
    memcpy(body, data, len);
  crpc__buf_commit(out, CRPC__FRAME_PREFIX_LEN + len);
  return 0;
}

/* Packs |msg|, of |len| packed bytes, into |packed|, sized for it. */
static int pack_into(crpc__buf *packed, const ProtobufCMessage *msg,
                     size_t len) {
  int rc;

  if (len == 0)
    return 0;
  rc = crpc__buf_reserve(packed, len);
  if (rc != 0)
    return rc;
  pack(msg, len, crpc__buf_tail(packed));
  crpc__buf_commit(packed, len);
  return 0;
}

/* Compresses the packed message behind a placeholder prefix, then fills
 * the prefix in once the compressed length is known. */
static int append_compressed(crpc__buf *out, const crpc__buf *packed,
                             crpc__encoding enc) {
  static const uint8_t placeholder[CRPC__FRAME_PREFIX_LEN];
  size_t start = crpc__buf_len(out);
  crpc__frame_prefix fp;
  size_t clen;
  int rc;

  rc = crpc__buf_append(out, placeholder, sizeof(placeholder));
  if (rc != 0)
    return rc;
  rc = crpc__compress_encode(enc, crpc__buf_data(packed), crpc__buf_len(packed),
                             out);
  if (rc != 0)
    goto fail;
  clen = crpc__buf_len(out) - start - CRPC__FRAME_PREFIX_LEN;
  if (clen > UINT32_MAX) {
    rc = CRPC_ETOOBIG;
    goto fail;
  }
  fp.compressed = 1;
  fp.length = (uint32_t)clen;
  crpc__frame_write_prefix(crpc__buf_data(out) + start, &fp);
  return 0;

fail:
  crpc__buf_truncate(out, start);
  return rc;
}

int crpc__frame_encode_compressed(crpc__buf *out, const ProtobufCMessage *msg,
                                  crpc__encoding enc, size_t max_size) {
  return crpc__frame_encode_in(out, msg, enc, max_size, NULL, NULL);
}

int crpc__frame_encode_in(crpc__buf *out, const ProtobufCMessage *msg,
                          crpc__encoding enc, size_t max_size,
                          crpc__frame_mem_fn mem, void *mem_ctx) {
  crpc__buf packed;
  size_t len;
  int rc;

  if (enc == CRPC__ENCODING_IDENTITY)
    return encode(out, msg, max_size, mem, mem_ctx);
  if (crpc__compress_name(enc) == NULL)
    return CRPC_EENCODING;
  if (crpc__msgcheck(msg, NULL, 0) != 0)
    return CRPC_EPACK;
  len = protobuf_c_message_get_packed_size(msg);
  if (len > max_size)
    return CRPC_ETOOBIG;
  crpc__buf_init(&packed, len);
  rc = pack_into(&packed, msg, len);
  if (rc == 0)
    rc = append_compressed(out, &packed, enc);
  crpc__buf_cleanup(&packed);
  return rc;
}

int crpc__frame_unpack(const crpc__frame_msg *m, crpc__encoding enc,
                       size_t max_size, crpc__buf *scratch,
                       const ProtobufCMessageDescriptor *desc,
                       ProtobufCAllocator *alloc, ProtobufCMessage **out) {
  const uint8_t *data = m->data;
  size_t len = m->len;
  ProtobufCMessage *msg;
  int rc;

  if (m->compressed) {
    if (enc == CRPC__ENCODING_IDENTITY)
      return CRPC_EPROTO; /* flag 1 needs a grpc-encoding to decode it */
    crpc__buf_reset(scratch);
    rc = crpc__compress_decode(enc, m->data, m->len, max_size, scratch);
    if (rc != 0)
      return rc;
    data = crpc__buf_len(scratch) > 0 ? crpc__buf_data(scratch) : m->data;
    len = crpc__buf_len(scratch);
  } else if (len > max_size) {
    return CRPC_ETOOBIG;
  }
  msg = protobuf_c_message_unpack(desc, alloc, len, data);
  if (msg == NULL)
    return CRPC_EUNPACK;
  *out = msg;
  return 0;
}
