/*
 * runtime/grpc_headers.h: gRPC over HTTP/2's rules for headers and
 * trailers (PROTOCOL-HTTP2.md), as pure functions: what a request or a
 * response says, what it must say, and the final status a client draws
 * from it. No I/O and no nghttp2 session: server/ and client/ feed them
 * the header fields nghttp2 delivers and submit the lists they build.
 *
 * Thread: any, on objects the caller owns.
 */
#ifndef CRPC_GRPC_HEADERS_H
#define CRPC_GRPC_HEADERS_H

#include <stddef.h>
#include <stdint.h>

#include "compress.h"
#include "crpc/deadline.h"
#include "crpc/metadata.h"
#include "crpc/status.h"
#include "nvlist.h"

/* Bytes of header fields read by default (name + value + 32 each, as
 * HTTP/2 counts them): a server's for a request unless its
 * max_header_list_bytes says otherwise, a client's for a response's
 * headers and for its trailers; the same as the
 * SETTINGS_MAX_HEADER_LIST_SIZE each side announces. */
#define CRPC__GRPC_MAX_HEADER_LIST (16 * 1024)

/* The content-type of gRPC: "application/grpc", alone or followed by "+"
 * (a subtype such as +proto) or ";" (parameters). Returns 1 or 0. */
int crpc__grpc_content_type_ok(const uint8_t *v, size_t n);

/* A grpc-status value: one or two ASCII digits. Codes above 16 become
 * UNKNOWN. Returns 0 and sets |*out|, or -1 for anything else. */
int crpc__grpc_status_parse(const uint8_t *v, size_t n, crpc_status *out);

/* An HTTP :status value: exactly three ASCII digits. Returns it, or 0. */
int crpc__grpc_http_status_parse(const uint8_t *v, size_t n);

/* The gRPC code for an HTTP status a response carried without a
 * grpc-status (gRPC's http-grpc-status-mapping.md). */
crpc_status crpc__grpc_status_from_http(int http_status);

/* The gRPC code for a stream the peer reset with HTTP/2 |error_code|
 * (PROTOCOL-HTTP2.md, "Errors"). */
crpc_status crpc__grpc_status_from_rst(uint32_t error_code);

/* Whether |name| is reserved to gRPC ("grpc-" prefix): never metadata. */
int crpc__grpc_reserved(const uint8_t *name, size_t n);

/* What a server reads from a request's header block. */
typedef struct crpc__grpc_request {
  size_t bytes;     /* counted as HTTP/2 does */
  size_t max_bytes; /* read no further; init: CRPC__GRPC_MAX_HEADER_LIST */
  int saw_method;
  int method_post;
  char *path; /* NUL-terminated, in |arena|; NULL until :path came */
  int content_type_ok;
  int has_timeout;
  int64_t timeout_ns;
  crpc__encoding enc;   /* of the request messages */
  unsigned accept_mask; /* encodings the client takes (CRPC__ENCODING_BIT) */
  crpc_metadata md;     /* the application's metadata */
  size_t dropped;       /* metadata entries refused as malformed */
  int traceparent;      /* |md| holds a traceparent (W3C trace context) */
  /* The first gRPC-level problem, answered as a status, or OK. */
  crpc_status status;
  const char *error;  /* static text for |status| */
  crpc__arena *arena; /* borrowed: where |path| goes */
} crpc__grpc_request;

/* Starts an empty request whose text goes into |a|, which must outlive
 * the use of |path| (a server call's own arena). */
void crpc__grpc_request_init(crpc__grpc_request *r, crpc__arena *a);
/* Frees the metadata and empties |r| for another request into the same
 * arena; |path|'s memory stays the arena's. */
void crpc__grpc_request_cleanup(crpc__grpc_request *r);

/*
 * Takes one header field of a request. Never fails: what is wrong is
 * recorded in |r| for crpc__grpc_request_verdict(). Returns 1 when the
 * field was metadata the rules refused (dropped), else 0.
 */
int crpc__grpc_request_header(crpc__grpc_request *r, const uint8_t *name,
                              size_t nlen, const uint8_t *value, size_t vlen);

