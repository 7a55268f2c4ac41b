//! Consumers of a migrated state (issue 12), end to end on the moto emulator:
//! `apply --strategy replace` deletes the `-md5` digest items (on the value it
//! read: a digest that changed in between is left), `--keep-digests` and `dual`
//! keep them, `rollback` writes them again, and `tflock status` reports digest
//! items of lockfile-only states (straggler / stale digest) and cleans the stale
//! ones with `--clean-digests`. The last test runs real Terraform: a producer
//! and two readers (one in a directory tflock does not scan) across an apply, a
//! producer run on lockfiles, a rollback, and a straggler.
//!
//! Each test owns its bucket and table (random names), so they share one
//! emulator. Seeding and reading back go through `tests/support/seed.py`, which
//! writes exactly what Terraform's S3 backend writes.

mod common;

use common::aws::REGION;
use common::run::{Background, Gate, isolated_aws_env};
use common::{output_within, python, stderr, stdout, support, unique, write_files};
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;
use tempfile::TempDir;

const LIMIT: Duration = Duration::from_secs(60);
const KEY: &str = "network/terraform.tfstate";
const DEV_KEY: &str = "env:/dev/network/terraform.tfstate";

/// One test's bucket and table on the emulator.
struct Store {
    url: String,
    bucket: String,
    table: String,
}

impl Store {
    fn new(test: &str, tag: &str) -> Option<Store> {
        let url = common::moto(test)?;
        let store = Store {
            url,
            bucket: unique(tag),
            table: unique(tag),
        };
        store.seed(json!({"buckets": [store.bucket], "tables": [store.table]}));
        Some(store)
    }

    /// Runs seed.py on one document (see its docstring).
    fn seed(&self, mut doc: Value) -> Value {
        doc["endpoint"] = json!(self.url);
        doc["region"] = json!(REGION);
        let out = Command::new(python())
            .arg(support("seed.py"))
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child
                    .stdin
                    .take()
                    .unwrap()
                    .write_all(doc.to_string().as_bytes())?;
                child.wait_with_output()
            })
            .expect("run tests/support/seed.py (TFLOCK_TEST_PYTHON needs boto3)");
        assert!(out.status.success(), "seed.py failed on {doc}");
        serde_json::from_slice(&out.stdout).expect("seed.py answers JSON")
    }

    /// States written by Terraform on DynamoDB locking: objects and digests.
    fn states(&self, keys: &[&str]) {
        let states: Vec<Value> = keys
            .iter()
            .map(|k| json!({"bucket": self.bucket, "key": k, "table": self.table}))
            .collect();
        self.seed(json!({ "states": states }));
    }

    /// A state write by Terraform on lockfiles: new bytes, no digest update.
    fn lockfile_write(&self, key: &str, body: &str) {
        self.seed(json!({"objects": [{"bucket": self.bucket, "key": key, "body": body}]}));
    }

    /// A state write by a client still on DynamoDB locking: bytes and digest.
    fn dynamodb_write(&self, key: &str, body: &str) {
        self.seed(json!({"dynamodb_writes": [
            {"bucket": self.bucket, "key": key, "table": self.table, "body": body}
        ]}));
    }

    fn digest(&self, key: &str) -> Option<String> {
        let dump = self.seed(json!({"dump": {"tables": [self.table]}}));
        dump["tables"][&self.table][self.digest_id(key)]["Digest"]
            .as_str()
            .map(String::from)
    }

    /// Reads the state as Terraform's S3 backend does with DynamoDB settings
    /// (a reader that names `dynamodb_table`): `{"digest", "object_md5", "ok"}`.
    fn terraform_read(&self, key: &str) -> Value {
        let out = self.seed(json!({"terraform_reads": [
            {"table": self.table, "bucket": self.bucket, "key": key}
        ]}));
        out["terraform_reads"][0].clone()
    }

    fn digest_id(&self, key: &str) -> String {
        format!("{}/{key}-md5", self.bucket)
    }

    fn backend_tf(&self, table: bool) -> String {
        let table = if table {
            format!("    dynamodb_table = \"{}\"\n", self.table)
        } else {
            String::new()
        };
        format!(
            "terraform {{\n  backend \"s3\" {{\n    bucket         = \"{}\"\n    key            = \"{KEY}\"\n    region         = \"{REGION}\"\n{table}  }}\n}}\n",
            self.bucket
        )
    }

    fn reader_tf(&self) -> String {
        format!(
            "data \"terraform_remote_state\" \"network\" {{\n  backend = \"s3\"\n  config = {{\n    bucket         = \"{}\"\n    key            = \"{KEY}\"\n    region         = \"{REGION}\"\n    dynamodb_table = \"{}\"\n  }}\n}}\n",
            self.bucket, self.table
        )
    }

    /// A repository with the producer (`network/`) and a reader (`app/`).
    fn repo(&self) -> TempDir {
        let dir = TempDir::new().unwrap();
        write_files(
            dir.path(),
            &[
                ("network/main.tf", self.backend_tf(true).as_bytes()),
                ("app/main.tf", self.reader_tf().as_bytes()),
            ],
        );
        dir
    }

    fn command(&self, dir: &Path, args: &[&str]) -> Command {
        let mut cmd = common::tflock_command(dir, args);
        isolated_aws_env(&mut cmd, &self.url);
        cmd
    }

    fn tflock(&self, dir: &Path, args: &[&str]) -> Output {
        let out = output_within(&mut self.command(dir, args), LIMIT);
        assert!(
            !stderr(&out).contains("panicked"),
            "tflock panicked:\n{}",
            stderr(&out)
        );
        out
    }
}

