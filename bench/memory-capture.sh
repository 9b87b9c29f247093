#!/usr/bin/env bash
# Issue 11 item 5: memory bounded by the body and the journal.
#
# 1. The capturing step: for each size in CAPTURE_MB (default "16 50"), `run --headless` of a
#    runbook whose first step captures a whole JSON response of that size
#    (`response.json.hits`), under /usr/bin/time -v. Prints the process's peak RSS, peak / body
#    (goal: at most 3), the step's own duration from the journal (goal: under 1 s) and the
#    process's wall time.
# 2. Commands on the incident: with one MB-sized capture (default 16), `run --headless` (same
#    incident), `list`, `export` (json and md), `verify` and `resume` (in tmux, quit at once)
#    each under /usr/bin/time -v: peak RSS, its floor (the same command on the same runbook
#    capturing a 12-byte body) and (peak - floor) / journal size (goal: at most 3).
#
#   bench/memory-capture.sh                (figures in README section bench-memory)
#   CAPTURE_ONLY=1 bench/memory-capture.sh (part 1 only)
#   STANCH_BIN=target/debug/stanch bench/memory-capture.sh   (skip the release build)
#
# Needs nginx (apt, via bench/engine-lib.sh), GNU time (apt `time`), tmux, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/engine-lib.sh

MB="${MB:-16}"
export NGINX_PORT="${NGINX_PORT:-18483}"
work="$PWD/target/memory-bench"
rm -rf "$work" && mkdir -p "$work/www" "$work/big" "$work/floor"
trap 'stop_nginx; tmux kill-session -t stanch-mem 2>/dev/null || true' EXIT

