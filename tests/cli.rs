//! End-to-end tests of the real `tflock` binary's command-line behaviour: refusals,
//! exit codes, text and JSON output, patches, saved plans, apply and rollback.
//!
//! Every test builds its own small tree in a temp dir, so it does not depend on
//! the shared `fixtures/` folder.

mod common;

use common::{read_tree, stderr, stdout, write_files};
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;
use tempfile::TempDir;

// ---------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------

/// A classic aligned backend with DynamoDB locking.
const APP_TF: &str = r#"# The application's state.
terraform {
  required_version = ">= 1.10"

  backend "s3" {
    bucket         = "acme-state"
    key            = "app/terraform.tfstate"
    region         = "us-east-1"
    dynamodb_table = "acme-locks"
    encrypt        = true
  }
}

resource "aws_s3_bucket" "logs" {
  bucket = "acme-logs"
}
"#;

/// A partial configuration without a trailing newline.
const PROD_TFBACKEND: &str =
    "bucket = \"acme-state\"\nkey = \"prod/terraform.tfstate\"\ndynamodb_table = \"acme-locks\"";

/// A backend whose key is not a literal.
const VARS_TF: &str = r#"terraform {
  backend "s3" {
    bucket         = "acme-state"
    key            = var.k
    dynamodb_table = "acme-locks"
  }
}
"#;

/// Terragrunt with a key that is a template expression.
const TERRAGRUNT_HCL: &str = r#"remote_state {
  backend = "s3"
  config = {
    bucket               = "acme-tg"
    key                  = "${path_relative_to_include()}/tf.tfstate"
    region               = "eu-west-1"
    dynamodb_table       = "acme-tg-locks"
    workspace_key_prefix = "envs"
  }
}
"#;

const DONE_TF: &str = r#"terraform {
  backend "s3" {
    bucket       = "acme-state"
    key          = "done/terraform.tfstate"
    use_lockfile = true
  }
}
"#;

const PLAIN_TF: &str = r#"terraform {
  backend "s3" {
    bucket = "acme-state"
    key    = "plain/terraform.tfstate"
  }
}
"#;

const BROKEN_TF: &str = "terraform {\n  backend \"s3\" {\n    bucket = \n";

fn crlf(text: &str) -> String {
    text.replace('\n', "\r\n")
}

fn bom(text: &str) -> String {
    format!("\u{feff}{text}")
}

/// A tree with every kind of backend, CRLF, a BOM and a missing trailing newline:
/// five files to change, one already migrated, one without DynamoDB locking.
fn sample_tree() -> TempDir {
    let dir = TempDir::new().unwrap();
    let crlf_tf = crlf(APP_TF);
    let bom_tf = bom(VARS_TF);
    write_files(
        dir.path(),
        &[
            ("live/app/main.tf", APP_TF.as_bytes()),
            ("live/app/prod.tfbackend", PROD_TFBACKEND.as_bytes()),
            ("live/crlf/main.tf", crlf_tf.as_bytes()),
            ("live/bom/main.tf", bom_tf.as_bytes()),
            ("live/tg/terragrunt.hcl", TERRAGRUNT_HCL.as_bytes()),
            ("done/main.tf", DONE_TF.as_bytes()),
            ("plain/main.tf", PLAIN_TF.as_bytes()),
            ("README.md", b"# not configuration\n"),
        ],
    );
    dir
}

/// The files `sample_tree` plans to change.
const SAMPLE_CHANGED: &[&str] = &[
    "live/app/main.tf",
    "live/app/prod.tfbackend",
    "live/bom/main.tf",
    "live/crlf/main.tf",
    "live/tg/terragrunt.hcl",
];

fn tree_with(files: &[(&str, &str)]) -> TempDir {
    let dir = TempDir::new().unwrap();
    let files: Vec<(&str, &[u8])> = files.iter().map(|(p, t)| (*p, t.as_bytes())).collect();
    write_files(dir.path(), &files);
    dir
}

// ---------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------

const LIMIT: Duration = Duration::from_secs(120);

fn assert_no_panic(out: &Output) {
    let err = stderr(out);
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "tflock panicked:\n{err}"
    );
}

/// Runs tflock in `dir` (no colour, null stdin) and checks that it did not panic.
fn run(dir: &Path, args: &[&str]) -> Output {
    let out = common::output_within(&mut common::tflock_command(dir, args), LIMIT);
    assert_no_panic(&out);
    out
}

fn code(out: &Output) -> i32 {
    out.status
        .code()
        .unwrap_or_else(|| panic!("killed by a signal: {:?}\n{}", out.status, stderr(out)))
}

fn assert_code(out: &Output, expected: i32) {
    assert_eq!(
        code(out),
        expected,
        "unexpected exit code\n--- stdout:\n{}\n--- stderr:\n{}",
        stdout(out),
        stderr(out)
    );
}

fn has_ansi(text: &str) -> bool {
    text.contains('\x1b')
}

/// A second temp dir for files that must not land inside the planned tree.
fn outside() -> TempDir {
    TempDir::new().unwrap()
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

fn apply_auto(dir: &Path, rollback: &Path) -> Output {
    run(
        dir,
        &[
            "apply",
            "--skip-lock-check",
            "--auto-approve",
            "--rollback-file",
            path_str(rollback),
        ],
    )
}

/// Names of the files in `dir` that look like default rollback files.
fn default_rollback_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("tflock-rollback") && n.ends_with(".json"))
        .collect()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

// ---------------------------------------------------------------------------
// Without an emulator, lock checks fail closed
// ---------------------------------------------------------------------------

/// Runs tflock with AWS pointed at a loopback port where nothing listens (and no
/// real AWS configuration or credentials), so every lock check fails.
fn run_unreachable(dir: &Path, args: &[&str]) -> Output {
    let endpoint = common::aws::closed_endpoint();
    let mut cmd = common::run::tflock_cmd(dir, &endpoint, args);
    let out = common::output_within(&mut cmd, LIMIT);
    assert_no_panic(&out);
    out
}

#[test]
fn plan_without_offline_fails_closed_when_aws_is_unreachable() {
    let dir = sample_tree();
    let before = read_tree(dir.path());
    let out = run_unreachable(dir.path(), &["plan", "--aws-timeout", "5"]);
    assert_code(&out, 1);
    let text = stdout(&out);
    assert!(text.contains("-> blocked"), "nothing blocked:\n{text}");
    assert!(text.contains("unverified"), "no reason given:\n{text}");
    assert!(
        !text.contains("-> migrate"),
        "a backend passed unverified:\n{text}"
    );
    assert!(!text.contains("+++ b/"), "a change was planned:\n{text}");
    assert_eq!(
        read_tree(dir.path()),
        before,
        "plan without --offline wrote"
    );
}

