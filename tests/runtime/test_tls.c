/*
 * tests/runtime/test_tls.c: memory-BIO TLS. A client and a server
 * connection are paired in memory, bytes pumped between them; a plain
 * OpenSSL peer stands in where crpc's own side cannot misbehave (other
 * ALPN offers, no ALPN, old versions). Certificates come from
 * tests/support/make-test-certs.sh, run into a fresh directory per test.
 */
#include <criterion/criterion.h>

#include <ftw.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "buf.h"
#include "crpc/error.h"
#include "h2io.h"
#include "tls.h"

extern char **environ;

#define MIB ((size_t)1 << 20)

/* --- Certificates, made per test --- */

static char certdir[PATH_MAX];
static char ca_pem[PATH_MAX];
static char server_pem[PATH_MAX];
static char server_key[PATH_MAX];
static char client_pem[PATH_MAX];
static char client_key[PATH_MAX];
static char other_ca_pem[PATH_MAX];

/* Sets |dst| to |name| inside the certificate directory. */
static void cert_path(char *dst, const char *name) {
  int n = snprintf(dst, PATH_MAX, "%s/%s", certdir, name);
  cr_assert(n > 0 && n < PATH_MAX);
}

/* Runs tests/support/make-test-certs.sh, found next to this source. */
static void make_certs(void) {
  const char *file = __FILE__;
  const char *slash = strrchr(file, '/');
  char script[PATH_MAX];
  char *argv[4];
  pid_t pid;
  int status = 0;

  cr_assert_not_null(slash, "__FILE__ is not a path: %s", file);
  snprintf(script, sizeof(script), "%.*s/../support/make-test-certs.sh",
           (int)(slash - file), file);
  argv[0] = "sh";
  argv[1] = script;
  argv[2] = certdir;
  argv[3] = NULL;
  cr_assert_eq(posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ), 0);
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s failed", script);
}

