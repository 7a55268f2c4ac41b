//! tflock judged by Terraform itself: the real `terraform` binary (1.10 or later)
//! runs offline against the moto emulator as the client of every state tflock
//! checks and rewrites. Each scenario owns its bucket and table, so scenarios run
//! in parallel (cases inside one test on their own threads) on one emulator.
//!
//! What this proves, each step able to fail:
//! - Terraform on DynamoDB writes its state and the `-md5` digest item;
//! - a lock held by a running `terraform apply` blocks `tflock plan` and `apply`
//!   (nothing written) and `tflock locks` names its holder: default and named
//!   workspace, default, custom and empty `workspace_key_prefix`;
//! - after `replace` and `terraform init -reconfigure`, a running apply holds the
//!   `<key>.tflock` object (and no DynamoDB lock), tflock sees it as held, and it
//!   is gone once the state is written; `tflock status` reports the phase;
//! - after `dual`, a running apply holds both locks;
//! - while `apply --hold-locks` holds its locks, `terraform apply -lock-timeout=0s`
//!   fails on the lock, and runs normally afterwards;
//! - partial configuration (`-backend-config=dev.s3.tfbackend`, also split with
//!   `main.tf`) and `.tf.json` are rewritten into what `terraform init` accepts;
//! - `tflock rollback` repairs the digest so Terraform on DynamoDB runs again,
//!   and without the repair (`--files-only`) Terraform refuses the state.

mod common;

use common::aws::{Moto, Store, moto, objects_ending, tflock_locks};
use common::run::{Background, Gate, Run, apply, case, parallel, tflock, tflock_cmd};
use common::terraform::{Held, Terraform, hold_tf, terraform};
use common::tree::{assert_migrated, backend_tf, read, tree};
use serde_json::Value;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

const KEY: &str = "app/terraform.tfstate";
/// Terraform's error when the state does not match its DynamoDB digest.
const DIGEST_MISMATCH: &str = "does not have the expected content";

/// A module `app/` (backend in `app/main.tf`, the hold resource in `app/hold.tf`)
/// on a fresh bucket and table of its own; tflock runs at the tree's root.
struct Module<'a> {
    store: Store<'a>,
    root: TempDir,
    tf: Terraform,
}

impl<'a> Module<'a> {
    /// `files` go into `app/` beside `hold.tf`; `backend` builds them from the
    /// store's bucket and table names.
    fn new(
        moto: &'a Moto,
        terraform: &Path,
        tag: &str,
        backend: impl FnOnce(&Store) -> Vec<(&'static str, String)>,
    ) -> Module<'a> {
        let store = Store::new(moto, tag);
        store.create(&[]);
        let mut files = backend(&store);
        files.push(("hold.tf", hold_tf()));
        let paths: Vec<(String, &str)> = files
            .iter()
            .map(|(name, text)| (format!("app/{name}"), text.as_str()))
            .collect();
        let refs: Vec<(&str, &str)> = paths.iter().map(|(p, t)| (p.as_str(), *t)).collect();
        let root = tree(&refs);
        let tf = Terraform::new(terraform, &moto.url, &root.path().join("app"));
        Module { store, root, tf }
    }

