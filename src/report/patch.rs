//! `plan --patch`: a patch `git apply` accepts, that never carries a secret.
//!
//! Hunks are cut so that lines holding secret values (`secret_key = "..."`) are
//! left out of their context; `git apply` needs the context it is given to match,
//! not all of it. Only a line that itself changes (say a secret's `=` re-aligned)
//! must appear; its value is then redacted, that hunk cannot apply, and the
//! caller is told which file to apply with `tflock apply` instead.

use super::redact;
use similar::{ChangeTag, TextDiff};
use std::fmt::Write;

/// A line of a hunk: its tag and text (with its line ending).
struct Line<'a> {
    tag: ChangeTag,
    text: &'a str,
}

/// What `git apply` will make of a file's part of the patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caveat {
    /// A hunk lost all its context to secret lines: `git apply --unidiff-zero`.
    NeedsUnidiffZero,
    /// A changed line holds a secret and was redacted: `git apply` refuses it.
    Redacted,
}

/// The patch of every changed file, and the files `git apply` needs help with.
pub fn patch(files: &[(String, String, String)]) -> (String, Vec<(String, Caveat)>) {
    let mut out = String::new();
    let mut caveats = Vec::new();
    for (path, old, new) in files {
        if old == new {
            continue;
        }
        let (text, caveat) = file_patch(path, old, new);
        out.push_str(&text);
        if let Some(caveat) = caveat {
            caveats.push((path.clone(), caveat));
        }
    }
    (out, caveats)
}

fn is_secret(line: &str) -> bool {
    redact(line) != line
}

fn file_patch(path: &str, old: &str, new: &str) -> (String, Option<Caveat>) {
    let diff = TextDiff::from_lines(old, new);
    let mut out = format!("--- a/{path}\n+++ b/{path}\n");
    let mut redacted_change = false;
    let mut zero_context = false;
    for group in diff.grouped_ops(3) {
        // The hunk's lines with the old/new line numbers each starts at.
        let mut lines = Vec::new();
        let (mut old_start, mut new_start) = (None, None);
        for op in &group {
            for change in diff.iter_changes(op) {
                if old_start.is_none() {
                    old_start = Some(change.old_index().unwrap_or(op.old_range().start));
                    new_start = Some(change.new_index().unwrap_or(op.new_range().start));
                }
                lines.push(Line {
                    tag: change.tag(),
                    text: change.value(),
                });
            }
        }
        let (Some(old_start), Some(new_start)) = (old_start, new_start) else {
            continue;
        };
        for piece in split_around_secrets(&lines) {
            let (skipped_old, skipped_new, hunk) = piece;
            zero_context |= hunk.iter().all(|l| l.tag != ChangeTag::Equal);
            redacted_change |= write_hunk(
                &mut out,
                old_start + skipped_old,
                new_start + skipped_new,
                hunk,
            );
        }
    }
    let caveat = if redacted_change {
        Some(Caveat::Redacted)
    } else if zero_context {
        Some(Caveat::NeedsUnidiffZero)
    } else {
        None
    };
    (out, caveat)
}

/// Cuts a hunk so no context line holds a secret. Returns pieces as (old lines
/// skipped before it, new lines skipped before it, its lines).
fn split_around_secrets<'h, 'a>(lines: &'h [Line<'a>]) -> Vec<(usize, usize, &'h [Line<'a>])> {
    let mut pieces = Vec::new();
    let (mut old_skip, mut new_skip) = (0, 0);
    let mut start = 0;
    for (i, line) in lines.iter().enumerate() {
        if line.tag == ChangeTag::Equal && is_secret(line.text) {
            if lines[start..i].iter().any(|l| l.tag != ChangeTag::Equal) {
                pieces.push((old_skip, new_skip, &lines[start..i]));
            }
            // Skip everything up to and including the secret context line.
            for l in &lines[start..=i] {
                if l.tag != ChangeTag::Insert {
                    old_skip += 1;
                }
                if l.tag != ChangeTag::Delete {
                    new_skip += 1;
                }
            }
            start = i + 1;
        }
    }
    if lines[start..].iter().any(|l| l.tag != ChangeTag::Equal) {
        pieces.push((old_skip, new_skip, &lines[start..]));
    }
    pieces
}

/// Writes one hunk (0-based starts); says whether a changed line was redacted.
fn write_hunk(out: &mut String, old_start: usize, new_start: usize, lines: &[Line]) -> bool {
    let old_len = lines.iter().filter(|l| l.tag != ChangeTag::Insert).count();
    let new_len = lines.iter().filter(|l| l.tag != ChangeTag::Delete).count();
    let _ = writeln!(
        out,
        "@@ -{} +{} @@",
        range(old_start, old_len),
        range(new_start, new_len)
    );
    let mut redacted = false;
    for l in lines {
        let sign = match l.tag {
            ChangeTag::Equal => ' ',
            ChangeTag::Delete => '-',
            ChangeTag::Insert => '+',
        };
        let text = if is_secret(l.text) {
            redacted = true;
            redact(l.text)
        } else {
            l.text.to_string()
        };
        out.push(sign);
        out.push_str(&text);
        if !text.ends_with('\n') {
            out.push_str("\n\\ No newline at end of file\n");
        }
    }
    redacted
}

/// `start,len` in unified-diff form (1-based; an empty range names the line before).
fn range(start: usize, len: usize) -> String {
    match len {
        0 => format!("{start},0"),
        1 => format!("{}", start + 1),
        n => format!("{},{n}", start + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaves_secret_context_out_of_hunks() {
        let old = "a\nsecret_key = \"s3cr3t\"\ndynamodb_table = \"t\"\nb\n";
        let new = "a\nsecret_key = \"s3cr3t\"\nuse_lockfile = true\nb\n";
        let (patch, caveats) = patch(&[("f.tf".into(), old.into(), new.into())]);
        assert!(!patch.contains("s3cr3t"), "{patch}");
        assert!(caveats.is_empty());
        assert!(
            patch.contains("@@ -3,2 +3,2 @@\n-dynamodb_table = \"t\"\n+use_lockfile = true\n b\n"),
            "{patch}"
        );
    }

    #[test]
    fn a_changed_secret_line_is_redacted_and_reported() {
        let old = "secret_key     = \"s3cr3t\"\ndynamodb_table = \"t\"\n";
        let new = "secret_key   = \"s3cr3t\"\nuse_lockfile = true\n";
        let (patch, caveats) = patch(&[("f.tf".into(), old.into(), new.into())]);
        assert!(!patch.contains("s3cr3t"), "{patch}");
        assert_eq!(caveats, [("f.tf".to_string(), Caveat::Redacted)]);
    }
}
