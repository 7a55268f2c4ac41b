#!/usr/bin/env python3
"""Generate a synthetic Terraform / Terragrunt monorepo for the scale benchmark.

Usage: scripts/gen-monorepo.py N OUT_DIR [--seed S]

Creates N root modules under OUT_DIR (which must not exist or be empty):

* about 90% are Terraform root modules (live/<team>/<env>/<service>/), each with a
  backend and about five realistic files (versions.tf or backend.tf, main.tf,
  variables.tf, outputs.tf, providers.tf/terraform.tfvars). Backend styles rotate:
  aligned with comments, unaligned, `backend "s3" {}` + a `.tfbackend` partial
  configuration, a custom `workspace_key_prefix`, a dual configuration (both
  `dynamodb_table` and `use_lockfile = true`), `.tf.json`, and some already migrated
  (`use_lockfile = true` only);
* about 10% are Terragrunt units (terragrunt/<stack>/<env>/<unit>/terragrunt.hcl)
  under two shared roots (`root.hcl`, one with DynamoDB locking, one migrated);
* shared child modules (modules/<name>/) without backends, some main.tf files with
  `data "terraform_remote_state"` (the word `backend` without being one);
* `.terraform/` caches in some modules and `.terragrunt-cache/` in some units, holding
  backend files with `dynamodb_table` that a correct tool must skip.

Prints a JSON summary: files written, backends per kind, and the counts
`tflock plan --offline --format json` must report (summary.backends, migrate,
already_migrated, none, files_changed). Deterministic for a given N and seed.
"""

import json
import os
import random
import sys

TEAMS = ["payments", "identity", "search", "platform", "data", "growth", "ml", "edge"]
ENVS = ["dev", "staging", "prod"]
REGIONS = ["eu-west-1", "us-east-1", "us-west-2", "ap-southeast-2"]
BUCKETS = ["acme-tfstate", "acme-tfstate-eu", "acme-platform-state"]
TABLES = ["acme-tf-locks", "acme-tf-locks-eu", "platform-locks"]
SHARED_MODULES = ["vpc", "ecs-service", "rds", "s3-bucket", "iam-role", "alb"]

# Terraform root-module backend styles, in rotation (weights by repetition).
STYLES = [
    "aligned",
    "aligned",
    "unaligned",
    "partial",
    "workspace_prefix",
    "json",
    "migrated",
    "aligned",
    "dual",
    "unaligned",
]


class Tree:
    def __init__(self, root):
        self.root = root
        self.files = 0
        self.bytes = 0

    def write(self, rel, text):
        path = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        data = text.encode()
        with open(path, "wb") as f:
            f.write(data)
        self.files += 1
        self.bytes += len(data)


def backend_tf(style, bucket, key, table, region, rng):
    """The terraform block of a root module, in one of the styles."""
    # At least 1.10: an older required_version would (rightly) block the migration.
    version = rng.choice(["1.10", "1.11", "1.12"])
    providers = (
        '  required_providers {\n'
        '    aws = {\n'
        '      source  = "hashicorp/aws"\n'
        '      version = "~> 5.80"\n'
        '    }\n'
        '  }\n'
    )
    if style == "aligned":
        # Trailing comments aligned the way `terraform fmt` aligns them.
        k, t = f'"{key}"', f'"{table}"'
        w = max(len(k), len(t))
        body = (
            f'    bucket         = "{bucket}"\n'
            f'    key            = {k.ljust(w)} # one state per service\n'
            f'    region         = "{region}"\n'
            f'    encrypt        = true\n'
            f'    dynamodb_table = {t.ljust(w)} # shared lock table\n'
        )
    elif style == "unaligned":
        body = (
            f'    bucket = "{bucket}"\n'
            f'    key = "{key}"\n'
            f'    region = "{region}"\n'
            f'    dynamodb_table = "{table}"\n'
        )
    elif style == "workspace_prefix":
        body = (
            "    # states of every workspace live under workspaces/\n"
            f'    bucket               = "{bucket}"\n'
            f'    key                  = "{key}"\n'
            f'    workspace_key_prefix = "workspaces"\n'
            f'    region               = "{region}"\n'
            f'    dynamodb_table       = "{table}"\n'
            f'    encrypt              = true\n'
        )
    elif style == "dual":
        body = (
            f'    bucket         = "{bucket}"\n'
            f'    key            = "{key}"\n'
            f'    region         = "{region}"\n'
            f'    dynamodb_table = "{table}"\n'
            f'    use_lockfile   = true\n'
        )
    elif style == "migrated":
        body = (
            f'    bucket       = "{bucket}"\n'
            f'    key          = "{key}"\n'
            f'    region       = "{region}"\n'
            f'    encrypt      = true\n'
            f'    use_lockfile = true\n'
        )
    elif style == "partial":
        return (
            "terraform {\n"
            f'  required_version = ">= {version}"\n\n'
            + providers
            + '\n  # Settings come from backend.tfbackend: terraform init -backend-config=backend.tfbackend\n'
            '  backend "s3" {}\n'
            "}\n"
        )
    else:
        raise ValueError(style)
    return (
        "terraform {\n"
        f'  required_version = ">= {version}"\n\n'
        + providers
        + '\n  backend "s3" {\n'
        + body
        + "  }\n}\n"
    )


