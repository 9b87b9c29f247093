#!/usr/bin/env bash
# Resume of a large incident from its last checkpoint (issue 13 item 1): first complete frame
# of `stanch resume` in a tmux pty and the process's peak RSS, and `stanch list` with that
# incident, beside `list` with the checkpoints moved away (the full replay they replace).
#
#   bash bench/resume-bench.sh [EVENTS] [RUNS]     (default 2000000 events, 10 runs)
#   REUSE=1 bash bench/resume-bench.sh ...        (keep an incident generated before)
#   GEN_TAIL=19990 bash bench/resume-bench.sh 200000 1   (worst case: that many events after
#       the last checkpoint; one run, since quitting checkpoints them)
#
# The incident is made by bench/gen-incident.sh (the journal's own writer, checkpoints written
# as `stanch` writes them: every 20,000 events and at the end), naming the bundled runbook so
# that `resume` opens it. "First complete frame": the status bar (incident id + journal
# position) and the key hints are on screen, timed from `tmux respawn-pane` (tmux's capture
# round trip, ~1-3 ms, included). Peak RSS: GNU time's maximum resident set size, for a
# session that opens, shows the first frame and quits.
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${1:-2000000}
RUNS=${2:-10}
ITEMS=$(( (EVENTS - 3) / 2 - 1000 ))
DATA=$PWD/target/resume-bench-data
ID=RESUME
if [ -z "${REUSE:-}" ] || [ ! -d "$DATA/incidents/$ID" ]; then
  GEN_RUNBOOK=$PWD/runbooks/elasticsearch-exposure.toml bash bench/gen-incident.sh "$EVENTS" "$ITEMS" "$DATA" "$ID"
fi
cargo build --release --quiet --bin stanch
BIN=$PWD/target/release/stanch
DIR=$DATA/incidents/$ID
echo "checkpoints: $(ls "$DIR/checkpoints" | tr '\n' ' ')"
SESSION=stanch-resume-$$
WORK=$(mktemp -d)
trap 'tmux kill-session -t $SESSION 2>/dev/null; rm -rf "$WORK"' EXIT
tmux new -d -s "$SESSION" -x 100 -y 30 "sleep 600"
# Secrets of at least 8 bytes (shorter ones are refused).
ENVS="STANCH_DATA_DIR=$DATA STANCH_ES_API_KEY=bench-es-key STANCH_OAUTH_SECRET=bench-oauth \
STANCH_FORUM_TOKEN=bench-forum STANCH_ALEXA_CLIENT_SECRET=bench-alexa \
STANCH_GOOGLE_CLIENT_SECRET=bench-google STANCH_IFTTT_CLIENT_SECRET=bench-ifttt"
ms=()
rss=()
for i in $(seq 1 "$RUNS"); do
  rm -f "$WORK/rss"
  start=$(date +%s%N)
  tmux respawn-pane -k -t "$SESSION" \
    "env $ENVS /usr/bin/time -f %M -o $WORK/rss $BIN resume $ID --responder bench; sleep 600"
  while :; do
    screen=$(tmux capture-pane -p -t "$SESSION")
    if grep -q "$ID" <<<"$screen" && grep -q "q quit" <<<"$screen" && grep -q "#[0-9]* " <<<"$screen"; then
      break
    fi
  done
  end=$(date +%s%N)
  ms+=($(( (end - start) / 100000 )))
  tmux send-keys -t "$SESSION" q
  for _ in $(seq 1 200); do [ -s "$WORK/rss" ] && break; sleep 0.05; done
  rss+=($(tail -1 "$WORK/rss"))
done
sorted=($(printf '%s\n' "${ms[@]}" | sort -n))
rsorted=($(printf '%s\n' "${rss[@]}" | sort -n))
median=${sorted[$(( RUNS / 2 ))]}
worst=${sorted[$(( RUNS - 1 ))]}
lines=$(wc -l <"$DIR/journal.jsonl")
printf 'resume of %d events: first complete frame median %d.%d ms, worst %d.%d ms (%d runs); peak RSS median %d KiB, worst %d KiB\n' \
  "$lines" $((median / 10)) $((median % 10)) $((worst / 10)) $((worst % 10)) "$RUNS" \
  "${rsorted[$(( RUNS / 2 ))]}" "${rsorted[$(( RUNS - 1 ))]}"
list() {
  env STANCH_DATA_DIR="$DATA" /usr/bin/time -f '%e s, %M KiB' "$BIN" list 2>&1 >/dev/null | tail -1
}
printf 'list with the checkpoint: %s\n' "$(list)"
mv "$DIR/checkpoints" "$WORK/checkpoints"
printf 'list replaying the whole journal (checkpoints moved away): %s\n' "$(list)"
mv "$WORK/checkpoints" "$DIR/checkpoints"
printf 'load average %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
