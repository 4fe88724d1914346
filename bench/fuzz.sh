#!/usr/bin/env bash
# Runs every Jazzer fuzz target of vmsnap in fuzzing mode for a fixed time and reports, per
# target: run time, executions, corpus size and findings. Appends the table to
# bench/RESULTS.md. Not part of the build: `mvn verify` replays the committed seeds (and
# every committed finding) in regression mode; this script looks for new ones.
#
#   bench/fuzz.sh                              # every target, FUZZ_SECONDS each
#   FUZZ_SECONDS=30 bench/fuzz.sh qcow2-image  # some targets (names: bench/fuzz.sh --list)
#
# A finding stops its target: Jazzer writes the input as crash-<sha1> (a Throwable other
# than the allowed typed errors), timeout-<sha1> (an input ran longer than FUZZ_INPUT_TIMEOUT)
# or the OutOfMemoryError's crash-<sha1> (the heap is FUZZ_HEAP) into the target's committed
# inputs folder, where regression mode replays it from then on. Fix the code, keep the input.
#
# FUZZ_MERGE=1 folds what the run learnt into the committed inputs: libFuzzer's merge (run
# through Jazzer's standalone driver on the same test classes) copies from the generated
# corpus (MODULE/.cifuzz-corpus/, not committed) only the inputs that reach coverage the
# committed inputs do not, among the generated inputs of at most FUZZ_MERGE_MAX_BYTES (4096:
# the committed corpus stays small, a few hundred KiB per target, and its replay in every
# build takes seconds); review them with `git status` and commit them.
#
# Stopping a run by hand (SIGTERM) makes Jazzer write the input in flight as crash-<sha1>:
# replay it (mvn verify) before taking it for a finding.
#
# Each target is a separate Maven run (Jazzer fuzzes one @FuzzTest per JVM); the build and
# Jazzer's start (~20-40 s per target on 2 cores) are not counted in the run time.
set -uo pipefail

bench_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$bench_root/bench/lib.sh"

FUZZ_SECONDS=${FUZZ_SECONDS:-90}
FUZZ_HEAP=${FUZZ_HEAP:-1g}
FUZZ_INPUT_TIMEOUT=${FUZZ_INPUT_TIMEOUT:-20s}
FUZZ_LOGS=${FUZZ_LOGS:-${BENCH_DIR}/fuzz}
FUZZ_MERGE=${FUZZ_MERGE:-0}
FUZZ_MERGE_MAX_BYTES=${FUZZ_MERGE_MAX_BYTES:-4096}

# name  module  class  method   (the inputs folder: MODULE/src/test/resources/PACKAGE/CLASSInputs/METHOD)
FUZZ_TARGETS=(
  "qcow2-header      qcow2   org.vmsnap.qcow2.Qcow2FuzzTest                header"
  "qcow2-image       qcow2   org.vmsnap.qcow2.Qcow2FuzzTest                openReadWriteCheck"
  "qcow2-snapshots   qcow2   org.vmsnap.qcow2.engine.SnapshotTableFuzzTest snapshotTable"
  "domain-xml        manager org.vmsnap.manager.xml.XmlFuzzTest            domainXml"
  "snapshot-xml      manager org.vmsnap.manager.xml.XmlFuzzTest            snapshotXml"
  "qmp-replies       qmp     org.vmsnap.qmp.QmpFuzzTest                    qmpReplies"
  "agent-replies     qmp     org.vmsnap.qmp.QmpFuzzTest                    agentReplies"
  "memory-header     qmp     org.vmsnap.qmp.MemoryFileFuzzTest             memoryFileHeader"
  "save-image        manager org.vmsnap.manager.SaveImageFuzzTest          saveImage"
)

if [ "${1:-}" = --list ]; then
  for t in "${FUZZ_TARGETS[@]}"; do read -r name _ <<<"$t"; echo "$name"; done
  exit 0
fi

. "$bench_root/scripts/env.sh"
vmsnap_find_jdk || bench_die "no JDK 25 found (scripts/env.sh)"
export JAVA_HOME=$VMSNAP_JAVA_HOME
mkdir -p "$FUZZ_LOGS"

