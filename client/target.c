/*
 * client/target.c: parsing a channel's target.
 */
#include "target.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crpc/error.h"

static int parse_port(const char *p, size_t n, int *out) {
  int v = 0;
  if (n == 0 || n > 5)
    return CRPC_EINVAL;
  for (size_t i = 0; i < n; i++) {
    if (p[i] < '0' || p[i] > '9')
      return CRPC_EINVAL;
    v = v * 10 + (p[i] - '0');
  }
  if (v < 1 || v > 65535)
    return CRPC_EINVAL;
  *out = v;
  return 0;
}

/* Splits "host:port", "[v6]:port", "host" or "[v6]" into a host (brackets
 * removed) and a port (|dflt| when absent). */
static int split_host_port(const char *s, size_t n, char *host, size_t cap,
                           int *port, int dflt, int *bracketed) {
  const char *h = s, *colon = NULL;
  size_t hl;
  *bracketed = 0;
  if (n > 0 && s[0] == '[') {
    const char *close = memchr(s, ']', n);
    if (!close)
      return CRPC_EINVAL;
    h = s + 1;
    hl = (size_t)(close - h);
    *bracketed = 1;
    size_t rest = n - (size_t)(close + 1 - s);
    if (rest > 0) {
      if (close[1] != ':')
        return CRPC_EINVAL;
      colon = close + 1;
    }
  } else {
    colon = memchr(s, ':', n);
    if (colon && memchr(colon + 1, ':', n - (size_t)(colon + 1 - s)))
      return CRPC_EINVAL; /* an IPv6 literal needs brackets */
    hl = colon ? (size_t)(colon - s) : n;
  }
  if (hl == 0 || hl >= cap)
    return CRPC_EINVAL;
  memcpy(host, h, hl);
  host[hl] = '\0';
  if (!colon) {
    *port = dflt;
    return 0;
  }
  return parse_port(colon + 1, n - (size_t)(colon + 1 - s), port);
}

int crpc__addr_from_sockaddr(crpc__addr *a, const struct sockaddr *sa) {
  char ip[64];
  memset(a, 0, sizeof(*a));
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    memcpy(&a->ss, in, sizeof(*in));
    uv_ip4_name(in, ip, sizeof(ip));
    snprintf(a->name, sizeof(a->name), "%s:%d", ip, ntohs(in->sin_port));
    return 0;
  }
  if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in = (const struct sockaddr_in6 *)sa;
    memcpy(&a->ss, in, sizeof(*in));
    uv_ip6_name(in, ip, sizeof(ip));
    snprintf(a->name, sizeof(a->name), "[%s]:%d", ip, ntohs(in->sin6_port));
    return 0;
  }
  return CRPC_EINVAL;
}

int crpc__addr_equal(const crpc__addr *a, const crpc__addr *b) {
  if (a->is_unix || b->is_unix)
    return a->is_unix && b->is_unix && strcmp(a->path, b->path) == 0;
  if (a->ss.ss_family != b->ss.ss_family)
    return 0;
  if (a->ss.ss_family == AF_INET) {
    const struct sockaddr_in *x = (const struct sockaddr_in *)&a->ss;
    const struct sockaddr_in *y = (const struct sockaddr_in *)&b->ss;
    return x->sin_port == y->sin_port &&
           x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  if (a->ss.ss_family == AF_INET6) {
    const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)&a->ss;
    const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)&b->ss;
    return x->sin6_port == y->sin6_port &&
           x->sin6_scope_id == y->sin6_scope_id &&
           memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
  }
  return 0;
}

int crpc__addrs_from_addrinfo(const struct addrinfo *res, crpc__addr **out,
                              size_t *n) {
  size_t cap = 0, k = 0;
  for (const struct addrinfo *a = res; a; a = a->ai_next)
    cap++;
  crpc__addr *addrs = calloc(cap ? cap : 1, sizeof(*addrs));
  if (!addrs)
    return CRPC_ENOMEM;
  for (const struct addrinfo *a = res; a; a = a->ai_next) {
    if (!a->ai_addr || crpc__addr_from_sockaddr(&addrs[k], a->ai_addr) != 0)
      continue;
    int dup = 0; /* one per address, whatever the socket type */
    for (size_t i = 0; i < k && !dup; i++)
      dup = crpc__addr_equal(&addrs[i], &addrs[k]);
    if (!dup)
      k++;
  }
  *out = addrs;
  *n = k;
  return 0;
}

size_t crpc__addrs_diff(const crpc__addr *const *cur, size_t n_cur,
                        const crpc__addr *next, size_t n_next, size_t *found,
                        unsigned char *kept) {
  size_t gone = n_cur;
  for (size_t j = 0; j < n_cur; j++)
    kept[j] = 0;
  for (size_t i = 0; i < n_next; i++) {
    found[i] = SIZE_MAX;
    for (size_t j = 0; j < n_cur && found[i] == SIZE_MAX; j++) {
      if (!kept[j] && crpc__addr_equal(cur[j], &next[i])) {
        found[i] = j;
        kept[j] = 1;
        gone--;
      }
    }
  }
  return gone;
}

