#!/usr/bin/env bash
# Install what vmbatch and its tests need on Debian 12: libvirt (daemon, QEMU driver, clients),
# QEMU with TCG, qemu-img, genisoimage/isoinfo, the test guest's build tools, cloud-init (its
# `cloud-init schema` checks the user-data vmbatch writes), Slurm (controller, node daemon, clients,
# munge, and libslurm-dev with gcc to build the SPANK plugin), Debian's packaging tools (make deb),
# the linter shellcheck (make lint), and npm packages.
# Idempotent: installs only what is missing.
set -euo pipefail
pkgs=(libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients libxml2-utils qemu-system-x86 qemu-utils
      genisoimage e2fsprogs cpio lz4 kmod util-linux tar busybox-static dropbear-bin openssh-client
      python3 cloud-init debootstrap fdisk xz-utils
      slurmctld slurmd slurm-client munge libslurm-dev gcc
      debhelper lintian dpkg-dev shellcheck)
missing=()
for p in "${pkgs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p"); done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
cd "$(dirname "$0")/.."
[[ -d node_modules/ssh2 && node_modules/.package-lock.json -nt package-lock.json ]] || npm ci --no-audit --no-fund --loglevel=error
