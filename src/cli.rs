//! Command-line flags and the wiring of each command to the library.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use tflock::apply::{self, ApplyError};
use tflock::plan::Strategy;
use tflock::planfile::SavedPlan;
use tflock::report::{self, Style};
use tflock::rollback::{self, FileState, RollbackPlan};
use tflock::{FilePlan, RepoPlan};

/// Move Terraform / OpenTofu / Terragrunt S3 backends from DynamoDB locking to S3 lockfiles.
#[derive(Debug, Parser)]
#[command(name = "tflock", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Never colour output (also when NO_COLOR is set, or output is not a terminal).
    #[arg(long, global = true)]
    pub no_color: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the changes a migration would make, without writing anything.
    Plan(PlanArgs),
    /// Make the planned changes, after confirmation, and write a rollback file.
    Apply(ApplyArgs),
    /// Restore the files an apply changed, from its rollback file.
    Rollback(RollbackArgs),
    /// Show every state of every S3 backend and its DynamoDB and S3 locks.
    Locks(LocksArgs),
}

/// How lock checks talk to AWS.
#[derive(Debug, Clone, clap::Args)]
pub struct AwsArgs {
    /// Give up on an AWS call after this many seconds (the state then counts as locked).
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub aws_timeout: u64,
    /// Do not probe buckets for conditional-write support before migrating.
    #[arg(long)]
    pub skip_probe: bool,
}

#[derive(Debug, clap::Args)]
pub struct LocksArgs {
    /// Files or directories to scan (default: the current directory).
    pub paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Give up on an AWS call after this many seconds (the state then counts as locked).
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub aws_timeout: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// Files or directories to scan (default: the current directory).
    pub paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "replace")]
    pub strategy: Strategy,
    /// Plan without checking locks in AWS (locks are reported as "not checked").
    #[arg(long)]
    pub offline: bool,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Save the plan for a later `tflock apply --plan FILE`.
    #[arg(long, value_name = "PLANFILE")]
    pub out: Option<PathBuf>,
    /// Write the changes as a patch that `git apply` accepts.
    #[arg(long, value_name = "FILE")]
    pub patch: Option<PathBuf>,
    /// Exit 2 when changes are planned (0: none, 1: error).
    #[arg(long)]
    pub detailed_exitcode: bool,
    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    /// Files or directories to scan (default: the current directory).
    pub paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "replace")]
    pub strategy: Strategy,
    /// Apply a plan saved with `tflock plan --out`, instead of planning anew.
    #[arg(long, value_name = "PLANFILE", conflicts_with_all = ["paths", "strategy"])]
    pub plan: Option<PathBuf>,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    /// Write without verifying that no Terraform run holds the states' locks.
    #[arg(long)]
    pub skip_lock_check: bool,
    /// Where to write the rollback plan (default: tflock-rollback-<UTC time>.json).
    #[arg(long, value_name = "FILE")]
    pub rollback_file: Option<PathBuf>,
    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(Debug, clap::Args)]
pub struct RollbackArgs {
    /// The rollback file an apply wrote.
    pub file: PathBuf,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub auto_approve: bool,
    /// Restore files that changed since the apply too.
    #[arg(long)]
    pub force: bool,
    /// Show what would be restored, without writing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Exit codes, as `terraform plan -detailed-exitcode` uses them.
pub const EXIT_OK: u8 = 0;
pub const EXIT_ERROR: u8 = 1;
pub const EXIT_CHANGES: u8 = 2;

pub fn run(cli: Cli) -> Result<u8> {
    let style = Style {
        color: !cli.no_color
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            && std::io::stdout().is_terminal(),
    };
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    match cli.command {
        Command::Plan(args) => plan(args, &cwd, style),
        Command::Apply(args) => apply(args, &cwd, style),
        Command::Rollback(args) => rollback(args, &cwd, style),
        Command::Locks(args) => locks(args, &cwd, style),
    }
}

fn roots(paths: &[PathBuf]) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        paths.to_vec()
    }
}

