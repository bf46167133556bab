#!/usr/bin/env bash
# What accounting costs: generations through a fast fake provider with the
# operator's key (not metered, no rate limits: charged with the record, no
# hold) beside a metered tenant's key (moderation rules, three rate limits
# counted, a hold and day/month budgets before dispatch, settled with the
# record), in interleaved rounds of one gateway, with nginx proxy_pass to
# the same upstream as the baseline. Prints Markdown.
# usage: bench/credits.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
build=${1:-build}
workers=${WORKERS:-1}
duration=${DURATION:-5s}
conns=${CONNS:-64}
tmp=$(mktemp -d)
trap 'kill $(cat "$tmp"/*.pid 2>/dev/null) 2>/dev/null || true; wait 2>/dev/null; rm -rf "$tmp"' EXIT

start_fake_upstream "$tmp" "$workers"
IG_EXTRA_CONFIG=$MODERATION_RULES start_gateway "$tmp" "$build" "$workers"
make_tenant

run() { IMAGEGATE_BENCH_KEY=$2 wrk -t1 -c"$conns" -d"$duration" -s bench/generate.lua "$1"; }
run "http://127.0.0.1:$px/v1/images/generations" "$key" >/dev/null   # warm-up
run "http://127.0.0.1:$ig/v1/images/generations" "$key" >/dev/null
run "http://127.0.0.1:$ig/v1/images/generations" "$tenant" >/dev/null
n_all=() o_all=() t_all=() r_all=()
rounds=${ROUNDS:-5}
for r in $(seq "$rounds"); do
    run "http://127.0.0.1:$px/v1/images/generations" "$key" >"$tmp/n"
    run "http://127.0.0.1:$ig/v1/images/generations" "$key" >"$tmp/o"
    run "http://127.0.0.1:$ig/v1/images/generations" "$tenant" >"$tmp/t"
    n_all+=("$(rps <"$tmp/n")"); o_all+=("$(rps <"$tmp/o")"); t_all+=("$(rps <"$tmp/t")")
    # The two paths of one round ran back to back: their ratio is paired,
    # so the machine's drift between rounds cancels out of it.
    r_all+=("$(ratio "$(rps <"$tmp/t")" "$(rps <"$tmp/o")")")
done
errors=$(cat "$tmp/o" "$tmp/t" | grep -E "Non-2xx|Socket errors" || echo "none")
nginx_rps=$(median "${n_all[@]}"); op_rps=$(median "${o_all[@]}"); t_rps=$(median "${t_all[@]}")
paired=$(median "${r_all[@]}")
read -r balance ledger_sum holds_open < <(python3 - "$tmp/data/imagegate.db" "$acct" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
a = sys.argv[2]
print(db.execute("select balance from accounts where id=?", (a,)).fetchone()[0],
      db.execute("select coalesce(sum(amount),0) from ledger where account_id=?", (a,)).fetchone()[0],
      db.execute("select count(*) from holds where settled_at is null").fetchone()[0])
PY
)
cat <<MD
## $(date -u +%Y-%m-%d) — what accounting costs ($(nproc) cores, $workers worker(s), wrk -t1 -c$conns -d$duration, medians of $rounds interleaved rounds)

| measure | result | goal |
|---|---|---|
| nginx \`proxy_pass\` to the fake | $nginx_rps req/s (of: ${n_all[*]}) | baseline |
| imagegate, the operator's key (not metered: charged with the record, no hold) | $op_rps req/s (of: ${o_all[*]}) = $(ratio "$op_rps" "$nginx_rps")× nginx | |
| imagegate, a metered tenant's key (moderation, rate limits, hold and budgets before dispatch, settled with the record) | $t_rps req/s (of: ${t_all[*]}) = $(ratio "$t_rps" "$nginx_rps")× nginx = $(ratio "$t_rps" "$op_rps")× the operator's | |
| the tenant's rate over the operator's, each round (paired) | **$paired×** (of: ${r_all[*]}) | ≥ 0.9× |
| errors; the tenant's balance, its ledger's sum, holds left open | $errors; $balance, $ledger_sum, $holds_open | balance = sum, 0 open |
MD
