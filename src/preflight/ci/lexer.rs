//! The shared lexer of CI text: physical lines with comments cut, shell-like
//! quote state, and shell words with `${..}`/`$(..)`/`{{..}}` kept whole.
//! It knows no command, flag or file type (that is the callers' job).

/// One physical line, as chars, with where its code ends (before a comment).
pub(in crate::preflight) struct Line {
    chars: Vec<char>,
    /// Number of chars before a comment.
    code: usize,
}

impl Line {
    pub(in crate::preflight) fn code(&self) -> &[char] {
        &self.chars[..self.code]
    }
    pub(in crate::preflight) fn indent(&self) -> usize {
        self.chars.iter().take_while(|c| c.is_whitespace()).count()
    }
    pub(in crate::preflight) fn is_blank(&self) -> bool {
        self.chars.iter().all(|c| c.is_whitespace())
    }
    pub(super) fn trimmed(&self) -> String {
        self.chars.iter().collect::<String>().trim().to_string()
    }
}

/// The lines of `text` (a UTF-8 BOM dropped, `\r\n` or `\n`), comments marked.
pub(in crate::preflight) fn split_lines(text: &str) -> Vec<Line> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut in_block = false;
    text.split('\n')
        .map(|raw| {
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            let chars: Vec<char> = raw.chars().collect();
            let code = code_end(&chars, &mut in_block);
            Line { chars, code }
        })
        .collect()
}

fn code_end(chars: &[char], in_block: &mut bool) -> usize {
    if *in_block {
        if find(chars, 0, "*/").is_some() {
            *in_block = false;
        }
        return 0;
    }
    let t = first_non_ws(chars);
    if at(chars, t, "/*") {
        if find(chars, t + 2, "*/").is_none() {
            *in_block = true;
        }
        return 0;
    }
    walk_quotes(chars, |i, q| {
        q.is_none()
            && (chars[i] == '#' || at(chars, i, "//"))
            && (i == 0 || chars[i - 1].is_whitespace())
    })
    .unwrap_or(chars.len())
}

/// Walks `s` keeping shell-like quote state and calls `f(i, quote)` for each
/// position (escaped chars are skipped); stops at the first `true`.
pub(in crate::preflight) fn walk_quotes(
    s: &[char],
    mut f: impl FnMut(usize, Option<char>) -> bool,
) -> Option<usize> {
    let mut q: Option<char> = None;
    let mut i = 0;
    while i < s.len() {
        if f(i, q) {
            return Some(i);
        }
        let c = s[i];
        match q {
            Some('"') => {
                if c == '\\' {
                    i += 1;
                } else if c == '"' {
                    q = None;
                }
            }
            Some(open) => {
                if c == open {
                    q = None;
                }
            }
            None => {
                if c == '\\' {
                    i += 1;
                } else if c == '"' {
                    q = Some('"');
                } else if c == '\'' && (i == 0 || !s[i - 1].is_alphanumeric()) {
                    q = Some('\'');
                }
            }
        }
        i += 1;
    }
    None
}

pub(super) fn quote_at(s: &[char], pos: usize) -> Option<char> {
    let mut state = None;
    walk_quotes(s, |i, q| {
        if i == pos {
            state = q;
            true
        } else {
            false
        }
    });
    state
}

pub(super) fn at(s: &[char], i: usize, pat: &str) -> bool {
    (i..).zip(pat.chars()).all(|(k, p)| s.get(k) == Some(&p))
}

pub(super) fn find(s: &[char], from: usize, pat: &str) -> Option<usize> {
    (from..s.len()).find(|&i| at(s, i, pat))
}

pub(super) fn first_non_ws(s: &[char]) -> usize {
    s.iter().position(|c| !c.is_whitespace()).unwrap_or(s.len())
}

pub(super) fn trim_end_len(s: &[char]) -> usize {
    s.iter()
        .rposition(|c| !c.is_whitespace())
        .map_or(0, |i| i + 1)
}

pub(super) fn text(s: &[char]) -> String {
    s.iter().collect()
}

/// `v` trimmed, without one pair of surrounding `"` or `'`.
pub(in crate::preflight) fn unquote(v: &str) -> &str {
    let v = v.trim();
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return &v[1..v.len() - 1];
        }
    }
    v
}

pub(super) fn collapse_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Reads one shell-like word from `start`: quoted segments are unquoted,
/// `${{ }}`, `${ }`, `$( )`, `{{ }}` are kept whole, and the word ends at whitespace,
/// at the closing `outer` quote, or at a shell/list separator.
pub(in crate::preflight) fn read_word(
    s: &[char],
    start: usize,
    outer: Option<char>,
) -> (usize, String) {
    let mut i = start;
    let mut out = String::new();
    while i < s.len() {
        let c = s[i];
        if c.is_whitespace() || Some(c) == outer {
            break;
        }
        if c == '\\' {
            if outer == Some('"') && s.get(i + 1) == Some(&'"') {
                // \"...\" inside an outer double-quoted string.
                match find(s, i + 2, "\\\"") {
                    Some(j) => {
                        out.extend(&s[i + 2..j]);
                        i = j + 2;
                        continue;
                    }
                    None => break,
                }
            }
            if outer.is_none()
                && s.get(i + 1)
                    .is_some_and(|d| d.is_whitespace() || *d == '"' || *d == '\'')
            {
                out.push(s[i + 1]);
                i += 2;
                continue;
            }
            out.push(c);
            i += 1;
            continue;
        }
        if c == '"' || c == '\'' {
            match closing_quote(s, i + 1, c) {
                Some(j) => {
                    out.extend(&s[i + 1..j]);
                    i = j + 1;
                    continue;
                }
                None => break,
            }
        }
        if c == '$'
            && let Some(j) = dollar_end(s, i)
        {
            out.extend(&s[i..j]);
            i = j;
            continue;
        }
        // `{{ .. }}` templates (just, Task, Jinja) are kept whole.
        if at(s, i, "{{")
            && let Some(j) = find(s, i + 2, "}}")
        {
            out.extend(&s[i..j + 2]);
            i = j + 2;
            continue;
        }
        if matches!(c, ';' | '|' | '&' | ')' | ',' | ']' | '}' | '`' | '<' | '>') {
            break;
        }
        out.push(c);
        i += 1;
    }
    (i, out)
}

pub(super) fn closing_quote(s: &[char], from: usize, q: char) -> Option<usize> {
    let mut i = from;
    while i < s.len() {
        if q == '"' && s[i] == '\\' {
            i += 2;
            continue;
        }
        if s[i] == q {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// End (exclusive) of `${{ .. }}`, `${ .. }` or `$( .. )` starting at `i`.
pub(super) fn dollar_end(s: &[char], i: usize) -> Option<usize> {
    if at(s, i, "${{") {
        return find(s, i + 3, "}}").map(|j| j + 2);
    }
    let (open, close) = match s.get(i + 1) {
        Some('{') => ('{', '}'),
        Some('(') => ('(', ')'),
        _ => return None,
    };
    let mut depth = 0usize;
    for (j, &c) in s.iter().enumerate().skip(i + 1) {
        if c == open {
            depth += 1;
        } else if c == close {
            depth -= 1;
            if depth == 0 {
                return Some(j + 1);
            }
        }
    }
    None
}
