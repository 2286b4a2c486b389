/*
 * runtime/peer_auth.c: a connection's peer auth, made from a TLS peer's
 * certificate in one allocation (the struct, its subjectAltName array,
 * then the strings), matched against allowed names, named in messages.
 */
#include "peer_auth_internal.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "crpc/error.h"

const crpc_peer_auth crpc__peer_auth_plaintext = {0};

/* --- Reading a certificate --- */

/* What a verified certificate carries, as OpenSSL holds it. */
typedef struct cert_text {
  BIO *subject_bio;    /* the RFC 2253 subject line */
  const char *subject; /* in |subject_bio| */
  size_t subject_len;
  unsigned char *cn; /* UTF-8, OPENSSL_malloc()ed; NULL when none */
  size_t cn_len;
  GENERAL_NAMES *sans; /* NULL when none */
} cert_text;

/* One subjectAltName as text: its |kind| and the |len| bytes at |val|. */
typedef struct san_text {
  const char *kind; /* "DNS:", ... */
  const char *val;
  size_t len;
  char ip[INET6_ADDRSTRLEN];
} san_text;

static int ip_read(const ASN1_OCTET_STRING *s, san_text *t) {
  int len = ASN1_STRING_length(s);
  int af = len == 4 ? AF_INET : len == 16 ? AF_INET6 : 0;

  if (af == 0 ||
      inet_ntop(af, ASN1_STRING_get0_data(s), t->ip, sizeof(t->ip)) == NULL)
    return 0;
  t->kind = "IP:";
  t->val = t->ip;
  t->len = strlen(t->ip);
  return 1;
}

/* Reads |g| into |t|. Returns 0 for a kind crpc_peer_auth leaves out, and
 * for a name with a NUL in it, which no C string can hold whole. */
static int san_read(const GENERAL_NAME *g, san_text *t) {
  const ASN1_STRING *s;

  switch (g->type) {
  case GEN_DNS:
    t->kind = "DNS:";
    s = g->d.dNSName;
    break;
  case GEN_URI:
    t->kind = "URI:";
    s = g->d.uniformResourceIdentifier;
    break;
  case GEN_EMAIL:
    t->kind = "email:";
    s = g->d.rfc822Name;
    break;
  case GEN_IPADD:
    return ip_read(g->d.iPAddress, t);
  default:
    return 0;
  }
  t->val = (const char *)ASN1_STRING_get0_data(s);
  t->len = (size_t)ASN1_STRING_length(s);
  return memchr(t->val, '\0', t->len) == NULL;
}

/* The last common name of |name| (the most specific, as OpenSSL's host
 * check takes it) into |ct|; none when it holds a NUL or a string OpenSSL
 * cannot convert to UTF-8. */
static void cn_read(X509_NAME *name, cert_text *ct) {
  int at = -1, next, len;

  while ((next = X509_NAME_get_index_by_NID(name, NID_commonName, at)) >= 0)
    at = next;
  if (at < 0)
    return;
  len = ASN1_STRING_to_UTF8(
      &ct->cn, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, at)));
  if (len < 0) {
    ct->cn = NULL;
    return;
  }
  ct->cn_len = (size_t)len;
  if (memchr(ct->cn, '\0', ct->cn_len) != NULL) {
    OPENSSL_free(ct->cn);
    ct->cn = NULL;
  }
}

static int cert_read(X509 *cert, cert_text *ct) {
  X509_NAME *name = X509_get_subject_name(cert);
  char *p;
  long len;

  ct->subject_bio = BIO_new(BIO_s_mem());
  if (ct->subject_bio == NULL ||
      X509_NAME_print_ex(ct->subject_bio, name, 0, XN_FLAG_RFC2253) < 0)
    return CRPC_ENOMEM;
  len = BIO_get_mem_data(ct->subject_bio, &p);
  ct->subject = len > 0 ? p : "";
  ct->subject_len = len > 0 ? (size_t)len : 0;
  ct->sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
  cn_read(name, ct);
  return 0;
}

static void cert_text_cleanup(cert_text *ct) {
  BIO_free(ct->subject_bio);
  OPENSSL_free(ct->cn);
  GENERAL_NAMES_free(ct->sans);
}

/* --- One allocation --- */

/* Copies |kind| and the |len| bytes at |val| to |*at| as one string, and
 * moves |*at| past its NUL. Returns the string. */
static const char *put(char **at, const char *kind, const char *val,
                       size_t len) {
  char *s = *at;
  size_t k = strlen(kind);

  memcpy(s, kind, k);
  memcpy(s + k, val, len);
  s[k + len] = '\0';
  *at = s + k + len + 1;
  return s;
}

/* Bytes of the strings and pointers |ct|'s subjectAltNames take, and how
 * many there are in |*n|. */
