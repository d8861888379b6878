#!/usr/bin/env bash
# A real one-node SLURM for tests/cluster: the packages only; each test session starts
# its own cluster (munged, slurmctld, slurmd) with tools/slurm.sh up (see tools/README.md).
# Idempotent, about 10-20 s on a fresh machine. If it fails the SLURM tests skip and say why.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
if ! command -v sbatch >/dev/null || ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  # another setup script may hold the dpkg lock: wait for it rather than fail
  [ -n "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -print -quit 2>/dev/null)" ] \
    || apt-get -o DPkg::Lock::Timeout=300 update -qq
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends \
    slurmctld slurmd slurm-client munge >/dev/null
fi
# slurmctld resolves its own short host name; without DNS it must be in /etc/hosts
host=$(hostname -s)
if ! getent hosts "$host" | grep -q '^127\.'; then
  sed -i -e '$a\' /etc/hosts   # a last line without its newline would swallow ours
  echo "127.0.0.1 $host" >> /etc/hosts
fi
echo "slurm: $(dpkg-query -W -f '${Version}' slurm-client) installed"
