//! Spelling ops as edits in HCL: whole lines for settings on their own lines, and
//! re-alignment of the `=` and trailing-comment columns that `terraform fmt` keeps.
//!
//! The unit here is a "line model" of the body's neighbourhood: the original lines,
//! minus deleted ones, plus inserted ones. Alignment groups are found in that new
//! sequence the way hclwrite finds them; a group is re-aligned only when it was
//! aligned before and the change touched it.

use super::align::{LineCells, is_aligned, line_cells, width};
use super::{BodyOps, Edit, LOCKFILE_KEY, Op, PlanError};
use crate::parse::{Body, Setting, Syntax};
use crate::source::Source;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

const TRUE: &str = "true";

/// Where a setting sits in the text.
struct Placement {
    /// 0-based first and last line of the setting.
    first_line: usize,
    last_line: usize,
    /// Only whitespace before the key, and only a comma or comment after the value.
    own_line: bool,
    /// The block's braces share the setting's line (`backend "s3" { k = v }`).
    block_on_one_line: bool,
    /// Offset of the `=` between key and value (None for `key: value` objects).
    eq: Option<usize>,
    trailing_comma: bool,
    heredoc: bool,
}

impl Placement {
    /// A line `terraform fmt` aligns: `key = value` alone on one line, or the
    /// first line of `key = <<EOF` (hclwrite counts a heredoc opener as one).
    fn is_row(&self) -> bool {
        self.own_line && (self.first_line == self.last_line || self.heredoc) && self.eq.is_some()
    }
}

/// The original lines of the file, each with its cells.
struct Lines<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    /// `bom` is the length of a UTF-8 BOM: the first line's content starts after it.
    fn new(text: &'a str, bom: usize) -> Lines<'a> {
        let mut starts = vec![bom];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Lines { text, starts }
    }

    fn index_of(&self, offset: usize) -> usize {
        self.starts
            .partition_point(|&s| s <= offset)
            .saturating_sub(1)
    }

    fn start(&self, line: usize) -> usize {
        self.starts[line]
    }

    /// End of the line's content, before `\r\n` or `\n`.
    fn content_end(&self, line: usize) -> usize {
        let end = self
            .starts
            .get(line + 1)
            .map_or(self.text.len(), |next| next - 1);
        if end > self.starts[line] && self.text.as_bytes()[end - 1] == b'\r' {
            end - 1
        } else {
            end
        }
    }

    /// End of the line including its terminator.
    fn end(&self, line: usize) -> usize {
        self.starts
            .get(line + 1)
            .copied()
            .unwrap_or(self.text.len())
    }

    fn content(&self, line: usize) -> &'a str {
        &self.text[self.start(line)..self.content_end(line)]
    }

    fn cells(&self, line: usize) -> LineCells {
        line_cells(self.content(line))
    }

    fn has_comment_cell(&self, line: usize) -> bool {
        self.cells(line).comment_start.is_some()
    }

    fn count(&self) -> usize {
        self.starts.len()
    }
}

/// What an op does to a row (a setting alone on one line with `=`).
#[derive(Default, Clone)]
struct RowChange<'a> {
    new_key: Option<&'static str>,
    new_value: Option<&'a str>,
}

/// One line of the new sequence.
struct VLine<'s> {
    /// The original line it comes from; None for an inserted line.
    orig: Option<usize>,
    /// The setting on it when it is a row, with its change.
    row: Option<(&'s Setting, RowChange<'s>)>,
    /// For an inserted line: the setting it follows, and its key and value.
    inserted_after: Option<(&'s Setting, &'s str, &'s str)>,
}

