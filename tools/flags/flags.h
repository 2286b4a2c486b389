/*
 * tools/flags/flags.h: the command lines of crpc's test and benchmark
 * programs (gRPC's interop style).
 *
 * Flags are "--name=value" or "--name value"; a boolean may stand alone
 * ("--use_tls") or take true/false, either way. "--help" or "-h" prints the
 * usage on stdout and exits 0.
 */
#ifndef CRPC_TOOL_FLAGS_H
#define CRPC_TOOL_FLAGS_H

#include <stddef.h>

typedef enum {
  TOOL_FLAG_STRING, /* const char *: the argv string itself, borrowed */
  TOOL_FLAG_INT,    /* int: a whole decimal number in [0, INT_MAX] */
  TOOL_FLAG_BOOL,   /* int: 1 or 0 */
  TOOL_FLAG_DOUBLE  /* double: a finite, non-negative number */
} tool_flag_kind;

typedef struct tool_flag {
  const char *name; /* without the leading "--" */
  tool_flag_kind kind;
  void *out; /* const char **, int * for INT and BOOL, double * for DOUBLE */
} tool_flag;

/*
 * Sets the outputs of |flags| (|n| of them) from |argv|. Outputs of absent
 * flags are left as they are (the caller's defaults); a flag given twice
 * keeps the last value. Strings point into |argv|.
 * Thread: any; "--help" ends the process, so main() is the place for it.
 * Returns 0, or -1 after printing "PROG: what is wrong: ARG" and |usage| on
 * stderr; outputs set before the bad argument keep their new values.
 */
int tool_flags_parse(const char *prog, const char *usage, int argc, char **argv,
                     const tool_flag *flags, size_t n);

#endif /* CRPC_TOOL_FLAGS_H */
