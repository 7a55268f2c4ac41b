//! Property tests over generated backend files (`.tf`, `.tfbackend`, Terragrunt
//! `terragrunt.hcl`, `.tf.json`), for both strategies.
//!
//! A generator builds a [`Spec`] (which settings, in which order, with which
//! comments, fillers and layout) and renders it to text. The same renderer applied
//! to the spec *after* the expected change gives the exact expected output for
//! layouts that `terraform fmt` would leave alone (and for JSON), so those cases
//! are checked byte for byte; every other layout is checked for locality (edits
//! only on DynamoDB/lockfile lines, whitespace for alignment), bytes kept (BOM,
//! line endings, trailing newline, comments), parse-again, idempotence and the
//! semantic result.
//!
//! `PROPTEST_CASES=N` raises or lowers the number of cases of every property.

mod common;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use tflock::discover::{Candidate, FileKind};
use tflock::parse::{self, Value};
use tflock::plan::{Edit, Strategy as Mode, splice};
use tflock::source::Source;
use tflock::{FileOutcome, FilePlan};

// ---------------------------------------------------------------------------
// The model of a generated file
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Tf,
    Tfbackend,
    Terragrunt,
    Json,
}

impl Kind {
    fn file_kind(self) -> FileKind {
        match self {
            Kind::Tf => FileKind::Terraform,
            Kind::Tfbackend => FileKind::Tfbackend,
            Kind::Terragrunt => FileKind::Terragrunt,
            Kind::Json => FileKind::TerraformJson,
        }
    }

