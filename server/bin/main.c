/*
 * server/bin/main.c: crpc-server, which serves the services of modules.
 *
 *   crpc-server --listen 127.0.0.1:50051 --module ./libgreeter.so
 *
 * Exit status: 0 after a graceful shutdown on SIGTERM or SIGINT; 2 when it
 * cannot start (bad flags, a module that does not load or adds no service,
 * an address or certificate crpc_server_listen() refuses, no threads); 1
 * when a second signal cuts the drain short.
 *
 * Signals: SIGINT and SIGTERM are blocked before anything starts a thread,
 * so every server thread inherits the mask, and main() takes them with
 * sigwait(): no handler runs, and the shutdown happens on main's thread.
 * SIGPIPE is ignored: a peer that closes its socket while a reply is being
 * written must not end the process.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <crpc/error.h>
#include <crpc/future.h>
#include <crpc/log.h>
#include <crpc/server.h>

#include "module.h"

#define EXIT_STARTUP 2 /* bad flags, modules, addresses or certificates */

static const char usage_line[] =
    "usage: crpc-server --listen ADDR [--listen ADDR...] --module PATH.so "
    "[--module-arg KEY=VALUE...] [--module ...] "
    "[--tls-cert F --tls-key F [--tls-client-ca F [--tls-client-name "
    "NAME...]]] "
    "[--loops N] [--workers N] [--max-message-bytes N] [--drain-seconds N] "
    "[--log-level L] [--worker-queue N] [--handshake-timeout-ms N] "
    "[--max-workers N] [--max-worker-calls-per-connection N] "
    "[--max-concurrent-streams N] [--stall-timeout-ms N] "
    "[--loop-stall-ms N] [--idle-timeout-ms N] [--max-connections N] "
    "[--max-header-list-bytes N] [--idle-frames-burst N] "
    "[--idle-frames-per-second N] [--max-send-buffer-bytes N] "
    "[--pressure-stall-ms N] [--access-log FORMAT] [--access-log-level L] "
    "[--metrics-listen ADDR] [--busy-poll-us N] [--gather-us N] "
    "[--lame-duck-seconds N] "
    "[--max-connection-age-ms N] [--max-connection-age-grace-ms N] "
    "[--keepalive-time-ms N] [--keepalive-timeout-ms N] "
    "[--min-ping-interval-ms N] [--permit-keepalive-without-calls] "
    "[--stream-window-bytes N] [--connection-window-bytes N] "
    "[--message-cache-bytes N]\n";

