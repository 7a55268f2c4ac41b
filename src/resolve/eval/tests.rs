//! Evaluator tests on real file trees shaped like gruntwork's
//! terragrunt-infrastructure-live-example (root.hcl, account.hcl, region.hcl,
//! env.hcl, units below them).

use super::*;
use std::fs;

struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    fn new(files: &[(&str, &str)]) -> Tree {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let full = dir.path().join(path);
            fs::create_dir_all(full.parent().unwrap()).unwrap();
            fs::write(full, text).unwrap();
        }
        Tree { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn evaluator(&self, env: &[(&str, &str)]) -> Evaluator {
        Evaluator::new(World {
            repo_root: self.dir.path().to_path_buf(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        })
    }

    /// Evaluates `expr` in the unit's own file.
    fn in_unit(&self, unit: &str, env: &[(&str, &str)], expr: &str) -> Evaluated {
        let ev = self.evaluator(env);
        let unit = self.path(unit);
        ev.scope(&unit, &unit, None).eval(expr)
    }

    /// Evaluates `expr` in the included file the unit's include `name` names.
    fn in_root(
        &self,
        unit: &str,
        name: Option<&str>,
        env: &[(&str, &str)],
        expr: &str,
    ) -> Evaluated {
        let ev = self.evaluator(env);
        let unit = self.path(unit);
        let includes = ev.includes(&unit).unwrap();
        let inc = includes
            .iter()
            .find(|i| i.name.as_deref() == name)
            .expect("the include");
        ev.scope(&inc.path, &unit, Some(inc)).eval(expr)
    }
}

fn s(v: &str) -> Evaluated {
    Evaluated::Known(hcl::Value::String(v.into()))
}

#[track_caller]
fn assert_unknown(got: Evaluated, needle: &str) {
    match got {
        Evaluated::Unknown { reason } => assert!(
            reason.contains(needle),
            "reason {reason:?} does not mention {needle:?}"
        ),
        known => panic!("expected unknown ({needle}), got {known:?}"),
    }
}

const ROOT: &str = r#"
locals {
  account_vars     = read_terragrunt_config(find_in_parent_folders("account.hcl"))
  region_vars      = read_terragrunt_config(find_in_parent_folders("region.hcl"))
  environment_vars = read_terragrunt_config(find_in_parent_folders("env.hcl"))

  account_name = local.account_vars.locals.account_name
  aws_region   = local.region_vars.locals.aws_region
}

remote_state {
  backend = "s3"
  config = {
    encrypt        = true
    bucket         = "${get_env("TG_BUCKET_PREFIX", "")}tf-state-${local.account_name}-${local.aws_region}"
    key            = "${path_relative_to_include()}/tf.tfstate"
    region         = local.aws_region
    dynamodb_table = "tf-locks"
  }
}

inputs = merge(
  local.account_vars.locals,
  local.region_vars.locals,
  local.environment_vars.locals,
)
"#;

fn live() -> Tree {
    Tree::new(&[
        ("live/root.hcl", ROOT),
        (
            "live/non-prod/account.hcl",
            "locals {\n  account_name   = \"non-prod\"\n  aws_account_id = \"111111111111\"\n}\n",
        ),
        (
            "live/non-prod/us-east-1/region.hcl",
            "locals {\n  aws_region = \"us-east-1\"\n}\n",
        ),
        (
            "live/non-prod/us-east-1/qa/env.hcl",
            "locals {\n  environment = \"qa\"\n}\n",
        ),
        (
            "live/non-prod/us-east-1/qa/mysql/terragrunt.hcl",
            "include \"root\" {\n  path = find_in_parent_folders(\"root.hcl\")\n}\n",
        ),
        (
            "live/prod/account.hcl",
            "locals {\n  account_name   = \"prod\"\n  aws_account_id = \"222222222222\"\n}\n",
        ),
        (
            "live/prod/eu-west-1/region.hcl",
            "locals {\n  aws_region = \"eu-west-1\"\n}\n",
        ),
        (
            "live/prod/eu-west-1/prod/env.hcl",
            "locals {\n  environment = \"prod\"\n}\n",
        ),
        (
            "live/prod/eu-west-1/prod/vpc/terragrunt.hcl",
            "include \"root\" {\n  path = find_in_parent_folders(\"root.hcl\")\n}\n",
        ),
    ])
}

const QA: &str = "live/non-prod/us-east-1/qa/mysql/terragrunt.hcl";
const PROD: &str = "live/prod/eu-west-1/prod/vpc/terragrunt.hcl";

#[test]
fn live_example_root_is_evaluated_per_unit() {
    let t = live();
    let cases = [
        (QA, "local.aws_region", s("us-east-1")),
        (PROD, "local.aws_region", s("eu-west-1")),
        (
            QA,
            "\"${path_relative_to_include()}/tf.tfstate\"",
            s("non-prod/us-east-1/qa/mysql/tf.tfstate"),
        ),
        (
            PROD,
            "\"${path_relative_to_include()}/tf.tfstate\"",
            s("prod/eu-west-1/prod/vpc/tf.tfstate"),
        ),
        (
            QA,
            "\"${get_env(\"TG_BUCKET_PREFIX\", \"\")}tf-state-${local.account_name}-${local.aws_region}\"",
            s("tf-state-non-prod-us-east-1"),
        ),
        (
            PROD,
            "local.account_vars.locals.aws_account_id",
            s("222222222222"),
        ),
        (QA, "local.environment_vars.locals.environment", s("qa")),
    ];
    for (unit, expr, want) in cases {
        assert_eq!(
            t.in_root(unit, Some("root"), &[], expr),
            want,
            "{unit}: {expr}"
        );
    }
}

#[test]
fn env_var_feeds_the_bucket_prefix() {
    let t = live();
    let got = t.in_root(
        QA,
        Some("root"),
        &[("TG_BUCKET_PREFIX", "acme-")],
        "\"${get_env(\"TG_BUCKET_PREFIX\", \"\")}tf-state-${local.account_name}\"",
    );
    assert_eq!(got, s("acme-tf-state-non-prod"));
}

#[test]
fn merge_of_read_locals_in_inputs() {
    let t = live();
    let got = t.in_root(
        PROD,
        Some("root"),
        &[],
        "merge(local.account_vars.locals, local.region_vars.locals)",
    );
    let Evaluated::Known(hcl::Value::Object(map)) = got else {
        panic!("{got:?}")
    };
    assert_eq!(map["account_name"], hcl::Value::from("prod"));
    assert_eq!(map["aws_region"], hcl::Value::from("eu-west-1"));
}

#[test]
fn includes_in_every_form() {
    let t = Tree::new(&[
        ("live/root.hcl", "locals {}\n"),
        ("live/terragrunt.hcl", "locals {}\n"),
        ("live/common/extra.hcl", "locals {}\n"),
        (
            "live/a/bare/terragrunt.hcl",
            "include {\n  path = find_in_parent_folders()\n}\n",
        ),
        (
            "live/a/interp/terragrunt.hcl",
            "include {\n  path = \"${find_in_parent_folders()}\"\n}\n",
        ),
        (
            "live/a/named/terragrunt.hcl",
            "include \"root\" {\n  path   = find_in_parent_folders(\"root.hcl\")\n  expose = true\n  merge_strategy = \"deep\"\n}\ninclude \"extra\" {\n  path = \"../../common/extra.hcl\"\n}\n",
        ),
        (
            "live/a/json/terragrunt.hcl.json",
            r#"{"include": {"root": {"path": "${find_in_parent_folders(\"root.hcl\")}"}}}"#,
        ),
        (
            "live/a/jsonbare/terragrunt.hcl.json",
            r#"{"include": {"path": "../../root.hcl"}}"#,
        ),
    ]);
    let ev = t.evaluator(&[]);
    let root = t.path("live/root.hcl");
    let tg = t.path("live/terragrunt.hcl");
    let inc = |name: Option<&str>, path: &PathBuf, expose: bool, strategy: &str| Include {
        name: name.map(String::from),
        path: path.clone(),
        expose,
        merge_strategy: strategy.into(),
    };
    let cases = [
        (
            "live/a/bare/terragrunt.hcl",
            vec![inc(None, &tg, false, "shallow")],
        ),
        (
            "live/a/interp/terragrunt.hcl",
            vec![inc(None, &tg, false, "shallow")],
        ),
        (
            "live/a/named/terragrunt.hcl",
            vec![
                inc(Some("root"), &root, true, "deep"),
                inc(
                    Some("extra"),
                    &t.path("live/common/extra.hcl"),
                    false,
                    "shallow",
                ),
            ],
        ),
        (
            "live/a/json/terragrunt.hcl.json",
            vec![inc(Some("root"), &root, false, "shallow")],
        ),
        (
            "live/a/jsonbare/terragrunt.hcl.json",
            vec![inc(None, &root, false, "shallow")],
        ),
    ];
    for (unit, want) in cases {
        assert_eq!(ev.includes(&t.path(unit)).unwrap(), want, "{unit}");
    }
}

#[test]
fn include_path_that_cannot_be_known_is_an_error_with_its_line() {
    let t = Tree::new(&[(
        "u/terragrunt.hcl",
        "# a unit\ninclude \"root\" {\n  path = \"${get_env(\"ROOT_DIR\")}/root.hcl\"\n}\n",
    )]);
    let err = t
        .evaluator(&[])
        .includes(&t.path("u/terragrunt.hcl"))
        .unwrap_err();
    assert!(err.contains("terragrunt.hcl:3"), "{err}");
    assert!(err.contains("ROOT_DIR"), "{err}");
    let err = Tree::new(&[(
        "u/terragrunt.hcl",
        "include {\n  path = find_in_parent_folders(\"nope.hcl\")\n}\n",
    )]);
    let msg = err
        .evaluator(&[])
        .includes(&err.path("u/terragrunt.hcl"))
        .unwrap_err();
    assert!(msg.contains("nope.hcl"), "{msg}");
}

#[test]
fn find_in_parent_folders_semantics() {
    let t = Tree::new(&[
        ("r/terragrunt.hcl", ""),
        ("r/x/common.hcl", ""),
        ("r/x/u/common.hcl", "# in the unit's own dir: never found"),
        ("r/x/u/terragrunt.hcl", "locals {}\n"),
        ("r/j/terragrunt.hcl.json", "{}"),
        ("r/j/v/terragrunt.hcl", "locals {}\n"),
    ]);
    let u = "r/x/u/terragrunt.hcl";
    let p = |rel: &str| s(t.path(rel).to_str().unwrap());
    assert_eq!(
        t.in_unit(u, &[], "find_in_parent_folders()"),
        p("r/terragrunt.hcl")
    );
    assert_eq!(
        t.in_unit(u, &[], "find_in_parent_folders(\"common.hcl\")"),
        p("r/x/common.hcl")
    );
    assert_eq!(
        t.in_unit(
            u,
            &[],
            "find_in_parent_folders(\"missing.hcl\", \"fallback\")"
        ),
        s("fallback")
    );
    assert_unknown(
        t.in_unit(u, &[], "find_in_parent_folders(\"missing.hcl\")"),
        "missing.hcl",
    );
    assert_eq!(
        t.in_unit("r/j/v/terragrunt.hcl", &[], "find_in_parent_folders()"),
        p("r/j/terragrunt.hcl.json")
    );
}

#[test]
fn path_functions_in_unit_and_root() {
    let t = Tree::new(&[
        (
            "repo/live/root.hcl",
            "locals {\n  here = get_terragrunt_dir()\n}\n",
        ),
        ("repo/live/other.hcl", "locals {}\n"),
        (
            "repo/live/prod/app/terragrunt.hcl",
            "include \"root\" {\n  path = find_in_parent_folders(\"root.hcl\")\n}\ninclude \"other\" {\n  path = \"../../other.hcl\"\n}\n",
        ),
        (
            "repo/live/stage/db/terragrunt.hcl",
            "include {\n  path = find_in_parent_folders(\"root.hcl\")\n}\n",
        ),
        ("repo/solo/terragrunt.hcl", "locals {}\n"),
    ]);
    let unit = "repo/live/prod/app/terragrunt.hcl";
    let abs = |rel: &str| s(t.path(rel).to_str().unwrap());
    let cases: Vec<(&str, Option<&str>, &str, Evaluated)> = vec![
        (
            unit,
            Some("root"),
            "path_relative_to_include()",
            s("prod/app"),
        ),
        (
            unit,
            Some("root"),
            "path_relative_from_include()",
            s("../.."),
        ),
        (
            unit,
            Some("root"),
            "get_terragrunt_dir()",
            abs("repo/live/prod/app"),
        ),
        (unit, Some("root"), "local.here", abs("repo/live/prod/app")),
        (
            unit,
            Some("root"),
            "get_parent_terragrunt_dir()",
            abs("repo/live"),
        ),
        (
            unit,
            Some("root"),
            "get_original_terragrunt_dir()",
            abs("repo/live/prod/app"),
        ),
        (
            unit,
            Some("root"),
            "get_repo_root()",
            s(t.dir.path().to_str().unwrap()),
        ),
        (
            unit,
            Some("root"),
            "get_path_from_repo_root()",
            s("repo/live/prod/app"),
        ),
        (
            unit,
            Some("root"),
            "get_path_to_repo_root()",
            s("../../../.."),
        ),
        (
            "repo/live/stage/db/terragrunt.hcl",
            None,
            "path_relative_to_include()",
            s("stage/db"),
        ),
    ];
    for (unit, name, expr, want) in cases {
        assert_eq!(t.in_root(unit, name, &[], expr), want, "{expr}");
    }
    // In the unit itself, with several includes, the include is named.
    assert_eq!(
        t.in_unit(unit, &[], "path_relative_to_include(\"root\")"),
        s("prod/app")
    );
    assert_eq!(
        t.in_unit(unit, &[], "get_parent_terragrunt_dir(\"other\")"),
        abs("repo/live")
    );
    assert_unknown(
        t.in_unit(unit, &[], "path_relative_to_include()"),
        "name the include",
    );
    assert_eq!(
        t.in_unit(
            "repo/live/stage/db/terragrunt.hcl",
            &[],
            "path_relative_to_include()"
        ),
        s("stage/db")
    );
    assert_eq!(
        t.in_unit(
            "repo/solo/terragrunt.hcl",
            &[],
            "path_relative_to_include()"
        ),
        s(".")
    );
}

#[test]
fn locals_chain_and_fail_alone() {
    let t = Tree::new(&[(
        "u/terragrunt.hcl",
        r#"
locals {
  c      = "${local.b}-c"
  b      = "${local.a}-b"
  a      = "a"
  loop1  = local.loop2
  loop2  = local.loop1
  broken = get_aws_account_id()
  uses   = "${local.broken}-x"
  num    = 2 + 3
}
"#,
    )]);
    let u = "u/terragrunt.hcl";
    assert_eq!(t.in_unit(u, &[], "local.c"), s("a-b-c"));
    assert_unknown(t.in_unit(u, &[], "local.loop1"), "refers to itself");
    assert_unknown(t.in_unit(u, &[], "local.uses"), "get_aws_account_id");
    assert_unknown(t.in_unit(u, &[], "local.uses"), "terragrunt.hcl:9");
    assert_eq!(
        t.in_unit(u, &[], "local.num"),
        Evaluated::Known(hcl::Value::from(5))
    );
    assert_eq!(t.in_unit(u, &[], "local.a"), s("a"));
    assert_unknown(t.in_unit(u, &[], "local.nope"), "not defined");
}

#[test]
fn exposed_includes() {
    let t = Tree::new(&[
        (
            "l/root.hcl",
            "locals {\n  region = \"us-west-2\"\n  key = \"${path_relative_to_include()}/s.tfstate\"\n}\ninputs = {\n  team = \"core\"\n}\nremote_state {\n  backend = \"s3\"\n  config = {\n    bucket = \"b-${local.region}\"\n  }\n}\n",
        ),
        (
            "l/env/app/terragrunt.hcl",
            "include \"root\" {\n  path   = find_in_parent_folders(\"root.hcl\")\n  expose = true\n}\nlocals {\n  r = include.root.locals.region\n}\n",
        ),
        (
            "l/env/bare/terragrunt.hcl",
            "include {\n  path   = find_in_parent_folders(\"root.hcl\")\n  expose = true\n}\n",
        ),
        (
            "l/env/hidden/terragrunt.hcl",
            "include \"root\" {\n  path = find_in_parent_folders(\"root.hcl\")\n}\n",
        ),
    ]);
    let app = "l/env/app/terragrunt.hcl";
    assert_eq!(t.in_unit(app, &[], "local.r"), s("us-west-2"));
    assert_eq!(
        t.in_unit(app, &[], "include.root.locals.key"),
        s("env/app/s.tfstate")
    );
    assert_eq!(t.in_unit(app, &[], "include.root.inputs.team"), s("core"));
    assert_eq!(
        t.in_unit(app, &[], "include.root.remote_state.config.bucket"),
        s("b-us-west-2")
    );
    assert_eq!(
        t.in_unit("l/env/bare/terragrunt.hcl", &[], "include.locals.region"),
        s("us-west-2")
    );
    assert_unknown(
        t.in_unit(
            "l/env/hidden/terragrunt.hcl",
            &[],
            "include.root.locals.region",
        ),
        "no attribute",
    );
}

#[test]
fn nested_include_is_refused_like_terragrunt() {
    let t = Tree::new(&[
        ("r/base.hcl", "locals {}\n"),
        (
            "r/mid.hcl",
            "include {\n  path = \"base.hcl\"\n}\nlocals {\n  x = \"x\"\n}\n",
        ),
        (
            "r/u/terragrunt.hcl",
            "include \"mid\" {\n  path = \"../mid.hcl\"\n}\n",
        ),
    ]);
    assert_unknown(
        t.in_root("r/u/terragrunt.hcl", Some("mid"), &[], "local.x"),
        "has includes itself",
    );
}

#[test]
fn read_terragrunt_config_contents_and_context() {
    let t = Tree::new(&[
        (
            "r/common.hcl",
            "locals {\n  dir  = get_terragrunt_dir()\n  orig = get_original_terragrunt_dir()\n  near = find_in_parent_folders(\"marker.hcl\")\n}\ninputs = {\n  size = 3\n}\niam_role = \"arn:aws:iam::1:role/x\"\nremote_state {\n  backend = \"s3\"\n  config = {\n    bucket = \"common-bucket\"\n  }\n}\ngenerate \"provider\" {\n  path = \"provider.tf\"\n}\n",
        ),
        ("marker.hcl", ""),
        (
            "r/u/terragrunt.hcl",
            "locals {\n  c = read_terragrunt_config(\"../common.hcl\")\n  d = read_terragrunt_config(\"../missing.hcl\", { locals = { x = \"dflt\" } })\n  e = read_terragrunt_config(\"../missing.hcl\")\n  f = read_terragrunt_config(\"..\")\n}\n",
        ),
        ("r/terragrunt.hcl", "locals {\n  where = \"dir form\"\n}\n"),
    ]);
    let u = "r/u/terragrunt.hcl";
    let abs = |rel: &str| s(t.path(rel).to_str().unwrap());
    assert_eq!(t.in_unit(u, &[], "local.c.locals.dir"), abs("r"));
    assert_eq!(t.in_unit(u, &[], "local.c.locals.orig"), abs("r/u"));
    assert_eq!(t.in_unit(u, &[], "local.c.locals.near"), abs("marker.hcl"));
    assert_eq!(
        t.in_unit(u, &[], "local.c.inputs.size"),
        Evaluated::Known(hcl::Value::from(3))
    );
    assert_eq!(
        t.in_unit(u, &[], "local.c.iam_role"),
        s("arn:aws:iam::1:role/x")
    );
    assert_eq!(
        t.in_unit(u, &[], "local.c.remote_state.config.bucket"),
        s("common-bucket")
    );
    assert_eq!(
        t.in_unit(u, &[], "local.c.generate.provider.path"),
        s("provider.tf")
    );
    assert_eq!(t.in_unit(u, &[], "local.d.locals.x"), s("dflt"));
    assert_unknown(t.in_unit(u, &[], "local.e.locals.x"), "does not exist");
    assert_eq!(t.in_unit(u, &[], "local.f.locals.where"), s("dir form"));
}

#[test]
fn read_terragrunt_config_cycles_are_unknown() {
    let t = Tree::new(&[
        (
            "r/a.hcl",
            "locals {\n  b = read_terragrunt_config(\"b.hcl\")\n  v = local.b.locals.v\n}\n",
        ),
        (
            "r/b.hcl",
            "locals {\n  a = read_terragrunt_config(\"a.hcl\")\n  v = local.a.locals.v\n}\n",
        ),
        (
            "r/u/terragrunt.hcl",
            "locals {\n  a = read_terragrunt_config(\"../a.hcl\")\n}\n",
        ),
    ]);
    assert_unknown(
        t.in_unit("r/u/terragrunt.hcl", &[], "local.a.locals.v"),
        "cycle",
    );
}

#[test]
fn unknowns_fail_closed_with_reasons() {
    let t = Tree::new(&[(
        "u/terragrunt.hcl",
        "dependency \"vpc\" {\n  config_path = \"../vpc\"\n}\nlocals {\n  x = 1\n}\n",
    )]);
    let u = "u/terragrunt.hcl";
    let cases = [
        ("get_aws_account_id()", "get_aws_account_id"),
        (
            "\"tf-${get_aws_caller_identity_arn()}\"",
            "get_aws_caller_identity_arn",
        ),
        (
            "get_aws_caller_identity_user_id()",
            "get_aws_caller_identity_user_id",
        ),
        ("run_cmd(\"echo\", \"hi\")", "run_cmd"),
        ("sops_decrypt_file(\"secrets.yaml\")", "sops_decrypt_file"),
        ("dependency.vpc.outputs.vpc_id", "dependency.vpc"),
        ("get_env(\"UNSET_VAR\")", "UNSET_VAR"),
        ("var.bucket", "var.bucket"),
        ("no_such_function(1)", "no_such_function"),
        ("some_var.x", "some_var"),
        (
            "read_terragrunt_config(\"nope.hcl\").locals.x",
            "does not exist",
        ),
        ("feature.flag.value", "feature"),
        ("upper(run_cmd(\"x\"))", "run_cmd"),
        ("length(split(\",\", run_cmd(\"x\")))", "run_cmd"),
        ("\"${\"", "does not parse"),
    ];
    for (expr, needle) in cases {
        assert_unknown(t.in_unit(u, &[], expr), needle);
    }
    // The reason names the expression.
    assert_unknown(t.in_unit(u, &[], "var.bucket"), "`var.bucket`");
}

#[test]
fn try_and_coalesce_over_unknowns() {
    let t = Tree::new(&[("u/terragrunt.hcl", "locals {\n  m = { a = \"x\" }\n}\n")]);
    let u = "u/terragrunt.hcl";
    assert_unknown(
        t.in_unit(u, &[], "try(get_aws_account_id(), \"fallback\")"),
        "try()",
    );
    assert_unknown(
        t.in_unit(u, &[], "try({ a = run_cmd(\"x\") }, \"fallback\")"),
        "try()",
    );
    assert_eq!(
        t.in_unit(u, &[], "try(local.m.missing, \"fallback\")"),
        s("fallback")
    );
    assert_eq!(t.in_unit(u, &[], "try(local.m.a, \"fallback\")"), s("x"));
    assert_eq!(
        t.in_unit(u, &[], "can(local.m.missing)"),
        Evaluated::Known(hcl::Value::Bool(false))
    );
    assert_unknown(
        t.in_unit(u, &[], "coalesce(get_env(\"NOPE\"), \"d\")"),
        "coalesce()",
    );
    assert_eq!(
        t.in_unit(u, &[], "coalesce(\"\", \"first\", get_aws_account_id())"),
        s("first")
    );
    assert_eq!(
        t.in_unit(u, &[], "coalesce(get_env(\"NOPE\", \"\"), \"d\")"),
        s("d")
    );
}

#[test]
fn hcl_functions() {
    let t = Tree::new(&[
        (
            "u/terragrunt.hcl",
            "locals {\n  l = [\"a\", \"b\", \"c\"]\n  m = { k = \"v\" }\n}\n",
        ),
        ("u/vars.json", "{\"bucket\": \"from-json\", \"n\": 2}"),
        (
            "u/vars.yaml",
            "bucket: from-yaml\nlist:\n  - one\n  - two\nnum: 7\n",
        ),
        ("vars/common.yaml", "region: ap-south-1\n"),
    ]);
    let u = "u/terragrunt.hcl";
    let n = |v: i64| Evaluated::Known(hcl::Value::from(v));
    let b = |v: bool| Evaluated::Known(hcl::Value::Bool(v));
    let cases: Vec<(&str, Evaluated)> = vec![
        ("format(\"%s-%s-%03d\", \"a\", \"b\", 7)", s("a-b-007")),
        (
            "format(\"%q %v %t %%\", \"x\", 1, true)",
            s("\"x\" 1 true %"),
        ),
        ("lower(\"AbC\")", s("abc")),
        ("upper(\"AbC\")", s("ABC")),
        ("replace(\"a-b-c\", \"-\", \"/\")", s("a/b/c")),
        (
            "replace(\"prod-eu-1\", \"/(\\\\w+)-(\\\\w+)-\\\\d/\", \"$2/$1\")",
            s("eu/prod"),
        ),
        ("split(\"/\", \"a/b\")[1]", s("b")),
        ("join(\"-\", local.l)", s("a-b-c")),
        ("element(local.l, 4)", s("b")),
        ("lookup(local.m, \"k\")", s("v")),
        ("lookup(local.m, \"z\", \"dflt\")", s("dflt")),
        ("merge(local.m, { k = \"w\" }).k", s("w")),
        ("basename(\"/a/b/c.tfstate\")", s("c.tfstate")),
        ("dirname(\"a/b/c.tfstate\")", s("a/b")),
        ("trimprefix(\"env:/x\", \"env:/\")", s("x")),
        ("trimsuffix(\"x.tfstate\", \".tfstate\")", s("x")),
        ("trimspace(\"  x \\n\")", s("x")),
        ("abspath(\"/a/./b/../c\")", s("/a/c")),
        ("concat(local.l, [\"d\"])[3]", s("d")),
        ("length(local.l)", n(3)),
        ("length(\"héllo\")", n(5)),
        ("contains(local.l, \"b\")", b(true)),
        ("tostring(5)", s("5")),
        ("jsondecode(file(\"vars.json\")).bucket", s("from-json")),
        ("yamldecode(file(\"vars.yaml\")).list[1]", s("two")),
        ("yamldecode(file(\"vars.yaml\")).num", n(7)),
        (
            "yamldecode(file(find_in_parent_folders(\"vars/common.yaml\"))).region",
            s("ap-south-1"),
        ),
        ("fileexists(\"vars.json\")", b(true)),
        ("fileexists(\"nope.json\")", b(false)),
        ("regex(\"^([a-z]+)-\", \"prod-x\")[0]", s("prod")),
        ("startswith(\"prod-x\", \"prod\")", b(true)),
        ("true ? \"yes\" : get_aws_account_id()", s("yes")),
        ("[for x in local.l : upper(x)][2]", s("C")),
        ("{ for k, v in local.m : v => k }.v", s("k")),
        ("\"%{ if true }on%{ else }off%{ endif }\"", s("on")),
        ("1 + 2 * 3 == 7 && !false", b(true)),
        ("\"a$${b}%%{c}\"", s("a${b}%{c}")),
        (
            "\"n=${1.5} i=${10 / 2} ok=${true}\"",
            s("n=1.5 i=5 ok=true"),
        ),
        ("([{ n = \"a\" }, { n = \"b\" }][*].n)[1]", s("b")),
        ("keys({ b = 1, a = 2 })[0]", s("a")),
        ("flatten([[\"a\"], [\"b\", [\"c\"]]])[2]", s("c")),
        ("substr(\"terraform\", 0, 5)", s("terra")),
        ("compact([\"a\", \"\", \"b\"])[1]", s("b")),
    ];
    for (expr, want) in cases {
        assert_eq!(t.in_unit(u, &[], expr), want, "{expr}");
    }
    assert_unknown(
        t.in_unit(u, &[], "abspath(\"rel\")"),
        "directory Terragrunt runs in",
    );
    assert_unknown(t.in_unit(u, &[], "file(\"nope.txt\")"), "nope.txt");
    assert_unknown(t.in_unit(u, &[], "jsondecode(\"{\")"), "jsondecode");
}

#[test]
fn file_is_relative_to_the_file_it_is_written_in() {
    let t = Tree::new(&[
        (
            "l/root.hcl",
            "locals {\n  cfg = jsondecode(file(\"cfg.json\"))\n}\n",
        ),
        ("l/cfg.json", "{\"region\": \"sa-east-1\"}"),
        (
            "l/u/terragrunt.hcl",
            "include \"root\" {\n  path = find_in_parent_folders(\"root.hcl\")\n}\n",
        ),
    ]);
    assert_eq!(
        t.in_root("l/u/terragrunt.hcl", Some("root"), &[], "local.cfg.region"),
        s("sa-east-1")
    );
}

#[test]
fn string_prefix_up_to_the_first_unknown() {
    let t = Tree::new(&[(
        "u/terragrunt.hcl",
        "locals {\n  env = get_env(\"ENV\")\n  key = \"states/${local.env}/x.tfstate\"\n}\n",
    )]);
    let ev = t.evaluator(&[]);
    let u = t.path("u/terragrunt.hcl");
    let scope = ev.scope(&u, &u, None);
    let (prefix, reason) = scope.eval_string_prefix("\"team/${local.env}/terraform.tfstate\"");
    assert_eq!(prefix, "team/");
    assert!(reason.unwrap().contains("ENV"));
    let (prefix, reason) = scope.eval_string_prefix("\"a/${get_aws_account_id()}/b\"");
    assert_eq!((prefix.as_str(), reason.is_some()), ("a/", true));
    // Through a local whose value is itself a partly known template.
    let (prefix, reason) = scope.eval_string_prefix("local.key");
    assert_eq!((prefix.as_str(), reason.is_some()), ("states/", true));
    let (prefix, reason) = scope.eval_string_prefix("\"all/known\"");
    assert_eq!((prefix.as_str(), reason), ("all/known", None));
    let known = ev.scope(&u, &u, None);
    assert_eq!(
        known.eval_string_prefix("\"${upper(\"a\")}b\""),
        ("Ab".to_string(), None)
    );
}

#[test]
fn json_unit_locals_and_templates() {
    let t = Tree::new(&[
        ("j/root.hcl", "locals {}\n"),
        (
            "j/u/terragrunt.hcl.json",
            r#"{"locals": {"region": "eu-north-1", "key": "${local.region}/s.tfstate"}, "include": {"path": "${find_in_parent_folders(\"root.hcl\")}"}}"#,
        ),
    ]);
    let u = "j/u/terragrunt.hcl.json";
    assert_eq!(t.in_unit(u, &[], "local.key"), s("eu-north-1/s.tfstate"));
    assert_eq!(
        t.in_root(u, None, &[], "path_relative_to_include()"),
        s("u")
    );
    let ev = t.evaluator(&[]);
    let mut names: Vec<_> = ev
        .locals_of(&t.path(u))
        .unwrap()
        .into_iter()
        .map(|a| a.name)
        .collect();
    names.sort();
    assert_eq!(names, ["key", "region"]);
}

#[test]
fn bad_files_are_unknown_with_a_position_never_a_panic() {
    let t = Tree::new(&[
        ("b/terragrunt.hcl", "locals {\n  x = \n}\n"),
        (
            "b/r/terragrunt.hcl",
            "locals {\n  c = read_terragrunt_config(\"../terragrunt.hcl\")\n}\n",
        ),
        ("b/bin/terragrunt.hcl", "\u{0}\u{1}binary"),
    ]);
    let ev = t.evaluator(&[]);
    let err = ev.includes(&t.path("b/terragrunt.hcl")).unwrap_err();
    assert!(err.contains("terragrunt.hcl:2:7:"), "{err}");
    assert_unknown(
        t.in_unit("b/terragrunt.hcl", &[], "local.x"),
        "terragrunt.hcl:",
    );
    assert_unknown(
        t.in_unit("b/r/terragrunt.hcl", &[], "local.c.locals.x"),
        "terragrunt.hcl:",
    );
    assert_unknown(
        t.in_unit("b/bin/terragrunt.hcl", &[], "local.x"),
        "terragrunt.hcl",
    );
    assert_unknown(t.in_unit("b/none/terragrunt.hcl", &[], "1"), "none");
}

#[test]
fn runaway_evaluation_is_bounded() {
    // Each local doubles the string: 2^40 bytes if nothing stopped it.
    let mut text = String::from("locals {\n  l0 = \"xxxxxxxxxxxxxxxx\"\n");
    for i in 1..=40 {
        text.push_str(&format!(
            "  l{i} = \"${{local.l{}}}${{local.l{}}}\"\n",
            i - 1,
            i - 1
        ));
    }
    text.push_str("}\n");
    let deep = format!("{}1{}", "(".repeat(5000), ")".repeat(5000));
    let t = Tree::new(&[("u/terragrunt.hcl", &text)]);
    assert_unknown(t.in_unit("u/terragrunt.hcl", &[], "local.l40"), "longer");
    match t.in_unit("u/terragrunt.hcl", &[], &deep) {
        Evaluated::Unknown { .. } => {}
        known => panic!("{known:?}"),
    }
}

#[test]
fn evaluator_can_be_shared_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Evaluator>();
}