    fn file_name(self) -> &'static str {
        match self {
            Kind::Tf => "main.tf",
            Kind::Tfbackend => "prod.tfbackend",
            Kind::Terragrunt => "terragrunt.hcl",
            Kind::Json => "main.tf.json",
        }
    }

    /// Extension for the oracle's file names (hclcheck reads `.json` as JSON).
    fn ext(self) -> &'static str {
        match self {
            Kind::Tf => "tf",
            Kind::Tfbackend => "tfbackend",
            Kind::Terragrunt => "hcl",
            Kind::Json => "tf.json",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Name {
    Bucket,
    StateKey,
    Region,
    Encrypt,
    Prefix,
    Profile,
    Table,
    DynEndpoint,
    Lockfile,
    Endpoints,
    AssumeRole,
}

impl Name {
    fn key(self) -> &'static str {
        match self {
            Name::Bucket => "bucket",
            Name::StateKey => "key",
            Name::Region => "region",
            Name::Encrypt => "encrypt",
            Name::Prefix => "workspace_key_prefix",
            Name::Profile => "profile",
            Name::Table => "dynamodb_table",
            Name::DynEndpoint => "dynamodb_endpoint",
            Name::Lockfile => "use_lockfile",
            Name::Endpoints => "endpoints",
            Name::AssumeRole => "assume_role",
        }
    }

    /// Settings whose lines a migration may touch.
    fn is_target(self) -> bool {
        matches!(
            self,
            Name::Table | Name::DynEndpoint | Name::Lockfile | Name::Endpoints
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lock {
    True,
    False,
    StrTrue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Endpoints {
    s3: bool,
    dynamodb: bool,
    dynamodb_first: bool,
    inline: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Comment {
    id: usize,
    slash: bool,
    text: u8,
}

#[derive(Debug, Clone, PartialEq)]
struct Setting {
    name: Name,
    variant: u8,
    lock: Lock,
    endpoints: Endpoints,
    comment: Option<Comment>,
    /// Random spacing: before `=`, after `=`, before a comment (or trailing blanks).
    gaps: [u8; 3],
}

#[derive(Debug, Clone, PartialEq)]
enum Item {
    Setting(Setting),
    Blank,
    Comment(Comment),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EqStyle {
    /// `=` one column past the longest key of each run, as `terraform fmt` does.
    Aligned,
    /// `key = value` everywhere.
    Single,
    /// Any spacing (including none, tabs and trailing blanks).
    Random,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Indent {
    Two,
    Four,
    Tab,
}

impl Indent {
    fn unit(self) -> &'static str {
        match self {
            Indent::Two => "  ",
            Indent::Four => "    ",
            Indent::Tab => "\t",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Layout {
    eq: EqStyle,
    comments_aligned: bool,
    indent: Indent,
    crlf: bool,
    bom: bool,
    final_newline: bool,
    /// Commas after the items of HCL objects (Terragrunt `config`, `endpoints`).
    commas: bool,
    /// Terragrunt `config = { a = 1, b = 2 }` on one line.
    inline_config: bool,
    json_pretty: bool,
    json_colon_space: bool,
    json_tf_array: bool,
    json_backend_array: bool,
    /// Terragrunt `remote_state = { backend = "s3", config = {...} }`.
    remote_state_attribute: bool,
}

impl Layout {
    fn nl(&self) -> &'static str {
        if self.crlf { "\r\n" } else { "\n" }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Spec {
    kind: Kind,
    layout: Layout,
    items: Vec<Item>,
    /// Decoy blocks (indices into the kind's decoy list) before and after.
    before: Vec<usize>,
    after: Vec<usize>,
    /// `required_version` / `required_providers` around the backend (`.tf`, JSON).
    extras: bool,
}

impl Spec {
    fn settings(&self) -> impl Iterator<Item = &Setting> {
        self.items.iter().filter_map(|i| match i {
            Item::Setting(s) => Some(s),
            _ => None,
        })
    }

    fn find(&self, name: Name) -> Option<&Setting> {
        self.settings().find(|s| s.name == name)
    }

    fn position(&self, name: Name) -> Option<usize> {
        self.items
            .iter()
            .position(|i| matches!(i, Item::Setting(s) if s.name == name))
    }

    /// Whether the renderer lays this spec out exactly as `terraform fmt` (up to
    /// indentation, line endings and BOM), so that the expected output is exact.
    fn exact_layout(&self) -> bool {
        self.kind == Kind::Json
            || (self.layout.eq == EqStyle::Aligned && self.layout.comments_aligned)
    }
}

// ---------------------------------------------------------------------------
// Values and decoys
// ---------------------------------------------------------------------------

/// String contents (without quotes) for string-valued settings. Several hold `#`,
/// `//`, `=` or `${...}` with quotes inside, which a line scanner must not take
/// for a comment or an assignment.
fn string_content(name: Name, variant: u8) -> &'static str {
    let pick = |list: &[&'static str]| list[variant as usize % list.len()];
    match name {
        Name::Bucket => pick(&[
            "tf-state",
            "state#bucket",
            "a=b",
            "tf-${var.env}-state",
            "${local.buckets[\"main#1\"]}",
            "état-ü",
        ]),
        Name::StateKey => pick(&[
            "env/prod/terraform.tfstate",
            "a = b/terraform.tfstate",
            "x#y//z.tfstate",
            "${path_relative_to_include()}/terraform.tfstate",
        ]),
        Name::Region => pick(&["us-east-1", "eu-west-1"]),
        Name::Prefix => pick(&["env", "work#spaces"]),
        Name::Profile => pick(&["default", "dev=1"]),
        Name::Table => pick(&[
            "terraform-locks",
            "locks#1",
            "t=1",
            "${local.lock_table}",
            "tbl-${var.env}",
        ]),
        Name::DynEndpoint => pick(&[
            "http://localhost:8000",
            "https://dynamodb.us-east-1.amazonaws.com",
        ]),
        _ => unreachable!("{name:?} is not a string setting"),
    }
}

const S3_URL: &str = "http://localhost:9000";
const DYNAMODB_URL: &str = "http://localhost:8000";
const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/tf#x";

fn comment_text(c: &Comment) -> String {
    let body = match c.text % 4 {
        0 => "",
        1 => " dynamodb_table = \"old\"",
        2 => " has # and = in it",
        _ => " use_lockfile = false",
    };
    format!("{} note-{}.{body}", if c.slash { "//" } else { "#" }, c.id)
}

fn comment_marker(id: usize) -> String {
    format!("note-{id}.")
}

/// Decoys for `.tf` files: never a backend, never to be touched. Pre-aligned the
/// way `terraform fmt` aligns them; `{i}` is one indentation unit.
const TF_DECOYS: &[&[&str]] = &[
    &[
        "variable \"env\" {",
        "{i}type    = string",
        "{i}default = \"dev\"",
        "}",
    ],
    // A reader without DynamoDB settings: never touched. (One that names
    // `dynamodb_table` loses it with `replace`, issue 12: fixtures readers-*.)
    &[
        "data \"terraform_remote_state\" \"network\" {",
        "{i}backend = \"s3\"",
        "{i}config = {",
        "{i}{i}bucket = \"other-state\"",
        "{i}{i}key    = \"network/terraform.tfstate\"",
        "{i}{i}region = \"eu-west-1\"",
        "{i}}",
        "}",
    ],
    &[
        "resource \"aws_dynamodb_table\" \"locks\" {",
        "{i}name         = \"terraform-locks\"",
        "{i}billing_mode = \"PAY_PER_REQUEST\"",
        "{i}hash_key     = \"LockID\"",
        "",
        "{i}attribute {",
        "{i}{i}name = \"LockID\"",
        "{i}{i}type = \"S\"",
        "{i}}",
        "}",
    ],
    &[
        "module \"app\" {",
        "{i}source         = \"./app\"",
        "{i}dynamodb_table = \"app-table\"",
        "}",
    ],
    &[
        "resource \"local_file\" \"backend\" {",
        "{i}filename = \"backend.tf\"",
        "{i}content  = <<-EOT",
        "{i}{i}terraform {",
        "{i}{i}{i}backend \"s3\" {",
        "{i}{i}{i}{i}dynamodb_table = \"in-heredoc\"",
        "{i}{i}{i}}",
        "{i}{i}}",
        "{i}EOT",
        "}",
    ],
    &[
        "locals {",
        "{i}dynamodb_table = \"x\"",
        "{i}note           = \"backend \\\"s3\\\" { dynamodb_table = \\\"y\\\" }\"",
        "}",
    ],
    &[
        "# terraform { backend \"s3\" { dynamodb_table = \"commented-out\" } }",
        "output \"lock\" {",
        "{i}value = \"dynamodb_table = locks\"",
        "}",
    ],
];

const TG_DECOYS: &[&[&str]] = &[
    &[
        "include \"root\" {",
        "{i}path = find_in_parent_folders(\"root.hcl\")",
        "}",
    ],
    &[
        "inputs = {",
        "{i}dynamodb_table = \"app-table\"",
        "{i}use_lockfile   = false",
        "}",
    ],
    &[
        "generate \"provider\" {",
        "{i}path      = \"provider.tf\"",
        "{i}if_exists = \"overwrite\"",
        "{i}contents  = <<EOF",
        "provider \"aws\" {",
        "  region = \"us-east-1\"",
        "}",
        "EOF",
        "}",
    ],
    &["locals {", "{i}env = \"dev\"", "}"],
    &["dependency \"vpc\" {", "{i}config_path = \"../vpc\"", "}"],
];

const TFBACKEND_DECOYS: &[&[&str]] = &[
    &["# Partial configuration: terraform init -backend-config=prod.tfbackend"],
    &["# dynamodb_table = \"commented-out\""],
];

const JSON_DECOYS: usize = 4;

fn decoys(kind: Kind) -> &'static [&'static [&'static str]] {
    match kind {
        Kind::Tf => TF_DECOYS,
        Kind::Terragrunt => TG_DECOYS,
        Kind::Tfbackend => TFBACKEND_DECOYS,
        Kind::Json => &[],
    }
}

fn decoy_count(kind: Kind) -> usize {
    match kind {
        Kind::Json => JSON_DECOYS,
        other => decoys(other).len(),
    }
}

// ---------------------------------------------------------------------------
// Rendering HCL
// ---------------------------------------------------------------------------

enum Code {
    /// A single-line attribute or object item, aligned by the layout.
    Attr {
        indent: String,
        key: String,
        value: String,
        suffix: &'static str,
        /// None: always `key = value` (lines outside the generated settings).
        gaps: Option<[u8; 3]>,
    },
    Text(String),
}

struct HLine {
    code: Code,
    comment: Option<String>,
    /// Part of a DynamoDB / lockfile / endpoints setting.
    target: bool,
    /// Random trailing blanks (Random layout, no comment).
    trailing: Option<u8>,
}

impl HLine {
    fn text(text: impl Into<String>) -> HLine {
        HLine {
            code: Code::Text(text.into()),
            comment: None,
            target: false,
            trailing: None,
        }
    }

    fn attr(indent: &str, key: &str, value: &str) -> HLine {
        HLine {
            code: Code::Attr {
                indent: indent.to_string(),
                key: key.to_string(),
                value: value.to_string(),
                suffix: "",
                gaps: None,
            },
            comment: None,
            target: false,
            trailing: None,
        }
    }
}

/// Where a rendered comment sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    OwnLine,
    On(Name),
}

/// A rendered file with the facts the properties need.
#[derive(Clone)]
struct Generated {
    spec: Spec,
    text: String,
    /// Byte range holding the backend's settings; nothing outside may change.
    region: Range<usize>,
    /// 0-based lines that hold (part of) a target setting.
    target_lines: BTreeSet<usize>,
    /// The comments that were rendered (JSON and inline objects have none).
    comments: Vec<(Comment, Place)>,
}

impl fmt::Debug for Generated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} ({:?} layout)",
            self.spec.kind.file_name(),
            self.spec.layout
        )?;
        writeln!(f, "text: {:?}", self.text)?;
        writeln!(f, "----\n{}\n----", self.text)
    }
}

fn hcl_value(s: &Setting, inline: bool) -> String {
    match s.name {
        Name::Encrypt => if s.variant.is_multiple_of(2) {
            "true"
        } else {
            "false"
        }
        .to_string(),
        Name::Lockfile => match s.lock {
            Lock::True => "true",
            Lock::False => "false",
            Lock::StrTrue => "\"true\"",
        }
        .to_string(),
        Name::Endpoints => {
            let items: Vec<String> = endpoint_items(&s.endpoints)
                .into_iter()
                .map(|(k, v)| format!("{k} = \"{v}\""))
                .collect();
            debug_assert!(inline || s.endpoints.inline);
            format!("{{ {} }}", items.join(", "))
        }
        Name::AssumeRole => format!("{{ role_arn = \"{ROLE_ARN}\" }}"),
        name => format!("\"{}\"", string_content(name, s.variant)),
    }
}

fn endpoint_items(e: &Endpoints) -> Vec<(&'static str, &'static str)> {
    let mut items = Vec::new();
    if e.s3 {
        items.push(("s3", S3_URL));
    }
    if e.dynamodb {
        if e.dynamodb_first {
            items.insert(0, ("dynamodb", DYNAMODB_URL));
        } else {
            items.push(("dynamodb", DYNAMODB_URL));
        }
    }
    items
}

/// Lines of a body of settings at `depth` (object items when `object`).
fn body_lines(
    out: &mut Vec<HLine>,
    comments: &mut Vec<(Comment, Place)>,
    items: &[Item],
    depth: usize,
    object: bool,
    layout: &Layout,
) {
    let unit = layout.indent.unit();
    let indent = unit.repeat(depth);
    let suffix = if object && layout.commas { "," } else { "" };
    for item in items {
        match item {
            Item::Blank => out.push(HLine::text("")),
            Item::Comment(c) => {
                comments.push((*c, Place::OwnLine));
                out.push(HLine::text(format!("{indent}{}", comment_text(c))));
            }
            Item::Setting(s) => {
                if let Some(c) = s.comment {
                    comments.push((c, Place::On(s.name)));
                }
                let comment = s.comment.as_ref().map(comment_text);
                let multi = match s.name {
                    Name::Endpoints => !s.endpoints.inline,
                    Name::AssumeRole => true,
                    _ => false,
                };
                if !multi {
                    out.push(HLine {
                        code: Code::Attr {
                            indent: indent.clone(),
                            key: s.name.key().to_string(),
                            value: hcl_value(s, false),
                            suffix,
                            gaps: Some(s.gaps),
                        },
                        comment,
                        target: s.name.is_target(),
                        trailing: Some(s.gaps[2]),
                    });
                    continue;
                }
                let (before_eq, after_eq) = match layout.eq {
                    EqStyle::Random => (gap_before(s.gaps[0]), gap_after(s.gaps[1])),
                    _ => (" ", " "),
                };
                let mut header =
                    HLine::text(format!("{indent}{}{before_eq}={after_eq}{{", s.name.key()));
                header.target = s.name.is_target();
                out.push(header);
                let inner_indent = unit.repeat(depth + 1);
                let inner_suffix = if layout.commas { "," } else { "" };
                let inner: Vec<(&str, &str)> = if s.name == Name::Endpoints {
                    endpoint_items(&s.endpoints)
                } else {
                    vec![("role_arn", ROLE_ARN)]
                };
                for (k, v) in inner {
                    out.push(HLine {
                        code: Code::Attr {
                            indent: inner_indent.clone(),
                            key: k.to_string(),
                            value: format!("\"{v}\""),
                            suffix: inner_suffix,
                            gaps: Some(s.gaps),
                        },
                        comment: None,
                        target: s.name.is_target(),
                        trailing: None,
                    });
                }
                out.push(HLine {
                    code: Code::Text(format!("{indent}}}{suffix}")),
                    comment,
                    target: s.name.is_target(),
                    trailing: None,
                });
            }
        }
    }
}

fn gap_before(g: u8) -> &'static str {
    ["", " ", "  ", "   ", "\t"][g as usize % 5]
}

fn gap_after(g: u8) -> &'static str {
    ["", " ", "  "][g as usize % 3]
}

/// Turns lines into text: aligns `=` and trailing comments per the layout.
fn format_lines(lines: &[HLine], layout: &Layout) -> Vec<String> {
    let mut codes: Vec<String> = Vec::with_capacity(lines.len());
    let mut i = 0;
    while i < lines.len() {
        if !matches!(lines[i].code, Code::Attr { .. }) {
            if let Code::Text(t) = &lines[i].code {
                codes.push(t.clone());
            }
            i += 1;
            continue;
        }
        let mut j = i;
        while j < lines.len() && matches!(lines[j].code, Code::Attr { .. }) {
            j += 1;
        }
        let lead = |l: &HLine| match &l.code {
            Code::Attr { indent, key, .. } => width(indent) + width(key),
            Code::Text(_) => 0,
        };
        let max = lines[i..j].iter().map(lead).max().unwrap_or(0);
        for line in &lines[i..j] {
            let Code::Attr {
                indent,
                key,
                value,
                suffix,
                gaps,
            } = &line.code
            else {
                unreachable!()
            };
            let (before, after) = match (layout.eq, gaps) {
                (EqStyle::Aligned, _) => (" ".repeat(max - lead(line) + 1), " ".to_string()),
                (EqStyle::Random, Some(g)) => {
                    (gap_before(g[0]).to_string(), gap_after(g[1]).to_string())
                }
                _ => (" ".to_string(), " ".to_string()),
            };
            codes.push(format!("{indent}{key}{before}={after}{value}{suffix}"));
        }
        i = j;
    }

    let mut out = codes.clone();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].comment.is_none() {
            if layout.eq == EqStyle::Random
                && let Some(t) = lines[i].trailing
                && t % 4 == 0
            {
                out[i].push_str("  ");
            }
            i += 1;
            continue;
        }
        let mut j = i;
        while j < lines.len() && lines[j].comment.is_some() {
            j += 1;
        }
        let max = (i..j).map(|k| width(&codes[k])).max().unwrap_or(0);
        for k in i..j {
            let gap = if layout.comments_aligned {
                max - width(&codes[k]) + 1
            } else {
                match (layout.eq, &lines[k].code) {
                    (EqStyle::Random, Code::Attr { gaps: Some(g), .. }) => 1 + g[2] as usize % 3,
                    _ => 1,
                }
            };
            out[k].push_str(&" ".repeat(gap));
            out[k].push_str(lines[k].comment.as_deref().unwrap_or(""));
        }
        i = j;
    }
    out
}

fn width(s: &str) -> usize {
    s.chars().count()
}

fn decoy_lines(out: &mut Vec<HLine>, lines: &[&str], unit: &str) {
    for l in lines {
        out.push(HLine::text(l.replace("{i}", unit)));
    }
}

fn render(spec: &Spec) -> Generated {
    if spec.kind == Kind::Json {
        return render_json(spec);
    }
    let layout = &spec.layout;
    let unit = layout.indent.unit();
    let list = decoys(spec.kind);
    let mut lines: Vec<HLine> = Vec::new();
    let mut comments = Vec::new();
    let region_lines: Range<usize>;
    let mut inline_region = None;
    match spec.kind {
        Kind::Tf => {
            for &d in &spec.before {
                decoy_lines(&mut lines, list[d], unit);
                lines.push(HLine::text(""));
            }
            lines.push(HLine::text("terraform {"));
            if spec.extras {
                lines.push(HLine::attr(unit, "required_version", "\">= 1.10\""));
                lines.push(HLine::text(""));
            }
            lines.push(HLine::text(format!("{unit}backend \"s3\" {{")));
            let first = lines.len();
            body_lines(&mut lines, &mut comments, &spec.items, 2, false, layout);
            region_lines = first..lines.len();
            lines.push(HLine::text(format!("{unit}}}")));
            if spec.extras {
                lines.push(HLine::text(""));
                lines.push(HLine::text(format!("{unit}required_providers {{")));
                lines.push(HLine::text(format!("{unit}{unit}aws = {{")));
                lines.push(HLine::attr(&unit.repeat(3), "source", "\"hashicorp/aws\""));
                lines.push(HLine::text(format!("{unit}{unit}}}")));
                lines.push(HLine::text(format!("{unit}}}")));
            }
            lines.push(HLine::text("}"));
            for &d in &spec.after {
                lines.push(HLine::text(""));
                decoy_lines(&mut lines, list[d], unit);
            }
        }
        Kind::Terragrunt => {
            for &d in &spec.before {
                decoy_lines(&mut lines, list[d], unit);
                lines.push(HLine::text(""));
            }
            lines.push(HLine::text(if layout.remote_state_attribute {
                "remote_state = {"
            } else {
                "remote_state {"
            }));
            lines.push(HLine::attr(unit, "backend", "\"s3\""));
            if layout.inline_config {
                let items: Vec<String> = spec
                    .settings()
                    .map(|s| format!("{} = {}", s.name.key(), hcl_value(s, true)))
                    .collect();
                let value = if items.is_empty() {
                    "{}".to_string()
                } else {
                    format!("{{ {} }}", items.join(", "))
                };
                inline_region = Some((lines.len(), value.len()));
                let mut line = HLine::attr(unit, "config", &value);
                line.target = spec.settings().any(|s| s.name.is_target());
                lines.push(line);
                region_lines = 0..0;
            } else {
                lines.push(HLine::text(format!("{unit}config = {{")));
                let first = lines.len();
                body_lines(&mut lines, &mut comments, &spec.items, 2, true, layout);
                region_lines = first..lines.len();
                lines.push(HLine::text(format!("{unit}}}")));
            }
            lines.push(HLine::text("}"));
            for &d in &spec.after {
                lines.push(HLine::text(""));
                decoy_lines(&mut lines, list[d], unit);
            }
        }
        Kind::Tfbackend => {
            for &d in &spec.before {
                decoy_lines(&mut lines, list[d], unit);
            }
            let first = lines.len();
            body_lines(&mut lines, &mut comments, &spec.items, 0, false, layout);
            region_lines = first..lines.len();
        }
        Kind::Json => unreachable!(),
    }

    let formatted = format_lines(&lines, layout);
    let bom = if layout.bom { "\u{feff}" } else { "" };
    let nl = layout.nl();
    let mut text = String::from(bom);
    let mut starts = Vec::with_capacity(formatted.len());
    for (i, l) in formatted.iter().enumerate() {
        starts.push(text.len());
        text.push_str(l);
        if i + 1 < formatted.len() || layout.final_newline {
            text.push_str(nl);
        }
    }
    let line_start = |l: usize| starts.get(l).copied().unwrap_or(text.len());
    let region = if let Some((line, value_len)) = inline_region {
        let end = line_start(line) + formatted[line].len();
        end - value_len..end
    } else {
        // The terminator before the first line belongs to the region: deleting
        // the last line of a file without a final newline takes it.
        let start = if region_lines.start > 0 {
            line_start(region_lines.start) - nl.len()
        } else {
            bom.len()
        };
        let start = start.max(bom.len());
        start..line_start(region_lines.end)
    };
    let target_lines = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.target)
        .map(|(i, _)| i)
        .collect();
    Generated {
        spec: spec.clone(),
        text,
        region,
        target_lines,
        comments,
    }
}

