//! Terraform's JSON syntax (`.tf.json`, `.tofu.json`) with byte spans from jsonc-parser.

use super::{Backend, BackendKind, Body, ParseError, Setting, Syntax, Value};
use crate::source::Source;
use jsonc_parser::ast::{self, ObjectPropName};
use jsonc_parser::{CollectOptions, ParseOptions};

/// `{"terraform": {"backend": {"s3": {...}}}}`, where each level may also be an array
/// of objects, as the JSON syntax allows for blocks.
pub fn terraform_backends(source: &Source) -> Result<Vec<Backend>, ParseError> {
    let parsed = parse_root(source)?;
    let root = root_object(source, &parsed)?;
    Ok(backends_of(source, root))
}

/// The file's JSON syntax tree, parsed strictly (Terraform accepts no comments).
pub(super) fn parse_root(source: &Source) -> Result<jsonc_parser::ParseResult<'_>, ParseError> {
    let base = source.bom;
    let strict = ParseOptions {
        allow_comments: false,
        allow_loose_object_property_names: false,
        allow_trailing_commas: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    };
    jsonc_parser::parse_to_ast(source.body(), &CollectOptions::default(), &strict).map_err(|e| {
        ParseError::at(
            source,
            base + e.range().start,
            format!("syntax error: {}", e.kind()),
        )
    })
}

/// The top-level object of a parsed file.
pub(super) fn root_object<'a>(
    source: &Source,
    parsed: &'a jsonc_parser::ParseResult<'a>,
) -> Result<&'a ast::Object<'a>, ParseError> {
    match &parsed.value {
        Some(ast::Value::Object(root)) => Ok(root),
        _ => Err(ParseError::at(
            source,
            source.bom,
            "a Terraform JSON file must hold an object",
        )),
    }
}

/// The S3 backends under the top-level `terraform` member(s).
pub(super) fn backends_of(source: &Source, root: &ast::Object) -> Vec<Backend> {
    let base = source.bom;
    let mut backends = Vec::new();
    for terraform in members(root, "terraform") {
        for backend in members(terraform, "backend") {
            for s3 in members(backend, "s3") {
                let start = base + s3.range.start;
                backends.push(Backend {
                    kind: BackendKind::TerraformJson,
                    line: source.line_of(start),
                    body: object_body(source, s3),
                });
            }
        }
    }
    backends
}

/// The objects under `key`: the value itself, or each object of an array value.
pub(super) fn members<'a>(object: &'a ast::Object<'a>, key: &str) -> Vec<&'a ast::Object<'a>> {
    let mut found = Vec::new();
    for prop in object.properties.iter().filter(|p| prop_name(p) == key) {
        match &prop.value {
            ast::Value::Object(o) => found.push(o),
            ast::Value::Array(a) => found.extend(a.elements.iter().filter_map(|e| match e {
                ast::Value::Object(o) => Some(o),
                _ => None,
            })),
            _ => {}
        }
    }
    found
}

pub(super) fn prop_name<'a>(prop: &'a ast::ObjectProp<'a>) -> &'a str {
    match &prop.name {
        ObjectPropName::String(s) => &s.value,
        ObjectPropName::Word(w) => w.value,
    }
}

pub(super) fn object_body(source: &Source, object: &ast::Object) -> Body {
    let base = source.bom;
    let settings = object
        .properties
        .iter()
        .map(|prop| {
            let name_range = match &prop.name {
                ObjectPropName::String(s) => s.range,
                ObjectPropName::Word(w) => w.range,
            };
            let value_range = value_range(&prop.value);
            let value_span = base + value_range.start..base + value_range.end;
            Setting {
                key: prop_name(prop).to_string(),
                value: json_value(&prop.value, &source.text[value_span.clone()]),
                key_span: base + name_range.start..base + name_range.end,
                value_span,
                object: match &prop.value {
                    ast::Value::Object(o) => Some(object_body(source, o)),
                    _ => None,
                },
            }
        })
        .collect();
    Body {
        syntax: Syntax::Json,
        span: base + object.range.start..base + object.range.end,
        settings,
    }
}

pub(super) fn value_range(value: &ast::Value) -> jsonc_parser::common::Range {
    match value {
        ast::Value::StringLit(v) => v.range,
        ast::Value::NumberLit(v) => v.range,
        ast::Value::BooleanLit(v) => v.range,
        ast::Value::Object(v) => v.range,
        ast::Value::Array(v) => v.range,
        ast::Value::NullKeyword(v) => v.range,
    }
}

/// JSON strings are templates in Terraform: `"${var.x}"` is an expression.
fn json_value(value: &ast::Value, text: &str) -> Value {
    match value {
        ast::Value::StringLit(s) if s.value.contains("${") || s.value.contains("%{") => {
            Value::Expression(s.value.to_string())
        }
        ast::Value::StringLit(s) => Value::String(s.value.to_string()),
        ast::Value::BooleanLit(b) => Value::Bool(b.value),
        ast::Value::NumberLit(n) => Value::Number(n.value.to_string()),
        ast::Value::NullKeyword(_) => Value::Null,
        ast::Value::Object(_) | ast::Value::Array(_) => Value::Expression(text.to_string()),
    }
}