#[test]
fn heredocs_and_env_values() {
    let t = Tree::new(&[(
        "u/terragrunt.hcl",
        "locals {\n  h = <<EOT\nkey/${get_env(\"ENV\", \"dev\")}\nEOT\n  i = <<-EOT\n    x\n  EOT\n}\n",
    )]);
    let u = "u/terragrunt.hcl";
    assert_eq!(t.in_unit(u, &[], "local.h"), s("key/dev\n"));
    assert_eq!(t.in_unit(u, &[("ENV", "prod")], "local.h"), s("key/prod\n"));
    assert_unknown(t.in_unit(u, &[], "local.i"), "heredoc");
    assert_eq!(t.in_unit(u, &[("ENV", "")], "get_env(\"ENV\")"), s(""));
}

#[test]
fn unit_own_remote_state_and_include_in_root() {
    let t = Tree::new(&[
        (
            "r/root.hcl",
            "locals {\n  from_include = include.root.locals.x\n}\n",
        ),
        (
            "r/u/terragrunt.hcl",
            "locals {\n  env = \"stage\"\n}\nremote_state {\n  backend = \"s3\"\n  config = {\n    key = \"${local.env}/${path_relative_to_include()}/t.tfstate\"\n  }\n}\ninclude \"root\" {\n  path = find_in_parent_folders(\"root.hcl\")\n}\n",
        ),
    ]);
    let u = "r/u/terragrunt.hcl";
    assert_eq!(
        t.in_unit(
            u,
            &[],
            "\"${local.env}/${path_relative_to_include()}/t.tfstate\""
        ),
        s("stage/u/t.tfstate")
    );
    assert_unknown(
        t.in_root(u, Some("root"), &[], "local.from_include"),
        "include",
    );
    let whole = t.in_unit(u, &[], "{ bucket = \"b\", key = \"${local.env}/k\" }");
    let Evaluated::Known(hcl::Value::Object(map)) = whole else {
        panic!("{whole:?}")
    };
    assert_eq!(map["key"], hcl::Value::from("stage/k"));
}

