#!/usr/bin/env bash
# Installs crpc into a scratch prefix and builds tests/codegen/out-of-tree,
# a project that uses find_package(crpc) and crpc_generate(). The module it
# builds must export crpc-server's entry point.
# Usage: check-out-of-tree.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1
build=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
cmake -S "$src/tests/codegen/out-of-tree" -B "$tmp/b" \
  -DCMAKE_PREFIX_PATH="$tmp/prefix" -DCMAKE_C_FLAGS="-Wall -Wextra -Werror" \
  >/dev/null
cmake --build "$tmp/b" >/dev/null
so=$(find "$tmp/b" -name 'libgreeter.so' -o -name 'greeter.so' | head -1)
nm -D --defined-only "$so" | grep -q ' crpc_module_init_v1$' ||
  { echo "module does not export crpc_module_init_v1"; exit 1; }
echo "out-of-tree: find_package(crpc) + crpc_generate built $(basename "$so") exporting crpc_module_init_v1"
