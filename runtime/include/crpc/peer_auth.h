/*
 * crpc/peer_auth.h: who the peer of a connection is, as its TLS handshake
 * established it.
 *
 * A connection's peer auth is worked out once, when its TLS handshake
 * completes, and does not change afterwards: it describes the connection,
 * not a call. A server handler reads it with crpc_ctx_peer_auth()
 * (crpc/ctx.h). Every string is NUL-terminated and borrowed from the
 * connection; none holds a NUL of its own (a certificate name with an
 * embedded NUL is left out rather than cut short).
 */
#ifndef CRPC_PEER_AUTH_H
#define CRPC_PEER_AUTH_H

#include "crpc/common.h"

CRPC_BEGIN_DECLS

/*
 * A connection's TLS identity. Plaintext connections (cleartext HTTP/2,
 * unix sockets) have one too, with |tls| 0 and every other field 0 or
 * NULL. Read the fields, never write them.
 */
typedef struct crpc_peer_auth {
  /* Nonzero: the connection is TLS. */
  int tls;
  /* The negotiated protocol version, "TLSv1.2" or "TLSv1.3"; NULL without
   * TLS. */
  const char *tls_version;
  /* The negotiated ALPN protocol, "h2"; NULL without TLS, or when the
   * client offered no ALPN (a server accepts that). */
  const char *alpn;
  /* Nonzero: the peer presented a certificate and it verified against the
   * trusted CAs (on a server, its client CA file). Only then are the
   * fields below set. */
  int verified;
  /* The certificate's subject, one line in RFC 2253 form, most specific
   * part first, characters outside ASCII escaped:
   * "CN=client,O=crpc tests". NULL without a verified certificate. */
  const char *subject;
  /* The subject's common name (the last CN when there are several), in
   * UTF-8; NULL when the subject has none. */
  const char *common_name;
  /* The certificate's subjectAltName entries, in certificate order, each
   * with its kind: "DNS:api.example.com", "URI:spiffe://example.com/x",
   * "IP:127.0.0.1", "IP:::1", "email:a@example.com". Other kinds
   * (directory names, other names, registered IDs) are left out. NULL when
   * |n_sans| is 0. */
  const char *const *sans;
  size_t n_sans;
} crpc_peer_auth;

CRPC_END_DECLS

#endif /* CRPC_PEER_AUTH_H */
