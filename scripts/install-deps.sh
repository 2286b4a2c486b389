#!/usr/bin/env bash
# scripts/install-deps.sh [GROUP...]: installs what GROUPs need on Debian 12,
# as root or through sudo. With no GROUP, every group.
#
#   build    compile and install crpc (make build, make install): the
#            compiler, the libraries crpc links, protoc and protoc-c
#   test     make test, test-asan, test-tsan, fuzz: Criterion, clang-format,
#            clang and libFuzzer, the gRPC peers (Python grpcio and h2, Node
#            @grpc/grpc-js, gRPC C++), nginx, prometheus, openssl, groff,
#            unshare and mount, and the aarch64 cross compiler and qemu;
#            it includes bench, whose programs make test runs for a second
#            each, and package, whose Debian package a test builds
#   demo     make demo: Python grpcio for the Python client
#   bench    make bench: gRPC C++ and h2load, the other side of the table
#   package  make package: dpkg-shlibdeps and file, which CPack's Debian
#            generator runs to find the package's library dependencies
#
# Each group is one list below. Idempotent: only missing packages are
# installed, so a machine that has everything does no network work.
set -euo pipefail

build=(
  build-essential cmake pkg-config
  libprotobuf-c-dev protobuf-c-compiler protobuf-compiler
  # the .proto files of protobuf's well-known types and descriptor.proto,
  # and protoc's plugin.proto, which protoc-gen-crpc decodes
  libprotobuf-dev libprotoc-dev
  libnghttp2-dev libuv1-dev libssl-dev zlib1g-dev
  # gRPC's own protos: health, reflection, testing, ...
  grpc-proto
)
demo=(
  python3 python3-grpcio python3-protobuf protobuf-compiler-grpc
)
bench=(
  python3 libgrpc++-dev protobuf-compiler-grpc
  # h2load
  nghttp2-client
  # the certificates of the TLS rows (tests/support/make-test-certs.sh)
  openssl
  # callgrind, for bench/floor/costs.py's counts per call
  valgrind
)
package=(
  dpkg-dev file
)
test=(
  libcriterion-dev clang-format git
  # the libFuzzer targets (tests/fuzz): clang and its libFuzzer runtime
  clang libclang-rt-14-dev
  # the aarch64 context switch, cross-compiled and run under qemu
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
  # gRPC peers and probes: grpcio and its stub generator, a raw HTTP/2
  # peer (h2, hpack), test certificates, pkill
  python3 python3-grpcio python3-protobuf python3-h2 protobuf-compiler-grpc
  openssl procps
  # unshare and mount: the DNS tests' own /etc/hosts, in a mount namespace
  util-linux mount
  # a gRPC reverse proxy (grpc_pass) for the interop tests
  nginx
  # a real Prometheus scraping crpc-server's metrics (server_prometheus)
  prometheus
  # crpc-server's manual page rendered with warnings on (server_crpc_server_man)
  groff-base
  "${bench[@]}"
  "${package[@]}"
)

groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=(build test demo bench package)
packages=()
node_peers=0
for g in "${groups[@]}"; do
  case $g in
  build) packages+=("${build[@]}") ;;
  demo) packages+=("${demo[@]}") ;;
  bench) packages+=("${bench[@]}") ;;
  package) packages+=("${package[@]}") ;;
  test)
    packages+=("${test[@]}")
    node_peers=1
    # Node for the @grpc/grpc-js peers: Debian's, unless a node is already
    # there (a node that ships its own npm must not get Debian's npm too).
    command -v node >/dev/null 2>&1 || packages+=(nodejs)
    command -v npm >/dev/null 2>&1 || packages+=(npm)
    ;;
  *)
    echo "install-deps: unknown group '$g' (build, test, demo, bench, package)" >&2
    exit 2
    ;;
  esac
done

missing=()
for p in $(printf '%s\n' "${packages[@]}" | sort -u); do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
  fi
  echo "install-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Installing nginx or prometheus must not start the system's service (on
  # ports 80 and 9090): the tests run their own, on loopback, with their
  # own configuration. Debian's policy-rc.d says "do not start".
  policy=""
  if [[ " ${missing[*]} " == *" nginx "* || " ${missing[*]} " == *" prometheus "* ]] &&
    [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    trap '$sudo rm -f "$policy"' EXIT
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod 755 "$policy"
  fi
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ -n "$policy" ]; then
    $sudo rm -f "$policy"
    trap - EXIT
  fi
fi

# The Node peers' packages, exactly as package-lock.json pins them. A stamp
# in node_modules records which package.json and lock file it was made
# from, so it is made again only when it is missing or they changed.
if [ $node_peers -eq 1 ]; then
  peers="$(cd "$(dirname "$0")/.." && pwd)/tests/peers/node"
  stamp="$peers/node_modules/.crpc-installed"
  want=$(cat "$peers/package.json" "$peers/package-lock.json" | sha256sum)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "install-deps: installing the Node test peers' packages (npm ci)" >&2
    (cd "$peers" && npm ci --no-audit --no-fund --ignore-scripts \
      --loglevel=error >/dev/null)
    echo "$want" >"$stamp"
  fi
fi
