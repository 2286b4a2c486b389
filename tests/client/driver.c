/* tests/client/driver.c: a suite's side of run-fault-tests.py. */
#define _POSIX_C_SOURCE 200809L

#include "driver.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crpc/deadline.h"

#define CTL_TIMEOUT_MS 60000

int selected(const char *name) {
  const char *t = getenv("FAULT_TEST");
  const char *dir = getenv("FAULT_CTL");
  char path[1024];
  FILE *f;

  if (t == NULL || strcmp(t, name) != 0)
    return 0;
  if (dir != NULL) {
    snprintf(path, sizeof(path), "%s/.ran", dir);
    if ((f = fopen(path, "w")) != NULL)
      fclose(f);
  }
  return 1;
}

const char *env(const char *name) {
  const char *v = getenv(name);
  cr_assert(v != NULL && v[0] != '\0', "%s is not set (run-fault-tests.py)",
            name);
  return v;
}

int64_t now_ms(void) {
  return crpc_now_ns() / 1000000;
}

void sleep_ms(int64_t ms) {
  if (ms <= 0)
    return;
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

/* Reads |path| into a new string, or NULL when it does not exist. */
static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  char *buf;
  size_t n;

  if (f == NULL)
    return NULL;
  buf = calloc(1, 256);
  cr_assert_not_null(buf);
  n = fread(buf, 1, 255, f);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

char *ctl(const char *verb) {
  char req[1024], done[1100];
  FILE *f;
  int64_t end = now_ms() + CTL_TIMEOUT_MS;

  snprintf(req, sizeof(req), "%s/%s", env("FAULT_CTL"), verb);
  snprintf(done, sizeof(done), "%s.done", req);
  f = fopen(req, "w");
  cr_assert_not_null(f, "cannot create %s", req);
  fclose(f);
  for (;;) {
    char *answer = read_file(done);
    if (answer != NULL)
      return answer;
    cr_assert(now_ms() < end, "the driver did not do '%s' within %d ms", verb,
              CTL_TIMEOUT_MS);
    sleep_ms(20);
  }
}

void ctl_do(const char *verb) {
  free(ctl(verb));
}