#[test]
fn apply_without_skip_lock_check_fails_closed_and_writes_nothing() {
    let dir = sample_tree();
    let before = read_tree(dir.path());
    let out = run_unreachable(
        dir.path(),
        &[
            "apply",
            "--auto-approve",
            "--aws-timeout",
            "5",
            "--rollback-file",
            "rb.json",
        ],
    );
    assert_code(&out, 1);
    let text = stdout(&out);
    assert!(text.contains("-> blocked"), "nothing blocked:\n{text}");
    assert!(text.contains("unverified"), "no reason given:\n{text}");
    assert_eq!(
        read_tree(dir.path()),
        before,
        "files or rollback file written"
    );
    assert!(!dir.path().join("rb.json").exists());
    assert!(default_rollback_files(dir.path()).is_empty());
}

#[test]
fn apply_without_auto_approve_on_non_terminal_stdin_refuses_without_hanging() {
    let dir = sample_tree();
    let before = read_tree(dir.path());
    // stdin is null: nobody can answer. `run` kills the process if it hangs.
    let out = run(
        dir.path(),
        &["apply", "--skip-lock-check", "--rollback-file", "rb.json"],
    );
    assert_code(&out, 1);
    let err = stderr(&out);
    assert!(err.contains("--auto-approve"), "no hint: {err}");
    assert!(err.to_lowercase().contains("terminal"), "no reason: {err}");
    assert_eq!(
        read_tree(dir.path()),
        before,
        "apply wrote without approval"
    );
    assert!(default_rollback_files(dir.path()).is_empty());
}

// ---------------------------------------------------------------------------
// Exit codes
// ---------------------------------------------------------------------------

#[test]
fn plan_offline_exits_0_with_and_without_changes() {
    let changes = sample_tree();
    let out = run(changes.path(), &["plan", "--offline"]);
    assert_code(&out, 0);
    assert!(stdout(&out).contains("+++ b/live/app/main.tf"));

    let settled = tree_with(&[("done/main.tf", DONE_TF), ("plain/main.tf", PLAIN_TF)]);
    let out = run(settled.path(), &["plan", "--offline"]);
    assert_code(&out, 0);
    assert!(!stdout(&out).contains("+++ "));

    let empty = tree_with(&[("README.md", "nothing\n")]);
    assert_code(&run(empty.path(), &["plan", "--offline"]), 0);
}

#[test]
fn detailed_exitcode_is_2_with_changes_and_0_without() {
    let changes = sample_tree();
    let out = run(
        changes.path(),
        &["plan", "--offline", "--detailed-exitcode"],
    );
    assert_code(&out, 2);
    let out = run(
        changes.path(),
        &[
            "plan",
            "--offline",
            "--detailed-exitcode",
            "--format",
            "json",
        ],
    );
    assert_code(&out, 2);

    let settled = tree_with(&[("done/main.tf", DONE_TF), ("plain/main.tf", PLAIN_TF)]);
    let out = run(
        settled.path(),
        &["plan", "--offline", "--detailed-exitcode"],
    );
    assert_code(&out, 0);
}

#[test]
fn an_input_error_exits_1_even_with_detailed_exitcode_and_other_files_are_planned() {
    let dir = sample_tree();
    write_files(dir.path(), &[("broken/main.tf", BROKEN_TF.as_bytes())]);
    let before = read_tree(dir.path());

    for extra in [&[][..], &["--detailed-exitcode"][..]] {
        let mut args = vec!["plan", "--offline"];
        args.extend_from_slice(extra);
        let out = run(dir.path(), &args);
        assert_code(&out, 1);
        let err = stderr(&out);
        // `path:line:col: message`
        assert!(
            err.lines().any(|l| l.starts_with("broken/main.tf:3:")),
            "no path:line:col for the broken file:\n{err}"
        );
        let text = stdout(&out);
        for path in SAMPLE_CHANGED {
            assert!(
                text.contains(&format!("+++ b/{path}")),
                "{path} was not planned next to the broken file:\n{text}"
            );
        }
        assert!(
            text.contains("1 error"),
            "summary misses the error:\n{text}"
        );
    }
    assert_eq!(read_tree(dir.path()), before);
}

// ---------------------------------------------------------------------------
// Text output
// ---------------------------------------------------------------------------

#[test]
fn text_output_has_unified_diffs_and_a_summary_line() {
    let dir = sample_tree();
    let out = run(dir.path(), &["plan", "--offline"]);
    assert_code(&out, 0);
    let text = stdout(&out);
    for path in SAMPLE_CHANGED {
        assert!(
            text.contains(&format!("\n--- a/{path}\n+++ b/{path}\n")),
            "{text}"
        );
    }
    for unchanged in ["done/main.tf", "plain/main.tf"] {
        assert!(!text.contains(&format!("+++ b/{unchanged}")), "{text}");
    }
    assert!(text.contains("\n@@ -"), "no hunk header:\n{text}");
    assert!(
        text.contains("\n-    dynamodb_table = \"acme-locks\"\n"),
        "{text}"
    );
    assert!(text.contains("\n+    use_lockfile = true\n"), "{text}");
    let summary = text
        .lines()
        .find(|l| l.starts_with("Plan:"))
        .unwrap_or_else(|| panic!("no `Plan:` summary line:\n{text}"));
    assert!(summary.contains("5 to migrate"), "{summary}");
    assert!(summary.contains("1 already migrated"), "{summary}");
    assert!(summary.contains("0 errors"), "{summary}");
    assert!(summary.contains("5 files to change"), "{summary}");
    assert!(!has_ansi(&text));
}

