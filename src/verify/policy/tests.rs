//! The blocking policy, case by case: each scenario is what AWS answered for one
//! target, and the expected blockers, notes and per-state facts.

use super::*;
use crate::resolve::Unknown;
use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

const KEY: &str = "app/terraform.tfstate";

/// 2026-11-27T12:00:00Z, the clock every case runs at.
fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_780_800)
}

fn target() -> Target {
    Target {
        bucket: Some("b".into()),
        keys: vec![(None, KEY.into())],
        unknown_key_prefix: None,
        workspace_key_prefix: "env:".into(),
        table: Some("locks".into()),
        client: Default::default(),
        probe: false,
        dir: "app".into(),
        unknown: Vec::new(),
        unit: None,
    }
}

fn lock(who: &str, created: &str) -> LockInfo {
    LockInfo {
        id: "1234".into(),
        operation: "OperationTypeApply".into(),
        who: who.into(),
        created: created.into(),
        ..LockInfo::default()
    }
}

/// What AWS answered for one target.
struct Answers {
    table: Option<Result<TableFacts, String>>,
    bucket: Option<Result<BucketFacts, String>>,
    probe: Option<Probe>,
    lockfiles: BTreeMap<String, LockInfo>,
}

impl Answers {
    /// An empty table and a bucket holding only the default state.
    fn free() -> Answers {
        Answers {
            table: Some(Ok(TableFacts::default())),
            bucket: Some(Ok(bucket(&[KEY]))),
            probe: None,
            lockfiles: BTreeMap::new(),
        }
    }

    fn judge(&self, t: &Target, options: &Options) -> BackendLocks {
        let index = WorkspaceIndex::new(
            &t.workspace_key_prefix,
            t.bucket.as_deref().unwrap_or_default(),
            self.bucket.as_ref().and_then(|b| b.as_ref().ok()),
            self.table.as_ref().and_then(|f| f.as_ref().ok()),
        );
        let lockfile = |key: &str| self.lockfiles.get(key).cloned();
        let facts = Facts {
            table: self.table.as_ref(),
            bucket: self.bucket.as_ref(),
            probe: self.probe.clone(),
            lockfile: &lockfile,
            index: &index,
        };
        judge(t, facts, options, now())
    }
}

fn bucket(keys: &[&str]) -> BucketFacts {
    BucketFacts {
        keys: keys.iter().map(|k| k.to_string()).collect(),
    }
}

fn table(locks: &[(&str, LockInfo)], digests: &[(&str, &str)]) -> TableFacts {
    TableFacts {
        locks: locks
            .iter()
            .map(|(id, info)| (id.to_string(), info.clone()))
            .collect(),
        digests: digests
            .iter()
            .map(|(id, d)| (id.to_string(), d.to_string()))
            .collect(),
    }
}

fn options() -> Options {
    Options::default()
}

#[test]
fn free_locks_block_nothing() {
    let found = Answers::free().judge(&target(), &options());
    assert_eq!(found.blockers, Vec::<String>::new());
    assert_eq!(found.notes, Vec::<String>::new());
    let [state] = found.states.as_slice() else {
        panic!("one state expected: {:?}", found.states)
    };
    assert_eq!(state.workspace, "default");
    assert_eq!(state.state_key, KEY);
    assert_eq!(state.dynamodb, LockStatus::Free);
    assert_eq!(state.lockfile, LockStatus::Free);
    assert_eq!(state.state_exists, Some(true));
    assert_eq!(state.digest, Digest::Absent);
    assert_eq!(found.probe, None);
}

