# --- the client against real servers (run-peer-tests.sh, peer_suite.c) ------
# crpc's client calls crpc-server with the test module, Python grpcio's
# reference server and Node grpc-js's server_test_server.js, each plaintext,
# over TLS and over mTLS: every method kind through the generated stubs,
# failed calls, deadlines and cancellations the server sees, metadata both
# ways, 4 MiB and oversize messages, gzip, 1000 gathered _async calls and
# fire-and-forget calls. peer_suite.c is a Criterion suite configured by the
# environment (see its header); run-peer-tests.sh starts each server and runs
# it. The stubs get their own OUT_DIR, apart from the test module's.
add_executable(client_peer_suite ${CMAKE_CURRENT_SOURCE_DIR}/peer_suite.c)
target_link_libraries(client_peer_suite PRIVATE ${CRPC_TEST_FRAMEWORK})
# Criterion's Test() macros define functions without prototypes.
target_compile_options(client_peer_suite PRIVATE -Wno-missing-prototypes)
crpc_generate(TARGET client_peer_suite
  PROTOS ${PROJECT_SOURCE_DIR}/tests/server/proto/server_test.proto
  OUT_DIR ${CMAKE_CURRENT_BINARY_DIR}/crpc_gen/peer_suite)
add_test(NAME client_peers
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/run-peer-tests.sh
          ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR})
set_tests_properties(client_peers PROPERTIES TIMEOUT 900
  ENVIRONMENT "${CRPC_TEST_ENV}"
  FAIL_REGULAR_EXPRESSION "${CRPC_SANITIZER_REPORT}")
# --- end of the client against real servers -----------------------------------
