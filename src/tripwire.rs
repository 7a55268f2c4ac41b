//! The tripwire of `tflock status`: after a replace no Terraform run that locks
//! with lockfiles only writes a `-md5` digest item again. A lockfile-only state
//! whose digest item is there (again) and matches the state means some client
//! still runs with DynamoDB locking and writes that state without the lockfile:
//! a straggler. One that does not match is a stale digest, which breaks every
//! reader that still names `dynamodb_table`: `--clean-digests` deletes those.

use crate::model::RepoPlan;
pub use crate::model::digests::{DigestCheck, Verdict};
use crate::remote::{DeletionOutcome, DigestDeletion};
pub use crate::report::digests::{
    BEFORE_MERGE, advice, markdown as render_markdown, text as render_text,
};
use crate::status::{Phase, TableSource, phase_of, region_of};
use crate::verify::{Options, RequestCounter};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// What rollback files say about a digest item.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    /// Apply deleted it.
    pub deleted_by_apply: bool,
    /// Its `Digest` when the migration ran.
    pub at_migration: Option<String>,
}

/// The verdict on one digest item of a lockfile-only state. Back after apply
/// deleted it: a straggler. Unchanged since the migration: left from before it
/// (kept with `--keep-digests`), stale as soon as the state changes. Otherwise
/// fresh means a client still writes it with DynamoDB locking.
pub fn judge(digest: &str, state_md5: Option<&str>, recorded: &Recorded) -> Verdict {
    if recorded.deleted_by_apply {
        Verdict::Straggler
    } else if recorded.at_migration.as_deref() == Some(digest) {
        Verdict::StaleDigest
    } else if state_md5 == Some(digest) {
        Verdict::Straggler
    } else {
        Verdict::StaleDigest
    }
}

/// What `tflock status --clean-digests` was asked to do.
#[derive(Debug, Clone, Copy)]
pub struct Clean {
    pub enabled: bool,
    pub dry_run: bool,
}

/// What `--clean-digests` does with one digest item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CleanAction {
    /// Not asked to clean, or not stale: the item stays, nothing to say.
    Keep,
    /// The item stays, for this reason (dry run, a lock held or unverified).
    Report(String),
    Delete,
}

/// Only stale digests go, and only those of states whose locks are free (the
/// lock rules of apply: unknown counts as held); a straggler's is evidence.
pub fn clean_action(clean: Clean, verdict: Verdict, blocked: Option<&str>) -> CleanAction {
    if !clean.enabled || verdict != Verdict::StaleDigest {
        CleanAction::Keep
    } else if let Some(why) = blocked {
        CleanAction::Report(format!("not cleaned: {why}"))
    } else if clean.dry_run {
        CleanAction::Report("would delete (dry run)".to_string())
    } else {
        CleanAction::Delete
    }
}

/// Every digest item of a lockfile-only state, in the lock tables
/// tflock knows of (named by a config or a rollback file, or found in the
/// account), judged against the state object; with `clean`, the stale ones of
/// states whose locks are free are deleted (on the value read).
pub async fn check(
    repo: &RepoPlan,
    tables: &[TableSource],
    recorded: &BTreeMap<String, Recorded>,
    options: &Options,
    clean: Clean,
    counter: Arc<RequestCounter>,
) -> Vec<DigestCheck> {
    let options = Options {
        read_digests: true,
        skip_probe: true,
        ..options.clone()
    };
    let mut known: BTreeSet<(String, String)> = BTreeSet::new();
    let tables: Vec<(String, String)> = tables
        .iter()
        .map(|t| (region_of(&t.client), t.table.clone()))
        .filter(|t| known.insert(t.clone()))
        .collect();
    let mut targets = Vec::new();
    let mut labels = Vec::new();
    for b in repo
        .backends
        .iter()
        .filter(|b| phase_of(&b.backend) == Phase::Lockfile)
    {
        for base in &b.resolution.targets {
            let region = region_of(&base.client);
            for (_, table) in tables.iter().filter(|(r, _)| *r == region) {
                let mut t = base.clone();
                t.table = Some(table.clone());
                targets.push(t);
                labels.push((format!("{}:{}", b.path, b.backend.line), region.clone()));
            }
        }
    }
    if targets.is_empty() {
        return Vec::new();
    }
    let found = crate::verify::verify(&targets, &options, counter.clone()).await;
    let mut seen = BTreeSet::new();
    let mut candidates = Vec::new();
    for ((t, locks), (backend, region)) in targets.iter().zip(&found).zip(&labels) {
        let (Some(bucket), Some(table)) = (&t.bucket, &t.table) else {
            continue;
        };
        for s in &locks.states {
            let Some(digest) = &s.digest_value else {
                continue;
            };
            let digest_item = crate::model::lock_ids::digest_id(bucket, &s.state_key);
            if !seen.insert((table.clone(), digest_item.clone())) {
                continue;
            }
            let blocked = match (&s.dynamodb, &s.lockfile) {
                (d, l) if d.is_free() && l.is_free() => None,
                (d, _) if !d.is_free() => Some(format!("its DynamoDB lock is {}", lock_word(d))),
                (_, l) => Some(format!("its S3 lockfile is {}", lock_word(l))),
            };
            candidates.push((
                t.clone(),
                s.clone(),
                digest.clone(),
                digest_item,
                backend.clone(),
                region.clone(),
                blocked,
            ));
        }
    }
    let md5s = crate::remote::state_md5s(
        candidates
            .iter()
            .map(|(t, s, ..)| {
                (
                    t.client.clone(),
                    t.bucket.clone().unwrap_or_default(),
                    s.state_key.clone(),
                )
            })
            .collect(),
        &options,
        counter.clone(),
    )
    .await;
    let mut checks = Vec::new();
    let mut to_delete = Vec::new();
    for ((t, s, digest, digest_item, backend, region, blocked), md5) in
        candidates.into_iter().zip(md5s)
    {
        let table = t.table.clone().unwrap_or_default();
        // A state that cannot be read cannot be judged: not cleaned, reported.
        let (state_md5, unreadable) = match md5 {
            Ok(m) => (m, None),
            Err(e) => (None, Some(e)),
        };
        let known = recorded.get(&digest_item).cloned().unwrap_or_default();
        let verdict = judge(&digest, state_md5.as_deref(), &known);
        let blocked = blocked.or(unreadable.map(|e| format!("the state cannot be read: {e}")));
        let cleaned = match clean_action(clean, verdict, blocked.as_deref()) {
            CleanAction::Keep => None,
            CleanAction::Report(what) => Some(what),
            CleanAction::Delete => {
                to_delete.push((
                    checks.len(),
                    DigestDeletion {
                        client: t.client.clone(),
                        table: table.clone(),
                        state_key: s.state_key.clone(),
                        digest_id: digest_item.clone(),
                        value: digest.clone(),
                    },
                ));
                None
            }
        };
        checks.push(DigestCheck {
            backend,
            workspace: s.workspace.clone(),
            advice: advice(verdict, &table, &s.state_key),
            state_key: s.state_key.clone(),
            table,
            region,
            digest_item,
            digest,
            state_md5,
            deleted_by_apply: known.deleted_by_apply,
            digest_at_migration: known.at_migration.clone(),
            verdict,
            blocked,
            cleaned,
        });
    }
    if !to_delete.is_empty() {
        let deletions: Vec<DigestDeletion> = to_delete.iter().map(|(_, d)| d.clone()).collect();
        let outcomes = crate::remote::delete_digests(&deletions, &options, counter).await;
        for ((i, _), (_, outcome)) in to_delete.iter().zip(outcomes) {
            checks[*i].cleaned = Some(match outcome {
                DeletionOutcome::Deleted => "deleted".to_string(),
                DeletionOutcome::Changed => {
                    "changed since read: left (a client wrote it meanwhile)".to_string()
                }
                DeletionOutcome::Failed { reason } => format!(
                    "{CLEAN_FAILED}{reason}; left in place: rerun `tflock status --clean-digests`"
                ),
            });
        }
    }
    checks
}

