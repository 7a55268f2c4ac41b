"""Seeds (and reads back) the moto S3/DynamoDB emulator for tests/verify.rs and
tests/rollout.rs.

Reads one JSON document on stdin (or, with `--lines`, one document per line, each
answered by one line, so a test pays for Python and boto3 once):

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

Optional fields (tests/rollout.rs), each run in this order after `buckets`/`tables`
(versioning, other_tables) or after `objects` (the rest):

      "versioning":      ["b1"],   PutBucketVersioning Enabled
      "other_tables":    [{"name": "t2", "hash_key": "id", "type": "S"}],
                         tables that are not Terraform lock tables
      "delete_objects":  [{"bucket": "b1", "key": "k"}],
      "delete_tables":   ["t1"],
      "try_locks":       [{"table": "t1", "bucket": "b1", "key": "k", ...lock fields}],
                         lock as Terraform does (conditional PutItem
                         `attribute_not_exists(LockID)`, then PutObject `<key>.tflock` with
                         `If-None-Match: *`); each lock taken is released again at once
      "terraform_reads": [{"table": "t1", "bucket": "b1", "key": "k"}],
                         read the state as Terraform's S3 backend does: the object's MD5
                         and a consistent GetItem of `<bucket>/<key>-md5`
      "describe_tables": ["t1"]
      "raw_items":       [{"table": "t1", "item": {"LockID": {"S": "b1/k"}}}],
                         a table item exactly as given, in DynamoDB's JSON (after `locks`)
      "dynamodb_writes": [{"bucket": "b1", "key": "k", "table": "t1", "body": "text"}],
                         a state write as Terraform on DynamoDB locking makes it: the
                         object and its digest item (run after `objects`)

and writes exactly what Terraform's S3 backend writes (DESIGN.md section 1):
- a state object at `key` (a small v4 state), and when `table` is given its digest
  item `LockID = "<bucket>/<key>-md5"` with `Digest` = lowercase hex MD5 of the bytes;
- a lock item `LockID = "<bucket>/<key>"` with `Info` = LockInfo JSON;
- a lockfile object `<key>.tflock` whose body is LockInfo JSON.

Prints one JSON document: for each dumped table its items (LockID -> attributes as
strings), for each dumped bucket its objects (key -> ETag); and, when asked,
"try_locks": [{"dynamodb": "taken"|"refused"|"error: ...", "lockfile": ...}],
"terraform_reads": [{"digest": str|null, "object_md5": str|null, "ok": bool}] (ok: what
Terraform accepts, no digest item or one equal to the object's MD5; a digest item for
a missing object fails), "tables_exist": {"t1": bool}.
"""

import datetime
import hashlib
import json
import sys
import uuid

import boto3
import botocore.exceptions


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


def error_code(e):
    return e.response.get("Error", {}).get("Code", "")


def try_lock(s3, ddb, lock):
    """Terraform's Lock(): DynamoDB first, then the lockfile; unlocks what it took."""
    path = "%s/%s" % (lock["bucket"], lock["key"])
    info = lock_info(lock, path)
    result = {}
    try:
        ddb.put_item(
            TableName=lock["table"],
            Item={"LockID": {"S": path}, "Info": {"S": info}},
            ConditionExpression="attribute_not_exists(LockID)",
        )
        result["dynamodb"] = "taken"
        ddb.delete_item(TableName=lock["table"], Key={"LockID": {"S": path}})
    except botocore.exceptions.ClientError as e:
        code = error_code(e)
        result["dynamodb"] = "refused" if code == "ConditionalCheckFailedException" else "error: " + code
    try:
        s3.put_object(
            Bucket=lock["bucket"],
            Key=lock["key"] + ".tflock",
            Body=info.encode(),
            ContentType="application/json",
            IfNoneMatch="*",
        )
        result["lockfile"] = "taken"
        s3.delete_object(Bucket=lock["bucket"], Key=lock["key"] + ".tflock")
    except botocore.exceptions.ClientError as e:
        code = error_code(e)
        status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        refused = code == "PreconditionFailed" or status == 412
        result["lockfile"] = "refused" if refused else "error: " + code
    return result


