//! `required_version` in Terraform's JSON syntax (`.tf.json`, `.tofu.json`):
//! `{"terraform": {"required_version": "..."}}`, where `terraform` may also be
//! an array of objects. Spans from jsonc-parser, so a bump is a byte splice.

use super::facts::{ConstraintKind, VersionConstraint};
use crate::discover::Candidate;
use crate::parse::{Body, Setting, Syntax, Value};
use crate::source::Source;
use jsonc_parser::ast::{self, ObjectPropName};
use jsonc_parser::{CollectOptions, ParseOptions};

/// The `required_version` member of every `terraform` object, each as a
/// one-setting JSON body (what the bump renders against).
pub fn terraform_blocks(source: &Source) -> Vec<Body> {
    let Ok(parsed) = jsonc_parser::parse_to_ast(
        source.body(),
        &CollectOptions::default(),
        &ParseOptions::default(),
    ) else {
        return Vec::new();
    };
    let Some(ast::Value::Object(root)) = parsed.value else {
        return Vec::new();
    };
    let base = source.bom;
    let mut bodies = Vec::new();
    for prop in root.properties.iter().filter(|p| name(p) == "terraform") {
        let objects: Vec<&ast::Object> = match &prop.value {
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
        for object in objects {
            let settings = object
                .properties
                .iter()
                .filter(|p| name(p) == "required_version")
                .map(|p| {
                    let key = match &p.name {
                        ObjectPropName::String(s) => s.range,
                        ObjectPropName::Word(w) => w.range,
                    };
                    let (value, range) = match &p.value {
                        ast::Value::StringLit(s) if s.value.contains("${") => {
                            (Value::Expression(s.value.to_string()), s.range)
                        }
                        ast::Value::StringLit(s) => (Value::String(s.value.to_string()), s.range),
                        other => {
                            let range = match other {
                                ast::Value::NumberLit(v) => v.range,
                                ast::Value::BooleanLit(v) => v.range,
                                ast::Value::Object(v) => v.range,
                                ast::Value::Array(v) => v.range,
                                ast::Value::NullKeyword(v) => v.range,
                                ast::Value::StringLit(v) => v.range,
                            };
                            let text = &source.text[base + range.start..base + range.end];
                            (Value::Expression(text.to_string()), range)
                        }
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
            bodies.push(Body {
                syntax: Syntax::Json,
                span: base + object.range.start..base + object.range.end,
                settings,
            });
        }
    }
    bodies
}

/// The version constraints of a `.tf.json` / `.tofu.json` file.
pub fn required_versions(candidate: &Candidate, bytes: &[u8]) -> Vec<VersionConstraint> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Vec::new();
    };
    let source = Source::new(text.to_string());
    terraform_blocks(&source)
        .iter()
        .filter_map(|b| b.get("required_version"))
        .map(|s| {
            let (text, literal) = match &s.value {
                Value::String(v) => (v.clone(), true),
                other => (other.display(), false),
            };
            VersionConstraint {
                kind: ConstraintKind::RequiredVersion,
                path: candidate.display.clone(),
                dir: crate::resolve::parent_dir(&candidate.display),
                fs_path: candidate.path.clone(),
                line: source.line_of(s.key_span.start),
                text,
                literal,
                tofu: candidate.display.ends_with(".tofu.json"),
                generated: false,
            }
        })
        .collect()
}

fn name<'a>(prop: &'a ast::ObjectProp<'a>) -> &'a str {
    match &prop.name {
        ObjectPropName::String(s) => &s.value,
        ObjectPropName::Word(w) => w.value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_required_version_in_objects_and_arrays() {
        let text =
            "{\n  \"terraform\": [{\"required_version\": \">= 1.5\"}, {\"backend\": {}}]\n}\n";
        let source = Source::new(text.to_string());
        let blocks = terraform_blocks(&source);
        let s = blocks[0].get("required_version").unwrap();
        assert_eq!(s.value, Value::String(">= 1.5".into()));
        assert_eq!(&text[s.value_span.clone()], "\">= 1.5\"");
        assert!(blocks[1].get("required_version").is_none());
    }
}
