#!/bin/sh
# vmbatch warm-start agent (docs/guest-contract.md, "Warm start") for a guest without vmbatch in
# its image: `vmbatch warm build` boots a cloud-init template with a seed that starts this once,
# as root, in a systemd unit of its own (argument 1: the build's nonce). It reports the generic
# ready state, where the host saves the guest; each job's copy is restored with the job's
# context volume (vmbatch style) in the CD-ROM drive, which this finds and runs.
nonce=$1
echo "VMBATCH-READY $nonce warm" > /dev/ttyS0
mnt=/run/vmbatch-context
mkdir -p "$mnt"
while :; do
  for dev in /dev/sr0 /dev/sr1; do
    [ -b "$dev" ] || continue
    if mount -o ro "$dev" "$mnt" 2>/dev/null; then
      [ -f "$mnt/prolog.sh" ] && VB_WARM_RESTORED=yes exec sh "$mnt/prolog.sh" "$mnt"
      umount "$mnt"
    fi
  done
  sleep 0.02
done
