/*
 * tests/runtime/test_h2conn.c: the HTTP/2 connection core both sides use,
 * a server and a client role over a socketpair on one loop: the SETTINGS
 * exchange, a stream's headers, body and close reaching each role, the
 * window given back by hand, the done() decision, the reason recorded
 * when the peer closes or breaks HTTP/2, and each hook running once.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crpc/loop.h"
#include "h2conn.h"
#include "loop_internal.h"

/* One side: the connection and what its role saw. */
typedef struct side {
  crpc__h2conn c;
  crpc__h2group g;
  uv_prepare_t flush;
  int stream; /* the one stream's user data: its address */
  int headers, header_fields, frames, stream_closed, ends_sent;
  uint32_t close_code;
  size_t data;
  char body[64];
  size_t body_len, body_off;
  int want_done, closing, closed, destroyed;
  int peer_fd;        /* a raw peer's socket, or 0 */
  int peer_heard_mid; /* it had bytes to read once 300 KiB had arrived */
} side;

static side *side_of(crpc__h2conn *c) {
  return (side *)((char *)c - offsetof(side, c));
}

/* The stream's user data is &side->stream. */
static side *side_of_stream(void *stream) {
  return (side *)((char *)stream - offsetof(side, stream));
}

static int begin_headers(crpc__h2conn *c, const nghttp2_frame *frame) {
  side *s = side_of(c);
  crpc__h2conn_set_stream(c, frame->hd.stream_id, &s->stream);
  return 0;
}

static int header(void *stream, const nghttp2_frame *frame, const uint8_t *n,
                  size_t nl, const uint8_t *v, size_t vl) {
  (void)frame, (void)n, (void)nl, (void)v, (void)vl;
  side_of_stream(stream)->header_fields++;
  return 0;
}

static void frame_recv(crpc__h2conn *c, void *stream,
                       const nghttp2_frame *frame) {
  side *s = side_of(c);
  s->frames++;
  if (stream && frame->hd.type == NGHTTP2_HEADERS)
    s->headers++;
}

/* The socket |fd| has bytes to read. */
static int readable(int fd) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  return poll(&p, 1, 0) == 1;
}

static void data(void *stream, const uint8_t *p, size_t n) {
  (void)p;
  side *s = side_of_stream(stream);
  size_t before = s->data;
  s->data += n;
  if (s->peer_fd && before < 300 * 1024 && s->data >= 300 * 1024)
    s->peer_heard_mid = readable(s->peer_fd);
  /* The stream's window is the role's to give back. */
  nghttp2_session_consume_stream(s->c.ng, 1, n);
}

static void stream_close(void *stream, uint32_t code) {
  side *s = side_of_stream(stream);
  s->stream_closed++;
  s->close_code = code;
}

static void end_sent(void *stream) {
  side_of_stream(stream)->ends_sent++;
}

static ssize_t read_body(void *stream, size_t len, uint32_t *flags) {
  side *s = side_of_stream(stream);
  size_t n = s->body_len - s->body_off;
  if (n > len)
    n = len;
  if (n)
    *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
  if (s->body_off + n == s->body_len)
    *flags |= NGHTTP2_DATA_FLAG_EOF;
  return (ssize_t)n;
}

/* The bytes read_body() left in place, consumed once the batch has them. */
static int send_data(void *stream, crpc__h2io_out *out,
                     const nghttp2_frame *frame, const uint8_t *framehd,
                     size_t len) {
  side *s = side_of_stream(stream);
  cr_assert_leq(len, s->body_len - s->body_off);
  int rv = crpc__h2io_put_data(out, frame, framehd,
                               (const uint8_t *)s->body + s->body_off, len);
  if (rv == 0)
    s->body_off += len;
  return rv;
}

static int done(crpc__h2conn *c, int idle) {
  return idle || side_of(c)->want_done;
}

static void closing(crpc__h2conn *c) {
  side_of(c)->closing++;
}

static void closed(crpc__h2conn *c) {
  side *s = side_of(c);
  s->closed++;
  cr_assert_null(c->ng, "the session is freed before closed()");
}

static void destroy(crpc__h2conn *c) {
  side_of(c)->destroyed++;
}

static size_t body_ready(void *stream) {
  side *s = side_of_stream(stream);
  return s->body_len - s->body_off;
}

#define ROLE_CALLBACKS                                                         \
  .header = header, .frame_recv = frame_recv, .data = data,                    \
  .stream_close = stream_close, .end_sent = end_sent, .read_body = read_body,  \
  .body_ready = body_ready, .send_data = send_data, .done = done,              \
  .closing = closing, .closed = closed, .destroy = destroy

