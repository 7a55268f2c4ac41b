//! How `terraform fmt` (hclwrite) lays out one line: a code part and an optional
//! trailing `#` / `//` comment, which it aligns across consecutive lines.

/// The code and trailing comment of one line, as byte offsets within the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineCells {
    /// End of the last code character (0 for a blank or comment-only line).
    pub code_end: usize,
    /// Start of a trailing `#` or `//` comment that follows code on the line.
    pub comment_start: Option<usize>,
}

/// Splits a line (without its terminator) into code and trailing comment.
///
/// Strings and `${...}` interpolations are skipped so that a `#` inside them is
/// not taken for a comment. A `/* */` comment counts as code: hclwrite only aligns
/// comments that end the line.
pub fn line_cells(line: &str) -> LineCells {
    #[derive(Clone, Copy)]
    enum Ctx {
        Code,
        Str,
        Interp(usize),
    }
    let bytes = line.as_bytes();
    let mut stack = vec![Ctx::Code];
    let mut code_end = 0;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let top = *stack.last().unwrap_or(&Ctx::Code);
        match top {
            Ctx::Str => {
                match c {
                    b'\\' => i += 1,
                    b'"' => {
                        stack.pop();
                    }
                    b'$' | b'%' if bytes.get(i + 1) == Some(&b'{') => {
                        stack.push(Ctx::Interp(0));
                        i += 1;
                    }
                    _ => {}
                }
                i += 1;
                code_end = i.min(bytes.len());
                continue;
            }
            Ctx::Code | Ctx::Interp(_) => {
                let starts_comment = c == b'#' || (c == b'/' && bytes.get(i + 1) == Some(&b'/'));
                if starts_comment && matches!(top, Ctx::Code) {
                    let comment_start = (code_end > 0).then_some(i);
                    return LineCells {
                        code_end,
                        comment_start,
                    };
                }
                match c {
                    b'"' => stack.push(Ctx::Str),
                    b'{' => {
                        if let Some(Ctx::Interp(depth)) = stack.last_mut() {
                            *depth += 1;
                        }
                    }
                    b'}' => match stack.last_mut() {
                        Some(Ctx::Interp(0)) => {
                            stack.pop();
                        }
                        Some(Ctx::Interp(depth)) => *depth -= 1,
                        _ => {}
                    },
                    _ => {}
                }
                if !c.is_ascii_whitespace() {
                    code_end = i + 1;
                }
                i += 1;
            }
        }
    }
    LineCells {
        code_end,
        comment_start: None,
    }
}

/// Display columns of a piece of a line, as hclwrite counts them: one per
/// grapheme cluster (`e` plus a combining accent is one column).
pub fn width(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        unicode_segmentation::UnicodeSegmentation::graphemes(s, true).count()
    }
}

/// Whether a group of (code width, position) pairs is aligned the way
/// `terraform fmt` aligns it: every position one past the widest code.
pub fn is_aligned(group: &[(usize, usize)]) -> bool {
    let max = group.iter().map(|&(w, _)| w).max().unwrap_or(0);
    group.iter().all(|&(_, pos)| pos == max + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_trailing_comments_outside_strings() {
        let l = r#"  key = "a # b" # note"#;
        let cells = line_cells(l);
        assert_eq!(&l[..cells.code_end], r#"  key = "a # b""#);
        assert_eq!(&l[cells.comment_start.unwrap()..], "# note");

        let l = r##"  key = "${x["#"]}" // c"##;
        assert_eq!(&l[line_cells(l).comment_start.unwrap()..], "// c");

        assert_eq!(line_cells("  # only a comment").comment_start, None);
        assert_eq!(line_cells("  x = 1 /* c */").comment_start, None);
        assert_eq!(line_cells("").code_end, 0);
    }

    #[test]
    fn alignment_is_one_past_the_widest() {
        assert!(is_aligned(&[(8, 9), (5, 9)]));
        assert!(!is_aligned(&[(8, 10), (5, 10)]));
    }
}
