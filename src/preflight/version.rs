//! Terraform / OpenTofu version reasoning for the preflight (no I/O).
//!
//! The S3 lockfile (`use_lockfile`) exists from Terraform 1.10 (experimental there,
//! GA in 1.11) and OpenTofu 1.10. Before tflock rewrites a backend it must know
//! whether the module can still be run by an older binary. This module answers that
//! from text alone:
//!
//! * [`Version`]: `MAJOR.MINOR.PATCH[-PRE][+BUILD]`, parsed leniently (`1.10`,
//!   `v1.9.8`, `1.10.0-rc1`, `1.10.0rc1`); build metadata is ignored, as
//!   hashicorp/go-version ignores it when comparing.
//! * [`Constraint`]: Terraform's `required_version` syntax (also OpenTofu's and
//!   Terragrunt's `terraform_version_constraint`, which all use hashicorp/go-version):
//!   comma-separated clauses `=`, `!=`, `>`, `>=`, `<`, `<=`, `~>`, a bare version
//!   meaning `=`, whitespace around operators and commas.
//! * [`Constraint::admits_below`]: exact "could a version older than the floor run
//!   this?" with a witness.
//! * [`bump`]: the minimal, format-preserving edit of a `required_version` string
//!   that drops everything below the floor, or a refusal for a human.
//! * [`parse_version_file`]: `.terraform-version` (tfenv), `.opentofu-version`
//!   (tofuenv) and `.tool-versions` (asdf / mise).
//!
//! # Pre-release semantics (go-version, reproduced exactly)
//!
//! Per clause, as in hashicorp/go-version's `Constraint.Check`:
//! * `>`, `>=`, `<`, `<=`, `~>`: a pre-release version only satisfies the clause if
//!   the clause's version is itself a pre-release of the same `MAJOR.MINOR.PATCH`
//!   (`>= 1.10.0-rc1` admits `1.10.0-rc2` but not `1.11.0-alpha1`; `>= 1.9` admits
//!   no pre-release at all). `~>` with a pre-release admits only pre-releases
//!   (`~> 1.10.0-rc1` does not admit `1.10.0`).
//! * `=` is plain equality; `!=` is plain inequality with no pre-release check, so a
//!   constraint made only of `!=` clauses admits pre-releases (go-version quirk,
//!   kept for fidelity).
//!
//! Consequently `>= 1.10.0-alpha1` **does** admit something below 1.10.0: the
//! pre-releases `1.10.0-alpha1`, `1.10.0-beta1`, … sort below `1.10.0`, and
//! [`Constraint::admits_below`] returns `1.10.0-alpha1` as the witness. This is the
//! consistent reading of go-version (which Terragrunt applies as-is). Note that
//! Terraform and OpenTofu themselves reject pre-release versions inside
//! `required_version` ("Prerelease version constraints are not supported").
//! [`bump`] rewrites such a bound to the release floor (`>= 1.10.0-alpha1` →
//! `>= 1.10.0`).
//!
//! Pre-release tags are ordered by SemVer 2.0 rules (dot-separated identifiers,
//! numeric < alphanumeric, a shorter prefix sorts first). go-version's own order
//! differs only for tags with different numbers of dot-separated parts where the
//! longer one continues with a non-numeric part (go-version's order is not even
//! transitive there); every Terraform/OpenTofu tag (`alpha20241009`, `beta1`,
//! `rc1`) compares identically.
//!
//! Version numbers are `u64`; go-version uses `int64`, so nothing real is lost.

use std::cmp::Ordering;
use std::fmt;

use thiserror::Error;

// ---------------------------------------------------------------------------
// Version
// ---------------------------------------------------------------------------

/// A Terraform / OpenTofu version. Ordered by SemVer precedence:
/// `1.10.0-alpha20241009 < 1.10.0-rc1 < 1.10.0 < 1.10.1`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    /// Pre-release tag without the leading `-` (`rc1`, `alpha20241009`);
    /// `None` for a release.
    pub pre: Option<String>,
}

/// A version string that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("malformed version {text:?}: {reason}")]
pub struct VersionError {
    pub text: String,
    pub reason: &'static str,
}

impl Version {
    /// A release version.
    pub const fn new(major: u64, minor: u64, patch: u64) -> Self {
        Version {
            major,
            minor,
            patch,
            pre: None,
        }
    }

    /// The same `MAJOR.MINOR.PATCH` with a pre-release tag (`pre` without `-`).
    pub fn with_pre(&self, pre: &str) -> Self {
        Version {
            pre: Some(pre.to_string()),
            ..self.core()
        }
    }

    /// `MAJOR.MINOR.PATCH` without the pre-release.
    pub fn core(&self) -> Version {
        Version::new(self.major, self.minor, self.patch)
    }

    /// The smallest version greater than `self` among versions of the same kind:
    /// the next patch for a release, `<pre>.0` for a pre-release (SemVer order has
    /// nothing between `rc1` and `rc1.0`). `None` on numeric overflow.
    fn successor(&self) -> Option<Version> {
        match &self.pre {
            None => Some(Version::new(
                self.major,
                self.minor,
                self.patch.checked_add(1)?,
            )),
            Some(p) => Some(self.with_pre(&format!("{p}.0"))),
        }
    }

    /// Smallest release `>= self`.
    fn ceil_release(&self) -> Version {
        self.core()
    }

    /// The fewest numeric parts needed to write this version exactly.
    fn needed_precision(&self) -> u8 {
        if self.patch != 0 || self.pre.is_some() {
            3
        } else if self.minor != 0 {
            2
        } else {
            1
        }
    }

    /// Write with `precision` numeric parts (raised to what the value needs).
    fn write(&self, precision: u8, v_prefix: bool) -> String {
        let precision = precision.max(self.needed_precision());
        let mut s = String::new();
        if v_prefix {
            s.push('v');
        }
        s.push_str(&self.major.to_string());
        if precision >= 2 {
            s.push_str(&format!(".{}", self.minor));
        }
        if precision >= 3 {
            s.push_str(&format!(".{}", self.patch));
        }
        if let Some(p) = &self.pre {
            s.push('-');
            s.push_str(p);
        }
        s
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if let Some(p) = &self.pre {
            write!(f, "-{p}")?;
        }
        Ok(())
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (&self.pre, &other.pre) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(a), Some(b)) => cmp_pre(a, b),
            })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

fn cmp_pre(a: &str, b: &str) -> Ordering {
    let mut ai = a.split('.');
    let mut bi = b.split('.');
    loop {
        match (ai.next(), bi.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let o = cmp_ident(x, y);
                if o != Ordering::Equal {
                    return o;
                }
            }
        }
    }
}

/// SemVer identifier order; numeric identifiers by value (any length), ties on
/// value (leading zeros) broken by the text so the order stays total and agrees
/// with equality.
fn cmp_ident(x: &str, y: &str) -> Ordering {
    let numeric = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    match (numeric(x), numeric(y)) {
        (true, true) => {
            let xt = x.trim_start_matches('0');
            let yt = y.trim_start_matches('0');
            xt.len()
                .cmp(&yt.len())
                .then_with(|| xt.cmp(yt))
                .then_with(|| x.cmp(y))
        }
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => x.cmp(y),
    }
}

#[derive(Debug)]
struct ParsedVersion {
    version: Version,
    /// Numeric parts written (1–3).
    precision: u8,
    v_prefix: bool,
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '~'
}

fn valid_dotted(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|part| !part.is_empty() && part.chars().all(is_ident_char))
}

