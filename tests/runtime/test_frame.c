/* tests/runtime/test_frame.c: gRPC length-prefixed message framing. */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "crpc/error.h"
#include "frame.h"
#include "test_messages.pb-c.h"

#define MIB ((size_t)1 << 20)

static uint32_t xorshift(uint32_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 17;
  *s ^= *s << 5;
  return *s;
}

/* A stream of messages, their expected contents, and its wire bytes. */
typedef struct stream {
  size_t count;
  uint8_t **body;
  size_t *len;
  int *flag;
  crpc__buf wire;
} stream;

static size_t pick_len(size_t i, uint32_t *seed) {
  static const size_t fixed[] = {0, 1, 4, 5, 6, 0, 0, 255, 256, 65536};

  if (i < sizeof(fixed) / sizeof(fixed[0]))
    return fixed[i];
  if (i == 40)
    return MIB;
  if (i == 41)
    return MIB - 1;
  if (i == 120)
    return MIB + 3;
  switch (xorshift(seed) % 4) {
  case 0:
    return 0;
  case 1:
    return xorshift(seed) % 8;
  case 2:
    return xorshift(seed) % 300;
  default:
    return xorshift(seed) % 20000;
  }
}

/* Builds |count| messages: zero-length ones, small ones, and three of
 * about 1 MiB, with random flags and contents. */
static void stream_build(stream *s, size_t count) {
  uint32_t seed = 2024;
  size_t i;
  size_t j;

  s->count = count;
  s->body = calloc(count, sizeof(*s->body));
  s->len = calloc(count, sizeof(*s->len));
  s->flag = calloc(count, sizeof(*s->flag));
  cr_assert(s->body && s->len && s->flag);
  crpc__buf_init(&s->wire, SIZE_MAX);
  for (i = 0; i < count; i++) {
    s->len[i] = pick_len(i, &seed);
    s->flag[i] = (int)(xorshift(&seed) & 1);
    s->body[i] = malloc(s->len[i] + 1);
    cr_assert_not_null(s->body[i]);
    for (j = 0; j < s->len[i]; j++)
      s->body[i][j] = (uint8_t)xorshift(&seed);
    cr_assert_eq(crpc__frame_encode_raw(&s->wire, s->body[i], s->len[i],
                                        s->flag[i], 2 * MIB),
                 0);
  }
}

static void stream_free(stream *s) {
  size_t i;

  for (i = 0; i < s->count; i++)
    free(s->body[i]);
  free(s->body);
  free(s->len);
  free(s->flag);
  crpc__buf_cleanup(&s->wire);
}

typedef struct decode_state {
  crpc__frame_decoder d;
  const stream *s;
  size_t next;     /* index of the next expected message */
  size_t zerocopy; /* messages that pointed into the fed chunk */
} decode_state;

static void check_msg(decode_state *st, const crpc__frame_msg *m,
                      const uint8_t *chunk, size_t n) {
  const stream *s = st->s;
  size_t i = st->next++;

  cr_assert_lt(i, s->count, "more messages than were sent");
  cr_assert_not_null(m->data);
  cr_assert_eq(m->len, s->len[i], "message %zu length", i);
  cr_assert_eq(m->compressed, s->flag[i], "message %zu flag", i);
  if (m->len > 0 && memcmp(m->data, s->body[i], m->len) != 0)
    cr_assert_fail("message %zu content differs", i);
  if (m->len > 0 && m->data >= chunk && m->data + m->len <= chunk + n)
    st->zerocopy++;
}

/* Feeds one chunk, copied into a heap block of exactly its size so that
 * AddressSanitizer catches any read past it, and takes every message. */
static void feed_chunk(decode_state *st, const uint8_t *p, size_t n) {
  uint8_t *chunk = malloc(n > 0 ? n : 1);
  const uint8_t *c = chunk;
  size_t left = n;
  size_t used;
  crpc__frame_msg m;
  int rc;

  cr_assert_not_null(chunk);
  if (n > 0)
    memcpy(chunk, p, n);
  for (;;) {
    rc = crpc__frame_decoder_feed(&st->d, c, left, &used, &m);
    cr_assert_geq(rc, 0, "feed failed: %s", crpc_strerror(rc));
    cr_assert_leq(used, left);
    c += used;
    left -= used;
    if (rc == 0)
      break;
    check_msg(st, &m, chunk, n);
  }
  cr_assert_eq(left, 0, "a return of 0 means all bytes were used");
  free(chunk);
}

