//! End-to-end tests of the phased rollout (issue 4): the rollback plan, `rollback`
//! repairing DynamoDB digest items, `apply --hold-locks`, the next steps after apply,
//! and `tflock status`. The real `tflock` binary runs against the moto S3/DynamoDB
//! emulator, seeded (and read back) in Terraform's format by `tests/support/seed.py`.
//!
//! `apply` runs with `--keep-digests` here: these tests follow the digest items
//! an apply leaves for `rollback` to repair (issue 12 made apply delete them by
//! default; tests/readers.rs covers that).
//!
//! Every test owns its buckets and tables (random names), so the tests share one
//! emulator and run in parallel. Other tests' tables live in the same account and
//! region: `status` assertions look at this test's rows only.

mod common;

use common::aws::{REGION, Store, TFLOCK_OPERATION, moto, tflock_locks};
use common::run::{Background, Gate, tflock, tflock_cmd, wait_until};
use common::tree::{app_tf, assert_migrated, backend_hcl, mode, q, read, tree};
use common::unique;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use tempfile::TempDir;

/// `apply --hold-locks` in the background; returns once it holds its locks and
/// waits, before it writes, at the `"hold"` gate. [`Gate::open`] lets it go on.
fn apply_holding(dir: &Path, endpoint: &str, extra: &[&str]) -> (Background, Gate) {
    let mut args = vec!["apply", "--auto-approve", "--keep-digests", "--hold-locks"];
    args.extend_from_slice(extra);
    let mut cmd = tflock_cmd(dir, endpoint, &args);
    let gate = Gate::at("hold", &mut cmd);
    let mut run = Background::spawn(cmd, &format!("tflock {}", args.join(" ")));
    gate.wait(&mut run);
    (run, gate)
}

/// Polls the store until `ready` holds for its snapshot; panics (with what the
/// background run printed) if the run ends first or 20 s pass.
fn wait_for_snapshot(
    store: &Store,
    run: &mut Background,
    what: &str,
    ready: impl Fn(&Value) -> bool,
) -> Value {
    wait_until(run, what, Duration::from_secs(20), || {
        Some(store.snapshot()).filter(|snapshot| ready(snapshot))
    })
}

/// The snapshot holds tflock's DynamoDB lock and lockfile on every one of `keys`.
fn holds_tflock_locks(store: &Store, keys: &[&str]) -> impl Fn(&Value) -> bool {
    let ids: Vec<String> = keys.iter().map(|k| store.lock_id(k)).collect();
    let files: Vec<String> = keys.iter().map(|k| format!("{k}.tflock")).collect();
    move |snapshot: &Value| {
        let (items, lockfiles) = tflock_locks(snapshot);
        ids.iter().all(|id| items.contains(id)) && files.iter().all(|f| lockfiles.contains(f))
    }
}

const DEFAULT_KEY: &str = "app/terraform.tfstate";
const DEV_KEY: &str = "env:/dev/app/terraform.tfstate";

/// A new state version, different bytes from what `seed.py` wrote.
const NEW_STATE: &str = "{\n  \"version\": 4,\n  \"terraform_version\": \"1.11.0\",\n  \"serial\": 4,\n  \"lineage\": \"written-on-lockfiles\",\n  \"outputs\": {},\n  \"resources\": []\n}\n";

// ---------------------------------------------------------------------------
// 1. The whole story: apply, Terraform writes on lockfiles, rollback
// ---------------------------------------------------------------------------

