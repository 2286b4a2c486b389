/* Tests for runtime/wkt.c: Timestamp and Duration to and from timespec and
 * deadlines, and the well-known types' code that libcrpc carries. */
#include <criterion/criterion.h>
#include <string.h>
#include <time.h>

#include "crpc/error.h"
#include "crpc/wkt.h"
#include "google/protobuf/wrappers.pb-c.h"

#define NS_PER_S INT64_C(1000000000)
#define TS_MIN INT64_C(-62135596800)
#define TS_MAX INT64_C(253402300799)
#define DUR_MAX INT64_C(315576000000)
/* Slack for comparisons against a clock read a moment apart: generous, so
 * that a loaded machine or a sanitizer build never fails them, and still
 * far below the unit mistakes (ms for ns, a lost sign) they catch. */
#define SLACK_NS NS_PER_S

static int64_t wall_ns(void) {
  struct timespec ts;
  cr_assert_eq(clock_gettime(CLOCK_REALTIME, &ts), 0);
  return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static int64_t ts_ns(const Google__Protobuf__Timestamp *t) {
  return t->seconds * NS_PER_S + t->nanos;
}

static Google__Protobuf__Timestamp timestamp(int64_t seconds, int32_t nanos) {
  Google__Protobuf__Timestamp t = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
  t.seconds = seconds;
  t.nanos = nanos;
  return t;
}

static Google__Protobuf__Duration duration(int64_t seconds, int32_t nanos) {
  Google__Protobuf__Duration d = GOOGLE__PROTOBUF__DURATION__INIT;
  d.seconds = seconds;
  d.nanos = nanos;
  return d;
}

Test(wkt, timestamp_round_trips_through_timespec, .timeout = 10) {
  static const struct {
    int64_t sec;
    long nsec;
  } cases[] = {
      {0, 0},      {1700000000, 123456789}, {-1, 999999999},
      {TS_MIN, 0}, {TS_MAX, 999999999},     {TS_MIN, 999999999},
      {TS_MAX, 0}, {951782400, 1},          {-86400, 500000000},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct timespec in = {.tv_sec = (time_t)cases[i].sec,
                          .tv_nsec = cases[i].nsec};
    struct timespec back = {0, 0};
    Google__Protobuf__Timestamp t;
    cr_assert_eq(crpc_timestamp_from_timespec(&in, &t), 0, "case %zu", i);
    cr_assert_eq(t.base.descriptor, &google__protobuf__timestamp__descriptor);
    cr_assert_eq(t.seconds, cases[i].sec, "case %zu", i);
    cr_assert_eq(t.nanos, cases[i].nsec, "case %zu", i);
    cr_assert_eq(crpc_timestamp_to_timespec(&t, &back), 0, "case %zu", i);
    cr_assert_eq((int64_t)back.tv_sec, cases[i].sec, "case %zu", i);
    cr_assert_eq(back.tv_nsec, cases[i].nsec, "case %zu", i);
  }
}

Test(wkt, timestamp_rejects_out_of_range, .timeout = 10) {
  static const struct {
    int64_t sec;
    int64_t nsec;
  } bad[] = {
      {TS_MIN - 1, 0},         {TS_MAX + 1, 0}, {0, -1},        {0, NS_PER_S},
      {TS_MIN - 1, 999999999}, {INT64_MIN, 0},  {INT64_MAX, 0},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    Google__Protobuf__Timestamp t = timestamp(42, 42);
    struct timespec ts = {.tv_sec = 42, .tv_nsec = 42};
    struct timespec in = {.tv_sec = (time_t)bad[i].sec,
                          .tv_nsec = (long)bad[i].nsec};
    Google__Protobuf__Timestamp msg =
        timestamp(bad[i].sec, (int32_t)bad[i].nsec);
    cr_assert_eq(crpc_timestamp_from_timespec(&in, &t), CRPC_EINVAL, "case %zu",
                 i);
    cr_assert(t.seconds == 42 && t.nanos == 42, "output touched, case %zu", i);
    cr_assert_eq(crpc_timestamp_to_timespec(&msg, &ts), CRPC_EINVAL, "case %zu",
                 i);
    cr_assert(ts.tv_sec == 42 && ts.tv_nsec == 42, "output touched, case %zu",
              i);
  }
  Google__Protobuf__Timestamp t = timestamp(1, 0);
  struct timespec ts = {1, 0};
  cr_assert_eq(crpc_timestamp_from_timespec(NULL, &t), CRPC_EINVAL);
  cr_assert_eq(crpc_timestamp_from_timespec(&ts, NULL), CRPC_EINVAL);
  cr_assert_eq(crpc_timestamp_to_timespec(NULL, &ts), CRPC_EINVAL);
  cr_assert_eq(crpc_timestamp_to_timespec(&t, NULL), CRPC_EINVAL);
  cr_assert_eq(crpc_timestamp_now(NULL), CRPC_EINVAL);
}

Test(wkt, timestamp_now_reads_the_wall_clock, .timeout = 10) {
  Google__Protobuf__Timestamp t;
  int64_t before = wall_ns();
  cr_assert_eq(crpc_timestamp_now(&t), 0);
  int64_t after = wall_ns();
  cr_assert_eq(t.base.descriptor, &google__protobuf__timestamp__descriptor);
  cr_assert(t.nanos >= 0 && t.nanos <= 999999999);
  cr_assert(ts_ns(&t) >= before && ts_ns(&t) <= after,
            "%lld not in [%lld, %lld]", (long long)ts_ns(&t), (long long)before,
            (long long)after);
}

Test(wkt, duration_round_trips_through_timespec, .timeout = 10) {
  /* A Duration's nanos go away from zero, a timespec's always up. */
  static const struct {
    int64_t sec;
    int32_t nanos;
    int64_t tv_sec;
    long tv_nsec;
  } cases[] = {
      {0, 0, 0, 0},
      {1, 500000000, 1, 500000000},
      {-1, -500000000, -2, 500000000},
      {0, -1, -1, 999999999},
      {0, 1, 0, 1},
      {-5, 0, -5, 0},
      {DUR_MAX, 999999999, DUR_MAX, 999999999},
      {-DUR_MAX, -999999999, -DUR_MAX - 1, 1},
      {-DUR_MAX, 0, -DUR_MAX, 0},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    Google__Protobuf__Duration d = duration(cases[i].sec, cases[i].nanos);
    Google__Protobuf__Duration back;
    struct timespec ts = {0, 0};
    cr_assert_eq(crpc_duration_to_timespec(&d, &ts), 0, "case %zu", i);
    cr_assert_eq((int64_t)ts.tv_sec, cases[i].tv_sec, "case %zu: %lld", i,
                 (long long)ts.tv_sec);
    cr_assert_eq(ts.tv_nsec, cases[i].tv_nsec, "case %zu: %ld", i, ts.tv_nsec);
    cr_assert_eq(crpc_duration_from_timespec(&ts, &back), 0, "case %zu", i);
    cr_assert_eq(back.base.descriptor, &google__protobuf__duration__descriptor);
    cr_assert_eq(back.seconds, cases[i].sec, "case %zu", i);
    cr_assert_eq(back.nanos, cases[i].nanos, "case %zu", i);
  }
}

Test(wkt, duration_rejects_out_of_range_and_mixed_signs, .timeout = 10) {
  static const struct {
    int64_t sec;
    int32_t nanos;
  } bad[] = {
      {1, -1},           {-1, 1},         {DUR_MAX + 1, 0},
      {-DUR_MAX - 1, 0}, {0, 1000000000}, {0, -1000000000},
      {INT64_MAX, 0},    {INT64_MIN, 0},  {DUR_MAX, INT32_MAX},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    Google__Protobuf__Duration d = duration(bad[i].sec, bad[i].nanos);
    struct timespec ts = {.tv_sec = 42, .tv_nsec = 42};
    crpc_deadline dl = 42;
    cr_assert_eq(crpc_duration_to_timespec(&d, &ts), CRPC_EINVAL, "case %zu",
                 i);
    cr_assert(ts.tv_sec == 42 && ts.tv_nsec == 42, "output touched, case %zu",
              i);
    cr_assert_eq(crpc_duration_to_deadline(&d, &dl), CRPC_EINVAL, "case %zu",
                 i);
    cr_assert_eq(dl, 42, "output touched, case %zu", i);
  }
  static const struct timespec bad_ts[] = {
      {.tv_sec = (time_t)(DUR_MAX + 1), .tv_nsec = 0},
      {.tv_sec = (time_t)(-DUR_MAX - 1), .tv_nsec = 0},
      {.tv_sec = 0, .tv_nsec = -1},
      {.tv_sec = 0, .tv_nsec = 1000000000},
  };
  for (size_t i = 0; i < sizeof(bad_ts) / sizeof(bad_ts[0]); i++) {
    Google__Protobuf__Duration d = duration(42, 42);
    cr_assert_eq(crpc_duration_from_timespec(&bad_ts[i], &d), CRPC_EINVAL,
                 "case %zu", i);
    cr_assert(d.seconds == 42 && d.nanos == 42, "output touched, case %zu", i);
  }
  Google__Protobuf__Duration d = duration(1, 0);
  struct timespec ts = {1, 0};
  crpc_deadline dl;
  cr_assert_eq(crpc_duration_from_timespec(NULL, &d), CRPC_EINVAL);
  cr_assert_eq(crpc_duration_from_timespec(&ts, NULL), CRPC_EINVAL);
  cr_assert_eq(crpc_duration_to_timespec(NULL, &ts), CRPC_EINVAL);
  cr_assert_eq(crpc_duration_to_timespec(&d, NULL), CRPC_EINVAL);
  cr_assert_eq(crpc_duration_to_deadline(NULL, &dl), CRPC_EINVAL);
  cr_assert_eq(crpc_duration_to_deadline(&d, NULL), CRPC_EINVAL);
  cr_assert_eq(crpc_duration_from_deadline(0, NULL), CRPC_EINVAL);
}

Test(wkt, duration_to_deadline_counts_from_now, .timeout = 10) {
  Google__Protobuf__Duration d = duration(2, 500000000);
  crpc_deadline dl;
  int64_t before = crpc_now_ns();
  cr_assert_eq(crpc_duration_to_deadline(&d, &dl), 0);
  int64_t after = crpc_now_ns();
  cr_assert(dl >= before + INT64_C(2500000000) &&
            dl <= after + INT64_C(2500000000));
  cr_assert(!crpc_deadline_expired(dl));

  /* A negative Duration is a deadline already passed. */
  d = duration(-1, -500000000);
  before = crpc_now_ns();
  cr_assert_eq(crpc_duration_to_deadline(&d, &dl), 0);
  cr_assert(dl <= before - INT64_C(1500000000) + SLACK_NS);
  cr_assert(crpc_deadline_expired(dl));
  d = duration(0, 0);
  cr_assert_eq(crpc_duration_to_deadline(&d, &dl), 0);
  cr_assert(crpc_deadline_expired(dl));
}

Test(wkt, duration_to_deadline_saturates, .timeout = 10) {
  /* INT64_MAX ns is 9223372036 s and 854775807 ns: anything from there on
   * (about 292 years) saturates, without overflowing on the way. */
  static const struct {
    int64_t sec;
    int32_t nanos;
  } huge[] = {
      {DUR_MAX, 999999999},
      {INT64_C(9223372037), 0},
      {INT64_C(9223372036), 854775807},
      {INT64_C(9223372036), 999999999},
  };
  for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
    Google__Protobuf__Duration d = duration(huge[i].sec, huge[i].nanos);
    crpc_deadline dl = 0;
    cr_assert_eq(crpc_duration_to_deadline(&d, &dl), 0, "case %zu", i);
    cr_assert_eq(dl, CRPC_DEADLINE_INFINITE, "case %zu", i);
  }
  Google__Protobuf__Duration d = duration(-DUR_MAX, -999999999);
  crpc_deadline dl = 0;
  cr_assert_eq(crpc_duration_to_deadline(&d, &dl), 0);
  cr_assert(dl < 0 && crpc_deadline_expired(dl));
}

