#!/usr/bin/env bash
# Cache-hit generations per second (a seeded request whose twin is cached:
# no provider call; a free hit is answered from memory, not recorded) beside
# nginx serving a static file of the same size as the hit's answer, in
# interleaved rounds, for an answer with a signed link (url) and one with
# the image inline (b64_json). Prints Markdown.
# usage: [ROUNDS=3] [DURATION=5s] bench/cache.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
build=${1:-build}
workers=${WORKERS:-1}
duration=${DURATION:-5s}
conns=${CONNS:-64}
tmp=$(mktemp -d)
trap 'kill $(cat "$tmp"/*.pid 2>/dev/null) 2>/dev/null || true; wait 2>/dev/null; rm -rf "$tmp"' EXIT

nport=$(free_port); ig=$(free_port)
key=bench-admin-key-0123456789
mkdir -p "$tmp/static"
sed -e "s#@DIR@#$tmp#g" -e "s#@PORT@#$nport#g" -e "s#@WORKERS@#$workers#g" \
    bench/static_nginx.conf.in >"$tmp/nginx.conf"
nginx -p "$tmp" -c "$tmp/nginx.conf" -g 'daemon off;' &
echo $! >"$tmp/nginx.pid.run"
printf 'log:\n  access: false\nlimits:\n  max_connections: 30000\n' >"$tmp/ig.yaml"
IMAGEGATE_ADMIN_KEY=$key "./$build/imagegate" serve --config "$tmp/ig.yaml" \
    --listen "127.0.0.1:$ig" --data "$tmp/data" --workers "$workers" >"$tmp/ig.out" 2>"$tmp/ig.err" &
echo $! >"$tmp/ig.pid"
for _ in $(seq 100); do grep -q "listening on" "$tmp/ig.out" 2>/dev/null && break; sleep 0.05; done
for _ in $(seq 100); do curl -s "127.0.0.1:$nport/" >/dev/null && break; sleep 0.05; done

rows=""
for format in url b64_json; do
    body="{\"prompt\":\"a lighthouse at dusk\",\"size\":\"256x256\",\"seed\":1234,\"response_format\":\"$format\"}"
    gen() { curl -s -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
        -d "$body" "127.0.0.1:$ig/v1/images/generations"; }
    gen >/dev/null # the miss that fills the cache
    gen >"$tmp/static/answer.json"
    grep -q '"cache":"hit"' "$tmp/static/answer.json" || { echo "not a hit: $(head -c 300 "$tmp/static/answer.json")"; exit 1; }
    size=$(stat -c %s "$tmp/static/answer.json")
    run_ig() { IMAGEGATE_BENCH_KEY=$key IMAGEGATE_BENCH_BODY=$body wrk -t1 -c"$conns" \
        -d"$duration" -s bench/cache_hit.lua "http://127.0.0.1:$ig/v1/images/generations" 2>>"$tmp/errors"; }
    run_nx() { wrk -t1 -c"$conns" -d"$duration" "http://127.0.0.1:$nport/answer.json"; }
    run_ig >/dev/null; run_nx >/dev/null # warm-up
    n_all=() i_all=() r_all=()
    for r in $(seq "${ROUNDS:-3}"); do
        run_nx >"$tmp/n"; run_ig >"$tmp/i"
        n_all+=("$(rps <"$tmp/n")"); i_all+=("$(rps <"$tmp/i")")
        r_all+=("$(ratio "$(rps <"$tmp/i")" "$(rps <"$tmp/n")")")
        cat "$tmp/i" >>"$tmp/all"
    done
    rows+="| $format: nginx, a static file of $size bytes | $(median "${n_all[@]}") req/s (of: ${n_all[*]}) | baseline |
| $format: imagegate, cache hits ($size-byte answers) | $(median "${i_all[@]}") req/s (of: ${i_all[*]}) = **$(median "${r_all[@]}")×** nginx (of: ${r_all[*]}) | ≥ 0.5× |
"
done
errors=$(grep -E "Non-2xx|Socket errors" "$tmp/all" || echo "none")
recorded=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from generations').fetchone()[0])" "$tmp/data/imagegate.db")
cat <<MD
## $(date -u +%Y-%m-%d) — cache hits ($(nproc) cores, $workers worker(s), wrk -t1 -c$conns -d$duration, medians of ${ROUNDS:-3} interleaved rounds)

| measure | result | goal |
|---|---|---|
$rows| errors; generations recorded (free hits are not: the first alone) | $errors; $recorded | none, 1 |
MD
