//! Unit tests of the resolve stage on backends parsed from text.

use super::*;
use crate::discover::FileKind;
use crate::source::Source;

fn parse(kind: FileKind, text: &str) -> Vec<Backend> {
    crate::parse::parse(kind, &Source::new(text.to_string())).expect("parses")
}

fn resolve(path: &str, kind: FileKind, text: &str) -> Resolution {
    let backends = parse(kind, text);
    let located: Vec<Located> = backends
        .iter()
        .map(|backend| Located {
            backend,
            path,
            text,
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let mut resolutions = Repository::open(dir.path(), &[]).resolve_all(&located, &[], dir.path());
    resolutions.remove(0)
}

const TF: &str = r#"terraform {
  backend "s3" {
    bucket               = "b"
    key                  = "app/terraform.tfstate"
    region               = "eu-west-1"
    dynamodb_table       = "locks"
    workspace_key_prefix = ""
    endpoints = {
      s3 = "http://127.0.0.1:1"
    }
    shared_config_files = ["a", "b"]
  }
}
"#;

#[test]
fn literal_backends_resolve_fully() {
    let r = resolve("main.tf", FileKind::Terraform, TF);
    let [t] = r.targets.as_slice() else {
        panic!("one target: {r:?}")
    };
    assert_eq!(t.bucket.as_deref(), Some("b"));
    assert_eq!(t.keys, vec![(None, "app/terraform.tfstate".to_string())]);
    assert_eq!(t.table.as_deref(), Some("locks"));
    assert_eq!(t.client.region.as_deref(), Some("eu-west-1"));
    assert_eq!(t.client.s3_endpoint.as_deref(), Some("http://127.0.0.1:1"));
    assert_eq!(t.client.shared_config_files, ["a", "b"]);
    assert!(t.unknown.is_empty(), "{:?}", t.unknown);
    assert!(!r.conservative());
}

#[test]
fn an_empty_workspace_prefix_puts_workspaces_at_the_top() {
    let r = resolve("main.tf", FileKind::Terraform, TF);
    let t = &r.targets[0];
    assert_eq!(t.workspace_key_prefix, "");
    assert_eq!(
        t.state_key("dev", "app/terraform.tfstate"),
        "dev/app/terraform.tfstate"
    );
    assert_eq!(
        t.state_key("default", "app/terraform.tfstate"),
        "app/terraform.tfstate"
    );
    assert_eq!(t.workspaces_prefix(), "");
    assert_eq!(t.workspace_glob("app/t"), "*/app/t");
    assert!(t.could_be_state("dev/app/x", "app/"));
}

#[test]
fn the_default_workspace_prefix_is_env() {
    let text = TF.replace("    workspace_key_prefix = \"\"\n", "");
    let t = resolve("main.tf", FileKind::Terraform, &text)
        .targets
        .remove(0);
    assert_eq!(t.workspace_key_prefix, "env:");
    assert_eq!(t.state_key("dev", "k"), "env:/dev/k");
    assert_eq!(t.workspace_glob("k"), "env:/*/k");
    assert!(t.could_be_state("env:/dev/app/x", "app/"));
    assert!(!t.could_be_state("other/app/x", "app/"));
}

#[test]
fn expressions_in_terraform_backends_are_unknown_and_block() {
    let text = TF.replace("\"eu-west-1\"", "var.region").replace(
        "\"app/terraform.tfstate\"",
        "\"app/${var.env}/terraform.tfstate\"",
    );
    let t = resolve("main.tf", FileKind::Terraform, &text)
        .targets
        .remove(0);
    let region = t.unknown.iter().find(|u| u.attribute == "region").unwrap();
    assert!(region.blocks);
    assert_eq!(region.expression, "var.region");
    assert_eq!(region.location, "main.tf:5");
    let key = t.unknown.iter().find(|u| u.attribute == "key").unwrap();
    assert!(!key.blocks, "a key is checked by its prefix");
    assert_eq!(t.unknown_key_prefix.as_deref(), Some("app/"));
    assert!(t.keys.is_empty());
    assert_eq!(t.blockers().count(), 1);
}

#[test]
fn an_empty_table_is_no_dynamodb_locking() {
    let text = TF.replace("\"locks\"", "\"\"");
    let t = resolve("main.tf", FileKind::Terraform, &text)
        .targets
        .remove(0);
    assert_eq!(t.table, None);
}

#[test]
fn json_backends_read_lists_and_refuse_templates() {
    let text = r#"{"terraform": {"backend": {"s3": {
  "bucket": "b", "key": "${var.k}/t", "region": "r",
  "dynamodb_table": "locks", "shared_config_files": ["x"]
}}}}"#;
    let t = resolve("main.tf.json", FileKind::TerraformJson, text)
        .targets
        .remove(0);
    assert_eq!(t.client.shared_config_files, ["x"]);
    assert!(t.keys.is_empty());
    assert!(t.unknown.iter().any(|u| u.attribute == "key" && !u.blocks));
}

#[test]
fn a_partial_file_completes_the_block_of_its_module() {
    let block = "terraform {\n  backend \"s3\" {\n    bucket = \"b\"\n    region = \"r\"\n  }\n}\n";
    let partial = "key            = \"k/terraform.tfstate\"\ndynamodb_table = \"locks\"\n";
    let blocks = parse(FileKind::Terraform, block);
    let partials = parse(FileKind::Tfbackend, partial);
    let located = [
        Located {
            backend: &blocks[0],
            path: "app/main.tf",
            text: block,
        },
        Located {
            backend: &partials[0],
            path: "app/prod.tfbackend",
            text: partial,
        },
    ];
    let dir = tempfile::tempdir().unwrap();
    let resolutions = Repository::open(dir.path(), &[]).resolve_all(&located, &[], dir.path());
    for r in &resolutions {
        let [t] = r.targets.as_slice() else {
            panic!("one target: {r:?}")
        };
        assert_eq!(t.bucket.as_deref(), Some("b"));
        assert_eq!(t.keys, vec![(None, "k/terraform.tfstate".to_string())]);
        assert_eq!(t.table.as_deref(), Some("locks"));
        assert_eq!(t.client.region.as_deref(), Some("r"));
    }
}

#[test]
fn a_partial_block_without_its_file_is_checked_by_prefix() {
    let block =
        "terraform {\n  backend \"s3\" {\n    bucket = \"b\"\n    dynamodb_table = \"t\"\n  }\n}\n";
    let t = resolve("main.tf", FileKind::Terraform, block)
        .targets
        .remove(0);
    assert_eq!(t.unknown_key_prefix.as_deref(), Some(""));
    assert!(t.keys.is_empty());
}

#[test]
fn literal_prefixes_stop_at_the_first_interpolation() {
    assert_eq!(literal_prefix("\"a/b/${x}/c\""), "a/b/");
    assert_eq!(literal_prefix("\"a/%{ if x }\""), "a/");
    assert_eq!(literal_prefix("local.x"), "");
}

#[test]
fn json_strings_become_quoted_hcl_templates() {
    assert_eq!(hcl_quoted("${a}/b"), r#""${a}/b""#);
    assert_eq!(hcl_quoted("q\"\\\n"), r#""q\"\\\n""#);
}
