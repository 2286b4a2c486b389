/*
 * tests/runtime/test_grpc_headers.c: suite of runtime/grpc_headers.c,
 * gRPC over HTTP/2's header and trailer rules: content-type, grpc-status
 * and :status parsing, the HTTP and RST_STREAM status mappings, a server's
 * request intake and verdict, a client's response intake, trailers-only
 * responses and final status, and the builders of header and trailer
 * lists.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "base64.h"
#include "compress.h"
#include "crpc/deadline.h"
#include "crpc/metadata.h"
#include "crpc/status.h"
#include "deadline_internal.h"
#include "grpc_headers.h"
#include "nvlist.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define U8(s) ((const uint8_t *)(s))

/* Helpers for lists being built. */

/* The first field of |l| named |name|, or NULL. */
static const nghttp2_nv *nv_find(const crpc__nvlist *l, const char *name) {
  size_t n = strlen(name);
  for (size_t i = 0; i < l->n; i++)
    if (l->nv[i].namelen == n && memcmp(l->nv[i].name, name, n) == 0)
      return &l->nv[i];
  return NULL;
}

/* How many fields of |l| are named |name|. */
static size_t nv_count(const crpc__nvlist *l, const char *name) {
  size_t n = strlen(name), c = 0;
  for (size_t i = 0; i < l->n; i++)
    if (l->nv[i].namelen == n && memcmp(l->nv[i].name, name, n) == 0)
      c++;
  return c;
}

/* Checks |l| has exactly one field |name|, whose value is the |vlen| bytes
 * at |value|. */
static void check_field(const crpc__nvlist *l, const char *name,
                        const void *value, size_t vlen) {
  const nghttp2_nv *nv = nv_find(l, name);
  cr_assert_not_null(nv, "no field %s", name);
  cr_assert_eq(nv_count(l, name), 1, "field %s repeated", name);
  cr_assert_eq(nv->valuelen, vlen, "%s: %.*s, want %.*s", name,
               (int)nv->valuelen, (const char *)nv->value, (int)vlen,
               (const char *)value);
  if (vlen)
    cr_assert_arr_eq(nv->value, value, vlen, "%s value", name);
}

static void check_str(const crpc__nvlist *l, const char *name,
                      const char *value) {
  check_field(l, name, value, strlen(value));
}

/* Checks the field names of |l| are exactly |names| (NULL-terminated), in
 * order. */
static void check_names(const crpc__nvlist *l, const char *const *names,
                        const char *what) {
  size_t i = 0;
  for (; names[i]; i++) {
    cr_assert_lt(i, l->n, "%s: missing %s at %zu", what, names[i], i);
    cr_assert_eq(l->nv[i].namelen, strlen(names[i]), "%s: field %zu", what, i);
    cr_assert_arr_eq(l->nv[i].name, names[i], l->nv[i].namelen,
                     "%s: field %zu is %.*s, want %s", what, i,
                     (int)l->nv[i].namelen, (const char *)l->nv[i].name,
                     names[i]);
  }
  cr_assert_eq(l->n, i, "%s: %zu fields, want %zu", what, l->n, i);
}

/* Helpers for requests and responses being read. */

static int req(crpc__grpc_request *r, const char *name, const char *value) {
  return crpc__grpc_request_header(r, U8(name), strlen(name), U8(value),
                                   strlen(value));
}

/* The header block of a well-formed unary call. */
static void req_base(crpc__grpc_request *r) {
  static const char *const h[][2] = {
      {":method", "POST"},
      {":scheme", "http"},
      {":path", "/pkg.Svc/Method"},
      {":authority", "localhost:50051"},
      {"content-type", "application/grpc"},
      {"te", "trailers"},
  };
  for (size_t i = 0; i < COUNT(h); i++)
    cr_assert_eq(req(r, h[i][0], h[i][1]), 0, "%s", h[i][0]);
}

static void rsp(crpc__grpc_response *r, int trailers, const char *name,
                const char *value) {
  crpc__grpc_response_header(r, trailers, U8(name), strlen(name), U8(value),
                             strlen(value));
}

static void check_md(const crpc_metadata *md, const char *key,
                     const void *value, size_t len) {
  const crpc_metadata_entry *e = crpc_metadata_get(md, key);
  cr_assert_not_null(e, "no metadata %s", key);
  cr_assert_eq(e->value_len, len, "%s length %zu, want %zu", key, e->value_len,
               len);
  if (len)
    cr_assert_arr_eq(e->value, value, len, "%s value", key);
}

/* Pure parsers and mappings. */

Test(grpc_headers, content_type, .timeout = 10) {
  static const struct {
    const char *v;
    int ok;
  } cases[] = {
      {"application/grpc", 1},
      {"application/grpc+proto", 1},
      {"application/grpc+json", 1},
      {"application/grpc+", 1},
      {"application/grpc;charset=utf-8", 1},
      {"application/grpc+proto;charset=utf-8", 1},
      {"application/grpc-web", 0},
      {"application/grpc-web+proto", 0},
      {"application/grpcx", 0},
      {"application/grpc ", 0},
      {"application/json", 0},
      {"application/grp", 0},
      {"application/", 0},
      {"", 0},
      {"text/plain", 0},
      {" application/grpc", 0},
      /* The prefix is compared exactly, as gRPC implementations do. */
      {"Application/grpc", 0},
      {"application/GRPC", 0},
      {"APPLICATION/GRPC+PROTO", 0},
  };
  for (size_t i = 0; i < COUNT(cases); i++)
    cr_assert_eq(crpc__grpc_content_type_ok(U8(cases[i].v), strlen(cases[i].v)),
                 cases[i].ok, "content-type \"%s\"", cases[i].v);
  /* Only the given length counts. */
  cr_assert_eq(crpc__grpc_content_type_ok(U8("application/grpc-web"), 16), 1);
  cr_assert_eq(crpc__grpc_content_type_ok(U8("application/grpc"), 15), 0);
}

Test(grpc_headers, grpc_status_parse, .timeout = 10) {
  static const struct {
    const char *v;
    int rc;
    crpc_status code;
  } cases[] = {
      {"0", 0, CRPC_STATUS_OK},
      {"1", 0, CRPC_STATUS_CANCELLED},
      {"5", 0, CRPC_STATUS_NOT_FOUND},
      {"00", 0, CRPC_STATUS_OK},
      {"09", 0, CRPC_STATUS_FAILED_PRECONDITION},
      {"13", 0, CRPC_STATUS_INTERNAL},
      {"16", 0, CRPC_STATUS_UNAUTHENTICATED},
      {"17", 0, CRPC_STATUS_UNKNOWN},
      {"42", 0, CRPC_STATUS_UNKNOWN},
      {"99", 0, CRPC_STATUS_UNKNOWN},
      {"", -1, 0},
      {"100", -1, 0},
      {"000", -1, 0},
      {"-1", -1, 0},
      {"+1", -1, 0},
      {"1a", -1, 0},
      {"a1", -1, 0},
      {" 1", -1, 0},
      {"1 ", -1, 0},
      {"x", -1, 0},
  };
  for (size_t i = 0; i < COUNT(cases); i++) {
    crpc_status out = CRPC_STATUS_DATA_LOSS; /* untouched marker */
    int rc = crpc__grpc_status_parse(U8(cases[i].v), strlen(cases[i].v), &out);
    cr_assert_eq(rc, cases[i].rc, "grpc-status \"%s\" returned %d", cases[i].v,
                 rc);
    if (rc == 0)
      cr_assert_eq(out, cases[i].code, "grpc-status \"%s\" -> %d, want %d",
                   cases[i].v, (int)out, (int)cases[i].code);
    else
      cr_assert_eq(out, CRPC_STATUS_DATA_LOSS,
                   "grpc-status \"%s\" touched the output", cases[i].v);
  }
}

Test(grpc_headers, http_status_parse, .timeout = 10) {
  static const struct {
    const char *v;
    int st;
  } cases[] = {
      {"200", 200}, {"404", 404}, {"503", 503}, {"100", 100}, {"999", 999},
      {"20", 0},    {"2000", 0},  {"20a", 0},   {"a00", 0},   {"", 0},
      {" 20", 0},   {"20 ", 0},   {"-20", 0},   {"2.0", 0},
  };
  for (size_t i = 0; i < COUNT(cases); i++)
    cr_assert_eq(
        crpc__grpc_http_status_parse(U8(cases[i].v), strlen(cases[i].v)),
        cases[i].st, ":status \"%s\"", cases[i].v);
}

Test(grpc_headers, status_from_http, .timeout = 10) {
  /* gRPC's doc/http-grpc-status-mapping.md, row by row. */
  static const struct {
    int http;
    crpc_status code;
  } cases[] = {
      {400, CRPC_STATUS_INTERNAL},
      {401, CRPC_STATUS_UNAUTHENTICATED},
      {403, CRPC_STATUS_PERMISSION_DENIED},
      {404, CRPC_STATUS_UNIMPLEMENTED},
      {429, CRPC_STATUS_UNAVAILABLE},
      {502, CRPC_STATUS_UNAVAILABLE},
      {503, CRPC_STATUS_UNAVAILABLE},
      {504, CRPC_STATUS_UNAVAILABLE},
      /* All other codes. */
      {200, CRPC_STATUS_UNKNOWN},
      {204, CRPC_STATUS_UNKNOWN},
      {301, CRPC_STATUS_UNKNOWN},
      {405, CRPC_STATUS_UNKNOWN},
      {415, CRPC_STATUS_UNKNOWN},
      {500, CRPC_STATUS_UNKNOWN},
      {501, CRPC_STATUS_UNKNOWN},
      {505, CRPC_STATUS_UNKNOWN},
      {0, CRPC_STATUS_UNKNOWN},
  };
  for (size_t i = 0; i < COUNT(cases); i++)
    cr_assert_eq(crpc__grpc_status_from_http(cases[i].http), cases[i].code,
                 "HTTP %d", cases[i].http);
}

