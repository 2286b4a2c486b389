/* Tests for runtime/metrics.c: what the registry's interceptor counts and
 * the page it writes: families, labels and their escaping, Go's code
 * names, histogram buckets, sides, order, growth, its limit, and counts
 * made from many threads at once. The hooks are driven directly, as a
 * server or a channel would run them. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "crpc/error.h"
#include "crpc/metrics.h"
#include "icall.h"
#include "prom_text.h"

static const crpc_method say_hello = {.name = "SayHello",
                                      .path = "/demo.Greeter/SayHello",
                                      .kind = CRPC_METHOD_UNARY};
static const crpc_method list = {.name = "List",
                                 .path = "/demo.Greeter/List",
                                 .kind = CRPC_METHOD_SERVER_STREAMING};
static const crpc_method upload = {.name = "Upload",
                                   .path = "/demo.Store/Upload",
                                   .kind = CRPC_METHOD_CLIENT_STREAMING};
static const crpc_method chat = {.name = "Chat",
                                 .path = "/alpha.Chat/Chat",
                                 .kind = CRPC_METHOD_BIDI_STREAMING};

static crpc_metrics *new_metrics(void) {
  crpc_metrics *m = NULL;
  cr_assert_eq(crpc_metrics_new(&m), 0);
  cr_assert_not_null(m);
  return m;
}

/* One call of |method| on |side| through |m|'s interceptor: start, then
 * end with |code|, |ms| milliseconds and the messages each way. */
static void call_ns(crpc_metrics *m, const crpc_method *method, crpc_side side,
                    crpc_status code, int64_t ns, uint64_t received,
                    uint64_t sent) {
  crpc_interceptor ic = crpc_metrics_interceptor(m);
  cr_assert_eq(ic.data, m);
  cr_assert_not_null(ic.start);
  cr_assert_not_null(ic.end);
  cr_assert_geq(ic.state_size, sizeof(void *));
  crpc_icall call = {.side = side, .method = method};
  unsigned char state[64] = {0};
  cr_assert_eq(ic.start(ic.data, &call, state), CRPC_STATUS_OK);
  crpc_icall_end end = {.code = code,
                        .duration_ns = ns,
                        .messages_received = received,
                        .messages_sent = sent};
  ic.end(ic.data, &call, state, &end);
}

static void call(crpc_metrics *m, const crpc_method *method, crpc_side side,
                 crpc_status code, int64_t ms, uint64_t received,
                 uint64_t sent) {
  call_ns(m, method, side, code, ms * 1000000, received, sent);
}

/* The page, which the caller frees. */
static char *page(crpc_metrics *m) {
  char *text = NULL;
  size_t len = 0;
  cr_assert_eq(crpc_metrics_text(m, &text, &len), 0);
  cr_assert_not_null(text);
  cr_assert_eq(strlen(text), len, "the page is NUL-terminated at |len|");
  return text;
}

static void assert_has(const char *text, const char *line) {
  cr_assert_not_null(strstr(text, line), "no '%s' in:\n%s", line, text);
}

static void assert_lacks(const char *text, const char *what) {
  cr_assert_null(strstr(text, what), "'%s' in:\n%s", what, text);
}

Test(metrics, empty_registry_writes_an_empty_page, .timeout = 10) {
  crpc_metrics *m = new_metrics();
  char *text = page(m);
  cr_assert_str_eq(text, "");
  free(text);
  crpc_metrics_free(m);
  crpc_metrics_free(NULL);
}