/* Decodes the whole stream in chunks from |next_size| and checks it. */
static size_t decode_stream(const stream *s,
                            size_t (*next_size)(uint32_t *seed),
                            uint32_t seed) {
  decode_state st;
  const uint8_t *w = crpc__buf_data(&s->wire);
  size_t total = crpc__buf_len(&s->wire);
  size_t pos = 0;
  size_t k;

  memset(&st, 0, sizeof(st));
  crpc__frame_decoder_init(&st.d, 2 * MIB);
  st.s = s;
  while (pos < total) {
    k = next_size(&seed);
    if (k > total - pos)
      k = total - pos;
    feed_chunk(&st, w + pos, k);
    pos += k;
  }
  cr_assert_eq(st.next, s->count, "every message came out");
  cr_assert_not(crpc__frame_decoder_mid_message(&st.d));
  crpc__frame_decoder_cleanup(&st.d);
  return st.zerocopy;
}

static size_t one_byte(uint32_t *seed) {
  (void)seed;
  return 1;
}

static size_t everything(uint32_t *seed) {
  (void)seed;
  return SIZE_MAX;
}

static size_t random_size(uint32_t *seed) {
  switch (xorshift(seed) % 4) {
  case 0:
    return 1 + xorshift(seed) % 7;
  case 1:
    return 1 + xorshift(seed) % 64;
  case 2:
    return 1 + xorshift(seed) % 4096;
  default:
    return 1 + xorshift(seed) % (2 * MIB);
  }
}

static void feed_bytes(crpc__frame_decoder *d, const void *p, size_t n,
                       int want_rc, size_t want_used) {
  crpc__frame_msg m;
  size_t used = 12345;

  cr_assert_eq(crpc__frame_decoder_feed(d, p, n, &used, &m), want_rc);
  cr_assert_eq(used, want_used);
}

static Crpc__Test__Echo *big_echo(size_t payload_len) {
  static Crpc__Test__Echo m;
  static char *tags[] = {"x", "yy"};
  uint8_t *p = malloc(payload_len);
  size_t i;

  cr_assert_not_null(p);
  for (i = 0; i < payload_len; i++)
    p[i] = (uint8_t) "abcabcabd"[i % 9];
  crpc__test__echo__init(&m);
  m.text = "compressed";
  m.payload.data = p;
  m.payload.len = payload_len;
  m.n = 7;
  m.n_tags = 2;
  m.tags = tags;
  return &m;
}

Test(frame, prefix_round_trip, .timeout = 60) {
  static const crpc__frame_prefix cases[] = {
      {0, 0}, {1, 0}, {0, 1}, {1, 0x01020304}, {0, 0xFFFFFFFFu}};
  uint8_t p[5];
  crpc__frame_prefix fp;
  size_t i;

  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    crpc__frame_write_prefix(p, &cases[i]);
    cr_assert_eq(crpc__frame_parse_prefix(p, &fp), 0);
    cr_assert_eq(fp.compressed, cases[i].compressed);
    cr_assert_eq(fp.length, cases[i].length);
  }
  crpc__frame_write_prefix(p, &cases[3]);
  cr_assert_arr_eq(p, "\x01\x01\x02\x03\x04", 5);
}

Test(frame, rejects_unknown_flag, .timeout = 60) {
  const uint8_t two[5] = {2, 0, 0, 0, 1};
  const uint8_t high[5] = {0x80, 0, 0, 0, 1};
  crpc__frame_prefix fp = {0, 99};

  cr_assert_eq(crpc__frame_parse_prefix(two, &fp), CRPC_EPROTO);
  cr_assert_eq(crpc__frame_parse_prefix(high, &fp), CRPC_EPROTO);
  cr_assert_eq(fp.length, 99, "untouched after a failure");
}

Test(frame, exact_bytes_of_a_known_message, .timeout = 60) {
  Crpc__Test__Echo m;
  crpc__buf out;

  crpc__test__echo__init(&m);
  m.text = "hi";
  crpc__buf_init(&out, 100);
  cr_assert_eq(crpc__frame_encode(&out, &m.base, 100), 0);
  cr_assert_eq(crpc__buf_len(&out), 9);
  cr_assert_arr_eq(crpc__buf_data(&out), "\x00\x00\x00\x00\x04\x0a\x02hi", 9);
  crpc__buf_cleanup(&out);
}

