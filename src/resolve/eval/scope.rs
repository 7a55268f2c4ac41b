//! One Terragrunt parsing context (Terragrunt's `ParsingContext`): which file's
//! locals are `local`, which config path the path functions start from, which
//! include is being evaluated, and the functions that need all of that.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::{Arc, Mutex, OnceLock};

use hcl::Map;

use super::blocks::{config_object, resolve_includes};
use super::config_file::{self, ConfigFile};
use super::interp::{Env, EvalResult, Host, unprefixed};
use super::paths;
use super::value::{Unknown, Val};
use super::{Include, World};

/// `read_terragrunt_config` inside `read_terragrunt_config` deeper than this is unknown.
const MAX_READ_DEPTH: usize = 8;
/// Parent folders `find_in_parent_folders` looks at (Terragrunt's default).
const MAX_FOLDERS_TO_CHECK: usize = 100;
/// Units of work for one scope; past it everything in the scope is unknown.
const FUEL: u64 = 2_000_000;

pub(crate) type Parsed = Arc<Result<ConfigFile, String>>;

/// What all scopes of one evaluator share: the world and the parsed files.
pub(crate) struct Shared {
    pub world: World,
    /// Each file read and parsed once, by the first thread that asks; the map
    /// is locked only to find a file's cell, so threads parse different files
    /// at once (and one asking for a file being parsed waits for that parse).
    files: Mutex<HashMap<PathBuf, Arc<OnceLock<Parsed>>>>,
}

impl Shared {
    pub fn new(world: World) -> Shared {
        Shared {
            world,
            files: Mutex::new(HashMap::new()),
        }
    }

    pub fn file(&self, path: &Path) -> Parsed {
        let cell = {
            let mut files = match self.files.lock() {
                Ok(files) => files,
                Err(poisoned) => poisoned.into_inner(),
            };
            files.entry(path.to_path_buf()).or_default().clone()
        };
        cell.get_or_init(|| Arc::new(config_file::read(path, &self.shown(path))))
            .clone()
    }

    /// A path as messages show it: relative to the repository when inside it.
    pub fn shown(&self, path: &Path) -> String {
        match path.strip_prefix(&self.world.repo_root) {
            Ok(rel) if !rel.as_os_str().is_empty() => rel.to_string_lossy().into_owned(),
            _ => path.to_string_lossy().into_owned(),
        }
    }
}

/// Which include the path functions refer to (Terragrunt's `TrackInclude`).
#[derive(Clone, Debug)]
pub(crate) enum Track {
    /// No include context (evaluating `include` blocks themselves).
    None,
    /// The unit's own file, with its includes.
    Child(Vec<Include>),
    /// An included file, evaluated for the unit that includes it.
    Original(Include),
}

enum Slot {
    Evaluating,
    Done(Val),
}

/// State of one scope shared by the frames it opens (`read_terragrunt_config`,
/// exposed includes): the work budget and the expression nesting depth.
pub(crate) struct Budget {
    fuel: Cell<u64>,
    pub depth: Cell<usize>,
}

impl Budget {
    pub fn new() -> Rc<Budget> {
        Rc::new(Budget {
            fuel: Cell::new(FUEL),
            depth: Cell::new(0),
        })
    }

    pub fn exhausted(&self) -> bool {
        self.fuel.get() == 0
    }
}

pub(crate) struct Frame {
    shared: Arc<Shared>,
    /// The file whose `locals` and blocks are evaluated.
    file: Parsed,
    file_path: PathBuf,
    /// Terragrunt's `TerragruntConfigPath`: the unit, or the file read by
    /// `read_terragrunt_config`. Path functions start here.
    config_path: PathBuf,
    /// Terragrunt's `OriginalTerragruntConfigPath`: the unit.
    original_path: PathBuf,
    track: Track,
    /// Files being read by `read_terragrunt_config` around this frame.
    reading: Vec<PathBuf>,
    locals: RefCell<HashMap<String, Slot>>,
    include_value: RefCell<Option<Val>>,
    pub budget: Rc<Budget>,
    /// Set when nothing in this scope can be evaluated (a reason).
    pub blocked: Option<String>,
    /// Set for a file evaluated without the unit that would include it: what
    /// depends on that unit is unknown (the file it names, for messages).
    pub no_unit: Option<String>,
}

impl Frame {
    pub fn new(
        shared: Arc<Shared>,
        file_path: &Path,
        config_path: &Path,
        original_path: &Path,
        track: Track,
        budget: Rc<Budget>,
    ) -> Frame {
        let file = shared.file(file_path);
        Frame {
            shared,
            file,
            file_path: file_path.to_path_buf(),
            config_path: config_path.to_path_buf(),
            original_path: original_path.to_path_buf(),
            track,
            reading: Vec::new(),
            locals: RefCell::new(HashMap::new()),
            include_value: RefCell::new(None),
            budget,
            blocked: None,
            no_unit: None,
        }
    }