/// The edits for one body's ops. `foreign` are edits already made inside this
/// body's lines (in a nested object): they change line widths, which matters for
/// the alignment of trailing comments.
pub fn render(
    source: &Source,
    body_ops: &BodyOps,
    foreign: &[Edit],
) -> Result<Vec<Edit>, PlanError> {
    let text = source.text.as_str();
    let lines = Lines::new(text, source.bom);
    let body = body_ops.body;
    let placements: Vec<Placement> = body.settings.iter().map(|s| place(&lines, s)).collect();
    let placement_of = |s: &Setting| {
        let i = index_in(body, s);
        &placements[i]
    };

    let mut edits = Vec::new();
    let mut deleted = BTreeSet::new();
    let mut deleted_settings = Vec::new();
    let mut row_changes: BTreeMap<usize, RowChange<'_>> = BTreeMap::new();
    let mut inserts: BTreeMap<usize, Vec<(&Setting, &str, &str)>> = BTreeMap::new();
    // Rows rewritten over several lines: no longer rows.
    let mut spread_lines = BTreeSet::new();

    for op in &body_ops.ops {
        match *op {
            Op::Delete(s) => deleted_settings.push(index_in(body, s)),
            Op::Rewrite(s, key, ref value, ref spread) => {
                let p = placement_of(s);
                // A multi-line value leaves every alignment group (as in
                // hclwrite); a trailing comment keeps the one-line spelling.
                if let Some(spread) = spread
                    .as_ref()
                    .filter(|_| p.is_row() && !p.heredoc && !lines.has_comment_cell(p.first_line))
                {
                    let line = p.first_line;
                    let indent = &text[lines.start(line)..s.key_span.start];
                    let newline = newline_at(text, lines.content_end(line));
                    let unit = if indent.contains('\t') { "\t" } else { "  " };
                    let spelled = spread
                        .replace("\n  ", &format!("\n{indent}{unit}"))
                        .replace("\n}", &format!("\n{indent}}}"))
                        .replace('\n', newline);
                    edits.push(Edit::replace(
                        s.key_span.start..s.value_span.end,
                        format!("{key} = {spelled}"),
                    ));
                    spread_lines.insert(line);
                } else if p.is_row() {
                    let change = row_changes.entry(p.first_line).or_default();
                    change.new_key = Some(key);
                    change.new_value = Some(value.as_str());
                } else {
                    edits.push(Edit::replace(s.key_span.clone(), key));
                    edits.push(Edit::replace(s.value_span.clone(), value.as_str()));
                }
            }
            Op::InsertAfter(s, key, ref value) => insert_after(
                &mut inserts,
                &mut edits,
                body,
                placement_of(s),
                s,
                key,
                value,
            )?,
            Op::ReplaceWithLockfile(s) => {
                let p = placement_of(s);
                if p.is_row() {
                    let change = row_changes.entry(p.first_line).or_default();
                    change.new_key = Some(LOCKFILE_KEY);
                    change.new_value = Some(TRUE);
                } else {
                    edits.push(Edit::replace(s.key_span.clone(), LOCKFILE_KEY));
                    edits.push(Edit::replace(s.value_span.clone(), TRUE));
                }
            }
            Op::InsertLockfileAfter(s) => insert_after(
                &mut inserts,
                &mut edits,
                body,
                placement_of(s),
                s,
                LOCKFILE_KEY,
                TRUE,
            )?,
            Op::SetTrue(s) => set_value(&mut row_changes, &mut edits, placement_of(s), s, TRUE),
            Op::SetValue(s, value) => {
                set_value(&mut row_changes, &mut edits, placement_of(s), s, value)
            }
        }
    }

    // Neighbouring deletions become one edit each, so their ranges never overlap:
    // a run of settings alone on their lines goes with its lines; a run with one
    // that shares its line goes as one splice with one separator.
    deleted_settings.sort_unstable();
    deleted_settings.dedup();
    let mut whole_lines = BTreeSet::new();
    for run in consecutive_groups(&deleted_settings) {
        // A line that keeps something (an inline neighbour) stays in the model.
        for &i in run.iter().filter(|&&i| placements[i].own_line) {
            deleted.extend(placements[i].first_line..=placements[i].last_line);
        }
        if run.iter().all(|&i| placements[i].own_line) {
            for &i in &run {
                whole_lines.extend(placements[i].first_line..=placements[i].last_line);
            }
        } else {
            edits.push(Edit::delete(inline_run(&lines, body, &run)));
        }
    }
    for group in consecutive_groups(&whole_lines.iter().copied().collect::<Vec<_>>()) {
        let (first, last) = (group[0], group[group.len() - 1]);
        edits.push(Edit::delete(delete_lines(&lines, first, last)));
    }

    // Rows by their (0-based) line, for the settings alone on one line with `=`.
    let rows: BTreeMap<usize, &Setting> = body
        .settings
        .iter()
        .zip(&placements)
        .filter(|(_, p)| p.is_row())
        .map(|(s, p)| (p.first_line, s))
        .collect();

    // A heredoc's body and closing marker belong to its opener's row, as
    // hclwrite counts lines: the rows before and after it are one group.
    let in_heredoc_row: BTreeSet<usize> = placements
        .iter()
        .filter(|p| p.is_row() && p.heredoc)
        .flat_map(|p| p.first_line + 1..=p.last_line)
        .collect();

    let window = window(&lines, body, &placements);
    let mut vlines = Vec::new();
    for line in window.clone() {
        if !deleted.contains(&line) && !in_heredoc_row.contains(&line) {
            vlines.push(VLine {
                orig: Some(line),
                row: rows
                    .get(&line)
                    .filter(|_| !spread_lines.contains(&line))
                    .map(|s| (*s, row_changes.get(&line).cloned().unwrap_or_default())),
                inserted_after: None,
            });
        }
        for &inserted in inserts.get(&line).into_iter().flatten() {
            vlines.push(VLine {
                orig: None,
                row: None,
                inserted_after: Some(inserted),
            });
        }
    }

    let layout = Layout {
        text,
        lines: &lines,
        placements: &placements,
        body,
    };
    let pads = layout.align_equals(&vlines, &rows);
    let mut widths_changed = BTreeSet::new();
    let mut new_widths = Vec::with_capacity(vlines.len());
    for (i, v) in vlines.iter().enumerate() {
        let (line_edits, mut new_width) = layout.row_edits(v, pads[i]);
        if let Some(orig) = v.orig {
            let start = lines.start(orig);
            let code = start..start + lines.cells(orig).code_end;
            for e in foreign
                .iter()
                .filter(|e| e.start >= code.start && e.end <= code.end)
            {
                new_width =
                    (new_width + width(&e.text)).saturating_sub(width(&text[e.start..e.end]));
            }
        }
        if let Some(orig) = v.orig
            && new_width != width(&lines.content(orig)[..lines.cells(orig).code_end])
        {
            widths_changed.insert(i);
        }
        edits.extend(line_edits);
        new_widths.push(new_width);
    }
    edits.extend(layout.align_comments(&vlines, &new_widths, &widths_changed, &window));
    Ok(edits)
}

