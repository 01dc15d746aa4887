#!/usr/bin/env bash
# A real single-node SLURM cluster on this machine, for the SLURM tests (`pytest -m slurm`).
#
#   bash scripts/slurm-localhost.sh up     # install (Debian), configure, start munged, slurmctld, slurmd
#   bash scripts/slurm-localhost.sh down   # stop the daemons that `up` started, by their recorded PIDs
#   bash scripts/slurm-localhost.sh status
#
# Needs root (or sudo) and Debian's packages slurmctld slurmd slurm-client munge (installed by `up`
# when missing). /etc/slurm/slurm.conf is generated from `slurmd -C` (this machine's CPUs and
# memory), with one partition `cpu` (the default) holding the node, and no accounting database:
# the pipeline's profiles query job states with squeue. An existing slurm.conf that this script did
# not write is left alone and `up` stops. The daemons run in the foreground of their own sessions
# (setsid, no systemd); their PIDs are in $STATE_DIR, their logs in $STATE_DIR/log.
set -euo pipefail

STATE_DIR=${SLURM_LOCALHOST_DIR:-/run/slurm-localhost}
CONF=/etc/slurm/slurm.conf
MARKER="# written by scripts/slurm-localhost.sh"
PACKAGES=(slurmctld slurmd slurm-client munge)
DAEMONS=(slurmd slurmctld munged)  # stop order: the reverse of the start order

sudo_cmd=""
[ "$(id -u)" = 0 ] || sudo_cmd="sudo"

install_packages() {
  local missing=()
  for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    $sudo_cmd apt-get update -qq
    # policy-rc.d or no systemd: the packages' own service start is skipped, `up` starts the daemons
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

write_config() {
  if [ -e "$CONF" ] && ! head -1 "$CONF" | grep -qF "$MARKER"; then
    echo "$CONF exists and was not written by this script: not touching it" >&2
    exit 1
  fi
  local node
  node=$(slurmd -C | head -1)  # NodeName=<host> CPUs=… Boards=… SocketsPerBoard=… … RealMemory=…
  $sudo_cmd tee "$CONF" > /dev/null <<EOF
$MARKER from \`slurmd -C\`; \`down\` keeps it, \`up\` rewrites it
ClusterName=localhost
SlurmctldHost=$(hostname -s)
SlurmUser=slurm
AuthType=auth/munge
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=$STATE_DIR/slurmctld.daemon.pid
SlurmdPidFile=$STATE_DIR/slurmd.daemon.pid
SlurmctldLogFile=$STATE_DIR/log/slurmctld.log
SlurmdLogFile=$STATE_DIR/log/slurmd.log
# no cgroups in containers: processes tracked through /proc, no task binding, no accounting
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
# finished jobs stay visible to squeue for 5 min (the profiles' status checks rely on it)
MinJobAge=300
KillWait=5
InactiveLimit=0
MpiDefault=none
$node State=UNKNOWN
PartitionName=cpu Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

start_daemon() {  # name, then the command (run in the foreground, in its own session)
  local name=$1
  shift
  setsid "$@" > "$STATE_DIR/log/$name.out" 2>&1 < /dev/null &
  echo $! > "$STATE_DIR/$name.pid"
}

running() {  # name: true when its recorded PID is alive
  [ -f "$STATE_DIR/$1.pid" ] && kill -0 "$(cat "$STATE_DIR/$1.pid")" 2> /dev/null
}

up() {
  [ -z "$sudo_cmd" ] || { echo "run as root: sudo bash $0 up" >&2; exit 1; }
  install_packages
  write_config
  mkdir -p "$STATE_DIR/log" /run/munge
  chown munge:munge /run/munge
  chown slurm:slurm "$STATE_DIR/log"
  for name in "${DAEMONS[@]}"; do
    if running "$name"; then echo "$name already running (PID $(cat "$STATE_DIR/$name.pid"))" >&2; exit 1; fi
  done
  start_daemon munged runuser -u munge -- munged --foreground
  for _ in $(seq 50); do [ -S /run/munge/munge.socket.2 ] && break; sleep 0.1; done
  start_daemon slurmctld slurmctld -D -f "$CONF"
  start_daemon slurmd slurmd -D -f "$CONF"
  local state=""
  for _ in $(seq 60); do
    state=$(sinfo -h -N -o %T 2> /dev/null | head -1 || true)
    [ "$state" = idle ] && break
    sleep 1
  done
  if [ "$state" != idle ]; then
    echo "the node did not become idle (state '$state'); logs in $STATE_DIR/log" >&2
    tail -n 20 "$STATE_DIR"/log/* >&2 || true
    down
    exit 1
  fi
  sinfo
}

down() {
  local pid
  for name in "${DAEMONS[@]}"; do
    [ -f "$STATE_DIR/$name.pid" ] || continue
    pid=$(cat "$STATE_DIR/$name.pid")
    if kill -0 "$pid" 2> /dev/null; then
      kill -TERM "$pid"
      for _ in $(seq 100); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2> /dev/null && kill -KILL "$pid"
    fi
    rm -f "$STATE_DIR/$name.pid"
  done
}

status() {
  for name in "${DAEMONS[@]}"; do
    if running "$name"; then echo "$name running (PID $(cat "$STATE_DIR/$name.pid"))"; else echo "$name stopped"; fi
  done
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
