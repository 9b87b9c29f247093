#!/usr/bin/env bash
# Generate a synthetic incident of EVENTS events whose foreach step has ITEMS exchanges
# (request + response each), written by the journal's own writer (real chain hashes), for the
# scale benchmarks (issue 13) and for anyone reproducing their figures:
#
#   bench/gen-incident.sh EVENTS ITEMS [DATA_DIR] [ID] [RUNBOOK]
#   bench/gen-incident.sh 2000000 999000            # target/scale-data/incidents/SCALE
#   STANCH_DATA_DIR=target/scale-data stanch verify SCALE
#
# Prints the journal's path, event count and size. See examples/gen_incident.rs for the shape.
set -euo pipefail
cd "$(dirname "$0")/.."

events=${1:?usage: bench/gen-incident.sh EVENTS ITEMS [DATA_DIR] [ID]}
items=${2:?usage: bench/gen-incident.sh EVENTS ITEMS [DATA_DIR] [ID]}
data=${3:-$PWD/target/scale-data}
id=${4:-SCALE}
runbook=${5:-}   # a runbook file to name in the incident, so `stanch resume` opens it (or GEN_RUNBOOK)

rm -rf "${data:?}/incidents/$id"
cargo build --quiet --release --example gen_incident
journal=$(GEN_RUNBOOK=${runbook:-${GEN_RUNBOOK:-}} target/release/examples/gen_incident "$data" "$id" "$events" "$items")
lines=$(wc -l <"$journal")
bytes=$(stat -c %s "$journal")
echo "$journal: $lines events, $((bytes / 1048576)) MiB (STANCH_DATA_DIR=$data, id $id)"