#[test]
fn paths_are_relative_to_the_current_dir_with_a_subdirectory_argument() {
    let dir = sample_tree();

    // From the root, naming a subdirectory (also as `./live/` and absolute).
    let absolute = dir.path().join("live");
    for arg in ["live", "./live/", path_str(&absolute)] {
        let out = run(dir.path(), &["plan", "--offline", arg]);
        assert_code(&out, 0);
        let text = stdout(&out);
        for path in SAMPLE_CHANGED {
            assert!(
                text.contains(&format!("--- a/{path}\n+++ b/{path}\n")),
                "plan {arg}: {path} not shown relative to the current dir:\n{text}"
            );
        }
        assert!(!text.contains("done/main.tf"), "plan {arg} went outside it");
        for header in text
            .lines()
            .filter(|l| l.starts_with("--- ") || l.starts_with("+++ "))
        {
            assert!(!header.contains('\\'), "backslash in a path: {header}");
            assert!(!header.contains("./"), "`./` in a path: {header}");
        }
    }

    // From inside a subdirectory, naming one below it.
    let live = dir.path().join("live");
    let out = run(&live, &["plan", "--offline", "app"]);
    assert_code(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains("--- a/app/main.tf\n+++ b/app/main.tf\n"),
        "{text}"
    );
    assert!(text.contains("+++ b/app/prod.tfbackend\n"), "{text}");
    assert!(!text.contains("live/"), "{text}");

    // Same paths in the JSON document.
    let out = run(&live, &["plan", "--offline", "--format", "json", "app"]);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let files: Vec<&str> = doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["app/main.tf", "app/prod.tfbackend"]);
}

#[test]
fn no_colour_with_no_color_env_with_flag_or_into_a_pipe() {
    let dir = sample_tree();
    // NO_COLOR set (the helper sets it).
    let out = run(dir.path(), &["plan", "--offline"]);
    assert!(stdout(&out).contains("+++ b/"));
    assert!(!has_ansi(&stdout(&out)) && !has_ansi(&stderr(&out)));

    // --no-color, before and after the subcommand, without NO_COLOR.
    for args in [
        &["plan", "--offline", "--no-color"][..],
        &["--no-color", "plan", "--offline"][..],
        &["plan", "--offline"][..],
    ] {
        let mut cmd = common::tflock_command(dir.path(), args);
        cmd.env_remove("NO_COLOR");
        // stdout is a pipe here, so even without --no-color there is no colour.
        let out = common::output_within(&mut cmd, LIMIT);
        assert_no_panic(&out);
        assert_code(&out, 0);
        assert!(stdout(&out).contains("+++ b/"));
        assert!(!has_ansi(&stdout(&out)), "{args:?}: ANSI codes in a pipe");
        assert!(!has_ansi(&stderr(&out)), "{args:?}: ANSI codes in stderr");
    }
}

/// Runs tflock under a pseudo-terminal with `script(1)`, when it is installed
/// (on CI it must be: see `common::script`).
fn run_on_terminal(test: &str, dir: &Path, args: &str, no_color_env: bool) -> Option<String> {
    let script = common::script(test)?;
    let bin = common::tflock_bin();
    let command = format!("'{}' {args}", bin.display());
    let mut cmd = Command::new(script);
    cmd.args(["-qec", &command, "/dev/null"])
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TERM", "xterm")
        .stdin(std::process::Stdio::null());
    if no_color_env {
        cmd.env("NO_COLOR", "1");
    }
    let out = common::output_within(&mut cmd, LIMIT);
    if !out.status.success() && stdout(&out).is_empty() {
        common::unavailable(test, "script(1) could not open a terminal here");
        return None;
    }
    assert_no_panic(&out);
    Some(stdout(&out))
}

#[test]
fn colour_on_a_terminal_only_unless_disabled() {
    let dir = sample_tree();
    let test = "colour_on_a_terminal_only_unless_disabled";
    let Some(coloured) = run_on_terminal(test, dir.path(), "plan --offline", false) else {
        return;
    };
    assert!(
        has_ansi(&coloured),
        "no colour on a terminal (control for the checks below):\n{coloured}"
    );
    let flag = run_on_terminal(test, dir.path(), "plan --offline --no-color", false).unwrap();
    assert!(flag.contains("+++ b/live/app/main.tf"), "{flag}");
    assert!(
        !has_ansi(&flag),
        "--no-color ignored on a terminal:\n{flag}"
    );
    let env = run_on_terminal(test, dir.path(), "plan --offline", true).unwrap();
    assert!(env.contains("+++ b/live/app/main.tf"), "{env}");
    assert!(!has_ansi(&env), "NO_COLOR ignored on a terminal:\n{env}");
}

// ---------------------------------------------------------------------------
// JSON output
// ---------------------------------------------------------------------------

fn json_plan(dir: &Path, args: &[&str]) -> (Output, serde_json::Value) {
    let mut all = vec!["plan", "--offline", "--format", "json"];
    all.extend_from_slice(args);
    let out = run(dir, &all);
    let doc = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", stdout(&out)));
    (out, doc)
}

fn backend<'a>(doc: &'a serde_json::Value, file: &str) -> &'a serde_json::Value {
    doc["backends"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["file"] == file)
        .unwrap_or_else(|| panic!("no backend in {file}: {doc:#}"))
}

