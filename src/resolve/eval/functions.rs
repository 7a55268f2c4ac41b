//! HCL/Terraform functions that need nothing but their arguments. Functions
//! that need the unit (paths, files, env, Terragrunt's own) live in `scope`.
//! A function tflock does not know is unknown, never an error: it may exist
//! in the Terragrunt or Terraform version that runs.

use hcl::Map;
use unicode_segmentation::UnicodeSegmentation;

use super::interp::{EvalResult, to_number, unprefixed};
use super::paths;
use super::value::{Val, equal, from_json, number_from_f64, to_json};

/// Functions whose value only a real run knows (credentials, commands, time).
const RUN_TIME_ONLY: &[(&str, &str)] = &[
    ("get_aws_account_id", "needs AWS credentials"),
    ("get_aws_account_alias", "needs AWS credentials"),
    ("get_aws_caller_identity_arn", "needs AWS credentials"),
    ("get_aws_caller_identity_user_id", "needs AWS credentials"),
    ("run_cmd", "runs a command"),
    (
        "sops_decrypt_file",
        "decrypts with keys tflock does not have",
    ),
    ("get_terraform_command", "depends on the command being run"),
    ("get_terraform_cli_args", "depends on the command being run"),
    ("get_working_dir", "depends on Terragrunt's download dir"),
    (
        "get_terragrunt_source_cli_flag",
        "depends on the command line",
    ),
    ("get_platform", "depends on the machine that runs"),
    ("timestamp", "is the time of the run"),
    ("plantimestamp", "is the time of the run"),
    ("uuid", "is random"),
    ("pathexpand", "depends on the home directory of the run"),
    ("templatefile", "is not evaluated by tflock"),
];

