//! The DynamoDB digest items after a replace wrote its files: deleted on the
//! value read (readers that still name `dynamodb_table` keep working) and
//! recorded in the rollback file. Decides and reports; never prints.

use super::{Aws, Error, Session};
use crate::model::RepoPlan;
use crate::model::locks::{BackendLocks, Digest};
use crate::plan::Action;
use crate::remote::{DeletionOutcome, DigestDeletion};
use crate::rollback::RollbackPlan;
use crate::verify::{Options, Target};
use std::path::Path;

/// What the deletion did, for the user.
#[derive(Debug)]
pub struct Deleted {
    /// What was left in place, and why (for stderr).
    pub warnings: Vec<String>,
    /// The count of deleted items (for stdout), when any was tried.
    pub summary: Option<String>,
    /// Recording the deleted items in the rollback file and its Markdown twin.
    pub recorded: Result<(), Error>,
}

/// Deletes the digest item of every state of each migrated backend, on the
/// condition that it still holds the value read, and records what it deleted.
pub fn delete_after_apply(
    repo: &RepoPlan,
    rollback: &mut RollbackPlan,
    rollback_path: &Path,
    aws: Aws,
    session: &Session,
) -> Result<Deleted, Error> {
    let migrated: Vec<usize> = (0..repo.backends.len())
        .filter(|&i| repo.backends[i].action == Action::Migrate)
        .collect();
    // The lock checks read the digests; with --skip-lock-check they are read now.
    let unread = migrated.iter().any(|&i| repo.backends[i].locks.is_none());
    let read_now: Vec<(usize, BackendLocks)> = if unread {
        let options = Options {
            read_digests: true,
            skip_probe: true,
            ..aws.options()
        };
        session.block_on(crate::verify::verify_plan(
            repo,
            |b| b.action == Action::Migrate && b.locks.is_none(),
            false,
            &options,
            session.counter(),
        ))?
    } else {
        Vec::new()
    };
    let pairs = per_target(repo, &migrated, &read_now);
    let mut warnings = Vec::new();
    let unread: Vec<String> = pairs
        .iter()
        .flat_map(|(_, l)| &l.states)
        .filter(|s| s.table.is_some() && s.digest == Digest::Unknown)
        .map(|s| s.state_key.clone())
        .collect();
    if !unread.is_empty() {
        warnings.push(format!(
            "the digest items of {} state(s) could not be read ({}), so none was deleted; \
             readers that name dynamodb_table fail once these states change: run `tflock \
             status --clean-digests --rollback-file {}` once the lock table answers",
            unread.len(),
            unread.join(", "),
            rollback_path.display()
        ));
    }
    let deletions = crate::remote::deletions(pairs.iter().map(|(t, l)| (t, l)));
    if deletions.is_empty() {
        return Ok(Deleted {
            warnings,
            summary: None,
            recorded: Ok(()),
        });
    }
    let outcomes = session.block_on(crate::remote::delete_digests(
        &deletions,
        &aws.options(),
        session.counter(),
    ))?;
    warnings.extend(outcomes.iter().filter_map(|(d, o)| left_in_place(d, o)));
    let deleted: Vec<(String, String)> = outcomes
        .iter()
        .filter(|(_, o)| *o == DeletionOutcome::Deleted)
        .map(|(d, _)| (d.digest_id.clone(), d.value.clone()))
        .collect();
    let summary = format!(
        "Deleted {} of {} DynamoDB digest item(s) of the migrated states (readers that still \
         name dynamodb_table keep working; `--keep-digests` keeps them).\n",
        deleted.len(),
        outcomes.len()
    );
    let recorded = if deleted.is_empty() {
        Ok(())
    } else {
        rollback.record_deleted_digests(&deleted);
        rewrite_rollback(rollback, rollback_path)
    };
    Ok(Deleted {
        warnings,
        summary: Some(summary),
        recorded,
    })
}

/// One pair per resolved target: each unit's states live in its own bucket.
fn per_target(
    repo: &RepoPlan,
    migrated: &[usize],
    read_now: &[(usize, BackendLocks)],
) -> Vec<(Target, BackendLocks)> {
    migrated
        .iter()
        .filter_map(|&i| {
            let b = &repo.backends[i];
            let locks = b.locks.clone().or_else(|| {
                read_now
                    .iter()
                    .find(|(j, _)| *j == i)
                    .map(|(_, l)| l.clone())
            })?;
            Some(b.resolution.targets.iter().map(move |t| {
                let mut mine = locks.clone();
                mine.states.retain(|s| s.unit == t.unit);
                (t.clone(), mine)
            }))
        })
        .flatten()
        .collect()
}

/// Why a digest item was not deleted; None when it was.
fn left_in_place(d: &DigestDeletion, outcome: &DeletionOutcome) -> Option<String> {
    match outcome {
        DeletionOutcome::Deleted => None,
        DeletionOutcome::Changed => Some(format!(
            "digest {} in table {}: changed since tflock read it ({}); left in place. A client \
             still locking with DynamoDB wrote {} in between: find it (`tflock status` reports \
             it as a straggler).",
            d.digest_id, d.table, d.value, d.state_key
        )),
        DeletionOutcome::Failed { reason } => Some(format!(
            "digest {} in table {}: not deleted: {reason}; readers that name dynamodb_table \
             fail once the state changes: run `tflock status --clean-digests`",
            d.digest_id, d.table
        )),
    }
}

/// Rewrites the rollback file and its Markdown twin with the deleted digests.
fn rewrite_rollback(rollback: &RollbackPlan, path: &Path) -> Result<(), Error> {
    let markdown = crate::apply::markdown_path(path);
    let shown = path.display().to_string();
    for (file, text) in [
        (path, rollback.to_json()),
        (markdown.as_path(), rollback.to_markdown(&shown)),
    ] {
        crate::apply::write_private(file, text.as_bytes()).map_err(|source| Error::Write {
            path: file.display().to_string(),
            what: "cannot record the deleted digests",
            source,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deletion() -> DigestDeletion {
        DigestDeletion {
            client: Default::default(),
            table: "locks".into(),
            state_key: "app.tfstate".into(),
            digest_id: "tfstate/app.tfstate-md5".into(),
            value: "abc".into(),
        }
    }

    #[test]
    fn only_items_left_in_place_are_reported() {
        assert_eq!(left_in_place(&deletion(), &DeletionOutcome::Deleted), None);
        let changed = left_in_place(&deletion(), &DeletionOutcome::Changed).unwrap();
        assert!(changed.starts_with("digest tfstate/app.tfstate-md5 in table locks: changed"));
        assert!(changed.contains("wrote app.tfstate in between"));
        let failed = DeletionOutcome::Failed {
            reason: "timeout".into(),
        };
        assert!(
            left_in_place(&deletion(), &failed)
                .unwrap()
                .contains("not deleted: timeout;")
        );
    }
}
