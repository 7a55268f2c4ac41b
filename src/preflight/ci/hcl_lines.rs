//! HCL-ish attribute lines for text the HCL parser cannot read (heredoc
//! bodies before the shell expands them, `-backend-config` files that are not
//! HCL): a `dynamodb_table =` line and brace nesting. Not an HCL parser.

use super::lexer::{at, first_non_ws, text, trim_end_len, unquote, walk_quotes};

/// A `dynamodb_table = ...` attribute found on one line.
pub(super) struct Attr {
    /// 0-based char column of the key.
    pub(super) col: usize,
    pub(super) snippet: String,
    pub(super) table: Option<String>,
}

/// `dynamodb_table = "x"` at the start of `code` (after indentation).
pub(super) fn dynamodb_attr(code: &[char]) -> Option<Attr> {
    let t = first_non_ws(code);
    if !at(code, t, "dynamodb_table") {
        return None;
    }
    let mut p = t + "dynamodb_table".len();
    while p < code.len() && code[p].is_whitespace() {
        p += 1;
    }
    if code.get(p) != Some(&'=') || code.get(p + 1) == Some(&'=') {
        return None;
    }
    let end = trim_end_len(code);
    let table = table_of(unquote(&text(&code[p + 1..end])));
    Some(Attr {
        col: t,
        snippet: text(&code[t..end]),
        table,
    })
}

/// The table a `dynamodb_table` value (quotes removed) names: none when it is
/// empty or `null`.
pub(super) fn table_of(value: &str) -> Option<String> {
    (!value.is_empty() && value != "null").then(|| value.to_string())
}

/// Brace nesting of HCL text; each entry says whether the block is `backend "s3"`.
#[derive(Default)]
pub(super) struct Blocks(Vec<bool>);

impl Blocks {
    pub(super) fn top_level(&self) -> bool {
        self.0.is_empty()
    }
    pub(super) fn in_s3_backend(&self) -> bool {
        self.0.last() == Some(&true)
    }
    pub(super) fn feed(&mut self, code: &[char]) {
        let t = first_non_ws(code);
        let backend = at(code, t, "backend") && {
            let rest = text(&code[t + "backend".len()..]);
            rest.starts_with(char::is_whitespace) && rest.trim_start().starts_with("\"s3\"")
        };
        let mut first = true;
        walk_quotes(code, |i, q| {
            if q.is_none() {
                match code[i] {
                    '{' => {
                        self.0.push(backend && first);
                        first = false;
                    }
                    '}' => {
                        self.0.pop();
                    }
                    _ => {}
                }
            }
            false
        });
    }
}
