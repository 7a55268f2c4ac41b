//! The pull-request report (`--format markdown`): a summary table, one collapsible
//! section per changed file, the blocked backends, the input errors and the next
//! steps, split into comment-sized parts.
//!
//! Every part starts with [`MARKER`] and a `<!-- tflock-report part i/n -->` line, so
//! a CI job can find (and update) the comments of an earlier run. No part is longer
//! than [`MAX_PART_BYTES`] bytes (GitHub's comment limit counts characters; bytes are
//! never fewer). A part never ends inside a file's section, unless that section alone
//! is too large: then its diff is split over several sections, each with its own
//! closed fence. Secrets are redacted as in every other report (DESIGN.md
//! invariant 9).

use super::{display_diff, redact};
use crate::plan::{Action, Strategy};
use crate::scan::{BackendPlan, FilePlan, RepoPlan};
use std::collections::BTreeMap;
use std::fmt::Write;

/// The first line of every part: what a CI job searches for.
pub const MARKER: &str = "<!-- tflock-report -->";

/// GitHub's limit for one comment (65,536 characters).
pub const MAX_PART_BYTES: usize = 65_536;

/// Room kept in every part for a section heading repeated on a continued part.
const PREFIX_RESERVE: usize = 1024;

/// Longest value shown in a table cell or list item heading.
const MAX_VALUE_CHARS: usize = 200;

/// The report as one or more Markdown documents, each at most [`MAX_PART_BYTES`].
///
/// `next_steps` are shown as a bulleted list, one entry per step, in order; each
/// entry is inline Markdown (put commands in backticks), and may be empty.
pub fn render(plan: &RepoPlan, next_steps: &[String]) -> Vec<String> {
    render_limited(plan, next_steps, MAX_PART_BYTES)
}

/// [`render`] with another part size (tests use small ones).
fn render_limited(plan: &RepoPlan, next_steps: &[String], limit: usize) -> Vec<String> {
    let reserve = part_header(9_999_999, 9_999_999).len();
    let budget = limit.max(reserve + PREFIX_RESERVE + 1024) - reserve;
    let max_item = budget - PREFIX_RESERVE;

    let mut blocks = vec![Block {
        text: summary(plan),
        cont: None,
    }];
    blocks.extend(table_sections(plan));
    blocks.extend(file_sections(plan, max_item));
    blocks.extend(blocked_section(plan));
    blocks.extend(readers_section(plan));
    blocks.extend(error_section(plan));
    blocks.extend(next_steps_section(next_steps, max_item));
    // Only one fenced block or one line can still be this long (diffs and next
    // steps were split to `max_item` above); a block must fit a part together
    // with the heading it repeats there.
    for block in &mut blocks {
        let room = budget - block.cont.as_ref().map_or(0, String::len);
        truncate(&mut block.text, room);
    }

    let bodies = pack(blocks, budget);
    let n = bodies.len();
    bodies
        .into_iter()
        .enumerate()
        .map(|(i, body)| {
            let mut part = part_header(i + 1, n);
            part.push_str(body.trim_end());
            part.push('\n');
            part
        })
        .collect()
}

/// A piece of the report that stays within one part.
struct Block {
    text: String,
    /// Printed before this block when it opens a part that is not the first:
    /// the heading (and table header) of the section it continues.
    cont: Option<String>,
}

fn part_header(i: usize, n: usize) -> String {
    let title = if n > 1 {
        format!("## tflock plan (part {i} of {n})")
    } else {
        "## tflock plan".to_string()
    };
    format!("{MARKER}\n<!-- tflock-report part {i}/{n} -->\n{title}\n\n")
}

/// Fills parts greedily, in order; a block that does not fit opens the next part.
fn pack(blocks: Vec<Block>, budget: usize) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    for block in blocks {
        if !current.is_empty() && current.len() + block.text.len() > budget {
            parts.push(std::mem::take(&mut current));
        }
        if current.is_empty()
            && !parts.is_empty()
            && let Some(cont) = &block.cont
        {
            current.push_str(cont);
        }
        current.push_str(&block.text);
    }
    if !current.is_empty() || parts.is_empty() {
        parts.push(current);
    }
    parts
}

/// Sections made of a heading and items: the heading goes with the first item,
/// and `cont` opens any later part the section spills into.
fn section(heading: String, cont: String, items: Vec<String>) -> Vec<Block> {
    let mut blocks: Vec<Block> = Vec::with_capacity(items.len());
    let mut items = items.into_iter();
    let first = items.next().unwrap_or_default();
    blocks.push(Block {
        text: format!("{heading}{first}"),
        cont: None,
    });
    blocks.extend(items.map(|text| Block {
        text,
        cont: Some(cont.clone()),
    }));
    blocks
}

