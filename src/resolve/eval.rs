//! Expression evaluation for the resolve stage: Terragrunt and HCL expressions
//! evaluated offline, in the scope Terragrunt would use for a unit.
//! Whatever cannot be known offline is `Unknown`, with the reason; never a guess.
//!
//! Semantics follow Terragrunt's own source (`pkg/config/config_helpers.go`,
//! `include.go`, `locals.go`): a root included by a unit is evaluated with the
//! unit as `TerragruntConfigPath` (path functions and `find_in_parent_folders`
//! start from the unit), `read_terragrunt_config` switches that path to the
//! file it reads, and file functions are relative to the file they are in.

mod blocks;
mod config_file;
mod functions;
mod interp;
mod paths;
mod scope;
mod value;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use self::scope::{Budget, Frame, Shared, Track};
use self::value::Val;

/// The result of evaluating one expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Evaluated {
    Known(hcl::Value),
    Unknown { reason: String },
}

pub use crate::model::units::Include;

/// What the evaluator needs from the outside world; a snapshot, so tests can
/// give their own.
#[derive(Debug, Clone, Default)]
pub struct World {
    /// The repository root (`get_repo_root()`), absolute.
    pub repo_root: PathBuf,
    /// Environment variables (`get_env`).
    pub env: BTreeMap<String, String>,
}

/// One attribute of a file, for tests that list what a file sets.
#[cfg(test)]
#[derive(Debug, Clone, PartialEq)]
pub struct SourceAttr {
    pub name: String,
    /// 1-based line of the attribute (1 for JSON files, which keep no lines).
    pub line: usize,
}

/// The file whose `remote_state` a unit uses, and the include that names it
/// (None when it is the unit's own): the arguments `Evaluator::scope` takes.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteStateOwner {
    pub file: PathBuf,
    pub include: Option<Include>,
}

/// Evaluates Terragrunt configuration files, caching what it read and parsed.
pub struct Evaluator {
    shared: Arc<Shared>,
}

impl Evaluator {
    pub fn new(world: World) -> Evaluator {
        Evaluator {
            shared: Arc::new(Shared::new(world)),
        }
    }

    /// The includes of a unit's Terragrunt file (absolute path), in the order written.
    /// An include whose path cannot be evaluated is an error naming the expression
    /// (`file:line: include "root" path: reason`).
    pub fn includes(&self, unit_file: &Path) -> Result<Vec<Include>, String> {
        let unit_file = &absolute(unit_file);
        blocks::resolve_includes(&self.shared, unit_file, unit_file, Budget::new())
    }

    /// Whose `remote_state` block Terragrunt applies to the unit: its own if it
    /// has one, else the last include (in written order) that is merged
    /// (`merge_strategy` not `no_merge`) and has one: both shallow and deep
    /// merges replace `remote_state` whole (Terragrunt's `include.go`).
    /// `None` when no file gives the unit a `remote_state`.
    pub fn remote_state_owner(&self, unit_file: &Path) -> Result<Option<RemoteStateOwner>, String> {
        let unit_file = &absolute(unit_file);
        let has_remote_state = |path: &Path| -> Result<bool, String> {
            let parsed = self.shared.file(path);
            let parsed = parsed.as_ref().as_ref().map_err(Clone::clone)?;
            Ok(parsed.body.blocks_of("remote_state").next().is_some())
        };
        if has_remote_state(unit_file)? {
            return Ok(Some(RemoteStateOwner {
                file: unit_file.to_path_buf(),
                include: None,
            }));
        }
        for include in self.includes(unit_file)?.into_iter().rev() {
            if include.merge_strategy != "no_merge" && has_remote_state(&include.path)? {
                return Ok(Some(RemoteStateOwner {
                    file: include.path.clone(),
                    include: Some(include),
                }));
            }
        }
        Ok(None)
    }

    /// The `locals` a file defines, with their lines (HCL or JSON syntax).
    /// An error is `path:line:col: message`. Tests reach the parsed file with it.
    #[cfg(test)]
    pub fn locals_of(&self, file: &Path) -> Result<Vec<SourceAttr>, String> {
        let parsed = self.shared.file(&absolute(file));
        let parsed = parsed.as_ref().as_ref().map_err(Clone::clone)?;
        Ok(parsed
            .locals()
            .map(|a| SourceAttr {
                name: a.name.clone(),
                line: a.line,
            })
            .collect())
    }

    /// The scope in which the expressions of `file` are evaluated when Terragrunt
    /// runs the unit `unit_file`: `file` is the unit itself or a root it includes
    /// (then `include` is the include that names it). Locals of `file` are
    /// evaluated lazily in that scope, once each; path functions start from the
    /// unit's directory, `path_relative_to_include()` is relative to `file`'s.
    pub fn scope(&self, file: &Path, unit_file: &Path, include: Option<&Include>) -> Scope {
        let (file, unit_file) = (&absolute(file), &absolute(unit_file));
        let budget = Budget::new();
        let mut blocked = None;
        let track = match include {
            Some(inc) => {
                // Terragrunt refuses an included file that includes another,
                // whatever its include blocks say.
                let parsed = self.shared.file(file);
                if let Ok(root) = parsed.as_ref()
                    && root.body.blocks_of("include").next().is_some()
                {
                    blocked = Some(format!(
                        "{} is included by {} and has includes itself, which Terragrunt refuses",
                        self.shared.shown(file),
                        self.shared.shown(unit_file)
                    ));
                }
                Track::Original(inc.clone())
            }
            None => match self.includes(unit_file) {
                Ok(list) => Track::Child(list),
                Err(e) => {
                    blocked = Some(e);
                    Track::Child(Vec::new())
                }
            },
        };
        let mut frame = Frame::new(
            self.shared.clone(),
            file,
            unit_file,
            unit_file,
            track,
            budget,
        );
        if let Err(e) = frame.file() {
            blocked = Some(e);
        }
        frame.blocked = blocked;
        Scope { frame }
    }

