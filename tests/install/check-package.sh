#!/usr/bin/env bash
# The Debian package (cmake/CrpcPackage.cmake), made from the build tree by
# cpack into a scratch directory as make package makes it: its name, its
# control fields, the files it must hold, and a package that depends on
# every Debian package whose library libcrpc or its programs link and on
# what building a .proto against it needs.
# Usage: check-package.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: $0 SOURCE_DIR BUILD_DIR" >&2
  exit 2
fi
src=$1
build=$2
. "$src/tests/support/require.sh"
require cpack dpkg-deb dpkg-shlibdeps file

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
checks=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}
# check NAME COMMAND...: one check, passed when COMMAND succeeds.
check() {
  local name=$1
  shift
  checks=$((checks + 1))
  if "$@"; then
    echo "ok   $name"
  else
    fail "$name"
  fi
}

# crpc_<version>_<arch>.deb, the version being project()'s.
version=$(sed -n 's/^project(crpc VERSION \([0-9.]*\) .*/\1/p' "$src/CMakeLists.txt")
arch=$(dpkg --print-architecture)
[ -n "$version" ] || { echo "FAIL: no version in project() of CMakeLists.txt"; exit 1; }
if ! cpack -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/out" \
  >"$tmp/cpack.log" 2>&1; then
  cat "$tmp/cpack.log"
  echo "FAIL: cpack -G DEB"
  exit 1
fi
deb=$tmp/out/crpc_${version}_$arch.deb
if [ ! -f "$deb" ]; then
  echo "FAIL: no $(basename "$deb"); cpack made: $(cd "$tmp/out" && ls ./*.deb)"
  exit 1
fi
echo "ok   cpack made $(basename "$deb")"

# Control fields.
field() { dpkg-deb -f "$deb" "$1"; }
check "Package: crpc" [ "$(field Package)" = crpc ]
check "Version: $version" [ "$(field Version)" = "$version" ]
check "Architecture: $arch" [ "$(field Architecture)" = "$arch" ]
for f in Maintainer Description Section; do
  check "$f: $(field "$f" | head -n 1)" [ -n "$(field "$f")" ]
done

# Depends, as package names: what a user needs to build a .proto against
# the package, and the package of every library that libcrpc,
# crpc-server and protoc-gen-crpc link (libcrpc itself excepted).
depends=$(field Depends | tr ',' '\n' | sed 's/^ *//; s/[ (].*//' | sort -u)
needs=(protobuf-compiler protobuf-c-compiler libprotobuf-dev
  libprotobuf-c-dev libnghttp2-dev libuv1-dev libssl-dev zlib1g-dev pkg-config)
# owner PATH: the Debian package that holds PATH, which may be registered
# under /lib or /usr/lib (merged /usr), or through its symlink's target.
owner() {
  local p c out
  for p in "$1" "$(realpath "$1")"; do
    for c in "$p" "${p#/usr}" "/usr${p#/usr}"; do
      out=$(dpkg -S "$c" 2>/dev/null | head -n 1)
      [ -n "$out" ] && { echo "${out%%:*}"; return 0; }
    done
  done
  return 1
}
libs=$(for f in "$build/libcrpc.so" "$build/server/bin/crpc-server" \
  "$build/codegen/protoc-gen-crpc"; do
  LC_ALL=C ldd "$f" | sed -n 's/^\s*\(lib[^ ]*\) => \(\/[^ ]*\) .*/\1 \2/p'
done | grep -v '^libcrpc\.so' | sort -u)
while read -r name path; do
  if pkg=$(owner "$path"); then
    needs+=("$pkg")
  else
    fail "no Debian package holds $path ($name)"
  fi
done <<<"$libs"
before=$failures
for p in $(printf '%s\n' "${needs[@]}" | sort -u); do
  checks=$((checks + 1))
  grep -qx -- "$p" <<<"$depends" || fail "Depends lacks $p: $(field Depends)"
done
[ "$failures" -ne "$before" ] || echo "ok   Depends: $(field Depends)"

# The files: library, headers, CMake package, crpc.pc, the programs, the
# manual page and crpc's protos, wherever the build's library directory
# puts lib (lib or lib/<triplet>).
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's/^\.//' >"$tmp/files"
lib='/usr/lib(/[^/]+)?'
for re in "$lib/libcrpc\\.so" "$lib/libcrpc\\.so\\.[0-9]+" \
  "$lib/libcrpc\\.so\\.$version" "$lib/libcrpc\\.a" \
  /usr/include/crpc/crpc.h /usr/include/crpc/server.h \
  /usr/include/crpc/proto-c/crpc/options.pb-c.h \
  /usr/include/crpc/proto-c/google/protobuf/timestamp.pb-c.h \
  "$lib/cmake/crpc/crpcConfig\\.cmake" \
  "$lib/cmake/crpc/crpcConfigVersion\\.cmake" \
  "$lib/cmake/crpc/crpcTargets\\.cmake" \
  "$lib/cmake/crpc/CrpcGenerate\\.cmake" "$lib/pkgconfig/crpc\\.pc" \
  /usr/bin/crpc-server /usr/bin/protoc-gen-crpc \
  /usr/share/man/man1/crpc-server\\.1\\.gz \
  /usr/share/crpc/proto/crpc/options\\.proto; do
  checks=$((checks + 1))
  grep -Eqx -- "$re" "$tmp/files" || fail "the package holds no $re"
done
# Every public header of the tree, and every crpc .proto.
for d in "$src"/include "$src"/*/include; do
  for h in "$d"/crpc/*.h; do
    checks=$((checks + 1))
    grep -qx "/usr/include/crpc/$(basename "$h")" "$tmp/files" ||
      fail "the package holds no /usr/include/crpc/$(basename "$h")"
  done
done
while read -r p; do
  checks=$((checks + 1))
  grep -qx "/usr/share/crpc/proto/${p#./}" "$tmp/files" ||
    fail "the package holds no /usr/share/crpc/proto/${p#./}"
done < <(cd "$src/proto" && find . -name '*.proto')
echo "ok   the required files, every public header and crpc .proto among its $(wc -l <"$tmp/files") paths"

# Unpacked: the manual page is the source's, gzipped; the programs are
# stripped and the static library has no debug information; crpc.pc
# names the prefix it was unpacked under.
dpkg-deb -x "$deb" "$tmp/root"
check "crpc-server.1.gz is server/bin/crpc-server.1, gzipped" \
  cmp -s <(gzip -dc "$tmp/root/usr/share/man/man1/crpc-server.1.gz") \
  "$src/server/bin/crpc-server.1"
check "crpc-server and protoc-gen-crpc are stripped" \
  test "$(file -b "$tmp/root/usr/bin/crpc-server" \
    "$tmp/root/usr/bin/protoc-gen-crpc" | grep -c ', stripped')" = 2
a=$(find "$tmp/root/usr/lib" -name libcrpc.a | head -n 1)
check "libcrpc.a has no debug information" \
  test "$(objdump -h "$a" | grep -c '\.debug_')" = 0
pc=$(find "$tmp/root/usr/lib" -name crpc.pc | head -n 1)
check "crpc.pc: includedir is the package's /usr/include" \
  test "$(realpath "$(PKG_CONFIG_PATH=${pc%/crpc.pc} pkg-config \
    --variable=includedir crpc)")" = "$tmp/root/usr/include"

[ "$failures" -eq 0 ] || { echo "$failures of $checks checks failed"; exit 1; }
echo "all $checks checks passed"
