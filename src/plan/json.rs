//! Spelling ops as edits in Terraform's JSON syntax: members and their commas.

use super::hcl::newline_at;
use super::{BodyOps, Edit, LOCKFILE_KEY, Op, PlanError};
use crate::parse::{Body, Setting};
use crate::source::Source;

pub fn render(source: &Source, body_ops: &BodyOps) -> Result<Vec<Edit>, PlanError> {
    let body = body_ops.body;
    let mut edits = Vec::new();
    let mut deleted = Vec::new();
    for op in &body_ops.ops {
        match *op {
            Op::Delete(s) => deleted.push(index_of(body, s)),
            Op::Rewrite(s, key, ref value, _) => {
                edits.push(Edit::replace(s.key_span.clone(), format!("\"{key}\"")));
                edits.push(Edit::replace(s.value_span.clone(), value.as_str()));
            }
            Op::InsertAfter(s, key, ref value) => {
                edits.push(insert_member(source, s, key, value));
            }
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
                edits.push(insert_member(source, s, LOCKFILE_KEY, "true"));
            }
        }
    }
    edits.extend(delete_members(source, body, &deleted));
    Ok(edits)
}

/// `"key": value` after a member: on a line of its own (same indent and
/// separator) when the member has one, else on the member's line.
fn insert_member(source: &Source, s: &Setting, key: &str, value: &str) -> Edit {
    let separator = &source.text[s.key_span.end..s.value_span.start];
    let member = format!("\"{key}\"{separator}{value}");
    let text = if own_line(source, s) {
        let line_start = source.line_start(s.key_span.start);
        let indent = &source.text[line_start..s.key_span.start];
        let newline = newline_at(&source.text, source.line_content_end(s.value_span.end));
        format!(",{newline}{indent}{member}")
    } else {
        format!(", {member}")
    };
    Edit::insert(s.value_span.end, text)
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

/// Removes members and keeps the object's commas valid. A run of neighbours all
/// alone on their lines goes with its lines; any other run as one splice with one
/// separator (up to the next member, or from the previous one).
fn delete_members(source: &Source, body: &Body, deleted: &[usize]) -> Vec<Edit> {
    let settings = &body.settings;
    let mut sorted = deleted.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut edits = Vec::new();
    let mut lines = Vec::new();
    let mut tail_by_lines = false;
    // A member whose comma stands on the next member's line cannot go with its
    // own lines: that comma would be left behind, after the previous one.
    let alone = |i: usize| {
        let s = &settings[i];
        let after = &source.text[s.value_span.end..source.line_content_end(s.value_span.end)];
        own_line(source, s) && (i + 1 == settings.len() || after.trim() == ",")
    };
    for run in super::hcl::consecutive_groups(&sorted) {
        let (first, last) = (run[0], run[run.len() - 1]);
        if run.iter().all(|&i| alone(i)) {
            for &i in &run {
                let s = &settings[i];
                lines.push(source.line_start(s.key_span.start)..source.line_end(s.value_span.end));
            }
            tail_by_lines |= last + 1 == settings.len();
            continue;
        }
        let range = match (
            settings.get(last + 1),
            first.checked_sub(1).map(|p| &settings[p]),
        ) {
            (Some(next), _) => settings[first].key_span.start..next.key_span.start,
            (None, Some(prev)) => prev.value_span.end..settings[last].value_span.end,
            (None, None) => settings[first].key_span.start..settings[last].value_span.end,
        };
        edits.push(Edit::delete(range));
    }
    for range in merge(lines) {
        edits.push(Edit::delete(range));
    }
    // When the last members go with their lines, the last member kept must lose
    // its comma.
    let kept_last = (0..settings.len()).rev().find(|i| !sorted.contains(i));
    if let (true, Some(k)) = (tail_by_lines, kept_last) {
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
