#!/usr/bin/env bash
# Calls real gRPC servers with crpc's client: the suite of peer_suite.c
# (every method kind through the generated stubs, failed calls, deadlines
# and cancellations the server sees, metadata, 4 MiB messages, gzip, 1000
# gathered calls) against three servers of tests/server/proto/
# server_test.proto (tests/server/README.md):
#   crpc     crpc-server with the test module
#   grpcio   tests/peers/python/reference_server.py (Python grpcio)
#   grpc-js  tests/peers/node/server_test_server.js (Node @grpc/grpc-js)
# each plaintext, over TLS (checked against the test CA for the name
# "localhost") and over mutual TLS (the server requires a client
# certificate). Every server is started for its cell, must log its port,
# and must exit 0 on SIGTERM. One line per cell says how it went; the
# suite's output, and a server's log when its cell failed, come before it,
# so that sanitizer reports reach the test output.
#
# Usage: run-peer-tests.sh BUILD_DIR SOURCE_DIR [SERVER...]
#   SERVER  crpc, grpcio or grpc-js: run only these (default: all three)
# CRPC_PEER_SUITE_ARGS adds arguments to the suite's command line (for
# instance --filter='peers/bidi*' or --verbose).
#
# Exits 0 when every cell passed. Leaves nothing running; bounded in time.
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 BUILD_DIR SOURCE_DIR [crpc|grpcio|grpc-js...]" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
shift 2
peers_wanted=("$@")
[ ${#peers_wanted[@]} -gt 0 ] || peers_wanted=(crpc grpcio grpc-js)

python=/usr/bin/python3
peers=$src/tests/peers
suite=$build/tests/client/client_peer_suite
server_bin=$build/server/bin/crpc-server
module=$build/tests/server/crpc_server_test_module.so
start_timeout=30   # seconds for a server to log its port (sanitizer builds start slowly)
stop_timeout=20    # seconds for a server to exit after SIGTERM
suite_timeout=200  # seconds for one run of the suite
server_lifetime=600 # a server outlives no cell, even of a killed run
sanitizer_report='ERROR: AddressSanitizer|ERROR: LeakSanitizer|WARNING: ThreadSanitizer|runtime error:'

. "$src/tests/support/require.sh"
require pkill openssl
for p in "${peers_wanted[@]}"; do
  [ "$p" != grpc-js ] || require node
  case $p in
  crpc) need=("$server_bin" "$module") ;;
  grpcio) need=("$peers/python/reference_server.py") ;;
  grpc-js) need=("$peers/node/server_test_server.js" "$peers/node/node_modules/@grpc/grpc-js") ;;
  *)
    echo "run-peer-tests: unknown server $p (crpc, grpcio or grpc-js)" >&2
    exit 2
    ;;
  esac
  for f in "$suite" "${need[@]}"; do
    if [ ! -e "$f" ]; then
      echo "run-peer-tests: $f is missing: build the tree (and run scripts/install-deps.sh)" >&2
      exit 1
    fi
  done
done

work=$(mktemp -d "${TMPDIR:-/tmp}/crpc-client-peers.XXXXXX")
server_pid="" server_port="" server_rc=

# Kills a server still running and removes the scratch directory.
cleanup() {
  if [ -n "$server_pid" ]; then
    pkill -KILL -P "$server_pid" 2>/dev/null || true
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

certs=$work/certs
"$src/tests/support/make-test-certs.sh" "$certs" >/dev/null

results=()
failed=0

# start_server PEER MODE LOG: starts PEER's server on 127.0.0.1 with an
# ephemeral port in MODE (plain, tls, mtls), logging to LOG; sets
# server_pid and server_port. timeout passes SIGTERM on, kills a server
# still running $stop_timeout s later, and returns the server's exit status.
start_server() {
  local peer=$1 mode=$2 log=$3 cmd=() flags=()
  case $mode in
  tls) flags=(--tls-cert "$certs/server.pem" --tls-key "$certs/server.key") ;;
  mtls) flags=(--tls-cert "$certs/server.pem" --tls-key "$certs/server.key"
    --tls-client-ca "$certs/ca.pem") ;;
  esac
  case $peer in
  crpc) cmd=("$server_bin" --module "$module" --loops 1 --workers 4) ;;
  grpcio) cmd=("$python" -u "$peers/python/reference_server.py") ;;
  grpc-js) cmd=(node --no-deprecation "$peers/node/server_test_server.js") ;;
  esac
  timeout -k $stop_timeout $server_lifetime "${cmd[@]}" --listen 127.0.0.1:0 \
    --drain-seconds 5 "${flags[@]}" >"$log" 2>&1 &
  server_pid=$!
  server_port=""
  local deadline=$((SECONDS + start_timeout)) p=""
  while [ -z "$p" ]; do
    p=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$log" | head -n 1)
    if [ -z "$p" ]; then
      if ! kill -0 "$server_pid" 2>/dev/null; then
        wait "$server_pid" 2>/dev/null || true
        server_pid=""
        return 1
      fi
      if [ $SECONDS -ge $deadline ]; then
        return 1
      fi
      sleep 0.1
    fi
  done
  server_port=$p
}

