/*
 * server/http1.c: parsing an HTTP/1.x request head.
 */
#include "http1.h"

#include <string.h>
#include <strings.h>

/* A line of the head: [start, end) without its line ending. */
typedef struct line {
  const char *start, *end;
} line;

/* The line that starts at |p| (before |end|) and where the next one
 * starts; NULL when it has no line ending yet. */
static const char *next_line(const char *p, const char *end, line *l) {
  const char *nl = memchr(p, '\n', (size_t)(end - p));
  if (!nl)
    return NULL;
  l->start = p;
  l->end = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
  return nl + 1;
}

static int is_tchar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* METHOD SP TARGET SP HTTP/1.x */
static int request_line(const line *l, crpc__http1_request *r) {
  const char *p = l->start, *e = l->end;
  r->method = p;
  while (p < e && is_tchar(*p))
    p++;
  r->method_len = (size_t)(p - r->method);
  if (r->method_len == 0 || p == e || *p++ != ' ')
    return -1;
  const char *target = p;
  while (p < e && *p != ' ')
    p++;
  if (p == target || p == e || *target != '/')
    return -1;
  const char *q = memchr(target, '?', (size_t)(p - target));
  r->path = target;
  r->path_len = (size_t)((q ? q : p) - target);
  p++;
  if (e - p != 8 || memcmp(p, "HTTP/1.", 7) != 0 ||
      (p[7] != '0' && p[7] != '1'))
    return -1;
  r->minor = p[7] - '0';
  r->keep_alive = r->minor == 1;
  return 0;
}

/* Whether the comma-separated list [p, e) names |token|. */
static int has_token(const char *p, const char *e, const char *token) {
  size_t n = strlen(token);
  while (p < e) {
    while (p < e && (*p == ' ' || *p == '\t' || *p == ','))
      p++;
    const char *s = p;
    while (p < e && *p != ',')
      p++;
    const char *t = p;
    while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
      t--;
    if ((size_t)(t - s) == n && strncasecmp(s, token, n) == 0)
      return 1;
  }
  return 0;
}

static int header_is(const char *name, size_t n, const char *want) {
  return strlen(want) == n && strncasecmp(name, want, n) == 0;
}

/* NAME ":" OWS VALUE OWS */
static int header_line(const line *l, crpc__http1_request *r) {
  const char *p = l->start, *e = l->end;
  while (p < e && is_tchar(*p))
    p++;
  size_t name_len = (size_t)(p - l->start);
  if (name_len == 0 || p == e || *p != ':')
    return -1;
  const char *v = p + 1, *ve = e;
  while (v < ve && (*v == ' ' || *v == '\t'))
    v++;
  while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
    ve--;
  if (header_is(l->start, name_len, "connection")) {
    if (has_token(v, ve, "close"))
      r->keep_alive = 0;
    else if (has_token(v, ve, "keep-alive"))
      r->keep_alive = 1;
  } else if (header_is(l->start, name_len, "content-length")) {
    if (v == ve)
      return -1;
    for (const char *d = v; d < ve; d++) {
      if (*d < '0' || *d > '9')
        return -1;
      if (*d != '0')
        r->has_body = 1;
    }
  } else if (header_is(l->start, name_len, "transfer-encoding")) {
    r->has_body = 1;
  }
  return 0;
}

ssize_t crpc__http1_parse(const char *p, size_t n, crpc__http1_request *out) {
  const char *start = p, *end = p + n, *next;
  crpc__http1_request r = {0};
  line l;
  /* Empty lines before a request line are ignored (RFC 9112, 2.2). */
  while ((next = next_line(p, end, &l)) != NULL && l.start == l.end)
    p = next;
  if (!next)
    return 0;
  if (request_line(&l, &r) != 0)
    return -1;
  p = next;
  while ((next = next_line(p, end, &l)) != NULL) {
    p = next;
    if (l.start == l.end) {
      *out = r;
      return p - start;
    }
    if (header_line(&l, &r) != 0)
      return -1;
  }
  return 0;
}
