//! Per-line YAML context for the CI scan: which lines sit in the value of a
//! `TF_CLI_ARGS*` variable (block scalars, `name:`/`value:` pairs) or of an
//! action's `backend_config` input. Not a YAML parser; finds no argument.

use super::env::is_tf_cli_args;
use super::lexer::{Line, text, unquote};

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Ctx {
    None,
    /// Inside the value of a `TF_CLI_ARGS*` variable that spans lines.
    Env(String),
    /// Inside an action's `backend_config` (false) / `backend_config_file` (true).
    Input(bool),
}

/// The context of each line.
pub(super) fn yaml_contexts(lines: &[Line]) -> Vec<Ctx> {
    let mut ctx = vec![Ctx::None; lines.len()];
    let mut block: Option<(usize, Ctx)> = None;
    let mut tf_name: Option<(String, usize)> = None;
    for (i, line) in lines.iter().enumerate() {
        if let Some((indent, bctx)) = &block {
            if line.is_blank() || line.indent() > *indent {
                ctx[i] = bctx.clone();
                continue;
            }
            block = None;
        }
        let code = text(line.code());
        let t = code.trim_start();
        let t = t.strip_prefix("- ").map(str::trim_start).unwrap_or(t);
        let recent_name = tf_name
            .as_ref()
            .filter(|(_, at)| i - at <= 3)
            .map(|(n, _)| n.clone());
        if let Some(v) = t.strip_prefix("name:") {
            let v = unquote(v);
            tf_name = is_tf_cli_args(v).then(|| (v.to_string(), i));
        } else if t.starts_with("value:")
            && let Some(name) = &recent_name
        {
            ctx[i] = Ctx::Env(name.clone());
        }
        if let Some((indent, key)) = yaml_block_key(line) {
            let bctx = if is_tf_cli_args(&key) {
                Ctx::Env(key)
            } else if key == "value" && recent_name.is_some() {
                Ctx::Env(recent_name.unwrap_or_default())
            } else if key == "backend_config" {
                Ctx::Input(false)
            } else if key == "backend_config_file" {
                Ctx::Input(true)
            } else {
                Ctx::None
            };
            block = Some((indent, bctx));
        }
    }
    ctx
}

/// `key: |` / `- key: >-` → (column of the key, key).
fn yaml_block_key(line: &Line) -> Option<(usize, String)> {
    let code = text(line.code());
    let t = code.trim_end();
    let t = t.trim_end_matches(|c: char| c == '-' || c == '+' || c.is_ascii_digit());
    let t = t.strip_suffix('|').or_else(|| t.strip_suffix('>'))?;
    let t = t.trim_end().strip_suffix(':')?;
    let mut col = line.indent();
    let mut rest = t.trim_start();
    if let Some(r) = rest.strip_prefix("- ") {
        col += 2 + (r.len() - r.trim_start().len());
        rest = r.trim_start();
    }
    let key = unquote(rest.trim_end());
    if key.is_empty() || key.contains(char::is_whitespace) || key.contains(':') {
        return None;
    }
    Some((col, key.to_string()))
}

// ---------------------------------------------------------------------------
// The scan
