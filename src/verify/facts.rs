//! What AWS answered, gathered per table and bucket: lock and digest items,
//! object keys, and the workspaces they reveal. Plain facts; the `policy` turns
//! them into blockers, and nothing here sends a request.

use crate::model::lock_ids::DIGEST_SUFFIX;
use crate::model::lockinfo::LockInfo;
use crate::resolve::targets;
use std::collections::{BTreeMap, BTreeSet};

/// Facts about one lock table: active locks and digest items by LockID.
#[derive(Debug, Default)]
pub(crate) struct TableFacts {
    pub(crate) locks: BTreeMap<String, LockInfo>,
    /// Digest items (`<LockID>-md5`) with their `Digest` value.
    pub(crate) digests: BTreeMap<String, String>,
}

/// Facts about one bucket: the object keys under the listed prefixes.
#[derive(Debug, Default)]
pub(crate) struct BucketFacts {
    pub(crate) keys: BTreeSet<String>,
}

/// The workspaces of every state key under one prefix: from state objects
/// (`P/W/K`), lockfiles (`P/W/K.tflock`), lock items and digest items. A
/// workspace exists once its state object does; while `terraform workspace new`
/// writes the first state, only its lock does; and a digest item outlives a
/// deleted state (rollback must still repair it).
#[derive(Debug, Default)]
pub(crate) struct WorkspaceIndex {
    by_key: BTreeMap<String, BTreeSet<String>>,
}

impl WorkspaceIndex {
    pub(crate) fn new(
        prefix: &str,
        bucket_name: &str,
        bucket: Option<&BucketFacts>,
        table: Option<&TableFacts>,
    ) -> WorkspaceIndex {
        let start = targets::workspaces_prefix(prefix);
        let mut index = WorkspaceIndex::default();
        let mut add = |object_key: &str| {
            let Some(rest) = object_key.strip_prefix(&start) else {
                return;
            };
            let Some((workspace, key)) = rest.split_once('/') else {
                return;
            };
            if workspace.is_empty() || key.is_empty() {
                return;
            }
            let key = key.strip_suffix(".tflock").unwrap_or(key);
            index
                .by_key
                .entry(key.to_string())
                .or_default()
                .insert(workspace.to_string());
        };
        if let Some(facts) = bucket {
            for k in facts
                .keys
                .range(start.clone()..)
                .take_while(|k| k.starts_with(&start))
            {
                add(k);
            }
        }
        if let Some(facts) = table {
            let in_bucket = format!("{bucket_name}/");
            for id in facts.locks.keys() {
                if let Some(k) = id.strip_prefix(&in_bucket) {
                    add(k);
                }
            }
            for id in facts.digests.keys() {
                if let Some(k) = id
                    .strip_prefix(&in_bucket)
                    .and_then(|k| k.strip_suffix(DIGEST_SUFFIX))
                {
                    add(k);
                }
            }
        }
        index
    }

    pub(crate) fn workspaces(&self, key: &str) -> impl Iterator<Item = &String> {
        self.by_key.get(key).into_iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_workspaces_like_terraform() {
        let keys: BTreeSet<String> = [
            "env:/dev/app/terraform.tfstate",
            "env:/prod/app/terraform.tfstate",
            "env:/prod/app/terraform.tfstate.tflock",
            "env:/fresh/app/terraform.tfstate.tflock",
            "env:/x/y/app/terraform.tfstate",
            "env:/other/terraform.tfstate",
            "app/terraform.tfstate",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        let facts = BucketFacts { keys };
        let mut table = TableFacts::default();
        table.locks.insert(
            "b/env:/locked/app/terraform.tfstate".into(),
            LockInfo::default(),
        );
        table
            .digests
            .insert("b/env:/gone/app/terraform.tfstate-md5".into(), "d".into());
        let index = WorkspaceIndex::new("env:", "b", Some(&facts), Some(&table));
        let found: Vec<&String> = index.workspaces("app/terraform.tfstate").collect();
        assert_eq!(found, ["dev", "fresh", "gone", "locked", "prod"]);
        // `env:/x/y/app/...` is workspace `x` with key `y/app/...`, as Terraform splits it.
        assert_eq!(
            index
                .workspaces("y/app/terraform.tfstate")
                .collect::<Vec<_>>(),
            ["x"]
        );
    }
}
