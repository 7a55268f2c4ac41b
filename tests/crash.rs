//! Crash safety of `tflock apply` (DESIGN.md section 2, invariants 4, 6 and 7):
//!
//! - `sigkill_at_random_moments_leaves_every_file_old_or_new`: at least 100
//!   SIGKILLs of an apply over a tree of 1,041 files (1,000 planned), in two
//!   lanes (two trees, one per core). Half the kill moments are uniform over
//!   0..1.2 x the measured apply time; the others fall in the write window,
//!   timed from the moment the rollback file (or its Markdown twin) appears.
//!   Every file is wholly old or wholly new, the rollback file is absent or
//!   complete, `rollback --files-only` restores the tree byte for byte (modes
//!   included), and leftover `.tflock-*.tmp` files are ignored by the next plan
//!   and apply.
//! - `disk_full_*`: a file-size limit (`ulimit -f`, SIGXFSZ ignored so writes
//!   fail with EFBIG), and a tiny tmpfs that fills up in the middle of the batch
//!   (root only; prints SKIPPED otherwise).
//! - `read_only_file_*`: a file in the middle of the batch that cannot be
//!   replaced (`chattr +i`, else a read-only bind mount, else for non-root a
//!   0555 folder).
//! - `file_replaced_by_a_directory_*`: between `plan --out` and `apply --plan`.
//!
//! The SIGKILL trials print their seed and figures (`-- --nocapture`); rerun
//! with `TFLOCK_CRASH_SEED=<seed>` (the same kill delays; the moments they land
//! on still depend on timing), and change the number of trials with
//! `TFLOCK_CRASH_TRIALS` (default 100).

mod common;

use common::{read_tree, stderr, stdout, tflock, tflock_command, write_files};
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The tests of this file run one at a time: the SIGKILL harness measures how
/// long an apply takes, and a concurrent test would skew its kill moments.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

/// SplitMix64: small, seedable, good enough to spread kill moments.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[lo, hi)`.
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        let unit = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        lo + (hi - lo) * unit
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// A scratch folder; on tmpfs (`/dev/shm`) when there is one. SIGKILL ends the
/// process, not the machine: what it wrote is in the page cache either way, so
/// the filesystem does not change what the trial observes, only how long the
/// fsyncs take.
fn scratch() -> (tempfile::TempDir, &'static str) {
    let shm = Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(dir) = tempfile::Builder::new()
            .prefix("tflock-crash-")
            .tempdir_in(shm)
    {
        return (dir, "/dev/shm (tmpfs)");
    }
    (tempfile::tempdir().unwrap(), "the system temp dir")
}

fn is_temp_file(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    name.starts_with(".tflock-") && name.ends_with(".tmp")
}

fn temp_files(root: &Path) -> Vec<String> {
    read_tree(root)
        .into_iter()
        .map(|(rel, _)| rel)
        .filter(|rel| is_temp_file(rel))
        .collect()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn sh(script: &str) -> Output {
    run(Command::new("sh").arg("-c").arg(script))
}

fn shell_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

fn describe(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        tail(&stdout(out), 3000),
        stderr(out)
    )
}

fn tail(text: &str, max: usize) -> &str {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// Asserts that every file of `files` is below `root` with exactly its bytes,
/// and that nothing else is there (temp files included) but `allowed`.
fn assert_tree_is(root: &Path, files: &BTreeMap<String, Vec<u8>>, allowed: &[&str], what: &str) {
    let now: BTreeMap<String, Vec<u8>> = read_tree(root).into_iter().collect();
    for (rel, bytes) in files {
        match now.get(rel) {
            Some(b) if b == bytes => {}
            Some(_) => panic!("{what}: {rel} does not hold its original bytes"),
            None => panic!("{what}: {rel} is missing"),
        }
    }
    let extra: Vec<&String> = now
        .keys()
        .filter(|rel| !files.contains_key(*rel) && !allowed.contains(&rel.as_str()))
        .collect();
    assert!(extra.is_empty(), "{what}: unexpected files left: {extra:?}");
}

// ---------------------------------------------------------------------------
// The 1,041-file tree
// ---------------------------------------------------------------------------

struct Tree {
    /// Every file, relative path to bytes.
    files: BTreeMap<String, Vec<u8>>,
    /// The files the migration rewrites.
    planned: BTreeSet<String>,
}

fn hcl_backend(i: usize, newline: &str, indent: &str) -> String {
    let lines = [
        format!("# Root module {i}: state in S3, locks in DynamoDB."),
        "terraform {".to_string(),
        format!("{indent}required_version = \">= 1.10.0\""),
        String::new(),
        format!("{indent}backend \"s3\" {{"),
        format!("{indent}{indent}bucket         = \"acme-state\""),
        format!("{indent}{indent}key            = \"live/m{i:03}/terraform.tfstate\""),
        format!("{indent}{indent}region         = \"eu-west-1\""),
        format!("{indent}{indent}dynamodb_table = \"terraform-locks\" # shared table"),
        format!("{indent}{indent}encrypt        = true"),
        format!("{indent}}}"),
        "}".to_string(),
    ];
    let mut text = lines.join(newline);
    text.push_str(newline);
    text
}

fn json_backend(i: usize) -> String {
    format!(
        r#"{{
  "terraform": {{
    "required_version": ">= 1.10.0",
    "backend": {{
      "s3": {{
        "bucket": "acme-state",
        "key": "live/m{i:03}/terraform.tfstate",
        "region": "eu-west-1",
        "dynamodb_table": "terraform-locks"
      }}
    }}
  }}
}}
"#
    )
}

