//! CPE 2.3 names and NVD applicability: parses the formatted-string binding (NISTIR 7695) into
//! well-formed names, compares them with the attribute relations of NISTIR 7696, and evaluates
//! NVD `configurations` (AND/OR nodes, `negate`, version bounds) against the CPEs of one
//! release. No fuzzy vendor/product guessing: a component is only ever matched through its own
//! CPE. Version ordering is passed in by the caller so this stays free of ecosystem rules.
//! Pure: no I/O.

use crate::advisory::{CpeConfiguration, CpeMatch, Operator};
use rustc_hash::FxHashMap;
use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// Why a CPE string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid CPE {input:?}: {reason}")]
pub struct CpeError {
    pub input: String,
    pub reason: String,
}

/// The wildcard at one end of an attribute value: `*` (any run, possibly empty) or a run of
/// `?` (NISTIR 7696's algorithm lets a run of n match up to n characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Wild {
    #[default]
    None,
    Star,
    Marks(usize),
}

/// A string attribute value: literal characters (quoting removed; case kept for display,
/// ignored in comparisons) between optional leading and trailing wildcards, the only places
/// NISTIR 7695 allows unquoted `*` and `?`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value {
    pub lead: Wild,
    pub body: Vec<char>,
    pub trail: Wild,
}

impl Value {
    pub fn has_wildcards(&self) -> bool {
        self.lead != Wild::None || self.trail != Wild::None
    }
    /// The literal text, e.g. `11.5(1)` for the bound form `11.5\(1\)`; None with wildcards.
    pub fn literal(&self) -> Option<String> {
        (!self.has_wildcards()).then(|| self.body.iter().collect())
    }
    /// Same body, ignoring ASCII case (the comparison NISTIR 7696 asks for), without
    /// allocating: this runs for every criteria x candidate pair.
    fn body_eq(&self, other: &Value) -> bool {
        self.body.len() == other.body.len()
            && self
                .body
                .iter()
                .zip(&other.body)
                .all(|(a, b)| a.eq_ignore_ascii_case(b))
    }
}

/// One WFN attribute: the logical values ANY (`*`) and NA (`-`), or a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attr {
    Any,
    Na,
    Value(Value),
}

/// NISTIR 7696 attribute comparison results (source relative to target).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    Superset,
    Subset,
    Equal,
    Disjoint,
    Undefined,
}

pub const ATTRIBUTE_NAMES: [&str; 11] = [
    "part",
    "vendor",
    "product",
    "version",
    "update",
    "edition",
    "language",
    "sw_edition",
    "target_sw",
    "target_hw",
    "other",
];

/// A well-formed CPE name: the 11 attributes in [`ATTRIBUTE_NAMES`] order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wfn {
    pub attrs: [Attr; 11],
}

impl Wfn {
    pub fn part(&self) -> &Attr {
        &self.attrs[0]
    }
    pub fn vendor(&self) -> &Attr {
        &self.attrs[1]
    }
    pub fn product(&self) -> &Attr {
        &self.attrs[2]
    }
    pub fn version(&self) -> &Attr {
        &self.attrs[3]
    }
    pub fn update(&self) -> &Attr {
        &self.attrs[4]
    }
}

impl FromStr for Wfn {
    type Err = CpeError;

    /// The 2.3 formatted string (`cpe:2.3:a:vendor:product:1.2\.3:*:*:*:*:*:*:*`) or the
    /// 2.2 URI binding (`cpe:/a:vendor:product:1.0`).
    fn from_str(s: &str) -> Result<Self, CpeError> {
        let err = |reason: &str| CpeError {
            input: s.to_string(),
            reason: reason.to_string(),
        };
        let prefix = s.get(..8).map(str::to_ascii_lowercase);
        if prefix.as_deref() == Some("cpe:2.3:") {
            parse_fs(s.get(8..).unwrap_or_default()).map_err(|r| err(&r))
        } else if s.get(..5).map(str::to_ascii_lowercase).as_deref() == Some("cpe:/") {
            parse_uri(s.get(5..).unwrap_or_default()).map_err(|r| err(&r))
        } else {
            Err(err("expected `cpe:2.3:` or `cpe:/`"))
        }
    }
}

/// Splits the 11 formatted-string components on unescaped `:`.
fn parse_fs(rest: &str) -> Result<Wfn, String> {
    let mut parts: Vec<String> = vec![String::new()];
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let next = chars.next().ok_or("dangling `\\` at the end")?;
                if let Some(p) = parts.last_mut() {
                    p.push('\\');
                    p.push(next);
                }
            }
            ':' => parts.push(String::new()),
            c => {
                if let Some(p) = parts.last_mut() {
                    p.push(c);
                }
            }
        }
    }
    if parts.len() != 11 {
        return Err(format!(
            "{} components after `cpe:2.3:`, expected 11",
            parts.len()
        ));
    }
    let mut attrs: Vec<Attr> = Vec::with_capacity(11);
    for (i, p) in parts.iter().enumerate() {
        let name = ATTRIBUTE_NAMES.get(i).copied().unwrap_or("?");
        attrs.push(unbind_fs(p).map_err(|r| format!("{name}: {r}"))?);
    }
    into_wfn(attrs)
}

/// NISTIR 7695 6.2.3 (unbind_value_fs / add_quoting): `*` ANY, `-` NA, else a value whose
/// unquoted punctuation is taken literally and whose `*`/`?` may only stand at either end.
fn unbind_fs(s: &str) -> Result<Attr, String> {
    match s {
        "*" => return Ok(Attr::Any),
        "-" => return Ok(Attr::Na),
        "" => return Err("empty value".into()),
        _ => {}
    }
    // Tokens: (char, quoted).
    let mut toks: Vec<(char, bool)> = Vec::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            toks.push((it.next().ok_or("dangling `\\`")?, true));
        } else {
            toks.push((c, false));
        }
    }
    value_from_tokens(&toks).map(Attr::Value)
}

fn value_from_tokens(toks: &[(char, bool)]) -> Result<Value, String> {
    let is = |t: &(char, bool), w: char| !t.1 && t.0 == w;
    let mut start = 0;
    let lead = match toks.first() {
        Some(t) if is(t, '*') => {
            start = 1;
            Wild::Star
        }
        _ => {
            while toks.get(start).is_some_and(|t| is(t, '?')) {
                start += 1;
            }
            if start > 0 {
                Wild::Marks(start)
            } else {
                Wild::None
            }
        }
    };
    let mut end = toks.len();
    let trail = if end > start && toks.get(end - 1).is_some_and(|t| is(t, '*')) {
        end -= 1;
        Wild::Star
    } else {
        let mut n = 0;
        while end > start && toks.get(end - 1).is_some_and(|t| is(t, '?')) {
            end -= 1;
            n += 1;
        }
        if n > 0 {
            Wild::Marks(n)
        } else {
            Wild::None
        }
    };
    let mut body = Vec::with_capacity(end.saturating_sub(start));
    for &(c, quoted) in toks.get(start..end).unwrap_or_default() {
        if !quoted && (c == '*' || c == '?') {
            return Err(format!("unquoted `{c}` inside a value"));
        }
        if !c.is_ascii_graphic() {
            return Err(format!("character {c:?} is not printable ASCII"));
        }
        body.push(c);
    }
    Ok(Value { lead, body, trail })
}

