/* Tests for runtime/log.c: levels, thresholds and sinks. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "crpc/error.h"
#include "log_internal.h"

typedef struct sink {
  int calls;
  crpc_log_level level;
  char last[2048];
} sink;

static void capture(crpc_log_level level, const char *msg, void *ud) {
  sink *s = ud;
  s->calls++;
  s->level = level;
  snprintf(s->last, sizeof(s->last), "%s", msg);
}

Test(log, level_names_round_trip, .timeout = 10) {
  for (int l = CRPC_LOG_DEBUG; l <= CRPC_LOG_OFF; l++) {
    crpc_log_level back;
    cr_assert_eq(crpc_log_level_parse(crpc_log_level_name(l), &back), 0);
    cr_assert_eq((int)back, l);
  }
  crpc_log_level out = CRPC_LOG_INFO;
  cr_assert_eq(crpc_log_level_parse("loud", &out), CRPC_EINVAL);
  cr_assert_eq(out, CRPC_LOG_INFO);
  cr_assert_eq(crpc_log_level_parse(NULL, &out), CRPC_EINVAL);
  cr_assert_str_eq(crpc_log_level_name(99), "unknown");
  cr_assert_str_eq(crpc_log_level_name((crpc_log_level)-1), "unknown");
  crpc_log_level l;
  cr_assert_eq(crpc_log_level_parse("unknown", &l), CRPC_EINVAL);
}

Test(log, threshold_filters_and_formats, .timeout = 10) {
  sink s = {0};
  crpc_logger lg = {
      .level = CRPC_LOG_INFO, .level_set = 1, .fn = capture, .user_data = &s};
  crpc__log(&lg, CRPC_LOG_DEBUG, "dropped %d", 1);
  cr_assert_eq(s.calls, 0);
  crpc__log(&lg, CRPC_LOG_WARN, "kept %d %s", 2, "x");
  cr_assert_eq(s.calls, 1);
  cr_assert_eq(s.level, CRPC_LOG_WARN);
  cr_assert_str_eq(s.last, "kept 2 x");
  lg.level = CRPC_LOG_OFF;
  crpc__log(&lg, CRPC_LOG_ERROR, "off");
  cr_assert_eq(s.calls, 1);
}

Test(log, zeroed_logger_means_warn, .timeout = 10) {
  crpc_logger lg = {0};
  cr_assert_not(crpc__log_enabled(&lg, CRPC_LOG_INFO));
  cr_assert(crpc__log_enabled(&lg, CRPC_LOG_WARN));
  cr_assert(crpc__log_enabled(NULL, CRPC_LOG_ERROR));
  lg.level_set = 1; /* level DEBUG (0) chosen explicitly */
  cr_assert(crpc__log_enabled(&lg, CRPC_LOG_DEBUG));
}

Test(log, long_lines_are_cut, .timeout = 10) {
  sink s = {0};
  crpc_logger lg = {.fn = capture, .user_data = &s};
  char big[3000];
  memset(big, 'a', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  crpc__log(&lg, CRPC_LOG_ERROR, "%s", big);
  cr_assert_eq(strlen(s.last), 1023);
}
