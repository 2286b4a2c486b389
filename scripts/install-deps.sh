#!/usr/bin/env bash
# Installs the Debian packages crpc needs to build, test and benchmark, and
# the npm packages of the Node test peers (tests/peers/node).
# Idempotent: only packages that are missing are installed, so a machine that
# has everything does no network work. Runs as root (or through sudo).
set -euo pipefail

packages=(
  # build
  build-essential cmake pkg-config git
  # runtime and code generation
  libprotobuf-c-dev protobuf-c-compiler protobuf-compiler libprotoc-dev
  libprotobuf-dev libnghttp2-dev libuv1-dev libssl-dev zlib1g-dev
  # gRPC's own protos: health, reflection, testing, ...
  grpc-proto
  # tests; the cross compiler and qemu run the aarch64 context switch
  libcriterion-dev clang-format
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
  # gRPC peers of the integration tests: grpcio and its stub generator,
  # gRPC C++, certificates, HTTP/2 probes
  python3-grpcio python3-protobuf protobuf-compiler-grpc libgrpc++-dev
  openssl nghttp2-client
  # a gRPC reverse proxy (grpc_pass) for the interop tests
  nginx
)
# Node for the @grpc/grpc-js peers: Debian's, unless a node is already
# there (a node that ships its own npm must not get Debian's npm too).
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
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
  # Installing nginx must not start the system's nginx on port 80: the tests
  # run their own, on loopback. Debian's policy-rc.d says "do not start".
  policy=""
  if [[ " ${missing[*]} " == *" nginx "* ]] && [ ! -e /usr/sbin/policy-rc.d ]; then
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
peers="$(cd "$(dirname "$0")/.." && pwd)/tests/peers/node"
stamp="$peers/node_modules/.crpc-installed"
want=$(cat "$peers/package.json" "$peers/package-lock.json" | sha256sum)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "install-deps: installing the Node test peers' packages (npm ci)" >&2
  (cd "$peers" && npm ci --no-audit --no-fund --ignore-scripts \
    --loglevel=error >/dev/null)
  echo "$want" >"$stamp"
fi
