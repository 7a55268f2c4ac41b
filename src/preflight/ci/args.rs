//! `-backend-config` arguments on a logical command line: the flag, its value
//! (any quoting, `=` or space form, the next YAML list item), echo text skipped.
//! Knows no file type; reads no file.

use super::env::env_assignment_covering;
use super::lexer::{
    Line, collapse_ws, find, first_non_ws, quote_at, read_word, text, unquote, walk_quotes,
};
use super::scan::{Logical, Scan};
use super::suggestion::{Site, suggestion};
use super::yaml::Ctx;
use super::{CiReference, Form};

/// One `-backend-config` argument of any key (or file), with the command line it
/// sits on: what the init-time override model (`super::overrides`) is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgSite {
    /// 1-based line and char column of the argument's leading `-` (of the item,
    /// for an action input).
    pub line: usize,
    pub column: usize,
    /// 1-based first physical line of the command line (before `\` continuations).
    pub first_line: usize,
    /// The value with quotes removed and trimmed: `key=value` or a file path.
    pub value: String,
    /// The `TF_CLI_ARGS*` variable whose value holds the argument.
    pub env: Option<String>,
    /// The logical command line (joined over `\` continuations, comments cut)
    /// and the char index of the argument in it; empty for an action input.
    pub command: String,
    pub at: usize,
    /// Given as a GitHub action's `backend_config` / `backend_config_file` input.
    pub action_input: bool,
}

struct Value {
    /// `=` between flag and value (else a space form).
    eq: bool,
    /// The value as written.
    raw: String,
    /// The value with quotes removed.
    content: String,
    /// Where to continue searching in the logical line.
    end: usize,
}

const FLAG: &str = "backend-config";

/// Every `-backend-config` argument on the logical line `lg`.
pub(super) fn scan_args(lg: &Logical, lines: &[Line], ctx: &[Ctx], out: &mut Scan) {
    let s = &lg.chars;
    let mut k = 0;
    while let Some(hit) = find(s, k, FLAG) {
        k = hit + 1;
        if hit == 0 || s[hit - 1] != '-' {
            continue;
        }
        let mut d = hit - 1;
        if d > 0 && s[d - 1] == '-' {
            d -= 1;
        }
        if d > 0 && !is_arg_boundary(s[d - 1]) {
            continue;
        }
        let flag_end = hit + FLAG.len();
        let outer = quote_at(s, d);
        let Some(value) = parse_value(s, flag_end, outer, lines, lg.last) else {
            continue;
        };
        k = k.max(value.end);
        if plain_echo(s, d) {
            continue;
        }
        let (line0, col0) = lg.pos[d];
        let content = value.content.trim();
        let env = match &ctx[line0] {
            Ctx::Env(name) => Some(name.clone()),
            _ => env_assignment_covering(s, d),
        };
        out.args.push(ArgSite {
            line: line0 + 1,
            column: col0 + 1,
            first_line: lg.pos.first().map_or(line0, |p| p.0) + 1,
            value: content.to_string(),
            env: env.clone(),
            command: text(s),
            at: d,
            action_input: false,
        });
        let Some(eq) = content.find('=') else {
            out.files.push((line0 + 1, content.to_string()));
            continue;
        };
        if content[..eq].trim() != "dynamodb_table" {
            continue;
        }
        let table = unquote(&content[eq + 1..]);
        let table = (!table.is_empty()).then(|| table.to_string());
        let snippet = format!(
            "{}{}{}",
            text(&s[d..flag_end]),
            if value.eq { "=" } else { " " },
            collapse_ws(&value.raw)
        );
        let (form, site) = match &env {
            Some(var) => (Form::EnvVar, Site::EnvVar(var)),
            None => (Form::BackendConfigArg, Site::Arg),
        };
        let suggestion = suggestion(site, &snippet, table.is_some());
        out.refs.push(CiReference {
            line: line0 + 1,
            column: col0 + 1,
            form,
            table,
            snippet,
            suggestion,
        });
    }
}

fn is_arg_boundary(c: char) -> bool {
    c.is_whitespace() || matches!(c, '"' | '\'' | '[' | '(' | '{' | ',' | '=' | '`')
}

fn parse_value(
    s: &[char],
    flag_end: usize,
    outer: Option<char>,
    lines: &[Line],
    last: usize,
) -> Option<Value> {
    let n = s.len();
    if flag_end < n && s[flag_end] == '=' {
        let (end, content) = read_word(s, flag_end + 1, outer);
        return (!content.trim().is_empty()).then(|| Value {
            eq: true,
            raw: text(&s[flag_end + 1..end]),
            content,
            end,
        });
    }
    let separated = flag_end == n
        || s[flag_end].is_whitespace()
        || Some(s[flag_end]) == outer
        || s[flag_end] == ',';
    if !separated {
        return None;
    }
    let mut p = flag_end;
    let mut inner = outer;
    if p < n && Some(s[p]) == outer {
        p += 1;
        inner = None;
    }
    let skip_ws = |mut p: usize| {
        while p < n && s[p].is_whitespace() {
            p += 1;
        }
        p
    };
    p = skip_ws(p);
    if p < n && s[p] == ',' {
        p = skip_ws(p + 1);
    }
    if p < n {
        let (end, content) = read_word(s, p, inner);
        let c = content.trim();
        if c.is_empty() || c.starts_with('-') {
            return None;
        }
        return Some(Value {
            eq: false,
            raw: text(&s[p..end]),
            content,
            end,
        });
    }
    // The value as the next YAML list item: `- -backend-config` / `- dynamodb_table=x`.
    let next = lines.get(last + 1)?.code();
    let t = first_non_ws(next);
    if !(next.get(t) == Some(&'-') && next.get(t + 1).is_some_and(|c| c.is_whitespace())) {
        return None;
    }
    let start = first_non_ws(&next[t + 1..]) + t + 1;
    let (end, content) = read_word(next, start, None);
    let c = content.trim();
    if c.is_empty() || c.starts_with('-') {
        return None;
    }
    Some(Value {
        eq: false,
        raw: text(&next[start..end]),
        content,
        end: n,
    })
}

/// The argument is text of an `echo`/`printf` that goes nowhere (no
/// redirection, no pipe, not a command substitution).
fn plain_echo(s: &[char], d: usize) -> bool {
    let sep = (0..d)
        .rev()
        .find(|&i| matches!(s[i], ';' | '|' | '&' | '(' | '`'));
    if let Some(j) = sep
        && (s[j] == '`' || (s[j] == '(' && j > 0 && s[j - 1] == '$'))
    {
        return false;
    }
    let seg = text(&s[sep.map_or(0, |j| j + 1)..d]);
    let first = seg
        .split_whitespace()
        .map(|w| {
            w.trim_matches(|c| c == '"' || c == '\'')
                .trim_start_matches(['@', '-'])
        })
        .find(|w| {
            !w.is_empty()
                && !w.ends_with(':')
                && !matches!(*w, "sh" | "bash" | "pwsh" | "powershell" | "bat" | "c")
        });
    if !matches!(
        first,
        Some("echo" | "printf" | "Write-Host" | "Write-Output")
    ) {
        return false;
    }
    walk_quotes(s, |i, q| i >= d && q.is_none() && matches!(s[i], '>' | '|')).is_none()
}
