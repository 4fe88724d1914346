#!/usr/bin/env bash
# The internal snapshot verbs without JVM start-up: the engine's create, apply and delete of
# an internal snapshot, timed inside one JVM (bench/SnapOps.java), against `qemu-img snapshot
# -c/-a/-d` wall time (its whole process) on a twin image, alternating, in the same run.
#
#   bench/snapops.sh                    # RUNS=5, sizes 1 and 8 GiB, in /var/tmp/vmsnap-snapops
#   RUNS=3 SIZES="8" bench/snapops.sh
#   JAR=/other/tree/qcow2/target/vmsnap-qcow2-0.1.0-SNAPSHOT.jar LABEL=before bench/snapops.sh   # another engine
#
# Images: preallocation=falloc (every cluster allocated in the L2 tables and refcounts: a
# create raises 131072 refcounts on 8 GiB and copies every L2 table, as QEMU rewrites them).
# Each run is one fresh JVM doing 3 rounds of create/apply/delete: round 1 is "cold" (the
# code runs for the first time, as in a CLI command, but classes are loaded by the untimed
# open before it), rounds 2-3 "warm". Each verb opens, operates and closes, with the
# VerifiedImages records on as in the CLI (no refcount walk on open).
# Columns: op = the engine call alone; whole = open + op + close (wall ms); cpu = that
# thread's CPU ms of the whole (the machines are shared: CPU shows the work without waits).
# Prints min/median/max and the ratio of medians (whole / qemu-img); appends to bench/RESULTS.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-5}
SIZES=${SIZES:-1 8}
DIR=${DIR:-/var/tmp/vmsnap-snapops}
V=${VMSNAP:-$root/vmsnap}
export VMSNAP_DAEMON=${VMSNAP_DAEMON:-off}   # each command in its own JVM (no daemon of the launcher's)
RESULTS=${RESULTS:-$root/bench/RESULTS.md}
mkdir -p "$DIR"
"$V" --version >/dev/null   # builds the jar outside the timing
jar=${JAR:-$root/cli/target/vmsnap.jar}
java=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java

wall() { # wall ms of "$@"
  local t0 t1
  t0=$(date +%s%N)
  "$@" >/dev/null 2>"$DIR/err" || { echo "failed: $* ($(tail -n 1 "$DIR/err"))" >&2; }
  t1=$(date +%s%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", (b - a) / 1e6 }'
}
stats() { sort -g | awk '{ a[NR] = $1 } END { printf "%.1f %.1f %.1f", a[1], a[int((NR + 1) / 2)], a[NR] }'; }
med() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

rows=()
for s in $SIZES; do
  q=$DIR/q$s.qcow2 v=$DIR/v$s.qcow2
  for f in "$q" "$v"; do
    [ -f "$f" ] || qemu-img create -q -f qcow2 -o preallocation=falloc "$f" "${s}G"
  done
  declare -A t=()
  for ((i = 1; i <= RUNS; i++)); do
    out=$("$java" -XX:+UseSerialGC --enable-native-access=ALL-UNNAMED -cp "$jar" "$root/bench/SnapOps.java" "$v" 3 "$DIR/rec")
    for verb in create apply delete; do
      line=$(printf '%s\n' "$out" | awk -v v="$verb" '$1 == v')
      for k in 2 3 4; do # rounds: cold, warm, warm
        IFS=/ read -r op whole cpu <<<"$(printf '%s' "$line" | awk -v k="$k" '{ print $k }')"
        if [ $k = 2 ]; then c=cold; else c=warm; fi
        t[$verb.$c.op]+="$op"$'\n'; t[$verb.$c.whole]+="$whole"$'\n'; t[$verb.$c.cpu]+="$cpu"$'\n'
      done
    done
    t[create.q]+="$(wall qemu-img snapshot -c b "$q")"$'\n'
    t[apply.q]+="$(wall qemu-img snapshot -a b "$q")"$'\n'
    t[delete.q]+="$(wall qemu-img snapshot -d b "$q")"$'\n'
  done
  for verb in create apply delete; do
    qs=$(printf '%s' "${t[$verb.q]}" | stats); qm=$(printf '%s' "${t[$verb.q]}" | med)
    for c in cold warm; do
      op=$(printf '%s' "${t[$verb.$c.op]}" | stats) whole=$(printf '%s' "${t[$verb.$c.whole]}" | stats)
      cpu=$(printf '%s' "${t[$verb.$c.cpu]}" | stats) wm=$(printf '%s' "${t[$verb.$c.whole]}" | med)
      ratio=$(awk -v a="$wm" -v b="$qm" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
      rows+=("| ${s} GiB | $verb ($c) | ${op// / \/ } | ${whole// / \/ } | ${cpu// / \/ } | ${qs// / \/ } | ${ratio}x |")
    done
  done
  qemu-img check -q "$v" && qemu-img check -q "$q" && qemu-img compare -q "$v" "$q"
done

{
  echo
  echo "## Internal snapshot verbs in process (bench/snapops.sh), $(date -u '+%Y-%m-%d %H:%M UTC') on $(hostname)"
  echo
  echo "- commit: $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet || echo ' (with uncommitted changes)'); $RUNS runs; nproc $(nproc), load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- engine: $jar${LABEL:+ ($LABEL)}"
  echo
  echo "| image | verb | vmsnap op ms | vmsnap open+op+close ms | its CPU ms | qemu-img ms (whole process) | ratio of medians (open+op+close / qemu-img) |"
  echo "|---|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
} | tee -a "$RESULTS"
