/*
 * runtime/prom_text.c: writing Prometheus's text exposition format.
 */
#include "prom_text.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "crpc/error.h"

static int put(crpc__buf *b, const char *s) {
  return crpc__buf_append(b, s, strlen(s));
}

/* Appends the |n| bytes of |s|, each of the |special| ones (among
 * backslash, newline and double quote) escaped with a backslash. */
static int put_escaped(crpc__buf *b, const char *s, size_t n,
                       const char *special) {
  size_t from = 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!strchr(special, c) || c == '\0')
      continue;
    const char *esc = c == '\n' ? "\\n" : c == '"' ? "\\\"" : "\\\\";
    int rc = crpc__buf_append(b, s + from, i - from);
    if (rc == 0)
      rc = put(b, esc);
    if (rc != 0)
      return rc;
    from = i + 1;
  }
  return crpc__buf_append(b, s + from, n - from);
}

int crpc__prom_family(crpc__buf *b, const char *name, const char *help,
                      const char *type) {
  int rc = put(b, "# HELP ");
  if (rc == 0)
    rc = put(b, name);
  if (rc == 0)
    rc = put(b, " ");
  if (rc == 0)
    rc = put_escaped(b, help, strlen(help), "\\\n");
  if (rc == 0)
    rc = put(b, "\n# TYPE ");
  if (rc == 0)
    rc = put(b, name);
  if (rc == 0)
    rc = put(b, " ");
  if (rc == 0)
    rc = put(b, type);
  if (rc == 0)
    rc = put(b, "\n");
  return rc;
}

int crpc__prom_label(crpc__buf *b, const char *name, const char *value,
                     size_t n) {
  int rc = put(b, name);
  if (rc == 0)
    rc = put(b, "=\"");
  if (rc == 0)
    rc = put_escaped(b, value, n, "\\\n\"");
  if (rc == 0)
    rc = put(b, "\"");
  return rc;
}

/* "|name||suffix|{|labels|} " */
static int sample_head(crpc__buf *b, const char *name, const char *suffix,
                       const char *labels) {
  int rc = put(b, name);
  if (rc == 0 && suffix)
    rc = put(b, suffix);
  if (rc == 0 && labels && labels[0]) {
    rc = put(b, "{");
    if (rc == 0)
      rc = put(b, labels);
    if (rc == 0)
      rc = put(b, "}");
  }
  if (rc == 0)
    rc = put(b, " ");
  return rc;
}

int crpc__prom_sample(crpc__buf *b, const char *name, const char *suffix,
                      const char *labels, uint64_t value) {
  char v[32];
  snprintf(v, sizeof(v), "%" PRIu64 "\n", value);
  int rc = sample_head(b, name, suffix, labels);
  return rc == 0 ? put(b, v) : rc;
}

int crpc__prom_sample_micros(crpc__buf *b, const char *name, const char *suffix,
                             const char *labels, uint64_t micros) {
  char v[48];
  snprintf(v, sizeof(v), "%" PRIu64 ".%06" PRIu64 "\n", micros / 1000000,
           micros % 1000000);
  int rc = sample_head(b, name, suffix, labels);
  return rc == 0 ? put(b, v) : rc;
}

const char *crpc__prom_code_name(int code) {
  static const char *const names[] = {
      "OK",
      "Canceled",
      "Unknown",
      "InvalidArgument",
      "DeadlineExceeded",
      "NotFound",
      "AlreadyExists",
      "PermissionDenied",
      "ResourceExhausted",
      "FailedPrecondition",
      "Aborted",
      "OutOfRange",
      "Unimplemented",
      "Internal",
      "Unavailable",
      "DataLoss",
      "Unauthenticated",
  };
  if (code < 0 || code >= (int)(sizeof(names) / sizeof(names[0])))
    return "Unknown";
  return names[code];
}
