#!/usr/bin/env bash
# Bad input to protoc-gen-crpc gets a clear message and a non-zero exit,
# never a crash: each tests/codegen/bad/*.proto must fail with the message
# named in its first line ("// expect: <text>"), as must an unknown plugin
# parameter and bytes that are not a CodeGeneratorRequest.
# Usage: check-bad-input.sh PLUGIN SOURCE_DIR
set -uo pipefail
plugin=$1
src=$2
bad=$src/tests/codegen/bad
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

expect_failure() { # name, expected text, command...
  local name=$1 want=$2
  shift 2
  "$@" >"$tmp/out" 2>&1
  local rc=$?
  if [ $rc -eq 0 ] || [ $rc -ge 128 ]; then
    echo "FAIL $name: exit status $rc"; cat "$tmp/out"; fail=1; return
  fi
  if ! grep -qF -- "$want" "$tmp/out"; then
    echo "FAIL $name: message lacks '$want':"; cat "$tmp/out"; fail=1; return
  fi
  echo "ok   $name: $(grep -F -- "$want" "$tmp/out" | head -1)"
}

for p in $(cd "$bad" && ls *.proto); do
  want=$(sed -n '1s|^// expect: ||p' "$bad/$p")
  expect_failure "$p" "$want" protoc -I"$bad" -I"$src/proto" -I/usr/include \
    --plugin=protoc-gen-crpc="$plugin" --crpc_out="$tmp" "$p"
done
expect_failure "unknown parameter" "unknown parameter 'frobnicate'" \
  protoc -I"$src/tests/codegen/golden" -I"$src/proto" -I/usr/include \
  --plugin=protoc-gen-crpc="$plugin" --crpc_out=frobnicate:"$tmp" \
  everything.proto
# Field 1 (file_to_generate) claims 127 bytes and brings 2: truncated.
printf '\x0a\x7f\x01\x02' >"$tmp/garbage"
expect_failure "truncated request on stdin" "protoc-gen-crpc:" \
  sh -c "'$plugin' <'$tmp/garbage'"
exit $fail
