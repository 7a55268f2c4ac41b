//! End-to-end tests of how tflock runs as a program: exit codes of usage errors,
//! one `apply`/`rollback` at a time per repository, discovery of files git
//! tracks, and the lock-table retirement verdict of `tflock status`.

mod common;

use common::{output_within, stderr, stdout, tflock, tflock_command, write_files};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

const LIMIT: Duration = Duration::from_secs(60);

fn code(out: &Output) -> i32 {
    out.status
        .code()
        .unwrap_or_else(|| panic!("killed by a signal: {:?}", out.status))
}

// ---------------------------------------------------------------------------
// Exit codes
// ---------------------------------------------------------------------------

#[test]
fn usage_errors_exit_1_not_the_changes_planned_code() {
    let dir = TempDir::new().unwrap();
    for args in [
        &["plan", "--no-such-flag"][..],
        &["plan", "--detailed-exitcode", "--strategy", "sideways"],
        &["plan", "--max-depth", "many"],
        &["frobnicate"],
        &[],
    ] {
        let out = tflock(dir.path(), args);
        assert_eq!(code(&out), 1, "tflock {args:?}:\n{}", stderr(&out));
        assert!(
            !stderr(&out).is_empty(),
            "tflock {args:?} says what is wrong"
        );
    }
}

#[test]
fn help_and_version_exit_0() {
    let dir = TempDir::new().unwrap();
    for args in [&["--help"][..], &["--version"], &["plan", "--help"]] {
        let out = tflock(dir.path(), args);
        assert_eq!(code(&out), 0, "tflock {args:?}:\n{}", stderr(&out));
        assert!(stdout(&out).contains("tflock"), "{}", stdout(&out));
    }
}

