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

use common::aws::{Moto, Proxy, Store, moto};
use common::read_tree;
use common::run::{Run, apply_in, case, parallel, tflock_in as tflock};
use common::tree::{app_tf, assert_migrated, read};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;
use tempfile::TempDir;

/// What a timed-out run may take beyond `--aws-timeout` (process start, other
/// calls, a loaded machine running cases in parallel). With the timeout, still
/// well under [`SLOW_DELAY`]: a run that waited for the late answer fails.
const SLACK: Duration = Duration::from_secs(8);
/// The SDK's attempts per call (standard retry mode, `with_max_attempts(3)`).
const SDK_ATTEMPTS: usize = 3;
/// `--aws-timeout` for retry cases: longer than 3 attempts with their back-off.
const RETRY_TIMEOUT: &str = "20";
/// `--aws-timeout` for slow answers, and how late the proxy answers. The
/// timeout is long enough for every call that is not slowed to answer in time
/// on a loaded machine (the emulator is one Python process for every test).
const SHORT_TIMEOUT: &str = "5";
const SLOW_DELAY: &str = "20";

const KEY: &str = "app/terraform.tfstate";
/// The lockfile and the probe object share a prefix; these tell them apart.
const LOCKFILE: &[&str] = &["--path-contains", ".tflock", "--path-lacks", "tflock-probe"];

/// The one configuration every case migrates: `app/main.tf` on the case's store.
fn tree(store: &Store) -> TempDir {
    common::tree::tree(&[("app/main.tf", &app_tf(store, KEY))])
}

