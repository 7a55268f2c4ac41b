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
    let mut by_path: foldhash::HashMap<&str, Vec<&BackendPlan>> = foldhash::HashMap::default();
    for b in repo.backends.iter().filter(|b| b.action == Action::Migrate) {
        by_path.entry(&b.path).or_default().push(b);
    }
    for file in &mut repo.files {
        let planned = by_path
            .get(file.path.as_str())
            .into_iter()
            .flatten()
            .flat_map(|b| b.edits.iter())
            .chain(&file.extra_edits);
        // Most files keep the edits they were planned with, and their text.
        if planned.clone().eq(&file.edits) {
            continue;
        }
        let edits: Vec<Edit> = planned.cloned().collect();
        if let Ok(text) = splice(&file.original, &edits) {
            file.new_text = text;
            file.edits = edits;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::FileKind;
    use crate::model::FileOutcome;

    fn planned(repo: &mut RepoPlan, name: &str, text: &str) {
        let candidate = crate::fuzzing::candidate(name, FileKind::Terraform);
        let outcome = crate::file_pipeline::plan_bytes(
            candidate,
            text.as_bytes().to_vec(),
            crate::plan::Strategy::Replace,
        );
        let Some(FileOutcome::Planned(file, backends)) = outcome else {
            panic!("{name} was not planned");
        };
        repo.files.push(file);
        repo.backends.extend(backends);
    }

    #[test]
    fn a_blocked_backend_leaves_its_file_as_it_was_and_the_others_keep_their_text() {
        let text = |key: &str| {
            format!(
                "terraform {{\n  backend \"s3\" {{\n    bucket         = \"b\"\n    key            = \"{key}\"\n    dynamodb_table = \"t\"\n  }}\n}}\n"
            )
        };
        let mut repo = RepoPlan::default();
        planned(&mut repo, "a/main.tf", &text("a"));
        planned(&mut repo, "b/main.tf", &text("b"));
        let before: Vec<String> = repo.files.iter().map(|f| f.new_text.clone()).collect();
        assert!(repo.files.iter().all(|f| f.changed()));
        rebuild_files(&mut repo);
        let after: Vec<String> = repo.files.iter().map(|f| f.new_text.clone()).collect();
        assert_eq!(after, before, "nothing changed, nothing rebuilt");
        repo.backends[0].action = Action::Blocked;
        rebuild_files(&mut repo);
        assert_eq!(repo.files[0].new_text, repo.files[0].original);
        assert!(repo.files[0].edits.is_empty());
        assert_eq!(repo.files[1].new_text, before[1]);
    }
}
