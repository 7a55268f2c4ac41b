//! Terraform as the oracle (issue 13): every backend tflock rewrote in the
//! fixtures must still initialise.
//!
//! For every case in `fixtures/cases/` and every expected tree beside `in/`
//! (`replace/`, `dual/`, `*-bump/`, `*-modernize/`), each file that differs from
//! `in/` and configures a backend is run through `terraform init -backend=true
//! -get=false -input=false -json`:
//! - a `.tf` / `.tf.json` file: its module folder (the `.tf` and `.tf.json`
//!   files beside it);
//! - a partial configuration (`*.tfbackend`): an empty `backend "s3" {}` with
//!   `-backend-config=FILE`;
//! - a Terragrunt `remote_state` config: written as a partial configuration the
//!   way Terragrunt passes it (its own keys dropped, `lock_table` as
//!   `dynamodb_table`, interpolations replaced by a placeholder);
//! - a Terragrunt `generate` heredoc: its contents as `backend.tf`.
//!
//! Every AWS endpoint points at a closed loopback port, with dummy credentials,
//! no instance metadata, an empty CLI configuration and `max_retries = 0` (one
//! attempt: the failure is the same, only faster). Terraform must get past
//! configuration validation: the only errors left are the refused connection.
//! And no deprecation warning may be left that the strategy (replace removes
//! the DynamoDB settings) or `--modernize` should have removed.
//!
//! `.tofu` files are OpenTofu's (Terraform does not read them): not run here.
//! Without `terraform` on PATH the test says loudly that it skipped; with
//! `CI=true` it fails instead.

mod common;

use common::{fixtures, hclcheck};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// The closed port every AWS endpoint points at.
const CLOSED: &str = "http://127.0.0.1:9";

/// Keys of a Terragrunt `remote_state` config that Terragrunt keeps to itself
/// (gruntwork-io/terragrunt, internal/remotestate/backend/s3/remote_state_config.go).
const TERRAGRUNT_ONLY: &[&str] = &[
    "s3_bucket_tags",
    "dynamodb_table_tags",
    "accesslogging_bucket_tags",
    "skip_bucket_versioning",
    "skip_bucket_ssencryption",
    "skip_bucket_accesslogging",
    "skip_bucket_root_access",
    "skip_bucket_enforced_tls",
    "skip_bucket_public_access_blocking",
    "disable_bucket_update",
    "enable_lock_table_ssencryption",
    "disable_aws_client_checksums",
    "accesslogging_bucket_name",
    "accesslogging_target_object_partition_date_source",
    "accesslogging_target_prefix",
    "skip_accesslogging_bucket_acl",
    "skip_accesslogging_bucket_enforced_tls",
    "skip_accesslogging_bucket_public_access_blocking",
    "skip_accesslogging_bucket_ssencryption",
    "bucket_sse_algorithm",
    "bucket_sse_kms_key_id",
];

/// One `terraform init` to run: a folder to run it in, and a partial file.
#[derive(Debug, Clone)]
struct Init {
    /// What it checks, for messages: `case/tree/path`.
    name: String,
    /// The tree it comes from (`replace`, `dual-modernize`, ...).
    tree: String,
    /// The files of the root module to write, by name.
    files: Vec<(String, Vec<u8>)>,
    /// A partial configuration passed with `-backend-config`.
    partial: Option<Vec<u8>>,
    /// Terragrunt keeps these spellings on purpose (its own S3 client reads them).
    terragrunt_keeps: bool,
    /// The same backend as `in/` has it: an error Terraform already reported
    /// there (a placeholder bucket left for `-backend-config`, a Terragrunt
    /// function in a generated file) is not the rewrite's doing.
    baseline: Option<Box<Init>>,
}

