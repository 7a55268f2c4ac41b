//! End-to-end tests of lock verification: the real `tflock` binary against the moto
//! S3/DynamoDB emulator, seeded exactly in Terraform's format by
//! `tests/support/seed.py`, and behind a small fault-injecting proxy
//! (`tests/support/proxy.py`: strip `If-None-Match`, deny, hang).
//!
//! Every test owns its bucket and table (random names), so the tests share one
//! emulator and run in parallel. Each test that seeds locks also checks that tflock
//! left every lock item, digest item, lockfile and state object as it found them.

mod common;

use common::{python, read_tree, stderr, stdout, support, unique, write_files};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

const REGION: &str = "eu-west-1";
/// No run may take longer than this, whatever happens.
const LIMIT: Duration = Duration::from_secs(60);
/// What a run may take beyond `--aws-timeout` (process start, client set-up).
const SLACK: Duration = Duration::from_millis(2500);

// ---------------------------------------------------------------------------
// The emulator and seeding
// ---------------------------------------------------------------------------

struct Moto {
    url: String,
}

fn moto(test: &str) -> Option<Moto> {
    common::moto(test).map(|url| Moto { url })
}

impl Moto {
    /// Runs `seed.py` with this document (see its docstring) and returns its dump.
    fn seed(&self, mut doc: Value) -> Value {
        doc["endpoint"] = json!(self.url);
        doc["region"] = json!(REGION);
        let mut child = Command::new(python())
            .arg(support("seed.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run tests/support/seed.py (TFLOCK_TEST_PYTHON needs boto3)");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(doc.to_string().as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "seed.py failed on {doc}:\n{}",
            stderr(&out)
        );
        serde_json::from_slice(&out.stdout).expect("seed.py prints JSON")
    }
}

/// What to put into a test's bucket and table, in one run of `seed.py`.
#[derive(Default)]
struct Seed {
    states: Vec<String>,
    locks: Vec<(String, String, String, Age)>,
    lockfiles: Vec<(String, String, String, Age)>,
}

impl Seed {
    /// State objects at `keys` and their `-md5` digest item, as Terraform writes them.
    fn states(mut self, keys: &[&str]) -> Seed {
        self.states.extend(keys.iter().map(|k| k.to_string()));
        self
    }

    /// A DynamoDB lock item `LockID = "<bucket>/<key>"` with LockInfo in `Info`.
    fn lock(mut self, key: &str, id: &str, who: &str, age: Age) -> Seed {
        self.locks.push((key.into(), id.into(), who.into(), age));
        self
    }

    /// An S3 lockfile `<key>.tflock` whose body is LockInfo.
    fn lockfile(mut self, key: &str, id: &str, who: &str, age: Age) -> Seed {
        self.lockfiles
            .push((key.into(), id.into(), who.into(), age));
        self
    }
}

/// One test's bucket and lock table in the emulator.
struct Store<'a> {
    moto: &'a Moto,
    bucket: String,
    table: String,
    created: std::cell::Cell<bool>,
}

impl<'a> Store<'a> {
    fn new(moto: &'a Moto, tag: &str) -> Store<'a> {
        Store {
            moto,
            bucket: unique(tag),
            table: unique(tag),
            created: std::cell::Cell::new(false),
        }
    }

    /// Creates the bucket and table (the first time), seeds them, and returns
    /// a snapshot of what they hold afterwards.
    fn seed(&self, seed: Seed) -> Value {
        let lock = |(key, id, who, age): &(String, String, String, Age)| {
            let mut lock = json!({
                "table": self.table, "bucket": self.bucket, "key": key,
                "id": id, "who": who, "operation": "OperationTypeApply",
            });
            age.set(&mut lock);
            lock
        };
        let mut doc = json!({
            "states": seed.states.iter()
                .map(|k| json!({"bucket": self.bucket, "key": k, "table": self.table}))
                .collect::<Vec<_>>(),
            "locks": seed.locks.iter().map(lock).collect::<Vec<_>>(),
            "lockfiles": seed.lockfiles.iter().map(lock).collect::<Vec<_>>(),
            "dump": {"tables": [self.table], "buckets": [self.bucket]},
        });
        if !self.created.replace(true) {
            doc["buckets"] = json!([self.bucket]);
            doc["tables"] = json!([self.table]);
        }
        let dump = self.moto.seed(doc);
        json!({
            "items": dump["tables"][&self.table],
            "objects": dump["buckets"][&self.bucket],
        })
    }

    /// Every item of the table and every object (key and ETag) of the bucket.
    fn snapshot(&self) -> Value {
        self.seed(Seed::default())
    }

    /// Asserts that the table and bucket hold exactly what they held before.
    fn assert_unchanged(&self, before: &Value) {
        let after = self.snapshot();
        assert_eq!(
            &after, before,
            "tflock changed a lock, digest item, lockfile or state object"
        );
    }
}

#[derive(Clone, Copy)]
enum Age {
    /// Taken this many seconds ago.
    Secs(u64),
    /// Taken on 2020-01-02: long stale.
    Ancient,
}

impl Age {
    fn set(self, lock: &mut Value) {
        match self {
            Age::Secs(s) => lock["age_seconds"] = json!(s),
            Age::Ancient => lock["created"] = json!("2020-01-02T03:04:05.123456789Z"),
        }
    }
}

// ---------------------------------------------------------------------------
// The fault proxy
// ---------------------------------------------------------------------------

/// `tests/support/proxy.py` in one mode; killed when dropped (and it exits by
/// itself when its stdin, held here, closes).
struct Proxy {
    child: Child,
    port: u16,
}

impl Proxy {
    fn start(mode: &str, upstream: Option<&str>) -> Proxy {
        let mut child = Command::new(python())
            .arg(support("proxy.py"))
            .arg(mode)
            .args(upstream)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run tests/support/proxy.py (python3 or TFLOCK_TEST_PYTHON)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("proxy.py did not print its port: {line:?}"));
        Proxy { child, port }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback URL where nothing listens.
fn closed_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

// ---------------------------------------------------------------------------
// Configuration trees and running tflock
// ---------------------------------------------------------------------------

/// A `terraform { backend "s3" { ... } }` block with these string attributes,
/// aligned as `terraform fmt` does.
fn backend_tf(attrs: &[(&str, &str)]) -> String {
    let width = attrs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut text = String::from("terraform {\n  backend \"s3\" {\n");
    for (k, v) in attrs {
        text.push_str(&format!("    {k:<width$} = \"{v}\"\n"));
    }
    text.push_str("  }\n}\n");
    text
}

/// The usual backend: bucket, key, region and lock table of `store`.
fn app_tf(store: &Store, key: &str) -> String {
    backend_tf(&[
        ("bucket", &store.bucket),
        ("key", key),
        ("region", REGION),
        ("dynamodb_table", &store.table),
    ])
}

fn tree(files: &[(&str, &str)]) -> TempDir {
    let dir = TempDir::new().unwrap();
    let files: Vec<(&str, &[u8])> = files.iter().map(|(p, t)| (*p, t.as_bytes())).collect();
    write_files(dir.path(), &files);
    dir
}

/// What one run of tflock printed and how long it took.
struct Run {
    out: Output,
    took: Duration,
}

impl Run {
    fn code(&self) -> i32 {
        self.out.status.code().unwrap_or_else(|| {
            panic!(
                "killed by a signal: {:?}\n{}",
                self.out.status,
                stderr(&self.out)
            )
        })
    }

