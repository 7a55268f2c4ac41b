//! What tflock gives the tools around it (issue 16): shell completions loaded by
//! the real shells, a man page `man` renders, `--version` with the commit, and
//! every JSON document tflock writes validated against its schema in `schemas/`.

mod common;

use common::{
    apply_offline, code, output_within, stderr, stdout, tflock, tflock_command, unavailable,
    write_files,
};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;
use tempfile::TempDir;

fn completion_script(shell: &str) -> PathBuf {
    let dir = TempDir::new().unwrap().keep();
    let out = tflock(&dir, &["completions", shell]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("tflock"), "{}", stdout(&out));
    let path = dir.join(format!("tflock.{shell}"));
    std::fs::write(&path, &out.stdout).unwrap();
    path
}

#[test]
fn bash_loads_the_completion_and_completes_subcommands() {
    let Some(bash) = common::on_path("bash") else {
        return unavailable("bash_loads_the_completion", "bash is not installed");
    };
    let script = completion_script("bash");
    // Load it, show the registration, then ask for the words after `tflock ch`.
    let probe = format!(
        "source {}; complete -p tflock; COMP_WORDS=(tflock ch); COMP_CWORD=1; COMP_LINE='tflock ch'; COMP_POINT=9; _tflock tflock ch tflock; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display()
    );
    let out = output_within(
        Command::new(bash).args(["--noprofile", "--norc", "-c", &probe]),
        Duration::from_secs(30),
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.lines()
            .any(|l| l.starts_with("complete ") && l.ends_with("-F _tflock tflock")),
        "not registered: {text}"
    );
    assert!(
        text.lines().any(|l| l == "check"),
        "no `check` completion: {text}"
    );
}

#[test]
fn zsh_and_fish_accept_their_completions() {
    for (shell, check, registration) in [
        ("zsh", vec!["-n"], "#compdef tflock"),
        ("fish", vec!["--no-execute"], "complete -c tflock"),
    ] {
        let script = completion_script(shell);
        let text = std::fs::read_to_string(&script).unwrap();
        assert!(text.contains(registration), "{shell}: {text}");
        assert!(text.contains("check"), "{shell}: no `check` subcommand");
        let Some(bin) = common::on_path(shell) else {
            // Not every machine has them; bash is the one CI requires.
            eprintln!("SKIPPED {shell} completion syntax check: {shell} is not installed");
            continue;
        };
        let out = output_within(
            Command::new(bin).args(&check).arg(&script),
            Duration::from_secs(30),
        );
        assert_eq!(code(&out), 0, "{shell}: {}", stderr(&out));
    }
}