/// The 2.2 URI binding (NISTIR 7695 6.1.3): percent-encoding, empty = ANY, `-` = NA,
/// `%01`/`%02` are `?`/`*`, and a `~`-packed edition carries the extended attributes.
fn parse_uri(rest: &str) -> Result<Wfn, String> {
    let comps: Vec<&str> = rest.split(':').collect();
    if comps.len() > 7 {
        return Err("more than 7 URI components".into());
    }
    let get = |i: usize| comps.get(i).copied().unwrap_or("");
    let mut attrs = vec![Attr::Any; 11];
    for (slot, i) in [(0, 0), (1, 1), (2, 2), (3, 3), (4, 4), (6, 6)] {
        if let Some(a) = attrs.get_mut(slot) {
            *a = unbind_uri(get(i))?;
        }
    }
    let edition = get(5);
    if let Some(packed) = edition.strip_prefix('~') {
        let fields: Vec<&str> = packed.split('~').collect();
        if fields.len() != 5 {
            return Err("packed edition needs 5 `~`-separated fields".into());
        }
        for (k, f) in fields.iter().enumerate() {
            if let Some(a) = attrs.get_mut(if k == 0 { 5 } else { 6 + k }) {
                *a = unbind_uri(f)?;
            }
        }
    } else if let Some(a) = attrs.get_mut(5) {
        *a = unbind_uri(edition)?;
    }
    into_wfn(attrs)
}

fn unbind_uri(s: &str) -> Result<Attr, String> {
    match s {
        "" => return Ok(Attr::Any),
        "-" => return Ok(Attr::Na),
        _ => {}
    }
    let bytes = s.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or("bad percent-encoding")?;
            toks.push(match hex {
                0x01 => ('?', false),
                0x02 => ('*', false),
                other => (char::from(other), true),
            });
            i += 3;
        } else {
            let c = char::from(b);
            // Unencoded punctuation is literal; only alphanumerics, `_`, `.`, `-` should occur.
            toks.push((c, !c.is_ascii_alphanumeric()));
            i += 1;
        }
    }
    value_from_tokens(&toks).map(Attr::Value)
}

fn into_wfn(attrs: Vec<Attr>) -> Result<Wfn, String> {
    let attrs: [Attr; 11] = attrs
        .try_into()
        .map_err(|_| "wrong number of attributes".to_string())?;
    match &attrs[0] {
        Attr::Any => {}
        Attr::Value(v)
            if !v.has_wildcards()
                && matches!(v.body.as_slice(), [c] if matches!(c.to_ascii_lowercase(), 'a' | 'o' | 'h')) =>
            {}
        _ => return Err("part must be `a`, `o`, `h` or `*`".into()),
    }
    Ok(Wfn { attrs })
}

impl fmt::Display for Wfn {
    /// The canonical formatted string: `.`, `-`, `_` unquoted, other punctuation quoted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cpe:2.3")?;
        for a in &self.attrs {
            f.write_str(":")?;
            match a {
                Attr::Any => f.write_str("*")?,
                Attr::Na => f.write_str("-")?,
                Attr::Value(v) => write_value(f, v)?,
            }
        }
        Ok(())
    }
}

fn write_value(f: &mut fmt::Formatter<'_>, v: &Value) -> fmt::Result {
    let wild = |f: &mut fmt::Formatter<'_>, w: Wild| match w {
        Wild::None => Ok(()),
        Wild::Star => f.write_str("*"),
        Wild::Marks(n) => f.write_str(&"?".repeat(n)),
    };
    wild(f, v.lead)?;
    // A lone literal hyphen must stay quoted, or it would read back as NA.
    if v.body == ['-'] && !v.has_wildcards() {
        return f.write_str("\\-");
    }
    for &c in &v.body {
        if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
            write!(f, "{c}")?;
        } else {
            write!(f, "\\{c}")?;
        }
    }
    wild(f, v.trail)
}

/// NISTIR 7696 table 6-2: how the source (criteria) value relates to the target (candidate).
/// Values compare case-insensitively.
pub fn attribute_relation(source: &Attr, target: &Attr) -> Relation {
    if let Attr::Value(t) = target {
        if t.has_wildcards() {
            return Relation::Undefined;
        }
    }
    match (source, target) {
        (Attr::Any, Attr::Any) | (Attr::Na, Attr::Na) => Relation::Equal,
        (Attr::Any, _) => Relation::Superset,
        (_, Attr::Any) => Relation::Subset,
        (Attr::Na, Attr::Value(_)) | (Attr::Value(_), Attr::Na) => Relation::Disjoint,
        (Attr::Value(s), Attr::Value(t)) => {
            if s.has_wildcards() {
                if wildcard_match(s, &t.body) {
                    Relation::Superset
                } else {
                    Relation::Disjoint
                }
            } else if s.body_eq(t) {
                Relation::Equal
            } else {
                Relation::Disjoint
            }
        }
    }
}

/// NISTIR 7696 compare_strings: the body must occur in the target preceded by at most what
/// the leading wildcard allows and followed by at most what the trailing one allows.
/// Case-insensitive (ASCII).
fn wildcard_match(pattern: &Value, target: &[char]) -> bool {
    let body = &pattern.body;
    let allows = |w: Wild, n: usize| match w {
        Wild::None => n == 0,
        Wild::Star => true,
        Wild::Marks(k) => n <= k,
    };
    let Some(last_start) = target.len().checked_sub(body.len()) else {
        return false;
    };
    (0..=last_start).any(|i| {
        target.get(i..i + body.len()).is_some_and(|t| {
            t.iter()
                .zip(body.iter())
                .all(|(a, b)| a.eq_ignore_ascii_case(b))
        }) && allows(pattern.lead, i)
            && allows(pattern.trail, last_start - i)
    })
}

/// Name match: the criteria (source) is a superset of or equal to the candidate in every
/// attribute. Wildcards in the candidate make the relation undefined, hence no match.
pub fn cpe_matches(criteria: &Wfn, candidate: &Wfn) -> bool {
    criteria
        .attrs
        .iter()
        .zip(candidate.attrs.iter())
        .all(|(s, t)| {
            matches!(
                attribute_relation(s, t),
                Relation::Superset | Relation::Equal
            )
        })
}

/// Outcome of one `cpeMatch` entry against one component CPE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryMatch {
    Matched,
    NotMatched,
    /// Same product, but whether the version is inside the bounds cannot be decided.
    Incomparable {
        reason: String,
    },
}

