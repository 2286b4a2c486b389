/*
 * crpc/log.h: where crpc's diagnostics go.
 *
 * There is no process-wide logger: each loop, server and channel takes a
 * crpc_logger in its options. A zeroed crpc_logger logs warnings and errors
 * to stderr.
 */
#ifndef CRPC_LOG_H
#define CRPC_LOG_H

#include "crpc/common.h"

CRPC_BEGIN_DECLS

typedef enum {
  CRPC_LOG_DEBUG = 0,
  CRPC_LOG_INFO = 1,
  CRPC_LOG_WARN = 2,
  CRPC_LOG_ERROR = 3,
  CRPC_LOG_OFF = 4
} crpc_log_level;

/*
 * Receives one formatted line, without a trailing newline.
 * Ownership: |msg| is borrowed for the duration of the call.
 * Thread: whichever thread logged; a sink shared by several loops must be
 * thread-safe.
 */
typedef void (*crpc_log_fn)(crpc_log_level level, const char *msg,
                            void *user_data);

typedef struct crpc_logger {
  crpc_log_level level; /* messages below this level are dropped */
  crpc_log_fn fn;       /* NULL: crpc_log_stderr */
  void *user_data;      /* passed to fn */
  /* A zeroed logger means level WARN; set |level_set| to use |level| as
   * given (so that DEBUG, which is 0, can be chosen). */
  int level_set;
} crpc_logger;

/* Writes "crpc <LEVEL>: <msg>\n" to stderr. Thread: any. */
CRPC_EXTERN void crpc_log_stderr(crpc_log_level level, const char *msg,
                                 void *user_data);

/* "debug", "info", "warn", "error", "off"; "unknown" for other values, so
 * the result can always be printed. Static storage. Thread: any. */
CRPC_EXTERN const char *crpc_log_level_name(crpc_log_level level);

/* Parses a name as printed by crpc_log_level_name(). Returns 0, or
 * CRPC_EINVAL and leaves |*out| untouched. Thread: any. */
CRPC_EXTERN int crpc_log_level_parse(const char *name, crpc_log_level *out);

CRPC_END_DECLS

#endif /* CRPC_LOG_H */