selected=("$@")
is_selected() {
  [ ${#selected[@]} -eq 0 ] && return 0
  local s; for s in "${selected[@]}"; do [ "$s" = "$1" ] && return 0; done
  return 1
}

# Files (count) and KiB of a folder; "0 files" when it does not exist.
folder_size() {
  if [ -d "$1" ]; then
    echo "$(find "$1" -type f | wc -l) files, $(du -sk --apparent-size "$1" | cut -f1) KiB"
  else
    echo "0 files"
  fi
}

# The test class path of MODULE (its classes, the reactor's, the test jars), for the driver.
declare -A module_cp=()
test_classpath() {
  local module=$1 out="$FUZZ_LOGS/classpath-$1.txt"
  if [ -z "${module_cp[$module]:-}" ]; then
    (cd "$bench_root" && mvn -B -ntp -q test-compile dependency:build-classpath -pl "$module" -am \
        -Dmdep.outputFile="$out" -Dmdep.includeScope=test) >"$FUZZ_LOGS/classpath-$module.log" 2>&1 \
      || bench_die "cannot list the test class path of $module (see $FUZZ_LOGS/classpath-$module.log)"
    module_cp[$module]="$bench_root/$module/target/test-classes:$bench_root/$module/target/classes:$(cat "$out")"
  fi
  echo "${module_cp[$module]}"
}

# Copies into INPUTS the files of CORPUS (up to FUZZ_MERGE_MAX_BYTES each) that add coverage
# beyond INPUTS; prints "N files, K KiB". The driver runs in an empty folder on a copy of the
# test classes without the *Inputs folders: Jazzer's JUnit runner adds the generated corpus
# and the inputs on the class path as corpus folders of their own.
merge_corpus() {
  local module=$1 class=$2 method=$3 inputs=$4 corpus=$5 log=$6 work added=0 kib=0 f cp
  work=$(mktemp -d)
  mkdir "$work/out" "$work/small" "$work/cwd"
  cp -r "$inputs"/. "$work/out"/
  find "$corpus" -type f -size -$((FUZZ_MERGE_MAX_BYTES + 1))c -exec cp {} "$work/small"/ \;
  cp -r "$bench_root/$module/target/test-classes" "$work/test-classes"
  find "$work/test-classes" -type d -name '*Inputs' -prune -exec rm -rf {} +
  cp=$(test_classpath "$module")
  cp="$work/test-classes:${cp#*:}"
  (cd "$work/cwd" && "$JAVA_HOME/bin/java" -XX:+EnableDynamicAgentLoading --enable-native-access=ALL-UNNAMED \
      -Xmx"$FUZZ_HEAP" -cp "$cp" com.code_intelligence.jazzer.Jazzer \
      --target_class="$class" --target_method="$method" -merge=1 "$work/out" "$work/small") >"$log" 2>&1 \
    || { bench_log "merge failed: see $log"; rm -rf "$work"; echo "merge failed"; return; }
  for f in "$work/out"/*; do
    [ -e "$inputs/${f##*/}" ] && continue
    cp "$f" "$inputs/"
    added=$((added + 1)); kib=$((kib + $(stat -c %s "$f")))
  done
  rm -rf "$work"
  echo "$added files, $(( (kib + 1023) / 1024 )) KiB"
}

rows=()
findings_total=0
for t in "${FUZZ_TARGETS[@]}"; do
  read -r name module class method <<<"$t"
  is_selected "$name" || continue
  simple=${class##*.}
  package_path=$(echo "${class%.*}" | tr . /)
  inputs="$bench_root/$module/src/test/resources/$package_path/${simple}Inputs/$method"
  corpus="$bench_root/$module/.cifuzz-corpus/$class/$method"
  log="$FUZZ_LOGS/$name.log"
  before=$(ls "$inputs" 2>/dev/null | sort)
  bench_log "$name: fuzzing $class#$method for ${FUZZ_SECONDS}s (log: $log)"
  # JUnit's default test-template timeout is what Jazzer turns into libFuzzer's per-input
  # -timeout; JUnit's own enforcement is switched off (it would time the whole run).
  # The outer timeout catches a run that never stops (a hang Jazzer could not report).
  start=$EPOCHREALTIME
  (cd "$bench_root" && JAZZER_FUZZ=1 timeout $((FUZZ_SECONDS + 600)) mvn -B -o test -pl "$module" -am \
      -Dtest="$class#$method" -Dsurefire.failIfNoSpecifiedTests=false \
      -Djazzer.hooks=true -Djazzer.max_duration="${FUZZ_SECONDS}s" \
      -Djunit.jupiter.execution.timeout.testtemplate.method.default="$FUZZ_INPUT_TIMEOUT" \
      -Djunit.jupiter.execution.timeout.mode=disabled \
      -Dfuzz.jvm="-Xmx$FUZZ_HEAP") >"$log" 2>&1
  rc=$?
  wall=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
  # libFuzzer's summary line: "Done 25454 runs in 21 second(s)"
  done_line=$(grep -a -o 'Done [0-9]* runs in [0-9]* second(s)' "$log" | tail -n 1)
  runs=$(awk '{ print $2 }' <<<"$done_line")
  secs=$(awk '{ print $5 }' <<<"$done_line")
  if [ -z "$runs" ]; then
    # Stopped by a finding: the last status line has the executions so far ("#12345 ...").
    runs=$(grep -a -o '^#[0-9]*' "$log" | tail -n 1 | tr -d '#')
    secs="?"
  fi
  rate="-"
  [ -n "$runs" ] && [ "$secs" != "?" ] && [ "${secs:-0}" -gt 0 ] && rate=$((runs / secs))
  new=$(comm -13 <(echo "$before") <(ls "$inputs" 2>/dev/null | sort) | tr '\n' ' ')
  findings="0 crashes, 0 hangs, 0 OOM"
  if [ -n "$new" ] || [ $rc -ne 0 ]; then
    crashes=$(grep -c '^crash-' <<<"${new// /$'\n'}")
    hangs=$(grep -c '^timeout-' <<<"${new// /$'\n'}")
    ooms=$(grep -a -c 'java.lang.OutOfMemoryError' "$log")
    findings="$crashes crashes, $hangs hangs, $ooms OOM; exit $rc; new inputs: ${new:-none}"
    findings_total=$((findings_total + 1))
    bench_log "$name: FINDING ($findings); see $log"
  fi
  merged="-"
  if [ "$FUZZ_MERGE" = 1 ] && [ -d "$corpus" ]; then
    merged=$(merge_corpus "$module" "$class" "$method" "$inputs" "$corpus" "$FUZZ_LOGS/$name.merge.log")
    bench_log "$name: merged into the committed inputs: $merged"
  fi
  rows+=("| $name | \`$simple#$method\` | ${secs}s (${wall}s with build) | ${runs:-?} | $rate | $(folder_size "$corpus") | $merged | $(folder_size "$inputs") | $findings |")
done

table=$(
  echo "| target | @FuzzTest | fuzzing time | executions | exec/s | generated corpus | merged (new coverage) | committed inputs | findings |"
  echo "|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
)
echo
echo "$table"
{
  echo
  echo "## Fuzzing (bench/fuzz.sh), $(date -u '+%Y-%m-%d %H:%M UTC') on $(uname -n)"
  echo
  echo "- commit: $(git -C "$bench_root" rev-parse --short HEAD)$([ -z "$(git -C "$bench_root" status --porcelain --untracked-files=no)" ] || echo ' (with uncommitted changes)')"
  echo "- Jazzer $(sed -n 's:.*<jazzer.version>\(.*\)</jazzer.version>.*:\1:p' "$bench_root/pom.xml") (JUnit fuzzing mode, JAZZER_FUZZ=1, hooks on), $("$JAVA_HOME/bin/java" -version 2>&1 | head -n 1)"
  echo "- ${FUZZ_SECONDS} s per target, heap -Xmx$FUZZ_HEAP, per-input timeout $FUZZ_INPUT_TIMEOUT; nproc: $(nproc) (shared with other work)"
  echo
  echo "$table"
} >>"$BENCH_RESULTS"
bench_log "appended to $BENCH_RESULTS"
[ $findings_total -eq 0 ] || { bench_log "$findings_total target(s) with findings"; exit 1; }
