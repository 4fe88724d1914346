#!/usr/bin/env bash
# Save/restore benchmark: vmsnap save/restore of the test guest against QEMU's plain stream to
# a file (exec:cat + fsync, on the same QEMU) and libvirt 9.0's virsh save/restore, in one run.
# Run by hand, as root (the private libvirtd); appends its table to bench/RESULTS.md.
#
#   bench/save.sh
#
# Variables: BENCH_DIR (default /var/tmp/vmsnap-bench; files in save/, a short path: libvirt's
# socket lives there), BENCH_RUNS (3), BENCH_MEM_MIB (guest RAM, 512), BENCH_FILL_MIB (RAM the
# guest fills, 384: a quarter random bytes, three quarters copies of its binaries and modules),
# BENCH_LEVELS (zstd levels of vmsnap's memory file to compare, first one for the ratios: "-1", vmsnap's default),
# BENCH_LIBVIRT (1; 0 leaves virsh save/restore out, for comparing vmsnap with QEMU's stream alone),
# BENCH_RESULTS (bench/RESULTS.md).
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
. "$root/scripts/env.sh"
vmsnap_find_jdk || exit 1
vmsnap_find_mvn || exit 1
export JAVA_HOME=$VMSNAP_JAVA_HOME

BENCH_DIR=${BENCH_DIR:-/var/tmp/vmsnap-bench}
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_MEM_MIB=${BENCH_MEM_MIB:-512}
BENCH_FILL_MIB=${BENCH_FILL_MIB:-384}
BENCH_LEVELS=${BENCH_LEVELS:-"-1"}
BENCH_LIBVIRT=${BENCH_LIBVIRT:-1}
BENCH_RESULTS=${BENCH_RESULTS:-$root/bench/RESULTS.md}
work=$BENCH_DIR/save
rm -rf "$work"
mkdir -p "$work"

echo "bench: building the cli module and its test classes" >&2
# one reactor run: the modules resolve to their target/classes (nothing is installed); cli,
# built last, writes the classpath file last
( cd "$root" && "$VMSNAP_MVN" -B -q -ntp -pl cli -am test-compile dependency:build-classpath \
       -Dmdep.outputFile="$work/classpath" -Dmdep.includeScope=test >&2 )
cp_line="$root/cli/target/test-classes:$root/cli/target/classes"
for m in qcow2 zstd qmp manager testkit; do cp_line="$cp_line:$root/$m/target/classes"; done
cp_line="$cp_line:$(cat "$work/classpath")"

table=$("$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$cp_line" org.vmsnap.cli.live.SaveBench \
  "$work" "$BENCH_MEM_MIB" "$BENCH_FILL_MIB" "$BENCH_RUNS" "$BENCH_LEVELS" "$BENCH_LIBVIRT")

commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$root" diff --quiet 2>/dev/null || commit="$commit (with uncommitted changes)"
report=$(cat <<REPORT

## Save and restore, $(date -u '+%Y-%m-%d %H:%M') UTC on $(hostname)

- commit: $commit
- guest: test guest, ${BENCH_MEM_MIB} MiB RAM, ${BENCH_FILL_MIB} MiB filled (1/4 random, 3/4 binaries), 1 vCPU, TCG
- vmsnap save: pause, stream into the memory file (zstd levels $BENCH_LEVELS, 4 MiB frames, one thread per core), fsync, link, QEMU quits; restore: the whole file checked, QEMU started with -incoming defer, fed, cont
- vmsnap runs in process (its JVM start-up, ~0.4 s per command, is not counted); virsh is a process talking to libvirtd; both include QEMU's start-up in restore
- QEMU plain stream: the same guest, stop + migrate exec:cat + fsync, then cont (untimed); $BENCH_RUNS runs each, median; in each run (a fresh boot) QEMU's stream and each level take turns at going first (the first save after a boot was the slowest, whoever made it)
- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared: compare runs with care)
- nproc: $(nproc); qemu: $(qemu-system-x86_64 --version | head -n1)

$table
REPORT
)
printf '%s\n' "$report"
printf '%s\n' "$report" >>"$BENCH_RESULTS"
