/*
 * client/target.h: a channel's target string, parsed as gRPC's naming
 * document describes: "host:port", "dns:[//authority/]host:port",
 * "ipv4:a.b.c.d:p[,...]", "ipv6:[addr]:p[,...]" and "unix:/path" (also
 * "unix:///path"). A host without a port gets 443, as in gRPC. A host
 * that is a numeric IPv4 or IPv6 address is a literal address, never
 * looked up. Also the address lists a lookup gives, and how two of them
 * differ.
 */
#ifndef CRPC_TARGET_H
#define CRPC_TARGET_H

#include <netdb.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

typedef enum {
  CRPC__TARGET_DNS = 0, /* a name to resolve: |host|, |port| */
  CRPC__TARGET_ADDRS,   /* literal addresses: |addrs| (a numeric host too) */
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

/* Whether |a| and |b| are the same address: family, address, port and
 * IPv6 scope, or the same unix path. Thread: any. */
int crpc__addr_equal(const crpc__addr *a, const crpc__addr *b);

/*
 * The addresses of a getaddrinfo() answer |res| (NULL: none), in its
 * order: IPv4 and IPv6 ones, each once whatever its socket type.
 * Ownership: |res| is borrowed; the caller frees |*out| with free().
 * Thread: any.
 * Returns 0 (|*n| may be 0), or CRPC_ENOMEM and then |*out| and |*n| are
 * untouched.
 */
int crpc__addrs_from_addrinfo(const struct addrinfo *res, crpc__addr **out,
                              size_t *n);

/*
 * Compares a lookup's addresses |next| (|n_next|) with the ones a channel
 * has, |cur| (|n_cur|), by address and not by order: |found[i]| becomes
 * the index in |cur| of next[i], or SIZE_MAX when it is new; |kept[j]|
 * becomes nonzero when cur[j] is still in |next|. The arrays are the
 * caller's, |found| of |n_next| and |kept| of |n_cur| elements.
 * Thread: any. Returns how many of |cur| are gone from |next|.
 */
size_t crpc__addrs_diff(const crpc__addr *const *cur, size_t n_cur,
                        const crpc__addr *next, size_t n_next, size_t *found,
                        unsigned char *kept);

#endif /* CRPC_TARGET_H */
