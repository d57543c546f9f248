//! Issue 4 on real data, library and CLI: version ordering through `soupwatch versions compare`,
//! OSV range boundaries worked out here from the records themselves and checked through
//! `soupwatch scan --mirror` on the whole shared corpus, the JSON shape of the scan report and
//! its exit codes, RustSec database vs RustSec's OSV export agreement, NVD CPE configurations
//! (bounds and "running on" platforms), and withdrawn records raising nothing.
//!
//! Expectations are never taken from the matcher: OSV ranges are evaluated here with the
//! interval reading of the OSV schema (a version is affected when some `introduced <= v` has no
//! `fixed` in `[introduced, v]` and no `last_affected` in `[introduced, v)`, under any `limit`),
//! using only the version ordering of `soupwatch::versions`, which is itself checked against
//! the CLI and for order properties here.

mod common;
use common::osv_purl::{enc, purl_for};
use common::*;

use serde_json::{json, Value};
use soupwatch::advisory::{self, Advisory};
use soupwatch::matching::engine::{match_advisory, AdvisorySet, CompiledAdvisory, ComponentView};
use soupwatch::matching::identity;
use soupwatch::model::Component;
use soupwatch::versions::{self, Scheme, Version};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

// ---------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------

/// Deterministic xorshift: samples are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Every OSV record of the corpus: (folder, file, raw JSON), sorted by path.
fn osv_records() -> Vec<(String, PathBuf, Value)> {
    let base = corpus().join("osv");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&base)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut out = Vec::new();
    for d in dirs {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        let folder = d.file_name().unwrap().to_string_lossy().into_owned();
        for f in files {
            let v: Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
            out.push((folder.clone(), f, v));
        }
    }
    out
}

fn events(range: &Value) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    for e in range["events"].as_array().into_iter().flatten() {
        if let Some(obj) = e.as_object() {
            for (k, v) in obj {
                if let Some(s) = v.as_str() {
                    out.push((k.as_str(), s));
                }
            }
        }
    }
    out
}

fn str_list(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}

/// An SBOM component to write: (bom-ref, name, version, purl, cpe).
type Comp = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);
/// (component bom-ref, advisory id, source) of matched records.
type HitSet = BTreeSet<(String, String, String)>;
/// (component bom-ref, advisory id) of undetermined pairs.
type PairSet = BTreeSet<(String, String)>;

/// `delta` added to the last numeric run before any `+build` suffix: a neighbour version.
fn bump(v: &str, delta: i64) -> Option<String> {
    let end = v.find('+').unwrap_or(v.len());
    let head = &v[..end];
    let bytes = head.as_bytes();
    let last_digit = bytes.iter().rposition(|b| b.is_ascii_digit())?;
    let start = bytes[..=last_digit]
        .iter()
        .rposition(|b| !b.is_ascii_digit())
        .map_or(0, |i| i + 1);
    let run = &head[start..=last_digit];
    if run.len() > 15 {
        return None;
    }
    let n: i64 = run.parse().ok()?;
    let m = n + delta;
    if m < 0 {
        return None;
    }
    Some(format!(
        "{}{}{}",
        &head[..start],
        m,
        &v[start + run.len()..]
    ))
}

/// A version below `v`: the last numeric run minus one, else the last non-zero run minus one
/// (`2.7.0` -> `2.6.0`).
fn below(v: &str) -> Option<String> {
    if let Some(b) = bump(v, -1) {
        return Some(b);
    }
    let end = v.find('+').unwrap_or(v.len());
    let head = &v[..end];
    let bytes = head.as_bytes();
    let mut i = bytes.len();
    while i > 0 {
        if bytes[i - 1].is_ascii_digit() {
            let stop = i;
            while i > 0 && bytes[i - 1].is_ascii_digit() {
                i -= 1;
            }
            let run = &head[i..stop];
            if run.len() <= 15 && run.parse::<u64>().is_ok_and(|n| n > 0) {
                let n: u64 = run.parse().ok()?;
                return Some(format!("{}{}{}", &head[..i], n - 1, &v[stop..]));
            }
        } else {
            i -= 1;
        }
    }
    None
}

/// A CycloneDX 1.5 JSON document with these components: (bom-ref, name, version, purl, cpe).
fn cdx(components: &[Comp]) -> Vec<u8> {
    let comps: Vec<Value> = components
        .iter()
        .map(|(r, n, v, p, c)| {
            let mut o = json!({"type": "library", "bom-ref": r, "name": n});
            if let Some(v) = v {
                o["version"] = json!(v);
            }
            if let Some(p) = p {
                o["purl"] = json!(p);
            }
            if let Some(c) = c {
                o["cpe"] = json!(c);
            }
            o
        })
        .collect();
    serde_json::to_vec_pretty(&json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
        "version": 1,
        "metadata": {
            "timestamp": "2024-01-01T00:00:00Z",
            "component": {"type": "application", "bom-ref": "device", "name": "matching-test-device", "version": "1.0"}
        },
        "components": comps
    }))
    .unwrap()
}

/// Runs `soupwatch scan` with these arguments: (exit code, stdout, stderr).
fn scan(args: &[&str]) -> (i32, String, String) {
    let mut a = vec!["scan"];
    a.extend_from_slice(args);
    cli(&a)
}

// ---------------------------------------------------------------------------------------------
// The OSV interval reading, worked out independently of the matcher
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Affected,
    NotAffected,
    /// An event version of a range that could hold `v` does not parse: must be reported.
    Undetermined,
}

fn cmp_in(eco: &str, a: &str, b: &str) -> Option<Ordering> {
    versions::compare(eco, a, b).ok()
}

/// One OSV range (not GIT) at version `v`: Some(affected?) or None when an event does not parse.
fn range_affects(eco: &str, range: &Value, v: &str) -> Option<bool> {
    let ev = events(range);
    // Every event must parse, else the range is not evaluable.
    for (k, x) in &ev {
        let special = (*k == "introduced" && *x == "0") || (*k == "limit" && *x == "*");
        if !special && Version::parse_in(eco, x).is_err() {
            return None;
        }
    }
    let le = |a: &str, b: &str| matches!(cmp_in(eco, a, b), Some(Ordering::Less | Ordering::Equal));
    let lt = |a: &str, b: &str| cmp_in(eco, a, b) == Some(Ordering::Less);
    let limits: Vec<&str> = ev
        .iter()
        .filter(|(k, _)| *k == "limit")
        .map(|(_, x)| *x)
        .collect();
    if !limits.is_empty() && !limits.iter().any(|l| *l == "*" || lt(v, l)) {
        return Some(false);
    }
    let opened = ev.iter().filter(|(k, _)| *k == "introduced").any(|(_, i)| {
        let zero = *i == "0";
        (zero || le(i, v))
            && !ev
                .iter()
                .any(|(k, f)| *k == "fixed" && (zero || le(i, f)) && le(f, v))
            && !ev
                .iter()
                .any(|(k, l)| *k == "last_affected" && (zero || le(i, l)) && lt(l, v))
    });
    Some(opened)
}

