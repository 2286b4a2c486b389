/*
 * client/stream.c: the streaming API of crpc/call.h, on the caller's
 * thread: reading replies, writing requests, closing the send side,
 * finishing, and what a finished call's future carries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"
#include "crpc/error.h"
#include "log_internal.h"
#include "method_internal.h"

/* Reading (streaming replies). */

static void free_msg(void *m) {
  protobuf_c_message_free_unpacked(m, NULL);
}

/* The done future's message, once the call has ended. */
static const char *end_message(crpc__client_call *call) {
  return crpc_future_message(call->done_f);
}

/* Completes |f| with the next received message, or with the end of the
 * stream once the call is done and nothing is left. */
void crpc__client_call_complete_read(crpc__client_call *call, crpc_future *f) {
  uv_mutex_lock(&call->mu);
  crpc__cmsg *m = call->in_head;
  if (m) {
    call->in_head = m->next;
    if (!call->in_head)
      call->in_tail = NULL;
    call->in_wire -= m->wire;
    call->delivered = 1;
    /* Short enough again: what arrived meanwhile goes back to the
     * window. */
    if (call->held && call->in_wire <= CRPC__H2_READ_QUEUE_BYTES) {
      call->to_consume += call->held;
      call->held = 0;
      if (!call->done)
        crpc__client_call_kick_locked(call);
    }
  }
  crpc_status code = call->final_code;
  uv_mutex_unlock(&call->mu);
  if (!m) {
    crpc_future_wait(call->done_f); /* done: this returns at once */
    code = crpc_future_status(call->done_f);
    crpc_future_complete(
        f, code, code == CRPC_STATUS_OK ? NULL : end_message(call), NULL, NULL);
    return;
  }
  ProtobufCMessage *out = NULL;
  int rc = crpc__client_call_unpack(call, m, &out);
  size_t wire = m->len + CRPC__FRAME_PREFIX_LEN;
  crpc__msg_cache_put(call->msgs, m); /* for a later message */
  if (rc != 0) {
    crpc__client_call_cancel(call, CRPC_STATUS_INTERNAL);
    crpc_future_complete(f, CRPC_STATUS_INTERNAL,
                         "a response message could not be decoded", NULL, NULL);
    return;
  }
  if (call->ic)
    crpc__icall_message(call->ic, 0, out, wire);
  if (crpc_future_complete(f, CRPC_STATUS_OK, NULL, out, free_msg) != 0)
    free_msg(out); /* the read was cancelled */
}

static crpc_future *done_future(crpc_status code, const char *msg) {
  crpc_future *f;
  if (crpc_future_new(NULL, &f) != 0)
    return NULL;
  crpc_future_complete(f, code, msg, NULL, NULL);
  return f;
}

crpc_future *crpc_call_read_async(crpc_call *handle) {
  crpc__client_call *call = (crpc__client_call *)handle;
  crpc_future *f;
  if (crpc_future_new(NULL, &f) != 0)
    return NULL;
  uv_mutex_lock(&call->mu);
  if (call->in_head || call->done) {
    uv_mutex_unlock(&call->mu);
    crpc__client_call_complete_read(call, f);
    return f;
  }
  if (call->read_f) {
    uv_mutex_unlock(&call->mu);
    crpc_future_complete(f, CRPC_STATUS_FAILED_PRECONDITION,
                         "another read is pending", NULL, NULL);
    return f;
  }
  call->read_f = crpc_future_ref(f);
  uv_mutex_unlock(&call->mu);
  return f;
}

/* Waits for |f| where the caller may block; UNAVAILABLE where it may not. */
static crpc_status wait_status(crpc_future *f) {
  if (crpc_future_wait(f) != 0) {
    crpc_future_cancel(f);
    return CRPC_STATUS_UNAVAILABLE;
  }
  return crpc_future_status(f);
}

crpc_status crpc_call_read_result(crpc_future *f, ProtobufCMessage **msg) {
  crpc_status st = wait_status(f);
  ProtobufCMessage *m = st == CRPC_STATUS_OK ? crpc_future_take_value(f) : NULL;
  if (msg)
    *msg = m;
  else if (m)
    free_msg(m);
  return st;
}

crpc_status crpc_call_read(crpc_call *call, ProtobufCMessage **msg) {
  if (msg)
    *msg = NULL;
  crpc_future *f = crpc_call_read_async(call);
  if (!f)
    return CRPC_STATUS_RESOURCE_EXHAUSTED;
  crpc_status st = crpc_call_read_result(f, msg);
  crpc_future_unref(f);
  return st;
}

/* Writing (streaming requests). */

