#!/usr/bin/env bash
# A single-node Slurm for vmbatch's tests and demo, without a service manager: writes slurm.conf
# and plugstack.conf (only files this script wrote before; a site's own are left alone), starts
# munged, slurmctld and slurmd in the background and waits until the node is idle. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
mark='# written by vmbatch scripts/start-slurm.sh'
node=$(hostname -s)
cpus=$(nproc)
mem=$(( $(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
plugin_dir=/usr/lib/x86_64-linux-gnu/slurm-wlm

owned() { [[ ! -e $1 ]] || head -1 "$1" | grep -qxF "$mark"; }
if owned /etc/slurm/slurm.conf; then
  sed -e "s/@NODE@/$node/g" -e "s/@CPUS@/$cpus/g" -e "s/@MEMORY@/$mem/g" slurm/slurm.conf.test > /etc/slurm/slurm.conf.new
  mv /etc/slurm/slurm.conf.new /etc/slurm/slurm.conf
else
  echo "start-slurm: /etc/slurm/slurm.conf is not this script's; using it as it is" >&2
fi
if owned /etc/slurm/plugstack.conf; then
  printf '%s\n%s\n' "$mark" "required $plugin_dir/vmbatch.so" > /etc/slurm/plugstack.conf
fi

install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
install -d -o munge -g munge -m 0755 /run/munge
[[ -s /etc/munge/munge.key ]] || { mungekey -c -k /etc/munge/munge.key; chown munge:munge /etc/munge/munge.key; chmod 0400 /etc/munge/munge.key; }
install -d -o slurm -g slurm /var/spool/slurmctld /var/log/slurm
install -d /var/spool/slurmd

pgrep -x munged >/dev/null || su -s /bin/sh munge -c /usr/sbin/munged
pgrep -x slurmctld >/dev/null || /usr/sbin/slurmctld
pgrep -x slurmd >/dev/null || /usr/sbin/slurmd
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
