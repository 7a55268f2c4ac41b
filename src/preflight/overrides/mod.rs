//! Init-time overrides (issue 10, item 3): every `-backend-config` argument that
//! CI files, Makefiles, scripts, `TF_CLI_ARGS_init` / `TF_CLI_ARGS` and Terragrunt
//! `extra_arguments` pass to `terraform init`, with the module directory each one
//! applies to. Such an argument overrides the backend files, so the resolve stage
//! must check the states it names, not the placeholders in the files.
//!
//! The recognition of arguments is `super::ci`'s lexer ([`ci::backend_config_args`]);
//! this module adds where the command runs ([`shell`], [`yaml`], [`groovy`]) and
//! what the argument means ([`OverrideKind`]). [`partial`] turns the files such
//! arguments name (whatever their name) into planned backends; [`terragrunt`]
//! reads `extra_arguments` blocks.
//!
//! What decides [`InitOverride::dir`] (a display path, relative to the cwd):
//! - the runner's own directory: a Makefile's, justfile's, Taskfile's or
//!   Jenkinsfile's folder; the repository root for GitHub/GitLab/other pipeline
//!   YAML (the folder holding `.github/`, `.gitlab-ci.yml`, ...). A shell script
//!   and an Atlantis workflow run wherever they are called from: unknown, unless
//!   the script does `cd "$(dirname "$0")"` or `cd "$(git rev-parse --show-toplevel)"`;
//! - `working-directory:` (also `workingDirectory:`, `working_directory:`,
//!   `defaults: run: working-directory:`) of the enclosing step or job, a
//!   Taskfile task's `dir:`, the `path:` input of `dflook/terraform-*` actions, a
//!   Jenkins `dir('...') { }` block;
//! - `cd DIR` / `pushd DIR` / `popd` earlier in the same shell session: earlier
//!   on the line (`cd DIR && ...`, `cd DIR; ...`, subshells respected), earlier in a
//!   script, in the same `run: |` block or GitLab `script:` list (a Makefile or
//!   justfile recipe line is its own shell, unless `.ONESHELL:`);
//! - `-chdir=DIR` (and Terragrunt's `--terragrunt-working-dir` / `--working-dir`)
//!   of the command itself.
//!
//! Anything built from a variable (`cd $DIR`, `working-directory: ${{ matrix.dir }}`,
//! an absolute path) makes the directory unknown (`None`): the override may apply
//! to any module, and the caller treats it conservatively. A `TF_CLI_ARGS_init`
//! exported for later commands has no directory of its own either.

mod groovy;
pub(crate) mod partial;
mod shell;
pub(crate) mod terragrunt;
mod yaml;

use super::Finding;
use super::ci::{self, ArgSite, unquote};
use super::facts::Fact;
use crate::discover::{Candidate, FileKind, Selection};
use crate::model::RepoPlan;
pub use crate::model::{InitOverride, OverrideKind, Via};
use crate::plan::Strategy;
use crate::source::Needle;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Value kept in place of a secret's (`access_key`, `secret_key`, ...).
pub const REDACTED: &str = "(sensitive value)";

/// The init-time overrides written in one file: a CI file, script or pipeline
/// (`FileKind::Ci`), or a Terragrunt file's `extra_arguments` (its own directory
/// is the unit's). `text` is the file's content; `cwd` anchors display paths
/// (and the repository root is looked up from the file upwards).
pub fn init_overrides(candidate: &Candidate, text: &str, cwd: &Path) -> Vec<InitOverride> {
    let ctx = Context::new(&candidate.display, cwd);
    match candidate.kind {
        FileKind::Ci => ci_overrides(&candidate.display, text, &ctx),
        FileKind::Terragrunt => {
            // A `terragrunt.hcl` is a unit; a root file is evaluated per unit
            // that includes it, by [`collect`].
            let unit = candidate.display.rsplit('/').next() == Some("terragrunt.hcl");
            let dir = ctx.source_dir.clone();
            terragrunt::overrides(&candidate.display, text, unit.then_some(dir.as_str()), &ctx)
        }
        _ => Vec::new(),
    }
}

