#!/usr/bin/env bash
# examples/greeter as a user takes it: copied out of the tree and built as a
# project of its own against an installed crpc, with the commands its
# CMakeLists.txt and the guide give; then the installed crpc-server serves
# the module it built, the client it built calls every method, and the
# server exits 0 on SIGTERM.
# Usage: check-example.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: $0 SOURCE_DIR BUILD_DIR" >&2
  exit 2
fi
src=$1
build=$2
. "$src/tests/install/lib.sh"

install_prefix
cp -r "$src/examples/greeter" "$tmp/greeter"
cd "$tmp/greeter"
cmake -S . -B build -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
  -DCMAKE_C_FLAGS="-Wall -Wextra -Werror" >"$tmp/cmake.log" 2>&1 ||
  { cat "$tmp/cmake.log"; fail "cmake configure of the copied example"; }
found=$(realpath "$(sed -n 's/^crpc_DIR:PATH=//p' build/CMakeCache.txt)")
[ "$found" = "$libdir/cmake/crpc" ] || fail "find_package(crpc) found $found"
cmake --build build >"$tmp/build.log" 2>&1 ||
  { cat "$tmp/build.log"; fail "cmake build of the copied example"; }
for f in libgreeter.so greeter-server greeter-client; do
  [ -e "build/$f" ] || fail "the copied example built no $f"
done
serve example "$tmp/greeter/build/libgreeter.so" "$tmp/greeter/build/greeter-client"
echo "example: examples/greeter copied out of the tree, built against the installed crpc, served and called"
