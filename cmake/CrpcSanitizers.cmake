# Sanitizer builds: CRPC_ASAN (AddressSanitizer + UndefinedBehaviorSanitizer)
# and CRPC_TSAN (ThreadSanitizer). They apply to everything in the tree so
# that tests, the library and the tools agree.
if(CRPC_ASAN AND CRPC_TSAN)
  message(FATAL_ERROR "CRPC_ASAN and CRPC_TSAN cannot be combined")
endif()
if(CRPC_ASAN)
  set(_crpc_san -fsanitize=address,undefined -fno-sanitize-recover=undefined
                -fno-omit-frame-pointer)
  add_compile_options(${_crpc_san})
  add_link_options(${_crpc_san})
  add_compile_definitions(CRPC_SANITIZE_ADDRESS=1)
endif()
if(CRPC_TSAN)
  set(_crpc_san -fsanitize=thread -fno-omit-frame-pointer)
  add_compile_options(${_crpc_san})
  add_link_options(${_crpc_san})
  add_compile_definitions(CRPC_SANITIZE_THREAD=1)
endif()