// ---------------------------------------------------------------------------
// Rendering JSON
// ---------------------------------------------------------------------------

enum J {
    Obj(Vec<(String, J)>),
    /// An object written on one line even in a pretty file.
    Inline(Vec<(String, J)>),
    Arr(Vec<J>),
    Lit(String),
    /// The backend's settings object.
    S3(Vec<(Name, String, J)>),
}

fn jstr(s: &str) -> J {
    J::Lit(serde_json::to_string(s).unwrap())
}

struct JsonWriter<'a> {
    layout: &'a Layout,
    out: String,
    s3: Range<usize>,
    members: Vec<(Name, Range<usize>)>,
}

impl JsonWriter<'_> {
    fn colon(&self) -> &'static str {
        if self.layout.json_colon_space {
            ": "
        } else {
            ":"
        }
    }

    fn indent(&mut self, depth: usize) {
        self.out.push_str(&self.layout.indent.unit().repeat(depth));
    }

    fn members(&mut self, members: &[(Option<Name>, &str, &J)], depth: usize, pretty: bool) {
        let nl = self.layout.nl();
        self.out.push('{');
        for (i, (name, key, value)) in members.iter().enumerate() {
            if pretty {
                self.out.push_str(nl);
                self.indent(depth + 1);
            }
            let start = self.out.len();
            self.out.push_str(&serde_json::to_string(key).unwrap());
            self.out.push_str(self.colon());
            self.write(value, depth + 1);
            if let Some(name) = name {
                self.members.push((*name, start..self.out.len()));
            }
            if i + 1 < members.len() {
                self.out.push_str(if pretty { "," } else { ", " });
            }
        }
        if pretty {
            self.out.push_str(nl);
            self.indent(depth);
        }
        self.out.push('}');
    }

    fn write(&mut self, j: &J, depth: usize) {
        let pretty = self.layout.json_pretty;
        match j {
            J::Lit(s) => self.out.push_str(s),
            J::Obj(m) => {
                let m: Vec<_> = m.iter().map(|(k, v)| (None, k.as_str(), v)).collect();
                self.members(&m, depth, pretty);
            }
            J::Inline(m) => {
                let m: Vec<_> = m.iter().map(|(k, v)| (None, k.as_str(), v)).collect();
                self.members(&m, depth, false);
            }
            J::S3(m) => {
                let start = self.out.len();
                let m: Vec<_> = m
                    .iter()
                    .map(|(n, k, v)| (Some(*n), k.as_str(), v))
                    .collect();
                self.members(&m, depth, pretty);
                self.s3 = start..self.out.len();
            }
            J::Arr(items) => {
                let nl = self.layout.nl();
                self.out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if pretty {
                        self.out.push_str(nl);
                        self.indent(depth + 1);
                    }
                    self.write(item, depth + 1);
                    if i + 1 < items.len() {
                        self.out.push_str(if pretty { "," } else { ", " });
                    }
                }
                if pretty {
                    self.out.push_str(nl);
                    self.indent(depth);
                }
                self.out.push(']');
            }
        }
    }
}

