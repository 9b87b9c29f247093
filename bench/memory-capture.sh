#!/usr/bin/env bash
# Issue 11 item 5: memory bounded by the journal. One step captures a whole 16 MB JSON response
# (under the default body cap); then `run --headless` (on the same incident), `list`, `export`
# (json and md), `verify` and `resume` (in tmux, quit at once) each run under /usr/bin/time -v.
# Prints each command's peak RSS beside the journal size and their ratio (goal: <= 3x + floor).
#
#   bench/memory-capture.sh                (figures in README section bench-memory)
#   STANCH_BIN=target/debug/stanch bench/memory-capture.sh   (skip the release build)
#
# Needs nginx (apt, via bench/engine-lib.sh), GNU time (apt `time`), tmux, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/engine-lib.sh

MB="${MB:-16}"
export NGINX_PORT="${NGINX_PORT:-18483}"
work="$PWD/target/memory-bench"
rm -rf "$work" && mkdir -p "$work/www" "$work/data"
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
python3 - "$work/www/records.json" "$MB" <<'PY'
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
http = { target = "svc", method = "GET", path = "/records.json" }
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

export STANCH_DATA_DIR="$work/data"

id=INC-MEMORY-BENCH
# Open the incident and run only the capture (the later steps run again below).
"$bin" run "$work/runbook.toml" --headless --incident "$id" >/dev/null || true
journal="$work/data/incidents/$id/journal.jsonl"
[ -f "$journal" ] || journal="$(find "$work/data" -name journal.jsonl | head -1)"
jbytes=$(stat -c %s "$journal")

measure() { # name, command...
  local name="$1"; shift
  /usr/bin/time -v -o "$work/$name.time" "$@" >/dev/null 2>"$work/$name.err" || true
  report "$name"
}
report() {
  local kb
  kb=$(awk -F: '/Maximum resident set size/ {gsub(/ /,"",$2); print $2}' "$work/$1.time")
  printf '%-14s %8.1f MB  %5.2fx journal\n' "$1" "$(echo "$kb/1024" | bc -l)" \
    "$(echo "$kb*1024/$jbytes" | bc -l)"
}

printf 'journal        %8.1f MB  (one %s MB capture)\n' "$(echo "$jbytes/1048576" | bc -l)" "$MB"
measure run "$bin" run "$work/runbook.toml" --headless --incident "$id"
measure list "$bin" list
measure export-json "$bin" export "$id" --format json
measure export-md "$bin" export "$id" --format md
measure verify "$bin" verify "$id"
# resume owns a terminal: run it in tmux and quit once it has drawn.
tmux kill-session -t stanch-mem 2>/dev/null || true
tmux new-session -d -s stanch-mem -x 120 -y 40 \
  "env STANCH_DATA_DIR='$work/data' /usr/bin/time -v -o '$work/resume.time' '$bin' resume $id 2>'$work/resume.err'; tmux wait-for -S stanch-mem-done"
for _ in $(seq 300); do
  tmux capture-pane -p -t stanch-mem 2>/dev/null | grep -q 'review' && break
  sleep 0.1
done
tmux send-keys -t stanch-mem q
timeout 60 tmux wait-for stanch-mem-done || true
report resume
