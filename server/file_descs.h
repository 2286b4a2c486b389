/*
 * server/file_descs.h: the descriptors of the gRPC protos whose services
 * libcrpc implements, for their service tables' .file. They are generated
 * from the system's grpc-proto files at build time
 * (proto/CMakeLists.txt, protoc-gen-crpc's file_desc_only mode) under the
 * names protoc-gen-crpc gives every file (docs/codegen.md).
 */
#ifndef CRPC_SERVER_FILE_DESCS_H
#define CRPC_SERVER_FILE_DESCS_H

#include "crpc/method.h"

/* grpc/health/v1/health.proto */
extern const crpc_file_desc crpc_file_grpc__health__v1__health_dproto;
/* grpc/reflection/v1/reflection.proto */
extern const crpc_file_desc crpc_file_grpc__reflection__v1__reflection_dproto;
/* grpc/reflection/v1alpha/reflection.proto */
extern const crpc_file_desc
    crpc_file_grpc__reflection__v1alpha__reflection_dproto;

#endif /* CRPC_SERVER_FILE_DESCS_H */
