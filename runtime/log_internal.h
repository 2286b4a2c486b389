/* runtime/log_internal.h: formatting front end for crpc_logger. */
#ifndef CRPC_LOG_INTERNAL_H
#define CRPC_LOG_INTERNAL_H

#include "crpc/log.h"

/* Nonzero when |lg| (NULL means the default logger) passes |level|. */
int crpc__log_enabled(const crpc_logger *lg, crpc_log_level level);

/*
 * Formats and emits one line through |lg| (NULL: the default logger) when
 * |level| passes its threshold; formatting is skipped otherwise. Lines are
 * cut at 1 KiB. Thread: any.
 */
void crpc__log(const crpc_logger *lg, crpc_log_level level, const char *fmt,
               ...) __attribute__((format(printf, 3, 4)));

#endif /* CRPC_LOG_INTERNAL_H */
