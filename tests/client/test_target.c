/* tests/client/test_target.c: parsing channel targets. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

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

Test(target, bracketed_ipv6_host_is_a_literal_address) {
  crpc__target t;
  cr_assert_eq(crpc__target_parse("[::1]:9000", &t), 0);
  cr_assert_eq(t.kind, CRPC__TARGET_ADDRS);
  cr_assert_eq(t.n_addrs, 1);
  cr_assert_str_eq(t.addrs[0].name, "[::1]:9000");
  cr_assert_eq(t.addrs[0].ss.ss_family, AF_INET6);
  cr_assert_str_eq(t.host, "::1");
  cr_assert_str_eq(t.authority, "[::1]:9000");
  cr_assert_str_eq(t.tls_name, "::1");
  crpc__target_cleanup(&t);
}

/* A numeric host is never looked up, with or without dns:, and keeps the
 * authority and TLS name a name would have. */
Test(target, numeric_host_is_a_literal_address) {
  static const char *cases[][3] = {
      {"127.0.0.1:50051", "127.0.0.1:50051", "127.0.0.1:50051"},
      {"dns:///127.0.0.2:80", "127.0.0.2:80", "127.0.0.2:80"},
      {"10.1.2.3", "10.1.2.3:443", "10.1.2.3:443"},
      {"dns:[::1]:7", "[::1]:7", "[::1]:7"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    crpc__target t;
    cr_assert_eq(crpc__target_parse(cases[i][0], &t), 0, "%s", cases[i][0]);
    cr_assert_eq(t.kind, CRPC__TARGET_ADDRS, "%s", cases[i][0]);
    cr_assert_eq(t.n_addrs, 1);
    cr_assert_str_eq(t.addrs[0].name, cases[i][1]);
    cr_assert_str_eq(t.authority, cases[i][2]);
    crpc__target_cleanup(&t);
  }
  crpc__target t;
  cr_assert_eq(crpc__target_parse("127.0.0.1.example:80", &t), 0);
  cr_assert_eq(t.kind, CRPC__TARGET_DNS);
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

/* Addresses, as a lookup gives them. */

static crpc__addr v4(const char *ip, int port) {
  struct sockaddr_in in;
  crpc__addr a;
  cr_assert_eq(uv_ip4_addr(ip, port, &in), 0);
  cr_assert_eq(crpc__addr_from_sockaddr(&a, (struct sockaddr *)&in), 0);
  return a;
}

static crpc__addr v6(const char *ip, int port, unsigned scope) {
  struct sockaddr_in6 in;
  crpc__addr a;
  cr_assert_eq(uv_ip6_addr(ip, port, &in), 0);
  in.sin6_scope_id = scope;
  cr_assert_eq(crpc__addr_from_sockaddr(&a, (struct sockaddr *)&in), 0);
  return a;
}

Test(target, addr_equal_compares_address_port_and_scope) {
  crpc__addr a = v4("127.0.0.2", 80), b = v4("127.0.0.2", 80);
  crpc__addr c = v4("127.0.0.3", 80), d = v4("127.0.0.2", 81);
  cr_assert(crpc__addr_equal(&a, &b));
  cr_assert_not(crpc__addr_equal(&a, &c));
  cr_assert_not(crpc__addr_equal(&a, &d));
  crpc__addr e = v6("fe80::1", 80, 1), f = v6("fe80::1", 80, 2);
  crpc__addr g = v6("fe80::1", 80, 1), m = v6("::ffff:127.0.0.2", 80, 0);
  cr_assert(crpc__addr_equal(&e, &g));
  cr_assert_not(crpc__addr_equal(&e, &f));
  cr_assert_not(crpc__addr_equal(&a, &m)); /* another family */
  crpc__target u1, u2;
  cr_assert_eq(crpc__target_parse("unix:/tmp/a.sock", &u1), 0);
  cr_assert_eq(crpc__target_parse("unix:/tmp/a.sock", &u2), 0);
  cr_assert(crpc__addr_equal(&u1.addrs[0], &u2.addrs[0]));
  cr_assert_not(crpc__addr_equal(&u1.addrs[0], &a));
  crpc__target_cleanup(&u1);
  crpc__target_cleanup(&u2);
}

Test(target, addrinfo_answer_keeps_order_and_drops_repeats) {
  struct sockaddr_in a, b;
  struct sockaddr_in6 c;
  struct sockaddr_un u;
  cr_assert_eq(uv_ip4_addr("127.0.0.3", 9, &a), 0);
  cr_assert_eq(uv_ip4_addr("127.0.0.2", 9, &b), 0);
  cr_assert_eq(uv_ip6_addr("::1", 9, &c), 0);
  memset(&u, 0, sizeof(u));
  u.sun_family = AF_UNIX;
  /* One address per socket type, as getaddrinfo() gives without hints;
   * a family crpc does not connect to is left out. */
  struct addrinfo ai[6];
  const struct sockaddr *sa[6] = {(struct sockaddr *)&a, (struct sockaddr *)&a,
                                  (struct sockaddr *)&u, (struct sockaddr *)&c,
                                  (struct sockaddr *)&b, (struct sockaddr *)&c};
  memset(ai, 0, sizeof(ai));
  for (int i = 0; i < 6; i++) {
    ai[i].ai_addr = (struct sockaddr *)sa[i];
    ai[i].ai_next = i < 5 ? &ai[i + 1] : NULL;
  }
  crpc__addr *out = NULL;
  size_t n = 99;
  cr_assert_eq(crpc__addrs_from_addrinfo(ai, &out, &n), 0);
  cr_assert_eq(n, 3);
  cr_assert_str_eq(out[0].name, "127.0.0.3:9");
  cr_assert_str_eq(out[1].name, "[::1]:9");
  cr_assert_str_eq(out[2].name, "127.0.0.2:9");
  free(out);
  cr_assert_eq(crpc__addrs_from_addrinfo(NULL, &out, &n), 0);
  cr_assert_eq(n, 0);
  free(out);
}

Test(target, diff_matches_by_address_not_order) {
  crpc__addr a = v4("127.0.0.2", 80), b = v4("127.0.0.3", 80);
  crpc__addr c = v4("127.0.0.4", 80);
  const crpc__addr *cur[] = {&a, &b};
  crpc__addr next[] = {c, v4("127.0.0.2", 80)};
  size_t found[2];
  unsigned char kept[2];
  cr_assert_eq(crpc__addrs_diff(cur, 2, next, 2, found, kept), 1);
  cr_assert_eq(found[0], SIZE_MAX); /* c is new */
  cr_assert_eq(found[1], 0);        /* a stays */
  cr_assert(kept[0]);
  cr_assert_not(kept[1]); /* b is gone */
}

Test(target, diff_of_the_same_list_changes_nothing) {
  crpc__addr a = v4("127.0.0.2", 80), b = v6("::1", 80, 0);
  const crpc__addr *cur[] = {&a, &b};
  crpc__addr next[] = {b, a};
  size_t found[2];
  unsigned char kept[2] = {7, 7};
  cr_assert_eq(crpc__addrs_diff(cur, 2, next, 2, found, kept), 0);
  cr_assert_eq(found[0], 1);
  cr_assert_eq(found[1], 0);
  cr_assert(kept[0] && kept[1]);
}

Test(target, diff_from_nothing_and_to_another_port) {
  crpc__addr a = v4("127.0.0.2", 80);
  crpc__addr next[] = {a};
  size_t found[1];
  unsigned char kept[1];
  cr_assert_eq(crpc__addrs_diff(NULL, 0, next, 1, found, kept), 0);
  cr_assert_eq(found[0], SIZE_MAX);
  const crpc__addr *cur[] = {&a};
  crpc__addr other[] = {v4("127.0.0.2", 81)};
  cr_assert_eq(crpc__addrs_diff(cur, 1, other, 1, found, kept), 1);
  cr_assert_eq(found[0], SIZE_MAX);
  cr_assert_not(kept[0]);
}
