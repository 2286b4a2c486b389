# tests/install/lib.sh, sourced by the checks that build against an
# installed crpc: a scratch directory cleaned on exit, the build installed
# into a prefix there, and serve() to run a module under the installed
# crpc-server. The caller sets `src` and `build` before sourcing.
#
#   tmp       the scratch directory
#   prefix    where the build is installed (by install_prefix)
#   libdir    the prefix's library directory (by install_prefix)
tmp=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# fail MESSAGE...: says what failed, with the server's log if there is one.
fail() {
  echo "FAIL: $*"
  if [ -s "$tmp/server.err" ]; then
    echo "--- crpc-server stderr ---"
    cat "$tmp/server.err"
  fi
  exit 1
}

# install_prefix: installs the build into $tmp/prefix; sets prefix, libdir
# and PKG_CONFIG_PATH for it.
install_prefix() {
  prefix=$tmp/prefix
  cmake --install "$build" --prefix "$prefix" >/dev/null
  local pc
  pc=$(find "$prefix" -name crpc.pc -path '*/pkgconfig/*' | head -n 1)
  [ -n "$pc" ] || fail "no crpc.pc under $prefix"
  export PKG_CONFIG_PATH=${pc%/crpc.pc}
  libdir=$(realpath "$(pkg-config --variable=libdir crpc)")
}

# exited PID: nonzero while PID runs, zero once it is gone or a zombie
# waiting to be reaped.
exited() {
  local state
  state=$(sed -n 's/^.*) \([A-Z]\) .*$/\1/p' "/proc/$1/stat" 2>/dev/null || true)
  [ -z "$state" ] || [ "$state" = Z ]
}

# serve NAME MODULE CLIENT [MODULE_ARG...]: the prefix's crpc-server serves
# MODULE (with each MODULE_ARG as a --module-arg) on a port of its
# choosing, for one run of CLIENT 127.0.0.1:PORT; then SIGTERM must stop it
# with status 0.
serve() {
  local name=$1 module=$2 client=$3 port='' rc=0 margs=() a
  shift 3
  for a in "$@"; do
    margs+=(--module-arg "$a")
  done
  : >"$tmp/server.err"
  "$prefix/bin/crpc-server" --listen 127.0.0.1:0 --module "$module" \
    "${margs[@]}" --loops 1 --workers 2 </dev/null >/dev/null \
    2>"$tmp/server.err" &
  pid=$!
  # The port from "listening on 127.0.0.1:PORT (h2c)", polled for 20 s.
  for _ in $(seq 400); do
    port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\) .*/\1/p' \
      "$tmp/server.err" | head -n 1)
    [ -n "$port" ] && break
    exited "$pid" && fail "$name: crpc-server exited before listening"
    sleep 0.05
  done
  [ -n "$port" ] || fail "$name: no 'listening on 127.0.0.1:PORT' in 20 s"
  # The server and the module it loaded run the prefix's libcrpc.
  grep -q " $libdir/libcrpc\.so" "/proc/$pid/maps" ||
    fail "$name: crpc-server does not map $libdir/libcrpc.so"
  echo "$name: crpc-server serves $(basename "$module") on 127.0.0.1:$port"
  LD_LIBRARY_PATH=$libdir timeout 60 "$client" "127.0.0.1:$port" ||
    fail "$name: the client's checks failed"
  kill -TERM "$pid"
  for _ in $(seq 400); do
    exited "$pid" && break
    sleep 0.05
  done
  exited "$pid" || fail "$name: crpc-server still running 20 s after SIGTERM"
  wait "$pid" || rc=$?
  pid=
  [ "$rc" -eq 0 ] || fail "$name: crpc-server exited $rc after SIGTERM"
}
