/*
 * tests/interop/cases.c: the interop test cases (cases.h).
 *
 * Each case makes its calls through the generated stubs of test.proto, as
 * an application would, and checks what gRPC's specification says it must
 * see: payload sizes, status codes and messages, metadata, and whether a
 * message arrived compressed.
 */
#define _POSIX_C_SOURCE 200809L

#include "cases.h"

#include "grpc/testing/test.crpc.h"

#include <crpc/call.h>
#include <crpc/metadata.h>
#include <crpc/status.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every call's deadline, unless the case says otherwise. */
#define CALL_TIMEOUT_MS 30000

#define LARGE_REQUEST 271828
#define LARGE_RESPONSE 314159

static const char ECHO_INITIAL[] = "x-grpc-test-echo-initial";
static const char ECHO_INITIAL_VALUE[] = "test_initial_metadata_value";
static const char ECHO_TRAILING[] = "x-grpc-test-echo-trailing-bin";
static const uint8_t ECHO_TRAILING_VALUE[] = {0xab, 0xab, 0xab};

/* The request payloads: never written, only pointed to. */
static uint8_t zeros[LARGE_REQUEST];

/* Per-call state: options with the outputs of the call's status and
 * metadata. */
typedef struct call {
  crpc_call_opts opts;
  crpc_status_info status;
  crpc_metadata headers, trailers;
} call;

static void call_init(call *c) {
  memset(&c->opts, 0, sizeof(c->opts));
  c->opts.timeout_ms = CALL_TIMEOUT_MS;
  crpc_status_info_init(&c->status);
  crpc_metadata_init(&c->headers);
  crpc_metadata_init(&c->trailers);
  c->opts.status_out = &c->status;
  c->opts.headers_out = &c->headers;
  c->opts.trailers_out = &c->trailers;
}

static void call_cleanup(call *c) {
  crpc_status_info_cleanup(&c->status);
  crpc_metadata_cleanup(&c->headers);
  crpc_metadata_cleanup(&c->trailers);
}

/* Writes the reason into |why| and returns -1. */
static int fail(char *why, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, INTEROP_WHY, fmt, ap);
  va_end(ap);
  return -1;
}

/* "CODE_NAME" or "CODE_NAME (message)". */
static const char *describe(crpc_status st, const crpc_status_info *si,
                            char *buf, size_t cap) {
  if (si && si->message && si->message[0])
    snprintf(buf, cap, "%s (%s)", crpc_status_name(st), si->message);
  else
    snprintf(buf, cap, "%s", crpc_status_name(st));
  return buf;
}

/* -1 with the reason unless |st| is OK. */
static int expect_ok(char *why, const char *what, crpc_status st,
                     const crpc_status_info *si) {
  char b[300];
  if (st == CRPC_STATUS_OK)
    return 0;
  return fail(why, "%s: expected OK, got %s", what,
              describe(st, si, b, sizeof(b)));
}

/* -1 with the reason unless the call ended |code| (with |message|, when
 * not NULL). */
static int expect_status(char *why, const char *what, crpc_status st,
                         const crpc_status_info *si, crpc_status code,
                         const char *message) {
  char b[300];
  if (st != code)
    return fail(why, "%s: expected %s, got %s", what, crpc_status_name(code),
                describe(st, si, b, sizeof(b)));
  const char *got = si && si->message ? si->message : "";
  if (message && strcmp(got, message) != 0)
    return fail(why, "%s: expected the message \"%s\", got \"%s\"", what,
                message, got);
  return 0;
}

/* A payload of |n| zeros; |n| is at most LARGE_REQUEST. */
static Grpc__Testing__Payload payload_of(size_t n) {
  Grpc__Testing__Payload p = GRPC__TESTING__PAYLOAD__INIT;
  p.body.len = n;
  p.body.data = n ? zeros : NULL;
  return p;
}

/* -1 unless |p| is |n| zero bytes. */
static int expect_zeros(char *why, const char *what,
                        const Grpc__Testing__Payload *p, size_t n) {
  size_t len = p ? p->body.len : 0;
  if (len != n)
    return fail(why, "%s: expected a payload of %zu bytes, got %zu", what, n,
                len);
  for (size_t i = 0; i < n; i++)
    if (p->body.data[i] != 0)
      return fail(why, "%s: payload byte %zu is %u, not 0", what, i,
                  p->body.data[i]);
  return 0;
}

