/* runtime/log.c: log levels, the stderr sink and the formatting front end. */
#include "log_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "crpc/error.h"

static const char *const level_names[] = {"debug", "info", "warn", "error",
                                          "off"};

const char *crpc_log_level_name(crpc_log_level level) {
  if ((int)level < 0 || (int)level > CRPC_LOG_OFF)
    return "unknown";
  return level_names[level];
}

int crpc_log_level_parse(const char *name, crpc_log_level *out) {
  if (name == NULL)
    return CRPC_EINVAL;
  for (int i = 0; i <= CRPC_LOG_OFF; i++) {
    if (strcmp(name, level_names[i]) == 0) {
      *out = (crpc_log_level)i;
      return 0;
    }
  }
  if (strcmp(name, "warning") == 0) {
    *out = CRPC_LOG_WARN;
    return 0;
  }
  return CRPC_EINVAL;
}

void crpc_log_stderr(crpc_log_level level, const char *msg, void *user_data) {
  (void)user_data;
  fprintf(stderr, "crpc %s: %s\n", crpc_log_level_name(level), msg);
}

static crpc_log_level threshold(const crpc_logger *lg) {
  if (lg == NULL || !lg->level_set)
    return CRPC_LOG_WARN;
  return lg->level;
}

int crpc__log_enabled(const crpc_logger *lg, crpc_log_level level) {
  return level != CRPC_LOG_OFF && level >= threshold(lg);
}

void crpc__log(const crpc_logger *lg, crpc_log_level level, const char *fmt,
               ...) {
  char line[1024];
  va_list ap;

  if (!crpc__log_enabled(lg, level))
    return;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  if (lg != NULL && lg->fn != NULL)
    lg->fn(level, line, lg->user_data);
  else
    crpc_log_stderr(level, line, NULL);
}
