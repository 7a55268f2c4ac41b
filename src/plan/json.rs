//! Spelling ops as edits in Terraform's JSON syntax: members and their commas.

use super::hcl::newline_at;
use super::{BodyOps, Edit, LOCKFILE_KEY, Op, PlanError};
use crate::parse::{Body, Setting};
use crate::source::Source;

pub fn render(source: &Source, body_ops: &BodyOps) -> Result<Vec<Edit>, PlanError> {
    let text = source.text.as_str();
    let body = body_ops.body;
    let mut edits = Vec::new();
    let mut deleted = Vec::new();
    for op in &body_ops.ops {
        match *op {
            Op::Delete(s) => deleted.push(index_of(body, s)),
            Op::ReplaceWithLockfile(s) => {
                edits.push(Edit::replace(
                    s.key_span.clone(),
                    format!("\"{LOCKFILE_KEY}\""),
                ));
                edits.push(Edit::replace(s.value_span.clone(), "true"));
            }
            Op::SetTrue(s) => edits.push(Edit::replace(s.value_span.clone(), "true")),
            Op::SetValue(s, value) => edits.push(Edit::replace(s.value_span.clone(), value)),
            Op::InsertLockfileAfter(s) => {
                let separator = &text[s.key_span.end..s.value_span.start];
                let member = format!("\"{LOCKFILE_KEY}\"{separator}true");
                let text = if own_line(source, s) {
                    let line_start = source.line_start(s.key_span.start);
                    let indent = &source.text[line_start..s.key_span.start];
                    let newline =
                        newline_at(&source.text, source.line_content_end(s.value_span.end));
                    format!(",{newline}{indent}{member}")
                } else {
                    format!(", {member}")
                };
                edits.push(Edit::insert(s.value_span.end, text));
            }
        }
    }
    edits.extend(delete_members(source, body, &deleted));
    Ok(edits)
}

fn index_of(body: &Body, s: &Setting) -> usize {
    body.settings
        .iter()
        .position(|x| std::ptr::eq(x, s))
        .unwrap_or(0)
}

/// Whether the member is alone on its line(s).
fn own_line(source: &Source, s: &Setting) -> bool {
    let before = &source.text[source.line_start(s.key_span.start)..s.key_span.start];
    let after = &source.text[s.value_span.end..source.line_content_end(s.value_span.end)];
    before.trim().is_empty() && matches!(after.trim(), "" | ",")
}

/// Removes members and keeps the object's commas valid. Members alone on their
/// lines go with their lines; the others with one separator per run of neighbours.
fn delete_members(source: &Source, body: &Body, deleted: &[usize]) -> Vec<Edit> {
    let settings = &body.settings;
    let (own, inline): (Vec<usize>, Vec<usize>) = deleted
        .iter()
        .partition(|&&i| own_line(source, &settings[i]));
    let mut edits: Vec<Edit> = super::hcl::inline_deletions(body, &inline)
        .into_iter()
        .map(Edit::delete)
        .collect();
    let mut own = own;
    own.sort_unstable();
    let mut lines: Vec<std::ops::Range<usize>> = own
        .iter()
        .map(|&i| {
            let s = &settings[i];
            source.line_start(s.key_span.start)..source.line_end(s.value_span.end)
        })
        .collect();
    lines.dedup();
    for range in merge(lines) {
        edits.push(Edit::delete(range));
    }
    // When the last members go, the last member kept must lose its comma.
    let kept_last = (0..settings.len()).rev().find(|i| !deleted.contains(i));
    let tail_deleted = settings
        .len()
        .checked_sub(1)
        .is_some_and(|last| own.contains(&last));
    if let (true, Some(k)) = (tail_deleted, kept_last) {
        let from = settings[k].value_span.end;
        let first_deleted_after = settings[k + 1].key_span.start;
        let to = source.line_start(first_deleted_after).max(from);
        if let Some(comma) = source.text[from..to].find(',') {
            let at = from + comma;
            edits.push(Edit::delete(at..at + 1));
        }
    }
    edits
}

/// Joins touching or overlapping ranges.
fn merge(mut ranges: Vec<std::ops::Range<usize>>) -> Vec<std::ops::Range<usize>> {
    ranges.sort_by_key(|r| r.start);
    let mut out: Vec<std::ops::Range<usize>> = Vec::new();
    for r in ranges {
        match out.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}
