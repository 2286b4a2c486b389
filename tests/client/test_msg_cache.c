/*
 * tests/client/test_msg_cache.c: the memory a channel or a server loop
 * keeps of messages (runtime/msg_cache.c): what it keeps and for how long,
 * a decoder buffering messages in it, and calls that send and receive
 * large messages taking no new memory for each.
 */
#include <stdatomic.h>
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client_internal.h"
#include "crpc/channel.h"
#include "crpc/deadline.h"
#include "crpc/server.h"
#include "frame.h"
#include "msg_cache.h"
#include "server_internal.h"
#include "server_test.crpc.h"

#define KiB ((size_t)1024)
#define HEAD offsetof(crpc__cmsg, data)

Test(msg_cache, memory_given_back_serves_the_next_message) {
  crpc__msg_cache *c = crpc__msg_cache_new(4 << 20);
  cr_assert_not_null(c);
  crpc__cmsg *m = crpc__msg_cache_get(c, 64 * KiB);
  cr_assert_not_null(m);
  cr_assert_geq(m->cap, 64 * KiB);
  memset(m->data, 1, 64 * KiB); /* all of it is usable */
  cr_assert_eq(crpc__msg_cache_fresh(c), 1);
  crpc__msg_cache_put(c, m);
  /* The same memory, for a message that fits in it. */
  cr_assert_eq(crpc__msg_cache_get(c, 60 * KiB), m);
  cr_assert_eq(crpc__msg_cache_fresh(c), 1);
  /* None kept: new memory, counted. */
  crpc__cmsg *m2 = crpc__msg_cache_get(c, 64 * KiB);
  cr_assert_neq(m2, m);
  cr_assert_eq(crpc__msg_cache_fresh(c), 2);
  crpc__msg_cache_put(c, m);
  crpc__msg_cache_put(c, m2);
  crpc__msg_cache_unref(c);
}

Test(msg_cache, a_larger_message_skips_memory_too_small_for_it) {
  crpc__msg_cache *c = crpc__msg_cache_new(4 << 20);
  crpc__cmsg *big = crpc__msg_cache_get(c, 256 * KiB);
  crpc__cmsg *small = crpc__msg_cache_get(c, 32 * KiB);
  crpc__msg_cache_put(c, big);
  crpc__msg_cache_put(c, small); /* the newest, looked at first */
  cr_assert_eq(crpc__msg_cache_get(c, 100 * KiB), big);
  cr_assert_eq(crpc__msg_cache_get(c, 20 * KiB), small);
  cr_assert_eq(crpc__msg_cache_fresh(c), 2);
  crpc__msg_cache_put(c, big);
  crpc__msg_cache_put(c, small);
  crpc__msg_cache_unref(c);
}

Test(msg_cache, keeps_at_most_its_bytes_and_nothing_small) {
  enum { N = 8 };
  const size_t size = 1 << 20; /* 8 of them, and 4 MiB kept at most */
  crpc__msg_cache *c = crpc__msg_cache_new(4 << 20);
  crpc__cmsg *m[N];
  for (int i = 0; i < N; i++)
    m[i] = crpc__msg_cache_get(c, size - HEAD);
  cr_assert_eq(crpc__msg_cache_fresh(c), N);
  for (int i = 0; i < N; i++)
    crpc__msg_cache_put(c, m[i]); /* 4 kept, 4 freed */
  for (int i = 0; i < N; i++)
    m[i] = crpc__msg_cache_get(c, size - HEAD);
  cr_assert_eq(crpc__msg_cache_fresh(c), N + 4);
  for (int i = 0; i < N; i++)
    crpc__msg_cache_put(c, m[i]);

  /* Below CRPC__MSG_CACHE_MIN, memory is malloc's: never kept, never
   * counted. */
  crpc__cmsg *s = crpc__msg_cache_get(c, 1 * KiB);
  cr_assert_not_null(s);
  cr_assert_geq(s->cap, 1 * KiB);
  crpc__msg_cache_put(c, s);
  cr_assert_eq(crpc__msg_cache_fresh(c), N + 4);
  crpc__cmsg *e = crpc__msg_cache_get(c, 0); /* an empty message */
  cr_assert_not_null(e);
  crpc__msg_cache_put(c, e);
  crpc__msg_cache_unref(c);
}

