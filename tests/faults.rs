//! Fault injection for AWS (issue 7, item 3): the real `tflock` binary talks to the
//! moto emulator through `tests/support/proxy.py`, which answers chosen requests
//! with 500/503, throttling errors, S3's 409 `ConditionalRequestConflict`, a late
//! answer (past `--aws-timeout`) or a dropped connection, and counts every request
//! it saw (`GET /__proxy/counts`).
//!
//! Under each fault tflock must retry what the AWS SDK retries (standard mode, 3
//! attempts: a fault on the first attempt only costs one more request; a lasting
//! one costs exactly 3), then fail closed: `plan` exits 1 with the backend blocked
//! and a reason naming the failure, `apply` writes nothing (files byte-identical,
//! no rollback file), `apply --hold-locks` releases every lock it took, or names
//! the locks that remain when releasing them is what fails.
//!
//! Every case owns its bucket and table (random names) and its proxy, so cases run
//! in parallel, also inside one test (the waits are the SDK's back-off and the
//! timeouts, not CPU).

mod common;

use common::{python, read_tree, stderr, stdout, support, unique, write_files};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

const REGION: &str = "eu-west-1";
/// No run may take longer than this, whatever happens.
const LIMIT: Duration = Duration::from_secs(60);
/// What a timed-out run may take beyond `--aws-timeout` (process start, other
/// calls, a loaded machine running cases in parallel).
const SLACK: Duration = Duration::from_secs(3);
/// The operation tflock names in the locks it takes.
const TFLOCK_OPERATION: &str = "tflock-migration";
/// The SDK's attempts per call (standard retry mode, `with_max_attempts(3)`).
const SDK_ATTEMPTS: usize = 3;
/// `--aws-timeout` for retry cases: longer than 3 attempts with their back-off.
const RETRY_TIMEOUT: &str = "20";
/// `--aws-timeout` for slow answers, and how late the proxy answers.
const SHORT_TIMEOUT: &str = "2";
const SLOW_DELAY: &str = "5";

const KEY: &str = "app/terraform.tfstate";
/// The lockfile and the probe object share a prefix; these tell them apart.
const LOCKFILE: &[&str] = &["--path-contains", ".tflock", "--path-lacks", "tflock-probe"];

// ---------------------------------------------------------------------------
// The emulator and seeding (as tests/rollout.rs)
// ---------------------------------------------------------------------------

struct Moto {
    url: String,
}

fn moto(test: &str) -> Option<Moto> {
    common::moto(test).map(|url| Moto { url })
}

/// One `seed.py --lines` process for the whole test binary.
struct Session {
    _child: Child,
    stdin: std::process::ChildStdin,
    stdout: BufReader<std::process::ChildStdout>,
}

fn seed_session(line: &str) -> Value {
    static SESSION: std::sync::OnceLock<std::sync::Mutex<Session>> = std::sync::OnceLock::new();
    let session = SESSION.get_or_init(|| {
        let mut child = Command::new(python())
            .arg(support("seed.py"))
            .arg("--lines")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run tests/support/seed.py (TFLOCK_TEST_PYTHON needs boto3)");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        std::sync::Mutex::new(Session {
            _child: child,
            stdin,
            stdout,
        })
    });
    let mut session = session.lock().unwrap_or_else(|e| e.into_inner());
    writeln!(session.stdin, "{line}").expect("write to seed.py");
    session.stdin.flush().unwrap();
    let mut answer = String::new();
    session
        .stdout
        .read_line(&mut answer)
        .expect("read from seed.py");
    serde_json::from_str(&answer).unwrap_or_else(|e| panic!("seed.py answered {answer:?}: {e}"))
}

/// One case's state bucket and lock table, read and written directly (not
/// through the proxy).
struct Store<'a> {
    moto: &'a Moto,
    bucket: String,
    table: String,
}

