/*
 * server/listener.c: listen addresses. Every listening socket lives on the
 * server's first loop, which accepts and hands each connection to the
 * loops in turn; the connection then stays on that loop for its life.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crpc/error.h"
#include "log_internal.h"
#include "server_internal.h"

#define CRPC__BACKLOG 511

/* An accepted socket on its way to its loop. */
typedef struct handoff {
  crpc__task task;
  crpc__sloop *sl;
  uv_os_sock_t fd;
  const crpc__acceptor *l;
} handoff;

static void handoff_task(crpc__task *t) {
  handoff *h = (handoff *)t;
  crpc__server_conn_accept(h->sl, h->fd, h->l);
  free(h);
}

static void free_handle(uv_handle_t *h) {
  free(h);
}

static void on_connection(uv_stream_t *server, int status) {
  crpc__acceptor *l = server->data;
  crpc_server *srv = l->srv;
  if (status < 0) {
    crpc__log(&srv->opts.logger, CRPC_LOG_WARN, "accept on %s: %s", l->shown,
              uv_strerror(status));
    return;
  }
  /* Accept on this loop, then move the socket to its own loop by fd. */
  uv_loop_t *uv = server->loop;
  crpc__stream_handle *tmp = malloc(sizeof(*tmp));
  if (!tmp)
    return;
  if (l->is_unix)
    uv_pipe_init(uv, &tmp->pipe, 0);
  else
    uv_tcp_init(uv, &tmp->tcp);
  int rc = uv_accept(server, &tmp->stream);
  uv_os_fd_t fd = -1;
  if (rc == 0)
    rc = uv_fileno(&tmp->handle, &fd);
  int dup_fd = rc == 0 ? dup(fd) : -1;
  uv_close(&tmp->handle, free_handle);
  if (dup_fd < 0) {
    crpc__log(&srv->opts.logger, CRPC_LOG_WARN, "accept on %s: %s", l->shown,
              rc ? uv_strerror(rc) : strerror(errno));
    return;
  }
  unsigned open = atomic_fetch_add(&srv->open_conns, 1);
  if (srv->opts.max_connections && open >= srv->opts.max_connections) {
    atomic_fetch_sub(&srv->open_conns, 1);
    atomic_fetch_add(&srv->refused_conns, 1);
    close(dup_fd);
    crpc__log(&srv->opts.logger, CRPC_LOG_DEBUG,
              "accept on %s: %u connections open: closed", l->shown, open);
    return;
  }
  unsigned i = atomic_fetch_add(&srv->next_loop, 1) % srv->n_loops;
  handoff *h = malloc(sizeof(*h));
  if (!h) {
    atomic_fetch_sub(&srv->open_conns, 1);
    close(dup_fd);
    return;
  }
  *h = (handoff){
      .task.fn = handoff_task, .sl = &srv->loops[i], .fd = dup_fd, .l = l};
  if (crpc__loop_post_task(srv->loops[i].loop, &h->task) != 0) {
    atomic_fetch_sub(&srv->open_conns, 1);
    close(dup_fd);
    free(h);
  }
}

/* Splits "host:port" / "[v6]:port" into |host| and |port|. */
static int split_host_port(const char *addr, char *host, size_t cap,
                           const char **port) {
  const char *colon;
  const char *hs = addr;
  size_t hl;
  if (addr[0] == '[') {
    const char *end = strchr(addr, ']');
    if (!end || end[1] != ':')
      return CRPC_EINVAL;
    hs = addr + 1;
    hl = (size_t)(end - hs);
    colon = end + 1;
  } else {
    colon = strrchr(addr, ':');
    if (!colon)
      return CRPC_EINVAL;
    hl = (size_t)(colon - addr);
  }
  if (hl >= cap || colon[1] == '\0')
    return CRPC_EINVAL;
  for (const char *p = colon + 1; *p; p++)
    if (*p < '0' || *p > '9')
      return CRPC_EINVAL;
  memcpy(host, hs, hl);
  host[hl] = '\0';
  *port = colon + 1;
  return 0;
}

/* Sets |*port| and |*shown| from the address |tcp| is bound to. */
static int bound_address(uv_tcp_t *tcp, int *port, char **shown) {
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  uv_tcp_getsockname(tcp, (struct sockaddr *)&ss, &len);
  char ip[64] = "";
  if (ss.ss_family == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    uv_ip6_name(a, ip, sizeof(ip));
    *port = ntohs(a->sin6_port);
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    uv_ip4_name(a, ip, sizeof(ip));
    *port = ntohs(a->sin_port);
  }
  size_t n = strlen(ip) + 16;
  *shown = malloc(n);
  if (!*shown)
    return CRPC_ENOMEM;
  snprintf(*shown, n, ss.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", ip,
           *port);
  return 0;
}

