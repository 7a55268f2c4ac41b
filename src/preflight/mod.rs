//! Preflight: what makes a correct rewrite fail in practice, found before it
//! bites: Terraform/OpenTofu versions without `use_lockfile`, CI arguments that
//! keep DynamoDB locking, Terragrunt-generated files, OpenTofu `.tofu` twins.
//! It reads a few small files beside the modules (version pins, referenced
//! backend-config files); it never writes.

pub(crate) mod ci;
mod ci_pins;
pub(crate) mod facts;
pub(crate) mod json_blocks;
pub(crate) mod modernize;
pub(crate) mod overrides;
pub(crate) mod version;

pub use crate::model::Finding;
use crate::model::paths::parent_dir;
use crate::model::{FilePlan, RepoPlan};
use crate::parse::{self, BackendKind};
use crate::plan::{self, Action, BodyOps, Edit, Op, Strategy};
use crate::source::{Source, sha256_hex};
use facts::{ConstraintKind, Fact, VersionConstraint};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use version::{Constraint, PinVerdict, Version, VersionFileKind};

/// `use_lockfile` exists from Terraform 1.10 (experimental) and OpenTofu 1.10.
pub(crate) const LOCKFILE_FLOOR: Version = Version::new(1, 10, 0);
/// Terraform 1.11 made the S3 lockfile generally available.
pub(crate) const TERRAFORM_LOCKFILE_GA: Version = Version::new(1, 11, 0);

#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub strategy: Strategy,
    /// Plan an edit of `required_version` that excludes versions without lockfiles.
    pub bump_required_version: bool,
    /// Rewrite removed and deprecated backend attributes (`--modernize`).
    pub modernize: bool,
}

/// Runs every check on a scanned plan: adds findings, blocks backends whose
/// Terraform version cannot use lockfiles, and (when asked) plans the bump.
pub fn run(repo: &mut RepoPlan, cwd: &Path, options: &Options) {
    let mut findings = overrides::findings(&repo.overrides);
    let facts = std::mem::take(&mut repo.facts);
    // Backend-config files planned as backends are checked (and migrated) there.
    let planned: BTreeSet<&str> = repo.backends.iter().map(|b| b.path.as_str()).collect();
    for fact in &facts {
        match fact {
            Fact::Ci {
                path,
                fs_path,
                references,
                config_files,
            } => findings.extend(ci_findings(
                path,
                fs_path,
                references,
                config_files,
                cwd,
                &planned,
            )),
            Fact::Generated { path } => findings.push(generated_finding(path, cwd)),
            Fact::Constraint(_) | Fact::Overrides(_) => {}
        }
    }
    findings.extend(tofu_twins(repo, cwd));
    findings.extend(modernize::run(
        repo,
        cwd,
        options.strategy,
        options.modernize,
    ));
    let constraints: Vec<&VersionConstraint> = facts
        .iter()
        .filter_map(|f| match f {
            Fact::Constraint(c) => Some(c),
            _ => None,
        })
        .collect();
    let bumps = check_versions(repo, &constraints, cwd, options, &mut findings);
    plan_bumps(repo, &bumps);
    crate::plan::rebuild_files(repo);
    findings.sort();
    findings.dedup();
    repo.findings = findings;
    repo.facts = facts;
}

