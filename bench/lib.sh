# Benchmark harness library: sourced by bench/run.sh. Not a test: timings live here only.
#
# A case is one call:  bench_case NAME "vmsnap command" "qemu-img command"
# Both commands run BENCH_RUNS times, interleaved (vmsnap, qemu-img, vmsnap, ...), under
# /usr/bin/time for the peak RSS, after BENCH_WARMUP_RUNS untimed runs of each. Before every run
# the case's output folder ($BENCH_OUT) is emptied, so a convert never finds its previous output; nothing else is dropped (no page
# cache flush: both tools see the same warm cache). A failing command is reported with its
# exit code and the tail of its output, its remaining runs are skipped, and the other cases
# still run.

bench_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

BENCH_DIR=${BENCH_DIR:-/var/tmp/vmsnap-bench}
BENCH_RUNS=${BENCH_RUNS:-5}
BENCH_SMALL=${BENCH_SMALL:-0}
BENCH_REBUILD=${BENCH_REBUILD:-0}
BENCH_RESULTS=${BENCH_RESULTS:-$bench_root/bench/RESULTS.md}
BENCH_VMSNAP=${BENCH_VMSNAP:-$bench_root/vmsnap}
# vmsnap's rows time each command in its own JVM unless they say otherwise: without this the
# launcher would start a daemon of its own at the first short command and serve the later runs.
export VMSNAP_DAEMON=${VMSNAP_DAEMON:-off}
BENCH_QEMU_IMG=${BENCH_QEMU_IMG:-qemu-img}

# Filled by bench_case, printed by bench_report.
bench_rows=()
bench_notes=()       # extra lines printed below the table (bench_note)
bench_failures=0
# The last case's median wall times in seconds (empty when a tool failed), for derived figures,
# and every run's wall seconds and peak RSS KiB (one per line) of each tool, for other tables.
bench_last_vmsnap_median=
bench_last_qemu_median=
bench_last_vmsnap_times=; bench_last_qemu_times=
bench_last_vmsnap_rss=; bench_last_qemu_rss=

# Adds a line below the results table (derived figures, disk bandwidth...).
bench_note() { bench_notes+=("$*"); bench_log "$*"; }

bench_log() { printf '%s\n' "bench: $*" >&2; }
bench_die() { bench_log "$*"; exit 1; }

# The standard image: its geometry, by BENCH_SMALL.
bench_geometry() {
  if [ "$BENCH_SMALL" = 1 ]; then
    BENCH_VIRTUAL_MIB=1024     # 1 GiB virtual
    BENCH_DATA_MIB=256         # written in one qemu-io write
  else
    BENCH_VIRTUAL_MIB=20480    # 20 GiB virtual
    BENCH_DATA_MIB=1024        # 1 GiB written in one qemu-io write
  fi
  BENCH_IMAGE=$BENCH_DIR/standard-${BENCH_VIRTUAL_MIB}M.qcow2
  # The bigger image of the snapshot cases (built only when one of them runs).
  if [ "$BENCH_SMALL" = 1 ]; then
    BENCH_BIG_VIRTUAL_MIB=8192     # 8 GiB virtual
    BENCH_BIG_DATA_MIB=1024
  else
    BENCH_BIG_VIRTUAL_MIB=102400   # 100 GiB virtual
    BENCH_BIG_DATA_MIB=4096        # 4 GiB written by one qemu-io process
  fi
  BENCH_BIG_IMAGE=$BENCH_DIR/big-${BENCH_BIG_VIRTUAL_MIB}M.qcow2
  export BENCH_IMAGE BENCH_VMSNAP BENCH_QEMU_IMG
}

