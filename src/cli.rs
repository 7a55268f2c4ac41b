//! Command-line flags and the wiring of each command to the library.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use tflock::apply::{self, ApplyError};
use tflock::discover::Selection;
use tflock::next_steps;
use tflock::plan::Strategy;
use tflock::planfile::SavedPlan;
use tflock::remote::{DigestRepair, LockRequest};
use tflock::report::{self, Style};
use tflock::rollback::{self, FileState, RollbackPlan};
use tflock::{FilePlan, RepoPlan};

mod digests;

/// Move Terraform / OpenTofu / Terragrunt S3 backends from DynamoDB locking to S3 lockfiles.
#[derive(Debug, Parser)]
#[command(name = "tflock", version = env!("TFLOCK_VERSION"), about, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Never colour output (also when NO_COLOR is set, or output is not a terminal).
    #[arg(long, global = true)]
    pub no_color: bool,
    /// No progress bars (they only ever show on a terminal, on stderr).
    #[arg(long, short, global = true)]
    pub quiet: bool,
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
    /// Show each backend's phase and whether each DynamoDB lock table can be retired.
    Status(StatusArgs),
    /// Fail (exit 1) where DynamoDB locking is still configured: offline, for CI and hooks.
    Check(CheckArgs),
    /// Print a shell completion script (`source <(tflock completions bash)`).
    Completions { shell: clap_complete::Shell },
    /// Print the man page (roff; `tflock man | man -l -`).
    Man,
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    /// Output format (default: GitHub annotations when GITHUB_ACTIONS=true and
    /// stdout is not a terminal, else text).
    #[arg(long, value_enum)]
    pub format: Option<tflock::check::render::CheckFormat>,
    /// A file of backends kept on DynamoDB on purpose: `GLOB REASON` a line
    /// (repeatable); they are reported as allowed and do not fail the check.
    #[arg(long = "allow", value_name = "FILE")]
    pub allow_files: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Also consider the tables named in this rollback file (repeatable).
    #[arg(long = "rollback-file", value_name = "FILE")]
    pub rollback_files: Vec<PathBuf>,
    /// Delete the stale `-md5` digest items of lockfile-only states (whose locks
    /// are free), each on the value read; stragglers' digests are kept.
    #[arg(long)]
    pub clean_digests: bool,
    /// With --clean-digests: show what would be deleted, without deleting.
    #[arg(long, requires = "clean_digests")]
    pub dry_run: bool,
    /// Give up on an AWS call after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub aws_timeout: u64,
}

/// Which files a run covers.
#[derive(Debug, Clone, clap::Args)]
pub struct SelectArgs {
    /// Files or directories to scan (default: the current directory); `-` reads
    /// them from standard input, one per line (e.g. `git ls-files | tflock plan -`;
    /// git's quoted names are decoded) or NUL-separated (`git ls-files -z`).
    pub paths: Vec<PathBuf>,
    /// Only files whose path (relative to the current directory) matches this glob.
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<String>,
    /// Skip files and folders whose path matches this glob.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Descend at most this many folders below each path.
    #[arg(long, value_name = "N")]
    pub max_depth: Option<usize>,
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
    #[command(flatten)]
    pub select: SelectArgs,
    #[arg(long, value_enum, default_value = "text")]
    pub format: TableFormat,
    /// Give up on an AWS call after this many seconds (the state then counts as locked).
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub aws_timeout: u64,
}

