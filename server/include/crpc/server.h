/*
 * crpc/server.h: the gRPC server, its services, and loadable modules.
 */
#ifndef CRPC_SERVER_H
#define CRPC_SERVER_H

#include "crpc/ctx.h"
#include "crpc/future.h"
#include "crpc/interceptor.h"
#include "crpc/log.h"
#include "crpc/method.h"
#include "crpc/metrics.h"
#include "crpc/pool.h"

CRPC_BEGIN_DECLS

/* A service ready to serve: a generated descriptor, the user's handler
 * table, and user data. */
typedef struct crpc_service crpc_service;

/*
 * Creates a service. The generated <service>_service() constructors call
 * this; applications rarely do.
 * Ownership: |desc| and |handlers| are borrowed and must outlive the
 * service (they are normally static); |user_data| is passed to handlers.
 * Thread: any. Returns 0, or CRPC_EINVAL / CRPC_ENOMEM, and then |*out|
 * is untouched.
 */
CRPC_EXTERN int crpc_service_new(const crpc_service_desc *desc,
                                 const void *handlers, void *user_data,
                                 crpc_service **out);

/* Frees a service not handed to a server. NULL is a no-op. Thread: any. */
CRPC_EXTERN void crpc_service_free(crpc_service *svc);

/*
 * Overrides where the method |name| runs, whatever the .proto says.
 * Thread: any, before the service is added to a server. Returns 0, or
 * CRPC_ENOTFOUND for an unknown method.
 */
CRPC_EXTERN int crpc_service_set_placement(crpc_service *svc, const char *name,
                                           crpc_placement placement);

/*
 * Adds |ic| (copied; what its |data| points to stays the caller's and must
 * outlive the service) to the interceptors of every call of |svc|'s
 * methods, after the server's own (crpc/interceptor.h).
 * Thread: any, before the service is added to a server. Returns 0, or
 * CRPC_EINVAL (NULL) or CRPC_ENOMEM.
 */
CRPC_EXTERN int crpc_service_add_interceptor(crpc_service *svc,
                                             const crpc_interceptor *ic);

typedef struct crpc_server crpc_server;

/* The form of the access log (crpc_server_opts.access_log). */
typedef enum {
  CRPC_ACCESS_LOG_OFF = 0,
  /* key=value pairs: "2026-12-04T07:31:02.123Z peer=ipv4:127.0.0.1:40312
   * method=/demo.Greeter/SayHello status=OK duration_ms=0.412 bytes_in=17
   * bytes_out=25 messages_in=1 messages_out=1 placement=worker" (and
   * message="..." for a failed call, trace_id= and span_id= for a traced
   * one) */
  CRPC_ACCESS_LOG_TEXT = 1,
  /* one JSON object per line, with the same fields, "code" the number and
   * "status" the name */
  CRPC_ACCESS_LOG_JSON = 2
} crpc_access_log_format;

