//! Table-style unit tests of the planner: input text -> actions and output text,
//! one rule per test. Each case also proves the output parses again and plans
//! no further change (invariant 3).

use super::*;
use crate::discover::FileKind;
use crate::parse;

/// Plans every backend of `text` and splices the edits: the actions and the text.
fn migrate(kind: FileKind, text: &str, strategy: Strategy) -> (Vec<Action>, String) {
    let source = Source::new(text.to_string());
    let backends = parse::parse(kind, &source).expect("input parses");
    let mut actions = Vec::new();
    let mut edits = Vec::new();
    for backend in &backends {
        let (action, backend_edits) = plan_backend(&source, backend, strategy).expect("plans");
        actions.push(action);
        edits.extend(backend_edits);
    }
    (actions, splice(text, &edits).expect("edits do not overlap"))
}

/// `input` becomes `expected` (one migrated backend), and a second run changes nothing.
fn case(kind: FileKind, strategy: Strategy, input: &str, expected: &str) {
    let (actions, out) = migrate(kind, input, strategy);
    assert_eq!(actions, [Action::Migrate], "input:\n{input}");
    assert_eq!(
        out, expected,
        "\n--- got:\n{out}\n--- expected:\n{expected}"
    );
    let (again, same) = migrate(kind, &out, strategy);
    assert!(
        again.iter().all(|a| *a == Action::AlreadyMigrated),
        "second run: {again:?}"
    );
    assert_eq!(same, out, "second run changed the output");
}

/// `input` plans `action` for its only backend and no edit.
fn unchanged(kind: FileKind, strategy: Strategy, input: &str, action: Action) {
    let (actions, out) = migrate(kind, input, strategy);
    assert_eq!(actions, [action]);
    assert_eq!(out, input);
}

const TF: FileKind = FileKind::Terraform;
const TF_JSON: FileKind = FileKind::TerraformJson;
const TG: FileKind = FileKind::Terragrunt;
const TG_JSON: FileKind = FileKind::TerragruntJson;
const TFBACKEND: FileKind = FileKind::Tfbackend;
use Strategy::{Dual, Replace};

// ---- HCL blocks: what changes -------------------------------------------------

#[test]
fn replace_puts_the_lockfile_where_the_table_stood_and_realigns_the_group() {
    case(
        TF,
        Replace,
        "terraform {\n  backend \"s3\" {\n    bucket         = \"b\"\n    key            = \"k\"\n    dynamodb_table = \"locks\"\n    region         = \"eu-west-1\"\n  }\n}\n",
        "terraform {\n  backend \"s3\" {\n    bucket       = \"b\"\n    key          = \"k\"\n    use_lockfile = true\n    region       = \"eu-west-1\"\n  }\n}\n",
    );
}

#[test]
fn dual_adds_the_lockfile_after_the_table_in_its_alignment() {
    case(
        TF,
        Dual,
        "terraform {\n  backend \"s3\" {\n    bucket         = \"b\"\n    dynamodb_table = \"locks\"\n    region         = \"eu-west-1\"\n  }\n}\n",
        "terraform {\n  backend \"s3\" {\n    bucket         = \"b\"\n    dynamodb_table = \"locks\"\n    use_lockfile   = true\n    region         = \"eu-west-1\"\n  }\n}\n",
    );
}

#[test]
fn dual_makes_a_false_lockfile_true_in_place() {
    case(
        TF,
        Dual,
        "terraform {\n  backend \"s3\" {\n    dynamodb_table = \"locks\"\n    use_lockfile   = false\n  }\n}\n",
        "terraform {\n  backend \"s3\" {\n    dynamodb_table = \"locks\"\n    use_lockfile   = true\n  }\n}\n",
    );
}

#[test]
fn replace_with_a_lockfile_already_true_only_deletes_the_table() {
    case(
        TF,
        Replace,
        "terraform {\n  backend \"s3\" {\n    bucket         = \"b\"\n    use_lockfile   = true\n    dynamodb_table = \"locks\"\n  }\n}\n",
        "terraform {\n  backend \"s3\" {\n    bucket       = \"b\"\n    use_lockfile = true\n  }\n}\n",
    );
}

