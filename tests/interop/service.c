/*
 * tests/interop/service.c: the TestService handlers (service.h).
 *
 * As gRPC's interop servers do: every method echoes the test metadata, a
 * request's response_status becomes the call's status, expect_compressed
 * is checked against how the request really arrived, and responses are
 * compressed as response_compressed or each ResponseParameters' compressed
 * asks (the call's encoding is gzip, individual messages go plain).
 */
#define _POSIX_C_SOURCE 200809L

#include "service.h"

#include <crpc/ctx.h>
#include <crpc/error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char ECHO_INITIAL[] = "x-grpc-test-echo-initial";
static const char ECHO_TRAILING[] = "x-grpc-test-echo-trailing-bin";

void interop_settings_init(interop_settings *s, const char *impl) {
  snprintf(s->server_id, sizeof(s->server_id), "%s-%ld", impl, (long)getpid());
  if (gethostname(s->hostname, sizeof(s->hostname)) != 0)
    snprintf(s->hostname, sizeof(s->hostname), "localhost");
  s->hostname[sizeof(s->hostname) - 1] = '\0';
}

/* Ends the call with |code| and |message|. */
static crpc_status fail(crpc_ctx *ctx, crpc_status code, const char *message) {
  crpc_ctx_set_message(ctx, message);
  return code;
}

/* Sends x-grpc-test-echo-initial back as a header and
 * x-grpc-test-echo-trailing-bin as a trailer. */
static crpc_status echo_metadata(crpc_ctx *ctx) {
  const crpc_metadata *md = crpc_ctx_request_metadata(ctx);
  const crpc_metadata_entry *e = crpc_metadata_get(md, ECHO_INITIAL);
  if (e && crpc_ctx_add_header(ctx, e->key, e->value, e->value_len) != 0)
    return fail(ctx, CRPC_STATUS_INTERNAL, "cannot echo the initial metadata");
  e = crpc_metadata_get(md, ECHO_TRAILING);
  if (e && crpc_ctx_add_trailer(ctx, e->key, e->value, e->value_len) != 0)
    return fail(ctx, CRPC_STATUS_INTERNAL, "cannot echo the trailing metadata");
  return CRPC_STATUS_OK;
}

/* INVALID_ARGUMENT when the request message that was just received did not
 * arrive as |expect| says. */
static crpc_status check_compression(crpc_ctx *ctx,
                                     const Grpc__Testing__BoolValue *expect) {
  if (!expect)
    return CRPC_STATUS_OK;
  int got = crpc_ctx_request_compressed(ctx);
  if (expect->value && !got)
    return fail(ctx, CRPC_STATUS_INVALID_ARGUMENT,
                "expected a compressed request message, got a plain one");
  if (!expect->value && got)
    return fail(ctx, CRPC_STATUS_INVALID_ARGUMENT,
                "expected a plain request message, got a compressed one");
  return CRPC_STATUS_OK;
}

/* The status a request's response_status asks for (OK when it has none);
 * its message goes with it. */
static crpc_status echo_status(crpc_ctx *ctx,
                               const Grpc__Testing__EchoStatus *st) {
  if (!st || st->code == 0)
    return CRPC_STATUS_OK;
  if (st->message && st->message[0] != '\0' &&
      crpc_ctx_set_message(ctx, st->message) != 0)
    return CRPC_STATUS_RESOURCE_EXHAUSTED;
  return (crpc_status)st->code;
}

/* Waits |us| microseconds (rounded up to whole milliseconds) between two
 * responses, or less if the call goes away: suspends a coroutine, blocks a
 * worker. CANCELLED or DEADLINE_EXCEEDED once the call is gone. */
static crpc_status pause_us(crpc_ctx *ctx, int32_t us) {
  crpc_future *gone = crpc_ctx_cancelled(ctx);
  if (crpc_future_wait_for(gone, ((int64_t)us + 999) / 1000) == 0)
    return crpc_future_status(gone);
  return CRPC_STATUS_OK;
}

/* Sends one response per entry of |params|: |size| zeros after
 * |interval_us|, compressed as its |compressed| says. */
