#!/usr/bin/env bash
# tools/nfsvm.sh: a real NFS server and two NFS client hosts, in a VM, for tests/nfs.
#
# This machine's kernel has no NFS (no nfsd, no NFS client) and KVM is not available,
# so the NFS test bed is a qemu VM in software emulation running Debian's stock
# kernel. The guest's root is the host's / (read-only, under a throw-away overlay):
# the host's Python, virtualenv and checkout are there at the same paths, nothing is
# installed in the guest. Inside, tools/nfsvm/guest.sh exports a tmpfs with kernel
# nfsd and mounts it from two network namespaces, "hostA" and "hostB": two kernel NFS
# clients, the same as two machines to the server. See tools/README.md.
#
#   tools/nfsvm.sh setup                  once per machine, as root: Debian packages,
#                                         the kernel and the initramfs (~10-40 s)
#   tools/nfsvm.sh check                  says whether `run` can work here (exit 0) or why not
#   tools/nfsvm.sh run [--vers 4.2] [--opts OPT,...] -- CMD [ARG...]
#                                         boots the VM, runs CMD in it, exits with CMD's status
#   tools/nfsvm.sh clean                  removes what setup made
#
# In the guest CMD runs in the caller's current directory, with PYTHONPATH and every
# variable named in NFSVM_ENV passed through, and with
#   NFS_A=/mnt/hostA NFS_B=/mnt/hostB          the one export, as each host mounts it
#   A_PREFIX="ip netns exec hostA" (B_PREFIX)   prefix a command to run it on that host
# Only CMD's exit status and the console (this script's stdout) come back.
# Exit status of `run`: CMD's; 124 if the VM ran out of time; 3 if the VM gave no result.
#
# Environment: NFSVM_WORK   where setup keeps the kernel and initramfs (default
#                           /var/tmp/sweepstack-nfsvm); it must be readable through the host's /
#              NFSVM_TIMEOUT  seconds before `run` stops the VM (default 900)
# Runs are independent: each has its own folder, so several may run at once.
set -euo pipefail

TOOLS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORK=${NFSVM_WORK:-/var/tmp/sweepstack-nfsvm}
PACKAGES="qemu-system-x86 busybox-static cpio kmod xz-utils nfs-kernel-server nfs-common iproute2 util-linux"
# what the initramfs loads to reach the host's / (virtio-pci -> 9p) and to stack the
# overlay on it; their dependencies are worked out by modprobe from the kernel itself
BOOT_MODULES="virtio_pci 9pnet_virtio 9p overlay"

die() { echo "nfsvm: $*" >&2; exit 2; }

# what the initramfs is made of: a setup made from another version of it is redone
setup_id() { { cat "$TOOLS/nfsvm/init"; echo "$BOOT_MODULES"; } | sha256sum | cut -d' ' -f1; }

# why `run` cannot work here, or nothing
why_not() {
  [ "$(id -u)" = 0 ] || { echo "needs root (qemu's 9p export of /, network namespaces in the guest)"; return; }
  command -v qemu-system-x86_64 >/dev/null || { echo "qemu-system-x86_64 is not installed: run tools/nfsvm.sh setup"; return; }
  [ -f "$WORK/initrd.gz" ] && [ -f "$WORK/kernel/boot/vmlinuz" ] \
    || { echo "the VM is not set up in $WORK: run tools/nfsvm.sh setup"; return; }
  [ "$(cat "$WORK/setup.id" 2>/dev/null)" = "$(setup_id)" ] \
    || { echo "the VM in $WORK was set up from another tools/nfsvm/init: run tools/nfsvm.sh setup"; return; }
}

