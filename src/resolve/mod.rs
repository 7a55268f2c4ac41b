//! Resolve stage: from parsed backends to the concrete states each one governs
//! (bucket, region, table, keys per workspace, endpoints, credentials), evaluating
//! Terragrunt and HCL expressions offline. What it cannot evaluate it marks
//! unknown, and verification treats unknown as locked. Computed once per backend;
//! every later stage reads `BackendPlan::resolution`, none recomputes it.
//!
//! It may read configuration files (Terragrunt units, files they read) but never
//! writes and never talks to AWS.

pub(crate) mod eval;
pub mod targets;
pub(crate) mod units;

pub use crate::model::paths::parent_dir;
pub use crate::model::resolution::{Resolution, Unknown};
use crate::parse::{Backend, BackendKind, Body, Value};
use eval::{Evaluated, Evaluator, Scope, World};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
pub use targets::{ClientSettings, Target};
pub use units::{Unit, UnresolvedUnit};

/// The Terraform S3 backend's default `workspace_key_prefix`.
pub const DEFAULT_WORKSPACE_KEY_PREFIX: &str = "env:";

/// A setting's value after evaluation.
#[derive(Debug, Clone, PartialEq)]
enum Resolved {
    Known(hcl::Value),
    Unknown {
        expression: String,
        reason: String,
        /// `path:line` of the expression.
        location: String,
        /// The literal prefix of a string template, when some of it is known.
        prefix: String,
    },
}

/// Where a backend's expressions are evaluated.
enum Context<'a> {
    /// Terraform backends and partial files: only literals are allowed there.
    Literal,
    /// A Terragrunt file, seen from the unit Terragrunt runs.
    Terragrunt(Scope, Option<&'a Unit>),
    /// A Terragrunt root that no unit of the repository includes: values that
    /// depend on the including unit are unknown.
    Orphan(Scope),
}

/// One backend with the file it was found in.
#[derive(Clone, Copy)]
pub struct Located<'a> {
    pub backend: &'a Backend,
    /// Display path of its file.
    pub path: &'a str,
    /// The file's text (for line numbers); empty when it could not be read.
    pub text: &'a str,
}

/// An argument given to `terraform init` from outside the backend files (a CI
/// file, a script, `TF_CLI_ARGS_init`, Terragrunt `extra_arguments`): it
/// overrides the files for the module it is passed to.
#[derive(Debug, Clone, PartialEq)]
pub struct InitArgument {
    /// The module directory (display path), None when it cannot be told.
    pub dir: Option<String>,
    /// `path:line` of the argument.
    pub location: String,
    pub what: InitWhat,
}

#[derive(Debug, Clone, PartialEq)]
pub enum InitWhat {
    /// `-backend-config=key=value`; `complete` is false when the value holds a
    /// variable, and `literal_prefix` is what comes before it.
    Setting {
        key: String,
        value: String,
        literal_prefix: String,
        complete: bool,
    },
    /// `-backend-config=FILE`: the file's display path, None when the path
    /// holds a variable.
    File { file: Option<String>, path: String },
    /// An argument that may set anything.
    Unreadable { text: String },
}

/// The repository a scan belongs to: its Terragrunt units, and the
/// evaluator that reads them (and is reused for every backend).
pub struct Repository {
    pub units: Vec<Unit>,
    unresolved: Vec<UnresolvedUnit>,
    evaluator: Evaluator,
}

impl Repository {
    /// The git work tree holding `cwd` (or `cwd` outside git) and every unit
    /// in it. `listed`: the unit files a git listing already found (see
    /// [`crate::discover::Walked::unit_files`]); a listing of the repository
    /// spares it a walk.
    pub fn open(cwd: &Path, listed: &[(PathBuf, Vec<PathBuf>)]) -> Repository {
        let root = repo_root(cwd);
        let evaluator = Evaluator::new(World {
            repo_root: root.clone(),
            env: std::env::vars().collect(),
        });
        let (units, unresolved) = units::find(&root, cwd, &evaluator, listed);
        Repository {
            units,
            unresolved,
            evaluator,
        }
    }

