/*
 * tests/fuzz/fuzz_target.c: libFuzzer target for a channel's target
 * string (client/target.c), which an application often takes from its
 * user or configuration: the input is the target. What parses has what
 * its kind promises: a host and a port in 1-65535 to resolve, or at least
 * one address, and an authority.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crpc/error.h"
#include "target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (!s)
    abort();
  memcpy(s, data, size);
  s[size] = '\0';
  crpc__target t;
  int rc = crpc__target_parse(s, &t);
  if (rc == 0) {
    if (!t.authority || !t.tls_name)
      abort();
    if (t.kind == CRPC__TARGET_DNS) {
      long port = strtol(t.port, NULL, 10);
      if (!t.host || port < 1 || port > 65535)
        abort();
    } else if (t.n_addrs == 0 || !t.addrs ||
               (t.kind == CRPC__TARGET_UNIX) != (t.addrs[0].is_unix != 0)) {
      abort();
    }
    for (size_t i = 0; i < t.n_addrs; i++)
      if (memchr(t.addrs[i].name, '\0', sizeof(t.addrs[i].name)) == NULL ||
          memchr(t.addrs[i].path, '\0', sizeof(t.addrs[i].path)) == NULL)
        abort();
    crpc__target_cleanup(&t);
  } else if (rc != CRPC_EINVAL && rc != CRPC_ENOMEM) {
    abort();
  }
  free(s);
  return 0;
}