impl<'a> Store<'a> {
    fn new(moto: &'a Moto, tag: &str) -> Store<'a> {
        Store {
            moto,
            bucket: unique(tag),
            table: unique(tag),
        }
    }

    fn run(&self, mut doc: Value) -> Value {
        doc["endpoint"] = json!(self.moto.url);
        doc["region"] = json!(REGION);
        let answer = seed_session(&doc.to_string());
        assert!(
            answer.get("error").is_none(),
            "seed.py failed on {doc}:\n{answer}"
        );
        answer
    }

    /// Bucket, lock table, and each state with its `-md5` digest item, as
    /// Terraform writes them. Returns the snapshot.
    fn create(&self, states: &[&str]) -> Value {
        self.run(json!({
            "buckets": [self.bucket],
            "tables": [self.table],
            "states": states.iter()
                .map(|k| json!({"bucket": self.bucket, "key": k, "table": self.table}))
                .collect::<Vec<_>>(),
        }));
        self.snapshot()
    }

    /// Every item (LockID -> attributes) and every object (key -> ETag).
    fn snapshot(&self) -> Value {
        let dump = self.run(json!({"dump": {"tables": [self.table], "buckets": [self.bucket]}}));
        json!({
            "items": dump["tables"][&self.table],
            "objects": dump["buckets"][&self.bucket],
        })
    }

    fn write_state(&self, key: &str, body: &str) {
        self.run(json!({"objects": [{"bucket": self.bucket, "key": key, "body": body}]}));
    }

    fn lock_id(&self, key: &str) -> String {
        format!("{}/{key}", self.bucket)
    }

    fn digest_id(&self, key: &str) -> String {
        format!("{}/{key}-md5", self.bucket)
    }

    /// What tflock left in the store: lock items naming its operation, and
    /// `.tflock` objects.
    fn tflock_locks(&self) -> (Vec<String>, Vec<String>) {
        let snapshot = self.snapshot();
        let items = snapshot["items"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(_, item)| {
                item["Info"]
                    .as_str()
                    .is_some_and(|i| i.contains(TFLOCK_OPERATION))
            })
            .map(|(id, _)| id.clone())
            .collect();
        let files = objects_ending(&snapshot, ".tflock");
        (items, files)
    }

    fn assert_nothing_locked_by_tflock(&self, context: &str) {
        let (items, files) = self.tflock_locks();
        assert!(
            items.is_empty() && files.is_empty(),
            "{context}: tflock left its locks behind: lock items {items:?}, lockfiles {files:?}"
        );
    }

    /// The store holds what it held before (no lock, probe object or digest
    /// change left by tflock).
    fn assert_unchanged(&self, before: &Value, context: &str) {
        let after = self.snapshot();
        assert_eq!(
            &after,
            before,
            "{context}: tflock changed the bucket or table (probe objects: {:?})",
            objects_containing(&after, ".tflock-probe-")
        );
    }
}

fn objects_ending(snapshot: &Value, suffix: &str) -> Vec<String> {
    snapshot["objects"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| k.ends_with(suffix))
        .cloned()
        .collect()
}

fn objects_containing(snapshot: &Value, needle: &str) -> Vec<String> {
    snapshot["objects"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| k.contains(needle))
        .cloned()
        .collect()
}

// ---------------------------------------------------------------------------
// The fault proxy
// ---------------------------------------------------------------------------

/// `tests/support/proxy.py MODE UPSTREAM ARGS...`; killed when dropped.
struct Proxy {
    child: Child,
    port: u16,
    spec: String,
}

impl Proxy {
    /// `fault` is the mode and its options, e.g. `["status500", "--op", "Scan"]`.
    fn start(fault: &[&str], upstream: &str) -> Proxy {
        let (mode, options) = fault.split_first().expect("a proxy mode");
        let mut child = Command::new(python())
            .arg(support("proxy.py"))
            .arg(mode)
            .arg(upstream)
            .args(options)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run tests/support/proxy.py");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("proxy.py {fault:?} did not print its port: {line:?}"));
        Proxy {
            child,
            port,
            spec: fault.join(" "),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What the proxy saw so far.
    fn counts(&self) -> Counts {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .write_all(b"GET /__proxy/counts HTTP/1.1\r\nHost: proxy\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b)
            .unwrap_or_default();
        Counts {
            doc: serde_json::from_str(body)
                .unwrap_or_else(|e| panic!("proxy counts are not JSON ({e}): {text:?}")),
            spec: self.spec.clone(),
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The requests a proxy saw: operation, method, path (with query), and the fault
/// it answered with (null when forwarded).
struct Counts {
    doc: Value,
    spec: String,
}

impl Counts {
    fn requests(&self, op: &str, path_has: &str) -> impl Iterator<Item = &Value> {
        self.doc["requests"]
            .as_array()
            .unwrap()
            .iter()
            .filter(move |r| r["op"] == op && r["path"].as_str().unwrap().contains(path_has))
    }

    /// Requests of `op` whose path contains `path_has` ("" for any).
    fn seen(&self, op: &str, path_has: &str) -> usize {
        self.requests(op, path_has).count()
    }

    /// Of those, the ones the proxy answered with its fault.
    fn faulted(&self, op: &str, path_has: &str) -> usize {
        self.requests(op, path_has)
            .filter(|r| !r["fault"].is_null())
            .count()
    }

    /// Asserts how many `op` requests were sent, and how many got the fault.
    fn assert(&self, op: &str, path_has: &str, seen: usize, faulted: usize, context: &str) {
        let (s, f) = (self.seen(op, path_has), self.faulted(op, path_has));
        assert!(
            s == seen && f == faulted,
            "{context}: proxy `{}`: expected {seen} {op} request(s) ({faulted} faulted) \
             whose path has {path_has:?}, saw {s} ({f} faulted); all requests:\n{:#}",
            self.spec,
            self.doc["requests"]
        );
    }
}

// ---------------------------------------------------------------------------
// Configuration trees and running tflock
// ---------------------------------------------------------------------------

fn app_tf(store: &Store, key: &str) -> String {
    format!(
        "terraform {{\n  backend \"s3\" {{\n    bucket         = \"{}\"\n    key            = \"{key}\"\n    region         = \"{REGION}\"\n    dynamodb_table = \"{}\"\n  }}\n}}\n",
        store.bucket, store.table
    )
}

fn tree(store: &Store) -> TempDir {
    let dir = TempDir::new().unwrap();
    write_files(
        dir.path(),
        &[("app/main.tf", app_tf(store, KEY).as_bytes())],
    );
    dir
}

fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap()
}

fn assert_migrated(dir: &Path, context: &str) {
    let text = read(dir, "app/main.tf");
    assert!(
        text.contains("use_lockfile = true") && !text.contains("dynamodb_table"),
        "{context}: app/main.tf was not migrated:\n{text}"
    );
}

/// What one run of tflock printed, and how long it took.
struct Run {
    out: Output,
    took: Duration,
    context: String,
}

impl Run {
    fn code(&self) -> i32 {
        self.out.status.code().unwrap_or_else(|| {
            panic!(
                "{}: killed by a signal: {:?}\n{}",
                self.context,
                self.out.status,
                stderr(&self.out)
            )
        })
    }

    fn text(&self) -> String {
        format!("{}{}", stdout(&self.out), stderr(&self.out))
    }

    /// The output without the diff and the preflight notes, for failure messages.
    fn brief(&self) -> String {
        let mut skipping = false;
        let mut lines = Vec::new();
        let text = self.text();
        for line in text.lines() {
            if line.starts_with("--- a/") || line == "Preflight:" {
                skipping = true;
            } else if line.is_empty() {
                skipping = false;
            }
            if !skipping && !line.is_empty() {
                lines.push(line);
            }
        }
        lines.join("\n")
    }

    fn assert_code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.code(),
            expected,
            "{}: unexpected exit code\n{}",
            self.context,
            self.brief()
        );
        self
    }

    fn assert_contains(&self, needle: &str) -> &Self {
        let text = self.text();
        assert!(
            text.contains(needle),
            "{}: output lacks {needle:?}:\n{}",
            self.context,
            self.brief()
        );
        self
    }

    fn assert_lacks(&self, needle: &str) -> &Self {
        let text = self.text();
        assert!(
            !text.contains(needle),
            "{}: output has {needle:?}:\n{}",
            self.context,
            self.brief()
        );
        self
    }
}

/// Runs tflock in `dir` against `endpoint`, isolated from any real AWS setting.
fn tflock(dir: &Path, endpoint: &str, args: &[&str], context: &str) -> Run {
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
        "{context}: tflock panicked:\n{err}"
    );
    Run {
        out,
        took,
        context: format!("{context} (tflock {})", args.join(" ")),
    }
}

/// `apply --auto-approve` (plus `extra`) with its rollback file outside the tree;
/// returns the run and whether it wrote a rollback file.
fn apply(dir: &Path, endpoint: &str, extra: &[&str], context: &str) -> (Run, bool) {
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
    let run = tflock(dir, endpoint, &args, context);
    let wrote = rollback.exists();
    (run, wrote)
}

/// Runs each case on its own thread; fails naming every case that failed.
fn parallel<'a>(cases: Vec<(String, Box<dyn FnOnce() + Send + 'a>)>) {
    let failures: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = cases
            .into_iter()
            .map(|(name, case)| {
                let handle = std::thread::Builder::new()
                    .name(name.clone())
                    .spawn_scoped(scope, case)
                    .unwrap();
                (name, handle)
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|(name, handle)| {
                handle.join().err().map(|panic| {
                    let message = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    format!("--- case {name}:\n{message}")
                })
            })
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

macro_rules! case {
    ($name:expr, $body:expr) => {
        (
            String::from($name),
            Box::new($body) as Box<dyn FnOnce() + Send + '_>,
        )
    };
}

// ---------------------------------------------------------------------------
// Lock checks (plan, apply): Scan, ListObjectsV2, the probe
// ---------------------------------------------------------------------------

/// A fault on a lock-check call's first attempt only: the SDK sends the call
/// once more, and the check (and the apply after it) succeeds.
/// `seen` counts every `op` request whose path has `path_has`: the faulted call's
/// two attempts, plus any other such call (the probe's second put).
fn transient_check_fault(
    moto: &Moto,
    tag: &str,
    fault: &[&str],
    op: &str,
    path_has: &str,
    seen: usize,
) {
    let context = format!("transient {fault:?}");
    let store = Store::new(moto, tag);
    let before = store.create(&[KEY]);
    let dir = tree(&store);
    let proxy = Proxy::start(fault, &moto.url);
    let (run, wrote) = apply(
        dir.path(),
        &proxy.url(),
        &["--aws-timeout", RETRY_TIMEOUT],
        &context,
    );
    run.assert_code(0)
        .assert_contains("-> migrate")
        .assert_lacks("blocked:")
        .assert_contains("Apply complete! 1 file changed.");
    proxy.counts().assert(op, path_has, seen, 1, &context);
    assert_migrated(dir.path(), &context);
    assert!(wrote, "{context}: no rollback file");
    store.assert_unchanged(&before, &context);
}

/// A lasting fault on a lock-check call: exactly `attempts` requests (the SDK's
/// three, unless it does not retry this error), then `plan` blocks the backend
/// with a reason naming the failure and `apply` writes nothing.
fn persistent_check_fault(
    moto: &Moto,
    tag: &str,
    fault: &[&str],
    op: &str,
    path_has: &str,
    attempts: usize,
    reasons: &[&str],
) {
    let context = format!("persistent {fault:?}");
    let store = Store::new(moto, tag);
    let before = store.create(&[KEY]);
    let dir = tree(&store);
    let files = read_tree(dir.path());

    let proxy = Proxy::start(fault, &moto.url);
    let plan = tflock(
        dir.path(),
        &proxy.url(),
        &["plan", "--aws-timeout", RETRY_TIMEOUT],
        &context,
    );
    plan.assert_code(1)
        .assert_contains("-> blocked")
        .assert_contains("1 blocked");
    for reason in reasons {
        plan.assert_contains(reason);
    }
    proxy.counts().assert(
        op,
        path_has,
        attempts,
        attempts,
        &format!("{context}: plan"),
    );
    assert_eq!(read_tree(dir.path()), files, "{context}: plan wrote");

    let proxy = Proxy::start(fault, &moto.url);
    let (run, wrote) = apply(
        dir.path(),
        &proxy.url(),
        &["--aws-timeout", RETRY_TIMEOUT],
        &context,
    );
    run.assert_code(1)
        .assert_contains("-> blocked")
        .assert_lacks("Apply complete");
    for reason in reasons {
        run.assert_contains(reason);
    }
    proxy.counts().assert(
        op,
        path_has,
        attempts,
        attempts,
        &format!("{context}: apply"),
    );
    assert_eq!(
        read_tree(dir.path()),
        files,
        "{context}: a blocked apply wrote:\n{}",
        run.brief()
    );
    assert!(!wrote, "{context}: a blocked apply wrote a rollback file");
    store.assert_unchanged(&before, &context);
}

#[test]
fn a_transient_500_503_or_throttle_on_a_lock_check_is_retried_once_and_passes() {
    let Some(moto) =
        moto("a_transient_500_503_or_throttle_on_a_lock_check_is_retried_once_and_passes")
    else {
        return;
    };
    let m = &moto;
    parallel(vec![
        case!("500 Scan", move || transient_check_fault(
            m,
            "t500scan",
            &["status500", "--op", "Scan", "--first", "1"],
            "Scan",
            "",
            2
        )),
        case!("503 ListObjectsV2", move || transient_check_fault(
            m,
            "t503list",
            &[
                "status503",
                "--op",
                "ListObjectsV2",
                "--path-contains",
                "prefix=app",
                "--first",
                "1"
            ],
            "ListObjectsV2",
            "prefix=app",
            2
        )),
        case!("ThrottlingException Scan", move || transient_check_fault(
            m,
            "tthrscan",
            &["throttle", "--op", "Scan", "--first", "1"],
            "Scan",
            "",
            2
        )),
        case!("ProvisionedThroughputExceededException Scan", move || {
            transient_check_fault(
                m,
                "tptescan",
                &[
                    "throttle",
                    "--op",
                    "Scan",
                    "--code",
                    "ProvisionedThroughputExceededException",
                    "--first",
                    "1",
                ],
                "Scan",
                "",
                2,
            )
        }),
        case!("SlowDown ListObjectsV2", move || transient_check_fault(
            m,
            "tslowlist",
            &[
                "throttle",
                "--op",
                "ListObjectsV2",
                "--path-contains",
                "prefix=app",
                "--first",
                "1"
            ],
            "ListObjectsV2",
            "prefix=app",
            2
        )),
        // The probe's first put: the SDK sends it twice and the probe still proves
        // conditional writes (the second put, once, gets moto's 412): 3 puts.
        case!("500 probe put", move || transient_check_fault(
            m,
            "t500probe",
            &[
                "status500",
                "--op",
                "PutObject",
                "--path-contains",
                "tflock-probe",
                "--first",
                "1"
            ],
            "PutObject",
            "tflock-probe",
            3
        )),
    ]);
}

#[test]
fn a_lasting_500_503_or_throttle_on_a_lock_check_costs_three_attempts_and_blocks() {
    let Some(moto) =
        moto("a_lasting_500_503_or_throttle_on_a_lock_check_costs_three_attempts_and_blocks")
    else {
        return;
    };
    let m = &moto;
    parallel(vec![
        case!("500 Scan", move || persistent_check_fault(
            m,
            "p500scan",
            &["status500", "--op", "Scan"],
            "Scan",
            "",
            SDK_ATTEMPTS,
            &[
                "DynamoDB lock unverified: cannot scan lock table",
                "InternalServerError"
            ]
        )),
        case!("503 ListObjectsV2", move || persistent_check_fault(
            m,
            "p503list",
            &["status503", "--op", "ListObjectsV2"],
            "ListObjectsV2",
            "",
            SDK_ATTEMPTS,
            &[
                "S3 lockfile unverified: cannot list bucket",
                "ServiceUnavailable"
            ]
        )),
        case!("ThrottlingException Scan", move || persistent_check_fault(
            m,
            "pthrscan",
            &["throttle", "--op", "Scan"],
            "Scan",
            "",
            SDK_ATTEMPTS,
            &[
                "DynamoDB lock unverified: cannot scan lock table",
                "ThrottlingException"
            ]
        )),
        case!("ProvisionedThroughputExceededException Scan", move || {
            persistent_check_fault(
                m,
                "pptescan",
                &[
                    "throttle",
                    "--op",
                    "Scan",
                    "--code",
                    "ProvisionedThroughputExceededException",
                ],
                "Scan",
                "",
                SDK_ATTEMPTS,
                &[
                    "DynamoDB lock unverified: cannot scan lock table",
                    "ProvisionedThroughputExceededException",
                ],
            )
        }),
        case!("SlowDown ListObjectsV2", move || persistent_check_fault(
            m,
            "pslowlist",
            &["throttle", "--op", "ListObjectsV2"],
            "ListObjectsV2",
            "",
            SDK_ATTEMPTS,
            &["S3 lockfile unverified: cannot list bucket", "SlowDown"]
        )),
        case!("500 probe put", move || persistent_check_fault(
            m,
            "p500probe",
            &[
                "status500",
                "--op",
                "PutObject",
                "--path-contains",
                "tflock-probe"
            ],
            "PutObject",
            "tflock-probe",
            SDK_ATTEMPTS,
            &[
                "conditional-write probe failed: cannot write probe object",
                "InternalError"
            ]
        )),
    ]);
}

/// The probe's verdict and reason in `plan --format json`.
fn probe_verdict(dir: &Path, endpoint: &str, context: &str) -> (Run, Value) {
    let run = tflock(
        dir,
        endpoint,
        &["plan", "--format", "json", "--aws-timeout", RETRY_TIMEOUT],
        context,
    );
    let doc: Value = serde_json::from_slice(&run.out.stdout)
        .unwrap_or_else(|e| panic!("{context}: not JSON ({e}):\n{}", run.text()));
    let probe = doc["backends"][0]["locks"]["probe"].clone();
    (run, probe)
}

/// S3 answers 409 `ConditionalRequestConflict` when another conditional write on
/// the key is in flight. Only a 412 proves that the store enforces If-None-Match;
/// a 409 on either probe put leaves it unproven, and the backend blocked. The SDK
/// does not retry a 409: one attempt.
#[test]
fn a_409_conditional_request_conflict_on_the_probe_blocks_and_is_not_taken_for_412() {
    let Some(moto) =
        moto("a_409_conditional_request_conflict_on_the_probe_blocks_and_is_not_taken_for_412")
    else {
        return;
    };
    let m = &moto;
    let conflict =
        |tag: &'static str, fault: &'static [&'static str], seen: usize, why: &'static str| {
            move || {
                let context = format!("{fault:?}");
                let store = Store::new(m, tag);
                let before = store.create(&[KEY]);
                let dir = tree(&store);
                let files = read_tree(dir.path());
                let proxy = Proxy::start(fault, &m.url);
                let (run, probe) = probe_verdict(dir.path(), &proxy.url(), &context);
                run.assert_code(1);
                assert_eq!(
                    probe["status"], "unverified",
                    "{context}: a 409 was taken for a verdict: {probe:#}"
                );
                let reason = probe["reason"].as_str().unwrap_or_default();
                assert!(
                    reason.contains(why) && reason.contains("ConditionalRequestConflict"),
                    "{context}: the reason does not name the 409: {reason:?}"
                );
                let doc: Value = serde_json::from_slice(&run.out.stdout).unwrap();
                assert_eq!(doc["backends"][0]["action"], "blocked", "{context}");
                proxy
                    .counts()
                    .assert("PutObject", "tflock-probe", seen, 1, &context);
                assert_eq!(read_tree(dir.path()), files, "{context}: plan wrote");
                // Text output names it too, and apply writes nothing.
                let proxy = Proxy::start(fault, &m.url);
                let (run, wrote) = apply(
                    dir.path(),
                    &proxy.url(),
                    &["--aws-timeout", RETRY_TIMEOUT],
                    &context,
                );
                run.assert_code(1)
                    .assert_contains("conditional-write probe failed")
                    .assert_contains("ConditionalRequestConflict")
                    .assert_lacks("Apply complete");
                assert_eq!(read_tree(dir.path()), files, "{context}: apply wrote");
                assert!(!wrote, "{context}: rollback file written");
                // The probe object (taken by the first put, or never) is gone.
                store.assert_unchanged(&before, &context);
            }
        };
    parallel(vec![
        case!(
            "409 on the first probe put",
            conflict(
                "c409first",
                &["conflict409", "--path-contains", "tflock-probe"],
                1,
                "cannot write probe object"
            )
        ),
        case!(
            "409 on the second probe put",
            conflict(
                "c409second",
                &[
                    "conflict409",
                    "--path-contains",
                    "tflock-probe",
                    "--after",
                    "1"
                ],
                2,
                "second probe write failed unexpectedly"
            )
        ),
        // The control: moto's own 412 on the second put is the proof.
        case!("412 from moto", move || {
            let store = Store::new(m, "c412");
            store.create(&[KEY]);
            let dir = tree(&store);
            let proxy = Proxy::start(&["forward"], &m.url);
            let (run, probe) = probe_verdict(dir.path(), &proxy.url(), "412 control");
            run.assert_code(0);
            assert_eq!(probe["status"], "enforced", "{probe:#}");
            proxy
                .counts()
                .assert("PutObject", "tflock-probe", 2, 0, "412 control");
        }),
    ]);
}

/// An answer later than `--aws-timeout` (the proxy forwards at once and answers
/// late): one attempt (the timeout bounds the call, retries included), the check
/// fails closed within the timeout, and apply writes nothing.
#[test]
fn a_slow_answer_past_the_timeout_blocks_within_the_timeout() {
    let Some(moto) = moto("a_slow_answer_past_the_timeout_blocks_within_the_timeout") else {
        return;
    };
    let m = &moto;
    let slow =
        |tag: &'static str, op: &'static str, path_has: &'static str, reason: &'static str| {
            move || {
                let fault = [
                    "slow",
                    "--op",
                    op,
                    "--path-contains",
                    path_has,
                    "--delay",
                    SLOW_DELAY,
                ];
                let context = format!("slow {op}");
                let store = Store::new(m, tag);
                let before = store.create(&[KEY]);
                let dir = tree(&store);
                let files = read_tree(dir.path());
                let timeout = Duration::from_secs(SHORT_TIMEOUT.parse().unwrap());

                let proxy = Proxy::start(&fault, &m.url);
                let plan = tflock(
                    dir.path(),
                    &proxy.url(),
                    &["plan", "--aws-timeout", SHORT_TIMEOUT],
                    &context,
                );
                plan.assert_code(1)
                    .assert_contains("-> blocked")
                    .assert_contains(reason)
                    .assert_contains("no answer within 2s (--aws-timeout)");
                assert!(
                    plan.took < timeout + SLACK,
                    "{context}: plan took {:?} with --aws-timeout {SHORT_TIMEOUT}",
                    plan.took
                );
                proxy.counts().assert(op, path_has, 1, 1, &context);

                let proxy = Proxy::start(&fault, &m.url);
                let (run, wrote) = apply(
                    dir.path(),
                    &proxy.url(),
                    &["--aws-timeout", SHORT_TIMEOUT],
                    &context,
                );
                run.assert_code(1)
                    .assert_contains("no answer within 2s (--aws-timeout)")
                    .assert_lacks("Apply complete");
                assert!(
                    run.took < timeout + SLACK,
                    "{context}: apply took {:?}",
                    run.took
                );
                assert_eq!(read_tree(dir.path()), files, "{context}: apply wrote");
                assert!(!wrote, "{context}: rollback file written");
                // Nothing of tflock's stays behind, the probe object included.
                store.assert_unchanged(&before, &context);
            }
        };
    parallel(vec![
        case!(
            "slow Scan",
            slow(
                "sscan",
                "Scan",
                "",
                "DynamoDB lock unverified: cannot scan lock table"
            )
        ),
        case!(
            "slow ListObjectsV2",
            slow(
                "slist",
                "ListObjectsV2",
                "prefix=app",
                "S3 lockfile unverified: cannot list bucket"
            )
        ),
        case!(
            "slow probe put",
            slow(
                "sprobe",
                "PutObject",
                "tflock-probe",
                "conditional-write probe failed"
            )
        ),
    ]);
}

/// A connection closed without an answer is an I/O error the SDK retries: once
/// is harmless, always costs three attempts and blocks ("cannot reach AWS").
#[test]
fn a_dropped_connection_is_retried_and_blocks_when_it_lasts() {
    let Some(moto) = moto("a_dropped_connection_is_retried_and_blocks_when_it_lasts") else {
        return;
    };
    let m = &moto;
    parallel(vec![
        case!("drop Scan once", move || transient_check_fault(
            m,
            "tdropscan",
            &["drop", "--op", "Scan", "--first", "1"],
            "Scan",
            "",
            2
        )),
        case!("drop Scan always", move || persistent_check_fault(
            m,
            "pdropscan",
            &["drop", "--op", "Scan"],
            "Scan",
            "",
            SDK_ATTEMPTS,
            &[
                "DynamoDB lock unverified: cannot scan lock table",
                "cannot reach AWS",
                "connection closed"
            ]
        )),
        case!("drop ListObjectsV2 always", move || persistent_check_fault(
            m,
            "pdroplist",
            &["drop", "--op", "ListObjectsV2"],
            "ListObjectsV2",
            "",
            SDK_ATTEMPTS,
            &[
                "S3 lockfile unverified: cannot list bucket",
                "cannot reach AWS"
            ]
        )),
    ]);
}

// ---------------------------------------------------------------------------
// apply --hold-locks: taking and releasing tflock's own locks
// ---------------------------------------------------------------------------

fn hold_locks(dir: &Path, proxy: &Proxy, timeout: &str, context: &str) -> (Run, bool) {
    apply(
        dir,
        &proxy.url(),
        &["--hold-locks", "--aws-timeout", timeout],
        context,
    )
}

/// A fault on the first attempt of a lock-taking or releasing call: one more
/// request, and the apply completes with every lock released.
fn transient_lock_fault(moto: &Moto, tag: &str, fault: &[&str], op: &str, path_has: &str) {
    let context = format!("--hold-locks, transient {fault:?}");
    let store = Store::new(moto, tag);
    let before = store.create(&[KEY]);
    let dir = tree(&store);
    let proxy = Proxy::start(fault, &moto.url);
    let (run, wrote) = hold_locks(dir.path(), &proxy, RETRY_TIMEOUT, &context);
    run.assert_code(0)
        .assert_contains("Held 1 state lock(s) while writing; released.")
        .assert_contains("Apply complete! 1 file changed.")
        .assert_lacks("could not release");
    proxy.counts().assert(op, path_has, 2, 1, &context);
    assert_migrated(dir.path(), &context);
    assert!(wrote, "{context}: no rollback file");
    store.assert_nothing_locked_by_tflock(&context);
    store.assert_unchanged(&before, &context);
}

/// A lasting fault while taking the locks: nothing written, and every lock tflock
/// had taken so far released. `(op, path_has, attempts)`: that many `op` requests
/// whose path has `path_has` were sent, all faulted (0: not checked).
fn failed_lock_take(
    moto: &Moto,
    tag: &str,
    fault: &[&str],
    timeout: &str,
    (op, path_has, attempts): (&str, &str, usize),
    reasons: &[&str],
) {
    let context = format!("--hold-locks, {fault:?}");
    let store = Store::new(moto, tag);
    let before = store.create(&[KEY]);
    let dir = tree(&store);
    let files = read_tree(dir.path());
    let proxy = Proxy::start(fault, &moto.url);
    let (run, wrote) = hold_locks(dir.path(), &proxy, timeout, &context);
    run.assert_code(1)
        .assert_contains("could not take the locks, nothing was written")
        .assert_lacks("Apply complete");
    for reason in reasons {
        run.assert_contains(reason);
    }
    if attempts > 0 {
        proxy
            .counts()
            .assert(op, path_has, attempts, attempts, &context);
    }
    assert_eq!(
        read_tree(dir.path()),
        files,
        "{context}: files written:\n{}",
        run.brief()
    );
    assert!(!wrote, "{context}: rollback file written");
    let (items, lockfiles) = store.tflock_locks();
    assert!(
        items.is_empty() && lockfiles.is_empty(),
        "{context}: tflock took a lock and left it behind: lock items {items:?}, lockfiles \
         {lockfiles:?} (Terraform now waits on them until someone runs force-unlock); tflock \
         said:\n{}",
        run.brief()
    );
    store.assert_unchanged(&before, &context);
}

#[test]
fn hold_locks_retries_a_transient_fault_on_taking_or_releasing_a_lock() {
    let Some(moto) = moto("hold_locks_retries_a_transient_fault_on_taking_or_releasing_a_lock")
    else {
        return;
    };
    let m = &moto;
    let lockfile_put: Vec<&str> =
        [&["--op", "PutObject"][..], LOCKFILE, &["--first", "1"]].concat();
    let lockfile_delete: Vec<&str> =
        [&["--op", "DeleteObject"][..], LOCKFILE, &["--first", "1"]].concat();
    let with = |mode: &'static str, rest: &[&'static str]| -> Vec<&'static str> {
        let mut v = vec![mode];
        v.extend_from_slice(rest);
        v
    };
    let f1 = with("status500", &["--op", "PutItem", "--first", "1"]);
    let f2 = with("throttle", &["--op", "PutItem", "--first", "1"]);
    let f3 = with("status503", &lockfile_put);
    let f4 = with("throttle", &lockfile_put);
    let f5 = with("status500", &["--op", "DeleteItem", "--first", "1"]);
    let f6 = with("status503", &lockfile_delete);
    let f7 = with("drop", &["--op", "PutItem", "--first", "1"]);
    parallel(vec![
        case!("500 PutItem", move || transient_lock_fault(
            m, "h500put", &f1, "PutItem", ""
        )),
        case!("ThrottlingException PutItem", move || transient_lock_fault(
            m, "hthrput", &f2, "PutItem", ""
        )),
        case!("503 lockfile put", move || transient_lock_fault(
            m,
            "h503lf",
            &f3,
            "PutObject",
            ".tflock?"
        )),
        case!("SlowDown lockfile put", move || transient_lock_fault(
            m,
            "hslowlf",
            &f4,
            "PutObject",
            ".tflock?"
        )),
        case!("500 DeleteItem", move || transient_lock_fault(
            m,
            "h500del",
            &f5,
            "DeleteItem",
            ""
        )),
        case!("503 lockfile delete", move || transient_lock_fault(
            m,
            "h503lfdel",
            &f6,
            "DeleteObject",
            ".tflock?"
        )),
        case!("drop PutItem once", move || transient_lock_fault(
            m, "hdropput", &f7, "PutItem", ""
        )),
    ]);
}

#[test]
fn hold_locks_releases_what_it_took_when_taking_a_lock_fails() {
    let Some(moto) = moto("hold_locks_releases_what_it_took_when_taking_a_lock_fails") else {
        return;
    };
    let m = &moto;
    let lockfile_put: Vec<&str> = [&["--op", "PutObject"][..], LOCKFILE].concat();
    let with = |mode: &'static str, rest: &[&'static str]| -> Vec<&'static str> {
        let mut v = vec![mode];
        v.extend_from_slice(rest);
        v
    };
    let f_500_lockfile = with("status500", &lockfile_put);
    let f_slowdown_lockfile = with("throttle", &lockfile_put);
    let f_409_lockfile = with("conflict409", &lockfile_put);
    let f_drop_lockfile = with("drop", &lockfile_put);
    parallel(vec![
        // Nothing taken yet: the DynamoDB lock itself fails.
        case!("500 PutItem", move || failed_lock_take(
            m,
            "f500put",
            &["status500", "--op", "PutItem"],
            RETRY_TIMEOUT,
            ("PutItem", "", SDK_ATTEMPTS),
            &["cannot take the DynamoDB lock", "InternalServerError"]
        )),
        case!("ProvisionedThroughputExceeded PutItem", move || {
            failed_lock_take(
                m,
                "fpteput",
                &[
                    "throttle",
                    "--op",
                    "PutItem",
                    "--code",
                    "ProvisionedThroughputExceededException",
                ],
                RETRY_TIMEOUT,
                ("PutItem", "", SDK_ATTEMPTS),
                &[
                    "cannot take the DynamoDB lock",
                    "ProvisionedThroughputExceededException",
                ],
            )
        }),
        // The DynamoDB lock is taken, the lockfile fails: the lock is released.
        case!("500 lockfile put", move || failed_lock_take(
            m,
            "f500lf",
            &f_500_lockfile,
            RETRY_TIMEOUT,
            ("PutObject", ".tflock?", SDK_ATTEMPTS),
            &["cannot create the S3 lockfile", "InternalError"]
        )),
        case!("SlowDown lockfile put", move || failed_lock_take(
            m,
            "fslowlf",
            &f_slowdown_lockfile,
            RETRY_TIMEOUT,
            ("PutObject", ".tflock?", SDK_ATTEMPTS),
            &["cannot create the S3 lockfile", "SlowDown"]
        )),
        case!("drop lockfile put", move || failed_lock_take(
            m,
            "fdroplf",
            &f_drop_lockfile,
            RETRY_TIMEOUT,
            ("PutObject", ".tflock?", SDK_ATTEMPTS),
            &["cannot create the S3 lockfile", "cannot reach AWS"]
        )),
        // 409 is not "the lockfile exists" (412), and the SDK does not retry it.
        case!("409 lockfile put", move || {
            failed_lock_take(
                m,
                "f409lf",
                &f_409_lockfile,
                RETRY_TIMEOUT,
                ("PutObject", ".tflock?", 1),
                &[
                    "cannot create the S3 lockfile",
                    "ConditionalRequestConflict",
                ],
            );
        }),
    ]);
}

