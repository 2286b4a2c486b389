#!/usr/bin/env bash
# Checks (or with --fix, applies) clang-format on every tracked C source and
# header. Generated files under build directories are not tracked.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=check
[ "${1:-}" = "--fix" ] && mode=fix

mapfile -t files < <(git ls-files -co --exclude-standard -- '*.c' '*.h' |
  while read -r f; do [ -f "$f" ] && echo "$f"; done)
[ ${#files[@]} -eq 0 ] && exit 0

if [ "$mode" = fix ]; then
  clang-format -i "${files[@]}"
  exit 0
fi

bad=()
for f in "${files[@]}"; do
  if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
    bad+=("$f")
  fi
done
if [ ${#bad[@]} -ne 0 ]; then
  echo "format check: these files are not clang-format clean:" >&2
  printf '  %s\n' "${bad[@]}" >&2
  echo "run 'make format' to fix them" >&2
  exit 1
fi
echo "format check: ${#files[@]} files clean"
