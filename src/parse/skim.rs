//! The skim: a lexer-level pass over a `.tf` file that finds its top-level
//! items without parsing them, and blanks every item that mentions neither
//! `backend` nor `required_version`. It may not decide anything: the masked
//! text still goes through the HCL parser, and where the lexer meets anything
//! it does not follow exactly, there is no skim and the file is parsed whole.
//!
//! Why: most files that pass the `backend` prefilter only read another
//! state (`data "terraform_remote_state"`), and hold nothing to plan; parsing
//! every resource around the reader was most of the parse time of a large
//! repository. Items that mention neither word cannot hold a backend, a reader
//! of an S3 state or a version constraint, so blanking them leaves the parse
//! of what matters unchanged. A blanked run becomes a block comment of the
//! same length (the parser skips it with one search for `*/`), and the text
//! ends with the last kept item, so every kept byte keeps its offset.

use crate::source::Needle;
use std::ops::Range;

/// A file's text with the items that cannot matter blanked.
#[derive(Debug)]
pub struct Masked {
    /// What the parser reads: the kept items at their offsets, block
    /// comments between them, nothing after the last.
    pub text: String,
    /// Whether any item was blanked: if not, the masked text is the file,
    /// and its parse is the whole file's.
    pub blanks_anything: bool,
}

static BACKEND: Needle = Needle::new(b"backend");
static REQUIRED_VERSION: Needle = Needle::new(b"required_version");

/// Blanks the top-level items of `text` (a `.tf` file without its BOM) that
/// mention neither `backend` nor `required_version`. None when the text is
/// not lexed with certainty: unclosed strings, heredocs, comments or
/// brackets, mismatched brackets, a raw newline in a quoted string, `$$$`
/// runs, non-ASCII heredoc markers. Those files are parsed whole.
pub fn mask(text: &str) -> Option<Masked> {
    let (kept, blanks_anything) = kept_items(text.as_bytes())?;
    let mut out = String::with_capacity(kept.last().map_or(0, |r| r.end));
    for range in &kept {
        let gap = range.start - out.len();
        blank(&mut out, gap);
        out.push_str(&text[range.clone()]);
    }
    Some(Masked {
        text: out,
        blanks_anything,
    })
}

/// The byte ranges of the items `mask` keeps, in order (blank and comment
/// lines too: they cost the parser next to nothing), and whether it blanks
/// any other.
fn kept_items(bytes: &[u8]) -> Option<(Vec<Range<usize>>, bool)> {
    let mut kept: Vec<Range<usize>> = Vec::new();
    let mut blanks_anything = false;
    let mut consider = |segment: Range<usize>| {
        let item = &bytes[segment.clone()];
        if item.is_empty() {
            return;
        }
        if !(BACKEND.is_in(item) || REQUIRED_VERSION.is_in(item) || is_trivia(item)) {
            blanks_anything = true;
            return;
        }
        match kept.last_mut() {
            Some(last) if last.end == segment.start => last.end = segment.end,
            _ => kept.push(segment),
        }
    };
    let mut start = 0;
    for end in top_level_line_ends(bytes)? {
        consider(start..end);
        start = end;
    }
    consider(start..bytes.len());
    Some((kept, blanks_anything))
}

/// `len` bytes the parser skips: a block comment, or spaces when too short
/// for one. The run starts at a line start and ends before one, and holds
/// nothing of the file, so no `*/` can end the comment early.
fn blank(out: &mut String, len: usize) {
    if len >= 4 {
        out.push_str("/*");
        out.extend(std::iter::repeat_n(' ', len - 4));
        out.push_str("*/");
    } else {
        out.extend(std::iter::repeat_n(' ', len));
    }
}

/// Whether a top-level line holds only spaces and a line comment.
fn is_trivia(segment: &[u8]) -> bool {
    let rest = segment.trim_ascii_start();
    rest.is_empty() || rest.starts_with(b"#") || rest.starts_with(b"//")
}

