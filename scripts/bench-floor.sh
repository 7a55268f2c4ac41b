#!/usr/bin/env bash
# The floor under issue 14's speed target: how much of `tflock plan --offline
# --format json`'s time the walk's own work takes, part by part, against
# `rg -l dynamodb_table` on the same tree (examples/scan_floor.rs says what each
# part does). For N modules (default 10000), in the same run and on a warm cache,
# the five commands alternate run by run after WARMUP runs each; prints a Markdown
# table of median wall time, median CPU time and the ratio to rg.
#
# Usage: scripts/bench-floor.sh [N]           (default: 10000)
#        RUNS=21 WARMUP=3 scripts/bench-floor.sh 10000
#        KEEP_TREE=1 scripts/bench-floor.sh   (reuse target/bench/mono-N)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
n=${1:-10000}
RUNS=${RUNS:-15}
WARMUP=${WARMUP:-2}
command -v rg >/dev/null || { echo "error: install ripgrep first (apt-get install ripgrep)" >&2; exit 1; }

echo "== building target/release/tflock and the scan_floor example" >&2
cargo build --release --bin tflock --example scan_floor >&2
tflock="$root/target/release/tflock"
floor="$root/target/release/examples/scan_floor"
tree="$root/target/bench/mono-$n"
if [ "${KEEP_TREE:-}" != 1 ] || [ ! -d "$tree/.git" ]; then
  scripts/gen-bench-tree.sh "$n"
fi
cd "$tree"
for part in list read plan; do
  echo "   $part: $("$floor" "$part" 2>&1)" >&2
done

echo "== timing $n modules (warmup $WARMUP, runs $RUNS; load average $(cut -d' ' -f1 /proc/loadavg))" >&2
python3 "$root/scripts/interleaved.py" "$RUNS" "$WARMUP" \
  "[\"$floor\", \"list\"]" "[\"$floor\", \"read\"]" "[\"$floor\", \"plan\"]" \
  "[\"$tflock\", \"plan\", \"--offline\", \"--format\", \"json\"]" \
  '["rg", "-l", "dynamodb_table"]' >"$root/target/bench/floor-$n.jsonl"
python3 - "$root/target/bench/floor-$n.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
names = [
    "`scan_floor list`: git's listing and the walk",
    "`scan_floor read`: and every candidate read and searched",
    "`scan_floor plan`: and every file worth it parsed, planned and rechecked",
    "`tflock plan --offline --format json`: the whole plan",
    "`rg -l dynamodb_table`",
]
rg = rows[-1]["median"]
print("| what runs | wall (median) | CPU (median) | / rg |")
print("| --- | ---: | ---: | ---: |")
for name, r in zip(names, rows):
    print(f"| {name} | {r['median'] * 1000:.0f} ms | {r['cpu'] * 1000:.0f} ms | {r['median'] / rg:.2f}x |")
PY
