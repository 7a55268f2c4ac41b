//! Terragrunt `terraform { extra_arguments "x" { commands = [..] arguments = [..] } }`:
//! the `-backend-config` arguments Terragrunt adds to `init`.
//!
//! `commands` must name `init`; a value tflock cannot read (a function such as
//! `get_terraform_commands_that_need_input()`, a local) counts as naming it
//! (unknown means it may apply). In `arguments`, the path functions of the unit
//! (`get_terragrunt_dir()`, `get_original_terragrunt_dir()`,
//! `get_parent_terragrunt_dir()`, `get_repo_root()`, `path_relative_to_include()`)
//! are filled in; any other `${...}` stays, and makes the value partial. An
//! element that is not a string (a local, a function) is [`OverrideKind::Unreadable`].

use super::{Context, InitOverride, OverrideKind, Via, kind_of};
use crate::source::Source;
use hcl_edit::Span;
use hcl_edit::expr::Expression;
use hcl_edit::structure::Body;

/// The overrides of one Terragrunt file. `unit_dir` is the unit it is
/// evaluated for (the file's own folder for a `terragrunt.hcl`; a unit that
/// includes it for a root file), `None` when not known: then the unit's path
/// functions stay unknown and so does the directory.
pub fn overrides(
    display: &str,
    text: &str,
    unit_dir: Option<&str>,
    ctx: &Context,
) -> Vec<InitOverride> {
    if !text.contains("extra_arguments") {
        return Vec::new();
    }
    let source = Source::new(text.to_string());
    // A syntax error is the scan's to report; nothing to read here.
    let Ok(body) = source.body().parse::<Body>() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let push = |out: &mut Vec<InitOverride>, offset: usize, kind: OverrideKind| {
        let (line, column) = source.line_col(source.bom + offset);
        out.push(InitOverride {
            source: display.to_string(),
            line,
            column,
            dir: unit_dir.map(str::to_string),
            via: Via::TerragruntExtraArguments,
            kind,
        });
    };
    for terraform in body.blocks().filter(|b| b.has_ident("terraform")) {
        for extra in terraform
            .body
            .blocks()
            .filter(|b| b.has_ident("extra_arguments"))
        {
            if !names_init(extra.body.get_attribute("commands").map(|a| &a.value)) {
                continue;
            }
            let Some(arguments) = extra.body.get_attribute("arguments") else {
                continue;
            };
            let Expression::Array(items) = &arguments.value else {
                let offset = arguments.value.span().map_or(0, |s| s.start);
                push(
                    &mut out,
                    offset,
                    OverrideKind::Unreadable {
                        text: source_text(&source, &arguments.value),
                    },
                );
                continue;
            };
            let items: Vec<&Expression> = items.iter().collect();
            let mut i = 0;
            while i < items.len() {
                let item = items[i];
                let offset = item.span().map_or(0, |s| s.start);
                i += 1;
                let Some(arg) = written(&source, item) else {
                    push(
                        &mut out,
                        offset,
                        OverrideKind::Unreadable {
                            text: source_text(&source, item),
                        },
                    );
                    continue;
                };
                let flag = arg.trim_start_matches('-');
                if !arg.starts_with('-') || !flag.starts_with("backend-config") {
                    continue;
                }
                let value = match flag.strip_prefix("backend-config") {
                    Some(v) if v.starts_with('=') => v[1..].to_string(),
                    Some("") => match items.get(i).and_then(|n| written(&source, n)) {
                        Some(v) => {
                            i += 1;
                            v
                        }
                        None => continue,
                    },
                    _ => continue,
                };
                let dirs = [unit_dir.unwrap_or(&ctx.source_dir).to_string()];
                let mut kind = kind_of(&fill_functions(&value, unit_dir, ctx), &dirs, ctx);
                // A file keeps its path as written (no machine path in reports).
                if let OverrideKind::File { path, .. } = &mut kind {
                    *path = value.trim().to_string();
                }
                push(&mut out, offset, kind);
            }
        }
    }
    out
}

/// Whether `commands = ...` may include `init`.
fn names_init(commands: Option<&Expression>) -> bool {
    match commands {
        None => false,
        Some(Expression::Array(items)) => items.iter().any(|e| match e {
            Expression::String(s) => s.value() == "init",
            _ => true,
        }),
        Some(_) => true,
    }
}

