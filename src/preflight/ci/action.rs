//! The `backend_config:` / `backend_config_file:` inputs of GitHub actions
//! such as `dflook/terraform-*`. Only these two inputs; no other YAML.

use super::args::ArgSite;
use super::hcl_lines::dynamodb_attr;
use super::lexer::{Line, at, first_non_ws, text, trim_end_len};
use super::scan::Scan;
use super::suggestion::{Site, suggestion};
use super::yaml::Ctx;
use super::{CiReference, Form};

/// `backend_config:` / `backend_config_file:` inputs of GitHub actions such as
/// `dflook/terraform-plan` (one `key=value` or path per line, or comma-separated).
pub(super) fn scan_action_inputs(lines: &[Line], ctx: &[Ctx], out: &mut Scan) {
    for (i, line) in lines.iter().enumerate() {
        let code = line.code();
        let (is_file, from) = match ctx[i] {
            Ctx::Input(is_file) => (is_file, 0),
            _ => {
                let mut p = first_non_ws(code);
                if at(code, p, "- ") {
                    p = first_non_ws(&code[p + 2..]) + p + 2;
                }
                if at(code, p, "backend_config_file:") {
                    (true, p + "backend_config_file:".len())
                } else if at(code, p, "backend_config:") {
                    (false, p + "backend_config:".len())
                } else {
                    continue;
                }
            }
        };
        let mut start = from;
        while start <= code.len() {
            let end = (start..code.len())
                .find(|&j| code[j] == ',')
                .unwrap_or(code.len());
            let piece = &code[start..end];
            let mut a = first_non_ws(piece);
            let mut b = trim_end_len(piece).max(a);
            while a < b && matches!(piece[a], '"' | '\'') {
                a += 1;
            }
            while b > a && matches!(piece[b - 1], '"' | '\'') {
                b -= 1;
            }
            let item = text(&piece[a..b]);
            if !item.is_empty() && !item.starts_with(['|', '>']) && item.contains('=') != is_file {
                out.args.push(ArgSite {
                    line: i + 1,
                    column: start + a + 1,
                    first_line: i + 1,
                    value: item.trim().to_string(),
                    env: None,
                    command: String::new(),
                    at: 0,
                    action_input: true,
                });
            }
            if is_file {
                if !item.is_empty() && !item.starts_with(['|', '>']) {
                    out.files.push((i + 1, item));
                }
            } else if let Some(attr) = dynamodb_attr(&piece[a..b]) {
                let snippet = attr.snippet;
                let suggestion = suggestion(Site::ActionInput, &snippet, attr.table.is_some());
                out.refs.push(CiReference {
                    line: i + 1,
                    column: start + a + attr.col + 1,
                    form: Form::BackendConfigArg,
                    table: attr.table,
                    snippet,
                    suggestion,
                });
            }
            start = end + 1;
        }
    }
}