Test(metrics, one_unary_call_exactly, .timeout = 10) {
  crpc_metrics *m = new_metrics();
  call(m, &say_hello, CRPC_SIDE_SERVER, CRPC_STATUS_OK, 3, 1, 1);
  char *text = page(m);
  const char *want =
      "# HELP grpc_server_started_total Total number of RPCs started on the "
      "server.\n"
      "# TYPE grpc_server_started_total counter\n"
      "grpc_server_started_total{grpc_method=\"SayHello\",grpc_service=\"demo."
      "Greeter\",grpc_type=\"unary\"} 1\n"
      "# HELP grpc_server_handled_total Total number of RPCs completed on the "
      "server, regardless of success or failure.\n"
      "# TYPE grpc_server_handled_total counter\n"
      "grpc_server_handled_total{grpc_code=\"OK\",grpc_method=\"SayHello\","
      "grpc_service=\"demo.Greeter\",grpc_type=\"unary\"} 1\n"
      "# HELP grpc_server_msg_received_total Total number of RPC stream "
      "messages received on the server.\n"
      "# TYPE grpc_server_msg_received_total counter\n"
      "grpc_server_msg_received_total{grpc_method=\"SayHello\",grpc_service="
      "\"demo.Greeter\",grpc_type=\"unary\"} 1\n"
      "# HELP grpc_server_msg_sent_total Total number of gRPC stream messages "
      "sent by the server.\n"
      "# TYPE grpc_server_msg_sent_total counter\n"
      "grpc_server_msg_sent_total{grpc_method=\"SayHello\",grpc_service="
      "\"demo.Greeter\",grpc_type=\"unary\"} 1\n"
      "# HELP grpc_server_handling_seconds Histogram of response latency "
      "(seconds) of gRPC that had been application-level handled by the "
      "server.\n"
      "# TYPE grpc_server_handling_seconds histogram\n";
  cr_assert_eq(strncmp(text, want, strlen(want)), 0, "got:\n%s", text);
  const char *buckets[] = {"0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
                           "0.5",   "1",    "2.5",   "5",    "10",  "+Inf"};
  const char *p = text + strlen(want);
  for (size_t i = 0; i < sizeof(buckets) / sizeof(buckets[0]); i++) {
    char line[256];
    snprintf(line, sizeof(line),
             "grpc_server_handling_seconds_bucket{grpc_method=\"SayHello\","
             "grpc_service=\"demo.Greeter\",grpc_type=\"unary\",le=\"%s\"} "
             "1\n",
             buckets[i]);
    cr_assert_eq(strncmp(p, line, strlen(line)), 0, "want %s at:\n%s", line, p);
    p += strlen(line);
  }
  cr_assert_str_eq(p, "grpc_server_handling_seconds_sum{grpc_method="
                      "\"SayHello\",grpc_service=\"demo.Greeter\",grpc_type="
                      "\"unary\"} 0.003000\n"
                      "grpc_server_handling_seconds_count{grpc_method="
                      "\"SayHello\",grpc_service=\"demo.Greeter\",grpc_type="
                      "\"unary\"} 1\n");
  /* No client call: no client family, not even its HELP. */
  assert_lacks(text, "grpc_client");
  free(text);
  crpc_metrics_free(m);
}

/* The names themselves are test_prom_text.c's. */
Test(metrics, codes_have_go_names_in_numeric_order, .timeout = 10) {
  crpc_metrics *m = new_metrics();
  /* Ended in reverse order, twice for odd codes. */
  for (int code = 16; code >= 0; code--)
    for (int k = 0; k < 1 + code % 2; k++)
      call(m, &say_hello, CRPC_SIDE_SERVER, (crpc_status)code, 1, 1, 0);
  /* A value that is no gRPC status counts as Unknown. */
  call(m, &say_hello, CRPC_SIDE_SERVER, (crpc_status)42, 1, 1, 0);
  char *text = page(m);
  const char *prev = text;
  for (int code = 0; code < 17; code++) {
    char line[256];
    snprintf(line, sizeof(line),
             "grpc_server_handled_total{grpc_code=\"%s\",grpc_method="
             "\"SayHello\",grpc_service=\"demo.Greeter\",grpc_type=\"unary\"} "
             "%d\n",
             crpc__prom_code_name(code),
             1 + code % 2 + (code == CRPC_STATUS_UNKNOWN));
    const char *at = strstr(text, line);
    cr_assert_not_null(at, "no '%s' in:\n%s", line, text);
    cr_assert_gt(at, prev, "%s is out of order", crpc__prom_code_name(code));
    prev = at;
  }
  assert_has(text, "grpc_server_started_total{grpc_method=\"SayHello\","
                   "grpc_service=\"demo.Greeter\",grpc_type=\"unary\"} 26\n");
  free(text);
  crpc_metrics_free(m);
}

Test(metrics, histogram_buckets_are_cumulative_and_inclusive, .timeout = 10) {
  crpc_metrics *m = new_metrics();
  const int64_t ns[] = {
      0,            /* le 0.005 */
      5000000,      /* on the bound: le 0.005 */
      5000001,      /* le 0.01 */
      99000000,     /* le 0.1 */
      1000000000,   /* le 1 */
      10000000000,  /* le 10 */
      10000000001,  /* +Inf only */
      600000000000, /* +Inf only */
      -5,           /* a clock that went back: 0 */
  };
  for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++)
    call_ns(m, &list, CRPC_SIDE_SERVER, CRPC_STATUS_OK, ns[i], 1, 3);
  char *text = page(m);
  const struct {
    const char *le;
    int count;
  } want[] = {{"0.005", 3}, {"0.01", 4}, {"0.025", 4}, {"0.05", 4},
              {"0.1", 5},   {"0.25", 5}, {"0.5", 5},   {"1", 6},
              {"2.5", 6},   {"5", 6},    {"10", 7},    {"+Inf", 9}};
  for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
    char line[256];
    snprintf(line, sizeof(line),
             "grpc_server_handling_seconds_bucket{grpc_method=\"List\","
             "grpc_service=\"demo.Greeter\",grpc_type=\"server_stream\",le="
             "\"%s\"} %d\n",
             want[i].le, want[i].count);
    assert_has(text, line);
  }
  assert_has(text, "grpc_server_handling_seconds_count{grpc_method=\"List\","
                   "grpc_service=\"demo.Greeter\",grpc_type=\"server_"
                   "stream\"} 9\n");
  /* 0 + .005 + .005000001 + .099 + 1 + 10 + 10.000000001 + 600 + 0,
   * each rounded to the microsecond. */
  assert_has(text, "grpc_server_handling_seconds_sum{grpc_method=\"List\","
                   "grpc_service=\"demo.Greeter\",grpc_type=\"server_"
                   "stream\"} 621.109000\n");
  assert_has(text, "grpc_server_msg_sent_total{grpc_method=\"List\","
                   "grpc_service=\"demo.Greeter\",grpc_type=\"server_"
                   "stream\"} 27\n");
  free(text);
  crpc_metrics_free(m);
}