Test(grpc_headers, status_from_rst, .timeout = 10) {
  /* PROTOCOL-HTTP2.md, "Errors". */
  static const struct {
    uint32_t rst;
    crpc_status code;
  } cases[] = {
      {NGHTTP2_NO_ERROR, CRPC_STATUS_INTERNAL},
      {NGHTTP2_PROTOCOL_ERROR, CRPC_STATUS_INTERNAL},
      {NGHTTP2_INTERNAL_ERROR, CRPC_STATUS_INTERNAL},
      {NGHTTP2_FLOW_CONTROL_ERROR, CRPC_STATUS_INTERNAL},
      {NGHTTP2_SETTINGS_TIMEOUT, CRPC_STATUS_INTERNAL},
      {NGHTTP2_STREAM_CLOSED, CRPC_STATUS_INTERNAL},
      {NGHTTP2_FRAME_SIZE_ERROR, CRPC_STATUS_INTERNAL},
      {NGHTTP2_REFUSED_STREAM, CRPC_STATUS_UNAVAILABLE},
      {NGHTTP2_CANCEL, CRPC_STATUS_CANCELLED},
      {NGHTTP2_COMPRESSION_ERROR, CRPC_STATUS_INTERNAL},
      {NGHTTP2_CONNECT_ERROR, CRPC_STATUS_INTERNAL},
      {NGHTTP2_ENHANCE_YOUR_CALM, CRPC_STATUS_RESOURCE_EXHAUSTED},
      {NGHTTP2_INADEQUATE_SECURITY, CRPC_STATUS_PERMISSION_DENIED},
      {NGHTTP2_HTTP_1_1_REQUIRED, CRPC_STATUS_INTERNAL},
      {0xdead, CRPC_STATUS_INTERNAL},
  };
  for (size_t i = 0; i < COUNT(cases); i++)
    cr_assert_eq(crpc__grpc_status_from_rst(cases[i].rst), cases[i].code,
                 "RST_STREAM %u", (unsigned)cases[i].rst);
}

Test(grpc_headers, reserved_names, .timeout = 10) {
  static const struct {
    const char *n;
    int reserved;
  } cases[] = {
      {"grpc-status", 1},   {"grpc-timeout", 1},
      {"grpc-", 1},         {"grpc-x-bin", 1},
      {"grpc", 0},          {"grpcx", 0},
      {"x-grpc-status", 0}, {"", 0},
      {"Grpc-status", 0},
  };
  for (size_t i = 0; i < COUNT(cases); i++)
    cr_assert_eq(crpc__grpc_reserved(U8(cases[i].n), strlen(cases[i].n)),
                 cases[i].reserved, "\"%s\"", cases[i].n);
}

/* Requests. */

/* Where each test's requests put their text (a server call's arena). */
static crpc__arena req_arena;

static void req_arena_init(void) {
  crpc__arena_init(&req_arena, NULL, 0, 0);
}

static void req_arena_fini(void) {
  crpc__arena_cleanup(&req_arena);
}

TestSuite(grpc_headers, .init = req_arena_init, .fini = req_arena_fini);

Test(grpc_headers, request_well_formed, .timeout = 10) {
  crpc__grpc_request r;
  crpc_status code = CRPC_STATUS_OK;
  const char *msg = NULL;
  crpc__grpc_request_init(&r, &req_arena);
  req_base(&r);
  cr_assert_eq(crpc__grpc_request_verdict(&r, &code, &msg), 0);
  cr_assert_str_eq(r.path, "/pkg.Svc/Method");
  cr_assert(r.saw_method && r.method_post && r.content_type_ok);
  cr_assert_eq(r.has_timeout, 0);
  cr_assert_eq(r.enc, CRPC__ENCODING_IDENTITY);
  cr_assert_eq(r.accept_mask, CRPC__ENCODING_BIT(CRPC__ENCODING_IDENTITY));
  cr_assert_eq(r.status, CRPC_STATUS_OK);
  cr_assert_eq(r.dropped, 0);
  cr_assert_eq(crpc_metadata_count(&r.md), 0, "no application metadata");
  crpc__grpc_request_cleanup(&r);
  cr_assert_null(r.path);
}

Test(grpc_headers, request_valid_timeouts, .timeout = 10) {
  static const struct {
    const char *v;
    int64_t ns;
  } cases[] = {
      {"1S", INT64_C(1000000000)},
      {"100m", INT64_C(100000000)},
      {"8u", INT64_C(8000)},
      {"99999999n", INT64_C(99999999)},
      {"1H", INT64_C(3600000000000)},
      {"1M", INT64_C(60000000000)},
      {"0m", 0},
      {"99999999H", INT64_MAX},
  };
  for (size_t i = 0; i < COUNT(cases); i++) {
    crpc__grpc_request r;
    crpc_status code;
    const char *msg;
    crpc__grpc_request_init(&r, &req_arena);
    req_base(&r);
    cr_assert_eq(req(&r, "grpc-timeout", cases[i].v), 0);
    cr_assert_eq(crpc__grpc_request_verdict(&r, &code, &msg), 0,
                 "grpc-timeout %s refused", cases[i].v);
    cr_assert_eq(r.has_timeout, 1, "%s", cases[i].v);
    cr_assert_eq(r.timeout_ns, cases[i].ns, "%s -> %lld", cases[i].v,
                 (long long)r.timeout_ns);
    cr_assert_null(crpc_metadata_get(&r.md, "grpc-timeout"));
    crpc__grpc_request_cleanup(&r);
  }
}

Test(grpc_headers, request_malformed_timeouts, .timeout = 10) {
  static const char *const bad[] = {
      "", "1", "S", "123456789S", "1s", "1X", "-1S", " 1S", "1S ", "1.5S",
  };
  for (size_t i = 0; i < COUNT(bad); i++) {
    crpc__grpc_request r;
    crpc_status code = CRPC_STATUS_OK;
    const char *msg = NULL;
    crpc__grpc_request_init(&r, &req_arena);
    req_base(&r);
    cr_assert_eq(req(&r, "grpc-timeout", bad[i]), 0);
    cr_assert_eq(crpc__grpc_request_verdict(&r, &code, &msg), -1,
                 "grpc-timeout \"%s\" accepted", bad[i]);
    cr_assert_eq(code, CRPC_STATUS_INTERNAL, "\"%s\"", bad[i]);
    cr_assert_str_eq(msg, "malformed grpc-timeout");
    cr_assert_eq(r.has_timeout, 0, "\"%s\"", bad[i]);
    crpc__grpc_request_cleanup(&r);
  }
}

/* A request verdict case: header fields in order, then the verdict. */
typedef struct {
  const char *what;
  const char *h[12][2]; /* ends at the first NULL name */
  int verdict;
  crpc_status code; /* when verdict is -1 */
  const char *msg;
} verdict_case;

#define POST                                                                   \
  { ":method", "POST" }
#define PATH                                                                   \
  { ":path", "/s/m" }
#define GRPC_CT                                                                \
  { "content-type", "application/grpc" }

Test(grpc_headers, request_verdicts, .timeout = 10) {
  static const verdict_case cases[] = {
      {"well formed", {POST, PATH, GRPC_CT}, 0, 0, NULL},
      {"+proto",
       {POST, PATH, {"content-type", "application/grpc+proto"}},
       0,
       0,
       NULL},
      {"GET", {{":method", "GET"}, PATH, GRPC_CT}, 405, 0, NULL},
      {"lowercase post", {{":method", "post"}, PATH, GRPC_CT}, 405, 0, NULL},
      {"PUT", {{":method", "PUT"}, PATH, GRPC_CT}, 405, 0, NULL},
      {"POSTS", {{":method", "POSTS"}, PATH, GRPC_CT}, 405, 0, NULL},
      {"empty method", {{":method", ""}, PATH, GRPC_CT}, 405, 0, NULL},
      {"no content-type", {POST, PATH}, 415, 0, NULL},
      {"json",
       {POST, PATH, {"content-type", "application/json"}},
       415,
       0,
       NULL},
      {"grpc-web",
       {POST, PATH, {"content-type", "application/grpc-web"}},
       415,
       0,
       NULL},
      {"missing :path",
       {POST, GRPC_CT},
       -1,
       CRPC_STATUS_INTERNAL,
       "missing :path"},
      {"deflate",
       {POST, PATH, GRPC_CT, {"grpc-encoding", "deflate"}},
       -1,
       CRPC_STATUS_UNIMPLEMENTED,
       "unsupported grpc-encoding"},
      {"empty encoding",
       {POST, PATH, GRPC_CT, {"grpc-encoding", ""}},
       -1,
       CRPC_STATUS_UNIMPLEMENTED,
       "unsupported grpc-encoding"},
      {"gzip", {POST, PATH, GRPC_CT, {"grpc-encoding", "gzip"}}, 0, 0, NULL},
      {"identity",
       {POST, PATH, GRPC_CT, {"grpc-encoding", "identity"}},
       0,
       0,
       NULL},
      {"bad timeout",
       {POST, PATH, GRPC_CT, {"grpc-timeout", "1x"}},
       -1,
       CRPC_STATUS_INTERNAL,
       "malformed grpc-timeout"},
      /* The first problem wins. */
      {"timeout then encoding",
       {POST, PATH, GRPC_CT, {"grpc-timeout", "bad"}, {"grpc-encoding", "br"}},
       -1,
       CRPC_STATUS_INTERNAL,
       "malformed grpc-timeout"},
      {"encoding then timeout",
       {POST, PATH, GRPC_CT, {"grpc-encoding", "br"}, {"grpc-timeout", "bad"}},
       -1,
       CRPC_STATUS_UNIMPLEMENTED,
       "unsupported grpc-encoding"},
      {"a gRPC problem before a missing :path",
       {POST, GRPC_CT, {"grpc-encoding", "br"}},
       -1,
       CRPC_STATUS_UNIMPLEMENTED,
       "unsupported grpc-encoding"},
      /* HTTP refusals come before gRPC ones. */
      {"GET with json",
       {{":method", "GET"}, {"content-type", "x"}},
       405,
       0,
       NULL},
      {"json with bad timeout",
       {POST, PATH, {"content-type", "text/plain"}, {"grpc-timeout", "1"}},
       415,
       0,
       NULL},
      /* A later valid field does not undo an earlier problem. */
      {"bad then good timeout",
       {POST, PATH, GRPC_CT, {"grpc-timeout", "1"}, {"grpc-timeout", "1S"}},
       -1,
       CRPC_STATUS_INTERNAL,
       "malformed grpc-timeout"},
      /* Dropped metadata is not fatal. */
      {"bad metadata", {POST, PATH, GRPC_CT, {"X-Upper", "v"}}, 0, 0, NULL},
  };
  for (size_t i = 0; i < COUNT(cases); i++) {
    const verdict_case *c = &cases[i];
    crpc__grpc_request r;
    crpc_status code = CRPC_STATUS_OK;
    const char *msg = NULL;
    crpc__grpc_request_init(&r, &req_arena);
    for (size_t k = 0; k < COUNT(c->h) && c->h[k][0]; k++)
      req(&r, c->h[k][0], c->h[k][1]);
    int v = crpc__grpc_request_verdict(&r, &code, &msg);
    cr_assert_eq(v, c->verdict, "%s: verdict %d, want %d", c->what, v,
                 c->verdict);
    if (v == -1) {
      cr_assert_eq(code, c->code, "%s: code %d, want %d", c->what, (int)code,
                   (int)c->code);
      cr_assert_not_null(msg, "%s", c->what);
      cr_assert_str_eq(msg, c->msg, "%s", c->what);
    }
    crpc__grpc_request_cleanup(&r);
  }
}

