#!/bin/bash
# The page's first load in a real browser after `./vmsnap serve` starts (issue 14: "works for 1000
# snapshots ... and renders in under 1 s"). Same domain as firstload.sh: 1000 internal snapshots
# made by qemu-img, metadata by vmsnap recover, files older than the snapshot cache's 2 s racy
# window. Per run: a fresh headless chromium session (new profile, empty cache) is opened through
# chromedriver's W3C HTTP API (curl + jq, no Selenium) before serve starts, so the browser's own
# start is never timed; then `./vmsnap serve` is launched, and as soon as its port accepts a TCP
# connection (no HTTP request: nothing of serve is warmed by the probe) the browser opens the
# page's URL with the token, as a user pastes the line serve prints. The page selects the only
# domain itself and draws its tree.
#
# The browser's clocks say when the tree is drawn: a script injected before the page's own
# (CDP Page.addScriptToEvaluateOnNewDocument, so the page is unchanged) watches the DOM with a
# MutationObserver; "in DOM" is the first time svg#tree holds the current snapshot's g.snap,
# "painted" is a requestAnimationFrame after that followed by a message-channel task (the frame
# that shows it has been produced). All browser figures are ms from navigation start
# (performance.timeOrigin); "from serve's start" adds the time from launching ./vmsnap (JVM start,
# the launcher's checks, the server's start) to navigation start, both on the system clock.
# Navigation Timing and Resource Timing give each request's share (the page, /api/domains, /tree).
# A second navigation in the same session (reload, serve warm, browser cache as it is) is printed
# too. Prints one line per run and min/median/max at the end.
# Usage: bench/serve/pageload.sh [RUNS]   (default 5; from the repo root or anywhere)
#   PAGELOAD_VMSNAP="CMD..."  the commands that run vmsnap, blank-separated (default: this tree's
#                         ./vmsnap launcher); several are run alternately in each run (before/after)
#                         and get their own statistics. The first one sets the domain up.
#   PAGELOAD_DELAY=SEC    wait SEC seconds between serve's port opening and the navigation (default
#                         0: the worst case, the page competes with serve's start-up warm-up; a few
#                         seconds: a user who pastes the printed address)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
J=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin
runs=${1:-5}
read -r -a cmds <<<"${PAGELOAD_VMSNAP:-$root/vmsnap}"
vmsnap=${cmds[0]}
delay=${PAGELOAD_DELAY:-0}
port=18743
dport=19515
d=$(mktemp -d)
cd "$d"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$d"; }
trap cleanup EXIT
export VMSNAP_HOME=$d/home
"$vmsnap" --version >/dev/null # builds the jar and its AOT cache if the sources changed: never timed
qemu-img create -q -f qcow2 "$d/a.qcow2" 1M
for i in $(seq 0 999); do qemu-img snapshot -c "s$i" "$d/a.qcow2"; done
cat > "$d/big.xml" <<XML
<domain type='kvm'><name>big</name><memory unit='KiB'>65536</memory><devices>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='$d/a.qcow2'/>
<target dev='vda' bus='virtio'/></disk></devices></domain>
XML
"$vmsnap" define "$d/big.xml" >/dev/null
"$vmsnap" recover big >/dev/null
sleep 3

/usr/bin/chromedriver --port=$dport >"$d/chromedriver.log" 2>&1 & pids+=($!)
wd=http://127.0.0.1:$dport
until curl -sf "$wd/status" >/dev/null; do sleep 0.05; done
# wd METHOD PATH [JSON]: one W3C WebDriver command; prints its "value", fails on an error.
wd() {
  local out
  out=$(curl -sS -X "$1" -H 'Content-Type: application/json' ${3:+--data "$3"} "$wd$2")
  if jq -e '.value | objects | has("error")' >/dev/null <<<"$out"; then echo "webdriver: $out" >&2; return 1; fi
  jq -c '.value' <<<"$out"
}
caps='{"capabilities":{"alwaysMatch":{"browserName":"chrome","pageLoadStrategy":"normal","goog:chromeOptions":{
  "binary":"/usr/bin/chromium","args":["--headless=new","--no-sandbox","--disable-dev-shm-usage","--window-size=1280,800"]}}}}'
