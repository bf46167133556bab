#!/usr/bin/env bash
# Instructions per generation through a network provider, by thread kind
# (worker loop, thread pool), counted by callgrind: deterministic for a
# binary, whatever else the machine does. imagegate runs under valgrind
# against the same fake upstream as bench/provider.sh (nginx's fixed
# answer); counting is switched on after a warm-up and covers a fixed
# number of generations sent by 8 connections.
# With TENANT=1 the generations are a metered tenant's (moderation rules,
# rate limits, a reservation, day and month budgets, a charge with the
# record) instead of the operator's.
# usage: [TENANT=1] bench/callgrind.sh [BUILD_DIR] [REQUESTS]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
build=${1:-build}
requests=${2:-4000}
tmp=$(mktemp -d)
trap 'kill $(cat "$tmp"/*.pid 2>/dev/null) 2>/dev/null || true; wait 2>/dev/null; rm -rf "$tmp"' EXIT
start_fake_upstream "$tmp" 1
printf 'log:\n  access: false\nbreaker:\n  failure_threshold: 0\nthreadpool_size: 2\n' >"$tmp/ig.yaml"
if [ -n "${TENANT:-}" ]; then printf '%s\n' "$MODERATION_RULES" >>"$tmp/ig.yaml"; fi
IMAGEGATE_ADMIN_KEY=$key OPENAI_API_KEY=sk-bench OPENAI_BASE_URL="http://127.0.0.1:$up/v1" \
    valgrind --tool=callgrind --separate-threads=yes --instr-atstart=no \
    --callgrind-out-file="$tmp/cg.%p" \
    "./$build/imagegate" serve --config "$tmp/ig.yaml" --listen "127.0.0.1:$ig" \
    --data "$tmp/data" --workers 1 >"$tmp/ig.out" 2>"$tmp/ig.err" &
echo $! >"$tmp/ig.pid"
for _ in $(seq 600); do grep -q "listening on" "$tmp/ig.out" 2>/dev/null && break; sleep 0.1; done
gen() { # N requests over 8 connections, each connection its share
    python3 - "$ig" "$key" "$1" <<'PY'
import http.client, json, sys, threading
port, key, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
body = json.dumps({"prompt": "a lighthouse at dusk", "model": "dall-e-2", "size": "256x256",
                   "response_format": "b64_json"})
bad = []
def one(k):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for _ in range(k):
        c.request("POST", "/v1/images/generations", body,
                  {"Content-Type": "application/json", "Authorization": "Bearer " + key})
        r = c.getresponse(); r.read()
        if r.status != 200: bad.append(r.status)
ts = [threading.Thread(target=one, args=(n // 8,)) for _ in range(8)]
[t.start() for t in ts]; [t.join() for t in ts]
if bad: sys.exit("non-200 answers: %s" % bad[:5])
PY
}
if [ -n "${TENANT:-}" ]; then
    make_tenant
    key=$tenant
fi
gen 400                                   # warm-up, not counted
pid=$(cat "$tmp/ig.pid")
callgrind_control -i on "$pid" >/dev/null 2>&1
gen "$requests"
callgrind_control -d "$pid" >/dev/null 2>&1
callgrind_control -i off "$pid" >/dev/null 2>&1
counted=$(( requests / 8 * 8 ))
[ -z "${CG_KEEP:-}" ] || { mkdir -p "$CG_KEEP"; cp "$tmp"/cg.*.1-* "$CG_KEEP"/; }  # for callgrind_annotate
# Each thread's dump (functions that ran while counting): the loop's
# handles requests, the pool's runs the store step; their totals divided
# by the generations counted.
loop=0 pool=0
for f in "$tmp"/cg.*.1-*; do
    [ -s "$f" ] || continue
    total=$(awk '/^(summary|totals):/ {print $2; exit}' "$f")
    [ -n "$total" ] || continue
    if grep -qE "ig_router_handle|ig_app_handle" "$f"; then loop=$((loop + total))
    elif grep -qE "store_batch_run|finish_batch_run" "$f"; then pool=$((pool + total)); fi
done
echo "callgrind, $counted generations after a 400-generation warm-up, 8 connections, 1 worker, 2 pool threads ($build):"
awk -v l="$loop" -v p="$pool" -v n="$counted" 'BEGIN { printf "  worker loop %.1fk, thread pool %.1fk instructions per generation\n", l / n / 1000, p / n / 1000 }'
