/*
 * client/retry.c: another attempt for a call that ended UNAVAILABLE before
 * anything of its response reached the caller: transparently once when
 * the server never saw the stream (REFUSED_STREAM, GOAWAY), else under
 * the call's retry policy (max_attempts, exponential backoff with jitter).
 * Loop thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"
#include "crpc/error.h"
#include "backoff.h"
#include "log_internal.h"
#include "method_internal.h"

/* Attempts a call makes at most, whatever its options ask. */
#define MAX_ATTEMPTS_CAP 5

/* Forgets what the last attempt received, for another one. */
static void reset_attempt(crpc__client_call *call) {
  crpc__frame_decoder_reset(&call->dec);
  crpc__grpc_response_reset(&call->resp);
  call->n_received = 0;
  crpc__msg_cache_put(call->msgs, call->reply_msg);
  call->reply_msg = NULL;
  call->req_off = 0;
  call->pulled = 0;
  call->deferred = 0;
}

void crpc__client_call_retry(crpc__client_call *call) {
  call->retry_waiting = 0;
  call->attempt++;
  reset_attempt(call);
  if (crpc__client_call_arm_timer(call, -1) != 0)
    return;
  crpc__channel_dispatch(call->ch, call);
}

/* Whether another attempt may be made: nothing of the response has
 * reached the caller, and the request can be sent again. */
static int can_retry(crpc__client_call *call) {
  if (call->resp.saw_headers && !call->resp.trailers_only)
    return 0; /* response headers commit the call */
  if (!crpc__method_single_request(call->method) && call->pulled > 0)
    return 0;
  uv_mutex_lock(&call->mu);
  int ok = !call->delivered && !call->headers_ready;
  uv_mutex_unlock(&call->mu);
  return ok && !atomic_load(&call->cancel_code);
}

/* The attempt ended UNAVAILABLE: retry under the policy, or end. */
void crpc__client_call_unavailable(crpc__client_call *call, const char *why) {
  CRPC__ASSERT_LOOP_THREAD(call->ch->loop);
  unsigned max = call->max_attempts;
  if (max > MAX_ATTEMPTS_CAP)
    max = MAX_ATTEMPTS_CAP;
  if (call->attempt >= max || !crpc__method_single_request(call->method) ||
      !can_retry(call)) {
    crpc__client_call_end(call, CRPC_STATUS_UNAVAILABLE, why);
    return;
  }
  uint32_t wait = 0;
  for (unsigned i = 0; i < call->attempt; i++)
    wait = crpc__backoff_step(wait, call->retry_backoff_ms, UINT32_MAX);
  uint64_t ms = crpc__backoff_jitter(wait, call->ch->loop);
  crpc__log(&call->ch->opts.logger, CRPC_LOG_DEBUG,
            "%s: attempt %u: %s; retrying in %llu ms", call->method->path,
            call->attempt, why, (unsigned long long)ms);
  call->retry_waiting = 1;
  (void)crpc__client_call_arm_timer(call, (int64_t)ms); /* else ended */
}

void crpc__client_call_refused(crpc__client_call *call, const char *why) {
  if (call->transparent_retried || !can_retry(call)) {
    crpc__client_call_unavailable(call, why);
    return;
  }
  /* Transparent: the server never saw it; no attempt is counted. */
  call->transparent_retried = 1;
  reset_attempt(call);
  crpc__channel_dispatch(call->ch, call);
}
