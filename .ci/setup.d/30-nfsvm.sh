#!/usr/bin/env bash
# The NFS test VM of tests/nfs (tools/nfsvm.sh): qemu, the nfsd tools and a Debian
# kernel + initramfs under /var/tmp/sweepstack-nfsvm (~10-40 s, about 70 MB downloaded once).
# Idempotent. If it fails, tests/nfs skips and says why.
set -euo pipefail
cd "$(dirname "$0")/../.."
export NFSVM_WORK=${NFSVM_WORK:-/var/tmp/sweepstack-nfsvm}
bash tools/nfsvm.sh setup
