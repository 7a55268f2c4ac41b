//! The AWS side of the end-to-end tests: the moto emulator, one test's bucket and
//! lock table in it (seeded and read back in Terraform's format by
//! `tests/support/seed.py`), and the fault-injecting proxy with its request counts
//! (`tests/support/proxy.py`).

use super::{python, support, unique};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, OnceLock};

/// The region every test store lives in unless it names another.
pub const REGION: &str = "eu-west-1";
/// The operation tflock names in the locks it takes (`apply --hold-locks`).
pub const TFLOCK_OPERATION: &str = "tflock-migration";

/// The moto emulator `scripts/test.sh` started.
pub struct Moto {
    pub url: String,
}

/// The emulator, or `None` (the test says it skipped; on CI it fails).
pub fn moto(test: &str) -> Option<Moto> {
    super::moto(test).map(|url| Moto { url })
}

impl Moto {
    /// Runs one `seed.py` document (see its docstring) against this emulator and
    /// returns its answer. The region is [`REGION`] unless the document names one.
    pub fn seed(&self, mut doc: Value) -> Value {
        doc["endpoint"] = json!(self.url);
        if doc.get("region").is_none() {
            doc["region"] = json!(REGION);
        }
        let answer = seed_session(&doc.to_string());
        assert!(
            answer.get("error").is_none(),
            "seed.py failed on {doc}:\n{answer}"
        );
        answer
    }
}

/// One `seed.py --lines` process for the whole test binary: Python and boto3
/// start once, not on every call. It exits when its stdin closes with us.
struct Session {
    _child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

fn seed_session(line: &str) -> Value {
    static SESSION: OnceLock<Mutex<Session>> = OnceLock::new();
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
        Mutex::new(Session {
            _child: child,
            stdin,
            stdout,
        })
    });
    // A test that panicked elsewhere leaves the session usable.
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

/// When a seeded lock was taken.
#[derive(Clone, Copy)]
pub enum Age {
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

/// A lock to seed: state key, lock ID, holder, age.
type LockSeed = (String, String, String, Age);

/// What to put into a store's bucket and table, in one `seed.py` document.
#[derive(Default)]
pub struct Seed {
    states: Vec<String>,
    locks: Vec<LockSeed>,
    lockfiles: Vec<LockSeed>,
}

impl Seed {
    /// State objects at `keys` and their `-md5` digest items, as Terraform writes them.
    pub fn states(mut self, keys: &[&str]) -> Seed {
        self.states.extend(keys.iter().map(|k| k.to_string()));
        self
    }

    /// A DynamoDB lock item `LockID = "<bucket>/<key>"` with LockInfo in `Info`.
    pub fn lock(mut self, key: &str, id: &str, who: &str, age: Age) -> Seed {
        self.locks.push((key.into(), id.into(), who.into(), age));
        self
    }

    /// An S3 lockfile `<key>.tflock` whose body is LockInfo.
    pub fn lockfile(mut self, key: &str, id: &str, who: &str, age: Age) -> Seed {
        self.lockfiles
            .push((key.into(), id.into(), who.into(), age));
        self
    }
}

/// One test's state bucket and lock table, in one region, read and written
/// directly (never through a proxy).
pub struct Store<'a> {
    pub moto: &'a Moto,
    pub bucket: String,
    pub table: String,
    pub region: &'static str,
    created: std::cell::Cell<bool>,
}

impl<'a> Store<'a> {
    /// Fresh bucket and table names in [`REGION`]; nothing is created yet.
    pub fn new(moto: &'a Moto, tag: &str) -> Store<'a> {
        Store::in_region(moto, tag, REGION)
    }

    pub fn in_region(moto: &'a Moto, tag: &str, region: &'static str) -> Store<'a> {
        Store {
            moto,
            bucket: unique(tag),
            table: unique(tag),
            region,
            created: std::cell::Cell::new(false),
        }
    }

    /// Runs `seed.py` in this store's region.
    pub fn run(&self, mut doc: Value) -> Value {
        doc["region"] = json!(self.region);
        self.moto.seed(doc)
    }

    /// Adds the bucket and table to `doc` the first time this store seeds.
    fn create_once(&self, doc: &mut Value) {
        if !self.created.replace(true) {
            doc["buckets"] = json!([self.bucket]);
            doc["tables"] = json!([self.table]);
        }
    }

    fn state_specs(&self, keys: &[String]) -> Value {
        json!(
            keys.iter()
                .map(|k| json!({"bucket": self.bucket, "key": k, "table": self.table}))
                .collect::<Vec<_>>()
        )
    }