#[test]
fn json_output_has_the_contract_fields() {
    let dir = sample_tree();
    write_files(dir.path(), &[("broken/main.tf", BROKEN_TF.as_bytes())]);
    let (out, doc) = json_plan(dir.path(), &[]);
    assert_code(&out, 1);
    assert_eq!(doc["format_version"], "1");

    let backends = doc["backends"].as_array().expect("backends[]");
    assert_eq!(backends.len(), 7, "{doc:#}");
    for b in backends {
        for field in [
            "file",
            "line",
            "kind",
            "bucket",
            "key",
            "dynamodb_table",
            "workspace_key_prefix",
            "action",
        ] {
            assert!(b.get(field).is_some(), "backend without {field}: {b}");
        }
        assert!(b["line"].as_u64().is_some_and(|l| l >= 1), "{b}");
        let action = b["action"].as_str().unwrap();
        assert!(
            ["migrate", "already-migrated", "none", "error"].contains(&action),
            "unknown action {action}"
        );
    }

    let app = backend(&doc, "live/app/main.tf");
    assert_eq!(app["line"], 5);
    assert_eq!(app["kind"], "terraform");
    assert_eq!(app["bucket"], "acme-state");
    assert_eq!(app["key"], "app/terraform.tfstate");
    assert_eq!(app["dynamodb_table"], "acme-locks");
    assert_eq!(app["action"], "migrate");

    let tfbackend = backend(&doc, "live/app/prod.tfbackend");
    assert_eq!(tfbackend["kind"], "tfbackend");
    assert_eq!(tfbackend["key"], "prod/terraform.tfstate");

    let tg = backend(&doc, "live/tg/terragrunt.hcl");
    assert_eq!(tg["kind"], "terragrunt");
    assert_eq!(tg["line"], 1);
    assert_eq!(tg["workspace_key_prefix"], "envs");
    assert_eq!(tg["dynamodb_table"], "acme-tg-locks");
    let key = tg["key"]
        .as_str()
        .expect("template key as its expression text");
    assert!(
        key.contains("${path_relative_to_include()}/tf.tfstate"),
        "template key not shown as its expression text: {key}"
    );

    let vars = backend(&doc, "live/bom/main.tf");
    assert_eq!(vars["key"], "var.k", "variable key not shown as expression");

    assert_eq!(backend(&doc, "done/main.tf")["action"], "already-migrated");
    assert_eq!(
        backend(&doc, "done/main.tf")["dynamodb_table"],
        serde_json::Value::Null
    );
    assert_eq!(backend(&doc, "plain/main.tf")["action"], "none");

    let files = doc["files"].as_array().expect("files[]");
    for f in files {
        assert!(f["path"].is_string() && f["diff"].is_string(), "{f}");
        let path = f["path"].as_str().unwrap();
        let changed = f["changed"].as_bool().expect("changed is a bool");
        assert_eq!(changed, SAMPLE_CHANGED.contains(&path), "{f}");
        let diff = f["diff"].as_str().unwrap();
        if changed {
            assert!(
                diff.starts_with(&format!("--- a/{path}\n+++ b/{path}\n")),
                "{diff}"
            );
        } else {
            assert_eq!(diff, "");
        }
    }
    for path in SAMPLE_CHANGED {
        assert!(
            files.iter().any(|f| f["path"] == *path),
            "{path} not in files[]"
        );
    }

    let errors = doc["errors"].as_array().expect("errors[]");
    assert_eq!(errors.len(), 1, "{doc:#}");
    assert_eq!(errors[0]["path"], "broken/main.tf");
    assert_eq!(errors[0]["line"], 3);
    assert!(errors[0]["column"].as_u64().is_some_and(|c| c >= 1));
    assert!(!errors[0]["message"].as_str().unwrap().is_empty());

    let summary = &doc["summary"];
    assert!(summary.is_object(), "summary is not an object: {summary}");
    assert_eq!(summary["migrate"], 5);
    assert_eq!(summary["already_migrated"], 1);
    assert_eq!(summary["none"], 1);
    assert_eq!(summary["files_changed"], 5);
    assert_eq!(summary["errors"], 1);
}

#[test]
fn json_action_error_for_a_backend_that_cannot_be_planned() {
    // With `dual`, a one-line backend block cannot take a second attribute.
    let dir = tree_with(&[(
        "one/main.tf",
        "terraform {\n  backend \"s3\" { dynamodb_table = \"t\" }\n}\n",
    )]);
    let before = read_tree(dir.path());
    let (out, doc) = json_plan(dir.path(), &["--strategy", "dual"]);
    assert_code(&out, 1);
    let b = backend(&doc, "one/main.tf");
    assert_eq!(b["action"], "error");
    assert_eq!(b["dynamodb_table"], "t");
    assert_eq!(doc["errors"][0]["path"], "one/main.tf");
    assert_eq!(doc["errors"][0]["line"], 2);
    assert_eq!(doc["summary"]["error"], 1);
    assert_eq!(read_tree(dir.path()), before);
}

#[test]
fn json_document_snapshot() {
    let dir = tree_with(&[
        ("app/main.tf", APP_TF),
        ("app/prod.tfbackend", PROD_TFBACKEND),
        ("vars/main.tf", VARS_TF),
        ("tg/terragrunt.hcl", TERRAGRUNT_HCL),
        ("done/main.tf", DONE_TF),
        ("plain/main.tf", PLAIN_TF),
        ("broken/main.tf", BROKEN_TF),
    ]);
    let (out, _) = json_plan(dir.path(), &[]);
    assert_code(&out, 1);
    insta::assert_snapshot!("plan_json", stdout(&out));
}

// ---------------------------------------------------------------------------
// --patch
// ---------------------------------------------------------------------------

fn git(dir: &Path, args: &[&str]) -> Output {
    Command::new("git")
        .args(["-c", "core.autocrlf=false", "-c", "core.safecrlf=false"])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("run git")
}

#[test]
fn patch_applies_with_git_and_equals_what_apply_writes() {
    let original = sample_tree();
    let before = read_tree(original.path());
    let side = outside();
    let patch = side.path().join("changes.patch");
    let out = run(
        original.path(),
        &["plan", "--offline", "--patch", path_str(&patch)],
    );
    assert_code(&out, 0);
    assert_eq!(
        read_tree(original.path()),
        before,
        "plan --patch wrote into the tree"
    );
    let patch_text = std::fs::read(&patch).expect("patch written");
    assert!(
        patch_text.windows(2).any(|w| w == b"\r\n"),
        "CRLF file not in patch"
    );
    assert!(
        String::from_utf8_lossy(&patch_text).contains("\\ No newline at end of file"),
        "file without trailing newline not marked in the patch"
    );

    // git apply in a fresh copy of the original tree (its own repository, so git
    // cannot resolve paths against an enclosing one).
    let by_git = TempDir::new().unwrap();
    common::copy_tree(original.path(), by_git.path());
    let init = git(by_git.path(), &["init", "-q"]);
    assert!(init.status.success(), "{}", stderr(&init));
    let check = git(by_git.path(), &["apply", "--check", path_str(&patch)]);
    assert!(
        check.status.success(),
        "git apply --check: {}",
        stderr(&check)
    );
    let applied = git(by_git.path(), &["apply", path_str(&patch)]);
    assert!(applied.status.success(), "git apply: {}", stderr(&applied));
    std::fs::remove_dir_all(by_git.path().join(".git")).unwrap();

    // apply in another fresh copy.
    let by_tflock = TempDir::new().unwrap();
    common::copy_tree(original.path(), by_tflock.path());
    let out = apply_auto(by_tflock.path(), &side.path().join("rb.json"));
    assert_code(&out, 0);

    let git_tree = read_tree(by_git.path());
    assert_eq!(
        git_tree,
        read_tree(by_tflock.path()),
        "patch and apply differ"
    );
    assert_ne!(git_tree, before, "nothing changed");
}

// ---------------------------------------------------------------------------
// Saved plans
// ---------------------------------------------------------------------------

