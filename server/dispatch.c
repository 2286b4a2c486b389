/*
 * server/dispatch.c: running a call's handler where its method is placed:
 * a coroutine on the loop, or a job on the worker pool within the
 * connection's share of the workers (calls beyond it wait, in order). A
 * handler about to start while its connection holds more unsent output
 * than max_send_buffer_bytes is parked instead, until that output drains.
 * The handler runs inside a call scope, so that the calls it makes inherit
 * its deadline and cancellation; its status and single reply are encoded
 * on its own thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call_scope.h"
#include "coro_internal.h"
#include "crpc/coro.h"
#include "crpc/deadline.h"
#include "crpc/error.h"
#include "log_internal.h"
#include "method_internal.h"
#include "msgcheck.h"
#include "server_internal.h"

crpc_status crpc__server_call_encode_status(crpc__server_call *call,
                                            const ProtobufCMessage *msg, int rc,
                                            const char **text) {
  char why[256];
  switch (rc) {
  case CRPC_ETOOBIG:
    *text = "response message larger than the limit";
    return CRPC_STATUS_RESOURCE_EXHAUSTED;
  case CRPC_EPACK:
    crpc__msgcheck(msg, why, sizeof(why));
    crpc__log(&call->sl->srv->opts.logger, CRPC_LOG_WARN,
              "%s: the handler's response message cannot be encoded: %s; the "
              "client gets INTERNAL",
              call->req.path, why);
    *text = "the server could not encode its response message";
    return CRPC_STATUS_INTERNAL;
  case CRPC_ENOMEM:
    *text = "out of memory";
    return CRPC_STATUS_RESOURCE_EXHAUSTED;
  default:
    *text = "cannot encode the response";
    return CRPC_STATUS_INTERNAL;
  }
}

/* A handler returned |st|, which is no gRPC status (-1, a CRPC_E* code):
 * says so at warning level, naming the method, and writes the client's
 * message into |text|. The call ends UNKNOWN, as gRPC ends a call whose
 * handler failed in a way it cannot name. */
static const char *not_a_status(crpc__server_call *call, int st, char *text,
                                size_t len) {
  const char *name = crpc_err_name(st);
  int ours = strncmp(name, "CRPC_", 5) == 0;
  snprintf(text, len,
           "the handler returned %d%s%s%s, which is not a gRPC "
           "status code",
           st, ours ? " (" : "", ours ? name : "", ours ? ")" : "");
  crpc__log(&call->sl->srv->opts.logger, CRPC_LOG_WARN,
            "%s: %s; the client gets UNKNOWN", call->req.path, text);
  return text;
}

/* Sets up what the interceptors and the trace context of |call| need, in
 * its arena: the icall when its service has interceptors, and the trace
 * context when the request named a trace (a span of the server's own is
 * drawn for it). Returns 0 or CRPC_ENOMEM. Loop thread. */
static int prepare_icall(crpc__server_call *call) {
  const crpc__route *r = call->route;
  const crpc__ichain *chain = &r->svc->chain;
  crpc_trace_context *tc = NULL;
  if (chain->n) {
    crpc_icall *ic = crpc__arena_alloc(&call->arena, sizeof(*ic));
    unsigned char *state =
        chain->state_bytes ? crpc__arena_alloc(&call->arena, chain->state_bytes)
                           : NULL;
    if (!ic || (chain->state_bytes && !state))
      return CRPC_ENOMEM;
    memset(ic, 0, sizeof(*ic));
    if (state)
      memset(state, 0, chain->state_bytes);
    ic->side = CRPC_SIDE_SERVER;
    ic->method = r->method;
    ic->peer = call->peer;
    ic->deadline = call->deadline;
    ic->placement = r->placement;
    ic->md = &call->req.md;
    ic->ctx = &call->ctx;
    ic->chain = chain;
    ic->state = state;
    if (crpc__icall_init(ic) != 0)
      return CRPC_ENOMEM;
    call->ic = ic;
    tc = &ic->trace;
  }
  const crpc_metadata *md = &call->req.md;
  if (!call->req.traceparent)
    return 0;
  ptrdiff_t i = crpc_metadata_find(md, "traceparent", 0);
  if (i < 0)
    return 0;
  if (!tc && !(tc = crpc__arena_alloc(&call->arena, sizeof(*tc))))
    return CRPC_ENOMEM;
  const crpc_metadata_entry *e = &md->entries[i];
  if (crpc_trace_parse((const char *)e->value, e->value_len, tc) != 0)
    return 0; /* not a trace: left invalid, as if absent */
  crpc_trace_new_span(tc, 0);
  const crpc_metadata_entry *ts = crpc_metadata_get(md, "tracestate");
  if (ts && ts->value_len <= CRPC_TRACESTATE_MAX)
    memcpy(tc->tracestate, ts->value, ts->value_len + 1);
  call->trace = tc;
  return 0;
}

