/*
 * tests/fuzz/fuzz_server.c: libFuzzer target for the server's whole input
 * path: bytes from a client reach a real crpc_server (server/ on
 * runtime/h2conn.c, nghttp2, gRPC's header rules, message framing and
 * dispatch) through a real connection. The server runs on this thread's
 * loop with a service whose four methods, one of each kind, run as
 * coroutines on it, so that each input's work is done before the next.
 *
 * Each input: connect to the server's unix socket, send HTTP/2's client
 * preface and an empty SETTINGS, then the input; run the loop, reading and
 * dropping what the server sends, until nothing more happens; close; run
 * the loop until the server has closed the connection and its calls. No
 * turn of the loop waits (UV_RUN_NOWAIT), and no timer is waited for.
 *
 * The request value (google.protobuf.BytesValue) steers the handlers: its
 * first byte's bit 0 asks for gzip responses, bit 1 echoes the request
 * metadata as headers, bit 2 as trailers, bit 3 ends the call with the
 * status in the second byte and the rest as message and details; the
 * server-streaming method answers bits 4-5 times.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include "crpc/error.h"
#include "crpc/loop.h"
#include "crpc/server.h"
#include "google/protobuf/wrappers.pb-c.h"
#include "loop_internal.h"

typedef Google__Protobuf__BytesValue bytes_value;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Loop turns one input may take; far more than any input needs. */
#define MAX_TURNS 2000

static uv_loop_t uv;
static crpc_loop *loop;
static crpc_server *srv;
static char dir[64], sock_path[96];
static size_t received; /* bytes from the server, this input */

/* Handlers. */

/* What the request's first bytes ask of the call; returns the status the
 * handler ends with. */
static crpc_status behave(crpc_ctx *ctx, const bytes_value *req) {
  const uint8_t *v = req ? req->value.data : NULL;
  size_t n = req ? req->value.len : 0;
  if (n == 0)
    return CRPC_STATUS_OK;
  if (v[0] & 1)
    (void)crpc_ctx_set_compression(ctx, "gzip");
  const crpc_metadata *md = crpc_ctx_request_metadata(ctx);
  for (size_t i = 0; (v[0] & 6) && i < crpc_metadata_count(md); i++) {
    const crpc_metadata_entry *e = crpc_metadata_at(md, i);
    if (v[0] & 2)
      (void)crpc_ctx_add_header(ctx, e->key, e->value, e->value_len);
    if (v[0] & 4)
      (void)crpc_ctx_add_trailer(ctx, e->key, e->value, e->value_len);
  }
  if (!(v[0] & 8) || n < 2)
    return CRPC_STATUS_OK;
  char *msg = crpc_ctx_alloc(ctx, n - 1);
  if (msg) {
    memcpy(msg, v + 2, n - 2);
    msg[n - 2] = '\0';
    (void)crpc_ctx_set_message(ctx, msg);
  }
  (void)crpc_ctx_set_details(ctx, v + 2, n - 2);
  return (crpc_status)(v[1] % 17);
}

static crpc_status unary(crpc_ctx *ctx, const bytes_value *req,
                         bytes_value *reply) {
  reply->value = req->value;
  return behave(ctx, req);
}

static crpc_status server_streaming(crpc_ctx *ctx, const bytes_value *req,
                                    crpc_server_stream *st) {
  unsigned times = req->value.len ? (req->value.data[0] >> 4) & 3 : 1;
  for (unsigned i = 0; i < times; i++)
    if (crpc_server_stream_write(st, &req->base) != CRPC_STATUS_OK)
      break;
  return behave(ctx, req);
}

static crpc_status client_streaming(crpc_ctx *ctx, crpc_server_stream *st,
                                    bytes_value *reply) {
  ProtobufCMessage *m;
  crpc_status rc;
  size_t total = 0;
  while ((rc = crpc_server_stream_read(st, &m)) == CRPC_STATUS_OK && m)
    total += ((bytes_value *)m)->value.len;
  reply->value.len = 0;
  (void)total;
  return rc == CRPC_STATUS_OK ? behave(ctx, NULL) : rc;
}

