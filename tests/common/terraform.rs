//! The real `terraform` binary as the client: offline (an empty CLI config, no
//! provider downloads: `terraform_data` is built in), every AWS endpoint pointed
//! at the emulator with path-style S3 addressing, no metadata service, bounded
//! run times, and background runs killed on drop.
//!
//! A run that must hold its lock applies a `terraform_data` resource whose
//! `local-exec` provisioner waits for a `release` file in the module folder
//! (at most [`HOLD_LIMIT_SECS`]): the test decides when the lock goes, instead
//! of guessing a `sleep`.

use super::run::{Background, Run, isolated_aws_env, wait_until};
use super::{output_within, unavailable};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// No Terraform run may take longer than this (a refused digest retries ~10 s).
pub const TF_LIMIT: Duration = Duration::from_secs(90);
/// The longest a provisioner holds its run open when no test releases it.
pub const HOLD_LIMIT_SECS: u32 = 60;

/// The file that releases a held run, in the module folder.
const RELEASE: &str = "release";

/// `hold.tf`: a resource replaced on every apply whose provisioner waits for
/// [`RELEASE`], then removes it (so the next run waits again).
pub fn hold_tf() -> String {
    let tenths = HOLD_LIMIT_SECS * 10;
    format!(
        r#"resource "terraform_data" "hold" {{
  triggers_replace = timestamp()

  provisioner "local-exec" {{
    command = "i=0; while [ ! -e {RELEASE} ] && [ $i -lt {tenths} ]; do sleep 0.1; i=$((i+1)); done; rm -f {RELEASE}"
  }}
}}
"#
    )
}

/// `terraform` on PATH. Missing: on CI (`CI=true`) the test fails; elsewhere it
/// says loudly that it skipped.
pub fn terraform(test: &str) -> Option<PathBuf> {
    let found = std::env::var_os("TFLOCK_TERRAFORM")
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .or_else(|| super::on_path("terraform"));
    if found.is_none() {
        unavailable(test, "terraform is not on PATH");
    }
    found
}

/// Terraform, for one module folder, against one endpoint.
pub struct Terraform {
    bin: PathBuf,
    endpoint: String,
    pub dir: PathBuf,
    /// HOME and the empty CLI config file: nothing of the machine's setup leaks in.
    home: TempDir,
}

impl Terraform {
    pub fn new(bin: &Path, endpoint: &str, dir: &Path) -> Terraform {
        let home = TempDir::new().unwrap();
        std::fs::write(home.path().join("empty.tfrc"), "").unwrap();
        Terraform {
            bin: bin.to_path_buf(),
            endpoint: endpoint.to_string(),
            dir: dir.to_path_buf(),
            home,
        }
    }

    /// `terraform <args>` in the module folder, isolated and offline.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .current_dir(&self.dir)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .stdin(std::process::Stdio::null());
        isolated_aws_env(&mut cmd, &self.endpoint)
            .env("HOME", self.home.path())
            .env("TF_CLI_CONFIG_FILE", self.home.path().join("empty.tfrc"))
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .env("CHECKPOINT_DISABLE", "1")
            .env("AWS_S3_USE_PATH_STYLE", "true")
            .env("NO_COLOR", "1");
        cmd
    }

    /// Runs `terraform <args>` to its end (at most [`TF_LIMIT`]).
    pub fn run(&self, args: &[&str]) -> Run {
        let mut args = args.to_vec();
        args.push("-no-color");
        let start = Instant::now();
        let out = output_within(&mut self.command(&args), TF_LIMIT);
        Run::new(
            out,
            start.elapsed(),
            &self.dir.display().to_string(),
            &format!("terraform {}", args.join(" ")),
        )
    }

    /// Runs `terraform <args>` and asserts it succeeded.
    pub fn ok(&self, args: &[&str]) -> Run {
        let run = self.run(args);
        run.assert_code(0);
        run
    }

    /// `terraform init` with these extra arguments (`-reconfigure`,
    /// `-backend-config=...`).
    pub fn init(&self, extra: &[&str]) -> Run {
        let mut args = vec!["init", "-input=false"];
        args.extend_from_slice(extra);
        self.ok(&args)
    }

    /// `terraform apply` that does not wait: the hold resource finds its
    /// release file at once.
    pub fn apply(&self, extra: &[&str]) -> Run {
        self.release();
        let mut args = vec!["apply", "-auto-approve", "-input=false"];
        args.extend_from_slice(extra);
        let run = self.run(&args);
        let _ = std::fs::remove_file(self.dir.join(RELEASE));
        run
    }

    /// `terraform apply` in the background, holding its lock until
    /// [`Held::release`] (or the drop kills it).
    pub fn apply_holding(&self) -> Held {
        let _ = std::fs::remove_file(self.dir.join(RELEASE));
        let args = ["apply", "-auto-approve", "-input=false", "-no-color"];
        let run = Background::spawn(self.command(&args), "terraform apply (holding)");
        Held {
            run,
            release: self.dir.join(RELEASE),
        }
    }

    fn release(&self) {
        std::fs::write(self.dir.join(RELEASE), "").unwrap();
    }
}

/// A `terraform apply` running in the background while it holds its lock.
pub struct Held {
    pub run: Background,
    release: PathBuf,
}

impl Held {
    /// Waits (at most 60 s) until `probe` finds the lock this run took.
    pub fn wait_for<T>(&mut self, what: &str, probe: impl FnMut() -> Option<T>) -> T {
        wait_until(&mut self.run, what, Duration::from_secs(60), probe)
    }

    /// Lets the provisioner finish; returns the finished run (it succeeded).
    pub fn release(self) -> Run {
        std::fs::write(&self.release, "").unwrap();
        let run = self.run.finish();
        run.assert_code(0);
        run
    }
}