/// Output of `locks` and `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TableFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    /// The pull-request report (plan), or the status for a change ticket.
    Markdown,
}

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub select: SelectArgs,
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
    /// Also write the pull-request report (Markdown); a report longer than one
    /// comment is written as FILE, FILE.2.md, FILE.3.md, ...
    #[arg(long, value_name = "FILE")]
    pub out_markdown: Option<PathBuf>,
    /// Exit 2 when changes are planned (0: none, 1: error).
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Raise `required_version` where it admits a Terraform without use_lockfile.
    #[arg(long)]
    pub bump_required_version: bool,
    /// Also rewrite backend attributes Terraform 1.10 removed or 1.11 deprecated.
    #[arg(long)]
    pub modernize: bool,
    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub select: SelectArgs,
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
    /// Raise `required_version` where it admits a Terraform without use_lockfile.
    #[arg(long, conflicts_with = "plan")]
    pub bump_required_version: bool,
    /// Also rewrite backend attributes Terraform 1.10 removed or 1.11 deprecated.
    #[arg(long, conflicts_with = "plan")]
    pub modernize: bool,
    /// Hold every affected state's DynamoDB lock and S3 lockfile while writing.
    #[arg(long, conflicts_with = "skip_lock_check")]
    pub hold_locks: bool,
    /// With `--strategy replace`, keep the `-md5` digest items of the migrated
    /// states (by default apply deletes them, so readers keep working).
    #[arg(long)]
    pub keep_digests: bool,
    /// Also rewrite files that are read-only (their mode is kept).
    #[arg(long)]
    pub force: bool,
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
    /// Restore the files only; leave the DynamoDB digest items as they are.
    #[arg(long)]
    pub files_only: bool,
    /// Repair digests without first checking that no lock is held on the states.
    #[arg(long)]
    pub skip_lock_check: bool,
    /// Give up on an AWS call after this many seconds (the state then counts as locked).
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub aws_timeout: u64,
}

/// Exit codes, as `terraform plan -detailed-exitcode` uses them.
pub const EXIT_OK: u8 = 0;
pub const EXIT_ERROR: u8 = 1;
pub const EXIT_CHANGES: u8 = 2;

pub fn run(cli: Cli) -> Result<u8> {
    // NO_COLOR and --no-color ask for plain output: no colours, and no progress
    // bars either (they redraw with terminal control codes).
    let plain = cli.no_color
        || std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
        || std::env::var("TERM").is_ok_and(|t| t == "dumb");
    let style = Style {
        color: !plain && std::io::stdout().is_terminal(),
    };
    let ui = Ui {
        style,
        progress: !plain && !cli.quiet && std::io::stderr().is_terminal(),
    };
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    match cli.command {
        Command::Plan(args) => plan(args, &cwd, ui),
        Command::Apply(args) => apply(args, &cwd, ui),
        Command::Rollback(args) => rollback(args, &cwd, style),
        Command::Locks(args) => locks(args, &cwd, ui),
        Command::Status(args) => status(args, &cwd, ui),
        Command::Check(args) => check(args, &cwd, ui),
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "tflock", &mut std::io::stdout());
            Ok(EXIT_OK)
        }
        Command::Man => {
            let command = <Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(command)
                .render(&mut std::io::stdout())
                .context("cannot write the man page")?;
            Ok(EXIT_OK)
        }
    }
}

/// `tflock check`: scan offline, decide in the library, print, exit 1 on findings.
fn check(args: CheckArgs, cwd: &Path, ui: Ui) -> Result<u8> {
    use tflock::check::{self, AllowList, render};
    let mut allow = AllowList::default();
    for file in &args.allow_files {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("{}: cannot read the allow file", file.display()))?;
        allow.parse(&file.display().to_string(), &text)?;
    }
    let repo = scan(&args.select, cwd, Strategy::Replace, ui)?;
    let text_of = |path: &str| std::fs::read_to_string(cwd.join(path)).ok();
    let report = check::check(&repo, &allow, &text_of);
    let format = render::pick_format(
        args.format,
        std::env::var("GITHUB_ACTIONS").ok().as_deref(),
        std::io::stdout().is_terminal(),
    );
    print!("{}", render::render(&report, format));
    if format != render::CheckFormat::Json {
        eprintln!("{}", render::summary(&report));
    }
    Ok(if report.passed() { EXIT_OK } else { EXIT_ERROR })
}

/// The paths to walk: the arguments, or standard input's lines for `-`. A path
/// named on the command line must exist; one read from standard input (say a
/// file `git diff --name-only` lists as deleted) is skipped when it does not.
fn roots(paths: &[PathBuf], cwd: &Path) -> Result<Vec<PathBuf>> {
    if paths.is_empty() {
        return Ok(vec![PathBuf::from(".")]);
    }
    let mut roots = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            let mut list = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut list)
                .context("cannot read paths from standard input")?;
            for path in tflock::git::paths_from_list(&list)
                .into_iter()
                .filter(|path| std::fs::symlink_metadata(cwd.join(path)).is_ok())
            {
                tflock::discover::check_root(cwd, &path).map_err(anyhow::Error::msg)?;
                roots.push(path);
            }
        } else {
            tflock::discover::check_root(cwd, p).map_err(anyhow::Error::msg)?;
            roots.push(p.clone());
        }
    }
    Ok(roots)
}

