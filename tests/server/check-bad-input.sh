#!/usr/bin/env bash
# Bad input over raw HTTP/2: crpc-server serves the test module while
# bad_input.py sends it malformed prefaces, frames, headers and messages, a
# peer that stops reading and a flood of streams, checking each answer and
# that the server keeps serving (and, through --pid, its memory). Then
# SIGTERM must shut it down with exit status 0. The server's stderr is
# passed through, so sanitizer reports reach ctest.
#
# Usage: check-bad-input.sh BUILD_DIR SOURCE_DIR [--memory]
#        check-bad-input.sh --reference SOURCE_DIR [--memory]
# --reference runs the same cases against a grpcio server
# (bad_input_reference.py) instead, to compare with a reference gRPC
# implementation; it is not part of ctest. --memory runs
# hostile_memory.py's floods of connections and streams instead of
# bad_input.py's cases, against a server without a connection limit.
set -uo pipefail
if [ $# -lt 2 ] || [ $# -gt 3 ] || { [ $# -eq 3 ] && [ "$3" != --memory ]; }; then
  echo "usage: $0 BUILD_DIR SOURCE_DIR [--memory] |" \
    "--reference SOURCE_DIR [--memory]" >&2
  exit 2
fi
build=$1
src=$2
cases=bad_input.py
[ $# -eq 3 ] && cases=hostile_memory.py
python=/usr/bin/python3 # the system Python, which has hpack (python3-h2)
here=$src/tests/server

if [ "$build" = --reference ]; then
  name=bad_input_reference.py
  cmd=("$python" "$here/bad_input_reference.py" --listen 127.0.0.1:0)
  told=()
else
  name=crpc-server
  server=$build/server/bin/crpc-server
  module=$build/tests/server/crpc_server_test_module.so
  for f in "$server" "$module"; do
    if [ ! -f "$f" ]; then
      echo "FAIL: not built: $f" >&2
      exit 1
    fi
  done
  # The idle timeout and the connection limit are bad_input.py's
  # idle_connection_is_closed's and connections_past_the_limit_are_closed's;
  # the header list and the idle-frame burst, told to bad_input.py too,
  # are header_list_limit's and idle_frames_budget's, which floods PINGs
  # with no call open: the ping policy, which would end that at the third
  # (lifecycle.py checks it), is off.
  limits=(--max-header-list-bytes 12000 --idle-frames-burst 600
          --max-connections 64 --handshake-timeout-ms 2000
          --min-ping-interval-ms 0)
  told=(--header-list 12000 --idle-frames-burst 600 --handshake-timeout 2)
  if [ $cases = hostile_memory.py ]; then
    limits=()
    told=()
  fi
  cmd=("$server" --listen 127.0.0.1:0 --module "$module" --loops 2
       --workers 2 --idle-timeout-ms 3000 "${limits[@]}")
fi

tmp=$(mktemp -d)
pid=
runner=
cleanup() {
  if [ -n "$runner" ] && kill -0 "$runner" 2>/dev/null; then
    kill -TERM "$runner" 2>/dev/null
    wait "$runner" 2>/dev/null
  fi
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  if [ -s "$tmp/server.err" ]; then
    echo "--- $name stderr ---" >&2
    cat "$tmp/server.err" >&2
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

"${cmd[@]}" </dev/null >"$tmp/server.out" 2>"$tmp/server.err" &
pid=$!

# The port it was given: from "listening on 127.0.0.1:PORT (h2c)".
port=
for _ in $(seq 200); do
  port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\) (h2c).*/\1/p' \
    "$tmp/server.err" | head -n 1)
  [ -n "$port" ] && break
  if ! kill -0 "$pid" 2>/dev/null; then
    wait "$pid"
    echo "FAIL: $name exited with status $? before listening" >&2
    exit 1
  fi
  sleep 0.1
done
if [ -z "$port" ]; then
  echo "FAIL: $name logged no 'listening on 127.0.0.1:PORT (h2c)' in 20 s" >&2
  exit 1
fi

# In the background, so that a signal to this script runs the trap at once
# instead of after the run.
fail=0
timeout 90 "$python" "$here/$cases" --target "127.0.0.1:$port" \
  --pid "$pid" "${told[@]}" &
runner=$!
wait "$runner" || fail=1
runner=

# A graceful shutdown: SIGTERM, exit status 0, within 30 s.
if ! kill -0 "$pid" 2>/dev/null; then
  wait "$pid"
  echo "FAIL: $name died during the run (status $?)" >&2
  pid=
  exit 1
fi
kill -TERM "$pid"
for _ in $(seq 300); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$pid" 2>/dev/null; then
  echo "FAIL: $name still running 30 s after SIGTERM" >&2
  exit 1
fi
wait "$pid"
rc=$?
pid=
if [ $rc -ne 0 ]; then
  echo "FAIL: $name exited with status $rc after SIGTERM" >&2
  fail=1
fi
exit $fail
