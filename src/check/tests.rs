use super::*;
use crate::discover::{Candidate, FileKind};
use crate::plan::Strategy;
use crate::scan::{FileOutcome, plan_bytes};
use std::path::PathBuf;

/// A repository plan of in-memory files, as the scan would build it.
fn repo(files: &[(&str, &str)]) -> RepoPlan {
    let mut repo = RepoPlan::default();
    for (path, text) in files {
        let candidate = Candidate {
            path: PathBuf::from(path),
            display: path.to_string(),
            kind: FileKind::of(std::path::Path::new(path)).unwrap(),
        };
        match plan_bytes(candidate, text.as_bytes().to_vec(), Strategy::Replace) {
            Some(FileOutcome::Planned(file, backends)) => {
                repo.files.push(file);
                repo.backends.extend(backends);
            }
            Some(FileOutcome::Failed(problem, backends)) => {
                repo.problems.push(problem);
                repo.backends.extend(backends);
            }
            None => {}
        }
    }
    repo
}

fn no_files(_: &str) -> Option<String> {
    None
}

fn run(files: &[(&str, &str)]) -> CheckReport {
    check(&repo(files), &AllowList::default(), &no_files)
}

const DYNAMO: &str = "terraform {\n  backend \"s3\" {\n    bucket         = \"b\"\n    key            = \"k\"\n    dynamodb_table = \"locks\"\n  }\n}\n";
const LOCKFILE: &str = "terraform {\n  backend \"s3\" {\n    bucket       = \"b\"\n    key          = \"k\"\n    use_lockfile = true\n  }\n}\n";

#[test]
fn a_dynamodb_backend_fails_at_its_table_setting() {
    let report = run(&[("app/main.tf", DYNAMO), ("ok/main.tf", LOCKFILE)]);
    assert_eq!(report.backends, 2);
    assert_eq!(report.findings.len(), 1, "{report:#?}");
    let f = &report.findings[0];
    assert_eq!((f.path.as_str(), f.line, f.column), ("app/main.tf", 5, 5));
    assert_eq!(f.subject, Subject::Backend);
    assert!(
        f.message.contains("dynamodb_table = \"locks\""),
        "{}",
        f.message
    );
    assert!(!report.passed());
}

#[test]
fn a_lockfile_only_repository_passes() {
    let report = run(&[("ok/main.tf", LOCKFILE)]);
    assert!(report.passed());
    assert!(report.findings.is_empty());
}

#[test]
fn dual_phase_still_fails_and_says_so() {
    let dual = DYNAMO.replace(
        "    dynamodb_table = \"locks\"\n",
        "    dynamodb_table = \"locks\"\n    use_lockfile   = true\n",
    );
    let report = run(&[("main.tf", &dual)]);
    assert_eq!(report.failing(), 1);
    assert!(report.findings[0].message.contains("dual"));
}

#[test]
fn endpoint_only_settings_and_null_tables() {
    let endpoint = "terraform {\n  backend \"s3\" {\n    bucket = \"b\"\n    endpoints = { dynamodb = \"http://x\" }\n  }\n}\n";
    let report = run(&[("main.tf", endpoint)]);
    assert_eq!(report.failing(), 1);
    assert!(report.findings[0].message.contains("endpoints.dynamodb"));
    let null = "terraform {\n  backend \"s3\" {\n    bucket         = \"b\"\n    dynamodb_table = null\n  }\n}\n";
    assert!(run(&[("main.tf", null)]).passed());
}

#[test]
fn terragrunt_lock_table_and_json_backends() {
    let tg = "remote_state {\n  backend = \"s3\"\n  config = {\n    bucket     = \"b\"\n    key        = \"k\"\n    lock_table = \"locks\"\n  }\n}\n";
    let json = "{\"terraform\": {\"backend\": {\"s3\": {\"bucket\": \"b\", \"dynamodb_table\": \"t\"}}}}\n";
    let report = run(&[("live/terragrunt.hcl", tg), ("j/main.tf.json", json)]);
    assert_eq!(report.failing(), 2, "{report:#?}");
    assert_eq!(report.findings[0].path, "j/main.tf.json");
    assert_eq!(report.findings[1].line, 6);
}