Test(frame, exact_bytes_of_an_empty_message, .timeout = 60) {
  Crpc__Test__Echo m;
  crpc__buf out;

  crpc__test__echo__init(&m);
  crpc__buf_init(&out, 100);
  cr_assert_eq(crpc__frame_encode(&out, &m.base, 0), 0);
  cr_assert_eq(crpc__buf_len(&out), 5);
  cr_assert_arr_eq(crpc__buf_data(&out), "\x00\x00\x00\x00\x00", 5);
  crpc__buf_cleanup(&out);
}

Test(frame, encoder_appends_frames, .timeout = 60) {
  Crpc__Test__Echo m;
  crpc__buf out;

  crpc__test__echo__init(&m);
  m.text = "hi";
  crpc__buf_init(&out, 100);
  cr_assert_eq(crpc__buf_append(&out, "pre", 3), 0);
  cr_assert_eq(crpc__frame_encode(&out, &m.base, 100), 0);
  m.n = 1;
  cr_assert_eq(crpc__frame_encode(&out, &m.base, 100), 0);
  cr_assert_eq(crpc__buf_len(&out), 3 + 9 + 11);
  cr_assert_arr_eq(crpc__buf_data(&out),
                   "pre\x00\x00\x00\x00\x04\x0a\x02hi"
                   "\x00\x00\x00\x00\x06\x0a\x02hi\x18\x01",
                   23);
  crpc__buf_cleanup(&out);
}

/* A memory function that hands out one block of |n| bytes, once. */
typedef struct one_block {
  int calls;
  size_t want;
  uint8_t *mem;
  size_t n;
} one_block;

static uint8_t *give_block(void *ctx, size_t want, size_t *n) {
  one_block *b = ctx;
  b->calls++;
  b->want = want;
  uint8_t *mem = b->mem;
  b->mem = NULL;
  *n = b->n;
  return mem;
}

Test(frame, encoder_packs_into_memory_it_is_given, .timeout = 60) {
  Crpc__Test__Echo m;
  crpc__buf out, plain;
  char text[200];

  memset(text, 'a', sizeof(text) - 1);
  text[sizeof(text) - 1] = '\0';
  crpc__test__echo__init(&m);
  m.text = text;
  crpc__buf_init(&plain, SIZE_MAX);
  cr_assert_eq(crpc__frame_encode(&plain, &m.base, SIZE_MAX), 0);

  /* An empty buffer without memory takes the block: the same bytes. */
  one_block b = {.mem = malloc(4096), .n = 4096};
  uint8_t *block = b.mem;
  crpc__buf_init(&out, SIZE_MAX);
  cr_assert_eq(crpc__frame_encode_in(&out, &m.base, CRPC__ENCODING_IDENTITY,
                                     SIZE_MAX, give_block, &b),
               0);
  cr_assert_eq(b.calls, 1);
  cr_assert_eq(b.want, crpc__buf_len(&plain));
  cr_assert_eq(crpc__buf_data(&out), block, "packed in the block given");
  cr_assert_eq(crpc__buf_room(&out), 4096 - crpc__buf_len(&plain));
  cr_assert_eq(crpc__buf_len(&out), crpc__buf_len(&plain));
  cr_assert_arr_eq(crpc__buf_data(&out), crpc__buf_data(&plain),
                   crpc__buf_len(&plain));

  /* A buffer that has memory is appended to as before. */
  cr_assert_eq(crpc__frame_encode_in(&out, &m.base, CRPC__ENCODING_IDENTITY,
                                     SIZE_MAX, give_block, &b),
               0);
  cr_assert_eq(b.calls, 1);
  cr_assert_eq(crpc__buf_len(&out), 2 * crpc__buf_len(&plain));
  crpc__buf_cleanup(&out);

  /* No block given: malloc's memory. A compressed message: never. */
  crpc__buf_init(&out, SIZE_MAX);
  cr_assert_eq(crpc__frame_encode_in(&out, &m.base, CRPC__ENCODING_IDENTITY,
                                     SIZE_MAX, give_block, &b),
               0);
  cr_assert_eq(b.calls, 2);
  cr_assert_arr_eq(crpc__buf_data(&out), crpc__buf_data(&plain),
                   crpc__buf_len(&plain));
  crpc__buf_cleanup(&out);
  crpc__buf_init(&out, SIZE_MAX);
  cr_assert_eq(crpc__frame_encode_in(&out, &m.base, CRPC__ENCODING_GZIP,
                                     SIZE_MAX, give_block, &b),
               0);
  cr_assert_eq(b.calls, 2);
  crpc__buf_cleanup(&out);
  crpc__buf_cleanup(&plain);
}

