#!/usr/bin/env bash
# The VM snapshot commands on a big disk: wall time of each vmsnap command, beside the
# qemu-img command that does the nearest thing (there is none for most: qemu-img has no
# domains, trees, external reverts or merges). One run each; the sequence changes state.
# Usage: bench/manager.sh   Settings: BENCH_DIR (default /var/tmp/vmsnap-bench-manager),
# BENCH_SIZE (virtual size, default 20G), BENCH_DATA_MIB (data written first, default 1024).
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
dir=${BENCH_DIR:-/var/tmp/vmsnap-bench-manager}
size=${BENCH_SIZE:-20G}
data=${BENCH_DATA_MIB:-1024}
V="$root/vmsnap"
export VMSNAP_DAEMON=${VMSNAP_DAEMON:-off}   # each command in its own JVM (no daemon of the launcher's)
rm -rf "$dir" && mkdir -p "$dir"
export VMSNAP_HOME="$dir/home"
"$V" --version >/dev/null   # builds the jar and the AOT cache outside the timings

qemu-img create -q -f qcow2 "$dir/disk.qcow2" "$size"
qemu-io -c "write -P 0x11 0 ${data}M" "$dir/disk.qcow2" >/dev/null
cp --sparse=always "$dir/disk.qcow2" "$dir/ref.qcow2"
sync
cat > "$dir/vm.xml" <<XML
<domain type='kvm'><name>bench</name><memory unit='MiB'>64</memory><devices>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='$dir/disk.qcow2'/><target dev='vda' bus='virtio'/></disk>
</devices></domain>
XML
"$V" define "$dir/vm.xml" >/dev/null

printf '| step | vmsnap | qemu-img |\n|---|---|---|\n'
secs() { local s; s=$(date +%s%N); "$@" >/dev/null; echo "$(( ($(date +%s%N) - s) / 1000000 ))"; }
row() { printf '| %s | %s ms | %s |\n' "$1" "$2" "$3"; }

row "snapshot-create-as (internal)" "$(secs "$V" snapshot-create-as bench i1)" \
  "snapshot -c: $(secs qemu-img snapshot -c q1 "$dir/ref.qcow2") ms"
qemu-io -c 'write -P 0x33 0 64M' "$dir/disk.qcow2" >/dev/null
qemu-io -c 'write -P 0x33 0 64M' "$dir/ref.qcow2" >/dev/null
sync
row "snapshot-create-as --disk-only" "$(secs "$V" snapshot-create-as bench e1 --disk-only)" \
  "create -b: $(secs qemu-img create -q -f qcow2 -b "$dir/ref.qcow2" -F qcow2 "$dir/ref.e1") ms"
qemu-io -c 'write -P 0x22 0 256M' "$dir/disk.e1" >/dev/null
sync
row "snapshot-revert (internal under an overlay: 64 MiB difference overlay)" \
  "$(secs "$V" snapshot-revert bench i1)" "(no equivalent)"
row "snapshot-revert (external: new branch)" "$(secs "$V" snapshot-revert bench e1)" "(no equivalent)"
row "snapshot-list --tree" "$(secs "$V" snapshot-list bench --tree)" \
  "snapshot -l: $(secs qemu-img snapshot -l "$dir/ref.qcow2") ms"
row "snapshot-delete (external: commit merge)" "$(secs "$V" snapshot-delete bench e1)" \
  "commit: $(secs qemu-img commit -q "$dir/ref.e1") ms"
row "snapshot-delete (internal)" "$(secs "$V" snapshot-delete bench i1)" \
  "snapshot -d: $(secs qemu-img snapshot -d q1 "$dir/ref.qcow2") ms"
qemu-img check -q "$dir/disk.qcow2" && echo "(every image checks clean)"