    /// The usual `app/main.tf`: bucket, key, region, lock table (and `extra`).
    fn on_dynamodb(moto: &'a Moto, terraform: &Path, tag: &str, extra: &[(&str, &str)]) -> Self {
        let extra: Vec<(String, String)> = extra
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Module::new(moto, terraform, tag, |store| {
            let mut attrs = vec![
                ("bucket", store.bucket.as_str()),
                ("key", KEY),
                ("region", store.region),
                ("dynamodb_table", store.table.as_str()),
            ];
            attrs.extend(extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            vec![("main.tf", backend_tf(&attrs))]
        })
    }

    /// [`Module::on_dynamodb`], initialised, after a first apply: the state and
    /// its digest item exist.
    fn applied_on_dynamodb(moto: &'a Moto, terraform: &Path, tag: &str) -> Self {
        let m = Module::on_dynamodb(moto, terraform, tag, &[]);
        m.tf.init(&[]);
        m.tf.apply(&[]).assert_code(0);
        m
    }

    fn path(&self) -> &Path {
        self.root.path()
    }

    fn tflock(&self, args: &[&str]) -> Run {
        tflock(self.path(), &self.store.moto.url, args)
    }

    /// `tflock apply --auto-approve` (plus `extra`); it must succeed. Returns the
    /// rollback file's path (kept in `keep`).
    fn migrate(&self, extra: &[&str], keep: &TempDir) -> PathBuf {
        let applied = apply(self.path(), &self.store.moto.url, extra);
        applied
            .run
            .assert_code(0)
            .assert_contains("Apply complete!");
        let kept = keep.path().join("rollback.json");
        std::fs::copy(&applied.rollback_path, &kept).expect("apply wrote a rollback file");
        kept
    }

    /// Starts a held `terraform apply` and waits until `holds` sees its lock in
    /// a snapshot of the store; returns the run and that snapshot.
    fn hold(&self, what: &str, holds: impl Fn(&Value) -> bool) -> (Held, Value) {
        let mut held = self.tf.apply_holding();
        let snapshot = held.wait_for(what, || {
            let snapshot = self.store.snapshot();
            holds(&snapshot).then_some(snapshot)
        });
        (held, snapshot)
    }

    /// The LockInfo in the DynamoDB lock item of `state_key`, if one is held.
    fn dynamodb_lock(&self, snapshot: &Value, state_key: &str) -> Option<Value> {
        let info = snapshot["items"][self.store.lock_id(state_key)]["Info"].as_str()?;
        Some(serde_json::from_str(info).expect("Info is LockInfo JSON"))
    }

    /// The ETag of the state object `state_key`.
    fn state_etag(&self, state_key: &str) -> Option<String> {
        self.store.objects()[state_key].as_str().map(String::from)
    }
}

/// The emulator and Terraform, or `None` when the test said it skipped.
fn needs(test: &str) -> Option<(Moto, PathBuf)> {
    Some((moto(test)?, terraform(test)?))
}

/// Whether a snapshot holds the lockfile `<state_key>.tflock`.
fn has_lockfile(snapshot: &Value, state_key: &str) -> bool {
    objects_ending(snapshot, ".tflock").contains(&format!("{state_key}.tflock"))
}

/// Where Terraform keeps workspace `ws`'s state under this prefix (`None`: the
/// default `env:`).
fn state_key(prefix: Option<&str>, ws: &str) -> String {
    match (ws, prefix) {
        ("default", _) => KEY.to_string(),
        (_, None) => format!("env:/{ws}/{KEY}"),
        (_, Some("")) => format!("{ws}/{KEY}"),
        (_, Some(p)) => format!("{p}/{ws}/{KEY}"),
    }
}

// ---------------------------------------------------------------------------
// Terraform on DynamoDB, and its locks blocking tflock
// ---------------------------------------------------------------------------

#[test]
fn terraform_on_dynamodb_writes_the_state_and_its_digest_item() {
    let test = "terraform_on_dynamodb_writes_the_state_and_its_digest_item";
    let Some((moto, bin)) = needs(test) else {
        return;
    };
    let m = Module::applied_on_dynamodb(&moto, &bin, "tfbase");
    let read = m.store.terraform_read(KEY);
    assert!(read["digest"].is_string(), "no digest item: {read}");
    assert_eq!(read["digest"], read["object_md5"], "{read}");
    // tflock reads what Terraform wrote: one state, free, digest present.
    m.tflock(&["locks"])
        .assert_code(0)
        .assert_contains("1 state: 0 locks held, 0 unverified")
        .assert_contains("present");
}

/// A running `terraform apply` in workspace `ws` under `prefix` holds its
/// DynamoDB lock: `plan` and `apply` are blocked and name the holder, nothing is
/// written, `locks` names it; once the run ends, the same plan migrates.
fn held_by_terraform_blocks(moto: &Moto, bin: &Path, tag: &str, prefix: Option<&str>, ws: &str) {
    let extra: Vec<(&str, &str)> = prefix
        .map(|p| ("workspace_key_prefix", p))
        .into_iter()
        .collect();
    let m = Module::on_dynamodb(moto, bin, tag, &extra);
    m.tf.init(&[]);
    if ws != "default" {
        m.tf.ok(&["workspace", "new", ws]);
    }
    let key = state_key(prefix, ws);
    let (held, snapshot) = m.hold("terraform's DynamoDB lock", |s| {
        s["items"][m.store.lock_id(&key)]["Info"].is_string()
    });
    let info = m.dynamodb_lock(&snapshot, &key).unwrap();
    let who = info["Who"].as_str().unwrap();
    let id = info["ID"].as_str().unwrap();
    assert_eq!(info["Path"], m.store.lock_id(&key), "{info}");

    let main_tf = read(m.path(), "app/main.tf");
    m.tflock(&["plan"])
        .assert_code(1)
        .assert_contains("-> blocked")
        .assert_contains(&format!("state {key} (workspace {ws})"))
        .assert_contains(&format!("DynamoDB lock held by {who}"))
        .assert_contains(id);
    let applied = apply(m.path(), &m.store.moto.url, &[]);
    applied
        .run
        .assert_code(1)
        .assert_contains("-> blocked")
        .assert_contains(id)
        .assert_lacks("Apply complete");
    assert!(
        applied.rollback.is_none(),
        "a blocked apply wrote a rollback file"
    );
    assert_eq!(
        read(m.path(), "app/main.tf"),
        main_tf,
        "a blocked apply wrote"
    );
    m.tflock(&["locks"])
        .assert_code(1)
        .assert_contains(&format!("HELD by {who}"))
        .assert_contains(&key);

    held.release();
    // The control: with Terraform done, nothing blocks any more.
    m.tflock(&["plan"])
        .assert_code(0)
        .assert_contains("-> migrate")
        .assert_lacks("blocked:");
}

#[test]
fn a_lock_held_by_terraform_apply_blocks_tflock_in_every_workspace_and_prefix() {
    let test = "a_lock_held_by_terraform_apply_blocks_tflock_in_every_workspace_and_prefix";
    let Some((moto, bin)) = needs(test) else {
        return;
    };
    let (m, b) = (&moto, bin.as_path());
    parallel(vec![
        case("default prefix, default workspace", move || {
            held_by_terraform_blocks(m, b, "tfheld-dd", None, "default")
        }),
        case("default prefix, workspace dev", move || {
            held_by_terraform_blocks(m, b, "tfheld-dw", None, "dev")
        }),
        case("custom prefix, default workspace", move || {
            held_by_terraform_blocks(m, b, "tfheld-cd", Some("envs"), "default")
        }),
        case("custom prefix, workspace dev", move || {
            held_by_terraform_blocks(m, b, "tfheld-cw", Some("envs"), "dev")
        }),
        case("empty prefix, default workspace", move || {
            held_by_terraform_blocks(m, b, "tfheld-ed", Some(""), "default")
        }),
        case("empty prefix, workspace dev", move || {
            held_by_terraform_blocks(m, b, "tfheld-ew", Some(""), "dev")
        }),
    ]);
}

// ---------------------------------------------------------------------------
// After a migration: Terraform takes the new locks
// ---------------------------------------------------------------------------

#[test]
fn after_replace_terraform_locks_with_the_lockfile_only_and_status_says_lockfile() {
    let test = "after_replace_terraform_locks_with_the_lockfile_only_and_status_says_lockfile";
    let Some((moto, bin)) = needs(test) else {
        return;
    };
    let m = Module::applied_on_dynamodb(&moto, &bin, "tfreplace");
    let keep = TempDir::new().unwrap();
    m.migrate(&[], &keep);
    assert_migrated(m.path(), "app/main.tf");
    m.tf.init(&["-reconfigure"]);

    let written = m.state_etag(KEY).expect("state object");
    let (held, snapshot) = m.hold("terraform's lockfile", |s| has_lockfile(s, KEY));
    assert!(
        m.dynamodb_lock(&snapshot, KEY).is_none(),
        "Terraform on lockfiles still took the DynamoDB lock:\n{snapshot:#}"
    );
    m.tflock(&["locks"])
        .assert_code(1)
        .assert_contains("1 lock held");
    held.release();

    let after = m.store.snapshot();
    assert!(
        !has_lockfile(&after, KEY),
        "the lockfile stayed:\n{after:#}"
    );
    assert_ne!(
        m.state_etag(KEY).as_deref(),
        Some(written.as_str()),
        "the run did not write the state"
    );
    m.tflock(&["locks"])
        .assert_code(0)
        .assert_contains("0 locks held");
    m.tflock(&["plan", "--detailed-exitcode"])
        .assert_code(0)
        .assert_contains("already migrated");
    let status = m.tflock(&["status", "--format", "json"]);
    status.assert_code(0);
    let doc = status.json();
    assert_eq!(doc["backends"][0]["phase"], "lockfile", "{doc:#}");
    let table = doc["tables"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["table"] == m.store.table.as_str()))
        .unwrap_or_else(|| panic!("status does not list {}:\n{doc:#}", m.store.table));
    assert_eq!(table["verdict"], "safe to retire", "{table:#}");
}

