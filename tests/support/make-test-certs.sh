#!/bin/sh
# tests/support/make-test-certs.sh DIR: makes the certificates TLS tests use.
#
#   ca.pem, ca.key          a test certificate authority
#   server.pem, server.key  a server certificate for localhost, 127.0.0.1
#                           and ::1, signed by that CA
#   client.pem, client.key  a client certificate signed by the same CA:
#                           CN "crpc test client", subjectAltNames
#                           DNS:client.crpc.test,
#                           URI:spiffe://crpc.test/client, IP:127.0.0.1,
#                           email:client@crpc.test
#   other-client.pem, other-client.key
#                           another client certificate signed by that CA,
#                           with other names: CN "crpc other client",
#                           DNS:other.crpc.test
#   other-ca.pem            a second, unrelated CA, for negative tests
#
# Keys are EC P-256, so it takes well under a second. Idempotent: a complete
# set already in DIR is kept; otherwise a new set replaces whatever is there.
# Never prompts.
set -eu

if [ $# -ne 1 ]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
dir=$1
files="ca.pem ca.key server.pem server.key client.pem client.key
other-client.pem other-client.key other-ca.pem"

/usr/bin/python3 "$(dirname "$0")/../peers/python/require.py" \
  "$(basename "$0")" openssl || exit 1

mkdir -p "$dir"
complete=1
for f in $files; do
  [ -s "$dir/$f" ] || complete=0
done
[ $complete -eq 1 ] && exit 0

# Built in a private directory and moved in at the end, so that DIR never
# holds a half-made set.
work=$(mktemp -d "$dir/.make-test-certs.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

days=3650

# Runs a command, showing its chatter only when it fails.
quiet() {
  out=$("$@" 2>&1) || {
    printf '%s\n' "$out" >&2
    return 1
  }
}

key() {
  quiet openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -out "$work/$1"
}

# ca NAME CN: a self-signed CA certificate NAME.pem with key NAME.key.
ca() {
  key "$1.key"
  cat >"$work/$1.ext" <<EXT
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EXT
  quiet openssl req -new -key "$work/$1.key" -subj "/O=crpc test/CN=$2" \
    -out "$work/$1.csr" -batch
  quiet openssl x509 -req -in "$work/$1.csr" -signkey "$work/$1.key" \
    -days $days -set_serial 1 -extfile "$work/$1.ext" \
    -out "$work/$1.pem"
}

# leaf NAME CN SERIAL EKU [SAN]: NAME.pem and NAME.key signed by ca.
leaf() {
  key "$1.key"
  {
    echo "basicConstraints = critical, CA:FALSE"
    echo "keyUsage = critical, digitalSignature"
    echo "extendedKeyUsage = $4"
    echo "authorityKeyIdentifier = keyid"
    if [ $# -ge 5 ]; then
      echo "subjectAltName = $5"
    fi
  } >"$work/$1.ext"
  quiet openssl req -new -key "$work/$1.key" -subj "/O=crpc test/CN=$2" \
    -out "$work/$1.csr" -batch
  quiet openssl x509 -req -in "$work/$1.csr" -CA "$work/ca.pem" \
    -CAkey "$work/ca.key" -days $days -set_serial "$3" \
    -extfile "$work/$1.ext" -out "$work/$1.pem"
}

ca ca "crpc test CA"
ca other-ca "crpc other test CA"
leaf server localhost 2 serverAuth \
  "DNS:localhost, IP:127.0.0.1, IP:::1"
leaf client "crpc test client" 3 clientAuth \
  "DNS:client.crpc.test, URI:spiffe://crpc.test/client, IP:127.0.0.1, email:client@crpc.test"
leaf other-client "crpc other client" 4 clientAuth "DNS:other.crpc.test"

for f in $files; do
  mv -f "$work/$f" "$dir/$f"
done
