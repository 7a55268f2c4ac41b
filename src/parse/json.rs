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

/// Terragrunt's JSON syntax (`terragrunt.hcl.json`): `{"remote_state":
/// {"backend": "s3", "config": {...}}}`, where `remote_state` may also be an
/// array of such objects (HCL's JSON form of a repeated block).
pub fn terragrunt_backends(source: &Source) -> Result<Vec<Backend>, ParseError> {
    let parsed = parse_root(source)?;
    terragrunt_backends_in(source, root_object(source, &parsed)?)
}

/// `terragrunt_backends` of a file already parsed.
pub(super) fn terragrunt_backends_in(
    source: &Source,
    root: &ast::Object,
) -> Result<Vec<Backend>, ParseError> {
    let base = source.bom;
    let mut backends = Vec::new();
    for remote_state in members(root, "remote_state") {
        let is_s3 = remote_state.properties.iter().any(|p| {
            prop_name(p) == "backend"
                && matches!(&p.value, ast::Value::StringLit(s) if s.value == "s3")
        });
        if !is_s3 {
            continue;
        }
        let configs: Vec<&ast::ObjectProp> = remote_state
            .properties
            .iter()
            .filter(|p| prop_name(p) == "config")
            .collect();
        for config in configs {
            let ast::Value::Object(object) = &config.value else {
                return Err(ParseError::at(
                    source,
                    base + value_range(&config.value).start,
                    "remote_state config is not an object literal; tflock can only edit literal settings",
                ));
            };
            backends.push(Backend {
                kind: BackendKind::Terragrunt,
                line: source.line_of(base + remote_state.range.start),
                body: object_body(source, object),
            });
        }
    }
    refuse_generated_backends(source, root)?;
    Ok(backends)
}

