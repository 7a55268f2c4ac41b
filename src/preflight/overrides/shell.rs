//! Where a shell command runs: `cd` / `pushd` / `popd` before it (in the same
//! session or earlier on its line), `-chdir=DIR` in it.
//!
//! Line-based, like `super::super::ci`: a command line is cut into simple
//! commands at unquoted `;`, `&`, `|`, newlines and parentheses; `$(...)` and
//! `${...}` are kept whole. A `cd` inside `( ... )` lasts until the `)`.

use super::join_dir;
use crate::preflight::ci::{self, Line};

/// What the usual "where am I" expressions of scripts and CI systems mean.
pub(super) struct Anchors {
    /// The script's own folder: `$(dirname "$0")`, `${BASH_SOURCE[0]}`, ...
    pub source_dir: String,
    /// The repository root: `$(git rev-parse --show-toplevel)`, `$GITHUB_WORKSPACE`, ...
    pub repo_root: String,
}

const SOURCE_DIR: &[&str] = &[
    "$(dirname $0)",
    "$(dirname ${0})",
    "$(dirname -- $0)",
    "$(dirname ${BASH_SOURCE[0]})",
    "$(dirname -- ${BASH_SOURCE[0]})",
    "$(dirname $BASH_SOURCE)",
    "$(dirname ${BASH_SOURCE})",
    "${0%/*}",
    "$PSScriptRoot",
];

const REPO_ROOT: &[&str] = &[
    "$(git rev-parse --show-toplevel)",
    "${{ github.workspace }}",
    "${{github.workspace}}",
    "$GITHUB_WORKSPACE",
    "${GITHUB_WORKSPACE}",
    "$CI_PROJECT_DIR",
    "${CI_PROJECT_DIR}",
    "$WORKSPACE",
    "${WORKSPACE}",
    "${env.WORKSPACE}",
    "$BITBUCKET_CLONE_DIR",
    "${BITBUCKET_CLONE_DIR}",
    "$CODEBUILD_SRC_DIR",
    "${CODEBUILD_SRC_DIR}",
    "$(Build.SourcesDirectory)",
    "$(System.DefaultWorkingDirectory)",
];

/// The directory a `cd` target, `-chdir` or `working-directory` value names,
/// from `from` (unknown: `None`); `None` when it depends on something unknown.
/// An anchored target (`$(dirname "$0")/..`) does not depend on `from`.
pub(super) fn eval_dir(target: &str, from: Option<&str>, anchors: &Anchors) -> Option<String> {
    let target: String = target
        .chars()
        .filter(|c| !matches!(c, '"' | '\''))
        .collect();
    let target = target.trim();
    for (list, anchor) in [
        (SOURCE_DIR, &anchors.source_dir),
        (REPO_ROOT, &anchors.repo_root),
    ] {
        for prefix in list {
            if let Some(rest) = target.strip_prefix(prefix) {
                return match rest.strip_prefix(['/', '\\']) {
                    _ if rest.is_empty() => Some(anchor.clone()),
                    Some(rest) if super::unknown_at(rest).is_none() => join_dir(anchor, rest),
                    _ => None,
                };
            }
        }
    }
    if target.is_empty()
        || target == "-"
        || target.starts_with('~')
        || target.contains(['*', '?', '%'])
        || super::unknown_at(target).is_some()
    {
        return None;
    }
    join_dir(from?, target)
}

/// One shell session's current directory, fed line by line.
pub(super) struct Session {
    pub cwd: Option<String>,
    pushed: Vec<Option<String>>,
}

impl Session {
    pub fn new(cwd: Option<String>) -> Session {
        Session {
            cwd,
            pushed: Vec::new(),
        }
    }

    /// Applies the `cd`s of a line that run in the session itself (not in a
    /// subshell, which ends with its line).
    pub fn feed(&mut self, line: &[char], anchors: &Anchors) {
        for cmd in commands(line) {
            if cmd.frames.is_empty() {
                self.run(&line[cmd.start..cmd.end], anchors);
            }
        }
    }