setup() {
  [ "$(id -u)" = 0 ] || die "setup needs root (apt-get)"
  if [ -z "$(why_not)" ]; then echo "nfsvm: already set up in $WORK"; return; fi
  export DEBIAN_FRONTEND=noninteractive
  # a dpkg lock held by another installer is waited for, not an error
  local apt=(apt-get -o DPkg::Lock::Timeout=300)
  [ -n "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -print -quit 2>/dev/null)" ] \
    || "${apt[@]}" update -qq
  # shellcheck disable=SC2086
  "${apt[@]}" install -y -qq --no-install-recommends $PACKAGES >/dev/null

  mkdir -p "$WORK"
  WORK=$(cd "$WORK" && pwd)
  build=$(mktemp -d "$WORK/setup.XXXXXX")   # global: the EXIT trap outlives this function
  trap 'rm -rf "$build"' EXIT

  # Debian's current stock kernel: the package linux-image-amd64 points at. It has
  # nfsd, the NFS client, veth, 9p and overlay as modules.
  local package
  package=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
  [ -n "$package" ] || die "no kernel package found behind linux-image-amd64"
  (cd "$build" && "${apt[@]}" download -qq "$package" 2>/dev/null)
  dpkg-deb -x "$build"/*.deb "$build/kernel"
  local version
  version=$(ls "$build/kernel/lib/modules")
  depmod -b "$build/kernel" "$version"
  ln -s "vmlinuz-$version" "$build/kernel/boot/vmlinuz"

  # The initramfs: busybox, the boot modules in load order, and tools/nfsvm/init.
  local root="$build/initramfs" module
  mkdir -p "$root"/{bin,modules.d,proc,sys,dev}
  cp /bin/busybox "$root/bin/"
  : > "$root/modules"
  # shellcheck disable=SC2086
  for module in $(modprobe -a -d "$build/kernel" -S "$version" --show-depends $BOOT_MODULES \
                  | awk '$1 == "insmod" {print $2}' | awk '!seen[$0]++'); do
    local name; name=$(basename "$module"); name=${name%%.ko*}
    case $module in          # busybox's insmod wants plain .ko files
      *.ko.xz) xz -dc "$module" > "$root/modules.d/$name.ko" ;;
      *.ko.zst) zstd -qdc "$module" > "$root/modules.d/$name.ko" ;;
      *) cp "$module" "$root/modules.d/$name.ko" ;;
    esac
    echo "$name" >> "$root/modules"
  done
  cp "$TOOLS/nfsvm/init" "$root/init"
  chmod +x "$root/init"
  (cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$build/initrd.gz"

  # move into place last, so that a half-done setup is never taken for a done one
  rm -rf "$WORK/kernel" "$WORK/initrd.gz" "$WORK/setup.id"
  mv "$build/kernel" "$WORK/kernel"
  mv "$build/initrd.gz" "$WORK/initrd.gz"
  setup_id > "$WORK/setup.id"
  echo "nfsvm: set up in $WORK (kernel $version; modules: $(tr '\n' ' ' < "$root/modules"))"
}

run() {
  local vers=4.2 opts=""
  while [ $# -gt 0 ]; do
    case $1 in
      --vers) vers=$2; shift 2 ;;
      --opts) opts=$2; shift 2 ;;
      --) shift; break ;;
      *) break ;;
    esac
  done
  [ $# -gt 0 ] || die "run: no command given"
  local reason; reason=$(why_not)
  [ -z "$reason" ] || die "$reason"
  WORK=$(cd "$WORK" && pwd)

  # this run's folder: the command for the guest, and "out", the one folder the
  # guest may write (its exit status)
  run=$(mktemp -d "$WORK/run.XXXXXX")   # global: the EXIT trap outlives this function
  trap 'rm -rf "$run"' EXIT
  mkdir "$run/out"
  {
    echo "cd $(printf '%q' "$PWD") || exit 3"
    local name
    for name in PYTHONPATH ${NFSVM_ENV:-}; do
      [ -n "${!name+set}" ] && echo "export $name=$(printf '%q' "${!name}")"
    done
    printf '%q ' "$@"
    echo
  } > "$run/cmd.sh"

  local status=0
  # -nic none: the VM has no network card, its NFS traffic stays inside it
  timeout "${NFSVM_TIMEOUT:-900}" qemu-system-x86_64 -accel tcg -m 2048 -smp 2 \
    -display none -serial stdio -monitor none -no-reboot -nic none \
    -kernel "$WORK/kernel/boot/vmlinuz" -initrd "$WORK/initrd.gz" \
    -append "console=ttyS0 quiet panic=-1 nfsvm.guest=$TOOLS/nfsvm/guest.sh nfsvm.kernel=$WORK/kernel nfsvm.run=$run nfsvm.vers=$vers nfsvm.opts=$opts" \
    -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
    -virtfs local,path="$run/out",mount_tag=out,security_model=none \
    < /dev/null | tr -d '\r' || status=$?
  if [ "$status" = 124 ]; then echo "nfsvm: the VM timed out after ${NFSVM_TIMEOUT:-900} s" >&2; exit 124; fi
  [ -f "$run/out/rc" ] || { echo "nfsvm: no result from the VM" >&2; exit 3; }
  exit "$(cat "$run/out/rc")"
}

case ${1:-} in
  setup) setup ;;
  check) reason=$(why_not); [ -z "$reason" ] || { echo "$reason"; exit 1; }; echo "nfsvm: ready ($WORK)" ;;
  run) shift; run "$@" ;;
  clean) rm -rf "$WORK" ;;
  *) echo "usage: $0 setup | check | run [--vers V] [--opts O] -- CMD... | clean" >&2; exit 2 ;;
esac
