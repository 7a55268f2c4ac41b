//! Table-driven tests of the planner: parsed text in, rewritten text out.

use super::*;
use crate::discover::FileKind;

fn planned(kind: FileKind, text: &str, strategy: Strategy) -> (Vec<Action>, String) {
    let source = Source::new(text.to_string());
    let backends = crate::parse::parse(kind, &source).unwrap();
    let mut actions = Vec::new();
    let mut edits = Vec::new();
    for b in &backends {
        let (action, e) = plan_backend(&source, b, strategy).unwrap();
        actions.push(action);
        edits.extend(e);
    }
    (actions, splice(text, &edits).unwrap())
}

fn remote_state(rows: &str) -> String {
    format!("remote_state {{\n  backend = \"s3\"\n  config = {{\n{rows}  }}\n}}\n")
}

#[test]
fn lock_table_is_a_table() {
    let cases: &[(Strategy, &str, &str)] = &[
        (
            Strategy::Replace,
            "    bucket     = \"b\"\n    lock_table = \"t\"\n",
            "    bucket       = \"b\"\n    use_lockfile = true\n",
        ),
        (
            Strategy::Dual,
            "    bucket     = \"b\"\n    lock_table = \"t\"\n",
            "    bucket       = \"b\"\n    lock_table   = \"t\"\n    use_lockfile = true\n",
        ),
        (
            Strategy::Replace,
            "    dynamodb_table = \"t\"\n    lock_table     = \"t\"\n    encrypt        = true\n",
            "    use_lockfile = true\n    encrypt      = true\n",
        ),
    ];
    for (strategy, before, after) in cases {
        let (actions, text) = planned(FileKind::Terragrunt, &remote_state(before), *strategy);
        assert_eq!(actions, [Action::Migrate], "{before}");
        assert_eq!(text, remote_state(after), "{strategy:?}: {before}");
    }
}

#[test]
fn replace_drops_terragrunt_lock_table_keys_and_dual_keeps_them() {
    let before = remote_state(
        "    dynamodb_table                 = \"t\"\n    dynamodb_table_tags            = { a = \"b\" }\n    enable_lock_table_ssencryption = true\n",
    );
    let (_, replaced) = planned(FileKind::Terragrunt, &before, Strategy::Replace);
    assert_eq!(replaced, remote_state("    use_lockfile = true\n"));
    let (_, dual) = planned(FileKind::Terragrunt, &before, Strategy::Dual);
    assert!(dual.contains("dynamodb_table_tags") && dual.contains("use_lockfile"));
    // Without a table there is nothing to migrate, and the tags stay.
    let tags_only =
        remote_state("    bucket              = \"b\"\n    dynamodb_table_tags = { a = \"b\" }\n");
    let (actions, text) = planned(FileKind::Terragrunt, &tags_only, Strategy::Replace);
    assert_eq!((actions, text), (vec![Action::None], tags_only));
}
