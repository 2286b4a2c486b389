/*
 * bench/floor/echo.c: crpc-bench-echo, the floor under the benchmarks'
 * 1x1 figures.
 *
 *   crpc-bench-echo --serve --port N [--host H]
 *   crpc-bench-echo --target H:P [--size B (1)] [--duration_s S (10)]
 *       [--warmup_s S (1)]
 *
 * One connection between two processes with nothing but the kernel in
 * between: the server writes back whatever it reads; the client writes
 * --size bytes, waits (epoll) until as many have come back, and starts
 * again. Pinned as the RPC benchmarks pin their programs (server on one
 * CPU, client on the other), its p50 latency and its server CPU per round
 * trip are what the machine itself charges for any 1x1 call between those
 * CPUs: the wakeups across them, loopback TCP, and an epoll_wait, a read
 * and a write on each side. No RPC framework can do a round trip for less,
 * so bench/run.py measures this floor in every run and reports the 1x1 rows
 * as their distance above it. Plain C and POSIX with Linux's epoll and
 * signalfd: nothing of crpc's or libuv's is in the path.
 *
 * The server prints "listening on HOST:PORT" once it accepts (127.0.0.1
 * unless given; port 0 picks a free one), echoes on any number of
 * connections (TCP_NODELAY), and exits 0 on SIGTERM or SIGINT (or when its
 * parent dies). The client prints the load clients' one line:
 *   scenario=echo channels=1 outstanding=1 req_size=1 resp_size=1
 *   seconds=10.00 calls=123456 rate=12345.6 p50_us=80 p90_us=90
 *   p99_us=120 errors=0
 * Nothing is counted during the warmup, and a round trip still in flight
 * at the end is dropped. It exits 1 when the connection failed or no round
 * trip completed, 2 for a bad command line.
 *
 * For example, server on core 0 and client on core 1:
 *   taskset -c 0 crpc-bench-echo --serve --port 0 &
 *   taskset -c 1 crpc-bench-echo --target 127.0.0.1:PORT --duration_s 5
 */
#define _GNU_SOURCE

#include "flags.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char USAGE[] =
    "usage: crpc-bench-echo --serve --port N [--host H]\n"
    "       crpc-bench-echo --target H:P [--size B] [--duration_s S]\n"
    "           [--warmup_s S]\n";

#define BUF_SIZE 65536
#define MAX_SIZE (4 << 20)

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* "H:P" or "[H]:P" into |host| (|cap| bytes) and |port|; -1 when it is
 * neither. */
static int split_target(const char *target, char *host, size_t cap,
                        const char **port) {
  const char *colon = strrchr(target, ':');
  if (!colon || !colon[1])
    return -1;
  const char *h = target;
  size_t len = (size_t)(colon - target);
  if (len >= 2 && h[0] == '[' && h[len - 1] == ']') {
    h++;
    len -= 2;
  }
  if (len == 0 || len >= cap)
    return -1;
  memcpy(host, h, len);
  host[len] = '\0';
  *port = colon + 1;
  return 0;
}

/* ---- the server ---- */

/* An accepted connection: buf[off, len) has been read and not yet written
 * back. While a write would block the connection waits to write, not to
 * read (|waiting_out|). */
typedef struct conn {
  int fd, waiting_out;
  size_t off, len;
  struct conn *prev, *next;
  char buf[BUF_SIZE];
} conn;

typedef struct echo_server {
  int ep, lfd, sfd;
  conn *conns;
} echo_server;

static void conn_close(echo_server *s, conn *c) {
  epoll_ctl(s->ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  if (c->prev)
    c->prev->next = c->next;
  else
    s->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  free(c);
}

/* Waits for |c| to be writable (|out|) or readable. */
static int conn_want(echo_server *s, conn *c, int out) {
  struct epoll_event ev = {.events = out ? EPOLLOUT : EPOLLIN, .data.ptr = c};
  if (c->waiting_out == out)
    return 0;
  c->waiting_out = out;
  return epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Writes back what is pending; -1 when the connection is done. */
static int conn_flush(echo_server *s, conn *c) {
  while (c->off < c->len) {
    ssize_t n = send(c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN)
      return conn_want(s, c, 1);
    if (n < 0)
      return -1;
    c->off += (size_t)n;
  }
  c->off = c->len = 0;
  return conn_want(s, c, 0);
}

/* Handles an event on |c|; -1 when the connection is done. */
static int conn_event(echo_server *s, conn *c) {
  if (c->len > 0)
    return conn_flush(s, c);
  ssize_t n = recv(c->fd, c->buf, BUF_SIZE, 0);
  if (n < 0)
    return errno == EAGAIN || errno == EINTR ? 0 : -1;
  if (n == 0)
    return -1;
  c->len = (size_t)n;
  return conn_flush(s, c);
}

/* Takes every connection waiting on the listener. */
static void accept_all(echo_server *s) {
  for (;;) {
    int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED)
        continue;
      return; /* EAGAIN, or out of descriptors until some close */
    }
    set_nodelay(fd);
    conn *c = calloc(1, sizeof(*c));
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (!c || epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
      free(c);
      close(fd);
      continue;
    }
    c->fd = fd;
    c->next = s->conns;
    if (s->conns)
      s->conns->prev = c;
    s->conns = c;
  }
}

