#!/usr/bin/env bash
# Lock-verification benchmark (issue 3, "Performance"). Starts the moto emulator,
# seeds one bucket and one DynamoDB table with N Terraform states exactly in
# Terraform's format (no locks held), then:
#   1. runs examples/verify_bench.rs: tflock::verify::verify on N targets against a
#      naive baseline (GetItem + HeadObject per state), interleaved, RUNS times;
#   2. times the real CLI, `tflock plan --format json`, on a tree of N backend
#      configs, and reads its request count from the text plan and `tflock locks`.
# Usage: scripts/bench-verify.sh [N] [RUNS]     (defaults: 1000, 5)
# Builds target/release/tflock and target/release/examples/verify_bench first (the
# first release build of the AWS SDK takes ~5 minutes on 2 cores); SKIP_BUILD=1
# reuses the binaries already there.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
N=${1:-1000}
RUNS=${2:-5}
BUCKET=tflock-bench
TABLE=tflock-bench-locks
REGION=us-east-1
WORKSPACES=5 # svc-0..svc-4 also get a workspace state env:/staging/...

if [ "${SKIP_BUILD:-}" != 1 ]; then
  cargo build --release --locked --bin tflock --example verify_bench
fi

# shellcheck source=scripts/moto.sh
source scripts/moto.sh
MOTO_LOG="$root/target/moto-bench.log" start_moto
work=$(mktemp -d)
cleanup() {
  stop_moto
  rm -rf "$work"
}
trap cleanup EXIT

export AWS_ENDPOINT_URL="$MOTO_URL" AWS_REGION="$REGION" AWS_DEFAULT_REGION="$REGION"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL_S3 AWS_ENDPOINT_URL_DYNAMODB
export AWS_CONFIG_FILE="$work/none" AWS_SHARED_CREDENTIALS_FILE="$work/none"
export AWS_EC2_METADATA_DISABLED=true

echo "== seeding $N states (+$WORKSPACES workspace states) into s3://$BUCKET and $TABLE at $MOTO_URL"
"$MOTO_VENV/bin/python" - "$MOTO_URL" "$BUCKET" "$TABLE" "$N" "$WORKSPACES" <<'PY'
import hashlib, json, sys, uuid
import boto3

url, bucket, table, n, workspaces = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
s3 = boto3.client("s3", endpoint_url=url)
ddb = boto3.client("dynamodb", endpoint_url=url)
s3.create_bucket(Bucket=bucket)
# The lock table exactly as Terraform's docs create it: hash key LockID (S).
ddb.create_table(
    TableName=table,
    KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
    AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
    BillingMode="PAY_PER_REQUEST",
)

def state(i, ws):
    # A Terraform state (format version 4) as `terraform apply` writes it.
    return json.dumps({
        "version": 4,
        "terraform_version": "1.9.8",
        "serial": 3,
        "lineage": str(uuid.UUID(int=i * 16 + ws)),
        "outputs": {"name": {"value": f"svc-{i}", "type": "string"}},
        "resources": [],
        "check_results": None,
    }, indent=2).encode() + b"\n"

keys = [(i, 0, f"svc-{i}/terraform.tfstate") for i in range(n)]
keys += [(i, 1, f"env:/staging/svc-{i}/terraform.tfstate") for i in range(workspaces)]
digests = []
for i, ws, key in keys:
    body = state(i, ws)
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
    # After each write Terraform stores the state's MD5 under "<bucket>/<key>-md5".
    digests.append({"LockID": {"S": f"{bucket}/{key}-md5"}, "Digest": {"S": hashlib.md5(body).hexdigest()}})
for start in range(0, len(digests), 25):
    batch = [{"PutRequest": {"Item": d}} for d in digests[start:start + 25]]
    ddb.batch_write_item(RequestItems={table: batch})
objects = sum(p.get("KeyCount", 0) for p in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket))
items = ddb.scan(TableName=table, Select="COUNT")["Count"]
print(f"seeded {objects} state objects, {items} digest items, no lock items, no lockfiles")
PY

echo
load() { sed 's/ [0-9]*\/.*//' /proc/loadavg; }
echo "== library: tflock::verify::verify vs naive baseline ($RUNS runs each, interleaved)"
echo "load average (1, 5, 15 min) before: $(load)"
echo "\$ target/release/examples/verify_bench --bucket $BUCKET --table $TABLE --region $REGION --states $N --runs $RUNS --concurrency 16"
target/release/examples/verify_bench --bucket "$BUCKET" --table "$TABLE" --region "$REGION" \
  --states "$N" --runs "$RUNS" --concurrency 16
echo "load average after: $(load)"

echo
echo "== CLI: tflock plan on a tree of $N backend \"s3\" configs"
tree="$work/repo"
for ((i = 0; i < N; i++)); do
  mkdir -p "$tree/svc-$i"
  cat >"$tree/svc-$i/main.tf" <<EOF
terraform {
  backend "s3" {
    bucket         = "$BUCKET"
    key            = "svc-$i/terraform.tfstate"
    region         = "$REGION"
    dynamodb_table = "$TABLE"
  }
}
EOF
done
bin="$root/target/release/tflock"
cd "$tree"
start=$(date +%s%N)
set +e
"$bin" plan --format json . >"$work/plan.json"
rc=$?
set -e
end=$(date +%s%N)
echo "\$ tflock plan --format json .   (exit $rc, $(((end - start) / 1000000)) ms wall)"
"$MOTO_VENV/bin/python" - "$work/plan.json" <<'PY'
import json, sys
plan = json.load(open(sys.argv[1]))
s = plan["summary"]
states = sum(len(b["locks"]["states"]) for b in plan["backends"] if isinstance(b["locks"], dict))
probes = sorted({json.dumps(b["locks"].get("probe")) for b in plan["backends"] if isinstance(b["locks"], dict)})
print(f"summary: {json.dumps(s)}")
print(f"states in locks: {states}; probe results: {', '.join(probes)}")
print("aws requests in JSON summary:", s.get("aws_requests", "(not reported by plan --format json)"))
PY
set +e
note=$("$bin" plan --no-color . 2>/dev/null | grep -m1 '^Lock checks:')
echo "\$ tflock plan .   -> $note"
locks_requests=$("$bin" locks --format json . 2>/dev/null |
  "$MOTO_VENV/bin/python" -c 'import json,sys; s=json.load(sys.stdin)["summary"]; print(s["aws_requests"], "requests,", s["states"], "states,", s["held"], "held,", s["unverified"], "unverified")')
set -e
echo "\$ tflock locks --format json .   -> summary: $locks_requests (no probe)"
echo
echo "machine: $(nproc) cores, $(uname -sm), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
