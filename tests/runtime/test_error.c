/* Tests for runtime/error.c: names of crpc, nghttp2 and libuv codes. */
#include <criterion/criterion.h>
#include <nghttp2/nghttp2.h>
#include <string.h>
#include <uv.h>

#include "crpc/error.h"

Test(error, names_crpc_codes, .timeout = 10) {
  cr_assert_str_eq(crpc_strerror(CRPC_ETOOBIG),
                   "message exceeds the size limit");
  cr_assert_str_eq(crpc_err_name(CRPC_ETOOBIG), "CRPC_ETOOBIG");
  cr_assert_str_eq(crpc_strerror(0), "success");
#define X(name, code, text)                                                    \
  cr_assert(code <= -1000 && code >= -1999);                                   \
  cr_assert_str_eq(crpc_strerror(code), text);                                 \
  cr_assert_str_eq(crpc_err_name(code), "CRPC_" #name);
  CRPC_ERRNO_MAP(X)
#undef X
}

Test(error, passes_libuv_and_nghttp2_codes_through, .timeout = 10) {
  cr_assert_str_eq(crpc_strerror(UV_ECONNREFUSED),
                   uv_strerror(UV_ECONNREFUSED));
  cr_assert_str_eq(crpc_err_name(UV_ECONNREFUSED), "ECONNREFUSED");
  cr_assert_str_eq(crpc_strerror(NGHTTP2_ERR_INVALID_ARGUMENT),
                   nghttp2_strerror(NGHTTP2_ERR_INVALID_ARGUMENT));
  cr_assert_str_eq(crpc_err_name(NGHTTP2_ERR_CALLBACK_FAILURE),
                   "NGHTTP2_ERROR");
}

Test(error, unknown_codes_get_a_generic_name_without_allocating,
     .timeout = 10) {
  cr_assert_str_eq(crpc_strerror(-424242), "unknown error");
  cr_assert_str_eq(crpc_strerror(-1999), "unknown error");
  cr_assert_str_eq(crpc_strerror(12), "unknown error");
  cr_assert_str_eq(crpc_err_name(-4242), "UNKNOWN");
}