Test(msg_cache, a_cache_of_no_bytes_keeps_nothing) {
  crpc__msg_cache *c = crpc__msg_cache_new(0);
  for (int i = 0; i < 3; i++)
    crpc__msg_cache_put(c, crpc__msg_cache_get(c, 64 * KiB));
  cr_assert_eq(crpc__msg_cache_fresh(c), 3);
  crpc__msg_cache_unref(c);
}

Test(msg_cache, lives_while_a_reference_is_held) {
  crpc__msg_cache *c = crpc__msg_cache_new(4 << 20);
  crpc__msg_cache *call = crpc__msg_cache_ref(c); /* a call's */
  crpc__cmsg *m = crpc__msg_cache_get(call, 64 * KiB);
  crpc__msg_cache_unref(c); /* the channel is gone */
  crpc__msg_cache_put(call, m);
  cr_assert_eq(crpc__msg_cache_get(call, 64 * KiB), m);
  crpc__msg_cache_put(call, m);
  crpc__msg_cache_unref(call); /* frees what it kept: LSan checks */
  crpc__msg_cache_unref(NULL);
}

Test(msg_cache, a_trim_frees_what_no_message_took_since_the_last_one) {
  enum { N = 4 };
  crpc__msg_cache *c = crpc__msg_cache_new(4 << 20);
  crpc__cmsg *m[N];
  for (int i = 0; i < N; i++)
    m[i] = crpc__msg_cache_get(c, 64 * KiB);
  for (int i = 0; i < N; i++)
    crpc__msg_cache_put(c, m[i]);
  const size_t each = HEAD + m[0]->cap;
  /* Kept since before this period: none yet. */
  cr_assert_eq(crpc__msg_cache_trim(c), N * each);
  /* Two taken and given back: the other two were not needed. */
  for (int i = 0; i < 2; i++)
    m[i] = crpc__msg_cache_get(c, 64 * KiB);
  for (int i = 0; i < 2; i++)
    crpc__msg_cache_put(c, m[i]);
  cr_assert_eq(crpc__msg_cache_trim(c), 2 * each);
  cr_assert_eq(crpc__msg_cache_kept(c), 2 * each);
  /* None taken: all given back. */
  cr_assert_eq(crpc__msg_cache_trim(c), 0);
  cr_assert_eq(crpc__msg_cache_fresh(c), N);
  crpc__msg_cache_unref(c);
}

/* 64 KiB messages fed to a decoder in 16 KiB chunks, as DATA frames bring
 * them, |burst| at a time before any is read: each taken out of the
 * decoder without a copy and given back once read, as a call does. */
static void decode_bursts(crpc__msg_cache *c, int bursts, int burst) {
  enum { MSG = 64 * 1024, CHUNK = 16 * 1024 };
  crpc__frame_decoder d;
  crpc__frame_decoder_init(&d, 4 << 20);
  crpc__frame_decoder_set_headroom(&d, HEAD);
  crpc__frame_decoder_set_mem(&d, crpc__msg_cache_mem, c);
  uint8_t *wire = malloc(CRPC__FRAME_PREFIX_LEN + MSG);
  cr_assert_not_null(wire);
  crpc__frame_prefix fp = {0, MSG};
  crpc__frame_write_prefix(wire, &fp);
  crpc__cmsg **queue = calloc((size_t)burst, sizeof(*queue));
  for (int b = 0; b < bursts; b++) {
    for (int k = 0; k < burst; k++) {
      memset(wire + CRPC__FRAME_PREFIX_LEN, b * burst + k, MSG);
      const uint8_t *p = wire;
      size_t left = CRPC__FRAME_PREFIX_LEN + MSG, used = 0;
      crpc__frame_msg msg;
      int rc = 0;
      while (left > 0) {
        size_t n = left < CHUNK ? left : CHUNK;
        rc = crpc__frame_decoder_feed(&d, p, n, &used, &msg);
        cr_assert_geq(rc, 0);
        p += used;
        left -= used;
      }
      cr_assert_eq(rc, 1);
      size_t cap;
      crpc__cmsg *m =
          (crpc__cmsg *)crpc__frame_decoder_trade(&d, NULL, 0, &cap);
      cr_assert_not_null(m, "a message split across chunks is buffered");
      cr_assert_eq(msg.data, m->data, "taken where it was assembled");
      m->cap = cap - HEAD;
      m->len = msg.len;
      queue[k] = m;
    }
    for (int k = 0; k < burst; k++) {
      cr_assert_eq(queue[k]->len, MSG);
      cr_assert_eq(queue[k]->data[MSG - 1], (uint8_t)(b * burst + k));
      crpc__msg_cache_put(c, queue[k]); /* read */
    }
  }
  size_t cap;
  crpc__msg_cache_put_mem(c, crpc__frame_decoder_release(&d, &cap), cap);
  crpc__frame_decoder_cleanup(&d);
  free(queue);
  free(wire);
}