struct Layout<'a> {
    text: &'a str,
    lines: &'a Lines<'a>,
    placements: &'a [Placement],
    body: &'a Body,
}

impl Layout<'_> {
    fn placement(&self, s: &Setting) -> &Placement {
        &self.placements[index_in(self.body, s)]
    }

    fn indent_of(&self, s: &Setting) -> &str {
        let line = self.lines.index_of(s.key_span.start);
        &self.text[self.lines.start(line)..s.key_span.start]
    }

    /// Width of "indent + key" of a vline that is a row (or an inserted row).
    fn lead(&self, v: &VLine) -> Option<usize> {
        if let Some((s, change)) = &v.row {
            let key = change.new_key.unwrap_or(&s.key);
            return Some(width(self.indent_of(s)) + width(key_text(self.text, s, key)));
        }
        v.inserted_after
            .map(|(anchor, key, _)| width(self.indent_of(anchor)) + width(key))
    }

    /// The number of spaces before `=` on each vline (None where nothing is set).
    fn align_equals(
        &self,
        vlines: &[VLine],
        rows: &BTreeMap<usize, &Setting>,
    ) -> Vec<Option<usize>> {
        let mut pads = vec![None; vlines.len()];
        let orig_aligned = self.original_equals_alignment(rows);
        for run in runs(vlines, |v| self.lead(v).is_some()) {
            let members = &vlines[run.clone()];
            let touched = members.iter().any(|v| {
                v.orig.is_none()
                    || v.row
                        .as_ref()
                        .is_some_and(|(_, c)| c.new_key.is_some() || c.new_value.is_some())
            }) || members.windows(2).any(|w| match (w[0].orig, w[1].orig) {
                (Some(a), Some(b)) => b != self.row_end(a, rows) + 1,
                _ => true,
            }) || self.run_boundary_moved(members, rows);
            if !touched {
                continue;
            }
            let aligned = members
                .iter()
                .filter_map(|v| v.orig)
                .all(|line| orig_aligned.get(&line).copied().unwrap_or(true));
            let max_lead = members
                .iter()
                .filter_map(|v| self.lead(v))
                .max()
                .unwrap_or(0);
            for (offset, v) in members.iter().enumerate() {
                pads[run.start + offset] = if aligned {
                    Some(max_lead - self.lead(v).unwrap_or(0) + 1)
                } else if v.orig.is_none() {
                    Some(1)
                } else {
                    None
                };
            }
        }
        pads
    }

    /// Whether the original group of a run's first or last row reached beyond the
    /// run (a deleted neighbour), which changes the group's widest key.
    fn run_boundary_moved(&self, members: &[VLine], rows: &BTreeMap<usize, &Setting>) -> bool {
        let first = members.first().and_then(|v| v.orig);
        let last = members.last().and_then(|v| v.orig);
        let before = first.is_some_and(|l| {
            rows.range(..l)
                .next_back()
                .is_some_and(|(&row, _)| self.row_end(row, rows) + 1 == l)
        });
        let after = last.is_some_and(|l| rows.contains_key(&(self.row_end(l, rows) + 1)));
        before || after
    }

    /// The last line of the row on `line`: a heredoc's closing marker, else `line`.
    fn row_end(&self, line: usize, rows: &BTreeMap<usize, &Setting>) -> usize {
        rows.get(&line)
            .map(|s| self.placement(s))
            .filter(|p| p.heredoc)
            .map_or(line, |p| p.last_line)
    }

    /// For each original row line: was its `=` group aligned?
    fn original_equals_alignment(&self, rows: &BTreeMap<usize, &Setting>) -> BTreeMap<usize, bool> {
        let mut result = BTreeMap::new();
        let lines: Vec<usize> = rows.keys().copied().collect();
        for group in groups_by(&lines, |prev, line| self.row_end(prev, rows) + 1 == line) {
            let cols: Vec<(usize, usize)> = group
                .iter()
                .map(|line| {
                    let s = rows[line];
                    let start = self.lines.start(*line);
                    let eq = self.placement(s).eq.unwrap_or(s.key_span.end);
                    (
                        width(&self.text[start..s.key_span.end]),
                        width(&self.text[start..eq]),
                    )
                })
                .collect();
            let aligned = is_aligned(&cols);
            result.extend(group.iter().map(|l| (*l, aligned)));
        }
        result
    }

    /// Edits for one vline's key, `=` gap and value, and its new code width.
    fn row_edits(&self, v: &VLine, pad: Option<usize>) -> (Vec<Edit>, usize) {
        if let Some((anchor, key, value)) = v.inserted_after {
            let p = self.placement(anchor);
            let pad = pad.unwrap_or(1);
            let comma = if p.trailing_comma { "," } else { "" };
            let line = format!(
                "{}{key}{}= {value}{comma}",
                self.indent_of(anchor),
                " ".repeat(pad)
            );
            // Before trailing blanks after code (not after a comment, whose blanks
            // are its own): they stay at the end of the (new) last line.
            let end = self.lines.content_end(p.last_line);
            let at = if self.lines.has_comment_cell(p.last_line) {
                end
            } else {
                let code = self.text[..end].trim_end_matches([' ', '\t']).len();
                code.max(self.lines.start(p.last_line))
            };
            let newline = newline_at(self.text, end);
            return (
                vec![Edit::insert(at, format!("{newline}{line}"))],
                width(&line),
            );
        }
        let orig = v.orig.unwrap_or(0);
        let code = &self.lines.content(orig)[..self.lines.cells(orig).code_end];
        let mut new_width = width(code);
        let mut edits = Vec::new();
        let Some((s, change)) = &v.row else {
            return (edits, new_width);
        };
        if let Some(key) = change.new_key {
            new_width = new_width + width(key) - width(&self.text[s.key_span.clone()]);
            edits.push(Edit::replace(s.key_span.clone(), key));
        }
        if let (Some(pad), Some(eq)) = (pad, self.placement(s).eq) {
            let gap = &self.text[s.key_span.end..eq];
            if gap != " ".repeat(pad) {
                new_width = new_width + pad - width(gap);
                edits.push(Edit::replace(s.key_span.end..eq, " ".repeat(pad)));
            }
        }
        if let Some(value) = change.new_value {
            // Only a value's first line is on this row (a heredoc's opener).
            let old = &self.text[s.value_span.clone()];
            new_width = new_width + width(first_line(value)) - width(first_line(old));
            edits.push(Edit::replace(s.value_span.clone(), value));
        }
        (edits, new_width)
    }

    /// Re-aligns trailing comments in groups the change touched, if they were aligned.
    fn align_comments(
        &self,
        vlines: &[VLine],
        new_widths: &[usize],
        widths_changed: &BTreeSet<usize>,
        window: &Range<usize>,
    ) -> Vec<Edit> {
        // Original comment groups over the window, and whether each was aligned.
        let mut orig_group_of = BTreeMap::new();
        let mut orig_aligned = Vec::new();
        let commented: Vec<usize> = window
            .clone()
            .filter(|&l| self.lines.has_comment_cell(l))
            .collect();
        for group in consecutive_groups(&commented) {
            let cols: Vec<(usize, usize)> = group
                .iter()
                .map(|&l| {
                    let cells = self.lines.cells(l);
                    let content = self.lines.content(l);
                    let comment = cells.comment_start.unwrap_or(cells.code_end);
                    (
                        width(&content[..cells.code_end]),
                        width(&content[..comment]),
                    )
                })
                .collect();
            for &l in &group {
                orig_group_of.insert(l, orig_aligned.len());
            }
            orig_aligned.push((is_aligned(&cols), group.len()));
        }

        let has_comment = |v: &VLine| v.orig.is_some_and(|l| self.lines.has_comment_cell(l));
        let mut edits = Vec::new();
        for run in runs(vlines, has_comment) {
            let members = &vlines[run.clone()];
            let groups: BTreeSet<usize> = members
                .iter()
                .filter_map(|v| v.orig.and_then(|l| orig_group_of.get(&l).copied()))
                .collect();
            let same_members =
                groups.len() == 1 && groups.iter().all(|g| orig_aligned[*g].1 == members.len());
            let touched = !same_members || run.clone().any(|i| widths_changed.contains(&i));
            let aligned = groups.iter().all(|g| orig_aligned[*g].0);
            if !touched || !aligned {
                continue;
            }
            let max = run.clone().map(|i| new_widths[i]).max().unwrap_or(0);
            for i in run {
                let Some(line) = vlines[i].orig else { continue };
                let cells = self.lines.cells(line);
                let Some(comment) = cells.comment_start else {
                    continue;
                };
                let start = self.lines.start(line);
                let gap = start + cells.code_end..start + comment;
                let spaces = " ".repeat(max - new_widths[i] + 1);
                if self.text[gap.clone()] != spaces {
                    edits.push(Edit::replace(gap, spaces));
                }
            }
        }
        edits
    }
}