/// The overrides in a walked file's bytes, as a fact for [`collect`] (cheap
/// for the files that mention no `-backend-config`).
pub fn fact_of(candidate: &Candidate, bytes: &[u8], cwd: &Path) -> Option<Fact> {
    static DASHED: Needle = Needle::new(b"backend-config");
    static SNAKE: Needle = Needle::new(b"backend_config");
    if !(DASHED.is_in(bytes) || SNAKE.is_in(bytes)) {
        return None;
    }
    let text = String::from_utf8_lossy(bytes);
    let found = init_overrides(candidate, &text, cwd);
    (!found.is_empty()).then_some(Fact::Overrides(found))
}

/// Where relative paths start, and what the usual CI anchors mean.
#[derive(Debug, Clone)]
pub struct Context {
    /// The source's folder (display path).
    pub source_dir: String,
    /// The repository root (display path): the nearest folder above the source
    /// holding `.git`, else the cwd.
    pub repo_root: String,
    /// The cwd, for turning display paths into paths to open.
    pub cwd: PathBuf,
}

impl Context {
    pub fn new(display: &str, cwd: &Path) -> Context {
        let source_dir = crate::model::paths::parent_dir(display);
        let absolute = cwd.join(&source_dir);
        let repo_root = absolute
            .ancestors()
            .find(|d| d.join(".git").exists())
            .map(|d| crate::discover::display_path(d, cwd))
            .unwrap_or_else(|| ".".to_string());
        Context {
            source_dir,
            repo_root,
            cwd: cwd.to_path_buf(),
        }
    }

    /// A context with no file system behind it, for tests.
    #[cfg(test)]
    pub fn fixed(source_dir: &str, repo_root: &str, cwd: &Path) -> Context {
        Context {
            source_dir: source_dir.to_string(),
            repo_root: repo_root.to_string(),
            cwd: cwd.to_path_buf(),
        }
    }
}

/// What runs the commands of a CI file, which decides where they run and how
/// long a `cd` lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Runner {
    /// A shell or PowerShell script: one session, run from wherever it is called.
    Script,
    /// Make (each recipe line its own shell, unless `.ONESHELL:`).
    Make {
        oneshell: bool,
    },
    /// just (each recipe line its own shell).
    Just,
    /// Task (`dir:` per task).
    Task,
    /// Pipeline YAML run from the repository root (GitHub, GitLab, ...).
    Pipeline {
        gitlab: bool,
    },
    Jenkins,
    /// Atlantis workflows run in each project's directory: unknown here.
    Atlantis,
}

fn runner_of(display: &str, text: &str) -> Runner {
    let name = display.rsplit('/').next().unwrap_or(display);
    let lower = name.to_ascii_lowercase();
    let in_dir = |d: &str| display.split('/').any(|c| c == d);
    if matches!(name, "Makefile" | "makefile" | "GNUmakefile") || lower.ends_with(".mk") {
        let oneshell = text
            .lines()
            .any(|l| l.trim_start().starts_with(".ONESHELL:"));
        return Runner::Make { oneshell };
    }
    if lower == "justfile" || lower == ".justfile" || lower.ends_with(".just") {
        return Runner::Just;
    }
    if lower.starts_with("taskfile.") {
        return Runner::Task;
    }
    if lower == "jenkinsfile"
        || lower.ends_with(".jenkinsfile")
        || lower.starts_with("jenkinsfile.")
    {
        return Runner::Jenkins;
    }
    if lower == "atlantis.yaml" || lower == "atlantis.yml" {
        return Runner::Atlantis;
    }
    if lower.ends_with(".yml") || lower.ends_with(".yaml") {
        let gitlab = lower.ends_with(".gitlab-ci.yml")
            || lower.ends_with(".gitlab-ci.yaml")
            || lower == ".gitlab-ci.yml"
            || lower == ".gitlab-ci.yaml"
            || in_dir(".gitlab");
        return Runner::Pipeline { gitlab };
    }
    Runner::Script
}

/// Folders whose YAML describes a pipeline of the repository holding them.
const PIPELINE_DIRS: &[&str] = &[
    ".github",
    ".gitlab",
    ".circleci",
    ".azure-pipelines",
    ".woodpecker",
    ".buildkite",
];

