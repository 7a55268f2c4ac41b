//! The extraction corpus: CI files, scripts and pipelines, each with the
//! overrides expected from it, one line per override:
//! `line:col dir via what`, where `dir` is `?` when unknown, `via` is `arg`,
//! `env:NAME` or `input`, and `what` is `KEY=VALUE` (with ` partial:PREFIX`
//! when the value holds a variable), `file:PATH -> DISPLAY` (`?` when the path
//! holds a variable) or `unreadable:TEXT`.

use super::*;

fn render(o: &InitOverride) -> String {
    let via = match &o.via {
        Via::Argument => "arg".to_string(),
        Via::EnvVar(v) => format!("env:{v}"),
        Via::ActionInput => "input".to_string(),
        Via::TerragruntExtraArguments => "terragrunt".to_string(),
    };
    let what = match &o.kind {
        OverrideKind::Setting {
            key,
            value,
            literal_prefix,
            complete,
        } => {
            if *complete {
                format!("{key}={value}")
            } else {
                format!("{key}={value} partial:{literal_prefix}")
            }
        }
        OverrideKind::File { path, file, .. } => {
            format!("file:{path} -> {}", file.as_deref().unwrap_or("?"))
        }
        OverrideKind::Unreadable { text } => format!("unreadable:{text}"),
    };
    format!(
        "{}:{} {} {via} {what}",
        o.line,
        o.column,
        o.dir.as_deref().unwrap_or("?")
    )
}

fn check(display: &str, text: &str, expected: &str) {
    let ctx = Context::fixed(
        &crate::resolve::parent_dir(display),
        ".",
        Path::new("/nonexistent-repo"),
    );
    let got: Vec<String> = ci_overrides(display, text, &ctx)
        .iter()
        .map(render)
        .collect();
    let want: Vec<&str> = expected
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(got, want, "{display}:\n{text}");
}

#[test]
fn makefile_lines_are_separate_shells() {
    check(
        "Makefile",
        "\
ENV ?= dev
init:
\tcd envs/prod
\tterraform init -backend-config=backend.hcl
\tcd envs/prod && terraform init -backend-config=\"key=envs/${ENV}/t.tfstate\"
\tterraform -chdir=envs/prod init -backend-config=key=$(ENV)/t.tfstate
\tterraform -chdir=$(DIR) init -backend-config=region=eu-west-1
",
        "
        4:17 . arg file:backend.hcl -> backend.hcl
        5:33 envs/prod arg key=envs/${ENV}/t.tfstate partial:envs/
        6:34 envs/prod arg key=$(ENV)/t.tfstate partial:
        7:31 ? arg region=eu-west-1
        ",
    );
}

#[test]
fn oneshell_makefile_keeps_cd_for_the_recipe() {
    check(
        "Makefile",
        "\
.ONESHELL:
init:
\tcd envs/prod
\tterraform init -backend-config=bucket=b
other:
\tterraform init -backend-config=bucket=c
",
        "
        4:17 envs/prod arg bucket=b
        6:17 . arg bucket=c
        ",
    );
}

