/*
 * server/call_pool.c: the calls a loop keeps for reuse, and a call's
 * references: its last unref releases what it holds and, while the pool
 * has room, keeps the memory every call needs for the next one. Loop
 * thread.
 */
#include <stdlib.h>
#include <string.h>

#include "future_internal.h"
#include "server_internal.h"

/* Finished calls a loop keeps for reuse. A reused call keeps the memory
 * that every call needs (the call itself, its arena's first block, its
 * output buffer, its metadata arrays), so a unary call does not allocate
 * those again. The sweep gives back what the last period's peak did not
 * use (crpc__server_call_pool_trim). */
#define CALL_POOL_MAX 4096
/* A pooled call also keeps its output buffer and its arena's largest
 * block (crpc__arena_keep()), each up to the largest message the server
 * sends or receives and CALL_POOL_KEEP_SLACK more (a reply's framing, an
 * unpacked request's structures), while what the pool keeps so comes to
 * at most the server's message_cache_bytes. Large messages need it: glibc
 * gives the top of a thread's heap back (MADV_DONTNEED) once more than
 * 128 KiB of it is free, so freeing a message's memory with every call had
 * a loop fault megabytes in again and again. 64 KiB unary calls, 128 at
 * once, ran at 2-17k calls/s from one run to the next, with 20-35 page
 * faults per call in the slow runs; 1 MiB ones 0.46-1.54k (median 1.15k)
 * while the pool kept at most 1 MiB a call (less than a 1 MiB reply and
 * its framing) and 32 MiB in all, 0.93-1.52k (median 1.34k) now. */
#define CALL_POOL_KEEP_SLACK ((size_t)64 << 10)

/* What the pool may still keep for one call, within both limits. */
static size_t large_room(const crpc__sloop *sl) {
  const crpc_server_opts *o = &sl->srv->opts;
  size_t left = o->message_cache_bytes > sl->free_bytes
                    ? o->message_cache_bytes - sl->free_bytes
                    : 0;
  size_t one = o->max_send_bytes > o->max_receive_bytes ? o->max_send_bytes
                                                        : o->max_receive_bytes;
  one = one > SIZE_MAX - CALL_POOL_KEEP_SLACK ? SIZE_MAX
                                              : one + CALL_POOL_KEEP_SLACK;
  return left < one ? left : one;
}

/* Frees everything of |call| but the call itself and, when |keep| asks,
 * what a pooled call keeps (its output buffer only within the limits
 * above). Returns |keep|. */
static int call_release(crpc__server_call *call, int keep) {
  crpc__sloop *sl = call->sl;
  /* Output the client never took leaves its connection's count; the
   * largest output buffer stays for the next call, within the limits. A
   * reply handed to the socket came back as the spare. */
  size_t kept_out =
      crpc__server_call_drop_output(call, keep ? large_room(sl) : 0);
  if (call->ic)
    crpc__icall_cleanup(call->ic); /* the rest is in the arena */
  crpc_metadata_clear(&call->req.md);
  crpc_metadata_clear(&call->resp_headers);
  crpc_metadata_clear(&call->resp_trailers);
  /* The request's memory goes back to the loop's cache, for the next. */
  size_t dec_cap;
  uint8_t *dec_mem = crpc__frame_decoder_release(&call->dec, &dec_cap);
  crpc__msg_cache_put_mem(sl->msgs, dec_mem, dec_cap);
  crpc__frame_decoder_cleanup(&call->dec);
  crpc__arena_cleanup(&call->read_arena);
  crpc__buf_cleanup(&call->scratch);
  if (keep) {
    sl->free_bytes += kept_out;
    call->pooled_bytes = kept_out;
    size_t kept = crpc__arena_keep(&call->arena, large_room(sl));
    sl->free_bytes += kept;
    call->pooled_bytes += kept;
  }
  if (!keep) {
    crpc_metadata_cleanup(&call->req.md);
    crpc_metadata_cleanup(&call->resp_headers);
    crpc_metadata_cleanup(&call->resp_trailers);
    crpc__outq_cleanup(&call->out);
    crpc__arena_cleanup(&call->arena);
  }
  for (crpc__cmsg *m = call->in_head, *n; m; m = n) {
    n = m->next;
    crpc__msg_cache_put(sl->msgs, m);
  }
  free(call->status_message);
  free(call->status_details);
  free(call->final_message);
  /* A pooled call keeps its cancellation future, pending again, when no
   * one else holds it. */
  if (call->cancel_f && !(keep && crpc__future_renew(call->cancel_f))) {
    if (!keep)
      crpc_future_unref(call->cancel_f);
    call->cancel_f = NULL;
  }
  if (call->read_wait)
    crpc_future_unref(call->read_wait);
  if (call->write_wait)
    crpc_future_unref(call->write_wait);
  uv_mutex_destroy(&call->mu);
  return keep;
}

