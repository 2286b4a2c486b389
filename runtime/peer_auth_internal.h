/*
 * runtime/peer_auth_internal.h: a connection's crpc_peer_auth
 * (crpc/peer_auth.h): made from a TLS peer's certificate, kept in one
 * allocation, and the questions asked of it (does it carry one of these
 * names, how to name it in a message). No I/O: runtime/tls.c makes one
 * when a handshake completes.
 */
#ifndef CRPC_PEER_AUTH_INTERNAL_H
#define CRPC_PEER_AUTH_INTERNAL_H

#include <stddef.h>

#include "crpc/peer_auth.h"

struct x509_st; /* OpenSSL's X509 */

/* The peer auth of every plaintext connection: |tls| 0, nothing else. */
extern const crpc_peer_auth crpc__peer_auth_plaintext;

/* Room that always holds crpc__peer_auth_describe()'s text, NUL included;
 * longer texts are cut. */
#define CRPC__PEER_AUTH_DESCRIBE_MAX 512

/*
 * Makes the peer auth of a TLS connection that negotiated |version| and
 * |alpn| (NULL when none), whose peer presented |cert| (NULL when none);
 * |verified| says the certificate verified. Subject, common name and
 * subjectAltNames are read from |cert| only when it is non-NULL and
 * verified.
 * Ownership: |version| and |alpn| are borrowed and must outlive the
 * result (OpenSSL's static strings); |cert| is read during the call and
 * not kept. The caller frees the result with crpc__peer_auth_free().
 * Thread: any.
 * Returns 0, or CRPC_ENOMEM, and then |*out| is untouched.
 */
int crpc__peer_auth_new(const char *version, const char *alpn,
                        struct x509_st *cert, int verified,
                        crpc_peer_auth **out);

/* Frees |a| (made by crpc__peer_auth_new()). NULL is a no-op. */
void crpc__peer_auth_free(crpc_peer_auth *a);

/*
 * Nonzero when |a| has a verified certificate that carries one of the
 * |n| |names| as its common name or as a DNS or URI subjectAltName
 * ("api.example.com", "spiffe://example.com/x": without the kind). Names
 * compare byte for byte: no case folding, no wildcards.
 * Thread: any.
 */
int crpc__peer_auth_has_name(const crpc_peer_auth *a, const char *const *names,
                             size_t n);

/*
 * Writes what |a|'s certificate carries, for a message that names it:
 * "CN=client (DNS:a.example.com, URI:spiffe://example.com/x)", "CN=client"
 * without subjectAltNames, "subject O=x (DNS:a)" without a common name,
 * "no verified certificate" without one; NUL-terminated, cut to fit |dst|
 * (room for |cap| bytes, at least 1).
 * Thread: any.
 */
void crpc__peer_auth_describe(const crpc_peer_auth *a, char *dst, size_t cap);

#endif /* CRPC_PEER_AUTH_INTERNAL_H */