Test(wkt, duration_from_deadline_is_the_time_left, .timeout = 10) {
  Google__Protobuf__Duration d;

  cr_assert_eq(crpc_duration_from_deadline(CRPC_DEADLINE_INFINITE, &d), 0);
  cr_assert_eq(d.base.descriptor, &google__protobuf__duration__descriptor);
  cr_assert(d.seconds == DUR_MAX && d.nanos == 999999999);
  crpc_deadline dl = 0;
  cr_assert_eq(crpc_duration_to_deadline(&d, &dl), 0);
  cr_assert_eq(dl, CRPC_DEADLINE_INFINITE, "the longest Duration comes back");

  /* Passed, long passed and the earliest deadline there is: zero. */
  crpc_deadline past[] = {crpc_deadline_after_ms(-10), 0, INT64_MIN};
  for (size_t i = 0; i < sizeof(past) / sizeof(past[0]); i++) {
    d = duration(42, 42);
    cr_assert_eq(crpc_duration_from_deadline(past[i], &d), 0, "case %zu", i);
    cr_assert(d.seconds == 0 && d.nanos == 0, "case %zu", i);
  }

  int64_t before = crpc_now_ns();
  dl = crpc_deadline_after_ms(3500);
  cr_assert_eq(crpc_duration_from_deadline(dl, &d), 0);
  int64_t after = crpc_now_ns();
  int64_t left = d.seconds * NS_PER_S + d.nanos;
  cr_assert(d.seconds >= 0 && d.nanos >= 0 && d.nanos <= 999999999);
  cr_assert(left <= INT64_C(3500000000) &&
                left >= INT64_C(3500000000) - (after - before),
            "%lld ns left", (long long)left);
}

