//! The S3 objects a bucket's lockfiles live at, as few IAM resource patterns as
//! stay tight: one pattern per top-level directory of the state keys (and one per
//! workspace prefix), instead of two ARNs per state. Pure; no AWS.
//!
//! A pattern always covers every lockfile it replaces (the default workspace's
//! `K.tflock` and every workspace's `P/W/K.tflock`) and is never wider than the
//! bucket, the keys' common directory and the `.tflock` suffix: IAM's `*` matches
//! any run of characters, `/` included, so `B/live/*/terraform.tfstate.tflock`
//! covers `B/live/a/b/terraform.tfstate.tflock` and nothing outside `B/live/`.

use std::collections::{BTreeMap, BTreeSet};

/// A state key as resolve knows it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum StateKey {
    /// The default workspace's whole key.
    Exact(String),
    /// Only the literal start of the key is known: any key beginning with it.
    Prefix(String),
}

impl StateKey {
    fn text(&self) -> &str {
        match self {
            StateKey::Exact(k) | StateKey::Prefix(k) => k,
        }
    }
}

/// The lockfile resources of one bucket: `states` are (workspace_key_prefix, key).
/// Returns full ARNs, sorted and without duplicates.
pub fn lockfile_resources(bucket: &str, states: &[(String, StateKey)]) -> Vec<String> {
    let all: BTreeSet<StateKey> = states.iter().map(|(_, k)| k.clone()).collect();
    let mut by_prefix: BTreeMap<&str, BTreeSet<StateKey>> = BTreeMap::new();
    for (wkp, key) in states {
        by_prefix.entry(wkp).or_default().insert(key.clone());
    }
    let mut patterns: BTreeSet<String> = key_patterns(&all).into_iter().collect();
    for (wkp, keys) in by_prefix {
        let workspaces = crate::resolve::targets::workspaces_prefix(wkp);
        for pattern in key_patterns(&keys) {
            patterns.insert(format!("{workspaces}*/{pattern}"));
        }
    }
    patterns
        .into_iter()
        .map(|p| format!("arn:aws:s3:::{bucket}/{p}.tflock"))
        .collect()
}

/// Key patterns (without `.tflock`) that cover `keys`: keys at the bucket's root
/// and lone keys of a directory stay exact; the keys of one top-level directory
/// become `<common directory>*<common trailing segments>`.
fn key_patterns(keys: &BTreeSet<StateKey>) -> Vec<String> {
    let mut groups: BTreeMap<&str, Vec<&StateKey>> = BTreeMap::new();
    let mut out = Vec::new();
    for key in keys {
        match key.text().split_once('/') {
            Some((top, _)) => groups.entry(top).or_default().push(key),
            None => out.push(single(key)),
        }
    }
    for members in groups.values() {
        if let [only] = members.as_slice() {
            out.push(single(only));
            continue;
        }
        let texts: Vec<&str> = members.iter().map(|k| k.text()).collect();
        let prefix = directory_prefix(&texts);
        let exact: Option<Vec<&str>> = members
            .iter()
            .map(|k| match k {
                StateKey::Exact(k) => Some(&k[prefix.len()..]),
                StateKey::Prefix(_) => None,
            })
            .collect();
        // An unknown tail can end in anything: no common suffix then.
        let suffix = exact.map_or(String::new(), |rests| trailing_segments(&rests));
        out.push(format!("{prefix}*{suffix}"));
    }
    out
}

fn single(key: &StateKey) -> String {
    match key {
        StateKey::Exact(k) => k.clone(),
        StateKey::Prefix(p) => format!("{p}*"),
    }
}

/// The longest common start of `texts`, cut back to its last `/` (kept).
fn directory_prefix(texts: &[&str]) -> String {
    let first = texts[0];
    let mut len = first.len();
    for t in &texts[1..] {
        len = len.min(
            first
                .bytes()
                .zip(t.bytes())
                .take_while(|(a, b)| a == b)
                .count(),
        );
    }
    let common = &first[..len];
    match common.rfind('/') {
        Some(slash) => common[..=slash].to_string(),
        None => String::new(),
    }
}