fn missing_roots(paths: &[PathBuf]) -> Result<()> {
    for p in paths {
        if std::fs::symlink_metadata(p).is_err() {
            bail!("{}: no such file or directory", p.display());
        }
    }
    Ok(())
}

fn plan(args: PlanArgs, cwd: &Path, style: Style) -> Result<u8> {
    let roots = roots(&args.paths);
    missing_roots(&roots)?;
    let mut repo = tflock::scan(&roots, cwd, args.strategy);
    print_problems(&repo);
    let (lock_note, lock_checks) = if args.offline {
        (
            "Lock checks: not checked (--offline).".to_string(),
            "not checked",
        )
    } else {
        (check_locks(&mut repo, &args.aws)?, "checked")
    };
    match args.format {
        Format::Text => print(&report::text::render(&repo, style, &lock_note))?,
        Format::Json => print(&report::json::render(&repo, lock_checks))?,
    }
    let changed: Vec<&FilePlan> = repo.changed_files().collect();
    if let Some(out) = &args.out {
        let saved = SavedPlan::from_files(args.strategy, &changed);
        apply::write_private(out, saved.to_json().as_bytes())
            .with_context(|| format!("{}: cannot write plan file", out.display()))?;
    }
    if let Some(patch) = &args.patch {
        let diffs: Vec<(String, String, String)> = changed
            .iter()
            .map(|f| (f.path.clone(), f.original.clone(), f.new_text.clone()))
            .collect();
        apply::write_atomic(patch, report::patch(&diffs).as_bytes())
            .with_context(|| format!("{}: cannot write patch", patch.display()))?;
    }
    Ok(if !repo.problems.is_empty() || repo.blocked() > 0 {
        EXIT_ERROR
    } else if args.detailed_exitcode && !changed.is_empty() {
        EXIT_CHANGES
    } else {
        EXIT_OK
    })
}

fn apply(args: ApplyArgs, cwd: &Path, style: Style) -> Result<u8> {
    let (mut repo, strategy) = match &args.plan {
        Some(planfile) => (
            planned_repo(planfile, cwd)?,
            SavedPlan::load(planfile)?.strategy,
        ),
        None => {
            let roots = roots(&args.paths);
            missing_roots(&roots)?;
            (tflock::scan(&roots, cwd, args.strategy), args.strategy)
        }
    };
    print_problems(&repo);
    let lock_note = if args.skip_lock_check {
        eprintln!(
            "{}",
            style.yellow(
                "Warning: --skip-lock-check: tflock will NOT verify that no Terraform run holds \
                 these states' locks."
            )
        );
        "Lock checks: skipped (--skip-lock-check).".to_string()
    } else {
        check_locks(&mut repo, &args.aws)?
    };
    let failed = if repo.problems.is_empty() && repo.blocked() == 0 {
        EXIT_OK
    } else {
        EXIT_ERROR
    };
    print(&report::text::render(&repo, style, &lock_note))?;
    let changed: Vec<&FilePlan> = repo.changed_files().collect();
    if changed.is_empty() {
        print("\nNo changes. Nothing to apply.\n")?;
        return Ok(failed);
    }
    if !args.auto_approve && !confirm("Do you want to perform these actions?")? {
        print("\nApply cancelled.\n")?;
        return Ok(EXIT_ERROR);
    }
    let rollback_path = match &args.rollback_file {
        Some(path) if path.exists() => bail!(
            "{}: rollback file exists; choose another --rollback-file (nothing was written)",
            path.display()
        ),
        Some(path) => path.clone(),
        None => default_rollback_path(),
    };
    let strategy_name = match strategy {
        Strategy::Replace => "replace",
        Strategy::Dual => "dual",
    };
    let rollback_plan = apply::rollback_plan(&changed, cwd, strategy_name);
    match apply::apply(&changed, &rollback_plan, &rollback_path) {
        Ok(()) => {}
        Err(e @ ApplyError::ChangedSincePlan(_)) => bail!("{e}"),
        Err(e) => return Err(e.into()),
    }
    let rollback_shown = rollback_path.display();
    let mut dirs: Vec<String> = changed
        .iter()
        .map(|f| match f.path.rsplit_once('/') {
            Some((dir, _)) => dir.to_string(),
            None => ".".to_string(),
        })
        .collect();
    dirs.dedup();
    print(&format!(
        "\n{} {} {} changed.\nRollback file: {rollback_shown} (restore with `tflock rollback {rollback_shown}`)\n\
         Next: run `terraform init -reconfigure` (or `terragrunt init -reconfigure`) in: {}\n",
        style.green(&style.bold("Apply complete!")),
        changed.len(),
        if changed.len() == 1 { "file" } else { "files" },
        dirs.join(", ")
    ))?;
    Ok(failed)
}