/* The request of large_unary and its variants. */
static void large_request(Grpc__Testing__SimpleRequest *req,
                          Grpc__Testing__Payload *payload) {
  grpc__testing__simple_request__init(req);
  *payload = payload_of(LARGE_REQUEST);
  req->response_size = LARGE_RESPONSE;
  req->payload = payload;
}

/* One UnaryCall with |compression| ("gzip" or NULL); its status and
 * reply. */
static crpc_status unary(crpc_channel *ch,
                         const Grpc__Testing__SimpleRequest *req,
                         const char *compression, call *c,
                         Grpc__Testing__SimpleResponse **reply) {
  call_init(c);
  c->opts.compression = compression;
  *reply = NULL;
  return grpc_testing_test_service_unary_call(ch, req, reply, &c->opts);
}

static int empty_unary(crpc_channel *ch, char *why) {
  Grpc__Testing__Empty req = GRPC__TESTING__EMPTY__INIT, *reply = NULL;
  call c;
  call_init(&c);
  crpc_status st =
      grpc_testing_test_service_empty_call(ch, &req, &reply, &c.opts);
  int rc = expect_ok(why, "EmptyCall", st, &c.status);
  if (rc == 0 && !reply)
    rc = fail(why, "EmptyCall: OK without a reply");
  if (reply)
    grpc__testing__empty__free_unpacked(reply, NULL);
  call_cleanup(&c);
  return rc;
}

static int large_unary(crpc_channel *ch, char *why) {
  Grpc__Testing__SimpleRequest req;
  Grpc__Testing__Payload payload;
  Grpc__Testing__SimpleResponse *reply;
  call c;
  large_request(&req, &payload);
  crpc_status st = unary(ch, &req, NULL, &c, &reply);
  int rc = expect_ok(why, "UnaryCall", st, &c.status);
  if (rc == 0)
    rc = expect_zeros(why, "UnaryCall", reply->payload, LARGE_RESPONSE);
  if (reply)
    grpc__testing__simple_response__free_unpacked(reply, NULL);
  call_cleanup(&c);
  return rc;
}

/* client_compressed_unary, with or without the probe that tells whether
 * the server checks expect_compressed. */
static int client_compressed(crpc_channel *ch, char *why, int probe) {
  Grpc__Testing__SimpleRequest req;
  Grpc__Testing__Payload payload;
  Grpc__Testing__BoolValue expect = GRPC__TESTING__BOOL_VALUE__INIT;
  Grpc__Testing__SimpleResponse *reply = NULL;
  call c;
  large_request(&req, &payload);
  req.expect_compressed = &expect;
  int rc = 0;

  if (probe) {
    /* A plain message that claims to be compressed. */
    expect.value = 1;
    crpc_status st = unary(ch, &req, NULL, &c, &reply);
    rc = expect_status(why,
                       "probe (a plain request with expect_compressed=true)",
                       st, &c.status, CRPC_STATUS_INVALID_ARGUMENT, NULL);
    if (reply)
      grpc__testing__simple_response__free_unpacked(reply, NULL);
    call_cleanup(&c);
  }
  static const struct {
    int compressed;
    const char *what;
  } steps[] = {{1, "a gzip request with expect_compressed=true"},
               {0, "a plain request with expect_compressed=false"}};
  for (size_t i = 0; rc == 0 && i < 2; i++) {
    expect.value = steps[i].compressed;
    crpc_status st =
        unary(ch, &req, steps[i].compressed ? "gzip" : NULL, &c, &reply);
    rc = expect_ok(why, steps[i].what, st, &c.status);
    if (rc == 0)
      rc = expect_zeros(why, steps[i].what, reply->payload, LARGE_RESPONSE);
    if (reply)
      grpc__testing__simple_response__free_unpacked(reply, NULL);
    call_cleanup(&c);
  }
  return rc;
}

static int client_compressed_unary(crpc_channel *ch, char *why) {
  return client_compressed(ch, why, 1);
}

static int client_compressed_unary_noprobe(crpc_channel *ch, char *why) {
  return client_compressed(ch, why, 0);
}

