/*
 * server/metrics_http.h: the plain HTTP/1.1 endpoint that serves a
 * metrics page to Prometheus (GET /metrics), on one loop. It knows
 * nothing of what the page says: a callback renders it per request.
 */
#ifndef CRPC_METRICS_HTTP_H
#define CRPC_METRICS_HTTP_H

#include <stddef.h>

#include <uv.h>

#include "crpc/log.h"

typedef struct crpc__metrics_http crpc__metrics_http;

/* Bytes of a request head at most: past it the answer is 431 and the
 * connection closes. */
#define CRPC__METRICS_HTTP_HEAD_MAX 8192
/* Connections open at once at most; one more is closed as accepted. */
#define CRPC__METRICS_HTTP_MAX_CONNS 64
/* A connection with no request for this long is closed, and so is one
 * that takes this long to send a head or to take an answer. */
#define CRPC__METRICS_HTTP_IDLE_MS 120000
#define CRPC__METRICS_HTTP_HEAD_MS 10000
#define CRPC__METRICS_HTTP_WRITE_MS 30000
/* After an answer that closes the connection, what the peer still sends
 * is read and dropped, up to this long and this many bytes, so that the
 * close does not reset the answer away. */
#define CRPC__METRICS_HTTP_LINGER_MS 2000
#define CRPC__METRICS_HTTP_LINGER_BYTES (256u * 1024)

/* Renders the page into |*text| (malloc'd, the endpoint frees it) of
 * |*len| bytes. Returns 0 or an error (the answer is then 500). Thread:
 * the endpoint's loop. */
typedef int (*crpc__metrics_render_fn)(void *arg, char **text, size_t *len);

/*
 * Listens on |addr| ("host:port", "[v6]:port"; port 0: any) on |uv| and
 * answers GET (and HEAD) /metrics with the page |render(arg)| makes, as
 * text/plain; version=0.0.4: 404 for other paths, 405 for other methods,
 * 400 for heads it cannot parse, 431 for heads past
 * CRPC__METRICS_HTTP_HEAD_MAX. Keep-alive as HTTP/1.1 says (1.0: only when
 * asked); a request with a body is answered and its connection closed
 * (bodies are not read). One answer at a time per connection, so a
 * connection holds at most one page.
 * Ownership: |render|'s |arg| and |lg| are borrowed until the endpoint is
 * closed.
 * Thread: |uv|'s thread, or any before |uv| runs; everything after runs
 * there.
 * Returns 0, or CRPC_EINVAL, CRPC_ENOMEM or a libuv error with a one-line
 * reason in |err|; then |*out| is untouched and nothing is left but
 * perhaps a handle closing on |uv|, which frees itself.
 */
int crpc__metrics_http_open(uv_loop_t *uv, const char *addr,
                            crpc__metrics_render_fn render, void *arg,
                            const crpc_logger *lg, crpc__metrics_http **out,
                            char *err, size_t cap);

/* The bound TCP port. Thread: any. */
int crpc__metrics_http_port(const crpc__metrics_http *h);

/* The bound address as logged ("127.0.0.1:9464"). Borrowed from |h|. */
const char *crpc__metrics_http_address(const crpc__metrics_http *h);

/*
 * Stops listening and closes every connection. Returns how many handles
 * are still to close: each runs |closed(arg)| (when not NULL) once it
 * has. Calls after the first return 0. Thread: the endpoint's loop, or
 * any while it does not run.
 */
unsigned crpc__metrics_http_close(crpc__metrics_http *h,
                                  void (*closed)(void *arg), void *arg);

/* Frees |h|, closed and with every handle's close run. NULL is a no-op. */
void crpc__metrics_http_free(crpc__metrics_http *h);

#endif /* CRPC_METRICS_HTTP_H */