/// What the lexer is inside of, innermost last.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Frame<'t> {
    /// `{`, `[` or `(` in an expression (or a block body).
    Bracket(u8),
    /// `${ ... }` or `%{ ... }` inside a template: an expression up to `}`.
    Interpolation,
    /// A `"..."` template.
    Quoted,
    /// A `<<ID` / `<<-ID` template, up to a line that is `ID` after spaces.
    Heredoc(&'t [u8]),
}

/// The offsets just past every newline at top level (outside brackets,
/// strings, heredocs and comments): where one top-level item ends and the
/// next may start. None where the lexing is not certain.
fn top_level_line_ends(bytes: &[u8]) -> Option<Vec<usize>> {
    let mut ends = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut at_line_start = false;
    let mut i = 0;
    while i < bytes.len() {
        // Most bytes mean nothing to the lexer: skip to the next one that may.
        match stack.last().copied() {
            None | Some(Frame::Bracket(_) | Frame::Interpolation) => {
                i = next_of(bytes, i, &EXPRESSION_BYTES);
                if i < bytes.len() {
                    i = expression_byte(bytes, i, &mut stack, &mut ends, &mut at_line_start)?;
                }
            }
            Some(Frame::Quoted) => {
                i = next_of(bytes, i, &QUOTED_BYTES);
                if i < bytes.len() {
                    i = quoted_byte(bytes, i, &mut stack)?;
                }
            }
            Some(Frame::Heredoc(id)) => {
                if at_line_start {
                    at_line_start = false;
                    if let Some(after) = heredoc_end(bytes, i, id)? {
                        stack.pop();
                        i = after;
                        continue;
                    }
                }
                i = memchr::memchr3(b'\n', b'$', b'%', &bytes[i..]).map_or(bytes.len(), |n| i + n);
                if i < bytes.len() {
                    i = heredoc_byte(bytes, i, &mut stack, &mut at_line_start)?;
                }
            }
        }
    }
    stack.is_empty().then_some(ends)
}

/// The bytes that may change the lexer's state in an expression, and in a
/// quoted template.
static EXPRESSION_BYTES: [bool; 256] = byte_set(b"\"#/<{}[]()\n");
static QUOTED_BYTES: [bool; 256] = byte_set(b"\"\n\\$%");

const fn byte_set(members: &[u8]) -> [bool; 256] {
    let mut set = [false; 256];
    let mut i = 0;
    while i < members.len() {
        set[members[i] as usize] = true;
        i += 1;
    }
    set
}

/// The offset of the first byte at or after `i` that is in `set`, or the end.
fn next_of(bytes: &[u8], i: usize, set: &[bool; 256]) -> usize {
    bytes[i..]
        .iter()
        .position(|&b| set[b as usize])
        .map_or(bytes.len(), |n| i + n)
}

/// One step of the lexer in an expression (or at top level) at `i`; the
/// offset of the next step.
fn expression_byte<'t>(
    bytes: &'t [u8],
    i: usize,
    stack: &mut Vec<Frame<'t>>,
    ends: &mut Vec<usize>,
    at_line_start: &mut bool,
) -> Option<usize> {
    let next = bytes.get(i + 1).copied();
    Some(match bytes[i] {
        b'"' => {
            stack.push(Frame::Quoted);
            i + 1
        }
        // A line comment runs up to its newline, which still ends the line.
        b'#' => memchr::memchr(b'\n', &bytes[i..]).map_or(bytes.len(), |n| i + n),
        b'/' if next == Some(b'/') => {
            memchr::memchr(b'\n', &bytes[i..]).map_or(bytes.len(), |n| i + n)
        }
        b'/' if next == Some(b'*') => i + 2 + memchr::memmem::find(&bytes[i + 2..], b"*/")? + 2,
        b'<' if next == Some(b'<') => {
            let (id, after) = heredoc_start(bytes, i)?;
            stack.push(Frame::Heredoc(id));
            *at_line_start = true;
            after
        }
        open @ (b'{' | b'[' | b'(') => {
            stack.push(Frame::Bracket(open));
            i + 1
        }
        b'}' => {
            match stack.pop()? {
                Frame::Bracket(b'{') | Frame::Interpolation => {}
                _ => return None,
            }
            i + 1
        }
        close @ (b']' | b')') => {
            let open = if close == b']' { b'[' } else { b'(' };
            (stack.pop()? == Frame::Bracket(open)).then_some(i + 1)?
        }
        b'\n' => {
            if stack.is_empty() {
                ends.push(i + 1);
            }
            i + 1
        }
        _ => i + 1,
    })
}