/// 400 root modules with a full backend in six formats (LF, CRLF, tabs, BOM,
/// `.tf.json`, no trailing newline), and 40 modules with a partial `backend
/// "s3" {}` whose 600 `.tfbackend` files carry the table. Some files have modes
/// other than 0644, which apply must keep.
fn big_tree() -> Tree {
    let mut files = BTreeMap::new();
    let mut planned = BTreeSet::new();
    for i in 0..400 {
        let dir = format!("live/g{}/m{i:03}", i / 50);
        let (name, text) = match i % 8 {
            3 => ("main.tf", hcl_backend(i, "\r\n", "  ")),
            4 => ("main.tf", hcl_backend(i, "\n", "\t")),
            5 => ("main.tf.json", json_backend(i)),
            6 => ("main.tf", format!("\u{feff}{}", hcl_backend(i, "\n", "  "))),
            7 => (
                "backend.tf",
                hcl_backend(i, "\n", "  ").trim_end().to_string(),
            ),
            _ => ("main.tf", hcl_backend(i, "\n", "  ")),
        };
        let rel = format!("{dir}/{name}");
        planned.insert(rel.clone());
        files.insert(rel, text.into_bytes());
    }
    for p in 0..40 {
        let dir = format!("envs/p{p:02}");
        files.insert(
            format!("{dir}/main.tf"),
            b"terraform {\n  backend \"s3\" {}\n}\n".to_vec(),
        );
        for e in 0..15 {
            let newline = if e % 3 == 1 { "\r\n" } else { "\n" };
            let mut text = [
                "bucket         = \"acme-state\"".to_string(),
                format!("key            = \"envs/p{p:02}/e{e:02}.tfstate\""),
                "region         = \"eu-west-1\"".to_string(),
                "dynamodb_table = \"terraform-locks\"".to_string(),
            ]
            .join(newline);
            if e % 5 != 4 {
                text.push_str(newline);
            }
            let rel = format!("{dir}/env/e{e:02}.s3.tfbackend");
            planned.insert(rel.clone());
            files.insert(rel, text.into_bytes());
        }
    }
    files.insert(
        "README.md".into(),
        b"# Infrastructure\n\nNot configuration.\n".to_vec(),
    );
    Tree { files, planned }
}

/// The mode a file of the big tree gets: a few are private or group-writable.
fn tree_mode(index: usize) -> u32 {
    match index % 13 {
        0 => 0o600,
        1 => 0o664,
        _ => 0o644,
    }
}

fn write_tree(root: &Path, tree: &Tree) {
    for (index, (rel, bytes)) in tree.files.iter().enumerate() {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(tree_mode(index))).unwrap();
    }
}

// ---------------------------------------------------------------------------
// 1. SIGKILL at random moments
// ---------------------------------------------------------------------------

/// How one lane's trials ended.
#[derive(Default)]
struct Tally {
    trials: usize,
    /// Kill moments drawn uniformly over the whole apply (0..1.2 T).
    uniform: usize,
    /// Kill moments drawn over the file writes: from the moment the Markdown
    /// rollback file appears, plus 0..1.2 times the time the writes take.
    anchored: usize,
    /// Kill moments drawn from the moment the rollback file appears, plus 0..1.2
    /// times the time until its Markdown twin.
    anchored_rollback_file: usize,
    /// Killed before the rollback file existed.
    before_rollback_file: usize,
    /// Killed with the rollback file written but no file replaced yet.
    before_first_file: usize,
    /// Killed with some files replaced and some not.
    during: usize,
    /// Killed after the last file was replaced, before the process ended.
    after_last_file: usize,
    /// The apply finished before the kill (it ran over leftover temp files).
    completed: usize,
    files_old: usize,
    files_new: usize,
    rollbacks: usize,
    max_temp_files: usize,
    leftovers_at_end: usize,
    plan_checks: usize,
    /// Kill moments after the start of the apply, in ms.
    kills_ms: Vec<f64>,
    /// The lane's tree: files, and files the migration rewrites.
    tree_files: usize,
    tree_planned: usize,
    /// When a full apply of this lane ended and wrote what, in ms.
    apply_ms: f64,
    rollback_file_ms: f64,
    markdown_ms: f64,
    last_file_ms: f64,
}

impl Tally {
    fn add(&mut self, o: Tally) {
        self.trials += o.trials;
        self.uniform += o.uniform;
        self.anchored += o.anchored;
        self.anchored_rollback_file += o.anchored_rollback_file;
        self.before_rollback_file += o.before_rollback_file;
        self.before_first_file += o.before_first_file;
        self.during += o.during;
        self.after_last_file += o.after_last_file;
        self.completed += o.completed;
        self.files_old += o.files_old;
        self.files_new += o.files_new;
        self.rollbacks += o.rollbacks;
        self.max_temp_files = self.max_temp_files.max(o.max_temp_files);
        self.leftovers_at_end += o.leftovers_at_end;
        self.plan_checks += o.plan_checks;
        self.kills_ms.extend(o.kills_ms);
    }
}

/// One tree and the state of its trials.
struct Harness {
    root: PathBuf,
    logs: PathBuf,
    tree: Tree,
    /// The planned files' migrated bytes, from a full apply.
    expected: BTreeMap<String, Vec<u8>>,
    baseline_plan: String,
    /// The first full apply's rollback file, its creation time blanked.
    rollback_reference: Option<Vec<u8>>,
}

