//! HCL files (`.tf`, `.tofu`, `.tfbackend`, Terragrunt `.hcl`) via hcl-edit's spans.

use super::{Backend, BackendKind, Body, ParseError, Setting, Syntax, Value};
use crate::source::Source;
use hcl_edit::Span;
use hcl_edit::expr::{Expression, Object, ObjectKey};
use hcl_edit::structure::{self, Block};
use std::ops::Range;

/// `terraform { backend "s3" { ... } }` blocks of a `.tf` / `.tofu` file.
pub fn terraform_backends(source: &Source) -> Result<Vec<Backend>, ParseError> {
    let doc = parse_document(source)?;
    backends_in(source, source.bom, &doc, BackendKind::Terraform)
}

/// The S3 backend blocks of a parsed document that starts at `base` in the file.
pub(super) fn backends_in(
    source: &Source,
    base: usize,
    doc: &structure::Body,
    kind: BackendKind,
) -> Result<Vec<Backend>, ParseError> {
    let mut backends = Vec::new();
    for terraform in doc.blocks().filter(|b| b.has_ident("terraform")) {
        for backend in terraform.body.blocks().filter(|b| is_s3_backend(b)) {
            let span = shift(backend.span(), base)?;
            backends.push(Backend {
                kind,
                line: source.line_of(span.start),
                body: block_body(source, base, &backend.body, span)?,
            });
        }
    }
    Ok(backends)
}

/// The attributes of every `terraform { ... }` block (where `required_version` is).
pub fn terraform_blocks(source: &Source) -> Result<Vec<Body>, ParseError> {
    terraform_blocks_in(source, &parse_document(source)?)
}

/// `terraform_blocks` of a document already parsed.
pub(super) fn terraform_blocks_in(
    source: &Source,
    doc: &structure::Body,
) -> Result<Vec<Body>, ParseError> {
    doc.blocks()
        .filter(|b| b.has_ident("terraform"))
        .map(|b| {
            let span = shift(b.span(), source.bom)?;
            block_body(source, source.bom, &b.body, span)
        })
        .collect()
}

/// A partial configuration file: plain attributes at top level.
pub fn tfbackend(source: &Source) -> Result<Backend, ParseError> {
    tfbackend_in(source, &parse_document(source)?)
}

/// `tfbackend` of a document already parsed.
pub(super) fn tfbackend_in(source: &Source, doc: &structure::Body) -> Result<Backend, ParseError> {
    let span = source.bom..source.text.len();
    Ok(Backend {
        kind: BackendKind::Tfbackend,
        line: 1,
        body: block_body(source, source.bom, doc, span)?,
    })
}

/// Terragrunt `remote_state { backend = "s3" config = { ... } }` (block or attribute form).
pub fn terragrunt_backends(source: &Source) -> Result<Vec<Backend>, ParseError> {
    terragrunt_backends_in(source, &parse_document(source)?)
}

/// `terragrunt_backends` of a document already parsed.
pub(super) fn terragrunt_backends_in(
    source: &Source,
    doc: &structure::Body,
) -> Result<Vec<Backend>, ParseError> {
    let base = source.bom;
    let mut backends = Vec::new();
    for block in doc.blocks().filter(|b| b.has_ident("remote_state")) {
        let backend_type = block.body.get_attribute("backend").map(|a| &a.value);
        let config = block.body.get_attribute("config").map(|a| &a.value);
        if let Some(b) = terragrunt_remote_state(source, base, block.span(), backend_type, config)?
        {
            backends.push(b);
        }
    }
    for attr in doc.attributes().filter(|a| a.has_key("remote_state")) {
        if let Expression::Object(object) = &attr.value {
            let backend_type = object_get(object, "backend");
            let config = object_get(object, "config");
            if let Some(b) =
                terragrunt_remote_state(source, base, attr.span(), backend_type, config)?
            {
                backends.push(b);
            }
        }
    }
    for block in doc.blocks().filter(|b| b.has_ident("generate")) {
        if let Some(attr) = block.body.get_attribute("contents") {
            backends.extend(generated_backends(source, base, &attr.value)?);
        }
    }
    backends.sort_by_key(|b| b.body.span.start);
    Ok(backends)
}

