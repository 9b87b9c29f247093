#!/usr/bin/env bash
# Export a 100,000-event incident with the real binary in each format and report wall time
# and peak memory (max RSS) against the journal's size. Goals: < 1 s and <= 3x the journal.
#
#   bench/export-bench.sh            # then see README section bench-export
#
# The synthetic incident comes from benches/export.rs (`--write-journal`); the in-process
# timings of each stage are `cargo bench --bench export`.
set -euo pipefail
cd "$(dirname "$0")/.."

data="$PWD/target/export-bench-data"
rm -rf "$data"
cargo bench --quiet --bench export -- --write-journal "$data" >/dev/null
cargo build --quiet --release --bin stanch
journal="$data/incidents/BENCH-100K/journal.jsonl"

python3 - "$journal" "$data" <<'PY'
import os, resource, subprocess, sys, time
journal, data = sys.argv[1], sys.argv[2]
size = os.path.getsize(journal)
events = sum(1 for _ in open(journal, "rb"))
print(f"journal: {events} events, {size / 2**20:.1f} MiB")
print(f"{'format':<6} {'wall s':>7} {'max RSS MiB':>12} {'RSS/journal':>12} {'output MiB':>11}")
env = dict(os.environ, STANCH_DATA_DIR=data)
worst = 0.0
for fmt in ["md", "html", "json"]:
    out = f"target/export-bench.{fmt}"
    best_wall, rss = None, 0
    for _ in range(3):
        # Each run in its own child so ru_maxrss is that run's peak (children's max so far).
        t = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)  # the "wrote …" line
            os.execve("target/release/stanch", ["stanch", "export", "BENCH-100K", "--format", fmt, "-o", out], env)
        _, status, usage = os.wait4(pid, 0)
        wall = time.perf_counter() - t
        assert os.waitstatus_to_exitcode(status) == 0, f"export {fmt} failed"
        best_wall = wall if best_wall is None else min(best_wall, wall)
        rss = max(rss, usage.ru_maxrss * 1024)
    ratio = rss / size
    worst = max(worst, ratio)
    print(f"{fmt:<6} {best_wall:>7.2f} {rss / 2**20:>12.1f} {ratio:>12.2f} {os.path.getsize(out) / 2**20:>11.1f}")
PY
