#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: builds the reference HCL checker,
# installs and starts the moto S3/DynamoDB emulator on loopback, then runs every
# Rust test (unit, end-to-end, property) with the oracle and AWS tests enabled.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

# The reference HCL checker (HashiCorp's parser and formatter), from ../shared.
hclcheck_src="$root/../shared/tools/hclcheck/build.sh"
if [ -f "$hclcheck_src" ]; then
  mkdir -p target
  sh "$hclcheck_src" "$root/target/hclcheck" >/dev/null
  export TFLOCK_HCLCHECK="$root/target/hclcheck"
elif [ "${CI:-}" = "true" ]; then
  echo "scripts/test.sh: ../shared/tools/hclcheck is missing; CI needs it" >&2
  exit 1
else
  echo "scripts/test.sh: ../shared/tools/hclcheck not found; oracle tests will say they skipped" >&2
fi

# The AWS emulator: tests that need it fail (not skip) when it is missing on CI.
# shellcheck source=scripts/moto.sh
source scripts/moto.sh
MOTO_LOG="$root/target/moto.log" start_moto
trap stop_moto EXIT
export TFLOCK_TEST_MOTO_URL="$MOTO_URL"
export TFLOCK_TEST_PYTHON="$MOTO_VENV/bin/python"

# Property tests explore with a fixed seed on CI, so a run is repeatable; set
# PROPTEST_RNG_SEED (or run scripts/fuzz.sh) to explore further.
export PROPTEST_RNG_SEED="${PROPTEST_RNG_SEED:-20261127}"

# The library, the binary and every test target (examples are built by clippy).
log="$root/target/test-output.log"
set +e
cargo test --lib --bins --tests --locked "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line with the totals of every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
exit "$status"