#[test]
fn after_dual_a_terraform_run_holds_both_locks() {
    let test = "after_dual_a_terraform_run_holds_both_locks";
    let Some((moto, bin)) = needs(test) else {
        return;
    };
    let m = Module::applied_on_dynamodb(&moto, &bin, "tfdual");
    let keep = TempDir::new().unwrap();
    m.migrate(&["--strategy", "dual"], &keep);
    let main_tf = read(m.path(), "app/main.tf");
    assert!(
        main_tf.contains("use_lockfile") && main_tf.contains("dynamodb_table"),
        "{main_tf}"
    );
    m.tf.init(&["-reconfigure"]);
    let (held, snapshot) = m.hold("both of terraform's locks", |s| {
        has_lockfile(s, KEY) && s["items"][m.store.lock_id(KEY)]["Info"].is_string()
    });
    let info = m.dynamodb_lock(&snapshot, KEY).unwrap();
    m.tflock(&["locks"])
        .assert_code(1)
        .assert_contains(&format!("HELD by {}", info["Who"].as_str().unwrap()));
    held.release();
    let after = m.store.snapshot();
    assert!(!has_lockfile(&after, KEY) && m.dynamodb_lock(&after, KEY).is_none());
    // Dual keeps the digest current: old DynamoDB-only checkouts still read it.
    let read = m.store.terraform_read(KEY);
    assert_eq!(read["ok"], true, "{read}");
}