Test(msg_cache, a_decoder_buffers_each_burst_in_the_last_ones_memory) {
  crpc__msg_cache *c = crpc__msg_cache_new(4 << 20);
  decode_bursts(c, 20, 16); /* 16 x 64 KiB: a full read queue */
  /* The first burst's 16 messages; every later one in their memory. */
  cr_assert_eq(crpc__msg_cache_fresh(c), 16, "%llu fresh",
               (unsigned long long)crpc__msg_cache_fresh(c));
  crpc__msg_cache_unref(c);
}

Test(msg_cache, a_decoder_takes_no_more_than_128_KiB_ahead_of_the_bytes) {
  crpc__msg_cache *c = crpc__msg_cache_new(4 << 20);
  crpc__frame_decoder d;
  crpc__frame_decoder_init(&d, 4 << 20);
  crpc__frame_decoder_set_headroom(&d, HEAD);
  crpc__frame_decoder_set_mem(&d, crpc__msg_cache_mem, c);
  /* A 4 MiB message announced, and 1 KiB of it sent. */
  uint8_t wire[CRPC__FRAME_PREFIX_LEN + 1024] = {0};
  crpc__frame_prefix fp = {0, 4u << 20};
  crpc__frame_write_prefix(wire, &fp);
  size_t used;
  crpc__frame_msg msg;
  cr_assert_eq(crpc__frame_decoder_feed(&d, wire, sizeof(wire), &used, &msg),
               0);
  cr_assert_eq(crpc__msg_cache_fresh(c), 1);
  size_t cap;
  uint8_t *mem = crpc__frame_decoder_release(&d, &cap);
  cr_assert_not_null(mem);
  cr_assert_geq(cap, HEAD + ((size_t)128 << 10));
  cr_assert_leq(cap, HEAD + ((size_t)128 << 10) + 4096, "%zu bytes", cap);
  crpc__msg_cache_put_mem(c, mem, cap);
  crpc__frame_decoder_cleanup(&d);
  crpc__msg_cache_unref(c);
}

/* A channel's calls against a server of crpc.servertest.WorkerTest whose
 * replies are Req.reply_bytes long. */

typedef Crpc__Servertest__Req req_t;
typedef Crpc__Servertest__Rep rep_t;

static crpc_server *srv;
static char target[64];

static void fill(rep_t *rep, const req_t *req, uint8_t *buf) {
  memset(buf, 'x', (size_t)req->reply_bytes);
  rep->payload.data = buf;
  rep->payload.len = (size_t)req->reply_bytes;
}

static crpc_status unary(crpc_ctx *ctx, const req_t *req, rep_t *rep) {
  uint8_t *buf = crpc_ctx_alloc(ctx, (size_t)req->reply_bytes + 1);
  if (!buf)
    return CRPC_STATUS_RESOURCE_EXHAUSTED;
  fill(rep, req, buf);
  return CRPC_STATUS_OK;
}

