//! What verification needs to know about a backend: bucket, state keys, table and
//! client settings, with every value that is not a literal marked as unknown.

use super::ClientSettings;
use crate::resolve::Unknown;
use serde::{Deserialize, Serialize};

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
    /// Values the resolve stage could not evaluate; those that block are blockers.
    #[serde(default)]
    pub unknown: Vec<Unknown>,
    /// The Terragrunt unit these states belong to, when evaluated for one.
    #[serde(default)]
    pub unit: Option<String>,
}

impl Target {
    /// Why the bucket is missing: an expression tflock cannot evaluate, or no
    /// `bucket` setting at all (a partial configuration completed at init).
    pub fn no_bucket_reason(&self) -> &'static str {
        if self.unknown.iter().any(|u| u.attribute == "bucket") {
            "the bucket is not known"
        } else {
            "no bucket is set in this backend"
        }
    }

    /// Key prefixes whose listing reveals states, workspaces and lockfiles.
    pub fn list_prefixes(&self) -> Vec<String> {
        let mut prefixes: Vec<String> = self.keys.iter().map(|(_, k)| k.clone()).collect();
        if !self.keys.is_empty() {
            prefixes.push(self.workspaces_prefix());
        }
        if let Some(prefix) = &self.unknown_key_prefix {
            prefixes.push(prefix.clone());
            prefixes.push(self.workspaces_prefix());
        }
        prefixes
    }

    /// The object key of a workspace's state, as Terraform joins it
    /// (`path.Join(prefix, workspace, key)`: an empty prefix adds no part).
    pub fn state_key(&self, workspace: &str, key: &str) -> String {
        if workspace == "default" {
            key.to_string()
        } else if self.workspace_key_prefix.is_empty() {
            format!("{workspace}/{key}")
        } else {
            format!("{}/{workspace}/{key}", self.workspace_key_prefix)
        }
    }

    /// The listing prefix under which Terraform finds workspaces (`P/`, or the
    /// whole bucket when the prefix is empty).
    pub fn workspaces_prefix(&self) -> String {
        workspaces_prefix(&self.workspace_key_prefix)
    }

    /// A glob for IAM of every workspace state of `key` (`P/*/key`, `*/key`).
    pub fn workspace_glob(&self, key: &str) -> String {
        format!("{}*/{key}", self.workspaces_prefix())
    }

    /// Whether an object key could be a state of this target whose key starts
    /// with `prefix`: the default workspace's `prefix...`, or a workspace's
    /// `P/W/prefix...`.
    pub fn could_be_state(&self, state_key: &str, prefix: &str) -> bool {
        if state_key.starts_with(prefix) {
            return true;
        }
        state_key
            .strip_prefix(&self.workspaces_prefix())
            .and_then(|rest| rest.split_once('/'))
            .is_some_and(|(_, key)| key.starts_with(prefix))
    }

    /// The unknown values that block this target.
    pub fn blockers(&self) -> impl Iterator<Item = &Unknown> {
        self.unknown.iter().filter(|u| u.blocks)
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

/// The listing prefix of workspaces for a `workspace_key_prefix`.
pub fn workspaces_prefix(workspace_key_prefix: &str) -> String {
    if workspace_key_prefix.is_empty() {
        String::new()
    } else {
        format!("{workspace_key_prefix}/")
    }
}