/// How `cleaned` starts when a delete `--clean-digests` attempted failed.
const CLEAN_FAILED: &str = "failed: ";

/// Whether `--clean-digests` failed to delete an item it set out to delete: the
/// run must then not exit 0.
pub fn clean_failed(checks: &[DigestCheck]) -> bool {
    checks.iter().any(|c| {
        c.cleaned
            .as_deref()
            .is_some_and(|w| w.starts_with(CLEAN_FAILED))
    })
}

fn lock_word(status: &crate::verify::LockStatus) -> String {
    match status {
        crate::verify::LockStatus::Free => "free".into(),
        crate::verify::LockStatus::Held { lock } => format!("held by {}", lock.who),
        crate::verify::LockStatus::Unverified { reason } => format!("unverified ({reason})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_or_reappeared_is_a_straggler_and_the_rest_is_stale() {
        let none = Recorded::default();
        let deleted = Recorded {
            deleted_by_apply: true,
            at_migration: Some("a".into()),
        };
        let kept = Recorded {
            deleted_by_apply: false,
            at_migration: Some("a".into()),
        };
        assert_eq!(judge("a", Some("a"), &none), Verdict::Straggler);
        assert_eq!(judge("b", Some("c"), &deleted), Verdict::Straggler);
        assert_eq!(judge("a", Some("a"), &kept), Verdict::StaleDigest);
        assert_eq!(judge("b", Some("b"), &kept), Verdict::Straggler);
        assert_eq!(judge("a", Some("b"), &none), Verdict::StaleDigest);
        assert_eq!(judge("a", None, &none), Verdict::StaleDigest);
        assert!(advice(Verdict::Straggler, "t", "k").contains("before the change was merged"));
        assert!(advice(Verdict::StaleDigest, "t", "k").contains("--clean-digests"));
    }

    #[test]
    fn clean_deletes_only_stale_digests_of_free_states() {
        let on = Clean {
            enabled: true,
            dry_run: false,
        };
        let dry = Clean {
            enabled: true,
            dry_run: true,
        };
        let off = Clean {
            enabled: false,
            dry_run: false,
        };
        assert_eq!(
            clean_action(on, Verdict::StaleDigest, None),
            CleanAction::Delete
        );
        assert_eq!(
            clean_action(on, Verdict::Straggler, None),
            CleanAction::Keep
        );
        assert_eq!(
            clean_action(off, Verdict::StaleDigest, None),
            CleanAction::Keep
        );
        assert!(matches!(
            clean_action(on, Verdict::StaleDigest, Some("its S3 lockfile is held by ci")),
            CleanAction::Report(why) if why.contains("held by ci")
        ));
        assert!(matches!(
            clean_action(dry, Verdict::StaleDigest, None),
            CleanAction::Report(why) if why.contains("dry run")
        ));
    }
}