/// The 409 on the lockfile put must not read as "the lockfile exists".
#[test]
fn hold_locks_409_on_the_lockfile_is_not_reported_as_a_held_lockfile() {
    let Some(moto) = moto("hold_locks_409_on_the_lockfile_is_not_reported_as_a_held_lockfile")
    else {
        return;
    };
    let store = Store::new(&moto, "f409msg");
    store.create(&[KEY]);
    let dir = tree(&store);
    let fault: Vec<&str> = [&["conflict409", "--op", "PutObject"][..], LOCKFILE].concat();
    let proxy = Proxy::start(&fault, &moto.url);
    let (run, _) = hold_locks(dir.path(), &proxy, RETRY_TIMEOUT, "409 lockfile");
    run.assert_code(1)
        .assert_contains("ConditionalRequestConflict")
        .assert_lacks("lockfile app/terraform.tfstate.tflock exists");
    store.assert_nothing_locked_by_tflock("409 lockfile");
}

/// The request reached AWS (the lock was taken) but its answer was lost: the
/// connection dropped (the SDK's retry then meets tflock's own lock), or the
/// answer came after `--aws-timeout`. tflock cannot tell whether it holds the
/// lock, so it must release it (conditionally: only if it is still tflock's own)
/// or at least say that it remains; it must not leave it behind as someone
/// else's lock.
#[test]
fn hold_locks_releases_a_lock_whose_answer_was_lost() {
    let Some(moto) = moto("hold_locks_releases_a_lock_whose_answer_was_lost") else {
        return;
    };
    let m = &moto;
    let lockfile_put: Vec<&str> = [&["--op", "PutObject"][..], LOCKFILE].concat();
    let with = |mode: &'static str, rest: &[&'static str]| -> Vec<&'static str> {
        let mut v = vec![mode];
        v.extend_from_slice(rest);
        v
    };
    let drop_item = with(
        "drop",
        &["--op", "PutItem", "--forward-first", "--first", "1"],
    );
    let drop_lockfile = with(
        "drop",
        &[&lockfile_put[..], &["--forward-first", "--first", "1"]].concat(),
    );
    let slow_item = with("slow", &["--op", "PutItem", "--delay", SLOW_DELAY]);
    let slow_lockfile = with(
        "slow",
        &[&lockfile_put[..], &["--delay", SLOW_DELAY]].concat(),
    );
    parallel(vec![
        // The put reached the store, its answer was lost: the SDK's retry meets
        // tflock's own lock, which tflock recognises (its Info / body) as taken.
        case!("answer to PutItem dropped", move || transient_lock_fault(
            m, "ldropput", &drop_item, "PutItem", ""
        )),
        case!("answer to the lockfile put dropped", move || {
            transient_lock_fault(m, "ldroplf", &drop_lockfile, "PutObject", ".tflock?")
        }),
        case!("answer to PutItem too late", move || failed_lock_take(
            m,
            "lslowput",
            &slow_item,
            SHORT_TIMEOUT,
            ("PutItem", "", 1),
            &["cannot take the DynamoDB lock"]
        )),
        case!("answer to the lockfile put too late", move || {
            failed_lock_take(
                m,
                "lslowlf",
                &slow_lockfile,
                SHORT_TIMEOUT,
                ("PutObject", ".tflock?", 1),
                &["cannot create the S3 lockfile"],
            )
        }),
    ]);
}