/// The longest common end of `rests` that starts at a `/` (whole trailing
/// segments, `/terraform.tfstate`), or nothing.
fn trailing_segments(rests: &[&str]) -> String {
    let first = rests[0];
    let mut len = first.len();
    for r in &rests[1..] {
        len = len.min(
            first
                .bytes()
                .rev()
                .zip(r.bytes().rev())
                .take_while(|(a, b)| a == b)
                .count(),
        );
    }
    let common = &first[first.len() - len..];
    match common.find('/') {
        Some(slash) => common[slash..].to_string(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// IAM's resource matching: `*` any run of characters, `?` any one.
    fn iam_match(pattern: &str, text: &str) -> bool {
        let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
        let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
        while ti < t.len() {
            if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
                pi += 1;
                ti += 1;
            } else if pi < p.len() && p[pi] == '*' {
                star = Some(pi);
                mark = ti;
                pi += 1;
            } else if let Some(s) = star {
                pi = s + 1;
                mark += 1;
                ti = mark;
            } else {
                return false;
            }
        }
        p[pi..].iter().all(|&c| c == '*')
    }

    fn exact(wkp: &str, key: &str) -> (String, StateKey) {
        (wkp.to_string(), StateKey::Exact(key.to_string()))
    }

    /// Every lockfile of `states` (default workspace and workspaces `dev`,
    /// `team/x`) is covered by some resource.
    fn assert_covers(bucket: &str, states: &[(String, StateKey)], resources: &[String]) {
        for (wkp, key) in states {
            let key = match key {
                StateKey::Exact(k) => k.clone(),
                StateKey::Prefix(p) => format!("{p}unknown-tail/t.tfstate"),
            };
            let mut objects = vec![key.clone()];
            for ws in ["dev", "team-x"] {
                objects.push(format!(
                    "{}{ws}/{key}",
                    crate::resolve::targets::workspaces_prefix(wkp)
                ));
            }
            for object in objects {
                let arn = format!("arn:aws:s3:::{bucket}/{object}.tflock");
                assert!(
                    resources.iter().any(|r| iam_match(r, &arn)),
                    "{arn} not covered by {resources:#?}"
                );
            }
        }
    }

    #[test]
    fn the_matcher_is_iams() {
        assert!(iam_match("a/*/t.tflock", "a/b/c/t.tflock"));
        assert!(iam_match("a/*", "a/"));
        assert!(!iam_match("a/*/t.tflock", "b/x/t.tflock"));
        assert!(!iam_match("a/*.tflock", "a/x.tflock-probe"));
        assert!(iam_match("a?c", "abc"));
    }

    #[test]
    fn one_state_keeps_its_exact_arns() {
        let states = [exact("env:", "app/terraform.tfstate")];
        assert_eq!(
            lockfile_resources("b", &states),
            [
                "arn:aws:s3:::b/app/terraform.tfstate.tflock",
                "arn:aws:s3:::b/env:/*/app/terraform.tfstate.tflock",
            ]
        );
    }

    #[test]
    fn states_of_one_directory_become_one_pattern_per_workspace_prefix() {
        let states: Vec<_> = ["app/a/terraform.tfstate", "app/b/c/terraform.tfstate"]
            .iter()
            .map(|k| exact("env:", k))
            .collect();
        let resources = lockfile_resources("b", &states);
        assert_eq!(
            resources,
            [
                "arn:aws:s3:::b/app/*/terraform.tfstate.tflock",
                "arn:aws:s3:::b/env:/*/app/*/terraform.tfstate.tflock",
            ]
        );
        assert_covers("b", &states, &resources);
    }

    #[test]
    fn different_file_names_share_only_the_directory() {
        let states = [
            exact("env:", "app/a.tfstate"),
            exact("env:", "app/b.tfstate"),
        ];
        let resources = lockfile_resources("b", &states);
        assert_eq!(
            resources,
            [
                "arn:aws:s3:::b/app/*.tflock",
                "arn:aws:s3:::b/env:/*/app/*.tflock"
            ]
        );
        assert_covers("b", &states, &resources);
    }

    #[test]
    fn the_pattern_is_no_wider_than_the_common_directory() {
        let states = [
            exact("env:", "live/payments/prod/terraform.tfstate"),
            exact("env:", "live/payments/dev/terraform.tfstate"),
        ];
        let resources = lockfile_resources("b", &states);
        assert!(
            resources.contains(&"arn:aws:s3:::b/live/payments/*/terraform.tfstate.tflock".into()),
            "{resources:?}"
        );
        // Another team's state, a probe object and a state itself stay outside.
        for other in [
            "arn:aws:s3:::b/live/search/prod/terraform.tfstate.tflock",
            "arn:aws:s3:::b/live/payments/prod/terraform.tfstate",
            "arn:aws:s3:::b/live/payments/prod/terraform.tfstate.tflock-probe-1",
            "arn:aws:s3:::other/live/payments/prod/terraform.tfstate.tflock",
        ] {
            assert!(
                !resources.iter().any(|r| iam_match(r, other)),
                "{other} is covered by {resources:?}"
            );
        }
        assert_covers("b", &states, &resources);
    }

    #[test]
    fn top_level_directories_and_root_keys_stay_apart() {
        let states = [
            exact("env:", "app/a/t.tfstate"),
            exact("env:", "app/b/t.tfstate"),
            exact("env:", "net/t.tfstate"),
            exact("env:", "root.tfstate"),
            exact("env:", "other.tfstate"),
        ];
        let resources = lockfile_resources("b", &states);
        assert_eq!(
            resources,
            [
                "arn:aws:s3:::b/app/*/t.tfstate.tflock",
                "arn:aws:s3:::b/env:/*/app/*/t.tfstate.tflock",
                "arn:aws:s3:::b/env:/*/net/t.tfstate.tflock",
                "arn:aws:s3:::b/env:/*/other.tfstate.tflock",
                "arn:aws:s3:::b/env:/*/root.tfstate.tflock",
                "arn:aws:s3:::b/net/t.tfstate.tflock",
                "arn:aws:s3:::b/other.tfstate.tflock",
                "arn:aws:s3:::b/root.tfstate.tflock",
            ]
        );
        assert_covers("b", &states, &resources);
    }

    #[test]
    fn workspace_prefixes_each_get_their_own_patterns() {
        let states = [
            exact("env:", "app/a/t.tfstate"),
            exact("env:", "app/b/t.tfstate"),
            exact("teams", "app/c/t.tfstate"),
            exact("", "app/d/t.tfstate"),
        ];
        let resources = lockfile_resources("b", &states);
        assert_eq!(
            resources,
            [
                "arn:aws:s3:::b/*/app/d/t.tfstate.tflock",
                "arn:aws:s3:::b/app/*/t.tfstate.tflock",
                "arn:aws:s3:::b/env:/*/app/*/t.tfstate.tflock",
                "arn:aws:s3:::b/teams/*/app/c/t.tfstate.tflock",
            ]
        );
        assert_covers("b", &states, &resources);
    }

    #[test]
    fn an_unknown_key_keeps_its_literal_prefix_and_no_suffix() {
        let states = [
            exact("env:", "app/a/t.tfstate"),
            (
                "env:".to_string(),
                StateKey::Prefix("app/units/".to_string()),
            ),
            ("env:".to_string(), StateKey::Prefix("svc".to_string())),
        ];
        let resources = lockfile_resources("b", &states);
        assert_eq!(
            resources,
            [
                "arn:aws:s3:::b/app/*.tflock",
                "arn:aws:s3:::b/env:/*/app/*.tflock",
                "arn:aws:s3:::b/env:/*/svc*.tflock",
                "arn:aws:s3:::b/svc*.tflock",
            ]
        );
        assert_covers("b", &states, &resources);
    }

    #[test]
    fn a_thousand_states_collapse_to_a_few_patterns_that_cover_them_all() {
        let teams = ["payments", "identity", "search"];
        let states: Vec<_> = (0..1000)
            .map(|i| {
                let key = if i % 7 == 0 {
                    format!("terragrunt/stack-{}/unit-{i}/terraform.tfstate", i % 3)
                } else {
                    format!(
                        "live/{}/env-{}/svc-{i}/terraform.tfstate",
                        teams[i % 3],
                        i % 4
                    )
                };
                exact(if i % 5 == 0 { "ws" } else { "env:" }, &key)
            })
            .collect();
        let resources = lockfile_resources("acme", &states);
        assert_eq!(
            resources,
            [
                "arn:aws:s3:::acme/env:/*/live/*/terraform.tfstate.tflock",
                "arn:aws:s3:::acme/env:/*/terragrunt/*/terraform.tfstate.tflock",
                "arn:aws:s3:::acme/live/*/terraform.tfstate.tflock",
                "arn:aws:s3:::acme/terragrunt/*/terraform.tfstate.tflock",
                "arn:aws:s3:::acme/ws/*/live/*/terraform.tfstate.tflock",
                "arn:aws:s3:::acme/ws/*/terragrunt/*/terraform.tfstate.tflock",
            ]
        );
        assert_covers("acme", &states, &resources);
    }

    #[test]
    fn overlapping_prefix_and_suffix_still_cover_the_key() {
        // `a/t` and `a/x/t`: the suffix `/t` must not eat the directory of `a/t`.
        let states = [exact("env:", "a/t"), exact("env:", "a/x/t")];
        let resources = lockfile_resources("b", &states);
        assert_covers("b", &states, &resources);
    }
}
