//! Digest items: once a state is written without DynamoDB, its `<LockID>-md5`
//! item goes stale, and Terraform refuses the state after locking is switched
//! back ("state data in S3 does not have the expected content"). A rollback
//! rewrites each such item to the MD5 of the state as it is now.

use crate::aws::{ClientSettings, Context, describe, digest_id};
use crate::model::locks::{BackendLocks, Digest};
use crate::resolve::targets::Target;
use aws_sdk_dynamodb::types::AttributeValue;
use md5::{Digest as _, Md5};
use serde::Serialize;

/// One digest item to rewrite (or delete, when the state object is gone).
#[derive(Debug, Clone, Serialize)]
pub struct DigestRepair {
    #[serde(skip)]
    pub client: ClientSettings,
    pub table: String,
    pub state_key: String,
    /// The item's LockID: `<bucket>/<state key>-md5`.
    pub digest_id: String,
    /// The item's `Digest` now; None when tflock deleted it at migration.
    pub current: Option<String>,
    /// MD5 of the state object now; None when the object no longer exists.
    pub desired: Option<String>,
}

/// Reads every state whose digest item exists and lists the items that differ
/// from the state's MD5. Any failure is returned: a repair is all or nothing.
pub async fn plan_digest_repairs(
    ctx: &Context,
    backends: &[(Target, BackendLocks)],
) -> Result<Vec<DigestRepair>, String> {
    let mut repairs = Vec::new();
    for (target, locks) in backends {
        let (Some(bucket), Some(table)) = (&target.bucket, &target.table) else {
            continue;
        };
        let clients = ctx.clients(&target.client).await;
        for state in locks.states.iter().filter(|s| s.digest == Digest::Present) {
            let current = state.digest_value.clone().unwrap_or_default();
            let request = clients
                .s3
                .get_object()
                .bucket(bucket)
                .key(&state.state_key)
                .send();
            let desired = match ctx.call_raw(request).await? {
                Ok(object) => {
                    let bytes = object
                        .body
                        .collect()
                        .await
                        .map_err(|e| format!("cannot read state {}: {e}", state.state_key))?
                        .into_bytes();
                    Some(hex::encode(Md5::digest(&bytes)))
                }
                Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => None,
                Err(e) => {
                    return Err(format!(
                        "cannot read state {}: {}",
                        state.state_key,
                        describe(&e)
                    ));
                }
            };
            if desired.as_deref() != Some(current.as_str()) {
                repairs.push(DigestRepair {
                    client: target.client.clone(),
                    table: table.clone(),
                    state_key: state.state_key.clone(),
                    digest_id: digest_id(bucket, &state.state_key),
                    current: Some(current),
                    desired,
                });
            }
        }
    }
    Ok(repairs)
}

/// Writes each digest in Terraform's format (`LockID`, `Digest`), or deletes it.
pub async fn apply_digest_repairs(
    ctx: &Context,
    repairs: &[DigestRepair],
) -> Result<usize, String> {
    for r in repairs {
        let clients = ctx.clients(&r.client).await;
        let id = AttributeValue::S(r.digest_id.clone());
        let result = match &r.desired {
            Some(md5) => ctx
                .call(
                    clients
                        .dynamodb
                        .put_item()
                        .table_name(&r.table)
                        .item("LockID", id)
                        .item("Digest", AttributeValue::S(md5.clone()))
                        .send(),
                )
                .await
                .map(drop),
            None => ctx
                .call(
                    clients
                        .dynamodb
                        .delete_item()
                        .table_name(&r.table)
                        .key("LockID", id)
                        .send(),
                )
                .await
                .map(drop),
        };
        result.map_err(|e| format!("cannot repair digest {} in {}: {e}", r.digest_id, r.table))?;
    }
    Ok(repairs.len())
}

/// One digest item to delete because its backend now locks with lockfiles only:
/// a missing digest is only a warning for Terraform, a stale one an error for
/// every reader that still names `dynamodb_table`.
#[derive(Debug, Clone, Serialize)]
pub struct DigestDeletion {
    #[serde(skip)]
    pub client: ClientSettings,
    pub table: String,
    pub state_key: String,
    /// The item's LockID: `<bucket>/<state key>-md5`.
    pub digest_id: String,
    /// The `Digest` tflock read; the delete is conditional on it.
    pub value: String,
}

/// How one conditional delete ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum DeletionOutcome {
    Deleted,
    /// The item no longer held the value read (a client still on DynamoDB
    /// locking wrote the state in between, or it is gone): left as it is.
    Changed,
    Failed {
        reason: String,
    },
}

/// The digest items of the given states (each state once, by table and LockID).
pub fn deletions<'a>(
    backends: impl IntoIterator<Item = (&'a Target, &'a BackendLocks)>,
) -> Vec<DigestDeletion> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for (target, locks) in backends {
        let Some(bucket) = &target.bucket else {
            continue;
        };
        for state in &locks.states {
            let (Some(table), Some(value)) = (&state.table, &state.digest_value) else {
                continue;
            };
            let digest_id = digest_id(bucket, &state.state_key);
            if !seen.insert((table.clone(), digest_id.clone())) {
                continue;
            }
            out.push(DigestDeletion {
                client: target.client.clone(),
                table: table.clone(),
                state_key: state.state_key.clone(),
                digest_id,
                value: value.clone(),
            });
        }
    }
    out
}

