//! End-to-end runs of the real binary on the fixture trees in `fixtures/cases/`.
//!
//! Each case is `fixtures/cases/<case>/{in,replace,dual}/`: `in/` is a small
//! repository, `replace/` and `dual/` the whole tree after
//! `tflock apply --strategy <s> --skip-lock-check --auto-approve`. For every case
//! and both strategies, on a copy of `in/`:
//!
//! 1. `plan --offline` (text and JSON) is snapshotted (`tests/snapshots`);
//! 2. apply must produce exactly the expected tree, byte for byte;
//! 3. every rewritten HCL file must parse with the reference checker, and every
//!    file that was `terraform fmt`-clean must still be;
//! 4. a second plan must find nothing to change;
//! 5. rollback must restore `in/` byte for byte.
//!
//! Cases with bad input files list them below; their plan and apply must report
//! each one as `path:line:col: message`, leave it untouched, still migrate the
//! good files, and exit 1. Cases whose backends the preflight blocks (issue 6)
//! list those backends' files: plan and apply exit 1, each of them (and no other
//! backend) is `blocked` with a reason, and every preflight finding points at a
//! line and column that exist and names a file that apply left alone.
//!
//! A fixture file named `_gitignore` is copied as `.gitignore` (a real one would
//! keep the ignored fixture files out of this repository too).

mod common;

use common::{copy_tree, fixtures, hclcheck, read_tree, run_hclcheck, stderr, stdout, tflock};
use std::path::{Path, PathBuf};
use std::process::Output;

const STRATEGIES: [&str; 2] = ["replace", "dual"];

/// One test per case, so a failure names its case; `CASES` lists them all.
macro_rules! cases {
    ($($test:ident => $name:literal
        $(, bad = [$($bad:literal),* $(,)?])?
        $(, blocked = [$($blocked:literal),* $(,)?])?;)*) => {
        const CASES: &[&str] = &[$($name),*];
        $(
            #[test]
            fn $test() {
                run_case($name, &[$($($bad),*)?], &[$($($blocked),*)?]);
            }
        )*
    };
}