typedef struct crpc_server_opts {
  unsigned loops;           /* I/O loop threads; 0: the number of CPUs */
  unsigned workers;         /* worker handlers running at once; 0: CPUs */
  size_t worker_queue_max;  /* 0: 4096 */
  size_t max_receive_bytes; /* 0: 4 MiB */
  size_t max_send_bytes;    /* 0: 4 MiB */
  uint32_t max_concurrent_streams; /* per connection; 0: 100 */
  uint32_t drain_ms;               /* graceful shutdown deadline; 0: 5000 */
  /* Time a new connection has to finish its TLS handshake and send its
   * HTTP/2 preface before it is closed; 0: 10000. */
  uint32_t handshake_timeout_ms;
  crpc_logger logger;
  /* Worker threads at most. A worker handler that waits inside crpc (a
   * stream read or write, a blocking stub, a future) gives its thread's
   * place to another, started when none is idle, up to this many
   * (crpc/pool.h); 0: workers + 64. */
  unsigned max_workers;
  /* Calls of one connection on the worker pool at once (running, waiting
   * or queued); the connection's further worker calls wait, in order, for
   * one of them to end, so no connection holds more than this share of the
   * workers. 0: max_workers / 2. */
  unsigned max_worker_calls_per_connection;
  /* A call whose handler waits to read or to write while its stream makes
   * no progress (no message received, nothing sent: the peer sends
   * nothing, or keeps its flow-control window at zero) for this long is
   * cancelled: the handler sees CANCELLED, the peer RST_STREAM(CANCEL).
   * 0: 300000 (5 minutes). */
  uint32_t stall_timeout_ms;
  /* A loop thread busy this long without returning to poll (a coroutine
   * handler that blocks or spins) is reported at warning level while it
   * lasts, naming the method that runs, and again when it ends; 0: 100. */
  uint32_t loop_stall_ms;
  /* Run on the application's loop instead of |loops| threads of the
   * server's own: a crpc_loop made on the application's uv_loop_t with
   * crpc_loop_new(uv, ...) (borrowed; it must outlive the server). Its
   * connections and coroutine handlers run there; worker handlers still
   * run on the pool (crpc_run_blocking() uses the crpc_loop's own pool, if
   * it was given one). Every server function is then called on that
   * loop's thread, and crpc_server_free() returns at once: the server
   * drains and frees itself on the loop, which the application keeps
   * running (uv_run() returns once the server is gone). NULL: own loops. */
  crpc_loop *loop;
  /* A connection with no call open for this long is sent GOAWAY
   * (NO_ERROR) and closed, as gRPC's max_connection_idle does; a client
   * connects again when it next calls. It bounds what idle connections
   * hold. Checked by the loop's sweep, so it acts up to a quarter of the
   * shortest of this, the handshake and the stall timeouts late. 0:
   * never. */
  uint32_t idle_timeout_ms;
  /* Connections open at once, over all loops; one accepted past this is
   * closed at once (a client backs off and tries again), so that
   * thousands of idle or slow connections cannot take the server's
   * memory. 0: no limit. */
  unsigned max_connections;
  /* Bytes of a request's header fields read (name + value + 32 each, as
   * HTTP/2 counts them), announced as SETTINGS_MAX_HEADER_LIST_SIZE; past
   * it the rest of the header block is skipped and the call is answered
   * RESOURCE_EXHAUSTED or reset, so that a small block naming a large
   * field thousands of times (an HPACK bomb) costs no more than this.
   * 0: 16384. */
  uint32_t max_header_list_bytes;
  /* Frames that ask nothing of the server (empty DATA without END_STREAM,
   * PRIORITY, SETTINGS, frames of unknown types, PINGs with no request
   * data since the last one) a connection may send: a burst of
   * |idle_frames_burst|, refilled at |idle_frames_per_second|; past it the
   * connection ends with GOAWAY ENHANCE_YOUR_CALM. gRPC clients send a
   * few (SETTINGS, keepalive PINGs). 0: 1000 and 100. */
  uint32_t idle_frames_burst;
  uint32_t idle_frames_per_second;
  /* Bytes of response messages one connection may hold that its client
   * has not taken yet (a client that asks for large answers and reads
   * nothing, keeping its flow-control window shut). Past it, the
   * connection's handlers about to start wait until it drains to half, so
   * that such a client holds a bounded amount of the server's memory;
   * calls already running go on. 0: 16 MiB, or twice max_send_bytes if
   * that is more. */
  size_t max_send_buffer_bytes;
  /* While every worker is taken and calls wait for one, calls on the
   * workers that wait on their client (for a message, for room to write,
   * or, not started yet, for a first message) this long are cancelled
   * like stall_timeout_ms's, so that clients which open calls and send
   * nothing cannot keep the workers from everyone else. 0: 1000. */
  uint32_t pressure_stall_ms;
  /* Access log: one line per finished call of the server's methods (when
   * its handler has returned and its stream is closed): time, peer,
   * method, status, duration, bytes and messages each way, placement, and
   * the trace it is part of. Written by an interceptor (crpc/
   * interceptor.h) that runs before the server's others (after the
   * metrics' alone, see metrics_listen), so that it sees every call they
   * refuse. The lines go to |access_logger| when its fn is set
   * (bare lines, without the level prefix crpc_log_stderr adds: for log
   * pipelines), else to |logger|, at |access_log_level| (with
   * |access_log_level_set|; else CRPC_LOG_INFO). Off by default. */
  crpc_access_log_format access_log;
  crpc_log_level access_log_level;
  int access_log_level_set;
  crpc_logger access_logger;
  /* Serves the server's metrics (crpc_server_metrics_text()) in
   * Prometheus's text format at http://ADDR/metrics, plain HTTP/1.1 on
   * the first loop: "127.0.0.1:9464", "[::1]:9464", "0.0.0.0:9464", port
   * 0 for any free one (crpc_server_metrics_port()). The server then makes
   * its registry (crpc_server_metrics()) and puts its interceptor first on
   * every call. The listener opens at crpc_server_start(), which fails
   * with the reason in crpc_server_error() when it cannot. Copied. NULL:
   * no endpoint, and no metrics unless crpc_server_metrics() asks for
   * them. */
  const char *metrics_listen;
  /* Busy polling of the server's own loops (crpc_loop_opts.busy_poll_us):
   * after a turn that read a request, a loop keeps polling without
   * sleeping for up to this many microseconds. Lower latency, and cheaper
   * sends for clients that send one request at a time, for up to one CPU
   * per loop spent polling while traffic is steady. Not applied to
   * |loop|. 0 (the default): never. */
  uint32_t busy_poll_us;
  /* Gathering under load by the server's own loops (crpc_loop_opts.
   * gather_us): a loop kept busy by requests that arrive faster than it
   * turns sleeps this many microseconds between its writes and its next
   * poll, and then reads, handles and answers what gathered together:
   * several times less CPU per call for the server, and cheaper sends for
   * its clients. A loop that finds nothing blocks as before. Not applied
   * to |loop|, nor while busy polling. 0: 20; at most 1000;
   * CRPC_GATHER_OFF: never. */
  uint32_t gather_us;
  /* The lame-duck period of crpc_server_shutdown(): for this long health
   * reports NOT_SERVING while the listeners keep accepting and calls are
   * served as before, so that load balancers which health-check over a
   * kept-open connection, and endpoints that have not yet learnt the
   * server is going, move away without a refusal; then GOAWAY, the
   * listeners close and the drain runs. A second crpc_server_shutdown()
   * ends the period at once. 0 (the default): none. */
  uint32_t lame_duck_ms;
  /* A connection open this long (give or take 10 %, so that connections
   * made together do not all go at once) is sent GOAWAY: its client
   * opens a new one for further calls, which a load balancer may place
   * elsewhere, as gRPC's max_connection_age does. Calls in flight on it
   * get |max_connection_age_grace_ms| more (0: as long as they take);
   * then the connection is closed and they end UNAVAILABLE. 0 (the
   * default): no limit. */
  uint32_t max_connection_age_ms;
  uint32_t max_connection_age_grace_ms;
  /* Keepalive, the server's side: a connection the client has sent
   * nothing on for |keepalive_time_ms| is sent a PING, and closed when no
   * answer comes within |keepalive_timeout_ms| (0: 20000), so that clients
   * gone without a word (a host that vanished, a NAT that forgot the
   * flow) do not hold connections forever. 0 (the default): no PINGs. */
  uint32_t keepalive_time_ms;
  uint32_t keepalive_timeout_ms;
  /* What the server lets clients ping, as gRPC's keepalive enforcement:
   * a PING that comes sooner than |min_ping_interval_ms| after the
   * previous one, with no HEADERS or DATA sent or received in between,
   * is a strike (while no call is open and |permit_keepalive_without_calls|
   * is 0, sooner than two hours is); the third strike ends the connection
   * with GOAWAY ENHANCE_YOUR_CALM and "too_many_pings". 0: 300000 (five
   * minutes, gRPC's default); UINT32_MAX: no limit. */
  uint32_t min_ping_interval_ms;
  int permit_keepalive_without_calls;
  /* HTTP/2 flow control, what the server lets a client send ahead: each
   * call's request stream (announced as SETTINGS_INITIAL_WINDOW_SIZE) and
   * a connection's calls together. A stream's window is given back as its
   * handler reads (and held while more than 1 MiB of its messages wait
   * unread), the connection's as data arrives. A stream window below a
   * request's size makes its client wait for a WINDOW_UPDATE in
   * mid-message. 0: 4 MiB and 16 MiB; at most 2^31 - 1 (HTTP/2's
   * largest). */
  uint32_t stream_window_bytes;
  uint32_t connection_window_bytes;
  /* Memory of large messages each loop keeps for the calls after them:
   * request messages of 16 KiB or more, from their arrival until their
   * handler has read them, up to this many bytes, and, up to as many
   * again, the reply buffers and unpacked requests of the finished calls
   * it keeps for reuse. What the last
   * second's busiest moment did not need goes back to malloc. Given back
   * at once, glibc returns it to the kernel whenever a free leaves 128 KiB
   * at the top of a thread's heap, and the next message faults it in
   * again: 4 x 8 calls of 1 MiB ran at 0.46-1.54k a second from one run
   * to the next (median 1.15k) with 32 MiB kept, 0.93-1.52k (median
   * 1.34k) with 128 MiB. 0: 128 MiB; CRPC_MESSAGE_CACHE_OFF: none. */
  size_t message_cache_bytes;
} crpc_server_opts;

