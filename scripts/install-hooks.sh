#!/usr/bin/env bash
# Install the vmbatch Torque hooks:
#   MOM_PRIV/prologue, MOM_PRIV/epilogue   root:root 0500 (pbs_mom refuses group/world-writable hooks)
#   STARTER                                root:root 0755, for the `$job_starter STARTER` line in MOM_PRIV/config
# usage: install-hooks.sh MOM_PRIV [CONFIG] [STARTER]
#   CONFIG  default /etc/vmbatch/vmbatch.json     STARTER  default /usr/local/sbin/vmbatch-remoteshell
set -euo pipefail
mom_priv=${1:?usage: install-hooks.sh MOM_PRIV [CONFIG] [STARTER]}
config=${2:-/etc/vmbatch/vmbatch.json}
starter=${3:-/usr/local/sbin/vmbatch-remoteshell}
home=$(cd "$(dirname "$0")/.." && pwd)
node=$(command -v node) || { echo "install-hooks: node is not on PATH" >&2; exit 1; }
[[ -f $home/dist/src/cli/main.js ]] || { echo "install-hooks: $home/dist is missing: run 'npm run build' first" >&2; exit 1; }
[[ -d $mom_priv ]] || { echo "install-hooks: $mom_priv is not a directory" >&2; exit 1; }

render() { sed -e "s|@VMBATCH_HOME@|$home|g" -e "s|@VMBATCH_CONFIG@|$config|g" -e "s|@NODE@|$node|g" "$home/torque-hooks/$1"; }
install_file() { # name dest mode
  local tmp
  tmp=$(mktemp "$(dirname "$2")/.vmbatch-hook.XXXXXX")
  render "$1" > "$tmp"
  chown 0:0 "$tmp"
  chmod "$3" "$tmp"
  mv -f "$tmp" "$2"
}
install_file prologue "$mom_priv/prologue" 0500
install_file epilogue "$mom_priv/epilogue" 0500
mkdir -p "$(dirname "$starter")"
install_file remoteshell "$starter" 0755
echo "installed $mom_priv/prologue, $mom_priv/epilogue and $starter"
echo "add to $mom_priv/config and restart pbs_mom:  \$job_starter $starter"