#[test]
fn inline_allow_on_block_line_line_above_or_setting() {
    let above = format!("# tflock:allow shared with the old pipeline\n{DYNAMO}");
    let report = run(&[("main.tf", &above)]);
    assert!(report.passed(), "{report:#?}");
    assert_eq!(
        report.findings[0].allowed.as_deref(),
        Some("shared with the old pipeline")
    );
    let on_setting = DYNAMO.replace("\"locks\"\n", "\"locks\" # tflock:allow frozen\n");
    assert!(run(&[("main.tf", &on_setting)]).passed());
    let on_block = DYNAMO.replace("backend \"s3\" {\n", "backend \"s3\" { // tflock:allow x\n");
    assert!(run(&[("main.tf", &on_block)]).passed());
}

#[test]
fn inline_allow_without_reason_allows_nothing() {
    let above = format!("# tflock:allow\n{DYNAMO}");
    let report = run(&[("main.tf", &above)]);
    assert_eq!(report.failing(), 1);
    assert!(report.findings[0].message.contains("without a reason"));
}

#[test]
fn a_marker_far_from_the_backend_allows_nothing() {
    let far = format!("# tflock:allow not this one\n\n\n\n{DYNAMO}");
    assert_eq!(run(&[("main.tf", &far)]).failing(), 1);
}

#[test]
fn allow_file_entries_allow_by_path() {
    let mut allow = AllowList::default();
    allow
        .parse("allow", "legacy/** kept for the old CI\n")
        .unwrap();
    let repo = repo(&[("legacy/main.tf", DYNAMO), ("app/main.tf", DYNAMO)]);
    let report = check(&repo, &allow, &no_files);
    assert_eq!((report.failing(), report.allowed()), (1, 1));
    assert_eq!(report.findings[0].path, "app/main.tf");
    assert_eq!(
        report.findings[1].allowed.as_deref(),
        Some("kept for the old CI")
    );
}

#[test]
fn readers_that_name_dynamodb_fail() {
    let reader = "data \"terraform_remote_state\" \"net\" {\n  backend = \"s3\"\n  config = {\n    bucket         = \"b\"\n    key            = \"k\"\n    dynamodb_table = \"locks\"\n  }\n}\n";
    let report = run(&[("consumer/main.tf", reader)]);
    assert_eq!(report.failing(), 1, "{report:#?}");
    let f = &report.findings[0];
    assert_eq!(f.subject, Subject::Reader);
    assert_eq!((f.line, f.column), (6, 5));
    assert!(f.message.contains("\"net\""));
}

#[test]
fn unparseable_files_fail_closed() {
    let report = run(&[(
        "bad/main.tf",
        "terraform {\n  backend \"s3\" {\n    bucket = \n",
    )]);
    assert_eq!(report.failing(), 1, "{report:#?}");
    assert_eq!(report.findings[0].subject, Subject::Unreadable);
}

fn init_override(kind: OverrideKind) -> InitOverride {
    InitOverride {
        source: "ci/deploy.sh".into(),
        line: 3,
        column: 16,
        dir: None,
        via: Via::Argument,
        kind,
    }
}

#[test]
fn init_overrides_that_pass_dynamodb_fail_and_take_inline_markers() {
    let mut repo = repo(&[("ok/main.tf", LOCKFILE)]);
    repo.overrides = vec![
        init_override(OverrideKind::Setting {
            key: "dynamodb_table".into(),
            value: "locks".into(),
            literal_prefix: "locks".into(),
            complete: true,
        }),
        InitOverride {
            line: 5,
            ..init_override(OverrideKind::Setting {
                key: "bucket".into(),
                value: "b".into(),
                literal_prefix: "b".into(),
                complete: true,
            })
        },
        InitOverride {
            line: 7,
            ..init_override(OverrideKind::Unreadable {
                text: "-backend-config=\"$K=$V\"".into(),
            })
        },
    ];
    let report = check(&repo, &AllowList::default(), &no_files);
    let lines: Vec<usize> = report.findings.iter().map(|f| f.line).collect();
    assert_eq!(lines, [3, 7]);
    assert!(
        report
            .findings
            .iter()
            .all(|f| f.subject == Subject::InitOverride)
    );

    let script = |path: &str| {
        (path == "ci/deploy.sh").then(|| {
            "#!/bin/sh\n# tflock:allow the legacy account keeps its table\nterraform init -backend-config=dynamodb_table=locks\n"
                .to_string()
        })
    };
    let report = check(&repo, &AllowList::default(), &script);
    assert_eq!(report.failing(), 1);
    assert_eq!(
        report.findings[0].allowed.as_deref(),
        Some("the legacy account keeps its table")
    );
}