/// A rollback file's bytes with its creation time (the one thing that differs
/// between two applies of the same tree) replaced by a placeholder.
fn without_created(bytes: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(bytes);
    let key = "\"created\": \"";
    let Some(start) = text.find(key).map(|i| i + key.len()) else {
        return bytes.to_vec();
    };
    let Some(len) = text[start..].find('"') else {
        return bytes.to_vec();
    };
    let created = &text[start..start + len];
    if created.is_empty() {
        return bytes.to_vec();
    }
    text.replace(created, "<created>").into_bytes()
}

impl Harness {
    fn apply_command(&self, rollback: &str, log: &Path) -> Command {
        let mut cmd = tflock_command(
            &self.root,
            &[
                "apply",
                "--skip-lock-check",
                "--auto-approve",
                "--rollback-file",
                rollback,
            ],
        );
        cmd.stdout(Stdio::null())
            .stderr(std::fs::File::create(log).unwrap());
        cmd
    }

    /// Planned files: (old, new); panics on a file that is neither.
    fn classify(&self, now: &BTreeMap<String, Vec<u8>>, what: &str) -> (usize, usize) {
        let (mut old, mut new) = (0, 0);
        for rel in &self.tree.planned {
            let bytes = now
                .get(rel)
                .unwrap_or_else(|| panic!("{what}: {rel} is missing"));
            if *bytes == self.tree.files[rel] {
                old += 1;
            } else if *bytes == self.expected[rel] {
                new += 1;
            } else {
                panic!(
                    "{what}: {rel} is neither wholly old nor wholly new ({} bytes):\n{}",
                    bytes.len(),
                    String::from_utf8_lossy(bytes)
                );
            }
        }
        (old, new)
    }

    /// Every file of the tree is as it was (bytes and mode); only temp files and
    /// `allowed` may be there besides.
    fn assert_pristine(&self, allowed: &[&str], what: &str) {
        let now: BTreeMap<String, Vec<u8>> = read_tree(&self.root).into_iter().collect();
        for (index, (rel, bytes)) in self.tree.files.iter().enumerate() {
            match now.get(rel) {
                Some(b) if b == bytes => {}
                Some(_) => panic!("{what}: {rel} does not hold its original bytes"),
                None => panic!("{what}: {rel} is missing"),
            }
            let m = mode(&self.root.join(rel));
            assert_eq!(m, tree_mode(index), "{what}: {rel} has mode {m:o}");
        }
        for rel in now.keys() {
            assert!(
                self.tree.files.contains_key(rel)
                    || is_temp_file(rel)
                    || allowed.contains(&rel.as_str()),
                "{what}: unexpected file {rel}"
            );
        }
    }

    /// A rollback file is complete: valid JSON naming every planned file with
    /// its original text, readable by its owner only. Fast path: the same bytes
    /// as the first full apply's rollback file, but for its creation time.
    fn assert_rollback_file_complete(&self, path: &Path, what: &str) {
        assert_eq!(mode(path), 0o600, "{what}: rollback file mode");
        let bytes = std::fs::read(path).unwrap();
        if self
            .rollback_reference
            .as_ref()
            .is_some_and(|r| *r == without_created(&bytes))
        {
            return;
        }
        let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "{what}: torn rollback file {} ({} bytes): {e}",
                path.display(),
                bytes.len()
            )
        });
        let files = doc["files"].as_array().expect("rollback file lists files");
        assert_eq!(
            files.len(),
            self.tree.planned.len(),
            "{what}: rollback file"
        );
        for f in files {
            let rel = f["path"].as_str().unwrap();
            assert!(self.tree.planned.contains(rel), "{what}: {rel} not planned");
            assert_eq!(
                f["original"].as_str().unwrap().as_bytes(),
                &self.tree.files[rel][..],
                "{what}: rollback file holds wrong original bytes for {rel}"
            );
        }
    }

    fn rollback(&self, rollback: &str, what: &str) {
        let out = tflock(
            &self.root,
            &["rollback", rollback, "--auto-approve", "--files-only"],
        );
        assert!(
            out.status.success(),
            "{what}: rollback failed\n{}",
            describe(&out)
        );
    }

    /// `plan --offline` with whatever temp files are lying around: no error,
    /// and the same plan as on the pristine tree.
    fn assert_plan_unchanged(&self, what: &str) {
        let out = tflock(&self.root, &["plan", "--offline"]);
        assert!(
            out.status.success(),
            "{what}: plan failed with temp files present\n{}",
            describe(&out)
        );
        assert!(
            stdout(&out) == self.baseline_plan,
            "{what}: the plan changed with temp files present:\n{}",
            tail(&stdout(&out), 3000)
        );
        let err = stderr(&out);
        assert!(
            !err.contains(".tmp") && !err.to_lowercase().contains("error"),
            "{what}: plan complained with temp files present:\n{err}"
        );
    }

    /// A full apply, timed: how long it took, and when the rollback file, its
    /// Markdown twin (the last write before the files) and the last file were
    /// written, from their modification times (polling would miss them on a
    /// loaded machine; the filesystem's clock ticks every few ms at worst).
    fn timed_full_apply(&self, rollback: &str) -> Timing {
        let log = self.logs.join("measure.log");
        let mut child = self.apply_command(rollback, &log).spawn().unwrap();
        let (start, started) = (Instant::now(), std::time::SystemTime::now());
        let status = child.wait().unwrap();
        let total = start.elapsed();
        assert!(
            status.success(),
            "full apply failed: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        let written = |rel: &str| {
            let modified = std::fs::metadata(self.root.join(rel))
                .and_then(|m| m.modified())
                .unwrap();
            modified
                .duration_since(started)
                .unwrap_or_default()
                .min(total)
        };
        Timing {
            total,
            rollback_file: written(rollback),
            markdown: written(&format!("{rollback}.md")),
            last_file: written(self.tree.planned.last().unwrap()),
        }
    }
}