#[test]
fn saved_plan_applies_exactly_the_planned_edits() {
    let dir = sample_tree();
    let side = outside();
    let planfile = side.path().join("tflock.plan");
    assert_code(
        &run(
            dir.path(),
            &["plan", "--offline", "--out", path_str(&planfile)],
        ),
        0,
    );
    assert!(planfile.is_file(), "plan file not written");

    // The expected result: a fresh copy applied directly.
    let expected = TempDir::new().unwrap();
    common::copy_tree(dir.path(), expected.path());
    assert_code(
        &apply_auto(expected.path(), &side.path().join("rb0.json")),
        0,
    );

    // A backend added after the plan is not part of it and must stay untouched.
    write_files(dir.path(), &[("late/main.tf", VARS_TF.as_bytes())]);

    let out = run(
        dir.path(),
        &[
            "apply",
            "--plan",
            path_str(&planfile),
            "--skip-lock-check",
            "--auto-approve",
            "--rollback-file",
            path_str(&side.path().join("rb.json")),
        ],
    );
    assert_code(&out, 0);
    let mut want = read_tree(expected.path());
    want.push(("late/main.tf".to_string(), VARS_TF.as_bytes().to_vec()));
    want.sort();
    assert_eq!(
        read_tree(dir.path()),
        want,
        "apply --plan did not apply exactly the plan"
    );

    // Planning again finds only the late file.
    let out = run(dir.path(), &["plan", "--offline"]);
    let text = stdout(&out);
    assert!(text.contains("+++ b/late/main.tf"), "{text}");
    assert_eq!(text.matches("+++ b/").count(), 1, "{text}");
}

#[test]
fn saved_plan_refuses_a_file_changed_since_the_plan_and_writes_nothing() {
    let dir = sample_tree();
    let side = outside();
    let planfile = side.path().join("tflock.plan");
    assert_code(
        &run(
            dir.path(),
            &["plan", "--offline", "--out", path_str(&planfile)],
        ),
        0,
    );
    let edited = "live/crlf/main.tf";
    let mut bytes = std::fs::read(dir.path().join(edited)).unwrap();
    bytes.extend_from_slice(b"# edited after the plan\r\n");
    std::fs::write(dir.path().join(edited), bytes).unwrap();
    let before = read_tree(dir.path());

    let rollback = side.path().join("rb.json");
    let out = run(
        dir.path(),
        &[
            "apply",
            "--plan",
            path_str(&planfile),
            "--skip-lock-check",
            "--auto-approve",
            "--rollback-file",
            path_str(&rollback),
        ],
    );
    assert_code(&out, 1);
    let err = stderr(&out);
    assert!(
        err.contains(edited),
        "the changed file is not named:\n{err}"
    );
    assert!(err.to_lowercase().contains("changed"), "{err}");
    assert_eq!(read_tree(dir.path()), before, "apply wrote some files");
    assert!(
        !rollback.exists(),
        "rollback file written for a refused apply"
    );
    assert!(default_rollback_files(dir.path()).is_empty());
}

// ---------------------------------------------------------------------------
// apply
// ---------------------------------------------------------------------------

#[cfg(unix)]
#[test]
fn apply_writes_a_private_rollback_file_and_keeps_file_permissions() {
    let dir = sample_tree();
    set_mode(&dir.path().join("live/app/main.tf"), 0o640);
    set_mode(&dir.path().join("live/tg/terragrunt.hcl"), 0o600);
    set_mode(&dir.path().join("live/crlf/main.tf"), 0o755);
    set_mode(&dir.path().join("live/app/prod.tfbackend"), 0o444);
    let modes: Vec<(&str, u32)> = SAMPLE_CHANGED
        .iter()
        .map(|p| (*p, mode(&dir.path().join(p))))
        .collect();
    let before = read_tree(dir.path());

    let side = outside();
    let rollback = side.path().join("nested-name.json");
    // The read-only file is written only with --force (tests/edges.rs has the
    // refusal), and keeps its mode.
    let out = run(
        dir.path(),
        &[
            "apply",
            "--skip-lock-check",
            "--auto-approve",
            "--force",
            "--rollback-file",
            path_str(&rollback),
        ],
    );
    assert_code(&out, 0);
    assert!(rollback.is_file(), "no rollback file at --rollback-file");
    assert_eq!(mode(&rollback), 0o600, "rollback file is not private");
    assert!(default_rollback_files(dir.path()).is_empty());

    let after = read_tree(dir.path());
    for (path, want) in &modes {
        let old = &before.iter().find(|(p, _)| p == path).unwrap().1;
        let new = &after.iter().find(|(p, _)| p == path).unwrap().1;
        assert_ne!(old, new, "{path} was not rewritten");
        assert_eq!(
            mode(&dir.path().join(path)),
            *want,
            "{path}: permissions changed"
        );
    }
    // Only the planned files changed, and no temp file was left behind.
    let names_before: Vec<&String> = before.iter().map(|(p, _)| p).collect();
    let names_after: Vec<&String> = after.iter().map(|(p, _)| p).collect();
    assert_eq!(names_before, names_after);
    for (path, bytes) in &before {
        if !SAMPLE_CHANGED.contains(&path.as_str()) {
            assert_eq!(&after.iter().find(|(p, _)| p == path).unwrap().1, bytes);
        }
    }

    // The rollback restores with permissions kept too.
    let out = run(
        dir.path(),
        &[
            "rollback",
            path_str(&rollback),
            "--auto-approve",
            "--files-only",
        ],
    );
    assert_code(&out, 0);
    assert_eq!(read_tree(dir.path()), before);
    for (path, want) in &modes {
        assert_eq!(mode(&dir.path().join(path)), *want, "{path} after rollback");
    }
}

#[test]
fn apply_writes_the_default_rollback_file_in_the_current_dir() {
    let dir = sample_tree();
    let out = run(
        dir.path(),
        &["apply", "--skip-lock-check", "--auto-approve"],
    );
    assert_code(&out, 0);
    let found = default_rollback_files(dir.path());
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].ends_with(".json"), "{found:?}");
    // Its Markdown twin, for a change ticket, sits next to it.
    assert!(dir.path().join(format!("{}.md", found[0])).is_file());
    assert!(
        stdout(&out).contains(&found[0]),
        "rollback file not named in output"
    );
}

