//! A mutation fuzzer for the rewriter (cargo-fuzz needs a nightly toolchain; this
//! is an ordinary test target that runs short in CI and long from `scripts/fuzz.sh`).
//!
//! Seeds are every input file of `fixtures/cases/*/in/` (`.tf`, `.tofu`,
//! `.tf.json`, `.tfbackend`, Terragrunt `.hcl`), a few generated files and every
//! saved crasher of `fixtures/fuzz-regressions/`. Each iteration stacks a few
//! mutations on one of them (byte flips, range insert/delete/duplicate, splices
//! between seeds, interesting tokens, truncation, CRLF toggling, nesting bursts,
//! line moves, whitespace runs) and plans the result with both strategies on a
//! worker thread. For every input:
//!
//! - no panic (caught and reported with the input) and no hang (each input has
//!   [`TIME_LIMIT`] on the worker);
//! - a problem (`Failed`) has a position inside the file and is no internal error
//!   (the planner's own recheck refusing its rewrite is a bug too);
//! - a `Planned` change: edits are in bounds, on character boundaries and disjoint;
//!   `splice(original, edits) == new_text`; an independent walk finds every byte
//!   outside the edits unchanged (BOM, final newline and line-ending style kept);
//!   the reversed edits restore the original exactly; the new text parses with
//!   tflock's parser into as many backends with the expected settings (DynamoDB
//!   gone or kept per strategy, `use_lockfile = true`, everything else equal);
//!   a second plan has no edits and reports migrated backends as migrated; edits
//!   stay inside migrated backends and remove only DynamoDB/lockfile settings
//!   (with their commas and trailing comments) and insert only `use_lockfile =
//!   true` and whitespace;
//! - a backend that sets a DynamoDB/lockfile key twice (`key` and `"key"` in an
//!   HCL object, or a JSON member twice) is refused, not planned from the first.
//!
//! At the end, the reference HCL checker (`hclcheck`, when built; required on CI)
//! checks a sample of the rewritten mutants: when HCL parses the input, it parses
//! every rewrite; when the input is `terraform fmt`-clean, so is every rewrite.
//!
//! A failing input is minimized (delta debugging on lines, then bytes) and saved
//! as `fixtures/fuzz-regressions/<class>-<hash>.<ext>`; [`replay_regressions`]
//! runs every file there (properties and HCL checker) on each test run, and the
//! fuzz run counts their failures as known rather than new. [`explain`] shows what
//! tflock makes of one file.
//!
//! Environment:
//! - `TFLOCK_FUZZ_ITERATIONS` (default [`CI_ITERATIONS`]): mutated inputs to run.
//! - `TFLOCK_FUZZ_SEED`: PRNG seed (a number, or `random`); default fixed, so CI
//!   is deterministic. The seed is printed; rerun with it to reproduce.
//! - `TFLOCK_FUZZ_ORACLE_DIR` / `TFLOCK_FUZZ_ORACLE_FILES`: [`oracle_sample`]
//!   writes that many rewritten outputs of `hclwrite`-formatted generated inputs
//!   for `scripts/fuzz.sh` to check with the reference HCL checker.

mod common;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tflock::FileOutcome;
use tflock::discover::FileKind;
// The properties themselves live in the library, shared with the
// coverage-guided targets of `fuzz/`.
use tflock::fuzzing::{
    Finding, MAX_FUZZ_INPUT, STRATEGIES, Stats, candidate, check_evaluator, check_input, finding,
    heredoc_unit, kind_of,
};
use tflock::plan::Action;

/// Mutated inputs per CI run: 15-30 s in a debug build on two cores (by load).
const CI_ITERATIONS: u64 = 12_000;
/// Per input: both strategies and every check, about six plans and parses. A
/// 64 KiB input can take a few hundred milliseconds per plan in a debug build.
const TIME_LIMIT: Duration = if cfg!(debug_assertions) {
    Duration::from_secs(10)
} else {
    Duration::from_secs(2)
};
/// Mutated inputs are cut to this size (the planner's line limit is 64 KiB).
const MAX_INPUT: usize = 160 * 1024;
const DEFAULT_SEED: u64 = 0x7f4a_7c15_9e37_79b9;

// ---------------------------------------------------------------------------
// PRNG
// ---------------------------------------------------------------------------

/// xorshift64* (Vigna): small, fast and good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// A length that is usually small: 1..=2, 1..=4, ... up to `max`.
    fn small_len(&mut self, max: usize) -> usize {
        let mut cap = 2;
        while cap < max && self.chance(2) {
            cap *= 2;
        }
        1 + self.below(cap.min(max.max(1)))
    }

    /// A non-empty range inside `0..len` (empty when `len` is 0).
    fn range(&mut self, len: usize) -> Range<usize> {
        if len == 0 {
            return 0..0;
        }
        let start = self.below(len);
        let n = self.small_len(len - start);
        start..(start + n).min(len)
    }
}

fn seed_from_env() -> u64 {
    match std::env::var("TFLOCK_FUZZ_SEED").ok().as_deref() {
        None | Some("") => DEFAULT_SEED,
        Some("random") => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64;
            nanos ^ (u64::from(std::process::id()) << 32)
        }
        Some(s) => s
            .strip_prefix("0x")
            .map_or_else(|| s.parse().ok(), |h| u64::from_str_radix(h, 16).ok())
            .unwrap_or_else(|| panic!("TFLOCK_FUZZ_SEED={s}: not a number")),
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.replace('_', "")
                .parse()
                .unwrap_or_else(|_| panic!("{name}={s}: not a number"))
        })
        .unwrap_or(default)
}

/// FNV-1a, for short stable names of saved inputs.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

// ---------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------

/// One file to plan: a name whose extension gives its kind, and its bytes.
#[derive(Clone)]
struct Input {
    /// Where it came from (for messages).
    origin: String,
    /// File name ending in the kind's extension (`main.tf.json`, `x.hcl`, ...).
    name: String,
    kind: FileKind,
    bytes: Vec<u8>,
}

/// The extension that gives `name` its kind (`tf.json`, `tofu`, `hcl`, ...).
fn ext_of(name: &str) -> &'static str {
    ["tf.json", "tofu.json", "tfbackend", "tofu", "tf", "hcl"]
        .into_iter()
        .find(|e| name.ends_with(&format!(".{e}")))
        .unwrap_or("tf")
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn regressions_dir() -> PathBuf {
    repo().join("fixtures/fuzz-regressions")
}

fn files_below(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            files_below(&path, out);
        } else if kind.is_file() {
            out.push(path);
        }
    }
}

fn inputs_below(dir: &Path) -> Vec<Input> {
    let mut paths = Vec::new();
    files_below(dir, &mut paths);
    paths.sort();
    paths
        .into_iter()
        .filter_map(|path| {
            let name = path.file_name()?.to_str()?.to_string();
            let kind = kind_of(&name)?;
            Some(Input {
                origin: path
                    .strip_prefix(repo())
                    .unwrap_or(&path)
                    .display()
                    .to_string(),
                name,
                kind,
                bytes: std::fs::read(&path).ok()?,
            })
        })
        .collect()
}

/// Every input file of every fixture case.
fn fixture_seeds() -> Vec<Input> {
    let cases = repo().join("fixtures/cases");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&cases)
        .expect("fixtures/cases")
        .flatten()
        .map(|e| e.path().join("in"))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs.iter().flat_map(|d| inputs_below(d)).collect()
}

fn regression_inputs() -> Vec<Input> {
    inputs_below(&regressions_dir())
}

// ---------------------------------------------------------------------------
// A small generator of backend files (seeds, and the oracle's sample)
// ---------------------------------------------------------------------------

