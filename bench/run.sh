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

# ---- backing chains: commit, safe rebase, convert of a deep chain ------------------------
# Inputs are built once with qemu-img/qemu-io under $BENCH_DIR/chain and reused while their
# recipe is unchanged. Sizes follow BENCH_SMALL.

chain_sizes() {
  if [ "$BENCH_SMALL" = 1 ]; then
    COMMIT_BASE_MIB=1024; COMMIT_RUN_MIB=128; COMMIT_SCATTER=1024    # 128 MiB + 1024 x 64 KiB
    REBASE_MID_MIB=64; REBASE_SCATTER=512; CHAIN_LAYERS=64; CHAIN_LAYER_KIB=2048
  else
    COMMIT_BASE_MIB=20480; COMMIT_RUN_MIB=1024; COMMIT_SCATTER=8192  # 1 GiB + 8192 x 64 KiB = 1.5 GiB
    REBASE_MID_MIB=512; REBASE_SCATTER=4096; CHAIN_LAYERS=64; CHAIN_LAYER_KIB=16384
  fi
  CHAIN_DIR=$BENCH_DIR/chain
  mkdir -p "$CHAIN_DIR"
}

# chain_input NAME RECIPE BUILD_FUNCTION: runs the function unless NAME's stamp matches RECIPE.
chain_input() {
  local name=$1 recipe="$2 $("$BENCH_QEMU_IMG" --version | head -n 1)" build=$3
  local stamp=$CHAIN_DIR/$name.recipe
  if [ "$BENCH_REBUILD" != 1 ] && [ "$(cat "$stamp" 2>/dev/null)" = "$recipe" ]; then
    bench_log "reusing $CHAIN_DIR/$name"
    return 0
  fi
  bench_log "building $CHAIN_DIR/$name ($recipe)"
  rm -rf "${CHAIN_DIR:?}/$name" "$stamp"
  mkdir -p "$CHAIN_DIR/$name"
  "$build" "$CHAIN_DIR/$name" || bench_die "building $name failed"
  sync
  echo "$recipe" > "$stamp"
}

# The commit input: an empty base of COMMIT_BASE_MIB and an overlay holding COMMIT_RUN_MIB in
# one run (from 1/8 of the disk) plus COMMIT_SCATTER clusters spread over the whole disk.
build_commit_input() {
  local d=$1 args
  "$BENCH_QEMU_IMG" create -q -f qcow2 "$d/base.qcow2" "${COMMIT_BASE_MIB}M" || return 1
  "$BENCH_QEMU_IMG" create -q -f qcow2 -b base.qcow2 -F qcow2 "$d/overlay.qcow2" || return 1
  mapfile -t args < <(scatter_writes "$COMMIT_BASE_MIB" 0x6b "$COMMIT_SCATTER")
  qemu-io -t writeback -c "write -q -P 0x6a $((COMMIT_BASE_MIB / 8))M ${COMMIT_RUN_MIB}M" "${args[@]}" \
    "$d/overlay.qcow2" || return 1
  "$BENCH_QEMU_IMG" check -q "$d/overlay.qcow2"
}

# The rebase input: the standard image <- mid (REBASE_MID_MIB in one run and REBASE_SCATTER
# clusters) <- top (a few clusters); top is rebased onto the standard image, so mid's data
# moves into top and everything else is the same in both chains.
build_rebase_input() {
  local d=$1 args
  "$BENCH_QEMU_IMG" create -q -f qcow2 -b "$BENCH_IMAGE" -F qcow2 "$d/mid.qcow2" || return 1
  mapfile -t args < <(scatter_writes "$BENCH_VIRTUAL_MIB" 0x7b "$REBASE_SCATTER")
  qemu-io -t writeback -c "write -q -P 0x7a $((BENCH_VIRTUAL_MIB / 8))M ${REBASE_MID_MIB}M" "${args[@]}" \
    "$d/mid.qcow2" || return 1
  "$BENCH_QEMU_IMG" create -q -f qcow2 -b "$d/mid.qcow2" -F qcow2 "$d/top.qcow2" || return 1
  mapfile -t args < <(scatter_writes "$BENCH_VIRTUAL_MIB" 0x7c 64 4096)
  qemu-io -t writeback "${args[@]}" "$d/top.qcow2"
}

