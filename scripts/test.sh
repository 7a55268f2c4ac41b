#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: builds the reference HCL checker,
# then every Rust test (unit, end-to-end, property), with the oracle tests enabled.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

# The reference HCL checker (HashiCorp's parser and formatter), from ../shared.
hclcheck_src="$root/../shared/tools/hclcheck/build.sh"
if [ -x "$hclcheck_src" ] || [ -f "$hclcheck_src" ]; then
  mkdir -p target
  sh "$hclcheck_src" "$root/target/hclcheck" >/dev/null
  export TFLOCK_HCLCHECK="$root/target/hclcheck"
elif [ "${CI:-}" = "true" ]; then
  echo "scripts/test.sh: ../shared/tools/hclcheck is missing; CI needs it" >&2
  exit 1
else
  echo "scripts/test.sh: ../shared/tools/hclcheck not found; oracle tests will say they skipped" >&2
fi

cargo test --all-targets --locked "$@"