/// `tflock-rollback-<UTC time>.json`, numbered when one from the same second exists.
fn default_rollback_path() -> PathBuf {
    let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .replace(['-', ':'], "");
    let mut path = PathBuf::from(format!("tflock-rollback-{stamp}.json"));
    let mut n = 2;
    while path.exists() {
        path = PathBuf::from(format!("tflock-rollback-{stamp}-{n}.json"));
        n += 1;
    }
    path
}

/// A saved plan, checked against the files as they are now and re-derived from
/// them, so its backends can be verified like those of a fresh scan.
fn planned_repo(planfile: &Path, cwd: &Path) -> Result<RepoPlan> {
    let saved = SavedPlan::load(planfile)?;
    let files = saved.resolve(cwd).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        anyhow::anyhow!("{}\nnothing was written", lines.join("\n"))
    })?;
    let roots: Vec<PathBuf> = files.iter().map(|f| f.fs_path.clone()).collect();
    if roots.is_empty() {
        return Ok(RepoPlan {
            strategy: Some(saved.strategy),
            ..RepoPlan::default()
        });
    }
    let repo = tflock::scan(&roots, cwd, saved.strategy);
    let same = files.len() == repo.changed_files().count()
        && files
            .iter()
            .zip(repo.changed_files())
            .all(|(a, b)| a.path == b.path && a.new_text == b.new_text);
    if !same {
        bail!(
            "{}: the plan no longer matches what tflock plans for these files (was it made by \
             another version?); nothing was written",
            planfile.display()
        );
    }
    Ok(repo)
}

/// Runs the lock checks on the backends to migrate; returns the summary line.
fn check_locks(repo: &mut RepoPlan, aws: &AwsArgs) -> Result<String> {
    let options = tflock::verify::Options {
        timeout: std::time::Duration::from_secs(aws.aws_timeout.max(1)),
        skip_probe: aws.skip_probe,
        ..Default::default()
    };
    let counter = std::sync::Arc::new(tflock::verify::RequestCounter::default());
    let found = tokio_runtime()?.block_on(tflock::verify::verify_plan(
        repo,
        |b| b.action == tflock::plan::Action::Migrate,
        true,
        &options,
        counter.clone(),
    ));
    let states: usize = found.iter().map(|(_, l)| l.states.len()).sum();
    repo.record_locks(found);
    Ok(format!(
        "Lock checks: {states} {} checked, {} {} blocked ({} AWS requests).",
        if states == 1 { "state" } else { "states" },
        repo.blocked(),
        if repo.blocked() == 1 {
            "backend"
        } else {
            "backends"
        },
        counter.get()
    ))
}