fn json_value(s: &Setting) -> J {
    match s.name {
        Name::Encrypt => J::Lit(
            if s.variant.is_multiple_of(2) {
                "true"
            } else {
                "false"
            }
            .into(),
        ),
        Name::Lockfile => J::Lit(
            match s.lock {
                Lock::True => "true",
                Lock::False => "false",
                Lock::StrTrue => "\"true\"",
            }
            .into(),
        ),
        Name::Endpoints => {
            let items = endpoint_items(&s.endpoints)
                .into_iter()
                .map(|(k, v)| (k.to_string(), jstr(v)))
                .collect();
            if s.endpoints.inline {
                J::Inline(items)
            } else {
                J::Obj(items)
            }
        }
        Name::AssumeRole => J::Obj(vec![("role_arn".into(), jstr(ROLE_ARN))]),
        name => jstr(string_content(name, s.variant)),
    }
}

fn json_decoy(i: usize) -> (String, J) {
    let obj = |m: Vec<(&str, J)>| J::Obj(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect());
    match i {
        0 => (
            "variable".into(),
            obj(vec![(
                "env",
                obj(vec![("type", jstr("string")), ("default", jstr("dev"))]),
            )]),
        ),
        1 => (
            "data".into(),
            obj(vec![(
                "terraform_remote_state",
                obj(vec![(
                    "net",
                    obj(vec![
                        ("backend", jstr("s3")),
                        (
                            "config",
                            // Without DynamoDB settings: never touched.
                            obj(vec![
                                ("bucket", jstr("other")),
                                ("region", jstr("eu-west-1")),
                            ]),
                        ),
                    ]),
                )]),
            )]),
        ),
        2 => (
            "resource".into(),
            obj(vec![(
                "aws_dynamodb_table",
                obj(vec![(
                    "locks",
                    obj(vec![
                        ("name", jstr("terraform-locks")),
                        ("hash_key", jstr("LockID")),
                    ]),
                )]),
            )]),
        ),
        _ => (
            "module".into(),
            obj(vec![(
                "app",
                obj(vec![
                    ("source", jstr("./app")),
                    ("dynamodb_table", jstr("app-table")),
                ]),
            )]),
        ),
    }
}

fn render_json(spec: &Spec) -> Generated {
    let layout = &spec.layout;
    let s3 = J::S3(
        spec.settings()
            .map(|s| (s.name, s.name.key().to_string(), json_value(s)))
            .collect(),
    );
    let mut backend = J::Obj(vec![("s3".into(), s3)]);
    if layout.json_backend_array {
        backend = J::Arr(vec![backend]);
    }
    let mut tf_members = Vec::new();
    if spec.extras {
        tf_members.push(("required_version".to_string(), jstr(">= 1.10")));
    }
    tf_members.push(("backend".to_string(), backend));
    let mut terraform = J::Obj(tf_members);
    if layout.json_tf_array {
        terraform = J::Arr(vec![terraform]);
    }
    let mut root = Vec::new();
    root.extend(spec.before.iter().map(|&d| json_decoy(d)));
    root.push(("terraform".to_string(), terraform));
    root.extend(spec.after.iter().map(|&d| json_decoy(d)));

    let mut w = JsonWriter {
        layout,
        out: String::new(),
        s3: 0..0,
        members: Vec::new(),
    };
    w.write(&J::Obj(root), 0);
    if layout.final_newline {
        w.out.push_str(layout.nl());
    }
    let bom = if layout.bom { "\u{feff}" } else { "" };
    let text = format!("{bom}{}", w.out);
    let shift = bom.len();
    let starts = line_starts(&text);
    let mut target_lines = BTreeSet::new();
    for (name, range) in &w.members {
        if name.is_target() {
            let first = line_index(&starts, range.start + shift);
            let last = line_index(&starts, range.end + shift - 1);
            target_lines.extend(first..=last);
        }
    }
    Generated {
        spec: spec.clone(),
        text,
        region: w.s3.start + shift..w.s3.end + shift,
        target_lines,
        comments: Vec::new(),
    }
}

fn line_starts(text: &str) -> Vec<usize> {
    let mut starts = vec![0];
    starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
    starts
}

fn line_index(starts: &[usize], offset: usize) -> usize {
    starts.partition_point(|&s| s <= offset) - 1
}

// ---------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------

const OPTIONAL: [Name; 10] = [
    Name::Bucket,
    Name::StateKey,
    Name::Region,
    Name::Encrypt,
    Name::Prefix,
    Name::Profile,
    Name::DynEndpoint,
    Name::Lockfile,
    Name::Endpoints,
    Name::AssumeRole,
];

fn layout_strategy() -> impl Strategy<Value = Layout> {
    (
        (
            prop_oneof![
                4 => Just(EqStyle::Aligned),
                1 => Just(EqStyle::Single),
                1 => Just(EqStyle::Random),
            ],
            prop::bool::weighted(0.7),
            prop_oneof![4 => Just(Indent::Two), 1 => Just(Indent::Four), 1 => Just(Indent::Tab)],
            any::<bool>(),
            prop::bool::weighted(0.2),
            prop::bool::weighted(0.8),
        ),
        (
            any::<bool>(),
            prop::bool::weighted(0.2),
            prop::bool::weighted(0.7),
            any::<bool>(),
            prop::bool::weighted(0.3),
            prop::bool::weighted(0.3),
        ),
        prop::bool::weighted(0.25),
    )
        .prop_map(
            |(
                (eq, comments_aligned, indent, crlf, bom, final_newline),
                (commas, inline_config, json_pretty, json_colon_space, tf_arr, be_arr),
                remote_state_attribute,
            )| Layout {
                eq,
                comments_aligned,
                indent,
                crlf,
                bom,
                final_newline,
                commas,
                inline_config,
                json_pretty,
                json_colon_space,
                json_tf_array: tf_arr,
                json_backend_array: be_arr,
                remote_state_attribute,
            },
        )
}

