/* tests/runtime/test_status.c: suite of runtime/status.c. */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "crpc/error.h"
#include "crpc/status.h"

/* gRPC's canonical names, from its status code documentation. */
static const char *const names[17] = {"OK",
                                      "CANCELLED",
                                      "UNKNOWN",
                                      "INVALID_ARGUMENT",
                                      "DEADLINE_EXCEEDED",
                                      "NOT_FOUND",
                                      "ALREADY_EXISTS",
                                      "PERMISSION_DENIED",
                                      "RESOURCE_EXHAUSTED",
                                      "FAILED_PRECONDITION",
                                      "ABORTED",
                                      "OUT_OF_RANGE",
                                      "UNIMPLEMENTED",
                                      "INTERNAL",
                                      "UNAVAILABLE",
                                      "DATA_LOSS",
                                      "UNAUTHENTICATED"};

Test(status, names_of_all_codes, .timeout = 10) {
  for (int c = 0; c < 17; c++) {
    cr_assert_not_null(crpc_status_name(c), "code %d", c);
    cr_assert_str_eq(crpc_status_name(c), names[c]);
  }
  cr_assert_str_eq(crpc_status_name(CRPC_STATUS_UNAUTHENTICATED),
                   "UNAUTHENTICATED");
}

/* Any int has a printable name: a handler's stray -1 or a crpc_errno
 * printed with %s must not crash the printer. */
Test(status, name_out_of_range_says_so, .timeout = 10) {
  const int bad[] = {-1, 17, 100, INT_MIN, INT_MAX, CRPC_EINVAL};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    cr_assert_not_null(crpc_status_name(bad[i]), "code %d", bad[i]);
    cr_assert_str_eq(crpc_status_name(bad[i]), "NOT_A_GRPC_STATUS");
  }
  crpc_status s;
  cr_assert_eq(crpc_status_from_name("NOT_A_GRPC_STATUS", &s), CRPC_EINVAL);
}

Test(status, from_name, .timeout = 10) {
  for (int c = 0; c < 17; c++) {
    crpc_status s = (crpc_status)99;
    cr_assert_eq(crpc_status_from_name(names[c], &s), 0, "%s", names[c]);
    cr_assert_eq((int)s, c);
  }
}

Test(status, from_name_rejects_unknown, .timeout = 10) {
  crpc_status s = CRPC_STATUS_ABORTED;
  cr_assert_eq(crpc_status_from_name("ok", &s), CRPC_EINVAL);
  cr_assert_eq(crpc_status_from_name("", &s), CRPC_EINVAL);
  cr_assert_eq(crpc_status_from_name("OK ", &s), CRPC_EINVAL);
  cr_assert_eq(crpc_status_from_name("CANCELED", &s), CRPC_EINVAL);
  cr_assert_eq(crpc_status_from_name(NULL, &s), CRPC_EINVAL);
  cr_assert_eq(s, CRPC_STATUS_ABORTED);
}

/* ---- crpc_status_info ---- */

Test(status, info_init_and_set, .timeout = 10) {
  crpc_status_info st;
  crpc_status_info_init(&st);
  cr_assert_eq(st.code, CRPC_STATUS_OK);
  cr_assert_null(st.message);
  cr_assert_null(st.details);
  cr_assert_eq(st.details_len, 0);
  char msg[] = "not here";
  cr_assert_eq(crpc_status_info_set(&st, CRPC_STATUS_NOT_FOUND, msg), 0);
  msg[0] = 'X';
  cr_assert_eq(st.code, CRPC_STATUS_NOT_FOUND);
  cr_assert_str_eq(st.message, "not here");
  cr_assert_eq(crpc_status_info_set(&st, CRPC_STATUS_INTERNAL, NULL), 0);
  cr_assert_eq(st.code, CRPC_STATUS_INTERNAL);
  cr_assert_null(st.message);
  cr_assert_eq(crpc_status_info_set(&st, CRPC_STATUS_ABORTED, ""), 0);
  cr_assert_null(st.message, "an empty message is kept as NULL");
  crpc_status_info_cleanup(&st);
  cr_assert_eq(st.code, CRPC_STATUS_OK);
  crpc_status_info_cleanup(NULL);
}