static const char usage_text[] =
    "\n"
    "Serves the gRPC services of one or more modules: shared objects built\n"
    "from a .proto with crpc_generate() that export crpc_module_init_v1\n"
    "(the generated <SERVICE>_MODULE() macro writes it).\n"
    "\n"
    "  --listen ADDR            127.0.0.1:50051, [::1]:50051, 0.0.0.0:0 (any\n"
    "                           free port, logged), unix:/path; repeatable\n"
    "  --module PATH.so         a module to serve; repeatable\n"
    "  --module-arg KEY=VALUE   a setting for the --module before it, which\n"
    "                           reads it with crpc_module_arg(); repeatable\n"
    "  --tls-cert F             PEM certificate chain: every --listen speaks\n"
    "                           TLS (ALPN h2) instead of cleartext HTTP/2\n"
    "  --tls-key F              PEM private key of --tls-cert\n"
    "  --tls-client-ca F        require client certificates signed by these\n"
    "                           PEM CAs (mutual TLS)\n"
    "  --tls-client-name NAME   with --tls-client-ca: a client certificate\n"
    "                           must carry NAME as its CN or a DNS or URI\n"
    "                           subjectAltName, or its calls get\n"
    "                           PERMISSION_DENIED; repeatable (any of them)\n"
    "  --loops N                I/O loop threads (default: the number of "
    "CPUs)\n"
    "  --workers N              worker threads (default: the number of CPUs)\n"
    "  --max-message-bytes N    largest message received or sent (default:\n"
    "                           4194304)\n"
    "  --drain-seconds N        on shutdown, time given to calls in flight\n"
    "                           before they are cancelled (default: 5)\n"
    "  --lame-duck-seconds N    on shutdown, first report NOT_SERVING while\n"
    "                           still accepting and serving for N seconds,\n"
    "                           then GOAWAY and the drain (default: 0)\n"
    "  --log-level L            debug, info, warn, error or off (default: "
    "info)\n"
    "  --worker-queue N         calls waiting for a worker before new ones\n"
    "                           get RESOURCE_EXHAUSTED (default: 4096)\n"
    "  --handshake-timeout-ms N time a connection has for its TLS handshake\n"
    "                           and HTTP/2 preface (default: 10000)\n"
    "  --max-workers N          worker threads at most, counting those that\n"
    "                           stand in for handlers waiting inside crpc\n"
    "                           (default: --workers + 64)\n"
    "  --max-worker-calls-per-connection N\n"
    "                           a connection's calls on the workers at once;\n"
    "                           more wait their turn (default: half of\n"
    "                           --max-workers)\n"
    "  --max-concurrent-streams N\n"
    "                           streams a connection may have open at once\n"
    "                           (default: 100)\n"
    "  --stall-timeout-ms N     a call waiting to read or write on a stream\n"
    "                           that makes no progress this long is\n"
    "                           cancelled (default: 300000)\n"
    "  --loop-stall-ms N        a loop busy this long without polling is\n"
    "                           reported while it lasts (default: 100)\n"
    "  --idle-timeout-ms N      a connection with no call this long is\n"
    "                           sent GOAWAY and closed (default: never)\n"
    "  --max-connection-age-ms N\n"
    "                           a connection open this long (+-10%) is sent\n"
    "                           GOAWAY: its client reconnects for new calls\n"
    "                           (default: no limit)\n"
    "  --max-connection-age-grace-ms N\n"
    "                           then its calls in flight get this long\n"
    "                           before it is closed (default: no limit)\n"
    "  --keepalive-time-ms N    PING a connection its client sent nothing on\n"
    "                           this long (default: never)\n"
    "  --keepalive-timeout-ms N close it when the PING is not answered this\n"
    "                           long (default: 20000)\n"
    "  --min-ping-interval-ms N clients pinging more often (with no call\n"
    "                           open: more often than every two hours) get\n"
    "                           GOAWAY ENHANCE_YOUR_CALM at the third such\n"
    "                           PING; 0: no limit (default: 300000)\n"
    "  --permit-keepalive-without-calls\n"
    "                           --min-ping-interval-ms applies with no call\n"
    "                           open too\n"
    "  --max-connections N      connections open at once; more are closed\n"
    "                           as they are accepted (default: no limit)\n"
    "  --max-header-list-bytes N\n"
    "                           a request's header fields read, as HTTP/2\n"
    "                           counts them; past it the call ends\n"
    "                           RESOURCE_EXHAUSTED (default: 16384)\n"
    "  --idle-frames-burst N    frames asking nothing (PING, SETTINGS,\n"
    "                           PRIORITY, empty DATA, unknown types) a\n"
    "                           connection may send at once before GOAWAY\n"
    "                           ENHANCE_YOUR_CALM (default: 1000)\n"
    "  --idle-frames-per-second N\n"
    "                           how fast that allowance refills (default:\n"
    "                           100)\n"
    "  --max-send-buffer-bytes N\n"
    "                           response bytes a connection may hold that\n"
    "                           its client has not read; past it, its\n"
    "                           handlers wait to start (default: 16 MiB,\n"
    "                           or twice --max-message-bytes if more)\n"
    "  --stream-window-bytes N  HTTP/2 flow control: request bytes a call's\n"
    "                           client may send ahead of its handler\n"
    "                           (default: 4194304)\n"
    "  --connection-window-bytes N\n"
    "                           ... and a connection's calls together\n"
    "                           (default: 16777216)\n"
    "  --message-cache-bytes N  memory of large messages each loop keeps\n"
    "                           for the next calls, what the last second\n"
    "                           needed; 0: none (default: 134217728)\n"
    "  --pressure-stall-ms N    while every worker is taken and calls wait,\n"
    "                           a worker call waiting on its client this\n"
    "                           long is cancelled (default: 1000)\n"
    "  --access-log FORMAT      one line per finished call on stdout: text\n"
    "                           (key=value pairs) or json (default: off)\n"
    "  --access-log-level L     the level of those lines: --log-level above\n"
    "                           it hides them (default: info)\n"
    "  --metrics-listen ADDR    serve Prometheus metrics over plain HTTP at\n"
    "                           http://ADDR/metrics: 127.0.0.1:9464,\n"
    "                           [::1]:9464, 127.0.0.1:0 (any free port,\n"
    "                           logged) (default: none)\n"
    "  --busy-poll-us N         after reading a request, a loop polls\n"
    "                           without sleeping for up to N microseconds:\n"
    "                           lower latency, less CPU for clients, up to\n"
    "                           one CPU per loop spent polling (default:\n"
    "                           never)\n"
    "  --gather-us N            a loop that requests keep busy sleeps N\n"
    "                           microseconds between its writes and its next\n"
    "                           poll, then takes what gathered at once: less\n"
    "                           CPU per call for the server and its clients,\n"
    "                           at most N (plus timer slack) more latency\n"
    "                           under load; 0: never (default: 20, at most\n"
    "                           1000)\n"
    "  --no-reflection          do not serve gRPC server reflection (by\n"
    "                           default tools such as grpcurl and buf curl\n"
    "                           list and call the services without their\n"
    "                           .proto files)\n"
    "  --list                   print the services and methods the modules\n"
    "                           add and where each runs, then exit (no\n"
    "                           --listen needed)\n"
    "  --help                   this text\n"
    "\n"
    "Flags also take the form --flag=VALUE. SIGTERM or SIGINT shuts down\n"
    "gracefully and exits 0; a second one during the lame-duck period\n"
    "starts the drain at once, and one during the drain exits at once\n"
    "with 1. Startup errors exit 2.\n";