#[test]
fn read_file_with_includes_keeps_locals_but_not_merged_parts() {
    let t = Tree::new(&[
        ("r/root.hcl", "inputs = {\n  a = 1\n}\n"),
        (
            "r/other/terragrunt.hcl",
            "include {\n  path = find_in_parent_folders(\"root.hcl\")\n}\nlocals {\n  name = \"other\"\n}\ninputs = {\n  b = 2\n}\n",
        ),
        (
            "r/u/terragrunt.hcl",
            "locals {\n  o = read_terragrunt_config(\"../other\")\n}\n",
        ),
    ]);
    let u = "r/u/terragrunt.hcl";
    assert_eq!(t.in_unit(u, &[], "local.o.locals.name"), s("other"));
    assert_unknown(t.in_unit(u, &[], "local.o.inputs.b"), "merges its includes");
}

#[test]
fn remote_state_owner_follows_terragrunt_merge() {
    let rs = "remote_state {\n  backend = \"s3\"\n  config = {}\n}\n";
    let t = Tree::new(&[
        ("r/root.hcl", rs),
        ("r/second.hcl", rs),
        ("r/plain.hcl", "locals {}\n"),
        (
            "r/own/terragrunt.hcl",
            &format!("include {{\n  path = \"../root.hcl\"\n}}\n{rs}"),
        ),
        (
            "r/two/terragrunt.hcl",
            "include \"root\" {\n  path = \"../root.hcl\"\n}\ninclude \"second\" {\n  path = \"../second.hcl\"\n}\ninclude \"plain\" {\n  path = \"../plain.hcl\"\n}\n",
        ),
        (
            "r/nomerge/terragrunt.hcl",
            "include \"root\" {\n  path = \"../root.hcl\"\n}\ninclude \"second\" {\n  path = \"../second.hcl\"\n  merge_strategy = \"no_merge\"\n}\n",
        ),
        (
            "r/none/terragrunt.hcl",
            "include {\n  path = \"../plain.hcl\"\n}\n",
        ),
    ]);
    let ev = t.evaluator(&[]);
    let owner = |u: &str| ev.remote_state_owner(&t.path(u)).unwrap().map(|o| o.file);
    assert_eq!(
        owner("r/own/terragrunt.hcl"),
        Some(t.path("r/own/terragrunt.hcl"))
    );
    assert_eq!(owner("r/two/terragrunt.hcl"), Some(t.path("r/second.hcl")));
    assert_eq!(
        owner("r/nomerge/terragrunt.hcl"),
        Some(t.path("r/root.hcl"))
    );
    assert_eq!(owner("r/none/terragrunt.hcl"), None);
    let two = ev
        .remote_state_owner(&t.path("r/two/terragrunt.hcl"))
        .unwrap()
        .unwrap();
    assert_eq!(two.include.unwrap().name.as_deref(), Some("second"));
}

