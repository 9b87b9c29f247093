#!/usr/bin/env bash
# A foreach in team mode against the file journal, side by side: the bundled drill headless
# (`stanch drill --auto`, 43 steps, its foreach steps revoke and introspect thousands of
# tokens) on the file journal and with `--team URL` on a real PostgreSQL 15 started for the
# run (durable: fsync and synchronous commit on; unix-socket login, so TLS is not in the
# figure), runs interleaved. Goal: the team drill within ~3x of the file journal.
#
#   bash bench/team-foreach.sh [RUNS]    # default 3 runs each
#   KEEP=1 …                       # keep the logs, journals and server log (path printed)
#   STANCH_BIN=/path/to/stanch …   # measure that binary instead of building this tree
#
# Release build. Needs pg_config/initdb/pg_ctl (Debian `postgresql`), as the tests do.
set -euo pipefail

runs="${1:-3}"
cd "$(dirname "$0")/.."
if [[ -n "${STANCH_BIN:-}" ]]; then
    bin="$STANCH_BIN" # another build (say, before a change) against the same figures
else
    cargo build --release --quiet --bin stanch
    bin="$PWD/target/release/stanch"
fi
bindir="$(pg_config --bindir)"
work="$(mktemp -d)"
as_server() {
    if [[ "$(id -u)" == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}
cleanup() {
    as_server "$bindir/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null 2>&1 || true
    if [[ -n "${KEEP:-}" ]]; then echo "kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
if [[ "$(id -u)" == 0 ]]; then chown postgres:postgres "$work"; fi

as_server "$bindir/initdb" -D "$work/pg" -U postgres --auth-local=trust --auth-host=reject \
    -E UTF8 --no-instructions >/dev/null
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >>"$work/pg/postgresql.conf" <<EOF
listen_addresses = ''
port = $port
unix_socket_directories = '$work'
shared_buffers = 32MB
EOF
as_server "$bindir/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w -t 60 start >/dev/null
sock=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$work")
as_server "$bindir/psql" -h "$work" -p "$port" -U postgres -qc "CREATE DATABASE bench" >/dev/null
admin="postgresql://postgres@$sock:$port/bench"
team="postgresql://alice@$sock:$port/bench"
"$bin" team init "$admin" >/dev/null
echo "not-a-real-password" | "$bin" team add alice --role commander --password-stdin --team "$admin" >/dev/null

echo "== stanch drill --auto: file journal vs --team (loopback PostgreSQL, durable), $runs runs each"
echo "   load before: $(uptime | sed 's/.*load average: //')"
# CPU seconds the server has used so far: the postmaster, its live children, and (through
# the postmaster's cutime/cstime) the backends it has reaped.
pm=$(head -1 "$work/pg/postmaster.pid")
server_cpu() {
    local ticks=0 p
    for p in "$pm" $(pgrep -P "$pm"); do
        read -r -a f <<<"$(cut -d' ' -f14-17 "/proc/$p/stat" 2>/dev/null || echo 0 0 0 0)"
        ticks=$((ticks + f[0] + f[1] + f[2] + f[3]))
    done
    echo "$ticks"
}
hz=$(getconf CLK_TCK)
file_times=()
team_times=()
team_cpu=0
for i in $(seq "$runs"); do
    start=$(date +%s.%N)
    STANCH_DATA_DIR="$work/file-$i" "$bin" drill --auto >"$work/file-$i.log"
    end=$(date +%s.%N)
    file_times+=("$(echo "$end - $start" | bc)")
    before=$(server_cpu)
    start=$(date +%s.%N)
    STANCH_DATA_DIR="$work/team-$i" "$bin" drill --auto --incident "BENCH-$i" --team "$team" \
        >"$work/team-$i.log"
    end=$(date +%s.%N)
    team_times+=("$(echo "$end - $start" | bc)")
    team_cpu=$((team_cpu + $(server_cpu) - before))
done
median() { printf '%s\n' "$@" | sort -n | awk '{ t[NR] = $1 } END { printf "%.2f", t[int((NR + 1) / 2)] }'; }
events=$(as_server "$bindir/psql" -h "$work" -p "$port" -U postgres -d bench -Atc \
    "SELECT count(*) FROM stanch.event WHERE incident_id = 'BENCH-1'")
file_events=$(wc -l <"$work/file-1/incidents/"*/journal.jsonl)
f=$(median "${file_times[@]}")
t=$(median "${team_times[@]}")
echo "file journal: ${file_times[*]} s (median $f s, $file_events events)"
echo "team (--team): ${team_times[*]} s (median $t s, $events events on the server)"
echo "ratio team/file: $(echo "scale=2; $t / $f" | bc)x"
echo "server CPU per team run: $(echo "scale=2; $team_cpu / $hz / $runs" | bc) s (PostgreSQL shares the 2 cores)"
echo "   load after: $(uptime | sed 's/.*load average: //')"
echo "the foreach steps (team-1 | file-1):"
paste -d'|' <(grep -E "^ok +(revoke|verify)-alexa" "$work/team-1.log" | awk '{print $2, $3}') \
    <(grep -E "^ok +(revoke|verify)-alexa" "$work/file-1.log" | awk '{print $3}') | sed 's/^/  /'
# The team run's mirror verifies like any local journal.
STANCH_DATA_DIR="$work/team-1" "$bin" verify BENCH-1 >/dev/null && echo "team-1 mirror verifies"