fn ci_findings(
    path: &str,
    fs_path: &Path,
    references: &[ci::CiReference],
    config_files: &[(usize, String)],
    cwd: &Path,
    planned: &BTreeSet<&str>,
) -> Vec<Finding> {
    let mut out: Vec<Finding> = references
        .iter()
        .map(|r| Finding {
            path: path.to_string(),
            line: r.line,
            column: r.column,
            kind: "ci-reference",
            message: format!(
                "`{}` passes dynamodb_table to init: it overrides the files, so this state keeps DynamoDB locking",
                r.snippet
            ),
            suggestion: Some(r.suggestion.clone()),
        })
        .collect();
    // A `-backend-config=FILE` whose file sets dynamodb_table does the same.
    let dir = fs_path.parent().unwrap_or(Path::new("."));
    for (line, file) in config_files {
        if file.ends_with(".tfbackend") {
            continue; // scanned and migrated as a backend
        }
        let Some(found) = [dir.join(file), cwd.join(file)]
            .into_iter()
            .find(|p| p.is_file())
        else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(&found) else {
            continue;
        };
        let shown = crate::discover::display_path(&found, cwd);
        if planned.contains(shown.as_str()) {
            continue;
        }
        for r in ci::find_in_backend_config_file(&text) {
            out.push(Finding {
                path: shown.clone(),
                line: r.line,
                column: r.column,
                kind: "ci-reference",
                message: format!(
                    "sets dynamodb_table and is passed to init by {path}:{line}: it overrides the files, \
                     so this state keeps DynamoDB locking"
                ),
                suggestion: Some(r.suggestion.clone()),
            });
        }
    }
    out
}

fn generated_finding(path: &str, cwd: &Path) -> Finding {
    let mut dir = parent_dir(path);
    let source = loop {
        let candidate = if dir == "." {
            "terragrunt.hcl".to_string()
        } else {
            format!("{dir}/terragrunt.hcl")
        };
        if cwd.join(&candidate).is_file() {
            break candidate;
        }
        if dir == "." {
            break "its terragrunt.hcl".to_string();
        }
        dir = parent_dir(&dir);
    };
    Finding {
        path: path.to_string(),
        line: 1,
        column: 1,
        kind: "generated-file",
        message: format!(
            "generated by Terragrunt from {source} (or a file it includes); left untouched: \
             tflock edits the generate block or remote_state there"
        ),
        suggestion: None,
    }
}

/// OpenTofu reads `x.tofu` instead of `x.tf`: when both exist, both are planned.
fn tofu_twins(repo: &RepoPlan, cwd: &Path) -> Vec<Finding> {
    let mut out = Vec::new();
    let paths: BTreeSet<&str> = repo.backends.iter().map(|b| b.path.as_str()).collect();
    for path in &paths {
        let Some(stem) = path.strip_suffix(".tofu") else {
            continue;
        };
        let twin = format!("{stem}.tf");
        if paths.contains(twin.as_str()) || cwd.join(&twin).is_file() {
            out.push(Finding {
                path: path.to_string(),
                line: 1,
                column: 1,
                kind: "opentofu-twin",
                message: format!(
                    "OpenTofu reads {path} instead of {twin}, Terraform reads {twin}: tflock plans both"
                ),
                suggestion: None,
            });
        }
    }
    out
}

/// A constraint that blocks a backend, with whether it can be bumped.
struct Blocker {
    reason: String,
    bump: Option<(VersionConstraint, String)>,
}