typedef struct config {
  const char **listen; /* borrowed from argv */
  size_t n_listen;
  const char **modules; /* borrowed from argv */
  size_t n_modules;
  /* --module-arg values, borrowed from argv, grouped by module: those of
   * modules[i] are args[first_arg[i]] .. args[first_arg[i] + n_args[i]). */
  const char **args;
  size_t n_all_args;
  size_t *first_arg, *n_args;
  const char **client_names; /* --tls-client-name values, borrowed */
  crpc_tls_opts tls;
  const char *metrics_listen; /* borrowed from argv */
  unsigned long long loops, workers, max_message_bytes, drain_seconds;
  unsigned long long worker_queue, handshake_timeout_ms;
  unsigned long long max_workers, worker_share, max_streams, stall_timeout_ms;
  unsigned long long loop_stall_ms, idle_timeout_ms, max_connections;
  unsigned long long max_header_list, idle_frames_burst, idle_frames_rate;
  unsigned long long max_send_buffer, pressure_stall_ms, busy_poll_us;
  unsigned long long gather_us, stream_window, connection_window;
  unsigned long long message_cache;
  unsigned long long lame_duck_seconds, max_age_ms, max_age_grace_ms;
  unsigned long long keepalive_time_ms, keepalive_timeout_ms, min_ping_ms;
  int permit_keepalive_without_calls;
  int max_message_set, drain_set;
  crpc_log_level log_level;
  crpc_access_log_format access_log;
  crpc_log_level access_log_level;
  int help;
  int list;
  int no_reflection;
} config;

