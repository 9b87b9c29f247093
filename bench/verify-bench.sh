#!/usr/bin/env bash
# `stanch verify` against `sha256sum` of the same journal, in one run: wall time, throughput
# (MB/s of journal) and peak RSS (GNU time's %M) of each. Goal (issue 13): verify of a
# 2,000,000-event incident at 500 MB/s or more, peak RSS under 32 MB.
#
#   bench/verify-bench.sh [EVENTS] [ITEMS]     # default 2000000 events, 999000 items
#
# The incident comes from bench/gen-incident.sh (kept in target/scale-data and reused while
# its size matches). Each command runs three times; the best wall time and the largest RSS
# are reported.
set -euo pipefail
cd "$(dirname "$0")/.."

events=${1:-2000000}
items=${2:-999000}
data="$PWD/target/scale-data"
id="VERIFY-$events-$items"
journal="$data/incidents/$id/journal.jsonl"

if [[ ! -f $journal ]] || [[ $(wc -l <"$journal") -ne $events ]]; then
    bench/gen-incident.sh "$events" "$items" "$data" "$id" >/dev/null
fi
cargo build --quiet --release --bin stanch
bytes=$(stat -c %s "$journal")
printf 'journal: %s events, %.1f MB (%s)\n' "$events" "$(echo "$bytes / 1000000" | bc -l)" "$journal"
printf '%-10s %8s %9s %13s\n' command "wall s" "MB/s" "peak RSS MB"

timing=$(mktemp)
trap 'rm -f "$timing"' EXIT

measure() {
    local name=$1
    shift
    local best="" rss=0 wall kb
    for _ in 1 2 3; do
        /usr/bin/time -o "$timing" -f '%e %M' "$@" >/dev/null 2>&1
        read -r wall kb <"$timing"
        if [[ -z $best ]] || (($(echo "$wall < $best" | bc -l))); then best=$wall; fi
        ((kb > rss)) && rss=$kb
    done
    printf '%-10s %8.2f %9.0f %13.1f\n' "$name" "$best" \
        "$(echo "$bytes / 1000000 / ($best + ($best == 0) * 0.01)" | bc -l)" "$(echo "$rss / 1000" | bc -l)"
}

STANCH_DATA_DIR="$data" NO_COLOR=1 measure verify target/release/stanch verify "$id"
measure sha256sum sha256sum "$journal"
