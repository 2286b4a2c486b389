#!/usr/bin/env bash
# Runs crpc's benchmarks from build directory $1 (default: build): the
# runtime primitives, then crpc against gRPC C++ side by side (bench/run.py;
# extra arguments go to it, e.g. --only unary or --rounds 5).
set -euo pipefail
build=${1:-build}
shift || true
here=$(cd "$(dirname "$0")/.." && pwd)
echo "# runtime primitives (median of 7 rounds)"
"$build/bench/crpc-bench-runtime"
echo
echo "# crpc against gRPC C++"
/usr/bin/python3 "$here/bench/run.py" "$build" "$@"