/*
 * Decides a request whose header block is complete. Returns 0 when it is
 * a gRPC call to serve; else an HTTP status (405 not POST, 415 not gRPC's
 * content-type) to answer outside gRPC, or -1 and sets |*code| and |*msg|
 * (static) to a gRPC status to answer at once (a missing :path, a
 * malformed grpc-timeout, an unsupported grpc-encoding). Headers beyond
 * |r->max_bytes| are RESOURCE_EXHAUSTED whatever else they
 * said, since the fields after the limit were not read.
 */
int crpc__grpc_request_verdict(const crpc__grpc_request *r, crpc_status *code,
                               const char **msg);

/* What a client reads from a response's header blocks. */
typedef struct crpc__grpc_response {
  int http_status; /* 0 until :status came */
  int content_type_ok;
  crpc__encoding enc; /* of the response messages */
  int bad_encoding;   /* grpc-encoding names one crpc cannot decode */
  int saw_headers;    /* the first header block is complete */
  int trailers_only;  /* it ended the stream: it was the trailers */
  int saw_status;     /* grpc-status came */
  crpc_status code;
  char *message; /* grpc-message, decoded; malloc'd or NULL */
  uint8_t *details;
  size_t details_len; /* grpc-status-details-bin, decoded; malloc'd */
  crpc_metadata headers, trailers;
  size_t bytes[2]; /* of the headers and of the trailers, as HTTP/2 counts */
} crpc__grpc_response;

void crpc__grpc_response_init(crpc__grpc_response *r);
void crpc__grpc_response_cleanup(crpc__grpc_response *r);
/* Forgets everything, for another attempt of the same call. */
void crpc__grpc_response_reset(crpc__grpc_response *r);

/* Takes one field of the headers (|trailers| 0) or trailers block.
 * Returns 0, or 1 when the block has gone past
 * CRPC__GRPC_MAX_HEADER_LIST: the field is dropped, and the caller stops
 * reading the block (a hostile server's HPACK bomb). */
int crpc__grpc_response_header(crpc__grpc_response *r, int trailers,
                               const uint8_t *name, size_t nlen,
                               const uint8_t *value, size_t vlen);

/*
 * The first header block is complete; |end_stream| says it ended the
 * stream (a trailers-only response: what came is the trailers). Returns 1
 * when the response is gRPC and its headers reach the caller (HTTP 200,
 * gRPC's content-type, not trailers-only), else 0.
 */
int crpc__grpc_response_headers_done(crpc__grpc_response *r, int end_stream);

/*
 * The final status of a stream that closed with HTTP/2 |rst_error|
 * (NGHTTP2_NO_ERROR when it ended normally); |mid_message| says it ended
 * inside a response message. An OK status becomes INTERNAL when the
 * response was cut or its encoding is one crpc cannot decode; an error
 * status stays what the server said. Sets |*msg| to the status message: the
 * grpc-message, or text written into |why| (|cap| bytes).
 */
crpc_status crpc__grpc_response_status(const crpc__grpc_response *r,
                                       uint32_t rst_error, int mid_message,
                                       char *why, size_t cap, const char **msg);

/* Appends a request's header fields: the pseudo-headers, gRPC's fixed
 * ones, grpc-encoding unless identity, grpc-timeout for a finite
 * |deadline|, then |md|. */
void crpc__grpc_request_headers(crpc__nvlist *l, int tls, const char *path,
                                const char *authority, const char *user_agent,
                                crpc__encoding enc, crpc_deadline deadline,
                                const crpc_metadata *md);

/* Appends a response's leading header fields (:status 200, content-type,
 * grpc-accept-encoding, then grpc-encoding unless identity). */
void crpc__grpc_response_headers(crpc__nvlist *l, crpc__encoding enc);

/*
 * Appends the status fields of the trailers: grpc-status, grpc-message
 * (percent-encoded) when |message| is not empty, grpc-status-details-bin
 * (base64) when |details| is set and |code| is not OK.
 */
void crpc__grpc_trailers(crpc__nvlist *l, crpc_status code, const char *message,
                         const uint8_t *details, size_t details_len);

/* Appends the fields of a refusal outside gRPC: HTTP |http_status|,
 * text/plain, and grpc-status INTERNAL with |message| for gRPC clients
 * that read it anyway. */
void crpc__grpc_http_error(crpc__nvlist *l, int http_status,
                           const char *message);

#endif /* CRPC_GRPC_HEADERS_H */