    fn stdout(&self) -> String {
        stdout(&self.out)
    }

    fn stderr(&self) -> String {
        stderr(&self.out)
    }

    /// Stdout and stderr together.
    fn text(&self) -> String {
        format!("{}{}", self.stdout(), self.stderr())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout())
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", self.text()))
    }

    fn assert_code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.code(),
            expected,
            "unexpected exit code\n--- stdout:\n{}\n--- stderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }

    fn assert_contains(&self, needle: &str) -> &Self {
        let text = self.text();
        assert!(text.contains(needle), "output lacks {needle:?}:\n{text}");
        self
    }

    fn assert_lacks(&self, needle: &str) -> &Self {
        let text = self.text();
        assert!(!text.contains(needle), "output has {needle:?}:\n{text}");
        self
    }
}

/// Runs tflock in `dir` against `endpoint`, isolated from any real AWS setting:
/// clean environment, dummy credentials, no config files, no instance metadata.
fn tflock(dir: &Path, endpoint: &str, args: &[&str]) -> Run {
    let mut cmd = common::tflock_command(dir, args);
    cmd.env("HOME", "/nonexistent/tflock-test-home")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", REGION)
        .env("AWS_ENDPOINT_URL", endpoint);
    let start = Instant::now();
    let out = common::output_within(&mut cmd, LIMIT);
    let took = start.elapsed();
    let err = stderr(&out);
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "tflock panicked:\n{err}"
    );
    Run { out, took }
}

/// `apply --auto-approve` with its rollback file outside the tree.
fn apply(dir: &Path, endpoint: &str, extra: &[&str]) -> (Run, TempDir) {
    let outside = TempDir::new().unwrap();
    let rollback = outside.path().join("rollback.json");
    let mut args = vec![
        "apply",
        "--auto-approve",
        // These tests check that apply leaves the remote side as it found it;
        // the digest deletion of a replace has tests of its own (readers.rs).
        "--keep-digests",
        "--rollback-file",
        rollback.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    (tflock(dir, endpoint, &args), outside)
}

fn rollback_file(outside: &TempDir) -> Option<String> {
    std::fs::read_to_string(outside.path().join("rollback.json")).ok()
}

fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap()
}

/// The file now locks with an S3 lockfile only.
fn assert_migrated(dir: &Path, rel: &str) {
    let text = read(dir, rel);
    assert!(
        text.contains("use_lockfile") && text.contains("true") && !text.contains("dynamodb_table"),
        "{rel} was not migrated:\n{text}"
    );
}

/// A blocked apply: exit 1, no file changed, no rollback file.
fn assert_apply_blocked(dir: &Path, endpoint: &str, extra: &[&str]) -> Run {
    let before = read_tree(dir);
    let (run, outside) = apply(dir, endpoint, extra);
    run.assert_code(1).assert_contains("blocked");
    assert_eq!(
        read_tree(dir),
        before,
        "a blocked apply wrote:\n{}",
        run.text()
    );
    assert!(
        rollback_file(&outside).is_none(),
        "a blocked apply wrote a rollback file"
    );
    run
}

// ---------------------------------------------------------------------------
// Free, held, stale
// ---------------------------------------------------------------------------