static crpc_status send_responses(crpc_ctx *ctx, crpc_server_stream *s,
                                  size_t n,
                                  Grpc__Testing__ResponseParameters **params) {
  for (size_t i = 0; i < n; i++) {
    const Grpc__Testing__ResponseParameters *p = params[i];
    if (p->size < 0 || p->interval_us < 0)
      return fail(ctx, CRPC_STATUS_INVALID_ARGUMENT,
                  "negative response size or interval");
    if (p->interval_us > 0) {
      crpc_status st = pause_us(ctx, p->interval_us);
      if (st != CRPC_STATUS_OK)
        return st;
    }
    if (p->compressed) {
      /* The call's encoding becomes gzip (if the client accepts it and no
       * response has gone out plain yet); this message uses it or not. */
      crpc_ctx_set_compression(ctx, "gzip");
      crpc_ctx_set_message_compression(ctx, p->compressed->value);
    } else {
      crpc_ctx_set_message_compression(ctx, 1);
    }
    uint8_t *body = p->size > 0 ? calloc(1, (size_t)p->size) : NULL;
    if (p->size > 0 && !body)
      return fail(ctx, CRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
    Grpc__Testing__Payload payload = GRPC__TESTING__PAYLOAD__INIT;
    payload.body.len = (size_t)p->size;
    payload.body.data = body;
    Grpc__Testing__StreamingOutputCallResponse r =
        GRPC__TESTING__STREAMING_OUTPUT_CALL_RESPONSE__INIT;
    r.payload = &payload;
    crpc_status st = crpc_server_stream_write(s, &r.base);
    free(body);
    if (st != CRPC_STATUS_OK)
      return st;
  }
  return CRPC_STATUS_OK;
}

static crpc_status empty_call(crpc_ctx *ctx, const Grpc__Testing__Empty *req,
                              Grpc__Testing__Empty *reply) {
  (void)req;
  (void)reply;
  return echo_metadata(ctx);
}

static crpc_status unary_call(crpc_ctx *ctx,
                              const Grpc__Testing__SimpleRequest *req,
                              Grpc__Testing__SimpleResponse *reply) {
  const interop_settings *settings = crpc_ctx_user_data(ctx);
  crpc_status st = echo_metadata(ctx);
  if (st == CRPC_STATUS_OK)
    st = check_compression(ctx, req->expect_compressed);
  if (st == CRPC_STATUS_OK)
    st = echo_status(ctx, req->response_status);
  if (st != CRPC_STATUS_OK)
    return st;
  if (req->response_size < 0)
    return fail(ctx, CRPC_STATUS_INVALID_ARGUMENT, "negative response size");
  if (req->response_compressed && req->response_compressed->value)
    crpc_ctx_set_compression(ctx, "gzip");
  Grpc__Testing__Payload *payload = crpc_ctx_alloc(ctx, sizeof(*payload));
  uint8_t *body = crpc_ctx_alloc(ctx, (size_t)req->response_size + 1);
  if (!payload || !body)
    return fail(ctx, CRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  grpc__testing__payload__init(payload);
  memset(body, 0, (size_t)req->response_size);
  payload->body.len = (size_t)req->response_size;
  payload->body.data = body;
  reply->payload = payload;
  if (req->fill_server_id)
    reply->server_id = crpc_ctx_strdup(ctx, settings->server_id);
  reply->hostname = crpc_ctx_strdup(ctx, settings->hostname);
  return CRPC_STATUS_OK;
}

/* As UnaryCall, with a payload unique to the call (the time) that an HTTP
 * cache in front may serve again, as its cache-control header allows. */
static crpc_status cacheable_unary_call(crpc_ctx *ctx,
                                        const Grpc__Testing__SimpleRequest *req,
                                        Grpc__Testing__SimpleResponse *reply) {
  crpc_status st = unary_call(ctx, req, reply);
  if (st != CRPC_STATUS_OK)
    return st;
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  char *stamp = crpc_ctx_alloc(ctx, 32);
  if (!stamp)
    return fail(ctx, CRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
  int n = snprintf(stamp, 32, "%lld%09ld", (long long)now.tv_sec, now.tv_nsec);
  reply->payload->body.data = (uint8_t *)stamp;
  reply->payload->body.len = (size_t)n;
  static const char cache[] = "max-age=60, public";
  if (crpc_ctx_add_header(ctx, "cache-control", cache, sizeof(cache) - 1) != 0)
    return fail(ctx, CRPC_STATUS_INTERNAL, "cannot add cache-control");
  return CRPC_STATUS_OK;
}

static crpc_status streaming_output_call(
    crpc_ctx *ctx, const Grpc__Testing__StreamingOutputCallRequest *req,
    grpc_testing_test_service_streaming_output_call_sender *out) {
  crpc_status st = echo_metadata(ctx);
  if (st == CRPC_STATUS_OK)
    st = send_responses(ctx, (crpc_server_stream *)out,
                        req->n_response_parameters, req->response_parameters);
  if (st == CRPC_STATUS_OK)
    st = echo_status(ctx, req->response_status);
  return st;
}

static crpc_status streaming_input_call(
    crpc_ctx *ctx, grpc_testing_test_service_streaming_input_call_receiver *in,
    Grpc__Testing__StreamingInputCallResponse *reply) {
  crpc_status st = echo_metadata(ctx);
  int64_t total = 0;
  while (st == CRPC_STATUS_OK) {
    Grpc__Testing__StreamingInputCallRequest *m = NULL;
    st = grpc_testing_test_service_streaming_input_call_recv(in, &m);
    if (st != CRPC_STATUS_OK || !m)
      break;
    st = check_compression(ctx, m->expect_compressed);
    if (m->payload)
      total += (int64_t)m->payload->body.len;
  }
  if (st != CRPC_STATUS_OK)
    return st;
  if (total > INT32_MAX)
    return fail(ctx, CRPC_STATUS_OUT_OF_RANGE, "aggregated size over 2 GiB");
  reply->aggregated_payload_size = (int32_t)total;
  return CRPC_STATUS_OK;
}

/* Answers each request as it comes; a request with a response_status ends
 * the call with it. */
static crpc_status full_duplex_call(
    crpc_ctx *ctx,
    grpc_testing_test_service_full_duplex_call_server_stream *stream) {
  crpc_server_stream *s = (crpc_server_stream *)stream;
  crpc_status st = echo_metadata(ctx);
  while (st == CRPC_STATUS_OK) {
    ProtobufCMessage *m = NULL;
    st = crpc_server_stream_read(s, &m);
    if (st != CRPC_STATUS_OK || !m)
      break;
    const Grpc__Testing__StreamingOutputCallRequest *req =
        (const Grpc__Testing__StreamingOutputCallRequest *)m;
    if (req->response_status)
      return echo_status(ctx, req->response_status);
    st = send_responses(ctx, s, req->n_response_parameters,
                        req->response_parameters);
  }
  return st;
}

/* A request kept until the client half-closes: its bytes, as received
 * messages are only valid until the next read. */
typedef struct kept {
  uint8_t *bytes;
  size_t len;
} kept;

static crpc_status answer_kept(crpc_ctx *ctx, crpc_server_stream *s,
                               const kept *k) {
  Grpc__Testing__StreamingOutputCallRequest *req =
      grpc__testing__streaming_output_call_request__unpack(NULL, k->len,
                                                           k->bytes);
  if (!req)
    return fail(ctx, CRPC_STATUS_INTERNAL, "cannot unpack a kept request");
  crpc_status st = req->response_status
                       ? echo_status(ctx, req->response_status)
                       : send_responses(ctx, s, req->n_response_parameters,
                                        req->response_parameters);
  grpc__testing__streaming_output_call_request__free_unpacked(req, NULL);
  return st;
}

/* Reads every request, then answers them in order. */
static crpc_status half_duplex_call(
    crpc_ctx *ctx,
    grpc_testing_test_service_half_duplex_call_server_stream *stream) {
  crpc_server_stream *s = (crpc_server_stream *)stream;
  kept *reqs = NULL;
  size_t n = 0, cap = 0;
  crpc_status st = echo_metadata(ctx);
  while (st == CRPC_STATUS_OK) {
    ProtobufCMessage *m = NULL;
    st = crpc_server_stream_read(s, &m);
    if (st != CRPC_STATUS_OK || !m)
      break;
    if (n == cap) {
      size_t ncap = cap ? 2 * cap : 8;
      kept *grown = realloc(reqs, ncap * sizeof(*reqs));
      if (!grown) {
        st = fail(ctx, CRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        break;
      }
      reqs = grown;
      cap = ncap;
    }
    size_t len = protobuf_c_message_get_packed_size(m);
    uint8_t *bytes = malloc(len ? len : 1);
    if (!bytes) {
      st = fail(ctx, CRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
      break;
    }
    protobuf_c_message_pack(m, bytes);
    reqs[n++] = (kept){bytes, len};
  }
  for (size_t i = 0; i < n; i++) {
    if (st == CRPC_STATUS_OK)
      st = answer_kept(ctx, s, &reqs[i]);
    free(reqs[i].bytes);
  }
  free(reqs);
  return st;
}

const grpc_testing_test_service_handlers interop_handlers = {
    .empty_call = empty_call,
    .unary_call = unary_call,
    .cacheable_unary_call = cacheable_unary_call,
    .streaming_output_call = streaming_output_call,
    .streaming_input_call = streaming_input_call,
    .full_duplex_call = full_duplex_call,
    .half_duplex_call = half_duplex_call,
    .unimplemented_call = NULL,
};