def terraform_read(s3, ddb, read):
    """Terraform's RemoteClient.Get(): MD5 of the object against the digest item."""
    try:
        body = s3.get_object(Bucket=read["bucket"], Key=read["key"])["Body"].read()
        object_md5 = hashlib.md5(body).hexdigest()
    except botocore.exceptions.ClientError as e:
        if error_code(e) not in ("NoSuchKey", "404"):
            raise
        object_md5 = None
    item = ddb.get_item(
        TableName=read["table"],
        Key={"LockID": {"S": "%s/%s-md5" % (read["bucket"], read["key"])}},
        ConsistentRead=True,
    ).get("Item")
    digest = item["Digest"]["S"] if item and "Digest" in item else None
    # len(expected) > 0 && !bytes.Equal(expected, payload.MD5) -> "does not have the
    # expected content"; a missing object has no MD5.
    ok = not digest or digest == object_md5
    return {"digest": digest, "object_md5": object_md5, "ok": ok}


def table_exists(ddb, table):
    try:
        ddb.describe_table(TableName=table)
        return True
    except botocore.exceptions.ClientError as e:
        if error_code(e) == "ResourceNotFoundException":
            return False
        raise


CLIENTS = {}


def clients(endpoint, region):
    """boto3 clients for one endpoint and region, made once per process."""
    if (endpoint, region) not in CLIENTS:
        common = dict(
            endpoint_url=endpoint,
            region_name=region,
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        s3 = boto3.client(
            "s3", config=boto3.session.Config(s3={"addressing_style": "path"}), **common
        )
        CLIENTS[(endpoint, region)] = (s3, boto3.client("dynamodb", **common))
    return CLIENTS[(endpoint, region)]


def run(doc):
    region = doc.get("region", "eu-west-1")
    s3, ddb = clients(doc["endpoint"], region)

    for bucket in doc.get("buckets", []):
        if region == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region}
            )
    for bucket in doc.get("versioning", []):
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for table in doc.get("other_tables", []):
        ddb.create_table(
            TableName=table["name"],
            KeySchema=[{"AttributeName": table["hash_key"], "KeyType": "HASH"}],
            AttributeDefinitions=[
                {"AttributeName": table["hash_key"], "AttributeType": table.get("type", "S")}
            ],
            BillingMode="PAY_PER_REQUEST",
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
    for raw in doc.get("raw_items", []):
        # An item exactly as given (tests/edges.rs: a lock item without Info).
        ddb.put_item(TableName=raw["table"], Item=raw["item"])
    for obj in doc.get("objects", []):
        s3.put_object(Bucket=obj["bucket"], Key=obj["key"], Body=obj.get("body", "").encode())

    for write in doc.get("dynamodb_writes", []):
        # A state write as Terraform on DynamoDB locking makes it: the object,
        # then its digest item (tests/readers.rs: a straggler after a migration).
        body = write.get("body", "").encode()
        s3.put_object(Bucket=write["bucket"], Key=write["key"], Body=body)
        ddb.put_item(
            TableName=write["table"],
            Item={
                "LockID": {"S": "%s/%s-md5" % (write["bucket"], write["key"])},
                "Digest": {"S": hashlib.md5(body).hexdigest()},
            },
        )
    for obj in doc.get("delete_objects", []):
        s3.delete_object(Bucket=obj["bucket"], Key=obj["key"])
    for table in doc.get("delete_tables", []):
        ddb.delete_table(TableName=table)

    out = {"tables": {}, "buckets": {}}
    if "try_locks" in doc:
        out["try_locks"] = [try_lock(s3, ddb, lock) for lock in doc["try_locks"]]
    if "terraform_reads" in doc:
        out["terraform_reads"] = [terraform_read(s3, ddb, r) for r in doc["terraform_reads"]]
    if "describe_tables" in doc:
        out["tables_exist"] = {t: table_exists(ddb, t) for t in doc["describe_tables"]}
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
    return out


def main():
    if sys.argv[1:] == ["--lines"]:
        # One document per stdin line, one JSON answer per stdout line, until EOF;
        # a failure answers {"error": "..."} and the session goes on.
        for line in sys.stdin:
            if not line.strip():
                continue
            try:
                answer = run(json.loads(line))
            except Exception as e:  # noqa: BLE001 - reported to the test
                answer = {"error": "%s: %s" % (type(e).__name__, e)}
            sys.stdout.write(json.dumps(answer) + "\n")
            sys.stdout.flush()
        return
    json.dump(run(json.load(sys.stdin)), sys.stdout)


if __name__ == "__main__":
    main()
