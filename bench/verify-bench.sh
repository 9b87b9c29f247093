#!/usr/bin/env bash
# `stanch verify` against `sha256sum` of the same journal, in one run: wall time, throughput
# (MB/s of journal) and peak RSS (GNU time's %M) of each. Goal (issue 13): verify of a
# 2,000,000-event incident at 500 MB/s or more, peak RSS under 32 MB.
#
#   bench/verify-bench.sh [EVENTS] [ITEMS]     # default 2000000 events, 999000 items
#
# The incident comes from bench/gen-incident.sh (kept in target/scale-data and reused while
# its size matches). Each command runs three times; the best wall time, the CPU time (user +
# system) of that run and the largest RSS are reported. On a shared, loaded machine the CPU
# time is the figure that does not depend on the load.
set -euo pipefail
cd "$(dirname "$0")/.."

events=${1:-2000000}
items=${2:-999000}
source bench/scale-lib.sh
bytes=$(stat -c %s "$journal")
printf 'journal: %s events, %.1f MB (%s)\n' "$events" "$(echo "$bytes / 1000000" | bc -l)" "$journal"
printf '%-10s %8s %9s %8s %13s\n' command "wall s" "MB/s" "CPU s" "peak RSS MB"

timing=$(mktemp)
trap 'rm -f "$timing"' EXIT

measure() {
    local name=$1
    shift
    local best="" cpu="" rss=0 wall kb user sys
    for _ in 1 2 3; do
        /usr/bin/time -o "$timing" -f '%e %M %U %S' "$@" >/dev/null 2>&1
        read -r wall kb user sys <"$timing"
        if [[ -z $best ]] || (($(echo "$wall < $best" | bc -l))); then
            best=$wall
            cpu=$(echo "$user + $sys" | bc -l)
        fi
        ((kb > rss)) && rss=$kb
    done
    printf '%-10s %8.2f %9.0f %8.2f %13.1f\n' "$name" "$best" \
        "$(echo "$bytes / 1000000 / ($best + ($best == 0) * 0.01)" | bc -l)" "$cpu" "$(echo "$rss / 1000" | bc -l)"
}

STANCH_DATA_DIR="$data" NO_COLOR=1 measure verify target/release/stanch verify "$id"
measure sha256sum sha256sum "$journal"