Test(metrics, label_values_are_escaped, .timeout = 10) {
  static const crpc_method odd = {.name = "M",
                                  .path = "/we\"ird\\pkg\nSvc/M\"x",
                                  .kind = CRPC_METHOD_UNARY};
  crpc_metrics *m = new_metrics();
  call(m, &odd, CRPC_SIDE_SERVER, CRPC_STATUS_OK, 1, 1, 1);
  char *text = page(m);
  assert_has(text, "grpc_server_started_total{grpc_method=\"M\\\"x\","
                   "grpc_service=\"we\\\"ird\\\\pkg\\nSvc\",grpc_type="
                   "\"unary\"} 1\n");
  free(text);
  crpc_metrics_free(m);
}

Test(metrics, sides_are_apart_and_servers_come_first, .timeout = 10) {
  crpc_metrics *m = new_metrics();
  call(m, &say_hello, CRPC_SIDE_CLIENT, CRPC_STATUS_UNAVAILABLE, 2, 0, 1);
  call(m, &say_hello, CRPC_SIDE_CLIENT, CRPC_STATUS_OK, 2, 1, 1);
  call(m, &say_hello, CRPC_SIDE_SERVER, CRPC_STATUS_OK, 2, 1, 1);
  call(m, &upload, CRPC_SIDE_CLIENT, CRPC_STATUS_OK, 2, 1, 7);
  char *text = page(m);
  assert_has(text, "grpc_client_started_total{grpc_method=\"SayHello\","
                   "grpc_service=\"demo.Greeter\",grpc_type=\"unary\"} 2\n");
  assert_has(text, "grpc_client_handled_total{grpc_code=\"Unavailable\","
                   "grpc_method=\"SayHello\",grpc_service=\"demo.Greeter\","
                   "grpc_type=\"unary\"} 1\n");
  assert_has(text, "grpc_client_msg_sent_total{grpc_method=\"Upload\","
                   "grpc_service=\"demo.Store\",grpc_type=\"client_stream\"} "
                   "7\n");
  assert_has(text, "grpc_server_started_total{grpc_method=\"SayHello\","
                   "grpc_service=\"demo.Greeter\",grpc_type=\"unary\"} 1\n");
  /* Upload was only called, never served. */
  assert_lacks(text, "grpc_server_started_total{grpc_method=\"Upload\"");
  assert_has(text, "# HELP grpc_client_handling_seconds Histogram of response "
                   "latency (seconds) of the gRPC until it is finished by the "
                   "application.\n");
  cr_assert_lt(strstr(text, "grpc_server_handling_seconds_count"),
               strstr(text, "# HELP grpc_client_started_total"));
  free(text);
  crpc_metrics_free(m);
}

Test(metrics, order_is_by_service_then_method_whatever_came_first,
     .timeout = 10) {
  const crpc_method *a[] = {&upload, &list, &chat, &say_hello};
  const crpc_method *b[] = {&say_hello, &chat, &upload, &list};
  crpc_metrics *ma = new_metrics(), *mb = new_metrics();
  for (size_t i = 0; i < 4; i++) {
    call(ma, a[i], CRPC_SIDE_SERVER, CRPC_STATUS_OK, 1, 1, 1);
    call(mb, b[i], CRPC_SIDE_SERVER, CRPC_STATUS_OK, 1, 1, 1);
  }
  char *ta = page(ma), *tb = page(mb);
  cr_assert_str_eq(ta, tb);
  const char *chat_at = strstr(ta, "grpc_method=\"Chat\",grpc_service=\"alpha");
  const char *list_at = strstr(ta, "grpc_method=\"List\"");
  const char *hello_at = strstr(ta, "grpc_method=\"SayHello\"");
  const char *upload_at = strstr(ta, "grpc_method=\"Upload\"");
  cr_assert(chat_at && list_at && hello_at && upload_at);
  cr_assert(chat_at < list_at && list_at < hello_at && hello_at < upload_at,
            "not sorted:\n%s", ta);
  assert_has(ta, "grpc_type=\"bidi_stream\"");
  free(ta);
  free(tb);
  crpc_metrics_free(ma);
  crpc_metrics_free(mb);
}

