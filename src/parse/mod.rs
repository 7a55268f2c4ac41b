//! Parse stage: find S3 backend settings in a file's text and return a plain
//! model; no I/O and no evaluation (values stay literal-or-expression).
//!
//! Offsets in the model are byte offsets into the file's original bytes (a UTF-8
//! BOM included), so the planner can splice the original text directly.

mod hcl;
mod json;
pub(crate) mod readers;
pub(crate) mod skim;

pub use crate::model::backend::{Backend, BackendKind, Body, Setting, Syntax, Value};
pub use readers::Reader;

use crate::discover::FileKind;
use crate::source::Source;

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
pub use json::lenient_required_version_blocks;

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

/// A quoted string over several lines in an HCL file, which Terraform refuses
/// and hcl-edit accepts; see `hcl::quoted_string_over_lines`.
pub fn quoted_string_over_lines(kind: FileKind, source: &Source) -> Option<ParseError> {
    (!kind.is_json()).then(|| hcl::quoted_string_over_lines(source))?
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
    document(kind, source)?.parsed()
}

/// One file's syntax tree: parsed once, then asked for its backends and
/// readers (the planner) and for its version settings (the preflight).
pub struct Document<'s> {
    kind: FileKind,
    source: &'s Source,
    tree: Tree<'s>,
}

enum Tree<'s> {
    Hcl(hcl_edit::structure::Body),
    Json(jsonc_parser::ParseResult<'s>),
    /// A CI file: never parsed as configuration.
    None,
}

/// Parses a file's text with the parser its kind calls for.
pub fn document(kind: FileKind, source: &Source) -> Result<Document<'_>, ParseError> {
    let tree = match kind {
        FileKind::Terraform | FileKind::Tfbackend | FileKind::Terragrunt => {
            Tree::Hcl(hcl::parse_document(source)?)
        }
        FileKind::TerraformJson | FileKind::TerragruntJson => Tree::Json(json::parse_root(source)?),
        FileKind::Ci => Tree::None,
    };
    Ok(Document { kind, source, tree })
}

impl Document<'_> {
    /// The S3 backends and readers of the file; duplicate settings refused.
    pub fn parsed(&self) -> Result<Parsed, ParseError> {
        let source = self.source;
        let parsed = match &self.tree {
            Tree::Hcl(doc) => match self.kind {
                FileKind::Terraform => Parsed {
                    backends: hcl::backends_in(source, source.bom, doc, BackendKind::Terraform)?,
                    readers: readers::in_hcl(source, doc)?,
                },
                FileKind::Tfbackend => Parsed {
                    backends: vec![hcl::tfbackend_in(source, doc)?],
                    readers: Vec::new(),
                },
                _ => Parsed {
                    backends: hcl::terragrunt_backends_in(source, doc)?,
                    readers: Vec::new(),
                },
            },
            Tree::Json(tree) => {
                let root = json::root_object(source, tree)?;
                match self.kind {
                    FileKind::TerraformJson => Parsed {
                        backends: json::backends_of(source, root),
                        readers: readers::in_json(source, root),
                    },
                    _ => Parsed {
                        backends: json::terragrunt_backends_in(source, root)?,
                        readers: Vec::new(),
                    },
                }
            }
            Tree::None => Parsed::default(),
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

    /// The version settings `query` asks for; none where they cannot be read.
    pub fn versions(&self, query: VersionQuery) -> Versions {
        let source = self.source;
        let mut versions = Versions::default();
        let Tree::Hcl(doc) = &self.tree else {
            if let Tree::Json(tree) = &self.tree
                && query.required_version
                && let Ok(root) = json::root_object(source, tree)
            {
                versions.required_version =
                    required_versions(source, &json::required_version_blocks(source, root));
            }
            return versions;
        };
        if query.required_version {
            // Terragrunt: the terraform blocks of `generate` heredocs.
            let blocks = match self.kind {
                FileKind::Terragrunt => hcl::generated_terraform_blocks_in(source, doc),
                _ => hcl::terraform_blocks_in(source, doc),
            };
            if let Ok(blocks) = blocks {
                versions.required_version = required_versions(source, &blocks);
            }
        }
        if query.terragrunt_constraint
            && let Ok(top) = hcl::tfbackend_in(source, doc)
        {
            versions.terragrunt_constraint = top
                .body
                .get("terraform_version_constraint")
                .map(|s| VersionSetting::of(source, s));
        }
        versions
    }
}

/// The version settings `query` asks for, from a parse of their own: for a
/// file the planner does not parse (no backend in it) or refused (a JSON file
/// with comments, which the preflight still reads).
pub fn versions_of(kind: FileKind, source: &Source, query: VersionQuery) -> Versions {
    if kind.is_json() {
        if !query.required_version {
            return Versions::default();
        }
        return Versions {
            required_version: required_versions(
                source,
                &json::lenient_required_version_blocks(source),
            ),
            terragrunt_constraint: None,
        };
    }
    document(kind, source).map_or_else(|_| Versions::default(), |d| d.versions(query))
}

fn required_versions(source: &Source, blocks: &[Body]) -> Vec<VersionSetting> {
    blocks
        .iter()
        .filter_map(|body| body.get("required_version"))
        .map(|s| VersionSetting::of(source, s))
        .collect()
}

/// Where the preflight wants version settings read from a file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VersionQuery {
    /// `required_version` of `terraform` blocks (in a Terragrunt file: of the
    /// `terraform` blocks inside `generate` heredocs).
    pub required_version: bool,
    /// Terragrunt's top-level `terraform_version_constraint`.
    pub terragrunt_constraint: bool,
}

impl VersionQuery {
    pub fn any(self) -> bool {
        self.required_version || self.terragrunt_constraint
    }
}

/// A version setting as written, with its 1-based line.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionSetting {
    pub line: usize,
    pub value: Value,
}

impl VersionSetting {
    fn of(source: &Source, setting: &Setting) -> VersionSetting {
        VersionSetting {
            line: source.line_of(setting.key_span.start),
            value: setting.value.clone(),
        }
    }
}

/// The version settings of one file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Versions {
    pub required_version: Vec<VersionSetting>,
    pub terragrunt_constraint: Option<VersionSetting>,
}

/// A setting written twice (`a` next to `"a"`, a JSON member repeated) leaves
/// it unclear which one Terraform, Terragrunt or OpenTofu uses; tflock does not
/// guess.
fn refuse_duplicates(source: &Source, body: &Body) -> Result<(), ParseError> {
    let mut seen: foldhash::HashMap<&str, usize> = foldhash::HashMap::default();
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
