//! `tflock status`: merges the lock tables the configurations name, those the
//! rollback files name and those found in the account, then has `status` and
//! `tripwire` judge them. Reads AWS; deletes only with `--clean-digests`.

use super::{Aws, Error, Exit, Format, Io, Scope, Session, print_problems, scan};
use crate::model::RepoPlan;
use crate::plan::Strategy;
use crate::rollback::{self, FileState, RollbackPlan};
use crate::status::{self, Governed, Status, TableSource};
use crate::tripwire::{Clean, Recorded};
use crate::verify::ClientSettings;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Config {
    pub scope: Scope,
    pub format: Format,
    /// Rollback files whose tables and states count too.
    pub rollback_files: Vec<PathBuf>,
    pub clean: Clean,
    pub aws: Aws,
}

/// Fails when a file could not be read or an account's tables could not be listed.
pub fn run(config: &Config, cwd: &Path, io: &mut dyn Io, session: &Session) -> Result<Exit, Error> {
    let repo = scan(io, &config.scope, cwd, Strategy::Replace);
    print_problems(io, &repo);
    let out = status(
        &repo,
        &config.rollback_files,
        config.aws,
        config.clean,
        session,
    )?;
    for e in &out.errors {
        io.err(e);
    }
    io.out(&match config.format {
        Format::Text => status::render_text(&out.report),
        Format::Json => status::render_json(&out.report),
        Format::Markdown => crate::report::status_markdown::render(&out.report),
    })?;
    // A digest `--clean-digests` could not delete fails the run: it is left in place.
    Ok(Exit::failed_if(
        !repo.problems.is_empty()
            || !out.errors.is_empty()
            || crate::tripwire::clean_failed(&out.report.digests),
    ))
}

/// The status report, and the lookups that failed (the run then fails too).
#[derive(Debug)]
struct Outcome {
    report: Status,
    errors: Vec<String>,
}

/// What the configurations and rollback files say about the lock tables.
#[derive(Debug, Default)]
struct Known {
    sources: Vec<TableSource>,
    governed: Vec<Governed>,
    recorded: BTreeMap<String, Recorded>,
}

fn status(
    repo: &RepoPlan,
    rollback_files: &[PathBuf],
    aws: Aws,
    clean: Clean,
    session: &Session,
) -> Result<Outcome, Error> {
    let mut known = Known {
        sources: status::configured_tables(repo),
        governed: status::governed_states(repo),
        recorded: BTreeMap::new(),
    };
    for file in rollback_files {
        known.add_rollback(RollbackPlan::load(file)?);
    }
    let options = aws.options();
    let found = session.block_on(crate::verify::tables::find_lock_tables(
        account_clients(repo),
        &options,
        session.counter(),
    ))?;
    let mut errors = Vec::new();
    for (client, tables) in found {
        match tables {
            Ok(tables) => known
                .sources
                .extend(tables.into_iter().map(|table| TableSource {
                    client: client.clone(),
                    table,
                    source: "found in account",
                })),
            Err(e) => errors.push(format!(
                "cannot list lock tables in {}: {e}",
                status::region_of(&client)
            )),
        }
    }
    let summaries = session.block_on(crate::verify::tables::summarize(
        tables_to_scan(&known.sources),
        &options,
        session.counter(),
    ))?;
    let mut report = status::assemble(repo, &known.sources, &summaries);
    status::judge_retirement(&mut report, &known.governed, &summaries);
    report.digests = session.block_on(crate::tripwire::check(
        repo,
        &known.sources,
        &known.recorded,
        &options,
        clean,
        session.counter(),
    ))?;
    Ok(Outcome { report, errors })
}

impl Known {
    fn add_rollback(&mut self, plan: RollbackPlan) {
        self.recorded.extend(plan.recorded_digests());
        // The states that apply moved to lockfiles, while its files still
        // hold what it wrote (not rolled back, not edited since).
        let steps = rollback::inspect(&plan);
        let still_applied = |file: &str| {
            steps
                .iter()
                .any(|s| s.file.path == file && s.state == FileState::AsApplied)
        };
        self.governed.extend(plan.backends.iter().filter_map(|b| {
            let on_lockfiles = plan.strategy == "replace" && still_applied(&b.file);
            Governed::from_target(&b.target, on_lockfiles)
        }));
        for b in plan.backends {
            if let Some(table) = b.target.table.clone() {
                self.sources.push(TableSource {
                    client: b.target.client.clone(),
                    table,
                    source: "rollback file",
                });
            }
        }
    }
}

/// The accounts to list lock tables in: after a full migration no
/// configuration names them. A backend naming nothing (partial) adds none.
fn account_clients(repo: &RepoPlan) -> Vec<ClientSettings> {
    let clients: BTreeSet<ClientSettings> = repo
        .backends
        .iter()
        .filter(|b| {
            ["bucket", "dynamodb_table", "region"]
                .iter()
                .any(|k| b.backend.value(k).is_some())
        })
        .flat_map(|b| b.resolution.targets.iter().map(|t| t.client.clone()))
        .collect();
    clients.into_iter().collect()
}

/// Each table once per region, however many sources name it (the first
/// source's client reads it).
fn tables_to_scan(sources: &[TableSource]) -> Vec<(ClientSettings, String)> {
    let mut to_scan: BTreeMap<(String, String), ClientSettings> = BTreeMap::new();
    for s in sources {
        to_scan
            .entry((status::region_of(&s.client), s.table.clone()))
            .or_insert_with(|| s.client.clone());
    }
    to_scan
        .into_iter()
        .map(|((_, table), client)| (client, table))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(region: &str, profile: Option<&str>, table: &str) -> TableSource {
        TableSource {
            client: ClientSettings {
                region: Some(region.into()),
                profile: profile.map(String::from),
                ..ClientSettings::default()
            },
            table: table.into(),
            source: "configuration",
        }
    }

    #[test]
    fn a_table_named_twice_in_a_region_is_scanned_once_by_its_first_client() {
        let scanned = tables_to_scan(&[
            source("eu-west-1", Some("first"), "locks"),
            source("eu-west-1", Some("second"), "locks"),
            source("us-east-1", None, "locks"),
            source("eu-west-1", None, "other"),
        ]);
        let shown: Vec<(Option<&str>, Option<&str>, &str)> = scanned
            .iter()
            .map(|(c, t)| (c.region.as_deref(), c.profile.as_deref(), t.as_str()))
            .collect();
        assert_eq!(
            shown,
            [
                (Some("eu-west-1"), Some("first"), "locks"),
                (Some("eu-west-1"), None, "other"),
                (Some("us-east-1"), None, "locks"),
            ]
        );
    }
}