/// A `generate` block's `contents` is one JSON string here: a backend inside it
/// cannot be edited by splicing the file's bytes, so it is refused (and shown)
/// rather than silently left on DynamoDB.
fn refuse_generated_backends(source: &Source, root: &ast::Object) -> Result<(), ParseError> {
    for generate in members(root, "generate") {
        // `generate "name" {...}` is `{"generate": {"name": {...}}}` in JSON.
        for block in generate.properties.iter().filter_map(|p| match &p.value {
            ast::Value::Object(o) => Some(vec![o]),
            ast::Value::Array(a) => Some(
                a.elements
                    .iter()
                    .filter_map(|e| match e {
                        ast::Value::Object(o) => Some(o),
                        _ => None,
                    })
                    .collect(),
            ),
            _ => None,
        }) {
            for object in block {
                for contents in object
                    .properties
                    .iter()
                    .filter(|p| prop_name(p) == "contents")
                {
                    let ast::Value::StringLit(text) = &contents.value else {
                        continue;
                    };
                    let squeezed: String = text.value.split_whitespace().collect();
                    if squeezed.contains("backend\"s3\"")
                        && (text.value.contains("dynamodb_table")
                            || text.value.contains("lock_table"))
                    {
                        return Err(ParseError::at(
                            source,
                            source.bom + text.range.start,
                            "a `generate` block's contents hold an S3 backend with DynamoDB locking; \
                             tflock cannot edit inside a JSON string: change it by hand",
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

/// The file a `terragrunt.hcl.json` unit includes with
/// `"include": {"path": "${find_in_parent_folders(...)}"}` (bare, labelled
/// `{"root": {"path": ...}}`, or an array of them), as for `terragrunt.hcl`.
pub fn terragrunt_include(source: &Source) -> Option<String> {
    let parsed = parse_root(source).ok()?;
    let root = root_object(source, &parsed).ok()?;
    let mut includes = Vec::new();
    for include in members(root, "include") {
        includes.push(include);
        // A labelled include nests its body one level down.
        for prop in &include.properties {
            if let ast::Value::Object(o) = &prop.value {
                includes.push(o);
            }
        }
    }
    includes.iter().find_map(|include| {
        include.properties.iter().find_map(|p| match &p.value {
            ast::Value::StringLit(s) if prop_name(p) == "path" => parent_folder_file(&s.value),
            _ => None,
        })
    })
}

/// `${find_in_parent_folders()}` or `${find_in_parent_folders("name")}`.
fn parent_folder_file(template: &str) -> Option<String> {
    let call = template
        .strip_prefix("${")?
        .strip_suffix('}')?
        .trim()
        .strip_prefix("find_in_parent_folders(")?
        .strip_suffix(')')?
        .trim();
    if call.is_empty() {
        return Some("terragrunt.hcl".to_string());
    }
    let name = call.strip_prefix('"')?.strip_suffix('"')?;
    (!name.contains(['"', '\\', '$'])).then(|| name.to_string())
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

/// The `required_version` member of every `terraform` object, each as a
/// one-setting JSON body (what a version bump renders against). A string
/// holding `${` is an expression; any other non-string value is kept as its text.
pub(crate) fn required_version_blocks(source: &Source, root: &ast::Object) -> Vec<Body> {
    let base = source.bom;
    members(root, "terraform")
        .into_iter()
        .map(|object| {
            let settings = object
                .properties
                .iter()
                .filter(|p| prop_name(p) == "required_version")
                .map(|p| {
                    let key = match &p.name {
                        ObjectPropName::String(s) => s.range,
                        ObjectPropName::Word(w) => w.range,
                    };
                    let range = value_range(&p.value);
                    let value = match &p.value {
                        ast::Value::StringLit(s) if s.value.contains("${") => {
                            Value::Expression(s.value.to_string())
                        }
                        ast::Value::StringLit(s) => Value::String(s.value.to_string()),
                        _ => Value::Expression(
                            source.text[base + range.start..base + range.end].to_string(),
                        ),
                    };
                    Setting {
                        key: "required_version".into(),
                        value,
                        key_span: base + key.start..base + key.end,
                        value_span: base + range.start..base + range.end,
                        object: None,
                    }
                })
                .collect();
            Body {
                syntax: Syntax::Json,
                span: base + object.range.start..base + object.range.end,
                settings,
            }
        })
        .collect()
}

/// `required_version_blocks` of a file parsed leniently (comments and
/// trailing commas allowed): the preflight reads constraints even in a file
/// the planner refuses.
pub fn lenient_required_version_blocks(source: &Source) -> Vec<Body> {
    let Ok(parsed) = jsonc_parser::parse_to_ast(
        source.body(),
        &CollectOptions::default(),
        &ParseOptions::default(),
    ) else {
        return Vec::new();
    };
    match &parsed.value {
        Some(ast::Value::Object(root)) => required_version_blocks(source, root),
        _ => Vec::new(),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn include_of(text: &str) -> Option<String> {
        terragrunt_include(&Source::new(text.to_string()))
    }

    #[test]
    fn finds_the_included_root_in_every_json_form() {
        assert_eq!(
            include_of(r#"{"include": {"path": "${find_in_parent_folders(\"root.hcl\")}"}}"#),
            Some("root.hcl".into())
        );
        assert_eq!(
            include_of(r#"{"include": {"root": {"path": "${find_in_parent_folders()}"}}}"#),
            Some("terragrunt.hcl".into())
        );
        assert_eq!(
            include_of(r#"{"include": [{"path": "${find_in_parent_folders(\"a.hcl\")}"}]}"#),
            Some("a.hcl".into())
        );
        assert_eq!(include_of(r#"{"include": {"path": "../root.hcl"}}"#), None);
        assert_eq!(include_of("not json"), None);
    }

    #[test]
    fn reads_remote_state_objects_and_arrays_and_refuses_generated_backends() {
        let text = r#"{"remote_state": [{"backend": "s3", "config": {"bucket": "b", "dynamodb_table": "t"}},
                       {"backend": "gcs", "config": {"bucket": "g"}}]}"#;
        let backends = terragrunt_backends(&Source::new(text.to_string())).unwrap();
        assert_eq!(backends.len(), 1);
        assert_eq!(backends[0].kind, BackendKind::Terragrunt);
        assert_eq!(
            backends[0].value("dynamodb_table"),
            Some(&Value::String("t".into()))
        );
        let not_literal = r#"{"remote_state": {"backend": "s3", "config": "${local.config}"}}"#;
        assert!(terragrunt_backends(&Source::new(not_literal.to_string())).is_err());
        let generated = r#"{"generate": {"backend": {"path": "backend.tf", "contents": "terraform {\n backend \"s3\" {\n dynamodb_table = \"t\"\n }\n}"}}}"#;
        let err = terragrunt_backends(&Source::new(generated.to_string())).unwrap_err();
        assert!(err.message.contains("by hand"), "{err}");
    }
}
