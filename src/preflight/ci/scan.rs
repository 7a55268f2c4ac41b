//! The line loop of the CI scan: joins `\` continuations into logical lines,
//! follows heredocs and hands each line to the argument scanner; recognises
//! nothing itself.

use super::CiReference;
use super::action::scan_action_inputs;
use super::args::{ArgSite, scan_args};
use super::heredoc::Heredoc;
use super::lexer::{split_lines, trim_end_len};
use super::yaml::yaml_contexts;

/// What one scan found.
#[derive(Default)]
pub(super) struct Scan {
    pub(super) refs: Vec<CiReference>,
    pub(super) files: Vec<(usize, String)>,
    pub(super) args: Vec<ArgSite>,
}

/// A command line joined over `\` continuations, each char mapped to
/// (0-based line, 0-based column).
#[derive(Default)]
pub(super) struct Logical {
    pub(super) chars: Vec<char>,
    pub(super) pos: Vec<(usize, usize)>,
    /// 0-based index of its last physical line.
    pub(super) last: usize,
}

impl Logical {
    fn push(&mut self, line: &[char], line0: usize, end: usize) {
        for (col, &c) in line[..end].iter().enumerate() {
            self.chars.push(c);
            self.pos.push((line0, col));
        }
    }
}

/// One pass over the file: action inputs, then each logical line for
/// arguments, feeding open heredocs line by line.
pub(super) fn scan(text: &str) -> Scan {
    let lines = split_lines(text);
    let ctx = yaml_contexts(&lines);
    let mut out = Scan::default();
    scan_action_inputs(&lines, &ctx, &mut out);
    let mut heredoc: Option<Heredoc> = None;
    let mut i = 0;
    while i < lines.len() {
        if let Some(h) = heredoc.as_mut() {
            if h.ends_at(&lines[i]) {
                heredoc = None;
                i += 1;
                continue;
            }
            h.check(&lines[i], i, &mut out.refs);
        }
        let mut lg = Logical::default();
        loop {
            let code = lines[i].code();
            let end = trim_end_len(code);
            let cont = end > 0
                && code[end - 1] == '\\'
                && i + 1 < lines.len()
                && !heredoc.as_ref().is_some_and(|h| h.ends_at(&lines[i + 1]));
            if !cont {
                lg.push(code, i, code.len());
                break;
            }
            lg.push(code, i, end - 1);
            lg.chars.push(' ');
            lg.pos.push((i, end - 1));
            i += 1;
            if let Some(h) = heredoc.as_mut() {
                h.check(&lines[i], i, &mut out.refs);
            }
        }
        lg.last = i;
        scan_args(&lg, &lines, &ctx, &mut out);
        if heredoc.is_none() {
            heredoc = Heredoc::start(&lg.chars);
        }
        i += 1;
    }
    out.refs.sort_by_key(|r| (r.line, r.column));
    out.files.sort_by_key(|f| f.0);
    out.args.sort_by_key(|a| (a.line, a.column));
    out
}
