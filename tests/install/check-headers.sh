#!/usr/bin/env bash
# Every public header compiles on its own, as strict C11 with -pedantic and
# as C++, with no feature macros set.
# Usage: check-headers.sh SOURCE_DIR
set -euo pipefail
src=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
incs=()
for d in "$src"/runtime/include "$src"/server/include "$src"/client/include; do
  incs+=("-I$d")
done
incs+=($(pkg-config --cflags-only-I libprotobuf-c))
n=0
for h in $(cd "$src" && ls runtime/include/crpc/*.h server/include/crpc/*.h client/include/crpc/*.h 2>/dev/null); do
  name=crpc/$(basename "$h")
  printf '#include <%s>\n#include <%s>\n' "$name" "$name" >"$tmp/t.c"
  cc -std=c11 -pedantic -Wall -Wextra -Werror -fsyntax-only "${incs[@]}" "$tmp/t.c" ||
    { echo "FAIL: $name as C11"; exit 1; }
  cp "$tmp/t.c" "$tmp/t.cc"
  c++ -std=c++11 -Wall -Wextra -Werror -fsyntax-only "${incs[@]}" "$tmp/t.cc" ||
    { echo "FAIL: $name as C++"; exit 1; }
  n=$((n + 1))
done
echo "headers: $n public headers compile alone as C11 and C++"
