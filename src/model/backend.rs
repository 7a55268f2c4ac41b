//! What parse finds in a file: the S3 backend settings (with the byte spans of
//! every key and value, so the planner can splice the original bytes) and the
//! S3 remote-state readers. Plain data; parsing is the parse stage's job.

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

/// One `terraform_remote_state` data source with `backend = "s3"`.
#[derive(Debug, Clone)]
pub struct Reader {
    /// The data source's name (`data.terraform_remote_state.<name>`).
    pub name: String,
    /// 1-based line of the data block (or JSON object).
    pub line: usize,
    /// The items of `config`; None when it is not an object literal, so what it
    /// names cannot be known.
    pub config: Option<Body>,
    /// Where `config` stands, for reporting a config tflock cannot read.
    pub config_line: Option<usize>,
    /// The `workspace` argument as written (default: `default`).
    pub workspace: Option<Value>,
}

impl Reader {
    pub fn value(&self, key: &str) -> Option<&Value> {
        self.config.as_ref()?.get(key).map(|s| &s.value)
    }

    pub fn setting(&self, key: &str) -> Option<&Setting> {
        self.config.as_ref()?.get(key)
    }
}
