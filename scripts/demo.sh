#!/usr/bin/env bash
# The main job on a local demo: a small repository whose S3 backends lock with
# DynamoDB, states in a local S3/DynamoDB emulator (moto).
#
# With `terraform` on PATH the lock is real: a `terraform apply` in envs/prod
# holds it while tflock is blocked; then tflock migrates, Terraform re-initialises
# and a second run shows its `.tflock` object appearing and going, and after the
# rollback Terraform runs on DynamoDB again. Without terraform the lock is
# simulated (seeded in Terraform's format), and the demo says so.
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
tfhome=$(mktemp -d)
tf_pid=
cleanup() {
  if [ -n "$tf_pid" ] && kill -0 "$tf_pid" 2>/dev/null; then
    touch "$work/envs/prod/release"
    wait "$tf_pid" 2>/dev/null || true
  fi
  stop_moto
  rm -rf "$work" "$tfhome"
}
trap cleanup EXIT

export AWS_ENDPOINT_URL="$MOTO_URL" AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_REGION=eu-west-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true

cp -R fixtures/demo/. "$work/"
cd "$work"

run() { echo; echo "\$ tflock $*"; "$tflock" "$@" || echo "(exit $?)"; }
seed() { "$MOTO_VENV/bin/python" "$root/scripts/seed.py" "$@"; }

if ! command -v terraform >/dev/null 2>&1; then
  echo
  echo "==> terraform is not on PATH: the lock below is SIMULATED (seeded in Terraform's format)"
  echo "==> seeding states, digests and a lock held by alice in the emulator"
  seed <<'JSON'
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
  run locks
  run plan
  echo
  echo "==> alice's apply finishes and releases its lock"
  seed --unlock acme-tfstate/envs/prod/terraform.tfstate <<'JSON'
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
  echo "==> done (simulated lock: install terraform >= 1.10 to see the real one); the emulator is stopped and $work removed"
  exit 0
fi

# ---------------------------------------------------------------------------
# The real thing: Terraform itself holds the lock.
# ---------------------------------------------------------------------------
echo "==> $(TF_CLI_CONFIG_FILE=/dev/null terraform version | head -n1): the locks below are Terraform's own"
# Offline: an empty CLI configuration, no provider to download (terraform_data is
# built in), path-style S3 addressing on the emulator.
: >"$tfhome/empty.tfrc"
export TF_CLI_CONFIG_FILE="$tfhome/empty.tfrc" TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1
export AWS_S3_USE_PATH_STYLE=true
prod="$work/envs/prod"
# A resource whose provisioner keeps the run (and its lock) open until the demo
# creates envs/prod/release (two minutes at most).
cat >"$prod/hold.tf" <<'HCL'
resource "terraform_data" "hold" {
  triggers_replace = timestamp()

  provisioner "local-exec" {
    command = "i=0; while [ ! -e release ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done; rm -f release"
  }
}
HCL

tf() { (cd "$prod" && terraform "$@" -no-color); }
# exists [--wait] item LOCKID | exists [--wait] object KEY: whether the emulator
# holds that lock item or object now (with --wait: within 30 s).
exists() {
  "$MOTO_VENV/bin/python" - "$@" <<'PY'
import sys
import time
import boto3
args = sys.argv[1:]
wait = args[0] == "--wait"
kind, name = args[-2], args[-1]
ddb = boto3.client("dynamodb", region_name="eu-west-1")
s3 = boto3.client("s3", region_name="eu-west-1")
def found():
    if kind == "item":
        item = ddb.get_item(
            TableName="acme-tf-locks", Key={"LockID": {"S": name}}, ConsistentRead=True
        ).get("Item")
        return bool(item and "Info" in item)
    listing = s3.list_objects_v2(Bucket="acme-tfstate")
    return name in [o["Key"] for o in listing.get("Contents", [])]
deadline = time.time() + (30 if wait else 0)
while not found():
    if time.time() > deadline:
        if wait:
            print("timed out waiting for %s %s" % (kind, name), file=sys.stderr)
        sys.exit(1)
    time.sleep(0.1)
PY
}
# hold_run: `terraform apply` in envs/prod in the background, holding its lock.
hold_run() {
  rm -f "$prod/release"
  (cd "$prod" && terraform apply -auto-approve -no-color >"$tfhome/apply.log" 2>&1) &
  tf_pid=$!
}
release_run() {
  touch "$prod/release"
  wait "$tf_pid"
  tf_pid=
  tail -n1 "$tfhome/apply.log"
}

echo "==> the bucket, the lock table, and the states of the other backends"
seed <<'JSON'
{
  "bucket": "acme-tfstate",
  "table": "acme-tf-locks",
  "region": "eu-west-1",
  "states": [
    "env:/canary/envs/prod/terraform.tfstate",
    "envs/staging/terraform.tfstate",
    "live/app/terraform.tfstate"
  ]
}
JSON
echo
echo "\$ (cd envs/prod && terraform init && terraform apply)   # on DynamoDB locking"
tf init -input=false >/dev/null
touch "$prod/release"
tf apply -auto-approve | tail -n1

echo
echo "==> a terraform apply in envs/prod is running and holds its DynamoDB lock"
hold_run
exists --wait item acme-tfstate/envs/prod/terraform.tfstate
run locks
run plan
echo
echo "==> the terraform apply finishes and releases its lock"
release_run
run plan
run apply --auto-approve --rollback-file tflock-rollback.json
echo
echo "==> the rollback file (mode $(stat -c %a tflock-rollback.json)) records every original byte:"
"$MOTO_VENV/bin/python" -c 'import json,sys; d=json.load(open("tflock-rollback.json")); print(json.dumps({k: v for k, v in d.items() if k != "files"}, indent=2)); [print("  ", f["path"], f["sha256_before"][:12], "->", f["sha256_after"][:12]) for f in d["files"]]'

echo
echo "\$ (cd envs/prod && terraform init -reconfigure)"
tf init -input=false -reconfigure | grep -i "successfully configured\|initialized" || true
echo
echo "==> a terraform apply on the lockfile: its envs/prod/terraform.tfstate.tflock appears"
hold_run
exists --wait object envs/prod/terraform.tfstate.tflock
echo "s3://acme-tfstate/envs/prod/terraform.tfstate.tflock exists while the run holds it; no DynamoDB lock item"
if exists item acme-tfstate/envs/prod/terraform.tfstate; then
  echo "Terraform still took the DynamoDB lock" >&2
  exit 1
fi
run locks
release_run
if exists object envs/prod/terraform.tfstate.tflock; then
  echo "the lockfile is still there" >&2
  exit 1
fi
echo "==> the run wrote the state on the lockfile alone; the .tflock object is gone again"
run plan --detailed-exitcode
run status

echo
echo "==> rollback: the files, and the digest Terraform on DynamoDB checks (stale since that run)"
run rollback tflock-rollback.json --auto-approve
echo
echo "\$ (cd envs/prod && terraform init -reconfigure && terraform apply)   # on DynamoDB again"
tf init -input=false -reconfigure >/dev/null
touch "$prod/release"
tf apply -auto-approve | tail -n1
echo
echo "==> done; the emulator is stopped and $work removed"