#[test]
fn every_rewritten_backend_initialises() {
    let Some(terraform) = terraform() else {
        return;
    };
    let Some(checker) = hclcheck("every_rewritten_backend_initialises") else {
        return;
    };
    let mut inits = Vec::new();
    let cases = fixtures().join("cases");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&cases)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for case in names {
        let input = tree(&case.join("in"));
        let mut trees: Vec<PathBuf> = std::fs::read_dir(&case)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir() && !p.ends_with("in"))
            .collect();
        trees.sort();
        for dir in trees {
            inits.extend(inits_for(&checker, &case, &dir, &input));
        }
    }
    assert!(
        inits.len() > 100,
        "only {} rewritten backends found in the fixtures",
        inits.len()
    );
    let failures = run_all(&terraform, &inits);
    assert!(
        failures.is_empty(),
        "{} of {} terraform init runs failed the oracle:\n{}",
        failures.len(),
        inits.len(),
        failures.join("\n")
    );
    eprintln!(
        "terraform init accepted all {} rewritten backends",
        inits.len()
    );
}

/// `terraform` on PATH, or None (skipped, loudly; a failure on CI).
fn terraform() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("terraform"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("terraform is required on CI for the init oracle test");
        }
        eprintln!(
            "SKIPPED every_rewritten_backend_initialises: terraform is not on PATH \
             (install Terraform >= 1.11 to run the init oracle)"
        );
    }
    found
}

/// Every file below `root`, by `/`-separated relative path.
fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                let rel = path.strip_prefix(root).unwrap();
                out.insert(rel.to_string_lossy().replace('\\', "/"), bytes);
            }
        }
    }
    out
}

/// The inits for the files of one expected tree that differ from `in/`, each
/// with its baseline from `in/`.
fn inits_for(
    checker: &Path,
    case: &Path,
    dir: &Path,
    input: &BTreeMap<String, Vec<u8>>,
) -> Vec<Init> {
    let case_name = case.file_name().unwrap().to_string_lossy().to_string();
    let tree_name = dir.file_name().unwrap().to_string_lossy().to_string();
    let files = tree(dir);
    let mut inits = Vec::new();
    let mut modules_done = std::collections::BTreeSet::new();
    for (path, bytes) in &files {
        if input.get(path) == Some(bytes) || path.contains("/.terraform/") {
            continue;
        }
        if (path.ends_with(".tf") || path.ends_with(".tf.json"))
            && !modules_done.insert(parent(path))
        {
            continue;
        }
        let name = format!("{case_name}/{tree_name}/{path}");
        let rewritten = build(checker, dir, &files, path, &name, &tree_name);
        let before = build(checker, &case.join("in"), input, path, &name, "in");
        let paired = rewritten.len() == before.len();
        for (i, mut init) in rewritten.into_iter().enumerate() {
            init.baseline = paired.then(|| Box::new(before[i].clone()));
            inits.push(init);
        }
    }
    inits
}

/// The inits for one file of a tree (rooted at `root`, read into `files`).
fn build(
    checker: &Path,
    root: &Path,
    files: &BTreeMap<String, Vec<u8>>,
    path: &str,
    name: &str,
    tree_name: &str,
) -> Vec<Init> {
    let Some(bytes) = files.get(path) else {
        return Vec::new();
    };
    let base = Init {
        name: name.to_string(),
        tree: tree_name.to_string(),
        files: Vec::new(),
        partial: None,
        terragrunt_keeps: false,
        baseline: None,
    };
    if path.ends_with(".tf") || path.ends_with(".tf.json") {
        let folder = parent(path);
        let ignored = ignored_by(files);
        let module = files
            .iter()
            .filter(|(p, _)| parent(p) == folder && !ignored(p))
            .filter(|(p, _)| p.ends_with(".tf") || p.ends_with(".tf.json"))
            .map(|(p, b)| (file_name(p), b.clone()))
            .collect();
        return vec![Init {
            files: module,
            ..base
        }];
    }
    if path.ends_with(".tfbackend") {
        return vec![Init {
            files: vec![empty_backend()],
            partial: Some(bytes.clone()),
            ..base
        }];
    }
    let mut inits = Vec::new();
    if path.ends_with(".hcl") {
        for contents in generated_backends(&String::from_utf8_lossy(bytes)) {
            inits.push(Init {
                name: format!("{name} (generate)"),
                files: vec![("backend.tf".into(), contents.into_bytes())],
                ..base.clone()
            });
        }
        for partial in remote_state_partials(checker, &root.join(path)) {
            inits.push(Init {
                name: format!("{name} (remote_state)"),
                files: vec![empty_backend()],
                partial: Some(partial.into_bytes()),
                terragrunt_keeps: true,
                ..base.clone()
            });
        }
    }
    inits
}