/// Judges each backend to migrate by every version source of its module(s).
/// Returns the `required_version` bumps to plan (when asked and possible).
fn check_versions(
    repo: &mut RepoPlan,
    constraints: &[&VersionConstraint],
    cwd: &Path,
    options: &Options,
    findings: &mut Vec<Finding>,
) -> Vec<(VersionConstraint, String)> {
    let units = repo.units.clone();
    // Indexes, so the work grows with the modules, not with their square.
    let mut units_of_root: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut root_of_unit: BTreeMap<&str, &str> = BTreeMap::new();
    for u in &units {
        root_of_unit.insert(&u.dir, &u.includes);
        if !u.own_remote_state {
            units_of_root.entry(&u.includes).or_default().push(&u.dir);
        }
    }
    let mut by_dir: BTreeMap<&str, Vec<&VersionConstraint>> = BTreeMap::new();
    let mut by_path: BTreeMap<&str, Vec<&VersionConstraint>> = BTreeMap::new();
    for c in constraints {
        by_dir.entry(&c.dir).or_default().push(c);
        by_path.entry(&c.path).or_default().push(c);
    }
    // A partial configuration serves the modules whose init passes it.
    let init_dirs = overrides::file_dirs(&repo.overrides);
    // The folders each backend to migrate is judged in.
    let judged: Vec<(usize, Vec<String>)> = repo
        .backends
        .iter()
        .enumerate()
        .filter(|(_, b)| b.action == Action::Migrate)
        .map(|(i, b)| {
            let dirs = match b.backend.kind {
                BackendKind::Tfbackend if init_dirs.contains_key(b.path.as_str()) => {
                    init_dirs[b.path.as_str()].clone()
                }
                BackendKind::Terragrunt => {
                    let mine: Vec<String> = units_of_root
                        .get(b.path.as_str())
                        .into_iter()
                        .flatten()
                        .map(|d| d.to_string())
                        .collect();
                    if mine.is_empty() {
                        vec![parent_dir(&b.path)]
                    } else {
                        mine
                    }
                }
                _ => vec![parent_dir(&b.path)],
            };
            (i, dirs)
        })
        .collect();
    let mut pins = PinCache::default();
    pins.prefetch(
        cwd,
        judged.iter().flat_map(|(_, dirs)| dirs.iter().cloned()),
    );
    let nearest: foldhash::HashMap<&str, Nearest> = judged
        .iter()
        .flat_map(|(_, dirs)| dirs)
        .map(|dir| (dir.as_str(), pins.near(cwd, dir)))
        .collect();
    let sources = VersionSources {
        by_dir: &by_dir,
        by_path: &by_path,
        root_of_unit: &root_of_unit,
        nearest: &nearest,
        ci_pins: &ci_pins::find(cwd),
        options,
    };
    // Each backend is judged on its own, on every core; the verdicts are
    // applied in the plan's order.
    let verdicts =
        crate::parallel::map(&judged, |(i, dirs)| sources.judge(&repo.backends[*i], dirs));
    let mut bumps = Vec::new();
    for ((i, _), (mut blockers, found)) in judged.iter().zip(verdicts) {
        findings.extend(found);
        let b = &mut repo.backends[*i];
        // The same constraint seen from several units is one reason.
        let mut seen = BTreeSet::new();
        blockers.retain(|b| seen.insert(b.reason.clone()));
        if blockers.is_empty() {
            continue;
        }
        let all_bumpable = blockers.iter().all(|b| b.bump.is_some());
        if options.bump_required_version && all_bumpable {
            bumps.extend(blockers.into_iter().filter_map(|b| b.bump));
        } else {
            b.action = Action::Blocked;
            let mut reason = blockers
                .into_iter()
                .map(|b| b.reason)
                .collect::<Vec<_>>()
                .join("; ");
            if options.bump_required_version {
                reason.push_str("; required_version was not raised: the other blockers remain");
            }
            b.reason = Some(reason);
        }
    }
    bumps
}

/// Every version source a module can have, indexed: its constraints (and
/// those of the Terragrunt root it includes), its nearest pin files and the
/// versions CI runs.
struct VersionSources<'a> {
    by_dir: &'a BTreeMap<&'a str, Vec<&'a VersionConstraint>>,
    by_path: &'a BTreeMap<&'a str, Vec<&'a VersionConstraint>>,
    root_of_unit: &'a BTreeMap<&'a str, &'a str>,
    nearest: &'a foldhash::HashMap<&'a str, Nearest>,
    ci_pins: &'a [(String, ci_pins::CiPin)],
    options: &'a Options,
}

