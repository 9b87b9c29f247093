#!/usr/bin/env bash
# `stanch export` of a generated 2,000,000-event incident (a foreach of 999,000 items) in each
# format: wall time, CPU time (user + system), peak RSS (GNU time's %M) and output size.
# Goals (issue 13): each format under 2 s and 64 MB; Markdown and HTML size independent of
# the number of foreach items.
#
#   bench/export-scale.sh [EVENTS] [ITEMS]     # default 2000000 events, 999000 items
#
# The incident is bench/verify-bench.sh's (bench/gen-incident.sh, kept in target/scale-data).
set -euo pipefail
cd "$(dirname "$0")/.."

events=${1:-2000000}
items=${2:-999000}
source bench/scale-lib.sh
printf 'journal: %s events, %.1f MB\n' "$events" "$(echo "$(stat -c %s "$journal") / 1000000" | bc -l)"
printf '%-6s %8s %8s %13s %12s\n' format "wall s" "CPU s" "peak RSS MB" "output MB"
timing=$(mktemp)
out=$(mktemp -d)
trap 'rm -rf "$timing" "$out"' EXIT
for format in md html json; do
    STANCH_DATA_DIR="$data" /usr/bin/time -o "$timing" -f '%e %M %U %S' \
        target/release/stanch export "$id" --format "$format" -o "$out/export.$format" 2>/dev/null
    read -r wall kb user sys <"$timing"
    printf '%-6s %8.2f %8.2f %13.1f %12.2f\n' "$format" "$wall" "$(echo "$user + $sys" | bc -l)" \
        "$(echo "$kb / 1000" | bc -l)" "$(echo "$(stat -c %s "$out/export.$format") / 1000000" | bc -l)"
    rm -f "$out/export.$format"
done