    /// Resolves every backend of a scan, in the given order, with the
    /// init-time arguments found in the repository.
    pub fn resolve_all(
        &self,
        backends: &[Located],
        inits: &[InitArgument],
        cwd: &Path,
    ) -> Vec<Resolution> {
        let modules = Modules::new(backends, inits);
        let indexed: Vec<(usize, &Located)> = backends.iter().enumerate().collect();
        crate::parallel::map(&indexed, |&(i, b)| {
            let mut targets = Vec::new();
            for (dir, layers) in modules.layers_of(i, backends) {
                let mut r = resolve_backend(&layers, cwd, &self.units, &self.evaluator);
                for t in &mut r.targets {
                    let module = t.unit.clone().or_else(|| dir.clone());
                    apply_init_arguments(t, inits, module.as_deref());
                }
                targets.extend(r.targets);
            }
            let mut resolution = Resolution { targets };
            if is_terragrunt_file(b.path) {
                block_on_unresolved_units(&mut resolution, b.path, &self.unresolved);
            }
            resolution
        })
    }
}

/// Which configurations `terraform init` merges, per module directory: the
/// Terraform block of the module and the partial files passed to it (by
/// `-backend-config=FILE`, or lying beside it).
struct Modules {
    /// Terraform blocks (not Terragrunt's) by module directory.
    blocks: BTreeMap<String, Vec<usize>>,
    /// Partial files by the module directories whose init passes them.
    partials_of: BTreeMap<String, Vec<usize>>,
    /// The module directories of each partial file.
    modules_of: BTreeMap<usize, Vec<String>>,
}

impl Modules {
    fn new(backends: &[Located], inits: &[InitArgument]) -> Modules {
        let mut passed: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for init in inits {
            if let (
                InitWhat::File {
                    file: Some(file), ..
                },
                Some(dir),
            ) = (&init.what, &init.dir)
            {
                let dirs = passed.entry(file.as_str()).or_default();
                if !dirs.contains(dir) {
                    dirs.push(dir.clone());
                }
            }
        }
        let mut modules = Modules {
            blocks: BTreeMap::new(),
            partials_of: BTreeMap::new(),
            modules_of: BTreeMap::new(),
        };
        for (i, b) in backends.iter().enumerate() {
            let dir = parent_dir(b.path);
            match b.backend.kind {
                BackendKind::Tfbackend => {
                    let dirs = passed.get(b.path).cloned().unwrap_or_else(|| vec![dir]);
                    for d in &dirs {
                        modules.partials_of.entry(d.clone()).or_default().push(i);
                    }
                    modules.modules_of.insert(i, dirs);
                }
                BackendKind::Terraform | BackendKind::TerraformJson
                    if !is_terragrunt_file(b.path) =>
                {
                    modules.blocks.entry(dir).or_default().push(i)
                }
                _ => {}
            }
        }
        modules
    }

    /// The layer sets backend `i` is resolved with, each with its module
    /// directory (earliest layer first, as init merges them).
    fn layers_of<'a>(
        &self,
        i: usize,
        backends: &[Located<'a>],
    ) -> Vec<(Option<String>, Vec<Located<'a>>)> {
        let b = backends[i];
        let dir = parent_dir(b.path);
        match b.backend.kind {
            BackendKind::Tfbackend => self.modules_of[&i]
                .iter()
                .map(|module| {
                    let mut layers = Vec::new();
                    if let Some([only]) = self.blocks.get(module).map(Vec::as_slice) {
                        layers.push(backends[*only]);
                    }
                    layers.push(b);
                    (Some(module.clone()), layers)
                })
                .collect(),
            BackendKind::Terraform | BackendKind::TerraformJson
                if !is_terragrunt_file(b.path)
                    && is_partial(&b.backend.body)
                    && self.partials_of.contains_key(&dir) =>
            {
                self.partials_of[&dir]
                    .iter()
                    .map(|&p| (Some(dir.clone()), vec![b, backends[p]]))
                    .collect()
            }
            // A unit's own `remote_state` is its module's; a root's targets
            // carry their units.
            _ if is_terragrunt_file(b.path) => {
                let own = units::is_unit_file(Path::new(b.path)).then_some(dir);
                vec![(own, vec![b])]
            }
            _ => vec![(Some(dir), vec![b])],
        }
    }
}