/// Parse leniently: optional `v`, one to three numeric parts (missing ones are
/// 0), optional pre-release (`-rc1`, or `rc1` directly after the numbers as
/// go-version allows), optional `+build` (ignored).
fn parse_version(text: &str) -> Result<ParsedVersion, VersionError> {
    let err = |reason| VersionError {
        text: text.to_string(),
        reason,
    };
    if text.is_empty() {
        return Err(err("empty"));
    }
    let (mut rest, v_prefix) = match text.strip_prefix('v') {
        Some(r) => (r, true),
        None => (text, false),
    };
    let mut parts: Vec<u64> = Vec::with_capacity(3);
    loop {
        let n = rest.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return Err(err(if parts.is_empty() {
                "expected a number"
            } else {
                "expected a number after '.'"
            }));
        }
        let value = rest[..n]
            .parse::<u64>()
            .map_err(|_| err("number too large"))?;
        parts.push(value);
        rest = &rest[n..];
        match rest.strip_prefix('.') {
            Some(r) if parts.len() < 3 => rest = r,
            Some(_) => return Err(err("more than three numeric parts")),
            None => break,
        }
    }
    let (pre_part, build) = match rest.find('+') {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let pre = if pre_part.is_empty() {
        None
    } else {
        let tag = match pre_part.strip_prefix('-') {
            Some(t) => t,
            // go-version accepts `1.10.0rc1`: a tag starting with a letter needs no `-`.
            None if pre_part.starts_with(|c: char| c.is_ascii_alphabetic() || c == '~') => pre_part,
            None => return Err(err("unexpected text after the version number")),
        };
        if !valid_dotted(tag) {
            return Err(err(
                "pre-release must be dot-separated [0-9A-Za-z-~] identifiers",
            ));
        }
        Some(tag.to_string())
    };
    if let Some(b) = build
        && !valid_dotted(b)
    {
        return Err(err(
            "build metadata must be dot-separated [0-9A-Za-z-~] identifiers",
        ));
    }
    let precision = parts.len() as u8;
    parts.resize(3, 0);
    Ok(ParsedVersion {
        version: Version {
            major: parts[0],
            minor: parts[1],
            patch: parts[2],
            pre,
        },
        precision,
        v_prefix,
    })
}

// ---------------------------------------------------------------------------
// Constraint
// ---------------------------------------------------------------------------

/// A constraint operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `=` or a bare version.
    Eq,
    /// `!=`
    Ne,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `~>`: `~> 1.5` = `>= 1.5, < 2.0`; `~> 1.5.2` = `>= 1.5.2, < 1.6.0`;
    /// `~> 1` = `>= 1` (go-version: only the right-most written part may grow).
    Pessimistic,
}

impl Op {
    /// Longest operator at the start of `s`, with its length.
    fn lex(s: &str) -> Option<(Op, usize)> {
        const OPS: [(&str, Op); 7] = [
            ("!=", Op::Ne),
            (">=", Op::Ge),
            ("<=", Op::Le),
            ("~>", Op::Pessimistic),
            ("=", Op::Eq),
            (">", Op::Gt),
            ("<", Op::Lt),
        ];
        OPS.iter()
            .find(|(t, _)| s.starts_with(t))
            .map(|(t, op)| (*op, t.len()))
    }
}

/// One comma-separated clause of a constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    pub op: Op,
    pub version: Version,
    /// Numeric parts written (1–3); `~>` depends on it.
    pub precision: u8,
    /// The clause as written, trimmed (`>= 1.5`, `~>1.9.0`).
    pub text: String,
}

impl Clause {
    /// go-version's `Constraint.Check` for this clause.
    pub fn satisfied_by(&self, v: &Version) -> bool {
        let c = &self.version;
        match self.op {
            Op::Eq => v == c,
            Op::Ne => v != c,
            Op::Gt => prerelease_check(v, c) && v > c,
            Op::Ge => prerelease_check(v, c) && v >= c,
            Op::Lt => prerelease_check(v, c) && v < c,
            Op::Le => prerelease_check(v, c) && v <= c,
            Op::Pessimistic => {
                if !prerelease_check(v, c) || (c.pre.is_some() && v.pre.is_none()) {
                    return false;
                }
                if v < c {
                    return false;
                }
                let vs = [v.major, v.minor, v.patch];
                let cs = [c.major, c.minor, c.patch];
                let fixed = usize::from(self.precision).saturating_sub(1);
                if vs[..fixed] != cs[..fixed] {
                    return false;
                }
                // go-version also compares the last (padded) part; redundant but kept.
                cs[2] <= vs[2]
            }
        }
    }
}

/// go-version `prereleaseCheck`: a pre-release version only passes an ordering
/// clause whose version is a pre-release of the same `MAJOR.MINOR.PATCH`.
fn prerelease_check(v: &Version, c: &Version) -> bool {
    match (&v.pre, &c.pre) {
        (Some(_), Some(_)) => v.core() == c.core(),
        (Some(_), None) => false,
        (None, _) => true,
    }
}

/// A parse error in a version constraint.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConstraintError {
    #[error("version constraint is empty")]
    Empty,
    #[error(
        "version constraint {text:?} has an empty clause at position {position} (stray comma?)"
    )]
    EmptyClause { text: String, position: usize },
    #[error("malformed version constraint clause {clause:?}: {reason}")]
    Malformed {
        clause: String,
        reason: &'static str,
    },
    #[error("version constraint clause {clause:?}: {source}")]
    Version {
        clause: String,
        #[source]
        source: VersionError,
    },
}

/// A `required_version`-style constraint: every clause must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    text: String,
    clauses: Vec<Clause>,
}

/// A clause with the byte ranges it occupies in the source text.
struct Spanned {
    clause: Clause,
    /// Start of the operator (or of the version when bare).
    start: usize,
    /// Whitespace between operator and version.
    gap: std::ops::Range<usize>,
    /// End of the version.
    end: usize,
    v_prefix: bool,
}

fn is_ws(c: char) -> bool {
    c.is_ascii_whitespace()
}

fn parse_spanned(text: &str) -> Result<Vec<Spanned>, ConstraintError> {
    if text.trim_matches(is_ws).is_empty() {
        return Err(ConstraintError::Empty);
    }
    let mut out = Vec::new();
    let mut base = 0;
    for (i, piece) in text.split(',').enumerate() {
        let piece_start = base;
        base += piece.len() + 1;
        let body = piece.trim_start_matches(is_ws);
        let lead = piece.len() - body.len();
        let clause_text = body.trim_end_matches(is_ws);
        if clause_text.is_empty() {
            return Err(ConstraintError::EmptyClause {
                text: text.to_string(),
                position: i + 1,
            });
        }
        let malformed = |reason| ConstraintError::Malformed {
            clause: clause_text.to_string(),
            reason,
        };
        let (op, op_len) = Op::lex(body).unwrap_or((Op::Eq, 0));
        let after_op = &body[op_len..];
        let ver_part = after_op.trim_start_matches(is_ws);
        let gap_len = after_op.len() - ver_part.len();
        let ver_len = ver_part.find(is_ws).unwrap_or(ver_part.len());
        let ver_text = &ver_part[..ver_len];
        if ver_text.is_empty() {
            return Err(malformed("missing version after the operator"));
        }
        if ver_text.starts_with(['=', '<', '>', '!', '~']) {
            return Err(malformed(
                "unknown operator (expected =, !=, >, >=, <, <=, ~>)",
            ));
        }
        if !ver_part[ver_len..].trim_matches(is_ws).is_empty() {
            return Err(malformed(
                "unexpected text after the version (clauses are separated by commas)",
            ));
        }
        let parsed = parse_version(ver_text).map_err(|source| ConstraintError::Version {
            clause: clause_text.to_string(),
            source,
        })?;
        let start = piece_start + lead;
        let gap_start = start + op_len;
        out.push(Spanned {
            clause: Clause {
                op,
                version: parsed.version,
                precision: parsed.precision,
                text: clause_text.to_string(),
            },
            start,
            gap: gap_start..gap_start + gap_len,
            end: gap_start + gap_len + ver_len,
            v_prefix: parsed.v_prefix,
        });
    }
    Ok(out)
}

impl Constraint {
    /// Parse `required_version` contents (`">= 1.5, < 2.0"`, without the quotes).
    pub fn parse(text: &str) -> Result<Self, ConstraintError> {
        let clauses = parse_spanned(text)?.into_iter().map(|s| s.clause).collect();
        Ok(Constraint {
            text: text.trim_matches(is_ws).to_string(),
            clauses,
        })
    }

    /// go-version `Constraints.Check`: every clause holds.
    pub fn satisfied_by(&self, v: &Version) -> bool {
        self.clauses.iter().all(|c| c.satisfied_by(v))
    }

    /// Some version strictly below `floor` that satisfies every clause, or `None`
    /// when there is none. Exact (versions are unbounded). The witness is the
    /// smallest such release if any release qualifies, otherwise the smallest such
    /// pre-release (e.g. `>= 1.10.0-alpha1` below 1.10.0 → `1.10.0-alpha1`).
    pub fn admits_below(&self, floor: &Version) -> Option<Version> {
        self.witness(None, Some(floor))
    }

    /// Some version `>= floor` that satisfies every clause (smallest release if any,
    /// otherwise smallest pre-release), or `None`.
    pub fn admits_at_or_above(&self, floor: &Version) -> Option<Version> {
        self.witness(Some(floor), None)
    }

    /// Whether any version at all satisfies the constraint.
    pub fn is_satisfiable(&self) -> bool {
        self.witness(None, None).is_some()
    }

