//! `--modernize`: the S3 backend attributes Terraform 1.10 removed and 1.11
//! deprecated, rewritten into their current spelling next to the migration.
//!
//! Pure: from a parsed backend to ops on its bodies; the syntax renderers spell
//! them. An old and a new spelling that disagree are an error, never a guess.

use super::{Action, BodyOps, Op, PlanError, Strategy, decide_avoiding};
use crate::parse::{Backend, BackendKind, Body, Setting, Syntax, Value};
use crate::source::Source;

/// Top-level assume-role attributes Terraform 1.10 removed, and their key in
/// the `assume_role` object that replaced them.
pub const ASSUME_ROLE_ITEMS: [(&str, &str); 8] = [
    ("role_arn", "role_arn"),
    ("session_name", "session_name"),
    ("external_id", "external_id"),
    ("assume_role_duration_seconds", "duration"),
    ("assume_role_policy", "policy"),
    ("assume_role_policy_arns", "policy_arns"),
    ("assume_role_tags", "tags"),
    ("assume_role_transitive_tag_keys", "transitive_tag_keys"),
];

/// Endpoint attributes deprecated in favour of an item of `endpoints`.
const ENDPOINT_ITEMS: [(&str, &str); 3] = [
    ("endpoint", "s3"),
    ("iam_endpoint", "iam"),
    ("sts_endpoint", "sts"),
];

/// Attributes Terraform 1.11 deprecated (it warns at every init), with what
/// replaces each one.
pub const DEPRECATED: [(&str, &str); 8] = [
    ("dynamodb_table", "use_lockfile"),
    ("dynamodb_endpoint", "endpoints.dynamodb"),
    ("force_path_style", "use_path_style"),
    ("endpoint", "endpoints.s3"),
    ("iam_endpoint", "endpoints.iam"),
    ("sts_endpoint", "endpoints.sts"),
    ("shared_credentials_file", "shared_credentials_files"),
    ("endpoints.dynamodb", "use_lockfile"),
];

/// Whether a key is one of the removed assume-role attributes.
pub fn is_removed(key: &str) -> bool {
    ASSUME_ROLE_ITEMS.iter().any(|(old, _)| *old == key)
}

/// Attributes that Terragrunt's own S3 client (the one that bootstraps the
/// bucket) reads only in their old spelling: in a `remote_state` config they
/// stay, since renaming them would change what Terragrunt does.
pub const TERRAGRUNT_KEEPS: [&str; 2] = ["force_path_style", "shared_credentials_file"];

/// Whether this backend is a Terragrunt `remote_state` config map.
pub fn is_terragrunt_map(backend: &Backend) -> bool {
    backend.kind == BackendKind::Terragrunt && backend.body.syntax == Syntax::HclObject
}