    fn run(&mut self, cmd: &[char], anchors: &Anchors) {
        let words = words(cmd);
        let Some((name, args)) = words.split_first() else {
            return;
        };
        let target = args
            .iter()
            .find(|w| !w.starts_with('-') || w.as_str() == "-");
        match name.as_str() {
            "cd" | "Set-Location" | "chdir" => {
                self.cwd = match target {
                    Some(t) => eval_dir(t, self.cwd.as_deref(), anchors),
                    // A bare `cd` goes home: outside the repository.
                    None => None,
                };
            }
            "pushd" | "Push-Location" => {
                self.pushed.push(self.cwd.clone());
                self.cwd = target.and_then(|t| eval_dir(t, self.cwd.as_deref(), anchors));
            }
            "popd" | "Pop-Location" => {
                self.cwd = self.pushed.pop().unwrap_or(None);
            }
            _ => {}
        }
    }
}

/// The directory the command holding char `at` of `line` runs in: `start`,
/// changed by the `cd`s before it on the line, then by its `-chdir`.
pub(super) fn dir_at(
    line: &[char],
    at: usize,
    start: Option<String>,
    anchors: &Anchors,
) -> Option<String> {
    let cmds = commands(line);
    let Some(here) = cmds.iter().position(|c| c.start <= at && at <= c.end) else {
        return start;
    };
    // One session per open subshell; each inherits its parent's directory.
    let mut levels: Vec<(usize, Session)> = vec![(0, Session::new(start))];
    let enter = |levels: &mut Vec<(usize, Session)>, frames: &[usize]| {
        let keep = levels
            .iter()
            .skip(1)
            .zip(frames)
            .take_while(|((a, _), b)| a == *b)
            .count();
        levels.truncate(keep + 1);
        for &frame in &frames[keep..] {
            let cwd = levels.last().and_then(|(_, s)| s.cwd.clone());
            levels.push((frame, Session::new(cwd)));
        }
    };
    for cmd in &cmds[..here] {
        enter(&mut levels, &cmd.frames);
        if let Some((_, level)) = levels.last_mut() {
            level.run(&line[cmd.start..cmd.end], anchors);
        }
    }
    enter(&mut levels, &cmds[here].frames);
    let cwd = levels.last().and_then(|(_, s)| s.cwd.clone());
    let cmd = &line[cmds[here].start..cmds[here].end];
    // `terragrunt run-all init` / `run --all init` runs in every unit below:
    // no one directory.
    let words = words(cmd);
    let all = words
        .iter()
        .any(|w| w == "run-all" || w == "--all" || w == "--terragrunt-include-dir");
    if all
        && words
            .iter()
            .any(|w| w.rsplit('/').next() == Some("terragrunt"))
    {
        return None;
    }
    match chdir_of(cmd) {
        Some(chdir) => eval_dir(&chdir, cwd.as_deref(), anchors),
        None => cwd,
    }
}

/// Whether the simple command holding char `at` runs Terraform itself (an
/// assignment prefix such as `TF_CLI_ARGS_init=... terraform init`), rather than
/// setting a variable for later commands (`export`, `echo ... >> $GITHUB_ENV`).
pub(super) fn runs_here(line: &[char], at: usize) -> bool {
    let cmds = commands(line);
    let Some(cmd) = cmds.iter().find(|c| c.start <= at && at <= c.end) else {
        return false;
    };
    words(&line[cmd.start..cmd.end]).iter().any(|w| {
        let w = w.rsplit('/').next().unwrap_or(w);
        matches!(w, "terraform" | "tofu" | "terragrunt")
    })
}

/// `-chdir=DIR` / `-chdir DIR` (Terraform, OpenTofu), `--terragrunt-working-dir`
/// / `--working-dir` (Terragrunt) in one simple command.
fn chdir_of(cmd: &[char]) -> Option<String> {
    let words = words(cmd);
    let mut found = None;
    for (i, w) in words.iter().enumerate() {
        let flag = w.trim_start_matches('-');
        if !w.starts_with('-') {
            continue;
        }
        for name in ["chdir", "terragrunt-working-dir", "working-dir"] {
            if let Some(v) = flag.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
                found = Some(v.to_string());
            } else if flag == name {
                found = words.get(i + 1).cloned();
            }
        }
    }
    found
}

