#!/usr/bin/env bash
# Install vmbatch for Slurm on this node from a checkout (a node installs the packages vmbatch and
# vmbatch-slurm and runs `vmbatch install-hooks slurm`; docs/slurm.md, "Install on a node"):
#   PLUGIN_DIR/vmbatch.so   root:root 0755, the SPANK plugin built here from slurm/vmbatch_spank.c
#   PREFIX/slurm-hook       root:root 0755, run as root by the plugin's job prolog and epilog
#   PREFIX/slurm-task       root:root 0755, run as the user: the plugin starts every task through it
# usage: [VMBATCH_HOME=DIR] install-slurm.sh [CONFIG] [PREFIX]
#   CONFIG  default /etc/vmbatch/vmbatch.json     PREFIX  default /usr/local/libexec/vmbatch
#   VMBATCH_HOME  the vmbatch checkout the wrappers run (default: this one; it must be built)
# Idempotent: a file whose content is unchanged is left alone. Prints what it changed and the
# slurm.conf lines vmbatch needs.
set -euo pipefail
config=${1:-/etc/vmbatch/vmbatch.json}
prefix=${2:-/usr/local/libexec/vmbatch}
src=$(cd "$(dirname "$0")/.." && pwd)
home=${VMBATCH_HOME:-$src}
plugin_dir=${VMBATCH_SLURM_PLUGIN_DIR:-/usr/lib/x86_64-linux-gnu/slurm-wlm}
node=$(command -v node) || { echo "install-slurm: node is not on PATH" >&2; exit 1; }
[[ $(id -u) == 0 ]] || { echo "install-slurm: run as root (the files are root's)" >&2; exit 1; }
[[ $prefix == /* ]] || { echo "install-slurm: PREFIX $prefix must be an absolute path" >&2; exit 1; }
[[ -f $home/dist/src/cli/main.js ]] || { echo "install-slurm: $home/dist is missing: run 'npm run build' in $home first" >&2; exit 1; }
[[ -f /usr/include/slurm/spank.h ]] || { echo "install-slurm: /usr/include/slurm/spank.h is missing: install libslurm-dev (scripts/install-deps.sh)" >&2; exit 1; }
[[ -d $plugin_dir ]] || { echo "install-slurm: $plugin_dir is missing: install slurmd (scripts/install-deps.sh)" >&2; exit 1; }
command -v gcc >/dev/null || { echo "install-slurm: gcc is missing: install it (scripts/install-deps.sh)" >&2; exit 1; }

# put TMP at DEST (mode MODE, root's) unless DEST already has the same content; atomic (same directory + mv)
place() { # tmp dest mode
  if [[ -f $2 ]] && cmp -s "$1" "$2" && [[ $(stat -c '%a %u %g' "$2") == "${3#0} 0 0" ]]; then
    rm -f "$1"; echo "unchanged: $2"
  else
    chown 0:0 "$1"; chmod "$3" "$1"; mv -f "$1" "$2"; echo "installed: $2"
  fi
}

tmp=$(mktemp "$plugin_dir/.vmbatch.so.XXXXXX")
trap 'rm -f "$tmp"' EXIT
gcc -Wall -Wextra -Werror -O2 -shared -fPIC -o "$tmp" "$src/slurm/vmbatch_spank.c"
place "$tmp" "$plugin_dir/vmbatch.so" 0755

trap - EXIT

# the wrappers and the plugin's plugstack.conf line, as a node with the package does it
exec "$node" "$home/dist/src/cli/main.js" install-hooks slurm --prefix "$prefix" --config "$config" --plugin "$plugin_dir/vmbatch.so" --plugstack "${VMBATCH_SLURM_PLUGSTACK:-/etc/slurm/plugstack.conf}"