/// Where the runner starts: `None` when it depends on the caller.
fn base_dir(runner: Runner, display: &str, ctx: &Context) -> Option<String> {
    match runner {
        Runner::Script | Runner::Atlantis => None,
        Runner::Make { .. } | Runner::Just | Runner::Task | Runner::Jenkins => {
            Some(ctx.source_dir.clone())
        }
        Runner::Pipeline { .. } => {
            let parts: Vec<&str> = display.split('/').collect();
            match parts.iter().position(|p| PIPELINE_DIRS.contains(p)) {
                Some(0) => Some(".".to_string()),
                Some(i) => Some(parts[..i].join("/")),
                None => Some(ctx.source_dir.clone()),
            }
        }
    }
}

/// The overrides of a CI file, script or pipeline. Reads the file system only
/// to see which `-backend-config` files exist (below `ctx.cwd`).
pub fn ci_overrides(display: &str, text: &str, ctx: &Context) -> Vec<InitOverride> {
    let args = ci::backend_config_args(text);
    if args.is_empty() {
        return Vec::new();
    }
    let runner = runner_of(display, text);
    let base = base_dir(runner, display, ctx);
    let lines = ci::split_lines(text);
    let anchors = shell::Anchors {
        source_dir: ctx.source_dir.clone(),
        repo_root: ctx.repo_root.clone(),
    };
    let yaml = matches!(
        runner,
        Runner::Pipeline { .. } | Runner::Task | Runner::Atlantis
    );
    let mut out = Vec::new();
    for arg in &args {
        // Only `TF_CLI_ARGS` and `TF_CLI_ARGS_init` reach `init`.
        if let Some(var) = &arg.env
            && var != "TF_CLI_ARGS"
            && var != "TF_CLI_ARGS_init"
        {
            continue;
        }
        let line0 = arg.line - 1;
        // The directory the runner gives this line, before any `cd`.
        let mut start = base.clone();
        let mut explicit = false;
        if yaml {
            let keys: &[&str] = if arg.action_input {
                &["path"]
            } else if runner == Runner::Task {
                &["dir"]
            } else {
                &["working-directory", "workingDirectory", "working_directory"]
            };
            if let Some(found) = yaml::directory_key(&lines, line0, keys, !arg.action_input) {
                explicit = true;
                start = shell::eval_dir(&found, base.as_deref(), &anchors);
            }
        }
        if runner == Runner::Jenkins {
            start = groovy::dir_blocks(&lines, line0)
                .into_iter()
                .fold(base.clone(), |dir, d| {
                    shell::eval_dir(&d, dir.as_deref(), &anchors)
                });
        }
        // From a start directory: `cd`s earlier in the same shell session, then
        // on the line itself, then `-chdir`.
        let run_dir = |start: Option<String>| -> Option<String> {
            let session = match runner {
                Runner::Script => Some(0),
                Runner::Make { oneshell: true } => {
                    shell::recipe_start(&lines, arg_first_line(arg, &lines))
                }
                Runner::Pipeline { gitlab } => yaml::session_start(&lines, line0, gitlab),
                Runner::Task | Runner::Atlantis => yaml::session_start(&lines, line0, false),
                _ => None,
            };
            let mut sh = shell::Session::new(start);
            if let Some(from) = session {
                let to = arg_first_line(arg, &lines).max(from);
                for line in &lines[from..to] {
                    sh.feed(&yaml::shell_text(line, yaml), &anchors);
                }
            }
            let (command, at) = shell_command(runner, &arg.command, arg.at);
            match (&arg.env, shell::runs_here(&command, at)) {
                // An exported variable: the command it reaches runs later, anywhere.
                (Some(_), false) if !explicit => None,
                (Some(_), false) => sh.cwd,
                _ => shell::dir_at(&command, at, sh.cwd, &anchors),
            }
        };
        let dir = if arg.action_input {
            start.clone()
        } else {
            run_dir(start.clone())
        };
        // Where a relative `-backend-config=FILE` is looked for: the directory
        // init runs in; unknown, the same `cd`s and `-chdir` from the script's
        // folder and from the repository root. An action's `backend_config_file`
        // is relative to the workspace, not `path`.
        let mut file_dirs: Vec<String> = if arg.action_input {
            base.iter().cloned().collect()
        } else if let Some(d) = &dir {
            vec![d.clone()]
        } else if start.is_none() {
            [&ctx.source_dir, &ctx.repo_root]
                .into_iter()
                .filter_map(|b| run_dir(Some(b.clone())))
                .collect()
        } else {
            Vec::new()
        };
        file_dirs.dedup();
        let via = match (&arg.env, arg.action_input) {
            (Some(var), _) => Via::EnvVar(var.clone()),
            (None, true) => Via::ActionInput,
            (None, false) => Via::Argument,
        };
        let kind = kind_of(&arg.value, &file_dirs, ctx);
        out.push(InitOverride {
            source: display.to_string(),
            line: arg.line,
            column: arg.column,
            dir,
            via,
            kind,
        });
    }
    out
}

