# Faults, composition, bad input and DNS (run-fault-tests.py); see
# README.md, "Faults and composition" and "A name whose addresses change".

# --- the composition module (compose_module.c) ------------------------------
# crpc-server --module BUILD/tests/client/crpc_client_compose_module.so
# serves crpc.composetest.Compose (proto/compose.proto), whose handlers call
# other servers' LoopTest and WorkerTest through generated stubs.
add_library(crpc_client_compose_module MODULE compose_module.c)
set_target_properties(crpc_client_compose_module PROPERTIES
  OUTPUT_NAME crpc_client_compose_module PREFIX "")
crpc_generate(TARGET crpc_client_compose_module
  PROTOS ${CMAKE_CURRENT_SOURCE_DIR}/proto/compose.proto
         ${PROJECT_SOURCE_DIR}/tests/server/proto/server_test.proto
  OUT_DIR ${CMAKE_CURRENT_BINARY_DIR}/crpc_gen/compose_module)
# --- end of the composition module ------------------------------------------

# --- the fault suite (fault_suite.c) ----------------------------------------
# A Criterion suite that run-fault-tests.py runs one test at a time, with
# the servers it started named in FAULT_* variables; not a ctest entry of
# its own.
add_executable(client_fault_suite fault_suite.c driver.c)
crpc_generate(TARGET client_fault_suite
  PROTOS ${CMAKE_CURRENT_SOURCE_DIR}/proto/compose.proto
         ${PROJECT_SOURCE_DIR}/tests/server/proto/server_test.proto
  OUT_DIR ${CMAKE_CURRENT_BINARY_DIR}/crpc_gen/fault_suite)
target_link_libraries(client_fault_suite PRIVATE ${CRPC_TEST_FRAMEWORK})
# Criterion's Test() macros define functions without prototypes.
target_compile_options(client_fault_suite PRIVATE -Wno-missing-prototypes)
# --- end of the fault suite -------------------------------------------------

# --- the DNS suite (dns_suite.c) --------------------------------------------
# A channel to a name whose addresses change, run by run-fault-tests.py
# --group dns in a mount namespace with an /etc/hosts of its own.
add_executable(client_dns_suite dns_suite.c driver.c)
crpc_generate(TARGET client_dns_suite
  PROTOS ${CMAKE_CURRENT_SOURCE_DIR}/proto/compose.proto
         ${PROJECT_SOURCE_DIR}/tests/server/proto/server_test.proto
  OUT_DIR ${CMAKE_CURRENT_BINARY_DIR}/crpc_gen/dns_suite)
target_link_libraries(client_dns_suite PRIVATE ${CRPC_TEST_FRAMEWORK})
target_compile_options(client_dns_suite PRIVATE -Wno-missing-prototypes)
# --- end of the DNS suite ---------------------------------------------------

# --- faults and bad input (run-fault-tests.py --group faults) ---------------
# A server killed mid-call and restarted on its port; GOAWAY from a draining
# crpc-server and from garbage_server.py; round-robin and pick-first over
# two servers, one of them killed and restarted; wait-for-ready against a
# refused port; retries of UNAVAILABLE; garbage, truncated, oversize and
# statusless responses and an HTTP/1.1 server.
add_test(NAME client_faults
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/run-fault-tests.py
          ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR} --group faults)
set_tests_properties(client_faults PROPERTIES TIMEOUT 420
  ENVIRONMENT "${CRPC_TEST_ENV}"
  FAIL_REGULAR_EXPRESSION "${CRPC_SANITIZER_REPORT}")
# --- end of faults and bad input --------------------------------------------

# --- composition (run-fault-tests.py --group compose) -----------------------
# Handlers that call other servers with blocking stubs: a coroutine fanning
# out 100 calls while its loop keeps answering, two workers whose handlers
# all make nested calls, and deadlines and cancellation passed on.
add_test(NAME client_compose
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/run-fault-tests.py
          ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR} --group compose)
set_tests_properties(client_compose PROPERTIES TIMEOUT 300
  ENVIRONMENT "${CRPC_TEST_ENV}"
  FAIL_REGULAR_EXPRESSION "${CRPC_SANITIZER_REPORT}")
# --- end of composition -----------------------------------------------------

# --- channels following DNS (run-fault-tests.py --group dns) ----------------
# A name moved between crpc-servers on 127.0.0.2, .3 and .4 (one port) by
# rewriting the /etc/hosts of the suite's own mount namespace: pick-first
# and round-robin follow it with no failed call while streams on a dropped
# address end normally, and every address failing looks the name up at
# once. Fails, saying why, where no such namespace can be made, but in a
# chroot (as Debian's build and test roots are), where the kernel allows
# none: there it says so and ctest counts it as not run.
add_test(NAME client_dns
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/run-fault-tests.py
          ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR} --group dns)
set_tests_properties(client_dns PROPERTIES TIMEOUT 180 SKIP_RETURN_CODE 77
  ENVIRONMENT "${CRPC_TEST_ENV}"
  FAIL_REGULAR_EXPRESSION "${CRPC_SANITIZER_REPORT}")
# --- end of channels following DNS ------------------------------------------

# --- garbage_server.py proved with grpcio (run-fault-tests.py --grpcio) -----
# Each misbehaviour of the fault tests' server gives Python grpcio the
# failure it should, so a client failing those tests is the client's fault.
if(NOT CRPC_ASAN AND NOT CRPC_TSAN)
  add_test(NAME client_faults_garbage_reference
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/run-fault-tests.py
            ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR} --grpcio)
  set_tests_properties(client_faults_garbage_reference PROPERTIES TIMEOUT 120)
endif()
# --- end of garbage_server.py proved with grpcio ----------------------------
