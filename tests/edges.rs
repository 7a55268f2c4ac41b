//! The rough edges of issue 15 (item 2), each found by trying to break tflock and
//! each pinned here by a test that failed before its fix: trailing block comments,
//! "backend" in a generate block's text, an empty `dynamodb_table`, a lock item
//! without `Info`, paths outside the current directory, unreadable paths,
//! `--exclude DIR/`, a failed apply's rollback file, read-only files, and the
//! messages that said something untrue.

mod common;

use common::aws::{Store, moto};
use common::run::{apply, tflock as tflock_at};
use common::tree::{app_tf, backend_tf, mode, read, tree};
use common::{hclcheck, read_tree, run_hclcheck, stderr, stdout, tflock};
use serde_json::json;
use std::path::Path;

/// A backend as `terraform fmt` prints it, with a DynamoDB table.
fn fmt_backend(key: &str) -> String {
    backend_tf(&[
        ("bucket", "b"),
        ("key", key),
        ("region", "eu-west-1"),
        ("dynamodb_table", "t"),
    ])
}

/// `apply` without AWS: `--skip-lock-check` and an explicit rollback file.
fn apply_offline(dir: &Path, rollback: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "apply",
        "--auto-approve",
        "--skip-lock-check",
        "--rollback-file",
        rollback.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    tflock(dir, &args)
}

/// `rollback --auto-approve --files-only` of the rollback file `rollback`.
fn rollback_files(dir: &Path, rollback: &Path) -> std::process::Output {
    tflock(
        dir,
        &[
            "rollback",
            "--auto-approve",
            "--files-only",
            rollback.to_str().unwrap(),
        ],
    )
}

fn text(out: &std::process::Output) -> String {
    format!("{}{}", stdout(out), stderr(out))
}

// ---------------------------------------------------------------------------
// Trailing block comments
// ---------------------------------------------------------------------------

const COMMENTED: &str = r#"terraform {
  backend "s3" {
    bucket         = "b" /* the bucket */
    key            = "c.tfstate"
    region         = "eu-west-1" /* where */
    dynamodb_table = "t" /* the table */
  }
}
"#;

#[test]
fn trailing_block_comments_are_kept_and_the_group_stays_fmt_clean() {
    let Some(checker) = hclcheck("trailing_block_comments_are_kept_and_the_group_stays_fmt_clean")
    else {
        return;
    };
    let dir = tree(&[("main.tf", COMMENTED)]);
    let (clean, why) = run_hclcheck(&checker, &["fmt", "-check"], &[dir.path().join("main.tf")]);
    assert!(clean, "the fixture itself is not fmt-clean: {why}");
    for strategy in ["replace", "dual"] {
        let dir = tree(&[("main.tf", COMMENTED)]);
        let rb = dir.path().join("../rb-comment.json");
        let rb = rb.with_file_name(format!("rb-comment-{strategy}-{}.json", std::process::id()));
        let out = apply_offline(dir.path(), &rb, &["--strategy", strategy]);
        let _ = std::fs::remove_file(&rb);
        let _ = std::fs::remove_file(rb.with_extension("json.md"));
        assert_eq!(out.status.code(), Some(0), "{strategy}:\n{}", text(&out));
        let after = read(dir.path(), "main.tf");
        for comment in ["/* the bucket */", "/* where */"] {
            assert!(
                after.contains(comment),
                "{strategy} lost {comment}:\n{after}"
            );
        }
        assert!(after.contains("use_lockfile"), "{strategy}:\n{after}");
        let (clean, why) =
            run_hclcheck(&checker, &["fmt", "-check"], &[dir.path().join("main.tf")]);
        assert!(clean, "{strategy} output is not fmt-clean: {why}\n{after}");
        // A second plan has nothing left to do.
        let again = tflock(dir.path(), &["plan", "--offline", "--strategy", strategy]);
        assert!(
            stdout(&again).contains("0 files to change"),
            "{strategy}: {}",
            text(&again)
        );
    }
}