#[test]
fn two_quick_applies_keep_both_default_rollback_files() {
    // Two applies on different folders within the same second must not share
    // (and so overwrite) one default rollback file: each apply's originals must
    // stay recoverable.
    let dir = sample_tree();
    let before = read_tree(dir.path());
    let first = run(
        dir.path(),
        &["apply", "--skip-lock-check", "--auto-approve", "live/app"],
    );
    assert_code(&first, 0);
    let second = run(
        dir.path(),
        &["apply", "--skip-lock-check", "--auto-approve", "live/tg"],
    );
    assert_code(&second, 0);
    let found = default_rollback_files(dir.path());
    assert_eq!(
        found.len(),
        2,
        "the second apply overwrote the first one's rollback file: {found:?}"
    );
    for file in &found {
        let out = run(
            dir.path(),
            &["rollback", file, "--auto-approve", "--files-only"],
        );
        assert_code(&out, 0);
    }
    let restored: Vec<_> = read_tree(dir.path())
        .into_iter()
        .filter(|(p, _)| !p.starts_with("tflock-rollback"))
        .collect();
    assert_eq!(restored, before, "not every original is recoverable");
}

// ---------------------------------------------------------------------------
// rollback
// ---------------------------------------------------------------------------

/// Applies the sample tree; returns (tree, side dir, rollback path, original tree).
fn applied_tree() -> (TempDir, TempDir, std::path::PathBuf, Vec<(String, Vec<u8>)>) {
    let dir = sample_tree();
    let before = read_tree(dir.path());
    let side = outside();
    let rollback = side.path().join("rb.json");
    assert_code(&apply_auto(dir.path(), &rollback), 0);
    assert_ne!(read_tree(dir.path()), before);
    (dir, side, rollback, before)
}

#[test]
fn rollback_restores_every_byte_and_a_second_run_is_a_no_op() {
    let (dir, _side, rollback, before) = applied_tree();
    let out = run(
        dir.path(),
        &[
            "rollback",
            path_str(&rollback),
            "--auto-approve",
            "--files-only",
        ],
    );
    assert_code(&out, 0);
    assert_eq!(
        read_tree(dir.path()),
        before,
        "rollback did not restore every byte"
    );

    let out = run(
        dir.path(),
        &[
            "rollback",
            path_str(&rollback),
            "--auto-approve",
            "--files-only",
        ],
    );
    assert_code(&out, 0);
    let text = stdout(&out).to_lowercase();
    assert!(
        text.contains("already hold") && text.contains("original bytes"),
        "second rollback does not say the files already hold their original bytes:\n{text}"
    );
    assert_eq!(read_tree(dir.path()), before);
}

#[test]
fn rollback_works_from_another_directory() {
    // The rollback file sits in another folder; run it from there by a relative name.
    let (dir, side, _rollback, before) = applied_tree();
    let out = run(
        side.path(),
        &["rollback", "rb.json", "--auto-approve", "--files-only"],
    );
    assert_code(&out, 0);
    assert_eq!(read_tree(dir.path()), before);
}

#[test]
fn rollback_refuses_a_file_edited_after_apply_unless_forced() {
    let (dir, _side, rollback, before) = applied_tree();
    let edited = "live/app/main.tf";
    let mut bytes = std::fs::read(dir.path().join(edited)).unwrap();
    bytes.extend_from_slice(b"# edited after apply\n");
    std::fs::write(dir.path().join(edited), bytes).unwrap();
    let after_edit = read_tree(dir.path());

    let out = run(
        dir.path(),
        &[
            "rollback",
            path_str(&rollback),
            "--auto-approve",
            "--files-only",
        ],
    );
    assert_code(&out, 1);
    let err = stderr(&out);
    assert!(err.contains(edited), "edited file not named:\n{err}");
    assert!(err.contains("--force"), "no hint at --force:\n{err}");
    assert_eq!(
        read_tree(dir.path()),
        after_edit,
        "rollback wrote despite refusing"
    );

    let out = run(
        dir.path(),
        &[
            "rollback",
            path_str(&rollback),
            "--auto-approve",
            "--force",
            "--files-only",
        ],
    );
    assert_code(&out, 0);
    assert_eq!(
        read_tree(dir.path()),
        before,
        "--force did not restore every byte"
    );
}

#[test]
fn rollback_dry_run_shows_the_reverse_diff_and_writes_nothing() {
    let (dir, _side, rollback, _before) = applied_tree();
    let applied = read_tree(dir.path());
    let out = run(
        dir.path(),
        &["rollback", path_str(&rollback), "--dry-run", "--files-only"],
    );
    assert_code(&out, 0);
    let text = stdout(&out);
    for path in SAMPLE_CHANGED {
        assert!(
            text.contains(&format!("+++ b/{path}")),
            "{path} missing:\n{text}"
        );
    }
    // Reverse: the lockfile line goes, the DynamoDB table comes back.
    assert!(text.contains("\n-    use_lockfile = true\n"), "{text}");
    assert!(
        text.contains("\n+    dynamodb_table = \"acme-locks\"\n"),
        "{text}"
    );
    assert!(text.to_lowercase().contains("dry run"), "{text}");
    assert_eq!(read_tree(dir.path()), applied, "--dry-run wrote");
}

#[test]
fn rollback_without_auto_approve_on_non_terminal_stdin_refuses() {
    let (dir, _side, rollback, _before) = applied_tree();
    let applied = read_tree(dir.path());
    let out = run(
        dir.path(),
        &["rollback", path_str(&rollback), "--files-only"],
    );
    assert_code(&out, 1);
    assert!(stderr(&out).contains("--auto-approve"), "{}", stderr(&out));
    assert_eq!(
        read_tree(dir.path()),
        applied,
        "rollback wrote without approval"
    );
}

// ---------------------------------------------------------------------------
// Robustness
// ---------------------------------------------------------------------------

#[test]
fn a_closed_pipe_ends_quietly() {
    use std::io::Read;
    let dir = TempDir::new().unwrap();
    // Enough output to overflow any pipe buffer several times.
    for i in 0..800 {
        let text = APP_TF.replace("app/terraform.tfstate", &format!("m{i}/terraform.tfstate"));
        write_files(
            dir.path(),
            &[(&format!("m{i:03}/main.tf"), text.as_bytes())],
        );
    }
    for format in ["text", "json"] {
        let mut child =
            common::tflock_command(dir.path(), &["plan", "--offline", "--format", format])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
        let mut pipe = child.stdout.take().unwrap();
        let mut first = [0u8; 64];
        pipe.read_exact(&mut first).unwrap();
        drop(pipe);
        let out = child.wait_with_output().unwrap();
        assert_no_panic(&out);
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            assert!(
                out.status.code() == Some(0) || out.status.signal() == Some(13),
                "{format}: a closed pipe is not a quiet end: {:?}\n{}",
                out.status,
                stderr(&out)
            );
        }
        assert_eq!(stderr(&out).trim(), "", "{format}: noise on stderr");
    }
}

