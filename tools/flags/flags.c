/*
 * tools/flags/flags.c: command-line flags (flags.h).
 */
#include "flags.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int bad(const char *prog, const char *usage, const char *what,
               const char *arg) {
  fprintf(stderr, "%s: %s: %s\n%s", prog, what, arg, usage);
  return -1;
}

static int is_bool_word(const char *s) {
  return s && (strcmp(s, "true") == 0 || strcmp(s, "false") == 0);
}

static int store_int(const char *value, int *out) {
  char *end;
  errno = 0;
  long v = strtol(value, &end, 10);
  if (errno || end == value || *end != '\0' || v < 0 || v > INT_MAX)
    return -1;
  *out = (int)v;
  return 0;
}

static int store_double(const char *value, double *out) {
  char *end;
  errno = 0;
  double v = strtod(value, &end);
  /* !(v >= 0) also rejects NaN; -0 reads as 0. */
  if (errno || end == value || *end != '\0' || !(v >= 0) || !isfinite(v))
    return -1;
  *out = v == 0 ? 0 : v;
  return 0;
}

/* Stores |value| (NULL: a bare boolean) into |f|. */
static int store(const tool_flag *f, const char *value) {
  switch (f->kind) {
  case TOOL_FLAG_STRING:
    *(const char **)f->out = value;
    return 0;
  case TOOL_FLAG_BOOL:
    if (!value || strcmp(value, "true") == 0)
      *(int *)f->out = 1;
    else if (strcmp(value, "false") == 0)
      *(int *)f->out = 0;
    else
      return -1;
    return 0;
  case TOOL_FLAG_INT:
    return store_int(value, f->out);
  case TOOL_FLAG_DOUBLE:
    return store_double(value, f->out);
  }
  return -1;
}

int tool_flags_parse(const char *prog, const char *usage, int argc, char **argv,
                     const tool_flag *flags, size_t n) {
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      fputs(usage, stdout);
      exit(0);
    }
    if (strncmp(arg, "--", 2) != 0)
      return bad(prog, usage, "unexpected argument", arg);
    const char *name = arg + 2;
    const char *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const tool_flag *f = NULL;
    for (size_t k = 0; k < n && !f; k++)
      if (strlen(flags[k].name) == len &&
          strncmp(flags[k].name, name, len) == 0)
        f = &flags[k];
    if (!f)
      return bad(prog, usage, "unknown flag", arg);
    const char *value = eq ? eq + 1 : NULL;
    if (!value && f->kind != TOOL_FLAG_BOOL) {
      if (i + 1 >= argc)
        return bad(prog, usage, "missing value", arg);
      value = argv[++i];
    } else if (!value && is_bool_word(i + 1 < argc ? argv[i + 1] : NULL)) {
      value = argv[++i];
    }
    if (store(f, value) != 0)
      return bad(prog, usage, "bad value", arg);
  }
  return 0;
}
