/* runtime/grpc_headers.c: see grpc_headers.h. */
#include "grpc_headers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "base64.h"
#include "deadline_internal.h"
#include "metadata_wire.h"
#include "percent.h"

static int name_is(const uint8_t *name, size_t n, const char *s) {
  size_t l = strlen(s);
  return n == l && memcmp(name, s, l) == 0;
}

int crpc__grpc_content_type_ok(const uint8_t *v, size_t n) {
  static const char pfx[] = "application/grpc";
  size_t pl = sizeof(pfx) - 1;
  if (n < pl || memcmp(v, pfx, pl) != 0)
    return 0;
  return n == pl || v[pl] == '+' || v[pl] == ';';
}

int crpc__grpc_status_parse(const uint8_t *v, size_t n, crpc_status *out) {
  int code = 0;
  if (n == 0 || n > 2)
    return -1;
  for (size_t i = 0; i < n; i++) {
    if (v[i] < '0' || v[i] > '9')
      return -1;
    code = code * 10 + (v[i] - '0');
  }
  *out = code <= 16 ? (crpc_status)code : CRPC_STATUS_UNKNOWN;
  return 0;
}

int crpc__grpc_http_status_parse(const uint8_t *v, size_t n) {
  int st = 0;
  if (n != 3)
    return 0;
  for (size_t i = 0; i < 3; i++) {
    if (v[i] < '0' || v[i] > '9')
      return 0;
    st = st * 10 + (v[i] - '0');
  }
  return st;
}

crpc_status crpc__grpc_status_from_http(int http_status) {
  switch (http_status) {
  case 400:
    return CRPC_STATUS_INTERNAL;
  case 401:
    return CRPC_STATUS_UNAUTHENTICATED;
  case 403:
    return CRPC_STATUS_PERMISSION_DENIED;
  case 404:
    return CRPC_STATUS_UNIMPLEMENTED;
  case 429:
  case 502:
  case 503:
  case 504:
    return CRPC_STATUS_UNAVAILABLE;
  default:
    return CRPC_STATUS_UNKNOWN;
  }
}

crpc_status crpc__grpc_status_from_rst(uint32_t error_code) {
  switch (error_code) {
  case NGHTTP2_REFUSED_STREAM:
    return CRPC_STATUS_UNAVAILABLE;
  case NGHTTP2_CANCEL:
    return CRPC_STATUS_CANCELLED;
  case NGHTTP2_ENHANCE_YOUR_CALM:
    return CRPC_STATUS_RESOURCE_EXHAUSTED;
  case NGHTTP2_INADEQUATE_SECURITY:
    return CRPC_STATUS_PERMISSION_DENIED;
  default:
    return CRPC_STATUS_INTERNAL;
  }
}

int crpc__grpc_reserved(const uint8_t *name, size_t n) {
  return n >= 5 && memcmp(name, "grpc-", 5) == 0;
}

/* Requests. */

void crpc__grpc_request_init(crpc__grpc_request *r, crpc__arena *a) {
  *r = (crpc__grpc_request){
      .enc = CRPC__ENCODING_IDENTITY,
      .accept_mask = CRPC__ENCODING_BIT(CRPC__ENCODING_IDENTITY),
      .status = CRPC_STATUS_OK,
      .max_bytes = CRPC__GRPC_MAX_HEADER_LIST,
      .arena = a,
  };
  crpc_metadata_init(&r->md);
}

void crpc__grpc_request_cleanup(crpc__grpc_request *r) {
  crpc_metadata_cleanup(&r->md);
  crpc__grpc_request_init(r, r->arena);
}

/* The first problem wins. */
static void request_error(crpc__grpc_request *r, crpc_status code,
                          const char *msg) {
  if (r->status == CRPC_STATUS_OK) {
    r->status = code;
    r->error = msg;
  }
}

