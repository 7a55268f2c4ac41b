//! Verify stage: the only place that talks to AWS. It reports lock facts for each
//! backend's states; deciding what a fact means (block or go) is left to callers,
//! except that every doubt is reported as `Unverified`, never as free.

pub(crate) mod clients;
mod dynamodb;
mod s3;
pub mod tables;

pub use crate::model::lockinfo::{self, LockInfo};
pub use crate::model::locks::{BackendLocks, Digest, LockStatus, Probe, StateLocks};
pub use crate::resolve::targets::{self, ClientSettings, Target};

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

/// How verification runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Upper bound for any one AWS call, retries included.
    pub timeout: Duration,
    /// Skip the conditional-write probe (the user knows the store enforces it).
    pub skip_probe: bool,
    /// At most this many AWS calls in flight.
    pub concurrency: usize,
    /// Also read every digest item (for rollback files and `tflock locks`);
    /// a plan only needs the lock items, a much smaller scan result.
    pub read_digests: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            timeout: Duration::from_secs(60),
            skip_probe: false,
            concurrency: 16,
            read_digests: true,
        }
    }
}

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

/// Counts every request sent to AWS (each page of a listing is one).
#[derive(Debug, Default)]
pub struct RequestCounter(AtomicUsize);

impl RequestCounter {
    pub fn add(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

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

/// Verifies every target; the result is in the same order as `targets`.
pub async fn verify(
    targets: &[Target],
    options: &Options,
    counter: Arc<RequestCounter>,
) -> Vec<BackendLocks> {
    let ctx = clients::Context::new(options.clone(), counter).with_deadline();

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

/// The workspaces of every state key under one prefix: from state objects
/// (`P/W/K`), lockfiles (`P/W/K.tflock`), lock items and digest items. A
/// workspace exists once its state object does; while `terraform workspace new`
/// writes the first state, only its lock does; and a digest item outlives a
/// deleted state (rollback must still repair it).
#[derive(Debug, Default)]
struct WorkspaceIndex {
    by_key: BTreeMap<String, BTreeSet<String>>,
}

impl WorkspaceIndex {
    fn new(
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
                    .and_then(|k| k.strip_suffix(crate::model::lock_ids::DIGEST_SUFFIX))
                {
                    add(k);
                }
            }
        }
        index
    }

    fn workspaces(&self, key: &str) -> impl Iterator<Item = &String> {
        self.by_key.get(key).into_iter().flatten()
    }
}

/// What AWS told about one target's table, bucket and probe.
struct Facts<'a> {
    table: Option<&'a Result<TableFacts, String>>,
    bucket: Option<&'a Result<BucketFacts, String>>,
    probe: Option<Probe>,
    /// The LockInfo of a lockfile that exists, by key.
    lockfile: &'a dyn Fn(&str) -> Option<LockInfo>,
    index: &'a WorkspaceIndex,
}

