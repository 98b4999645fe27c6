#!/bin/sh
# vmbatch guest prolog: run by the guest's init from the context volume (argument 1 = where
# the volume is mounted). Portable POSIX sh: busybox, dropbear, or a full distribution with
# useradd and OpenSSH. It creates the submitting user with the host's uid/gid, authorises the
# per-job key, installs the per-job host key, installs the job script, serves SSH on the
# virtio-serial port org.vmbatch.ssh and finally reports readiness (or failure) on the console
# named in vmbatch.env.
set -eu
ctx=${1:-$(dirname "$0")}
# shellcheck source=/dev/null # the context's, written for each job
. "$ctx/vmbatch.env"
console=${VB_READY_CONSOLE:-/dev/ttyS0}

report() { printf '%s %s %s\n' "$1" "$VB_NONCE" "$2" > "$console" 2>/dev/null || true; }
fail() { report VMBATCH-FAILED "$*"; exit 1; }
trap 'fail "prolog.sh stopped at line ${LINENO:-?}"' EXIT

# a guest restored from a warm state (the agent says so with VB_WARM_RESTORED=yes) is a copy:
# it becomes a machine of its own before anything of the job arrives (docs/guest-contract.md)
if [ "${VB_WARM_RESTORED:-}" = yes ]; then
  # the kernel's random state is every copy's: mix in the job's seed and reseed at once
  if command -v vb-reseed >/dev/null 2>&1; then vb-reseed "$VB_SEED" || fail "cannot reseed the kernel's random generator"
  elif command -v perl >/dev/null 2>&1; then
    VB_SEED=$VB_SEED perl -e 'open(my $r, ">", "/dev/urandom") or exit 1; syswrite($r, $ENV{VB_SEED}) or exit 1; ioctl($r, 0x5207, 0) or exit 1' || fail "cannot reseed the kernel's random generator"
  else fail "no way to reseed the kernel's random generator (vb-reseed or perl)"; fi
  printf '%s\n' "$VB_MACHINE_ID" > /etc/machine-id
  # the clock stood still while the state was saved: the real-time clock's (QEMU's follows the
  # host's), or the host's when the job was planned if the RTC says less; read at once from sysfs
  # (hwclock may wait up to a second for the RTC's next tick)
  rtc=$(cat /sys/class/rtc/rtc0/since_epoch 2>/dev/null) || rtc=0
  target=$VB_CLOCK
  [ "${rtc:-0}" -gt "$VB_CLOCK" ] 2>/dev/null && target=$rtc
  now=$(date +%s)
  if [ $((target - now)) -gt 1 ] || [ $((now - target)) -gt 60 ]; then date -s "@$target" >/dev/null || fail "cannot set the clock"; fi
fi

# a static address from the node's pool, where the init has not set it from the boot line
if [ "${VB_NET_MODE:-dhcp}" = static ] && ! ip addr show 2>/dev/null | grep -q "inet ${VB_NET_ADDRESS%/*}/"; then
  dev=$(ip link show 2>/dev/null | sed -n 's/^[0-9]*: \([^:@]*\).*/\1/p' | grep -vx lo | head -n 1)
  [ -n "$dev" ] || fail "no network interface for the static address $VB_NET_ADDRESS"
  { ip link set "$dev" up && ip addr add "$VB_NET_ADDRESS" dev "$dev"; } || fail "cannot set $VB_NET_ADDRESS on $dev"
  [ -z "$VB_NET_GATEWAY" ] || ip route replace default via "$VB_NET_GATEWAY" || fail "cannot route via $VB_NET_GATEWAY"
  if [ -n "$VB_NET_DNS" ]; then for d in $VB_NET_DNS; do echo "nameserver $d"; done > /etc/resolv.conf; fi
fi

# group and user with exactly the host's ids
login_home=${VB_LOGIN_HOME:-$VB_HOME}
if ! grep -q "^$VB_GROUP:" /etc/group; then
  if command -v groupadd >/dev/null 2>&1; then groupadd -g "$VB_GID" "$VB_GROUP" || fail "groupadd $VB_GROUP failed"
  else echo "$VB_GROUP:x:$VB_GID:" >> /etc/group; fi