/// Deletes each digest item on the condition that it still holds the value read.
pub async fn delete_digests(
    ctx: &Context,
    deletions: &[DigestDeletion],
) -> Vec<(DigestDeletion, DeletionOutcome)> {
    // Tests write a digest here, between the read and the delete.
    super::test_gate("digests").await;
    let mut out = Vec::with_capacity(deletions.len());
    for d in deletions {
        let clients = ctx.clients(&d.client).await;
        let request = clients
            .dynamodb
            .delete_item()
            .table_name(&d.table)
            .key("LockID", AttributeValue::S(d.digest_id.clone()))
            .condition_expression("#digest = :read")
            .expression_attribute_names("#digest", "Digest")
            .expression_attribute_values(":read", AttributeValue::S(d.value.clone()))
            .send();
        let outcome = match ctx.call_raw(request).await {
            Ok(Ok(_)) => DeletionOutcome::Deleted,
            Ok(Err(e))
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                DeletionOutcome::Changed
            }
            Ok(Err(e)) => DeletionOutcome::Failed {
                reason: describe(&e),
            },
            Err(timeout) => DeletionOutcome::Failed { reason: timeout },
        };
        let outcome = match outcome {
            DeletionOutcome::Deleted => outcome,
            unsure => read_back(ctx, d, unsure).await,
        };
        out.push((d.clone(), outcome));
    }
    out
}

/// A delete that did not answer "deleted" may still have happened: a retry
/// meets its own first attempt's success (the condition then fails on a missing
/// item), or the answer came too late. The item as it is now decides: gone is
/// deleted (rollback must write it again), the value read still there is the
/// failure as reported, another value is a change by someone else.
async fn read_back(ctx: &Context, d: &DigestDeletion, outcome: DeletionOutcome) -> DeletionOutcome {
    let clients = ctx.clients(&d.client).await;
    let get = clients
        .dynamodb
        .get_item()
        .table_name(&d.table)
        .key("LockID", AttributeValue::S(d.digest_id.clone()))
        .consistent_read(true)
        .send();
    match ctx.call(get).await {
        Ok(item) => match item
            .item()
            .and_then(|i| i.get("Digest"))
            .and_then(|v| v.as_s().ok())
        {
            None if item.item().is_none() => DeletionOutcome::Deleted,
            Some(value) if *value == d.value => outcome,
            _ => DeletionOutcome::Changed,
        },
        Err(e) => match outcome {
            DeletionOutcome::Failed { reason } => DeletionOutcome::Failed {
                reason: format!("{reason} (and reading it back failed: {e}, so it may be gone)"),
            },
            other => other,
        },
    }
}

/// For rollback: the states whose digest item tflock deleted at migration and
/// that have none now get one again, written from the state object as it is
/// (the same repair as for a stale digest). A state object that is gone needs
/// no digest.
pub async fn plan_digest_restores(
    ctx: &Context,
    backends: &[(Target, BackendLocks)],
    deleted: &std::collections::BTreeSet<String>,
) -> Result<Vec<DigestRepair>, String> {
    let mut repairs = Vec::new();
    for (target, locks) in backends {
        let (Some(bucket), Some(table)) = (&target.bucket, &target.table) else {
            continue;
        };
        let clients = ctx.clients(&target.client).await;
        for state in locks.states.iter().filter(|s| s.digest == Digest::Absent) {
            let digest_id = digest_id(bucket, &state.state_key);
            if !deleted.contains(&digest_id) {
                continue;
            }
            let request = clients
                .s3
                .get_object()
                .bucket(bucket)
                .key(&state.state_key)
                .send();
            let bytes = match ctx.call_raw(request).await? {
                Ok(object) => object
                    .body
                    .collect()
                    .await
                    .map_err(|e| format!("cannot read state {}: {e}", state.state_key))?
                    .into_bytes(),
                Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => continue,
                Err(e) => {
                    return Err(format!(
                        "cannot read state {}: {}",
                        state.state_key,
                        describe(&e)
                    ));
                }
            };
            repairs.push(DigestRepair {
                client: target.client.clone(),
                table: table.clone(),
                state_key: state.state_key.clone(),
                digest_id,
                current: None,
                desired: Some(hex::encode(Md5::digest(&bytes))),
            });
        }
    }
    Ok(repairs)
}

/// MD5 of a state object as it is now; None when it does not exist.
pub async fn state_md5(
    ctx: &Context,
    client: &ClientSettings,
    bucket: &str,
    key: &str,
) -> Result<Option<String>, String> {
    let clients = ctx.clients(client).await;
    let request = clients.s3.get_object().bucket(bucket).key(key).send();
    match ctx.call_raw(request).await? {
        Ok(object) => {
            let bytes = object
                .body
                .collect()
                .await
                .map_err(|e| format!("cannot read state {key}: {e}"))?
                .into_bytes();
            Ok(Some(hex::encode(Md5::digest(&bytes))))
        }
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
        Err(e) => Err(format!("cannot read state {key}: {}", describe(&e))),
    }
}
