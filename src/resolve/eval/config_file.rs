//! A Terragrunt configuration file (HCL or HCL-JSON syntax) read into the
//! shape the evaluator needs: attributes and blocks, each with its line, and
//! expressions as hcl-rs trees.

use std::path::Path;

use hcl::Expression;
use hcl::edit::Span;

/// Files larger than this are not evaluated (unknown), so a stray huge file
/// cannot stall a run.
pub(crate) const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

#[derive(Debug, Clone)]
pub(crate) struct Attr {
    pub name: String,
    pub expr: Expression,
    pub line: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct Block {
    pub kind: String,
    pub labels: Vec<String>,
    pub body: Body,
    pub line: usize,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Body {
    pub attrs: Vec<Attr>,
    pub blocks: Vec<Block>,
}

impl Body {
    pub fn attr(&self, name: &str) -> Option<&Attr> {
        self.attrs.iter().rev().find(|a| a.name == name)
    }

    pub fn blocks_of<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Block> + 'a {
        self.blocks.iter().filter(move |b| b.kind == kind)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct ConfigFile {
    /// The path as messages show it (relative to the repository when inside it).
    pub shown: String,
    pub body: Body,
}

impl ConfigFile {
    /// The attributes of every `locals` block, in written order.
    pub fn locals(&self) -> impl Iterator<Item = &Attr> {
        self.body
            .blocks_of("locals")
            .flat_map(|b| b.body.attrs.iter())
    }

    pub fn local(&self, name: &str) -> Option<&Attr> {
        self.locals().filter(|a| a.name == name).last()
    }

    /// `file:line` for messages.
    pub fn at(&self, line: usize) -> String {
        format!("{}:{}", self.shown, line)
    }
}

/// Reads and parses `path`. Errors are `shown:line:col: message`.
pub(crate) fn read(path: &Path, shown: &str) -> Result<ConfigFile, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", shown))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!(
            "{}: {} bytes is larger than the {} bytes tflock evaluates",
            shown,
            meta.len(),
            MAX_FILE_BYTES
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", shown))?;
    let text = String::from_utf8(bytes).map_err(|e| format!("{}:1:1: not UTF-8 ({e})", shown))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let is_json = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".json"));
    let body = if is_json {
        parse_json(shown, text)?
    } else {
        parse_hcl(shown, text)?
    };
    Ok(ConfigFile {
        shown: shown.to_string(),
        body,
    })
}

pub(crate) fn parse_hcl(shown: &str, text: &str) -> Result<Body, String> {
    let body = hcl::edit::parser::parse_body(text).map_err(|e| {
        let loc = e.location();
        format!("{}:{}:{}: {}", shown, loc.line(), loc.column(), e.message())
    })?;
    Ok(convert_body(&body, text))
}

fn line_of(text: &str, span: Option<std::ops::Range<usize>>) -> usize {
    let offset = span.map(|s| s.start).unwrap_or(0).min(text.len());
    text.as_bytes()[..offset]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn convert_body(body: &hcl::edit::structure::Body, text: &str) -> Body {
    let mut out = Body::default();
    for structure in body.iter() {
        if let Some(attr) = structure.as_attribute() {
            out.attrs.push(Attr {
                name: attr.key.as_str().to_string(),
                expr: Expression::from(attr.value.clone()),
                line: line_of(text, attr.span()),
            });
        } else if let Some(block) = structure.as_block() {
            out.blocks.push(Block {
                kind: block.ident.as_str().to_string(),
                labels: block
                    .labels
                    .iter()
                    .map(|l| l.as_str().to_string())
                    .collect(),
                body: convert_body(&block.body, text),
                line: line_of(text, block.span()),
            });
        }
    }
    out
}

/// HCL's JSON syntax for a Terragrunt file: block kinds are known by name
/// (Terragrunt's schema); everything else at the top level is an attribute.
/// Strings are templates, as in HCL-JSON. Lines are not tracked (line 1).
pub(crate) fn parse_json(shown: &str, text: &str) -> Result<Body, String> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| format!("{}:{}:{}: {e}", shown, e.line(), e.column()))?;
    let serde_json::Value::Object(top) = value else {
        return Err(format!("{}:1:1: the top level is not an object", shown));
    };
    let mut body = Body::default();
    for (key, value) in top {
        match key.as_str() {
            "locals" | "remote_state" | "terraform" => {
                for item in as_block_list(value) {
                    body.blocks.push(json_block(&key, vec![], item));
                }
            }
            "include" => json_labelled(&mut body, &key, value, |v| {
                v.get("path").is_some_and(serde_json::Value::is_string)
            }),
            "dependency" | "generate" | "feature" => {
                json_labelled(&mut body, &key, value, |_| false)
            }
            _ => body.attrs.push(Attr {
                name: key,
                expr: json_expr(value),
                line: 1,
            }),
        }
    }
    Ok(body)
}

fn as_block_list(value: serde_json::Value) -> Vec<serde_json::Value> {
    match value {
        serde_json::Value::Array(items) => items,
        other => vec![other],
    }
}

/// `"include": {"path": ..}` is a bare block (Terragrunt's own rule: an object
/// with a string `path`); `"include": {"root": {..}}` is labelled.
fn json_labelled(
    body: &mut Body,
    kind: &str,
    value: serde_json::Value,
    is_bare: impl Fn(&serde_json::Value) -> bool,
) {
    for item in as_block_list(value) {
        if is_bare(&item) {
            body.blocks.push(json_block(kind, vec![], item));
        } else if let serde_json::Value::Object(map) = item {
            for (label, inner) in map {
                for inner in as_block_list(inner) {
                    body.blocks
                        .push(json_block(kind, vec![label.clone()], inner));
                }
            }
        }
    }
}

fn json_block(kind: &str, labels: Vec<String>, value: serde_json::Value) -> Block {
    let mut body = Body::default();
    if let serde_json::Value::Object(map) = value {
        for (name, v) in map {
            body.attrs.push(Attr {
                name,
                expr: json_expr(v),
                line: 1,
            });
        }
    }
    Block {
        kind: kind.to_string(),
        labels,
        body,
        line: 1,
    }
}

fn json_expr(value: serde_json::Value) -> Expression {
    match value {
        serde_json::Value::Null => Expression::Null,
        serde_json::Value::Bool(b) => Expression::Bool(b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Expression::from(i),
            None => n
                .as_f64()
                .and_then(hcl::Number::from_f64)
                .map(Expression::Number)
                .unwrap_or(Expression::Null),
        },
        serde_json::Value::String(s) if s.contains("${") || s.contains("%{") => {
            Expression::TemplateExpr(Box::new(hcl::TemplateExpr::QuotedString(s)))
        }
        serde_json::Value::String(s) => Expression::String(s),
        serde_json::Value::Array(items) => {
            Expression::Array(items.into_iter().map(json_expr).collect())
        }
        serde_json::Value::Object(map) => Expression::Object(
            map.into_iter()
                .map(|(k, v)| {
                    (
                        hcl::ObjectKey::Expression(Expression::String(k)),
                        json_expr(v),
                    )
                })
                .collect(),
        ),
    }
}
