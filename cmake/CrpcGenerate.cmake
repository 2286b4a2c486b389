# crpc_generate(TARGET t PROTOS a.proto ... [IMPORT_DIRS dir ...] [OUT_DIR dir])
#
# Runs protoc with protobuf-c's generator and protoc-gen-crpc over PROTOS
# and adds the generated .pb-c.c and .crpc.c sources to target |t|, with
# their directory on its include path and crpc linked. Every proto gets a
# .crpc.c, one without services too: it defines the file's descriptor
# (crpc_file_desc), which the services of the files importing it need.
# crpc's own protos (crpc/options.proto) are always importable. Outputs
# mirror each proto's path relative to the first import directory that
# contains it; with no IMPORT_DIRS, each proto's own directory is used.
# IMPORT_DIRS replaces that default, so it must list the protos' own
# directories too. protobuf's well-known types (google/protobuf/*.proto)
# need no import directory: protoc finds them under its own prefix
# (/usr/bin/protoc in /usr/include), and libcrpc carries their code.
#
# Works in crpc's own tree and, after find_package(crpc), in other projects.
# crpc_proto_relpath(OUT abs_proto import_dir...): the path of |abs_proto|
# relative to the first import directory that contains it, the way protoc
# names its outputs. Fails the configure step when none does.
function(crpc_proto_relpath out abs)
  foreach(d ${ARGN})
    get_filename_component(dabs ${d} ABSOLUTE)
    file(RELATIVE_PATH r ${dabs} ${abs})
    if(NOT r MATCHES "^\\.\\.")
      set(${out} ${r} PARENT_SCOPE)
      return()
    endif()
  endforeach()
  message(FATAL_ERROR "${abs} is under none of: ${ARGN}")
endfunction()

function(crpc_generate)
  cmake_parse_arguments(A "" "TARGET;OUT_DIR" "PROTOS;IMPORT_DIRS" ${ARGN})
  if(NOT A_TARGET OR NOT A_PROTOS)
    message(FATAL_ERROR "crpc_generate: TARGET and PROTOS are required")
  endif()
  if(NOT A_OUT_DIR)
    set(A_OUT_DIR ${CMAKE_CURRENT_BINARY_DIR}/crpc_gen)
  endif()
  find_program(_crpc_protoc protoc REQUIRED)
  if(TARGET protoc-gen-crpc)
    set(_plugin $<TARGET_FILE:protoc-gen-crpc>)
    set(_plugin_dep protoc-gen-crpc)
  else()
    set(_plugin ${CRPC_PROTOC_GEN_CRPC})
    set(_plugin_dep ${CRPC_PROTOC_GEN_CRPC})
  endif()
  set(_imports ${A_IMPORT_DIRS})
  if(NOT _imports)
    foreach(p ${A_PROTOS})
      get_filename_component(d ${p} ABSOLUTE)
      get_filename_component(d ${d} DIRECTORY)
      list(APPEND _imports ${d})
    endforeach()
    list(REMOVE_DUPLICATES _imports)
  endif()
  set(_iflags "")
  foreach(d ${_imports} ${CRPC_PROTO_DIR})
    get_filename_component(dabs ${d} ABSOLUTE)
    list(APPEND _iflags "-I${dabs}")
  endforeach()
  file(MAKE_DIRECTORY ${A_OUT_DIR})
  set(_srcs "")
  foreach(p ${A_PROTOS})
    get_filename_component(abs ${p} ABSOLUTE)
    crpc_proto_relpath(rel ${abs} ${_imports})
    string(REGEX REPLACE "\\.proto$" "" base ${rel})
    # protoc-gen-crpc writes a .crpc.c for every file, services or not:
    # it defines the file's descriptor, which server reflection serves.
    set(outs ${A_OUT_DIR}/${base}.pb-c.c ${A_OUT_DIR}/${base}.pb-c.h
        ${A_OUT_DIR}/${base}.crpc.c ${A_OUT_DIR}/${base}.crpc.h)
    set(srcs ${A_OUT_DIR}/${base}.pb-c.c ${A_OUT_DIR}/${base}.crpc.c)
    add_custom_command(OUTPUT ${outs}
      COMMAND ${_crpc_protoc} ${_iflags} --plugin=protoc-gen-crpc=${_plugin}
              --c_out=${A_OUT_DIR} --crpc_out=${A_OUT_DIR} ${abs}
      DEPENDS ${abs} ${_plugin_dep}
      COMMENT "crpc_generate ${rel}" VERBATIM)
    list(APPEND _srcs ${srcs})
  endforeach()
  target_sources(${A_TARGET} PRIVATE ${_srcs})
  target_include_directories(${A_TARGET} PUBLIC ${A_OUT_DIR})
  if(TARGET crpc::crpc)
    target_link_libraries(${A_TARGET} PUBLIC crpc::crpc)
  else()
    target_link_libraries(${A_TARGET} PUBLIC crpc)
  endif()
endfunction()
