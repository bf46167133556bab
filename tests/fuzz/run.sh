#!/usr/bin/env bash
# Runs every libFuzzer harness of BUILD for SECONDS each over its committed
# corpus (tests/fuzz/corpus/<name>/, read only: what the run discovers goes
# to a temporary directory). A crash, leak or timeout fails the target and
# leaves its input under tests/fuzz/crashes/<name>/; once understood and
# fixed, move it into the corpus so it stays a regression input.
# usage: tests/fuzz/run.sh BUILD [SECONDS]   ends with "fuzz: N passed, M failed"
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${1:?build dir}
seconds=${2:-60}
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
passed=0
failed=0
for bin in "$build"/tests/fuzz/fuzz_*; do
    [ -x "$bin" ] && [ -f "$bin" ] || continue
    name=$(basename "$bin"); name=${name#fuzz_}
    work=$(mktemp -d)
    crashes="tests/fuzz/crashes/$name"
    mkdir -p "$crashes"
    # The server and client harnesses keep state across inputs (a server
    # thread, kept-alive connections): libFuzzer's per-input leak check
    # would blame them, so only their exit is checked for leaks.
    leaks=1
    case "$name" in http|h1) leaks=0 ;; esac
    if "$bin" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=3072 -max_len=65536 \
        -detect_leaks=$leaks -artifact_prefix="$crashes/" -print_final_stats=1 \
        "$work" "tests/fuzz/corpus/$name" >"$work.log" 2>&1; then
        runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$work.log")
        echo "fuzz $name: ok (${runs:-?} runs in ${seconds}s)"
        passed=$((passed + 1))
        rmdir "$crashes" 2>/dev/null || true
    else
        echo "fuzz $name: FAILED; input kept in $crashes/"
        grep -E "ERROR|SUMMARY|runtime error|deadly|Test unit written" "$work.log" | head -8
        failed=$((failed + 1))
    fi
    rm -rf "$work" "$work.log"
done
rmdir tests/fuzz/crashes 2>/dev/null || true
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
