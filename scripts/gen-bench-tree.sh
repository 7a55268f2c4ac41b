#!/usr/bin/env bash
# Generates the synthetic monorepo of N root modules that the benchmarks time
# (scripts/gen-monorepo.py) into target/bench/mono-N, with the generator's counts
# in target/bench/mono-N.json, as a git repository of its own with every file
# committed. Used by scripts/bench-scale.sh and scripts/bench-floor.sh.
#
# Usage: scripts/gen-bench-tree.sh N
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:?usage: scripts/gen-bench-tree.sh N}
bench="$(pwd)/target/bench"
tree="$bench/mono-$n"
mkdir -p "$bench"
echo "== generating $n modules into target/bench/mono-$n" >&2
rm -rf "$tree"
python3 scripts/gen-monorepo.py "$n" "$tree" >"$bench/mono-$n.json"
# A repository of its own, every file committed, as a real monorepo is:
# tflock lists it with git (as it does any work tree) rather than seeing an
# ignored folder of this checkout (target/ is in .gitignore).
git -C "$tree" init -q
# The caches stay out of the commit, as a real repository ignores them.
printf '.terraform/\n.terragrunt-cache/\n' >>"$tree/.git/info/exclude"
git -C "$tree" add -A
git -C "$tree" -c user.name=bench -c user.email=bench@localhost commit -qm "generated monorepo"