#[test]
fn all_free_plan_shows_migrate_and_apply_rewrites() {
    let Some(moto) = moto("all_free_plan_shows_migrate_and_apply_rewrites") else {
        return;
    };
    let store = Store::new(&moto, "free");
    let before = store
        .seed(Seed::default().states(&["app/terraform.tfstate", "env:/dev/app/terraform.tfstate"]));
    let dir = tree(&[("app/main.tf", &app_tf(&store, "app/terraform.tfstate"))]);
    let files = read_tree(dir.path());

    let plan = tflock(dir.path(), &moto.url, &["plan"]);
    plan.assert_code(0)
        .assert_contains("-> migrate")
        .assert_contains("+    use_lockfile = true")
        .assert_contains("Lock checks: 2 states checked, 0 backends blocked")
        .assert_lacks("blocked:");
    assert_eq!(read_tree(dir.path()), files, "plan wrote");

    tflock(dir.path(), &moto.url, &["locks"])
        .assert_code(0)
        .assert_contains("2 states: 0 locks held, 0 unverified");

    let (run, outside) = apply(dir.path(), &moto.url, &[]);
    run.assert_code(0).assert_contains("Apply complete!");
    assert_migrated(dir.path(), "app/main.tf");
    assert!(rollback_file(&outside).is_some(), "no rollback file");
    // The probe object is gone again; digest items and states are untouched.
    store.assert_unchanged(&before);
}

#[test]
fn a_dynamodb_lock_on_the_default_workspace_blocks_plan_and_apply() {
    let Some(moto) = moto("a_dynamodb_lock_on_the_default_workspace_blocks_plan_and_apply") else {
        return;
    };
    let store = Store::new(&moto, "held");
    let before = store.seed(Seed::default().states(&["app/terraform.tfstate"]).lock(
        "app/terraform.tfstate",
        "6f1b9c1e-0d2a-4c55-9b43-5e0c1f7d2a10",
        "alice@ci-runner-7",
        Age::Secs(300),
    ));
    let dir = tree(&[("app/main.tf", &app_tf(&store, "app/terraform.tfstate"))]);
    let files = read_tree(dir.path());

    let plan = tflock(dir.path(), &moto.url, &["plan"]);
    plan.assert_code(1)
        .assert_contains("-> blocked")
        .assert_contains("state app/terraform.tfstate (workspace default)")
        .assert_contains("DynamoDB lock held by alice@ci-runner-7")
        .assert_contains("for OperationTypeApply")
        .assert_contains("6f1b9c1e-0d2a-4c55-9b43-5e0c1f7d2a10")
        .assert_lacks("+    use_lockfile")
        // A lock taken five minutes ago is not stale: no force-unlock advice.
        .assert_lacks("force-unlock");
    assert_eq!(read_tree(dir.path()), files, "plan wrote");

    assert_apply_blocked(dir.path(), &moto.url, &[])
        .assert_contains("alice@ci-runner-7")
        .assert_contains("6f1b9c1e-0d2a-4c55-9b43-5e0c1f7d2a10");
    store.assert_unchanged(&before);
}

#[test]
fn a_dynamodb_lock_on_a_named_workspace_blocks() {
    let Some(moto) = moto("a_dynamodb_lock_on_a_named_workspace_blocks") else {
        return;
    };
    let store = Store::new(&moto, "ws");
    let before = store.seed(
        Seed::default()
            .states(&["app/terraform.tfstate", "env:/dev/app/terraform.tfstate"])
            .lock(
                "env:/dev/app/terraform.tfstate",
                "2b7e1516-28ae-4d2a-abf7-158809cf4f3c",
                "bob@build-host",
                Age::Secs(60),
            ),
    );
    let dir = tree(&[("app/main.tf", &app_tf(&store, "app/terraform.tfstate"))]);

    tflock(dir.path(), &moto.url, &["plan"])
        .assert_code(1)
        .assert_contains("-> blocked")
        .assert_contains("state env:/dev/app/terraform.tfstate (workspace dev)")
        .assert_contains("bob@build-host")
        .assert_contains("2b7e1516-28ae-4d2a-abf7-158809cf4f3c")
        // The default workspace is free and not named as a blocker.
        .assert_lacks("state app/terraform.tfstate (workspace default)");
    assert_apply_blocked(dir.path(), &moto.url, &[]).assert_contains("workspace dev");
    store.assert_unchanged(&before);
}

#[test]
fn a_lock_under_a_custom_workspace_key_prefix_blocks() {
    let Some(moto) = moto("a_lock_under_a_custom_workspace_key_prefix_blocks") else {
        return;
    };
    let store = Store::new(&moto, "wkp");
    let before = store.seed(
        Seed::default()
            .states(&[
                "app/terraform.tfstate",
                "tf-workspaces/stage/app/terraform.tfstate",
            ])
            .lock(
                "tf-workspaces/stage/app/terraform.tfstate",
                "a0c4d6e8-1111-4222-8333-944455556666",
                "carol@laptop",
                Age::Secs(30),
            ),
    );
    let config = backend_tf(&[
        ("bucket", &store.bucket),
        ("key", "app/terraform.tfstate"),
        ("region", REGION),
        ("dynamodb_table", &store.table),
        ("workspace_key_prefix", "tf-workspaces"),
    ]);
    let dir = tree(&[("app/main.tf", &config)]);

    tflock(dir.path(), &moto.url, &["plan"])
        .assert_code(1)
        .assert_contains("state tf-workspaces/stage/app/terraform.tfstate (workspace stage)")
        .assert_contains("carol@laptop")
        .assert_contains("a0c4d6e8-1111-4222-8333-944455556666");
    assert_apply_blocked(dir.path(), &moto.url, &[]);
    store.assert_unchanged(&before);
}

