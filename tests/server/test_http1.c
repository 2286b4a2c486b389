/* Tests for server/http1.c: HTTP/1.x request heads as the metrics
 * endpoint reads them: whole or not yet, method and path, keep-alive by
 * version and Connection, bodies, and what is malformed. */
#include <criterion/criterion.h>
#include <string.h>

#include "http1.h"

static ssize_t parse(const char *text, crpc__http1_request *r) {
  memset(r, 0x55, sizeof(*r));
  return crpc__http1_parse(text, strlen(text), r);
}

static void assert_span(const char *p, size_t n, const char *want) {
  cr_assert_eq(n, strlen(want), "'%.*s' is not '%s'", (int)n, p, want);
  cr_assert_eq(memcmp(p, want, n), 0, "'%.*s' is not '%s'", (int)n, p, want);
}

Test(http1, prometheus_scrape, .timeout = 5) {
  const char *head = "GET /metrics HTTP/1.1\r\n"
                     "Host: 127.0.0.1:9464\r\n"
                     "User-Agent: Prometheus/2.42.0\r\n"
                     "Accept: application/openmetrics-text;version=1.0.0,"
                     "text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\n"
                     "Accept-Encoding: gzip\r\n"
                     "X-Prometheus-Scrape-Timeout-Seconds: 10\r\n"
                     "\r\n";
  crpc__http1_request r;
  cr_assert_eq(parse(head, &r), (ssize_t)strlen(head));
  assert_span(r.method, r.method_len, "GET");
  assert_span(r.path, r.path_len, "/metrics");
  cr_assert_eq(r.minor, 1);
  cr_assert_eq(r.keep_alive, 1);
  cr_assert_eq(r.has_body, 0);
}

Test(http1, incomplete_heads_need_more, .timeout = 5) {
  const char *full = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
  crpc__http1_request r;
  for (size_t n = 0; n < strlen(full); n++)
    cr_assert_eq(crpc__http1_parse(full, n, &r), 0, "at %zu bytes", n);
  cr_assert_eq(crpc__http1_parse(full, strlen(full), &r),
               (ssize_t)strlen(full));
}

Test(http1, the_next_request_starts_after_the_blank_line, .timeout = 5) {
  const char *two = "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
  crpc__http1_request r;
  ssize_t n = parse(two, &r);
  cr_assert_eq(n, 19);
  assert_span(r.path, r.path_len, "/a");
  cr_assert_eq(parse(two + n, &r), 19);
  assert_span(r.path, r.path_len, "/b");
}

Test(http1, query_is_not_part_of_the_path, .timeout = 5) {
  crpc__http1_request r;
  cr_assert_gt(parse("GET /metrics?x=1&y HTTP/1.1\r\n\r\n", &r), 0);
  assert_span(r.path, r.path_len, "/metrics");
}

Test(http1, bare_lf_and_leading_empty_lines, .timeout = 5) {
  crpc__http1_request r;
  const char *head = "\r\n\nHEAD /metrics HTTP/1.0\nConnection: keep-alive\n\n";
  cr_assert_eq(parse(head, &r), (ssize_t)strlen(head));
  assert_span(r.method, r.method_len, "HEAD");
  cr_assert_eq(r.minor, 0);
  cr_assert_eq(r.keep_alive, 1);
}

Test(http1, keep_alive_by_version_and_connection, .timeout = 5) {
  crpc__http1_request r;
  cr_assert_gt(parse("GET / HTTP/1.0\r\n\r\n", &r), 0);
  cr_assert_eq(r.keep_alive, 0);
  cr_assert_gt(parse("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n", &r), 0);
  cr_assert_eq(r.keep_alive, 0);
  cr_assert_gt(parse("GET / HTTP/1.1\r\nconnection:  TE, close \r\n\r\n", &r),
               0);
  cr_assert_eq(r.keep_alive, 0);
  cr_assert_gt(parse("GET / HTTP/1.1\r\nConnection: closed\r\n\r\n", &r), 0);
  cr_assert_eq(r.keep_alive, 1, "'closed' is not 'close'");
}

Test(http1, bodies, .timeout = 5) {
  crpc__http1_request r;
  cr_assert_gt(parse("POST /m HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &r), 0);
  cr_assert_eq(r.has_body, 0);
  cr_assert_gt(parse("POST /m HTTP/1.1\r\nContent-Length: 10\r\n\r\n", &r), 0);
  cr_assert_eq(r.has_body, 1);
  cr_assert_gt(
      parse("POST /m HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &r), 0);
  cr_assert_eq(r.has_body, 1);
}

Test(http1, malformed, .timeout = 5) {
  const char *bad[] = {
      "GET\r\n\r\n",
      "GET /metrics\r\n\r\n",
      "GET /metrics HTTP/2.0\r\n\r\n",
      "GET /metrics HTTP/1.1 \r\n\r\n",
      "GET  /metrics HTTP/1.1\r\n\r\n",
      "GET metrics HTTP/1.1\r\n\r\n",
      "G(T /metrics HTTP/1.1\r\n\r\n",
      "GET /metrics HTTP/1.1\r\nNo colon\r\n\r\n",
      "GET /metrics HTTP/1.1\r\n folded: x\r\n\r\n",
      "GET /metrics HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
      "GET /metrics HTTP/1.1\r\nContent-Length:\r\n\r\n",
  };
  crpc__http1_request r;
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    cr_assert_eq(parse(bad[i], &r), -1, "accepted: %s", bad[i]);
}