    pub fn file(&self) -> Result<&ConfigFile, String> {
        self.file.as_ref().as_ref().map_err(Clone::clone)
    }

    pub fn eval(&self, expr: &hcl::Expression) -> EvalResult {
        Env::new(self, &self.budget.depth).eval(expr)
    }

    fn config_dir(&self) -> PathBuf {
        paths::dir_of(&self.config_path)
    }

    /// `local.<name>`, evaluated once; a cycle or an error makes it unknown.
    fn local(&self, name: &str) -> EvalResult {
        let file = match self.file() {
            Ok(f) => f,
            Err(e) => return Ok(Val::unknown(e)),
        };
        let Some(attr) = file.local(name) else {
            return Err(format!("local.{name} is not defined in {}", file.shown));
        };
        match self.locals.borrow().get(name) {
            Some(Slot::Done(v)) => return Ok(v.clone()),
            Some(Slot::Evaluating) => {
                return Ok(Val::unknown(format!(
                    "local.{name} ({}) refers to itself",
                    file.at(attr.line)
                )));
            }
            None => {}
        }
        self.locals
            .borrow_mut()
            .insert(name.to_string(), Slot::Evaluating);
        let value = match self.eval(&attr.expr) {
            Ok(Val::Unknown(u)) => Val::Unknown(Unknown {
                reason: format!("local.{name} ({}): {}", file.at(attr.line), u.reason),
                prefix: u.prefix,
            }),
            Ok(v) => v,
            Err(e) => Val::unknown(format!(
                "local.{name} ({}) cannot be evaluated: {e}",
                file.at(attr.line)
            )),
        };
        self.locals
            .borrow_mut()
            .insert(name.to_string(), Slot::Done(value.clone()));
        Ok(value)
    }

    pub fn all_locals(&self) -> EvalResult {
        let file = match self.file() {
            Ok(f) => f,
            Err(e) => return Ok(Val::unknown(e)),
        };
        let mut map = Map::new();
        for attr in file.locals() {
            map.insert(attr.name.clone(), self.local(&attr.name)?);
        }
        Ok(Val::Object(map))
    }

    /// The `include` variable of a unit: exposed includes as Terragrunt
    /// exposes them (one bare include: its config at the top level).
    fn include_var(&self) -> EvalResult {
        if let Some(v) = self.include_value.borrow().as_ref() {
            return Ok(v.clone());
        }
        let value = match &self.track {
            Track::Child(list) if !list.is_empty() => {
                if list.len() == 1 && list[0].name.is_none() {
                    if list[0].expose {
                        self.exposed(&list[0])
                    } else {
                        return Err("the include is not exposed (expose = true)".into());
                    }
                } else {
                    let mut map = Map::new();
                    for inc in list.iter().filter(|i| i.expose) {
                        map.insert(inc.name.clone().unwrap_or_default(), self.exposed(inc));
                    }
                    Val::Object(map)
                }
            }
            _ => Val::unknown("`include` is not available in this file"),
        };
        *self.include_value.borrow_mut() = Some(value.clone());
        Ok(value)
    }

    fn exposed(&self, inc: &Include) -> Val {
        let frame = self.nested(&inc.path, &self.config_path, Track::Original(inc.clone()));
        config_object(&frame)
    }

    fn nested(&self, file_path: &Path, config_path: &Path, track: Track) -> Frame {
        let mut frame = Frame::new(
            self.shared.clone(),
            file_path,
            config_path,
            &self.original_path,
            track,
            self.budget.clone(),
        );
        frame.reading = self.reading.clone();
        frame.no_unit = self.no_unit.clone();
        frame
    }

    fn selected_include(&self, args: &[Val]) -> Result<Option<Include>, String> {
        match &self.track {
            Track::None => Ok(None),
            Track::Original(inc) => Ok(Some(inc.clone())),
            Track::Child(list) => match list.len() {
                0 => Ok(None),
                1 => Ok(Some(list[0].clone())),
                _ => {
                    let [name] = args else {
                        return Err(
                            "with several includes, name the include: path_relative_to_include(\"root\")"
                                .into(),
                        );
                    };
                    let name = name.to_str()?;
                    list.iter()
                        .find(|i| i.name.as_deref().unwrap_or("") == name)
                        .cloned()
                        .map(Some)
                        .ok_or_else(|| format!("there is no include named {name:?}"))
                }
            },
        }
    }

