//! `tflock apply`: the run lock, a fresh or saved plan (checked against the
//! files as they are), the lock checks, the confirmation, the write (under
//! tflock's own state locks with `--hold-locks`) and the digest deletion.
//! Writes user files only through `apply`.

use super::{Aws, Error, Exit, Io, Scope, Session, plural, print_problems, scan};
use crate::apply::ApplyError;
use crate::model::{FilePlan, RepoPlan};
use crate::plan::{Action, Strategy};
use crate::planfile::SavedPlan;
use crate::remote::LockRequest;
use crate::report::Style;
use crate::rollback::RollbackPlan;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Config {
    pub scope: Scope,
    pub planning: crate::preflight::Options,
    /// `--plan`: apply this saved plan instead of planning anew.
    pub saved_plan: Option<PathBuf>,
    pub auto_approve: bool,
    pub skip_lock_check: bool,
    pub rollback_file: Option<PathBuf>,
    pub hold_locks: bool,
    pub keep_digests: bool,
    /// Also rewrite read-only files.
    pub force: bool,
    pub aws: Aws,
}

pub fn run(config: &Config, cwd: &Path, io: &mut dyn Io, session: &Session) -> Result<Exit, Error> {
    let style = io.style();
    let _run = one_run_at_a_time(
        &anchor(config.scope.first_named.as_deref(), cwd),
        "tflock apply",
    )?;
    let (mut repo, strategy) = match &config.saved_plan {
        Some(planfile) => planned_repo(planfile, cwd)?,
        None => {
            let mut repo = scan(io, &config.scope, cwd, config.planning.strategy);
            crate::preflight::run(&mut repo, cwd, &config.planning);
            (repo, config.planning.strategy)
        }
    };
    print_problems(io, &repo);
    let checked = if config.skip_lock_check {
        io.err(&style.yellow(
            "Warning: --skip-lock-check: tflock will NOT verify that no Terraform run holds \
             these states' locks.",
        ));
        super::plan::Checked::offline("Lock checks: skipped (--skip-lock-check).")
    } else {
        super::plan::check_locks_showing(io, &mut repo, config.aws, session, true)?
    };
    let failed = Exit::failed_if(!repo.problems.is_empty() || repo.blocked() > 0);
    io.out(&crate::report::text::render(&repo, style, &checked.note))?;
    let changed: Vec<&FilePlan> = repo.changed_files().collect();
    if changed.is_empty() {
        io.out("\nNo changes. Nothing to apply.\n")?;
        return Ok(failed);
    }
    refuse_read_only(&changed, config.force)?;
    if !config.auto_approve && !io.confirm("Do you want to perform these actions?")? {
        io.out("\nApply cancelled.\n")?;
        return Ok(Exit::Failed);
    }
    let rollback_path = rollback_path(config.rollback_file.as_deref())?;
    let rollback_plan = RollbackPlan::new(&repo, &changed, cwd, strategy.as_str());
    let mut recorded = rollback_plan.clone();
    if config.hold_locks {
        let held = write_holding_locks(
            &repo,
            &changed,
            rollback_plan,
            &rollback_path,
            config.aws,
            session,
        )?;
        if let Some(line) = held.released() {
            io.out(&line)?;
        }
        for e in &held.release_errors {
            io.err(&style.red(&format!("could not release a lock tflock took: {e}")));
        }
        held.finish()?;
    } else {
        crate::apply::apply(&changed, &rollback_plan, &rollback_path)?;
    }
    if strategy == Strategy::Replace && !config.keep_digests {
        let deleted = super::digests::delete_after_apply(
            &repo,
            &mut recorded,
            &rollback_path,
            config.aws,
            session,
        )?;
        for warning in &deleted.warnings {
            io.err(&style.yellow(warning));
        }
        if let Some(summary) = &deleted.summary {
            io.out(summary)?;
        }
        deleted.recorded?;
    }
    let steps = crate::next_steps::next_steps(&repo, &checked.versioning);
    let next = crate::next_steps::render_text(&steps);
    io.out(&applied(changed.len(), &rollback_path, &next, style))?;
    Ok(failed)
}