#[test]
fn scripts_run_from_their_caller_unless_they_cd() {
    check(
        "deploy.sh",
        "\
#!/bin/sh
terraform -chdir=envs/prod init -backend-config=key=a
cd \"$(dirname \"$0\")\"
terraform -chdir=envs/prod init -backend-config=key=b
cd envs/stage
terraform init -backend-config=key=c \\
  -backend-config=bucket=d
(cd ../prod && terraform init -backend-config=key=e)
terraform init -backend-config=key=f
for d in envs/*; do (cd \"$d\" && terraform init -backend-config=key=g); done
",
        "
        2:33 ? arg key=a
        4:33 envs/prod arg key=b
        6:16 envs/stage arg key=c
        7:3 envs/stage arg bucket=d
        8:31 envs/prod arg key=e
        9:16 envs/stage arg key=f
        10:48 ? arg key=g
        ",
    );
}

#[test]
fn github_workflow_working_directory_and_run_blocks() {
    check(
        ".github/workflows/deploy.yml",
        "\
on: push
jobs:
  deploy:
    runs-on: ubuntu-latest
    defaults:
      run:
        working-directory: infra
    env:
      TF_CLI_ARGS_init: -backend-config=dynamodb_table=locks
      TF_CLI_ARGS_plan: -backend-config=ignored=x
    steps:
      - uses: actions/checkout@v4
      - run: terraform init -backend-config=key=a
      - name: prod
        working-directory: envs/prod
        run: |
          terraform init \\
            -backend-config=\"key=envs/${ENV}/t.tfstate\" \\
            -backend-config=backend.hcl
      - run: |
          cd envs/stage
          terraform init -backend-config=key=b
      - run: \"cd envs/dev && terraform init -backend-config=key=c\"
      - working-directory: ${{ matrix.dir }}
        run: terraform init -backend-config=key=d
      - uses: dflook/terraform-plan@v1
        with:
          path: envs/qa
          backend_config: key=qa.tfstate,bucket=${{ vars.BUCKET }}
          backend_config_file: envs/qa/backend.hcl
",
        "
        9:25 infra env:TF_CLI_ARGS_init dynamodb_table=locks
        13:29 infra arg key=a
        18:13 envs/prod arg key=envs/${ENV}/t.tfstate partial:envs/
        19:13 envs/prod arg file:backend.hcl -> envs/prod/backend.hcl
        22:26 infra/envs/stage arg key=b
        23:45 infra/envs/dev arg key=c
        25:29 ? arg key=d
        29:27 envs/qa input key=qa.tfstate
        29:42 envs/qa input bucket=${{ vars.BUCKET }} partial:
        30:32 envs/qa input file:envs/qa/backend.hcl -> envs/qa/backend.hcl
        ",
    );
}

#[test]
fn gitlab_script_list_and_env_exports() {
    check(
        ".gitlab-ci.yml",
        "\
variables:
  TF_CLI_ARGS_init: \"-backend-config=bucket=global\"
deploy:
  script:
    - cd envs/prod
    - terraform init -backend-config=key=a
    - export TF_CLI_ARGS_init=\"-backend-config=key=b\"
    - TF_CLI_ARGS_init=\"-backend-config=key=c\" terraform init
plan:
  script:
    - terraform init -backend-config=key=d
",
        "
        2:22 ? env:TF_CLI_ARGS_init bucket=global
        6:22 envs/prod arg key=a
        7:32 ? env:TF_CLI_ARGS_init key=b
        8:25 envs/prod env:TF_CLI_ARGS_init key=c
        11:22 . arg key=d
        ",
    );
}

#[test]
fn jenkins_dir_blocks_and_sh_strings() {
    check(
        "Jenkinsfile",
        "\
pipeline {
  agent any
  stages {
    stage('init') {
      steps {
        dir('envs/prod') {
          sh 'terraform init -backend-config=key=a'
        }
        sh \"cd envs/stage && terraform init -backend-config=key=b\"
        sh(script: 'terraform -chdir=envs/dev init -backend-config=key=c')
      }
    }
  }
}
",
        "
        7:30 envs/prod arg key=a
        9:45 envs/stage arg key=b
        10:52 envs/dev arg key=c
        ",
    );
}

#[test]
fn taskfile_justfile_and_atlantis() {
    check(
        "Taskfile.yml",
        "\
version: '3'
tasks:
  init:
    dir: envs/prod
    cmds:
      - terraform init -backend-config=key=a
",
        "6:24 envs/prod arg key=a",
    );
    check(
        "ops/justfile",
        "\
init env:
    cd envs/{{env}} && terraform init -backend-config=key={{env}}.tfstate
    terraform -chdir=envs/prod init -backend-config=key=p
",
        "
        2:39 ? arg key={{env}}.tfstate partial:
        3:37 ops/envs/prod arg key=p
        ",
    );
    check(
        "atlantis.yaml",
        "\
version: 3
workflows:
  custom:
    plan:
      steps:
        - init:
            extra_args: [\"-backend-config=key=a\"]
",
        "7:27 ? arg key=a",
    );
}

#[test]
fn unreadable_keys_secrets_and_other_commands() {
    check(
        "ci/run.sh",
        "\
terraform init -backend-config=\"$KEY=$VALUE\"
terraform init -backend-config=access_key=AKIAXXXX -backend-config=secret_key=\"$SECRET\"
terraform init -backend-config=$BACKEND_FILE
echo \"run terraform init -backend-config=key=x by hand\"
terraform init -backend-config=workspace_key_prefix=
terraform init -backend-config=\"${P}secret_key=abc\"
",
        "
        1:16 ? arg unreadable:$KEY=$VALUE
        2:16 ? arg access_key=(sensitive value)
        2:52 ? arg secret_key=(sensitive value) partial:
        3:16 ? arg file:$BACKEND_FILE -> ?
        5:16 ? arg workspace_key_prefix=
        6:16 ? arg unreadable:${P}secret_key=(sensitive value)
        ",
    );
}

#[test]
fn join_dir_folds_dots() {
    assert_eq!(join_dir(".", "envs/prod").as_deref(), Some("envs/prod"));
    assert_eq!(join_dir("infra", "./x/../y").as_deref(), Some("infra/y"));
    assert_eq!(join_dir("infra", "..").as_deref(), Some("."));
    assert_eq!(join_dir(".", "../other").as_deref(), Some("../other"));
    assert_eq!(join_dir(".", "/abs"), None);
    // Outside the cwd, display paths are absolute.
    assert_eq!(
        join_dir("/srv/repo", "envs/../x").as_deref(),
        Some("/srv/repo/x")
    );
    assert_eq!(join_dir("/", "..").as_deref(), Some("/"));
}

#[test]
fn kind_of_reads_values() {
    let ctx = Context::fixed(".", ".", Path::new("/r"));
    let setting = |v: &str| match kind_of(v, &[".".to_string()], &ctx) {
        OverrideKind::Setting {
            key,
            value,
            literal_prefix,
            complete,
        } => (key, value, literal_prefix, complete),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        setting("key=\"envs/${ENV}/t.tfstate\""),
        (
            "key".into(),
            "envs/${ENV}/t.tfstate".into(),
            "envs/".into(),
            false
        )
    );
    assert_eq!(
        setting("key = a/b.tfstate"),
        (
            "key".into(),
            "a/b.tfstate".into(),
            "a/b.tfstate".into(),
            true
        )
    );
    assert_eq!(
        setting("token=abc"),
        ("token".into(), REDACTED.into(), String::new(), true)
    );
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config::with_cases(1500))]
    /// Whatever the file (any runner), extraction never panics, and every
    /// override of a command line points at its `-backend-config` argument.
    #[test]
    fn never_panics_and_positions_point_at_the_argument(
        name in proptest::sample::select(vec![
            "deploy.sh", "Makefile", ".github/workflows/x.yml", ".gitlab-ci.yml",
            "Jenkinsfile", "Taskfile.yml", "justfile", "atlantis.yaml",
        ]),
        parts in proptest::collection::vec(proptest::sample::select(vec![
            "-backend-config", "-backend-config=", "key=", "a.hcl", "=", " ", "\t", "\n",
            "\\\n", "\"", "'", "#", "cd ", "cd", "pushd ", "popd", "..", "/", "envs",
            "-chdir=", "-chdir ", "terraform ", "init ", "&&", ";", "(", ")", "|", "- ",
            "run: ", "run: |", "script:", "working-directory: ", "defaults:", "dir: ",
            "dir('", "') {", "}", "{", "sh '", "$(dirname \"$0\")", "${X}", "$", "${{", "}}",
            "TF_CLI_ARGS_init=", "export ", ".ONESHELL:", "ü", "\u{feff}", "\r\n",
            "backend_config: ", "path: ",
        ]), 0..40)
    ) {
        let text: String = parts.concat();
        let ctx = Context::fixed(
            &crate::resolve::parent_dir(name),
            ".",
            Path::new("/nonexistent-repo"),
        );
        let stripped = text.strip_prefix('\u{feff}').unwrap_or(&text);
        for o in ci_overrides(name, &text, &ctx) {
            if o.via == Via::ActionInput {
                continue;
            }
            let line = stripped.split('\n').nth(o.line - 1).unwrap_or_default();
            let line = line.strip_suffix('\r').unwrap_or(line);
            let at: String = line.chars().skip(o.column - 1).collect();
            proptest::prop_assert!(
                at.trim_start_matches('-').starts_with("backend-config"),
                "{o:?} not at {at:?} in {text:?}"
            );
            if let Some(dir) = &o.dir {
                proptest::prop_assert!(!dir.starts_with('/') && !dir.contains('$'), "{o:?}");
            }
        }
    }
}
