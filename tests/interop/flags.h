/*
 * tests/interop/flags.h: the command lines of gRPC's interop programs.
 *
 * Flags are "--name=value" or "--name value"; a boolean may stand alone
 * ("--use_tls") or take true/false, either way.
 */
#ifndef CRPC_INTEROP_FLAGS_H
#define CRPC_INTEROP_FLAGS_H

#include <stddef.h>

typedef enum {
  INTEROP_FLAG_STRING,
  INTEROP_FLAG_INT,
  INTEROP_FLAG_BOOL
} interop_flag_kind;

typedef struct interop_flag {
  const char *name; /* without the leading "--" */
  interop_flag_kind kind;
  void *out; /* const char **, or int * for INT and BOOL */
} interop_flag;

/*
 * Sets the outputs of |flags| from |argv|. Outputs of absent flags are left
 * as they are (the caller's defaults). Returns 0, or -1 after printing
 * "PROG: what is wrong" and |usage| on stderr.
 */
int interop_flags_parse(const char *prog, const char *usage, int argc,
                        char **argv, const interop_flag *flags, size_t n);

#endif /* CRPC_INTEROP_FLAGS_H */