/// Where the run lock lives: the repository of the first path named; outside
/// git, the tree below the current directory (where the rollback file's paths
/// start, too).
pub fn anchor(first_path: Option<&Path>, cwd: &Path) -> PathBuf {
    match first_path {
        Some(p) if p.as_os_str() != "-" && crate::git::git_dir(&cwd.join(p)).is_some() => {
            cwd.join(p)
        }
        _ => cwd.to_path_buf(),
    }
}

/// The repository's run lock, held by `apply` and `rollback` for their whole run.
pub fn one_run_at_a_time(anchor: &Path, command: &str) -> Result<crate::runlock::RunLock, Error> {
    let path = crate::runlock::lock_path(anchor);
    Ok(crate::runlock::RunLock::acquire(
        &path,
        command,
        crate::runlock::DEFAULT_WAIT,
    )?)
}

/// A saved plan, checked against the files as they are now and re-derived from
/// them, so its backends can be verified like those of a fresh scan.
pub fn planned_repo(planfile: &Path, cwd: &Path) -> Result<(RepoPlan, Strategy), Error> {
    let saved = SavedPlan::load(planfile)?;
    let files = saved
        .resolve(cwd)
        .map_err(|errors| Error::PlanStale(errors.iter().map(|e| e.to_string()).collect()))?;
    if files.is_empty() {
        let repo = RepoPlan {
            strategy: Some(saved.strategy),
            ..RepoPlan::default()
        };
        return Ok((repo, saved.strategy));
    }
    // The planned files' folders are scanned again (their version constraints
    // live beside them), but only the planned files may change.
    let planned: BTreeSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
    let roots: BTreeSet<PathBuf> = files
        .iter()
        .map(|f| match f.fs_path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        })
        .collect();
    let mut repo = crate::scan(&roots.into_iter().collect::<Vec<_>>(), cwd, saved.strategy);
    repo.backends.retain(|b| planned.contains(b.path.as_str()));
    repo.files.retain(|f| planned.contains(f.path.as_str()));
    repo.problems.retain(|p| planned.contains(p.path.as_str()));
    let options = crate::preflight::Options {
        strategy: saved.strategy,
        bump_required_version: saved.bump_required_version,
        modernize: saved.modernize,
    };
    crate::preflight::run(&mut repo, cwd, &options);
    let same = files.len() == repo.changed_files().count()
        && files
            .iter()
            .zip(repo.changed_files())
            .all(|(a, b)| a.path == b.path && a.new_text == b.new_text);
    if !same {
        return Err(Error::PlanMismatch(planfile.to_path_buf()));
    }
    Ok((repo, saved.strategy))
}

/// Read-only files are rewritten only with `--force`.
pub fn refuse_read_only(changed: &[&FilePlan], force: bool) -> Result<(), Error> {
    let read_only = crate::apply::read_only(changed);
    if read_only.is_empty() || force {
        Ok(())
    } else {
        Err(Error::ReadOnly(read_only))
    }
}

/// The rollback file to write: the one asked for, which must not exist, or
/// `tflock-rollback-<UTC time>.json`, numbered when one from the same second exists.
pub fn rollback_path(asked: Option<&Path>) -> Result<PathBuf, Error> {
    match asked {
        Some(path) if path.exists() => Err(Error::RollbackFileExists(path.to_path_buf())),
        Some(path) => Ok(path.to_path_buf()),
        None => {
            let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
                .to_string()
                .replace(['-', ':'], "");
            Ok(free_path(&stamp))
        }
    }
}

fn free_path(stamp: &str) -> PathBuf {
    let mut path = PathBuf::from(format!("tflock-rollback-{stamp}.json"));
    let mut n = 2;
    while path.exists() {
        path = PathBuf::from(format!("tflock-rollback-{stamp}-{n}.json"));
        n += 1;
    }
    path
}