static int server_compressed_unary(crpc_channel *ch, char *why) {
  Grpc__Testing__SimpleRequest req;
  Grpc__Testing__Payload payload;
  Grpc__Testing__BoolValue want = GRPC__TESTING__BOOL_VALUE__INIT;
  large_request(&req, &payload);
  req.response_compressed = &want;
  int rc = 0;
  for (int compressed = 1; rc == 0 && compressed >= 0; compressed--) {
    const char *what =
        compressed ? "response_compressed=true" : "response_compressed=false";
    crpc_call_opts opts = {.timeout_ms = CALL_TIMEOUT_MS};
    want.value = compressed;
    crpc_future *f =
        grpc_testing_test_service_unary_call_async(ch, &req, &opts);
    if (!f)
      return fail(why, "out of memory");
    Grpc__Testing__SimpleResponse *reply = NULL;
    crpc_status st = grpc_testing_test_service_unary_call_result(f, &reply);
    rc = expect_ok(why, what, st, crpc_call_status_info(f));
    if (rc == 0)
      rc = expect_zeros(why, what, reply->payload, LARGE_RESPONSE);
    if (rc == 0 && crpc_call_reply_compressed(f) != compressed)
      rc = fail(why, "%s: the response arrived %s", what,
                compressed ? "plain" : "compressed");
    if (reply)
      grpc__testing__simple_response__free_unpacked(reply, NULL);
    crpc_future_unref(f);
  }
  return rc;
}

static int client_streaming(crpc_channel *ch, char *why) {
  static const size_t sizes[] = {27182, 8, 1828, 45904};
  grpc_testing_test_service_streaming_input_call_writer *w = NULL;
  Grpc__Testing__StreamingInputCallResponse *reply = NULL;
  call c;
  call_init(&c);
  crpc_status st =
      grpc_testing_test_service_streaming_input_call(ch, &w, &c.opts);
  for (size_t i = 0; st == CRPC_STATUS_OK && i < 4; i++) {
    Grpc__Testing__Payload p = payload_of(sizes[i]);
    Grpc__Testing__StreamingInputCallRequest m =
        GRPC__TESTING__STREAMING_INPUT_CALL_REQUEST__INIT;
    m.payload = &p;
    st = grpc_testing_test_service_streaming_input_call_write(w, &m);
  }
  if (w)
    st = grpc_testing_test_service_streaming_input_call_finish(w, &reply);
  int rc = expect_ok(why, "StreamingInputCall", st, &c.status);
  if (rc == 0 && (!reply || reply->aggregated_payload_size != 74922))
    rc = fail(why,
              "StreamingInputCall: expected aggregated_payload_size 74922, "
              "got %d",
              reply ? reply->aggregated_payload_size : -1);
  if (reply)
    grpc__testing__streaming_input_call_response__free_unpacked(reply, NULL);
  grpc_testing_test_service_streaming_input_call_free(w);
  call_cleanup(&c);
  return rc;
}

static int server_streaming(crpc_channel *ch, char *why) {
  static const int32_t sizes[] = {31415, 9, 2653, 58979};
  Grpc__Testing__ResponseParameters params[4], *pp[4];
  Grpc__Testing__StreamingOutputCallRequest req =
      GRPC__TESTING__STREAMING_OUTPUT_CALL_REQUEST__INIT;
  for (size_t i = 0; i < 4; i++) {
    grpc__testing__response_parameters__init(&params[i]);
    params[i].size = sizes[i];
    pp[i] = &params[i];
  }
  req.n_response_parameters = 4;
  req.response_parameters = pp;
  grpc_testing_test_service_streaming_output_call_reader *r = NULL;
  call c;
  call_init(&c);
  crpc_status st =
      grpc_testing_test_service_streaming_output_call(ch, &req, &r, &c.opts);
  int rc = 0;
  size_t n = 0;
  while (rc == 0 && st == CRPC_STATUS_OK) {
    Grpc__Testing__StreamingOutputCallResponse *m = NULL;
    st = grpc_testing_test_service_streaming_output_call_read(r, &m);
    if (st != CRPC_STATUS_OK || !m)
      break;
    char what[64];
    snprintf(what, sizeof(what), "response %zu", n + 1);
    if (n >= 4)
      rc = fail(why, "StreamingOutputCall: more than 4 responses");
    else
      rc = expect_zeros(why, what, m->payload, (size_t)sizes[n]);
    n++;
    grpc__testing__streaming_output_call_response__free_unpacked(m, NULL);
  }
  if (rc == 0)
    rc = expect_ok(why, "StreamingOutputCall", st, &c.status);
  if (rc == 0 && n != 4)
    rc = fail(why, "StreamingOutputCall: expected 4 responses, got %zu", n);
  grpc_testing_test_service_streaming_output_call_free(r);
  call_cleanup(&c);
  return rc;
}