/// Discover, parse and plan the selected files, with a progress bar on a
/// terminal.
fn scan(select: &SelectArgs, cwd: &Path, strategy: Strategy, ui: Ui) -> Result<RepoPlan> {
    let roots = roots(&select.paths, cwd)?;
    let selection = Selection::new(&select.include, &select.exclude, select.max_depth)
        .context("invalid --include/--exclude glob")?;
    let bar = ui.spinner("scanning");
    let repo = tflock::scan_with(&roots, cwd, strategy, &selection, bar.as_ref());
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(repo)
}

/// How the terminal is used: colours on stdout, progress on stderr.
#[derive(Debug, Clone, Copy)]
struct Ui {
    style: Style,
    progress: bool,
}

impl Ui {
    /// A spinner with a count, or None off a terminal and with --quiet.
    fn spinner(self, what: &str) -> Option<ProgressBar> {
        if !self.progress {
            return None;
        }
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg}: {pos} files ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(what.to_string());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Some(bar)
    }

    /// A spinner for AWS calls.
    fn waiting(self, what: String) -> Option<ProgressBar> {
        if !self.progress {
            return None;
        }
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(what);
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Some(bar)
    }
}

fn plan(args: PlanArgs, cwd: &Path, ui: Ui) -> Result<u8> {
    let started = std::time::Instant::now();
    let style = ui.style;
    let mut repo = scan(&args.select, cwd, args.strategy, ui)?;
    preflight(
        &mut repo,
        cwd,
        args.strategy,
        args.bump_required_version,
        args.modernize,
    );
    print_problems(&repo);
    let (checked, lock_checks) = if args.offline {
        (
            Checked::offline("Lock checks: not checked (--offline)."),
            "not checked",
        )
    } else {
        (check_locks(&mut repo, &args.aws, ui, false)?, "checked")
    };
    let steps = next_steps::next_steps(&repo, &checked.versioning);
    let note = format!("{}\nTook {}.", checked.note, elapsed(started));
    let markdown = || report::markdown::render(&repo, &next_steps::render_markdown(&steps));
    match args.format {
        Format::Text => print(&report::text::render(&repo, style, &note))?,
        Format::Json => print(&report::json::render(
            &repo,
            lock_checks,
            checked.requests,
            &steps,
        ))?,
        Format::Markdown => print(&markdown().join("\n"))?,
    }
    if let Some(path) = &args.out_markdown {
        for (i, part) in markdown().iter().enumerate() {
            let file = markdown_part_path(path, i);
            apply::write_atomic(&file, part.as_bytes())
                .with_context(|| format!("{}: cannot write the report", file.display()))?;
        }
    }
    let changed: Vec<&FilePlan> = repo.changed_files().collect();
    if let Some(out) = &args.out {
        let mut saved = SavedPlan::from_files(args.strategy, args.bump_required_version, &changed);
        saved.modernize = args.modernize;
        apply::write_private(out, saved.to_json().as_bytes())
            .with_context(|| format!("{}: cannot write plan file", out.display()))?;
    }
    if let Some(patch) = &args.patch {
        let diffs: Vec<(String, String, String)> = changed
            .iter()
            .map(|f| (f.path.clone(), f.original.clone(), f.new_text.clone()))
            .collect();
        let (text, caveats) = report::patch(&diffs);
        apply::write_atomic(patch, text.as_bytes())
            .with_context(|| format!("{}: cannot write patch", patch.display()))?;
        for (path, caveat) in caveats {
            match caveat {
                report::patch::Caveat::Redacted => eprintln!(
                    "{path}: a line that changes holds a secret value; the patch redacts it, so \
                     `git apply` will refuse that hunk: apply this file with `tflock apply`"
                ),
                report::patch::Caveat::NeedsUnidiffZero => eprintln!(
                    "{path}: secret lines were left out of a hunk's context; apply the patch \
                     with `git apply --unidiff-zero`"
                ),
            }
        }
    }
    Ok(if !repo.problems.is_empty() || repo.blocked() > 0 {
        EXIT_ERROR
    } else if args.detailed_exitcode && !changed.is_empty() {
        EXIT_CHANGES
    } else {
        EXIT_OK
    })
}