/// Settings in a random order, each with its extras, interleaved with blank and
/// comment lines. Each setting is present or not and has a rank that orders it;
/// extras come from bytes. Everything shrinks towards fewer settings in a fixed
/// order with the plainest values.
fn items_strategy() -> impl Strategy<Value = Vec<Item>> {
    (
        prop::bool::weighted(0.75),
        prop::collection::vec((prop::bool::weighted(0.5), any::<u8>()), OPTIONAL.len()),
        any::<u8>(),
        prop::collection::vec(any::<[u8; 8]>(), OPTIONAL.len() + 2),
    )
        .prop_map(|(table, optional, table_rank, extras)| {
            let mut ranked: Vec<(u8, usize, Name)> = optional
                .iter()
                .zip(OPTIONAL)
                .enumerate()
                .filter(|(_, ((present, _), _))| *present)
                .map(|(i, ((_, rank), name))| (*rank, i, name))
                .collect();
            if table {
                ranked.push((table_rank, OPTIONAL.len(), Name::Table));
            }
            ranked.sort_by_key(|(rank, i, _)| (*rank, *i));
            let mut items = Vec::new();
            for (_, i, name) in ranked {
                let b = extras[i];
                match b[6] % 8 {
                    5 => items.push(Item::Blank),
                    6 => items.push(Item::Comment(Comment {
                        id: 2 * i + 1,
                        slash: b[2] & 1 == 1,
                        text: b[2] >> 1,
                    })),
                    _ => {}
                }
                let endpoints = {
                    let bits = b[7] >> 2;
                    let s3 = bits & 1 == 1;
                    let dynamodb = bits & 2 == 0;
                    Endpoints {
                        s3: s3 || !dynamodb,
                        dynamodb,
                        dynamodb_first: bits & 4 == 4,
                        inline: bits & 8 == 8,
                    }
                };
                items.push(Item::Setting(Setting {
                    name,
                    variant: b[0],
                    lock: [Lock::True, Lock::False, Lock::StrTrue][b[7] as usize % 3],
                    endpoints,
                    comment: (b[1] % 3 == 2).then_some(Comment {
                        id: 2 * i,
                        slash: b[2] & 1 == 1,
                        text: b[2] >> 1,
                    }),
                    gaps: [b[3], b[4], b[5]],
                }));
            }
            let tail = extras[OPTIONAL.len() + 1];
            match tail[6] % 6 {
                4 => items.push(Item::Blank),
                5 => items.push(Item::Comment(Comment {
                    id: 999,
                    slash: tail[2] & 1 == 1,
                    text: tail[2] >> 1,
                })),
                _ => {}
            }
            items
        })
}

fn spec_strategy(kinds: Vec<Kind>) -> impl Strategy<Value = Spec> {
    (
        prop::sample::select(kinds),
        layout_strategy(),
        items_strategy(),
        any::<bool>(),
        any::<[u8; 4]>(),
    )
        .prop_map(|(kind, layout, items, extras, picks)| {
            let n = decoy_count(kind);
            let pick = |bits: u8| -> Vec<usize> {
                (0..n)
                    .filter(|i| (bits >> (i % 8)) & 1 == 1 && (*i < 8))
                    .collect()
            };
            // At most about two decoys on each side keeps the files small.
            let mut before = pick(picks[0] & picks[1]);
            let mut after = pick(picks[2] & picks[3]);
            // A decoy appears once: some are attributes, which must be unique.
            after.retain(|d| !before.contains(d));
            if kind == Kind::Tfbackend {
                after.clear();
            }
            before.truncate(3);
            after.truncate(3);
            Spec {
                kind,
                layout,
                items,
                before,
                after,
                extras,
            }
        })
}

fn generated_of(kinds: &[Kind]) -> impl Strategy<Value = Generated> + use<> {
    spec_strategy(kinds.to_vec()).prop_map(|spec| render(&spec))
}

fn generated() -> impl Strategy<Value = Generated> {
    generated_of(&[Kind::Tf, Kind::Tfbackend, Kind::Terragrunt, Kind::Json])
}

// ---------------------------------------------------------------------------
// What a strategy should do, on the model
// ---------------------------------------------------------------------------

struct Expected {
    spec: Spec,
    /// The position of an added `use_lockfile` is not fixed by the contract.
    position_free: bool,
}

fn lockfile_true(gaps: [u8; 3]) -> Setting {
    Setting {
        name: Name::Lockfile,
        variant: 0,
        lock: Lock::True,
        endpoints: Endpoints {
            s3: false,
            dynamodb: false,
            dynamodb_first: false,
            inline: false,
        },
        comment: None,
        gaps,
    }
}

/// The spec after the strategy, or None when the strategy must change nothing.
fn expected(spec: &Spec, mode: Mode) -> Option<Expected> {
    let table = spec.position(Name::Table);
    let lockfile = spec.position(Name::Lockfile);
    let lock_is_true = spec
        .find(Name::Lockfile)
        .is_some_and(|s| s.lock == Lock::True);
    let mut out = spec.clone();
    let set_true = |out: &mut Spec| {
        if let Some(i) = lockfile
            && let Item::Setting(s) = &mut out.items[i]
        {
            s.lock = Lock::True;
        }
    };
    match mode {
        Mode::Dual => {
            let t = table?;
            if lock_is_true {
                return None;
            }
            if lockfile.is_some() {
                set_true(&mut out);
            } else {
                out.items
                    .insert(t + 1, Item::Setting(lockfile_true([1, 1, 1])));
            }
            Some(Expected {
                spec: out,
                position_free: false,
            })
        }
        Mode::Replace => {
            let endpoint = spec.position(Name::DynEndpoint);
            let endpoints = spec.position(Name::Endpoints).filter(|_| {
                spec.find(Name::Endpoints)
                    .is_some_and(|s| s.endpoints.dynamodb)
            });
            if table.is_none() && endpoint.is_none() && endpoints.is_none() {
                return None;
            }
            set_true(&mut out);
            let mut position_free = false;
            // Indices into `out.items` stay valid: edit from the back.
            let mut removals: Vec<usize> = Vec::new();
            if let Some(t) = table {
                if lockfile.is_some() {
                    removals.push(t);
                } else if let Item::Setting(s) = &mut out.items[t] {
                    let (comment, gaps) = (s.comment, s.gaps);
                    *s = lockfile_true(gaps);
                    s.comment = comment;
                }
            }
            if let Some(e) = endpoint {
                removals.push(e);
            }
            if let Some(e) = endpoints
                && let Item::Setting(s) = &mut out.items[e]
            {
                if s.endpoints.s3 {
                    s.endpoints.dynamodb = false;
                } else {
                    removals.push(e);
                }
            }
            let needs_lockfile = table.is_none() && lockfile.is_none();
            removals.sort_unstable();
            let first_removed = removals.first().copied();
            for i in removals.into_iter().rev() {
                out.items.remove(i);
            }
            if needs_lockfile {
                // Nothing says where it goes; put it where the first removed
                // DynamoDB setting stood and compare keys without order.
                position_free = true;
                let at = first_removed.unwrap_or(out.items.len());
                out.items
                    .insert(at, Item::Setting(lockfile_true([1, 1, 1])));
            }
            Some(Expected {
                spec: out,
                position_free,
            })
        }
    }
}

// ---------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------

fn plan(kind: Kind, text: &str, mode: Mode) -> Option<FileOutcome> {
    let candidate = Candidate {
        path: PathBuf::from(kind.file_name()),
        display: kind.file_name().to_string(),
        kind: kind.file_kind(),
    };
    tflock::plan_bytes(candidate, text.as_bytes().to_vec(), mode)
}

fn planned(kind: Kind, text: &str, mode: Mode) -> Result<FilePlan, TestCaseError> {
    match plan(kind, text, mode) {
        Some(FileOutcome::Planned(file, backends)) => {
            prop_assert_eq!(
                backends.len(),
                1,
                "expected exactly one backend (decoys are not backends)"
            );
            Ok(file)
        }
        Some(FileOutcome::Failed(problem, _)) => Err(TestCaseError::fail(format!(
            "{mode:?}: planning a valid file failed: {problem}"
        ))),
        None => Err(TestCaseError::fail(format!(
            "{mode:?}: no backend found in the file"
        ))),
    }
}

/// (key, value, nested keys) of the one backend in a text, by tflock's parser.
type Parsed = Vec<(String, Value, Vec<(String, Value)>)>;