/// Settings passed at init win over the files; one whose module cannot be told
/// may apply to any module, so it widens (key) or blocks (anything else).
fn apply_init_arguments(target: &mut Target, inits: &[InitArgument], module: Option<&str>) {
    for init in inits {
        let exact = match (&init.dir, module) {
            (Some(d), Some(m)) => d == m,
            (None, _) => false,
            (Some(_), None) => continue,
        };
        if init.dir.is_some() && !exact {
            continue;
        }
        let unknown = |attribute: &str, expression: &str, reason: String, blocks: bool| Unknown {
            attribute: attribute.to_string(),
            expression: expression.to_string(),
            reason,
            location: init.location.clone(),
            blocks,
        };
        match &init.what {
            InitWhat::Setting {
                key,
                value,
                literal_prefix,
                complete,
            } => {
                let shown = format!("-backend-config={key}={value}");
                if !exact {
                    let reason =
                        "passed at init to a module tflock cannot tell, so it may be this one"
                            .to_string();
                    if key == "key" {
                        // Its states may also lie under the override's prefix.
                        target.unknown.push(unknown(key, &shown, reason, false));
                        widen_key_prefix(target, literal_prefix);
                    } else if LOCATING.contains(&key.as_str()) {
                        target.unknown.push(unknown(key, &shown, reason, true));
                    }
                    continue;
                }
                if !*complete {
                    let reason = "passed at init with a value that holds a variable".to_string();
                    match key.as_str() {
                        "key" => {
                            target.unknown.push(unknown(key, &shown, reason, false));
                            target.keys.clear();
                            widen_key_prefix(target, literal_prefix);
                        }
                        k if LOCATING.contains(&k) => {
                            target.unknown.push(unknown(key, &shown, reason, true))
                        }
                        _ => {}
                    }
                    continue;
                }
                match key.as_str() {
                    "key" => {
                        target.keys = vec![(target.unit.clone(), value.clone())];
                        target.unknown_key_prefix = target.bucket.is_none().then(String::new);
                        target.unknown.retain(|u| u.attribute != "key");
                    }
                    "bucket" => {
                        target.bucket = Some(value.clone());
                        target.unknown.retain(|u| u.attribute != "bucket");
                        if target.unknown_key_prefix.as_deref() == Some("")
                            && !target.keys.is_empty()
                        {
                            target.unknown_key_prefix = None;
                        }
                    }
                    "region" => target.client.region = Some(value.clone()),
                    "dynamodb_table" | "lock_table" => {
                        target.table = Some(value.clone()).filter(|t| !t.is_empty())
                    }
                    "workspace_key_prefix" => target.workspace_key_prefix = value.clone(),
                    "profile" => target.client.profile = Some(value.clone()),
                    "dynamodb_endpoint" => target.client.dynamodb_endpoint = Some(value.clone()),
                    "endpoint" => target.client.s3_endpoint = Some(value.clone()),
                    "role_arn" => target.client.role_arn = Some(value.clone()),
                    _ => {}
                }
                if LOCATING.contains(&key.as_str()) {
                    target.unknown.retain(|u| &u.attribute != key);
                }
            }
            InitWhat::File { file: None, path } => target.unknown.push(unknown(
                "-backend-config",
                path,
                "a partial configuration whose path holds a variable may set anything".into(),
                true,
            )),
            InitWhat::File { .. } => {}
            InitWhat::Unreadable { text } => target.unknown.push(unknown(
                "-backend-config",
                text,
                "an init argument tflock cannot read may set anything".into(),
                true,
            )),
        }
    }
}

/// Settings that decide where the states and locks are (besides the key).
const LOCATING: &[&str] = &[
    "bucket",
    "region",
    "dynamodb_table",
    "lock_table",
    "workspace_key_prefix",
    "profile",
    "endpoint",
    "dynamodb_endpoint",
    "role_arn",
];

/// Makes the target's conservative key prefix cover `prefix` too (the longest
/// prefix both share).
fn widen_key_prefix(target: &mut Target, prefix: &str) {
    target.unknown_key_prefix = Some(match target.unknown_key_prefix.take() {
        None => prefix.to_string(),
        Some(old) => old
            .chars()
            .zip(prefix.chars())
            .take_while(|(a, b)| a == b)
            .map(|(a, _)| a)
            .collect(),
    });
}

