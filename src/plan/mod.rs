//! Plan stage: a pure function from parsed backends and a strategy to byte edits.
//!
//! No I/O happens here. The strategy decides *what* changes (a list of [`Op`]s on
//! a settings body); the syntax modules decide *how* it is spelled in the bytes.

mod align;
pub mod edit;
mod hcl;
mod json;
pub mod readers;

pub use edit::{Edit, SpliceError, splice};

use crate::parse::{Backend, Body, Setting, Syntax, Value};
use crate::source::Source;
use serde::{Deserialize, Serialize};

/// How to move a backend off DynamoDB locking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Remove the DynamoDB settings and lock with S3 lockfiles only.
    Replace,
    /// Add `use_lockfile = true` next to DynamoDB: Terraform takes both locks.
    Dual,
}

/// What the plan does to one backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Migrate,
    AlreadyMigrated,
    None,
    Error,
    /// A migration was planned, but a state's lock is held or could not be verified.
    Blocked,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Migrate => "migrate",
            Action::AlreadyMigrated => "already-migrated",
            Action::None => "none",
            Action::Error => "error",
            Action::Blocked => "blocked",
        }
    }
}

pub const LOCKFILE_KEY: &str = "use_lockfile";
pub const TABLE_KEY: &str = "dynamodb_table";

/// One change to a settings body, independent of syntax.
#[derive(Debug, Clone, Copy)]
pub enum Op<'a> {
    /// Remove the setting entirely.
    Delete(&'a Setting),
    /// Put `use_lockfile = true` where this setting stood.
    ReplaceWithLockfile(&'a Setting),
    /// Add `use_lockfile = true` right after this setting.
    InsertLockfileAfter(&'a Setting),
    /// Make an existing `use_lockfile` literally `true`.
    SetTrue(&'a Setting),
    /// Replace a setting's value with this source text (e.g. a bumped constraint).
    SetValue(&'a Setting, &'a str),
}

/// The ops for one body, with the body they apply to.
pub struct BodyOps<'a> {
    pub body: &'a Body,
    pub ops: Vec<Op<'a>>,
}

/// Decides what a strategy changes in one backend, without touching bytes.
pub fn decide(backend: &Backend, strategy: Strategy) -> (Action, Vec<BodyOps<'_>>) {
    let body = &backend.body;
    let table = body.get(TABLE_KEY);
    let lockfile = body.get(LOCKFILE_KEY);
    let lockfile_true = lockfile.is_some_and(|s| s.value.is_true());
    // `dynamodb_table = ""` is Terraform's way of saying no DynamoDB locking:
    // nothing to migrate, and nothing to add that the user did not ask for.
    if table.is_some_and(|t| matches!(&t.value, Value::String(name) if name.is_empty())) {
        return (settled(lockfile_true), Vec::new());
    }
    let endpoint = body.get("dynamodb_endpoint");
    let endpoints = body.get("endpoints");
    let endpoints_dynamodb = endpoints
        .and_then(|e| e.object.as_ref())
        .and_then(|o| o.get("dynamodb").map(|d| (o, d)));

    let mut ops = Vec::new();
    let mut nested = Vec::new();
    match strategy {
        Strategy::Replace => {
            if table.is_none() && endpoint.is_none() && endpoints_dynamodb.is_none() {
                return (settled(lockfile_true), Vec::new());
            }
            // `use_lockfile = true` goes where the first DynamoDB setting stood:
            // the table, else the endpoint, else the `endpoints` object.
            let endpoints_whole = endpoints_dynamodb.filter(|(o, _)| o.settings.len() == 1);
            let mut lockfile_placed = lockfile.is_some();
            if let Some(l) = lockfile.filter(|_| !lockfile_true) {
                ops.push(Op::SetTrue(l));
            }
            for setting in [table, endpoint].into_iter().flatten() {
                if lockfile_placed {
                    ops.push(Op::Delete(setting));
                } else {
                    ops.push(Op::ReplaceWithLockfile(setting));
                    lockfile_placed = true;
                }
            }
            if let (Some(e), Some((object, dynamodb))) = (endpoints, endpoints_dynamodb) {
                // A multi-line `endpoints = {...}` cannot become a one-line row in
                // place, so the lockfile follows the setting before it, or else
                // the one after it (so it joins an alignment group as a row).
                let kept = |s: &&Setting| {
                    !table.is_some_and(|t| std::ptr::eq(*s, t))
                        && !endpoint.is_some_and(|t| std::ptr::eq(*s, t))
                        && !std::ptr::eq(*s, e)
                };
                let position = body
                    .settings
                    .iter()
                    .position(|s| std::ptr::eq(s, e))
                    .unwrap_or(0);
                let before = body.settings[..position].iter().rev().find(kept);
                let after = body.settings[position..].iter().find(kept);
                let before = before.or(after);
                match (endpoints_whole.is_some(), lockfile_placed, before) {
                    (true, true, _) => ops.push(Op::Delete(e)),
                    (true, false, Some(before)) => {
                        ops.push(Op::Delete(e));
                        ops.push(Op::InsertLockfileAfter(before));
                    }
                    (true, false, None) => ops.push(Op::ReplaceWithLockfile(e)),
                    (false, placed, _) => {
                        if !placed {
                            ops.push(Op::InsertLockfileAfter(e));
                        }
                        nested.push(BodyOps {
                            body: object,
                            ops: vec![Op::Delete(dynamodb)],
                        });
                    }
                }
            }
        }
        Strategy::Dual => {
            let Some(t) = table else {
                return (settled(lockfile_true), Vec::new());
            };
            match lockfile {
                None => ops.push(Op::InsertLockfileAfter(t)),
                Some(l) if !lockfile_true => ops.push(Op::SetTrue(l)),
                Some(_) => return (Action::AlreadyMigrated, Vec::new()),
            }
        }
    }
    let mut all = vec![BodyOps { body, ops }];
    all.extend(nested);
    (Action::Migrate, all)
}

fn settled(lockfile_true: bool) -> Action {
    if lockfile_true {
        Action::AlreadyMigrated
    } else {
        Action::None
    }
}

/// Why a decided change cannot be written in this file's syntax.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PlanError {
    pub offset: usize,
    pub message: String,
}

/// The edits for ops on any settings body (not only a backend's).
pub fn render_ops(source: &Source, body_ops: &BodyOps) -> Result<Vec<Edit>, PlanError> {
    match body_ops.body.syntax {
        Syntax::HclBody | Syntax::HclObject => hcl::render(source, body_ops, &[]),
        Syntax::Json => json::render(source, body_ops),
    }
}

/// The edits for one backend under a strategy.
pub fn plan_backend(
    source: &Source,
    backend: &Backend,
    strategy: Strategy,
) -> Result<(Action, Vec<Edit>), PlanError> {
    let (action, bodies) = decide(backend, strategy);
    let mut edits = Vec::new();
    // Nested objects first: the outer body's alignment sees their width changes.
    for body_ops in bodies.iter().rev() {
        // A body without ops of its own still re-aligns around nested edits.
        if body_ops.ops.is_empty() && edits.is_empty() {
            continue;
        }
        let body_edits = match body_ops.body.syntax {
            Syntax::HclBody | Syntax::HclObject => hcl::render(source, body_ops, &edits)?,
            Syntax::Json => json::render(source, body_ops)?,
        };
        edits.extend(body_edits);
    }
    Ok((action, edits))
}

#[cfg(test)]
mod tests;
