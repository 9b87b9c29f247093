#!/usr/bin/env bash
# `stanch export` of a generated 2,000,000-event incident (a foreach of 999,000 items) in each
# format, RUNS times each (default 3): the median wall time, the median CPU time (user +
# system), the largest peak RSS (GNU time's %M) and the output size, with the load average
# before each format (the machine may be shared: compare CPU time when it is busy).
# Goals (issue 13): each format under 2 s and 64 MB; Markdown and HTML size independent of
# the number of foreach items.
#
#   bench/export-scale.sh [EVENTS] [ITEMS]     # default 2000000 events, 999000 items
#   RUNS=5 bench/export-scale.sh
#   BASELINE=path/to/older/stanch bench/export-scale.sh   # the same runs, alternating, side by side
#   FORMATS=json bench/export-scale.sh                    # some formats only
#
# The incident is bench/verify-bench.sh's (bench/gen-incident.sh, kept in target/scale-data
# and reused while its size matches).
set -euo pipefail
cd "$(dirname "$0")/.."

events=${1:-2000000}
items=${2:-999000}
runs=${RUNS:-3}
source bench/scale-lib.sh
printf 'journal: %s events, %.1f MB; %s runs each\n' "$events" \
    "$(echo "$(stat -c %s "$journal") / 1000000" | bc -l)" "$runs"
printf '%-6s %-8s %8s %8s %13s %12s  %s\n' format binary "wall s" "CPU s" "peak RSS MB" "output MB" "load (1 min) before"
timing=$(mktemp)
out=$(mktemp -d)
trap 'rm -rf "$timing" "$out"' EXIT
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
declare -A bins=([stanch]=target/release/stanch)
names=(stanch)
if [[ -n ${BASELINE:-} ]]; then
    bins[baseline]=$BASELINE
    names=(baseline stanch)
fi
for format in ${FORMATS:-md html json}; do
    load=$(cut -d' ' -f1 /proc/loadavg)
    declare -A walls=() cpus=() peak=() size=()
    for _ in $(seq "$runs"); do
        for name in "${names[@]}"; do
            STANCH_DATA_DIR="$data" /usr/bin/time -o "$timing" -f '%e %M %U %S' \
                "${bins[$name]}" export "$id" --format "$format" -o "$out/export.$format" 2>/dev/null
            read -r wall kb user sys <"$timing"
            walls[$name]+="$wall "
            cpus[$name]+="$(echo "$user + $sys" | bc -l) "
            ((kb > ${peak[$name]:-0})) && peak[$name]=$kb
            size[$name]=$(stat -c %s "$out/export.$format")
            rm -f "$out/export.$format"
        done
    done
    for name in "${names[@]}"; do
        printf '%-6s %-8s %8.2f %8.2f %13.1f %12.2f  %s\n' "$format" "$name" \
            "$(tr ' ' '\n' <<<"${walls[$name]}" | grep . | median)" \
            "$(tr ' ' '\n' <<<"${cpus[$name]}" | grep . | median)" \
            "$(echo "${peak[$name]} / 1000" | bc -l)" "$(echo "${size[$name]} / 1000000" | bc -l)" "$load"
    done
    unset walls cpus peak size
done