/// One line of a generated settings body.
enum GenItem {
    /// key, HCL value source, JSON value source, trailing comment.
    Attr(&'static str, String, String, Option<String>),
    /// `endpoints = { s3 = .., dynamodb = .. }`: s3, dynamodb, on several lines.
    Endpoints(bool, bool, bool),
    Blank,
    Comment(String),
}

fn gen_settings(rng: &mut Rng) -> Vec<GenItem> {
    let strings: &[(&str, &[&str])] = &[
        (
            "bucket",
            &["tf-state", "state#1", "a//b", "${var.env}-state", "état"],
        ),
        ("key", &["env/prod/terraform.tfstate", "a = b/x.tfstate"]),
        ("region", &["us-east-1", "eu-west-1"]),
        ("workspace_key_prefix", &["env"]),
        ("profile", &["dev"]),
        (
            "dynamodb_table",
            &["locks", "locks#1", "${local.table}", "t=1"],
        ),
        ("dynamodb_endpoint", &["http://localhost:8000"]),
    ];
    let mut items = Vec::new();
    let mut keys: Vec<usize> = (0..strings.len() + 3).collect();
    // Shuffle, then keep a random subset (the table most of the time).
    for i in (1..keys.len()).rev() {
        keys.swap(i, rng.below(i + 1));
    }
    for k in keys {
        let table = k == 5;
        if !(rng.chance(2) || (table && !rng.chance(5))) {
            continue;
        }
        match rng.below(6) {
            0 => items.push(GenItem::Blank),
            1 => items.push(GenItem::Comment(
                rng.pick(&[
                    "# note",
                    "// dynamodb_table = \"old\"",
                    "# use_lockfile = false",
                ])
                .to_string(),
            )),
            _ => {}
        }
        let comment = rng.chance(5).then(|| {
            rng.pick(&["# why", "// a # b", "# dynamodb_table = \"x\""])
                .to_string()
        });
        if k < strings.len() {
            let (key, values) = strings[k];
            let v = *rng.pick(values);
            let hcl = if rng.chance(6) && !v.contains('$') {
                format!("\"${{\"{v}\"}}\"")
            } else {
                format!("\"{v}\"")
            };
            let json = format!("\"{}\"", v.replace('"', "\\\""));
            items.push(GenItem::Attr(key, hcl, json, comment));
        } else if k == strings.len() {
            items.push(GenItem::Attr(
                "encrypt",
                "true".into(),
                "true".into(),
                comment,
            ));
        } else if k == strings.len() + 1 {
            let (hcl, json) = *rng.pick(&[
                ("true", "true"),
                ("false", "false"),
                ("\"true\"", "\"true\""),
            ]);
            items.push(GenItem::Attr(
                "use_lockfile",
                hcl.into(),
                json.into(),
                comment,
            ));
        } else {
            let s3 = rng.chance(2);
            let dynamodb = !s3 || rng.chance(2);
            items.push(GenItem::Endpoints(s3, dynamodb, rng.chance(2)));
        }
    }
    if rng.chance(4) {
        items.push(GenItem::Comment("# end".into()));
    }
    items
}

/// HCL lines of a body at `indent` (`=` unaligned: the oracle formats the file).
fn hcl_body(rng: &mut Rng, items: &[GenItem], indent: &str, commas: bool) -> String {
    let comma = if commas { "," } else { "" };
    let mut out = String::new();
    for item in items {
        match item {
            GenItem::Attr(key, value, _, comment) => {
                let gap = " ".repeat(1 + rng.below(3));
                out.push_str(&format!("{indent}{key}{gap}= {value}{comma}"));
                if let Some(c) = comment {
                    out.push_str(&format!(" {c}"));
                }
                out.push('\n');
            }
            GenItem::Endpoints(s3, dynamodb, multi) => {
                let mut members = Vec::new();
                if *s3 {
                    members.push(("s3", "http://localhost:9000"));
                }
                if *dynamodb {
                    members.push(("dynamodb", "http://localhost:8000"));
                }
                if *multi {
                    out.push_str(&format!("{indent}endpoints = {{\n"));
                    for (k, v) in members {
                        out.push_str(&format!("{indent}  {k} = \"{v}\"{comma}\n"));
                    }
                    out.push_str(&format!("{indent}}}{comma}\n"));
                } else {
                    let inner: Vec<String> = members
                        .iter()
                        .map(|(k, v)| format!("{k} = \"{v}\""))
                        .collect();
                    out.push_str(&format!(
                        "{indent}endpoints = {{ {} }}{comma}\n",
                        inner.join(", ")
                    ));
                }
            }
            GenItem::Blank => out.push('\n'),
            GenItem::Comment(c) => out.push_str(&format!("{indent}{c}\n")),
        }
    }
    out
}

const TF_DECOYS: &[&str] = &[
    "variable \"env\" {\n  type = string\n  default = \"dev\"\n}\n",
    "locals {\n  dynamodb_table = \"x\"\n  note = \"backend \\\"s3\\\" { dynamodb_table = \\\"y\\\" }\"\n}\n",
    "data \"terraform_remote_state\" \"net\" {\n  backend = \"s3\"\n  config = {\n    bucket = \"b\"\n    dynamodb_table = \"other\"\n  }\n}\n",
    "# terraform { backend \"s3\" { dynamodb_table = \"commented\" } }\n",
    "resource \"local_file\" \"f\" {\n  content = <<-EOT\n    backend \"s3\" {\n      dynamodb_table = \"in-heredoc\"\n    }\n  EOT\n}\n",
];

/// Items around a reader that the skim (`parse::skim`) blanks: each one
/// lexes in a way a careless lexer gets wrong (braces and quotes in strings,
/// comments and heredocs, escaped and nested interpolations).
const SKIM_DECOYS: &[&str] = &[
    "resource \"aws_iam_policy\" \"p\" {\n  policy = <<EOF\n{\n  \"Statement\": [\"${var.x}\"]\n}\nEOFX\n  EOF\n}\n",
    "locals {\n  a = \"{ [ (\"\n  b = \"$${not} %%{not} ${join(\"}\", [\"{\"])}\"\n  c = { for k, v in var.m : k => \"${v}\" if v != \"\" }\n}\n",
    "/* a block comment with \"quotes\" and { braces\n   over two lines */\nvariable \"v\" {\n  default = [1, 2] // a \"comment\" }\n}\n",
    "resource \"null_resource\" \"n\" {\n  triggers = {\n    script = <<-SH\n      echo \"${local.a}\" # not a comment }\n      %{ if true }yes%{ endif }\n    SH\n  }\n}\n",
    "output \"o\" {\n  value = (1 + 2) * 3\n}\n",
    "terraform {\n  required_version = \">= 1.10\"\n}\n",
];

const TG_DECOYS: &[&str] = &[
    "include \"root\" {\n  path = find_in_parent_folders(\"root.hcl\")\n}\n",
    "inputs = {\n  dynamodb_table = \"app\"\n  use_lockfile = false\n}\n",
    "locals {\n  env = \"dev\"\n}\n",
];

fn with_decoys(rng: &mut Rng, decoys: &[&str], main: String) -> String {
    let mut parts = vec![main];
    for d in decoys {
        if rng.chance(3) {
            let at = rng.below(parts.len() + 1);
            parts.insert(at, d.to_string());
        }
    }
    parts.join("\n")
}

/// A generated backend file: (file name, text). No BOM, LF endings.
fn gen_file(rng: &mut Rng) -> (String, String) {
    let items = gen_settings(rng);
    match rng.below(8) {
        0 | 1 => {
            let mut main = String::from("terraform {\n");
            if rng.chance(2) {
                main.push_str("  required_version = \">= 1.10\"\n\n");
            }
            main.push_str("  backend \"s3\" {\n");
            main.push_str(&hcl_body(rng, &items, "    ", false));
            main.push_str("  }\n}\n");
            let name = if rng.chance(4) {
                "main.tofu"
            } else {
                "main.tf"
            };
            (name.into(), with_decoys(rng, TF_DECOYS, main))
        }
        2 => {
            let text = hcl_body(rng, &items, "", false);
            (
                "prod.tfbackend".into(),
                if text.is_empty() {
                    "bucket = \"b\"\n".into()
                } else {
                    text
                },
            )
        }
        3 | 4 => {
            let commas = rng.chance(3);
            let main = if rng.chance(4) {
                format!(
                    "remote_state = {{\n  backend = \"s3\"\n  config = {{\n{}  }}\n}}\n",
                    hcl_body(rng, &items, "    ", commas)
                )
            } else {
                let generate = if rng.chance(3) {
                    "  generate = {\n    path = \"backend.tf\"\n    if_exists = \"overwrite\"\n  }\n"
                } else {
                    ""
                };
                format!(
                    "remote_state {{\n  backend = \"s3\"\n{generate}  config = {{\n{}  }}\n}}\n",
                    hcl_body(rng, &items, "    ", commas)
                )
            };
            ("terragrunt.hcl".into(), with_decoys(rng, TG_DECOYS, main))
        }
        5 => {
            let main = format!(
                "generate \"backend\" {{\n  path = \"backend.tf\"\n  if_exists = \"overwrite\"\n  contents = <<EOF\nterraform {{\n  backend \"s3\" {{\n{}  }}\n}}\nEOF\n}}\n",
                hcl_body(rng, &items, "    ", false)
            );
            ("terragrunt.hcl".into(), with_decoys(rng, TG_DECOYS, main))
        }
        6 => ("main.tf.json".into(), gen_json(rng, &items)),
        _ => {
            // A file that only reads a state: what the skim leaves unparsed.
            let reader = "data \"terraform_remote_state\" \"net\" {\n  backend = \"s3\"\n  config = {\n    bucket = \"b\"\n    key    = \"k\"\n  }\n}\n";
            (
                "main.tf".into(),
                with_decoys(rng, SKIM_DECOYS, reader.into()),
            )
        }
    }
}

fn gen_json(rng: &mut Rng, items: &[GenItem]) -> String {
    let pretty = rng.chance(2) || rng.chance(2);
    let colon = if pretty || rng.chance(2) { ": " } else { ":" };
    let mut members = Vec::new();
    for item in items {
        match item {
            GenItem::Attr(key, _, json, _) => members.push(format!("\"{key}\"{colon}{json}")),
            GenItem::Endpoints(s3, dynamodb, _) => {
                let mut inner = Vec::new();
                if *s3 {
                    inner.push(format!("\"s3\"{colon}\"http://localhost:9000\""));
                }
                if *dynamodb {
                    inner.push(format!("\"dynamodb\"{colon}\"http://localhost:8000\""));
                }
                members.push(format!("\"endpoints\"{colon}{{{}}}", inner.join(", ")));
            }
            _ => {}
        }
    }
    let (nl, i1, i2, i3, i4) = if pretty {
        ("\n", "  ", "    ", "      ", "        ")
    } else {
        ("", "", "", "", "")
    };
    let body = members
        .iter()
        .map(|m| format!("{i4}{m}"))
        .collect::<Vec<_>>()
        .join(&format!(",{nl}"));
    let s3 = format!("{{{nl}{i3}\"s3\"{colon}{{{nl}{body}{nl}{i3}}}{nl}{i2}}}");
    let backend = if rng.chance(4) { format!("[{s3}]") } else { s3 };
    let decoy = if rng.chance(3) {
        format!("{i1}\"locals\"{colon}{{\"dynamodb_table\"{colon}\"x\"}},{nl}")
    } else {
        String::new()
    };
    format!(
        "{{{nl}{decoy}{i1}\"terraform\"{colon}{{{nl}{i2}\"backend\"{colon}{backend}{nl}{i1}}}{nl}}}{nl}"
    )
}

fn generated_seeds(rng: &mut Rng, n: usize) -> Vec<Input> {
    (0..n)
        .map(|i| {
            let (name, text) = gen_file(rng);
            Input {
                origin: format!("generated #{i}"),
                kind: kind_of(&name).unwrap(),
                name,
                bytes: text.into_bytes(),
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Running inputs: a worker thread, panics caught, a time limit
// ---------------------------------------------------------------------------

thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

const WORKER: &str = "fuzz-worker";

/// Panics on worker threads are recorded quietly (they are reported as findings);
/// everywhere else the usual hook prints them.
fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().name() == Some(WORKER) {
                let message = info
                    .payload()
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| info.payload().downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                let at = info
                    .location()
                    .map(|l| format!("{}:{}", l.file(), l.line()))
                    .unwrap_or_default();
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(format!("panicked at {at}: {message}")));
            } else {
                default(info);
            }
        }));
    });
}

