/* runtime/tls.c: TLS over OpenSSL as bytes in, bytes out. */
#include "tls.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "buf.h"
#include "crpc/error.h"
#include "peer_auth_internal.h"

/* TLS 1.2 suites that HTTP/2 allows (RFC 7540, 9.2.2): ephemeral key
 * exchange and AEAD only. Every TLS 1.3 suite qualifies. Both lists are in
 * the order the server prefers (and the client offers): AES-128-GCM first,
 * as BoringSSL and Go order them, since it is as safe for a session and
 * cheaper than AES-256; both use the CPU's AES instructions. */
#define TLS12_CIPHERS                                                          \
  "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                 \
  "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                 \
  "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define TLS13_CIPHERS                                                          \
  "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"

/* ALPN wire form of the protocol list a client offers. */
static const unsigned char alpn_offer[] = {2, 'h', '2'};

/* Output memory kept once the caller has drained it; a larger allocation
 * is freed then, so idle connections stay small. */
#define OUT_KEEP_MAX (64 * 1024)

/* A failure message; longer ones are cut. */
#define MSG_MAX 256

struct crpc__tls_ctx {
  SSL_CTX *ssl_ctx;
  BIO_METHOD *bio_method; /* the memory BIO of every connection */
  int server;
};

struct crpc__tls_conn {
  SSL *ssl;
  const crpc__tls_ctx *ctx;
  /* Ciphertext lent by crpc__tls_conn_read() for the length of the call;
   * the BIO reads from here. */
  const uint8_t *in;
  size_t in_len;
  size_t in_used;
  crpc__buf out;        /* ciphertext waiting to be sent */
  crpc__buf *sink;      /* set: where records go instead (write_to) */
  int err;              /* what every call returns once failed; 0 until then */
  int out_failed;       /* the output could not grow: out of memory */
  char *msg;            /* why it failed; NULL until then */
  crpc_peer_auth *peer; /* made when the handshake completes */
  unsigned char handshake_done;
  unsigned char shut;        /* close_notify queued */
  unsigned char peer_closed; /* close_notify received */
};

/* --- OpenSSL's error queue as one-line reasons --- */

/* Copies the text of |errnum| into |dst|. glibc's strerror_r returns it
 * (GNU flavour); others fill the buffer (XSI flavour). */
static void sys_reason(int errnum, char *dst, size_t cap) {
  char tmp[128];
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
  snprintf(dst, cap, "%s", strerror_r(errnum, tmp, sizeof(tmp)));
#else
  if (strerror_r(errnum, tmp, sizeof(tmp)) != 0)
    snprintf(tmp, sizeof(tmp), "system error %d", errnum);
  snprintf(dst, cap, "%s", tmp);
#endif
}

/* Writes the reason of error |e| to |dst|; returns 0 when |e| says
 * nothing useful. OpenSSL 3's decoders report only "unsupported" when no
 * decoder recognized the data. */
static int describe(unsigned long e, char *dst, size_t cap) {
  const char *s;

  if (ERR_GET_LIB(e) == ERR_LIB_SYS) {
    sys_reason(ERR_GET_REASON(e), dst, cap);
    return 1;
  }
#ifdef ERR_LIB_OSSL_DECODER
  if (ERR_GET_LIB(e) == ERR_LIB_OSSL_DECODER)
    return 0;
#endif
  s = ERR_reason_error_string(e);
  if (s == NULL)
    return 0;
  snprintf(dst, cap, "%s", s);
  return 1;
}

/* Empties this thread's error queue, writing the reason of its earliest
 * described error (the root cause) to |dst|, or |fallback|. Returns that
 * error, or 0. */
static unsigned long take_reason(char *dst, size_t cap, const char *fallback) {
  unsigned long e, first = 0;

  while ((e = ERR_get_error()) != 0)
    if (first == 0 && describe(e, dst, cap))
      first = e;
  if (first == 0)
    snprintf(dst, cap, "%s", fallback);
  return first;
}

