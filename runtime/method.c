/* runtime/method.c: names and lookups over generated method tables. */
#include "crpc/method.h"

#include <string.h>

const char *crpc_method_kind_name(crpc_method_kind kind) {
  switch (kind) {
  case CRPC_METHOD_UNARY:
    return "unary";
  case CRPC_METHOD_SERVER_STREAMING:
    return "server_streaming";
  case CRPC_METHOD_CLIENT_STREAMING:
    return "client_streaming";
  case CRPC_METHOD_BIDI_STREAMING:
    return "bidi_streaming";
  }
  return NULL;
}

const char *crpc_placement_name(crpc_placement placement) {
  switch (placement) {
  case CRPC_PLACEMENT_WORKER:
    return "worker";
  case CRPC_PLACEMENT_LOOP:
    return "loop";
  }
  return NULL;
}

const crpc_method *crpc_service_desc_find(const crpc_service_desc *desc,
                                          const char *name) {
  for (size_t i = 0; i < desc->n_methods; i++)
    if (strcmp(desc->methods[i].name, name) == 0)
      return &desc->methods[i];
  return NULL;
}