typedef grpc_testing_test_service_full_duplex_call_stream duplex;

/* Starts a FullDuplexCall with the options of |c|. Returns 0, or -1 with
 * the reason. */
static int open_duplex(crpc_channel *ch, call *c, duplex **s, char *why) {
  crpc_status st = grpc_testing_test_service_full_duplex_call(ch, s, &c->opts);
  return expect_ok(why, "FullDuplexCall", st, &c->status);
}

/* Frees the stream and the call's outputs. */
static void close_duplex(duplex *s, call *c) {
  grpc_testing_test_service_full_duplex_call_free(s);
  call_cleanup(c);
}

/* Sends a FullDuplexCall request asking for one response of |size|, with a
 * payload of |payload| zeros. Returns 0, or -1 with the reason. */
static int send_asking(duplex *s, int32_t size, size_t payload,
                       const char *what, char *why) {
  Grpc__Testing__ResponseParameters param =
      GRPC__TESTING__RESPONSE_PARAMETERS__INIT;
  Grpc__Testing__ResponseParameters *pp = &param;
  Grpc__Testing__Payload p = payload_of(payload);
  Grpc__Testing__StreamingOutputCallRequest req =
      GRPC__TESTING__STREAMING_OUTPUT_CALL_REQUEST__INIT;
  param.size = size;
  req.n_response_parameters = 1;
  req.response_parameters = &pp;
  req.payload = &p;
  crpc_status st = grpc_testing_test_service_full_duplex_call_write(s, &req);
  return expect_ok(why, what, st, crpc_call_final_status((crpc_call *)s));
}

/* Reads one response, which must be |size| zeros. */
static int read_one(duplex *s, int32_t size, const char *what, char *why) {
  Grpc__Testing__StreamingOutputCallResponse *m = NULL;
  crpc_status st = grpc_testing_test_service_full_duplex_call_read(s, &m);
  int rc = expect_ok(why, what, st, crpc_call_final_status((crpc_call *)s));
  if (rc == 0 && !m)
    rc = fail(why, "%s: the stream ended before the response", what);
  if (rc == 0)
    rc = expect_zeros(why, what, m->payload, (size_t)size);
  if (m)
    grpc__testing__streaming_output_call_response__free_unpacked(m, NULL);
  return rc;
}

/* Half-closes, then expects the end of the stream and OK. */
static int finish_ok(duplex *s, call *c, char *why) {
  Grpc__Testing__StreamingOutputCallResponse *m = NULL;
  crpc_status st = grpc_testing_test_service_full_duplex_call_close_send(s);
  if (st == CRPC_STATUS_OK)
    st = grpc_testing_test_service_full_duplex_call_read(s, &m);
  if (m) {
    grpc__testing__streaming_output_call_response__free_unpacked(m, NULL);
    return fail(why, "FullDuplexCall: a response after the last expected one");
  }
  st = grpc_testing_test_service_full_duplex_call_finish(s);
  return expect_ok(why, "FullDuplexCall", st, &c->status);
}

static int ping_pong(crpc_channel *ch, char *why) {
  static const int32_t responses[] = {31415, 9, 2653, 58979};
  static const size_t requests[] = {27182, 8, 1828, 45904};
  duplex *s = NULL;
  call c;
  call_init(&c);
  int rc = open_duplex(ch, &c, &s, why);
  for (size_t i = 0; rc == 0 && i < 4; i++) {
    char what[64];
    snprintf(what, sizeof(what), "round %zu", i + 1);
    rc = send_asking(s, responses[i], requests[i], what, why);
    if (rc == 0)
      rc = read_one(s, responses[i], what, why);
  }
  if (rc == 0)
    rc = finish_ok(s, &c, why);
  close_duplex(s, &c);
  return rc;
}

static int empty_stream(crpc_channel *ch, char *why) {
  duplex *s = NULL;
  call c;
  call_init(&c);
  int rc = open_duplex(ch, &c, &s, why);
  if (rc == 0)
    rc = finish_ok(s, &c, why);
  close_duplex(s, &c);
  return rc;
}