/// The migration's ops plus the modernizing ones, for a backend tflock migrates.
pub fn decide<'a>(
    source: &Source,
    backend: &'a Backend,
    strategy: Strategy,
) -> Result<(Action, Vec<BodyOps<'a>>), PlanError> {
    let body = &backend.body;
    let text = source.text.as_str();
    let mut own: Vec<Op<'a>> = Vec::new();
    let mut nested: Vec<BodyOps<'a>> = Vec::new();

    // `endpoints` that the migration removes as a whole counts as absent.
    let endpoints = body.get("endpoints").filter(|e| {
        let only_dynamodb = e
            .object
            .as_ref()
            .is_some_and(|o| o.settings.len() == 1 && o.get("dynamodb").is_some());
        !(strategy == Strategy::Replace && only_dynamodb)
    });
    let mut endpoint_items: Vec<(&'static str, &'static str)> = ENDPOINT_ITEMS.to_vec();
    if strategy == Strategy::Dual {
        // Replace removes dynamodb_endpoint; dual keeps it, in its new home.
        endpoint_items.push(("dynamodb_endpoint", "dynamodb"));
    }
    // In replace, `endpoints.dynamodb` goes: a new item never follows it.
    let dropped_item = (strategy == Strategy::Replace).then_some("dynamodb");
    let groups = [
        (
            "assume_role",
            ASSUME_ROLE_ITEMS.to_vec(),
            body.get("assume_role"),
        ),
        ("endpoints", endpoint_items, endpoints),
    ];
    for (home, items, existing) in groups {
        let old: Vec<(&Setting, &'static str)> = body
            .settings
            .iter()
            .filter_map(|s| {
                items
                    .iter()
                    .find(|(o, _)| *o == s.key)
                    .map(|(_, new)| (s, *new))
            })
            .collect();
        if old.is_empty() {
            continue;
        }
        if home == "assume_role" {
            let role_arn = old.iter().any(|(s, _)| s.key == "role_arn")
                || existing
                    .and_then(|e| e.object.as_ref())
                    .is_some_and(|o| o.get("role_arn").is_some());
            if !role_arn {
                // Terraform used them only with a role to assume; `assume_role`
                // without `role_arn` is refused. Dropping them is the user's call.
                return Err(PlanError {
                    offset: old[0].0.key_span.start,
                    message: format!(
                        "`{}` is set without `role_arn`: it had no effect, and `assume_role` needs \
                         role_arn; remove it or add the role by hand",
                        old[0].0.key
                    ),
                });
            }
        }
        let mut values = Vec::new();
        for (setting, item) in &old {
            let value = item_value(text, body.syntax, setting, item)?;
            values.push((*setting, *item, value));
        }
        match existing {
            None => {
                let object = object_text(body.syntax, &values);
                let spread = spread_object(body.syntax, &values);
                own.push(Op::Rewrite(values[0].0, home, object, spread));
                own.extend(values[1..].iter().map(|(s, _, _)| Op::Delete(s)));
            }
            Some(home_setting) => {
                let Some(object) = &home_setting.object else {
                    return Err(PlanError {
                        offset: home_setting.key_span.start,
                        message: format!(
                            "`{home}` is not an object literal, so tflock cannot merge `{}` into it; move it by hand",
                            values[0].0.key
                        ),
                    });
                };
                let anchor = object
                    .settings
                    .iter()
                    .rev()
                    .find(|s| Some(s.key.as_str()) != dropped_item);
                let mut inserts = Vec::new();
                for (setting, item, value) in values {
                    own.push(Op::Delete(setting));
                    match object.get(item) {
                        Some(present) if same_value(text, present, &value) => {}
                        Some(present) => {
                            return Err(PlanError {
                                offset: setting.key_span.start,
                                message: format!(
                                    "`{}` and `{home}.{item}` are both set, to different values \
                                     (line {}); tflock will not guess which one counts",
                                    setting.key,
                                    source.line_of(present.key_span.start)
                                ),
                            });
                        }
                        None => inserts.push((item, value)),
                    }
                }
                if inserts.is_empty() {
                    continue;
                }
                let Some(anchor) = anchor else {
                    return Err(PlanError {
                        offset: home_setting.key_span.start,
                        message: format!(
                            "`{home}` is empty, so tflock cannot merge into it; move the settings by hand"
                        ),
                    });
                };
                let ops = inserts
                    .into_iter()
                    .map(|(item, value)| Op::InsertAfter(anchor, item, value))
                    .collect();
                nested.push(BodyOps { body: object, ops });
            }
        }
    }

    let terragrunt_map = is_terragrunt_map(backend);
    let renames: [(&str, &'static str); 2] = [
        ("force_path_style", "use_path_style"),
        ("shared_credentials_file", "shared_credentials_files"),
    ];
    for (old_key, new_key) in renames {
        let Some(old) = body.get(old_key) else {
            continue;
        };
        if terragrunt_map && TERRAGRUNT_KEEPS.contains(&old_key) {
            continue;
        }
        let value = value_text(text, old)?;
        let value = if new_key == "shared_credentials_files" {
            format!("[{value}]")
        } else {
            value.to_string()
        };
        match body.get(new_key) {
            None => own.push(Op::Rewrite(old, new_key, value, None)),
            Some(present) if same_value(text, present, &value) => own.push(Op::Delete(old)),
            Some(present) => {
                return Err(PlanError {
                    offset: old.key_span.start,
                    message: format!(
                        "`{old_key}` and `{new_key}` are both set, to different values (line {}); \
                         tflock will not guess which one counts",
                        source.line_of(present.key_span.start)
                    ),
                });
            }
        }
    }

    let vanishing: Vec<&Setting> = own
        .iter()
        .filter_map(|op| match op {
            Op::Delete(s) => Some(*s),
            _ => None,
        })
        .collect();
    let (action, mut bodies) = decide_avoiding(backend, strategy, &vanishing);
    if action != Action::Migrate {
        return Ok((action, bodies));
    }
    bodies[0].ops.extend(own);
    for extra in nested {
        match bodies.iter_mut().find(|b| std::ptr::eq(b.body, extra.body)) {
            Some(b) => b.ops.extend(extra.ops),
            None => bodies.push(extra),
        }
    }
    Ok((action, bodies))
}

/// A setting's value as source text that can move into a one-line object.
fn value_text<'t>(text: &'t str, setting: &Setting) -> Result<&'t str, PlanError> {
    let value = &text[setting.value_span.clone()];
    if value.contains('\n') {
        return Err(PlanError {
            offset: setting.key_span.start,
            message: format!(
                "`{}` spans several lines; tflock moves only one-line values, so move it by hand",
                setting.key
            ),
        });
    }
    Ok(value)
}

