//! What resolve found for a backend, as verify, apply and rollback files see
//! it: the targets (bucket, state keys, table, client settings) of the states
//! it governs, with every value that is not a literal marked as unknown. Plain
//! data and key naming; it never evaluates and never talks to AWS.

use serde::{Deserialize, Serialize};

/// The states one backend governs, as far as they could be known offline.
#[derive(Debug, Clone, Default)]
pub struct Resolution {
    /// One target per set of states: the backend itself, or each Terragrunt unit
    /// that includes it (each with its own bucket, region, table and key).
    pub targets: Vec<Target>,
}

impl Resolution {
    /// Every unknown value of every target, for reports.
    pub fn unknown(&self) -> impl Iterator<Item = &Unknown> {
        self.targets.iter().flat_map(|t| t.unknown.iter())
    }

    /// Whether some state is checked by its known prefix only.
    pub fn conservative(&self) -> bool {
        self.targets.iter().any(|t| t.unknown_key_prefix.is_some())
    }
}

/// A value the resolve stage could not evaluate offline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unknown {
    /// The backend attribute (`region`, `key`, `endpoints.s3`, ...).
    pub attribute: String,
    /// The expression as written.
    pub expression: String,
    pub reason: String,
    /// Where the expression is written (`path:line`).
    pub location: String,
    /// Whether it blocks the backend outright (an unknown bucket, table,
    /// region, prefix, endpoint or credential) rather than being checked
    /// conservatively (a key whose known prefix stands in).
    pub blocks: bool,
}

impl Unknown {
    /// The blocker text verification reports for it.
    pub fn blocker(&self) -> String {
        format!(
            "{} is unknown: `{}` at {}: {}",
            self.attribute, self.expression, self.location, self.reason
        )
    }
}

/// The settings of a backend that decide which AWS clients talk for it.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientSettings {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
    pub session_name: Option<String>,
    pub s3_endpoint: Option<String>,
    pub dynamodb_endpoint: Option<String>,
    pub path_style: bool,
    pub shared_config_files: Vec<String>,
    pub shared_credentials_files: Vec<String>,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn target(prefix: &str, keys: &[&str]) -> Target {
        Target {
            bucket: Some("b".into()),
            keys: keys.iter().map(|k| (None, k.to_string())).collect(),
            unknown_key_prefix: None,
            workspace_key_prefix: prefix.into(),
            table: Some("t".into()),
            client: ClientSettings::default(),
            probe: false,
            dir: ".".into(),
            unknown: Vec::new(),
            unit: None,
        }
    }

    #[test]
    fn state_keys_are_joined_as_terraform_joins_them() {
        let cases = [
            ("env:", "default", "app.tfstate", "app.tfstate"),
            ("env:", "dev", "app.tfstate", "env:/dev/app.tfstate"),
            ("", "dev", "app.tfstate", "dev/app.tfstate"),
            ("teams/x", "prod", "a/b.tfstate", "teams/x/prod/a/b.tfstate"),
        ];
        for (prefix, workspace, key, expected) in cases {
            assert_eq!(target(prefix, &[]).state_key(workspace, key), expected);
        }
        assert_eq!(workspaces_prefix(""), "");
        assert_eq!(workspaces_prefix("env:"), "env:/");
    }

    #[test]
    fn listing_prefixes_cover_states_and_workspaces() {
        let t = target("env:", &["app.tfstate"]);
        assert_eq!(t.list_prefixes(), ["app.tfstate", "env:/"]);
        assert_eq!(t.workspace_glob("app.tfstate"), "env:/*/app.tfstate");
        let mut unknown = target("", &[]);
        unknown.unknown_key_prefix = Some("units/".into());
        assert_eq!(unknown.list_prefixes(), ["units/", ""]);
        assert!(unknown.could_be_state("units/a.tfstate", "units/"));
        assert!(unknown.could_be_state("dev/units/a.tfstate", "units/"));
        assert!(!unknown.could_be_state("other/a.tfstate", "units/"));
    }
}
