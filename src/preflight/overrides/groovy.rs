//! Jenkins pipelines: `dir('path') { ... }` blocks around a step.

use crate::preflight::ci::{self, Line};

/// The targets of the `dir(...) { }` blocks open at line `i` (outermost
/// first), as written (quotes removed).
pub(super) fn dir_blocks(lines: &[Line], i: usize) -> Vec<String> {
    // (brace depth inside the block, its target)
    let mut open: Vec<(usize, String)> = Vec::new();
    let mut depth = 0usize;
    for line in &lines[..i.min(lines.len())] {
        let code = line.code();
        let mut pending: Option<String> = None;
        let mut j = 0;
        ci::walk_quotes(code, |k, q| {
            if q.is_some() || k < j {
                return false;
            }
            if let Some((end, target)) = dir_call(code, k) {
                pending = Some(target);
                j = end;
                return false;
            }
            match code[k] {
                '{' => {
                    depth += 1;
                    if let Some(t) = pending.take() {
                        open.push((depth, t));
                    }
                }
                '}' => {
                    if open.last().is_some_and(|(d, _)| *d == depth) {
                        open.pop();
                    }
                    depth = depth.saturating_sub(1);
                }
                _ => {}
            }
            false
        });
    }
    open.into_iter().map(|(_, t)| t).collect()
}

/// `dir('x')` / `dir("x")` / `dir(path: 'x')` starting at `k`: (end, target).
fn dir_call(code: &[char], k: usize) -> Option<(usize, String)> {
    let word = |c: char| c.is_alphanumeric() || c == '_' || c == '.';
    if k > 0 && word(code[k - 1]) {
        return None;
    }
    let rest: String = code[k..].iter().collect();
    let args = rest.strip_prefix("dir")?.trim_start().strip_prefix('(')?;
    let close = args.find(')')?;
    let inner = args[..close].trim();
    let inner = inner.strip_prefix("path:").map_or(inner, str::trim);
    let target = inner
        .strip_prefix(['\'', '"'])
        .and_then(|t| t.strip_suffix(['\'', '"']))?;
    let consumed = rest.len() - args.len() + close + 1;
    Some((k + rest[..consumed].chars().count(), target.to_string()))
}

/// The inside of the `sh '...'` / `sh("...")` / `bat`/`powershell` string
/// holding char `at`: (start, end) in `code`.
pub(super) fn sh_string(code: &[char], at: usize) -> Option<(usize, usize)> {
    let mut open: Option<(usize, char)> = None;
    let mut found = None;
    ci::walk_quotes(code, |i, q| {
        match (q, open) {
            (Some(c), None) => open = Some((i, c)),
            (None, Some((start, _))) => {
                if start <= at && at < i {
                    found = Some((start, i - 1));
                    return true;
                }
                open = None;
            }
            _ => {}
        }
        false
    });
    let (start, end) = found.or_else(|| {
        let (s, c) = open.filter(|(s, _)| *s <= at)?;
        let end = if code.last() == Some(&c) {
            code.len() - 1
        } else {
            code.len()
        };
        Some((s, end))
    })?;
    // `start` is the first char inside the quote; what precedes it names the step.
    let before: String = code[..start.saturating_sub(1)].iter().collect();
    let before = before.trim_end().trim_end_matches('(').trim_end();
    let step = ["sh", "bat", "powershell", "pwsh", "script:"]
        .iter()
        .any(|s| before.ends_with(s));
    step.then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preflight::ci::split_lines;

    #[test]
    fn open_dir_blocks() {
        let text = "\
pipeline {
  stages {
    stage('init') {
      steps {
        dir('envs') {
          dir(\"prod\") {
            sh 'terraform init -backend-config=A'
          }
          sh 'terraform init -backend-config=B'
        }
        sh 'terraform init -backend-config=C'
      }
    }
  }
}
";
        let lines = split_lines(text);
        let at = |n: &str| dir_blocks(&lines, text.lines().position(|l| l.contains(n)).unwrap());
        assert_eq!(at("config=A"), vec!["envs".to_string(), "prod".to_string()]);
        assert_eq!(at("config=B"), vec!["envs".to_string()]);
        assert!(at("config=C").is_empty());
    }
}
