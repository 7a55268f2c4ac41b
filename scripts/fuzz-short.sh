#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo-fuzz / libFuzzer) of every rewriter and of the
# resolve stage's evaluator, each target for SECONDS, one after the other.
#
#   scripts/fuzz-short.sh [SECONDS] [TARGET...]     (defaults: 30, every target)
#
# Targets (fuzz/fuzz_targets/): hcl, json, tfbackend, terragrunt, heredoc, eval;
# their oracles are tflock::fuzzing (src/fuzzing.rs), the properties that
# tests/fuzz.rs checks too. Each run starts from the committed corpus
# fuzz/corpus/TARGET and grows a working copy in fuzz/corpus-work/TARGET (not in
# git). A finding is saved as fuzz/artifacts/TARGET/crash-* (or timeout-*,
# oom-*); the script's exit status is then 1. Reproduce one with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run -s none TARGET fuzz/artifacts/TARGET/crash-...
# With FUZZ_MERGE=1 the working corpus is merged back into fuzz/corpus/TARGET,
# keeping a smallest set of inputs that covers every edge any of them covers
# (libFuzzer -set_cover_merge=1 -use_counters=0: a few hundred files, so the
# replay stays fast), for committing;
# `cargo test --test fuzz replay_fuzz_corpus` replays that corpus (no cargo-fuzz
# needed) with the reference HCL checker.
#
# libFuzzer needs nightly-only compiler flags: RUSTC_BOOTSTRAP=1 lets this
# stable toolchain accept them. No sanitizer (-s none): tflock has no unsafe
# code, and the build and the runs are several times faster without ASan; the
# build is release with debug assertions and overflow checks (-a).
# Each input has a 10 s limit (libFuzzer -timeout: a hang is a finding) and is
# cut to 16 KiB (-max_len; the targets also cut at 64 KiB). One process, one job:
# the machine is shared.
# scripts/fuzz.sh (the mutation fuzzer of tests/fuzz.rs with the hclcheck
# oracle sample) stays as it is: it needs no nightly flags and runs in CI.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
seconds=${1:-30}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(hcl json tfbackend terragrunt heredoc eval)
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz (crates.io)"
  cargo install cargo-fuzz --locked || exit 1
fi
flags=(-a -s none)
echo "== building the fuzz targets"
(cd fuzz && cargo fuzz build "${flags[@]}") || exit 1

status=0
summary=()
for t in "${targets[@]}"; do
  work="$root/fuzz/corpus-work/$t"
  mkdir -p "$work" "$root/fuzz/artifacts/$t"
  log="$root/fuzz/artifacts/$t.log"
  echo "== $t: ${seconds}s"
  (cd fuzz && cargo fuzz run "${flags[@]}" "$t" "$work" "corpus/$t" -- \
    -dict=hcl.dict -max_total_time="$seconds" -timeout=10 -max_len=16384 \
    -print_final_stats=1 \
    -artifact_prefix="$root/fuzz/artifacts/$t/") >"$log" 2>&1 || status=1
  # libFuzzer's last status line (`#N DONE cov: .. ft: .. corp: ..`) and its final stats.
  done_line=$(grep -E '^#[0-9]+' "$log" | tail -1)
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  findings=$(find "$root/fuzz/artifacts/$t" -type f | wc -l)
  summary+=("$t: ${runs:-?} executions; last: ${done_line:-none}; findings: $findings")
  grep -E 'panicked|ERROR: libFuzzer|SUMMARY' "$log" | head -5
  if [ "${FUZZ_MERGE:-}" = 1 ]; then
    fresh=$(mktemp -d)
    (cd fuzz && cargo fuzz run "${flags[@]}" "$t" "$fresh" "corpus/$t" "$work" -- \
      -set_cover_merge=1 -use_counters=0 -max_len=16384 -timeout=10) >"$log.merge" 2>&1 || status=1
    if [ -n "$(ls -A "$fresh")" ]; then
      rm -rf "$root/fuzz/corpus/$t"
      mv "$fresh" "$root/fuzz/corpus/$t"
      chmod 755 "$root/fuzz/corpus/$t"
      echo "$t: merged corpus: $(ls "$root/fuzz/corpus/$t" | wc -l) files"
    fi
  fi
done
echo "== summary"
printf '%s\n' "${summary[@]}"
exit $status
