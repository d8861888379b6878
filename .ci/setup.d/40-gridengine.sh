#!/usr/bin/env bash
# A real one-node Grid Engine for tests/cluster/test_sge.py: Debian's gridengine packages,
# this host as qmaster, submit and execution host, one queue (all.q) with a slot per core,
# a 1 s scheduler tick, root allowed to run jobs; all traffic on this host. Idempotent:
# installs what is missing, starts the daemons that are not running, (re)applies the
# configuration. About 30 s on a fresh machine. If it fails the SGE tests skip and say why.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
export SGE_ROOT=/var/lib/gridengine SGE_CELL=default
if ! command -v qsub >/dev/null || ! [ -x /usr/sbin/sge_qmaster ] || ! [ -x /usr/sbin/sge_execd ]; then
  [ -n "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -print -quit 2>/dev/null)" ] \
    || apt-get -o DPkg::Lock::Timeout=300 update -qq
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends \
    gridengine-master gridengine-exec gridengine-client >/dev/null
fi
host=$(hostname)
if ! getent hosts "$host" | grep -q '^127\.'; then
  sed -i -e '$a\' /etc/hosts
  echo "127.0.0.1 $host" >> /etc/hosts
fi
common=$SGE_ROOT/$SGE_CELL/common
# 127.0.0.1 resolves back to "localhost": tell Grid Engine both names are this host
echo "$host" > "$common/act_qmaster"
echo "$host localhost" > "$common/host_aliases"

running() {  # running PIDFILE: the daemon whose pid the file holds is alive
  [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}
if ! running /var/spool/gridengine/qmaster/qmaster.pid; then
  /usr/sbin/sge_qmaster
fi
for _ in $(seq 50); do qconf -sh >/dev/null 2>&1 && break; sleep 0.2; done
qconf -sh | grep -qx "$host" || qconf -ah "$host" >/dev/null
qconf -ss 2>/dev/null | grep -qx "$host" || qconf -as "$host" >/dev/null

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# root may run jobs (tests run as root); the scheduler looks every second
qconf -sconf global | sed -e '/^#global:/d' -e 's/^min_uid .*/min_uid 0/' -e 's/^min_gid .*/min_gid 0/' \
  > "$tmp/global"
qconf -Mconf "$tmp/global" >/dev/null
qconf -ssconf | sed -e 's/^schedule_interval .*/schedule_interval 0:0:1/' \
  -e 's/^flush_submit_sec .*/flush_submit_sec 1/' -e 's/^flush_finish_sec .*/flush_finish_sec 1/' \
  -e 's/^schedd_job_info .*/schedd_job_info false/' > "$tmp/sched"
qconf -Msconf "$tmp/sched" >/dev/null

execd_pid=$(ls /var/spool/gridengine/execd/*/execd.pid 2>/dev/null | head -1 || true)
if [ -z "$execd_pid" ] || ! running "$execd_pid"; then
  /usr/sbin/sge_execd
fi
for _ in $(seq 50); do qconf -sel 2>/dev/null | grep -q . && break; sleep 0.2; done

cat > "$tmp/all.q" <<QUEUE
qname all.q
hostlist $host
seq_no 0
load_thresholds NONE
suspend_thresholds NONE
nsuspend 1
suspend_interval 00:05:00
priority 0
min_cpu_interval 00:05:00
processors UNDEFINED
qtype BATCH INTERACTIVE
ckpt_list NONE
pe_list make
rerun FALSE
slots $(nproc)
tmpdir /tmp
shell /bin/sh
prolog NONE
epilog NONE
shell_start_mode unix_behavior
starter_method NONE
suspend_method NONE
resume_method NONE
terminate_method NONE
notify 00:00:10
owner_list NONE
user_lists NONE
xuser_lists NONE
subordinate_list NONE
complex_values NONE
projects NONE
xprojects NONE
calendar NONE
initial_state default
s_rt INFINITY
h_rt INFINITY
s_cpu INFINITY
h_cpu INFINITY
s_fsize INFINITY
h_fsize INFINITY
s_data INFINITY
h_data INFINITY
s_stack INFINITY
h_stack INFINITY
s_core INFINITY
h_core INFINITY
s_rss INFINITY
h_rss INFINITY
s_vmem INFINITY
h_vmem INFINITY
QUEUE
if qconf -sql 2>/dev/null | grep -qx all.q; then
  qconf -Mq "$tmp/all.q" >/dev/null
else
  qconf -Aq "$tmp/all.q" >/dev/null
fi
echo "gridengine: $(dpkg-query -W -f '${Version}' gridengine-client) up, qmaster and execd on $host"
