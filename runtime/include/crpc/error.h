/*
 * crpc/error.h: crpc's error codes and their names.
 *
 * Functions in crpc return int: 0 on success or a negative code. crpc's own
 * codes sit in [-1999, -1000]; libuv codes (negative errno values) and
 * nghttp2 codes ([-999, -500]) pass through unchanged. crpc_strerror() names
 * all three. These codes describe local failures; the outcome of an RPC is a
 * crpc_status (crpc/status.h) and never one of these.
 */
#ifndef CRPC_ERROR_H
#define CRPC_ERROR_H

#include "crpc/common.h"

CRPC_BEGIN_DECLS

#define CRPC_ERRNO_MAP(X)                                                      \
  X(EPROTO, -1001, "malformed gRPC message frame")                             \
  X(ETOOBIG, -1002, "message exceeds the size limit")                          \
  X(EINVAL, -1003, "invalid argument")                                         \
  X(ENOMEM, -1004, "out of memory")                                            \
  X(ECLOSED, -1005, "object is closed")                                        \
  X(EALREADY, -1006, "already completed")                                      \
  X(ETIMEDOUT, -1007, "timed out")                                             \
  X(ELOOPTHREAD, -1008, "would block an event loop thread")                    \
  X(ENOTCORO, -1009, "not running in a coroutine")                             \
  X(EQUEUEFULL, -1010, "work queue is full")                                   \
  X(ENOPOOL, -1011, "no worker pool is attached to the loop")                  \
  X(EBADKEY, -1012, "invalid metadata key")                                    \
  X(EBADVALUE, -1013, "invalid metadata value")                                \
  X(EBADTIMEOUT, -1014, "invalid grpc-timeout value")                          \
  X(EBASE64, -1015, "invalid base64 data")                                     \
  X(ECOMPRESS, -1016, "compression failed")                                    \
  X(EDECOMPRESS, -1017, "decompression failed")                                \
  X(EENCODING, -1018, "unsupported message encoding")                          \
  X(ECANCELED, -1019, "operation was cancelled")                               \
  X(ESTATE, -1020, "not allowed in the current state")                         \
  X(ENOTFOUND, -1021, "not found")                                             \
  X(EUNPACK, -1022, "protobuf message could not be decoded")                   \
  X(ESTACK, -1023, "coroutine stack could not be created")                     \
  X(EPACK, -1024, "protobuf message cannot be encoded (a NULL pointer)")

typedef enum {
#define CRPC_ERRNO_ENUM(name, code, text) CRPC_##name = (code),
  CRPC_ERRNO_MAP(CRPC_ERRNO_ENUM)
#undef CRPC_ERRNO_ENUM
} crpc_errno;

/*
 * Returns a static, human-readable description of |err|: a crpc code, an
 * nghttp2 code or a libuv code. Unknown codes get a generic string.
 * Thread: any.
 */
CRPC_EXTERN const char *crpc_strerror(int err);

/*
 * Returns the symbolic name of |err| ("CRPC_ETOOBIG", "ECONNREFUSED", ...),
 * or "UNKNOWN" for codes no table knows. Thread: any.
 */
CRPC_EXTERN const char *crpc_err_name(int err);

CRPC_END_DECLS

#endif /* CRPC_ERROR_H */
