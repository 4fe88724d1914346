#!/usr/bin/env bash
# Running VMs: vmsnap against libvirt 9.0 in the same run, on the test guest (testkit's
# TestGuest: Debian kernel + busybox, two ext4 data disks the guest keeps writing to).
# Run by hand, as root; appends its table to bench/RESULTS.md.
#
#   sudo bench/live.sh
#
# A private libvirtd (testkit's private-libvirtd.sh: its own mount and PID namespaces, the
# configuration of org.vmsnap.testkit.Libvirt) runs one copy of the guest; vmsnap runs another
# copy from the same domain XML, each on its own disks. Both XMLs add a second QMP monitor
# through <qemu:commandline>, which a watcher (python3) reads to count the guest's STOP events.
# Cases, BENCH_RUNS times each, interleaved (vmsnap, virsh, vmsnap with its daemon, ...), median
# wall time of the whole command (JVM start included, as a user feels it). vmsnap is measured twice:
# each command in its own JVM (VMSNAP_DAEMON=off), and through a `vmsnap daemon` the script starts
# (the warm JVM, as the libvirtd it compares with):
#   start        start to a running QEMU (the guest is destroyed again, untimed)
#   domstate     domstate of the running domain
#   ext          live external disk-only snapshot of both disks (--atomic), with metadata
#   ext-delete   snapshot-delete of that snapshot a second later: its overlay is the active
#                top holding a second of the guest's writes (active block-commit in both)
#   int          live internal disk-only snapshot of both disks (vmsnap only: libvirt 9.0 refuses)
#   int-delete   its deletion (vmsnap only)
# Pause: STOP events seen on the second monitor while each side's disk-only snapshots and
# deletes ran (expected: none).
# Variables: BENCH_DIR (/var/tmp/vmsnap-bench; this script uses BENCH_DIR/live), BENCH_RUNS (5), BENCH_WARMUP (3 untimed rounds first),
# BENCH_RESULTS (bench/RESULTS.md), VMSNAP_CACHE (where the test guest is built, ~/.cache/vmsnap).
# Needs: libvirt-daemon-system, libvirt-clients, qemu-system-x86, qemu-utils, e2fsprogs,
# util-linux (unshare), python3, and what the test guest needs (busybox-static,
# qemu-guest-agent; network for its first build).
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
. "$root/bench/lib.sh"   # bench_median, bench_log, bench_die, BENCH_DIR, BENCH_RUNS, BENCH_RESULTS
. "$root/scripts/env.sh"
vmsnap_find_jdk || exit 1
export JAVA_HOME=$VMSNAP_JAVA_HOME

[ "$(id -u)" = 0 ] || bench_die "run as root: the private libvirtd needs mount and PID namespaces, and QEMU runs as root"
for t in virsh unshare qemu-img mkfs.ext4 python3 qemu-system-x86_64; do
  command -v "$t" >/dev/null || bench_die "$t is not installed"
done
[ -x /usr/sbin/libvirtd ] || bench_die "/usr/sbin/libvirtd not found: install libvirt-daemon-system"

work=$BENCH_DIR/live
V=$BENCH_VMSNAP
rm -rf "$work"
mkdir -p "$work"/{lv,vs}
export VMSNAP_HOME=$work/vs/home

# ---------------------------------------------------------------- the guest
cache=${VMSNAP_CACHE:-$HOME/.cache/vmsnap}
guest=$(bash "$root/testkit/src/main/resources/org/vmsnap/testkit/guest/build-guest.sh" "$cache" | tail -n 1)
[ -f "$guest/ready" ] || bench_die "the test guest was not built in $guest"

# data disk SIDE NAME: a 64 MiB ext4 filesystem as qcow2 (what TestGuest.createDataDisk makes)
data_disk() {
  truncate -s 64M "$1/$2.raw" && mkfs.ext4 -q -F -L data "$1/$2.raw" \
    && qemu-img convert -f raw -O qcow2 "$1/$2.raw" "$1/$2.qcow2" && rm -f "$1/$2.raw"
}

# The XML of testkit's GuestDomainXml with a second QMP monitor for the STOP watcher.
guest_xml() {
  local side=$1
  cat <<XML
<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>bench</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$guest/vmlinuz</kernel>
    <initrd>$guest/initrd.cpio</initrd>
    <cmdline>console=ttyS0 quiet panic=-1</cmdline>
  </os>
  <features>
    <acpi/>
  </features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$side/vda.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$side/vdb.qcow2'/>
      <target dev='vdb' bus='virtio'/>
    </disk>
    <serial type='file'>
      <source path='$side/serial.log' append='on'/>
      <target port='0'/>
    </serial>
    <channel type='unix'>
      <target type='virtio' name='org.qemu.guest_agent.0'/>
    </channel>
    <memballoon model='none'/>
  </devices>
  <qemu:commandline>
    <qemu:arg value='-qmp'/>
    <qemu:arg value='unix:$side/monitor.sock,server=on,wait=off'/>
  </qemu:commandline>
</domain>
XML
}

