#!/usr/bin/env bash
# Builds the vmsnap test guest: a Debian kernel and a busybox initramfs with the virtio
# modules, qemu-guest-agent and a record writer (one or two ext4 data disks). Prints the folder
# that holds it.
#
#   build-guest.sh CACHE_ROOT
#
# The guest lands in CACHE_ROOT/guest-KEY, where KEY hashes every input: this script (which
# carries the init and the writer), the kernel package apt would fetch, and the installed
# versions of busybox-static and qemu-guest-agent. A folder with a "ready" file is complete
# and is reused; a change of any input builds a new folder. Builds take a lock, so two test
# JVMs never build into the same folder.
#
# Needs: apt-get (network to Debian's archive on the first build), dpkg, busybox-static,
# qemu-guest-agent (its binary and shared libraries are copied from this host).
set -euo pipefail

die() { echo "build-guest: $*" >&2; exit 1; }
[ $# -eq 1 ] || die "usage: build-guest.sh CACHE_ROOT"
cache_root=$1

busybox=/bin/busybox
qga=/usr/sbin/qemu-ga
[ -x "$busybox" ] && "$busybox" --list | grep -x cpio >/dev/null || die "$busybox not found or without cpio: install busybox-static"
ldd "$busybox" >/dev/null 2>&1 && die "$busybox is dynamically linked: install busybox-static"
[ -x "$qga" ] || die "$qga not found: install qemu-guest-agent"
command -v apt-get >/dev/null || die "apt-get not found: the guest kernel comes from Debian's linux-image-amd64"

# Package lists missing or stale (a fresh machine, an archive that moved on): as root,
# refresh them once and try again.
refresh_lists() {
  [ "$(id -u)" = 0 ] && [ -z "${lists_refreshed:-}" ] || return 1
  lists_refreshed=1
  echo "build-guest: apt-get update" >&2
  apt-get update -qq >&2
}

# linux-image-amd64 is a metapackage: the kernel is in the package it depends on.
meta=$(apt-cache show --no-all-versions linux-image-amd64 2>/dev/null) \
  || { refresh_lists && meta=$(apt-cache show --no-all-versions linux-image-amd64 2>/dev/null); } \
  || die "apt-cache knows no linux-image-amd64: run apt-get update"
kernel_pkg=$(awk -F': ' '/^Depends:/ { split($2, d, /[ ,]/); print d[1]; exit }' <<<"$meta")
kernel_version=$(awk '/^Version:/ { print $2; exit }' <<<"$meta")
[ -n "$kernel_pkg" ] || die "cannot tell which kernel package linux-image-amd64 depends on"
busybox_version=$(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null || echo unknown)
qga_version=$(dpkg-query -W -f='${Version}' qemu-guest-agent 2>/dev/null || echo unknown)

key=$( { sha256sum <"$0"; echo "$kernel_pkg $kernel_version"; echo "busybox-static $busybox_version"; \
         echo "qemu-guest-agent $qga_version"; } | sha256sum | cut -c1-16)
out=$cache_root/guest-$key
if [ -f "$out/ready" ]; then echo "$out"; exit 0; fi

mkdir -p "$cache_root"
exec 9>"$cache_root/.build.lock"
flock 9
if [ -f "$out/ready" ]; then echo "$out"; exit 0; fi   # another process built it meanwhile

work=$(mktemp -d "$cache_root/.build-XXXXXX")
trap 'rm -rf "$work"' EXIT

# --- kernel and modules --------------------------------------------------------------------
mkdir -p "$work/deb" "$work/kernel"
download() { ( cd "$work/deb" && apt-get -q -o APT::Sandbox::User=root download "$kernel_pkg" >&2 ); }
download || { refresh_lists && download; } || die "apt-get download $kernel_pkg failed"
dpkg -x "$work"/deb/*.deb "$work/kernel"
kver=$(ls "$work/kernel/lib/modules")
vmlinuz=$(ls "$work"/kernel/boot/vmlinuz-*)
"$busybox" depmod -b "$work/kernel" "$kver"
moddir=$work/kernel/lib/modules/$kver

# The modules the guest loads, each after the modules it depends on (modules.dep lists
# them). crc32c_generic is asked for by name at mount time (request_module), which an
# initramfs without modprobe cannot answer, so it is listed explicitly; button and evdev
# let busybox acpid see the ACPI power button, so system_powerdown shuts the guest down.
wanted="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk virtio_console
        crc16 mbcache jbd2 libcrc32c crc32c_generic ext4 button evdev"
declare -A seen=()
order=()
add_module() {
  local name=$1 path deps d
  [ -n "${seen[$name]:-}" ] && return 0
  seen[$name]=1
  path=$(grep -E "(^|/)$name\.ko:" "$moddir/modules.dep" | head -n 1 | cut -d: -f1)
  [ -n "$path" ] || die "module $name is not in $kernel_pkg"
  deps=$(awk -F': *' -v p="$path" '$1 == p { print $2; exit }' "$moddir/modules.dep")
  for d in $deps; do add_module "$(basename "$d" .ko)"; done
  order+=("$path")
}
for m in $wanted; do add_module "$m"; done

# --- initramfs tree --------------------------------------------------------------------------
root=$work/root
mkdir -p "$root"/{bin,sbin,dev,proc,sys,run,tmp,data,data2,etc/acpi/PWRF,lib/modules,usr/sbin}
cp "$busybox" "$root/bin/busybox"
: >"$root/etc/modules.list"
for p in "${order[@]}"; do
  cp "$moddir/$p" "$root/lib/modules/"
  basename "$p" .ko >>"$root/etc/modules.list"
done

# qemu-guest-agent with the shared libraries it links, at the same paths as on this host.
cp "$qga" "$root/usr/sbin/qemu-ga"
for lib in $(ldd "$qga" | grep -o '/[^ ]*'); do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done

cat >"$root/init" <<'INIT'
#!/bin/busybox sh
# vmsnap test guest init: modules, guest agent, data disks, record writer.
/bin/busybox --install -s /bin
export PATH=/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /run
say() { echo "vmsnap-guest: $*"; }
say "init started"

# insmod in dependency order; a module whose dependency failed is retried next round.
pending=$(cat /etc/modules.list)
for round in 1 2 3 4 5; do
  left=""
  for m in $pending; do
    insmod "/lib/modules/$m.ko" 2>/dev/null || grep -q "^$(echo "$m" | tr - _) " /proc/modules || left="$left $m"
  done
  pending=$left
  [ -z "$pending" ] && break
done
[ -z "$pending" ] && say "modules loaded" || say "modules not loaded:$pending"

# The agent's virtio-serial port appears once virtio_console has probed it.
port=""
for i in $(seq 1 50); do
  for d in /sys/class/virtio-ports/*; do
    [ -f "$d/name" ] && [ "$(cat "$d/name")" = org.qemu.guest_agent.0 ] && port=/dev/$(basename "$d")
  done
  [ -n "$port" ] && [ -e "$port" ] && break
  usleep 100000
done
if [ -n "$port" ]; then
  qemu-ga -d -m virtio-serial -p "$port" -t /run -f /run/qemu-ga.pid && say "agent started on $port"
else
  say "no guest agent port"
fi

# In the foreground: a daemonized busybox acpid changes to / and then cannot find its
# relative action path PWRF/00000080, so the power button did nothing.
acpid -f -c /etc/acpi -l /run/acpid.log &
say "acpid started"

for i in $(seq 1 50); do [ -b /dev/vda ] && break; usleep 100000; done
if mount -t ext4 /dev/vda /data; then say "data disk mounted"; else say "data disk not mounted"; fi
# A second data disk only when /dev/vdb holds ext4 (its magic 0xEF53 at byte 1080): a blank
# scratch disk stays untouched, and the guest behaves as with one data disk.
if [ -e /sys/block/vdb ]; then
  for i in $(seq 1 50); do [ -b /dev/vdb ] && break; usleep 100000; done
  magic=$(dd if=/dev/vdb bs=1 skip=1080 count=2 2>/dev/null | od -An -tx1 | tr -d ' \n')
  if [ "$magic" = 53ef ] && mount -t ext4 /dev/vdb /data2; then say "second data disk mounted"; fi
fi

# vmsnap.fill=N: N MiB of memory filled with a mix of random and file data (benchmarks).
fill=$(sed -n 's/.*vmsnap\.fill=\([0-9]*\).*/\1/p' /proc/cmdline)
if [ -n "$fill" ]; then
  mkdir -p /run/fill
  i=0
  while [ "$i" -lt "$fill" ]; do
    if [ $((i % 4)) -eq 0 ]; then dd if=/dev/urandom of=/run/fill/$i bs=1048576 count=1 2>/dev/null
    else cat /usr/sbin/qemu-ga /lib/modules/*.ko /bin/busybox | dd of=/run/fill/$i bs=1048576 count=1 skip=$((i % 7)) iflag=fullblock 2>/dev/null
    fi
    i=$((i + 1))
  done
  say "filled $fill MiB"
fi

/bin/writer &
echo $! >/run/writer.pid
say "writer started"
while true; do sleep 3600; done
INIT

cat >"$root/bin/writer" <<'WRITER'
#!/bin/sh
# Appends a numbered, checksummed record to /data/records five times a second, and prints
# the in-memory counter to the serial console. The boot id tells a fresh boot (new id) from
# a memory restore (same id, counter continues).
#   record:  REC <n> <boot> <first 8 hex digits of md5("REC <n> <boot>")>
#   console: COUNTER <n> boot=<boot>
# With a second data disk on /data2, each record goes to /data/records, then the same record
# to /data2/records: an atomic snapshot of both disks holds B.last <= A.last <= B.last + 1.
# Each append is fsync'd (busybox "sync FILE") before the next write, so the disks, not only
# the page cache, keep that order, and COUNTER n means record n is on every disk. The writes
# are plain appends that block while the file system is frozen (guest-fsfreeze-freeze).
f=/data/records
g=""
grep -q " /data2 " /proc/mounts && g=/data2/records
boot=$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')
last() {
  n=0
  if [ -s "$1" ]; then n=$(tail -n 1 "$1" | cut -d' ' -f2); fi
  case "$n" in ''|*[!0-9]*) n=0 ;; esac
  echo "$n"
}
n=$(last "$f")
# The second disk catches up with the first (a new disk, or a stop between the two appends),
# so both go on with the same numbers.
if [ -n "$g" ]; then
  m=$(last "$g")
  [ "$m" -lt "$n" ] && awk -v m="$m" '$2 > m' "$f" >>"$g" && sync "$g"
fi
while true; do
  n=$((n + 1))
  body="REC $n $boot"
  sum=$(echo -n "$body" | md5sum | cut -c1-8)
  echo "$body $sum" >>"$f"
  sync "$f"
  if [ -n "$g" ]; then
    echo "$body $sum" >>"$g"
    sync "$g"
  fi
  echo "COUNTER $n boot=$boot"
  usleep 200000
done
WRITER

cat >"$root/bin/stop-guest" <<'STOP'
#!/bin/sh
# stop-guest poweroff|reboot: stop the writer, flush, unmount the data disks, then power off or
# reboot at once (busybox has no init scripts to run).
exec >/dev/console 2>&1
kill "$(cat /run/writer.pid)" 2>/dev/null
sync
if grep -q " /data2 " /proc/mounts; then umount /data2 && echo "vmsnap-guest: second data disk unmounted"; fi
umount /data && echo "vmsnap-guest: data disk unmounted"
if [ "$1" = reboot ]; then reboot -f; else poweroff -f; fi
STOP

cat >"$root/etc/acpi/PWRF/00000080" <<'POWER'
#!/bin/sh
# ACPI power button (QMP system_powerdown).
exec >/dev/console 2>&1   # acpid sends our output to its log file
echo "vmsnap-guest: power button"
exec /bin/stop-guest poweroff
POWER

# qemu-ga's guest-shutdown runs "/sbin/shutdown -P|-H|-r +0 MESSAGE" (powerdown, halt, reboot).
cat >"$root/sbin/shutdown" <<'SHUTDOWN'
#!/bin/sh
mode=poweroff
for a in "$@"; do [ "$a" = -r ] && mode=reboot; done
echo "vmsnap-guest: agent $mode" >/dev/console
/bin/stop-guest "$mode" &
exit 0
SHUTDOWN
chmod +x "$root/init" "$root/bin/writer" "$root/bin/stop-guest" "$root/etc/acpi/PWRF/00000080" "$root/sbin/shutdown"

# --- result ----------------------------------------------------------------------------------
mkdir -p "$work/out"
cp "$vmlinuz" "$work/out/vmlinuz"
# Uncompressed: the kernel under TCG would spend longer inflating it than reading it.
( cd "$root" && find . | "$busybox" cpio -o -H newc 2>/dev/null ) >"$work/out/initrd.cpio"
{
  echo "kernel_package=$kernel_pkg"
  echo "kernel_version=$kernel_version"
  echo "kernel_release=$kver"
  echo "busybox_static=$busybox_version"
  echo "qemu_guest_agent=$qga_version"
  echo "modules=$(tr '\n' ' ' <"$root/etc/modules.list")"
} >"$work/out/manifest"
touch "$work/out/ready"
rm -rf "$out"
mv "$work/out" "$out"
# Older guests are dead weight once their inputs changed (the lock keeps them unused).
for old in "$cache_root"/guest-*; do [ "$old" = "$out" ] || rm -rf "$old"; done
echo "$out"