#define ID CRPC__ENCODING_BIT(CRPC__ENCODING_IDENTITY)
#define GZ CRPC__ENCODING_BIT(CRPC__ENCODING_GZIP)

Test(grpc_headers, request_encodings, .timeout = 10) {
  static const struct {
    const char *enc;    /* NULL: no grpc-encoding */
    const char *accept; /* NULL: no grpc-accept-encoding */
    crpc__encoding want_enc;
    unsigned want_mask;
  } cases[] = {
      {NULL, NULL, CRPC__ENCODING_IDENTITY, ID},
      {"gzip", NULL, CRPC__ENCODING_GZIP, ID},
      {"GZip", NULL, CRPC__ENCODING_GZIP, ID},
      {"identity", "gzip", CRPC__ENCODING_IDENTITY, ID | GZ},
      {NULL, "identity,gzip", CRPC__ENCODING_IDENTITY, ID | GZ},
      {NULL, "gzip, deflate, br", CRPC__ENCODING_IDENTITY, ID | GZ},
      {NULL, "deflate", CRPC__ENCODING_IDENTITY, ID},
      {NULL, "", CRPC__ENCODING_IDENTITY, ID},
      {"gzip", "identity", CRPC__ENCODING_GZIP, ID},
  };
  for (size_t i = 0; i < COUNT(cases); i++) {
    crpc__grpc_request r;
    crpc_status code;
    const char *msg;
    crpc__grpc_request_init(&r, &req_arena);
    req_base(&r);
    if (cases[i].enc)
      req(&r, "grpc-encoding", cases[i].enc);
    if (cases[i].accept)
      req(&r, "grpc-accept-encoding", cases[i].accept);
    cr_assert_eq(crpc__grpc_request_verdict(&r, &code, &msg), 0, "case %zu", i);
    cr_assert_eq(r.enc, cases[i].want_enc, "case %zu", i);
    cr_assert_eq(r.accept_mask, cases[i].want_mask, "case %zu: mask %#x", i,
                 r.accept_mask);
    cr_assert_eq(crpc_metadata_count(&r.md), 0, "case %zu", i);
    crpc__grpc_request_cleanup(&r);
  }
}

Test(grpc_headers, request_metadata, .timeout = 10) {
  static const uint8_t trace[] = {0x00, 0x01, 0x02, 0xff};
  /* Fields that are not the application's. */
  static const char *const transport[][2] = {
      {"te", "trailers"},
      {"content-length", "12"},
      {"grpc-timeout", "1S"},
      {"grpc-encoding", "identity"},
      {"grpc-accept-encoding", "gzip"},
      {"grpc-trace-bin", "AAEC/w"},
      {"grpc-previous-rpc-attempts", "1"},
      {"grpc-whatever", "x"},
      {":scheme", "https"},
  };
  crpc__grpc_request r;
  crpc_status code;
  const char *msg;
  crpc__grpc_request_init(&r, &req_arena);
  req_base(&r);
  for (size_t i = 0; i < COUNT(transport); i++)
    cr_assert_eq(req(&r, transport[i][0], transport[i][1]), 0, "%s",
                 transport[i][0]);
  cr_assert_eq(req(&r, "x-user", "alice"), 0);
  cr_assert_eq(req(&r, "authorization", "Bearer t0k3n"), 0);
  cr_assert_eq(req(&r, "x-trace-bin", "AAEC/w"), 0);
  cr_assert_eq(req(&r, "x-padded-bin", "AAEC/w=="), 0);
  cr_assert_eq(req(&r, "x-user", "bob"), 0);
  cr_assert_eq(req(&r, "x-empty", ""), 0);
  cr_assert_eq(crpc__grpc_request_verdict(&r, &code, &msg), 0);

  for (size_t i = 0; i < COUNT(transport); i++)
    cr_assert_null(crpc_metadata_get(&r.md, transport[i][0]), "%s kept",
                   transport[i][0]);
  cr_assert_null(crpc_metadata_get(&r.md, "content-type"));
  cr_assert_null(crpc_metadata_get(&r.md, ":path"));
  cr_assert_null(crpc_metadata_get(&r.md, ":method"));
  cr_assert_null(crpc_metadata_get(&r.md, ":authority"));

  cr_assert_eq(crpc_metadata_count(&r.md), 6);
  static const char *const order[] = {"x-user",      "authorization",
                                      "x-trace-bin", "x-padded-bin",
                                      "x-user",      "x-empty"};
  for (size_t i = 0; i < COUNT(order); i++)
    cr_assert_str_eq(crpc_metadata_at(&r.md, i)->key, order[i]);
  check_md(&r.md, "x-user", "alice", 5);
  cr_assert_str_eq((const char *)crpc_metadata_at(&r.md, 4)->value, "bob");
  check_md(&r.md, "authorization", "Bearer t0k3n", 12);
  check_md(&r.md, "x-trace-bin", trace, sizeof(trace));
  check_md(&r.md, "x-padded-bin", trace, sizeof(trace));
  check_md(&r.md, "x-empty", "", 0);
  cr_assert_eq(r.dropped, 0);
  crpc__grpc_request_cleanup(&r);
}

Test(grpc_headers, request_drops_bad_metadata, .timeout = 10) {
  static const char *const bad[][2] = {
      {"X-Upper", "v"},    {"x space", "v"},      {"x-bad-bin", "!!!!"},
      {"x-ctl", "a\x01b"}, {"x-nl", "a\nb"},      {"", "v"},
      {"x-bin", "A"},      {"x-high", "caf\xc3"},
  };
  for (size_t i = 0; i < COUNT(bad); i++) {
    crpc__grpc_request r;
    crpc_status code;
    const char *msg;
    crpc__grpc_request_init(&r, &req_arena);
    req_base(&r);
    cr_assert_eq(req(&r, "x-good", "1"), 0);
    cr_assert_eq(req(&r, bad[i][0], bad[i][1]), 1, "\"%s\" not dropped",
                 bad[i][0]);
    cr_assert_eq(req(&r, "x-good", "2"), 0);
    cr_assert_eq(r.dropped, 1, "\"%s\"", bad[i][0]);
    cr_assert_eq(crpc_metadata_count(&r.md), 2, "\"%s\"", bad[i][0]);
    cr_assert_eq(crpc__grpc_request_verdict(&r, &code, &msg), 0,
                 "dropping \"%s\" is not fatal", bad[i][0]);
    crpc__grpc_request_cleanup(&r);
  }
  /* Every drop is counted. */
  crpc__grpc_request r;
  crpc__grpc_request_init(&r, &req_arena);
  for (size_t i = 0; i < COUNT(bad); i++)
    req(&r, bad[i][0], bad[i][1]);
  cr_assert_eq(r.dropped, COUNT(bad));
  crpc__grpc_request_cleanup(&r);
}

