/*
 * server/access_log.c: the access log (crpc_server_opts.access_log), an
 * interceptor whose end writes one line per call, as text or as JSON.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "crpc/error.h"
#include "log_internal.h"
#include "server_internal.h"

/* The longest line: a message is cut to fit. */
#define LINE_MAX_BYTES 2048

typedef struct line {
  char buf[LINE_MAX_BYTES];
  size_t len;
} line;

static void put(line *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void put(line *l, const char *fmt, ...) {
  if (l->len >= sizeof(l->buf) - 1)
    return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(l->buf + l->len, sizeof(l->buf) - l->len, fmt, ap);
  va_end(ap);
  if (n > 0)
    l->len += (size_t)n;
  if (l->len > sizeof(l->buf) - 1)
    l->len = sizeof(l->buf) - 1;
}

/* |s| as a quoted string: JSON's escapes, which a text-log reader also
 * understands; bytes outside printable ASCII as \u00XX. Cut to leave room
 * for the rest of the line. */
static void put_quoted(line *l, const char *s) {
  static const char hex[] = "0123456789abcdef";
  size_t room = sizeof(l->buf) - 256;
  if (l->len < room)
    l->buf[l->len++] = '"';
  for (const unsigned char *p = (const unsigned char *)s;
       *p && l->len + 7 < room; p++) {
    if (*p == '"' || *p == '\\') {
      l->buf[l->len++] = '\\';
      l->buf[l->len++] = (char)*p;
    } else if (*p < 0x20 || *p > 0x7e) {
      memcpy(l->buf + l->len, "\\u00", 4);
      l->buf[l->len + 4] = hex[*p >> 4];
      l->buf[l->len + 5] = hex[*p & 15];
      l->len += 6;
    } else {
      l->buf[l->len++] = (char)*p;
    }
  }
  l->buf[l->len++] = '"';
  l->buf[l->len] = '\0';
}

/* Now as RFC 3339 UTC with milliseconds. */
static void put_time(line *l) {
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  put(l, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
      ts.tv_nsec / 1000000);
}

static void access_end(void *data, crpc_icall *call, void *state,
                       const crpc_icall_end *e) {
  (void)state;
  const crpc_server_opts *o = data;
  int json = o->access_log == CRPC_ACCESS_LOG_JSON;
  const crpc_trace_context *tc = crpc_icall_trace(call);
  char trace_id[33], span_id[17];
  if (tc->valid) {
    crpc_trace_hex(tc->trace_id, 16, trace_id);
    crpc_trace_hex(tc->span_id, 8, span_id);
  }
  line l = {.len = 0};
  double ms = (double)e->duration_ns / 1e6;
  const char *placement = crpc_placement_name(crpc_icall_placement(call));
  if (json) {
    put(&l, "{\"time\":\"");
    put_time(&l);
    put(&l, "\",\"peer\":");
    put_quoted(&l, crpc_icall_peer(call));
    put(&l, ",\"method\":");
    put_quoted(&l, crpc_icall_method(call)->path);
    put(&l,
        ",\"status\":\"%s\",\"code\":%d,\"duration_ms\":%.3f,"
        "\"bytes_in\":%llu,\"bytes_out\":%llu,\"messages_in\":%llu,"
        "\"messages_out\":%llu,\"placement\":\"%s\"",
        crpc_status_name(e->code), (int)e->code, ms,
        (unsigned long long)e->bytes_received,
        (unsigned long long)e->bytes_sent,
        (unsigned long long)e->messages_received,
        (unsigned long long)e->messages_sent, placement);
    if (tc->valid)
      put(&l, ",\"trace_id\":\"%s\",\"span_id\":\"%s\"", trace_id, span_id);
    if (e->message) {
      put(&l, ",\"message\":");
      put_quoted(&l, e->message);
    }
    put(&l, "}");
  } else {
    put_time(&l);
    put(&l,
        " peer=%s method=%s status=%s duration_ms=%.3f bytes_in=%llu "
        "bytes_out=%llu messages_in=%llu messages_out=%llu placement=%s",
        crpc_icall_peer(call), crpc_icall_method(call)->path,
        crpc_status_name(e->code), ms, (unsigned long long)e->bytes_received,
        (unsigned long long)e->bytes_sent,
        (unsigned long long)e->messages_received,
        (unsigned long long)e->messages_sent, placement);
    if (tc->valid)
      put(&l, " trace_id=%s span_id=%s", trace_id, span_id);
    if (e->message) {
      put(&l, " message=");
      put_quoted(&l, e->message);
    }
  }
  crpc_log_level level =
      o->access_log_level_set ? o->access_log_level : CRPC_LOG_INFO;
  if (o->access_logger.fn) {
    if (crpc__log_enabled(&o->access_logger, level))
      o->access_logger.fn(level, l.buf, o->access_logger.user_data);
  } else {
    crpc__log(&o->logger, level, "access %s", l.buf);
  }
}

int crpc__access_log_install(crpc_server *srv) {
  if (srv->opts.access_log == CRPC_ACCESS_LOG_OFF || srv->access_log_on)
    return 0;
  crpc_interceptor ic = {.data = &srv->opts, .end = access_end};
  crpc__ichain chain = {0}, rest = srv->chain;
  if (crpc__ichain_add(&chain, &ic) != 0)
    return CRPC_ENOMEM;
  crpc__ichain both;
  int rc = crpc__ichain_concat(&both, &chain, &rest);
  crpc__ichain_free(&chain);
  if (rc != 0)
    return rc;
  crpc__ichain_free(&srv->chain);
  srv->chain = both;
  srv->access_log_on = 1;
  return 0;
}