/// The locks `--hold-locks` takes: every checked state of every migrating
/// backend, in the bucket of its own unit's target, each state once.
pub fn lock_requests(repo: &RepoPlan) -> Vec<LockRequest> {
    let mut seen = BTreeSet::new();
    repo.backends
        .iter()
        .filter(|b| b.action == Action::Migrate)
        .flat_map(|b| {
            b.resolution.targets.iter().flat_map(move |target| {
                b.locks
                    .iter()
                    .flat_map(|l| l.states.iter())
                    .filter(move |s| s.unit == target.unit)
                    .filter_map(move |s| {
                        Some(LockRequest {
                            client: target.client.clone(),
                            bucket: target.bucket.clone()?,
                            table: target.table.clone(),
                            state_key: s.state_key.clone(),
                        })
                    })
            })
        })
        // Two configurations can name the same state: lock it once.
        .filter(|r| seen.insert((r.bucket.clone(), r.table.clone(), r.state_key.clone())))
        .collect()
}

/// A write made while tflock held the states' locks.
#[derive(Debug)]
pub struct HeldWrite {
    /// How many state locks were held.
    pub locks: usize,
    /// Locks that could not be released (named, for the user to remove).
    pub release_errors: Vec<String>,
    pub interrupted: bool,
    pub written: Result<(), ApplyError>,
}

impl HeldWrite {
    /// The line to print when every lock was released.
    pub fn released(&self) -> Option<String> {
        self.release_errors.is_empty().then(|| {
            format!(
                "Held {} state lock(s) while writing; released.\n",
                self.locks
            )
        })
    }

    /// A lock left held, or a Ctrl-C, fails the run even when the write succeeded.
    pub fn finish(self) -> Result<(), Error> {
        if !self.release_errors.is_empty() {
            return Err(Error::LocksStillHeld);
        }
        if self.interrupted {
            return Err(Error::Interrupted);
        }
        Ok(self.written?)
    }
}

/// `apply --hold-locks`: the write runs while tflock holds every affected state's
/// locks; a contested lock means nothing is written.
pub fn write_holding_locks(
    repo: &RepoPlan,
    changed: &[&FilePlan],
    rollback_plan: RollbackPlan,
    rollback_path: &Path,
    aws: Aws,
    session: &Session,
) -> Result<HeldWrite, Error> {
    let requests = lock_requests(repo);
    let files: Vec<FilePlan> = changed.iter().map(|f| (*f).clone()).collect();
    let rollback_path = rollback_path.to_path_buf();
    let write = move || {
        let refs: Vec<&FilePlan> = files.iter().collect();
        crate::apply::apply(&refs, &rollback_plan, &rollback_path)
    };
    let held = session
        .block_on(crate::remote::with_locks(
            &requests,
            &aws.options(),
            session.counter(),
            write,
        ))?
        .map_err(Error::TakeLocks)?;
    Ok(HeldWrite {
        locks: requests.len(),
        release_errors: held.release_errors,
        interrupted: held.interrupted,
        written: held.result,
    })
}

