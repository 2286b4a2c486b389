#!/bin/sh
# tests/codegen/golden/regen.sh: the golden test of protoc-gen-crpc.
#
#   tests/codegen/golden/regen.sh [--check] [PLUGIN]
#
# Runs protoc with PLUGIN (default: build/codegen/protoc-gen-crpc under the
# repository root) over the golden protos and writes their .crpc.h/.crpc.c
# into tests/codegen/golden/expected/, and those of
# tests/codegen/keywords/keywords.proto (which protoc-c's own output cannot
# compile, see there) into tests/codegen/keywords/expected/. With --check
# it writes nowhere and exits 1 when the plugin's output differs from the
# expected files, printing the difference.
#
# After an intended change to the generated code, run it without --check
# and commit the new expected files with the change.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
check=0
if [ "${1:-}" = "--check" ]; then
  check=1
  shift
fi
plugin=${1:-$root/build/codegen/protoc-gen-crpc}
case $plugin in /*) ;; *) plugin=$(pwd)/$plugin ;; esac
[ -x "$plugin" ] || { echo "regen.sh: no plugin at $plugin" >&2; exit 2; }

# protobuf-c/protobuf-c.proto (for c_package) and google/protobuf/*.proto.
incdir=
for d in $(pkg-config --variable=includedir libprotobuf-c 2>/dev/null) \
         /usr/include /usr/local/include; do
  if [ -f "$d/protobuf-c/protobuf-c.proto" ]; then incdir=$d; break; fi
done
[ -n "$incdir" ] || { echo "regen.sh: protobuf-c.proto not found" >&2; exit 2; }

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# generate DIR PROTO...: the .crpc files of DIR's PROTOs into $out/DIR.
generate() {
  dir=$1
  shift
  mkdir -p "$out/$dir"
  (cd "$here/../$dir" && protoc -I. -I"$root/proto" -I"$incdir" \
    --plugin=protoc-gen-crpc="$plugin" --crpc_out="$out/$dir" "$@")
}
generate golden everything.proto common/types.proto nopkg.proto renamed.proto
generate keywords keywords.proto

status=0
for dir in golden keywords; do
  expected=$here/../$dir/expected
  if [ $check = 1 ]; then
    diff -ru "$expected" "$out/$dir" || status=1
  else
    rm -rf "$expected"
    mkdir -p "$expected"
    cp -R "$out/$dir/." "$expected/"
    echo "regen: wrote $(find "$expected" -type f | wc -l) files to" \
         "tests/codegen/$dir/expected"
  fi
done
if [ $check = 1 ] && [ $status = 0 ]; then
  echo "regen: protoc-gen-crpc's output matches the expected files"
fi
exit $status