fn summary(plan: &RepoPlan) -> String {
    let strategy = plan.strategy.unwrap_or(Strategy::Replace);
    let checked = plan.backends.iter().any(|b| b.locks.is_some());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Strategy: `{strategy}` · Lock checks: {}\n",
        if checked { "run" } else { "not run" }
    );
    out.push_str("| Backends | Count |\n| --- | ---: |\n");
    for (label, count) in [
        ("Found", plan.backends.len()),
        ("To migrate", plan.count(Action::Migrate)),
        ("Already migrated", plan.count(Action::AlreadyMigrated)),
        ("Without DynamoDB locking", plan.count(Action::None)),
        ("Blocked", plan.blocked()),
        ("Errors", plan.problems.len()),
        ("Files to change", plan.changed_files().count()),
    ] {
        let _ = writeln!(out, "| {label} | {count} |");
    }
    out.push('\n');
    if !checked && plan.count(Action::Migrate) > 0 {
        out.push_str(
            "> [!WARNING]\n> Locks were not checked (offline plan): a state locked right now \
             would not show as blocked here. Run `tflock plan` with AWS access before applying.\n\n",
        );
    }
    out
}

#[derive(Default)]
struct Counts {
    backends: usize,
    migrate: usize,
    blocked: usize,
    already: usize,
    none: usize,
    error: usize,
}

impl Counts {
    fn add(&mut self, action: Action) {
        self.backends += 1;
        match action {
            Action::Migrate => self.migrate += 1,
            Action::Blocked => self.blocked += 1,
            Action::AlreadyMigrated => self.already += 1,
            Action::None => self.none += 1,
            Action::Error => self.error += 1,
        }
    }
}

/// Counts per DynamoDB table and per bucket.
fn table_sections(plan: &RepoPlan) -> Vec<Block> {
    let mut tables: BTreeMap<String, Counts> = BTreeMap::new();
    let mut buckets: BTreeMap<String, Counts> = BTreeMap::new();
    for b in &plan.backends {
        // The resolved names: a Terragrunt root can reach several tables and
        // buckets through its units; what stayed unknown is shown as written.
        let resolved = |pick: fn(&crate::verify::Target) -> Option<String>, key: &str| {
            let mut names: std::collections::BTreeSet<String> =
                b.resolution.targets.iter().filter_map(pick).collect();
            if names.is_empty()
                && let Some(v) = b.backend.value(key)
            {
                names.insert(v.display());
            }
            names
        };
        for table in resolved(|t| t.table.clone(), "dynamodb_table") {
            tables.entry(table).or_default().add(b.action);
        }
        let bucket_names = resolved(|t| t.bucket.clone(), "bucket");
        if bucket_names.is_empty() {
            buckets
                .entry("*(not set here)*".to_string())
                .or_default()
                .add(b.action);
        }
        for bucket in bucket_names {
            buckets
                .entry(table_code(&bucket))
                .or_default()
                .add(b.action);
        }
    }
    let mut blocks = Vec::new();
    if !tables.is_empty() {
        let header = "| DynamoDB table | Backends | To migrate | Blocked | Already migrated | Errors |\n\
                      | --- | ---: | ---: | ---: | ---: | ---: |\n";
        let rows: Vec<String> = tables
            .iter()
            .map(|(name, c)| {
                format!(
                    "| {} | {} | {} | {} | {} | {} |\n",
                    table_code(name),
                    c.backends,
                    c.migrate,
                    c.blocked,
                    c.already,
                    c.error
                )
            })
            .collect();
        blocks.extend(table_section("By DynamoDB table", header, rows));
    }
    if !buckets.is_empty() {
        let header = "| Bucket | Backends | To migrate | Blocked | Already migrated | Without DynamoDB locking | Errors |\n\
                      | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n";
        let rows: Vec<String> = buckets
            .iter()
            .map(|(cell, c)| {
                format!(
                    "| {cell} | {} | {} | {} | {} | {} | {} |\n",
                    c.backends, c.migrate, c.blocked, c.already, c.none, c.error
                )
            })
            .collect();
        blocks.extend(table_section("By bucket", header, rows));
    }
    blocks
}

fn table_section(title: &str, header: &str, mut rows: Vec<String>) -> Vec<Block> {
    if let Some(last) = rows.last_mut() {
        last.push('\n');
    }
    section(
        format!("### {title}\n\n{header}"),
        format!("### {title} (continued)\n\n{header}"),
        rows,
    )
}