/// The `terraform` blocks inside Terragrunt `generate` heredocs (where a
/// `required_version` can be written).
pub fn generated_terraform_blocks(source: &Source) -> Result<Vec<Body>, ParseError> {
    generated_terraform_blocks_in(source, &parse_document(source)?)
}

/// `generated_terraform_blocks` of a document already parsed.
pub(super) fn generated_terraform_blocks_in(
    source: &Source,
    doc: &structure::Body,
) -> Result<Vec<Body>, ParseError> {
    let mut bodies = Vec::new();
    for block in doc.blocks().filter(|b| b.has_ident("generate")) {
        let Some(attr) = block.body.get_attribute("contents") else {
            continue;
        };
        let Some((inner_start, inner)) = heredoc_inner(source, source.bom, &attr.value)? else {
            continue;
        };
        let Ok(inner_doc) = inner.parse::<structure::Body>() else {
            continue;
        };
        for terraform in inner_doc.blocks().filter(|b| b.has_ident("terraform")) {
            let span = shift(terraform.span(), inner_start)?;
            bodies.push(block_body(source, inner_start, &terraform.body, span)?);
        }
    }
    Ok(bodies)
}

/// The raw text inside a heredoc value and where it starts in the file.
fn heredoc_inner<'s>(
    source: &'s Source,
    base: usize,
    contents: &Expression,
) -> Result<Option<(usize, &'s str)>, ParseError> {
    let Expression::HeredocTemplate(_) = contents else {
        return Ok(None);
    };
    let span = shift(contents.span(), base)?;
    let heredoc = &source.text[span.clone()];
    // `<<EOF\n` ... `\n  EOF`: the inside runs from after the first newline to the
    // start of the closing delimiter's line.
    let (Some(open), Some(close)) = (heredoc.find('\n'), heredoc.rfind('\n')) else {
        return Ok(None);
    };
    if close <= open {
        return Ok(None);
    }
    let inner_start = span.start + open + 1;
    Ok(Some((
        inner_start,
        &source.text[inner_start..span.start + close + 1],
    )))
}

/// A Terragrunt `generate` block whose `contents` heredoc holds a backend: the
/// heredoc's raw text is parsed on its own and its spans shifted into the file,
/// so edits land inside the heredoc (either `<<EOF` or `<<-EOF`).
fn generated_backends(
    source: &Source,
    base: usize,
    contents: &Expression,
) -> Result<Vec<Backend>, ParseError> {
    let Some((inner_start, inner)) = heredoc_inner(source, base, contents)? else {
        return Ok(Vec::new());
    };
    // Generated files of every kind (providers, versions, scripts) may mention
    // the word in a comment or a string; only a line that starts a `backend`
    // block makes unparseable contents an error (fail closed on those).
    if !starts_a_backend_block(inner) {
        return Ok(Vec::new());
    }
    if let Some((at, count)) = too_many_unclosed_braces(inner) {
        return Err(unclosed_braces_error(source, inner_start + at, count));
    }
    let doc = inner.parse::<structure::Body>().map_err(|e| {
        ParseError::at(
            source,
            inner_start + e.location().offset(),
            format!(
                "the generate block's contents do not parse as HCL ({}); check its backend by hand",
                e.message()
            ),
        )
    })?;
    backends_in(source, inner_start, &doc, BackendKind::Terragrunt)
}

/// Whether some line of `text` begins with `backend` followed by a label or a
/// brace: the start of a backend block, as opposed to the word in prose.
fn starts_a_backend_block(text: &str) -> bool {
    text.lines().any(|line| {
        line.trim_start()
            .strip_prefix("backend")
            .is_some_and(|rest| matches!(rest.trim_start().chars().next(), Some('"' | '{')))
    })
}

