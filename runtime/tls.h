/*
 * runtime/tls.h: TLS over OpenSSL as bytes in, bytes out. The transport
 * does the socket I/O; a connection here only turns ciphertext received
 * into plaintext and plaintext to send into ciphertext, and drives the
 * handshake on the way.
 *
 * A context holds what every connection of one listener or one channel
 * shares: certificates, keys, trusted CAs, TLS 1.2 as the minimum version,
 * ALPN "h2". A server selects "h2" when the client offers it, fails the
 * handshake with a no_application_protocol alert when the client offers
 * ALPN without "h2", and accepts a client that offers no ALPN at all. A
 * client offers "h2" and fails when the server does not select it.
 * Servers resume sessions through stateless tickets and keep no session
 * cache.
 *
 * Reading: crpc__tls_conn_read() takes the ciphertext the transport read,
 * borrowed for the call, and writes plaintext into the caller's buffer, so
 * bytes are copied only where OpenSSL needs them (into its record buffer,
 * and decrypted out of it). Nothing is kept from the caller's buffer but
 * the partial record OpenSSL holds.
 *
 * Writing: crpc__tls_conn_write() encrypts plaintext and appends the
 * records to the connection's output, which the transport sends from
 * crpc__tls_conn_peek()/crpc__tls_conn_consume() or takes whole with
 * crpc__tls_conn_take(); crpc__tls_conn_write_to() appends them to the
 * caller's buffer instead, once the connection's own output is empty.
 * Reading may queue output too (handshake messages, alerts, session
 * tickets): after every read, send what is pending.
 *
 * Bounding memory: the output grows by what is written to it, so the
 * caller bounds it. Before each write it checks crpc__tls_conn_pending()
 * against its own limit and, when above, waits for the socket to drain the
 * output (an nghttp2 send callback returns NGHTTP2_ERR_WOULDBLOCK). A write
 * of |n| bytes adds |n| plus about 30 bytes per 16 KiB record. While
 * the output is above its limit the caller also stops reading from the
 * socket, since reading may answer the peer (key updates, alerts). The
 * input side holds at most one partial record inside OpenSSL.
 */
#ifndef CRPC_TLS_H
#define CRPC_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "peer_auth_internal.h"

/* The one ALPN protocol crpc speaks. */
#define CRPC__TLS_ALPN "h2"

/* Room that always holds a creation error message, NUL included. */
#define CRPC__TLS_ERR_MAX 512

/* What every connection of a listener or a channel shares; immutable once
 * made, so connections on any thread may use it at once. */
typedef struct crpc__tls_ctx crpc__tls_ctx;

/* One TLS connection, server or client side. */
typedef struct crpc__tls_conn crpc__tls_conn;

/*
 * Creates a server context from the PEM certificate chain |cert_file| (the
 * server's certificate first) and the PEM private key |key_file|, which must
 * match it and must not be encrypted. With |client_ca_file| non-NULL, every
 * client must present a certificate that the PEM CAs in that file verify
 * (mTLS); otherwise no client certificate is asked for.
 * Ownership: the paths are read during the call and not kept; the caller
 * frees the context with crpc__tls_ctx_free().
 * Thread: any.
 * Returns 0, or one of these, and then |*out| is untouched and |err| (room
 * for |err_cap| bytes; NULL when |err_cap| is 0) holds a one-line message
 * naming the file and the reason, such as "cannot read certificate
 * /x/y.pem: No such file or directory" (CRPC__TLS_ERR_MAX always suffices):
 *   CRPC_EINVAL  a file cannot be read, holds no usable PEM data, or the
 *                key does not match the certificate.
 *   CRPC_ENOMEM  out of memory.
 */
int crpc__tls_ctx_new_server(const char *cert_file, const char *key_file,
                             const char *client_ca_file, crpc__tls_ctx **out,
                             char *err, size_t err_cap);

/*
 * Creates a client context. Servers are verified against the PEM CAs in
 * |ca_file|, or, when it is NULL, against the system's default CA paths.
 * With |cert_file| and |key_file| (both or neither) the client presents
 * that PEM certificate chain and unencrypted key when a server asks (mTLS).
 * Ownership, thread, returns and |err|: as crpc__tls_ctx_new_server();
 * CRPC_EINVAL also when only one of |cert_file| and |key_file| is given.
 */
int crpc__tls_ctx_new_client(const char *ca_file, const char *cert_file,
                             const char *key_file, crpc__tls_ctx **out,
                             char *err, size_t err_cap);

/*
 * Frees |ctx|. NULL is a no-op.
 * Thread: any, once no connection made from |ctx| remains.
 */
