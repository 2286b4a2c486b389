/*
 * tests/support/tsan/criterion/criterion.h: the subset of Criterion's API
 * that crpc's suites use, for ThreadSanitizer builds only.
 *
 * Criterion's runner cannot start under ThreadSanitizer (its inheritable
 * arena collides with TSan's memory layout; Snaipe/Criterion#274), so TSan
 * builds compile the same test sources against this header and runner.c,
 * which run each test in a forked child with the same options.
 */
#ifndef CRPC_TSAN_CRITERION_H
#define CRPC_TSAN_CRITERION_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct crshim_opts {
  int unused; /* lets `{0, __VA_ARGS__}` take an empty option list */
  double timeout;
  int signal;
  int exit_code;
  void (*init)(void);
  void (*fini)(void);
  const char *description;
  int disabled;
};

struct crshim_test {
  const char *suite;
  const char *name;
  void (*fn)(void);
  struct crshim_opts opts;
  struct crshim_test *next;
};

struct crshim_suite {
  const char *name;
  struct crshim_opts opts;
  struct crshim_suite *next;
};

void crshim_register_test(struct crshim_test *t);
void crshim_register_suite(struct crshim_suite *s);
void crshim_fail(const char *file, int line, const char *expr, const char *fmt,
                 ...) __attribute__((noreturn));

#define Test(suite, name, ...)                                                 \
  static void suite##_##name##_impl(void);                                     \
  static struct crshim_test suite##_##name##_shim = {                          \
      #suite, #name, suite##_##name##_impl, {0, __VA_ARGS__}, NULL};           \
  __attribute__((constructor)) static void suite##_##name##_reg(void) {        \
    crshim_register_test(&suite##_##name##_shim);                              \
  }                                                                            \
  static void suite##_##name##_impl(void)

#define TestSuite(suite, ...)                                                  \
  static struct crshim_suite suite##_suite_shim = {                            \
      #suite, {0, __VA_ARGS__}, NULL};                                         \
  __attribute__((constructor)) static void suite##_suite_reg(void) {           \
    crshim_register_suite(&suite##_suite_shim);                                \
  }                                                                            \
  struct crshim_suite_unused_##suite

#define cr_assert(cond, ...)                                                   \
  do {                                                                         \
    if (!(cond))                                                               \
      crshim_fail(__FILE__, __LINE__, #cond, "" __VA_ARGS__);                  \
  } while (0)
#define cr_assert_fail(...)                                                    \
  crshim_fail(__FILE__, __LINE__, "cr_assert_fail", "" __VA_ARGS__)
#define cr_assert_not(cond, ...) cr_assert(!(cond), __VA_ARGS__)
#define cr_assert_eq(a, b, ...) cr_assert((a) == (b), __VA_ARGS__)
#define cr_assert_neq(a, b, ...) cr_assert((a) != (b), __VA_ARGS__)
#define cr_assert_lt(a, b, ...) cr_assert((a) < (b), __VA_ARGS__)
#define cr_assert_leq(a, b, ...) cr_assert((a) <= (b), __VA_ARGS__)
#define cr_assert_gt(a, b, ...) cr_assert((a) > (b), __VA_ARGS__)
#define cr_assert_geq(a, b, ...) cr_assert((a) >= (b), __VA_ARGS__)
#define cr_assert_null(p, ...) cr_assert((p) == NULL, __VA_ARGS__)
#define cr_assert_not_null(p, ...) cr_assert((p) != NULL, __VA_ARGS__)
#define cr_assert_str_eq(a, b, ...)                                            \
  cr_assert(strcmp((a), (b)) == 0, __VA_ARGS__)
#define cr_assert_str_neq(a, b, ...)                                           \
  cr_assert(strcmp((a), (b)) != 0, __VA_ARGS__)
#define cr_assert_arr_eq(a, b, size, ...)                                      \
  cr_assert(memcmp((a), (b), (size)) == 0, __VA_ARGS__)
#define cr_assert_arr_neq(a, b, size, ...)                                     \
  cr_assert(memcmp((a), (b), (size)) != 0, __VA_ARGS__)

#endif /* CRPC_TSAN_CRITERION_H */
