#!/usr/bin/env bash
# Generations recorded per second while usage reports run beside them
# (GET /admin/usage, every account's last 30 days by model, one after
# another from one client), against the same load with no report: the
# store's reports read on a connection of their own, so the records
# should not wait for them. The history is first filled by the load
# itself (FILL, default 10s of it). Interleaved rounds; prints Markdown.
# usage: [ROUNDS=3] [DURATION=5s] [FILL=10s] bench/reads.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
build=${1:-build}
workers=${WORKERS:-1}
duration=${DURATION:-5s}
tmp=$(mktemp -d)
trap 'kill $(cat "$tmp"/*.pid 2>/dev/null) 2>/dev/null || true; wait 2>/dev/null; rm -rf "$tmp"' EXIT

start_fake_upstream "$tmp" "$workers"
start_gateway "$tmp" "$build" "$workers"
gen="http://127.0.0.1:$ig/v1/images/generations"
load() { IMAGEGATE_BENCH_KEY=$key wrk -t1 -c64 -d"$1" -s bench/generate.lua "$gen" 2>>"$tmp/errors"; }
load "${FILL:-10s}" >/dev/null
# Reports one after another until told to stop; counts them in $tmp/reports.
reports() {
    local n=0
    while [ ! -e "$tmp/stop" ]; do
        curl -sf -H "Authorization: Bearer $key" "127.0.0.1:$ig/admin/usage?group_by=model" \
            >/dev/null && n=$((n + 1))
    done
    echo "$n" >"$tmp/reports"
}
alone=() beside=() ratios=() counts=()
for _ in $(seq "${ROUNDS:-3}"); do
    a=$(load "$duration" | rps)
    rm -f "$tmp/stop"
    reports &
    b=$(load "$duration" | rps)
    touch "$tmp/stop"
    wait %%
    alone+=("$a"); beside+=("$b"); ratios+=("$(ratio "$b" "$a")"); counts+=("$(cat "$tmp/reports")")
done
rows=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from generations").fetchone()[0])' "$tmp/data/imagegate.db")
errors=$(grep -E "Non-2xx|Socket errors" "$tmp/errors" || echo "none")
cat <<MD
## $(date -u +%Y-%m-%d) — records beside usage reports ($(nproc) cores, $workers worker(s), wrk -t1 -c64 -d$duration, medians of ${ROUNDS:-3} interleaved rounds; $rows generations in the history at the end)

| measure | result |
|---|---|
| generations/s, no report running | $(median "${alone[@]}") (of: ${alone[*]}) |
| generations/s, reports running one after another beside them | $(median "${beside[@]}") (of: ${beside[*]}) = **$(median "${ratios[@]}")×** (of: ${ratios[*]}) |
| reports made meanwhile (each over every account's last 30 days) | ${counts[*]} |
| errors | $errors |
MD