/// The file a Terragrunt unit includes through `find_in_parent_folders(...)`
/// (Terragrunt's default name when called without an argument).
pub fn terragrunt_include(source: &Source) -> Option<String> {
    let doc = source.body().parse::<structure::Body>().ok()?;
    doc.blocks()
        .filter(|b| b.has_ident("include"))
        .filter_map(|b| b.body.get_attribute("path"))
        .find_map(|attr| match &attr.value {
            Expression::FuncCall(call) if call.name.name.as_str() == "find_in_parent_folders" => {
                match call.args.iter().next() {
                    None => Some("terragrunt.hcl".to_string()),
                    Some(Expression::String(name)) => Some(name.value().to_string()),
                    Some(_) => None,
                }
            }
            _ => None,
        })
}

fn terragrunt_remote_state(
    source: &Source,
    base: usize,
    span: Option<Range<usize>>,
    backend_type: Option<&Expression>,
    config: Option<&Expression>,
) -> Result<Option<Backend>, ParseError> {
    let is_s3 = matches!(backend_type, Some(Expression::String(s)) if s.value() == "s3");
    if !is_s3 {
        return Ok(None);
    }
    let span = shift(span, base)?;
    let line = source.line_of(span.start);
    match config {
        Some(Expression::Object(object)) => Ok(Some(Backend {
            kind: BackendKind::Terragrunt,
            line,
            body: object_body(source, base, object)?,
        })),
        Some(other) => Err(ParseError::at(
            source,
            shift(other.span(), base)?.start,
            "remote_state config is not an object literal; tflock can only edit literal settings",
        )),
        None => Ok(None),
    }
}

/// hcl-edit's parser backtracks exponentially through nested braces that are
/// never closed (a 337-byte fuzz input ran for minutes, each brace doubling the
/// time); past this many, tflock reports the syntax error without it, where
/// HashiCorp's parser does: at the innermost open brace.
const MAX_UNCLOSED_BRACES: usize = 8;

/// The innermost of too many unclosed braces in `text`, with their count.
fn too_many_unclosed_braces(text: &str) -> Option<(usize, usize)> {
    let open = unclosed_braces(text);
    (open.len() > MAX_UNCLOSED_BRACES).then(|| (open[open.len() - 1], open.len()))
}

fn unclosed_braces_error(source: &Source, at: usize, count: usize) -> ParseError {
    ParseError::at(
        source,
        at,
        format!(
            "syntax error: unclosed configuration block or object ({count} braces are never closed)"
        ),
    )
}

/// Where the file holds a quoted string over several lines (a line break in a
/// `"..."` literal, outside `${ }`): hcl-edit parses one, HashiCorp's parser
/// (Terraform's, Terragrunt's) refuses the file. None when there is none or
/// the file does not parse.
pub(super) fn quoted_string_over_lines(source: &Source) -> Option<ParseError> {
    use hcl_edit::visit::{Visit, visit_body};
    struct Find<'t> {
        text: &'t str,
        bom: usize,
        at: Option<usize>,
    }
    impl Find<'_> {
        /// Points at the line break, as HashiCorp's parser does.
        fn check(&mut self, span: Option<Range<usize>>) {
            let Some(span) = span else { return };
            let line_break = self.text.get(span.clone()).and_then(|raw| raw.find('\n'));
            if let (Some(at), None) = (line_break, self.at) {
                self.at = Some(self.bom + span.start + at);
            }
        }
    }
    impl Visit for Find<'_> {
        fn visit_string(&mut self, node: &hcl_edit::Decorated<String>) {
            self.check(node.span());
        }
        // Reached from quoted templates only: heredocs are not descended into.
        fn visit_literal(&mut self, node: &hcl_edit::Spanned<String>) {
            self.check(node.span());
        }
        fn visit_heredoc_template(&mut self, _: &hcl_edit::template::HeredocTemplate) {}
    }
    let body = parse_document(source).ok()?;
    let mut find = Find {
        text: source.body(),
        bom: source.bom,
        at: None,
    };
    visit_body(&mut find, &body);
    let at = find.at?;
    Some(ParseError::at(
        source,
        at,
        "Invalid multi-line string: quoted strings may not be split over multiple lines \
         (Terraform refuses this file); use the \\n escape or a heredoc",
    ))
}