Test(status, info_set_own_message, .timeout = 10) {
  crpc_status_info st;
  crpc_status_info_init(&st);
  cr_assert_eq(crpc_status_info_set(&st, CRPC_STATUS_UNKNOWN, "same"), 0);
  cr_assert_eq(crpc_status_info_set(&st, CRPC_STATUS_UNKNOWN, st.message), 0);
  cr_assert_str_eq(st.message, "same");
  crpc_status_info_cleanup(&st);
}

Test(status, info_details, .timeout = 10) {
  crpc_status_info st;
  crpc_status_info_init(&st);
  const uint8_t d1[] = {0x08, 0x05, 0x00};
  const uint8_t d2[] = {0x12, 0x01, 'x', 0x00, 0xff};
  cr_assert_eq(crpc_status_info_set_details(&st, d1, sizeof(d1)), 0);
  cr_assert_eq(st.details_len, 3);
  cr_assert_arr_eq(st.details, d1, 3);
  cr_assert_neq(st.details, d1, "details must be copied");
  cr_assert_eq(crpc_status_info_set_details(&st, d2, sizeof(d2)), 0);
  cr_assert_eq(st.details_len, 5);
  cr_assert_arr_eq(st.details, d2, 5);
  cr_assert_eq(crpc_status_info_set_details(&st, NULL, 0), 0);
  cr_assert_null(st.details);
  cr_assert_eq(st.details_len, 0);
  cr_assert_eq(crpc_status_info_set_details(&st, d1, sizeof(d1)), 0);
  cr_assert_eq(crpc_status_info_set(&st, CRPC_STATUS_CANCELLED, "x"), 0);
  cr_assert_null(st.details, "set drops the details");
  cr_assert_eq(st.details_len, 0);
  crpc_status_info_cleanup(&st);
}

Test(status, info_copy_is_deep, .timeout = 10) {
  crpc_status_info a, b;
  crpc_status_info_init(&a);
  crpc_status_info_init(&b);
  const uint8_t d[] = {1, 2, 3, 0, 5};
  cr_assert_eq(crpc_status_info_set(&a, CRPC_STATUS_DATA_LOSS, "lost"), 0);
  cr_assert_eq(crpc_status_info_set_details(&a, d, sizeof(d)), 0);
  cr_assert_eq(crpc_status_info_set(&b, CRPC_STATUS_ABORTED, "old"), 0);
  cr_assert_eq(crpc_status_info_set_details(&b, d, 2), 0);
  cr_assert_eq(crpc_status_info_copy(&b, &a), 0);
  crpc_status_info_cleanup(&a);
  cr_assert_eq(b.code, CRPC_STATUS_DATA_LOSS);
  cr_assert_str_eq(b.message, "lost");
  cr_assert_eq(b.details_len, sizeof(d));
  cr_assert_arr_eq(b.details, d, sizeof(d));
  cr_assert_eq(crpc_status_info_copy(&b, &b), 0);
  cr_assert_str_eq(b.message, "lost");
  cr_assert_eq(crpc_status_info_copy(&b, &a), 0);
  cr_assert_eq(b.code, CRPC_STATUS_OK);
  cr_assert_null(b.message);
  cr_assert_null(b.details);
  cr_assert_eq(b.details_len, 0);
  crpc_status_info_cleanup(&b);
}

/* ---- google.rpc.Status encoding ---- */

static void check_encode(crpc_status code, const char *msg,
                         const crpc_status_any *any, size_t n_any,
                         const uint8_t *want, size_t want_len) {
  uint8_t *out = NULL;
  size_t len = 999;
  cr_assert_eq(crpc_status_details_encode(code, msg, any, n_any, &out, &len),
               0);
  cr_assert_not_null(out);
  cr_assert_eq(len, want_len, "length %zu, want %zu", len, want_len);
  if (want_len > 0)
    cr_assert_arr_eq(out, want, want_len);
  free(out);
}

Test(status, encode_code_and_message, .timeout = 10) {
  const uint8_t want[] = {0x08, 0x05, 0x12, 0x02, 0x6e, 0x66};
  check_encode(CRPC_STATUS_NOT_FOUND, "nf", NULL, 0, want, sizeof(want));
}

Test(status, encode_defaults_are_omitted, .timeout = 10) {
  check_encode(CRPC_STATUS_OK, NULL, NULL, 0, NULL, 0);
  check_encode(CRPC_STATUS_OK, "", NULL, 0, NULL, 0);
  const uint8_t msg_only[] = {0x12, 0x02, 'h', 'i'};
  check_encode(CRPC_STATUS_OK, "hi", NULL, 0, msg_only, sizeof(msg_only));
  const uint8_t code_only[] = {0x08, 0x10};
  check_encode(CRPC_STATUS_UNAUTHENTICATED, NULL, NULL, 0, code_only,
               sizeof(code_only));
}