/// One step inside a quoted template at `i`.
fn quoted_byte(bytes: &[u8], i: usize, stack: &mut Vec<Frame>) -> Option<usize> {
    Some(match bytes[i] {
        b'"' => {
            stack.pop();
            i + 1
        }
        // HashiCorp's parser refuses a newline in a quoted string; hcl-edit
        // takes it. Not certain, so not skimmed.
        b'\n' => return None,
        b'\\' => match bytes.get(i + 1)? {
            b'\n' => return None,
            _ => i + 2,
        },
        b'$' | b'%' => template_marker(bytes, i, stack)?,
        _ => i + 1,
    })
}

/// One step inside a heredoc at `i`.
fn heredoc_byte(
    bytes: &[u8],
    i: usize,
    stack: &mut Vec<Frame>,
    at_line_start: &mut bool,
) -> Option<usize> {
    Some(match bytes[i] {
        b'\n' => {
            *at_line_start = true;
            i + 1
        }
        b'$' | b'%' => template_marker(bytes, i, stack)?,
        _ => i + 1,
    })
}

/// At a `$` or `%` in a template: `${` / `%{` opens an interpolation or a
/// directive, `$${` / `%%{` is the escaped marker. Longer runs (`$$${`) are
/// read differently by different parsers: not certain.
fn template_marker(bytes: &[u8], i: usize, stack: &mut Vec<Frame>) -> Option<usize> {
    let sign = bytes[i];
    let run = bytes[i..].iter().take_while(|&&b| b == sign).count();
    if bytes.get(i + run) != Some(&b'{') {
        return Some(i + run);
    }
    match run {
        1 => {
            stack.push(Frame::Interpolation);
            Some(i + 2)
        }
        2 => Some(i + 3),
        _ => None,
    }
}

/// `<<ID` or `<<-ID` and its line ending at `i`: the marker and where the
/// heredoc's first line starts. None for anything else (hcl-edit refuses it).
fn heredoc_start(bytes: &[u8], i: usize) -> Option<(&[u8], usize)> {
    let mut at = i + 2;
    if bytes.get(at) == Some(&b'-') {
        at += 1;
    }
    let id_len = ident_len(&bytes[at..])?;
    let id = &bytes[at..at + id_len];
    at += id_len;
    match bytes.get(at..at + 2) {
        Some([b'\n', ..]) => Some((id, at + 1)),
        Some(b"\r\n") => Some((id, at + 2)),
        _ => None,
    }
}

/// At the start of a heredoc line: past the closing marker when the line is
/// `ID` after spaces and tabs (followed by something that cannot continue an
/// identifier), as hcl-edit and HashiCorp's parser read it.
fn heredoc_end(bytes: &[u8], i: usize, id: &[u8]) -> Option<Option<usize>> {
    let indent = bytes[i..]
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    let at = i + indent;
    if !bytes[at..].starts_with(id) {
        return Some(None);
    }
    match bytes.get(at + id.len()) {
        None => Some(Some(at + id.len())),
        Some(&b) if b >= 0x80 => None,
        Some(&b) if is_ident_continue(b) => Some(None),
        Some(_) => Some(Some(at + id.len())),
    }
}

/// The length of the ASCII identifier at the start of `bytes`; None when
/// there is none or it runs into a non-ASCII character.
fn ident_len(bytes: &[u8]) -> Option<usize> {
    let first = *bytes.first()?;
    if !(first.is_ascii_alphabetic() || first == b'_') {
        return None;
    }
    let len = bytes.iter().take_while(|&&b| is_ident_continue(b)).count();
    match bytes.get(len) {
        Some(&b) if b >= 0x80 => None,
        _ => Some(len),
    }
}

