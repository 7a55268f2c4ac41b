//! Byte-range splices on an original text: the only way tflock changes a file.

pub use crate::model::plan::Edit;

/// Why a set of edits cannot be applied to a text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpliceError {
    #[error("edit {start}..{end} lies outside the file ({len} bytes)")]
    OutOfBounds {
        start: usize,
        end: usize,
        len: usize,
    },
    #[error("edit {start}..{end} does not fall on character boundaries")]
    NotCharBoundary { start: usize, end: usize },
    #[error("edits at {0} and {1} overlap")]
    Overlap(usize, usize),
}

/// Applies non-overlapping edits to `text`; everything outside them is copied as is.
pub fn splice(text: &str, edits: &[Edit]) -> Result<String, SpliceError> {
    let mut sorted: Vec<&Edit> = edits.iter().collect();
    sorted.sort_by_key(|e| (e.start, e.end));
    let mut out = String::with_capacity(text.len() + 64);
    let mut cursor = 0;
    for edit in sorted {
        if edit.start > edit.end || edit.end > text.len() {
            return Err(SpliceError::OutOfBounds {
                start: edit.start,
                end: edit.end,
                len: text.len(),
            });
        }
        if !text.is_char_boundary(edit.start) || !text.is_char_boundary(edit.end) {
            return Err(SpliceError::NotCharBoundary {
                start: edit.start,
                end: edit.end,
            });
        }
        if edit.start < cursor {
            return Err(SpliceError::Overlap(cursor, edit.start));
        }
        out.push_str(&text[cursor..edit.start]);
        out.push_str(&edit.text);
        cursor = edit.end;
    }
    out.push_str(&text[cursor..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splices_in_order_and_keeps_the_rest() {
        let text = "abcdef";
        let edits = [
            Edit::replace(4..5, "E"),
            Edit::delete(0..1),
            Edit::insert(2, "+"),
        ];
        assert_eq!(splice(text, &edits).unwrap(), "b+cdEf");
    }

    #[test]
    fn refuses_overlaps_and_bad_ranges() {
        assert!(matches!(
            splice("abc", &[Edit::delete(0..2), Edit::delete(1..3)]),
            Err(SpliceError::Overlap(..))
        ));
        assert!(splice("abc", &[Edit::delete(2..9)]).is_err());
        assert!(splice("é", &[Edit::delete(1..2)]).is_err());
    }
}