#[test]
fn rollback_restores_the_files_and_repairs_the_digest_terraform_checks() {
    let Some(moto) = moto("rollback_restores_the_files_and_repairs_the_digest_terraform_checks")
    else {
        return;
    };
    let store = Store::new(&moto, "story");
    let seeded = store.create(&[DEFAULT_KEY, DEV_KEY]);
    let seeded_default = store
        .digest_in(&seeded, DEFAULT_KEY)
        .expect("seeded digest");
    let seeded_dev = store.digest_in(&seeded, DEV_KEY).expect("seeded digest");
    // The seed is Terraform's: its digests are the MD5 of the state objects.
    for read in store.terraform_reads(&[DEFAULT_KEY, DEV_KEY]) {
        assert_eq!(read["ok"], true, "{read}");
        assert_eq!(read["digest"], read["object_md5"], "{read}");
    }

    let dir = tree(&[("app/main.tf", &app_tf(&store, DEFAULT_KEY))]);
    let original = std::fs::read(dir.path().join("app/main.tf")).unwrap();
    tflock(
        dir.path(),
        &moto.url,
        &[
            "apply",
            "--auto-approve",
            "--keep-digests",
            "--rollback-file",
            "rb.json",
        ],
    )
    .assert_code(0)
    .assert_contains("Apply complete! 1 file changed.")
    .assert_contains("rb.json.md");
    assert_migrated(dir.path(), "app/main.tf");
    let migrated = std::fs::read(dir.path().join("app/main.tf")).unwrap();

    // The rollback plan: private, complete and self-describing.
    let rb_path = dir.path().join("rb.json");
    let md_path = dir.path().join("rb.json.md");
    #[cfg(unix)]
    {
        assert_eq!(mode(&rb_path), 0o600, "rollback file mode");
        assert_eq!(mode(&md_path), 0o600, "Markdown rollback plan mode");
    }
    let rb: Value = serde_json::from_str(&read(dir.path(), "rb.json")).unwrap();
    let files = rb["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{rb:#}");
    let file = &files[0];
    assert_eq!(file["path"], "app/main.tf");
    assert_eq!(
        file["original"],
        json!(String::from_utf8(original.clone()).unwrap())
    );
    let reverse = file["reverse_diff"].as_str().unwrap();
    let table_line = format!("+    dynamodb_table = \"{}\"", store.table);
    for line in [
        "--- a/app/main.tf",
        "-    use_lockfile = true",
        table_line.as_str(),
    ] {
        assert!(
            reverse.contains(line),
            "reverse diff lacks {line:?}:\n{reverse}"
        );
    }
    assert!(
        file["sha256_before"]
            .as_str()
            .is_some_and(|s| s.len() == 64),
        "{file:#}"
    );
    assert!(
        file["sha256_after"].as_str().is_some_and(|s| s.len() == 64),
        "{file:#}"
    );
    assert_ne!(file["sha256_before"], file["sha256_after"]);
    assert!(
        rb["summary"]
            .as_str()
            .is_some_and(|s| s.contains("rollback")),
        "no summary: {rb:#}"
    );
    let backends = rb["backends"].as_array().unwrap();
    assert_eq!(backends.len(), 1, "{rb:#}");
    let states = backends[0]["states"].as_array().unwrap();
    let state = |workspace: &str| {
        states
            .iter()
            .find(|s| s["workspace"] == workspace)
            .unwrap_or_else(|| panic!("no state of workspace {workspace}: {rb:#}"))
    };
    for (workspace, key, digest) in [
        ("default", DEFAULT_KEY, &seeded_default),
        ("dev", DEV_KEY, &seeded_dev),
    ] {
        let s = state(workspace);
        assert_eq!(s["state_key"], key, "{s:#}");
        assert_eq!(s["table"], json!(store.table), "{s:#}");
        assert_eq!(s["digest_item"], json!(store.digest_id(key)), "{s:#}");
        assert_eq!(s["digest_at_migration"], json!(digest), "{s:#}");
    }
    assert_eq!(states.len(), 2, "{rb:#}");

    // Its Markdown twin, for the change ticket.
    let md = read(dir.path(), "rb.json.md");
    for needle in [
        "-    use_lockfile = true",
        table_line.as_str(),
        "| backend | workspace | state key | table | digest item | digest at migration |",
        &format!("`{}`", store.digest_id(DEV_KEY)),
        &format!("`{seeded_default}`"),
        &format!("`{seeded_dev}`"),
        "tflock rollback",
    ] {
        assert!(md.contains(needle), "rb.json.md lacks {needle:?}:\n{md}");
    }

    // Terraform, now on lockfiles, writes a new version of the default state and
    // leaves the digest alone: switching back would fail ("does not have the
    // expected content").
    store.write_state(DEFAULT_KEY, NEW_STATE);
    let stale = store.terraform_read(DEFAULT_KEY);
    assert_eq!(
        stale["ok"], false,
        "the digest should be stale now: {stale}"
    );
    assert_eq!(stale["digest"], json!(seeded_default));
    let new_md5 = stale["object_md5"].as_str().unwrap().to_string();
    let before_rollback = store.snapshot();

    // --dry-run names the file and the digest change, and writes nothing.
    tflock(dir.path(), &moto.url, &["rollback", "rb.json", "--dry-run"])
        .assert_code(0)
        .assert_contains("--- a/app/main.tf")
        .assert_contains(&table_line)
        .assert_contains(&format!(
            "digest {} in table {}: {seeded_default} -> {new_md5}",
            store.digest_id(DEFAULT_KEY),
            store.table
        ))
        // The dev state did not change: its digest is left alone.
        .assert_lacks(&store.digest_id(DEV_KEY))
        .assert_contains("dry run");
    assert_eq!(
        std::fs::read(dir.path().join("app/main.tf")).unwrap(),
        migrated
    );
    assert_eq!(store.snapshot(), before_rollback, "--dry-run wrote to AWS");

    tflock(
        dir.path(),
        &moto.url,
        &["rollback", "rb.json", "--auto-approve"],
    )
    .assert_code(0)
    .assert_contains("Rollback complete! 1 file restored, 1 digest item repaired.");
    assert_eq!(
        std::fs::read(dir.path().join("app/main.tf")).unwrap(),
        original,
        "the configuration is not byte-identical to the original"
    );
    let after = store.snapshot();
    assert_eq!(store.digest_in(&after, DEFAULT_KEY), Some(new_md5.clone()));
    assert_eq!(store.digest_in(&after, DEV_KEY), Some(seeded_dev.clone()));
    // Back on DynamoDB locking, Terraform reads both states without complaint.
    for (key, read) in [DEFAULT_KEY, DEV_KEY]
        .iter()
        .zip(store.terraform_reads(&[DEFAULT_KEY, DEV_KEY]))
    {
        assert_eq!(read["ok"], true, "Terraform would refuse {key}: {read}");
    }
    // Only the digest changed: the states and everything else are as they were.
    assert_eq!(after["objects"], before_rollback["objects"]);

    // Twice is harmless.
    tflock(
        dir.path(),
        &moto.url,
        &["rollback", "rb.json", "--auto-approve"],
    )
    .assert_code(0)
    .assert_contains("No changes");
    assert_eq!(store.snapshot(), after);
}