/// Releasing fails for good: after three attempts tflock exits non-zero and
/// names each lock that remains (and only those), and does not claim otherwise.
#[test]
fn hold_locks_names_the_locks_it_could_not_release() {
    let Some(moto) = moto("hold_locks_names_the_locks_it_could_not_release") else {
        return;
    };
    let m = &moto;
    let lockfile_delete: Vec<&str> = [&["--op", "DeleteObject"][..], LOCKFILE].concat();
    let with = |mode: &'static str, rest: &[&'static str]| -> Vec<&'static str> {
        let mut v = vec![mode];
        v.extend_from_slice(rest);
        v
    };
    let item_500 = with("status500", &["--op", "DeleteItem"]);
    let item_drop = with("drop", &["--op", "DeleteItem"]);
    let lockfile_503 = with("status503", &lockfile_delete);
    let lockfile_slowdown = with("throttle", &lockfile_delete);
    // (fault, op, path filter, the message naming the lock, which lock remains)
    let release = |tag: &'static str,
                   fault: Vec<&'static str>,
                   op: &'static str,
                   path_has: &'static str,
                   kind: &'static str,
                   error: &'static str| {
        move || {
            let context = format!("release {fault:?}");
            let store = Store::new(m, tag);
            store.create(&[KEY]);
            let dir = tree(&store);
            let proxy = Proxy::start(&fault, &m.url);
            let (run, _) = hold_locks(dir.path(), &proxy, RETRY_TIMEOUT, &context);
            assert_ne!(run.code(), 0, "{context}: exit 0:\n{}", run.brief());
            run.assert_contains(&format!(
                "could not release a lock tflock took: {kind} of {}: {error}",
                store.lock_id(KEY)
            ))
            .assert_contains("still held");
            proxy
                .counts()
                .assert(op, path_has, SDK_ATTEMPTS, SDK_ATTEMPTS, &context);
            // What it names is what remains, and the other lock is released.
            let (items, lockfiles) = store.tflock_locks();
            if kind == "DynamoDB lock" {
                assert_eq!(items, [store.lock_id(KEY)], "{context}");
                assert!(lockfiles.is_empty(), "{context}: {lockfiles:?}");
            } else {
                assert!(items.is_empty(), "{context}: {items:?}");
                assert_eq!(lockfiles, [format!("{KEY}.tflock")], "{context}");
            }
            // And nothing it prints says all were released.
            run.assert_lacks("released.");
        }
    };
    parallel(vec![
        case!(
            "500 DeleteItem",
            release(
                "r500item",
                item_500,
                "DeleteItem",
                "",
                "DynamoDB lock",
                "InternalServerError"
            )
        ),
        case!(
            "drop DeleteItem",
            release(
                "rdropitem",
                item_drop,
                "DeleteItem",
                "",
                "DynamoDB lock",
                "cannot reach AWS"
            )
        ),
        case!(
            "503 lockfile delete",
            release(
                "r503lf",
                lockfile_503,
                "DeleteObject",
                ".tflock?",
                "S3 lockfile",
                "ServiceUnavailable"
            )
        ),
        case!(
            "SlowDown lockfile delete",
            release(
                "rslowlf",
                lockfile_slowdown,
                "DeleteObject",
                ".tflock?",
                "S3 lockfile",
                "SlowDown"
            )
        ),
    ]);
}

