//! `TF_CLI_ARGS*` assignments on one line (shell, Make, YAML maps, Groovy,
//! PowerShell): which variable's value holds a given argument. Finds no argument.

use super::lexer::{at, closing_quote, find, text};

/// `TF_CLI_ARGS` or `TF_CLI_ARGS_<command>`.
pub(super) fn is_tf_cli_args(name: &str) -> bool {
    name.strip_prefix("TF_CLI_ARGS").is_some_and(|rest| {
        rest.is_empty()
            || (rest.starts_with('_')
                && rest.len() > 1
                && rest[1..]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_'))
    })
}

/// `TF_CLI_ARGS*` assigned on the same line with a value that contains `d`.
pub(super) fn env_assignment_covering(s: &[char], d: usize) -> Option<String> {
    let n = s.len();
    let mut from = 0;
    while let Some(st) = find(s, from, "TF_CLI_ARGS") {
        from = st + 1;
        if st >= d {
            break;
        }
        let prev = if st > 0 { Some(s[st - 1]) } else { None };
        if prev.is_some_and(|c| c.is_alphanumeric() || matches!(c, '_' | '$' | '{')) {
            continue;
        }
        let mut e = st + "TF_CLI_ARGS".len();
        while e < n && (s[e].is_ascii_alphanumeric() || s[e] == '_') {
            e += 1;
        }
        let name = text(&s[st..e]);
        if !is_tf_cli_args(&name) {
            continue;
        }
        let mut p = e;
        while p < n && (s[p] == ' ' || s[p] == '\t') {
            p += 1;
        }
        let spaced_before = p > e;
        let op_len = if at(s, p, "::=") {
            3
        } else if at(s, p, ":=") || at(s, p, "?=") || at(s, p, "+=") {
            2
        } else if at(s, p, "==") {
            continue;
        } else if s.get(p) == Some(&'=') || s.get(p) == Some(&':') {
            1
        } else {
            continue;
        };
        let simple_shell = op_len == 1 && s[p] == '=' && !spaced_before;
        p += op_len;
        let v0 = {
            let mut v = p;
            while v < n && (s[v] == ' ' || s[v] == '\t') {
                v += 1;
            }
            v
        };
        let spaced = !simple_shell || v0 > p;
        if v0 > d {
            continue;
        }
        let covers = if let Some(q) = prev.filter(|c| *c == '"' || *c == '\'') {
            // "TF_CLI_ARGS_init=..." as one quoted string
            closing_quote(s, v0, q).is_none_or(|j| d < j)
        } else if v0 < n && (s[v0] == '"' || s[v0] == '\'') {
            d > v0 && closing_quote(s, v0 + 1, s[v0]).is_none_or(|j| d < j)
        } else if spaced {
            true
        } else {
            d == v0
        };
        if covers {
            return Some(name);
        }
    }
    None
}
