//! `tflock status`: where each backend stands in the phased rollout, and for
//! each DynamoDB lock table whether anything still needs it. Pure assembly of
//! facts gathered by `scan` and `verify::tables`; it never deletes anything and
//! renders nothing (`report::status` does).

use crate::model::RepoPlan;
pub use crate::model::status::{BackendStatus, Phase, Status, TableStatus};
use crate::parse::{Backend, Value};
pub use crate::report::digests::text as render_digest_checks;
pub use crate::report::status::{json as render_json, text as render_text};
use crate::verify::ClientSettings;
use crate::verify::tables::TableResult;
use std::collections::BTreeMap;

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
    // The resolved tables: a Terragrunt root names one per unit's account
    // and region, through locals the file itself does not show.
    repo.backends
        .iter()
        .filter(|b| phase_of(&b.backend) != Phase::Lockfile && phase_of(&b.backend) != Phase::None)
        .flat_map(|b| b.resolution.targets.iter())
        .filter_map(|t| {
            Some(TableSource {
                client: t.client.clone(),
                table: t.table.clone()?,
                source: "config",
            })
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
            outside_states: None,
            outside_examples: Vec::new(),
        });
        if !entry.sources.contains(&s.source) {
            entry.sources.push(s.source);
        }
    }
    for b in &repo.backends {
        if matches!(phase_of(&b.backend), Phase::Lockfile | Phase::None) {
            continue;
        }
        for target in &b.resolution.targets {
            let Some(table) = &target.table else { continue };
            let key = (region_of(&target.client), table.clone());
            let place = format!("{}:{}", b.path, b.backend.line);
            if let Some(t) = tables.get_mut(&key)
                && !t.referenced_by.contains(&place)
            {
                t.referenced_by.push(place);
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

/// The states one backend governs, as the lock table's items name them:
/// `<bucket>/<key>` for the default workspace and `<bucket>/<prefix>/<ws>/<key>`
/// (`<bucket>/<ws>/<key>` with an empty prefix) for the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Governed {
    pub bucket: String,
    pub keys: Vec<String>,
    pub workspace_key_prefix: String,
    /// The configuration locks with S3 lockfiles only (DynamoDB is not used).
    pub on_lockfiles: bool,
}

impl Governed {
    /// Whether a lock or digest item's LockID is one of these states'.
    pub fn owns(&self, lock_id: &str) -> bool {
        let state = lock_id
            .strip_suffix(crate::model::lock_ids::DIGEST_SUFFIX)
            .unwrap_or(lock_id);
        let Some(object) = state
            .strip_prefix(self.bucket.as_str())
            .and_then(|rest| rest.strip_prefix('/'))
        else {
            return false;
        };
        self.keys.iter().any(|key| {
            if object == key {
                return true;
            }
            let workspaces = if self.workspace_key_prefix.is_empty() {
                Some(object)
            } else {
                object
                    .strip_prefix(self.workspace_key_prefix.as_str())
                    .and_then(|rest| rest.strip_prefix('/'))
            };
            // Workspace names cannot hold a `/`, so the name is one segment.
            workspaces
                .and_then(|rest| rest.strip_suffix(key.as_str()))
                .and_then(|rest| rest.strip_suffix('/'))
                .is_some_and(|workspace| !workspace.is_empty() && !workspace.contains('/'))
        })
    }

    /// From a verification target; None when its bucket or keys are not known
    /// (then nothing is known to be its, and its items count as outside).
    pub fn from_target(target: &crate::verify::Target, on_lockfiles: bool) -> Option<Governed> {
        let bucket = target.bucket.clone()?;
        if target.keys.is_empty() {
            return None;
        }
        Some(Governed {
            bucket,
            keys: target.keys.iter().map(|(_, k)| k.clone()).collect(),
            workspace_key_prefix: target.workspace_key_prefix.clone(),
            on_lockfiles,
        })
    }
}

/// The states each scanned backend governs.
pub fn governed_states(repo: &RepoPlan) -> Vec<Governed> {
    repo.backends
        .iter()
        .flat_map(|b| {
            let on_lockfiles = phase_of(&b.backend) == Phase::Lockfile;
            b.resolution
                .targets
                .iter()
                .filter_map(move |t| Governed::from_target(t, on_lockfiles))
        })
        .collect()
}

/// How many LockIDs an "outside this scan" verdict shows.
const OUTSIDE_EXAMPLES: usize = 3;

/// Refines "safe to retire": a table is safe only when every item in it (lock
/// or digest) belongs to a state that a scanned configuration on lockfiles
/// governs. Any other item means some configuration this scan did not see
/// (another repository, an old branch) may still lock with the table.
pub fn judge_retirement(status: &mut Status, governed: &[Governed], summaries: &[TableResult]) {
    for ((client, table), summary) in summaries {
        let Ok(summary) = summary else { continue };
        let Some(t) = status
            .tables
            .iter_mut()
            .find(|t| t.table == *table && t.region == region_of(client))
        else {
            continue;
        };
        let outside = states_outside(governed, summary.locks.iter().chain(&summary.digests));
        t.outside_states = Some(outside.len());
        t.outside_examples = outside.into_iter().take(OUTSIDE_EXAMPLES).collect();
        if t.verdict == "safe to retire" && t.outside_states > Some(0) {
            let n = t.outside_states.unwrap_or(0);
            t.verdict = format!(
                "still used by {n} {} outside this scan",
                if n == 1 { "state" } else { "states" }
            );
        }
    }
}

/// The states (by lock LockID, sorted) with items that no governed state on
/// lockfiles owns.
fn states_outside<'a>(
    governed: &[Governed],
    lock_ids: impl Iterator<Item = &'a String>,
) -> Vec<String> {
    let mut outside: Vec<String> = lock_ids
        .filter(|id| !governed.iter().any(|g| g.on_lockfiles && g.owns(id)))
        .map(|id| id.strip_suffix("-md5").unwrap_or(id).to_string())
        .collect();
    outside.sort();
    outside.dedup();
    outside
}

#[cfg(test)]
mod tests {
    use super::*;

    fn governed(prefix: &str, on_lockfiles: bool) -> Governed {
        Governed {
            bucket: "b".into(),
            keys: vec!["app/terraform.tfstate".into()],
            workspace_key_prefix: prefix.into(),
            on_lockfiles,
        }
    }

    #[test]
    fn a_backend_owns_its_default_and_workspace_states_and_their_digests() {
        let g = governed("env:", true);
        for id in [
            "b/app/terraform.tfstate",
            "b/app/terraform.tfstate-md5",
            "b/env:/dev/app/terraform.tfstate",
            "b/env:/dev/app/terraform.tfstate-md5",
        ] {
            assert!(g.owns(id), "{id}");
        }
        for id in [
            "other/app/terraform.tfstate",
            "b/app/terraform.tfstate.bak",
            "b/x/app/terraform.tfstate",
            "b/env:/a/b/app/terraform.tfstate",
            "b/env://app/terraform.tfstate",
            "bb/app/terraform.tfstate",
        ] {
            assert!(!g.owns(id), "{id}");
        }
    }

    #[test]
    fn an_empty_workspace_prefix_puts_workspaces_at_the_top() {
        let g = governed("", true);
        assert!(g.owns("b/dev/app/terraform.tfstate-md5"));
        assert!(!g.owns("b/env:/dev/app/terraform.tfstate"));
    }

    #[test]
    fn items_of_states_not_on_lockfiles_or_not_governed_are_outside() {
        let ids: Vec<String> = [
            "b/app/terraform.tfstate-md5",
            "b/other/terraform.tfstate-md5",
            "b/other/terraform.tfstate",
            "c/app/terraform.tfstate-md5",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            states_outside(&[governed("env:", true)], ids.iter()),
            ["b/other/terraform.tfstate", "c/app/terraform.tfstate"]
        );
        assert_eq!(
            states_outside(&[governed("env:", false)], ids.iter()).len(),
            3,
            "a configuration still on DynamoDB keeps its state's items outside"
        );
    }
}
