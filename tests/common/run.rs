//! Running the real tflock binary against an AWS endpoint (the emulator, or a
//! proxy in front of it), isolated from any real AWS setting, and asserting on
//! what it printed. Also: processes in the background, the gates where a test
//! stops one, and cases in parallel.

use super::aws::REGION;
use super::{output_within, stderr, stdout};
use serde_json::Value;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// No run may take longer than this, whatever happens.
pub const LIMIT: Duration = Duration::from_secs(60);

/// Points `cmd` at `endpoint` and nothing else: no home folder, no AWS config or
/// credentials files, no instance metadata, dummy credentials, [`REGION`].
pub fn isolated_aws_env<'c>(cmd: &'c mut Command, endpoint: &str) -> &'c mut Command {
    cmd.env("HOME", "/nonexistent/tflock-test-home")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", REGION)
        .env("AWS_ENDPOINT_URL", endpoint)
}

/// A tflock command in `dir` against `endpoint` (see [`isolated_aws_env`]).
pub fn tflock_cmd(dir: &Path, endpoint: &str, args: &[&str]) -> Command {
    let mut cmd = super::tflock_command(dir, args);
    isolated_aws_env(&mut cmd, endpoint);
    cmd
}

/// Runs tflock in `dir` against `endpoint`, within [`LIMIT`].
pub fn tflock(dir: &Path, endpoint: &str, args: &[&str]) -> Run {
    tflock_in(dir, endpoint, args, "")
}

/// [`tflock`], naming `context` (a case of a parallel test) in every failure.
pub fn tflock_in(dir: &Path, endpoint: &str, args: &[&str], context: &str) -> Run {
    let mut cmd = tflock_cmd(dir, endpoint, args);
    let start = Instant::now();
    let out = output_within(&mut cmd, LIMIT);
    Run::new(
        out,
        start.elapsed(),
        context,
        &format!("tflock {}", args.join(" ")),
    )
}

/// `apply --auto-approve --keep-digests` (plus `extra`) with its rollback file
/// outside the tree. These tests check that apply leaves the remote side as it
/// found it; the digest deletion of a replace has tests of its own (readers.rs).
pub fn apply(dir: &Path, endpoint: &str, extra: &[&str]) -> Applied {
    apply_in(dir, endpoint, extra, "")
}

/// [`apply`], naming `context` in every failure.
pub fn apply_in(dir: &Path, endpoint: &str, extra: &[&str], context: &str) -> Applied {
    let outside = TempDir::new().unwrap();
    let rollback = outside.path().join("rollback.json");
    let mut args = vec![
        "apply",
        "--auto-approve",
        "--keep-digests",
        "--rollback-file",
        rollback.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let run = tflock_in(dir, endpoint, &args, context);
    Applied {
        rollback: std::fs::read_to_string(&rollback).ok(),
        rollback_path: rollback,
        run,
        _outside: outside,
    }
}

/// What an apply printed, and the rollback file it wrote (if any).
pub struct Applied {
    pub run: Run,
    /// The rollback file's text, when apply wrote one.
    pub rollback: Option<String>,
    pub rollback_path: std::path::PathBuf,
    _outside: TempDir,
}

/// What one run printed and how long it took.
pub struct Run {
    pub out: Output,
    pub took: Duration,
    /// Names the run in failure messages: the case and the command line.
    pub context: String,
}

impl Run {
    /// Wraps a finished run; panics if tflock panicked.
    pub fn new(out: Output, took: Duration, context: &str, command: &str) -> Run {
        let context = if context.is_empty() {
            command.to_string()
        } else {
            format!("{context} ({command})")
        };
        let err = stderr(&out);
        assert!(
            !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
            "{context}: panicked:\n{err}"
        );
        Run { out, took, context }
    }

    pub fn code(&self) -> i32 {
        self.out.status.code().unwrap_or_else(|| {
            panic!(
                "{}: killed by a signal: {:?}\n{}",
                self.context,
                self.out.status,
                stderr(&self.out)
            )
        })
    }

    pub fn stdout(&self) -> String {
        stdout(&self.out)
    }

    pub fn stderr(&self) -> String {
        stderr(&self.out)
    }

    /// Stdout and stderr together.
    pub fn text(&self) -> String {
        format!("{}{}", self.stdout(), self.stderr())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout())
            .unwrap_or_else(|e| panic!("{}: not JSON ({e}):\n{}", self.context, self.text()))
    }

    /// The output without diffs and preflight notes, for failure messages.
    pub fn brief(&self) -> String {
        let mut skipping = false;
        let mut lines = Vec::new();
        let text = self.text();
        for line in text.lines() {
            if line.starts_with("--- a/") || line == "Preflight:" {
                skipping = true;
            } else if line.is_empty() {
                skipping = false;
            }
            if !skipping && !line.is_empty() {
                lines.push(line);
            }
        }
        lines.join("\n")
    }

    pub fn assert_code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.code(),
            expected,
            "{}: unexpected exit code\n--- stdout:\n{}\n--- stderr:\n{}",
            self.context,
            self.stdout(),
            self.stderr()
        );
        self
    }

    pub fn assert_contains(&self, needle: &str) -> &Self {
        let text = self.text();
        assert!(
            text.contains(needle),
            "{}: output lacks {needle:?}:\n{text}",
            self.context
        );
        self
    }

    pub fn assert_lacks(&self, needle: &str) -> &Self {
        let text = self.text();
        assert!(
            !text.contains(needle),
            "{}: output has {needle:?}:\n{text}",
            self.context
        );
        self
    }
}