/* Formats a creation error into |err| and returns |rc|. */
static int ctx_error(char *err, size_t cap, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int ctx_error(char *err, size_t cap, int rc, const char *fmt, ...) {
  va_list ap;

  if (cap > 0) {
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
  }
  return rc;
}

/* --- The memory BIO: reads lent input, appends to the output --- */

static int bio_read(BIO *b, char *dst, int n) {
  crpc__tls_conn *c = BIO_get_data(b);
  size_t left = c->in_len - c->in_used;

  BIO_clear_retry_flags(b);
  if (left == 0 || n <= 0) {
    BIO_set_retry_read(b);
    return -1;
  }
  if (left > (size_t)n)
    left = (size_t)n;
  memcpy(dst, c->in + c->in_used, left);
  c->in_used += left;
  return (int)left;
}

static int bio_write(BIO *b, const char *src, int n) {
  crpc__tls_conn *c = BIO_get_data(b);

  BIO_clear_retry_flags(b);
  if (n <= 0)
    return 0;
  if (crpc__buf_append(c->sink ? c->sink : &c->out, src, (size_t)n) != 0) {
    c->out_failed = 1;
    return -1;
  }
  return n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
  crpc__tls_conn *c = BIO_get_data(b);

  (void)num;
  (void)ptr;
  switch (cmd) {
  case BIO_CTRL_FLUSH:
    return 1;
  case BIO_CTRL_PENDING:
    return (long)(c->in_len - c->in_used);
  case BIO_CTRL_WPENDING:
    return (long)crpc__buf_len(&c->out);
  default:
    return 0;
  }
}

static int bio_create(BIO *b) {
  BIO_set_init(b, 1);
  return 1;
}

/* The BIO type stays the generic source/sink one: nothing looks ours up
 * by type, and BIO_get_new_index() would use up a process-wide counter for
 * every context. */
static BIO_METHOD *bio_method_new(void) {
  BIO_METHOD *m = BIO_meth_new(BIO_TYPE_SOURCE_SINK, "crpc tls");

  if (m == NULL)
    return NULL;
  if (!BIO_meth_set_read(m, bio_read) || !BIO_meth_set_write(m, bio_write) ||
      !BIO_meth_set_ctrl(m, bio_ctrl) || !BIO_meth_set_create(m, bio_create)) {
    BIO_meth_free(m);
    return NULL;
  }
  return m;
}

/* --- Contexts --- */

/* Refuses every passphrase, so an encrypted key fails instead of OpenSSL
 * prompting on the terminal. Sets the flag at |user_data| when asked. */
static int no_password(char *buf, int size, int rwflag, void *user_data) {
  (void)buf;
  (void)size;
  (void)rwflag;
  if (user_data != NULL)
    *(int *)user_data = 1;
  return -1;
}

/* Selects "h2" from the client's offer, or fails the handshake with a
 * no_application_protocol alert. Not called when nothing is offered. */
static int alpn_select(SSL *ssl, const unsigned char **out,
                       unsigned char *out_len, const unsigned char *in,
                       unsigned int in_len, void *arg) {
  unsigned int i = 0;

  (void)ssl;
  (void)arg;
  while (i < in_len) {
    unsigned int len = in[i];
    if (len > in_len - i - 1)
      break;
    if (len == 2 && memcmp(in + i + 1, CRPC__TLS_ALPN, 2) == 0) {
      *out = in + i + 1;
      *out_len = 2;
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + len;
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static int ctx_new(int server, crpc__tls_ctx **out) {
  crpc__tls_ctx *ctx = calloc(1, sizeof(*ctx));
  SSL_CTX *s;

  if (ctx == NULL)
    return CRPC_ENOMEM;
  ctx->server = server;
  ctx->ssl_ctx = s =
      SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  ctx->bio_method = bio_method_new();
  if (s == NULL || ctx->bio_method == NULL)
    goto fail;
  if (!SSL_CTX_set_min_proto_version(s, TLS1_2_VERSION) ||
      !SSL_CTX_set_cipher_list(s, TLS12_CIPHERS) ||
      !SSL_CTX_set_ciphersuites(s, TLS13_CIPHERS))
    goto fail;
  SSL_CTX_set_options(s, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                             SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_default_passwd_cb(s, no_password);
  *out = ctx;
  return 0;
fail:
  crpc__tls_ctx_free(ctx);
  return CRPC_ENOMEM;
}

void crpc__tls_ctx_free(crpc__tls_ctx *ctx) {
  if (ctx == NULL)
    return;
  SSL_CTX_free(ctx->ssl_ctx);
  BIO_meth_free(ctx->bio_method);
  free(ctx);
}

static int load_cert(SSL_CTX *s, const char *file, char *err, size_t cap) {
  char why[160];

  if (SSL_CTX_use_certificate_chain_file(s, file) == 1)
    return 0;
  take_reason(why, sizeof(why), "no certificate found");
  return ctx_error(err, cap, CRPC_EINVAL, "cannot read certificate %s: %s",
                   file, why);
}

static EVP_PKEY *read_key(const char *file, char *err, size_t cap) {
  char why[160];
  int asked = 0;
  EVP_PKEY *key = NULL;
  BIO *b = BIO_new_file(file, "r");

  if (b != NULL)
    key = PEM_read_bio_PrivateKey(b, NULL, no_password, &asked);
  BIO_free(b);
  if (key != NULL)
    return key;
  take_reason(why, sizeof(why), "no PEM private key found");
  if (asked)
    snprintf(why, sizeof(why), "encrypted keys are not supported");
  ctx_error(err, cap, CRPC_EINVAL, "cannot read private key %s: %s", file, why);
  return NULL;
}

static int load_key(SSL_CTX *s, const char *key_file, const char *cert_file,
                    char *err, size_t cap) {
  char why[160];
  X509 *cert = SSL_CTX_get0_certificate(s);
  EVP_PKEY *key = read_key(key_file, err, cap);
  int rc = 0;

  if (key == NULL)
    return CRPC_EINVAL;
  if (cert == NULL || X509_check_private_key(cert, key) != 1) {
    ERR_clear_error();
    rc = ctx_error(err, cap, CRPC_EINVAL,
                   "private key %s does not match certificate %s", key_file,
                   cert_file);
  } else if (SSL_CTX_use_PrivateKey(s, key) != 1) {
    take_reason(why, sizeof(why), "unusable key");
    rc = ctx_error(err, cap, CRPC_EINVAL, "cannot use private key %s: %s",
                   key_file, why);
  }
  EVP_PKEY_free(key);
  return rc;
}

static int load_ca(SSL_CTX *s, const char *file, char *err, size_t cap) {
  char why[160];

  if (SSL_CTX_load_verify_locations(s, file, NULL) == 1)
    return 0;
  take_reason(why, sizeof(why), "no certificate found");
  return ctx_error(err, cap, CRPC_EINVAL, "cannot read CA file %s: %s", file,
                   why);
}

/* Asks clients for certificates issued by the CAs in |file| and refuses
 * the handshake without one. */
static int require_client_certs(SSL_CTX *s, const char *file, char *err,
                                size_t cap) {
  static const unsigned char sid_ctx[] = "crpc";
  STACK_OF(X509_NAME) * names;
  int rc = load_ca(s, file, err, cap);

  if (rc != 0)
    return rc;
  names = SSL_load_client_CA_file(file);
  ERR_clear_error();
  if (names == NULL)
    return ctx_error(err, cap, CRPC_EINVAL,
                     "cannot read CA file %s: no certificate found", file);
  SSL_CTX_set_client_CA_list(s, names);
  SSL_CTX_set_verify(s, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                     NULL);
  /* Resumed sessions carry the verified client; OpenSSL refuses to resume
   * them without a session id context. */
  if (!SSL_CTX_set_session_id_context(s, sid_ctx, sizeof(sid_ctx) - 1))
    return ctx_error(err, cap, CRPC_ENOMEM, "out of memory");
  return 0;
}

int crpc__tls_ctx_new_server(const char *cert_file, const char *key_file,
                             const char *client_ca_file, crpc__tls_ctx **out,
                             char *err, size_t err_cap) {
  crpc__tls_ctx *ctx = NULL;
  int rc;

  if (cert_file == NULL || key_file == NULL)
    return ctx_error(err, err_cap, CRPC_EINVAL,
                     "a TLS server needs a certificate and a key");
  ERR_clear_error();
  rc = ctx_new(1, &ctx);
  if (rc != 0) {
    ERR_clear_error();
    return ctx_error(err, err_cap, rc, "out of memory");
  }
  rc = load_cert(ctx->ssl_ctx, cert_file, err, err_cap);
  if (rc == 0)
    rc = load_key(ctx->ssl_ctx, key_file, cert_file, err, err_cap);
  if (rc == 0 && client_ca_file != NULL)
    rc = require_client_certs(ctx->ssl_ctx, client_ca_file, err, err_cap);
  if (rc != 0)
    goto fail;
  SSL_CTX_set_alpn_select_cb(ctx->ssl_ctx, alpn_select, NULL);
  /* Sessions resume through tickets only: no per-server session cache. */
  SSL_CTX_set_session_cache_mode(ctx->ssl_ctx, SSL_SESS_CACHE_OFF);
  *out = ctx;
  return 0;
fail:
  ERR_clear_error();
  crpc__tls_ctx_free(ctx);
  return rc;
}

int crpc__tls_ctx_new_client(const char *ca_file, const char *cert_file,
                             const char *key_file, crpc__tls_ctx **out,
                             char *err, size_t err_cap) {
  char why[160];
  crpc__tls_ctx *ctx = NULL;
  int rc;

  if ((cert_file == NULL) != (key_file == NULL))
    return ctx_error(err, err_cap, CRPC_EINVAL,
                     "a client certificate needs a key, and a key a "
                     "certificate");
  ERR_clear_error();
  rc = ctx_new(0, &ctx);
  if (rc != 0) {
    ERR_clear_error();
    return ctx_error(err, err_cap, rc, "out of memory");
  }
  if (ca_file != NULL) {
    rc = load_ca(ctx->ssl_ctx, ca_file, err, err_cap);
  } else if (SSL_CTX_set_default_verify_paths(ctx->ssl_ctx) != 1) {
    take_reason(why, sizeof(why), "unknown error");
    rc = ctx_error(err, err_cap, CRPC_EINVAL,
                   "cannot load the system's CA certificates: %s", why);
  }
  if (rc == 0 && cert_file != NULL)
    rc = load_cert(ctx->ssl_ctx, cert_file, err, err_cap);
  if (rc == 0 && cert_file != NULL)
    rc = load_key(ctx->ssl_ctx, key_file, cert_file, err, err_cap);
  if (rc != 0)
    goto fail;
  SSL_CTX_set_verify(ctx->ssl_ctx, SSL_VERIFY_PEER, NULL);
  /* Returns 0 on success, unlike the rest of OpenSSL. */
  if (SSL_CTX_set_alpn_protos(ctx->ssl_ctx, alpn_offer, sizeof(alpn_offer))) {
    rc = ctx_error(err, err_cap, CRPC_ENOMEM, "out of memory");
    goto fail;
  }
  *out = ctx;
  return 0;
fail:
  ERR_clear_error();
  crpc__tls_ctx_free(ctx);
  return rc;
}

/* --- Connections --- */

static int conn_new(const crpc__tls_ctx *ctx, crpc__tls_conn **out) {
  crpc__tls_conn *c = calloc(1, sizeof(*c));
  BIO *b;

  if (c == NULL)
    return CRPC_ENOMEM;
  c->ctx = ctx;
  crpc__buf_init(&c->out, SIZE_MAX);
  c->ssl = SSL_new(ctx->ssl_ctx);
  b = BIO_new(ctx->bio_method);
  if (c->ssl == NULL || b == NULL) {
    BIO_free(b);
    crpc__tls_conn_free(c);
    ERR_clear_error();
    return CRPC_ENOMEM;
  }
  BIO_set_data(b, c);
  SSL_set_bio(c->ssl, b, b); /* one reference serves both directions */
  *out = c;
  return 0;
}

int crpc__tls_conn_new_server(const crpc__tls_ctx *ctx, crpc__tls_conn **out) {
  crpc__tls_conn *c;
  int rc;

  if (!ctx->server)
    return CRPC_EINVAL;
  rc = conn_new(ctx, &c);
  if (rc != 0)
    return rc;
  SSL_set_accept_state(c->ssl);
  *out = c;
  return 0;
}

/* Points the verification of |ssl| at |name|: an IP address (brackets
 * allowed) or a DNS name, which is also sent as SNI. */
static int set_peer_name(SSL *ssl, const char *name) {
  char ip[64];
  size_t len = strlen(name);

  if (len == 0)
    return CRPC_EINVAL;
  if (name[0] == '[') {
    if (name[len - 1] != ']' || len - 2 >= sizeof(ip))
      return CRPC_EINVAL;
    memcpy(ip, name + 1, len - 2);
    ip[len - 2] = '\0';
    name = ip;
  }
  if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) == 1)
    return 0;
  ERR_clear_error();
  if (name == ip)
    return CRPC_EINVAL;
  if (!SSL_set_tlsext_host_name(ssl, name) || !SSL_set1_host(ssl, name)) {
    ERR_clear_error();
    return CRPC_EINVAL;
  }
  SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  return 0;
}

int crpc__tls_conn_new_client(const crpc__tls_ctx *ctx, const char *server_name,
                              const char *name_override, crpc__tls_conn **out) {
  const char *name = name_override != NULL ? name_override : server_name;
  crpc__tls_conn *c;
  int rc;

  if (ctx->server || name == NULL)
    return CRPC_EINVAL;
  rc = conn_new(ctx, &c);
  if (rc != 0)
    return rc;
  rc = set_peer_name(c->ssl, name);
  if (rc != 0) {
    crpc__tls_conn_free(c);
    return rc;
  }
  SSL_set_connect_state(c->ssl);
  *out = c;
  return 0;
}

void crpc__tls_conn_free(crpc__tls_conn *c) {
  if (c == NULL)
    return;
  SSL_free(c->ssl); /* and the BIO with it */
  crpc__buf_cleanup(&c->out);
  free(c->msg);
  crpc__peer_auth_free(c->peer);
  free(c);
}

/* Fails |c| with |rc| and a message, unless it has failed already; returns
 * the error it keeps. */
static int fail(crpc__tls_conn *c, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(crpc__tls_conn *c, int rc, const char *fmt, ...) {
  char msg[MSG_MAX];
  va_list ap;

  if (c->err != 0)
    return c->err;
  c->err = rc;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  c->msg = strdup(msg); /* NULL leaves a generic message */
  return rc;
}

/* Fails |c| from OpenSSL's error queue after a call failed. */
static int fail_ssl(crpc__tls_conn *c) {
  const char *stage =
      c->handshake_done ? "TLS connection failed" : "TLS handshake failed";
  char why[160];
  unsigned long e;
  long verify;

  if (c->out_failed) {
    ERR_clear_error();
    return fail(c, CRPC_ENOMEM, "%s: out of memory", stage);
  }
  e = take_reason(why, sizeof(why), "protocol error");
  verify = SSL_get_verify_result(c->ssl);
  if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
      ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED && verify != 0)
    return fail(c, CRPC_EPROTO, "%s: %s (%s)", stage, why,
                X509_verify_cert_error_string(verify));
  return fail(c, CRPC_EPROTO, "%s: %s", stage, why);
}

/* Sorts out an OpenSSL call on |c| that returned |ret| <= 0: 0 when it
 * only needs more input, else the error |c| now keeps. */
static int ssl_status(crpc__tls_conn *c, int ret) {
  switch (SSL_get_error(c->ssl, ret)) {
  case SSL_ERROR_WANT_READ:
    return 0;
  case SSL_ERROR_ZERO_RETURN:
    c->peer_closed = 1;
    return CRPC_ECLOSED;
  default:
    return fail_ssl(c);
  }
}

static int alpn_is_h2(const crpc__tls_conn *c) {
  const unsigned char *p;
  unsigned int len;

  SSL_get0_alpn_selected(c->ssl, &p, &len);
  return len == 2 && memcmp(p, CRPC__TLS_ALPN, 2) == 0;
}

/* Who the peer is, once: what it negotiated and its certificate, which
 * on a resumed session is the one the session was made with. */
static int peer_auth_make(crpc__tls_conn *c) {
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
  X509 *cert = SSL_get0_peer_certificate(c->ssl);
#else
  X509 *cert = SSL_get_peer_certificate(c->ssl);
#endif
  int verified = cert != NULL && SSL_get_verify_result(c->ssl) == X509_V_OK;
  int rc = crpc__peer_auth_new(SSL_get_version(c->ssl),
                               alpn_is_h2(c) ? CRPC__TLS_ALPN : NULL, cert,
                               verified, &c->peer);
#if OPENSSL_VERSION_NUMBER < 0x30000000L
  X509_free(cert);
#endif
  return rc;
}

/* Notices the end of the handshake, where a client also insists on h2. */
static int check_handshake(crpc__tls_conn *c) {
  if (c->handshake_done || !SSL_is_init_finished(c->ssl))
    return 0;
  if (!c->ctx->server && !alpn_is_h2(c))
    return fail(c, CRPC_EPROTO,
                "TLS handshake failed: the server did not select ALPN h2");
  if (peer_auth_make(c) != 0)
    return fail(c, CRPC_ENOMEM, "TLS handshake failed: out of memory");
  c->handshake_done = 1;
  return 0;
}

int crpc__tls_conn_handshake(crpc__tls_conn *c) {
  int ret, rc;

  if (c->err != 0)
    return c->err;
  if (c->handshake_done)
    return 0;
  ERR_clear_error();
  ret = SSL_do_handshake(c->ssl);
  rc = check_handshake(c);
  if (rc != 0 || ret == 1)
    return rc;
  return ssl_status(c, ret);
}

int crpc__tls_conn_read(crpc__tls_conn *c, const uint8_t *in, size_t in_len,
                        size_t *in_used, uint8_t *out, size_t out_cap,
                        size_t *out_len) {
  size_t total = 0, n = 0;
  int ret, rc = 0;

  *in_used = 0;
  *out_len = 0;
  if (out_cap == 0)
    return CRPC_EINVAL;
  if (c->err != 0)
    return c->err;
  if (c->peer_closed)
    return CRPC_ECLOSED;
  c->in = in;
  c->in_len = in_len;
  c->in_used = 0;
  while (total < out_cap) {
    ERR_clear_error();
    ret = SSL_read_ex(c->ssl, out + total, out_cap - total, &n);
    rc = check_handshake(c);
    if (rc != 0)
      break;
    if (ret != 1) {
      rc = ssl_status(c, ret);
      break;
    }
    total += n;
  }
  *in_used = c->in_used;
  c->in = NULL;
  c->in_len = 0;
  c->in_used = 0;
  /* Plaintext already decrypted goes out first; a failure or the peer's
   * close_notify stays recorded for the next call. */
  if (rc != 0 && total == 0)
    return rc;
  *out_len = total;
  return 0;
}

int crpc__tls_conn_write(crpc__tls_conn *c, const void *p, size_t n) {
  size_t written = 0;
  int ret;

  if (c->err != 0)
    return c->err;
  if (c->shut)
    return CRPC_ECLOSED;
  if (!c->handshake_done)
    return CRPC_ESTATE;
  if (n == 0)
    return 0;
  ERR_clear_error();
  ret = SSL_write_ex(c->ssl, p, n, &written);
  if (ret == 1)
    return 0;
  /* The output never refuses bytes, so no retry is ever asked for. */
  return fail_ssl(c);
}

int crpc__tls_conn_write_to(crpc__tls_conn *c, const void *p, size_t n,
                            crpc__buf *out) {
  assert(crpc__buf_len(&c->out) == 0);
  c->sink = out;
  int rc = crpc__tls_conn_write(c, p, n);
  c->sink = NULL;
  return rc;
}

int crpc__tls_conn_shutdown(crpc__tls_conn *c) {
  if (c->err != 0 || !c->handshake_done)
    return CRPC_ESTATE;
  if (c->shut)
    return 0;
  ERR_clear_error();
  /* Returns 0 when close_notify went out and the peer's has not come, 1
   * when it has; either is success here. */
  if (SSL_shutdown(c->ssl) < 0)
    return fail_ssl(c);
  c->shut = 1;
  return 0;
}

size_t crpc__tls_conn_pending(const crpc__tls_conn *c) {
  return crpc__buf_len(&c->out);
}

const uint8_t *crpc__tls_conn_peek(const crpc__tls_conn *c, size_t *len) {
  *len = crpc__buf_len(&c->out);
  return *len == 0 ? NULL : crpc__buf_data(&c->out);
}

void crpc__tls_conn_consume(crpc__tls_conn *c, size_t n) {
  crpc__buf_consume(&c->out, n);
  /* Emptied, the whole allocation is room. */
  if (crpc__buf_len(&c->out) == 0 && crpc__buf_room(&c->out) > OUT_KEEP_MAX)
    crpc__buf_cleanup(&c->out);
}

uint8_t *crpc__tls_conn_take(crpc__tls_conn *c, size_t *len) {
  return crpc__buf_detach(&c->out, len);
}

int crpc__tls_conn_handshake_done(const crpc__tls_conn *c) {
  return c->handshake_done;
}

const char *crpc__tls_conn_alpn(const crpc__tls_conn *c) {
  return c->handshake_done && alpn_is_h2(c) ? CRPC__TLS_ALPN : NULL;
}

const char *crpc__tls_conn_version(const crpc__tls_conn *c) {
  return SSL_get_version(c->ssl);
}

const crpc_peer_auth *crpc__tls_conn_peer_auth(const crpc__tls_conn *c) {
  return c->handshake_done ? c->peer : NULL;
}

crpc_peer_auth *crpc__tls_conn_take_peer_auth(crpc__tls_conn *c) {
  crpc_peer_auth *a = c->handshake_done ? c->peer : NULL;

  if (a != NULL)
    c->peer = NULL;
  return a;
}

const char *crpc__tls_conn_error(const crpc__tls_conn *c) {
  if (c->err == 0)
    return "";
  return c->msg != NULL ? c->msg : "TLS connection failed";
}