/// A lock on `<workspace_key_prefix>/<W>/<key>` is a lock on a state of this
/// backend even before workspace W's state object exists (Terraform locks while
/// `terraform workspace new` writes it; a crash there leaves the lock behind).
/// The lock table and the bucket listing already show it: it must block.
#[test]
fn a_lock_on_a_workspace_without_a_state_object_yet_blocks() {
    let Some(moto) = moto("a_lock_on_a_workspace_without_a_state_object_yet_blocks") else {
        return;
    };
    let store = Store::new(&moto, "nows");
    let before = store.seed(
        Seed::default()
            .states(&["one/terraform.tfstate", "two/terraform.tfstate"])
            .lock(
                "env:/fresh/one/terraform.tfstate",
                "12121212-3434-4565-8787-909090909090",
                "olivia@workspace-new",
                Age::Secs(15),
            )
            .lockfile(
                "env:/fresh/two/terraform.tfstate",
                "34343434-5656-4787-8909-121212121212",
                "peggy@workspace-new",
                Age::Secs(15),
            ),
    );
    let dir = tree(&[
        ("one/main.tf", &app_tf(&store, "one/terraform.tfstate")),
        ("two/main.tf", &app_tf(&store, "two/terraform.tfstate")),
    ]);
    let plan = tflock(dir.path(), &moto.url, &["plan"]);
    plan.assert_code(1)
        .assert_lacks("-> migrate")
        .assert_contains("olivia@workspace-new")
        .assert_contains("peggy@workspace-new");
    assert_apply_blocked(dir.path(), &moto.url, &[]);
    store.assert_unchanged(&before);
}

#[test]
fn an_s3_lockfile_blocks_and_names_its_holder() {
    let Some(moto) = moto("an_s3_lockfile_blocks_and_names_its_holder") else {
        return;
    };
    let store = Store::new(&moto, "lockfile");
    let before = store.seed(Seed::default().states(&["app/terraform.tfstate"]).lockfile(
        "app/terraform.tfstate",
        "d3b07384-d9a0-4c9b-8f5e-1a2b3c4d5e6f",
        "dave@newer-checkout",
        Age::Secs(90),
    ));
    let dir = tree(&[("app/main.tf", &app_tf(&store, "app/terraform.tfstate"))]);

    tflock(dir.path(), &moto.url, &["plan"])
        .assert_code(1)
        .assert_contains("-> blocked")
        .assert_contains("state app/terraform.tfstate (workspace default): S3 lockfile held by dave@newer-checkout")
        .assert_contains("for OperationTypeApply")
        .assert_contains("d3b07384-d9a0-4c9b-8f5e-1a2b3c4d5e6f")
        .assert_lacks("DynamoDB lock held");
    assert_apply_blocked(dir.path(), &moto.url, &[]).assert_contains("dave@newer-checkout");
    store.assert_unchanged(&before);
}

#[test]
fn a_stale_lock_suggests_force_unlock_in_its_directory() {
    let Some(moto) = moto("a_stale_lock_suggests_force_unlock_in_its_directory") else {
        return;
    };
    let store = Store::new(&moto, "stale");
    let before = store.seed(Seed::default().states(&["svc/terraform.tfstate"]).lock(
        "svc/terraform.tfstate",
        "0badc0de-1234-4567-89ab-cdef01234567",
        "erin@old-ci",
        Age::Ancient,
    ));
    let dir = tree(&[("live/svc/main.tf", &app_tf(&store, "svc/terraform.tfstate"))]);

    tflock(dir.path(), &moto.url, &["plan"])
        .assert_code(1)
        .assert_contains("-> blocked")
        .assert_contains("since 2020-01-02T03:04:05.123456789Z")
        .assert_contains("terraform force-unlock 0badc0de-1234-4567-89ab-cdef01234567")
        .assert_contains("in live/svc");
    // Still blocked: advice is all tflock gives, it never unlocks.
    assert_apply_blocked(dir.path(), &moto.url, &[]).assert_contains("force-unlock");
    store.assert_unchanged(&before);
}

// ---------------------------------------------------------------------------
// Fail closed
// ---------------------------------------------------------------------------

#[test]
fn a_missing_lock_table_or_bucket_is_unverified_and_blocks() {
    let Some(moto) = moto("a_missing_lock_table_or_bucket_is_unverified_and_blocks") else {
        return;
    };
    let store = Store::new(&moto, "notable");
    let before = store.seed(Seed::default().states(&["app/terraform.tfstate"]));
    let missing_table = unique("missing");
    let missing_bucket = unique("missing");
    let dir = tree(&[
        (
            "app/main.tf",
            &backend_tf(&[
                ("bucket", &store.bucket),
                ("key", "app/terraform.tfstate"),
                ("region", REGION),
                ("dynamodb_table", &missing_table),
            ]),
        ),
        (
            "nobucket/main.tf",
            &backend_tf(&[
                ("bucket", &missing_bucket),
                ("key", "app/terraform.tfstate"),
                ("region", REGION),
                ("dynamodb_table", &store.table),
            ]),
        ),
    ]);

    let plan = tflock(dir.path(), &moto.url, &["plan"]);
    plan.assert_code(1)
        .assert_lacks("-> migrate")
        .assert_contains("DynamoDB lock unverified")
        .assert_contains(&missing_table)
        .assert_contains("ResourceNotFound")
        .assert_contains("S3 lockfile unverified")
        .assert_contains(&format!("cannot list bucket {missing_bucket}"))
        .assert_contains("NoSuchBucket");
    assert_eq!(plan.stdout().matches("-> blocked").count(), 2);
    assert_apply_blocked(dir.path(), &moto.url, &[]).assert_contains("unverified");
    store.assert_unchanged(&before);
}

