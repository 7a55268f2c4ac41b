//! Preflight: CI scripts and pipeline files that pass `dynamodb_table` to
//! `terraform init` (issue 6, item 4; DESIGN §1).
//!
//! A `-backend-config=dynamodb_table=...` argument overrides whatever the backend
//! files say, so a state whose files were migrated keeps DynamoDB locking for as
//! long as such an argument survives in a pipeline. This module finds those
//! arguments; it never rewrites them (they are the user's to change). It is pure:
//! the caller reads the files and feeds their text in.
//!
//! What is reported ([`find_references`]):
//! - [`Form::BackendConfigArg`]: `-backend-config=dynamodb_table=X`, `--backend-config=...`,
//!   the value quoted as a whole or only after `=`, the argument quoted as a whole
//!   (YAML/Groovy lists, `sh "..."`), the space form `-backend-config dynamodb_table=X`
//!   (also across `\` continuations, as the next YAML list item, or as the next
//!   element of a `['-backend-config', '...']` list). The command is not checked
//!   (`terraform`, `tofu`, `terragrunt`, a variable holding arguments: all count).
//!   Also the `backend_config:` input of GitHub actions such as `dflook/terraform-*`.
//! - [`Form::EnvVar`]: the same argument inside the value of `TF_CLI_ARGS` /
//!   `TF_CLI_ARGS_<cmd>`: shell assignments (`export`, `env`, prefix assignments,
//!   `echo "TF_CLI_ARGS_init=..." >> $GITHUB_ENV`), Make (`:=`, `?=`, `+=`, `=`),
//!   YAML maps (`TF_CLI_ARGS_init: ...`, also as a `|`/`>` block scalar), YAML
//!   `name: TF_CLI_ARGS_init` / `value: ...` pairs (Atlantis, Azure), Groovy
//!   `environment { TF_CLI_ARGS_init = '...' }` and `withEnv(["TF_CLI_ARGS_init=..."])`,
//!   PowerShell `$env:TF_CLI_ARGS_init = "..."`.
//! - [`Form::HeredocLine`]: a `dynamodb_table = ...` line in a shell heredoc
//!   (`cat > backend.hcl <<EOF`): CI generating a `-backend-config` file, or a
//!   `backend "s3"` block in a generated `.tf` file. Heredocs written to
//!   `*.tfvars` are ignored, and in `.tf` targets only a line directly inside a
//!   `backend "s3"` block counts (a `resource "aws_dynamodb_table"` never does).
//!
//! [`backend_config_files`] lists `-backend-config=PATH` values (no `=` in them);
//! [`find_in_backend_config_file`] checks such a file for a top-level
//! `dynamodb_table` attribute ([`Form::BackendConfigFileLine`]).
//!
//! Limits (this is line-based scanning with a small quote-aware tokenizer, not a
//! shell, YAML or Groovy parser):
//! - Comments: a `#` or `//` that starts a word outside quotes ends the line; a
//!   line that starts with `/*` opens a block comment up to `*/` (the rest of the
//!   closing line is ignored too). The file type is not known, so a `#` word in
//!   Groovy or a `//` word in shell is taken as a comment as well.
//! - Quotes are tracked per line (plus `\` continuations); a quoted string that
//!   spans lines without `\` is not followed. An apostrophe inside a word (`don't`)
//!   does not open a quote.
//! - Values are kept as written: variables (`$T`, `${T}`, `${{ vars.T }}`,
//!   `$(T)`) are not resolved; a `-backend-config` argument built from variables
//!   alone (`-backend-config="$KEY=$VALUE"`) cannot be recognised.
//! - An argument inside a plain `echo`/`printf` message (no redirection, no pipe,
//!   not inside `$(...)`) is skipped as text; anything else mentioning
//!   `-backend-config=dynamodb_table=` (a README-like string in a YAML `name:`) is
//!   reported.
//! - Paths from [`backend_config_files`] are as written and may hold variables or,
//!   for the space form in prose, be junk: a caller should skip those it cannot
//!   resolve to an existing file.
//! - `dynamodb_endpoint` / `endpoints.dynamodb` arguments are not reported (they
//!   do nothing without `dynamodb_table`).
//! - Heredoc terminators must be quoted or all upper case (`<<EOF`, `<<'eof'`), so
//!   that Groovy's `list << item` is not a heredoc; nested heredocs are not tracked.

use serde::Serialize;

/// How a CI file passes `dynamodb_table` to `init`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Form {
    /// `-backend-config=dynamodb_table=X` on a command line (any quoting, `--`,
    /// space form), or an action's `backend_config` input.
    BackendConfigArg,
    /// The same argument inside `TF_CLI_ARGS` / `TF_CLI_ARGS_init`.
    EnvVar,
    /// A `dynamodb_table = X` line in a file passed with `-backend-config=FILE`.
    BackendConfigFileLine,
    /// A `dynamodb_table = X` line in a shell heredoc (a backend config file or
    /// `backend "s3"` block generated at CI time).
    HeredocLine,
}

/// One place that keeps DynamoDB locking alive from outside the backend files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CiReference {
    /// 1-based line of the argument (its leading `-`) or attribute.
    pub line: usize,
    /// 1-based column, counted in chars (a UTF-8 BOM is not counted).
    pub column: usize,
    pub form: Form,
    /// The table as written (variables unresolved, surrounding quotes removed);
    /// `None` when the value is empty (or `null` in a file).
    pub table: Option<String>,
    /// The matched argument or attribute as written.
    pub snippet: String,
    /// What the user should change.
    pub suggestion: String,
}

/// Every place in a CI file, script or pipeline definition that passes
/// `dynamodb_table` to `init` (see the module docs for the forms and limits),
/// ordered by position.
pub fn find_references(text: &str) -> Vec<CiReference> {
    scan(text).refs
}

/// `(line, path)` for every `-backend-config=PATH` (or `-backend-config PATH`,
/// or an action's `backend_config_file` input) whose value holds no `=`: a
/// partial backend configuration file that the caller should read and check
/// with [`find_in_backend_config_file`]. Paths are as written (relative to the
/// directory `init` runs in, variables unresolved).
pub fn backend_config_files(text: &str) -> Vec<(usize, String)> {
    scan(text).files
}

/// Every `-backend-config` argument (any key, or a file) and action input, ordered
/// by position; the same recognition as [`find_references`], echo text skipped.
pub fn backend_config_args(text: &str) -> Vec<ArgSite> {
    scan(text).args
}

/// Top-level `dynamodb_table = "x"` / `dynamodb_table=x` attributes in a file
/// passed with `-backend-config=FILE` (`*.tfbackend`, `backend.hcl`, ...).
pub fn find_in_backend_config_file(text: &str) -> Vec<CiReference> {
    let lines = split_lines(text);
    let mut blocks = Blocks::default();
    let mut refs = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let code = line.code();
        if blocks.top_level()
            && let Some(attr) = dynamodb_attr(code)
        {
            let suggestion = match &attr.table {
                Some(_) => format!(
                    "remove `{}` from this -backend-config file (its values override the \
                     backend block, so this state keeps DynamoDB locking); during the dual \
                     phase keep it only together with `use_lockfile = true` in the same file",
                    attr.snippet
                ),
                None => empty_table_suggestion(&attr.snippet),
            };
            refs.push(CiReference {
                line: i + 1,
                column: attr.col + 1,
                form: Form::BackendConfigFileLine,
                table: attr.table,
                snippet: attr.snippet,
                suggestion,
            });
        }
        blocks.feed(code);
    }
    refs
}

