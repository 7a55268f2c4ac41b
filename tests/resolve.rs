//! The resolve stage end to end: fixture trees under `fixtures/resolve/` whose
//! backends are not literals (Terragrunt locals, includes in every spelling,
//! `read_terragrunt_config`, an empty `workspace_key_prefix`, a split partial
//! configuration, values that stay unknown), each run against the moto emulator
//! twice: with a lock held on a state the configuration governs (nothing is
//! written, the backend is blocked and the holder named) and with none (migrated,
//! with the right bucket, key, region and table checked).
//!
//! The environment's AWS_REGION is deliberately a region where no table exists:
//! a check that ignored the resolved region would fail, and a lock in the right
//! region that tflock did not see would let `apply` write.

mod common;

use common::{copy_tree, fixtures, read_tree, stderr, stdout, unique};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Output;
use std::time::Duration;
use tempfile::TempDir;

/// Where tflock would look if it ignored a backend's own region.
const WRONG_REGION: &str = "us-west-2";

/// Runs `tests/support/seed.py` (the harness's session) with one document in one
/// region.
fn seed(endpoint: &str, region: &str, mut doc: Value) -> Value {
    doc["region"] = json!(region);
    common::aws::Moto {
        url: endpoint.to_string(),
    }
    .seed(doc)
}

/// A bucket and table in one region, with states and optionally one lock.
struct Store {
    region: &'static str,
    bucket: String,
    table: String,
}

impl Store {
    fn create(&self, endpoint: &str, states: &[&str]) {
        seed(
            endpoint,
            self.region,
            json!({
                "buckets": [self.bucket], "tables": [self.table],
                "states": states.iter()
                    .map(|k| json!({"bucket": self.bucket, "key": k, "table": self.table}))
                    .collect::<Vec<_>>(),
            }),
        );
    }

    fn lock(&self, endpoint: &str, key: &str, who: &str) {
        seed(
            endpoint,
            self.region,
            json!({"locks": [{
                "table": self.table, "bucket": self.bucket, "key": key,
                "id": "5d7bc6a4-1111-2222-3333-444455556666", "who": who,
                "operation": "OperationTypeApply", "age_seconds": 30,
            }]}),
        );
    }
}

/// A copy of `fixtures/resolve/<case>` with `@BUCKET@` and `@TABLE@` replaced.
fn tree(case: &str, bucket: &str, table: &str) -> TempDir {
    let dir = TempDir::new().unwrap();
    copy_tree(&fixtures().join("resolve").join(case), dir.path());
    for (path, bytes) in read_tree(dir.path()) {
        let text = String::from_utf8(bytes).unwrap();
        let text = text.replace("@BUCKET@", bucket).replace("@TABLE@", table);
        std::fs::write(dir.path().join(path), text).unwrap();
    }
    dir
}

fn tflock(dir: &Path, endpoint: &str, args: &[&str]) -> Output {
    let mut cmd = common::run::tflock_cmd(dir, endpoint, args);
    cmd.env("AWS_REGION", WRONG_REGION);
    let out = common::output_within(&mut cmd, Duration::from_secs(60));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    out
}

fn plan_json(dir: &Path, endpoint: &str, extra: &[&str]) -> Value {
    let mut args = vec!["plan", "--format", "json"];
    args.extend_from_slice(extra);
    let out = tflock(dir, endpoint, &args);
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(&out), stderr(&out)))
}

fn backend<'a>(plan: &'a Value, file: &str) -> &'a Value {
    plan["backends"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["file"] == file)
        .unwrap_or_else(|| panic!("no backend {file} in {plan:#}"))
}

/// `(unit, workspace, bucket, key, region, table)` of every state, sorted.
fn states(b: &Value) -> Vec<(String, String, String, String, String, String)> {
    let s = |v: &Value| v.as_str().unwrap_or("-").to_string();
    let mut out: Vec<_> = b["states"]
        .as_array()
        .unwrap()
        .iter()
        .map(|st| {
            (
                s(&st["unit"]),
                s(&st["workspace"]),
                s(&st["bucket"]),
                s(&st["key"]),
                s(&st["region"]),
                s(&st["table"]),
            )
        })
        .collect();
    out.sort();
    out
}