/// Without the remote repair the digest stays stale and the Terraform-style
/// check fails: the check above can fail.
#[test]
fn rollback_files_only_leaves_the_digest_stale_and_terraform_would_refuse() {
    let Some(moto) = moto("rollback_files_only_leaves_the_digest_stale_and_terraform_would_refuse")
    else {
        return;
    };
    let store = Store::new(&moto, "filesonly");
    let seeded = store.create(&[DEFAULT_KEY]);
    let seeded_digest = store.digest_in(&seeded, DEFAULT_KEY).unwrap();
    let dir = tree(&[("app/main.tf", &app_tf(&store, DEFAULT_KEY))]);
    let original = std::fs::read(dir.path().join("app/main.tf")).unwrap();
    tflock(
        dir.path(),
        &moto.url,
        &[
            "apply",
            "--auto-approve",
            "--keep-digests",
            "--rollback-file",
            "rb.json",
        ],
    )
    .assert_code(0);
    store.write_state(DEFAULT_KEY, NEW_STATE);

    tflock(
        dir.path(),
        &moto.url,
        &["rollback", "rb.json", "--auto-approve", "--files-only"],
    )
    .assert_code(0)
    .assert_contains("1 file restored, 0 digest items repaired");
    assert_eq!(
        std::fs::read(dir.path().join("app/main.tf")).unwrap(),
        original
    );
    let read = store.terraform_read(DEFAULT_KEY);
    assert_eq!(read["digest"], json!(seeded_digest), "{read}");
    assert_ne!(read["digest"], read["object_md5"], "{read}");
    assert_eq!(
        read["ok"], false,
        "with a stale digest Terraform's check must fail: {read}"
    );
}

/// A state deleted while on lockfiles (`terraform workspace delete`, or by hand):
/// its digest item must go too, or Terraform refuses the missing state once
/// DynamoDB locking is back. One backend's default state, another's workspace.
#[test]
fn rollback_deletes_the_digest_of_a_state_deleted_after_migration() {
    let Some(moto) = moto("rollback_deletes_the_digest_of_a_state_deleted_after_migration") else {
        return;
    };
    let store = Store::new(&moto, "deleted");
    let one = "one/terraform.tfstate";
    let two = "two/terraform.tfstate";
    let two_dev = "env:/dev/two/terraform.tfstate";
    let seeded = store.create(&[one, two, two_dev]);
    let dir = tree(&[
        ("one/main.tf", &app_tf(&store, one)),
        ("two/main.tf", &app_tf(&store, two)),
    ]);
    tflock(
        dir.path(),
        &moto.url,
        &[
            "apply",
            "--auto-approve",
            "--keep-digests",
            "--rollback-file",
            "rb.json",
        ],
    )
    .assert_code(0)
    .assert_contains("Apply complete! 2 files changed.");
    let rb = read(dir.path(), "rb.json");
    assert!(rb.contains(&store.digest_id(two_dev)), "{rb}");

    store.delete_object(one);
    store.delete_object(two_dev);
    // Switching back now would fail on both: a digest without its state.
    for read in store.terraform_reads(&[one, two_dev]) {
        assert_eq!(read["ok"], false, "{read}");
    }

    let dry = tflock(dir.path(), &moto.url, &["rollback", "rb.json", "--dry-run"]);
    dry.assert_code(0).assert_contains(&format!(
        "digest {} in table {}: {} -> deleted",
        store.digest_id(one),
        store.table,
        store.digest_in(&seeded, one).unwrap()
    ));
    let run = tflock(
        dir.path(),
        &moto.url,
        &["rollback", "rb.json", "--auto-approve"],
    );
    run.assert_code(0).assert_contains("2 files restored");
    let after = store.snapshot();
    assert!(
        store.digest_in(&after, one).is_none(),
        "the digest of the deleted default state is still there:\n{}",
        run.text()
    );
    assert_eq!(
        store.digest_in(&after, two),
        store.digest_in(&seeded, two),
        "an unchanged state's digest was touched"
    );
    assert!(
        store.digest_in(&after, two_dev).is_none(),
        "the digest of the deleted workspace state {two_dev} is still there; the rollback \
         plan recorded it ({}), but rollback did not delete it:\n--- dry run:\n{}\n--- rollback:\n{}",
        store.digest_id(two_dev),
        dry.text(),
        run.text()
    );
    for (key, read) in [one, two, two_dev]
        .iter()
        .zip(store.terraform_reads(&[one, two, two_dev]))
    {
        assert_eq!(read["ok"], true, "Terraform would refuse {key}: {read}");
    }
}

// ---------------------------------------------------------------------------
// 2. Rollback refuses when it cannot repair safely
// ---------------------------------------------------------------------------

/// Applies `app/main.tf` (default and dev states), then lets Terraform write a
/// new default state on lockfiles. Returns the tree and the migrated bytes.
fn migrated_with_new_state(store: &Store, url: &str) -> (TempDir, Vec<u8>) {
    store.create(&[DEFAULT_KEY, DEV_KEY]);
    let dir = tree(&[("app/main.tf", &app_tf(store, DEFAULT_KEY))]);
    tflock(
        dir.path(),
        url,
        &[
            "apply",
            "--auto-approve",
            "--keep-digests",
            "--rollback-file",
            "rb.json",
        ],
    )
    .assert_code(0);
    store.write_state(DEFAULT_KEY, NEW_STATE);
    let migrated = std::fs::read(dir.path().join("app/main.tf")).unwrap();
    (dir, migrated)
}