/* Runs on the handler's thread: the interceptors' start, the handler,
 * then the reply's encoding. */
static void run_handler(crpc__server_call *call) {
  const crpc__route *r = call->route;
  const crpc_method *m = r->method;
  crpc_server_stream *stream =
      m->kind == CRPC_METHOD_UNARY ? NULL : (crpc_server_stream *)call;
  crpc_status st = CRPC_STATUS_CANCELLED;
  char text[160];
  const char *msg = NULL;
  atomic_store(&call->handler_started, 1);
  if (!atomic_load(&call->cancelled) && call->ic) {
    st = crpc__icall_start(call->ic, &call->sl->srv->opts.logger, &msg);
    /* A trace an interceptor started is carried on like a received one. */
    if (st == CRPC_STATUS_OK && call->ic->trace.valid)
      call->trace = &call->ic->trace;
  }
  if (!atomic_load(&call->cancelled) && !msg) {
    /* Calls the handler makes inherit its deadline, cancellation and
     * trace. */
    crpc__call_scope scope = {call->deadline, call->cancel_f, call->trace};
    const crpc__call_scope *outer = crpc__call_scope_enter(&scope);
    st = m->invoke(r->svc->handlers, &call->ctx, call->request, call->reply,
                   stream);
    crpc__call_scope_enter(outer);
  }
  if ((int)st < 0 || (int)st > 16) {
    msg = not_a_status(call, (int)st, text, sizeof(text));
    st = CRPC_STATUS_UNKNOWN;
  }
  crpc__arena_cleanup(&call->read_arena); /* the last message read */
  int encoded = 0, rc = 0;
  crpc__buf b;
  crpc__buf_init(&b, SIZE_MAX);
  if (st == CRPC_STATUS_OK && crpc__method_single_reply(m) &&
      !atomic_load(&call->cancelled)) {
    /* Encoded outside the lock, into the memory the call keeps for its
     * output (a pooled call's, or none): the loop sees no output until it
     * is whole. */
    crpc__server_call_lock(call);
    b = crpc__outq_take_spare(&call->out);
    crpc__server_call_unlock(call);
    rc = crpc__frame_encode_compressed(&b, call->reply,
                                       crpc__server_call_message_encoding(call),
                                       call->sl->srv->opts.max_send_bytes);
    if (rc != 0) {
      crpc__buf_reset(&b);
      st = crpc__server_call_encode_status(call, call->reply, rc, &msg);
    }
    encoded = 1;
  }
  crpc__server_call_lock(call);
  if (encoded) {
    if (rc == 0 && crpc__server_call_queue_locked(call, &b) != 0) {
      rc = CRPC_ENOMEM;
      st = CRPC_STATUS_RESOURCE_EXHAUSTED;
      msg = "out of memory";
    }
    if (rc == 0) {
      call->headers_frozen = 1;
      call->msgs_out++;
    }
    crpc__outq_give_spare(&call->out, &b); /* a failed encoding's memory */
  }
  crpc__buf_cleanup(&b);
  crpc__server_call_set_status_locked(call, st, msg);
  crpc__server_call_unlock(call);
}

void crpc__server_call_report_end(crpc__server_call *call) {
  crpc_icall *ic = call->ic;
  if (!ic || call->ended || !call->handler_done || !call->stream_closed)
    return;
  call->ended = 1;
  crpc_icall_end e = {0};
  int cancelled = atomic_load(&call->cancelled);
  crpc__server_call_lock(call);
  /* The end the client saw: the handler's status once the trailers went
   * out, else the cancellation that cut the call short. */
  if (call->status_set && (call->trailers_submitted || !cancelled)) {
    e.code = call->final_status;
    e.message =
        call->final_message ? call->final_message : call->status_message;
    if (e.code == CRPC_STATUS_OK)
      e.message = NULL;
  } else {
    e.code = cancelled ? (crpc_status)cancelled : CRPC_STATUS_CANCELLED;
  }
  e.messages_sent = call->msgs_out;
  e.bytes_sent = call->bytes_out;
  crpc__server_call_unlock(call);
  e.messages_received = call->n_received;
  e.bytes_received = call->bytes_in;
  e.duration_ns = crpc_now_ns() - call->start_ns;
  crpc__icall_end(ic, &e);
}

