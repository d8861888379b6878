#!/usr/bin/env bash
# tools/slurm.sh: a real one-node SLURM cluster for tests/cluster, all of it in one folder.
#
#   tools/slurm.sh up DIR     writes the configuration under DIR, starts a private munged,
#                             slurmctld and slurmd, waits until the node is idle (~1 s) and
#                             prints "export SLURM_CONF=DIR/slurm.conf"
#   tools/slurm.sh down DIR   cancels the cluster's jobs and stops its three daemons
#
# Needs root and Debian's slurmctld, slurmd, slurm-client and munge packages
# (.ci/setup.d/20-slurm.sh installs them, and puts the host's short name in /etc/hosts:
# slurmctld must resolve it). No systemd and no network: every daemon listens on
# 127.0.0.1, is started by this script in the foreground under setsid, with its PID
# in DIR, and nothing is written outside DIR. Several clusters can run at once (say,
# two test sessions), each with its own ports:
#   SLURMCTLD_PORT, SLURMD_PORT   (default 6817 and 6818; tests pick free ones)
# Every SLURM command must then see SLURM_CONF (without it, it looks for the cluster
# in DNS).
#
# Each cluster has its own munged on its own socket and key (AuthInfo=socket=...),
# so that stopping one cluster never takes the authentication of another away.
set -euo pipefail

up() {
  local dir=$1
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  mkdir -p "$dir"/{state,spool,log}
  local node cpus
  node=$(hostname -s)
  cpus=$(nproc)

  # munged: its socket folder must be reachable by everyone (slurmd and job steps
  # authenticate through it), its key readable by root only
  chmod 755 "$dir"
  mkdir -p -m 755 "$dir/munge"
  mkdir -p -m 700 "$dir/munge/key"
  head -c 128 /dev/urandom > "$dir/munge/key/munge.key"
  chmod 600 "$dir/munge/key/munge.key"
  /usr/sbin/munged --socket="$dir/munge/socket" --key-file="$dir/munge/key/munge.key" \
    --pid-file="$dir/munge/munged.pid" --log-file="$dir/log/munged.log" \
    --seed-file="$dir/munge/key/seed"   # forks; its PID is in munged.pid

  cat > "$dir/slurm.conf" <<CONF
# written by tools/slurm.sh: a one-node test cluster, everything on 127.0.0.1
ClusterName=sweepstack-test
SlurmctldHost=${node}(127.0.0.1)
SlurmctldPort=${SLURMCTLD_PORT:-6817}
SlurmdPort=${SLURMD_PORT:-6818}
# srun's own listening ports: a small fixed range is enough for the tests
SrunPortRange=61000-61099
# bind to the addresses above, not to every interface
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/socket
MpiDefault=none
# no cgroups here: processes are tracked through /proc (a job's background children
# can outlive it, so tests clean up after themselves)
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
# no slurmdbd: no accounting, sacct is unavailable
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
# schedule a submitted job at once rather than on the next tick
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
# a job asking for more than the node has is refused at submission, not left pending
EnforcePartLimits=ALL
ReturnToService=2
MailProg=/bin/true
InactiveLimit=0
# SIGTERM, then SIGKILL 5 s later when a job is cancelled or runs out of time
KillWait=5
# finished jobs stay visible to squeue for 5 minutes
MinJobAge=300
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
NodeName=${node} NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=1024 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF="$dir/slurm.conf"

  # -D: stay in the foreground, so that the PID we record is the daemon's own;
  # setsid: out of the caller's process group (a Ctrl-C of the tests does not reach them)
  setsid /usr/sbin/slurmctld -D -i > "$dir/log/slurmctld.out" 2>&1 < /dev/null &
  echo $! > "$dir/slurmctld.daemon.pid"
  setsid /usr/sbin/slurmd -D > "$dir/log/slurmd.out" 2>&1 < /dev/null &
  echo $! > "$dir/slurmd.daemon.pid"

  local state="" i
  for i in $(seq 300); do   # up to 30 s; about 1 s here
    state=$(sinfo -h -n "$node" -o %t 2>/dev/null || true)
    [ "$state" = idle ] && break
    sleep 0.1
  done
  if [ "$state" != idle ]; then
    echo "slurm: the node is not idle after 30 s (state '$state'); the logs:" >&2
    tail -n 20 "$dir"/log/* >&2
    down "$dir"
    exit 1
  fi
  echo "export SLURM_CONF=$dir/slurm.conf"
}

# stop_pid FILE: SIGTERM the process whose PID is in FILE, SIGKILL it after 10 s
stop_pid() {
  local file=$1 pid i
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  if kill -TERM "$pid" 2>/dev/null; then
    for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "slurm: $(basename "$file" .pid) did not stop in 10 s: SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$file"
}

down() {
  local dir
  dir=$(cd "$1" && pwd) || return 0
  if [ -f "$dir/slurm.conf" ]; then
    # only this cluster's jobs: SLURM_CONF points the command at it
    SLURM_CONF="$dir/slurm.conf" timeout 20 scancel --user=root 2>/dev/null || true
  fi
  stop_pid "$dir/slurmd.daemon.pid"
  stop_pid "$dir/slurmctld.daemon.pid"
  stop_pid "$dir/munge/munged.pid"   # last: the others need it to shut down cleanly
}

case ${1:-} in
  up) [ $# = 2 ] || { echo "usage: $0 up DIR" >&2; exit 2; }; up "$2" ;;
  down) [ $# = 2 ] || { echo "usage: $0 down DIR" >&2; exit 2; }; down "$2" ;;
  *) echo "usage: $0 up DIR | down DIR" >&2; exit 2 ;;
esac
