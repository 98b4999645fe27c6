#!/usr/bin/env bash
# Runs a command with Debian 12's own nodejs 18 as `node`, without touching the machine's node:
# the packages are fetched with apt-get download and unpacked (dpkg -x) into a cache directory;
# the command runs in a private mount namespace where /usr/lib/x86_64-linux-gnu and /usr/share
# are overlaid with the unpacked libnode and its JavaScript dependencies (Debian's node loads
# them from fixed paths). Every process the command starts, whatever its user, inherits that.
# usage: debian-node18.sh COMMAND [ARG...]    (inside: $VMBATCH_NODE18 is the node 18 binary)
set -euo pipefail
[[ $(id -u) == 0 ]] || { echo "debian-node18: run as root (it mounts in a private namespace)" >&2; exit 1; }
cache=${VMBATCH_NODE18_CACHE:-/var/cache/vmbatch-test/node18}
version=$(apt-cache madison nodejs | awk '$3 ~ /^18\./ {print $3; exit}')
[[ -n $version ]] || { echo "debian-node18: apt knows no nodejs 18 (run apt-get update)" >&2; exit 1; }
root=$cache/$version
if [[ ! -x $root/usr/bin/node ]]; then
  rm -rf "$root.tmp" && mkdir -p "$root.tmp/debs" && chmod 0755 "$cache" "$root.tmp"
  # _apt cannot write into root's directory: download as root, quietly
  (cd "$root.tmp/debs" && apt-get download -q=2 "nodejs=$version" libnode108 libc-ares2 libuv1 node-acorn node-cjs-module-lexer node-undici 2>/dev/null)
  for deb in "$root.tmp"/debs/*.deb; do dpkg -x "$deb" "$root.tmp"; done
  rm -rf "$root.tmp/debs" && mv "$root.tmp" "$root"
fi
export VMBATCH_NODE18=$root/usr/bin/node
# shellcheck disable=SC2016 # the inner bash expands $0 and $@
exec unshare -m --propagation private bash -c '
  set -e
  # the machine'"'"'s files win; node 18'"'"'s fill in what the machine lacks
  mount -t overlay overlay -o "lowerdir=/usr/lib/x86_64-linux-gnu:$0/usr/lib/x86_64-linux-gnu" /usr/lib/x86_64-linux-gnu
  mount -t overlay overlay -o "lowerdir=/usr/share:$0/usr/share" /usr/share
  exec "$@"' "$root" "$@"
