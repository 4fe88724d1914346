#!/usr/bin/env bash
# Internal checkpoint benchmark: vmsnap's snapshot-create-as / snapshot-revert / snapshot-delete
# of a running test guest against libvirt 9.0's (virsh to a private libvirtd) on the same guest
# XML, in the same run. The guest's pause is timed from outside (STOP to RESUME on a QMP monitor
# of the benchmark's own). Run by hand as root; appends its table to bench/RESULTS.md.
#
#   bench/checkpoint.sh
#
# Variables: BENCH_DIR (default /var/tmp/vmsnap-bench; the guests' files go in ckpt/),
# BENCH_KIND (internal; external: --memspec FILE --live checkpoints; internal-live: vmsnap's internal
# checkpoints with --live against libvirt's internal ones, which it cannot take with --live), BENCH_RUNS (3), BENCH_MEM_MIB (guest RAM, 512), BENCH_FILL_MIB (RAM the guest fills at boot, 256:
# a quarter random bytes, the rest copies of its binaries), BENCH_RESULTS (bench/RESULTS.md),
# BENCH_PAUSE_ONLY (1: vmsnap only, create and delete only, each create's pause listed; no libvirt),
# BENCH_DAEMON (1: vmsnap's commands go to a `vmsnap daemon` the benchmark starts).
# Needs what the live tests need (./vmsnap-test installs it) and libvirt-daemon-system.
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
. "$root/scripts/env.sh"
vmsnap_find_jdk || exit 1
vmsnap_find_mvn || exit 1
export JAVA_HOME=$VMSNAP_JAVA_HOME

BENCH_DIR=${BENCH_DIR:-/var/tmp/vmsnap-bench}
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_KIND=${BENCH_KIND:-internal}
BENCH_MEM_MIB=${BENCH_MEM_MIB:-512}
BENCH_FILL_MIB=${BENCH_FILL_MIB:-256}
BENCH_RESULTS=${BENCH_RESULTS:-$root/bench/RESULTS.md}
work=$BENCH_DIR/ckpt
mkdir -p "$work"

echo "bench: compiling the test classes and the CLI jar" >&2
( cd "$root" && "$VMSNAP_MVN" -B -q -o -pl cli -am test-compile >&2 )
"$root/vmsnap" --version >/dev/null   # (re)builds cli/target/vmsnap.jar: every runtime dependency
m2=${MAVEN_REPO:-$HOME/.m2/repository}
assertj=$(find "$m2/org/assertj/assertj-core" -name 'assertj-core-*.jar' | sort | tail -n1)
cp_line="$root/cli/target/test-classes:$root/testkit/target/classes:$root/cli/target/vmsnap.jar:$assertj"

table=$("$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -Dvmsnap.bench.daemon="$([ "${BENCH_DAEMON:-0}" = 1 ] && echo true || echo false)" -cp "$cp_line" \
  org.vmsnap.cli.live.CheckpointBench "$work" "$BENCH_RUNS" "$BENCH_MEM_MIB" "$root/vmsnap" "$BENCH_FILL_MIB" "$BENCH_KIND" \
  "$([ "${BENCH_PAUSE_ONLY:-0}" = 1 ] && echo pause-only || echo full)")

commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$root" diff --quiet 2>/dev/null || commit="$commit (with uncommitted changes)"
report=$(cat <<REPORT

## ${BENCH_KIND^} checkpoints (bench/checkpoint.sh$([ "${BENCH_PAUSE_ONLY:-0}" = 1 ] && echo ', BENCH_PAUSE_ONLY=1')), $(date -u '+%Y-%m-%d %H:%M') UTC on $(hostname)

- commit: $commit
- guest: test guest (Debian kernel + busybox, writer on two qcow2 data disks), ${BENCH_MEM_MIB} MiB RAM (${BENCH_FILL_MIB} MiB filled: 1/4 random, 3/4 binaries), 1 vCPU, TCG
$(if [ "${BENCH_PAUSE_ONLY:-0}" = 1 ]; then
  echo "- vmsnap only, through its launcher (a new JVM per command); each run: 3 s of the guest running, create, 1 s, delete; guest pause = STOP..RESUME on a QMP monitor of the benchmark's own"
else
  if [ "${BENCH_DAEMON:-0}" = 1 ]; then
    echo "- vmsnap through its launcher with a \`vmsnap daemon\` running (BENCH_DAEMON=1: the launcher's client hands each command to the warm JVM; its first run is the daemon's first use); libvirt: virsh to a private libvirtd 9.0; one guest at a time"
  else
    echo "- vmsnap through its launcher (a new JVM per command); libvirt: virsh to a private libvirtd 9.0; one guest at a time"
  fi
  echo "- each run: create (guest running), 3 s, revert --running to it, 3 s, delete; guest pause = STOP..RESUME on a QMP monitor of the benchmark's own"
fi)
- $(case "$BENCH_KIND" in
  external) echo "external: --memspec FILE --live; libvirt 9.0 cannot revert to an external checkpoint (n/a) and deletes only its metadata (--metadata); vmsnap's revert restarts QEMU from the memory file" ;;
  internal-live) echo "internal-live: vmsnap snapshot-create-as --live (memory to a file beside the first disk, the disks' internal snapshots at the save's last pause; its revert restarts QEMU from the memory file) against libvirt 9.0's internal checkpoint without --live (it refuses --live for those); libvirt's revert restarts QEMU too (its pause cannot be seen on the old monitor: n/a)" ;;
  *) echo "libvirt's revert restarts QEMU (its pause cannot be seen on the old monitor: n/a); vmsnap's loads the checkpoint in the running QEMU" ;;
esac)
- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared: compare runs with care)
- qemu: $(qemu-system-x86_64 --version | head -n1); libvirt: $(virsh --version)

$table
REPORT
)
printf '%s\n' "$report"
printf '%s\n' "$report" >>"$BENCH_RESULTS"
