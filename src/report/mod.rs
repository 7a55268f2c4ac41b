//! Report stage: turns plans into text, JSON, Markdown and patches. Rendering
//! only: no decisions, no I/O.

pub mod check;
pub mod digests;
pub mod json;
pub mod locks;
pub mod markdown;
pub mod next_steps;
pub mod patch;
pub(crate) mod readers;
pub mod rollback;
pub mod status;
pub mod status_markdown;
pub mod text;

pub use crate::model::SECRET_KEYS;
use similar::TextDiff;

/// A unified diff of one file that `git apply` accepts (`a/` and `b/` prefixes).
pub fn unified_diff(path: &str, old: &str, new: &str) -> String {
    if old == new {
        return String::new();
    }
    TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{path}"), &format!("b/{path}"))
        .to_string()
}

const REDACTED: &str = "(sensitive value)";

/// A diff for people to read: the quoted values of secret settings replaced.
/// (A patch for `git apply` keeps the real bytes: it must match the file.)
pub fn display_diff(path: &str, old: &str, new: &str) -> String {
    redact(&unified_diff(path, old, new))
}

/// Replaces the string value after any secret key (`key = "v"`, `"key": "v"`).
pub fn redact(text: &str) -> String {
    // Most text names no secret key at all: one search per key, then done.
    static SEARCHES: std::sync::LazyLock<Vec<crate::source::Needle>> =
        std::sync::LazyLock::new(|| {
            SECRET_KEYS
                .iter()
                .map(|k| crate::source::Needle::new(k.as_bytes()))
                .collect()
        });
    if !SEARCHES.iter().any(|n| n.is_in(text.as_bytes())) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'scan: while !rest.is_empty() {
        for key in SECRET_KEYS {
            if let Some(value) = secret_value_at(rest, key) {
                out.push_str(&rest[..value.start]);
                out.push_str(REDACTED);
                rest = &rest[value.end..];
                continue 'scan;
            }
        }
        let next = rest.chars().next().map_or(1, char::len_utf8);
        out.push_str(&rest[..next]);
        rest = &rest[next..];
    }
    out
}

/// When `text` starts with `key` as a whole word followed by `=` or `:` and a
/// quoted string, the byte range of that string's contents.
fn secret_value_at(text: &str, key: &str) -> Option<std::ops::Range<usize>> {
    let after = text.strip_prefix(key)?;
    if after.starts_with(|c: char| c.is_alphanumeric() || c == '_' || c == '-') {
        return None;
    }
    let mut i = key.len();
    let bytes = text.as_bytes();
    if bytes.get(i) == Some(&b'"') {
        i += 1;
    }
    while bytes.get(i).is_some_and(|b| *b == b' ' || *b == b'\t') {
        i += 1;
    }
    if !matches!(bytes.get(i), Some(b'=') | Some(b':')) {
        return None;
    }
    i += 1;
    while bytes.get(i).is_some_and(|b| *b == b' ' || *b == b'\t') {
        i += 1;
    }
    if bytes.get(i) != Some(&b'"') {
        return None;
    }
    let start = i + 1;
    let mut j = start;
    while j < bytes.len() && bytes[j] != b'"' && bytes[j] != b'\n' {
        j += if bytes[j] == b'\\' { 2 } else { 1 };
    }
    Some(start..j.min(bytes.len()))
}

pub use patch::patch;

/// The Terragrunt units of a root backend with the state key each one gets
/// (as the resolve stage evaluated it), as (unit directory, key).
pub fn unit_keys(b: &crate::BackendPlan) -> Vec<(String, String)> {
    b.resolution
        .targets
        .iter()
        .flat_map(|t| t.keys.iter())
        .filter_map(|(unit, key)| Some((unit.clone()?, key.clone())))
        .collect()
}

/// How the terminal wants output dressed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    pub fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }

    pub fn green(self, text: &str) -> String {
        self.paint("32", text)
    }

    pub fn red(self, text: &str) -> String {
        self.paint("31", text)
    }

    pub fn yellow(self, text: &str) -> String {
        self.paint("33", text)
    }

    pub fn cyan(self, text: &str) -> String {
        self.paint("36", text)
    }

    /// Colours a unified diff line by line; plain text passes through unchanged.
    pub fn diff(self, diff: &str) -> String {
        if !self.color {
            return diff.to_string();
        }
        diff.split_inclusive('\n')
            .map(|line| {
                let (body, end) = match line.strip_suffix('\n') {
                    Some(body) => (body, "\n"),
                    None => (line, ""),
                };
                let painted = if body.starts_with("+++") || body.starts_with("---") {
                    self.bold(body)
                } else if body.starts_with("@@") {
                    self.cyan(body)
                } else if body.starts_with('+') {
                    self.green(body)
                } else if body.starts_with('-') {
                    self.red(body)
                } else {
                    body.to_string()
                };
                format!("{painted}{end}")
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_secret_values_in_hcl_and_json() {
        let text = " secret_key     = \"abc\\\"d\" # c\n+\"token\": \"t0k\",\n  key = \"k\"\n  x = { external_id = \"e\" }\n";
        let out = redact(text);
        assert!(!out.contains("abc") && !out.contains("t0k") && !out.contains("\"e\""));
        assert!(out.contains("key = \"k\""));
        assert!(out.contains("# c"));
        assert_eq!(redact("token_count = \"5\""), "token_count = \"5\"");
    }
}