fn shown(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        stdout(out),
        stderr(out)
    )
}

fn ok(out: Output) -> Output {
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    out
}

fn json_of(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn apply(store: &Store, dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["apply", "--auto-approve", "--rollback-file", "rb.json"];
    args.extend_from_slice(extra);
    ok(store.tflock(dir, &args))
}

fn status_json(store: &Store, dir: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["status", "--format", "json", "--rollback-file", "rb.json"];
    args.extend_from_slice(extra);
    let out = store.tflock(dir, &args);
    serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}\n{}", shown(&out)))
}

/// This test's rows of the tripwire (other tests share the emulator).
fn digest_rows(status: &Value, store: &Store) -> Vec<Value> {
    status["digests"]
        .as_array()
        .expect("digests array")
        .iter()
        .filter(|d| d["table"] == json!(store.table))
        .cloned()
        .collect()
}

#[test]
fn replace_deletes_the_digests_so_readers_keep_working_and_rollback_writes_them_again() {
    let Some(store) = Store::new(
        "replace_deletes_the_digests_so_readers_keep_working_and_rollback_writes_them_again",
        "rd-del",
    ) else {
        return;
    };
    store.states(&[KEY, DEV_KEY]);
    let seeded = store.digest(KEY).expect("seeded digest");
    let seeded_dev = store.digest(DEV_KEY).expect("seeded digest");
    let dir = store.repo();

    let out = apply(&store, dir.path(), &[]);
    let text = stdout(&out);
    assert!(
        text.contains("Deleted 2 of 2 DynamoDB digest item(s)"),
        "{}",
        shown(&out)
    );
    assert!(text.contains("tflock status --clean-digests"), "{text}");
    // The reader lost its table, and gained no use_lockfile.
    let reader = std::fs::read_to_string(dir.path().join("app/main.tf")).unwrap();
    assert!(
        !reader.contains("dynamodb_table") && !reader.contains("use_lockfile"),
        "{reader}"
    );
    assert_eq!(store.digest(KEY), None);
    assert_eq!(store.digest(DEV_KEY), None);

    // The rollback file records each deleted value.
    let rb = json_of(&dir.path().join("rb.json"));
    let states = rb["backends"][0]["states"].as_array().unwrap();
    for (key, value) in [(KEY, &seeded), (DEV_KEY, &seeded_dev)] {
        let s = states
            .iter()
            .find(|s| s["state_key"] == key)
            .unwrap_or_else(|| panic!("{key} not in {rb:#}"));
        assert_eq!(s["digest_deleted"], json!(value), "{s:#}");
    }
    let md = std::fs::read_to_string(dir.path().join("rb.json.md")).unwrap();
    assert!(
        md.contains("Digest items deleted by apply") && md.contains(&seeded),
        "{md}"
    );

    // The producer runs on lockfiles: an old reader that names dynamodb_table
    // (say in another repository) still reads, since no digest is left.
    store.lockfile_write(KEY, "{\"version\": 4, \"serial\": 2}");
    let read = store.terraform_read(KEY);
    assert_eq!(read["ok"], true, "{read}");
    assert_eq!(read["digest"], Value::Null, "{read}");
    // Nothing for the tripwire to report.
    assert!(digest_rows(&status_json(&store, dir.path(), &[]), &store).is_empty());

    // Rollback writes each deleted digest again, from the state as it is now.
    let out = ok(store.tflock(dir.path(), &["rollback", "rb.json", "--auto-approve"]));
    assert!(
        stdout(&out).contains("2 digest items repaired"),
        "{}",
        shown(&out)
    );
    for key in [KEY, DEV_KEY] {
        let read = store.terraform_read(key);
        assert_eq!(read["ok"], true, "{key}: {read}");
        assert_eq!(read["digest"], read["object_md5"], "{key}: {read}");
    }
    assert_ne!(
        store.digest(KEY),
        Some(seeded),
        "the digest follows the new state"
    );
    assert_eq!(store.digest(DEV_KEY), Some(seeded_dev));
}