type Job = (String, FileKind, Vec<u8>);

struct Worker {
    jobs: mpsc::Sender<Job>,
    results: mpsc::Receiver<Result<Stats, Finding>>,
}

impl Worker {
    fn spawn() -> Worker {
        install_panic_hook();
        let (jobs, job_rx) = mpsc::channel::<Job>();
        let (result_tx, results) = mpsc::channel();
        // The default (2 MiB) stack, as on the directory walker's threads.
        std::thread::Builder::new()
            .name(WORKER.into())
            .spawn(move || {
                for (name, kind, bytes) in job_rx {
                    let result = std::panic::catch_unwind(|| check_input(&name, kind, &bytes))
                        .unwrap_or_else(|_| {
                            let message = LAST_PANIC
                                .with(|p| p.borrow_mut().take())
                                .unwrap_or_default();
                            Err(finding("panic", message))
                        });
                    if result_tx.send(result).is_err() {
                        break;
                    }
                }
            })
            .expect("spawn worker");
        Worker { jobs, results }
    }
}

/// Runs inputs on a worker; a worker stuck past the limit is abandoned (it keeps
/// a thread until the process exits) and a new one takes over.
struct Runner {
    worker: Option<Worker>,
    limit: Duration,
    /// The input in flight is written here first when set: if the process dies
    /// (a stack overflow aborts it), the input is still there.
    in_flight: Option<PathBuf>,
}

impl Runner {
    fn new(limit: Duration) -> Runner {
        Runner {
            worker: None,
            limit,
            in_flight: None,
        }
    }

