# bench/lib.sh — helpers the benchmark scripts share (sourced, not run).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rps() { awk '/Requests\/sec/ {print $2}'; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# CPU time (user + system, in clock ticks) of a process and its children
# (nginx's workers are children of its master).
cpu_ticks() {
    local t=0 p
    for p in "$1" $(pgrep -P "$1"); do
        t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
    done
    echo "$t"
}
# The fake OpenAI upstream (nginx returning upstream.py's fixed answer on
# $up) and nginx proxying to it (on $px), in directory $1 with $2 worker
# processes; sets up, px and ig (a free port for imagegate) and key (the
# admin key imagegate is started with).
start_fake_upstream() {
    local dir=$1 workers=$2 body
    up=$(free_port); px=$(free_port); ig=$(free_port)
    key=bench-admin-key-0123456789
    body=$(python3 bench/upstream.py body)
    sed -e "s#@DIR@#$dir#g" -e "s#@UPSTREAM_PORT@#$up#g" -e "s#@PROXY_PORT@#$px#g" \
        -e "s#@WORKERS@#$workers#g" -e "s#@BODY@#$body#" bench/provider_nginx.conf.in >"$dir/nginx.conf"
    nginx -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;' &
    echo $! >"$dir/nginx.pid"
}
# imagegate on $ig (from start_fake_upstream) in directory $1 with build
# $2 and $3 workers: access log off, breaker off, the admin key $key, the
# fake as its OpenAI; returns once both it and the proxy answer.
start_gateway() {
    local dir=$1 build=$2 workers=$3
    printf 'log:\n  access: false\nlimits:\n  max_connections: 30000\nbreaker:\n  failure_threshold: 0\n' >"$dir/ig.yaml"
    # Extra settings (the accounting bench's moderation rules) from $IG_EXTRA_CONFIG.
    if [ -n "${IG_EXTRA_CONFIG:-}" ]; then printf "%s\n" "$IG_EXTRA_CONFIG" >>"$dir/ig.yaml"; fi
    IMAGEGATE_ADMIN_KEY=$key OPENAI_API_KEY=sk-bench OPENAI_BASE_URL="http://127.0.0.1:$up/v1" \
        "./$build/imagegate" serve --config "$dir/ig.yaml" --listen "127.0.0.1:$ig" \
        --data "$dir/data" --workers "$workers" >"$dir/ig.out" 2>"$dir/ig.err" &
    echo $! >"$dir/ig.pid"
    for _ in $(seq 100); do grep -q "listening on" "$dir/ig.out" 2>/dev/null && break; sleep 0.05; done
    for _ in $(seq 100); do curl -s "127.0.0.1:$px/" >/dev/null && break; sleep 0.05; done
}

# A metered tenant of the gateway on port $ig with enough credits for any
# run, whose key has rate limits (and, with "budgets" as $1, day and month
# budgets) that are counted on every request but never reached. Sets
# tenant (the key) and acct.
make_tenant() {
    local kid budgets='{"daily":null,"monthly":null}'
    [ "${1:-}" = budgets ] && budgets='{"daily":"1000000000","monthly":"1000000000"}'
    admin() { curl -s -H "Authorization: Bearer $key" -H 'Content-Type: application/json' "$@"; }
    acct=$(admin -d '{"name":"bench","grant":"1000000000"}' "127.0.0.1:$ig/admin/accounts" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    read -r tenant kid < <(admin -d "{\"name\":\"bench\",\"account_id\":\"$acct\"}" \
        "127.0.0.1:$ig/admin/keys" |
        python3 -c 'import json,sys; k=json.load(sys.stdin); print(k["key"], k["id"])')
    admin -X PATCH -d '{"limits":{"requests_per_minute":1000000000,"images_per_minute":1000000000,
        "concurrent":100000},"budgets":'"$budgets"'}' "127.0.0.1:$ig/admin/keys/$kid" >/dev/null
}

# The moderation rules the accounting benches check every prompt against
# (the bench's prompt matches none).
MODERATION_RULES='moderation:
  categories:
    - name: violence
      patterns: ["blood\\s*bath", "\\bbehead(ing|ed)?\\b"]
      words: [gore, massacre, carnage]
    - name: spam
      words: ["buy now", "limited offer"]'