# The deep chain: CHAIN_LAYERS overlays on the standard image, each writing CHAIN_LAYER_KIB in
# 64 KiB clusters spread over the disk (every layer at other places).
build_chain64_input() {
  local d=$1 i args below=$BENCH_IMAGE
  for ((i = 1; i <= CHAIN_LAYERS; i++)); do
    "$BENCH_QEMU_IMG" create -q -f qcow2 -u -b "$below" -F qcow2 "$d/c$i.qcow2" "${BENCH_VIRTUAL_MIB}M" || return 1
    mapfile -t args < <(scatter_writes "$BENCH_VIRTUAL_MIB" $((i + 1)) $((CHAIN_LAYER_KIB / 64)) $((i * 65536)))
    qemu-io -t writeback "${args[@]}" "$d/c$i.qcow2" >/dev/null || return 1
    below=c$i.qcow2
  done
}

# Sequential write bandwidth of the disk under $BENCH_DIR: dd of 1 GiB with fdatasync,
# median of three, in MiB/s.
disk_bandwidth() {
  local i out rates=()
  for i in 1 2 3; do
    out=$(LC_ALL=C dd if=/dev/zero of="$BENCH_DIR/dd.tmp" bs=1M count=1024 conv=fdatasync 2>&1 | tail -n 1)
    rates+=("$(awk -v l="$out" 'BEGIN { n = split(l, f, ", "); split(f[n - 1], t, " "); printf "%.1f", 1024 / t[1] }')")
  done
  rm -f "$BENCH_DIR/dd.tmp"
  printf '%s\n' "${rates[@]}" | bench_median
}

case_commit() {
  chain_sizes
  chain_input commit "v2 base=${COMMIT_BASE_MIB}M run=${COMMIT_RUN_MIB}M scatter=$COMMIT_SCATTER" build_commit_input
  export CHAIN_IN=$CHAIN_DIR/commit
  bench_case commit \
    '"$BENCH_VMSNAP" img commit -q "$BENCH_OUT/overlay.qcow2"' \
    '"$BENCH_QEMU_IMG" commit -q "$BENCH_OUT/overlay.qcow2"' \
    'cp --sparse=always "$CHAIN_IN/base.qcow2" "$CHAIN_IN/overlay.qcow2" "$BENCH_OUT/" && sync'
  local mib=$((COMMIT_RUN_MIB + COMMIT_SCATTER / 16)) disk
  disk=$(disk_bandwidth)
  bench_note "disk (dd bs=1M count=1024 conv=fdatasync, median of 3): $disk MiB/s"
  if [ -n "$bench_last_vmsnap_median" ] && [ -n "$bench_last_qemu_median" ]; then
    bench_note "commit moves $mib MiB: vmsnap $(awk -v m="$mib" -v t="$bench_last_vmsnap_median" 'BEGIN { printf "%.1f", m / t }') MiB/s ($(awk -v m="$mib" -v t="$bench_last_vmsnap_median" -v d="$disk" 'BEGIN { printf "%.0f", 100 * m / t / d }')% of the disk), qemu-img $(awk -v m="$mib" -v t="$bench_last_qemu_median" 'BEGIN { printf "%.1f", m / t }') MiB/s"
  fi
}

case_rebase() {
  chain_sizes
  chain_input rebase "v2 on=$(basename "$BENCH_IMAGE") mid=${REBASE_MID_MIB}M scatter=$REBASE_SCATTER" build_rebase_input
  export CHAIN_IN=$CHAIN_DIR/rebase
  bench_case rebase \
    '"$BENCH_VMSNAP" img rebase -b "$BENCH_IMAGE" -F qcow2 "$BENCH_OUT/top.qcow2"' \
    '"$BENCH_QEMU_IMG" rebase -b "$BENCH_IMAGE" -F qcow2 "$BENCH_OUT/top.qcow2"' \
    'cp --sparse=always "$CHAIN_IN/top.qcow2" "$BENCH_OUT/" && sync'
}

case_convert_chain64() {
  chain_sizes
  chain_input chain64 "v1 on=$(basename "$BENCH_IMAGE") layers=$CHAIN_LAYERS each=${CHAIN_LAYER_KIB}K" build_chain64_input
  export CHAIN_TOP=$CHAIN_DIR/chain64/c$CHAIN_LAYERS.qcow2
  bench_case convert-chain64 \
    '"$BENCH_VMSNAP" img convert -O qcow2 "$CHAIN_TOP" "$BENCH_OUT/vmsnap.qcow2"' \
    '"$BENCH_QEMU_IMG" convert -O qcow2 "$CHAIN_TOP" "$BENCH_OUT/qemu.qcow2"'
}

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
