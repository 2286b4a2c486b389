/*
 * tests/server/empty_module.c: modules crpc-server must refuse, for
 * check-crpc-server-cli.sh. Built twice: crpc_test_empty_module's init
 * succeeds without adding a service; crpc_test_failing_module's (built with
 * CRPC_TEST_MODULE_FAILS) fails with CRPC_EINVAL.
 */
#include <crpc/error.h>
#include <crpc/server.h>

static int init(crpc_module *m) {
  (void)m;
#ifdef CRPC_TEST_MODULE_FAILS
  return CRPC_EINVAL;
#else
  return 0;
#endif
}

CRPC_MODULE(init)