Test(frame, encoder_too_big, .timeout = 60) {
  Crpc__Test__Echo m;
  crpc__buf out;
  char text[101];
  size_t packed;

  memset(text, 'a', 100);
  text[100] = '\0';
  crpc__test__echo__init(&m);
  m.text = text;
  packed = crpc__test__echo__get_packed_size(&m);
  cr_assert_eq(packed, 102);
  crpc__buf_init(&out, 1000);
  cr_assert_eq(crpc__buf_append(&out, "pre", 3), 0);
  cr_assert_eq(crpc__frame_encode(&out, &m.base, 50), CRPC_ETOOBIG);
  cr_assert_eq(crpc__frame_encode(&out, &m.base, packed - 1), CRPC_ETOOBIG);
  cr_assert_eq(crpc__frame_encode_compressed(&out, &m.base, CRPC__ENCODING_GZIP,
                                             packed - 1),
               CRPC_ETOOBIG);
  cr_assert_eq(crpc__frame_encode_raw(&out, text, 100, 0, 99), CRPC_ETOOBIG);
  cr_assert_eq(crpc__buf_len(&out), 3, "nothing appended");
  cr_assert_eq(crpc__frame_encode(&out, &m.base, packed), 0);
  cr_assert_eq(crpc__buf_len(&out), 3 + 5 + packed);
  crpc__buf_cleanup(&out);
  /* The output buffer's own limit counts the prefix too. */
  crpc__buf_init(&out, 5 + packed - 1);
  cr_assert_eq(crpc__frame_encode(&out, &m.base, SIZE_MAX), CRPC_ETOOBIG);
  cr_assert_eq(crpc__buf_len(&out), 0);
  crpc__buf_cleanup(&out);
}

Test(frame, decodes_one_byte_at_a_time, .timeout = 60) {
  stream s;

  stream_build(&s, 200);
  decode_stream(&s, one_byte, 0);
  stream_free(&s);
}

Test(frame, decodes_random_chunks, .timeout = 60) {
  stream s;
  uint32_t seed;

  stream_build(&s, 200);
  for (seed = 1; seed <= 40; seed++)
    decode_stream(&s, random_size, seed * 2654435761u);
  stream_free(&s);
}

Test(frame, decodes_all_at_once_without_copying, .timeout = 60) {
  stream s;
  size_t nonempty = 0;
  size_t i;

  stream_build(&s, 200);
  for (i = 0; i < s.count; i++)
    nonempty += s.len[i] > 0;
  cr_assert_eq(decode_stream(&s, everything, 0), nonempty);
  stream_free(&s);
}

Test(frame, several_messages_in_one_chunk, .timeout = 60) {
  const uint8_t w[] = {0, 0, 0, 0, 2, 'h', 'i', 1, 0, 0, 0,
                       0, 0, 0, 0, 0, 1,   'x', 0, 0, 0};
  crpc__frame_decoder d;
  crpc__frame_msg m;
  size_t used;

  crpc__frame_decoder_init(&d, 10);
  cr_assert_eq(crpc__frame_decoder_feed(&d, w, sizeof(w), &used, &m), 1);
  cr_assert_eq(used, 7);
  cr_assert_eq(m.len, 2);
  cr_assert_eq(m.data, w + 5, "points into the chunk");
  cr_assert_eq(crpc__frame_decoder_feed(&d, w + 7, 14, &used, &m), 1);
  cr_assert_eq(used, 5);
  cr_assert_eq(m.len, 0);
  cr_assert_eq(m.compressed, 1);
  cr_assert_not_null(m.data);
  cr_assert_eq(crpc__frame_decoder_feed(&d, w + 12, 9, &used, &m), 1);
  cr_assert_eq(used, 6);
  cr_assert_eq(m.data[0], 'x');
  cr_assert_not(crpc__frame_decoder_mid_message(&d));
  cr_assert_eq(crpc__frame_decoder_feed(&d, w + 18, 3, &used, &m), 0);
  cr_assert_eq(used, 3);
  cr_assert(crpc__frame_decoder_mid_message(&d));
  cr_assert_eq(crpc__frame_decoder_feed(&d, NULL, 0, &used, &m), 0);
  cr_assert_eq(used, 0);
  crpc__frame_decoder_cleanup(&d);
}