/* Reference counting. Every unref runs on the loop thread. */

static void call_free(crpc__server_call *call) {
  crpc__sloop *sl = call->sl;
  crpc__server_conn *c = call->conn;
  int keep = call_release(call, sl->n_free_calls < CALL_POOL_MAX &&
                                    !sl->shutting_down);
  sl->calls_live--;
  if (keep) {
    call->next_in_conn = sl->free_calls;
    sl->free_calls = call;
    sl->n_free_calls++;
    CRPC__POOL_POISON(call, sizeof(*call));
  } else {
    free(call);
  }
  crpc__server_conn_unref(c);
}

size_t crpc__server_call_pool_trim(crpc__sloop *sl, int all) {
  size_t want = all ? 0 : sl->calls_peak - sl->calls_live;
  size_t n = 0;
  for (; sl->n_free_calls > want; n++) {
    crpc__server_call *call = sl->free_calls;
    CRPC__POOL_UNPOISON(call, sizeof(*call));
    sl->free_calls = call->next_in_conn;
    sl->n_free_calls--;
    sl->free_bytes -= call->pooled_bytes;
    crpc_metadata_cleanup(&call->req.md);
    crpc_metadata_cleanup(&call->resp_headers);
    crpc_metadata_cleanup(&call->resp_trailers);
    crpc__outq_cleanup(&call->out);
    crpc__arena_cleanup(&call->arena);
    crpc_future_unref(call->cancel_f);
    free(call);
  }
  sl->calls_peak = sl->calls_live;
  return n;
}

void crpc__server_call_unref(crpc__server_call *call) {
  if (atomic_fetch_sub(&call->refs, 1) == 1)
    call_free(call);
}

void crpc__server_call_ref(crpc__server_call *call) {
  atomic_fetch_add(&call->refs, 1);
}

/* A zeroed call, from the loop's pool when it has one (|*reused| is then
 * 1): with the memory the pool kept, its arena, output buffer and
 * metadata initialised and empty, and its cancellation future if it kept
 * one, pending. */
crpc__server_call *crpc__server_call_take(crpc__sloop *sl, int *reused) {
  crpc__server_call *call = sl->free_calls;
  *reused = call != NULL;
  if (call == NULL)
    return calloc(1, sizeof(*call));
  CRPC__POOL_UNPOISON(call, sizeof(*call));
  sl->free_calls = call->next_in_conn;
  sl->n_free_calls--;
  sl->free_bytes -= call->pooled_bytes;
  crpc__arena arena = call->arena;
  crpc__outq out = call->out;
  crpc_future *cancel_f = call->cancel_f;
  crpc_metadata md[3] = {call->req.md, call->resp_headers, call->resp_trailers};
  memset(call, 0, sizeof(*call));
  call->arena = arena;
  call->out = out;
  call->cancel_f = cancel_f;
  crpc__grpc_request_init(&call->req, &call->arena);
  call->req.md = md[0];
  call->resp_headers = md[1];
  call->resp_trailers = md[2];
  return call;
}