/* A UnaryCall and a FullDuplexCall that ask for status 2 with |message|. */
static int echo_status_both(crpc_channel *ch, char *why, const char *message,
                            int with_stream) {
  Grpc__Testing__EchoStatus es = GRPC__TESTING__ECHO_STATUS__INIT;
  es.code = CRPC_STATUS_UNKNOWN;
  es.message = (char *)message;
  Grpc__Testing__SimpleRequest req = GRPC__TESTING__SIMPLE_REQUEST__INIT;
  req.response_status = &es;
  Grpc__Testing__SimpleResponse *reply = NULL;
  call c;
  crpc_status st = unary(ch, &req, NULL, &c, &reply);
  int rc = expect_status(why, "UnaryCall", st, &c.status, CRPC_STATUS_UNKNOWN,
                         message);
  if (reply)
    grpc__testing__simple_response__free_unpacked(reply, NULL);
  call_cleanup(&c);
  if (rc != 0 || !with_stream)
    return rc;

  duplex *s = NULL;
  call_init(&c);
  st = grpc_testing_test_service_full_duplex_call(ch, &s, &c.opts);
  if (st == CRPC_STATUS_OK) {
    Grpc__Testing__StreamingOutputCallRequest sreq =
        GRPC__TESTING__STREAMING_OUTPUT_CALL_REQUEST__INIT;
    sreq.response_status = &es;
    /* A write may already see the status; finish reports it. */
    (void)grpc_testing_test_service_full_duplex_call_write(s, &sreq);
    st = grpc_testing_test_service_full_duplex_call_finish(s);
  }
  rc = expect_status(why, "FullDuplexCall", st, &c.status, CRPC_STATUS_UNKNOWN,
                     message);
  close_duplex(s, &c);
  return rc;
}

static int status_code_and_message(crpc_channel *ch, char *why) {
  return echo_status_both(ch, why, "test status message", 1);
}

static int special_status_message(crpc_channel *ch, char *why) {
  return echo_status_both(ch, why,
                          "\t\ntest with whitespace\r\nand Unicode BMP \u263a "
                          "and non-BMP \U0001F608\t\n",
                          0);
}

static int unimplemented_method(crpc_channel *ch, char *why) {
  Grpc__Testing__Empty req = GRPC__TESTING__EMPTY__INIT, *reply = NULL;
  call c;
  call_init(&c);
  crpc_status st =
      grpc_testing_test_service_unimplemented_call(ch, &req, &reply, &c.opts);
  int rc = expect_status(why, "TestService/UnimplementedCall", st, &c.status,
                         CRPC_STATUS_UNIMPLEMENTED, NULL);
  if (reply)
    grpc__testing__empty__free_unpacked(reply, NULL);
  call_cleanup(&c);
  return rc;
}

static int unimplemented_service(crpc_channel *ch, char *why) {
  Grpc__Testing__Empty req = GRPC__TESTING__EMPTY__INIT, *reply = NULL;
  call c;
  call_init(&c);
  crpc_status st = grpc_testing_unimplemented_service_unimplemented_call(
      ch, &req, &reply, &c.opts);
  int rc = expect_status(why, "UnimplementedService/UnimplementedCall", st,
                         &c.status, CRPC_STATUS_UNIMPLEMENTED, NULL);
  if (reply)
    grpc__testing__empty__free_unpacked(reply, NULL);
  call_cleanup(&c);
  return rc;
}

static int cancel_after_begin(crpc_channel *ch, char *why) {
  grpc_testing_test_service_streaming_input_call_writer *w = NULL;
  Grpc__Testing__StreamingInputCallResponse *reply = NULL;
  call c;
  call_init(&c);
  crpc_status st =
      grpc_testing_test_service_streaming_input_call(ch, &w, &c.opts);
  if (st == CRPC_STATUS_OK) {
    grpc_testing_test_service_streaming_input_call_cancel(w);
    st = grpc_testing_test_service_streaming_input_call_finish(w, &reply);
  }
  int rc = expect_status(why, "StreamingInputCall", st, &c.status,
                         CRPC_STATUS_CANCELLED, NULL);
  if (reply)
    grpc__testing__streaming_input_call_response__free_unpacked(reply, NULL);
  grpc_testing_test_service_streaming_input_call_free(w);
  call_cleanup(&c);
  return rc;
}

