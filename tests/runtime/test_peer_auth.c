/*
 * tests/runtime/test_peer_auth.c: a connection's peer auth made from
 * certificates built here in memory (names a CA would not sign are the
 * point: embedded NULs, several CNs, no CN, kinds crpc leaves out), the
 * matching of allowed names, and how a certificate is named in messages.
 */
#include <criterion/criterion.h>

#include <string.h>

#include <openssl/x509v3.h>

#include "crpc/error.h"
#include "peer_auth_internal.h"

/* --- Certificates --- */

/* A certificate with no key and no signature: peer_auth reads names only. */
static X509 *cert_new(void) {
  X509 *x = X509_new();

  cr_assert_not_null(x);
  return x;
}

static void subject_add(X509 *x, const char *field, const char *value) {
  cr_assert_eq(
      X509_NAME_add_entry_by_txt(X509_get_subject_name(x), field, MBSTRING_UTF8,
                                 (const unsigned char *)value, -1, -1, 0),
      1);
}

/* Appends a name of |type| holding the |len| bytes at |data|. */
static void san_add(GENERAL_NAMES *gens, int type, const void *data, int len) {
  GENERAL_NAME *g = GENERAL_NAME_new();
  ASN1_STRING *s = ASN1_STRING_type_new(type == GEN_IPADD ? V_ASN1_OCTET_STRING
                                                          : V_ASN1_IA5STRING);

  cr_assert(g != NULL && s != NULL);
  cr_assert_eq(ASN1_STRING_set(s, data, len), 1);
  GENERAL_NAME_set0_value(g, type, s);
  cr_assert(sk_GENERAL_NAME_push(gens, g) > 0);
}

static void san_text(GENERAL_NAMES *gens, int type, const char *text) {
  san_add(gens, type, text, (int)strlen(text));
}

/* A registered ID, a kind peer_auth leaves out. */
static void san_rid(GENERAL_NAMES *gens) {
  GENERAL_NAME *g = GENERAL_NAME_new();

  cr_assert_not_null(g);
  GENERAL_NAME_set0_value(g, GEN_RID, OBJ_txt2obj("1.2.3.4", 1));
  cr_assert(sk_GENERAL_NAME_push(gens, g) > 0);
}

static void sans_set(X509 *x, GENERAL_NAMES *gens) {
  cr_assert_eq(
      X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT),
      1);
  GENERAL_NAMES_free(gens);
}

/* What make-test-certs.sh's client certificate carries, and more. */
static X509 *full_cert(void) {
  static const unsigned char v4[] = {127, 0, 0, 1};
  static const unsigned char v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
  X509 *x = cert_new();
  GENERAL_NAMES *gens = GENERAL_NAMES_new();

  cr_assert_not_null(gens);
  subject_add(x, "O", "crpc test");
  subject_add(x, "CN", "crpc test client");
  san_text(gens, GEN_DNS, "client.crpc.test");
  san_add(gens, GEN_DNS, "evil\0.crpc.test", 15); /* left out */
  san_text(gens, GEN_URI, "spiffe://crpc.test/client");
  san_rid(gens); /* left out */
  san_add(gens, GEN_IPADD, v4, sizeof(v4));
  san_add(gens, GEN_IPADD, v6, sizeof(v6));
  san_add(gens, GEN_IPADD, v4, 3); /* not an address: left out */
  san_text(gens, GEN_EMAIL, "client@crpc.test");
  sans_set(x, gens);
  return x;
}

static crpc_peer_auth *auth_of(X509 *x, int verified) {
  crpc_peer_auth *a = NULL;

  cr_assert_eq(crpc__peer_auth_new("TLSv1.3", "h2", x, verified, &a), 0);
  cr_assert_not_null(a);
  return a;
}

/* --- Making it --- */

