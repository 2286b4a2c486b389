/* runtime/wkt.c: protobuf's Timestamp and Duration, to and from struct
 * timespec and crpc deadlines. */
#include "crpc/wkt.h"

#include <errno.h>

#include "crpc/error.h"

#define NS_PER_S INT64_C(1000000000)
#define MAX_NANOS 999999999

/* protobuf's ranges (google/protobuf/timestamp.proto, duration.proto). */
#define TS_MIN_SECONDS INT64_C(-62135596800) /* 0001-01-01T00:00:00Z */
#define TS_MAX_SECONDS INT64_C(253402300799) /* 9999-12-31T23:59:59Z */
#define DUR_MAX_SECONDS INT64_C(315576000000)

static int timestamp_valid(int64_t seconds, int64_t nanos) {
  return seconds >= TS_MIN_SECONDS && seconds <= TS_MAX_SECONDS && nanos >= 0 &&
         nanos <= MAX_NANOS;
}

/* Nanos carry the sign of seconds when both are nonzero. */
static int duration_valid(int64_t seconds, int64_t nanos) {
  return seconds >= -DUR_MAX_SECONDS && seconds <= DUR_MAX_SECONDS &&
         nanos >= -MAX_NANOS && nanos <= MAX_NANOS &&
         !(seconds > 0 && nanos < 0) && !(seconds < 0 && nanos > 0);
}

/* Nonzero when |seconds| survives a round trip through time_t, which is
 * 32 bits on some platforms. */
static int fits_time_t(int64_t seconds) {
  return (int64_t)(time_t)seconds == seconds;
}

static void set_timestamp(Google__Protobuf__Timestamp *out, int64_t seconds,
                          int64_t nanos) {
  google__protobuf__timestamp__init(out);
  out->seconds = seconds;
  out->nanos = (int32_t)nanos;
}

static void set_duration(Google__Protobuf__Duration *out, int64_t seconds,
                         int64_t nanos) {
  google__protobuf__duration__init(out);
  out->seconds = seconds;
  out->nanos = (int32_t)nanos;
}

/* |seconds| s + |nanos| ns in nanoseconds, saturating at INT64_MIN and
 * INT64_MAX. |nanos| is within (-1e9, 1e9), of either sign. */
static int64_t to_ns(int64_t seconds, int64_t nanos) {
  if (seconds > INT64_MAX / NS_PER_S)
    return INT64_MAX;
  if (seconds < INT64_MIN / NS_PER_S)
    return INT64_MIN;
  int64_t ns = seconds * NS_PER_S;
  if (nanos > 0 && ns > INT64_MAX - nanos)
    return INT64_MAX;
  if (nanos < 0 && ns < INT64_MIN - nanos)
    return INT64_MIN;
  return ns + nanos;
}

/* Reads the wall clock into |ts|; returns 0 or -errno. */
static int wall_now(struct timespec *ts) {
  if (clock_gettime(CLOCK_REALTIME, ts) != 0)
    return errno != 0 ? -errno : CRPC_EINVAL;
  return 0;
}

int crpc_timestamp_from_timespec(const struct timespec *ts,
                                 Google__Protobuf__Timestamp *out) {
  if (ts == NULL || out == NULL ||
      !timestamp_valid((int64_t)ts->tv_sec, (int64_t)ts->tv_nsec))
    return CRPC_EINVAL;
  set_timestamp(out, (int64_t)ts->tv_sec, (int64_t)ts->tv_nsec);
  return 0;
}

int crpc_timestamp_to_timespec(const Google__Protobuf__Timestamp *t,
                               struct timespec *out) {
  if (t == NULL || out == NULL || !timestamp_valid(t->seconds, t->nanos) ||
      !fits_time_t(t->seconds))
    return CRPC_EINVAL;
  out->tv_sec = (time_t)t->seconds;
  out->tv_nsec = t->nanos;
  return 0;
}

int crpc_timestamp_now(Google__Protobuf__Timestamp *out) {
  struct timespec now;
  int rc;

  if (out == NULL)
    return CRPC_EINVAL;
  if ((rc = wall_now(&now)) != 0)
    return rc;
  return crpc_timestamp_from_timespec(&now, out);
}