/// When a full apply did what.
#[derive(Clone, Copy)]
struct Timing {
    total: Duration,
    rollback_file: Duration,
    markdown: Duration,
    last_file: Duration,
}

/// Polls every `micros` until `path` exists (Some(when)) or the child ends (None).
fn appears(
    child: &mut std::process::Child,
    path: &Path,
    micros: u64,
    what: &str,
) -> Option<Instant> {
    let start = Instant::now();
    loop {
        if path.exists() {
            return Some(Instant::now());
        }
        if child.try_wait().unwrap().is_some() {
            return None;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "{what}: apply hangs"
        );
        std::thread::sleep(Duration::from_micros(micros));
    }
}

/// When to kill the apply of one trial.
#[derive(Clone, Copy)]
enum KillAt {
    /// This long after the start.
    After(Duration),
    /// This long after the rollback file's Markdown twin appears: the files
    /// are written right after it.
    AfterMarkdown(Duration),
    /// This long after the rollback file appears.
    AfterRollbackFile(Duration),
}

/// Stops the other lanes early when this one panics.
struct StopOnPanic<'a>(&'a AtomicBool);

impl Drop for StopOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(true, Ordering::Relaxed);
        }
    }
}

/// Builds a tree below `dir`, measures a full apply, then runs `trials` trials
/// (fewer when `stop` is set: another lane failed).
fn lane(lane: usize, dir: &Path, seed: u64, trials: usize, stop: &AtomicBool) -> Tally {
    let _stop_others = StopOnPanic(stop);
    let mut rng = Rng(seed ^ (lane as u64).wrapping_mul(0xA24B_AED4_963E_E407));
    let root = dir.join(format!("repo{lane}"));
    let logs = dir.join(format!("logs{lane}"));
    std::fs::create_dir_all(&logs).unwrap();
    let tree = big_tree();
    write_tree(&root, &tree);
    assert!(tree.files.len() >= 1000 && tree.planned.len() >= 1000);

    let plan = tflock(&root, &["plan", "--offline"]);
    assert!(plan.status.success(), "plan: {}", describe(&plan));
    let baseline_plan = stdout(&plan);
    assert!(
        baseline_plan.contains(&format!("{} files to change", tree.planned.len()))
            && baseline_plan.contains(" 0 errors"),
        "the tree plans with problems:\n{}",
        tail(&baseline_plan, 3000)
    );
    let mut h = Harness {
        root,
        logs,
        tree,
        expected: BTreeMap::new(),
        baseline_plan,
        rollback_reference: None,
    };

    // Measure a full apply (twice, mean), learn the migrated bytes, and
    // check that rollback restores them.
    let mut timings = Vec::new();
    for k in 0..2 {
        let rollback = format!("measure-{k}.json");
        timings.push(h.timed_full_apply(&rollback));
        let now: BTreeMap<String, Vec<u8>> = read_tree(&h.root).into_iter().collect();
        let migrated: BTreeMap<String, Vec<u8>> = h
            .tree
            .planned
            .iter()
            .map(|rel| (rel.clone(), now[rel].clone()))
            .collect();
        if k == 0 {
            for (rel, bytes) in &migrated {
                assert_ne!(*bytes, h.tree.files[rel], "{rel} was not migrated");
            }
            h.expected = migrated;
        } else {
            assert!(
                migrated == h.expected,
                "two full applies wrote different bytes"
            );
        }
        for (index, rel) in h.tree.files.keys().enumerate() {
            let m = mode(&h.root.join(rel));
            assert_eq!(m, tree_mode(index), "apply changed the mode of {rel}");
        }
        let rollback_path = h.root.join(&rollback);
        h.assert_rollback_file_complete(&rollback_path, "full apply");
        if k == 0 {
            h.rollback_reference = Some(without_created(&std::fs::read(&rollback_path).unwrap()));
        }
        h.rollback(&rollback, "after a full apply");
        let md = format!("{rollback}.md");
        h.assert_pristine(&[&rollback, &md], "rollback after a full apply");
        std::fs::remove_file(h.root.join(&rollback)).unwrap();
        std::fs::remove_file(h.root.join(&md)).unwrap();
    }
    let mean = |f: fn(&Timing) -> Duration| (f(&timings[0]) + f(&timings[1])) / 2;
    let t = mean(|t| t.total);
    let markdown_at = mean(|t| t.markdown);
    // From the Markdown twin to the last file: the window of the file writes.
    let writes = mean(|t| t.last_file).saturating_sub(markdown_at);
    // From the rollback file to its Markdown twin: nothing replaced yet.
    let before_files = markdown_at.saturating_sub(mean(|t| t.rollback_file));
    let mut tally = Tally {
        tree_files: h.tree.files.len(),
        tree_planned: h.tree.planned.len(),
        apply_ms: t.as_secs_f64() * 1e3,
        rollback_file_ms: mean(|t| t.rollback_file).as_secs_f64() * 1e3,
        markdown_ms: markdown_at.as_secs_f64() * 1e3,
        last_file_ms: mean(|t| t.last_file).as_secs_f64() * 1e3,
        ..Tally::default()
    };

    for trial in 0..trials {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        // Even trials: uniform over the whole apply (0..1.2 T). Most odd
        // trials: uniform over the file writes (0..1.2 times the time from the
        // Markdown twin to the last file), from the moment the Markdown twin
        // of the rollback file appears. Every tenth: uniform over the gap
        // between the rollback file and its twin, from the rollback file.
        let kill_at = if trial % 2 == 0 {
            tally.uniform += 1;
            KillAt::After(t.mul_f64(rng.uniform(0.0, 1.2)))
        } else if trial % 10 == 9 {
            tally.anchored_rollback_file += 1;
            KillAt::AfterRollbackFile(before_files.mul_f64(rng.uniform(0.0, 1.2)))
        } else {
            tally.anchored += 1;
            KillAt::AfterMarkdown(writes.mul_f64(rng.uniform(0.0, 1.2)))
        };
        let what = match kill_at {
            KillAt::After(d) => {
                format!("lane {lane} trial {trial} (seed {seed}, kill {d:?} after the start)")
            }
            KillAt::AfterMarkdown(d) => {
                format!(
                    "lane {lane} trial {trial} (seed {seed}, kill {d:?} after the Markdown rollback file)"
                )
            }
            KillAt::AfterRollbackFile(d) => {
                format!(
                    "lane {lane} trial {trial} (seed {seed}, kill {d:?} after the rollback file)"
                )
            }
        };
        let rollback = format!("crash-{trial}.json");
        let md = format!("{rollback}.md");
        let rollback_path = h.root.join(&rollback);
        let markdown_path = h.root.join(&md);
        let log = h.logs.join("trial.log");
        let mut child = h.apply_command(&rollback, &log).spawn().unwrap();
        let start = Instant::now();
        let deadline = match kill_at {
            KillAt::After(d) => Some(start + d),
            // Coarse polling until the rollback file appears, fine polling for
            // its Markdown twin (tens of ms later); None: the apply ended first.
            KillAt::AfterMarkdown(d) => appears(&mut child, &rollback_path, 2000, &what)
                .and_then(|_| appears(&mut child, &markdown_path, 100, &what))
                .map(|at| at + d),
            KillAt::AfterRollbackFile(d) => {
                appears(&mut child, &rollback_path, 100, &what).map(|at| at + d)
            }
        };
        if let Some(deadline) = deadline {
            std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
        }
        let exited = match child.try_wait().unwrap() {
            Some(status) => Some(status),
            None => {
                let at = start.elapsed();
                child.kill().unwrap(); // SIGKILL
                let _ = child.wait();
                tally.kills_ms.push(at.as_secs_f64() * 1e3);
                None
            }
        };
        if let Some(status) = exited {
            assert!(
                status.success(),
                "{what}: apply failed (temp files left by earlier trials: {:?}):\n{}",
                temp_files(&h.root),
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }

        let now: BTreeMap<String, Vec<u8>> = read_tree(&h.root).into_iter().collect();
        let (old, new) = h.classify(&now, &what);
        tally.files_old += old;
        tally.files_new += new;
        let temps = now.keys().filter(|rel| is_temp_file(rel)).count();
        tally.max_temp_files = tally.max_temp_files.max(temps);
        for rel in now.keys() {
            // A killed run cannot delete its run lock file (outside git it sits
            // at the tree's root); the kernel has released the lock, and the
            // next run takes it over.
            assert!(
                h.tree.files.contains_key(rel)
                    || is_temp_file(rel)
                    || *rel == rollback
                    || *rel == md
                    || (exited.is_none() && rel == ".tflock-run.lock"),
                "{what}: unexpected file {rel}"
            );
        }
        for (index, rel) in h.tree.files.keys().enumerate() {
            let m = mode(&h.root.join(rel));
            assert_eq!(m, tree_mode(index), "{what}: {rel} has mode {m:o}");
        }
        let has_rollback = now.contains_key(&rollback);
        if exited.is_some() {
            assert_eq!(new, h.tree.planned.len(), "{what}: apply succeeded");
            tally.completed += 1;
        } else if !has_rollback {
            tally.before_rollback_file += 1;
        } else if new == 0 {
            tally.before_first_file += 1;
        } else if old == 0 {
            tally.after_last_file += 1;
        } else {
            tally.during += 1;
        }
        if !has_rollback {
            // The rollback file comes first: without it, nothing was replaced.
            assert_eq!(new, 0, "{what}: files replaced before the rollback file");
            assert!(
                !now.contains_key(&md),
                "{what}: Markdown without the rollback file"
            );
        } else {
            h.assert_rollback_file_complete(&rollback_path, &what);
            if let Some(md_bytes) = now.get(&md) {
                assert!(
                    md_bytes.starts_with(b"# tflock rollback plan"),
                    "{what}: torn Markdown rollback file"
                );
                assert_eq!(mode(&h.root.join(&md)), 0o600, "{what}: Markdown mode");
            }
            h.rollback(&rollback, &what);
            tally.rollbacks += 1;
            h.assert_pristine(&[&rollback, &md], &format!("{what}, after rollback"));
            std::fs::remove_file(&rollback_path).unwrap();
            let _ = std::fs::remove_file(h.root.join(&md));
        }
        tally.trials += 1;
        // Now and then, the temp files left so far must not change the plan.
        if (trial + 1) % 25 == 0 && temps > 0 {
            h.assert_plan_unchanged(&what);
            tally.plan_checks += 1;
        }
    }

    // The leftovers of every trial are still there: the next plan ignores them
    // and the next apply succeeds; rollback then restores the tree.
    tally.leftovers_at_end = temp_files(&h.root).len();
    h.assert_plan_unchanged(&format!("lane {lane}, after the trials"));
    tally.plan_checks += 1;
    let _ = h.timed_full_apply("final.json");
    let now: BTreeMap<String, Vec<u8>> = read_tree(&h.root).into_iter().collect();
    let (old, new) = h.classify(&now, "final apply");
    assert_eq!(
        (old, new),
        (0, h.tree.planned.len()),
        "lane {lane}: final apply over leftovers"
    );
    h.rollback("final.json", "final rollback");
    h.assert_pristine(&["final.json", "final.json.md"], "final rollback");
    tally
}

/// Two lanes (two trees, one per core) run their trials side by side, which
/// halves the run time on two cores; each lane measures its apply while the
/// other runs, so its kill moments match the load they are drawn under.
#[test]
fn sigkill_at_random_moments_leaves_every_file_old_or_new() {
    let _serial = serial();
    let started = Instant::now();
    let seed = env_u64("TFLOCK_CRASH_SEED").unwrap_or_else(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        now.as_nanos() as u64 ^ u64::from(std::process::id())
    });
    let trials = env_u64("TFLOCK_CRASH_TRIALS").unwrap_or(100) as usize;
    let lanes = 2;
    eprintln!(
        "crash: seed {seed} (rerun with TFLOCK_CRASH_SEED={seed}), {trials} trials in {lanes} lanes"
    );
    let (scratch, where_) = scratch();
    let per_lane = trials.div_ceil(lanes);
    let stop = AtomicBool::new(false);
    let tallies: Vec<Tally> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..lanes)
            .map(|l| {
                let dir = scratch.path();
                let stop = &stop;
                s.spawn(move || lane(l, dir, seed, per_lane, stop))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    let mut tally = Tally::default();
    for (l, t) in tallies.into_iter().enumerate() {
        eprintln!(
            "crash: lane {l}: {} files ({} planned) on {where_}; a full apply took {:.0} ms, \
             its rollback file appeared at {:.0} ms, the Markdown twin at {:.0} ms, the last \
             file was replaced at {:.0} ms",
            t.tree_files,
            t.tree_planned,
            t.apply_ms,
            t.rollback_file_ms,
            t.markdown_ms,
            t.last_file_ms
        );
        tally.add(t);
    }
    assert!(tally.trials >= trials);
    let mut kills = tally.kills_ms.clone();
    kills.sort_by(f64::total_cmp);
    let killed = tally.trials - tally.completed;
    let pct = |q: f64| {
        kills
            .get(((kills.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or(0.0)
    };
    eprintln!(
        "crash: {} trials ({} uniform over 0..1.2 x the apply time, {} over the file writes \
         from the moment the Markdown rollback file appeared, {} between the rollback file and \
         its Markdown twin); kill moments min {:.0} / p25 {:.0} / median {:.0} / p75 {:.0} / \
         max {:.0} ms",
        tally.trials,
        tally.uniform,
        tally.anchored,
        tally.anchored_rollback_file,
        pct(0.0),
        pct(0.25),
        pct(0.5),
        pct(0.75),
        pct(1.0),
    );
    eprintln!(
        "crash: {killed} killed: {} before the rollback file, {} after it but before the first \
         file, {} during the file writes, {} after the last file; {} finished before the kill",
        tally.before_rollback_file,
        tally.before_first_file,
        tally.during,
        tally.after_last_file,
        tally.completed,
    );
    eprintln!(
        "crash: files found old {} / new {} (none torn); {} rollbacks restored the tree byte for \
         byte; up to {} temp files at once, {} left at the end; {} plans over leftovers unchanged; \
         {:.1} s",
        tally.files_old,
        tally.files_new,
        tally.rollbacks,
        tally.max_temp_files,
        tally.leftovers_at_end,
        tally.plan_checks,
        started.elapsed().as_secs_f64()
    );
}

// ---------------------------------------------------------------------------
// Small trees for the fault cases
// ---------------------------------------------------------------------------

fn small_backend(name: &str) -> Vec<u8> {
    format!(
        "terraform {{\n  backend \"s3\" {{\n    bucket         = \"acme-state\"\n    key            = \
         \"{name}/terraform.tfstate\"\n    region         = \"eu-west-1\"\n    dynamodb_table = \
         \"terraform-locks\"\n  }}\n}}\n"
    )
    .into_bytes()
}

/// Writes `names` as root modules `<name>/main.tf` and returns every file.
fn small_tree(root: &Path, names: &[&str]) -> BTreeMap<String, Vec<u8>> {
    let files: BTreeMap<String, Vec<u8>> = names
        .iter()
        .map(|n| (format!("{n}/main.tf"), small_backend(n)))
        .collect();
    let list: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_slice()))
        .collect();
    write_files(root, &list);
    files
}

fn apply_args(rollback: &str) -> Vec<&str> {
    vec![
        "apply",
        "--skip-lock-check",
        "--auto-approve",
        "--rollback-file",
        rollback,
    ]
}

/// After a failed apply that left its rollback file: that file is complete, a
/// rollback finds nothing to restore, and a new apply will not overwrite it.
fn assert_rollback_file_still_usable(
    root: &Path,
    rollback: &str,
    files: &BTreeMap<String, Vec<u8>>,
) {
    let path = if Path::new(rollback).is_absolute() {
        PathBuf::from(rollback)
    } else {
        root.join(rollback)
    };
    let before = std::fs::read(&path).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&before).expect("complete rollback file");
    assert_eq!(doc["files"].as_array().unwrap().len(), files.len());
    let out = tflock(
        root,
        &["rollback", rollback, "--auto-approve", "--files-only"],
    );
    assert!(out.status.success(), "rollback: {}", describe(&out));
    assert!(
        stdout(&out).contains("No changes"),
        "rollback after a failed apply should find every file restored: {}",
        describe(&out)
    );
    let again = tflock(root, &apply_args(rollback));
    assert!(!again.status.success(), "apply overwrote a rollback file");
    assert!(
        stderr(&again).contains("rollback file exists"),
        "{}",
        describe(&again)
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "rollback file changed"
    );
}

// ---------------------------------------------------------------------------
// 2. Disk full
// ---------------------------------------------------------------------------

/// A file-size limit below the rollback file's size: the rollback file, written
/// first, fails with EFBIG and nothing is written. (Under a per-file limit the
/// rollback file always fails first: it holds every original, so it is larger
/// than any file of the batch; a full disk in the middle of the batch is the
/// tmpfs case below.)
#[test]
fn disk_full_file_size_limit_fails_the_rollback_file_and_writes_nothing() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let names: Vec<String> = (0..40).map(|i| format!("m{i:02}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let files = small_tree(root, &names);

    // How big the rollback file gets (on a copy), to choose the limit.
    let probe = tempfile::tempdir().unwrap();
    small_tree(probe.path(), &names);
    let out = tflock(probe.path(), &apply_args("r.json"));
    assert!(out.status.success(), "{}", describe(&out));
    let rollback_size = std::fs::metadata(probe.path().join("r.json"))
        .unwrap()
        .len();
    let largest = files.values().map(Vec::len).max().unwrap() as u64;
    // `ulimit -f` counts 512-byte blocks in POSIX shells (1024 in bash): the
    // limit lies between the largest file and the rollback file either way.
    let blocks = 8u64;
    assert!(
        blocks * 512 > largest && blocks * 1024 < rollback_size,
        "limit {blocks} blocks does not fall between {largest} and {rollback_size} bytes"
    );

    let script = format!("trap '' XFSZ; ulimit -f {blocks} && exec \"$0\" \"$@\"");
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(&script)
        .arg(common::tflock_bin())
        .args(apply_args("tflock-rollback.json"))
        .current_dir(root)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    let out = run(&mut cmd);
    let err = stderr(&out);
    eprintln!("file-size limit ({blocks} blocks): {}", err.trim());
    assert!(
        !out.status.success(),
        "apply succeeded past the limit: {}",
        describe(&out)
    );
    assert!(
        err.contains("tflock-rollback.json") && err.contains("File too large"),
        "the error should name the rollback file and the cause:\n{}",
        describe(&out)
    );
    assert_tree_is(root, &files, &[], "file-size limit");
}

/// Unmounts on drop (also when the test fails).
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let ok = run(Command::new("umount").arg(&self.0)).status.success();
        if !ok {
            let _ = run(Command::new("umount").arg("-l").arg(&self.0));
        }
    }
}

