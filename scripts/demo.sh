#!/usr/bin/env bash
# The main job on a local demo: a small repository whose S3 backends lock with
# DynamoDB, states in a local S3/DynamoDB emulator (moto) with one lock held.
# Shows `locks`, a `plan` blocked by that lock, the lock released, `apply`, the
# rollback file, a second plan with nothing left to do, and `rollback`.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

echo "==> building tflock"
cargo build --quiet --bin tflock
tflock="$root/target/debug/tflock"

# shellcheck source=scripts/moto.sh
source scripts/moto.sh
echo "==> starting the S3/DynamoDB emulator (moto) on loopback"
start_moto
work=$(mktemp -d)
cleanup() { stop_moto; rm -rf "$work"; }
trap cleanup EXIT

export AWS_ENDPOINT_URL="$MOTO_URL" AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_REGION=eu-west-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true

cp -R fixtures/demo/. "$work/"
cd "$work"

echo "==> seeding states, digests and a lock held by alice in the emulator"
"$MOTO_VENV/bin/python" "$root/scripts/seed.py" <<'JSON'
{
  "bucket": "acme-tfstate",
  "table": "acme-tf-locks",
  "region": "eu-west-1",
  "states": [
    "envs/prod/terraform.tfstate",
    "env:/canary/envs/prod/terraform.tfstate",
    "envs/staging/terraform.tfstate",
    "live/app/terraform.tfstate"
  ],
  "locks": [
    {"state": "envs/prod/terraform.tfstate", "who": "alice@laptop", "operation": "OperationTypeApply", "age_seconds": 90}
  ]
}
JSON

run() { echo; echo "\$ tflock $*"; "$tflock" "$@" || echo "(exit $?)"; }

run locks
run plan
echo
echo "==> alice's apply finishes and releases its lock"
"$MOTO_VENV/bin/python" "$root/scripts/seed.py" --unlock acme-tfstate/envs/prod/terraform.tfstate <<'JSON'
{"bucket": "acme-tfstate", "table": "acme-tf-locks", "region": "eu-west-1"}
JSON
run plan
run apply --auto-approve --rollback-file tflock-rollback.json
echo
echo "==> the rollback file (mode $(stat -c %a tflock-rollback.json)) records every original byte:"
"$MOTO_VENV/bin/python" -c 'import json,sys; d=json.load(open("tflock-rollback.json")); print(json.dumps({k: v for k, v in d.items() if k != "files"}, indent=2)); [print("  ", f["path"], f["sha256_before"][:12], "->", f["sha256_after"][:12]) for f in d["files"]]'
run plan --detailed-exitcode
run status
echo
echo "==> a Terraform run writes a new prod state while on lockfiles (the digest goes stale)"
printf '{"version":4,"serial":2}' > "$work/state.json"
"$MOTO_VENV/bin/python" -c 'import boto3,sys; boto3.client("s3", region_name="eu-west-1").put_object(Bucket="acme-tfstate", Key="envs/prod/terraform.tfstate", Body=open(sys.argv[1],"rb").read())' "$work/state.json"
run rollback tflock-rollback.json --auto-approve
echo
echo "==> done; the emulator is stopped and $work removed"