/// A new `key = value` after a setting: a line of its own when the setting has
/// one, else inline in an object (`, key = value`).
fn insert_after<'a>(
    inserts: &mut BTreeMap<usize, Vec<(&'a Setting, &'a str, &'a str)>>,
    edits: &mut Vec<Edit>,
    body: &Body,
    placement: &Placement,
    setting: &'a Setting,
    key: &'a str,
    value: &'a str,
) -> Result<(), PlanError> {
    if placement.own_line {
        inserts
            .entry(placement.last_line)
            .or_default()
            .push((setting, key, value));
    } else if body.syntax == Syntax::HclObject {
        edits.push(Edit::insert(
            setting.value_span.end,
            format!(", {key} = {value}"),
        ));
    } else if placement.block_on_one_line {
        return Err(PlanError {
            offset: setting.key_span.start,
            message: format!(
                "the backend block is written on one line; \
                 split it over several lines so tflock can add {key}"
            ),
        });
    } else {
        // Say what is there: a comment before the setting on its line.
        return Err(PlanError {
            offset: setting.key_span.start,
            message: format!(
                "{} shares its line with other text (a comment before it); put it on a \
                 line of its own so tflock can add {key}",
                setting.key
            ),
        });
    }
    Ok(())
}

/// A new value for a setting: through the row model when it is a row (so its
/// trailing comment stays aligned), else as a plain splice.
fn set_value<'a>(
    row_changes: &mut BTreeMap<usize, RowChange<'a>>,
    edits: &mut Vec<Edit>,
    placement: &Placement,
    setting: &Setting,
    value: &'a str,
) {
    if placement.is_row() {
        row_changes
            .entry(placement.first_line)
            .or_default()
            .new_value = Some(value);
    } else {
        edits.push(Edit::replace(setting.value_span.clone(), value));
    }
}

