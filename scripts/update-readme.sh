#!/usr/bin/env bash
# Regenerates the config reference in README.md from the schema compiled into the binary
# (`smsbridge config-schema`). A test fails when README.md and the schema disagree.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:-$root/build/smsbridge}"
schema="$("$bin" config-schema)"
python3 - "$root/README.md" "$schema" <<'PY'
import sys
path, schema = sys.argv[1], sys.argv[2]
text = open(path, encoding="utf-8").read()
begin, end = "<!-- config-schema:begin -->", "<!-- config-schema:end -->"
head, rest = text.split(begin, 1)
_, tail = rest.split(end, 1)
open(path, "w", encoding="utf-8").write(head + begin + "\n" + schema.rstrip("\n") + "\n" + end + tail)
PY
echo "README.md config reference updated"
