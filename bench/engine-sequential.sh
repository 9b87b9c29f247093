#!/usr/bin/env bash
# Benchmark (a): 200 sequential, asserted and captured GETs against nginx on loopback.
# stanch runs them as 200 runbook steps (`stanch run --headless`, every exchange journalled and
# fsync'd) and, second, as one foreach step at concurrency 1; hurl 8.0.1 runs the equivalent
# .hurl file. Prints the median and best of 11 runs of each (interleaved), in milliseconds.
#
#   bench/engine-sequential.sh        (figures in README section bench-engine)
#
# Installs nginx (apt) and hurl 8.0.1 (cargo; needs libxml2-dev libcurl4-openssl-dev
# pkg-config libclang-dev) when missing; without hurl it compares with curl reading a -K config instead.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/engine-lib.sh

N=200
RUNS=11
export NGINX_PORT="${NGINX_PORT:-18481}"
work="$PWD/target/engine-bench-seq"
rm -rf "$work" && mkdir -p "$work"
trap stop_nginx EXIT

if ! command -v hurl >/dev/null 2>&1; then
  echo "hurl missing: cargo install hurl --version 8.0.1 --locked (a few minutes)" >&2
  # hurl links libcurl and libxml2; its libxml binding runs bindgen, which needs libclang.
  if command -v apt-get >/dev/null 2>&1; then
    apt-get install -y -qq libxml2-dev libcurl4-openssl-dev pkg-config libclang-dev >/dev/null 2>&1 || true
  fi
  cargo install hurl --version 8.0.1 --locked >/dev/null 2>&1 || echo "hurl did not build here; comparing with curl only" >&2
fi
ensure_release
mkdir -p "$work/www"
echo '{"ok":true}' > "$work/www/ping.json"
echo '{"ok":true,"count":2400000,"cluster_name":"metrics-prod"}' > "$work/www/item.json"
start_nginx "$work"
url="http://127.0.0.1:$NGINX_PORT"

python3 - "$work" "$url" "$N" <<'PY'
import sys
work, url, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
steps = "".join(
    f'''
[[steps]]
id = "get-{i:03}"
phase = "confirm"
http = {{ target = "svc", method = "GET", path = "/item.json" }}
expect = ["response.status == 200", "response.json.ok"]
capture = {{ count_{i:03} = "response.json.count" }}
''' for i in range(n))
head = f'''[runbook]
id = "bench-sequential"
title = "{n} sequential GETs"
[targets.svc]
url = "{url}"
'''
open(f"{work}/steps.toml", "w").write(head + steps)
open(f"{work}/foreach.toml", "w").write(head + f'''
[[steps]]
id = "each"
phase = "confirm"
foreach = "range({n})"
concurrency = 1
http = {{ target = "svc", method = "GET", path = "/item.json" }}
expect = ["response.status == 200", "response.json.ok"]
''')
with open(f"{work}/bench.hurl", "w") as f:
    for i in range(n):
        f.write(f'''GET {url}/item.json
HTTP 200
[Captures]
count_{i:03}: jsonpath "$.count"
[Asserts]
jsonpath "$.ok" == true

''')
with open(f"{work}/curl.conf", "w") as f:
    for i in range(n):
        f.write(f'url = "{url}/item.json"\noutput = "/dev/null"\n')
PY

python3 - "$work" "$N" "$RUNS" <<'PY'
import json, os, shutil, statistics, subprocess, sys, time
work, n, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
stanch = os.path.abspath("target/release/stanch")
data = f"{work}/data"
env = dict(os.environ, STANCH_DATA_DIR=data)
def journalled(prefix):
    def check(r):
        events = [json.loads(l) for l in open(f"{data}/incidents/{prefix}{r}/journal.jsonl")]
        responses = sum(1 for e in events if e["kind"] == "http.response")
        assert responses == n, f"{responses} responses journalled"
    return check
runners = [
    ("stanch run --headless (200 steps)",
     lambda r: [stanch, "run", f"{work}/steps.toml", "--headless", "--incident", f"S{r}"], env, journalled("S")),
    ("stanch run --headless (foreach, concurrency 1)",
     lambda r: [stanch, "run", f"{work}/foreach.toml", "--headless", "--incident", f"F{r}"], env, journalled("F")),
]
if shutil.which("hurl"):
    version = subprocess.run(["hurl", "--version"], stdout=subprocess.PIPE).stdout.decode().split()[1]
    runners.append((f"hurl {version}", lambda r: ["hurl", "--test", f"{work}/bench.hurl"], None, None))
runners.append(("curl -K (no asserts, no journal)", lambda r: ["curl", "-s", "-K", f"{work}/curl.conf"], None, None))
# Interleaved (each runner once per round) so drift in the machine's load hits all alike.
times = {name: [] for name, *_ in runners}
for r in range(runs):
    for name, argv, run_env, check in runners:
        t = time.perf_counter()
        p = subprocess.run(argv(r), env=run_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        times[name].append((time.perf_counter() - t) * 1000)
        if p.returncode != 0:
            sys.exit(f"{name} failed: {p.stdout.decode()[-400:]} {p.stderr.decode()[-400:]}")
        if check:
            check(r)
print(f"{n} sequential GETs against nginx on 127.0.0.1, {runs} runs each, interleaved")
for name, ts in times.items():
    print(f"{name:<46} median {statistics.median(ts):7.1f} ms   best {min(ts):7.1f} ms")
PY
