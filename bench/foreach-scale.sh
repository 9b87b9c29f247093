#!/usr/bin/env bash
# Issue 13: headless `foreach` of 10,000, 100,000 and 1,000,000 RFC 7009 revocations at
# concurrency 32 against nginx on loopback, beside `curl --parallel --parallel-max 32` with the
# same requests, in one run. For each size and round: wall time of each (stanch then curl, so
# with ROUNDS=2 they alternate A B A B and machine load hits both), stanch's peak RSS (GNU time
# %M, the whole process: the list step too) and its resident memory from a quarter of the run on
# (VmRSS sampled every 0.2 s: the foreach, after the list step), the bytes per exchange event
# of its journal, and the load average as the round ends.
#
#   bench/foreach-scale.sh                        # 10000 100000 1000000, one round (about 3 minutes)
#   bench/foreach-scale.sh 10000 100000           # only these sizes
#   ROUNDS=2 bench/foreach-scale.sh 1000000       # stanch, curl, stanch, curl
#   DISK_LOAD=1 bench/foreach-scale.sh 1000000    # the same beside a disk writer (see below)
#
# DISK_LOAD=1 runs another process writing to the same disk for the whole round, beside
# stanch and then beside curl (the same load for both): `dd` of 2,000 MB with O_DIRECT, in a
# loop, to a file under target/ (deleted after). stanch syncs every request's record before
# sending it (the write-ahead rule) and curl writes nothing, so this is where they differ. Each
# stanch run also reports its journal writer's group commit (from its debug log): syncs,
# events per sync and the mean time of one write + fdatasync.
#
# The token list is served by nginx and captured by the runbook's first step, as in
# bench/engine-foreach.sh; tokens are short (`rt_` and 8 hex digits) so that the list itself
# (which the runbook must hold) stays small beside what the engine keeps per item.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/engine-lib.sh

sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10000 100000 1000000)
export NGINX_PORT="${NGINX_PORT:-18483}"
work="$PWD/target/foreach-scale"
rm -rf "$work" && mkdir -p "$work/www"

# The disk load: `start_load` before a round, `stop_load` after it (no-ops without DISK_LOAD).
LOAD_PID=
start_load() {
    [ -n "${DISK_LOAD:-}" ] || return 0
    ( while :; do dd if=/dev/zero of="$work/disk-load" bs=1M count=2000 oflag=direct status=none || exit; done ) &
    LOAD_PID=$!
}
stop_load() {
    [ -n "$LOAD_PID" ] || return 0
    # Stopped first, so that the loop starts no new `dd` between finding this one and the end.
    kill -STOP "$LOAD_PID" 2>/dev/null || true
    local writer
    writer=$(pgrep -P "$LOAD_PID" || true)
    # shellcheck disable=SC2086 # one pid or none
    kill "$LOAD_PID" $writer 2>/dev/null || true
    kill -CONT "$LOAD_PID" 2>/dev/null || true
    wait "$LOAD_PID" 2>/dev/null || true
    LOAD_PID=
    rm -f "$work/disk-load"
}
trap 'stop_load; stop_nginx' EXIT
ensure_release
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
echo '{"ok":true}' > "$work/www/ping.json"
start_nginx "$work"

[ -z "${DISK_LOAD:-}" ] || echo "disk load: dd 2000 MB O_DIRECT in a loop beside both stanch and curl"
printf '%-9s %14s %14s %16s %16s %22s  %s\n' items "stanch wall s" "curl wall s" "stanch peak MB" "RSS in run MB" "bytes/exchange event" "load average"
for n in "${sizes[@]}"; do
    python3 - "$work" "$n" "$NGINX_PORT" <<'PY'
import json, sys
work, n, port = sys.argv[1], int(sys.argv[2]), sys.argv[3]
url = f"http://127.0.0.1:{port}"
tokens = [f"rt_{i:08x}" for i in range(n)]
json.dump({"tokens": tokens}, open(f"{work}/www/tokens-{n}.json", "w"))
open(f"{work}/revoke-{n}.toml", "w").write(f'''[runbook]
id = "bench-revoke-{n}"
title = "{n} RFC 7009 revocations"
[secrets.oauth]
env = "BENCH_OAUTH_SECRET"
[targets.auth]
url = "{url}"
auth = {{ basic = {{ user = "stanch-responder", password = "{{{{ secrets.oauth }}}}" }} }}

[[steps]]
id = "list"
phase = "eradicate"
http = {{ target = "auth", method = "GET", path = "/tokens-{n}.json" }}
capture = {{ tokens = "response.json.tokens" }}

[[steps]]
id = "revoke"
phase = "eradicate"
needs = ["list"]
foreach = "vars.tokens"
concurrency = 32
http = {{ target = "auth", method = "POST", path = "/oauth/revoke", form = {{ token = "{{{{ item }}}}", token_type_hint = "refresh_token" }} }}
expect = ["response.status == 200"]
''')
with open(f"{work}/curl-{n}.conf", "w") as f:
    for i, t in enumerate(tokens):
        if i:
            f.write("next\n")
        f.write(f'url = "{url}/oauth/revoke"\nuser = "stanch-responder:bench-secret"\n'
                f'data = "token={t}&token_type_hint=refresh_token"\noutput = "/dev/null"\n')