/// The backend says us-east-1; its bucket and table live in eu-west-1. Moto serves
/// S3 buckets whatever the request's region, but its DynamoDB tables are regional
/// (ResourceNotFoundException), so the lock table cannot be read: fail closed.
#[test]
fn a_backend_in_the_wrong_region_fails_closed() {
    let Some(moto) = moto("a_backend_in_the_wrong_region_fails_closed") else {
        return;
    };
    let store = Store::new(&moto, "region");
    let before = store.seed(Seed::default().states(&["app/terraform.tfstate"]));
    let config = backend_tf(&[
        ("bucket", &store.bucket),
        ("key", "app/terraform.tfstate"),
        ("region", "us-east-1"),
        ("dynamodb_table", &store.table),
    ]);
    let dir = tree(&[("app/main.tf", &config)]);

    tflock(dir.path(), &moto.url, &["plan"])
        .assert_code(1)
        .assert_contains("-> blocked")
        .assert_contains("unverified")
        .assert_contains(&store.table);
    assert_apply_blocked(dir.path(), &moto.url, &[]);
    store.assert_unchanged(&before);
}

/// A tree whose one backend's AWS answers are decided by the endpoint alone.
fn offline_tree() -> TempDir {
    let config = backend_tf(&[
        ("bucket", "tflock-test-unreachable"),
        ("key", "app/terraform.tfstate"),
        ("region", REGION),
        ("dynamodb_table", "tflock-test-locks"),
    ]);
    tree(&[("app/main.tf", &config)])
}

#[test]
fn an_unreachable_endpoint_fails_closed_within_the_timeout() {
    let dir = offline_tree();
    let endpoint = closed_endpoint();
    let files = read_tree(dir.path());
    let plan = tflock(dir.path(), &endpoint, &["plan", "--aws-timeout", "5"]);
    plan.assert_code(1)
        .assert_contains("-> blocked")
        .assert_contains("DynamoDB lock unverified")
        .assert_contains("S3 lockfile unverified")
        .assert_lacks("+    use_lockfile");
    assert!(
        plan.took < Duration::from_secs(5) + SLACK,
        "took {:?}",
        plan.took
    );
    assert_eq!(read_tree(dir.path()), files, "plan wrote");

    let run = assert_apply_blocked(dir.path(), &endpoint, &["--aws-timeout", "5"]);
    assert!(
        run.took < Duration::from_secs(5) + SLACK,
        "took {:?}",
        run.took
    );
}

#[test]
fn access_denied_fails_closed() {
    let proxy = Proxy::start("deny", None);
    let dir = offline_tree();
    let files = read_tree(dir.path());
    tflock(dir.path(), &proxy.url(), &["plan"])
        .assert_code(1)
        .assert_contains("-> blocked")
        .assert_contains("cannot scan lock table tflock-test-locks: AccessDeniedException")
        .assert_contains("cannot list bucket tflock-test-unreachable: AccessDenied")
        .assert_contains("conditional-write probe failed");
    assert_eq!(read_tree(dir.path()), files, "plan wrote");
    assert_apply_blocked(dir.path(), &proxy.url(), &[]).assert_contains("AccessDenied");
    // Even with lock checks' probe skipped, denied reads still block.
    assert_apply_blocked(dir.path(), &proxy.url(), &["--skip-probe"]);
}

/// Issue 3 item 7: "an unreachable endpoint fails closed within 60 seconds by
/// default (`--aws-timeout SECONDS` to change it)": the whole check, not each call.
#[test]
fn an_endpoint_that_never_answers_fails_closed_within_the_timeout() {
    let proxy = Proxy::start("hang", None);
    let dir = offline_tree();
    let run = assert_apply_blocked(dir.path(), &proxy.url(), &["--aws-timeout", "3"]);
    run.assert_contains("unverified");
    assert!(
        run.took < Duration::from_secs(3) + SLACK,
        "with --aws-timeout 3, a silent endpoint held tflock for {:?}:\n{}",
        run.took,
        run.text()
    );
}

// ---------------------------------------------------------------------------
// The conditional-write probe
// ---------------------------------------------------------------------------

#[test]
fn a_store_that_ignores_if_none_match_blocks_every_backend_in_its_bucket() {
    let Some(moto) = moto("a_store_that_ignores_if_none_match_blocks_every_backend_in_its_bucket")
    else {
        return;
    };
    let store = Store::new(&moto, "probe");
    let before =
        store.seed(Seed::default().states(&["one/terraform.tfstate", "two/terraform.tfstate"]));
    let dir = tree(&[
        ("one/main.tf", &app_tf(&store, "one/terraform.tfstate")),
        ("two/main.tf", &app_tf(&store, "two/terraform.tfstate")),
    ]);
    let proxy = Proxy::start("strip-if-none-match", Some(&moto.url));

    // Straight to the emulator, which enforces If-None-Match, both may migrate.
    tflock(dir.path(), &moto.url, &["plan"])
        .assert_code(0)
        .assert_lacks("blocked:");

    let plan = tflock(dir.path(), &proxy.url(), &["plan"]);
    plan.assert_code(1);
    let text = plan.stdout();
    assert_eq!(
        text.matches("-> blocked").count(),
        2,
        "both backends must be blocked:\n{text}"
    );
    let why = format!(
        "bucket {} accepted a second conditional write (If-None-Match: *)",
        store.bucket
    );
    assert_eq!(text.matches(&why).count(), 2, "no explanation:\n{text}");
    plan.assert_contains("lock nothing")
        .assert_contains("--skip-probe");

    assert_apply_blocked(dir.path(), &proxy.url(), &[]);
    store.assert_unchanged(&before);

    let (run, _outside) = apply(dir.path(), &proxy.url(), &["--skip-probe"]);
    run.assert_code(0).assert_contains("Apply complete!");
    assert_migrated(dir.path(), "one/main.tf");
    assert_migrated(dir.path(), "two/main.tf");
    // The probe objects were removed again.
    store.assert_unchanged(&before);
}

