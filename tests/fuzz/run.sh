#!/usr/bin/env bash
# tests/fuzz/run.sh: builds and runs the libFuzzer targets of tests/fuzz.
#
#   tests/fuzz/run.sh build BUILD_DIR
#       configures BUILD_DIR as a clang build with -DCRPC_FUZZ=ON and builds
#       only the fuzz targets (CRPC_FUZZ_JOBS jobs, default 2)
#   tests/fuzz/run.sh run [--fresh] BUILD_DIR SECONDS TARGET...|all
#       runs each TARGET, one after the other, over its seed corpus
#       (tests/fuzz/corpus/TARGET) and then mutates for SECONDS
#
# New corpus entries go to BUILD_DIR/fuzz-corpus/TARGET, which later runs
# start from too (with --fresh, to a scratch directory removed afterwards,
# so that a run depends on the committed seeds only); the committed seeds
# are never written. A crash, leak, sanitizer report or timeout is saved
# under BUILD_DIR/fuzz-crashes/ and its report printed. Each target prints
# one line: executions, executions per second, libFuzzer's coverage (cov:
# edges, ft: features) and corpus size at the end. Exits 1 if any target
# failed.
#
# ctest runs the build and every target for a few seconds (see
# tests/CMakeLists.txt); make fuzz runs them for FUZZ_SECONDS each.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
prog=$(basename "$0")
. "$root/tests/support/require.sh"

usage() {
  echo "usage: $prog build BUILD_DIR | run [--fresh] BUILD_DIR SECONDS TARGET...|all" >&2
  exit 2
}

build() {
  local dir=$1
  require clang
  # libFuzzer's runtime is a package of its own.
  local probe
  probe=$(mktemp -d)
  echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n);
int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return d && n; }' \
    >"$probe/probe.c"
  if ! clang -fsanitize=fuzzer "$probe/probe.c" -o "$probe/probe" \
    >/dev/null 2>&1; then
    rm -rf "$probe"
    echo "$prog: needs libFuzzer (Debian package libclang-rt-14-dev;" \
      "scripts/install-deps.sh installs it)" >&2
    exit 1
  fi
  rm -rf "$probe"
  CC=clang cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCRPC_FUZZ=ON -DCRPC_BUILD_TESTS=OFF -DCRPC_BUILD_EXAMPLES=OFF \
    -DCRPC_BUILD_BENCH=OFF >/dev/null
  cmake --build "$dir" --target crpc_fuzz -j "${CRPC_FUZZ_JOBS:-2}"
}

# The last value of libFuzzer's |key|: in its stats lines ("cov: 12") or
# its final stats ("stat::number_of_executed_units: 34").
stat() {
  local key=$1 log=$2
  grep -oE "$key:? +[0-9]+" "$log" | tail -1 | grep -oE '[0-9]+$' || echo "?"
}

run_one() {
  local dir=$1 seconds=$2 t=$3 scratch=$4
  local bin=$dir/tests/fuzz/fuzz_$t seeds=$here/corpus/$t
  local crashes=$dir/fuzz-crashes log=$dir/fuzz-logs/$t.log
  if [ ! -x "$bin" ] || [ ! -d "$seeds" ]; then
    echo "$prog: no fuzz target '$t' (have: $(targets | tr '\n' ' '))" >&2
    return 1
  fi
  mkdir -p "$scratch/$t" "$crashes" "$(dirname "$log")"
  local rc=0
  # Leaks are checked after each input that allocated more than it freed.
  ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$bin" -max_total_time="$seconds" -timeout=25 -print_final_stats=1 \
    -artifact_prefix="$crashes/$t-" "$scratch/$t" "$seeds" >"$log" 2>&1 ||
    rc=$?
  local line
  line=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  local corp
  corp=$(echo "$line" | grep -oE 'corp: [0-9]+/[0-9a-zA-Z]+' | cut -d' ' -f2)
  printf '%-16s %9s runs %7s exec/s  cov %5s  ft %6s  corpus %s\n' "$t" \
    "$(stat stat::number_of_executed_units "$log")" \
    "$(stat stat::average_exec_per_sec "$log")" "$(stat cov "$log")" \
    "$(stat ft "$log")" "${corp:-?}"
  if [ $rc -ne 0 ]; then
    local artifact
    artifact=$(grep -oE 'Test unit written to [^ ]+' "$log" | tail -1 |
      cut -d' ' -f5 || true)
    echo "$t: FAILED (exit $rc); input: ${artifact:-none saved};" \
      "log: $log" >&2
    grep -E 'ERROR:|SUMMARY:|runtime error:|fuzz_[a-z_]+: ' "$log" | head -5 >&2 || true
    grep -E '^ +#[0-9]+ 0x' "$log" | head -25 >&2 || true
    return 1
  fi
}

targets() {
  ls "$here/corpus"
}

run() {
  local fresh=0
  if [ "${1:-}" = "--fresh" ]; then
    fresh=1
    shift
  fi
  [ $# -ge 3 ] || usage
  local dir=$1 seconds=$2
  shift 2
  local list=("$@")
  [ "${list[*]}" = all ] && mapfile -t list < <(targets)
  scratch=$dir/fuzz-corpus
  if [ $fresh = 1 ]; then
    scratch=$(mktemp -d)
    trap 'rm -rf "$scratch"' EXIT
  fi
  local failed=0
  for t in "${list[@]}"; do
    run_one "$dir" "$seconds" "$t" "$scratch" || failed=1
  done
  return $failed
}

case ${1:-} in
build)
  [ $# -eq 2 ] || usage
  build "$2"
  ;;
run)
  shift
  run "$@"
  ;;
*) usage ;;
esac