bench_require_tools() {
  local t
  for t in qemu-img qemu-io; do
    command -v "$t" >/dev/null || bench_die "$t is not installed (Debian: apt-get install qemu-utils)"
  done
  if [ ! -x /usr/bin/time ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      bench_log "installing GNU time (for peak RSS)"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends time >/dev/null \
        || bench_die "could not install the Debian package 'time'"
    else
      bench_die "/usr/bin/time is missing (sudo apt-get install time); it measures peak RSS"
    fi
  fi
}

# Builds the standard image once; reused while the recipe and qemu-img are unchanged.
# 20 GiB virtual, 64 KiB clusters; BENCH_DATA_MIB written with pattern 0x5a in one command,
# then a 4 KiB write (pattern 0xa5) in the middle of every MiB of the whole disk, so the
# image has a long dense run and many scattered clusters, L2 tables across the whole disk.
bench_image() {
  bench_build_image "$BENCH_IMAGE" "$BENCH_VIRTUAL_MIB" "$BENCH_DATA_MIB"
}

# bench_build_image PATH VIRTUAL_MIB DATA_MIB: an image of the standard recipe at PATH (the
# data written in 1 GiB pieces by one qemu-io process, the 4 KiB writes in batches of 10000
# per process so the command line stays short); reused while its recipe holds.
bench_build_image() {
  local image=$1 virtual_mib=$2 data_mib=$3 stamp recipe
  recipe="v1 virtual=${virtual_mib}M data=${data_mib}M $("$BENCH_QEMU_IMG" --version | head -n 1)"
  stamp=$image.recipe
  if [ "$BENCH_REBUILD" != 1 ] && [ -f "$image" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$recipe" ]; then
    bench_log "reusing $image"
    return 0
  fi
  bench_log "building $image ($recipe)"
  rm -f "$image" "$stamp"
  "$BENCH_QEMU_IMG" create -q -f qcow2 "$image" "${virtual_mib}M" || bench_die "qemu-img create failed"
  # Writeback cache, or every write would be flushed.
  local -a cmds=()
  local mib piece
  for ((mib = 0; mib < data_mib; mib += 1024)); do
    piece=$((data_mib - mib < 1024 ? data_mib - mib : 1024))
    cmds+=(-c "write -q -P 0x5a $((mib * 1048576)) ${piece}M")
  done
  for ((mib = 0; mib < virtual_mib; mib++)); do
    cmds+=(-c "write -q -P 0xa5 $((mib * 1048576 + 524288)) 4k")
    if [ ${#cmds[@]} -ge 20000 ]; then
      qemu-io -t writeback "${cmds[@]}" "$image" || bench_die "qemu-io writes failed"
      cmds=()
    fi
  done
  if [ ${#cmds[@]} -gt 0 ]; then
    qemu-io -t writeback "${cmds[@]}" "$image" || bench_die "qemu-io writes failed"
  fi
  "$BENCH_QEMU_IMG" check -q "$image" || bench_die "the fresh image $image does not check clean"
  # Write the new image out now, or its writeback competes with the first timed runs.
  sync "$image"
  echo "$recipe" > "$stamp"
}

# Starts vmsnap once before the timings, because the launcher builds the jar (and its AOT
# cache) on first use. A failure here is only a warning: each case still runs the real
# command, which then fails and is reported on its own.
bench_vmsnap_preflight() {
  local log=$BENCH_DIR/vmsnap-preflight.log
  bench_log "starting vmsnap once (builds the jar when needed; not timed)"
  if ! "$BENCH_VMSNAP" --version >"$log" 2>&1; then
    bench_log "warning: '$BENCH_VMSNAP --version' failed; its cases will likely fail too. Output:"
    tail -n 15 "$log" | sed 's/^/    /' >&2
  fi
}

# "min median max" of numbers, one per line, on stdin (fails when there are none).
bench_stats() {
  sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) exit 1
    m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%.3f %.3f %.3f\n", v[1], m, v[NR] }'
}

# Median of numbers, one per line, on stdin.
bench_median() {
  sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) exit 1; if (NR % 2) print v[(NR + 1) / 2]; else printf "%.6f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Runs one command once. Prints "seconds peak_kib" or returns the command's exit code.
# $BENCH_SETUP (from bench_case's fourth argument), when set, runs first and is not timed:
# it prepares the run's inputs in $BENCH_OUT, e.g. a fresh copy of images the command changes.
bench_run_once() {
  local cmd=$1 log=$2 tf=$2.time start end rc
  rm -rf "${BENCH_OUT:?}"/* 2>/dev/null
  # Untimed: what the previous run left dirty in the page cache (GiBs after a -t unsafe convert)
  # is written back now, not during this run: the kernel's writeback of one tool's output made
  # the next run 2-5x slower, whichever tool it was (compare.sh 22:45, convert -O raw, 20 GiB).
  sync
  if [ -n "${BENCH_SETUP:-}" ]; then
    bash -c "$BENCH_SETUP" >"$log.setup" 2>&1 || return 125
  fi
  start=$EPOCHREALTIME
  /usr/bin/time -f '%M' -o "$tf" bash -c "$cmd" >"$log" 2>&1
  rc=$?
  end=$EPOCHREALTIME
  [ "$rc" = 0 ] || return "$rc"
  # GNU time writes a "Command exited/terminated" line first when the command fails.
  printf '%s %s\n' "$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.6f", e - s }')" "$(tail -n 1 "$tf")"
}

# bench_case NAME VMSNAP_CMD QEMU_CMD [SETUP_CMD]
# An empty QEMU_CMD runs vmsnap alone (a row with no reference). The commands are bash command lines; they may use $BENCH_OUT for outputs (emptied before
# every run) and $BENCH_IMAGE. vmsnap is $BENCH_VMSNAP, qemu-img is $BENCH_QEMU_IMG.
# SETUP_CMD runs before every run of either tool, untimed (exit code 125 when it fails).
bench_case() {
  local name=$1 vcmd=$2 qcmd=$3
  export BENCH_SETUP=${4:-}
  local dir=$BENCH_DIR/cases/$name
  export BENCH_OUT=$dir/out
  mkdir -p "$BENCH_OUT"
  bench_log "case $name: $BENCH_RUNS runs each"
  local -A times=() rss=() status=()
  local tool i result rc cmd
  status[vmsnap]=ok; status[qemu]=ok
  [ -n "$qcmd" ] || status[qemu]=-
  local order
  # Untimed warm-up runs (BENCH_WARMUP_RUNS, 0 unless a script sets it), qemu-img's first. This
  # machine is a Firecracker guest that hands free memory back to its host (free page reporting,
  # page_reporting_order=11 on /proc/cmdline): the first run after the inputs were made, or after
  # several GiB were freed, writes into page cache pages the host must fault in again, and took
  # 5-7 s where the same command took 1.2-1.4 s (qemu-img and vmsnap alike; perf: the time is in
  # copy_folio_from_iter_atomic). Without a warm-up, run 1 of the first row of a group was always
  # vmsnap's.
  for ((i = 1; i <= ${BENCH_WARMUP_RUNS:-0}; i++)); do
    for tool in qemu vmsnap; do
      [ "${status[$tool]}" = ok ] || continue
      if [ "$tool" = vmsnap ]; then cmd=$vcmd; else cmd=$qcmd; fi
      bench_run_once "$cmd" "$dir/$tool.warmup$i.log" >/dev/null || true
    done
  done
  for ((i = 1; i <= BENCH_RUNS; i++)); do
    # Who goes first alternates: a run pays for what the run before it left to the kernel (freed
    # extents are discarded on this ext4, mounted with `discard`), and that should not always be
    # the same tool.
    if ((i % 2)); then order="vmsnap qemu"; else order="qemu vmsnap"; fi
    for tool in $order; do
      [ "${status[$tool]}" = ok ] || continue
      if [ "$tool" = vmsnap ]; then cmd=$vcmd; else cmd=$qcmd; fi
      if result=$(bench_run_once "$cmd" "$dir/$tool.$i.log"); then
        times[$tool]+="${result% *}"$'\n'
        rss[$tool]+="${result#* }"$'\n'
      else
        rc=$?
        status[$tool]="failed (exit $rc)"
        bench_failures=$((bench_failures + 1))
        bench_log "FAILED: case $name, $tool run $i, exit $rc: $cmd (log: $dir/$tool.$i.log)"
        tail -n 5 "$dir/$tool.$i.log" | sed 's/^/    /' >&2
      fi
    done
  done
  rm -rf "${BENCH_OUT:?}"/*

  local vmed qmed vrss qrss ratio
  vmed=$(bench_cell "${status[vmsnap]}" "${times[vmsnap]:-}" time)
  qmed=$(bench_cell "${status[qemu]}" "${times[qemu]:-}" time)
  vrss=$(bench_cell "${status[vmsnap]}" "${rss[vmsnap]:-}" rss)
  qrss=$(bench_cell "${status[qemu]}" "${rss[qemu]:-}" rss)
  ratio=-
  if [ "${status[vmsnap]}" = ok ] && [ "${status[qemu]}" = ok ]; then
    ratio=$(awk -v v="$vmed" -v q="$qmed" 'BEGIN { if (q > 0) printf "%.2f", v / q; else print "-" }')
  fi
  bench_rows+=("| $name | $vmed | $qmed | $ratio | $vrss | $qrss |")
  bench_last_vmsnap_median=; bench_last_qemu_median=
  bench_last_vmsnap_times=${times[vmsnap]:-}; bench_last_qemu_times=${times[qemu]:-}
  bench_last_vmsnap_rss=${rss[vmsnap]:-}; bench_last_qemu_rss=${rss[qemu]:-}
  [ "${status[vmsnap]}" = ok ] && bench_last_vmsnap_median=$vmed
  [ "${status[qemu]}" = ok ] && bench_last_qemu_median=$qmed
  BENCH_SETUP=
}

# One table cell: the median time in seconds, the largest peak RSS in MiB, or the failure.
bench_cell() {
  local status=$1 values=$2 kind=$3
  if [ "$status" != ok ]; then
    printf '%s' "$status"
  elif [ "$kind" = time ]; then
    printf '%s' "$values" | bench_median | awk '{ printf "%.3f", $1 }'
  else
    printf '%s' "$values" | sort -g | tail -n 1 | awk '{ printf "%.1f", $1 / 1024 }'
  fi
}

bench_table() {
  echo "| case | vmsnap median s | qemu-img median s | vmsnap/qemu-img | vmsnap peak RSS MiB | qemu-img peak RSS MiB |"
  echo "|---|---:|---:|---:|---:|---:|"
  printf '%s\n' "${bench_rows[@]}"
}

bench_machine() {
  local java cpu
  # The JDK the launcher picks (scripts/env.sh), not whatever java is on PATH.
  java=$(. "$bench_root/scripts/env.sh" && vmsnap_find_jdk 2>/dev/null \
    && "$VMSNAP_JAVA_HOME/bin/java" -version 2>&1 | head -n 1) || java="no JDK 25 found"
  cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
  local commit dirty=""
  commit=$(git -C "$bench_root" rev-parse --short HEAD 2>/dev/null) || commit=unknown
  [ -z "$(git -C "$bench_root" status --porcelain --untracked-files=no 2>/dev/null)" ] || dirty=" (with uncommitted changes)"
  echo "- commit: $commit$dirty"
  echo "- image: ${BENCH_VIRTUAL_MIB} MiB virtual qcow2, ${BENCH_DATA_MIB} MiB written at 0 + 4 KiB every MiB; $BENCH_RUNS runs each, median wall time, largest peak RSS"
  echo "- nproc: $(nproc); CPU: ${cpu:-unknown}"
  echo "- qemu-img: $("$BENCH_QEMU_IMG" --version | head -n 1)"
  echo "- java: $java"
  echo "- free -g:"
  echo '```'
  free -g
  echo '```'
}

# Prints the table and appends it, with the machine description, to $BENCH_RESULTS.
bench_report() {
  local table machine
  table=$(bench_table)
  # Before the append: once RESULTS.md grows, git calls the tree dirty.
  machine=$(bench_machine)
  echo
  echo "$table"
  [ ${#bench_notes[@]} -eq 0 ] || printf -- '- %s\n' "${bench_notes[@]}"
  {
    echo
    echo "## $(date -u '+%Y-%m-%d %H:%M UTC') on $(uname -n)"
    echo
    echo "$machine"
    echo
    echo "$table"
    if [ ${#bench_notes[@]} -gt 0 ]; then
      echo
      printf -- '- %s\n' "${bench_notes[@]}"
    fi
  } >> "$BENCH_RESULTS"
  bench_log "appended to $BENCH_RESULTS"
  if [ "$bench_failures" != 0 ]; then
    bench_log "$bench_failures command(s) failed; see above"
    return 1
  fi
}

# ---- inputs shared by run.sh and compare.sh ---------------------------------------------

# Internal snapshots: snapshot cases change their image, so each image gets a fresh work copy per
# bench run (untimed) with a snapshot "base" to apply and d1..d(2*BENCH_RUNS) to delete.
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
    # -d takes d1, d2...: 2N (vmsnap's and qemu-img's runs) in each of compare.sh's three passes
    # (own JVM, a daemon started by hand, the launcher's own daemon).
    bench_log "copying $pristine to $work with snapshots base, d1..d$((6 * BENCH_RUNS)) (untimed)"
    rm -f "$work"
    cp --sparse=always "$pristine" "$work" || bench_die "copy to $work failed"
    "$BENCH_QEMU_IMG" snapshot -c base "$work" || bench_die "qemu-img snapshot -c base failed"
    for ((i = 1; i <= 6 * BENCH_RUNS; i++)); do
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

# qemu-io commands that write 64 KiB with pattern $2 every ($1 MiB / $3) over $1 MiB, from offset $4.
scatter_writes() {
  local span_mib=$1 pattern=$2 count=$3 from=${4:-0} i stride
  stride=$((span_mib * 1048576 / count))
  for ((i = 0; i < count; i++)); do
    printf '%s\n' "-c" "write -q -P $pattern $((from + i * stride + 131072)) 64k"
  done
}
