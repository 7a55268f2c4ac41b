//! Verify stage: reads the lock facts of each backend's states from AWS (through
//! the `aws` core; `dynamodb` and `s3` send the reads, `facts` holds what they
//! found) and hands them to `policy`, which alone decides what blocks. It never
//! writes to AWS or to files; every doubt is `Unverified`, never free.

mod dynamodb;
mod facts;
mod policy;
mod s3;
pub mod tables;

pub use crate::aws::{Options, RequestCounter};
pub use crate::model::lockinfo::{self, LockInfo};
pub use crate::model::locks::{BackendLocks, Digest, LockStatus, Probe, StateLocks};
pub use crate::resolve::targets::{self, ClientSettings, Target};

use facts::{BucketFacts, TableFacts, WorkspaceIndex};
use policy::{Facts, judge};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

impl BackendLocks {
    pub fn blocked(&self) -> bool {
        !self.blockers.is_empty()
    }

    /// Adds the facts of another target of the same backend.
    fn absorb(&mut self, other: BackendLocks) {
        self.states.extend(other.states);
        for b in other.blockers {
            if !self.blockers.contains(&b) {
                self.blockers.push(b);
            }
        }
        for n in other.notes {
            if !self.notes.contains(&n) {
                self.notes.push(n);
            }
        }
        self.probe = match (self.probe.take(), other.probe) {
            // The worst probe result speaks for the backend.
            (Some(Probe::Enforced), Some(p)) | (None, Some(p)) => Some(p),
            (mine, _) => mine,
        };
    }
}

