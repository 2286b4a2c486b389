/*
 * crpc/common.h: export macro and version shared by every crpc header.
 */
#ifndef CRPC_COMMON_H
#define CRPC_COMMON_H

#include <stddef.h>
#include <stdint.h>

#define CRPC_VERSION_MAJOR 0
#define CRPC_VERSION_MINOR 1
#define CRPC_VERSION_PATCH 0
#define CRPC_VERSION_STRING "0.1.0"

/* libcrpc is built with hidden visibility; only CRPC_EXTERN symbols are
 * exported from the shared library. */
#if defined(__GNUC__) || defined(__clang__)
#define CRPC_EXTERN __attribute__((visibility("default")))
#else
#define CRPC_EXTERN
#endif

#ifdef __cplusplus
#define CRPC_BEGIN_DECLS extern "C" {
#define CRPC_END_DECLS }
#else
#define CRPC_BEGIN_DECLS
#define CRPC_END_DECLS
#endif

/* crpc_channel_opts.message_cache_bytes, crpc_server_opts.
 * message_cache_bytes: keep no memory of messages for the next ones. */
#define CRPC_MESSAGE_CACHE_OFF SIZE_MAX

#endif /* CRPC_COMMON_H */