// ---------------------------------------------------------------------------
// Terragrunt
// ---------------------------------------------------------------------------

fn terragrunt_root(store: &Store, key: &str) -> String {
    format!(
        r#"remote_state {{
  backend = "s3"
  config = {{
    bucket         = "{}"
    key            = "{key}"
    dynamodb_table = "{}"
    region         = "{REGION}"
    encrypt        = true
  }}
}}
"#,
        store.bucket, store.table
    )
}

const UNIT: &str = r#"include "root" {
  path = find_in_parent_folders("root.hcl")
}

terraform {
  source = "../../modules/app"
}
"#;

#[test]
fn terragrunt_unit_keys_are_relative_to_the_root_file() {
    let Some(moto) = moto("terragrunt_unit_keys_are_relative_to_the_root_file") else {
        return;
    };
    let store = Store::new(&moto, "tg");
    let before = store.seed(
        Seed::default()
            .states(&["a/terraform.tfstate", "b/terraform.tfstate"])
            .lock(
                "a/terraform.tfstate",
                "7c9e6679-7425-40de-944b-e07fc1f90ae7",
                "frank@tg-runner",
                Age::Secs(200),
            ),
    );
    let root = terragrunt_root(&store, "${path_relative_to_include()}/terraform.tfstate");
    let dir = tree(&[
        ("live/root.hcl", &root),
        ("live/a/terragrunt.hcl", UNIT),
        ("live/b/terragrunt.hcl", UNIT),
    ]);

    tflock(dir.path(), &moto.url, &["plan"])
        .assert_code(1)
        .assert_contains("live/root.hcl")
        .assert_contains("-> blocked")
        .assert_contains(
            "state a/terraform.tfstate (workspace default): DynamoDB lock held by frank@tg-runner",
        )
        .assert_lacks("state b/terraform.tfstate (workspace default)");
    assert_apply_blocked(dir.path(), &moto.url, &[]);

    let locks = tflock(dir.path(), &moto.url, &["locks"]);
    locks
        .assert_code(1)
        .assert_contains("a/terraform.tfstate")
        .assert_contains("b/terraform.tfstate");
    let doc = tflock(dir.path(), &moto.url, &["locks", "--format", "json"]).json();
    let mut states: Vec<(String, String, String)> = doc["states"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["state_key"].as_str().unwrap().to_string(),
                s["unit"].as_str().unwrap_or("-").to_string(),
                s["dynamodb"]["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    states.sort();
    assert_eq!(
        states,
        [
            ("a/terraform.tfstate".into(), "live/a".into(), "held".into()),
            ("b/terraform.tfstate".into(), "live/b".into(), "free".into()),
        ]
    );
    store.assert_unchanged(&before);
}

#[test]
fn a_terragrunt_root_without_units_is_blocked_by_any_lock_under_its_key_prefix() {
    let Some(moto) =
        moto("a_terragrunt_root_without_units_is_blocked_by_any_lock_under_its_key_prefix")
    else {
        return;
    };
    let store = Store::new(&moto, "tgp");
    // A lock outside the key's known prefix "tg/" is some other state's business.
    store.seed(Seed::default().states(&["other/x/terraform.tfstate"]).lock(
        "other/x/terraform.tfstate",
        "11111111-2222-4333-8444-555555555555",
        "grace@elsewhere",
        Age::Secs(10),
    ));
    let root = terragrunt_root(&store, "tg/${path_relative_to_include()}/terraform.tfstate");
    let dir = tree(&[("root.hcl", &root)]);

    tflock(dir.path(), &moto.url, &["plan"])
        .assert_code(0)
        .assert_contains("-> migrate")
        .assert_contains(&format!(
            "any active lock whose LockID starts with \"{}/tg/\" blocks this backend",
            store.bucket
        ))
        .assert_lacks("grace@elsewhere");

    let before = store.seed(
        Seed::default()
            .states(&["tg/live/x/terraform.tfstate"])
            .lock(
                "tg/live/x/terraform.tfstate",
                "99999999-8888-4777-8666-555555555555",
                "heidi@unit-x",
                Age::Secs(10),
            ),
    );
    tflock(dir.path(), &moto.url, &["plan"])
        .assert_code(1)
        .assert_contains("-> blocked")
        .assert_contains(&format!(
            "DynamoDB lock {}/tg/live/x/terraform.tfstate held by heidi@unit-x",
            store.bucket
        ))
        .assert_contains("99999999-8888-4777-8666-555555555555")
        .assert_lacks("grace@elsewhere");
    assert_apply_blocked(dir.path(), &moto.url, &[]);
    store.assert_unchanged(&before);
}

// ---------------------------------------------------------------------------
// Mixed outcomes, JSON, offline, skip
// ---------------------------------------------------------------------------

/// Two backends in one bucket and table: `free/` is free, `held/` is locked.
/// Returns the store, the tree and the store's snapshot.
fn mixed<'a>(moto: &'a Moto, tag: &str) -> (Store<'a>, TempDir, Value) {
    let store = Store::new(moto, tag);
    let before = store.seed(
        Seed::default()
            .states(&["free/terraform.tfstate", "held/terraform.tfstate"])
            .lock(
                "held/terraform.tfstate",
                "c0ffee00-1234-4abc-8def-0123456789ab",
                "ivan@deploy",
                Age::Secs(45),
            ),
    );
    let dir = tree(&[
        ("free/main.tf", &app_tf(&store, "free/terraform.tfstate")),
        ("held/main.tf", &app_tf(&store, "held/terraform.tfstate")),
    ]);
    (store, dir, before)
}

#[test]
fn apply_migrates_the_free_backend_and_leaves_the_blocked_one() {
    let Some(moto) = moto("apply_migrates_the_free_backend_and_leaves_the_blocked_one") else {
        return;
    };
    let (store, dir, before) = mixed(&moto, "mixed");
    let held_before = read(dir.path(), "held/main.tf");

    let (run, outside) = apply(dir.path(), &moto.url, &[]);
    run.assert_code(1)
        .assert_contains("free/main.tf:2 (terraform)")
        .assert_contains("-> migrate")
        .assert_contains("-> blocked")
        .assert_contains("ivan@deploy")
        .assert_contains("Apply complete! 1 file changed.");
    assert_migrated(dir.path(), "free/main.tf");
    assert_eq!(read(dir.path(), "held/main.tf"), held_before);
    let rollback = rollback_file(&outside).expect("rollback file");
    assert!(rollback.contains("free/main.tf"), "{rollback}");
    assert!(!rollback.contains("held/main.tf"), "{rollback}");

    // A second apply has nothing left it may do and still says why.
    let (again, _outside) = apply(dir.path(), &moto.url, &[]);
    again
        .assert_code(1)
        .assert_contains("ivan@deploy")
        .assert_contains("Nothing to apply");
    assert_eq!(read(dir.path(), "held/main.tf"), held_before);
    store.assert_unchanged(&before);
}

#[test]
fn plan_json_has_locks_per_backend_and_action_blocked() {
    let Some(moto) = moto("plan_json_has_locks_per_backend_and_action_blocked") else {
        return;
    };
    let (store, dir, before) = mixed(&moto, "pjson");
    let run = tflock(dir.path(), &moto.url, &["plan", "--format", "json"]);
    run.assert_code(1);
    let doc = run.json();
    let backend = |file: &str| {
        doc["backends"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["file"] == file)
            .unwrap_or_else(|| panic!("no backend {file} in {doc:#}"))
            .clone()
    };
    let held = backend("held/main.tf");
    assert_eq!(held["action"], "blocked", "{held:#}");
    let blockers = held["locks"]["blockers"].as_array().unwrap();
    assert_eq!(blockers.len(), 1, "{held:#}");
    assert!(blockers[0].as_str().unwrap().contains("ivan@deploy"));
    let state = &held["locks"]["states"][0];
    assert_eq!(state["workspace"], "default");
    assert_eq!(state["state_key"], "held/terraform.tfstate");
    assert_eq!(state["table"], json!(store.table));
    assert_eq!(state["dynamodb"]["status"], "held");
    assert_eq!(
        state["dynamodb"]["lock"]["ID"],
        "c0ffee00-1234-4abc-8def-0123456789ab"
    );
    assert_eq!(state["dynamodb"]["lock"]["Who"], "ivan@deploy");
    assert_eq!(state["dynamodb"]["lock"]["Operation"], "OperationTypeApply");
    assert_eq!(
        state["dynamodb"]["lock"]["Path"],
        json!(format!("{}/held/terraform.tfstate", store.bucket))
    );
    assert_eq!(state["lockfile"]["status"], "free");
    // A plan scans lock items only (digests are read by apply, rollback, locks).
    assert_eq!(state["digest"], "unknown");

    let free = backend("free/main.tf");
    assert_eq!(free["action"], "migrate", "{free:#}");
    assert_eq!(free["locks"]["blockers"], json!([]));
    assert_eq!(free["locks"]["states"][0]["dynamodb"]["status"], "free");
    assert_eq!(free["locks"]["probe"]["status"], "enforced");

    assert_eq!(doc["summary"]["blocked"], 1);
    assert_eq!(doc["summary"]["migrate"], 1);
    assert_eq!(doc["summary"]["lock_checks"], "checked");
    let changed: Vec<&str> = doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["changed"] == true)
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(changed, ["free/main.tf"]);
    store.assert_unchanged(&before);
}

