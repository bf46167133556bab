#!/usr/bin/env bash
# imagegate beside nginx on this machine, same settings, one run.
# usage: bench/run.sh [BUILD_DIR]   (make bench installs nginx and wrk first)
#
# Both servers get WORKERS worker threads/processes (default 1) and wrk the
# remaining core, keep-alive on, access logs off on both. Prints a block of
# Markdown for bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
build=${1:-build}
workers=${WORKERS:-1}
duration=${DURATION:-5s}
conns=${CONNS:-64}
wrk_threads=${WRK_THREADS:-1}
tmp=$(mktemp -d)
trap 'kill $(cat "$tmp"/*.pid 2>/dev/null) 2>/dev/null || true; rm -rf "$tmp"' EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

lat() { awk '/^    Latency/ {print $2" (avg) "$4" (stdev)"}'; }

# nginx
nport=$(free_port)
sed -e "s#@DIR@#$tmp#g" -e "s#@PORT@#$nport#g" -e "s#@WORKERS@#$workers#g" bench/nginx.conf.in >"$tmp/nginx.conf"
nginx -p "$tmp" -c "$tmp/nginx.conf" -g 'daemon off;' &
echo $! >"$tmp/nginx.pid.run"
# imagegate
iport=$(free_port)
printf 'log:\n  access: false\nlimits:\n  max_connections: 20000\n' >"$tmp/ig.yaml"
t0=$(date +%s%N)
IMAGEGATE_ADMIN_KEY=bench-admin-key-0123456789 "./$build/imagegate" serve --config "$tmp/ig.yaml" \
    --listen "127.0.0.1:$iport" --data "$tmp/data" --workers "$workers" >"$tmp/ig.out" 2>"$tmp/ig.err" &
igpid=$!
echo $igpid >"$tmp/ig.pid"
for _ in $(seq 100); do grep -q "listening on" "$tmp/ig.out" 2>/dev/null && break; sleep 0.02; done
t1=$(date +%s%N)
ready_line=$(grep "listening on" "$tmp/ig.out")
for _ in $(seq 100); do curl -s "127.0.0.1:$nport/" >/dev/null && break; sleep 0.05; done
sleep 0.5
idle_rss=$(awk '/VmRSS/ {printf "%.1f", $2/1024}' /proc/$igpid/status)

run_wrk() { # url [script]
    local extra=()
    [ -n "${2:-}" ] && extra=(-s "$2")
    taskset -c 1 wrk -t"$wrk_threads" -c"$conns" -d"${DURATION:-$duration}" --latency "${extra[@]}" "$1"
}
# Pin the servers to core 0 and wrk to core 1 when there are two cores.
taskset -pc 0 $igpid >/dev/null 2>&1 || true
for p in $(pgrep -f "nginx: worker" || true); do taskset -pc 0 "$p" >/dev/null 2>&1 || true; done

# Warm both up, then ROUNDS interleaved rounds (nginx, healthz, rejection):
# the machine is shared, so interleaving and medians keep the ratios honest.
DURATION=2s run_wrk "http://127.0.0.1:$nport/" >/dev/null
DURATION=2s run_wrk "http://127.0.0.1:$iport/healthz" >/dev/null
rounds=${ROUNDS:-3}
n_all=() h_all=() r_all=()
for r in $(seq "$rounds"); do
    n_all+=("$(run_wrk "http://127.0.0.1:$nport/" | tee "$tmp/n2" | rps)")
    h_all+=("$(run_wrk "http://127.0.0.1:$iport/healthz" | tee "$tmp/i2" | rps)")
    r_all+=("$(run_wrk "http://127.0.0.1:$iport/v1/images/generations" bench/auth_reject.lua | tee "$tmp/i3" | rps)")
done
nginx_rps=$(median "${n_all[@]}")
health_rps=$(median "${h_all[@]}")
reject_rps=$(median "${r_all[@]}")
# The same 401 as it arrives on the wire, to prove the path is the rejection.
status=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -H 'Authorization: Bearer ig_NotARealKeyNotARealKeyNotARealKeyNotARealK' \
    -d '{"prompt":"x"}' "127.0.0.1:$iport/v1/images/generations")
conn_line=$(python3 bench/idle_conns.py "$iport" "$igpid" 10000)
render=$(taskset -c 1 "./$build/render_bench")

cat <<MD
## $(date -u +%Y-%m-%d) — $(nproc) cores, $workers worker(s) each, wrk -t$wrk_threads -c$conns -d$duration, median of $rounds interleaved rounds (servers on core 0, wrk on core 1)

| measure | result | goal |
|---|---|---|
| nginx \`return 200\` | $nginx_rps req/s (median of: ${n_all[*]}) | baseline |
| imagegate \`GET /healthz\` | $health_rps req/s (of: ${h_all[*]}) = **$(ratio "$health_rps" "$nginx_rps")× nginx** | ≥ 0.8× |
| imagegate auth rejection (\`POST /v1/images/generations\`, unknown key → $status) | $reject_rps req/s (of: ${r_all[*]}) = **$(ratio "$reject_rps" "$nginx_rps")× nginx** | ≥ 0.6× |
| idle RSS after start | $idle_rss MB | ≤ 15 MB |
| 10,000 idle keep-alive connections | $conn_line | ≤ 40 MB |
| start to ready | $(( (t1 - t0) / 1000000 )) ms wall (poll granularity 20 ms); the server's own figure: ${ready_line##*(} | ≤ 100 ms |
| local renderer, one core | $render | ≤ 50 ms |

Latency (avg, stdev): nginx $(lat <"$tmp/n2"); healthz $(lat <"$tmp/i2"); auth rejection $(lat <"$tmp/i3").
MD
