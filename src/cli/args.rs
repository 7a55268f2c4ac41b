//! The command-line flags (clap types), each shared group declared once, and
//! their conversion into the library's validated configuration.

use clap::{Parser, Subcommand};
use std::io::{IsTerminal, stdout};
use std::path::{Path, PathBuf};
use tflock::check::render::{CheckFormat, pick_format};
use tflock::commands::{self, Aws, Error, Format, Scope, TableFormat};
use tflock::plan::Strategy;

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

impl SelectArgs {
    /// Checks the paths (reading standard input for `-`) and compiles the globs.
    pub fn scope(&self, cwd: &Path) -> Result<Scope, Error> {
        Scope::new(&self.paths, cwd, std::io::stdin().lock())?.select(
            &self.include,
            &self.exclude,
            self.max_depth,
        )
    }
}

/// How the commands talk to AWS.
#[derive(Debug, Clone, clap::Args)]
pub struct AwsArgs {
    /// Give up on an AWS call after this many seconds (the state then counts as locked).
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub aws_timeout: u64,
}

impl AwsArgs {
    pub fn config(&self) -> Aws {
        Aws::new(self.aws_timeout, false)
    }
}

/// The lock checks before a migration.
#[derive(Debug, Clone, clap::Args)]
pub struct LockCheckArgs {
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Do not probe buckets for conditional-write support before migrating.
    #[arg(long)]
    pub skip_probe: bool,
}

/// What a migration changes.
#[derive(Debug, Clone, clap::Args)]
pub struct PlanningArgs {
    #[arg(long, value_enum, default_value = "replace")]
    pub strategy: Strategy,
    /// Raise `required_version` where it admits a Terraform without use_lockfile.
    #[arg(long)]
    pub bump_required_version: bool,
    /// Also rewrite backend attributes Terraform 1.10 removed or 1.11 deprecated.
    #[arg(long)]
    pub modernize: bool,
}

impl PlanningArgs {
    pub fn options(&self) -> tflock::preflight::Options {
        tflock::preflight::Options {
            strategy: self.strategy,
            bump_required_version: self.bump_required_version,
            modernize: self.modernize,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub planning: PlanningArgs,
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
    #[command(flatten)]
    pub checks: LockCheckArgs,
}

#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub planning: PlanningArgs,
    /// Apply a plan saved with `tflock plan --out`, instead of planning anew.
    #[arg(long, value_name = "PLANFILE",
          conflicts_with_all = ["paths", "strategy", "bump_required_version", "modernize"])]
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
    pub checks: LockCheckArgs,
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
    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(Debug, clap::Args)]
pub struct LocksArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    #[arg(long, value_enum, default_value = "text")]
    pub format: TableFormat,
    #[command(flatten)]
    pub aws: AwsArgs,
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
    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    /// Output format (default: GitHub annotations when GITHUB_ACTIONS=true and
    /// stdout is not a terminal, else text).
    #[arg(long, value_enum)]
    pub format: Option<CheckFormat>,
    /// A file of backends kept on DynamoDB on purpose: `GLOB REASON` a line
    /// (repeatable); they are reported as allowed and do not fail the check.
    #[arg(long = "allow", value_name = "FILE")]
    pub allow_files: Vec<PathBuf>,
}

impl PlanArgs {
    pub fn config(self, cwd: &Path) -> Result<commands::plan::Config, Error> {
        let outputs = commands::plan::Outputs {
            plan: self.out,
            patch: self.patch,
            markdown: self.out_markdown,
        };
        Ok(commands::plan::Config {
            scope: self.select.scope(cwd)?,
            planning: self.planning.options(),
            aws: (!self.offline).then(|| self.checks.aws.config().probing(self.checks.skip_probe)),
            format: self.format,
            outputs,
            detailed_exitcode: self.detailed_exitcode,
        })
    }
}

impl ApplyArgs {
    pub fn config(self, cwd: &Path) -> Result<commands::apply::Config, Error> {
        Ok(commands::apply::Config {
            scope: self.select.scope(cwd)?,
            planning: self.planning.options(),
            saved_plan: self.plan,
            auto_approve: self.auto_approve,
            skip_lock_check: self.skip_lock_check,
            rollback_file: self.rollback_file,
            hold_locks: self.hold_locks,
            keep_digests: self.keep_digests,
            force: self.force,
            aws: self.checks.aws.config().probing(self.checks.skip_probe),
        })
    }
}

impl RollbackArgs {
    pub fn config(self) -> commands::rollback::Config {
        commands::rollback::Config {
            file: self.file,
            auto_approve: self.auto_approve,
            force: self.force,
            dry_run: self.dry_run,
            files_only: self.files_only,
            skip_lock_check: self.skip_lock_check,
            aws: self.aws.config(),
        }
    }
}

impl LocksArgs {
    pub fn config(self, cwd: &Path) -> Result<commands::locks::Config, Error> {
        let (format, aws) = (self.format, self.aws.config());
        Ok(commands::locks::Config {
            scope: self.select.scope(cwd)?,
            format,
            aws,
        })
    }
}

impl StatusArgs {
    pub fn config(self, cwd: &Path) -> Result<commands::status::Config, Error> {
        Ok(commands::status::Config {
            scope: self.select.scope(cwd)?,
            format: self.format,
            rollback_files: self.rollback_files,
            clean: tflock::tripwire::Clean {
                enabled: self.clean_digests,
                dry_run: self.dry_run,
            },
            aws: self.aws.config(),
        })
    }
}

impl CheckArgs {
    /// Whether stdout is a terminal and `GITHUB_ACTIONS` pick the default format.
    pub fn config(self, cwd: &Path) -> Result<commands::check::Config, Error> {
        let github = std::env::var("GITHUB_ACTIONS").ok();
        let format = pick_format(self.format, github.as_deref(), stdout().is_terminal());
        Ok(commands::check::Config {
            scope: self.select.scope(cwd)?,
            format,
            allow_files: self.allow_files,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_flags_are_consistent() {
        Cli::command().debug_assert();
    }
}