/// A unit whose includes could not be evaluated may include this root when it
/// lies below the root's folder: its state is unknown, so the root blocks.
fn block_on_unresolved_units(
    resolution: &mut Resolution,
    root: &str,
    unresolved: &[UnresolvedUnit],
) {
    let root_dir = parent_dir(root);
    for u in unresolved {
        let below =
            root_dir == "." || u.dir == root_dir || u.dir.starts_with(&format!("{root_dir}/"));
        if !below {
            continue;
        }
        for t in &mut resolution.targets {
            t.unknown.push(Unknown {
                attribute: "include".into(),
                expression: "include".into(),
                reason: format!("unit {} may include this file: {}", u.dir, u.reason),
                location: u.file.clone(),
                blocks: true,
            });
        }
    }
}

/// Resolves one backend. `layers` are the configurations it is merged over at
/// `terraform init` (a partial file over the block it completes), earliest
/// first, the backend itself last; `units` are every Terragrunt unit of the
/// repository.
pub fn resolve_backend(
    layers: &[Located],
    cwd: &Path,
    units: &[Unit],
    evaluator: &Evaluator,
) -> Resolution {
    let Some(own) = layers.last() else {
        return Resolution::default();
    };
    let dir = parent_dir(own.path);
    if !is_terragrunt_file(own.path) {
        return Resolution {
            targets: vec![target(layers, &Context::Literal, None, dir)],
        };
    }
    let file = cwd.join(own.path);
    let mine: Vec<&Unit> = units
        .iter()
        .filter(|u| u.includes == own.path && !u.own_remote_state)
        .collect();
    if mine.is_empty() {
        // A Terragrunt file that no unit includes: Terragrunt runs it as its own
        // unit when it is a `terragrunt.hcl`; a root that no unit of this
        // repository includes may still be included from elsewhere, so what
        // depends on the including unit stays unknown.
        let context = if units::is_unit_file(Path::new(own.path)) {
            Context::Terragrunt(evaluator.scope(&file, &file, None), None)
        } else {
            Context::Orphan(evaluator.scope_without_unit(&file))
        };
        return Resolution {
            targets: vec![target(layers, &context, None, dir)],
        };
    }
    let targets = mine
        .into_iter()
        .map(|unit| {
            let unit_file = cwd.join(&unit.file);
            let scope = evaluator.scope(&file, &unit_file, unit.include.as_ref());
            target(
                layers,
                &Context::Terragrunt(scope, Some(unit)),
                Some(unit.dir.clone()),
                unit.dir.clone(),
            )
        })
        .collect();
    Resolution { targets }
}

/// Builds the verification target of one backend in one context.
fn target(layers: &[Located], context: &Context, unit: Option<String>, dir: String) -> Target {
    let settings = Settings::evaluate(layers, context);
    let mut unknown = Vec::new();
    let mut note = |attribute: &str, r: &Resolved, blocks: bool| {
        if let Resolved::Unknown {
            expression,
            reason,
            location,
            ..
        } = r
        {
            unknown.push(Unknown {
                attribute: attribute.to_string(),
                expression: expression.clone(),
                reason: reason.clone(),
                location: location.clone(),
                blocks,
            });
        }
    };

    // Values that decide where tflock looks: unknown means the check cannot be
    // trusted at all, so the backend blocks.
    for attribute in BLOCKING_ATTRIBUTES {
        if let Some(r) = settings.get(attribute) {
            note(attribute, r, true);
        }
    }
    let table = settings
        .string("dynamodb_table")
        .or_else(|| settings.string("lock_table"))
        .filter(|t| !t.is_empty());
    let workspace_key_prefix = settings
        .string("workspace_key_prefix")
        .unwrap_or_else(|| DEFAULT_WORKSPACE_KEY_PREFIX.to_string());

    // The bucket and key: a known prefix may stand in for an unknown rest.
    let bucket = match settings.get("bucket") {
        Some(Resolved::Known(hcl::Value::String(b))) => Some(b.clone()),
        // An unknown bucket cannot be listed for lockfiles: it blocks.
        Some(r @ Resolved::Unknown { .. }) => {
            note("bucket", r, true);
            None
        }
        _ => None,
    };
    let (keys, unknown_key_prefix) = match settings.get("key") {
        Some(Resolved::Known(hcl::Value::String(k))) => (vec![(unit.clone(), k.clone())], None),
        Some(r @ Resolved::Unknown { prefix, .. }) => {
            note("key", r, false);
            (Vec::new(), Some(prefix.clone()))
        }
        // No key (a partial configuration completed at init) or not a string:
        // nothing narrows the states down.
        _ => (Vec::new(), Some(String::new())),
    };
    let unknown_key_prefix = if bucket.is_none() {
        Some(unknown_key_prefix.unwrap_or_default())
    } else {
        unknown_key_prefix
    };
    Target {
        bucket,
        keys,
        unknown_key_prefix,
        workspace_key_prefix,
        table,
        client: settings.client(),
        probe: false,
        dir,
        unknown,
        unit,
    }
}

