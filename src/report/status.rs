//! `tflock status` for a terminal (aligned tables) and as JSON. Rendering only:
//! the verdicts are `status`'s, computed before.

use crate::model::status::{Phase, Status};
use std::fmt::Write;

/// A phase as the tables name it.
pub(crate) fn phase_label(phase: Phase) -> &'static str {
    match phase {
        Phase::Dynamodb => "dynamodb",
        Phase::Dual => "dual",
        Phase::Lockfile => "lockfile",
        Phase::None => "-",
    }
}

/// The status as tables for a terminal, then the tripwire section.
pub fn text(status: &Status) -> String {
    let mut out = String::new();
    let mut rows = vec![["PHASE".to_string(), "BACKEND".into(), "TABLE".into()]];
    for b in &status.backends {
        rows.push([
            phase_label(b.phase).into(),
            format!("{}:{} ({})", b.file, b.line, b.kind),
            b.table.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    table(&mut out, &rows);
    out.push('\n');
    let mut rows = vec![[
        "LOCK TABLE".to_string(),
        "REGION".into(),
        "REFERENCED BY".into(),
        "ACTIVE LOCKS".into(),
        "DIGEST ITEMS".into(),
        "VERDICT".into(),
    ]];
    let count = |n: Option<usize>| n.map_or("?".to_string(), |n| n.to_string());
    for t in &status.tables {
        let refs = match t.referenced_by.as_slice() {
            [] => "-".to_string(),
            [one] => one.clone(),
            [first, rest @ ..] => format!("{first} (+{} more)", rest.len()),
        };
        rows.push([
            t.table.clone(),
            t.region.clone(),
            refs,
            count(t.active_locks),
            count(t.digest_items),
            t.verdict.clone(),
        ]);
    }
    if status.tables.is_empty() {
        out.push_str("No DynamoDB lock tables found.\n");
    } else {
        table(&mut out, &rows);
    }
    for t in status.tables.iter().filter(|t| t.outside_states > Some(0)) {
        let n = t.outside_states.unwrap_or(0);
        let _ = writeln!(
            out,
            "\n{} ({}): items of {n} {} outside this scan, e.g. {}{}",
            t.table,
            t.region,
            if n == 1 { "state" } else { "states" },
            t.outside_examples.join(", "),
            if n > t.outside_examples.len() {
                ", ..."
            } else {
                ""
            }
        );
    }
    let _ = writeln!(
        out,
        "\nA table is safe to retire when no scanned configuration names it, it holds no lock, and \
         every item in it belongs to a scanned state on lockfiles; tflock never deletes one."
    );
    out.push_str(&super::digests::text(&status.digests));
    out
}

fn table<const N: usize>(out: &mut String, rows: &[[String; N]]) {
    let mut widths = [0usize; N];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
}

/// The status as JSON, format_version "1".
pub fn json(status: &Status) -> String {
    let doc = serde_json::json!({
        "format_version": "1",
        "backends": status.backends,
        "tables": status.tables,
        "digests": status.digests,
    });
    let mut out = serde_json::to_string_pretty(&doc).unwrap_or_default();
    out.push('\n');
    out
}