/* Fills |opts| with the defaults. Thread: any. */
CRPC_EXTERN void crpc_server_opts_init(crpc_server_opts *opts);

/* Creates a stopped server. |opts| is copied (its strings too); NULL
 * means the defaults. Thread: any. Returns 0 or CRPC_ENOMEM; then |*out|
 * is untouched. */
CRPC_EXTERN int crpc_server_new(const crpc_server_opts *opts,
                                crpc_server **out);

/*
 * Adds |svc|; the server takes ownership, also on failure.
 * Thread: any, before crpc_server_start(). Returns 0, or CRPC_EALREADY
 * for a service name already added, or CRPC_ESTATE once started.
 */
CRPC_EXTERN int crpc_server_add_service(crpc_server *srv, crpc_service *svc);

typedef struct crpc_tls_opts {
  const char *cert_file;      /* PEM certificate chain */
  const char *key_file;       /* PEM private key */
  const char *client_ca_file; /* non-NULL: require and verify client certs */
  /*
   * With |n_client_names| > 0 (which needs |client_ca_file|): the names a
   * client certificate must carry one of, as its common name or as a DNS
   * or URI subjectAltName ("api.example.com", "spiffe://example.com/x"),
   * compared byte for byte. A call on a connection whose certificate
   * carries none of them is answered PERMISSION_DENIED, naming what the
   * certificate carried ("client certificate CN=x (DNS:a, DNS:b) is not
   * allowed"), before any handler runs; each such connection is logged
   * once at warning level. 0: any certificate the CAs verify will do.
   */
  const char *const *client_names;
  size_t n_client_names;
} crpc_tls_opts;

