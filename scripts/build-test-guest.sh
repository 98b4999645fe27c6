#!/usr/bin/env bash
# Build the tiny test guest from Debian packages only: a Debian cloud kernel (booted as the
# uncompressed vmlinux through its PVH entry), busybox-static, dropbear and its libraries, and
# the kernel modules it needs. Output (default /var/lib/vmbatch/guest):
#   vmlinux      uncompressed kernel (PVH entry; ~4 s faster than the bzImage under TCG)
#   initrd.img   busybox + dropbear + modules + /init (the guest side of the contract)
#   disk.qcow2   a 64 MiB ext4 data disk mounted at /home in the guest
#   BUILD-ID     what it was built from; an unchanged BUILD-ID skips the rebuild
# initrd.img holds the guests' site host private key (ROOTSSH): it is root:GROUP 0640, GROUP
# being the group every guest's qemu runs with (guestIdentity.group, VMBATCH_GUEST_GROUP).
set -euo pipefail

out=${1:-/var/lib/vmbatch/guest}
group=${VMBATCH_GUEST_GROUP:-libvirt-qemu}
getent group "$group" >/dev/null || { echo "build-test-guest: group '$group' does not exist (VMBATCH_GUEST_GROUP)" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/vmbatch-guest.XXXXXX)
trap 'rm -rf "$work"' EXIT

need() { command -v "$1" >/dev/null || { echo "build-test-guest: '$1' is missing: run scripts/install-deps.sh" >&2; exit 1; }; }
for t in apt-get dpkg-deb lz4 cpio mkfs.ext4 qemu-img depmod gzip gcc; do need "$t"; done

kernel_pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
[[ -n $kernel_pkg ]] || { echo "build-test-guest: cannot resolve linux-image-cloud-amd64 (run apt-get update)" >&2; exit 1; }
pkgs=("$kernel_pkg" busybox-static dropbear-bin libtomcrypt1 libtommath1 zlib1g libcrypt1 libc6 libgmp10)
versions=$(for p in "${pkgs[@]}"; do apt-cache policy "$p" | awk -v p="$p" '/Candidate:/{print p"="$2}'; done)
build_id=$( { echo "$versions"; cat "$here/test-guest/init" "$here/test-guest/vb-reseed.c" "$here/test-guest/vb-sudo.c" "$0"; } | sha256sum | cut -c1-16)
if [[ -f $out/BUILD-ID && $(cat "$out/BUILD-ID") == "$build_id" && -f $out/vmlinux && -f $out/initrd.img && -f $out/disk.qcow2 && -f $out/root_ssh_key ]]; then
  # an initrd installed readable by everyone (older builds) is made private without a rebuild
  if [[ $(stat -c %u:%G:%a "$out/initrd.img") != "0:$group:640" ]]; then
    chown "root:$group" "$out/initrd.img" && chmod 0640 "$out/initrd.img"
    echo "test guest: $out/initrd.img made root:$group 0640"
  fi
  echo "test guest up to date in $out ($build_id)"
  exit 0
fi

echo "building test guest $build_id from: ${versions//$'\n'/ }"
cd "$work"
chmod 755 "$work"
# apt's sandbox user must be able to write here
(cd "$work" && apt-get download -q "${pkgs[@]}" >/dev/null 2>&1) || (cd "$work" && apt-get download "${pkgs[@]}")
mkdir stage root
for deb in *.deb; do dpkg-deb -x "$deb" stage; done

kver=$(find stage/lib/modules -mindepth 1 -maxdepth 1 -printf '%f\n' | sort | head -1)
# The bzImage carries an LZ4 payload: the setup header gives its offset (0x248) after the
# setup sectors (0x1f1); decompressing it yields the ELF vmlinux with its PVH note.
bz=stage/boot/vmlinuz-$kver
setup_sects=$(od -An -tu1 -j $((0x1f1)) -N1 "$bz" | tr -d ' ')
((setup_sects == 0)) && setup_sects=4
payload_off=$(od -An -tu4 -j $((0x248)) -N4 "$bz" | tr -d ' ')
payload_len=$(od -An -tu4 -j $((0x24c)) -N4 "$bz" | tr -d ' ')
start=$(((setup_sects + 1) * 512 + payload_off))
tail -c +$((start + 1)) "$bz" | head -c "$payload_len" | lz4 -dc > vmlinux 2>/dev/null || true
[[ $(head -c4 vmlinux | od -An -c | tr -d ' ') == '177ELF' ]] || { echo "build-test-guest: could not extract vmlinux from $bz" >&2; exit 1; }

