/*
 * tests/client/driver.h: a suite's side of run-fault-tests.py, which runs
 * one test of the suite at a time (FAULT_TEST names it), says where its
 * servers are in FAULT_* (and DNS_*) variables, and acts on the servers
 * when the test asks: the test creates FAULT_CTL/<verb> and waits for
 * FAULT_CTL/<verb>.done, whose content is the driver's answer.
 */
#ifndef CRPC_TESTS_CLIENT_DRIVER_H
#define CRPC_TESTS_CLIENT_DRIVER_H

#include <stdint.h>

/* Criterion skips a test the driver did not select; the runner of TSan
 * builds has no skip and counts it as passed. */
#ifdef cr_skip_test
#define SKIP() cr_skip_test("not selected by FAULT_TEST")
#else
#define SKIP() return
#endif
#define SELECT(name)                                                           \
  do {                                                                         \
    if (!selected(name))                                                       \
      SKIP();                                                                  \
  } while (0)

/* Whether the driver asked for |name|; if so, tells it the test ran (a
 * filter that matched nothing must not pass for a test that passed). */
int selected(const char *name);

/* The value of the variable |name|, which the driver must have set. */
const char *env(const char *name);

int64_t now_ms(void);
void sleep_ms(int64_t ms);

/* Asks the driver to do |verb| and waits until it has; returns its answer
 * (caller frees). */
char *ctl(const char *verb);

/* ctl() without the answer. */
void ctl_do(const char *verb);

#endif /* CRPC_TESTS_CLIENT_DRIVER_H */
