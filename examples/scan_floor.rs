//! The floor under `tflock plan`'s speed: tflock's own walk, doing a stated part
//! of a plan's per-file work and nothing after the walk. Run by
//! `scripts/bench-floor.sh`, which times each part against the whole plan and
//! `rg -l dynamodb_table` on the same tree.
//!
//! ```text
//! cargo run --release --example scan_floor -- list|read|plan [PATH]
//! ```
//!
//! - `list`: git's listing of the tree and the walk over it; every file tflock
//!   would read is opened (that open tells a file from a link), none is read.
//! - `read`: and each of those files read, and searched for the bytes that
//!   make it worth parsing.
//! - `plan`: and each one worth it planned through `tflock::plan_bytes`:
//!   decoded, parsed with hcl-edit, planned, spliced and rechecked (the rewrite
//!   parsed again and planned to no change: invariant 3). This is the work of
//!   the walk in every plan. Not included: the CI and version facts the real
//!   walk also gathers, and everything after the walk (resolving states,
//!   Terragrunt units, the preflight's pin files and verdicts, next steps, the
//!   JSON). So the whole plan can only be slower than `plan`.
//!
//! It prints how many files it saw, read and planned, to standard error.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use tflock::discover::{self, Selection};
use tflock::plan::Strategy;

// The binary's allocator, so that the parts cost what they cost in `tflock`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Clone, Copy, PartialEq)]
enum Part {
    List,
    Read,
    Plan,
}

fn main() {
    let mut args = std::env::args().skip(1);
    let part = match args.next().as_deref() {
        Some("list") => Part::List,
        Some("read") => Part::Read,
        Some("plan") => Part::Plan,
        _ => {
            eprintln!("usage: scan_floor list|read|plan [PATH]");
            std::process::exit(2);
        }
    };
    let root = PathBuf::from(args.next().unwrap_or_else(|| ".".into()));
    let cwd = std::env::current_dir().expect("the current directory");
    let seen = AtomicUsize::new(0);
    let read = AtomicUsize::new(0);
    let planned = AtomicUsize::new(0);
    let walked = discover::walk(
        &[root],
        &cwd,
        &Selection::default(),
        None,
        |candidate, _link, opened| {
            seen.fetch_add(1, Ordering::Relaxed);
            if part == Part::List {
                return None;
            }
            let bytes = tflock::scan::read_candidate(opened, &candidate.path)
                .ok()?
                .ok()?;
            read.fetch_add(1, Ordering::Relaxed);
            if part == Part::Read || discover::worth_parsing(candidate.kind, &bytes).is_err() {
                return None;
            }
            let outcome = tflock::plan_bytes(candidate, bytes, Strategy::Replace)?;
            planned.fetch_add(1, Ordering::Relaxed);
            Some(outcome)
        },
    );
    eprintln!(
        "{} files seen, {} read, {} planned ({} with a plan)",
        seen.into_inner(),
        read.into_inner(),
        planned.into_inner(),
        walked.found.len()
    );
}
