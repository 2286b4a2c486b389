#!/usr/bin/env bash
# protobuf's well-known types from an installed crpc. Installs the build
# into a scratch prefix, checks that libcrpc exports the descriptors of
# every well-known type the prefix has headers for, then builds, against
# that prefix only, tests/install/wkt (a service whose methods take
# google.protobuf.Empty and return Timestamp and Duration, and messages
# holding a wrapper, a Duration and a Timestamp) twice:
#   cmake       find_package(crpc) + crpc_generate(), no IMPORT_DIRS;
#   pkg-config  protoc with the installed protoc-gen-crpc, then cc with
#               pkg-config --cflags --libs crpc.
# Each module is served by the installed crpc-server on 127.0.0.1, called
# by the client built with it, which checks the answers, and the server
# must then exit 0 on SIGTERM.
# Usage: check-wkt-module.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: $0 SOURCE_DIR BUILD_DIR" >&2
  exit 2
fi
src=$1
build=$2
here=$src/tests/install/wkt
. "$src/tests/install/lib.sh"

install_prefix
so=$libdir/libcrpc.so
wkt_inc=$prefix/include/crpc/proto-c/google/protobuf

# Installed: crpc/wkt.h, the headers of the ten types, and every message and
# enum descriptor they declare exported by libcrpc.so (hidden visibility
# would leave them out and fail a module at load).
# (descriptor.pb-c.h is installed for crpc/options.pb-c.h, without code.)
[ -f "$prefix/include/crpc/wkt.h" ] || fail "crpc/wkt.h not installed"
headers=()
for t in any api duration empty field_mask source_context struct timestamp \
  type wrappers; do
  [ -f "$wkt_inc/$t.pb-c.h" ] || fail "google/protobuf/$t.pb-c.h not installed"
  headers+=("$wkt_inc/$t.pb-c.h")
done
nm -D --defined-only "$so" | awk '{print $3}' | sort >"$tmp/exports"
sed -n 's/^extern const ProtobufC\(Message\|Enum\)Descriptor  *\([a-z0-9_]*\);$/\2/p' \
  "${headers[@]}" | sort >"$tmp/descriptors"
[ -s "$tmp/descriptors" ] || fail "no descriptors declared in $wkt_inc"
missing=$(comm -23 "$tmp/descriptors" "$tmp/exports")
[ -z "$missing" ] || fail "libcrpc.so does not export: $missing"
for f in unpack pack init free_unpacked; do
  grep -qx "google__protobuf__timestamp__$f" "$tmp/exports" ||
    fail "libcrpc.so does not export google__protobuf__timestamp__$f"
done
echo "installed: $(wc -l <"$tmp/descriptors") descriptors of the well-known types exported by $(basename "$so")"

# 1. CMake, finding crpc in the prefix and nowhere else.
cmake -S "$here" -B "$tmp/cm" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
  -DCMAKE_C_FLAGS="-Wall -Wextra -Werror" >"$tmp/cm.log" 2>&1 ||
  { cat "$tmp/cm.log"; fail "cmake configure"; }
found=$(realpath "$(sed -n 's/^crpc_DIR:PATH=//p' "$tmp/cm/CMakeCache.txt")")
[ "$found" = "$libdir/cmake/crpc" ] || fail "find_package(crpc) found $found"
cmake --build "$tmp/cm" >"$tmp/cm.log" 2>&1 ||
  { cat "$tmp/cm.log"; fail "cmake build"; }

# 2. protoc and pkg-config alone: protoc finds google/protobuf/*.proto by
# itself, and the generated code needs only crpc's flags.
mkdir -p "$tmp/pc/gen"
(cd "$here" && protoc -I. --plugin=protoc-gen-crpc="$prefix/bin/protoc-gen-crpc" \
  --c_out="$tmp/pc/gen" --crpc_out="$tmp/pc/gen" clock.proto) ||
  fail "protoc clock.proto"
gen=("$tmp/pc/gen/clock.pb-c.c" "$tmp/pc/gen/clock.crpc.c")
cflags=(-std=c11 -Wall -Wextra -Werror -I"$tmp/pc/gen")
# shellcheck disable=SC2046 # pkg-config's output is a list of flags
cc "${cflags[@]}" -fPIC -shared -o "$tmp/pc/libclock.so" \
  "$here/clock_module.c" "${gen[@]}" $(pkg-config --cflags --libs crpc) ||
  fail "cc module with pkg-config"
# shellcheck disable=SC2046
cc "${cflags[@]}" -o "$tmp/pc/clock_client" "$here/clock_client.c" "${gen[@]}" \
  $(pkg-config --cflags --libs crpc) || fail "cc client with pkg-config"

serve cmake "$tmp/cm/libclock.so" "$tmp/cm/clock_client"
serve pkg-config "$tmp/pc/libclock.so" "$tmp/pc/clock_client"
echo "wkt module: built with CMake and with pkg-config against the installed crpc, served and called"