pub(crate) fn call(name: &str, args: &[Val]) -> EvalResult {
    if let Some((_, why)) = RUN_TIME_ONLY.iter().find(|(n, _)| *n == name) {
        return Ok(Val::unknown(format!(
            "{name}() {why}: known only at run time"
        )));
    }
    if name == "coalesce" {
        return coalesce(args);
    }
    // Functions that look only at the outer shape of their arguments keep
    // working when some nested part is unknown.
    if let Some(u) = args.iter().find_map(|a| match a {
        Val::Unknown(u) => Some(u.clone()),
        _ => None,
    }) {
        return Ok(Val::Unknown(unprefixed(u)));
    }
    match name {
        "merge" => return merge(args),
        "lookup" => return lookup(args),
        "element" => return element(args),
        "concat" => return concat(args),
        "length" => return length(args),
        "keys" => return keys_values(args, true),
        "values" => return keys_values(args, false),
        "tolist" | "toset" | "tomap" => return one(name, args).cloned(),
        _ => {}
    }
    if let Some(u) = args.iter().find_map(Val::first_unknown) {
        return Ok(Val::Unknown(unprefixed(u.clone())));
    }
    match name {
        "lower" => Ok(Val::String(string_arg(name, args, 0)?.to_lowercase())),
        "upper" => Ok(Val::String(string_arg(name, args, 0)?.to_uppercase())),
        "trimspace" => Ok(Val::String(string_arg(name, args, 0)?.trim().to_string())),
        "chomp" => Ok(Val::String(
            string_arg(name, args, 0)?
                .trim_end_matches(['\n', '\r'])
                .to_string(),
        )),
        "trimprefix" => {
            let (s, p) = (string_arg(name, args, 0)?, string_arg(name, args, 1)?);
            Ok(Val::String(
                s.strip_prefix(p.as_str()).unwrap_or(&s).to_string(),
            ))
        }
        "trimsuffix" => {
            let (s, p) = (string_arg(name, args, 0)?, string_arg(name, args, 1)?);
            Ok(Val::String(
                s.strip_suffix(p.as_str()).unwrap_or(&s).to_string(),
            ))
        }
        "trim" => {
            let (s, cut) = (string_arg(name, args, 0)?, string_arg(name, args, 1)?);
            Ok(Val::String(s.trim_matches(|c| cut.contains(c)).to_string()))
        }
        "startswith" => Ok(Val::Bool(
            string_arg(name, args, 0)?.starts_with(string_arg(name, args, 1)?.as_str()),
        )),
        "endswith" => Ok(Val::Bool(
            string_arg(name, args, 0)?.ends_with(string_arg(name, args, 1)?.as_str()),
        )),
        "strcontains" => Ok(Val::Bool(
            string_arg(name, args, 0)?.contains(string_arg(name, args, 1)?.as_str()),
        )),
        "replace" => replace(args),
        "split" => {
            let (sep, s) = (string_arg(name, args, 0)?, string_arg(name, args, 1)?);
            if sep.is_empty() {
                return Ok(Val::List(
                    s.graphemes(true).map(|g| Val::String(g.into())).collect(),
                ));
            }
            Ok(Val::List(
                s.split(sep.as_str())
                    .map(|p| Val::String(p.into()))
                    .collect(),
            ))
        }
        "join" => join(args),
        "format" => format(args),
        "substr" => substr(args),
        "basename" => Ok(Val::String(paths::go_base(&string_arg(name, args, 0)?))),
        "dirname" => Ok(Val::String(paths::go_dir(&string_arg(name, args, 0)?))),
        "abspath" => {
            let p = string_arg(name, args, 0)?;
            if std::path::Path::new(&p).is_absolute() {
                Ok(Val::String(
                    paths::clean(std::path::Path::new(&p))
                        .to_string_lossy()
                        .into(),
                ))
            } else {
                // Terraform resolves it against the process's working directory,
                // which is wherever the user started Terragrunt.
                Ok(Val::unknown(format!(
                    "abspath({p:?}) depends on the directory Terragrunt runs in"
                )))
            }
        }
        "contains" => {
            let [list, item] = args else {
                return Err("contains() takes a list and a value".into());
            };
            match list {
                Val::List(items) => Ok(Val::Bool(items.iter().any(|i| equal(i, item)))),
                other => Err(format!("contains() of a {}", other.type_name())),
            }
        }
        "tostring" => match one(name, args)? {
            Val::Null => Ok(Val::Null),
            v @ (Val::String(_) | Val::Number(_) | Val::Bool(_)) => Ok(Val::String(v.to_str()?)),
            other => Err(format!("tostring() of a {}", other.type_name())),
        },
        "tonumber" => match one(name, args)? {
            Val::Null => Ok(Val::Null),
            v => number_from_f64(to_number(v)?),
        },
        "tobool" => match one(name, args)? {
            Val::Bool(b) => Ok(Val::Bool(*b)),
            Val::String(s) if s == "true" => Ok(Val::Bool(true)),
            Val::String(s) if s == "false" => Ok(Val::Bool(false)),
            Val::Null => Ok(Val::Null),
            other => Err(format!("tobool() of a {}", other.type_name())),
        },
        "jsondecode" => {
            let s = string_arg(name, args, 0)?;
            serde_json::from_str::<serde_json::Value>(&s)
                .map(from_json)
                .map_err(|e| format!("jsondecode(): {e}"))
        }
        "jsonencode" => to_json(one(name, args)?)
            .map(|j| Val::String(j.to_string()))
            .map_err(|e| format!("jsonencode(): {e}")),
        "yamldecode" => yamldecode(&string_arg(name, args, 0)?),
        "flatten" => {
            fn flat(v: &Val, out: &mut Vec<Val>) {
                match v {
                    Val::List(items) => items.iter().for_each(|i| flat(i, out)),
                    other => out.push(other.clone()),
                }
            }
            let mut out = Vec::new();
            flat(one(name, args)?, &mut out);
            Ok(Val::List(out))
        }
        "distinct" => {
            let items = list_arg(name, args, 0)?;
            let mut out: Vec<Val> = Vec::new();
            for i in items {
                if !out.iter().any(|o| equal(o, i)) {
                    out.push(i.clone());
                }
            }
            Ok(Val::List(out))
        }
        "compact" => Ok(Val::List(
            list_arg(name, args, 0)?
                .iter()
                .filter(|v| !matches!(v, Val::Null) && !matches!(v, Val::String(s) if s.is_empty()))
                .cloned()
                .collect(),
        )),
        "reverse" => Ok(Val::List(
            list_arg(name, args, 0)?.iter().rev().cloned().collect(),
        )),
        "coalescelist" => Ok(args
            .iter()
            .find(|a| matches!(a, Val::List(l) if !l.is_empty()))
            .cloned()
            .unwrap_or(Val::List(vec![]))),
        "regex" => regex_fn(args),
        "min" | "max" => {
            let nums = args.iter().map(to_number).collect::<Result<Vec<_>, _>>()?;
            let pick = if name == "min" { f64::min } else { f64::max };
            let first = *nums
                .first()
                .ok_or_else(|| format!("{name}() needs a number"))?;
            number_from_f64(nums.into_iter().fold(first, pick))
        }
        "zipmap" => {
            let (k, v) = (list_arg(name, args, 0)?, list_arg(name, args, 1)?);
            if k.len() != v.len() {
                return Err("zipmap(): the lists differ in length".into());
            }
            let mut map = Map::new();
            for (k, v) in k.iter().zip(v) {
                map.insert(k.to_str()?, v.clone());
            }
            Ok(Val::Object(map))
        }
        other => Ok(Val::unknown(format!(
            "{other}() is a function tflock does not evaluate"
        ))),
    }
}

