#!/bin/bash
# Start-up (launch to first HTTP answer) and RSS of a bare jdk.httpserver on virtual threads,
# the candidate server for `vmsnap serve` (issue 14), next to a bare JDK "hello" in the same run.
set -euo pipefail
J=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
"$J/javac" -d "$d" "$(dirname "$0")/HttpServerProbe.java"
for i in 1 2 3; do
  t0=$(date +%s.%N); "$J/java" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp "$d" HttpServerProbe >/dev/null & p=$!
  until curl -s http://127.0.0.1:18740/ >/dev/null; do sleep 0.005; done; t1=$(date +%s.%N)
  echo "httpserver: first answer $(echo "$t1-$t0" | bc) s, $(grep VmRSS /proc/$p/status)"
  for _ in $(seq 200); do curl -s http://127.0.0.1:18740/ >/dev/null; done
  echo "  after 200 requests: $(grep VmRSS /proc/$p/status)"
  kill "$p"; wait "$p" 2>/dev/null || true
done