    fn witness(&self, at_least: Option<&Version>, below: Option<&Version>) -> Option<Version> {
        self.min_release(at_least, below)
            .or_else(|| self.min_prerelease(at_least, below))
    }

    fn excluded(&self, v: &Version) -> bool {
        self.clauses
            .iter()
            .any(|c| c.op == Op::Ne && &c.version == v)
    }

    /// From `start`, skip `!=` exclusions upwards; every other condition that can
    /// fail above `start` is downward-closed, so the first non-excluded candidate
    /// decides.
    fn walk(&self, start: Version, below: Option<&Version>) -> Option<Version> {
        let exclusions = self.clauses.iter().filter(|c| c.op == Op::Ne).count();
        let mut cand = start;
        for _ in 0..=exclusions {
            if below.is_some_and(|b| &cand >= b) {
                return None;
            }
            if self.satisfied_by(&cand) {
                return Some(cand);
            }
            if !self.excluded(&cand) {
                return None;
            }
            cand = cand.successor()?;
        }
        None
    }

    /// Smallest satisfying release in `[at_least, below)`. Over releases each clause
    /// is an interval (or, for `!=`, a hole), so the answer is the largest lower
    /// bound walked past the holes.
    fn min_release(&self, at_least: Option<&Version>, below: Option<&Version>) -> Option<Version> {
        let mut lo = at_least.map_or(Version::new(0, 0, 0), Version::ceil_release);
        for c in &self.clauses {
            let v = &c.version;
            let bound = match (c.op, v.pre.is_some()) {
                // A release never equals a pre-release; `~>` with a pre-release admits
                // only pre-releases.
                (Op::Eq | Op::Pessimistic, true) => return None,
                (Op::Eq | Op::Ge | Op::Pessimistic, false) => v.clone(),
                (Op::Ge | Op::Gt, true) => v.ceil_release(),
                (Op::Gt, false) => v.successor()?,
                (Op::Ne | Op::Lt | Op::Le, _) => continue,
            };
            lo = lo.max(bound);
        }
        self.walk(lo, below)
    }

    /// Smallest satisfying pre-release in `[at_least, below)`. A pre-release passes
    /// an ordering clause only if that clause names a pre-release of the same core,
    /// so all non-`!=` clauses must agree on one core; within it the clauses are
    /// intervals over tags.
    fn min_prerelease(
        &self,
        at_least: Option<&Version>,
        below: Option<&Version>,
    ) -> Option<Version> {
        let bounded: Vec<&Clause> = self.clauses.iter().filter(|c| c.op != Op::Ne).collect();
        let core = match bounded.first() {
            Some(first) => {
                first.version.pre.as_ref()?;
                first.version.core()
            }
            // Only `!=` clauses: any pre-release not excluded qualifies; take the
            // lowest core allowed by `at_least`.
            None => match at_least {
                None => Version::new(0, 0, 0),
                Some(a) if a.pre.is_some() => a.core(),
                Some(a) => a.successor()?,
            },
        };
        let mut lo = core.with_pre("0"); // the smallest tag
        for c in &bounded {
            if c.version.pre.is_none() || c.version.core() != core {
                return None;
            }
            let bound = match c.op {
                Op::Eq | Op::Ge | Op::Pessimistic => c.version.clone(),
                Op::Gt => c.version.successor()?,
                Op::Lt | Op::Le | Op::Ne => continue,
            };
            lo = lo.max(bound);
        }
        if let Some(a) = at_least
            && *a > lo
        {
            if a.pre.is_some() && a.core() == core {
                lo = a.clone();
            } else {
                return None;
            }
        }
        self.walk(lo, below)
    }
}

// ---------------------------------------------------------------------------
// bump
// ---------------------------------------------------------------------------

/// Why [`bump`] left a constraint for a human.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BumpError {
    #[error(transparent)]
    Parse(#[from] ConstraintError),
    #[error("cannot bump to pre-release floor {0}; use a release")]
    PrereleaseFloor(Version),
    #[error(
        "required_version {constraint:?} admits no version at or above {floor}; raising its lower bound would make it unsatisfiable, so a new constraint must be chosen by hand"
    )]
    NothingAtOrAboveFloor { constraint: String, floor: Version },
    #[error(
        "required_version {constraint:?}: no minimal edit excludes versions below {floor} ({reason})"
    )]
    NoMinimalEdit {
        constraint: String,
        floor: Version,
        reason: &'static str,
    },
}

/// Minimal textual edit of `required_version` contents so that nothing below
/// `floor` (a release) is admitted any more, while everything at or above `floor`
/// that was admitted still is.
///
/// * Already excluding everything below `floor`: returned unchanged.
/// * Otherwise the highest lower-bound clause (`>=`, `>`, `~>`; first on ties) is
///   raised: `>= 1.5` → `>= 1.11`, `> 1.2` → `>= 1.11`, `~> 1.5` → `~> 1.11`,
///   `~> 1.9.3` → `~> 1.9.7` (floor 1.9.7), `~> 1` → `>= 1.11` (go-version reads
///   `~> 1` as `>= 1`), `~> 1.5` → `>= 1.11.2, < 2.0` (floor 1.11.2, not writable
///   with `~>` at two parts).
/// * No lower bound (`< 2.0`, `!= 1.9.0`): `>= <floor>` is inserted in front,
///   copying the existing separator and operator spacing. (For an all-`!=`
///   constraint this also drops the pre-releases go-version let through.)
/// * The floor is written with the edited clause's precision (`1.5` → `1.11`,
///   `1.5.0` → `1.11.0`), more parts only when the value needs them, and keeps a `v`
///   prefix. Everything else in the text is kept byte for byte.
/// * Refused when the constraint admits nothing at or above `floor` (`~> 1.5.0`,
///   `< 1.9`, `= 1.9.8`, `>= 1.5, < 1.9`): the caller reports it for a human.
pub fn bump(constraint_text: &str, floor: &Version) -> Result<String, BumpError> {
    if floor.pre.is_some() {
        return Err(BumpError::PrereleaseFloor(floor.clone()));
    }
    let spans = parse_spanned(constraint_text)?;
    let original = Constraint::parse(constraint_text)?;
    if original.admits_below(floor).is_none() {
        return Ok(constraint_text.to_string());
    }
    let trimmed = constraint_text.trim_matches(is_ws).to_string();
    if original.admits_at_or_above(floor).is_none() {
        return Err(BumpError::NothingAtOrAboveFloor {
            constraint: trimmed,
            floor: floor.clone(),
        });
    }
    let refuse = |reason| BumpError::NoMinimalEdit {
        constraint: trimmed.clone(),
        floor: floor.clone(),
        reason,
    };
    let separator = separator_style(constraint_text, &spans);

    // The binding lower bound: the highest `>=` / `>` / `~>` clause.
    let mut binding: Option<&Spanned> = None;
    for s in &spans {
        if matches!(s.clause.op, Op::Ge | Op::Gt | Op::Pessimistic)
            && binding.is_none_or(|b| s.clause.version > b.clause.version)
        {
            binding = Some(s);
        }
    }

    let edited = match binding {
        Some(s) => {
            let gap = &constraint_text[s.gap.clone()];
            let c = &s.clause;
            let x = &c.version;
            let f = |precision| floor.write(precision, s.v_prefix);
            let replacement = match c.op {
                Op::Ge | Op::Gt => format!(">={gap}{}", f(c.precision)),
                Op::Pessimistic if x.pre.is_some() => {
                    return Err(refuse("a `~>` pre-release bound admits only pre-releases"));
                }
                Op::Pessimistic => match c.precision {
                    1 => format!(">={gap}{}", f(1)),
                    2 if floor.major != x.major => {
                        return Err(refuse("the `~>` range lies entirely below the floor"));
                    }
                    2 if floor.patch == 0 => format!("~>{gap}{}", f(2)),
                    2 => {
                        let upper = Version::new(x.major + 1, 0, 0).write(2, s.v_prefix);
                        format!(">={gap}{}{separator}<{gap}{upper}", f(3))
                    }
                    _ if (floor.major, floor.minor) != (x.major, x.minor) => {
                        return Err(refuse("the `~>` range lies entirely below the floor"));
                    }
                    _ => format!("~>{gap}{}", f(3)),
                },
                _ => unreachable!("binding clause is a lower bound"),
            };
            format!(
                "{}{replacement}{}",
                &constraint_text[..s.start],
                &constraint_text[s.end..]
            )
        }
        None => {
            let first = &spans[0];
            let gap = if is_bare(first) {
                " "
            } else {
                &constraint_text[first.gap.clone()]
            };
            let lower = floor.write(first.clause.precision, first.v_prefix);
            format!(
                "{}>={gap}{lower}{separator}{}",
                &constraint_text[..first.start],
                &constraint_text[first.start..]
            )
        }
    };

    let bumped =
        Constraint::parse(&edited).map_err(|_| refuse("the edited text does not parse"))?;
    if bumped.admits_below(floor).is_some() {
        return Err(refuse(
            "the edit would still admit versions below the floor",
        ));
    }
    if !bumped.is_satisfiable() {
        return Err(BumpError::NothingAtOrAboveFloor {
            constraint: trimmed,
            floor: floor.clone(),
        });
    }
    Ok(edited)
}