/*
 * Listens on |addr|: "127.0.0.1:50051", "[::1]:50051", "0.0.0.0:0" (any
 * port; see crpc_server_port()) or "unix:/path". With |tls| non-NULL the
 * address speaks TLS with ALPN h2, else cleartext HTTP/2.
 * Ownership: |tls|, its files and its client names are read or copied
 * during the call and not kept.
 * Thread: any, before crpc_server_start(). Returns 0, or CRPC_EINVAL (also
 * for client names without a client CA file, or an empty or NULL name),
 * an OpenSSL-backed CRPC_EINVAL for unreadable certificates, CRPC_ENOMEM,
 * CRPC_ESTATE once started, or a libuv error (UV_EADDRINUSE, ...);
 * crpc_server_error() says why.
 */
CRPC_EXTERN int crpc_server_listen(crpc_server *srv, const char *addr,
                                   const crpc_tls_opts *tls);

/*
 * Adds |ic| (copied; what its |data| points to stays the caller's and must
 * outlive the server) to the interceptors of every call the server
 * handles, its health service's too, after those added before it and
 * before any service's own (crpc/interceptor.h).
 * Thread: any, before crpc_server_start(). Returns 0, or CRPC_EINVAL
 * (NULL), CRPC_ENOMEM, or CRPC_ESTATE once started.
 */
CRPC_EXTERN int crpc_server_add_interceptor(crpc_server *srv,
                                            const crpc_interceptor *ic);

/*
 * A one-line description of the last failure of crpc_server_listen(),
 * crpc_server_add_service() or crpc_server_start() ("cannot read
 * certificate /etc/x.pem: No such file or directory"), or "". Borrowed
 * from |srv|. Thread: the one configuring the server.
 */