Test(status, encode_negative_and_large_codes, .timeout = 10) {
  const uint8_t minus_one[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff,
                               0xff, 0xff, 0xff, 0xff, 0x01};
  check_encode((crpc_status)-1, NULL, NULL, 0, minus_one, sizeof(minus_one));
  const uint8_t c300[] = {0x08, 0xac, 0x02};
  check_encode((crpc_status)300, NULL, NULL, 0, c300, sizeof(c300));
}

Test(status, encode_long_message_two_byte_length, .timeout = 10) {
  char msg[201];
  memset(msg, 'm', 200);
  msg[200] = '\0';
  uint8_t want[203];
  want[0] = 0x12;
  want[1] = 0xc8; /* 200 = 0b1_1001000 */
  want[2] = 0x01;
  memset(want + 3, 'm', 200);
  check_encode(CRPC_STATUS_OK, msg, NULL, 0, want, sizeof(want));
}

Test(status, encode_any_details, .timeout = 10) {
  const uint8_t v[] = {0x01, 0x02};
  crpc_status_any any[3] = {
      {"t/x", 3, v, 2},
      {"t/y", 3, NULL, 0},
      {NULL, 0, NULL, 0},
  };
  const uint8_t want[] = {
      0x08, 0x03,                            /* code = 3 */
      0x12, 0x03, 'b',  'a',  'd',           /* message = "bad" */
      0x1a, 0x09,                            /* details[0], 9 bytes */
      0x0a, 0x03, 't',  '/',  'x',           /*   type_url */
      0x12, 0x02, 0x01, 0x02,                /*   value */
      0x1a, 0x05, 0x0a, 0x03, 't', '/', 'y', /* details[1] */
      0x1a, 0x00,                            /* details[2], empty */
  };
  check_encode(CRPC_STATUS_INVALID_ARGUMENT, "bad", any, 3, want, sizeof(want));
}

Test(status, encode_rejects_bad_arguments, .timeout = 10) {
  uint8_t *out = (uint8_t *)"untouched";
  size_t len = 7;
  cr_assert_eq(
      crpc_status_details_encode(CRPC_STATUS_OK, NULL, NULL, 1, &out, &len),
      CRPC_EINVAL);
  crpc_status_any bad = {NULL, 4, NULL, 0};
  cr_assert_eq(
      crpc_status_details_encode(CRPC_STATUS_OK, NULL, &bad, 1, &out, &len),
      CRPC_EINVAL);
  cr_assert_str_eq((char *)out, "untouched");
  cr_assert_eq(len, 7);
}

/* ---- google.rpc.Status decoding ---- */

typedef struct decoded {
  int rc;
  int32_t code;
  const char *msg;
  size_t msg_len;
  crpc_status_any any[4];
  size_t n_any;
} decoded;

static decoded decode(const uint8_t *buf, size_t len) {
  decoded d;
  memset(&d, 0, sizeof(d));
  d.code = 12345;
  d.n_any = 12345;
  d.rc = crpc_status_details_decode(buf, len, &d.code, &d.msg, &d.msg_len,
                                    d.any, 4, &d.n_any);
  return d;
}

static void check_rejected(const uint8_t *buf, size_t len) {
  decoded d = decode(buf, len);
  cr_assert_eq(d.rc, CRPC_EPROTO, "accepted %zu bytes starting %02x", len,
               len ? buf[0] : 0);
  cr_assert_eq(d.code, 12345, "outputs written on failure");
  cr_assert_eq(d.n_any, 12345, "outputs written on failure");
}

#define REJECT(...)                                                            \
  do {                                                                         \
    const uint8_t b_[] = {__VA_ARGS__};                                        \
    check_rejected(b_, sizeof(b_));                                            \
  } while (0)

Test(status, decode_hand_built, .timeout = 10) {
  const uint8_t buf[] = {0x08, 0x05, 0x12, 0x02, 0x6e, 0x66};
  decoded d = decode(buf, sizeof(buf));
  cr_assert_eq(d.rc, 0);
  cr_assert_eq(d.code, 5);
  cr_assert_eq(d.msg_len, 2);
  cr_assert_arr_eq(d.msg, "nf", 2);
  cr_assert_eq(d.msg, (const char *)buf + 4, "message is a view");
  cr_assert_eq(d.n_any, 0);
}

