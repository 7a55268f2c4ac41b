//! The expression interpreter: HCL expressions and templates over `Val`.
//!
//! Why our own interpreter rather than `hcl::eval`: hcl-rs has no unknown
//! values (an unknown would have to be a fake value that `length()` or `==`
//! then treats as real), its functions are plain `fn` pointers with no access
//! to the unit being evaluated, and it evaluates every argument eagerly, so
//! `try` could not catch an error. Walking the hcl-rs tree ourselves gives
//! unknowns that propagate, `try`/`can` that see errors, and context functions
//! that read the scope directly (the `Host`), with no thread-local state.
//!
//! `Err` is a definite evaluation error (Terragrunt would fail the same way);
//! `Val::Unknown` is a value only a real run knows.

use std::cell::Cell;

use hcl::expr::{
    BinaryOperator, Conditional, ForExpr, FuncCall, Operation, TemplateExpr, Traversal,
    TraversalOperator, UnaryOperator,
};
use hcl::template::{Directive, Element, Strip};
use hcl::{Expression, Map, ObjectKey, Template};

use super::functions;
use super::value::{Unknown, Val, equal, number_from_f64};

pub(crate) type EvalResult = Result<Val, String>;

/// Strings longer than this are unknown (a chain of locals could double a
/// string at each step).
const MAX_STRING: usize = 1024 * 1024;
/// Nesting of expressions evaluated at once (calls, traversals, templates).
const MAX_DEPTH: usize = 128;

/// What the interpreter needs from the Terragrunt side.
pub(crate) trait Host {
    /// A root variable (`local`, `include`, `dependency`, ...). When the
    /// expression goes on with `.attr`, `attr` is given; the host says whether
    /// it already applied it (so `local.x` evaluates only that local).
    fn variable(&self, name: &str, attr: Option<&str>) -> Result<(Val, bool), String>;
    /// A function that needs the scope (path functions, `get_env`, `file`,
    /// `read_terragrunt_config`, ...); `None` when `name` is not one.
    fn call(&self, name: &str, args: &[Val]) -> Option<EvalResult>;
    /// One unit of work; an error once the budget for one evaluation is spent.
    fn tick(&self) -> Result<(), String>;
}

pub(crate) struct Env<'h> {
    host: &'h dyn Host,
    vars: Vec<(String, Val)>,
    depth: &'h Cell<usize>,
}