CRPC_EXTERN const char *crpc_server_error(const crpc_server *srv);

/* The TCP port of the |index|-th listen address, or -1. Thread: any. */
CRPC_EXTERN int crpc_server_port(const crpc_server *srv, size_t index);

/* Starts the loops and workers and begins accepting. Thread: any.
 * Returns 0, or CRPC_ESTATE, or a libuv error. */
CRPC_EXTERN int crpc_server_start(crpc_server *srv);

/*
 * Graceful shutdown: health turns NOT_SERVING; after the lame-duck period
 * (lame_duck_ms), if any, during which the server goes on accepting and
 * serving, sends GOAWAY, stops accepting, lets calls in flight finish for
 * up to the drain deadline, then cancels the rest. A second call ends the
 * lame-duck period at once. The future (one reference, the caller's)
 * completes once every connection is closed. Thread: any.
 */
CRPC_EXTERN crpc_future *crpc_server_shutdown(crpc_server *srv);

/* Shuts down (waiting for it) if needed and frees. NULL is a no-op. A
 * lame-duck period still running ends at once: the drain begins.
 * Thread: any but the server's own threads. */
CRPC_EXTERN void crpc_server_free(crpc_server *srv);

/*
 * Serves gRPC server reflection, grpc.reflection.v1.ServerReflection and
 * its older name grpc.reflection.v1alpha.ServerReflection, so that grpcurl,
 * buf curl, grpcui, Postman and other tools list and call the server's
 * services without being given their .proto files. It answers from what
 * protoc-gen-crpc generated: each service's .proto file and everything it
 * imports (protobuf's well-known types, crpc/options.proto), and the
 * health and reflection services' own. The methods run on the loop.
 * crpc-server serves it unless given --no-reflection.
 * Thread: the one configuring the server, before crpc_server_start().
 * Returns 0 (also when already on), CRPC_ESTATE once started, or
 * CRPC_ENOMEM.
 */
CRPC_EXTERN int crpc_server_enable_reflection(crpc_server *srv);

/* A method the server serves, as crpc_server_methods() lists it. */
typedef struct crpc_server_method_info {
  const crpc_service_desc *service;
  const crpc_method *method;
  crpc_placement placement; /* where it runs, crpc_service_set_placement()
                               applied */
  int implemented;          /* the handler table has a function for it */
  int builtin;              /* a service of crpc's own (health, reflection) */
} crpc_server_method_info;

/*
 * Lists the methods of every service of |srv|: the added services in the
 * order they were added, then the built-in ones, each service's methods
 * in .proto order. Fills |out| with the first |cap| (|out| may be NULL
 * when |cap| is 0) and returns how many there are in all.
 * Thread: the one configuring the server, or any once it has started.
 */
CRPC_EXTERN size_t crpc_server_methods(const crpc_server *srv,
                                       crpc_server_method_info *out,
                                       size_t cap);

/* What the server is doing and has done, read at one moment. */
typedef struct crpc_server_stats {
  crpc_pool_stats workers;      /* the worker pool (crpc/pool.h) */
  uint64_t loop_stalls;         /* loops seen busy past loop_stall_ms */
  uint64_t stalled_calls;       /* calls cancelled by stall_timeout_ms */
  uint64_t held_calls;          /* worker calls that waited for their
                                   connection's share */
  uint64_t connections;         /* open now */
  uint64_t refused_connections; /* closed at accept: max_connections */
  uint64_t parked_calls;        /* calls that waited to start while their
                                   connection's output was past
                                   max_send_buffer_bytes */
  uint64_t streams;             /* HTTP/2 streams (calls) open now */
  uint64_t bytes_received;      /* read from every connection's socket, */
  uint64_t bytes_sent;          /* and written to it: TLS included */
} crpc_server_stats;

/* Fills |out|. Thread: any. */
CRPC_EXTERN void crpc_server_stats_get(crpc_server *srv,
                                       crpc_server_stats *out);

