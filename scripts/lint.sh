#!/usr/bin/env bash
# `make lint`: the type check, eslint (type-aware, no warnings allowed), prettier --check and
# scripts/shellcheck.sh, each under its own header; all run, and the exit status is 1 when any
# of them found something.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
bin=node_modules/.bin
failed=()
step() {
  local name=$1
  shift
  echo "== $name"
  "$@" || failed+=("$name")
}
step 'tsc --noEmit' "$bin/tsc" -p tsconfig.json --noEmit
step 'eslint' "$bin/eslint" --max-warnings 0 .
step 'prettier --check' "$bin/prettier" --check --log-level warn .
step 'shellcheck' bash scripts/shellcheck.sh
if ((${#failed[@]})); then
  echo "lint: findings from: ${failed[*]}" >&2
  exit 1
fi
echo 'lint: clean'