Test(peer_auth, plaintext_has_nothing) {
  const crpc_peer_auth *a = &crpc__peer_auth_plaintext;

  cr_assert_eq(a->tls, 0);
  cr_assert_eq(a->verified, 0);
  cr_assert_null(a->tls_version);
  cr_assert_null(a->alpn);
  cr_assert_null(a->subject);
  cr_assert_null(a->common_name);
  cr_assert_null(a->sans);
  cr_assert_eq(a->n_sans, 0);
}

Test(peer_auth, reads_a_verified_certificate) {
  X509 *x = full_cert();
  crpc_peer_auth *a = auth_of(x, 1);

  /* Nothing is kept from the certificate. */
  X509_free(x);
  cr_assert(a->tls && a->verified);
  cr_assert_str_eq(a->tls_version, "TLSv1.3");
  cr_assert_str_eq(a->alpn, "h2");
  cr_assert_str_eq(a->subject, "CN=crpc test client,O=crpc test");
  cr_assert_str_eq(a->common_name, "crpc test client");
  cr_assert_eq(a->n_sans, 5);
  cr_assert_str_eq(a->sans[0], "DNS:client.crpc.test");
  cr_assert_str_eq(a->sans[1], "URI:spiffe://crpc.test/client");
  cr_assert_str_eq(a->sans[2], "IP:127.0.0.1");
  cr_assert_str_eq(a->sans[3], "IP:2001:db8::1");
  cr_assert_str_eq(a->sans[4], "email:client@crpc.test");
  crpc__peer_auth_free(a);
  crpc__peer_auth_free(NULL);
}

Test(peer_auth, no_verified_certificate_no_names) {
  X509 *x = full_cert();
  crpc_peer_auth *a = auth_of(x, 0), *b = NULL;

  cr_assert(a->tls && !a->verified);
  cr_assert_str_eq(a->tls_version, "TLSv1.3");
  cr_assert_null(a->subject);
  cr_assert_null(a->common_name);
  cr_assert_null(a->sans);
  cr_assert_eq(a->n_sans, 0);
  /* No certificate is not a verified one; no ALPN is NULL. */
  cr_assert_eq(crpc__peer_auth_new("TLSv1.2", NULL, NULL, 1, &b), 0);
  cr_assert(b->tls && !b->verified);
  cr_assert_str_eq(b->tls_version, "TLSv1.2");
  cr_assert_null(b->alpn);
  cr_assert_null(b->subject);
  crpc__peer_auth_free(a);
  crpc__peer_auth_free(b);
  X509_free(x);
}

Test(peer_auth, common_name_is_the_last_one) {
  X509 *x = cert_new();
  crpc_peer_auth *a;

  subject_add(x, "CN", "first");
  subject_add(x, "O", "crpc test");
  subject_add(x, "CN", "last");
  a = auth_of(x, 1);
  cr_assert_str_eq(a->common_name, "last");
  cr_assert_str_eq(a->subject, "CN=last,O=crpc test,CN=first");
  cr_assert_null(a->sans);
  cr_assert_eq(a->n_sans, 0);
  crpc__peer_auth_free(a);
  X509_free(x);
}

Test(peer_auth, subject_without_common_name) {
  X509 *x = cert_new();
  GENERAL_NAMES *gens = GENERAL_NAMES_new();
  crpc_peer_auth *a;

  subject_add(x, "O", "crpc test");
  san_text(gens, GEN_DNS, "a.crpc.test");
  sans_set(x, gens);
  a = auth_of(x, 1);
  cr_assert_str_eq(a->subject, "O=crpc test");
  cr_assert_null(a->common_name);
  cr_assert_eq(a->n_sans, 1);
  crpc__peer_auth_free(a);
  X509_free(x);
}

Test(peer_auth, utf8_common_name_and_escaped_subject) {
  X509 *x = cert_new();
  crpc_peer_auth *a;

  subject_add(x, "CN", "Jos\xc3\xa9, \"x\"");
  a = auth_of(x, 1);
  cr_assert_str_eq(a->common_name, "Jos\xc3\xa9, \"x\"");
  /* RFC 2253: ASCII only, specials escaped. */
  cr_assert_str_eq(a->subject, "CN=Jos\\C3\\A9\\, \\\"x\\\"");
  crpc__peer_auth_free(a);
  X509_free(x);
}

