# The Debian package (make package, or cpack -G DEB in the build tree):
# everything the install rules install, under /usr, as one package crpc
# that holds the library, its headers, the CMake package and crpc.pc,
# protoc-gen-crpc, crpc-server with its manual page and crpc's .proto
# files. It is named crpc_<version>_<arch>.deb, the version being
# project()'s.
#
# Depends: the libraries crpc's programs and libcrpc link, as
# dpkg-shlibdeps finds them, and what a user needs to build a .proto
# against the installed crpc with nothing else: protoc and protobuf-c's
# generator, protobuf's .proto files (descriptor.proto, which
# crpc/options.proto imports, and the well-known types), pkg-config and
# the development packages crpc.pc and crpcConfig.cmake look up (the public
# headers include protobuf-c's; libcrpc.a needs the rest). Their minimum
# versions are the top-level CMakeLists.txt's.
set(CRPC_PACKAGE_MAINTAINER "crpc maintainers <maintainers@example.org>"
    CACHE STRING "Maintainer field of the Debian package")
set(CRPC_PACKAGE_HOMEPAGE "" CACHE STRING
    "Homepage field of the Debian package (none when empty)")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME crpc)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR crpc)
set(CPACK_PACKAGE_CONTACT ${CRPC_PACKAGE_MAINTAINER})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "gRPC-compatible RPC framework in C")
set(CPACK_PACKAGE_DESCRIPTION
    "crpc is a gRPC-compatible RPC framework in C11: a protoc plugin that
turns a .proto service into typed C stubs (a blocking call and an _async
call returning a future for every method), an HTTP/2 server on nghttp2,
libuv and OpenSSL whose handlers run as coroutines on the event loop or on
worker threads, and client channels that call any gRPC server.
.
This package holds libcrpc (shared and static), its headers, its CMake
package (find_package(crpc), crpc_generate()) and pkg-config file,
protoc-gen-crpc, crpc-server, which serves the services of modules, and
crpc's own .proto files.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# Debug information stays out of the package, as dh_strip leaves it:
# CPack strips the programs and libcrpc.so, CrpcPackageStrip.cmake the
# debug information of libcrpc.a.
set(CPACK_STRIP_FILES ON)
set(CPACK_CRPC_STRIP ${CMAKE_STRIP})
set(CPACK_PRE_BUILD_SCRIPTS ${PROJECT_SOURCE_DIR}/cmake/CrpcPackageStrip.cmake)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER ${CRPC_PACKAGE_MAINTAINER})
if(CRPC_PACKAGE_HOMEPAGE)
  set(CPACK_DEBIAN_PACKAGE_HOMEPAGE ${CRPC_PACKAGE_HOMEPAGE})
endif()
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# A shlibs file for libcrpc.so.<major>, and postinst and postrm scripts
# that run ldconfig.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
string(JOIN ", " CPACK_DEBIAN_PACKAGE_DEPENDS
  "protobuf-compiler"
  "protobuf-c-compiler"
  "libprotobuf-dev"
  "libprotobuf-c-dev (>= 1.3)"
  "libnghttp2-dev (>= 1.43)"
  "libuv1-dev (>= 1.40)"
  "libssl-dev (>= 1.1.1)"
  "zlib1g-dev"
  "pkg-config")
# A compiler and CMake, which crpc_generate() and examples/greeter use;
# a user who builds with pkg-config and another build tool needs no CMake.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "cmake (>= 3.25), gcc | c-compiler")

include(CPack)