#[test]
fn keep_digests_and_dual_leave_the_digests() {
    let Some(store) = Store::new("keep_digests_and_dual_leave_the_digests", "rd-keep") else {
        return;
    };
    store.states(&[KEY]);
    let seeded = store.digest(KEY);

    let dual = store.repo();
    let out = apply(&store, dual.path(), &["--strategy", "dual"]);
    assert!(!stdout(&out).contains("Deleted"), "{}", shown(&out));
    assert_eq!(store.digest(KEY), seeded, "dual deleted the digest");
    // dual leaves the reader as it was.
    assert_eq!(
        std::fs::read_to_string(dual.path().join("app/main.tf")).unwrap(),
        store.reader_tf()
    );

    let keep = store.repo();
    let out = apply(&store, keep.path(), &["--keep-digests"]);
    assert!(!stdout(&out).contains("Deleted"), "{}", shown(&out));
    assert_eq!(
        store.digest(KEY),
        seeded,
        "--keep-digests deleted the digest"
    );
    let rb = json_of(&keep.path().join("rb.json"));
    assert_eq!(
        rb["backends"][0]["states"][0]["digest_deleted"],
        Value::Null,
        "{rb:#}"
    );
    // The kept digest still matches the state, but it is the one from before the
    // migration (the rollback file says so): stale to be, not a straggler.
    let rows = digest_rows(&status_json(&store, keep.path(), &[]), &store);
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0]["verdict"], "stale digest", "{rows:#?}");
    assert_eq!(rows[0]["digest_at_migration"], json!(seeded), "{rows:#?}");
}

#[test]
fn a_digest_written_between_the_read_and_the_delete_is_left_and_reported() {
    let Some(store) = Store::new(
        "a_digest_written_between_the_read_and_the_delete_is_left_and_reported",
        "rd-race",
    ) else {
        return;
    };
    store.states(&[KEY]);
    let dir = store.repo();
    // Once the files are written, the old configuration runs once more.
    let stopped = apply_stopped_before_digests(&store, dir.path());
    store.dynamodb_write(KEY, "{\"version\": 4, \"serial\": 7}");
    let fresh = store.digest(KEY).unwrap();
    let out = stopped.go_on();
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    assert!(
        stderr(&out).contains("changed since tflock read it")
            && stderr(&out).contains(&store.digest_id(KEY)),
        "{}",
        shown(&out)
    );
    assert!(stdout(&out).contains("Deleted 0 of 1"), "{}", shown(&out));
    assert_eq!(
        store.digest(KEY),
        Some(fresh),
        "the straggler's digest was deleted"
    );
    let rb = json_of(&dir.path().join("rb.json"));
    assert_eq!(
        rb["backends"][0]["states"][0]["digest_deleted"],
        Value::Null,
        "{rb:#}"
    );
    // The tripwire names it: fresh, so a straggler.
    let rows = digest_rows(&status_json(&store, dir.path(), &[]), &store);
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0]["verdict"], "straggler", "{rows:#?}");
}