/// The entry's version bounds, human-readable: `versionStartIncluding 2.0, versionEndExcluding 2.15.0`.
pub fn describe_bounds(m: &CpeMatch) -> Option<String> {
    let parts: Vec<String> = bounds(m)
        .into_iter()
        .map(|(b, v)| format!("{} {v}", b.label()))
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

#[derive(Debug, Clone, Copy)]
enum Bound {
    StartIncluding,
    StartExcluding,
    EndIncluding,
    EndExcluding,
}

impl Bound {
    fn label(self) -> &'static str {
        match self {
            Bound::StartIncluding => "versionStartIncluding",
            Bound::StartExcluding => "versionStartExcluding",
            Bound::EndIncluding => "versionEndIncluding",
            Bound::EndExcluding => "versionEndExcluding",
        }
    }
    fn admits(self, ord: Ordering) -> bool {
        match self {
            Bound::StartIncluding => ord != Ordering::Less,
            Bound::StartExcluding => ord == Ordering::Greater,
            Bound::EndIncluding => ord != Ordering::Greater,
            Bound::EndExcluding => ord == Ordering::Less,
        }
    }
}

fn bounds(m: &CpeMatch) -> Vec<(Bound, &str)> {
    [
        (Bound::StartIncluding, &m.version_start_including),
        (Bound::StartExcluding, &m.version_start_excluding),
        (Bound::EndIncluding, &m.version_end_including),
        (Bound::EndExcluding, &m.version_end_excluding),
    ]
    .into_iter()
    .filter_map(|(b, v)| v.as_deref().map(|v| (b, v)))
    .collect()
}

/// A version order for CPE bounds, supplied by the caller so this module stays free of
/// ecosystem rules. Versions are parsed once (bounds when an advisory is compiled, candidates
/// when a release is gathered) and compared many times.
pub trait BoundOrder {
    type V;
    /// None when the text is not a version in this order (then it is incomparable).
    fn parse(&self, s: &str) -> Option<Self::V>;
    fn cmp(&self, a: &Self::V, b: &Self::V) -> Option<Ordering>;
}

/// A component CPE ready for evaluation: the name, and its version literal parsed once.
#[derive(Debug, Clone)]
pub struct Candidate<V> {
    pub wfn: Wfn,
    /// The version attribute's literal text (None for ANY, NA or a wildcard value).
    version_text: Option<String>,
    version: Option<V>,
    /// [`vp_key`] of the literal (vendor, product), for [`CandidateSet`].
    vp: Option<u64>,
}

impl<V> Candidate<V> {
    /// Parses what evaluation needs once; callers keep candidates (e.g. per component
    /// identity, shared through an `Arc`) to evaluate many configurations against them.
    pub fn new<O: BoundOrder<V = V>>(wfn: Wfn, order: &O) -> Self {
        let version_text = match wfn.version() {
            Attr::Value(v) => v.literal(),
            Attr::Any | Attr::Na => None,
        };
        let version = version_text.as_deref().and_then(|t| order.parse(t));
        Candidate {
            vp: vendor_product(&wfn).map(|vp| vp_key(&vp)),
            wfn,
            version_text,
            version,
        }
    }
}

/// A hash of a literal (vendor, product): the candidate index key. A collision only makes a
/// criteria meet a candidate that `cpe_matches` then rejects.
fn vp_key(vp: &(String, String)) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault};
    BuildHasherDefault::<rustc_hash::FxHasher>::default().hash_one(vp)
}

/// The lower-case literal (vendor, product) of a name, when both are plain values: a criteria
/// naming them can only match a candidate with the same pair.
pub fn vendor_product(w: &Wfn) -> Option<(String, String)> {
    let lit = |a: &Attr| match a {
        Attr::Value(v) => v.literal().map(|s| s.to_ascii_lowercase()),
        Attr::Any | Attr::Na => None,
    };
    Some((lit(w.vendor())?, lit(w.product())?))
}

/// The CPEs of one release, with an index by literal (vendor, product) so that each criteria
/// is compared only with the candidates that can match it.
#[derive(Debug, Clone)]
pub struct CandidateSet<V> {
    pub list: Vec<Arc<Candidate<V>>>,
    by_vp: FxHashMap<u64, Vec<usize>>,
}

impl<V> CandidateSet<V> {
    pub fn new(list: Vec<Arc<Candidate<V>>>) -> Self {
        let mut by_vp: FxHashMap<u64, Vec<usize>> = FxHashMap::default();
        for (i, c) in list.iter().enumerate() {
            if let Some(vp) = c.vp {
                by_vp.entry(vp).or_default().push(i);
            }
        }
        CandidateSet { list, by_vp }
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Candidates that may match `entry`, in order. A criteria with a literal vendor and
    /// product matches only candidates with the same literal pair (a candidate's ANY or
    /// wildcard there is a subset or undefined relation, never a match); any other criteria
    /// is tried on every candidate.
    fn for_entry(&self, entry: &CompiledEntry<V>) -> EntryCandidates<'_> {
        match &entry.vp {
            Some(vp) => {
                EntryCandidates::Some(self.by_vp.get(vp).map_or(&[][..], Vec::as_slice).iter())
            }
            None => EntryCandidates::All(0..self.list.len()),
        }
    }

    /// Whether `entry` can match any candidate at all (see [`CandidateSet::for_entry`]).
    fn may_match(&self, entry: &CompiledEntry<V>) -> bool {
        match &entry.vp {
            Some(vp) => self.by_vp.contains_key(vp),
            None => !self.list.is_empty(),
        }
    }
}

/// The candidates [`CandidateSet::for_entry`] offers, without allocating.
enum EntryCandidates<'s> {
    Some(std::slice::Iter<'s, usize>),
    All(std::ops::Range<usize>),
}

impl Iterator for EntryCandidates<'_> {
    type Item = usize;
    fn next(&mut self) -> Option<usize> {
        match self {
            EntryCandidates::Some(it) => it.next().copied(),
            EntryCandidates::All(r) => r.next(),
        }
    }
}

/// One `cpeMatch` entry with its criteria and bounds parsed.
#[derive(Debug, Clone)]
pub struct CompiledEntry<V> {
    pub source: CpeMatch,
    criteria: Result<Wfn, CpeError>,
    /// [`vp_key`] of the criteria's literal (vendor, product), for [`CandidateSet::for_entry`].
    vp: Option<u64>,
    /// (bound, its text, its parsed version when the order can read it).
    bounds: Vec<(Bound, String, Option<V>)>,
    /// `describe_bounds` of the entry, computed once for the evidence.
    bound_text: Option<String>,
}

impl<V> CompiledEntry<V> {
    pub fn compile<O: BoundOrder<V = V>>(m: &CpeMatch, order: &O) -> Self {
        let criteria = Wfn::from_str(&m.criteria);
        CompiledEntry {
            vp: criteria
                .as_ref()
                .ok()
                .and_then(vendor_product)
                .map(|vp| vp_key(&vp)),
            criteria,
            bounds: bounds(m)
                .into_iter()
                .map(|(b, t)| (b, t.to_string(), order.parse(t)))
                .collect(),
            bound_text: describe_bounds(m),
            source: m.clone(),
        }
    }

