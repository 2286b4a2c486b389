/*
 * crpc/deadline.h: monotonic deadlines.
 *
 * A deadline is an absolute point on the monotonic clock that libuv's
 * uv_hrtime() reads, in nanoseconds. It is immune to wall-clock changes and
 * travels on the wire as a relative grpc-timeout.
 */
#ifndef CRPC_DEADLINE_H
#define CRPC_DEADLINE_H

#include "crpc/common.h"

CRPC_BEGIN_DECLS

typedef int64_t crpc_deadline;

/* No deadline: never expires. */
#define CRPC_DEADLINE_INFINITE INT64_MAX

/* The current monotonic time in nanoseconds. Thread: any. */
CRPC_EXTERN int64_t crpc_now_ns(void);

/*
 * The deadline |ms| milliseconds (or |ns| nanoseconds) from now, saturating
 * at CRPC_DEADLINE_INFINITE. A negative duration gives a deadline in the
 * past. Thread: any.
 */
CRPC_EXTERN crpc_deadline crpc_deadline_after_ms(int64_t ms);
CRPC_EXTERN crpc_deadline crpc_deadline_after_ns(int64_t ns);

/*
 * Time left until |d|: 0 once it has passed, INT64_MAX for an infinite
 * deadline. The _ms variant rounds up, so that a timer armed with it never
 * fires before the deadline. Thread: any.
 */
CRPC_EXTERN int64_t crpc_deadline_remaining_ns(crpc_deadline d);
CRPC_EXTERN int64_t crpc_deadline_remaining_ms(crpc_deadline d);

/* Nonzero when |d| has passed. Thread: any. */
CRPC_EXTERN int crpc_deadline_expired(crpc_deadline d);

/* The earlier of two deadlines. Thread: any. */
CRPC_EXTERN crpc_deadline crpc_deadline_min(crpc_deadline a, crpc_deadline b);

CRPC_END_DECLS

#endif /* CRPC_DEADLINE_H */
