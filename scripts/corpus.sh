#!/usr/bin/env bash
# How well tflock resolves real repositories: runs `tflock plan --offline --format
# json` in each DIR and counts the backends whose states resolved fully, only
# conservatively (a known key prefix stands in), or not at all (a value that
# blocks stayed unknown). Usage: scripts/corpus.sh DIR...
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet
bin="$(pwd)/target/debug/tflock"
for dir in "$@"; do
  (cd "$dir" && "$bin" plan --offline --format json 2>/dev/null || true) | python3 -c '
import json, sys, collections
doc = json.load(sys.stdin)
name = sys.argv[1]
counts = collections.Counter()
reasons = collections.Counter()
for b in doc["backends"]:
    if b["action"] == "error":
        counts["error"] += 1
    elif any(u["effect"] == "blocks" for u in b["unknown"]):
        counts["unresolved"] += 1
        for u in b["unknown"]:
            if u["effect"] == "blocks":
                reasons[u["attribute"] + ": " + u["reason"][:90]] += 1
    elif b["conservative"]:
        counts["conservative"] += 1
        for u in b["unknown"]:
            reasons[u["attribute"] + ": " + u["reason"][:90]] += 1
    else:
        counts["full"] += 1
states = sum(len(b["states"]) for b in doc["backends"])
print("%s: %d backends, %d states: %d fully resolved, %d conservative, %d unresolved (blocked), %d errors; %d file errors"
      % (name, len(doc["backends"]), states, counts["full"], counts["conservative"],
         counts["unresolved"], counts["error"], len(doc["errors"])))
for r, n in reasons.most_common(8):
    print(f"    {n:4} x {r}")
' "$dir"
done
