#!/usr/bin/env bash
# Start a one-node SLURM cluster on localhost for the launcher tests (CI; needs root, no systemd).
#
#   .ci/start_slurm.sh            # install slurm-wlm + munge if missing, start munged, slurmctld, slurmd
#
# Uses conf/slurm_test/slurm.conf, installed as /etc/slurm/slurm.conf (refuses to overwrite a
# slurm.conf that is not ours).  Idempotent: daemons already running are left alone.  Returns when
# `sinfo` shows the node up (idle, or busy with jobs); on failure prints the daemon logs and exits 1.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
test_conf=$root/conf/slurm_test/slurm.conf
etc_conf=/etc/slurm/slurm.conf
marker=hyp_face-slurm-test-config
spool=/var/spool/hyp_face_slurm
node=localhost
timeout=${SLURM_START_TIMEOUT:-90}

log() { echo "start_slurm: $*" >&2; }
die() { log "ERROR: $*"; for f in "$spool"/*.log /var/log/munge/munged.log; do
          [ -f "$f" ] && { echo "---- tail $f" >&2; tail -n 20 "$f" >&2; }; done; exit 1; }

node_state() { sinfo -h -n "$node" -o %T 2>/dev/null | head -n 1; }
node_up() { case "$(node_state)" in idle|mixed|allocated|completing) return 0 ;; esac; return 1; }
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

if node_up; then
  log "SLURM already up (node $node $(node_state))"; exit 0
fi
[ "$(id -u)" -eq 0 ] || die "must run as root (starts munged/slurmctld/slurmd)"

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  log "installing slurm-wlm and munge"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq slurm-wlm munge >/dev/null
fi

# Config: ours, or nothing yet.
mkdir -p /etc/slurm "$spool/ctld" "$spool/d"
if [ -f "$etc_conf" ] && ! grep -q "$marker" "$etc_conf"; then
  die "$etc_conf exists and is not the hyp_face test config; not touching it"
fi
cp "$test_conf" "$etc_conf"

# munge: key, runtime dir, daemon.
if [ ! -s /etc/munge/munge.key ]; then
  log "creating /etc/munge/munge.key"
  mkdir -p /etc/munge
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
mkdir -p /run/munge /var/log/munge /var/lib/munge
if id munge >/dev/null 2>&1; then
  chown munge:munge /etc/munge /etc/munge/munge.key /run/munge /var/log/munge /var/lib/munge
fi
chmod 700 /etc/munge; chmod 400 /etc/munge/munge.key; chmod 755 /run/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  log "starting munged"
  if id munge >/dev/null 2>&1 && command -v runuser >/dev/null; then
    runuser -u munge -- munged
  else
    munged --force
  fi
  for _ in $(seq 20); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.5; done
  munge -n | unmunge >/dev/null || die "munged does not answer"
fi

# SLURM daemons (they daemonise themselves).
if ! pid_alive "$spool/slurmctld.pid"; then
  log "starting slurmctld"; slurmctld || die "slurmctld failed to start"
fi
for _ in $(seq 40); do scontrol ping 2>/dev/null | grep -q UP && break; sleep 0.5; done
scontrol ping 2>/dev/null | grep -q UP || die "slurmctld does not answer"
if ! pid_alive "$spool/slurmd.pid"; then
  log "starting slurmd"; slurmd -N "$node" || die "slurmd failed to start"
fi

# Wait for the node; resume it if a previous run left it down or drained.
end=$((SECONDS + timeout))
while [ $SECONDS -lt $end ]; do
  state=$(node_state)
  case "$state" in
    idle|mixed|allocated|completing) log "SLURM up: node $node $state"; sinfo >&2; exit 0 ;;
    down*|drain*|fail*) scontrol update NodeName="$node" State=RESUME 2>/dev/null || true ;;
  esac
  sleep 1
done
die "node $node not idle after ${timeout}s (state: '$(node_state)')"
