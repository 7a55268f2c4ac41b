//! Pipeline YAML read by indentation, just enough to tell which step or job a
//! line belongs to: its `working-directory:` (or Task's `dir:`, an action's
//! `path:`), and which lines share its shell session (a `run: |` block, a
//! GitLab `script:` list).

use crate::preflight::ci::{Line, unquote};

/// One line's YAML shape.
struct Shape {
    blank: bool,
    indent: usize,
    /// Column of the line's content after any `- ` list markers.
    content: usize,
    key: Option<String>,
    value: String,
    /// `key: |`, `- >-`: a block scalar follows.
    header: bool,
}

fn shape(line: &Line) -> Shape {
    let code: String = line.code().iter().collect();
    let blank = code.trim().is_empty();
    let indent = line.indent();
    let mut rest = code.trim();
    let mut content = indent;
    let mut dash = false;
    while let Some(r) = rest.strip_prefix('-') {
        if !(r.is_empty() || r.starts_with([' ', '\t'])) {
            break;
        }
        dash = true;
        let trimmed = r.trim_start();
        content += 1 + (r.len() - trimmed.len());
        rest = trimmed;
    }
    let (key, value) = match rest.find(':') {
        Some(c) if rest[c + 1..].is_empty() || rest[c + 1..].starts_with([' ', '\t']) => {
            let key = rest[..c].trim().trim_matches(|q| q == '"' || q == '\'');
            if key.is_empty() || key.contains(char::is_whitespace) {
                (None, rest.to_string())
            } else {
                (Some(key.to_string()), rest[c + 1..].trim().to_string())
            }
        }
        _ => (None, rest.to_string()),
    };
    let scalar = if key.is_some() || dash {
        value.as_str()
    } else {
        ""
    };
    let header = scalar.starts_with(['|', '>'])
        && scalar[1..]
            .chars()
            .all(|c| matches!(c, '-' | '+') || c.is_ascii_digit());
    Shape {
        blank,
        indent,
        content,
        key,
        value,
        header,
    }
}

/// The block scalar header (`run: |`) whose text holds line `i`.
fn block_header(shapes: &[Shape], i: usize) -> Option<usize> {
    let mut min = shapes[i].indent;
    for j in (0..i).rev() {
        let s = &shapes[j];
        if s.blank {
            continue;
        }
        // A mapping value's block is indented past its key, a list item's past its dash.
        let column = if s.key.is_some() { s.content } else { s.indent };
        if s.header && column < min {
            return Some(j);
        }
        min = min.min(s.indent);
    }
    None
}

/// The nearest line above `node` that contains it (a smaller content column).
fn parent(shapes: &[Shape], node: usize) -> Option<usize> {
    let k = shapes[node].content;
    (0..node)
        .rev()
        .find(|&j| !shapes[j].blank && shapes[j].content < k)
}

/// The value of one of `keys` among the keys of the mapping holding `node`
/// (and, for `working-directory`, under a `defaults: run:` there).
fn sibling_value(shapes: &[Shape], node: usize, keys: &[&str]) -> Option<String> {
    let k = shapes[node].content;
    let matches = |j: usize| {
        let s = &shapes[j];
        if s.content != k {
            return None;
        }
        let key = s.key.as_deref()?;
        if keys.contains(&key) {
            return Some(s.value.clone());
        }
        if key == "defaults" && keys.contains(&"working-directory") {
            return (j + 1..shapes.len())
                .take_while(|&d| shapes[d].blank || shapes[d].indent > s.indent)
                .find(|&d| shapes[d].key.as_deref() == Some("working-directory"))
                .map(|d| shapes[d].value.clone());
        }
        None
    };
    // Up to the start of this mapping (a `- ` item line, or the parent key).
    for j in (0..=node).rev() {
        let s = &shapes[j];
        if s.blank {
            continue;
        }
        if s.indent < k {
            if s.content == k
                && let Some(v) = matches(j)
            {
                return Some(v);
            }
            break;
        }
        if s.indent == k
            && let Some(v) = matches(j)
        {
            return Some(v);
        }
    }
    for (j, s) in shapes.iter().enumerate().skip(node + 1) {
        if s.blank {
            continue;
        }
        if s.indent < k {
            break;
        }
        if s.indent == k
            && let Some(v) = matches(j)
        {
            return Some(v);
        }
    }
    None
}

/// The directory key (`keys`) of the nearest step, task or job holding line
/// `i`: its raw value. With `climb` false only the mapping holding `i` counts.
pub(super) fn directory_key(
    lines: &[Line],
    i: usize,
    keys: &[&str],
    climb: bool,
) -> Option<String> {
    let shapes: Vec<Shape> = lines.iter().map(shape).collect();
    let mut node = block_header(&shapes, i).unwrap_or(i);
    loop {
        if let Some(v) = sibling_value(&shapes, node, keys) {
            return Some(unquote(&v).to_string());
        }
        if !climb {
            return None;
        }
        node = parent(&shapes, node)?;
    }
}