def backend_json(bucket, key, table, region):
    doc = {
        "terraform": {
            "required_version": ">= 1.10",
            "backend": {
                "s3": {
                    "bucket": bucket,
                    "key": key,
                    "region": region,
                    "dynamodb_table": table,
                    "encrypt": True,
                }
            },
        }
    }
    return json.dumps(doc, indent=2) + "\n"


def tfbackend(bucket, key, table, region):
    return (
        f'bucket         = "{bucket}"\n'
        f'key            = "{key}"\n'
        f'region         = "{region}"\n'
        f'dynamodb_table = "{table}"\n'
        "encrypt        = true\n"
    )


def main_tf(name, team, env, rng, remote_state, bucket, region):
    mod = rng.choice(SHARED_MODULES)
    out = [
        "locals {\n",
        f'  name = "{name}-{env}"\n',
        "  tags = {\n",
        f'    team        = "{team}"\n',
        f'    environment = "{env}"\n',
        '    managed_by  = "terraform"\n',
        "  }\n",
        "}\n\n",
    ]
    if remote_state:
        out += [
            'data "terraform_remote_state" "network" {\n',
            '  backend = "s3"\n',
            "  config = {\n",
            f'    bucket = "{bucket}"\n',
            f'    key    = "{team}/{env}/network/terraform.tfstate"\n',
            f'    region = "{region}"\n',
            "  }\n",
            "}\n\n",
        ]
    out += [
        f'module "{mod.replace("-", "_")}" {{\n',
        f'  source = "../../../../modules/{mod}"\n\n',
        "  name = local.name\n",
        "  tags = local.tags\n",
        "}\n\n",
    ]
    for r in range(rng.randint(2, 6)):
        kind = rng.choice(["s3", "sqs", "iam", "cw", "ssm"])
        if kind == "s3":
            out += [
                f'resource "aws_s3_bucket" "data_{r}" {{\n',
                f'  bucket = "${{local.name}}-data-{r}"\n',
                "  tags   = local.tags\n",
                "}\n\n",
                f'resource "aws_s3_bucket_versioning" "data_{r}" {{\n',
                f"  bucket = aws_s3_bucket.data_{r}.id\n",
                "  versioning_configuration {\n",
                '    status = "Enabled"\n',
                "  }\n",
                "}\n\n",
            ]
        elif kind == "sqs":
            out += [
                f'resource "aws_sqs_queue" "jobs_{r}" {{\n',
                f'  name                       = "${{local.name}}-jobs-{r}"\n',
                f"  visibility_timeout_seconds = {rng.choice([30, 60, 300])}\n",
                "  message_retention_seconds  = 1209600\n",
                "  tags                       = local.tags\n",
                "}\n\n",
            ]
        elif kind == "iam":
            out += [
                f'data "aws_iam_policy_document" "assume_{r}" {{\n',
                "  statement {\n",
                '    actions = ["sts:AssumeRole"]\n',
                "    principals {\n",
                '      type        = "Service"\n',
                '      identifiers = ["ecs-tasks.amazonaws.com"]\n',
                "    }\n",
                "  }\n",
                "}\n\n",
                f'resource "aws_iam_role" "task_{r}" {{\n',
                f'  name               = "${{local.name}}-task-{r}"\n',
                f"  assume_role_policy = data.aws_iam_policy_document.assume_{r}.json\n",
                "}\n\n",
            ]
        elif kind == "cw":
            out += [
                f'resource "aws_cloudwatch_log_group" "app_{r}" {{\n',
                f'  name              = "/ecs/${{local.name}}/{r}"\n',
                f"  retention_in_days = {rng.choice([7, 14, 30, 90])}\n",
                "  tags              = local.tags\n",
                "}\n\n",
            ]
        else:
            out += [
                f'resource "aws_ssm_parameter" "config_{r}" {{\n',
                f'  name  = "/${{local.name}}/config/{r}"\n',
                '  type  = "String"\n',
                "  value = jsonencode({ replicas = var.replicas, image = var.image })\n",
                "}\n\n",
            ]
    return "".join(out)