/// The words of a simple command, quotes removed (`$( )`, `${ }` kept whole).
fn words(cmd: &[char]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < cmd.len() {
        if cmd[i].is_whitespace() {
            i += 1;
            continue;
        }
        let (end, word) = ci::read_word(cmd, i, None);
        if end == i {
            i += 1;
            continue;
        }
        out.push(word);
        i = end;
    }
    out
}

/// A simple command: chars `start..end` of the line, inside the subshells
/// `frames` (ids of their opening parentheses, outermost first).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Command {
    start: usize,
    end: usize,
    frames: Vec<usize>,
}

fn commands(s: &[char]) -> Vec<Command> {
    let mut out = Vec::new();
    let mut frames: Vec<usize> = Vec::new();
    let mut start = 0;
    let mut quote: Option<char> = None;
    let mut i = 0;
    let cut = |out: &mut Vec<Command>, start: usize, end: usize, frames: &[usize]| {
        if s[start..end].iter().any(|c| !c.is_whitespace()) {
            out.push(Command {
                start,
                end,
                frames: frames.to_vec(),
            });
        }
    };
    while i < s.len() {
        let c = s[i];
        match quote {
            Some('"') if c == '\\' => i += 1,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '\\' => i += 1,
                '"' => quote = Some('"'),
                '\'' if i == 0 || !s[i - 1].is_alphanumeric() => quote = Some('\''),
                '$' if matches!(s.get(i + 1), Some('(' | '{')) => {
                    if let Some(end) = closing(s, i + 1) {
                        i = end;
                    }
                }
                ';' | '&' | '|' | '\n' => {
                    cut(&mut out, start, i, &frames);
                    start = i + 1;
                }
                '(' => {
                    cut(&mut out, start, i, &frames);
                    frames.push(i + 1);
                    start = i + 1;
                }
                ')' => {
                    cut(&mut out, start, i, &frames);
                    frames.pop();
                    start = i + 1;
                }
                _ => {}
            },
        }
        i += 1;
    }
    cut(&mut out, start, s.len(), &frames);
    out
}

/// Index of the bracket closing the one at `open` (quotes inside are skipped).
fn closing(s: &[char], open: usize) -> Option<usize> {
    let (o, c) = match s[open] {
        '(' => ('(', ')'),
        _ => ('{', '}'),
    };
    let mut depth = 0usize;
    let mut found = None;
    ci::walk_quotes(&s[open..], |i, q| {
        if q.is_none() {
            if s[open + i] == o {
                depth += 1;
            } else if s[open + i] == c {
                depth -= 1;
                if depth == 0 {
                    found = Some(open + i);
                    return true;
                }
            }
        }
        false
    });
    found
}

