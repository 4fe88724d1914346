#!/usr/bin/env bash
# The cost of a read-write open: `img snapshot -c` (and `-l` for reference) on fully allocated
# 1 GiB and 8 GiB qcow2 images, vmsnap against qemu-img in the same run, alternating.
#
#   bench/rwopen.sh                    # RUNS=5, sizes 1 and 8 GiB, in /var/tmp/vmsnap-rwopen
#   RUNS=3 SIZES="1" bench/rwopen.sh
#
# Rows per size:
#   create          vmsnap -c on an image vmsnap closed last (its record matches: no walk)
#   create-unknown  vmsnap -c with no record (a file vmsnap never saw: the full walk)
#   list            -l (read-only, no walk either way)
# Each -c is followed, untimed, by a -d of the same snapshot with the same tool, so every run
# starts from one snapshot-free image. Images are made with preallocation=falloc: every
# cluster allocated in the L2 tables and refcounts (the walk's cost), no data written.
# Prints min/median/max wall seconds and the ratio of medians; appends to bench/RESULTS.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-5}
SIZES=${SIZES:-1 8}
DIR=${DIR:-/var/tmp/vmsnap-rwopen}
V=${VMSNAP:-$root/vmsnap}
export VMSNAP_DAEMON=${VMSNAP_DAEMON:-off}   # each command in its own JVM (no daemon of the launcher's)
RESULTS=${RESULTS:-$root/bench/RESULTS.md}
mkdir -p "$DIR"
export VMSNAP_HOME=$DIR/home
"$V" --version >/dev/null   # build and train outside the timing

wall() { # prints the wall seconds of "$@" (ns clock: qemu-img takes a few ms)
  local t0 t1
  t0=$(date +%s%N)
  "$@" >/dev/null 2>"$DIR/err" || { echo "failed: $* ($(tail -n 1 "$DIR/err"))" >&2; }
  t1=$(date +%s%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f\n", (b - a) / 1e9 }'
}
stats() { sort -g | awk '{ a[NR] = $1 } END { printf "%.4f %.4f %.4f", a[1], a[int((NR + 1) / 2)], a[NR] }'; }

rows=()
for s in $SIZES; do
  q=$DIR/q$s.qcow2 v=$DIR/v$s.qcow2
  for f in "$q" "$v"; do
    [ -f "$f" ] || qemu-img create -q -f qcow2 -o preallocation=falloc "$f" "${s}G"
  done
  # One untimed vmsnap write so the vmsnap image has a record (as after any vmsnap command).
  "$V" img snapshot -c warm "$v"; "$V" img snapshot -d warm "$v"
  declare -A t=()
  for ((i = 1; i <= RUNS; i++)); do
    t[vc]+="$(wall "$V" img snapshot -c "r$i" "$v")"$'\n'
    t[qc]+="$(wall qemu-img snapshot -c "r$i" "$q")"$'\n'
    "$V" img snapshot -d "r$i" "$v"; qemu-img snapshot -d "r$i" "$q"
    rm -rf "$VMSNAP_HOME/verified-images"
    t[vu]+="$(wall "$V" img snapshot -c "u$i" "$v")"$'\n'
    t[qu]+="$(wall qemu-img snapshot -c "u$i" "$q")"$'\n'
    "$V" img snapshot -d "u$i" "$v"; qemu-img snapshot -d "u$i" "$q"
    t[vl]+="$(wall "$V" img snapshot -l "$v")"$'\n'
    t[ql]+="$(wall qemu-img snapshot -l "$q")"$'\n'
  done
  for k in c u l; do
    name=$([ $k = c ] && echo create || { [ $k = u ] && echo create-unknown || echo list; })
    vs=$(printf '%s' "${t[v$k]}" | stats) qs=$(printf '%s' "${t[q$k]}" | stats)
    ratio=$(awk -v a="${vs#* }" -v b="${qs#* }" 'BEGIN { split(a, x, " "); split(b, y, " "); printf "%.1f", (y[1] > 0 ? x[1] / y[1] : 0) }')
    rows+=("| ${s} GiB | snapshot $name | ${vs// / \/ } | ${qs// / \/ } | ${ratio}x |")
  done
  qemu-img check -q "$v" && qemu-img check -q "$q"
  # The open alone, in process (java + the CLI jar): cold first open, then 4 warm ones, with
  # and without a record. The difference is the walk.
  jar=$(dirname "$V")/cli/target/vmsnap.jar
  java=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java
  if [ -f "$jar" ]; then
    "$java" -XX:+UseSerialGC --enable-native-access=ALL-UNNAMED -cp "$jar" "$root/bench/RwOpen.java" "$v" 1 "$DIR/rec" >/dev/null 2>&1 || true
    modes="record walk"
    [ -n "$(unzip -l "$jar" 2>/dev/null | grep VerifiedImages)" ] || modes=walk
    for mode in $modes; do
      line=
      for ((i = 1; i <= RUNS; i++)); do
        if [ $mode = record ]; then
          line+="$("$java" -XX:+UseSerialGC --enable-native-access=ALL-UNNAMED -cp "$jar" "$root/bench/RwOpen.java" "$v" 5 "$DIR/rec")"$'\n'
        else
          line+="$("$java" -XX:+UseSerialGC --enable-native-access=ALL-UNNAMED -cp "$jar" "$root/bench/RwOpen.java" "$v" 5)"$'\n'
        fi
      done
      cold=$(printf '%s' "$line" | awk '{ print $1 }' | stats)
      warm=$(printf '%s' "$line" | awk '{ for (i = 2; i <= NF; i++) print $i }' | stats)
      rows+=("| ${s} GiB | in-process read-write open, $mode (ms) | cold ${cold// / \/ }; warm ${warm// / \/ } | - | - |")
    done
  fi
done

{
  echo
  echo "## Read-write open (bench/rwopen.sh), $(date -u '+%Y-%m-%d %H:%M UTC') on $(hostname)"
  echo
  echo "- commit: $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet || echo ' (with uncommitted changes)'); $RUNS runs; nproc $(nproc), load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo "| image | command | vmsnap s (min / median / max) | qemu-img s (min / median / max) | ratio of medians |"
  echo "|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
} | tee -a "$RESULTS"
