//! What a team has to do after the files are rewritten: re-initialise each
//! configuration, grant the lockfile permissions, and mind bucket versioning.

use crate::iam::{StateKey, lockfile_resources};
use crate::parse::BackendKind;
use crate::plan::Action;
use crate::resolve::parent_dir;
use crate::scan::RepoPlan;
use serde::Serialize;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

#[derive(Debug, Clone, Serialize)]
pub struct NextSteps {
    /// Directories whose backend changed, with the command that re-reads it.
    pub reinit: Vec<Reinit>,
    /// The IAM statement the S3 lockfile needs (one for all migrated states,
    /// resources grouped per bucket as in `iam_statements`).
    pub iam_statement: Option<serde_json::Value>,
    /// The same permissions as one statement per bucket, each listing a few
    /// grouped patterns (see [`crate::iam`]) rather than two ARNs per state.
    pub iam_statements: Vec<serde_json::Value>,
    pub buckets: Vec<BucketAdvice>,
    /// Readers of the migrated states and their digest items (issue 12).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumers: Option<Consumers>,
}

/// What keeps the consumers of a migrated state working.
#[derive(Debug, Clone, Serialize)]
pub struct Consumers {
    /// Readers in the scanned tree whose config names DynamoDB settings (`file:line`).
    pub readers: Vec<String>,
    /// Whether apply deletes the digest items of the states it takes to lockfiles.
    pub deletes_digests: bool,
    pub advice: String,
}

/// Said wherever a replace is planned or applied: the old configuration keeps
/// writing digests until the change is merged.
pub const CLEAN_DIGESTS_ADVICE: &str = "In a pull-request flow the old configuration keeps \
     running (and writing digest items) until this change is merged: once it is merged and \
     every configuration is re-initialised, run `tflock status --clean-digests`.";

