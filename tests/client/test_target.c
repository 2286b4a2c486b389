/* tests/client/test_target.c: parsing channel targets. */
#include <criterion/criterion.h>
#include <string.h>

#include "crpc/error.h"
#include "target.h"

Test(target, host_port_is_dns) {
  crpc__target t;
  cr_assert_eq(crpc__target_parse("localhost:50051", &t), 0);
  cr_assert_eq(t.kind, CRPC__TARGET_DNS);
  cr_assert_str_eq(t.host, "localhost");
  cr_assert_str_eq(t.port, "50051");
  cr_assert_str_eq(t.authority, "localhost:50051");
  cr_assert_str_eq(t.tls_name, "localhost");
  crpc__target_cleanup(&t);
}

Test(target, dns_scheme_with_and_without_authority) {
  crpc__target t;
  cr_assert_eq(crpc__target_parse("dns:///example.test:443", &t), 0);
  cr_assert_str_eq(t.host, "example.test");
  cr_assert_str_eq(t.port, "443");
  crpc__target_cleanup(&t);
  cr_assert_eq(crpc__target_parse("dns://8.8.8.8/example.test:80", &t), 0);
  cr_assert_str_eq(t.host, "example.test");
  cr_assert_str_eq(t.port, "80");
  crpc__target_cleanup(&t);
  cr_assert_eq(crpc__target_parse("dns:example.test:81", &t), 0);
  cr_assert_str_eq(t.port, "81");
  crpc__target_cleanup(&t);
}

Test(target, missing_port_is_443) {
  crpc__target t;
  cr_assert_eq(crpc__target_parse("example.test", &t), 0);
  cr_assert_str_eq(t.port, "443");
  cr_assert_str_eq(t.authority, "example.test:443");
  crpc__target_cleanup(&t);
}

Test(target, bracketed_ipv6_host) {
  crpc__target t;
  cr_assert_eq(crpc__target_parse("[::1]:9000", &t), 0);
  cr_assert_eq(t.kind, CRPC__TARGET_DNS);
  cr_assert_str_eq(t.host, "::1");
  cr_assert_str_eq(t.authority, "[::1]:9000");
  cr_assert_str_eq(t.tls_name, "::1");
  crpc__target_cleanup(&t);
}

Test(target, ipv4_list) {
  crpc__target t;
  cr_assert_eq(crpc__target_parse("ipv4:127.0.0.1:1001,127.0.0.2:1002", &t), 0);
  cr_assert_eq(t.kind, CRPC__TARGET_ADDRS);
  cr_assert_eq(t.n_addrs, 2);
  cr_assert_str_eq(t.addrs[0].name, "127.0.0.1:1001");
  cr_assert_str_eq(t.addrs[1].name, "127.0.0.2:1002");
  cr_assert_eq(t.addrs[1].ss.ss_family, AF_INET);
  cr_assert_str_eq(t.authority, "127.0.0.1:1001");
  cr_assert_str_eq(t.tls_name, "127.0.0.1");
  crpc__target_cleanup(&t);
}

Test(target, ipv6_list) {
  crpc__target t;
  cr_assert_eq(crpc__target_parse("ipv6:[::1]:1001,[::1]:1002", &t), 0);
  cr_assert_eq(t.n_addrs, 2);
  cr_assert_str_eq(t.addrs[0].name, "[::1]:1001");
  cr_assert_eq(t.addrs[0].ss.ss_family, AF_INET6);
  cr_assert_str_eq(t.tls_name, "::1");
  crpc__target_cleanup(&t);
}

Test(target, unix_paths) {
  crpc__target t;
  cr_assert_eq(crpc__target_parse("unix:/tmp/s.sock", &t), 0);
  cr_assert_eq(t.kind, CRPC__TARGET_UNIX);
  cr_assert(t.addrs[0].is_unix);
  cr_assert_str_eq(t.addrs[0].path, "/tmp/s.sock");
  cr_assert_str_eq(t.authority, "localhost");
  crpc__target_cleanup(&t);
  cr_assert_eq(crpc__target_parse("unix:///tmp/s.sock", &t), 0);
  cr_assert_str_eq(t.addrs[0].path, "/tmp/s.sock");
  crpc__target_cleanup(&t);
}

Test(target, bad_targets_are_einval) {
  static const char *bad[] = {
      "",
      "host:0",
      "host:65536",
      "host:x",
      "::1:80",
      "[::1",
      "ipv4:1.2.3.4",
      "ipv4:1.2.3.4:80,",
      "ipv4:[::1]:80",
      "ipv6:::1:80",
      "ipv4:300.1.1.1:80",
      "unix:",
      "dns://x",
      "host:123456",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    crpc__target t;
    cr_assert_eq(crpc__target_parse(bad[i], &t), CRPC_EINVAL, "%s", bad[i]);
  }
  crpc__target t;
  cr_assert_eq(crpc__target_parse(NULL, &t), CRPC_EINVAL);
}