/// The shell text of the command line holding an argument at char `at`, and
/// the argument's index in it: YAML keys and whole-value quotes (`run: "..."`)
/// and a Jenkins `sh '...'` string are taken off.
fn shell_command(runner: Runner, command: &str, at: usize) -> (Vec<char>, usize) {
    let chars: Vec<char> = command.chars().collect();
    let (a, b) = match runner {
        Runner::Pipeline { .. } | Runner::Task | Runner::Atlantis => yaml::shell_span(&chars),
        Runner::Jenkins => groovy::sh_string(&chars, at).unwrap_or((0, chars.len())),
        _ => (0, chars.len()),
    };
    if a <= at && at <= b {
        (chars[a..b].to_vec(), at - a)
    } else {
        (chars, at)
    }
}

/// Everything the walk found about overrides, completed once the walk is done:
/// moves them from the facts onto `repo.overrides`, evaluates the
/// `extra_arguments` of Terragrunt root files once per unit that includes them,
/// and plans the files `-backend-config=FILE` names as partial configurations.
/// Referenced files that `selection` leaves out (`--exclude`, `--include`) stay out.
pub fn collect(repo: &mut RepoPlan, cwd: &Path, strategy: Strategy, selection: &Selection) {
    let mut found = Vec::new();
    repo.facts.retain_mut(|fact| match fact {
        Fact::Overrides(list) => {
            found.append(list);
            false
        }
        _ => true,
    });
    // Root files: one set per unit that includes them (none found: unknown dir).
    let roots: BTreeSet<String> = found
        .iter()
        .filter(|o| o.via == Via::TerragruntExtraArguments && o.dir.is_none())
        .map(|o| o.source.clone())
        .collect();
    for root in &roots {
        let units: Vec<String> = repo
            .units
            .iter()
            .filter(|u| &u.includes == root)
            .map(|u| u.dir.clone())
            .collect();
        if units.is_empty() {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(cwd.join(root)) else {
            continue;
        };
        found.retain(|o| &o.source != root);
        let ctx = Context::new(root, cwd);
        for unit in &units {
            found.extend(terragrunt::overrides(root, &text, Some(unit), &ctx));
        }
    }
    found.sort_by(|a, b| {
        (&a.source, a.line, a.column, &a.dir).cmp(&(&b.source, b.line, b.column, &b.dir))
    });
    repo.overrides = found;
    partial::plan_referenced(repo, strategy, selection);
}

/// For each `-backend-config=FILE` (display path) passed from a known
/// directory, the module directories whose `init` passes it.
pub fn file_dirs(overrides: &[InitOverride]) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut out: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for o in overrides {
        if let (
            OverrideKind::File {
                file: Some(file), ..
            },
            Some(dir),
        ) = (&o.kind, &o.dir)
        {
            let dirs = out.entry(file.clone()).or_default();
            if !dirs.contains(dir) {
                dirs.push(dir.clone());
            }
        }
    }
    out
}

/// Preflight findings about overrides: a `-backend-config` file that is not
/// there, or whose name holds a variable (either way the state it configures
/// cannot be told).
pub fn findings(overrides: &[InitOverride]) -> Vec<Finding> {
    let mut out = Vec::new();
    for o in overrides {
        let OverrideKind::File {
            path, file, exists, ..
        } = &o.kind
        else {
            continue;
        };
        let message = match file {
            Some(_) if *exists => continue,
            Some(file) if o.dir.is_some() => format!(
                "-backend-config={path} names a file that does not exist ({file}): the \
                 backend it configures cannot be checked"
            ),
            Some(file) => format!(
                "-backend-config={path}: no such file where init may run (looked for {file} and \
                 next to this file; the directory init runs in is not known): the backend it \
                 configures cannot be checked"
            ),
            None => format!(
                "-backend-config={path}: the file name depends on a variable, so tflock cannot \
                 tell which backend configuration init reads"
            ),
        };
        out.push(Finding {
            path: o.source.clone(),
            line: o.line,
            column: o.column,
            kind: "init-override",
            message,
            suggestion: None,
        });
    }
    out
}