    fn find_in_parent_folders(&self, args: &[Val]) -> EvalResult {
        if args.len() > 2 {
            return Err("find_in_parent_folders() takes 0, 1 or 2 arguments".into());
        }
        let name = match args.first() {
            Some(v) => v.to_str()?,
            None => String::new(),
        };
        let mut previous = self.config_dir();
        for _ in 0..MAX_FOLDERS_TO_CHECK {
            let Some(current) = previous.parent().map(Path::to_path_buf) else {
                break;
            };
            let candidate = if name.is_empty() {
                default_config_path(&current)
            } else {
                current.join(&name)
            };
            if candidate.exists() {
                return Ok(Val::String(
                    paths::clean(&candidate).to_string_lossy().into(),
                ));
            }
            previous = current;
        }
        if let Some(fallback) = args.get(1) {
            return Ok(fallback.clone());
        }
        let shown = if name.is_empty() {
            "terragrunt.hcl"
        } else {
            &name
        };
        Err(format!(
            "find_in_parent_folders(): no {shown} in any folder above {}",
            self.shared.shown(&self.config_path)
        ))
    }

    fn read_terragrunt_config(&self, args: &[Val]) -> EvalResult {
        let (path, default) = match args {
            [p] => (p.to_str()?, None),
            [p, d] => (p.to_str()?, Some(d)),
            _ => {
                return Err("read_terragrunt_config() takes a path and an optional default".into());
            }
        };
        let mut target = paths::join(&self.config_dir(), &path);
        if target.is_dir() {
            target = default_config_path(&target);
        }
        if !target.exists() {
            return match default {
                Some(d) => Ok(d.clone()),
                None => Ok(Val::unknown(format!(
                    "read_terragrunt_config(): {} does not exist here",
                    self.shared.shown(&target)
                ))),
            };
        }
        if self.reading.contains(&target) {
            return Ok(Val::unknown(format!(
                "read_terragrunt_config(): {} reads itself (a cycle)",
                self.shared.shown(&target)
            )));
        }
        if self.reading.len() >= MAX_READ_DEPTH {
            return Ok(Val::unknown(
                "read_terragrunt_config() is nested too deeply to evaluate",
            ));
        }
        let includes = match resolve_includes(
            &self.shared,
            &target,
            &self.original_path,
            self.budget.clone(),
        ) {
            Ok(list) => list,
            Err(e) => return Ok(Val::unknown(e)),
        };
        let merged = includes.iter().any(|i| i.merge_strategy != "no_merge");
        let mut frame = self.nested(&target, &target, Track::Child(includes));
        frame.reading.push(target.clone());
        if let Err(e) = frame.file() {
            return Ok(Val::unknown(format!("read_terragrunt_config(): {e}")));
        }
        let mut value = config_object(&frame);
        if merged {
            // Terragrunt merges the read file's includes into everything but
            // its locals; tflock does not model that merge.
            if let Val::Object(map) = &mut value {
                for (key, v) in map.iter_mut() {
                    if key != "locals" {
                        *v = Val::unknown(format!(
                            "{key} of {} merges its includes, which tflock does not evaluate",
                            self.shared.shown(&target)
                        ));
                    }
                }
            }
        }
        Ok(value)
    }

    /// `file()`/`fileexists()` paths are relative to the file they are written
    /// in (Terragrunt gives Terraform's functions that file's directory).
    fn read_file(&self, args: &[Val]) -> EvalResult {
        let [p] = args else {
            return Err("file() takes one path".into());
        };
        let path = paths::join(&paths::dir_of(&self.file_path), &p.to_str()?);
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) => {
                return Ok(Val::unknown(format!(
                    "file(): {}: {e}",
                    self.shared.shown(&path)
                )));
            }
        };
        if meta.len() > config_file::MAX_FILE_BYTES {
            return Ok(Val::unknown(format!(
                "file(): {} is too large",
                self.shared.shown(&path)
            )));
        }
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Val::String(text)),
            Err(e) => Ok(Val::unknown(format!(
                "file(): {}: {e}",
                self.shared.shown(&path)
            ))),
        }
    }
}

/// `GetDefaultConfigPath`: `terragrunt.hcl.json` if there, else `terragrunt.hcl`.
fn default_config_path(dir: &Path) -> PathBuf {
    let json = dir.join("terragrunt.hcl.json");
    if json.exists() {
        json
    } else {
        dir.join("terragrunt.hcl")
    }
}

