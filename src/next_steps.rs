//! What a team has to do after the files are rewritten: re-initialise each
//! configuration, grant the lockfile permissions, and mind bucket versioning.
//! It computes the steps from a plan; it renders nothing (`report::next_steps`
//! does) and asks AWS nothing (bucket versioning is handed in).

use crate::iam::{StateKey, lockfile_resources};
pub use crate::model::next_steps::{BucketAdvice, Consumers, NextSteps, Reinit};
use crate::parse::BackendKind;
use crate::plan::Action;
pub use crate::report::next_steps::{markdown as render_markdown, text as render_text};
use crate::resolve::parent_dir;
use crate::scan::RepoPlan;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

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