impl<'h> Env<'h> {
    pub fn new(host: &'h dyn Host, depth: &'h Cell<usize>) -> Env<'h> {
        Env {
            host,
            vars: Vec::new(),
            depth,
        }
    }

    fn with(&self, vars: Vec<(String, Val)>) -> Env<'h> {
        let mut all = self.vars.clone();
        all.extend(vars);
        Env {
            host: self.host,
            vars: all,
            depth: self.depth,
        }
    }

    pub fn eval(&self, expr: &Expression) -> EvalResult {
        self.host.tick()?;
        if self.depth.get() >= MAX_DEPTH {
            return Ok(Val::unknown(
                "the expression is nested too deeply to evaluate",
            ));
        }
        self.depth.set(self.depth.get() + 1);
        let result = self.eval_inner(expr);
        self.depth.set(self.depth.get() - 1);
        result
    }

    fn eval_inner(&self, expr: &Expression) -> EvalResult {
        Ok(match expr {
            Expression::Null => Val::Null,
            Expression::Bool(b) => Val::Bool(*b),
            Expression::Number(n) => Val::Number(*n),
            Expression::String(s) => Val::String(s.clone()),
            Expression::Array(items) => Val::List(
                items
                    .iter()
                    .map(|e| self.eval(e))
                    .collect::<Result<_, _>>()?,
            ),
            Expression::Object(items) => {
                let mut map = Map::new();
                for (key, value) in items {
                    let key = match key {
                        ObjectKey::Identifier(id) => id.to_string(),
                        ObjectKey::Expression(e) => match self.eval(e)? {
                            Val::Unknown(u) => return Ok(Val::Unknown(unprefixed(u))),
                            other => other.to_str()?,
                        },
                        _ => {
                            return Ok(Val::unknown("an object key form tflock does not evaluate"));
                        }
                    };
                    map.insert(key, self.eval(value)?);
                }
                Val::Object(map)
            }
            Expression::TemplateExpr(t) => return self.template_expr(t),
            Expression::Variable(v) => return self.variable(v.as_str(), &[]),
            Expression::Traversal(t) => return self.traversal(t),
            Expression::FuncCall(call) => return self.call(call),
            Expression::Parenthesis(inner) => return self.eval(inner),
            Expression::Conditional(c) => return self.conditional(c),
            Expression::Operation(op) => return self.operation(op),
            Expression::ForExpr(f) => return self.for_expr(f),
            _ => Val::unknown("an expression form tflock does not evaluate"),
        })
    }

    fn variable(&self, name: &str, ops: &[TraversalOperator]) -> EvalResult {
        if let Some((_, v)) = self.vars.iter().rev().find(|(n, _)| n == name) {
            return apply_ops(self, v.clone(), ops);
        }
        let attr = match ops.first() {
            Some(TraversalOperator::GetAttr(id)) => Some(id.as_str()),
            _ => None,
        };
        let (value, consumed) = self.host.variable(name, attr)?;
        let rest = if consumed { &ops[1..] } else { ops };
        apply_ops(self, value, rest)
    }

    fn traversal(&self, t: &Traversal) -> EvalResult {
        match &t.expr {
            Expression::Variable(v) => self.variable(v.as_str(), &t.operators),
            other => {
                let base = self.eval(other)?;
                apply_ops(self, base, &t.operators)
            }
        }
    }

    fn conditional(&self, c: &Conditional) -> EvalResult {
        match self.eval(&c.cond_expr)? {
            Val::Bool(true) => self.eval(&c.true_expr),
            Val::Bool(false) => self.eval(&c.false_expr),
            Val::Unknown(u) => Ok(Val::Unknown(unprefixed(u))),
            other => Err(format!(
                "the condition is a {}, not a bool",
                other.type_name()
            )),
        }
    }

    fn operation(&self, op: &Operation) -> EvalResult {
        match op {
            Operation::Unary(u) => {
                let v = self.eval(&u.expr)?;
                match (u.operator, v) {
                    (_, Val::Unknown(u)) => Ok(Val::Unknown(unprefixed(u))),
                    (UnaryOperator::Not, Val::Bool(b)) => Ok(Val::Bool(!b)),
                    (UnaryOperator::Neg, Val::Number(n)) => Ok(Val::Number(-n)),
                    (op, v) => Err(format!("cannot apply {op:?} to a {}", v.type_name())),
                }
            }
            Operation::Binary(b) => {
                let lhs = self.eval(&b.lhs_expr)?;
                let rhs = self.eval(&b.rhs_expr)?;
                binary(b.operator, lhs, rhs)
            }
        }
    }

    fn for_expr(&self, f: &ForExpr) -> EvalResult {
        let items: Vec<(Val, Val)> = match self.eval(&f.collection_expr)? {
            Val::Unknown(u) => return Ok(Val::Unknown(unprefixed(u))),
            Val::List(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| (Val::Number((i as u64).into()), v))
                .collect(),
            Val::Object(map) => map.into_iter().map(|(k, v)| (Val::String(k), v)).collect(),
            other => return Err(format!("cannot iterate over a {}", other.type_name())),
        };
        let mut list = Vec::new();
        let mut map = Map::new();
        for (key, value) in items {
            let mut vars = vec![(f.value_var.to_string(), value)];
            if let Some(k) = &f.key_var {
                vars.push((k.to_string(), key));
            }
            let env = self.with(vars);
            if let Some(cond) = &f.cond_expr {
                match env.eval(cond)? {
                    Val::Bool(true) => {}
                    Val::Bool(false) => continue,
                    Val::Unknown(u) => return Ok(Val::Unknown(unprefixed(u))),
                    other => {
                        return Err(format!("the for condition is a {}", other.type_name()));
                    }
                }
            }
            let value = env.eval(&f.value_expr)?;
            match &f.key_expr {
                None => list.push(value),
                Some(key_expr) => {
                    let key = match env.eval(key_expr)? {
                        Val::Unknown(u) => return Ok(Val::Unknown(unprefixed(u))),
                        k => k.to_str()?,
                    };
                    if f.grouping {
                        if let Val::List(group) =
                            map.entry(key).or_insert_with(|| Val::List(vec![]))
                        {
                            group.push(value);
                        }
                    } else if map.insert(key.clone(), value).is_some() {
                        return Err(format!("duplicate key {key:?} in a for expression"));
                    }
                }
            }
        }
        Ok(if f.key_expr.is_some() {
            Val::Object(map)
        } else {
            Val::List(list)
        })
    }

    fn call(&self, call: &FuncCall) -> EvalResult {
        let name = call.name.name.as_str();
        if !call.name.namespace.is_empty() {
            return Ok(Val::unknown(format!(
                "{}::{name}() is a provider function, not known offline",
                call.name
                    .namespace
                    .iter()
                    .map(|n| n.as_str())
                    .collect::<Vec<_>>()
                    .join("::")
            )));
        }
        // try and can look at errors of their arguments, so they get them unevaluated.
        match name {
            "try" => return self.try_call(&call.args),
            "can" => return self.can_call(&call.args),
            _ => {}
        }
        let mut args = call
            .args
            .iter()
            .map(|a| self.eval(a))
            .collect::<Result<Vec<_>, _>>()?;
        if call.expand_final {
            match args.pop() {
                Some(Val::List(items)) => args.extend(items),
                Some(Val::Unknown(u)) => return Ok(Val::Unknown(unprefixed(u))),
                Some(other) => {
                    return Err(format!("cannot expand a {} with ...", other.type_name()));
                }
                None => {}
            }
        }
        if let Some(result) = self.host.call(name, &args) {
            return result;
        }
        functions::call(name, &args)
    }

    /// `try(a, b, ..)`: the first argument that evaluates without error. An
    /// argument that is unknown here is decided only at run time: it may
    /// succeed there (and be what runs) or fail (and the next one runs), so
    /// the whole `try` is unknown rather than the fallback.
    fn try_call(&self, args: &[Expression]) -> EvalResult {
        let mut last_error = String::from("try() needs at least one argument");
        for (i, arg) in args.iter().enumerate() {
            match self.eval(arg) {
                Ok(v) => {
                    if let Some(u) = v.first_unknown() {
                        return Ok(Val::unknown(format!(
                            "try(): argument {} is known only at run time ({}), and whether it or a fallback runs depends on it",
                            i + 1,
                            u.reason
                        )));
                    }
                    return Ok(v);
                }
                Err(e) => last_error = e,
            }
        }
        Err(format!("no argument of try() succeeded: {last_error}"))
    }

    fn can_call(&self, args: &[Expression]) -> EvalResult {
        let [arg] = args else {
            return Err("can() takes one argument".into());
        };
        match self.eval(arg) {
            Ok(v) => match v.first_unknown() {
                Some(u) => Ok(Val::unknown(format!(
                    "can(): its argument is known only at run time ({})",
                    u.reason
                ))),
                None => Ok(Val::Bool(true)),
            },
            Err(_) => Ok(Val::Bool(false)),
        }
    }

    fn template_expr(&self, t: &TemplateExpr) -> EvalResult {
        if let TemplateExpr::Heredoc(h) = t
            && h.strip != hcl::expr::HeredocStripMode::None
        {
            return Ok(Val::unknown(
                "an indented heredoc (<<-) tflock does not evaluate",
            ));
        }
        let template = Template::from_expr(t).map_err(|e| format!("bad template: {e}"))?;
        // A template that is one interpolation is that value, not its string
        // (HCL's interpolation unwrapping).
        if let [Element::Interpolation(interp)] = template.elements() {
            return self.eval(&interp.expr);
        }
        self.template(&template)
    }

    /// A template's string; at the first unknown part, an unknown whose prefix
    /// is everything known before it.
    pub fn template(&self, template: &Template) -> EvalResult {
        let elements = template.elements();
        let mut out = String::new();
        for (i, element) in elements.iter().enumerate() {
            let strip_before = i > 0 && strip_of(&elements[i - 1]).strip_end();
            let strip_after = elements
                .get(i + 1)
                .is_some_and(|e| strip_of(e).strip_start());
            let part = match element {
                Element::Literal(text) => {
                    let mut text = text.as_str();
                    if strip_before {
                        text = text.trim_start();
                    }
                    if strip_after {
                        text = text.trim_end();
                    }
                    Val::String(text.to_string())
                }
                Element::Interpolation(interp) => self.eval(&interp.expr)?,
                Element::Directive(d) => self.directive(d)?,
            };
            match part {
                Val::Unknown(u) => {
                    out.push_str(&u.prefix);
                    return Ok(Val::Unknown(Unknown {
                        reason: u.reason,
                        prefix: out,
                    }));
                }
                known => out.push_str(&known.to_str()?),
            }
            if out.len() > MAX_STRING {
                return Ok(Val::unknown("a string longer than tflock evaluates"));
            }
        }
        Ok(Val::String(out))
    }

    fn directive(&self, d: &Directive) -> EvalResult {
        match d {
            Directive::If(i) => match self.eval(&i.cond_expr)? {
                Val::Bool(true) => self.template(&i.true_template),
                Val::Bool(false) => match &i.false_template {
                    Some(t) => self.template(t),
                    None => Ok(Val::String(String::new())),
                },
                Val::Unknown(u) => Ok(Val::Unknown(unprefixed(u))),
                other => Err(format!("the %{{if}} condition is a {}", other.type_name())),
            },
            Directive::For(f) => {
                let items: Vec<(Val, Val)> = match self.eval(&f.collection_expr)? {
                    Val::Unknown(u) => return Ok(Val::Unknown(unprefixed(u))),
                    Val::List(items) => items
                        .into_iter()
                        .enumerate()
                        .map(|(i, v)| (Val::Number((i as u64).into()), v))
                        .collect(),
                    Val::Object(map) => map.into_iter().map(|(k, v)| (Val::String(k), v)).collect(),
                    other => return Err(format!("cannot iterate over a {}", other.type_name())),
                };
                let mut out = String::new();
                for (key, value) in items {
                    let mut vars = vec![(f.value_var.to_string(), value)];
                    if let Some(k) = &f.key_var {
                        vars.push((k.to_string(), key));
                    }
                    match self.with(vars).template(&f.template)? {
                        Val::Unknown(u) => return Ok(Val::Unknown(unprefixed(u))),
                        v => out.push_str(&v.to_str()?),
                    }
                    if out.len() > MAX_STRING {
                        return Ok(Val::unknown("a string longer than tflock evaluates"));
                    }
                }
                Ok(Val::String(out))
            }
        }
    }
}