#[test]
fn replace_with_a_false_lockfile_sets_it_and_deletes_the_table() {
    case(
        TF,
        Replace,
        "terraform {\n  backend \"s3\" {\n    use_lockfile   = false\n    dynamodb_table = \"locks\"\n  }\n}\n",
        "terraform {\n  backend \"s3\" {\n    use_lockfile = true\n  }\n}\n",
    );
}

#[test]
fn a_table_given_by_an_expression_is_replaced_too() {
    case(
        TF,
        Replace,
        "terraform {\n  backend \"s3\" {\n    dynamodb_table = var.table\n  }\n}\n",
        "terraform {\n  backend \"s3\" {\n    use_lockfile = true\n  }\n}\n",
    );
}

#[test]
fn a_backend_without_dynamodb_is_left_alone() {
    unchanged(
        TF,
        Replace,
        "terraform {\n  backend \"s3\" {\n    bucket = \"b\"\n  }\n}\n",
        Action::None,
    );
    unchanged(
        TF,
        Dual,
        "terraform {\n  backend \"s3\" {\n    bucket = \"b\"\n  }\n}\n",
        Action::None,
    );
}

#[test]
fn a_migrated_backend_plans_nothing_under_either_strategy() {
    let replaced = "terraform {\n  backend \"s3\" {\n    use_lockfile = true\n  }\n}\n";
    unchanged(TF, Replace, replaced, Action::AlreadyMigrated);
    unchanged(TF, Dual, replaced, Action::AlreadyMigrated);
    let dual = "terraform {\n  backend \"s3\" {\n    dynamodb_table = \"t\"\n    use_lockfile   = true\n  }\n}\n";
    unchanged(TF, Dual, dual, Action::AlreadyMigrated);
}

// ---- HCL blocks: how it is spelled --------------------------------------------

#[test]
fn a_blank_line_ends_the_alignment_group() {
    case(
        TF,
        Replace,
        "terraform {\n  backend \"s3\" {\n    workspace_key_prefix = \"env\"\n\n    bucket         = \"b\"\n    dynamodb_table = \"locks\"\n  }\n}\n",
        "terraform {\n  backend \"s3\" {\n    workspace_key_prefix = \"env\"\n\n    bucket       = \"b\"\n    use_lockfile = true\n  }\n}\n",
    );
}

#[test]
fn a_trailing_comment_on_the_replaced_line_is_kept() {
    // Only the attribute is edited (invariant 1); the comment is the user's.
    case(
        TF,
        Replace,
        "terraform {\n  backend \"s3\" {\n    bucket         = \"b\"\n    dynamodb_table = \"locks\" # the old lock\n  }\n}\n",
        "terraform {\n  backend \"s3\" {\n    bucket       = \"b\"\n    use_lockfile = true # the old lock\n  }\n}\n",
    );
}

#[test]
fn a_deleted_row_takes_its_trailing_comment_and_line() {
    case(
        TF,
        Replace,
        "terraform {\n  backend \"s3\" {\n    dynamodb_table    = \"locks\"\n    dynamodb_endpoint = \"http://ddb\" # local\n    region            = \"eu-west-1\"\n  }\n}\n",
        "terraform {\n  backend \"s3\" {\n    use_lockfile = true\n    region       = \"eu-west-1\"\n  }\n}\n",
    );
}

#[test]
fn trailing_comments_of_other_rows_stay_and_realign() {
    case(
        TF,
        Replace,
        "terraform {\n  backend \"s3\" {\n    bucket         = \"b\"     # the bucket\n    dynamodb_table = \"locks\"\n  }\n}\n",
        "terraform {\n  backend \"s3\" {\n    bucket       = \"b\"     # the bucket\n    use_lockfile = true\n  }\n}\n",
    );
}