/// Turns the facts gathered for a target into its states, blockers and notes.
fn judge(t: &Target, facts: Facts, options: &Options, now: SystemTime) -> BackendLocks {
    let Facts {
        table,
        bucket,
        probe,
        lockfile,
        index,
    } = facts;
    let mut out = BackendLocks {
        states: Vec::new(),
        blockers: Vec::new(),
        notes: Vec::new(),
        probe: None,
    };
    let bucket_name = t.bucket.clone().unwrap_or_default();

    // Which states exist: the known keys, plus workspaces found in the listing.
    let mut states: Vec<(String, String, Option<String>)> = Vec::new();
    for (unit, key) in &t.keys {
        states.push(("default".into(), key.clone(), unit.clone()));
        for ws in index.workspaces(key) {
            states.push((ws.clone(), t.state_key(ws, key), unit.clone()));
        }
    }

    // What the resolve stage could not evaluate decides where to look: the
    // check cannot be complete, so it blocks (unknown means locked).
    for unknown in t.blockers() {
        out.blockers.push(unknown.blocker());
    }

    for (workspace, state_key, unit) in states {
        let lock_id = crate::model::lock_ids::lock_id(&bucket_name, &state_key);
        let dynamodb = match (&t.table, table) {
            (None, _) => LockStatus::Free,
            (Some(_), Some(Ok(facts))) => match facts.locks.get(&lock_id) {
                Some(info) => LockStatus::Held { lock: info.clone() },
                None => LockStatus::Free,
            },
            (Some(_), Some(Err(e))) => LockStatus::Unverified { reason: e.clone() },
            (Some(_), None) => LockStatus::Unverified {
                reason: "lock table was not scanned".into(),
            },
        };
        let digest_value = match table {
            Some(Ok(facts)) => facts
                .digests
                .get(&format!(
                    "{lock_id}{}",
                    crate::model::lock_ids::DIGEST_SUFFIX
                ))
                .cloned(),
            _ => None,
        };
        let digest = match table {
            Some(Ok(_)) if digest_value.is_some() => Digest::Present,
            Some(Ok(_)) if options.read_digests => Digest::Absent,
            _ => Digest::Unknown,
        };
        let lockfile_key = format!("{state_key}.tflock");
        let (lockfile_status, state_exists) = match bucket {
            Some(Ok(facts)) => {
                let status = if facts.keys.contains(&lockfile_key) {
                    LockStatus::Held {
                        lock: lockfile(&lockfile_key).unwrap_or_default(),
                    }
                } else {
                    LockStatus::Free
                };
                (status, Some(facts.keys.contains(&state_key)))
            }
            Some(Err(e)) => (LockStatus::Unverified { reason: e.clone() }, None),
            None => (
                LockStatus::Unverified {
                    reason: "bucket is not known".into(),
                },
                None,
            ),
        };
        for (what, status) in [
            ("DynamoDB lock", &dynamodb),
            ("S3 lockfile", &lockfile_status),
        ] {
            match status {
                LockStatus::Free => {}
                LockStatus::Held { lock } => {
                    let mut reason = format!(
                        "state {state_key} (workspace {workspace}): {what} {}",
                        lock.describe(now)
                    );
                    if lock.is_stale(now) && !lock.id.is_empty() {
                        let dir = unit.clone().unwrap_or_else(|| t.dir.clone());
                        reason.push_str(&format!(
                            "; it looks stale: if no run is active, run `terraform force-unlock {}` in {dir}",
                            lock.id
                        ));
                    }
                    out.blockers.push(reason);
                }
                LockStatus::Unverified { reason } => out.blockers.push(format!(
                    "state {state_key} (workspace {workspace}): {what} unverified: {reason}"
                )),
            }
        }
        out.states.push(StateLocks {
            workspace,
            state_key,
            bucket: t.bucket.clone(),
            region: t.client.region.clone(),
            unit,
            table: t.table.clone(),
            dynamodb,
            lockfile: lockfile_status,
            digest,
            digest_value,
            state_exists,
        });
    }

    // A key that is not fully known: any active lock that could be one of its
    // states (in any workspace) blocks, judged by the known prefix.
    if let Some(prefix) = &t.unknown_key_prefix {
        let could_be_mine = |state_key: &str| t.could_be_state(state_key, prefix);
        out.notes.push(match &t.bucket {
            Some(_) => format!(
                "conservative check: the state key is not fully known; any active lock whose \
                 LockID starts with \"{bucket_name}/{prefix}\" blocks this backend, in any workspace"
            ),
            None => "conservative check: the bucket is not known; any active lock in the table blocks this backend".into(),
        });
        match table {
            Some(Ok(facts)) => {
                let in_bucket = format!("{bucket_name}/");
                for (id, info) in &facts.locks {
                    let mine = t.bucket.is_none()
                        || id.strip_prefix(&in_bucket).is_some_and(&could_be_mine);
                    if mine {
                        out.blockers
                            .push(format!("DynamoDB lock {id} {}", info.describe(now)));
                    }
                }
            }
            Some(Err(e)) => out.blockers.push(format!("DynamoDB locks unverified: {e}")),
            None => {}
        }
        match bucket {
            Some(Ok(facts)) => {
                for key in facts
                    .keys
                    .iter()
                    .filter(|k| k.strip_suffix(".tflock").is_some_and(&could_be_mine))
                {
                    let lock = lockfile(key).unwrap_or_default();
                    out.blockers
                        .push(format!("S3 lockfile {key} {}", lock.describe(now)));
                }
            }
            Some(Err(e)) => out.blockers.push(format!("S3 lockfiles unverified: {e}")),
            None => out
                .blockers
                .push("S3 lockfiles unverified: the bucket is not known".into()),
        }
    }
    if t.table.is_none() && t.probe {
        out.notes
            .push("no dynamodb_table in this configuration: only S3 lockfiles were checked".into());
    }
    if t.probe && !options.skip_probe {
        match &probe {
            Some(Probe::Enforced) => {}
            Some(Probe::Ignored) => out.blockers.push(format!(
                "bucket {bucket_name} accepted a second conditional write (If-None-Match: *); \
                 on this store a lockfile would lock nothing (--skip-probe if you know better)"
            )),
            Some(Probe::Unverified { reason }) => out.blockers.push(format!(
                "bucket {bucket_name}: conditional-write probe failed: {reason}"
            )),
            Some(Probe::Skipped) | None => {}
        }
        out.probe = probe;
    } else if t.probe {
        out.probe = Some(Probe::Skipped);
    }
    out
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
