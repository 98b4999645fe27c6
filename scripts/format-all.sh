#!/usr/bin/env bash
# The one-time pass that brings every file to prettier's format (issue 19), to run once on main
# after merging: it rewrites the files in place (make format), checks the result still type-checks
# and lints, and prints the commit to make. Refuses a tree with uncommitted changes, so that the
# formatting commit holds nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -z $(git status --porcelain --untracked-files=no) ]] || { echo "format-all: commit or stash your changes first" >&2; exit 1; }
make --no-print-directory format
changed=$(git diff --name-only | wc -l)
echo "format-all: prettier rewrote $changed files"
node_modules/.bin/tsc -p tsconfig.json --noEmit
node_modules/.bin/eslint --max-warnings 0 .
echo "format-all: now review and commit: git commit -am 'Format every file with prettier (issue 19), once'"