#[test]
fn detailed_exitcode_still_means_changes_planned() {
    let dir = TempDir::new().unwrap();
    write_files(dir.path(), &[("main.tf", backend_tf("b", "t").as_bytes())]);
    let out = tflock(dir.path(), &["plan", "--offline", "--detailed-exitcode"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
}

// ---------------------------------------------------------------------------
// One run at a time
// ---------------------------------------------------------------------------

fn backend_tf(bucket: &str, table: &str) -> String {
    format!(
        "terraform {{\n  backend \"s3\" {{\n    bucket         = \"{bucket}\"\n    key            = \"app/terraform.tfstate\"\n    region         = \"eu-west-1\"\n    dynamodb_table = \"{table}\"\n  }}\n}}\n"
    )
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("run git");
    assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
    stdout(&out)
}

fn git_repo(files: &[(&str, &str)]) -> TempDir {
    let dir = TempDir::new().unwrap();
    let files: Vec<(&str, &[u8])> = files.iter().map(|(p, t)| (*p, t.as_bytes())).collect();
    write_files(dir.path(), &files);
    git(dir.path(), &["init", "-q"]);
    git(dir.path(), &["add", "-f", "."]);
    git(dir.path(), &["commit", "-q", "-m", "init"]);
    dir
}

/// A tflock `apply` that holds the run lock and waits, for as long as the test
/// wants, on an AWS endpoint that accepts connections and never answers. The
/// test knows the lock is held once the connection arrives: the lock is taken
/// before the scan, the lock check comes after it.
struct HeldApply {
    child: Child,
    _listener: TcpListener,
    _connection: std::net::TcpStream,
}

impl HeldApply {
    fn start(dir: &Path, args: &[&str]) -> HeldApply {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let mut all = vec!["apply", "--auto-approve", "--aws-timeout", "50"];
        all.extend_from_slice(args);
        let mut cmd = tflock_command(dir, &all);
        aws_env(&mut cmd, &endpoint);
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn tflock");
        listener.set_nonblocking(true).unwrap();
        let started = Instant::now();
        let connection = loop {
            match listener.accept() {
                Ok((connection, _)) => break connection,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("accept: {e}"),
            }
            if let Some(status) = child.try_wait().unwrap() {
                let mut err = String::new();
                use std::io::Read;
                child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut err)
                    .unwrap();
                panic!("the first apply ended ({status}) before checking locks:\n{err}");
            }
            assert!(
                started.elapsed() < LIMIT,
                "the first apply never called AWS"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        HeldApply {
            child,
            _listener: listener,
            _connection: connection,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for HeldApply {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn aws_env(cmd: &mut Command, endpoint: &str) {
    cmd.env("HOME", "/nonexistent/tflock-test-home")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_ENDPOINT_URL", endpoint);
}

fn run(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = tflock_command(dir, args);
    aws_env(&mut cmd, "http://127.0.0.1:9");
    output_within(&mut cmd, LIMIT)
}

#[test]
fn a_second_apply_in_the_same_git_repository_waits_then_names_the_holder() {
    let repo = git_repo(&[
        ("live/app/main.tf", &backend_tf("b-app", "t")),
        ("live/db/main.tf", &backend_tf("b-db", "t")),
    ]);
    let outside = TempDir::new().unwrap();
    let rollback = outside.path().join("rollback.json");
    let first = HeldApply::start(repo.path(), &["live/app"]);

    let started = Instant::now();
    let second = run(
        repo.path(),
        &[
            "apply",
            "--auto-approve",
            "--skip-lock-check",
            "--rollback-file",
            rollback.to_str().unwrap(),
            "live/db",
        ],
    );
    let waited = started.elapsed();
    let err = stderr(&second);
    assert_eq!(code(&second), 1, "{err}");
    assert!(
        err.contains(&format!("pid {}", first.pid())),
        "names the holder's pid:\n{err}"
    );
    assert!(err.contains("`tflock apply`"), "names its command:\n{err}");
    assert!(err.contains("since 20"), "says since when:\n{err}");
    assert!(err.contains("nothing was written"), "{err}");
    assert!(
        waited >= Duration::from_secs(2),
        "it waited a little first ({waited:?})"
    );
    assert_eq!(
        std::fs::read_to_string(repo.path().join("live/db/main.tf")).unwrap(),
        backend_tf("b-db", "t"),
        "the refused run wrote nothing"
    );
    assert!(!rollback.exists());
    // The lock lives in .git: nothing shows up in the work tree.
    assert_eq!(git(repo.path(), &["status", "--porcelain"]), "");
    assert!(repo.path().join(".git/tflock-run.lock").is_file());

    // Once the first run is gone (here: killed), the next one goes ahead.
    drop(first);
    let third = run(
        repo.path(),
        &[
            "apply",
            "--auto-approve",
            "--skip-lock-check",
            "--rollback-file",
            rollback.to_str().unwrap(),
            "live/db",
        ],
    );
    assert_eq!(code(&third), 0, "{}", stderr(&third));
    assert!(
        std::fs::read_to_string(repo.path().join("live/db/main.tf"))
            .unwrap()
            .contains("use_lockfile")
    );
    assert_eq!(
        git(repo.path(), &["status", "--porcelain"]),
        " M live/db/main.tf\n"
    );
    assert!(
        !repo.path().join(".git/tflock-run.lock").exists(),
        "a run that ends normally removes its lock file"
    );
}

#[test]
fn rollback_outside_git_waits_for_an_apply_of_the_same_tree() {
    let dir = TempDir::new().unwrap();
    write_files(
        dir.path(),
        &[
            ("a/main.tf", backend_tf("b-a", "t").as_bytes()),
            ("b/main.tf", backend_tf("b-b", "t").as_bytes()),
        ],
    );
    let outside = TempDir::new().unwrap();
    let rollback = outside.path().join("rollback.json");
    let rollback = rollback.to_str().unwrap();
    let applied = run(
        dir.path(),
        &[
            "apply",
            "--auto-approve",
            "--skip-lock-check",
            "--rollback-file",
            rollback,
            "a",
        ],
    );
    assert_eq!(code(&applied), 0, "{}", stderr(&applied));
    let migrated = std::fs::read_to_string(dir.path().join("a/main.tf")).unwrap();

    let first = HeldApply::start(dir.path(), &["b"]);
    let refused = run(
        dir.path(),
        &["rollback", "--auto-approve", "--files-only", rollback],
    );
    let err = stderr(&refused);
    assert_eq!(code(&refused), 1, "{err}");
    assert!(err.contains(&format!("pid {}", first.pid())), "{err}");
    assert!(
        err.contains(".tflock-run.lock"),
        "names the lock file:\n{err}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("a/main.tf")).unwrap(),
        migrated,
        "the refused rollback wrote nothing"
    );
    // A dry run writes nothing, so it does not wait.
    let dry = run(
        dir.path(),
        &["rollback", "--dry-run", "--files-only", rollback],
    );
    assert_eq!(code(&dry), 0, "{}", stderr(&dry));

    drop(first);
    let restored = run(
        dir.path(),
        &["rollback", "--auto-approve", "--files-only", rollback],
    );
    assert_eq!(code(&restored), 0, "{}", stderr(&restored));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("a/main.tf")).unwrap(),
        backend_tf("b-a", "t")
    );
    assert!(
        !dir.path().join(".tflock-run.lock").exists(),
        "a run that ends normally leaves no lock file in the tree"
    );
}

// ---------------------------------------------------------------------------
// Discovery
// ---------------------------------------------------------------------------

/// The offline JSON plan of `dir`, with `args`.
fn offline_plan(dir: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["plan", "--offline", "--format", "json"];
    all.extend_from_slice(args);
    let out = tflock(dir, &all);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}{}", stdout(&out), stderr(&out)));
    doc
}

/// The files of the backends an offline JSON plan found.
fn planned_files(dir: &Path, args: &[&str]) -> Vec<String> {
    let doc = offline_plan(dir, args);
    doc["backends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["file"].as_str().unwrap().to_string())
        .collect()
}

fn ignored_tree_files() -> Vec<(&'static str, String)> {
    vec![
        (".gitignore", "vendor/\n*.generated.tf\n".to_string()),
        ("app/main.tf", backend_tf("b-app", "t")),
        ("vendor/mod/main.tf", backend_tf("b-vendored", "t")),
        ("app/backend.generated.tf", backend_tf("b-gen", "t")),
        (".terraform/modules/m/main.tf", backend_tf("b-cache", "t")),
        (
            "x/.terragrunt-cache/abc/main.tf",
            backend_tf("b-tgcache", "t"),
        ),
    ]
}

#[test]
fn files_git_tracks_are_scanned_even_when_gitignore_matches_them() {
    let files = ignored_tree_files();
    let refs: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
    // `git add -f .` tracks every file, the ignored and the cache ones too.
    let repo = git_repo(&refs);
    // Ignored and untracked: stays skipped.
    write_files(
        repo.path(),
        &[
            (
                "vendor/untracked/main.tf",
                backend_tf("b-untracked", "t").as_bytes(),
            ),
            (
                "app/new.generated.tf",
                backend_tf("b-new-gen", "t").as_bytes(),
            ),
            ("new/main.tf", backend_tf("b-new", "t").as_bytes()),
        ],
    );
    assert_eq!(
        planned_files(repo.path(), &[]),
        [
            "app/backend.generated.tf",
            "app/main.tf",
            "new/main.tf",
            "vendor/mod/main.tf"
        ],
        "tracked files are read whatever .gitignore says, untracked ones unless it \
         matches them; cache folders never"
    );
    // The same inside a git hook, where GIT_DIR names the repository relative
    // to its top folder.
    let mut hook = tflock_command(
        repo.path(),
        &["plan", "--offline", "--format", "json", "app", "vendor"],
    );
    hook.env("GIT_DIR", ".git")
        .env("GIT_INDEX_FILE", ".git/index");
    let out = output_within(&mut hook, LIMIT);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let files: Vec<&str> = doc["backends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["file"].as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        [
            "app/backend.generated.tf",
            "app/main.tf",
            "vendor/mod/main.tf"
        ]
    );
    std::fs::remove_dir_all(repo.path().join("new")).unwrap();
    // From a subfolder, and for a path argument, the same rule.
    assert_eq!(
        planned_files(&repo.path().join("vendor"), &[]),
        ["mod/main.tf"]
    );
    assert_eq!(
        planned_files(repo.path(), &["vendor"]),
        ["vendor/mod/main.tf"]
    );
    // --exclude and --max-depth still apply to them.
    assert_eq!(
        planned_files(repo.path(), &["--exclude", "vendor"]),
        ["app/backend.generated.tf", "app/main.tf"]
    );
    assert_eq!(
        planned_files(repo.path(), &["--exclude", "*.generated.tf"]),
        ["app/main.tf", "vendor/mod/main.tf"]
    );
    assert_eq!(
        planned_files(repo.path(), &["--max-depth", "2"]),
        ["app/backend.generated.tf", "app/main.tf"]
    );
    // A tracked file deleted from the work tree is not an error.
    std::fs::remove_file(repo.path().join("vendor/mod/main.tf")).unwrap();
    assert_eq!(
        planned_files(repo.path(), &[]),
        ["app/backend.generated.tf", "app/main.tf"]
    );
}

/// The units of `root.hcl` an offline JSON plan found: the `unit` of each state.
fn units_of_root(dir: &Path, args: &[&str]) -> Vec<String> {
    let doc = offline_plan(dir, args);
    let root = doc["backends"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["file"] == "root.hcl")
        .unwrap_or_else(|| panic!("no root.hcl backend: {doc:#}"));
    let mut units: Vec<String> = root["states"]
        .as_array()
        .unwrap()
        .iter()
        .map(|st| st["unit"].as_str().unwrap_or("-").to_string())
        .collect();
    units.sort();
    units
}

#[test]
fn the_units_of_a_git_work_tree_are_the_unit_files_git_lists() {
    let root = "remote_state {\n  backend = \"s3\"\n  config = {\n    bucket         = \"b\"\n    key            = \"${path_relative_to_include()}/terraform.tfstate\"\n    region         = \"eu-west-1\"\n    dynamodb_table = \"t\"\n  }\n}\n";
    let unit = "include \"root\" {\n  path = find_in_parent_folders(\"root.hcl\")\n}\n";
    // `git add -f .` tracks the ignored unit as well.
    let repo = git_repo(&[
        (".gitignore", "vendor/\n"),
        ("root.hcl", root),
        ("a/terragrunt.hcl", unit),
        ("vendor/b/terragrunt.hcl", unit),
    ]);
    write_files(
        repo.path(),
        &[
            ("c/terragrunt.hcl", unit.as_bytes()),
            ("vendor/d/terragrunt.hcl", unit.as_bytes()),
            (".terragrunt-cache/x/terragrunt.hcl", unit.as_bytes()),
        ],
    );
    let expected = ["a", "c", "vendor/b"];
    assert_eq!(
        units_of_root(repo.path(), &[]),
        expected,
        "tracked units whatever .gitignore says, untracked ones unless it matches them, \
         never a cache's"
    );
    // Every unit of the repository counts, whatever part of it is scanned.
    assert_eq!(units_of_root(repo.path(), &["--exclude", "a"]), expected);
    assert_eq!(units_of_root(repo.path(), &["root.hcl"]), expected);
    // Outside git, the walk decides, and .gitignore with it.
    std::fs::remove_dir_all(repo.path().join(".git")).unwrap();
    assert_eq!(units_of_root(repo.path(), &[]), ["a", "c"]);
}

#[test]
fn outside_git_gitignore_still_decides() {
    let dir = TempDir::new().unwrap();
    let files = ignored_tree_files();
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(p, t)| (*p, t.as_bytes())).collect();
    write_files(dir.path(), &refs);
    assert_eq!(planned_files(dir.path(), &[]), ["app/main.tf"]);
}

fn plan_from_stdin(dir: &Path, list: &[u8]) -> Vec<String> {
    use std::io::Write;
    let mut cmd = tflock_command(dir, &["plan", "--offline", "--format", "json", "-"]);
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(list).unwrap();
    let out = child.wait_with_output().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}{}", stdout(&out), stderr(&out)));
    doc["backends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["file"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn non_ascii_paths_as_git_quotes_them_work_from_standard_input() {
    let repo = git_repo(&[
        ("café/main.tf", &backend_tf("b-cafe", "t")),
        ("plain/main.tf", &backend_tf("b-plain", "t")),
        ("naïve dir/ü.tf", &backend_tf("b-naive", "t")),
    ]);
    let listed = Command::new("git")
        .args(["ls-files"])
        .current_dir(repo.path())
        .output()
        .unwrap()
        .stdout;
    let text = String::from_utf8(listed.clone()).unwrap();
    assert!(
        text.contains(r#""caf\303\251/main.tf""#),
        "git quotes the name: {text}"
    );
    let expected = ["café/main.tf", "naïve dir/ü.tf", "plain/main.tf"];
    assert_eq!(plan_from_stdin(repo.path(), &listed), expected);
    let nul_separated = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(repo.path())
        .output()
        .unwrap()
        .stdout;
    assert_eq!(plan_from_stdin(repo.path(), &nul_separated), expected);
}

// ---------------------------------------------------------------------------
// On the emulator: terragrunt.hcl.json lock checks, the retirement verdict
// ---------------------------------------------------------------------------

const REGION: &str = "eu-west-1";

/// Runs `tests/support/seed.py` with this document against the emulator.
fn seed(url: &str, mut doc: serde_json::Value) -> serde_json::Value {
    use std::io::Write;
    doc["endpoint"] = serde_json::json!(url);
    doc["region"] = serde_json::json!(REGION);
    let mut child = Command::new(common::python())
        .arg(common::support("seed.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tests/support/seed.py (TFLOCK_TEST_PYTHON needs boto3)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(doc.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "seed.py: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn on_moto(dir: &Path, url: &str, args: &[&str]) -> Output {
    let mut cmd = tflock_command(dir, args);
    aws_env(&mut cmd, url);
    let out = output_within(&mut cmd, LIMIT);
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    out
}

fn terragrunt_json(bucket: &str, table: &str) -> String {
    format!(
        "{{\n  \"remote_state\": [\n    {{\n      \"backend\": \"s3\",\n      \"config\": {{\n        \"bucket\": \"{bucket}\",\n        \"key\": \"app/terraform.tfstate\",\n        \"region\": \"{REGION}\",\n        \"encrypt\": true,\n        \"dynamodb_table\": \"{table}\"\n      }}\n    }}\n  ],\n  \"inputs\": {{ \"dynamodb_table\": \"an input, not a backend\" }}\n}}\n"
    )
}

#[test]
fn terragrunt_hcl_json_is_lock_checked_and_migrated_with_json_edits() {
    let Some(url) =
        common::moto("terragrunt_hcl_json_is_lock_checked_and_migrated_with_json_edits")
    else {
        return;
    };
    let bucket = common::unique("tgjson");
    let table = common::unique("tgjson");
    let key = "app/terraform.tfstate";
    seed(
        &url,
        serde_json::json!({
            "buckets": [bucket], "tables": [table],
            "states": [{"bucket": bucket, "key": key, "table": table}],
            "locks": [{"table": table, "bucket": bucket, "key": key,
                       "id": "11111111-2222-3333-4444-555555555555", "who": "tina@laptop"}],
        }),
    );
    let dir = TempDir::new().unwrap();
    let original = terragrunt_json(&bucket, &table);
    write_files(
        dir.path(),
        &[("live/app/terragrunt.hcl.json", original.as_bytes())],
    );
    let outside = TempDir::new().unwrap();
    let rollback = outside.path().join("rollback.json");
    let apply = [
        "apply",
        "--auto-approve",
        "--skip-probe",
        "--rollback-file",
        rollback.to_str().unwrap(),
    ];

    // Held: blocked, with the holder, and nothing written.
    let held = on_moto(dir.path(), &url, &apply);
    let text = format!("{}{}", stdout(&held), stderr(&held));
    assert_eq!(code(&held), 1, "{text}");
    assert!(text.contains("tina@laptop"), "names the holder:\n{text}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("live/app/terragrunt.hcl.json")).unwrap(),
        original
    );

    // Free: migrated in place, as JSON.
    let items = seed(&url, serde_json::json!({"dump": {"tables": [table]}}));
    let lock_id = format!("{bucket}/{key}");
    assert!(items["tables"][&table].get(&lock_id).is_some());
    // Release the lock as Terraform would on unlock.
    release_lock(&url, &table, &lock_id);
    let free = on_moto(dir.path(), &url, &apply);
    assert_eq!(code(&free), 0, "{}{}", stdout(&free), stderr(&free));
    let migrated =
        std::fs::read_to_string(dir.path().join("live/app/terragrunt.hcl.json")).unwrap();
    assert_eq!(
        migrated,
        original.replace(
            &format!("\"dynamodb_table\": \"{table}\""),
            "\"use_lockfile\": true"
        )
    );
    serde_json::from_str::<serde_json::Value>(&migrated).expect("still JSON");
    let again = on_moto(dir.path(), &url, &["plan", "--offline", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(doc["backends"][0]["action"], "already-migrated", "{doc:#}");
}

/// Deletes a lock item, as Terraform's unlock does.
fn release_lock(url: &str, table: &str, lock_id: &str) {
    let script = format!(
        "import boto3\nc=boto3.client('dynamodb',endpoint_url='{url}',region_name='{REGION}',aws_access_key_id='t',aws_secret_access_key='t')\nc.delete_item(TableName='{table}',Key={{'LockID':{{'S':'{lock_id}'}}}})\n"
    );
    let out = Command::new(common::python())
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

fn lockfile_tf(bucket: &str, key: &str, extra: &str) -> String {
    format!(
        "terraform {{\n  backend \"s3\" {{\n    bucket       = \"{bucket}\"\n    key          = \"{key}\"\n    region       = \"{REGION}\"\n    use_lockfile = true\n{extra}  }}\n}}\n"
    )
}

fn status_table(dir: &Path, url: &str, table: &str) -> (serde_json::Value, String) {
    let json = on_moto(dir, url, &["status", "--format", "json"]);
    assert_eq!(code(&json), 0, "{}", stderr(&json));
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let row = doc["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == table)
        .unwrap_or_else(|| panic!("no table {table}: {doc:#}"))
        .clone();
    let text = stdout(&on_moto(dir, url, &["status"]));
    (row, text)
}

#[test]
fn a_table_with_digests_of_states_outside_the_scan_is_not_safe_to_retire() {
    let Some(url) =
        common::moto("a_table_with_digests_of_states_outside_the_scan_is_not_safe_to_retire")
    else {
        return;
    };
    let bucket = common::unique("retire");
    let table = common::unique("retire");
    // What Terraform left in the table: digests of the scanned states (the
    // default and a `dev` workspace, one with an empty workspace prefix), and
    // of two states no scanned configuration governs.
    seed(
        &url,
        serde_json::json!({
            "buckets": [bucket], "tables": [table],
            "states": [
                {"bucket": bucket, "key": "app/terraform.tfstate", "table": table},
                {"bucket": bucket, "key": "env:/dev/app/terraform.tfstate", "table": table},
                {"bucket": bucket, "key": "dev/flat/terraform.tfstate", "table": table},
                {"bucket": bucket, "key": "other-repo/terraform.tfstate", "table": table},
                {"bucket": bucket, "key": "env:/dev/other-repo/terraform.tfstate", "table": table},
            ],
        }),
    );
    let dir = TempDir::new().unwrap();
    write_files(
        dir.path(),
        &[
            (
                "app/main.tf",
                lockfile_tf(&bucket, "app/terraform.tfstate", "").as_bytes(),
            ),
            (
                "flat/main.tf",
                lockfile_tf(
                    &bucket,
                    "flat/terraform.tfstate",
                    "    workspace_key_prefix = \"\"\n",
                )
                .as_bytes(),
            ),
        ],
    );
    let (row, text) = status_table(dir.path(), &url, &table);
    assert_eq!(row["digest_items"], 5, "{row:#}");
    assert_eq!(row["outside_states"], 2, "{row:#}");
    assert_eq!(
        row["outside_examples"],
        serde_json::json!([
            format!("{bucket}/env:/dev/other-repo/terraform.tfstate"),
            format!("{bucket}/other-repo/terraform.tfstate"),
        ]),
        "{row:#}"
    );
    assert_eq!(
        row["verdict"], "still used by 2 states outside this scan",
        "{row:#}"
    );
    let line = text
        .lines()
        .find(|l| l.starts_with(&table))
        .unwrap_or_else(|| panic!("no row:\n{text}"));
    assert!(
        line.ends_with("still used by 2 states outside this scan"),
        "{line}"
    );
    assert!(
        text.contains(&format!("{bucket}/other-repo/terraform.tfstate")),
        "the text names examples:\n{text}"
    );

    // Once the other repository's configuration is scanned too (and on
    // lockfiles), every item is accounted for.
    write_files(
        dir.path(),
        &[(
            "other-repo/main.tf",
            lockfile_tf(&bucket, "other-repo/terraform.tfstate", "").as_bytes(),
        )],
    );
    let (row, _) = status_table(dir.path(), &url, &table);
    assert_eq!(row["outside_states"], 0, "{row:#}");
    assert_eq!(row["verdict"], "safe to retire", "{row:#}");

    // A scanned configuration that still locks with DynamoDB through another
    // table does not make its state's items here retirable.
    write_files(
        dir.path(),
        &[(
            "other-repo/main.tf",
            backend_tf(&bucket, "some-other-table")
                .replace("app/terraform.tfstate", "other-repo/terraform.tfstate")
                .as_bytes(),
        )],
    );
    let (row, _) = status_table(dir.path(), &url, &table);
    assert_eq!(
        row["verdict"], "still used by 2 states outside this scan",
        "{row:#}"
    );
}

#[test]
fn a_terragrunt_hcl_json_unit_of_a_root_has_its_state_lock_checked() {
    let Some(url) = common::moto("a_terragrunt_hcl_json_unit_of_a_root_has_its_state_lock_checked")
    else {
        return;
    };
    let bucket = common::unique("tgunit");
    let table = common::unique("tgunit");
    let json_unit_key = "live/json-unit/terraform.tfstate";
    seed(
        &url,
        serde_json::json!({
            "buckets": [bucket], "tables": [table],
            "states": [
                {"bucket": bucket, "key": "live/hcl-unit/terraform.tfstate", "table": table},
                {"bucket": bucket, "key": json_unit_key, "table": table},
            ],
            "locks": [{"table": table, "bucket": bucket, "key": json_unit_key,
                       "id": "22222222-2222-3333-4444-555555555555", "who": "jo@ci"}],
        }),
    );
    let root = format!(
        "remote_state {{\n  backend = \"s3\"\n  config = {{\n    bucket         = \"{bucket}\"\n    key            = \"${{path_relative_to_include()}}/terraform.tfstate\"\n    region         = \"{REGION}\"\n    dynamodb_table = \"{table}\"\n  }}\n}}\n"
    );
    let dir = TempDir::new().unwrap();
    write_files(
        dir.path(),
        &[
            ("root.hcl", root.as_bytes()),
            (
                "live/hcl-unit/terragrunt.hcl",
                b"include \"root\" {\n  path = find_in_parent_folders(\"root.hcl\")\n}\n",
            ),
            (
                "live/json-unit/terragrunt.hcl.json",
                br#"{"include": {"root": {"path": "${find_in_parent_folders(\"root.hcl\")}"}}}"#,
            ),
        ],
    );
    let out = on_moto(dir.path(), &url, &["plan", "--skip-probe"]);
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert_eq!(code(&out), 1, "{text}");
    assert!(
        text.contains("jo@ci"),
        "the JSON unit's lock blocks:\n{text}"
    );
    assert!(text.contains(json_unit_key), "{text}");
}
