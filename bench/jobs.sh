#!/usr/bin/env bash
# Durable job submissions per second (POST /v1/images/jobs → 202, the job
# and its hold committed to SQLite before the answer) beside SQLite's own
# rate of one-row insert transactions on the same disk in the same run
# (bench/sqlite_ceiling.c: the store's pragmas, a table shaped like jobs,
# BEGIN IMMEDIATE … COMMIT per row), in interleaved rounds. The operator's
# key (no hold: the job row alone) and a metered tenant's (a hold, its
# ledger entry and balance move, and the job, in one transaction). The
# instance runs no jobs (jobs.runners: 0). Prints Markdown.
# usage: [ROUNDS=3] [DURATION=5s] bench/jobs.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
build=${1:-build}
workers=${WORKERS:-1}
duration=${DURATION:-5s}
conns=${CONNS:-32}
tmp=$(mktemp -d)
trap 'kill $(cat "$tmp"/*.pid 2>/dev/null) 2>/dev/null || true; wait 2>/dev/null; rm -rf "$tmp"' EXIT

start_fake_upstream "$tmp" "$workers"
IG_EXTRA_CONFIG=$'jobs:\n  runners: 0' start_gateway "$tmp" "$build" "$workers"
make_tenant

run() { IMAGEGATE_BENCH_KEY=$2 wrk -t1 -c"$conns" -d"$duration" -s bench/job_submit.lua "$1" 2>>"$tmp/errors"; }
jobs="http://127.0.0.1:$ig/v1/images/jobs"
secs=${duration%s}
run "$jobs" "$key" >/dev/null # warm-up
c_all=() o_all=() t_all=() ro_all=() rt_all=()
rounds=${ROUNDS:-3}
for r in $(seq "$rounds"); do
    rm -f "$tmp/ceiling.db"*
    c=$("./$build/sqlite_ceiling" "$tmp/ceiling.db" "$secs")
    run "$jobs" "$key" >"$tmp/o"
    run "$jobs" "$tenant" >"$tmp/t"
    c_all+=("$c"); o_all+=("$(rps <"$tmp/o")"); t_all+=("$(rps <"$tmp/t")")
    ro_all+=("$(ratio "$(rps <"$tmp/o")" "$c")"); rt_all+=("$(ratio "$(rps <"$tmp/t")" "$c")")
    cat "$tmp/o" "$tmp/t" >>"$tmp/all"
done
errors=$(grep -E "Non-2xx|Socket errors" "$tmp/all" || echo "none")
check=$(python3 - "$tmp/data/imagegate.db" "$acct" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
a = sys.argv[2]
jobs = db.execute("select count(*) from jobs where status = 'queued'").fetchone()[0]
open_holds, held = db.execute("select count(*), coalesce(sum(amount), 0) from holds "
                              "where settled_at is null and account_id = ?", (a,)).fetchone()
bal, total = db.execute("select balance, (select sum(amount) from ledger where account_id = ?1) "
                        "from accounts where id = ?1", (a,)).fetchone()
print("%d jobs queued; the tenant's %d open holds (%d millicredits) and balance %d = ledger sum %d"
      % (jobs, open_holds, held, bal, total))
PY
)
cat <<MD
## $(date -u +%Y-%m-%d) — durable job submissions ($(nproc) cores, $workers worker(s), wrk -t1 -c$conns -d$duration, medians of $rounds interleaved rounds)

| measure | result | goal |
|---|---|---|
| SQLite's own one-row insert transactions (bench/sqlite_ceiling.c) | $(median "${c_all[@]}") rows/s (of: ${c_all[*]}) | ceiling |
| imagegate: job submissions, the operator's key (the job row) | $(median "${o_all[@]}") req/s (of: ${o_all[*]}) = **$(median "${ro_all[@]}")×** the ceiling (of: ${ro_all[*]}) | ≥ 0.5× |
| imagegate: job submissions, a metered tenant (moderation, rate limits, a reservation; the job with its hold and ledger entry) | $(median "${t_all[@]}") req/s (of: ${t_all[*]}) = **$(median "${rt_all[@]}")×** the ceiling (of: ${rt_all[*]}) | ≥ 0.5× |
| errors; what was left | $errors; $check | none |
MD