static crpc_status
server_stream(crpc_ctx *ctx, const req_t *req,
              crpc_servertest_worker_test_server_stream_sender *out) {
  uint8_t *buf = crpc_ctx_alloc(ctx, (size_t)req->reply_bytes + 1);
  if (!buf)
    return CRPC_STATUS_RESOURCE_EXHAUSTED;
  for (int32_t i = 0; i < req->count; i++) {
    rep_t rep = CRPC__SERVERTEST__REP__INIT;
    fill(&rep, req, buf);
    rep.count = i;
    crpc_status st = crpc_servertest_worker_test_server_stream_send(out, &rep);
    if (st != CRPC_STATUS_OK)
      return st;
  }
  return CRPC_STATUS_OK;
}

/* What the last ClientStream handler saw of its read arena (the handler
 * runs on a worker; the test reads them once its call is over). */
static atomic_size_t read_arena_peak; /* the most it held after a read */
static atomic_int reads_in_place;     /* reads into the first one's memory */

/* Reads every message, then replies with their count. */
static crpc_status
client_stream(crpc_ctx *ctx,
              crpc_servertest_worker_test_client_stream_receiver *in,
              rep_t *rep) {
  (void)ctx;
  crpc__server_call *call = (crpc__server_call *)in;
  const uint8_t *first = NULL;
  int n = 0;
  atomic_store(&read_arena_peak, 0);
  atomic_store(&reads_in_place, 0);
  for (;; n++) {
    req_t *m = NULL;
    crpc_status st = crpc_servertest_worker_test_client_stream_recv(in, &m);
    if (st != CRPC_STATUS_OK)
      return st;
    if (!m)
      break;
    size_t held = crpc__arena_footprint(&call->read_arena);
    if (held > atomic_load(&read_arena_peak))
      atomic_store(&read_arena_peak, held);
    if (!first)
      first = m->payload.data;
    else if (m->payload.data == first)
      atomic_fetch_add(&reads_in_place, 1);
  }
  rep->count = n;
  return CRPC_STATUS_OK;
}

/* A server of one loop that keeps |cache_bytes| of message memory. */
static void start_server_keeping(size_t cache_bytes) {
  static const crpc_servertest_worker_test_handlers h = {
      .unary = unary,
      .server_stream = server_stream,
      .client_stream = client_stream};
  crpc_server_opts o;
  crpc_server_opts_init(&o);
  o.loops = 1;
  o.workers = 2;
  o.message_cache_bytes = cache_bytes;
  cr_assert_eq(crpc_server_new(&o, &srv), 0);
  crpc_service *svc = crpc_servertest_worker_test_service(&h, NULL);
  cr_assert_not_null(svc);
  cr_assert_eq(crpc_server_add_service(srv, svc), 0);
  cr_assert_eq(crpc_server_listen(srv, "127.0.0.1:0", NULL), 0);
  cr_assert_eq(crpc_server_start(srv), 0, "%s", crpc_server_error(srv));
  snprintf(target, sizeof(target), "127.0.0.1:%d", crpc_server_port(srv, 0));
}

static void start_server(void) {
  start_server_keeping(0);
}

static void start_server_keeping_nothing(void) {
  start_server_keeping(CRPC_MESSAGE_CACHE_OFF);
}

static void stop_server(void) {
  crpc_future *f = crpc_server_shutdown(srv);
  crpc_future_wait(f);
  crpc_future_unref(f);
  crpc_server_free(srv);
}

static crpc_channel *channel(size_t cache_bytes) {
  crpc_channel_opts o;
  crpc_channel_opts_init(&o);
  o.message_cache_bytes = cache_bytes;
  crpc_channel *ch = NULL;
  cr_assert_eq(crpc_channel_new(target, &o, &ch), 0);
  return ch;
}

static uint64_t fresh(crpc_channel *ch) {
  return crpc__msg_cache_fresh(ch->msgs);
}

enum { MSG = 64 * 1024 };

/* Requests larger than a server's read (CRPC__H2IO_READ_BUF), so that
 * each is assembled from pieces rather than read where it arrived. */
enum { BIG_REQ = 512 * 1024 };