fn tokio_runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn locks(args: LocksArgs, cwd: &Path, style: Style) -> Result<u8> {
    let roots = roots(&args.paths);
    missing_roots(&roots)?;
    let mut repo = tflock::scan(&roots, cwd, Strategy::Replace);
    print_problems(&repo);
    let options = tflock::verify::Options {
        timeout: std::time::Duration::from_secs(args.aws_timeout.max(1)),
        skip_probe: true,
        ..Default::default()
    };
    let counter = std::sync::Arc::new(tflock::verify::RequestCounter::default());
    // A partial `backend "s3" {}` names nothing to check; its .tfbackend does.
    let names_something = |b: &tflock::BackendPlan| {
        ["bucket", "dynamodb_table"]
            .iter()
            .any(|k| b.backend.value(k).is_some())
    };
    let found = tokio_runtime()?.block_on(tflock::verify::verify_plan(
        &repo,
        names_something,
        false,
        &options,
        counter.clone(),
    ));
    let any_unfree = found.iter().any(|(_, l)| l.blocked());
    repo.record_locks(found);
    match args.format {
        Format::Text => print(&report::locks::text(&repo, style, counter.get()))?,
        Format::Json => print(&report::locks::json(&repo, counter.get()))?,
    }
    Ok(if any_unfree || !repo.problems.is_empty() {
        EXIT_ERROR
    } else {
        EXIT_OK
    })
}

fn rollback(args: RollbackArgs, _cwd: &Path, style: Style) -> Result<u8> {
    let plan = RollbackPlan::load(&args.file)?;
    let steps = rollback::inspect(&plan);
    let mut refused = Vec::new();
    for step in &steps {
        let path = &step.file.path;
        match &step.state {
            FileState::AsApplied => {}
            FileState::AlreadyRestored => {
                print(&format!("{path}: already holds its original bytes\n"))?
            }
            FileState::ChangedSince if !args.force => {
                refused.push(format!("{path}: changed since the apply"))
            }
            FileState::Missing(why) if !args.force => refused.push(format!("{path}: {why}")),
            FileState::ChangedSince => {
                eprintln!("{path}: changed since the apply; restoring anyway (--force)")
            }
            FileState::Missing(why) => eprintln!("{path}: {why}; restoring anyway (--force)"),
        }
    }
    if !refused.is_empty() {
        bail!(
            "refusing to roll back (nothing was written):\n  {}\nRerun with --force to overwrite them with their original bytes.",
            refused.join("\n  ")
        );
    }
    let to_restore: Vec<&rollback::RestoreStep> = steps
        .iter()
        .filter(|s| s.state != FileState::AlreadyRestored)
        .collect();
    for step in &to_restore {
        let current = step
            .current
            .as_deref()
            .map(String::from_utf8_lossy)
            .unwrap_or_default();
        print(&style.diff(&report::display_diff(
            &step.file.path,
            &current,
            &step.file.original,
        )))?;
    }
    if to_restore.is_empty() {
        print("No changes. Every file already holds its original bytes.\n")?;
        return Ok(EXIT_OK);
    }
    if args.dry_run {
        print(&format!(
            "\nRollback would restore {} file(s) (dry run; nothing written).\n",
            to_restore.len()
        ))?;
        return Ok(EXIT_OK);
    }
    if !args.auto_approve && !confirm("Do you want to restore these files?")? {
        print("\nRollback cancelled.\n")?;
        return Ok(EXIT_ERROR);
    }
    let restored = rollback::restore(&steps, args.force)?;
    print(&format!(
        "\n{} {restored} {} restored.\n",
        style.green(&style.bold("Rollback complete!")),
        if restored == 1 { "file" } else { "files" }
    ))?;
    Ok(EXIT_OK)
}

fn print_problems(repo: &RepoPlan) {
    for problem in &repo.problems {
        eprintln!("{problem}");
    }
}

/// Writes to stdout; a closed pipe (`tflock plan | head`) ends the program quietly.
fn print(text: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        other => other.context("cannot write to standard output"),
    }
}

/// Asks like Terraform does; only "yes" approves. Refuses when nobody can answer.
fn confirm(question: &str) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!(
            "standard input is not a terminal, so tflock cannot ask for confirmation; \
             review the plan and rerun with --auto-approve"
        );
    }
    print(&format!(
        "\n{question}\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: "
    ))?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}