static int cancel_after_first_response(crpc_channel *ch, char *why) {
  duplex *s = NULL;
  call c;
  call_init(&c);
  int rc = open_duplex(ch, &c, &s, why);
  if (rc == 0)
    rc = send_asking(s, 31415, 27182, "the request", why);
  if (rc == 0)
    rc = read_one(s, 31415, "the first response", why);
  if (rc == 0) {
    grpc_testing_test_service_full_duplex_call_cancel(s);
    crpc_status st = grpc_testing_test_service_full_duplex_call_finish(s);
    rc = expect_status(why, "FullDuplexCall", st, &c.status,
                       CRPC_STATUS_CANCELLED, NULL);
  }
  close_duplex(s, &c);
  return rc;
}

static int timeout_on_sleeping_server(crpc_channel *ch, char *why) {
  duplex *s = NULL;
  call c;
  call_init(&c);
  c.opts.timeout_ms = 1;
  crpc_status st = grpc_testing_test_service_full_duplex_call(ch, &s, &c.opts);
  if (st == CRPC_STATUS_OK) {
    Grpc__Testing__Payload p = payload_of(27182);
    Grpc__Testing__StreamingOutputCallRequest req =
        GRPC__TESTING__STREAMING_OUTPUT_CALL_REQUEST__INIT;
    req.payload = &p;
    /* The deadline may pass before the write: that is fine. The stream
     * stays open (no half-close), so only the deadline can end it. */
    (void)grpc_testing_test_service_full_duplex_call_write(s, &req);
    Grpc__Testing__StreamingOutputCallResponse *m = NULL;
    st = grpc_testing_test_service_full_duplex_call_read(s, &m);
    if (m) {
      grpc__testing__streaming_output_call_response__free_unpacked(m, NULL);
      st = CRPC_STATUS_OK;
    }
    if (st == CRPC_STATUS_OK)
      st = grpc_testing_test_service_full_duplex_call_finish(s);
  }
  int rc = expect_status(why, "FullDuplexCall with a 1 ms deadline", st,
                         &c.status, CRPC_STATUS_DEADLINE_EXCEEDED, NULL);
  close_duplex(s, &c);
  return rc;
}

/* -1 unless |md| holds |key| with exactly the |len| bytes at |value|. */
static int expect_entry(char *why, const char *what, const crpc_metadata *md,
                        const char *key, const void *value, size_t len) {
  const crpc_metadata_entry *e = crpc_metadata_get(md, key);
  if (!e)
    return fail(why, "%s: no %s", what, key);
  if (e->value_len != len || memcmp(e->value, value, len) != 0)
    return fail(why, "%s: %s has %zu bytes, not the %zu sent", what, key,
                e->value_len, len);
  return 0;
}

/* -1 unless the call echoed the test metadata. */
static int expect_echo(char *why, const char *what, const call *c) {
  int rc = expect_entry(why, what, &c->headers, ECHO_INITIAL,
                        ECHO_INITIAL_VALUE, strlen(ECHO_INITIAL_VALUE));
  if (rc == 0)
    rc = expect_entry(why, what, &c->trailers, ECHO_TRAILING,
                      ECHO_TRAILING_VALUE, sizeof(ECHO_TRAILING_VALUE));
  return rc;
}

static int custom_metadata(crpc_channel *ch, char *why) {
  crpc_metadata md;
  crpc_metadata_init(&md);
  if (crpc_metadata_add_str(&md, ECHO_INITIAL, ECHO_INITIAL_VALUE) != 0 ||
      crpc_metadata_add(&md, ECHO_TRAILING, ECHO_TRAILING_VALUE,
                        sizeof(ECHO_TRAILING_VALUE)) != 0) {
    crpc_metadata_cleanup(&md);
    return fail(why, "out of memory");
  }
  Grpc__Testing__SimpleRequest req;
  Grpc__Testing__Payload payload;
  Grpc__Testing__SimpleResponse *reply = NULL;
  large_request(&req, &payload);
  call c;
  call_init(&c);
  c.opts.metadata = &md;
  crpc_status st =
      grpc_testing_test_service_unary_call(ch, &req, &reply, &c.opts);
  int rc = expect_ok(why, "UnaryCall", st, &c.status);
  if (rc == 0)
    rc = expect_zeros(why, "UnaryCall", reply->payload, LARGE_RESPONSE);
  if (rc == 0)
    rc = expect_echo(why, "UnaryCall", &c);
  if (reply)
    grpc__testing__simple_response__free_unpacked(reply, NULL);
  call_cleanup(&c);

  if (rc == 0) {
    duplex *s = NULL;
    call_init(&c);
    c.opts.metadata = &md;
    rc = open_duplex(ch, &c, &s, why);
    if (rc == 0)
      rc = send_asking(s, LARGE_RESPONSE, LARGE_REQUEST,
                       "FullDuplexCall's request", why);
    if (rc == 0)
      rc = read_one(s, LARGE_RESPONSE, "FullDuplexCall", why);
    if (rc == 0)
      rc = finish_ok(s, &c, why);
    if (rc == 0)
      rc = expect_echo(why, "FullDuplexCall", &c);
    close_duplex(s, &c);
  }
  crpc_metadata_cleanup(&md);
  return rc;
}