/// A bare version (no operator written).
fn is_bare(s: &Spanned) -> bool {
    s.gap.start == s.start
}

/// The text between the first two clauses (`", "`, `","`, `" , "`), or `", "`.
fn separator_style(text: &str, spans: &[Spanned]) -> String {
    match spans {
        [a, b, ..] => text[a.end..b.start].to_string(),
        _ => ", ".to_string(),
    }
}

// ---------------------------------------------------------------------------
// Pinned-version files
// ---------------------------------------------------------------------------

/// Which version-manager file a text came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VersionFileKind {
    /// `.terraform-version` (tfenv, also read by tenv).
    TerraformVersion,
    /// `.opentofu-version` (tofuenv, also read by tenv).
    OpenTofuVersion,
    /// `.tool-versions` (asdf, mise).
    ToolVersions,
    /// `mise.toml` (mise's own config: `[tools] terraform = "1.9.8"`).
    MiseToml,
    /// `.mise.toml` (the same, hidden).
    DotMiseToml,
}

impl VersionFileKind {
    pub fn file_name(self) -> &'static str {
        match self {
            VersionFileKind::TerraformVersion => ".terraform-version",
            VersionFileKind::OpenTofuVersion => ".opentofu-version",
            VersionFileKind::ToolVersions => ".tool-versions",
            VersionFileKind::MiseToml => "mise.toml",
            VersionFileKind::DotMiseToml => ".mise.toml",
        }
    }
}

/// The binary a pin selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tool {
    Terraform,
    OpenTofu,
}

/// What a version file asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pin {
    /// A literal version. `precision` < 3 is a prefix (`1.9` under mise = newest
    /// 1.9.x; also `prefix:1.9`).
    Version { version: Version, precision: u8 },
    /// `latest`, `latest:<regex>` (tfenv/tofuenv), `latest-stable`, … : resolved
    /// against the release list when the tool runs.
    Latest { filter: Option<String> },
    /// tfenv/tofuenv `latest-allowed`: newest version `required_version` admits.
    LatestAllowed,
    /// tfenv/tofuenv `min-required`: lowest version `required_version` admits.
    MinRequired,
    /// Anything else (`system`, `ref:…`, `path:…`, garbage).
    Other(String),
}

/// What a pin means for the floor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinVerdict {
    /// Every version the pin can select is at or above the floor.
    AtOrAboveFloor,
    /// Every version the pin can select is below the floor.
    BelowFloor,
    /// A prefix pin spanning the floor (`1` under mise): depends on what is newest.
    Ambiguous,
    /// `latest…`: decided by the release list at run time, not judgeable offline.
    NotJudgeableOffline,
    /// `latest-allowed` / `min-required`: follows `required_version`; judge that.
    DefersToRequiredVersion,
    /// Unrecognised pin; nothing can be said.
    Unrecognized,
}

impl PinVerdict {
    /// A sentence for the report.
    pub fn note(self) -> &'static str {
        match self {
            PinVerdict::AtOrAboveFloor => "pinned version is new enough",
            PinVerdict::BelowFloor => "pinned version is older than the floor",
            PinVerdict::Ambiguous => {
                "partial version: the newest matching release decides; cannot be judged offline"
            }
            PinVerdict::NotJudgeableOffline => {
                "`latest` pins are resolved against the release list when the tool runs; cannot be judged offline"
            }
            PinVerdict::DefersToRequiredVersion => {
                "resolved from required_version by the version manager; judged through required_version"
            }
            PinVerdict::Unrecognized => "unrecognised pin; cannot be judged",
        }
    }
}

impl Pin {
    pub fn verdict(&self, floor: &Version) -> PinVerdict {
        match self {
            Pin::Version { version, precision } => {
                if *precision >= 3 || version.pre.is_some() {
                    return if version < floor {
                        PinVerdict::BelowFloor
                    } else {
                        PinVerdict::AtOrAboveFloor
                    };
                }
                // Prefix `[version, next)`.
                let next = if *precision == 2 {
                    version
                        .minor
                        .checked_add(1)
                        .map(|m| Version::new(version.major, m, 0))
                } else {
                    version.major.checked_add(1).map(|m| Version::new(m, 0, 0))
                };
                if version >= floor {
                    PinVerdict::AtOrAboveFloor
                } else if next.is_some_and(|n| &n <= floor) {
                    PinVerdict::BelowFloor
                } else {
                    PinVerdict::Ambiguous
                }
            }
            Pin::Latest { .. } => PinVerdict::NotJudgeableOffline,
            Pin::LatestAllowed | Pin::MinRequired => PinVerdict::DefersToRequiredVersion,
            Pin::Other(_) => PinVerdict::Unrecognized,
        }
    }

    pub(super) fn from_token(token: &str, mise_style: bool) -> Pin {
        match token {
            "latest-allowed" => return Pin::LatestAllowed,
            "min-required" => return Pin::MinRequired,
            "latest" => return Pin::Latest { filter: None },
            _ => {}
        }
        if let Some(filter) = token.strip_prefix("latest:") {
            return Pin::Latest {
                filter: Some(filter.to_string()),
            };
        }
        if let Some(filter) = token.strip_prefix("latest-") {
            return Pin::Latest {
                filter: Some(filter.to_string()),
            };
        }
        let literal = if mise_style {
            token.strip_prefix("prefix:").unwrap_or(token)
        } else {
            token
        };
        match parse_version(literal) {
            Ok(p) => Pin::Version {
                version: p.version,
                precision: p.precision,
            },
            Err(_) => Pin::Other(token.to_string()),
        }
    }
}

/// One pin found in a version file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolPin {
    pub tool: Tool,
    pub pin: Pin,
    /// 1-based line.
    pub line: usize,
    /// The pin as written (`1.5.7`, `latest:^1\.9`).
    pub raw: String,
}

/// The pins a version file declares (none for an empty or comment-only file, or a
/// `.tool-versions` without `terraform` / `opentofu` lines).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PinnedVersion {
    pub pins: Vec<ToolPin>,
}

/// Parse a version-manager file's text.
///
/// * `.terraform-version` / `.opentofu-version`: the first line that is neither
///   blank nor a `#` comment; `v1.9.8`, `1.9.8`, `latest`, `latest:<regex>`,
///   `latest-allowed`, `min-required`.
/// * `.tool-versions`: `terraform <v> [<v>…]` and `opentofu <v> …` (also `tofu`)
///   lines, first version used; `#` starts a comment; other tools ignored.
pub fn parse_version_file(kind: VersionFileKind, text: &str) -> PinnedVersion {
    let mut pins = Vec::new();
    match kind {
        VersionFileKind::TerraformVersion | VersionFileKind::OpenTofuVersion => {
            let tool = if kind == VersionFileKind::TerraformVersion {
                Tool::Terraform
            } else {
                Tool::OpenTofu
            };
            let first = text.lines().enumerate().find_map(|(i, line)| {
                let t = line.trim();
                (!t.is_empty() && !t.starts_with('#')).then_some((i + 1, t))
            });
            if let Some((line, t)) = first {
                pins.push(ToolPin {
                    tool,
                    pin: Pin::from_token(t, false),
                    line,
                    raw: t.to_string(),
                });
            }
        }
        VersionFileKind::ToolVersions => {
            for (i, line) in text.lines().enumerate() {
                let content = line.split('#').next().unwrap_or("");
                let mut words = content.split_whitespace();
                let tool = match words.next() {
                    Some("terraform") => Tool::Terraform,
                    Some("opentofu" | "tofu") => Tool::OpenTofu,
                    _ => continue,
                };
                let Some(first) = words.next() else {
                    continue;
                };
                pins.push(ToolPin {
                    tool,
                    pin: Pin::from_token(first, true),
                    line: i + 1,
                    raw: first.to_string(),
                });
            }
        }
        VersionFileKind::MiseToml | VersionFileKind::DotMiseToml => pins = mise_pins(text),
    }
    PinnedVersion { pins }
}