impl VersionSources<'_> {
    /// What blocks one backend judged in the folders `dirs`, and what to say
    /// about versions it cannot judge.
    fn judge(
        &self,
        b: &crate::model::BackendPlan,
        dirs: &[String],
    ) -> (Vec<Blocker>, Vec<Finding>) {
        let mut blockers = Vec::new();
        let mut findings = Vec::new();
        let mut judged = false;
        for dir in dirs {
            let here = self
                .by_dir
                .get(dir.as_str())
                .map(Vec::as_slice)
                .unwrap_or_default();
            // In Terragrunt a unit's own attribute wins over the one it includes.
            let own_tg = here
                .iter()
                .any(|c| c.kind == ConstraintKind::TerragruntConstraint);
            let from_root = self
                .root_of_unit
                .get(dir.as_str())
                .and_then(|root| self.by_path.get(root))
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .filter(|c| c.dir != *dir)
                .filter(|c| match c.kind {
                    ConstraintKind::TerragruntConstraint => !own_tg,
                    ConstraintKind::RequiredVersion => c.generated,
                });
            for c in here.iter().chain(from_root) {
                judged = true;
                if let Some(blocker) = judge_constraint(c, self.options) {
                    blockers.push(blocker);
                }
            }
            let near = self.nearest.get(dir.as_str());
            for (file, pinned) in near
                .into_iter()
                .flat_map(|n| n.iter().flatten())
                .map(|f| &**f)
            {
                for pin in &pinned.pins {
                    judged = true;
                    match pin.pin.verdict(&LOCKFILE_FLOOR) {
                        PinVerdict::BelowFloor => blockers.push(Blocker {
                            reason: format!(
                                "{file}:{} pins {} {}, older than 1.10 (no use_lockfile); update the pin (tflock does not edit it)",
                                pin.line,
                                tool_name(pin.tool),
                                pin.raw
                            ),
                            bump: None,
                        }),
                        PinVerdict::AtOrAboveFloor | PinVerdict::DefersToRequiredVersion => {}
                        verdict => findings.push(Finding {
                            path: file.clone(),
                            line: pin.line,
                            column: 1,
                            kind: "version",
                            message: format!("{} {}: {}", tool_name(pin.tool), pin.raw, verdict.note()),
                            suggestion: None,
                        }),
                    }
                }
            }
            for (file, ci) in self
                .ci_pins
                .iter()
                .filter(|(_, p)| ci_pins::applies_to(p, dir))
            {
                let pin = &ci.pin;
                judged = true;
                match pin.pin.verdict(&LOCKFILE_FLOOR) {
                    PinVerdict::BelowFloor => blockers.push(Blocker {
                        reason: format!(
                            "{file}:{} runs {} {} ({}), older than 1.10 (no use_lockfile); update it (tflock does not edit CI files)",
                            pin.line,
                            tool_name(pin.tool),
                            pin.raw,
                            ci.source
                        ),
                        bump: None,
                    }),
                    PinVerdict::AtOrAboveFloor | PinVerdict::DefersToRequiredVersion => {}
                    verdict => findings.push(Finding {
                        path: file.clone(),
                        line: pin.line,
                        column: 1,
                        kind: "version",
                        message: format!(
                            "CI runs {} {} ({}): {}",
                            tool_name(pin.tool),
                            pin.raw,
                            ci.source,
                            verdict.note()
                        ),
                        suggestion: None,
                    }),
                }
            }
        }
        if !judged {
            findings.push(Finding {
                path: b.path.clone(),
                line: b.backend.line,
                column: 1,
                kind: "version",
                message:
                    "no required_version or version pin found for this module: make sure every \
                          run uses Terraform or OpenTofu 1.10 or later"
                        .into(),
                suggestion: Some(
                    "add `required_version = \">= 1.11\"` to its terraform block".into(),
                ),
            });
        }
        (blockers, findings)
    }
}