/* Reads a stream of |count| messages of 64 KiB as they come. */
static void read_stream(crpc_channel *ch, int count) {
  req_t req = CRPC__SERVERTEST__REQ__INIT;
  req.count = count;
  req.reply_bytes = MSG;
  const crpc_call_opts o = {.timeout_ms = 30000};
  crpc_servertest_worker_test_server_stream_reader *r = NULL;
  cr_assert_eq(crpc_servertest_worker_test_server_stream(ch, &req, &r, &o),
               CRPC_STATUS_OK);
  for (int n = 0;; n++) {
    rep_t *m = NULL;
    cr_assert_eq(crpc_servertest_worker_test_server_stream_read(r, &m),
                 CRPC_STATUS_OK);
    if (!m) {
      cr_assert_eq(n, count);
      break;
    }
    cr_assert_eq(m->count, n);
    cr_assert_eq(m->payload.len, MSG);
    cr_assert_eq(m->payload.data[MSG - 1], 'x');
    crpc__servertest__rep__free_unpacked(m, NULL);
  }
  cr_assert_eq(crpc_servertest_worker_test_server_stream_finish(r),
               CRPC_STATUS_OK);
  crpc_servertest_worker_test_server_stream_free(r);
}

/* Makes |count| unary calls, one at a time, each sending |req_bytes| of
 * payload and asking for |reply_bytes|. */
static void calls_with(crpc_channel *ch, int count, size_t req_bytes,
                       size_t reply_bytes) {
  uint8_t *payload = req_bytes ? malloc(req_bytes) : NULL;
  cr_assert(payload || !req_bytes);
  if (payload)
    memset(payload, 'q', req_bytes);
  req_t req = CRPC__SERVERTEST__REQ__INIT;
  req.payload.data = payload;
  req.payload.len = req_bytes;
  req.reply_bytes = (int32_t)reply_bytes;
  const crpc_call_opts o = {.timeout_ms = 30000};
  for (int i = 0; i < count; i++) {
    rep_t *m = NULL;
    cr_assert_eq(crpc_servertest_worker_test_unary(ch, &req, &m, &o),
                 CRPC_STATUS_OK);
    cr_assert_eq(m->payload.len, reply_bytes);
    crpc__servertest__rep__free_unpacked(m, NULL);
  }
  free(payload);
}

/* Whatever the reader's pace, a stream holds 33 messages of 64 KiB at
 * most: 31 in its queue (its 1 MiB, and what the stream's window of 1 MiB
 * lets arrive past that), the one the decoder assembles and the one being
 * read. Every other message is received in memory the channel had kept,
 * though later ones are a byte longer (their index takes two bytes):
 * were none kept, or kept memory only the same size, most of the 800
 * would be in new memory. */
Test(msg_cache, a_stream_of_large_messages_reuses_the_channels_memory,
     .init = start_server, .fini = stop_server, .timeout = 60) {
  crpc_channel *ch = channel(0);
  read_stream(ch, 400);
  read_stream(ch, 400); /* a second call finds the memory kept */
  cr_assert_leq(fresh(ch), 40, "%llu messages in new memory, of 800",
                (unsigned long long)fresh(ch));
  crpc_channel_free(ch);
}

/* Memory kept after a burst goes back once no message took it for a
 * sweep's period (CRPC__MSG_CACHE_SWEEP_MS), then the sweep stops. */
Test(msg_cache, an_idle_channel_gives_its_memory_back, .init = start_server,
     .fini = stop_server, .timeout = 60) {
  crpc_channel *ch = channel(0);
  read_stream(ch, 100);
  cr_assert_gt(crpc__msg_cache_kept(ch->msgs), 0);
  const int64_t deadline = crpc_now_ns() + 10 * (int64_t)1000000000;
  while (crpc__msg_cache_kept(ch->msgs) > 0 && crpc_now_ns() < deadline)
    usleep(20 * 1000);
  cr_assert_eq(crpc__msg_cache_kept(ch->msgs), 0,
               "%zu bytes still kept after 10 s idle",
               crpc__msg_cache_kept(ch->msgs));
  read_stream(ch, 10); /* it keeps memory again */
  crpc_channel_free(ch);
}

