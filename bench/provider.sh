#!/usr/bin/env bash
# Issue 3's figures: generations through imagegate against a fast fake
# OpenAI upstream, beside nginx proxy_pass to the same upstream; then 10,000
# requests held against a 5-second upstream. Prints Markdown for RESULTS.md.
# usage: bench/provider.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
build=${1:-build}
workers=${WORKERS:-1}
duration=${DURATION:-5s}
conns=${CONNS:-64}
held=${HELD:-10000}
tmp=$(mktemp -d)
trap 'kill $(cat "$tmp"/*.pid 2>/dev/null) 2>/dev/null || true; wait 2>/dev/null; rm -rf "$tmp"' EXIT
ulimit -Hn 100000 2>/dev/null || true
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
# A held request holds two descriptors in imagegate (client and upstream
# sockets); where the open-files limit cannot hold them all, hold fewer and
# say so.
held_goal=$held
fd_room=$(( ($(ulimit -n) - 500) / 2 ))
[ "$held" -le "$fd_room" ] || held=$fd_room
p99() { awk '/^ +99%/ {print $2}'; }

start_fake_upstream "$tmp" "$workers"
start_gateway "$tmp" "$build" "$workers"
export IMAGEGATE_BENCH_KEY=$key
status=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -H "Authorization: Bearer $key" -d '{"prompt":"x","model":"dall-e-2","size":"256x256"}' \
    "127.0.0.1:$ig/v1/images/generations")
[ "$status" = 200 ] || { echo "imagegate did not generate ($status)"; cat "$tmp/ig.err"; exit 1; }

run() { wrk -t1 -c"$conns" -d"$duration" --latency -s bench/generate.lua "$1"; }
run "http://127.0.0.1:$px/v1/images/generations" >/dev/null   # warm-up
run "http://127.0.0.1:$ig/v1/images/generations" >/dev/null
n_all=() i_all=() np=() ip=() d_all=() n_cpu=() i_cpu=()
ngx=$(cat "$tmp/nginx.pid") igp=$(cat "$tmp/ig.pid")
# CPU per request from process times: nginx's share as a proxy is its CPU
# in the proxy run less what it spends serving the fake upstream (measured
# in the imagegate run, where it does only that). Steadier than req/s on a
# shared machine, where the other tenants take cores, not cycles.
hz=$(getconf CLK_TCK)
per_req_us() { awk -v t="$1" -v r="$2" -v s="${duration%s}" -v hz="$hz" 'BEGIN { printf "%.1f", t * 1e6 / hz / (r * s) }'; }
for r in 1 2 3; do
    n0=$(cpu_ticks "$ngx")
    run "http://127.0.0.1:$px/v1/images/generations" >"$tmp/n"
    n1=$(cpu_ticks "$ngx") i1=$(cpu_ticks "$igp")
    run "http://127.0.0.1:$ig/v1/images/generations" >"$tmp/i"
    n2=$(cpu_ticks "$ngx") i2=$(cpu_ticks "$igp")
    upstream_us=$(per_req_us $((n2 - n1)) "$(rps <"$tmp/i")")
    n_cpu+=("$(awk -v a="$(per_req_us $((n1 - n0)) "$(rps <"$tmp/n")")" -v b="$upstream_us" 'BEGIN { printf "%.1f", a - b }')")
    i_cpu+=("$(per_req_us $((i2 - i1)) "$(rps <"$tmp/i")")")
    wrk -t1 -c"$conns" -d"$duration" --latency -s bench/generate.lua \
        "http://127.0.0.1:$up/v1/images/generations" >"$tmp/d"
    n_all+=("$(rps <"$tmp/n")"); i_all+=("$(rps <"$tmp/i")")
    np+=("$(p99 <"$tmp/n")"); ip+=("$(p99 <"$tmp/i")"); d_all+=("$(p99 <"$tmp/d")")