fn strip_of(element: &Element) -> Strip {
    match element {
        Element::Literal(_) => Strip::None,
        Element::Interpolation(i) => i.strip,
        Element::Directive(d) => match d.as_ref() {
            Directive::If(i) => join_strip(i.if_strip, i.endif_strip),
            Directive::For(f) => join_strip(f.for_strip, f.endfor_strip),
        },
    }
}

fn join_strip(open: Strip, close: Strip) -> Strip {
    match (open.strip_start(), close.strip_end()) {
        (true, true) => Strip::Both,
        (true, false) => Strip::Start,
        (false, true) => Strip::End,
        (false, false) => Strip::None,
    }
}

/// An unknown passed through an operation: its string prefix no longer
/// describes the result.
pub(crate) fn unprefixed(u: Unknown) -> Unknown {
    Unknown {
        reason: u.reason,
        prefix: String::new(),
    }
}

fn apply_ops(env: &Env, mut value: Val, ops: &[TraversalOperator]) -> EvalResult {
    for (i, op) in ops.iter().enumerate() {
        if let Val::Unknown(u) = value {
            return Ok(Val::Unknown(unprefixed(u)));
        }
        value = match op {
            TraversalOperator::GetAttr(id) => get_attr(value, id.as_str())?,
            TraversalOperator::Index(e) => {
                let key = env.eval(e)?;
                index(value, key)?
            }
            TraversalOperator::LegacyIndex(n) => index(value, Val::Number((*n).into()))?,
            TraversalOperator::AttrSplat | TraversalOperator::FullSplat => {
                let items = match value {
                    Val::Null => vec![],
                    Val::List(items) => items,
                    other => vec![other],
                };
                let rest = &ops[i + 1..];
                return Ok(Val::List(
                    items
                        .into_iter()
                        .map(|item| apply_ops(env, item, rest))
                        .collect::<Result<_, _>>()?,
                ));
            }
        };
    }
    Ok(value)
}

