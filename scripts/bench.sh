#!/usr/bin/env bash
# Runs crpc's benchmarks from build directory $1 (default: build).
set -euo pipefail
build=${1:-build}
echo "# runtime primitives (median of 7 rounds)"
"$build/bench/crpc-bench-runtime"
