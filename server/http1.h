/*
 * server/http1.h: the head of an HTTP/1.x request (RFC 9112), as much as
 * the metrics endpoint needs: method, path, version, whether the
 * connection stays open, whether a body follows. Bytes in, a verdict
 * out; no I/O.
 */
#ifndef CRPC_HTTP1_H
#define CRPC_HTTP1_H

#include <stddef.h>
#include <sys/types.h>

typedef struct crpc__http1_request {
  const char *method; /* into the parsed bytes, not NUL-terminated */
  size_t method_len;
  const char *path; /* the request target without its query */
  size_t path_len;
  int minor;      /* HTTP/1.<minor>: 0 or 1 */
  int keep_alive; /* the connection may carry another request after it */
  int has_body;   /* Content-Length above 0, or a Transfer-Encoding */
} crpc__http1_request;

/*
 * Parses the request head at the start of the |n| bytes at |p|: empty
 * lines before it are skipped, lines may end in CRLF or LF, header names
 * are matched without regard to case. |out|'s pointers point into |p|.
 * Thread: any.
 * Returns the bytes of the head up to and including its blank line (the
 * next request, or the body, starts there), or:
 *   0   the head is not whole yet: more bytes are needed.
 *   -1  it is malformed (a bad request line, a header line without a
 *       colon, a bad Content-Length, an HTTP version other than 1.0 or
 *       1.1): answer 400 and close.
 */
ssize_t crpc__http1_parse(const char *p, size_t n, crpc__http1_request *out);

#endif /* CRPC_HTTP1_H */
