#!/usr/bin/env bash
# vmsnap against qemu-img on the standard image: median wall time, ratio, peak RSS.
# Usage: bench/run.sh [--list] [case...]     (no case: all cases)
# Settings (environment): BENCH_DIR (work folder, default /var/tmp/vmsnap-bench),
# BENCH_RUNS (default 5), BENCH_SMALL=1 (1 GiB image, to try the harness quickly),
# BENCH_REBUILD=1 (rebuild the image), BENCH_RESULTS (default bench/RESULTS.md),
# BENCH_VMSNAP (default ./vmsnap), BENCH_QEMU_IMG (default qemu-img). See bench/README.md.
set -uo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"

# ---- cases: one function each, named case_<name> (use _ for - in the name) --------------
# The commands are bash command lines in single quotes: they run through bash -c with
# BENCH_IMAGE, BENCH_OUT (emptied before every run), BENCH_VMSNAP and BENCH_QEMU_IMG exported.

case_convert_raw() {
  bench_case convert-raw \
    '"$BENCH_VMSNAP" img convert -O raw "$BENCH_IMAGE" "$BENCH_OUT/vmsnap.raw"' \
    '"$BENCH_QEMU_IMG" convert -O raw "$BENCH_IMAGE" "$BENCH_OUT/qemu.raw"'
}

case_check() {
  bench_case check '"$BENCH_VMSNAP" img check "$BENCH_IMAGE"' '"$BENCH_QEMU_IMG" check "$BENCH_IMAGE"'
}

case_info() {
  bench_case info '"$BENCH_VMSNAP" img info "$BENCH_IMAGE"' '"$BENCH_QEMU_IMG" info "$BENCH_IMAGE"'
}

# ---- internal snapshots --------------------------------------------------------------------
# Three images: the standard one, the bigger one (100 GiB virtual, 4 GiB data + 4 KiB every
# MiB) and the standard one holding 1000 snapshots (made by qemu-img, kept as a pristine copy).
# Snapshot cases change their image, so each image gets a fresh work copy per bench run
# (untimed) with a snapshot "base" to apply and d1..dN to delete. Both tools work on that
# copy, interleaved: -c names its snapshot after the run's shell PID, -d takes the next dN
# through a counter file, -a applies "base" (idempotent). qemu-img check judges the copy
# after the cases.

declare -A bench_snap_ready=()

# bench_snapshot_work KEY: prepares (once per bench run) and exports the work copy for KEY.
bench_snapshot_work() {
  local key=$1 pristine work i
  case $key in
    standard) pristine=$BENCH_IMAGE ;;
    big) bench_build_image "$BENCH_BIG_IMAGE" "$BENCH_BIG_VIRTUAL_MIB" "$BENCH_BIG_DATA_MIB"
         pristine=$BENCH_BIG_IMAGE ;;
    1000) pristine=$(bench_thousand_snapshots) || bench_die "could not build the 1000-snapshot image" ;;
  esac
  work=$BENCH_DIR/snapwork-$key.qcow2
  if [ "${bench_snap_ready[$key]:-}" != 1 ]; then
    bench_log "copying $pristine to $work with snapshots base, d1..d$((2 * BENCH_RUNS)) (untimed)"
    rm -f "$work"
    cp --sparse=always "$pristine" "$work" || bench_die "copy to $work failed"
    "$BENCH_QEMU_IMG" snapshot -c base "$work" || bench_die "qemu-img snapshot -c base failed"
    for ((i = 1; i <= 2 * BENCH_RUNS; i++)); do
      "$BENCH_QEMU_IMG" snapshot -c "d$i" "$work" || bench_die "qemu-img snapshot -c d$i failed"
    done
    echo 0 > "$work.counter"
    sync "$work"
    bench_snap_ready[$key]=1
  fi
  export BENCH_SNAP_IMAGE=$work BENCH_SNAP_COUNTER=$work.counter
}

# The standard image with 1000 snapshots made by qemu-img (s1..s1000), built once.
bench_thousand_snapshots() {
  local image=$BENCH_DIR/thousand-${BENCH_VIRTUAL_MIB}M.qcow2 recipe i
  recipe="v1 1000 snapshots of $(cat "$BENCH_IMAGE.recipe")"
  if [ "$BENCH_REBUILD" != 1 ] && [ -f "$image" ] && [ "$(cat "$image.recipe" 2>/dev/null)" = "$recipe" ]; then
    bench_log "reusing $image"
    echo "$image"
    return 0
  fi
  bench_log "building $image (1000 x qemu-img snapshot -c)"
  rm -f "$image" "$image.recipe"
  cp --sparse=always "$BENCH_IMAGE" "$image" || return 1
  for ((i = 1; i <= 1000; i++)); do
    "$BENCH_QEMU_IMG" snapshot -c "s$i" "$image" || return 1
  done
  "$BENCH_QEMU_IMG" check -q "$image" || return 1
  sync "$image"
  echo "$recipe" > "$image.recipe"
  echo "$image"
}