/*
 * The server's metrics registry (crpc/metrics.h), whose interceptor runs
 * first on every call the server handles: the one made for
 * opts.metrics_listen, else one made now when the server has not started
 * (an application that reads the page through crpc_server_metrics_text()
 * without an endpoint). An application may put its interceptor on its
 * channels too (crpc_metrics_interceptor()), to have their calls as
 * grpc_client_* on the same page; they must be freed before the server.
 * Ownership: the server's; it lives until crpc_server_free().
 * Thread: the one configuring the server before crpc_server_start(); any
 * after. Returns NULL when memory ran out, or when the server started
 * without metrics (none can be installed then).
 */
CRPC_EXTERN crpc_metrics *crpc_server_metrics(crpc_server *srv);

/*
 * Writes the server's metrics page, as GET /metrics on metrics_listen
 * answers it, in Prometheus's text format (version 0.0.4): the
 * registry's grpc_server_* and grpc_client_* families, when the server
 * has one, then the server's own, read at that moment:
 *
 *   crpc_server_connections                  gauge: connections open
 *   crpc_server_streams                      gauge: HTTP/2 streams open
 *   crpc_server_worker_threads               gauge: worker threads alive
 *   crpc_server_worker_threads_running       gauge: running a handler
 *   crpc_server_worker_threads_blocked       gauge: of those, waiting
 *                                            inside crpc
 *   crpc_server_worker_threads_idle          gauge: waiting for work
 *   crpc_server_worker_queue_length          gauge: calls waiting for a
 *                                            worker
 *   crpc_server_worker_compensations_total   counter: threads started
 *                                            beyond |workers|
 *   crpc_server_loop_stalls_total            counter: loops seen busy past
 *                                            loop_stall_ms
 *   crpc_server_stalled_calls_total          counter: calls cancelled by
 *                                            the stall timeouts
 *   crpc_server_held_calls_total             counter: worker calls that
 *                                            waited for their connection's
 *                                            share
 *   crpc_server_parked_calls_total           counter: calls that waited
 *                                            for their connection's output
 *   crpc_server_refused_connections_total    counter: closed at accept
 *                                            (max_connections)
 *   crpc_server_received_bytes_total         counter: read from sockets
 *   crpc_server_sent_bytes_total             counter: written to sockets
 *   crpc_server_rejected_calls_total{reason} counter: calls the server
 *                                            refused or cut short, by
 *                                            reason (docs/guide.md lists
 *                                            them)
 *
 * Ownership: |*text| is NUL-terminated, |*len| bytes without the NUL; the
 * caller frees it with free().
 * Thread: any. Returns 0, or CRPC_ENOMEM or CRPC_ETOOBIG (64 MiB), and
 * then |*text| and |*len| are untouched.
 */
CRPC_EXTERN int crpc_server_metrics_text(crpc_server *srv, char **text,
                                         size_t *len);

/* The TCP port of the metrics endpoint (opts.metrics_listen) once the
 * server has started, or -1. Thread: any. */
CRPC_EXTERN int crpc_server_metrics_port(const crpc_server *srv);

/*
 * Health (grpc.health.v1.Health): sets |service|'s status, "" being the
 * whole server. Thread: any.
 */
typedef enum {
  CRPC_HEALTH_UNKNOWN = 0,
  CRPC_HEALTH_SERVING = 1,
  CRPC_HEALTH_NOT_SERVING = 2
} crpc_health_status;
CRPC_EXTERN int crpc_server_set_health(crpc_server *srv, const char *service,
                                       crpc_health_status status);

/*
 * Modules: a shared object that crpc-server --module loads exports one
 * function, crpc_module_init_v1, which adds its services. The generated
 * <SERVICE>_MODULE(handlers, user_data) macro writes it for one service;
 * CRPC_MODULE(fn) exports any function of this type. The init returns 0,
 * or anything else to refuse to start (crpc-server then prints the
 * message of crpc_module_set_error(), or names the code, and exits 2).
 *
 * The crpc_module handle lives as long as the server: a module may keep it
 * (for crpc_module_server(), say) until its CRPC_MODULE_STOPPED hook.
 */
typedef struct crpc_module crpc_module;
typedef int (*crpc_module_init_fn)(crpc_module *m);

#define CRPC_MODULE_INIT_SYMBOL "crpc_module_init_v1"