/// One collapsible section per changed file; a diff too large for one part is
/// split over several sections.
fn file_sections(plan: &RepoPlan, max_item: usize) -> Vec<Block> {
    let files: Vec<&FilePlan> = plan.changed_files().collect();
    let heading = format!("### Changed files ({})\n\n", files.len());
    if files.is_empty() {
        return vec![Block {
            text: format!("{heading}No file changes.\n\n"),
            cont: None,
        }];
    }
    let items = files
        .iter()
        .flat_map(|file| file_items(file, max_item))
        .collect();
    section(
        heading,
        "### Changed files (continued)\n\n".to_string(),
        items,
    )
}

fn file_items(file: &FilePlan, max_item: usize) -> Vec<String> {
    let diff = display_diff(&file.path, &file.original, &file.new_text);
    let (added, removed) = line_counts(&diff);
    let changes = added + removed;
    let label = format!(
        "<code>{}</code> ({changes} change{}: +{added} −{removed})",
        html(&file.path),
        if changes == 1 { "" } else { "s" }
    );
    let fence = "`".repeat(longest_run(&diff, '`').max(2) + 1);
    let whole = details(&label, &fence, &diff);
    if whole.len() <= max_item {
        return vec![whole];
    }
    // Too large for one part: split the diff at line ends (or inside a line
    // that alone is too long), each piece in its own closed fence.
    let overhead = details(&format!("{label} — diff part 999999 of 999999"), &fence, "").len();
    let room = max_item.saturating_sub(overhead).max(64);
    let mut chunks: Vec<String> = Vec::new();
    let mut current = String::new();
    for line in diff.split_inclusive('\n') {
        for piece in pieces(line, room) {
            if !current.is_empty() && current.len() + piece.len() > room {
                chunks.push(std::mem::take(&mut current));
            }
            current.push_str(&piece);
        }
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    let m = chunks.len();
    chunks
        .iter()
        .enumerate()
        .map(|(k, chunk)| {
            details(
                &format!("{label} — diff part {} of {m}", k + 1),
                &fence,
                chunk,
            )
        })
        .collect()
}

/// A line cut into pieces of at most `room` bytes, each ending in a newline.
fn pieces(line: &str, room: usize) -> Vec<String> {
    if line.len() <= room {
        return vec![line.to_string()];
    }
    let mut out = Vec::new();
    let mut rest = line;
    while rest.len() > room {
        let mut cut = room - 1;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push(format!("{}\n", &rest[..cut]));
        rest = &rest[cut..];
    }
    if !rest.is_empty() {
        out.push(rest.to_string());
    }
    out
}

fn details(label: &str, fence: &str, diff: &str) -> String {
    let newline = if diff.is_empty() || diff.ends_with('\n') {
        ""
    } else {
        "\n"
    };
    format!(
        "<details><summary>{label}</summary>\n\n{fence}diff\n{diff}{newline}{fence}\n\n</details>\n\n"
    )
}

/// Lines added and removed in a unified diff of one file (its header excluded).
fn line_counts(diff: &str) -> (usize, usize) {
    let (mut added, mut removed) = (0, 0);
    for line in diff.lines().skip(2) {
        if line.starts_with('+') {
            added += 1;
        } else if line.starts_with('-') {
            removed += 1;
        }
    }
    (added, removed)
}

fn blocked_section(plan: &RepoPlan) -> Vec<Block> {
    let blocked: Vec<&BackendPlan> = plan
        .backends
        .iter()
        .filter(|b| b.action == Action::Blocked)
        .collect();
    if blocked.is_empty() {
        return Vec::new();
    }
    let items = blocked
        .iter()
        .map(|b| {
            let mut item = format!("- {}\n", backend_label(b));
            match &b.locks {
                Some(locks) => {
                    for blocker in &locks.blockers {
                        let _ = writeln!(item, "  - **blocked:** {}", text(blocker));
                    }
                    for note in &locks.notes {
                        let _ = writeln!(item, "  - note: {}", text(note));
                    }
                }
                None => item.push_str("  - **blocked:** lock state unknown\n"),
            }
            item
        })
        .collect();
    let mut blocks = section(
        format!(
            "### Blocked ({})\n\nThese backends are not changed: a state lock is held, or could \
             not be verified.\n\n",
            blocked.len()
        ),
        "### Blocked (continued)\n\n".to_string(),
        items,
    );
    if let Some(last) = blocks.last_mut() {
        last.text.push('\n');
    }
    blocks
}

/// `` `path:line` (kind): bucket `b`, key `k`, table `t` ``
fn backend_label(b: &BackendPlan) -> String {
    let mut label = format!(
        "{} ({})",
        code(&format!("{}:{}", b.path, b.backend.line)),
        b.backend.kind.as_str()
    );
    let facts: Vec<String> = [
        ("bucket", "bucket"),
        ("key", "key"),
        ("table", "dynamodb_table"),
    ]
    .iter()
    .filter_map(|(name, key)| {
        b.backend
            .value(key)
            .map(|v| format!("{name} {}", code(&v.display())))
    })
    .collect();
    if !facts.is_empty() {
        label.push_str(": ");
        label.push_str(&facts.join(", "));
    }
    label
}

/// Readers (`terraform_remote_state`) whose config names DynamoDB settings.
fn readers_section(plan: &RepoPlan) -> Vec<Block> {
    let readers = super::readers::json(plan);
    if readers.is_empty() {
        return Vec::new();
    }
    let items = readers
        .iter()
        .map(|r| {
            let what = match r.action {
                "remove-dynamodb-settings" => format!("removes {}", r.dynamodb_settings.join(", ")),
                "check-by-hand" => "config is not an object literal: check it by hand".to_string(),
                _ => format!("keeps {} (dual)", r.dynamodb_settings.join(", ")),
            };
            let producer = match &r.producer {
                Some(p) => format!("producer {}", code(&format!("{}:{}", p.file, p.line))),
                None => "producer not in this repository".to_string(),
            };
            format!(
                "- {} {}: {}; {producer}\n",
                code(&format!("{}:{}", r.file, r.line)),
                code(&r.address),
                text(&what)
            )
        })
        .collect();
    let mut blocks = section(
        format!(
            "### Readers ({})\n\nThese read a state with DynamoDB settings in their config, so \
             Terraform checks its digest item on every read.\n\n",
            readers.len()
        ),
        "### Readers (continued)\n\n".to_string(),
        items,
    );
    if let Some(last) = blocks.last_mut() {
        last.text.push('\n');
    }
    blocks
}

fn error_section(plan: &RepoPlan) -> Vec<Block> {
    if plan.problems.is_empty() {
        return Vec::new();
    }
    let items = plan
        .problems
        .iter()
        .map(|p| {
            format!(
                "- {}: {}\n",
                code(&format!("{}:{}:{}", p.path, p.line, p.column)),
                text(&p.message)
            )
        })
        .collect();
    let mut blocks = section(
        format!(
            "### Errors ({})\n\nThese files could not be planned and are left untouched.\n\n",
            plan.problems.len()
        ),
        "### Errors (continued)\n\n".to_string(),
        items,
    );
    if let Some(last) = blocks.last_mut() {
        last.text.push('\n');
    }
    blocks
}

fn next_steps_section(steps: &[String], max_item: usize) -> Vec<Block> {
    if steps.is_empty() {
        return Vec::new();
    }
    let items = steps
        .iter()
        .flat_map(|step| {
            let item = format!("- {}\n", redact(step.trim_end()).replace('\n', "\n  "));
            split_item(&item, max_item)
        })
        .collect();
    section(
        "### Next steps\n\n".to_string(),
        "### Next steps (continued)\n\n".to_string(),
        items,
    )
}

/// A list item too long for one part, cut between lines and never inside a
/// fenced block (a block of its own goes whole into one piece); each later
/// piece opens with a `- *(continued)*` line so its lines stay in a list item.
fn split_item(item: &str, max_item: usize) -> Vec<String> {
    const CONTINUED: &str = "- *(continued)*\n";
    if item.len() <= max_item {
        return vec![item.to_string()];
    }
    let mut pieces: Vec<String> = Vec::new();
    let mut current = String::new();
    for segment in fenced_segments(item) {
        if !current.is_empty() && current.len() + segment.len() > max_item {
            pieces.push(std::mem::take(&mut current));
            current.push_str(CONTINUED);
        }
        current.push_str(segment);
    }
    if !current.is_empty() {
        pieces.push(current);
    }
    pieces
}

/// `text` as consecutive slices: each line outside a fence, each whole fenced
/// block (opening line to closing line).
fn fenced_segments(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut fence: Option<Fence> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        offset += line.len();
        fence = match fence {
            None => Fence::opening(line),
            Some(open) => (!open.closes(line)).then_some(open),
        };
        if fence.is_none() {
            out.push(&text[start..offset]);
            start = offset;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// An open code fence: its indentation, character and length.
#[derive(Clone, Copy)]
struct Fence {
    indent: usize,
    ch: char,
    len: usize,
}

impl Fence {
    fn run(line: &str) -> Option<(usize, char, usize, &str)> {
        let body = line.trim_start_matches(' ');
        let indent = line.len() - body.len();
        let ch = body.chars().next().filter(|c| *c == '`' || *c == '~')?;
        let len = body.chars().take_while(|c| *c == ch).count();
        (len >= 3).then(|| (indent, ch, len, &body[len..]))
    }

    fn opening(line: &str) -> Option<Fence> {
        let (indent, ch, len, _) = Fence::run(line)?;
        Some(Fence { indent, ch, len })
    }

    fn closes(&self, line: &str) -> bool {
        Fence::run(line).is_some_and(|(_, ch, len, rest)| {
            ch == self.ch && len >= self.len && rest.trim().is_empty()
        })
    }

    fn closing_line(&self) -> String {
        format!(
            "{}{}\n",
            " ".repeat(self.indent),
            self.ch.to_string().repeat(self.len)
        )
    }
}

/// The fence still open at the end of `text`, if any.
fn open_fence(text: &str) -> Option<Fence> {
    let mut fence: Option<Fence> = None;
    for line in text.split_inclusive('\n') {
        fence = match fence {
            None => Fence::opening(line),
            Some(open) => (!open.closes(line)).then_some(open),
        };
    }
    fence
}

/// Cuts a block that cannot be split to `max` bytes, at a line end where it
/// can; a fence left open by the cut is closed before the `…(truncated)` note,
/// so the note is never shown as code and the part stays valid Markdown.
fn truncate(text: &mut String, max: usize) {
    const MORE: &str = "…(truncated)\n\n";
    if text.len() <= max {
        return;
    }
    // Room for the note and for closing the longest fence the text could hold.
    let closing = longest_run(text, '`').max(longest_run(text, '~')) + 8;
    let mut cut = max.saturating_sub(MORE.len() + closing + 1);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    // A line end, unless that would drop most of what fits (one long line).
    if let Some(newline) = text[..cut].rfind('\n').filter(|&n| n >= cut / 2) {
        cut = newline + 1;
    }
    text.truncate(cut);
    if !text.ends_with('\n') {
        text.push('\n');
    }
    if let Some(fence) = open_fence(text) {
        text.push_str(&fence.closing_line());
    }
    text.push_str(MORE);
}

fn longest_run(s: &str, c: char) -> usize {
    let (mut longest, mut run) = (0, 0);
    for ch in s.chars() {
        run = if ch == c { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    longest
}

/// A value on one line, redacted and cut to [`MAX_VALUE_CHARS`].
fn one_line(s: &str) -> String {
    let s = redact(s).replace(['\r', '\n'], " ");
    match s.char_indices().nth(MAX_VALUE_CHARS) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s,
    }
}

/// An inline code span that any content (backticks included) cannot break.
fn code(s: &str) -> String {
    let s = one_line(s);
    if s.is_empty() {
        return "*(empty)*".to_string();
    }
    let ticks = "`".repeat(longest_run(&s, '`') + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{ticks}{pad}{s}{pad}{ticks}")
}

/// A code span inside a table cell, where `|` must be escaped even in code.
fn table_code(s: &str) -> String {
    code(s).replace('|', "\\|")
}

/// Free text (a lock holder, an error message) as plain Markdown: redacted, on one
/// line, with Markdown and HTML syntax escaped and no `@mention` of anyone.
fn text(s: &str) -> String {
    let s = redact(s).replace(['\r', '\n'], " ");
    let mut out = String::with_capacity(s.len());
    let mut prev: Option<char> = None;
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            // GitHub turns `@name` after a non-word character into a mention.
            '@' if !prev.is_some_and(|p| p.is_alphanumeric() || p == '_') => {
                out.push_str("@\u{200b}")
            }
            _ => out.push(c),
        }
        prev = Some(c);
    }
    out
}

fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::{Candidate, FileKind};
    use crate::scan::{FileOutcome, Problem, plan_bytes};
    use crate::verify::BackendLocks;
    use std::path::{Path, PathBuf};

    /// Plans files given as (path, text), as `tflock plan --offline` would.
    fn plan_of(files: &[(&str, &str)]) -> RepoPlan {
        let mut repo = RepoPlan {
            strategy: Some(Strategy::Replace),
            ..RepoPlan::default()
        };
        for (path, text) in files {
            let candidate = Candidate {
                path: PathBuf::from(path),
                display: path.to_string(),
                kind: FileKind::of(Path::new(path)).expect("a configuration file name"),
            };
            match plan_bytes(candidate, text.as_bytes().to_vec(), Strategy::Replace) {
                Some(FileOutcome::Planned(file, backends)) => {
                    repo.backends.extend(backends);
                    repo.files.push(file);
                }
                Some(FileOutcome::Failed(problem, backends)) => {
                    repo.backends.extend(backends);
                    repo.problems.push(problem);
                }
                None => {}
            }
        }
        repo
    }

    fn backend_tf(bucket: &str, key: &str, table: &str) -> String {
        format!(
            "terraform {{\n  backend \"s3\" {{\n    bucket         = \"{bucket}\"\n    key            = \"{key}\"\n    region         = \"eu-west-1\"\n    dynamodb_table = \"{table}\"\n  }}\n}}\n"
        )
    }

    fn small_plan() -> RepoPlan {
        let prod = "terraform {\n  backend \"s3\" {\n    bucket         = \"acme-tfstate\"\n    key            = \"envs/prod/terraform.tfstate\" # one state per environment\n    dynamodb_table = \"acme-tf-locks\"               # the lock table to retire\n    region         = \"eu-west-1\"\n  }\n}\n";
        let staging = "bucket         = \"acme-tfstate\"\nkey            = \"envs/staging/terraform.tfstate\"\nregion         = \"eu-west-1\"\ndynamodb_table = \"acme-tf-locks\"\n";
        let done = "terraform {\n  backend \"s3\" {\n    bucket       = \"acme-tfstate\"\n    key          = \"envs/dev/terraform.tfstate\"\n    use_lockfile = true\n  }\n}\n";
        let partial = "terraform {\n  backend \"s3\" {}\n}\n";
        let other = backend_tf("other-state", "svc/terraform.tfstate", "other-locks");
        let broken = "terraform {\n  backend \"s3\" {\n    bucket = \n";
        let mut plan = plan_of(&[
            ("broken/main.tf", broken),
            ("envs/dev/backend.tf", done),
            ("envs/prod/backend.tf", prod),
            ("envs/staging/backend.tf", partial),
            ("envs/staging/staging.tfbackend", staging),
            ("svc/backend.tf", &other),
        ]);
        let svc = plan
            .backends
            .iter()
            .position(|b| b.path == "svc/backend.tf")
            .unwrap();
        let clean = |i: usize| {
            (
                i,
                BackendLocks {
                    states: Vec::new(),
                    blockers: Vec::new(),
                    notes: Vec::new(),
                    probe: None,
                },
            )
        };
        let mut found: Vec<_> = (0..plan.backends.len())
            .filter(|&i| i != svc)
            .map(clean)
            .collect();
        found.push((
            svc,
            BackendLocks {
                states: Vec::new(),
                blockers: vec![
                    "state svc/terraform.tfstate (workspace default): DynamoDB lock held by @bob <ci> since 2026-11-27T15:30:25Z for OperationTypeApply, lock ID 1234".into(),
                ],
                notes: vec!["key is a literal".into()],
                probe: None,
            },
        ));
        crate::plan::record_locks(&mut plan, found);
        plan
    }

    #[test]
    fn small_report_snapshot() {
        let parts = render(
            &small_plan(),
            &["Run `terraform init -reconfigure` in: envs/prod, envs/staging".to_string()],
        );
        assert_eq!(parts.len(), 1);
        insta::assert_snapshot!(parts[0]);
    }

    #[test]
    fn starts_with_the_marker_and_counts() {
        let plan = small_plan();
        let parts = render(&plan, &[]);
        let report = &parts[0];
        assert!(report.starts_with("<!-- tflock-report -->\n<!-- tflock-report part 1/1 -->\n"));
        for row in [
            "| Found | 5 |",
            "| To migrate | 2 |",
            "| Already migrated | 1 |",
            "| Without DynamoDB locking | 1 |",
            "| Blocked | 1 |",
            "| Errors | 1 |",
            "| Files to change | 2 |",
            "| `acme-tf-locks` | 2 | 2 | 0 | 0 | 0 |",
            "| `other-locks` | 1 | 0 | 1 | 0 | 0 |",
            "| `acme-tfstate` | 3 | 2 | 0 | 1 | 0 | 0 |",
            "| *(not set here)* | 1 | 0 | 0 | 0 | 1 | 0 |",
        ] {
            assert!(report.contains(row), "missing {row:?} in\n{report}");
        }
        // The blocked file is not shown as a change; its holder is, without a mention.
        assert!(!report.contains("<code>svc/backend.tf</code>"));
        assert!(report.contains("held by @\u{200b}bob &lt;ci&gt;"));
        assert!(report.contains("<code>envs/prod/backend.tf</code> (8 changes: +4 −4)"));
        assert!(report.contains("`broken/main.tf:"));
    }

    #[test]
    fn offline_plan_says_locks_were_not_checked() {
        let plan = plan_of(&[("a/backend.tf", &backend_tf("b", "k", "t"))]);
        let report = render(&plan, &[]).remove(0);
        assert!(report.contains("Lock checks: not run"));
        assert!(report.contains("Locks were not checked"));
    }

    #[test]
    fn secrets_never_appear() {
        let text = "terraform {\n  backend \"s3\" {\n    bucket         = \"b\"\n    secret_key     = \"SUPERSECRETVALUE\"\n    dynamodb_table = \"t\"\n    access_key     = \"AKIAEXAMPLEKEY\"\n    key            = \"k\"\n  }\n}\n";
        let json = r#"{"terraform": {"backend": {"s3": {"bucket": "b", "token": "JSONTOKENVALUE", "dynamodb_table": "t", "key": "k"}}}}"#;
        let plan = plan_of(&[("a/backend.tf", text), ("b/backend.tf.json", json)]);
        assert_eq!(plan.changed_files().count(), 2);
        let report = render(&plan, &["check secret_key = \"STEPSECRET\"".into()]).join("");
        assert!(report.contains("(sensitive value)"));
        for secret in [
            "SUPERSECRETVALUE",
            "AKIAEXAMPLEKEY",
            "JSONTOKENVALUE",
            "STEPSECRET",
        ] {
            assert!(!report.contains(secret), "{secret} leaked:\n{report}");
        }
    }

    #[test]
    fn a_diff_with_backticks_cannot_break_its_fence() {
        let original = "# ```\n# ````\nterraform {\n  backend \"s3\" {\n    bucket         = \"b\"\n    key            = \"k\"\n    dynamodb_table = \"t\"\n  }\n}\n";
        let plan = plan_of(&[("a/backend.tf", original)]);
        let report = render(&plan, &[]).remove(0);
        assert!(report.contains("\n`````diff\n"), "{report}");
        assert!(report.contains("\n`````\n\n</details>"));
    }

    #[test]
    fn a_large_plan_splits_into_numbered_parts_on_file_boundaries() {
        let texts: Vec<(String, String)> = (0..300)
            .map(|i| {
                (
                    format!("modules/service-{i:03}/backend.tf"),
                    backend_tf(
                        "acme-tfstate",
                        &format!("services/service-{i:03}/terraform.tfstate"),
                        "acme-tf-locks",
                    ),
                )
            })
            .collect();
        let files: Vec<(&str, &str)> = texts
            .iter()
            .map(|(p, t)| (p.as_str(), t.as_str()))
            .collect();
        let plan = plan_of(&files);
        assert_eq!(plan.changed_files().count(), 300);
        let parts = render(&plan, &["next".into()]);
        let n = parts.len();
        assert!(n >= 3, "{n} parts");
        for (i, part) in parts.iter().enumerate() {
            assert!(
                part.len() <= MAX_PART_BYTES,
                "part {} is {} bytes",
                i + 1,
                part.len()
            );
            let header = format!("{MARKER}\n<!-- tflock-report part {}/{n} -->\n", i + 1);
            assert!(part.starts_with(&header), "part {}", i + 1);
            // Every section that opens in a part closes in it.
            assert_eq!(
                part.matches("<details>").count(),
                part.matches("</details>").count()
            );
            if i > 0 {
                assert!(part.contains("### Changed files (continued)"));
            }
        }
        let all = parts.concat();
        assert_eq!(all.matches("<details>").count(), 300);
        assert_eq!(all.matches("| Found | 300 |").count(), 1);
        assert!(parts[n - 1].contains("### Next steps\n\n- next"));
        for i in 0..300 {
            assert_eq!(
                all.matches(&format!("<code>modules/service-{i:03}/backend.tf</code>"))
                    .count(),
                1
            );
        }
    }

    #[test]
    fn one_huge_diff_is_split_with_closed_fences() {
        let original: String = (0..3000)
            .map(|i| format!("line {i} ``` {}\n", "x".repeat(40)))
            .collect::<String>()
            + &format!("{}\n", "y".repeat(100_000));
        let new_text = original.replace("line", "LINE");
        let plan = RepoPlan {
            files: vec![FilePlan {
                path: "big.tf.json".into(),
                fs_path: PathBuf::from("big.tf.json"),
                original: original.clone(),
                sha256: String::new(),
                edits: Vec::new(),
                extra_edits: Vec::new(),
                new_text,
                readers: Vec::new(),
            }],
            problems: vec![Problem {
                path: "bad.tf".into(),
                line: 1,
                column: 2,
                message: "syntax error near `secret_key = \"ERRSECRET\"` <x>".into(),
            }],
            ..RepoPlan::default()
        };
        let parts = render(&plan, &[]);
        let n = parts.len();
        assert!(n >= 5, "{n}");
        let mut pieces = 0;
        for (i, part) in parts.iter().enumerate() {
            assert!(part.len() <= MAX_PART_BYTES);
            assert!(part.starts_with(&format!(
                "{MARKER}\n<!-- tflock-report part {}/{n} -->\n",
                i + 1
            )));
            let opens = part.matches("\n````diff\n").count();
            assert_eq!(opens, part.matches("\n````\n\n</details>").count());
            pieces += opens;
        }
        assert!(pieces >= 5);
        let all = parts.concat();
        assert!(all.contains(&format!("— diff part 1 of {pieces}</summary>")));
        assert!(all.contains(&format!("— diff part {pieces} of {pieces}</summary>")));
        assert!(!all.contains("ERRSECRET"));
        assert!(all.contains("`bad.tf:1:2`: syntax error near \\`secret\\_key"));
        // Every line of the diff is there, in order.
        let diff = display_diff("big.tf.json", &original, &plan.files[0].new_text);
        let shown: String = all
            .split("````diff\n")
            .skip(1)
            .map(|s| s.split("````\n").next().unwrap())
            .collect();
        assert_eq!(shown.replace('\n', ""), diff.replace('\n', ""));
    }

    #[test]
    fn small_limits_still_hold() {
        let texts: Vec<(String, String)> = (0..120)
            .map(|i| {
                (
                    format!("m{i}/backend.tf"),
                    backend_tf(&format!("bucket-{i}"), "k", &format!("table-{i}")),
                )
            })
            .collect();
        let files: Vec<(&str, &str)> = texts
            .iter()
            .map(|(p, t)| (p.as_str(), t.as_str()))
            .collect();
        let plan = plan_of(&files);
        // Every limit holds, whatever falls on a part boundary.
        for limit in (2300..9000).step_by(97) {
            for part in render_limited(&plan, &["step".into()], limit) {
                assert!(part.len() <= limit, "{} > {limit}", part.len());
                assert_eq!(
                    part.matches("<details>").count(),
                    part.matches("</details>").count()
                );
                assert_eq!(
                    part.matches("```diff\n").count(),
                    part.matches("```\n").count()
                );
            }
        }
        let parts = render_limited(&plan, &[], 4096);
        assert!(parts.len() > 3);
        for part in &parts {
            assert!(part.len() <= 4096, "{}", part.len());
        }
        let all = parts.concat();
        assert!(all.contains("### By bucket (continued)"));
        assert_eq!(all.matches("| `bucket-").count(), 120);
    }

    /// Every fence that opens in `part` closes in it, and no `(truncated)` note
    /// sits inside one.
    fn assert_fences_closed(part: &str) {
        let mut fence: Option<Fence> = None;
        for line in part.split_inclusive('\n') {
            fence = match fence {
                None => Fence::opening(line),
                Some(open) => {
                    assert!(
                        !line.contains("(truncated)"),
                        "note inside a fence:\n{part}"
                    );
                    (!open.closes(line)).then_some(open)
                }
            };
        }
        assert!(fence.is_none(), "a fence is left open:\n{part}");
    }

    #[test]
    fn a_long_next_step_splits_between_its_fences() {
        let statement = |i: usize| {
            format!(
                "```json\n{{\n  \"Resource\": [\n{}  ]\n}}\n```",
                format!("    \"arn:aws:s3:::bucket-{i}/k.tflock\",\n").repeat(40)
            )
        };
        let step = format!(
            "Grant:\n{}",
            (0..12).map(statement).collect::<Vec<_>>().join("\n")
        );
        let plan = plan_of(&[("a/backend.tf", &backend_tf("b", "k", "t"))]);
        let parts = render_limited(&plan, &[step, "after".into()], 6000);
        assert!(parts.len() > 2, "{}", parts.len());
        for part in &parts {
            assert!(part.len() <= 6000);
            assert_fences_closed(part);
        }
        let all = parts.concat();
        assert!(!all.contains("(truncated)"));
        // Each statement is whole: 12 fences of 40 ARNs each.
        assert_eq!(all.matches("```json\n").count(), 12);
        for i in 0..12 {
            assert_eq!(
                all.matches(&format!("bucket-{i}/")).count(),
                40,
                "bucket-{i}"
            );
        }
        assert!(all.contains("- *(continued)*\n  ```json"));
        assert!(all.contains("- after\n"));
    }

    #[test]
    fn a_fence_too_long_for_a_part_is_closed_before_the_truncation_note() {
        let step = format!(
            "Grant:\n```json\n{}```",
            "\"arn:aws:s3:::b/k.tflock\",\n".repeat(500)
        );
        let plan = plan_of(&[("a/backend.tf", &backend_tf("b", "k", "t"))]);
        let parts = render_limited(&plan, &[step], 4096);
        for part in &parts {
            assert!(part.len() <= 4096, "{}", part.len());
            assert_fences_closed(part);
        }
        let all = parts.concat();
        assert!(all.contains("  ```\n…(truncated)"), "{all}");
    }

    #[test]
    fn truncation_closes_the_fence_it_cuts() {
        for max in [60, 61, 75, 90, 200] {
            let mut text = format!("- x\n  ````json\n{}  ````\n", "  1234567890\n".repeat(30));
            truncate(&mut text, max);
            assert!(text.len() <= max, "{max}: {}", text.len());
            assert_fences_closed(&text);
            assert!(text.ends_with("…(truncated)\n\n"), "{text}");
        }
    }
}