int crpc__listen_tcp(uv_loop_t *uv, const char *addr, uv_tcp_t *tcp,
                     uv_connection_cb cb, int *inited, int *port, char **shown,
                     char *err, size_t cap) {
  char host[256];
  const char *port_text;
  *inited = 0;
  if (split_host_port(addr, host, sizeof(host), &port_text) != 0) {
    snprintf(err, cap,
             "bad listen address '%.150s' (want host:port or [v6]:port)", addr);
    return CRPC_EINVAL;
  }
  if (atol(port_text) > 65535) {
    snprintf(err, cap, "bad port in '%.150s'", addr);
    return CRPC_EINVAL;
  }
  struct addrinfo hints = {.ai_family = AF_UNSPEC,
                           .ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
  struct addrinfo *res = NULL;
  int gai = getaddrinfo(host[0] ? host : NULL, port_text, &hints, &res);
  if (gai != 0) {
    snprintf(err, cap, "cannot resolve '%.100s': %s", host, gai_strerror(gai));
    return CRPC_EINVAL;
  }
  uv_tcp_init(uv, tcp);
  *inited = 1;
  int rc = uv_tcp_bind(tcp, res->ai_addr,
                       res->ai_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0);
  freeaddrinfo(res);
  if (rc == 0)
    rc = uv_listen((uv_stream_t *)tcp, CRPC__BACKLOG, cb);
  if (rc != 0) {
    snprintf(err, cap, "cannot listen on %.150s: %s", addr, uv_strerror(rc));
    return rc;
  }
  return bound_address(tcp, port, shown);
}

static int open_tcp(crpc_server *srv, crpc__acceptor *l, uv_loop_t *uv) {
  int rc = crpc__listen_tcp(uv, l->addr, &l->h.tcp, on_connection, &l->open,
                            &l->port, &l->shown, srv->err, sizeof(srv->err));
  if (rc == CRPC_EINVAL && strncmp(srv->err, "bad listen", 10) == 0)
    snprintf(srv->err, sizeof(srv->err),
             "bad listen address '%.150s' (want host:port, [v6]:port or "
             "unix:/path)",
             l->addr);
  return rc;
}

/* Listens on the bound |l| unless binding failed with |rc|. Returns 0, or
 * the error with its message in the server's error buffer. */
static int start_listening(crpc_server *srv, crpc__acceptor *l, int rc) {
  if (rc == 0)
    rc = uv_listen(&l->h.stream, CRPC__BACKLOG, on_connection);
  if (rc != 0)
    snprintf(srv->err, sizeof(srv->err), "cannot listen on %.150s: %s", l->addr,
             uv_strerror(rc));
  return rc;
}

static int open_unix(crpc_server *srv, crpc__acceptor *l, uv_loop_t *uv) {
  const char *path = l->addr + 5;
  if (!*path) {
    snprintf(srv->err, sizeof(srv->err), "empty unix socket path");
    return CRPC_EINVAL;
  }
  uv_pipe_init(uv, &l->h.pipe, 0);
  l->open = 1;
  l->is_unix = 1;
  int rc = uv_pipe_bind(&l->h.pipe, path);
  if (rc == UV_EADDRINUSE) {
    /* A socket file left behind: replace it, as gRPC does. */
    if (unlink(path) == 0)
      rc = uv_pipe_bind(&l->h.pipe, path);
  }
  if ((rc = start_listening(srv, l, rc)) != 0)
    return rc;
  l->shown = strdup(l->addr);
  return l->shown ? 0 : CRPC_ENOMEM;
}

static void close_and_forget(uv_handle_t *h) {
  (void)h;
}

int crpc__acceptor_open(crpc_server *srv, crpc__acceptor *l) {
  uv_loop_t *uv = crpc_loop_uv(srv->loops[0].loop);
  int rc = strncmp(l->addr, "unix:", 5) == 0 ? open_unix(srv, l, uv)
                                             : open_tcp(srv, l, uv);
  l->h.handle.data = l;
  if (rc != 0 && l->open) {
    /* The loop is not running yet: finish the close here. */
    uv_close(&l->h.handle, close_and_forget);
    uv_run(uv, UV_RUN_NOWAIT);
    l->open = 0;
    free(l->shown);
    l->shown = NULL;
  }
  return rc;
}

void crpc__acceptor_close(crpc__acceptor *l) {
  if (!l->open)
    return;
  l->open = 0;
  uv_close(&l->h.handle, close_and_forget);
}