/// The files the fixture's `_gitignore` (its `.gitignore`) keeps out of the
/// repository: a user's local override is not the configuration tflock edits.
/// Only the simple patterns the fixtures use: `*.suffix` and file names.
fn ignored_by(files: &BTreeMap<String, Vec<u8>>) -> impl Fn(&str) -> bool {
    let patterns: Vec<String> = files
        .get("_gitignore")
        .map(|b| {
            String::from_utf8_lossy(b)
                .lines()
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    move |path: &str| {
        let name = file_name(path);
        patterns.iter().any(|p| match p.strip_prefix('*') {
            Some(suffix) => name.ends_with(suffix),
            None => name == *p,
        })
    }
}

fn parent(path: &str) -> String {
    path.rsplit_once('/')
        .map_or(String::new(), |(d, _)| d.to_string())
}

fn file_name(path: &str) -> String {
    path.rsplit('/').next().unwrap_or(path).to_string()
}

fn empty_backend() -> (String, Vec<u8>) {
    (
        "main.tf".into(),
        b"terraform {\n  backend \"s3\" {}\n}\n".to_vec(),
    )
}

/// The module file with `max_retries = 0` in its S3 backend, so the refused
/// connection fails at once instead of after five backed-off attempts.
///
/// It goes into the block, not `-backend-config=max_retries=0`: with any
/// `-backend-config`, Terraform 1.11 stops refusing unknown arguments of the
/// block (a top-level `role_arn` passes), which would blind this oracle.
fn one_attempt(name: &str, bytes: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(bytes);
    if text.contains("max_retries") {
        return bytes.to_vec();
    }
    if name.ends_with(".tf.json") {
        let Ok(mut doc) = serde_json::from_slice::<serde_json::Value>(bytes) else {
            return bytes.to_vec();
        };
        for terraform in as_objects(&mut doc["terraform"]) {
            for backend in as_objects(&mut terraform["backend"]) {
                for s3 in as_objects(&mut backend["s3"]) {
                    if let Some(o) = s3.as_object_mut() {
                        o.insert("max_retries".into(), 0.into());
                    }
                }
            }
        }
        return serde_json::to_vec(&doc).unwrap();
    }
    match text
        .find("backend \"s3\"")
        .and_then(|at| text[at..].find('{').map(|b| at + b + 1))
    {
        Some(open) => format!("{}\nmax_retries = 0\n{}", &text[..open], &text[open..]).into_bytes(),
        None => bytes.to_vec(),
    }
}

/// A JSON block value: one object, or each object of an array.
fn as_objects(value: &mut serde_json::Value) -> Vec<&mut serde_json::Value> {
    match value {
        serde_json::Value::Array(items) => items.iter_mut().collect(),
        serde_json::Value::Object(_) => vec![value],
        _ => Vec::new(),
    }
}

/// The contents of `generate` heredocs that hold an S3 backend.
fn generated_backends(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let opener = line
            .trim_start()
            .strip_prefix("contents")
            .and_then(|r| r.trim_start().strip_prefix('='))
            .map(str::trim)
            .and_then(|r| r.strip_prefix("<<"))
            .map(|r| r.trim_start_matches('-').to_string());
        i += 1;
        let Some(delimiter) = opener else { continue };
        let mut body = String::new();
        while i < lines.len() && lines[i].trim() != delimiter {
            body.push_str(lines[i]);
            body.push('\n');
            i += 1;
        }
        if body.contains("backend \"s3\"") {
            out.push(body);
        }
    }
    out
}

/// The `remote_state` S3 configs of a Terragrunt file as partial configurations,
/// the way Terragrunt hands them to `terraform init`.
fn remote_state_partials(checker: &Path, file: &Path) -> Vec<String> {
    let out = Command::new(checker)
        .arg("backends")
        .arg(file)
        .output()
        .expect("run hclcheck");
    let mut partials = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(doc) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if doc["kind"] != "terragrunt" {
            continue;
        }
        let Some(attrs) = doc["attrs"].as_object() else {
            continue;
        };
        let mut partial = String::new();
        for (key, value) in attrs {
            if TERRAGRUNT_ONLY.contains(&key.as_str()) {
                continue;
            }
            // Terragrunt renames `lock_table`; `dynamodb_table` wins over it.
            let key = match key.as_str() {
                "lock_table" if attrs.contains_key("dynamodb_table") => continue,
                "lock_table" => "dynamodb_table",
                other => other,
            };
            let expr = value.as_str().unwrap_or_default();
            let value = match placeholder(expr) {
                // A region must be a real one.
                p if key == "region" && p.contains('x') && !expr.starts_with("\"eu") => {
                    "\"us-east-1\"".to_string()
                }
                p => p,
            };
            partial.push_str(&format!("{key} = {value}\n"));
        }
        partials.push(partial);
    }
    partials
}

