//! `tflock status`: where each backend stands in the phased rollout, and for
//! each DynamoDB lock table whether anything still needs it. Pure assembly of
//! facts gathered by `scan` and `verify::tables`; it never deletes anything.

use crate::parse::{Backend, Value};
use crate::scan::RepoPlan;
use crate::verify::ClientSettings;
use crate::verify::tables::TableResult;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// The locking a backend configuration asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// DynamoDB only.
    Dynamodb,
    /// Both: the bake period.
    Dual,
    /// S3 lockfile only: migrated.
    Lockfile,
    /// Neither is set here (e.g. a partial `backend "s3" {}`).
    None,
}

pub fn phase_of(backend: &Backend) -> Phase {
    let table = backend.value("dynamodb_table").is_some();
    let lockfile = backend.value("use_lockfile").is_some_and(Value::is_true);
    match (table, lockfile) {
        (true, true) => Phase::Dual,
        (true, false) => Phase::Dynamodb,
        (false, true) => Phase::Lockfile,
        (false, false) => Phase::None,
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct BackendStatus {
    pub file: String,
    pub line: usize,
    pub kind: &'static str,
    pub phase: Phase,
    pub table: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TableStatus {
    pub table: String,
    pub region: String,
    /// Why it is listed: named by a config, by a rollback file, or found in the account.
    pub sources: Vec<&'static str>,
    /// Configurations in the scanned tree that still name it (`file:line`).
    pub referenced_by: Vec<String>,
    pub active_locks: Option<usize>,
    pub digest_items: Option<usize>,
    /// `safe to retire`, `in use`, `locks held`, or `unknown: why`.
    pub verdict: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub backends: Vec<BackendStatus>,
    pub tables: Vec<TableStatus>,
    /// The tripwire: digest items of lockfile-only states (see `tripwire`).
    pub digests: Vec<crate::tripwire::DigestCheck>,
}

/// A table as tflock met it: its client, and why it is considered.
#[derive(Debug, Clone)]
pub struct TableSource {
    pub client: ClientSettings,
    pub table: String,
    pub source: &'static str,
}

/// The region a client talks to, for people (`AWS_REGION` when not set).
pub fn region_of(client: &ClientSettings) -> String {
    client
        .region
        .clone()
        .or_else(|| std::env::var("AWS_REGION").ok())
        .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
        .unwrap_or_else(|| "(default)".into())
}

/// Tables named by the scanned configurations.
pub fn configured_tables(repo: &RepoPlan) -> Vec<TableSource> {
    repo.backends
        .iter()
        .filter_map(|b| match b.backend.value("dynamodb_table") {
            Some(Value::String(table)) => Some(TableSource {
                client: ClientSettings::from_backend(&b.backend),
                table: table.clone(),
                source: "config",
            }),
            _ => None,
        })
        .collect()
}

/// Joins the facts into a status; `sources` may name a table several times.
pub fn assemble(repo: &RepoPlan, sources: &[TableSource], summaries: &[TableResult]) -> Status {
    let backends = repo
        .backends
        .iter()
        .map(|b| BackendStatus {
            file: b.path.clone(),
            line: b.backend.line,
            kind: b.backend.kind.as_str(),
            phase: phase_of(&b.backend),
            table: b.backend.value("dynamodb_table").map(Value::display),
        })
        .collect();
    let mut tables: BTreeMap<(String, String), TableStatus> = BTreeMap::new();
    for s in sources {
        let key = (region_of(&s.client), s.table.clone());
        let entry = tables.entry(key.clone()).or_insert_with(|| TableStatus {
            table: s.table.clone(),
            region: key.0.clone(),
            sources: Vec::new(),
            referenced_by: Vec::new(),
            active_locks: None,
            digest_items: None,
            verdict: String::new(),
        });
        if !entry.sources.contains(&s.source) {
            entry.sources.push(s.source);
        }
    }
    for b in &repo.backends {
        if let Some(Value::String(table)) = b.backend.value("dynamodb_table") {
            let key = (
                region_of(&ClientSettings::from_backend(&b.backend)),
                table.clone(),
            );
            if let Some(t) = tables.get_mut(&key) {
                t.referenced_by
                    .push(format!("{}:{}", b.path, b.backend.line));
            }
        }
    }
    for ((client, table), summary) in summaries {
        let Some(t) = tables.get_mut(&(region_of(client), table.clone())) else {
            continue;
        };
        match summary {
            Ok(s) => {
                t.active_locks = Some(s.active_locks);
                t.digest_items = Some(s.digest_items);
            }
            Err(e) => t.verdict = format!("unknown: {e}"),
        }
    }
    for t in tables.values_mut() {
        if !t.verdict.is_empty() {
            continue;
        }
        t.verdict = if !t.referenced_by.is_empty() {
            "in use".into()
        } else if t.active_locks.unwrap_or(0) > 0 {
            "locks held".into()
        } else {
            "safe to retire".into()
        };
    }
    Status {
        backends,
        tables: tables.into_values().collect(),
        digests: Vec::new(),
    }
}

pub fn render_text(status: &Status) -> String {
    let mut out = String::new();
    let phase = |p: Phase| match p {
        Phase::Dynamodb => "dynamodb",
        Phase::Dual => "dual",
        Phase::Lockfile => "lockfile",
        Phase::None => "-",
    };
    let mut rows = vec![["PHASE".to_string(), "BACKEND".into(), "TABLE".into()]];
    for b in &status.backends {
        rows.push([
            phase(b.phase).into(),
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
    let _ = writeln!(
        out,
        "\nA table is safe to retire when no scanned configuration names it and it holds no lock; \
         tflock never deletes one."
    );
    out.push_str(&crate::tripwire::render_text(&status.digests));
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

pub fn render_json(status: &Status) -> String {
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
