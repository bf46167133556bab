#!/usr/bin/env bash
# Rewrites the settings table in docs/CONFIG.md from `imagegate config doc`.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/imagegate}
python3 - "$bin" <<'PY'
import subprocess, sys
table = subprocess.run([sys.argv[1], "config", "doc"], check=True, capture_output=True,
                       text=True).stdout
doc = open("docs/CONFIG.md").read()
head, rest = doc.split("## Settings\n\n", 1)
_, tail = rest.split("\n## Environment", 1)
open("docs/CONFIG.md", "w").write(head + "## Settings\n\n" + table + "\n## Environment" + tail)
PY
