//! Table-style unit tests of the parse stage: input text -> the S3 backends (and
//! readers) it configures, with spans that point at the original bytes.

use super::*;

/// Each backend as `kind line: key=value, ...` (nested objects as `key.item`),
/// after checking that every key and value span covers exactly what was written.
fn backends(kind: FileKind, text: &str) -> Vec<String> {
    let source = Source::new(text.to_string());
    let parsed = parse(kind, &source).expect("parses");
    parsed
        .iter()
        .map(|b| {
            let mut items = Vec::new();
            describe(&source, &b.body, "", &mut items);
            format!("{} {}: {}", b.kind.as_str(), b.line, items.join(", "))
        })
        .collect()
}

fn describe(source: &Source, body: &Body, prefix: &str, out: &mut Vec<String>) {
    for s in &body.settings {
        let key = &source.text[s.key_span.clone()];
        assert_eq!(key.trim_matches('"'), s.key, "key span of {}", s.key);
        let value = &source.text[s.value_span.clone()];
        match &s.object {
            Some(object) => describe(source, object, &format!("{prefix}{}.", s.key), out),
            None => {
                if let Value::String(v) = &s.value {
                    assert_eq!(value, format!("\"{v}\""), "value span of {}", s.key);
                }
                out.push(format!("{prefix}{}={}", s.key, s.value.display()));
            }
        }
    }
}

fn error(kind: FileKind, text: &str) -> String {
    parse(kind, &Source::new(text.to_string()))
        .expect_err("refused")
        .to_string()
}

#[test]
fn finds_an_s3_backend_block_and_skips_other_backends() {
    let text = "terraform {\n  backend \"gcs\" {\n    bucket = \"g\"\n  }\n}\n\nterraform {\n  required_version = \">= 1.10\"\n  backend \"s3\" {\n    bucket         = \"b\"\n    dynamodb_table = \"t\"\n  }\n}\n";
    assert_eq!(
        backends(FileKind::Terraform, text),
        ["terraform 9: bucket=b, dynamodb_table=t"]
    );
}

#[test]
fn literal_and_expression_values_are_told_apart() {
    let text = "terraform {\n  backend \"s3\" {\n    bucket       = \"b\"\n    use_lockfile = true\n    max_retries  = 5\n    key          = \"${var.env}/state\"\n    table        = var.table\n    profile      = null\n  }\n}\n";
    let source = Source::new(text.to_string());
    let found = parse(FileKind::Terraform, &source).unwrap();
    let values: Vec<(&str, &Value)> = found[0]
        .body
        .settings
        .iter()
        .map(|s| (s.key.as_str(), &s.value))
        .collect();
    insta::assert_debug_snapshot!(values, @r#"
    [
        (
            "bucket",
            String(
                "b",
            ),
        ),
        (
            "use_lockfile",
            Bool(
                true,
            ),
        ),
        (
            "max_retries",
            Number(
                "5",
            ),
        ),
        (
            "key",
            Expression(
                "\"${var.env}/state\"",
            ),
        ),
        (
            "table",
            Expression(
                "var.table",
            ),
        ),
        (
            "profile",
            Null,
        ),
    ]
    "#);
}

#[test]
fn nested_endpoints_object_keeps_its_items() {
    let text = "terraform {\n  backend \"s3\" {\n    endpoints = {\n      s3       = \"http://s3\"\n      dynamodb = \"http://ddb\"\n    }\n  }\n}\n";
    assert_eq!(
        backends(FileKind::Terraform, text),
        ["terraform 2: endpoints.s3=http://s3, endpoints.dynamodb=http://ddb"]
    );
}

#[test]
fn not_backends_readers_module_inputs_resources_and_heredocs() {
    let text = r#"data "terraform_remote_state" "net" {
  backend = "s3"
  config = {
    bucket         = "b"
    dynamodb_table = "t"
  }
}

module "state" {
  source         = "./state"
  dynamodb_table = "t"
}

resource "aws_dynamodb_table" "locks" {
  name = "locks"
}

locals {
  doc = <<EOT
terraform {
  backend "s3" {
    dynamodb_table = "t"
  }
}
EOT
}
"#;
    let source = Source::new(text.to_string());
    let parsed = parse_file(FileKind::Terraform, &source).unwrap();
    assert!(parsed.backends.is_empty());
    assert_eq!(parsed.readers.len(), 1);
    assert_eq!(parsed.readers[0].name, "net");
    assert_eq!(
        parsed.readers[0].value("dynamodb_table"),
        Some(&Value::String("t".into()))
    );
}

#[test]
fn spans_point_at_the_original_bytes_after_a_bom() {
    let text = "\u{feff}terraform {\n  backend \"s3\" {\n    dynamodb_table = \"t\"\n  }\n}\n";
    // `backends` checks every span against the text, BOM included.
    assert_eq!(
        backends(FileKind::Terraform, text),
        ["terraform 2: dynamodb_table=t"]
    );
}