fn get_attr(value: Val, name: &str) -> EvalResult {
    match value {
        Val::Object(mut map) => map
            .swap_remove(name)
            .ok_or_else(|| format!("this object has no attribute {name:?}")),
        Val::Null => Err(format!("attribute {name:?} of a null value")),
        other => Err(format!("attribute {name:?} of a {}", other.type_name())),
    }
}

fn index(value: Val, key: Val) -> EvalResult {
    match (value, key) {
        (_, Val::Unknown(u)) => Ok(Val::Unknown(unprefixed(u))),
        (Val::List(items), Val::Number(n)) => {
            let i = n
                .as_u64()
                .ok_or_else(|| format!("index {n} is not a whole non-negative number"))?;
            items
                .into_iter()
                .nth(i as usize)
                .ok_or_else(|| format!("index {i} is out of range"))
        }
        (Val::List(items), Val::String(s)) => match s.parse::<usize>() {
            Ok(i) => items
                .into_iter()
                .nth(i)
                .ok_or_else(|| format!("index {i} is out of range")),
            Err(_) => Err(format!("a list cannot be indexed with {s:?}")),
        },
        (Val::Object(map), key) => {
            let key = key.to_str()?;
            get_attr(Val::Object(map), &key)
        }
        (v, k) => Err(format!(
            "a {} cannot be indexed with a {}",
            v.type_name(),
            k.type_name()
        )),
    }
}

