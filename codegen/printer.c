/* codegen/printer.c: a bounded, growable text buffer with printf. */
#include "printer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void crpc__printer_init(crpc__printer *p, size_t max) {
  memset(p, 0, sizeof(*p));
  p->max = max;
  p->limit = 80;
}

void crpc__printer_cleanup(crpc__printer *p) {
  free(p->data);
  p->data = NULL;
  p->len = p->cap = 0;
}

static int reserve(crpc__printer *p, size_t n) {
  size_t want, cap;
  char *d;

  if (p->failed)
    return -1;
  if (n > p->max - p->len)
    goto fail;
  want = p->len + n + 1;
  if (want <= p->cap)
    return 0;
  cap = p->cap ? p->cap : 256;
  while (cap < want)
    cap *= 2;
  d = realloc(p->data, cap);
  if (!d)
    goto fail;
  p->data = d;
  p->cap = cap;
  return 0;

fail:
  p->failed = 1;
  return -1;
}

void crpc__printer_add(crpc__printer *p, const char *s, size_t n) {
  if (reserve(p, n) != 0)
    return;
  memcpy(p->data + p->len, s, n);
  p->len += n;
  p->data[p->len] = '\0';
}

void crpc__printer_puts(crpc__printer *p, const char *s) {
  crpc__printer_add(p, s, strlen(s));
}

void crpc__printer_spaces(crpc__printer *p, int n) {
  static const char sp[] = "                                        ";
  while (n > 0) {
    int k = n < (int)sizeof(sp) - 1 ? n : (int)sizeof(sp) - 1;
    crpc__printer_add(p, sp, (size_t)k);
    n -= k;
  }
}

char *crpc__printer_vformat(const char *fmt, va_list ap) {
  va_list ap2;
  char *s;
  int n;

  va_copy(ap2, ap);
  n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0)
    return NULL;
  s = malloc((size_t)n + 1);
  if (s)
    vsnprintf(s, (size_t)n + 1, fmt, ap);
  return s;
}

char *crpc__printer_format(const char *fmt, ...) {
  va_list ap;
  char *s;

  va_start(ap, fmt);
  s = crpc__printer_vformat(fmt, ap);
  va_end(ap);
  return s;
}

char *crpc__printer_vformat_for(crpc__printer *p, const char *fmt, va_list ap) {
  char *s;

  if (p->failed)
    return NULL;
  s = crpc__printer_vformat(fmt, ap);
  if (!s)
    p->failed = 1;
  return s;
}

void crpc__printer_printf(crpc__printer *p, const char *fmt, ...) {
  va_list ap;
  char *s;

  va_start(ap, fmt);
  s = crpc__printer_vformat_for(p, fmt, ap);
  va_end(ap);
  if (!s)
    return;
  crpc__printer_puts(p, s);
  free(s);
}
