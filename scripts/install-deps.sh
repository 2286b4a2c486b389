#!/usr/bin/env bash
# Installs the Debian packages crpc needs to build, test and benchmark.
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
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
