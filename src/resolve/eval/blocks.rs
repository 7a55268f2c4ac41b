//! Terragrunt's blocks as the evaluator sees them: `include` blocks resolved
//! to the files they name, and a whole configuration as the object that
//! `read_terragrunt_config` and exposed includes return.

use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;

use hcl::Map;

use super::Include;
use super::config_file::Body;
use super::paths;
use super::scope::{Budget, Frame, Shared, Track};
use super::value::Val;

/// A configuration as `read_terragrunt_config` and exposed includes return it
/// (Terragrunt's `TerragruntConfigAsCty`): `locals`, top-level attributes
/// (`inputs`, ...), and blocks as objects (labelled ones keyed by label).
pub(crate) fn config_object(frame: &Frame) -> Val {
    let file = match frame.file() {
        Ok(f) => f,
        Err(e) => return Val::unknown(e),
    };
    let mut map = Map::new();
    map.insert(
        "locals".to_string(),
        frame.all_locals().unwrap_or_else(Val::unknown),
    );
    body_into(frame, &file.body, &mut map, true);
    Val::Object(map)
}

fn body_into(frame: &Frame, body: &Body, map: &mut Map<String, Val>, top: bool) {
    for attr in &body.attrs {
        let value = match frame.eval(&attr.expr) {
            Ok(v) => v,
            Err(e) => Val::unknown(format!("{} cannot be evaluated: {e}", attr.name)),
        };
        map.insert(attr.name.clone(), value);
    }
    for block in &body.blocks {
        if top && matches!(block.kind.as_str(), "locals" | "include") {
            continue;
        }
        if top && block.kind == "dependency" {
            map.insert(
                "dependency".into(),
                Val::unknown("dependency outputs are known only after those units are applied"),
            );
            continue;
        }
        let mut inner = Map::new();
        body_into(frame, &block.body, &mut inner, false);
        let inner = Val::Object(inner);
        match block.labels.first() {
            None => {
                map.insert(block.kind.clone(), inner);
            }
            Some(label) => {
                let entry = map
                    .entry(block.kind.clone())
                    .or_insert_with(|| Val::Object(Map::new()));
                if let Val::Object(labelled) = entry {
                    labelled.insert(label.clone(), inner);
                }
            }
        }
    }
}

/// The `include` blocks of `file`, evaluated as Terragrunt does: before the
/// locals, so only functions (no `local`, no `include`), from the file's own
/// directory; relative paths are relative to that directory.
pub(crate) fn resolve_includes(
    shared: &Arc<Shared>,
    file: &Path,
    original: &Path,
    budget: Rc<Budget>,
) -> Result<Vec<Include>, String> {
    let frame = Frame::new(shared.clone(), file, file, original, Track::None, budget);
    let parsed = frame.file()?;
    let dir = paths::dir_of(file);
    let mut out = Vec::new();
    for block in parsed.body.blocks_of("include") {
        let at = parsed.at(block.line);
        let label = block.labels.first().cloned();
        let shown = match &label {
            Some(l) => format!("include \"{l}\""),
            None => "include".into(),
        };
        let known_string = |name: &str| -> Result<Option<Val>, String> {
            let Some(attr) = block.body.attr(name) else {
                return Ok(None);
            };
            match frame.eval(&attr.expr) {
                Ok(v) => match v.first_unknown() {
                    Some(u) => Err(format!(
                        "{}: {shown} {name}: {}",
                        parsed.at(attr.line),
                        u.reason
                    )),
                    None => Ok(Some(v)),
                },
                Err(e) => Err(format!("{}: {shown} {name}: {e}", parsed.at(attr.line))),
            }
        };
        let path = match known_string("path")? {
            Some(v) => v.to_str().map_err(|e| format!("{at}: {shown} path: {e}"))?,
            None => return Err(format!("{at}: {shown} has no path")),
        };
        let expose = match known_string("expose")? {
            None | Some(Val::Null) => false,
            Some(Val::Bool(b)) => b,
            Some(other) => {
                return Err(format!("{at}: {shown} expose is a {}", other.type_name()));
            }
        };
        let merge_strategy = match known_string("merge_strategy")? {
            None | Some(Val::Null) => "shallow".to_string(),
            Some(v) => v
                .to_str()
                .map_err(|e| format!("{at}: {shown} merge_strategy: {e}"))?,
        };
        out.push(Include {
            name: label,
            path: paths::join(&dir, &path),
            expose,
            merge_strategy,
        });
    }
    Ok(out)
}