/// The line terminator at `at` (the end of a line's content), or the file's own
/// style when the line ends the file.
pub(super) fn newline_at(text: &str, at: usize) -> &'static str {
    if text[at..].starts_with("\r\n") {
        "\r\n"
    } else if at < text.len() {
        "\n"
    } else {
        crate::source::newline_style(text)
    }
}

/// The key as it will read: a new key verbatim, or the original key's text.
fn key_text<'t>(text: &'t str, s: &Setting, key: &'t str) -> &'t str {
    if key == s.key {
        &text[s.key_span.clone()]
    } else {
        key
    }
}

fn index_in(body: &Body, s: &Setting) -> usize {
    body.settings
        .iter()
        .position(|x| std::ptr::eq(x, s))
        .unwrap_or(0)
}

fn place(lines: &Lines, s: &Setting) -> Placement {
    let text = lines.text;
    let first_line = lines.index_of(s.key_span.start);
    let last_line = lines.index_of(s.value_span.end.saturating_sub(1).max(s.value_span.start));
    let before = &text[lines.start(first_line)..s.key_span.start];
    let rest = text[s.value_span.end..lines.content_end(last_line)].trim_start();
    let (trailing_comma, after) = match rest.strip_prefix(',') {
        Some(r) => (true, r.trim_start()),
        None => (false, rest),
    };
    let own_line = before.trim().is_empty() && only_comments(after);
    let eq = text[s.key_span.end..s.value_span.start]
        .find('=')
        .map(|i| s.key_span.end + i);
    Placement {
        first_line,
        last_line,
        own_line,
        block_on_one_line: before.contains('{') || after.contains('}'),
        eq,
        trailing_comma,
        heredoc: text[s.value_span.clone()].starts_with("<<"),
    }
}