fn one<'a>(name: &str, args: &'a [Val]) -> Result<&'a Val, String> {
    match args {
        [v] => Ok(v),
        _ => Err(format!("{name}() takes one argument, not {}", args.len())),
    }
}

fn string_arg(name: &str, args: &[Val], i: usize) -> Result<String, String> {
    args.get(i)
        .ok_or_else(|| format!("{name}() is missing argument {}", i + 1))?
        .to_str()
        .map_err(|e| format!("{name}(): {e}"))
}

fn list_arg<'a>(name: &str, args: &'a [Val], i: usize) -> Result<&'a [Val], String> {
    match args.get(i) {
        Some(Val::List(items)) => Ok(items),
        Some(other) => Err(format!(
            "{name}(): argument {} is a {}, not a list",
            i + 1,
            other.type_name()
        )),
        None => Err(format!("{name}() is missing argument {}", i + 1)),
    }
}

fn merge(args: &[Val]) -> EvalResult {
    let mut out = Map::new();
    for arg in args {
        match arg {
            Val::Null => {}
            Val::Object(map) => {
                for (k, v) in map {
                    out.insert(k.clone(), v.clone());
                }
            }
            other => return Err(format!("merge() of a {}", other.type_name())),
        }
    }
    Ok(Val::Object(out))
}

fn lookup(args: &[Val]) -> EvalResult {
    let (map, key, default) = match args {
        [m, k] => (m, k, None),
        [m, k, d] => (m, k, Some(d)),
        _ => return Err("lookup() takes a map, a key and an optional default".into()),
    };
    let Val::Object(map) = map else {
        return Err(format!("lookup() of a {}", map.type_name()));
    };
    if let Some(u) = key.first_unknown() {
        return Ok(Val::Unknown(unprefixed(u.clone())));
    }
    match (map.get(&key.to_str()?), default) {
        (Some(v), _) => Ok(v.clone()),
        (None, Some(d)) => Ok(d.clone()),
        (None, None) => Err(format!("lookup(): no key {:?}", key.to_str()?)),
    }
}

fn element(args: &[Val]) -> EvalResult {
    let [Val::List(items), idx] = args else {
        return Err("element() takes a list and an index".into());
    };
    if let Some(u) = idx.first_unknown() {
        return Ok(Val::Unknown(unprefixed(u.clone())));
    }
    let i = to_number(idx)?;
    if items.is_empty() || i < 0.0 || i.fract() != 0.0 {
        return Err(format!(
            "element(): no element {i} in a list of {}",
            items.len()
        ));
    }
    // Terraform wraps around the end of the list.
    Ok(items[(i as usize) % items.len()].clone())
}

fn concat(args: &[Val]) -> EvalResult {
    let mut out = Vec::new();
    for arg in args {
        match arg {
            Val::List(items) => out.extend(items.iter().cloned()),
            other => return Err(format!("concat() of a {}", other.type_name())),
        }
    }
    Ok(Val::List(out))
}

fn length(args: &[Val]) -> EvalResult {
    let n = match one("length", args)? {
        Val::List(items) => items.len(),
        Val::Object(map) => map.len(),
        Val::String(s) => s.graphemes(true).count(),
        other => return Err(format!("length() of a {}", other.type_name())),
    };
    Ok(Val::Number((n as u64).into()))
}