fi
if ! grep -q "^$VB_USER:" /etc/passwd; then
  shell=$VB_SHELL
  grep -qx "$shell" /etc/shells 2>/dev/null && [ -x "$shell" ] || shell=/bin/sh
  if command -v useradd >/dev/null 2>&1; then
    useradd -M -u "$VB_UID" -g "$VB_GID" -d "$login_home" -s "$shell" -p '*' "$VB_USER" || fail "useradd $VB_USER failed"
  else
    echo "$VB_USER:*:$VB_UID:$VB_GID:vmbatch job user:$login_home:$shell" >> /etc/passwd
  fi
fi
# root for the user by sudo (vbroot=yes, where the site allows it), else no grant an earlier job
# left on the disk (a saved layer); the user's numeric id, so no name is read as a sudoers keyword
if [ "${VB_ROOT:-no}" = yes ]; then
  { command -v sudo >/dev/null 2>&1 && mkdir -p /etc/sudoers.d \
    && printf '#%s ALL=(ALL:ALL) NOPASSWD: ALL\n' "$VB_UID" > /etc/sudoers.d/vmbatch-root \
    && chmod 0440 /etc/sudoers.d/vmbatch-root; } || fail "vbroot=yes: cannot give the user root (the guest needs sudo)"
else
  rm -f /etc/sudoers.d/vmbatch-root
fi
# the per-job key lives in the login home: the host home at the same path when nothing is
# shared over it, else a guest-private one (the shared home is the user's real one on the node)
mkdir -p "$login_home/.ssh"
cp "$ctx/ssh/authorized_keys" "$login_home/.ssh/authorized_keys"
chown "$VB_UID:$VB_GID" "$login_home" "$login_home/.ssh" "$login_home/.ssh/authorized_keys"
chmod 0700 "$login_home" "$login_home/.ssh"
chmod 0600 "$login_home/.ssh/authorized_keys"

# the job script where remoteshell will look for it
mkdir -p "$VB_JOBPATH"
chmod 0755 "$VB_JOBPATH"
cp "$ctx/job/$VB_JOBFILE" "$VB_JOBPATH/$VB_JOBFILE"
chown "$VB_UID:$VB_GID" "$VB_JOBPATH/$VB_JOBFILE"
chmod 0500 "$VB_JOBPATH/$VB_JOBFILE"

