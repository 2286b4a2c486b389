#!/usr/bin/env bash
# Regenerates the golden protos' .crpc.h/.crpc.c and compares them with the
# checked-in expected output, byte for byte; then compiles them.
# Usage: check-golden.sh PLUGIN SOURCE_DIR BUILD_DIR
set -euo pipefail
plugin=$1
src=$2
build=$3
golden=$src/tests/codegen/golden
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mapfile -t protos < <(cd "$golden" && find . -name '*.proto' | sed 's|^\./||' | sort)
# The well-known types the golden protos import, generated as a user would.
(cd /usr/include && protoc -I. --c_out="$tmp" google/protobuf/*.proto)
protoc -I"$golden" -I"$src/proto" -I/usr/include \
  --plugin=protoc-gen-crpc="$plugin" --c_out="$tmp" --crpc_out="$tmp" \
  "${protos[@]}"
n=0
for want in $(cd "$golden/expected" && find . -name '*.crpc.[ch]' | sort); do
  if ! diff -u "$golden/expected/$want" "$tmp/$want"; then
    echo "golden: $want differs from the generator's output"
    echo "(if the change is intended: tests/codegen/golden/regen.sh)"
    exit 1
  fi
  n=$((n + 1))
done
got=$(cd "$tmp" && find . -name '*.crpc.[ch]' | wc -l)
[ "$got" -eq "$n" ] || { echo "golden: generator wrote $got files, $n expected"; exit 1; }
[ "$n" -gt 0 ] || { echo "golden: no expected files"; exit 1; }
# As a user of crpc sees them: crpc's headers and its generated headers
# for crpc/options.proto and google/protobuf/descriptor.proto.
incs=(-I"$tmp" -I"$src/runtime/include" -I"$src/server/include"
  -I"$src/client/include" -I"$build/proto-c" $(pkg-config --cflags libprotobuf-c))
for c in $(cd "$tmp" && find . -name '*.c' | sort); do
  extra=()
  case $c in *.pb-c.c) extra=(-Wno-missing-braces) ;; esac # see compile-grpc-protos.sh
  cc -std=c11 -pedantic -Wall -Wextra -Werror "${extra[@]}" "${incs[@]}" \
    -c "$tmp/$c" -o "$tmp/x.o"
done
for h in $(cd "$tmp" && find . -name '*.crpc.h' | sort); do
  printf '#include "%s"\n' "${h#./}" >"$tmp/inc.cc"
  c++ -std=c++11 -Wall -Wextra -Werror -fsyntax-only "${incs[@]}" "$tmp/inc.cc"
done
for f in $(cd "$tmp" && find . -name '*.crpc.[ch]'); do
  clang-format --style=file:"$src/.clang-format" --dry-run --Werror "$tmp/$f"
done
echo "golden: $n files match and compile"