fn parsed_settings(kind: Kind, text: &str) -> Result<Parsed, TestCaseError> {
    let source = Source::new(text.to_string());
    let backends = parse::parse(kind.file_kind(), &source)
        .map_err(|e| TestCaseError::fail(format!("rewritten text does not parse: {e}")))?;
    prop_assert_eq!(backends.len(), 1, "rewritten text: expected one backend");
    Ok(backends[0]
        .body
        .settings
        .iter()
        .map(|s| {
            let nested = s
                .object
                .as_ref()
                .map(|o| {
                    o.settings
                        .iter()
                        .map(|n| (n.key.clone(), n.value.clone()))
                        .collect()
                })
                .unwrap_or_default();
            (s.key.clone(), s.value.clone(), nested)
        })
        .collect())
}

fn keys_of_spec(spec: &Spec) -> Vec<String> {
    let mut keys = Vec::new();
    for s in spec.settings() {
        keys.push(s.name.key().to_string());
        if s.name == Name::Endpoints {
            for (k, _) in endpoint_items(&s.endpoints) {
                keys.push(format!("endpoints.{k}"));
            }
        }
        if s.name == Name::AssumeRole {
            keys.push("assume_role.role_arn".into());
        }
    }
    keys
}

fn keys_of_parsed(settings: &Parsed) -> Vec<String> {
    let mut keys = Vec::new();
    for (k, _, nested) in settings {
        keys.push(k.clone());
        keys.extend(nested.iter().map(|(n, _)| format!("{k}.{n}")));
    }
    keys
}

/// Property (4): the backend's settings after the change.
fn check_semantics(
    kind: Kind,
    original: &str,
    new: &str,
    exp: &Expected,
    mode: Mode,
) -> Result<(), TestCaseError> {
    let before = parsed_settings(kind, original)?;
    let after = parsed_settings(kind, new)?;
    let get = |list: &Parsed, key: &str| -> Vec<Value> {
        list.iter()
            .filter(|(k, ..)| k == key)
            .map(|(_, v, _)| v.clone())
            .collect()
    };
    let lockfiles = get(&after, "use_lockfile");
    prop_assert_eq!(
        &lockfiles,
        &vec![Value::Bool(true)],
        "{:?}: expected exactly one `use_lockfile = true`",
        mode
    );
    match mode {
        Mode::Replace => {
            for key in ["dynamodb_table", "dynamodb_endpoint"] {
                prop_assert!(get(&after, key).is_empty(), "{key} left after replace");
            }
            for (k, _, nested) in &after {
                if k == "endpoints" {
                    prop_assert!(
                        nested.iter().all(|(n, _)| n != "dynamodb"),
                        "endpoints.dynamodb left after replace"
                    );
                }
            }
        }
        Mode::Dual => {
            prop_assert_eq!(
                get(&after, "dynamodb_table"),
                get(&before, "dynamodb_table"),
                "dual must keep dynamodb_table"
            );
        }
    }
    // Every other setting keeps its value.
    for (k, v, nested) in &before {
        if matches!(
            k.as_str(),
            "dynamodb_table" | "dynamodb_endpoint" | "use_lockfile" | "endpoints"
        ) {
            continue;
        }
        let now: Vec<_> = after.iter().filter(|(a, ..)| a == k).collect();
        prop_assert_eq!(now.len(), 1, "setting {} lost or duplicated", k);
        prop_assert_eq!(&now[0].1, v, "value of {} changed", k);
        prop_assert_eq!(&now[0].2, nested, "items of {} changed", k);
    }
    let mut want = keys_of_spec(&exp.spec);
    let mut got = keys_of_parsed(&after);
    if exp.position_free {
        want.sort();
        got.sort();
    }
    prop_assert_eq!(got, want, "settings after {:?}", mode);
    Ok(())
}

/// Property (3): the edits are local, and the bytes that matter are kept.
fn check_locality(g: &Generated, file: &FilePlan) -> Result<(), TestCaseError> {
    let orig = &g.text;
    let new = &file.new_text;
    let region = &g.region;
    prop_assert!(
        new.starts_with(&orig[..region.start]) && new.ends_with(&orig[region.end..]),
        "bytes outside the backend's settings changed"
    );
    let starts = line_starts(orig);
    let mut edits: Vec<&Edit> = file.edits.iter().collect();
    edits.sort_by_key(|e| (e.start, e.end));
    for e in edits {
        prop_assert!(
            region.start <= e.start && e.end <= region.end,
            "edit {:?} lies outside the backend's settings {:?}",
            e,
            region
        );
        let removed = &orig[e.start..e.end];
        let blank = |s: &str| s.chars().all(|c| c == ' ' || c == '\t');
        if blank(removed) && blank(&e.text) {
            continue; // alignment
        }
        if g.spec.kind == Kind::Json && removed == "," && e.text.is_empty() {
            continue; // the comma of a member that became the last
        }
        // A new line appended after a kept setting (`use_lockfile` where a
        // multi-line `endpoints` stood): it changes no existing byte.
        let appends_line = removed.is_empty()
            && (e.text.starts_with('\n')
                || e.text.starts_with("\r\n")
                || e.text.starts_with(",\n")
                || e.text.starts_with(",\r\n"))
            && {
                // At a line's end (before its trailing blanks, which stay last).
                let rest = orig[e.start..].trim_start_matches([' ', '\t']);
                rest.is_empty() || rest.starts_with(['\n', '\r', ','])
            };
        if appends_line {
            let rest = e.text.replace("use_lockfile", "").replace("true", "");
            prop_assert!(
                rest.chars()
                    .all(|c| c.is_whitespace() || "=,:\"".contains(c)),
                "inserted line {:?} holds more than use_lockfile = true",
                e
            );
            continue;
        }
        // A deletion at the end of a file without final newline starts with the
        // terminator of the line before.
        let mut s = e.start;
        for nl in ["\r\n", "\n"] {
            if removed.starts_with(nl) && removed.len() > nl.len() {
                s += nl.len();
                break;
            }
        }
        let first = line_index(&starts, s);
        let last = if e.end > s {
            line_index(&starts, e.end - 1)
        } else {
            first
        };
        for line in first..=last {
            prop_assert!(
                g.target_lines.contains(&line),
                "edit {:?} touches line {} which holds no DynamoDB/lockfile setting",
                e,
                line + 1
            );
        }
        let rest = e.text.replace("use_lockfile", "").replace("true", "");
        prop_assert!(
            rest.chars()
                .all(|c| c.is_whitespace() || "=,:\"".contains(c)),
            "edit inserts unexpected text {:?}",
            e.text
        );
    }

    // Line endings, BOM, trailing newline.
    const BOM: char = '\u{feff}';
    prop_assert_eq!(new.starts_with(BOM), orig.starts_with(BOM), "BOM changed");
    if orig.contains("\r\n") {
        let lone = new
            .match_indices('\n')
            .any(|(i, _)| i == 0 || new.as_bytes()[i - 1] != b'\r');
        prop_assert!(!lone, "a lone \\n in a CRLF file");
    } else {
        prop_assert!(!new.contains('\r'), "a \\r in an LF file");
    }
    // Deleting the last line of a file without a final newline leaves the blank
    // line before it as the (empty) last line: the text then ends in `\n`.
    let orig_lines: Vec<&str> = orig.split('\n').collect();
    let mut first_of_last = orig_lines.len() - 1;
    while first_of_last > 0 && g.target_lines.contains(&first_of_last) {
        first_of_last -= 1;
    }
    let last_deleted_after_blank =
        first_of_last + 1 < orig_lines.len() && orig_lines[first_of_last].trim().is_empty();
    if !new.trim_start_matches(BOM).is_empty() && !last_deleted_after_blank {
        prop_assert_eq!(
            new.ends_with('\n'),
            orig.ends_with('\n'),
            "trailing newline presence changed"
        );
    }
    Ok(())
}

/// Comments survive, except trailing comments of deleted settings.
fn check_comments(g: &Generated, exp: &Expected, new: &str) -> Result<(), TestCaseError> {
    let mut kept: BTreeSet<usize> = BTreeSet::new();
    for item in &exp.spec.items {
        match item {
            Item::Comment(c) => {
                kept.insert(c.id);
            }
            Item::Setting(s) => {
                if let Some(c) = s.comment {
                    kept.insert(c.id);
                }
            }
            Item::Blank => {}
        }
    }
    for (c, place) in &g.comments {
        let count = new.matches(&comment_marker(c.id)).count();
        let deletable = matches!(
            place,
            Place::On(Name::Table | Name::DynEndpoint | Name::Endpoints)
        );
        if deletable && !exp.position_free && !kept.contains(&c.id) {
            prop_assert_eq!(count, 0, "comment {} of a deleted setting kept", c.id);
        } else if deletable {
            prop_assert!(count <= 1, "comment {} duplicated", c.id);
        } else {
            prop_assert_eq!(
                count,
                1,
                "comment {} ({:?}) lost or duplicated",
                c.id,
                place
            );
        }
    }
    Ok(())
}

