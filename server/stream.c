/*
 * server/stream.c: a streaming handler's reads and writes. The same code
 * serves both placements: a wait is crpc_await(), which suspends a
 * coroutine on the loop and blocks a worker thread.
 */
#include <stdlib.h>
#include <string.h>

#include "crpc/coro.h"
#include "crpc/ctx.h"
#include "crpc/error.h"
#include "server_internal.h"

/* Waits for |f| and drops it. */
static void wait_and_drop(crpc_future *f) {
  crpc_await(f);
  crpc_future_unref(f);
}

crpc_status crpc_server_stream_read(crpc_server_stream *s,
                                    ProtobufCMessage **msg) {
  crpc__server_call *call = (crpc__server_call *)s;
  *msg = NULL;
  /* The last message's memory is the next one's: a large message's own
   * block stays, warm, rather than going back to malloc. */
  crpc__arena_keep(&call->read_arena, SIZE_MAX);
  for (;;) {
    crpc__server_call_lock(call);
    int cancelled = atomic_load(&call->cancelled);
    crpc__cmsg *m = cancelled ? NULL : call->in_head;
    if (m) {
      call->in_head = m->next;
      if (!call->in_head)
        call->in_tail = NULL;
      call->in_bytes -= m->len;
    }
    int eof = !m && !cancelled && call->remote_closed && !call->in_head;
    crpc_future *f = NULL;
    if (!m && !cancelled && !eof) {
      if (crpc_future_new(NULL, &f) != 0) {
        crpc__server_call_unlock(call);
        return CRPC_STATUS_RESOURCE_EXHAUSTED;
      }
      call->read_wait = crpc_future_ref(f);
      call->wait_since_ns = crpc_now_ns();
    }
    crpc__server_call_unlock(call);
    if (cancelled)
      return (crpc_status)cancelled;
    if (eof)
      return CRPC_STATUS_OK;
    if (f) {
      wait_and_drop(f);
      continue;
    }
    /* Room in the queue may reopen the window. */
    crpc__server_call_kick(call);
    crpc__frame_msg fm = {
        .compressed = m->compressed, .data = m->data, .len = m->len};
    size_t wire = m->wire;
    ProtobufCMessage *out = NULL;
    const crpc_server_opts *o = &call->sl->srv->opts;
    int rc = crpc__frame_unpack(&fm, call->req.enc, o->max_receive_bytes,
                                &call->scratch, call->route->method->input,
                                &call->read_alloc, &out);
    crpc__msg_cache_put(call->sl->msgs, m); /* for a later message */
    if (rc != 0) {
      /* The call cannot go on: it ends with that status. */
      const char *text;
      crpc_status st = crpc__server_call_unpack_status(rc, &text);
      crpc__server_call_end(call, st, text);
      return st;
    }
    call->req_compressed = fm.compressed;
    *msg = out;
    if (call->ic)
      crpc__icall_message(call->ic, 0, out, wire);
    return CRPC_STATUS_OK;
  }
}

crpc_status crpc_server_stream_write(crpc_server_stream *s,
                                     const ProtobufCMessage *msg) {
  crpc__server_call *call = (crpc__server_call *)s;
  int cancelled = atomic_load(&call->cancelled);
  if (cancelled)
    return (crpc_status)cancelled;
  /* Serialize outside the lock, so the loop keeps sending meanwhile, into
   * the memory the last message left. */
  crpc__server_call_lock(call);
  crpc__buf b = crpc__outq_take_spare(&call->out);
  crpc__server_call_unlock(call);
  int rc = crpc__frame_encode_compressed(
      &b, msg, crpc__server_call_message_encoding(call),
      call->sl->srv->opts.max_send_bytes);
  if (rc != 0) {
    const char *text;
    crpc__buf_cleanup(&b);
    return crpc__server_call_encode_status(call, msg, rc, &text);
  }
  crpc__server_call_lock(call);
  call->headers_frozen = 1;
  size_t added = crpc__buf_len(&b);
  if (crpc__server_call_queue_locked(call, &b) != 0)
    rc = CRPC_ENOMEM;
  else
    call->msgs_out++;
  crpc__outq_give_spare(&call->out, &b);
  crpc__server_call_unlock(call);
  crpc__buf_cleanup(&b);
  if (rc != 0)
    return CRPC_STATUS_RESOURCE_EXHAUSTED;
  if (call->ic)
    crpc__icall_message(call->ic, 1, msg, added);
  crpc__server_call_kick(call);
  /* Backpressure: wait while the client is not taking what was sent. */
  for (;;) {
    crpc__server_call_lock(call);
    cancelled = atomic_load(&call->cancelled);
    crpc_future *f = NULL;
    if (!cancelled && crpc__outq_len(&call->out) > CRPC__OUT_HIGH_WATER &&
        crpc_future_new(NULL, &f) == 0) {
      call->write_wait = crpc_future_ref(f);
      call->wait_since_ns = crpc_now_ns();
    }
    crpc__server_call_unlock(call);
    if (cancelled)
      return (crpc_status)cancelled;
    if (!f)
      return CRPC_STATUS_OK;
    wait_and_drop(f);
  }
}
