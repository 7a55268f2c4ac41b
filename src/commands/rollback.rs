//! `tflock rollback`: which files may be restored, the lock and table checks
//! that refuse a digest repair, the review and confirmation, then the restore
//! and the repairs. Writes files only through `rollback::restore`.

use super::{Aws, Error, Exit, Io, Session, plural};
use crate::model::locks::{BackendLocks, LockStatus};
use crate::remote::DigestRepair;
use crate::report::Style;
use crate::rollback::{FileState, RestoreStep, RollbackBackend, RollbackPlan};
use crate::verify::Target;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Config {
    /// The rollback file an apply wrote.
    pub file: PathBuf,
    pub auto_approve: bool,
    /// Restore files that changed since the apply too.
    pub force: bool,
    pub dry_run: bool,
    /// Leave the digest items as they are.
    pub files_only: bool,
    pub skip_lock_check: bool,
    pub aws: Aws,
}

pub fn run(config: &Config, io: &mut dyn Io, session: &Session) -> Result<Exit, Error> {
    let style = io.style();
    let plan = RollbackPlan::load(&config.file)?;
    // A dry run writes nothing, so it need not wait for a run that does.
    let _run = match config.dry_run {
        true => None,
        false => Some(super::apply::one_run_at_a_time(
            &plan.root,
            "tflock rollback",
        )?),
    };
    let steps = crate::rollback::inspect(&plan);
    let (notes, verdict) = triage(&steps, config.force);
    for note in notes {
        match note {
            Note::Skipped(line) => io.out(&line)?,
            Note::Forced(line) => io.err(&line),
        }
    }
    verdict?;
    let repairs = if config.files_only || plan.backends.is_empty() {
        Vec::new()
    } else {
        let checked = check_locks(&plan, config.aws, config.skip_lock_check, session)?;
        if !checked.overridden.is_empty() {
            io.err(&style.yellow("Warning: --skip-lock-check: repairing digests despite:"));
            for blocker in &checked.overridden {
                io.err(&format!("  {blocker}"));
            }
        }
        plan_repairs(&plan, &checked, config.aws, session)?
    };
    let to_restore: Vec<&RestoreStep> = steps
        .iter()
        .filter(|s| s.state != FileState::AlreadyRestored)
        .collect();
    for step in &to_restore {
        let current = String::from_utf8_lossy(step.current.as_deref().unwrap_or_default());
        let diff = crate::report::display_diff(&step.file.path, &current, &step.file.original);
        io.out(&style.diff(&diff))?;
    }
    for r in &repairs {
        io.out(&describe(r))?;
    }
    if to_restore.is_empty() && repairs.is_empty() {
        io.out(nothing_to_do(config.files_only))?;
        return Ok(Exit::Ok);
    }
    if config.dry_run {
        io.out(&dry_run_summary(to_restore.len(), repairs.len()))?;
        return Ok(Exit::Ok);
    }
    if !config.auto_approve && !io.confirm("Do you want to restore these files and digests?")? {
        io.out("\nRollback cancelled.\n")?;
        return Ok(Exit::Failed);
    }
    let restored = crate::rollback::restore(&steps, config.force, &plan.root)?;
    let repaired = repair(&repairs, config.aws, session)?;
    io.out(&done(restored, repaired, style))?;
    Ok(Exit::Ok)
}

/// A line about one file before anything is restored.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Note {
    /// For stdout: nothing to do for this file.
    Skipped(String),
    /// For stderr: restored despite a change, because of `--force`.
    Forced(String),
}

/// The notes on each file, then whether the rollback may go on: a file changed
/// since the apply (or gone) is restored only with `force`; a path that escapes
/// the root never is.
fn triage(steps: &[RestoreStep], force: bool) -> (Vec<Note>, Result<(), Error>) {
    let mut notes = Vec::new();
    let mut refused = Vec::new();
    for step in steps {
        let path = &step.file.path;
        match &step.state {
            FileState::AsApplied => {}
            FileState::AlreadyRestored => notes.push(Note::Skipped(format!(
                "{path}: already holds its original bytes\n"
            ))),
            FileState::ChangedSince if !force => {
                refused.push(format!("{path}: changed since the apply"))
            }
            FileState::Missing(why) if !force => refused.push(format!("{path}: {why}")),
            FileState::ChangedSince => notes.push(Note::Forced(format!(
                "{path}: changed since the apply; restoring anyway (--force)"
            ))),
            FileState::Missing(why) => notes.push(Note::Forced(format!(
                "{path}: {why}; restoring anyway (--force)"
            ))),
            FileState::Refused(why) => return (notes, Err(Error::RestoreRefused(why.clone()))),
        }
    }
    let verdict = if refused.is_empty() {
        Ok(())
    } else {
        Err(Error::FilesChanged(refused))
    };
    (notes, verdict)
}