fn mount_tmpfs(dir: &Path, size: &str) -> Result<Mounted, String> {
    std::fs::create_dir_all(dir).unwrap();
    let out = run(Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(dir));
    if out.status.success() {
        Ok(Mounted(dir.to_path_buf()))
    } else {
        Err(stderr(&out).trim().to_string())
    }
}

/// A 64 KiB tmpfs that is full but for two pages: the three small files are
/// replaced, the large one after them cannot be (ENOSPC), and the three are put
/// back. The rollback file lives elsewhere, as with `--rollback-file` on
/// another disk.
#[test]
fn disk_full_tmpfs_in_the_middle_of_the_batch_restores_the_files_written() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let mnt = tmp.path().join("mnt");
    let _mounted = match mount_tmpfs(&mnt, "64k") {
        Ok(m) => m,
        Err(why) => {
            eprintln!("SKIPPED disk_full_tmpfs: cannot mount a tmpfs here: {why}");
            return;
        }
    };
    let mut files = small_tree(&mnt, &["a1", "a2", "a3"]);
    // The last file of the batch needs six pages to be rewritten.
    let mut big = small_backend("z");
    for i in 0..300 {
        big.extend_from_slice(
            format!(
                "# padding line {i:04} ........................................................\n"
            )
            .as_bytes(),
        );
    }
    assert!(big.len() > 5 * 4096);
    write_files(&mnt, &[("z/main.tf", &big)]);
    files.insert("z/main.tf".into(), big);

    // Plan first (nothing to write), then fill the disk and free two pages.
    let plan = tflock(&mnt, &["plan", "--offline"]);
    assert!(plan.status.success(), "{}", describe(&plan));
    assert!(
        stdout(&plan).contains("4 files to change"),
        "{}",
        describe(&plan)
    );
    let filler = mnt.join("filler.bin");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).unwrap();
        let chunk = [0u8; 4096];
        while f.write_all(&chunk).and_then(|_| f.sync_all()).is_ok() {}
        let len = f.metadata().unwrap().len();
        assert!(
            len >= 2 * 4096,
            "the tree leaves no room to fill ({len} bytes)"
        );
        f.set_len(len / 4096 * 4096 - 2 * 4096).unwrap();
    }
    let filler_bytes = std::fs::read(&filler).unwrap();
    files.insert("filler.bin".into(), filler_bytes);

    let rollback = tmp.path().join("tflock-rollback.json");
    let rollback = rollback.to_str().unwrap();
    let out = tflock(&mnt, &apply_args(rollback));
    let err = stderr(&out);
    eprintln!("full tmpfs: {}", err.trim());
    assert!(
        !out.status.success(),
        "apply succeeded on a full disk: {}",
        describe(&out)
    );
    assert!(
        err.contains("z/main.tf") && err.contains("No space left on device"),
        "the error should name the file and the cause:\n{}",
        describe(&out)
    );
    assert!(
        err.contains("a1/main.tf") && err.contains("a3/main.tf"),
        "the disk should fill in the middle of the batch, after a1..a3 were written:\n{}",
        describe(&out)
    );
    assert_tree_is(&mnt, &files, &[], "full tmpfs");
    assert_rollback_file_still_usable(&mnt, rollback, &files_without(&files, "filler.bin"));
}