fn consumers(repo: &RepoPlan) -> Option<Consumers> {
    let readers: Vec<String> = crate::readers::reported(repo)
        .map(|r| format!("{}:{}", r.path, r.reader.line))
        .collect();
    let migrating = repo.count(Action::Migrate) > 0;
    if readers.is_empty() && !migrating {
        return None;
    }
    let replace = repo.strategy != Some(crate::plan::Strategy::Dual);
    let mut advice = String::new();
    let named = crate::readers::reported(repo)
        .filter(|r| r.reader.config.is_some())
        .count();
    let unknown = readers.len() - named;
    if named > 0 {
        advice.push_str(&if replace {
            format!(
                "{named} reader(s) (`terraform_remote_state`) name DynamoDB settings; this change \
                 removes them from their config (readers never lock: no use_lockfile). "
            )
        } else {
            format!(
                "{named} reader(s) (`terraform_remote_state`) name DynamoDB settings; they keep \
                 working while both locks are used (Terraform keeps the digests fresh) and lose \
                 them with `--strategy replace`. "
            )
        });
    }
    if unknown > 0 {
        advice.push_str(&format!(
            "{unknown} reader(s) have a config tflock cannot read: check by hand that it names \
             no dynamodb_table. "
        ));
    }
    if replace && migrating {
        advice.push_str(
            "Apply deletes the `-md5` digest items of every state it takes to lockfiles \
             (`--keep-digests` keeps them), so readers in this and every other repository that \
             still name `dynamodb_table` keep working: a missing digest is only a warning for \
             Terraform, a stale one an error. ",
        );
        advice.push_str(CLEAN_DIGESTS_ADVICE);
    }
    if advice.is_empty() {
        return None;
    }
    Some(Consumers {
        readers,
        deletes_digests: replace && migrating,
        advice: advice.trim_end().to_string(),
    })
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Reinit {
    pub dir: String,
    pub command: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct BucketAdvice {
    pub bucket: String,
    /// `Enabled`, `Suspended`, `never enabled`, or why it is unknown.
    pub versioning: String,
    pub advice: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifecycle_rule: Option<serde_json::Value>,
}

/// Lockfiles are tiny (a LockInfo JSON); state versions rarely are.
const LOCKFILE_SIZE_BOUND: u64 = 1024;

/// The next steps for the backends a plan migrates. `versioning` holds what
/// `GetBucketVersioning` said per bucket (absent when AWS was not asked).
pub fn next_steps(
    repo: &RepoPlan,
    versioning: &BTreeMap<String, Result<Option<String>, String>>,
) -> NextSteps {
    let mut reinit = BTreeSet::new();
    let mut states: BTreeMap<String, Vec<(String, StateKey)>> = BTreeMap::new();
    for b in repo.backends.iter().filter(|b| b.action == Action::Migrate) {
        let dir = parent_dir(&b.path);
        match b.backend.kind {
            BackendKind::Terraform | BackendKind::TerraformJson => {
                let tool = if b.path.ends_with(".tofu") || b.path.ends_with(".tofu.json") {
                    "tofu"
                } else {
                    "terraform"
                };
                reinit.insert(Reinit {
                    dir,
                    command: format!("{tool} init -reconfigure"),
                });
            }
            BackendKind::Tfbackend => {
                let file = b.path.rsplit('/').next().unwrap_or(&b.path);
                reinit.insert(Reinit {
                    dir,
                    command: format!("terraform init -reconfigure -backend-config={file}"),
                });
            }
            BackendKind::Terragrunt => {
                let units: Vec<_> = repo.units.iter().filter(|u| u.includes == b.path).collect();
                if units.is_empty() {
                    reinit.insert(Reinit {
                        dir,
                        command: "terragrunt init -reconfigure".into(),
                    });
                }
                for unit in units {
                    reinit.insert(Reinit {
                        dir: unit.dir.clone(),
                        command: "terragrunt init -reconfigure".into(),
                    });
                }
            }
        }
        for target in &b.resolution.targets {
            let Some(bucket) = target.bucket.clone() else {
                continue;
            };
            let wkp = &target.workspace_key_prefix;
            let keys = states.entry(bucket).or_default();
            for (_, key) in &target.keys {
                keys.push((wkp.clone(), StateKey::Exact(key.clone())));
            }
            if let Some(prefix) = &target.unknown_key_prefix {
                keys.push((wkp.clone(), StateKey::Prefix(prefix.clone())));
            }
        }
    }
    let resources: BTreeMap<&String, Vec<String>> = states
        .iter()
        .map(|(bucket, keys)| (bucket, lockfile_resources(bucket, keys)))
        .collect();
    let statement = |resources: Vec<&String>| {
        json!({
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            "Resource": resources,
        })
    };
    let all: Vec<&String> = resources.values().flatten().collect();
    let iam_statement = (!all.is_empty()).then(|| statement(all));
    let iam_statements = resources
        .values()
        .filter(|r| !r.is_empty())
        .map(|r| statement(r.iter().collect()))
        .collect();
    let buckets = resources
        .keys()
        .map(|bucket| bucket_advice(bucket, versioning.get(bucket.as_str())))
        .collect();
    NextSteps {
        reinit: reinit.into_iter().collect(),
        iam_statement,
        iam_statements,
        buckets,
        consumers: consumers(repo),
    }
}

fn bucket_advice(
    bucket: &str,
    versioning: Option<&Result<Option<String>, String>>,
) -> BucketAdvice {
    let (versioning, enabled) = match versioning {
        Some(Ok(Some(status))) => (status.clone(), status == "Enabled"),
        Some(Ok(None)) => ("never enabled".to_string(), false),
        Some(Err(e)) => (format!("unknown ({e})"), false),
        None => ("not checked".to_string(), false),
    };
    if versioning.starts_with("unknown") || versioning == "not checked" {
        return BucketAdvice {
            bucket: bucket.into(),
            versioning,
            advice: "if versioning is on, every lock and unlock leaves a noncurrent `.tflock` \
                     version and a delete marker: expire them with a lifecycle rule \
                     (`tflock plan` without --offline checks and suggests one)"
                .into(),
            lifecycle_rule: None,
        };
    }
    if enabled {
        BucketAdvice {
            bucket: bucket.into(),
            versioning,
            advice: format!(
                "versioning is on: every lock and unlock leaves a noncurrent `.tflock` version and a \
                 delete marker. Expire them with a lifecycle rule. S3 lifecycle filters cannot match \
                 the `.tflock` suffix, so the suggested rule matches objects under {LOCKFILE_SIZE_BOUND} \
                 bytes: check that no state in this bucket is that small before you use it."
            ),
            lifecycle_rule: Some(json!({
                "ID": "tflock-expire-noncurrent-lockfiles",
                "Status": "Enabled",
                "Filter": { "ObjectSizeLessThan": LOCKFILE_SIZE_BOUND },
                "NoncurrentVersionExpiration": { "NoncurrentDays": 1 },
                "Expiration": { "ExpiredObjectDeleteMarker": true },
            })),
        }
    } else {
        BucketAdvice {
            bucket: bucket.into(),
            versioning,
            advice:
                "lockfiles leave no versions behind; AWS recommends versioning on state buckets \
                     so a bad state write can be undone"
                    .into(),
            lifecycle_rule: None,
        }
    }
}

/// The next steps as Markdown list entries (for the pull-request report).
pub fn render_markdown(steps: &NextSteps) -> Vec<String> {
    let mut out = Vec::new();
    if !steps.reinit.is_empty() {
        let dirs: Vec<String> = steps
            .reinit
            .iter()
            .map(|r| format!("`(cd {} && {})`", r.dir, r.command))
            .collect();
        out.push(format!(
            "Re-initialise each changed configuration:\n{}",
            dirs.iter()
                .map(|d| format!("- {d}"))
                .collect::<Vec<_>>()
                .join("\n")
        ));
    }
    if !steps.iam_statements.is_empty() {
        // One fence per bucket: a report split into parts cuts between
        // statements, so every fence holds a whole, valid JSON statement.
        let mut entry = format!(
            "Let everyone who runs Terraform create and delete the lockfiles (IAM, one \
             statement per bucket{}):",
            if steps.iam_statements.len() > 1 {
                format!(", {}", steps.iam_statements.len())
            } else {
                String::new()
            }
        );
        for statement in &steps.iam_statements {
            entry.push_str(&format!(
                "\n```json\n{}\n```",
                serde_json::to_string_pretty(statement).unwrap_or_default()
            ));
        }
        out.push(entry);
    }
    for b in &steps.buckets {
        let mut entry = format!(
            "Bucket `{}`: versioning {}; {}",
            b.bucket, b.versioning, b.advice
        );
        if let Some(rule) = &b.lifecycle_rule {
            entry.push_str(&format!(
                "\n```json\n{}\n```",
                serde_json::to_string_pretty(rule).unwrap_or_default()
            ));
        }
        out.push(entry);
    }
    if let Some(c) = &steps.consumers {
        let mut entry = format!("Consumers of the migrated states: {}", c.advice);
        for r in &c.readers {
            entry.push_str(&format!("\n  - reader `{r}`"));
        }
        out.push(entry);
    }
    out
}

/// The next steps as a person reads them after `apply`.
pub fn render_text(steps: &NextSteps) -> String {
    let mut out = String::new();
    if steps.reinit.is_empty() {
        return out;
    }
    let _ = writeln!(out, "Next steps:");
    let _ = writeln!(out, "  1. Re-initialise each changed configuration:");
    for r in &steps.reinit {
        let _ = writeln!(out, "       (cd {} && {})", r.dir, r.command);
    }
    if !steps.iam_statements.is_empty() {
        let _ = writeln!(
            out,
            "  2. Let everyone who runs Terraform create and delete the lockfiles (IAM, one \
             statement per bucket):"
        );
        for statement in &steps.iam_statements {
            let pretty = serde_json::to_string_pretty(statement).unwrap_or_default();
            for line in pretty.lines() {
                let _ = writeln!(out, "       {line}");
            }
        }
    }
    for b in &steps.buckets {
        let _ = writeln!(
            out,
            "  - bucket {}: versioning {}; {}",
            b.bucket, b.versioning, b.advice
        );
        if let Some(rule) = &b.lifecycle_rule {
            let _ = writeln!(
                out,
                "       {}",
                serde_json::to_string(rule).unwrap_or_default()
            );
        }
    }
    if let Some(c) = &steps.consumers {
        let _ = writeln!(out, "  - consumers: {}", c.advice);
        for r in &c.readers {
            let _ = writeln!(out, "       reader {r}");
        }
    }
    out
}