/* Prints "crpc-server: <msg>" on stderr; returns EXIT_STARTUP. */
static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int fail(const char *fmt, ...) {
  va_list ap;
  fputs("crpc-server: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return EXIT_STARTUP;
}

/* Parses a decimal number in [lo, hi] into |*out|. Returns 0 or -1. */
static int parse_number(const char *text, unsigned long long lo,
                        unsigned long long hi, unsigned long long *out) {
  char *end;
  unsigned long long v;

  if (text[0] < '0' || text[0] > '9')
    return -1;
  errno = 0;
  v = strtoull(text, &end, 10);
  if (errno != 0 || *end != '\0' || v < lo || v > hi)
    return -1;
  *out = v;
  return 0;
}

typedef enum {
  F_LISTEN,
  F_MODULE,
  F_MODULE_ARG,
  F_TLS_CERT,
  F_TLS_KEY,
  F_TLS_CLIENT_CA,
  F_TLS_CLIENT_NAME,
  F_MAX_MESSAGE_BYTES,
  F_DRAIN_SECONDS,
  F_LOG_LEVEL,
  F_ACCESS_LOG,
  F_ACCESS_LOG_LEVEL,
  F_METRICS_LISTEN,
  F_NUMBER /* stored as is in the config field the flag names */
} flag_id;

/* Every flag that takes a value, with the range of the numeric ones and,
 * for F_NUMBER, the config field it sets. */
#define NUMBER(field) F_NUMBER, offsetof(config, field)
static const struct flag {
  const char *name;
  flag_id id;
  size_t field;
  unsigned long long lo, hi;
} flags[] = {
    {"--listen", F_LISTEN, 0, 0, 0},
    {"--module", F_MODULE, 0, 0, 0},
    {"--module-arg", F_MODULE_ARG, 0, 0, 0},
    {"--tls-cert", F_TLS_CERT, 0, 0, 0},
    {"--tls-key", F_TLS_KEY, 0, 0, 0},
    {"--tls-client-ca", F_TLS_CLIENT_CA, 0, 0, 0},
    {"--tls-client-name", F_TLS_CLIENT_NAME, 0, 0, 0},
    {"--loops", NUMBER(loops), 1, 1024},
    {"--workers", NUMBER(workers), 1, 4096},
    /* The gRPC length prefix is 32 bits. */
    {"--max-message-bytes", F_MAX_MESSAGE_BYTES, 0, 1, UINT32_MAX},
    /* The drain deadline is a uint32_t of milliseconds. */
    {"--drain-seconds", F_DRAIN_SECONDS, 0, 0, UINT32_MAX / 1000},
    {"--log-level", F_LOG_LEVEL, 0, 0, 0},
    {"--access-log", F_ACCESS_LOG, 0, 0, 0},
    {"--access-log-level", F_ACCESS_LOG_LEVEL, 0, 0, 0},
    {"--worker-queue", NUMBER(worker_queue), 1, 1u << 24},
    {"--handshake-timeout-ms", NUMBER(handshake_timeout_ms), 1, UINT32_MAX},
    {"--max-workers", NUMBER(max_workers), 1, 65536},
    {"--max-worker-calls-per-connection", NUMBER(worker_share), 1, 65536},
    /* HTTP/2's SETTINGS_MAX_CONCURRENT_STREAMS is 31 bits. */
    {"--max-concurrent-streams", NUMBER(max_streams), 1, INT32_MAX},
    {"--stall-timeout-ms", NUMBER(stall_timeout_ms), 1, UINT32_MAX},
    {"--loop-stall-ms", NUMBER(loop_stall_ms), 1, UINT32_MAX},
    {"--idle-timeout-ms", NUMBER(idle_timeout_ms), 1, UINT32_MAX},
    {"--max-connections", NUMBER(max_connections), 1, UINT32_MAX},
    /* Below 512 not even gRPC's own request headers fit. */
    {"--max-header-list-bytes", NUMBER(max_header_list), 512, UINT32_MAX},
    {"--idle-frames-burst", NUMBER(idle_frames_burst), 1, UINT32_MAX},
    {"--idle-frames-per-second", NUMBER(idle_frames_rate), 1, UINT32_MAX},
    {"--max-send-buffer-bytes", NUMBER(max_send_buffer), 1, SIZE_MAX},
    {"--pressure-stall-ms", NUMBER(pressure_stall_ms), 1, UINT32_MAX},
    {"--metrics-listen", F_METRICS_LISTEN, 0, 0, 0},
    {"--busy-poll-us", NUMBER(busy_poll_us), 1, 1000000},
    {"--gather-us", NUMBER(gather_us), 0, 1000},
    {"--lame-duck-seconds", NUMBER(lame_duck_seconds), 0, UINT32_MAX / 1000},
    {"--max-connection-age-ms", NUMBER(max_age_ms), 1, UINT32_MAX},
    {"--max-connection-age-grace-ms", NUMBER(max_age_grace_ms), 1, UINT32_MAX},
    {"--keepalive-time-ms", NUMBER(keepalive_time_ms), 1, UINT32_MAX},
    {"--keepalive-timeout-ms", NUMBER(keepalive_timeout_ms), 1, UINT32_MAX},
    {"--min-ping-interval-ms", NUMBER(min_ping_ms), 0, UINT32_MAX},
    /* HTTP/2's windows are 31 bits. */
    {"--stream-window-bytes", NUMBER(stream_window), 1, INT32_MAX},
    {"--connection-window-bytes", NUMBER(connection_window), 1, INT32_MAX},
    {"--message-cache-bytes", NUMBER(message_cache), 0, SIZE_MAX / 2},
};
#undef NUMBER

/* Stores |value| for flag |f|. Returns 0, or EXIT_STARTUP after printing
 * what is wrong with it. */
static int set_flag(config *cfg, const struct flag *f, const char *value) {
  unsigned long long n = 0;

  if (f->hi != 0 && parse_number(value, f->lo, f->hi, &n) != 0)
    return fail("%s: '%s' is not a whole number from %llu to %llu", f->name,
                value, f->lo, f->hi);
  switch (f->id) {
  case F_NUMBER:
    *(unsigned long long *)((char *)cfg + f->field) = n;
    break;
  case F_LISTEN:
    cfg->listen[cfg->n_listen++] = value;
    break;
  case F_MODULE:
    cfg->first_arg[cfg->n_modules] = cfg->n_all_args;
    cfg->modules[cfg->n_modules++] = value;
    break;
  case F_MODULE_ARG:
    if (cfg->n_modules == 0)
      return fail("--module-arg %s: give it after the --module it is for",
                  value);
    if (strchr(value, '=') == NULL || value[0] == '=')
      return fail("--module-arg: '%s' is not KEY=VALUE", value);
    cfg->args[cfg->n_all_args++] = value;
    cfg->n_args[cfg->n_modules - 1]++;
    break;
  case F_TLS_CERT:
    cfg->tls.cert_file = value;
    break;
  case F_TLS_KEY:
    cfg->tls.key_file = value;
    break;
  case F_TLS_CLIENT_CA:
    cfg->tls.client_ca_file = value;
    break;
  case F_TLS_CLIENT_NAME:
    cfg->client_names[cfg->tls.n_client_names++] = value;
    cfg->tls.client_names = cfg->client_names;
    break;
  case F_MAX_MESSAGE_BYTES:
    cfg->max_message_bytes = n;
    cfg->max_message_set = 1;
    break;
  case F_DRAIN_SECONDS:
    cfg->drain_seconds = n;
    cfg->drain_set = 1;
    break;
  case F_METRICS_LISTEN:
    cfg->metrics_listen = value;
    break;
  case F_LOG_LEVEL:
    if (crpc_log_level_parse(value, &cfg->log_level) != 0)
      return fail("--log-level: '%s' is not one of debug, info, warn, "
                  "error, off",
                  value);
    break;
  case F_ACCESS_LOG:
    if (strcmp(value, "text") == 0)
      cfg->access_log = CRPC_ACCESS_LOG_TEXT;
    else if (strcmp(value, "json") == 0)
      cfg->access_log = CRPC_ACCESS_LOG_JSON;
    else
      return fail("--access-log: '%s' is not text or json", value);
    break;
  case F_ACCESS_LOG_LEVEL:
    if (crpc_log_level_parse(value, &cfg->access_log_level) != 0 ||
        cfg->access_log_level == CRPC_LOG_OFF)
      return fail("--access-log-level: '%s' is not one of debug, info, warn, "
                  "error",
                  value);
    break;
  }
  return 0;
}

/* The flag named by |arg| ("--loops" or "--loops=4"), or NULL. */
static const struct flag *find_flag(const char *arg) {
  size_t len = strcspn(arg, "=");

  for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
    if (strlen(flags[i].name) == len && strncmp(arg, flags[i].name, len) == 0)
      return &flags[i];
  }
  return NULL;
}

