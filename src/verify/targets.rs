//! What verification needs to know about a backend: bucket, state keys, table and
//! client settings, with every value that is not a literal marked as unknown.

use super::ClientSettings;
use crate::parse::{Backend, BackendKind, Value};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A Terragrunt unit: a `terragrunt.hcl` that includes a root configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// The unit's directory, display form (`/`-separated, relative to the cwd).
    pub dir: String,
    /// The display path of the root file it includes.
    pub includes: String,
    /// The unit configures its own `remote_state`: it is its own backend, not one
    /// of the root's states.
    pub own_remote_state: bool,
}

/// How the state key of a backend is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySpec {
    Known(Vec<(Option<String>, String)>),
    /// Only a prefix of the key is known.
    Prefix(String),
}

/// One backend as verification sees it (also recorded in rollback files).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Target {
    pub bucket: Option<String>,
    /// Default-workspace state keys, each with the Terragrunt unit it belongs to.
    pub keys: Vec<(Option<String>, String)>,
    /// When the key is not fully known: the literal prefix all its keys share.
    pub unknown_key_prefix: Option<String>,
    pub workspace_key_prefix: String,
    pub table: Option<String>,
    pub client: ClientSettings,
    /// Whether a migration is planned (and the bucket should be probed).
    pub probe: bool,
    /// The directory of the configuration, where `terraform force-unlock` runs.
    pub dir: String,
}

impl Target {
    /// Key prefixes whose listing reveals states, workspaces and lockfiles.
    pub fn list_prefixes(&self) -> Vec<String> {
        let mut prefixes: Vec<String> = self.keys.iter().map(|(_, k)| k.clone()).collect();
        if !self.keys.is_empty() {
            prefixes.push(format!("{}/", self.workspace_key_prefix));
        }
        if let Some(prefix) = &self.unknown_key_prefix {
            prefixes.push(prefix.clone());
        }
        prefixes
    }

    /// A tool-owned key next to the states, so IAM that covers them covers it.
    pub fn probe_key(&self) -> String {
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let base = self
            .keys
            .first()
            .map(|(_, k)| k.clone())
            .or_else(|| self.unknown_key_prefix.clone())
            .unwrap_or_default();
        format!("{base}.tflock-probe-{:x}{:x}", std::process::id(), nonce)
    }
}

/// The verification target of a backend found in `path`.
pub fn target_for(backend: &Backend, path: &str, units: &[Unit], probe: bool) -> Target {
    let literal = |key: &str| match backend.value(key) {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    let (keys, unknown_key_prefix) = match key_spec(backend, path, units) {
        KeySpec::Known(keys) => (keys, None),
        KeySpec::Prefix(prefix) => (Vec::new(), Some(prefix)),
    };
    let unknown_key_prefix = if literal("bucket").is_none() {
        Some(unknown_key_prefix.unwrap_or_default())
    } else {
        unknown_key_prefix
    };
    Target {
        bucket: literal("bucket"),
        keys,
        unknown_key_prefix,
        workspace_key_prefix: literal("workspace_key_prefix").unwrap_or_else(|| "env:".into()),
        table: literal("dynamodb_table").or(literal("lock_table")),
        client: ClientSettings::from_backend(backend),
        probe,
        dir: parent_dir(path),
    }
}

fn key_spec(backend: &Backend, path: &str, units: &[Unit]) -> KeySpec {
    let template = match backend.value("key") {
        Some(Value::String(s)) => return KeySpec::Known(vec![(None, s.clone())]),
        None => return KeySpec::Prefix(String::new()),
        Some(Value::Expression(text)) => {
            match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
                Some(inner) => inner.to_string(),
                None if backend.kind == BackendKind::TerraformJson => text.clone(),
                None => return KeySpec::Prefix(String::new()),
            }
        }
        Some(_) => return KeySpec::Prefix(String::new()),
    };
    const INCLUDE: &str = "${path_relative_to_include()}";
    let rest = template.replace(INCLUDE, "");
    let including: Vec<&Unit> = units
        .iter()
        .filter(|u| u.includes == path && !u.own_remote_state)
        .collect();
    if backend.kind == BackendKind::Terragrunt && !rest.contains("${") && !including.is_empty() {
        let root_dir = parent_dir(path);
        return KeySpec::Known(
            including
                .iter()
                .map(|u| {
                    let relative = relative_dir(&root_dir, &u.dir);
                    (Some(u.dir.clone()), template.replace(INCLUDE, &relative))
                })
                .collect(),
        );
    }
    let known = template.split("${").next().unwrap_or_default();
    let known = known.split("%{").next().unwrap_or_default();
    KeySpec::Prefix(known.to_string())
}

/// The directory part of a display path ("." for a bare file name).
pub fn parent_dir(path: &str) -> String {
    match Path::new(path)
        .parent()
        .map(|p| p.to_string_lossy().replace('\\', "/"))
    {
        Some(p) if !p.is_empty() => p,
        _ => ".".into(),
    }
}

/// What Terragrunt's path_relative_to_include() returns: the unit's directory
/// relative to the root file's directory.
fn relative_dir(root_dir: &str, unit_dir: &str) -> String {
    if root_dir == unit_dir {
        return ".".into();
    }
    if root_dir == "." {
        return unit_dir.to_string();
    }
    match unit_dir.strip_prefix(&format!("{root_dir}/")) {
        Some(rest) => rest.to_string(),
        None => unit_dir.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_dirs_follow_terragrunt() {
        assert_eq!(relative_dir("live", "live/prod/app"), "prod/app");
        assert_eq!(relative_dir(".", "prod/app"), "prod/app");
        assert_eq!(relative_dir("live", "live"), ".");
    }
}
