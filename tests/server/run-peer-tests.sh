#!/usr/bin/env bash
# Calls crpc-server from real gRPC peers: the Python grpcio and Node
# @grpc/grpc-js clients in tests/peers/, each plaintext, over TLS and over
# mutual TLS, against three servers that load the test module
# (tests/server/README.md). A TLS server that requires client certificates
# must refuse a client without one. Against crpc-server, grpcio also checks
# what a handler sees of its peer (plaintext, TLS, mTLS: the client
# certificate's subject and SANs, the TLS version, ALPN h2), and a fourth
# server, with --tls-client-name, serves a certificate with an allowed name
# and refuses one without, PERMISSION_DENIED, logged once per connection.
# Every server must then stop on SIGTERM with exit code 0, and its log
# (printed at the end, so sanitizer reports reach the test output) must
# hold no sanitizer report.
#
# Usage: run-peer-tests.sh BUILD_DIR SOURCE_DIR [--reference]
#   --reference  the same clients against tests/peers/python/reference_server.py
#                (grpcio), which shows the clients and this script are right
#
# Exits 0 when every run passed. Leaves nothing running; bounded in time.
set -euo pipefail

if [ $# -lt 2 ] || [ $# -gt 3 ] || { [ $# -eq 3 ] && [ "$3" != --reference ]; }; then
  echo "usage: $0 BUILD_DIR SOURCE_DIR [--reference]" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
reference=0
[ $# -eq 3 ] && reference=1

python=/usr/bin/python3
peers=$src/tests/peers
server_bin=$build/server/bin/crpc-server
module=$build/tests/server/crpc_server_test_module.so
workers=2
start_timeout=30 # seconds for a server to log its port (sanitizer builds start slowly)
stop_timeout=20  # seconds for a server to exit after SIGTERM
client_timeout=300
server_lifetime=900 # a server outlives no run of this script, even a killed one
sanitizer_report='ERROR: AddressSanitizer|ERROR: LeakSanitizer|WARNING: ThreadSanitizer|runtime error:'

if [ $reference -eq 0 ]; then
  for f in "$server_bin" "$module"; do
    if [ ! -e "$f" ]; then
      echo "run-peer-tests: $f is missing: build the tree first" >&2
      exit 1
    fi
  done
fi
. "$src/tests/support/require.sh"
require node pkill openssl
if [ ! -d "$peers/node/node_modules/@grpc/grpc-js" ]; then
  echo "run-peer-tests: $peers/node/node_modules is missing: run scripts/install-deps.sh" >&2
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/crpc-peer-tests.XXXXXX")
declare -A pid=() port=()
servers=()

# Kills whatever is still running, prints every server's log, and removes
# the scratch directory.
cleanup() {
  local name
  for name in "${!pid[@]}"; do
    pkill -KILL -P "${pid[$name]}" 2>/dev/null || true
    kill -KILL "${pid[$name]}" 2>/dev/null || true
    wait "${pid[$name]}" 2>/dev/null || true
  done
  for name in "${servers[@]}"; do
    echo "--- $name server log ---"
    cat "$work/$name.log" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

failures=()
passed=0
fail() {
  echo "not ok - $*"
  failures+=("$*")
}

# start_server NAME [FLAG...]: starts a server on 127.0.0.1 with an
# ephemeral port, logging to $work/NAME.log, and sets port[NAME]. timeout
# passes SIGTERM on and returns the server's exit status; its -k counts from
# that SIGTERM too, so it must leave stop_server its whole $stop_timeout.
start_server() {
  local name=$1
  shift
  local log=$work/$name.log
  servers+=("$name")
  if [ $reference -eq 1 ]; then
    timeout -k $stop_timeout $server_lifetime \
      "$python" -u "$peers/python/reference_server.py" --listen 127.0.0.1:0 \
      --drain-seconds 5 "$@" >"$log" 2>&1 &
  else
    timeout -k $stop_timeout $server_lifetime \
      "$server_bin" --listen 127.0.0.1:0 --module "$module" --loops 1 \
      --workers $workers --drain-seconds 5 "$@" >"$log" 2>&1 &
  fi
  pid[$name]=$!
  local deadline=$((SECONDS + start_timeout)) p=""
  while [ -z "$p" ]; do
    p=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$log" | head -n 1)
    if [ -z "$p" ]; then
      if ! kill -0 "${pid[$name]}" 2>/dev/null; then
        fail "$name server exited before listening"
        unset "pid[$name]"
        return 1
      fi
      if [ $SECONDS -ge $deadline ]; then
        fail "$name server logged no port within $start_timeout s"
        return 1
      fi
      sleep 0.1
    fi
  done
  port[$name]=$p
  echo "# $name server listening on 127.0.0.1:$p (pid ${pid[$name]})"
}

# stop_server NAME: SIGTERM, then it must exit 0 within $stop_timeout s.
stop_server() {
  local name=$1 rc=0 deadline=$((SECONDS + stop_timeout))
  [ -n "${pid[$name]:-}" ] || return 0
  kill -TERM "${pid[$name]}"
  while kill -0 "${pid[$name]}" 2>/dev/null && [ $SECONDS -lt $deadline ]; do
    sleep 0.1
  done
  if kill -0 "${pid[$name]}" 2>/dev/null; then
    fail "$name server still running $stop_timeout s after SIGTERM"
    return 0 # cleanup kills it
  fi
  wait "${pid[$name]}" || rc=$?
  unset "pid[$name]"
  if [ $rc -eq 0 ]; then
    echo "ok - $name server exits 0 on SIGTERM"
    passed=$((passed + 1))
  else
    fail "$name server exited with status $rc after SIGTERM"
  fi
}

# client LABEL COMMAND...: one client run, bounded in time.
client() {
  local label=$1
  shift
  echo "# $label"
  if timeout -k 5 $client_timeout "$@"; then
    passed=$((passed + 1))
  else
    fail "$label"
  fi
}

certs=$work/certs
"$src/tests/support/make-test-certs.sh" "$certs"

start_server plain || true
start_server tls --tls-cert "$certs/server.pem" --tls-key "$certs/server.key" || true
start_server mtls --tls-cert "$certs/server.pem" --tls-key "$certs/server.key" \
  --tls-client-ca "$certs/ca.pem" || true
# Admits client.pem by its URI SAN; other-client.pem carries neither name.
# (grpcio's server has no such setting, nor shows a handler its peer's TLS
# version: the reference run leaves these checks out.)
if [ $reference -eq 0 ]; then
  start_server mtls-names --tls-cert "$certs/server.pem" \
    --tls-key "$certs/server.key" --tls-client-ca "$certs/ca.pem" \
    --tls-client-name spiffe://crpc.test/client \
    --tls-client-name nobody.crpc.test || true
fi

common=(--busy-calls $((workers * 2)))
if [ $reference -eq 1 ]; then
  common+=(--expect-placement any)
fi
tls=(--tls --ca "$certs/ca.pem")
# Over mTLS the certificate is checked against a name rather than the
# address, and the client presents its own.
mtls=("${tls[@]}" --server-name localhost
  --client-cert "$certs/client.pem" --client-key "$certs/client.key")
py=("$python" "$peers/python/server_test_client.py")
# grpc-js names the server by its IP address in the TLS handshake, which
# Node warns about once per run.
js=(node --no-deprecation "$peers/node/server_test_client.js")

for lang in py js; do
  if [ $lang = py ]; then cmd=("${py[@]}"); else cmd=("${js[@]}"); fi
  [ -n "${port[plain]:-}" ] &&
    client "$lang plaintext" "${cmd[@]}" --target "127.0.0.1:${port[plain]}" "${common[@]}"
  [ -n "${port[tls]:-}" ] &&
    client "$lang TLS" "${cmd[@]}" --target "127.0.0.1:${port[tls]}" "${common[@]}" "${tls[@]}"
  [ -n "${port[mtls]:-}" ] &&
    client "$lang mTLS" "${cmd[@]}" --target "127.0.0.1:${port[mtls]}" "${common[@]}" "${mtls[@]}"
done
if [ -n "${port[mtls]:-}" ]; then
  client "py mTLS without a client certificate" "${py[@]}" \
    --target "127.0.0.1:${port[mtls]}" "${tls[@]}" --expect-refused
fi

# Who the caller is: what make-test-certs.sh puts in client.pem.
client_auth=(--expect-subject "CN=crpc test client,O=crpc test"
  --expect-common-name "crpc test client"
  --expect-san DNS:client.crpc.test --expect-san URI:spiffe://crpc.test/client
  --expect-san IP:127.0.0.1 --expect-san email:client@crpc.test)
other_client=("${tls[@]}" --server-name localhost
  --client-cert "$certs/other-client.pem" --client-key "$certs/other-client.key")
refused_line='client certificate CN=crpc other client (DNS:other.crpc.test) is not allowed'
if [ $reference -eq 0 ]; then
  [ -n "${port[plain]:-}" ] &&
    client "py peer auth, plaintext" "${py[@]}" --peer-auth \
      --target "127.0.0.1:${port[plain]}"
  [ -n "${port[tls]:-}" ] &&
    client "py peer auth, TLS without a client certificate" "${py[@]}" \
      --peer-auth --target "127.0.0.1:${port[tls]}" "${tls[@]}"
  [ -n "${port[mtls]:-}" ] &&
    client "py peer auth, mTLS" "${py[@]}" --peer-auth \
      --target "127.0.0.1:${port[mtls]}" "${mtls[@]}" "${client_auth[@]}"
  if [ -n "${port[mtls-names]:-}" ]; then
    client "py peer auth, mTLS with an allowed client name" "${py[@]}" \
      --peer-auth --target "127.0.0.1:${port[mtls-names]}" "${mtls[@]}" \
      "${client_auth[@]}"
    client "py mTLS with a client name not allowed" "${py[@]}" --peer-auth \
      --target "127.0.0.1:${port[mtls-names]}" "${other_client[@]}" \
      --expect-denied "$refused_line"
  fi
fi

for name in "${servers[@]}"; do
  stop_server "$name"
done
for name in "${servers[@]}"; do
  if grep -Eq "$sanitizer_report" "$work/$name.log"; then
    fail "$name server log has a sanitizer report"
  fi
done
# The refused client made its calls on one connection: one warning.
if [ -e "$work/mtls-names.log" ]; then
  n=$(grep -F "crpc warn: " "$work/mtls-names.log" |
    grep -cF "$refused_line: its calls are refused" || true)
  if [ "$n" -eq 1 ]; then
    echo "ok - mtls-names server logs the refused connection once, as a warning"
    passed=$((passed + 1))
  else
    fail "mtls-names server logged the refused connection $n times, want 1"
  fi
fi

echo
if [ ${#failures[@]} -gt 0 ]; then
  printf 'failed: %s\n' "${failures[@]}"
fi
echo "peers: $passed passed, ${#failures[@]} failed"
[ ${#failures[@]} -eq 0 ]
