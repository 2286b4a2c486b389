/*
 * client/target.h: a channel's target string, parsed as gRPC's naming
 * document describes: "host:port", "dns:[//authority/]host:port",
 * "ipv4:a.b.c.d:p[,...]", "ipv6:[addr]:p[,...]" and "unix:/path" (also
 * "unix:///path"). A host without a port gets 443, as in gRPC.
 */
#ifndef CRPC_TARGET_H
#define CRPC_TARGET_H

#include <stddef.h>

#include <uv.h>

typedef enum {
  CRPC__TARGET_DNS = 0, /* a name to resolve: |host|, |port| */
  CRPC__TARGET_ADDRS,   /* literal addresses: |addrs| */
  CRPC__TARGET_UNIX     /* a unix socket: |addrs| (one) */
} crpc__target_kind;

/* One address to connect to. */
typedef struct crpc__addr {
  struct sockaddr_storage ss; /* TCP: IPv4 or IPv6 */
  int is_unix;
  char path[108]; /* unix: the socket's path */
  char name[120]; /* for logs and messages: "127.0.0.1:50051" */
} crpc__addr;

typedef struct crpc__target {
  crpc__target_kind kind;
  char *host;   /* DNS: the name, without brackets */
  char port[8]; /* DNS: the port, as text */
  crpc__addr *addrs;
  size_t n_addrs;
  char *authority; /* for :authority */
  char *tls_name;  /* the name TLS checks by default */
} crpc__target;

/*
 * Parses |s| into |*out|.
 * Ownership: the caller frees |*out| with crpc__target_cleanup().
 * Thread: any.
 * Returns 0, or CRPC_EINVAL (not a target this file describes, a bad
 * address or a port outside 1-65535) or CRPC_ENOMEM, and then |*out| needs
 * no cleanup.
 */
int crpc__target_parse(const char *s, crpc__target *out);

/* Frees what crpc__target_parse() allocated. Thread: any. */
void crpc__target_cleanup(crpc__target *t);

/* Fills |a| from a resolved socket address with |port|; 0 or CRPC_EINVAL
 * for a family other than IPv4 and IPv6. Thread: any. */
int crpc__addr_from_sockaddr(crpc__addr *a, const struct sockaddr *sa);

#endif /* CRPC_TARGET_H */