PY
    export STANCH_DATA_DIR="$work/data" BENCH_OAUTH_SECRET=bench-secret
    for _ in $(seq "${ROUNDS:-1}"); do
    rm -f "$work/data/logs/stanch.log"
    start_load
    STANCH_LOG=stanch=debug /usr/bin/time -o "$work/time-stanch" -f '%e %M' target/release/stanch run "$work/revoke-$n.toml" \
        --headless --incident "R$n" >"$work/stanch-$n.out" 2>&1 &
    timed=$!
    # Resident memory while the foreach runs (sampled from its second quarter on, when the list
    # step and its large blocks are long done), beside the peak over the whole run.
    : >"$work/rss-$n"
    while kill -0 "$timed" 2>/dev/null; do
        pid=$(pgrep -P "$timed" -x stanch || true)
        [ -n "$pid" ] && awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null >>"$work/rss-$n"
        sleep 0.2
    done
    wait "$timed" || { cat "$work/stanch-$n.out"; exit 1; }
    /usr/bin/time -o "$work/time-curl" -f "%e %M" curl -s --parallel --parallel-max 32 -K "$work/curl-$n.conf" >/dev/null 2>&1
    stop_load
    read -r s_wall s_kb <"$work/time-stanch"
    read -r c_wall _ <"$work/time-curl"
    bytes=$(python3 - "$work/data/incidents/R$n/journal.jsonl" "$n" <<'PY'
# Bytes per exchange event as written, and as the same events written whole (every request
# with its method, URL and headers, every response with its body digest: the format before
# issue 13), rebuilt here the way the journal writes JSON (sorted data keys, compact).
import json, sys
path, n = sys.argv[1], int(sys.argv[2])
EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
count = size = whole = ok = 0
shape = {}
for line in open(path, "rb"):
    e = json.loads(line)
    if e.get("step") != "revoke":
        continue
    data = e["data"]
    if e["kind"] == "step.started":
        shape = data.get("request", {})
    if e["kind"] not in ("http.request", "http.response"):
        continue
    count += 1
    size += len(line)
    ok += e["kind"] == "http.response" and data.get("status") == 200
    if e["kind"] == "http.request":
        for key in ("method", "url", "headers"):
            data.setdefault(key, shape.get(key))
    elif data.get("bytes") == 0:
        data.setdefault("body_sha256", EMPTY)
    e["data"] = dict(sorted(data.items()))
    whole += len(json.dumps(e, separators=(",", ":"), ensure_ascii=False).encode()) + 1
assert count == 2 * n and ok == n, f"{count} exchange events, {ok} answered 200, for {n} items"
print(f"{size / count:.0f} (whole: {whole / count:.0f})")
PY
)
    during=$(awk '{a[NR]=$1} END {q=int(NR/4)+1; lo=""; hi=0; for (i=q; i<=NR; i++) {if (lo=="" || a[i]<lo) lo=a[i]; if (a[i]>hi) hi=a[i]}; printf "%.1f-%.1f", lo/1000, hi/1000}' "$work/rss-$n")
    printf '%-9s %14s %14s %16.1f %16s %22s  %s\n' "$n" "$s_wall" "$c_wall" "$(echo "$s_kb / 1000" | bc -l)" "$during" "$bytes" "$(cut -d' ' -f1-3 /proc/loadavg)"
    grep -h 'group commit' "$work/data/logs/stanch.log" 2>/dev/null | sed -e 's/^.*journal writer: group commit/  group commit:/' -e 's/path=[^ ]* //' | tail -1
    rm -rf "$work/data/incidents/R$n"
    done # rounds
    rm -f "$work/curl-$n.conf" "$work/www/tokens-$n.json"
done