/// The `terraform` / `opentofu` entries of a mise TOML file's `[tools]` table:
/// `terraform = "1.9.8"`, `terraform = ["1.9.8", "1.5.7"]` (the first is the
/// default), `terraform = { version = "1.9.8" }`. Read line by line: mise
/// writes these tables one entry a line.
fn mise_pins(text: &str) -> Vec<ToolPin> {
    let mut pins = Vec::new();
    let mut in_tools = false;
    for (i, line) in text.lines().enumerate() {
        let content = strip_toml_comment(line).trim();
        if content.starts_with('[') {
            in_tools = content == "[tools]";
            continue;
        }
        let Some((key, value)) = content.split_once('=') else {
            continue;
        };
        let key = key.trim().trim_matches('"');
        // `[tools]` entries, or dotted `tools.terraform = ...` at top level.
        let key = match (in_tools, key.strip_prefix("tools.")) {
            (true, _) => key,
            (false, Some(k)) => k,
            (false, None) => continue,
        };
        let tool = match key {
            "terraform" | "aqua:hashicorp/terraform" => Tool::Terraform,
            "opentofu" | "tofu" | "aqua:opentofu/opentofu" => Tool::OpenTofu,
            _ => continue,
        };
        let value = value.trim();
        let value = value
            .strip_prefix('{')
            .and_then(|v| v.split("version").nth(1))
            .and_then(|v| v.trim_start().strip_prefix('='))
            .unwrap_or(value)
            .trim()
            .trim_start_matches('[')
            .trim();
        let Some(raw) = value
            .strip_prefix('"')
            .or_else(|| value.strip_prefix('\''))
            .and_then(|v| v.split(['"', '\'']).next())
        else {
            continue;
        };
        pins.push(ToolPin {
            tool,
            pin: Pin::from_token(raw, true),
            line: i + 1,
            raw: raw.to_string(),
        });
    }
    pins
}

