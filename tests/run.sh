#!/usr/bin/env bash
# Runs every test against the normal build, then again against the
# ASan+UBSan build. Called by `make test`; ends with one summary line.
set -uo pipefail
cd "$(dirname "$0")/.."
builds=("$@")
[ ${#builds[@]} -gt 0 ] || builds=(build)

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export PYTHONDONTWRITEBYTECODE=1

passed=0
failed=0

echo "=== layering (tools/check_layers.py)"
if python3 tools/check_layers.py; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
# $1: meson test output, $2: its exit status, $3: the build's full test
# log. Every outcome but Ok is a failure (Fail, Timeout, Unexpected Pass,
# Expected Fail: no test is meant to fail); a run that printed no summary,
# or exited non-zero with no failure counted, is one. A sanitizer report
# anywhere in the log fails the run too: Criterion runs each test in a
# child whose leak report does not change the test's verdict.
count() {
    local ok bad n
    ok=$(awk '/^Ok:/ {print $2}' "$1")
    bad=0
    for n in $(awk '/^(Fail|Timeout|Unexpected Pass|Expected Fail):/ {print $NF}' "$1"); do
        bad=$((bad + n))
    done
    [ -n "$ok" ] || bad=$((bad + 1))
    [ "$2" -eq 0 ] || [ "$bad" -gt 0 ] || bad=1
    if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$3" 2>/dev/null; then
        echo "sanitizer reports in $3:"
        grep -nE -A12 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$3" | head -60
        bad=$((bad + 1))
        ok=$((${ok:-0} > 0 ? ${ok:-0} - 1 : 0))
    fi
    passed=$((passed + ${ok:-0}))
    failed=$((failed + bad))
}

for b in "${builds[@]}"; do
    echo "=== unit tests ($b)"
    out=$(mktemp)
    meson test -C "$b" --print-errorlogs >"$out" 2>&1
    status=$?
    grep -vE '^\s*$' "$out" | tail -12
    count "$out" "$status" "$b/meson-logs/testlog.txt"
    rm -f "$out"

    echo "=== integration tests ($b)"
    out=$(mktemp)
    IMAGEGATE_BIN="$PWD/$b/imagegate" python3 tests/integration/run.py 2>&1 | tee "$out" | tail -25
    p=$(sed -nE 's/^integration .*: ([0-9]+) passed, ([0-9]+) failed$/\1/p' "$out")
    f=$(sed -nE 's/^integration .*: ([0-9]+) passed, ([0-9]+) failed$/\2/p' "$out")
    if [ -z "$p" ]; then f=$((${f:-0} + 1)); fi
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0}))
    rm -f "$out"

    if [ "$b" = "${builds[0]}" ] && [ -x tests/sdk/run.sh ]; then
        echo "=== OpenAI SDK compatibility ($b)"
        out=$(mktemp)
        IMAGEGATE_BIN="$PWD/$b/imagegate" tests/sdk/run.sh 2>&1 | tee "$out" | tail -15
        p=$(sed -nE 's/^# pass ([0-9]+)$/\1/p' "$out")
        f=$(sed -nE 's/^# fail ([0-9]+)$/\1/p' "$out")
        if [ -z "$p" ]; then f=$((${f:-0} + 1)); fi
        passed=$((passed + ${p:-0}))
        failed=$((failed + ${f:-0}))
        rm -f "$out"
    fi
done

if [ -n "${FUZZ_BUILD:-}" ]; then
    echo "=== fuzzing ($FUZZ_BUILD, ${FUZZ_SECONDS:-20} s per target)"
    out=$(mktemp)
    ./tests/fuzz/run.sh "$FUZZ_BUILD" "${FUZZ_SECONDS:-20}" 2>&1 | tee "$out"
    p=$(sed -nE 's/^fuzz: ([0-9]+) passed, ([0-9]+) failed$/\1/p' "$out")
    f=$(sed -nE 's/^fuzz: ([0-9]+) passed, ([0-9]+) failed$/\2/p' "$out")
    if [ -z "$p" ]; then f=$((${f:-0} + 1)); fi
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0}))
    rm -f "$out"
fi

echo
echo "all suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