/// Settings whose unknown value blocks the backend.
const BLOCKING_ATTRIBUTES: &[&str] = &[
    "region",
    "dynamodb_table",
    "lock_table",
    "workspace_key_prefix",
    "profile",
    "endpoint",
    "endpoints",
    "dynamodb_endpoint",
    "role_arn",
    "assume_role",
    "use_path_style",
    "force_path_style",
    "shared_config_files",
    "shared_credentials_files",
    "shared_credentials_file",
];

/// The evaluated settings of one backend (merged over what it inherits).
struct Settings(BTreeMap<String, Resolved>);

impl Settings {
    fn evaluate(layers: &[Located], context: &Context) -> Settings {
        let mut map = BTreeMap::new();
        // Later layers win, as `-backend-config` files do at init.
        for layer in layers {
            for s in &layer.backend.body.settings {
                let location = format!("{}:{}", layer.path, line_at(layer, s.key_span.start));
                let resolved = resolve_value(&s.value, location, layer, context);
                map.insert(s.key.clone(), resolved);
            }
        }
        Settings(map)
    }

    fn get(&self, key: &str) -> Option<&Resolved> {
        self.0.get(key)
    }

    fn string(&self, key: &str) -> Option<String> {
        match self.get(key) {
            Some(Resolved::Known(hcl::Value::String(s))) => Some(s.clone()),
            _ => None,
        }
    }

    fn known(&self, key: &str) -> Option<&hcl::Value> {
        match self.get(key) {
            Some(Resolved::Known(v)) => Some(v),
            _ => None,
        }
    }

    fn nested(&self, object: &str, key: &str) -> Option<String> {
        match self.known(object)? {
            hcl::Value::Object(o) => match o.get(key)? {
                hcl::Value::String(s) => Some(s.clone()),
                _ => None,
            },
            _ => None,
        }
    }

    fn truthy(&self, key: &str) -> bool {
        matches!(self.known(key), Some(hcl::Value::Bool(true)))
    }