Test(frame, decoder_rejects_unknown_flag, .timeout = 60) {
  const uint8_t bad[] = {2, 0, 0, 0, 1, 'x'};
  const uint8_t good[] = {0, 0, 0, 0, 1, 'x'};
  crpc__frame_decoder d;

  crpc__frame_decoder_init(&d, 100);
  feed_bytes(&d, bad, 2, 0, 2);
  feed_bytes(&d, bad + 2, 4, CRPC_EPROTO, 3);
  /* Sticky: later bytes are refused with the same error. */
  feed_bytes(&d, good, sizeof(good), CRPC_EPROTO, 0);
  feed_bytes(&d, NULL, 0, CRPC_EPROTO, 0);
  crpc__frame_decoder_reset(&d);
  feed_bytes(&d, good, sizeof(good), 1, sizeof(good));
  crpc__frame_decoder_cleanup(&d);
}

Test(frame, too_big_before_the_payload_arrives, .timeout = 60) {
  const uint8_t huge[] = {0, 0xFF, 0xFF, 0xFF, 0xFF};
  const uint8_t over[] = {0, 0, 0, 0x04, 0x01};
  const uint8_t good[] = {0, 0, 0, 0, 1, 'x'};
  crpc__frame_decoder d;

  crpc__frame_decoder_init(&d, 1024);
  /* 4 GiB announced: refused on the prefix alone, nothing buffered. */
  feed_bytes(&d, huge, 3, 0, 3);
  feed_bytes(&d, huge + 3, 2, CRPC_ETOOBIG, 2);
  cr_assert_eq(d.payload.cap, 0);
  feed_bytes(&d, good, sizeof(good), CRPC_ETOOBIG, 0);
  cr_assert_eq(d.payload.cap, 0);
  crpc__frame_decoder_reset(&d);
  /* One byte over the limit. */
  feed_bytes(&d, over, sizeof(over), CRPC_ETOOBIG, 5);
  cr_assert_eq(d.payload.cap, 0);
  crpc__frame_decoder_cleanup(&d);
}

Test(frame, exactly_the_limit_is_accepted, .timeout = 60) {
  uint8_t w[5 + 1024];
  crpc__frame_decoder d;
  crpc__frame_msg m;
  size_t used;

  memset(w, 'z', sizeof(w));
  w[0] = 0;
  w[1] = 0;
  w[2] = 0;
  w[3] = 0x04;
  w[4] = 0;
  crpc__frame_decoder_init(&d, 1024);
  cr_assert_eq(crpc__frame_decoder_feed(&d, w, 600, &used, &m), 0);
  cr_assert_eq(
      crpc__frame_decoder_feed(&d, w + 600, sizeof(w) - 600, &used, &m), 1);
  cr_assert_eq(m.len, 1024);
  cr_assert_eq(m.data[1023], 'z');
  crpc__frame_decoder_cleanup(&d);
}

/* Feeds a |len|-byte message of 'q's in 16 KiB chunks (HTTP/2's DATA frame
 * size); returns how many times the payload buffer moved after its first
 * chunk and the capacity it had then. */
static int moves_while_assembling(size_t len, size_t *first_cap) {
  const size_t chunk = 16384;
  uint8_t *w = malloc(5 + len);
  crpc__frame_decoder d;
  crpc__frame_msg m;
  const uint8_t *at = NULL;
  size_t off = 0, used;
  int moves = 0, rc = 0;

  cr_assert_not_null(w);
  memset(w, 'q', 5 + len);
  w[0] = 0;
  w[1] = (uint8_t)(len >> 24);
  w[2] = (uint8_t)(len >> 16);
  w[3] = (uint8_t)(len >> 8);
  w[4] = (uint8_t)len;
  crpc__frame_decoder_init(&d, 4 * MIB);
  while (off < 5 + len) {
    size_t n = 5 + len - off < chunk ? 5 + len - off : chunk;
    rc = crpc__frame_decoder_feed(&d, w + off, n, &used, &m);
    cr_assert_geq(rc, 0);
    cr_assert_eq(used, n);
    off += n;
    if (at == NULL) {
      at = d.payload.mem;
      *first_cap = d.payload.cap;
    } else if (d.payload.mem != at) {
      at = d.payload.mem;
      moves++;
    }
  }
  cr_assert_eq(rc, 1);
  cr_assert_eq(m.len, len);
  cr_assert_eq(m.data[len - 1], 'q');
  crpc__frame_decoder_cleanup(&d);
  free(w);
  return moves;
}

