#!/bin/sh
# PID 1 of the NFS test VM, started by tools/nfsvm/init once the guest's root is the
# host's / (read-only, under a tmpfs overlay). It sets up one NFS server and two NFS
# client "hosts", runs the command that `tools/nfsvm.sh run` left in the run folder,
# writes its exit status back to the host and powers the VM off.
#
#   server   kernel nfsd in the root network namespace, exporting a tmpfs (/srv/nfs)
#   hostA    network namespace + UTS namespace "hostA", veth 10.99.1.2 -> 10.99.1.1,
#            its own kernel NFS client, mounting the export at /mnt/hostA
#   hostB    the same with 10.99.2.x, mounted at /mnt/hostB
#
# Two network namespaces give two NFS clients with their own client ids, lock owners
# and caches, which is what two machines are to the server. The addresses live only
# inside the VM (the VM has no network card), so nothing leaves it.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
exec 2>&1
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmpfs /run
mkdir -p /run/lock
# the NFSv3 lock daemons talk to each other over loopback: locks hang without it
ip link set lo up

param() { sed -n "s/.*nfsvm\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
KERNEL=$(param kernel)   # the unpacked kernel package (its modules)
RUN=$(param run)         # this run's folder on the host: cmd.sh
VERS=$(param vers)
OPTS=$(param opts)

# the kernel's modules, from the unpacked package (the host's /lib/modules is for
# the host's kernel, not this one)
mkdir -p /lib/modules
mount --bind "$KERNEL/lib/modules" /lib/modules
modprobe -a nfsd nfs nfsv3 nfsv4 veth || echo "NFSVM modprobe failed"

# the one folder the guest writes to the host: the command's exit status
mkdir -p /nfsvm-out
mount -t 9p -o trans=virtio,version=9p2000.L out /nfsvm-out || echo "NFSVM 9p mount of out failed"
booted=$(cut -d' ' -f1 /proc/uptime)

# --- the server -------------------------------------------------------------
mount -t nfsd nfsd /proc/fs/nfsd
# short lease and grace periods (the default is 90 s): a test that restarts the
# server or loses a client waits 10 s, not 90
echo 10 > /proc/fs/nfsd/nfsv4leasetime
echo 10 > /proc/fs/nfsd/nfsv4gracetime
echo 10 > /proc/sys/fs/nfs/nlm_grace_period
mkdir -p /srv/nfs /var/lib/nfs/sm /var/lib/nfs/sm.bak /var/lib/nfs/v4recovery
mount -t tmpfs -o size=256m tmpfs /srv/nfs
chmod 1777 /srv/nfs
# nfsd cannot export the overlay root; a tmpfs it can. fsid=0 makes /srv/nfs the
# NFSv4 pseudo-root, so v4 clients mount "/" and v3 clients mount "/srv/nfs".
: > /etc/exports
exportfs -o rw,sync,no_subtree_check,no_root_squash,insecure,fsid=0 '10.99.0.0/16:/srv/nfs'
rpcbind -w
rpc.statd --no-notify
rpc.mountd
rpc.nfsd 8
# a fresh server has no clients to wait for: end the grace period now
echo Y > /proc/fs/nfsd/v4_end_grace 2>/dev/null || true

# --- the two client hosts ---------------------------------------------------
n=1
for host in hostA hostB; do
  ip netns add $host
  ip link add v$host type veth peer name eth0 netns $host
  ip addr add 10.99.$n.1/24 dev v$host
  ip link set v$host up
  ip -n $host addr add 10.99.$n.2/24 dev eth0
  ip -n $host link set eth0 up
  ip -n $host link set lo up
  mkdir -p /mnt/$host
  case $VERS in
    4*) export_path=/ ;;
    *)  export_path=/srv/nfs
        # NFSv3 locking: each client's lockd needs its own rpcbind and statd
        ip netns exec $host sh -c 'mount -t tmpfs tmpfs /run; mkdir -p /run/lock; rpcbind -w; rpc.statd --no-notify' ;;
  esac
  # the mount is made from inside the host's namespaces, so that the client's
  # host name (sent to the server as its identity) is the host's own
  nsenter --net=/run/netns/$host unshare --uts sh -c \
    "hostname $host; mount -t nfs -o vers=$VERS${OPTS:+,$OPTS} 10.99.$n.1:$export_path /mnt/$host" \
    || echo "NFSVM mount on $host failed"
  n=$((n + 1))
done
case $VERS in 4*) ;; *) sleep 10 ;; esac   # NLM's grace period must end before the first v3 lock
ready=$(cut -d' ' -f1 /proc/uptime)
echo "NFSVM ready: guest booted in ${booted}s, NFS set up in $(awk "BEGIN{print $ready - $booted}")s"
grep ' nfs' /proc/mounts | grep /mnt/host

# --- the command ------------------------------------------------------------
export NFS_A=/mnt/hostA NFS_B=/mnt/hostB
export A_PREFIX="ip netns exec hostA" B_PREFIX="ip netns exec hostB"
bash "$RUN/cmd.sh"   # cd to the caller's folder, its variables, the command
status=$?
echo "NFSVM_RC=$status"
echo $status > /nfsvm-out/rc
sync
# PID 1 must not exit (a kernel panic); power off through sysrq, qemu then exits
echo o > /proc/sysrq-trigger
sleep 30
