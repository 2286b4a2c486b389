/* server/service.c: a service ready to be added to a server. */
#include <stdlib.h>
#include <string.h>

#include "crpc/error.h"
#include "server_internal.h"

int crpc_service_new(const crpc_service_desc *desc, const void *handlers,
                     void *user_data, crpc_service **out) {
  if (!desc || !handlers || !desc->name || (desc->n_methods && !desc->methods))
    return CRPC_EINVAL;
  crpc_service *svc = calloc(1, sizeof(*svc));
  if (!svc)
    return CRPC_ENOMEM;
  if (desc->n_methods) {
    svc->placement = calloc(desc->n_methods, sizeof(*svc->placement));
    if (!svc->placement) {
      free(svc);
      return CRPC_ENOMEM;
    }
  }
  for (size_t i = 0; i < desc->n_methods; i++)
    svc->placement[i] = desc->methods[i].placement;
  svc->desc = desc;
  svc->handlers = handlers;
  svc->user_data = user_data;
  *out = svc;
  return 0;
}

void crpc_service_free(crpc_service *svc) {
  if (!svc)
    return;
  crpc__ichain_free(&svc->own);
  crpc__ichain_free(&svc->chain);
  free(svc->placement);
  free(svc);
}

int crpc_service_set_placement(crpc_service *svc, const char *name,
                               crpc_placement placement) {
  if (!svc || !name ||
      (placement != CRPC_PLACEMENT_WORKER && placement != CRPC_PLACEMENT_LOOP))
    return CRPC_EINVAL;
  for (size_t i = 0; i < svc->desc->n_methods; i++) {
    if (strcmp(svc->desc->methods[i].name, name) == 0) {
      svc->placement[i] = placement;
      return 0;
    }
  }
  return CRPC_ENOTFOUND;
}

int crpc_service_add_interceptor(crpc_service *svc,
                                 const crpc_interceptor *ic) {
  if (!svc)
    return CRPC_EINVAL;
  return crpc__ichain_add(&svc->own, ic);
}
