//! What a file tells the preflight, gathered while the scan reads it anyway:
//! version constraints, Terragrunt-generated files, CI arguments.

use super::ci;
use crate::discover::{Candidate, FileKind, TERRAGRUNT_GENERATED};
pub use crate::model::facts::{ConstraintKind, Fact, VersionConstraint};
use crate::parse::{Value, VersionQuery, VersionSetting, Versions};
use crate::source::Needle;
use memchr::memmem;

/// The version settings `facts_of` needs from a file's parse: asked only of
/// files that mention them, and never of a file Terragrunt generated.
pub fn version_query(candidate: &Candidate, bytes: &[u8]) -> VersionQuery {
    let content = bytes
        .strip_prefix(b"\xef\xbb\xbf".as_slice())
        .unwrap_or(bytes);
    if content.starts_with(TERRAGRUNT_GENERATED) {
        return VersionQuery::default();
    }
    static REQUIRED_VERSION: Needle = Needle::new(b"required_version");
    static TERRAGRUNT_CONSTRAINT: Needle = Needle::new(b"terraform_version_constraint");
    match candidate.kind {
        FileKind::Terraform | FileKind::TerraformJson => VersionQuery {
            required_version: REQUIRED_VERSION.is_in(bytes),
            terragrunt_constraint: false,
        },
        FileKind::Terragrunt => VersionQuery {
            required_version: REQUIRED_VERSION.is_in(bytes),
            terragrunt_constraint: TERRAGRUNT_CONSTRAINT.is_in(bytes),
        },
        _ => VersionQuery::default(),
    }
}

/// The facts in one file's bytes: CI arguments, a Terragrunt-generated file.
/// Its version constraints come from its parse, by [`constraint_facts`].
pub fn facts_of(candidate: &Candidate, bytes: &[u8]) -> Vec<Fact> {
    let path = candidate.display.clone();
    let content = bytes
        .strip_prefix(b"\xef\xbb\xbf".as_slice())
        .unwrap_or(bytes);
    let mut facts = Vec::new();
    match candidate.kind {
        FileKind::Ci => {
            let text = String::from_utf8_lossy(bytes);
            let references = ci::find_references(&text);
            let config_files = ci::backend_config_files(&text);
            if !references.is_empty() || !config_files.is_empty() {
                facts.push(Fact::Ci {
                    path,
                    fs_path: candidate.path.clone(),
                    references,
                    config_files,
                });
            }
        }
        _ if content.starts_with(TERRAGRUNT_GENERATED)
            && memmem::find(bytes, b"backend").is_some() =>
        {
            facts.push(Fact::Generated { path });
        }
        _ => {}
    }
    facts
}

/// The version constraints of a file, from the settings [`version_query`]
/// asked of its parse (the scan parses each file once, for the plan and this).
pub fn constraint_facts(candidate: &Candidate, versions: &Versions) -> Vec<Fact> {
    let tg = versions
        .terragrunt_constraint
        .iter()
        .map(|s| constraint(candidate, ConstraintKind::TerragruntConstraint, s));
    let required = versions
        .required_version
        .iter()
        .map(|s| constraint(candidate, ConstraintKind::RequiredVersion, s));
    tg.chain(required).map(Fact::Constraint).collect()
}

fn constraint(
    candidate: &Candidate,
    kind: ConstraintKind,
    setting: &VersionSetting,
) -> VersionConstraint {
    let (text, literal) = match &setting.value {
        Value::String(s) => (s.clone(), true),
        other => (other.display(), false),
    };
    let tofu = if candidate.kind == FileKind::TerraformJson {
        candidate.display.ends_with(".tofu.json")
    } else {
        candidate.display.ends_with(".tofu")
    };
    VersionConstraint {
        kind,
        path: candidate.display.clone(),
        dir: crate::model::paths::parent_dir(&candidate.display),
        fs_path: candidate.path.clone(),
        line: setting.line,
        text,
        literal,
        tofu,
        generated: candidate.kind == FileKind::Terragrunt,
    }
}