/* A listening socket on |host|:|port|; its port in |*bound|. Returns the
 * descriptor, or -1 after printing why. */
static int listen_on(const char *host, int port, int *bound) {
  char service[16];
  snprintf(service, sizeof(service), "%d", port);
  struct addrinfo hints = {.ai_family = AF_UNSPEC,
                           .ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
  struct addrinfo *ai = NULL;
  int rc = getaddrinfo(host, service, &hints, &ai);
  if (rc != 0) {
    fprintf(stderr, "crpc-bench-echo: %s: %s\n", host, gai_strerror(rc));
    return -1;
  }
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  struct sockaddr_storage sa;
  socklen_t len = sizeof(sa);
  if (fd < 0 ||
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 128) != 0 ||
      getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
    fprintf(stderr, "crpc-bench-echo: cannot listen on %s:%d: %s\n", host, port,
            strerror(errno));
    if (fd >= 0)
      close(fd);
    fd = -1;
  } else {
    *bound =
        ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
                                       : ((struct sockaddr_in *)&sa)->sin_port);
  }
  freeaddrinfo(ai);
  return fd;
}

/* Echoes until SIGTERM or SIGINT arrives on |s->sfd|. */
static void serve_loop(echo_server *s) {
  struct epoll_event evs[64];
  for (;;) {
    int n = epoll_wait(s->ep, evs, 64, -1);
    if (n < 0 && errno != EINTR)
      return;
    for (int i = 0; i < n; i++) {
      void *p = evs[i].data.ptr;
      if (p == &s->sfd)
        return;
      if (p == &s->lfd)
        accept_all(s);
      else if (conn_event(s, p) != 0)
        conn_close(s, p);
    }
  }
}

static int serve(const char *host, int port) {
  echo_server s = {.ep = -1, .lfd = -1, .sfd = -1};
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  sigprocmask(SIG_BLOCK, &sigs, NULL);
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  int bound = 0, rc = 1;
  s.lfd = listen_on(host, port, &bound);
  s.sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
  s.ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event lev = {.events = EPOLLIN, .data.ptr = &s.lfd};
  struct epoll_event sev = {.events = EPOLLIN, .data.ptr = &s.sfd};
  if (s.lfd < 0 || s.sfd < 0 || s.ep < 0 ||
      epoll_ctl(s.ep, EPOLL_CTL_ADD, s.lfd, &lev) != 0 ||
      epoll_ctl(s.ep, EPOLL_CTL_ADD, s.sfd, &sev) != 0) {
    if (s.lfd >= 0)
      fprintf(stderr, "crpc-bench-echo: %s\n", strerror(errno));
    goto out;
  }
  printf(strchr(host, ':') ? "listening on [%s]:%d\n" : "listening on %s:%d\n",
         host, bound);
  fflush(stdout);
  serve_loop(&s);
  rc = 0;
out:
  while (s.conns)
    conn_close(&s, s.conns);
  if (s.ep >= 0)
    close(s.ep);
  if (s.lfd >= 0)
    close(s.lfd);
  if (s.sfd >= 0)
    close(s.sfd);
  return rc;
}

/* ---- the client ---- */

typedef struct echo_client {
  int fd, ep, want_out;
  size_t size;
  char *out; /* |size| bytes, written each round trip */
  char in[BUF_SIZE];
  int64_t *samples; /* latencies in ns, |n| of |cap| */
  size_t n, cap;
} echo_client;

/* Connects to |host|:|port| (|target|, for messages); the descriptor, or -1
 * after printing why. */