Test(grpc_headers, request_header_list_limit, .timeout = 10) {
  /* |extra| bytes counted beyond the base block, in one field. */
  static const struct {
    long extra; /* relative to what reaches the limit exactly */
    int verdict;
  } cases[] = {{-1, 0}, {0, 0}, {1, -1}, {5000, -1}};
  for (size_t i = 0; i < COUNT(cases); i++) {
    crpc__grpc_request r;
    crpc_status code = CRPC_STATUS_OK;
    const char *msg = NULL;
    crpc__grpc_request_init(&r, &req_arena);
    req_base(&r);
    size_t base = r.bytes;
    /* ":method"(7)+"POST"(4)+32 and so on for the six base fields. */
    cr_assert_eq(base, (7 + 4) + (7 + 4) + (5 + 15) + (10 + 15) + (12 + 16) +
                           (2 + 8) + 6 * 32);
    const char *name = "x-big";
    size_t vlen = (size_t)((long)(CRPC__GRPC_MAX_HEADER_LIST - base) -
                           (long)strlen(name) - 32 + cases[i].extra);
    char *v = malloc(vlen + 1);
    cr_assert_not_null(v);
    memset(v, 'a', vlen);
    v[vlen] = '\0';
    cr_assert_eq(req(&r, name, v), 0);
    cr_assert_eq(r.bytes, base + strlen(name) + vlen + 32);
    int got = crpc__grpc_request_verdict(&r, &code, &msg);
    cr_assert_eq(got, cases[i].verdict, "extra %ld: verdict %d", cases[i].extra,
                 got);
    if (got == -1) {
      cr_assert_eq(code, CRPC_STATUS_RESOURCE_EXHAUSTED);
      cr_assert_str_eq(msg, "request headers too large");
      cr_assert_null(crpc_metadata_get(&r.md, name), "kept past the limit");
    } else {
      check_md(&r.md, name, v, vlen);
    }
    free(v);
    crpc__grpc_request_cleanup(&r);
  }
}

Test(grpc_headers, request_many_fields_over_the_limit, .timeout = 10) {
  crpc__grpc_request r;
  crpc_status code = CRPC_STATUS_OK;
  const char *msg = NULL;
  char v[200];
  memset(v, 'v', sizeof(v) - 1);
  v[sizeof(v) - 1] = '\0';
  crpc__grpc_request_init(&r, &req_arena);
  req_base(&r);
  /* 100 fields of 3 + 199 + 32 bytes: past 16 KiB around the 70th. */
  for (int i = 0; i < 100; i++)
    req(&r, "x-k", v);
  cr_assert_gt(r.bytes, CRPC__GRPC_MAX_HEADER_LIST);
  cr_assert_lt(crpc_metadata_count(&r.md), 100);
  cr_assert_eq(crpc__grpc_request_verdict(&r, &code, &msg), -1);
  cr_assert_eq(code, CRPC_STATUS_RESOURCE_EXHAUSTED);
  cr_assert_str_eq(msg, "request headers too large");
  crpc__grpc_request_cleanup(&r);

  /* An earlier problem still wins over the size. */
  crpc__grpc_request_init(&r, &req_arena);
  req_base(&r);
  req(&r, "grpc-timeout", "soon");
  for (int i = 0; i < 100; i++)
    req(&r, "x-k", v);
  cr_assert_eq(crpc__grpc_request_verdict(&r, &code, &msg), -1);
  cr_assert_eq(code, CRPC_STATUS_INTERNAL);
  cr_assert_str_eq(msg, "malformed grpc-timeout");
  crpc__grpc_request_cleanup(&r);
}

Test(grpc_headers, request_limit_is_the_servers, .timeout = 10) {
  /* A server's max_header_list_bytes replaces the default: ten fields of
   * 3 + 199 + 32 bytes pass 2 KiB, and the rest are not kept. */
  crpc__grpc_request r;
  crpc_status code = CRPC_STATUS_OK;
  const char *msg = NULL;
  char v[200];
  memset(v, 'v', sizeof(v) - 1);
  v[sizeof(v) - 1] = '\0';
  crpc__grpc_request_init(&r, &req_arena);
  cr_assert_eq(r.max_bytes, CRPC__GRPC_MAX_HEADER_LIST);
  r.max_bytes = 2048;
  req_base(&r);
  for (int i = 0; i < 10; i++)
    req(&r, "x-k", v);
  cr_assert_gt(r.bytes, 2048);
  cr_assert_lt(crpc_metadata_count(&r.md), 10);
  cr_assert_eq(crpc__grpc_request_verdict(&r, &code, &msg), -1);
  cr_assert_eq(code, CRPC_STATUS_RESOURCE_EXHAUSTED);
  crpc__grpc_request_cleanup(&r);
  /* The same fields under the default limit are all kept. */
  crpc__grpc_request_init(&r, &req_arena);
  req_base(&r);
  for (int i = 0; i < 10; i++)
    req(&r, "x-k", v);
  cr_assert_eq(crpc_metadata_count(&r.md), 10);
  cr_assert_eq(crpc__grpc_request_verdict(&r, &code, &msg), 0);
  crpc__grpc_request_cleanup(&r);
}

Test(grpc_headers, response_blocks_over_the_limit, .timeout = 10) {
  /* Each block counts on its own: headers, then trailers. */
  crpc__grpc_response r;
  crpc__grpc_response_init(&r);
  char v[1000];
  memset(v, 'a', sizeof(v));
  int over = 0, n = 0;
  while (!over && n < 100) {
    over = crpc__grpc_response_header(&r, 0, (const uint8_t *)"x-big", 5,
                                      (const uint8_t *)v, sizeof(v));
    n++;
  }
  /* 1037 bytes a field: the 16th goes past 16384. */
  cr_assert_eq(n, 16);
  cr_assert_eq(crpc_metadata_count(&r.headers), 15, "past the limit: kept");
  cr_assert_eq(crpc__grpc_response_header(&r, 1, (const uint8_t *)"grpc-status",
                                          11, (const uint8_t *)"0", 1),
               0);
  cr_assert(r.saw_status);
  crpc__grpc_response_reset(&r);
  cr_assert_eq(r.bytes[0], 0);
  cr_assert_eq(r.bytes[1], 0);
  crpc__grpc_response_cleanup(&r);
}

Test(grpc_headers, request_over_the_limit_before_content_type, .timeout = 10) {
  /* Metadata may come before content-type: past the limit, the fields
   * after it were not read, and the answer is the size, not 415. */
  crpc__grpc_request r;
  crpc_status code = CRPC_STATUS_OK;
  const char *msg = NULL;
  char *v = malloc(17000);
  cr_assert_not_null(v);
  memset(v, 'a', 16999);
  v[16999] = '\0';
  crpc__grpc_request_init(&r, &req_arena);
  req(&r, ":method", "POST");
  req(&r, ":path", "/s/m");
  req(&r, "x-big", v);
  req(&r, "content-type", "application/grpc");
  cr_assert_eq(crpc__grpc_request_verdict(&r, &code, &msg), -1);
  cr_assert_eq(code, CRPC_STATUS_RESOURCE_EXHAUSTED);
  cr_assert_str_eq(msg, "request headers too large");
  crpc__grpc_request_cleanup(&r);
  free(v);
}

Test(grpc_headers, request_path_repeated_and_cleanup, .timeout = 10) {
  crpc__grpc_request r;
  crpc_status code;
  const char *msg;
  crpc__grpc_request_init(&r, &req_arena);
  req_base(&r);
  size_t before = crpc__arena_footprint(&req_arena);
  req(&r, ":path", "/other.Svc/M");
  req(&r, "x-a", "1");
  cr_assert_str_eq(r.path, "/other.Svc/M", "the last :path counts");
  cr_assert_gt(before, 0, "the first :path went into the arena");
  cr_assert_eq(crpc__arena_footprint(&req_arena), before,
               "the second's block is the first's");
  cr_assert_eq(crpc__grpc_request_verdict(&r, &code, &msg), 0);
  crpc__grpc_request_cleanup(&r);
  /* As after init, and reusable. */
  cr_assert_null(r.path);
  cr_assert_eq(r.bytes, 0);
  cr_assert_eq(r.saw_method, 0);
  cr_assert_eq(r.content_type_ok, 0);
  cr_assert_eq(crpc_metadata_count(&r.md), 0);
  cr_assert_eq(r.status, CRPC_STATUS_OK);
  req_base(&r);
  cr_assert_eq(crpc__grpc_request_verdict(&r, &code, &msg), 0);
  crpc__grpc_request_cleanup(&r);
}

/* The transport's fields never reach the application as metadata; a
 * field of the same length that is not one of them does. */
Test(grpc_headers, request_transport_fields_are_not_metadata, .timeout = 10) {
  static const struct {
    const char *name, *value;
    int metadata;
  } cases[] = {
      {"te", "trailers", 0},
      {"tf", "x", 1},
      {"content-type", "application/grpc", 0},
      {"content-typf", "x", 1},
      {"grpc-timeout", "1S", 0},
      {"grpc-encoding", "identity", 0},
      {"content-length", "5", 0},
      {"content-lengtx", "x", 1},
      {"grpc-accept-encoding", "gzip", 0},
      {"xgrpc-accept-encodin", "x", 1},
      {"grpc-other", "x", 0},
      {"user-agent", "grpc-c/1.0", 1},
      {"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
       1},
  };
  for (size_t i = 0; i < COUNT(cases); i++) {
    crpc__grpc_request r;
    crpc__grpc_request_init(&r, &req_arena);
    cr_assert_eq(req(&r, cases[i].name, cases[i].value), 0, "%s",
                 cases[i].name);
    cr_assert_eq(crpc_metadata_count(&r.md), (size_t)cases[i].metadata, "%s",
                 cases[i].name);
    cr_assert_eq(r.traceparent, strcmp(cases[i].name, "traceparent") == 0, "%s",
                 cases[i].name);
    crpc__grpc_request_cleanup(&r);
    cr_assert_eq(r.traceparent, 0, "cleanup forgets it");
  }
}