/// Verifies every target; the result is in the same order as `targets`.
pub async fn verify(
    targets: &[Target],
    options: &Options,
    counter: Arc<RequestCounter>,
) -> Vec<BackendLocks> {
    let ctx = crate::aws::Context::new(options.clone(), counter).with_deadline();

    // One listing per bucket and one scan per table, whatever the number of states.
    let mut tables: BTreeMap<(ClientSettings, String), ()> = BTreeMap::new();
    let mut buckets: BTreeMap<(ClientSettings, String), Vec<String>> = BTreeMap::new();
    let mut probes: BTreeMap<(ClientSettings, String), String> = BTreeMap::new();
    for t in targets {
        if let Some(table) = &t.table {
            tables.insert((t.client.clone(), table.clone()), ());
        }
        if let Some(bucket) = &t.bucket {
            let entry = buckets
                .entry((t.client.clone(), bucket.clone()))
                .or_default();
            entry.extend(t.list_prefixes());
            if t.probe && !options.skip_probe {
                probes
                    .entry((t.client.clone(), bucket.clone()))
                    .or_insert_with(|| t.probe_key());
            }
        }
    }

    let table_jobs = tables.into_keys().map(|(client, table)| {
        let ctx = ctx.clone();
        async move {
            let facts = dynamodb::scan_locks(&ctx, &client, &table).await;
            ((client, table), facts)
        }
    });
    let bucket_jobs = buckets.into_iter().map(|((client, bucket), prefixes)| {
        let ctx = ctx.clone();
        async move {
            let facts = s3::list_keys(&ctx, &client, &bucket, prefixes).await;
            ((client, bucket), facts)
        }
    });
    let probe_jobs = probes.into_iter().map(|((client, bucket), key)| {
        let ctx = ctx.clone();
        async move {
            let probe = s3::probe(&ctx, &client, &bucket, &key).await;
            ((client, bucket), probe)
        }
    });
    let (table_facts, bucket_facts, probe_facts) = tokio::join!(
        ctx.run_all(table_jobs),
        ctx.run_all(bucket_jobs),
        ctx.run_all(probe_jobs)
    );
    let table_facts: BTreeMap<_, Result<TableFacts, String>> = table_facts.into_iter().collect();
    let bucket_facts: BTreeMap<_, Result<BucketFacts, String>> = bucket_facts.into_iter().collect();
    let probe_facts: BTreeMap<_, Probe> = probe_facts.into_iter().collect();

    // Lockfiles that exist are read, so the report can say who holds them.
    let mut held_lockfiles = Vec::new();
    for ((client, bucket), facts) in &bucket_facts {
        if let Ok(facts) = facts {
            for key in facts.keys.iter().filter(|k| k.ends_with(".tflock")) {
                held_lockfiles.push((client.clone(), bucket.clone(), key.clone()));
            }
        }
    }
    let lockfile_jobs = held_lockfiles.into_iter().map(|(client, bucket, key)| {
        let ctx = ctx.clone();
        async move {
            let info = s3::read_lockfile(&ctx, &client, &bucket, &key).await;
            ((client, bucket, key), info)
        }
    });
    let lockfile_infos: BTreeMap<_, LockInfo> =
        ctx.run_all(lockfile_jobs).await.into_iter().collect();

    let now = SystemTime::now();
    // Workspaces are indexed once per bucket, table and prefix: the work stays
    // linear in the number of states, however many backends share them.
    let mut indexes: BTreeMap<
        (ClientSettings, Option<String>, Option<String>, String),
        WorkspaceIndex,
    > = BTreeMap::new();
    let mut results = Vec::with_capacity(targets.len());
    for t in targets {
        let table = t
            .table
            .as_ref()
            .and_then(|name| table_facts.get(&(t.client.clone(), name.clone())));
        let bucket = t
            .bucket
            .as_ref()
            .and_then(|name| bucket_facts.get(&(t.client.clone(), name.clone())));
        let probe = t
            .bucket
            .as_ref()
            .and_then(|name| probe_facts.get(&(t.client.clone(), name.clone())).cloned());
        let lockfiles = |key: &str| {
            t.bucket.as_ref().and_then(|b| {
                lockfile_infos
                    .get(&(t.client.clone(), b.clone(), key.to_string()))
                    .cloned()
            })
        };
        let index_key = (
            t.client.clone(),
            t.bucket.clone(),
            t.table.clone(),
            t.workspace_key_prefix.clone(),
        );
        let index = indexes.entry(index_key).or_insert_with(|| {
            WorkspaceIndex::new(
                &t.workspace_key_prefix,
                t.bucket.as_deref().unwrap_or_default(),
                bucket.and_then(|b| b.as_ref().ok()),
                table.and_then(|f| f.as_ref().ok()),
            )
        });
        let facts = Facts {
            table,
            bucket,
            probe,
            lockfile: &lockfiles,
            index,
        };
        results.push(judge(t, facts, options, now));
    }
    results
}

/// Verifies the backends of a plan that `select` picks; results by backend index.
/// `probe` says whether buckets of migrating backends get the conditional-write probe.
pub async fn verify_plan(
    repo: &crate::model::RepoPlan,
    select: impl Fn(&crate::model::BackendPlan) -> bool,
    probe: bool,
    options: &Options,
    counter: Arc<RequestCounter>,
) -> Vec<(usize, BackendLocks)> {
    let chosen: Vec<usize> = (0..repo.backends.len())
        .filter(|&i| select(&repo.backends[i]))
        .collect();
    // A backend has one target per unit it governs; each is checked, and a
    // backend's facts are those of all its targets together.
    let mut owners = Vec::new();
    let mut targets: Vec<Target> = Vec::new();
    for &i in &chosen {
        let b = &repo.backends[i];
        let migrating = b.action == crate::plan::Action::Migrate;
        for t in &b.resolution.targets {
            let mut t = t.clone();
            t.probe = probe && migrating;
            owners.push(i);
            targets.push(t);
        }
    }
    let results = verify(&targets, options, counter).await;
    let mut merged: BTreeMap<usize, BackendLocks> = chosen
        .iter()
        .map(|&i| (i, BackendLocks::default()))
        .collect();
    for (i, found) in owners.into_iter().zip(results) {
        merged.entry(i).or_default().absorb(found);
    }
    merged.into_iter().collect()
}