#[test]
fn while_apply_hold_locks_holds_them_terraform_cannot_lock() {
    let test = "while_apply_hold_locks_holds_them_terraform_cannot_lock";
    let Some((moto, bin)) = needs(test) else {
        return;
    };
    let m = Module::applied_on_dynamodb(&moto, &bin, "tfhold");

    let keep = TempDir::new().unwrap();
    let rollback = keep.path().join("rollback.json");
    let args = [
        "apply",
        "--auto-approve",
        "--hold-locks",
        "--rollback-file",
        rollback.to_str().unwrap(),
    ];
    let mut cmd = tflock_cmd(m.path(), &moto.url, &args);
    // A whole Terraform run while tflock holds the locks: it stops before it
    // writes, so Terraform still sees the old configuration.
    let gate = Gate::at("hold", &mut cmd);
    let mut holding = Background::spawn(cmd, "tflock apply --hold-locks");
    gate.wait(&mut holding);
    let (items, files) = tflock_locks(&m.store.snapshot());
    assert!(
        items.contains(&m.store.lock_id(KEY)) && files.contains(&format!("{KEY}.tflock")),
        "tflock does not hold both locks: {items:?} {files:?}"
    );
    m.tf.apply(&["-lock-timeout=0s"])
        .assert_code(1)
        .assert_contains("Error acquiring the state lock")
        .assert_contains("tflock-migration");
    gate.open();
    holding
        .finish()
        .assert_code(0)
        .assert_contains("Apply complete!");
    m.store
        .assert_nothing_locked_by_tflock("after apply --hold-locks");
    assert_migrated(m.path(), "app/main.tf");
    m.tf.init(&["-reconfigure"]);
    m.tf.apply(&["-lock-timeout=0s"]).assert_code(0);
}

