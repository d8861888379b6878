#!/usr/bin/env bash
# The NFS test VM of tests/nfs: qemu, nfsd tools and a Debian kernel + initrd under
# /var/tmp/nfsvm (../shared/tools/nfsvm.sh setup; ~10-40 s, about 70 MB downloaded).
# If it fails, tests/nfs skips and says why.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tool="$here/../../../shared/tools/nfsvm.sh"
if [ ! -f "$tool" ]; then
  echo "30-nfsvm: $tool not found (the repository's sibling folder shared/ is missing); tests/nfs will skip" >&2
  exit 1
fi
export NFSVM_WORK=${NFSVM_WORK:-/var/tmp/nfsvm}
if [ -f "$NFSVM_WORK/initrd.gz" ] && command -v qemu-system-x86_64 >/dev/null; then
  echo "nfsvm: already set up in $NFSVM_WORK"
  exit 0
fi
# apt inside nfsvm.sh waits for a dpkg lock held by someone else instead of failing
conf=$(mktemp); trap 'rm -f "$conf"' EXIT
echo 'DPkg::Lock::Timeout "300";' > "$conf"
APT_CONFIG=$conf bash "$tool" setup