/* A :path the request's arena has no room for is refused, not a crash. */
Test(grpc_headers, request_path_out_of_memory, .timeout = 10) {
  crpc__arena tiny;
  crpc__grpc_request r;
  crpc_status code = CRPC_STATUS_OK;
  const char *msg = NULL;
  crpc__arena_init(&tiny, NULL, 64, 64);
  crpc__grpc_request_init(&r, &tiny);
  req_base(&r);
  cr_assert_null(r.path);
  cr_assert_eq(crpc__grpc_request_verdict(&r, &code, &msg), -1);
  cr_assert_eq(code, CRPC_STATUS_RESOURCE_EXHAUSTED);
  cr_assert_str_eq(msg, "out of memory");
  crpc__grpc_request_cleanup(&r);
  crpc__arena_cleanup(&tiny);
}

/* Responses. */

Test(grpc_headers, response_headers_then_trailers, .timeout = 10) {
  static const uint8_t details[] = {0x08, 0x05, 0x12, 0x01, 'x'};
  static const uint8_t hbin[] = {0x00, 0x01, 0x02, 0xff};
  crpc__grpc_response r;
  char why[128];
  const char *msg = NULL;
  crpc__grpc_response_init(&r);
  rsp(&r, 0, ":status", "200");
  rsp(&r, 0, "content-type", "application/grpc+proto");
  rsp(&r, 0, "grpc-encoding", "gzip");
  rsp(&r, 0, "grpc-accept-encoding", "identity,gzip");
  rsp(&r, 0, "x-hdr", "h");
  rsp(&r, 0, "x-hdr-bin", "AAEC/w");
  rsp(&r, 0, "X-Bad", "dropped");
  cr_assert_eq(crpc__grpc_response_headers_done(&r, 0), 1);
  cr_assert_eq(r.http_status, 200);
  cr_assert_eq(r.content_type_ok, 1);
  cr_assert_eq(r.enc, CRPC__ENCODING_GZIP);
  cr_assert_eq(r.bad_encoding, 0);
  cr_assert_eq(r.saw_headers, 1);
  cr_assert_eq(r.trailers_only, 0);
  cr_assert_eq(r.saw_status, 0);

  rsp(&r, 1, "grpc-status", "5");
  rsp(&r, 1, "grpc-message", "a%20b%25");
  rsp(&r, 1, "grpc-status-details-bin", "CAUSAXg"); /* unpadded */
  rsp(&r, 1, "x-trl", "t");
  rsp(&r, 1, ":status", "500"); /* not in trailers */
  rsp(&r, 1, "grpc-other", "o");

  cr_assert_eq(r.http_status, 200);
  cr_assert_eq(r.saw_status, 1);
  cr_assert_eq(r.code, CRPC_STATUS_NOT_FOUND);
  cr_assert_str_eq(r.message, "a b%");
  cr_assert_eq(r.details_len, sizeof(details));
  cr_assert_arr_eq(r.details, details, sizeof(details));

  cr_assert_eq(crpc_metadata_count(&r.headers), 2);
  check_md(&r.headers, "x-hdr", "h", 1);
  check_md(&r.headers, "x-hdr-bin", hbin, sizeof(hbin));
  cr_assert_eq(crpc_metadata_count(&r.trailers), 1);
  check_md(&r.trailers, "x-trl", "t", 1);

  cr_assert_eq(crpc__grpc_response_status(&r, NGHTTP2_NO_ERROR, 0, why,
                                          sizeof(why), &msg),
               CRPC_STATUS_NOT_FOUND);
  cr_assert_str_eq(msg, "a b%");
  crpc__grpc_response_cleanup(&r);
}

Test(grpc_headers, response_fields_table, .timeout = 10) {
  /* One field in the trailers, what the response then holds. */
  static const struct {
    const char *name, *value;
    int saw_status;
    crpc_status code;
    const char *message; /* NULL: none */
    const char *details; /* NULL: none */
    size_t details_len;
  } cases[] = {
      {"grpc-status", "0", 1, CRPC_STATUS_OK, NULL, NULL, 0},
      {"grpc-status", "16", 1, CRPC_STATUS_UNAUTHENTICATED, NULL, NULL, 0},
      {"grpc-status", "17", 1, CRPC_STATUS_UNKNOWN, NULL, NULL, 0},
      {"grpc-status", "", 1, CRPC_STATUS_UNKNOWN, NULL, NULL, 0},
      {"grpc-status", "ok", 1, CRPC_STATUS_UNKNOWN, NULL, NULL, 0},
      {"grpc-message", "a%20b%25", 0, 0, "a b%", NULL, 0},
      {"grpc-message", "100%", 0, 0, "100%", NULL, 0},
      {"grpc-message", "caf%C3%A9", 0, 0, "caf\xc3\xa9", NULL, 0},
      {"grpc-message", "", 0, 0, "", NULL, 0},
      {"grpc-status-details-bin", "CAUSAXg", 0, 0, NULL, "\x08\x05\x12\x01x",
       5},
      {"grpc-status-details-bin", "CAUSAXg=", 0, 0, NULL, "\x08\x05\x12\x01x",
       5},
      {"grpc-status-details-bin", "CBA", 0, 0, NULL, "\x08\x10", 2},
      {"grpc-status-details-bin", "!!", 0, 0, NULL, NULL, 0},
      {"grpc-status-details-bin", "A", 0, 0, NULL, NULL, 0},
  };
  for (size_t i = 0; i < COUNT(cases); i++) {
    crpc__grpc_response r;
    crpc__grpc_response_init(&r);
    rsp(&r, 1, cases[i].name, cases[i].value);
    cr_assert_eq(r.saw_status, cases[i].saw_status, "case %zu", i);
    if (cases[i].saw_status)
      cr_assert_eq(r.code, cases[i].code, "case %zu: %s", i, cases[i].value);
    if (cases[i].message) {
      cr_assert_not_null(r.message, "case %zu", i);
      cr_assert_str_eq(r.message, cases[i].message, "case %zu", i);
    } else {
      cr_assert_null(r.message, "case %zu", i);
    }
    if (cases[i].details) {
      cr_assert_not_null(r.details, "case %zu", i);
      cr_assert_eq(r.details_len, cases[i].details_len, "case %zu", i);
      cr_assert_arr_eq(r.details, cases[i].details, cases[i].details_len);
    } else {
      cr_assert_null(r.details, "case %zu", i);
    }
    cr_assert_eq(crpc_metadata_count(&r.trailers), 0, "case %zu", i);
    crpc__grpc_response_cleanup(&r);
  }
}

Test(grpc_headers, response_repeated_fields, .timeout = 10) {
  crpc__grpc_response r;
  crpc__grpc_response_init(&r);
  rsp(&r, 1, "grpc-message", "first");
  rsp(&r, 1, "grpc-message", "second");
  rsp(&r, 1, "grpc-status-details-bin", "CBA");
  rsp(&r, 1, "grpc-status-details-bin", "not base64!");
  rsp(&r, 1, "grpc-status", "3");
  rsp(&r, 1, "grpc-status", "4");
  cr_assert_str_eq(r.message, "second");
  cr_assert_eq(r.details_len, 2, "a bad value keeps the earlier details");
  cr_assert_arr_eq(r.details, "\x08\x10", 2);
  cr_assert_eq(r.code, CRPC_STATUS_DEADLINE_EXCEEDED);
  crpc__grpc_response_cleanup(&r);
}

Test(grpc_headers, headers_done_table, .timeout = 10) {
  static const struct {
    const char *status;       /* NULL: no :status */
    const char *content_type; /* NULL: none */
    int end_stream;
    int want;
  } cases[] = {
      {"200", "application/grpc", 0, 1},
      {"200", "application/grpc+proto", 0, 1},
      {"200", "application/grpc;charset=utf-8", 0, 1},
      {"200", "application/grpc", 1, 0}, /* trailers-only */
      {"404", "application/grpc", 0, 0},
      {"503", "text/html", 0, 0},
      {"200", "application/json", 0, 0},
      {"200", "application/grpc-web", 0, 0},
      {"200", NULL, 0, 0},
      {NULL, "application/grpc", 0, 0},
      {"20", "application/grpc", 0, 0},
      {"204", "application/grpc", 0, 0},
  };
  for (size_t i = 0; i < COUNT(cases); i++) {
    crpc__grpc_response r;
    crpc__grpc_response_init(&r);
    if (cases[i].status)
      rsp(&r, 0, ":status", cases[i].status);
    if (cases[i].content_type)
      rsp(&r, 0, "content-type", cases[i].content_type);
    cr_assert_eq(crpc__grpc_response_headers_done(&r, cases[i].end_stream),
                 cases[i].want, "case %zu (%s, %s, %d)", i, cases[i].status,
                 cases[i].content_type, cases[i].end_stream);
    cr_assert_eq(r.saw_headers, 1);
    cr_assert_eq(r.trailers_only, cases[i].end_stream, "case %zu", i);
    /* Only the first block is the headers. */
    cr_assert_eq(crpc__grpc_response_headers_done(&r, 0), 0, "case %zu", i);
    crpc__grpc_response_cleanup(&r);
  }
}

Test(grpc_headers, trailers_only_response, .timeout = 10) {
  crpc__grpc_response r;
  char why[128];
  const char *msg = NULL;
  crpc__grpc_response_init(&r);
  rsp(&r, 0, ":status", "200");
  rsp(&r, 0, "content-type", "application/grpc");
  rsp(&r, 0, "grpc-status", "5");
  rsp(&r, 0, "grpc-message", "no%20such%20thing");
  rsp(&r, 0, "x-md", "v");
  cr_assert_eq(crpc__grpc_response_headers_done(&r, 1), 0);
  cr_assert_eq(r.trailers_only, 1);
  cr_assert_eq(crpc_metadata_count(&r.headers), 0, "the block is trailers");
  cr_assert_eq(crpc_metadata_count(&r.trailers), 1);
  check_md(&r.trailers, "x-md", "v", 1);
  cr_assert_eq(crpc__grpc_response_status(&r, NGHTTP2_NO_ERROR, 0, why,
                                          sizeof(why), &msg),
               CRPC_STATUS_NOT_FOUND);
  cr_assert_str_eq(msg, "no such thing");
  crpc__grpc_response_cleanup(&r);
}