/// The release reached AWS but its answer was lost; the SDK's retry finds the
/// lock gone (DynamoDB: the condition fails; S3: NoSuchKey). The lock is
/// released: tflock must not report it as remaining, nor fail the apply.
#[test]
fn hold_locks_a_release_whose_answer_was_lost_is_a_release() {
    let Some(moto) = moto("hold_locks_a_release_whose_answer_was_lost_is_a_release") else {
        return;
    };
    let m = &moto;
    let lockfile_delete: Vec<&str> = [
        &["drop", "--op", "DeleteObject"][..],
        LOCKFILE,
        &["--forward-first", "--first", "1"],
    ]
    .concat();
    let case =
        |tag: &'static str, fault: Vec<&'static str>, op: &'static str, path_has: &'static str| {
            move || {
                let context = format!("lost release answer {fault:?}");
                let store = Store::new(m, tag);
                let before = store.create(&[KEY]);
                let dir = tree(&store);
                let proxy = Proxy::start(&fault, &m.url);
                let (run, _) = hold_locks(dir.path(), &proxy, RETRY_TIMEOUT, &context);
                proxy.counts().assert(op, path_has, 2, 1, &context);
                store.assert_nothing_locked_by_tflock(&context);
                store.assert_unchanged(&before, &context);
                run.assert_lacks("could not release")
                    .assert_lacks("still held")
                    .assert_code(0)
                    .assert_contains("Apply complete! 1 file changed.");
            }
        };
    parallel(vec![
        case!(
            "DeleteItem answer lost",
            case(
                "xdelitem",
                vec![
                    "drop",
                    "--op",
                    "DeleteItem",
                    "--forward-first",
                    "--first",
                    "1"
                ],
                "DeleteItem",
                ""
            )
        ),
        case!(
            "lockfile delete answer lost",
            case("xdellf", lockfile_delete, "DeleteObject", ".tflock?")
        ),
    ]);
}

