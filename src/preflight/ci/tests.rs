//! The CI-reference corpus: `fixtures/preflight-ci/<case>/` holds one input file
//! and `findings.snap`, the findings expected for it. A `*.hcl`, `*.tfbackend` or
//! `*.conf` input is read as a `-backend-config` file, any other as a CI file (the
//! scan does not look at names: the name says what kind of file the text is).
//! New case: add the folder with its input, run `INSTA_UPDATE=always cargo test
//! --lib preflight::ci::tests::corpus`, review the new `findings.snap`.

use super::*;
use std::path::{Path, PathBuf};

/// The 67 inputs of the Rust tables the corpus replaced, plus the two
/// `backend-config-file-{heredoc-value,not-hcl}` cases: fewer means one was lost.
const CASES_AT_LEAST: usize = 69;

const SNAPSHOT: &str = "findings.snap";

fn is_backend_config_file(name: &str) -> bool {
    [".hcl", ".tfbackend", ".conf"]
        .iter()
        .any(|ext| name.ends_with(ext))
}

fn render(name: &str, text: &str) -> String {
    let value = if is_backend_config_file(name) {
        serde_json::json!({ "references": find_in_backend_config_file(text) })
    } else {
        serde_json::json!({
            "references": find_references(text),
            "config_files": backend_config_files(text),
        })
    };
    serde_json::to_string_pretty(&value).expect("findings serialize")
}

fn case_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/preflight-ci");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.expect("corpus entry").path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    cases
}

#[test]
fn corpus() {
    let cases = case_dirs();
    assert!(
        cases.len() >= CASES_AT_LEAST,
        "{} cases, expected at least {CASES_AT_LEAST}",
        cases.len()
    );
    for case in cases {
        let mut inputs: Vec<PathBuf> = std::fs::read_dir(&case)
            .expect("case folder")
            .map(|e| e.expect("case entry").path())
            .filter(|p| !p.to_string_lossy().contains(".snap"))
            .collect();
        assert_eq!(
            inputs.len(),
            1,
            "{}: one input file beside {SNAPSHOT}",
            case.display()
        );
        let input = inputs.remove(0);
        let name = input
            .file_name()
            .and_then(|n| n.to_str())
            .expect("input name");
        let text = std::fs::read_to_string(&input).expect("input is UTF-8");
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path(&case);
        settings.set_prepend_module_to_snapshot(false);
        settings.set_input_file(&input);
        settings.set_omit_expression(true);
        settings.bind(|| insta::assert_snapshot!("findings", render(name, &text)));
    }
}

/// The char at (line, column) of `text`, as the scanner counts them.
fn line_from(text: &str, line: usize, column: usize) -> String {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let l = text.split('\n').nth(line - 1).unwrap();
    let l = l.strip_suffix('\r').unwrap_or(l);
    l.chars().skip(column - 1).collect()
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config::with_cases(2000))]
    #[test]
    fn never_panics_and_positions_point_at_the_snippet(
        parts in proptest::collection::vec(proptest::sample::select(vec![
            "-backend-config", "--backend-config", "=", "dynamodb_table", "dynamodb_table = ",
            " ", " ", "\t", "\n", "\\\n", "\r\n", "\"", "'", "\\\"", "#", "//", "/*", "*/",
            "<<EOF", "<<-'X'", "EOF", "X", "TF_CLI_ARGS_init", "TF_CLI_ARGS", ":", ": |",
            ":=", "- ", "${{", "}}", "{{", "$(", "${", ")", "{", "}", "[", "]", "|", ">",
            ">>", "ü", "\u{feff}", ",", "echo ", "backend_config:", "backend_config_file:",
            "name: ", "value: ", "locks", "b.hcl", "backend \"s3\" {", "$T", "x.tfvars",
        ]), 0..40)
    ) {
        let text: String = parts.concat();
        let refs = find_references(&text);
        let _ = backend_config_files(&text);
        let file_refs = find_in_backend_config_file(&text);
        for r in refs.iter().chain(&file_refs) {
            let first = r.snippet.split_whitespace().next().unwrap_or("");
            let at = line_from(&text, r.line, r.column);
            proptest::prop_assert!(
                at.starts_with(first),
                "{r:?} not at {at:?} in {text:?}"
            );
            proptest::prop_assert!(r.suggestion.contains(&r.snippet));
        }
    }
}
