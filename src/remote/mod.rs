//! The remote side of apply and rollback: DynamoDB digest items, and the
//! Terraform-format locks tflock holds while it writes. Like `verify`, it talks
//! to AWS only through the `aws` core and reports; it never decides what to do
//! (the CLI does), and it never reads or writes user files.

mod digests;
mod locks;

pub use digests::{DeletionOutcome, DigestDeletion, DigestRepair, deletions};
pub use locks::{HeldLock, LockRequest};

use crate::aws::{ClientSettings, Context, Options, RequestCounter, describe};
use crate::model::locks::BackendLocks;
use crate::resolve::targets::Target;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The digest items that differ from their state's MD5 now (read-only).
pub async fn plan_digest_repairs(
    backends: &[(Target, BackendLocks)],
    options: &Options,
    counter: Arc<RequestCounter>,
) -> Result<Vec<DigestRepair>, String> {
    digests::plan_digest_repairs(&Context::new(options.clone(), counter), backends).await
}

/// Writes the repaired digest items (or deletes those whose state is gone).
pub async fn apply_digest_repairs(
    repairs: &[DigestRepair],
    options: &Options,
    counter: Arc<RequestCounter>,
) -> Result<usize, String> {
    digests::apply_digest_repairs(&Context::new(options.clone(), counter), repairs).await
}

/// Deletes digest items, each on the condition that it still holds the value read.
pub async fn delete_digests(
    deletions: &[DigestDeletion],
    options: &Options,
    counter: Arc<RequestCounter>,
) -> Vec<(DigestDeletion, DeletionOutcome)> {
    digests::delete_digests(&Context::new(options.clone(), counter), deletions).await
}

/// For rollback: digest items tflock deleted (by LockID) that are still absent,
/// rewritten from the state objects as they are now.
pub async fn plan_digest_restores(
    backends: &[(Target, BackendLocks)],
    deleted: &std::collections::BTreeSet<String>,
    options: &Options,
    counter: Arc<RequestCounter>,
) -> Result<Vec<DigestRepair>, String> {
    digests::plan_digest_restores(&Context::new(options.clone(), counter), backends, deleted).await
}

/// MD5 of each state object now (None: it does not exist), in order.
pub async fn state_md5s(
    states: Vec<(ClientSettings, String, String)>,
    options: &Options,
    counter: Arc<RequestCounter>,
) -> Vec<Result<Option<String>, String>> {
    let ctx = Context::new(options.clone(), counter);
    let mut out = Vec::with_capacity(states.len());
    for (client, bucket, key) in &states {
        out.push(digests::state_md5(&ctx, client, bucket, key).await);
    }
    out
}

/// `GetBucketVersioning` per bucket: `Enabled`, `Suspended`, or None (never enabled).
pub async fn bucket_versioning(
    buckets: Vec<(ClientSettings, String)>,
    options: &Options,
    counter: Arc<RequestCounter>,
) -> BTreeMap<String, Result<Option<String>, String>> {
    let ctx = Context::new(options.clone(), counter);
    let jobs = buckets.into_iter().map(|(client, bucket)| {
        let ctx = ctx.clone();
        async move {
            let clients = ctx.clients(&client).await;
            let request = clients.s3.get_bucket_versioning().bucket(&bucket).send();
            let result = match ctx.call_raw(request).await {
                Ok(Ok(out)) => Ok(out.status().map(|s| s.as_str().to_string())),
                // A 200 whose body the SDK cannot read (S3-compatible stores name
                // the root element differently): read the status from the body.
                Ok(Err(e)) if e.raw_response().is_some_and(|r| r.status().as_u16() == 200) => {
                    let body = e
                        .raw_response()
                        .and_then(|r| r.body().bytes())
                        .map(|b| String::from_utf8_lossy(b).into_owned())
                        .unwrap_or_default();
                    Ok(["Enabled", "Suspended"]
                        .into_iter()
                        .find(|s| body.contains(&format!("<Status>{s}</Status>")))
                        .map(String::from))
                }
                Ok(Err(e)) => Err(describe(&e)),
                Err(timeout) => Err(timeout),
            };
            (bucket, result)
        }
    });
    ctx.run_all(jobs).await.into_iter().collect()
}

/// How a write under tflock's locks ended.
#[derive(Debug)]
pub struct Held<R> {
    /// What the write returned.
    pub result: R,
    /// Locks that could not be released (named, for the user to remove).
    pub release_errors: Vec<String>,
    /// Ctrl-C arrived while the locks were held; the write finished first.
    pub interrupted: bool,
}

/// Takes every state's locks, runs `write`, and releases them, whatever happens:
/// also when `write` fails and when Ctrl-C arrives (the write is let finish, since
/// each file write is atomic, then the locks are released). If a lock cannot be
/// taken, the ones taken are released and `write` never runs.
pub async fn with_locks<R: Send + 'static>(
    requests: &[LockRequest],
    options: &Options,
    counter: Arc<RequestCounter>,
    write: impl FnOnce() -> R + Send + 'static,
) -> Result<Held<R>, String> {
    let ctx = Context::new(options.clone(), counter);
    let interrupted = Arc::new(AtomicBool::new(false));
    let flag = interrupted.clone();
    let listener = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            flag.store(true, Ordering::SeqCst);
        }
    });
    let held = match locks::take_locks(&ctx, requests).await {
        Ok(held) => held,
        Err(reason) => {
            listener.abort();
            return Err(reason);
        }
    };
    test_gate("hold").await;
    let result = tokio::task::spawn_blocking(write).await;
    let release_errors = locks::release_locks(&ctx, &held).await;
    listener.abort();
    match result {
        Ok(result) => Ok(Held {
            result,
            release_errors,
            interrupted: interrupted.load(Ordering::SeqCst),
        }),
        Err(e) => Err(format!(
            "the write failed unexpectedly: {e}; locks released"
        )),
    }
}

/// Where a test stops a run to act while it waits (race a lock, write a
/// digest, send a signal). `TFLOCK_TEST_GATE=<point>:<folder>` stops the run at
/// `point`: tflock creates `<point>.reached` in the folder, then waits until the
/// test creates `<point>.open` there (two minutes at most). A gate, not a timed
/// pause: what the test does in between takes as long as it takes on a loaded
/// machine. Without the variable, or at another point, nothing happens.
pub(crate) async fn test_gate(point: &str) {
    let Some(setting) = std::env::var_os("TFLOCK_TEST_GATE") else {
        return;
    };
    let setting = setting.to_string_lossy();
    let Some(folder) = setting
        .split_once(':')
        .filter(|(at, _)| *at == point)
        .map(|(_, folder)| std::path::PathBuf::from(folder))
    else {
        return;
    };
    let _ = std::fs::write(folder.join(format!("{point}.reached")), "");
    let open = folder.join(format!("{point}.open"));
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !open.exists() && std::time::Instant::now() < give_up {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