/// `apply --auto-approve` and whether it changed the tree.
fn apply(dir: &Path, endpoint: &str, extra: &[&str]) -> (Output, bool) {
    let before = read_tree(dir);
    let outside = TempDir::new().unwrap();
    let rollback = outside.path().join("rollback.json");
    let mut args = vec![
        "apply",
        "--auto-approve",
        "--skip-probe",
        "--rollback-file",
        rollback.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = tflock(dir, endpoint, &args);
    let changed = read_tree(dir) != before;
    (out, changed)
}

fn tg_live(endpoint: &str) -> (TempDir, Store, Store) {
    let bucket = unique("live");
    let table = unique("live");
    let nonprod = Store {
        region: "eu-west-1",
        bucket: format!("{bucket}-nonprod"),
        table: format!("{table}-nonprod"),
    };
    let prod = Store {
        region: "us-east-2",
        bucket: format!("{bucket}-prod"),
        table: format!("{table}-prod"),
    };
    nonprod.create(endpoint, &["non-prod/eu-west-1/dev/app/tf.tfstate"]);
    prod.create(
        endpoint,
        &[
            "prod/us-east-2/prod/app/tf.tfstate",
            "ws-prod/feature/prod/us-east-2/prod/app/tf.tfstate",
        ],
    );
    (tree("tg-live", &bucket, &table), nonprod, prod)
}

#[test]
fn terragrunt_live_layout_resolves_every_unit_with_its_own_bucket_region_and_table() {
    let Some(endpoint) = common::moto("terragrunt_live_layout") else {
        return;
    };
    let (dir, nonprod, prod) = tg_live(&endpoint);
    let plan = plan_json(dir.path(), &endpoint, &["--skip-probe"]);
    let root = backend(&plan, "live/root.hcl");
    assert_eq!(root["action"], "migrate", "{root:#}");
    assert_eq!(root["unknown"], json!([]), "{root:#}");
    assert_eq!(root["conservative"], false);
    let unit = |u: &str, ws: &str, s: &Store, key: &str| {
        (
            u.to_string(),
            ws.to_string(),
            s.bucket.clone(),
            key.to_string(),
            s.region.to_string(),
            s.table.clone(),
        )
    };
    assert_eq!(
        states(root),
        vec![
            unit(
                "live/non-prod/eu-west-1/dev/app",
                "default",
                &nonprod,
                "non-prod/eu-west-1/dev/app/tf.tfstate"
            ),
            unit(
                "live/prod/us-east-2/prod/app",
                "default",
                &prod,
                "prod/us-east-2/prod/app/tf.tfstate"
            ),
            unit(
                "live/prod/us-east-2/prod/app",
                "feature",
                &prod,
                "ws-prod/feature/prod/us-east-2/prod/app/tf.tfstate"
            ),
        ]
    );
    let (out, changed) = apply(dir.path(), &endpoint, &[]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(changed);
    let root_text = std::fs::read_to_string(dir.path().join("live/root.hcl")).unwrap();
    assert!(
        root_text.contains("use_lockfile         = true"),
        "{root_text}"
    );
    assert!(!root_text.contains("dynamodb_table"), "{root_text}");
}

#[test]
fn a_lock_in_a_units_own_region_and_workspace_blocks_the_root() {
    let Some(endpoint) = common::moto("lock_in_units_region") else {
        return;
    };
    let (dir, _, prod) = tg_live(&endpoint);
    prod.lock(
        &endpoint,
        "ws-prod/feature/prod/us-east-2/prod/app/tf.tfstate",
        "carol@ci",
    );
    let plan = plan_json(dir.path(), &endpoint, &["--skip-probe"]);
    let root = backend(&plan, "live/root.hcl");
    assert_eq!(root["action"], "blocked", "{root:#}");
    assert!(
        root["reason"].as_str().unwrap().contains("carol@ci"),
        "{root:#}"
    );
    let (out, changed) = apply(dir.path(), &endpoint, &[]);
    assert!(!changed, "apply wrote while a lock was held");
    assert!(stdout(&out).contains("carol@ci"), "{}", stdout(&out));
    // Scanning only the root (as `git diff --name-only | tflock plan -` would)
    // still checks every unit that includes it.
    let only_root = plan_json(dir.path(), &endpoint, &["--skip-probe", "live/root.hcl"]);
    assert_eq!(backend(&only_root, "live/root.hcl")["action"], "blocked");
    let excluded = plan_json(
        dir.path(),
        &endpoint,
        &["--skip-probe", "--exclude", "live/prod/**"],
    );
    assert_eq!(backend(&excluded, "live/root.hcl")["action"], "blocked");
}

#[test]
fn includes_in_every_spelling_are_units_of_the_root() {
    let Some(endpoint) = common::moto("includes_in_every_spelling") else {
        return;
    };
    let store = Store {
        region: "eu-west-1",
        bucket: unique("inc"),
        table: unique("inc"),
    };
    store.create(&endpoint, &[]);
    let dir = tree("tg-includes", &store.bucket, &store.table);
    let plan = plan_json(dir.path(), &endpoint, &["--skip-probe"]);
    let root = backend(&plan, "terragrunt.hcl");
    assert_eq!(root["action"], "migrate", "{root:#}");
    let keys: Vec<String> = states(root).into_iter().map(|s| s.3).collect();
    assert_eq!(
        keys,
        [
            "tg/stacks/a/terraform.tfstate",
            "tg/stacks/b/terraform.tfstate",
            "tg/stacks/c/deep/terraform.tfstate"
        ]
    );
    store.lock(&endpoint, "tg/stacks/b/terraform.tfstate", "dave@laptop");
    let (out, changed) = apply(dir.path(), &endpoint, &[]);
    assert!(!changed, "apply wrote while unit b's lock was held");
    assert!(stdout(&out).contains("dave@laptop"), "{}", stdout(&out));
}

#[test]
fn an_empty_workspace_key_prefix_keeps_workspaces_at_the_top_of_the_bucket() {
    let Some(endpoint) = common::moto("empty_workspace_key_prefix") else {
        return;
    };
    let store = Store {
        region: "eu-west-1",
        bucket: unique("nowkp"),
        table: unique("nowkp"),
    };
    store.create(
        &endpoint,
        &["app/terraform.tfstate", "dev/app/terraform.tfstate"],
    );
    let dir = tree("tf-empty-prefix", &store.bucket, &store.table);
    let plan = plan_json(dir.path(), &endpoint, &["--skip-probe"]);
    let b = backend(&plan, "app/main.tf");
    let keys: Vec<(String, String)> = states(b).into_iter().map(|s| (s.1, s.3)).collect();
    assert_eq!(
        keys,
        [
            ("default".to_string(), "app/terraform.tfstate".to_string()),
            ("dev".to_string(), "dev/app/terraform.tfstate".to_string())
        ]
    );
    let resources = plan["next_steps"]["iam_statement"]["Resource"].to_string();
    assert!(
        resources.contains(&format!("{}/*/app/terraform.tfstate.tflock", store.bucket)),
        "{resources}"
    );
    assert!(!resources.contains("//"), "{resources}");
    store.lock(&endpoint, "dev/app/terraform.tfstate", "erin@host");
    let (out, changed) = apply(dir.path(), &endpoint, &[]);
    assert!(!changed, "apply wrote while the dev workspace was locked");
    assert!(stdout(&out).contains("erin@host"), "{}", stdout(&out));
}

#[test]
fn a_partial_block_and_the_file_that_completes_it_are_one_backend() {
    let Some(endpoint) = common::moto("split_partial") else {
        return;
    };
    let store = Store {
        region: "eu-west-1",
        bucket: unique("split"),
        table: unique("split"),
    };
    store.create(&endpoint, &["split/prod/terraform.tfstate"]);
    let dir = tree("split", &store.bucket, &store.table);
    let plan = plan_json(dir.path(), &endpoint, &["--skip-probe"]);
    let partial = backend(&plan, "app/prod.tfbackend");
    assert_eq!(partial["action"], "migrate", "{partial:#}");
    assert_eq!(
        states(partial),
        vec![(
            "-".to_string(),
            "default".to_string(),
            store.bucket.clone(),
            "split/prod/terraform.tfstate".to_string(),
            "eu-west-1".to_string(),
            store.table.clone()
        )]
    );
    store.lock(&endpoint, "split/prod/terraform.tfstate", "frank@host");
    let (out, changed) = apply(dir.path(), &endpoint, &[]);
    assert!(!changed);
    assert!(stdout(&out).contains("frank@host"), "{}", stdout(&out));
}

#[test]
fn values_that_stay_unknown_fail_closed() {
    let Some(endpoint) = common::moto("unknown_values") else {
        return;
    };
    let store = Store {
        region: "eu-west-1",
        bucket: unique("unk"),
        table: unique("unk"),
    };
    store.create(&endpoint, &[]);
    let dir = tree("tg-unknown", &store.bucket, &store.table);
    let plan = plan_json(dir.path(), &endpoint, &["--skip-probe"]);

    // An unknown region blocks, naming the attribute, expression and place.
    let region = backend(&plan, "region/terragrunt.hcl");
    assert_eq!(region["action"], "blocked", "{region:#}");
    let unknown = &region["unknown"][0];
    assert_eq!(unknown["attribute"], "region");
    assert_eq!(unknown["effect"], "blocks");
    assert_eq!(unknown["location"], "region/terragrunt.hcl:6");
    assert!(unknown["expression"].as_str().unwrap().contains("run_cmd"));

    // An unknown bucket cannot be listed: blocked.
    let bucket = backend(&plan, "bucket/terragrunt.hcl");
    assert_eq!(bucket["action"], "blocked", "{bucket:#}");
    assert_eq!(bucket["unknown"][0]["attribute"], "bucket");

    // An unknown key is checked by its known prefix: free while no lock is
    // under it, blocked once one is (in any workspace).
    let key = backend(&plan, "key/root.hcl");
    assert_eq!(key["conservative"], true, "{key:#}");
    assert_eq!(key["action"], "migrate", "{key:#}");
    assert_eq!(key["unknown"][0]["effect"], "conservative");
    store.lock(
        &endpoint,
        "env:/feature/unknown/x/unit/terraform.tfstate",
        "gina@host",
    );
    let plan = plan_json(dir.path(), &endpoint, &["--skip-probe"]);
    let key = backend(&plan, "key/root.hcl");
    assert_eq!(key["action"], "blocked", "{key:#}");
    assert!(key["reason"].as_str().unwrap().contains("gina@host"));
    let (_, changed) = apply(dir.path(), &endpoint, &[]);
    assert!(!changed);
    // The user may take the risk knowingly.
    let (out, changed) = apply(dir.path(), &endpoint, &["--skip-lock-check"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(changed);
}

#[test]
fn keys_and_files_passed_at_init_are_the_states_checked() {
    let Some(endpoint) = common::moto("init_overrides") else {
        return;
    };
    let store = Store {
        region: "eu-west-1",
        bucket: unique("init"),
        table: unique("init"),
    };
    store.create(
        &endpoint,
        &["envs/prod/real.tfstate", "envs/dev/terraform.tfstate"],
    );
    let dir = tree("init-overrides", &store.bucket, &store.table);
    let plan = plan_json(dir.path(), &endpoint, &["--skip-probe"]);
    // deploy.sh: `terraform -chdir=envs/prod init -backend-config="key=..."`
    // overrides the placeholder key of the file.
    let prod = backend(&plan, "envs/prod/main.tf");
    assert_eq!(prod["action"], "migrate", "{prod:#}");
    let keys: Vec<String> = states(prod).into_iter().map(|s| s.3).collect();
    assert_eq!(keys, ["envs/prod/real.tfstate"]);
    // `cd envs/dev && terraform init -backend-config=../../backends/dev.s3.conf`:
    // the file completes the partial block of envs/dev (bucket, region).
    let dev = backend(&plan, "backends/dev.s3.conf");
    assert_eq!(dev["action"], "migrate", "{dev:#}");
    assert_eq!(
        states(dev),
        vec![(
            "-".to_string(),
            "default".to_string(),
            store.bucket.clone(),
            "envs/dev/terraform.tfstate".to_string(),
            "eu-west-1".to_string(),
            store.table.clone()
        )]
    );
    // `-backend-config="key=qa/${ENV}/..."`: checked by the prefix `qa/`.
    let qa = backend(&plan, "envs/qa/main.tf");
    assert_eq!(qa["conservative"], true, "{qa:#}");
    assert_eq!(qa["unknown"][0]["location"], "deploy.sh:6");

    store.lock(&endpoint, "envs/prod/real.tfstate", "hank@ci");
    store.lock(&endpoint, "envs/dev/terraform.tfstate", "ivy@ci");
    store.lock(&endpoint, "qa/staging/terraform.tfstate", "jo@ci");
    let plan = plan_json(dir.path(), &endpoint, &["--skip-probe"]);
    for (file, who) in [
        ("envs/prod/main.tf", "hank@ci"),
        ("backends/dev.s3.conf", "ivy@ci"),
        ("envs/qa/main.tf", "jo@ci"),
    ] {
        let b = backend(&plan, file);
        assert_eq!(b["action"], "blocked", "{b:#}");
        assert!(b["reason"].as_str().unwrap().contains(who), "{b:#}");
    }
    let (_, changed) = apply(dir.path(), &endpoint, &[]);
    assert!(!changed, "apply wrote while overridden states were locked");
}

#[test]
fn terragrunts_legacy_lock_table_is_the_table_checked() {
    let Some(endpoint) = common::moto("legacy_lock_table") else {
        return;
    };
    let store = Store {
        region: "eu-west-1",
        bucket: unique("ltab"),
        table: unique("ltab"),
    };
    store.create(&endpoint, &["legacy/app/terraform.tfstate"]);
    let dir = tree("tg-lock-table", &store.bucket, &store.table);
    let plan = plan_json(dir.path(), &endpoint, &["--skip-probe"]);
    let b = backend(&plan, "app/terragrunt.hcl");
    assert_eq!(b["action"], "migrate", "{b:#}");
    assert_eq!(states(b)[0].5, store.table);
    store.lock(&endpoint, "legacy/app/terraform.tfstate", "kim@ci");
    let (out, changed) = apply(dir.path(), &endpoint, &[]);
    assert!(!changed, "apply wrote while the lock_table lock was held");
    assert!(stdout(&out).contains("kim@ci"), "{}", stdout(&out));
}