static const crpc__h2conn_role server_role = {
    .server = 1,
    .peer_noun = "the client",
    .begin_headers = begin_headers,
    ROLE_CALLBACKS,
};
static const crpc__h2conn_role client_role = {
    .server = 0,
    .peer_noun = "the server",
    ROLE_CALLBACKS,
};

static crpc_loop *loop;
static side *srv, *cli;
static crpc_logger quiet;

static void on_flush(uv_prepare_t *p) {
  crpc__h2group_flush(p->data);
}

static void open_side(side *s, const crpc__h2conn_role *role, int fd) {
  cr_assert_eq(crpc__h2group_init(&s->g, loop), 0);
  s->g.limits = crpc__h2limits_or_default(&(crpc__h2limits){.max_streams = 7});
  crpc__h2conn_init(&s->c, role, &s->g, &quiet);
  snprintf(s->c.name, sizeof(s->c.name), "%s", role->server ? "srv" : "cli");
  uv_loop_t *uv = crpc_loop_uv(loop);
  cr_assert_eq(uv_pipe_init(uv, &s->c.h.pipe, 0), 0);
  cr_assert_eq(uv_pipe_open(&s->c.h.pipe, fd), 0);
  s->c.h.handle.data = &s->c;
  uv_prepare_init(uv, &s->flush);
  s->flush.data = &s->g;
  uv_prepare_start(&s->flush, on_flush);
  cr_assert_eq(crpc__h2conn_start(&s->c, NULL), 0);
}

/* Runs the loop until |cond| holds (at most 100000 turns, none waiting). */
#define RUN_UNTIL(cond)                                                        \
  do {                                                                         \
    for (int turn_ = 0; turn_ < 100000 && !(cond); turn_++)                    \
      crpc_loop_run(loop, CRPC_RUN_NOWAIT);                                    \
    cr_assert(cond,                                                            \
              "never: %s (server: closed %d refs %d, %s; client: closed %d "   \
              "refs %d, %s)",                                                  \
              #cond, srv->closed, srv->c.refs, srv->c.error, cli->closed,      \
              cli->c.refs, cli->c.error);                                      \
  } while (0)

static int fds[2];

static void setup(void) {
  /* As crpc-server does: a write to a peer that has gone is an error, not
   * a signal. */
  signal(SIGPIPE, SIG_IGN);
  cr_assert_eq(crpc_loop_new(NULL, NULL, &loop), 0);
  crpc__loop_set_current(loop);
  srv = calloc(1, sizeof(*srv));
  cli = calloc(1, sizeof(*cli));
  cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
}

static void teardown(void) {
  /* Whatever is still open closes; the loop then has nothing left. */
  if (!srv->c.closed && srv->c.h.handle.data)
    crpc__h2conn_close(&srv->c, NULL);
  if (!cli->c.closed && cli->c.h.handle.data)
    crpc__h2conn_close(&cli->c, NULL);
  /* A dirty mark holds a reference until the group's next flush. */
  for (int turn = 0; turn < 100 && ((srv->c.h.handle.data && !srv->destroyed) ||
                                    (cli->c.h.handle.data && !cli->destroyed));
       turn++)
    crpc_loop_run(loop, CRPC_RUN_NOWAIT);
  cr_assert(!srv->c.h.handle.data || srv->destroyed, "server side leaked");
  cr_assert(!cli->c.h.handle.data || cli->destroyed, "client side leaked");
  if (srv->flush.data)
    uv_close((uv_handle_t *)&srv->flush, NULL);
  if (cli->flush.data)
    uv_close((uv_handle_t *)&cli->flush, NULL);
  crpc_loop_run(loop, CRPC_RUN_DEFAULT);
  crpc__loop_set_current(NULL);
  crpc_loop_free(loop);
  crpc__h2group_cleanup(&srv->g);
  crpc__h2group_cleanup(&cli->g);
  free(srv);
  free(cli);
}

TestSuite(h2conn, .init = setup, .fini = teardown, .timeout = 20);