static void setup(void) {
  const char *tmp = getenv("TMPDIR");

  snprintf(certdir, sizeof(certdir), "%s/crpc-tls-XXXXXX",
           tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
  cr_assert_not_null(mkdtemp(certdir));
  make_certs();
  cert_path(ca_pem, "ca.pem");
  cert_path(server_pem, "server.pem");
  cert_path(server_key, "server.key");
  cert_path(client_pem, "client.pem");
  cert_path(client_key, "client.key");
  cert_path(other_ca_pem, "other-ca.pem");
}

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static void teardown(void) {
  if (certdir[0] != '\0')
    nftw(certdir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

TestSuite(tls, .init = setup, .fini = teardown, .timeout = 60);

/* Writes |text| to the file |name| in the directory; its path goes to
 * |path|. */
static void write_file(char *path, const char *name, const char *text) {
  FILE *f;

  cert_path(path, name);
  f = fopen(path, "w");
  cr_assert_not_null(f);
  cr_assert_eq(fputs(text, f) >= 0, 1);
  cr_assert_eq(fclose(f), 0);
}

/* --- A side of a connection: crpc's, or plain OpenSSL --- */

typedef struct side {
  crpc__tls_conn *conn; /* crpc's side, or */
  SSL *raw;             /* a plain OpenSSL peer over memory BIOs */
  BIO *raw_in;          /* what the raw peer reads */
  BIO *raw_out;         /* what the raw peer wrote */
  crpc__buf got;        /* plaintext received */
  size_t plain_cap;     /* plaintext buffer per read call */
  int rc;               /* the first error, 0 while none */
} side;

static void side_init(side *s) {
  memset(s, 0, sizeof(*s));
  crpc__buf_init(&s->got, SIZE_MAX);
  s->plain_cap = 16384;
}

static void side_free(side *s) {
  crpc__tls_conn_free(s->conn);
  SSL_free(s->raw); /* and its BIOs */
  crpc__buf_cleanup(&s->got);
}

static crpc__tls_ctx *server_ctx(const char *client_ca) {
  char err[CRPC__TLS_ERR_MAX] = "";
  crpc__tls_ctx *ctx = NULL;
  int rc = crpc__tls_ctx_new_server(server_pem, server_key, client_ca, &ctx,
                                    err, sizeof(err));
  cr_assert_eq(rc, 0, "%s", err);
  return ctx;
}

static crpc__tls_ctx *client_ctx(const char *ca, int with_cert) {
  char err[CRPC__TLS_ERR_MAX] = "";
  crpc__tls_ctx *ctx = NULL;
  int rc = crpc__tls_ctx_new_client(ca, with_cert ? client_pem : NULL,
                                    with_cert ? client_key : NULL, &ctx, err,
                                    sizeof(err));
  cr_assert_eq(rc, 0, "%s", err);
  return ctx;
}

static void server_side(side *s, const crpc__tls_ctx *ctx) {
  side_init(s);
  cr_assert_eq(crpc__tls_conn_new_server(ctx, &s->conn), 0);
}

static void client_side(side *s, const crpc__tls_ctx *ctx, const char *name,
                        const char *override) {
  side_init(s);
  cr_assert_eq(crpc__tls_conn_new_client(ctx, name, override, &s->conn), 0);
  cr_assert_eq(crpc__tls_conn_handshake(s->conn), 0);
  cr_assert_gt(crpc__tls_conn_pending(s->conn), 0, "no ClientHello queued");
}

/* A raw OpenSSL side over |ctx|: a client of |name| resuming |sess| (may
 * be NULL) when |name| is non-NULL, else a server. */
static void raw_side(side *s, SSL_CTX *ctx, const char *name,
                     SSL_SESSION *sess) {
  side_init(s);
  s->raw = SSL_new(ctx);
  s->raw_in = BIO_new(BIO_s_mem());
  s->raw_out = BIO_new(BIO_s_mem());
  cr_assert(s->raw != NULL && s->raw_in != NULL && s->raw_out != NULL);
  BIO_set_mem_eof_return(s->raw_in, -1);
  SSL_set_bio(s->raw, s->raw_in, s->raw_out);
  if (name != NULL) {
    SSL_set_tlsext_host_name(s->raw, name);
    if (sess != NULL)
      cr_assert_eq(SSL_set_session(s->raw, sess), 1);
    SSL_set_connect_state(s->raw);
    SSL_do_handshake(s->raw);
  } else {
    SSL_set_accept_state(s->raw);
  }
}

static SSL_CTX *raw_client_ctx(const unsigned char *alpn, size_t alpn_len) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  cr_assert_not_null(ctx);
  cr_assert_eq(SSL_CTX_load_verify_locations(ctx, ca_pem, NULL), 1);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
  if (alpn != NULL)
    cr_assert_eq(SSL_CTX_set_alpn_protos(ctx, alpn, (unsigned)alpn_len), 0);
  return ctx;
}

/* Reads what a raw side can: the handshake, then plaintext. */
static void raw_drive(side *s) {
  char buf[4096];
  size_t n;
  int ret;

  if (s->rc != 0)
    return;
  if (!SSL_is_init_finished(s->raw)) {
    ret = SSL_do_handshake(s->raw);
    if (ret != 1) {
      if (SSL_get_error(s->raw, ret) != SSL_ERROR_WANT_READ)
        s->rc = -1;
      return;
    }
  }
  while ((ret = SSL_read_ex(s->raw, buf, sizeof(buf), &n)) == 1)
    cr_assert_eq(crpc__buf_append(&s->got, buf, n), 0);
  if (SSL_get_error(s->raw, ret) != SSL_ERROR_WANT_READ)
    s->rc = -1;
}

/* Hands |n| bytes of ciphertext to |s|. */
static void side_feed(side *s, const uint8_t *p, size_t n) {
  uint8_t *plain;
  size_t used, got;
  int rc;

  if (s->raw != NULL) {
    cr_assert_eq(BIO_write(s->raw_in, p, (int)n), (int)n);
    raw_drive(s);
    return;
  }
  if (s->rc != 0)
    return;
  plain = malloc(s->plain_cap);
  cr_assert_not_null(plain);
  do {
    rc = crpc__tls_conn_read(s->conn, p, n, &used, plain, s->plain_cap, &got);
    cr_assert_leq(used, n);
    p += used;
    n -= used;
    if (rc != 0) {
      cr_assert_eq(got, 0);
      s->rc = rc;
      break;
    }
    cr_assert_eq(crpc__buf_append(&s->got, plain, got), 0);
    /* A call without plaintext has taken all the input. */
    cr_assert(got > 0 || n == 0, "input left: %zu", n);
  } while (got > 0);
  free(plain);
}

/* Moves what |from| has to send to |to|, |chunk| bytes at a time (0: all
 * at once). Returns the bytes moved. */
static size_t move(side *from, side *to, size_t chunk) {
  size_t total = 0, len, n;

  for (;;) {
    uint8_t buf[4096];
    const uint8_t *p;

    if (from->raw != NULL) {
      int r = BIO_read(from->raw_out, buf, (int)sizeof(buf));
      if (r <= 0)
        break;
      p = buf;
      len = (size_t)r;
    } else {
      p = crpc__tls_conn_peek(from->conn, &len);
      if (len == 0)
        break;
      /* Input comes from a buffer of the test's own, as from a socket. */
      if (len > sizeof(buf))
        len = sizeof(buf);
      memcpy(buf, p, len);
      crpc__tls_conn_consume(from->conn, len);
      p = buf;
    }
    for (size_t off = 0; off < len; off += n) {
      n = chunk == 0 || len - off < chunk ? len - off : chunk;
      side_feed(to, p + off, n);
    }
    total += len;
  }
  return total;
}

/* Pumps bytes both ways until neither side has anything to send. */
static void pump_chunked(side *a, side *b, size_t chunk) {
  int rounds = 0;

  while (move(a, b, chunk) + move(b, a, chunk) > 0)
    cr_assert_lt(++rounds, 100000, "pumping does not settle");
}

static void pump(side *a, side *b) {
  pump_chunked(a, b, 0);
}

static int done(const side *s) {
  return s->raw != NULL ? SSL_is_init_finished(s->raw)
                        : crpc__tls_conn_handshake_done(s->conn);
}

/* Checks that a failed side's message is one non-empty line containing
 * |what|. */
static void assert_failed(const side *s, const char *what) {
  const char *msg = crpc__tls_conn_error(s->conn);

  cr_assert_eq(s->rc, CRPC_EPROTO, "rc %d (%s)", s->rc, msg);
  cr_assert_neq(msg[0], '\0');
  cr_assert_null(strchr(msg, '\n'), "%s", msg);
  cr_assert_not_null(strstr(msg, what), "message: %s", msg);
}

static void send_text(side *s, const char *text) {
  cr_assert_eq(crpc__tls_conn_write(s->conn, text, strlen(text)), 0);
}

static void assert_got(side *s, const char *text) {
  size_t n = strlen(text);

  cr_assert_eq(crpc__buf_len(&s->got), n, "got %zu bytes",
               crpc__buf_len(&s->got));
  cr_assert(memcmp(crpc__buf_data(&s->got), text, n) == 0);
  crpc__buf_reset(&s->got);
}

/* A handshaken pair over fresh contexts; free with pair_free(). */
typedef struct pair {
  crpc__tls_ctx *sctx, *cctx;
  side server, client;
} pair;

static void pair_open(pair *p, const char *client_ca, const char *ca,
                      int client_cert, const char *name) {
  p->sctx = server_ctx(client_ca);
  p->cctx = client_ctx(ca, client_cert);
  server_side(&p->server, p->sctx);
  client_side(&p->client, p->cctx, name, NULL);
  pump(&p->client, &p->server);
}

static void pair_free(pair *p) {
  side_free(&p->client);
  side_free(&p->server);
  crpc__tls_ctx_free(p->cctx);
  crpc__tls_ctx_free(p->sctx);
}

static void assert_up(pair *p) {
  cr_assert_eq(p->client.rc, 0, "client: %s",
               crpc__tls_conn_error(p->client.conn));
  cr_assert_eq(p->server.rc, 0, "server: %s",
               crpc__tls_conn_error(p->server.conn));
  cr_assert(done(&p->client) && done(&p->server));
}

/* --- Handshakes --- */

/* The subject of the verified certificate of |c|'s peer, "" without. */
static const char *peer_subject(const crpc__tls_conn *c) {
  const crpc_peer_auth *a = crpc__tls_conn_peer_auth(c);

  cr_assert_not_null(a, "no peer auth once the handshake is done");
  return a->subject != NULL ? a->subject : "";
}

Test(tls, handshake_selects_h2) {
  const crpc_peer_auth *a;
  pair p;

  pair_open(&p, NULL, ca_pem, 0, "localhost");
  assert_up(&p);
  cr_assert_str_eq(crpc__tls_conn_alpn(p.client.conn), "h2");
  cr_assert_str_eq(crpc__tls_conn_alpn(p.server.conn), "h2");
  cr_assert_str_eq(crpc__tls_conn_version(p.server.conn), "TLSv1.3");
  cr_assert_str_eq(crpc__tls_conn_error(p.server.conn), "");
  /* The client sees the server's certificate, verified. */
  a = crpc__tls_conn_peer_auth(p.client.conn);
  cr_assert_not_null(a);
  cr_assert(a->tls && a->verified);
  cr_assert_str_eq(a->tls_version, "TLSv1.3");
  cr_assert_str_eq(a->alpn, "h2");
  cr_assert_str_eq(a->subject, "CN=localhost,O=crpc test");
  cr_assert_str_eq(a->common_name, "localhost");
  cr_assert_eq(a->n_sans, 3);
  cr_assert_str_eq(a->sans[0], "DNS:localhost");
  cr_assert_str_eq(a->sans[1], "IP:127.0.0.1");
  cr_assert_str_eq(a->sans[2], "IP:::1");
  /* The server asked for no client certificate. */
  a = crpc__tls_conn_peer_auth(p.server.conn);
  cr_assert_not_null(a);
  cr_assert(a->tls && !a->verified);
  cr_assert_str_eq(a->tls_version, "TLSv1.3");
  cr_assert_str_eq(a->alpn, "h2");
  cr_assert_null(a->subject);
  cr_assert_null(a->common_name);
  cr_assert_null(a->sans);
  cr_assert_eq(a->n_sans, 0);
  /* Once done, advancing the handshake does nothing. */
  cr_assert_eq(crpc__tls_conn_handshake(p.client.conn), 0);
  cr_assert_eq(crpc__tls_conn_handshake(p.server.conn), 0);
  cr_assert_eq(crpc__tls_conn_pending(p.server.conn), 0);
  pair_free(&p);
}

Test(tls, handshake_one_byte_at_a_time) {
  crpc__tls_ctx *sctx = server_ctx(ca_pem);
  crpc__tls_ctx *cctx = client_ctx(ca_pem, 1);
  side s, c;

  server_side(&s, sctx);
  client_side(&c, cctx, "localhost", NULL);
  pump_chunked(&c, &s, 1);
  cr_assert_eq(s.rc, 0, "%s", crpc__tls_conn_error(s.conn));
  cr_assert_eq(c.rc, 0, "%s", crpc__tls_conn_error(c.conn));
  cr_assert(done(&c) && done(&s));
  send_text(&c, "one byte at a time");
  pump_chunked(&c, &s, 1);
  assert_got(&s, "one byte at a time");
  side_free(&c);
  side_free(&s);
  crpc__tls_ctx_free(cctx);
  crpc__tls_ctx_free(sctx);
}

Test(tls, ip_addresses_verify) {
  static const char *const names[] = {"127.0.0.1", "::1", "[::1]"};

  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    pair p;
    pair_open(&p, NULL, ca_pem, 0, names[i]);
    assert_up(&p);
    pair_free(&p);
  }
}

Test(tls, wrong_hostname_fails) {
  pair p;

  pair_open(&p, NULL, ca_pem, 0, "example.com");
  assert_failed(&p.client, "hostname mismatch");
  cr_assert_eq(crpc__tls_conn_handshake_done(p.client.conn), 0);
  /* The client's alert reached the server. */
  assert_failed(&p.server, "TLS handshake failed");
  cr_assert_null(crpc__tls_conn_alpn(p.client.conn));
  pair_free(&p);
}

Test(tls, wrong_ip_fails) {
  pair p;

  pair_open(&p, NULL, ca_pem, 0, "127.0.0.2");
  assert_failed(&p.client, "IP address mismatch");
  pair_free(&p);
}

Test(tls, name_override_replaces_the_name) {
  crpc__tls_ctx *sctx = server_ctx(NULL);
  crpc__tls_ctx *cctx = client_ctx(ca_pem, 0);
  side s, c;

  server_side(&s, sctx);
  client_side(&c, cctx, "10.1.2.3", "localhost");
  pump(&c, &s);
  cr_assert_eq(c.rc, 0, "%s", crpc__tls_conn_error(c.conn));
  cr_assert(done(&c));
  side_free(&c);
  side_free(&s);

  server_side(&s, sctx);
  client_side(&c, cctx, "localhost", "example.com");
  pump(&c, &s);
  assert_failed(&c, "hostname mismatch");
  side_free(&c);
  side_free(&s);
  crpc__tls_ctx_free(cctx);
  crpc__tls_ctx_free(sctx);
}

Test(tls, server_from_another_ca_fails) {
  pair p;

  pair_open(&p, NULL, other_ca_pem, 0, "localhost");
  assert_failed(&p.client, "certificate verify failed");
  assert_failed(&p.client, "unable to get local issuer certificate");
  assert_failed(&p.server, "TLS handshake failed");
  pair_free(&p);
}

/* --- mTLS --- */

Test(tls, mtls_succeeds_with_client_cert) {
  const crpc_peer_auth *a;
  crpc_peer_auth *taken;
  pair p;

  pair_open(&p, ca_pem, ca_pem, 1, "localhost");
  assert_up(&p);
  a = crpc__tls_conn_peer_auth(p.server.conn);
  cr_assert_not_null(a);
  cr_assert(a->tls && a->verified);
  cr_assert_str_eq(a->subject, "CN=crpc test client,O=crpc test");
  cr_assert_str_eq(a->common_name, "crpc test client");
  cr_assert_eq(a->n_sans, 4);
  cr_assert_str_eq(a->sans[0], "DNS:client.crpc.test");
  cr_assert_str_eq(a->sans[1], "URI:spiffe://crpc.test/client");
  cr_assert_str_eq(a->sans[2], "IP:127.0.0.1");
  cr_assert_str_eq(a->sans[3], "email:client@crpc.test");
  /* Taken, it outlives the connection. */
  taken = crpc__tls_conn_take_peer_auth(p.server.conn);
  cr_assert_eq(taken, a);
  cr_assert_null(crpc__tls_conn_peer_auth(p.server.conn));
  cr_assert_null(crpc__tls_conn_take_peer_auth(p.server.conn));
  send_text(&p.client, "hello");
  pump(&p.client, &p.server);
  assert_got(&p.server, "hello");
  pair_free(&p);
  cr_assert_str_eq(taken->sans[3], "email:client@crpc.test");
  crpc__peer_auth_free(taken);
}

Test(tls, mtls_fails_without_client_cert) {
  pair p;

  pair_open(&p, ca_pem, ca_pem, 0, "localhost");
  assert_failed(&p.server, "peer did not return a certificate");
  /* TLS 1.3 clients finish before the server has judged them: the alert
   * arrives after, and fails the client too. */
  assert_failed(&p.client, "certificate required");
  pair_free(&p);
}

Test(tls, mtls_fails_with_cert_from_another_ca) {
  crpc__tls_ctx *sctx = server_ctx(other_ca_pem);
  crpc__tls_ctx *cctx = client_ctx(ca_pem, 1);
  side s, c;

  server_side(&s, sctx);
  client_side(&c, cctx, "localhost", NULL);
  pump(&c, &s);
  assert_failed(&s, "certificate verify failed");
  cr_assert_eq(c.rc, CRPC_EPROTO);
  side_free(&c);
  side_free(&s);
  crpc__tls_ctx_free(cctx);
  crpc__tls_ctx_free(sctx);
}

/* --- ALPN and versions against a plain OpenSSL peer --- */

/* Handshakes a raw client over |rctx| with a crpc server; |*server| and
 * |*client| are left for the caller to check and free. */
static crpc__tls_ctx *raw_client_handshake(SSL_CTX *rctx, side *server,
                                           side *client) {
  crpc__tls_ctx *sctx = server_ctx(NULL);

  server_side(server, sctx);
  raw_side(client, rctx, "localhost", NULL);
  pump(client, server);
  return sctx;
}

Test(tls, client_offering_only_http11_fails) {
  static const unsigned char http11[] = {8,   'h', 't', 't', 'p',
                                         '/', '1', '.', '1'};
  SSL_CTX *rctx = raw_client_ctx(http11, sizeof(http11));
  side s, c;
  crpc__tls_ctx *sctx = raw_client_handshake(rctx, &s, &c);
  unsigned long e;

  assert_failed(&s, "no application protocol");
  cr_assert_eq(c.rc, -1);
  e = ERR_peek_last_error();
  cr_assert_eq(ERR_GET_REASON(e), SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL,
               "%s", ERR_reason_error_string(e));
  ERR_clear_error();
  side_free(&c);
  side_free(&s);
  crpc__tls_ctx_free(sctx);
  SSL_CTX_free(rctx);
}

Test(tls, client_offering_h2_among_others_gets_h2) {
  static const unsigned char offer[] = {8,   'h', 't', 't', 'p', '/',
                                        '1', '.', '1', 2,   'h', '2'};
  SSL_CTX *rctx = raw_client_ctx(offer, sizeof(offer));
  side s, c;
  crpc__tls_ctx *sctx = raw_client_handshake(rctx, &s, &c);
  const unsigned char *sel;
  unsigned sel_len;

  cr_assert_eq(s.rc, 0, "%s", crpc__tls_conn_error(s.conn));
  cr_assert_str_eq(crpc__tls_conn_alpn(s.conn), "h2");
  SSL_get0_alpn_selected(c.raw, &sel, &sel_len);
  cr_assert(sel_len == 2 && memcmp(sel, "h2", 2) == 0);
  side_free(&c);
  side_free(&s);
  crpc__tls_ctx_free(sctx);
  SSL_CTX_free(rctx);
}

Test(tls, client_offering_no_alpn_is_accepted) {
  SSL_CTX *rctx = raw_client_ctx(NULL, 0);
  side s, c;
  crpc__tls_ctx *sctx = raw_client_handshake(rctx, &s, &c);
  size_t n;

  cr_assert_eq(s.rc, 0, "%s", crpc__tls_conn_error(s.conn));
  cr_assert_eq(c.rc, 0);
  cr_assert(done(&s) && done(&c));
  cr_assert_null(crpc__tls_conn_alpn(s.conn));
  cr_assert_null(crpc__tls_conn_peer_auth(s.conn)->alpn);
  cr_assert_eq(SSL_write_ex(c.raw, "PRI", 3, &n), 1);
  pump(&c, &s);
  assert_got(&s, "PRI");
  send_text(&s, "ok");
  pump(&c, &s);
  assert_got(&c, "ok");
  side_free(&c);
  side_free(&s);
  crpc__tls_ctx_free(sctx);
  SSL_CTX_free(rctx);
}

Test(tls, tls12_client_is_accepted) {
  static const unsigned char h2[] = {2, 'h', '2'};
  SSL_CTX *rctx = raw_client_ctx(h2, sizeof(h2));
  side s, c;
  crpc__tls_ctx *sctx;

  cr_assert_eq(SSL_CTX_set_max_proto_version(rctx, TLS1_2_VERSION), 1);
  sctx = raw_client_handshake(rctx, &s, &c);
  cr_assert_eq(s.rc, 0, "%s", crpc__tls_conn_error(s.conn));
  cr_assert(done(&s) && done(&c));
  cr_assert_str_eq(crpc__tls_conn_version(s.conn), "TLSv1.2");
  cr_assert_str_eq(crpc__tls_conn_alpn(s.conn), "h2");
  cr_assert_str_eq(crpc__tls_conn_peer_auth(s.conn)->tls_version, "TLSv1.2");
  /* An HTTP/2-approved suite: ECDHE with AEAD. */
  cr_assert_not_null(strstr(SSL_get_cipher_name(c.raw), "ECDHE"), "%s",
                     SSL_get_cipher_name(c.raw));
  cr_assert_not_null(strstr(SSL_get_cipher_name(c.raw), "GCM"), "%s",
                     SSL_get_cipher_name(c.raw));
  side_free(&c);
  side_free(&s);
  crpc__tls_ctx_free(sctx);
  SSL_CTX_free(rctx);
}

Test(tls, tls11_client_is_refused) {
  SSL_CTX *rctx = raw_client_ctx(NULL, 0);
  side s, c;
  crpc__tls_ctx *sctx;

  /* Old versions need the lowest security level to be offered at all. */
  SSL_CTX_set_security_level(rctx, 0);
  cr_assert_eq(SSL_CTX_set_cipher_list(rctx, "ALL:@SECLEVEL=0"), 1);
  cr_assert_eq(SSL_CTX_set_min_proto_version(rctx, TLS1_VERSION), 1);
  cr_assert_eq(SSL_CTX_set_max_proto_version(rctx, TLS1_1_VERSION), 1);
  sctx = raw_client_handshake(rctx, &s, &c);
  assert_failed(&s, "unsupported protocol");
  cr_assert_eq(c.rc, -1);
  ERR_clear_error();
  side_free(&c);
  side_free(&s);
  crpc__tls_ctx_free(sctx);
  SSL_CTX_free(rctx);
}

Test(tls, server_not_selecting_h2_fails_the_client) {
  SSL_CTX *rctx = SSL_CTX_new(TLS_server_method());
  crpc__tls_ctx *cctx = client_ctx(ca_pem, 0);
  side s, c;

  cr_assert_not_null(rctx);
  cr_assert_eq(SSL_CTX_use_certificate_chain_file(rctx, server_pem), 1);
  cr_assert_eq(SSL_CTX_use_PrivateKey_file(rctx, server_key, SSL_FILETYPE_PEM),
               1);
  raw_side(&s, rctx, NULL, NULL);
  client_side(&c, cctx, "localhost", NULL);
  pump(&c, &s);
  assert_failed(&c, "did not select ALPN h2");
  cr_assert_eq(crpc__tls_conn_handshake_done(c.conn), 0);
  cr_assert_eq(crpc__tls_conn_write(c.conn, "x", 1), CRPC_EPROTO);
  side_free(&c);
  side_free(&s);
  crpc__tls_ctx_free(cctx);
  SSL_CTX_free(rctx);
}

Test(tls, sessions_resume_with_the_client_identity) {
  static const unsigned char h2[] = {2, 'h', '2'};
  SSL_CTX *rctx = raw_client_ctx(h2, sizeof(h2));
  crpc__tls_ctx *sctx = server_ctx(ca_pem);
  SSL_SESSION *sess = NULL;

  cr_assert_eq(SSL_CTX_use_certificate_chain_file(rctx, client_pem), 1);
  cr_assert_eq(SSL_CTX_use_PrivateKey_file(rctx, client_key, SSL_FILETYPE_PEM),
               1);
  for (int round = 0; round < 2; round++) {
    side s, c;
    server_side(&s, sctx);
    raw_side(&c, rctx, "localhost", sess);
    pump(&c, &s);
    cr_assert_eq(s.rc, 0, "%s", crpc__tls_conn_error(s.conn));
    cr_assert_eq(c.rc, 0);
    cr_assert_eq(SSL_session_reused(c.raw), round == 1);
    cr_assert_str_eq(peer_subject(s.conn), "CN=crpc test client,O=crpc test");
    cr_assert(crpc__tls_conn_peer_auth(s.conn)->verified);
    cr_assert_eq(crpc__tls_conn_peer_auth(s.conn)->n_sans, 4);
    /* Sessions stay resumable only after a clean shutdown. */
    cr_assert_eq(crpc__tls_conn_shutdown(s.conn), 0);
    SSL_shutdown(c.raw);
    pump(&c, &s);
    SSL_SESSION_free(sess);
    sess = SSL_get1_session(c.raw);
    cr_assert_not_null(sess);
    side_free(&c);
    side_free(&s);
  }
  SSL_SESSION_free(sess);
  crpc__tls_ctx_free(sctx);
  SSL_CTX_free(rctx);
}

/* --- Data --- */

static uint8_t *pattern(size_t n, uint32_t seed) {
  uint8_t *p = malloc(n);

  cr_assert_not_null(p);
  for (size_t i = 0; i < n; i++) {
    seed = seed * 1103515245u + 12345u;
    p[i] = (uint8_t)(seed >> 16);
  }
  return p;
}

/* Writes |n| bytes from |from| to |to| in |chunk|-byte writes, holding the
 * output under |limit| as a transport does, and checks what arrives. */
static void transfer(side *from, side *to, size_t n, size_t chunk,
                     size_t limit) {
  uint8_t *data = pattern(n, (uint32_t)n);
  size_t off = 0, peak = 0;

  while (off < n) {
    size_t len = n - off < chunk ? n - off : chunk;
    if (crpc__tls_conn_pending(from->conn) > limit) {
      move(from, to, 0);
      continue;
    }
    cr_assert_eq(crpc__tls_conn_write(from->conn, data + off, len), 0);
    off += len;
    if (crpc__tls_conn_pending(from->conn) > peak)
      peak = crpc__tls_conn_pending(from->conn);
  }
  pump(from, to);
  cr_assert_eq(to->rc, 0);
  cr_assert_eq(crpc__buf_len(&to->got), n);
  cr_assert(memcmp(crpc__buf_data(&to->got), data, n) == 0);
  /* Under the limit plus one write and its record overhead. */
  cr_assert_leq(peak, limit + chunk + (chunk / 16384 + 1) * 64);
  crpc__buf_reset(&to->got);
  free(data);
}

Test(tls, data_both_ways) {
  pair p;

  pair_open(&p, NULL, ca_pem, 0, "localhost");
  assert_up(&p);
  send_text(&p.client, "ping");
  pump(&p.client, &p.server);
  assert_got(&p.server, "ping");
  send_text(&p.server, "pong");
  pump(&p.client, &p.server);
  assert_got(&p.client, "pong");
  transfer(&p.client, &p.server, MIB, 16384, 65536);
  transfer(&p.server, &p.client, MIB, 10000, 65536);
  transfer(&p.client, &p.server, MIB, 1 + MIB / 3, 0);
  pair_free(&p);
}

Test(tls, small_plaintext_buffer_reads_in_pieces) {
  pair p;

  pair_open(&p, NULL, ca_pem, 0, "localhost");
  assert_up(&p);
  /* A 7-byte buffer: every record takes many calls, some with no input. */
  p.server.plain_cap = 7;
  transfer(&p.client, &p.server, 100000, 4096, 65536);
  pair_free(&p);
}

Test(tls, output_grows_by_the_write) {
  uint8_t *data = pattern(MIB, 7);
  size_t len, len2;
  const uint8_t *peeked;
  uint8_t *taken;
  pair p;

  pair_open(&p, NULL, ca_pem, 0, "localhost");
  assert_up(&p);
  cr_assert_eq(crpc__tls_conn_pending(p.client.conn), 0);
  cr_assert_null(crpc__tls_conn_peek(p.client.conn, &len));
  cr_assert_eq(len, 0);
  cr_assert_null(crpc__tls_conn_take(p.client.conn, &len));
  cr_assert_eq(crpc__tls_conn_write(p.client.conn, data, MIB), 0);
  len = crpc__tls_conn_pending(p.client.conn);
  cr_assert_geq(len, MIB);
  cr_assert_leq(len, MIB + (MIB / 16384) * 32);
  /* Take hands over the same bytes peek shows, then the output is empty. */
  peeked = crpc__tls_conn_peek(p.client.conn, &len2);
  cr_assert_eq(len2, len);
  cr_assert_eq(peeked[0], 23); /* application_data record */
  crpc__tls_conn_consume(p.client.conn, 5);
  taken = crpc__tls_conn_take(p.client.conn, &len2);
  cr_assert_eq(len2, len - 5);
  cr_assert_eq(crpc__tls_conn_pending(p.client.conn), 0);
  free(taken);
  pair_free(&p);
  free(data);
}

/* --- Bad input --- */

Test(tls, garbage_fails_a_server) {
  for (uint32_t seed = 1; seed <= 20; seed++) {
    crpc__tls_ctx *sctx = server_ctx(NULL);
    size_t n = 1 + seed * 37 % 2000;
    uint8_t *junk = pattern(n, seed);
    side s;

    server_side(&s, sctx);
    side_feed(&s, junk, n);
    /* Short garbage may still look like the start of a record. */
    if (s.rc == 0) {
      uint8_t more[64];
      memset(more, 0xee, sizeof(more));
      for (int i = 0; i < 400 && s.rc == 0; i++)
        side_feed(&s, more, sizeof(more));
    }
    assert_failed(&s, "TLS handshake failed");
    /* Every later call reports the same failure. */
    {
      uint8_t buf[64];
      size_t used, got;
      cr_assert_eq(
          crpc__tls_conn_read(s.conn, junk, n, &used, buf, sizeof(buf), &got),
          CRPC_EPROTO);
      cr_assert_eq(got, 0);
    }
    cr_assert_eq(crpc__tls_conn_write(s.conn, "x", 1), CRPC_EPROTO);
    cr_assert_eq(crpc__tls_conn_handshake(s.conn), CRPC_EPROTO);
    cr_assert_eq(crpc__tls_conn_shutdown(s.conn), CRPC_ESTATE);
    free(junk);
    side_free(&s);
    crpc__tls_ctx_free(sctx);
  }
}

Test(tls, garbage_fails_a_client) {
  crpc__tls_ctx *cctx = client_ctx(ca_pem, 0);
  uint8_t junk[300];
  side c;

  memset(junk, 0x16, sizeof(junk)); /* looks like handshake records */
  client_side(&c, cctx, "localhost", NULL);
  side_feed(&c, junk, sizeof(junk));
  assert_failed(&c, "TLS handshake failed");
  side_free(&c);
  crpc__tls_ctx_free(cctx);
}

Test(tls, corrupted_record_fails_after_handshake) {
  uint8_t *rec;
  size_t len;
  pair p;

  pair_open(&p, NULL, ca_pem, 0, "localhost");
  assert_up(&p);
  send_text(&p.client, "this record will be damaged");
  rec = crpc__tls_conn_take(p.client.conn, &len);
  cr_assert_gt(len, 20);
  rec[len - 3] ^= 0x40;
  side_feed(&p.server, rec, len);
  assert_failed(&p.server, "TLS connection failed");
  cr_assert_eq(crpc__buf_len(&p.server.got), 0);
  /* The server queued an alert for the client. */
  cr_assert_gt(crpc__tls_conn_pending(p.server.conn), 0);
  pump(&p.client, &p.server);
  cr_assert_eq(p.client.rc, CRPC_EPROTO);
  free(rec);
  pair_free(&p);
}

/* --- Closing --- */

Test(tls, close_notify_both_ways) {
  pair p;

  pair_open(&p, NULL, ca_pem, 0, "localhost");
  assert_up(&p);
  /* Data sent before close_notify arrives before it. */
  send_text(&p.client, "bye");
  cr_assert_eq(crpc__tls_conn_shutdown(p.client.conn), 0);
  cr_assert_eq(crpc__tls_conn_shutdown(p.client.conn), 0);
  cr_assert_eq(crpc__tls_conn_write(p.client.conn, "x", 1), CRPC_ECLOSED);
  pump(&p.client, &p.server);
  assert_got(&p.server, "bye");
  cr_assert_eq(p.server.rc, CRPC_ECLOSED);
  cr_assert_str_eq(crpc__tls_conn_error(p.server.conn), "");
  /* Half-closed: the server may still answer, then close. */
  send_text(&p.server, "see you");
  cr_assert_eq(crpc__tls_conn_shutdown(p.server.conn), 0);
  pump(&p.client, &p.server);
  assert_got(&p.client, "see you");
  cr_assert_eq(p.client.rc, CRPC_ECLOSED);
  /* Reading after close_notify keeps saying so. */
  p.server.rc = 0;
  side_feed(&p.server, (const uint8_t *)"", 0);
  cr_assert_eq(p.server.rc, CRPC_ECLOSED);
  pair_free(&p);
}

/* --- Misuse --- */

Test(tls, calls_out_of_order) {
  crpc__tls_ctx *sctx = server_ctx(NULL);
  crpc__tls_ctx *cctx = client_ctx(ca_pem, 0);
  crpc__tls_conn *c = NULL;
  uint8_t buf[16];
  size_t used, got;

  cr_assert_eq(crpc__tls_conn_new_server(cctx, &c), CRPC_EINVAL);
  cr_assert_eq(crpc__tls_conn_new_client(sctx, "localhost", NULL, &c),
               CRPC_EINVAL);
  cr_assert_eq(crpc__tls_conn_new_client(cctx, NULL, NULL, &c), CRPC_EINVAL);
  cr_assert_eq(crpc__tls_conn_new_client(cctx, "", NULL, &c), CRPC_EINVAL);
  cr_assert_eq(crpc__tls_conn_new_client(cctx, "[localhost]", NULL, &c),
               CRPC_EINVAL);
  cr_assert_eq(crpc__tls_conn_new_client(cctx, "[::1", NULL, &c), CRPC_EINVAL);
  cr_assert_null(c);
  cr_assert_eq(crpc__tls_conn_new_client(cctx, "localhost", NULL, &c), 0);
  cr_assert_eq(crpc__tls_conn_write(c, "x", 1), CRPC_ESTATE);
  cr_assert_eq(crpc__tls_conn_shutdown(c), CRPC_ESTATE);
  cr_assert_eq(crpc__tls_conn_read(c, NULL, 0, &used, buf, 0, &got),
               CRPC_EINVAL);
  /* Reading with no input starts the handshake like handshake() does. */
  cr_assert_eq(crpc__tls_conn_read(c, NULL, 0, &used, buf, sizeof(buf), &got),
               0);
  cr_assert_eq(got, 0);
  cr_assert_gt(crpc__tls_conn_pending(c), 0);
  cr_assert_null(crpc__tls_conn_peer_auth(c));
  cr_assert_null(crpc__tls_conn_take_peer_auth(c));
  cr_assert_null(crpc__tls_conn_alpn(c));
  crpc__tls_conn_free(c);
  crpc__tls_conn_free(NULL);
  crpc__tls_ctx_free(NULL);
  crpc__tls_ctx_free(cctx);
  crpc__tls_ctx_free(sctx);
}

/* --- Context errors: one line naming the file and the reason --- */

static void assert_server_error(const char *cert, const char *key,
                                const char *client_ca, const char *want) {
  char err[CRPC__TLS_ERR_MAX] = "";
  crpc__tls_ctx *ctx = NULL;
  int rc =
      crpc__tls_ctx_new_server(cert, key, client_ca, &ctx, err, sizeof(err));

  cr_assert_eq(rc, CRPC_EINVAL, "rc %d: %s", rc, err);
  cr_assert_null(ctx);
  cr_assert_null(strchr(err, '\n'), "%s", err);
  cr_assert_str_eq(err, want);
  cr_assert_eq(ERR_peek_error(), 0, "error queue left behind");
}

static void assert_client_error(const char *ca, const char *cert,
                                const char *key, const char *want) {
  char err[CRPC__TLS_ERR_MAX] = "";
  crpc__tls_ctx *ctx = NULL;
  int rc = crpc__tls_ctx_new_client(ca, cert, key, &ctx, err, sizeof(err));

  cr_assert_eq(rc, CRPC_EINVAL, "rc %d: %s", rc, err);
  cr_assert_null(ctx);
  cr_assert_str_eq(err, want);
}

/* |prefix|, |path| and |suffix| joined, in a static buffer. */
static const char *joined(const char *prefix, const char *path,
                          const char *suffix) {
  static char buf[2 * PATH_MAX];
  snprintf(buf, sizeof(buf), "%s%s%s", prefix, path, suffix);
  return buf;
}

Test(tls, missing_files) {
  char missing[PATH_MAX];

  cert_path(missing, "missing.pem");
  assert_server_error(missing, server_key, NULL,
                      joined("cannot read certificate ", missing,
                             ": No such file or directory"));
  assert_server_error(server_pem, missing, NULL,
                      joined("cannot read private key ", missing,
                             ": No such file or directory"));
  assert_server_error(
      server_pem, server_key, missing,
      joined("cannot read CA file ", missing, ": No such file or directory"));
  assert_client_error(
      missing, NULL, NULL,
      joined("cannot read CA file ", missing, ": No such file or directory"));
  assert_client_error(ca_pem, missing, client_key,
                      joined("cannot read certificate ", missing,
                             ": No such file or directory"));
  assert_server_error(
      certdir, server_key, NULL,
      joined("cannot read certificate ", certdir, ": no start line"));
}

Test(tls, corrupt_files) {
  char garbage[PATH_MAX], damaged[PATH_MAX];
  char body[1024];
  FILE *f = fopen(server_pem, "r");
  size_t n;

  /* A certificate whose base64 was damaged in the middle. */
  cr_assert_not_null(f);
  n = fread(body, 1, sizeof(body) - 1, f);
  fclose(f);
  body[n] = '\0';
  memset(body + 100, 'A', 40);
  write_file(damaged, "damaged.pem", body);
  write_file(garbage, "garbage.pem", "not a certificate\n");

  assert_server_error(
      garbage, server_key, NULL,
      joined("cannot read certificate ", garbage, ": no start line"));
  {
    char err[CRPC__TLS_ERR_MAX] = "";
    crpc__tls_ctx *ctx = NULL;
    const char *want = joined("cannot read certificate ", damaged, ": ");
    cr_assert_eq(crpc__tls_ctx_new_server(damaged, server_key, NULL, &ctx, err,
                                          sizeof(err)),
                 CRPC_EINVAL);
    cr_assert(strncmp(err, want, strlen(want)) == 0, "%s", err);
    cr_assert_gt(strlen(err), strlen(want));
    cr_assert_null(strchr(err, '\n'));
  }
  assert_server_error(server_pem, garbage, NULL,
                      joined("cannot read private key ", garbage,
                             ": no PEM private key found"));
  /* A certificate is not a key either. */
  assert_server_error(server_pem, server_pem, NULL,
                      joined("cannot read private key ", server_pem,
                             ": no PEM private key found"));
  assert_server_error(
      server_pem, server_key, garbage,
      joined("cannot read CA file ", garbage, ": no certificate or crl found"));
}

Test(tls, encrypted_key_is_refused_without_prompting) {
  char enc[PATH_MAX];
  FILE *in = fopen(server_key, "r"), *out;
  EVP_PKEY *key;

  cr_assert_not_null(in);
  key = PEM_read_PrivateKey(in, NULL, NULL, NULL);
  fclose(in);
  cr_assert_not_null(key);
  cert_path(enc, "encrypted.key");
  out = fopen(enc, "w");
  cr_assert_not_null(out);
  cr_assert_eq(PEM_write_PrivateKey(out, key, EVP_aes_256_cbc(),
                                    (unsigned char *)"secret", 6, NULL, NULL),
               1);
  fclose(out);
  EVP_PKEY_free(key);
  assert_server_error(server_pem, enc, NULL,
                      joined("cannot read private key ", enc,
                             ": encrypted keys are not supported"));
}

Test(tls, mismatched_key) {
  char want[2 * PATH_MAX + 64];

  snprintf(want, sizeof(want), "private key %s does not match certificate %s",
           client_key, server_pem);
  assert_server_error(server_pem, client_key, NULL, want);
  snprintf(want, sizeof(want), "private key %s does not match certificate %s",
           server_key, client_pem);
  assert_client_error(ca_pem, client_pem, server_key, want);
}

Test(tls, client_cert_needs_key) {
  const char *want =
      "a client certificate needs a key, and a key a certificate";

  assert_client_error(ca_pem, client_pem, NULL, want);
  assert_client_error(ca_pem, NULL, client_key, want);
}

Test(tls, error_buffer_is_optional_and_cut) {
  char missing[PATH_MAX], err[16];
  crpc__tls_ctx *ctx = NULL;

  cert_path(missing, "missing.pem");
  cr_assert_eq(
      crpc__tls_ctx_new_server(missing, server_key, NULL, &ctx, NULL, 0),
      CRPC_EINVAL);
  cr_assert_eq(crpc__tls_ctx_new_server(missing, server_key, NULL, &ctx, err,
                                        sizeof(err)),
               CRPC_EINVAL);
  cr_assert_str_eq(err, "cannot read cer");
  cr_assert_null(ctx);
}

Test(tls, system_ca_paths_load) {
  char err[CRPC__TLS_ERR_MAX] = "";
  crpc__tls_ctx *ctx = NULL;

  cr_assert_eq(
      crpc__tls_ctx_new_client(NULL, NULL, NULL, &ctx, err, sizeof(err)), 0,
      "%s", err);
  crpc__tls_ctx_free(ctx);
}

/* --- Frames into records (runtime/h2io.c) --- */

/* The TLS records in |n| bytes at |p|, which must hold whole records. */
static size_t count_records(const uint8_t *p, size_t n) {
  size_t records = 0;
  while (n > 0) {
    cr_assert_geq(n, 5, "a partial record header");
    size_t len = ((size_t)p[3] << 8) | p[4];
    cr_assert_geq(n, 5 + len, "a partial record");
    p += 5 + len;
    n -= 5 + len;
    records++;
  }
  return records;
}

/* A data source of 10 bytes, then the trailers. */
static ssize_t ten_bytes(nghttp2_session *ng, int32_t stream_id, uint8_t *buf,
                         size_t length, uint32_t *flags,
                         nghttp2_data_source *source, void *user_data) {
  (void)source, (void)user_data;
  cr_assert_geq(length, 10);
  memset(buf, 'x', 10);
  *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
  const nghttp2_nv trailer = {(uint8_t *)"grpc-status", (uint8_t *)"0", 11, 1,
                              NGHTTP2_NV_FLAG_NONE};
  cr_assert_eq(nghttp2_submit_trailer(ng, stream_id, &trailer, 1), 0);
  return 10;
}

/* crpc's sessions watch the frames they send. */
static int sent(nghttp2_session *ng, const nghttp2_frame *frame,
                void *user_data) {
  (void)ng, (void)frame, (void)user_data;
  return 0;
}

static int answer(nghttp2_session *ng, const nghttp2_frame *frame,
                  void *user_data) {
  (void)user_data;
  if (frame->hd.type != NGHTTP2_HEADERS ||
      !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
    return 0;
  const nghttp2_nv nv[] = {
      {(uint8_t *)":status", (uint8_t *)"200", 7, 3, NGHTTP2_NV_FLAG_NONE},
      {(uint8_t *)"content-type", (uint8_t *)"application/grpc", 12, 16,
       NGHTTP2_NV_FLAG_NONE},
  };
  nghttp2_data_provider body = {.read_callback = ten_bytes};
  cr_assert_eq(nghttp2_submit_response(ng, frame->hd.stream_id, nv, 2, &body),
               0);
  return 0;
}

Test(tls, small_frames_share_one_record) {
  pair p;
  pair_open(&p, NULL, ca_pem, 0, "localhost");
  assert_up(&p);
  /* A client session asks ten questions of a server session, which
   * answers each with HEADERS, DATA and trailers, as a busy gRPC server
   * does. */
  nghttp2_session_callbacks *cbs;
  cr_assert_eq(nghttp2_session_callbacks_new(&cbs), 0);
  nghttp2_session *client, *server;
  cr_assert_eq(nghttp2_session_client_new(&client, cbs, NULL), 0);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, answer);
  nghttp2_session_callbacks_set_on_frame_send_callback(cbs, sent);
  cr_assert_eq(nghttp2_session_server_new(&server, cbs, NULL), 0);
  nghttp2_session_callbacks_del(cbs);
  cr_assert_eq(nghttp2_submit_settings(client, NGHTTP2_FLAG_NONE, NULL, 0), 0);
  const nghttp2_nv nv[] = {
      {(uint8_t *)":method", (uint8_t *)"POST", 7, 4, NGHTTP2_NV_FLAG_NONE},
      {(uint8_t *)":scheme", (uint8_t *)"https", 7, 5, NGHTTP2_NV_FLAG_NONE},
      {(uint8_t *)":path", (uint8_t *)"/a.B/C", 5, 6, NGHTTP2_NV_FLAG_NONE},
      {(uint8_t *)":authority", (uint8_t *)"localhost", 10, 9,
       NGHTTP2_NV_FLAG_NONE},
  };
  for (int i = 0; i < 10; i++)
    cr_assert_gt(nghttp2_submit_request(client, NULL, nv, 4, NULL, NULL), 0);
  for (;;) {
    const uint8_t *data;
    ssize_t n = nghttp2_session_mem_send(client, &data);
    cr_assert_geq(n, 0);
    if (n == 0)
      break;
    cr_assert_eq(nghttp2_session_mem_recv(server, data, (size_t)n), n);
  }
  crpc__h2io_out o;
  crpc__h2io_out_init(&o);
  cr_assert_eq(crpc__h2io_collect(server, p.server.conn, &o), 0);
  crpc__buf out = o.bytes;
  /* Well under 16 KiB of frames: one record (it was several). */
  size_t records = count_records(crpc__buf_data(&out), crpc__buf_len(&out));
  cr_assert_eq(records, 1, "%zu records", records);
  side_feed(&p.client, crpc__buf_data(&out), crpc__buf_len(&out));
  cr_assert_eq(p.client.rc, 0);
  cr_assert_eq(nghttp2_session_mem_recv(client, crpc__buf_data(&p.client.got),
                                        crpc__buf_len(&p.client.got)),
               (ssize_t)crpc__buf_len(&p.client.got));
  crpc__h2io_out_cleanup(&o);
  nghttp2_session_del(client);
  nghttp2_session_del(server);
  pair_free(&p);
}