fn files_without(files: &BTreeMap<String, Vec<u8>>, rel: &str) -> BTreeMap<String, Vec<u8>> {
    let mut files = files.clone();
    files.remove(rel);
    files
}

// ---------------------------------------------------------------------------
// 3. A read-only file
// ---------------------------------------------------------------------------

/// Undoes what made a file or folder read-only, on drop.
enum ReadOnly {
    Immutable(PathBuf),
    BindMount(PathBuf),
    Chmod(PathBuf),
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        match self {
            ReadOnly::Immutable(path) => {
                let _ = run(Command::new("chattr").arg("-i").arg(&*path));
            }
            ReadOnly::BindMount(dir) => drop(Mounted(dir.clone())),
            ReadOnly::Chmod(dir) => {
                let _ = std::fs::set_permissions(&*dir, std::fs::Permissions::from_mode(0o755));
            }
        }
    }
}

/// Makes `file` impossible to replace: immutable if the filesystem allows it,
/// else its folder bind-mounted read-only, else (not root) its folder 0555.
fn make_read_only(file: &Path) -> Result<(ReadOnly, &'static str), String> {
    let dir = file.parent().unwrap();
    let chattr = Command::new("chattr").arg("+i").arg(file).output();
    if chattr.as_ref().is_ok_and(|o| o.status.success()) {
        return Ok((ReadOnly::Immutable(file.to_path_buf()), "chattr +i"));
    }
    let d = shell_quote(dir);
    let bind = sh(&format!("mount --bind {d} {d} 2>&1"));
    if bind.status.success() {
        let guard = ReadOnly::BindMount(dir.to_path_buf());
        if sh(&format!("mount -o remount,ro,bind {d} 2>&1"))
            .status
            .success()
        {
            return Ok((guard, "read-only bind mount"));
        }
        drop(guard);
    }
    if !is_root() {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).unwrap();
        return Ok((
            ReadOnly::Chmod(dir.to_path_buf()),
            "chmod 0555 on its folder",
        ));
    }
    Err(format!(
        "chattr +i: {:?}; mount --bind: {}",
        chattr.map(|o| stderr(&o)),
        stdout(&bind)
    ))
}

