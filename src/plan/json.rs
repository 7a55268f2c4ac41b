//! Spelling ops as edits in Terraform's JSON syntax: members and their commas.

use super::hcl::newline_at;
use super::{BodyOps, Edit, LOCKFILE_KEY, Op, PlanError};
use crate::parse::{Body, Setting};
use crate::source::Source;

pub fn render(source: &Source, body_ops: &BodyOps) -> Result<Vec<Edit>, PlanError> {
    let text = source.text.as_str();
    let body = body_ops.body;
    let mut edits = Vec::new();
    for op in &body_ops.ops {
        match *op {
            Op::Delete(s) => edits.extend(delete_member(source, body, s)),
            Op::ReplaceWithLockfile(s) => {
                edits.push(Edit::replace(
                    s.key_span.clone(),
                    format!("\"{LOCKFILE_KEY}\""),
                ));
                edits.push(Edit::replace(s.value_span.clone(), "true"));
            }
            Op::SetTrue(s) => edits.push(Edit::replace(s.value_span.clone(), "true")),
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
    Ok(edits)
}

/// Whether the member is alone on its line(s).
fn own_line(source: &Source, s: &Setting) -> bool {
    let before = &source.text[source.line_start(s.key_span.start)..s.key_span.start];
    let after = &source.text[s.value_span.end..source.line_content_end(s.value_span.end)];
    before.trim().is_empty() && matches!(after.trim(), "" | ",")
}

/// Removes a member and keeps the object's commas valid.
fn delete_member(source: &Source, body: &Body, s: &Setting) -> Vec<Edit> {
    let i = body
        .settings
        .iter()
        .position(|x| std::ptr::eq(x, s))
        .unwrap_or(0);
    let prev = i.checked_sub(1).map(|p| &body.settings[p]);
    let next = body.settings.get(i + 1);
    if own_line(source, s) {
        let start = source.line_start(s.key_span.start);
        let end = source.line_end(s.value_span.end);
        let mut edits = vec![Edit::delete(start..end)];
        // The last member has no comma after it; the one before it now is last.
        if let (None, Some(prev)) = (next, prev)
            && let Some(comma) = source.text[prev.value_span.end..start].find(',')
        {
            let at = prev.value_span.end + comma;
            edits.push(Edit::delete(at..at + 1));
        }
        return edits;
    }
    let range = match (prev, next) {
        (_, Some(next)) => s.key_span.start..next.key_span.start,
        (Some(prev), None) => prev.value_span.end..s.value_span.end,
        (None, None) => s.span(),
    };
    vec![Edit::delete(range)]
}
