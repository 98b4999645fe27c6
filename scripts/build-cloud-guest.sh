#!/usr/bin/env bash
# Build a stock Debian 12 (bookworm) cloud-style guest with the real cloud-init, from Debian
# packages only: debootstrap (minbase) + systemd, cloud-init (NoCloud only), OpenSSH, the Debian
# cloud kernel and an initramfs-tools initramfs. Nothing is loop- or nbd-mounted: the root
# filesystem is made from a directory with `mkfs.ext4 -d`. Output (default /var/lib/vmbatch/cloud-guest):
#   vmlinuz      the Debian cloud kernel (bzImage; booted directly, root=/dev/vda console=ttyS0)
#   initrd.img   initramfs-tools image with virtio_pci, virtio_blk, virtio_net and ext4
#   root.qcow2   ext4 root filesystem, no partition table (the guest's /dev/vda)
#   BUILD-ID     what it was built from; an unchanged BUILD-ID skips the rebuild
# Downloads are cached in /var/cache/vmbatch/cloud-guest (the debootstrapped base as a tarball,
# the .deb files of the last build), so rebuilding after a package update is quick.
# Usage: build-cloud-guest.sh [OUTDIR] [--verify]
#   --verify  afterwards boot the image once under libvirt (TCG) with a NoCloud seed and wait
#             until cloud-init has run the user-data's runcmd (up to 10 min); the console is
#             copied to $VMBATCH_CHECK_CONSOLE when that is set
# Root only (debootstrap, chroot). Environment: VMBATCH_CLOUD_ROOT_SIZE (filesystem size, 2G).
set -euo pipefail

out=/var/lib/vmbatch/cloud-guest
verify=0
for a in "$@"; do
  case $a in
    --verify) verify=1 ;;
    -*) echo "build-cloud-guest: unknown option $a (usage: $0 [OUTDIR] [--verify])" >&2; exit 2 ;;
    *) out=$a ;;
  esac
done
cache=/var/cache/vmbatch/cloud-guest
suite=bookworm
root_size=${VMBATCH_CLOUD_ROOT_SIZE:-2G}
[[ $(id -u) == 0 ]] || { echo "build-cloud-guest: run as root (debootstrap and chroot need it)" >&2; exit 1; }

need() { command -v "$1" >/dev/null || { echo "build-cloud-guest: '$1' is missing: run scripts/install-deps.sh${2:+ or apt-get install $2}" >&2; exit 1; }; }
# debootstrap is needed by this script only: install it here rather than for every setup
if ! command -v debootstrap >/dev/null; then
  echo "installing debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi
for t in apt-cache debootstrap chroot mkfs.ext4 qemu-img sha256sum tar flock; do need "$t"; done
((verify == 0)) || for t in virsh genisoimage; do need "$t"; done

