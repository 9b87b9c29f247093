#!/usr/bin/env bash
# Cost of creating (and then reopening) an incident: `stanch run RUNBOOK --headless` on a
# one-step manual runbook, N times with fresh ids, then N times on the existing ids.
# Usage: bench/incident-create.sh [STANCH_BINARY...] (default: target/release/stanch)
# Creating stages the incident under a hidden name, syncs `incident.opened` and renames it
# into place (src/store.rs `publish`), then reopens it; this measures what that costs.
set -euo pipefail
N=${N:-30}
bins=("$@")
[ "${#bins[@]}" -gt 0 ] || bins=(target/release/stanch)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '[runbook]\nid = "m"\ntitle = "M"\n\n[[steps]]\nid = "legal"\nphase = "notify"\nmanual = ["Counsel informed"]\n' >"$work/m.toml"
ms() { echo $(( ($2 - $1) / (N * 1000000) )); }
for bin in "${bins[@]}"; do
  bin=$(realpath "$bin")
  rm -rf "$work/data"
  start=$(date +%s%N)
  for i in $(seq 1 "$N"); do
    STANCH_DATA_DIR="$work/data" "$bin" run "$work/m.toml" --headless --incident "I-$i" >/dev/null
  done
  mid=$(date +%s%N)
  for i in $(seq 1 "$N"); do
    STANCH_DATA_DIR="$work/data" "$bin" run "$work/m.toml" --headless --incident "I-$i" >/dev/null
  done
  end=$(date +%s%N)
  echo "$bin: create+run $(ms "$start" "$mid") ms, reopen+run $(ms "$mid" "$end") ms (mean of $N)"
done