/// `apply --auto-approve` (plus `extra`) with its rollback file outside the tree;
/// returns the run and whether it wrote a rollback file.
fn apply(dir: &Path, endpoint: &str, extra: &[&str], context: &str) -> (Run, bool) {
    let applied = apply_in(dir, endpoint, extra, context);
    let wrote = applied.rollback.is_some();
    (applied.run, wrote)
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
    let proxy = Proxy::start(fault, Some(&moto.url));
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
    assert_migrated(dir.path(), "app/main.tf");
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

    let proxy = Proxy::start(fault, Some(&moto.url));
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

    let proxy = Proxy::start(fault, Some(&moto.url));
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
        case("500 Scan", move || {
            transient_check_fault(
                m,
                "t500scan",
                &["status500", "--op", "Scan", "--first", "1"],
                "Scan",
                "",
                2,
            )
        }),
        case("503 ListObjectsV2", move || {
            transient_check_fault(
                m,
                "t503list",
                &[
                    "status503",
                    "--op",
                    "ListObjectsV2",
                    "--path-contains",
                    "prefix=app",
                    "--first",
                    "1",
                ],
                "ListObjectsV2",
                "prefix=app",
                2,
            )
        }),
        case("ThrottlingException Scan", move || {
            transient_check_fault(
                m,
                "tthrscan",
                &["throttle", "--op", "Scan", "--first", "1"],
                "Scan",
                "",
                2,
            )
        }),
        case("ProvisionedThroughputExceededException Scan", move || {
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
        case("SlowDown ListObjectsV2", move || {
            transient_check_fault(
                m,
                "tslowlist",
                &[
                    "throttle",
                    "--op",
                    "ListObjectsV2",
                    "--path-contains",
                    "prefix=app",
                    "--first",
                    "1",
                ],
                "ListObjectsV2",
                "prefix=app",
                2,
            )
        }),
        // The probe's first put: the SDK sends it twice and the probe still proves
        // conditional writes (the second put, once, gets moto's 412): 3 puts.
        case("500 probe put", move || {
            transient_check_fault(
                m,
                "t500probe",
                &[
                    "status500",
                    "--op",
                    "PutObject",
                    "--path-contains",
                    "tflock-probe",
                    "--first",
                    "1",
                ],
                "PutObject",
                "tflock-probe",
                3,
            )
        }),
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
        case("500 Scan", move || {
            persistent_check_fault(
                m,
                "p500scan",
                &["status500", "--op", "Scan"],
                "Scan",
                "",
                SDK_ATTEMPTS,
                &[
                    "DynamoDB lock unverified: cannot scan lock table",
                    "InternalServerError",
                ],
            )
        }),
        case("503 ListObjectsV2", move || {
            persistent_check_fault(
                m,
                "p503list",
                &["status503", "--op", "ListObjectsV2"],
                "ListObjectsV2",
                "",
                SDK_ATTEMPTS,
                &[
                    "S3 lockfile unverified: cannot list bucket",
                    "ServiceUnavailable",
                ],
            )
        }),
        case("ThrottlingException Scan", move || {
            persistent_check_fault(
                m,
                "pthrscan",
                &["throttle", "--op", "Scan"],
                "Scan",
                "",
                SDK_ATTEMPTS,
                &[
                    "DynamoDB lock unverified: cannot scan lock table",
                    "ThrottlingException",
                ],
            )
        }),
        case("ProvisionedThroughputExceededException Scan", move || {
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
        case("SlowDown ListObjectsV2", move || {
            persistent_check_fault(
                m,
                "pslowlist",
                &["throttle", "--op", "ListObjectsV2"],
                "ListObjectsV2",
                "",
                SDK_ATTEMPTS,
                &["S3 lockfile unverified: cannot list bucket", "SlowDown"],
            )
        }),
        case("500 probe put", move || {
            persistent_check_fault(
                m,
                "p500probe",
                &[
                    "status500",
                    "--op",
                    "PutObject",
                    "--path-contains",
                    "tflock-probe",
                ],
                "PutObject",
                "tflock-probe",
                SDK_ATTEMPTS,
                &[
                    "conditional-write probe failed: cannot write probe object",
                    "InternalError",
                ],
            )
        }),
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
                let proxy = Proxy::start(fault, Some(&m.url));
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
                let proxy = Proxy::start(fault, Some(&m.url));
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
        case(
            "409 on the first probe put",
            conflict(
                "c409first",
                &["conflict409", "--path-contains", "tflock-probe"],
                1,
                "cannot write probe object",
            ),
        ),
        case(
            "409 on the second probe put",
            conflict(
                "c409second",
                &[
                    "conflict409",
                    "--path-contains",
                    "tflock-probe",
                    "--after",
                    "1",
                ],
                2,
                "second probe write failed unexpectedly",
            ),
        ),
        // The control: moto's own 412 on the second put is the proof.
        case("412 from moto", move || {
            let store = Store::new(m, "c412");
            store.create(&[KEY]);
            let dir = tree(&store);
            let proxy = Proxy::start(&["forward"], Some(&m.url));
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

                let proxy = Proxy::start(&fault, Some(&m.url));
                let plan = tflock(
                    dir.path(),
                    &proxy.url(),
                    &["plan", "--aws-timeout", SHORT_TIMEOUT],
                    &context,
                );
                plan.assert_code(1)
                    .assert_contains("-> blocked")
                    .assert_contains(reason)
                    .assert_contains(&format!(
                        "no answer within {SHORT_TIMEOUT}s (--aws-timeout)"
                    ));
                assert!(
                    plan.took < timeout + SLACK,
                    "{context}: plan took {:?} with --aws-timeout {SHORT_TIMEOUT}",
                    plan.took
                );
                proxy.counts().assert(op, path_has, 1, 1, &context);

                let proxy = Proxy::start(&fault, Some(&m.url));
                let (run, wrote) = apply(
                    dir.path(),
                    &proxy.url(),
                    &["--aws-timeout", SHORT_TIMEOUT],
                    &context,
                );
                run.assert_code(1)
                    .assert_contains(&format!(
                        "no answer within {SHORT_TIMEOUT}s (--aws-timeout)"
                    ))
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
        case(
            "slow Scan",
            slow(
                "sscan",
                "Scan",
                "",
                "DynamoDB lock unverified: cannot scan lock table",
            ),
        ),
        case(
            "slow ListObjectsV2",
            slow(
                "slist",
                "ListObjectsV2",
                "prefix=app",
                "S3 lockfile unverified: cannot list bucket",
            ),
        ),
        case(
            "slow probe put",
            slow(
                "sprobe",
                "PutObject",
                "tflock-probe",
                "conditional-write probe failed",
            ),
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
        case("drop Scan once", move || {
            transient_check_fault(
                m,
                "tdropscan",
                &["drop", "--op", "Scan", "--first", "1"],
                "Scan",
                "",
                2,
            )
        }),
        case("drop Scan always", move || {
            persistent_check_fault(
                m,
                "pdropscan",
                &["drop", "--op", "Scan"],
                "Scan",
                "",
                SDK_ATTEMPTS,
                &[
                    "DynamoDB lock unverified: cannot scan lock table",
                    "cannot reach AWS",
                    "connection closed",
                ],
            )
        }),
        case("drop ListObjectsV2 always", move || {
            persistent_check_fault(
                m,
                "pdroplist",
                &["drop", "--op", "ListObjectsV2"],
                "ListObjectsV2",
                "",
                SDK_ATTEMPTS,
                &[
                    "S3 lockfile unverified: cannot list bucket",
                    "cannot reach AWS",
                ],
            )
        }),
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
    let proxy = Proxy::start(fault, Some(&moto.url));
    let (run, wrote) = hold_locks(dir.path(), &proxy, RETRY_TIMEOUT, &context);
    run.assert_code(0)
        .assert_contains("Held 1 state lock(s) while writing; released.")
        .assert_contains("Apply complete! 1 file changed.")
        .assert_lacks("could not release");
    proxy.counts().assert(op, path_has, 2, 1, &context);
    assert_migrated(dir.path(), "app/main.tf");
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
    let proxy = Proxy::start(fault, Some(&moto.url));
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
        case("500 PutItem", move || {
            transient_lock_fault(m, "h500put", &f1, "PutItem", "")
        }),
        case("ThrottlingException PutItem", move || {
            transient_lock_fault(m, "hthrput", &f2, "PutItem", "")
        }),
        case("503 lockfile put", move || {
            transient_lock_fault(m, "h503lf", &f3, "PutObject", ".tflock?")
        }),
        case("SlowDown lockfile put", move || {
            transient_lock_fault(m, "hslowlf", &f4, "PutObject", ".tflock?")
        }),
        case("500 DeleteItem", move || {
            transient_lock_fault(m, "h500del", &f5, "DeleteItem", "")
        }),
        case("503 lockfile delete", move || {
            transient_lock_fault(m, "h503lfdel", &f6, "DeleteObject", ".tflock?")
        }),
        case("drop PutItem once", move || {
            transient_lock_fault(m, "hdropput", &f7, "PutItem", "")
        }),
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
        case("500 PutItem", move || {
            failed_lock_take(
                m,
                "f500put",
                &["status500", "--op", "PutItem"],
                RETRY_TIMEOUT,
                ("PutItem", "", SDK_ATTEMPTS),
                &["cannot take the DynamoDB lock", "InternalServerError"],
            )
        }),
        case("ProvisionedThroughputExceeded PutItem", move || {
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
        case("500 lockfile put", move || {
            failed_lock_take(
                m,
                "f500lf",
                &f_500_lockfile,
                RETRY_TIMEOUT,
                ("PutObject", ".tflock?", SDK_ATTEMPTS),
                &["cannot create the S3 lockfile", "InternalError"],
            )
        }),
        case("SlowDown lockfile put", move || {
            failed_lock_take(
                m,
                "fslowlf",
                &f_slowdown_lockfile,
                RETRY_TIMEOUT,
                ("PutObject", ".tflock?", SDK_ATTEMPTS),
                &["cannot create the S3 lockfile", "SlowDown"],
            )
        }),
        case("drop lockfile put", move || {
            failed_lock_take(
                m,
                "fdroplf",
                &f_drop_lockfile,
                RETRY_TIMEOUT,
                ("PutObject", ".tflock?", SDK_ATTEMPTS),
                &["cannot create the S3 lockfile", "cannot reach AWS"],
            )
        }),
        // 409 is not "the lockfile exists" (412), and the SDK does not retry it.
        case("409 lockfile put", move || {
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
    let proxy = Proxy::start(&fault, Some(&moto.url));
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
        case("answer to PutItem dropped", move || {
            transient_lock_fault(m, "ldropput", &drop_item, "PutItem", "")
        }),
        case("answer to the lockfile put dropped", move || {
            transient_lock_fault(m, "ldroplf", &drop_lockfile, "PutObject", ".tflock?")
        }),
        case("answer to PutItem too late", move || {
            failed_lock_take(
                m,
                "lslowput",
                &slow_item,
                SHORT_TIMEOUT,
                ("PutItem", "", 1),
                &["cannot take the DynamoDB lock"],
            )
        }),
        case("answer to the lockfile put too late", move || {
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
    let item_throttle = with("throttle", &["--op", "DeleteItem"]);
    let lockfile_500 = with("status500", &lockfile_delete);
    let lockfile_drop = with("drop", &lockfile_delete);
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
            let proxy = Proxy::start(&fault, Some(&m.url));
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
        case(
            "500 DeleteItem",
            release(
                "r500item",
                item_500,
                "DeleteItem",
                "",
                "DynamoDB lock",
                "InternalServerError",
            ),
        ),
        case(
            "drop DeleteItem",
            release(
                "rdropitem",
                item_drop,
                "DeleteItem",
                "",
                "DynamoDB lock",
                "cannot reach AWS",
            ),
        ),
        case(
            "503 lockfile delete",
            release(
                "r503lf",
                lockfile_503,
                "DeleteObject",
                ".tflock?",
                "S3 lockfile",
                "ServiceUnavailable",
            ),
        ),
        case(
            "SlowDown lockfile delete",
            release(
                "rslowlf",
                lockfile_slowdown,
                "DeleteObject",
                ".tflock?",
                "S3 lockfile",
                "SlowDown",
            ),
        ),
        case(
            "throttle DeleteItem",
            release(
                "rthritem",
                item_throttle,
                "DeleteItem",
                "",
                "DynamoDB lock",
                "ThrottlingException",
            ),
        ),
        case(
            "500 lockfile delete",
            release(
                "r500lf",
                lockfile_500,
                "DeleteObject",
                ".tflock?",
                "S3 lockfile",
                "InternalError",
            ),
        ),
        case(
            "drop lockfile delete",
            release(
                "rdroplf",
                lockfile_drop,
                "DeleteObject",
                ".tflock?",
                "S3 lockfile",
                "cannot reach AWS",
            ),
        ),
    ]);
}

/// A release whose answer came after `--aws-timeout`: AWS did delete the lock.
/// tflock must not report a lock as still held that is gone (someone would go
/// and force-unlock a lock that is no one's), nor one as released that is not.
#[test]
fn hold_locks_a_release_answered_too_late_is_reported_as_it_is() {
    let Some(moto) = moto("hold_locks_a_release_answered_too_late_is_reported_as_it_is") else {
        return;
    };
    let m = &moto;
    let slow_item: Vec<&str> = vec!["slow", "--op", "DeleteItem", "--delay", SLOW_DELAY];
    let slow_lockfile: Vec<&str> = [
        &["slow", "--op", "DeleteObject"][..],
        LOCKFILE,
        &["--delay", SLOW_DELAY],
    ]
    .concat();
    let scenario = |tag: &'static str, fault: Vec<&'static str>, op: &'static str, path_has| {
        move || {
            let context = format!("late release answer {fault:?}");
            let store = Store::new(m, tag);
            let before = store.create(&[KEY]);
            let dir = tree(&store);
            let proxy = Proxy::start(&fault, Some(&m.url));
            let (run, wrote) = hold_locks(dir.path(), &proxy, SHORT_TIMEOUT, &context);
            proxy.counts().assert(op, path_has, 1, 1, &context);
            store.assert_nothing_locked_by_tflock(&context);
            store.assert_unchanged(&before, &context);
            assert!(wrote, "{context}: no rollback file");
            assert_migrated(dir.path(), "app/main.tf");
            run.assert_lacks("could not release")
                .assert_lacks("still held")
                .assert_code(0)
                .assert_contains("Held 1 state lock(s) while writing; released.");
        }
    };
    parallel(vec![
        case(
            "DeleteItem answered late",
            scenario("zdelitem", slow_item, "DeleteItem", ""),
        ),
        case(
            "lockfile delete answered late",
            scenario("zdellf", slow_lockfile, "DeleteObject", ".tflock?"),
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
    let scenario =
        |tag: &'static str, fault: Vec<&'static str>, op: &'static str, path_has: &'static str| {
            move || {
                let context = format!("lost release answer {fault:?}");
                let store = Store::new(m, tag);
                let before = store.create(&[KEY]);
                let dir = tree(&store);
                let proxy = Proxy::start(&fault, Some(&m.url));
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
        case(
            "DeleteItem answer lost",
            scenario(
                "xdelitem",
                vec![
                    "drop",
                    "--op",
                    "DeleteItem",
                    "--forward-first",
                    "--first",
                    "1",
                ],
                "DeleteItem",
                "",
            ),
        ),
        case(
            "lockfile delete answer lost",
            scenario("xdellf", lockfile_delete, "DeleteObject", ".tflock?"),
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
    migrated_in(m, tag, common::aws::REGION)
}

/// [`migrated`] in `region`.
fn migrated_in<'a>(m: &'a Moto, tag: &str, region: &'static str) -> (Store<'a>, TempDir, String) {
    let store = Store::in_region(m, tag, region);
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
        case("transient 500 on the digest write", move || {
            let (store, dir, _) = migrated(m, "rbt500");
            let stale = digest(&store);
            let proxy = Proxy::start(
                &["status500", "--op", "PutItem", "--first", "1"],
                Some(&m.url),
            );
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
        case("lasting 503 reading the state", move || {
            let (store, dir, migrated) = migrated(m, "rbp503");
            let before = store.snapshot();
            let proxy = Proxy::start(
                &["status503", "--op", "GetObject", "--path-lacks", ".tflock"],
                Some(&m.url),
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
        case("lasting throttle on the digest write", move || {
            let (store, dir, _) = migrated(m, "rbpthr");
            let stale = digest(&store);
            let proxy = Proxy::start(&["throttle", "--op", "PutItem"], Some(&m.url));
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

// ---------------------------------------------------------------------------
// apply (replace): deleting the digest items once the files are written
// ---------------------------------------------------------------------------

/// How a digest delete under a fault must end.
#[derive(Clone, Copy, PartialEq, Debug)]
enum DeleteEnd {
    /// The item is gone, and the rollback file says apply deleted it (so
    /// rollback writes it again).
    Deleted,
    /// The item is still there with the value read, the rollback file does not
    /// claim it, and the message says it was not deleted and what to run.
    Left,
}

/// A replace apply (no `--keep-digests`) whose DynamoDB DeleteItem of the digest
/// meets `fault`: the files are written either way (the lock checks passed and
/// the delete comes after the write), and tflock says what it did with the
/// digest, records only a delete that happened, and a rollback afterwards leaves
/// the state readable the way Terraform on DynamoDB reads it.
fn digest_delete_fault(
    moto: &Moto,
    tag: &str,
    fault: &[&str],
    timeout: &str,
    (seen, faulted): (usize, usize),
    end: DeleteEnd,
    reasons: &[&str],
) {
    let context = format!("digest delete, {fault:?}");
    let store = Store::new(moto, tag);
    let before = store.create(&[KEY]);
    let read = store
        .digest_in(&before, KEY)
        .expect("the fixture has a digest item");
    let dir = tree(&store);
    let files = read_tree(dir.path());
    let outside = TempDir::new().unwrap();
    let rb = outside.path().join("rb.json");
    let proxy = Proxy::start(fault, Some(&moto.url));
    let run = tflock(
        dir.path(),
        &proxy.url(),
        &[
            "apply",
            "--auto-approve",
            "--rollback-file",
            rb.to_str().unwrap(),
            "--aws-timeout",
            timeout,
        ],
        &context,
    );
    run.assert_code(0)
        .assert_contains("Apply complete! 1 file changed.")
        .assert_lacks("changed since tflock read it");
    proxy
        .counts()
        .assert("DeleteItem", "", seen, faulted, &context);
    assert_migrated(dir.path(), "app/main.tf");
    let recorded: Value = serde_json::from_str(&std::fs::read_to_string(&rb).unwrap()).unwrap();
    let recorded = recorded["backends"][0]["states"][0]["digest_deleted"].clone();
    let now = store.digest_in(&store.snapshot(), KEY);
    match end {
        DeleteEnd::Deleted => {
            run.assert_contains("Deleted 1 of 1 DynamoDB digest item(s)")
                .assert_lacks("not deleted");
            assert_eq!(now, None, "{context}: the digest item is still there");
            assert_eq!(
                recorded,
                Value::String(read.clone()),
                "{context}: not recorded"
            );
        }
        DeleteEnd::Left => {
            run.assert_contains("Deleted 0 of 1 DynamoDB digest item(s)")
                .assert_contains(&format!(
                    "digest {} in table {}: not deleted",
                    store.digest_id(KEY),
                    store.table
                ))
                .assert_contains("tflock status --clean-digests");
            assert_eq!(
                now,
                Some(read.clone()),
                "{context}: the digest item changed"
            );
            assert_eq!(recorded, Value::Null, "{context}: recorded as deleted");
        }
    }
    for reason in reasons {
        run.assert_contains(reason);
    }
    // Whatever happened, rollback (no fault) puts everything back the way
    // Terraform on DynamoDB locking reads it.
    tflock(
        dir.path(),
        &moto.url,
        &["rollback", rb.to_str().unwrap(), "--auto-approve"],
        &format!("{context}: rollback"),
    )
    .assert_code(0)
    .assert_contains("Rollback complete!");
    assert_eq!(read_tree(dir.path()), files, "{context}: not restored");
    let terraform = store.terraform_read(KEY);
    assert_eq!(terraform["ok"], true, "{context}: {terraform:#}");
}

#[test]
fn apply_digest_deletes_retry_transient_faults_and_report_lasting_ones() {
    let Some(moto) = moto("apply_digest_deletes_retry_transient_faults_and_report_lasting_ones")
    else {
        return;
    };
    let m = &moto;
    let once = |mode: &'static str| -> Vec<&'static str> {
        vec![mode, "--op", "DeleteItem", "--first", "1"]
    };
    let always = |mode: &'static str| -> Vec<&'static str> { vec![mode, "--op", "DeleteItem"] };
    let transient = |tag: &'static str, fault: Vec<&'static str>| {
        move || {
            digest_delete_fault(
                m,
                tag,
                &fault,
                RETRY_TIMEOUT,
                (2, 1),
                DeleteEnd::Deleted,
                &[],
            )
        }
    };
    let lasting = |tag: &'static str, fault: Vec<&'static str>, why: &'static str| {
        move || {
            digest_delete_fault(
                m,
                tag,
                &fault,
                RETRY_TIMEOUT,
                (SDK_ATTEMPTS, SDK_ATTEMPTS),
                DeleteEnd::Left,
                &[why],
            )
        }
    };
    parallel(vec![
        case("transient 500", transient("dd500t", once("status500"))),
        case("transient 503", transient("dd503t", once("status503"))),
        case("transient throttle", transient("ddthrt", once("throttle"))),
        case("transient drop", transient("dddropt", once("drop"))),
        case(
            "lasting 500",
            lasting("dd500p", always("status500"), "InternalServerError"),
        ),
        case(
            "lasting 503",
            lasting("dd503p", always("status503"), "ServiceUnavailable"),
        ),
        case(
            "lasting throttle",
            lasting("ddthrp", always("throttle"), "ThrottlingException"),
        ),
        case(
            "lasting drop",
            lasting("dddropp", always("drop"), "cannot reach AWS"),
        ),
    ]);
}

/// The delete reached DynamoDB but its answer was lost (dropped, or later than
/// `--aws-timeout`): the item is gone, so tflock must count it as deleted and
/// record it (else rollback would not write it again), and must not blame a
/// client still on DynamoDB locking for the retry that met its own success.
#[test]
fn apply_digest_delete_whose_answer_was_lost_counts_as_deleted() {
    let Some(moto) = moto("apply_digest_delete_whose_answer_was_lost_counts_as_deleted") else {
        return;
    };
    let m = &moto;
    parallel(vec![
        case("answer dropped", move || {
            digest_delete_fault(
                m,
                "ddlost",
                &[
                    "drop",
                    "--op",
                    "DeleteItem",
                    "--forward-first",
                    "--first",
                    "1",
                ],
                RETRY_TIMEOUT,
                (2, 1),
                DeleteEnd::Deleted,
                &[],
            )
        }),
        case("answer too late", move || {
            digest_delete_fault(
                m,
                "ddslow",
                &["slow", "--op", "DeleteItem", "--delay", SLOW_DELAY],
                SHORT_TIMEOUT,
                (1, 1),
                DeleteEnd::Deleted,
                &[],
            )
        }),
    ]);
}

// ---------------------------------------------------------------------------
// status --clean-digests: deleting stale digest items
// ---------------------------------------------------------------------------

/// The region of the `--clean-digests` cases, used by no other test.
const CLEAN_REGION: &str = "ap-southeast-2";

/// `status --clean-digests` on a migrated state whose digest went stale, with
/// `fault` on its DynamoDB DeleteItem. `deleted`: the item must be gone and
/// reported "deleted" (exit 0); else it must be there as it was, reported as
/// failed with the reason and what to run, and the run must exit 1.
fn clean_digests_fault(
    moto: &Moto,
    tag: &str,
    fault: &[&str],
    timeout: &str,
    (seen, faulted): (usize, usize),
    deleted: bool,
    reasons: &[&str],
) {
    let context = format!("--clean-digests, {fault:?}");
    // status scans every lock table of the account's region: a region of its
    // own keeps that to this test's tables (the emulator is shared).
    let (store, dir, _) = migrated_in(moto, tag, CLEAN_REGION);
    let stale = digest(&store);
    assert!(stale.is_string(), "{context}: no stale digest to clean");
    let proxy = Proxy::start(fault, Some(&moto.url));
    let run = tflock(
        dir.path(),
        &proxy.url(),
        &[
            "status",
            "--format",
            "json",
            "--rollback-file",
            "rb.json",
            "--clean-digests",
            "--aws-timeout",
            timeout,
        ],
        &context,
    );
    proxy
        .counts()
        .assert("DeleteItem", "", seen, faulted, &context);
    let doc: Value = serde_json::from_slice(&run.out.stdout)
        .unwrap_or_else(|e| panic!("{context}: not JSON ({e}):\n{}", run.text()));
    let row = doc["digests"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["table"] == store.table.as_str()))
        .unwrap_or_else(|| panic!("{context}: no digest row:\n{doc:#}"))
        .clone();
    let cleaned = row["cleaned"].as_str().unwrap_or_default().to_string();
    if deleted {
        run.assert_code(0);
        assert_eq!(cleaned, "deleted", "{context}: {row:#}");
        assert_eq!(digest(&store), Value::Null, "{context}: still there");
    } else {
        assert_eq!(
            run.code(),
            1,
            "{context}: a failed clean exits 0:\n{}",
            run.text()
        );
        assert!(
            cleaned.starts_with("failed: ") && cleaned.contains("tflock status --clean-digests"),
            "{context}: {row:#}"
        );
        for reason in reasons {
            assert!(
                cleaned.contains(reason),
                "{context}: no {reason:?}: {row:#}"
            );
        }
        assert_eq!(digest(&store), stale, "{context}: the digest item changed");
        // Once the fault is gone, the same command finishes the job.
        tflock(
            dir.path(),
            &moto.url,
            &["status", "--rollback-file", "rb.json", "--clean-digests"],
            &format!("{context}: rerun"),
        )
        .assert_code(0);
        assert_eq!(digest(&store), Value::Null, "{context}: rerun left it");
    }
    assert_eq!(
        store.terraform_read(KEY)["ok"],
        true,
        "{context}: unreadable"
    );
}

#[test]
fn clean_digests_fails_closed_under_every_fault_and_says_so() {
    let Some(moto) = moto("clean_digests_fails_closed_under_every_fault_and_says_so") else {
        return;
    };
    let m = &moto;
    let once = |mode: &'static str| -> Vec<&'static str> {
        vec![mode, "--op", "DeleteItem", "--first", "1"]
    };
    let always = |mode: &'static str| -> Vec<&'static str> { vec![mode, "--op", "DeleteItem"] };
    let transient = |tag: &'static str, fault: Vec<&'static str>| {
        move || clean_digests_fault(m, tag, &fault, RETRY_TIMEOUT, (2, 1), true, &[])
    };
    let lasting = |tag: &'static str, fault: Vec<&'static str>, why: &'static str| {
        move || {
            clean_digests_fault(
                m,
                tag,
                &fault,
                RETRY_TIMEOUT,
                (SDK_ATTEMPTS, SDK_ATTEMPTS),
                false,
                &[why],
            )
        }
    };
    parallel(vec![
        case("transient 500", transient("cd500t", once("status500"))),
        case("transient throttle", transient("cdthrt", once("throttle"))),
        case(
            "lasting 500",
            lasting("cd500p", always("status500"), "InternalServerError"),
        ),
        case(
            "lasting 503",
            lasting("cd503p", always("status503"), "ServiceUnavailable"),
        ),
        case(
            "lasting throttle",
            lasting("cdthrp", always("throttle"), "ThrottlingException"),
        ),
        case(
            "lasting drop",
            lasting("cddropp", always("drop"), "cannot reach AWS"),
        ),
        // The delete happened, its answer was lost: deleted, not "changed".
        case("answer dropped", move || {
            clean_digests_fault(
                m,
                "cdlost",
                &[
                    "drop",
                    "--op",
                    "DeleteItem",
                    "--forward-first",
                    "--first",
                    "1",
                ],
                RETRY_TIMEOUT,
                (2, 1),
                true,
                &[],
            )
        }),
        case("answer too late", move || {
            clean_digests_fault(
                m,
                "cdslow",
                &["slow", "--op", "DeleteItem", "--delay", SLOW_DELAY],
                SHORT_TIMEOUT,
                (1, 1),
                true,
                &[],
            )
        }),
    ]);
}

// ---------------------------------------------------------------------------
// rollback: writing the digest items again, under every fault
// ---------------------------------------------------------------------------

/// Migrated by a replace that deleted the digest item (recorded in `rb.json`):
/// rollback must write it again.
fn migrated_deleting_digests<'a>(m: &'a Moto, tag: &str) -> (Store<'a>, TempDir) {
    let store = Store::new(m, tag);
    store.create(&[KEY]);
    let dir = tree(&store);
    tflock(
        dir.path(),
        &m.url,
        &["apply", "--auto-approve", "--rollback-file", "rb.json"],
        "setup",
    )
    .assert_code(0)
    .assert_contains("Deleted 1 of 1");
    assert_eq!(digest(&store), Value::Null, "setup: digest not deleted");
    (store, dir)
}

/// A rollback whose digest PutItem meets `fault`. `written`: the write must end
/// done and rollback complete (exit 0); else rollback exits 1 after restoring
/// the files, names the item and says to rerun, and the rerun (no fault)
/// finishes. Either way Terraform on DynamoDB locking reads the state after.
fn rollback_digest_fault(
    moto: &Moto,
    tag: &str,
    deleted_by_apply: bool,
    (fault, timeout): (&[&str], &str),
    (seen, faulted): (usize, usize),
    written: bool,
    reasons: &[&str],
) {
    let context =
        format!("rollback digest write, {fault:?} (deleted by apply: {deleted_by_apply})");
    let (store, dir) = if deleted_by_apply {
        migrated_deleting_digests(moto, tag)
    } else {
        let (store, dir, _) = migrated(moto, tag);
        (store, dir)
    };
    if !deleted_by_apply {
        assert_ne!(
            store.terraform_read(KEY)["ok"],
            true,
            "{context}: readable before"
        );
    }
    let proxy = Proxy::start(fault, Some(&moto.url));
    let run = tflock(
        dir.path(),
        &proxy.url(),
        &[
            "rollback",
            "rb.json",
            "--auto-approve",
            "--aws-timeout",
            timeout,
        ],
        &context,
    );
    proxy
        .counts()
        .assert("PutItem", "", seen, faulted, &context);
    // The files are restored before any digest is written.
    assert!(
        read(dir.path(), "app/main.tf").contains("dynamodb_table"),
        "{context}: files not restored:\n{}",
        run.text()
    );
    if written {
        run.assert_code(0)
            .assert_contains("Rollback complete! 1 file restored, 1 digest item repaired.");
    } else {
        run.assert_code(1)
            .assert_contains(&format!(
                "cannot repair digest {} in {}",
                store.digest_id(KEY),
                store.table
            ))
            .assert_contains(
                "The files were restored; rerun `tflock rollback` to retry the digests.",
            )
            .assert_lacks("Rollback complete");
        for reason in reasons {
            run.assert_contains(reason);
        }
        tflock(
            dir.path(),
            &moto.url,
            &["rollback", "rb.json", "--auto-approve"],
            &format!("{context}: rerun"),
        )
        .assert_code(0)
        .assert_lacks("cannot repair");
    }
    assert!(digest(&store).is_string(), "{context}: no digest item");
    let terraform = store.terraform_read(KEY);
    assert_eq!(terraform["ok"], true, "{context}: {terraform:#}");
}

#[test]
fn rollback_digest_writes_fail_closed_under_every_fault_and_a_rerun_finishes() {
    let Some(moto) =
        moto("rollback_digest_writes_fail_closed_under_every_fault_and_a_rerun_finishes")
    else {
        return;
    };
    let m = &moto;
    let always = |mode: &'static str| -> Vec<&'static str> { vec![mode, "--op", "PutItem"] };
    let lasting =
        |tag: &'static str, deleted: bool, fault: Vec<&'static str>, why: &'static str| {
            move || {
                rollback_digest_fault(
                    m,
                    tag,
                    deleted,
                    (&fault, RETRY_TIMEOUT),
                    (SDK_ATTEMPTS, SDK_ATTEMPTS),
                    false,
                    &[why],
                )
            }
        };
    let lost = vec!["drop", "--op", "PutItem", "--forward-first", "--first", "1"];
    let lost2 = lost.clone();
    parallel(vec![
        case(
            "lasting 500, stale digest",
            lasting("rd500p", false, always("status500"), "InternalServerError"),
        ),
        case(
            "lasting 503, deleted digest",
            lasting("rd503d", true, always("status503"), "ServiceUnavailable"),
        ),
        case(
            "lasting throttle, deleted digest",
            lasting("rdthrd", true, always("throttle"), "ThrottlingException"),
        ),
        case(
            "lasting drop, stale digest",
            lasting("rddropp", false, always("drop"), "cannot reach AWS"),
        ),
        case("transient 503, deleted digest", move || {
            rollback_digest_fault(
                m,
                "rd503t",
                true,
                (
                    &["status503", "--op", "PutItem", "--first", "1"],
                    RETRY_TIMEOUT,
                ),
                (2, 1),
                true,
                &[],
            )
        }),
        // The write landed, its answer was lost: the SDK's retry writes the same
        // digest again (a put is idempotent).
        case("answer dropped, stale digest", move || {
            rollback_digest_fault(
                m,
                "rdlosts",
                false,
                (&lost, RETRY_TIMEOUT),
                (2, 1),
                true,
                &[],
            )
        }),
        case("answer dropped, deleted digest", move || {
            rollback_digest_fault(
                m,
                "rdlostd",
                true,
                (&lost2, RETRY_TIMEOUT),
                (2, 1),
                true,
                &[],
            )
        }),
        // Too late: tflock cannot know it landed, so it says to rerun; the rerun
        // finds the digest right and has nothing left to write.
        case("answer too late, deleted digest", move || {
            rollback_digest_fault(
                m,
                "rdslowd",
                true,
                (
                    &["slow", "--op", "PutItem", "--delay", SLOW_DELAY],
                    SHORT_TIMEOUT,
                ),
                (1, 1),
                false,
                // The SDK's own timeout or tflock's bound, whichever fires first.
                &[],
            )
        }),
    ]);
}