    /// Creates the bucket and table (the first time), seeds them, and returns
    /// the snapshot afterwards.
    pub fn seed(&self, seed: Seed) -> Value {
        let lock = |(key, id, who, age): &LockSeed| {
            let mut lock = self.lock_spec(key, id, who);
            age.set(&mut lock);
            lock
        };
        let mut doc = json!({
            "states": self.state_specs(&seed.states),
            "locks": seed.locks.iter().map(lock).collect::<Vec<_>>(),
            "lockfiles": seed.lockfiles.iter().map(lock).collect::<Vec<_>>(),
        });
        self.create_once(&mut doc);
        self.run(doc);
        self.snapshot()
    }

    /// Creates the bucket and the lock table (hash key `LockID` of type S) and
    /// writes each state object with its `-md5` digest item, as Terraform does.
    /// Returns the snapshot.
    pub fn create(&self, states: &[&str]) -> Value {
        self.create_with(states, json!({}))
    }

    /// [`Store::create`] with more `seed.py` fields (versioning, ...).
    pub fn create_with(&self, states: &[&str], mut extra: Value) -> Value {
        extra["buckets"] = json!([self.bucket]);
        extra["tables"] = json!([self.table]);
        self.created.set(true);
        let keys: Vec<String> = states.iter().map(|k| k.to_string()).collect();
        extra["states"] = self.state_specs(&keys);
        self.run(extra);
        self.snapshot()
    }

    /// Every item of the table (LockID -> attributes) and every object (key ->
    /// ETag) of the bucket.
    pub fn snapshot(&self) -> Value {
        let dump = self.run(json!({"dump": {"tables": [self.table], "buckets": [self.bucket]}}));
        json!({
            "items": dump["tables"][&self.table],
            "objects": dump["buckets"][&self.bucket],
        })
    }

    /// Every object (key -> ETag) of the bucket (also when the table is gone).
    pub fn objects(&self) -> Value {
        self.run(json!({"dump": {"buckets": [self.bucket]}}))["buckets"][&self.bucket].clone()
    }

    /// A new state version, as Terraform on lockfiles writes it: new bytes, no
    /// digest update.
    pub fn write_state(&self, key: &str, body: &str) {
        self.run(json!({"objects": [{"bucket": self.bucket, "key": key, "body": body}]}));
    }

    pub fn delete_object(&self, key: &str) {
        self.run(json!({"delete_objects": [{"bucket": self.bucket, "key": key}]}));
    }

    pub fn delete_table(&self) {
        self.run(json!({"delete_tables": [self.table]}));
    }

    /// A DynamoDB lock item in Terraform's format, taken by `who` a minute ago.
    pub fn lock(&self, key: &str, id: &str, who: &str) {
        self.run(json!({"locks": [self.lock_spec(key, id, who)]}));
    }

    /// An S3 lockfile `<key>.tflock` in Terraform's format.
    pub fn lockfile(&self, key: &str, id: &str, who: &str) {
        self.run(json!({"lockfiles": [self.lock_spec(key, id, who)]}));
    }

    pub fn lock_spec(&self, key: &str, id: &str, who: &str) -> Value {
        json!({
            "table": self.table, "bucket": self.bucket, "key": key, "id": id,
            "who": who, "operation": "OperationTypeApply", "age_seconds": 60,
        })
    }

    /// Reads each state the way Terraform's S3 backend does (MD5 of the object
    /// against a consistent GetItem of `<bucket>/<key>-md5`):
    /// `{"digest", "object_md5", "ok"}` per key.
    pub fn terraform_reads(&self, keys: &[&str]) -> Vec<Value> {
        let reads: Vec<Value> = keys
            .iter()
            .map(|k| json!({"table": self.table, "bucket": self.bucket, "key": k}))
            .collect();
        let out = self.run(json!({"terraform_reads": reads}));
        out["terraform_reads"].as_array().unwrap().clone()
    }

    pub fn terraform_read(&self, key: &str) -> Value {
        self.terraform_reads(&[key]).remove(0)
    }

    /// Tries to lock each state as Terraform does (conditional PutItem, then a
    /// conditional lockfile put); what it took it releases again.
    /// `{"dynamodb": "taken"|"refused"|..., "lockfile": ...}` per key.
    pub fn try_terraform_locks(&self, keys: &[&str]) -> Vec<Value> {
        let locks: Vec<Value> = keys
            .iter()
            .map(|k| {
                self.lock_spec(
                    k,
                    "5ca1ab1e-0000-4000-8000-00000000c0de",
                    "terry@racing-run",
                )
            })
            .collect();
        let out = self.run(json!({"try_locks": locks}));
        out["try_locks"].as_array().unwrap().clone()
    }

    pub fn digest_id(&self, key: &str) -> String {
        format!("{}/{key}-md5", self.bucket)
    }

    pub fn lock_id(&self, key: &str) -> String {
        format!("{}/{key}", self.bucket)
    }