/* Reads argv into |cfg| (whose arrays hold argc entries). Returns 0, or
 * EXIT_STARTUP after printing the problem. */
static int parse_args(int argc, char **argv, config *cfg) {
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i], *eq = strchr(arg, '='), *value;
    const struct flag *f;
    int rc;

    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      cfg->help = 1;
      return 0;
    }
    if (strcmp(arg, "--list") == 0) {
      cfg->list = 1;
      continue;
    }
    if (strcmp(arg, "--no-reflection") == 0) {
      cfg->no_reflection = 1;
      continue;
    }
    if (strcmp(arg, "--permit-keepalive-without-calls") == 0) {
      cfg->permit_keepalive_without_calls = 1;
      continue;
    }
    if (strncmp(arg, "--", 2) != 0)
      return fail("unexpected argument '%s' (see --help)", arg);
    if ((f = find_flag(arg)) == NULL)
      return fail("unknown flag '%.*s' (see --help)", (int)strcspn(arg, "="),
                  arg);
    if (eq != NULL)
      value = eq + 1;
    else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0)
      value = argv[++i];
    else
      return fail("%s needs a value (see --help)", f->name);
    if (value[0] == '\0')
      return fail("%s needs a value, not an empty string", f->name);
    if ((rc = set_flag(cfg, f, value)) != 0)
      return rc;
  }
  return 0;
}

/* Checks what no single flag can. Returns 0 or EXIT_STARTUP. */
static int check_config(const config *cfg) {
  if (cfg->n_listen == 0 && !cfg->list)
    return fail("no --listen address given (see --help)");
  if (cfg->n_modules == 0)
    return fail("no --module given: there would be nothing to serve");
  if ((cfg->tls.cert_file == NULL) != (cfg->tls.key_file == NULL))
    return fail("%s without %s: TLS needs both",
                cfg->tls.cert_file ? "--tls-cert" : "--tls-key",
                cfg->tls.cert_file ? "--tls-key" : "--tls-cert");
  if (cfg->tls.client_ca_file != NULL && cfg->tls.cert_file == NULL)
    return fail("--tls-client-ca needs --tls-cert and --tls-key");
  if (cfg->tls.n_client_names != 0 && cfg->tls.client_ca_file == NULL)
    return fail("--tls-client-name needs --tls-client-ca: without a client "
                "CA no client certificate is asked for");
  if (cfg->max_workers != 0 && cfg->workers != 0 &&
      cfg->max_workers < cfg->workers)
    return fail("--max-workers %llu is fewer than --workers %llu",
                cfg->max_workers, cfg->workers);
  return 0;
}

