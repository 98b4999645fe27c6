#!/usr/bin/perl
# Starts one share's virtiofsd for a job, run by the prologue as root:
#   virtiofsd-launch.pl SOCKET SOCKET_UID SOURCE MODE UID GID -- VIRTIOFSD [ARGS...]
# 1. binds and listens on SOCKET (owned by SOCKET_UID, the job's qemu, mode 0600), so the
#    daemon never names a path root would then trust;
# 2. installs a seccomp filter that refuses every chmod, open or mknod that would set the
#    setuid or setgid bit (EPERM), which no capability set can forbid an owner;
# 3. becomes the submitter (UID, GID and their groups) and enters a user namespace that maps
#    only UID and GID to themselves, keeping the namespace's capabilities (setfsuid to
#    another user, chown to another id and device nodes are then impossible);
# 4. in its own mount namespace binds SOURCE onto itself nosuid,nodev (and read-only for ro);
# 5. execs VIRTIOFSD --fd=N -o source=SOURCE.
# It prints "ready" on file descriptor 3 just before the exec. Exit status 3: the submitter
# cannot enter SOURCE (the reason on stderr); any other failure is the node's.
use strict;
use warnings;
use Socket qw(PF_UNIX SOCK_STREAM pack_sockaddr_un);
use Fcntl qw(F_GETFD F_SETFD FD_CLOEXEC);

my ($socket, $socket_uid, $source, $mode, $uid, $gid, $sep, @daemon) = @ARGV;
die "usage: virtiofsd-launch.pl SOCKET SOCKET_UID SOURCE ro|rw UID GID -- VIRTIOFSD [ARGS...]\n"
  unless defined $sep && $sep eq '--' && @daemon && ($mode eq 'ro' || $mode eq 'rw')
  && $uid =~ /^[0-9]+$/ && $gid =~ /^[0-9]+$/ && $socket_uid =~ /^[0-9]+$/ && $uid > 0 && $gid > 0;

# the socket: made with umask 0177 so no other user can connect before the chown
my $old = umask 0177;
socket(my $listen, PF_UNIX, SOCK_STREAM, 0) or die "socket: $!\n";
bind($listen, pack_sockaddr_un($socket)) or die "bind $socket: $!\n";
umask $old;
chown $socket_uid, 0, $socket or die "chown $socket: $!\n";
chmod 0600, $socket or die "chmod $socket: $!\n";
listen($listen, 1) or die "listen: $!\n";
my $flags = fcntl($listen, F_GETFD, 0) or die "fcntl: $!\n";
fcntl($listen, F_SETFD, $flags & ~FD_CLOEXEC) or die "fcntl: $!\n";
my $fd = fileno($listen);

# seccomp: x86_64 syscall numbers and the argument holding the mode
my %mode_arg = (2 => 2, 85 => 1, 257 => 3, 90 => 1, 91 => 1, 268 => 2, 452 => 2, 133 => 1, 259 => 2);
my $EPERM = 1;
my $ENOSYS = 38;
my @prog;
my $stmt = sub { my ($code, $k) = @_; push @prog, pack('SCCL', $code, 0, 0, $k) };
my $jump = sub { my ($code, $k, $jt, $jf) = @_; push @prog, pack('SCCL', $code, $jt, $jf, $k) };
my ($LD_W_ABS, $JEQ, $JSET, $JGE, $RET) = (0x20, 0x15, 0x45, 0x35, 0x06);
my $ALLOW = 0x7fff0000;
my $ERRNO = 0x00050000;
# other architectures and the x32 ABI: refused outright
$stmt->($LD_W_ABS, 4);
$jump->($JEQ, 0xc000003e, 1, 0);
$stmt->($RET, $ERRNO | $ENOSYS);
$stmt->($LD_W_ABS, 0);
$jump->($JGE, 0x40000000, 0, 1);
$stmt->($RET, $ERRNO | $ENOSYS);
# openat2 passes its mode in a structure the filter cannot read: callers fall back to openat
$jump->($JEQ, 437, 0, 1);
$stmt->($RET, $ERRNO | $ENOSYS);
for my $nr (sort { $a <=> $b } keys %mode_arg) {
  $jump->($JEQ, $nr, 0, 4);
  $stmt->($LD_W_ABS, 16 + 8 * $mode_arg{$nr});
  $jump->($JSET, 06000, 0, 1);
  $stmt->($RET, $ERRNO | $EPERM);
  $stmt->($RET, $ALLOW);
}
$stmt->($RET, $ALLOW);
my $filter = join('', @prog);
my $fprog = pack('S x![P] P', scalar(@prog), $filter);
# prctl(PR_SET_NO_NEW_PRIVS) then seccomp(SECCOMP_SET_MODE_FILTER)
syscall(157, 38, 1, 0, 0, 0) == 0 or die "prctl(PR_SET_NO_NEW_PRIVS): $!\n";
syscall(317, 1, 0, $fprog) == 0 or die "seccomp: $!\n";

# as the submitter: their own view of SOURCE decides; then the private bind mount
my $shell = <<'SH';
[ -d "$1" ] || { echo "it is not a directory the user can see" >&2; exit 3; }
[ -x "$1" ] || { echo "permission denied: the user cannot enter it" >&2; exit 3; }
mount --bind -- "$1" "$1" || exit 1
mount -o "remount,bind,$2" -- "$1" "$1" || exit 1
printf 'ready\n' >&3 && exec 3>&-
shift 2
exec "$@"
SH
my $bind = $mode eq 'ro' ? 'ro,nosuid,nodev' : 'nosuid,nodev';
exec('/usr/bin/setpriv', "--reuid=$uid", "--regid=$gid", '--clear-groups', '--inh-caps=-all', '--',
  '/usr/bin/unshare', '--user', "--map-user=$uid", "--map-group=$gid", '--keep-caps', '--mount', '--propagation=private', '--',
  '/bin/sh', '-c', $shell, 'vmbatch-share', $source, $bind,
  @daemon, "--fd=$fd", '-o', "source=$source")
  or die "exec setpriv: $!\n";