    /// The `Digest` of `<bucket>/<key>-md5` in a snapshot of this store.
    pub fn digest_in(&self, snapshot: &Value, key: &str) -> Option<String> {
        snapshot["items"][self.digest_id(key)]["Digest"]
            .as_str()
            .map(String::from)
    }

    /// What tflock holds in the store now: lock items naming its operation, and
    /// `.tflock` objects.
    pub fn tflock_locks(&self) -> (Vec<String>, Vec<String>) {
        tflock_locks(&self.snapshot())
    }

    pub fn assert_nothing_locked_by_tflock(&self, context: &str) {
        let snapshot = self.snapshot();
        let (items, files) = tflock_locks(&snapshot);
        assert!(
            items.is_empty() && files.is_empty(),
            "{context}: tflock left its locks behind: lock items {items:?}, lockfiles {files:?}\n{snapshot:#}"
        );
    }

    /// The store holds what it held before: tflock left no lock, probe object
    /// or digest change.
    pub fn assert_unchanged(&self, before: &Value, context: &str) {
        let after = self.snapshot();
        assert_eq!(
            &after,
            before,
            "{context}: tflock changed a lock, digest item, lockfile or state object \
             (probe objects: {:?})",
            objects_containing(&after, ".tflock-probe-")
        );
    }
}

/// The locks tflock holds in a snapshot: lock items whose Info names tflock's
/// operation, and `.tflock` objects.
pub fn tflock_locks(snapshot: &Value) -> (Vec<String>, Vec<String>) {
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
    (items, objects_ending(snapshot, ".tflock"))
}

/// The objects of a snapshot whose key ends with `suffix`.
pub fn objects_ending(snapshot: &Value, suffix: &str) -> Vec<String> {
    object_keys(snapshot, |k| k.ends_with(suffix))
}

/// The objects of a snapshot whose key contains `needle`.
pub fn objects_containing(snapshot: &Value, needle: &str) -> Vec<String> {
    object_keys(snapshot, |k| k.contains(needle))
}

fn object_keys(snapshot: &Value, keep: impl Fn(&str) -> bool) -> Vec<String> {
    snapshot["objects"]
        .as_object()
        .map(|objects| objects.keys().filter(|k| keep(k)).cloned().collect())
        .unwrap_or_default()
}

/// A loopback URL where nothing listens.
pub fn closed_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

// ---------------------------------------------------------------------------
// The fault proxy
// ---------------------------------------------------------------------------

/// `tests/support/proxy.py MODE [UPSTREAM] OPTIONS...`; killed when dropped (and
/// it exits by itself when its stdin, held here, closes).
pub struct Proxy {
    child: Child,
    port: u16,
    spec: String,
}

impl Proxy {
    /// `fault` is the mode and its options, e.g. `["status500", "--op", "Scan"]`;
    /// `upstream` is where it forwards (`deny` and `hang` need none).
    pub fn start(fault: &[&str], upstream: Option<&str>) -> Proxy {
        let (mode, options) = fault.split_first().expect("a proxy mode");
        let mut child = Command::new(python())
            .arg(support("proxy.py"))
            .arg(mode)
            .args(upstream)
            .args(options)
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
            .unwrap_or_else(|_| panic!("proxy.py {fault:?} did not print its port: {line:?}"));
        Proxy {
            child,
            port,
            spec: fault.join(" "),
        }
    }

    /// A proxy that forwards everything to `upstream` and counts it.
    pub fn counting(upstream: &str) -> Proxy {
        Proxy::start(&["forward"], Some(upstream))
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What the proxy saw so far.
    pub fn counts(&self) -> Counts {
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
pub struct Counts {
    doc: Value,
    spec: String,
}

impl Counts {
    fn requests(&self, op: &str, path_has: &str) -> impl Iterator<Item = &Value> {
        self.all()
            .iter()
            .filter(move |r| r["op"] == op && r["path"].as_str().unwrap().contains(path_has))
    }

    /// Every request, in the order the proxy saw them.
    pub fn all(&self) -> &[Value] {
        self.doc["requests"]
            .as_array()
            .map_or(&[], |r| r.as_slice())
    }

    /// Requests of `op` whose path contains `path_has` ("" for any).
    pub fn seen(&self, op: &str, path_has: &str) -> usize {
        self.requests(op, path_has).count()
    }

    /// Of those, the ones the proxy answered with its fault.
    pub fn faulted(&self, op: &str, path_has: &str) -> usize {
        self.requests(op, path_has)
            .filter(|r| !r["fault"].is_null())
            .count()
    }

    /// Asserts how many `op` requests were sent, and how many got the fault.
    pub fn assert(&self, op: &str, path_has: &str, seen: usize, faulted: usize, context: &str) {
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
