//! The DynamoDB locking a team keeps on purpose: an allow file (`--allow FILE`)
//! and inline `# tflock:allow <reason>` comments.
//!
//! An exception always carries a reason, so a reviewer reading the gate's output
//! sees why a backend is still on DynamoDB; a marker without one allows nothing.

use globset::{Glob, GlobMatcher};

/// A bad line in an allow file, shown as `path:line:col: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{line}:{column}: {message}")]
pub struct AllowFileError {
    pub path: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// One line of an allow file: a glob over display paths and why.
#[derive(Debug, Clone)]
struct Entry {
    matcher: GlobMatcher,
    reason: String,
}

/// The entries of every `--allow` file, in order.
#[derive(Debug, Clone, Default)]
pub struct AllowList {
    entries: Vec<Entry>,
}

impl AllowList {
    /// Parses one allow file: each line is `GLOB REASON...`, the glob matched
    /// against paths as tflock prints them (relative to the current directory,
    /// `/`-separated); blank lines and lines starting with `#` are skipped.
    pub fn parse(&mut self, path: &str, text: &str) -> Result<(), AllowFileError> {
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let error = |column: usize, message: String| AllowFileError {
                path: path.to_string(),
                line: index + 1,
                column,
                message,
            };
            let column = raw.len() - raw.trim_start().len() + 1;
            let (glob, reason) = line
                .split_once(char::is_whitespace)
                .map_or((line, ""), |(g, r)| (g, r.trim()));
            if reason.is_empty() {
                return Err(error(
                    column,
                    format!(
                        "`{glob}` needs a reason after it (`{glob} <why it stays on DynamoDB>`)"
                    ),
                ));
            }
            let matcher = Glob::new(glob)
                .map_err(|e| error(column, format!("invalid glob `{glob}`: {e}")))?
                .compile_matcher();
            self.entries.push(Entry {
                matcher,
                reason: reason.to_string(),
            });
        }
        Ok(())
    }

    /// The reason of the first entry whose glob matches `path`.
    pub fn reason_for(&self, path: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| e.matcher.is_match(path))
            .map(|e| e.reason.as_str())
    }
}

/// What an inline marker on the lines looked at says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inline {
    /// No `tflock:allow` marker.
    None,
    /// A marker with its reason.
    Allowed(String),
    /// A marker without a reason: allows nothing.
    NoReason,
}

const MARKER: &str = "tflock:allow";

/// The first `tflock:allow` comment (`#` or `//`) on any of `lines` (1-based;
/// 0 and lines past the end are ignored) of `text`.
pub fn inline(text: &str, lines: &[usize]) -> Inline {
    let all: Vec<&str> = text.lines().collect();
    for &n in lines {
        let Some(line) = n.checked_sub(1).and_then(|i| all.get(i)) else {
            continue;
        };
        if let Some(found) = marker_in(line) {
            return found;
        }
    }
    Inline::None
}

/// A marker that directly follows a comment start (`#` or `//`) on this line.
fn marker_in(line: &str) -> Option<Inline> {
    let at = line.find(MARKER)?;
    let before = line[..at].trim_end();
    if !(before.ends_with('#') || before.ends_with("//")) {
        return None;
    }
    let rest = &line[at + MARKER.len()..];
    // `tflock:allowed` or `tflock:allow_x` is not the marker.
    if rest.starts_with(|c: char| c.is_alphanumeric() || c == '_' || c == '-') {
        return None;
    }
    let reason = rest.trim_start_matches(':').trim();
    Some(if reason.is_empty() {
        Inline::NoReason
    } else {
        Inline::Allowed(reason.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_file_matches_globs_and_keeps_reasons() {
        let mut list = AllowList::default();
        list.parse(
            "allow.txt",
            "# kept on purpose\n\nlegacy/**  shared with the old pipeline\nother/main.tf frozen\n",
        )
        .unwrap();
        assert_eq!(
            list.reason_for("legacy/app/main.tf"),
            Some("shared with the old pipeline")
        );
        assert_eq!(list.reason_for("other/main.tf"), Some("frozen"));
        assert_eq!(list.reason_for("app/main.tf"), None);
    }

    #[test]
    fn allow_file_entry_without_reason_is_an_error_with_location() {
        let err = AllowList::default()
            .parse("allow.txt", "ok/** fine\n  legacy/**\n")
            .unwrap_err();
        assert_eq!((err.line, err.column), (2, 3));
        assert!(err.to_string().starts_with("allow.txt:2:3: "), "{err}");
    }

    #[test]
    fn allow_file_bad_glob_is_an_error() {
        let err = AllowList::default()
            .parse("a", "legacy/[ broken\n")
            .unwrap_err();
        assert!(err.message.contains("invalid glob"), "{err}");
    }

    #[test]
    fn inline_marker_on_a_given_line() {
        let text =
            "# tflock:allow shared table\nterraform {\n  backend \"s3\" { # tflock:allow: kept\n";
        assert_eq!(inline(text, &[1]), Inline::Allowed("shared table".into()));
        assert_eq!(inline(text, &[3]), Inline::Allowed("kept".into()));
        assert_eq!(inline(text, &[2]), Inline::None);
        assert_eq!(inline(text, &[0, 99]), Inline::None);
    }

    #[test]
    fn inline_marker_needs_a_comment_and_a_reason() {
        assert_eq!(inline("// tflock:allow\n", &[1]), Inline::NoReason);
        assert_eq!(inline("x = \"tflock:allow me\"\n", &[1]), Inline::None);
        assert_eq!(inline("# tflock:allowed x\n", &[1]), Inline::None);
        assert_eq!(
            inline("  dynamodb_table = \"t\" // tflock:allow old CI\n", &[1]),
            Inline::Allowed("old CI".into())
        );
    }
}
