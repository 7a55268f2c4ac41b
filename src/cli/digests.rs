//! The DynamoDB digest items around a replace: deleted by `apply` once the files
//! are written (readers that still name `dynamodb_table` keep working), and the
//! stale ones of lockfile-only states cleaned by `tflock status --clean-digests`.

use super::{print, tokio_runtime};
use anyhow::{Context, Result};
use std::path::Path;
use tflock::RepoPlan;
use tflock::plan::Action;
use tflock::remote::{DeletionOutcome, DigestDeletion};
use tflock::report::Style;
use tflock::rollback::RollbackPlan;
use tflock::verify::{BackendLocks, Options, RequestCounter, Target};

/// After a replace wrote its files: deletes the digest item of every state of
/// each migrated backend, on the condition that it still holds the value read,
/// records what it deleted in the rollback file, and reports what it left.
pub fn delete_after_apply(
    repo: &RepoPlan,
    rollback: &mut RollbackPlan,
    rollback_path: &Path,
    options: &Options,
    style: Style,
) -> Result<()> {
    let counter = std::sync::Arc::new(RequestCounter::default());
    let runtime = tokio_runtime()?;
    let migrated: Vec<usize> = (0..repo.backends.len())
        .filter(|&i| repo.backends[i].action == Action::Migrate)
        .collect();
    // The lock checks read the digests; with --skip-lock-check they are read now.
    let unread = migrated.iter().any(|&i| repo.backends[i].locks.is_none());
    let read_now: Vec<(usize, BackendLocks)> = if unread {
        let options = Options {
            read_digests: true,
            skip_probe: true,
            ..options.clone()
        };
        runtime.block_on(tflock::verify::verify_plan(
            repo,
            |b| b.action == Action::Migrate && b.locks.is_none(),
            false,
            &options,
            counter.clone(),
        ))
    } else {
        Vec::new()
    };
    // One pair per resolved target: each unit's states live in its own bucket.
    let pairs: Vec<(Target, BackendLocks)> = migrated
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
        .collect();
    let unread: Vec<String> = pairs
        .iter()
        .flat_map(|(_, l)| &l.states)
        .filter(|s| s.table.is_some() && s.digest == tflock::verify::Digest::Unknown)
        .map(|s| s.state_key.clone())
        .collect();
    if !unread.is_empty() {
        eprintln!(
            "{}",
            style.yellow(&format!(
                "the digest items of {} state(s) could not be read ({}), so none was deleted; \
                 readers that name dynamodb_table fail once these states change: run `tflock \
                 status --clean-digests --rollback-file {}` once the lock table answers",
                unread.len(),
                unread.join(", "),
                rollback_path.display()
            ))
        );
    }
    let deletions = tflock::remote::deletions(pairs.iter().map(|(t, l)| (t, l)));
    if deletions.is_empty() {
        return Ok(());
    }
    let outcomes = runtime.block_on(tflock::remote::delete_digests(&deletions, options, counter));
    let deleted: Vec<(String, String)> = outcomes
        .iter()
        .filter(|(_, o)| *o == DeletionOutcome::Deleted)
        .map(|(d, _)| (d.digest_id.clone(), d.value.clone()))
        .collect();
    report(&outcomes, style)?;
    if !deleted.is_empty() {
        rollback.record_deleted_digests(&deleted);
        rewrite_rollback(rollback, rollback_path)?;
    }
    Ok(())
}

/// Rewrites the rollback file and its Markdown twin with the deleted digests.
fn rewrite_rollback(rollback: &RollbackPlan, path: &Path) -> Result<()> {
    tflock::apply::write_private(path, rollback.to_json().as_bytes())
        .with_context(|| format!("{}: cannot record the deleted digests", path.display()))?;
    let markdown = tflock::apply::markdown_path(path);
    tflock::apply::write_private(
        &markdown,
        rollback.to_markdown(&path.display().to_string()).as_bytes(),
    )
    .with_context(|| format!("{}: cannot record the deleted digests", markdown.display()))
}

/// One line per digest item: deleted on stdout, left (and why) on stderr.
fn report(outcomes: &[(DigestDeletion, DeletionOutcome)], style: Style) -> Result<()> {
    let mut deleted = 0;
    for (d, outcome) in outcomes {
        match outcome {
            DeletionOutcome::Deleted => deleted += 1,
            DeletionOutcome::Changed => eprintln!(
                "{}",
                style.yellow(&format!(
                    "digest {} in table {}: changed since tflock read it ({}); left in place. \
                     A client still locking with DynamoDB wrote {} in between: find it \
                     (`tflock status` reports it as a straggler).",
                    d.digest_id, d.table, d.value, d.state_key
                ))
            ),
            DeletionOutcome::Failed { reason } => eprintln!(
                "{}",
                style.yellow(&format!(
                    "digest {} in table {}: not deleted: {reason}; readers that name \
                     dynamodb_table fail once the state changes: run `tflock status \
                     --clean-digests`",
                    d.digest_id, d.table
                ))
            ),
        }
    }
    print(&format!(
        "Deleted {deleted} of {} DynamoDB digest item(s) of the migrated states (readers that \
         still name dynamodb_table keep working; `--keep-digests` keeps them).\n",
        outcomes.len()
    ))
}

/// The tripwire of `tflock status` (see `tflock::tripwire::check`), run to the end.
pub fn tripwire(
    repo: &RepoPlan,
    tables: &[tflock::status::TableSource],
    recorded: &std::collections::BTreeMap<String, tflock::tripwire::Recorded>,
    options: &Options,
    clean: tflock::tripwire::Clean,
) -> Result<Vec<tflock::tripwire::DigestCheck>> {
    let counter = std::sync::Arc::new(RequestCounter::default());
    Ok(tokio_runtime()?.block_on(tflock::tripwire::check(
        repo, tables, recorded, options, clean, counter,
    )))
}
