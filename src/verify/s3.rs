//! S3: the keys under a bucket's state prefixes (states, workspaces, lockfiles),
//! lockfile contents, and the conditional-write probe.

use super::Probe;
use super::facts::BucketFacts;
use super::lockinfo::LockInfo;
use crate::aws::{ClientSettings, Context, describe};
use aws_sdk_s3::primitives::ByteStream;

/// Above this many distinct prefixes, one listing of the whole bucket is cheaper.
const MAX_PREFIX_LISTINGS: usize = 8;

/// Lists every key under the given prefixes, with as few listings as possible.
pub async fn list_keys(
    ctx: &Context,
    settings: &ClientSettings,
    bucket: &str,
    prefixes: Vec<String>,
) -> Result<BucketFacts, String> {
    let clients = ctx.clients(settings).await;
    let mut facts = BucketFacts::default();
    for prefix in covering_prefixes(prefixes) {
        let mut token = None;
        loop {
            let request = clients
                .s3
                .list_objects_v2()
                .bucket(bucket)
                .prefix(&prefix)
                .set_continuation_token(token.take())
                .send();
            let page = ctx
                .call(request)
                .await
                .map_err(|e| format!("cannot list bucket {bucket}: {e}"))?;
            facts.keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(String::from)),
            );
            match page.next_continuation_token() {
                Some(next) if page.is_truncated() == Some(true) => token = Some(next.to_string()),
                _ => break,
            }
        }
    }
    Ok(facts)
}

/// The fewest prefixes that cover all of `prefixes` (a prefix covers every
/// longer one); the whole bucket when that would still be many listings.
fn covering_prefixes(mut prefixes: Vec<String>) -> Vec<String> {
    prefixes.sort();
    prefixes.dedup();
    let mut covering: Vec<String> = Vec::new();
    for p in prefixes {
        if !covering.last().is_some_and(|c| p.starts_with(c.as_str())) {
            covering.push(p);
        }
    }
    if covering.len() > MAX_PREFIX_LISTINGS {
        vec![String::new()]
    } else {
        covering
    }
}

/// Reads a `.tflock` object's LockInfo; a lockfile that cannot be read is still held.
pub async fn read_lockfile(
    ctx: &Context,
    settings: &ClientSettings,
    bucket: &str,
    key: &str,
) -> LockInfo {
    let clients = ctx.clients(settings).await;
    let request = clients.s3.get_object().bucket(bucket).key(key).send();
    match ctx.call(request).await {
        Ok(output) => match output.body.collect().await {
            Ok(bytes) => LockInfo::parse(&String::from_utf8_lossy(&bytes.into_bytes())),
            Err(e) => unreadable(e.to_string()),
        },
        Err(e) => unreadable(e),
    }
}

fn unreadable(reason: String) -> LockInfo {
    LockInfo {
        info: format!("lockfile could not be read: {reason}"),
        ..LockInfo::default()
    }
}

/// Puts a probe object twice with `If-None-Match: *`: the store enforces
/// conditional writes only if it refuses the second put (412). Cleans up after.
pub async fn probe(ctx: &Context, settings: &ClientSettings, bucket: &str, key: &str) -> Probe {
    let clients = ctx.clients(settings).await;
    let put = || {
        clients
            .s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .if_none_match("*")
            .body(ByteStream::from_static(b"tflock conditional-write probe"))
            .send()
    };
    let unverified = |reason: String| Probe::Unverified { reason };
    let result = match ctx.call_raw(put()).await {
        Err(timeout) => unverified(timeout),
        Ok(Err(e)) => unverified(format!("cannot write probe object {key}: {}", describe(&e))),
        Ok(Ok(_)) => match ctx.call_raw(put()).await {
            Err(timeout) => unverified(timeout),
            Ok(Ok(_)) => Probe::Ignored,
            Ok(Err(e)) => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                let code = aws_sdk_s3::error::ProvideErrorMetadata::code(&e);
                if status == Some(412) || code == Some("PreconditionFailed") {
                    Probe::Enforced
                } else {
                    unverified(format!(
                        "second probe write failed unexpectedly: {}",
                        describe(&e)
                    ))
                }
            }
        },
    };
    // The probe object must not outlive the probe, even past the deadline.
    ctx.cleanup(clients.s3.delete_object().bucket(bucket).key(key).send())
        .await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covering_prefixes_merge_and_fall_back_to_the_bucket() {
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            covering_prefixes(v(&["a/b", "a/", "env:/", "a/"])),
            v(&["a/", "env:/"])
        );
        let many: Vec<String> = (0..20).map(|i| format!("svc{i}/tf")).collect();
        assert_eq!(covering_prefixes(many), v(&[""]));
    }
}
