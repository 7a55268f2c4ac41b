#!/usr/bin/env bash
# Repository-scale benchmark (issue 5, "Speed" and "A benchmark"; issue 14, item 5).
#
# Generates synthetic monorepos (scripts/gen-monorepo.py) of N root modules into
# target/bench/mono-N, then for each, in the same run and with a warm cache:
#   1. checks that `tflock plan --offline --format json` reports exactly the counts
#      the generator says it created (and nothing from .terraform/ or
#      .terragrunt-cache/);
#   2. times `tflock plan --offline --format json` and `rg -l dynamodb_table` over the
#      same tree, alternating them run by run (tflock, rg, rg, tflock, ...) so that
#      load from other work on the machine hits both alike, after WARMUP runs of
#      each; reports the median wall time of RUNS runs and the median CPU time
#      (user + system, from wait4);
#   3. measures tflock's peak memory with /usr/bin/time -v (maximum resident set size,
#      the largest of 3 runs).
# Writes the table to the "Repository scale" section of BENCHMARKS.md (other
# sections are kept) and exits 1 if a count does not match.
#
# Usage: scripts/bench-scale.sh [N...]        (default: 1000 10000)
#        RUNS=15 WARMUP=3 scripts/bench-scale.sh
#        TFLOCK=path/to/tflock scripts/bench-scale.sh   (skip the build)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
RUNS=${RUNS:-10}
WARMUP=${WARMUP:-3}
if [ $# -gt 0 ]; then sizes=("$@"); else sizes=(1000 10000); fi

apt_install() {
  command -v apt-get >/dev/null || { echo "error: install $* first" >&2; exit 1; }
  apt-get install -y "$@" >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y "$@" >/dev/null; }
}
command -v rg >/dev/null || apt_install ripgrep
[ -x /usr/bin/time ] || apt_install time

if [ -n "${TFLOCK:-}" ]; then
  tflock=$(realpath "$TFLOCK") # a binary built elsewhere; no build
else
  echo "== building target/release/tflock" >&2
  cargo build --release --bin tflock >&2
  tflock="$root/target/release/tflock"
fi

bench="$root/target/bench"
mkdir -p "$bench"
results="$bench/scale-results.jsonl"
: >"$results"

# Times the commands given as JSON lists, alternating them (scripts/interleaved.py).
interleaved() {
  python3 "$root/scripts/interleaved.py" "$RUNS" "$WARMUP" "$@"
}

for n in "${sizes[@]}"; do
  scripts/gen-bench-tree.sh "$n"
  tree="$bench/mono-$n"
  cd "$tree"

  echo "== checking counts" >&2
  set +e
  "$tflock" plan --offline --format json </dev/null >"$bench/mono-$n.plan.json"
  rc=$?
  set -e
  python3 - "$bench/mono-$n.json" "$bench/mono-$n.plan.json" "$rc" <<'PY'
import collections, json, sys
gen = json.load(open(sys.argv[1]))
plan = json.load(open(sys.argv[2]))
rc = int(sys.argv[3])
bad = []
for key, want in gen["expected_summary"].items():
    got = plan["summary"].get(key)
    if got != want:
        bad.append(f"summary.{key}: tflock says {got}, generator created {want}")
kinds = collections.Counter(b["kind"] for b in plan["backends"])
for kind, want in gen["backends_by_kind"].items():
    if kinds.get(kind, 0) != want:
        bad.append(f"backends of kind {kind}: tflock found {kinds.get(kind, 0)}, generator created {want}")
cached = [b["file"] for b in plan["backends"] if ".terraform/" in b["file"] or ".terragrunt-cache/" in b["file"]]
if cached:
    bad.append(f"{len(cached)} backends found in caches, e.g. {cached[0]}")
if rc != 0:
    bad.append(f"exit code {rc}")
if bad:
    print("COUNT MISMATCH:\n  " + "\n  ".join(bad), file=sys.stderr)
    sys.exit(1)
s = gen["expected_summary"]
print(f"   ok: {s['backends']} backends, {s['migrate']} to migrate, {s['already_migrated']} already migrated, "
      f"{s['none']} without locking, {s['files_changed']} files to change; "
      f"{gen['skipped_cache_backends']} cached backends skipped", file=sys.stderr)
PY

  load=$(cut -d' ' -f1 /proc/loadavg)
  echo "== timing (warmup $WARMUP, runs $RUNS; load average $load)" >&2
  tf_cmd="$tflock plan --offline --format json"
  interleaved "[\"$tflock\", \"plan\", \"--offline\", \"--format\", \"json\"]" \
    '["rg", "-l", "dynamodb_table"]' >"$bench/mono-$n.times.jsonl"

  echo "== peak memory" >&2
  rss_kb=0
  for _ in 1 2 3; do
    kb=$( { /usr/bin/time -v $tf_cmd </dev/null >/dev/null; } 2>&1 | awk -F': ' '/Maximum resident set size/ {print $2}')
    [ "$kb" -gt "$rss_kb" ] && rss_kb=$kb
  done
  cd "$root"
  python3 - "$bench/mono-$n.json" "$bench/mono-$n.times.jsonl" "$n" "$rss_kb" "$load" >>"$results" <<'PY'
import json, sys
gen = json.load(open(sys.argv[1]))
tf, rg = [json.loads(l) for l in open(sys.argv[2])]
print(json.dumps({
    "modules": int(sys.argv[3]), "files": gen["files"], "bytes": gen["bytes"],
    "backends": gen["expected_summary"]["backends"],
    "tflock_s": tf["median"], "rg_s": rg["median"], "tflock_best_s": tf["best"], "rg_best_s": rg["best"],
    "tflock_cpu_s": tf["cpu"], "rg_cpu_s": rg["cpu"], "rss_kb": int(sys.argv[4]), "load": sys.argv[5],
}))
print(f"   tflock {tf['median']:.3f}s (cpu {tf['cpu']:.3f}s), rg {rg['median']:.3f}s (cpu {rg['cpu']:.3f}s), "
      f"ratio {tf['median'] / rg['median']:.2f}x, peak RSS {int(sys.argv[4]) // 1024} MB", file=sys.stderr)