def variables_tf(rng):
    out = []
    for name, typ, default, desc in [
        ("image", "string", None, "Container image to deploy."),
        ("replicas", "number", str(rng.randint(1, 6)), "Number of tasks."),
        ("cpu", "number", str(rng.choice([256, 512, 1024])), "CPU units per task."),
        ("memory", "number", str(rng.choice([512, 1024, 2048])), "Memory (MiB) per task."),
        ("enable_alarms", "bool", "true", "Create CloudWatch alarms."),
        ("allowed_cidrs", "list(string)", "[]", "CIDR blocks allowed to reach the service."),
    ]:
        out.append(f'variable "{name}" {{\n  description = "{desc}"\n  type        = {typ}\n')
        if default is not None:
            out.append(f"  default     = {default}\n")
        out.append("}\n\n")
    return "".join(out)


def outputs_tf(rng):
    return (
        'output "service_name" {\n'
        "  description = \"Name of the service.\"\n"
        "  value       = local.name\n"
        "}\n\n"
        'output "tags" {\n'
        "  value = local.tags\n"
        "}\n"
    )


def providers_tf(region, team):
    return (
        'provider "aws" {\n'
        f'  region = "{region}"\n\n'
        "  default_tags {\n"
        "    tags = {\n"
        f'      owner = "{team}"\n'
        "    }\n"
        "  }\n"
        "}\n"
    )


def tfvars(rng, name):
    return (
        f'image    = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/{name}:{rng.randint(1, 400)}"\n'
        f"replicas = {rng.randint(1, 8)}\n"
    )


def shared_module(name):
    return (
        'variable "name" {\n  type = string\n}\n\n'
        'variable "tags" {\n  type    = map(string)\n  default = {}\n}\n\n'
        f'resource "aws_ssm_parameter" "{name.replace("-", "_")}" {{\n'
        '  name  = "/${var.name}/module"\n'
        '  type  = "String"\n'
        f'  value = "{name}"\n'
        "  tags  = var.tags\n"
        "}\n"
    )


def cache_backend(bucket, key, table, region):
    """A backend inside .terraform/ or .terragrunt-cache/: must be skipped."""
    return (
        "# Copied by terraform init / terragrunt; never edit\n"
        'terraform {\n  backend "s3" {\n'
        f'    bucket         = "{bucket}"\n'
        f'    key            = "{key}"\n'
        f'    region         = "{region}"\n'
        f'    dynamodb_table = "{table}"\n'
        "  }\n}\n"
    )


def root_hcl(bucket, table, region, migrated, attribute_form):
    lock = "    use_lockfile   = true\n" if migrated else f'    dynamodb_table = "{table}"\n'
    head = "remote_state = {\n" if attribute_form else "remote_state {\n"
    return (
        "# Shared by every unit below: include it with find_in_parent_folders(\"root.hcl\").\n"
        + head
        + '  backend = "s3"\n'
        "  generate = {\n"
        '    path      = "backend.tf"\n'
        '    if_exists = "overwrite_terragrunt"\n'
        "  }\n"
        "  config = {\n"
        f'    bucket         = "{bucket}"\n'
        '    key            = "${path_relative_to_include()}/terraform.tfstate"\n'
        f'    region         = "{region}"\n'
        "    encrypt        = true\n"
        + lock
        + "  }\n}\n\n"
        "inputs = {\n"
        '  org = "acme"\n'
        "}\n"
    )


def unit_hcl(name, rng):
    return (
        'include "root" {\n'
        '  path = find_in_parent_folders("root.hcl")\n'
        "}\n\n"
        "terraform {\n"
        f'  source = "git::https://git.example.com/acme/modules.git//{rng.choice(SHARED_MODULES)}?ref=v{rng.randint(1, 9)}.{rng.randint(0, 20)}.0"\n'
        "}\n\n"
        "inputs = {\n"
        f'  name     = "{name}"\n'
        f"  replicas = {rng.randint(1, 5)}\n"
        "}\n"
    )