for side in lv vs; do
  data_disk "$work/$side" vda
  data_disk "$work/$side" vdb
  guest_xml "$work/$side" > "$work/$side/bench.xml"
done

# ---------------------------------------------------------------- the private libvirtd
lvwork=$work/libvirt
mkdir -p "$lvwork"/{etc,lib,log,cache,run}
cat > "$lvwork/etc/libvirtd.conf" <<'CONF'
unix_sock_ro_perms = "0700"
unix_sock_rw_perms = "0700"
unix_sock_admin_perms = "0700"
auth_unix_ro = "none"
auth_unix_rw = "none"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
CONF
cat > "$lvwork/etc/qemu.conf" <<'CONF'
user = "root"
group = "root"
security_driver = "none"
dynamic_ownership = 0
remember_owner = 0
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "file"
CONF
uri="qemu:///system?socket=$lvwork/run/libvirt-sock"
L=(virsh -c "$uri")
# The script stays while its stdin is open: fd 7 here. Closing it stops libvirtd, and the
# end of the PID namespace takes every QEMU libvirtd started with it.
exec 7> >(exec unshare --mount --pid --fork --kill-child --mount-proc --propagation private \
  bash -c "$(cat "$root/testkit/src/main/resources/org/vmsnap/testkit/libvirt/private-libvirtd.sh")" \
  private-libvirtd "$lvwork" >"$lvwork/log/private-libvirtd.out" 2>&1)
watchers=()
cleanup() {
  set +e
  for w in "${watchers[@]}"; do kill "$w" 2>/dev/null; done
  [ -z "${daemon_pid-}" ] || kill "$daemon_pid" 2>/dev/null
  "$V" destroy bench >/dev/null 2>&1
  "${L[@]}" destroy bench >/dev/null 2>&1
  exec 7>&-
  sleep 2
}
trap cleanup EXIT
for _ in $(seq 1 600); do
  "${L[@]}" uri >/dev/null 2>&1 && break
  sleep 0.1
done
"${L[@]}" uri >/dev/null 2>&1 || { tail -n 20 "$lvwork/log/private-libvirtd.out" "$lvwork/log/libvirtd.log" >&2; bench_die "the private libvirtd did not start"; }

# A jar that `mvn verify` rebuilt is newer than the AOT cache the launcher trained, and the JVM
# silently ignores that cache: remove the jar so the launcher builds both again (untimed).
if [ "$V" = "$root/vmsnap" ] && { [ ! -f "$root/cli/target/vmsnap.aot" ] \
     || [ "$root/cli/target/vmsnap.jar" -nt "$root/cli/target/vmsnap.aot" ]; }; then
  rm -f "$root/cli/target/vmsnap.jar"
fi
"$V" --version >/dev/null   # builds the jar and its AOT cache outside the timings
"${L[@]}" define "$work/lv/bench.xml" >/dev/null
"$V" define "$work/vs/bench.xml" >/dev/null
# Two vmsnap columns: each command in its own JVM (VMSNAP_DAEMON=off), and handed to a running
# `vmsnap daemon` (the warm JVM, as libvirtd is for virsh; its log counts what it served).
VO=(env VMSNAP_DAEMON=off "$V")
export VMSNAP_DAEMON=manual   # "$V": the daemon started here, never one of the launcher's own
"$V" daemon >"$work/daemon.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 1 300); do [ -f "$VMSNAP_HOME/.daemon" ] && break; sleep 0.1; done
[ -f "$VMSNAP_HOME/.daemon" ] || { cat "$work/daemon.log" >&2; bench_die "vmsnap daemon did not start"; }

# ---------------------------------------------------------------- timing
declare -A times    # "case tool" -> seconds, one per line
timed() { # CASE TOOL COMMAND...: runs it, records its wall time; fails the bench when it fails
  local c=$1 tool=$2 s e
  shift 2
  s=$EPOCHREALTIME
  if ! "$@" >"$work/last.out" 2>&1; then
    cat "$work/last.out" >&2
    bench_die "$c ($tool) failed: $*"
  fi
  e=$EPOCHREALTIME
  times["$c $tool"]+="$(awk -v s="$s" -v e="$e" 'BEGIN { printf "%.6f", e - s }')"$'\n'
}
median() { printf '%s' "${times["$1 $2"]}" | grep . | bench_median; }

# start: to a running QEMU; both return once QEMU runs the guest's CPUs.
for ((i = 1; i <= BENCH_RUNS; i++)); do
  timed start vmsnap "${VO[@]}" start bench
  timed start virsh "${L[@]}" start bench
  "$V" destroy bench >/dev/null
  timed start vmsnapd "$V" start bench
  "$V" destroy bench >/dev/null
  "${L[@]}" destroy bench >/dev/null
