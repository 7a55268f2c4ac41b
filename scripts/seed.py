"""Seeds the S3/DynamoDB emulator exactly in Terraform's format (DESIGN.md section 1).

Reads JSON on stdin:
  {"bucket": B, "table": T, "region": R,
   "states": [state object keys...],               # objects + "-md5" digest items
   "locks": [{"state": K, "who": W, "operation": O, "age_seconds": N, "id": ID}],
   "lockfiles": [{"state": K, "who": W, ...}]}      # S3 <K>.tflock objects
`--unlock LOCKID` deletes one DynamoDB lock item instead (what Terraform's unlock does).
Endpoint and credentials come from the usual AWS_* environment variables.
"""
import datetime
import hashlib
import json
import sys
import uuid

import boto3


def lock_info(bucket, spec):
    created = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(
        seconds=spec.get("age_seconds", 0)
    )
    return {
        "ID": spec.get("id", str(uuid.uuid4())),
        "Operation": spec.get("operation", "OperationTypeApply"),
        "Info": "",
        "Who": spec.get("who", "someone@host"),
        "Version": spec.get("version", "1.9.8"),
        "Created": created.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "Path": f"{bucket}/{spec['state']}",
    }


def main():
    spec = json.load(sys.stdin)
    bucket, table, region = spec["bucket"], spec["table"], spec.get("region", "eu-west-1")
    s3 = boto3.client("s3", region_name=region)
    ddb = boto3.client("dynamodb", region_name=region)
    if sys.argv[1:2] == ["--unlock"]:
        ddb.delete_item(TableName=table, Key={"LockID": {"S": sys.argv[2]}})
        return
    existing = [b["Name"] for b in s3.list_buckets().get("Buckets", [])]
    if bucket not in existing:
        config = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=bucket, **config)
    if table and table not in ddb.list_tables()["TableNames"]:
        ddb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    for key in spec.get("states", []):
        body = json.dumps({"version": 4, "serial": 1, "lineage": key}).encode()
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        digest = hashlib.md5(body).hexdigest()
        ddb.put_item(TableName=table, Item={"LockID": {"S": f"{bucket}/{key}-md5"}, "Digest": {"S": digest}})
    for lock in spec.get("locks", []):
        info = json.dumps(lock_info(bucket, lock))
        ddb.put_item(TableName=table, Item={"LockID": {"S": f"{bucket}/{lock['state']}"}, "Info": {"S": info}})
    for lock in spec.get("lockfiles", []):
        s3.put_object(Bucket=bucket, Key=f"{lock['state']}.tflock", Body=json.dumps(lock_info(bucket, lock)).encode())


if __name__ == "__main__":
    main()