Test(frame, a_split_message_is_assembled_in_one_buffer, .timeout = 60) {
  size_t cap = 0;

  /* 64 KiB of payload and its field tag, as a 64 KiB bytes field packs:
   * one buffer of exactly its size, never grown (a copy per growth). */
  cr_assert_eq(moves_while_assembling(65536 + 5, &cap), 0);
  cr_assert_eq(cap, 65536 + 5);
  /* A larger one takes only part of its room ahead of its bytes. */
  cr_assert_gt(moves_while_assembling(3 * MIB, &cap), 0);
  cr_assert_lt(cap, MIB);
}

Test(frame, mid_message_detection, .timeout = 60) {
  const uint8_t w[] = {0, 0, 0, 0, 3, 'a', 'b', 'c'};
  crpc__frame_decoder d;
  size_t i;
  size_t cut;

  for (cut = 0; cut <= sizeof(w); cut++) {
    crpc__frame_decoder_init(&d, 100);
    cr_assert_not(crpc__frame_decoder_mid_message(&d));
    for (i = 0; i < cut; i++)
      feed_bytes(&d, w + i, 1, i + 1 == sizeof(w) ? 1 : 0, 1);
    cr_assert_eq(crpc__frame_decoder_mid_message(&d),
                 cut > 0 && cut < sizeof(w), "after %zu bytes", cut);
    crpc__frame_decoder_cleanup(&d);
  }
  crpc__frame_decoder_init(&d, 100);
  feed_bytes(&d, w, 6, 0, 6);
  cr_assert(crpc__frame_decoder_mid_message(&d));
  crpc__frame_decoder_reset(&d);
  cr_assert_not(crpc__frame_decoder_mid_message(&d));
  crpc__frame_decoder_cleanup(&d);
}

/* Encodes |m| gzip-compressed into |out| and checks the frame's prefix. */
static void encode_gzip_frame(Crpc__Test__Echo *m, size_t packed,
                              crpc__buf *out) {
  const uint8_t *w;
  uint32_t len;

  crpc__buf_init(out, SIZE_MAX);
  cr_assert_eq(
      crpc__frame_encode_compressed(out, &m->base, CRPC__ENCODING_GZIP, packed),
      0);
  w = crpc__buf_data(out);
  len =
      (uint32_t)w[1] << 24 | (uint32_t)w[2] << 16 | (uint32_t)w[3] << 8 | w[4];
  cr_assert_eq(w[0], 1);
  cr_assert_eq(len, crpc__buf_len(out) - 5);
  cr_assert_lt(len, packed / 10);
  cr_assert_eq(w[5], 0x1f, "a gzip member follows");
}

static int unpack_echo(const crpc__frame_msg *fm, crpc__encoding enc,
                       size_t max_size, crpc__buf *scratch,
                       Crpc__Test__Echo **u) {
  return crpc__frame_unpack(fm, enc, max_size, scratch,
                            &crpc__test__echo__descriptor, NULL,
                            (ProtobufCMessage **)u);
}

Test(frame, compressed_round_trip, .timeout = 60) {
  Crpc__Test__Echo *m = big_echo(100000);
  size_t packed = crpc__test__echo__get_packed_size(m);
  Crpc__Test__Echo *u = NULL;
  crpc__frame_decoder d;
  crpc__frame_msg fm;
  crpc__buf out;
  crpc__buf scratch;
  size_t used;

  encode_gzip_frame(m, packed, &out);
  crpc__buf_init(&scratch, SIZE_MAX);
  crpc__frame_decoder_init(&d, packed);
  cr_assert_eq(crpc__frame_decoder_feed(&d, crpc__buf_data(&out),
                                        crpc__buf_len(&out), &used, &fm),
               1);
  cr_assert_eq(fm.compressed, 1);
  cr_assert_eq(unpack_echo(&fm, CRPC__ENCODING_GZIP, packed, &scratch, &u), 0);
  cr_assert_eq(crpc__buf_len(&scratch), packed);
  cr_assert_str_eq(u->text, "compressed");
  cr_assert_eq(u->payload.len, 100000);
  cr_assert_arr_eq(u->payload.data, m->payload.data, 100000);
  cr_assert_eq(u->n_tags, 2);
  cr_assert_str_eq(u->tags[1], "yy");
  /* Inflating beyond the limit is refused, and flag 1 needs an encoding. */
  cr_assert_eq(unpack_echo(&fm, CRPC__ENCODING_GZIP, packed - 1, &scratch, &u),
               CRPC_ETOOBIG);
  cr_assert_eq(unpack_echo(&fm, CRPC__ENCODING_IDENTITY, packed, &scratch, &u),
               CRPC_EPROTO);
  crpc__test__echo__free_unpacked(u, NULL);
  crpc__frame_decoder_cleanup(&d);
  crpc__buf_cleanup(&out);
  crpc__buf_cleanup(&scratch);
  free(m->payload.data);
}

