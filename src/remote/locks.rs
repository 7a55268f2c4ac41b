//! tflock's own locks: while it rewrites backends, it holds each affected state's
//! DynamoDB lock and S3 lockfile in Terraform's format, so no Terraform run can
//! start in the middle. Every lock it takes, it releases.

use crate::aws::{ClientSettings, Context, describe, lock_id, lockfile_key};
use crate::model::lockinfo::LockInfo;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_s3::primitives::ByteStream;

/// A state to lock.
#[derive(Debug, Clone)]
pub struct LockRequest {
    pub client: ClientSettings,
    pub bucket: String,
    pub table: Option<String>,
    pub state_key: String,
}

/// A lock tflock holds; released with `release_locks`.
#[derive(Debug, Clone)]
pub struct HeldLock {
    pub request: LockRequest,
    info: String,
    /// The DynamoDB item may be tflock's (taken, or a put whose answer was lost):
    /// release deletes it only if it still holds tflock's `Info`.
    dynamodb: bool,
    lockfile: Lockfile,
}

/// What tflock knows of the S3 lockfile it tried to create.
#[derive(Debug, Clone, PartialEq)]
enum Lockfile {
    NotTaken,
    /// Created; its ETag.
    Taken(String),
    /// The put's answer was lost: it may exist; release checks its body first.
    Uncertain,
}

impl HeldLock {
    pub fn describe(&self) -> String {
        lock_id(&self.request.bucket, &self.request.state_key)
    }
}

/// The LockInfo tflock writes: Terraform's format, naming tflock as the operation.
fn tflock_lock_info(path: &str) -> LockInfo {
    let now = std::time::SystemTime::now();
    let nanos = now
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let hex = format!("{:032x}", nanos ^ ((std::process::id() as u128) << 64));
    let user = std::env::var("USER").unwrap_or_else(|_| "tflock".into());
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    LockInfo {
        id: format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        ),
        operation: "tflock-migration".into(),
        info: "tflock apply is rewriting this backend's configuration".into(),
        who: format!("{user}@{host}"),
        version: format!("tflock {}", env!("CARGO_PKG_VERSION")),
        created: humantime::format_rfc3339_nanos(now).to_string(),
        path: path.into(),
    }
}

/// Takes the DynamoDB lock and the S3 lockfile of every state, in order. If any
/// cannot be taken, every lock already taken is released and the reason returned.
pub async fn take_locks(ctx: &Context, requests: &[LockRequest]) -> Result<Vec<HeldLock>, String> {
    let mut held: Vec<HeldLock> = Vec::new();
    for request in requests {
        match take_one(ctx, request).await {
            Ok(lock) => held.push(lock),
            Err((partial, reason)) => {
                held.extend(partial);
                let release_errors = release_locks(ctx, &held).await;
                let mut message = reason;
                if !release_errors.is_empty() {
                    message.push_str(&format!(
                        "; and some locks tflock took could not be released: {}",
                        release_errors.join("; ")
                    ));
                }
                return Err(message);
            }
        }
    }
    Ok(held)
}