# bench_snapshot_case NAME OP: one snapshot verb (create, list, apply, delete) on $BENCH_SNAP_IMAGE.
bench_snapshot_case() {
  local name=$1 op=$2 v q
  case $op in
    create) v='"$BENCH_VMSNAP" img snapshot -c "v$$" "$BENCH_SNAP_IMAGE"'
            q='"$BENCH_QEMU_IMG" snapshot -c "q$$" "$BENCH_SNAP_IMAGE"' ;;
    list)   v='"$BENCH_VMSNAP" img snapshot -l "$BENCH_SNAP_IMAGE"'
            q='"$BENCH_QEMU_IMG" snapshot -l "$BENCH_SNAP_IMAGE"' ;;
    apply)  v='"$BENCH_VMSNAP" img snapshot -a base "$BENCH_SNAP_IMAGE"'
            q='"$BENCH_QEMU_IMG" snapshot -a base "$BENCH_SNAP_IMAGE"' ;;
    delete) v='n=$(( $(cat "$BENCH_SNAP_COUNTER") + 1 )); echo $n > "$BENCH_SNAP_COUNTER"; "$BENCH_VMSNAP" img snapshot -d "d$n" "$BENCH_SNAP_IMAGE"'
            q='n=$(( $(cat "$BENCH_SNAP_COUNTER") + 1 )); echo $n > "$BENCH_SNAP_COUNTER"; "$BENCH_QEMU_IMG" snapshot -d "d$n" "$BENCH_SNAP_IMAGE"' ;;
  esac
  bench_case "$name" "$v" "$q"
  if ! "$BENCH_QEMU_IMG" check -q "$BENCH_SNAP_IMAGE"; then
    bench_log "FAILED: qemu-img check of $BENCH_SNAP_IMAGE after case $name"
    bench_failures=$((bench_failures + 1))
  fi
}

case_snapshot_create() { bench_snapshot_work standard; bench_snapshot_case snapshot-create create; }
case_snapshot_list() { bench_snapshot_work standard; bench_snapshot_case snapshot-list list; }
case_snapshot_apply() { bench_snapshot_work standard; bench_snapshot_case snapshot-apply apply; }
case_snapshot_delete() { bench_snapshot_work standard; bench_snapshot_case snapshot-delete delete; }
case_snapshot_create_big() { bench_snapshot_work big; bench_snapshot_case snapshot-create-big create; }
case_snapshot_list_big() { bench_snapshot_work big; bench_snapshot_case snapshot-list-big list; }
case_snapshot_apply_big() { bench_snapshot_work big; bench_snapshot_case snapshot-apply-big apply; }
case_snapshot_delete_big() { bench_snapshot_work big; bench_snapshot_case snapshot-delete-big delete; }
case_snapshot_create_1000() { bench_snapshot_work 1000; bench_snapshot_case snapshot-create-1000 create; }
case_snapshot_list_1000() { bench_snapshot_work 1000; bench_snapshot_case snapshot-list-1000 list; }
case_snapshot_apply_1000() { bench_snapshot_work 1000; bench_snapshot_case snapshot-apply-1000 apply; }
case_snapshot_delete_1000() { bench_snapshot_work 1000; bench_snapshot_case snapshot-delete-1000 delete; }

# ---- driver -------------------------------------------------------------------------------

all_cases() { declare -F | awk '$3 ~ /^case_/ { sub(/^case_/, "", $3); gsub(/_/, "-", $3); print $3 }'; }

if [ "${1:-}" = --list ]; then all_cases; exit 0; fi
if [ $# -eq 0 ]; then mapfile -t selected < <(all_cases); else selected=("$@"); fi
for c in "${selected[@]}"; do
  declare -F "case_${c//-/_}" >/dev/null || bench_die "no case '$c' (cases: $(all_cases | tr '\n' ' '))"
done

[[ "$BENCH_RUNS" =~ ^[1-9][0-9]*$ ]] || bench_die "BENCH_RUNS must be a positive number, not '$BENCH_RUNS'"
mkdir -p "$BENCH_DIR" || bench_die "cannot create BENCH_DIR=$BENCH_DIR"
bench_require_tools
bench_geometry
bench_image
bench_vmsnap_preflight
for c in "${selected[@]}"; do
  "case_${c//-/_}"
done
bench_report