/* Adds |svc| (ownership moves, also on failure). Returns 0, CRPC_ENOMEM
 * when |svc| is NULL (a generated constructor that ran out of memory), or
 * an error of crpc_server_add_service(). Thread: the loader's, inside the
 * init. */
CRPC_EXTERN int crpc_module_add_service(crpc_module *m, crpc_service *svc);

/*
 * The module's settings: each `--module-arg KEY=VALUE` that follows the
 * module's --module on crpc-server's command line, in order.
 * crpc_module_arg() returns the value of the last one named |key|, or NULL
 * when there is none ("" for "KEY="). crpc_module_arg_at() gives the
 * |i|-th as |*key| and |*value| and returns 0, or CRPC_ENOTFOUND when |i|
 * is past the end. The strings belong to the module handle (see above).
 * Thread: any.
 */
CRPC_EXTERN const char *crpc_module_arg(const crpc_module *m, const char *key);
CRPC_EXTERN size_t crpc_module_arg_count(const crpc_module *m);
CRPC_EXTERN int crpc_module_arg_at(const crpc_module *m, size_t i,
                                   const char **key, const char **value);

/* The path the module was loaded from, as given (borrowed). Thread: any. */
CRPC_EXTERN const char *crpc_module_path(const crpc_module *m);

/* The server the module is loaded into: for crpc_server_set_health() on
 * its services, at init or later from any thread until the module's
 * CRPC_MODULE_STOPPED hook. Thread: any. */
CRPC_EXTERN crpc_server *crpc_module_server(crpc_module *m);

/* Adds |ic| to the server's interceptors, as crpc_server_add_interceptor()
 * does: a module's interceptors see the calls of every module's services.
 * |ic->data| must stay valid until the module's CRPC_MODULE_STOPPED hook.
 * Thread: the loader's, inside the init. Returns as
 * crpc_server_add_interceptor(). */
CRPC_EXTERN int crpc_module_add_interceptor(crpc_module *m,
                                            const crpc_interceptor *ic);

/* Says why the init is about to fail, for crpc-server's error line
 * ("module ./x.so: crpc_module_init_v1 failed: <message>"). |message| is
 * copied. Returns 0 or CRPC_ENOMEM. Thread: the loader's, inside the
 * init. */
CRPC_EXTERN int crpc_module_set_error(crpc_module *m, const char *message);

typedef enum {
  /* Shutdown began: health already reports NOT_SERVING, and calls go on
   * through the lame-duck period (lame_duck_ms) if there is one, then get
   * the drain time; the server still runs. Stop what feeds new work
   * (timers, subscriptions). Runs on the thread that called
   * crpc_server_shutdown() (crpc-server's main thread). */
  CRPC_MODULE_DRAINING = 1,
  /* The server has stopped: no handler runs and none will. Free what the
   * handlers used (channels, files, threads). Runs on the thread that
   * called crpc_server_free(). */
  CRPC_MODULE_STOPPED = 2
} crpc_module_event;

typedef void (*crpc_module_hook)(crpc_module *m, crpc_module_event event,
                                 void *user_data);

/*
 * Registers |fn| to run with |user_data| at each crpc_module_event, once
 * each, replacing an earlier hook of this module. Modules' hooks run in
 * the order the modules were loaded. A server that never started skips
 * CRPC_MODULE_DRAINING; CRPC_MODULE_STOPPED runs for every module whose
 * init was called, also one whose init failed after registering it.
 * Thread: the loader's, inside the init. Returns 0, or CRPC_EINVAL for a
 * NULL |fn|.
 */
CRPC_EXTERN int crpc_module_on_shutdown(crpc_module *m, crpc_module_hook fn,
                                        void *user_data);

/* The entry point keeps C linkage when the module is written in C++. */
#ifdef __cplusplus
#define CRPC_MODULE_LINKAGE extern "C"
#else
#define CRPC_MODULE_LINKAGE
#endif

#define CRPC_MODULE(init_fn)                                                   \
  CRPC_MODULE_LINKAGE CRPC_EXTERN int crpc_module_init_v1(crpc_module *m);     \
  CRPC_MODULE_LINKAGE CRPC_EXTERN int crpc_module_init_v1(crpc_module *m) {    \
    return init_fn(m);                                                         \
  }

CRPC_END_DECLS

#endif /* CRPC_SERVER_H */