Test(wkt, timestamp_to_deadline_and_back, .timeout = 10) {
  Google__Protobuf__Timestamp t, back;
  crpc_deadline dl;

  /* Five seconds from now on the wall clock is five seconds from now on
   * the monotonic one. */
  int64_t wall = wall_ns() + 5 * NS_PER_S;
  t = timestamp(wall / NS_PER_S, (int32_t)(wall % NS_PER_S));
  cr_assert_eq(crpc_timestamp_to_deadline(&t, &dl), 0);
  int64_t left = crpc_deadline_remaining_ns(dl);
  cr_assert(left > 5 * NS_PER_S - SLACK_NS && left <= 5 * NS_PER_S + SLACK_NS,
            "%lld ns left", (long long)left);
  cr_assert_eq(crpc_timestamp_from_deadline(dl, &back), 0);
  cr_assert_eq(back.base.descriptor, &google__protobuf__timestamp__descriptor);
  cr_assert(back.nanos >= 0 && back.nanos <= 999999999);
  cr_assert(ts_ns(&back) > wall - SLACK_NS && ts_ns(&back) < wall + SLACK_NS,
            "%lld and back is %lld", (long long)wall, (long long)ts_ns(&back));

  /* A minute ago is a deadline passed a minute ago, and back. */
  wall = wall_ns() - 60 * NS_PER_S;
  t = timestamp(wall / NS_PER_S, (int32_t)(wall % NS_PER_S));
  cr_assert_eq(crpc_timestamp_to_deadline(&t, &dl), 0);
  cr_assert(crpc_deadline_expired(dl));
  cr_assert_eq(crpc_timestamp_from_deadline(dl, &back), 0);
  cr_assert(ts_ns(&back) > wall - SLACK_NS && ts_ns(&back) < wall + SLACK_NS);
}