# shipped tar files (checked on the host: no entry leaves its target): a relative path is below
# the user's login home and belongs to the user, an absolute one is unpacked as root
if [ -n "${VB_TARFILES:-}" ]; then
  tab=$(printf '\t')
  printf '%s\n' "$VB_TARFILES" > /tmp/vmbatch-tarfiles
  while IFS=$tab read -r file strip zip path; do
    case $path in
      /*) dest=$path ;;
      *) dest=$login_home/$path ;;
    esac
    mkdir -p "$dest"
    z=; [ "$zip" = z ] && z=-z
    tar -x $z -o -f "$ctx/$file" -C "$dest" --strip-components "$strip" || fail "unpacking $file into $dest failed"
    case $path in /*) ;; *) chown -R "$VB_UID:$VB_GID" "$dest" ;; esac
  done < /tmp/vmbatch-tarfiles
  rm -f /tmp/vmbatch-tarfiles
fi

# the job's directories from the node (docs/guest-contract.md): each share mounted over virtiofs
# at its path on the node, parents first; the file server on the node runs as the user, so
# what root here does through it is what the user may do there
if [ -n "${VB_SHARES:-}" ]; then
  modprobe virtiofs 2>/dev/null || true
  printf '%s\n' "$VB_SHARES" > /tmp/vmbatch-shares
  while IFS=$(printf '\t') read -r tag mode path; do
    { mkdir -p "$path" && mount -t virtiofs -o "$mode,nodev" "$tag" "$path"; } \
      || fail "cannot mount the shared directory $path (virtiofs tag $tag): does the guest kernel have virtiofs?"
  done < /tmp/vmbatch-shares
  rm -f /tmp/vmbatch-shares
fi
# the staged working directory: remoteshell copies the job's files in as the user
if [ -n "${VB_STAGE_DIR:-}" ]; then
  { mkdir -p "$VB_STAGE_DIR" && chown "$VB_UID:$VB_GID" "$VB_STAGE_DIR"; } || fail "cannot make the working directory $VB_STAGE_DIR for the staged files"
fi

# the job's runtime environments from the software catalogue, installed as root before the
# guest reports ready (a failure names the package: the host marks it FAILED)
if [ -n "${VB_RTES:-}" ]; then
  out=$(sh "$ctx/rte-install.sh" "$ctx" 2>&1) || fail "$(printf '%s\n' "$out" | tail -n 1)"
fi

# SSH reaches the guest only over the virtio-serial port org.vmbatch.ssh (on the host a unix socket
# that only the submitter and root may open); the SSH server listens on no network address
ssh_port=
for f in /sys/class/virtio-ports/*/name; do
  [ "$(cat "$f" 2>/dev/null)" = org.vmbatch.ssh ] || continue
  d=${f%/name}; ssh_port=/dev/${d##*/}
done
# serves the port unless the guest's init already does (the vmbatch test guest does): a port may be
# open only once at a time, so one read-write descriptor carries both directions
serve_ssh_port() {
  [ -n "$ssh_port" ] || fail "no virtio-serial port org.vmbatch.ssh: the template needs <vbsshchannel/>"
  [ -f /run/vmbatch-ssh-relay.pid ] && kill -0 "$(cat /run/vmbatch-ssh-relay.pid)" 2>/dev/null && return 0
  ( exec 3<>"$ssh_port" || exit 1
    while :; do "$@" <&3 >&3 2>/dev/null || sleep 1; done ) </dev/null >/dev/null 2>&1 &
  echo $! > /run/vmbatch-ssh-relay.pid
}

# the per-job host key, so the host verifies this guest instead of trusting on first use
if command -v dropbear >/dev/null 2>&1; then
  mkdir -p /etc/dropbear
  dropbearconvert openssh dropbear "$ctx/ssh/ssh_host_ed25519_key" /etc/dropbear/dropbear_ed25519_host_key >/dev/null 2>&1 \
    || fail "dropbearconvert could not read the host key"
  # a root SSH server the host used to run this script (ROOTSSH) gives way; its session lives on
  [ -f /run/dropbear.pid ] && kill "$(cat /run/dropbear.pid)" 2>/dev/null && rm -f /run/dropbear.pid
  # -s: no passwords, -w: no root logins; loopback only; dropbear returns once it listens.
  # -W 1 MiB receive window: at dropbear's default 24 KiB the host can send only that much per
  # round trip over the channel (~0.45 MiB/s into a TCG guest, 9 MiB/s with 1 MiB: bench/shares.ts)
  dropbear -r /etc/dropbear/dropbear_ed25519_host_key -p 127.0.0.1:22 -s -w -W 1048576 || fail "dropbear did not start"
  # dropbear -i needs a socket: nc bridges the port to it (a line before the SSH version blocks
  # until a host client is connected, where reading the port would return end-of-file at once)
  serve_ssh_port sh -c 'printf "vmbatch-ssh-channel\r\n" && exec nc 127.0.0.1 22'
elif command -v sshd >/dev/null 2>&1; then
  install -m 0600 "$ctx/ssh/ssh_host_ed25519_key" /etc/ssh/ssh_host_ed25519_key
  install -m 0644 "$ctx/ssh/ssh_host_ed25519_key.pub" /etc/ssh/ssh_host_ed25519_key.pub
  mkdir -p /run/sshd
  # sshd -i serves one connection on its standard input and output; the marker line before it
  # blocks until a host client is connected
  # shellcheck disable=SC2016 # $0 is the inner shell's: the sshd path passed to it
  serve_ssh_port sh -c 'printf "vmbatch-ssh-channel\r\n" && exec "$0" -i' "$(command -v sshd)"
else
  fail "no SSH server (dropbear or sshd) in the guest"
fi

# console remoteshell: the user's shell reads commands from the second serial line, in raw mode
# so no byte of the job's output is translated
if [ -n "${VB_CONSOLE_LOGIN:-}" ]; then
  [ -c "$VB_CONSOLE_LOGIN" ] || fail "no console device $VB_CONSOLE_LOGIN for remoteshell"
  ( while :; do
      stty -F "$VB_CONSOLE_LOGIN" raw -echo 2>/dev/null
      # shellcheck disable=SC2094 # a serial port: the user's shell reads and writes the same line
      su -l "$VB_USER" -s /bin/sh -c 'exec sh -s' < "$VB_CONSOLE_LOGIN" > "$VB_CONSOLE_LOGIN" 2>&1
    done ) > /dev/null 2>&1 &
fi

trap - EXIT
# the guest tells the host its name and address with the ready line
addr=$(ip -4 addr show 2>/dev/null | sed -n 's/.*inet \([0-9.]*\)\/.*/\1/p' | grep -v '^127\.' | head -n 1)
report VMBATCH-READY "$(hostname) ip=${addr:-none}"
