#!/usr/bin/env bash
# OpenAI SDK compatibility: installs the pinned `openai` package (npm ci,
# from package-lock.json) once, then runs node's test runner (TAP output).
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -d node_modules/openai ]; then
    npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi
exec node --test --test-reporter=tap sdk.test.mjs
