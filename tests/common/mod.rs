//! The one test harness every end-to-end test shares (`mod common;` at the top of
//! a test file). Where a new test goes:
//!
//! - a pure function of the library: a unit test next to the code in `src/`;
//! - the CLI on fixture trees, no AWS (flags, output, exit codes): `tests/cli.rs`,
//!   with snapshots in `tests/snapshots/`; whole fixture repositories:
//!   `tests/fixtures_e2e.rs`;
//! - lock checks against the emulator (held, free, stale, unverifiable):
//!   `tests/verify.rs`; AWS faults through the proxy: `tests/faults.rs`;
//! - rollback, `apply --hold-locks`, next steps, `status`: `tests/rollout.rs`;
//! - anything real Terraform must accept or do: `tests/terraform.rs`.
//!
//! The pieces:
//!
//! - this file: the binary (`tflock`, `tflock_command`, `output_within`), fixture
//!   copies, the reference HCL checker, and what a test needs from its
//!   environment (`moto`, `hclcheck`, `script`): on CI (`CI=true`) a missing tool
//!   fails the test, elsewhere the test says loudly that it skipped;
//! - [`aws`]: the emulator, a test's own bucket and table ([`aws::Store`], seeded
//!   in Terraform's format with [`aws::Seed`]), the fault proxy and its request
//!   counts;
//! - [`run`]: tflock against an endpoint with an isolated AWS environment, the
//!   [`run::Run`] assertions, background processes and the gates where a test
//!   stops one ([`run::Gate`]), cases in parallel;
//! - [`tree`]: backend blocks as `terraform fmt` prints them, temporary trees;
//! - [`terraform`]: the real `terraform` binary, offline, against the emulator.
#![allow(dead_code)]

pub mod aws;
pub mod run;
pub mod terraform;
pub mod tree;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The tflock binary cargo built for these tests.
pub fn tflock_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_tflock"))
}

/// The repository's `fixtures/` folder.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Runs tflock in `dir` with a clean environment (no colour, no AWS settings).
pub fn tflock(dir: &Path, args: &[&str]) -> Output {
    Command::new(tflock_bin())
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .map(|mut out| {
            out.stdout = without_timings(&out.stdout);
            out
        })
        .expect("run tflock")
}

/// The elapsed time ends every text plan ("Took 0.42s."); snapshots hide it.
pub fn without_timings(stdout: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(stdout);
    text.split_inclusive('\n')
        .map(|line| {
            if line.starts_with("Took ") && line.trim_end().ends_with("s.") {
                "Took [ELAPSED].\n".to_string()
            } else {
                line.to_string()
            }
        })
        .collect::<String>()
        .into_bytes()
}

/// The exit code of a finished tflock (a signal is a test failure).
pub fn code(o: &Output) -> i32 {
    o.status.code().expect("exit code")
}

/// `apply` without AWS (`--skip-lock-check`, digests kept) writing its rollback
/// file to `rb.json` in `dir`; it must succeed.
pub fn apply_offline(dir: &Path) -> Output {
    let applied = tflock(
        dir,
        &[
            "apply",
            "--skip-lock-check",
            "--auto-approve",
            "--keep-digests",
            "--rollback-file",
            "rb.json",
        ],
    );
    assert_eq!(
        code(&applied),
        0,
        "{}{}",
        stdout(&applied),
        stderr(&applied)
    );
    applied
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Copies a tree (files and folders, no symlinks followed) into `dest`.
pub fn copy_tree(from: &Path, dest: &Path) {
    std::fs::create_dir_all(dest).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = dest.join(entry.file_name());
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            copy_tree(&entry.path(), &target);
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Every file below `root`, relative and sorted, with its bytes.
pub fn read_tree(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    collect(root, root, &mut files);
    files.sort();
    files
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            collect(root, &path, files);
        } else {
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            files.push((rel, std::fs::read(&path).unwrap()));
        }
    }
}

/// The reference HCL checker, when it is available.
///
/// `scripts/test.sh` builds it and sets `TFLOCK_HCLCHECK`. On CI (`CI=true`) it
/// must be there; elsewhere a test without it says clearly that it skipped.
pub fn hclcheck(test: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("TFLOCK_HCLCHECK").map(PathBuf::from)
        && path.is_file()
    {
        return Some(path);
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/hclcheck");
    if built.is_file() {
        return Some(built);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test}: the reference HCL checker is required on CI; run scripts/test.sh");
    }
    eprintln!("SKIPPED {test}: reference HCL checker not found (run scripts/test.sh to build it)");
    None
}

/// Runs `hclcheck <args>` and returns (success, combined output).
pub fn run_hclcheck(checker: &Path, args: &[&str], files: &[PathBuf]) -> (bool, String) {
    let out = Command::new(checker)
        .args(args)
        .args(files)
        .output()
        .expect("run hclcheck");
    let text = format!("{}{}", stdout(&out), stderr(&out));
    (out.status.success(), text)
}

/// A tflock `Command` set up like [`tflock`] (clean environment, `NO_COLOR`, null
/// stdin), for tests that need to change something before running it.
pub fn tflock_command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(tflock_bin());
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null());
    cmd
}

/// Runs `cmd` with piped stdout and stderr; kills it and panics if it has not
/// finished within `limit` (a command that waits for an answer must not hang).
pub fn output_within(cmd: &mut Command, limit: std::time::Duration) -> Output {
    use std::io::Read;
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err.read_to_end(&mut buf);
        buf
    });
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("command did not finish within {limit:?}: {cmd:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out_reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
    }
}

/// Writes each `(relative path, bytes)` below `root`, creating folders.
pub fn write_files(root: &Path, files: &[(&str, &[u8])]) {
    for (rel, bytes) in files {
        let path = root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, bytes).unwrap();
    }
}

/// The moto emulator's URL, when `scripts/test.sh` started one.
///
/// On CI (`CI=true`) it must be there; elsewhere a test without it says that it
/// skipped.
pub fn moto(test: &str) -> Option<String> {
    if let Ok(url) = std::env::var("TFLOCK_TEST_MOTO_URL")
        && !url.is_empty()
    {
        return Some(url);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test}: the moto emulator is required on CI; run scripts/test.sh");
    }
    eprintln!("SKIPPED {test}: moto emulator not running (run scripts/test.sh)");
    None
}

/// A file under `tests/support/` (the seeding script, the fault proxy).
pub fn support(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support")
        .join(name)
}

/// The emulator's python (it has boto3), or `python3` for the stdlib-only proxy.
pub fn python() -> PathBuf {
    std::env::var_os("TFLOCK_TEST_PYTHON")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("python3"))
}

/// A bucket or table name no other test (or earlier run against the same
/// emulator) uses.
pub fn unique(tag: &str) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "tfl-{tag}-{}-{}-{nanos:x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// `script(1)`, which runs a command under a pseudo-terminal, when installed.
///
/// On CI (`CI=true`) it must be there: a terminal test must not pass by doing
/// nothing. Elsewhere a test without it says that it skipped.
pub fn script(test: &str) -> Option<PathBuf> {
    let found = on_path("script");
    if found.is_none() {
        unavailable(test, "script(1) is not installed (util-linux or bsdutils)");
    }
    found
}

/// A tool `test` needs is missing: on CI (`CI=true`) the test fails; elsewhere it
/// says loudly that it skipped (the caller then returns).
pub fn unavailable(test: &str, why: &str) {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test}: {why}; CI needs it");
    }
    eprintln!("SKIPPED {test}: {why}");
}

/// The first `name` in a folder of PATH.
pub fn on_path(name: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}