/// (case, what AWS answered, the blockers expected)
fn blocking_cases() -> Vec<(&'static str, Answers, Vec<String>)> {
    let recent = lock("alice@host", "2026-11-27T11:30:00Z");
    let old = lock("bob@ci", "2026-11-27T08:00:00Z");
    vec![
        (
            "a held DynamoDB lock",
            Answers {
                table: Some(Ok(table(
                    &[("b/app/terraform.tfstate", recent.clone())],
                    &[],
                ))),
                ..Answers::free()
            },
            vec![
                "state app/terraform.tfstate (workspace default): DynamoDB lock held by \
                 alice@host since 2026-11-27T11:30:00Z (30m 0s ago) for OperationTypeApply, \
                 lock ID 1234"
                    .into(),
            ],
        ),
        (
            "a stale DynamoDB lock names force-unlock",
            Answers {
                table: Some(Ok(table(&[("b/app/terraform.tfstate", old)], &[]))),
                ..Answers::free()
            },
            vec![
                "state app/terraform.tfstate (workspace default): DynamoDB lock held by \
                 bob@ci since 2026-11-27T08:00:00Z (4h 0m ago) for OperationTypeApply, \
                 lock ID 1234; it looks stale: if no run is active, run `terraform \
                 force-unlock 1234` in app"
                    .into(),
            ],
        ),
        (
            "a lock item without Info (its holder unreadable) still holds",
            Answers {
                table: Some(Ok(table(
                    &[(
                        "b/app/terraform.tfstate",
                        LockInfo {
                            info: "lock item without Info".into(),
                            ..LockInfo::default()
                        },
                    )],
                    &[],
                ))),
                ..Answers::free()
            },
            vec![
                "state app/terraform.tfstate (workspace default): DynamoDB lock held by unknown"
                    .into(),
            ],
        ),
        (
            "a held S3 lockfile",
            Answers {
                bucket: Some(Ok(bucket(&[KEY, "app/terraform.tfstate.tflock"]))),
                lockfiles: [("app/terraform.tfstate.tflock".to_string(), recent)].into(),
                ..Answers::free()
            },
            vec![
                "state app/terraform.tfstate (workspace default): S3 lockfile held by \
                 alice@host since 2026-11-27T11:30:00Z (30m 0s ago) for OperationTypeApply, \
                 lock ID 1234"
                    .into(),
            ],
        ),
        (
            "a lockfile whose body could not be read is held by unknown",
            Answers {
                bucket: Some(Ok(bucket(&[KEY, "app/terraform.tfstate.tflock"]))),
                ..Answers::free()
            },
            vec![
                "state app/terraform.tfstate (workspace default): S3 lockfile held by unknown"
                    .into(),
            ],
        ),
        (
            "a table that could not be scanned is unknown, so locked",
            Answers {
                table: Some(Err("cannot scan lock table locks: AccessDenied".into())),
                ..Answers::free()
            },
            vec![
                "state app/terraform.tfstate (workspace default): DynamoDB lock unverified: \
                 cannot scan lock table locks: AccessDenied"
                    .into(),
            ],
        ),
        (
            "a table that was never scanned is unknown, so locked",
            Answers {
                table: None,
                ..Answers::free()
            },
            vec![
                "state app/terraform.tfstate (workspace default): DynamoDB lock unverified: \
                 lock table was not scanned"
                    .into(),
            ],
        ),
        (
            "a bucket that could not be listed is unknown, so locked",
            Answers {
                bucket: Some(Err("cannot list bucket b: timed out".into())),
                ..Answers::free()
            },
            vec![
                "state app/terraform.tfstate (workspace default): S3 lockfile unverified: \
                 cannot list bucket b: timed out"
                    .into(),
            ],
        ),
        (
            "a lock in a workspace found in the listing",
            Answers {
                table: Some(Ok(table(
                    &[("b/env:/dev/app/terraform.tfstate", lock("carol@host", ""))],
                    &[],
                ))),
                ..Answers::free()
            },
            vec![
                "state env:/dev/app/terraform.tfstate (workspace dev): DynamoDB lock held by \
                 carol@host for OperationTypeApply, lock ID 1234"
                    .into(),
            ],
        ),
    ]
}

#[test]
fn each_lock_held_or_unknown_blocks() {
    for (case, answers, expected) in blocking_cases() {
        let found = answers.judge(&target(), &options());
        assert_eq!(found.blockers, expected, "{case}");
        assert!(found.blocked(), "{case}");
    }
}

#[test]
fn a_table_error_leaves_state_facts_unverified() {
    let found = Answers {
        table: Some(Err("AccessDenied".into())),
        bucket: Some(Err("timed out".into())),
        ..Answers::free()
    }
    .judge(&target(), &options());
    let state = &found.states[0];
    assert_eq!(
        state.dynamodb,
        LockStatus::Unverified {
            reason: "AccessDenied".into()
        }
    );
    assert_eq!(
        state.lockfile,
        LockStatus::Unverified {
            reason: "timed out".into()
        }
    );
    assert_eq!(state.digest, Digest::Unknown);
    assert_eq!(state.state_exists, None);
    assert_eq!(found.blockers.len(), 2);
}

#[test]
fn digests_are_present_absent_or_unknown() {
    let with_digest = Answers {
        table: Some(Ok(table(&[], &[("b/app/terraform.tfstate-md5", "abc")]))),
        ..Answers::free()
    };
    let state = &with_digest.judge(&target(), &options()).states[0];
    assert_eq!(state.digest, Digest::Present);
    assert_eq!(state.digest_value.as_deref(), Some("abc"));

    // A digest item never blocks: it is a fact for rollback, not a lock.
    assert!(!with_digest.judge(&target(), &options()).blocked());

    // When the digests were not read, their absence proves nothing.
    let unread = Options {
        read_digests: false,
        ..options()
    };
    let state = &Answers::free().judge(&target(), &unread).states[0];
    assert_eq!(state.digest, Digest::Unknown);
}

#[test]
fn no_table_checks_lockfiles_only() {
    let t = Target {
        table: None,
        probe: true,
        ..target()
    };
    let found = Answers {
        table: None,
        probe: Some(Probe::Enforced),
        ..Answers::free()
    }
    .judge(&t, &options());
    assert_eq!(found.blockers, Vec::<String>::new());
    assert_eq!(found.states[0].dynamodb, LockStatus::Free);
    assert_eq!(
        found.notes,
        ["no dynamodb_table in this configuration: only S3 lockfiles were checked"]
    );
    assert_eq!(found.probe, Some(Probe::Enforced));
}