/// A string element as written (a template's `${...}` kept); `None` for
/// anything that is not a string or a template.
fn written(source: &Source, e: &Expression) -> Option<String> {
    match e {
        Expression::String(s) => Some(s.value().to_string()),
        Expression::StringTemplate(_) => {
            let raw = source_text(source, e);
            Some(raw.strip_prefix('"')?.strip_suffix('"')?.to_string())
        }
        _ => None,
    }
}

fn source_text(source: &Source, e: &Expression) -> String {
    e.span()
        .and_then(|s| source.body().get(s))
        .unwrap_or_default()
        .to_string()
}

/// `${fn()}` for the path functions Terragrunt evaluates per unit.
fn fill_functions(text: &str, unit_dir: Option<&str>, ctx: &Context) -> String {
    let abs = |dir: &str| ctx.cwd.join(dir).to_string_lossy().replace('\\', "/");
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let whole = &rest[start..start + len + 1];
        let call: String = whole[2..whole.len() - 1]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let filled = match (call.as_str(), unit_dir) {
            ("get_terragrunt_dir()" | "get_original_terragrunt_dir()", Some(unit)) => {
                Some(abs(unit))
            }
            ("get_parent_terragrunt_dir()", _) => Some(abs(&ctx.source_dir)),
            ("get_repo_root()", _) => Some(abs(&ctx.repo_root)),
            ("path_relative_to_include()", Some(unit)) => relative_to(&ctx.source_dir, unit),
            _ => None,
        };
        out.push_str(filled.as_deref().unwrap_or(whole));
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    out
}

/// `unit` relative to `root` (display paths), when it lies below it.
fn relative_to(root: &str, unit: &str) -> Option<String> {
    if root == unit {
        return Some(".".into());
    }
    if root == "." {
        return Some(unit.to_string());
    }
    unit.strip_prefix(root)?
        .strip_prefix('/')
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn ctx(dir: &str) -> Context {
        Context::fixed(dir, ".", Path::new("/repo"))
    }

    #[test]
    fn extra_arguments_for_init() {
        let text = r#"
terraform {
  source = "../modules/app"
  extra_arguments "backend" {
    commands  = ["init"]
    arguments = [
      "-backend-config=backend.hcl",
      "-backend-config=key=${path_relative_to_include()}/terraform.tfstate",
      "-backend-config", "region=${local.region}",
      "-backend-config=${get_terragrunt_dir()}/../common.backend.hcl",
      local.more,
      "-upgrade",
    ]
  }
  extra_arguments "vars" {
    commands  = ["plan", "apply"]
    arguments = ["-backend-config=ignored.hcl"]
  }
  extra_arguments "input" {
    commands  = get_terraform_commands_that_need_input()
    arguments = local.args
  }
}
"#;
        let got = overrides(
            "live/prod/app/terragrunt.hcl",
            text,
            Some("live/prod/app"),
            &ctx("live"),
        );
        let kinds: Vec<(usize, &OverrideKind)> = got.iter().map(|o| (o.line, &o.kind)).collect();
        assert_eq!(got.len(), 6, "{got:#?}");
        assert!(
            got.iter()
                .all(|o| o.dir.as_deref() == Some("live/prod/app"))
        );
        assert!(matches!(kinds[0], (7, OverrideKind::File { path, .. }) if path == "backend.hcl"));
        assert!(
            matches!(kinds[1], (8, OverrideKind::Setting { key, value, complete: true, .. })
            if key == "key" && value == "prod/app/terraform.tfstate")
        );
        assert!(
            matches!(kinds[2], (9, OverrideKind::Setting { key, literal_prefix, complete: false, .. })
            if key == "region" && literal_prefix.is_empty())
        );
        assert!(
            matches!(kinds[3], (10, OverrideKind::File { path, file: Some(f), .. })
            if path == "${get_terragrunt_dir()}/../common.backend.hcl" && f == "live/prod/common.backend.hcl")
        );
        assert!(
            matches!(kinds[4], (11, OverrideKind::Unreadable { text }) if text == "local.more")
        );
        assert!(
            matches!(kinds[5], (21, OverrideKind::Unreadable { text }) if text == "local.args")
        );
    }

    #[test]
    fn unit_functions_stay_unknown_without_a_unit() {
        let text = "terraform {\n  extra_arguments \"b\" {\n    commands = [\"init\"]\n    arguments = [\"-backend-config=key=${path_relative_to_include()}/t.tfstate\"]\n  }\n}\n";
        let got = overrides("live/root.hcl", text, None, &ctx("live"));
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].dir, None);
        assert!(
            matches!(&got[0].kind, OverrideKind::Setting { literal_prefix, complete: false, .. } if literal_prefix.is_empty())
        );
    }
}
