//! A repository plan brought up to date with what later stages decided: the
//! locks verification found, and which backends are still to migrate. Pure:
//! file texts are spliced again from the original bytes.

use super::edit::{Edit, splice};
use crate::model::locks::BackendLocks;
use crate::model::plan::Action;
use crate::model::{BackendPlan, RepoPlan};

/// Records what verification found for each backend (by index). A blocked
/// backend loses its edits, and the text of its file is rebuilt without them.
pub fn record_locks(repo: &mut RepoPlan, locks: Vec<(usize, BackendLocks)>) {
    for (i, found) in locks {
        let backend = &mut repo.backends[i];
        if found.blocked() && backend.action == Action::Migrate {
            backend.action = Action::Blocked;
        }
        backend.locks = Some(found);
    }
    rebuild_files(repo);
}

/// Recomputes each file's edits and new text from the backends still to
/// migrate and the file's own extra edits (edits never overlap, so any
/// subset splices cleanly).
pub fn rebuild_files(repo: &mut RepoPlan) {
    let mut by_path: std::collections::HashMap<&str, Vec<&BackendPlan>> =
        std::collections::HashMap::new();
    for b in repo.backends.iter().filter(|b| b.action == Action::Migrate) {
        by_path.entry(&b.path).or_default().push(b);
    }
    for file in &mut repo.files {
        let mut edits: Vec<Edit> = by_path
            .get(file.path.as_str())
            .into_iter()
            .flatten()
            .flat_map(|b| b.edits.iter().cloned())
            .collect();
        edits.extend(file.extra_edits.iter().cloned());
        if let Ok(text) = splice(&file.original, &edits) {
            file.new_text = text;
            file.edits = edits;
        }
    }
}
