//! Invariant 9: secrets that can sit in a backend block (`access_key`,
//! `secret_key`, `token`, `sse_customer_key`, an `assume_role` external ID)
//! never appear in any output, plan or report. One run over a fixture full of
//! them, every output grepped.

mod common;

use common::{copy_tree, fixtures, stderr, stdout, tflock};
use std::path::Path;

const SECRETS: &[&str] = &[
    "AKIASECRETACCESSKEY1",
    "SECRETKEY-wJalrXUtnFEMI-K7MDENG-bPxRfi",
    "SECRETSESSIONTOKEN-FwoGZXIvYXdzEJr",
    "SECRETSSEKEY-4ZRNYBCCvL0YZeqo3f0y8Q==",
    "SECRETEXTERNALID-8b1f",
    "AKIASECRETJSONKEY002",
    "SECRETJSON-wJalrXUtnFEMI",
    "SECRETJSONTOKEN-FwoGZX",
    "SECRETTG-wJalrXUtnFEMI",
    "AKIASECRETTGKEY00003",
    "AKIASECRETPARTIAL004",
    "SECRETPARTIAL-wJalrXUtn",
];

fn leaks(what: &str, text: &str) -> Vec<String> {
    SECRETS
        .iter()
        .filter(|s| text.contains(*s))
        .map(|s| format!("{what} leaks {s}"))
        .collect()
}

fn read(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned()
}

#[test]
fn no_output_of_a_run_over_secrets_contains_one() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("repo");
    copy_tree(&fixtures().join("secrets"), &work);
    // The fixture really holds them (the test could not fail otherwise).
    let all: String = common::read_tree(&work)
        .into_iter()
        .map(|(_, b)| String::from_utf8_lossy(&b).into_owned())
        .collect();
    assert_eq!(leaks("fixture", &all).len(), SECRETS.len());

    let mut found = Vec::new();
    let check = |what: &str, out: &std::process::Output| {
        let mut l = leaks(&format!("{what} (stdout)"), &stdout(out));
        l.extend(leaks(&format!("{what} (stderr)"), &stderr(out)));
        l
    };
    let plan_file = tmp.path().join("plan.json");
    let patch = tmp.path().join("changes.patch");
    let out = tflock(
        &work,
        &[
            "plan",
            "--offline",
            "--out",
            plan_file.to_str().unwrap(),
            "--patch",
            patch.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("use_lockfile"),
        "the plan changes something"
    );
    found.extend(check("plan", &out));
    found.extend(check(
        "plan --format json",
        &tflock(&work, &["plan", "--offline", "--format", "json"]),
    ));
    found.extend(check(
        "plan --strategy dual",
        &tflock(&work, &["plan", "--offline", "--strategy", "dual"]),
    ));
    found.extend(leaks("plan file", &read(&plan_file)));
    found.extend(leaks("patch", &read(&patch)));

    let rollback = tmp.path().join("rb.json");
    let rb = rollback.to_str().unwrap();
    let applied = tflock(
        &work,
        &[
            "apply",
            "--skip-lock-check",
            "--auto-approve",
            "--rollback-file",
            rb,
        ],
    );
    assert_eq!(applied.status.code(), Some(0), "{}", stderr(&applied));
    found.extend(check("apply", &applied));
    found.extend(leaks(
        "rollback Markdown",
        &read(&tmp.path().join("rb.json.md")),
    ));
    found.extend(check(
        "rollback --dry-run",
        &tflock(&work, &["rollback", rb, "--dry-run", "--files-only"]),
    ));
    found.extend(check(
        "rollback",
        &tflock(&work, &["rollback", rb, "--auto-approve", "--files-only"]),
    ));
    assert!(found.is_empty(), "secrets leaked:\n{}", found.join("\n"));

    // The rollback JSON must keep the original bytes, secrets included: it is
    // readable by its owner only.
    let json = read(&rollback);
    assert!(json.contains("AKIASECRETACCESSKEY1"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&rollback).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}

#[test]
fn a_patch_leaves_secret_lines_out_of_its_context_and_still_applies() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("repo");
    // Secrets next to the edited line, but on lines that do not change: the
    // single-spaced group is not re-aligned.
    let tf = "terraform {\n  backend \"s3\" {\n    bucket = \"b\"\n    secret_key = \"SECRETKEY-wJalrXUtnFEMI-K7MDENG-bPxRfi\"\n    dynamodb_table = \"t\"\n    access_key = \"AKIASECRETACCESSKEY1\"\n    key = \"k\"\n  }\n}\n";
    // Secrets on both sides of the edited member: no context is left.
    let json = "{\"terraform\": {\"backend\": {\"s3\": {\n  \"token\": \"SECRETJSONTOKEN-FwoGZX\",\n  \"dynamodb_table\": \"t\",\n  \"secret_key\": \"SECRETJSON-wJalrXUtnFEMI\"\n}}}}\n";
    std::fs::create_dir_all(work.join("a")).unwrap();
    std::fs::write(work.join("a/main.tf"), tf).unwrap();
    std::fs::write(work.join("a/main.tf.json"), json).unwrap();
    let patch = tmp.path().join("p.diff");
    let out = tflock(
        &work,
        &["plan", "--offline", "--patch", patch.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = read(&patch);
    assert!(leaks("patch", &text).is_empty(), "{text}");
    assert!(stderr(&out).contains("--unidiff-zero"), "{}", stderr(&out));
    // Applied to a fresh copy, it gives exactly what tflock writes.
    let fresh = tmp.path().join("fresh");
    copy_tree(&work, &fresh);
    let git = std::process::Command::new("git")
        .args(["apply", "--unidiff-zero"])
        .arg(&patch)
        .current_dir(&fresh)
        .output()
        .expect("git");
    assert!(git.status.success(), "git apply: {}\n{text}", stderr(&git));
    let rb = tmp.path().join("rb.json");
    let applied = tflock(
        &work,
        &[
            "apply",
            "--skip-lock-check",
            "--auto-approve",
            "--rollback-file",
            rb.to_str().unwrap(),
        ],
    );
    assert_eq!(applied.status.code(), Some(0));
    assert_eq!(common::read_tree(&fresh), common::read_tree(&work));
}

#[test]
fn a_patch_that_must_change_a_secret_line_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("repo");
    copy_tree(&fixtures().join("secrets"), &work);
    let patch = tmp.path().join("p.diff");
    let out = tflock(
        &work,
        &["plan", "--offline", "--patch", patch.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(leaks("patch", &read(&patch)).is_empty());
    // tg/terragrunt.hcl re-aligns its secret lines: that hunk is redacted and named.
    assert!(
        stderr(&out).contains("tg/terragrunt.hcl: a line that changes holds a secret value"),
        "{}",
        stderr(&out)
    );
}
