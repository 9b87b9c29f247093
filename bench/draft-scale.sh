#!/usr/bin/env bash
# Rendering a draft of a large incident (issue 13 item 1): `stanch draft ID STEP` of a
# generated 2,000,000-event incident (a foreach of 999,000 items), with `EDITOR=true` (render,
# save, editor, record): wall time, peak RSS (GNU time's %M) and how many timeline lines the
# draft quotes, from the last checkpoint and with the checkpoints moved away (a full replay).
# The TUI renders a draft the same way (`draft::timeline::read` streams the journal).
#
#   bash bench/draft-scale.sh [EVENTS] [ITEMS]       (default 2000000 events, 999000 items)
#   BEFORE_BIN=PATH bash bench/draft-scale.sh ...    (also run a stanch built before the
#       change, e.g. from main: `git archive main | tar -x -C /tmp/m` and `cargo build
#       --release` there; before it, `stanch draft` kept the events it folded and quoted
#       every one of them, one line per exchange)
#   REUSE=1 ...                                      (keep an incident generated before)
#   STANCH_BIN=PATH ...                              (measure that binary, no build)
#   LIMIT_S=300 ...                                  (give up on a run after that long)
#
# The incident is made by bench/gen-incident.sh naming bench/fixtures/draft-scale/runbook.toml
# (its template quotes every timeline line). Each run deletes the draft file first, so the
# draft is rendered, and journals one `draft.saved`.
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${1:-2000000}
ITEMS=${2:-999000}
DATA=$PWD/target/draft-bench-data
ID=DRAFT
DIR=$DATA/incidents/$ID
if [ -z "${REUSE:-}" ] || [ ! -d "$DIR" ]; then
  GEN_RUNBOOK=$PWD/bench/fixtures/draft-scale/runbook.toml bash bench/gen-incident.sh "$EVENTS" "$ITEMS" "$DATA" "$ID"
fi
if [ -z "${STANCH_BIN:-}" ]; then cargo build --release --quiet --bin stanch; fi
AFTER=${STANCH_BIN:-$PWD/target/release/stanch}
TIMING=$(mktemp)
trap 'rm -f "$TIMING"' EXIT
printf 'journal: %s events, %.1f MB; load: %s\n' "$(wc -l <"$DIR/journal.jsonl")" \
  "$(echo "$(stat -c %s "$DIR/journal.jsonl") / 1000000" | bc -l)" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-7s %-16s %8s %13s %15s  %s\n' build open "wall s" "peak RSS MB" "draft lines" result

# run LABEL BIN CASE: one `stanch draft`, its figures on one line.
run() {
  local label=$1 bin=$2 case=$3 hidden=""
  rm -f "$DIR/drafts/timeline.md"
  if [ "$case" = "full replay" ]; then
    hidden=$DIR/checkpoints.hidden-$$
    mv "$DIR/checkpoints" "$hidden"
  fi
  local status=0
  STANCH_DATA_DIR=$DATA EDITOR=true /usr/bin/time -o "$TIMING" -f '%e %M' \
    timeout "${LIMIT_S:-300}" "$bin" draft "$ID" timeline-notice >/dev/null 2>"$TIMING.err" || status=$?
  # The run checkpointed its close into a fresh checkpoints/: that one is the chain's last.
  if [ -n "$hidden" ]; then rm -rf "$hidden"; fi
  local wall kb lines result
  read -r wall kb < <(tail -n 1 "$TIMING")
  if [ "$status" = 0 ] && [ -f "$DIR/drafts/timeline.md" ]; then
    lines=$(grep -c '^- T' "$DIR/drafts/timeline.md" || true)
    result=rendered
  else
    lines=-
    result="failed (exit $status): $(tail -n 1 "$TIMING.err" | cut -c1-100)"
  fi
  rm -f "$TIMING.err"
  printf '%-7s %-16s %8.2f %13.1f %15s  %s\n' "$label" "$case" "$wall" "$(echo "$kb / 1000" | bc -l)" "$lines" "$result"
}

for case in "last checkpoint" "full replay"; do
  run after "$AFTER" "$case"
  if [ -n "${BEFORE_BIN:-}" ]; then run before "$BEFORE_BIN" "$case"; fi
done