    fn run(&mut self, input: &Input, bytes: &[u8]) -> Result<Stats, Finding> {
        if let Some(path) = &self.in_flight {
            let _ = std::fs::write(path.with_extension(ext_of(&input.name)), bytes);
        }
        let worker = self.worker.get_or_insert_with(Worker::spawn);
        worker
            .jobs
            .send((input.name.clone(), input.kind, bytes.to_vec()))
            .expect("worker alive");
        match worker.results.recv_timeout(self.limit) {
            Ok(result) => result,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                self.worker = None;
                Err(finding(
                    "hang",
                    format!("no result within {:?}", self.limit),
                ))
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                self.worker = None;
                Err(finding("crash", "the worker thread died"))
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Mutators
// ---------------------------------------------------------------------------

const TOKENS: &[&str] = &[
    "#",
    "//",
    "/*",
    "*/",
    "\"",
    "${",
    "%{",
    "}",
    "<<EOF\n",
    "\nEOF\n",
    "<<-EOT\n",
    "\r\n",
    "\n",
    "\r",
    "{",
    "[",
    "]",
    "(",
    ")",
    "=",
    ":",
    ",",
    "\u{feff}",
    "\0",
    "é",
    "ш",
    "😀",
    "e\u{301}",
    "\u{200b}",
    "\\",
    "\t",
    " ",
    "dynamodb_table = \"x\"",
    "use_lockfile = false",
    "use_lockfile = true",
    "endpoints = { dynamodb = \"d\" }",
    "dynamodb_endpoint = \"e\"",
    "backend \"s3\" {",
    "terraform {",
    "remote_state {",
    "config = {",
    "\"dynamodb_table\": \"x\"",
    "\"use_lockfile\": false",
    "\"use_lockfile\" = false",
    "\"dynamodb_table\" = \"y\"",
    "\"dynamodb\" = \"e\",",
    "use_lockfile = \"true\"",
    "\"endpoints\": {\"dynamodb\": \"d\"}",
    "null",
    "true",
    "\"true\"",
    "${var.x}",
    "?",
    "...",
    "for k, v in x :",
    "-",
    "1e9",
    "\"\\u00e9\"",
    "<<",
    "EOF",
    "#{",
];

const OPENERS: &[&str] = &[
    "[", "{", "(", "${", "{a=", "[{", "f(", "!", "-", "\"${\"", "{\"a\":", "a {\n",
];

fn line_starts(bytes: &[u8]) -> Vec<usize> {
    let mut starts = vec![0];
    starts.extend(memchr_all(bytes, b'\n').into_iter().map(|i| i + 1));
    starts
}

fn memchr_all(bytes: &[u8], b: u8) -> Vec<usize> {
    bytes
        .iter()
        .enumerate()
        .filter(|(_, x)| **x == b)
        .map(|(i, _)| i)
        .collect()
}

/// A position to insert at: anywhere, or (half the time) at a line's start or end.
fn position(rng: &mut Rng, bytes: &[u8]) -> usize {
    if rng.chance(2) {
        let starts = line_starts(bytes);
        let line = rng.below(starts.len());
        if rng.chance(2) {
            starts[line]
        } else {
            starts.get(line + 1).map_or(bytes.len(), |s| s - 1)
        }
    } else {
        rng.below(bytes.len() + 1)
    }
}

/// The line ranges (each with its newline) of `bytes`.
fn lines(bytes: &[u8]) -> Vec<Range<usize>> {
    let starts = line_starts(bytes);
    starts
        .iter()
        .enumerate()
        .map(|(i, &s)| s..starts.get(i + 1).copied().unwrap_or(bytes.len()))
        .filter(|r| !r.is_empty())
        .collect()
}

const MUTATORS: &[&str] = &[
    "bit-flip",
    "byte",
    "insert-bytes",
    "delete",
    "duplicate",
    "splice-seed",
    "token",
    "truncate",
    "crlf",
    "nesting",
    "line",
    "whitespace",
    "replace-token",
    "long-line",
];

/// Applies one random mutation; returns its name.
fn mutate_once(rng: &mut Rng, bytes: &mut Vec<u8>, corpus: &[Input]) -> &'static str {
    let which = loop {
        let m = rng.below(MUTATORS.len());
        // A long line is slow to build and always refused; keep it rare.
        if MUTATORS[m] != "long-line" || rng.chance(20) {
            break m;
        }
    };
    let len = bytes.len();
    match MUTATORS[which] {
        "bit-flip" if len > 0 => {
            for _ in 0..rng.small_len(4) {
                let i = rng.below(len);
                bytes[i] ^= 1 << rng.below(8);
            }
        }
        "byte" if len > 0 => {
            let i = rng.below(len);
            let random = rng.next() as u8;
            bytes[i] = *rng.pick(&[
                0, 0xff, 0x80, 0xc3, b'\n', b'\r', b'"', b'{', b'}', b'=', b' ', b'#', b'$', b'\\',
                random,
            ]);
        }
        "insert-bytes" => {
            let at = rng.below(len + 1);
            let n = rng.small_len(16);
            let junk: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            bytes.splice(at..at, junk);
        }
        "delete" if len > 0 => {
            let r = rng.range(len);
            bytes.drain(r);
        }
        "duplicate" if len > 0 => {
            let r = rng.range(len);
            let copy = bytes[r].to_vec();
            let at = position(rng, bytes);
            bytes.splice(at..at, copy);
        }
        "splice-seed" => {
            let other = &rng.pick(corpus).bytes;
            let piece = if rng.chance(3) {
                let ls = lines(other);
                if ls.is_empty() {
                    Vec::new()
                } else {
                    let first = rng.below(ls.len());
                    let last = (first + rng.small_len(8) - 1).min(ls.len() - 1);
                    other[ls[first].start..ls[last].end].to_vec()
                }
            } else {
                other[rng.range(other.len())].to_vec()
            };
            if rng.chance(2) && len > 0 {
                let r = rng.range(len);
                bytes.splice(r, piece);
            } else {
                let at = position(rng, bytes);
                bytes.splice(at..at, piece);
            }
        }
        "token" => {
            let token = rng.pick(TOKENS).as_bytes().to_vec();
            let at = position(rng, bytes);
            bytes.splice(at..at, token);
        }
        "truncate" if len > 0 => bytes.truncate(rng.below(len)),
        "crlf" => {
            let text = std::mem::take(bytes);
            *bytes = match rng.below(3) {
                // Every LF to CRLF (CRLF stays), or every CRLF to LF.
                0 => {
                    let mut out = Vec::with_capacity(text.len() + text.len() / 16);
                    for (i, &b) in text.iter().enumerate() {
                        if b == b'\n' && (i == 0 || text[i - 1] != b'\r') {
                            out.push(b'\r');
                        }
                        out.push(b);
                    }
                    out
                }
                1 => {
                    let mut out = text.clone();
                    let mut i = 0;
                    while i + 1 < out.len() {
                        if out[i] == b'\r' && out[i + 1] == b'\n' {
                            out.remove(i);
                        }
                        i += 1;
                    }
                    out
                }
                // One line's ending toggled.
                _ => {
                    let mut out = text;
                    let newlines = memchr_all(&out, b'\n');
                    if let Some(&i) = (!newlines.is_empty()).then(|| rng.pick(&newlines)) {
                        if i > 0 && out[i - 1] == b'\r' {
                            out.remove(i - 1);
                        } else {
                            out.insert(i, b'\r');
                        }
                    }
                    out
                }
            };
        }
        "nesting" => {
            let opener = rng.pick(OPENERS).as_bytes();
            let n = rng.small_len(256);
            let at = position(rng, bytes);
            let mut burst = opener.repeat(n);
            if rng.chance(2) {
                burst.extend_from_slice(b"1");
                let closer: Vec<u8> = opener
                    .iter()
                    .rev()
                    .filter_map(|c| match c {
                        b'[' => Some(b']'),
                        b'{' => Some(b'}'),
                        b'(' => Some(b')'),
                        _ => None,
                    })
                    .collect();
                burst.extend(closer.repeat(n));
            }
            bytes.splice(at..at, burst);
        }
        "line" => {
            let ls = lines(bytes);
            if !ls.is_empty() {
                let a = ls[rng.below(ls.len())].clone();
                match rng.below(4) {
                    0 => {
                        bytes.drain(a);
                    }
                    1 => {
                        let copy = bytes[a.clone()].to_vec();
                        bytes.splice(a.start..a.start, copy);
                    }
                    _ => {
                        // Move the line elsewhere.
                        let copy: Vec<u8> = bytes.drain(a).collect();
                        let starts = line_starts(bytes);
                        let at = *rng.pick(&starts);
                        bytes.splice(at..at, copy);
                    }
                }
            }
        }
        "whitespace" => {
            let run: Vec<u8> = (0..rng.small_len(40)).map(|_| *rng.pick(b"  \t")).collect();
            if rng.chance(2) {
                // Replace an existing run of blanks.
                let blanks: Vec<usize> = (0..len)
                    .filter(|&i| bytes[i] == b' ' || bytes[i] == b'\t')
                    .collect();
                if let Some(&i) = (!blanks.is_empty()).then(|| rng.pick(&blanks)) {
                    let end = (i..len)
                        .find(|&j| bytes[j] != b' ' && bytes[j] != b'\t')
                        .unwrap_or(len);
                    bytes.splice(i..end, run);
                }
            } else {
                let at = position(rng, bytes);
                bytes.splice(at..at, run);
            }
        }
        "replace-token" if len > 0 => {
            let r = rng.range(len);
            bytes.splice(r, rng.pick(TOKENS).as_bytes().iter().copied());
        }
        "long-line" => {
            let n = 60 * 1024 + rng.below(8 * 1024);
            let at = position(rng, bytes);
            let filler = *rng.pick(b"a \"#");
            bytes.splice(at..at, std::iter::repeat_n(filler, n));
        }
        _ => return "none",
    }
    MUTATORS[which]
}

// ---------------------------------------------------------------------------
// Minimizing and saving failures
// ---------------------------------------------------------------------------

/// Delta debugging: drop chunks of lines, then of bytes, while the input still
/// fails with the same class.
fn minimize(runner: &mut Runner, input: &Input, bytes: &[u8], class: &str) -> Vec<u8> {
    let started = Instant::now();
    let budget = if class == "hang" { 25 } else { 20_000 };
    let mut tries = 0;
    let mut current = bytes.to_vec();
    for by_lines in [true, false] {
        let units = |b: &[u8]| -> Vec<Range<usize>> {
            if by_lines {
                lines(b)
            } else {
                (0..b.len()).map(|i| i..i + 1).collect()
            }
        };
        let mut chunk = units(&current).len().div_ceil(2).max(1);
        loop {
            let mut progress = false;
            let mut i = 0;
            loop {
                let us = units(&current);
                if i >= us.len() || tries >= budget || started.elapsed() > Duration::from_secs(120)
                {
                    break;
                }
                let end = (i + chunk).min(us.len());
                let mut candidate = current.clone();
                candidate.drain(us[i].start..us[end - 1].end);
                tries += 1;
                if matches!(runner.run(input, &candidate), Err(f) if f.class == class) {
                    current = candidate;
                    progress = true;
                } else {
                    i += chunk;
                }
            }
            if tries >= budget || started.elapsed() > Duration::from_secs(120) {
                break;
            }
            if !progress {
                if chunk == 1 {
                    break;
                }
                chunk = chunk.div_ceil(2);
            }
        }
    }
    current
}

fn save_regression(input: &Input, bytes: &[u8], class: &str) -> PathBuf {
    let dir = regressions_dir();
    std::fs::create_dir_all(&dir).expect("create fixtures/fuzz-regressions");
    let path = dir.join(format!(
        "{class}-{:08x}.{}",
        fnv(bytes) as u32,
        ext_of(&input.name)
    ));
    std::fs::write(&path, bytes).expect("save regression");
    path
}

fn show(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.len() > 2000 {
        format!(
            "{:?}... ({} bytes)",
            &text[..text.floor_char_boundary(2000)],
            bytes.len()
        )
    } else {
        format!("{text:?}")
    }
}

// ---------------------------------------------------------------------------
// The reference checker on rewritten mutants
// ---------------------------------------------------------------------------

/// Runs `hclcheck <args> FILES` in chunks; returns the file names it reports
/// (`FILE:LINE:COL: ...` for parse errors, `FILE` for fmt -check).
fn hclcheck_names(checker: &Path, args: &[&str], files: &[PathBuf]) -> BTreeSet<PathBuf> {
    let mut named = BTreeSet::new();
    for chunk in files.chunks(400) {
        let (_, text) = common::run_hclcheck(checker, args, chunk);
        for line in text.lines() {
            if let Some(f) = chunk.iter().find(|f| {
                let f = f.to_str().unwrap();
                line == f
                    || line
                        .strip_prefix(f)
                        .is_some_and(|rest| rest.starts_with(':'))
            }) {
                named.insert(f.clone());
            }
        }
    }
    named
}

/// Invariants 2 and 3 against HashiCorp's HCL (`hclcheck`): for each input HCL
/// parses, every rewrite parses too; for each HCL input that is `hclwrite`-clean
/// (`terraform fmt`-clean), every rewrite is. Returns (index, class, detail).
fn hcl_oracle(checker: &Path, inputs: &[Input]) -> Vec<(usize, &'static str, String)> {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let is_json = |i: &Input| i.kind == FileKind::TerraformJson;
    let files: Vec<PathBuf> = inputs
        .iter()
        .enumerate()
        .map(|(i, input)| {
            let path = dir.join(format!("{i}-in.{}", ext_of(&input.name)));
            std::fs::write(&path, &input.bytes).unwrap();
            path
        })
        .collect();
    let rejected = hclcheck_names(checker, &["parse"], &files);
    let hcl: Vec<PathBuf> = files
        .iter()
        .zip(inputs)
        .filter(|(f, input)| !is_json(input) && !rejected.contains(*f))
        .map(|(f, _)| f.clone())
        .collect();
    let unclean = hclcheck_names(checker, &["fmt", "-check"], &hcl);
    // (input index, output path, whether the input was fmt-clean)
    let mut outputs: Vec<(usize, PathBuf, bool)> = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        if rejected.contains(&files[i]) {
            continue;
        }
        let clean = !is_json(input) && !unclean.contains(&files[i]);
        for strategy in STRATEGIES {
            if let Some(FileOutcome::Planned(file, _)) = tflock::plan_bytes(
                candidate(&input.name, input.kind),
                input.bytes.clone(),
                strategy,
            ) && file.new_text != file.original
            {
                let path = dir.join(format!("{i}-{strategy:?}.{}", ext_of(&input.name)));
                std::fs::write(&path, &file.new_text).unwrap();
                outputs.push((i, path, clean));
            }
        }
    }
    let all: Vec<PathBuf> = outputs.iter().map(|(_, p, _)| p.clone()).collect();
    let unparsed = hclcheck_names(checker, &["parse"], &all);
    let clean: Vec<PathBuf> = outputs
        .iter()
        .filter(|(_, p, c)| *c && !unparsed.contains(p))
        .map(|(_, p, _)| p.clone())
        .collect();
    let unformatted = hclcheck_names(checker, &["fmt", "-check"], &clean);
    let mut found = Vec::new();
    for (i, path, _) in &outputs {
        let name = path.file_name().unwrap().to_string_lossy();
        let text = std::fs::read_to_string(path).unwrap();
        if unparsed.contains(path) {
            let (_, why) = common::run_hclcheck(checker, &["parse"], std::slice::from_ref(path));
            found.push((
                *i,
                "hcl-parse",
                format!("{name}: HCL cannot parse the rewrite: {why}\n  output: {text:?}"),
            ));
        } else if unformatted.contains(path) {
            let formatted = std::process::Command::new(checker)
                .arg("fmt")
                .arg(path)
                .output()
                .unwrap();
            found.push((
                *i,
                "fmt",
                format!(
                    "{name}: the input was fmt-clean, the rewrite is not\n  output:            {text:?}\n  hclwrite.Format:   {:?}",
                    String::from_utf8_lossy(&formatted.stdout)
                ),
            ));
        }
    }
    found
}

/// Delta debugging for an oracle finding (each try runs the checker a few times).
fn minimize_oracle(checker: &Path, input: &Input, class: &str) -> Vec<u8> {
    let mut current = input.bytes.clone();
    let mut tries = 0;
    for by_lines in [true, false] {
        let units = |b: &[u8]| -> Vec<Range<usize>> {
            if by_lines {
                lines(b)
            } else {
                (0..b.len()).map(|i| i..i + 1).collect()
            }
        };
        let mut chunk = units(&current).len().div_ceil(2).max(1);
        loop {
            let mut progress = false;
            let mut i = 0;
            while i < units(&current).len() && tries < 600 {
                let us = units(&current);
                let end = (i + chunk).min(us.len());
                let mut candidate = current.clone();
                candidate.drain(us[i].start..us[end - 1].end);
                tries += 1;
                let probe = Input {
                    bytes: candidate.clone(),
                    ..input.clone()
                };
                if hcl_oracle(checker, std::slice::from_ref(&probe))
                    .iter()
                    .any(|(_, c, _)| *c == class)
                {
                    current = candidate;
                    progress = true;
                } else {
                    i += chunk;
                }
            }
            if tries >= 600 || (!progress && chunk == 1) {
                break;
            }
            if !progress {
                chunk = chunk.div_ceil(2);
            }
        }
    }
    current
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[derive(Default)]
struct Summary {
    executions: u64,
    stats: Stats,
    panics: u64,
    hangs: u64,
    property_failures: u64,
    /// Findings already saved as regressions (their replay test fails instead).
    known: u64,
}

/// A finding's signature: a panic by its location, others by class and strategy.
fn signature(input: &Input, f: &Finding) -> String {
    match f.class {
        "panic" => f.detail.split(": ").next().unwrap_or_default().to_string(),
        _ => format!(
            "{} {:?} {}",
            f.class,
            input.kind,
            f.detail.split(':').next().unwrap_or_default()
        ),
    }
}

#[test]
fn fuzz_rewriter() {
    let iterations = env_number("TFLOCK_FUZZ_ITERATIONS", CI_ITERATIONS);
    let seed = seed_from_env();
    let mut rng = Rng::new(seed);
    let started = Instant::now();
    let mut runner = Runner::new(TIME_LIMIT);
    let in_flight = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fuzz-in-flight");
    runner.in_flight = Some(in_flight.clone());

    let fixtures = fixture_seeds();
    let regressions = regression_inputs();
    let generated = generated_seeds(&mut rng, 40);
    eprintln!(
        "fuzz: seed {seed:#x} (TFLOCK_FUZZ_SEED), {iterations} iterations (TFLOCK_FUZZ_ITERATIONS); \
         {} fixture seeds, {} generated, {} regressions; input in flight: {}.*",
        fixtures.len(),
        generated.len(),
        regressions.len(),
        in_flight.display()
    );
    assert!(
        fixtures.len() >= 100,
        "too few fixture seeds ({})",
        fixtures.len()
    );

    // Known failures (saved regressions that still fail) are reported by
    // `replay_regressions`; here they only keep their signatures from being saved twice.
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut summary = Summary::default();
    let mut corpus: Vec<Input> = Vec::new();
    for input in fixtures.iter().chain(&generated).chain(&regressions) {
        summary.executions += 1;
        match runner.run(input, &input.bytes) {
            Ok(stats) => {
                summary.stats += stats;
                corpus.push(input.clone());
            }
            Err(f) => {
                if input.origin.starts_with("fixtures/fuzz-regressions") {
                    seen.insert(signature(input, &f));
                } else {
                    panic!(
                        "seed {} fails unmutated: {}: {}",
                        input.origin, f.class, f.detail
                    );
                }
            }
        }
    }
    let checker = common::hclcheck("fuzz::fuzz_rewriter (HCL oracle on mutants)");
    if let Some(checker) = &checker {
        for (i, class, _) in hcl_oracle(checker, &regressions) {
            seen.insert(format!("{class} {:?}", regressions[i].kind));
        }
    }
    let base_corpus = corpus.len();
    // Rewritten mutants checked with the reference HCL checker at the end.
    let oracle_cap = (iterations as usize / 5).clamp(200, 20_000);
    let mut oracle_sample: Vec<Input> = Vec::new();
    let mut changed_seen = 0usize;
    let mut slowest: (Duration, Vec<u8>) = (Duration::ZERO, Vec::new());
    let mut new_failures = Vec::new();
    let mut mutations: BTreeMap<&str, u64> = BTreeMap::new();
    for i in 0..iterations {
        let base = rng.pick(&corpus).clone();
        let mut bytes = base.bytes.clone();
        for _ in 0..rng.small_len(6) {
            *mutations
                .entry(mutate_once(&mut rng, &mut bytes, &corpus))
                .or_default() += 1;
        }
        bytes.truncate(MAX_INPUT);
        summary.executions += 1;
        let t = Instant::now();
        let result = runner.run(&base, &bytes);
        if t.elapsed() > slowest.0 {
            slowest = (t.elapsed(), bytes.clone());
        }
        match result {
            Ok(stats) => {
                summary.stats += stats;
                if stats.changed > 0 {
                    // A uniform sample of the rewritten mutants for the HCL oracle.
                    changed_seen += 1;
                    let mutant = Input {
                        origin: format!("mutant #{i}"),
                        bytes: bytes.clone(),
                        ..base.clone()
                    };
                    if oracle_sample.len() < oracle_cap {
                        oracle_sample.push(mutant);
                    } else if rng.below(changed_seen) < oracle_cap {
                        let slot = rng.below(oracle_cap);
                        oracle_sample[slot] = mutant;
                    }
                }
                // Inputs that still plan a change are the most interesting to mutate further.
                if stats.changed > 0 && bytes.len() < 16 * 1024 && rng.chance(8) {
                    let input = Input {
                        origin: format!("mutant #{i}"),
                        bytes,
                        ..base
                    };
                    if corpus.len() < base_corpus + 2_000 {
                        corpus.push(input);
                    } else {
                        let slot = base_corpus + rng.below(2_000);
                        corpus[slot] = input;
                    }
                }
            }
            Err(f) => {
                match f.class {
                    "panic" | "crash" => summary.panics += 1,
                    "hang" => summary.hangs += 1,
                    _ => summary.property_failures += 1,
                }
                let sig = signature(&base, &f);
                if !seen.insert(sig) {
                    summary.known += 1;
                    continue;
                }
                eprintln!(
                    "fuzz: iteration {i} (seed {seed:#x}), from {}: {}: {}",
                    base.origin, f.class, f.detail
                );
                let small = minimize(&mut runner, &base, &bytes, f.class);
                let detail = match runner.run(&base, &small) {
                    Err(g) => g.detail,
                    Ok(_) => "(minimized input passes?)".into(),
                };
                let path = save_regression(&base, &small, f.class);
                let report = format!(
                    "{}: {} ({} bytes, minimized from {}):\n  input: {}\n  {}",
                    path.strip_prefix(repo()).unwrap_or(&path).display(),
                    f.class,
                    small.len(),
                    bytes.len(),
                    show(&small),
                    detail
                );
                eprintln!("fuzz: saved {report}");
                new_failures.push(report);
                if new_failures.len() >= 20 {
                    eprintln!("fuzz: 20 distinct failures; stopping early");
                    break;
                }
            }
        }
    }
    let mut oracle_line = "HCL oracle skipped (no hclcheck)".to_string();
    if let Some(checker) = &checker {
        let checker = checker.as_path();
        let t = Instant::now();
        let found = hcl_oracle(checker, &oracle_sample);
        let mut classes = BTreeSet::new();
        for (i, class, detail) in &found {
            summary.property_failures += 1;
            let input = &oracle_sample[*i];
            if !seen.insert(format!("{class} {:?}", input.kind)) || !classes.insert(*class) {
                summary.known += 1;
                continue;
            }
            eprintln!("fuzz: HCL oracle, from {}: {class}: {detail}", input.origin);
            let small = minimize_oracle(checker, input, class);
            let probe = Input {
                bytes: small.clone(),
                ..input.clone()
            };
            let detail = hcl_oracle(checker, std::slice::from_ref(&probe))
                .into_iter()
                .find(|(_, c, _)| c == class)
                .map_or_else(|| detail.clone(), |(_, _, d)| d);
            let path = save_regression(input, &small, class);
            let report = format!(
                "{}: {class} ({} bytes, minimized from {}):\n  input: {}\n  {detail}",
                path.strip_prefix(repo()).unwrap_or(&path).display(),
                small.len(),
                input.bytes.len(),
                show(&small),
            );
            eprintln!("fuzz: saved {report}");
            new_failures.push(report);
        }
        oracle_line = format!(
            "HCL oracle: {} rewritten mutants checked in {:.1}s, {} failures",
            oracle_sample.len(),
            t.elapsed().as_secs_f64(),
            found.len()
        );
    }
    let elapsed = started.elapsed();
    eprintln!("fuzz: mutations applied: {mutations:?}");
    eprintln!("fuzz: {oracle_line}");
    eprintln!(
        "fuzz: slowest input (all checks) {:?}: {}",
        slowest.0,
        if slowest.1.len() <= 400 {
            show(&slowest.1)
        } else {
            format!("{} bytes", slowest.1.len())
        }
    );
    eprintln!(
        "fuzz summary: {} executions in {:.1}s ({:.0}/s), seed {seed:#x}; plans with a change: {}, \
         without: {}, errors (parse problems): {}, no backend: {} ({} decided by the skim); \
         panics: {}, hangs: {}, \
         property failures: {} ({} of already-known kinds); corpus {} (+{} mutants); \
         slowest plan {:?} ({} bytes; limit per input {:?})",
        summary.executions,
        elapsed.as_secs_f64(),
        summary.executions as f64 / elapsed.as_secs_f64(),
        summary.stats.changed,
        summary.stats.unchanged,
        summary.stats.errors,
        summary.stats.irrelevant,
        summary.stats.skimmed,
        summary.panics,
        summary.hangs,
        summary.property_failures,
        summary.known,
        corpus.len(),
        corpus.len() - base_corpus,
        summary.stats.slowest.0,
        summary.stats.slowest.1,
        TIME_LIMIT,
    );
    for ext in ["tf", "tofu", "tf.json", "tofu.json", "tfbackend", "hcl"] {
        let _ = std::fs::remove_file(in_flight.with_extension(ext));
    }
    assert!(
        new_failures.is_empty(),
        "the fuzzer found {} new failing input(s), saved under fixtures/fuzz-regressions/:\n\n{}",
        new_failures.len(),
        new_failures.join("\n\n")
    );
}

/// Every saved crasher, replayed: each must now pass every property.
#[test]
fn replay_regressions() {
    let mut runner = Runner::new(TIME_LIMIT);
    let inputs = regression_inputs();
    let failures: Vec<String> = inputs
        .iter()
        .filter_map(|input| {
            runner.run(input, &input.bytes).err().map(|f| {
                format!(
                    "{}: {}: {}\n  input: {}",
                    input.origin,
                    f.class,
                    f.detail,
                    show(&input.bytes)
                )
            })
        })
        .collect();
    let mut failures = failures;
    if let Some(checker) = common::hclcheck("fuzz::replay_regressions (HCL oracle)") {
        for (i, class, detail) in hcl_oracle(&checker, &inputs) {
            failures.push(format!(
                "{}: {class}: {detail}\n  input: {}",
                inputs[i].origin,
                show(&inputs[i].bytes)
            ));
        }
    }
    eprintln!(
        "replayed {} saved fuzz regressions, {} failing",
        inputs.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The file name each coverage-guided target plans its input as (`fuzz/fuzz_targets/`).
const FUZZ_TARGETS: [(&str, &str); 5] = [
    ("hcl", "main.tf"),
    ("json", "main.tf.json"),
    ("tfbackend", "s3.tfbackend"),
    ("terragrunt", "terragrunt.hcl"),
    ("heredoc", "terragrunt.hcl"),
];

/// The committed (minimized) corpus of the rewriter targets, each file as its
/// target plans it; heredoc contents are also planned alone, as a `.tf`.
fn fuzz_corpus_inputs() -> Vec<Input> {
    let mut inputs = Vec::new();
    for (target, name) in FUZZ_TARGETS {
        let mut paths = Vec::new();
        files_below(&repo().join("fuzz/corpus").join(target), &mut paths);
        paths.sort();
        assert!(!paths.is_empty(), "fuzz/corpus/{target} is empty");
        for path in paths {
            let raw = std::fs::read(&path).unwrap();
            let raw = raw[..raw.len().min(MAX_FUZZ_INPUT)].to_vec();
            let origin = format!(
                "fuzz/corpus/{target}/{}",
                path.file_name().unwrap().display()
            );
            let input = |name: &str, bytes: Vec<u8>| Input {
                origin: origin.clone(),
                name: name.to_string(),
                kind: kind_of(name).unwrap(),
                bytes,
            };
            if target == "heredoc" {
                inputs.push(input("contents.tf", raw.clone()));
                inputs.push(input(name, heredoc_unit(&raw)));
            } else {
                inputs.push(input(name, raw));
            }
        }
    }
    inputs
}

/// The fuzzer's corpus replayed (plain `cargo test`, no cargo-fuzz needed): every
/// property on every input, the evaluator's checks on its corpus, and the
/// reference HCL checker: each rewrite of an input HCL parses must parse, each
/// rewrite of a `terraform fmt`-clean input must be fmt-clean.
#[test]
fn replay_fuzz_corpus() {
    let t = Instant::now();
    let mut runner = Runner::new(TIME_LIMIT);
    let inputs = fuzz_corpus_inputs();
    let mut failures: Vec<String> = inputs
        .iter()
        .filter_map(|input| {
            let f = runner.run(input, &input.bytes).err()?;
            Some(format!(
                "{} as {}: {}: {}\n  input: {}",
                input.origin,
                input.name,
                f.class,
                f.detail,
                show(&input.bytes)
            ))
        })
        .collect();
    let mut eval_paths = Vec::new();
    files_below(&repo().join("fuzz/corpus/eval"), &mut eval_paths);
    assert!(!eval_paths.is_empty(), "fuzz/corpus/eval is empty");
    let tree = tempfile::tempdir().unwrap();
    let mut evaluated = 0;
    for path in &eval_paths {
        let bytes = std::fs::read(path).unwrap();
        match check_evaluator(tree.path(), &bytes) {
            Ok(n) => evaluated += n,
            Err(f) => failures.push(format!(
                "{}: {}: {}\n  input: {}",
                path.display(),
                f.class,
                f.detail,
                show(&bytes)
            )),
        }
    }
    let mut oracle = "no HCL checker";
    if let Some(checker) = common::hclcheck("fuzz::replay_fuzz_corpus (HCL oracle)") {
        oracle = "HCL checker";
        for (i, class, detail) in hcl_oracle(&checker, &inputs) {
            failures.push(format!(
                "{} as {}: {class}: {detail}\n  input: {}",
                inputs[i].origin,
                inputs[i].name,
                show(&inputs[i].bytes)
            ));
        }
    }
    eprintln!(
        "replayed the fuzz corpus: {} rewriter inputs, {} evaluator inputs ({evaluated} settings evaluated), {oracle}, {} failing, in {:?}",
        inputs.len(),
        eval_paths.len(),
        failures.len(),
        t.elapsed()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The generator's own files pass every property (a cheap sanity check on it).
#[test]
fn generated_files_pass() {
    let mut rng = Rng::new(DEFAULT_SEED ^ 1);
    let mut runner = Runner::new(TIME_LIMIT);
    let (mut changed, mut skimmed) = (0, 0);
    for input in generated_seeds(&mut rng, 300) {
        match runner.run(&input, &input.bytes) {
            Ok(stats) => {
                changed += stats.changed;
                skimmed += stats.skimmed;
            }
            Err(f) => panic!(
                "{}: {}: {}\n{}",
                input.name,
                f.class,
                f.detail,
                show(&input.bytes)
            ),
        }
    }
    assert!(
        changed >= 300,
        "only {changed} of 600 plans changed anything"
    );
    // The files that only read a state are decided by the skim, and
    // `check_skim` compared each with the file parsed whole.
    assert!(
        skimmed >= 40,
        "the skim decided only {skimmed} of 600 plans"
    );
}

/// `hclwrite.Format` of `text` (through a file in `dir` named `name`).
fn hclwrite_format(checker: &Path, dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    let out = std::process::Command::new(checker)
        .arg("fmt")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "hclcheck cannot format a generated file:\n{text}\n{}",
        common::stderr(&out)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The inside of a Terragrunt `generate` heredoc (`<<EOF` ... `EOF`), lines included.
fn heredoc_inner(text: &str) -> Option<Range<usize>> {
    let start = text.find("<<EOF\n")? + "<<EOF\n".len();
    let end = start + text[start..].find("\nEOF\n")? + 1;
    Some(start..end)
}

/// For `scripts/fuzz.sh`: with `TFLOCK_FUZZ_ORACLE_DIR` set, writes generated
/// inputs formatted by `hclwrite` (so `terraform fmt`-clean; JSON as generated)
/// to `<dir>/in/NNNNN.<ext>` and their rewrites to `<dir>/out/NNNNN-<strategy>.<ext>`,
/// until `TFLOCK_FUZZ_ORACLE_FILES` (default 2000) outputs are written. The
/// contents of a Terragrunt `generate` heredoc are formatted on their own too, and
/// also written alone (`NNNNN_heredoc.tf`, `NNNNN_heredoc-<strategy>.tf`), since
/// the formatter leaves a heredoc's text alone. The script then checks them with
/// the reference HCL checker.
#[test]
fn oracle_sample() {
    let Some(dir) = std::env::var_os("TFLOCK_FUZZ_ORACLE_DIR").map(PathBuf::from) else {
        return;
    };
    let want = env_number("TFLOCK_FUZZ_ORACLE_FILES", 2000);
    let checker = common::hclcheck("fuzz::oracle_sample").expect("the oracle needs hclcheck");
    let seed = seed_from_env();
    let mut rng = Rng::new(seed);
    let (raw, ins, outs) = (dir.join("raw"), dir.join("in"), dir.join("out"));
    for d in [&raw, &ins, &outs] {
        std::fs::create_dir_all(d).unwrap();
    }
    let (mut written, mut inputs, mut failures) = (0u64, 0u64, Vec::new());
    while written < want {
        let (name, mut text) = gen_file(&mut rng);
        let ext = ext_of(&name);
        let stem = format!("{inputs:05}");
        inputs += 1;
        let heredoc = ext == "hcl" && heredoc_inner(&text).is_some();
        if !ext.ends_with("json") {
            if let Some(inner) = heredoc_inner(&text) {
                let formatted = hclwrite_format(
                    &checker,
                    &raw,
                    &format!("{stem}_heredoc.tf"),
                    &text[inner.clone()],
                );
                std::fs::write(ins.join(format!("{stem}_heredoc.tf")), &formatted).unwrap();
                text.replace_range(inner, &formatted);
            }
            text = hclwrite_format(&checker, &raw, &format!("{stem}.{ext}"), &text);
        }
        std::fs::write(ins.join(format!("{stem}.{ext}")), &text).unwrap();
        for strategy in STRATEGIES {
            let tag = format!("{strategy:?}").to_lowercase();
            match tflock::plan_bytes(
                candidate(&name, kind_of(&name).unwrap()),
                text.clone().into_bytes(),
                strategy,
            ) {
                Some(FileOutcome::Planned(file, _)) if file.new_text != file.original => {
                    let new = &file.new_text;
                    std::fs::write(outs.join(format!("{stem}-{tag}.{ext}")), new).unwrap();
                    if heredoc {
                        let inner = heredoc_inner(new).expect("the heredoc survives");
                        std::fs::write(outs.join(format!("{stem}_heredoc-{tag}.tf")), &new[inner])
                            .unwrap();
                    }
                    written += 1;
                }
                Some(FileOutcome::Planned(..)) => {}
                Some(FileOutcome::Failed(p, _)) => {
                    failures.push(format!("{stem}.{ext} {tag}: {p}"))
                }
                None => failures.push(format!("{stem}.{ext} {tag}: no backend found")),
            }
        }
    }
    eprintln!(
        "oracle sample: seed {seed:#x}, {inputs} generated inputs, {written} rewritten outputs in {}",
        dir.display()
    );
    assert!(
        failures.is_empty(),
        "planning failed:\n{}",
        failures.join("\n")
    );
}

/// `TFLOCK_FUZZ_EXPLAIN=<file> cargo test --test fuzz explain -- --ignored --nocapture`
/// prints what each strategy makes of one file (e.g. a saved regression).
#[test]
#[ignore]
fn explain() {
    let path =
        PathBuf::from(std::env::var("TFLOCK_FUZZ_EXPLAIN").expect("TFLOCK_FUZZ_EXPLAIN=<file>"));
    let name = path.file_name().unwrap().to_str().unwrap().to_string();
    let kind = kind_of(&name).expect("a .tf, .tofu, .tf.json, .tfbackend or .hcl file");
    let bytes = std::fs::read(&path).unwrap();
    eprintln!("input ({kind:?}): {}", show(&bytes));
    for strategy in STRATEGIES {
        let t = Instant::now();
        let outcome = tflock::plan_bytes(candidate(&name, kind), bytes.clone(), strategy);
        eprintln!("{strategy:?}: planned in {:?}", t.elapsed());
        match outcome {
            Some(FileOutcome::Planned(file, backends)) => {
                let actions: Vec<Action> = backends.iter().map(|b| b.action).collect();
                eprintln!(
                    "{strategy:?}: {actions:?}, edits {:?}\n  new text: {}",
                    file.edits,
                    show(file.new_text.as_bytes())
                );
            }
            Some(FileOutcome::Failed(p, _)) => eprintln!("{strategy:?}: problem {p}"),
            None => eprintln!("{strategy:?}: no backend"),
        }
    }
    let mut runner = Runner::new(TIME_LIMIT);
    let input = Input {
        origin: name.clone(),
        name,
        kind,
        bytes: bytes.clone(),
    };
    eprintln!("properties: {:?}", runner.run(&input, &bytes));
}
