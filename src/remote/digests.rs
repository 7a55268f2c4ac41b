//! Digest items: once a state is written without DynamoDB, its `<LockID>-md5`
//! item goes stale, and Terraform refuses the state after locking is switched
//! back ("state data in S3 does not have the expected content"). A rollback
//! rewrites each such item to the MD5 of the state as it is now.

use crate::verify::clients::{ClientSettings, Context, describe};

use crate::verify::{BackendLocks, Digest, Target};
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
    pub current: String,
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
                    digest_id: format!("{bucket}/{}-md5", state.state_key),
                    current,
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