Test(peer_auth, common_name_with_a_nul_is_left_out) {
  X509 *x = cert_new();
  crpc_peer_auth *a;

  cr_assert_eq(X509_NAME_add_entry_by_txt(
                   X509_get_subject_name(x), "CN", V_ASN1_UTF8STRING,
                   (const unsigned char *)"ok\0.evil", 8, -1, 0),
               1);
  a = auth_of(x, 1);
  cr_assert_null(a->common_name);
  cr_assert_not_null(a->subject);
  crpc__peer_auth_free(a);
  X509_free(x);
}

/* --- Allowed names --- */

Test(peer_auth, has_name_matches_cn_dns_and_uri_exactly) {
  X509 *x = full_cert();
  crpc_peer_auth *a = auth_of(x, 1);
  const char *cn[] = {"nobody", "crpc test client"};
  const char *dns[] = {"client.crpc.test"};
  const char *uri[] = {"spiffe://crpc.test/client"};
  const char *not_them[] = {
      "127.0.0.1",            /* an IP entry */
      "client@crpc.test",     /* an email entry */
      "DNS:client.crpc.test", /* the kind is not part of the name */
      "Client.crpc.test",     /* no case folding */
      "*.crpc.test",          /* no wildcards */
      "client.crpc",          /* no prefixes */
      "crpc test",            /* the O, not the CN */
      "evil",                 /* the entry with a NUL was left out */
      "",
  };

  cr_assert(crpc__peer_auth_has_name(a, cn, 2));
  cr_assert(crpc__peer_auth_has_name(a, dns, 1));
  cr_assert(crpc__peer_auth_has_name(a, uri, 1));
  cr_assert_not(crpc__peer_auth_has_name(
      a, not_them, sizeof(not_them) / sizeof(not_them[0])));
  cr_assert_not(crpc__peer_auth_has_name(a, cn, 0));
  crpc__peer_auth_free(a);
  /* Unverified, nothing matches. */
  a = auth_of(x, 0);
  cr_assert_not(crpc__peer_auth_has_name(a, cn, 2));
  crpc__peer_auth_free(a);
  cr_assert_not(crpc__peer_auth_has_name(&crpc__peer_auth_plaintext, cn, 2));
  X509_free(x);
}

/* --- Naming it --- */

Test(peer_auth, describe_names_what_the_certificate_carries) {
  char text[CRPC__PEER_AUTH_DESCRIBE_MAX];
  X509 *x = full_cert(), *y = cert_new();
  crpc_peer_auth *a = auth_of(x, 1), *b;

  crpc__peer_auth_describe(a, text, sizeof(text));
  cr_assert_str_eq(text, "CN=crpc test client (DNS:client.crpc.test, "
                         "URI:spiffe://crpc.test/client, IP:127.0.0.1, "
                         "IP:2001:db8::1, email:client@crpc.test)");
  /* Cut to fit. */
  crpc__peer_auth_describe(a, text, 12);
  cr_assert_str_eq(text, "CN=crpc tes");
  crpc__peer_auth_describe(a, text, 1);
  cr_assert_str_eq(text, "");
  crpc__peer_auth_free(a);

  subject_add(y, "CN", "only");
  b = auth_of(y, 1);
  crpc__peer_auth_describe(b, text, sizeof(text));
  cr_assert_str_eq(text, "CN=only");
  crpc__peer_auth_free(b);
  X509_free(y);

  y = cert_new();
  subject_add(y, "O", "crpc test");
  b = auth_of(y, 1);
  crpc__peer_auth_describe(b, text, sizeof(text));
  cr_assert_str_eq(text, "subject O=crpc test");
  crpc__peer_auth_free(b);

  crpc__peer_auth_describe(&crpc__peer_auth_plaintext, text, sizeof(text));
  cr_assert_str_eq(text, "no verified certificate");
  X509_free(x);
  X509_free(y);
}