Test(status, decode_empty, .timeout = 10) {
  decoded d = decode(NULL, 0);
  cr_assert_eq(d.rc, 0);
  cr_assert_eq(d.code, 0);
  cr_assert_null(d.msg);
  cr_assert_eq(d.msg_len, 0);
  cr_assert_eq(d.n_any, 0);
}

Test(status, round_trip_with_details, .timeout = 10) {
  uint8_t big[300];
  for (int i = 0; i < 300; i++)
    big[i] = (uint8_t)i;
  const char *url = "type.googleapis.com/google.rpc.BadRequest";
  crpc_status_any in[3] = {
      {url, strlen(url), (const uint8_t *)"\0\1\0", 3},
      {"t/empty", 7, NULL, 0},
      {"t/big", 5, big, sizeof(big)},
  };
  uint8_t *buf = NULL;
  size_t len = 0;
  cr_assert_eq(crpc_status_details_encode(CRPC_STATUS_FAILED_PRECONDITION,
                                          "caf\xc3\xa9 failed", in, 3, &buf,
                                          &len),
               0);
  decoded d = decode(buf, len);
  cr_assert_eq(d.rc, 0);
  cr_assert_eq(d.code, CRPC_STATUS_FAILED_PRECONDITION);
  cr_assert_eq(d.msg_len, strlen("caf\xc3\xa9 failed"));
  cr_assert_arr_eq(d.msg, "caf\xc3\xa9 failed", d.msg_len);
  cr_assert_eq(d.n_any, 3);
  for (int i = 0; i < 3; i++) {
    cr_assert_eq(d.any[i].type_url_len, in[i].type_url_len);
    cr_assert_arr_eq(d.any[i].type_url, in[i].type_url, in[i].type_url_len);
    cr_assert_eq(d.any[i].value_len, in[i].value_len, "any %d", i);
    if (in[i].value_len)
      cr_assert_arr_eq(d.any[i].value, in[i].value, in[i].value_len);
  }
  free(buf);
}

Test(status, round_trip_negative_code, .timeout = 10) {
  uint8_t *buf = NULL;
  size_t len = 0;
  cr_assert_eq(crpc_status_details_encode((crpc_status)INT32_MIN, "neg", NULL,
                                          0, &buf, &len),
               0);
  decoded d = decode(buf, len);
  cr_assert_eq(d.rc, 0);
  cr_assert_eq(d.code, INT32_MIN);
  free(buf);
}

Test(status, decode_counts_beyond_capacity, .timeout = 10) {
  crpc_status_any in[6];
  for (int i = 0; i < 6; i++)
    in[i] = (crpc_status_any){"t/a", 3, (const uint8_t *)"vvvvvv", (size_t)i};
  uint8_t *buf = NULL;
  size_t len = 0;
  cr_assert_eq(
      crpc_status_details_encode(CRPC_STATUS_OK, NULL, in, 6, &buf, &len), 0);
  decoded d = decode(buf, len);
  cr_assert_eq(d.rc, 0);
  cr_assert_eq(d.n_any, 6);
  for (int i = 0; i < 4; i++)
    cr_assert_eq(d.any[i].value_len, (size_t)i);
  size_t n = 0;
  int32_t code = -7;
  cr_assert_eq(
      crpc_status_details_decode(buf, len, &code, NULL, NULL, NULL, 0, &n), 0);
  cr_assert_eq(n, 6);
  cr_assert_eq(code, 0);
  free(buf);
}

Test(status, decode_skips_unknown_fields, .timeout = 10) {
  const uint8_t buf[] = {
      0x20, 0x96, 0x01,                      /* 4: varint 150 */
      0x08, 0x07,                            /* code = 7 */
      0x29, 1,    2,    3,    4, 5, 6, 7, 8, /* 5: fixed64 */
      0x32, 0x02, 0xaa, 0xbb,                /* 6: bytes */
      0x3d, 1,    2,    3,    4,             /* 7: fixed32 */
      0xc0, 0x3e, 0x00,                      /* 1000: varint 0 */
      0x12, 0x01, 'p',                       /* message */
      0x1a, 0x0a,                            /* details[0] */
      0x18, 0x01,                            /*   3: varint */
      0x0a, 0x01, 'u',                       /*   type_url */
      0x25, 9,    9,    9,    9,             /*   4: fixed32 */
  };
  decoded d = decode(buf, sizeof(buf));
  cr_assert_eq(d.rc, 0);
  cr_assert_eq(d.code, 7);
  cr_assert_eq(d.msg_len, 1);
  cr_assert_eq(d.msg[0], 'p');
  cr_assert_eq(d.n_any, 1);
  cr_assert_eq(d.any[0].type_url_len, 1);
  cr_assert_eq(d.any[0].type_url[0], 'u');
  cr_assert_eq(d.any[0].value_len, 0);
}