#[test]
fn the_tripwire_tells_stragglers_from_stale_digests_and_cleans_only_the_stale() {
    let Some(store) = Store::new(
        "the_tripwire_tells_stragglers_from_stale_digests_and_cleans_only_the_stale",
        "rd-trip",
    ) else {
        return;
    };
    store.states(&[KEY, DEV_KEY]);
    let dir = store.repo();
    // Keep the digests, so the producer's next run on lockfiles leaves one stale.
    apply(&store, dir.path(), &["--keep-digests"]);
    store.lockfile_write(KEY, "{\"version\": 4, \"serial\": 3}");
    let stale = store.digest(KEY).unwrap();
    // A laptop still on the old configuration writes the dev workspace.
    store.dynamodb_write(DEV_KEY, "{\"version\": 4, \"serial\": 9}");
    let fresh = store.digest(DEV_KEY).unwrap();
    assert_eq!(
        store.terraform_read(KEY)["ok"],
        false,
        "the stale digest breaks readers"
    );

    let rows = digest_rows(&status_json(&store, dir.path(), &[]), &store);
    let row = |key: &str| {
        rows.iter()
            .find(|r| r["state_key"] == key)
            .unwrap_or_else(|| panic!("{key} not reported: {rows:#?}"))
            .clone()
    };
    assert_eq!(rows.len(), 2, "{rows:#?}");
    let (stale_row, straggler) = (row(KEY), row(DEV_KEY));
    assert_eq!(stale_row["verdict"], "stale digest", "{stale_row:#}");
    assert_eq!(stale_row["digest"], json!(stale));
    assert_eq!(straggler["verdict"], "straggler", "{straggler:#}");
    assert_eq!(straggler["workspace"], "dev");
    assert_eq!(straggler["digest_item"], json!(store.digest_id(DEV_KEY)));
    let advice = straggler["advice"].as_str().unwrap();
    assert!(
        advice.contains("still locking with DynamoDB")
            && advice.contains("before the change was merged"),
        "{advice}"
    );
    let text = stdout(&ok(
        store.tflock(dir.path(), &["status", "--rollback-file", "rb.json"])
    ));
    assert!(
        text.contains(&format!("straggler: {}", store.digest_id(DEV_KEY)))
            && text.contains(&format!("stale digest: {}", store.digest_id(KEY))),
        "{text}"
    );

    // Markdown carries the same verdicts.
    let md = stdout(&ok(store.tflock(
        dir.path(),
        &[
            "status",
            "--format",
            "markdown",
            "--rollback-file",
            "rb.json",
        ],
    )));
    assert!(
        md.contains(&format!("| straggler | `{}` |", store.digest_id(DEV_KEY)))
            && md.contains(&format!("| stale digest | `{}` |", store.digest_id(KEY)))
            && md.contains("before the change was merged"),
        "{md}"
    );

    // --dry-run names what it would delete and deletes nothing.
    let rows = digest_rows(
        &status_json(&store, dir.path(), &["--clean-digests", "--dry-run"]),
        &store,
    );
    let dry = rows.iter().find(|r| r["state_key"] == KEY).unwrap();
    assert_eq!(dry["cleaned"], "would delete (dry run)", "{dry:#}");
    assert_eq!(store.digest(KEY), Some(stale.clone()));

    // A held lockfile keeps its state's digest (lock rules as for apply).
    store.seed(json!({"lockfiles": [{
        "bucket": store.bucket, "key": KEY, "id": "0000-lock", "who": "ci@runner",
        "operation": "OperationTypeApply", "age_seconds": 5,
    }]}));
    let rows = digest_rows(
        &status_json(&store, dir.path(), &["--clean-digests"]),
        &store,
    );
    let held = rows.iter().find(|r| r["state_key"] == KEY).unwrap();
    assert!(
        held["cleaned"].as_str().unwrap().starts_with("not cleaned"),
        "{held:#}"
    );
    assert_eq!(store.digest(KEY), Some(stale));
    store.seed(
        json!({"delete_objects": [{"bucket": store.bucket, "key": format!("{KEY}.tflock")}]}),
    );

    // Free again: the stale digest goes, the straggler's stays as evidence.
    let rows = digest_rows(
        &status_json(&store, dir.path(), &["--clean-digests"]),
        &store,
    );
    let cleaned = rows.iter().find(|r| r["state_key"] == KEY).unwrap();
    assert_eq!(cleaned["cleaned"], "deleted", "{cleaned:#}");
    assert_eq!(store.digest(KEY), None);
    assert_eq!(store.digest(DEV_KEY), Some(fresh));
    assert_eq!(store.terraform_read(KEY)["ok"], true, "readers work again");
    let rows = digest_rows(&status_json(&store, dir.path(), &[]), &store);
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0]["verdict"], "straggler");
}