#[test]
fn rollback_refuses_while_a_state_lock_is_held() {
    let Some(moto) = moto("rollback_refuses_while_a_state_lock_is_held") else {
        return;
    };
    let store = Store::new(&moto, "rbheld");
    let (dir, migrated) = migrated_with_new_state(&store, &moto.url);

    // A run on the new config holds the default state's lockfile.
    store.lockfile(
        DEFAULT_KEY,
        "d3b07384-d9a0-4c9b-8f5e-1a2b3c4d5e6f",
        "dave@new-checkout",
    );
    let before = store.snapshot();
    for args in [
        &["rollback", "rb.json", "--auto-approve"][..],
        &["rollback", "rb.json", "--dry-run"],
    ] {
        tflock(dir.path(), &moto.url, args)
            .assert_code(1)
            .assert_contains("refusing to roll back")
            .assert_contains("dave@new-checkout")
            .assert_contains("d3b07384-d9a0-4c9b-8f5e-1a2b3c4d5e6f")
            .assert_lacks("Rollback complete");
        assert_eq!(
            std::fs::read(dir.path().join("app/main.tf")).unwrap(),
            migrated,
            "a refused rollback wrote the file"
        );
        assert_eq!(store.snapshot(), before, "a refused rollback wrote to AWS");
    }

    // An old checkout, still on DynamoDB, holds the dev workspace's lock.
    store.delete_object(&format!("{DEFAULT_KEY}.tflock"));
    store.lock(
        DEV_KEY,
        "6f1b9c1e-0d2a-4c55-9b43-5e0c1f7d2a10",
        "oscar@old-checkout",
    );
    let before = store.snapshot();
    tflock(
        dir.path(),
        &moto.url,
        &["rollback", "rb.json", "--auto-approve"],
    )
    .assert_code(1)
    .assert_contains("refusing to roll back")
    .assert_contains(&format!("state {DEV_KEY} (workspace dev)"))
    .assert_contains("oscar@old-checkout")
    .assert_lacks("Rollback complete");
    assert_eq!(
        std::fs::read(dir.path().join("app/main.tf")).unwrap(),
        migrated
    );
    assert_eq!(store.snapshot(), before, "a refused rollback wrote to AWS");
}

#[test]
fn rollback_refuses_when_the_lock_table_was_deleted() {
    let Some(moto) = moto("rollback_refuses_when_the_lock_table_was_deleted") else {
        return;
    };
    // Its own region: `status` tests list every table of theirs.
    let store = Store::in_region(&moto, "rbnotable", "eu-central-1");
    let (dir, migrated) = migrated_with_new_state(&store, &moto.url);
    store.delete_table();
    let objects = store.objects();

    tflock(
        dir.path(),
        &moto.url,
        &["rollback", "rb.json", "--auto-approve"],
    )
    .assert_code(1)
    .assert_contains("refusing to roll back")
    .assert_contains(&store.table)
    .assert_contains("ResourceNotFound")
    .assert_lacks("Rollback complete");
    assert_eq!(
        std::fs::read(dir.path().join("app/main.tf")).unwrap(),
        migrated,
        "a refused rollback wrote the file"
    );
    assert_eq!(store.objects(), objects);
}

/// `--skip-lock-check` skips the lock check, not the check that the table the
/// digests live in still exists: restoring `dynamodb_table` while its digests
/// cannot be repaired must still be refused (issue 4, item 2).
#[test]
fn rollback_skip_lock_check_still_refuses_when_the_lock_table_was_deleted() {
    let Some(moto) = moto("rollback_skip_lock_check_still_refuses_when_the_lock_table_was_deleted")
    else {
        return;
    };
    let store = Store::in_region(&moto, "rbnotable2", "eu-central-1");
    let (dir, migrated) = migrated_with_new_state(&store, &moto.url);
    store.delete_table();

    let run = tflock(
        dir.path(),
        &moto.url,
        &["rollback", "rb.json", "--auto-approve", "--skip-lock-check"],
    );
    let text = run.text();
    let wrote = std::fs::read(dir.path().join("app/main.tf")).unwrap() != migrated;
    assert!(
        run.code() == 1 && !wrote && text.contains(&store.table),
        "rollback --skip-lock-check with the lock table {} deleted exited {} and {} the file \
         (expected: refused, naming the table, nothing written):\n{text}",
        store.table,
        run.code(),
        if wrote { "restored" } else { "left" }
    );
}

// ---------------------------------------------------------------------------
// 3. apply --hold-locks
// ---------------------------------------------------------------------------