Test(frame, compressed_empty_and_identity, .timeout = 60) {
  Crpc__Test__Echo m;
  Crpc__Test__Echo *u = NULL;
  crpc__buf out;
  crpc__buf plain;
  crpc__buf scratch;
  crpc__frame_msg fm;

  crpc__test__echo__init(&m);
  crpc__buf_init(&out, 1000);
  crpc__buf_init(&plain, 1000);
  crpc__buf_init(&scratch, 1000);
  cr_assert_eq(
      crpc__frame_encode_compressed(&out, &m.base, CRPC__ENCODING_GZIP, 100),
      0);
  cr_assert_eq(crpc__buf_data(&out)[0], 1);
  fm.compressed = 1;
  fm.data = crpc__buf_data(&out) + 5;
  fm.len = crpc__buf_len(&out) - 5;
  cr_assert_eq(unpack_echo(&fm, CRPC__ENCODING_GZIP, 100, &scratch, &u), 0);
  cr_assert_str_eq(u->text, "");
  crpc__test__echo__free_unpacked(u, NULL);
  /* Identity gives the plain frame. */
  m.text = "hi";
  crpc__buf_reset(&out);
  cr_assert_eq(crpc__frame_encode_compressed(&out, &m.base,
                                             CRPC__ENCODING_IDENTITY, 100),
               0);
  cr_assert_eq(crpc__frame_encode(&plain, &m.base, 100), 0);
  cr_assert_eq(crpc__buf_len(&out), crpc__buf_len(&plain));
  cr_assert_arr_eq(crpc__buf_data(&out), crpc__buf_data(&plain), 9);
  cr_assert_eq(
      crpc__frame_encode_compressed(&out, &m.base, (crpc__encoding)2, 100),
      CRPC_EENCODING);
  cr_assert_eq(crpc__buf_len(&out), 9);
  crpc__buf_cleanup(&out);
  crpc__buf_cleanup(&plain);
  crpc__buf_cleanup(&scratch);
}

Test(frame, unpack_rejects_bad_messages, .timeout = 60) {
  /* Field 1 (string) claiming 100 bytes, with 1 present. */
  const uint8_t bad_pb[] = {0x0a, 100, 'x'};
  const uint8_t not_gzip[] = "definitely not gzip";
  crpc__frame_msg fm = {0, bad_pb, sizeof(bad_pb)};
  ProtobufCMessage *u = NULL;
  crpc__buf scratch;

  crpc__buf_init(&scratch, 1000);
  cr_assert_eq(crpc__frame_unpack(&fm, CRPC__ENCODING_IDENTITY, 100, &scratch,
                                  &crpc__test__echo__descriptor, NULL, &u),
               CRPC_EUNPACK);
  cr_assert_eq(crpc__frame_unpack(&fm, CRPC__ENCODING_IDENTITY, 2, &scratch,
                                  &crpc__test__echo__descriptor, NULL, &u),
               CRPC_ETOOBIG);
  fm.compressed = 1;
  fm.data = not_gzip;
  fm.len = sizeof(not_gzip);
  cr_assert_eq(crpc__frame_unpack(&fm, CRPC__ENCODING_GZIP, 100, &scratch,
                                  &crpc__test__echo__descriptor, NULL, &u),
               CRPC_EDECOMPRESS);
  cr_assert_eq(crpc__frame_unpack(&fm, (crpc__encoding)2, 100, &scratch,
                                  &crpc__test__echo__descriptor, NULL, &u),
               CRPC_EENCODING);
  cr_assert_null(u, "untouched after failures");
  crpc__buf_cleanup(&scratch);
}

/* A message of any size the decoder assembled is traded for memory the
 * caller gives back: the caller gets the buffer it was assembled in, and
 * the next message is assembled in the memory given. */
