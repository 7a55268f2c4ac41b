"""Seeds (and reads back) the moto S3/DynamoDB emulator for tests/verify.rs.

Reads one JSON document on stdin:

    {
      "endpoint": "http://127.0.0.1:PORT",
      "region": "eu-west-1",
      "buckets": ["b1"],
      "tables": ["t1"],
      "states":    [{"bucket": "b1", "key": "app/terraform.tfstate", "table": "t1"}],
      "locks":     [{"table": "t1", "bucket": "b1", "key": "app/terraform.tfstate",
                     "id": "uuid", "who": "alice@host", "operation": "OperationTypeApply",
                     "age_seconds": 300}],
      "lockfiles": [{"bucket": "b1", "key": "app/terraform.tfstate", ...same fields}],
      "objects":   [{"bucket": "b1", "key": "raw/key", "body": "text"}],
      "dump":      {"tables": ["t1"], "buckets": ["b1"]}
    }

and writes exactly what Terraform's S3 backend writes (DESIGN.md section 1):
- a state object at `key` (a small v4 state), and when `table` is given its digest
  item `LockID = "<bucket>/<key>-md5"` with `Digest` = lowercase hex MD5 of the bytes;
- a lock item `LockID = "<bucket>/<key>"` with `Info` = LockInfo JSON;
- a lockfile object `<key>.tflock` whose body is LockInfo JSON.

Prints one JSON document: for each dumped table its items (LockID -> attributes as
strings), for each dumped bucket its objects (key -> ETag).
"""

import datetime
import hashlib
import json
import sys
import uuid

import boto3


def lock_info(spec, path):
    age = float(spec.get("age_seconds", 120))
    created = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=age)
    # Go's time.Time marshals as RFC 3339 with nanoseconds, trailing zeros trimmed.
    created_text = spec.get("created") or created.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    # Same field order as Terraform's statemgr.LockInfo.
    return json.dumps(
        {
            "ID": spec.get("id") or str(uuid.uuid4()),
            "Operation": spec.get("operation", "OperationTypeApply"),
            "Info": spec.get("info", ""),
            "Who": spec.get("who", "someone@somewhere"),
            "Version": spec.get("version", "1.9.8"),
            "Created": created_text,
            "Path": path,
        },
        separators=(",", ":"),
    )


def state_bytes(key):
    state = {
        "version": 4,
        "terraform_version": "1.9.8",
        "serial": 3,
        "lineage": str(uuid.uuid5(uuid.NAMESPACE_URL, key)),
        "outputs": {},
        "resources": [],
        "check_results": None,
    }
    return (json.dumps(state, indent=2) + "\n").encode()


def main():
    doc = json.load(sys.stdin)
    region = doc.get("region", "eu-west-1")
    common = dict(
        endpoint_url=doc["endpoint"],
        region_name=region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    s3 = boto3.client("s3", config=boto3.session.Config(s3={"addressing_style": "path"}), **common)
    ddb = boto3.client("dynamodb", **common)

    for bucket in doc.get("buckets", []):
        if region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region}
            )
    for table in doc.get("tables", []):
        # The table Terraform's documentation asks for: hash key LockID (S).
        ddb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    for state in doc.get("states", []):
        body = state_bytes(state["key"])
        s3.put_object(Bucket=state["bucket"], Key=state["key"], Body=body)
        if state.get("table"):
            ddb.put_item(
                TableName=state["table"],
                Item={
                    "LockID": {"S": "%s/%s-md5" % (state["bucket"], state["key"])},
                    "Digest": {"S": hashlib.md5(body).hexdigest()},
                },
            )
    for lock in doc.get("locks", []):
        path = "%s/%s" % (lock["bucket"], lock["key"])
        ddb.put_item(
            TableName=lock["table"],
            Item={"LockID": {"S": path}, "Info": {"S": lock_info(lock, path)}},
        )
    for lock in doc.get("lockfiles", []):
        path = "%s/%s" % (lock["bucket"], lock["key"])
        s3.put_object(
            Bucket=lock["bucket"],
            Key=lock["key"] + ".tflock",
            Body=lock_info(lock, path).encode(),
            ContentType="application/json",
        )
    for obj in doc.get("objects", []):
        s3.put_object(Bucket=obj["bucket"], Key=obj["key"], Body=obj.get("body", "").encode())

    out = {"tables": {}, "buckets": {}}
    dump = doc.get("dump", {})
    for table in dump.get("tables", []):
        items = {}
        for page in ddb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
            for item in page["Items"]:
                items[item["LockID"]["S"]] = {
                    name: list(value.values())[0] for name, value in item.items()
                }
        out["tables"][table] = items
    for bucket in dump.get("buckets", []):
        keys = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys.update((o["Key"], o["ETag"]) for o in page.get("Contents", []))
        out["buckets"][bucket] = keys
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
