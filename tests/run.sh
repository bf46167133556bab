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
count() { # $1: meson test output; a run that printed no summary counts as a failure
    local ok fail
    ok=$(awk '/^Ok:/ {print $2}' "$1")
    fail=$(awk '/^Fail:/ {print $2}' "$1")
    [ -n "$ok" ] || fail=$((${fail:-0} + 1))
    passed=$((passed + ${ok:-0}))
    failed=$((failed + ${fail:-0}))
}

for b in "${builds[@]}"; do
    echo "=== unit tests ($b)"
    out=$(mktemp)
    meson test -C "$b" --print-errorlogs 2>&1 | tee "$out" | grep -vE '^\s*$' | tail -12
    count "$out"
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