# initramfs root
mkdir -p root/{bin,sbin,etc,proc,sys,dev,tmp,run,home,root,mnt,var/log,usr/bin,usr/sbin,lib/x86_64-linux-gnu,lib64,etc/dropbear}
cp stage/bin/busybox root/bin/busybox
cp stage/usr/sbin/dropbear root/usr/sbin/dropbear
cp stage/usr/lib/dropbear/dropbearconvert root/usr/bin/dropbearconvert
cp stage/usr/bin/dropbearkey root/usr/bin/dropbearkey
cp -a stage/lib64/ld-linux-x86-64.so.2 root/lib64/ 2>/dev/null || cp -a stage/usr/lib64/ld-linux-x86-64.so.2 root/lib64/
for lib in libc.so.6 libcrypt.so.1 libtomcrypt.so.1 libtommath.so.1 libz.so.1 libgmp.so.10 ld-linux-x86-64.so.2; do
  src=$(find stage -name "$lib" | head -1)
  [[ -n $src ]] || { echo "build-test-guest: $lib not found in the packages" >&2; exit 1; }
  cp -L "$src" root/lib/x86_64-linux-gnu/"$lib"
done
ln -sf ../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 root/lib64/ld-linux-x86-64.so.2

# modules: virtio transport, disk, net, entropy, the SSH channel (virtio-serial), CD-ROM on IDE,
# iso9660, and virtiofs (with fuse) for the shared directories prolog.sh mounts
mods=(virtio_pci virtio_blk virtio_net virtio-rng virtio_console ata_piix sr_mod isofs virtiofs)
mkdir -p "root/lib/modules/$kver"
cp "stage/lib/modules/$kver"/modules.{order,builtin,builtin.modinfo} "root/lib/modules/$kver/" 2>/dev/null || true
depmod -b stage "$kver"
for m in "${mods[@]}"; do
  modprobe -d stage -S "$kver" --show-depends "$m" | awk '$1=="insmod"{print $2}'
done | sort -u | while read -r ko; do
  rel=${ko#*stage/}
  mkdir -p "root/$(dirname "$rel")"
  cp "stage/$rel" "root/$rel"
done
depmod -b root "$kver"

cat > root/etc/passwd <<'P'
root:x:0:0:root:/root:/bin/sh
P
cat > root/etc/group <<'G'
root:x:0:
G
printf '/bin/sh\n/bin/ash\n' > root/etc/shells
# ROOTSSH: the site's root key is authorised and the guest has a site host key the host knows
ssh-keygen -q -t ed25519 -N '' -C vmbatch-site-root -f root_ssh_key
ssh-keygen -q -t ed25519 -N '' -C vmbatch-test-guest -f guest_host_key
mkdir -p root/root/.ssh && chmod 700 root/root/.ssh
install -m 0600 root_ssh_key.pub root/root/.ssh/authorized_keys
/usr/lib/dropbear/dropbearconvert openssh dropbear guest_host_key root/etc/dropbear/site_host_key >/dev/null 2>&1
install -m 0755 "$here/test-guest/init" root/init
# the warm-start reseed (docs/guest-contract.md): linked against the initramfs's own libc
gcc -O2 -Wall -Werror -o root/usr/sbin/vb-reseed "$here/test-guest/vb-reseed.c"
# sudo for a job with root in its guest (vbroot=yes): the rule prolog.sh writes, setuid root
gcc -O2 -Wall -Werror -o root/usr/bin/sudo "$here/test-guest/vb-sudo.c" && chmod 4755 root/usr/bin/sudo
install -m 0755 "$here/test-guest/udhcpc.script" root/etc/udhcpc.script
(cd root && find . | LC_ALL=C sort | cpio -o -H newc --quiet --reproducible | gzip -1) > initrd.img

# the data disk: ext4 without root or a mount (mkfs -d), as qcow2
mkdir -p diskroot
echo "vmbatch test guest data disk" > diskroot/README
truncate -s 64M disk.raw
mkfs.ext4 -q -F -L vbhome -d diskroot disk.raw
qemu-img convert -q -f raw -O qcow2 disk.raw disk.qcow2

mkdir -p "$out"
for f in vmlinux disk.qcow2 guest_host_key.pub root_ssh_key.pub; do
  install -m 0644 "$f" "$out/.$f.tmp" && mv -f "$out/.$f.tmp" "$out/$f"
done
# the site host private key is inside: the guests' group may read it, other local users not
install -m 0640 -o root -g "$group" initrd.img "$out/.initrd.img.tmp" && mv -f "$out/.initrd.img.tmp" "$out/initrd.img"
install -m 0600 root_ssh_key "$out/.root_ssh_key.tmp" && mv -f "$out/.root_ssh_key.tmp" "$out/root_ssh_key"
echo "$build_id" > "$out/.BUILD-ID.tmp" && mv -f "$out/.BUILD-ID.tmp" "$out/BUILD-ID"
echo "test guest built in $out: kernel $kver, initrd $(du -h "$out/initrd.img" | cut -f1)"