/// A reader's config is not what the tripwire looks at: a repository with only
/// a reader plans no backend and reports the reader, with no producer.
#[test]
fn a_reader_alone_is_reported_without_a_producer() {
    let dir = TempDir::new().unwrap();
    let store = Store {
        url: String::new(),
        bucket: "acme-state".into(),
        table: "locks".into(),
    };
    write_files(dir.path(), &[("app/main.tf", store.reader_tf().as_bytes())]);
    let out = common::tflock(dir.path(), &["plan", "--offline", "--format", "json"]);
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let readers = doc["readers"].as_array().unwrap();
    assert_eq!(readers.len(), 1, "{doc:#}");
    assert_eq!(readers[0]["file"], "app/main.tf");
    assert_eq!(readers[0]["line"], 1);
    assert_eq!(readers[0]["producer"], Value::Null);
    assert_eq!(readers[0]["action"], "remove-dynamodb-settings");
    assert_eq!(doc["summary"]["files_changed"], 1);
}

// ---------------------------------------------------------------------------
// Real Terraform: a producer, a reader in the repository and one outside it
// ---------------------------------------------------------------------------

/// `terraform` on PATH, or None (then the test says it skipped; CI must have it).
fn terraform(test: &str) -> Option<std::path::PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("terraform"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{test}: terraform is required on CI");
        }
        eprintln!("SKIPPED {test}: terraform not on PATH");
    }
    found
}

/// The S3 settings that point Terraform at the emulator, as HCL lines.
fn emulator_settings(url: &str, indent: &str, dynamodb: bool) -> String {
    let endpoints = if dynamodb {
        format!(
            "{indent}endpoints = {{\n{indent}  s3       = \"{url}\"\n{indent}  dynamodb = \"{url}\"\n{indent}}}\n"
        )
    } else {
        format!("{indent}endpoints = {{\n{indent}  s3 = \"{url}\"\n{indent}}}\n")
    };
    format!(
        "{endpoints}{indent}use_path_style              = true\n{indent}skip_credentials_validation = true\n{indent}skip_requesting_account_id  = true\n{indent}skip_metadata_api_check     = true\n{indent}skip_region_validation      = true\n"
    )
}

impl Store {
    /// The producer: its backend names the lock table; one output, `v`.
    fn producer_tf(&self) -> String {
        format!(
            "terraform {{\n  required_version = \">= 1.11\"\n  backend \"s3\" {{\n    bucket         = \"{}\"\n    key            = \"{KEY}\"\n    region         = \"{REGION}\"\n    dynamodb_table = \"{}\"\n{}  }}\n}}\n\nvariable \"v\" {{\n  type = string\n}}\n\noutput \"v\" {{\n  value = var.v\n}}\n",
            self.bucket,
            self.table,
            emulator_settings(&self.url, "    ", true)
        )
    }

    /// A reader with the producer's settings copied in, `dynamodb_table` included.
    fn terraform_reader_tf(&self) -> String {
        format!(
            "data \"terraform_remote_state\" \"network\" {{\n  backend = \"s3\"\n  config = {{\n    bucket         = \"{}\"\n    key            = \"{KEY}\"\n    region         = \"{REGION}\"\n    dynamodb_table = \"{}\"\n{}  }}\n}}\n\noutput \"seen\" {{\n  value = data.terraform_remote_state.network.outputs.v\n}}\n",
            self.bucket,
            self.table,
            emulator_settings(&self.url, "    ", true)
        )
    }

    /// Runs terraform in `dir` against the emulator; panics with its output on failure.
    fn terraform(&self, bin: &Path, dir: &Path, args: &[&str]) -> String {
        let out = self.terraform_run(bin, dir, args);
        assert!(
            out.status.success(),
            "terraform {args:?} in {} failed:\n{}",
            dir.display(),
            shown(&out)
        );
        stdout(&out)
    }

    fn terraform_run(&self, bin: &Path, dir: &Path, args: &[&str]) -> Output {
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", dir)
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .env("CHECKPOINT_DISABLE", "1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_EC2_METADATA_DISABLED", "true");
        output_within(&mut cmd, Duration::from_secs(120))
    }

