//! CI scripts and pipeline files that pass `dynamodb_table` to `terraform init`
//! (issue 6, item 4; DESIGN §1): finds them and says what to change; never
//! rewrites a file and reads none (the caller feeds the text in).
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
//! `dynamodb_table` attribute ([`Form::BackendConfigFileLine`]), read with the HCL
//! parser (the line scanner only for a file that is not HCL).
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
//!
//! The parts, one job each: [`lexer`] (lines, comments, quotes, shell words),
//! [`yaml`] (per-line YAML context), [`args`] (`-backend-config` arguments),
//! [`env`] (`TF_CLI_ARGS*` assignments), [`action`] (GitHub action inputs),
//! [`heredoc`] (heredocs that write backend settings), [`hcl_lines`] (HCL-ish
//! attribute lines for text the HCL parser cannot read), [`backend_file`]
//! (`-backend-config` files), [`suggestion`] (the one "what to change" text),
//! [`scan`] (the line loop that drives them).

mod action;
mod args;
mod backend_file;
mod env;
mod hcl_lines;
mod heredoc;
mod lexer;
mod scan;
mod suggestion;
#[cfg(test)]
mod tests;
mod yaml;

pub use crate::model::facts::{CiReference, Form};
pub use args::ArgSite;
pub use backend_file::find_in_backend_config_file;
pub(in crate::preflight) use lexer::{Line, read_word, split_lines, unquote, walk_quotes};

/// Every place in a CI file, script or pipeline definition that passes
/// `dynamodb_table` to `init` (see the module docs for the forms and limits),
/// ordered by position.
pub fn find_references(text: &str) -> Vec<CiReference> {
    scan::scan(text).refs
}

/// `(line, path)` for every `-backend-config=PATH` (or `-backend-config PATH`,
/// or an action's `backend_config_file` input) whose value holds no `=`: a
/// partial backend configuration file that the caller should read and check
/// with [`find_in_backend_config_file`]. Paths are as written (relative to the
/// directory `init` runs in, variables unresolved).
pub fn backend_config_files(text: &str) -> Vec<(usize, String)> {
    scan::scan(text).files
}

/// Every `-backend-config` argument (any key, or a file) and action input, ordered
/// by position; the same recognition as [`find_references`], echo text skipped.
pub fn backend_config_args(text: &str) -> Vec<ArgSite> {
    scan::scan(text).args
}
