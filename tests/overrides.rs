//! Init-time overrides end to end (issue 10, item 3): the real binary on the
//! fixture trees in `fixtures/overrides/`.
//!
//! `monorepo/` passes `-backend-config=backend.hcl` and
//! `-backend-config="key=envs/${ENV}/t.tfstate"` with `-chdir=envs/prod` from a
//! Makefile, a script and a GitHub workflow; a workflow step with
//! `working-directory:` passes a file with an unusual name (`stage.backend`) and
//! one that does not exist; a job sets `TF_CLI_ARGS_init`; a Terragrunt root's
//! `extra_arguments` overrides the key of its units, and a unit passes its own
//! `${get_terragrunt_dir()}/unit.backend.hcl`; `legacy/backend.conf` is a
//! partial configuration nobody references, and `tg/backend.hcl` is a Terragrunt
//! file that only shares the name. `not-hcl/` passes a file Terraform cannot read.

mod common;

use common::{copy_tree, fixtures, hclcheck, read_tree, run_hclcheck, stderr, stdout, tflock};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn work_copy(case: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("repo");
    copy_tree(&fixtures().join("overrides").join(case), &work);
    (tmp, work)
}

fn plan_json(work: &Path) -> (i32, Value) {
    plan_json_with(work, "replace")
}

fn plan_json_with(work: &Path, strategy: &str) -> (i32, Value) {
    let out = tflock(
        work,
        &[
            "plan",
            "--offline",
            "--format",
            "json",
            "--strategy",
            strategy,
        ],
    );
    let doc = serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| {
        panic!(
            "plan JSON does not parse: {e}\n{}\n{}",
            stdout(&out),
            stderr(&out)
        )
    });
    (out.status.code().unwrap_or(-1), doc)
}

/// `source:line:col dir what` for one entry of `init_overrides`.
fn render(o: &Value) -> String {
    let kind = &o["kind"];
    let what = match kind["type"].as_str() {
        Some("setting") if kind["complete"] == true => {
            format!(
                "{}={}",
                kind["key"].as_str().unwrap(),
                kind["value"].as_str().unwrap()
            )
        }
        Some("setting") => format!(
            "{}={} partial:{}",
            kind["key"].as_str().unwrap(),
            kind["value"].as_str().unwrap(),
            kind["literal_prefix"].as_str().unwrap()
        ),
        Some("file") => format!(
            "file:{} -> {} exists={}",
            kind["path"].as_str().unwrap(),
            kind["file"].as_str().unwrap_or("?"),
            kind["exists"]
        ),
        other => format!("{other:?}: {kind}"),
    };
    let via = match o["via"]["type"].as_str() {
        Some("env_var") => format!("env:{}", o["via"]["name"].as_str().unwrap()),
        Some(v) => v.to_string(),
        None => "?".into(),
    };
    format!(
        "{}:{}:{} {} {via} {what}",
        o["source"].as_str().unwrap(),
        o["line"],
        o["column"],
        o["dir"].as_str().unwrap_or("?")
    )
}

/// The text at `line:column` (1-based, chars) of a file in `root`.
fn text_at(root: &Path, path: &str, line: u64, column: u64) -> String {
    let text = std::fs::read_to_string(root.join(path)).unwrap();
    let l = text.lines().nth(line as usize - 1).unwrap_or_default();
    l.chars().skip(column as usize - 1).collect()
}