PY
done

machine="$(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(free -g | awk '/Mem:/ {print $2}') GB RAM"
python3 - "$results" "$root/BENCHMARKS.md" "$machine" "$(rg --version | sed -n 1p)" "$RUNS" "$WARMUP" <<'PY'
import json, re, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
path, machine, rg_version, runs, warmup = sys.argv[2:7]
rows.sort(key=lambda r: r["modules"])
out = ["## Repository scale", ""]
out.append(
    "`tflock plan --offline --format json` against `rg -l dynamodb_table` on synthetic "
    "monorepos from `scripts/gen-monorepo.py`: root modules with backends in every style "
    "(aligned and commented, unaligned, `backend \"s3\" {}` + `.tfbackend`, custom "
    "`workspace_key_prefix`, dual, already migrated, `.tf.json`), about 5 files each, "
    "Terragrunt units under shared `root.hcl` files, and `.terraform/` and "
    "`.terragrunt-cache/` caches holding backends that must be skipped, each tree a git "
    "repository with every file committed (tflock lists it with `git ls-files`). For each size, "
    "in the same run, on a warm page cache, the two commands alternate run by run "
    f"({warmup} warm-up run{'' if warmup == '1' else 's'} each, then {runs} timed runs each). tflock's JSON summary "
    "and backend kinds matched the generator's counts exactly for every size."
)
out.append("")
out.append("| modules | files | backends | tflock | rg | tflock / rg | CPU tflock | CPU rg "
           "| peak RSS tflock | load |")
out.append("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
ms = lambda s: f"{s * 1000:.0f} ms"
for r in rows:
    out.append(
        f"| {r['modules']:,} | {r['files']:,} | {r['backends']:,} | {ms(r['tflock_s'])} "
        f"| {ms(r['rg_s'])} | **{r['tflock_s'] / r['rg_s']:.2f}x** | {ms(r['tflock_cpu_s'])} "
        f"| {ms(r['rg_cpu_s'])} | {r['rss_kb'] / 1024:.0f} MB | {r['load']} |"
    )
out.append("")
out.append("tflock, rg: median wall time. CPU: median user + system time of one run. Peak RSS: "
           "largest \"Maximum resident set size\" of 3 runs under `/usr/bin/time -v`. Load: "
           "1-minute load average when that size's timing started; above 2 on 2 cores, other "
           "work was competing for the CPU and wall times are inflated.")
out.append("")
out.append(f"Machine: {machine}; {rg_version}.")
out.append("")
targets = []
big = max(rows, key=lambda r: r["modules"]) if rows else None
small = min(rows, key=lambda r: r["modules"]) if rows else None
if big:
    ratio = big["tflock_s"] / big["rg_s"]
    verdict = "holds" if ratio <= 1.5 else "does not hold"
    aim = ", within the 1.2x aimed for" if ratio <= 1.2 else ""
    if ratio > 1.5:
        aim = " (the floor under it, part by part: `scripts/bench-floor.sh`, below)"
    targets.append(f"- wall time at most 1.5x `rg` on {big['modules']:,} modules (aim: 1.2x): "
                   f"{ratio:.2f}x, **{verdict}**{aim}")
    mb = big["rss_kb"] / 1024
    targets.append(f"- peak memory under 150 MB: {mb:.0f} MB, **{'holds' if mb < 150 else 'does not hold'}**")
if big and small and big is not small:
    growth = big["tflock_s"] / small["tflock_s"]
    cpu_growth = big["tflock_cpu_s"] / small["tflock_cpu_s"]
    size = big["modules"] / small["modules"]
    targets.append(f"- {small['modules']:,} to {big['modules']:,} modules ({size:.0f}x): wall time "
                   f"{growth:.1f}x, CPU time {cpu_growth:.1f}x (rg: {big['rg_s'] / small['rg_s']:.1f}x), "
                   f"**{'no worse than linear' if growth <= size else 'worse than linear'}**")
out.append("Targets (issue 14, item 5; the memory and scaling targets are issue 5's):")
out.append("")
out.extend(targets)
out.append("")
out.append("Reproduce (builds `target/release/tflock`, installs ripgrep and time with apt when "
           "missing, regenerates the trees under `target/bench/`, rewrites this section):")
out.append("")
out.append("```sh")
sizes = " ".join(str(r["modules"]) for r in rows)
out.append(f"RUNS={runs} WARMUP={warmup} scripts/bench-scale.sh {sizes}")
out.append("```")
out.append("")
section = "\n".join(out)

# Text written by hand after END inside the section (analysis) is kept.
END = "<!-- end of generated results; notes below are kept by scripts/bench-scale.sh -->"
section += "\n" + END + "\n"
try:
    text = open(path).read()
except FileNotFoundError:
    text = ""
pattern = re.compile(r"^## Repository scale\n.*?(?=^## |\Z)", re.S | re.M)
found = pattern.search(text)
if not text.strip():
    text = section
elif found:
    old = found.group(0)
    notes = old.split(END, 1)[1].strip("\n") if END in old else ""
    new = section + ("\n" + notes + "\n" if notes else "") + "\n"
    text = text[: found.start()] + new + text[found.end():]
else:
    text = text.rstrip("\n") + "\n\n" + section
text = text.rstrip("\n") + "\n"
open(path, "w").write(text)
print(section)
PY
