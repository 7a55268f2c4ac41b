//! Report stage: turns plans into text, JSON and patches. No decisions here.

pub mod json;
pub mod locks;
pub mod text;

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

/// The patch of a whole plan: every changed file's diff, in path order.
pub fn patch(files: &[(String, String, String)]) -> String {
    files
        .iter()
        .map(|(path, old, new)| unified_diff(path, old, new))
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