/// The first line of the shell session holding line `i`: the text of its
/// `run: |` block, or (GitLab) its job's `script:` / `before_script:` list.
pub(super) fn session_start(lines: &[Line], i: usize, gitlab: bool) -> Option<usize> {
    let shapes: Vec<Shape> = lines.iter().map(shape).collect();
    if gitlab {
        let mut node = i;
        while let Some(p) = parent(&shapes, node) {
            if matches!(
                shapes[p].key.as_deref(),
                Some("script" | "before_script" | "after_script")
            ) {
                return Some(p + 1);
            }
            node = p;
        }
    }
    block_header(&shapes, i).map(|h| h + 1)
}

/// Where the shell text of a YAML line starts: after its indentation, `- `
/// marker and `key:` (`run: cd x && ...`); with the end, when the whole value
/// is one quoted scalar (then the quotes are dropped).
pub(super) fn shell_span(line: &[char]) -> (usize, usize) {
    let mut i = line.iter().take_while(|c| c.is_whitespace()).count();
    if line.get(i) == Some(&'-') && line.get(i + 1).is_some_and(|c| c.is_whitespace()) {
        i += 1;
        i += line[i..].iter().take_while(|c| c.is_whitespace()).count();
    }
    let key_end = line[i..]
        .iter()
        .position(|c| !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.')))
        .map(|p| i + p);
    if let Some(k) = key_end
        && k > i
        && line.get(k) == Some(&':')
        && line.get(k + 1).is_none_or(|c| c.is_whitespace())
    {
        i = k + 1;
        i += line[i..].iter().take_while(|c| c.is_whitespace()).count();
    }
    let mut end = line.len();
    while end > i && line[end - 1].is_whitespace() {
        end -= 1;
    }
    if end > i + 1 && matches!(line[i], '"' | '\'') && line[end - 1] == line[i] {
        return (i + 1, end - 1);
    }
    (i, end)
}

/// A line as shell text: in YAML, without its indentation and `- ` marker and
/// with a quoted list item unquoted.
pub(super) fn shell_text(line: &Line, yaml: bool) -> Vec<char> {
    let code: String = line.code().iter().collect();
    if !yaml {
        return code.chars().collect();
    }
    let mut t = code.trim();
    if let Some(r) = t.strip_prefix("- ") {
        t = r.trim();
    }
    unquote(t).chars().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preflight::ci::split_lines;

    fn line_of(text: &str, needle: &str) -> usize {
        text.lines()
            .position(|l| l.contains(needle))
            .expect("needle")
    }

    const WORKFLOW: &str = "\
defaults:
  run:
    working-directory: top
jobs:
  plan:
    runs-on: ubuntu-latest
    defaults:
      run:
        working-directory: job
    steps:
      - uses: actions/checkout@v4
      - name: init
        run: |
          cd sub
          terraform init -backend-config=A
        working-directory: step
      - run: terraform init -backend-config=B
  other:
    steps:
      - run: terraform init -backend-config=C
";

    #[test]
    fn nearest_working_directory_wins() {
        let lines = split_lines(WORKFLOW);
        let wd = ["working-directory"];
        let at = |n| directory_key(&lines, line_of(WORKFLOW, n), &wd, true);
        assert_eq!(at("backend-config=A").as_deref(), Some("step"));
        assert_eq!(at("backend-config=B").as_deref(), Some("job"));
        assert_eq!(at("backend-config=C").as_deref(), Some("top"));
    }

    #[test]
    fn run_block_is_one_session() {
        let lines = split_lines(WORKFLOW);
        let i = line_of(WORKFLOW, "backend-config=A");
        assert_eq!(
            session_start(&lines, i, false),
            Some(line_of(WORKFLOW, "run: |") + 1)
        );
        assert_eq!(
            session_start(&lines, line_of(WORKFLOW, "backend-config=B"), false),
            None
        );
    }

    #[test]
    fn gitlab_script_list_is_one_session() {
        let text = "\
deploy:
  variables:
    X: y
  script:
    - cd envs/prod
    - terraform init -backend-config=A
";
        let lines = split_lines(text);
        let i = line_of(text, "backend-config=A");
        assert_eq!(session_start(&lines, i, true), Some(4));
        assert_eq!(
            shell_text(&lines[4], true),
            "cd envs/prod".chars().collect::<Vec<_>>()
        );
    }

    #[test]
    fn taskfile_dir_and_action_path() {
        let task = "\
tasks:
  init:
    dir: envs/prod
    cmds:
      - terraform init -backend-config=A
";
        let lines = split_lines(task);
        let i = line_of(task, "backend-config=A");
        assert_eq!(
            directory_key(&lines, i, &["dir"], true).as_deref(),
            Some("envs/prod")
        );
        let action = "\
      - uses: dflook/terraform-plan@v1
        with:
          path: 'infra/prod'
          backend_config: |
            key=a
";
        let lines = split_lines(action);
        let i = line_of(action, "key=a");
        assert_eq!(
            directory_key(&lines, i, &["path"], false).as_deref(),
            Some("infra/prod")
        );
    }
}