async fn take_one(ctx: &Context, r: &LockRequest) -> Result<HeldLock, (Option<HeldLock>, String)> {
    let clients = ctx.clients(&r.client).await;
    let lock_id = lock_id(&r.bucket, &r.state_key);
    let info = serde_json::to_string(&tflock_lock_info(&lock_id)).unwrap_or_default();
    let mut lock = HeldLock {
        request: r.clone(),
        info: info.clone(),
        dynamodb: false,
        lockfile: Lockfile::NotTaken,
    };
    if let Some(table) = &r.table {
        let put = clients
            .dynamodb
            .put_item()
            .table_name(table)
            .item("LockID", AttributeValue::S(lock_id.clone()))
            .item("Info", AttributeValue::S(info.clone()))
            .condition_expression("attribute_not_exists(LockID)")
            .send();
        let failure = match ctx.call_raw(put).await {
            Ok(Ok(_)) => None,
            Ok(Err(e))
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                // A retry can meet the item its own first attempt wrote.
                match dynamodb_info(ctx, r, table, &lock_id).await {
                    Ok(Some(current)) if current == info => None,
                    _ => {
                        let holder = dynamodb_holder(ctx, r, table, &lock_id).await;
                        return Err((
                            None,
                            format!("state {}: DynamoDB lock is held: {holder}", r.state_key),
                        ));
                    }
                }
            }
            Ok(Err(e)) => Some(describe(&e)),
            Err(timeout) => Some(timeout),
        };
        // Taken, or perhaps taken with the answer lost: either way it is released
        // (conditionally on tflock's own Info) if anything fails from here on.
        lock.dynamodb = true;
        if let Some(why) = failure {
            return Err((
                Some(lock),
                format!(
                    "state {}: cannot take the DynamoDB lock: {why}",
                    r.state_key
                ),
            ));
        }
    }
    let key = lockfile_key(&r.state_key);
    let put = clients
        .s3
        .put_object()
        .bucket(&r.bucket)
        .key(&key)
        .if_none_match("*")
        .content_type("application/json")
        .body(ByteStream::from(info.clone().into_bytes()))
        .send();
    let held =
        |lock: HeldLock| (lock.dynamodb || lock.lockfile != Lockfile::NotTaken).then_some(lock);
    match ctx.call_raw(put).await {
        Ok(Ok(out)) => {
            lock.lockfile = Lockfile::Taken(out.e_tag().unwrap_or_default().to_string());
            Ok(lock)
        }
        Ok(Err(e)) => {
            let refused = e.raw_response().map(|r| r.status().as_u16()) == Some(412)
                || aws_sdk_s3::error::ProvideErrorMetadata::code(&e) == Some("PreconditionFailed");
            if !refused {
                lock.lockfile = Lockfile::Uncertain;
                let why = describe(&e);
                return Err((
                    held(lock),
                    format!(
                        "state {}: cannot create the S3 lockfile: {why}",
                        r.state_key
                    ),
                ));
            }
            // A retry can meet the lockfile its own first attempt wrote.
            if let Ok(Some((body, etag))) = lockfile_state(ctx, r, &key).await
                && body == info
            {
                lock.lockfile = Lockfile::Taken(etag);
                return Ok(lock);
            }
            let reason = format!(
                "state {}: S3 lockfile {key} exists: {}",
                r.state_key,
                lockfile_holder(ctx, r, &key).await
            );
            Err((held(lock), reason))
        }
        Err(timeout) => {
            lock.lockfile = Lockfile::Uncertain;
            Err((
                held(lock),
                format!(
                    "state {}: cannot create the S3 lockfile: {timeout}",
                    r.state_key
                ),
            ))
        }
    }
}

/// The `Info` of a DynamoDB lock item now (None: there is none).
async fn dynamodb_info(
    ctx: &Context,
    r: &LockRequest,
    table: &str,
    lock_id: &str,
) -> Result<Option<String>, String> {
    let clients = ctx.clients(&r.client).await;
    let get = clients
        .dynamodb
        .get_item()
        .table_name(table)
        .key("LockID", AttributeValue::S(lock_id.into()))
        .consistent_read(true)
        .send();
    let out = ctx.call(get).await?;
    Ok(out
        .item()
        .and_then(|i| i.get("Info"))
        .and_then(|v| v.as_s().ok())
        .cloned())
}

/// A lockfile's body and ETag now (None: there is none).
async fn lockfile_state(
    ctx: &Context,
    r: &LockRequest,
    key: &str,
) -> Result<Option<(String, String)>, String> {
    let clients = ctx.clients(&r.client).await;
    match ctx
        .call_raw(clients.s3.get_object().bucket(&r.bucket).key(key).send())
        .await?
    {
        Ok(out) => {
            let etag = out.e_tag().unwrap_or_default().to_string();
            let bytes = out
                .body
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .into_bytes();
            Ok(Some((String::from_utf8_lossy(&bytes).into_owned(), etag)))
        }
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
        Err(e) => Err(describe(&e)),
    }
}

async fn dynamodb_holder(ctx: &Context, r: &LockRequest, table: &str, lock_id: &str) -> String {
    let clients = ctx.clients(&r.client).await;
    let get = clients
        .dynamodb
        .get_item()
        .table_name(table)
        .key("LockID", AttributeValue::S(lock_id.into()))
        .consistent_read(true)
        .send();
    match ctx.call(get).await {
        Ok(out) => match out
            .item()
            .and_then(|i| i.get("Info"))
            .and_then(|v| v.as_s().ok())
        {
            Some(info) => LockInfo::parse(info).describe(std::time::SystemTime::now()),
            None => "held by someone (the lock item has no Info)".into(),
        },
        Err(e) => format!("held by someone (cannot read the lock: {e})"),
    }
}

