/*
 * crpc/status.h: gRPC status codes and the status value of a finished RPC.
 *
 * crpc_status is the outcome of an RPC (gRPC's codes 0-16). It is never mixed
 * with the local error codes of crpc/error.h.
 */
#ifndef CRPC_STATUS_H
#define CRPC_STATUS_H

#include "crpc/common.h"

CRPC_BEGIN_DECLS

#define CRPC_STATUS_MAP(X)                                                     \
  X(OK, 0)                                                                     \
  X(CANCELLED, 1)                                                              \
  X(UNKNOWN, 2)                                                                \
  X(INVALID_ARGUMENT, 3)                                                       \
  X(DEADLINE_EXCEEDED, 4)                                                      \
  X(NOT_FOUND, 5)                                                              \
  X(ALREADY_EXISTS, 6)                                                         \
  X(PERMISSION_DENIED, 7)                                                      \
  X(RESOURCE_EXHAUSTED, 8)                                                     \
  X(FAILED_PRECONDITION, 9)                                                    \
  X(ABORTED, 10)                                                               \
  X(OUT_OF_RANGE, 11)                                                          \
  X(UNIMPLEMENTED, 12)                                                         \
  X(INTERNAL, 13)                                                              \
  X(UNAVAILABLE, 14)                                                           \
  X(DATA_LOSS, 15)                                                             \
  X(UNAUTHENTICATED, 16)

typedef enum {
#define CRPC_STATUS_ENUM(name, code) CRPC_STATUS_##name = (code),
  CRPC_STATUS_MAP(CRPC_STATUS_ENUM)
#undef CRPC_STATUS_ENUM
} crpc_status;

/*
 * Returns the canonical name of |code| ("OK", "DEADLINE_EXCEEDED", ...), as
 * gRPC spells it; "NOT_A_GRPC_STATUS" when |code| is outside 0-16, so the
 * result can always be printed. Static storage. Thread: any.
 */
CRPC_EXTERN const char *crpc_status_name(int code);

/*
 * Parses a canonical name back to its code. Returns 0 and sets |*out|, or
 * CRPC_EINVAL for an unknown name. Thread: any.
 */
CRPC_EXTERN int crpc_status_from_name(const char *name, crpc_status *out);

/*
 * The full status of a finished RPC: gRPC's code, message, and the binary
 * details carried in the grpc-status-details-bin trailer, which are a
 * serialized google.rpc.Status message.
 *
 * Caller storage: pair crpc_status_info_init() with crpc_status_info_cleanup().
 * The struct owns |message| and |details|.
 */
typedef struct crpc_status_info {
  crpc_status code;
  char *message;    /* NUL-terminated UTF-8; NULL when empty */
  uint8_t *details; /* serialized google.rpc.Status; NULL when absent */
  size_t details_len;
} crpc_status_info;

/* Sets |st| to OK with no message and no details. Thread: any. */
CRPC_EXTERN void crpc_status_info_init(crpc_status_info *st);

/* Frees what |st| owns and leaves it as after init. NULL is a no-op.
 * Thread: any (on a struct the caller owns). */
CRPC_EXTERN void crpc_status_info_cleanup(crpc_status_info *st);

/*
 * Sets |st| to |code| and a copy of |message| (may be NULL), dropping any
 * details it had. Returns 0, or CRPC_ENOMEM and then |st| is unchanged.
 * Thread: any (on a struct the caller owns).
 */
CRPC_EXTERN int crpc_status_info_set(crpc_status_info *st, crpc_status code,
                                     const char *message);

/*
 * Replaces the details of |st| with a copy of the |len| bytes at |details|
 * (a serialized google.rpc.Status); |details| stays the caller's. Returns
 * 0, or CRPC_ENOMEM, or CRPC_EINVAL for NULL |details| with |len| > 0, and
 * then |st| is unchanged. Thread: any (on a struct the caller owns).
 */
CRPC_EXTERN int crpc_status_info_set_details(crpc_status_info *st,
                                             const uint8_t *details,
                                             size_t len);

/* Deep-copies |src| into |dst|, which must be initialized; what |dst| held
 * is freed, |src| is only read. Returns 0, or CRPC_ENOMEM and then |dst|
 * is unchanged. Thread: any (on structs the caller owns). */
CRPC_EXTERN int crpc_status_info_copy(crpc_status_info *dst,
                                      const crpc_status_info *src);

/*
 * One google.protobuf.Any inside google.rpc.Status.details: a type URL and
 * the serialized message. Borrowed views when produced by the decoder.
 */
typedef struct crpc_status_any {
  const char *type_url;
  size_t type_url_len;
  const uint8_t *value;
  size_t value_len;
} crpc_status_any;

/*
 * Encodes a google.rpc.Status {code, message, details} into a new buffer
 * (protobuf wire format), suitable for crpc_status_info_set_details() and
 * for the grpc-status-details-bin trailer.
 * Ownership: |message| and |any| are only read; |*out| is allocated with
 * malloc and the caller frees it.
 * Thread: any.
 * Returns 0, or CRPC_ENOMEM / CRPC_EINVAL (n_any > 0 with any == NULL); on
 * error |*out| is untouched.
 */
CRPC_EXTERN int crpc_status_details_encode(crpc_status code,
                                           const char *message,
                                           const crpc_status_any *any,
                                           size_t n_any, uint8_t **out,
                                           size_t *out_len);

/*
 * Decodes a serialized google.rpc.Status. |*code| gets the code, |*message|
 * and |*message_len| a view into |buf| (not NUL-terminated). When |any| is
 * non-NULL, up to |any_cap| details are written there as views into |buf|;
 * |*n_any| always gets the total count. Unknown fields are skipped.
 * Returns 0, or CRPC_EPROTO for malformed input.
 * Thread: any.
 */
CRPC_EXTERN int crpc_status_details_decode(const uint8_t *buf, size_t len,
                                           int32_t *code, const char **message,
                                           size_t *message_len,
                                           crpc_status_any *any, size_t any_cap,
                                           size_t *n_any);

CRPC_END_DECLS

#endif /* CRPC_STATUS_H */