    /// The parsed criteria (None when the criteria string is not a CPE).
    pub fn criteria(&self) -> Option<&Wfn> {
        self.criteria.as_ref().ok()
    }
}

#[derive(Debug, Clone)]
pub struct CompiledNode<V> {
    operator: Operator,
    negate: bool,
    entries: Vec<CompiledEntry<V>>,
}

/// An NVD configuration with every criteria and bound parsed, evaluated many times.
#[derive(Debug, Clone)]
pub struct CompiledConfiguration<V> {
    operator: Operator,
    negate: bool,
    nodes: Vec<CompiledNode<V>>,
}

impl<V> CompiledConfiguration<V> {
    pub fn compile<O: BoundOrder<V = V>>(c: &CpeConfiguration, order: &O) -> Self {
        CompiledConfiguration {
            operator: c.operator,
            negate: c.negate,
            nodes: c
                .nodes
                .iter()
                .map(|n| CompiledNode {
                    operator: n.operator,
                    negate: n.negate,
                    entries: n
                        .cpe_match
                        .iter()
                        .map(|m| CompiledEntry::compile(m, order))
                        .collect(),
                })
                .collect(),
        }
    }

    pub fn entries(&self) -> impl Iterator<Item = &CompiledEntry<V>> {
        self.nodes.iter().flat_map(|n| n.entries.iter())
    }
}

/// Does one `cpeMatch` entry apply to the component's CPE, bounds included?
///
/// Bounds are only meaningful on a criteria whose version is ANY; a candidate whose version
/// is ANY, NA or a wildcard cannot be placed inside bounds, so it is Incomparable (never a
/// match: we cannot tell, and the caller reports it).
fn match_compiled<O: BoundOrder>(
    entry: &CompiledEntry<O::V>,
    candidate: &Candidate<O::V>,
    order: &O,
) -> EntryMatch {
    let Ok(criteria) = &entry.criteria else {
        return EntryMatch::NotMatched;
    };
    if !cpe_matches(criteria, &candidate.wfn) {
        return EntryMatch::NotMatched;
    }
    if entry.bounds.is_empty() {
        return EntryMatch::Matched;
    }
    let incomparable = |reason: String| EntryMatch::Incomparable { reason };
    if criteria.version() != &Attr::Any {
        return incomparable(format!(
            "criteria {} fixes a version and also has version bounds",
            entry.source.criteria
        ));
    }
    let Some(version) = candidate.version_text.as_deref() else {
        return incomparable("the component's CPE states no exact version".into());
    };
    let mut undecided = None;
    for (bound, limit, parsed) in &entry.bounds {
        let ord = match (&candidate.version, parsed) {
            (Some(a), Some(b)) => order.cmp(a, b),
            _ => None,
        };
        match ord {
            Some(ord) if bound.admits(ord) => {}
            Some(_) => return EntryMatch::NotMatched,
            None => {
                undecided.get_or_insert_with(|| {
                    format!(
                        "cannot order version {version:?} against {} {limit:?}",
                        bound.label()
                    )
                });
            }
        }
    }
    match undecided {
        Some(reason) => incomparable(reason),
        None => EntryMatch::Matched,
    }
}

/// One component CPE matched by a `vulnerable: true` entry of a configuration that holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpeHit {
    /// Index into the candidates passed to [`evaluate_compiled`].
    pub candidate: usize,
    pub criteria: String,
    pub match_criteria_id: Option<String>,
    /// e.g. `versionEndExcluding 1.2.3`.
    pub bound: Option<String>,
}

/// A vulnerable entry naming the candidate's product whose version could not be decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undecided {
    /// None when the criteria itself could not be parsed.
    pub candidate: Option<usize>,
    pub criteria: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evaluation {
    pub hits: Vec<CpeHit>,
    pub undecided: Vec<Undecided>,
}

/// Kleene three-valued logic: Unknown when an incomparable version decides the outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Truth {
    True,
    False,
    Unknown,
}

impl Truth {
    fn not(self, negate: bool) -> Truth {
        match (negate, self) {
            (false, t) | (true, t @ Truth::Unknown) => t,
            (true, Truth::True) => Truth::False,
            (true, Truth::False) => Truth::True,
        }
    }
    fn combine(op: Operator, items: impl Iterator<Item = Truth>) -> Truth {
        let (dominant, identity) = match op {
            Operator::And => (Truth::False, Truth::True),
            Operator::Or => (Truth::True, Truth::False),
        };
        let mut acc = identity;
        for t in items {
            if t == dominant {
                return dominant;
            }
            if t == Truth::Unknown {
                acc = Truth::Unknown;
            }
        }
        acc
    }
}

/// Evaluates one compiled NVD configuration against every CPE present in a release, so
/// "running on" platform entries can be met by another component (e.g. the OS). Returns the
/// candidates matched by `vulnerable: true` entries, only when the configuration as a whole
/// holds, plus the vulnerable entries that named a candidate's product but could not be
/// decided (no version, incomparable versions, unparsable criteria), for reporting.
///
/// Hits come only from non-negated nodes that hold; a negated configuration describes what is
/// not affected and so yields no hits, and `vulnerable: false` entries never yield hits.
/// Undecided entries are reported unless the configuration is false regardless of them.
pub fn evaluate_compiled<O: BoundOrder>(
    config: &CompiledConfiguration<O::V>,
    candidates: &CandidateSet<O::V>,
    order: &O,
) -> Evaluation {
    let mut out = Evaluation::default();
    // Hits and undecided entries both come from vulnerable entries that can match some
    // candidate (or cannot be parsed): a configuration without one is skipped whole, the common
    // case, since a release names few of the products a large NVD record lists.
    if !config
        .entries()
        .any(|e| e.source.vulnerable && (e.criteria.is_err() || candidates.may_match(e)))
    {
        return out;
    }
    // Per node: its truth and the hits its vulnerable entries would contribute.
    let mut node_results: Vec<(Truth, bool, Vec<CpeHit>)> = Vec::with_capacity(config.nodes.len());
    for node in &config.nodes {
        let (truth, hits) = evaluate_node(node, candidates, order, &mut out.undecided);
        node_results.push((truth.not(node.negate), node.negate, hits));
    }
    let whole =
        Truth::combine(config.operator, node_results.iter().map(|r| r.0)).not(config.negate);
    // Undecided entries only matter where the configuration could still hold.
    if whole == Truth::False || config.negate {
        out.undecided.clear();
    }
    if whole != Truth::True || config.negate {
        return out;
    }
    for (truth, negated, hits) in node_results {
        if truth == Truth::True && !negated {
            out.hits.extend(hits);
        }
    }
    out
}