fn judge_constraint(c: &VersionConstraint, options: &Options) -> Option<Blocker> {
    let what = match c.kind {
        ConstraintKind::RequiredVersion => "required_version",
        ConstraintKind::TerragruntConstraint => "terraform_version_constraint",
    };
    let at = format!("{}:{}", c.path, c.line);
    if !c.literal {
        return Some(Blocker {
            reason: format!(
                "{at}: {what} is an expression ({}); cannot tell whether it admits Terraform older than 1.10",
                c.text
            ),
            bump: None,
        });
    }
    let constraint = match Constraint::parse(&c.text) {
        Ok(constraint) => constraint,
        Err(e) => {
            return Some(Blocker {
                reason: format!("{at}: {what} \"{}\" does not parse ({e})", c.text),
                bump: None,
            });
        }
    };
    let witness = constraint.admits_below(&LOCKFILE_FLOOR)?;
    let floor = if options.strategy == Strategy::Replace && !c.tofu {
        TERRAFORM_LOCKFILE_GA
    } else {
        LOCKFILE_FLOOR
    };
    // Also inside a `generate` heredoc: the bump lands in the heredoc, so the
    // file Terragrunt generates carries it.
    let bump = (c.kind == ConstraintKind::RequiredVersion)
        .then(|| version::bump(&c.text, &floor).ok())
        .flatten()
        .map(|new| (c.clone(), new));
    let hint = match (&bump, c.kind) {
        (Some(_), _) => " (--bump-required-version can raise it)".to_string(),
        (None, ConstraintKind::RequiredVersion) => {
            " (cannot be raised automatically; edit it by hand)".to_string()
        }
        (None, ConstraintKind::TerragruntConstraint) => " (edit it by hand)".to_string(),
    };
    Some(Blocker {
        reason: format!(
            "{at}: {what} \"{}\" admits {witness}, older than 1.10, which has no use_lockfile{hint}",
            c.text
        ),
        bump,
    })
}

fn tool_name(tool: version::Tool) -> &'static str {
    match tool {
        version::Tool::Terraform => "Terraform",
        version::Tool::OpenTofu => "OpenTofu",
    }
}

/// The pin files tfenv, tofuenv, asdf and mise read.
const PIN_FILES: [VersionFileKind; 5] = [
    VersionFileKind::TerraformVersion,
    VersionFileKind::OpenTofuVersion,
    VersionFileKind::ToolVersions,
    VersionFileKind::MiseToml,
    VersionFileKind::DotMiseToml,
];

/// The nearest pin file of each of `PIN_FILES` at or above a folder:
/// (display path, what it pins).
type Nearest = std::sync::Arc<[Option<std::sync::Arc<(String, version::PinnedVersion)>>; 5]>;

/// Version pin files, found the way tfenv, tofuenv and asdf find them: the
/// nearest one in the module's folder or a parent.
#[derive(Default)]
struct PinCache {
    /// The pin files each folder holds (their text), read ahead on every core.
    /// Keyed by the folder's bytes (normalized, so equal paths are equal
    /// bytes): hashing a `Path` goes component by component.
    read: foldhash::HashMap<std::ffi::OsString, [Option<String>; 5]>,
    /// Per absolute folder: the nearest pin files. Shared parents are looked
    /// at once, whatever the number of modules, and a folder without pin
    /// files shares its parent's answer.
    nearest: foldhash::HashMap<std::ffi::OsString, Nearest>,
}

impl PinCache {
    /// Reads the pin files of the module folders (and of the folders above
    /// them) on every core, so the look-ups that follow find them read.
    fn prefetch(&mut self, cwd: &Path, dirs: impl Iterator<Item = String>) {
        let mut wanted: Vec<std::path::PathBuf> = Vec::new();
        let mut seen = foldhash::HashSet::default();
        for dir in dirs {
            let absolute = normalize(&cwd.join(dir));
            for folder in absolute.ancestors() {
                if !seen.insert(folder.to_path_buf()) {
                    break;
                }
                wanted.push(folder.to_path_buf());
            }
        }
        // Below the process's own folder a short relative path is cheaper to
        // look up (the kernel walks every folder of a path, per file name).
        let here = std::env::current_dir().ok();
        let read = crate::parallel::map(&wanted, |d| {
            let short = here
                .as_deref()
                .and_then(|here| d.strip_prefix(here).ok())
                .filter(|r| !r.as_os_str().is_empty());
            (d.clone().into_os_string(), pin_files_in(short.unwrap_or(d)))
        });
        self.read.extend(read);
    }

    /// The nearest pin files of the module folder `dir` (relative to `cwd`).
    fn near(&mut self, cwd: &Path, dir: &str) -> Nearest {
        self.nearest(cwd, &normalize(&cwd.join(dir)))
    }