Test(grpc_headers, trailers_only_non_grpc, .timeout = 10) {
  /* A proxy's 503 that ends the stream: no grpc-status, mapped. */
  crpc__grpc_response r;
  char why[128];
  const char *msg = NULL;
  crpc__grpc_response_init(&r);
  rsp(&r, 0, ":status", "503");
  rsp(&r, 0, "content-type", "text/html");
  rsp(&r, 0, "x-proxy", "p");
  cr_assert_eq(crpc__grpc_response_headers_done(&r, 1), 0);
  cr_assert_eq(crpc__grpc_response_status(&r, NGHTTP2_NO_ERROR, 0, why,
                                          sizeof(why), &msg),
               CRPC_STATUS_UNAVAILABLE);
  cr_assert_str_eq(msg, "the server answered HTTP status 503");
  check_md(&r.trailers, "x-proxy", "p", 1);
  crpc__grpc_response_cleanup(&r);
}

#define G "application/grpc"

Test(grpc_headers, final_status_table, .timeout = 10) {
  static const struct {
    const char *what;
    const char *status;       /* :status, NULL: none */
    const char *content_type; /* NULL: none */
    const char *encoding;     /* grpc-encoding, NULL: none */
    const char *grpc_status;  /* in the trailers, NULL: none */
    const char *grpc_message; /* in the trailers, NULL: none */
    uint32_t rst;
    int mid_message;
    crpc_status code;
    const char *msg;
  } cases[] = {
      {"ok", "200", G, NULL, "0", NULL, 0, 0, CRPC_STATUS_OK, ""},
      {"error with message", "200", G, NULL, "7", "no%21", 0, 0,
       CRPC_STATUS_PERMISSION_DENIED, "no!"},
      {"status beats rst", "200", G, NULL, "0", NULL, NGHTTP2_CANCEL, 0,
       CRPC_STATUS_OK, ""},
      {"status beats HTTP", "503", "text/plain", NULL, "9", "m", 0, 0,
       CRPC_STATUS_FAILED_PRECONDITION, "m"},
      {"unknown code", "200", G, NULL, "55", NULL, 0, 0, CRPC_STATUS_UNKNOWN,
       ""},
      {"ok but mid message", "200", G, NULL, "0", "fine", 0, 1,
       CRPC_STATUS_INTERNAL,
       "the stream ended in the middle of a response message"},
      {"error mid message", "200", G, NULL, "14", "busy", 0, 1,
       CRPC_STATUS_UNAVAILABLE, "busy"},
      {"bad encoding", "200", G, "br", "0", NULL, 0, 0, CRPC_STATUS_INTERNAL,
       "the response uses an unsupported grpc-encoding"},
      {"bad encoding, error status", "200", G, "br", "5", "gone", 0, 0,
       CRPC_STATUS_NOT_FOUND, "gone"},
      {"gzip encoding", "200", G, "gzip", "0", NULL, 0, 0, CRPC_STATUS_OK, ""},
      {"rst refused", "200", G, NULL, NULL, NULL, NGHTTP2_REFUSED_STREAM, 0,
       CRPC_STATUS_UNAVAILABLE, "the server reset the stream (REFUSED_STREAM)"},
      {"rst cancel", "200", G, NULL, NULL, NULL, NGHTTP2_CANCEL, 0,
       CRPC_STATUS_CANCELLED, "the server reset the stream (CANCEL)"},
      {"rst calm", "200", G, NULL, NULL, NULL, NGHTTP2_ENHANCE_YOUR_CALM, 0,
       CRPC_STATUS_RESOURCE_EXHAUSTED,
       "the server reset the stream (ENHANCE_YOUR_CALM)"},
      {"rst security", "200", G, NULL, NULL, NULL, NGHTTP2_INADEQUATE_SECURITY,
       0, CRPC_STATUS_PERMISSION_DENIED,
       "the server reset the stream (INADEQUATE_SECURITY)"},
      {"rst protocol", NULL, NULL, NULL, NULL, NULL, NGHTTP2_PROTOCOL_ERROR, 0,
       CRPC_STATUS_INTERNAL, "the server reset the stream (PROTOCOL_ERROR)"},
      {"rst internal", "200", G, NULL, NULL, NULL, NGHTTP2_INTERNAL_ERROR, 1,
       CRPC_STATUS_INTERNAL, "the server reset the stream (INTERNAL_ERROR)"},
      {"rst beats HTTP", "503", "text/html", NULL, NULL, NULL,
       NGHTTP2_REFUSED_STREAM, 0, CRPC_STATUS_UNAVAILABLE,
       "the server reset the stream (REFUSED_STREAM)"},
      {"HTTP 503", "503", "text/html", NULL, NULL, NULL, 0, 0,
       CRPC_STATUS_UNAVAILABLE, "the server answered HTTP status 503"},
      {"HTTP 404", "404", G, NULL, NULL, NULL, 0, 0, CRPC_STATUS_UNIMPLEMENTED,
       "the server answered HTTP status 404"},
      {"HTTP 401", "401", NULL, NULL, NULL, NULL, 0, 0,
       CRPC_STATUS_UNAUTHENTICATED, "the server answered HTTP status 401"},
      {"HTTP 403", "403", NULL, NULL, NULL, NULL, 0, 0,
       CRPC_STATUS_PERMISSION_DENIED, "the server answered HTTP status 403"},
      {"HTTP 400", "400", NULL, NULL, NULL, NULL, 0, 0, CRPC_STATUS_INTERNAL,
       "the server answered HTTP status 400"},
      {"HTTP 429", "429", NULL, NULL, NULL, NULL, 0, 0, CRPC_STATUS_UNAVAILABLE,
       "the server answered HTTP status 429"},
      {"HTTP 502", "502", NULL, NULL, NULL, NULL, 0, 0, CRPC_STATUS_UNAVAILABLE,
       "the server answered HTTP status 502"},
      {"HTTP 504", "504", NULL, NULL, NULL, NULL, 0, 0, CRPC_STATUS_UNAVAILABLE,
       "the server answered HTTP status 504"},
      {"HTTP 500", "500", G, NULL, NULL, NULL, 0, 0, CRPC_STATUS_UNKNOWN,
       "the server answered HTTP status 500"},
      {"200 not gRPC", "200", "application/json", NULL, NULL, NULL, 0, 0,
       CRPC_STATUS_UNKNOWN, "the server's response is not gRPC (content-type)"},
      {"200 no content-type", "200", NULL, NULL, NULL, NULL, 0, 0,
       CRPC_STATUS_UNKNOWN, "the server's response is not gRPC (content-type)"},
      {"200 gRPC without status", "200", G, NULL, NULL, NULL, 0, 0,
       CRPC_STATUS_INTERNAL,
       "the server ended the stream without a grpc-status"},
      {"message without status", "200", G, NULL, NULL, "ignored", 0, 0,
       CRPC_STATUS_INTERNAL,
       "the server ended the stream without a grpc-status"},
  };
  for (size_t i = 0; i < COUNT(cases); i++) {
    crpc__grpc_response r;
    char why[128];
    const char *msg = NULL;
    crpc__grpc_response_init(&r);
    if (cases[i].status)
      rsp(&r, 0, ":status", cases[i].status);
    if (cases[i].content_type)
      rsp(&r, 0, "content-type", cases[i].content_type);
    if (cases[i].encoding)
      rsp(&r, 0, "grpc-encoding", cases[i].encoding);
    crpc__grpc_response_headers_done(&r, 0);
    if (cases[i].grpc_status)
      rsp(&r, 1, "grpc-status", cases[i].grpc_status);
    if (cases[i].grpc_message)
      rsp(&r, 1, "grpc-message", cases[i].grpc_message);
    crpc_status code = crpc__grpc_response_status(
        &r, cases[i].rst, cases[i].mid_message, why, sizeof(why), &msg);
    cr_assert_eq(code, cases[i].code, "%s: code %d, want %d", cases[i].what,
                 (int)code, (int)cases[i].code);
    cr_assert_not_null(msg, "%s", cases[i].what);
    cr_assert_str_eq(msg, cases[i].msg, "%s", cases[i].what);
    crpc__grpc_response_cleanup(&r);
  }
}

Test(grpc_headers, final_status_message_is_bounded, .timeout = 10) {
  crpc__grpc_response r;
  char why[16];
  const char *msg = NULL;
  memset(why, '#', sizeof(why));
  crpc__grpc_response_init(&r);
  rsp(&r, 0, ":status", "503");
  cr_assert_eq(
      crpc__grpc_response_status(&r, NGHTTP2_NO_ERROR, 0, why, 8, &msg),
      CRPC_STATUS_UNAVAILABLE);
  cr_assert_eq(msg, why);
  cr_assert_str_eq(msg, "the ser");
  cr_assert_eq(why[8], '#', "wrote past |cap|");
  crpc__grpc_response_cleanup(&r);
}