#[test]
fn read_only_file_in_the_middle_of_the_batch_fails_and_restores_the_files_written() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("repo");
    let files = small_tree(&root, &["a1", "a2", "b", "c"]);
    let (_read_only, how) = match make_read_only(&root.join("b/main.tf")) {
        Ok(r) => r,
        Err(why) => {
            eprintln!("SKIPPED read_only_file: cannot make a file read-only here: {why}");
            return;
        }
    };
    let out = tflock(&root, &apply_args("tflock-rollback.json"));
    let err = stderr(&out);
    eprintln!("read-only file ({how}): {}", err.trim());
    assert!(
        !out.status.success(),
        "apply wrote a read-only file: {}",
        describe(&out)
    );
    assert!(
        err.contains("b/main.tf"),
        "the error should name the read-only file:\n{}",
        describe(&out)
    );
    assert!(
        err.contains("a1/main.tf") && err.contains("a2/main.tf"),
        "the error should say which files were written and restored:\n{}",
        describe(&out)
    );
    assert_tree_is(
        &root,
        &files,
        &["tflock-rollback.json", "tflock-rollback.json.md"],
        "read-only file",
    );
    assert_rollback_file_still_usable(&root, "tflock-rollback.json", &files);
}

// ---------------------------------------------------------------------------
// 4. A file replaced by a directory between plan and apply
// ---------------------------------------------------------------------------