/// The part of a value on its first line: all of it, or a heredoc's opener.
fn first_line(value: &str) -> &str {
    value.split('\n').next().unwrap_or(value)
}

/// Whether the rest of a line holds nothing but comments: `# ...`, `// ...`, or
/// `/* ... */` closed on the line (hclwrite keeps those after the value).
fn only_comments(rest: &str) -> bool {
    let mut rest = rest.trim_start();
    loop {
        if rest.is_empty() || rest.starts_with('#') || rest.starts_with("//") {
            return true;
        }
        match rest.strip_prefix("/*").and_then(|r| r.split_once("*/")) {
            Some((_, after)) => rest = after.trim_start(),
            None => return false,
        }
    }
}

/// Lines `first..=last` with their terminators. When they end the file without a
/// final newline, the terminator before them goes instead, so the file still ends
/// without one.
fn delete_lines(lines: &Lines, first: usize, last: usize) -> Range<usize> {
    let start = lines.start(first);
    let end = lines.end(last);
    let text = lines.text;
    if end == text.len() && !text.ends_with('\n') && first > 0 {
        let cut = if text[..start].ends_with("\r\n") {
            2
        } else {
            1
        };
        return start - cut..end;
    }
    start..end
}

/// A setting sharing its line with others: remove it with one separator.
/// A run of neighbouring settings, one of which shares its line, removed as one
/// splice: up to the next setting when it follows on the same line, else from the
/// previous one when that ends on the run's first line, else just the run (so a
/// comment or brace on a line of their own is never taken along).
fn inline_run(lines: &Lines, body: &Body, run: &[usize]) -> Range<usize> {
    let settings = &body.settings;
    let (first, last) = (&settings[run[0]], &settings[run[run.len() - 1]]);
    let same_line = |a: usize, b: usize| lines.index_of(a) == lines.index_of(b);
    let next = settings.get(run[run.len() - 1] + 1);
    let prev = run[0].checked_sub(1).map(|p| &settings[p]);
    match (next, prev) {
        (Some(n), _) if same_line(last.value_span.end, n.key_span.start) => {
            first.key_span.start..n.key_span.start
        }
        (_, Some(p)) if same_line(p.value_span.end, first.key_span.start) => {
            p.value_span.end..last.value_span.end
        }
        _ => {
            // Starting its line: take the blanks after it too, so what stays on
            // the line (a comment, a brace) keeps the line's indentation.
            let text = lines.text;
            let starts_line = text
                [lines.start(lines.index_of(first.key_span.start))..first.key_span.start]
                .trim()
                .is_empty();
            let mut end = last.value_span.end;
            // An object item's comma goes with it (`{a = 1,` newline `b = 2}`
            // must not become `{,`).
            let after = text[end..].trim_start_matches([' ', '\t']);
            if body.syntax == Syntax::HclObject && after.starts_with(',') {
                end = text.len() - after.len() + 1;
            }
            if starts_line {
                end += text[end..].len() - text[end..].trim_start_matches([' ', '\t']).len();
            }
            first.key_span.start..end
        }
    }
}