Test(grpc_headers, response_reset_clears_everything, .timeout = 10) {
  crpc__grpc_response r;
  char why[128];
  const char *msg = NULL;
  crpc__grpc_response_init(&r);
  for (int round = 0; round < 2; round++) {
    rsp(&r, 0, ":status", "200");
    rsp(&r, 0, "content-type", "application/grpc");
    rsp(&r, 0, "grpc-encoding", "br");
    rsp(&r, 0, "x-h", "1");
    crpc__grpc_response_headers_done(&r, 1);
    rsp(&r, 1, "grpc-status", "13");
    rsp(&r, 1, "grpc-message", "boom");
    rsp(&r, 1, "grpc-status-details-bin", "CBA");
    rsp(&r, 1, "x-t", "2");
    cr_assert(r.saw_status && r.message && r.details && r.bad_encoding);

    crpc__grpc_response_reset(&r);
    cr_assert_eq(r.http_status, 0);
    cr_assert_eq(r.content_type_ok, 0);
    cr_assert_eq(r.enc, CRPC__ENCODING_IDENTITY);
    cr_assert_eq(r.bad_encoding, 0);
    cr_assert_eq(r.saw_headers, 0);
    cr_assert_eq(r.trailers_only, 0);
    cr_assert_eq(r.saw_status, 0);
    cr_assert_eq(r.code, CRPC_STATUS_OK);
    cr_assert_null(r.message);
    cr_assert_null(r.details);
    cr_assert_eq(r.details_len, 0);
    cr_assert_eq(crpc_metadata_count(&r.headers), 0);
    cr_assert_eq(crpc_metadata_count(&r.trailers), 0);
    cr_assert_eq(crpc__grpc_response_status(&r, NGHTTP2_NO_ERROR, 0, why,
                                            sizeof(why), &msg),
                 CRPC_STATUS_UNKNOWN, "a fresh response has no :status");
  }
  /* Usable again after a reset. */
  rsp(&r, 0, ":status", "200");
  rsp(&r, 0, "content-type", "application/grpc");
  rsp(&r, 0, "x-h", "3");
  cr_assert_eq(crpc__grpc_response_headers_done(&r, 0), 1);
  rsp(&r, 1, "grpc-status", "0");
  check_md(&r.headers, "x-h", "3", 1);
  cr_assert_eq(crpc__grpc_response_status(&r, NGHTTP2_NO_ERROR, 0, why,
                                          sizeof(why), &msg),
               CRPC_STATUS_OK);
  crpc__grpc_response_cleanup(&r);
}

/* Builders. */

/* A request header list built by the fixture. */
typedef struct {
  crpc__arena a;
  crpc__nvlist l;
  crpc_metadata md;
} built;

static void built_init(built *b) {
  crpc__arena_init(&b->a, NULL, 0, 0);
  crpc__nvlist_init(&b->l, &b->a);
  crpc_metadata_init(&b->md);
}

static void built_cleanup(built *b) {
  crpc_metadata_cleanup(&b->md);
  crpc__arena_cleanup(&b->a);
}

/* The fields every request starts with, in order. */
#define FIXED                                                                  \
  ":method", ":scheme", ":path", ":authority", "te", "content-type",           \
      "user-agent", "grpc-accept-encoding"

Test(grpc_headers, request_headers_table, .timeout = 10) {
  enum { INFINITE, FINITE, EXPIRED };
  static const struct {
    int tls;
    crpc__encoding enc;
    int deadline;
    int with_md;
    const char *names[16];
  } cases[] = {
      {0, CRPC__ENCODING_IDENTITY, INFINITE, 0, {FIXED, NULL}},
      {1, CRPC__ENCODING_IDENTITY, INFINITE, 0, {FIXED, NULL}},
      {0, CRPC__ENCODING_GZIP, INFINITE, 0, {FIXED, "grpc-encoding", NULL}},
      {0, CRPC__ENCODING_IDENTITY, FINITE, 0, {FIXED, "grpc-timeout", NULL}},
      {0, CRPC__ENCODING_IDENTITY, EXPIRED, 0, {FIXED, "grpc-timeout", NULL}},
      {0,
       CRPC__ENCODING_IDENTITY,
       INFINITE,
       1,
       {FIXED, "x-user", "x-trace-bin", "x-user", NULL}},
      {1,
       CRPC__ENCODING_GZIP,
       FINITE,
       1,
       {FIXED, "grpc-encoding", "grpc-timeout", "x-user", "x-trace-bin",
        "x-user", NULL}},
  };
  for (size_t i = 0; i < COUNT(cases); i++) {
    built b;
    char what[32];
    built_init(&b);
    snprintf(what, sizeof(what), "case %zu", i);
    cr_assert_eq(crpc_metadata_add_str(&b.md, "x-user", "alice"), 0);
    cr_assert_eq(crpc_metadata_add(&b.md, "x-trace-bin", "\xff\x00", 2), 0);
    cr_assert_eq(crpc_metadata_add_str(&b.md, "x-user", "bob"), 0);
    crpc_deadline d = cases[i].deadline == INFINITE ? CRPC_DEADLINE_INFINITE
                      : cases[i].deadline == FINITE
                          ? crpc_deadline_after_ms(5000)
                          : crpc_deadline_after_ms(-10);
    crpc__grpc_request_headers(&b.l, cases[i].tls, "/pkg.Svc/Method",
                               "example.com:443", "crpc-test/1.0", cases[i].enc,
                               d, cases[i].with_md ? &b.md : NULL);
    int64_t left = crpc_deadline_remaining_ns(d);
    cr_assert_eq(b.l.oom, 0);
    check_names(&b.l, cases[i].names, what);
    check_str(&b.l, ":method", "POST");
    check_str(&b.l, ":scheme", cases[i].tls ? "https" : "http");
    check_str(&b.l, ":path", "/pkg.Svc/Method");
    check_str(&b.l, ":authority", "example.com:443");
    check_str(&b.l, "te", "trailers");
    check_str(&b.l, "content-type", "application/grpc");
    check_str(&b.l, "user-agent", "crpc-test/1.0");
    check_str(&b.l, "grpc-accept-encoding", "identity,gzip");
    if (cases[i].enc != CRPC__ENCODING_IDENTITY)
      check_str(&b.l, "grpc-encoding", "gzip");
    if (cases[i].deadline != INFINITE) {
      const nghttp2_nv *t = nv_find(&b.l, "grpc-timeout");
      int64_t ns = -1;
      cr_assert_not_null(t, "%s", what);
      cr_assert_eq(
          crpc__timeout_parse((const char *)t->value, t->valuelen, &ns), 0,
          "%s: grpc-timeout %.*s", what, (int)t->valuelen,
          (const char *)t->value);
      if (cases[i].deadline == FINITE) {
        /* Rounded up from what was left: never shorter, never beyond. */
        cr_assert_geq(ns, left, "%s: %lld < %lld left", what, (long long)ns,
                      (long long)left);
        cr_assert_leq(ns, INT64_C(5000000000), "%s: %lld", what, (long long)ns);
      } else {
        check_str(&b.l, "grpc-timeout", "1n");
      }
    }
    if (cases[i].with_md) {
      size_t at = b.l.n - 3;
      cr_assert_arr_eq(b.l.nv[at].value, "alice", 5);
      cr_assert_eq(b.l.nv[at + 1].valuelen, 3);
      cr_assert_arr_eq(b.l.nv[at + 1].value, "/wA", 3, "-bin as base64");
      cr_assert_eq(b.l.nv[at + 2].valuelen, 3);
      cr_assert_arr_eq(b.l.nv[at + 2].value, "bob", 3);
    }
    built_cleanup(&b);
  }
}

Test(grpc_headers, request_headers_timeout_units, .timeout = 10) {
  /* A long deadline still fits the 8 digits, and parses back within it. */
  static const int64_t ms[] = {1, 250, 60000, INT64_C(86400000),
                               INT64_C(31536000000)};
  for (size_t i = 0; i < COUNT(ms); i++) {
    built b;
    built_init(&b);
    crpc_deadline d = crpc_deadline_after_ms(ms[i]);
    crpc__grpc_request_headers(&b.l, 0, "/s/m", "h", "ua",
                               CRPC__ENCODING_IDENTITY, d, NULL);
    int64_t left = crpc_deadline_remaining_ns(d);
    const nghttp2_nv *t = nv_find(&b.l, "grpc-timeout");
    int64_t ns = -1;
    cr_assert_not_null(t);
    cr_assert_leq(t->valuelen, CRPC__TIMEOUT_MAX - 1);
    cr_assert_eq(crpc__timeout_parse((const char *)t->value, t->valuelen, &ns),
                 0);
    cr_assert_geq(ns, left, "%lld ms", (long long)ms[i]);
    cr_assert_leq(ns, ms[i] * 1000000 + ms[i] * 1000000 / 1000, "%lld ms: %.*s",
                  (long long)ms[i], (int)t->valuelen, (const char *)t->value);
    built_cleanup(&b);
  }
}

Test(grpc_headers, response_headers_table, .timeout = 10) {
  static const struct {
    crpc__encoding enc;
    const char *fields[5][2];
  } cases[] = {
      {CRPC__ENCODING_IDENTITY,
       {{":status", "200"},
        {"content-type", "application/grpc"},
        {"grpc-accept-encoding", "identity,gzip"}}},
      {CRPC__ENCODING_GZIP,
       {{":status", "200"},
        {"content-type", "application/grpc"},
        {"grpc-accept-encoding", "identity,gzip"},
        {"grpc-encoding", "gzip"}}},
  };
  for (size_t i = 0; i < COUNT(cases); i++) {
    built b;
    const char *names[6] = {0};
    built_init(&b);
    crpc__grpc_response_headers(&b.l, cases[i].enc);
    cr_assert_eq(b.l.oom, 0);
    for (size_t k = 0; k < 5 && cases[i].fields[k][0]; k++) {
      names[k] = cases[i].fields[k][0];
      check_str(&b.l, cases[i].fields[k][0], cases[i].fields[k][1]);
    }
    check_names(&b.l, names, "response headers");
    built_cleanup(&b);
  }
}

