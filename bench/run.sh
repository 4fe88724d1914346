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
