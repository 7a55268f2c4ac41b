//! `tflock locks`: every state of every backend with its locks, as a table or JSON.

use super::Style;
use crate::scan::RepoPlan;
use crate::verify::{Digest, LockStatus, StateLocks};
use serde::Serialize;
use std::fmt::Write;
use std::time::SystemTime;

/// A short cell: the full story is in the lines under the table.
fn status_text(status: &LockStatus, now: SystemTime) -> String {
    match status {
        LockStatus::Free => "free".into(),
        LockStatus::Held { lock } => {
            let who = if lock.who.is_empty() {
                "unknown"
            } else {
                &lock.who
            };
            match lock.age(now) {
                Some(age) => format!(
                    "HELD by {who} ({} ago)",
                    crate::verify::lockinfo::short_duration(age)
                ),
                None => format!("HELD by {who}"),
            }
        }
        LockStatus::Unverified { .. } => "UNVERIFIED".into(),
    }
}

fn digest_text(d: Digest) -> &'static str {
    match d {
        Digest::Present => "present",
        Digest::Absent => "absent",
        Digest::Unknown => "unknown",
    }
}

/// A table with one row per state, then each backend's blockers and notes.
pub fn text(repo: &RepoPlan, style: Style, requests: usize) -> String {
    let now = SystemTime::now();
    let mut rows = vec![[
        "FILE".to_string(),
        "WORKSPACE".into(),
        "STATE KEY".into(),
        "TABLE".into(),
        "DYNAMODB LOCK".into(),
        "LOCKFILE".into(),
        "DIGEST".into(),
    ]];
    let (mut held, mut unverified) = (0, 0);
    for b in &repo.backends {
        let Some(locks) = &b.locks else { continue };
        for s in &locks.states {
            for status in [&s.dynamodb, &s.lockfile] {
                match status {
                    LockStatus::Held { .. } => held += 1,
                    LockStatus::Unverified { .. } => unverified += 1,
                    LockStatus::Free => {}
                }
            }
            rows.push([
                format!("{}:{}", b.path, b.backend.line),
                s.workspace.clone(),
                s.state_key.clone(),
                s.table.clone().unwrap_or_else(|| "-".into()),
                status_text(&s.dynamodb, now),
                status_text(&s.lockfile, now),
                digest_text(s.digest).into(),
            ]);
        }
    }
    let mut widths = [0usize; 7];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        let line = line.join("  ").trim_end().to_string();
        let _ = writeln!(out, "{}", if i == 0 { style.bold(&line) } else { line });
    }
    for b in &repo.backends {
        let Some(locks) = &b.locks else { continue };
        for blocker in &locks.blockers {
            let _ = writeln!(
                out,
                "{}:{}: {} {blocker}",
                b.path,
                b.backend.line,
                style.red("!")
            );
        }
        for note in &locks.notes {
            let _ = writeln!(out, "{}:{}: note: {note}", b.path, b.backend.line);
        }
    }
    let states = rows.len() - 1;
    let _ = writeln!(
        out,
        "\n{states} {}: {held} {} held, {unverified} unverified ({requests} AWS requests).",
        if states == 1 { "state" } else { "states" },
        if held == 1 { "lock" } else { "locks" },
    );
    out
}

#[derive(Serialize)]
struct JsonState<'a> {
    file: &'a str,
    line: usize,
    #[serde(flatten)]
    state: &'a StateLocks,
}

#[derive(Serialize)]
struct JsonBackend<'a> {
    file: &'a str,
    line: usize,
    blockers: &'a [String],
    notes: &'a [String],
}

/// `{"format_version": "1", "states": [...], "backends": [...], "summary": {...}}`
pub fn json(repo: &RepoPlan, requests: usize) -> String {
    let mut states = Vec::new();
    let mut backends = Vec::new();
    for b in &repo.backends {
        let Some(locks) = &b.locks else { continue };
        for s in &locks.states {
            states.push(JsonState {
                file: &b.path,
                line: b.backend.line,
                state: s,
            });
        }
        backends.push(JsonBackend {
            file: &b.path,
            line: b.backend.line,
            blockers: &locks.blockers,
            notes: &locks.notes,
        });
    }
    let count = |pred: &dyn Fn(&LockStatus) -> bool| {
        states
            .iter()
            .map(|s| {
                [&s.state.dynamodb, &s.state.lockfile]
                    .into_iter()
                    .filter(|x| pred(x))
                    .count()
            })
            .sum::<usize>()
    };
    let doc = serde_json::json!({
        "format_version": "1",
        "states": states,
        "backends": backends,
        "errors": repo.problems,
        "summary": {
            "states": states.len(),
            "held": count(&|s| matches!(s, LockStatus::Held { .. })),
            "unverified": count(&|s| matches!(s, LockStatus::Unverified { .. })),
            "aws_requests": requests,
        },
    });
    let mut out = serde_json::to_string_pretty(&doc).unwrap_or_default();
    out.push('\n');
    out
}
