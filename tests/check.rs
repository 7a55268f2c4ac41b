//! `tflock check`, the CI gate (issue 16), on fixture trees: exit codes,
//! `path:line:col` findings for backends, readers and init-time overrides,
//! JSON and GitHub annotations, allow files and inline markers; and the
//! pre-commit hook (`.pre-commit-hooks.yaml`) run by the real `pre-commit`.

mod common;

use common::{
    apply_offline, code, output_within, stderr, stdout, tflock, tflock_command, unavailable,
    write_files,
};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;
use tempfile::TempDir;

const DYNAMO: &str = r#"terraform {
  backend "s3" {
    bucket         = "acme-state"
    key            = "app/terraform.tfstate"
    region         = "eu-west-1"
    dynamodb_table = "acme-locks"
  }
}
"#;

const LOCKFILE: &str = r#"terraform {
  backend "s3" {
    bucket       = "acme-state"
    key          = "net/terraform.tfstate"
    region       = "eu-west-1"
    use_lockfile = true
  }
}
"#;

const READER: &str = r#"data "terraform_remote_state" "net" {
  backend = "s3"
  config = {
    bucket         = "acme-state"
    key            = "net/terraform.tfstate"
    region         = "eu-west-1"
    dynamodb_table = "acme-locks"
  }
}
"#;

const DEPLOY_SH: &str =
    "#!/bin/sh\nset -e\nterraform init -backend-config=dynamodb_table=acme-locks\n";

fn tree(files: &[(&str, &str)]) -> TempDir {
    let dir = TempDir::new().unwrap();
    let files: Vec<(&str, &[u8])> = files.iter().map(|(p, t)| (*p, t.as_bytes())).collect();
    write_files(dir.path(), &files);
    dir
}

