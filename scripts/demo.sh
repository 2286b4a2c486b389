#!/usr/bin/env bash
# The newcomer's first look at crpc, run from build directory $1:
#   1. the runtime tour: futures and coroutines on a loop;
#   2. crpc-server serving the greeter module (examples/greeter), called
#      by crpc's own client (greeter-client) and by a Python grpcio client,
#      then stopped with SIGTERM.
# Nothing is left running, whatever happens: the server is killed on exit.
set -euo pipefail
build=${1:-build}
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=/usr/bin/python3 # the system Python, which has grpcio

echo "== crpc runtime tour: futures and coroutines on a loop =="
"$build/examples/crpc-runtime-tour"

echo
echo "== crpc-server with the greeter module, called by crpc and by Python =="
server=$build/server/bin/crpc-server
module=$build/examples/greeter/libgreeter.so
client=$build/examples/greeter/greeter-client
for f in "$server" "$module" "$client"; do
  [ -e "$f" ] || { echo "demo: $f is missing: build first" >&2; exit 1; }
done

tmp=$(mktemp -d)
server_pid=
client_pid=
cleanup() {
  # A client runs under timeout(1), which passes TERM on to it (a KILL
  # would orphan it); the server gets no chance to linger.
  if [ -n "$client_pid" ]; then
    kill -TERM "$client_pid" 2>/dev/null || true
    wait "$client_pid" 2>/dev/null || true
  fi
  if [ -n "$server_pid" ]; then
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Python stubs for greeter.proto, and for crpc/options.proto it imports.
mkdir "$tmp/stubs"
protoc -I"$src/examples/greeter" -I"$src/proto" \
  --python_out="$tmp/stubs" --grpc_python_out="$tmp/stubs" \
  --plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin \
  greeter.proto crpc/options.proto

# One loop thread, so that the concurrent coroutine calls below share it.
log=$tmp/server.log
"$server" --listen 127.0.0.1:0 --module "$module" --loops 1 --workers 2 \
  --drain-seconds 2 2>"$log" &
server_pid=$!

# The port the system chose is in the "listening on" line.
port=
for _ in $(seq 100); do
  port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\) .*/\1/p' "$log")
  [ -n "$port" ] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$port" ]; then
  echo "demo: crpc-server did not start listening; its log:" >&2
  sed 's/^/  /' "$log" >&2
  exit 1
fi
echo "$ crpc-server --listen 127.0.0.1:0 --module $module --loops 1 --workers 2"
sed 's/^/  /' "$log"
lines_shown=$(wc -l <"$log")

# run_client CMD...: runs CMD under timeout(1) and sets $rc to its status.
# In the background, so that an interrupted demo stops at once (bash runs
# its traps during wait, not during a foreground command).
run_client() {
  timeout 60 "$@" &
  client_pid=$!
  rc=0
  wait "$client_pid" || rc=$?
  client_pid=
}

echo
echo "$ greeter-client 127.0.0.1:$port"
run_client "$client" "127.0.0.1:$port"
c_rc=$rc

echo
echo "the same server called from Python grpcio:"
run_client "$python" "$src/examples/greeter/client.py" --stubs "$tmp/stubs" \
  "127.0.0.1:$port"
py_rc=$rc

echo
echo "SIGTERM to crpc-server:"
kill -TERM "$server_pid"
for _ in $(seq 100); do
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
server_rc=0
if kill -0 "$server_pid" 2>/dev/null; then
  echo "demo: crpc-server still runs 10 s after SIGTERM" >&2
  server_rc=124
else
  wait "$server_pid" || server_rc=$?
  server_pid=
fi
tail -n +"$((lines_shown + 1))" "$log" | sed 's/^/  /'
echo "  crpc-server exited with status $server_rc"

if [ "$c_rc" -ne 0 ] || [ "$py_rc" -ne 0 ] || [ "$server_rc" -ne 0 ]; then
  echo "demo: FAILED (greeter-client status $c_rc, Python client status" \
    "$py_rc, server status $server_rc)" >&2
  exit 1
fi
echo
echo "demo: every call answered as expected; the server shut down cleanly"