#[test]
fn locks_json_reports_every_state_with_its_locks_and_digest() {
    let Some(moto) = moto("locks_json_reports_every_state_with_its_locks_and_digest") else {
        return;
    };
    let store = Store::new(&moto, "ljson");
    let before = store.seed(
        Seed::default()
            .states(&["app/terraform.tfstate", "env:/dev/app/terraform.tfstate"])
            .lockfile(
                "app/terraform.tfstate",
                "aaaaaaaa-0000-4000-8000-000000000001",
                "judy@lockfile",
                Age::Secs(20),
            )
            .lock(
                "env:/dev/app/terraform.tfstate",
                "bbbbbbbb-0000-4000-8000-000000000002",
                "ken@dynamo",
                Age::Secs(20),
            ),
    );
    let dir = tree(&[
        ("app/main.tf", &app_tf(&store, "app/terraform.tfstate")),
        // No state object and no digest item yet.
        ("new/main.tf", &app_tf(&store, "new/terraform.tfstate")),
    ]);

    let run = tflock(dir.path(), &moto.url, &["locks", "--format", "json"]);
    run.assert_code(1);
    let doc = run.json();
    assert_eq!(doc["format_version"], "1");
    let states = doc["states"].as_array().unwrap();
    let state = |key: &str| {
        states
            .iter()
            .find(|s| s["state_key"] == key)
            .unwrap_or_else(|| panic!("no state {key} in {doc:#}"))
    };
    let default = state("app/terraform.tfstate");
    assert_eq!(default["file"], "app/main.tf");
    assert_eq!(default["line"], 2);
    assert_eq!(default["workspace"], "default");
    assert_eq!(default["table"], json!(store.table));
    assert_eq!(default["dynamodb"]["status"], "free");
    assert_eq!(default["lockfile"]["status"], "held");
    assert_eq!(default["lockfile"]["lock"]["Who"], "judy@lockfile");
    assert_eq!(
        default["lockfile"]["lock"]["ID"],
        "aaaaaaaa-0000-4000-8000-000000000001"
    );
    assert_eq!(default["digest"], "present");
    assert_eq!(default["state_exists"], true);

    let dev = state("env:/dev/app/terraform.tfstate");
    assert_eq!(dev["workspace"], "dev");
    assert_eq!(dev["dynamodb"]["status"], "held");
    assert_eq!(dev["dynamodb"]["lock"]["Who"], "ken@dynamo");
    assert_eq!(dev["dynamodb"]["lock"]["Version"], "1.9.8");
    assert!(dev["dynamodb"]["lock"]["Created"].is_string());
    assert_eq!(dev["lockfile"]["status"], "free");
    assert_eq!(dev["digest"], "present");

    let new = state("new/terraform.tfstate");
    assert_eq!(new["file"], "new/main.tf");
    assert_eq!(new["dynamodb"]["status"], "free");
    assert_eq!(new["digest"], "absent");
    assert_eq!(new["state_exists"], false);
    assert_eq!(states.len(), 3, "{doc:#}");

    let backends = doc["backends"].as_array().unwrap();
    let app = backends
        .iter()
        .find(|b| b["file"] == "app/main.tf")
        .unwrap();
    assert_eq!(app["blockers"].as_array().unwrap().len(), 2, "{app:#}");
    let new_backend = backends
        .iter()
        .find(|b| b["file"] == "new/main.tf")
        .unwrap();
    assert_eq!(new_backend["blockers"], json!([]));
    assert_eq!(doc["summary"]["states"], 3);
    assert_eq!(doc["summary"]["held"], 2);
    assert_eq!(doc["summary"]["unverified"], 0);
    assert!(doc["summary"]["aws_requests"].as_u64().unwrap() > 0);

    // The text table shows the same facts, one row per state.
    tflock(dir.path(), &moto.url, &["locks"])
        .assert_code(1)
        .assert_contains("WORKSPACE")
        .assert_contains("env:/dev/app/terraform.tfstate")
        .assert_contains("new/terraform.tfstate")
        .assert_contains("held by ken@dynamo")
        .assert_contains("held by judy@lockfile")
        .assert_contains("3 states: 2 locks held, 0 unverified");
    store.assert_unchanged(&before);
}