#[test]
fn a_leading_block_comment_in_dual_is_named_for_what_it_is() {
    let leading = COMMENTED.replace(
        "    dynamodb_table = \"t\" /* the table */",
        "    /* c */ dynamodb_table = \"t\"",
    );
    let dir = tree(&[("main.tf", &leading)]);
    let out = tflock(dir.path(), &["plan", "--offline", "--strategy", "dual"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = stderr(&out);
    assert!(
        said.contains("main.tf:6:13: dynamodb_table shares its line"),
        "{said}"
    );
    assert!(!said.contains("written on one line"), "{said}");
}

// ---------------------------------------------------------------------------
// Terragrunt generate blocks
// ---------------------------------------------------------------------------

#[test]
fn a_generate_block_whose_text_mentions_backend_is_not_an_error() {
    let unit = "generate \"provider\" {\n  path      = \"provider.tf\"\n  if_exists = \"overwrite\"\n  contents  = <<EOF\n# no backend here, only the word backend\nprovider \"aws\" {\n  region = \"eu-west-1\"\nEOF\n}\n";
    let dir = tree(&[("unit/terragrunt.hcl", unit)]);
    let out = tflock(dir.path(), &["plan", "--offline"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!text(&out).contains("do not parse"), "{}", text(&out));
}

#[test]
fn a_generate_block_with_a_broken_backend_is_still_an_error() {
    let unit = "generate \"backend\" {\n  path     = \"backend.tf\"\n  contents = <<EOF\nterraform {\n  backend \"s3\" {\n    bucket = \"b\" x\n  }\n}\nEOF\n}\n";
    let dir = tree(&[("unit/terragrunt.hcl", unit)]);
    let out = tflock(dir.path(), &["plan", "--offline"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("unit/terragrunt.hcl:6:"),
        "{}",
        text(&out)
    );
}

/// hcl-edit accepts a quoted string over several lines, which Terraform refuses.
/// Where that makes tflock's own rewrite unparseable (a cargo-fuzz finding, the
/// regression `unparseable-rewrite-multiline-strings.tfbackend`), the file is
/// reported as the bad input it is, where HashiCorp's parser points, not as an
/// internal error of tflock; nothing is written.
#[test]
fn a_rewrite_broken_by_a_quoted_string_over_lines_is_reported_as_bad_input() {
    let input = "t=\"\"\ndynamodb_table=\"\n<<E\"\nu=\"\n$${{{{$${{$${{$${\"";
    let dir = tree(&[("s3.tfbackend", input)]);
    let out = tflock(dir.path(), &["plan", "--offline"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("s3.tfbackend:2:17: Invalid multi-line string"),
        "{}",
        text(&out)
    );
    assert!(!text(&out).contains("internal error"), "{}", text(&out));
}

// ---------------------------------------------------------------------------
// An empty dynamodb_table
// ---------------------------------------------------------------------------

fn empty_table_tf(bucket: &str) -> String {
    backend_tf(&[
        ("bucket", bucket),
        ("key", "e.tfstate"),
        ("region", "eu-west-1"),
        ("dynamodb_table", ""),
    ])
}

#[test]
fn an_empty_dynamodb_table_is_no_dynamodb_locking_offline() {
    let dir = tree(&[("main.tf", &empty_table_tf("b"))]);
    let out = tflock(dir.path(), &["plan", "--offline"]);
    let shown = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(shown.contains("-> no DynamoDB locking"), "{shown}");
    assert!(shown.contains("1 without DynamoDB locking"), "{shown}");
    assert!(shown.contains("0 files to change"), "{shown}");
}

#[test]
fn an_empty_dynamodb_table_is_no_dynamodb_locking_against_aws() {
    let Some(moto) = moto("an_empty_dynamodb_table_is_no_dynamodb_locking_against_aws") else {
        return;
    };
    let store = Store::new(&moto, "empty");
    store.create(&["e.tfstate"]);
    let dir = tree(&[("main.tf", &empty_table_tf(&store.bucket))]);
    tflock_at(dir.path(), &moto.url, &["plan"])
        .assert_code(0)
        .assert_contains("-> no DynamoDB locking")
        .assert_lacks("table_name")
        .assert_lacks("blocked:");
    let files = read_tree(dir.path());
    apply(dir.path(), &moto.url, &[])
        .run
        .assert_code(0)
        .assert_contains("Nothing to apply")
        .assert_lacks("table_name");
    assert_eq!(read_tree(dir.path()), files, "apply wrote");
}

// ---------------------------------------------------------------------------
// A lock item without Info
// ---------------------------------------------------------------------------

#[test]
fn a_lock_item_without_info_counts_as_held() {
    let Some(moto) = moto("a_lock_item_without_info_counts_as_held") else {
        return;
    };
    let store = Store::new(&moto, "noinfo");
    store.create(&["app/terraform.tfstate"]);
    store.run(json!({"raw_items": [{
        "table": store.table,
        "item": {"LockID": {"S": store.lock_id("app/terraform.tfstate")}},
    }]}));
    let dir = tree(&[("app/main.tf", &app_tf(&store, "app/terraform.tfstate"))]);
    let files = read_tree(dir.path());
    tflock_at(dir.path(), &moto.url, &["plan"])
        .assert_code(1)
        .assert_contains("-> blocked")
        .assert_contains("DynamoDB lock held");
    let applied = apply(dir.path(), &moto.url, &[]);
    applied.run.assert_code(1).assert_contains("blocked");
    assert_eq!(read_tree(dir.path()), files, "a blocked apply wrote");
}

// ---------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------

#[test]
fn a_backend_without_a_bucket_says_so() {
    let Some(moto) = moto("a_backend_without_a_bucket_says_so") else {
        return;
    };
    let store = Store::new(&moto, "nobucket");
    store.create(&[]);
    let tf = backend_tf(&[
        ("key", "e.tfstate"),
        ("region", "eu-west-1"),
        ("dynamodb_table", &store.table),
    ]);
    let dir = tree(&[("main.tf", &tf)]);
    tflock_at(dir.path(), &moto.url, &["plan"])
        .assert_code(1)
        .assert_contains("no bucket is set")
        .assert_lacks("not a literal")
        .assert_lacks("bucket is not known");
}

#[test]
fn a_second_files_only_rollback_does_not_claim_to_have_checked_digests() {
    let dir = tree(&[("app/main.tf", &fmt_backend("app.tfstate"))]);
    let outside = tempfile::TempDir::new().unwrap();
    let rb = outside.path().join("rb.json");
    let out = apply_offline(dir.path(), &rb, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let first = rollback_files(dir.path(), &rb);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    let second = rollback_files(dir.path(), &rb);
    assert_eq!(second.status.code(), Some(0), "{}", text(&second));
    let said = stdout(&second);
    assert!(!said.contains("every digest matches"), "{said}");
    assert!(said.contains("digests were not checked"), "{said}");
}

#[test]
fn an_unclosed_block_is_reported_where_hashicorps_parser_reports_it() {
    let Some(checker) =
        hclcheck("an_unclosed_block_is_reported_where_hashicorps_parser_reports_it")
    else {
        return;
    };
    let broken =
        "terraform {\n  backend \"s3\" {\n    bucket = \"b\"\n    dynamodb_table = \"t\"\n  }\n";
    let dir = tree(&[("main.tf", broken)]);
    let (ok, oracle) = run_hclcheck(&checker, &["parse"], &[dir.path().join("main.tf")]);
    assert!(!ok, "hclcheck accepted a broken file");
    let at = |line: &str| line.split(": ").next().unwrap_or_default().to_string();
    let expected = at(oracle
        .lines()
        .next()
        .unwrap()
        .trim_start_matches(&format!("{}/", dir.path().display())));
    let out = tflock(dir.path(), &["plan", "--offline"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = stderr(&out);
    let ours = said
        .lines()
        .find(|l| l.starts_with("main.tf:"))
        .unwrap_or_else(|| panic!("no located error:\n{said}"));
    assert_eq!(at(ours), expected, "ours: {ours}\nhclcheck: {oracle}");
}

/// The skim (`parse::skim`): a file whose only `backend` is in a reader that
/// needs no change is not parsed whole, so a typo in one of its resources is
/// Terraform's to report, as in a file without the word `backend`; a typo in
/// a file with a backend, or next to a reader that names DynamoDB, still
/// fails the plan where it is.
#[test]
fn a_syntax_error_is_reported_in_files_tflock_plans_but_not_beside_a_reader_it_leaves() {
    let reader = |config: &str| {
        format!(
            "resource \"aws_sqs_queue\" \"q\" {{\n  name = = \"typo\"\n}}\n\n\
             data \"terraform_remote_state\" \"net\" {{\n  backend = \"s3\"\n  config = {{\n{config}  }}\n}}\n"
        )
    };
    let plain = reader("    bucket = \"b\"\n    key    = \"k\"\n");
    let dir = tree(&[("reader/main.tf", plain.as_str())]);
    let out = tflock(dir.path(), &["plan", "--offline"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!stderr(&out).contains("reader/main.tf"), "{}", text(&out));

    let named = reader(
        "    bucket         = \"b\"\n    key            = \"k\"\n    dynamodb_table = \"t\"\n",
    );
    let backend = format!(
        "{}terraform {{\n  backend \"s3\" {{}}\n}}\n",
        &plain[..plain.find("data").unwrap()]
    );
    for (name, file) in [("reader", named), ("backend", backend)] {
        let dir = tree(&[("main.tf", file.as_str())]);
        let out = tflock(dir.path(), &["plan", "--offline"]);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", text(&out));
        assert!(
            stderr(&out).contains("main.tf:2:10: syntax error"),
            "{name}: {}",
            text(&out)
        );
    }
}

// ---------------------------------------------------------------------------
// Paths
// ---------------------------------------------------------------------------

#[test]
fn paths_outside_the_current_directory_are_refused_at_plan_time_by_every_command() {
    let root = tree(&[
        ("b/main.tf", &fmt_backend("b.tfstate")),
        ("here/keep.txt", "x"),
    ]);
    let here = root.path().join("here");
    let before = read_tree(root.path());
    for args in [
        vec!["plan", "--offline", "../b"],
        vec!["apply", "--auto-approve", "--skip-lock-check", "../b"],
        vec!["plan", "--offline", "--patch", "out.patch", "../b"],
        vec!["status", "../b"],
    ] {
        let out = tflock(&here, &args);
        assert_eq!(out.status.code(), Some(1), "{args:?}:\n{}", text(&out));
        assert!(
            stderr(&out).contains("../b: outside the current directory"),
            "{args:?}:\n{}",
            text(&out)
        );
    }
    assert_eq!(read_tree(root.path()), before, "a refused command wrote");
}

#[test]
fn an_unreadable_directory_named_on_the_command_line_is_an_error() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tree(&[("locked/main.tf", &fmt_backend("l.tfstate"))]);
    let locked = dir.path().join("locked");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    // Root reads any folder; run as nobody where we are root.
    let mut cmd = common::tflock_command(dir.path(), &["plan", "--offline", "locked"]);
    if running_as_root() {
        // nobody must reach the tree (a temp dir is 0700), just not `locked`.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let Some(setpriv) = common::on_path("setpriv") else {
            common::unavailable(
                "an_unreadable_directory_named_on_the_command_line_is_an_error",
                "running as root and setpriv(1) is not installed",
            );
            return;
        };
        let mut wrapped = std::process::Command::new(setpriv);
        wrapped
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(common::tflock_bin())
            .args(["plan", "--offline", "locked"])
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("NO_COLOR", "1");
        cmd = wrapped;
    }
    let out = cmd.output().unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("locked: cannot read"),
        "{}",
        text(&out)
    );
}

fn running_as_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

#[test]
fn exclude_with_a_trailing_slash_excludes_the_folder() {
    let dir = tree(&[
        ("a/main.tf", &fmt_backend("a.tfstate")),
        ("b/main.tf", &fmt_backend("b.tfstate")),
    ]);
    for exclude in ["a/", "./a/", "a"] {
        let out = tflock(dir.path(), &["plan", "--offline", "--exclude", exclude]);
        let shown = stdout(&out);
        assert!(
            !shown.contains("a/main.tf"),
            "--exclude {exclude}:\n{shown}"
        );
        assert!(shown.contains("b/main.tf"), "--exclude {exclude}:\n{shown}");
    }
}

// ---------------------------------------------------------------------------
// Apply: its rollback file after a failure, read-only files
// ---------------------------------------------------------------------------

#[test]
fn a_failed_apply_that_wrote_nothing_leaves_no_rollback_file_and_a_retry_works() {
    let dir = tree(&[("app/main.tf", &fmt_backend("app.tfstate"))]);
    let before = read_tree(dir.path());
    let outside = tempfile::TempDir::new().unwrap();
    let rb = outside.path().join("rb.json");
    // The Markdown twin cannot be written: a folder stands in its place.
    let md = outside.path().join("rb.json.md");
    std::fs::create_dir(&md).unwrap();
    let out = apply_offline(dir.path(), &rb, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(read_tree(dir.path()), before, "a failed apply wrote");
    assert!(!rb.exists(), "the failed apply left {}", rb.display());
    std::fs::remove_dir(&md).unwrap();
    let retry = apply_offline(dir.path(), &rb, &[]);
    assert_eq!(retry.status.code(), Some(0), "{}", text(&retry));
    assert!(rb.exists());
}

#[test]
fn a_read_only_file_is_refused_by_name_unless_force() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tree(&[("app/main.tf", &fmt_backend("app.tfstate"))]);
    let file = dir.path().join("app/main.tf");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o444)).unwrap();
    let before = read_tree(dir.path());
    let outside = tempfile::TempDir::new().unwrap();
    let rb = outside.path().join("rb.json");
    let out = apply_offline(dir.path(), &rb, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr(&out).contains("app/main.tf: read-only"),
        "{}",
        text(&out)
    );
    assert_eq!(read_tree(dir.path()), before, "a refused apply wrote");
    assert!(!rb.exists(), "a refused apply wrote its rollback file");
    let forced = apply_offline(dir.path(), &rb, &["--force"]);
    assert_eq!(forced.status.code(), Some(0), "{}", text(&forced));
    assert!(read(dir.path(), "app/main.tf").contains("use_lockfile"));
    assert_eq!(mode(&file), 0o444, "--force kept the file's mode");
}

// ---------------------------------------------------------------------------
// Symbolic links
// ---------------------------------------------------------------------------

#[test]
fn a_symlink_inside_the_tree_is_followed_and_its_target_written_once() {
    let dir = tree(&[("real/main.tf", &fmt_backend("real.tfstate"))]);
    std::fs::create_dir(dir.path().join("link")).unwrap();
    std::os::unix::fs::symlink("../real/main.tf", dir.path().join("link/main.tf")).unwrap();
    for args in [
        vec!["plan", "--offline"],
        vec!["plan", "--offline", "link/main.tf"],
    ] {
        let out = tflock(dir.path(), &args);
        let shown = stdout(&out);
        assert_eq!(out.status.code(), Some(0), "{args:?}:\n{}", text(&out));
        assert_eq!(
            shown.matches("-> migrate").count(),
            1,
            "{args:?}: planned more than once:\n{shown}"
        );
        assert!(shown.contains("real/main.tf:2"), "{args:?}:\n{shown}");
        assert!(!shown.contains("link/main.tf"), "{args:?}:\n{shown}");
    }
    let outside = tempfile::TempDir::new().unwrap();
    let rb = outside.path().join("rb.json");
    let out = apply_offline(dir.path(), &rb, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(read(dir.path(), "real/main.tf").contains("use_lockfile"));
    let link = std::fs::symlink_metadata(dir.path().join("link/main.tf")).unwrap();
    assert!(link.file_type().is_symlink(), "the link was replaced");
}

/// An offline apply in `dir` fails and leaves `outside/main.tf`, which a link
/// in `dir` leads to, as `before`.
fn apply_refuses_to_write_through(dir: &Path, outside: &Path, before: &str) {
    let out = apply_offline(dir, &outside.join("rb.json"), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(read(outside, "main.tf"), before, "wrote through the link");
}

#[test]
fn a_symlink_out_of_the_tree_is_refused_at_plan_time() {
    let outside = tree(&[("main.tf", &fmt_backend("out.tfstate"))]);
    let dir = tree(&[("here/keep.txt", "x")]);
    std::fs::create_dir(dir.path().join("app")).unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("main.tf"),
        dir.path().join("app/main.tf"),
    )
    .unwrap();
    let before = read(outside.path(), "main.tf");
    for args in [
        vec!["plan", "--offline"],
        vec!["plan", "--offline", "app/main.tf"],
    ] {
        let out = tflock(dir.path(), &args);
        assert_eq!(out.status.code(), Some(1), "{args:?}:\n{}", text(&out));
        assert!(
            stderr(&out).contains("app/main.tf") && stderr(&out).contains("outside"),
            "{args:?}:\n{}",
            text(&out)
        );
    }
    apply_refuses_to_write_through(dir.path(), outside.path(), &before);
}

/// git lists what its index holds; the work tree decides what each path is:
/// a committed file since replaced by a link out of the tree is refused as a
/// link, a committed link is followed, a deleted file is no error.
#[test]
fn in_a_git_work_tree_what_a_listed_path_is_comes_from_the_work_tree() {
    let outside = tree(&[("main.tf", &fmt_backend("out.tfstate"))]);
    let dir = tree(&[
        ("real/main.tf", &fmt_backend("real.tfstate")),
        ("swapped/main.tf", &fmt_backend("swapped.tfstate")),
        ("gone/main.tf", &fmt_backend("gone.tfstate")),
    ]);
    std::fs::create_dir(dir.path().join("committed")).unwrap();
    std::os::unix::fs::symlink("../real/main.tf", dir.path().join("committed/main.tf")).unwrap();
    commit_all(dir.path());
    std::fs::remove_file(dir.path().join("swapped/main.tf")).unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("main.tf"),
        dir.path().join("swapped/main.tf"),
    )
    .unwrap();
    std::fs::remove_file(dir.path().join("gone/main.tf")).unwrap();
    let before = read(outside.path(), "main.tf");
    let out = tflock(dir.path(), &["plan", "--offline"]);
    let (shown, said) = (stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        said.contains("swapped/main.tf") && said.contains("outside the current directory"),
        "{}",
        text(&out)
    );
    assert_eq!(shown.matches("-> migrate").count(), 1, "{}", text(&out));
    assert!(shown.contains("real/main.tf:2"), "{}", text(&out));
    assert!(
        !shown.contains("committed/") && !text(&out).contains("gone/"),
        "{}",
        text(&out)
    );
    apply_refuses_to_write_through(dir.path(), outside.path(), &before);
}

// ---------------------------------------------------------------------------
// The repository's run lock (`.git/tflock-run.lock`, issue 10 item 6): its
// faults. A live holder and a holder killed mid-run: tests/ops.rs.
// ---------------------------------------------------------------------------

/// `args` run as `nobody` where we are root (root writes anywhere), else as we
/// are; None (and the test says so) when root cannot drop to nobody. The tree
/// must then be reachable by nobody.
fn unprivileged(test: &str, dir: &Path, args: &[&str]) -> Option<std::process::Output> {
    use std::os::unix::fs::PermissionsExt;
    if !running_as_root() {
        return Some(tflock(dir, args));
    }
    let Some(setpriv) = common::on_path("setpriv") else {
        common::unavailable(test, "running as root and setpriv(1) is not installed");
        return None;
    };
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = std::process::Command::new(setpriv)
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(common::tflock_bin())
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    Some(out)
}

#[test]
fn a_run_lock_that_cannot_be_created_refuses_by_name_and_writes_nothing() {
    use std::os::unix::fs::PermissionsExt;
    let test = "a_run_lock_that_cannot_be_created_refuses_by_name_and_writes_nothing";
    let dir = tree(&[("app/main.tf", &fmt_backend("app.tfstate"))]);
    let git = dir.path().join(".git");
    std::fs::create_dir(&git).unwrap();
    // Everything but the git directory is writable by whoever runs tflock.
    for writable in [dir.path().to_path_buf(), dir.path().join("app")] {
        std::fs::set_permissions(&writable, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    std::fs::set_permissions(
        dir.path().join("app/main.tf"),
        std::fs::Permissions::from_mode(0o666),
    )
    .unwrap();
    std::fs::set_permissions(&git, std::fs::Permissions::from_mode(0o555)).unwrap();
    let outside = tempfile::TempDir::new().unwrap();
    std::fs::set_permissions(outside.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let rb = outside.path().join("rb.json");
    let before = read_tree(dir.path());
    let args = [
        "apply",
        "--auto-approve",
        "--skip-lock-check",
        "--rollback-file",
        rb.to_str().unwrap(),
    ];
    let Some(out) = unprivileged(test, dir.path(), &args) else {
        return;
    };
    let said = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        said.contains(".git/tflock-run.lock: cannot take the run lock: Permission denied")
            && said.contains("nothing was written")
            && said.matches("Permission denied").count() == 1,
        "{said}"
    );
    std::fs::set_permissions(&git, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(read_tree(dir.path()), before, "a refused apply wrote");
    assert!(!rb.exists(), "a refused apply wrote its rollback file");
}

#[test]
fn a_stale_run_lock_file_without_a_holder_does_not_block() {
    let stale_holders: [&[u8]; 3] = [
        // A run that was killed: its record stays, its lock went with it.
        br#"{"pid":999999,"host":"gone","command":"tflock apply","since":"2020-01-01T00:00:00Z"}"#,
        b"",
        b"\x00\xffnot json\n",
    ];
    for stale in stale_holders {
        let dir = tree(&[("app/main.tf", &fmt_backend("app.tfstate"))]);
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        let lock = dir.path().join(".git/tflock-run.lock");
        std::fs::write(&lock, stale).unwrap();
        let outside = tempfile::TempDir::new().unwrap();
        let rb = outside.path().join("rb.json");
        let out = apply_offline(dir.path(), &rb, &[]);
        assert_eq!(out.status.code(), Some(0), "{stale:?}:\n{}", text(&out));
        assert!(read(dir.path(), "app/main.tf").contains("use_lockfile"));
        assert!(!lock.exists(), "{stale:?}: the run left its lock file");
        // And rollback, which takes the same lock, after a stale file again.
        std::fs::write(&lock, stale).unwrap();
        let back = rollback_files(dir.path(), &rb);
        assert_eq!(back.status.code(), Some(0), "{stale:?}:\n{}", text(&back));
        assert_eq!(read(dir.path(), "app/main.tf"), fmt_backend("app.tfstate"));
        assert!(!lock.exists(), "{stale:?}: rollback left its lock file");
    }
}

/// A tree with `real/main.tf`, a linked folder `link -> real` and a loop
/// `real/loop -> ..`; in a git work tree (git records the links) or not.
fn linked_folder_tree(in_git: bool) -> tempfile::TempDir {
    let dir = tree(&[("real/main.tf", &fmt_backend("real.tfstate"))]);
    std::os::unix::fs::symlink("real", dir.path().join("link")).unwrap();
    std::os::unix::fs::symlink("..", dir.path().join("real/loop")).unwrap();
    if in_git {
        commit_all(dir.path());
    }
    dir
}

/// Makes `dir` a git work tree with everything in it committed.
fn commit_all(dir: &Path) {
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
    };
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&[
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "commit",
        "-qm",
        "init",
    ]);
}

#[test]
fn a_symlinked_folder_inside_the_tree_is_followed_and_its_files_written_once() {
    for in_git in [false, true] {
        let dir = linked_folder_tree(in_git);
        for args in [
            vec!["plan", "--offline"],
            vec!["plan", "--offline", "link"],
            vec!["plan", "--offline", "link/main.tf"],
        ] {
            let out = tflock(dir.path(), &args);
            let shown = stdout(&out);
            assert_eq!(
                out.status.code(),
                Some(0),
                "git {in_git}, {args:?}:\n{}",
                text(&out)
            );
            assert_eq!(
                shown.matches("-> migrate").count(),
                1,
                "git {in_git}, {args:?}: planned other than once:\n{shown}"
            );
            assert!(
                shown.contains("real/main.tf:2")
                    && !shown.contains("link/")
                    && !shown.contains("loop/"),
                "git {in_git}, {args:?}:\n{shown}"
            );
        }
        let outside = tempfile::TempDir::new().unwrap();
        let rb = outside.path().join("rb.json");
        let out = apply_offline(dir.path(), &rb, &[]);
        assert_eq!(out.status.code(), Some(0), "git {in_git}:\n{}", text(&out));
        assert!(stdout(&out).contains("1 file changed"), "{}", text(&out));
        assert!(read(dir.path(), "real/main.tf").contains("use_lockfile"));
        for link in ["link", "real/loop"] {
            let meta = std::fs::symlink_metadata(dir.path().join(link)).unwrap();
            assert!(meta.file_type().is_symlink(), "{link} was replaced");
        }
        // A second plan has nothing left to do, and rollback restores.
        let again = tflock(dir.path(), &["plan", "--offline"]);
        assert!(!stdout(&again).contains("-> migrate"), "{}", text(&again));
        let back = rollback_files(dir.path(), &rb);
        assert_eq!(back.status.code(), Some(0), "{}", text(&back));
        assert_eq!(
            read(dir.path(), "real/main.tf"),
            fmt_backend("real.tfstate")
        );
    }
}

#[test]
fn a_symlinked_folder_out_of_the_tree_is_refused_at_plan_time_by_name() {
    let elsewhere = tree(&[("main.tf", &fmt_backend("out.tfstate"))]);
    for in_git in [false, true] {
        let dir = linked_folder_tree(in_git);
        std::os::unix::fs::symlink(elsewhere.path(), dir.path().join("app")).unwrap();
        if in_git {
            let out = std::process::Command::new("git")
                .args(["add", "app"])
                .current_dir(dir.path())
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", stderr(&out));
        }
        let before = read(elsewhere.path(), "main.tf");
        for args in [vec!["plan", "--offline"], vec!["plan", "--offline", "app"]] {
            let out = tflock(dir.path(), &args);
            let said = stderr(&out);
            assert_eq!(
                out.status.code(),
                Some(1),
                "git {in_git}, {args:?}:\n{}",
                text(&out)
            );
            assert!(
                said.contains("app") && said.contains("outside the current directory"),
                "git {in_git}, {args:?}:\n{}",
                text(&out)
            );
        }
        let outside = tempfile::TempDir::new().unwrap();
        let rb = outside.path().join("rb.json");
        let out = apply_offline(dir.path(), &rb, &[]);
        assert_eq!(out.status.code(), Some(1), "git {in_git}:\n{}", text(&out));
        assert_eq!(
            read(elsewhere.path(), "main.tf"),
            before,
            "wrote through the link"
        );
    }
}