    fn nearest(&mut self, cwd: &Path, dir: &Path) -> Nearest {
        if let Some(known) = self.nearest.get(dir.as_os_str()) {
            return known.clone();
        }
        let inherited = match dir.parent() {
            Some(parent) => self.nearest(cwd, parent),
            None => Nearest::default(),
        };
        let texts = self
            .read
            .remove(dir.as_os_str())
            .unwrap_or_else(|| pin_files_in(dir));
        let found = if texts.iter().all(Option::is_none) {
            inherited
        } else {
            let mut own = (*inherited).clone();
            for (i, text) in texts.into_iter().enumerate() {
                if let Some(text) = text {
                    let kind = PIN_FILES[i];
                    let shown = crate::discover::display_path(&dir.join(kind.file_name()), cwd);
                    let pinned = version::parse_version_file(kind, &text);
                    own[i] = Some(std::sync::Arc::new((shown, pinned)));
                }
            }
            std::sync::Arc::new(own)
        };
        self.nearest
            .insert(dir.as_os_str().to_owned(), found.clone());
        found
    }
}

/// The text of each of `PIN_FILES` in a folder (None: absent or unreadable).
fn pin_files_in(dir: &Path) -> [Option<String>; 5] {
    PIN_FILES.map(|kind| std::fs::read_to_string(dir.join(kind.file_name())).ok())
}

fn normalize(path: &Path) -> std::path::PathBuf {
    path.components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect()
}

/// Adds the `required_version` edits to the plan: format-preserving value
/// splices, through the same renderer as backend edits (so a trailing comment
/// stays aligned).
fn plan_bumps(repo: &mut RepoPlan, bumps: &[(VersionConstraint, String)]) {
    let mut by_file: BTreeMap<String, Vec<&(VersionConstraint, String)>> = BTreeMap::new();
    for bump in bumps {
        by_file.entry(bump.0.path.clone()).or_default().push(bump);
    }
    for (path, bumps) in by_file {
        let existing = repo.files.iter().position(|f| f.path == path);
        let original = match existing {
            Some(i) => repo.files[i].original.clone(),
            None => match std::fs::read_to_string(&bumps[0].0.fs_path) {
                Ok(text) => text,
                Err(_) => continue,
            },
        };
        let source = Source::new(original.clone());
        // Where the constraint is written: a `.tf` block, JSON, or the
        // terraform block inside a Terragrunt `generate` heredoc.
        let blocks = if path.ends_with(".json") {
            Ok(json_blocks::terraform_blocks(&source))
        } else if path.ends_with(".hcl") {
            parse::generated_terraform_blocks(&source)
        } else {
            parse::terraform_blocks(&source)
        };
        let Ok(blocks) = blocks else {
            continue;
        };
        let mut edits: Vec<Edit> = Vec::new();
        let mut seen = BTreeSet::new();
        for (c, new) in &bumps {
            if !seen.insert(c.line) {
                continue;
            }
            let quoted = format!("\"{new}\"");
            for body in &blocks {
                let Some(setting) = body.get("required_version") else {
                    continue;
                };
                if source.line_of(setting.key_span.start) != c.line {
                    continue;
                }
                let ops = BodyOps {
                    body,
                    ops: vec![Op::SetValue(setting, &quoted)],
                };
                if let Ok(e) = plan::render_ops(&source, &ops) {
                    edits.extend(e);
                }
            }
        }
        if edits.is_empty() {
            continue;
        }
        match existing {
            Some(i) => repo.files[i].extra_edits.extend(edits),
            None => repo.files.push(FilePlan {
                path: path.clone(),
                fs_path: bumps[0].0.fs_path.clone(),
                sha256: sha256_hex(original.as_bytes()),
                original: original.clone(),
                new_text: original,
                edits: Vec::new(),
                extra_edits: edits,
                readers: Vec::new(),
            }),
        }
    }
    repo.files.sort_by(|a, b| a.path.cmp(&b.path));
}