#[test]
fn man_page_renders() {
    let dir = TempDir::new().unwrap();
    let out = tflock(dir.path(), &["man"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let roff = stdout(&out);
    assert!(
        roff.starts_with(".ie \\n(.g .ds Aq") || roff.contains(".TH tflock"),
        "{roff}"
    );
    assert!(roff.contains(".TH tflock 1"), "{roff}");
    assert!(roff.contains("check"), "subcommands missing: {roff}");
    match common::on_path("man") {
        Some(man) => {
            let page = dir.path().join("tflock.1");
            std::fs::write(&page, &out.stdout).unwrap();
            let rendered = output_within(
                Command::new(man)
                    .arg("-l")
                    .arg(&page)
                    .env("MANPAGER", "cat")
                    .env("PAGER", "cat")
                    .env("MANWIDTH", "100"),
                Duration::from_secs(30),
            );
            assert_eq!(code(&rendered), 0, "{}", stderr(&rendered));
            let text = stdout(&rendered);
            assert!(text.contains("NAME"), "{text}");
            assert!(text.contains("tflock"), "{text}");
        }
        None => eprintln!("man is not installed: checked the page is roff only"),
    }
}

#[test]
fn version_names_the_commit_when_built_from_git() {
    let dir = TempDir::new().unwrap();
    let out = tflock(dir.path(), &["--version"]);
    assert_eq!(code(&out), 0);
    let text = stdout(&out);
    let want = format!("tflock {}", env!("CARGO_PKG_VERSION"));
    assert!(text.starts_with(&want), "{text}");
    let head = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success());
    if let Some(head) = head {
        let commit = String::from_utf8_lossy(&head.stdout).trim().to_string();
        assert_eq!(text.trim(), format!("{want} ({commit})"));
    } else {
        assert_eq!(text.trim(), want);
    }
}

// ---------------------------------------------------------------------------
// JSON schemas (schemas/*.schema.json) against real outputs

fn schema(name: &str) -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(format!("{name}.schema.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
    assert!(
        schema["required"]
            .as_array()
            .is_some_and(|r| r.iter().any(|k| k == "format_version")),
        "{name}: format_version must be required"
    );
    jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{name}: not a valid schema: {e}"))
}

/// Validates `doc` against `schemas/<name>.schema.json`, listing every error.
fn assert_valid(name: &str, doc: &Value) {
    let validator = schema(name);
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{name}: {errors:#?}\n{doc:#}");
    // The schema is not vacuous: a document of another format version fails it.
    let mut other = doc.clone();
    other["format_version"] = Value::from("2");
    assert!(
        !validator.is_valid(&other),
        "{name} accepts format_version 2"
    );
}

fn json_of(out: &Output, what: &str) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {}{}", stdout(out), stderr(out)))
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

const DYNAMO: &str = "terraform {\n  required_version = \">= 1.11\"\n  backend \"s3\" {\n    bucket         = \"acme-state\"\n    key            = \"app/terraform.tfstate\"\n    region         = \"eu-west-1\"\n    dynamodb_table = \"acme-locks\"\n  }\n}\n";

/// A tree with a DynamoDB backend, a lockfile one, a reader, a CI override and
/// a broken file, so the documents carry every part their schema describes.
fn rich_tree(bucket: &str, table: &str) -> TempDir {
    let dir = TempDir::new().unwrap();
    let app = DYNAMO
        .replace("acme-state", bucket)
        .replace("acme-locks", table);
    let net = app.replace("app/", "net/").replace(
        &format!("dynamodb_table = \"{table}\""),
        "use_lockfile   = true",
    );
    let reader = format!(
        "data \"terraform_remote_state\" \"net\" {{\n  backend = \"s3\"\n  config = {{\n    bucket         = \"{bucket}\"\n    key            = \"net/terraform.tfstate\"\n    region         = \"eu-west-1\"\n    dynamodb_table = \"{table}\"\n  }}\n}}\n"
    );
    write_files(
        dir.path(),
        &[
            ("app/main.tf", app.as_bytes()),
            ("net/main.tf", net.as_bytes()),
            ("consumer/data.tf", reader.as_bytes()),
            (
                "ci/deploy.sh",
                format!("terraform -chdir=app init -backend-config=dynamodb_table={table}\n")
                    .as_bytes(),
            ),
            (
                "bad/main.tf",
                b"terraform {\n  backend \"s3\" {\n    bucket = \n",
            ),
        ],
    );
    dir
}

#[test]
fn offline_documents_match_their_schemas() {
    let dir = rich_tree("acme-state", "acme-locks");
    let plan = tflock(
        dir.path(),
        &[
            "plan",
            "--offline",
            "--format",
            "json",
            "--out",
            "saved.json",
        ],
    );
    let doc = json_of(&plan, "plan");
    assert!(
        !doc["errors"].as_array().unwrap().is_empty(),
        "the broken file is in the plan"
    );
    assert_valid("plan", &doc);
    assert_valid("saved-plan", &read_json(&dir.path().join("saved.json")));

    let check = tflock(dir.path(), &["check", "--format", "json"]);
    assert_eq!(code(&check), 1);
    let doc = json_of(&check, "check");
    assert_eq!(doc["findings"].as_array().unwrap().len(), 4, "{doc:#}");
    assert_valid("check", &doc);

    // Apply refuses a tree with an unreadable file: the rollback file comes
    // from the rest of it.
    std::fs::remove_dir_all(dir.path().join("bad")).unwrap();
    apply_offline(dir.path());
    let rollback = read_json(&dir.path().join("rb.json"));
    assert!(!rollback["files"].as_array().unwrap().is_empty());
    assert_valid("rollback", &rollback);
}

#[test]
fn aws_documents_match_their_schemas() {
    let Some(moto) = common::aws::moto("aws_documents_match_their_schemas") else {
        return;
    };
    let store = common::aws::Store::new(&moto, "schema");
    store.create(&["app/terraform.tfstate", "net/terraform.tfstate"]);
    store.lock(
        "app/terraform.tfstate",
        "0badc0de-1234-4567-89ab-cdef01234567",
        "erin@ci",
    );
    let dir = rich_tree(&store.bucket, &store.table);
    for (command, name) in [("locks", "locks"), ("status", "status")] {
        let mut cmd = tflock_command(dir.path(), &[command, "--format", "json"]);
        common::run::isolated_aws_env(&mut cmd, &moto.url);
        let out = output_within(&mut cmd, Duration::from_secs(120));
        let doc = json_of(&out, command);
        assert_valid(name, &doc);
    }
    let mut cmd = tflock_command(dir.path(), &["plan", "--format", "json"]);
    common::run::isolated_aws_env(&mut cmd, &moto.url);
    let out = output_within(&mut cmd, Duration::from_secs(120));
    let doc = json_of(&out, "plan with lock checks");
    assert_eq!(doc["summary"]["blocked"], 1, "{doc:#}");
    assert_valid("plan", &doc);
}