#[test]
fn plan_lists_every_override_with_its_directory() {
    let (_tmp, work) = work_copy("monorepo");
    let (code, doc) = plan_json(&work);
    assert_eq!(code, 0, "{doc:#}");
    let got: Vec<String> = doc["init_overrides"]
        .as_array()
        .expect("init_overrides")
        .iter()
        .map(render)
        .collect();
    let want = [
        ".github/workflows/x.yml:8:46 envs/prod argument file:backend.hcl -> envs/prod/backend.hcl exists=true",
        ".github/workflows/x.yml:8:74 envs/prod argument key=envs/${ENV}/t.tfstate partial:envs/",
        // A job-level variable reaches every step's init: no one directory.
        ".github/workflows/x.yml:12:25 ? env:TF_CLI_ARGS_init region=eu-west-1",
        ".github/workflows/x.yml:17:26 envs/stage argument file:stage.backend -> envs/stage/stage.backend exists=true",
        ".github/workflows/x.yml:18:26 envs/stage argument file:missing.hcl -> envs/stage/missing.hcl exists=false",
        "Makefile:4:34 envs/prod argument file:backend.hcl -> envs/prod/backend.hcl exists=true",
        "Makefile:4:62 envs/prod argument key=envs/$(ENV)/t.tfstate partial:envs/",
        // `cd "$(dirname "$0")"` anchors the script's relative -chdir.
        "deploy.sh:5:3 envs/prod argument file:backend.hcl -> envs/prod/backend.hcl exists=true",
        "deploy.sh:6:3 envs/prod argument key=envs/${ENV}/t.tfstate partial:envs/",
        // A unit's own extra_arguments, `get_terragrunt_dir()` filled in.
        "live/other/terragrunt.hcl:8:18 live/other terragrunt_extra_arguments file:${get_terragrunt_dir()}/unit.backend.hcl -> live/other/unit.backend.hcl exists=true",
        // The root's extra_arguments, evaluated for each unit that includes it.
        "live/root.hcl:16:18 live/app terragrunt_extra_arguments key=live/app/terraform.tfstate",
        "live/root.hcl:16:18 live/other terragrunt_extra_arguments key=live/other/terraform.tfstate",
    ];
    assert_eq!(got, want, "{:#}", doc["init_overrides"]);
    // Every position points at the argument.
    for o in doc["init_overrides"].as_array().unwrap() {
        let at = text_at(
            &work,
            o["source"].as_str().unwrap(),
            o["line"].as_u64().unwrap(),
            o["column"].as_u64().unwrap(),
        );
        assert!(
            at.starts_with("-backend-config") || at.starts_with("\"-backend-config"),
            "{}: {at:?}",
            render(o)
        );
    }
}

#[test]
fn files_passed_with_backend_config_are_planned_whatever_their_name() {
    let (_tmp, work) = work_copy("monorepo");
    let (_, doc) = plan_json(&work);
    let backends: Vec<(String, String, String)> = doc["backends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["file"].as_str().unwrap().to_string(),
                b["kind"].as_str().unwrap().to_string(),
                b["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let has = |file: &str, kind: &str, action: &str| {
        assert!(
            backends
                .iter()
                .any(|b| b == &(file.to_string(), kind.to_string(), action.to_string())),
            "{file} ({kind}) -> {action} missing in {backends:#?}"
        );
    };
    has("envs/prod/backend.hcl", "tfbackend", "migrate");
    has("envs/stage/stage.backend", "tfbackend", "migrate");
    has("legacy/backend.conf", "tfbackend", "migrate");
    has("tg/backend.hcl", "terragrunt", "migrate");
    has("live/root.hcl", "terragrunt", "migrate");
    has("live/other/unit.backend.hcl", "tfbackend", "migrate");
    assert_eq!(backends.len(), 9, "{backends:#?}");

    // The missing file is a finding at the reference, not an error.
    assert_eq!(doc["errors"], serde_json::json!([]));
    let findings: Vec<&Value> = doc["preflight"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "init-override")
        .collect();
    assert_eq!(findings.len(), 1, "{:#}", doc["preflight"]);
    let f = findings[0];
    assert_eq!(
        (f["path"].as_str(), f["line"].as_u64(), f["column"].as_u64()),
        (Some(".github/workflows/x.yml"), Some(18), Some(26))
    );
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("envs/stage/missing.hcl"),
        "{f:#}"
    );
    // No version finding for the partial files: their modules (where init runs) pin >= 1.11.
    let versions: Vec<&Value> = doc["preflight"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "version")
        .collect();
    assert!(versions.is_empty(), "{versions:#?}");
}

