//! How `tflock check` prints its findings: compiler-style lines, JSON, or
//! GitHub workflow annotations. Rendering only: what fails is `check`'s.

use crate::model::check::{CheckReport, Finding};
use serde::Serialize;

/// The output of `tflock check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CheckFormat {
    /// `path:line:col: message`, one finding a line.
    Text,
    /// One JSON document (schemas/check.schema.json).
    Json,
    /// GitHub Actions annotations (`::error file=...,line=...,col=...::message`).
    Github,
}

/// The format asked for, else GitHub annotations inside a GitHub Actions job
/// whose output goes to the log (not a terminal), else text.
pub fn pick_format(
    asked: Option<CheckFormat>,
    github_actions: Option<&str>,
    stdout_is_terminal: bool,
) -> CheckFormat {
    match asked {
        Some(format) => format,
        None if github_actions == Some("true") && !stdout_is_terminal => CheckFormat::Github,
        None => CheckFormat::Text,
    }
}

pub fn render(report: &CheckReport, format: CheckFormat) -> String {
    match format {
        CheckFormat::Text => text(report),
        CheckFormat::Json => json(report),
        CheckFormat::Github => github(report),
    }
}

/// The one-line verdict, for standard error.
pub fn summary(report: &CheckReport) -> String {
    let allowed = match report.allowed() {
        0 => String::new(),
        n => format!(" ({n} allowed)"),
    };
    if report.passed() {
        format!(
            "tflock check: passed: no DynamoDB locking left in {} backend(s){allowed}",
            report.backends
        )
    } else {
        format!(
            "tflock check: failed: {} place(s) still use DynamoDB locking{allowed}; `tflock plan` shows the migration",
            report.failing()
        )
    }
}

fn text(report: &CheckReport) -> String {
    report
        .findings
        .iter()
        .map(|f| match &f.allowed {
            None => format!("{}:{}:{}: {}\n", f.path, f.line, f.column, f.message),
            Some(reason) => format!(
                "{}:{}:{}: allowed ({reason}): {}\n",
                f.path, f.line, f.column, f.message
            ),
        })
        .collect()
}

/// The check as JSON, format_version "1".
#[derive(Serialize)]
struct Document<'a> {
    format_version: &'static str,
    passed: bool,
    summary: Summary,
    findings: &'a [Finding],
}

#[derive(Serialize)]
struct Summary {
    backends: usize,
    failing: usize,
    allowed: usize,
}

fn json(report: &CheckReport) -> String {
    let doc = Document {
        format_version: "1",
        passed: report.passed(),
        summary: Summary {
            backends: report.backends,
            failing: report.failing(),
            allowed: report.allowed(),
        },
        findings: &report.findings,
    };
    // Serializing plain strings and numbers cannot fail.
    let mut out = serde_json::to_string_pretty(&doc).unwrap_or_default();
    out.push('\n');
    out
}

fn github(report: &CheckReport) -> String {
    report
        .findings
        .iter()
        .map(|f| {
            let (level, message) = match &f.allowed {
                None => ("error", f.message.clone()),
                Some(reason) => ("notice", format!("allowed ({reason}): {}", f.message)),
            };
            format!(
                "::{level} file={},line={},col={},title={}::{}\n",
                property(&f.path),
                f.line,
                f.column,
                property("tflock check"),
                data(&message)
            )
        })
        .collect()
}

/// Escapes an annotation's message, as the GitHub Actions toolkit does.
fn data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes an annotation property (`file=`, `title=`): also `:` and `,`.
fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::check::Subject;

    fn report() -> CheckReport {
        CheckReport {
            backends: 3,
            findings: vec![
                Finding {
                    path: "app/main.tf".into(),
                    line: 5,
                    column: 5,
                    subject: Subject::Backend,
                    message: "still 100% DynamoDB".into(),
                    allowed: None,
                },
                Finding {
                    path: "legacy,old/main.tf".into(),
                    line: 2,
                    column: 1,
                    subject: Subject::Backend,
                    message: "a\nb".into(),
                    allowed: Some("kept".into()),
                },
            ],
        }
    }

    #[test]
    fn format_follows_the_flag_then_github_actions_off_a_terminal() {
        use CheckFormat::*;
        assert_eq!(pick_format(Some(Json), Some("true"), false), Json);
        assert_eq!(pick_format(None, Some("true"), false), Github);
        assert_eq!(pick_format(None, Some("true"), true), Text);
        assert_eq!(pick_format(None, None, false), Text);
        assert_eq!(pick_format(None, Some("false"), false), Text);
    }

    #[test]
    fn text_lines_are_compiler_style() {
        assert_eq!(
            render(&report(), CheckFormat::Text),
            "app/main.tf:5:5: still 100% DynamoDB\nlegacy,old/main.tf:2:1: allowed (kept): a\nb\n"
        );
    }

    #[test]
    fn github_annotations_escape_data_and_properties() {
        assert_eq!(
            render(&report(), CheckFormat::Github),
            "::error file=app/main.tf,line=5,col=5,title=tflock check::still 100%25 DynamoDB\n\
             ::notice file=legacy%2Cold/main.tf,line=2,col=1,title=tflock check::allowed (kept): a%0Ab\n"
        );
    }

    #[test]
    fn json_has_format_version_and_counts() {
        let doc: serde_json::Value =
            serde_json::from_str(&render(&report(), CheckFormat::Json)).unwrap();
        assert_eq!(doc["format_version"], "1");
        assert_eq!(doc["passed"], false);
        assert_eq!(doc["summary"]["failing"], 1);
        assert_eq!(doc["summary"]["allowed"], 1);
        assert_eq!(doc["findings"][1]["allowed"], "kept");
        assert_eq!(doc["findings"][0]["subject"], "backend");
    }

    #[test]
    fn summary_says_passed_or_failed() {
        assert!(summary(&report()).contains("failed: 1 place(s)"));
        assert!(summary(&CheckReport::default()).starts_with("tflock check: passed"));
    }
}
