/*
 * client/unavailable.c: the client API's entry points until channels land.
 *
 * Generated stubs reference every function of crpc/call.h and
 * crpc/channel.h, so server-only programs that link generated code need
 * them defined. No channel can be created yet, so no call can start:
 * crpc_channel_new() fails with CRPC_ESTATE and every call reports
 * UNIMPLEMENTED. The channel implementation replaces this file.
 */
#include <stddef.h>

#include "crpc/call.h"
#include "crpc/channel.h"
#include "crpc/error.h"

#define CRPC__NO_CLIENT "crpc: the client is not part of this build yet"

void crpc_channel_opts_init(crpc_channel_opts *opts) {
  *opts = (crpc_channel_opts){0};
}

int crpc_channel_new(const char *target, const crpc_channel_opts *opts,
                     crpc_channel **out) {
  (void)target;
  (void)opts;
  (void)out;
  return CRPC_ESTATE;
}

void crpc_channel_free(crpc_channel *ch) {
  (void)ch;
}

crpc_future *crpc_channel_connect(crpc_channel *ch) {
  (void)ch;
  return NULL;
}

int crpc_cancel_new(crpc_cancel **out) {
  (void)out;
  return CRPC_ESTATE;
}

void crpc_cancel_trigger(crpc_cancel *c) {
  (void)c;
}

void crpc_cancel_free(crpc_cancel *c) {
  (void)c;
}

crpc_status crpc_call_unary(crpc_channel *ch, const crpc_method *method,
                            const ProtobufCMessage *req,
                            ProtobufCMessage **reply,
                            const crpc_call_opts *opts) {
  (void)ch;
  (void)method;
  (void)req;
  (void)opts;
  if (reply)
    *reply = NULL;
  return CRPC_STATUS_UNIMPLEMENTED;
}

crpc_future *crpc_call_unary_async(crpc_channel *ch, const crpc_method *method,
                                   const ProtobufCMessage *req,
                                   const crpc_call_opts *opts) {
  (void)ch;
  (void)method;
  (void)req;
  (void)opts;
  return NULL;
}

crpc_status crpc_call_result(crpc_future *f, ProtobufCMessage **reply) {
  (void)f;
  if (reply)
    *reply = NULL;
  return CRPC_STATUS_UNIMPLEMENTED;
}

const crpc_status_info *crpc_call_status_info(crpc_future *f) {
  (void)f;
  return NULL;
}

const crpc_metadata *crpc_call_headers(crpc_future *f) {
  (void)f;
  return NULL;
}

const crpc_metadata *crpc_call_trailers(crpc_future *f) {
  (void)f;
  return NULL;
}

crpc_status crpc_call_start(crpc_channel *ch, const crpc_method *method,
                            const ProtobufCMessage *req,
                            const crpc_call_opts *opts, crpc_call **out) {
  (void)ch;
  (void)method;
  (void)req;
  (void)opts;
  if (out)
    *out = NULL;
  return CRPC_STATUS_UNIMPLEMENTED;
}

crpc_status crpc_call_read(crpc_call *call, ProtobufCMessage **msg) {
  (void)call;
  if (msg)
    *msg = NULL;
  return CRPC_STATUS_UNIMPLEMENTED;
}

crpc_future *crpc_call_read_async(crpc_call *call) {
  (void)call;
  return NULL;
}

crpc_status crpc_call_read_result(crpc_future *f, ProtobufCMessage **msg) {
  (void)f;
  if (msg)
    *msg = NULL;
  return CRPC_STATUS_UNIMPLEMENTED;
}

crpc_status crpc_call_write(crpc_call *call, const ProtobufCMessage *msg) {
  (void)call;
  (void)msg;
  return CRPC_STATUS_UNIMPLEMENTED;
}

crpc_future *crpc_call_write_async(crpc_call *call,
                                   const ProtobufCMessage *msg) {
  (void)call;
  (void)msg;
  return NULL;
}

crpc_status crpc_call_close_send(crpc_call *call) {
  (void)call;
  return CRPC_STATUS_UNIMPLEMENTED;
}

crpc_future *crpc_call_close_send_async(crpc_call *call) {
  (void)call;
  return NULL;
}

crpc_status crpc_call_finish(crpc_call *call, ProtobufCMessage **reply) {
  (void)call;
  if (reply)
    *reply = NULL;
  return CRPC_STATUS_UNIMPLEMENTED;
}

crpc_future *crpc_call_finish_async(crpc_call *call) {
  (void)call;
  return NULL;
}

void crpc_call_cancel(crpc_call *call) {
  (void)call;
}

const crpc_metadata *crpc_call_response_headers(crpc_call *call) {
  (void)call;
  return NULL;
}

const crpc_metadata *crpc_call_response_trailers(crpc_call *call) {
  (void)call;
  return NULL;
}

const crpc_status_info *crpc_call_final_status(crpc_call *call) {
  (void)call;
  return NULL;
}

void crpc_call_free(crpc_call *call) {
  (void)call;
}