/// All properties for one generated file and one strategy.
fn check(g: &Generated, mode: Mode) -> Result<(), TestCaseError> {
    let kind = g.spec.kind;
    let file = planned(kind, &g.text, mode)?;
    prop_assert_eq!(&file.original, &g.text);
    let spliced = splice(&g.text, &file.edits)
        .map_err(|e| TestCaseError::fail(format!("edits do not splice: {e}")))?;
    prop_assert_eq!(
        &spliced,
        &file.new_text,
        "new_text != splice(original, edits)"
    );
    let new = &file.new_text;

    let Some(exp) = expected(&g.spec, mode) else {
        prop_assert!(
            file.edits.is_empty() && new == &g.text,
            "{:?}: planned a change where none is due: {:?}",
            mode,
            file.edits
        );
        return Ok(());
    };
    prop_assert!(new != &g.text, "{:?}: no change planned", mode);

    check_locality(g, &file)?;
    check_comments(g, &exp, new)?;
    check_semantics(kind, &g.text, new, &exp, mode)?;

    // Idempotent: a second plan of the new text changes nothing.
    let again = planned(kind, new, mode)?;
    prop_assert!(
        again.edits.is_empty(),
        "{:?}: second plan not empty: {:?}",
        mode,
        again.edits
    );

    // Exact output where the layout is what `terraform fmt` keeps (and JSON).
    if g.spec.exact_layout() && !exp.position_free {
        let want = render(&exp.spec);
        prop_assert_eq!(new, &want.text, "{:?}: output differs from the model", mode);
    }

    // Dual, then replace, finishes the job.
    if mode == Mode::Dual {
        let exp2 = expected(&exp.spec, Mode::Replace).expect("a dual result has a table");
        let next = planned(kind, new, Mode::Replace)?;
        check_semantics(kind, new, &next.new_text, &exp2, Mode::Replace)?;
        if g.spec.exact_layout() {
            let want = render(&exp2.spec);
            prop_assert_eq!(
                &next.new_text,
                &want.text,
                "dual then replace differs from the model"
            );
        }
    }
    Ok(())
}

fn config(cases: u32) -> Config {
    config_shrinking(cases, 10_000)
}