cases! {
    // Where S3 backends live.
    tf_basic => "tf-basic";
    tofu_file => "tofu-file";
    tofu_json => "tofu-json";
    override_files => "override-files";
    json_object => "json-object";
    json_array_terraform => "json-array-terraform";
    json_array_backend => "json-array-backend";
    json_array_s3 => "json-array-s3";
    json_endpoints => "json-endpoints";
    tfbackend => "tfbackend";
    terragrunt_block => "terragrunt-block";
    terragrunt_attribute => "terragrunt-attribute";
    terragrunt_inline_config => "terragrunt-inline-config";
    terragrunt_json => "terragrunt-json";
    // Never a backend. Readers (issue 12): `replace` strips the DynamoDB settings
    // from `terraform_remote_state` configs (no use_lockfile), `dual` keeps them.
    decoy_remote_state_data => "decoy-remote-state-data";
    readers_hcl => "readers-hcl";
    readers_json => "readers-json";
    decoy_resources_modules => "decoy-resources-modules";
    decoy_comments_strings => "decoy-comments-strings";
    decoy_other_backends => "decoy-other-backends";
    // Bytes and layout.
    crlf => "crlf";
    bom => "bom";
    tabs => "tabs";
    no_trailing_newline => "no-trailing-newline";
    comments_around => "comments-around";
    aligned_group => "aligned-group";
    unaligned_group => "unaligned-group";
    aligned_comments => "aligned-comments";
    aligned_comments_graphemes => "aligned-comments-graphemes";
    // use_lockfile states.
    lockfile_true => "lockfile-true";
    lockfile_false => "lockfile-false";
    lockfile_string => "lockfile-string";
    dual_config => "dual-config";
    // DynamoDB endpoints.
    dynamodb_endpoint => "dynamodb-endpoint";
    endpoints_mixed => "endpoints-mixed";
    endpoints_dynamodb_only => "endpoints-dynamodb-only";
    // Places that must be skipped.
    caches_skipped => "caches-skipped";
    terragrunt_generated => "terragrunt-generated";
    gitignored => "gitignored";
    // Bad input.
    bad_hcl_syntax => "bad-hcl-syntax", bad = ["broken/main.tf"];
    bad_hcl_eof => "bad-hcl-eof", bad = ["broken-tg/terragrunt.hcl"];
    bad_utf8 => "bad-utf8", bad = ["latin1/main.tf"];
    bad_binary => "bad-binary", bad = ["blob/main.tf", "blob/state.s3.tfbackend"];
    bad_json => "bad-json", bad = ["broken/main.tf.json"];
    // Preflight (issue 6): what decides the Terraform/OpenTofu version.
    version_required_admits => "version-required-admits", blocked = ["network/backend.tf"];
    version_required_excludes => "version-required-excludes";
    version_pin_terraform_version => "version-pin-terraform-version", blocked = ["app/main.tf"];
    version_pin_latest => "version-pin-latest";
    version_pin_opentofu_version => "version-pin-opentofu-version", blocked = ["old/main.tofu"];
    version_pin_tool_versions_parent => "version-pin-tool-versions-parent",
        blocked = ["envs/prod/network/main.tf"];
    // Hand-written snapshot: the reason names root.hcl's constraint once, not once
    // per unit that includes it.
    version_terragrunt_constraint => "version-terragrunt-constraint", blocked = ["live/root.hcl"];
    // Hand-written replace/, dual/ and snapshots: the unit's own
    // terraform_version_constraint replaces the one of the root it includes
    // (Terragrunt's shallow merge), so the root's `>= 1.4` does not block.
    version_terragrunt_constraint_override => "version-terragrunt-constraint-override";
    version_unparseable => "version-unparseable", blocked = ["app/backend.tf"];
    version_bump => "version-bump",
        blocked = ["pessimistic/main.tf", "pinned/main.tf", "terraform/backend.tf", "tofu/main.tofu"];
    // Preflight: Terragrunt generate blocks, generated files, units.
    generate_heredoc => "generate-heredoc";
    // Hand-written replace/, dual/ and snapshots: the `required_version` inside the
    // generate heredoc is part of the module Terragrunt generates, and admits 1.5.
    generate_heredoc_required_version => "generate-heredoc-required-version",
        blocked = ["app/terragrunt.hcl"];
    generated_file_signature => "generated-file-signature";
    terragrunt_units => "terragrunt-units";
    // Preflight: CI and scripts; OpenTofu.
    ci_references => "ci-references";
    tofu_twin => "tofu-twin";
    tofu_var_bucket => "tofu-var-bucket";
    // Version pins beyond the version-manager files (issue 13): mise, CI.
    version_pin_mise => "version-pin-mise", blocked = ["app/main.tf"];
    // required_version in .tf.json and in a generate heredoc: read, and blocking
    // (bumped in `bump_in_json_and_generate`).
    version_bump_json_generate => "version-bump-json-generate",
        blocked = ["json/main.tf.json", "tg/terragrunt.hcl"];
    version_pin_ci_actions => "version-pin-ci-actions", blocked = ["app/main.tf"];
    // Per Atlantis project; a new-enough container image blocks nothing.
    version_pin_atlantis => "version-pin-atlantis", blocked = ["net/main.tf"];
    // Terragrunt's lock_table alias and lock-table-only keys (issue 10, 13).
    lock_table => "lock-table";
    // Upgrade-safe backends (issue 13): without --modernize, a removed
    // assume-role attribute blocks for Terraform; the same cases run with
    // --modernize in `modernize_cases!` below.
    modernize_assume_role => "modernize-assume-role",
        blocked = ["app/main.tf", "full/main.tf", "ops/backend.tf"];
    modernize_alone => "modernize-alone", blocked = [
        "role-arn/main.tf", "session-name/main.tf", "external-id/main.tf",
        "assume-role-duration-seconds/main.tf", "assume-role-policy/main.tf",
        "assume-role-policy-arns/main.tf", "assume-role-tags/main.tf",
        "assume-role-transitive-tag-keys/main.tf",
    ];
    modernize_with_role => "modernize-with-role", blocked = [
        "session-name/main.tf", "external-id/main.tf",
        "assume-role-duration-seconds/main.tf", "assume-role-policy/main.tf",
        "assume-role-policy-arns/main.tf", "assume-role-tags/main.tf",
        "assume-role-transitive-tag-keys/main.tf",
    ];
    // Each attribute alone (with its role_arn) in .tf.json, .tfbackend and
    // remote_state.
    modernize_forms => "modernize-forms", blocked = [
        "json/assume-role-duration-seconds/main.tf.json",
        "json/assume-role-policy-arns/main.tf.json",
        "json/assume-role-policy/main.tf.json",
        "json/assume-role-tags/main.tf.json",
        "json/assume-role-transitive-tag-keys/main.tf.json",
        "json/external-id/main.tf.json",
        "json/role-arn/main.tf.json",
        "json/session-name/main.tf.json",
        "tfbackend/assume-role-duration-seconds/prod.s3.tfbackend",
        "tfbackend/assume-role-policy-arns/prod.s3.tfbackend",
        "tfbackend/assume-role-policy/prod.s3.tfbackend",
        "tfbackend/assume-role-tags/prod.s3.tfbackend",
        "tfbackend/assume-role-transitive-tag-keys/prod.s3.tfbackend",
        "tfbackend/external-id/prod.s3.tfbackend",
        "tfbackend/role-arn/prod.s3.tfbackend",
        "tfbackend/session-name/prod.s3.tfbackend",
        "tg/assume-role-duration-seconds/terragrunt.hcl",
        "tg/assume-role-policy-arns/terragrunt.hcl",
        "tg/assume-role-policy/terragrunt.hcl",
        "tg/assume-role-tags/terragrunt.hcl",
        "tg/assume-role-transitive-tag-keys/terragrunt.hcl",
        "tg/external-id/terragrunt.hcl",
        "tg/role-arn/terragrunt.hcl",
        "tg/session-name/terragrunt.hcl",
    ];
    modernize_deprecated => "modernize-deprecated";
    modernize_merge => "modernize-merge", blocked = ["role/main.tf"];
    modernize_json => "modernize-json", blocked = ["app/main.tf.json"];
    modernize_tfbackend => "modernize-tfbackend",
        blocked = ["app/env/dev.s3.tfbackend", "app/env/prod.s3.tfbackend"];
    modernize_terragrunt => "modernize-terragrunt",
        blocked = ["full/terragrunt.hcl", "gen/terragrunt.hcl", "root.hcl"];
    modernize_conflict => "modernize-conflict", blocked = ["clash/main.tf", "fine/main.tf"];
    // OpenTofu still accepts the removed attributes: a finding, not a block.
    modernize_opentofu => "modernize-opentofu";
}

/// The cases that also have `replace-modernize/` and `dual-modernize/` trees:
/// the same five checks with `--modernize` on plan, apply and the second plan.
macro_rules! modernize_cases {
    ($($test:ident => $name:literal $(, bad = [$($bad:literal),* $(,)?])?;)*) => {
        const MODERNIZE_CASES: &[&str] = &[$($name),*];
        $(
            #[test]
            fn $test() {
                run_modernize_case($name, &[$($($bad),*)?]);
            }
        )*
    };
}