fn apply(args: ApplyArgs, cwd: &Path, ui: Ui) -> Result<u8> {
    let style = ui.style;
    // The repository of the first path named; outside git, the tree below the
    // current directory (where the rollback file's paths start, too).
    let anchor = match args.select.paths.first() {
        Some(p) if p.as_os_str() != "-" && tflock::git::git_dir(&cwd.join(p)).is_some() => {
            cwd.join(p)
        }
        _ => cwd.to_path_buf(),
    };
    let _run = one_run_at_a_time(&anchor, "tflock apply")?;
    let (mut repo, strategy) = match &args.plan {
        Some(planfile) => (
            planned_repo(planfile, cwd)?,
            SavedPlan::load(planfile)?.strategy,
        ),
        None => {
            let mut repo = scan(&args.select, cwd, args.strategy, ui)?;
            preflight(
                &mut repo,
                cwd,
                args.strategy,
                args.bump_required_version,
                args.modernize,
            );
            (repo, args.strategy)
        }
    };
    print_problems(&repo);
    let checked = if args.skip_lock_check {
        eprintln!(
            "{}",
            style.yellow(
                "Warning: --skip-lock-check: tflock will NOT verify that no Terraform run holds \
                 these states' locks."
            )
        );
        Checked::offline("Lock checks: skipped (--skip-lock-check).")
    } else {
        check_locks(&mut repo, &args.aws, ui, true)?
    };
    let failed = if repo.problems.is_empty() && repo.blocked() == 0 {
        EXIT_OK
    } else {
        EXIT_ERROR
    };
    print(&report::text::render(&repo, style, &checked.note))?;
    let changed: Vec<&FilePlan> = repo.changed_files().collect();
    if changed.is_empty() {
        print("\nNo changes. Nothing to apply.\n")?;
        return Ok(failed);
    }
    let read_only = apply::read_only(&changed);
    if !read_only.is_empty() && !args.force {
        bail!(
            "refusing to write read-only files (nothing was written):\n  {}\nRerun with --force \
             to rewrite them (their mode is kept).",
            read_only
                .iter()
                .map(|p| format!("{p}: read-only"))
                .collect::<Vec<_>>()
                .join("\n  ")
        );
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
    let rollback_plan = RollbackPlan::new(&repo, &changed, cwd, strategy_name);
    let mut recorded = rollback_plan.clone();
    let written = if args.hold_locks {
        write_holding_locks(
            &repo,
            &changed,
            rollback_plan,
            &rollback_path,
            &args.aws,
            style,
        )?
    } else {
        apply::apply(&changed, &rollback_plan, &rollback_path)
    };
    match written {
        Ok(()) => {}
        Err(e @ ApplyError::ChangedSincePlan(_)) => bail!("{e}"),
        Err(e) => return Err(e.into()),
    }
    if strategy == Strategy::Replace && !args.keep_digests {
        digests::delete_after_apply(
            &repo,
            &mut recorded,
            &rollback_path,
            &aws_options(&args.aws),
            style,
        )?;
    }
    let rollback_shown = rollback_path.display();
    print(&format!(
        "\n{} {} {} changed.\nRollback file: {rollback_shown} and {rollback_shown}.md \
         (restore with `tflock rollback {rollback_shown}`)\n\n{}",
        style.green(&style.bold("Apply complete!")),
        changed.len(),
        if changed.len() == 1 { "file" } else { "files" },
        next_steps::render_text(&next_steps::next_steps(&repo, &checked.versioning)),
    ))?;
    Ok(failed)
}

/// `apply --hold-locks`: the write runs while tflock holds every affected state's
/// locks; a contested lock means nothing is written.
fn write_holding_locks(
    repo: &RepoPlan,
    changed: &[&FilePlan],
    rollback_plan: RollbackPlan,
    rollback_path: &Path,
    aws: &AwsArgs,
    style: Style,
) -> Result<Result<(), ApplyError>> {
    let requests: Vec<LockRequest> = repo
        .backends
        .iter()
        .filter(|b| b.action == tflock::plan::Action::Migrate)
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
        .collect();
    // Two configurations can name the same state: lock it once.
    let mut seen = BTreeSet::new();
    let requests: Vec<LockRequest> = requests
        .into_iter()
        .filter(|r| seen.insert((r.bucket.clone(), r.table.clone(), r.state_key.clone())))
        .collect();
    let files: Vec<FilePlan> = changed.iter().map(|f| (*f).clone()).collect();
    let rollback_path = rollback_path.to_path_buf();
    let write = move || {
        let refs: Vec<&FilePlan> = files.iter().collect();
        apply::apply(&refs, &rollback_plan, &rollback_path)
    };
    let counter = std::sync::Arc::new(tflock::verify::RequestCounter::default());
    let held = tokio_runtime()?
        .block_on(tflock::remote::with_locks(
            &requests,
            &aws_options(aws),
            counter,
            write,
        ))
        .map_err(|reason| {
            anyhow::anyhow!("could not take the locks, nothing was written: {reason}")
        })?;
    if held.release_errors.is_empty() {
        print(&format!(
            "Held {} state lock(s) while writing; released.\n",
            requests.len()
        ))?;
    }
    for e in &held.release_errors {
        eprintln!(
            "{}",
            style.red(&format!("could not release a lock tflock took: {e}"))
        );
    }
    if held.interrupted && held.release_errors.is_empty() {
        bail!("interrupted (Ctrl-C): the write finished and every lock was released");
    }
    if !held.release_errors.is_empty() {
        bail!("some locks tflock took are still held; remove them as shown above");
    }
    Ok(held.result)
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
    if files.is_empty() {
        return Ok(RepoPlan {
            strategy: Some(saved.strategy),
            ..RepoPlan::default()
        });
    }
    // The planned files' folders are scanned again (their version constraints
    // live beside them), but only the planned files may change.
    let planned: BTreeSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
    let roots: BTreeSet<PathBuf> = files
        .iter()
        .map(|f| {
            f.fs_path
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default()
        })
        .map(|d| {
            if d.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                d
            }
        })
        .collect();
    let mut repo = tflock::scan(&roots.into_iter().collect::<Vec<_>>(), cwd, saved.strategy);
    repo.backends.retain(|b| planned.contains(b.path.as_str()));
    repo.files.retain(|f| planned.contains(f.path.as_str()));
    repo.problems.retain(|p| planned.contains(p.path.as_str()));
    let options = tflock::preflight::Options {
        strategy: saved.strategy,
        bump_required_version: saved.bump_required_version,
        modernize: saved.modernize,
    };
    tflock::preflight::run(&mut repo, cwd, &options);
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

/// What the lock checks found besides the per-backend facts they record.
struct Checked {
    note: String,
    /// AWS requests the checks made (None when they did not run).
    requests: Option<usize>,
    /// Versioning of each bucket of a migrating backend.
    versioning: BTreeMap<String, Result<Option<String>, String>>,
}

impl Checked {
    fn offline(note: &str) -> Checked {
        Checked {
            note: note.to_string(),
            requests: None,
            versioning: BTreeMap::new(),
        }
    }
}

fn aws_options(aws: &AwsArgs) -> tflock::verify::Options {
    tflock::verify::Options {
        timeout: std::time::Duration::from_secs(aws.aws_timeout.max(1)),
        skip_probe: aws.skip_probe,
        ..Default::default()
    }
}

/// Runs the lock checks on the backends to migrate, and asks each of their
/// buckets whether versioning is on (for the next steps).
/// `digests`: also read the digest items (apply records them for rollback).
fn check_locks(repo: &mut RepoPlan, aws: &AwsArgs, ui: Ui, digests: bool) -> Result<Checked> {
    let options = tflock::verify::Options {
        read_digests: digests,
        ..aws_options(aws)
    };
    let counter = std::sync::Arc::new(tflock::verify::RequestCounter::default());
    let runtime = tokio_runtime()?;
    let migrating = repo.count(tflock::plan::Action::Migrate);
    let bar = ui.waiting(format!("checking locks of {migrating} backends in AWS"));
    let found = runtime.block_on(tflock::verify::verify_plan(
        repo,
        |b| b.action == tflock::plan::Action::Migrate,
        true,
        &options,
        counter.clone(),
    ));
    let states: usize = found.iter().map(|(_, l)| l.states.len()).sum();
    repo.record_locks(found);
    let buckets: BTreeSet<(tflock::verify::ClientSettings, String)> = repo
        .backends
        .iter()
        .filter(|b| b.action == tflock::plan::Action::Migrate)
        .flat_map(|b| b.resolution.targets.iter())
        .filter_map(|t| Some((t.client.clone(), t.bucket.clone()?)))
        .collect();
    let versioning = runtime.block_on(tflock::remote::bucket_versioning(
        buckets.into_iter().collect(),
        &options,
        counter.clone(),
    ));
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let note = format!(
        "Lock checks: {states} {} checked, {} {} blocked ({} AWS requests).",
        if states == 1 { "state" } else { "states" },
        repo.blocked(),
        if repo.blocked() == 1 {
            "backend"
        } else {
            "backends"
        },
        counter.get()
    );
    Ok(Checked {
        note,
        requests: Some(counter.get()),
        versioning,
    })
}

/// Where part `i` (0-based) of a Markdown report goes: FILE, then FILE.2.md, ...
fn markdown_part_path(path: &Path, i: usize) -> PathBuf {
    if i == 0 {
        return path.to_path_buf();
    }
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{}.md", i + 1));
    PathBuf::from(name)
}

/// The preflight checks on a scanned plan.
fn preflight(repo: &mut RepoPlan, cwd: &Path, strategy: Strategy, bump: bool, modernize: bool) {
    let options = tflock::preflight::Options {
        strategy,
        bump_required_version: bump,
        modernize,
    };
    tflock::preflight::run(repo, cwd, &options);
}

/// "0.42s", "12.3s", "2m 05s".
fn elapsed(started: std::time::Instant) -> String {
    let d = started.elapsed();
    if d.as_secs() >= 60 {
        format!("{}m {:02}s", d.as_secs() / 60, d.as_secs() % 60)
    } else if d.as_secs() >= 10 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{:.2}s", d.as_secs_f64())
    }
}

