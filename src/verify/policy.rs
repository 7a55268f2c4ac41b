//! The blocking policy: from the facts gathered for one target to its states,
//! the blockers that stop a migration and the notes beside them. Unknown means
//! locked: a table or bucket that could not be read, a key that is not fully
//! known, a probe that failed, all block. Pure: it sends no request and reads no
//! clock (the caller passes `now`).

use super::facts::{BucketFacts, TableFacts, WorkspaceIndex};
use crate::aws::Options;
use crate::model::lock_ids::{DIGEST_SUFFIX, lock_id, lockfile_key};
use crate::model::lockinfo::LockInfo;
use crate::model::locks::{BackendLocks, Digest, LockStatus, Probe, StateLocks};
use crate::resolve::targets::Target;
use std::time::SystemTime;

/// What AWS told about one target's table, bucket and probe.
pub(crate) struct Facts<'a> {
    pub(crate) table: Option<&'a Result<TableFacts, String>>,
    pub(crate) bucket: Option<&'a Result<BucketFacts, String>>,
    pub(crate) probe: Option<Probe>,
    /// The LockInfo of a lockfile that exists, by key.
    pub(crate) lockfile: &'a dyn Fn(&str) -> Option<LockInfo>,
    pub(crate) index: &'a WorkspaceIndex,
}

/// Turns the facts gathered for a target into its states, blockers and notes.
pub(crate) fn judge(t: &Target, facts: Facts, options: &Options, now: SystemTime) -> BackendLocks {
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
        let lock_id = lock_id(&bucket_name, &state_key);
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
                .get(&format!("{lock_id}{DIGEST_SUFFIX}"))
                .cloned(),
            _ => None,
        };
        let digest = match table {
            Some(Ok(_)) if digest_value.is_some() => Digest::Present,
            Some(Ok(_)) if options.read_digests => Digest::Absent,
            _ => Digest::Unknown,
        };
        let lockfile_key = lockfile_key(&state_key);
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
                    reason: t.no_bucket_reason().into(),
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
            None => format!(
                "conservative check: {}; any active lock in the table blocks this backend",
                t.no_bucket_reason()
            ),
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
                .push(format!("S3 lockfiles unverified: {}", t.no_bucket_reason())),
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

#[cfg(test)]
mod tests;
