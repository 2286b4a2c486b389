/* runtime/deadline_internal.h: the grpc-timeout header's encoding. */
#ifndef CRPC_DEADLINE_INTERNAL_H
#define CRPC_DEADLINE_INTERNAL_H

#include "crpc/deadline.h"

/* Longest grpc-timeout value: 8 digits and a unit, plus a NUL. */
#define CRPC__TIMEOUT_MAX 10

/*
 * Parses a grpc-timeout value: 1 to 8 ASCII digits followed by exactly one
 * unit, H (hours), M (minutes), S (seconds), m (milliseconds), u
 * (microseconds) or n (nanoseconds), as gRPC's PROTOCOL-HTTP2 defines it.
 * Nothing else is accepted: no sign, no space, no second unit. Values that
 * overflow 64-bit nanoseconds saturate at INT64_MAX.
 * Returns 0 and sets |*ns|, or CRPC_EBADTIMEOUT and leaves it untouched.
 * Thread: any.
 */
int crpc__timeout_parse(const char *s, size_t len, int64_t *ns);

/*
 * Writes |ns| as a NUL-terminated grpc-timeout value into |out| and returns
 * its length. The finest unit whose value fits in 8 digits is chosen and
 * the value is rounded up, so the peer never sees a shorter timeout than
 * the one left. Values below 1 ns encode as "1n" (an already expired call
 * still carries a valid header). Thread: any.
 */
size_t crpc__timeout_encode(int64_t ns, char out[CRPC__TIMEOUT_MAX]);

#endif /* CRPC_DEADLINE_INTERNAL_H */