#[test]
fn a_table_given_by_a_heredoc_becomes_one_lockfile_row() {
    // The heredoc's opener line is a row of its group (as hclwrite counts it);
    // its new width is that of the one line left, whatever the heredoc spanned.
    case(
        TF,
        Replace,
        "terraform {\n  backend \"s3\" {\n    bucket         = \"b\"   # the bucket\n    key            = \"key\" # the key\n    dynamodb_table = <<EOF\na-table-name-longer-than-its-line\nEOF\n  }\n}\n",
        "terraform {\n  backend \"s3\" {\n    bucket       = \"b\"   # the bucket\n    key          = \"key\" # the key\n    use_lockfile = true\n  }\n}\n",
    );
}

#[test]
fn dual_aligns_the_lockfile_with_the_rows_before_a_heredoc_table() {
    // hclwrite counts a heredoc's body as its opener's line: the row after the
    // closing marker is in the opener's group.
    case(
        TF,
        Dual,
        "terraform {\n  backend \"s3\" {\n    bucket         = \"b\" # the bucket\n    dynamodb_table = <<EOF\nlocks\nEOF\n  }\n}\n",
        "terraform {\n  backend \"s3\" {\n    bucket         = \"b\" # the bucket\n    dynamodb_table = <<EOF\nlocks\nEOF\n    use_lockfile   = true\n  }\n}\n",
    );
    case(
        TF,
        Replace,
        "terraform {\n  backend \"s3\" {\n    dynamodb_table = <<EOF\nlocks\nEOF\n    encrypt        = true\n  }\n}\n",
        "terraform {\n  backend \"s3\" {\n    use_lockfile = true\n    encrypt      = true\n  }\n}\n",
    );
}

#[test]
fn a_comment_line_above_the_table_is_kept() {
    case(
        TF,
        Replace,
        "terraform {\n  backend \"s3\" {\n    bucket = \"b\"\n    # locking\n    dynamodb_table = \"locks\"\n  }\n}\n",
        "terraform {\n  backend \"s3\" {\n    bucket = \"b\"\n    # locking\n    use_lockfile = true\n  }\n}\n",
    );
}

#[test]
fn the_table_and_the_endpoint_next_to_each_other_become_one_lockfile_row() {
    case(
        TF,
        Replace,
        "terraform {\n  backend \"s3\" {\n    bucket            = \"b\"\n    dynamodb_table    = \"locks\"\n    dynamodb_endpoint = \"http://localhost:8000\"\n    region            = \"eu-west-1\"\n  }\n}\n",
        "terraform {\n  backend \"s3\" {\n    bucket       = \"b\"\n    use_lockfile = true\n    region       = \"eu-west-1\"\n  }\n}\n",
    );
}

#[test]
fn an_endpoint_alone_is_replaced_by_the_lockfile() {
    case(
        TF,
        Replace,
        "terraform {\n  backend \"s3\" {\n    bucket            = \"b\"\n    dynamodb_endpoint = \"http://localhost:8000\"\n  }\n}\n",
        "terraform {\n  backend \"s3\" {\n    bucket       = \"b\"\n    use_lockfile = true\n  }\n}\n",
    );
}

#[test]
fn dynamodb_in_a_one_line_endpoints_object_is_removed_from_it() {
    case(
        TF,
        Replace,
        "terraform {\n  backend \"s3\" {\n    dynamodb_table = \"locks\"\n    endpoints      = { s3 = \"http://s3\", dynamodb = \"http://ddb\" }\n  }\n}\n",
        "terraform {\n  backend \"s3\" {\n    use_lockfile = true\n    endpoints    = { s3 = \"http://s3\" }\n  }\n}\n",
    );
}

#[test]
fn dynamodb_in_a_multi_line_endpoints_object_is_removed_and_the_object_realigned() {
    case(
        TF,
        Replace,
        "terraform {\n  backend \"s3\" {\n    dynamodb_table = \"locks\"\n    endpoints = {\n      s3       = \"http://s3\"\n      dynamodb = \"http://ddb\"\n    }\n  }\n}\n",
        "terraform {\n  backend \"s3\" {\n    use_lockfile = true\n    endpoints = {\n      s3 = \"http://s3\"\n    }\n  }\n}\n",
    );
}

