//! tflock's own locks: while it rewrites backends, it holds each affected state's
//! DynamoDB lock and S3 lockfile in Terraform's format, so no Terraform run can
//! start in the middle. Every lock it takes, it releases.

use crate::verify::LockInfo;
use crate::verify::clients::{ClientSettings, Context, describe};
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
    dynamodb: bool,
    lockfile_etag: Option<String>,
}

impl HeldLock {
    pub fn describe(&self) -> String {
        format!("{}/{}", self.request.bucket, self.request.state_key)
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
    let lock_id = format!("{}/{}", r.bucket, r.state_key);
    let info = serde_json::to_string(&tflock_lock_info(&lock_id)).unwrap_or_default();
    let mut lock = HeldLock {
        request: r.clone(),
        info: info.clone(),
        dynamodb: false,
        lockfile_etag: None,
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
        match ctx.call_raw(put).await {
            Ok(Ok(_)) => lock.dynamodb = true,
            Ok(Err(e))
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                let holder = dynamodb_holder(ctx, r, table, &lock_id).await;
                return Err((
                    None,
                    format!("state {}: DynamoDB lock is held: {holder}", r.state_key),
                ));
            }
            Ok(Err(e)) => {
                return Err((
                    None,
                    format!(
                        "state {}: cannot take the DynamoDB lock: {}",
                        r.state_key,
                        describe(&e)
                    ),
                ));
            }
            Err(timeout) => {
                return Err((
                    None,
                    format!(
                        "state {}: cannot take the DynamoDB lock: {timeout}",
                        r.state_key
                    ),
                ));
            }
        }
    }
    let key = format!("{}.tflock", r.state_key);
    let put = clients
        .s3
        .put_object()
        .bucket(&r.bucket)
        .key(&key)
        .if_none_match("*")
        .content_type("application/json")
        .body(ByteStream::from(info.into_bytes()))
        .send();
    match ctx.call_raw(put).await {
        Ok(Ok(out)) => {
            lock.lockfile_etag = Some(out.e_tag().unwrap_or_default().to_string());
            Ok(lock)
        }
        Ok(Err(e)) => {
            let refused = e.raw_response().map(|r| r.status().as_u16()) == Some(412)
                || aws_sdk_s3::error::ProvideErrorMetadata::code(&e) == Some("PreconditionFailed");
            let reason = if refused {
                format!(
                    "state {}: S3 lockfile {key} exists: {}",
                    r.state_key,
                    lockfile_holder(ctx, r, &key).await
                )
            } else {
                format!(
                    "state {}: cannot create the S3 lockfile: {}",
                    r.state_key,
                    describe(&e)
                )
            };
            Err((lock.dynamodb.then_some(lock), reason))
        }
        Err(timeout) => Err((
            lock.dynamodb.then_some(lock),
            format!(
                "state {}: cannot create the S3 lockfile: {timeout}",
                r.state_key
            ),
        )),
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
/// tflock's own Info, the lockfile only if it is still tflock's (ETag). Returns
/// what could not be released.
pub async fn release_locks(ctx: &Context, held: &[HeldLock]) -> Vec<String> {
    let mut errors = Vec::new();
    for lock in held.iter().rev() {
        let r = &lock.request;
        let clients = ctx.clients(&r.client).await;
        if let Some(etag) = &lock.lockfile_etag {
            let mut delete = clients
                .s3
                .delete_object()
                .bucket(&r.bucket)
                .key(format!("{}.tflock", r.state_key));
            if !etag.is_empty() {
                delete = delete.if_match(etag);
            }
            if let Err(e) = ctx.call(delete.send()).await {
                errors.push(format!("S3 lockfile of {}: {e}", lock.describe()));
            }
        }
        if let (true, Some(table)) = (lock.dynamodb, &r.table) {
            let delete = clients
                .dynamodb
                .delete_item()
                .table_name(table)
                .key(
                    "LockID",
                    AttributeValue::S(format!("{}/{}", r.bucket, r.state_key)),
                )
                .condition_expression("#info = :info")
                .expression_attribute_names("#info", "Info")
                .expression_attribute_values(":info", AttributeValue::S(lock.info.clone()))
                .send();
            if let Err(e) = ctx.call(delete).await {
                errors.push(format!("DynamoDB lock of {}: {e}", lock.describe()));
            }
        }
    }
    errors
}