Test(msg_cache, unary_calls_take_their_replies_memory_from_the_channel,
     .init = start_server, .fini = stop_server, .timeout = 60) {
  crpc_channel *ch = channel(0);
  calls_with(ch, 200, 0, MSG);
  cr_assert_leq(fresh(ch), 4, "%llu replies in new memory, of 200",
                (unsigned long long)fresh(ch));
  crpc_channel_free(ch);
}

Test(msg_cache, a_channel_can_keep_nothing, .init = start_server,
     .fini = stop_server, .timeout = 60) {
  crpc_channel *ch = channel(CRPC_MESSAGE_CACHE_OFF);
  calls_with(ch, 50, 0, MSG);
  cr_assert_geq(fresh(ch), 50, "%llu replies in new memory, of 50",
                (unsigned long long)fresh(ch));
  crpc_channel_free(ch);
}

/* A request is packed into memory from the channel's cache and given
 * back to it when its call ends (the request is kept whole until then,
 * for another attempt). */
Test(msg_cache, unary_calls_pack_their_requests_in_the_channels_memory,
     .init = start_server, .fini = stop_server, .timeout = 60) {
  crpc_channel *ch = channel(0);
  calls_with(ch, 100, BIG_REQ, 0);
  cr_assert_geq(fresh(ch), 1, "no request packed in the channel's memory");
  cr_assert_leq(fresh(ch), 4, "%llu requests in new memory, of 100",
                (unsigned long long)fresh(ch));
  crpc_channel_free(ch);
}

Test(msg_cache, a_channel_that_keeps_nothing_packs_each_request_anew,
     .init = start_server, .fini = stop_server, .timeout = 60) {
  crpc_channel *ch = channel(CRPC_MESSAGE_CACHE_OFF);
  calls_with(ch, 50, BIG_REQ, 0);
  cr_assert_geq(fresh(ch), 50, "%llu requests in new memory, of 50",
                (unsigned long long)fresh(ch));
  crpc_channel_free(ch);
}

/* A server loop's side: requests are assembled in memory the loop keeps
 * (its cache: srv->loops[0].msgs), and a finished call kept for reuse
 * keeps its reply's buffer. */

static uint64_t server_fresh(void) {
  return crpc__msg_cache_fresh(srv->loops[0].msgs);
}

Test(msg_cache, a_server_loop_receives_requests_in_memory_it_kept,
     .init = start_server, .fini = stop_server, .timeout = 60) {
  crpc_channel *ch = channel(0);
  calls_with(ch, 100, BIG_REQ, 0);
  cr_assert_geq(server_fresh(), 1);
  cr_assert_leq(server_fresh(), 4, "%llu requests in new memory, of 100",
                (unsigned long long)server_fresh());
  crpc_channel_free(ch);
}

Test(msg_cache, a_server_loop_can_keep_nothing,
     .init = start_server_keeping_nothing, .fini = stop_server, .timeout = 60) {
  crpc_channel *ch = channel(0);
  calls_with(ch, 50, BIG_REQ, 0);
  cr_assert_geq(server_fresh(), 50, "%llu requests in new memory, of 50",
                (unsigned long long)server_fresh());
  crpc_channel_free(ch);
}

/* Streams |count| messages of |bytes| of payload to ClientStream. */
static void write_stream(crpc_channel *ch, int count, size_t bytes) {
  uint8_t *payload = malloc(bytes);
  cr_assert_not_null(payload);
  memset(payload, 'w', bytes);
  req_t req = CRPC__SERVERTEST__REQ__INIT;
  req.payload.data = payload;
  req.payload.len = bytes;
  const crpc_call_opts o = {.timeout_ms = 30000};
  crpc_servertest_worker_test_client_stream_writer *w = NULL;
  cr_assert_eq(crpc_servertest_worker_test_client_stream(ch, &w, &o),
               CRPC_STATUS_OK);
  for (int i = 0; i < count; i++)
    cr_assert_eq(crpc_servertest_worker_test_client_stream_write(w, &req),
                 CRPC_STATUS_OK);
  rep_t *rep = NULL;
  cr_assert_eq(crpc_servertest_worker_test_client_stream_finish(w, &rep),
               CRPC_STATUS_OK);
  cr_assert_eq(rep->count, count);
  crpc__servertest__rep__free_unpacked(rep, NULL);
  crpc_servertest_worker_test_client_stream_free(w);
  free(payload);
}

