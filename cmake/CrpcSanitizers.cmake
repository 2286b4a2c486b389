# Sanitizer builds: CRPC_ASAN (AddressSanitizer + UndefinedBehaviorSanitizer)
# and CRPC_TSAN (ThreadSanitizer). They apply to everything in the tree so
# that tests, the library and the tools agree. CRPC_FUZZ (the libFuzzer
# targets of tests/fuzz) is an ASan build whose code also records the
# coverage libFuzzer steers by; it needs clang.
if((CRPC_ASAN OR CRPC_FUZZ) AND CRPC_TSAN)
  message(FATAL_ERROR "CRPC_TSAN cannot be combined with CRPC_ASAN or CRPC_FUZZ")
endif()
if(CRPC_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "CRPC_FUZZ needs clang and libFuzzer (Debian packages "
            "clang and libclang-rt-14-dev): configure with CC=clang")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
if(CRPC_ASAN OR CRPC_FUZZ)
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