fn config_shrinking(cases: u32, max_shrink_iters: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    Config {
        cases,
        max_shrink_iters,
        failure_persistence: None,
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn replace_tf(g in generated_of(&[Kind::Tf])) {
        check(&g, Mode::Replace)?;
    }

    #[test]
    fn dual_tf(g in generated_of(&[Kind::Tf])) {
        check(&g, Mode::Dual)?;
    }

    #[test]
    fn replace_tfbackend(g in generated_of(&[Kind::Tfbackend])) {
        check(&g, Mode::Replace)?;
    }

    #[test]
    fn dual_tfbackend(g in generated_of(&[Kind::Tfbackend])) {
        check(&g, Mode::Dual)?;
    }

    #[test]
    fn replace_terragrunt(g in generated_of(&[Kind::Terragrunt])) {
        check(&g, Mode::Replace)?;
    }

    #[test]
    fn dual_terragrunt(g in generated_of(&[Kind::Terragrunt])) {
        check(&g, Mode::Dual)?;
    }

    #[test]
    fn replace_json(g in generated_of(&[Kind::Json])) {
        check(&g, Mode::Replace)?;
    }

    #[test]
    fn dual_json(g in generated_of(&[Kind::Json])) {
        check(&g, Mode::Dual)?;
    }

    /// Property (1) on broken input: bytes or syntax pieces (multi-byte characters
    /// included) spliced into a generated file, or the file cut short, never panic
    /// the planner.
    #[test]
    fn mangled_files_never_panic(
        g in generated(),
        at in any::<prop::sample::Index>(),
        junk in prop::collection::vec(
            prop_oneof![
                prop::collection::vec(any::<u8>(), 1..3),
                prop::sample::select(vec![
                    "À", "é", "ш", "\u{feff}", "\u{1F600}", "{", "}", "[", "\"", "=", ",", ":",
                    "#", "//", "/*", "\n", "\r\n", "${", "%{", "<<EOF\n", "\\", " ", "\t",
                    "dynamodb_table = \"t\"\n", "use_lockfile = true", "backend \"s3\" {",
                ])
                .prop_map(|s| s.as_bytes().to_vec()),
            ],
            0..4,
        ),
        cut in any::<bool>(),
    ) {
        let junk: Vec<u8> = junk.concat();
        let mut bytes = g.text.into_bytes();
        let i = at.index(bytes.len() + 1);
        if cut {
            bytes.truncate(i);
        }
        bytes.splice(i..i, junk);
        for mode in [Mode::Replace, Mode::Dual] {
            let candidate = Candidate {
                path: PathBuf::from(g.spec.kind.file_name()),
                display: g.spec.kind.file_name().to_string(),
                kind: g.spec.kind.file_kind(),
            };
            let _ = tflock::plan_bytes(candidate, bytes.clone(), mode);
        }
    }
}

proptest! {
    // Each case runs the binary twice; shrinking is kept short for that reason.
    #![proptest_config(config_shrinking(16, 200))]

    /// Property (5): apply with the real binary, then rollback, restores every byte.
    /// (`--files-only`: the files are the subject here, not the DynamoDB digests.)
    #[test]
    fn apply_then_rollback_restores_bytes(g in generated(), dual in any::<bool>()) {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("repo");
        std::fs::create_dir(&root).unwrap();
        let path = root.join(g.spec.kind.file_name());
        std::fs::write(&path, &g.text).unwrap();
        let rollback_file = tmp.path().join("rollback.json");
        let mode = if dual { Mode::Dual } else { Mode::Replace };
        let strategy = if dual { "dual" } else { "replace" };
        let rb = rollback_file.to_str().unwrap();
        let out = common::tflock(
            &root,
            &["apply", "--strategy", strategy, "--skip-lock-check", "--auto-approve", "--rollback-file", rb],
        );
        prop_assert!(
            out.status.success(),
            "apply failed: {}{}", common::stdout(&out), common::stderr(&out)
        );
        let after = std::fs::read(&path).unwrap();
        let want = planned(g.spec.kind, &g.text, mode)?.new_text;
        prop_assert_eq!(&after, want.as_bytes(), "apply wrote other bytes than the plan");
        if after != g.text.as_bytes() {
            let out = common::tflock(&root, &["rollback", rb, "--auto-approve", "--files-only"]);
            prop_assert!(
                out.status.success(),
                "rollback failed: {}{}", common::stdout(&out), common::stderr(&out)
            );
            prop_assert_eq!(std::fs::read(&path).unwrap(), g.text.into_bytes());
        }
    }
}

// ---------------------------------------------------------------------------
// Oracle: HashiCorp's HCL parser and formatter on a fixed batch
// ---------------------------------------------------------------------------

fn names_in(output: &str, dir: &Path) -> BTreeSet<String> {
    output
        .lines()
        .filter_map(|l| {
            let l = l.strip_prefix(dir.to_str().unwrap()).unwrap_or(l);
            let l = l.trim_start_matches('/');
            let name = l.split(':').next()?.trim();
            (!name.is_empty()).then(|| name.to_string())
        })
        .collect()
}

#[test]
fn oracle_hclcheck_parses_outputs_and_keeps_fmt_clean() {
    let Some(checker) =
        common::hclcheck("prop::oracle_hclcheck_parses_outputs_and_keeps_fmt_clean")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    let strategy = generated();
    let mut inputs: Vec<(String, Generated)> = Vec::new();
    let mut outputs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut failures = Vec::new();
    for i in 0..400 {
        let g = strategy.new_tree(&mut runner).unwrap().current();
        let input = format!("{i:03}-in.{}", g.spec.kind.ext());
        std::fs::write(dir.join(&input), &g.text).unwrap();
        for (mode, tag) in [(Mode::Replace, "replace"), (Mode::Dual, "dual")] {
            match plan(g.spec.kind, &g.text, mode) {
                Some(FileOutcome::Planned(file, _)) if file.changed() => {
                    let name = format!("{i:03}-{tag}.{}", g.spec.kind.ext());
                    std::fs::write(dir.join(&name), &file.new_text).unwrap();
                    outputs.entry(input.clone()).or_default().push(name);
                }
                Some(FileOutcome::Planned(..)) => {}
                Some(FileOutcome::Failed(p, _)) => failures.push(format!("{input} {tag}: {p}")),
                None => failures.push(format!("{input} {tag}: no backend found")),
            }
        }
        inputs.push((input, g));
    }

    let paths = |names: &[&String]| -> Vec<PathBuf> { names.iter().map(|n| dir.join(n)).collect() };
    let all_inputs: Vec<&String> = inputs.iter().map(|(n, _)| n).collect();
    let (_, text) = common::run_hclcheck(&checker, &["parse"], &paths(&all_inputs));
    let bad_inputs = names_in(&text, dir);
    // The only inputs HCL may reject are JSON files with a BOM (its JSON parser
    // does not skip one); anything else is a generator bug.
    for (name, g) in &inputs {
        if bad_inputs.contains(name) {
            assert!(
                g.spec.kind == Kind::Json && g.spec.layout.bom,
                "generator produced a file HCL rejects: {name}\n{text}\n{:?}",
                g
            );
        }
    }
    let checked: Vec<&String> = outputs
        .iter()
        .filter(|(input, _)| !bad_inputs.contains(*input))
        .flat_map(|(_, outs)| outs)
        .collect();
    let (ok, text) = common::run_hclcheck(&checker, &["parse"], &paths(&checked));
    let mut problems = Vec::new();
    if !ok {
        problems.push(format!("rewritten files HCL cannot parse:\n{text}"));
    }

    let hcl_inputs: Vec<&String> = inputs
        .iter()
        .filter(|(_, g)| g.spec.kind != Kind::Json)
        .map(|(n, _)| n)
        .collect();
    let (_, text) = common::run_hclcheck(&checker, &["fmt", "-check"], &paths(&hcl_inputs));
    let unclean = names_in(&text, dir);
    let clean: Vec<&String> = hcl_inputs
        .iter()
        .copied()
        .filter(|n| !unclean.contains(*n))
        .collect();
    // The generator's fmt layout must really be what `terraform fmt` writes,
    // or the exact-output checks of the properties mean nothing.
    for (name, g) in &inputs {
        let l = &g.spec.layout;
        let fmt_layout = g.spec.kind != Kind::Json
            && l.eq == EqStyle::Aligned
            && l.comments_aligned
            && l.indent == Indent::Two
            && !l.bom;
        if fmt_layout && unclean.contains(name) {
            problems.push(format!("generator bug: {name} should be fmt-clean:\n{g:?}"));
        }
    }
    let clean_outputs: Vec<&String> = clean
        .iter()
        .filter_map(|n| outputs.get(*n))
        .flatten()
        .collect();
    let (ok, text) = common::run_hclcheck(&checker, &["fmt", "-check"], &paths(&clean_outputs));
    if !ok {
        let mut detail = String::new();
        for name in names_in(&text, dir) {
            let input = format!("{}-in.{}", &name[..3], name.split_once('.').unwrap().1);
            detail.push_str(&format!(
                "\n{name} (from fmt-clean {input}):\n--- input\n{}\n--- output\n{}\n--- hclwrite.Format(output)\n{}",
                std::fs::read_to_string(dir.join(&input)).unwrap(),
                std::fs::read_to_string(dir.join(&name)).unwrap(),
                String::from_utf8_lossy(
                    &std::process::Command::new(&checker)
                        .args(["fmt"])
                        .arg(dir.join(&name))
                        .output()
                        .unwrap()
                        .stdout
                ),
            ));
        }
        problems.push(format!(
            "fmt-clean inputs whose outputs are not fmt-clean:{detail}"
        ));
    }
    eprintln!(
        "oracle: {} inputs ({} fmt-clean HCL), {} outputs parsed, {} outputs of fmt-clean inputs checked",
        inputs.len(),
        clean.len(),
        checked.len(),
        clean_outputs.len()
    );
    assert!(
        failures.is_empty(),
        "planning failed:\n{}",
        failures.join("\n")
    );
    assert!(
        clean.len() >= 30,
        "too few fmt-clean inputs ({}) for the oracle to mean much",
        clean.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

// ---------------------------------------------------------------------------
// Minimal reproductions of the failures the properties found, shrunk by hand.
// Each states the expected result; they fail until src/ is fixed.
// ---------------------------------------------------------------------------

/// The new text of a planned file, or the problem / panic message.
fn outcome(kind: Kind, text: &str, mode: Mode) -> Result<String, String> {
    let text = text.to_string();
    match std::panic::catch_unwind(move || plan(kind, &text, mode)) {
        Ok(Some(FileOutcome::Planned(file, _))) => Ok(file.new_text),
        Ok(Some(FileOutcome::Failed(problem, _))) => Err(problem.to_string()),
        Ok(None) => Err("no backend found".into()),
        Err(panic) => Err(format!(
            "PANIC: {}",
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        )),
    }
}

#[test]
fn regression_replace_deletes_two_last_lines_of_file_without_final_newline() {
    let input = "use_lockfile = true\ndynamodb_endpoint = \"e\"\ndynamodb_table = \"t\"";
    assert_eq!(
        outcome(Kind::Tfbackend, input, Mode::Replace),
        Ok("use_lockfile = true".to_string())
    );
}

#[test]
fn regression_replace_deletes_adjacent_inline_json_members() {
    let input = r#"{"terraform": {"backend": {"s3": {"use_lockfile": true, "dynamodb_endpoint": "e", "dynamodb_table": "t"}}}}"#;
    assert_eq!(
        outcome(Kind::Json, input, Mode::Replace),
        Ok(r#"{"terraform": {"backend": {"s3": {"use_lockfile": true}}}}"#.to_string())
    );
}

#[test]
fn regression_replace_deletes_adjacent_inline_object_items() {
    let input = "remote_state {\n  backend = \"s3\"\n  config  = { use_lockfile = true, dynamodb_endpoint = \"e\", dynamodb_table = \"t\" }\n}\n";
    assert_eq!(
        outcome(Kind::Terragrunt, input, Mode::Replace),
        Ok(
            "remote_state {\n  backend = \"s3\"\n  config  = { use_lockfile = true }\n}\n"
                .to_string()
        )
    );
}

#[test]
fn regression_replace_realigns_comments_after_inline_endpoints_edit() {
    // fmt-clean before; hclwrite.Format of the expected text is itself.
    // `use_lockfile` is already there, so only the nested edit changes widths.
    let input = "use_lockfile = true\nendpoints    = { s3 = \"http://s3\", dynamodb = \"http://ddb\" } # a\nregion       = \"us-east-1\"                                   # b\n";
    assert_eq!(
        outcome(Kind::Tfbackend, input, Mode::Replace),
        Ok(
            "use_lockfile = true\nendpoints    = { s3 = \"http://s3\" } # a\nregion       = \"us-east-1\"          # b\n"
                .to_string()
        )
    );
}

#[test]
fn regression_dual_with_bom_and_setting_on_first_line() {
    let input = "\u{feff}dynamodb_table = \"t\"\n";
    assert_eq!(
        outcome(Kind::Tfbackend, input, Mode::Dual),
        Ok("\u{feff}dynamodb_table = \"t\"\nuse_lockfile   = true\n".to_string())
    );
}

#[test]
fn regression_replace_realigns_first_line_after_bom() {
    let input =
        "\u{feff}bucket            = \"b\"\ndynamodb_endpoint = \"e\"\nuse_lockfile      = true\n";
    assert_eq!(
        outcome(Kind::Tfbackend, input, Mode::Replace),
        Ok("\u{feff}bucket       = \"b\"\nuse_lockfile = true\n".to_string())
    );
}

#[test]
fn regression_syntax_error_inside_multibyte_character_does_not_panic() {
    for (kind, input) in [(Kind::Tfbackend, "a À"), (Kind::Tf, "backend \"b\"À")] {
        let result = outcome(kind, input, Mode::Replace);
        assert!(
            matches!(&result, Err(m) if !m.starts_with("PANIC")),
            "{input:?}: {result:?}"
        );
    }
}

#[test]
fn regression_replace_of_dynamodb_endpoint_alone_adds_use_lockfile() {
    // Issue 2, item 4: replace removes the DynamoDB settings "and makes sure
    // exactly one `use_lockfile = true` exists".
    let input = "bucket = \"b\"\ndynamodb_endpoint = \"http://localhost:8000\"\n";
    let new = outcome(Kind::Tfbackend, input, Mode::Replace).unwrap();
    assert_eq!(new.matches("use_lockfile").count(), 1, "{new:?}");
    assert!(!new.contains("dynamodb"), "{new:?}");
}