done

"$V" start bench >/dev/null
"${L[@]}" start bench >/dev/null
for side in lv vs; do
  for _ in $(seq 1 1200); do
    grep -q "vmsnap-guest: writer started" "$work/$side/serial.log" 2>/dev/null && break
    sleep 0.1
  done
  grep -q "vmsnap-guest: writer started" "$work/$side/serial.log" || bench_die "the $side guest did not boot"
  # The watcher: every QMP event of that QEMU, one line "epoch-seconds NAME".
  python3 - "$work/$side/monitor.sock" "$work/$side/events" <<'PY' &
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rw")
f.readline()                                   # the greeting
f.write('{"execute":"qmp_capabilities"}\n'); f.flush()
with open(sys.argv[2], "a", buffering=1) as out:
    for line in f:
        m = json.loads(line)
        if "event" in m:
            out.write("%.6f %s\n" % (time.time(), m["event"]))
PY
  watchers+=($!)
done
sleep 1

# Untimed warm-up, the same for each side: a daemon's JIT (like libvirtd's caches) is warm after a
# few commands, and its first ones are not what it costs in use. BENCH_WARMUP rounds (3).
for ((i = 1; i <= ${BENCH_WARMUP:-3}; i++)); do
  for side in vs lv; do
    if [ "$side" = vs ]; then T=("$V"); else T=("${L[@]}"); fi
    "${T[@]}" domstate bench >/dev/null
    "${T[@]}" snapshot-create-as bench "w$i" --disk-only --atomic \
      --diskspec "vda,file=$work/$side/vda.w$i" --diskspec "vdb,file=$work/$side/vdb.w$i" >/dev/null
    "${T[@]}" snapshot-delete bench "w$i" >/dev/null
  done
  "$V" snapshot-create-as bench "wi$i" --disk-only --diskspec vda,snapshot=internal \
    --diskspec vdb,snapshot=internal >/dev/null
  "$V" snapshot-delete bench "wi$i" >/dev/null
done

for ((i = 1; i <= BENCH_RUNS; i++)); do
  timed domstate vmsnap "${VO[@]}" domstate bench
  timed domstate virsh "${L[@]}" domstate bench
  timed domstate vmsnapd "$V" domstate bench
done

for ((i = 1; i <= BENCH_RUNS; i++)); do
  timed ext vmsnap "${VO[@]}" snapshot-create-as bench "e$i" --disk-only --atomic \
    --diskspec "vda,file=$work/vs/vda.e$i" --diskspec "vdb,file=$work/vs/vdb.e$i"
  timed ext virsh "${L[@]}" snapshot-create-as bench "e$i" --disk-only --atomic \
    --diskspec "vda,file=$work/lv/vda.e$i" --diskspec "vdb,file=$work/lv/vdb.e$i"
  sleep 1   # the guest writes into the new overlays: a small overlay, as the case says
  timed ext-delete vmsnap "${VO[@]}" snapshot-delete bench "e$i"
  timed ext-delete virsh "${L[@]}" snapshot-delete bench "e$i"
  timed ext vmsnapd "$V" snapshot-create-as bench "d$i" --disk-only --atomic \
    --diskspec "vda,file=$work/vs/vda.d$i" --diskspec "vdb,file=$work/vs/vdb.d$i"
  sleep 1
  timed ext-delete vmsnapd "$V" snapshot-delete bench "d$i"
done
for ((i = 1; i <= BENCH_RUNS; i++)); do
  timed int vmsnap "${VO[@]}" snapshot-create-as bench "i$i" --disk-only \
    --diskspec vda,snapshot=internal --diskspec vdb,snapshot=internal
  timed int-delete vmsnap "${VO[@]}" snapshot-delete bench "i$i"
  timed int vmsnapd "$V" snapshot-create-as bench "j$i" --disk-only \
    --diskspec vda,snapshot=internal --diskspec vdb,snapshot=internal
  timed int-delete vmsnapd "$V" snapshot-delete bench "j$i"
done
served=$(grep -c ': exit 0 in ' "$work/daemon.log" || true)
refusal=$("${L[@]}" snapshot-create-as bench i0 --disk-only --diskspec vda,snapshot=internal \
  --diskspec vdb,snapshot=internal 2>&1 || true)
sleep 1
stops_vs=$(grep -c ' STOP$' "$work/vs/events" || true)
stops_lv=$(grep -c ' STOP$' "$work/lv/events" || true)
events_vs=$(wc -l < "$work/vs/events")
events_lv=$(wc -l < "$work/lv/events")