#[test]
fn a_missing_path_argument_is_a_clear_error() {
    let dir = sample_tree();
    let before = read_tree(dir.path());
    let out = run(dir.path(), &["plan", "--offline", "no/such/dir"]);
    assert_code(&out, 1);
    let err = stderr(&out);
    assert!(err.contains("no/such/dir"), "path not named:\n{err}");
    assert!(
        err.to_lowercase().contains("no such file"),
        "reason not given:\n{err}"
    );

    let out = run(
        dir.path(),
        &[
            "apply",
            "--skip-lock-check",
            "--auto-approve",
            "live",
            "missing.tf",
        ],
    );
    assert_code(&out, 1);
    assert!(stderr(&out).contains("missing.tf"), "{}", stderr(&out));
    assert_eq!(
        read_tree(dir.path()),
        before,
        "apply wrote despite a bad path"
    );
}

#[test]
fn secrets_in_a_backend_block_never_appear_in_plan_output() {
    // DESIGN.md section 2, invariant 9.
    let dir = tree_with(&[(
        "main.tf",
        r#"terraform {
  backend "s3" {
    bucket           = "acme-state"
    key              = "app/terraform.tfstate"
    access_key       = "AKIAEXAMPLESECRET1"
    secret_key       = "EXAMPLESECRETVALUE2"
    dynamodb_table   = "acme-locks"
    token            = "EXAMPLESESSIONTOKEN3"
    sse_customer_key = "EXAMPLECUSTOMERKEY4"
  }
}
"#,
    )]);
    let secrets = [
        "AKIAEXAMPLESECRET1",
        "EXAMPLESECRETVALUE2",
        "EXAMPLESESSIONTOKEN3",
        "EXAMPLECUSTOMERKEY4",
    ];
    let side = outside();
    let planfile = side.path().join("tflock.plan");
    for format in ["text", "json"] {
        let out = run(
            dir.path(),
            &[
                "plan",
                "--offline",
                "--format",
                format,
                "--out",
                path_str(&planfile),
            ],
        );
        assert_code(&out, 0);
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert!(all.contains("main.tf"), "{all}");
        for secret in secrets {
            assert!(
                !all.contains(secret),
                "{format} output shows a secret:\n{all}"
            );
        }
        let saved = std::fs::read_to_string(&planfile).unwrap();
        for secret in secrets {
            assert!(
                !saved.contains(secret),
                "plan file holds a secret:\n{saved}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Repository scale: progress and selection
// ---------------------------------------------------------------------------

#[test]
fn progress_shows_on_a_terminal_only_and_never_with_quiet() {
    let dir = sample_tree();
    let test = "progress_shows_on_a_terminal_only_and_never_with_quiet";
    let Some(shown) = run_on_terminal(test, dir.path(), "plan --offline", false) else {
        return;
    };
    assert!(
        shown.contains("scanning:"),
        "no progress on a terminal:\n{shown}"
    );
    let quiet = run_on_terminal(test, dir.path(), "plan --offline --quiet", false).unwrap();
    assert!(
        !quiet.contains("scanning:"),
        "--quiet still shows progress:\n{quiet}"
    );
    // Off a terminal (stderr is a pipe here), nothing but plain text.
    let mut cmd = common::tflock_command(dir.path(), &["plan", "--offline"]);
    cmd.env_remove("NO_COLOR");
    let piped = common::output_within(&mut cmd, LIMIT);
    assert!(!stderr(&piped).contains("scanning"), "{}", stderr(&piped));
    assert!(!has_ansi(&stderr(&piped)) && !has_ansi(&stdout(&piped)));
}

fn planned_files(dir: &Path, args: &[&str]) -> Vec<String> {
    let (_, doc) = json_plan(dir, args);
    let mut files: Vec<String> = doc["backends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["file"].as_str().unwrap().to_string())
        .collect();
    files.dedup();
    files
}

#[test]
fn include_exclude_and_max_depth_select_part_of_the_tree() {
    let dir = sample_tree();
    let all = planned_files(dir.path(), &[]);
    assert!(
        all.contains(&"done/main.tf".to_string()) && all.len() > 3,
        "{all:?}"
    );

    let only = planned_files(dir.path(), &["--include", "live/app/**"]);
    assert_eq!(only, ["live/app/main.tf", "live/app/prod.tfbackend"]);

    let without = planned_files(dir.path(), &["--exclude", "live/**"]);
    assert!(
        without.iter().all(|f| !f.starts_with("live/")),
        "{without:?}"
    );
    assert!(without.contains(&"done/main.tf".to_string()));

    // A folder excluded by name is pruned, whatever is inside.
    let pruned = planned_files(dir.path(), &["--exclude", "live/tg"]);
    assert!(
        !pruned.contains(&"live/tg/terragrunt.hcl".to_string()),
        "{pruned:?}"
    );
    assert!(pruned.contains(&"live/app/main.tf".to_string()));

    // Depth 2 from `.`: `done/main.tf` (depth 2) yes, `live/app/main.tf` (3) no.
    let shallow = planned_files(dir.path(), &["--max-depth", "2"]);
    assert!(shallow.contains(&"done/main.tf".to_string()), "{shallow:?}");
    assert!(
        !shallow.iter().any(|f| f.starts_with("live/")),
        "{shallow:?}"
    );

    let bad = run(dir.path(), &["plan", "--offline", "--include", "a[b"]);
    assert_code(&bad, 1);
    assert!(stderr(&bad).contains("glob"), "{}", stderr(&bad));
}

#[test]
fn paths_can_come_from_standard_input() {
    use std::io::Write;
    let dir = sample_tree();
    let mut child =
        common::tflock_command(dir.path(), &["plan", "--offline", "--format", "json", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
    // As `git diff --name-only` would list them: a file, a folder, a deleted file.
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"live/app/main.tf\nlive/tg\n\ngone/deleted.tf\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_code(&out, 0);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let files: Vec<&str> = doc["backends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["file"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["live/app/main.tf", "live/tg/terragrunt.hcl"]);
}

#[test]
fn the_text_summary_says_how_long_it_took() {
    let dir = sample_tree();
    let out = common::output_within(
        &mut common::tflock_command(dir.path(), &["plan", "--offline"]),
        LIMIT,
    );
    let text = stdout(&out);
    let took = text
        .lines()
        .find(|l| l.starts_with("Took "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(took.ends_with("s."), "{took}");
}

#[test]
fn markdown_report_on_stdout_and_split_into_comment_sized_files() {
    let dir = sample_tree();
    let out = run(dir.path(), &["plan", "--offline", "--format", "markdown"]);
    assert_code(&out, 0);
    let text = stdout(&out);
    assert!(text.starts_with("<!-- tflock-report -->\n"), "{text}");
    assert!(text.contains("```diff\n--- a/live/app/main.tf"), "{text}");

    // Many changed files: the report comes in several files, none over a comment.
    let big = TempDir::new().unwrap();
    for i in 0..400 {
        let text = APP_TF.replace("app/terraform.tfstate", &format!("m{i}/terraform.tfstate"));
        write_files(
            big.path(),
            &[(&format!("m{i:03}/main.tf"), text.as_bytes())],
        );
    }
    let report = big.path().join("report.md");
    let out = run(
        big.path(),
        &[
            "plan",
            "--offline",
            "--out-markdown",
            report.to_str().unwrap(),
        ],
    );
    assert_code(&out, 0);
    let mut parts = vec![std::fs::read_to_string(&report).unwrap()];
    for n in 2.. {
        match std::fs::read_to_string(big.path().join(format!("report.md.{n}.md"))) {
            Ok(part) => parts.push(part),
            Err(_) => break,
        }
    }
    assert!(parts.len() > 1, "400 diffs fit one comment?");
    for (i, part) in parts.iter().enumerate() {
        assert!(
            part.len() <= 65_536,
            "part {} is {} bytes",
            i + 1,
            part.len()
        );
        let marker = format!("<!-- tflock-report part {}/{} -->", i + 1, parts.len());
        assert!(part.starts_with("<!-- tflock-report -->\n") && part.contains(&marker));
    }
    let all = parts.concat();
    for i in [0, 199, 399] {
        assert!(all.contains(&format!("m{i:03}/main.tf")), "m{i:03} missing");
    }
}

// ---------------------------------------------------------------------------
// Hostile input and paths (issue 7)
// ---------------------------------------------------------------------------

#[cfg(unix)]
#[test]
fn symlinks_are_not_followed_out_of_the_tree_and_loops_do_not_hang() {
    let outside = TempDir::new().unwrap();
    write_files(outside.path(), &[("main.tf", APP_TF.as_bytes())]);
    let dir = sample_tree();
    std::os::unix::fs::symlink(outside.path().join("main.tf"), dir.path().join("linked.tf"))
        .unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("linked-dir")).unwrap();
    std::os::unix::fs::symlink(dir.path(), dir.path().join("live/loop")).unwrap();
    let files = planned_files(dir.path(), &[]);
    assert!(
        files
            .iter()
            .all(|f| !f.starts_with("linked") && !f.contains("loop")),
        "{files:?}"
    );
    let before = std::fs::read(outside.path().join("main.tf")).unwrap();
    let out = run(
        dir.path(),
        &[
            "apply",
            "--skip-lock-check",
            "--auto-approve",
            "--rollback-file",
            "rb.json",
        ],
    );
    // A link out of the tree is refused by name at plan time (issue 15), so
    // the apply writes nothing at all.
    assert_code(&out, 1);
    assert!(
        stderr(&out).contains("linked.tf:1:1: symbolic link to"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read(outside.path().join("main.tf")).unwrap(),
        before
    );
}

#[test]
fn plan_and_rollback_files_whose_paths_escape_the_root_are_refused() {
    let outside = TempDir::new().unwrap();
    write_files(outside.path(), &[("victim.tf", b"keep me\n")]);
    let dir = sample_tree();
    let victim = outside.path().join("victim.tf");
    let plan = serde_json::json!({
        "format_version": "1", "tool": "tflock", "strategy": "replace",
        "files": [{"path": format!("../{}/victim.tf", outside.path().file_name().unwrap().to_str().unwrap()),
                   "sha256": "x", "sha256_after": "y",
                   "edits": [{"start": 0, "end": 4, "text": "lost"}]}]
    });
    std::fs::write(dir.path().join("evil-plan.json"), plan.to_string()).unwrap();
    let out = run(
        dir.path(),
        &[
            "apply",
            "--plan",
            "evil-plan.json",
            "--skip-lock-check",
            "--auto-approve",
        ],
    );
    assert_code(&out, 1);
    assert!(stderr(&out).contains("refused"), "{}", stderr(&out));
    let rollback = serde_json::json!({
        "format_version": "1", "tool": "tflock", "created": "now",
        "root": dir.path(), "strategy": "replace",
        "files": [{"path": victim.to_str().unwrap(), "sha256_before": "a",
                   "sha256_after": "b", "original": "lost\n"}]
    });
    std::fs::write(dir.path().join("evil-rollback.json"), rollback.to_string()).unwrap();
    let out = run(
        dir.path(),
        &[
            "rollback",
            "evil-rollback.json",
            "--auto-approve",
            "--force",
            "--files-only",
        ],
    );
    assert_code(&out, 1);
    assert!(stderr(&out).contains("refused"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep me\n");
}

#[test]
fn very_long_lines_and_deep_nesting_are_rejected_quickly_with_a_position() {
    let dir = TempDir::new().unwrap();
    let long = format!(
        "bucket = \"{}\"\ndynamodb_table = \"t\"\n",
        "a".repeat(200_000)
    );
    let deep = format!(
        "terraform {{\n  backend \"s3\" {{\n    bucket = {}1{}\n    dynamodb_table = \"t\"\n  }}\n}}\n",
        "[".repeat(5_000),
        "]".repeat(5_000)
    );
    write_files(
        dir.path(),
        &[
            ("long.tfbackend", long.as_bytes()),
            ("deep/main.tf", deep.as_bytes()),
        ],
    );
    let started = std::time::Instant::now();
    let out = run(dir.path(), &["plan", "--offline"]);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_code(&out, 1);
    let err = stderr(&out);
    assert!(
        err.contains("long.tfbackend:1:1: line is 200011 bytes long"),
        "{err}"
    );
    assert!(err.contains("deep/main.tf:3:"), "{err}");
}
