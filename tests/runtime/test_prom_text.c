/* Tests for runtime/prom_text.c: Prometheus's text exposition format,
 * written into a buffer: HELP and TYPE lines with help text escaped,
 * label pairs with values escaped, samples with and without labels,
 * sums of microseconds, Go's names of the codes, and the buffer's limit.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "crpc/error.h"
#include "prom_text.h"

/* |b|'s content as a string (it holds no NUL). */
static const char *str(crpc__buf *b) {
  cr_assert_eq(crpc__buf_append(b, "", 1), 0);
  crpc__buf_truncate(b, crpc__buf_len(b) - 1);
  return (const char *)crpc__buf_data(b);
}

Test(prom_text, family_lines_escape_help, .timeout = 5) {
  crpc__buf b;
  crpc__buf_init(&b, SIZE_MAX);
  cr_assert_eq(crpc__prom_family(&b, "x_total", "a \\ b\nc \"d\"", "counter"),
               0);
  /* In HELP a backslash and a newline are escaped, a double quote is not. */
  cr_assert_str_eq(str(&b), "# HELP x_total a \\\\ b\\nc \"d\"\n"
                            "# TYPE x_total counter\n");
  crpc__buf_cleanup(&b);
}

Test(prom_text, label_values_escape_backslash_quote_newline, .timeout = 5) {
  crpc__buf b;
  crpc__buf_init(&b, SIZE_MAX);
  const char v[] = "a\\b\"c\nd\te";
  cr_assert_eq(crpc__prom_label(&b, "k", v, sizeof(v) - 1), 0);
  cr_assert_str_eq(str(&b), "k=\"a\\\\b\\\"c\\nd\te\"");
  crpc__buf_reset(&b);
  cr_assert_eq(crpc__prom_label(&b, "empty", "", 0), 0);
  cr_assert_str_eq(str(&b), "empty=\"\"");
  crpc__buf_reset(&b);
  /* Only the |n| bytes given. */
  cr_assert_eq(crpc__prom_label(&b, "k", "abcdef", 3), 0);
  cr_assert_str_eq(str(&b), "k=\"abc\"");
  crpc__buf_cleanup(&b);
}

Test(prom_text, samples, .timeout = 5) {
  crpc__buf b;
  crpc__buf_init(&b, SIZE_MAX);
  cr_assert_eq(crpc__prom_sample(&b, "up", NULL, NULL, 1), 0);
  cr_assert_eq(crpc__prom_sample(&b, "up", NULL, "", 0), 0);
  cr_assert_eq(crpc__prom_sample(&b, "h", "_bucket", "le=\"+Inf\"", UINT64_MAX),
               0);
  cr_assert_eq(crpc__prom_sample_micros(&b, "h", "_sum", "a=\"b\"", 0), 0);
  cr_assert_eq(crpc__prom_sample_micros(&b, "h", "_sum", NULL, 1), 0);
  cr_assert_eq(crpc__prom_sample_micros(&b, "h", "_sum", NULL, 12345678901), 0);
  cr_assert_str_eq(str(&b), "up 1\n"
                            "up 0\n"
                            "h_bucket{le=\"+Inf\"} 18446744073709551615\n"
                            "h_sum{a=\"b\"} 0.000000\n"
                            "h_sum 0.000001\n"
                            "h_sum 12345.678901\n");
  crpc__buf_cleanup(&b);
}

Test(prom_text, go_code_names, .timeout = 5) {
  static const char *const want[] = {"OK",
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
                                     "Unauthenticated"};
  for (int i = 0; i < 17; i++)
    cr_assert_str_eq(crpc__prom_code_name(i), want[i]);
  cr_assert_str_eq(crpc__prom_code_name(-1), "Unknown");
  cr_assert_str_eq(crpc__prom_code_name(17), "Unknown");
}

Test(prom_text, a_full_buffer_says_so, .timeout = 5) {
  crpc__buf b;
  crpc__buf_init(&b, 10);
  cr_assert_eq(crpc__prom_family(&b, "long_name_total", "help", "counter"),
               CRPC_ETOOBIG);
  crpc__buf_reset(&b);
  cr_assert_eq(crpc__prom_sample(&b, "a_long_name", NULL, NULL, 1),
               CRPC_ETOOBIG);
  crpc__buf_cleanup(&b);
}