    /// The scope of an included file (a root) evaluated without any unit, for
    /// a root that no unit of the repository includes: every function whose
    /// value depends on the including unit (`find_in_parent_folders`,
    /// `path_relative_to_include`, `get_terragrunt_dir`,
    /// `read_terragrunt_config`, ...) is unknown, also inside locals.
    pub fn scope_without_unit(&self, file: &Path) -> Scope {
        let file = &absolute(file);
        let mut frame = Frame::new(
            self.shared.clone(),
            file,
            file,
            file,
            Track::None,
            Budget::new(),
        );
        if let Err(e) = frame.file() {
            frame.blocked = Some(e);
        }
        frame.no_unit = Some(self.shared.shown(file));
        Scope { frame }
    }
}

/// One evaluation scope (see `Evaluator::scope`).
pub struct Scope {
    frame: Frame,
}

impl Scope {
    fn eval_val(&self, expression: &str, as_template: bool) -> Val {
        if let Some(reason) = &self.frame.blocked {
            return Val::unknown(reason.clone());
        }
        let template = || {
            hcl::Expression::TemplateExpr(Box::new(hcl::TemplateExpr::QuotedString(
                expression.to_string(),
            )))
        };
        let expr: hcl::Expression = if as_template {
            template()
        } else {
            match expression.parse() {
                Ok(e) => e,
                // The content of an HCL-JSON string (`${local.x}/key`, as a
                // `terragrunt.hcl.json` holds it) is a template, not an
                // expression; `${` cannot appear in an expression otherwise.
                Err(_) if expression.contains("${") || expression.contains("%{") => template(),
                Err(e) => {
                    return Val::unknown(format!("`{}` does not parse: {e}", short(expression)));
                }
            }
        };
        let result = self.frame.eval(&expr);
        // A spent budget may have turned an error into a `try` fallback
        // anywhere in this scope: nothing it computed is trusted any more.
        if self.frame.budget.exhausted() {
            return Val::unknown(format!(
                "`{}` needs more work than tflock spends on one unit",
                short(expression)
            ));
        }
        match result {
            Ok(v) => v,
            Err(e) => Val::unknown(format!("`{}` cannot be evaluated: {e}", short(expression))),
        }
    }

    fn known(&self, expression: &str, value: Val) -> Evaluated {
        match value.into_known() {
            Ok(v) => Evaluated::Known(v),
            Err(u) => Evaluated::Unknown {
                reason: named(expression, &u.reason),
            },
        }
    }

    fn prefix(&self, expression: &str, value: Val) -> (String, Option<String>) {
        match value {
            Val::Unknown(u) => (u.prefix, Some(named(expression, &u.reason))),
            v => match v.first_unknown() {
                Some(u) => (String::new(), Some(named(expression, &u.reason))),
                None => match v.to_str() {
                    Ok(s) => (s, None),
                    Err(e) => (String::new(), Some(format!("`{}`: {e}", short(expression)))),
                },
            },
        }
    }

    /// Evaluates the content of an HCL-JSON string (a template such as
    /// `${local.env}/terraform.tfstate`, without quotes). Tests only: `eval`
    /// takes templates as they come from parse.
    #[cfg(test)]
    pub fn eval_template(&self, template: &str) -> Evaluated {
        self.known(template, self.eval_val(template, true))
    }

    /// `eval_string_prefix` for the content of an HCL-JSON string (tests only).
    #[cfg(test)]
    pub fn eval_template_prefix(&self, template: &str) -> (String, Option<String>) {
        self.prefix(template, self.eval_val(template, true))
    }

    /// Evaluates an expression given as source text (as parse recorded it).
    /// Text that is not an expression but holds `${`/`%{` is taken as the
    /// content of an HCL-JSON string (a template).
    pub fn eval(&self, expression: &str) -> Evaluated {
        self.known(expression, self.eval_val(expression, false))
    }

    /// For a string template (`"a/${x}/b"`): the longest known prefix, and
    /// the reason the rest is unknown (None when the whole string is known).
    pub fn eval_string_prefix(&self, expression: &str) -> (String, Option<String>) {
        self.prefix(expression, self.eval_val(expression, false))
    }
}

/// Paths the path functions start from must be absolute and clean (Terragrunt
/// makes them so); a relative one is taken from the current directory.
fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        paths::clean(path)
    } else {
        let cwd = std::env::current_dir().unwrap_or_default();
        paths::clean(&cwd.join(path))
    }
}

/// Unknown reasons name the expression they come from.
fn named(expression: &str, reason: &str) -> String {
    let shown = short(expression);
    if reason.starts_with(&format!("`{shown}`")) {
        reason.to_string()
    } else {
        format!("`{shown}`: {reason}")
    }
}

fn short(expression: &str) -> String {
    let one_line = expression.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > 120 {
        let cut: String = one_line.chars().take(117).collect();
        format!("{cut}...")
    } else {
        one_line
    }
}