/// The first argument that is neither null nor "". An unknown argument
/// before it makes the result unknown (at run time it may be the one taken);
/// an unknown after it does not matter.
fn coalesce(args: &[Val]) -> EvalResult {
    for arg in args {
        if let Some(u) = arg.first_unknown() {
            return Ok(Val::unknown(format!(
                "coalesce(): an argument before the first known one is known only at run time ({})",
                u.reason
            )));
        }
        match arg {
            Val::Null => continue,
            Val::String(s) if s.is_empty() => continue,
            other => return Ok(other.clone()),
        }
    }
    Err("coalesce(): every argument is null or empty".into())
}

fn keys_values(args: &[Val], keys: bool) -> EvalResult {
    match one(if keys { "keys" } else { "values" }, args)? {
        Val::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            // Terraform returns them in lexical key order.
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Ok(Val::List(
                entries
                    .into_iter()
                    .map(|(k, v)| {
                        if keys {
                            Val::String(k.clone())
                        } else {
                            v.clone()
                        }
                    })
                    .collect(),
            ))
        }
        other => Err(format!("keys()/values() of a {}", other.type_name())),
    }
}

fn join(args: &[Val]) -> EvalResult {
    let sep = string_arg("join", args, 0)?;
    let mut parts = Vec::new();
    for list in &args[1..] {
        let Val::List(items) = list else {
            return Err(format!("join() of a {}", list.type_name()));
        };
        for item in items {
            parts.push(item.to_str().map_err(|e| format!("join(): {e}"))?);
        }
    }
    Ok(Val::String(parts.join(&sep)))
}

/// `replace(s, old, new)`; `old` in slashes is a regular expression (RE2
/// syntax, `$1` in `new`), as in Terraform.
fn replace(args: &[Val]) -> EvalResult {
    let s = string_arg("replace", args, 0)?;
    let old = string_arg("replace", args, 1)?;
    let new = string_arg("replace", args, 2)?;
    if old.len() > 1 && old.starts_with('/') && old.ends_with('/') {
        let re = regex::Regex::new(&old[1..old.len() - 1])
            .map_err(|e| format!("replace(): bad regular expression: {e}"))?;
        return Ok(Val::String(re.replace_all(&s, new.as_str()).into_owned()));
    }
    if old.is_empty() {
        return Ok(Val::String(s));
    }
    Ok(Val::String(s.replace(&old, &new)))
}

fn regex_fn(args: &[Val]) -> EvalResult {
    let pattern = string_arg("regex", args, 0)?;
    let s = string_arg("regex", args, 1)?;
    let re = regex::Regex::new(&pattern).map_err(|e| format!("regex(): {e}"))?;
    let caps = re
        .captures(&s)
        .ok_or_else(|| "regex(): the pattern does not match".to_string())?;
    let names: Vec<_> = re.capture_names().collect();
    if re.captures_len() == 1 {
        return Ok(Val::String(caps[0].to_string()));
    }
    if names.iter().skip(1).all(Option::is_some) {
        let mut map = Map::new();
        for name in names.into_iter().flatten() {
            let v = caps.name(name).map(|m| m.as_str().to_string());
            map.insert(name.to_string(), v.map(Val::String).unwrap_or(Val::Null));
        }
        return Ok(Val::Object(map));
    }
    Ok(Val::List(
        (1..re.captures_len())
            .map(|i| {
                caps.get(i)
                    .map(|m| Val::String(m.as_str().into()))
                    .unwrap_or(Val::Null)
            })
            .collect(),
    ))
}

fn substr(args: &[Val]) -> EvalResult {
    let s = string_arg("substr", args, 0)?;
    let offset = to_number(args.get(1).ok_or("substr() needs an offset")?)? as i64;
    let length = to_number(args.get(2).ok_or("substr() needs a length")?)? as i64;
    let g: Vec<&str> = s.graphemes(true).collect();
    let n = g.len() as i64;
    let start = if offset < 0 {
        (n + offset).max(0)
    } else {
        offset.min(n)
    };
    let end = if length < 0 {
        n
    } else {
        (start + length).min(n)
    };
    Ok(Val::String(g[start as usize..end as usize].concat()))
}

