//! Plan stage: a pure function from parsed backends and a strategy to byte edits.
//!
//! No I/O happens here. The strategy decides *what* changes (a list of [`Op`]s on
//! a settings body); the syntax modules decide *how* it is spelled in the bytes.

mod align;
pub(crate) mod edit;
mod hcl;
mod json;
pub(crate) mod modernize;
pub(crate) mod readers;
mod rebuild;

pub use crate::model::plan::{Action, Strategy};
pub use edit::{Edit, SpliceError, splice};
pub use rebuild::{rebuild_files, record_locks};

use crate::parse::{Backend, BackendKind, Body, Setting, Syntax, Value};
use crate::source::Source;

pub const LOCKFILE_KEY: &str = "use_lockfile";
pub const TABLE_KEY: &str = "dynamodb_table";
/// Terragrunt's legacy alias of `dynamodb_table` (Terragrunt renames it before
/// passing it on, so it locks exactly like `dynamodb_table`).
pub const LOCK_TABLE_KEY: &str = "lock_table";
/// Keys of a Terragrunt `remote_state` config that only configure the lock
/// table Terragrunt bootstraps; Terragrunt never passes them to the backend.
pub const TERRAGRUNT_LOCK_TABLE_KEYS: [&str; 2] =
    ["dynamodb_table_tags", "enable_lock_table_ssencryption"];

/// What the planner is asked to do beyond the strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanOptions {
    pub strategy: Strategy,
    /// Also rewrite the attributes Terraform 1.10 removed or 1.11 deprecated
    /// (`--modernize`).
    pub modernize: bool,
}

/// One change to a settings body, independent of syntax.
#[derive(Debug, Clone)]
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
    /// Give a setting a new key and a new value (source text in the body's
    /// syntax), with a multi-line spelling (`{`, one `key = value` a line,
    /// `}`, relative indent) for HCL to use where the setting has a line of
    /// its own.
    Rewrite(&'a Setting, &'static str, String, Option<String>),
    /// Add `key = value` (a one-line value in the body's syntax) after a setting.
    InsertAfter(&'a Setting, &'static str, String),
}

/// The ops for one body, with the body they apply to.
pub struct BodyOps<'a> {
    pub body: &'a Body,
    pub ops: Vec<Op<'a>>,
}

/// Decides what a strategy changes in one backend, without touching bytes.
pub fn decide(backend: &Backend, strategy: Strategy) -> (Action, Vec<BodyOps<'_>>) {
    decide_avoiding(backend, strategy, &[])
}

/// Like [`decide`]; `vanishing` are settings another change removes (they are
/// never chosen as the place to put `use_lockfile` after).
pub fn decide_avoiding<'a>(
    backend: &'a Backend,
    strategy: Strategy,
    vanishing: &[&Setting],
) -> (Action, Vec<BodyOps<'a>>) {
    let body = &backend.body;
    // `dynamodb_table` and Terragrunt's `lock_table` alias, in file order.
    let tables: Vec<&Setting> = body
        .settings
        .iter()
        .filter(|s| s.key == TABLE_KEY || s.key == LOCK_TABLE_KEY)
        .collect();
    let table = tables.first().copied();
    let lockfile = body.get(LOCKFILE_KEY);
    let lockfile_true = lockfile.is_some_and(|s| s.value.is_true());
    // `dynamodb_table = ""` is Terraform's way of saying no DynamoDB locking:
    // nothing to migrate, and nothing to add that the user did not ask for.
    let empty = |t: &&Setting| matches!(&t.value, Value::String(name) if name.is_empty());
    if !tables.is_empty() && tables.iter().all(empty) {
        return (settled(lockfile_true), Vec::new());
    }
    let endpoint = body.get("dynamodb_endpoint");
    let endpoints = body.get("endpoints");
    let endpoints_dynamodb = endpoints
        .and_then(|e| e.object.as_ref())
        .and_then(|o| o.get("dynamodb").map(|d| (o, d)));
    // Only a Terragrunt `remote_state` config (an HCL object) has these keys.
    let lock_table_keys: Vec<&Setting> =
        if backend.kind == BackendKind::Terragrunt && body.syntax == Syntax::HclObject {
            body.settings
                .iter()
                .filter(|s| TERRAGRUNT_LOCK_TABLE_KEYS.contains(&s.key.as_str()))
                .collect()
        } else {
            Vec::new()
        };

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
            let removed: Vec<&Setting> = tables
                .iter()
                .copied()
                .chain(endpoint)
                .chain(lock_table_keys.iter().copied())
                .collect();
            for &setting in &removed {
                let is_lock_table_key = lock_table_keys.iter().any(|k| std::ptr::eq(*k, setting));
                if lockfile_placed || is_lock_table_key {
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
                    !removed.iter().any(|r| std::ptr::eq(*s, *r))
                        && !vanishing.iter().any(|r| std::ptr::eq(*s, *r))
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
            // The lockfile follows the last table setting (both stay).
            let last_table = tables.last().copied().unwrap_or(t);
            match lockfile {
                None => ops.push(Op::InsertLockfileAfter(last_table)),
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
    plan_backend_with(
        source,
        backend,
        &PlanOptions {
            strategy,
            modernize: false,
        },
    )
}

/// The edits for one backend under a strategy and `--modernize`.
pub fn plan_backend_with(
    source: &Source,
    backend: &Backend,
    options: &PlanOptions,
) -> Result<(Action, Vec<Edit>), PlanError> {
    // Only a backend that tflock migrates is modernized: one already on
    // lockfiles keeps its bytes.
    let (action, bodies) = if options.modernize {
        modernize::decide(source, backend, options.strategy)?
    } else {
        decide(backend, options.strategy)
    };
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