/// The value an old attribute takes in its new home.
fn item_value(
    text: &str,
    syntax: Syntax,
    setting: &Setting,
    item: &str,
) -> Result<String, PlanError> {
    if syntax == Syntax::Json && item != "duration" {
        // JSON has no layout to keep: a value over several lines is compacted.
        return Ok(compact_json(&text[setting.value_span.clone()]));
    }
    if item != "duration" {
        return value_text(text, setting).map(str::to_string);
    }
    let seconds = match &setting.value {
        Value::Number(n) | Value::String(n) => n.trim().parse::<u64>().ok(),
        _ => None,
    };
    let Some(seconds) = seconds else {
        return Err(PlanError {
            offset: setting.key_span.start,
            message: format!(
                "`{}` is not a whole number of seconds ({}); set assume_role's duration by hand",
                setting.key,
                setting.value.display()
            ),
        });
    };
    Ok(format!("\"{}\"", duration(seconds)))
}

/// A JSON value on one line: blanks outside strings dropped, one space after
/// `:` and `,` (strings, numbers and member order untouched).
fn compact_json(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in value.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            c if c.is_whitespace() => {}
            ':' | ',' => {
                out.push(c);
                out.push(' ');
            }
            c => out.push(c),
        }
    }
    out
}

/// Seconds as a Go duration string, the form `assume_role.duration` takes:
/// `3600` is `1h`, `5400` is `1h30m`, `90` is `1m30s`.
pub fn duration(seconds: u64) -> String {
    let (h, m, s) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// A one-line object in the body's syntax: `{ a = 1, b = 2 }` or `{"a": 1, "b": 2}`.
fn object_text(syntax: Syntax, items: &[(&Setting, &'static str, String)]) -> String {
    match syntax {
        Syntax::Json => {
            let members: Vec<String> = items
                .iter()
                .map(|(_, k, v)| format!("\"{k}\": {v}"))
                .collect();
            format!("{{{}}}", members.join(", "))
        }
        Syntax::HclBody | Syntax::HclObject => {
            let members: Vec<String> = items.iter().map(|(_, k, v)| format!("{k} = {v}")).collect();
            format!("{{ {} }}", members.join(", "))
        }
    }
}

/// From three items on, an HCL object reads better one item a line (aligned
/// as `terraform fmt` aligns them); the renderer indents it.
fn spread_object(syntax: Syntax, items: &[(&Setting, &'static str, String)]) -> Option<String> {
    if syntax == Syntax::Json || items.len() < 3 {
        return None;
    }
    let width = items.iter().map(|(_, k, _)| k.len()).max().unwrap_or(0);
    let rows: String = items
        .iter()
        .map(|(_, k, v)| format!("\n  {k:width$} = {v}"))
        .collect();
    Some(format!("{{{rows}\n}}"))
}

/// Whether a present setting already holds this value (source text, blanks aside).
fn same_value(text: &str, present: &Setting, value: &str) -> bool {
    let squeeze = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    squeeze(&text[present.value_span.clone()]) == squeeze(value)
}

/// The deprecated or removed attributes a backend sets, with what replaces each,
/// as (setting, old name, replacement) — `endpoints.dynamodb` included.
pub fn outdated(body: &Body) -> Vec<(&Setting, String, &'static str)> {
    let mut out = Vec::new();
    for s in &body.settings {
        if let Some((old, _)) = ASSUME_ROLE_ITEMS.iter().find(|(o, _)| *o == s.key) {
            out.push((s, old.to_string(), "assume_role"));
        }
        if let Some((old, new)) = DEPRECATED.iter().find(|(o, _)| *o == s.key) {
            out.push((s, old.to_string(), *new));
        }
        if s.key == "endpoints"
            && let Some(d) = s.object.as_ref().and_then(|o| o.get("dynamodb"))
        {
            out.push((d, "endpoints.dynamodb".to_string(), "use_lockfile"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::FileKind;
    use crate::plan::{PlanOptions, plan_backend_with, splice};

    /// The file after `--modernize` with `strategy`, or the planner's error.
    fn modernized(kind: FileKind, text: &str, strategy: Strategy) -> Result<String, String> {
        let source = Source::new(text.to_string());
        let backends = crate::parse::parse(kind, &source).map_err(|e| e.to_string())?;
        let options = PlanOptions {
            strategy,
            modernize: true,
        };
        let mut edits = Vec::new();
        for b in &backends {
            edits.extend(
                plan_backend_with(&source, b, &options)
                    .map_err(|e| e.message)?
                    .1,
            );
        }
        splice(text, &edits).map_err(|e| e.to_string())
    }

    fn block(rows: &str) -> String {
        format!("terraform {{\n  backend \"s3\" {{\n{rows}  }}\n}}\n")
    }

    #[test]
    fn table() {
        use Strategy::{Dual, Replace};
        let cases: &[(&str, Strategy, &str, &str)] = &[
            (
                "role and duration into one assume_role",
                Replace,
                "    bucket                       = \"b\"\n    role_arn                     = \"arn:r\"\n    assume_role_duration_seconds = 3600\n    dynamodb_table               = \"t\"\n",
                "    bucket       = \"b\"\n    assume_role  = { role_arn = \"arn:r\", duration = \"1h\" }\n    use_lockfile = true\n",
            ),
            (
                "same value in both spellings: the old one goes",
                Dual,
                "    bucket           = \"b\"\n    force_path_style = true\n    use_path_style   = true\n    dynamodb_table   = \"t\"\n",
                "    bucket         = \"b\"\n    use_path_style = true\n    dynamodb_table = \"t\"\n    use_lockfile   = true\n",
            ),
            (
                "merged into a one-line endpoints",
                Replace,
                "    bucket         = \"b\"\n    endpoints      = { s3 = \"http://s3\" }\n    sts_endpoint   = \"http://sts\"\n    dynamodb_table = \"t\"\n",
                "    bucket       = \"b\"\n    endpoints    = { s3 = \"http://s3\", sts = \"http://sts\" }\n    use_lockfile = true\n",
            ),
            (
                "dual moves dynamodb_endpoint into endpoints",
                Dual,
                "    bucket            = \"b\"\n    dynamodb_endpoint = \"http://ddb\"\n    dynamodb_table    = \"t\"\n",
                "    bucket         = \"b\"\n    endpoints      = { dynamodb = \"http://ddb\" }\n    dynamodb_table = \"t\"\n    use_lockfile   = true\n",
            ),
            (
                "shared_credentials_file becomes a list",
                Replace,
                "    shared_credentials_file = \"~/.aws/c\"\n    dynamodb_table          = \"t\"\n",
                "    shared_credentials_files = [\"~/.aws/c\"]\n    use_lockfile             = true\n",
            ),
        ];
        for (what, strategy, before, after) in cases {
            assert_eq!(
                modernized(FileKind::Terraform, &block(before), *strategy).as_deref(),
                Ok(block(after).as_str()),
                "{what}"
            );
        }
    }

    #[test]
    fn three_items_or_more_go_one_a_line_unless_a_comment_is_in_the_way() {
        let rows = "    bucket         = \"b\"\n    role_arn       = \"arn:r\"\n    session_name   = \"sess\"\n    external_id    = \"x\"\n    dynamodb_table = \"t\"\n";
        assert_eq!(
            modernized(FileKind::Terraform, &block(rows), Strategy::Replace).unwrap(),
            block(
                "    bucket = \"b\"\n    assume_role = {\n      role_arn     = \"arn:r\"\n      session_name = \"sess\"\n      external_id  = \"x\"\n    }\n    use_lockfile = true\n"
            )
        );
        let commented = rows.replace("\"arn:r\"", "\"arn:r\" # role");
        let out = modernized(FileKind::Terraform, &block(&commented), Strategy::Replace).unwrap();
        assert!(
            out.contains("assume_role  = { role_arn = \"arn:r\", session_name = \"sess\", external_id = \"x\" } # role"),
            "{out}"
        );
    }

    #[test]
    fn conflicts_and_lone_attributes_are_errors() {
        let clash = block(
            "    role_arn       = \"arn:a\"\n    assume_role    = { role_arn = \"arn:b\" }\n    dynamodb_table = \"t\"\n",
        );
        let err = modernized(FileKind::Terraform, &clash, Strategy::Replace).unwrap_err();
        assert!(err.contains("both set, to different values"), "{err}");
        let paths = block(
            "    force_path_style = true\n    use_path_style   = false\n    dynamodb_table   = \"t\"\n",
        );
        assert!(modernized(FileKind::Terraform, &paths, Strategy::Dual).is_err());
        let lone = block("    session_name   = \"s\"\n    dynamodb_table = \"t\"\n");
        let err = modernized(FileKind::Terraform, &lone, Strategy::Replace).unwrap_err();
        assert!(err.contains("without `role_arn`"), "{err}");
        let expr = block(
            "    role_arn                     = \"arn:a\"\n    assume_role_duration_seconds = var.d\n    dynamodb_table               = \"t\"\n",
        );
        assert!(modernized(FileKind::Terraform, &expr, Strategy::Replace).is_err());
    }

    #[test]
    fn json_and_terragrunt() {
        let json = "{\"terraform\": {\"backend\": {\"s3\": {\"bucket\": \"b\", \"role_arn\": \"arn:r\", \"dynamodb_table\": \"t\"}}}}";
        assert_eq!(
            modernized(FileKind::TerraformJson, json, Strategy::Replace).unwrap(),
            "{\"terraform\": {\"backend\": {\"s3\": {\"bucket\": \"b\", \"assume_role\": {\"role_arn\": \"arn:r\"}, \"use_lockfile\": true}}}}"
        );
        // Terragrunt's own S3 client reads force_path_style: kept in remote_state.
        let tg = "remote_state {\n  backend = \"s3\"\n  config = {\n    bucket           = \"b\"\n    force_path_style = true\n    lock_table       = \"t\"\n  }\n}\n";
        assert_eq!(
            modernized(FileKind::Terragrunt, tg, Strategy::Replace).unwrap(),
            "remote_state {\n  backend = \"s3\"\n  config = {\n    bucket           = \"b\"\n    force_path_style = true\n    use_lockfile     = true\n  }\n}\n"
        );
    }

    #[test]
    fn json_values_are_compacted_outside_strings() {
        assert_eq!(
            compact_json("{\n  \"a b\": [\n    \"x,\\\" y\"\n  ]\n}"),
            "{\"a b\": [\"x,\\\" y\"]}"
        );
    }

    #[test]
    fn durations_read_as_go_writes_them() {
        assert_eq!(duration(3600), "1h");
        assert_eq!(duration(5400), "1h30m");
        assert_eq!(duration(90), "1m30s");
        assert_eq!(duration(900), "15m");
        assert_eq!(duration(43200), "12h");
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(3661), "1h1m1s");
    }
}