crpc_future *crpc_call_write_async(crpc_call *handle,
                                   const ProtobufCMessage *msg) {
  crpc__client_call *call = (crpc__client_call *)handle;
  /* Serialized outside the lock, into the memory the last message left. */
  uv_mutex_lock(&call->mu);
  crpc__buf b = crpc__outq_take_spare(&call->out);
  uv_mutex_unlock(&call->mu);
  int rc = crpc__frame_encode_compressed(&b, msg, call->enc,
                                         call->ch->opts.max_send_bytes);
  if (rc != 0) {
    char buf[CRPC__CLIENT_WHY_MAX];
    const char *why;
    crpc_status st = crpc__client_encode_status(rc, msg, buf, &why);
    crpc__buf_cleanup(&b);
    return done_future(st, why);
  }
  crpc_future *f;
  if (crpc_future_new(NULL, &f) != 0) {
    crpc__buf_cleanup(&b);
    return NULL;
  }
  crpc_status code = CRPC_STATUS_OK;
  const char *why = NULL;
  size_t wire = crpc__buf_len(&b);
  uv_mutex_lock(&call->mu);
  if (call->done) {
    code = call->final_code != CRPC_STATUS_OK ? call->final_code
                                              : CRPC_STATUS_FAILED_PRECONDITION;
    why = "the call has ended";
  } else if (call->send_closed) {
    code = CRPC_STATUS_FAILED_PRECONDITION;
    why = "the sending side is closed";
  } else if (call->write_f) {
    code = CRPC_STATUS_FAILED_PRECONDITION;
    why = "another write is pending";
  } else if (crpc__outq_push(&call->out, &b) != 0) {
    code = CRPC_STATUS_RESOURCE_EXHAUSTED;
    why = "out of memory";
  }
  crpc__outq_give_spare(&call->out, &b);
  int wait = 0;
  if (code == CRPC_STATUS_OK) {
    call->msgs_out++;
    call->bytes_out += wire;
    crpc__client_call_kick_locked(call);
    if (crpc__outq_len(&call->out) > CRPC__OUT_HIGH_WATER) {
      call->write_f = crpc_future_ref(f);
      wait = 1;
    }
  }
  uv_mutex_unlock(&call->mu);
  crpc__buf_cleanup(&b);
  if (code == CRPC_STATUS_OK && call->ic)
    crpc__icall_message(call->ic, 1, msg, wire);
  if (!wait)
    crpc_future_complete(f, code, why, NULL, NULL);
  return f;
}

crpc_status crpc_call_write(crpc_call *call, const ProtobufCMessage *msg) {
  crpc_future *f = crpc_call_write_async(call, msg);
  if (!f)
    return CRPC_STATUS_RESOURCE_EXHAUSTED;
  crpc_status st = wait_status(f);
  crpc_future_unref(f);
  return st;
}

crpc_future *crpc_call_close_send_async(crpc_call *handle) {
  crpc__client_call *call = (crpc__client_call *)handle;
  uv_mutex_lock(&call->mu);
  if (!call->done && !call->send_closed) {
    call->send_closed = 1;
    crpc__client_call_kick_locked(call);
  }
  uv_mutex_unlock(&call->mu);
  return done_future(CRPC_STATUS_OK, NULL);
}

crpc_status crpc_call_close_send(crpc_call *call) {
  crpc_future *f = crpc_call_close_send_async(call);
  if (!f)
    return CRPC_STATUS_RESOURCE_EXHAUSTED;
  crpc_future_unref(f);
  return CRPC_STATUS_OK;
}

/* Finishing. */

crpc_status crpc_call_result(crpc_future *f, ProtobufCMessage **reply) {
  if (reply)
    *reply = NULL;
  crpc_status st = wait_status(f);
  if (crpc__future_value_free(f) != crpc__client_result_free)
    return st;
  crpc__client_result *r = crpc_future_value(f);
  if (reply) {
    *reply = r->reply;
    r->reply = NULL;
  }
  return st;
}

crpc__client_result *crpc__client_result_of(crpc_future *f) {
  if (!f || crpc__future_value_free(f) != crpc__client_result_free)
    return NULL;
  return crpc_future_value(f);
}

const crpc_status_info *crpc_call_status_info(crpc_future *f) {
  crpc__client_result *r = crpc__client_result_of(f);
  return r ? &r->status : NULL;
}

const crpc_metadata *crpc_call_headers(crpc_future *f) {
  crpc__client_result *r = crpc__client_result_of(f);
  return r ? &r->headers : NULL;
}

const crpc_metadata *crpc_call_trailers(crpc_future *f) {
  crpc__client_result *r = crpc__client_result_of(f);
  return r ? &r->trailers : NULL;
}

int crpc_call_reply_compressed(crpc_future *f) {
  crpc__client_result *r = crpc__client_result_of(f);
  return r ? r->reply_compressed : -1;
}

crpc_future *crpc_call_finish_async(crpc_call *handle) {
  crpc__client_call *call = (crpc__client_call *)handle;
  crpc_future_unref(crpc_call_close_send_async(handle));
  return crpc_future_ref(call->done_f);
}

crpc_status crpc_call_finish(crpc_call *call, ProtobufCMessage **reply) {
  crpc_future *f = crpc_call_finish_async(call);
  crpc_status st = crpc_call_result(f, reply);
  crpc_future_unref(f);
  return st;
}

void crpc_call_cancel(crpc_call *call) {
  crpc__client_call_cancel((crpc__client_call *)call, CRPC_STATUS_CANCELLED);
}

const crpc_metadata *crpc_call_response_headers(crpc_call *handle) {
  crpc__client_call *call = (crpc__client_call *)handle;
  uv_mutex_lock(&call->mu);
  const crpc_metadata *md = call->headers_ready ? &call->resp_headers : NULL;
  uv_mutex_unlock(&call->mu);
  return md;
}

const crpc_metadata *crpc_call_response_trailers(crpc_call *handle) {
  return crpc_call_trailers(((crpc__client_call *)handle)->done_f);
}

const crpc_status_info *crpc_call_final_status(crpc_call *handle) {
  return crpc_call_status_info(((crpc__client_call *)handle)->done_f);
}

void crpc_call_free(crpc_call *handle) {
  crpc__client_call *call = (crpc__client_call *)handle;
  if (!call)
    return;
  crpc__client_call_cancel(call, CRPC_STATUS_CANCELLED);
  crpc_future_unref(call->done_f); /* the handle's */
  crpc__client_call_unref(call);
}