static crpc_status bidi_streaming(crpc_ctx *ctx, crpc_server_stream *st) {
  ProtobufCMessage *m;
  crpc_status rc;
  /* A message read lives until the next read: the last one's first bytes
   * are kept to steer the end. */
  uint8_t steer[64];
  bytes_value last = GOOGLE__PROTOBUF__BYTES_VALUE__INIT;
  last.value.data = steer;
  while ((rc = crpc_server_stream_read(st, &m)) == CRPC_STATUS_OK && m) {
    const bytes_value *in = (const bytes_value *)m;
    last.value.len =
        in->value.len < sizeof(steer) ? in->value.len : sizeof(steer);
    if (last.value.len)
      memcpy(steer, in->value.data, last.value.len);
    if (crpc_server_stream_write(st, m) != CRPC_STATUS_OK)
      break;
  }
  return rc == CRPC_STATUS_OK ? behave(ctx, &last) : rc;
}

/* The service, as protoc-gen-crpc would write it. */

typedef struct handlers {
  crpc_status (*unary)(crpc_ctx *, const bytes_value *, bytes_value *);
  crpc_status (*server_streaming)(crpc_ctx *, const bytes_value *,
                                  crpc_server_stream *);
  crpc_status (*client_streaming)(crpc_ctx *, crpc_server_stream *,
                                  bytes_value *);
  crpc_status (*bidi_streaming)(crpc_ctx *, crpc_server_stream *);
} handlers;

static const handlers the_handlers = {unary, server_streaming, client_streaming,
                                      bidi_streaming};

static crpc_status invoke_unary(const void *h, crpc_ctx *ctx,
                                const ProtobufCMessage *request,
                                ProtobufCMessage *reply,
                                crpc_server_stream *st) {
  (void)st;
  return ((const handlers *)h)
      ->unary(ctx, (const bytes_value *)request, (bytes_value *)reply);
}

static crpc_status invoke_server_streaming(const void *h, crpc_ctx *ctx,
                                           const ProtobufCMessage *request,
                                           ProtobufCMessage *reply,
                                           crpc_server_stream *st) {
  (void)reply;
  return ((const handlers *)h)
      ->server_streaming(ctx, (const bytes_value *)request, st);
}

static crpc_status invoke_client_streaming(const void *h, crpc_ctx *ctx,
                                           const ProtobufCMessage *request,
                                           ProtobufCMessage *reply,
                                           crpc_server_stream *st) {
  (void)request;
  return ((const handlers *)h)->client_streaming(ctx, st, (bytes_value *)reply);
}

static crpc_status invoke_bidi_streaming(const void *h, crpc_ctx *ctx,
                                         const ProtobufCMessage *request,
                                         ProtobufCMessage *reply,
                                         crpc_server_stream *st) {
  (void)request, (void)reply;
  return ((const handlers *)h)->bidi_streaming(ctx, st);
}

#define METHOD(n, k, field, fn)                                                \
  {                                                                            \
    .name = n, .path = "/fuzz.Echo/" n, .kind = k,                             \
    .placement = CRPC_PLACEMENT_LOOP,                                          \
    .input = &google__protobuf__bytes_value__descriptor,                       \
    .output = &google__protobuf__bytes_value__descriptor,                      \
    .handler_offset = offsetof(handlers, field), .invoke = fn,                 \
  }

static const crpc_method methods[] = {
    METHOD("Unary", CRPC_METHOD_UNARY, unary, invoke_unary),
    METHOD("ServerStreaming", CRPC_METHOD_SERVER_STREAMING, server_streaming,
           invoke_server_streaming),
    METHOD("ClientStreaming", CRPC_METHOD_CLIENT_STREAMING, client_streaming,
           invoke_client_streaming),
    METHOD("BidiStreaming", CRPC_METHOD_BIDI_STREAMING, bidi_streaming,
           invoke_bidi_streaming),
};

static const crpc_service_desc desc = {
    .name = "fuzz.Echo",
    .package = "fuzz",
    .n_methods = sizeof(methods) / sizeof(methods[0]),
    .methods = methods,
    .handlers_size = sizeof(handlers),
};

/* Every log line is formatted, then dropped, unless CRPC_FUZZ_LOG is set
 * (to see what the server made of one input). */
static int verbose;

static void log_line(crpc_log_level level, const char *msg, void *user_data) {
  (void)user_data;
  if (verbose)
    fprintf(stderr, "server %s: %s\n", crpc_log_level_name(level), msg);
}