# Where vmsnap's time goes: the JVM and picocli alone (--version), and the JVM's own phases.
# The launcher's own share: the same JVM and flags without it (it checks the sources for changes).
jar=$root/cli/target/vmsnap.jar
aot=$root/cli/target/vmsnap.aot
direct=("$JAVA_HOME/bin/java" -XX:+UseSerialGC --enable-native-access=ALL-UNNAMED)
[ -f "$aot" ] && direct+=(-XX:AOTCache="$aot" -Xlog:aot=off -Xlog:cds=off)
for ((i = 1; i <= BENCH_RUNS; i++)); do
  timed version vmsnap "${VO[@]}" --version
  timed version-direct vmsnap "${direct[@]}" -jar "$jar" --version
  timed domstate-direct vmsnap "${direct[@]}" -jar "$jar" domstate bench
done
startup=$(JDK_JAVA_OPTIONS=-Xlog:startuptime "$V" --version 2>&1 | grep -E 'Create VM' \
  | sed -E 's/^\[[^]]*\]\[[^]]*\]\[[^]]*\] *//' || true)
classes=$(JDK_JAVA_OPTIONS=-Xlog:class+load "${VO[@]}" domstate bench 2>&1 | grep -c 'class,load' || true)
classes_shared=$(JDK_JAVA_OPTIONS=-Xlog:class+load "${VO[@]}" domstate bench 2>&1 | grep 'class,load' | grep -c 'shared' || true)

# ---------------------------------------------------------------- report
row() { # NAME CASE [libvirt case]
  local v d l ratio dratio
  v=$(median "$2" vmsnap)
  d=$(median "$2" vmsnapd)
  if [ -n "${3:-}" ]; then l=$(median "$3" virsh); else l=$(median "$2" virsh); fi
  ratio=$(awk -v v="$v" -v l="$l" 'BEGIN { printf "%.2f", v / l }')
  dratio=$(awk -v v="$d" -v l="$l" 'BEGIN { printf "%.2f", v / l }')
  printf '| %s | %.3f | %.3f | %.3f | %s | %s |\n' "$1" "$v" "$d" "$l" "$ratio" "$dratio"
}
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$root" diff --quiet 2>/dev/null || commit="$commit (with uncommitted changes)"
report=$(cat <<REPORT

## Running VMs against libvirt 9.0 (bench/live.sh), $(date -u '+%Y-%m-%d %H:%M') UTC on $(hostname)

- commit: $commit
- guest: the test guest (Debian kernel + busybox, 256 MiB, 1 vCPU, TCG), two 64 MiB ext4 data disks it keeps writing to; libvirt and vmsnap each run a copy from the same XML (plus a second QMP monitor), at the same time
- $BENCH_RUNS runs per case, interleaved, median wall time of the whole command (vmsnap's JVM start included); "vmsnap" runs each command in its own JVM (VMSNAP_DAEMON=off), "vmsnap + daemon" hands it to a running \`vmsnap daemon\` through the launcher's client (the daemon logged $served commands served)
- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared: compare runs with care)
- nproc: $(nproc); CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); $(free -g | awk '/^Mem:/ { print $2 " GiB RAM" }')
- qemu: $(qemu-system-x86_64 --version | head -n1); libvirt: $(virsh --version)
- java: $("$JAVA_HOME/bin/java" -version 2>&1 | head -n1)

| case | vmsnap median s | vmsnap + daemon median s | libvirt median s | vmsnap/libvirt | with daemon/libvirt |
|---|---:|---:|---:|---:|---:|
$(row 'start (to a running QEMU)' start)
$(row 'domstate' domstate)
$(row 'live external disk-only, 2 disks, --atomic' ext)
$(row 'live delete of that snapshot (active commit of a 1 s overlay)' ext-delete)
$(row 'live internal disk-only, 2 disks (libvirt: its external one)' int ext)
$(row 'live delete of an internal disk-only snapshot (libvirt: its external one)' int-delete ext-delete)
| vmsnap --version (launcher + JVM + picocli, no work) | $(printf '%.3f' "$(median version vmsnap)") | | | | |
| the same without the launcher script (java -jar) | $(printf '%.3f' "$(median version-direct vmsnap)") | | | | |
| domstate without the launcher script (java -jar) | $(printf '%.3f' "$(median domstate-direct vmsnap)") | | | | |

- guest pause: STOP events on the second monitor during the disk-only snapshots and deletes: vmsnap $stops_vs (of $events_vs events), libvirt $stops_lv (of $events_lv events)
- libvirt 9.0 on the internal disk-only snapshot: \`$refusal\`
- JVM start-up (-Xlog:startuptime, vmsnap --version): $startup; classes loaded by \`vmsnap domstate\`: $classes, of them from the AOT cache: $classes_shared$([ "$classes_shared" -gt 0 ] || echo ' (NO AOT CACHE IN USE: these figures are slower than they should be)')
REPORT
)
printf '%s\n' "$report"
printf '%s\n' "$report" >>"$BENCH_RESULTS"