Test(wkt, timestamp_deadline_edges_saturate, .timeout = 10) {
  Google__Protobuf__Timestamp t, back;
  crpc_deadline dl;

  /* The last Timestamp is too far for a deadline: infinite, and back. */
  t = timestamp(TS_MAX, 999999999);
  cr_assert_eq(crpc_timestamp_to_deadline(&t, &dl), 0);
  cr_assert_eq(dl, CRPC_DEADLINE_INFINITE);
  cr_assert_eq(crpc_timestamp_from_deadline(CRPC_DEADLINE_INFINITE, &back), 0);
  cr_assert(back.seconds == TS_MAX && back.nanos == 999999999);

  /* The first one is long passed. */
  t = timestamp(TS_MIN, 0);
  cr_assert_eq(crpc_timestamp_to_deadline(&t, &dl), 0);
  cr_assert(crpc_deadline_expired(dl));

  /* The earliest deadline there is lies at least INT64_MAX ns (292 years)
   * back; the difference saturates there: a valid Timestamp, found
   * without overflow. */
  int64_t expect = wall_ns() / NS_PER_S - INT64_C(9223372036);
  cr_assert_eq(crpc_timestamp_from_deadline(INT64_MIN, &back), 0);
  cr_assert(back.nanos >= 0 && back.nanos <= 999999999);
  cr_assert(back.seconds >= expect - 2 && back.seconds <= expect + 2,
            "%lld, not about %lld", (long long)back.seconds, (long long)expect);

  /* Bad input leaves the output alone. */
  dl = 42;
  t = timestamp(TS_MAX + 1, 0);
  cr_assert_eq(crpc_timestamp_to_deadline(&t, &dl), CRPC_EINVAL);
  t = timestamp(0, -1);
  cr_assert_eq(crpc_timestamp_to_deadline(&t, &dl), CRPC_EINVAL);
  cr_assert_eq(crpc_timestamp_to_deadline(NULL, &dl), CRPC_EINVAL);
  cr_assert_eq(dl, 42);
  cr_assert_eq(crpc_timestamp_to_deadline(&t, NULL), CRPC_EINVAL);
  cr_assert_eq(crpc_timestamp_from_deadline(0, NULL), CRPC_EINVAL);
}

