/*
 * tests/fuzz/fuzz_client.c: libFuzzer target for the client's whole input
 * path: bytes from a server reach a real crpc_channel (client/ on
 * runtime/h2conn.c, nghttp2, gRPC's header and trailer rules, message
 * framing and unpacking) through a real connection, on this thread's loop.
 *
 * Each input: a new channel to this process's unix socket starts a call;
 * the connection is accepted here and answered with an empty SETTINGS
 * (the server preface); once the client has sent its request, the input
 * after its first byte follows, then the end of the stream. The loop runs
 * until the call is over and nothing more happens, and again once the
 * channel is freed, until nothing of it is left. No turn of the loop
 * waits (UV_RUN_NOWAIT), and no timer is waited for.
 *
 * First byte: bit 0 makes the call server-streaming (read to its end),
 * else unary; bit 1 compresses the request with gzip; bit 2 sends request
 * metadata.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include "crpc/call.h"
#include "crpc/channel.h"
#include "crpc/error.h"
#include "crpc/future.h"
#include "crpc/loop.h"
#include "google/protobuf/wrappers.pb-c.h"
#include "loop_internal.h"

typedef Google__Protobuf__BytesValue bytes_value;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Loop turns one phase of an input may take; far more than any needs. */
#define MAX_TURNS 2000

static uv_loop_t uv;
static crpc_loop *loop;
static int lfd = -1; /* the listening socket, served by hand */
static char dir[64], sock_path[96], target[128];
static int verbose; /* CRPC_FUZZ_LOG: print the channel's log */

static const crpc_method methods[2] = {
    {
        .name = "Unary",
        .path = "/fuzz.Echo/Unary",
        .kind = CRPC_METHOD_UNARY,
        .input = &google__protobuf__bytes_value__descriptor,
        .output = &google__protobuf__bytes_value__descriptor,
    },
    {
        .name = "ServerStreaming",
        .path = "/fuzz.Echo/ServerStreaming",
        .kind = CRPC_METHOD_SERVER_STREAMING,
        .input = &google__protobuf__bytes_value__descriptor,
        .output = &google__protobuf__bytes_value__descriptor,
    },
};

static void log_line(crpc_log_level level, const char *msg, void *user_data) {
  (void)user_data;
  if (verbose)
    fprintf(stderr, "client %s: %s\n", crpc_log_level_name(level), msg);
}

static void remove_socket_dir(void) {
  if (lfd >= 0)
    close(lfd);
  unlink(sock_path);
  rmdir(dir);
}

static void check(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "fuzz_client: %s\n", what);
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
  snprintf(target, sizeof(target), "unix:%s", sock_path);
  atexit(remove_socket_dir);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
  lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  check(lfd >= 0, "socket");
  check(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "bind");
  check(listen(lfd, 16) == 0, "listen");
  check(uv_loop_init(&uv) == 0, "uv_loop_init");
  check(crpc_loop_new(&uv, NULL, &loop) == 0, "crpc_loop_new");
  return 0;
}

/* The server's side of one input. */
typedef struct peer {
  int fd;       /* the accepted connection, or -1 */
  int eof;      /* the client closed its side */
  size_t got;   /* bytes the client sent */
  int accepted; /* connections accepted */
} peer;

/* Accepts what the channel connects; a connection past the first is
 * closed at once (a reconnect after the input's stream ended). */
static int accept_new(peer *p) {
  int fd, n = 0;
  while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
    n++;
    if (p->fd < 0 && p->accepted++ == 0)
      p->fd = fd;
    else
      close(fd);
  }
  return n;
}

/* Reads and drops what the client sent. Returns the bytes read. */
static size_t drain(peer *p) {
  char buf[16384];
  size_t total = 0;
  while (p->fd >= 0 && !p->eof) {
    ssize_t n = recv(p->fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) {
      total += (size_t)n;
      continue;
    }
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
      p->eof = 1;
    break;
  }
  p->got += total;
  return total;
}

/* One turn of the loop without waiting. Returns 1 when it did nothing
 * visible: no connection, no bytes from the client, no work posted. */
static int turn(peer *p) {
  uv_run(&uv, UV_RUN_NOWAIT);
  int news = accept_new(p);
  size_t got = drain(p);
  return news == 0 && got == 0 && !loop->idle_active;
}

static void run_until_quiet(peer *p) {
  for (int turns = 0, quiet = 0; turns < MAX_TURNS && quiet < 3; turns++)
    quiet = turn(p) ? quiet + 1 : 0;
}

/* Sends the |n| bytes at |d| to the client, turning the loop while the
 * socket is full. */
static void send_all(peer *p, const uint8_t *d, size_t n) {
  for (int turns = 0; n > 0 && turns < MAX_TURNS; turns++) {
    ssize_t w = send(p->fd, d, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w > 0) {
      d += w;
      n -= (size_t)w;
    } else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
               errno != EINTR) {
      return; /* the client has closed the connection */
    }
    if (n > 0)
      turn(p);
  }
}

/* The call of one input, polled between turns. */
typedef struct call {
  crpc_future *unary; /* a unary call's future */
  crpc_call *stream;  /* a server-streaming call */
  crpc_future *read;  /* its pending read, or its finish */
  int finishing, done;
  crpc_status status; /* once done */
  char message[128];  /* the status message, for CRPC_FUZZ_LOG */
} call;