/// Terragrunt evaluates expressions before Terraform sees them: a literal
/// stays, an interpolated string gets `x` for each `${...}`, any other
/// expression becomes the string `"x"` (these fixtures only use them for
/// strings).
fn placeholder(expr: &str) -> String {
    let literal = expr == "true"
        || expr == "false"
        || expr.parse::<f64>().is_ok()
        || expr.starts_with('{')
        || expr.starts_with('[');
    if literal {
        return expr.to_string();
    }
    if let Some(inner) = expr.strip_prefix('"').and_then(|e| e.strip_suffix('"')) {
        let mut out = String::new();
        let mut rest = inner;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            out.push('x');
            rest = rest[start..]
                .find('}')
                .map_or("", |end| &rest[start + end + 1..]);
        }
        out.push_str(rest);
        return format!("\"{out}\"");
    }
    "\"x\"".to_string()
}

/// Runs the inits on a few threads; returns a description of each failure.
fn run_all(terraform: &Path, inits: &[Init]) -> Vec<String> {
    // Most of an init is waiting (process start, the refused connection), so
    // a few more threads than cores.
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get() * 2)
        .clamp(4, 8);
    let next = Mutex::new(0usize);
    let failures = Mutex::new(Vec::new());
    let work = tempfile::tempdir().unwrap();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = {
                        let mut n = next.lock().unwrap();
                        *n += 1;
                        *n - 1
                    };
                    let Some(init) = inits.get(i) else { break };
                    let dir = work.path().join(i.to_string());
                    if let Err(why) = run_one(terraform, init, &dir) {
                        failures
                            .lock()
                            .unwrap()
                            .push(format!("{}: {why}", init.name));
                    }
                }
            });
        }
    });
    let mut failures = failures.into_inner().unwrap();
    failures.sort();
    failures
}

