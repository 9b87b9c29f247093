#!/usr/bin/env bash
# Launch to first complete frame of the TUI with the bundled runbook, in a tmux pty, and the
# process's peak RSS over a session that visits every view.
#
#   bash bench/tui-launch.sh [RUNS]        (default 20; builds target/release/stanch first)
#
# "First complete frame": the status bar (incident id + journal position) and the key hints
# are on screen. Timed from `tmux respawn-pane` to the first capture showing both; tmux's own
# capture round trip (~1–3 ms) is included, so figures are slight overestimates.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-20}
cargo build --release --quiet
BIN=$PWD/target/release/stanch
RUNBOOK=$PWD/runbooks/elasticsearch-exposure.toml
WORK=$(mktemp -d)
SESSION=stanch-launch-$$
trap 'tmux kill-session -t $SESSION 2>/dev/null; rm -rf "$WORK"' EXIT
tmux new -d -s "$SESSION" -x 100 -y 30 "sleep 600"
ms=()
rss=()
for i in $(seq 1 "$RUNS"); do
  data=$WORK/data-$i
  # Secrets of at least 8 bytes (shorter ones are refused at load, naming the secret).
  cmd="env STANCH_DATA_DIR=$data STANCH_ES_API_KEY=bench-es-key STANCH_OAUTH_SECRET=bench-oauth \
STANCH_FORUM_TOKEN=bench-forum STANCH_ALEXA_CLIENT_SECRET=bench-alexa \
STANCH_GOOGLE_CLIENT_SECRET=bench-google STANCH_IFTTT_CLIENT_SECRET=bench-ifttt \
/usr/bin/time -f %M -o $WORK/rss-$i $BIN run $RUNBOOK --incident BENCH-$i --responder bench \
--set es_url=http://127.0.0.1:9 --set auth_url=http://127.0.0.1:9 \
--set forum_url=http://127.0.0.1:9 --set status_webhook_url=http://127.0.0.1:9; sleep 600"
  start=$(date +%s%N)
  tmux respawn-pane -k -t "$SESSION" "$cmd"
  while :; do
    screen=$(tmux capture-pane -p -t "$SESSION")
    if grep -q "BENCH-$i" <<<"$screen" && grep -q "q quit" <<<"$screen" && grep -q "#1 " <<<"$screen"; then
      break
    fi
  done
  end=$(date +%s%N)
  ms+=($(( (end - start) / 100000 )))   # tenths of a millisecond
  # Visit every view, then quit: peak RSS covers a real session, not just the first frame.
  for k in t v d b j j Enter; do tmux send-keys -t "$SESSION" "$k"; sleep 0.05; done
  sleep 0.3
  tmux send-keys -t "$SESSION" q
  for _ in $(seq 1 100); do [ -s "$WORK/rss-$i" ] && break; sleep 0.05; done
  rss+=($(tail -1 "$WORK/rss-$i"))
done
# Harness baseline: the same respawn + polling, for a program that prints the markers at once.
base=()
for i in $(seq 1 "$RUNS"); do
  start=$(date +%s%N)
  tmux respawn-pane -k -t "$SESSION" "printf 'BASE-$i #1 q quit'; sleep 600"
  until tmux capture-pane -p -t "$SESSION" | grep -q "BASE-$i #1 q quit"; do :; done
  end=$(date +%s%N)
  base+=($(( (end - start) / 100000 )))
done
bsorted=($(printf '%s\n' "${base[@]}" | sort -n))
bmedian=${bsorted[$(( RUNS / 2 ))]}
sorted=($(printf '%s\n' "${ms[@]}" | sort -n))
median=${sorted[$(( RUNS / 2 ))]}
worst=${sorted[$(( RUNS - 1 ))]}
rsorted=($(printf '%s\n' "${rss[@]}" | sort -n))
printf 'launch to first complete frame (%d runs): median %d.%d ms, worst %d.%d ms\n' \
  "$RUNS" $((median / 10)) $((median % 10)) $((worst / 10)) $((worst % 10))
printf 'harness baseline (printf of the same markers): median %d.%d ms; load average %s\n' \
  $((bmedian / 10)) $((bmedian % 10)) "$(cut -d' ' -f1-3 /proc/loadavg)"
printf 'peak RSS over a session (all views, one step run): median %d KiB, worst %d KiB\n' \
  "${rsorted[$(( RUNS / 2 ))]}" "${rsorted[$(( RUNS - 1 ))]}"
