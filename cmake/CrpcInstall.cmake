# Installation: the library, public headers, pkg-config file, CMake package
# and crpc's own protos.
include(CMakePackageConfigHelpers)

install(TARGETS crpc crpc_static EXPORT crpcTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

foreach(d ${CRPC_PUBLIC_INCLUDE_DIRS})
  install(DIRECTORY ${d}/crpc DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
          FILES_MATCHING PATTERN "*.h")
endforeach()

install(DIRECTORY ${PROJECT_SOURCE_DIR}/proto/
        DESTINATION ${CMAKE_INSTALL_DATADIR}/crpc/proto
        FILES_MATCHING PATTERN "*.proto")

install(EXPORT crpcTargets NAMESPACE crpc::
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/crpc)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/crpcConfig.cmake.in
  ${PROJECT_BINARY_DIR}/crpcConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/crpc
  PATH_VARS CMAKE_INSTALL_DATADIR CMAKE_INSTALL_BINDIR)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/crpcConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/crpcConfig.cmake
              ${PROJECT_BINARY_DIR}/crpcConfigVersion.cmake
              ${PROJECT_SOURCE_DIR}/cmake/CrpcGenerate.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/crpc)

# crpc.pc finds the prefix from its own directory, however deep the
# library directory is (lib, or lib/<triplet> when the prefix is /usr).
file(RELATIVE_PATH CRPC_PC_TO_PREFIX /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
string(REGEX REPLACE "/$" "" CRPC_PC_TO_PREFIX "${CRPC_PC_TO_PREFIX}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/crpc.pc.in
               ${PROJECT_BINARY_DIR}/crpc.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/crpc.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