/* Many methods, past the first table and up to the limit. */
#define N_MANY (CRPC_METRICS_MAX_METHODS + 4)
static crpc_method many[N_MANY];
static char many_paths[N_MANY][32];

Test(metrics, grows_up_to_its_limit, .timeout = 30) {
  for (int i = 0; i < N_MANY; i++) {
    snprintf(many_paths[i], sizeof(many_paths[i]), "/pkg.S/M%05d", i);
    many[i] = (crpc_method){.name = many_paths[i] + 7,
                            .path = many_paths[i],
                            .kind = CRPC_METHOD_UNARY};
  }
  crpc_metrics *m = new_metrics();
  for (int round = 0; round < 2; round++)
    for (int i = 0; i < N_MANY; i++)
      call(m, &many[i], CRPC_SIDE_SERVER, CRPC_STATUS_OK, 1, 1, 1);
  char *text = page(m);
  /* Every counted method has its line, in order; none past the limit.
   * (Line by line: the page is megabytes, too long to search again for
   * each method.) */
  const char *prefix = "grpc_server_started_total{grpc_method=\"M";
  int n = 0;
  for (const char *p = text; *p; p = strchr(p, '\n') + 1) {
    if (strncmp(p, prefix, strlen(prefix)) != 0)
      continue;
    char line[256];
    snprintf(line, sizeof(line),
             "grpc_server_started_total{grpc_method=\"M%05d\",grpc_service="
             "\"pkg.S\",grpc_type=\"unary\"} 2\n",
             n);
    cr_assert_eq(strncmp(p, line, strlen(line)), 0, "line %d: %.80s", n, p);
    n++;
  }
  cr_assert_eq(n, CRPC_METRICS_MAX_METHODS);
  free(text);
  crpc_metrics_free(m);
}

/* Threads counting into one registry while pages are written. */
#define THREADS 4
#define CALLS 20000

static void hammer(void *arg) {
  crpc_metrics *m = arg;
  const crpc_method *methods[] = {&say_hello, &list, &upload, &chat};
  for (int i = 0; i < CALLS; i++)
    call(m, methods[i % 4], i % 3 ? CRPC_SIDE_SERVER : CRPC_SIDE_CLIENT,
         (crpc_status)(i % 17), i % 20, 1, 2);
}

Test(metrics, counts_from_many_threads_add_up, .timeout = 60) {
  crpc_metrics *m = new_metrics();
  uv_thread_t t[THREADS];
  for (int i = 0; i < THREADS; i++)
    cr_assert_eq(uv_thread_create(&t[i], hammer, m), 0);
  for (int i = 0; i < 20; i++)
    free(page(m)); /* meanwhile */
  for (int i = 0; i < THREADS; i++)
    uv_thread_join(&t[i]);
  char *text = page(m);
  /* Per method: CALLS / 4 calls per thread; a third of them clients. */
  int server = 0, client = 0;
  for (int i = 0; i < CALLS; i++)
    if (i % 4 == 0 && i % 3)
      server++;
    else if (i % 4 == 0)
      client++;
  char line[256];
  snprintf(line, sizeof(line),
           "grpc_server_started_total{grpc_method=\"SayHello\",grpc_service="
           "\"demo.Greeter\",grpc_type=\"unary\"} %d\n",
           server * THREADS);
  assert_has(text, line);
  snprintf(line, sizeof(line),
           "grpc_client_handling_seconds_count{grpc_method=\"SayHello\","
           "grpc_service=\"demo.Greeter\",grpc_type=\"unary\"} %d\n",
           client * THREADS);
  assert_has(text, line);
  snprintf(line, sizeof(line),
           "grpc_server_msg_sent_total{grpc_method=\"SayHello\",grpc_service="
           "\"demo.Greeter\",grpc_type=\"unary\"} %d\n",
           2 * server * THREADS);
  assert_has(text, line);
  free(text);
  crpc_metrics_free(m);
}

Test(metrics, a_call_with_no_method_is_not_counted, .timeout = 10) {
  crpc_metrics *m = new_metrics();
  call(m, NULL, CRPC_SIDE_SERVER, CRPC_STATUS_OK, 1, 1, 1);
  char *text = page(m);
  cr_assert_str_eq(text, "");
  free(text);
  crpc_metrics_free(m);
}