    fn list(&self, key: &str) -> Vec<String> {
        match self.known(key) {
            Some(hcl::Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect(),
            Some(hcl::Value::String(s)) => vec![s.clone()],
            _ => Vec::new(),
        }
    }

    fn client(&self) -> ClientSettings {
        let mut shared_credentials_files = self.list("shared_credentials_files");
        shared_credentials_files.extend(self.string("shared_credentials_file"));
        ClientSettings {
            region: self.string("region"),
            profile: self.string("profile"),
            role_arn: self
                .nested("assume_role", "role_arn")
                .or_else(|| self.string("role_arn")),
            external_id: self
                .nested("assume_role", "external_id")
                .or_else(|| self.string("external_id")),
            session_name: self
                .nested("assume_role", "session_name")
                .or_else(|| self.string("session_name")),
            s3_endpoint: self
                .nested("endpoints", "s3")
                .or_else(|| self.string("endpoint")),
            dynamodb_endpoint: self
                .nested("endpoints", "dynamodb")
                .or_else(|| self.string("dynamodb_endpoint")),
            path_style: self.truthy("use_path_style") || self.truthy("force_path_style"),
            shared_config_files: self.list("shared_config_files"),
            shared_credentials_files,
        }
    }
}

/// The 1-based line of an offset in a backend's file.
fn line_at(layer: &Located, offset: usize) -> usize {
    match layer.text.get(..offset) {
        Some(before) if !layer.text.is_empty() => before.matches('\n').count() + 1,
        _ => layer.backend.line,
    }
}

/// Evaluates one setting in its context.
fn resolve_value(value: &Value, location: String, layer: &Located, context: &Context) -> Resolved {
    let literal = match value {
        Value::String(s) => Some(hcl::Value::String(s.clone())),
        Value::Bool(b) => Some(hcl::Value::Bool(*b)),
        Value::Null => Some(hcl::Value::Null),
        Value::Number(n) => n
            .parse::<f64>()
            .ok()
            .and_then(|f| hcl::Number::from_f64(f).map(hcl::Value::Number)),
        Value::Expression(_) => None,
    };
    if let Some(v) = literal {
        return Resolved::Known(v);
    }
    let Value::Expression(text) = value else {
        return unknown(
            value,
            location,
            "not a value tflock reads".into(),
            String::new(),
        );
    };
    // In JSON syntax a string is a template: as HCL, it is a quoted one.
    let quoted;
    let text = if layer.backend.body.syntax == crate::parse::Syntax::Json
        && !matches!(context, Context::Literal)
        && serde_json::from_str::<serde_json::Value>(text).is_err()
    {
        quoted = hcl_quoted(text);
        &quoted
    } else {
        text
    };
    match context {
        Context::Literal => match literal_expression(text, layer.backend.kind) {
            Some(v) => Resolved::Known(v),
            None => {
                let opentofu = layer.path.ends_with(".tofu") || layer.path.ends_with(".tofu.json");
                let reason = if opentofu {
                    "OpenTofu evaluates it at init from variables and locals tflock cannot know offline"
                } else {
                    "Terraform allows only literal values in a backend configuration"
                };
                unknown(value, location, reason.into(), literal_prefix(text))
            }
        },
        Context::Orphan(scope) => match scope.eval(text) {
            Evaluated::Known(v) => Resolved::Known(v),
            Evaluated::Unknown { reason } => {
                let (prefix, _) = scope.eval_string_prefix(text);
                unknown(value, location, reason, prefix)
            }
        },
        Context::Terragrunt(scope, unit) => {
            let from_unit = |reason: String| match unit {
                Some(u) => format!("{reason} (evaluated for unit {})", u.dir),
                None => reason,
            };
            match scope.eval(text) {
                Evaluated::Known(v) => Resolved::Known(v),
                Evaluated::Unknown { reason } => {
                    let (prefix, _) = scope.eval_string_prefix(text);
                    unknown(value, location, from_unit(reason), prefix)
                }
            }
        }
    }
}

fn unknown(value: &Value, location: String, reason: String, prefix: String) -> Resolved {
    Resolved::Unknown {
        expression: value.display(),
        reason,
        location,
        prefix,
    }
}

/// A literal written as an expression (a list, an object, a JSON string without
/// interpolation); None when it needs evaluating.
fn literal_expression(text: &str, kind: BackendKind) -> Option<hcl::Value> {
    if kind == BackendKind::TerraformJson {
        let json: serde_json::Value = serde_json::from_str(text).ok()?;
        if json.to_string().contains("${") {
            return None;
        }
        return hcl::to_value(json).ok();
    }
    let expression: hcl::Expression = text.parse().ok()?;
    let value = hcl::eval::Evaluate::evaluate(&expression, &hcl::eval::Context::new()).ok()?;
    Some(value)
}

/// A JSON string's text as an HCL quoted template (its `${...}` kept).
fn hcl_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The literal start of a quoted template (`"envs/${var.x}"` -> `envs/`).
fn literal_prefix(text: &str) -> String {
    let Some(inner) = text.strip_prefix('"') else {
        return String::new();
    };
    let end = [inner.find("${"), inner.find("%{"), inner.find('"')]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(inner.len());
    inner[..end].to_string()
}

/// Whether a file is read by Terragrunt (its expressions are Terragrunt's).
pub fn is_terragrunt_file(path: &str) -> bool {
    path.ends_with(".hcl") || path.ends_with(".hcl.json")
}

/// The repository whose units tflock must know: the git work tree holding `cwd`,
/// or `cwd` itself outside git.
pub fn repo_root(cwd: &Path) -> PathBuf {
    let top = std::process::Command::new("git")
        .args(["rev-parse", "--show-toplevel"])
        .current_dir(cwd)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim_end()));
    top.unwrap_or_else(|| cwd.to_path_buf())
}

/// Whether a body is a partial backend (no bucket or no key): one that a
/// `-backend-config` file completes at init.
pub fn is_partial(body: &Body) -> bool {
    body.get("bucket").is_none() || body.get("key").is_none()
}

#[cfg(test)]
mod tests;