/* A streamed request goes back to the loop's cache once the handler has
 * read it. What the stream's window (4 MiB) and its read queue (1 MiB)
 * let arrive ahead of the handler is in memory at once, about 11
 * messages of 512 KiB; freed instead, each of the 100 would be new. */
Test(msg_cache, a_server_loop_receives_streamed_requests_in_memory_it_kept,
     .init = start_server, .fini = stop_server, .timeout = 60) {
  crpc_channel *ch = channel(0);
  write_stream(ch, 100, BIG_REQ);
  cr_assert_geq(server_fresh(), 1);
  cr_assert_leq(server_fresh(), 16, "%llu messages in new memory, of 100",
                (unsigned long long)server_fresh());
  crpc_channel_free(ch);
}

/* A streaming handler's read unpacks into the call's read arena, in the
 * memory the message before it took: every message of the stream lies
 * where the first did, and the arena holds one message at a time. */
Test(msg_cache, a_streaming_handler_reads_each_message_where_the_last_was,
     .init = start_server, .fini = stop_server, .timeout = 60) {
  crpc_channel *ch = channel(0);
  write_stream(ch, 50, BIG_REQ);
  size_t peak = atomic_load(&read_arena_peak);
  cr_assert_geq(peak, BIG_REQ, "%zu bytes: the message is not in the arena",
                peak);
  cr_assert_leq(peak, BIG_REQ + 64 * KiB, "%zu bytes held", peak);
  cr_assert_eq(atomic_load(&reads_in_place), 49,
               "%d of 49 messages where the first was",
               atomic_load(&reads_in_place));
  crpc_channel_free(ch);
}

typedef struct pool_probe {
  size_t free_bytes, live;
  crpc_future *done;
} pool_probe;

static void on_loop(void *arg) {
  pool_probe *p = arg;
  p->free_bytes = srv->loops[0].free_bytes;
  p->live = srv->loops[0].calls_live;
  crpc_future_complete(p->done, CRPC_STATUS_OK, NULL, NULL, NULL);
}

/* The loop's pooled calls' bytes, read on its thread once its last call
 * is freed (the client has its reply a little before). */
static size_t pooled_bytes(void) {
  for (int i = 0; i < 10000; i++) {
    pool_probe p = {0};
    cr_assert_eq(crpc_future_new(NULL, &p.done), 0);
    cr_assert_eq(crpc_loop_post(srv->loops[0].loop, on_loop, &p), 0);
    crpc_future_wait(p.done);
    crpc_future_unref(p.done);
    if (p.live == 0)
      return p.free_bytes;
  }
  cr_assert_fail("the loop's calls were never freed");
  return 0;
}

/* A reply of 1 MiB and its framing is more than the 1 MiB a pooled call
 * kept of it before: its buffer was freed with each call, and glibc gave
 * it back to the kernel. */
Test(msg_cache, a_pooled_call_keeps_a_reply_of_a_mebibyte, .init = start_server,
     .fini = stop_server, .timeout = 60) {
  crpc_channel *ch = channel(0);
  calls_with(ch, 1, 16, (size_t)1 << 20);
  size_t kept = pooled_bytes();
  cr_assert_gt(kept, (size_t)1 << 20, "the pool keeps %zu bytes", kept);
  crpc_channel_free(ch);
}

Test(msg_cache, a_server_that_keeps_nothing_pools_no_large_buffer,
     .init = start_server_keeping_nothing, .fini = stop_server, .timeout = 60) {
  crpc_channel *ch = channel(0);
  calls_with(ch, 1, 16, (size_t)1 << 20);
  cr_assert_eq(pooled_bytes(), 0);
  crpc_channel_free(ch);
}
