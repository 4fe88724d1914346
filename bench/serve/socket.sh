#!/bin/bash
# serve's start-up and footprint by transport: the real jar's `serve --listen` (jdk.httpserver)
# against `serve --socket` (Jetty 12 unixdomain), alternately. For each run: wall time from launch to
# the first 200 answer of GET /api/domains, the process's CPU time (user+sys) at that moment (fairer
# than wall time on a shared, loaded machine), RSS then and after 200 more requests.
# Usage: bench/serve/socket.sh [runs] (needs a built cli/target/vmsnap.jar; an empty state folder is used)
set -euo pipefail
J=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin
jar=$(cd "$(dirname "$0")/../.." && pwd)/cli/target/vmsnap.jar
runs=${1:-5}
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
export VMSNAP_HOME=$d/home
tick=$(getconf CLK_TCK)
cpu_ms() { awk -v t="$tick" '{print int(($14+$15)*1000/t)}' "/proc/$1/stat"; }
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq "$runs"); do
  for mode in tcp socket; do
    rm -f "$d/s.sock"
    if [ $mode = socket ]; then args=(--socket "$d/s.sock"); url=(--unix-socket "$d/s.sock" http://localhost/api/domains)
    else args=(--listen 127.0.0.1:18741); url=(http://127.0.0.1:18741/api/domains); fi
    t0=$(date +%s%N)
    "$J/java" -jar "$jar" serve "${args[@]}" >/dev/null 2>&1 & p=$!
    until kill -0 "$p" && [ -s "$VMSNAP_HOME/serve-token" ] && curl -sf -o /dev/null -H "Authorization: Bearer $(cat "$VMSNAP_HOME/serve-token")" "${url[@]}"; do sleep 0.05; done
    t1=$(date +%s%N); c=$(cpu_ms $p); r0=$(awk '/VmRSS/{print $2}' /proc/$p/status)
    tok=$(cat "$VMSNAP_HOME/serve-token")
    for _ in $(seq 200); do curl -s -o /dev/null -H "Authorization: Bearer $tok" "${url[@]}"; done
    r1=$(awk '/VmRSS/{print $2}' /proc/$p/status)
    printf '%-6s first answer %5d ms wall, %5d ms cpu; RSS %6d kB, after 200 requests %6d kB\n' \
      $mode $(( (t1 - t0) / 1000000 )) "$c" "$r0" "$r1"
    kill "$p"; wait "$p" 2>/dev/null || true
  done
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
