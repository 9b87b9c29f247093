#!/usr/bin/env bash
# Timeline keys on a 2,000,000-event incident: `stanch resume` in a tmux pty (100×30, so 27
# rows), the Timeline opened, then each key timed from `tmux send-keys` to the first capture
# that shows its effect: ↓, PgDn, G, g, PgUp, and a filter by kind typed after `/`. Also the
# time for a filter whose one match is 2,000,000 events back (the streamed search, with the
# screen live meanwhile), and the process's RSS.
#
#   bash bench/timeline-keys.sh [EVENTS] [ROUNDS]    (default 2000000 events, 10 rounds)
#   REUSE=1 bash bench/timeline-keys.sh              (keep the incident generated last time)
#
# The incident comes from bench/gen-incident.sh (naming bench/fixtures/timeline.toml so
# `resume` can open it). Times include tmux's send and capture round trips (~2–5 ms): an
# upper bound on the TUI's own. RSS: the peak (VmHWM) covers opening the incident, which today
# replays the whole journal (see the resume benchmark); the Timeline's own cost is the growth
# of VmRSS from the first Timeline frame to the end of the rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${1:-2000000}
ROUNDS=${2:-10}
ITEMS=$(( (EVENTS - 4000) / 2 ))
DATA=$PWD/target/timeline-data
SESSION=stanch-timeline-$$
cargo build --release --quiet
BIN=$PWD/target/release/stanch
LOG=$DATA/logs/stanch.log
rm -f "$LOG"
if [[ ${REUSE:-0} == 1 && -f $DATA/incidents/TIMELINE/journal.jsonl ]]; then
  rm -f "$DATA/incidents/TIMELINE/journal.idx"   # the first open still builds the index
else
  bench/gen-incident.sh "$EVENTS" "$ITEMS" "$DATA" TIMELINE bench/fixtures/timeline.toml
fi
JOURNAL=$DATA/incidents/TIMELINE/journal.jsonl
# The journal's own numbers: the generator's checkpoints add events between the others.
last=$(wc -l <"$JOURNAL")
# (`tac` is cut off once grep has its line: not an error here.)
response=$( { tac "$JOURNAL" || true; } | grep -m1 '"kind":"http.response"' | sed -E 's/.*"seq":([0-9]+).*/\1/')
trap 'tmux kill-session -t $SESSION 2>/dev/null' EXIT
tmux new -d -s "$SESSION" -x 100 -y 30 \
  "env STANCH_DATA_DIR=$DATA NO_COLOR=1 STANCH_LOG=stanch=info,stanch::tui::event_loop=debug \
   $BIN resume TIMELINE --responder bench; sleep 600"