#[test]
fn an_endpoints_object_holding_only_dynamodb_is_deleted_and_the_lockfile_follows_the_row_before() {
    case(
        TF,
        Replace,
        "terraform {\n  backend \"s3\" {\n    bucket = \"b\"\n    endpoints = {\n      dynamodb = \"http://ddb\"\n    }\n  }\n}\n",
        "terraform {\n  backend \"s3\" {\n    bucket       = \"b\"\n    use_lockfile = true\n  }\n}\n",
    );
}

// ---- bytes outside the edit (invariant 1) -------------------------------------

#[test]
fn crlf_line_endings_are_kept() {
    case(
        TF,
        Dual,
        "terraform {\r\n  backend \"s3\" {\r\n    dynamodb_table = \"locks\"\r\n  }\r\n}\r\n",
        "terraform {\r\n  backend \"s3\" {\r\n    dynamodb_table = \"locks\"\r\n    use_lockfile   = true\r\n  }\r\n}\r\n",
    );
}

#[test]
fn a_missing_final_newline_stays_missing() {
    case(
        TF,
        Replace,
        "terraform {\n  backend \"s3\" {\n    dynamodb_table = \"locks\"\n  }\n}",
        "terraform {\n  backend \"s3\" {\n    use_lockfile = true\n  }\n}",
    );
}

#[test]
fn a_utf8_bom_is_kept() {
    case(
        TF,
        Replace,
        "\u{feff}terraform {\n  backend \"s3\" {\n    dynamodb_table = \"locks\"\n  }\n}\n",
        "\u{feff}terraform {\n  backend \"s3\" {\n    use_lockfile = true\n  }\n}\n",
    );
}

#[test]
fn tab_indentation_is_kept() {
    case(
        TF,
        Dual,
        "terraform {\n\tbackend \"s3\" {\n\t\tdynamodb_table = \"locks\"\n\t}\n}\n",
        "terraform {\n\tbackend \"s3\" {\n\t\tdynamodb_table = \"locks\"\n\t\tuse_lockfile   = true\n\t}\n}\n",
    );
}

#[test]
fn other_blocks_of_the_file_are_untouched() {
    case(
        TF,
        Replace,
        "resource \"aws_dynamodb_table\" \"locks\" {\n  name = \"locks\"\n}\n\nterraform {\n  backend \"s3\" {\n    dynamodb_table = \"locks\"\n  }\n}\n",
        "resource \"aws_dynamodb_table\" \"locks\" {\n  name = \"locks\"\n}\n\nterraform {\n  backend \"s3\" {\n    use_lockfile = true\n  }\n}\n",
    );
}

// ---- JSON syntax ---------------------------------------------------------------

#[test]
fn json_replace_swaps_the_member() {
    case(
        TF_JSON,
        Replace,
        "{\n  \"terraform\": {\n    \"backend\": {\n      \"s3\": {\n        \"bucket\": \"b\",\n        \"dynamodb_table\": \"locks\"\n      }\n    }\n  }\n}\n",
        "{\n  \"terraform\": {\n    \"backend\": {\n      \"s3\": {\n        \"bucket\": \"b\",\n        \"use_lockfile\": true\n      }\n    }\n  }\n}\n",
    );
}

#[test]
fn json_dual_adds_a_member_after_the_table() {
    case(
        TF_JSON,
        Dual,
        "{\n  \"terraform\": {\n    \"backend\": {\n      \"s3\": {\n        \"dynamodb_table\": \"locks\",\n        \"bucket\": \"b\"\n      }\n    }\n  }\n}\n",
        "{\n  \"terraform\": {\n    \"backend\": {\n      \"s3\": {\n        \"dynamodb_table\": \"locks\",\n        \"use_lockfile\": true,\n        \"bucket\": \"b\"\n      }\n    }\n  }\n}\n",
    );
}

#[test]
fn json_deleting_the_last_member_takes_the_comma_before_it() {
    case(
        TF_JSON,
        Replace,
        "{\"terraform\": {\"backend\": {\"s3\": {\"use_lockfile\": true, \"bucket\": \"b\", \"dynamodb_table\": \"locks\"}}}}\n",
        "{\"terraform\": {\"backend\": {\"s3\": {\"use_lockfile\": true, \"bucket\": \"b\"}}}}\n",
    );
}

