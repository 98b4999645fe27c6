#!/bin/sh
# vmbatch guest RTE installer: run as root by prolog.sh (argument 1 = the context volume) after
# the user exists and before the guest reports ready. Installs the job's runtime environments in
# the catalogue's way, dependencies first (the order of VB_RTES):
#   tar:     unpack into DIR, set %BASEDIR% (DIR/pkg) and %CACHEDIR% in control/* and in the
#            scripts (#!) of data/, run ../control/install in data/, rename data to pkg;
#   image:   mount the read-only disk with the given serial at MOUNT, copy its control/ to DIR
#            with %BASEDIR% = MOUNT/data, run control/install (if any) in MOUNT/data;
#   command: the guest must have the command (auto-discovered software).
# Then sources every control/runtime with stage 0 (as root, in a subshell). On failure the last
# line on stderr says which package and why; install output is kept in DIR/install.log.
set -u
ctx=$1
# shellcheck source=/dev/null # the context's, written for each job
. "$ctx/vmbatch.env"
umask 022
cachedir=/var/cache/vmbatch/rte
mkdir -p "$cachedir" /opt/vmbatch/rte
chmod 1777 "$cachedir"
tab=$(printf '\t')

die() { echo "$*" >&2; exit 1; }

# %BASEDIR% and %CACHEDIR% in the control scripts, and in the scripts (#!) of a data tree
substitute() { # BASEDIR CONTROL_DIR [DATA_DIR]
  base=$1; shift
  grep -rlF -e %BASEDIR% -e %CACHEDIR% "$@" 2>/dev/null | while IFS= read -r f; do
    case $f in
      */control/*) ;;
      *) [ "$(head -c 2 "$f")" = '#!' ] || continue ;;
    esac
    sed -i -e "s|%BASEDIR%|$base|g" -e "s|%CACHEDIR%|$cachedir|g" "$f"
  done
}

printf '%s\n' "$VB_RTES" > /tmp/vmbatch-rtes
while IFS=$tab read -r kind name dir base source mount; do
  [ -n "$kind" ] || continue
  case $kind in
    tar)
      mkdir -p "$dir"
      # gzip by its magic: busybox tar does not detect it by itself
      z=; [ "$(od -An -tx1 -N2 "$ctx/$source" | tr -d ' \n')" = 1f8b ] && z=-z
      tar -x $z -o -f "$ctx/$source" -C "$dir" 2> /tmp/vmbatch-unpack.log || die "rte $name: unpacking $source failed ($(tail -n 1 /tmp/vmbatch-unpack.log))"
      [ -f "$dir/control/install" ] || die "rte $name: the package has no control/install"
      mkdir -p "$dir/data"
      substitute "$base" "$dir/control" "$dir/data"
      ( cd "$dir/data" && sh ../control/install ) > "$dir/install.log" 2>&1 \
        || die "rte $name: control/install exited $? ($(tail -n 1 "$dir/install.log"))"
      mv "$dir/data" "$dir/pkg"
      ;;
    image)
      dev=
      for s in /sys/block/*/serial; do
        [ -f "$s" ] && [ "$(cat "$s")" = "$source" ] && dev=/dev/${s#/sys/block/} && dev=${dev%/serial}
      done
      [ -n "$dev" ] || die "rte $name: no disk with serial $source in the guest"
      mkdir -p "$mount" "$dir/control"
      mount -o ro "$dev" "$mount" || die "rte $name: cannot mount $dev at $mount"
      [ -f "$mount/control/runtime" ] || die "rte $name: the image has no control/runtime"
      cp "$mount"/control/* "$dir/control/"
      substitute "$base" "$dir/control"
      if [ -f "$dir/control/install" ]; then
        ( cd "$base" && sh "$dir/control/install" ) > "$dir/install.log" 2>&1 \
          || die "rte $name: control/install exited $? ($(tail -n 1 "$dir/install.log"))"
      fi
      ;;
    command)
      command -v "$source" >/dev/null 2>&1 || die "rte $name: the guest has no command $source"
      ;;
    *) die "rte $name: unknown kind $kind" ;;
  esac
done < /tmp/vmbatch-rtes

# stage 0: the job is being prepared (where ARC sources it at submission)
while IFS=$tab read -r kind name dir base source mount; do
  [ "$kind" = tar ] || [ "$kind" = image ] || continue
  # shellcheck source=/dev/null # the RTE's own script, in the guest
  ( set -- 0; . "$dir/control/runtime" ) >> "$dir/install.log" 2>&1 || die "rte $name: control/runtime 0 failed ($(tail -n 1 "$dir/install.log"))"
done < /tmp/vmbatch-rtes
rm -f /tmp/vmbatch-rtes