// ---------------------------------------------------------------------------
// rollback: reading states and repairing digests
// ---------------------------------------------------------------------------

const NEW_STATE: &str = "{\n  \"version\": 4,\n  \"serial\": 9,\n  \"lineage\": \"faults\"\n}\n";

/// Migrated (directly against moto), then Terraform wrote a new state on
/// lockfiles: the digest is stale and rollback has one item to repair.
fn migrated<'a>(m: &'a Moto, tag: &str) -> (Store<'a>, TempDir, String) {
    let store = Store::new(m, tag);
    store.create(&[KEY]);
    let dir = tree(&store);
    tflock(
        dir.path(),
        &m.url,
        &[
            "apply",
            "--auto-approve",
            "--keep-digests",
            "--rollback-file",
            "rb.json",
        ],
        "setup",
    )
    .assert_code(0);
    store.write_state(KEY, NEW_STATE);
    let migrated = read(dir.path(), "app/main.tf");
    (store, dir, migrated)
}

fn digest(store: &Store) -> Value {
    store.snapshot()["items"][store.digest_id(KEY)]["Digest"].clone()
}

#[test]
fn rollback_retries_transient_faults_and_fails_closed_on_lasting_ones() {
    let Some(moto) = moto("rollback_retries_transient_faults_and_fails_closed_on_lasting_ones")
    else {
        return;
    };
    let m = &moto;
    let rollback = [
        "rollback",
        "rb.json",
        "--auto-approve",
        "--aws-timeout",
        RETRY_TIMEOUT,
    ];
    parallel(vec![
        case!("transient 500 on the digest write", move || {
            let (store, dir, _) = migrated(m, "rbt500");
            let stale = digest(&store);
            let proxy = Proxy::start(&["status500", "--op", "PutItem", "--first", "1"], &m.url);
            tflock(
                dir.path(),
                &proxy.url(),
                &rollback,
                "transient digest write",
            )
            .assert_code(0)
            .assert_contains("Rollback complete! 1 file restored, 1 digest item repaired.");
            proxy
                .counts()
                .assert("PutItem", "", 2, 1, "transient digest write");
            assert_ne!(digest(&store), stale, "digest not repaired");
        }),
        // The state cannot be read: no repair can be planned, nothing is written.
        case!("lasting 503 reading the state", move || {
            let (store, dir, migrated) = migrated(m, "rbp503");
            let before = store.snapshot();
            let proxy = Proxy::start(
                &["status503", "--op", "GetObject", "--path-lacks", ".tflock"],
                &m.url,
            );
            tflock(dir.path(), &proxy.url(), &rollback, "lasting state read")
                .assert_code(1)
                .assert_contains("cannot plan the digest repair (nothing was written)")
                .assert_contains(&format!("cannot read state {KEY}"))
                .assert_contains("ServiceUnavailable")
                .assert_lacks("Rollback complete");
            proxy.counts().assert(
                "GetObject",
                KEY,
                SDK_ATTEMPTS,
                SDK_ATTEMPTS,
                "lasting state read",
            );
            assert_eq!(read(dir.path(), "app/main.tf"), migrated, "file restored");
            assert_eq!(store.snapshot(), before, "rollback wrote to AWS");
        }),
        // The digest write fails for good after the files were restored: it says
        // so, and a second rollback finishes the job.
        case!("lasting throttle on the digest write", move || {
            let (store, dir, _) = migrated(m, "rbpthr");
            let stale = digest(&store);
            let proxy = Proxy::start(&["throttle", "--op", "PutItem"], &m.url);
            tflock(dir.path(), &proxy.url(), &rollback, "lasting digest write")
                .assert_code(1)
                .assert_contains(&format!(
                    "cannot repair digest {} in {}",
                    store.digest_id(KEY),
                    store.table
                ))
                .assert_contains("ThrottlingException")
                .assert_contains("rerun `tflock rollback` to retry the digests")
                .assert_lacks("Rollback complete");
            proxy.counts().assert(
                "PutItem",
                "",
                SDK_ATTEMPTS,
                SDK_ATTEMPTS,
                "lasting digest write",
            );
            assert_eq!(digest(&store), stale, "digest changed");
            tflock(dir.path(), &m.url, &rollback, "rerun")
                .assert_code(0)
                .assert_contains("1 digest item repaired");
            assert_ne!(digest(&store), stale, "digest not repaired by the rerun");
        }),
    ]);
}