/* Ten UnaryCalls asking which server answered; the tally goes to |why|. */
static int server_id(crpc_channel *ch, char *why) {
  enum { CALLS = 10 };
  char *ids[CALLS];
  size_t counts[CALLS], n = 0;
  int rc = 0;
  Grpc__Testing__SimpleRequest req = GRPC__TESTING__SIMPLE_REQUEST__INIT;
  req.fill_server_id = 1;
  for (int i = 0; rc == 0 && i < CALLS; i++) {
    Grpc__Testing__SimpleResponse *reply = NULL;
    call c;
    crpc_status st = unary(ch, &req, NULL, &c, &reply);
    rc = expect_ok(why, "UnaryCall", st, &c.status);
    if (rc == 0 && (!reply->server_id || !reply->server_id[0]))
      rc = fail(why, "UnaryCall: no server_id in the response");
    if (rc == 0) {
      size_t k = 0;
      while (k < n && strcmp(ids[k], reply->server_id) != 0)
        k++;
      if (k == n) {
        ids[n] = strdup(reply->server_id);
        counts[n++] = 0;
      }
      if (!ids[k])
        rc = fail(why, "out of memory");
      else
        counts[k]++;
    }
    if (reply)
      grpc__testing__simple_response__free_unpacked(reply, NULL);
    call_cleanup(&c);
  }
  if (rc == 0) {
    /* Sorted by id, "ID=COUNT" each. */
    for (size_t a = 1; a < n; a++)
      for (size_t b = a; b > 0 && strcmp(ids[b - 1], ids[b]) > 0; b--) {
        char *t = ids[b];
        size_t tc = counts[b];
        ids[b] = ids[b - 1];
        counts[b] = counts[b - 1];
        ids[b - 1] = t;
        counts[b - 1] = tc;
      }
    size_t off = 0;
    why[0] = '\0';
    for (size_t k = 0; k < n && off < INTEROP_WHY; k++)
      off += (size_t)snprintf(why + off, INTEROP_WHY - off, "%s%s=%zu",
                              k ? " " : "", ids[k], counts[k]);
  }
  for (size_t k = 0; k < n; k++)
    free(ids[k]);
  return rc;
}

const interop_case interop_cases[] = {
    {"empty_unary", empty_unary, 1},
    {"large_unary", large_unary, 1},
    {"client_compressed_unary", client_compressed_unary, 1},
    {"server_compressed_unary", server_compressed_unary, 1},
    {"client_streaming", client_streaming, 1},
    {"server_streaming", server_streaming, 1},
    {"ping_pong", ping_pong, 1},
    {"empty_stream", empty_stream, 1},
    {"status_code_and_message", status_code_and_message, 1},
    {"special_status_message", special_status_message, 1},
    {"unimplemented_method", unimplemented_method, 1},
    {"unimplemented_service", unimplemented_service, 1},
    {"cancel_after_begin", cancel_after_begin, 1},
    {"cancel_after_first_response", cancel_after_first_response, 1},
    {"timeout_on_sleeping_server", timeout_on_sleeping_server, 1},
    {"custom_metadata", custom_metadata, 1},
    {"client_compressed_unary_noprobe", client_compressed_unary_noprobe, 0},
    {"server_id", server_id, 0},
};
const size_t interop_n_cases = sizeof(interop_cases) / sizeof(interop_cases[0]);

const interop_case *interop_case_find(const char *name) {
  for (size_t i = 0; i < interop_n_cases; i++)
    if (strcmp(interop_cases[i].name, name) == 0)
      return &interop_cases[i];
  return NULL;
}
