/*
 * runtime/method_internal.h: what a method's kind says about its messages,
 * for both sides.
 */
#ifndef CRPC_METHOD_INTERNAL_H
#define CRPC_METHOD_INTERNAL_H

#include "crpc/method.h"

/* One request message (unary, server streaming). */
static inline int crpc__method_single_request(const crpc_method *m) {
  return m->kind == CRPC_METHOD_UNARY ||
         m->kind == CRPC_METHOD_SERVER_STREAMING;
}

/* One response message (unary, client streaming). */
static inline int crpc__method_single_reply(const crpc_method *m) {
  return m->kind == CRPC_METHOD_UNARY ||
         m->kind == CRPC_METHOD_CLIENT_STREAMING;
}

#endif /* CRPC_METHOD_INTERNAL_H */
