/* tests/client/test_backoff.c: gRPC's backoff steps and jitter, and the
 * per-loop generator the jitter draws from. */
#include <criterion/criterion.h>

#include "backoff.h"
#include "loop_internal.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

Test(backoff, steps) {
  static const struct {
    uint32_t cur, initial, max, want;
  } cases[] = {
      {0, 1000, 120000, 1000},                 /* the first wait */
      {1000, 1000, 120000, 1600},              /* x1.6 */
      {1600, 1000, 120000, 2560},              /* x1.6 again */
      {100000, 1000, 120000, 120000},          /* capped */
      {120000, 1000, 120000, 120000},          /* stays at the cap */
      {0, 5000, 2000, 2000},                   /* an initial above the cap */
      {100, 100, UINT32_MAX, 160},             /* retries: no cap */
      {UINT32_MAX, 1, UINT32_MAX, UINT32_MAX}, /* no overflow */
  };
  for (size_t i = 0; i < COUNT(cases); i++)
    cr_assert_eq(
        crpc__backoff_step(cases[i].cur, cases[i].initial, cases[i].max),
        cases[i].want, "case %zu", i);
}

Test(backoff, the_steps_of_a_retry_policy) {
  /* max_attempts 4, retry_backoff_ms 100: 100, 160, 256 before jitter. */
  uint32_t wait = 0, want[] = {100, 160, 256};
  for (size_t i = 0; i < COUNT(want); i++) {
    wait = crpc__backoff_step(wait, 100, UINT32_MAX);
    cr_assert_eq(wait, want[i]);
  }
}

Test(backoff, jitter_stays_within_twenty_percent_and_spreads) {
  crpc_loop *loop;
  cr_assert_eq(crpc_loop_new(NULL, NULL, &loop), 0);
  uint64_t lo = UINT64_MAX, hi = 0;
  double sum = 0;
  const int n = 10000;
  for (int i = 0; i < n; i++) {
    uint64_t w = crpc__backoff_jitter(1000, loop);
    cr_assert(w >= 800 && w <= 1200, "%llu outside 1000 +-20%%",
              (unsigned long long)w);
    lo = w < lo ? w : lo;
    hi = w > hi ? w : hi;
    sum += (double)w;
  }
  /* Uniform: both ends are reached closely, the mean is near the middle. */
  cr_assert_lt(lo, 810);
  cr_assert_gt(hi, 1190);
  cr_assert(sum / n > 990 && sum / n < 1010, "mean %.1f", sum / n);
  cr_assert_eq(crpc__backoff_jitter(0, loop), 0);
  crpc_loop_free(loop);
}

Test(backoff, two_loops_draw_different_sequences) {
  crpc_loop *a, *b;
  cr_assert_eq(crpc_loop_new(NULL, NULL, &a), 0);
  cr_assert_eq(crpc_loop_new(NULL, NULL, &b), 0);
  int same = 0;
  for (int i = 0; i < 8; i++)
    same += crpc__loop_random(a) == crpc__loop_random(b);
  cr_assert_lt(same, 8, "two loops drew the same numbers");
  crpc_loop_free(a);
  crpc_loop_free(b);
}