fn binary(op: BinaryOperator, lhs: Val, rhs: Val) -> EvalResult {
    if let Val::Unknown(u) = lhs {
        return Ok(Val::Unknown(unprefixed(u)));
    }
    if let Val::Unknown(u) = rhs {
        return Ok(Val::Unknown(unprefixed(u)));
    }
    use BinaryOperator as B;
    match op {
        B::Eq | B::NotEq => {
            if let Some(u) = lhs.first_unknown().or(rhs.first_unknown()) {
                return Ok(Val::Unknown(unprefixed(u.clone())));
            }
            let same = equal(&lhs, &rhs);
            Ok(Val::Bool(if op == B::Eq { same } else { !same }))
        }
        B::And | B::Or => match (lhs, rhs) {
            (Val::Bool(a), Val::Bool(b)) => {
                Ok(Val::Bool(if op == B::And { a && b } else { a || b }))
            }
            (a, b) => Err(format!(
                "{op:?} of a {} and a {}",
                a.type_name(),
                b.type_name()
            )),
        },
        _ => {
            let a = to_number(&lhs)?;
            let b = to_number(&rhs)?;
            match op {
                B::Less => Ok(Val::Bool(a < b)),
                B::LessEq => Ok(Val::Bool(a <= b)),
                B::Greater => Ok(Val::Bool(a > b)),
                B::GreaterEq => Ok(Val::Bool(a >= b)),
                B::Plus => number_from_f64(a + b),
                B::Minus => number_from_f64(a - b),
                B::Mul => number_from_f64(a * b),
                B::Div if b == 0.0 => Err("division by zero".into()),
                B::Div => number_from_f64(a / b),
                B::Mod if b == 0.0 => Err("modulo by zero".into()),
                B::Mod => number_from_f64(a % b),
                _ => Err(format!("operator {op:?} is not supported")),
            }
        }
    }
}

pub(crate) fn to_number(v: &Val) -> Result<f64, String> {
    match v {
        Val::Number(n) => n.as_f64().ok_or_else(|| "a number out of range".into()),
        Val::String(s) => s
            .trim()
            .parse::<f64>()
            .map_err(|_| format!("{s:?} is not a number")),
        other => Err(format!("a {} is not a number", other.type_name())),
    }
}