# The mirror this machine is configured with (deb822 .sources or one-line format): the main
# archive is the entry that carries the plain suite, the security archive the -security suite.
mirror_for() {  # $1 = suite; prints the first configured URI for it
  {
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true
    # deb822 stanzas, turned into one-line entries
    cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk 'BEGIN{RS=""; FS="\n"} {
        t=""; u=""; s=""
        for (i=1;i<=NF;i++) { if ($i ~ /^Types:/) t=substr($i,7); if ($i ~ /^URIs:/) u=substr($i,6); if ($i ~ /^Suites:/) s=substr($i,8) }
        if (t ~ /(^| )deb( |$)/) { split(u,us," "); n=split(s,ss," "); for (j=1;j<=n;j++) print "deb", us[1], ss[j] } }' || true
  } | sed -E 's/\[[^]]*\]//' | awk -v s="$1" '$1=="deb" && $3==s {print $2}' | awk 'NR==1'
}
mirror=$(mirror_for "$suite"); mirror=${mirror:-http://deb.debian.org/debian}
security=$(mirror_for "$suite-security"); security=${security:-http://deb.debian.org/debian-security}
mirror=${mirror%/} security=${security%/}

# What goes into the root on top of minbase. udev and dbus are Recommends of systemd that a
# stock system has (module autoloading, the NoCloud CD's label, hostnamectl); ifupdown with
# isc-dhcp-client is what cloud-init's ENI renderer drives on Debian 12.
kernel_pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
[[ -n $kernel_pkg ]] || { echo "build-cloud-guest: cannot resolve linux-image-cloud-amd64 (run apt-get update)" >&2; exit 1; }
pkgs=(systemd-sysv udev dbus cloud-init openssh-server linux-image-cloud-amd64 "$kernel_pkg" initramfs-tools
      iproute2 ifupdown isc-dhcp-client sudo procps)
versions=$(apt-cache policy "${pkgs[@]}" systemd libc6 python3 | awk '/^[^ ]/{p=$1; sub(/:$/,"",p)} /Candidate:/{print p"="$2}')
build_id=$( { echo "$mirror $security $suite $root_size"; echo "$versions"; cat "$0"; } | sha256sum | cut -c1-16)

# ---------------------------------------------------------------------------------------------
# Boot check: a throwaway domain (TCG even where KVM exists, as in the tests) boots the image
# through a qcow2 overlay with a NoCloud seed CD whose runcmd writes a marker to the serial port.
boot_check() {
  local vdir name xml t0 t1 deadline
  vdir=$(mktemp -d /var/tmp/vmbatch-cloud-check.XXXXXX)
  chmod 755 "$vdir"  # QEMU runs as libvirt-qemu
  name=vmbatch-cloud-check-$$
  # libvirt hands the backing image to libvirt-qemu and does not give it back
  # shellcheck disable=SC2064
  trap "virsh -q -c qemu:///system destroy '$name' >/dev/null 2>&1 || true; rm -rf '$vdir'; chown root:root '$out/root.qcow2'" EXIT
  qemu-img create -q -f qcow2 -b "$out/root.qcow2" -F qcow2 "$vdir/overlay.qcow2"
  mkdir "$vdir/seed"
  printf 'instance-id: test-1\nlocal-hostname: cloud-check\n' > "$vdir/seed/meta-data"
  cat > "$vdir/seed/user-data" <<'U'
#cloud-config
runcmd: [ [sh, -c, "echo CLOUD-INIT-RAN > /dev/ttyS0"] ]
U
  genisoimage -quiet -o "$vdir/seed.iso" -V cidata -R -J "$vdir/seed/meta-data" "$vdir/seed/user-data"
  xml=$vdir/domain.xml
  cat > "$xml" <<X
<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>$name</name>
  <memory unit='MiB'>1024</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$out/vmlinuz</kernel>
    <initrd>$out/initrd.img</initrd>
    <cmdline>root=/dev/vda console=ttyS0</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$vdir/overlay.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <source file='$vdir/seed.iso'/>
      <target dev='hdc' bus='ide'/>
      <readonly/>
    </disk>
    <serial type='file'><source path='$vdir/console.log'/><target port='0'/></serial>
    <memballoon model='none'/>
  </devices>
  <qemu:commandline>
    <qemu:arg value='-netdev'/><qemu:arg value='user,id=vbnet0,restrict=on'/>
    <qemu:arg value='-device'/><qemu:arg value='virtio-net-pci,netdev=vbnet0,bus=pci.0,addr=0x10'/>
  </qemu:commandline>
</domain>
X
  t0=$(date +%s.%N)
  virsh -q -c qemu:///system create "$xml" >/dev/null
  deadline=$(( $(date +%s) + 600 ))
  until grep -aq '^CLOUD-INIT-RAN' "$vdir/console.log" 2>/dev/null; do
    if (( $(date +%s) > deadline )); then
      echo "build-cloud-guest: no CLOUD-INIT-RAN on the console within 10 min; its end:" >&2
      tail -n 40 "$vdir/console.log" >&2 || true
      exit 1
    fi
    if ! virsh -q -c qemu:///system domstate "$name" 2>/dev/null | grep -q running; then
      echo "build-cloud-guest: the guest stopped before cloud-init ran; its console:" >&2
      tail -n 40 "$vdir/console.log" >&2 || true
      exit 1
    fi
    sleep 0.5
  done
  t1=$(date +%s.%N)
  [[ -z ${VMBATCH_CHECK_CONSOLE:-} ]] || cp "$vdir/console.log" "$VMBATCH_CHECK_CONSOLE"
  printf 'boot check: cloud-init ran its runcmd %.1f s after virsh create\n' "$(echo "$t1 - $t0" | bc 2>/dev/null || awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')"
  if grep -aE 'Failed to start|FAILED|Traceback|WARNING' "$vdir/console.log" >/dev/null; then
    echo "boot check: the console reported:"; grep -aE 'Failed to start|FAILED|Traceback|WARNING' "$vdir/console.log" | head -20
  fi
}

up_to_date() {
  [[ -f $out/BUILD-ID && $(cat "$out/BUILD-ID") == "$build_id" && -f $out/vmlinuz && -f $out/initrd.img && -f $out/root.qcow2 ]] || return 1
  echo "cloud guest up to date in $out ($build_id)"
  ((verify == 0)) || boot_check
}
up_to_date && exit 0

# ---------------------------------------------------------------------------------------------
mkdir -p "$cache/debs" "$cache/debootstrap-debs"
exec 9>"$cache/lock"
flock 9  # one build at a time shares the cache; a build that waited may find its work done
up_to_date && exit 0
echo "building cloud guest $build_id from $mirror: ${versions//$'\n'/ }"
started=$(date +%s)
work=$(mktemp -d /var/tmp/vmbatch-cloud-guest.XXXXXX)
root=$work/root
mounted=()
cleanup() {
  local m
  for m in "${mounted[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
  # never remove a tree that still has something mounted in it
  if findmnt -rn -o TARGET | grep -q "^$work/"; then
    echo "build-cloud-guest: $work still has mounts; leaving it in place" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
  DEBIAN_FRONTEND=noninteractive INITRD=No "$@"; }

# 1. The minbase system, kept as a tarball: its key is what debootstrap was asked for. A month-old
#    base is remade; anything newer is brought up to date by apt below.
base_key=$( { debootstrap --version; echo "$suite minbase $mirror"; } | sha256sum | cut -c1-12)
base=$cache/base-$suite-minbase-$base_key.tar
find "$cache" -maxdepth 1 -name "base-$suite-minbase-*.tar" \( ! -name "${base##*/}" -o -mtime +30 \) -delete
mkdir "$root"
if [[ -f $base ]]; then
  tar -C "$root" --numeric-owner --xattrs --xattrs-include='*' -xpf "$base"
else
  debootstrap --variant=minbase --cache-dir="$cache/debootstrap-debs" "$suite" "$root" "$mirror" \
    > "$work/debootstrap.log" 2>&1 || { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }
  rm -f "$root"/var/cache/apt/archives/*.deb
  tar -C "$root" --numeric-owner --xattrs --xattrs-include='*' -cpf "$base.tmp" . && mv -f "$base.tmp" "$base"
fi

# 2. apt and dpkg inside: this machine's mirror, no documentation, no services started
cat > "$root/etc/apt/sources.list" <<S
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security $suite-security main
S
cat > "$root/etc/dpkg/dpkg.cfg.d/90-vmbatch-nodoc" <<'D'
# keep the image small: no documentation or translations (copyrights stay)
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
D
echo 'Acquire::Languages "none";' > "$root/etc/apt/apt.conf.d/90-vmbatch-nolanguages"
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# maintainer scripts (the kernel's, systemd's) want /proc; without mounts, they mostly cope
if mount -t proc proc "$root/proc" 2>/dev/null; then mounted=("$root/proc"); else
  echo "build-cloud-guest: cannot mount /proc in the chroot; going on without it" >&2; fi

# 3. the packages, through the .deb cache of the previous build
cp -l "$cache"/debs/*.deb "$root/var/cache/apt/archives/" 2>/dev/null || cp "$cache"/debs/*.deb "$root/var/cache/apt/archives/" 2>/dev/null || true
in_root apt-get update -qq
in_root apt-get -y -qq -o Dpkg::Use-Pty=0 dist-upgrade > "$work/apt.log" 2>&1 || { tail -n 30 "$work/apt.log" >&2; exit 1; }
in_root apt-get install -y -qq -o Dpkg::Use-Pty=0 --no-install-recommends "${pkgs[@]}" >> "$work/apt.log" 2>&1 ||
  { tail -n 30 "$work/apt.log" >&2; exit 1; }
# keep exactly the .debs of what is installed now for the next build
rm -f "$cache"/debs/*.deb
# shellcheck disable=SC2016 # dpkg-query's format, not the shell's
in_root dpkg-query -W -f '${Package}_${Version}_${Architecture}.deb\n' | sed 's/:/%3a/' | while read -r d; do
  d=$root/var/cache/apt/archives/$d
  if [[ -f $d ]]; then cp -l "$d" "$cache/debs/" 2>/dev/null || cp "$d" "$cache/debs/"; fi
done

# 4. the initramfs: only what a virtio guest with an ext4 root needs
kver=$(find "$root/lib/modules" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -1)
sed -i 's/^MODULES=.*/MODULES=list/' "$root/etc/initramfs-tools/initramfs.conf"
printf '%s\n' virtio_pci virtio_blk virtio_net ext4 >> "$root/etc/initramfs-tools/modules"
rm -f "$root/boot/initrd.img-$kver"
in_root update-initramfs -c -k "$kver" >> "$work/apt.log" 2>&1 || { tail -n 30 "$work/apt.log" >&2; exit 1; }

# 5. the guest's configuration
cat > "$root/etc/cloud/cloud.cfg.d/90-vmbatch.cfg" <<'C'
# vmbatch: configured from a NoCloud seed (CD labelled cidata) only, never probing the network
datasource_list: [ NoCloud, None ]
# C.UTF-8 is built into glibc: with it as the system locale cloud-init's locale module has
# nothing to generate (en_US.UTF-8, its default, would need the locales package)
locale: C.UTF-8
C
echo 'LANG=C.UTF-8' > "$root/etc/default/locale"
cat > "$root/etc/fstab" <<'F'
/dev/vda  /  ext4  defaults,errors=remount-ro  0  1
F
echo localhost > "$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' > "$root/etc/hosts"
# no password for root: locked, as in Debian's cloud images (keys come from user-data)
in_root usermod -p '*' root
# the serial console: systemd starts serial-getty@ttyS0 for console=ttyS0; enable it anyway
in_root systemctl enable serial-getty@ttyS0.service >/dev/null 2>&1 || true
# fresh at every first boot: a new machine-id, and the SSH host keys from user-data (or made by cloud-init)
: > "$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id" "$root"/etc/ssh/ssh_host_*
rm -rf "$root/var/lib/cloud"

# 6. cleaning up: mounts, apt's caches and lists, logs, documentation from the base
for m in "${mounted[@]}"; do umount "$m"; done
mounted=()
rm -f "$root/usr/sbin/policy-rc.d" "$root/etc/resolv.conf"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/* \
       "$root"/var/log/*.log "$root"/var/log/apt/* "$root"/var/cache/debconf/*-old "$root"/tmp/* "$root"/root/.bash_history
find "$root/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete 2>/dev/null || true
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/lintian/*
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} + 2>/dev/null || true

# 7. the images: kernel and initramfs beside the root filesystem, which is made from the directory
cp "$root/boot/vmlinuz-$kver" "$work/vmlinuz"
cp "$root/boot/initrd.img-$kver" "$work/initrd.img"
truncate -s "$root_size" "$work/root.raw"
mkfs.ext4 -q -F -L vbroot -E root_owner=0:0 -d "$root" "$work/root.raw"
qemu-img convert -q -f raw -O qcow2 "$work/root.raw" "$work/root.qcow2"

mkdir -p "$out"
for f in vmlinuz initrd.img root.qcow2; do
  install -m 0644 "$work/$f" "$out/.$f.tmp" && mv -f "$out/.$f.tmp" "$out/$f"
done
echo "$build_id" > "$out/.BUILD-ID.tmp" && mv -f "$out/.BUILD-ID.tmp" "$out/BUILD-ID"
echo "cloud guest built in $out in $(( $(date +%s) - started )) s: kernel $kver, root $(du -sh --apparent-size "$root" | cut -f1) of files," \
  "root.qcow2 $(du -h "$out/root.qcow2" | cut -f1), initrd $(du -h "$out/initrd.img" | cut -f1)"
cleanup
trap - EXIT
((verify == 0)) || boot_check
