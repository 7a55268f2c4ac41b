//! Shell heredocs (`cat > backend.hcl <<EOF`) that write `dynamodb_table`
//! into a backend configuration generated at CI time. Line-based; no nesting.

use super::hcl_lines::{Blocks, dynamodb_attr};
use super::lexer::{Line, at, text, walk_quotes};
use super::suggestion::{Site, suggestion};
use super::{CiReference, Form};

#[derive(Clone, Copy, PartialEq, Debug)]
enum HereKind {
    Tfvars,
    Tf,
    Other,
}

/// An open heredoc: its terminator, what it writes, and its brace nesting.
pub(super) struct Heredoc {
    word: String,
    kind: HereKind,
    blocks: Blocks,
}

impl Heredoc {
    pub(super) fn start(s: &[char]) -> Option<Heredoc> {
        let mut word = None;
        walk_quotes(s, |i, q| {
            if q.is_some() || !at(s, i, "<<") || at(s, i, "<<<") || (i > 0 && s[i - 1] == '<') {
                return false;
            }
            word = heredoc_word(s, i + 2);
            word.is_some()
        });
        let word = word?;
        let mut kind = HereKind::Other;
        for tok in text(s).split_whitespace() {
            let tok = tok.trim_matches(|c| matches!(c, '"' | '\'' | '>' | ';' | ')'));
            if tok.ends_with(".tfvars") || tok.ends_with(".tfvars.json") {
                kind = HereKind::Tfvars;
                break;
            }
            if [".tf", ".tf.json", ".tofu", ".tofu.json"]
                .iter()
                .any(|e| tok.ends_with(e))
            {
                kind = HereKind::Tf;
            }
        }
        Some(Heredoc {
            word,
            kind,
            blocks: Blocks::default(),
        })
    }

    pub(super) fn ends_at(&self, line: &Line) -> bool {
        line.trimmed() == self.word
    }

    pub(super) fn check(&mut self, line: &Line, line0: usize, refs: &mut Vec<CiReference>) {
        let code = line.code();
        if let Some(attr) = dynamodb_attr(code) {
            let report = match self.kind {
                HereKind::Tfvars => false,
                HereKind::Tf => self.blocks.in_s3_backend(),
                HereKind::Other => self.blocks.top_level() || self.blocks.in_s3_backend(),
            };
            if report {
                let suggestion = suggestion(Site::Heredoc, &attr.snippet, attr.table.is_some());
                refs.push(CiReference {
                    line: line0 + 1,
                    column: attr.col + 1,
                    form: Form::HeredocLine,
                    table: attr.table,
                    snippet: attr.snippet,
                    suggestion,
                });
            }
        }
        self.blocks.feed(code);
    }
}

fn heredoc_word(s: &[char], mut p: usize) -> Option<String> {
    if matches!(s.get(p), Some('-' | '~')) {
        p += 1;
    }
    while matches!(s.get(p), Some(' ' | '\t')) {
        p += 1;
    }
    let word_char = |c: &char| c.is_ascii_alphanumeric() || *c == '_';
    match *s.get(p)? {
        q @ ('\'' | '"') => {
            let j = (p + 1..s.len()).find(|&j| s[j] == q)?;
            let w = text(&s[p + 1..j]);
            (!w.is_empty() && w.chars().all(|c| word_char(&c) || c == '.' || c == '-')).then_some(w)
        }
        '\\' => {
            let w: String = s[p + 1..].iter().take_while(|c| word_char(c)).collect();
            (!w.is_empty()).then_some(w)
        }
        c if c.is_ascii_uppercase() || c == '_' => {
            let w: String = s[p..].iter().take_while(|c| word_char(c)).collect();
            let upper = w
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            (upper && w.chars().any(|c| c.is_ascii_uppercase())).then_some(w)
        }
        _ => None,
    }
}