// ---------------------------------------------------------------------------
// Lines, comments, quotes

pub(super) struct Line {
    chars: Vec<char>,
    /// Number of chars before a comment.
    code: usize,
}

impl Line {
    pub(super) fn code(&self) -> &[char] {
        &self.chars[..self.code]
    }
    pub(super) fn indent(&self) -> usize {
        self.chars.iter().take_while(|c| c.is_whitespace()).count()
    }
    pub(super) fn is_blank(&self) -> bool {
        self.chars.iter().all(|c| c.is_whitespace())
    }
    fn trimmed(&self) -> String {
        self.chars.iter().collect::<String>().trim().to_string()
    }
}

pub(super) fn split_lines(text: &str) -> Vec<Line> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut in_block = false;
    text.split('\n')
        .map(|raw| {
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            let chars: Vec<char> = raw.chars().collect();
            let code = code_end(&chars, &mut in_block);
            Line { chars, code }
        })
        .collect()
}

fn code_end(chars: &[char], in_block: &mut bool) -> usize {
    if *in_block {
        if find(chars, 0, "*/").is_some() {
            *in_block = false;
        }
        return 0;
    }
    let t = first_non_ws(chars);
    if at(chars, t, "/*") {
        if find(chars, t + 2, "*/").is_none() {
            *in_block = true;
        }
        return 0;
    }
    walk_quotes(chars, |i, q| {
        q.is_none()
            && (chars[i] == '#' || at(chars, i, "//"))
            && (i == 0 || chars[i - 1].is_whitespace())
    })
    .unwrap_or(chars.len())
}

/// Walks `s` keeping shell-like quote state and calls `f(i, quote)` for each
/// position (escaped chars are skipped); stops at the first `true`.
pub(super) fn walk_quotes(
    s: &[char],
    mut f: impl FnMut(usize, Option<char>) -> bool,
) -> Option<usize> {
    let mut q: Option<char> = None;
    let mut i = 0;
    while i < s.len() {
        if f(i, q) {
            return Some(i);
        }
        let c = s[i];
        match q {
            Some('"') => {
                if c == '\\' {
                    i += 1;
                } else if c == '"' {
                    q = None;
                }
            }
            Some(open) => {
                if c == open {
                    q = None;
                }
            }
            None => {
                if c == '\\' {
                    i += 1;
                } else if c == '"' {
                    q = Some('"');
                } else if c == '\'' && (i == 0 || !s[i - 1].is_alphanumeric()) {
                    q = Some('\'');
                }
            }
        }
        i += 1;
    }
    None
}

fn quote_at(s: &[char], pos: usize) -> Option<char> {
    let mut state = None;
    walk_quotes(s, |i, q| {
        if i == pos {
            state = q;
            true
        } else {
            false
        }
    });
    state
}

fn at(s: &[char], i: usize, pat: &str) -> bool {
    (i..).zip(pat.chars()).all(|(k, p)| s.get(k) == Some(&p))
}

fn find(s: &[char], from: usize, pat: &str) -> Option<usize> {
    (from..s.len()).find(|&i| at(s, i, pat))
}

fn first_non_ws(s: &[char]) -> usize {
    s.iter().position(|c| !c.is_whitespace()).unwrap_or(s.len())
}

fn trim_end_len(s: &[char]) -> usize {
    s.iter()
        .rposition(|c| !c.is_whitespace())
        .map_or(0, |i| i + 1)
}

fn text(s: &[char]) -> String {
    s.iter().collect()
}

fn unquote(v: &str) -> &str {
    let v = v.trim();
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return &v[1..v.len() - 1];
        }
    }
    v
}