modernize_cases! {
    modernized_assume_role => "modernize-assume-role";
    // The other assume-role attributes alone have no role to go with: an
    // error each (Terraform refuses `assume_role` without `role_arn`).
    modernized_alone => "modernize-alone", bad = [
        "session-name/main.tf", "external-id/main.tf",
        "assume-role-duration-seconds/main.tf", "assume-role-policy/main.tf",
        "assume-role-policy-arns/main.tf", "assume-role-tags/main.tf",
        "assume-role-transitive-tag-keys/main.tf",
    ];
    // Each of them with the role it goes with.
    modernized_with_role => "modernize-with-role";
    modernized_forms => "modernize-forms";
    modernized_deprecated => "modernize-deprecated";
    modernized_merge => "modernize-merge";
    modernized_json => "modernize-json";
    modernized_tfbackend => "modernize-tfbackend";
    modernized_terragrunt => "modernize-terragrunt";
    // `role_arn` and `assume_role.role_arn` disagree: an error for that backend.
    modernized_conflict => "modernize-conflict", bad = ["clash/main.tf"];
    modernized_opentofu => "modernize-opentofu";
}

#[test]
fn every_fixture_case_has_a_test() {
    let mut on_disk: Vec<String> = std::fs::read_dir(fixtures().join("cases"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = CASES.iter().map(|c| c.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "fixtures/cases and the cases! list differ");
    for case in CASES {
        for part in ["in", "replace", "dual"] {
            let dir = fixtures().join("cases").join(case).join(part);
            assert!(dir.is_dir(), "{case}: missing {}", dir.display());
        }
    }
    for case in MODERNIZE_CASES {
        assert!(CASES.contains(case), "{case} is not in cases!");
        for part in ["replace-modernize", "dual-modernize"] {
            let dir = fixtures().join("cases").join(case).join(part);
            assert!(dir.is_dir(), "{case}: missing {}", dir.display());
        }
    }
}

/// `--bump-required-version` in Terraform's JSON syntax and inside a
/// Terragrunt `generate` heredoc (expected trees `replace-bump/`, `dual-bump/`).
#[test]
fn bump_in_json_and_generate() {
    for strategy in STRATEGIES {
        run_with(
            "version-bump-json-generate",
            strategy,
            &["--bump-required-version"],
            &[],
            &[],
        );
    }
}

/// Both strategies with `--modernize`, even when the first fails.
fn run_modernize_case(case: &str, bad: &[&str]) {
    let failed: Vec<&str> = STRATEGIES
        .into_iter()
        .filter(|strategy| {
            std::panic::catch_unwind(|| run_mode(case, strategy, true, bad, &[])).is_err()
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{case}: failed with --modernize --strategy {} (details above)",
        failed.join(", --strategy ")
    );
}

/// Runs both strategies, even when the first fails, then reports every failure.
fn run_case(case: &str, bad: &[&str], blocked: &[&str]) {
    let failed: Vec<&str> = STRATEGIES
        .into_iter()
        .filter(|strategy| {
            std::panic::catch_unwind(|| run_strategy(case, strategy, bad, blocked)).is_err()
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{case}: failed with --strategy {} (details above)",
        failed.join(", --strategy ")
    );
}

fn run_strategy(case: &str, strategy: &str, bad: &[&str], blocked: &[&str]) {
    run_mode(case, strategy, false, bad, blocked)
}

/// The five checks for one strategy, with or without `--modernize` (then the
/// expected tree is `<strategy>-modernize/`).
fn run_mode(case: &str, strategy: &str, modernize: bool, bad: &[&str], blocked: &[&str]) {
    let flag: &[&str] = if modernize { &["--modernize"] } else { &[] };
    run_with(case, strategy, flag, bad, blocked)
}

/// The five checks for one strategy with extra flags; `--modernize` expects
/// `<strategy>-modernize/`, `--bump-required-version` `<strategy>-bump/`.
fn run_with(case: &str, strategy: &str, flag: &[&str], bad: &[&str], blocked: &[&str]) {
    let modernize = flag.contains(&"--modernize");
    let case_dir = fixtures().join("cases").join(case);
    let input = fixture_tree(&case_dir.join("in"));
    let suffix = match flag.first() {
        Some(&"--modernize") => "-modernize",
        Some(&"--bump-required-version") => "-bump",
        _ => "",
    };
    let expected = fixture_tree(&case_dir.join(format!("{strategy}{suffix}")));
    let with = |args: &[&str]| -> Vec<String> {
        args.iter()
            .chain(flag)
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
    };
    let run = |dir: &Path, args: &[&str]| {
        let args = with(args);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        tflock(dir, &args)
    };
    let ctx = format!(
        "{case} (--strategy {strategy}{})",
        if modernize { " --modernize" } else { "" }
    );
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("repo");
    materialize(&case_dir.join("in"), &work);
    let rollback_file = tmp.path().join("rollback.json");
    let expect_exit = if bad.is_empty() && blocked.is_empty() {
        0
    } else {
        1
    };

    // 1. The plan, as text and JSON.
    let text = run(&work, &["plan", "--offline", "--strategy", strategy]);
    let json = run(
        &work,
        &[
            "plan",
            "--offline",
            "--strategy",
            strategy,
            "--format",
            "json",
        ],
    );
    let shown_flag: String = flag.iter().map(|f| format!(" {f}")).collect();
    let snapshot = format!(
        "== tflock plan --offline --strategy {strategy}{shown_flag}\n{}\n\
             == tflock plan --offline --strategy {strategy}{shown_flag} --format json\n{}",
        shown(&text),
        shown(&json)
    )
    .replace(&tmp.path().display().to_string(), "[TMP]");
    insta::with_settings!({ description => format!("fixtures/cases/{case}, --strategy {strategy}"), omit_expression => true }, {
        let name = format!("{case}__{strategy}{}", suffix.replace('-', "_"));
        insta::assert_snapshot!(name, snapshot);
    });

    for (what, out) in [("plan", &text), ("plan --format json", &json)] {
        assert_eq!(code(out), expect_exit, "{ctx}: {what}\n{}", shown(out));
        assert_problems(&ctx, what, &stderr(out), bad, &input);
    }
    let doc: serde_json::Value = serde_json::from_str(&stdout(&json))
        .unwrap_or_else(|e| panic!("{ctx}: plan JSON does not parse: {e}\n{}", shown(&json)));
    assert_eq!(doc["format_version"], "1", "{ctx}");
    let errors = doc["errors"].as_array().expect("errors array");
    assert_eq!(errors.len(), bad.len(), "{ctx}: JSON errors: {errors:?}");
    for b in bad {
        assert!(
            errors.iter().any(|e| e["path"] == *b),
            "{ctx}: JSON errors miss {b}: {errors:?}"
        );
    }
    assert_blocked(&ctx, &doc, &stdout(&text), blocked);
    let findings = assert_findings(&ctx, &doc, &input);

    // 2. Apply, and compare the whole tree.
    let rollback_arg = rollback_file.to_str().unwrap();
    let applied = run(
        &work,
        &[
            "apply",
            "--strategy",
            strategy,
            "--skip-lock-check",
            "--auto-approve",
            "--rollback-file",
            rollback_arg,
        ],
    );
    assert_eq!(
        code(&applied),
        expect_exit,
        "{ctx}: apply\n{}",
        shown(&applied)
    );
    assert_problems(&ctx, "apply", &stderr(&applied), bad, &input);
    let actual = fixture_tree(&work);
    assert_same_tree(&ctx, "the expected tree", &expected, &actual);
    for f in &findings {
        assert_eq!(
            file(&input, f),
            file(&actual, f),
            "{ctx}: {f}, named by a ci-reference or generated-file finding, was changed"
        );
    }
    for b in bad {
        assert_eq!(
            file(&input, b),
            file(&actual, b),
            "{ctx}: bad input {b} was changed"
        );
    }
    if !bad.is_empty() {
        assert!(
            actual != input,
            "{ctx}: the good files next to the bad ones were not migrated"
        );
    }

    // 3. The reference checker: rewritten files parse and stay fmt-clean.
    check_with_reference(&ctx, &input, &actual);

    // 4. Idempotence: a second plan changes nothing.
    let again = run(
        &work,
        &[
            "plan",
            "--offline",
            "--strategy",
            strategy,
            "--detailed-exitcode",
        ],
    );
    assert_eq!(
        code(&again),
        expect_exit,
        "{ctx}: second plan\n{}",
        shown(&again)
    );
    let again_json = run(
        &work,
        &[
            "plan",
            "--offline",
            "--strategy",
            strategy,
            "--format",
            "json",
        ],
    );
    let doc: serde_json::Value = serde_json::from_str(&stdout(&again_json)).unwrap();
    assert_eq!(
        doc["summary"]["files_changed"],
        0,
        "{ctx}: second plan still changes files\n{}",
        shown(&again_json)
    );

    // 5. Rollback restores the input byte for byte.
    if rollback_file.exists() {
        let restored = tflock(
            &work,
            &["rollback", rollback_arg, "--auto-approve", "--files-only"],
        );
        assert_eq!(code(&restored), 0, "{ctx}: rollback\n{}", shown(&restored));
    } else {
        assert_eq!(
            actual, input,
            "{ctx}: apply changed files but wrote no rollback file"
        );
    }
    assert_same_tree(&ctx, "in/ after rollback", &input, &fixture_tree(&work));
}

/// Each bad file is reported as `path:line:col: message`, at a position that
/// exists in the file; no other file is reported.
fn assert_problems(ctx: &str, what: &str, stderr: &str, bad: &[&str], input: &Tree) {
    for b in bad {
        let prefix = format!("{b}:");
        let line = stderr
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| {
                panic!("{ctx}: {what}: no `{b}:line:col: message` in stderr:\n{stderr}")
            });
        let mut parts = line[prefix.len()..].splitn(3, ':');
        let (l, c, message) = (parts.next(), parts.next(), parts.next());
        let (Some(Ok(l)), Some(Ok(c)), Some(message)) = (
            l.map(str::parse::<usize>),
            c.map(str::parse::<usize>),
            message,
        ) else {
            panic!("{ctx}: {what}: not `path:line:col: message`: {line}");
        };
        assert!(
            message.starts_with(' ') && message.trim().len() > 3,
            "{ctx}: {what}: no message: {line}"
        );
        let bytes = file(input, b).expect("bad file is in in/");
        let text = String::from_utf8_lossy(bytes);
        let lines: Vec<&str> = text.split('\n').collect();
        assert!(
            l >= 1 && l <= lines.len(),
            "{ctx}: {what}: line {l} is outside {b} ({} lines): {line}",
            lines.len()
        );
        let width = lines[l - 1].trim_end_matches('\r').chars().count();
        assert!(
            c >= 1 && c <= width + 1,
            "{ctx}: {what}: column {c} is outside line {l} of {b} ({width} characters): {line}"
        );
    }
    for line in stderr.lines() {
        if let Some((path, _)) = line.split_once(':')
            && input.iter().any(|(p, _)| p == path)
        {
            assert!(
                bad.contains(&path),
                "{ctx}: {what}: a good file is reported: {line}"
            );
        }
    }
}

/// Exactly the backends in `blocked` are `blocked`, each with a reason (in JSON
/// and as a `blocked: ` line of the text plan); the others have no reason.
fn assert_blocked(ctx: &str, doc: &serde_json::Value, text: &str, blocked: &[&str]) {
    let backends = doc["backends"].as_array().expect("backends array");
    for b in backends {
        let path = b["file"].as_str().unwrap_or_default();
        let is_blocked = b["action"] == "blocked";
        assert_eq!(
            is_blocked,
            blocked.contains(&path),
            "{ctx}: backend {path} is {} (expected blocked: {blocked:?})",
            b["action"]
        );
        if is_blocked {
            let reason = b["reason"].as_str().unwrap_or_default();
            assert!(
                reason.len() > 10,
                "{ctx}: blocked {path} has no reason: {b}"
            );
            assert!(
                text.lines()
                    .any(|l| l.trim_start() == format!("blocked: {reason}")),
                "{ctx}: the text plan has no `blocked: {reason}` line:\n{text}"
            );
        } else {
            assert!(b["reason"].is_null(), "{ctx}: {path} has a reason: {b}");
        }
    }
    for path in blocked {
        assert!(
            backends.iter().any(|b| b["file"] == *path),
            "{ctx}: no backend in {path}"
        );
    }
    assert_eq!(
        doc["summary"]["blocked"].as_u64(),
        Some(blocked.len() as u64),
        "{ctx}: summary.blocked"
    );
}

/// Every preflight finding has a known kind, and a line and column that exist in
/// its file when that file is in the tree (a version pin may live above it).
/// Returns the files that ci-reference and generated-file findings name: tflock
/// must never write them.
fn assert_findings(ctx: &str, doc: &serde_json::Value, input: &Tree) -> Vec<String> {
    let findings = doc["preflight"].as_array().expect("preflight array");
    assert_eq!(
        doc["summary"]["preflight_findings"].as_u64(),
        Some(findings.len() as u64),
        "{ctx}: summary.preflight_findings"
    );
    let mut untouchable = Vec::new();
    for f in findings {
        let kind = f["kind"].as_str().unwrap_or_default();
        assert!(
            [
                "ci-reference",
                "generated-file",
                "opentofu-twin",
                "version",
                "deprecated"
            ]
            .contains(&kind),
            "{ctx}: unknown finding kind: {f}"
        );
        assert!(
            f["message"].as_str().is_some_and(|m| m.len() > 10),
            "{ctx}: finding without a message: {f}"
        );
        let path = f["path"].as_str().expect("finding path");
        let (Some(l), Some(c)) = (f["line"].as_u64(), f["column"].as_u64()) else {
            panic!("{ctx}: finding without line and column: {f}");
        };
        let (l, c) = (l as usize, c as usize);
        if let Some(bytes) = file(input, path) {
            let text = String::from_utf8_lossy(bytes);
            let lines: Vec<&str> = text.split('\n').collect();
            assert!(
                l >= 1 && l <= lines.len(),
                "{ctx}: finding line {l} is outside {path}: {f}"
            );
            let width = lines[l - 1].trim_end_matches('\r').chars().count();
            assert!(
                c >= 1 && c <= width + 1,
                "{ctx}: finding column {c} is outside line {l} of {path}: {f}"
            );
        } else {
            assert!(
                path.starts_with("../"),
                "{ctx}: finding names a file that is not in the tree: {f}"
            );
        }
        if kind == "ci-reference" || kind == "generated-file" {
            untouchable.push(path.to_string());
        }
    }
    untouchable.sort();
    untouchable.dedup();
    untouchable
}

type Tree = Vec<(String, Vec<u8>)>;

/// A tree as the fixtures store it: `.gitignore` named `_gitignore`.
fn fixture_tree(root: &Path) -> Tree {
    let mut tree: Tree = read_tree(root)
        .into_iter()
        .map(|(path, bytes)| (stored_name(&path), bytes))
        .collect();
    tree.sort();
    tree
}

fn stored_name(path: &str) -> String {
    match path.rsplit_once('/') {
        Some((dir, ".gitignore")) => format!("{dir}/_gitignore"),
        None if path == ".gitignore" => "_gitignore".to_string(),
        _ => path.to_string(),
    }
}

/// Copies a fixture tree to `dest`, turning each `_gitignore` into `.gitignore`.
fn materialize(from: &Path, dest: &Path) {
    copy_tree(from, dest);
    for (path, _) in read_tree(dest) {
        let name = path.rsplit('/').next().unwrap_or(&path);
        if name == "_gitignore" {
            let old = dest.join(&path);
            std::fs::rename(&old, old.with_file_name(".gitignore")).unwrap();
        }
    }
}

fn file<'t>(tree: &'t Tree, path: &str) -> Option<&'t [u8]> {
    tree.iter()
        .find(|(p, _)| p == path)
        .map(|(_, b)| b.as_slice())
}

/// Byte-for-byte equality, reporting the first differing file with a diff.
fn assert_same_tree(ctx: &str, what: &str, expected: &Tree, actual: &Tree) {
    let paths = |t: &Tree| t.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>();
    assert_eq!(
        paths(expected),
        paths(actual),
        "{ctx}: the files differ from {what}"
    );
    for ((path, want), (_, got)) in expected.iter().zip(actual) {
        if want != got {
            panic!(
                "{ctx}: {path} differs from {what} (-expected +actual; \\r, \\t, BOM and a \
                 missing final newline are shown escaped):\n{}",
                readable_diff(want, got)
            );
        }
    }
}

fn readable_diff(want: &[u8], got: &[u8]) -> String {
    let show = |b: &[u8]| {
        let text = String::from_utf8_lossy(b)
            .replace('\u{feff}', "<BOM>")
            .replace('\r', "\\r")
            .replace('\t', "\\t");
        if b.ends_with(b"\n") {
            text
        } else {
            format!("{text}<no final newline>\n")
        }
    };
    let (want, got) = (show(want), show(got));
    similar::TextDiff::from_lines(&want, &got)
        .unified_diff()
        .context_radius(3)
        .to_string()
}

const HCL_SUFFIXES: [&str; 6] = [
    ".tf",
    ".tofu",
    ".hcl",
    ".tfbackend",
    ".tf.json",
    ".tofu.json",
];

/// Every rewritten HCL file parses; every file that was fmt-clean still is.
fn check_with_reference(ctx: &str, input: &Tree, actual: &Tree) {
    let rewritten: Vec<(&str, &[u8], &[u8])> = actual
        .iter()
        .filter(|(p, _)| HCL_SUFFIXES.iter().any(|s| p.ends_with(s)))
        .filter_map(|(p, after)| {
            let before = file(input, p)?;
            (before != after.as_slice()).then_some((p.as_str(), before, after.as_slice()))
        })
        .collect();
    if rewritten.is_empty() {
        return;
    }
    let Some(checker) = hclcheck(&format!("fixtures_e2e {ctx}")) else {
        return;
    };
    // The second formatter oracle: Terraform's own `terraform fmt`.
    let terraform = common::terraform::terraform(&format!("fixtures_e2e {ctx}"));
    let tmp = tempfile::tempdir().unwrap();
    for (i, (path, before, after)) in rewritten.into_iter().enumerate() {
        // The checker keeps the file name (it picks the syntax by extension) and
        // does not accept a UTF-8 BOM, which Terraform itself skips.
        let name = path.rsplit('/').next().unwrap();
        let dir = tmp.path().join(i.to_string());
        std::fs::create_dir_all(dir.join("before")).unwrap();
        std::fs::create_dir_all(dir.join("after")).unwrap();
        let before_file = dir.join("before").join(name);
        let after_file = dir.join("after").join(name);
        std::fs::write(&before_file, strip_bom(before)).unwrap();
        std::fs::write(&after_file, strip_bom(after)).unwrap();
        let (parses, out) = run_hclcheck(&checker, &["parse"], std::slice::from_ref(&after_file));
        assert!(parses, "{ctx}: rewritten {path} does not parse:\n{out}");
        if path.ends_with(".json") {
            continue;
        }
        let (was_clean, _) = run_hclcheck(&checker, &["fmt", "-check"], &[before_file]);
        if was_clean {
            let (clean, out) = run_hclcheck(
                &checker,
                &["fmt", "-check"],
                std::slice::from_ref(&after_file),
            );
            let (_, formatted) = run_hclcheck(&checker, &["fmt"], &[after_file]);
            assert!(
                clean,
                "{ctx}: {path} was `terraform fmt`-clean and is not after apply ({}); \
                 diff to the formatted file (-written +formatted):\n{}",
                out.trim(),
                readable_diff(strip_bom(after), formatted.as_bytes())
            );
            if let Some(terraform) = &terraform {
                assert_terraform_fmt_clean(ctx, path, terraform, &dir, strip_bom(after));
            }
        }
    }
}

/// `terraform fmt -check` accepts the rewritten file. It only takes `.tf` names;
/// the native syntax and its formatting are the same for every HCL file.
fn assert_terraform_fmt_clean(ctx: &str, path: &str, terraform: &Path, dir: &Path, after: &[u8]) {
    let module = dir.join("terraform-fmt");
    std::fs::create_dir_all(&module).unwrap();
    std::fs::write(module.join("rewritten.tf"), after).unwrap();
    // fmt never talks to AWS; the endpoint only completes the isolated setup.
    let tf = common::terraform::Terraform::new(terraform, "http://127.0.0.1:9", &module);
    let run = tf.run(&["fmt", "-check", "-diff", "rewritten.tf"]);
    assert_eq!(
        run.code(),
        0,
        "{ctx}: {path} was fmt-clean and `terraform fmt -check` refuses the rewrite:\n{}",
        run.text()
    );
}

fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes
        .strip_prefix(b"\xef\xbb\xbf".as_slice())
        .unwrap_or(bytes)
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn shown(out: &Output) -> String {
    format!(
        "exit code: {}\n-- stderr --\n{}-- stdout --\n{}",
        code(out),
        stderr(out),
        stdout(out)
    )
}

// ---------------------------------------------------------------------------
// Bad input that cannot be stored as a fixture.

/// A file far too large to be configuration is reported, never read, never
/// written; the other files are still migrated. Created here: a >8 MiB file
/// must not be committed.
#[test]
fn huge_file_is_reported_and_left_alone() {
    let case_dir = fixtures().join("cases").join("tf-basic");
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("repo");
    materialize(&case_dir.join("in"), &work);
    let mut huge =
        b"terraform {\n  backend \"s3\" {\n    dynamodb_table = \"t\"\n  }\n}\n".to_vec();
    let filler = b"# padding padding padding padding padding padding padding padding\n";
    while huge.len() <= 8 * 1024 * 1024 {
        huge.extend_from_slice(filler);
    }
    std::fs::create_dir_all(work.join("huge")).unwrap();
    std::fs::write(work.join("huge/main.tf"), &huge).unwrap();

    let plan = tflock(&work, &["plan", "--offline"]);
    assert_eq!(code(&plan), 1, "{}", shown(&plan));
    assert!(
        stderr(&plan)
            .lines()
            .any(|l| l.starts_with("huge/main.tf:1:1: ")),
        "{}",
        shown(&plan)
    );
    let rollback = tmp.path().join("rollback.json");
    let applied = tflock(
        &work,
        &[
            "apply",
            "--skip-lock-check",
            "--auto-approve",
            "--rollback-file",
            rollback.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&applied), 1, "{}", shown(&applied));
    assert!(stderr(&applied).contains("huge/main.tf:1:1: "));
    assert_eq!(std::fs::read(work.join("huge/main.tf")).unwrap(), huge);
    std::fs::remove_file(work.join("huge/main.tf")).unwrap();
    std::fs::remove_dir(work.join("huge")).unwrap();
    assert_same_tree(
        "huge file",
        "tf-basic/replace",
        &fixture_tree(&case_dir.join("replace")),
        &fixture_tree(&work),
    );
}

/// An unreadable file is reported and the others are still migrated. Root reads
/// any file whatever its mode, so under root (as in the CI container) this test
/// says it skipped.
#[cfg(unix)]
#[test]
fn unreadable_file_is_reported_and_left_alone() {
    use std::os::unix::fs::PermissionsExt;
    let case_dir = fixtures().join("cases").join("tf-basic");
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("repo");
    materialize(&case_dir.join("in"), &work);
    let locked: PathBuf = work.join("locked/main.tf");
    std::fs::create_dir_all(locked.parent().unwrap()).unwrap();
    std::fs::write(
        &locked,
        b"terraform {\n  backend \"s3\" {\n    dynamodb_table = \"t\"\n  }\n}\n",
    )
    .unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    // Root reads a mode-000 file anyway (CI runs as root): then tflock runs as
    // the unprivileged user `nobody`, in a tree everyone may write.
    let as_root = std::fs::read(&locked).is_ok();
    if as_root {
        for dir in [tmp.path().to_path_buf(), work.clone()] {
            let status = std::process::Command::new("chmod")
                .args(["-R", "a+rwX"])
                .arg(&dir)
                .status()
                .unwrap();
            assert!(status.success());
        }
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    }
    let run = |args: &[&str]| -> std::process::Output {
        if !as_root {
            return tflock(&work, args);
        }
        std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(common::tflock_bin())
            .args(args)
            .current_dir(&work)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run tflock as nobody (setpriv)")
    };
    let plan = run(&["plan", "--offline"]);
    assert_eq!(code(&plan), 1, "{}", shown(&plan));
    assert!(
        stderr(&plan)
            .lines()
            .any(|l| l.starts_with("locked/main.tf:1:1: ")),
        "{}",
        shown(&plan)
    );
    let rollback = tmp.path().join("rollback.json");
    let applied = run(&[
        "apply",
        "--skip-lock-check",
        "--auto-approve",
        "--rollback-file",
        rollback.to_str().unwrap(),
    ]);
    assert_eq!(code(&applied), 1, "{}", shown(&applied));
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(
        std::fs::read(&locked).unwrap(),
        b"terraform {\n  backend \"s3\" {\n    dynamodb_table = \"t\"\n  }\n}\n",
        "the unreadable file was changed"
    );
    std::fs::remove_file(&locked).unwrap();
    std::fs::remove_dir(locked.parent().unwrap()).unwrap();
    assert_same_tree(
        "unreadable file",
        "tf-basic/replace",
        &fixture_tree(&case_dir.join("replace")),
        &fixture_tree(&work),
    );
}

// ---------------------------------------------------------------------------
// Flags: `--bump-required-version` (issue 6).

/// `fixtures/cases/version-bump` with `--bump-required-version`: its expected
/// trees are `replace-bump/` and `dual-bump/` beside the usual three. A
/// `required_version` that admits Terraform < 1.10 is raised to 1.11 for
/// `replace` (where the lockfile is no longer experimental) and to 1.10 for
/// `dual`, in a `.tofu` file to 1.10 with either; the realigned trailing comment
/// keeps the file `terraform fmt`-clean. `~> 1.5.0` admits nothing at or above
/// 1.10, so it is not bumped and stays blocked; a `.terraform-version` pin below
/// 1.10 is never edited and keeps its module blocked (its `required_version`,
/// bumpable, is left alone too). The patch from `plan --patch` produces the same
/// tree as apply.
#[test]
fn bump_required_version() {
    let failed: Vec<&str> = STRATEGIES
        .into_iter()
        .filter(|strategy| std::panic::catch_unwind(|| bump_strategy(strategy)).is_err())
        .collect();
    assert!(
        failed.is_empty(),
        "version-bump --bump-required-version: failed with --strategy {} (details above)",
        failed.join(", --strategy ")
    );
}

fn bump_strategy(strategy: &str) {
    let case_dir = fixtures().join("cases").join("version-bump");
    let input = fixture_tree(&case_dir.join("in"));
    let expected = fixture_tree(&case_dir.join(format!("{strategy}-bump")));
    let ctx = format!("version-bump (--strategy {strategy} --bump-required-version)");
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("repo");
    materialize(&case_dir.join("in"), &work);
    let patch = tmp.path().join("bump.patch");
    let rollback_file = tmp.path().join("rollback.json");
    let plan_args = [
        "plan",
        "--offline",
        "--strategy",
        strategy,
        "--bump-required-version",
    ];

    // The plan: two backends migrate, two stay blocked (exit 1).
    let text = tflock(
        &work,
        &[&plan_args[..], &["--patch", patch.to_str().unwrap()]].concat(),
    );
    let json = tflock(&work, &[&plan_args[..], &["--format", "json"]].concat());
    let snapshot = format!(
        "== tflock {}\n{}\n== tflock {} --format json\n{}",
        plan_args.join(" "),
        shown(&text),
        plan_args.join(" "),
        shown(&json)
    )
    .replace(&tmp.path().display().to_string(), "[TMP]");
    insta::with_settings!({ description => format!("fixtures/cases/version-bump, --strategy {strategy} --bump-required-version"), omit_expression => true }, {
        insta::assert_snapshot!(format!("version-bump__{strategy}_bump"), snapshot);
    });
    assert_eq!(code(&text), 1, "{ctx}: plan\n{}", shown(&text));
    assert_eq!(
        code(&json),
        1,
        "{ctx}: plan --format json\n{}",
        shown(&json)
    );
    let doc: serde_json::Value = serde_json::from_str(&stdout(&json))
        .unwrap_or_else(|e| panic!("{ctx}: plan JSON does not parse: {e}\n{}", shown(&json)));
    assert_blocked(
        &ctx,
        &doc,
        &stdout(&text),
        &["pessimistic/main.tf", "pinned/main.tf"],
    );
    let reason = |file: &str| {
        doc["backends"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["file"] == file)
            .and_then(|b| b["reason"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    let pessimistic = reason("pessimistic/main.tf");
    assert!(
        pessimistic.contains("pessimistic/main.tf:2") && pessimistic.contains("\"~> 1.5.0\""),
        "{ctx}: the ~> 1.5.0 reason names neither constraint nor file:line: {pessimistic}"
    );
    let pinned = reason("pinned/main.tf");
    assert!(
        pinned.contains("pinned/.terraform-version:1") && pinned.contains("1.5.7"),
        "{ctx}: the pin reason names neither version nor file:line: {pinned}"
    );

    // Apply writes the expected tree; the bumped files stay fmt-clean.
    let applied = tflock(
        &work,
        &[
            "apply",
            "--strategy",
            strategy,
            "--skip-lock-check",
            "--auto-approve",
            "--bump-required-version",
            "--rollback-file",
            rollback_file.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&applied), 1, "{ctx}: apply\n{}", shown(&applied));
    let actual = fixture_tree(&work);
    assert_same_tree(&ctx, &format!("{strategy}-bump/"), &expected, &actual);
    let floor = if strategy == "replace" {
        "1.11"
    } else {
        "1.10"
    };
    let versions = String::from_utf8_lossy(file(&actual, "terraform/versions.tf").unwrap());
    assert!(
        versions.contains(&format!(
            "  required_version = \">= {floor}\" # platform minimum\n"
        )),
        "{ctx}: terraform/versions.tf not raised to {floor}:\n{versions}"
    );
    let tofu = String::from_utf8_lossy(file(&actual, "tofu/main.tofu").unwrap());
    assert!(
        tofu.contains("  required_version = \">= 1.10.0, < 2.0.0\"\n"),
        "{ctx}: tofu/main.tofu not raised to 1.10:\n{tofu}"
    );
    for untouched in [
        "pessimistic/main.tf",
        "pinned/main.tf",
        "pinned/.terraform-version",
    ] {
        assert_eq!(
            file(&input, untouched),
            file(&actual, untouched),
            "{ctx}: {untouched} was changed"
        );
    }
    check_with_reference(&ctx, &input, &actual);

    // The patch from the plan makes the same tree.
    let patched = tmp.path().join("patched");
    materialize(&case_dir.join("in"), &patched);
    let git = std::process::Command::new("git")
        .args(["apply", patch.to_str().unwrap()])
        .current_dir(&patched)
        .output()
        .expect("run git apply");
    assert!(git.status.success(), "{ctx}: git apply\n{}", shown(&git));
    assert_same_tree(
        &ctx,
        "the tree patched with --patch",
        &expected,
        &fixture_tree(&patched),
    );

    // Nothing left to change, and rollback restores in/.
    let again = tflock(&work, &[&plan_args[..], &["--format", "json"]].concat());
    let doc: serde_json::Value = serde_json::from_str(&stdout(&again)).unwrap();
    assert_eq!(
        doc["summary"]["files_changed"],
        0,
        "{ctx}: second plan still changes files\n{}",
        shown(&again)
    );
    let restored = tflock(
        &work,
        &[
            "rollback",
            rollback_file.to_str().unwrap(),
            "--auto-approve",
            "--files-only",
        ],
    );
    assert_eq!(code(&restored), 0, "{ctx}: rollback\n{}", shown(&restored));
    assert_same_tree(&ctx, "in/ after rollback", &input, &fixture_tree(&work));
}

/// A plan saved with `--modernize` is applied with the same rewrite: `apply
/// --plan` re-derives it with the flag the plan recorded.
#[test]
fn modernize_survives_a_saved_plan() {
    let case_dir = fixtures().join("cases").join("modernize-assume-role");
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("repo");
    materialize(&case_dir.join("in"), &work);
    let planfile = tmp.path().join("plan.json");
    let planned = tflock(
        &work,
        &[
            "plan",
            "--offline",
            "--modernize",
            "--out",
            planfile.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&planned), 0, "plan\n{}", shown(&planned));
    let applied = tflock(
        &work,
        &[
            "apply",
            "--plan",
            planfile.to_str().unwrap(),
            "--skip-lock-check",
            "--auto-approve",
            "--rollback-file",
            tmp.path().join("rollback.json").to_str().unwrap(),
        ],
    );
    assert_eq!(code(&applied), 0, "apply --plan\n{}", shown(&applied));
    assert_same_tree(
        "modernize-assume-role (saved plan)",
        "replace-modernize/",
        &fixture_tree(&case_dir.join("replace-modernize")),
        &fixture_tree(&work),
    );
}