Test(h2conn, settings_then_a_stream_both_ways) {
  open_side(srv, &server_role, fds[0]);
  open_side(cli, &client_role, fds[1]);
  RUN_UNTIL(srv->c.established && cli->c.established);
  /* The server announced its stream limit. */
  cr_assert_eq(nghttp2_session_get_remote_settings(
                   cli->c.ng, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS),
               7);
  cr_assert_eq(nghttp2_session_get_remote_settings(
                   srv->c.ng, NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE),
               CRPC__H2_STREAM_WINDOW);
  /* Each side may send the other frames as large as crpc sends, not
   * HTTP/2's initial 16 KiB. */
  cr_assert_eq(nghttp2_session_get_remote_settings(
                   srv->c.ng, NGHTTP2_SETTINGS_MAX_FRAME_SIZE),
               CRPC__H2_MAX_DATA_FRAME);
  cr_assert_eq(nghttp2_session_get_remote_settings(
                   cli->c.ng, NGHTTP2_SETTINGS_MAX_FRAME_SIZE),
               CRPC__H2_MAX_DATA_FRAME);

  const nghttp2_nv req[] = {
      {(uint8_t *)":method", (uint8_t *)"POST", 7, 4, 0},
      {(uint8_t *)":scheme", (uint8_t *)"http", 7, 4, 0},
      {(uint8_t *)":path", (uint8_t *)"/a.B/C", 5, 6, 0},
      {(uint8_t *)":authority", (uint8_t *)"x", 10, 1, 0},
  };
  strcpy(cli->body, "hello, server");
  cli->body_len = strlen(cli->body);
  nghttp2_data_provider body = crpc__h2conn_body(&cli->stream);
  int32_t id =
      nghttp2_submit_request(cli->c.ng, NULL, req, 4, &body, &cli->stream);
  cr_assert_eq(id, 1);
  crpc__h2conn_mark_dirty(&cli->c);
  RUN_UNTIL(srv->data == cli->body_len && srv->headers == 1);
  cr_assert_eq(srv->header_fields, 4);

  const nghttp2_nv resp[] = {{(uint8_t *)":status", (uint8_t *)"200", 7, 3, 0}};
  strcpy(srv->body, "hi");
  srv->body_len = 2;
  body = crpc__h2conn_body(&srv->stream);
  cr_assert_eq(nghttp2_submit_response(srv->c.ng, 1, resp, 1, &body), 0);
  crpc__h2conn_mark_dirty(&srv->c);
  RUN_UNTIL(cli->stream_closed == 1 && srv->stream_closed == 1);
  cr_assert_eq(cli->data, 2);
  cr_assert_eq(cli->close_code, NGHTTP2_NO_ERROR);
  /* Each side's END_STREAM went out once, on its last DATA frame. */
  cr_assert_eq(srv->ends_sent, 1);
  cr_assert_eq(cli->ends_sent, 1);
  cr_assert_eq(srv->closing, 0);
  /* Every write went out at once: the batches were the groups', and
   * neither connection holds memory for output. */
  cr_assert_null(crpc__buf_data(&srv->c.rest.bytes));
  cr_assert_null(crpc__buf_data(&cli->c.rest.bytes));
  cr_assert_null(srv->c.rest.seg);
  cr_assert_gt(crpc__buf_room(&srv->g.wbuf.bytes), 0);
}

Test(h2conn, the_peer_closing_is_the_reason_and_hooks_run_once) {
  open_side(srv, &server_role, fds[0]);
  open_side(cli, &client_role, fds[1]);
  RUN_UNTIL(srv->c.established && cli->c.established);
  /* Nothing left to send either way (SETTINGS acknowledged), so the
   * server's next step is reading the close. */
  RUN_UNTIL(!nghttp2_session_want_write(srv->c.ng) &&
            !nghttp2_session_want_write(cli->c.ng) && srv->frames >= 2 &&
            cli->frames >= 2);
  cli->want_done = 1;
  crpc__h2conn_mark_dirty(&cli->c); /* the flush finds it done */
  RUN_UNTIL(srv->destroyed && cli->destroyed);
  cr_assert_str_eq(cli->c.error, "connection closed");
  cr_assert_str_eq(srv->c.error, "the client closed the connection");
  cr_assert_eq(srv->closing, 1);
  cr_assert_eq(srv->closed, 1);
  cr_assert_eq(srv->destroyed, 1);
  cr_assert_eq(cli->closing, 1);
  cr_assert_eq(cli->closed, 1);
  /* Closing again does nothing. */
  crpc__h2conn_close(&srv->c, "again");
  cr_assert_str_eq(srv->c.error, "the client closed the connection");
}