#[test]
fn no_bucket_means_lockfiles_unverified() {
    let t = Target {
        bucket: None,
        ..target()
    };
    let found = Answers {
        bucket: None,
        ..Answers::free()
    }
    .judge(&t, &options());
    assert_eq!(
        found.blockers,
        [
            "state app/terraform.tfstate (workspace default): S3 lockfile unverified: \
          no bucket is set in this backend"
        ]
    );
}

#[test]
fn an_unknown_value_that_blocks_is_a_blocker() {
    let t = Target {
        unknown: vec![Unknown {
            attribute: "region".into(),
            expression: "var.region".into(),
            reason: "variables are not known offline".into(),
            location: "app/main.tf:4".into(),
            blocks: true,
        }],
        ..target()
    };
    let found = Answers::free().judge(&t, &options());
    assert_eq!(
        found.blockers,
        ["region is unknown: `var.region` at app/main.tf:4: variables are not known offline"]
    );
}

#[test]
fn a_partly_known_key_is_checked_by_its_prefix() {
    let t = Target {
        keys: Vec::new(),
        unknown_key_prefix: Some("app/".into()),
        ..target()
    };
    let answers = Answers {
        table: Some(Ok(table(
            &[
                ("b/app/one.tfstate", lock("dave@host", "")),
                ("b/env:/dev/app/two.tfstate", lock("erin@host", "")),
                ("b/other/three.tfstate", lock("frank@host", "")),
                ("other-bucket/app/four.tfstate", lock("gina@host", "")),
            ],
            &[],
        ))),
        bucket: Some(Ok(bucket(&["app/five.tfstate.tflock", "other/six.tflock"]))),
        ..Answers::free()
    };
    let found = answers.judge(&t, &options());
    assert_eq!(
        found.blockers,
        [
            "DynamoDB lock b/app/one.tfstate held by dave@host for OperationTypeApply, lock ID 1234",
            "DynamoDB lock b/env:/dev/app/two.tfstate held by erin@host for OperationTypeApply, \
             lock ID 1234",
            "S3 lockfile app/five.tfstate.tflock held by unknown",
        ]
    );
    assert_eq!(
        found.notes,
        [
            "conservative check: the state key is not fully known; any active lock whose LockID \
          starts with \"b/app/\" blocks this backend, in any workspace"
        ]
    );

    // Without a bucket, any lock in the table could be one of its states.
    let t = Target { bucket: None, ..t };
    let found = Answers {
        bucket: None,
        ..answers
    }
    .judge(&t, &options());
    assert_eq!(found.blockers.len(), 5, "{:?}", found.blockers);
    assert_eq!(
        found.blockers.last().map(String::as_str),
        Some("S3 lockfiles unverified: no bucket is set in this backend")
    );

    // A table that could not be read blocks the partly known key too.
    let found = Answers {
        table: Some(Err("AccessDenied".into())),
        ..Answers::free()
    }
    .judge(&target_with_prefix(), &options());
    assert_eq!(found.blockers, ["DynamoDB locks unverified: AccessDenied"]);
}

fn target_with_prefix() -> Target {
    Target {
        keys: Vec::new(),
        unknown_key_prefix: Some("app/".into()),
        ..target()
    }
}

#[test]
fn the_probe_blocks_unless_enforced_or_skipped() {
    let t = Target {
        probe: true,
        ..target()
    };
    let cases: Vec<(Option<Probe>, Vec<&str>)> = vec![
        (Some(Probe::Enforced), vec![]),
        (
            Some(Probe::Ignored),
            vec![
                "bucket b accepted a second conditional write (If-None-Match: *); on this store \
                 a lockfile would lock nothing (--skip-probe if you know better)",
            ],
        ),
        (
            Some(Probe::Unverified {
                reason: "AccessDenied".into(),
            }),
            vec!["bucket b: conditional-write probe failed: AccessDenied"],
        ),
        (None, vec![]),
    ];
    for (probe, expected) in cases {
        let found = Answers {
            probe: probe.clone(),
            ..Answers::free()
        }
        .judge(&t, &options());
        assert_eq!(found.blockers, expected, "{probe:?}");
        assert_eq!(found.probe, probe);
    }

    // --skip-probe: whatever was found, the probe is reported as skipped.
    let skip = Options {
        skip_probe: true,
        ..options()
    };
    let found = Answers {
        probe: Some(Probe::Ignored),
        ..Answers::free()
    }
    .judge(&t, &skip);
    assert!(!found.blocked());
    assert_eq!(found.probe, Some(Probe::Skipped));

    // A backend that is not migrating is never probed.
    let found = Answers {
        probe: Some(Probe::Ignored),
        ..Answers::free()
    }
    .judge(&target(), &options());
    assert!(!found.blocked());
    assert_eq!(found.probe, None);
}