/// Terraform's `format` for the verbs configurations use: `%s %d %v %q %t %f %%`,
/// with an optional width (zero-padded with `0`).
fn format(args: &[Val]) -> EvalResult {
    let spec = string_arg("format", args, 0)?;
    let mut out = String::new();
    let mut next = 1;
    let mut chars = spec.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut flags = String::new();
        while let Some(&f) = chars.peek() {
            if f.is_ascii_digit() || f == '-' || f == '.' {
                flags.push(f);
                chars.next();
            } else {
                break;
            }
        }
        let verb = chars.next().ok_or("format(): a trailing %")?;
        if verb == '%' {
            out.push('%');
            continue;
        }
        let arg = args
            .get(next)
            .ok_or_else(|| format!("format(): too few arguments for {spec:?}"))?;
        next += 1;
        let text = match verb {
            's' | 'v' => match arg {
                Val::List(_) | Val::Object(_) if verb == 'v' => to_json(arg)?.to_string(),
                _ => arg.to_str().map_err(|e| format!("format(): {e}"))?,
            },
            'q' => serde_json::Value::String(arg.to_str()?).to_string(),
            't' => match arg {
                Val::Bool(b) => b.to_string(),
                other => return Err(format!("format(): %t of a {}", other.type_name())),
            },
            'd' => {
                let n = to_number(arg)?;
                if n.fract() != 0.0 {
                    return Err(format!("format(): %d of {n}"));
                }
                format!("{}", n as i64)
            }
            'f' => {
                let n = to_number(arg)?;
                let precision = flags
                    .split_once('.')
                    .and_then(|(_, p)| p.parse::<usize>().ok())
                    .unwrap_or(6);
                format!("{n:.precision$}")
            }
            other => {
                return Ok(Val::unknown(format!(
                    "format() verb %{other} is not evaluated by tflock"
                )));
            }
        };
        let width: usize = flags
            .split('.')
            .next()
            .unwrap_or("")
            .trim_start_matches('-')
            .parse()
            .unwrap_or(0);
        let pad = width.saturating_sub(text.chars().count());
        if flags.starts_with('-') {
            out.push_str(&text);
            out.push_str(&" ".repeat(pad));
        } else if flags.starts_with('0') && matches!(verb, 'd' | 'f') {
            out.push_str(&"0".repeat(pad));
            out.push_str(&text);
        } else {
            out.push_str(&" ".repeat(pad));
            out.push_str(&text);
        }
    }
    Ok(Val::String(out))
}

fn yamldecode(s: &str) -> EvalResult {
    use yaml_rust2::Yaml;
    fn convert(y: Yaml) -> EvalResult {
        Ok(match y {
            Yaml::Null => Val::Null,
            Yaml::Boolean(b) => Val::Bool(b),
            Yaml::Integer(i) => Val::Number(i.into()),
            Yaml::Real(r) => number_from_f64(
                r.parse::<f64>()
                    .map_err(|_| format!("yamldecode(): number {r:?}"))?,
            )?,
            Yaml::String(s) => Val::String(s),
            Yaml::Array(items) => {
                Val::List(items.into_iter().map(convert).collect::<Result<_, _>>()?)
            }
            Yaml::Hash(map) => {
                let mut out = Map::new();
                for (k, v) in map {
                    let key = match k {
                        Yaml::String(s) | Yaml::Real(s) => s,
                        Yaml::Integer(i) => i.to_string(),
                        Yaml::Boolean(b) => b.to_string(),
                        _ => return Err("yamldecode(): a key that is not a string".into()),
                    };
                    out.insert(key, convert(v)?);
                }
                Val::Object(out)
            }
            Yaml::Alias(_) => {
                return Ok(Val::unknown("yamldecode(): YAML aliases are not evaluated"));
            }
            Yaml::BadValue => return Err("yamldecode(): a bad value".into()),
        })
    }
    let mut docs =
        yaml_rust2::YamlLoader::load_from_str(s).map_err(|e| format!("yamldecode(): {e}"))?;
    match docs.len() {
        0 => Ok(Val::Null),
        1 => convert(docs.remove(0)),
        _ => Err("yamldecode(): more than one YAML document".into()),
    }
}
