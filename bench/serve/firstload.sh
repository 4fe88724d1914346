#!/bin/bash
# The page's first load after `vmsnap serve` starts, without a browser: a domain with 1000 internal
# snapshots (made by qemu-img, metadata by vmsnap recover, files older than the cache's 2 s racy
# window), then serve launched and, as soon as it answers, the page's own requests in its order:
# GET /, /api/domains, /api/domains/big/tree. Prints each request's wall time, the sum, and the
# serve process's CPU time (user+sys) at the end. Jars given as arguments are run alternately.
# Usage: bench/serve/firstload.sh RUNS JAR...
set -euo pipefail
J=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin
runs=$1; shift
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
export VMSNAP_HOME=$d/home
qemu-img create -q -f qcow2 "$d/a.qcow2" 1M
for i in $(seq 0 999); do qemu-img snapshot -c "s$i" "$d/a.qcow2"; done
cat > "$d/big.xml" <<XML
<domain type='kvm'><name>big</name><memory unit='KiB'>65536</memory><devices>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='$d/a.qcow2'/>
<target dev='vda' bus='virtio'/></disk></devices></domain>
XML
"$J/java" -jar "$1" define "$d/big.xml" >/dev/null
"$J/java" -jar "$1" recover big >/dev/null
sleep 3
tick=$(getconf CLK_TCK)
ms() { echo $(( ($2 - $1) / 1000000 )); }
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq "$runs"); do
  for jar in "$@"; do
    "$J/java" -jar "$jar" serve --listen 127.0.0.1:18742 >/dev/null 2>&1 & p=$!
    until [ -s "$VMSNAP_HOME/serve-token" ] && curl -s -o /dev/null http://127.0.0.1:18742/api/x; do
      kill -0 $p || { echo "serve ended"; exit 1; }; sleep 0.05; done
    tok=$(cat "$VMSNAP_HOME/serve-token")
    t0=$(date +%s%N)
    curl -sf -o /dev/null "http://127.0.0.1:18742/?token=$tok"; t1=$(date +%s%N)
    curl -sf -o /dev/null -H "Authorization: Bearer $tok" http://127.0.0.1:18742/api/domains; t2=$(date +%s%N)
    curl -sf -o /dev/null -H "Authorization: Bearer $tok" http://127.0.0.1:18742/api/domains/big/tree; t3=$(date +%s%N)
    c=$(awk -v t="$tick" '{print int(($14+$15)*1000/t)}' /proc/$p/stat)
    printf '%s: page %4d ms, domains %4d ms, tree %4d ms; sum %4d ms; serve cpu %5d ms\n' "$(basename "$jar")" \
      "$(ms $t0 $t1)" "$(ms $t1 $t2)" "$(ms $t2 $t3)" "$(ms $t0 $t3)" "$c"
    kill $p; wait $p 2>/dev/null || true
  done
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