/// The first physical line (0-based) of the command line holding `arg`.
fn arg_first_line(arg: &ArgSite, lines: &[ci::Line]) -> usize {
    arg.first_line.saturating_sub(1).min(lines.len())
}

/// What `-backend-config=<value>` means; a relative file path is looked for in
/// `dirs` (display paths, in order), or when none is given in the source's
/// folder, then the repository root.
pub fn kind_of(value: &str, dirs: &[String], ctx: &Context) -> OverrideKind {
    let value = value.trim();
    let Some(eq) = value.find('=') else {
        return file_kind(value, dirs, ctx);
    };
    let key = value[..eq].trim();
    let is_ident = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !is_ident {
        // Whatever it sets, a secret's value is not kept.
        let secret = crate::model::SECRET_KEYS.iter().any(|k| value.contains(k));
        let text = match value.find('=') {
            Some(eq) if secret => format!("{}={REDACTED}", &value[..eq]),
            _ => value.to_string(),
        };
        return OverrideKind::Unreadable { text };
    }
    let raw = unquote(&value[eq + 1..]);
    let prefix_end = unknown_at(raw).unwrap_or(raw.len());
    let complete = prefix_end == raw.len();
    if crate::model::SECRET_KEYS.contains(&key) {
        return OverrideKind::Setting {
            key: key.to_string(),
            value: REDACTED.to_string(),
            literal_prefix: String::new(),
            complete,
        };
    }
    OverrideKind::Setting {
        key: key.to_string(),
        value: raw.to_string(),
        literal_prefix: raw[..prefix_end].to_string(),
        complete,
    }
}

fn file_kind(path: &str, dirs: &[String], ctx: &Context) -> OverrideKind {
    let path = unquote(path).to_string();
    let unknown = OverrideKind::File {
        path: path.clone(),
        fs_path: None,
        file: None,
        exists: false,
    };
    if unknown_at(&path).is_some() || path.is_empty() {
        return unknown;
    }
    let candidates: Vec<PathBuf> = if Path::new(&path).is_absolute() {
        vec![PathBuf::from(&path)]
    } else if dirs.is_empty() {
        vec![
            ctx.cwd.join(&ctx.source_dir).join(&path),
            ctx.cwd.join(&ctx.repo_root).join(&path),
        ]
    } else {
        dirs.iter().map(|d| ctx.cwd.join(d).join(&path)).collect()
    };
    let found = candidates.iter().find(|p| p.is_file()).cloned();
    let exists = found.is_some();
    let fs_path = normalize(&found.unwrap_or_else(|| candidates[0].clone()));
    OverrideKind::File {
        path,
        file: Some(crate::discover::display_path(&fs_path, &ctx.cwd)),
        fs_path: Some(fs_path),
        exists,
    }
}

/// Char index of the first thing in `value` that only a shell, a CI system or a
/// template engine can fill in.
pub fn unknown_at(value: &str) -> Option<usize> {
    let dollar = value.find('$');
    let template = value.find("{{");
    let backtick = value.find('`');
    [dollar, template, backtick].into_iter().flatten().min()
}

/// Drops `.` and folds `..` lexically (the files may not exist).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// `rel` joined to the display directory `base`, `.` and `..` folded; `None`
/// for an absolute path (outside the display space).
pub fn join_dir(base: &str, rel: &str) -> Option<String> {
    if rel.starts_with('/') || rel.starts_with('\\') || rel.get(1..2) == Some(":") {
        return None;
    }
    // A display path outside the cwd is absolute; it stays so.
    let root = if base.starts_with('/') { "/" } else { "" };
    let mut parts: Vec<&str> = base
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    for part in rel.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if root.is_empty() {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    Some(if parts.is_empty() && root.is_empty() {
        ".".to_string()
    } else {
        format!("{root}{}", parts.join("/"))
    })
}

#[cfg(test)]
mod tests;
