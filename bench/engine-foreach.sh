#!/usr/bin/env bash
# Benchmark (b): 10,000 RFC 7009 revocations (POST /oauth/revoke, form body, HTTP Basic) at
# concurrency 32 against nginx on loopback. stanch: `stanch run --headless` of a runbook whose
# first step captures the token list and whose second is a foreach over it, every request and
# response journalled (group commit). curl: `curl --parallel --parallel-max 32 -K FILE` with the
# same 10,000 requests. Wall time (median of 9 runs each, interleaved) and peak RSS
# (`/usr/bin/time -v`).
#
#   bench/engine-foreach.sh        (figures in README section bench-engine)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/engine-lib.sh

N=10000
RUNS=9
export NGINX_PORT="${NGINX_PORT:-18482}"
work="$PWD/target/engine-bench-foreach"
rm -rf "$work" && mkdir -p "$work/www"
trap stop_nginx EXIT
ensure_release
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
echo '{"ok":true}' > "$work/www/ping.json"

python3 - "$work" "$N" "$NGINX_PORT" <<'PY'
import json, sys
work, n, port = sys.argv[1], int(sys.argv[2]), sys.argv[3]
url = f"http://127.0.0.1:{port}"
tokens = [{"token": f"rt_{i:08x}{'ab' * 16}", "token_type": "refresh_token"} for i in range(n)]
json.dump({"client_id": "alexa-skill", "count": n, "tokens": tokens}, open(f"{work}/www/tokens.json", "w"))
open(f"{work}/revoke.toml", "w").write(f'''[runbook]
id = "bench-revoke"
title = "{n} RFC 7009 revocations"
[secrets.oauth]
env = "BENCH_OAUTH_SECRET"
[targets.auth]
url = "{url}"
auth = {{ basic = {{ user = "stanch-responder", password = "{{{{ secrets.oauth }}}}" }} }}

[[steps]]
id = "list"
phase = "eradicate"
http = {{ target = "auth", method = "GET", path = "/tokens.json" }}
capture = {{ tokens = "response.json.tokens" }}

[[steps]]
id = "revoke"
phase = "eradicate"
needs = ["list"]
foreach = "vars.tokens"
concurrency = 32
http = {{ target = "auth", method = "POST", path = "/oauth/revoke", form = {{ token = "{{{{ item.token }}}}", token_type_hint = "{{{{ item.token_type }}}}" }} }}
expect = ["response.status == 200"]
''')
# `next` separates the requests (a trailing one would start an empty, URL-less request).
entries = [f'url = "{url}/oauth/revoke"\nuser = "stanch-responder:bench-secret"\n'
           f'data = "token={t["token"]}&token_type_hint=refresh_token"\noutput = "/dev/null"\n'
           for t in tokens]
open(f"{work}/curl.conf", "w").write("next\n".join(entries))
PY
start_nginx "$work"

python3 - "$work" "$N" "$RUNS" <<'PY'
import json, os, re, statistics, subprocess, sys, time
work, n, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
stanch = os.path.abspath("target/release/stanch")
env = dict(os.environ, STANCH_DATA_DIR=f"{work}/data", BENCH_OAUTH_SECRET="bench-secret")
def once(name, argv):
    t = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-v"] + argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    took = time.perf_counter() - t
    err = p.stderr.decode()
    if p.returncode != 0:
        sys.exit(f"{name} failed: {p.stdout.decode()[-600:]} {err[-600:]}")
    return took, int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", err).group(1)) / 1024
def journalled(r):
    events = [json.loads(l) for l in open(f"{work}/data/incidents/R{r}/journal.jsonl")]
    revoke = [e for e in events if e.get("step") == "revoke"]
    assert sum(1 for e in revoke if e["kind"] == "http.request") == n
    assert sum(1 for e in revoke if e["kind"] == "http.response" and e["data"].get("status") == 200) == n
    assert revoke[-1]["kind"] == "step.succeeded"
runners = [
    ("stanch run --headless (foreach, journalled)",
     lambda r: [stanch, "run", f"{work}/revoke.toml", "--headless", "--incident", f"R{r}"], journalled),
    ("curl --parallel --parallel-max 32 -K",
     lambda r: ["curl", "-s", "--parallel", "--parallel-max", "32", "-K", f"{work}/curl.conf"], None),
]
# Interleaved (stanch, curl, stanch, curl, ...) so drift in the machine's load hits both alike.
results = {name: ([], []) for name, _, _ in runners}
for r in range(runs):
    for name, argv, check in runners:
        took, rss = once(name, argv(r))
        results[name][0].append(took)
        results[name][1].append(rss)
        if check:
            check(r)
print(f"{n} revocations at concurrency 32 against nginx on 127.0.0.1, {runs} runs each, interleaved")
for name, (times, rss) in results.items():
    print(f"{name:<46} median {statistics.median(times):6.2f} s   best {min(times):6.2f} s   peak RSS {max(rss):6.1f} MiB")
PY
