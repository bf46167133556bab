#!/usr/bin/env bash
# What accounting costs: generations through a fast fake provider with the
# operator's key (accounting off: not metered, no rate limits, no
# reservation; its cost only on the record) beside a metered tenant's key
# (accounting on: moderation rules, three rate limits counted, a
# reservation before dispatch, a charge with the record) and a second
# tenant whose key also has day and month budgets, in interleaved rounds
# of one gateway, with nginx proxy_pass to the same upstream as the
# baseline. Prints Markdown.
# usage: [ROUNDS=5] [DURATION=5s] bench/credits.sh [BUILD_DIR]
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
make_tenant budgets
budgeted=$tenant budgeted_acct=$acct
make_tenant

run() { IMAGEGATE_BENCH_KEY=$2 wrk -t1 -c"$conns" -d"$duration" -s bench/generate.lua "$1"; }
gen="http://127.0.0.1:$ig/v1/images/generations"
run "http://127.0.0.1:$px/v1/images/generations" "$key" >/dev/null   # warm-up
for k in "$key" "$tenant" "$budgeted"; do run "$gen" "$k" >/dev/null; done
n_all=() o_all=() t_all=() b_all=() r_all=() rb_all=()
rounds=${ROUNDS:-5}
for r in $(seq "$rounds"); do
    run "http://127.0.0.1:$px/v1/images/generations" "$key" >"$tmp/n"
    run "$gen" "$key" >"$tmp/o"
    run "$gen" "$tenant" >"$tmp/t"
    run "$gen" "$budgeted" >"$tmp/b"
    n_all+=("$(rps <"$tmp/n")"); o_all+=("$(rps <"$tmp/o")")
    t_all+=("$(rps <"$tmp/t")"); b_all+=("$(rps <"$tmp/b")")
    # The paths of one round ran back to back: their ratio is paired, so
    # the machine's drift between rounds cancels out of it.
    r_all+=("$(ratio "$(rps <"$tmp/t")" "$(rps <"$tmp/o")")")
    rb_all+=("$(ratio "$(rps <"$tmp/b")" "$(rps <"$tmp/o")")")
    cat "$tmp/o" "$tmp/t" "$tmp/b" >>"$tmp/all"
done
errors=$(grep -E "Non-2xx|Socket errors" "$tmp/all" || echo "none")
nginx_rps=$(median "${n_all[@]}"); op_rps=$(median "${o_all[@]}")
t_rps=$(median "${t_all[@]}"); b_rps=$(median "${b_all[@]}")
paired=$(median "${r_all[@]}"); paired_b=$(median "${rb_all[@]}")
ledger_check() {
    python3 - "$tmp/data/imagegate.db" "$1" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
a = sys.argv[2]
print(db.execute("select balance from accounts where id=?", (a,)).fetchone()[0],
      db.execute("select coalesce(sum(amount),0) from ledger where account_id=?", (a,)).fetchone()[0],
      db.execute("select count(*) from holds where settled_at is null").fetchone()[0])
PY
}
read -r balance ledger_sum holds_open < <(ledger_check "$acct")
read -r b_balance b_ledger_sum _ < <(ledger_check "$budgeted_acct")
cat <<MD
## $(date -u +%Y-%m-%d) — what accounting costs ($(nproc) cores, $workers worker(s), wrk -t1 -c$conns -d$duration, medians of $rounds interleaved rounds)

| measure | result | goal |
|---|---|---|
| nginx \`proxy_pass\` to the fake | $nginx_rps req/s (of: ${n_all[*]}) | baseline |
| imagegate, accounting off: the operator's key (not metered, no limits, cost on the record only) | $op_rps req/s (of: ${o_all[*]}) = $(ratio "$op_rps" "$nginx_rps")× nginx | |
| imagegate, accounting on: a metered tenant's key (moderation, three rate limits, a reservation before dispatch, a charge with the record) | $t_rps req/s (of: ${t_all[*]}) = $(ratio "$t_rps" "$nginx_rps")× nginx | |
| accounting on over off, each round (paired) | **$paired×** (of: ${r_all[*]}) | ≥ 0.9× |
| the same with day and month budgets on the key (two more reservations, their spends moved with each charge) | $b_rps req/s (of: ${b_all[*]}); paired $paired_b× (of: ${rb_all[*]}) | |
| errors; each tenant's balance and its ledger's sum; holds left open | $errors; $balance = $ledger_sum, $b_balance = $b_ledger_sum; $holds_open | balance = sum, 0 open |
MD