/* One element of an ipv4: or ipv6: list. */
static int parse_literal(const char *s, size_t n, int v6, crpc__addr *a) {
  char host[64];
  int port, br;
  int rc = split_host_port(s, n, host, sizeof(host), &port, -1, &br);
  if (rc != 0 || port < 0 || br != v6)
    return CRPC_EINVAL;
  if (v6) {
    struct sockaddr_in6 in;
    if (uv_ip6_addr(host, port, &in) != 0)
      return CRPC_EINVAL;
    return crpc__addr_from_sockaddr(a, (struct sockaddr *)&in);
  }
  struct sockaddr_in in;
  if (uv_ip4_addr(host, port, &in) != 0)
    return CRPC_EINVAL;
  return crpc__addr_from_sockaddr(a, (struct sockaddr *)&in);
}

static int parse_list(const char *s, int v6, crpc__target *t) {
  size_t n = 1;
  for (const char *p = s; *p; p++)
    n += *p == ',';
  t->addrs = calloc(n, sizeof(*t->addrs));
  if (!t->addrs)
    return CRPC_ENOMEM;
  for (const char *p = s;;) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (parse_literal(p, len, v6, &t->addrs[t->n_addrs]) != 0)
      return CRPC_EINVAL;
    t->n_addrs++;
    if (!end)
      break;
    p = end + 1;
  }
  t->kind = CRPC__TARGET_ADDRS;
  t->authority = strdup(t->addrs[0].name);
  /* TLS checks the first address; "[::1]:p" gives "::1". */
  char ip[64];
  const char *nm = t->addrs[0].name;
  const char *c = strrchr(nm, ':');
  size_t hl = (size_t)(c - nm);
  if (nm[0] == '[') {
    nm++;
    hl -= 2;
  }
  memcpy(ip, nm, hl);
  ip[hl] = '\0';
  t->tls_name = strdup(ip);
  return t->authority && t->tls_name ? 0 : CRPC_ENOMEM;
}

static int parse_unix(const char *path, crpc__target *t) {
  if (strncmp(path, "//", 2) == 0)
    path += 2; /* unix:///abs/path */
  size_t n = strlen(path);
  if (n == 0 || n >= sizeof(t->addrs[0].path))
    return CRPC_EINVAL;
  t->addrs = calloc(1, sizeof(*t->addrs));
  if (!t->addrs)
    return CRPC_ENOMEM;
  t->n_addrs = 1;
  t->addrs[0].is_unix = 1;
  memcpy(t->addrs[0].path, path, n + 1);
  snprintf(t->addrs[0].name, sizeof(t->addrs[0].name), "unix:%s", path);
  t->kind = CRPC__TARGET_UNIX;
  t->authority = strdup("localhost");
  t->tls_name = strdup("localhost");
  return t->authority && t->tls_name ? 0 : CRPC_ENOMEM;
}

/* A host that is a numeric address: |t|'s one literal address. */
static int parse_numeric(const char *host, int port, crpc__target *t) {
  struct sockaddr_in in4;
  struct sockaddr_in6 in6;
  const struct sockaddr *sa;
  if (uv_ip4_addr(host, port, &in4) == 0)
    sa = (const struct sockaddr *)&in4;
  else if (uv_ip6_addr(host, port, &in6) == 0)
    sa = (const struct sockaddr *)&in6;
  else
    return 0;
  t->addrs = calloc(1, sizeof(*t->addrs));
  if (!t->addrs)
    return CRPC_ENOMEM;
  t->n_addrs = 1;
  t->kind = CRPC__TARGET_ADDRS;
  return crpc__addr_from_sockaddr(&t->addrs[0], sa);
}

static int parse_dns(const char *s, crpc__target *t) {
  char host[256];
  int port, br;
  int rc = split_host_port(s, strlen(s), host, sizeof(host), &port, 443, &br);
  if (rc != 0)
    return rc;
  t->kind = CRPC__TARGET_DNS;
  t->host = strdup(host);
  snprintf(t->port, sizeof(t->port), "%d", port);
  size_t alen = strlen(host) + 16;
  t->authority = malloc(alen);
  t->tls_name = strdup(host);
  if (!t->host || !t->authority || !t->tls_name)
    return CRPC_ENOMEM;
  snprintf(t->authority, alen, br ? "[%s]:%d" : "%s:%d", host, port);
  return parse_numeric(host, port, t);
}

int crpc__target_parse(const char *s, crpc__target *out) {
  crpc__target t;
  int rc;
  memset(&t, 0, sizeof(t));
  if (s == NULL || *s == '\0')
    return CRPC_EINVAL;
  if (strncmp(s, "unix:", 5) == 0) {
    rc = parse_unix(s + 5, &t);
  } else if (strncmp(s, "ipv4:", 5) == 0) {
    rc = parse_list(s + 5, 0, &t);
  } else if (strncmp(s, "ipv6:", 5) == 0) {
    rc = parse_list(s + 5, 1, &t);
  } else if (strncmp(s, "dns:", 4) == 0) {
    const char *p = s + 4;
    if (strncmp(p, "//", 2) == 0) {
      p = strchr(p + 2, '/'); /* skip the DNS server's authority */
      rc = p ? parse_dns(p + 1, &t) : CRPC_EINVAL;
    } else {
      rc = parse_dns(p, &t);
    }
  } else {
    rc = parse_dns(s, &t);
  }
  if (rc != 0) {
    crpc__target_cleanup(&t);
    return rc;
  }
  *out = t;
  return 0;
}

void crpc__target_cleanup(crpc__target *t) {
  free(t->host);
  free(t->addrs);
  free(t->authority);
  free(t->tls_name);
  memset(t, 0, sizeof(*t));
}
