#!/usr/bin/env bash
# Memory-stream benchmark: vmsnap's zstd stream against QEMU's plain stream to a file, on
# one running test guest. Run by hand; appends its table to bench/RESULTS.md.
#
#   bench/memstream.sh
#
# Variables: BENCH_DIR (default /var/tmp/vmsnap-bench; the guest's files go in memstream/),
# BENCH_RUNS (3), BENCH_MEM_MIB (guest RAM, 1024), BENCH_FILL_MIB (RAM the guest fills, 512:
# a quarter random bytes, three quarters copies of its own binaries and modules),
# BENCH_LEVELS (memory file variants: "3" is zstd level 3 on one thread, "3w2" on 2 threads, "1w2f8"
# with 8 MiB frames (default 4);
# default "1 1w2 3 3w2"), BENCH_RESULTS (bench/RESULTS.md).
# Needs what the live tests need: qemu-system-x86, qemu-guest-agent, busybox-static,
# e2fsprogs, qemu-utils (./vmsnap-test installs them), and network for the first guest build.
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
. "$root/scripts/env.sh"
vmsnap_find_jdk || exit 1
vmsnap_find_mvn || exit 1
export JAVA_HOME=$VMSNAP_JAVA_HOME

BENCH_DIR=${BENCH_DIR:-/var/tmp/vmsnap-bench}
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_MEM_MIB=${BENCH_MEM_MIB:-1024}
BENCH_FILL_MIB=${BENCH_FILL_MIB:-512}
BENCH_LEVELS=${BENCH_LEVELS:-"1 1w2 3 3w2"}
BENCH_RESULTS=${BENCH_RESULTS:-$root/bench/RESULTS.md}
work=$BENCH_DIR/memstream
mkdir -p "$work"

echo "bench: building the qmp module and its test classes" >&2
( cd "$root" && "$VMSNAP_MVN" -B -q -ntp -pl qmp -am install -DskipTests >&2 \
  && "$VMSNAP_MVN" -B -q -ntp -pl qmp test-compile dependency:build-classpath \
       -Dmdep.outputFile="$work/classpath" -Dmdep.includeScope=test >&2 )
cp_line="$root/qmp/target/test-classes:$root/qmp/target/classes:$(cat "$work/classpath")"

table=$("$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$cp_line" org.vmsnap.qmp.MemoryStreamBench \
  "$work" "$BENCH_MEM_MIB" "$BENCH_FILL_MIB" "$BENCH_RUNS" "$BENCH_LEVELS")

commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$root" diff --quiet 2>/dev/null || commit="$commit (with uncommitted changes)"
report=$(cat <<REPORT

## Memory stream, $(date -u '+%Y-%m-%d %H:%M') UTC on $(hostname)

- commit: $commit
- guest: test guest (Debian kernel + busybox), ${BENCH_MEM_MIB} MiB RAM, ${BENCH_FILL_MIB} MiB filled (1/4 random, 3/4 binaries), 1 vCPU
- each save from a paused VM; restore into a fresh QEMU (-incoming defer, start-up not counted); $BENCH_RUNS runs each, median
- every save time includes the fsync of its file (exec:cat writes to the page cache; it is synced after QEMU reports completion)
- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared: compare runs with care)
- nproc: $(nproc); CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
- qemu: $(qemu-system-x86_64 --version | head -n1)
- java: $("$JAVA_HOME/bin/java" -version 2>&1 | head -n1)

$table
REPORT
)
printf '%s\n' "$report"
printf '%s\n' "$report" >>"$BENCH_RESULTS"
