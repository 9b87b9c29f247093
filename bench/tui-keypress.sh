#!/usr/bin/env bash
# Screen response to a key press while 20 requests hang: start 20 steps against a server that
# accepts connections and never answers, then switch views N times and time each switch
# from `tmux send-keys` to the first capture that shows the new view.
#
#   bash bench/tui-keypress.sh [PRESSES]     (default 40; builds target/release/stanch first)
#   STEPS=0 bash bench/tui-keypress.sh       (baseline: nothing hanging, same machine)
#
# Includes tmux's send and capture round trips (~2–5 ms): an upper bound on the TUI's own.
set -euo pipefail
cd "$(dirname "$0")/.."
PRESSES=${1:-40}
STEPS=${STEPS:-20}
cargo build --release --quiet
BIN=$PWD/target/release/stanch
WORK=$(mktemp -d)
SESSION=stanch-keys-$$
PORT_FILE=$WORK/port
python3 - "$PORT_FILE" <<'PY' &
import socket, sys, threading, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(64)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
held = []
while True:
    c, _ = s.accept(); held.append(c)   # read nothing, answer nothing
PY
SERVER=$!
trap 'tmux kill-session -t $SESSION 2>/dev/null; kill $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 1 50); do [ -s "$PORT_FILE" ] && break; sleep 0.05; done
PORT=$(cat "$PORT_FILE")
tmux new -d -s "$SESSION" -x 100 -y 30 \
  "env STANCH_DATA_DIR=$WORK/data $BIN run bench/fixtures/hang.toml --incident KEYS --responder bench --set url=http://127.0.0.1:$PORT; sleep 600"
until tmux capture-pane -p -t "$SESSION" | grep -q "q quit"; do sleep 0.05; done
for _ in $(seq 1 "$STEPS"); do tmux send-keys -t "$SESSION" Enter j; done
if (( STEPS > 0 )); then
  until tmux capture-pane -p -t "$SESSION" | grep -q "$STEPS running"; do sleep 0.05; done
fi
ms=()
for i in $(seq 1 "$PRESSES"); do
  if (( i % 2 )); then key=t; want="Timeline ·"; else key=b; want="HANG"; fi
  start=$(date +%s%N)
  tmux send-keys -t "$SESSION" "$key"
  until tmux capture-pane -p -t "$SESSION" | grep -q "$want"; do :; done
  end=$(date +%s%N)
  ms+=($(( (end - start) / 100000 )))
  sleep 0.05
done
if (( STEPS > 0 )); then
  tmux capture-pane -p -t "$SESSION" | grep -q "$STEPS running" || { echo "steps stopped hanging?"; exit 1; }
fi
sorted=($(printf '%s\n' "${ms[@]}" | sort -n))
median=${sorted[$(( PRESSES / 2 ))]}
p95=${sorted[$(( PRESSES * 95 / 100 ))]}
worst=${sorted[$(( PRESSES - 1 ))]}
printf "key press to screen, $STEPS requests hanging (%d presses): median %d.%d ms, p95 %d.%d ms, worst %d.%d ms\n" \
  "$PRESSES" $((median / 10)) $((median % 10)) $((p95 / 10)) $((p95 % 10)) $((worst / 10)) $((worst % 10))