    /// Applies a reader and returns the producer output it read.
    fn read_with(&self, bin: &Path, dir: &Path) -> String {
        self.terraform(bin, dir, &["apply", "-auto-approve", "-no-color"]);
        self.terraform(bin, dir, &["output", "-raw", "seen"])
    }
}

#[test]
fn readers_in_and_outside_the_repository_keep_reading_through_apply_and_rollback() {
    let test = "readers_in_and_outside_the_repository_keep_reading_through_apply_and_rollback";
    let Some(bin) = terraform(test) else {
        return;
    };
    let Some(store) = Store::new(test, "rd-tf") else {
        return;
    };
    let repo = TempDir::new().unwrap();
    let elsewhere = TempDir::new().unwrap();
    let old_checkout = TempDir::new().unwrap();
    write_files(
        repo.path(),
        &[
            ("network/main.tf", store.producer_tf().as_bytes()),
            ("app/main.tf", store.terraform_reader_tf().as_bytes()),
        ],
    );
    // Another repository's reader: tflock never sees it.
    write_files(
        elsewhere.path(),
        &[("main.tf", store.terraform_reader_tf().as_bytes())],
    );
    let producer = repo.path().join("network");
    let app = repo.path().join("app");
    let tf = |dir: &Path, args: &[&str]| store.terraform(&bin, dir, args);

    tf(&producer, &["init", "-no-color"]);
    tf(
        &producer,
        &["apply", "-auto-approve", "-no-color", "-var", "v=one"],
    );
    assert!(
        store.digest(KEY).is_some(),
        "Terraform on DynamoDB wrote no digest"
    );
    for dir in [&app, &elsewhere.path().to_path_buf()] {
        tf(dir, &["init", "-no-color"]);
        assert_eq!(store.read_with(&bin, dir), "one");
    }

    // Migrate: the producer to lockfiles, the reader in the repository loses its
    // DynamoDB settings, the digest goes.
    let out = ok(store.tflock(
        repo.path(),
        &["apply", "--auto-approve", "--rollback-file", "rb.json"],
    ));
    assert!(stdout(&out).contains("Deleted 1 of 1"), "{}", shown(&out));
    let reader = std::fs::read_to_string(app.join("main.tf")).unwrap();
    assert!(!reader.contains("dynamodb"), "{reader}");
    assert_eq!(store.digest(KEY), None);

    // The producer runs on lockfiles and changes its output; both readers read it
    // (the one outside still names dynamodb_table: no digest, only a warning).
    tf(&producer, &["init", "-reconfigure", "-no-color"]);
    tf(
        &producer,
        &["apply", "-auto-approve", "-no-color", "-var", "v=two"],
    );
    assert_eq!(
        store.digest(KEY),
        None,
        "Terraform on lockfiles wrote a digest"
    );
    assert_eq!(store.read_with(&bin, &app), "two");
    assert_eq!(store.read_with(&bin, elsewhere.path()), "two");
    assert!(
        digest_rows(&status_json(&store, repo.path(), &[]), &store).is_empty(),
        "nothing for the tripwire yet"
    );

    // A straggler: an old checkout still on DynamoDB locking runs once.
    write_files(
        old_checkout.path(),
        &[("main.tf", store.producer_tf().as_bytes())],
    );
    tf(old_checkout.path(), &["init", "-no-color"]);
    tf(
        old_checkout.path(),
        &["apply", "-auto-approve", "-no-color", "-var", "v=stray"],
    );
    let rows = digest_rows(&status_json(&store, repo.path(), &[]), &store);
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0]["verdict"], "straggler", "{rows:#?}");
    assert_eq!(rows[0]["state_key"], KEY);

    // Roll back: the producer runs on DynamoDB again, both readers still read.
    ok(store.tflock(repo.path(), &["rollback", "rb.json", "--auto-approve"]));
    assert_eq!(
        std::fs::read_to_string(producer.join("main.tf")).unwrap(),
        store.producer_tf()
    );
    tf(&producer, &["init", "-reconfigure", "-no-color"]);
    tf(
        &producer,
        &["apply", "-auto-approve", "-no-color", "-var", "v=three"],
    );
    tf(&app, &["init", "-no-color"]);
    assert_eq!(store.read_with(&bin, &app), "three");
    assert_eq!(store.read_with(&bin, elsewhere.path()), "three");
}

