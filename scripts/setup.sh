#!/usr/bin/env bash
# Everything a fresh Debian 12 machine needs before `make demo` or `make test`: packages,
# the libvirt daemons, the build, the test guests (busybox, and Debian with cloud-init). Root only (pbs_mom runs hooks as root).
# usage: setup.sh [demo]   demo: only what `make demo` uses (no Slurm, no cloud-init guest: a minute of debootstrap saved)
set -euo pipefail
only_demo=$([[ ${1:-} == demo ]] && echo 1 || echo 0)
cd "$(dirname "$0")/.."
[[ $(id -u) == 0 ]] || { echo "setup: run as root (the hooks run as root under pbs_mom)" >&2; exit 1; }
bash scripts/install-deps.sh
# Debian's udev rule gives /dev/kvm to group kvm; without udev do it here, or libvirt re-probes
# QEMU's capabilities at every start (~60 s) because KVM looks different to it and to qemu
if [[ -c /dev/kvm ]]; then getent group kvm >/dev/null || groupadd -r kvm; chgrp kvm /dev/kvm; chmod 0660 /dev/kvm; fi
bash scripts/start-libvirt.sh
npm run build --silent
if ((only_demo)); then
  bash scripts/build-test-guest.sh /var/lib/vmbatch/guest
  exit 0
fi
# the SPANK plugin and its wrappers (unchanged files are left alone), then the single-node Slurm,
# restarted only when its configuration or plugin changed
# the test cluster's node reads the config the Slurm tests write (a site uses /etc/vmbatch/vmbatch.json).
# slurm-task runs as the job's user, who must be able to read vmbatch's code: a checkout below a
# private directory (e.g. /root) is installed from a copy, as a site would install into /opt
home=$PWD
dir=$home; readable=1
while [[ $dir != / ]]; do [[ $(( 0$(stat -c %a "$dir") & 05 )) == 5 ]] || readable=0; dir=$(dirname "$dir"); done
if ((!readable)); then
  home=/var/lib/vmbatch/slurm-tree
  mkdir -p "$home" && chmod 0755 "$home"
  for part in package.json dist node_modules slurm torque-hooks; do rm -rf "${home:?}/$part.new" && cp -a "$part" "$home/$part.new" && rm -rf "${home:?}/$part" && mv "$home/$part.new" "$home/$part"; done
  chmod -R a+rX "$home"
fi
VMBATCH_HOME=$home bash scripts/install-slurm.sh /var/lib/vmbatch/slurm-node.json >/dev/null
bash scripts/start-slurm.sh
bash scripts/build-test-guest.sh /var/lib/vmbatch/guest
# a stock Debian cloud image with the real cloud-init (debootstrap; cached in /var/cache/vmbatch)
bash scripts/build-cloud-guest.sh /var/lib/vmbatch/cloud-guest
# Earlier vmbatch versions let libvirt chown the images a guest opened to its qemu user (and
# leave them so); guests now run as per-job uids and shared bases stay root's, read-only to them
for d in /var/lib/vmbatch/guest /var/lib/vmbatch/cloud-guest; do
  find "$d" -maxdepth 1 -type f \( ! -user root -o ! -group root \) ! -name initrd.img -exec chown root:root {} +
done
