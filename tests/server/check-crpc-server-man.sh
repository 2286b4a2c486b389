#!/usr/bin/env bash
# crpc-server's manual page (server/bin/crpc-server.1): groff renders it
# with every warning on and says nothing, and its OPTIONS list exactly the
# flags `crpc-server --help` lists, no more, no less.
#
# Usage: check-crpc-server-man.sh SOURCE_DIR CRPC_SERVER
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: $0 SOURCE_DIR CRPC_SERVER" >&2
  exit 2
fi
src=$1
server=$2
page=$src/server/bin/crpc-server.1
. "$src/tests/support/require.sh"
require groff

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# Rendered as man(1) renders it, with all of groff's warnings.
rc=0
groff -man -ww -z -Tutf8 "$page" 2>"$tmp/warnings" || rc=$?
if [ "$rc" -ne 0 ] || [ -s "$tmp/warnings" ]; then
  fail "groff -man -ww: status $rc"
  sed 's/^/     /' "$tmp/warnings"
else
  echo "ok   groff -man -ww renders $(basename "$page") without a warning"
fi

# The flags: in --help, each option line starts with two spaces and the
# flag; in the rendered page, each tag of OPTIONS starts at the indent of
# the section text, wide enough that no tag is broken. Both are compared
# as sets (--help, -h is the tag of --help).
"$server" --help >"$tmp/help"
help_flags=$(sed -n 's/^  \(--[a-z-]*\).*/\1/p' "$tmp/help" | sort -u)
man_flags=$(groff -man -Tutf8 -P-cbou -rLL=300n "$page" 2>/dev/null |
  sed -n '/^OPTIONS$/,/^[A-Z]/p' | sed -n 's/^       \(--[a-z-]*\).*/\1/p' |
  sort -u)
if [ -z "$help_flags" ]; then
  fail "crpc-server --help printed no flags"
elif [ "$help_flags" != "$man_flags" ]; then
  fail "the manual page's OPTIONS and --help differ:" \
    "$(diff <(echo "$man_flags") <(echo "$help_flags") | grep '^[<>]' | tr '\n' ' ')" \
    "(< only in the manual page, > only in --help)"
else
  echo "ok   the manual page's OPTIONS list the $(echo "$help_flags" | wc -l) flags of --help"
fi

[ "$failures" -eq 0 ] || exit 1
echo "all checks passed"