/* Records the end of the call, whose last future is |f|. */
static void call_done(call *c, crpc_status st, crpc_future *f) {
  const char *m = crpc_future_message(f);
  c->status = st;
  snprintf(c->message, sizeof(c->message), "%s", m ? m : "");
  c->done = 1;
}

static void call_start(call *c, crpc_channel *ch, uint8_t mode) {
  static const uint8_t text[] = "\x01request";
  bytes_value req = GOOGLE__PROTOBUF__BYTES_VALUE__INIT;
  req.value.data = (uint8_t *)text;
  req.value.len = sizeof(text) - 1;
  crpc_metadata md;
  crpc_metadata_init(&md);
  crpc_call_opts opts = {.compression = (mode & 2) ? "gzip" : NULL};
  if (mode & 4) {
    (void)crpc_metadata_add_str(&md, "x-fuzz", "value");
    (void)crpc_metadata_add(&md, "x-fuzz-bin", "\x00\x01", 2);
    opts.metadata = &md;
  }
  if (mode & 1) {
    check(crpc_call_start(ch, &methods[1], &req.base, &opts, &c->stream) ==
              CRPC_STATUS_OK,
          "crpc_call_start");
    c->read = crpc_call_read_async(c->stream);
    check(c->read != NULL, "crpc_call_read_async");
  } else {
    c->unary = crpc_call_unary_async(ch, &methods[0], &req.base, &opts);
    check(c->unary != NULL, "crpc_call_unary_async");
  }
  crpc_metadata_cleanup(&md);
}

/* Takes what completed. Returns 1 when the call made progress. */
static int call_poll(call *c) {
  if (c->done)
    return 0;
  if (c->unary) {
    if (!crpc_future_is_done(c->unary))
      return 0;
    ProtobufCMessage *reply = NULL;
    crpc_status st = crpc_call_result(c->unary, &reply);
    if (st == CRPC_STATUS_OK)
      protobuf_c_message_free_unpacked(reply, NULL);
    (void)crpc_call_status_info(c->unary);
    (void)crpc_call_headers(c->unary);
    (void)crpc_call_trailers(c->unary);
    call_done(c, st, c->unary);
    return 1;
  }
  if (!crpc_future_is_done(c->read))
    return 0;
  if (c->finishing) {
    call_done(c, crpc_call_result(c->read, NULL), c->read);
    return 1;
  }
  ProtobufCMessage *msg = NULL;
  crpc_status st = crpc_call_read_result(c->read, &msg);
  crpc_future_unref(c->read);
  if (st == CRPC_STATUS_OK && msg) {
    protobuf_c_message_free_unpacked(msg, NULL);
    c->read = crpc_call_read_async(c->stream);
  } else {
    c->finishing = 1;
    c->read = crpc_call_finish_async(c->stream);
  }
  check(c->read != NULL, "out of memory");
  return 1;
}

/* Turns the loop until the call is over and nothing happens, or the
 * bound. */
static void run_call(peer *p, call *c) {
  for (int turns = 0, quiet = 0; turns < MAX_TURNS && quiet < 3; turns++) {
    int idle = turn(p);
    quiet = call_poll(c) || !idle ? 0 : quiet + 1;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  uint8_t mode = data[0];
  data++, size--;

  crpc_channel_opts co;
  crpc_channel_opts_init(&co);
  co.loop = loop;
  co.max_receive_bytes = 64 * 1024;
  co.logger =
      (crpc_logger){.level = CRPC_LOG_DEBUG, .fn = log_line, .level_set = 1};
  crpc_channel *ch;
  check(crpc_channel_new(target, &co, &ch) == 0, "crpc_channel_new");
  peer p = {.fd = -1};
  call c = {0};
  call_start(&c, ch, mode);

  /* The connection, the server preface, the request. */
  for (int turns = 0; p.fd < 0 && turns < MAX_TURNS; turns++)
    turn(&p);
  check(p.fd >= 0, "the channel never connected");
  static const uint8_t settings[] = "\x00\x00\x00\x04\x00\x00\x00\x00\x00";
  send_all(&p, settings, sizeof(settings) - 1);
  run_until_quiet(&p);
  size_t request = p.got;

  /* The server's bytes, then the end of its stream. */
  send_all(&p, data, size);
  run_call(&p, &c);
  shutdown(p.fd, SHUT_WR);
  run_call(&p, &c);
  if (verbose)
    fprintf(stderr, "server: read %zu bytes before, %zu after; call %s %s\n",
            request, p.got - request,
            c.done ? crpc_status_name(c.status) : "still running", c.message);

  /* Everything of the channel closes, on this loop. */
  crpc_channel_free(ch);
  int turns = 0;
  for (; turns < MAX_TURNS && uv_loop_alive(&uv); turns++) {
    turn(&p);
    call_poll(&c);
  }
  check(!uv_loop_alive(&uv), "the channel never closed");
  if (c.unary)
    crpc_future_unref(c.unary);
  if (c.read) {
    (void)crpc_future_is_done(c.read);
    crpc_future_unref(c.read);
  }
  if (c.stream)
    crpc_call_free(c.stream);
  if (p.fd >= 0)
    close(p.fd);
  return 0;
}