/// One init and its verdict: its errors are the refused connection, or were
/// there in `in/` already (never an unsupported argument in a modernized tree),
/// and no deprecation is left that should be gone.
fn run_one(terraform: &Path, init: &Init, dir: &Path) -> Result<(), String> {
    let before = match &init.baseline {
        Some(b) => diagnostics(terraform, b, &dir.join("in"))?,
        None => Vec::new(),
    };
    let known: std::collections::BTreeSet<(String, String)> = before
        .into_iter()
        .filter(|d| d.severity == "error")
        .map(|d| (d.summary, d.detail))
        .collect();
    let mut problems = Vec::new();
    for d in diagnostics(terraform, init, &dir.join("out"))? {
        let at = d.line.map_or(String::new(), |l| format!(" (line {l})"));
        let inherited = known.contains(&(d.summary.clone(), d.detail.clone()))
            && !(init.tree.ends_with("-modernize") && d.summary == "Unsupported argument");
        match d.severity.as_str() {
            "error" if is_network(&d.summary, &d.detail) || inherited => {}
            "error" => problems.push(format!("error{at}: {}: {}", d.summary, d.detail)),
            "warning" => {
                if let Some(parameter) = deprecated_parameter(&d.summary, &d.detail)
                    && !deprecation_allowed(init, &parameter)
                {
                    problems.push(format!("warning{at}: {}", d.detail));
                }
            }
            _ => {}
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// One diagnostic of `terraform init -json`.
struct Diagnostic {
    severity: String,
    summary: String,
    detail: String,
    line: Option<u64>,
}

/// Runs one init in `dir` and returns its diagnostics.
fn diagnostics(terraform: &Path, init: &Init, dir: &Path) -> Result<Vec<Diagnostic>, String> {
    std::fs::create_dir_all(dir).unwrap();
    for (name, bytes) in &init.files {
        std::fs::write(dir.join(name), one_attempt(name, bytes)).unwrap();
    }
    let rc = dir.join("empty.tfrc");
    std::fs::write(&rc, "").unwrap();
    let mut cmd = Command::new(terraform);
    cmd.current_dir(dir).args([
        "init",
        "-backend=true",
        "-get=false",
        "-input=false",
        "-json",
    ]);
    if let Some(partial) = &init.partial {
        std::fs::write(dir.join("partial.tfbackend"), partial).unwrap();
        cmd.arg("-backend-config=partial.tfbackend");
    }
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("TF_CLI_CONFIG_FILE", &rc)
        .env("TF_IN_AUTOMATION", "1")
        .env("AWS_ACCESS_KEY_ID", "AKIAORACLE")
        .env("AWS_SECRET_ACCESS_KEY", "oracle-secret")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_MAX_ATTEMPTS", "1")
        // Many fixtures leave the region to the environment, as users do.
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", CLOSED)
        .env("AWS_ENDPOINT_URL_S3", CLOSED)
        .env("AWS_ENDPOINT_URL_STS", CLOSED)
        .env("AWS_ENDPOINT_URL_IAM", CLOSED)
        .env("AWS_ENDPOINT_URL_DYNAMODB", CLOSED)
        .env("AWS_ENDPOINT_URL_SSO", CLOSED)
        .stdin(std::process::Stdio::null());
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run terraform: {e}"))?;
    let mut found = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(doc) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let d = &doc["diagnostic"];
        if d.is_null() {
            continue;
        }
        let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
        found.push(Diagnostic {
            severity: text(&d["severity"]),
            summary: text(&d["summary"]),
            // Positions differ between before and after; the words do not.
            detail: text(&d["detail"]),
            line: d["range"]["start"]["line"].as_u64(),
        });
    }
    Ok(found)
}

/// The refused connection to the closed port: what is left once the
/// configuration is valid.
fn is_network(summary: &str, detail: &str) -> bool {
    let text = format!("{summary} {detail}");
    text.contains("127.0.0.1:9") && text.contains("connection refused")
}

/// `The parameter "X" is deprecated.` -> X.
fn deprecated_parameter(summary: &str, detail: &str) -> Option<String> {
    if summary != "Deprecated Parameter" {
        return None;
    }
    let rest = detail.strip_prefix("The parameter \"")?;
    Some(rest[..rest.find('"')?].to_string())
}

/// Which deprecation warnings a tree may keep: replace removes the DynamoDB
/// settings; `--modernize` rewrites everything but dual's table (and, in a
/// Terragrunt config, the spellings Terragrunt's own S3 client needs).
fn deprecation_allowed(init: &Init, parameter: &str) -> bool {
    let dual = init.tree.starts_with("dual");
    let dynamodb = matches!(parameter, "dynamodb_table" | "dynamodb_endpoint");
    if init.tree.ends_with("-modernize") {
        return (dual && parameter == "dynamodb_table")
            || (init.terragrunt_keeps
                && matches!(parameter, "force_path_style" | "shared_credentials_file"));
    }
    dual || !dynamodb
}

#[test]
fn placeholders_stand_for_what_terragrunt_evaluates() {
    assert_eq!(
        placeholder("\"${path_relative_to_include()}/terraform.tfstate\""),
        "\"x/terraform.tfstate\""
    );
    assert_eq!(placeholder("local.region"), "\"x\"");
    assert_eq!(placeholder("true"), "true");
    assert_eq!(placeholder("{ a = 1 }"), "{ a = 1 }");
}

#[test]
fn generate_heredocs_are_found() {
    let text = "generate \"b\" {\n  contents = <<-EOF\n    terraform {\n      backend \"s3\" {}\n    }\n  EOF\n}\n";
    assert_eq!(
        generated_backends(text),
        vec!["    terraform {\n      backend \"s3\" {}\n    }\n".to_string()]
    );
}
