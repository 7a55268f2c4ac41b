#!/usr/bin/env bash
# The long fuzz run (CI runs a short one as part of `cargo test`), then the
# reference HCL checker over a large generated sample of rewritten outputs.
#
#   scripts/fuzz.sh [ITERATIONS] [ORACLE_FILES]     (defaults: 200000, 2000)
#
# 1. `tests/fuzz.rs` in release mode with TFLOCK_FUZZ_ITERATIONS=ITERATIONS: mutated
#    fixture/generated inputs, both strategies, every property (see the file's
#    header), then the reference HCL checker on a sample of the rewritten mutants.
#    The seed is random unless TFLOCK_FUZZ_SEED is set; it is printed. Failing
#    inputs are minimized and saved under fixtures/fuzz-regressions/, whose files
#    `replay_regressions` replays (it fails while a saved bug is unfixed).
# 2. `oracle_sample` writes ORACLE_FILES rewritten outputs of generated inputs
#    formatted by hclwrite (so `terraform fmt`-clean); `hclcheck parse` must accept
#    every input and output, and `hclcheck fmt -check` every output of an HCL input.
#    Failing files are kept in target/fuzz-oracle-failures/ and their inputs saved
#    as fixtures/fuzz-regressions/{fmt,hcl-parse}-gen-<hash>.<ext>.
# Exit status: 0 when nothing failed.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
iterations=${1:-200000}
oracle_files=${2:-2000}
export TFLOCK_FUZZ_SEED=${TFLOCK_FUZZ_SEED:-random}
status=0

sh ../shared/tools/hclcheck/build.sh "$root/target/hclcheck" >/dev/null || exit 1
export TFLOCK_HCLCHECK="$root/target/hclcheck"
hclcheck=$TFLOCK_HCLCHECK
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== fuzz: $iterations iterations (release build)"
t0=$(date +%s)
TFLOCK_FUZZ_ITERATIONS=$iterations cargo test --release --test fuzz -- --nocapture 2>&1 |
  tee "$tmp/fuzz.log" || status=1
t1=$(date +%s)
echo "== fuzz: done in $((t1 - t0))s (including the build)"

echo "== oracle: $oracle_files rewritten outputs of fmt-clean generated inputs"
TFLOCK_FUZZ_ORACLE_DIR=$tmp TFLOCK_FUZZ_ORACLE_FILES=$oracle_files \
  cargo test --release --test fuzz -- --nocapture --exact oracle_sample || exit 1
mkdir -p "$tmp/in" "$tmp/out"

# Files named by the checker (`FILE:LINE:COL: ...` or `FILE`), one a line.
named() { sed -E 's/:[0-9]+:[0-9]+: .*$//' | grep -v '^$' | sort -u; }
check() { # check ARGS... < list of files (NUL-separated)
  xargs -0 -r "$hclcheck" "$@" 2>&1 | named
}
count() { grep -c . || true; }

find "$tmp/in" -type f -print0 | sort -z >"$tmp/inputs"
find "$tmp/out" -type f -print0 | sort -z >"$tmp/outputs"
find "$tmp/in" -type f ! -name '*.json' -print0 | sort -z >"$tmp/hcl-inputs"
n_in=$(tr -cd '\0' <"$tmp/inputs" | wc -c)
n_out=$(tr -cd '\0' <"$tmp/outputs" | wc -c)
n_hcl_in=$(tr -cd '\0' <"$tmp/hcl-inputs" | wc -c)

bad_in=$(check parse <"$tmp/inputs")
bad_out=$(check parse <"$tmp/outputs")
unclean_in=$(check fmt -check <"$tmp/hcl-inputs")
# Outputs of HCL inputs that are fmt-clean.
: >"$tmp/clean-outputs"
while IFS= read -r -d '' out; do
  base=$(basename "$out")
  stem=${base%%-*}
  ext=${base#*.}
  case "$ext" in *json) continue ;; esac
  if ! grep -qxF "$tmp/in/$stem.$ext" <<<"$unclean_in"; then
    printf '%s\0' "$out" >>"$tmp/clean-outputs"
  fi
done <"$tmp/outputs"
n_clean_out=$(tr -cd '\0' <"$tmp/clean-outputs" | wc -c)
unclean_out=$(check fmt -check <"$tmp/clean-outputs")
t2=$(date +%s)

n_heredoc_in=$(find "$tmp/in" -name '*_heredoc.*' | wc -l)
n_heredoc_out=$(find "$tmp/out" -name '*_heredoc-*' | wc -l)
echo "oracle: $((n_in - n_heredoc_in)) generated inputs ($((n_hcl_in - n_heredoc_in)) HCL, $((n_in - n_hcl_in)) JSON) + $n_heredoc_in generate-heredoc contents checked alone"
echo "oracle: $((n_out - n_heredoc_out)) rewritten outputs + $n_heredoc_out rewritten heredoc contents"
echo "oracle: hclcheck parse: $(count <<<"$bad_in") of $n_in inputs rejected, $(count <<<"$bad_out") of $n_out outputs rejected"
echo "oracle: hclcheck fmt -check: $(count <<<"$unclean_in") of $n_hcl_in HCL inputs not clean; $(count <<<"$unclean_out") of $n_clean_out outputs of clean inputs not clean"
echo "oracle: done in $((t2 - t1))s"
echo "== summary"
grep -E '^fuzz summary|^fuzz: HCL oracle:|^replayed ' "$tmp/fuzz.log" || true
if [ -n "$bad_in$bad_out$unclean_in$unclean_out" ]; then
  status=1
  keep="$root/target/fuzz-oracle-failures"
  rm -rf "$keep"
  mkdir -p "$keep"
  saved=()
  save() { # save CLASS OUTPUT: keeps the output's (whole) input as a fuzz regression
    local base stem ext input name
    base=$(basename "$2")
    stem=${base%%-*}
    stem=${stem%_heredoc}
    input=$(find "$tmp/in" -name "$stem.*" ! -name '*_heredoc.*' | head -1)
    cp "$2" "$input" "$keep/" 2>/dev/null || true
    [ -n "$input" ] || return 0
    ext=$(basename "$input")
    ext=${ext#*.}
    name="$1-gen-$(sha256sum "$input" | cut -c1-8).$ext"
    cp "$input" "$root/fixtures/fuzz-regressions/$name"
    saved+=("fixtures/fuzz-regressions/$name")
  }
  for f in $bad_out; do save hcl-parse "$f"; done
  for f in $unclean_out; do save fmt "$f"; done
  echo "oracle: FAILED; the files are in $keep:"
  printf '  %s\n' $bad_in $bad_out $unclean_in $unclean_out | sed "s#$tmp/##" | head -20
  echo "oracle: inputs saved as regressions (replayed by tests/fuzz.rs with hclcheck):"
  printf '  %s\n' "${saved[@]}" | sort -u | head -20
  for f in $(printf '%s\n' $bad_out | head -3); do
    echo "--- $(basename "$f"): hclcheck parse"
    "$hclcheck" parse "$f" | head -5
  done
  for f in $(printf '%s\n' $unclean_out | head -3); do
    echo "--- $(basename "$f"): diff against hclwrite.Format"
    "$hclcheck" fmt "$f" | diff "$f" - | head -20
  done
fi
exit $status
