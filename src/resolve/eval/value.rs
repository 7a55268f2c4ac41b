//! The evaluator's own value: an HCL value in which any part may be unknown.
//! Unknown parts stay where they are, so `local.cfg.bucket` is known even when
//! `local.cfg.role` is not; only what a caller asks for must be fully known.

use hcl::{Map, Number, Value};

/// Why a value is not known offline, and the known start of it when it is a
/// string (a template whose first parts are known), for conservative checks.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Unknown {
    pub reason: String,
    pub prefix: String,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    List(Vec<Val>),
    Object(Map<String, Val>),
    Unknown(Unknown),
}

impl Val {
    pub fn unknown(reason: impl Into<String>) -> Val {
        Val::Unknown(Unknown {
            reason: reason.into(),
            prefix: String::new(),
        })
    }

    /// The first unknown part, depth first, in written order.
    pub fn first_unknown(&self) -> Option<&Unknown> {
        match self {
            Val::Unknown(u) => Some(u),
            Val::List(items) => items.iter().find_map(Val::first_unknown),
            Val::Object(map) => map.values().find_map(Val::first_unknown),
            _ => None,
        }
    }

    /// The whole value as plain HCL, or the first unknown part.
    pub fn into_known(self) -> Result<Value, Unknown> {
        Ok(match self {
            Val::Null => Value::Null,
            Val::Bool(b) => Value::Bool(b),
            Val::Number(n) => Value::Number(n),
            Val::String(s) => Value::String(s),
            Val::List(items) => Value::Array(
                items
                    .into_iter()
                    .map(Val::into_known)
                    .collect::<Result<_, _>>()?,
            ),
            Val::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(k, v)| v.into_known().map(|v| (k, v)))
                    .collect::<Result<_, _>>()?,
            ),
            Val::Unknown(u) => return Err(u),
        })
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Val::Null => "null",
            Val::Bool(_) => "bool",
            Val::Number(_) => "number",
            Val::String(_) => "string",
            Val::List(_) => "list",
            Val::Object(_) => "object",
            Val::Unknown(_) => "unknown",
        }
    }

    /// The string form a template interpolation or a string parameter gets
    /// (HCL converts numbers and bools to strings there).
    pub fn to_str(&self) -> Result<String, String> {
        match self {
            Val::String(s) => Ok(s.clone()),
            Val::Number(n) => Ok(number_to_string(n)),
            Val::Bool(b) => Ok(b.to_string()),
            Val::Null => Err("a null value cannot be used as a string".into()),
            other => Err(format!(
                "a {} cannot be used as a string",
                other.type_name()
            )),
        }
    }
}

/// Numbers as Terraform prints them: integers without a fraction.
pub(crate) fn number_to_string(n: &Number) -> String {
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
        _ => n.to_string(),
    }
}

pub(crate) fn number_from_f64(f: f64) -> Result<Val, String> {
    if f.fract() == 0.0 && f.abs() < 9e15 {
        return Ok(Val::Number(Number::from(f as i64)));
    }
    Number::from_f64(f)
        .map(Val::Number)
        .ok_or_else(|| "the result is not a finite number".to_string())
}

/// Structural equality, numbers by value (`1 == 1.0`).
pub(crate) fn equal(a: &Val, b: &Val) -> bool {
    match (a, b) {
        (Val::Number(x), Val::Number(y)) => x.as_f64() == y.as_f64(),
        (Val::List(x), Val::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| equal(a, b))
        }
        (Val::Object(x), Val::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w)))
        }
        _ => a == b,
    }
}

pub(crate) fn from_json(value: serde_json::Value) -> Val {
    match value {
        serde_json::Value::Null => Val::Null,
        serde_json::Value::Bool(b) => Val::Bool(b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Val::Number(Number::from(i)),
            None => n
                .as_f64()
                .and_then(Number::from_f64)
                .map(Val::Number)
                .unwrap_or_else(|| Val::unknown("a JSON number out of range")),
        },
        serde_json::Value::String(s) => Val::String(s),
        serde_json::Value::Array(items) => Val::List(items.into_iter().map(from_json).collect()),
        serde_json::Value::Object(map) => {
            Val::Object(map.into_iter().map(|(k, v)| (k, from_json(v))).collect())
        }
    }
}

pub(crate) fn to_json(value: &Val) -> Result<serde_json::Value, String> {
    Ok(match value {
        Val::Null => serde_json::Value::Null,
        Val::Bool(b) => serde_json::Value::Bool(*b),
        Val::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => serde_json::Value::from(i),
            (None, Some(f)) => serde_json::Value::from(f),
            _ => return Err("a number JSON cannot hold".into()),
        },
        Val::String(s) => serde_json::Value::String(s.clone()),
        Val::List(items) => {
            serde_json::Value::Array(items.iter().map(to_json).collect::<Result<_, _>>()?)
        }
        Val::Object(map) => serde_json::Value::Object(
            map.iter()
                .map(|(k, v)| to_json(v).map(|v| (k.clone(), v)))
                .collect::<Result<_, _>>()?,
        ),
        Val::Unknown(u) => return Err(u.reason.clone()),
    })
}