#[test]
fn crlf_files_parse_with_exact_spans() {
    let text = "terraform {\r\n  backend \"s3\" {\r\n    bucket = \"b\"\r\n    dynamodb_table = \"t\"\r\n  }\r\n}\r\n";
    assert_eq!(
        backends(FileKind::Terraform, text),
        ["terraform 2: bucket=b, dynamodb_table=t"]
    );
}

#[test]
fn json_backends_in_object_and_array_forms() {
    let object = r#"{"terraform": {"backend": {"s3": {"bucket": "b", "dynamodb_table": "t"}}}}"#;
    assert_eq!(
        backends(FileKind::TerraformJson, object),
        ["terraform-json 1: bucket=b, dynamodb_table=t"]
    );
    let arrays = "{\n  \"terraform\": [\n    {\"backend\": [{\"gcs\": {}}, {\"s3\": {\"key\": \"k\"}}]}\n  ]\n}\n";
    assert_eq!(
        backends(FileKind::TerraformJson, arrays),
        ["terraform-json 3: key=k"]
    );
}

#[test]
fn tfbackend_top_level_attributes_are_one_backend() {
    assert_eq!(
        backends(
            FileKind::Tfbackend,
            "bucket = \"b\"\nkey    = \"k\"\ndynamodb_table = \"t\"\n"
        ),
        ["tfbackend 1: bucket=b, key=k, dynamodb_table=t"]
    );
}

#[test]
fn terragrunt_remote_state_block_attribute_and_other_backends() {
    let block = "remote_state {\n  backend = \"s3\"\n  config = {\n    bucket     = \"b\"\n    lock_table = \"t\"\n  }\n}\n";
    assert_eq!(
        backends(FileKind::Terragrunt, block),
        ["terragrunt 1: bucket=b, lock_table=t"]
    );
    let gcs = "remote_state {\n  backend = \"gcs\"\n  config = {\n    bucket = \"b\"\n  }\n}\n";
    assert!(backends(FileKind::Terragrunt, gcs).is_empty());
}

#[test]
fn terragrunt_generate_heredoc_holds_a_backend_with_shifted_spans() {
    let text = "generate \"backend\" {\n  path     = \"backend.tf\"\n  contents = <<EOF\nterraform {\n  backend \"s3\" {\n    dynamodb_table = \"t\"\n  }\n}\nEOF\n}\n";
    let found = backends(FileKind::Terragrunt, text);
    assert_eq!(found.len(), 1);
    assert!(found[0].ends_with(": dynamodb_table=t"), "{found:?}");
}

#[test]
fn a_setting_written_twice_is_refused_with_its_place() {
    let block = "terraform {\n  backend \"s3\" {\n    dynamodb_table = \"a\"\n    dynamodb_table = \"b\"\n  }\n}\n";
    let message = error(FileKind::Terraform, block);
    assert!(message.starts_with("4:5: "), "{message}");
    // `a` and `"a"` are the same key to Terraform: tflock does not guess.
    let object = "remote_state {\n  backend = \"s3\"\n  config = {\n    dynamodb_table = \"a\"\n    \"dynamodb_table\" = \"b\"\n  }\n}\n";
    let message = error(FileKind::Terragrunt, object);
    assert!(
        message.starts_with("5:5: `dynamodb_table` is set twice in this backend (also on line 4)"),
        "{message}"
    );
}

#[test]
fn a_syntax_error_is_reported_at_line_and_column() {
    let message = error(
        FileKind::Terraform,
        "terraform {\n  backend \"s3\" {\n    bucket = \n}\n",
    );
    let (place, _) = message.split_once(": ").unwrap();
    let (line, column) = place.split_once(':').unwrap();
    assert!(line.parse::<usize>().unwrap() >= 3, "{message}");
    assert!(column.parse::<usize>().unwrap() >= 1, "{message}");
    let json = error(FileKind::TerraformJson, "{\"terraform\": ");
    assert!(json.starts_with("1:"), "{json}");
}

#[test]
fn many_braces_left_open_are_a_syntax_error_at_the_innermost_without_backtracking() {
    // hcl-edit doubles its time per unclosed brace here (fuzz finding); tflock
    // answers at once, at the innermost open brace.
    let text = format!("k = a{}\n", "%{g/u ".repeat(40));
    let message = error(FileKind::Terraform, &text);
    assert!(
        message.starts_with(&format!("1:{}: syntax error: unclosed", 5 + 6 * 39 + 2)),
        "{message}"
    );
    assert!(
        message.contains("(40 braces are never closed)"),
        "{message}"
    );
    // Deep nesting that is closed, braces inside strings, comments and
    // heredocs: parsed as before.
    let deep = format!(
        "locals {{\n  x = {}1{}\n  s = \"{{{{{{{{{{{{{{{{{{{{\"\n  # {{{{{{{{{{{{{{{{{{{{\n  h = <<EOT\n{{{{{{{{{{{{{{{{{{{{\nEOT\n}}\n",
        "{ a = ".repeat(12),
        " }".repeat(12)
    );
    assert_eq!(backends(FileKind::Terraform, &deep), Vec::<String>::new());
}
