#!/usr/bin/env bash
# Issue 13's rows, each against its reference, alternating in one run: min/median/max wall time
# of each side, the ratio of medians, the issue's target and PASS/MISS, each side's peak RSS.
#
#   bench/compare.sh                     # every group, COMPARE_RUNS=2 (49 min at 3 runs with load ~9 on 2 cores)
#   bench/compare.sh startup snapshot    # some groups: startup snapshot data chain
#   COMPARE_RUNS=5 bench/compare.sh
#   BENCH_SMALL=1 COMPARE_RUNS=1 bench/compare.sh    # try the script quickly on a 2 GiB image
#
# Everything is made by the script in a fresh folder (mktemp -d under COMPARE_TMP, default /tmp)
# and removed with it at the end: the 20 GiB image (2 GiB written at 0, then 4 KiB in every MiB),
# its work copies, the 1000-snapshot image, the 64-deep chain, a shut-off domain. vmsnap is the
# launcher at the repo root, timed as a user runs it (JVM start-up included). Settings:
# COMPARE_RUNS (runs per side, default 2), COMPARE_TMP, COMPARE_KEEP=1 (keep the folder),
# BENCH_SMALL=1, BENCH_RESULTS, BENCH_VMSNAP, BENCH_QEMU_IMG (see bench/README.md).
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"

BENCH_RUNS=${COMPARE_RUNS:-2}
parent=${COMPARE_TMP:-/tmp}
groups=(startup snapshot data chain)

for g in "$@"; do
  case " ${groups[*]} " in *" $g "*) ;; *) bench_die "no group '$g' (groups: ${groups[*]})" ;; esac