# stop_server: SIGTERM; sets server_rc to the exit status, or to "running"
# when the server is still there $stop_timeout s later.
stop_server() {
  local rc=0 deadline=$((SECONDS + stop_timeout))
  kill -TERM "$server_pid" 2>/dev/null || true
  while kill -0 "$server_pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do
    sleep 0.1
  done
  if kill -0 "$server_pid" 2>/dev/null; then
    server_rc=running
    return 0
  fi
  wait "$server_pid" || rc=$?
  server_pid=""
  server_rc=$rc
}

# The suite's own summary line: Criterion's "Synthesis: ..." or the TSan
# runner's "N passed, M failed".
suite_summary() {
  grep -E 'Synthesis:|^[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1 |
    sed -e "s/.*Synthesis: //" -e "s/ *$//"
}

# cell PEER MODE: one server, one run of the suite, one summary line.
cell() {
  local peer=$1 mode=$2 label="$1 $2" log=$work/$1-$2.server.log
  local out=$work/$1-$2.suite.log problems=() suite_rc=0
  local env=(CRPC_TEST_PEER="$peer")
  echo "# $label"
  if ! start_server "$peer" "$mode" "$log"; then
    problems+=("the server exited or logged no port within $start_timeout s")
  else
    env+=(CRPC_TEST_TARGET="127.0.0.1:$server_port")
    if [ "$mode" != plain ]; then
      env+=(CRPC_TEST_TLS=1 CRPC_TEST_CA="$certs/ca.pem" CRPC_TEST_SERVER_NAME=localhost)
    fi
    if [ "$mode" = mtls ]; then
      env+=(CRPC_TEST_CLIENT_CERT="$certs/client.pem" CRPC_TEST_CLIENT_KEY="$certs/client.key")
    fi
    # shellcheck disable=SC2086 # CRPC_PEER_SUITE_ARGS is a word list
    env "${env[@]}" timeout -k 5 $suite_timeout "$suite" --jobs=2 \
      ${CRPC_PEER_SUITE_ARGS:-} >"$out" 2>&1 || suite_rc=$?
    cat "$out"
    if [ $suite_rc -eq 124 ] || [ $suite_rc -eq 137 ]; then
      problems+=("the suite did not finish within $suite_timeout s")
    elif [ $suite_rc -ne 0 ]; then
      problems+=("the suite failed ($(suite_summary "$out"))")
    fi
    stop_server
    if [ "$server_rc" = running ]; then
      problems+=("the server still ran $stop_timeout s after SIGTERM")
    elif [ "$server_rc" != 0 ]; then
      problems+=("the server exited $server_rc after SIGTERM")
    fi
  fi
  if grep -Eq "$sanitizer_report" "$log" 2>/dev/null; then
    problems+=("a sanitizer report in the server's log")
  fi
  if [ ${#problems[@]} -gt 0 ]; then
    echo "--- $label server log ---"
    cat "$log" 2>/dev/null || true
    echo "--- end of $label server log ---"
    local IFS=';'
    results+=("not ok - $label: ${problems[*]}")
    failed=$((failed + 1))
  else
    results+=("ok - $label: $(suite_summary "$out")")
  fi
  if [ -n "$server_pid" ]; then # a server that would not stop
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}

for peer in "${peers_wanted[@]}"; do
  for mode in plain tls mtls; do
    cell "$peer" "$mode"
  done
done

echo
printf '%s\n' "${results[@]}"
echo "client peers: $((${#results[@]} - failed)) of ${#results[@]} cells passed"
[ $failed -eq 0 ]
