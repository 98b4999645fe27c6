#!/usr/bin/env bash
# Runs shellcheck over every shell file the project ships, found by name (*.sh) and by shebang (sh,
# bash, dash, busybox sh): the hooks, the Slurm wrappers, the maintainer scripts, CI, the build
# and setup scripts, and the guest-side scripts. Exits 1 on any finding.
# Guest-side scripts (src/context/guest, scripts/test-guest) run as root in every job's guest:
# they are held to every finding, down to style (-S style), whatever the default becomes.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v shellcheck >/dev/null || { echo "shellcheck: not installed (scripts/install-deps.sh installs it)" >&2; exit 2; }
guest=()
host=()
while IFS= read -r -d '' f; do
  case $f in
    *.sh) ;;
    *) head -n 1 "$f" | grep -qE '^#![^[:space:]]*/((env|busybox)[[:space:]]+)?(ba|da)?sh([[:space:]]|$)' || continue ;;
  esac
  case $f in
    ./src/context/guest/* | ./scripts/test-guest/*) guest+=("$f") ;;
    *) host+=("$f") ;;
  esac
done < <(find . \( -name node_modules -o -name .git -o -name dist -o -name 'dist.*' -o -name coverage -o -name .vmbatch-dev \
  -o -path ./debian/vmbatch -o -path ./debian/vmbatch-slurm -o -path ./debian/bundle -o -path ./debian/.debhelper \) -prune -o -type f -print0 | sort -z)
rc=0
shellcheck -S style "${guest[@]}" || rc=1
shellcheck "${host[@]}" || rc=1
echo "shellcheck: ${#guest[@]} guest-side files (-S style), ${#host[@]} others ($( ((rc)) && echo findings || echo clean))"
exit "$rc"