int crpc_duration_from_timespec(const struct timespec *ts,
                                Google__Protobuf__Duration *out) {
  if (ts == NULL || out == NULL || ts->tv_nsec < 0 || ts->tv_nsec > MAX_NANOS)
    return CRPC_EINVAL;
  int64_t seconds = (int64_t)ts->tv_sec;
  int64_t nanos = (int64_t)ts->tv_nsec;
  /* A timespec's nanoseconds always count up; a Duration's count away
   * from zero: {-2, 500000000} is -1 s and -500000000 ns. */
  if (seconds < 0 && nanos > 0) {
    seconds += 1;
    nanos -= NS_PER_S;
  }
  if (!duration_valid(seconds, nanos))
    return CRPC_EINVAL;
  set_duration(out, seconds, nanos);
  return 0;
}

int crpc_duration_to_timespec(const Google__Protobuf__Duration *d,
                              struct timespec *out) {
  if (d == NULL || out == NULL || !duration_valid(d->seconds, d->nanos))
    return CRPC_EINVAL;
  int64_t seconds = d->seconds;
  int64_t nanos = d->nanos;
  if (nanos < 0) {
    seconds -= 1;
    nanos += NS_PER_S;
  }
  if (!fits_time_t(seconds))
    return CRPC_EINVAL;
  out->tv_sec = (time_t)seconds;
  out->tv_nsec = (long)nanos;
  return 0;
}

int crpc_duration_to_deadline(const Google__Protobuf__Duration *d,
                              crpc_deadline *out) {
  if (d == NULL || out == NULL || !duration_valid(d->seconds, d->nanos))
    return CRPC_EINVAL;
  *out = crpc_deadline_after_ns(to_ns(d->seconds, d->nanos));
  return 0;
}

int crpc_duration_from_deadline(crpc_deadline deadline,
                                Google__Protobuf__Duration *out) {
  if (out == NULL)
    return CRPC_EINVAL;
  if (deadline == CRPC_DEADLINE_INFINITE) {
    set_duration(out, DUR_MAX_SECONDS, MAX_NANOS);
    return 0;
  }
  int64_t ns = crpc_deadline_remaining_ns(deadline);
  set_duration(out, ns / NS_PER_S, ns % NS_PER_S);
  return 0;
}

int crpc_timestamp_to_deadline(const Google__Protobuf__Timestamp *t,
                               crpc_deadline *out) {
  struct timespec now;
  int rc;

  if (t == NULL || out == NULL || !timestamp_valid(t->seconds, t->nanos))
    return CRPC_EINVAL;
  if ((rc = wall_now(&now)) != 0)
    return rc;
  /* Both terms are far from overflowing: seconds within the Timestamp
   * range, nanoseconds within (-1e9, 1e9). */
  int64_t ahead = to_ns(t->seconds - (int64_t)now.tv_sec,
                        (int64_t)t->nanos - (int64_t)now.tv_nsec);
  *out = crpc_deadline_after_ns(ahead);
  return 0;
}

int crpc_timestamp_from_deadline(crpc_deadline deadline,
                                 Google__Protobuf__Timestamp *out) {
  struct timespec now;
  int rc;

  if (out == NULL)
    return CRPC_EINVAL;
  if (deadline == CRPC_DEADLINE_INFINITE) {
    set_timestamp(out, TS_MAX_SECONDS, MAX_NANOS);
    return 0;
  }
  if ((rc = wall_now(&now)) != 0)
    return rc;
  int64_t mono = crpc_now_ns();
  /* The monotonic clock reads nonnegative, so only a deadline near
   * INT64_MIN can take the difference out of range. */
  int64_t ahead = deadline < INT64_MIN + mono ? INT64_MIN : deadline - mono;
  int64_t seconds = (int64_t)now.tv_sec + ahead / NS_PER_S;
  int64_t nanos = (int64_t)now.tv_nsec + ahead % NS_PER_S;
  if (nanos < 0) {
    seconds -= 1;
    nanos += NS_PER_S;
  } else if (nanos >= NS_PER_S) {
    seconds += 1;
    nanos -= NS_PER_S;
  }
  if (seconds > TS_MAX_SECONDS)
    set_timestamp(out, TS_MAX_SECONDS, MAX_NANOS);
  else if (seconds < TS_MIN_SECONDS)
    set_timestamp(out, TS_MIN_SECONDS, 0);
  else
    set_timestamp(out, seconds, nanos);
  return 0;
}
