#!/usr/bin/env bash
# A single-node Slurm for vmbatch's tests and demo, without a service manager: writes slurm.conf
# and plugstack.conf (only files this script wrote before; a site's own are left alone), starts
# munged, slurmctld and slurmd in the background and waits until the node is idle. Idempotent;
# daemons that run with an older slurm.conf, plugstack.conf or vmbatch.so are restarted (pid files).
# VMBATCH_SLURM_PREFIX: the directory of slurm-hook and slurm-task (scripts/install-slurm.sh's PREFIX).
set -euo pipefail
cd "$(dirname "$0")/.."
mark='# written by vmbatch scripts/start-slurm.sh'
node=$(hostname -s)
cpus=$(nproc)
mem=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
plugin_dir=/usr/lib/x86_64-linux-gnu/slurm-wlm
prefix=${VMBATCH_SLURM_PREFIX:-/usr/local/libexec/vmbatch}
# what the running daemons were started with (lost at reboot, like the daemons)
stamp=/run/vmbatch-slurm.sum

owned() { [[ ! -e $1 ]] || head -1 "$1" | grep -qxF "$mark"; }
if owned /etc/slurm/slurm.conf; then
  sed -e "s/@NODE@/$node/g" -e "s/@CPUS@/$cpus/g" -e "s/@MEMORY@/$mem/g" slurm/slurm.conf.test > /etc/slurm/slurm.conf.new
  mv /etc/slurm/slurm.conf.new /etc/slurm/slurm.conf
else
  echo "start-slurm: /etc/slurm/slurm.conf is not this script's; using it as it is" >&2
fi
if owned /etc/slurm/plugstack.conf; then
  printf '%s\n%s\n' "$mark" "required $plugin_dir/vmbatch.so prefix=$prefix" > /etc/slurm/plugstack.conf.new
  mv /etc/slurm/plugstack.conf.new /etc/slurm/plugstack.conf
fi
sum=$(cat /etc/slurm/slurm.conf /etc/slurm/plugstack.conf "$plugin_dir/vmbatch.so" 2>/dev/null | sha256sum)

install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
install -d -o munge -g munge -m 0755 /run/munge
[[ -s /etc/munge/munge.key ]] || { mungekey -c -k /etc/munge/munge.key; chown munge:munge /etc/munge/munge.key; chmod 0400 /etc/munge/munge.key; }
install -d -o slurm -g slurm /var/spool/slurmctld /var/log/slurm
install -d /var/spool/slurmd

pgrep -x munged >/dev/null || su -s /bin/sh munge -c /usr/sbin/munged
# stop (by their pid files) daemons started with other files: slurmctld reads slurm.conf at start,
# slurmd loads plugstack.conf's plugins at start; their state (queue, running steps) survives
if [[ -f $stamp && $(cat "$stamp") == "$sum" ]] || ! pgrep -x 'slurmctld|slurmd' >/dev/null; then
  :
else
  echo "start-slurm: restarting slurmctld and slurmd for the new slurm.conf, plugstack.conf or vmbatch.so"
  for pidfile in /run/slurmd.pid /run/slurmctld.pid; do
    pid=$(cat "$pidfile" 2>/dev/null || true)
    # a stale pid file may name another process now
    [[ -n $pid && $(cat "/proc/$pid/comm" 2>/dev/null) == "$(basename "$pidfile" .pid)" ]] || continue
    kill "$pid" 2>/dev/null || continue
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
fi
pgrep -x slurmctld >/dev/null || /usr/sbin/slurmctld
pgrep -x slurmd >/dev/null || /usr/sbin/slurmd
echo "$sum" > "$stamp"
for _ in $(seq 1 300); do
  state=$(sinfo -h -n "$node" -o %T 2>/dev/null || true)
  case $state in
    idle|mixed|allocated) echo "slurm is up: node $node is $state"; exit 0 ;;
    drain*|down*) scontrol update nodename="$node" state=resume >/dev/null 2>&1 || true ;;
  esac
  sleep 0.1
done
echo "start-slurm: node $node is not idle after 30 s (state: ${state:-no answer}); see /var/log/slurm" >&2
exit 1
