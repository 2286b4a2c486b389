#!/usr/bin/env bash
# The newcomer's first look at crpc, run from build directory $1.
set -euo pipefail
build=${1:-build}
echo "== crpc runtime tour: futures and coroutines on a loop =="
"$build/examples/crpc-runtime-tour"
