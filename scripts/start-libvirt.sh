#!/usr/bin/env bash
# Start virtlogd and libvirtd in the background when no service manager runs them, and wait
# until qemu:///system answers. Idempotent: running daemons are left alone.
set -euo pipefail
getent group kvm >/dev/null || groupadd -r kvm
getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
id libvirt-qemu >/dev/null 2>&1 || useradd -r -g libvirt-qemu -G kvm -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
getent group libvirt >/dev/null || groupadd -r libvirt
mkdir -p /var/lib/libvirt/qemu /var/log/libvirt/qemu /run/libvirt

pgrep -x virtlogd >/dev/null || virtlogd -d
pgrep -x libvirtd >/dev/null || libvirtd -d
for _ in $(seq 1 100); do
  virsh -q -c qemu:///system version >/dev/null 2>&1 && { echo "libvirtd is answering on qemu:///system"; exit 0; }
  sleep 0.1
done
echo "start-libvirt: libvirtd did not answer on qemu:///system within 10 s; see /var/log/libvirt" >&2
exit 1
