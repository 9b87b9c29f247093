#!/usr/bin/env bash
# Drill benchmarks (README section `bench-drill`):
#   1. wall time of `stanch drill --auto` on the bundled runbook + reference scenario (goal < 3 s)
#   2. peak RSS of `stanch lab` while a client scrolls through all 2.4 M customer records
#      (goal < 50 MB)
#
# Usage: bench/drill.sh [RUNS]     (from the repository root; builds the release binary)
set -euo pipefail

runs="${1:-5}"
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin="$PWD/target/release/stanch"
work="$(mktemp -d)"
lab_pid=""
cleanup() {
    if [[ -n "$lab_pid" ]] && kill -0 "$lab_pid" 2>/dev/null; then kill -INT "$lab_pid"; fi
    rm -rf "$work"
}
trap cleanup EXIT

echo "== stanch drill --auto: $runs runs"
times=()
for i in $(seq "$runs"); do
    start=$(date +%s.%N)
    STANCH_DATA_DIR="$work/data-$i" "$bin" drill --auto >"$work/drill-$i.log"
    end=$(date +%s.%N)
    times+=("$(echo "$end - $start" | bc)")
done
printf '%s\n' "${times[@]}" | sort -n | awk '
    { t[NR] = $1 }
    END { printf "wall time: min %.2f s, median %.2f s, max %.2f s\n", t[1], t[int((NR + 1) / 2)], t[NR] }'
grep -E "(revoke|verify)-alexa" "$work/drill-1.log" | cut -c1-70 | sed "s/^/  /" || true

echo "== stanch lab: peak RSS while scrolling all customer records"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin" lab --port "$port" >"$work/lab.log" &
lab_pid=$!
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/" >/dev/null && break
    sleep 0.1
done
start=$(date +%s.%N)
python3 - "$port" <<'EOF'
import json, sys, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}"
def post(path, body):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)
page = post("/customers/_search?scroll=1m", {"size": 10000})
seen, beta = 0, 0
while page["hits"]["hits"]:
    seen += len(page["hits"]["hits"])
    beta += sum(1 for h in page["hits"]["hits"] if "health" in h["_source"])
    page = post("/_search/scroll", {"scroll": "1m", "scroll_id": page["_scroll_id"]})
print(f"scrolled {seen} records ({beta} with health data)")
EOF
end=$(date +%s.%N)
peak_kb=$(awk '/VmHWM/ { print $2 }' "/proc/$lab_pid/status")
echo "scroll time: $(echo "$end - $start" | bc) s"
echo "lab peak RSS (VmHWM): $((peak_kb / 1024)) MB ($peak_kb kB)"