#[test]
fn file_replaced_by_a_directory_between_plan_and_apply_is_refused_and_nothing_written() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("repo");
    let mut files = small_tree(&root, &["a", "b", "c"]);
    let planfile = tmp.path().join("plan.json");
    let out = tflock(
        &root,
        &["plan", "--offline", "--out", planfile.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", describe(&out));

    std::fs::remove_file(root.join("b/main.tf")).unwrap();
    std::fs::create_dir(root.join("b/main.tf")).unwrap();
    files.remove("b/main.tf");

    let rollback = tmp.path().join("tflock-rollback.json");
    let out = tflock(
        &root,
        &[
            "apply",
            "--plan",
            planfile.to_str().unwrap(),
            "--skip-lock-check",
            "--auto-approve",
            "--rollback-file",
            rollback.to_str().unwrap(),
        ],
    );
    eprintln!("file replaced by a directory: {}", stderr(&out).trim());
    assert!(
        !out.status.success(),
        "apply wrote over a directory: {}",
        describe(&out)
    );
    assert!(
        stderr(&out).contains("b/main.tf"),
        "the error should name the file that became a directory:\n{}",
        describe(&out)
    );
    assert_tree_is(&root, &files, &[], "file replaced by a directory");
    assert!(root.join("b/main.tf").is_dir());
    assert!(
        std::fs::read_dir(root.join("b/main.tf"))
            .unwrap()
            .next()
            .is_none(),
        "something was written into the directory"
    );
    assert!(!rollback.exists(), "a rollback file was written");
    assert!(!tmp.path().join("tflock-rollback.json.md").exists());
}