#[test]
fn apply_hold_locks_refuses_terraform_locks_during_the_write_window() {
    let Some(moto) = moto("apply_hold_locks_refuses_terraform_locks_during_the_write_window")
    else {
        return;
    };
    let store = Store::new(&moto, "hold");
    let seeded = store.create(&[DEFAULT_KEY, DEV_KEY]);
    let dir = tree(&[("app/main.tf", &app_tf(&store, DEFAULT_KEY))]);
    let original = read(dir.path(), "app/main.tf");
    let outside = TempDir::new().unwrap();
    let rb = outside.path().join("rb.json");

    let (mut apply, gate) = apply_holding(
        dir.path(),
        &moto.url,
        &["--rollback-file", rb.to_str().unwrap()],
    );
    let held = wait_for_snapshot(
        &store,
        &mut apply,
        "tflock's locks on both states",
        holds_tflock_locks(&store, &[DEFAULT_KEY, DEV_KEY]),
    );
    // The locks are Terraform's LockInfo, naming tflock.
    for key in [DEFAULT_KEY, DEV_KEY] {
        let info: Value =
            serde_json::from_str(held["items"][store.lock_id(key)]["Info"].as_str().unwrap())
                .unwrap();
        assert_eq!(info["Operation"], TFLOCK_OPERATION, "{info:#}");
        assert_eq!(info["Path"], json!(store.lock_id(key)), "{info:#}");
        for field in ["ID", "Who", "Version", "Created", "Info"] {
            assert!(info[field].is_string(), "LockInfo lacks {field}: {info:#}");
        }
    }
    // Locks first, then the write.
    assert_eq!(
        read(dir.path(), "app/main.tf"),
        original,
        "written before the locks"
    );

    // A Terraform run starting now, on the old config (DynamoDB) or the new one
    // (lockfile), is refused.
    let attempts = store.try_terraform_locks(&[DEFAULT_KEY, DEV_KEY]);
    for (key, attempt) in [DEFAULT_KEY, DEV_KEY].iter().zip(&attempts) {
        assert_eq!(
            attempt,
            &json!({"dynamodb": "refused", "lockfile": "refused"}),
            "a Terraform lock on {key} was not refused during the write window"
        );
    }
    assert!(
        apply.running(),
        "the write window closed before the attempt"
    );

    gate.open();
    let run = apply.finish();
    run.assert_code(0)
        .assert_contains("Held 2 state lock(s) while writing; released.")
        .assert_contains("Apply complete! 1 file changed.");
    assert_migrated(dir.path(), "app/main.tf");
    assert!(rb.is_file(), "no rollback file");
    store.assert_nothing_locked_by_tflock("after apply --hold-locks");
    // Digests, states: all as seeded; and Terraform can lock again.
    assert_eq!(store.snapshot(), seeded);
    for attempt in store.try_terraform_locks(&[DEFAULT_KEY, DEV_KEY]) {
        assert_eq!(attempt, json!({"dynamodb": "taken", "lockfile": "taken"}));
    }
}

