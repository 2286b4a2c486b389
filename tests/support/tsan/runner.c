/*
 * tests/support/tsan/runner.c: runs the tests registered through the
 * Criterion-compatible header, each in a forked child, and ends with the
 * line "N passed, M failed". Command-line arguments are ignored.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <unistd.h>

static struct crshim_test *tests;
static struct crshim_test **tests_tail = &tests;
static struct crshim_suite *suites;

void crshim_register_test(struct crshim_test *t) {
  *tests_tail = t;
  tests_tail = &t->next;
}

void crshim_register_suite(struct crshim_suite *s) {
  s->next = suites;
  suites = s;
}

void crshim_fail(const char *file, int line, const char *expr, const char *fmt,
                 ...) {
  va_list ap;
  fprintf(stderr, "%s:%d: assertion failed: %s", file, line, expr);
  if (fmt[0] != '\0') {
    fputs(": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
  }
  fputc('\n', stderr);
  exit(1);
}

static const struct crshim_suite *suite_of(const struct crshim_test *t) {
  for (const struct crshim_suite *s = suites; s != NULL; s = s->next)
    if (strcmp(s->name, t->suite) == 0)
      return s;
  return NULL;
}

static struct crshim_opts effective(const struct crshim_test *t) {
  struct crshim_opts o = t->opts;
  const struct crshim_suite *s = suite_of(t);
  if (s != NULL) {
    if (o.timeout == 0)
      o.timeout = s->opts.timeout;
    if (o.init == NULL)
      o.init = s->opts.init;
    if (o.fini == NULL)
      o.fini = s->opts.fini;
  }
  return o;
}

static void run_child(const struct crshim_test *t,
                      const struct crshim_opts *o) {
  if (o->timeout > 0)
    alarm((unsigned)ceil(o->timeout));
  if (o->init)
    o->init();
  t->fn();
  if (o->fini)
    o->fini();
  fflush(NULL);
  exit(0);
}

static int judge(int status, const struct crshim_opts *o, char *why, size_t n) {
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    if (o->signal != 0 && sig == o->signal)
      return 1;
    snprintf(why, n, "%s", sig == SIGALRM ? "timed out" : strsignal(sig));
    return 0;
  }
  int code = WEXITSTATUS(status);
  if (o->signal == 0 && code == o->exit_code)
    return 1;
  snprintf(why, n, "exit status %d", code);
  return 0;
}

int main(void) {
  int passed = 0, failed = 0;
  for (struct crshim_test *t = tests; t != NULL; t = t->next) {
    struct crshim_opts o = effective(t);
    char why[128] = "";
    if (o.disabled)
      continue;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
      run_child(t, &o);
    int status = 0;
    waitpid(pid, &status, 0);
    if (judge(status, &o, why, sizeof(why))) {
      passed++;
      printf("[PASS] %s::%s\n", t->suite, t->name);
    } else {
      failed++;
      printf("[FAIL] %s::%s: %s\n", t->suite, t->name, why);
    }
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