Test(frame, an_assembled_message_is_traded_for_warm_memory, .timeout = 60) {
  const size_t headroom = 24;
  uint8_t small[5 + 1000] = {0, 0, 0, 1000 >> 8, 1000 & 0xff};
  for (size_t i = 0; i < 1000; i++)
    small[5 + i] = (uint8_t)(i * 7);
  crpc__frame_decoder d;
  crpc__frame_msg m;
  size_t used, cap = 0;
  crpc__frame_decoder_init(&d, 1 << 20);
  crpc__frame_decoder_set_headroom(&d, headroom);
  uint8_t *give = malloc(headroom + 2000);
  cr_assert_not_null(give);
  /* Whole in one chunk: it points into the chunk, nothing to trade. */
  cr_assert_eq(crpc__frame_decoder_feed(&d, small, sizeof(small), &used, &m),
               1);
  cr_assert_null(crpc__frame_decoder_trade(&d, give, headroom + 2000, &cap));
  size_t give_cap = headroom + 2000;
  uint8_t *given = NULL; /* what the decoder holds since the last trade */
  for (int round = 0; round < 3; round++) {
    cr_assert_eq(crpc__frame_decoder_feed(&d, small, 300, &used, &m), 0);
    cr_assert_eq(crpc__frame_decoder_feed(&d, small + 300, sizeof(small) - 300,
                                          &used, &m),
                 1);
    uint8_t *got = crpc__frame_decoder_trade(&d, give, give_cap, &cap);
    cr_assert_not_null(got);
    cr_assert_eq(m.data, got + headroom, "the message is where it was");
    cr_assert_arr_eq(got + headroom, small + 5, 1000);
    cr_assert_geq(cap, headroom + 1000);
    if (given != NULL)
      cr_assert_eq(got, given, "assembled in the memory given last time");
    cr_assert_null(crpc__frame_decoder_trade(&d, got, cap, &cap),
                   "traded twice");
    /* What the caller got back is what it gives next time: the two
     * buffers take turns. */
    given = give;
    give = got;
    give_cap = cap;
  }
  free(give);
  crpc__frame_decoder_cleanup(&d);
}

/* A large message with large sub-messages, nested and repeated, in a
 * oneof and empty: crpc__frame_encode() packs messages this large in one
 * pass (protobuf_c_message_pack_to_buffer()), and its bytes must be the
 * ones protobuf_c_message_pack() gives. */
Test(frame, a_large_nested_message_packs_as_protobuf_c_does, .timeout = 60) {
  enum { BLOB = 70000 };
  uint8_t *blob = malloc(BLOB);
  cr_assert_not_null(blob);
  for (size_t i = 0; i < BLOB; i++)
    blob[i] = (uint8_t)(i * 31 + (i >> 9));
  Crpc__Test__Tree leaf, mid, kids[3], *kidp[3], root, empty;
  crpc__test__tree__init(&leaf);
  leaf.name = "leaf";
  leaf.blob.data = blob;
  leaf.blob.len = BLOB;
  crpc__test__tree__init(&empty);
  crpc__test__tree__init(&mid);
  mid.child = &leaf;
  mid.pick_case = CRPC__TEST__TREE__PICK_NODE;
  mid.node = &empty;
  for (int i = 0; i < 3; i++) {
    crpc__test__tree__init(&kids[i]);
    kids[i].blob.data = blob + i;
    kids[i].blob.len = (size_t)(i == 1 ? 100 : BLOB - i);
    kidp[i] = &kids[i];
  }
  Crpc__Test__Echo echo = *big_echo(BLOB / 2);
  crpc__test__tree__init(&root);
  root.name = "root";
  root.child = &mid;
  root.n_children = 3;
  root.children = kidp;
  root.echo = &echo;
  ProtobufCBinaryData blobs[2] = {{BLOB, blob}, {0, NULL}};
  root.n_blobs = 2;
  root.blobs = blobs;

  size_t len = protobuf_c_message_get_packed_size(&root.base);
  uint8_t *want = malloc(len);
  cr_assert_not_null(want);
  cr_assert_eq(protobuf_c_message_pack(&root.base, want), len);
  crpc__buf out;
  crpc__buf_init(&out, SIZE_MAX);
  cr_assert_eq(crpc__frame_encode(&out, &root.base, SIZE_MAX), 0);
  cr_assert_eq(crpc__buf_len(&out), CRPC__FRAME_PREFIX_LEN + len);
  cr_assert_arr_eq(crpc__buf_data(&out) + CRPC__FRAME_PREFIX_LEN, want, len);
  /* And it reads back. */
  Crpc__Test__Tree *back = crpc__test__tree__unpack(
      NULL, len, crpc__buf_data(&out) + CRPC__FRAME_PREFIX_LEN);
  cr_assert_not_null(back);
  cr_assert_eq(back->child->child->blob.len, BLOB);
  cr_assert_arr_eq(back->child->child->blob.data, blob, BLOB);
  crpc__test__tree__free_unpacked(back, NULL);
  crpc__buf_cleanup(&out);
  free(want);
  free(echo.payload.data);
  free(blob);
}