/// A second `apply --hold-locks` on the same tree while the first holds the
/// locks: it aborts naming the first one's lock, writes nothing, and takes (or
/// leaves) no lock of its own.
#[test]
fn a_second_apply_hold_locks_aborts_on_the_contested_lock_and_leaves_nothing_locked() {
    let Some(moto) =
        moto("a_second_apply_hold_locks_aborts_on_the_contested_lock_and_leaves_nothing_locked")
    else {
        return;
    };
    let store = Store::new(&moto, "contest");
    let seeded = store.create(&[DEFAULT_KEY, DEV_KEY]);
    let dir = tree(&[("app/main.tf", &app_tf(&store, DEFAULT_KEY))]);
    let original = read(dir.path(), "app/main.tf");
    let outside = TempDir::new().unwrap();
    let rb_first = outside.path().join("first.json");
    let rb_second = outside.path().join("second.json");

    let (mut first, gate) = apply_holding(
        dir.path(),
        &moto.url,
        &["--rollback-file", rb_first.to_str().unwrap()],
    );
    let during = wait_for_snapshot(
        &store,
        &mut first,
        "the first apply's locks",
        holds_tflock_locks(&store, &[DEFAULT_KEY, DEV_KEY]),
    );
    let first_info: Value = serde_json::from_str(
        during["items"][store.lock_id(DEFAULT_KEY)]["Info"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let first_id = first_info["ID"].as_str().unwrap().to_string();

    // Another checkout of the same configuration (in the same tree, the run
    // lock would refuse the second apply before it reached the state locks).
    let other_checkout = tree(&[("app/main.tf", &app_tf(&store, DEFAULT_KEY))]);
    let second = tflock(
        other_checkout.path(),
        &moto.url,
        &[
            "apply",
            "--auto-approve",
            "--keep-digests",
            "--hold-locks",
            "--rollback-file",
            rb_second.to_str().unwrap(),
        ],
    );
    assert!(
        first.running(),
        "the first apply finished while the second ran; the test proves nothing"
    );
    second
        .assert_code(1)
        .assert_contains(&first_id)
        .assert_contains(TFLOCK_OPERATION)
        .assert_lacks("Apply complete");
    assert!(
        !rb_second.exists(),
        "the second apply wrote a rollback file"
    );
    assert_eq!(
        read(other_checkout.path(), "app/main.tf"),
        original,
        "the second apply wrote"
    );
    // Exactly the first apply's locks, untouched (same Info, same lockfile ETags).
    assert_eq!(store.snapshot(), during, "the second apply changed a lock");

    gate.open();
    first
        .finish()
        .assert_code(0)
        .assert_contains("Apply complete! 1 file changed.");
    assert_migrated(dir.path(), "app/main.tf");
    store.assert_nothing_locked_by_tflock("after both applies");
    assert_eq!(store.snapshot(), seeded);
}

/// Two configurations of one state (a copied directory): `--hold-locks` must
/// lock that state once, not contend with its own lock. Whatever it does, it
/// must leave nothing locked.
#[test]
fn apply_hold_locks_locks_a_state_shared_by_two_configs_once() {
    let Some(moto) = moto("apply_hold_locks_locks_a_state_shared_by_two_configs_once") else {
        return;
    };
    let store = Store::new(&moto, "shared");
    let seeded = store.create(&[DEFAULT_KEY]);
    let config = app_tf(&store, DEFAULT_KEY);
    let dir = tree(&[("prod/main.tf", &config), ("prod-copy/main.tf", &config)]);
    let outside = TempDir::new().unwrap();
    let rb = outside.path().join("rb.json");

    let run = tflock(
        dir.path(),
        &moto.url,
        &[
            "apply",
            "--auto-approve",
            "--keep-digests",
            "--hold-locks",
            "--rollback-file",
            rb.to_str().unwrap(),
        ],
    );
    // The release path works either way.
    store.assert_nothing_locked_by_tflock("after apply --hold-locks");
    assert_eq!(store.snapshot(), seeded);
    run.assert_code(0)
        .assert_lacks("could not take the locks")
        .assert_contains("Apply complete! 2 files changed.");
    assert_migrated(dir.path(), "prod/main.tf");
    assert_migrated(dir.path(), "prod-copy/main.tf");
}

/// The write fails after the locks are taken (the rollback file's directory does
/// not exist): non-zero exit, nothing written, every lock released.
#[test]
fn a_failed_write_under_hold_locks_releases_every_lock() {
    let Some(moto) = moto("a_failed_write_under_hold_locks_releases_every_lock") else {
        return;
    };
    let store = Store::new(&moto, "holdfail");
    let seeded = store.create(&[DEFAULT_KEY, DEV_KEY]);
    let dir = tree(&[("app/main.tf", &app_tf(&store, DEFAULT_KEY))]);
    let original = read(dir.path(), "app/main.tf");
    let outside = TempDir::new().unwrap();
    let rb = outside.path().join("no-such-dir/rb.json");

    let (mut apply, gate) = apply_holding(
        dir.path(),
        &moto.url,
        &["--rollback-file", rb.to_str().unwrap()],
    );
    // The locks really were taken before the write failed.
    wait_for_snapshot(
        &store,
        &mut apply,
        "tflock's locks",
        holds_tflock_locks(&store, &[DEFAULT_KEY, DEV_KEY]),
    );
    gate.open();
    let run = apply.finish();
    assert_ne!(run.code(), 0, "a failed write exited 0:\n{}", run.text());
    run.assert_contains("cannot write the rollback file")
        .assert_lacks("Apply complete");
    assert_eq!(
        read(dir.path(), "app/main.tf"),
        original,
        "the file was written"
    );
    assert!(!rb.exists());
    store.assert_nothing_locked_by_tflock("after a failed write");
    assert_eq!(store.snapshot(), seeded);
}

/// Ctrl-C while tflock holds the locks: the (atomic) write is let finish, then
/// every lock is released and the run exits non-zero.
#[cfg(unix)]
#[test]
fn ctrl_c_under_hold_locks_releases_every_lock() {
    let Some(moto) = moto("ctrl_c_under_hold_locks_releases_every_lock") else {
        return;
    };
    let store = Store::new(&moto, "holdint");
    let seeded = store.create(&[DEFAULT_KEY]);
    let dir = tree(&[("app/main.tf", &app_tf(&store, DEFAULT_KEY))]);
    let original = read(dir.path(), "app/main.tf");
    let outside = TempDir::new().unwrap();
    let rb = outside.path().join("rb.json");

    let (mut apply, gate) = apply_holding(
        dir.path(),
        &moto.url,
        &["--rollback-file", rb.to_str().unwrap()],
    );
    wait_for_snapshot(
        &store,
        &mut apply,
        "tflock's locks",
        holds_tflock_locks(&store, &[DEFAULT_KEY]),
    );
    let kill = Command::new("kill")
        .args(["-INT", &apply.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(kill.success());
    gate.open();
    let run = apply.finish();
    assert_ne!(
        run.code(),
        0,
        "an interrupted apply exited 0:\n{}",
        run.text()
    );
    run.assert_contains("interrupted");
    store.assert_nothing_locked_by_tflock("after Ctrl-C");
    assert_eq!(store.snapshot(), seeded);
    // All or nothing: the file is either untouched or fully migrated.
    let now = read(dir.path(), "app/main.tf");
    assert!(
        now == original || (now.contains("use_lockfile = true") && !now.contains("dynamodb_table")),
        "half-written file:\n{now}"
    );
}

// ---------------------------------------------------------------------------
// 4. tflock status
// ---------------------------------------------------------------------------

/// The text row of a table (whitespace-separated cells) whose first cell is `first`.
fn row<'t>(text: &'t str, first: &str) -> Option<&'t str> {
    text.lines()
        .find(|l| l.split_whitespace().next() == Some(first))
}

/// The text row of a backend (its second cell is `file:line (kind)`).
fn backend_row<'t>(text: &'t str, file: &str) -> &'t str {
    text.lines()
        .find(|l| l.split_whitespace().nth(1) == Some(file))
        .unwrap_or_else(|| panic!("no backend row {file}:\n{text}"))
}

fn json_table<'d>(doc: &'d Value, table: &str) -> Option<&'d Value> {
    doc["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == table)
}