fn is_ident_continue(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kept items, with `~` for each blanked run, so the cases read as
    /// what is kept; and the masked text's kept bytes are checked to be at
    /// their offsets.
    fn shown(text: &str) -> Option<String> {
        let masked = mask(text)?;
        let (kept, _) = kept_items(text.as_bytes())?;
        let mut shown = String::new();
        let mut at = 0;
        for range in &kept {
            assert_eq!(&masked.text[range.clone()], &text[range.clone()]);
            if range.start > at {
                shown.push_str("~\n");
            }
            shown.push_str(&text[range.clone()]);
            at = range.end;
        }
        if at < text.len() {
            shown.push_str("~\n");
        }
        Some(shown)
    }

    #[test]
    fn items_without_the_words_are_blanked_and_the_reader_kept() {
        let text = "locals {\n  name = \"x\"\n}\n\ndata \"terraform_remote_state\" \"net\" {\n  backend = \"s3\"\n  config = { bucket = \"b\" }\n}\n\nresource \"a\" \"b\" {\n  tags = { x = 1 }\n}\n";
        insta::assert_snapshot!(shown(text).unwrap(), @r#"
        ~

        data "terraform_remote_state" "net" {
          backend = "s3"
          config = { bucket = "b" }
        }

        ~
        "#);
        let masked = mask(text).unwrap();
        assert!(masked.blanks_anything);
        assert!(masked.text.starts_with("/*") && masked.text.ends_with("}\n\n"));
        let only_the_reader = &text[text.find("data").unwrap()..text.find("resource").unwrap()];
        assert!(!mask(only_the_reader).unwrap().blanks_anything);
    }

    #[test]
    fn words_inside_strings_heredocs_and_comments_keep_their_whole_item() {
        // The brace in the string, the heredoc's braces and the comment's
        // quote do not end or open anything: each item is kept or blanked whole.
        let text = "a = \"{ backend\"\nb = <<EOF\n}\n  backend {\nEOF\nc = 1 # \"\nd = { e = \"${f(\"}\")}\" }\n";
        insta::assert_snapshot!(shown(text).unwrap(), @r#"
        a = "{ backend"
        b = <<EOF
        }
          backend {
        EOF
        ~
        "#);
    }

    #[test]
    fn a_heredoc_ends_only_at_its_marker_alone_on_a_line() {
        let text = "x = <<-EOT\n  EOTX backend\n  EOT\ny = 2\n";
        insta::assert_snapshot!(shown(text).unwrap(), @r"
        x = <<-EOT
          EOTX backend
          EOT
        ~
        ");
    }

    #[test]
    fn escaped_markers_open_nothing() {
        let text = "a = \"$${ backend\"\nb = \"%%{\"\nc = 3\n";
        insta::assert_snapshot!(shown(text).unwrap(), @r#"
        a = "$${ backend"
        ~
        "#);
    }

    #[test]
    fn what_the_lexer_cannot_be_sure_of_is_not_skimmed() {
        for text in [
            "a = \"open\n",              // newline in a quoted string
            "a = \"x\\",                 // escape at the end
            "a = { b = 1\n",             // unclosed brace
            "a = [1 }\n",                // mismatched bracket
            "a = 1 }\n",                 // closing what was never opened
            "a = <<EOF\nbackend\n",      // heredoc never closed
            "a = <<EOF trailing\nEOF\n", // not a heredoc start
            "a = <<EÖF\nEÖF\n",          // non-ASCII marker
            "a = \"$$${x}\"\n",          // marker run read differently by parsers
            "/* backend\n",              // block comment never closed
            "a = \"${b\"\n",             // interpolation never closed
        ] {
            assert!(mask(text).is_none(), "{text:?} was skimmed");
        }
    }

    #[test]
    fn crlf_line_endings_and_a_last_line_without_newline() {
        let text = "a = 1\r\nb = <<EOF\r\nbackend\r\nEOF\r\nc = 2";
        let masked = mask(text).unwrap();
        assert_eq!(masked.text, "/*   */b = <<EOF\r\nbackend\r\nEOF\r\n");
        assert_eq!(
            mask("a\nb = 1 # backend").unwrap().text,
            "  b = 1 # backend"
        );
    }
}
