/* runtime/error.c: names of crpc, nghttp2 and libuv error codes. */
#include "crpc/error.h"

#include <nghttp2/nghttp2.h>
#include <uv.h>

/* nghttp2 reserves [-999, -500] for its library errors. */
static int is_nghttp2_error(int err) {
  return err <= -500 && err >= -999;
}

/* uv_strerror() and uv_err_name() allocate, and never free, a string for
 * codes libuv does not know, so only codes from its own table go to them. */
static int is_uv_error(int err) {
  switch (err) {
#define X(name, text) case UV_##name:
    UV_ERRNO_MAP(X)
#undef X
    return 1;
  default:
    return 0;
  }
}

const char *crpc_strerror(int err) {
  switch (err) {
  case 0:
    return "success";
#define X(name, code, text)                                                    \
  case code:                                                                   \
    return text;
    CRPC_ERRNO_MAP(X)
#undef X
  default:
    break;
  }
  if (is_nghttp2_error(err))
    return nghttp2_strerror(err);
  if (is_uv_error(err))
    return uv_strerror(err);
  return "unknown error";
}

const char *crpc_err_name(int err) {
  switch (err) {
  case 0:
    return "OK";
#define X(name, code, text)                                                    \
  case code:                                                                   \
    return "CRPC_" #name;
    CRPC_ERRNO_MAP(X)
#undef X
  default:
    break;
  }
  if (is_nghttp2_error(err))
    return "NGHTTP2_ERROR";
  if (is_uv_error(err))
    return uv_err_name(err);
  return "UNKNOWN";
}