/// Under `.ONESHELL:`, the first line of the recipe holding line `i` (the
/// line after its rule), so that its `cd`s carry to later recipe lines.
pub(super) fn recipe_start(lines: &[Line], i: usize) -> Option<usize> {
    (0..i.min(lines.len()))
        .rev()
        .find(|&j| {
            let code = lines[j].code();
            !code.is_empty() && code[0] != '\t' && code.iter().any(|c| !c.is_whitespace())
        })
        .map(|j| j + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anchors() -> Anchors {
        Anchors {
            source_dir: "scripts".into(),
            repo_root: ".".into(),
        }
    }

    fn dir(line: &str, start: Option<&str>) -> Option<String> {
        let chars: Vec<char> = line.chars().collect();
        let at = line.find("-backend-config").expect("an argument");
        let at = line[..at].chars().count();
        dir_at(&chars, at, start.map(String::from), &anchors())
    }

    #[test]
    fn cd_and_chdir_on_the_line() {
        let some = |s: &str| Some(s.to_string());
        assert_eq!(
            dir("terraform init -backend-config=k=v", Some(".")),
            some(".")
        );
        assert_eq!(
            dir(
                "cd envs/prod && terraform init -backend-config=k=v",
                Some(".")
            ),
            some("envs/prod")
        );
        assert_eq!(
            dir(
                "cd envs; cd prod; terraform init -backend-config=k=v",
                Some(".")
            ),
            some("envs/prod")
        );
        assert_eq!(
            dir(
                "terraform -chdir=envs/prod init -backend-config=k=v",
                Some(".")
            ),
            some("envs/prod")
        );
        assert_eq!(
            dir(
                "terraform -chdir \"envs/prod\" init -backend-config=k=v",
                Some("a")
            ),
            some("a/envs/prod")
        );
        assert_eq!(
            dir(
                "cd infra && terraform -chdir=../envs init -backend-config=k=v",
                Some(".")
            ),
            some("envs")
        );
        assert_eq!(
            dir(
                "terragrunt init --terragrunt-working-dir live/a -backend-config=k=v",
                Some(".")
            ),
            some("live/a")
        );
        // A subshell's cd ends with it.
        assert_eq!(
            dir(
                "(cd other && make) ; terraform init -backend-config=k=v",
                Some(".")
            ),
            some(".")
        );
        assert_eq!(
            dir(
                "(cd envs/prod && terraform init -backend-config=k=v)",
                Some(".")
            ),
            some("envs/prod")
        );
        // Unknown: variables, absolute paths, home, an unknown start.
        assert_eq!(
            dir("cd $DIR && terraform init -backend-config=k=v", Some(".")),
            None
        );
        assert_eq!(
            dir("cd /srv/x && terraform init -backend-config=k=v", Some(".")),
            None
        );
        assert_eq!(
            dir("cd && terraform init -backend-config=k=v", Some(".")),
            None
        );
        assert_eq!(
            dir(
                "terraform -chdir=${{ matrix.dir }} init -backend-config=k=v",
                Some(".")
            ),
            None
        );
        assert_eq!(
            dir("terraform -chdir=envs/prod init -backend-config=k=v", None),
            None
        );
        // Anchors.
        assert_eq!(
            dir(
                "cd \"$(dirname \"$0\")/..\" && terraform init -backend-config=k=v",
                None
            ),
            some(".")
        );
        assert_eq!(
            dir(
                "cd \"$(git rev-parse --show-toplevel)/envs\" && terraform init -backend-config=k=v",
                None
            ),
            some("envs")
        );
        assert_eq!(
            dir(
                "cd $GITHUB_WORKSPACE/envs/prod; terraform init -backend-config=k=v",
                None
            ),
            some("envs/prod")
        );
    }

    #[test]
    fn run_all_has_no_one_directory() {
        assert_eq!(
            dir(
                "cd live && terragrunt run-all init -backend-config=k=v",
                Some(".")
            ),
            None
        );
        assert_eq!(
            dir(
                "terragrunt run --all init -- -backend-config=k=v",
                Some(".")
            ),
            None
        );
        // A subshell that ended: its directory does not leak into the next one.
        assert_eq!(
            dir("(cd a) ; (terraform init -backend-config=k=v)", Some(".")).as_deref(),
            Some(".")
        );
    }

    #[test]
    fn session_cds_persist_and_pushd_pops() {
        let a = anchors();
        let mut s = Session::new(Some(".".into()));
        let feed = |s: &mut Session, l: &str| s.feed(&l.chars().collect::<Vec<_>>(), &a);
        feed(&mut s, "cd envs");
        assert_eq!(s.cwd.as_deref(), Some("envs"));
        feed(&mut s, "(cd elsewhere && ls)");
        assert_eq!(s.cwd.as_deref(), Some("envs"));
        feed(&mut s, "pushd prod >/dev/null");
        assert_eq!(s.cwd.as_deref(), Some("envs/prod"));
        feed(&mut s, "popd");
        assert_eq!(s.cwd.as_deref(), Some("envs"));
        feed(&mut s, "cd \"$TARGET\"");
        assert_eq!(s.cwd, None);
        feed(&mut s, "cd \"$(dirname \"${BASH_SOURCE[0]}\")\"");
        assert_eq!(s.cwd.as_deref(), Some("scripts"));
    }

    #[test]
    fn runs_here_tells_prefix_assignments_from_exports() {
        let at = |l: &str| (l.chars().collect::<Vec<_>>(), l.find("-backend").unwrap());
        let (l, i) = at("TF_CLI_ARGS_init=\"-backend-config=k=v\" terraform init");
        assert!(runs_here(&l, i));
        let (l, i) = at("export TF_CLI_ARGS_init=\"-backend-config=k=v\"");
        assert!(!runs_here(&l, i));
        let (l, i) = at("echo \"TF_CLI_ARGS_init=-backend-config=k=v\" >> $GITHUB_ENV");
        assert!(!runs_here(&l, i));
    }
}