if [ ! -x /usr/bin/time ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
fi
if [ -z "${STANCH_BIN:-}" ]; then
  ensure_release
  STANCH_BIN="$PWD/target/release/stanch"
fi
bin="$(realpath "$STANCH_BIN")"

echo '{"ok":true}' > "$work/www/ping.json"
# records MB FILE: a JSON object {"hits": [...]} of about MB mebibytes.
records() {
  python3 - "$2" "$1" <<'PY'
import json, sys
path, mb = sys.argv[1], int(sys.argv[2])
records, size, i = [], 0, 0
while size < mb * 1024 * 1024 - 200:
    r = {"id": f"cust-{i:08}", "email": f"user{i}@example.com", "name": f"Customer {i}",
         "plan": "pro" if i % 3 else "free", "balance": i % 10007, "active": i % 2 == 0}
    size += len(json.dumps(r, separators=(",", ":"))) + 1
    records.append(r)
    i += 1
json.dump({"hits": records}, open(path, "w"), separators=(",", ":"))
PY
}
records "$MB" "$work/www/records.json"
start_nginx "$work"

cat > "$work/runbook.toml" <<TOML
[runbook]
id = "memory-bench"
title = "One 16 MB capture"

[targets.svc]
url = "http://127.0.0.1:$NGINX_PORT"

[[steps]]
id = "dump"
phase = "preserve"
http = { target = "svc", method = "GET", path = "/records.json", max_body = "128MiB" }
capture = { records = "response.json.hits" }

[[steps]]
id = "after"
phase = "confirm"
needs = ["dump"]
http = { target = "svc", method = "GET", path = "/ping.json" }

[[steps]]
id = "review"
phase = "confirm"
needs = ["after"]
manual = ["Looked at the records"]
TOML

peak_kb() { awk -F: '/Maximum resident set size/ {gsub(/ /,"",$2); print $2}' "$1"; }
wall_s() { awk '/Elapsed \(wall clock\)/ {n=split($NF,t,":"); s=0; for(i=1;i<=n;i++) s=s*60+t[i]; print s}' "$1"; }

# Part 1: the capturing step at each size, each in a fresh data dir.
for mb in ${CAPTURE_MB:-16 50}; do
  records "$mb" "$work/www/records-$mb.json"
  sed "s#/records.json#/records-$mb.json#" "$work/runbook.toml" > "$work/runbook-$mb.toml"
  data="$work/capture-$mb"
  STANCH_DATA_DIR="$data" /usr/bin/time -v -o "$work/capture-$mb.time" \
    "$bin" run "$work/runbook-$mb.toml" --headless --incident INC-CAPTURE >/dev/null 2>&1 || true
  body=$(stat -c %s "$work/www/records-$mb.json")
  step_ms=$(python3 - "$data/incidents/INC-CAPTURE/journal.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    if '"step.succeeded"' in line[:400] or '"step.failed"' in line[:400]:
        e = json.loads(line)
        if e.get("step") == "dump":
            print(("" if e["kind"] == "step.succeeded" else "FAILED ") + str(e["data"]["duration_ms"]))
            break
PY
)
  printf 'capture: GET + capture of a %5.1f MB body: peak %6.1f MB (%.2fx the body); step %s ms; process %.2f s\n' \
    "$(echo "$body/1048576" | bc -l)" "$(echo "$(peak_kb "$work/capture-$mb.time")/1024" | bc -l)" \
    "$(echo "$(peak_kb "$work/capture-$mb.time")*1024/$body" | bc -l)" "$step_ms" \
    "$(wall_s "$work/capture-$mb.time")"
  rm -rf "$data" "$work/www/records-$mb.json"
done
[ -n "${CAPTURE_ONLY:-}" ] && exit 0

# Part 2. The big incident, and in its own data dir the floor: the same runbook capturing a 12-byte
# body (so `list` of the floor lists one small incident).
sed 's#/records.json#/ping.json#; s#response.json.hits#response.json#' "$work/runbook.toml" > "$work/floor.toml"
id=INC-MEMORY
STANCH_DATA_DIR="$work/big" /usr/bin/time -v -o "$work/capture.time" \
  "$bin" run "$work/runbook.toml" --headless --incident $id >"$work/capture.out" || true
STANCH_DATA_DIR="$work/floor" "$bin" run "$work/floor.toml" --headless --incident $id >/dev/null || true
journal="$work/big/incidents/$id/journal.jsonl"
jbytes=$(stat -c %s "$journal")

# measure NAME DATA RUNBOOK: peak RSS (kB) of one command on the incident in one data dir.
measure() {
  local name="$1" rb="$3" out="$work/$1-$2.time"
  export STANCH_DATA_DIR="$work/$2"
  case "$name" in
    run) /usr/bin/time -v -o "$out" "$bin" run "$rb" --headless --incident "$id" ;;
    list) /usr/bin/time -v -o "$out" "$bin" list ;;
    export-json) /usr/bin/time -v -o "$out" "$bin" export "$id" --format json ;;
    export-md) /usr/bin/time -v -o "$out" "$bin" export "$id" --format md ;;
    verify) /usr/bin/time -v -o "$out" "$bin" verify "$id" ;;
    resume) # resume owns a terminal: run it in tmux and quit once it has drawn.
      tmux kill-session -t stanch-mem 2>/dev/null || true
      tmux new-session -d -s stanch-mem -x 120 -y 40 \
        "env STANCH_DATA_DIR='$STANCH_DATA_DIR' /usr/bin/time -v -o '$out' '$bin' resume $id 2>/dev/null; tmux wait-for -S stanch-mem-done"
      for _ in $(seq 300); do
        tmux capture-pane -p -t stanch-mem 2>/dev/null | grep -q 'review' && break
        sleep 0.1
      done
      tmux send-keys -t stanch-mem q
      timeout 60 tmux wait-for stanch-mem-done || true ;;
  esac >/dev/null 2>&1 || true
  peak_kb "$out"
}

printf 'journal %.1f MB (one %s MB capture); goal: peak - floor <= 3x journal\n' \
  "$(echo "$jbytes/1048576" | bc -l)" "$MB"
printf '%-12s %10s %10s %14s\n' command "peak MB" "floor MB" "(peak-floor)/journal"
for name in run list export-json export-md verify resume; do
  big=$(measure "$name" big "$work/runbook.toml")
  floor=$(measure "$name" floor "$work/floor.toml")
  printf '%-12s %10.1f %10.1f %13.2fx\n' "$name" "$(echo "$big/1024" | bc -l)" \
    "$(echo "$floor/1024" | bc -l)" "$(echo "($big-$floor)*1024/$jbytes" | bc -l)"
done