screen() { tmux capture-pane -p -t "$SESSION"; }
# A row for seq N is on screen (seqs are right-aligned at the start of each row).
has_row() { grep -qE "^ *$1 " <<<"$(screen)"; }
# Wait until every PATTERN is on screen (DEADLINE seconds, default 600).
all_on_screen() {
  local s; s=$(screen)
  for p in "$@"; do grep -qE -- "$p" <<<"$s" || return 1; done
}
wait_for() { # PATTERN...
  local deadline=$(( $(date +%s) + ${DEADLINE:-600} ))
  until all_on_screen "$@"; do
    (( $(date +%s) < deadline )) || { echo "timed out waiting for $*"; screen; exit 1; }
  done
}
declare -A ms
timed() { # NAME PATTERN KEYS... (a second pattern may follow the first, joined by "&&")
  local name=$1 pattern=$2; shift 2
  local start end
  start=$(date +%s%N)
  tmux send-keys -t "$SESSION" "$@"
  DEADLINE=10 wait_for "${pattern%%&&*}" "${pattern##*&&}"
  end=$(date +%s%N)
  ms[$name]+="$(( (end - start) / 100000 )) "
}
stats() { # tenths of ms → "median x, worst y"
  local sorted=($(tr ' ' '\n' <<<"$1" | grep . | sort -n)) n
  n=${#sorted[@]}
  printf 'median %d.%d ms, worst %d.%d ms' $((sorted[n / 2] / 10)) $((sorted[n / 2] % 10)) \
    $((sorted[n - 1] / 10)) $((sorted[n - 1] % 10))
}
rss() { # KiB: VmRSS or VmHWM of the stanch process in the pane
  local pane time pid
  pane=$(tmux display -p -t "$SESSION" '#{pane_pid}')
  pid=$(ps -o pid= --ppid "$pane" | head -1 | tr -d ' ')
  awk -v k="$1:" '$1 == k { print $2 }' "/proc/$pid/status"
}

open_start=$(date +%s%N)
wait_for "q quit"
open_end=$(date +%s%N)
t_start=$(date +%s%N)
tmux send-keys -t "$SESSION" t
wait_for "^ *$last "
t_end=$(date +%s%N)
rss_first=$(rss VmRSS)
for _ in $(seq 1 "$ROUNDS"); do
  timed g "^ +1 .*incident.opened" g
  timed down "^ +28 " Down
  timed pgdn "^ +55 " NPage
  timed G "^ *$last " G
  timed pgup "^ *$((last - 53)) " PPage
  tmux send-keys -t "$SESSION" G; wait_for "^ *$last "
  tmux send-keys -t "$SESSION" /
  wait_for "filter: ▏"
  timed typed "filter: http.response&&^ *$response .*http.response" -l http.response
  tmux send-keys -t "$SESSION" BSpace
  wait_for "filter: http.respons▏"
  timed filter "filter: http.response▏&&^ *$response .*http.response" e
  tmux send-keys -t "$SESSION" Enter BSpace
  wait_for "Timeline · $last events"
done
rss_end=$(rss VmRSS)
# A filter with one match 2,000,000 events back: streamed, the screen answering meanwhile.
search_start=$(date +%s%N)
tmux send-keys -t "$SESSION" /
tmux send-keys -t "$SESSION" -l step.started
DEADLINE=10 wait_for "filter: step.started" "searching…| 1 of $last"
first_frame=$(date +%s%N)
wait_for "filter: step.started" " 1 of $last" "^ +2 .*step.started"
search_end=$(date +%s%N)
peak=$(rss VmHWM)
tmux send-keys -t "$SESSION" Enter q

# The TUI's own latency: key event read → frame written, as the event loop logs it.
DEADLINE=60 wait_for "is saved"
own() { # KEY (as logged: Down, PageDown, Char('G'), …) → "median x, worst y" of its frames
  grep -F "key $1 to frame in" "$LOG" | sed -E 's/.* in ([0-9]+) µs.*/\1/' |
    awk '{ print int($1 / 100) }' | tr '\n' ' '
}
# Harness baseline: the same send + capture polling against `cat` (the tty echoes at once).
tmux kill-session -t "$SESSION"
tmux new -d -s "$SESSION" -x 100 -y 30 "cat"
for i in $(seq 1 "$ROUNDS"); do timed harness "k$i" -l "k$i"; done

journal=$DATA/incidents/TIMELINE/journal.jsonl
printf 'timeline keys, %d events (%d MiB journal), %d rounds, 27 rows:\n' "$EVENTS" \
  $(( $(stat -c %s "$journal") / 1048576 )) "$ROUNDS"
printf '  in the TUI (key read → frame written, from its debug log):\n'
for k in Down PageDown "Char('G')" "Char('g')" PageUp "Char('e')"; do
  printf '    %-10s %s\n' "$k" "$(stats "$(own "$k")")"
done
printf '  end to end in tmux (send-keys → capture showing it):\n'
for k in down pgdn G g pgup filter typed; do printf '    %-10s %s\n' "$k" "$(stats "${ms[$k]}")"; done
printf '    harness alone (send-keys + capture polling, `cat` echoing): %s\n' "$(stats "${ms[harness]}")"
printf '    (filter: the last key of `http.response` typed after `/`; typed: all 13 keys at once)\n'
printf '  resume to first frame %d ms; t to the first Timeline rows %d ms (index built: %d MiB)\n' \
  $(( (open_end - open_start) / 1000000 )) $(( (t_end - t_start) / 1000000 )) \
  $(( $(stat -c %s "$DATA/incidents/TIMELINE/journal.idx") / 1048576 ))
printf '  filter with its one match %d events back: first frame %d ms, complete %d ms\n' \
  "$EVENTS" $(( (first_frame - search_start) / 1000000 )) $(( (search_end - search_start) / 1000000 ))
printf '  RSS: at the first Timeline frame %d KiB, after the rounds %d KiB (growth %d KiB); peak %d KiB\n' \
  "$rss_first" "$rss_end" $(( rss_end - rss_first )) "$peak"
