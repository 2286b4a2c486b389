#!/usr/bin/env bash
# crpc-server's command line: --help exits 0 with the usage on stdout, and
# the guide's table of flags lists exactly the flags --help lists; bad
# flags, modules that cannot be served, addresses and certificates that
# crpc_server_listen() refuses exit 2 with one line on stderr naming the
# problem; --module-arg settings reach their module, whose shutdown hook
# runs before the drain and after the stop; SIGTERM and SIGINT shut down
# gracefully and exit 0.
#
# Usage: check-crpc-server-cli.sh SOURCE_DIR CRPC_SERVER EMPTY_MODULE
#                                 FAILING_MODULE CONFIG_MODULE [GREETER_MODULE]
# Without GREETER_MODULE (examples not built), the checks that need a
# module with a service are skipped.
set -euo pipefail
if [ $# -lt 5 ] || [ $# -gt 6 ]; then
  echo "usage: $0 SOURCE_DIR CRPC_SERVER EMPTY_MODULE FAILING_MODULE CONFIG_MODULE [GREETER_MODULE]" >&2
  exit 2
fi
src=$1
server=$2
empty=$3
failing=$4
config=$5
greeter=${6:-}

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

failures=0
checks=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# expect_error NAME PATTERN ARGS...: crpc-server ARGS exits 2 within 20 s,
# prints nothing on stdout and exactly one line on stderr that starts with
# "crpc-server: " and matches the extended regular expression PATTERN.
expect_error() {
  local name=$1 pattern=$2 rc=0 lines
  shift 2
  checks=$((checks + 1))
  timeout 20 "$server" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null || rc=$?
  lines=$(wc -l <"$tmp/err")
  if [ "$rc" -ne 2 ]; then
    fail "$name: exit status $rc, not 2"
  elif [ -s "$tmp/out" ]; then
    fail "$name: printed on stdout: $(head -c 200 "$tmp/out")"
  elif [ "$lines" -ne 1 ]; then
    fail "$name: $lines lines on stderr, not 1"
  elif ! grep -q '^crpc-server: ' "$tmp/err"; then
    fail "$name: stderr line does not start with 'crpc-server: '"
  elif ! grep -Eqi -- "$pattern" "$tmp/err"; then
    fail "$name: stderr does not match /$pattern/"
  else
    printf 'ok   %-34s %s' "$name" "$(cat "$tmp/err")"
    echo
    return 0
  fi
  sed 's/^/     stderr: /' "$tmp/err"
}

# --help: the usage on stdout, nothing on stderr, status 0.
checks=$((checks + 1))
rc=0
"$server" --help >"$tmp/out" 2>"$tmp/err" || rc=$?
usage='usage: crpc-server --listen ADDR [--listen ADDR...] --module PATH.so [--module-arg KEY=VALUE...] [--module ...] [--tls-cert F --tls-key F [--tls-client-ca F [--tls-client-name NAME...]]] [--loops N] [--workers N] [--max-message-bytes N] [--drain-seconds N] [--log-level L] [--worker-queue N] [--handshake-timeout-ms N] [--max-workers N] [--max-worker-calls-per-connection N] [--max-concurrent-streams N] [--stall-timeout-ms N] [--loop-stall-ms N] [--idle-timeout-ms N] [--max-connections N] [--max-header-list-bytes N] [--idle-frames-burst N] [--idle-frames-per-second N] [--max-send-buffer-bytes N] [--pressure-stall-ms N] [--access-log FORMAT] [--access-log-level L] [--metrics-listen ADDR] [--busy-poll-us N] [--gather-us N] [--lame-duck-seconds N] [--max-connection-age-ms N] [--max-connection-age-grace-ms N] [--keepalive-time-ms N] [--keepalive-timeout-ms N] [--min-ping-interval-ms N] [--permit-keepalive-without-calls] [--stream-window-bytes N] [--connection-window-bytes N] [--message-cache-bytes N]'
if [ "$rc" -ne 0 ] || [ -s "$tmp/err" ] || [ "$(head -n 1 "$tmp/out")" != "$usage" ]; then
  fail "--help: status $rc, stderr '$(cat "$tmp/err")', first line '$(head -n 1 "$tmp/out")'"
else
  echo "ok   --help"
fi

# The guide's table ("| `--flag ...` | meaning |" rows in docs/guide.md's
# "Running crpc-server") names the same flags as --help, no more, no less.
checks=$((checks + 1))
help_flags=$(sed -n 's/^  \(--[a-z-]*\).*/\1/p' "$tmp/out" | grep -v '^--help$' | sort -u)
guide_flags=$(sed -n '/^### Running crpc-server/,/^### /p' "$src/docs/guide.md" |
  grep -o '^| `--[a-z-]*' | sed 's/^| `//' | sort -u)
if [ "$help_flags" != "$guide_flags" ]; then
  fail "docs/guide.md's flag table and --help differ:" \
    "$(diff <(echo "$guide_flags") <(echo "$help_flags") | grep '^[<>]' | tr '\n' ' ')" \
    "(< only in the guide, > only in --help)"
else
  echo "ok   the guide's flag table lists the $(echo "$help_flags" | wc -l) flags of --help"
fi

# Flags.
expect_error "no arguments" "no --listen"
expect_error "no --module" "no --module" --listen 127.0.0.1:0
expect_error "unknown flag" "unknown flag '--bogus'" \
  --bogus --listen 127.0.0.1:0 --module "$empty"
expect_error "positional argument" "unexpected argument 'extra'" \
  --listen 127.0.0.1:0 --module "$empty" extra
expect_error "flag without a value" "--listen needs a value" --listen
expect_error "flag followed by a flag" "--listen needs a value" \
  --listen --module "$empty"
expect_error "empty value" "--module needs a value" \
  --listen 127.0.0.1:0 --module=
expect_error "--loops not a number" "--loops: 'many'" \
  --listen 127.0.0.1:0 --module "$empty" --loops many
expect_error "--loops 0" "--loops: '0'" \
  --listen 127.0.0.1:0 --module "$empty" --loops 0
expect_error "--workers negative" "--workers: '-1'" \
  --listen 127.0.0.1:0 --module "$empty" --workers=-1
expect_error "--max-message-bytes too big" "--max-message-bytes: '4294967296'" \
  --listen 127.0.0.1:0 --module "$empty" --max-message-bytes 4294967296
expect_error "--drain-seconds trailing junk" "--drain-seconds: '5s'" \
  --listen 127.0.0.1:0 --module "$empty" --drain-seconds 5s
expect_error "--log-level unknown" "--log-level: 'loud'" \
  --listen 127.0.0.1:0 --module "$empty" --log-level loud
expect_error "--access-log unknown" "--access-log: 'xml' is not text or json" \
  --listen 127.0.0.1:0 --module "$empty" --access-log xml
expect_error "--access-log-level off" "--access-log-level: 'off'" \
  --listen 127.0.0.1:0 --module "$empty" --access-log-level off
expect_error "--tls-cert without --tls-key" "--tls-cert without --tls-key" \
  --listen 127.0.0.1:0 --module "$empty" --tls-cert "$tmp/x.pem"
expect_error "--tls-key without --tls-cert" "--tls-key without --tls-cert" \
  --listen 127.0.0.1:0 --module "$empty" --tls-key "$tmp/x.key"
expect_error "--tls-client-ca alone" "--tls-client-ca needs" \
  --listen 127.0.0.1:0 --module "$empty" --tls-client-ca "$tmp/ca.pem"
expect_error "--tls-client-name without --tls-client-ca" \
  "--tls-client-name needs --tls-client-ca" \
  --listen 127.0.0.1:0 --module "$empty" --tls-cert "$tmp/x.pem" \
  --tls-key "$tmp/x.key" --tls-client-name client.example.com
expect_error "--tls-client-name empty" "--tls-client-name needs a value" \
  --listen 127.0.0.1:0 --module "$empty" --tls-client-name=
expect_error "--max-workers below --workers" \
  "--max-workers 2 is fewer than --workers 4" \
  --listen 127.0.0.1:0 --module "$empty" --workers 4 --max-workers 2
expect_error "--max-concurrent-streams 0" "--max-concurrent-streams: '0'" \
  --listen 127.0.0.1:0 --module "$empty" --max-concurrent-streams 0
expect_error "--busy-poll-us over a second" "--busy-poll-us: '1000001'" \
  --listen 127.0.0.1:0 --module "$empty" --busy-poll-us 1000001
expect_error "--gather-us over a millisecond" "--gather-us: '1001'" \
  --listen 127.0.0.1:0 --module "$empty" --gather-us 1001
expect_error "--lame-duck-seconds past a uint32 of ms" \
  "--lame-duck-seconds: '4294968'" \
  --listen 127.0.0.1:0 --module "$empty" --lame-duck-seconds 4294968
expect_error "--max-connection-age-ms 0" "--max-connection-age-ms: '0'" \
  --listen 127.0.0.1:0 --module "$empty" --max-connection-age-ms 0
expect_error "--stream-window-bytes past 31 bits" \
  "--stream-window-bytes: '2147483648'" \
  --listen 127.0.0.1:0 --module "$empty" --stream-window-bytes 2147483648
expect_error "--connection-window-bytes 0" "--connection-window-bytes: '0'" \
  --listen 127.0.0.1:0 --module "$empty" --connection-window-bytes 0
expect_error "--message-cache-bytes not a number" \
  "--message-cache-bytes: '-1'" \
  --listen 127.0.0.1:0 --module "$empty" --message-cache-bytes -1

# Modules.
expect_error "missing module" "module $tmp/nope\\.so: .*no such file" \
  --listen 127.0.0.1:0 --module "$tmp/nope.so"
echo "not an ELF file" >"$tmp/text.so"
expect_error "not a shared object" "module $tmp/text\\.so: cannot be loaded" \
  --listen 127.0.0.1:0 --module "$tmp/text.so"
libc=$(ldd "$server" | sed -n 's/.*libc\.so\.6 => \([^ ]*\) .*/\1/p')
if [ -n "$libc" ]; then
  expect_error "no init function" "exports no crpc_module_init_v1" \
    --listen 127.0.0.1:0 --module "$libc"
fi
expect_error "module without services" "added no services" \
  --listen 127.0.0.1:0 --module "$empty"
expect_error "module whose init fails" \
  "crpc_module_init_v1 failed: CRPC_EINVAL \(invalid argument\)$" \
  --listen 127.0.0.1:0 --module "$failing"
expect_error "init that says why it fails" \
  "module $config: crpc_module_init_v1 failed: no upstream given$" \
  --listen 127.0.0.1:0 --module "$config" --module-arg "fail=no upstream given"
expect_error "init that returns -1" "crpc_module_init_v1 returned -1$" \
  --listen 127.0.0.1:0 --module "$config" --module-arg return=-1
expect_error "--module-arg before any --module" \
  "--module-arg a=b: give it after the --module it is for" \
  --listen 127.0.0.1:0 --module-arg a=b --module "$config"
expect_error "--module-arg without =" "--module-arg: 'novalue' is not KEY=VALUE" \
  --listen 127.0.0.1:0 --module "$config" --module-arg novalue

if [ -z "$greeter" ]; then
  echo "skip the checks that need the greeter module (examples not built)"
  [ "$failures" -eq 0 ] || { echo "$failures of $checks checks failed"; exit 1; }
  echo "all $checks checks passed"
  exit 0
fi

expect_error "same module twice" "adding a service failed" \
  --listen 127.0.0.1:0 --module "$greeter" --module "$greeter"

# Listen addresses and certificates.
expect_error "bad address" "(cannot listen on|bad listen address).*nowhere" \
  --listen nowhere --module "$greeter"
expect_error "bad metrics address" "metrics: bad listen address 'nowhere'" \
  --listen 127.0.0.1:0 --module "$greeter" --metrics-listen nowhere
expect_error "missing certificate" "cannot listen on 127\\.0\\.0\\.1:0: .*$tmp/missing\\.pem" \
  --listen 127.0.0.1:0 --module "$greeter" \
  --tls-cert "$tmp/missing.pem" --tls-key "$tmp/missing.key"
echo "not a certificate" >"$tmp/garbage.pem"
expect_error "certificate that is not PEM" "cannot listen on 127\\.0\\.0\\.1:0: " \
  --listen 127.0.0.1:0 --module "$greeter" \
  --tls-cert "$tmp/garbage.pem" --tls-key "$tmp/garbage.pem"
certs=$tmp/certs
if sh "$src/tests/support/make-test-certs.sh" "$certs" >/dev/null 2>&1; then
  expect_error "key of another certificate" "cannot listen on 127\\.0\\.0\\.1:0: " \
    --listen 127.0.0.1:0 --module "$greeter" \
    --tls-cert "$certs/server.pem" --tls-key "$certs/client.key"
  expect_error "missing client CA" "cannot listen on 127\\.0\\.0\\.1:0: .*$tmp/no-ca\\.pem" \
    --listen 127.0.0.1:0 --module "$greeter" \
    --tls-cert "$certs/server.pem" --tls-key "$certs/server.key" \
    --tls-client-ca "$tmp/no-ca.pem"
else
  fail "tests/support/make-test-certs.sh could not make certificates"
fi

# start_server LOG ARGS...: runs crpc-server ARGS in the background with
# stderr in LOG, sets $pid and $port (of its first "listening on" line).
start_server() {
  local log=$1
  shift
  "$server" "$@" 2>"$log" </dev/null &
  pid=$!
  pids+=("$pid")
  port=
  for _ in $(seq 100); do
    port=$(sed -n 's/.*listening on [^ ]*:\([0-9][0-9]*\) .*/\1/p' "$log" | head -n 1)
    [ -n "$port" ] && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  return 1
}

# stop_server SIG: sends SIG to $pid and waits up to 10 s; sets $rc.
stop_server() {
  kill "-$1" "$pid"
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  rc=0
  if kill -0 "$pid" 2>/dev/null; then
    rc=timeout
  else
    wait "$pid" || rc=$?
  fi
}

# A running server, its logs, a second server refused its port, and a
# graceful exit on each signal.
for sig in TERM INT; do
  checks=$((checks + 1))
  log=$tmp/serve-$sig.log
  set -- --listen 127.0.0.1:0 --module "$greeter" --loops 1 --workers 1 \
    --drain-seconds 1 --metrics-listen 127.0.0.1:0
  if [ "$sig" = TERM ] && [ -n "${certs:-}" ] && [ -s "$certs/server.pem" ]; then
    set -- "$@" --tls-cert "$certs/server.pem" --tls-key "$certs/server.key"
  fi
  if ! start_server "$log" "$@"; then
    fail "SIG$sig: the server did not start: $(cat "$log")"
    continue
  fi
  for want in "listening on 127.0.0.1:$port (" \
    "method /greeter.Greeter/SayHello (unary) runs on worker" \
    "method /greeter.Greeter/SayHelloLater (unary) runs on loop" \
    "method /greeter.Greeter/SayHellos (server_streaming) runs on worker"; do
    grep -qF -- "$want" "$log" || fail "SIG$sig: no '$want' in the log"
  done
  grep -Eq "metrics on http://127\.0\.0\.1:[0-9]+/metrics$" "$log" ||
    fail "SIG$sig: no 'metrics on http://127.0.0.1:PORT/metrics' in the log"
  if [ "$sig" = TERM ]; then
    expect_error "port already in use" "127\\.0\\.0\\.1:$port: address already in use" \
      --listen "127.0.0.1:$port" --module "$greeter"
    expect_error "metrics port already in use" \
      "metrics: cannot listen on 127\\.0\\.0\\.1:$port: address already in use" \
      --listen 127.0.0.1:0 --module "$greeter" --metrics-listen "127.0.0.1:$port"
  fi
  stop_server "$sig"
  if [ "$rc" != 0 ]; then
    fail "SIG$sig: exit status $rc, not 0; log:"
    sed 's/^/     /' "$log"
  else
    echo "ok   SIG$sig: graceful exit 0 ($(grep -c . "$log") log lines)"
  fi
done

# Settings reach their own module only, and its hook sees the drain begin
# and the server stop, in that order, around a graceful exit.
checks=$((checks + 1))
log=$tmp/config.log
ev=$tmp/config.events
if ! start_server "$log" --listen 127.0.0.1:0 --module "$config" \
  --module-arg "events=$ev" --module-arg "greeting=hi there" \
  --module "$greeter" --loops 1 --workers 1 --drain-seconds 1; then
  fail "--module-arg: the server did not start: $(cat "$log")"
else
  stop_server TERM
  want="init events=$ev greeting=hi there
draining
stopped"
  if [ "$rc" != 0 ]; then
    fail "--module-arg: exit status $rc, not 0"
  elif [ "$(cat "$ev")" != "$want" ]; then
    fail "--module-arg: the module's events were '$(cat "$ev")', not '$want'"
  else
    echo "ok   --module-arg settings and the shutdown hook (init, draining, stopped)"
  fi
fi

# The flow-control windows a client is given: the server's SETTINGS
# announce --stream-window-bytes, and its WINDOW_UPDATE on the connection
# brings HTTP/2's initial 65535 to --connection-window-bytes.
# windows_seen PORT: "STREAM CONNECTION", as a raw HTTP/2 peer reads them.
windows_seen() {
  python3 - "$1" <<'PY'
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes(9))  # + empty SETTINGS
buf, stream, conn = b"", None, 65535
while stream is None or conn == 65535:
    while len(buf) < 9 or len(buf) < 9 + int.from_bytes(buf[:3], "big"):
        more = s.recv(65536)
        if not more:
            sys.exit("closed before its SETTINGS and WINDOW_UPDATE")
        buf += more
    n, kind, flags, sid = int.from_bytes(buf[:3], "big"), buf[3], buf[4], \
        int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
    body, buf = buf[9:9 + n], buf[9 + n:]
    if kind == 4 and not flags & 1:  # SETTINGS, not an ACK
        stream = 65535
        for i in range(0, n, 6):
            key, value = struct.unpack(">HI", body[i:i + 6])
            if key == 4:  # SETTINGS_INITIAL_WINDOW_SIZE
                stream = value
    elif kind == 8 and sid == 0:  # the connection's WINDOW_UPDATE
        conn += int.from_bytes(body, "big") & 0x7FFFFFFF
print(stream, conn)
PY
}
for windows in "default:4194304 16777216" "300000 5000000:300000 5000000"; do
  checks=$((checks + 1))
  given=${windows%%:*}
  want=${windows#*:}
  set -- --listen 127.0.0.1:0 --module "$greeter" --loops 1 --workers 1
  if [ "$given" != default ]; then
    set -- "$@" --stream-window-bytes "${given% *}" \
      --connection-window-bytes "${given#* }"
  fi
  log=$tmp/windows.log
  if ! start_server "$log" "$@"; then
    fail "windows ($given): the server did not start: $(cat "$log")"
    continue
  fi
  seen=$(windows_seen "$port" 2>&1) || true
  stop_server TERM
  if [ "$seen" != "$want" ]; then
    fail "windows ($given): a client was given '$seen', not '$want'"
  else
    echo "ok   windows ($given): stream and connection $seen"
  fi
done

# --list: what the modules add and where each method runs, then exit 0,
# with nothing listening; a module that does not load is refused as at
# start.
checks=$((checks + 1))
want="module $greeter
  greeter.Greeter
    SayHello                 unary             worker
    SayHelloLater            unary             loop
    SayHellos                server_streaming  worker
  greeter.Relay
    Greet                    unary             loop
built in
  grpc.health.v1.Health
    Check                    unary             loop
    Watch                    server_streaming  loop
  grpc.reflection.v1.ServerReflection
    ServerReflectionInfo     bidi_streaming    loop
  grpc.reflection.v1alpha.ServerReflection
    ServerReflectionInfo     bidi_streaming    loop"
rc=0
timeout 20 "$server" --list --module "$greeter" >"$tmp/out" 2>"$tmp/err" \
  </dev/null || rc=$?
if [ "$rc" -ne 0 ] || [ -s "$tmp/err" ]; then
  fail "--list: exit status $rc, stderr '$(cat "$tmp/err")'"
elif [ "$(cat "$tmp/out")" != "$want" ]; then
  fail "--list printed:
$(cat "$tmp/out")
not:
$want"
else
  echo "ok   --list: the greeter module's methods and where they run"
fi
expect_error "--list, a module that fails" "crpc_module_init_v1 failed" \
  --list --module "$failing"

[ "$failures" -eq 0 ] || { echo "$failures of $checks checks failed"; exit 1; }
echo "all $checks checks passed"
