//! Readers (`data "terraform_remote_state"` with `backend = "s3"`): with
//! `replace`, the DynamoDB settings leave their `config`. Readers never lock, so
//! nothing takes their place (no `use_lockfile`); `dual` leaves them alone.

use super::{BodyOps, Edit, Op, PlanError, Strategy, TABLE_KEY, hcl, json};
use crate::parse::{Reader, Syntax};
use crate::source::Source;

/// The settings that only serve DynamoDB locking, in the order they are reported.
pub const ENDPOINT_KEY: &str = "dynamodb_endpoint";
pub const ENDPOINTS_DYNAMODB: &str = "endpoints.dynamodb";

/// Which DynamoDB settings a reader's config names (`dynamodb_table`,
/// `dynamodb_endpoint`, `endpoints.dynamodb`).
pub fn dynamodb_settings(reader: &Reader) -> Vec<&'static str> {
    let Some(config) = &reader.config else {
        return Vec::new();
    };
    let mut found = Vec::new();
    if config.get(TABLE_KEY).is_some() {
        found.push(TABLE_KEY);
    }
    if config.get(ENDPOINT_KEY).is_some() {
        found.push(ENDPOINT_KEY);
    }
    let endpoints_dynamodb = config
        .get("endpoints")
        .and_then(|e| e.object.as_ref())
        .is_some_and(|o| o.get("dynamodb").is_some());
    if endpoints_dynamodb {
        found.push(ENDPOINTS_DYNAMODB);
    }
    found
}

/// What a strategy removes from one reader's config: the outer ops first, then
/// the `endpoints` object's own (when it keeps other endpoints).
fn decide(reader: &Reader, strategy: Strategy) -> Vec<BodyOps<'_>> {
    let Some(config) = &reader.config else {
        return Vec::new();
    };
    if strategy == Strategy::Dual {
        return Vec::new();
    }
    let mut ops: Vec<Op> = [config.get(TABLE_KEY), config.get(ENDPOINT_KEY)]
        .into_iter()
        .flatten()
        .map(Op::Delete)
        .collect();
    let mut nested = Vec::new();
    if let Some(endpoints) = config.get("endpoints")
        && let Some(object) = &endpoints.object
        && let Some(dynamodb) = object.get("dynamodb")
    {
        if object.settings.len() == 1 {
            ops.push(Op::Delete(endpoints));
        } else {
            nested.push(BodyOps {
                body: object,
                ops: vec![Op::Delete(dynamodb)],
            });
        }
    }
    if ops.is_empty() && nested.is_empty() {
        return Vec::new();
    }
    let mut all = vec![BodyOps { body: config, ops }];
    all.extend(nested);
    all
}

/// The edits that strip a reader's DynamoDB settings under a strategy
/// (empty for `dual`, and for a reader without any).
pub fn plan_reader(
    source: &Source,
    reader: &Reader,
    strategy: Strategy,
) -> Result<Vec<Edit>, PlanError> {
    let bodies = decide(reader, strategy);
    let mut edits = Vec::new();
    // Nested objects first: the outer body's alignment sees their width changes
    // (as for backends).
    for body_ops in bodies.iter().rev() {
        if body_ops.ops.is_empty() && edits.is_empty() {
            continue;
        }
        let body_edits = match body_ops.body.syntax {
            Syntax::HclBody | Syntax::HclObject => hcl::render(source, body_ops, &edits)?,
            Syntax::Json => json::render(source, body_ops)?,
        };
        edits.extend(body_edits);
    }
    Ok(edits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::FileKind;
    use crate::parse::parse_file;
    use crate::plan::splice;

    fn strip(kind: FileKind, text: &str, strategy: Strategy) -> String {
        let source = Source::new(text.to_string());
        let parsed = parse_file(kind, &source).unwrap();
        let mut edits = Vec::new();
        for r in &parsed.readers {
            edits.extend(plan_reader(&source, r, strategy).unwrap());
        }
        splice(text, &edits).unwrap()
    }

    const HCL: &str = r#"data "terraform_remote_state" "network" {
  backend = "s3"
  config = {
    bucket            = "b"
    key               = "network/terraform.tfstate"
    dynamodb_table    = "locks"
    region            = "eu-west-1"
    dynamodb_endpoint = "http://localhost:4566"
  }
}
"#;

    #[test]
    fn replace_removes_dynamodb_settings_and_realigns() {
        let out = strip(FileKind::Terraform, HCL, Strategy::Replace);
        assert_eq!(
            out,
            r#"data "terraform_remote_state" "network" {
  backend = "s3"
  config = {
    bucket = "b"
    key    = "network/terraform.tfstate"
    region = "eu-west-1"
  }
}
"#
        );
        assert!(!out.contains("use_lockfile"));
    }

    #[test]
    fn dual_leaves_readers_alone() {
        assert_eq!(strip(FileKind::Terraform, HCL, Strategy::Dual), HCL);
    }

    #[test]
    fn finds_every_dynamodb_setting() {
        let source = Source::new(HCL.replace(
            "region            = \"eu-west-1\"",
            "endpoints = { s3 = \"http://s3\", dynamodb = \"http://ddb\" }",
        ));
        let parsed = parse_file(FileKind::Terraform, &source).unwrap();
        assert_eq!(
            dynamodb_settings(&parsed.readers[0]),
            [TABLE_KEY, ENDPOINT_KEY, ENDPOINTS_DYNAMODB]
        );
    }

    #[test]
    fn other_data_sources_and_backends_are_not_readers() {
        let text = r#"data "terraform_remote_state" "gcs" {
  backend = "gcs"
  config = { dynamodb_table = "x" }
}
data "aws_dynamodb_table" "t" {
  name = "locks"
}
"#;
        let source = Source::new(text.to_string());
        assert!(
            parse_file(FileKind::Terraform, &source)
                .unwrap()
                .readers
                .is_empty()
        );
    }

    #[test]
    fn json_readers_lose_their_dynamodb_members() {
        let text = r#"{
  "data": {
    "terraform_remote_state": {
      "network": {
        "backend": "s3",
        "config": {
          "bucket": "b",
          "key": "network/terraform.tfstate",
          "dynamodb_table": "locks",
          "endpoints": { "s3": "http://s3", "dynamodb": "http://ddb" }
        }
      }
    }
  }
}
"#;
        let out = strip(FileKind::TerraformJson, text, Strategy::Replace);
        let value: serde_json::Value = serde_json::from_str(&out).unwrap();
        let config = &value["data"]["terraform_remote_state"]["network"]["config"];
        assert_eq!(config["dynamodb_table"], serde_json::Value::Null);
        assert_eq!(
            config["endpoints"],
            serde_json::json!({ "s3": "http://s3" })
        );
        assert_eq!(config["bucket"], "b");
    }

    #[test]
    fn a_config_that_is_not_a_literal_is_kept_unknown() {
        let text = "data \"terraform_remote_state\" \"x\" {\n  backend = \"s3\"\n  config  = local.cfg\n}\n";
        let source = Source::new(text.to_string());
        let parsed = parse_file(FileKind::Terraform, &source).unwrap();
        assert!(parsed.readers[0].config.is_none());
        assert_eq!(parsed.readers[0].config_line, Some(3));
        assert_eq!(strip(FileKind::Terraform, text, Strategy::Replace), text);
    }
}