void crpc__tls_ctx_free(crpc__tls_ctx *ctx);

/*
 * Creates the server side of a connection accepted by a listener of |ctx|.
 * Ownership: |ctx| is borrowed and must outlive the connection; the caller
 * frees the connection with crpc__tls_conn_free().
 * Thread: any; afterwards the connection is used by one thread at a time
 * (its loop thread).
 * Returns 0, or CRPC_EINVAL (|ctx| is a client context) or CRPC_ENOMEM,
 * and then |*out| is untouched.
 */
int crpc__tls_conn_new_server(const crpc__tls_ctx *ctx, crpc__tls_conn **out);

/*
 * Creates the client side of a connection to |server_name|, a DNS name or
 * an IP address ("::1" or "[::1]"). |name_override|, when non-NULL,
 * replaces |server_name| (as gRPC's ssl_target_name_override does). The
 * name is sent as SNI unless it is an IP address, and the server's
 * certificate must match it (subjectAltName DNS or IP entry). Call
 * crpc__tls_conn_handshake() next to queue the ClientHello.
 * Ownership: the names are copied; |ctx| is borrowed and must outlive the
 * connection; the caller frees the connection with crpc__tls_conn_free().
 * Thread: as crpc__tls_conn_new_server().
 * Returns 0, or CRPC_EINVAL (|ctx| is a server context, or no name) or
 * CRPC_ENOMEM, and then |*out| is untouched.
 */
int crpc__tls_conn_new_client(const crpc__tls_ctx *ctx, const char *server_name,
                              const char *name_override, crpc__tls_conn **out);

/*
 * Frees |c| at once: no close_notify is sent (crpc__tls_conn_shutdown()
 * queues one) and pending output is dropped. NULL is a no-op.
 * Thread: the connection's.
 */
void crpc__tls_conn_free(crpc__tls_conn *c);

/*
 * Starts or advances the handshake with no new input: a client calls it
 * once after creation to queue its ClientHello; a server need not (reading
 * drives its handshake). Does nothing once the handshake is done.
 * Thread: the connection's.
 * Returns 0, or the error crpc__tls_conn_read() would.
 */
int crpc__tls_conn_handshake(crpc__tls_conn *c);

/*
 * Takes ciphertext from the |in_len| bytes at |in| and writes the
 * plaintext it yields to |out| (room for |out_cap| bytes, at least 1),
 * driving the handshake first. Sets |*in_used| to the bytes of |in| used
 * and |*out_len| to the plaintext bytes written. Plaintext only ever comes
 * once the handshake is done. Afterwards send what crpc__tls_conn_pending()
 * reports: reading may queue handshake messages and alerts.
 *
 * Call it again, with the rest of |in| (possibly none), while it returns
 * 0 with plaintext: one call stops when |out| is full, and a failure or
 * the peer's close_notify that follows plaintext is reported by the next
 * call. A call that returns 0 with no plaintext has used all of |in|, and
 * the connection then needs more from the peer.
 *
 * Ownership: |in| is borrowed for the call only.
 * Thread: the connection's.
 * Returns 0, or one of these, and then |*out_len| is 0:
 *   CRPC_ECLOSED  the peer sent close_notify: it sends nothing more
 *                 (writing still works; crpc__tls_conn_shutdown()
 *                 answers with a close_notify).
 *   CRPC_EPROTO   the connection failed (handshake, certificate
 *                 verification, ALPN, a bad record, an alert from the
 *                 peer); crpc__tls_conn_error() says why, and the output
 *                 may hold an alert to send before closing the socket.
 *   CRPC_ENOMEM   out of memory; the connection failed.
 *   CRPC_EINVAL   |out_cap| is 0.
 * Once failed, every call returns the same error.
 */
int crpc__tls_conn_read(crpc__tls_conn *c, const uint8_t *in, size_t in_len,
                        size_t *in_used, uint8_t *out, size_t out_cap,
                        size_t *out_len);

/*
 * Encrypts all |n| bytes at |p| and appends them to the output as TLS
 * records. Check crpc__tls_conn_pending() before writing: see "Bounding
 * memory" at the top of this file.
 * Ownership: |p| is borrowed for the call.
 * Thread: the connection's.
 * Returns 0, or one of these:
 *   CRPC_ESTATE   the handshake is not done yet; nothing was written.
 *   CRPC_ECLOSED  crpc__tls_conn_shutdown() was called; nothing was
 *                 written.
 *   CRPC_EPROTO   the connection has failed (before or now).
 *   CRPC_ENOMEM   out of memory; the connection failed.
 */
