# Run by cpack (CPACK_PRE_BUILD_SCRIPTS) on the installed tree before it is
# packed: libcrpc.a loses its debug information, as dh_strip --strip-debug
# leaves a static library. CPACK_STRIP_FILES strips only the programs and
# the shared library.
file(GLOB_RECURSE _archives "${CPACK_TEMPORARY_INSTALL_DIRECTORY}/*.a")
foreach(a ${_archives})
  execute_process(COMMAND ${CPACK_CRPC_STRIP} --strip-debug ${a}
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${CPACK_CRPC_STRIP} --strip-debug ${a} failed")
  endif()
endforeach()