Test(status, decode_last_scalar_wins_and_wrong_type_skipped, .timeout = 10) {
  const uint8_t buf[] = {
      0x08, 0x01, 0x12, 0x01, 'a', /* code 1, "a" */
      0x0a, 0x01, 0x09,            /* field 1 as bytes: unknown */
      0x08, 0x02, 0x12, 0x01, 'b', /* code 2, "b" */
      0x10, 0x05,                  /* field 2 as varint: unknown */
  };
  decoded d = decode(buf, sizeof(buf));
  cr_assert_eq(d.rc, 0);
  cr_assert_eq(d.code, 2);
  cr_assert_eq(d.msg_len, 1);
  cr_assert_eq(d.msg[0], 'b');
}

Test(status, decode_int32_keeps_low_bits, .timeout = 10) {
  /* 0x1_0000_0005 as a varint: the int32 field reads 5. */
  const uint8_t buf[] = {0x08, 0x85, 0x80, 0x80, 0x80, 0x10};
  decoded d = decode(buf, sizeof(buf));
  cr_assert_eq(d.rc, 0);
  cr_assert_eq(d.code, 5);
}

Test(status, decode_rejects_truncation, .timeout = 10) {
  REJECT(0x08);                        /* tag, no value */
  REJECT(0x08, 0x80);                  /* varint cut short */
  REJECT(0x12, 0x05, 'a', 'b');        /* length beyond the end */
  REJECT(0x12);                        /* length missing */
  REJECT(0x29, 1, 2, 3, 4, 5, 6, 7);   /* fixed64 one short */
  REJECT(0x3d, 1, 2, 3);               /* fixed32 one short */
  REJECT(0x1a, 0x03, 0x0a, 0x05, 'x'); /* Any body truncated */
  REJECT(0x1a, 0x02, 0x12);            /* inside Any: no length */
  REJECT(0x1a, 0x01, 0x0a, 0x00);      /* Any shorter than content */
  REJECT(0x80);                        /* tag varint cut short */
}

Test(status, decode_rejects_every_cut_of_a_valid_message, .timeout = 10) {
  const uint8_t buf[] = {0x08, 0x96, 0x01, 0x12, 0x02, 'h', 'i',
                         0x1a, 0x04, 0x0a, 0x02, 't',  'u'};
  /* Cuts at field boundaries are valid messages; every other cut fails. */
  const int ok[] = {1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1};
  for (size_t n = 0; n <= sizeof(buf); n++) {
    decoded d = decode(buf, n);
    cr_assert_eq(d.rc, ok[n] ? 0 : CRPC_EPROTO, "cut at %zu", n);
  }
}

Test(status, decode_rejects_overlong_varints, .timeout = 10) {
  REJECT(0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
         0x01);
  REJECT(0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02);
  REJECT(0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
         0x00);
  REJECT(0x12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01);
  /* A tag beyond 32 bits. */
  REJECT(0x80, 0x80, 0x80, 0x80, 0x10, 0x00);
}

Test(status, decode_rejects_bad_wire_types, .timeout = 10) {
  REJECT(0x0b);       /* field 1, start group */
  REJECT(0x0c);       /* field 1, end group */
  REJECT(0x0e, 0x00); /* field 1, type 6 */
  REJECT(0x0f, 0x00); /* field 1, type 7 */
  REJECT(0x26);       /* field 4, type 6 */
  REJECT(0x00, 0x00); /* field number 0 */
  REJECT(0x1a, 0x01, 0x0f);
}

Test(status, decode_max_varint_is_accepted, .timeout = 10) {
  const uint8_t buf[] = {0x20, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                         0xff, 0xff, 0xff, 0x01, 0x08, 0x01};
  decoded d = decode(buf, sizeof(buf));
  cr_assert_eq(d.rc, 0);
  cr_assert_eq(d.code, 1);
}