/* The handler has returned. Loop thread. */
static void handler_returned(crpc__server_call *call) {
  crpc__sloop *sl = call->sl;
  call->state = CRPC__SERVER_CALL_DONE;
  call->handler_done = 1;
  crpc__server_call_report_end(call);
  crpc__server_call_kick(call);
  crpc__server_call_unref(call);
  sl->n_handlers--;
  crpc__sloop_check_drained(sl);
}

/* Whether |call|'s connection holds more output its client has not taken
 * than the server allows, so that its handler should not start yet (it
 * would add more). Thread: any. */
static int must_park(crpc__server_call *call) {
  return atomic_load_explicit(&call->conn->out_bytes, memory_order_relaxed) >
         call->sl->srv->opts.max_send_buffer_bytes;
}

/* Sets |call| aside, its handler not started, until its connection's
 * output drains (crpc__server_conn_unpark). Loop thread. */
static void park(crpc__server_call *call) {
  crpc__server_conn *c = call->conn;
  call->parked = 1;
  call->next_held = NULL;
  if (c->parked_tail)
    c->parked_tail->next_held = call;
  else
    c->parked_head = call;
  c->parked_tail = call;
  atomic_fetch_add(&call->sl->srv->parked_calls, 1);
  crpc__log(&call->sl->srv->opts.logger, CRPC_LOG_DEBUG,
            "%s: %s waits to start: %zu bytes of output not taken", call->peer,
            call->req.path, atomic_load(&c->out_bytes));
}

static crpc_status coro_main(void *arg) {
  crpc__server_call *call = arg;
  if (must_park(call)) {
    park(call);
    return CRPC_STATUS_OK;
  }
  crpc__coro_set_label(call->route->path); /* for the watchdog */
  run_handler(call);
  handler_returned(call);
  return CRPC_STATUS_OK;
}

static void job_work(crpc__job *job) {
  crpc__server_call *call =
      (crpc__server_call *)((char *)job - offsetof(crpc__server_call, job));
  /* Parked by job_done(), on the loop, which the pool hands it to. */
  if (must_park(call))
    call->park_asked = 1;
  else
    run_handler(call);
}

static int submit_job(crpc__server_call *call);

/* Fails a call whose handler could not be started (|rc|). Loop thread. */
static void start_failed(crpc__server_call *call, int rc) {
  atomic_fetch_sub(&call->refs, 1);
  call->sl->n_handlers--;
  call->state = CRPC__SERVER_CALL_DONE;
  crpc__server_count_rejected(
      call->sl->srv, rc == CRPC_EQUEUEFULL ? CRPC__REJECT_WORKER_QUEUE_FULL
                     : rc == CRPC_ECLOSED  ? CRPC__REJECT_SHUTTING_DOWN
                                           : CRPC__REJECT_OUT_OF_MEMORY);
  if (rc == CRPC_EQUEUEFULL)
    crpc__server_call_abort(call, CRPC_STATUS_RESOURCE_EXHAUSTED,
                            "server busy: the worker queue is full");
  else
    crpc__server_call_abort(call, CRPC_STATUS_UNAVAILABLE, crpc_strerror(rc));
}

/* A worker call of |c| ended: the next one held back for the connection's
 * share goes to the pool. Loop thread. */
static void release_held(crpc__server_conn *c) {
  c->worker_calls--;
  while (c->held_head &&
         c->worker_calls < c->sl->srv->opts.max_worker_calls_per_connection) {
    crpc__server_call *call = c->held_head;
    c->held_head = call->next_held;
    if (!c->held_head)
      c->held_tail = NULL;
    call->next_held = NULL;
    int rc = submit_job(call);
    if (rc != 0)
      start_failed(call, rc);
  }
}

static void job_done(crpc__job *job, int status) {
  crpc__server_call *call =
      (crpc__server_call *)((char *)job - offsetof(crpc__server_call, job));
  if (status != 0) {
    crpc__server_count_rejected(call->sl->srv, CRPC__REJECT_SHUTTING_DOWN);
    crpc__server_call_set_status(call, CRPC_STATUS_UNAVAILABLE,
                                 "server shutting down");
  }
  release_held(call->conn);
  if (status == 0 && call->park_asked) {
    call->park_asked = 0;
    park(call);
    return;
  }
  handler_returned(call);
}

/* Queues the handler on the worker pool, counted in its connection's
 * share. Loop thread. */
static int submit_job(crpc__server_call *call) {
  call->shared = 1; /* the pool's lock publishes it to the worker */
  call->job.work = job_work;
  call->job.done = job_done;
  int rc = crpc__pool_submit(call->sl->srv->pool, call->sl->loop, &call->job);
  if (rc == 0)
    call->conn->worker_calls++;
  return rc;
}