/// The control: with `--keep-digests` the reader outside the repository breaks
/// on the producer's first run on lockfiles, exactly as the issue measured, and
/// `tflock status --clean-digests` mends it.
#[test]
fn with_kept_digests_the_outside_reader_breaks_until_clean_digests() {
    let test = "with_kept_digests_the_outside_reader_breaks_until_clean_digests";
    let Some(bin) = terraform(test) else {
        return;
    };
    let Some(store) = Store::new(test, "rd-tfk") else {
        return;
    };
    let repo = TempDir::new().unwrap();
    let elsewhere = TempDir::new().unwrap();
    write_files(
        repo.path(),
        &[("network/main.tf", store.producer_tf().as_bytes())],
    );
    write_files(
        elsewhere.path(),
        &[("main.tf", store.terraform_reader_tf().as_bytes())],
    );
    let producer = repo.path().join("network");
    let tf = |dir: &Path, args: &[&str]| store.terraform(&bin, dir, args);
    tf(&producer, &["init", "-no-color"]);
    tf(
        &producer,
        &["apply", "-auto-approve", "-no-color", "-var", "v=one"],
    );
    tf(elsewhere.path(), &["init", "-no-color"]);
    assert_eq!(store.read_with(&bin, elsewhere.path()), "one");

    ok(store.tflock(
        repo.path(),
        &[
            "apply",
            "--auto-approve",
            "--keep-digests",
            "--rollback-file",
            "rb.json",
        ],
    ));
    tf(&producer, &["init", "-reconfigure", "-no-color"]);
    tf(
        &producer,
        &["apply", "-auto-approve", "-no-color", "-var", "v=two"],
    );
    let broken = store.terraform_run(
        &bin,
        elsewhere.path(),
        &["apply", "-auto-approve", "-no-color"],
    );
    assert!(
        !broken.status.success() && stderr(&broken).contains("does not have the expected content"),
        "the reader should fail on the stale digest:\n{}",
        shown(&broken)
    );

    let status = status_json(&store, repo.path(), &["--clean-digests"]);
    let rows = digest_rows(&status, &store);
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0]["verdict"], "stale digest", "{rows:#?}");
    assert_eq!(rows[0]["cleaned"], "deleted", "{rows:#?}");
    assert_eq!(store.read_with(&bin, elsewhere.path()), "two");
}

/// A delete that fails (the table went away between the read and the delete) is
/// reported with what to do, and recorded as not deleted; the files stay written.
#[test]
fn a_failed_digest_delete_is_reported_and_not_recorded() {
    let Some(store) = Store::new(
        "a_failed_digest_delete_is_reported_and_not_recorded",
        "rd-fail",
    ) else {
        return;
    };
    store.states(&[KEY]);
    let dir = store.repo();
    let stopped = apply_stopped_before_digests(&store, dir.path());
    store.seed(json!({"delete_tables": [store.table]}));
    let out = stopped.go_on();
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "digest {} in table {}: not deleted",
            store.digest_id(KEY),
            store.table
        )) && err.contains("tflock status --clean-digests"),
        "{}",
        shown(&out)
    );
    assert!(stdout(&out).contains("Deleted 0 of 1"), "{}", shown(&out));
    let rb = json_of(&dir.path().join("rb.json"));
    assert_eq!(
        rb["backends"][0]["states"][0]["digest_deleted"],
        Value::Null,
        "{rb:#}"
    );
}

/// `apply` in the background, stopped between writing the files and deleting
/// the digests (the `"digests"` gate); returns once it waits there. The test
/// acts, then [`Stopped::go_on`] lets it finish.
fn apply_stopped_before_digests(store: &Store, dir: &Path) -> Stopped {
    let mut cmd = store.command(
        dir,
        &["apply", "--auto-approve", "--rollback-file", "rb.json"],
    );
    let gate = Gate::at("digests", &mut cmd);
    let mut run = Background::spawn(cmd, "tflock apply --auto-approve");
    gate.wait(&mut run);
    assert!(
        !std::fs::read_to_string(dir.join("network/main.tf"))
            .unwrap()
            .contains("dynamodb_table"),
        "apply stopped before the digests without writing the files"
    );
    Stopped { run, gate }
}

struct Stopped {
    run: Background,
    gate: Gate,
}

impl Stopped {
    /// Opens the gate and waits for the run to end.
    fn go_on(self) -> Output {
        self.gate.open();
        self.run.finish().out
    }
}
