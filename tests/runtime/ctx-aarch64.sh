#!/usr/bin/env bash
# Cross-compiles the context-switch self-test for aarch64 and runs it under
# qemu. Usage: ctx-aarch64.sh CC QEMU SOURCE_DIR BUILD_DIR
set -euo pipefail
cc=$1 qemu=$2 src=$3 out=$4/ctx_selftest_aarch64
"$cc" -std=c11 -O2 -static -Wall -Wextra -Werror -I"$src/runtime" \
  "$src/tests/runtime/ctx_selftest.c" "$src/runtime/coro_ctx.c" \
  "$src/runtime/coro_switch_aarch64.S" -o "$out"
"$qemu" "$out"