/* The access log's sink: one line on stdout each, written whole (stdio
 * locks the stream), flushed so that a pipeline sees it at once. */
static void access_line(crpc_log_level level, const char *msg,
                        void *user_data) {
  (void)level;
  (void)user_data;
  flockfile(stdout);
  fputs(msg, stdout);
  fputc('\n', stdout);
  fflush(stdout);
  funlockfile(stdout);
}

static void server_opts_from(const config *cfg, crpc_server_opts *opts) {
  crpc_server_opts_init(opts);
  opts->loops = (unsigned)cfg->loops;
  opts->workers = (unsigned)cfg->workers;
  opts->worker_queue_max = (size_t)cfg->worker_queue;
  opts->handshake_timeout_ms = (uint32_t)cfg->handshake_timeout_ms;
  opts->max_workers = (unsigned)cfg->max_workers;
  opts->max_worker_calls_per_connection = (unsigned)cfg->worker_share;
  opts->max_concurrent_streams = (uint32_t)cfg->max_streams;
  opts->stall_timeout_ms = (uint32_t)cfg->stall_timeout_ms;
  opts->loop_stall_ms = (uint32_t)cfg->loop_stall_ms;
  opts->idle_timeout_ms = (uint32_t)cfg->idle_timeout_ms;
  opts->max_connections = (unsigned)cfg->max_connections;
  opts->max_header_list_bytes = (uint32_t)cfg->max_header_list;
  opts->idle_frames_burst = (uint32_t)cfg->idle_frames_burst;
  opts->idle_frames_per_second = (uint32_t)cfg->idle_frames_rate;
  opts->max_send_buffer_bytes = (size_t)cfg->max_send_buffer;
  opts->pressure_stall_ms = (uint32_t)cfg->pressure_stall_ms;
  opts->metrics_listen = cfg->metrics_listen;
  opts->busy_poll_us = (uint32_t)cfg->busy_poll_us;
  if (cfg->gather_us != ULLONG_MAX)
    opts->gather_us =
        cfg->gather_us == 0 ? CRPC_GATHER_OFF : (uint32_t)cfg->gather_us;
  opts->lame_duck_ms = (uint32_t)(cfg->lame_duck_seconds * 1000);
  opts->max_connection_age_ms = (uint32_t)cfg->max_age_ms;
  opts->max_connection_age_grace_ms = (uint32_t)cfg->max_age_grace_ms;
  opts->keepalive_time_ms = (uint32_t)cfg->keepalive_time_ms;
  opts->keepalive_timeout_ms = (uint32_t)cfg->keepalive_timeout_ms;
  /* Not given: the default; 0: no ping policy at all. */
  if (cfg->min_ping_ms != ULLONG_MAX)
    opts->min_ping_interval_ms =
        cfg->min_ping_ms == 0 ? UINT32_MAX : (uint32_t)cfg->min_ping_ms;
  opts->permit_keepalive_without_calls = cfg->permit_keepalive_without_calls;
  opts->stream_window_bytes = (uint32_t)cfg->stream_window;
  opts->connection_window_bytes = (uint32_t)cfg->connection_window;
  /* Not given: the default; 0: none kept. */
  if (cfg->message_cache != ULLONG_MAX)
    opts->message_cache_bytes = cfg->message_cache == 0
                                    ? CRPC_MESSAGE_CACHE_OFF
                                    : (size_t)cfg->message_cache;
  if (cfg->max_message_set) {
    opts->max_receive_bytes = (size_t)cfg->max_message_bytes;
    opts->max_send_bytes = (size_t)cfg->max_message_bytes;
  }
  /* 0 in the options means the default, so no drain at all is asked for
   * as the shortest one. */
  if (cfg->drain_set)
    opts->drain_ms =
        cfg->drain_seconds == 0 ? 1 : (uint32_t)(cfg->drain_seconds * 1000);
  opts->logger.level = cfg->log_level;
  opts->logger.level_set = 1;
  opts->access_log = cfg->access_log;
  opts->access_log_level = cfg->access_log_level;
  opts->access_log_level_set = 1;
  /* Bare lines on stdout, as --log-level lets them through. */
  opts->access_logger.fn = access_line;
  opts->access_logger.level = cfg->log_level;
  opts->access_logger.level_set = 1;
}

/* Logs one of crpc-server's own lines through the same sink and level as
 * the server's. */