fn tokio_runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn locks(args: LocksArgs, cwd: &Path, ui: Ui) -> Result<u8> {
    let style = ui.style;
    let mut repo = scan(&args.select, cwd, Strategy::Replace, ui)?;
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
        TableFormat::Text => print(&report::locks::text(&repo, style, counter.get()))?,
        TableFormat::Json => print(&report::locks::json(&repo, counter.get()))?,
    }
    Ok(if any_unfree || !repo.problems.is_empty() {
        EXIT_ERROR
    } else {
        EXIT_OK
    })
}

fn status(args: StatusArgs, cwd: &Path, ui: Ui) -> Result<u8> {
    use tflock::status::{self, TableSource};
    let repo = scan(&args.select, cwd, Strategy::Replace, ui)?;
    print_problems(&repo);
    let mut sources = status::configured_tables(&repo);
    let mut governed = status::governed_states(&repo);
    let mut recorded = BTreeMap::new();
    for file in &args.rollback_files {
        let plan = RollbackPlan::load(file)?;
        recorded.extend(plan.recorded_digests());
        // The states that apply moved to lockfiles, while its files still
        // hold what it wrote (not rolled back, not edited since).
        let steps = rollback::inspect(&plan);
        let still_applied = |file: &str| {
            steps
                .iter()
                .any(|s| s.file.path == file && s.state == FileState::AsApplied)
        };
        governed.extend(plan.backends.iter().filter_map(|b| {
            let on_lockfiles = plan.strategy == "replace" && still_applied(&b.file);
            status::Governed::from_target(&b.target, on_lockfiles)
        }));
        for b in plan.backends {
            if let Some(table) = b.target.table.clone() {
                sources.push(TableSource {
                    client: b.target.client.clone(),
                    table,
                    source: "rollback file",
                });
            }
        }
    }
    // Lock tables in the account: after a full migration no config names them.
    let clients: BTreeSet<tflock::verify::ClientSettings> = repo
        .backends
        .iter()
        .filter(|b| {
            ["bucket", "dynamodb_table", "region"]
                .iter()
                .any(|k| b.backend.value(k).is_some())
        })
        .flat_map(|b| b.resolution.targets.iter().map(|t| t.client.clone()))
        .collect();
    let options = tflock::verify::Options {
        timeout: std::time::Duration::from_secs(args.aws_timeout.max(1)),
        ..Default::default()
    };
    let counter = std::sync::Arc::new(tflock::verify::RequestCounter::default());
    let runtime = tokio_runtime()?;
    let found = runtime.block_on(tflock::verify::tables::find_lock_tables(
        clients.into_iter().collect(),
        &options,
        counter.clone(),
    ));
    let mut failed = !repo.problems.is_empty();
    for (client, tables) in found {
        match tables {
            Ok(tables) => sources.extend(tables.into_iter().map(|table| TableSource {
                client: client.clone(),
                table,
                source: "found in account",
            })),
            Err(e) => {
                eprintln!(
                    "cannot list lock tables in {}: {e}",
                    status::region_of(&client)
                );
                failed = true;
            }
        }
    }
    let mut to_scan: BTreeMap<(String, String), tflock::verify::ClientSettings> = BTreeMap::new();
    for s in &sources {
        to_scan
            .entry((status::region_of(&s.client), s.table.clone()))
            .or_insert_with(|| s.client.clone());
    }
    let summaries = runtime.block_on(tflock::verify::tables::summarize(
        to_scan
            .into_iter()
            .map(|((_, table), client)| (client, table))
            .collect(),
        &options,
        counter,
    ));
    let mut report = status::assemble(&repo, &sources, &summaries);
    status::judge_retirement(&mut report, &governed, &summaries);
    report.digests = digests::tripwire(
        &repo,
        &sources,
        &recorded,
        &options,
        tflock::tripwire::Clean {
            enabled: args.clean_digests,
            dry_run: args.dry_run,
        },
    )?;
    failed |= tflock::tripwire::clean_failed(&report.digests);
    match args.format {
        Format::Text => print(&status::render_text(&report))?,
        Format::Json => print(&status::render_json(&report))?,
        Format::Markdown => print(&report::status_markdown::render(&report))?,
    }
    Ok(if failed { EXIT_ERROR } else { EXIT_OK })
}