static void remove_socket_dir(void) {
  unlink(sock_path);
  rmdir(dir);
}

static void check(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "fuzz_server: %s\n", what);
    abort();
  }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  signal(SIGPIPE, SIG_IGN);
  verbose = getenv("CRPC_FUZZ_LOG") != NULL;
  snprintf(dir, sizeof(dir), "/tmp/crpc-fuzz-XXXXXX");
  check(mkdtemp(dir) != NULL, "mkdtemp");
  snprintf(sock_path, sizeof(sock_path), "%s/s", dir);
  atexit(remove_socket_dir);
  check(uv_loop_init(&uv) == 0, "uv_loop_init");
  check(crpc_loop_new(&uv, NULL, &loop) == 0, "crpc_loop_new");

  crpc_server_opts so;
  crpc_server_opts_init(&so);
  so.loop = loop;
  so.workers = 1;
  so.max_receive_bytes = 64 * 1024;
  /* Below the receive limit: an echo of a large (or inflated) request
   * is over it. */
  so.max_send_bytes = 16 * 1024;
  so.max_concurrent_streams = 16;
  so.logger =
      (crpc_logger){.level = CRPC_LOG_DEBUG, .fn = log_line, .level_set = 1};
  crpc_service *svc;
  check(crpc_server_new(&so, &srv) == 0, "crpc_server_new");
  check(crpc_service_new(&desc, &the_handlers, NULL, &svc) == 0,
        "crpc_service_new");
  check(crpc_server_add_service(srv, svc) == 0, "add_service");
  check(crpc_server_enable_reflection(srv) == 0, "enable_reflection");
  char addr[128];
  snprintf(addr, sizeof(addr), "unix:%s", sock_path);
  check(crpc_server_listen(srv, addr, NULL) == 0, "listen");
  check(crpc_server_start(srv) == 0, "start");
  return 0;
}

/* Reads and drops what the server sent on |fd|. Returns the bytes read;
 * sets |*eof| when the server has closed its side. */
static size_t drain(int fd, int *eof) {
  char buf[16384];
  size_t total = 0;
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) {
      total += (size_t)n;
      continue;
    }
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
      *eof = 1;
    return total;
  }
}

/* One turn of the loop without waiting. Returns 1 when it did nothing
 * visible: no bytes from the server and no work posted to the loop. */
static int turn(int fd, int *eof) {
  uv_run(&uv, UV_RUN_NOWAIT);
  size_t got = fd >= 0 && !*eof ? drain(fd, eof) : 0;
  received += got;
  return got == 0 && !loop->idle_active;
}

/* Sends the |n| bytes at |p|, turning the loop while the socket is
 * full. */
static void send_all(int fd, const uint8_t *p, size_t n, int *eof) {
  for (int turns = 0; n > 0 && !*eof && turns < MAX_TURNS; turns++) {
    ssize_t w = send(fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w > 0) {
      p += w;
      n -= (size_t)w;
    } else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
               errno != EINTR) {
      return; /* the server has closed the connection */
    }
    if (n > 0)
      turn(fd, eof);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const uint8_t preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
                                   /* SETTINGS, empty */
                                   "\x00\x00\x00\x04\x00\x00\x00\x00\x00";
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  check(fd >= 0, "socket");
  check(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect");

  int eof = 0, quiet = 0, turns = 0;
  received = 0;
  send_all(fd, preface, sizeof(preface) - 1, &eof);
  send_all(fd, data, size, &eof);
  for (; turns < MAX_TURNS && quiet < 3; turns++)
    quiet = turn(fd, &eof) ? quiet + 1 : 0;
  if (verbose)
    fprintf(stderr, "client: read %zu bytes in %d turns%s\n", received, turns,
            eof ? ", then the end of the stream" : "");
  close(fd);

  /* The server sees the end of the stream and closes the connection, and
   * its calls end. */
  crpc_server_stats st;
  crpc_server_stats_get(srv, &st);
  eof = 1;
  for (quiet = 0; turns < 2 * MAX_TURNS && (st.connections > 0 || quiet < 3);
       turns++) {
    quiet = turn(-1, &eof) ? quiet + 1 : 0;
    crpc_server_stats_get(srv, &st);
  }
  check(st.connections == 0, "the server never closed the connection");
  return 0;
}