// ---------------------------------------------------------------------------
// Partial configuration and JSON syntax
// ---------------------------------------------------------------------------

/// Migrates a module whose backend `files` build, initialised with `init`
/// arguments; then Terraform must accept the rewrite and take the lockfile.
fn migrates_into_what_terraform_accepts(
    moto: &Moto,
    bin: &Path,
    tag: &str,
    init: &[&str],
    changed: &str,
    files: impl FnOnce(&Store) -> Vec<(&'static str, String)>,
) {
    let m = Module::new(moto, bin, tag, files);
    m.tf.init(init);
    m.tf.apply(&[]).assert_code(0);
    assert!(
        m.store.terraform_read(KEY)["digest"].is_string(),
        "not on DynamoDB"
    );
    let before = read(m.path(), changed);
    let keep = TempDir::new().unwrap();
    m.migrate(&[], &keep);
    let after = read(m.path(), changed);
    assert!(
        after != before && !after.contains("dynamodb_table") && after.contains("use_lockfile"),
        "{changed} was not migrated:\n{after}"
    );
    let mut reinit = vec!["-reconfigure"];
    reinit.extend_from_slice(init);
    m.tf.init(&reinit);
    let (held, snapshot) = m.hold("terraform's lockfile", |s| has_lockfile(s, KEY));
    assert!(m.dynamodb_lock(&snapshot, KEY).is_none(), "{snapshot:#}");
    held.release();
}

#[test]
fn partial_configurations_and_json_syntax_migrate_into_what_terraform_accepts() {
    let test = "partial_configurations_and_json_syntax_migrate_into_what_terraform_accepts";
    let Some((moto, bin)) = needs(test) else {
        return;
    };
    let (m, b) = (&moto, bin.as_path());
    let partial = ["-backend-config=dev.s3.tfbackend"];
    parallel(vec![
        case("all in dev.s3.tfbackend", move || {
            migrates_into_what_terraform_accepts(
                m,
                b,
                "tfpart",
                &partial,
                "app/dev.s3.tfbackend",
                |s| {
                    let backend = format!(
                        "bucket         = \"{}\"\nkey            = \"{KEY}\"\nregion         = \"{}\"\ndynamodb_table = \"{}\"\n",
                        s.bucket, s.region, s.table
                    );
                    vec![
                        (
                            "main.tf",
                            "terraform {\n  backend \"s3\" {}\n}\n".to_string(),
                        ),
                        ("dev.s3.tfbackend", backend),
                    ]
                },
            )
        }),
        case("split between main.tf and dev.s3.tfbackend", move || {
            migrates_into_what_terraform_accepts(
                m,
                b,
                "tfsplit",
                &partial,
                "app/dev.s3.tfbackend",
                |s| {
                    let main = backend_tf(&[("bucket", &s.bucket), ("region", s.region)]);
                    let backend = format!(
                        "key            = \"{KEY}\"\ndynamodb_table = \"{}\"\n",
                        s.table
                    );
                    vec![("main.tf", main), ("dev.s3.tfbackend", backend)]
                },
            )
        }),
        case("main.tf.json", move || {
            migrates_into_what_terraform_accepts(m, b, "tfjson", &[], "app/main.tf.json", |s| {
                let json = serde_json::json!({"terraform": {"backend": {"s3": {
                    "bucket": s.bucket, "key": KEY, "region": s.region, "dynamodb_table": s.table,
                }}}});
                vec![(
                    "main.tf.json",
                    serde_json::to_string_pretty(&json).unwrap() + "\n",
                )]
            })
        }),
    ]);
}

// ---------------------------------------------------------------------------
// Rollback: the digest repair is what lets Terraform on DynamoDB run again
// ---------------------------------------------------------------------------

/// Migrated, re-initialised, and one lockfile-only apply that changed the state
/// (its digest item is now stale); then `tflock rollback` with `rollback_extra`
/// and `terraform init -reconfigure` on the restored files. Returns the
/// Terraform run on DynamoDB after it (or the `init` that already failed).
fn apply_after_rollback(moto: &Moto, bin: &Path, tag: &str, rollback_extra: &[&str]) -> Run {
    let m = Module::applied_on_dynamodb(moto, bin, tag);
    let original = read(m.path(), "app/main.tf");
    let keep = TempDir::new().unwrap();
    let rollback = m.migrate(&[], &keep);
    m.tf.init(&["-reconfigure"]);
    m.tf.apply(&[]).assert_code(0);
    assert_eq!(
        m.store.terraform_read(KEY)["ok"],
        false,
        "a lockfile-only apply left the digest current: the control proves nothing"
    );

    let mut args = vec!["rollback", rollback.to_str().unwrap(), "--auto-approve"];
    args.extend_from_slice(rollback_extra);
    m.tflock(&args).assert_code(0);
    assert_eq!(
        read(m.path(), "app/main.tf"),
        original,
        "files not restored"
    );
    let init = m.tf.run(&["init", "-input=false", "-reconfigure"]);
    if init.code() != 0 {
        return init;
    }
    m.tf.apply(&[])
}

#[test]
fn after_rollback_terraform_on_dynamodb_runs_again_only_with_the_digest_repair() {
    let test = "after_rollback_terraform_on_dynamodb_runs_again_only_with_the_digest_repair";
    let Some((moto, bin)) = needs(test) else {
        return;
    };
    let (m, b) = (&moto, bin.as_path());
    parallel(vec![
        case("rollback (files and digests)", move || {
            let run = apply_after_rollback(m, b, "tfrbfix", &[]);
            run.assert_code(0).assert_lacks(DIGEST_MISMATCH);
        }),
        case("control: rollback --files-only", move || {
            let run = apply_after_rollback(m, b, "tfrbctl", &["--files-only"]);
            run.assert_code(1).assert_contains(DIGEST_MISMATCH);
        }),
    ]);
}

// ---------------------------------------------------------------------------
// The second formatter oracle (used in tests/fixtures_e2e.rs)
// ---------------------------------------------------------------------------

/// The control for the `terraform fmt -check` oracle: it does refuse what
/// `terraform fmt` would change (misaligned `=`), and accepts the aligned block.
#[test]
fn terraform_fmt_check_refuses_misaligned_attributes() {
    let test = "terraform_fmt_check_refuses_misaligned_attributes";
    let Some(bin) = terraform(test) else {
        return;
    };
    let dir = tree(&[
        (
            "bad/main.tf",
            "terraform {\n  backend \"s3\" {\n    bucket = \"b\"\n    use_lockfile = true\n  }\n}\n",
        ),
        (
            "good/main.tf",
            &backend_tf(&[("bucket", "b"), ("key", KEY), ("region", "eu-west-1")]),
        ),
    ]);
    let fmt = |module: &str| {
        Terraform::new(&bin, "http://127.0.0.1:9", &dir.path().join(module))
            .run(&["fmt", "-check", "main.tf"])
            .code()
    };
    assert_ne!(
        fmt("bad"),
        0,
        "terraform fmt -check accepted misaligned `=`"
    );
    assert_eq!(
        fmt("good"),
        0,
        "terraform fmt -check refused an aligned block"
    );
}

// ---------------------------------------------------------------------------
// The harness itself
// ---------------------------------------------------------------------------

/// A held run that a test drops (it failed, say) is killed with everything it
/// started: no `terraform`, provisioner shell or `sleep` is left behind.
#[test]
fn a_dropped_held_run_is_killed_with_its_provisioner() {
    let test = "a_dropped_held_run_is_killed_with_its_provisioner";
    let Some((moto, bin)) = needs(test) else {
        return;
    };
    let m = Module::on_dynamodb(&moto, &bin, "tfdrop", &[]);
    m.tf.init(&[]);
    let (held, _) = m.hold("terraform's DynamoDB lock", |s| {
        s["items"][m.store.lock_id(KEY)]["Info"].is_string()
    });
    let group = format!("-{}", held.run.pid());
    let group_alive = || {
        std::process::Command::new("kill")
            .args(["-0", "--", &group])
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap()
            .success()
    };
    assert!(group_alive(), "the held run's process group is not there");
    drop(held);
    // The killed children are reaped by init a moment later.
    let start = std::time::Instant::now();
    while group_alive() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(5),
            "processes of the dropped run are still alive"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