fn rollback(args: RollbackArgs, _cwd: &Path, style: Style) -> Result<u8> {
    let plan = RollbackPlan::load(&args.file)?;
    // A dry run writes nothing, so it need not wait for a run that does.
    let _run = if args.dry_run {
        None
    } else {
        Some(one_run_at_a_time(&plan.root, "tflock rollback")?)
    };
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
            FileState::Refused(why) => bail!("{why}; nothing was written"),
        }
    }
    if !refused.is_empty() {
        bail!(
            "refusing to roll back (nothing was written):\n  {}\nRerun with --force to overwrite them with their original bytes.",
            refused.join("\n  ")
        );
    }
    let repairs = if args.files_only || plan.backends.is_empty() {
        Vec::new()
    } else {
        digest_repairs(&plan, &args, style)?
    };
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
    for r in &repairs {
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
        print(&format!(
            "digest {} in table {}: {change}\n",
            r.digest_id, r.table
        ))?;
    }
    if to_restore.is_empty() && repairs.is_empty() {
        // Only claim what was checked: --files-only reads no digest.
        print(if args.files_only {
            "No changes. Every file holds its original bytes (digests were not checked: --files-only).\n"
        } else {
            "No changes. Every file holds its original bytes and every digest matches its state.\n"
        })?;
        return Ok(EXIT_OK);
    }
    if args.dry_run {
        print(&format!(
            "\nRollback would restore {} file(s) and repair {} digest item(s) (dry run; nothing written).\n",
            to_restore.len(),
            repairs.len()
        ))?;
        return Ok(EXIT_OK);
    }
    if !args.auto_approve && !confirm("Do you want to restore these files and digests?")? {
        print("\nRollback cancelled.\n")?;
        return Ok(EXIT_ERROR);
    }
    let restored = rollback::restore(&steps, args.force, &plan.root)?;
    let repaired = if repairs.is_empty() {
        0
    } else {
        let options = tflock::verify::Options {
            timeout: std::time::Duration::from_secs(args.aws_timeout.max(1)),
            ..Default::default()
        };
        let counter = std::sync::Arc::new(tflock::verify::RequestCounter::default());
        tokio_runtime()?
            .block_on(tflock::remote::apply_digest_repairs(
                &repairs, &options, counter,
            ))
            .map_err(|e| {
                anyhow::anyhow!(
                    "{e}\nThe files were restored; rerun `tflock rollback` to retry the digests."
                )
            })?
    };
    print(&format!(
        "\n{} {restored} {} restored, {repaired} digest {} repaired.\n",
        style.green(&style.bold("Rollback complete!")),
        if restored == 1 { "file" } else { "files" },
        if repaired == 1 { "item" } else { "items" },
    ))?;
    Ok(EXIT_OK)
}

