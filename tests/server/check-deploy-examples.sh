#!/usr/bin/env bash
# examples/deploy/ against crpc-server as it is: the command line of the
# systemd unit and that of the Kubernetes Deployment, with the built
# greeter module in place of the installed one, are accepted by
# crpc-server --list (every flag known, every value valid); each gives
# the process more time to stop than its lame-duck period plus its drain;
# the unit listens on loopback only, the pod on its own address, where its
# gRPC probes and its headless Service's port point.
#
# Usage: check-deploy-examples.sh SOURCE_DIR CRPC_SERVER GREETER_MODULE
set -euo pipefail
if [ $# -ne 3 ]; then
  echo "usage: $0 SOURCE_DIR CRPC_SERVER GREETER_MODULE" >&2
  exit 2
fi
src=$1
server=$2
greeter=$3
unit=$src/examples/deploy/crpc-server.service
k8s=$src/examples/deploy/kubernetes/greeter.yaml

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# flag_value NAME ARGS...: the value of the last --NAME in ARGS (given as
# --NAME VALUE or --NAME=VALUE), or nothing.
flag_value() {
  local name=$1 v='' prev=''
  shift
  for a in "$@"; do
    case $a in --$name=*) v=${a#*=} ;; esac
    [ "$prev" = "--$name" ] && v=$a
    prev=$a
  done
  echo "$v"
}

# accepted NAME ARGS...: crpc-server ARGS --list, with the greeter module
# for every --module, exits 0 and lists the greeter's services.
accepted() {
  local name=$1 args=() prev='' a rc=0
  shift
  for a in "$@"; do
    if [ "$prev" = --module ]; then
      a=$greeter
    elif [[ $a == --module=* ]]; then
      a=--module=$greeter
    fi
    args+=("$a")
    prev=$a
  done
  timeout 20 "$server" "${args[@]}" --list >"$tmp/out" 2>"$tmp/err" </dev/null ||
    rc=$?
  if [ "$rc" -ne 0 ] || ! grep -q '^  greeter\.Greeter$' "$tmp/out"; then
    fail "$name: crpc-server ${args[*]} --list: status $rc: $(cat "$tmp/err")"
  else
    echo "ok   $name: crpc-server accepts its command line"
  fi
}

# stop_time NAME GIVEN ARGS...: GIVEN seconds exceed the lame-duck period
# plus the drain of ARGS.
stop_time() {
  local name=$1 given=$2 lame drain
  shift 2
  lame=$(flag_value lame-duck-seconds "$@")
  drain=$(flag_value drain-seconds "$@")
  if [ -z "$lame" ] || [ -z "$drain" ]; then
    fail "$name: no --lame-duck-seconds or no --drain-seconds"
  elif [ -z "$given" ] || [ "$given" -le $((lame + drain)) ]; then
    fail "$name: ${given:-no} seconds to stop, not more than $lame + $drain"
  else
    echo "ok   $name: $given s to stop > $lame s lame duck + $drain s drain"
  fi
}

# The systemd unit: ExecStart's words, continuation lines joined.
read -r -a cmd <<<"$(sed -n '/^ExecStart=/,/[^\\]$/p' "$unit" |
  sed 's/^ExecStart=//; s/\\$//' | tr '\n' ' ')"
[ "${cmd[0]:-}" = /usr/bin/crpc-server ] ||
  fail "systemd: ExecStart runs ${cmd[0]:-nothing}, not /usr/bin/crpc-server"
args=("${cmd[@]:1}")
accepted systemd "${args[@]}"
stop_time systemd "$(sed -n 's/^TimeoutStopSec=\([0-9]*\)$/\1/p' "$unit")" \
  "${args[@]}"
grep -qx 'KillSignal=SIGTERM' "$unit" || fail "systemd: no KillSignal=SIGTERM"
grep -qx 'DynamicUser=yes' "$unit" || fail "systemd: no DynamicUser=yes"
prev=''
for a in "${args[@]}"; do
  if [ "$prev" = --listen ] || [ "$prev" = --metrics-listen ]; then
    [[ $a == 127.0.0.1:* || $a == '[::1]:'* || $a == unix:* ]] ||
      fail "systemd: $prev $a is not a loopback address"
  fi
  prev=$a
done

# The Kubernetes Deployment: its container's args, with the pod's address
# as the kubelet puts it into $(POD_IP).
mapfile -t args < <(sed -n '/^ *args:$/,/^ *ports:$/s/^ *- \(--.*\)$/\1/p' "$k8s" |
  sed 's/\$(POD_IP)/127.0.0.1/g')
accepted kubernetes "${args[@]}"
stop_time kubernetes \
  "$(sed -n 's/^ *terminationGracePeriodSeconds: *\([0-9]*\)$/\1/p' "$k8s")" \
  "${args[@]}"
listen=$(flag_value listen "${args[@]}")
port=${listen##*:}
[ "$listen" = "127.0.0.1:$port" ] ||
  fail "kubernetes: --listen is not \$(POD_IP):PORT but $listen"
grep -q 'fieldPath: status.podIP$' "$k8s" ||
  fail "kubernetes: POD_IP does not come from status.podIP"
probes=$(sed -n '/^ *grpc:$/{n;s/^ *port: *\([0-9]*\)$/\1/p}' "$k8s" | sort -u)
if [ "$(grep -c '^ *grpc:$' "$k8s")" -ne 2 ] || [ "$probes" != "$port" ]; then
  fail "kubernetes: not two gRPC probes on port $port (ports: $probes)"
else
  echo "ok   kubernetes: readiness and liveness probe gRPC health on $port"
fi
grep -qx "              containerPort: $port" "$k8s" ||
  fail "kubernetes: no containerPort $port"
grep -qx '  clusterIP: None' "$k8s" || fail "kubernetes: the Service is not headless"

[ "$failures" -eq 0 ] || exit 1
echo "all checks passed"