crpc_status crpc__server_call_unpack_status(int rc, const char **msg) {
  switch (rc) {
  case CRPC_ETOOBIG:
    *msg = "request message larger than the limit once decompressed";
    return CRPC_STATUS_RESOURCE_EXHAUSTED;
  case CRPC_EPROTO:
    *msg = "compressed message without grpc-encoding";
    return CRPC_STATUS_INTERNAL;
  case CRPC_EDECOMPRESS:
    *msg = "cannot decompress the request message";
    return CRPC_STATUS_INTERNAL;
  case CRPC_ENOMEM:
    *msg = "out of memory";
    return CRPC_STATUS_RESOURCE_EXHAUSTED;
  default:
    *msg = "cannot parse the request message";
    return CRPC_STATUS_INTERNAL;
  }
}

static void start_handler(crpc__server_call *call);

void crpc__server_call_dispatch(crpc__server_call *call) {
  CRPC__ASSERT_LOOP_THREAD(call->sl->loop);
  const crpc__route *r = call->route;
  const crpc_method *m = r->method;
  call->state = CRPC__SERVER_CALL_RUNNING;
  if (crpc__method_single_reply(m)) {
    call->reply = crpc__arena_alloc(&call->arena, m->output->sizeof_message);
    if (!call->reply) {
      crpc__server_count_rejected(call->sl->srv, CRPC__REJECT_OUT_OF_MEMORY);
      crpc__server_call_abort(call, CRPC_STATUS_RESOURCE_EXHAUSTED,
                              "out of memory");
      call->state = CRPC__SERVER_CALL_DONE;
      return;
    }
    protobuf_c_message_init(m->output, call->reply);
  }
  if ((r->svc->chain.n || call->req.md.count) && prepare_icall(call) != 0) {
    crpc__server_count_rejected(call->sl->srv, CRPC__REJECT_OUT_OF_MEMORY);
    crpc__server_call_abort(call, CRPC_STATUS_RESOURCE_EXHAUSTED,
                            "out of memory");
    call->state = CRPC__SERVER_CALL_DONE;
    return;
  }
  if (!call->cancel_f &&
      crpc_future_new(call->sl->loop, &call->cancel_f) != 0) {
    crpc__server_count_rejected(call->sl->srv, CRPC__REJECT_OUT_OF_MEMORY);
    crpc__server_call_abort(call, CRPC_STATUS_RESOURCE_EXHAUSTED,
                            "out of memory");
    call->state = CRPC__SERVER_CALL_DONE;
    return;
  }
  crpc__server_call_ref(call); /* the handler's */
  call->sl->n_handlers++;
  start_handler(call);
}

/* Starts the handler of |call| (its reference taken) where its method is
 * placed, or holds it for its connection's share of the workers. Loop
 * thread. */
static void start_handler(crpc__server_call *call) {
  crpc_server *srv = call->sl->srv;
  crpc__server_conn *c = call->conn;
  int rc;
  if (call->route->placement == CRPC_PLACEMENT_LOOP) {
    rc = crpc_coro_spawn(call->sl->loop, coro_main, call, NULL);
  } else if (c->worker_calls >= srv->opts.max_worker_calls_per_connection) {
    /* The connection holds its share of the workers: this call waits for
     * one of them to end (release_held). */
    atomic_fetch_add(&srv->held_calls, 1);
    if (c->held_tail)
      c->held_tail->next_held = call;
    else
      c->held_head = call;
    c->held_tail = call;
    return;
  } else {
    rc = submit_job(call);
  }
  if (rc != 0)
    start_failed(call, rc);
}

void crpc__server_conn_unpark(crpc__server_conn *c) {
  CRPC__ASSERT_LOOP_THREAD(c->sl->loop);
  size_t low = c->sl->srv->opts.max_send_buffer_bytes / 2;
  while (c->parked_head) {
    crpc__server_call *call = c->parked_head;
    int cancelled = atomic_load(&call->cancelled) != 0;
    if (!cancelled && atomic_load(&c->out_bytes) > low)
      return;
    c->parked_head = call->next_held;
    if (!c->parked_head)
      c->parked_tail = NULL;
    call->next_held = NULL;
    call->parked = 0;
    if (cancelled)
      handler_returned(call); /* it never ran; its status is set */
    else
      start_handler(call);
  }
}

void crpc__server_call_drop_parked(crpc__server_call *call) {
  crpc__server_conn *c = call->conn;
  crpc__server_call **p = &c->parked_head, *prev = NULL;
  while (*p && *p != call) {
    prev = *p;
    p = &(*p)->next_held;
  }
  if (*p) {
    *p = call->next_held;
    if (c->parked_tail == call)
      c->parked_tail = prev;
  }
  call->next_held = NULL;
  call->parked = 0;
  handler_returned(call);
}