fn evaluate_node<O: BoundOrder>(
    node: &CompiledNode<O::V>,
    candidates: &CandidateSet<O::V>,
    order: &O,
    undecided: &mut Vec<Undecided>,
) -> (Truth, Vec<CpeHit>) {
    let mut hits = Vec::new();
    let mut acc = match node.operator {
        Operator::And => Truth::True,
        Operator::Or => Truth::False,
    };
    for entry in &node.entries {
        let m = &entry.source;
        let truth = match &entry.criteria {
            Err(e) => {
                if m.vulnerable {
                    undecided.push(Undecided {
                        candidate: None,
                        criteria: m.criteria.clone(),
                        reason: e.to_string(),
                    });
                }
                Truth::Unknown
            }
            Ok(_) => {
                let mut t = Truth::False;
                for i in candidates.for_entry(entry) {
                    let Some(cand) = candidates.list.get(i) else {
                        continue;
                    };
                    match match_compiled(entry, cand, order) {
                        EntryMatch::Matched => {
                            t = Truth::True;
                            if m.vulnerable {
                                hits.push(CpeHit {
                                    candidate: i,
                                    criteria: m.criteria.clone(),
                                    match_criteria_id: m.match_criteria_id.clone(),
                                    bound: entry.bound_text.clone(),
                                });
                            }
                        }
                        EntryMatch::NotMatched => {}
                        EntryMatch::Incomparable { reason } => {
                            if t == Truth::False {
                                t = Truth::Unknown;
                            }
                            if m.vulnerable {
                                undecided.push(Undecided {
                                    candidate: Some(i),
                                    criteria: m.criteria.clone(),
                                    reason,
                                });
                            }
                        }
                    }
                }
                t
            }
        };
        acc = Truth::combine(node.operator, [acc, truth].into_iter());
    }
    (acc, hits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advisory::CpeNode;

    // String-ordered front doors to the compiled evaluation, so tests can state versions and
    // orders inline.

    /// A [`BoundOrder`] over plain strings, for callers that compare text directly.
    struct StrOrder<'f>(pub &'f dyn Fn(&str, &str) -> Option<Ordering>);

    impl BoundOrder for StrOrder<'_> {
        type V = String;
        fn parse(&self, s: &str) -> Option<String> {
            Some(s.to_string())
        }
        fn cmp(&self, a: &String, b: &String) -> Option<Ordering> {
            (self.0)(a, b)
        }
    }

    /// Does one `cpeMatch` entry apply to the component's CPE, bounds included? `cmp(a, b)`
    /// orders two version strings (None when incomparable).
    ///
    /// Bounds are only meaningful on a criteria whose version is ANY; a candidate whose version
    /// is ANY, NA or a wildcard cannot be placed inside bounds, so it is Incomparable (never a
    /// match: we cannot tell, and the caller reports it).
    fn match_entry(
        m: &CpeMatch,
        candidate: &Wfn,
        cmp: &dyn Fn(&str, &str) -> Option<Ordering>,
    ) -> EntryMatch {
        let order = StrOrder(cmp);
        let entry = CompiledEntry::compile(m, &order);
        match &entry.criteria {
            Ok(_) => match_compiled(&entry, &Candidate::new(candidate.clone(), &order), &order),
            Err(e) => EntryMatch::Incomparable {
                reason: e.to_string(),
            },
        }
    }

    /// Evaluates one NVD configuration against every CPE present in a release, so "running on"
    /// platform entries can be met by another component (e.g. the OS). Returns the candidates
    /// matched by `vulnerable: true` entries, only when the configuration as a whole holds.
    fn evaluate(
        config: &CpeConfiguration,
        candidates: &[Wfn],
        cmp: &dyn Fn(&str, &str) -> Option<Ordering>,
    ) -> Vec<CpeHit> {
        evaluate_detailed(config, candidates, cmp).hits
    }

    /// As [`evaluate`], plus the vulnerable entries that named a candidate's product but could not
    /// be decided (no version, incomparable versions, unparsable criteria), for reporting.
    fn evaluate_detailed(
        config: &CpeConfiguration,
        candidates: &[Wfn],
        cmp: &dyn Fn(&str, &str) -> Option<Ordering>,
    ) -> Evaluation {
        let order = StrOrder(cmp);
        let cands = CandidateSet::new(
            candidates
                .iter()
                .map(|w| Arc::new(Candidate::new(w.clone(), &order)))
                .collect(),
        );
        evaluate_compiled(
            &CompiledConfiguration::compile(config, &order),
            &cands,
            &order,
        )
    }
    use std::path::{Path, PathBuf};

    fn nvd() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/nvd")
    }

    fn wfn(s: &str) -> Wfn {
        s.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Dotted numeric versions only; anything else is incomparable.
    fn dotted(a: &str, b: &str) -> Option<Ordering> {
        let parse =
            |s: &str| -> Option<Vec<u64>> { s.split('.').map(|p| p.parse().ok()).collect() };
        let (mut x, mut y) = (parse(a)?, parse(b)?);
        let n = x.len().max(y.len());
        x.resize(n, 0);
        y.resize(n, 0);
        Some(x.cmp(&y))
    }

    fn strings_under(v: &serde_json::Value, key: &str, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                if let Some(serde_json::Value::String(s)) = m.get(key) {
                    out.push(s.clone());
                }
                m.values().for_each(|x| strings_under(x, key, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| strings_under(x, key, out)),
            _ => {}
        }
    }

    fn read_json(p: &Path) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    }

    /// NVD API 2.0 `configurations[]` JSON into the shared model (the real parser lives in
    /// the advisory module; this keeps the test independent of it).
    fn configs(cve: &str) -> Vec<CpeConfiguration> {
        let v = read_json(&nvd().join("records").join(format!("{cve}.json")));
        let op = |v: &serde_json::Value| match v.as_str() {
            Some("AND") => Operator::And,
            _ => Operator::Or,
        };
        let s = |v: &serde_json::Value| v.as_str().map(str::to_string);
        v["cve"]["configurations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| CpeConfiguration {
                operator: op(&c["operator"]),
                negate: c["negate"].as_bool().unwrap_or(false),
                nodes: c["nodes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|n| CpeNode {
                        operator: op(&n["operator"]),
                        negate: n["negate"].as_bool().unwrap_or(false),
                        cpe_match: n["cpeMatch"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|m| CpeMatch {
                                vulnerable: m["vulnerable"].as_bool().unwrap(),
                                criteria: s(&m["criteria"]).unwrap(),
                                match_criteria_id: s(&m["matchCriteriaId"]),
                                version_start_including: s(&m["versionStartIncluding"]),
                                version_start_excluding: s(&m["versionStartExcluding"]),
                                version_end_including: s(&m["versionEndIncluding"]),
                                version_end_excluding: s(&m["versionEndExcluding"]),
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect()
    }

    fn hits_all(configs: &[CpeConfiguration], cands: &[&str]) -> Vec<CpeHit> {
        let cands: Vec<Wfn> = cands.iter().map(|c| wfn(c)).collect();
        configs
            .iter()
            .flat_map(|c| evaluate(c, &cands, &dotted))
            .collect()
    }

    #[test]
    fn every_nvd_cpe_parses_and_round_trips() {
        // Every NVD file of the corpus: the records page, the raw API responses it came from,
        // and the CPE dictionary API samples.
        fn walk(dir: &Path, criteria: &mut Vec<String>, names: &mut Vec<String>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(&p, criteria, names);
                } else if p.extension().is_some_and(|x| x == "json") {
                    let v = read_json(&p);
                    strings_under(&v, "criteria", criteria);
                    strings_under(&v, "cpeName", names);
                }
            }
        }
        let (mut criteria, mut names) = (Vec::new(), Vec::new());
        walk(&nvd(), &mut criteria, &mut names);
        assert!(
            criteria.len() > 2000 && names.len() > 500,
            "{} {}",
            criteria.len(),
            names.len()
        );
        names.extend(criteria);
        for n in &names {
            let w = wfn(n);
            assert_eq!(&w.to_string(), n);
            assert!(cpe_matches(&w, &w), "a name matches itself: {n}");
        }
    }

    /// The candidate index may skip a candidate only when the criteria cannot match it: for
    /// every real NVD criteria against every real CPE name of the corpus (plus names with ANY,
    /// NA and wildcard vendors/products, and mixed case), `for_entry` yields every candidate
    /// `cpe_matches` accepts.
    #[test]
    fn candidate_index_never_skips_a_match() {
        fn walk(dir: &Path, out: &mut Vec<String>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(&p, out);
                } else if p.extension().is_some_and(|x| x == "json") {
                    let v = read_json(&p);
                    strings_under(&v, "criteria", out);
                    strings_under(&v, "cpeName", out);
                }
            }
        }
        let mut all = Vec::new();
        walk(&nvd(), &mut all);
        all.sort();
        all.dedup();
        let order = StrOrder(&dotted);
        let mut names: Vec<Wfn> = all.iter().map(|n| wfn(n)).collect();
        for extra in [
            "cpe:2.3:a:*:openssl:1.0.2:*:*:*:*:*:*:*",
            "cpe:2.3:a:openssl:*:1.0.2:*:*:*:*:*:*:*",
            "cpe:2.3:a:-:-:1.0:*:*:*:*:*:*:*",
            "cpe:2.3:a:OpenSSL:OpenSSL:1.0.2:*:*:*:*:*:*:*",
            "cpe:2.3:a:open*:openssl:1.0.2:*:*:*:*:*:*:*",
            "cpe:2.3:*:*:*:*:*:*:*:*:*:*:*",
        ] {
            names.push(wfn(extra));
        }
        let set = CandidateSet::new(
            names
                .iter()
                .map(|w| Arc::new(Candidate::new(w.clone(), &order)))
                .collect(),
        );
        let mut extra_criteria: Vec<String> = vec![
            "cpe:2.3:a:*:openssl:*:*:*:*:*:*:*:*".into(),
            "cpe:2.3:a:openss?:*:*:*:*:*:*:*:*:*".into(),
            "cpe:2.3:*:*:*:*:*:*:*:*:*:*:*".into(),
            "cpe:2.3:a:OPENSSL:OPENSSL:*:*:*:*:*:*:*:*".into(),
        ];
        extra_criteria.extend(all.iter().step_by(7).cloned());
        let (mut pairs, mut matched) = (0usize, 0usize);
        for c in &extra_criteria {
            let entry = CompiledEntry::compile(
                &CpeMatch {
                    vulnerable: true,
                    criteria: c.clone(),
                    ..CpeMatch::default()
                },
                &order,
            );
            let criteria = entry.criteria().unwrap().clone();
            let offered: std::collections::HashSet<usize> = set.for_entry(&entry).collect();
            for (i, cand) in set.list.iter().enumerate() {
                pairs += 1;
                if cpe_matches(&criteria, &cand.wfn) {
                    matched += 1;
                    assert!(offered.contains(&i), "{c} skips {}", cand.wfn);
                }
            }
        }
        assert!(
            matched > extra_criteria.len(),
            "{matched} matches in {pairs} pairs"
        );
    }

    #[test]
    fn nistir_7695_bindings() {
        let w = wfn("cpe:2.3:a:microsoft:internet_explorer:8.0.6001:beta:*:*:*:*:*:*");
        assert_eq!(
            w.version(),
            &Attr::Value(Value {
                lead: Wild::None,
                body: "8.0.6001".chars().collect(),
                trail: Wild::None
            })
        );
        assert_eq!(w.attrs[5], Attr::Any);
        let w = wfn("cpe:2.3:a:microsoft:internet_explorer:8.*:sp?:*:*:*:*:*:*");
        assert_eq!(
            w.version(),
            &Attr::Value(Value {
                lead: Wild::None,
                body: vec!['8', '.'],
                trail: Wild::Star
            })
        );
        assert_eq!(
            w.update(),
            &Attr::Value(Value {
                lead: Wild::None,
                body: vec!['s', 'p'],
                trail: Wild::Marks(1)
            })
        );
        let w = wfn("cpe:2.3:a:hp:insight_diagnostics:7.4.0.1570:-:*:*:online:win2003:x64:*");
        assert_eq!(w.update(), &Attr::Na);
        let w = wfn(r"cpe:2.3:a:foo\\bar:big\$money_2010:*:*:*:*:special:ipod_touch:80gb:*");
        assert_eq!(
            w.vendor(),
            &Attr::Value(Value {
                lead: Wild::None,
                body: r"foo\bar".chars().collect(),
                trail: Wild::None
            })
        );
        assert_eq!(
            w.to_string(),
            r"cpe:2.3:a:foo\\bar:big\$money_2010:*:*:*:*:special:ipod_touch:80gb:*"
        );
        // 2.2 URI binding, with a packed edition.
        assert_eq!(
            wfn("cpe:/a:hp:insight_diagnostics:7.4.0.1570::~~online~win2003~x64~").to_string(),
            "cpe:2.3:a:hp:insight_diagnostics:7.4.0.1570:*:*:*:online:win2003:x64:*"
        );
        assert_eq!(
            wfn("cpe:/a:microsoft:internet_explorer:8.%02:sp%01").to_string(),
            "cpe:2.3:a:microsoft:internet_explorer:8.*:sp?:*:*:*:*:*:*"
        );
        assert_eq!(
            wfn("cpe:/o:linux:linux_kernel:2.6.0").to_string(),
            "cpe:2.3:o:linux:linux_kernel:2.6.0:*:*:*:*:*:*:*"
        );
    }

    #[test]
    fn escaping() {
        // Quoted `.` is the same value as unquoted; output is canonical.
        let w = wfn(r"cpe:2.3:a:vendor:product:1.2\.3:*:*:*:*:*:*:*");
        assert_eq!(
            w.to_string(),
            "cpe:2.3:a:vendor:product:1.2.3:*:*:*:*:*:*:*"
        );
        assert_eq!(w, wfn("cpe:2.3:a:vendor:product:1.2.3:*:*:*:*:*:*:*"));
        // An escaped `:` stays inside the attribute.
        let w = wfn(r"cpe:2.3:a:cisco:dna_spaces\:_connector:*:*:*:*:*:*:*:*");
        assert_eq!(
            w.product(),
            &Attr::Value(Value {
                lead: Wild::None,
                body: "dna_spaces:_connector".chars().collect(),
                trail: Wild::None
            })
        );
        let w = wfn(r"cpe:2.3:a:cisco:finesse:12.6\(1\):*:*:*:*:*:*:*");
        assert!(matches!(w.version(), Attr::Value(v) if v.literal().as_deref() == Some("12.6(1)")));
        // Unquoted punctuation is taken literally and bound back quoted.
        assert_eq!(
            wfn("cpe:2.3:a:x:c++:1:*:*:*:*:*:*:*").to_string(),
            r"cpe:2.3:a:x:c\+\+:1:*:*:*:*:*:*:*"
        );
        // `\-` alone is a value, not NA; `\*` is a literal star, not ANY.
        let w = wfn(r"cpe:2.3:a:x:y:\-:\*:*:*:*:*:*:*");
        assert!(matches!(w.version(), Attr::Value(_)));
        assert_eq!(w.to_string(), r"cpe:2.3:a:x:y:\-:\*:*:*:*:*:*:*");
        assert!(!cpe_matches(&w, &wfn(r"cpe:2.3:a:x:y:\-:beta:*:*:*:*:*:*")));
        assert!(cpe_matches(&w, &wfn(r"cpe:2.3:a:x:y:\-:\*:*:*:*:*:*:*")));
        // Malformed names are errors, never panics.
        for bad in [
            "cpe:2.3:a:x:y:1*2:*:*:*:*:*:*:*",
            "cpe:2.3:a:x:y:1?2:*:*:*:*:*:*:*",
            "cpe:2.3:a:x:y:*:*:*:*:*:*:*",
            "cpe:2.3:a:x:y:*:*:*:*:*:*:*:*:*",
            "cpe:2.3:a:x:y:1:*:*:*:*:*:*:\\",
            "cpe:2.3:q:x:y:1:*:*:*:*:*:*:*",
            "cpe:2.3:a:x::1:*:*:*:*:*:*:*",
            "cpe:2.3:a:x:y z:1:*:*:*:*:*:*:*",
            "cpe:/a:x:y:%zz",
            "cpe:2.3:",
            "",
            "cpe:2.3:a:é:y:1:*:*:*:*:*:*:*",
        ] {
            assert!(bad.parse::<Wfn>().is_err(), "{bad}");
        }
    }

    #[test]
    fn nistir_7696_attribute_table() {
        let v = |s: &str| match unbind_fs(s).unwrap() {
            a @ Attr::Value(_) => a,
            other => panic!("{other:?}"),
        };
        use Relation::*;
        let rows = [
            (Attr::Any, Attr::Any, Equal),
            (Attr::Any, Attr::Na, Superset),
            (Attr::Any, v("foo"), Superset),
            (Attr::Any, v("foo*"), Undefined),
            (Attr::Na, Attr::Any, Subset),
            (Attr::Na, Attr::Na, Equal),
            (Attr::Na, v("foo"), Disjoint),
            (Attr::Na, v("foo*"), Undefined),
            (v("foo"), Attr::Any, Subset),
            (v("foo"), Attr::Na, Disjoint),
            (v("foo"), v("FOO"), Equal),
            (v("foo"), v("bar"), Disjoint),
            (v("foo"), v("fo?"), Undefined),
            (v("fo*"), Attr::Any, Subset),
            (v("fo*"), Attr::Na, Disjoint),
            (v("fo*"), v("foobar"), Superset),
            (v("fo*"), v("bar"), Disjoint),
            (v("fo*"), v("f*"), Undefined),
            // `?` runs: up to n characters at that end (NISTIR 7696 compare_strings).
            (v("sp?"), v("sp2"), Superset),
            (v("sp?"), v("sp"), Superset),
            (v("sp?"), v("sp12"), Disjoint),
            (v("??x"), v("abx"), Superset),
            (v("??x"), v("abcx"), Disjoint),
            (v("*in*"), v("win2003"), Superset),
            (v(r"\*"), v(r"\*"), Equal),
        ];
        for (s, t, want) in rows {
            assert_eq!(attribute_relation(&s, &t), want, "{s:?} vs {t:?}");
        }
        // Name matching: the pattern is a superset; wildcards in the candidate never match.
        let pattern = wfn("cpe:2.3:a:microsoft:internet_explorer:8.*:sp?:*:*:*:*:*:*");
        assert!(cpe_matches(
            &pattern,
            &wfn("cpe:2.3:a:microsoft:internet_explorer:8.0.6001:sp2:*:*:*:*:*:*")
        ));
        assert!(!cpe_matches(
            &pattern,
            &wfn("cpe:2.3:a:microsoft:internet_explorer:9.0:sp2:*:*:*:*:*:*")
        ));
        assert!(!cpe_matches(
            &wfn("cpe:2.3:a:microsoft:internet_explorer:8.0.6001:sp2:*:*:*:*:*:*"),
            &pattern
        ));
        // Case-insensitive, but no product guessing.
        assert!(cpe_matches(
            &wfn("cpe:2.3:a:Apache:Log4j:*:*:*:*:*:*:*:*"),
            &wfn("cpe:2.3:a:apache:log4j:2.14.1:*:*:*:*:*:*:*")
        ));
        assert!(!cpe_matches(
            &wfn("cpe:2.3:a:apache:log4j:*:*:*:*:*:*:*:*"),
            &wfn("cpe:2.3:a:apache:log4j2:2.14.1:*:*:*:*:*:*:*")
        ));
    }

    #[test]
    fn entry_bounds() {
        let m = CpeMatch {
            vulnerable: true,
            criteria: "cpe:2.3:a:webmproject:libwebp:*:*:*:*:*:*:*:*".into(),
            version_start_including: Some("0.5.0".into()),
            version_end_excluding: Some("1.3.2".into()),
            ..CpeMatch::default()
        };
        let at = |v: &str| {
            match_entry(
                &m,
                &wfn(&format!("cpe:2.3:a:webmproject:libwebp:{v}:*:*:*:*:*:*:*")),
                &dotted,
            )
        };
        assert_eq!(at("1.3.1"), EntryMatch::Matched);
        assert_eq!(at("0.5.0"), EntryMatch::Matched);
        assert_eq!(at("1.3.2"), EntryMatch::NotMatched);
        assert_eq!(at("0.4.9"), EntryMatch::NotMatched);
        assert!(matches!(at("*"), EntryMatch::Incomparable { .. }));
        assert!(matches!(at("-"), EntryMatch::Incomparable { .. }));
        assert!(matches!(at("1.3.1-rc1"), EntryMatch::Incomparable { .. }));
        assert!(matches!(
            at("1.*"),
            EntryMatch::Incomparable { .. } | EntryMatch::NotMatched
        ));
        assert_eq!(
            describe_bounds(&m).as_deref(),
            Some("versionStartIncluding 0.5.0, versionEndExcluding 1.3.2")
        );
        // A different product never reaches the version check.
        let other = wfn("cpe:2.3:a:google:chrome:1.0:*:*:*:*:*:*:*");
        assert_eq!(match_entry(&m, &other, &dotted), EntryMatch::NotMatched);
        let bad = CpeMatch {
            criteria: "cpe:2.3:a:broken".into(),
            ..m.clone()
        };
        assert!(matches!(
            match_entry(&bad, &other, &dotted),
            EntryMatch::Incomparable { .. }
        ));
    }

    #[test]
    fn libwebp_and_xz_records() {
        let webp = configs("CVE-2023-4863");
        let h = hits_all(
            &webp,
            &["cpe:2.3:a:webmproject:libwebp:1.3.1:*:*:*:*:*:*:*"],
        );
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].bound.as_deref(), Some("versionEndExcluding 1.3.2"));
        assert!(h[0].match_criteria_id.is_some());
        assert!(hits_all(
            &webp,
            &["cpe:2.3:a:webmproject:libwebp:1.3.2:*:*:*:*:*:*:*"]
        )
        .is_empty());
        // The OS is listed as vulnerable itself in this record, so it is a hit of its own.
        let h = hits_all(&webp, &["cpe:2.3:o:debian:debian_linux:12.0:*:*:*:*:*:*:*"]);
        assert_eq!(h.len(), 1);
        assert!(hits_all(&webp, &["cpe:2.3:o:debian:debian_linux:13.0:*:*:*:*:*:*:*"]).is_empty());

        let xz = configs("CVE-2024-3094");
        assert_eq!(
            hits_all(&xz, &["cpe:2.3:a:tukaani:xz:5.6.1:*:*:*:*:*:*:*"]).len(),
            1
        );
        assert!(hits_all(&xz, &["cpe:2.3:a:tukaani:xz:5.4.6:*:*:*:*:*:*:*"]).is_empty());
        assert!(hits_all(&xz, &["cpe:2.3:a:tukaani:xz:*:*:*:*:*:*:*:*"]).is_empty());
    }

    #[test]
    fn log4shell_ranges_and_platforms() {
        let cfgs = configs("CVE-2021-44228");
        let log4j = |v: &str| format!("cpe:2.3:a:apache:log4j:{v}:*:*:*:*:*:*:*");
        for (v, hit) in [
            ("2.14.1", true),
            ("2.15.0", false), // versionEndExcluding 2.15.0
            ("2.13.0", true),  // versionStartIncluding 2.13.0
            ("2.12.1", true),
            ("2.12.2", false), // end of the 2.4.0 range, before 2.13.0
            ("2.3.0", true),
            ("2.3.1", false),
            ("1.2.17", false),
        ] {
            let h = hits_all(&cfgs, &[&log4j(v)]);
            assert_eq!(!h.is_empty(), hit, "log4j {v}: {h:?}");
        }
        // Explicit pre-release entries match by name, with the update attribute.
        assert_eq!(
            hits_all(&cfgs, &["cpe:2.3:a:apache:log4j:2.0:beta9:*:*:*:*:*:*"]).len(),
            1
        );
        assert!(hits_all(&cfgs, &["cpe:2.3:a:apache:log4j:2.0:beta8:*:*:*:*:*:*"]).is_empty());

        // AND configurations: Siemens firmware is affected only on its hardware.
        let fw =
            |v: &str| format!("cpe:2.3:o:siemens:6bk1602-0aa12-0tp0_firmware:{v}:*:*:*:*:*:*:*");
        let hw = "cpe:2.3:h:siemens:6bk1602-0aa12-0tp0:-:*:*:*:*:*:*:*";
        let h = hits_all(&cfgs, &[hw, &fw("2.6.9")]);
        assert_eq!(h.len(), 1);
        assert_eq!(
            h[0].candidate, 1,
            "the firmware, never the platform, is the hit"
        );
        assert!(
            hits_all(&cfgs, &[hw, &fw("2.7.0")]).is_empty(),
            "at versionEndExcluding"
        );
        assert!(
            hits_all(&cfgs, &[&fw("2.6.9")]).is_empty(),
            "platform absent"
        );
        assert!(
            hits_all(&cfgs, &[hw]).is_empty(),
            "running-on platform alone"
        );
        let other_hw = "cpe:2.3:h:siemens:6bk1602-0aa22-0tp0:-:*:*:*:*:*:*:*";
        assert!(hits_all(&cfgs, &[other_hw, &fw("2.6.9")]).is_empty());
    }

    #[test]
    fn espressif_and_negation() {
        let cfgs = configs("CVE-2020-13595");
        let idf = |v: &str| format!("cpe:2.3:a:espressif:esp-idf:{v}:*:*:*:*:*:*:*");
        let board = "cpe:2.3:h:espressif:esp32:-:*:*:*:*:*:*:*";
        assert_eq!(
            hits_all(&cfgs, &[&idf("4.2"), board]).len(),
            1,
            "versionEndIncluding 4.2"
        );
        assert!(hits_all(&cfgs, &[&idf("4.2.1"), board]).is_empty());
        assert!(hits_all(&cfgs, &[&idf("3.9"), board]).is_empty());

        // Hand-made variants of the same configuration for the logic the corpus lacks.
        let base = cfgs[0].clone();
        let cands: Vec<Wfn> = vec![wfn(&idf("4.1")), wfn(board)];
        let mut negated_platform = base.clone();
        negated_platform.nodes[1].negate = true;
        assert!(
            evaluate(&negated_platform, &cands, &dotted).is_empty(),
            "not on esp32"
        );
        assert_eq!(
            evaluate(&negated_platform, &cands[..1], &dotted).len(),
            1,
            "on anything else"
        );
        let mut negated_config = base.clone();
        negated_config.negate = true;
        assert!(evaluate(&negated_config, &cands[..1], &dotted).is_empty());
        // Only non-vulnerable entries: never a hit.
        let mut platform_only = base.clone();
        platform_only.nodes.remove(0);
        platform_only.operator = Operator::Or;
        assert!(evaluate(&platform_only, &cands, &dotted).is_empty());
        // An undecidable version is reported, not hit, and only while the platform is present.
        let odd = vec![wfn(&idf("4.1-beta")), wfn(board)];
        let e = evaluate_detailed(&base, &odd, &dotted);
        assert!(e.hits.is_empty());
        assert_eq!(e.undecided.len(), 1);
        assert_eq!(e.undecided[0].candidate, Some(0));
        assert!(evaluate_detailed(&base, &odd[..1], &dotted)
            .undecided
            .is_empty());
    }
}
