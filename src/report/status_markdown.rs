//! `tflock status --format markdown`: the same facts as the JSON (phases, lock
//! tables, the digest tripwire), for a change ticket or a pull request.

use super::status::phase_label;
use crate::model::status::Status;
use std::fmt::Write;

pub fn render(status: &Status) -> String {
    let mut md = String::from("## tflock status\n\n### Backends\n\n");
    md.push_str("| phase | backend | table |\n| --- | --- | --- |\n");
    for b in &status.backends {
        let phase = phase_label(b.phase);
        let _ = writeln!(
            md,
            "| {phase} | `{}:{}` ({}) | {} |",
            b.file,
            b.line,
            b.kind,
            b.table.as_deref().unwrap_or("-")
        );
    }
    md.push_str("\n### Lock tables\n\n");
    if status.tables.is_empty() {
        md.push_str("No DynamoDB lock tables found.\n");
    } else {
        md.push_str(
            "| lock table | region | referenced by | active locks | digest items | verdict |\n\
             | --- | --- | --- | --- | --- | --- |\n",
        );
        let count = |n: Option<usize>| n.map_or("?".to_string(), |n| n.to_string());
        for t in &status.tables {
            let refs = if t.referenced_by.is_empty() {
                "-".to_string()
            } else {
                t.referenced_by
                    .iter()
                    .map(|r| format!("`{r}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let _ = writeln!(
                md,
                "| {} | {} | {refs} | {} | {} | {} |",
                t.table,
                t.region,
                count(t.active_locks),
                count(t.digest_items),
                t.verdict
            );
        }
    }
    md.push('\n');
    md.push_str(&super::digests::markdown(&status.digests));
    md
}