#[test]
fn status_reports_phases_and_a_verdict_per_lock_table() {
    let Some(moto) = moto("status_reports_phases_and_a_verdict_per_lock_table") else {
        return;
    };
    // In use: named by a dynamodb-phase and a dual-phase config.
    let used = Store::new(&moto, "st-used");
    used.create(&[]);
    // Retired by a full migration of `done/`: no config names it any more.
    let done = Store::new(&moto, "st-done");
    let done_key = "done/terraform.tfstate";
    done.create(&[done_key]);
    // In another region, named only by a rollback file.
    let elsewhere = Store::in_region(&moto, "st-rb", "us-east-2");
    elsewhere.create(&["far/terraform.tfstate"]);
    // Not lock tables: another hash key; LockID of type N.
    let other_id = unique("st-other");
    let other_n = unique("st-othern");
    moto.seed(json!({"other_tables": [
        {"name": other_id, "hash_key": "id", "type": "S"},
        {"name": other_n, "hash_key": "LockID", "type": "N"},
    ]}));

    let dir = tree(&[
        ("dyn/main.tf", &app_tf(&used, "dyn/terraform.tfstate")),
        (
            "dual/main.tf",
            &backend_hcl(&[
                ("bucket", q(&used.bucket)),
                ("key", q("dual/terraform.tfstate")),
                ("region", q(REGION)),
                ("dynamodb_table", q(&used.table)),
                ("use_lockfile", "true".into()),
            ]),
        ),
        ("done/main.tf", &app_tf(&done, done_key)),
        ("none/main.tf", "terraform {\n  backend \"s3\" {}\n}\n"),
    ]);
    let outside = TempDir::new().unwrap();
    let rb_done = outside.path().join("done.json");
    tflock(
        dir.path(),
        &moto.url,
        &[
            "apply",
            "done",
            "--auto-approve",
            "--keep-digests",
            "--rollback-file",
            rb_done.to_str().unwrap(),
        ],
    )
    .assert_code(0)
    .assert_contains("Apply complete! 1 file changed.");
    let far = tree(&[("far/main.tf", &app_tf(&elsewhere, "far/terraform.tfstate"))]);
    let rb_far = outside.path().join("far.json");
    tflock(
        far.path(),
        &moto.url,
        &[
            "apply",
            "--auto-approve",
            "--keep-digests",
            "--rollback-file",
            rb_far.to_str().unwrap(),
        ],
    )
    .assert_code(0);

    // Text.
    let text = tflock(
        dir.path(),
        &moto.url,
        &["status", "--rollback-file", rb_far.to_str().unwrap()],
    );
    text.assert_code(0);
    let out = text.stdout();
    for (file, phase) in [
        ("dyn/main.tf:2", "dynamodb"),
        ("dual/main.tf:2", "dual"),
        ("done/main.tf:2", "lockfile"),
        ("none/main.tf:2", "-"),
    ] {
        let line = backend_row(&out, file);
        assert_eq!(
            line.split_whitespace().next(),
            Some(phase),
            "phase of {file}: {line}\n{out}"
        );
    }
    let used_row =
        row(&out, &used.table).unwrap_or_else(|| panic!("no row {}:\n{out}", used.table));
    assert!(
        used_row.contains("in use") && used_row.contains("dual/main.tf:2"),
        "{used_row}"
    );
    let done_row =
        row(&out, &done.table).unwrap_or_else(|| panic!("no row {}:\n{out}", done.table));
    assert!(done_row.ends_with("safe to retire"), "{done_row}");
    let far_row =
        row(&out, &elsewhere.table).unwrap_or_else(|| panic!("no row {}:\n{out}", elsewhere.table));
    assert!(
        far_row.contains("us-east-2") && far_row.ends_with("safe to retire"),
        "{far_row}"
    );
    assert!(
        row(&out, &other_id).is_none(),
        "a non-lock table is listed:\n{out}"
    );
    assert!(
        row(&out, &other_n).is_none(),
        "a non-lock table is listed:\n{out}"
    );

    // JSON.
    let doc = tflock(
        dir.path(),
        &moto.url,
        &[
            "status",
            "--format",
            "json",
            "--rollback-file",
            rb_far.to_str().unwrap(),
        ],
    )
    .json();
    let phase = |file: &str| {
        doc["backends"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["file"] == file)
            .unwrap_or_else(|| panic!("no backend {file}: {doc:#}"))["phase"]
            .clone()
    };
    assert_eq!(phase("dyn/main.tf"), "dynamodb");
    assert_eq!(phase("dual/main.tf"), "dual");
    assert_eq!(phase("done/main.tf"), "lockfile");
    assert_eq!(phase("none/main.tf"), "none");
    let t = json_table(&doc, &used.table).expect("used table");
    assert_eq!(t["verdict"], "in use", "{t:#}");
    assert!(
        t["sources"].as_array().unwrap().contains(&json!("config")),
        "{t:#}"
    );
    let mut refs: Vec<&str> = t["referenced_by"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    refs.sort();
    assert_eq!(refs, ["dual/main.tf:2", "dyn/main.tf:2"], "{t:#}");
    let t = json_table(&doc, &done.table).expect("retired table found in the account");
    assert_eq!(t["sources"], json!(["found in account"]), "{t:#}");
    assert_eq!(t["referenced_by"], json!([]), "{t:#}");
    assert_eq!(t["active_locks"], 0, "{t:#}");
    assert_eq!(t["digest_items"], 1, "{t:#}");
    assert_eq!(t["region"], REGION, "{t:#}");
    assert_eq!(t["verdict"], "safe to retire", "{t:#}");
    let t = json_table(&doc, &elsewhere.table).expect("table of the rollback file");
    assert_eq!(t["sources"], json!(["rollback file"]), "{t:#}");
    assert_eq!(t["region"], "us-east-2", "{t:#}");
    assert_eq!(t["verdict"], "safe to retire", "{t:#}");
    assert!(
        json_table(&doc, &other_id).is_none(),
        "a non-lock table is listed"
    );
    assert!(
        json_table(&doc, &other_n).is_none(),
        "a non-lock table is listed"
    );

    // Without the rollback file, nothing scanned points at us-east-2.
    let doc = tflock(dir.path(), &moto.url, &["status", "--format", "json"]).json();
    assert!(json_table(&doc, &elsewhere.table).is_none(), "{doc:#}");

    // A run still holding a lock in the retired table (an old checkout).
    done.lock(
        done_key,
        "0badc0de-1234-4567-89ab-cdef01234567",
        "erin@old-checkout",
    );
    let held = tflock(dir.path(), &moto.url, &["status", "--format", "json"]);
    held.assert_code(0);
    let doc = held.json();
    let t = json_table(&doc, &done.table).expect("retired table");
    assert_eq!(t["active_locks"], 1, "{t:#}");
    assert_eq!(t["verdict"], "locks held", "{t:#}");
    let out = tflock(dir.path(), &moto.url, &["status"]).stdout();
    let done_row = row(&out, &done.table).unwrap_or_else(|| panic!("no row:\n{out}"));
    assert!(done_row.ends_with("locks held"), "{done_row}");

    // status never deletes a table.
    let exist = moto.seed(json!({
        "describe_tables": [used.table, done.table, other_id, other_n],
    }));
    for (table, exists) in exist["tables_exist"].as_object().unwrap() {
        assert_eq!(exists, true, "table {table} is gone");
    }
    let far_exists = elsewhere.run(json!({"describe_tables": [elsewhere.table]}));
    assert_eq!(far_exists["tables_exist"][&elsewhere.table], true);
}

// ---------------------------------------------------------------------------
// 5. Next steps after apply
// ---------------------------------------------------------------------------

#[test]
fn apply_prints_next_steps_and_plan_json_reports_bucket_versioning() {
    let Some(moto) = moto("apply_prints_next_steps_and_plan_json_reports_bucket_versioning") else {
        return;
    };
    let versioned = Store::new(&moto, "nsver");
    versioned.create_with(&[DEFAULT_KEY], json!({"versioning": [versioned.bucket]}));
    let plain = Store::new(&moto, "nsplain");
    let net_key = "net/terraform.tfstate";
    plain.create(&[net_key]);
    let dir = tree(&[
        ("live/app/main.tf", &app_tf(&versioned, DEFAULT_KEY)),
        ("live/net/main.tf", &app_tf(&plain, net_key)),
    ]);
    let app_arn = format!("arn:aws:s3:::{}/{DEFAULT_KEY}.tflock", versioned.bucket);
    let net_arn = format!("arn:aws:s3:::{}/{net_key}.tflock", plain.bucket);

    let plan = tflock(dir.path(), &moto.url, &["plan", "--format", "json"]);
    plan.assert_code(0);
    let doc = plan.json();
    let steps = &doc["next_steps"];
    let dirs: Vec<&str> = steps["reinit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["dir"].as_str().unwrap())
        .collect();
    assert_eq!(dirs, ["live/app", "live/net"], "{steps:#}");
    let statement = &steps["iam_statement"];
    assert_eq!(
        statement["Action"],
        json!(["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]),
        "{statement:#}"
    );
    let resources = statement["Resource"].as_array().unwrap();
    assert!(resources.contains(&json!(app_arn)), "{statement:#}");
    assert!(resources.contains(&json!(net_arn)), "{statement:#}");

    let outside = TempDir::new().unwrap();
    let rb = outside.path().join("rb.json");
    let run = tflock(
        dir.path(),
        &moto.url,
        &[
            "apply",
            "--auto-approve",
            "--keep-digests",
            "--rollback-file",
            rb.to_str().unwrap(),
        ],
    );
    run.assert_code(0)
        .assert_contains("Apply complete! 2 files changed.")
        .assert_contains("(cd live/app && terraform init -reconfigure)")
        .assert_contains("(cd live/net && terraform init -reconfigure)")
        .assert_contains("\"s3:GetObject\"")
        .assert_contains("\"s3:PutObject\"")
        .assert_contains("\"s3:DeleteObject\"")
        .assert_contains(&format!("\"{app_arn}\""))
        .assert_contains(&format!("\"{net_arn}\""));
    let out = run.stdout();
    let advice = |bucket: &str| {
        out.lines()
            .find(|l| l.contains(&format!("bucket {bucket}:")))
            .unwrap_or_else(|| panic!("no advice for bucket {bucket}:\n{out}"))
            .to_string()
    };
    let plain_line = advice(&plain.bucket);
    assert!(!plain_line.contains("versioning Enabled"), "{plain_line}");

    // Versioning (GetBucketVersioning): the versioned bucket gets the lifecycle
    // rule, in the plan's JSON and after apply; the other does not.
    let bucket = |name: &str| {
        steps["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["bucket"] == name)
            .unwrap_or_else(|| panic!("no bucket {name} in {steps:#}"))
            .clone()
    };
    let p = bucket(&plain.bucket);
    assert_ne!(p["versioning"], "Enabled", "{p:#}");
    assert!(p.get("lifecycle_rule").is_none(), "{p:#}");
    let v = bucket(&versioned.bucket);
    assert_eq!(
        v["versioning"], "Enabled",
        "bucket {} has versioning Enabled (PutBucketVersioning; GetBucketVersioning says \
         Enabled), plan --format json says otherwise: {v:#}",
        versioned.bucket
    );
    assert_eq!(
        v["lifecycle_rule"]["NoncurrentVersionExpiration"]["NoncurrentDays"], 1,
        "{v:#}"
    );
    let versioned_line = advice(&versioned.bucket);
    assert!(
        versioned_line.contains("versioning Enabled") && versioned_line.contains("lifecycle rule"),
        "{versioned_line}"
    );
    // The rule is suggested once: for the versioned bucket only.
    assert_eq!(
        out.matches("tflock-expire-noncurrent-lockfiles").count(),
        1,
        "{out}"
    );
}
