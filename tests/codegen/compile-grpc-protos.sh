#!/usr/bin/env bash
# Runs protoc-c and protoc-gen-crpc over every .proto of the system's
# grpc-proto package and compiles everything they produce: each .pb-c.c and
# .crpc.c as strict C11 with -pedantic -Werror, and each .crpc.h from C++.
# Usage: compile-grpc-protos.sh PLUGIN SOURCE_DIR BUILD_DIR
set -euo pipefail
plugin=$1
src=$2
build=$3
root=/usr/share/grpc-proto
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# As a user of crpc sees them: crpc's headers and its generated headers
# for crpc/options.proto and google/protobuf/descriptor.proto.
incs=(-I"$tmp" -I"$src/runtime/include" -I"$src/server/include"
  -I"$src/client/include" -I"$build/proto-c" $(pkg-config --cflags libprotobuf-c))
cflags=(-std=c11 -pedantic -Wall -Wextra -Werror -c)
mapfile -t protos < <(cd "$root" && find . -name '*.proto' | sed 's|^\./||' | sort)
[ ${#protos[@]} -gt 0 ] || { echo "no protos under $root"; exit 1; }

# The well-known types these protos import, generated as a user of
# protobuf-c generates them.
(cd /usr/include && protoc -I. --c_out="$tmp" google/protobuf/*.proto)

failures=0
with_services=0
unavailable=()
for p in "${protos[@]}"; do
  if protoc -I"$root" -I/usr/include -I"$src/proto" \
    --plugin=protoc-gen-crpc="$plugin" \
    --c_out="$tmp" --crpc_out="$tmp" "$p" 2>"$tmp/err"; then
    continue
  fi
  # An import that no installed package provides (googleapis, envoy) is
  # not something any generator can get past: report it apart.
  missing=$(sed -n 's/^\([^:]*\): File not found\.$/\1/p' "$tmp/err" | head -1)
  if [ -n "$missing" ] && [ ! -e "$root/$missing" ]; then
    unavailable+=("$p (imports $missing, which no installed package provides)")
    continue
  fi
  echo "FAIL generate $p: $(cat "$tmp/err")"
  failures=$((failures + 1))
done
for c in $(cd "$tmp" && find . -name '*.c' | sort); do
  # protoc-c 1.4.1 initializes each oneof union of a message with two or
  # more oneofs as {0} in its __INIT macro (grpc/lb/v1/load_reporter.proto),
  # which -Wmissing-braces flags. That is protobuf-c's output, not crpc's:
  # only its files get the exemption.
  extra=()
  case $c in *.pb-c.c) extra=(-Wno-missing-braces) ;; esac
  if ! cc "${cflags[@]}" "${extra[@]}" "${incs[@]}" "$tmp/$c" -o "$tmp/x.o" 2>"$tmp/err"; then
    echo "FAIL compile $c:"; head -20 "$tmp/err"
    failures=$((failures + 1))
  fi
done
for h in $(cd "$tmp" && find . -name '*.crpc.h' | sort); do
  with_services=$((with_services + 1))
  printf '#include "%s"\n' "${h#./}" >"$tmp/inc.cc"
  if ! c++ -std=c++11 -Wall -Wextra -Werror -fsyntax-only "${incs[@]}" \
    "$tmp/inc.cc" 2>"$tmp/err"; then
    echo "FAIL C++ include $h:"; head -20 "$tmp/err"
    failures=$((failures + 1))
  fi
done
for u in "${unavailable[@]}"; do
  echo "not generated: $u"
done
echo "grpc-proto: ${#protos[@]} protos, $((${#protos[@]} - ${#unavailable[@]})) generated and compiled, $with_services with services, ${#unavailable[@]} with unavailable imports, $failures failures"
[ "$failures" -eq 0 ]