def generate(n, out, seed):
    rng = random.Random(seed)
    tree = Tree(out)
    kinds = {"terraform": 0, "terraform-json": 0, "tfbackend": 0, "terragrunt": 0}
    expect = {"backends": 0, "migrate": 0, "already_migrated": 0, "none": 0, "files_changed": 0}
    styles = {}
    skipped_cache_backends = 0

    def backend(kind, action, changes_file=True):
        kinds[kind] += 1
        expect["backends"] += 1
        expect[action] += 1
        if action == "migrate" and changes_file:
            expect["files_changed"] += 1

    for name in SHARED_MODULES:
        tree.write(f"modules/{name}/main.tf", shared_module(name))

    n_units = n // 10
    n_tf = n - n_units
    for i in range(n_tf):
        team = TEAMS[i % len(TEAMS)]
        env = ENVS[(i // len(TEAMS)) % len(ENVS)]
        name = f"svc-{i:05d}"
        d = f"live/{team}/{env}/{name}"
        bucket = BUCKETS[i % len(BUCKETS)]
        table = TABLES[i % len(TABLES)]
        region = REGIONS[i % len(REGIONS)]
        key = f"{team}/{env}/{name}/terraform.tfstate"
        style = STYLES[i % len(STYLES)]
        styles[style] = styles.get(style, 0) + 1
        if style == "json":
            tree.write(f"{d}/backend.tf.json", backend_json(bucket, key, table, region))
            tree.write(
                f"{d}/versions.tf",
                'terraform {\n  required_providers {\n    aws = {\n      source = "hashicorp/aws"\n    }\n  }\n}\n',
            )
            backend("terraform-json", "migrate")
        else:
            fname = "versions.tf" if i % 3 == 0 else "backend.tf"
            tree.write(f"{d}/{fname}", backend_tf(style, bucket, key, table, region, rng))
            if style == "partial":
                backend("terraform", "none")
                tree.write(f"{d}/backend.tfbackend", tfbackend(bucket, key, table, region))
                backend("tfbackend", "migrate")
            elif style == "migrated":
                backend("terraform", "already_migrated")
            else:
                backend("terraform", "migrate")
        tree.write(
            f"{d}/main.tf",
            main_tf(name, team, env, rng, remote_state=(i % 3 == 1), bucket=bucket, region=region),
        )
        tree.write(f"{d}/variables.tf", variables_tf(rng))
        tree.write(f"{d}/outputs.tf", outputs_tf(rng))
        if i % 2 == 0:
            tree.write(f"{d}/providers.tf", providers_tf(region, team))
        else:
            tree.write(f"{d}/terraform.tfvars", tfvars(rng, name))
        if i % 5 == 0:
            # A cache from `terraform init`: a copy of a module with a backend.
            tree.write(
                f"{d}/.terraform/terraform.tfstate",
                json.dumps({"version": 3, "backend": {"type": "s3", "config": {"bucket": bucket, "key": key, "dynamodb_table": table}}}, indent=2) + "\n",
            )
            tree.write(f"{d}/.terraform/modules/cached/backend.tf", cache_backend(bucket, key, table, region))
            skipped_cache_backends += 1

    # Terragrunt: two stacks under their own root.hcl, one of them migrated.
    stacks = [
        ("terragrunt/live", False, False),
        ("terragrunt/legacy", True, True),
    ]
    for s, (root, migrated, attribute_form) in enumerate(stacks):
        tree.write(f"{root}/root.hcl", root_hcl(BUCKETS[s], TABLES[s], REGIONS[s], migrated, attribute_form))
        backend("terragrunt", "already_migrated" if migrated else "migrate")
    for u in range(n_units):
        root = stacks[0][0] if u % 4 else stacks[1][0]
        env = ENVS[u % len(ENVS)]
        name = f"unit-{u:05d}"
        d = f"{root}/{env}/{name}"
        tree.write(f"{d}/terragrunt.hcl", unit_hcl(name, rng))
        if u % 2 == 0:
            tree.write(f"{d}/README.md", f"# {name}\n\nDeployed by Terragrunt from the shared root.\n")
        if u % 3 == 0:
            tree.write(
                f"{d}/.terragrunt-cache/abc{u:05d}/xyz/backend.tf",
                "# Generated by Terragrunt. Sig: nIlQXj57tbuaRZEa\n" + cache_backend(BUCKETS[0], f"{name}/terraform.tfstate", TABLES[0], REGIONS[0]),
            )
            tree.write(f"{d}/.terragrunt-cache/abc{u:05d}/xyz/main.tf", shared_module("cached"))
            skipped_cache_backends += 1

    return {
        "modules": n,
        "terraform_modules": n_tf,
        "terragrunt_units": n_units,
        "files": tree.files,
        "bytes": tree.bytes,
        "styles": dict(sorted(styles.items())),
        "backends_by_kind": kinds,
        "skipped_cache_backends": skipped_cache_backends,
        "expected_summary": dict(expect, error=0, errors=0, blocked=0),
    }


def main():
    args = sys.argv[1:]
    seed = 42
    if "--seed" in args:
        i = args.index("--seed")
        seed = int(args[i + 1])
        del args[i : i + 2]
    if len(args) != 2:
        sys.exit(__doc__)
    n, out = int(args[0]), args[1]
    if os.path.exists(out) and os.listdir(out):
        sys.exit(f"{out}: exists and is not empty")
    os.makedirs(out, exist_ok=True)
    summary = generate(n, out, seed)
    json.dump(summary, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