static int dial(const char *target, const char *host, const char *port) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC,
                           .ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_NUMERICSERV};
  struct addrinfo *ai = NULL;
  int rc = getaddrinfo(host, port, &hints, &ai);
  if (rc != 0) {
    fprintf(stderr, "crpc-bench-echo: %s: %s\n", target, gai_strerror(rc));
    return -1;
  }
  int fd = -1, err = 0;
  for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      err = errno;
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(ai);
  if (fd < 0 || fcntl(fd, F_SETFL, O_NONBLOCK) != 0) {
    fprintf(stderr, "crpc-bench-echo: cannot connect to %s: %s\n", target,
            strerror(fd < 0 ? err : errno));
    if (fd >= 0)
      close(fd);
    return -1;
  }
  set_nodelay(fd);
  return fd;
}

/* Waits for the socket to be readable, or writable too when |c| has bytes
 * left to write, at most until |deadline|. Returns the events (0 when the
 * deadline came first), or -1 after printing why. */
static int wait_for(echo_client *c, int want_out, int64_t deadline) {
  if (want_out != c->want_out) {
    struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0)};
    if (epoll_ctl(c->ep, EPOLL_CTL_MOD, c->fd, &ev) != 0)
      goto fail;
    c->want_out = want_out;
  }
  for (;;) {
    int64_t left = deadline - now_ns();
    if (left <= 0)
      return 0;
    int ms = left / 1000000 >= INT_MAX ? INT_MAX : (int)(left / 1000000) + 1;
    struct epoll_event ev;
    int n = epoll_wait(c->ep, &ev, 1, ms);
    if (n > 0)
      return (int)ev.events;
    if (n < 0 && errno != EINTR)
      goto fail;
  }
fail:
  fprintf(stderr, "crpc-bench-echo: epoll: %s\n", strerror(errno));
  return -1;
}

/* One round trip: |c->size| bytes out, as many back. Returns 0, 1 when
 * |deadline| came first, or -1 after printing why. */
static int round_trip(echo_client *c, int64_t deadline) {
  size_t sent = 0, got = 0;
  const char *why;
  while (got < c->size) {
    if (sent < c->size) {
      ssize_t n = send(c->fd, c->out + sent, c->size - sent, MSG_NOSIGNAL);
      if (n > 0)
        sent += (size_t)n;
      else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        why = strerror(errno);
        goto fail;
      }
    }
    int ev = wait_for(c, sent < c->size, deadline);
    if (ev <= 0)
      return ev == 0 ? 1 : -1;
    if (!(ev & (EPOLLIN | EPOLLHUP | EPOLLERR)))
      continue;
    ssize_t n = recv(c->fd, c->in, sizeof(c->in), 0);
    if (n == 0) {
      why = "the server closed the connection";
      goto fail;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      why = strerror(errno);
      goto fail;
    }
    got += n > 0 ? (size_t)n : 0;
    if (got > c->size) {
      why = "more bytes came back than went out";
      goto fail;
    }
  }
  return 0;
fail:
  fprintf(stderr, "crpc-bench-echo: %s\n", why);
  return -1;
}

static int record(echo_client *c, int64_t ns) {
  if (c->n == c->cap) {
    size_t cap = c->cap ? 2 * c->cap : 65536;
    int64_t *p = realloc(c->samples, cap * sizeof(*p));
    if (!p) {
      fprintf(stderr, "crpc-bench-echo: out of memory\n");
      return -1;
    }
    c->samples = p;
    c->cap = cap;
  }
  c->samples[c->n++] = ns;
  return 0;
}