/* Bytes from protoc --encode (the reference implementation). */
Test(wkt, timestamp_packs_and_unpacks_like_protobuf, .timeout = 10) {
  static const uint8_t want[] = {0x08, 0x80, 0xe2, 0xcf, 0xaa, 0x06,
                                 0x10, 0x95, 0x9a, 0xef, 0x3a};
  Google__Protobuf__Timestamp t = timestamp(1700000000, 123456789);
  uint8_t buf[32];

  cr_assert_eq(google__protobuf__timestamp__get_packed_size(&t), sizeof(want));
  cr_assert_eq(google__protobuf__timestamp__pack(&t, buf), sizeof(want));
  cr_assert_arr_eq(buf, want, sizeof(want));

  ProtobufCMessage *m = protobuf_c_message_unpack(
      &google__protobuf__timestamp__descriptor, NULL, sizeof(want), want);
  cr_assert_not_null(m);
  Google__Protobuf__Timestamp *u = (Google__Protobuf__Timestamp *)m;
  cr_assert(u->seconds == 1700000000 && u->nanos == 123456789);
  struct timespec ts;
  cr_assert_eq(crpc_timestamp_to_timespec(u, &ts), 0);
  cr_assert(ts.tv_sec == 1700000000 && ts.tv_nsec == 123456789);
  google__protobuf__timestamp__free_unpacked(u, NULL);

  /* The first Timestamp: a negative varint of ten bytes. */
  static const uint8_t first[] = {0x08, 0x80, 0x92, 0xb8, 0xc3, 0x98,
                                  0xfe, 0xff, 0xff, 0xff, 0x01};
  u = google__protobuf__timestamp__unpack(NULL, sizeof(first), first);
  cr_assert_not_null(u);
  cr_assert(u->seconds == TS_MIN && u->nanos == 0);
  google__protobuf__timestamp__free_unpacked(u, NULL);
}

Test(wkt, negative_duration_and_wrapper_pack_like_protobuf, .timeout = 10) {
  static const uint8_t want[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                 0xff, 0xff, 0x01, 0x10, 0x80, 0xb6, 0xca, 0x91,
                                 0xfe, 0xff, 0xff, 0xff, 0xff, 0x01};
  struct timespec ts = {.tv_sec = -2, .tv_nsec = 500000000};
  Google__Protobuf__Duration d;
  uint8_t buf[32];

  cr_assert_eq(crpc_duration_from_timespec(&ts, &d), 0);
  cr_assert_eq(google__protobuf__duration__pack(&d, buf), sizeof(want));
  cr_assert_arr_eq(buf, want, sizeof(want));
  Google__Protobuf__Duration *u =
      google__protobuf__duration__unpack(NULL, sizeof(want), want);
  cr_assert_not_null(u);
  cr_assert(u->seconds == -1 && u->nanos == -500000000);
  google__protobuf__duration__free_unpacked(u, NULL);

  Google__Protobuf__StringValue s = GOOGLE__PROTOBUF__STRING_VALUE__INIT;
  s.value = "crpc";
  size_t n = google__protobuf__string_value__pack(&s, buf);
  cr_assert_eq(n, 6);
  cr_assert_arr_eq(buf, ((const uint8_t[]){0x0a, 4, 'c', 'r', 'p', 'c'}), 6);
  Google__Protobuf__StringValue *su =
      google__protobuf__string_value__unpack(NULL, n, buf);
  cr_assert_not_null(su);
  cr_assert_str_eq(su->value, "crpc");
  google__protobuf__string_value__free_unpacked(su, NULL);
}