# Injected before any script of every document of the session: the "in DOM" and "painted" marks.
observer=$(cat <<'JS'
window.__tree = null;
new MutationObserver((records, obs) => {
  const svg = document.getElementById('tree');
  if (!svg || !svg.querySelector('g.snap.current')) { return; }
  obs.disconnect();
  const t = { inDom: performance.now(), snaps: svg.querySelectorAll('g.snap').length,
    runs: svg.querySelectorAll('g.run').length };
  requestAnimationFrame(() => {
    t.frame = performance.now();
    const ch = new MessageChannel();
    ch.port1.onmessage = () => { t.painted = performance.now(); window.__tree = t; };
    ch.port2.postMessage(0);
  });
}).observe(document, { childList: true, subtree: true });
JS
)
# Waits for the marks, then returns them with Navigation and Resource Timing (ms from navigation start).
collect=$(cat <<'JS'
const done = arguments[arguments.length - 1];
(function poll() {
  if (!window.__tree) { setTimeout(poll, 5); return; }
  const nav = performance.getEntriesByType('navigation')[0];
  const res = performance.getEntriesByType('resource');
  const api = p => res.find(e => new URL(e.name).pathname === p);
  const dom = api('/api/domains'), tree = api('/api/domains/big/tree');
  const r = x => Math.round(x);
  done({ timeOrigin: performance.timeOrigin, inDom: r(window.__tree.inDom), frame: r(window.__tree.frame),
    painted: r(window.__tree.painted), snaps: window.__tree.snaps, runs: window.__tree.runs,
    pageReq: r(nav.requestStart), pageResp: r(nav.responseEnd), dcl: r(nav.domContentLoadedEventEnd),
    domainsStart: r(dom.startTime), domainsEnd: r(dom.responseEnd),
    treeStart: r(tree.startTime), treeFirstByte: r(tree.responseStart), treeEnd: r(tree.responseEnd),
    treeBytes: tree.encodedBodySize || tree.transferSize });
})();
JS
)
run_js() { wd POST "/session/$1/execute/async" "$(jq -nc --arg s "$2" '{script:$s,args:[]}')"; }

for c in "${cmds[@]}"; do "$c" --version >/dev/null; done
echo "vmsnap: ${cmds[*]}; delay $delay s; load: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cpus; $(/usr/bin/chromium --version 2>/dev/null)"
for i in $(seq "$runs"); do
 for k in "${!cmds[@]}"; do
  vmsnap=${cmds[$k]}
  s=$(wd POST /session "$caps" | jq -r '.sessionId')
  wd POST "/session/$s/timeouts" '{"script":60000}' >/dev/null
  wd POST "/session/$s/goog/cdp/execute" "$(jq -nc --arg s "$observer" \
    '{cmd:"Page.addScriptToEvaluateOnNewDocument",params:{source:$s}}')" >/dev/null
  rm -f "$VMSNAP_HOME/serve-token"
  t0=$(date +%s%N)
  "$vmsnap" serve --listen 127.0.0.1:$port >/dev/null 2>&1 & p=$!; pids+=($p)
  until [ -s "$VMSNAP_HOME/serve-token" ] && (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; do
    kill -0 $p || { echo "serve ended"; exit 1; }; sleep 0.01; done
  t1=$(date +%s%N)
  tok=$(cat "$VMSNAP_HOME/serve-token")
  sleep "$delay"
  wd POST "/session/$s/url" "{\"url\":\"http://127.0.0.1:$port/?token=$tok\"}" >/dev/null
  m=$(run_js "$s" "$collect")
  # From serve's launch to painted, on the system clock (timeOrigin is the epoch in ms).
  fromServe=$(jq -r --arg t0 "$t0" '(.timeOrigin + .painted - ($t0 | tonumber) / 1e6) | round' <<<"$m")
  ready=$(( (t1 - t0) / 1000000 ))
  jq -r --arg fs "$fromServe" --arg ready "$ready" --arg c "$vmsnap" '"\($c): serve answers TCP \($ready) ms after launch; painted \($fs) ms after launch;"
    + " from navigation: page \(.pageReq)-\(.pageResp), /api/domains \(.domainsStart)-\(.domainsEnd),"
    + " /tree \(.treeStart)-\(.treeFirstByte)-\(.treeEnd) (\(.treeBytes) B), in DOM \(.inDom), frame \(.frame),"
    + " painted \(.painted) ms (\(.snaps) snapshots + \(.runs) collapsed run drawn)"' <<<"$m"
  jq -r .painted <<<"$m" >>"$d/first$k"; echo "$fromServe" >>"$d/serve$k"
  # Reload: serve warm (its caches filled, its code compiled), the browser's cache as it is.
  wd POST "/session/$s/refresh" '{}' >/dev/null
  m=$(run_js "$s" "$collect")
  jq -r '"  reload: /tree \(.treeStart)-\(.treeEnd), in DOM \(.inDom), painted \(.painted) ms"' <<<"$m"
  jq -r .painted <<<"$m" >>"$d/reload$k"
  wd DELETE "/session/$s" >/dev/null
  kill $p; wait $p 2>/dev/null || true
 done
done
stats() { sort -n "$1" | awk -v what="$2" '{a[NR]=$1} END {m = NR % 2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2;
  printf "%s: min %d, median %d, max %d ms (%d runs)\n", what, a[1], m, a[NR], NR}'; }
for k in "${!cmds[@]}"; do
  echo "${cmds[$k]}:"
  stats "$d/first$k" "  first load, navigation start to painted tree"
  stats "$d/serve$k" "  first load, serve launched to painted tree"
  stats "$d/reload$k" "  reload (serve warm), navigation start to painted tree"
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
