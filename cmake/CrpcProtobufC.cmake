# crpc_protoc_c(OUT_SRCS OUT_HDRS OUT_DIR dir IMPORT_DIRS d... PROTOS p...)
# Runs protoc with protobuf-c's generator over PROTOS and returns the
# generated .pb-c.c / .pb-c.h paths. Paths of the outputs mirror each proto's
# path relative to the first import directory that contains it.
include(CrpcGenerate) # crpc_proto_relpath()
find_program(CRPC_PROTOC protoc REQUIRED)
find_program(CRPC_PROTOC_GEN_C protoc-gen-c)

function(crpc_protoc_c out_srcs out_hdrs)
  cmake_parse_arguments(A "" "OUT_DIR" "IMPORT_DIRS;PROTOS" ${ARGN})
  set(srcs "")
  set(hdrs "")
  set(iflags "")
  foreach(d ${A_IMPORT_DIRS})
    list(APPEND iflags "-I${d}")
  endforeach()
  file(MAKE_DIRECTORY ${A_OUT_DIR})
  foreach(p ${A_PROTOS})
    get_filename_component(abs ${p} ABSOLUTE)
    crpc_proto_relpath(rel ${abs} ${A_IMPORT_DIRS})
    string(REGEX REPLACE "\\.proto$" "" base ${rel})
    set(c ${A_OUT_DIR}/${base}.pb-c.c)
    set(h ${A_OUT_DIR}/${base}.pb-c.h)
    add_custom_command(OUTPUT ${c} ${h}
      COMMAND ${CRPC_PROTOC} ${iflags} --c_out=${A_OUT_DIR} ${abs}
      DEPENDS ${abs}
      COMMENT "protoc-c ${rel}" VERBATIM)
    list(APPEND srcs ${c})
    list(APPEND hdrs ${h})
  endforeach()
  set(${out_srcs} ${srcs} PARENT_SCOPE)
  set(${out_hdrs} ${hdrs} PARENT_SCOPE)
endfunction()