#[test]
fn long_local_chains_and_deep_yaml_do_not_overflow() {
    let mut text = String::from("locals {\n  l0 = \"x\"\n");
    for i in 1..=400 {
        text.push_str(&format!("  l{i} = local.l{}\n", i - 1));
    }
    text.push_str("}\n");
    let t = Tree::new(&[
        ("u/terragrunt.hcl", &text),
        ("u/deep.yaml", &"[".repeat(200_000)),
        ("u/deep.json", &"[".repeat(200_000)),
    ]);
    let u = "u/terragrunt.hcl";
    assert_eq!(t.in_unit(u, &[], "local.l20"), s("x"));
    assert_unknown(t.in_unit(u, &[], "local.l400"), "nested too deeply");
    assert_unknown(
        t.in_unit(u, &[], "yamldecode(file(\"deep.yaml\"))"),
        "yamldecode",
    );
    assert_unknown(
        t.in_unit(u, &[], "jsondecode(file(\"deep.json\"))"),
        "jsondecode",
    );
}

#[test]
fn a_root_without_unit_keeps_unit_dependent_values_unknown() {
    let t = Tree::new(&[
        ("account.hcl", "locals {\n  name = \"above\"\n}\n"),
        (
            "live/root.hcl",
            "locals {\n  acct   = read_terragrunt_config(find_in_parent_folders(\"account.hcl\"))\n  name   = local.acct.locals.name\n  table  = \"locks\"\n  region = get_env(\"REGION\", \"us-east-2\")\n}\n",
        ),
    ]);
    let ev = t.evaluator(&[]);
    let scope = ev.scope_without_unit(&t.path("live/root.hcl"));
    assert_unknown(scope.eval("local.name"), "no unit here includes it");
    assert_unknown(
        scope.eval("\"${path_relative_to_include()}/t.tfstate\""),
        "live/root.hcl",
    );
    assert_unknown(scope.eval("get_terragrunt_dir()"), "depends on the unit");
    assert_eq!(scope.eval("local.table"), s("locks"));
    assert_eq!(scope.eval("local.region"), s("us-east-2"));
    assert_eq!(
        scope
            .eval_string_prefix("\"b/${path_relative_to_include()}\"")
            .0,
        "b/"
    );
}