int crpc__tls_conn_write(crpc__tls_conn *c, const void *p, size_t n);

/*
 * As crpc__tls_conn_write(), but the records go straight to the end of
 * |out| instead of the connection's own output (which must be empty: send
 * or take it first), saving a copy of the ciphertext.
 * Ownership: |p| and |out| are borrowed for the call.
 * Thread: the connection's.
 */
int crpc__tls_conn_write_to(crpc__tls_conn *c, const void *p, size_t n,
                            crpc__buf *out);

/*
 * Queues a close_notify alert, after which nothing more can be written.
 * Reading still works, so the peer's close_notify can be seen (as
 * CRPC_ECLOSED). Send the output, then close the socket.
 * Thread: the connection's.
 * Returns 0 (also when already shut down), or one of these, and then
 * nothing was queued:
 *   CRPC_ESTATE  the handshake is not done, or the connection had failed:
 *                just close the socket.
 *   CRPC_EPROTO  the connection fails now (crpc__tls_conn_error()).
 *   CRPC_ENOMEM  out of memory; the connection failed.
 */
int crpc__tls_conn_shutdown(crpc__tls_conn *c);

/* Bytes of ciphertext waiting to be sent. Thread: the connection's. */
size_t crpc__tls_conn_pending(const crpc__tls_conn *c);

/*
 * Returns the ciphertext waiting to be sent, contiguous, and sets |*len| to
 * crpc__tls_conn_pending() (NULL and 0 when none). The pointer stays valid
 * until the next call on |c| other than crpc__tls_conn_pending() and the
 * queries below, so a caller writing it asynchronously consumes it at
 * once and copies, or uses crpc__tls_conn_take().
 * Thread: the connection's.
 */
const uint8_t *crpc__tls_conn_peek(const crpc__tls_conn *c, size_t *len);

/*
 * Drops the first |n| bytes of the output, sent by the caller; |n| must not
 * exceed crpc__tls_conn_pending(). Thread: the connection's.
 */
void crpc__tls_conn_consume(crpc__tls_conn *c, size_t n);

/*
 * Hands all the ciphertext waiting to be sent to the caller, without a
 * copy, and leaves the output empty; sets |*len| to its length.
 * Ownership: the caller frees the result with free() (after uv_write()
 * completes, for instance).
 * Thread: the connection's.
 * Returns NULL (and sets |*len| to 0) when nothing is pending.
 */
uint8_t *crpc__tls_conn_take(crpc__tls_conn *c, size_t *len);

/* Nonzero once the handshake has completed (and, on a client, the server
 * selected ALPN "h2"). Thread: the connection's. */
int crpc__tls_conn_handshake_done(const crpc__tls_conn *c);

/*
 * The negotiated ALPN protocol: "h2" (static), or NULL before the
 * handshake is done or when the client offered no ALPN (the only other
 * outcome a server allows). Thread: the connection's.
 */
const char *crpc__tls_conn_alpn(const crpc__tls_conn *c);

/* The negotiated protocol version, "TLSv1.2" or "TLSv1.3" (static), for
 * logs. Thread: the connection's. */
const char *crpc__tls_conn_version(const crpc__tls_conn *c);

/*
 * Who the peer is (crpc/peer_auth.h): the version and ALPN protocol
 * negotiated, and the subject and subjectAltNames of its certificate when
 * it presented one that verified. Made once, when the handshake
 * completes; a resumed session has the certificate it was made with.
 * Ownership: borrowed from |c|, valid until |c| is freed or the auth is
 * taken with crpc__tls_conn_take_peer_auth().
 * Thread: the connection's.
 * Returns NULL before the handshake is done, and once taken.
 */
const crpc_peer_auth *crpc__tls_conn_peer_auth(const crpc__tls_conn *c);

/*
 * Hands the peer auth of |c| over to the caller, who frees it with
 * crpc__peer_auth_free(); crpc__tls_conn_peer_auth() returns NULL from
 * then on. The pointer is the one crpc__tls_conn_peer_auth() returned.
 * Thread: the connection's.
 * Returns NULL before the handshake is done, and once taken.
 */
crpc_peer_auth *crpc__tls_conn_take_peer_auth(crpc__tls_conn *c);

/*
 * The one-line reason the connection failed, such as "TLS handshake
 * failed: certificate verify failed (hostname mismatch)", or "" while it
 * has not. Valid until |c| is freed. Thread: the connection's.
 */
const char *crpc__tls_conn_error(const crpc__tls_conn *c);

#endif /* CRPC_TLS_H */
