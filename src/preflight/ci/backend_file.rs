//! Files passed with `-backend-config=FILE`: their top-level `dynamodb_table`
//! attributes, read with the HCL parser (`crate::parse`); the line scanner of
//! [`super::hcl_lines`] only for a file that does not parse as HCL. Reads no file.

use super::hcl_lines::{Blocks, dynamodb_attr, table_of};
use super::lexer::{split_lines, unquote};
use super::suggestion::{Site, suggestion};
use super::{CiReference, Form};
use crate::parse;
use crate::source::Source;

/// Top-level `dynamodb_table = "x"` / `dynamodb_table=x` attributes in a file
/// passed with `-backend-config=FILE` (`*.tfbackend`, `backend.hcl`, ...).
pub fn find_in_backend_config_file(text: &str) -> Vec<CiReference> {
    let source = Source::new(text.to_string());
    match parse::top_level(&source) {
        Ok(body) => body
            .settings
            .iter()
            .filter(|s| s.key == "dynamodb_table")
            .map(|s| {
                let (line, column) = source.line_col(s.key_span.start);
                let snippet = source.text[s.span()].to_string();
                let value = unquote(&source.text[s.value_span.clone()]);
                reference(line, column, snippet, value)
            })
            .collect(),
        // Terraform would refuse it too, but a CI job may fill it in (`envsubst`)
        // before `init` reads it: look at its lines rather than say nothing.
        Err(_) => scan_lines(text),
    }
}

fn scan_lines(text: &str) -> Vec<CiReference> {
    let mut blocks = Blocks::default();
    let mut refs = Vec::new();
    for (i, line) in split_lines(text).iter().enumerate() {
        let code = line.code();
        if blocks.top_level()
            && let Some(attr) = dynamodb_attr(code)
        {
            refs.push(CiReference {
                line: i + 1,
                column: attr.col + 1,
                form: Form::BackendConfigFileLine,
                suggestion: suggestion(Site::ConfigFile, &attr.snippet, attr.table.is_some()),
                table: attr.table,
                snippet: attr.snippet,
            });
        }
        blocks.feed(code);
    }
    refs
}

/// `value` is the value as written, quotes removed.
fn reference(line: usize, column: usize, snippet: String, value: &str) -> CiReference {
    let table = table_of(value);
    CiReference {
        line,
        column,
        form: Form::BackendConfigFileLine,
        suggestion: suggestion(Site::ConfigFile, &snippet, table.is_some()),
        table,
        snippet,
    }
}