/// What the record says about package `key` at OSV version `v`.
fn expect_record(record: &Value, key: &identity::PackageKey, v: &str) -> Expect {
    let mut undetermined = false;
    for af in record["affected"].as_array().into_iter().flatten() {
        let eco = af["package"]["ecosystem"].as_str().unwrap_or_default();
        let name = af["package"]["name"].as_str().unwrap_or_default();
        if eco != key.ecosystem || identity::normalize_name(eco, name) != key.name {
            continue;
        }
        if str_list(&af["versions"]).iter().any(|x| x == v) {
            return Expect::Affected;
        }
        if versions::scheme_for(eco).is_none() {
            continue;
        }
        for r in af["ranges"].as_array().into_iter().flatten() {
            if r["type"] == "GIT" {
                continue;
            }
            match range_affects(eco, r, v) {
                Some(true) => return Expect::Affected,
                Some(false) => {}
                None => undetermined = true,
            }
        }
    }
    if undetermined {
        Expect::Undetermined
    } else {
        Expect::NotAffected
    }
}

/// Boundary versions of one affected entry, labelled: exactly `introduced`, just below it,
/// just below `fixed` (the record's own previous version when it lists versions), exactly
/// `fixed`, exactly `last_affected`, just above it, and for unordered ecosystems the listed
/// versions themselves.
fn boundary_versions(af: &Value) -> Vec<(&'static str, String)> {
    let eco = af["package"]["ecosystem"].as_str().unwrap_or_default();
    let mut listed = str_list(&af["versions"]);
    let mut out = Vec::new();
    if versions::scheme_for(eco).is_none() {
        for v in listed.iter().take(2) {
            out.push(("listed", v.clone()));
        }
        // A version the list does not name: never affected without ordering.
        if let Some(v) = listed.first().and_then(|v| bump(v, 1000)) {
            out.push(("unlisted", v));
        }
        return out;
    }
    listed.retain(|v| Version::parse_in(eco, v).is_ok());
    listed.sort_by(|a, b| cmp_in(eco, a, b).unwrap_or(Ordering::Equal));
    let prev = |x: &str| {
        listed
            .iter()
            .rev()
            .find(|v| cmp_in(eco, v, x) == Some(Ordering::Less))
            .cloned()
            .or_else(|| below(x))
    };
    let next = |x: &str| {
        listed
            .iter()
            .find(|v| cmp_in(eco, v, x) == Some(Ordering::Greater))
            .cloned()
            .or_else(|| bump(x, 1))
    };
    for r in af["ranges"].as_array().into_iter().flatten() {
        if r["type"] == "GIT" {
            continue;
        }
        for (k, x) in events(r) {
            match k {
                "introduced" if x != "0" => {
                    out.push(("introduced", x.to_string()));
                    if let Some(p) = prev(x) {
                        out.push(("below introduced", p));
                    }
                }
                "fixed" => {
                    out.push(("fixed", x.to_string()));
                    if let Some(p) = prev(x) {
                        out.push(("below fixed", p));
                    }
                }
                "last_affected" => {
                    out.push(("last_affected", x.to_string()));
                    if let Some(n) = next(x) {
                        out.push(("above last_affected", n));
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// One check of the boundary scan: this component, this record, this expectation.
#[derive(Debug, Clone)]
struct Check {
    bom_ref: String,
    record: String,
    label: &'static str,
    version: String,
    expect: Expect,
}

struct BoundarySbom {
    components: Vec<Comp>,
    checks: Vec<Check>,
    /// Checks whose record is withdrawn (expected: nothing, whatever the ranges say).
    withdrawn_checks: Vec<Check>,
    per_ecosystem: BTreeMap<String, usize>,
}

/// Builds the boundary SBOM from a deterministic sample of every OSV folder, plus every
/// withdrawn record.
fn boundary_sbom(records: &[(String, PathBuf, Value)]) -> BoundarySbom {
    let mut by_folder: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for (folder, _, v) in records {
        by_folder.entry(folder.as_str()).or_default().push(v);
    }
    let mut sample: Vec<&Value> = Vec::new();
    for recs in by_folder.values() {
        // Every k-th record, about 40 per folder; withdrawn ones are all taken.
        let step = (recs.len() / 40).max(1);
        for (i, r) in recs.iter().enumerate() {
            // Rare features are always taken: withdrawn records, `last_affected` events, and
            // the NuGet/RubyGems/Packagist entries of GHSA records.
            let text = r.to_string();
            let rare = !r["withdrawn"].is_null()
                || text.contains("\"last_affected\"")
                || ["\"NuGet\"", "\"RubyGems\"", "\"Packagist\""]
                    .iter()
                    .any(|e| text.contains(e));
            if i % step == 0 || rare {
                sample.push(r);
            }
        }
    }
    let mut purl_ref: HashMap<String, String> = HashMap::new();
    let mut out = BoundarySbom {
        components: Vec::new(),
        checks: Vec::new(),
        withdrawn_checks: Vec::new(),
        per_ecosystem: BTreeMap::new(),
    };
    let mut seen = BTreeSet::new();
    for r in sample {
        let id = r["id"].as_str().unwrap().to_string();
        let withdrawn = !r["withdrawn"].is_null();
        let mut per_record = 0;
        for af in r["affected"].as_array().into_iter().flatten() {
            let eco = af["package"]["ecosystem"].as_str().unwrap_or_default();
            let name = af["package"]["name"].as_str().unwrap_or_default();
            for (label, v) in boundary_versions(af) {
                if per_record >= 14 {
                    break;
                }
                let Some(purl) = purl_for(eco, name, &v, af["package"]["purl"].as_str()) else {
                    continue;
                };
                let Ok(ident) = identity::from_purl(&purl) else {
                    panic!("purl {purl} built for {id} ({eco} {name}) does not map to OSV");
                };
                assert_eq!(
                    (ident.key.ecosystem.as_str(), ident.key.name.as_str()),
                    (eco, identity::normalize_name(eco, name).as_str()),
                    "{purl} of {id} maps to another package"
                );
                let read_back = ident.version.clone().unwrap_or_default();
                assert_eq!(
                    read_back, v,
                    "{purl}: the version the matcher reads back is the OSV one"
                );
                // Unparsable component versions are a different check (undetermined), skip.
                if versions::scheme_for(eco).is_some() && Version::parse_in(eco, &v).is_err() {
                    continue;
                }
                if !seen.insert((purl.clone(), id.clone())) {
                    continue;
                }
                let n = purl_ref.len();
                let bom_ref = purl_ref
                    .entry(purl.clone())
                    .or_insert_with(|| format!("c{n}"))
                    .clone();
                if bom_ref == format!("c{n}") {
                    out.components.push((
                        bom_ref.clone(),
                        name.to_string(),
                        Some(v.clone()),
                        Some(purl.clone()),
                        None,
                    ));
                }
                let check = Check {
                    bom_ref,
                    record: id.clone(),
                    label,
                    version: v.clone(),
                    expect: expect_record(r, &ident.key, &v),
                };
                per_record += 1;
                *out.per_ecosystem
                    .entry(eco.split(':').next().unwrap_or(eco).to_string())
                    .or_default() += 1;
                if withdrawn {
                    out.withdrawn_checks.push(check);
                } else {
                    out.checks.push(check);
                }
            }
        }
    }
    out
}

/// (component bom-ref, advisory id, source) of every evidence record, and (bom-ref, advisory id)
/// of every undetermined pair, from one scan result.
fn hits_of(result: &Value) -> (HitSet, PairSet) {
    let mut hits = BTreeSet::new();
    for f in result["findings"].as_array().unwrap() {
        let r = f["component"]["bom_ref"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        for e in f["evidence"]["records"].as_array().unwrap() {
            hits.insert((
                r.clone(),
                e["advisory_id"].as_str().unwrap().to_string(),
                e["source"].as_str().unwrap().to_string(),
            ));
        }
    }
    let mut und = BTreeSet::new();
    for u in result["undetermined"].as_array().unwrap() {
        und.insert((
            u["component"]["bom_ref"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            u["advisory_id"].as_str().unwrap().to_string(),
        ));
    }
    (hits, und)
}

/// The exact shape issue 4 requires of `soupwatch scan --format json`.
fn check_report_shape(report: &Value, sboms: &[&str]) {
    let results = report["results"].as_array().expect("results[]");
    assert_eq!(results.len(), sboms.len());
    for (r, name) in results.iter().zip(sboms) {
        assert_eq!(r["sbom"], *name, "sbom is the path as given");
        let s = &r["summary"];
        for k in ["components", "matchable", "unmatchable"] {
            assert!(s[k].is_u64(), "summary.{k} is a count: {s}");
        }
        assert_eq!(
            s["components"].as_u64().unwrap(),
            s["matchable"].as_u64().unwrap() + s["unmatchable"].as_u64().unwrap()
        );
        for f in r["findings"].as_array().expect("findings[]") {
            let c = &f["component"];
            assert!(c["name"].is_string(), "{f}");
            for k in ["version", "purl", "cpe"] {
                assert!(
                    c.get(k).is_some(),
                    "component.{k} present (null allowed): {c}"
                );
            }
            let v = &f["vulnerability"];
            assert!(v["id"].is_string());
            assert!(v["aliases"].is_array());
            assert!(v.get("summary").is_some());
            assert!(v["severity"].is_array());
            assert!(
                ["osv", "rustsec", "nvd"].contains(&f["source"].as_str().unwrap()),
                "{}",
                f["source"]
            );
            assert!(
                f["evidence"].is_object(),
                "evidence is an object: {}",
                f["evidence"]
            );
            let recs = f["evidence"]["records"]
                .as_array()
                .expect("evidence.records[]");
            assert!(!recs.is_empty());
            let ids: Vec<&str> = recs
                .iter()
                .map(|e| e["advisory_id"].as_str().unwrap())
                .collect();
            let group: BTreeSet<&str> = v["aliases"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .chain([v["id"].as_str().unwrap()])
                .collect();
            for id in ids {
                assert!(
                    group.contains(id),
                    "evidence record {id} belongs to the finding's group {group:?}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Version ordering with real versions: CLI vs library, and order properties
// ---------------------------------------------------------------------------------------------

/// Versions of each OSV ecosystem (the part before `:`) found in events and `versions` lists.
fn corpus_versions(records: &[(String, PathBuf, Value)]) -> BTreeMap<String, Vec<String>> {
    let mut by_eco: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (_, _, r) in records {
        for af in r["affected"].as_array().into_iter().flatten() {
            let eco = af["package"]["ecosystem"].as_str().unwrap_or_default();
            let base = eco.split(':').next().unwrap_or(eco).to_string();
            let set = by_eco.entry(base).or_default();
            for v in str_list(&af["versions"]) {
                set.insert(v);
            }
            for rg in af["ranges"].as_array().into_iter().flatten() {
                if rg["type"] == "GIT" {
                    continue;
                }
                for (k, x) in events(rg) {
                    if !(k == "introduced" && x == "0" || k == "limit" && x == "*") {
                        set.insert(x.to_string());
                    }
                }
            }
        }
    }
    by_eco
        .into_iter()
        .map(|(k, v)| {
            (
                k,
                v.into_iter()
                    .filter(|s| !s.is_empty() && !s.chars().any(char::is_whitespace))
                    .collect(),
            )
        })
        .collect()
}

fn symbol(r: &Result<Ordering, versions::VersionError>) -> &'static str {
    match r {
        Ok(Ordering::Less) => "<",
        Ok(Ordering::Equal) => "=",
        Ok(Ordering::Greater) => ">",
        Err(_) => "!",
    }
}

#[test]
fn versions_compare_cli_agrees_with_the_library_on_real_versions() {
    let records = osv_records();
    let by_eco = corpus_versions(&records);
    let mut rng = Rng(0x5eed_0001);
    let bad = [
        "@@",
        "not_a_version!",
        "1..2",
        "=>",
        "~~~",
        "1.0.0-",
        "v1.x.#",
    ];
    let maven_bad = "1.\u{0663}"; // ARABIC-INDIC DIGIT THREE
    let mut total_pairs = 0;
    let mut total_bang = 0;
    let mut summary = Vec::new();
    for (eco, pool) in &by_eco {
        assert!(!pool.is_empty());
        let mut lines = Vec::new();
        for _ in 0..300 {
            let a = &pool[rng.below(pool.len())];
            let b = &pool[rng.below(pool.len())];
            lines.push(format!("{a} {b}"));
        }
        // Every real version against itself, for a handful: must be `=` when it parses.
        for v in pool.iter().take(20) {
            lines.push(format!("{v} {v}"));
        }
        for x in bad {
            let a = &pool[rng.below(pool.len())];
            lines.push(format!("{a} {x}"));
            lines.push(format!("{x} {a}"));
        }
        if eco == "Maven" {
            lines.push(format!("1.0 {maven_bad}"));
        }
        lines.push("1.0".into()); // one field
        lines.push("1.0 2.0 3.0".into()); // three fields
        let mut child = Command::new(bin())
            .args(["versions", "compare", "--ecosystem", eco, "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all((lines.join("\n") + "\n").as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{eco}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let got: Vec<&str> = text.lines().collect();
        assert_eq!(
            got.len(),
            lines.len(),
            "{eco}: one output line per input line"
        );
        let mut bangs = 0;
        for (line, g) in lines.iter().zip(&got) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let want = match fields.as_slice() {
                [a, b] => symbol(&versions::compare(eco, a, b)),
                _ => "!",
            };
            if want == "!" {
                bangs += 1;
                assert!(
                    g.starts_with("! ") && g.len() > 2,
                    "{eco}: {line:?} -> {g:?}, want a `! reason` line"
                );
            } else {
                assert_eq!(*g, want, "{eco}: {line:?}");
            }
            if let [a, b] = fields.as_slice() {
                if a == b && want != "!" {
                    assert_eq!(want, "=", "{eco}: {a} against itself");
                }
            }
        }
        // The malformed-line cases always give `!`; an ordered scheme also refuses some junk.
        let ordered = versions::scheme_for(eco).is_some();
        if ordered && eco != "Maven" {
            let refused = bad
                .iter()
                .filter(|x| Version::parse_in(eco, x).is_err())
                .count();
            assert!(refused > 0, "{eco}: none of {bad:?} is refused");
        } else if ordered {
            // Maven's ComparableVersion orders any string; only non-ASCII digits are refused.
            assert!(
                bad.iter().all(|x| Version::parse_in(eco, x).is_ok()),
                "Maven orders any ASCII string"
            );
        } else {
            assert_eq!(
                bangs,
                lines.len(),
                "{eco} has no ordering: every line is `!`"
            );
        }
        total_pairs += lines.len();
        total_bang += bangs;
        summary.push(format!(
            "{eco}: {} versions, {} lines, {bangs} `!`",
            pool.len(),
            lines.len()
        ));
    }
    eprintln!(
        "versions compare over {} ecosystems, {total_pairs} lines ({total_bang} `!`):\n  {}",
        by_eco.len(),
        summary.join("\n  ")
    );
    assert!(by_eco.len() >= 10, "{:?}", by_eco.keys());
}

#[test]
fn real_versions_are_totally_ordered_per_ecosystem() {
    let records = osv_records();
    let by_eco = corpus_versions(&records);
    let mut rng = Rng(0x5eed_0002);
    let mut report = Vec::new();
    for (eco, pool) in &by_eco {
        let Some(scheme) = versions::scheme_for(eco) else {
            continue;
        };
        let parsed: Vec<Version> = pool
            .iter()
            .filter_map(|v| Version::parse(scheme, v).ok())
            .collect();
        let unparsable: Vec<&String> = pool
            .iter()
            .filter(|v| Version::parse(scheme, v).is_err())
            .collect();
        if parsed.len() < 2 {
            report.push(format!(
                "{eco}: {} parsed version(s), skipped",
                parsed.len()
            ));
            continue;
        }
        let n = parsed.len();
        for _ in 0..3000 {
            let (a, b, c) = (
                &parsed[rng.below(n)],
                &parsed[rng.below(n)],
                &parsed[rng.below(n)],
            );
            let ab = a
                .cmp_parsed(b)
                .unwrap_or_else(|| panic!("{eco}: {a} vs {b} incomparable"));
            let ba = b.cmp_parsed(a).unwrap();
            assert_eq!(ab, ba.reverse(), "{eco}: antisymmetry {a} {b}");
            let bc = b.cmp_parsed(c).unwrap();
            let ac = a.cmp_parsed(c).unwrap();
            if ab != Ordering::Greater && bc != Ordering::Greater {
                assert_ne!(
                    ac,
                    Ordering::Greater,
                    "{eco}: transitivity {a} <= {b} <= {c}"
                );
            }
            if ab == Ordering::Equal && bc == Ordering::Equal {
                assert_eq!(ac, Ordering::Equal, "{eco}: {a} = {b} = {c}");
            }
        }
        // A sort must be consistent with every adjacent pair.
        let mut sorted = parsed.clone();
        sorted.sort();
        for w in sorted.windows(2) {
            assert_ne!(
                w[0].cmp_parsed(&w[1]),
                Some(Ordering::Greater),
                "{eco}: sorted {} {}",
                w[0],
                w[1]
            );
        }
        report.push(format!(
            "{eco}: {} parsed, {} unparsable {:?}",
            parsed.len(),
            unparsable.len(),
            unparsable.iter().take(3).collect::<Vec<_>>()
        ));
    }
    eprintln!("order properties:\n  {}", report.join("\n  "));
}

// ---------------------------------------------------------------------------------------------
// 2. Range boundaries, withdrawn records, NVD CPE and the report shape through `soupwatch scan`
// ---------------------------------------------------------------------------------------------

/// NVD records of the mirror page.
fn nvd_records() -> Vec<Advisory> {
    let bytes = std::fs::read(corpus().join("nvd/nvdcve-2.0-records.json")).unwrap();
    advisory::nvd::parse_page(&bytes).unwrap().advisories
}

/// The criteria split into its 13 formatted-string fields (escaped colons kept).
fn cpe_fields(criteria: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut esc = false;
    for c in criteria.chars() {
        if esc {
            cur.push(c);
            esc = false;
        } else if c == '\\' {
            cur.push(c);
            esc = true;
        } else if c == ':' {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    out.push(cur);
    out
}

fn with_version(criteria: &str, version: &str) -> String {
    let mut f = cpe_fields(criteria);
    f[5] = version.to_string();
    f.join(":")
}

fn generic_cmp(a: &str, b: &str) -> Option<Ordering> {
    Version::parse(Scheme::Generic, a)
        .ok()?
        .cmp_parsed(&Version::parse(Scheme::Generic, b).ok()?)
}

/// NVD applicability for a release holding exactly these CPEs (all built from criteria of the
/// record, so every non-version field is either equal or ANY in the criteria): Some(the CPEs a
/// configuration holding marks vulnerable), None when a comparison cannot be made or when a
/// criteria fixes a field the candidate leaves open (an ambiguity the test does not judge).
fn expect_cpe(a: &Advisory, cpes: &[String]) -> Option<BTreeSet<String>> {
    let mut hit = BTreeSet::new();
    let entry_matches = |m: &advisory::CpeMatch, cpe: &str| -> Option<bool> {
        let (cf, tf) = (cpe_fields(&m.criteria), cpe_fields(cpe));
        for (i, (c, t)) in cf.iter().zip(&tf).enumerate() {
            if i == 5 {
                continue;
            }
            if c == "*" {
                continue;
            }
            if t == "*" {
                return None;
            }
            if !c.eq_ignore_ascii_case(t) {
                return Some(false);
            }
        }
        let (cv, tv) = (&cf[5], &tf[5]);
        if cv != "*" {
            if tv == "*" {
                return None;
            }
            return Some(cv.eq_ignore_ascii_case(tv));
        }
        let bounds = [
            (
                &m.version_start_including,
                [Ordering::Greater, Ordering::Equal].as_slice(),
            ),
            (&m.version_start_excluding, [Ordering::Greater].as_slice()),
            (
                &m.version_end_including,
                [Ordering::Less, Ordering::Equal].as_slice(),
            ),
            (&m.version_end_excluding, [Ordering::Less].as_slice()),
        ];
        for (b, ok) in bounds {
            if let Some(b) = b {
                if tv == "-" || tv == "*" {
                    return None;
                }
                let o = generic_cmp(tv, b)?;
                if !ok.contains(&o) {
                    return Some(false);
                }
            }
        }
        Some(true)
    };
    for cfg in &a.configurations {
        if cfg.negate || cfg.nodes.iter().any(|n| n.negate) {
            return None;
        }
        let mut node_truth = Vec::new();
        let mut node_hits = Vec::new();
        for n in &cfg.nodes {
            let mut any = false;
            let mut vulnerable = BTreeSet::new();
            for m in &n.cpe_match {
                for c in cpes {
                    if entry_matches(m, c)? {
                        any = true;
                        if m.vulnerable {
                            vulnerable.insert(c.clone());
                        }
                    }
                }
            }
            if n.operator == advisory::Operator::And {
                // Node-level AND over entries: not present in this corpus; do not judge it.
                return None;
            }
            node_truth.push(any);
            node_hits.push(vulnerable);
        }
        let holds = match cfg.operator {
            advisory::Operator::And => node_truth.iter().all(|t| *t),
            advisory::Operator::Or => node_truth.iter().any(|t| *t),
        };
        if holds {
            for (t, h) in node_truth.iter().zip(node_hits) {
                if *t {
                    hit.extend(h);
                }
            }
        }
    }
    Some(hit)
}

fn view_of(index: usize, name: &str, purl: Option<&str>, cpe: Option<&str>) -> ComponentView {
    let c = Component {
        name: name.to_string(),
        purl: purl.map(str::to_string),
        cpe: cpe.map(str::to_string),
        ..Component::default()
    };
    ComponentView::new(index, &c)
}

/// Keeps only CPE bound strings the test can write into a CPE as they are.
fn plain_version(v: &str) -> bool {
    !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
        && v.starts_with(|c: char| c.is_ascii_digit())
}

#[test]
fn nvd_cpe_boundaries_and_platforms_on_every_record() {
    let records = nvd_records();
    assert_eq!(records.len(), 55);
    let mut checked = 0;
    let mut affected = 0;
    let mut platform_only = 0;
    let mut with_platform = 0;
    let mut skipped = 0;
    let mut failures = Vec::new();
    for a in &records {
        let compiled = CompiledAdvisory::compile(a);
        // One-component releases at each bound of each vulnerable entry.
        for cfg in &a.configurations {
            for n in &cfg.nodes {
                for m in n.cpe_match.iter().filter(|m| m.vulnerable) {
                    let fields = cpe_fields(&m.criteria);
                    let mut versions_at: Vec<String> = [
                        &m.version_start_including,
                        &m.version_start_excluding,
                        &m.version_end_including,
                        &m.version_end_excluding,
                    ]
                    .into_iter()
                    .flatten()
                    .cloned()
                    .collect();
                    if fields[5] != "*" && fields[5] != "-" {
                        versions_at.push(fields[5].clone());
                    }
                    for v in versions_at.into_iter().filter(|v| plain_version(v)) {
                        let cpe = with_version(&m.criteria, &v);
                        let Some(want) = expect_cpe(a, std::slice::from_ref(&cpe)) else {
                            skipped += 1;
                            continue;
                        };
                        let got = match_advisory(&compiled, &[view_of(0, "x", None, Some(&cpe))]);
                        let got_hit = !got.hits.is_empty();
                        if got_hit == want.is_empty() {
                            failures.push(format!(
                                "{} {cpe}: want hit={}, got {:?} undetermined {:?}",
                                a.id,
                                !want.is_empty(),
                                got.hits,
                                got.undetermined
                            ));
                        }
                        checked += 1;
                        affected += usize::from(got_hit);
                    }
                }
            }
            // "Running on" entries: alone they raise nothing; with an in-bounds application
            // component, the application (never the platform) is the finding.
            if cfg.operator == advisory::Operator::And {
                for n in &cfg.nodes {
                    for p in n.cpe_match.iter().filter(|m| !m.vulnerable) {
                        let alone = match_advisory(
                            &compiled,
                            &[view_of(0, "platform", None, Some(&p.criteria))],
                        );
                        if !alone.hits.is_empty() {
                            failures.push(format!(
                                "{}: platform {} alone raised {:?}",
                                a.id, p.criteria, alone.hits
                            ));
                        }
                        platform_only += 1;
                        // Pair it with each vulnerable entry's in-bounds version.
                        for vn in cfg
                            .nodes
                            .iter()
                            .flat_map(|n| n.cpe_match.iter())
                            .filter(|m| m.vulnerable)
                        {
                            let v = vn
                                .version_start_including
                                .clone()
                                .or_else(|| vn.version_end_including.clone())
                                .or_else(|| vn.version_end_excluding.as_deref().and_then(below))
                                .or_else(|| {
                                    (vn.version_start_excluding.is_none()
                                        && cpe_fields(&vn.criteria)[5] == "*")
                                        .then(|| "1.0".to_string())
                                });
                            let Some(v) = v.filter(|v| plain_version(v)) else {
                                continue;
                            };
                            let app = with_version(&vn.criteria, &v);
                            let Some(want) = expect_cpe(a, &[app.clone(), p.criteria.clone()])
                            else {
                                continue;
                            };
                            let got = match_advisory(
                                &compiled,
                                &[
                                    view_of(0, "app", None, Some(&app)),
                                    view_of(1, "platform", None, Some(&p.criteria)),
                                ],
                            );
                            let got_cpes: BTreeSet<usize> =
                                got.hits.iter().map(|h| h.component).collect();
                            let want_idx: BTreeSet<usize> =
                                want.iter().map(|c| if *c == app { 0 } else { 1 }).collect();
                            if got_cpes != want_idx {
                                failures.push(format!(
                                    "{}: {app} on {}: want {want_idx:?}, got {:?}",
                                    a.id, p.criteria, got.hits
                                ));
                            }
                            assert!(
                                !got_cpes.contains(&1),
                                "{}: the platform itself is never the finding",
                                a.id
                            );
                            // Without the platform the AND configuration does not hold.
                            let Some(want_alone) = expect_cpe(a, std::slice::from_ref(&app)) else {
                                continue;
                            };
                            let got_alone =
                                match_advisory(&compiled, &[view_of(0, "app", None, Some(&app))]);
                            if got_alone.hits.is_empty() != want_alone.is_empty() {
                                failures.push(format!(
                                    "{}: {app} without its platform: want {want_alone:?}, got {:?}",
                                    a.id, got_alone.hits
                                ));
                            }
                            with_platform += 1;
                        }
                    }
                }
            }
        }
    }
    eprintln!("NVD CPE: {checked} bound checks ({affected} affected), {platform_only} platform-only releases, {with_platform} app+platform releases, {skipped} not judged");
    assert!(
        failures.is_empty(),
        "{} CPE mismatches:\n{}",
        failures.len(),
        failures
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        checked > 100 && affected > 20 && checked - affected > 20,
        "{checked} {affected}"
    );
    assert!(platform_only >= 5 && with_platform >= 3);
}

/// The NVD part of the CLI scan: Log4Shell's four log4j ranges at their bounds, ESP-IDF with
/// and without the ESP32 it runs on, and the platform alone.
fn nvd_sbom() -> (Vec<Comp>, Vec<(String, &'static str, bool)>) {
    let log4j = |v: &str| format!("cpe:2.3:a:apache:log4j:{v}:*:*:*:*:*:*:*");
    let cases: Vec<(&str, String, bool)> = vec![
        ("2.0.1", log4j("2.0.1"), true),  // versionStartIncluding 2.0.1
        ("2.0.0", log4j("2.0.0"), false), // below it (2.0 itself is only listed with an update)
        ("2.3.0", log4j("2.3.0"), true),  // inside [2.0.1, 2.3.1)
        ("2.3.1", log4j("2.3.1"), false), // versionEndExcluding 2.3.1
        ("2.4.0", log4j("2.4.0"), true),  // versionStartIncluding 2.4.0
        ("2.12.2", log4j("2.12.2"), false),
        ("2.12.1", log4j("2.12.1"), true),
        ("2.13.0", log4j("2.13.0"), true),
        ("2.14.1", log4j("2.14.1"), true),
        ("2.15.0", log4j("2.15.0"), false), // versionEndExcluding 2.15.0
        ("2.17.1", log4j("2.17.1"), false),
    ];
    let mut comps = Vec::new();
    let mut want = Vec::new();
    for (i, (v, cpe, hit)) in cases.into_iter().enumerate() {
        let r = format!("log4j-{i}");
        comps.push((
            r.clone(),
            "log4j-core".to_string(),
            Some(v.to_string()),
            None,
            Some(cpe),
        ));
        want.push((r, "CVE-2021-44228", hit));
    }
    (comps, want)
}

#[test]
fn scan_the_whole_corpus_boundaries_withdrawn_nvd_shape_and_exit_codes() {
    let t0 = std::time::Instant::now();
    let records = osv_records();
    // (id, osv) is unique across the corpus folders: evidence is told apart by it.
    let mut ids = BTreeSet::new();
    for (_, f, r) in &records {
        assert!(
            ids.insert(r["id"].as_str().unwrap().to_string()),
            "duplicate OSV id in {}",
            f.display()
        );
    }
    let b = boundary_sbom(&records);
    let dir = tempfile::tempdir().unwrap();
    let boundary_path = dir.path().join("boundaries.cdx.json");
    std::fs::write(&boundary_path, cdx(&b.components)).unwrap();

    // ESP-IDF 4.1 on an ESP32 (CVE-2020-13595 needs both), and each alone in its own SBOM.
    let esp_app = "cpe:2.3:a:espressif:esp-idf:4.1:*:*:*:*:*:*:*".to_string();
    let esp_hw = "cpe:2.3:h:espressif:esp32:-:*:*:*:*:*:*:*".to_string();
    let (mut nvd_comps, nvd_want) = nvd_sbom();
    nvd_comps.push((
        "esp-idf".into(),
        "esp-idf".into(),
        Some("4.1".into()),
        None,
        Some(esp_app.clone()),
    ));
    nvd_comps.push((
        "esp32".into(),
        "esp32".into(),
        None,
        None,
        Some(esp_hw.clone()),
    ));
    let nvd_path = dir.path().join("nvd.cdx.json");
    std::fs::write(&nvd_path, cdx(&nvd_comps)).unwrap();
    let platform_path = dir.path().join("platform-only.cdx.json");
    std::fs::write(
        &platform_path,
        cdx(&[(
            "esp32".into(),
            "esp32".into(),
            None,
            None,
            Some(esp_hw.clone()),
        )]),
    )
    .unwrap();

    // Nothing matchable: no identifiers at all, a repository purl, a purl type with no feed.
    let unmatchable_path = dir.path().join("unmatchable.cdx.json");
    std::fs::write(
        &unmatchable_path,
        cdx(&[
            ("u0".into(), "libfoo".into(), Some("1.0".into()), None, None),
            (
                "u1".into(),
                "curl".into(),
                Some("8.0.0".into()),
                Some("pkg:github/curl/curl@8.0.0".into()),
                None,
            ),
            (
                "u2".into(),
                "thing".into(),
                Some("2.0".into()),
                Some("pkg:swid/Acme/thing@2.0".into()),
                None,
            ),
        ]),
    )
    .unwrap();

    let paths: Vec<String> = [&boundary_path, &nvd_path, &platform_path, &unmatchable_path]
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let mirror = corpus();
    let mut args = vec!["--mirror", mirror.to_str().unwrap(), "--format", "json"];
    args.extend(paths.iter().map(String::as_str));
    let t_scan = std::time::Instant::now();
    let (code, out, err) = scan(&args);
    let scan_secs = t_scan.elapsed().as_secs_f64();
    assert_eq!(code, 1, "findings present: exit 1; stderr: {err}");
    let report: Value = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("scan JSON: {e}\n{}", &out[..out.len().min(2000)]));
    check_report_shape(
        &report,
        &paths.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let results = report["results"].as_array().unwrap();

    // --- OSV boundaries ---
    let r0 = &results[0];
    assert_eq!(r0["summary"]["components"], b.components.len());
    assert_eq!(r0["summary"]["matchable"], b.components.len());
    assert_eq!(r0["summary"]["unmatchable"], 0);
    let (hits, und) = hits_of(r0);
    let mut failures = Vec::new();
    let mut counts: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for c in &b.checks {
        let key = (c.bom_ref.clone(), c.record.clone(), "osv".to_string());
        let got_hit = hits.contains(&key);
        let got_und = und.contains(&(c.bom_ref.clone(), c.record.clone()));
        let ok = match c.expect {
            Expect::Affected => got_hit,
            Expect::NotAffected => !got_hit,
            Expect::Undetermined => !got_hit && got_und,
        };
        let verdict = match c.expect {
            Expect::Affected => "affected",
            Expect::NotAffected => "not affected",
            Expect::Undetermined => "undetermined",
        };
        *counts.entry((c.label, verdict)).or_default() += 1;
        if !ok {
            failures.push(format!(
                "{} {} at {} ({}): want {verdict}, got hit={got_hit} undetermined={got_und}",
                c.record, c.bom_ref, c.version, c.label
            ));
        }
    }
    // --- Withdrawn records: nothing, whatever their ranges say ---
    let mut withdrawn_would_hit = 0;
    for c in &b.withdrawn_checks {
        if hits.contains(&(c.bom_ref.clone(), c.record.clone(), "osv".to_string())) {
            failures.push(format!(
                "withdrawn {} raised a finding on {} {}",
                c.record, c.bom_ref, c.version
            ));
        }
        withdrawn_would_hit += usize::from(c.expect == Expect::Affected);
    }
    eprintln!(
        "boundary scan: {} components, {} checks, per ecosystem {:?}; withdrawn: {} checks ({} in range); scan took {scan_secs:.1}s",
        b.components.len(),
        b.checks.len(),
        b.per_ecosystem,
        b.withdrawn_checks.len(),
        withdrawn_would_hit
    );
    eprintln!("by boundary and expectation: {counts:?}");
    // Where the record itself overrides the plain boundary reading (overlapping ranges, listed
    // versions, empty ranges), shown for review.
    for c in b.checks.iter().filter(|c| {
        matches!(
            (c.label, c.expect),
            ("fixed", Expect::Affected)
                | ("introduced", Expect::NotAffected)
                | ("above last_affected", Expect::Affected)
                | ("below fixed", Expect::NotAffected)
        )
    }) {
        eprintln!(
            "  note: {} {} at {}: {:?}",
            c.record, c.label, c.version, c.expect
        );
    }
    assert!(
        failures.is_empty(),
        "{} boundary mismatches:\n{}",
        failures.len(),
        failures
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The sample really exercises each boundary.
    for (label, verdict, min) in [
        ("introduced", "affected", 50),
        ("fixed", "not affected", 50),
        ("below fixed", "affected", 50),
        ("last_affected", "affected", 3),
        ("above last_affected", "not affected", 3),
        ("below introduced", "not affected", 20),
        ("listed", "affected", 5),
        ("unlisted", "not affected", 5),
    ] {
        let n = counts.get(&(label, verdict)).copied().unwrap_or(0);
        assert!(n >= min, "only {n} checks of {label} -> {verdict}");
    }
    for eco in [
        "PyPI",
        "Maven",
        "Go",
        "crates.io",
        "Bitnami",
        "AlmaLinux",
        "Julia",
        "Hackage",
        "CRAN",
        "OSS-Fuzz",
        "NuGet",
        "RubyGems",
        "Packagist",
    ] {
        assert!(
            b.per_ecosystem.get(eco).copied().unwrap_or(0) > 0,
            "no checks for {eco}"
        );
    }
    assert!(
        withdrawn_would_hit >= 10,
        "withdrawn records would match {withdrawn_would_hit} components if live"
    );

    // --- NVD through the CLI ---
    let (nh, _) = hits_of(&results[1]);
    for (r, id, want) in &nvd_want {
        assert_eq!(
            nh.contains(&(r.clone(), id.to_string(), "nvd".into())),
            *want,
            "{r} vs {id}"
        );
    }
    assert!(
        nh.contains(&("esp-idf".into(), "CVE-2020-13595".into(), "nvd".into())),
        "ESP-IDF 4.1 on an ESP32: {nh:?}"
    );
    assert!(
        !nh.iter().any(|(r, _, _)| r == "esp32"),
        "the platform is never the finding: {nh:?}"
    );
    let log4shell = results[1]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["component"]["bom_ref"] == "log4j-8")
        .expect("log4j 2.14.1 finding");
    assert_eq!(log4shell["vulnerability"]["id"], "CVE-2021-44228");
    assert_eq!(log4shell["source"], "nvd");
    assert_eq!(
        log4shell["component"]["cpe"],
        "cpe:2.3:a:apache:log4j:2.14.1:*:*:*:*:*:*:*"
    );
    assert_eq!(
        results[2]["findings"].as_array().unwrap().len(),
        0,
        "platform alone raises nothing"
    );
    assert_eq!(results[2]["summary"]["matchable"], 1);

    // --- Nothing matchable must not look clean ---
    let u = &results[3];
    assert_eq!(u["summary"]["components"], 3);
    assert_eq!(u["summary"]["unmatchable"], 3, "{}", u["summary"]);
    assert_eq!(u["summary"]["matchable"], 0);
    let reasons = u["unmatchable"].as_array().unwrap();
    assert_eq!(reasons.len(), 3);
    for r in reasons {
        assert!(r["reason"].as_str().is_some_and(|s| !s.is_empty()), "{r}");
    }
    let (code, table, err) = scan(&[
        "--mirror",
        mirror.to_str().unwrap(),
        unmatchable_path.to_str().unwrap(),
    ]);
    // Not an error (exit 0 or 1, never 2); the exit code alone is not how this is told apart
    // from a clean scan, the counts are.
    assert_ne!(code, 2, "{err}");
    assert!(
        table.contains("3 components (0 matchable, 3 unmatchable)"),
        "the table says so: {table}"
    );

    // --- Exit codes on a small mirror (CRAN only): 0 clean, 1 findings, 2 errors ---
    let small = dir.path().join("mirror");
    std::fs::create_dir_all(small.join("osv/CRAN")).unwrap();
    for e in std::fs::read_dir(corpus().join("osv/CRAN")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, small.join("osv/CRAN").join(p.file_name().unwrap())).unwrap();
    }
    let cran: Vec<&(String, PathBuf, Value)> =
        records.iter().filter(|(f, _, _)| f == "CRAN").collect();
    let (_, _, rec) = cran
        .iter()
        .find(|(_, _, r)| !str_list(&r["affected"][0]["versions"]).is_empty())
        .unwrap();
    let name = rec["affected"][0]["package"]["name"].as_str().unwrap();
    let listed = str_list(&rec["affected"][0]["versions"]);
    let hit_sbom = dir.path().join("cran-hit.cdx.json");
    std::fs::write(
        &hit_sbom,
        cdx(&[(
            "a".into(),
            name.into(),
            Some(listed[0].clone()),
            purl_for("CRAN", name, &listed[0], None),
            None,
        )]),
    )
    .unwrap();
    let clean_sbom = dir.path().join("cran-clean.cdx.json");
    std::fs::write(
        &clean_sbom,
        cdx(&[(
            "a".into(),
            "surely-not-a-cran-package".into(),
            Some("1.0".into()),
            purl_for("CRAN", "surely-not-a-cran-package", "1.0", None),
            None,
        )]),
    )
    .unwrap();
    let m = small.to_str().unwrap();
    let (c, o, e) = scan(&[
        "--mirror",
        m,
        "--format",
        "json",
        clean_sbom.to_str().unwrap(),
    ]);
    assert_eq!(c, 0, "{o}{e}");
    let (c, o, e) = scan(&[
        "--mirror",
        m,
        "--format",
        "json",
        hit_sbom.to_str().unwrap(),
    ]);
    assert_eq!(c, 1, "{o}{e}");
    let (c, o, _) = scan(&[
        "--mirror",
        m,
        "--format",
        "sarif",
        hit_sbom.to_str().unwrap(),
    ]);
    assert_eq!(c, 1);
    let sarif: Value = serde_json::from_str(&o).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert!(!sarif["runs"][0]["results"].as_array().unwrap().is_empty());
    let (c, _, e) = scan(&[
        "--mirror",
        m,
        dir.path().join("missing.json").to_str().unwrap(),
    ]);
    assert_eq!(c, 2, "missing file: {e}");
    assert_eq!(e.lines().count(), 1, "one line on stderr: {e}");
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, b"{\"hello\": 1}").unwrap();
    let (c, _, e) = scan(&["--mirror", m, junk.to_str().unwrap()]);
    assert_eq!(c, 2, "not an SBOM: {e}");
    let (c, _, e) = scan(&[
        "--mirror",
        dir.path().join("no-such-mirror").to_str().unwrap(),
        clean_sbom.to_str().unwrap(),
    ]);
    assert_eq!(c, 2, "missing mirror: {e}");
    let empty = dir.path().join("empty-mirror");
    std::fs::create_dir_all(&empty).unwrap();
    let (c, _, e) = scan(&[
        "--mirror",
        empty.to_str().unwrap(),
        clean_sbom.to_str().unwrap(),
    ]);
    assert_eq!(
        c, 2,
        "a mirror with no advisories must not give a clean scan: {e}"
    );
    eprintln!("whole test: {:.1}s", t0.elapsed().as_secs_f64());
}

// ---------------------------------------------------------------------------------------------
// 3. RustSec database vs RustSec's OSV export
// ---------------------------------------------------------------------------------------------

/// Every event version of a record's crates.io entries.
fn event_versions(a: &Advisory) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for af in &a.affected {
        for r in &af.ranges {
            for e in &r.events {
                let v = match e {
                    advisory::Event::Introduced(v)
                    | advisory::Event::Fixed(v)
                    | advisory::Event::LastAffected(v)
                    | advisory::Event::Limit(v) => v,
                };
                if v != "0" && v != "*" {
                    out.insert(v.clone());
                }
            }
        }
        out.extend(af.versions.iter().cloned());
    }
    out
}

/// A version and its neighbours one patch above and below.
fn with_neighbours(v: &str) -> Vec<String> {
    let mut out = vec![v.to_string()];
    if let Ok(s) = semver::Version::parse(v) {
        out.push(format!("{}.{}.{}", s.major, s.minor, s.patch + 1));
        if s.patch > 0 {
            out.push(format!("{}.{}.{}", s.major, s.minor, s.patch - 1));
        } else if s.pre.is_empty() {
            // Below X.Y.0 within SemVer: its first pre-release.
            out.push(format!("{}.{}.0-0", s.major, s.minor));
        }
    }
    out
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Verdict {
    Hit,
    Miss,
    Undetermined,
}

fn verdict(adv: &CompiledAdvisory, name: &str, v: &str) -> Verdict {
    let view = view_of(
        0,
        name,
        Some(&format!("pkg:cargo/{}@{}", enc(name), enc(v))),
        None,
    );
    let r = match_advisory(adv, &[view]);
    if !r.hits.is_empty() {
        Verdict::Hit
    } else if !r.undetermined.is_empty() {
        Verdict::Undetermined
    } else {
        Verdict::Miss
    }
}

#[test]
fn rustsec_database_and_its_osv_export_agree() {
    let db = advisory::rustsec::load_database(&corpus().join("rustsec")).unwrap();
    let mut osv: HashMap<String, Advisory> = HashMap::new();
    for (folder, f, _) in osv_records()
        .iter()
        .filter(|(folder, _, _)| folder == "crates.io")
    {
        let a = advisory::osv::parse_record(&std::fs::read(f).unwrap())
            .unwrap_or_else(|e| panic!("{folder}/{}: {e}", f.display()));
        osv.insert(a.id.clone(), a);
    }
    let mut common_ids = 0;
    let mut checks = 0;
    let mut hits = 0;
    let mut disagreements = Vec::new();
    let mut data_differs = Vec::new();
    for r in &db {
        let Some(o) = osv.get(&r.id) else { continue };
        common_ids += 1;
        let (cr, co) = (CompiledAdvisory::compile(r), CompiledAdvisory::compile(o));
        let names: BTreeSet<String> = r
            .affected
            .iter()
            .chain(&o.affected)
            .filter(|a| a.ecosystem == "crates.io")
            .map(|a| a.name.clone())
            .collect();
        let mut vs = BTreeSet::new();
        for v in event_versions(r).union(&event_versions(o)) {
            vs.extend(with_neighbours(v));
        }
        // The two records may come from different upstream commits: then they may differ.
        let same_data = {
            let key = |a: &Advisory| {
                let mut e: Vec<String> = a
                    .affected
                    .iter()
                    .flat_map(|af| af.ranges.iter().map(|r| format!("{:?}", r.events)))
                    .collect();
                e.sort();
                (e, a.withdrawn.is_some())
            };
            key(r) == key(o)
        };
        for name in &names {
            for v in &vs {
                let (a, b) = (verdict(&cr, name, v), verdict(&co, name, v));
                checks += 1;
                hits += usize::from(a == Verdict::Hit);
                if a != b {
                    let line = format!("{} {name}@{v}: rustsec {a:?}, osv {b:?}", r.id);
                    if same_data {
                        disagreements.push(line);
                    } else {
                        data_differs.push(line);
                    }
                }
            }
        }
    }
    eprintln!(
        "RustSec agreement: {} advisories in the database, {} OSV records, {common_ids} in both, {checks} version checks ({hits} affected), {} disagreements on identical data, {} where the two snapshots differ{}",
        db.len(),
        osv.len(),
        disagreements.len(),
        data_differs.len(),
        if data_differs.is_empty() { String::new() } else { format!(": {:?}", data_differs.iter().take(10).collect::<Vec<_>>()) }
    );
    assert!(common_ids > 1000, "{common_ids}");
    assert!(
        disagreements.is_empty(),
        "{} disagreements:\n{}",
        disagreements.len(),
        disagreements
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Withdrawn records raise nothing (library level, every withdrawn record of the corpus)
// ---------------------------------------------------------------------------------------------

#[test]
fn withdrawn_records_raise_nothing_in_either_direction() {
    let mut withdrawn: Vec<Advisory> = Vec::new();
    for (_, f, v) in osv_records() {
        if !v["withdrawn"].is_null() {
            withdrawn.push(advisory::osv::parse_record(&std::fs::read(&f).unwrap()).unwrap());
        }
    }
    withdrawn.extend(
        advisory::rustsec::load_database(&corpus().join("rustsec"))
            .unwrap()
            .into_iter()
            .filter(|a| a.withdrawn.is_some()),
    );
    assert!(withdrawn.len() >= 20, "{}", withdrawn.len());
    let mut live_hits = 0;
    let mut components = 0;
    for a in &withdrawn {
        assert!(a.withdrawn.is_some(), "{} parsed as withdrawn", a.id);
        // Components at every event version of the record (and neighbours).
        let mut views = Vec::new();
        for af in &a.affected {
            for v in event_versions(a).iter().flat_map(|v| with_neighbours(v)) {
                let Some(p) = purl_for(&af.ecosystem, &af.name, &v, af.purl.as_deref()) else {
                    continue;
                };
                views.push(view_of(views.len(), &af.name, Some(&p), None));
            }
        }
        components += views.len();
        let c = CompiledAdvisory::compile(a);
        let r = match_advisory(&c, &views);
        assert!(
            r.hits.is_empty() && r.undetermined.is_empty(),
            "withdrawn {} raised {:?}",
            a.id,
            r.hits
        );
        let set = AdvisorySet::new([a]);
        let r = set.match_release(&views);
        assert!(
            r.hits.is_empty(),
            "withdrawn {} raised {:?} through the set",
            a.id,
            r.hits
        );
        // The same record, live, does match: the check above is not vacuous.
        let mut live = a.clone();
        live.withdrawn = None;
        live_hits += usize::from(
            !match_advisory(&CompiledAdvisory::compile(&live), &views)
                .hits
                .is_empty(),
        );
    }
    eprintln!(
        "withdrawn: {} records, {components} components, {live_hits} would raise findings if live",
        withdrawn.len()
    );
    assert!(
        live_hits * 2 >= withdrawn.len(),
        "{live_hits} of {}",
        withdrawn.len()
    );
}