Test(h2conn, a_peer_that_breaks_http2_is_named) {
  open_side(srv, &server_role, fds[0]);
  static const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  cr_assert_eq(write(fds[1], junk, sizeof(junk) - 1),
               (ssize_t)sizeof(junk) - 1);
  RUN_UNTIL(srv->destroyed);
  cr_assert(strstr(srv->c.error, "the client") != NULL &&
                (strstr(srv->c.error, "bad HTTP/2") != NULL ||
                 strstr(srv->c.error, "closed") != NULL),
            "reason: %s", srv->c.error);
  cr_assert_eq(srv->closed, 1);
  close(fds[1]);
}

Test(h2conn, fail_flushes_then_closes_with_its_reason) {
  open_side(srv, &server_role, fds[0]);
  open_side(cli, &client_role, fds[1]);
  RUN_UNTIL(srv->c.established && cli->c.established);
  nghttp2_submit_goaway(srv->c.ng, NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR, NULL,
                        0);
  crpc__h2conn_fail(&srv->c, "the drain time is over");
  crpc__h2conn_fail(&srv->c, "a later reason");
  /* What was queued (the GOAWAY) still goes out before the close. */
  RUN_UNTIL(srv->destroyed && cli->destroyed);
  cr_assert_str_eq(srv->c.error, "the drain time is over");
  cr_assert_str_eq(cli->c.error, "the server closed the connection");
}

/* Appends a frame header to |p|: RFC 9113, section 4.1. */
static uint8_t *frame_header(uint8_t *p, size_t len, uint8_t type,
                             uint8_t flags, uint32_t stream) {
  *p++ = (uint8_t)(len >> 16);
  *p++ = (uint8_t)(len >> 8);
  *p++ = (uint8_t)len;
  *p++ = type;
  *p++ = flags;
  *p++ = (uint8_t)(stream >> 24);
  *p++ = (uint8_t)(stream >> 16);
  *p++ = (uint8_t)(stream >> 8);
  *p++ = (uint8_t)stream;
  return p;
}

/* A read that fills the buffer leaves more input waiting; what the session
 * has to send meanwhile goes out before that is read, not after: a peer
 * that sent its whole window then gets a WINDOW_UPDATE while the rest is
 * read. Here the first read brings the peer's SETTINGS, whose ACK must
 * reach the peer before the second read is fed. */
Test(h2conn, what_a_full_read_makes_the_session_say_goes_out_before_the_rest) {
  open_side(srv, &server_role, fds[0]);
  /* The server's SETTINGS and window, read and dropped. */
  RUN_UNTIL(readable(fds[1]));
  uint8_t sink[4096];
  cr_assert_gt(read(fds[1], sink, sizeof(sink)), 0);
  cr_assert(!readable(fds[1]));

  /* The preface, SETTINGS, the ACK of the server's, a request's HEADERS
   * and 360 KiB of DATA: more than one read's buffer (256 KiB), all in
   * the socket before the server reads any (the buffer is the system's
   * default at least: 416 KiB). */
  enum { FRAMES = 22, CHUNK = 16384 };
  static uint8_t wire[64 + FRAMES * (CRPC__H2_FRAME_HDLEN + CHUNK)];
  static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  static const uint8_t block[] = {0x83, 0x86, 0x04, 0x06, '/',  'a', '.',
                                  'B',  '/',  'C',  0x01, 0x01, 'x'};
  uint8_t *p = wire;
  memcpy(p, preface, sizeof(preface) - 1);
  p += sizeof(preface) - 1;
  p = frame_header(p, 0, NGHTTP2_SETTINGS, 0, 0);
  p = frame_header(p, 0, NGHTTP2_SETTINGS, NGHTTP2_FLAG_ACK, 0);
  p = frame_header(p, sizeof(block), NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS,
                   1);
  memcpy(p, block, sizeof(block));
  p += sizeof(block);
  for (int i = 0; i < FRAMES; i++) {
    p = frame_header(p, CHUNK, NGHTTP2_DATA, 0, 1);
    memset(p, 'd', CHUNK);
    p += CHUNK;
  }
  int sndbuf = 212992; /* Linux's default net.core.wmem_max, doubled */
  cr_assert_eq(
      setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
  cr_assert_eq(fcntl(fds[1], F_SETFL, O_NONBLOCK), 0);
  size_t len = (size_t)(p - wire);
  cr_assert_eq(write(fds[1], wire, len), (ssize_t)len,
               "the socket did not take %zu bytes at once", len);

  srv->peer_fd = fds[1];
  RUN_UNTIL(srv->data == (size_t)FRAMES * CHUNK);
  cr_assert(srv->peer_heard_mid,
            "the server wrote nothing between its first read and its second");
  close(fds[1]);
  RUN_UNTIL(srv->destroyed);
}