static size_t sans_size(const cert_text *ct, size_t *n) {
  int count = ct->sans != NULL ? sk_GENERAL_NAME_num(ct->sans) : 0;
  size_t size = 0;
  san_text t;

  *n = 0;
  for (int i = 0; i < count; i++) {
    if (!san_read(sk_GENERAL_NAME_value(ct->sans, i), &t))
      continue;
    size += sizeof(char *) + strlen(t.kind) + t.len + 1;
    (*n)++;
  }
  return size;
}

static void sans_put(const cert_text *ct, const char **sans, char **at) {
  int count = ct->sans != NULL ? sk_GENERAL_NAME_num(ct->sans) : 0;
  size_t n = 0;
  san_text t;

  for (int i = 0; i < count; i++) {
    if (san_read(sk_GENERAL_NAME_value(ct->sans, i), &t))
      sans[n++] = put(at, t.kind, t.val, t.len);
  }
}

/* Lays |ct| out after the struct: the subjectAltName pointers, then the
 * strings. |ct| is all zero without a verified certificate. */
static int pack(const char *version, const char *alpn, const cert_text *ct,
                int verified, crpc_peer_auth **out) {
  size_t n_sans = 0, size = sizeof(crpc_peer_auth) + sans_size(ct, &n_sans);
  const char **sans;
  crpc_peer_auth *a;
  char *at;

  if (verified)
    size += ct->subject_len + 1;
  if (ct->cn != NULL)
    size += ct->cn_len + 1;
  a = malloc(size);
  if (a == NULL)
    return CRPC_ENOMEM;
  sans = (const char **)(a + 1);
  at = (char *)(sans + n_sans);
  *a = (crpc_peer_auth){.tls = 1,
                        .tls_version = version,
                        .alpn = alpn,
                        .verified = verified,
                        .sans = n_sans > 0 ? sans : NULL,
                        .n_sans = n_sans};
  if (verified)
    a->subject = put(&at, "", ct->subject, ct->subject_len);
  if (ct->cn != NULL)
    a->common_name = put(&at, "", (const char *)ct->cn, ct->cn_len);
  sans_put(ct, sans, &at);
  *out = a;
  return 0;
}

int crpc__peer_auth_new(const char *version, const char *alpn,
                        struct x509_st *cert, int verified,
                        crpc_peer_auth **out) {
  cert_text ct = {0};
  int rc = 0;

  verified = verified && cert != NULL;
  if (verified)
    rc = cert_read(cert, &ct);
  if (rc == 0)
    rc = pack(version, alpn, &ct, verified, out);
  cert_text_cleanup(&ct);
  ERR_clear_error();
  return rc;
}

void crpc__peer_auth_free(crpc_peer_auth *a) {
  free(a);
}

/* --- Questions --- */

/* Whether |san| is |kind| followed by exactly |name|. */
static int san_is(const char *san, const char *kind, const char *name) {
  size_t k = strlen(kind);

  return strncmp(san, kind, k) == 0 && strcmp(san + k, name) == 0;
}

static int carries(const crpc_peer_auth *a, const char *name) {
  if (a->common_name != NULL && strcmp(a->common_name, name) == 0)
    return 1;
  for (size_t i = 0; i < a->n_sans; i++) {
    if (san_is(a->sans[i], "DNS:", name) || san_is(a->sans[i], "URI:", name))
      return 1;
  }
  return 0;
}

int crpc__peer_auth_has_name(const crpc_peer_auth *a, const char *const *names,
                             size_t n) {
  if (!a->verified)
    return 0;
  for (size_t i = 0; i < n; i++) {
    if (carries(a, names[i]))
      return 1;
  }
  return 0;
}

/* Appends to the text of |at| bytes in |dst|; returns its new length, at
 * most |cap| - 1. */
static size_t append(char *dst, size_t cap, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static size_t append(char *dst, size_t cap, size_t at, const char *fmt, ...) {
  va_list ap;
  int n;

  if (at + 1 >= cap)
    return at;
  va_start(ap, fmt);
  n = vsnprintf(dst + at, cap - at, fmt, ap);
  va_end(ap);
  if (n < 0)
    return at;
  return at + (size_t)n < cap ? at + (size_t)n : cap - 1;
}

void crpc__peer_auth_describe(const crpc_peer_auth *a, char *dst, size_t cap) {
  size_t at;

  dst[0] = '\0';
  if (!a->verified) {
    append(dst, cap, 0, "no verified certificate");
    return;
  }
  if (a->common_name != NULL)
    at = append(dst, cap, 0, "CN=%s", a->common_name);
  else
    at = append(dst, cap, 0, "subject %s", a->subject);
  for (size_t i = 0; i < a->n_sans; i++)
    at = append(dst, cap, at, "%s%s", i == 0 ? " (" : ", ", a->sans[i]);
  if (a->n_sans > 0)
    append(dst, cap, at, ")");
}