done
nginx_rps=$(median "${n_all[@]}"); ig_rps=$(median "${i_all[@]}")
nginx_cpu=$(median "${n_cpu[@]}"); ig_cpu=$(median "${i_cpu[@]}")
# Latency at the same offered load for all three (no server saturated):
# each connection waits a random think time, 20 ms on average, between
# requests (bench/generate_paced.lua: exponential, so arrivals are not
# synchronised into bursts).
paced() { wrk -t1 -c"$conns" -d"$duration" --latency -s bench/generate_paced.lua "$1"; }
paced "http://127.0.0.1:$up/v1/images/generations" >"$tmp/pd"
paced "http://127.0.0.1:$px/v1/images/generations" >"$tmp/pn"
paced "http://127.0.0.1:$ig/v1/images/generations" >"$tmp/pi"
p50() { awk '/^ +50%/ {print $2}'; }
paced_line="$(p50 <"$tmp/pd") / $(p99 <"$tmp/pd"), $(p50 <"$tmp/pn") / $(p99 <"$tmp/pn"), $(p50 <"$tmp/pi") / $(p99 <"$tmp/pi") at $(rps <"$tmp/pd"), $(rps <"$tmp/pn"), $(rps <"$tmp/pi") req/s"
errors=$(grep -E "Non-2xx|Socket errors" "$tmp/i" || echo "none")
gens=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from generations').fetchone()[0])" "$tmp/data/imagegate.db")

# Held requests: a second upstream that answers after 5 s.
slow=$(free_port)
python3 bench/upstream.py serve "$slow" 5 &
echo $! >"$tmp/slow.pid"
kill "$(cat "$tmp/ig.pid")"; sleep 0.5
printf 'log:\n  access: false\nlimits:\n  max_connections: 30000\n  max_provider_generations: 30000\nbreaker:\n  failure_threshold: 0\nupstream:\n  deadline_ms: 60000\n' >"$tmp/ig2.yaml"
IMAGEGATE_ADMIN_KEY=$key OPENAI_API_KEY=sk-bench OPENAI_BASE_URL="http://127.0.0.1:$slow/v1" \
    "./$build/imagegate" serve --config "$tmp/ig2.yaml" --listen "127.0.0.1:$ig" \
    --data "$tmp/data2" --workers "$workers" >"$tmp/ig2.out" 2>"$tmp/ig2.err" &
igpid=$!
echo $igpid >"$tmp/ig.pid"
for _ in $(seq 100); do grep -q "listening on" "$tmp/ig2.out" 2>/dev/null && break; sleep 0.05; done
sleep 0.5
rss0=$(awk '/VmRSS/ {print $2}' /proc/$igpid/status)
wrk -t1 -c"$held" -d12s --timeout 20s -s bench/generate.lua \
    "http://127.0.0.1:$ig/v1/images/generations" >"$tmp/h" &
wpid=$!
peak=0
for _ in $(seq 22); do
    sleep 0.5
    v=$(awk '/VmRSS/ {print $2}' /proc/$igpid/status); [ "$v" -gt "$peak" ] && peak=$v
done
wait $wpid || true
held_done=$(awk '/requests in/ {print $1}' "$tmp/h")
held_err=$(grep -E "Non-2xx|Socket errors" "$tmp/h" || echo "none")
growth_kb=$((peak - rss0))
cat <<MD
## $(date -u +%Y-%m-%d) — generations through a network provider ($(nproc) cores, $workers worker(s), wrk -t1 -c$conns -d$duration, median of 3 interleaved rounds)

| measure | result | goal |
|---|---|---|
| nginx \`proxy_pass\` (upstream keep-alive) to the fake | $nginx_rps req/s (of: ${n_all[*]}) | baseline |
| imagegate \`POST /v1/images/generations\` (auth, validation, dispatch, parse, blob store, history) | $ig_rps req/s (of: ${i_all[*]}) = **$(ratio "$ig_rps" "$nginx_rps")× nginx**; errors: $errors; $gens generations recorded | ≥ 0.5× |
| CPU per request (process times; nginx's serving of the fake subtracted) | nginx as proxy $nginx_cpu us (of: ${n_cpu[*]}), imagegate $ig_cpu us (of: ${i_cpu[*]}) = $(ratio "$ig_cpu" "$nginx_cpu")× nginx's | |
| p99 latency at full speed: direct to the fake / through nginx / through imagegate | ${d_all[*]} / ${np[*]} / ${ip[*]} (per round; queueing at saturation) | imagegate adds ≤ 2 ms at 64 connections |
| p50 / p99 at a fixed offered load (64 connections, random think time averaging 20 ms): direct, nginx, imagegate | $paced_line | imagegate adds ≤ 2 ms (p99) |
| $held concurrent requests held against a 5-second upstream$([ "$held" = "$held_goal" ] || echo " (open-files limit $(ulimit -n): $held_goal would need $((2 * held_goal + 500)))") | $held_done completed in 12 s; errors: $held_err | zero errors |
| RSS while they were held | $((rss0 / 1024)) MB before, $((peak / 1024)) MB at peak: $(( growth_kb * 1024 / held )) bytes per in-flight request | ≤ 30 KB each |
MD
