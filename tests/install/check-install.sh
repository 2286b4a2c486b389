#!/usr/bin/env bash
# Installs the build into a scratch prefix and builds a program against it
# twice: with pkg-config and with CMake's find_package(crpc).
# Usage: check-install.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1
build=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null

cat >"$tmp/main.c" <<'C'
#include <crpc/crpc.h>
#include <stdio.h>

static crpc_status body(void *arg) {
  (void)arg;
  crpc_sleep(1);
  return CRPC_STATUS_OK;
}

int main(void) {
  crpc_loop *loop;
  crpc_future *done;
  if (crpc_loop_new(NULL, NULL, &loop) != 0)
    return 1;
  crpc_coro_spawn(loop, body, NULL, &done);
  crpc_loop_run(loop, CRPC_RUN_DEFAULT);
  int ok = crpc_future_status(done) == CRPC_STATUS_OK;
  crpc_future_unref(done);
  crpc_loop_free(loop);
  printf("installed crpc %s: %s\n", CRPC_VERSION_STRING, ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
C

export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
libdir=$(pkg-config --variable=libdir crpc)
cc -std=c11 -Wall -Werror "$tmp/main.c" -o "$tmp/with-pkgconfig" \
  $(pkg-config --cflags --libs crpc)
LD_LIBRARY_PATH=$libdir "$tmp/with-pkgconfig"
test -f "$prefix/share/crpc/proto/crpc/options.proto" ||
  { echo "crpc/options.proto not installed"; exit 1; }

mkdir -p "$tmp/cm"
cp "$tmp/main.c" "$tmp/cm/main.c"
cat >"$tmp/cm/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.25)
project(consumer C)
find_package(crpc REQUIRED)
add_executable(consumer main.c)
target_link_libraries(consumer PRIVATE crpc::crpc)
CM
cmake -S "$tmp/cm" -B "$tmp/cm/build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$tmp/cm/build" >/dev/null
LD_LIBRARY_PATH=$libdir "$tmp/cm/build/consumer"