async fn lockfile_holder(ctx: &Context, r: &LockRequest, key: &str) -> String {
    let clients = ctx.clients(&r.client).await;
    match ctx
        .call(clients.s3.get_object().bucket(&r.bucket).key(key).send())
        .await
    {
        Ok(out) => match out.body.collect().await {
            Ok(bytes) => LockInfo::parse(&String::from_utf8_lossy(&bytes.into_bytes()))
                .describe(std::time::SystemTime::now()),
            Err(e) => format!("held by someone (cannot read it: {e})"),
        },
        Err(e) => format!("held by someone (cannot read it: {e})"),
    }
}

/// Releases every lock tflock took: the DynamoDB item only if it still holds
/// tflock's own Info, the lockfile only if it is still tflock's (ETag, or its
/// body when the put's answer was lost). A lock already gone, or no longer
/// tflock's, counts as released (a retried release meets its own success).
/// Returns what could not be released.
pub async fn release_locks(ctx: &Context, held: &[HeldLock]) -> Vec<String> {
    let mut errors = Vec::new();
    for lock in held.iter().rev() {
        let r = &lock.request;
        let clients = ctx.clients(&r.client).await;
        let key = lockfile_key(&r.state_key);
        let etag = match &lock.lockfile {
            Lockfile::NotTaken => None,
            Lockfile::Taken(etag) => Some(etag.clone()),
            Lockfile::Uncertain => match lockfile_state(ctx, r, &key).await {
                Ok(Some((body, etag))) if body == lock.info => Some(etag),
                Ok(_) => None,
                Err(e) => {
                    errors.push(format!("S3 lockfile of {}: {e}", lock.describe()));
                    None
                }
            },
        };
        if let Some(etag) = etag {
            let mut delete = clients.s3.delete_object().bucket(&r.bucket).key(&key);
            if !etag.is_empty() {
                delete = delete.if_match(etag);
            }
            match ctx.call_raw(delete.send()).await {
                Ok(Ok(_)) => {}
                Ok(Err(e))
                    if matches!(
                        e.raw_response().map(|r| r.status().as_u16()),
                        Some(404 | 412)
                    ) => {}
                Ok(Err(e)) => {
                    if still_my_lockfile(ctx, lock, &key).await {
                        errors.push(format!(
                            "S3 lockfile of {}: {}",
                            lock.describe(),
                            describe(&e)
                        ))
                    }
                }
                Err(timeout) => {
                    if still_my_lockfile(ctx, lock, &key).await {
                        errors.push(format!("S3 lockfile of {}: {timeout}", lock.describe()))
                    }
                }
            }
        }
        if let (true, Some(table)) = (lock.dynamodb, &r.table) {
            let delete = clients
                .dynamodb
                .delete_item()
                .table_name(table)
                .key(
                    "LockID",
                    AttributeValue::S(lock_id(&r.bucket, &r.state_key)),
                )
                .condition_expression("#info = :info")
                .expression_attribute_names("#info", "Info")
                .expression_attribute_values(":info", AttributeValue::S(lock.info.clone()))
                .send();
            match ctx.call_raw(delete).await {
                Ok(Ok(_)) => {}
                Ok(Err(e))
                    if e.as_service_error()
                        .is_some_and(|s| s.is_conditional_check_failed_exception()) => {}
                Ok(Err(e)) => {
                    if still_my_item(ctx, lock, table).await {
                        errors.push(format!(
                            "DynamoDB lock of {}: {}",
                            lock.describe(),
                            describe(&e)
                        ))
                    }
                }
                Err(timeout) => {
                    if still_my_item(ctx, lock, table).await {
                        errors.push(format!("DynamoDB lock of {}: {timeout}", lock.describe()))
                    }
                }
            }
        }
    }
    errors
}

/// After a failed or unanswered lockfile delete: whether the lockfile is still
/// tflock's (the delete may have landed with its answer lost or late). A
/// lockfile that cannot be read counts as still held: unknown is locked.
async fn still_my_lockfile(ctx: &Context, lock: &HeldLock, key: &str) -> bool {
    match lockfile_state(ctx, &lock.request, key).await {
        Ok(Some((body, _))) => body == lock.info,
        Ok(None) => false,
        Err(_) => true,
    }
}

/// The same for the DynamoDB lock item.
async fn still_my_item(ctx: &Context, lock: &HeldLock, table: &str) -> bool {
    let lock_id = lock_id(&lock.request.bucket, &lock.request.state_key);
    match dynamodb_info(ctx, &lock.request, table, &lock_id).await {
        Ok(Some(info)) => info == lock.info,
        Ok(None) => false,
        Err(_) => true,
    }
}
