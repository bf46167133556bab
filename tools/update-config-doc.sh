#!/usr/bin/env bash
# Rewrites the settings table in docs/CONFIG.md (the contiguous Markdown
# table right after "## Settings") from `imagegate config doc`, leaving the
# rest of the page alone.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/imagegate}
python3 - "$bin" <<'PY'
import subprocess, sys
table = subprocess.run([sys.argv[1], "config", "doc"], check=True, capture_output=True,
                       text=True).stdout.splitlines()
lines = open("docs/CONFIG.md").read().split("\n")
start = lines.index("## Settings") + 1
while not lines[start].startswith("|"):
    start += 1
end = start
while end < len(lines) and lines[end].startswith("|"):
    end += 1
open("docs/CONFIG.md", "w").write("\n".join(lines[:start] + table + lines[end:]))
PY