/// Checks that no lock is held on the rolled-back states (unless told not to),
/// then reads each state and lists the digest items that no longer match it.
fn digest_repairs(
    plan: &RollbackPlan,
    args: &RollbackArgs,
    style: Style,
) -> Result<Vec<DigestRepair>> {
    let options = tflock::verify::Options {
        timeout: std::time::Duration::from_secs(args.aws_timeout.max(1)),
        skip_probe: true,
        ..Default::default()
    };
    let counter = std::sync::Arc::new(tflock::verify::RequestCounter::default());
    let targets: Vec<tflock::verify::Target> =
        plan.backends.iter().map(|b| b.target.clone()).collect();
    let runtime = tokio_runtime()?;
    let found = runtime.block_on(tflock::verify::verify(&targets, &options, counter.clone()));
    let mut blocked = Vec::new();
    let mut unreadable = Vec::new();
    for (b, locks) in plan.backends.iter().zip(&found) {
        for blocker in &locks.blockers {
            blocked.push(format!("{}:{}: {blocker}", b.file, b.line));
        }
        // Digests cannot be repaired in a table that cannot be read, whatever
        // --skip-lock-check says.
        for state in &locks.states {
            if let tflock::verify::LockStatus::Unverified { reason } = &state.dynamodb {
                unreadable.push(format!(
                    "{}:{}: {}: {reason}",
                    b.file, b.line, state.state_key
                ));
            }
        }
    }
    if !unreadable.is_empty() {
        bail!(
            "refusing to roll back (nothing was written): the lock table cannot be read:\n  {}\n\
             Restore the table (or its permissions), or use --files-only to restore only the files.",
            unreadable.join("\n  ")
        );
    }
    if !blocked.is_empty() {
        if args.skip_lock_check {
            eprintln!(
                "{}",
                style.yellow("Warning: --skip-lock-check: repairing digests despite:")
            );
            for b in &blocked {
                eprintln!("  {b}");
            }
        } else {
            bail!(
                "refusing to roll back (nothing was written): a state's lock is held or could not be verified:\n  {}\n\
                 Wait for the run to finish, or use --files-only to restore only the files.",
                blocked.join("\n  ")
            );
        }
    }
    let pairs: Vec<(tflock::verify::Target, tflock::verify::BackendLocks)> =
        targets.into_iter().zip(found).collect();
    let mut repairs = runtime
        .block_on(tflock::remote::plan_digest_repairs(
            &pairs,
            &options,
            counter.clone(),
        ))
        .map_err(|e| anyhow::anyhow!("cannot plan the digest repair (nothing was written): {e}"))?;
    // Digest items apply deleted come back, written from the states as they are.
    repairs.extend(
        runtime
            .block_on(tflock::remote::plan_digest_restores(
                &pairs,
                &plan.deleted_digests(),
                &options,
                counter,
            ))
            .map_err(|e| {
                anyhow::anyhow!("cannot plan the digest repair (nothing was written): {e}")
            })?,
    );
    Ok(repairs)
}

/// The repository's run lock, held by `apply` and `rollback` for their whole run.
fn one_run_at_a_time(anchor: &Path, command: &str) -> Result<tflock::runlock::RunLock> {
    let path = tflock::runlock::lock_path(anchor);
    Ok(tflock::runlock::RunLock::acquire(
        &path,
        command,
        tflock::runlock::DEFAULT_WAIT,
    )?)
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