/// The closing lines of a finished apply.
fn applied(changed: usize, rollback_path: &Path, next_steps: &str, style: Style) -> String {
    let shown = rollback_path.display();
    format!(
        "\n{} {changed} {} changed.\nRollback file: {shown} and {shown}.md (restore with \
         `tflock rollback {shown}`)\n\n{next_steps}",
        style.green(&style.bold("Apply complete!")),
        plural(changed, "file", "files"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::{Candidate, FileKind};
    use crate::model::locks::{BackendLocks, Digest, LockStatus, StateLocks};
    use crate::scan::{FileOutcome, plan_bytes};

    fn repo(files: &[(&str, &str)]) -> RepoPlan {
        let mut repo = RepoPlan::default();
        for (path, text) in files {
            let candidate = Candidate {
                path: PathBuf::from(path),
                display: path.to_string(),
                kind: FileKind::of(Path::new(path)).unwrap(),
            };
            if let Some(FileOutcome::Planned(file, backends)) =
                plan_bytes(candidate, text.as_bytes().to_vec(), Strategy::Replace)
            {
                repo.files.push(file);
                repo.backends.extend(backends);
            }
        }
        repo
    }

    fn state(key: &str) -> StateLocks {
        StateLocks {
            workspace: "default".into(),
            state_key: key.into(),
            bucket: None,
            region: None,
            unit: None,
            table: Some("locks".into()),
            dynamodb: LockStatus::Free,
            lockfile: LockStatus::Free,
            digest: Digest::Absent,
            digest_value: None,
            state_exists: Some(true),
        }
    }

    const BACKEND: &str = "terraform {\n  backend \"s3\" {\n    bucket         = \"tfstate\"\n    key            = \"app.tfstate\"\n    region         = \"eu-west-1\"\n    dynamodb_table = \"locks\"\n  }\n}\n";

    #[test]
    fn hold_locks_takes_each_checked_state_once() {
        let mut repo = repo(&[("a/main.tf", BACKEND), ("b/main.tf", BACKEND)]);
        let target: crate::verify::Target = serde_json::from_str(
            r#"{"bucket":"tfstate","keys":[[null,"app.tfstate"]],"unknown_key_prefix":null,
               "workspace_key_prefix":"env:","table":"locks","client":{},"probe":true,"dir":"a"}"#,
        )
        .unwrap();
        for b in &mut repo.backends {
            b.resolution.targets = vec![target.clone()];
        }
        assert!(
            lock_requests(&repo).is_empty(),
            "no state checked, none locked"
        );
        let locks = BackendLocks {
            states: vec![state("app.tfstate")],
            ..BackendLocks::default()
        };
        crate::plan::record_locks(&mut repo, vec![(0, locks.clone()), (1, locks)]);
        let requests = lock_requests(&repo);
        assert_eq!(requests.len(), 1, "{requests:?}");
        assert_eq!(requests[0].bucket, "tfstate");
        assert_eq!(requests[0].table.as_deref(), Some("locks"));
        assert_eq!(requests[0].state_key, "app.tfstate");
    }

    #[test]
    fn a_named_rollback_file_must_be_new() {
        let dir = std::env::temp_dir().join(format!("tflock-rollback-path-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let taken = dir.join("taken.json");
        std::fs::write(&taken, "{}").unwrap();
        assert!(matches!(
            rollback_path(Some(&taken)),
            Err(Error::RollbackFileExists(_))
        ));
        let fresh = dir.join("fresh.json");
        assert_eq!(rollback_path(Some(&fresh)).unwrap(), fresh);
        let default = rollback_path(None).unwrap().display().to_string();
        assert!(
            default.starts_with("tflock-rollback-") && default.ends_with("Z.json"),
            "{default}"
        );
    }

    #[test]
    fn a_lock_left_held_fails_even_a_good_write() {
        let held = |errors: Vec<String>, interrupted| HeldWrite {
            locks: 2,
            release_errors: errors,
            interrupted,
            written: Ok(()),
        };
        assert_eq!(
            held(vec![], false).released().as_deref(),
            Some("Held 2 state lock(s) while writing; released.\n")
        );
        assert!(held(vec![], false).finish().is_ok());
        assert!(matches!(
            held(vec![], true).finish(),
            Err(Error::Interrupted)
        ));
        let stuck = held(vec!["lock x".into()], true);
        assert_eq!(stuck.released(), None);
        assert!(matches!(stuck.finish(), Err(Error::LocksStillHeld)));
    }

    #[test]
    fn a_path_outside_git_anchors_at_the_current_directory() {
        let cwd = std::env::temp_dir();
        assert_eq!(anchor(Some(Path::new("-")), &cwd), cwd);
        assert_eq!(anchor(None, &cwd), cwd);
    }
}
