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
use tflock::verify::{BackendLocks, Options, RequestCounter, Target, target_for};

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
            Some((target_for(&b.backend, &b.path, &repo.units, false), locks))
        })
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

/// What `tflock status --clean-digests` was asked to do.
#[derive(Debug, Clone, Copy)]
pub struct Clean {
    pub enabled: bool,
    pub dry_run: bool,
}

/// The tripwire: every digest item of a lockfile-only state, in the lock tables
/// tflock knows of (named by a config or a rollback file, or found in the
/// account), judged against the state object; with `clean`, the stale ones of
/// states whose locks are free are deleted (on the value read).
pub fn tripwire(
    repo: &RepoPlan,
    tables: &[tflock::status::TableSource],
    recorded: &std::collections::BTreeMap<String, tflock::tripwire::Recorded>,
    options: &Options,
    clean: Clean,
) -> Result<Vec<tflock::tripwire::DigestCheck>> {
    use tflock::status::{Phase, phase_of, region_of};
    use tflock::tripwire::{DigestCheck, Verdict, advice, judge};
    let options = Options {
        read_digests: true,
        skip_probe: true,
        ..options.clone()
    };
    let mut known: std::collections::BTreeSet<(String, String)> = Default::default();
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
        let base = target_for(&b.backend, &b.path, &repo.units, false);
        let region = region_of(&base.client);
        for (_, table) in tables.iter().filter(|(r, _)| *r == region) {
            let mut t = base.clone();
            t.table = Some(table.clone());
            targets.push(t);
            labels.push((format!("{}:{}", b.path, b.backend.line), region.clone()));
        }
    }
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    let counter = std::sync::Arc::new(RequestCounter::default());
    let runtime = tokio_runtime()?;
    let found = runtime.block_on(tflock::verify::verify(&targets, &options, counter.clone()));
    let mut seen = std::collections::BTreeSet::new();
    let mut candidates = Vec::new();
    for ((t, locks), (backend, region)) in targets.iter().zip(&found).zip(&labels) {
        let (Some(bucket), Some(table)) = (&t.bucket, &t.table) else {
            continue;
        };
        for s in &locks.states {
            let Some(digest) = &s.digest_value else {
                continue;
            };
            let digest_item = format!("{bucket}/{}-md5", s.state_key);
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
    let md5s = runtime.block_on(tflock::remote::state_md5s(
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
    ));
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
        let cleaned = if !clean.enabled || verdict != Verdict::StaleDigest {
            None
        } else if let Some(why) = &blocked {
            Some(format!("not cleaned: {why}"))
        } else if clean.dry_run {
            Some("would delete (dry run)".to_string())
        } else {
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
        let outcomes = runtime.block_on(tflock::remote::delete_digests(
            &deletions, &options, counter,
        ));
        for ((i, _), (_, outcome)) in to_delete.iter().zip(outcomes) {
            checks[*i].cleaned = Some(match outcome {
                DeletionOutcome::Deleted => "deleted".to_string(),
                DeletionOutcome::Changed => {
                    "changed since read: left (a client wrote it meanwhile)".to_string()
                }
                DeletionOutcome::Failed { reason } => format!("failed: {reason}"),
            });
        }
    }
    Ok(checks)
}

fn lock_word(status: &tflock::verify::LockStatus) -> String {
    match status {
        tflock::verify::LockStatus::Free => "free".into(),
        tflock::verify::LockStatus::Held { lock } => format!("held by {}", lock.who),
        tflock::verify::LockStatus::Unverified { reason } => format!("unverified ({reason})"),
    }
}
