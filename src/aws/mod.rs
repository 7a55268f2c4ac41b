//! The AWS core: the one place that builds AWS clients and sends requests through
//! them, for `verify` (reads) and `remote` (writes) alike: the settings of a run
//! (timeout, concurrency), the async runtime and request counter of a command,
//! the guard rails every call passes (bound, timeout, deadline, count), error
//! lines, and the names Terraform gives lock items, digest items and lockfiles.
//! It decides nothing: what a lock or an error means is the caller's policy.

mod clients;
mod context;
mod errors;
mod session;

pub(crate) use context::Context;
pub(crate) use errors::describe;
pub use session::Session;

pub use crate::model::lock_ids::{
    DIGEST_SUFFIX, LOCKFILE_SUFFIX, digest_id, lock_id, lockfile_key,
};
pub use crate::resolve::targets::ClientSettings;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// How the AWS calls of one command run.
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
