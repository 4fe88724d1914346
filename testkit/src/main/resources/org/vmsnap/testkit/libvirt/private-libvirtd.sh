#!/usr/bin/env bash
# Runs a private libvirtd; org.vmsnap.testkit.Libvirt starts it as
#
#   unshare --mount --pid --fork --kill-child --mount-proc --propagation private \
#       bash -c "$(cat private-libvirtd.sh)" private-libvirtd WORK_DIR
#
# so this script is PID 1 of its own PID namespace, in its own mount namespace. It mounts the
# private folders of WORK_DIR (etc, lib, log, cache, run) over the paths libvirt 9.0 has
# compiled in, starts libvirtd, and stays until its standard input closes (the test's close(),
# or the death of the test's JVM) or libvirtd ends. When it leaves, the kernel kills whatever
# is left in the namespace: no QEMU or daemon outlives it.
#
# bash, not dash: PID 1 must reap the QEMU processes libvirtd double-forks (they are re-parented
# to it); bash reaps children as they end, dash only when it waits, and libvirt takes a zombie
# QEMU for a live one.
set -euo pipefail
work=$1
say() { echo "private-libvirtd: $*"; }

# A fresh /run: the host's D-Bus (systemd-machined, firewalld, polkit), a system libvirtd's
# sockets, and any other daemon's run files are out of reach.
mount -t tmpfs -o mode=0755 vmsnap-libvirt-run /run
mkdir /run/libvirt
mount --bind "$work/run" /run/libvirt
for pair in etc:/etc/libvirt lib:/var/lib/libvirt log:/var/log/libvirt cache:/var/cache/libvirt; do
  src=$work/${pair%%:*}
  dst=${pair#*:}
  if [ ! -d "$dst" ]; then
    say "$dst does not exist: install the Debian package libvirt-daemon-system"
    exit 3
  fi
  mount --bind "$src" "$dst"
done

/usr/sbin/libvirtd --config /etc/libvirt/libvirtd.conf --pid-file /run/libvirt/libvirtd.pid &
daemon=$!
say "libvirtd started"

# Background jobs read /dev/null unless told otherwise: hand the watcher our stdin through fd 3.
exec 3<&0
cat <&3 >/dev/null &
watcher=$!
status=0
wait -n "$daemon" "$watcher" || status=$?
if kill -0 "$daemon" 2>/dev/null; then
  say "stdin closed: stopping libvirtd"
  kill -TERM "$daemon"
  for _ in $(seq 1 100); do kill -0 "$daemon" 2>/dev/null || exit 0; sleep 0.1; done
  say "libvirtd did not stop within 10 s; the namespace ends with it"
  exit 0
fi
say "libvirtd exited with status $status"
exit 70