#[test]
fn apply_migrates_partial_files_and_rollback_restores_them() {
    for strategy in ["replace", "dual"] {
        let (tmp, work) = work_copy("monorepo");
        let before = read_tree(&work);
        let rollback = tmp.path().join("rollback.json");
        let rollback = rollback.to_str().unwrap();
        let applied = tflock(
            &work,
            &[
                "apply",
                "--strategy",
                strategy,
                "--skip-lock-check",
                "--auto-approve",
                "--rollback-file",
                rollback,
            ],
        );
        assert_eq!(applied.status.code(), Some(0), "{}", stderr(&applied));
        let after = read_tree(&work);
        let changed: Vec<&str> = after
            .iter()
            .filter(|(p, bytes)| before.iter().any(|(q, old)| q == p && old != bytes))
            .map(|(p, _)| p.as_str())
            .collect();
        assert_eq!(
            changed,
            [
                "envs/prod/backend.hcl",
                "envs/stage/stage.backend",
                "legacy/backend.conf",
                "live/other/unit.backend.hcl",
                "live/root.hcl",
                "tg/backend.hcl"
            ],
            "{strategy}"
        );
        for path in [
            "envs/prod/backend.hcl",
            "envs/stage/stage.backend",
            "legacy/backend.conf",
        ] {
            let text = std::fs::read_to_string(work.join(path)).unwrap();
            let lockfile = text
                .lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["use_lockfile", "=", "true"]);
            assert!(lockfile, "{strategy} {path}:\n{text}");
            assert_eq!(
                text.contains("dynamodb_table"),
                strategy == "dual",
                "{strategy} {path}:\n{text}"
            );
        }
        if let Some(checker) = hclcheck("apply_migrates_partial_files_and_rollback_restores_them") {
            let files: Vec<PathBuf> = changed.iter().map(|p| work.join(p)).collect();
            let (parses, out) = run_hclcheck(&checker, &["parse"], &files);
            assert!(parses, "{strategy}: {out}");
            let (clean, out) = run_hclcheck(&checker, &["fmt", "-check"], &files);
            assert!(clean, "{strategy}: not terraform fmt-clean: {out}");
        }
        // Nothing left to do.
        let (_, again) = plan_json_with(&work, strategy);
        assert_eq!(again["summary"]["migrate"], 0, "{strategy}: {again:#}");
        let restored = tflock(
            &work,
            &["rollback", rollback, "--auto-approve", "--files-only"],
        );
        assert_eq!(restored.status.code(), Some(0), "{}", stderr(&restored));
        let now: Vec<(String, Vec<u8>)> = read_tree(&work)
            .into_iter()
            .filter(|(p, _)| !p.starts_with("tflock-rollback"))
            .collect();
        assert_eq!(now, before, "{strategy}: rollback");
    }
}

#[test]
fn a_backend_config_file_terraform_cannot_read_is_reported_and_left_alone() {
    let (_tmp, work) = work_copy("not-hcl");
    let before = read_tree(&work);
    let out = tflock(&work, &["plan", "--offline"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains("envs/dev/dev.conf:1:8: `bucket = acme-state`: Terraform reads a -backend-config file without variables or functions")
            && err.contains("passed to init with -backend-config by deploy.sh:2"),
        "{err}"
    );
    let applied = tflock(&work, &["apply", "--skip-lock-check", "--auto-approve"]);
    assert_eq!(applied.status.code(), Some(1), "{}", stderr(&applied));
    let after: Vec<(String, Vec<u8>)> = read_tree(&work)
        .into_iter()
        .filter(|(p, _)| !p.starts_with("tflock-rollback"))
        .collect();
    assert_eq!(after, before);
}

#[test]
fn excluded_files_stay_out_even_when_passed_with_backend_config() {
    let (_tmp, work) = work_copy("monorepo");
    let out = tflock(
        &work,
        &[
            "plan",
            "--offline",
            "--format",
            "json",
            "--exclude",
            "envs/stage/**",
        ],
    );
    let doc: Value = serde_json::from_str(&stdout(&out)).expect("plan JSON");
    let files: Vec<&str> = doc["backends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["file"].as_str().unwrap())
        .collect();
    assert!(
        !files.iter().any(|f| f.starts_with("envs/stage/")),
        "{files:?}"
    );
    assert!(files.contains(&"envs/prod/backend.hcl"), "{files:?}");
}
