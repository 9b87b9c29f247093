#!/usr/bin/env bash
# Team mode on a real PostgreSQL 15 started for the run (durable: fsync and synchronous commit
# on; unix-socket logins, so TLS is not in these figures): appends/s with 8 responders into one
# chain, a teammate's event visible to LISTENing followers (p50/p95, 4 responders), catch-up of
# 100,000 events into an empty mirror, the offline merge of a 2,000-event pending sub-chain.
# Goals: >= 1,000 appends/s; p95 < 50 ms.
#
#   bench/team-bench.sh                      # then see README "Team mode"
#   bench/team-bench.sh --appends 200 --samples 100 --catchup 20000   # a quicker run
#   bench/team-bench.sh --only merge --merge 2000                       # one part
#
# Needs pg_config/initdb/pg_ctl (Debian `postgresql`) and openssl, as the tests do. The client
# is built in the dev profile (dependencies at opt-level 1): the figures are bound by the
# server and the round trips, and a release build of the whole tree costs minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --quiet --profile dev --bench team -- --bench "$@"