fn strip_toml_comment(line: &str) -> &str {
    let mut quoted = None;
    for (i, c) in line.char_indices() {
        match (c, quoted) {
            ('"' | '\'', None) => quoted = Some(c),
            (q, Some(open)) if q == open => quoted = None,
            ('#', None) => return &line[..i],
            _ => {}
        }
    }
    line
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn mise_toml_pins() {
        let text = "[env]\nterraform = \"9.9.9\"\n\n[tools]\nnode = \"20\"\nterraform = \"1.5.7\" # old\nopentofu = [\"1.10.0\", \"1.9.0\"]\n";
        let pins = parse_version_file(VersionFileKind::MiseToml, text).pins;
        assert_eq!(pins.len(), 2);
        assert_eq!(
            (pins[0].tool, pins[0].raw.as_str(), pins[0].line),
            (Tool::Terraform, "1.5.7", 6)
        );
        assert_eq!(
            (pins[1].tool, pins[1].raw.as_str()),
            (Tool::OpenTofu, "1.10.0")
        );
        let table = "[tools]\nterraform = { version = \"1.9\", os = [\"linux\"] }\n";
        let pins = parse_version_file(VersionFileKind::DotMiseToml, table).pins;
        assert_eq!(pins[0].raw, "1.9");
        assert_eq!(
            pins[0].pin.verdict(&Version::new(1, 10, 0)),
            PinVerdict::BelowFloor
        );
        let dotted = "tools.terraform = \"1.11.0\"\n";
        assert_eq!(
            parse_version_file(VersionFileKind::MiseToml, dotted).pins[0].raw,
            "1.11.0"
        );
    }

    fn v(s: &str) -> Version {
        parse_version(s).unwrap().version
    }

    fn c(s: &str) -> Constraint {
        Constraint::parse(s).unwrap()
    }

    fn below(cons: &str, floor: &str) -> Option<String> {
        c(cons).admits_below(&v(floor)).map(|w| w.to_string())
    }

    // ---- Version ----

    #[test]
    fn version_parses_leniently() {
        assert_eq!(v("1.10"), Version::new(1, 10, 0));
        assert_eq!(v("1"), Version::new(1, 0, 0));
        assert_eq!(v("v1.9.8"), Version::new(1, 9, 8));
        assert_eq!(v("1.10.0-rc1"), Version::new(1, 10, 0).with_pre("rc1"));
        assert_eq!(v("1.10.0rc1"), Version::new(1, 10, 0).with_pre("rc1"));
        assert_eq!(v("1.10-rc1"), Version::new(1, 10, 0).with_pre("rc1"));
        assert_eq!(v("1.2.3+build.7"), Version::new(1, 2, 3));
        assert_eq!(
            v("1.2.3-beta.1+x"),
            Version::new(1, 2, 3).with_pre("beta.1")
        );
        assert_eq!(v("01.04.0"), Version::new(1, 4, 0));
        assert_eq!(v("1.9.99").to_string(), "1.9.99");
        assert_eq!(
            v("1.10.0-alpha20241009").to_string(),
            "1.10.0-alpha20241009"
        );
        let p = parse_version("v1.5").unwrap();
        assert_eq!((p.precision, p.v_prefix), (2, true));
    }

    #[test]
    fn version_rejects_garbage() {
        for bad in [
            "",
            "v",
            "x",
            "1.",
            "1..2",
            ".1",
            "1.2.3.4",
            "1.2.3-",
            "1.2.3+",
            "1.2.3-a..b",
            "1.2.x",
            "1.2.3 ",
            " 1.2.3",
            "1.2.3-a_b",
            "99999999999999999999",
        ] {
            assert!(parse_version(bad).is_err(), "{bad:?} should not parse");
        }
        let e = parse_version("1.2.3.4").unwrap_err();
        assert!(e.to_string().contains("more than three"), "{e}");
    }

    #[test]
    fn version_ordering() {
        assert!(v("1.10.0-alpha20241009") < v("1.10.0"));
        assert!(v("1.10.0-alpha20241009") < v("1.10.0-beta1"));
        assert!(v("1.10.0-beta1") < v("1.10.0-rc1"));
        assert!(v("1.10.0-rc1") < v("1.10.0-rc2"));
        assert!(v("1.9.8") < v("1.10.0-alpha1"));
        assert!(v("1.9.8") < v("1.10.0"));
        assert!(v("1.10.0") < v("1.10.1"));
        assert!(v("1.0.0-2") < v("1.0.0-10"));
        assert!(v("1.0.0-10") < v("1.0.0-alpha"));
        assert!(v("1.0.0-alpha") < v("1.0.0-alpha.1"));
        assert!(v("1.0.0-alpha.1") < v("1.0.0-alpha.beta"));
        assert!(v("1.0.0-rc1") < v("1.0.0-rc1.0"));
        assert!(v("1.0.0-0") < v("1.0.0-00"));
        assert_eq!(v("1.2.3+a").cmp(&v("1.2.3+b")), Ordering::Equal);
        assert_eq!(
            Version::new(1, 0, 0).with_pre("rc1").successor(),
            Some(v("1.0.0-rc1.0"))
        );
    }

    // ---- Constraint parsing ----

    #[test]
    fn constraint_parses_all_operators_and_whitespace() {
        let cases = [
            ("= 1.5", Op::Eq),
            ("1.5", Op::Eq),
            ("!=1.5", Op::Ne),
            ("> 1.5", Op::Gt),
            (">=1.5", Op::Ge),
            ("  <  1.5  ", Op::Lt),
            ("<=\t1.5", Op::Le),
            ("~>1.5", Op::Pessimistic),
        ];
        for (text, op) in cases {
            let k = c(text);
            assert_eq!(k.clauses.len(), 1, "{text}");
            assert_eq!(k.clauses[0].op, op, "{text}");
            assert_eq!(k.clauses[0].version, Version::new(1, 5, 0), "{text}");
        }
        let k = c(" >= 1.5 ,< 2.0,!=1.7.3 ");
        assert_eq!(k.clauses.len(), 3);
        assert_eq!(k.clauses[1].text, "< 2.0");
        assert_eq!(k.clauses[2].version, Version::new(1, 7, 3));
        assert_eq!(k.text, ">= 1.5 ,< 2.0,!=1.7.3");
        assert_eq!(c("~> 1.5").clauses[0].precision, 2);
        assert_eq!(c("~> 1.5.2").clauses[0].precision, 3);
    }

    #[test]
    fn constraint_parse_errors_are_typed() {
        assert_eq!(Constraint::parse(""), Err(ConstraintError::Empty));
        assert_eq!(Constraint::parse("   "), Err(ConstraintError::Empty));
        assert!(matches!(
            Constraint::parse(">= 1.5,"),
            Err(ConstraintError::EmptyClause { position: 2, .. })
        ));
        assert!(matches!(
            Constraint::parse(","),
            Err(ConstraintError::EmptyClause { position: 1, .. })
        ));
        assert!(matches!(
            Constraint::parse("=> 1.5"),
            Err(ConstraintError::Malformed { .. })
        ));
        assert!(matches!(
            Constraint::parse("== 1.5"),
            Err(ConstraintError::Malformed { .. })
        ));
        assert!(matches!(
            Constraint::parse(">="),
            Err(ConstraintError::Malformed { .. })
        ));
        assert!(matches!(
            Constraint::parse(">= 1.5 < 2.0"),
            Err(ConstraintError::Malformed { .. })
        ));
        let e = Constraint::parse(">= 1.x").unwrap_err();
        assert!(matches!(e, ConstraintError::Version { .. }));
        assert!(e.to_string().contains(">= 1.x"), "{e}");
    }

    // ---- satisfied_by ----

    #[test]
    fn satisfied_by_basic_operators() {
        let k = c(">= 1.5, < 2.0, != 1.7.0");
        assert!(k.satisfied_by(&v("1.5.0")));
        assert!(k.satisfied_by(&v("1.9.9")));
        assert!(!k.satisfied_by(&v("1.7.0")));
        assert!(!k.satisfied_by(&v("2.0.0")));
        assert!(!k.satisfied_by(&v("1.4.9")));
        assert!(c("1.9.8").satisfied_by(&v("1.9.8")));
        assert!(!c("= 1.9.8").satisfied_by(&v("1.9.9")));
        assert!(c("> 1.9.99").satisfied_by(&v("1.9.100")));
        assert!(c("<= 1.9").satisfied_by(&v("1.9.0")));
        assert!(!c("<= 1.9").satisfied_by(&v("1.9.1")));
    }

    #[test]
    fn satisfied_by_pessimistic() {
        let k = c("~> 1.5");
        assert!(k.satisfied_by(&v("1.5.0")));
        assert!(k.satisfied_by(&v("1.99.3")));
        assert!(!k.satisfied_by(&v("2.0.0")));
        assert!(!k.satisfied_by(&v("1.4.9")));
        let k = c("~> 1.5.2");
        assert!(k.satisfied_by(&v("1.5.2")));
        assert!(k.satisfied_by(&v("1.5.9")));
        assert!(!k.satisfied_by(&v("1.5.1")));
        assert!(!k.satisfied_by(&v("1.6.0")));
        let k = c("~> 1");
        assert!(k.satisfied_by(&v("1.0.0")));
        assert!(k.satisfied_by(&v("7.3.0")));
        assert!(!k.satisfied_by(&v("0.15.5")));
    }

    #[test]
    fn satisfied_by_prerelease_like_go_version() {
        // Release constraints never admit pre-releases.
        assert!(!c(">= 1.9").satisfied_by(&v("1.10.0-rc1")));
        assert!(!c("< 2.0").satisfied_by(&v("1.10.0-rc1")));
        assert!(!c("~> 1.9").satisfied_by(&v("1.10.0-rc1")));
        // Pre-release constraints admit pre-releases of the same core only.
        let k = c(">= 1.10.0-alpha1");
        assert!(k.satisfied_by(&v("1.10.0-alpha1")));
        assert!(k.satisfied_by(&v("1.10.0-rc2")));
        assert!(k.satisfied_by(&v("1.10.0")));
        assert!(k.satisfied_by(&v("1.11.0")));
        assert!(!k.satisfied_by(&v("1.11.0-alpha1")));
        assert!(!k.satisfied_by(&v("1.9.0")));
        // `~>` with a pre-release admits only pre-releases.
        let k = c("~> 1.10.0-rc1");
        assert!(k.satisfied_by(&v("1.10.0-rc2")));
        assert!(!k.satisfied_by(&v("1.10.0")));
        // `=` and `!=` are plain (in)equality.
        assert!(c("= 1.10.0-rc1").satisfied_by(&v("1.10.0-rc1")));
        assert!(!c("= 1.10.0").satisfied_by(&v("1.10.0-rc1")));
        assert!(c("!= 1.9.0").satisfied_by(&v("1.10.0-rc1")));
    }

    // ---- admits_below ----

    #[test]
    fn admits_below_brief_cases() {
        let f = "1.10.0";
        assert_eq!(below(">= 1.5", f).as_deref(), Some("1.5.0"));
        assert_eq!(below(">= 1.10", f), None);
        assert_eq!(below("~> 1.9.0", f).as_deref(), Some("1.9.0"));
        assert_eq!(below(">= 1.9, != 1.9.0", f).as_deref(), Some("1.9.1"));
        assert_eq!(below("= 1.9.8", f).as_deref(), Some("1.9.8"));
        assert_eq!(below("1.9.8", f).as_deref(), Some("1.9.8"));
        assert_eq!(below("< 1.10", f).as_deref(), Some("0.0.0"));
        assert_eq!(below("> 1.9.99", f).as_deref(), Some("1.9.100"));
        assert_eq!(below(">= 1.11, < 1.5", f), None);
        assert!(!c(">= 1.11, < 1.5").is_satisfiable());
        // Pre-release decision (go-version): 1.10.0-alpha1 < 1.10.0 and satisfies.
        assert_eq!(
            below(">= 1.10.0-alpha1", f).as_deref(),
            Some("1.10.0-alpha1")
        );
        assert_eq!(below("> 1.10.0-rc1", f).as_deref(), Some("1.10.0-rc1.0"));
        assert_eq!(below(">= 1.10.0-alpha1", "1.10.0-alpha1"), None);
        assert_eq!(
            below(">= 1.10.0-alpha1, != 1.10.0-alpha1", f).as_deref(),
            Some("1.10.0-alpha1.0")
        );
        assert_eq!(
            below("~> 1.10.0-rc1", "1.11.0").as_deref(),
            Some("1.10.0-rc1")
        );
    }

    #[test]
    fn admits_below_more_cases() {
        let f = "1.10.0";
        assert_eq!(below("~> 1.5", f).as_deref(), Some("1.5.0"));
        assert_eq!(below("~> 1.10", f), None);
        assert_eq!(below("~> 1.10.0", f), None);
        assert_eq!(below("~> 1", f).as_deref(), Some("1.0.0"));
        assert_eq!(below("~> 2", f), None);
        assert_eq!(below("> 1.9", f).as_deref(), Some("1.9.1"));
        assert_eq!(below(">= 1.10.0, <= 1.12", f), None);
        assert_eq!(below("<= 1.10.0", f).as_deref(), Some("0.0.0"));
        assert_eq!(below("!= 0.0.0, != 0.0.1", f).as_deref(), Some("0.0.2"));
        assert_eq!(
            below(">= 1.9.8, != 1.9.8, != 1.9.9, < 1.10", f).as_deref(),
            Some("1.9.10")
        );
        assert_eq!(below(">= 1.9.8, != 1.9.8, < 1.9.9", f), None);
        assert_eq!(below("= 1.10.0-rc1", f).as_deref(), Some("1.10.0-rc1"));
        assert_eq!(below("= 1.10.0-rc1, != 1.10.0-rc1", f), None);
        assert_eq!(below("< 1.10.0-rc1", f).as_deref(), Some("0.0.0"));
        assert_eq!(below("!= 0.0.0", "0.0.1").as_deref(), Some("0.0.0-0"));
        assert_eq!(below(">= 1.5", "0.0.0"), None);
        assert_eq!(below("> 1.2.18446744073709551615", f), None);
    }

    #[test]
    fn admits_at_or_above() {
        let f = v("1.10.0");
        let at = |s: &str| c(s).admits_at_or_above(&f).map(|w| w.to_string());
        assert_eq!(at(">= 1.5").as_deref(), Some("1.10.0"));
        assert_eq!(at("~> 1.5.0"), None);
        assert_eq!(at("< 1.10"), None);
        assert_eq!(at("!= 1.10.0").as_deref(), Some("1.10.1"));
        assert_eq!(at(">= 1.12.0-rc1").as_deref(), Some("1.12.0"));
        assert_eq!(at("~> 1.12.0-rc1").as_deref(), Some("1.12.0-rc1"));
        assert_eq!(at("< 1.10.1-rc1, != 1.10.0").as_deref(), Some("1.10.1-0"));
        assert_eq!(at("~> 1.10.0-rc1"), None);
    }

    // ---- bump ----

    fn bumped(text: &str, floor: &str) -> Result<String, BumpError> {
        bump(text, &v(floor))
    }

    #[test]
    fn bump_raises_lower_bounds() {
        let f = "1.11.0";
        assert_eq!(bumped(">= 1.5", f).unwrap(), ">= 1.11");
        assert_eq!(bumped(">= 1.5, < 2.0", f).unwrap(), ">= 1.11, < 2.0");
        assert_eq!(bumped("~> 1.5", f).unwrap(), "~> 1.11");
        assert_eq!(bumped("> 1.2", f).unwrap(), ">= 1.11");
        assert_eq!(bumped(">= 1.5.0", f).unwrap(), ">= 1.11.0");
        assert_eq!(bumped(">= 1", f).unwrap(), ">= 1.11");
        assert_eq!(bumped(">=v1.5", f).unwrap(), ">=v1.11");
        assert_eq!(bumped("~> 1", f).unwrap(), ">= 1.11");
        assert_eq!(bumped("~> 1.9.3", "1.9.7").unwrap(), "~> 1.9.7");
        assert_eq!(bumped("~> 1.5", "1.11.2").unwrap(), ">= 1.11.2, < 2.0");
        assert_eq!(bumped(">= 0.13", "2.0.0").unwrap(), ">= 2.0");
        assert_eq!(bumped(">= 1.10.0-alpha1", "1.10.0").unwrap(), ">= 1.10.0");
        assert_eq!(
            bumped(">= 1.9, != 1.9.0", "1.10.0").unwrap(),
            ">= 1.10, != 1.9.0"
        );
    }

    #[test]
    fn bump_keeps_format_of_untouched_clauses() {
        let f = "1.11.0";
        assert_eq!(
            bumped("  >=1.5 ,<  2.0.0,!=1.7.1 ", f).unwrap(),
            "  >=1.11 ,<  2.0.0,!=1.7.1 "
        );
        // The binding (highest) lower bound is edited; the others stay.
        assert_eq!(bumped("> 1.2, >= 1.5", f).unwrap(), "> 1.2, >= 1.11");
        assert_eq!(bumped("~> 1.5, >= 1.7.2", f).unwrap(), "~> 1.5, >= 1.11.0");
        assert_eq!(bumped("~> 1.5,>= 1.5", f).unwrap(), "~> 1.11,>= 1.5");
    }

    #[test]
    fn bump_inserts_a_lower_bound_when_there_is_none() {
        let f = "1.11.0";
        assert_eq!(bumped("< 2.0", f).unwrap(), ">= 1.11, < 2.0");
        assert_eq!(bumped(" <2.0.0", f).unwrap(), " >=1.11.0, <2.0.0");
        assert_eq!(bumped("<2.0,!=1.12.1", f).unwrap(), ">=1.11,<2.0,!=1.12.1");
        assert_eq!(bumped("!= 1.9.0", f).unwrap(), ">= 1.11.0, != 1.9.0");
        assert_eq!(bumped("<= 1.12", f).unwrap(), ">= 1.11, <= 1.12");
    }

    #[test]
    fn bump_leaves_good_constraints_alone() {
        for text in [
            ">= 1.11",
            "~> 1.11.0",
            " >=1.12, <2 ",
            "= 1.11.0",
            "~> 2",
            "~> 1.12.0-rc1",
        ] {
            assert_eq!(bumped(text, "1.11.0").unwrap(), text);
        }
    }

    #[test]
    fn bump_refuses_what_needs_a_human() {
        let f = "1.11.0";
        for text in [
            "~> 1.5.0",
            "< 1.9",
            "= 1.9.8",
            "1.9.8",
            ">= 1.5, < 1.9",
            "~> 0.15",
            "~> 1.10.0",
            "< 1.11.0-rc1",
            ">= 1.5, ~> 1.5.0",
            "~> 1.10.0-rc1",
        ] {
            match bumped(text, f) {
                Err(BumpError::NothingAtOrAboveFloor { constraint, floor }) => {
                    assert_eq!(constraint, text.trim());
                    assert_eq!(floor, v(f));
                }
                other => panic!("{text}: expected NothingAtOrAboveFloor, got {other:?}"),
            }
        }
        assert!(matches!(bumped(">= 1.5,", f), Err(BumpError::Parse(_))));
        assert!(matches!(
            bumped(">= 1.5", "1.11.0-rc1"),
            Err(BumpError::PrereleaseFloor(_))
        ));
        let msg = bumped("< 1.9", f).unwrap_err().to_string();
        assert!(msg.contains("< 1.9") && msg.contains("1.11.0"), "{msg}");
    }

    // ---- version files ----

    fn pins(kind: VersionFileKind, text: &str) -> Vec<(Tool, Pin, usize)> {
        parse_version_file(kind, text)
            .pins
            .into_iter()
            .map(|p| (p.tool, p.pin, p.line))
            .collect()
    }

    fn lit(s: &str) -> Pin {
        let p = parse_version(s).unwrap();
        Pin::Version {
            version: p.version,
            precision: p.precision,
        }
    }

    #[test]
    fn terraform_version_file() {
        use VersionFileKind::TerraformVersion as K;
        assert_eq!(pins(K, "1.5.7\n"), vec![(Tool::Terraform, lit("1.5.7"), 1)]);
        assert_eq!(
            pins(K, "# pinned for prod\n\n  v1.9.8  \r\n"),
            vec![(Tool::Terraform, lit("1.9.8"), 3)]
        );
        assert_eq!(
            pins(K, "latest\n"),
            vec![(Tool::Terraform, Pin::Latest { filter: None }, 1)]
        );
        assert_eq!(
            pins(K, "latest:^1\\.9\n"),
            vec![(
                Tool::Terraform,
                Pin::Latest {
                    filter: Some("^1\\.9".into())
                },
                1
            )]
        );
        assert_eq!(
            pins(K, "latest-allowed"),
            vec![(Tool::Terraform, Pin::LatestAllowed, 1)]
        );
        assert_eq!(
            pins(K, "min-required"),
            vec![(Tool::Terraform, Pin::MinRequired, 1)]
        );
        assert_eq!(pins(K, "# only a comment\n\n"), vec![]);
        assert_eq!(
            pins(K, "one.two"),
            vec![(Tool::Terraform, Pin::Other("one.two".into()), 1)]
        );
        let pv = parse_version_file(K, "1.5.7");
        assert_eq!(pv.pins.len(), 1);
        assert_eq!(
            (pv.pins[0].tool, pv.pins[0].raw.as_str()),
            (Tool::Terraform, "1.5.7")
        );
    }

    #[test]
    fn opentofu_version_file() {
        use VersionFileKind::OpenTofuVersion as K;
        assert_eq!(pins(K, "1.8.0\n"), vec![(Tool::OpenTofu, lit("1.8.0"), 1)]);
        assert_eq!(
            pins(K, "min-required\n"),
            vec![(Tool::OpenTofu, Pin::MinRequired, 1)]
        );
        assert_eq!(
            pins(K, "latest-stable\n"),
            vec![(
                Tool::OpenTofu,
                Pin::Latest {
                    filter: Some("stable".into())
                },
                1
            )]
        );
    }

    #[test]
    fn tool_versions_file() {
        use VersionFileKind::ToolVersions as K;
        let text = "# tools\nnodejs 20.1.0\nterraform 1.5.7 1.11.0 # legacy first\n\nopentofu   1.8.0\nterragrunt 0.60.0\n";
        assert_eq!(
            pins(K, text),
            vec![
                (Tool::Terraform, lit("1.5.7"), 3),
                (Tool::OpenTofu, lit("1.8.0"), 5),
            ]
        );
        assert_eq!(
            pins(K, "tofu 1.10.0"),
            vec![(Tool::OpenTofu, lit("1.10.0"), 1)]
        );
        assert_eq!(
            pins(K, "terraform latest"),
            vec![(Tool::Terraform, Pin::Latest { filter: None }, 1)]
        );
        assert_eq!(
            pins(K, "terraform prefix:1.9"),
            vec![(Tool::Terraform, lit("1.9"), 1)]
        );
        assert_eq!(
            pins(K, "terraform system"),
            vec![(Tool::Terraform, Pin::Other("system".into()), 1)]
        );
        assert_eq!(pins(K, "terraform\n# terraform 1.0.0\n"), vec![]);
        assert_eq!(pins(K, ""), vec![]);
        assert!(parse_version_file(K, "nodejs 20").pins.is_empty());
        assert_eq!(K.file_name(), ".tool-versions");
    }

    #[test]
    fn pin_verdicts() {
        let f = v("1.10.0");
        assert_eq!(lit("1.9.8").verdict(&f), PinVerdict::BelowFloor);
        assert_eq!(lit("1.10.0").verdict(&f), PinVerdict::AtOrAboveFloor);
        assert_eq!(lit("1.10.0-rc1").verdict(&f), PinVerdict::BelowFloor);
        assert_eq!(lit("1.9").verdict(&f), PinVerdict::BelowFloor);
        assert_eq!(lit("1.10").verdict(&f), PinVerdict::AtOrAboveFloor);
        assert_eq!(lit("1").verdict(&f), PinVerdict::Ambiguous);
        assert_eq!(lit("0").verdict(&f), PinVerdict::BelowFloor);
        assert_eq!(
            Pin::Latest { filter: None }.verdict(&f),
            PinVerdict::NotJudgeableOffline
        );
        assert_eq!(
            Pin::MinRequired.verdict(&f),
            PinVerdict::DefersToRequiredVersion
        );
        assert_eq!(
            Pin::LatestAllowed.verdict(&f),
            PinVerdict::DefersToRequiredVersion
        );
        assert_eq!(
            Pin::Other("system".into()).verdict(&f),
            PinVerdict::Unrecognized
        );
        assert!(PinVerdict::NotJudgeableOffline.note().contains("offline"));
    }

    // ---- property tests ----

    const PRES: [&str; 6] = ["0", "alpha1", "alpha1.0", "beta2", "rc1", "rc1.0"];

    fn grid() -> Vec<Version> {
        let mut out = Vec::new();
        for major in 0..=2 {
            for minor in 0..=12 {
                for patch in 0..=3 {
                    let r = Version::new(major, minor, patch);
                    for p in PRES {
                        out.push(r.with_pre(p));
                    }
                    out.push(r);
                }
            }
        }
        out.sort();
        out
    }

    /// Grid versions, plus (half the time) a small pool around the real floors so
    /// that several clauses often share a core and pre-release witnesses matter.
    fn arb_version_text() -> impl Strategy<Value = String> {
        prop_oneof![
            arb_any_version_text(),
            prop::sample::select(vec![
                "1.9",
                "1.9.8",
                "1.10",
                "1.10.0",
                "1.10.1",
                "1.11",
                "1.11.0",
                "1.10.0-alpha1",
                "1.10.0-beta2",
                "1.10.0-rc1",
                "1.11.0-alpha1",
                "1.11.0-rc1",
                "1.10-rc1",
            ])
            .prop_map(String::from),
        ]
    }

    fn arb_any_version_text() -> impl Strategy<Value = String> {
        (
            0u64..=2,
            0u64..=12,
            0u64..=3,
            1u8..=3,
            prop::option::weighted(0.25, prop::sample::select(vec!["alpha1", "beta2", "rc1"])),
            prop::bool::weighted(0.1),
        )
            .prop_map(|(major, minor, patch, precision, pre, v_prefix)| {
                let mut s = String::new();
                if v_prefix {
                    s.push('v');
                }
                s.push_str(&major.to_string());
                if precision >= 2 {
                    s.push_str(&format!(".{minor}"));
                }
                if precision >= 3 {
                    s.push_str(&format!(".{patch}"));
                }
                if let Some(p) = pre {
                    s.push('-');
                    s.push_str(p);
                }
                s
            })
    }

    fn arb_ws() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec!["", "", " ", "  "])
    }

    fn arb_clause() -> impl Strategy<Value = String> {
        (
            arb_ws(),
            prop::sample::select(vec!["", "=", "!=", ">", ">=", ">=", "<", "<=", "~>", "~>"]),
            arb_ws(),
            arb_version_text(),
            arb_ws(),
        )
            .prop_map(|(a, op, b, ver, d)| {
                let b = if op.is_empty() { "" } else { b };
                format!("{a}{op}{b}{ver}{d}")
            })
    }

    fn arb_constraint() -> impl Strategy<Value = String> {
        prop::collection::vec(arb_clause(), 1..=3).prop_map(|cs| cs.join(","))
    }

    fn arb_release_floor() -> impl Strategy<Value = Version> {
        prop_oneof![
            Just(Version::new(1, 10, 0)),
            Just(Version::new(1, 11, 0)),
            Just(Version::new(1, 10, 1)),
            (0u64..=2, 0u64..=12, 0u64..=3).prop_map(|(a, b, c)| Version::new(a, b, c)),
        ]
    }

    fn arb_floor() -> impl Strategy<Value = Version> {
        prop_oneof![
            3 => arb_release_floor(),
            1 => (arb_release_floor(), prop::sample::select(PRES.to_vec()))
                .prop_map(|(f, p)| f.with_pre(p)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn admits_below_matches_brute_force(text in arb_constraint(), floor in arb_floor()) {
            let k = Constraint::parse(&text).unwrap();
            let grid = grid();
            let brute: Vec<&Version> =
                grid.iter().filter(|g| **g < floor && k.satisfied_by(g)).collect();
            match k.admits_below(&floor) {
                None => prop_assert!(brute.is_empty(), "{text} below {floor}: missed {:?}", brute),
                Some(w) => {
                    prop_assert!(w < floor, "{text}: witness {w} not below {floor}");
                    prop_assert!(k.satisfied_by(&w), "{text}: witness {w} does not satisfy");
                    // Smallest release if any, else smallest pre-release.
                    if w.pre.is_none() {
                        prop_assert!(!brute.iter().any(|g| g.pre.is_none() && **g < w),
                            "{text}: smaller release than {w} exists");
                    } else {
                        prop_assert!(!brute.iter().any(|g| g.pre.is_none()),
                            "{text}: release exists but witness {w} is a pre-release");
                        prop_assert!(!brute.iter().any(|g| **g < w),
                            "{text}: smaller pre-release than {w} exists");
                    }
                }
            }
            // Same for the upward query.
            let brute_up: Vec<&Version> =
                grid.iter().filter(|g| **g >= floor && k.satisfied_by(g)).collect();
            match k.admits_at_or_above(&floor) {
                None => prop_assert!(brute_up.is_empty(), "{text} >= {floor}: missed {:?}", brute_up),
                Some(w) => {
                    prop_assert!(w >= floor);
                    prop_assert!(k.satisfied_by(&w));
                    if w.pre.is_none() {
                        prop_assert!(!brute_up.iter().any(|g| g.pre.is_none() && **g < w));
                    } else {
                        prop_assert!(!brute_up.iter().any(|g| g.pre.is_none() || **g < w));
                    }
                }
            }
        }

        #[test]
        fn bump_only_removes_versions_below_the_floor(
            text in arb_constraint(),
            floor in arb_release_floor(),
        ) {
            let original = Constraint::parse(&text).unwrap();
            let grid = grid();
            match bump(&text, &floor) {
                Ok(new_text) => {
                    let new = Constraint::parse(&new_text).unwrap();
                    prop_assert!(new.admits_below(&floor).is_none(),
                        "{text} -> {new_text} still admits below {floor}");
                    if original.admits_below(&floor).is_none() {
                        prop_assert_eq!(&new_text, &text);
                    }
                    let inserted = new.clauses.len() > original.clauses.len()
                        && !original.clauses.iter().any(|c| matches!(c.op, Op::Ge | Op::Gt | Op::Pessimistic));
                    for g in &grid {
                        let (o, n) = (original.satisfied_by(g), new.satisfied_by(g));
                        // Never adds a version.
                        prop_assert!(!n || o, "{text} -> {new_text} adds {g}");
                        // Keeps every admitted version at or above the floor (an inserted
                        // `>=` release bound also drops go-version's pre-releases).
                        if *g >= floor && o && !(inserted && g.pre.is_some()) {
                            prop_assert!(n, "{text} -> {new_text} drops {g} (floor {floor})");
                        }
                    }
                }
                Err(BumpError::NothingAtOrAboveFloor { .. }) => {
                    prop_assert!(original.admits_below(&floor).is_some());
                    prop_assert!(!grid.iter().any(|g| *g >= floor && g.pre.is_none() && original.satisfied_by(g)),
                        "{text}: refused though a release >= {floor} is admitted");
                }
                Err(e) => prop_assert!(false, "{text} (floor {floor}): unexpected {e}"),
            }
        }
    }
}