static void say(const config *cfg, crpc_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(const config *cfg, crpc_log_level level, const char *fmt, ...) {
  char line[512];
  va_list ap;

  if (cfg->log_level == CRPC_LOG_OFF || level < cfg->log_level)
    return;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  crpc_log_stderr(level, line, NULL);
}

/* The reason for |rc| from |srv|, else crpc_strerror(). */
static const char *why(const crpc_server *srv, int rc) {
  const char *s = crpc_server_error(srv);
  return s != NULL && s[0] != '\0' ? s : crpc_strerror(rc);
}

/* Loads the modules and opens the listen addresses. Returns 0 or
 * EXIT_STARTUP after printing the problem. */
static int configure(crpc_server *srv, const config *cfg) {
  const crpc_tls_opts *tls = cfg->tls.cert_file != NULL ? &cfg->tls : NULL;
  char err[512];
  size_t n;
  int rc;

  for (size_t i = 0; i < cfg->n_modules; i++) {
    if (crpc__module_load(srv, cfg->modules[i], cfg->args + cfg->first_arg[i],
                          cfg->n_args[i], &n, err, sizeof(err)) != 0)
      return fail("%s", err);
    say(cfg, CRPC_LOG_DEBUG, "module %s: %zu service%s", cfg->modules[i], n,
        n == 1 ? "" : "s");
  }
  for (size_t i = 0; i < cfg->n_listen; i++) {
    const char *addr = cfg->listen[i], *reason;
    if ((rc = crpc_server_listen(srv, addr, tls)) == 0)
      continue;
    /* The server's reason may already name the address. */
    reason = why(srv, rc);
    if (strstr(reason, addr) != NULL)
      return fail("%s", reason);
    return fail("cannot listen on %s: %s", addr, reason);
  }
  return 0;
}

/* Seconds on the monotonic clock. */
static double mono_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Shuts |srv| down and frees it. Another of |sigs| during the lame-duck
 * period (|lame_duck_seconds|) starts the drain at once; during the drain,
 * it cuts the drain short with exit status 1. Returns the exit status. */
static int shut_down(crpc_server *srv, const sigset_t *sigs,
                     unsigned long long lame_duck_seconds) {
  const struct timespec now = {0, 0};
  double lame_duck_end = mono_now() + (double)lame_duck_seconds;
  crpc_future *f = crpc_server_shutdown(srv);
  int sig;

  /* Out of memory for the future: crpc_server_free() shuts down too. */
  while (f != NULL && crpc_future_wait_for(f, 100) == CRPC_ETIMEDOUT) {
    if ((sig = sigtimedwait(sigs, NULL, &now)) <= 0)
      continue;
    if (mono_now() < lame_duck_end) {
      fprintf(stderr,
              "crpc-server: %s during the lame-duck period: draining now\n",
              sig == SIGINT ? "SIGINT" : "SIGTERM");
      lame_duck_end = 0;
      crpc_future *again = crpc_server_shutdown(srv);
      if (again)
        crpc_future_unref(again);
    } else {
      fprintf(stderr,
              "crpc-server: %s during the drain: exiting without waiting for "
              "calls in flight\n",
              sig == SIGINT ? "SIGINT" : "SIGTERM");
      _Exit(1);
    }
  }
  crpc_future_unref(f);
  crpc_server_free(srv);
  return 0;
}

/* The methods of |srv| (malloc'd; the caller frees it) in |*out|, and
 * how many in |*n| and, of those, not built in in |*n_user|. Returns 0 or
 * -1 when out of memory. */
static int methods_of(const crpc_server *srv, crpc_server_method_info **out,
                      size_t *n, size_t *n_user) {
  *n = crpc_server_methods(srv, NULL, 0);
  *out = calloc(*n ? *n : 1, sizeof(**out));
  if (*out == NULL)
    return -1;
  crpc_server_methods(srv, *out, *n);
  *n_user = 0;
  while (*n_user < *n && !(*out)[*n_user].builtin)
    (*n_user)++;
  return 0;
}

/* Prints methods [from, to) of |m|, under their services' names. */
static void print_methods(const crpc_server_method_info *m, size_t from,
                          size_t to) {
  const crpc_service_desc *svc = NULL;

  for (size_t i = from; i < to; i++) {
    if (m[i].service != svc) {
      svc = m[i].service;
      printf("  %s\n", svc->name);
    }
    printf("    %-24s %-17s %s%s\n", m[i].method->name,
           crpc_method_kind_name(m[i].method->kind),
           crpc_placement_name(m[i].placement),
           m[i].implemented ? "" : " (not implemented: UNIMPLEMENTED)");
  }
}

/* --list: loads the modules as serve() would, prints the methods each adds
 * and those crpc adds itself, with where they run, and exits 0 (2 when a
 * module does not load). Nothing listens. */
static int list(const config *cfg) {
  crpc_server_opts opts;
  crpc_server *srv = NULL;
  crpc_server_method_info *m = NULL;
  char err[512];
  size_t n, n_user, before = 0;
  int rc;

  server_opts_from(cfg, &opts);
  if ((rc = crpc_server_new(&opts, &srv)) != 0)
    return fail("cannot create the server: %s", crpc_strerror(rc));
  if (!cfg->no_reflection && (rc = crpc_server_enable_reflection(srv)) != 0) {
    crpc_server_free(srv);
    return fail("cannot serve reflection: %s", crpc_strerror(rc));
  }
  for (size_t i = 0; i < cfg->n_modules; i++) {
    if (crpc__module_load(srv, cfg->modules[i], cfg->args + cfg->first_arg[i],
                          cfg->n_args[i], &n, err, sizeof(err)) != 0) {
      rc = fail("%s", err);
      goto done;
    }
    free(m);
    if (methods_of(srv, &m, &n, &n_user) != 0) {
      rc = fail("out of memory");
      goto done;
    }
    printf("module %s\n", cfg->modules[i]);
    print_methods(m, before, n_user);
    before = n_user;
  }
  free(m);
  if (methods_of(srv, &m, &n, &n_user) != 0) {
    rc = fail("out of memory");
    goto done;
  }
  printf("built in\n");
  print_methods(m, n_user, n);
  fflush(stdout);
done:
  free(m);
  crpc_server_free(srv);
  return rc;
}

static int serve(const config *cfg, const sigset_t *sigs) {
  crpc_server_opts opts;
  crpc_server *srv = NULL;
  int rc, sig;

  server_opts_from(cfg, &opts);
  if ((rc = crpc_server_new(&opts, &srv)) != 0)
    return fail("cannot create the server: %s", crpc_strerror(rc));
  if (!cfg->no_reflection && (rc = crpc_server_enable_reflection(srv)) != 0) {
    crpc_server_free(srv);
    return fail("cannot serve reflection: %s", crpc_strerror(rc));
  }
  if ((rc = configure(srv, cfg)) != 0)
    goto fail;
  if ((rc = crpc_server_start(srv)) != 0) {
    rc = fail("cannot start: %s", why(srv, rc));
    goto fail;
  }
  if (sigwait(sigs, &sig) != 0)
    sig = SIGTERM;
  say(cfg, CRPC_LOG_INFO, "%s received: shutting down",
      sig == SIGINT ? "SIGINT" : "SIGTERM");
  return shut_down(srv, sigs, cfg->lame_duck_seconds);

fail:
  crpc_server_free(srv);
  return rc;
}

/* Each connection takes a file descriptor, and the usual soft limit of
 * 1024 is far below what a server meets: raise it to the hard limit, as
 * Go's runtime does for every program. */
static void raise_fd_limit(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

int main(int argc, char **argv) {
  config cfg = {.log_level = CRPC_LOG_INFO,
                .access_log_level = CRPC_LOG_INFO,
                .min_ping_ms = ULLONG_MAX /* not given */,
                .gather_us = ULLONG_MAX,
                .message_cache = ULLONG_MAX};
  sigset_t sigs;
  int rc;

  /* Before any thread exists: see the top of this file. */
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  sigprocmask(SIG_BLOCK, &sigs, NULL);
  signal(SIGPIPE, SIG_IGN);
  raise_fd_limit();

  cfg.listen = calloc((size_t)argc, sizeof(*cfg.listen));
  cfg.modules = calloc((size_t)argc, sizeof(*cfg.modules));
  cfg.args = calloc((size_t)argc, sizeof(*cfg.args));
  cfg.first_arg = calloc((size_t)argc, sizeof(*cfg.first_arg));
  cfg.n_args = calloc((size_t)argc, sizeof(*cfg.n_args));
  cfg.client_names = calloc((size_t)argc, sizeof(*cfg.client_names));
  if (cfg.listen == NULL || cfg.modules == NULL || cfg.args == NULL ||
      cfg.first_arg == NULL || cfg.n_args == NULL || cfg.client_names == NULL) {
    rc = fail("out of memory");
    goto done;
  }
  if ((rc = parse_args(argc, argv, &cfg)) != 0)
    goto done;
  if (cfg.help) {
    fputs(usage_line, stdout);
    fputs(usage_text, stdout);
    goto done;
  }
  if ((rc = check_config(&cfg)) == 0)
    rc = cfg.list ? list(&cfg) : serve(&cfg, &sigs);
done:
  free(cfg.listen);
  free(cfg.modules);
  free(cfg.args);
  free(cfg.first_arg);
  free(cfg.n_args);
  free(cfg.client_names);
  return rc;
}
