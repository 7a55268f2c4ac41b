//! The text of one input file, with the facts every stage needs about its bytes.

pub use crate::model::hash::sha256_hex;

/// A byte string searched for in every file: its searcher is built once per
/// run, where `memchr::memmem::find` builds one per call.
pub struct Needle {
    bytes: &'static [u8],
    finder: std::sync::OnceLock<memchr::memmem::Finder<'static>>,
}

impl Needle {
    pub const fn new(bytes: &'static [u8]) -> Needle {
        Needle {
            bytes,
            finder: std::sync::OnceLock::new(),
        }
    }

    /// Whether `haystack` contains the needle.
    pub fn is_in(&self, haystack: &[u8]) -> bool {
        let finder = self
            .finder
            .get_or_init(|| memchr::memmem::Finder::new(self.bytes));
        finder.find(haystack).is_some()
    }
}

/// A file's original text and a line index over it.
#[derive(Debug, Clone)]
pub struct Source {
    /// The whole original text, a UTF-8 BOM included if there was one.
    pub text: String,
    /// Length of the BOM (0 or 3); parsers see `text[bom..]`.
    pub bom: usize,
    line_starts: Vec<usize>,
}

const BOM: &str = "\u{feff}";

impl Source {
    pub fn new(text: String) -> Source {
        let bom = if text.starts_with(BOM) { BOM.len() } else { 0 };
        let mut line_starts = vec![0];
        line_starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1));
        Source {
            text,
            bom,
            line_starts,
        }
    }

    /// A text whose bytes that matter are at the same offsets as in
    /// `original` (the skim's masked text): it takes the original's line
    /// index, so lines and columns are the file's.
    pub fn at_offsets_of(original: &Source, text: String) -> Source {
        Source {
            text,
            bom: original.bom,
            line_starts: original.line_starts.clone(),
        }
    }

    /// The text a parser sees: without the BOM (hcl-edit rejects one).
    pub fn body(&self) -> &str {
        &self.text[self.bom..]
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        // Parsers may point inside a multi-byte character: take the one it is in.
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_starts.partition_point(|&s| s <= offset);
        let start = self.line_starts[line - 1].max(if line == 1 { self.bom } else { 0 });
        let column = self.text[start..offset.max(start)].chars().count() + 1;
        (line, column)
    }

    pub fn line_of(&self, offset: usize) -> usize {
        self.line_col(offset).0
    }

    /// Byte offset where the line holding `offset` starts.
    pub fn line_start(&self, offset: usize) -> usize {
        let line = self.line_starts.partition_point(|&s| s <= offset);
        self.line_starts[line - 1]
    }

    /// Byte offset of the end of the line's content (before `\r\n`, `\n`, or EOF).
    pub fn line_content_end(&self, offset: usize) -> usize {
        let end = self.text[offset..]
            .find('\n')
            .map_or(self.text.len(), |i| offset + i);
        if end > offset && self.text.as_bytes()[end - 1] == b'\r' {
            end - 1
        } else {
            end
        }
    }

    /// Byte offset just past the line's terminator (or EOF).
    pub fn line_end(&self, offset: usize) -> usize {
        self.text[offset..]
            .find('\n')
            .map_or(self.text.len(), |i| offset + i + 1)
    }

    /// The line terminator this file uses most: `\r\n` when its first line ends so.
    pub fn newline(&self) -> &'static str {
        newline_style(&self.text)
    }
}

/// `\r\n` when the text's first line ends so, else `\n`.
pub fn newline_style(text: &str) -> &'static str {
    match text.find('\n') {
        Some(i) if i > 0 && text.as_bytes()[i - 1] == b'\r' => "\r\n",
        _ => "\n",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one_and_skips_bom() {
        let s = Source::new("\u{feff}ab\ncd\r\nef".to_string());
        assert_eq!(s.line_col(3), (1, 1));
        assert_eq!(s.line_col(4), (1, 2));
        assert_eq!(s.line_col(6), (2, 1));
        assert_eq!(s.line_content_end(6), 8);
        assert_eq!(s.line_end(6), 10);
        assert_eq!(s.newline(), "\n");
        assert_eq!(Source::new("a\r\nb".into()).newline(), "\r\n");
    }
}