int crpc__grpc_request_header(crpc__grpc_request *r, const uint8_t *name,
                              size_t nlen, const uint8_t *value, size_t vlen) {
  r->bytes += nlen + vlen + 32;
  if (r->bytes > r->max_bytes) {
    request_error(r, CRPC_STATUS_RESOURCE_EXHAUSTED,
                  "request headers too large");
    return 0;
  }
  if (nlen > 0 && name[0] == ':') {
    if (name_is(name, nlen, ":method")) {
      r->saw_method = 1;
      r->method_post = vlen == 4 && memcmp(value, "POST", 4) == 0;
    } else if (name_is(name, nlen, ":path")) {
      r->path = crpc__arena_alloc(r->arena, vlen + 1);
      if (r->path) {
        memcpy(r->path, value, vlen);
        r->path[vlen] = '\0';
      } else {
        request_error(r, CRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
      }
    }
    return 0;
  }
  /* The transport's fields, told apart by length first: most requests
   * carry several of them and a field or two of metadata. */
  switch (nlen) {
  case 2: /* "te: trailers" is not required, as gRPC servers do not
           * require it */
    if (memcmp(name, "te", 2) == 0)
      return 0;
    break;
  case 12:
    if (memcmp(name, "content-type", 12) == 0) {
      r->content_type_ok = crpc__grpc_content_type_ok(value, vlen);
      return 0;
    }
    if (memcmp(name, "grpc-timeout", 12) == 0) {
      int64_t ns;
      if (crpc__timeout_parse((const char *)value, vlen, &ns) != 0) {
        request_error(r, CRPC_STATUS_INTERNAL, "malformed grpc-timeout");
      } else {
        r->has_timeout = 1;
        r->timeout_ns = ns;
      }
      return 0;
    }
    break;
  case 13:
    if (memcmp(name, "grpc-encoding", 13) == 0) {
      if (crpc__compress_lookup((const char *)value, vlen, &r->enc) != 0)
        request_error(r, CRPC_STATUS_UNIMPLEMENTED,
                      "unsupported grpc-encoding");
      return 0;
    }
    break;
  case 14:
    if (memcmp(name, "content-length", 14) == 0)
      return 0;
    break;
  case 20:
    if (memcmp(name, "grpc-accept-encoding", 20) == 0) {
      r->accept_mask = crpc__compress_accept_parse((const char *)value, vlen) |
                       CRPC__ENCODING_BIT(CRPC__ENCODING_IDENTITY);
      return 0;
    }
    break;
  default:
    break;
  }
  /* Other grpc- fields are the transport's, not metadata. */
  if (crpc__grpc_reserved(name, nlen))
    return 0;
  if (crpc__metadata_add_wire(&r->md, (const char *)name, nlen, value, vlen) !=
      0) {
    r->dropped++;
    return 1;
  }
  if (nlen == 11 && memcmp(name, "traceparent", 11) == 0)
    r->traceparent = 1;
  return 0;
}

int crpc__grpc_request_verdict(const crpc__grpc_request *r, crpc_status *code,
                               const char **msg) {
  /* Fields past the limit were not read: nothing else can be judged. */
  if (r->bytes > r->max_bytes) {
    *code = r->status;
    *msg = r->error;
    return -1;
  }
  if (r->saw_method && !r->method_post)
    return 405;
  if (!r->content_type_ok)
    return 415;
  if (r->status != CRPC_STATUS_OK) {
    *code = r->status;
    *msg = r->error;
    return -1;
  }
  if (!r->path) {
    *code = CRPC_STATUS_INTERNAL;
    *msg = "missing :path";
    return -1;
  }
  return 0;
}

/* Responses. */

void crpc__grpc_response_init(crpc__grpc_response *r) {
  *r = (crpc__grpc_response){.enc = CRPC__ENCODING_IDENTITY};
  crpc_metadata_init(&r->headers);
  crpc_metadata_init(&r->trailers);
}

void crpc__grpc_response_cleanup(crpc__grpc_response *r) {
  free(r->message);
  free(r->details);
  crpc_metadata_cleanup(&r->headers);
  crpc_metadata_cleanup(&r->trailers);
}

void crpc__grpc_response_reset(crpc__grpc_response *r) {
  crpc_metadata hdr = r->headers, trl = r->trailers;
  free(r->message);
  free(r->details);
  crpc_metadata_clear(&hdr);
  crpc_metadata_clear(&trl);
  *r = (crpc__grpc_response){
      .enc = CRPC__ENCODING_IDENTITY, .headers = hdr, .trailers = trl};
}

int crpc__grpc_response_header(crpc__grpc_response *r, int trailers,
                               const uint8_t *name, size_t nlen,
                               const uint8_t *value, size_t vlen) {
  size_t *bytes = &r->bytes[trailers ? 1 : 0];
  *bytes += nlen + vlen + 32;
  if (*bytes > CRPC__GRPC_MAX_HEADER_LIST)
    return 1;
  if (!trailers && name_is(name, nlen, ":status")) {
    r->http_status = crpc__grpc_http_status_parse(value, vlen);
    return 0;
  }
  if (nlen > 0 && name[0] == ':')
    return 0;
  if (!trailers && name_is(name, nlen, "content-type")) {
    r->content_type_ok = crpc__grpc_content_type_ok(value, vlen);
    return 0;
  }
  if (!trailers && name_is(name, nlen, "grpc-encoding")) {
    if (crpc__compress_lookup((const char *)value, vlen, &r->enc) != 0)
      r->bad_encoding = 1;
    return 0;
  }
  if (name_is(name, nlen, "grpc-status")) {
    crpc_status code;
    r->saw_status = 1;
    r->code = crpc__grpc_status_parse(value, vlen, &code) == 0
                  ? code
                  : CRPC_STATUS_UNKNOWN;
    return 0;
  }
  if (name_is(name, nlen, "grpc-message")) {
    size_t len;
    free(r->message);
    r->message = crpc__percent_decode_alloc((const char *)value, vlen, &len);
    return 0;
  }
  if (name_is(name, nlen, "grpc-status-details-bin")) {
    size_t cap = crpc__base64_decoded_max_len(vlen);
    uint8_t *d = malloc(cap ? cap : 1);
    size_t len;
    if (d &&
        crpc__base64_decode((const char *)value, vlen, d, cap, &len) == 0) {
      free(r->details);
      r->details = d;
      r->details_len = len;
    } else {
      free(d);
    }
    return 0;
  }
  if (crpc__grpc_reserved(name, nlen))
    return 0; /* not the application's */
  /* A field the metadata rules refuse is dropped, not fatal. */
  crpc__metadata_add_wire(trailers ? &r->trailers : &r->headers,
                          (const char *)name, nlen, value, vlen);
  return 0;
}

int crpc__grpc_response_headers_done(crpc__grpc_response *r, int end_stream) {
  if (r->saw_headers)
    return 0;
  r->saw_headers = 1;
  if (end_stream) {
    /* Trailers-only: what came is the trailers. */
    r->trailers_only = 1;
    crpc_metadata tmp = r->trailers;
    r->trailers = r->headers;
    r->headers = tmp;
    return 0;
  }
  return r->http_status == 200 && r->content_type_ok;
}

crpc_status crpc__grpc_response_status(const crpc__grpc_response *r,
                                       uint32_t rst_error, int mid_message,
                                       char *why, size_t cap,
                                       const char **msg) {
  *msg = why;
  why[0] = '\0';
  if (r->saw_status) {
    *msg = r->message ? r->message : "";
    if (r->code == CRPC_STATUS_OK && mid_message) {
      *msg = "the stream ended in the middle of a response message";
      return CRPC_STATUS_INTERNAL;
    }
    if (r->bad_encoding && r->code == CRPC_STATUS_OK) {
      *msg = "the response uses an unsupported grpc-encoding";
      return CRPC_STATUS_INTERNAL;
    }
    return r->code;
  }
  if (rst_error != NGHTTP2_NO_ERROR) {
    snprintf(why, cap, "the server reset the stream (%s)",
             nghttp2_http2_strerror(rst_error));
    return crpc__grpc_status_from_rst(rst_error);
  }
  if (r->http_status != 200) {
    snprintf(why, cap, "the server answered HTTP status %d", r->http_status);
    return crpc__grpc_status_from_http(r->http_status);
  }
  if (!r->content_type_ok) {
    snprintf(why, cap, "the server's response is not gRPC (content-type)");
    return CRPC_STATUS_UNKNOWN;
  }
  snprintf(why, cap, "the server ended the stream without a grpc-status");
  return CRPC_STATUS_INTERNAL;
}

/* Building. */

/* grpc-encoding: |enc|'s name, from the static table of names. */
static void encoding_header(crpc__nvlist *l, crpc__encoding enc) {
  const char *name = crpc__compress_name(enc);
  crpc__nvlist_const(l, "grpc-encoding", 13, name, strlen(name));
}

void crpc__grpc_request_headers(crpc__nvlist *l, int tls, const char *path,
                                const char *authority, const char *user_agent,
                                crpc__encoding enc, crpc_deadline deadline,
                                const crpc_metadata *md) {
  CRPC__NVLIST_LIT(l, ":method", "POST");
  if (tls)
    CRPC__NVLIST_LIT(l, ":scheme", "https");
  else
    CRPC__NVLIST_LIT(l, ":scheme", "http");
  crpc__nvlist_str(l, ":path", path);
  crpc__nvlist_str(l, ":authority", authority);
  CRPC__NVLIST_LIT(l, "te", "trailers");
  CRPC__NVLIST_LIT(l, "content-type", "application/grpc");
  crpc__nvlist_str(l, "user-agent", user_agent);
  CRPC__NVLIST_LIT(l, "grpc-accept-encoding", "identity,gzip");
  if (enc != CRPC__ENCODING_IDENTITY)
    encoding_header(l, enc);
  if (deadline != CRPC_DEADLINE_INFINITE) {
    char timeout[CRPC__TIMEOUT_MAX];
    int64_t left = crpc_deadline_remaining_ns(deadline);
    size_t n = crpc__timeout_encode(left > 0 ? left : 0, timeout);
    crpc__nvlist_copy(l, "grpc-timeout", timeout, n);
  }
  if (md)
    crpc__nvlist_metadata(l, md);
}

/* The fields every response starts with: on an empty list, the list is
 * this array, nothing copied. */
static const nghttp2_nv response_fields[] = {
    CRPC__NV_LIT(":status", "200"),
    CRPC__NV_LIT("content-type", "application/grpc"),
    CRPC__NV_LIT("grpc-accept-encoding", "identity,gzip"),
};

void crpc__grpc_response_headers(crpc__nvlist *l, crpc__encoding enc) {
  crpc__nvlist_const_array(
      l, response_fields, sizeof(response_fields) / sizeof(response_fields[0]));
  if (enc != CRPC__ENCODING_IDENTITY)
    encoding_header(l, enc);
}

/* grpc-status for each code, written on every call: nothing formatted or
 * copied for these. */
static const nghttp2_nv status_fields[] = {
    CRPC__NV_LIT("grpc-status", "0"),  CRPC__NV_LIT("grpc-status", "1"),
    CRPC__NV_LIT("grpc-status", "2"),  CRPC__NV_LIT("grpc-status", "3"),
    CRPC__NV_LIT("grpc-status", "4"),  CRPC__NV_LIT("grpc-status", "5"),
    CRPC__NV_LIT("grpc-status", "6"),  CRPC__NV_LIT("grpc-status", "7"),
    CRPC__NV_LIT("grpc-status", "8"),  CRPC__NV_LIT("grpc-status", "9"),
    CRPC__NV_LIT("grpc-status", "10"), CRPC__NV_LIT("grpc-status", "11"),
    CRPC__NV_LIT("grpc-status", "12"), CRPC__NV_LIT("grpc-status", "13"),
    CRPC__NV_LIT("grpc-status", "14"), CRPC__NV_LIT("grpc-status", "15"),
    CRPC__NV_LIT("grpc-status", "16"),
};

void crpc__grpc_trailers(crpc__nvlist *l, crpc_status code, const char *message,
                         const uint8_t *details, size_t details_len) {
  if ((unsigned)code < sizeof(status_fields) / sizeof(status_fields[0])) {
    crpc__nvlist_const_array(l, &status_fields[code], 1);
  } else {
    char text[12];
    int n = snprintf(text, sizeof(text), "%d", (int)code);
    crpc__nvlist_copy(l, "grpc-status", text, (size_t)n);
  }
  if (message && *message) {
    size_t len = strlen(message);
    size_t el = crpc__percent_encoded_len((const uint8_t *)message, len);
    char *enc = crpc__arena_alloc(l->a, el + 1);
    if (!enc) {
      l->oom = 1;
      return;
    }
    crpc__percent_encode((const uint8_t *)message, len, enc);
    crpc__nvlist_add(l, "grpc-message", 12, enc, el);
  }
  if (details && code != CRPC_STATUS_OK) {
    size_t el = crpc__base64_encoded_len(details_len, 0);
    char *enc = crpc__arena_alloc(l->a, el + 1);
    if (!enc) {
      l->oom = 1;
      return;
    }
    crpc__base64_encode(details, details_len, 0, enc);
    crpc__nvlist_add(l, "grpc-status-details-bin", 23, enc, el);
  }
}

void crpc__grpc_http_error(crpc__nvlist *l, int http_status,
                           const char *message) {
  char text[12];
  int n = snprintf(text, sizeof(text), "%d", http_status);
  crpc__nvlist_copy(l, ":status", text, (size_t)n);
  CRPC__NVLIST_LIT(l, "content-type", "text/plain");
  crpc__grpc_trailers(l, CRPC_STATUS_INTERNAL, message, NULL, 0);
}
