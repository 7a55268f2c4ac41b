//! Readers: `data "terraform_remote_state" "<name>" { backend = "s3" config = {...} }`
//! in `.tf` / `.tofu` files and their `.tf.json` form. A reader is never a
//! backend (it never locks), but a `config` that names DynamoDB settings makes
//! Terraform check the state's `-md5` digest item on every read.

use super::{ParseError, Value, hcl, json};
use crate::source::Source;
use hcl_edit::Span;
use hcl_edit::expr::Expression;
use hcl_edit::structure;
use jsonc_parser::ast;

/// The data source type that reads another configuration's state.
pub const REMOTE_STATE: &str = "terraform_remote_state";

pub use crate::model::backend::Reader;

/// The readers of a parsed HCL document (`.tf`, `.tofu`).
pub(super) fn in_hcl(source: &Source, doc: &structure::Body) -> Result<Vec<Reader>, ParseError> {
    let base = source.bom;
    let mut readers = Vec::new();
    for block in doc.blocks().filter(|b| b.has_ident("data")) {
        let [kind, name] = block.labels.as_slice() else {
            continue;
        };
        if kind.as_str() != REMOTE_STATE {
            continue;
        }
        let is_s3 = matches!(
            block.body.get_attribute("backend").map(|a| &a.value),
            Some(Expression::String(s)) if s.value() == "s3"
        );
        if !is_s3 {
            continue;
        }
        let span = hcl::shift(block.span(), base)?;
        let (config, config_line) = match block.body.get_attribute("config").map(|a| &a.value) {
            Some(Expression::Object(object)) => (
                Some(hcl::object_body(source, base, object)?),
                Some(source.line_of(hcl::shift(object.span(), base)?.start)),
            ),
            Some(other) => (
                None,
                Some(source.line_of(hcl::shift(other.span(), base)?.start)),
            ),
            None => (None, None),
        };
        let workspace = match block.body.get_attribute("workspace") {
            Some(attr) => {
                let span = hcl::shift(attr.value.span(), base)?;
                Some(hcl::literal(&attr.value, &source.text[span]))
            }
            None => None,
        };
        readers.push(Reader {
            name: name.as_str().to_string(),
            line: source.line_of(span.start),
            config,
            config_line,
            workspace,
        });
    }
    Ok(readers)
}

/// The readers of a parsed Terraform JSON file:
/// `{"data": {"terraform_remote_state": {"<name>": {"backend": "s3", "config": {...}}}}}`,
/// where each level may also be an array of objects.
pub(super) fn in_json(source: &Source, root: &ast::Object) -> Vec<Reader> {
    let base = source.bom;
    let mut readers = Vec::new();
    for data in json::members(root, "data") {
        for by_name in json::members(data, REMOTE_STATE) {
            for prop in &by_name.properties {
                let blocks: Vec<&ast::Object> = match &prop.value {
                    ast::Value::Object(o) => vec![o],
                    ast::Value::Array(a) => a
                        .elements
                        .iter()
                        .filter_map(|e| match e {
                            ast::Value::Object(o) => Some(o),
                            _ => None,
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                for block in blocks {
                    let is_s3 = block.properties.iter().any(|p| {
                        json::prop_name(p) == "backend"
                            && matches!(&p.value, ast::Value::StringLit(s) if s.value == "s3")
                    });
                    if !is_s3 {
                        continue;
                    }
                    let config = block
                        .properties
                        .iter()
                        .find(|p| json::prop_name(p) == "config");
                    let config_line = config.map(|p| source.line_of(base + p.range.start));
                    let workspace = block
                        .properties
                        .iter()
                        .find(|p| json::prop_name(p) == "workspace")
                        .map(|p| match &p.value {
                            ast::Value::StringLit(s) if !s.value.contains("${") => {
                                Value::String(s.value.to_string())
                            }
                            other => {
                                let r = json::value_range(other);
                                Value::Expression(
                                    source.text[base + r.start..base + r.end].to_string(),
                                )
                            }
                        });
                    readers.push(Reader {
                        name: json::prop_name(prop).to_string(),
                        line: source.line_of(base + block.range.start),
                        config: config.and_then(|p| match &p.value {
                            ast::Value::Object(o) => Some(json::object_body(source, o)),
                            _ => None,
                        }),
                        config_line,
                        workspace,
                    });
                }
            }
        }
    }
    readers
}
