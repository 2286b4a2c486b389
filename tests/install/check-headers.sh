#!/usr/bin/env bash
# Every public header compiles on its own, as strict C11 with -pedantic and
# as C++, with no feature macros set.
# Usage: check-headers.sh SOURCE_DIR [BUILD_DIR]
# BUILD_DIR puts its proto-c directory (the generated headers of protobuf's
# well-known types, installed as include/crpc/proto-c) on the include path,
# as pkg-config and the crpc::crpc target do for users. Without it, the
# headers that include those (crpc/wkt.h) are skipped.
set -euo pipefail
src=$1
build=${2:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
incs=()
for d in "$src"/runtime/include "$src"/server/include "$src"/client/include; do
  incs+=("-I$d")
done
if [ -n "$build" ]; then
  [ -f "$build/proto-c/google/protobuf/timestamp.pb-c.h" ] ||
    { echo "FAIL: $build/proto-c has no generated well-known types"; exit 1; }
  incs+=("-I$build/proto-c")
fi
incs+=($(pkg-config --cflags-only-I libprotobuf-c))
n=0
skipped=()
for h in $(cd "$src" && ls runtime/include/crpc/*.h server/include/crpc/*.h client/include/crpc/*.h 2>/dev/null); do
  name=crpc/$(basename "$h")
  if [ -z "$build" ] && grep -q '^#include "google/protobuf/' "$src/$h"; then
    skipped+=("$name")
    continue
  fi
  printf '#include <%s>\n#include <%s>\n' "$name" "$name" >"$tmp/t.c"
  cc -std=c11 -pedantic -Wall -Wextra -Werror -fsyntax-only "${incs[@]}" "$tmp/t.c" ||
    { echo "FAIL: $name as C11"; exit 1; }
  cp "$tmp/t.c" "$tmp/t.cc"
  c++ -std=c++11 -Wall -Wextra -Werror -fsyntax-only "${incs[@]}" "$tmp/t.cc" ||
    { echo "FAIL: $name as C++"; exit 1; }
  n=$((n + 1))
done
echo "headers: $n public headers compile alone as C11 and C++"
if [ ${#skipped[@]} -gt 0 ]; then
  echo "headers: skipped without BUILD_DIR: ${skipped[*]}"
fi
