//! Parse stage: find S3 backend settings in a file's text and return a plain
//! model; no I/O and no evaluation (values stay literal-or-expression).
//!
//! Offsets in the model are byte offsets into the file's original bytes (a UTF-8
//! BOM included), so the planner can splice the original text directly.

mod hcl;
mod json;
pub(crate) mod readers;

pub use readers::Reader;

use crate::discover::FileKind;
use crate::source::Source;
use serde::Serialize;
use std::ops::Range;

/// Where a backend setting was written, as reported to users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum BackendKind {
    Terraform,
    TerraformJson,
    Tfbackend,
    Terragrunt,
}

impl BackendKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Terraform => "terraform",
            BackendKind::TerraformJson => "terraform-json",
            BackendKind::Tfbackend => "tfbackend",
            BackendKind::Terragrunt => "terragrunt",
        }
    }
}

/// The surface syntax a backend body is written in; decides how edits are spelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// HCL block body or top-level attributes (`key = value` on its own line).
    HclBody,
    /// HCL object constructor (`{ key = value, ... }`), e.g. Terragrunt `config`.
    HclObject,
    /// JSON object (`"key": value`).
    Json,
}

/// A setting's value: a literal, or the source text of an expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    String(String),
    Bool(bool),
    Number(String),
    Null,
    /// Anything that is not a literal, kept as its source text.
    Expression(String),
}

impl Value {
    /// The value as users see it in reports: strings bare, the rest as written.
    pub fn display(&self) -> String {
        match self {
            Value::String(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.clone(),
            Value::Null => "null".to_string(),
            Value::Expression(e) => e.clone(),
        }
    }

    pub fn is_true(&self) -> bool {
        matches!(self, Value::Bool(true))
    }
}

/// One `key = value` (or JSON member, or object item) with its source location.
#[derive(Debug, Clone)]
pub struct Setting {
    pub key: String,
    pub value: Value,
    /// Byte range of the key (for JSON: including its quotes).
    pub key_span: Range<usize>,
    /// Byte range of the value expression.
    pub value_span: Range<usize>,
    /// The items of an object value (`endpoints = { s3 = .., dynamodb = .. }`).
    pub object: Option<Body>,
}

impl Setting {
    pub fn span(&self) -> Range<usize> {
        self.key_span.start..self.value_span.end
    }
}

/// A sequence of settings sharing one container (block body, object, JSON object).
#[derive(Debug, Clone)]
pub struct Body {
    pub syntax: Syntax,
    /// Byte range of the container's inside (between the braces, or the whole file).
    pub span: Range<usize>,
    pub settings: Vec<Setting>,
}

impl Body {
    pub fn get(&self, key: &str) -> Option<&Setting> {
        self.settings.iter().find(|s| s.key == key)
    }
}

/// One place where S3 backend settings are configured.
#[derive(Debug, Clone)]
pub struct Backend {
    pub kind: BackendKind,
    /// 1-based line of the block, object or file that holds the settings.
    pub line: usize,
    pub body: Body,
}

impl Backend {
    pub fn value(&self, key: &str) -> Option<&Value> {
        self.body.get(key).map(|s| &s.value)
    }
}

/// A problem with one input file, reported as `path:line:col: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl ParseError {
    pub fn at(source: &Source, offset: usize, message: impl Into<String>) -> ParseError {
        let (line, column) = source.line_col(offset);
        ParseError {
            line,
            column,
            message: message.into(),
        }
    }
}

pub use hcl::{generated_terraform_blocks, terraform_blocks};

/// The root file a Terragrunt unit includes (`terragrunt.hcl` or its JSON twin).
pub fn terragrunt_include(kind: FileKind, source: &Source) -> Option<String> {
    match kind {
        FileKind::TerragruntJson => json::terragrunt_include(source),
        _ => hcl::terragrunt_include(source),
    }
}

/// The top-level attributes of an HCL file (e.g. Terragrunt's
/// `terraform_version_constraint`).
pub fn top_level(source: &Source) -> Result<Body, ParseError> {
    hcl::tfbackend(source).map(|b| b.body)
}

/// Finds every S3 backend setting in one file.
pub fn parse(kind: FileKind, source: &Source) -> Result<Vec<Backend>, ParseError> {
    let backends = parse_kind(kind, source)?;
    for b in &backends {
        refuse_duplicates(source, &b.body)?;
    }
    Ok(backends)
}

/// What one file configures: its S3 backends and its S3 `terraform_remote_state`
/// readers, from a single parse.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    pub backends: Vec<Backend>,
    pub readers: Vec<Reader>,
}

/// Finds every S3 backend setting and every S3 reader in one file.
pub fn parse_file(kind: FileKind, source: &Source) -> Result<Parsed, ParseError> {
    let parsed = match kind {
        FileKind::Terraform => {
            let doc = hcl::parse_document(source)?;
            Parsed {
                backends: hcl::backends_in(source, source.bom, &doc, BackendKind::Terraform)?,
                readers: readers::in_hcl(source, &doc)?,
            }
        }
        FileKind::TerraformJson => {
            let tree = json::parse_root(source)?;
            let root = json::root_object(source, &tree)?;
            Parsed {
                backends: json::backends_of(source, root),
                readers: readers::in_json(source, root),
            }
        }
        _ => Parsed {
            backends: parse_kind(kind, source)?,
            readers: Vec::new(),
        },
    };
    for body in parsed
        .backends
        .iter()
        .map(|b| &b.body)
        .chain(parsed.readers.iter().filter_map(|r| r.config.as_ref()))
    {
        refuse_duplicates(source, body)?;
    }
    Ok(parsed)
}

/// A setting written twice (`a` next to `"a"`, a JSON member repeated) leaves
/// it unclear which one Terraform, Terragrunt or OpenTofu uses; tflock does not
/// guess.
fn refuse_duplicates(source: &Source, body: &Body) -> Result<(), ParseError> {
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for s in &body.settings {
        if let Some(first) = seen.insert(&s.key, s.key_span.start) {
            return Err(ParseError::at(
                source,
                s.key_span.start,
                format!(
                    "`{}` is set twice in this backend (also on line {}); tflock will not guess which one counts",
                    s.key,
                    source.line_of(first)
                ),
            ));
        }
        if let Some(object) = &s.object {
            refuse_duplicates(source, object)?;
        }
    }
    Ok(())
}

fn parse_kind(kind: FileKind, source: &Source) -> Result<Vec<Backend>, ParseError> {
    match kind {
        FileKind::Terraform => hcl::terraform_backends(source),
        FileKind::TerraformJson => json::terraform_backends(source),
        FileKind::Tfbackend => hcl::tfbackend(source).map(|b| vec![b]),
        FileKind::Terragrunt => hcl::terragrunt_backends(source),
        FileKind::TerragruntJson => json::terragrunt_backends(source),
        FileKind::Ci => Ok(Vec::new()),
    }
}

#[cfg(test)]
mod tests;