#[test]
fn json_table_and_endpoint_next_to_each_other() {
    case(
        TF_JSON,
        Replace,
        "{\"terraform\": {\"backend\": {\"s3\": {\"dynamodb_table\": \"t\", \"dynamodb_endpoint\": \"http://ddb\", \"bucket\": \"b\"}}}}\n",
        "{\"terraform\": {\"backend\": {\"s3\": {\"use_lockfile\": true, \"bucket\": \"b\"}}}}\n",
    );
}

#[test]
fn json_terraform_and_backend_as_arrays() {
    case(
        TF_JSON,
        Replace,
        "{\"terraform\": [{\"backend\": [{\"s3\": {\"dynamodb_table\": \"t\"}}]}]}\n",
        "{\"terraform\": [{\"backend\": [{\"s3\": {\"use_lockfile\": true}}]}]}\n",
    );
}

#[test]
fn json_dynamodb_in_endpoints_is_removed_from_the_object() {
    case(
        TF_JSON,
        Replace,
        "{\"terraform\": {\"backend\": {\"s3\": {\"dynamodb_table\": \"t\", \"endpoints\": {\"s3\": \"http://s3\", \"dynamodb\": \"http://ddb\"}}}}}\n",
        "{\"terraform\": {\"backend\": {\"s3\": {\"use_lockfile\": true, \"endpoints\": {\"s3\": \"http://s3\"}}}}}\n",
    );
}

// ---- Terragrunt, partial configuration, heredocs ------------------------------

#[test]
fn terragrunt_config_object_is_edited_and_realigned() {
    case(
        TG,
        Replace,
        "remote_state {\n  backend = \"s3\"\n  config = {\n    bucket         = \"b\"\n    dynamodb_table = \"locks\"\n  }\n}\n",
        "remote_state {\n  backend = \"s3\"\n  config = {\n    bucket       = \"b\"\n    use_lockfile = true\n  }\n}\n",
    );
}

#[test]
fn terragrunt_dual_adds_the_lockfile_to_the_config_object() {
    case(
        TG,
        Dual,
        "remote_state {\n  backend = \"s3\"\n  config = {\n    bucket         = \"b\"\n    dynamodb_table = \"locks\"\n  }\n}\n",
        "remote_state {\n  backend = \"s3\"\n  config = {\n    bucket         = \"b\"\n    dynamodb_table = \"locks\"\n    use_lockfile   = true\n  }\n}\n",
    );
}

#[test]
fn terragrunt_one_line_config_object() {
    case(
        TG,
        Replace,
        "remote_state {\n  backend = \"s3\"\n  config  = { bucket = \"b\", dynamodb_table = \"locks\" }\n}\n",
        "remote_state {\n  backend = \"s3\"\n  config  = { bucket = \"b\", use_lockfile = true }\n}\n",
    );
}

#[test]
fn terragrunt_remote_state_as_an_attribute() {
    case(
        TG,
        Replace,
        "remote_state = {\n  backend = \"s3\"\n  config = {\n    dynamodb_table = \"locks\"\n  }\n}\n",
        "remote_state = {\n  backend = \"s3\"\n  config = {\n    use_lockfile = true\n  }\n}\n",
    );
}

#[test]
fn terragrunt_generate_heredoc_backend_is_edited_inside_the_heredoc() {
    case(
        TG,
        Replace,
        "generate \"backend\" {\n  path      = \"backend.tf\"\n  if_exists = \"overwrite\"\n  contents  = <<EOF\nterraform {\n  backend \"s3\" {\n    bucket         = \"b\"\n    dynamodb_table = \"locks\"\n  }\n}\nEOF\n}\n",
        "generate \"backend\" {\n  path      = \"backend.tf\"\n  if_exists = \"overwrite\"\n  contents  = <<EOF\nterraform {\n  backend \"s3\" {\n    bucket       = \"b\"\n    use_lockfile = true\n  }\n}\nEOF\n}\n",
    );
}

#[test]
fn terragrunt_json_config_object() {
    case(
        TG_JSON,
        Replace,
        "{\"remote_state\": {\"backend\": \"s3\", \"config\": {\"bucket\": \"b\", \"dynamodb_table\": \"t\"}}}\n",
        "{\"remote_state\": {\"backend\": \"s3\", \"config\": {\"bucket\": \"b\", \"use_lockfile\": true}}}\n",
    );
}