/// The lines to model: the body's settings, widened over neighbouring lines that
/// carry trailing comments (they can share an alignment group with a setting).
fn window(lines: &Lines, body: &Body, placements: &[Placement]) -> Range<usize> {
    let (Some(first), Some(last)) = (
        placements.iter().map(|p| p.first_line).min(),
        placements.iter().map(|p| p.last_line).max(),
    ) else {
        return 0..0;
    };
    let _ = body;
    let mut start = first;
    while start > 0 && lines.has_comment_cell(start - 1) {
        start -= 1;
    }
    let mut end = last + 1;
    while end < lines.count() && lines.has_comment_cell(end) {
        end += 1;
    }
    start..end
}

/// Maximal runs of consecutive items satisfying `pred`, as index ranges.
fn runs<T>(items: &[T], pred: impl Fn(&T) -> bool) -> Vec<Range<usize>> {
    let mut result = Vec::new();
    let mut start = None;
    for (i, item) in items.iter().enumerate() {
        match (pred(item), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                result.push(s..i);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        result.push(s..items.len());
    }
    result
}

/// Splits sorted numbers into groups of consecutive ones.
pub(super) fn consecutive_groups(lines: &[usize]) -> Vec<Vec<usize>> {
    groups_by(lines, |prev, l| prev == l.wrapping_sub(1))
}

/// `lines` cut into groups, a line joining the group before it when it
/// `follows` that group's last line.
fn groups_by(lines: &[usize], follows: impl Fn(usize, usize) -> bool) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for &l in lines {
        match groups.last_mut() {
            Some(g) if g.last().is_some_and(|&prev| follows(prev, l)) => g.push(l),
            _ => groups.push(vec![l]),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::only_comments;

    #[test]
    fn block_comments_closed_on_the_line_end_a_row() {
        assert!(only_comments(""));
        assert!(only_comments("  # note"));
        assert!(only_comments("// note"));
        assert!(only_comments("/* the table */"));
        assert!(only_comments("/* a */ /* b */ # c"));
        assert!(!only_comments("/* open"));
        assert!(!only_comments("/* a */ key = 1"));
        assert!(!only_comments("key = 1"));
    }
}