impl Host for Frame {
    fn variable(&self, name: &str, attr: Option<&str>) -> Result<(Val, bool), String> {
        Ok(match name {
            "local" => match attr {
                Some(a) => (self.local(a)?, true),
                None => (self.all_locals()?, false),
            },
            "include" => (self.include_var()?, false),
            "dependency" => (
                Val::unknown(match attr {
                    Some(a) => {
                        format!("dependency.{a} outputs are known only after that unit is applied")
                    }
                    None => {
                        "dependency outputs are known only after those units are applied".into()
                    }
                }),
                false,
            ),
            "var" => (
                Val::unknown(format!(
                    "var.{} is a Terraform variable, known only at run time",
                    attr.unwrap_or("")
                )),
                false,
            ),
            "feature" => (Val::unknown("feature flags can be set at run time"), false),
            "values" => (
                Val::unknown("stack values are known only at run time"),
                false,
            ),
            other => (
                Val::unknown(format!("{other} is not a variable tflock knows")),
                false,
            ),
        })
    }

    fn call(&self, name: &str, args: &[Val]) -> Option<EvalResult> {
        const CONTEXT: &[&str] = &[
            "find_in_parent_folders",
            "path_relative_to_include",
            "path_relative_from_include",
            "get_parent_terragrunt_dir",
            "get_terragrunt_dir",
            "get_original_terragrunt_dir",
            "get_repo_root",
            "get_path_from_repo_root",
            "get_path_to_repo_root",
            "get_env",
            "read_terragrunt_config",
            "file",
            "fileexists",
            "mark_as_read",
        ];
        if !CONTEXT.contains(&name) {
            return None;
        }
        if let Some(u) = args.iter().find_map(Val::first_unknown) {
            return Some(Ok(Val::Unknown(unprefixed(u.clone()))));
        }
        const UNIT_INDEPENDENT: &[&str] = &[
            "get_repo_root",
            "get_env",
            "file",
            "fileexists",
            "mark_as_read",
        ];
        if let Some(file) = &self.no_unit
            && !UNIT_INDEPENDENT.contains(&name)
        {
            return Some(Ok(Val::unknown(format!(
                "{name}() depends on the unit that includes {file}, and no unit here includes it"
            ))));
        }
        let string = |p: PathBuf| Ok(Val::String(p.to_string_lossy().into_owned()));
        let repo = &self.shared.world.repo_root;
        let unit_dir = paths::dir_of(&self.original_path);
        Some(match name {
            "find_in_parent_folders" => self.find_in_parent_folders(args),
            "path_relative_to_include" => self.selected_include(args).map(|inc| {
                Val::String(match inc {
                    Some(inc) => paths::relative(&paths::dir_of(&inc.path), &self.config_dir()),
                    None => ".".into(),
                })
            }),
            "path_relative_from_include" => self.selected_include(args).map(|inc| {
                Val::String(match inc {
                    Some(inc) => paths::relative(&self.config_dir(), &paths::dir_of(&inc.path)),
                    None => ".".into(),
                })
            }),
            "get_parent_terragrunt_dir" => match self.selected_include(args) {
                Ok(Some(inc)) => string(paths::dir_of(&inc.path)),
                Ok(None) => string(self.config_dir()),
                Err(e) => Err(e),
            },
            "get_terragrunt_dir" => string(self.config_dir()),
            "get_original_terragrunt_dir" => string(unit_dir),
            "get_repo_root" => string(repo.clone()),
            "get_path_from_repo_root" => Ok(Val::String(paths::relative(repo, &unit_dir))),
            "get_path_to_repo_root" => Ok(Val::String(paths::relative(&unit_dir, repo))),
            "get_env" => match args {
                [n] | [n, _] => {
                    n.to_str()
                        .map(|n| match (self.shared.world.env.get(&n), args.get(1)) {
                            (Some(v), _) => Val::String(v.clone()),
                            (None, Some(default)) => default.clone(),
                            (None, None) => Val::unknown(format!(
                                "get_env(\"{n}\"): {n} is not set here and has no default"
                            )),
                        })
                }
                _ => Err("get_env() takes a name and an optional default".into()),
            },
            "read_terragrunt_config" => self.read_terragrunt_config(args),
            "file" => self.read_file(args),
            "fileexists" => match args {
                [p] => p
                    .to_str()
                    .map(|p| Val::Bool(paths::join(&paths::dir_of(&self.file_path), &p).is_file())),
                _ => Err("fileexists() takes one path".into()),
            },
            "mark_as_read" => match args {
                [p] => Ok(p.clone()),
                _ => Err("mark_as_read() takes one path".into()),
            },
            _ => return None,
        })
    }

    fn tick(&self) -> Result<(), String> {
        let left = self.budget.fuel.get();
        if left == 0 {
            return Err("the evaluation budget is spent".into());
        }
        self.budget.fuel.set(left - 1);
        Ok(())
    }
}