#[test]
fn clean_tree_passes_with_exit_0() {
    let dir = tree(&[("net/main.tf", LOCKFILE)]);
    let out = tflock(dir.path(), &["check"]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert_eq!(stdout(&out), "");
    assert!(stderr(&out).contains("passed"), "{}", stderr(&out));
}

#[test]
fn every_kind_of_dynamodb_use_fails_with_its_location() {
    let dir = tree(&[
        ("app/main.tf", DYNAMO),
        ("net/main.tf", LOCKFILE),
        ("consumer/data.tf", READER),
        ("ci/deploy.sh", DEPLOY_SH),
    ]);
    let out = tflock(dir.path(), &["check"]);
    assert_eq!(code(&out), 1, "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].starts_with("app/main.tf:6:5: terraform backend still locks with DynamoDB"),
        "{text}"
    );
    assert!(
        lines[1]
            .starts_with("ci/deploy.sh:3:16: init-time override passes dynamodb_table=acme-locks"),
        "{text}"
    );
    assert!(
        lines[2].starts_with(
            "consumer/data.tf:7:5: terraform_remote_state \"net\" still names dynamodb_table"
        ),
        "{text}"
    );
    assert!(
        stderr(&out).contains("failed: 3 place(s)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn check_passes_after_apply() {
    let dir = tree(&[("app/main.tf", DYNAMO), ("consumer/data.tf", READER)]);
    assert_eq!(code(&tflock(dir.path(), &["check"])), 1);
    apply_offline(dir.path());
    let out = tflock(dir.path(), &["check"]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
}

#[test]
fn json_output_lists_findings_with_format_version() {
    let dir = tree(&[("app/main.tf", DYNAMO), ("net/main.tf", LOCKFILE)]);
    let out = tflock(dir.path(), &["check", "--format", "json"]);
    assert_eq!(code(&out), 1);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(doc["format_version"], "1");
    assert_eq!(doc["passed"], false);
    assert_eq!(doc["summary"]["backends"], 2);
    assert_eq!(doc["findings"][0]["path"], "app/main.tf");
    assert_eq!(doc["findings"][0]["line"], 6);
    assert_eq!(doc["findings"][0]["subject"], "backend");
    assert_eq!(doc["findings"][0]["allowed"], serde_json::Value::Null);
}

#[test]
fn github_annotations_by_flag_and_inside_github_actions() {
    let dir = tree(&[("app/main.tf", DYNAMO)]);
    let want = "::error file=app/main.tf,line=6,col=5,title=tflock check::terraform backend still locks with DynamoDB";
    let out = tflock(dir.path(), &["check", "--format", "github"]);
    assert!(stdout(&out).starts_with(want), "{}", stdout(&out));
    // stdout is a pipe here, as in a workflow's log.
    let mut cmd = tflock_command(dir.path(), &["check"]);
    cmd.env("GITHUB_ACTIONS", "true");
    let out = output_within(&mut cmd, Duration::from_secs(60));
    assert_eq!(code(&out), 1);
    assert!(stdout(&out).starts_with(want), "{}", stdout(&out));
    // An explicit format wins.
    let mut cmd = tflock_command(dir.path(), &["check", "--format", "text"]);
    cmd.env("GITHUB_ACTIONS", "true");
    let out = output_within(&mut cmd, Duration::from_secs(60));
    assert!(
        stdout(&out).starts_with("app/main.tf:6:5: "),
        "{}",
        stdout(&out)
    );
}

#[test]
fn allow_file_and_inline_marker_report_allowed_and_pass() {
    let inline = format!("# tflock:allow the billing account keeps its table\n{DYNAMO}");
    let dir = tree(&[
        ("legacy/main.tf", DYNAMO),
        ("billing/main.tf", &inline),
        (
            "allow.txt",
            "# backends kept on DynamoDB\nlegacy/** shared with the 0.12 pipeline\n",
        ),
    ]);
    let out = tflock(dir.path(), &["check"]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    assert!(
        stdout(&out).contains("billing/main.tf:7:5: allowed (the billing account keeps its table)")
    );
    assert!(stdout(&out).contains("legacy/main.tf:6:5: terraform backend"));

    let out = tflock(dir.path(), &["check", "--allow", "allow.txt"]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("legacy/main.tf:6:5: allowed (shared with the 0.12 pipeline): "),
        "{}",
        stdout(&out)
    );
    assert!(stderr(&out).contains("(2 allowed)"), "{}", stderr(&out));
}

#[test]
fn bad_allow_file_is_an_error_with_its_location() {
    let dir = tree(&[("net/main.tf", LOCKFILE), ("allow.txt", "legacy/**\n")]);
    let out = tflock(dir.path(), &["check", "--allow", "allow.txt"]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("allow.txt:1:1: `legacy/**` needs a reason"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn unparseable_file_fails_closed() {
    let dir = tree(&[(
        "bad/main.tf",
        "terraform {\n  backend \"s3\" {\n    bucket = \n",
    )]);
    let out = tflock(dir.path(), &["check"]);
    assert_eq!(code(&out), 1);
    assert!(stdout(&out).starts_with("bad/main.tf:"), "{}", stdout(&out));
    assert!(stdout(&out).contains("cannot tell"), "{}", stdout(&out));
}

#[test]
fn named_files_only_are_checked() {
    let dir = tree(&[("app/main.tf", DYNAMO), ("net/main.tf", LOCKFILE)]);
    assert_eq!(code(&tflock(dir.path(), &["check", "net/main.tf"])), 0);
    assert_eq!(
        code(&tflock(
            dir.path(),
            &["check", "app/main.tf", "net/main.tf"]
        )),
        1
    );
}

// ---------------------------------------------------------------------------
// pre-commit

/// The `pre-commit` of the test virtualenv (TFLOCK_TEST_PRECOMMIT, set by
/// scripts/test.sh), else one on PATH.
fn pre_commit(test: &str) -> Option<PathBuf> {
    let found = std::env::var_os("TFLOCK_TEST_PRECOMMIT")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| common::on_path("pre-commit"));
    if found.is_none() {
        unavailable(
            test,
            "pre-commit is not installed (scripts/test.sh installs it)",
        );
    }
    found
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("git");
    assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
}

/// A hook repository built from this repository's `.pre-commit-hooks.yaml`, its
/// `rust` hook turned into a `system` one running the tflock these tests built.
///
/// pre-commit's `rust` language would `cargo install` tflock (a release build of
/// the AWS SDK, many minutes on a CI runner): the test keeps every other field
/// of the published hook (id, files, pass_filenames, ...) exactly as users get it.
fn hook_repo(root: &Path) -> PathBuf {
    let published = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(".pre-commit-hooks.yaml"),
    )
    .expect(".pre-commit-hooks.yaml at the repository root");
    assert!(published.contains("id: tflock-check"), "{published}");
    assert!(published.contains("language: rust"), "{published}");
    assert!(published.contains("entry: tflock check"), "{published}");
    let local = published
        .replace("language: rust", "language: system")
        .replace(
            "entry: tflock check",
            &format!("entry: {} check", common::tflock_bin().display()),
        );
    let repo = root.join("hooks");
    write_files(&repo, &[(".pre-commit-hooks.yaml", local.as_bytes())]);
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "."]);
    git(
        &repo,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-q",
            "-m",
            "hooks",
        ],
    );
    repo
}

fn try_repo(pre_commit: &Path, work: &Path, hooks: &Path, home: &Path) -> Output {
    let mut cmd = Command::new(pre_commit);
    cmd.args(["try-repo", &hooks.display().to_string(), "tflock-check"])
        .current_dir(work)
        .env("PRE_COMMIT_HOME", home)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_ACTIONS");
    output_within(&mut cmd, Duration::from_secs(180))
}

#[test]
fn pre_commit_hook_fails_on_a_staged_dynamodb_backend_and_passes_after_apply() {
    let test = "pre_commit_hook_fails_on_a_staged_dynamodb_backend_and_passes_after_apply";
    let Some(pre_commit) = pre_commit(test) else {
        return;
    };
    let root = TempDir::new().unwrap();
    let hooks = hook_repo(root.path());
    let work = root.path().join("work");
    write_files(
        &work,
        &[
            ("app/main.tf", DYNAMO.as_bytes()),
            ("README.md", b"# infra\n"),
        ],
    );
    git(&work, &["init", "-q", "-b", "main"]);
    git(&work, &["add", "."]);
    let home = root.path().join("pre-commit-home");

    let out = try_repo(&pre_commit, &work, &hooks, &home);
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert_eq!(
        code(&out),
        1,
        "the hook let a DynamoDB backend through:\n{all}"
    );
    assert!(
        all.contains("app/main.tf:6:5: terraform backend still locks with DynamoDB"),
        "{all}"
    );

    let applied = tflock(
        &work,
        &[
            "apply",
            "--skip-lock-check",
            "--auto-approve",
            "--keep-digests",
            "--rollback-file",
            "../rb.json",
        ],
    );
    assert_eq!(
        code(&applied),
        0,
        "{}{}",
        stdout(&applied),
        stderr(&applied)
    );
    git(&work, &["add", "."]);
    let out = try_repo(&pre_commit, &work, &hooks, &home);
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert_eq!(code(&out), 0, "the hook failed after the migration:\n{all}");
    assert!(all.contains("Passed"), "{all}");
}