pub(super) fn parse_document(source: &Source) -> Result<structure::Body, ParseError> {
    if let Some((at, count)) = too_many_unclosed_braces(source.body()) {
        return Err(unclosed_braces_error(source, source.bom + at, count));
    }
    source.body().parse::<structure::Body>().map_err(|e| {
        // The offset is exact; hcl-edit's line and column can point past a line's end.
        // It can also fall inside a multi-byte character (fuzz finding): take the
        // character's start, where HashiCorp's parser points too.
        let mut at = source
            .text
            .floor_char_boundary(source.bom + e.location().offset());
        // A block left open runs into the end of the file; HashiCorp's parser
        // (the one users see in `terraform init`) points at its opening brace.
        if e.message().starts_with("invalid block body")
            && source.text[at.min(source.text.len())..].trim().is_empty()
            && let Some(open) = innermost_unclosed_brace(&source.text[source.bom..])
        {
            at = source.bom + open;
        }
        ParseError::at(source, at, format!("syntax error: {}", e.message()))
    })
}

/// The offset of the innermost `{` never closed, skipping strings, comments and
/// heredocs; None when every brace is closed.
fn innermost_unclosed_brace(text: &str) -> Option<usize> {
    unclosed_braces(text).pop()
}

/// The offsets of the `{` never closed, outermost first, skipping strings,
/// comments and heredocs.
fn unclosed_braces(text: &str) -> Vec<usize> {
    let bytes = text.as_bytes();
    let mut open = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                // A quoted string: skip to its closing quote (templates inside
                // are balanced on one line, as HCL requires).
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'#' => i = line_end(bytes, i),
            b'/' if bytes.get(i + 1) == Some(&b'/') => i = line_end(bytes, i),
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = text[i + 2..]
                    .find("*/")
                    .map_or(bytes.len(), |e| i + 2 + e + 1);
            }
            b'<' if bytes.get(i + 1) == Some(&b'<') => {
                let start = i + 2 + usize::from(bytes.get(i + 2) == Some(&b'-'));
                let marker: String = text[start..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !marker.is_empty() {
                    // Skip to the line that holds only the marker.
                    let mut at = line_end(bytes, start);
                    while at < bytes.len() {
                        let next = line_end(bytes, at + 1);
                        if text[at + 1..next].trim() == marker {
                            break;
                        }
                        at = next;
                    }
                    i = at;
                }
            }
            b'{' => open.push(i),
            b'}' => {
                open.pop();
            }
            _ => {}
        }
        i += 1;
    }
    open
}

fn line_end(bytes: &[u8], from: usize) -> usize {
    bytes[from.min(bytes.len())..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |p| from + p)
}

fn is_s3_backend(block: &Block) -> bool {
    block.has_ident("backend") && block.labels.len() == 1 && block.labels[0].as_str() == "s3"
}

/// The settings of a block body; spans from the parser are shifted by `base`
/// (the offset of the parsed text within the file).
fn block_body(
    source: &Source,
    base: usize,
    body: &structure::Body,
    span: Range<usize>,
) -> Result<Body, ParseError> {
    let settings = body
        .attributes()
        .map(|attr| {
            setting(
                source,
                base,
                attr.key.as_str().to_string(),
                attr.key.span(),
                &attr.value,
            )
        })
        .collect::<Result<_, _>>()?;
    Ok(Body {
        syntax: Syntax::HclBody,
        span,
        settings,
    })
}

