/*
 * client/cancel.c: cancellation handles. A handle keeps the calls given
 * to it in a list; triggering it cancels them, and every later call given
 * to it is cancelled as it starts.
 *
 * Lock order: a handle's |mu|, then nothing; a call is cancelled after
 * the handle's lock is released.
 */
#include <stdlib.h>

#include "client_internal.h"
#include "crpc/error.h"

struct crpc_cancel {
  atomic_int refs;
  /* Guards |triggered| and |calls|. Lock order: a leaf; the calls it
   * takes are cancelled after it is released. */
  uv_mutex_t mu;
  int triggered;
  crpc__client_call *calls;
};

int crpc_cancel_new(crpc_cancel **out) {
  crpc_cancel *c = calloc(1, sizeof(*c));
  if (!c)
    return CRPC_ENOMEM;
  if (uv_mutex_init(&c->mu) != 0) {
    free(c);
    return CRPC_ENOMEM;
  }
  atomic_init(&c->refs, 1);
  *out = c;
  return 0;
}

static void cancel_unref(crpc_cancel *c) {
  if (atomic_fetch_sub(&c->refs, 1) != 1)
    return;
  uv_mutex_destroy(&c->mu);
  free(c);
}

void crpc_cancel_free(crpc_cancel *c) {
  if (c)
    cancel_unref(c);
}

void crpc_cancel_trigger(crpc_cancel *c) {
  uv_mutex_lock(&c->mu);
  c->triggered = 1;
  crpc__client_call *list = c->calls;
  c->calls = NULL;
  /* Each taken call keeps a reference until it is cancelled below. */
  for (crpc__client_call *k = list; k; k = k->cancel_next) {
    k->cancel_linked = 0;
    crpc__client_call_ref(k);
  }
  uv_mutex_unlock(&c->mu);
  while (list) {
    crpc__client_call *next = list->cancel_next;
    crpc__client_call_cancel(list, CRPC_STATUS_CANCELLED);
    crpc__client_call_unref(list);
    list = next;
  }
}

void crpc__cancel_link(crpc_cancel *c, crpc__client_call *call) {
  atomic_fetch_add(&c->refs, 1);
  call->cancel = c;
  uv_mutex_lock(&c->mu);
  int triggered = c->triggered;
  if (!triggered) {
    call->cancel_prev = NULL;
    call->cancel_next = c->calls;
    if (c->calls)
      c->calls->cancel_prev = call;
    c->calls = call;
    call->cancel_linked = 1;
  }
  uv_mutex_unlock(&c->mu);
  if (triggered)
    crpc__client_call_cancel(call, CRPC_STATUS_CANCELLED);
}

void crpc__cancel_unlink(crpc_cancel *c, crpc__client_call *call) {
  uv_mutex_lock(&c->mu);
  if (call->cancel_linked) {
    if (call->cancel_prev)
      call->cancel_prev->cancel_next = call->cancel_next;
    else
      c->calls = call->cancel_next;
    if (call->cancel_next)
      call->cancel_next->cancel_prev = call->cancel_prev;
    call->cancel_linked = 0;
  }
  uv_mutex_unlock(&c->mu);
  call->cancel = NULL;
  cancel_unref(c);
}