fn collapse_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn is_tf_cli_args(name: &str) -> bool {
    name.strip_prefix("TF_CLI_ARGS").is_some_and(|rest| {
        rest.is_empty()
            || (rest.starts_with('_')
                && rest.len() > 1
                && rest[1..]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_'))
    })
}

// ---------------------------------------------------------------------------
// Per-line YAML context: block scalars, `name:`/`value:` pairs

#[derive(Clone, Debug, PartialEq)]
enum Ctx {
    None,
    /// Inside the value of a `TF_CLI_ARGS*` variable that spans lines.
    Env(String),
    /// Inside an action's `backend_config` (false) / `backend_config_file` (true).
    Input(bool),
}

fn yaml_contexts(lines: &[Line]) -> Vec<Ctx> {
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
pub(super) fn yaml_block_key(line: &Line) -> Option<(usize, String)> {
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

#[derive(Default)]
struct Scan {
    refs: Vec<CiReference>,
    files: Vec<(usize, String)>,
    args: Vec<ArgSite>,
}

/// One `-backend-config` argument of any key (or file), with the command line it
/// sits on: what the init-time override model (`super::overrides`) is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgSite {
    /// 1-based line and char column of the argument's leading `-` (of the item,
    /// for an action input).
    pub line: usize,
    pub column: usize,
    /// 1-based first physical line of the command line (before `\` continuations).
    pub first_line: usize,
    /// The value with quotes removed and trimmed: `key=value` or a file path.
    pub value: String,
    /// The `TF_CLI_ARGS*` variable whose value holds the argument.
    pub env: Option<String>,
    /// The logical command line (joined over `\` continuations, comments cut)
    /// and the char index of the argument in it; empty for an action input.
    pub command: String,
    pub at: usize,
    /// Given as a GitHub action's `backend_config` / `backend_config_file` input.
    pub action_input: bool,
}

/// A command line joined over `\` continuations, each char mapped to
/// (0-based line, 0-based column).
#[derive(Default)]
struct Logical {
    chars: Vec<char>,
    pos: Vec<(usize, usize)>,
    last: usize,
}

impl Logical {
    fn push(&mut self, line: &[char], line0: usize, end: usize) {
        for (col, &c) in line[..end].iter().enumerate() {
            self.chars.push(c);
            self.pos.push((line0, col));
        }
    }
}

fn scan(text: &str) -> Scan {
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

struct Value {
    /// `=` between flag and value (else a space form).
    eq: bool,
    /// The value as written.
    raw: String,
    /// The value with quotes removed.
    content: String,
    /// Where to continue searching in the logical line.
    end: usize,
}

const FLAG: &str = "backend-config";

fn scan_args(lg: &Logical, lines: &[Line], ctx: &[Ctx], out: &mut Scan) {
    let s = &lg.chars;
    let mut k = 0;
    while let Some(hit) = find(s, k, FLAG) {
        k = hit + 1;
        if hit == 0 || s[hit - 1] != '-' {
            continue;
        }
        let mut d = hit - 1;
        if d > 0 && s[d - 1] == '-' {
            d -= 1;
        }
        if d > 0 && !is_arg_boundary(s[d - 1]) {
            continue;
        }
        let flag_end = hit + FLAG.len();
        let outer = quote_at(s, d);
        let Some(value) = parse_value(s, flag_end, outer, lines, lg.last) else {
            continue;
        };
        k = k.max(value.end);
        if plain_echo(s, d) {
            continue;
        }
        let (line0, col0) = lg.pos[d];
        let content = value.content.trim();
        let env = match &ctx[line0] {
            Ctx::Env(name) => Some(name.clone()),
            _ => env_assignment_covering(s, d),
        };
        out.args.push(ArgSite {
            line: line0 + 1,
            column: col0 + 1,
            first_line: lg.pos.first().map_or(line0, |p| p.0) + 1,
            value: content.to_string(),
            env: env.clone(),
            command: text(s),
            at: d,
            action_input: false,
        });
        let Some(eq) = content.find('=') else {
            out.files.push((line0 + 1, content.to_string()));
            continue;
        };
        if content[..eq].trim() != "dynamodb_table" {
            continue;
        }
        let table = unquote(&content[eq + 1..]);
        let table = (!table.is_empty()).then(|| table.to_string());
        let snippet = format!(
            "{}{}{}",
            text(&s[d..flag_end]),
            if value.eq { "=" } else { " " },
            collapse_ws(&value.raw)
        );
        let (form, suggestion) = match (&env, &table) {
            (_, None) => (
                if env.is_some() {
                    Form::EnvVar
                } else {
                    Form::BackendConfigArg
                },
                empty_table_suggestion(&snippet),
            ),
            (Some(var), Some(_)) => (
                Form::EnvVar,
                format!(
                    "remove `{snippet}` from `{var}` (Terraform adds it to `init`, where it \
                     overrides the backend files, so this state keeps DynamoDB locking); during \
                     the dual phase keep it only together with `-backend-config=use_lockfile=true` \
                     in the same variable"
                ),
            ),
            (None, Some(_)) => (
                Form::BackendConfigArg,
                format!(
                    "remove `{snippet}` (it overrides the backend files, so this state keeps \
                     DynamoDB locking); during the dual phase keep it only together with \
                     `-backend-config=use_lockfile=true`"
                ),
            ),
        };
        out.refs.push(CiReference {
            line: line0 + 1,
            column: col0 + 1,
            form,
            table,
            snippet,
            suggestion,
        });
    }
}

fn empty_table_suggestion(snippet: &str) -> String {
    format!(
        "`{snippet}` sets an empty `dynamodb_table`, which turns DynamoDB locking off for this \
         state: make sure `use_lockfile = true` is set (in the backend or as \
         `-backend-config=use_lockfile=true`) so it stays locked, then remove it"
    )
}

fn is_arg_boundary(c: char) -> bool {
    c.is_whitespace() || matches!(c, '"' | '\'' | '[' | '(' | '{' | ',' | '=' | '`')
}

fn parse_value(
    s: &[char],
    flag_end: usize,
    outer: Option<char>,
    lines: &[Line],
    last: usize,
) -> Option<Value> {
    let n = s.len();
    if flag_end < n && s[flag_end] == '=' {
        let (end, content) = read_word(s, flag_end + 1, outer);
        return (!content.trim().is_empty()).then(|| Value {
            eq: true,
            raw: text(&s[flag_end + 1..end]),
            content,
            end,
        });
    }
    let separated = flag_end == n
        || s[flag_end].is_whitespace()
        || Some(s[flag_end]) == outer
        || s[flag_end] == ',';
    if !separated {
        return None;
    }
    let mut p = flag_end;
    let mut inner = outer;
    if p < n && Some(s[p]) == outer {
        p += 1;
        inner = None;
    }
    let skip_ws = |mut p: usize| {
        while p < n && s[p].is_whitespace() {
            p += 1;
        }
        p
    };
    p = skip_ws(p);
    if p < n && s[p] == ',' {
        p = skip_ws(p + 1);
    }
    if p < n {
        let (end, content) = read_word(s, p, inner);
        let c = content.trim();
        if c.is_empty() || c.starts_with('-') {
            return None;
        }
        return Some(Value {
            eq: false,
            raw: text(&s[p..end]),
            content,
            end,
        });
    }
    // The value as the next YAML list item: `- -backend-config` / `- dynamodb_table=x`.
    let next = lines.get(last + 1)?.code();
    let t = first_non_ws(next);
    if !(next.get(t) == Some(&'-') && next.get(t + 1).is_some_and(|c| c.is_whitespace())) {
        return None;
    }
    let start = first_non_ws(&next[t + 1..]) + t + 1;
    let (end, content) = read_word(next, start, None);
    let c = content.trim();
    if c.is_empty() || c.starts_with('-') {
        return None;
    }
    Some(Value {
        eq: false,
        raw: text(&next[start..end]),
        content,
        end: n,
    })
}

/// Reads one shell-like word from `start`: quoted segments are unquoted,
/// `${{ }}`, `${ }`, `$( )`, `{{ }}` are kept whole, and the word ends at whitespace,
/// at the closing `outer` quote, or at a shell/list separator.
pub(super) fn read_word(s: &[char], start: usize, outer: Option<char>) -> (usize, String) {
    let mut i = start;
    let mut out = String::new();
    while i < s.len() {
        let c = s[i];
        if c.is_whitespace() || Some(c) == outer {
            break;
        }
        if c == '\\' {
            if outer == Some('"') && s.get(i + 1) == Some(&'"') {
                // \"...\" inside an outer double-quoted string.
                match find(s, i + 2, "\\\"") {
                    Some(j) => {
                        out.extend(&s[i + 2..j]);
                        i = j + 2;
                        continue;
                    }
                    None => break,
                }
            }
            if outer.is_none()
                && s.get(i + 1)
                    .is_some_and(|d| d.is_whitespace() || *d == '"' || *d == '\'')
            {
                out.push(s[i + 1]);
                i += 2;
                continue;
            }
            out.push(c);
            i += 1;
            continue;
        }
        if c == '"' || c == '\'' {
            match closing_quote(s, i + 1, c) {
                Some(j) => {
                    out.extend(&s[i + 1..j]);
                    i = j + 1;
                    continue;
                }
                None => break,
            }
        }
        if c == '$'
            && let Some(j) = dollar_end(s, i)
        {
            out.extend(&s[i..j]);
            i = j;
            continue;
        }
        // `{{ .. }}` templates (just, Task, Jinja) are kept whole.
        if at(s, i, "{{")
            && let Some(j) = find(s, i + 2, "}}")
        {
            out.extend(&s[i..j + 2]);
            i = j + 2;
            continue;
        }
        if matches!(c, ';' | '|' | '&' | ')' | ',' | ']' | '}' | '`' | '<' | '>') {
            break;
        }
        out.push(c);
        i += 1;
    }
    (i, out)
}

fn closing_quote(s: &[char], from: usize, q: char) -> Option<usize> {
    let mut i = from;
    while i < s.len() {
        if q == '"' && s[i] == '\\' {
            i += 2;
            continue;
        }
        if s[i] == q {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// End (exclusive) of `${{ .. }}`, `${ .. }` or `$( .. )` starting at `i`.
fn dollar_end(s: &[char], i: usize) -> Option<usize> {
    if at(s, i, "${{") {
        return find(s, i + 3, "}}").map(|j| j + 2);
    }
    let (open, close) = match s.get(i + 1) {
        Some('{') => ('{', '}'),
        Some('(') => ('(', ')'),
        _ => return None,
    };
    let mut depth = 0usize;
    for (j, &c) in s.iter().enumerate().skip(i + 1) {
        if c == open {
            depth += 1;
        } else if c == close {
            depth -= 1;
            if depth == 0 {
                return Some(j + 1);
            }
        }
    }
    None
}

/// The argument is text of an `echo`/`printf` that goes nowhere (no
/// redirection, no pipe, not a command substitution).
fn plain_echo(s: &[char], d: usize) -> bool {
    let sep = (0..d)
        .rev()
        .find(|&i| matches!(s[i], ';' | '|' | '&' | '(' | '`'));
    if let Some(j) = sep
        && (s[j] == '`' || (s[j] == '(' && j > 0 && s[j - 1] == '$'))
    {
        return false;
    }
    let seg = text(&s[sep.map_or(0, |j| j + 1)..d]);
    let first = seg
        .split_whitespace()
        .map(|w| {
            w.trim_matches(|c| c == '"' || c == '\'')
                .trim_start_matches(['@', '-'])
        })
        .find(|w| {
            !w.is_empty()
                && !w.ends_with(':')
                && !matches!(*w, "sh" | "bash" | "pwsh" | "powershell" | "bat" | "c")
        });
    if !matches!(
        first,
        Some("echo" | "printf" | "Write-Host" | "Write-Output")
    ) {
        return false;
    }
    walk_quotes(s, |i, q| i >= d && q.is_none() && matches!(s[i], '>' | '|')).is_none()
}

/// `TF_CLI_ARGS*` assigned on the same line with a value that contains `d`.
fn env_assignment_covering(s: &[char], d: usize) -> Option<String> {
    let n = s.len();
    let mut from = 0;
    while let Some(st) = find(s, from, "TF_CLI_ARGS") {
        from = st + 1;
        if st >= d {
            break;
        }
        let prev = if st > 0 { Some(s[st - 1]) } else { None };
        if prev.is_some_and(|c| c.is_alphanumeric() || matches!(c, '_' | '$' | '{')) {
            continue;
        }
        let mut e = st + "TF_CLI_ARGS".len();
        while e < n && (s[e].is_ascii_alphanumeric() || s[e] == '_') {
            e += 1;
        }
        let name = text(&s[st..e]);
        if !is_tf_cli_args(&name) {
            continue;
        }
        let mut p = e;
        while p < n && (s[p] == ' ' || s[p] == '\t') {
            p += 1;
        }
        let spaced_before = p > e;
        let op_len = if at(s, p, "::=") {
            3
        } else if at(s, p, ":=") || at(s, p, "?=") || at(s, p, "+=") {
            2
        } else if at(s, p, "==") {
            continue;
        } else if s.get(p) == Some(&'=') || s.get(p) == Some(&':') {
            1
        } else {
            continue;
        };
        let simple_shell = op_len == 1 && s[p] == '=' && !spaced_before;
        p += op_len;
        let v0 = {
            let mut v = p;
            while v < n && (s[v] == ' ' || s[v] == '\t') {
                v += 1;
            }
            v
        };
        let spaced = !simple_shell || v0 > p;
        if v0 > d {
            continue;
        }
        let covers = if let Some(q) = prev.filter(|c| *c == '"' || *c == '\'') {
            // "TF_CLI_ARGS_init=..." as one quoted string
            closing_quote(s, v0, q).is_none_or(|j| d < j)
        } else if v0 < n && (s[v0] == '"' || s[v0] == '\'') {
            d > v0 && closing_quote(s, v0 + 1, s[v0]).is_none_or(|j| d < j)
        } else if spaced {
            true
        } else {
            d == v0
        };
        if covers {
            return Some(name);
        }
    }
    None
}

/// `backend_config:` / `backend_config_file:` inputs of GitHub actions such as
/// `dflook/terraform-plan` (one `key=value` or path per line, or comma-separated).
fn scan_action_inputs(lines: &[Line], ctx: &[Ctx], out: &mut Scan) {
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
                let suggestion = match &attr.table {
                    Some(_) => format!(
                        "remove `{snippet}` from the action's `backend_config` input (it is passed \
                         to `init` as -backend-config and overrides the backend files, so this \
                         state keeps DynamoDB locking); during the dual phase keep it only \
                         together with `use_lockfile=true`"
                    ),
                    None => empty_table_suggestion(&snippet),
                };
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

// ---------------------------------------------------------------------------
// HCL-ish attribute lines (heredocs and -backend-config files)

struct Attr {
    col: usize,
    snippet: String,
    table: Option<String>,
}

/// `dynamodb_table = "x"` at the start of `code` (after indentation).
fn dynamodb_attr(code: &[char]) -> Option<Attr> {
    let t = first_non_ws(code);
    if !at(code, t, "dynamodb_table") {
        return None;
    }
    let mut p = t + "dynamodb_table".len();
    while p < code.len() && code[p].is_whitespace() {
        p += 1;
    }
    if code.get(p) != Some(&'=') || code.get(p + 1) == Some(&'=') {
        return None;
    }
    let end = trim_end_len(code);
    let value = unquote(&text(&code[p + 1..end])).to_string();
    let table = (!value.is_empty() && value != "null").then_some(value);
    Some(Attr {
        col: t,
        snippet: text(&code[t..end]),
        table,
    })
}

/// Brace nesting of HCL text; each entry says whether the block is `backend "s3"`.
#[derive(Default)]
struct Blocks(Vec<bool>);

impl Blocks {
    fn top_level(&self) -> bool {
        self.0.is_empty()
    }
    fn in_s3_backend(&self) -> bool {
        self.0.last() == Some(&true)
    }
    fn feed(&mut self, code: &[char]) {
        let t = first_non_ws(code);
        let backend = at(code, t, "backend") && {
            let rest = text(&code[t + "backend".len()..]);
            rest.starts_with(char::is_whitespace) && rest.trim_start().starts_with("\"s3\"")
        };
        let mut first = true;
        walk_quotes(code, |i, q| {
            if q.is_none() {
                match code[i] {
                    '{' => {
                        self.0.push(backend && first);
                        first = false;
                    }
                    '}' => {
                        self.0.pop();
                    }
                    _ => {}
                }
            }
            false
        });
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum HereKind {
    Tfvars,
    Tf,
    Other,
}

struct Heredoc {
    word: String,
    kind: HereKind,
    blocks: Blocks,
}

impl Heredoc {
    fn start(s: &[char]) -> Option<Heredoc> {
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

    fn ends_at(&self, line: &Line) -> bool {
        line.trimmed() == self.word
    }

    fn check(&mut self, line: &Line, line0: usize, refs: &mut Vec<CiReference>) {
        let code = line.code();
        if let Some(attr) = dynamodb_attr(code) {
            let report = match self.kind {
                HereKind::Tfvars => false,
                HereKind::Tf => self.blocks.in_s3_backend(),
                HereKind::Other => self.blocks.top_level() || self.blocks.in_s3_backend(),
            };
            if report {
                let suggestion = match &attr.table {
                    Some(_) => format!(
                        "this heredoc writes `{}` into a backend configuration generated at CI \
                         time (tflock does not rewrite it; values there override the backend \
                         files, so this state keeps DynamoDB locking): remove the line; during \
                         the dual phase keep it only together with `use_lockfile = true`",
                        attr.snippet
                    ),
                    None => empty_table_suggestion(&attr.snippet),
                };
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

// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(text: &str) -> Vec<(usize, usize, Form, Option<String>, String)> {
        find_references(text)
            .into_iter()
            .map(|r| (r.line, r.column, r.form, r.table, r.snippet))
            .collect()
    }

    fn one(text: &str) -> CiReference {
        let r = find_references(text);
        assert_eq!(r.len(), 1, "expected one reference in {text:?}, got {r:#?}");
        r.into_iter().next().unwrap()
    }

    fn t(s: &str) -> Option<String> {
        Some(s.to_string())
    }

    // ---- forms -----------------------------------------------------------

    #[test]
    fn plain_equals_form() {
        let r = one("terraform init -backend-config=dynamodb_table=locks\n");
        assert_eq!((r.line, r.column, r.form), (1, 16, Form::BackendConfigArg));
        assert_eq!(r.table, t("locks"));
        assert_eq!(r.snippet, "-backend-config=dynamodb_table=locks");
    }

    #[test]
    fn quoted_forms() {
        let cases = [
            (
                r#"terraform init -backend-config="dynamodb_table=locks""#,
                r#"-backend-config="dynamodb_table=locks""#,
            ),
            (
                "terraform init -backend-config='dynamodb_table=locks'",
                "-backend-config='dynamodb_table=locks'",
            ),
            (
                r#"terraform init -backend-config=dynamodb_table="locks""#,
                r#"-backend-config=dynamodb_table="locks""#,
            ),
            (
                r#"terraform init "-backend-config=dynamodb_table=locks" -input=false"#,
                "-backend-config=dynamodb_table=locks",
            ),
            (
                "terraform init '-backend-config=dynamodb_table=locks'",
                "-backend-config=dynamodb_table=locks",
            ),
            (
                r#"terraform init -backend-config='dynamodb_table="locks"'"#,
                r#"-backend-config='dynamodb_table="locks"'"#,
            ),
        ];
        for (line, snippet) in cases {
            let r = one(line);
            assert_eq!(r.table, t("locks"), "{line}");
            assert_eq!(r.snippet, snippet, "{line}");
            assert_eq!(r.form, Form::BackendConfigArg);
        }
    }

    #[test]
    fn double_dash_and_space_forms() {
        let r = one("tofu init --backend-config=dynamodb_table=locks");
        assert_eq!(
            (r.column, r.snippet.as_str()),
            (11, "--backend-config=dynamodb_table=locks")
        );
        let r = one("terraform init -backend-config dynamodb_table=locks -upgrade");
        assert_eq!(r.snippet, "-backend-config dynamodb_table=locks");
        assert_eq!(r.table, t("locks"));
        let r = one(r#"terragrunt init --backend-config   "dynamodb_table=locks""#);
        assert_eq!(r.snippet, r#"--backend-config "dynamodb_table=locks""#);
        assert_eq!(r.table, t("locks"));
    }

    #[test]
    fn all_three_tools_and_several_per_line() {
        let text = "terraform init -backend-config=dynamodb_table=a\n\
                    tofu init -backend-config=bucket=b -backend-config=dynamodb_table=b\n\
                    terragrunt run-all init -backend-config=dynamodb_table=c && terragrunt plan\n";
        assert_eq!(
            refs(text),
            vec![
                (
                    1,
                    16,
                    Form::BackendConfigArg,
                    t("a"),
                    "-backend-config=dynamodb_table=a".into()
                ),
                (
                    2,
                    36,
                    Form::BackendConfigArg,
                    t("b"),
                    "-backend-config=dynamodb_table=b".into()
                ),
                (
                    3,
                    25,
                    Form::BackendConfigArg,
                    t("c"),
                    "-backend-config=dynamodb_table=c".into()
                ),
            ]
        );
    }

    #[test]
    fn variables_kept_as_written() {
        let cases = [
            (
                "terraform init -backend-config=dynamodb_table=$LOCK_TABLE",
                "$LOCK_TABLE",
            ),
            (
                r#"terraform init -backend-config="dynamodb_table=${LOCK_TABLE}""#,
                "${LOCK_TABLE}",
            ),
            (
                "terraform init -backend-config=dynamodb_table=${{ vars.TABLE }} -input=false",
                "${{ vars.TABLE }}",
            ),
            (
                r#"terraform init -backend-config="dynamodb_table=${{ vars.TABLE }}""#,
                "${{ vars.TABLE }}",
            ),
            (
                "\tterraform init -backend-config=dynamodb_table=$(LOCK_TABLE)",
                "$(LOCK_TABLE)",
            ),
            (
                "\tterraform init -backend-config=dynamodb_table=$$LOCK_TABLE",
                "$$LOCK_TABLE",
            ),
            (
                "terraform init -backend-config=dynamodb_table=$(terraform output -raw t)",
                "$(terraform output -raw t)",
            ),
        ];
        for (line, table) in cases {
            assert_eq!(one(line).table, t(table), "{line}");
        }
        let r = one("terraform init -backend-config=dynamodb_table=${{ vars.TABLE }} -input=false");
        assert_eq!(
            r.snippet,
            "-backend-config=dynamodb_table=${{ vars.TABLE }}"
        );
    }

    #[test]
    fn empty_table_is_reported_without_name() {
        let r = one("terraform init -backend-config=dynamodb_table=");
        assert_eq!(r.table, None);
        assert!(
            r.suggestion.contains("turns DynamoDB locking off"),
            "{}",
            r.suggestion
        );
    }

    #[test]
    fn suggestion_names_argument_and_dual_phase() {
        let r = one("terraform init -backend-config=dynamodb_table=locks");
        assert!(
            r.suggestion
                .starts_with("remove `-backend-config=dynamodb_table=locks`")
        );
        assert!(r.suggestion.contains("keeps DynamoDB locking"));
        assert!(r.suggestion.contains("`-backend-config=use_lockfile=true`"));
        let r = one("export TF_CLI_ARGS_init=-backend-config=dynamodb_table=locks");
        assert!(
            r.suggestion.contains("from `TF_CLI_ARGS_init`"),
            "{}",
            r.suggestion
        );
    }

    #[test]
    fn other_backend_config_keys_are_ignored() {
        assert!(refs("terraform init -backend-config=bucket=b -backend-config=key=k").is_empty());
        assert!(refs("terraform init -backend-config=dynamodb_endpoint=http://x").is_empty());
        assert!(refs("terraform init -backend-config=use_lockfile=true").is_empty());
    }

    // ---- environment variables -------------------------------------------

    #[test]
    fn env_var_forms() {
        let cases = [
            (
                r#"TF_CLI_ARGS_init="-input=false -backend-config=dynamodb_table=locks" terraform init"#,
                "TF_CLI_ARGS_init",
            ),
            (
                "export TF_CLI_ARGS_init=-backend-config=dynamodb_table=locks",
                "TF_CLI_ARGS_init",
            ),
            (
                "TF_CLI_ARGS=-backend-config=dynamodb_table=locks terraform init",
                "TF_CLI_ARGS",
            ),
            (
                "env TF_CLI_ARGS_init='-backend-config=dynamodb_table=locks' terraform init",
                "TF_CLI_ARGS_init",
            ),
            (
                "  TF_CLI_ARGS_init: -backend-config=dynamodb_table=locks",
                "TF_CLI_ARGS_init",
            ),
            (
                r#"  TF_CLI_ARGS_init: "-backend-config=dynamodb_table=locks""#,
                "TF_CLI_ARGS_init",
            ),
            (
                r#"echo "TF_CLI_ARGS_init=-backend-config=dynamodb_table=locks" >> "$GITHUB_ENV""#,
                "TF_CLI_ARGS_init",
            ),
            (
                "export TF_CLI_ARGS_init := -input=false -backend-config=dynamodb_table=locks",
                "TF_CLI_ARGS_init",
            ),
            (
                "TF_CLI_ARGS_init ?= -backend-config=dynamodb_table=locks",
                "TF_CLI_ARGS_init",
            ),
            (
                "    TF_CLI_ARGS_init = '-backend-config=dynamodb_table=locks'",
                "TF_CLI_ARGS_init",
            ),
            (
                r#"withEnv(["TF_CLI_ARGS_init=-backend-config=dynamodb_table=locks"]) {"#,
                "TF_CLI_ARGS_init",
            ),
            (
                r#"$env:TF_CLI_ARGS_init = "-backend-config=dynamodb_table=locks""#,
                "TF_CLI_ARGS_init",
            ),
        ];
        for (line, var) in cases {
            let r = one(line);
            assert_eq!(r.form, Form::EnvVar, "{line}");
            assert_eq!(r.table, t("locks"), "{line}");
            assert_eq!(r.snippet, "-backend-config=dynamodb_table=locks", "{line}");
            assert!(
                r.suggestion.contains(&format!("`{var}`")),
                "{line}: {}",
                r.suggestion
            );
        }
    }

    #[test]
    fn prefix_assignment_does_not_cover_later_arguments() {
        let r =
            one("TF_CLI_ARGS_init=-input=false terraform init -backend-config=dynamodb_table=x");
        assert_eq!(r.form, Form::BackendConfigArg);
        let r = one(
            r#"TF_CLI_ARGS_init="-input=false" terraform init -backend-config=dynamodb_table=x"#,
        );
        assert_eq!(r.form, Form::BackendConfigArg);
        // A reference to the variable is not an assignment.
        let r = one("terraform init ${TF_CLI_ARGS:-} -backend-config=dynamodb_table=x");
        assert_eq!(r.form, Form::BackendConfigArg);
    }

    #[test]
    fn env_var_yaml_block_scalar_and_name_value_pairs() {
        let text = "\
env:
  TF_CLI_ARGS_init: >-
    -input=false
    -backend-config=dynamodb_table=locks
  OTHER: x
steps:
  - run: terraform init -backend-config=dynamodb_table=other
";
        assert_eq!(
            refs(text),
            vec![
                (
                    4,
                    5,
                    Form::EnvVar,
                    t("locks"),
                    "-backend-config=dynamodb_table=locks".into()
                ),
                (
                    7,
                    25,
                    Form::BackendConfigArg,
                    t("other"),
                    "-backend-config=dynamodb_table=other".into()
                ),
            ]
        );
        let azure = "\
variables:
  - name: TF_CLI_ARGS_init
    value: '-backend-config=dynamodb_table=locks'
  - name: OTHER
    value: '-backend-config=dynamodb_table=x'
";
        let r = refs(azure);
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].0, r[0].2), (3, Form::EnvVar));
        assert_eq!((r[1].0, r[1].2), (5, Form::BackendConfigArg));
    }

    // ---- backend config files ---------------------------------------------

    #[test]
    fn backend_config_file_paths() {
        let text = r#"
terraform init -backend-config=backend.hcl
terraform init -backend-config="env/${ENV}.tfbackend" -backend-config=key=x
terraform init -backend-config ./prod.tfbackend
# terraform init -backend-config=commented.hcl
export TF_CLI_ARGS_init="-backend-config=ci.tfbackend"
"#;
        assert_eq!(
            backend_config_files(text),
            vec![
                (2, "backend.hcl".to_string()),
                (3, "env/${ENV}.tfbackend".to_string()),
                (4, "./prod.tfbackend".to_string()),
                (6, "ci.tfbackend".to_string()),
            ]
        );
        assert!(find_references(text).is_empty());
    }

    #[test]
    fn backend_config_file_lines() {
        let text = "\
# dynamodb_table = \"commented\"
bucket         = \"state\"
dynamodb_table = \"locks\"
  dynamodb_table=plain
dynamodb_table_arn = \"x\"
endpoints = {
  dynamodb_table = \"nested\"
}
// dynamodb_table = \"c2\"
/*
dynamodb_table = \"c3\"
*/
";
        let r = find_in_backend_config_file(text);
        assert_eq!(r.len(), 2, "{r:#?}");
        assert_eq!(
            (r[0].line, r[0].column, r[0].form),
            (3, 1, Form::BackendConfigFileLine)
        );
        assert_eq!(r[0].table, t("locks"));
        assert_eq!(r[0].snippet, "dynamodb_table = \"locks\"");
        assert_eq!((r[1].line, r[1].column), (4, 3));
        assert_eq!(r[1].table, t("plain"));
        assert!(r[0].suggestion.contains("use_lockfile = true"));
        let r = find_in_backend_config_file("dynamodb_table = \"\"\n");
        assert_eq!(r[0].table, None);
    }

    // ---- CI file types ------------------------------------------------------

    #[test]
    fn github_actions_workflow() {
        let text = r#"name: terraform
on: [push]
env:
  TF_CLI_ARGS_init: "-backend-config=dynamodb_table=${{ vars.LOCK_TABLE }}"
jobs:
  plan:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: hashicorp/setup-terraform@v3
      # - run: terraform init -backend-config=dynamodb_table=old
      - name: Init
        run: |
          terraform init \
            -input=false \
            -backend-config="bucket=${{ vars.BUCKET }}" \
            -backend-config="dynamodb_table=${{ vars.LOCK_TABLE }}"
      - name: Explain
        run: echo "dynamodb_table is set by CI"
      - run: terraform plan
"#;
        assert_eq!(
            refs(text),
            vec![
                (
                    4,
                    22,
                    Form::EnvVar,
                    t("${{ vars.LOCK_TABLE }}"),
                    "-backend-config=dynamodb_table=${{ vars.LOCK_TABLE }}".into()
                ),
                (
                    17,
                    13,
                    Form::BackendConfigArg,
                    t("${{ vars.LOCK_TABLE }}"),
                    r#"-backend-config="dynamodb_table=${{ vars.LOCK_TABLE }}""#.into()
                ),
            ]
        );
    }

    #[test]
    fn gitlab_ci() {
        let text = r#"variables:
  TF_ROOT: infra
  TF_CLI_ARGS_init: -backend-config=dynamodb_table=$LOCK_TABLE

.init: &init
  - cd "$TF_ROOT"
  - terraform init -backend-config="dynamodb_table=${LOCK_TABLE}" -reconfigure

plan:
  stage: plan
  script:
    - *init
    - tofu init
      -backend-config=dynamodb_table=tofu-locks
    - terraform plan
"#;
        assert_eq!(
            refs(text),
            vec![
                (
                    3,
                    21,
                    Form::EnvVar,
                    t("$LOCK_TABLE"),
                    "-backend-config=dynamodb_table=$LOCK_TABLE".into()
                ),
                (
                    7,
                    20,
                    Form::BackendConfigArg,
                    t("${LOCK_TABLE}"),
                    r#"-backend-config="dynamodb_table=${LOCK_TABLE}""#.into()
                ),
                (
                    14,
                    7,
                    Form::BackendConfigArg,
                    t("tofu-locks"),
                    "-backend-config=dynamodb_table=tofu-locks".into()
                ),
            ]
        );
    }

    #[test]
    fn makefile() {
        let text = "\
LOCK_TABLE ?= terraform-locks
# init: terraform init -backend-config=dynamodb_table=$(LOCK_TABLE)
export TF_CLI_ARGS_init := -backend-config=dynamodb_table=$(LOCK_TABLE)

init:
\t@echo \"init with -backend-config=dynamodb_table=$(LOCK_TABLE)\"
\tterraform init \\
\t\t-backend-config=bucket=$(BUCKET) \\
\t\t-backend-config=dynamodb_table=$(LOCK_TABLE)
";
        assert_eq!(
            refs(text),
            vec![
                (
                    3,
                    28,
                    Form::EnvVar,
                    t("$(LOCK_TABLE)"),
                    "-backend-config=dynamodb_table=$(LOCK_TABLE)".into()
                ),
                (
                    9,
                    3,
                    Form::BackendConfigArg,
                    t("$(LOCK_TABLE)"),
                    "-backend-config=dynamodb_table=$(LOCK_TABLE)".into()
                ),
            ]
        );
    }

    #[test]
    fn jenkinsfile() {
        let text = r#"pipeline {
  agent any
  environment {
    TF_CLI_ARGS_init = '-backend-config=dynamodb_table=env-locks'
  }
  stages {
    stage('Init') {
      steps {
        // sh 'terraform init -backend-config=dynamodb_table=commented'
        /* sh 'terraform init -backend-config=dynamodb_table=block'
           sh 'terraform init -backend-config=dynamodb_table=block2' */
        sh "terraform init -backend-config=\"dynamodb_table=${params.TABLE}\""
        sh '''
          terraform init \
            -backend-config 'dynamodb_table=locks'
        '''
        sh(script: "terraform init -backend-config=dynamodb_table=${TABLE}", label: 'init')
        sh(['terraform', 'init', '-backend-config', 'dynamodb_table=listed'])
      }
    }
  }
}
"#;
        assert_eq!(
            refs(text),
            vec![
                (
                    4,
                    25,
                    Form::EnvVar,
                    t("env-locks"),
                    "-backend-config=dynamodb_table=env-locks".into()
                ),
                (
                    12,
                    28,
                    Form::BackendConfigArg,
                    t("${params.TABLE}"),
                    r#"-backend-config=\"dynamodb_table=${params.TABLE}\""#.into()
                ),
                (
                    15,
                    13,
                    Form::BackendConfigArg,
                    t("locks"),
                    "-backend-config 'dynamodb_table=locks'".into()
                ),
                (
                    17,
                    36,
                    Form::BackendConfigArg,
                    t("${TABLE}"),
                    "-backend-config=dynamodb_table=${TABLE}".into()
                ),
                (
                    18,
                    35,
                    Form::BackendConfigArg,
                    t("listed"),
                    "-backend-config 'dynamodb_table=listed'".into()
                ),
            ]
        );
    }

    #[test]
    fn taskfile() {
        let text = r#"version: '3'
vars:
  LOCK_TABLE: terraform-locks
tasks:
  init:
    dir: infra
    env:
      TF_CLI_ARGS_init: -backend-config=dynamodb_table={{.LOCK_TABLE}}
    cmds:
      - terraform init -backend-config=dynamodb_table={{.LOCK_TABLE}}
      - cmd: tofu init -backend-config="dynamodb_table={{.LOCK_TABLE}}"
"#;
        let r = refs(text);
        assert_eq!(r.len(), 3, "{r:#?}");
        assert_eq!((r[0].0, r[0].1, r[0].2), (8, 25, Form::EnvVar));
        assert_eq!((r[1].0, r[1].1, r[1].2), (10, 24, Form::BackendConfigArg));
        assert_eq!((r[2].0, r[2].1, r[2].2), (11, 24, Form::BackendConfigArg));
        assert!(r.iter().all(|x| x.3 == t("{{.LOCK_TABLE}}")));
    }

    #[test]
    fn justfile() {
        let text = "\
lock_table := \"terraform-locks\"

# init the backend
init env:
    terraform -chdir=envs/{{env}} init \\
      -backend-config=envs/{{env}}/backend.tfbackend \\
      -backend-config=dynamodb_table={{lock_table}}
";
        assert_eq!(
            refs(text),
            vec![(
                7,
                7,
                Form::BackendConfigArg,
                t("{{lock_table}}"),
                "-backend-config=dynamodb_table={{lock_table}}".into()
            )]
        );
        assert_eq!(
            backend_config_files(text),
            vec![(6, "envs/{{env}}/backend.tfbackend".to_string())]
        );
    }

    #[test]
    fn atlantis_yaml() {
        let text = r#"version: 3
projects:
  - dir: infra/prod
    workflow: prod
workflows:
  prod:
    plan:
      steps:
        - env:
            name: TF_CLI_ARGS_init
            value: -backend-config=dynamodb_table=atlantis-env
        - init:
            extra_args: ["-backend-config=dynamodb_table=atlantis-locks", "-upgrade"]
        - run: terraform init -input=false -backend-config=dynamodb_table=$LOCKS
        - plan
"#;
        assert_eq!(
            refs(text),
            vec![
                (
                    11,
                    20,
                    Form::EnvVar,
                    t("atlantis-env"),
                    "-backend-config=dynamodb_table=atlantis-env".into()
                ),
                (
                    13,
                    27,
                    Form::BackendConfigArg,
                    t("atlantis-locks"),
                    "-backend-config=dynamodb_table=atlantis-locks".into()
                ),
                (
                    14,
                    44,
                    Form::BackendConfigArg,
                    t("$LOCKS"),
                    "-backend-config=dynamodb_table=$LOCKS".into()
                ),
            ]
        );
    }

    #[test]
    fn yaml_list_item_space_form_and_flow_lists() {
        let text = "\
args:
  - init
  - -backend-config
  - dynamodb_table=locks
other: [init, -backend-config=dynamodb_table=flow, -upgrade]
";
        assert_eq!(
            refs(text),
            vec![
                (
                    3,
                    5,
                    Form::BackendConfigArg,
                    t("locks"),
                    "-backend-config dynamodb_table=locks".into()
                ),
                (
                    5,
                    15,
                    Form::BackendConfigArg,
                    t("flow"),
                    "-backend-config=dynamodb_table=flow".into()
                ),
            ]
        );
    }

    #[test]
    fn action_backend_config_inputs() {
        let text = "\
      - uses: dflook/terraform-plan@v1
        with:
          path: infra
          backend_config: bucket=state,dynamodb_table=inline
          backend_config_file: backends/prod.tfbackend
      - uses: dflook/terraform-apply@v1
        with:
          backend_config: |
            bucket=state
            dynamodb_table=${{ vars.LOCKS }}
";
        assert_eq!(
            refs(text),
            vec![
                (
                    4,
                    40,
                    Form::BackendConfigArg,
                    t("inline"),
                    "dynamodb_table=inline".into()
                ),
                (
                    10,
                    13,
                    Form::BackendConfigArg,
                    t("${{ vars.LOCKS }}"),
                    "dynamodb_table=${{ vars.LOCKS }}".into()
                ),
            ]
        );
        assert_eq!(
            backend_config_files(text),
            vec![(5, "backends/prod.tfbackend".to_string())]
        );
    }

    #[test]
    fn blank_action_input_items_are_skipped() {
        // Found by the property test: a whitespace-only item used to panic.
        assert!(refs("backend_config: ,  , \n  backend_config_file: ,\n").is_empty());
        assert!(backend_config_files("backend_config_file: , \n").is_empty());
    }

    // ---- continuations and positions ---------------------------------------

    #[test]
    fn continuation_space_form_across_lines() {
        let text = "terraform init \\\n  -backend-config \\\n  dynamodb_table=locks\n";
        let r = one(text);
        assert_eq!((r.line, r.column), (2, 3));
        assert_eq!(r.snippet, "-backend-config dynamodb_table=locks");
        assert_eq!(r.table, t("locks"));
    }

    #[test]
    fn continuation_env_var_across_lines() {
        let text = "export TF_CLI_ARGS_init=\"-input=false \\\n    -backend-config=dynamodb_table=locks\"\nterraform init\n";
        let r = one(text);
        assert_eq!((r.line, r.column, r.form), (2, 5, Form::EnvVar));
    }

    #[test]
    fn columns_count_chars_and_skip_bom_and_crlf() {
        let text = "\u{feff}echo ünïcødé; terraform init -backend-config=dynamodb_table=x\r\n\r\n  terraform init -backend-config=dynamodb_table=y\r\n";
        let r = refs(text);
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].0, r[0].1), (1, 30));
        assert_eq!(r[0].3, t("x"));
        assert_eq!((r[1].0, r[1].1), (3, 18));
        assert_eq!(r[1].3, t("y"));
    }

    #[test]
    fn column_is_computed_on_the_physical_line() {
        let text = "a\nb\n        terraform init -input=false \\\n  -backend-config=bucket=b -backend-config=dynamodb_table=t\n";
        let r = one(text);
        assert_eq!((r.line, r.column), (4, 28));
    }

    // ---- heredocs ------------------------------------------------------------

    #[test]
    fn heredoc_backend_file_is_reported_resource_is_not() {
        let text = r#"cat > backend.hcl <<EOF
bucket         = "state"
dynamodb_table = "${LOCK_TABLE}"
EOF
cat > main.tf <<'EOF'
resource "aws_dynamodb_table" "locks" {
  name           = "terraform-locks"
  hash_key       = "LockID"
  dynamodb_table = "not-a-backend"
}
terraform {
  backend "s3" {
    dynamodb_table = "gen-locks"
  }
}
EOF
cat > terraform.tfvars <<-EOF
	dynamodb_table = "module-input"
	EOF
terraform init -backend-config=backend.hcl
"#;
        assert_eq!(
            refs(text),
            vec![
                (
                    3,
                    1,
                    Form::HeredocLine,
                    t("${LOCK_TABLE}"),
                    r#"dynamodb_table = "${LOCK_TABLE}""#.into()
                ),
                (
                    13,
                    5,
                    Form::HeredocLine,
                    t("gen-locks"),
                    r#"dynamodb_table = "gen-locks""#.into()
                ),
            ]
        );
        assert_eq!(
            backend_config_files(text),
            vec![(20, "backend.hcl".to_string())]
        );
    }

    #[test]
    fn heredoc_in_yaml_run_block_and_groovy_shift_is_not_a_heredoc() {
        let text = "      - run: |\n          cat > b.tfbackend <<EOF\n          dynamodb_table = \"x\"\n          EOF\n          dynamodb_table = \"after\"\n";
        let r = refs(text);
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].0, r[0].1, r[0].2), (3, 11, Form::HeredocLine));
        assert!(refs("items << item\ndynamodb_table = \"x\"\n").is_empty());
        assert!(refs("x=$((1 << 2))\ndynamodb_table = \"x\"\n").is_empty());
    }

    // ---- decoys --------------------------------------------------------------

    #[test]
    fn decoys_are_not_reported() {
        let text = r#"#!/usr/bin/env bash
set -euo pipefail
# terraform init -backend-config=dynamodb_table=locks
  # -backend-config=dynamodb_table=indented-comment
aws dynamodb create-table --table-name terraform-locks --attribute-definitions AttributeName=LockID,AttributeType=S
aws dynamodb delete-item --table-name "$TABLE" --key '{"LockID": {"S": "b/k-md5"}}'
echo "dynamodb_table is deprecated, see docs"
echo "run: terraform init -backend-config=dynamodb_table=locks"
printf '%s\n' "-backend-config=dynamodb_table=locks"
my-backend-config=dynamodb_table=locks
terraform init -backend-configs=dynamodb_table=locks
grep dynamodb_table backend.tf
terraform init # -backend-config=dynamodb_table=trailing
sed -i '/dynamodb_table/d' backend.tfbackend
terraform init -backend-config=dynamodb_tables=x
"#;
        assert_eq!(refs(text), vec![]);
    }

    #[test]
    fn echo_that_writes_somewhere_still_counts() {
        let r = one(r#"echo "-backend-config=dynamodb_table=locks" >> init.args"#);
        assert_eq!(r.form, Form::BackendConfigArg);
        let r = one(r#"ARGS=$(echo -backend-config=dynamodb_table=locks)"#);
        assert_eq!(r.table, t("locks"));
    }

    #[test]
    fn yaml_and_groovy_comments() {
        let text = "\
steps:
  # - run: terraform init -backend-config=dynamodb_table=a
  - run: terraform init  # -backend-config=dynamodb_table=b
  - run: 'echo \"#\" && terraform init -backend-config=dynamodb_table=c'
// sh 'terraform init -backend-config=dynamodb_table=d'
";
        assert_eq!(
            refs(text),
            vec![(
                4,
                38,
                Form::BackendConfigArg,
                t("c"),
                "-backend-config=dynamodb_table=c".into()
            )]
        );
    }

    // ---- robustness ------------------------------------------------------------

    /// The char at (line, column) of `text`, as the scanner counts them.
    fn line_from(text: &str, line: usize, column: usize) -> String {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let l = text.split('\n').nth(line - 1).unwrap();
        let l = l.strip_suffix('\r').unwrap_or(l);
        l.chars().skip(column - 1).collect()
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(2000))]
        #[test]
        fn never_panics_and_positions_point_at_the_snippet(
            parts in proptest::collection::vec(proptest::sample::select(vec![
                "-backend-config", "--backend-config", "=", "dynamodb_table", "dynamodb_table = ",
                " ", " ", "\t", "\n", "\\\n", "\r\n", "\"", "'", "\\\"", "#", "//", "/*", "*/",
                "<<EOF", "<<-'X'", "EOF", "X", "TF_CLI_ARGS_init", "TF_CLI_ARGS", ":", ": |",
                ":=", "- ", "${{", "}}", "{{", "$(", "${", ")", "{", "}", "[", "]", "|", ">",
                ">>", "ü", "\u{feff}", ",", "echo ", "backend_config:", "backend_config_file:",
                "name: ", "value: ", "locks", "b.hcl", "backend \"s3\" {", "$T", "x.tfvars",
            ]), 0..40)
        ) {
            let text: String = parts.concat();
            let refs = find_references(&text);
            let _ = backend_config_files(&text);
            let file_refs = find_in_backend_config_file(&text);
            for r in refs.iter().chain(&file_refs) {
                let first = r.snippet.split_whitespace().next().unwrap_or("");
                let at = line_from(&text, r.line, r.column);
                proptest::prop_assert!(
                    at.starts_with(first),
                    "{r:?} not at {at:?} in {text:?}"
                );
                proptest::prop_assert!(r.suggestion.contains(&r.snippet));
            }
        }
    }
}