/// The rolled-back states' locks, read before any digest is repaired.
#[derive(Debug)]
struct LockCheck {
    /// Held or unverified locks that `--skip-lock-check` overrode.
    pub overridden: Vec<String>,
    pairs: Vec<(Target, BackendLocks)>,
}

/// Checks that no lock is held on the rolled-back states (unless told not to).
fn check_locks(
    plan: &RollbackPlan,
    aws: Aws,
    skip_lock_check: bool,
    session: &Session,
) -> Result<LockCheck, Error> {
    let options = crate::verify::Options {
        skip_probe: true,
        ..aws.options()
    };
    let targets: Vec<Target> = plan.backends.iter().map(|b| b.target.clone()).collect();
    let found = session.block_on(crate::verify::verify(&targets, &options, session.counter()))?;
    let overridden = refusal(&plan.backends, &found, skip_lock_check)?;
    Ok(LockCheck {
        overridden,
        pairs: targets.into_iter().zip(found).collect(),
    })
}

/// A table that cannot be read refuses the repair whatever `--skip-lock-check`
/// says; a held or unverified lock refuses it unless `skip` (then it is returned).
fn refusal(
    backends: &[RollbackBackend],
    found: &[BackendLocks],
    skip: bool,
) -> Result<Vec<String>, Error> {
    let mut blocked = Vec::new();
    let mut unreadable = Vec::new();
    for (b, locks) in backends.iter().zip(found) {
        for blocker in &locks.blockers {
            blocked.push(format!("{}:{}: {blocker}", b.file, b.line));
        }
        for state in &locks.states {
            if let LockStatus::Unverified { reason } = &state.dynamodb {
                unreadable.push(format!(
                    "{}:{}: {}: {reason}",
                    b.file, b.line, state.state_key
                ));
            }
        }
    }
    if !unreadable.is_empty() {
        return Err(Error::TableUnreadable(unreadable));
    }
    if !blocked.is_empty() && !skip {
        return Err(Error::LockHeld(blocked));
    }
    Ok(blocked)
}

/// Reads each state and lists the digest items that no longer match it, and
/// the items apply deleted (written back from the states as they are).
fn plan_repairs(
    plan: &RollbackPlan,
    checked: &LockCheck,
    aws: Aws,
    session: &Session,
) -> Result<Vec<DigestRepair>, Error> {
    let options = crate::verify::Options {
        skip_probe: true,
        ..aws.options()
    };
    let mut repairs = session
        .block_on(crate::remote::plan_digest_repairs(
            &checked.pairs,
            &options,
            session.counter(),
        ))?
        .map_err(Error::DigestPlan)?;
    repairs.extend(
        session
            .block_on(crate::remote::plan_digest_restores(
                &checked.pairs,
                &plan.deleted_digests(),
                &options,
                session.counter(),
            ))?
            .map_err(Error::DigestPlan)?,
    );
    Ok(repairs)
}

/// Writes the repairs (after the files were restored).
fn repair(repairs: &[DigestRepair], aws: Aws, session: &Session) -> Result<usize, Error> {
    if repairs.is_empty() {
        return Ok(0);
    }
    session
        .block_on(crate::remote::apply_digest_repairs(
            repairs,
            &aws.options(),
            session.counter(),
        ))?
        .map_err(Error::DigestRepair)
}

/// One repair as the user reviews it.
fn describe(r: &DigestRepair) -> String {
    let change = match &r.desired {
        Some(md5) => format!(
            "{} -> {md5}",
            r.current
                .as_deref()
                .unwrap_or("none (deleted at migration)")
        ),
        None => format!(
            "{} -> deleted (the state object is gone)",
            r.current.as_deref().unwrap_or("none")
        ),
    };
    format!("digest {} in table {}: {change}\n", r.digest_id, r.table)
}

