# tests/support/require.sh, sourced by test scripts:
#   require PROGRAM...
# stops the calling script with one line naming the Debian package of the
# first PROGRAM that is not installed (the table is in
# tests/peers/python/require.py).
require() {
  if [ ! -x /usr/bin/python3 ]; then
    echo "$(basename "$0"): needs /usr/bin/python3 (Debian package python3;" \
      "scripts/install-deps.sh installs it)" >&2
    exit 1
  fi
  /usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/../peers/python/require.py" \
    "$(basename "$0")" "$@" || exit 1
}