/* Whether nghttp2 sends field |name| of |l| from where it is (a constant
 * of the program's) rather than from a copy. */
static int sent_in_place(const crpc__nvlist *l, const char *name) {
  const nghttp2_nv *nv = nv_find(l, name);
  cr_assert_not_null(nv, "%s", name);
  const uint8_t both =
      NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE;
  cr_assert(nv->flags == both || nv->flags == NGHTTP2_NV_FLAG_NONE,
            "%s: flags %u", name, (unsigned)nv->flags);
  return nv->flags == both;
}

/* Constant fields go without a copy; text that lives in the caller's or
 * the list's memory, which is reset once the list is submitted, is
 * copied by nghttp2. */
Test(grpc_headers, only_constant_fields_go_uncopied, .timeout = 10) {
  static const char *const constant[] = {
      ":method",      ":scheme",       "te",
      "content-type", "grpc-encoding", "grpc-accept-encoding"};
  static const char *const copied[] = {":path", ":authority", "user-agent",
                                       "grpc-timeout", "x-user"};
  built b;
  built_init(&b);
  cr_assert_eq(crpc_metadata_add_str(&b.md, "x-user", "alice"), 0);
  crpc__grpc_request_headers(&b.l, 1, "/pkg.Svc/Method", "example.com:443",
                             "crpc-test/1.0", CRPC__ENCODING_GZIP,
                             crpc_deadline_after_ms(5000), &b.md);
  cr_assert_eq(b.l.oom, 0);
  for (size_t i = 0; i < COUNT(constant); i++)
    cr_assert(sent_in_place(&b.l, constant[i]), "request %s", constant[i]);
  for (size_t i = 0; i < COUNT(copied); i++)
    cr_assert(!sent_in_place(&b.l, copied[i]), "request %s", copied[i]);
  built_cleanup(&b);

  built_init(&b);
  crpc__grpc_response_headers(&b.l, CRPC__ENCODING_GZIP);
  for (size_t i = 0; i < b.l.n; i++)
    cr_assert(sent_in_place(&b.l, (const char *)b.l.nv[i].name));
  built_cleanup(&b);

  static const uint8_t det[] = {0x08, 0x10};
  for (int code = 0; code <= 16; code++) {
    built_init(&b);
    crpc__grpc_trailers(&b.l, (crpc_status)code, "why", det, sizeof(det));
    cr_assert(sent_in_place(&b.l, "grpc-status"), "code %d", code);
    cr_assert(!sent_in_place(&b.l, "grpc-message"), "code %d", code);
    if (code != 0)
      cr_assert(!sent_in_place(&b.l, "grpc-status-details-bin"));
    built_cleanup(&b);
  }
  built_init(&b);
  crpc__grpc_trailers(&b.l, (crpc_status)42, NULL, NULL, 0);
  check_str(&b.l, "grpc-status", "42");
  cr_assert(!sent_in_place(&b.l, "grpc-status"), "formatted, not constant");
  built_cleanup(&b);
}

Test(grpc_headers, trailers_table, .timeout = 10) {
  static const uint8_t det[] = {0x08, 0x10};
  static const struct {
    crpc_status code;
    const char *message;
    const uint8_t *details;
    size_t details_len;
    const char *fields[4][2];
  } cases[] = {
      {CRPC_STATUS_OK, NULL, NULL, 0, {{"grpc-status", "0"}}},
      {CRPC_STATUS_OK, "", NULL, 0, {{"grpc-status", "0"}}},
      {CRPC_STATUS_OK,
       "fine",
       NULL,
       0,
       {{"grpc-status", "0"}, {"grpc-message", "fine"}}},
      {CRPC_STATUS_OK,
       "",
       det,
       sizeof(det),
       {{"grpc-status", "0"}}}, /* no details with OK */
      {CRPC_STATUS_NOT_FOUND,
       "no such thing",
       NULL,
       0,
       {{"grpc-status", "5"}, {"grpc-message", "no such thing"}}},
      {CRPC_STATUS_INTERNAL,
       "100% broken\n",
       NULL,
       0,
       {{"grpc-status", "13"}, {"grpc-message", "100%25 broken%0A"}}},
      {CRPC_STATUS_UNAUTHENTICATED,
       "x",
       det,
       sizeof(det),
       {{"grpc-status", "16"},
        {"grpc-message", "x"},
        {"grpc-status-details-bin", "CBA"}}},
      {CRPC_STATUS_ABORTED,
       NULL,
       det,
       sizeof(det),
       {{"grpc-status", "10"}, {"grpc-status-details-bin", "CBA"}}},
      {CRPC_STATUS_DATA_LOSS,
       "",
       (const uint8_t *)"\x08\x05\x12\x01x",
       5,
       {{"grpc-status", "15"}, {"grpc-status-details-bin", "CAUSAXg"}}},
  };
  for (size_t i = 0; i < COUNT(cases); i++) {
    built b;
    const char *names[5] = {0};
    char what[32];
    snprintf(what, sizeof(what), "trailers case %zu", i);
    built_init(&b);
    crpc__grpc_trailers(&b.l, cases[i].code, cases[i].message, cases[i].details,
                        cases[i].details_len);
    cr_assert_eq(b.l.oom, 0);
    for (size_t k = 0; k < 4 && cases[i].fields[k][0]; k++) {
      names[k] = cases[i].fields[k][0];
      check_str(&b.l, cases[i].fields[k][0], cases[i].fields[k][1]);
    }
    check_names(&b.l, names, what);
    built_cleanup(&b);
  }
}

Test(grpc_headers, trailers_round_trip, .timeout = 10) {
  static const char message[] = "caf\xc3\xa9 100% \x01 done\r\n\xff";
  static const uint8_t details[] = {0x00, 0xff, 0x08, 0x0d, 0x12, 0x03,
                                    'a',  'b',  'c',  0x3e, 0x3f};
  built b;
  crpc__grpc_response r;
  char why[128];
  const char *msg = NULL;
  built_init(&b);
  crpc__grpc_trailers(&b.l, CRPC_STATUS_RESOURCE_EXHAUSTED, message, details,
                      sizeof(details));
  cr_assert_eq(b.l.oom, 0);
  check_str(&b.l, "grpc-status", "8");
  check_str(&b.l, "grpc-message", "caf%C3%A9 100%25 %01 done%0D%0A%FF");
  const nghttp2_nv *d = nv_find(&b.l, "grpc-status-details-bin");
  cr_assert_not_null(d);
  cr_assert_eq(d->valuelen, crpc__base64_encoded_len(sizeof(details), 0));
  for (size_t k = 0; k < b.l.n; k++)
    for (size_t j = 0; j < b.l.nv[k].valuelen; j++)
      cr_assert(b.l.nv[k].value[j] >= 0x20 && b.l.nv[k].value[j] <= 0x7e,
                "field %zu byte %zu is not printable", k, j);

  /* What a client reads back is what the server said. */
  crpc__grpc_response_init(&r);
  rsp(&r, 0, ":status", "200");
  rsp(&r, 0, "content-type", "application/grpc");
  crpc__grpc_response_headers_done(&r, 0);
  for (size_t k = 0; k < b.l.n; k++)
    crpc__grpc_response_header(&r, 1, b.l.nv[k].name, b.l.nv[k].namelen,
                               b.l.nv[k].value, b.l.nv[k].valuelen);
  cr_assert_eq(crpc__grpc_response_status(&r, NGHTTP2_NO_ERROR, 0, why,
                                          sizeof(why), &msg),
               CRPC_STATUS_RESOURCE_EXHAUSTED);
  cr_assert_str_eq(msg, message);
  cr_assert_eq(r.details_len, sizeof(details));
  cr_assert_arr_eq(r.details, details, sizeof(details));
  crpc__grpc_response_cleanup(&r);
  built_cleanup(&b);
}

Test(grpc_headers, trailers_oom, .timeout = 10) {
  static char message[3000];
  crpc__arena a;
  crpc__nvlist l;
  memset(message, '%', sizeof(message) - 1); /* 9000 bytes encoded */
  crpc__arena_init(&a, NULL, 0, 4096);
  crpc__nvlist_init(&l, &a);
  crpc__grpc_trailers(&l, CRPC_STATUS_INTERNAL, message, NULL, 0);
  cr_assert_eq(l.oom, 1);
  cr_assert_null(nv_find(&l, "grpc-message"));
  crpc__arena_cleanup(&a);
}

Test(grpc_headers, http_error_table, .timeout = 10) {
  static const struct {
    int http;
    const char *message;
    const char *fields[5][2];
  } cases[] = {
      {405,
       "method not allowed",
       {{":status", "405"},
        {"content-type", "text/plain"},
        {"grpc-status", "13"},
        {"grpc-message", "method not allowed"}}},
      {415,
       "invalid gRPC request content-type 50%",
       {{":status", "415"},
        {"content-type", "text/plain"},
        {"grpc-status", "13"},
        {"grpc-message", "invalid gRPC request content-type 50%25"}}},
      {400,
       "",
       {{":status", "400"},
        {"content-type", "text/plain"},
        {"grpc-status", "13"}}},
  };
  for (size_t i = 0; i < COUNT(cases); i++) {
    built b;
    const char *names[6] = {0};
    built_init(&b);
    crpc__grpc_http_error(&b.l, cases[i].http, cases[i].message);
    cr_assert_eq(b.l.oom, 0);
    for (size_t k = 0; k < 5 && cases[i].fields[k][0]; k++) {
      names[k] = cases[i].fields[k][0];
      check_str(&b.l, cases[i].fields[k][0], cases[i].fields[k][1]);
    }
    check_names(&b.l, names, "http error");
    built_cleanup(&b);
  }
}