/// Nothing to restore or repair; only claims what was checked (`--files-only`
/// reads no digest).
fn nothing_to_do(files_only: bool) -> &'static str {
    if files_only {
        "No changes. Every file holds its original bytes (digests were not checked: --files-only).\n"
    } else {
        "No changes. Every file holds its original bytes and every digest matches its state.\n"
    }
}

fn dry_run_summary(files: usize, repairs: usize) -> String {
    format!(
        "\nRollback would restore {files} file(s) and repair {repairs} digest item(s) (dry run; \
         nothing written).\n"
    )
}

fn done(restored: usize, repaired: usize, style: Style) -> String {
    format!(
        "\n{} {restored} {} restored, {repaired} digest {} repaired.\n",
        style.green(&style.bold("Rollback complete!")),
        plural(restored, "file", "files"),
        plural(repaired, "item", "items"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::locks::{Digest, StateLocks};

    fn backend() -> RollbackBackend {
        RollbackBackend {
            file: "live/backend.tf".into(),
            line: 3,
            target: serde_json::from_str(
                r#"{"bucket":"b","keys":[],"unknown_key_prefix":null,"workspace_key_prefix":"env:",
                   "table":"locks","client":{},"probe":false,"dir":"live"}"#,
            )
            .unwrap(),
            states: Vec::new(),
        }
    }

    fn locks(blockers: &[&str], dynamodb: LockStatus) -> BackendLocks {
        BackendLocks {
            blockers: blockers.iter().map(|b| b.to_string()).collect(),
            states: vec![StateLocks {
                workspace: "default".into(),
                state_key: "app.tfstate".into(),
                bucket: None,
                region: None,
                unit: None,
                table: Some("locks".into()),
                dynamodb,
                lockfile: LockStatus::Free,
                digest: Digest::Present,
                digest_value: Some("aa".into()),
                state_exists: Some(true),
            }],
            ..BackendLocks::default()
        }
    }

    #[test]
    fn a_held_lock_refuses_unless_skipped() {
        let found = [locks(&["lock held by bob"], LockStatus::Free)];
        let err = refusal(&[backend()], &found, false).unwrap_err();
        assert!(
            matches!(&err, Error::LockHeld(l) if l == &["live/backend.tf:3: lock held by bob"])
        );
        assert_eq!(
            refusal(&[backend()], &found, true).unwrap(),
            ["live/backend.tf:3: lock held by bob"]
        );
        assert!(
            refusal(&[backend()], &[locks(&[], LockStatus::Free)], false)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn an_unreadable_table_refuses_even_when_skipped() {
        let unverified = LockStatus::Unverified {
            reason: "AccessDenied".into(),
        };
        let err = refusal(&[backend()], &[locks(&["x"], unverified)], true).unwrap_err();
        assert!(
            matches!(&err, Error::TableUnreadable(l) if l == &["live/backend.tf:3: app.tfstate: AccessDenied"])
        );
    }

    #[test]
    fn repairs_read_as_before_and_after() {
        let repair = |current: Option<&str>, desired: Option<&str>| DigestRepair {
            client: Default::default(),
            table: "locks".into(),
            state_key: "app.tfstate".into(),
            digest_id: "b/app.tfstate-md5".into(),
            current: current.map(String::from),
            desired: desired.map(String::from),
        };
        assert_eq!(
            describe(&repair(None, Some("aa"))),
            "digest b/app.tfstate-md5 in table locks: none (deleted at migration) -> aa\n"
        );
        assert_eq!(
            describe(&repair(Some("bb"), None)),
            "digest b/app.tfstate-md5 in table locks: bb -> deleted (the state object is gone)\n"
        );
    }

    #[test]
    fn the_summaries_count_in_words() {
        let plain = Style { color: false };
        assert_eq!(
            done(1, 0, plain),
            "\nRollback complete! 1 file restored, 0 digest items repaired.\n"
        );
        assert!(nothing_to_do(true).contains("--files-only"));
        assert!(dry_run_summary(2, 1).contains("restore 2 file(s) and repair 1 digest item(s)"));
    }
}