done
[ $# -eq 0 ] || groups=("$@")
[[ "$BENCH_RUNS" =~ ^[1-9][0-9]*$ ]] || bench_die "COMPARE_RUNS must be a positive number, not '$BENCH_RUNS'"

# ---- tools, space, the working folder -------------------------------------------------------
bench_require_tools
. "$bench_root/scripts/env.sh"
vmsnap_find_jdk || bench_die "JDK 25 is needed for vmsnap and for the hello-world reference"
JAVA=$VMSNAP_JAVA_HOME/bin/java

if [ "$BENCH_SMALL" = 1 ]; then
  BENCH_VIRTUAL_MIB=2048; BENCH_DATA_MIB=256; need_gib=3
else
  BENCH_VIRTUAL_MIB=20480; BENCH_DATA_MIB=2048; need_gib=16
fi
# Std image 2.3 GiB; its snapshot work copy, the 1000-snapshot image and its work copy, the
# commit overlay: 2.3 GiB each; an output of 2.3 GiB; the chain ~0.6 GiB.
free_gib=$(df -P -BG "$parent" | awk 'NR == 2 { sub(/G$/, "", $4); print $4 }')
[ "$free_gib" -ge "$need_gib" ] \
  || bench_die "$parent has ${free_gib} GiB free, the run needs about $need_gib GiB (set COMPARE_TMP)"

work=$(mktemp -d "$parent/vmsnap-compare.XXXXXX")
cleanup() {
  if [ "${COMPARE_KEEP:-0}" = 1 ]; then bench_log "kept $work"; else rm -rf -- "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
BENCH_DIR=$work
gib=$((BENCH_VIRTUAL_MIB / 1024))   # for the row names
BENCH_IMAGE=$work/standard.qcow2
export BENCH_IMAGE BENCH_VMSNAP BENCH_QEMU_IMG JAVA
# vmsnap's state folder (domains, verified-image records) lives and dies with the run.
export VMSNAP_HOME=$work/home
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
bench_log "working in $work ($free_gib GiB free on $parent); load $load_start"

# define_domain NAME DISK: a shut-off domain NAME with the one qcow2 disk DISK, its XML beside the
# disk (vm.xml).
define_domain() {
  cat > "$(dirname "$2")/vm.xml" <<XML
<domain type='kvm'><name>$1</name><memory unit='MiB'>64</memory><devices>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='$2'/><target dev='vda' bus='virtio'/></disk>
</devices></domain>
XML
  "$BENCH_VMSNAP" define "$(dirname "$2")/vm.xml" >/dev/null
}

# ---- rows -----------------------------------------------------------------------------------
rows=()
misses=0

# row NAME REFERENCE_LABEL TARGET VMSNAP_CMD REF_CMD [SETUP_CMD]
# TARGET: "abs:S" (vmsnap's median <= S seconds) or "ratio:R" (ratio of medians <= R).
# An empty REF_CMD times vmsnap alone.
row() {
  local name=$1 label=$2 target=$3 vcmd=$4 rcmd=$5 setup=${6:-} load
  load=$(cut -d' ' -f1 /proc/loadavg)
  bench_case "$(printf '%s' "$name" | tr -c 'A-Za-z0-9\n' '-')" "$vcmd" "$rcmd" "$setup" || true
  local vs=failed rs=- ratio=- verdict vmed= rmed= vrss=- rrss=- want
  if [ -n "$bench_last_vmsnap_median" ]; then
    vs=$(printf '%s' "$bench_last_vmsnap_times" | bench_stats)
    vmed=$(echo "$vs" | awk '{ print $2 }')
    vrss=$(printf '%s' "$bench_last_vmsnap_rss" | sort -g | tail -n 1 | awk '{ printf "%.0f", $1 / 1024 }')
  fi
  if [ -n "$rcmd" ]; then
    rs=failed
    if [ -n "$bench_last_qemu_median" ]; then
      rs=$(printf '%s' "$bench_last_qemu_times" | bench_stats)
      rmed=$(echo "$rs" | awk '{ print $2 }')
      rrss=$(printf '%s' "$bench_last_qemu_rss" | sort -g | tail -n 1 | awk '{ printf "%.0f", $1 / 1024 }')
    fi
  fi
  if [ -n "$vmed" ] && [ -n "$rmed" ]; then
    ratio=$(awk -v v="$vmed" -v r="$rmed" 'BEGIN { if (r > 0) printf "%.2f", v / r; else print "-" }')
  fi
  want=${target#*:}
  case $target in
    abs:*)   verdict=$([ -n "$vmed" ] && awk -v v="$vmed" -v t="$want" 'BEGIN { exit !(v <= t) }' && echo PASS || echo MISS)
             target="<= $want s" ;;
    ratio:*) verdict=$([ "$ratio" != - ] && awk -v v="$ratio" -v t="$want" 'BEGIN { exit !(v <= t) }' && echo PASS || echo MISS)
             target="<= ${want}x" ;;
  esac
  [ "$vs" != failed ] && [ "$rs" != failed ] || verdict=FAILED
  [ "$verdict" = PASS ] || misses=$((misses + 1))
  local r="| $name | ${vs// / \/ } | $label | ${rs// / \/ } | $ratio | $target | $verdict | $vrss | $rrss | $load |"
  rows+=("$r")
  bench_log "$r"
}

# The cache-mode pair of one data verb: "-t unsafe" on both sides, then each tool's default
# (vmsnap syncs everything before it exits) with a final sync of qemu-img's outputs.
# data_pair NAME VMSNAP_ARGS QEMU_ARGS SYNC_FILES [SETUP]: the args are the verb and its operands
# with CACHE where "-t unsafe" goes.
data_pair() {
  local name=$1 vargs=$2 qargs=$3 files=$4 setup=${5:-}
  local BENCH_WARMUP_RUNS=${BENCH_WARMUP_RUNS:-1}   # see bench_case
  row "$name, -t unsafe" "qemu-img -t unsafe" ratio:1.0 \
    "\"\$BENCH_VMSNAP\" img ${vargs//CACHE/-t unsafe}" "\"\$BENCH_QEMU_IMG\" ${qargs//CACHE/-t unsafe}" "$setup"
  row "$name, durable" "qemu-img + sync" ratio:1.0 \
    "\"\$BENCH_VMSNAP\" img ${vargs//CACHE/}" "\"\$BENCH_QEMU_IMG\" ${qargs//CACHE/} && sync $files" "$setup"
}

check_clean() { # qemu-img check of an image a group changed: a failure counts as a failed row
  if ! "$BENCH_QEMU_IMG" check -q "$1"; then
    bench_log "FAILED: qemu-img check $1"
    rows+=("| qemu-img check of $(basename "$1") | failed | | | | | FAILED | | | |")
    misses=$((misses + 1))
  fi
}

# ---- inputs ---------------------------------------------------------------------------------
bench_build_image "$BENCH_IMAGE" "$BENCH_VIRTUAL_MIB" "$BENCH_DATA_MIB"
bench_vmsnap_preflight

# The start-up rows of the four read verbs; SUFFIX ends each row's name.
startup_rows() {
  local suffix=$1
  row "img info$suffix" "qemu-img info" abs:0.2 '"$BENCH_VMSNAP" img info "$BENCH_IMAGE"' \
    '"$BENCH_QEMU_IMG" info "$BENCH_IMAGE"'
  row "img snapshot -l ($((6 * BENCH_RUNS + 1)) snapshots)$suffix" "qemu-img snapshot -l" abs:0.2 \
    '"$BENCH_VMSNAP" img snapshot -l "$BENCH_SNAP_IMAGE"' '"$BENCH_QEMU_IMG" snapshot -l "$BENCH_SNAP_IMAGE"'
  row "snapshot-list (shut-off, 3 snapshots)$suffix" "none" abs:0.2 '"$BENCH_VMSNAP" snapshot-list bench' ''
  row "domblklist (shut-off)$suffix" "none" abs:0.2 '"$BENCH_VMSNAP" domblklist bench' ''
}

group_startup() {
  mkdir -p "$work/hello" "$work/dom"
  printf '%s\n' 'public class Hello { public static void main(String[] a) { System.out.println("hello"); } }' \
    > "$work/hello/Hello.java"
  "$VMSNAP_JAVA_HOME/bin/javac" -d "$work/hello" "$work/hello/Hello.java"
  # A shut-off domain on an overlay of the standard image, with three internal snapshots.
  "$BENCH_QEMU_IMG" create -q -f qcow2 -b "$BENCH_IMAGE" -F qcow2 "$work/dom/disk.qcow2"
  define_domain bench "$work/dom/disk.qcow2"
  local i
  for i in 1 2 3; do "$BENCH_VMSNAP" snapshot-create-as bench "s$i" >/dev/null; done
  bench_snapshot_work standard   # the snapshot list reads base, d1..dN of the work copy

  row "--version" "java Hello (bare JDK 25)" abs:0.15 '"$BENCH_VMSNAP" --version' \
    '"$JAVA" -cp "'"$work"'/hello" Hello'
  startup_rows ""

  # The same verbs with a `vmsnap daemon` running for the state folder (the launcher hands them
  # to it: its own few milliseconds plus the warm JVM's work; three untimed runs of each warm it).
  if daemon_start; then
    for w in 1 2 3; do
      "$BENCH_VMSNAP" img info "$BENCH_IMAGE" >/dev/null
      "$BENCH_VMSNAP" img snapshot -l "$BENCH_SNAP_IMAGE" >/dev/null
      "$BENCH_VMSNAP" snapshot-list bench >/dev/null
      "$BENCH_VMSNAP" domblklist bench >/dev/null
    done
    startup_rows ", daemon running"
  fi
  daemon_stop

  # As a user meets it (VMSNAP_DAEMON unset): the first short command runs in its own JVM and
  # starts the launcher's daemon in the background (each run of this row with none running
  # before it), then the rows go to that daemon, 3 s later (no warm-up runs of the bench's own).
  export VMSNAP_DAEMON=auto
  row "snapshot-list (shut-off, 3 snapshots), first command: starts the launcher's daemon" "none" abs:0.2 \
    '"$BENCH_VMSNAP" snapshot-list bench' '' "$auto_reset"
  if auto_daemon_start snapshot-list bench; then
    startup_rows ", the launcher's daemon"
  fi
  auto_daemon_stop
}

# A bench_case setup (bash -c) that stops the launcher's daemon, once the last run's is up, and
# clears its stamp: the next short command then starts one again.
auto_reset='for _ in $(seq 1 100); do { [ -f "$VMSNAP_HOME/.daemon" ] || [ ! -f "$VMSNAP_HOME/.daemon.spawn" ]; } && break; sleep 0.1; done
p=$(sed -n 3p "$VMSNAP_HOME/.daemon" 2>/dev/null | cut -d" " -f1)
[ -z "$p" ] || kill "$p" 2>/dev/null || true
for _ in $(seq 1 100); do [ -f "$VMSNAP_HOME/.daemon" ] || break; sleep 0.1; done
rm -f "$VMSNAP_HOME/.daemon.spawn"'

# The launcher's own daemon (VMSNAP_DAEMON=auto): the command given runs untimed and starts it;
# false (with a FAILED row) when it did not come up. The rows begin 3 s after that command, a
# user's pace: the daemon warms itself up meanwhile (--warm-up, ~1.2 s here), and a command sent
# during its warm-up shares the CPUs with it (the first -c of the 20 GiB image: 0.31 s).
auto_daemon_start() {
  export VMSNAP_DAEMON=auto
  mkdir -p "$VMSNAP_HOME"   # the launcher starts none for a state folder that does not exist
  bash -c "$auto_reset"
  "$BENCH_VMSNAP" "$@" >/dev/null
  sleep 3
  for _ in $(seq 1 300); do [ -f "$VMSNAP_HOME/.daemon" ] && return 0; sleep 0.1; done
  bench_log "FAILED: the launcher started no daemon"
  rows+=("| the launcher's daemon | failed | | | | | FAILED | | | |")
  misses=$((misses + 1))
  return 1
}

auto_daemon_stop() {
  bash -c "$auto_reset"
  export VMSNAP_DAEMON=off
}

# A `vmsnap daemon` for the run's state folder, started in the background; false (with a FAILED
# row) when it did not come up.
daemon_start() {
  export VMSNAP_DAEMON=manual   # the rows use this daemon (lib.sh: off, each command in its own JVM)
  "$BENCH_VMSNAP" daemon --quiet >"$work/daemon.log" 2>&1 &
  daemon_pid=$!
  for _ in $(seq 1 300); do [ -f "$VMSNAP_HOME/.daemon" ] && return 0; sleep 0.1; done
  bench_log "FAILED: vmsnap daemon did not start ($(cat "$work/daemon.log"))"
  rows+=("| vmsnap daemon | failed | | | | | FAILED | | | |")
  misses=$((misses + 1))
  return 1
}

daemon_stop() {
  kill "$daemon_pid" 2>/dev/null || true
  wait "$daemon_pid" 2>/dev/null || true
  export VMSNAP_DAEMON=off
}

# Internal snapshot verbs on a work copy holding base, d1..d(6N) (bench_snapshot_work): -c names
# its snapshot after the run's shell PID, -a applies base, -d deletes the next dN.
group_snapshot() {
  snapshot_rows ""
  # Again with a `vmsnap daemon` running (the launcher hands it img snapshot of an absolute file):
  # each verb three times untimed on each work copy first, to warm it.
  if daemon_start; then
    local key w
    for key in standard 1000; do
      bench_snapshot_work "$key"
      for w in 1 2 3; do
        "$BENCH_VMSNAP" img snapshot -c "warm$w" "$BENCH_SNAP_IMAGE"
        "$BENCH_VMSNAP" img snapshot -a base "$BENCH_SNAP_IMAGE"
        "$BENCH_VMSNAP" img snapshot -d "warm$w" "$BENCH_SNAP_IMAGE"
      done
    done
    snapshot_rows ", daemon running"
  fi
  daemon_stop
  domain_snapshot_setup
  domain_snapshot_rows ""
  # As a user meets it: the first command starts the launcher's daemon (which warms itself up);
  # the rows go to it 3 s later, with no warm-up runs of the bench's own.
  if auto_daemon_start img snapshot -l "$BENCH_SNAP_IMAGE"; then
    snapshot_rows ", the launcher's daemon"
    domain_snapshot_rows ", the launcher's daemon"
  fi
  auto_daemon_stop
}

# The domain's internal snapshot verbs against qemu-img's on the same image: a shut-off domain
# "snapdom" whose disk is a copy of the standard image, with a snapshot "dbase" to revert to, e1..
# for vmsnap's deletes and f1.. for qemu-img's (2N of each, for two passes), made untimed.
domain_snapshot_setup() {
  local d=$work/domsnap i
  mkdir -p "$d"
  bench_log "copying the standard image to $d/disk.qcow2 for the domain rows (untimed)"
  cp --sparse=always "$BENCH_IMAGE" "$d/disk.qcow2"
  define_domain snapdom "$d/disk.qcow2"
  "$BENCH_VMSNAP" snapshot-create-as snapdom dbase >/dev/null
  for ((i = 1; i <= 2 * BENCH_RUNS; i++)); do
    "$BENCH_VMSNAP" snapshot-create-as snapdom "e$i" >/dev/null
    "$BENCH_QEMU_IMG" snapshot -c "f$i" "$d/disk.qcow2"
  done
  echo 0 > "$d/vcounter"
  echo 0 > "$d/qcounter"
  export DOMSNAP=$d
  sync "$d/disk.qcow2"
}

# The rows of domain_snapshot_setup's domain; SUFFIX ends each row's name.
domain_snapshot_rows() {
  local suffix=$1
  row "snapshot-create-as (shut-off, internal), $gib GiB$suffix" "qemu-img snapshot -c" ratio:2.0 \
    '"$BENCH_VMSNAP" snapshot-create-as snapdom "v$$"' \
    '"$BENCH_QEMU_IMG" snapshot -c "q$$" "$DOMSNAP/disk.qcow2"'
  row "snapshot-revert (shut-off, internal), $gib GiB$suffix" "qemu-img snapshot -a" ratio:2.0 \
    '"$BENCH_VMSNAP" snapshot-revert snapdom dbase' \
    '"$BENCH_QEMU_IMG" snapshot -a dbase "$DOMSNAP/disk.qcow2"'
  row "snapshot-delete (shut-off, internal), $gib GiB$suffix" "qemu-img snapshot -d" ratio:2.0 \
    'n=$(( $(cat "$DOMSNAP/vcounter") + 1 )); echo $n > "$DOMSNAP/vcounter"; "$BENCH_VMSNAP" snapshot-delete snapdom "e$n"' \
    'n=$(( $(cat "$DOMSNAP/qcounter") + 1 )); echo $n > "$DOMSNAP/qcounter"; "$BENCH_QEMU_IMG" snapshot -d "f$n" "$DOMSNAP/disk.qcow2"'
}

# The rows of group_snapshot; SUFFIX ends each row's name.
snapshot_rows() {
  local suffix=$1 key label
  for key in standard 1000; do
    bench_snapshot_work "$key"
    label=$([ "$key" = standard ] && echo "$gib GiB" || echo "1000 snapshots")$suffix
    row "img snapshot -c, $label" "qemu-img snapshot -c" ratio:2.0 \
      '"$BENCH_VMSNAP" img snapshot -c "v$$" "$BENCH_SNAP_IMAGE"' \
      '"$BENCH_QEMU_IMG" snapshot -c "q$$" "$BENCH_SNAP_IMAGE"'
    row "img snapshot -a, $label" "qemu-img snapshot -a" ratio:2.0 \
      '"$BENCH_VMSNAP" img snapshot -a base "$BENCH_SNAP_IMAGE"' \
      '"$BENCH_QEMU_IMG" snapshot -a base "$BENCH_SNAP_IMAGE"'
    row "img snapshot -d, $label" "qemu-img snapshot -d" ratio:2.0 \
      'n=$(( $(cat "$BENCH_SNAP_COUNTER") + 1 )); echo $n > "$BENCH_SNAP_COUNTER"; "$BENCH_VMSNAP" img snapshot -d "d$n" "$BENCH_SNAP_IMAGE"' \
      'n=$(( $(cat "$BENCH_SNAP_COUNTER") + 1 )); echo $n > "$BENCH_SNAP_COUNTER"; "$BENCH_QEMU_IMG" snapshot -d "d$n" "$BENCH_SNAP_IMAGE"'
    check_clean "$BENCH_SNAP_IMAGE"
  done
}

# The data verbs on the 20 GiB image. commit: the image's data (a copy, rebased -u onto an
# empty 20 GiB base made fresh before every run) committed with -d into that base. rebase: a
# fresh empty overlay on the image, rebased (safe) onto an empty 20 GiB base, so every
# allocated cluster of the image is read on both sides and copied into the overlay.
group_data() {
  local d=$work/data
  mkdir -p "$d"
  export DATA=$d
  data_pair "convert -O raw, $gib GiB" 'convert CACHE -O raw "$BENCH_IMAGE" "$BENCH_OUT/o.raw"' \
    'convert CACHE -O raw "$BENCH_IMAGE" "$BENCH_OUT/o.raw"' '"$BENCH_OUT/o.raw"'
  data_pair "convert -O qcow2, $gib GiB" 'convert CACHE -O qcow2 "$BENCH_IMAGE" "$BENCH_OUT/o.qcow2"' \
    'convert CACHE -O qcow2 "$BENCH_IMAGE" "$BENCH_OUT/o.qcow2"' '"$BENCH_OUT/o.qcow2"'
  data_pair "convert -c -O qcow2, $gib GiB" 'convert CACHE -c -O qcow2 "$BENCH_IMAGE" "$BENCH_OUT/o.qcow2"' \
    'convert CACHE -c -O qcow2 "$BENCH_IMAGE" "$BENCH_OUT/o.qcow2"' '"$BENCH_OUT/o.qcow2"'

  bench_log "copying the image to $d/overlay.qcow2 for commit (untimed)"
  cp --sparse=always "$BENCH_IMAGE" "$d/overlay.qcow2"
  "$BENCH_QEMU_IMG" create -q -f qcow2 "$d/base.qcow2" "${BENCH_VIRTUAL_MIB}M"
  "$BENCH_QEMU_IMG" rebase -u -b base.qcow2 -F qcow2 "$d/overlay.qcow2"
  data_pair "commit -d, $gib GiB" 'commit CACHE -q -d "$DATA/overlay.qcow2"' \
    'commit CACHE -q -d "$DATA/overlay.qcow2"' '"$DATA/base.qcow2"' \
    '"$BENCH_QEMU_IMG" create -q -f qcow2 "$DATA/base.qcow2" '"${BENCH_VIRTUAL_MIB}M"' && sync "$DATA/base.qcow2"'
  check_clean "$d/base.qcow2"
  rm -f "$d/overlay.qcow2" "$d/base.qcow2"

  "$BENCH_QEMU_IMG" create -q -f qcow2 "$d/empty.qcow2" "${BENCH_VIRTUAL_MIB}M"
  data_pair "rebase (safe), $gib GiB" 'rebase CACHE -q -b "$DATA/empty.qcow2" -F qcow2 "$DATA/top.qcow2"' \
    'rebase CACHE -q -b "$DATA/empty.qcow2" -F qcow2 "$DATA/top.qcow2"' '"$DATA/top.qcow2"' \
    'rm -f "$DATA/top.qcow2" && "$BENCH_QEMU_IMG" create -q -f qcow2 -b "$BENCH_IMAGE" -F qcow2 "$DATA/top.qcow2"'
  check_clean "$d/top.qcow2"
  rm -rf "$d"
}

# The 64-deep chain: c0 (20 GiB virtual, 256 MiB written at 0, 4 KiB in every 16th MiB) under
# c1..c64, each holding 64 clusters of 64 KiB spread over the disk at places of its own plus
# the same cluster at 0 (the newest wins). commit -b c0 c64 merges every layer into c0 (fresh
# copy of c0 before every run); the safe rebase of c64 onto c0 moves c1..c63 into c64.
group_chain() {
  local d=$work/chain i args base_mib=256
  [ "$BENCH_SMALL" != 1 ] || base_mib=64
  mkdir -p "$d"
  export CHAIN=$d
  bench_log "building the 64-deep chain in $d (untimed)"
  "$BENCH_QEMU_IMG" create -q -f qcow2 "$d/c0.qcow2" "${BENCH_VIRTUAL_MIB}M"
  args=(-c "write -q -P 0x3c 0 ${base_mib}M")
  for ((i = 0; i < BENCH_VIRTUAL_MIB; i += 16)); do args+=(-c "write -q -P 0xc3 $((i * 1048576 + 524288)) 4k"); done
  qemu-io -t writeback "${args[@]}" "$d/c0.qcow2" >/dev/null
  for ((i = 1; i <= 64; i++)); do
    "$BENCH_QEMU_IMG" create -q -f qcow2 -u -b "c$((i - 1)).qcow2" -F qcow2 "$d/c$i.qcow2" "${BENCH_VIRTUAL_MIB}M"
    mapfile -t args < <(scatter_writes "$BENCH_VIRTUAL_MIB" $((i + 1)) 64 $((i * 65536)))
    qemu-io -t writeback -c "write -q -P $((i + 1)) 0 64k" "${args[@]}" "$d/c$i.qcow2" >/dev/null
  done
  cp --sparse=always "$d/c0.qcow2" "$d/c0.pristine"
  cp --sparse=always "$d/c64.qcow2" "$d/c64.pristine"
  sync
  local restore='cp --sparse=always "$CHAIN/c0.pristine" "$CHAIN/c0.qcow2" && cp --sparse=always "$CHAIN/c64.pristine" "$CHAIN/c64.qcow2" && sync'

  data_pair "convert -O raw, 64-deep chain" 'convert CACHE -O raw "$CHAIN/c64.qcow2" "$BENCH_OUT/o.raw"' \
    'convert CACHE -O raw "$CHAIN/c64.qcow2" "$BENCH_OUT/o.raw"' '"$BENCH_OUT/o.raw"'
  data_pair "convert -O qcow2, 64-deep chain" 'convert CACHE -O qcow2 "$CHAIN/c64.qcow2" "$BENCH_OUT/o.qcow2"' \
    'convert CACHE -O qcow2 "$CHAIN/c64.qcow2" "$BENCH_OUT/o.qcow2"' '"$BENCH_OUT/o.qcow2"'
  data_pair "convert -c -O qcow2, 64-deep chain" 'convert CACHE -c -O qcow2 "$CHAIN/c64.qcow2" "$BENCH_OUT/o.qcow2"' \
    'convert CACHE -c -O qcow2 "$CHAIN/c64.qcow2" "$BENCH_OUT/o.qcow2"' '"$BENCH_OUT/o.qcow2"'
  data_pair "commit -b c0, 64-deep chain" 'commit CACHE -q -b "$CHAIN/c0.qcow2" "$CHAIN/c64.qcow2"' \
    'commit CACHE -q -b "$CHAIN/c0.qcow2" "$CHAIN/c64.qcow2"' '"$CHAIN/c0.qcow2"' "$restore"
  check_clean "$d/c0.qcow2"
  data_pair "rebase (safe) onto c0, 64-deep chain" 'rebase CACHE -q -b c0.qcow2 -F qcow2 "$CHAIN/c64.qcow2"' \
    'rebase CACHE -q -b c0.qcow2 -F qcow2 "$CHAIN/c64.qcow2"' '"$CHAIN/c64.qcow2"' "$restore"
  check_clean "$d/c64.qcow2"
}

for g in "${groups[@]}"; do
  bench_log "group $g (at $((SECONDS / 60)) min $((SECONDS % 60)) s)"
  "group_$g"
done

# ---- the table ------------------------------------------------------------------------------
table() {
  echo "| row | vmsnap s (min / median / max) | reference | reference s (min / median / max) | ratio of medians | target | result | vmsnap peak RSS MiB | reference peak RSS MiB | load at row start |"
  echo "|---|---|---|---|---:|---|---|---:|---:|---:|"
  printf '%s\n' "${rows[@]}"
}
out=$(table)
# Before the append: once RESULTS.md grows, git calls the tree dirty.
machine=$(bench_machine | grep -v '^- image:')
echo
echo "$out"
{
  echo
  echo "## Issue 13 rows (bench/compare.sh), $(date -u '+%Y-%m-%d %H:%M UTC') on $(uname -n)"
  echo
  echo "$machine"
  echo "- $BENCH_RUNS runs per side, alternating vmsnap and its reference; groups: ${groups[*]}"
  echo "- images: ${BENCH_VIRTUAL_MIB} MiB virtual qcow2 with ${BENCH_DATA_MIB} MiB written at 0 and 4 KiB in every MiB;" \
       "the same with 1000 snapshots; a 64-deep chain (see bench/README.md)"
  echo "- load average: at start $load_start, at end $(cut -d' ' -f1-3 /proc/loadavg); the whole script took $((SECONDS / 60)) min $((SECONDS % 60)) s"
  echo "- durable rows: vmsnap's default (everything synced before exit), qemu-img's default then \`sync\` of the files it wrote"
  echo
  echo "$out"
} >> "$BENCH_RESULTS"
bench_log "appended to $BENCH_RESULTS; $misses row(s) miss their target or failed"
[ "$bench_failures" = 0 ] || { bench_log "$bench_failures command(s) failed; logs were in $work/cases (COMPARE_KEEP=1 keeps them)"; exit 1; }