#[test]
fn tfbackend_top_level_attributes() {
    case(
        TFBACKEND,
        Replace,
        "bucket         = \"b\"\nkey            = \"k\"\ndynamodb_table = \"locks\"\n",
        "bucket       = \"b\"\nkey          = \"k\"\nuse_lockfile = true\n",
    );
}

#[test]
fn an_unaligned_group_is_not_aligned_by_the_edit() {
    // Only a group that was aligned (as `terraform fmt` leaves it) is re-aligned.
    case(
        TFBACKEND,
        Dual,
        "dynamodb_table = \"locks\"\nregion = \"eu-west-1\"\n",
        "dynamodb_table = \"locks\"\nuse_lockfile = true\nregion = \"eu-west-1\"\n",
    );
}

#[test]
fn every_backend_of_a_file_is_planned() {
    let text = "terraform {\n  backend \"s3\" {\n    dynamodb_table = \"a\"\n  }\n}\n\nterraform {\n  backend \"s3\" {\n    use_lockfile = true\n  }\n}\n";
    let (actions, out) = migrate(TF, text, Replace);
    assert_eq!(actions, [Action::Migrate, Action::AlreadyMigrated]);
    assert_eq!(
        out,
        "terraform {\n  backend \"s3\" {\n    use_lockfile = true\n  }\n}\n\nterraform {\n  backend \"s3\" {\n    use_lockfile = true\n  }\n}\n"
    );
}

// ---- decide: what changes, before any bytes -----------------------------------

/// The ops `decide` picks, by kind and key, for the only backend of `text`.
fn ops_of(text: &str, strategy: Strategy) -> (Action, Vec<String>) {
    let source = Source::new(text.to_string());
    let backends = parse::parse(TF, &source).unwrap();
    let (action, bodies) = decide(&backends[0], strategy);
    let ops = bodies
        .iter()
        .flat_map(|b| b.ops.iter())
        .map(|op| match op {
            Op::Delete(s) => format!("delete {}", s.key),
            Op::ReplaceWithLockfile(s) => format!("replace {}", s.key),
            Op::InsertLockfileAfter(s) => format!("insert after {}", s.key),
            Op::SetTrue(s) => format!("set true {}", s.key),
            Op::SetValue(s, v) => format!("set {} = {v}", s.key),
            Op::Rewrite(s, key, value, _) => format!("rewrite {} as {key} = {value}", s.key),
            Op::InsertAfter(s, key, value) => format!("insert {key} = {value} after {}", s.key),
        })
        .collect();
    (action, ops)
}

#[test]
fn decide_names_each_op() {
    let all = "terraform {\n  backend \"s3\" {\n    bucket = \"b\"\n    dynamodb_table = \"t\"\n    dynamodb_endpoint = \"e\"\n    endpoints = { s3 = \"s\", dynamodb = \"d\" }\n  }\n}\n";
    insta::assert_debug_snapshot!(ops_of(all, Replace), @r#"
    (
        Migrate,
        [
            "replace dynamodb_table",
            "delete dynamodb_endpoint",
            "delete dynamodb",
        ],
    )
    "#);
    insta::assert_debug_snapshot!(ops_of(all, Dual), @r#"
    (
        Migrate,
        [
            "insert after dynamodb_table",
        ],
    )
    "#);
}

// ---- Terragrunt lock-table keys ----------------------------------------------

fn planned(kind: FileKind, text: &str, strategy: Strategy) -> (Vec<Action>, String) {
    let source = Source::new(text.to_string());
    let backends = parse::parse(kind, &source).unwrap();
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

/// Reports, rollback files and `--strategy` spell a strategy the same way.
#[test]
fn strategy_names_match_the_command_line() {
    use clap::ValueEnum;
    for strategy in Strategy::value_variants() {
        let flag = strategy.to_possible_value().unwrap();
        assert_eq!(flag.get_name(), strategy.as_str());
        assert_eq!(strategy.to_string(), strategy.as_str());
    }
}
