/*
 * crpc/wkt.h: protobuf's Timestamp and Duration, to and from struct
 * timespec and crpc deadlines.
 *
 * libcrpc contains the code of protobuf's well-known types
 * (google/protobuf/timestamp.proto, duration, empty, any, struct, wrappers,
 * field_mask, api, type, source_context) and installs their headers under
 * include/crpc/proto-c, which pkg-config and the crpc::crpc target put on
 * the include path. This header needs that path too, which is why crpc/crpc.h
 * does not include it.
 *
 * Ranges are protobuf's. A Timestamp counts seconds and nanoseconds from
 * 1970-01-01T00:00:00Z, leap seconds smeared: seconds in [-62135596800,
 * 253402300799] (0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z) and nanos in
 * [0, 999999999]. A Duration is signed: seconds in [-315576000000,
 * 315576000000] (about 10000 years), nanos in [-999999999, 999999999] and
 * of the sign of seconds when both are nonzero (-1.5 s is -1 s and
 * -500000000 ns). A struct timespec here is normalized as POSIX wants it:
 * tv_nsec in [0, 999999999] whatever the sign of tv_sec (-1.5 s is -2 s and
 * 500000000 ns).
 *
 * Every function that writes a message initializes it first, as
 * google__protobuf__timestamp__init() does: |out| need not be initialized,
 * owns no memory afterwards, and whatever it held is overwritten, not freed
 * (unknown fields of a message from an unpack are lost, so write into a
 * message of your own). After a failure, |out| is unchanged.
 *
 * Deadlines (crpc/deadline.h) are on the monotonic clock; Timestamps are
 * on the wall clock (CLOCK_REALTIME). Converting between them reads both
 * clocks once, so the result is as exact as those two reads are close, and
 * a later change of the wall clock does not move a deadline already made.
 */
#ifndef CRPC_WKT_H
#define CRPC_WKT_H

#include <time.h>

#include "crpc/common.h"
#include "crpc/deadline.h"
#include "google/protobuf/duration.pb-c.h"
#include "google/protobuf/timestamp.pb-c.h"

CRPC_BEGIN_DECLS

/*
 * Sets |out| to the point in time |ts| (seconds and nanoseconds since
 * 1970-01-01T00:00:00Z, as clock_gettime(CLOCK_REALTIME) gives).
 * Ownership: |ts| is only read.
 * Thread: any (on structs the caller owns).
 * Returns 0, or CRPC_EINVAL, and then |out| is unchanged, when |ts| or
 * |out| is NULL, tv_nsec is outside [0, 999999999] or tv_sec outside the
 * Timestamp range.
 */
CRPC_EXTERN int crpc_timestamp_from_timespec(const struct timespec *ts,
                                             Google__Protobuf__Timestamp *out);

/*
 * Sets |*out| to the point in time |t|.
 * Ownership: |t| is only read.
 * Thread: any (on structs the caller owns).
 * Returns 0, or CRPC_EINVAL, and then |*out| is unchanged, when |t| or
 * |out| is NULL, |t| is outside the Timestamp range, or its seconds do not
 * fit in time_t.
 */
CRPC_EXTERN int crpc_timestamp_to_timespec(const Google__Protobuf__Timestamp *t,
                                           struct timespec *out);

/*
 * Sets |out| to the current wall-clock time (CLOCK_REALTIME).
 * Thread: any (on a struct the caller owns).
 * Returns 0, or one of these, and then |out| is unchanged:
 *   CRPC_EINVAL  |out| is NULL, or the clock reads outside the Timestamp
 *                range.
 *   -errno       the clock could not be read (a libuv-style code).
 */
CRPC_EXTERN int crpc_timestamp_now(Google__Protobuf__Timestamp *out);

/*
 * Sets |out| to the length of time |ts|, a normalized timespec that may be
 * negative ({-2, 500000000} gives -1 s and -500000000 ns).
 * Ownership: |ts| is only read.
 * Thread: any (on structs the caller owns).
 * Returns 0, or CRPC_EINVAL, and then |out| is unchanged, when |ts| or
 * |out| is NULL, tv_nsec is outside [0, 999999999] or the length is outside
 * the Duration range.
 */
CRPC_EXTERN int crpc_duration_from_timespec(const struct timespec *ts,
                                            Google__Protobuf__Duration *out);

/*
 * Sets |*out| to the length of time |d|, normalized (-1 s and -500000000
 * ns give {-2, 500000000}).
 * Ownership: |d| is only read.
 * Thread: any (on structs the caller owns).
 * Returns 0, or CRPC_EINVAL, and then |*out| is unchanged, when |d| or
 * |out| is NULL, |d| is outside the Duration range (nanos of the wrong sign
 * included), or its seconds do not fit in time_t.
 */
CRPC_EXTERN int crpc_duration_to_timespec(const Google__Protobuf__Duration *d,
                                          struct timespec *out);

/*
 * Sets |*out| to the deadline |d| from now, as crpc_deadline_after_ns():
 * a negative |d| gives a deadline in the past, and one longer than about
 * 292 years saturates at CRPC_DEADLINE_INFINITE.
 * Ownership: |d| is only read.
 * Thread: any.
 * Returns 0, or CRPC_EINVAL, and then |*out| is unchanged, when |d| or
 * |out| is NULL or |d| is outside the Duration range.
 */
CRPC_EXTERN int crpc_duration_to_deadline(const Google__Protobuf__Duration *d,
                                          crpc_deadline *out);

/*
 * Sets |out| to the time left until |deadline|, as
 * crpc_deadline_remaining_ns(): 0 once it has passed (never negative). An
 * infinite deadline gives the longest Duration there is (315576000000 s
 * and 999999999 ns), which crpc_duration_to_deadline() turns back into
 * CRPC_DEADLINE_INFINITE.
 * Thread: any (on a struct the caller owns).
 * Returns 0, or CRPC_EINVAL when |out| is NULL.
 */
CRPC_EXTERN int crpc_duration_from_deadline(crpc_deadline deadline,
                                            Google__Protobuf__Duration *out);

/*
 * Sets |*out| to the deadline at the wall-clock time |t|: a |t| in the
 * past gives a deadline in the past, and one more than about 292 years
 * ahead saturates at CRPC_DEADLINE_INFINITE.
 * Ownership: |t| is only read.
 * Thread: any.
 * Returns 0, or one of these, and then |*out| is unchanged:
 *   CRPC_EINVAL  |t| or |out| is NULL, or |t| is outside the Timestamp
 *                range.
 *   -errno       the wall clock could not be read.
 */
CRPC_EXTERN int crpc_timestamp_to_deadline(const Google__Protobuf__Timestamp *t,
                                           crpc_deadline *out);

/*
 * Sets |out| to the wall-clock time at which |deadline| expires. An
 * infinite deadline gives the last Timestamp there is
 * (9999-12-31T23:59:59.999999999Z), which crpc_timestamp_to_deadline()
 * turns back into CRPC_DEADLINE_INFINITE; a result past either end of the
 * Timestamp range (a wall clock set far off) saturates at that end.
 * Thread: any (on a struct the caller owns).
 * Returns 0, or one of these, and then |out| is unchanged:
 *   CRPC_EINVAL  |out| is NULL.
 *   -errno       the wall clock could not be read.
 */
CRPC_EXTERN int crpc_timestamp_from_deadline(crpc_deadline deadline,
                                             Google__Protobuf__Timestamp *out);

CRPC_END_DECLS

#endif /* CRPC_WKT_H */