// ---------------------------------------------------------------------------
// In the background
// ---------------------------------------------------------------------------

/// The threads draining a background child's stdout and stderr.
type Readers = (JoinHandle<Vec<u8>>, JoinHandle<Vec<u8>>);

/// A process running in the background; killed (with its process group) if the
/// test ends first.
pub struct Background {
    child: Child,
    readers: Option<Readers>,
    started: Instant,
    command: String,
}

fn reader(mut pipe: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        buf
    })
}

impl Background {
    /// Starts `cmd` with piped output, in its own process group so that a kill
    /// also reaches what it started (Terraform's provisioner shell, `sleep`).
    pub fn spawn(mut cmd: Command, command: &str) -> Background {
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            cmd.process_group(0);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {command}: {e}"));
        let out = reader(child.stdout.take().unwrap());
        let err = reader(child.stderr.take().unwrap());
        Background {
            child,
            readers: Some((out, err)),
            started: Instant::now(),
            command: command.to_string(),
        }
    }

    pub fn running(&mut self) -> bool {
        self.child.try_wait().expect("wait").is_none()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything it printed; only once it has ended (or been killed).
    fn collected(&mut self, status: ExitStatus) -> Output {
        let (out, err) = self.readers.take().expect("output already taken");
        Output {
            status,
            stdout: out.join().unwrap(),
            stderr: err.join().unwrap(),
        }
    }

    /// Kills it and returns what it printed, for a failure message.
    pub fn kill_and_print(&mut self) -> String {
        self.kill();
        let status = self.child.wait().expect("wait");
        let out = self.collected(status);
        format!("{}{}", stdout(&out), stderr(&out))
    }

    /// Waits (at most [`LIMIT`]) for it to end on its own.
    pub fn finish(mut self) -> Run {
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            if self.started.elapsed() > LIMIT {
                let text = self.kill_and_print();
                panic!("{} did not finish within {LIMIT:?}:\n{text}", self.command);
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let out = self.collected(status);
        Run::new(out, self.started.elapsed(), "", &self.command)
    }

    fn kill(&mut self) {
        #[cfg(unix)]
        {
            // The whole group: the shell and `sleep` a provisioner started too.
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", self.child.id())])
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.child.kill();
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.kill();
        }
        let _ = self.child.wait();
    }
}

/// A point where a background tflock stops until the test lets it go on
/// (`TFLOCK_TEST_GATE`, see `remote::test_gate`): `"hold"`, with the locks of
/// `--hold-locks` taken and nothing written yet; `"digests"`, with the files
/// written and the digests read but not deleted.
pub struct Gate {
    point: &'static str,
    folder: TempDir,
}

impl Gate {
    /// Stops `cmd` at `point`.
    pub fn at(point: &'static str, cmd: &mut Command) -> Gate {
        let folder = TempDir::new().expect("a folder for the gate");
        let setting = format!("{point}:{}", folder.path().display());
        cmd.env("TFLOCK_TEST_GATE", setting);
        Gate { point, folder }
    }

    /// Whether the run has reached the gate (and waits there until [`Gate::open`]).
    pub fn reached(&self) -> bool {
        self.folder
            .path()
            .join(format!("{}.reached", self.point))
            .exists()
    }

    /// Waits until `run` reaches the gate; panics (with what it printed) if it
    /// ends first or [`LIMIT`] passes.
    pub fn wait(&self, run: &mut Background) {
        let what = format!("the {} gate", self.point);
        wait_until(run, &what, LIMIT, || self.reached().then_some(()));
    }

    /// Lets the run go on.
    pub fn open(&self) {
        let open = self.folder.path().join(format!("{}.open", self.point));
        std::fs::write(open, "").expect("open the gate");
    }
}

/// Polls `probe` until it returns `Some`; panics (with what the background run
/// printed) if that run ends first or `limit` passes.
pub fn wait_until<T>(
    run: &mut Background,
    what: &str,
    limit: Duration,
    mut probe: impl FnMut() -> Option<T>,
) -> T {
    let start = Instant::now();
    loop {
        if let Some(found) = probe() {
            return found;
        }
        if !run.running() {
            let status = run.child.wait().expect("wait");
            let out = run.collected(status);
            panic!(
                "{} ended ({status}) before {what}:\n{}{}",
                run.command,
                stdout(&out),
                stderr(&out)
            );
        }
        if start.elapsed() > limit {
            let text = run.kill_and_print();
            panic!("timed out after {limit:?} waiting for {what}; it printed:\n{text}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---------------------------------------------------------------------------
// Cases in parallel
// ---------------------------------------------------------------------------

/// One named case of a test that runs its cases in parallel.
pub type Case<'a> = (String, Box<dyn FnOnce() + Send + 'a>);

pub fn case<'a>(name: &str, body: impl FnOnce() + Send + 'a) -> Case<'a> {
    (name.to_string(), Box::new(body))
}

/// Runs each case on its own thread (the waits are back-offs, timeouts and
/// Terraform runs, not CPU); fails naming every case that failed.
pub fn parallel(cases: Vec<Case<'_>>) {
    let failures: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = cases
            .into_iter()
            .map(|(name, case)| {
                let handle = std::thread::Builder::new()
                    .name(name.clone())
                    .spawn_scoped(scope, case)
                    .unwrap();
                (name, handle)
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|(name, handle)| {
                handle.join().err().map(|panic| {
                    let message = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default();
                    format!("--- case {name}:\n{message}")
                })
            })
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