static int cmp_ns(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* The |q|-quantile of the sorted samples, in whole microseconds. */
static long long quantile_us(const echo_client *c, double q) {
  if (c->n == 0)
    return 0;
  return (c->samples[(size_t)(q * (double)c->n)] + 500) / 1000;
}

/* Round trips until |warmup_s| + |duration_s| have passed; the completed
 * ones inside the measured window are kept. Returns 0 or -1. */
static int run(echo_client *c, double duration_s, double warmup_s) {
  int64_t from = now_ns() + (int64_t)(warmup_s * 1e9);
  int64_t to = from + (int64_t)(duration_s * 1e9);
  for (;;) {
    int64_t t0 = now_ns();
    int rc = round_trip(c, to);
    if (rc != 0)
      return rc > 0 ? 0 : -1;
    int64_t t1 = now_ns();
    if (t1 >= to)
      return 0;
    if (t1 >= from && record(c, t1 - t0) != 0)
      return -1;
  }
}

static void report(const echo_client *c, int size, double duration_s,
                   int errors) {
  printf("scenario=echo channels=1 outstanding=1 req_size=%d resp_size=%d "
         "seconds=%.2f calls=%zu rate=%.1f p50_us=%lld p90_us=%lld "
         "p99_us=%lld errors=%d\n",
         size, size, duration_s, c->n, (double)c->n / duration_s,
         quantile_us(c, 0.50), quantile_us(c, 0.90), quantile_us(c, 0.99),
         errors);
  fflush(stdout);
}

static int client(const char *target, int size, double duration_s,
                  double warmup_s) {
  static echo_client c;
  char host[256];
  const char *port = NULL;
  split_target(target, host, sizeof(host), &port); /* checked by main() */
  c.size = (size_t)size;
  c.out = calloc(1, c.size);
  c.ep = epoll_create1(EPOLL_CLOEXEC);
  c.fd = -1;
  struct epoll_event ev = {.events = EPOLLIN};
  int ok = 0;
  if (!c.out || c.ep < 0)
    fprintf(stderr, "crpc-bench-echo: %s\n", strerror(c.out ? errno : ENOMEM));
  else if ((c.fd = dial(target, host, port)) >= 0)
    ok = epoll_ctl(c.ep, EPOLL_CTL_ADD, c.fd, &ev) == 0;
  int errors = ok ? run(&c, duration_s, warmup_s) != 0 : 1;
  if (ok) {
    qsort(c.samples, c.n, sizeof(*c.samples), cmp_ns);
    report(&c, size, duration_s, errors);
  }
  if (c.fd >= 0)
    close(c.fd);
  if (c.ep >= 0)
    close(c.ep);
  free(c.out);
  free(c.samples);
  return !errors && c.n > 0 ? 0 : 1;
}

typedef struct echo_flags {
  int serve, port, size;
  const char *host, *target;
  double duration_s, warmup_s;
} echo_flags;

/* Which flags go together, and their ranges: NULL, or what is wrong. */
static const char *check_flags(const echo_flags *f) {
  char host[256];
  const char *port;
  int client_flags =
      f->target || f->size >= 0 || f->duration_s >= 0 || f->warmup_s >= 0;
  if (f->serve && client_flags)
    return "--target, --size, --duration_s and --warmup_s are the client's";
  if (f->serve)
    return f->port >= 0 && f->port <= 65535
               ? NULL
               : "--serve needs --port N (0 to 65535)";
  if (f->port >= 0 || f->host)
    return "--port and --host go with --serve";
  if (!f->target)
    return "--serve or --target H:P is required";
  if (split_target(f->target, host, sizeof(host), &port) != 0)
    return "--target is HOST:PORT or [HOST]:PORT";
  if (f->size >= 0 && (f->size < 1 || f->size > MAX_SIZE))
    return "--size must be in [1, 4194304]";
  if (f->duration_s > 86400 || (f->duration_s >= 0 && f->duration_s < 0.001))
    return "--duration_s must be in [0.001, 86400]";
  if (f->warmup_s > 86400)
    return "--warmup_s must be in [0, 86400]";
  return NULL;
}

int main(int argc, char **argv) {
  /* Negative: not given (the parser takes no negative number). */
  echo_flags f = {.port = -1, .size = -1, .duration_s = -1, .warmup_s = -1};
  const tool_flag flags[] = {
      {"serve", TOOL_FLAG_BOOL, &f.serve},
      {"port", TOOL_FLAG_INT, &f.port},
      {"host", TOOL_FLAG_STRING, &f.host},
      {"target", TOOL_FLAG_STRING, &f.target},
      {"size", TOOL_FLAG_INT, &f.size},
      {"duration_s", TOOL_FLAG_DOUBLE, &f.duration_s},
      {"warmup_s", TOOL_FLAG_DOUBLE, &f.warmup_s},
  };
  const char *prog = "crpc-bench-echo";
  if (tool_flags_parse(prog, USAGE, argc, argv, flags,
                       sizeof(flags) / sizeof(flags[0])) != 0)
    return 2;
  const char *why = check_flags(&f);
  if (why) {
    fprintf(stderr, "%s: %s\n%s", prog, why, USAGE);
    return 2;
  }
  if (f.serve)
    return serve(f.host ? f.host : "127.0.0.1", f.port);
  return client(f.target, f.size < 0 ? 1 : f.size,
                f.duration_s < 0 ? 10 : f.duration_s,
                f.warmup_s < 0 ? 1 : f.warmup_s);
}