pub(super) fn object_body(
    source: &Source,
    base: usize,
    object: &Object,
) -> Result<Body, ParseError> {
    let mut settings = Vec::new();
    for (key, value) in object.iter() {
        let name = match key {
            ObjectKey::Ident(ident) => ident.as_str().to_string(),
            ObjectKey::Expression(Expression::String(s)) => s.value().to_string(),
            // A computed key cannot be a backend setting we edit.
            ObjectKey::Expression(_) => continue,
        };
        settings.push(setting(source, base, name, key.span(), value.expr())?);
    }
    Ok(Body {
        syntax: Syntax::HclObject,
        span: shift(object.span(), base)?,
        settings,
    })
}

fn setting(
    source: &Source,
    base: usize,
    key: String,
    key_span: Option<Range<usize>>,
    value: &Expression,
) -> Result<Setting, ParseError> {
    let value_span = shift(value.span(), base)?;
    let object = match value {
        Expression::Object(object) => Some(object_body(source, base, object)?),
        _ => None,
    };
    Ok(Setting {
        key,
        value: literal(value, &source.text[value_span.clone()]),
        key_span: shift(key_span, base)?,
        value_span,
        object,
    })
}

/// A literal's value, or the expression's source text.
pub(super) fn literal(expr: &Expression, text: &str) -> Value {
    match expr {
        Expression::String(s) => Value::String(s.value().to_string()),
        Expression::Bool(b) => Value::Bool(*b.value()),
        Expression::Number(_) => Value::Number(text.trim().to_string()),
        Expression::Null(_) => Value::Null,
        _ => Value::Expression(text.trim().to_string()),
    }
}

fn object_get<'a>(object: &'a Object, key: &str) -> Option<&'a Expression> {
    object.iter().find_map(|(k, v)| {
        let matches = match k {
            ObjectKey::Ident(ident) => ident.as_str() == key,
            ObjectKey::Expression(Expression::String(s)) => s.value() == key,
            ObjectKey::Expression(_) => false,
        };
        matches.then(|| v.expr())
    })
}

/// hcl-edit sets spans on every parsed node; a missing one is reported, not guessed.
pub(super) fn shift(span: Option<Range<usize>>, base: usize) -> Result<Range<usize>, ParseError> {
    match span {
        Some(span) => Ok(span.start + base..span.end + base),
        None => Err(ParseError {
            line: 1,
            column: 1,
            message: "parser returned a node without a position".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::{innermost_unclosed_brace, starts_a_backend_block};

    #[test]
    fn finds_the_brace_left_open() {
        let text = "terraform {\n  backend \"s3\" {\n    bucket = \"b\"\n  }\n";
        assert_eq!(innermost_unclosed_brace(text), Some(10));
        let both = "terraform {\n  backend \"s3\" {\n";
        assert_eq!(innermost_unclosed_brace(both), Some(27));
        let quoted = "a {\n  x = \"}\" # }\n  /* } */ y = \"${z}\"\n";
        assert_eq!(innermost_unclosed_brace(quoted), Some(2));
        let heredoc = "a {\n  x = <<EOF\n}\nEOF\n";
        assert_eq!(innermost_unclosed_brace(heredoc), Some(2));
        assert_eq!(innermost_unclosed_brace("a {\n}\n"), None);
    }

    #[test]
    fn only_a_block_start_counts_as_a_backend() {
        assert!(starts_a_backend_block("terraform {\n  backend \"s3\" {\n"));
        assert!(starts_a_backend_block("\tbackend  {"));
        assert!(!starts_a_backend_block("# this file has no backend\n"));
        assert!(!starts_a_backend_block("locals { backend = \"s3\" }\n"));
        assert!(!starts_a_backend_block("backends \"x\" {}\n"));
        assert!(!starts_a_backend_block("echo backend\n"));
    }
}