#[test]
fn plan_offline_makes_no_aws_call() {
    let dir = offline_tree();
    for args in [
        &["plan", "--offline"][..],
        &["plan", "--offline", "--aws-timeout", "1"],
    ] {
        let run = tflock(dir.path(), &closed_endpoint(), args);
        run.assert_code(0)
            .assert_contains("-> migrate")
            .assert_contains("+    use_lockfile = true")
            .assert_contains("not checked")
            .assert_lacks("unverified");
    }
    // A silent endpoint would hold any AWS call for the whole timeout.
    let proxy = Proxy::start("hang", None);
    let run = tflock(
        dir.path(),
        &proxy.url(),
        &["plan", "--offline", "--format", "json"],
    );
    run.assert_code(0);
    assert!(run.took < Duration::from_secs(5), "took {:?}", run.took);
    let doc = run.json();
    assert_eq!(doc["backends"][0]["action"], "migrate");
    assert_eq!(doc["backends"][0]["locks"], "not checked");
    assert_eq!(doc["summary"]["lock_checks"], "not checked");
}

#[test]
fn apply_skip_lock_check_writes_despite_a_held_lock_with_a_loud_warning() {
    let Some(moto) = moto("apply_skip_lock_check_writes_despite_a_held_lock_with_a_loud_warning")
    else {
        return;
    };
    let store = Store::new(&moto, "skip");
    let before = store.seed(Seed::default().states(&["app/terraform.tfstate"]).lock(
        "app/terraform.tfstate",
        "deadbeef-0000-4000-8000-00000000beef",
        "mallory@racing",
        Age::Secs(5),
    ));
    let dir = tree(&[("app/main.tf", &app_tf(&store, "app/terraform.tfstate"))]);

    let (run, outside) = apply(dir.path(), &moto.url, &["--skip-lock-check"]);
    run.assert_code(0).assert_contains("Apply complete!");
    let warning = run.stderr();
    assert!(
        warning.contains("Warning") && warning.contains("--skip-lock-check"),
        "no warning on stderr:\n{warning}"
    );
    assert!(
        warning.contains("NOT verify"),
        "warning not loud:\n{warning}"
    );
    assert!(rollback_file(&outside).is_some());
    assert_migrated(dir.path(), "app/main.tf");
    // It neither checked (no lock holder named) nor touched the lock.
    run.assert_lacks("mallory@racing");
    store.assert_unchanged(&before);
}
