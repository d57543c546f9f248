//! OSV schema 1.x records (one JSON document per advisory, as in OSV's bucket, its `all.zip`
//! bulk exports and the databases that publish OSV natively) parsed into the normalised
//! [`Advisory`]. Also home of what the other feed parsers share: [`ParseError`], timestamp
//! parsing and CVSS base scores.
//!
//! Choices worth knowing:
//! - A record without `modified` (the schema requires it, yet real data has one) is kept, not
//!   dropped, since dropping an advisory can hide a real finding: `modified` falls back to
//!   `published`, else to the Unix epoch, so any properly dated copy wins an upsert. The fallback
//!   is reported as a [`ParseWarning`].
//! - Per-package `affected[].severity` (schema 1.5+) is merged into the record's severity list.
//! - An unknown range `type`, or an event that is not exactly one of `introduced`, `fixed`,
//!   `last_affected`, `limit`, refuses the record: evaluating a range we do not understand could
//!   silently miss or invent a match.
//! - `upstream`, `credits` and the top-level `database_specific` have no place in the model and
//!   are dropped.

use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::Deserialize;
use thiserror::Error;

use super::{Advisory, Affected, Event, Range, RangeKind, Reference, Severity, Source};
use crate::feeds::archive::{read_zip_json_entries, ArchiveError, ArchiveLimits};

/// Why a feed document could not be turned into advisories, and where.
#[derive(Debug, Error)]
pub enum ParseError {
    /// Malformed JSON or a value of the wrong type; serde's message carries line and column.
    #[error("{what}: {source}")]
    Json {
        /// Record id when it could be read, else a description of the document.
        what: String,
        source: serde_json::Error,
    },
    /// Well-formed JSON whose content breaks the format's rules.
    #[error("{record}: {path}: {reason}")]
    Invalid {
        record: String,
        /// JSON path of the offending value, e.g. `affected[0].ranges[1].events[2]`.
        path: String,
        reason: String,
    },
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error("archive entry {entry}: {source}")]
    InEntry {
        entry: String,
        source: Box<ParseError>,
    },
    #[error("RustSec database {path}: {message}")]
    Rustsec { path: PathBuf, message: String },
    #[error("CSV line {line}: {reason}")]
    Csv { line: usize, reason: String },
}

impl ParseError {
    pub(crate) fn invalid(
        record: &str,
        path: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        ParseError::Invalid {
            record: record.to_owned(),
            path: path.into(),
            reason: reason.into(),
        }
    }
}

/// Something accepted but not as the schema wants it; the record is still usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseWarning {
    pub path: String,
    pub message: String,
}

/// An advisory plus what was lenient about reading it.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedRecord {
    pub advisory: Advisory,
    pub warnings: Vec<ParseWarning>,
}

/// Parses one OSV JSON record as [`Source::Osv`].
pub fn parse_record(bytes: &[u8]) -> Result<Advisory, ParseError> {
    parse_record_detailed(bytes).map(|p| p.advisory)
}

/// Parses every `*.json` entry of an OSV `all.zip` bulk export; one bad entry fails the lot,
/// naming the entry, because a half-applied snapshot would look like withdrawn advisories.
pub fn parse_zip(bytes: &[u8], limits: &ArchiveLimits) -> Result<Vec<Advisory>, ParseError> {
    read_zip_json_entries(bytes, limits)?
        .into_iter()
        .map(|(entry, data)| {
            parse_record(&data).map_err(|e| ParseError::InEntry {
                entry,
                source: Box::new(e),
            })
        })
        .collect()
}

#[derive(Deserialize)]
struct RawRecord {
    id: String,
    modified: Option<String>,
    published: Option<String>,
    withdrawn: Option<String>,
    aliases: Option<Vec<String>>,
    related: Option<Vec<String>>,
    summary: Option<String>,
    details: Option<String>,
    severity: Option<Vec<RawSeverity>>,
    affected: Option<Vec<RawAffected>>,
    references: Option<Vec<RawReference>>,
}

#[derive(Deserialize)]
struct RawSeverity {
    #[serde(rename = "type")]
    kind: String,
    score: String,
}

#[derive(Deserialize)]
struct RawAffected {
    package: Option<RawPackage>,
    severity: Option<Vec<RawSeverity>>,
    ranges: Option<Vec<RawRange>>,
    versions: Option<Vec<String>>,
    ecosystem_specific: Option<serde_json::Value>,
    database_specific: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawPackage {
    ecosystem: String,
    name: String,
    purl: Option<String>,
}

#[derive(Deserialize)]
struct RawRange {
    #[serde(rename = "type")]
    kind: String,
    repo: Option<String>,
    #[serde(default)]
    events: Vec<RawEvent>,
}

#[derive(Deserialize)]
struct RawEvent {
    introduced: Option<String>,
    fixed: Option<String>,
    last_affected: Option<String>,
    limit: Option<String>,
}

#[derive(Deserialize)]
struct RawReference {
    #[serde(rename = "type")]
    kind: Option<String>,
    url: String,
}

/// Like [`parse_record`], also returning the leniencies applied.
pub fn parse_record_detailed(bytes: &[u8]) -> Result<ParsedRecord, ParseError> {
    let raw: RawRecord = serde_json::from_slice(bytes).map_err(|source| ParseError::Json {
        what: record_id_hint(bytes),
        source,
    })?;
    let id = raw.id.as_str();
    let mut warnings = Vec::new();

    let published = raw
        .published
        .as_deref()
        .map(|s| timestamp(id, "published", s))
        .transpose()?;
    let modified = match raw.modified.as_deref() {
        Some(s) => timestamp(id, "modified", s)?,
        None => {
            let (value, from) = match published {
                Some(p) => (p, "published"),
                None => (DateTime::<Utc>::UNIX_EPOCH, "the Unix epoch"),
            };
            warnings.push(ParseWarning {
                path: "modified".into(),
                message: format!("missing; using {from}"),
            });
            value
        }
    };
    let withdrawn = raw
        .withdrawn
        .as_deref()
        .map(|s| timestamp(id, "withdrawn", s))
        .transpose()?;

    let mut severity: Vec<Severity> = raw
        .severity
        .unwrap_or_default()
        .into_iter()
        .map(severity_from_osv)
        .collect();
    let mut affected = Vec::new();
    for (i, a) in raw.affected.unwrap_or_default().into_iter().enumerate() {
        for s in a.severity.into_iter().flatten().map(severity_from_osv) {
            if !severity.contains(&s) {
                severity.push(s);
            }
        }
        let (ecosystem, name, purl) = match a.package {
            Some(p) => (p.ecosystem, p.name, p.purl),
            None => {
                warnings.push(ParseWarning {
                    path: format!("affected[{i}].package"),
                    message: "missing; only GIT ranges can apply".into(),
                });
                (String::new(), String::new(), None)
            }
        };
        let mut ranges = Vec::new();
        for (j, r) in a.ranges.unwrap_or_default().into_iter().enumerate() {
            ranges.push(range_from_osv(
                id,
                &format!("affected[{i}].ranges[{j}]"),
                r,
            )?);
        }
        affected.push(Affected {
            ecosystem,
            name,
            purl,
            ranges,
            versions: a.versions.unwrap_or_default(),
            ecosystem_specific: a.ecosystem_specific,
            database_specific: a.database_specific,
        });
    }

    let references = raw
        .references
        .unwrap_or_default()
        .into_iter()
        .map(|r| Reference {
            kind: r.kind,
            url: r.url,
        })
        .collect();

    Ok(ParsedRecord {
        advisory: Advisory {
            id: raw.id,
            source: Source::Osv,
            aliases: raw.aliases.unwrap_or_default(),
            related: raw.related.unwrap_or_default(),
            summary: raw.summary.filter(|s| !s.is_empty()),
            details: raw.details.filter(|s| !s.is_empty()),
            published,
            modified,
            withdrawn,
            severity,
            affected,
            configurations: Vec::new(),
            references,
        },
        warnings,
    })
}

fn range_from_osv(id: &str, path: &str, r: RawRange) -> Result<Range, ParseError> {
    let kind = match r.kind.as_str() {
        "SEMVER" => RangeKind::Semver,
        "ECOSYSTEM" => RangeKind::Ecosystem,
        "GIT" => RangeKind::Git,
        other => {
            return Err(ParseError::invalid(
                id,
                format!("{path}.type"),
                format!("unknown range type {other:?}"),
            ))
        }
    };
    let mut events = Vec::with_capacity(r.events.len());
    for (k, e) in r.events.into_iter().enumerate() {
        let found: Vec<Event> = [
            e.introduced.map(Event::Introduced),
            e.fixed.map(Event::Fixed),
            e.last_affected.map(Event::LastAffected),
            e.limit.map(Event::Limit),
        ]
        .into_iter()
        .flatten()
        .collect();
        let mut found = found.into_iter();
        match (found.next(), found.next()) {
            (Some(event), None) => events.push(event),
            (None, _) => {
                return Err(ParseError::invalid(
                    id,
                    format!("{path}.events[{k}]"),
                    "event has none of introduced, fixed, last_affected, limit",
                ))
            }
            (Some(_), Some(_)) => {
                return Err(ParseError::invalid(
                    id,
                    format!("{path}.events[{k}]"),
                    "event has more than one of introduced, fixed, last_affected, limit",
                ))
            }
        }
    }
    if kind == RangeKind::Git && r.repo.as_deref().is_none_or(str::is_empty) {
        return Err(ParseError::invalid(
            id,
            format!("{path}.repo"),
            "GIT range without repo",
        ));
    }
    Ok(Range {
        kind,
        repo: r.repo,
        events,
    })
}

fn severity_from_osv(s: RawSeverity) -> Severity {
    let base_score = match s.kind.as_str() {
        "CVSS_V2" | "CVSS_V3" | "CVSS_V4" => cvss_base_score(&s.score),
        _ => None,
    };
    Severity {
        kind: s.kind,
        vector: s.score,
        base_score,
        source: None,
    }
}

/// Best-effort id of a document that failed to parse, for the error message.
fn record_id_hint(bytes: &[u8]) -> String {
    #[derive(Deserialize)]
    struct IdOnly {
        id: String,
    }
    match serde_json::from_slice::<IdOnly>(bytes) {
        Ok(r) => r.id,
        Err(_) => "OSV record".to_owned(),
    }
}

fn timestamp(record: &str, path: &str, value: &str) -> Result<DateTime<Utc>, ParseError> {
    parse_timestamp(value).ok_or_else(|| {
        ParseError::invalid(
            record,
            path,
            format!("not an RFC 3339 timestamp: {value:?}"),
        )
    })
}

/// Parses the timestamp shapes feeds use: RFC 3339 (OSV), zone-less ISO 8601 such as NVD's
/// `2023-10-10T14:15:10.603` (taken as UTC, which is what NVD means), and a bare date
/// (midnight UTC).
pub fn parse_timestamp(value: &str) -> Option<DateTime<Utc>> {
    let value = value.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(t.and_utc());
    }
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

const V3_BASE: [&str; 8] = ["AV", "AC", "PR", "UI", "S", "C", "I", "A"];
const V4_BASE: [&str; 11] = [
    "AV", "AC", "AT", "PR", "UI", "VC", "VI", "VA", "SC", "SI", "SA",
];

/// The CVSS base score of a v2, v3.0, v3.1 or v4.0 vector, or `None` when the vector is not
/// complete and valid. Temporal, threat, environmental and supplemental metrics are dropped
/// first, so the result is always the *base* score even for vectors that carry them. v3 and v4
/// are scored by the `cvss` crate (RustSec's); v2, which it lacks, by [`cvss_v2_base_score`].
pub fn cvss_base_score(vector: &str) -> Option<f64> {
    let vector = vector.trim();
    let (prefix, rest) = match vector.split_once('/') {
        Some((p, rest)) if p.starts_with("CVSS:") => (p, rest),
        _ => return cvss_v2_base_score(vector),
    };
    let wanted: &[&str] = match prefix {
        "CVSS:3.0" | "CVSS:3.1" => &V3_BASE,
        "CVSS:4.0" => &V4_BASE,
        "CVSS:2.0" => return cvss_v2_base_score(rest),
        _ => return None,
    };
    let metrics = split_metrics(rest)?;
    let mut base = String::from(prefix);
    for name in wanted {
        let mut values = metrics.iter().filter(|(k, _)| k == name);
        match (values.next(), values.next()) {
            (Some((_, v)), None) => {
                base.push('/');
                base.push_str(name);
                base.push(':');
                base.push_str(v);
            }
            _ => return None,
        }
    }
    let parsed: cvss::Cvss = base.parse().ok()?;
    let score = parsed.score();
    score.is_finite().then_some(score)
}

fn split_metrics(s: &str) -> Option<Vec<(&str, &str)>> {
    s.split('/')
        .filter(|c| !c.is_empty())
        .map(|c| c.split_once(':'))
        .collect()
}

/// CVSS v2 base score per the v2 specification (section 3.2.1), e.g. `AV:N/AC:L/Au:N/C:P/I:P/A:P`
/// (also in parentheses, as some feeds write it). Temporal and environmental metrics are ignored.
pub fn cvss_v2_base_score(vector: &str) -> Option<f64> {
    let vector = vector.trim();
    let vector = vector
        .strip_prefix('(')
        .and_then(|v| v.strip_suffix(')'))
        .unwrap_or(vector);
    let metrics = split_metrics(vector)?;
    let get = |name: &str| -> Option<&str> {
        let mut it = metrics.iter().filter(|(k, _)| *k == name);
        match (it.next(), it.next()) {
            (Some((_, v)), None) => Some(v),
            _ => None,
        }
    };
    const OTHER: [&str; 8] = ["E", "RL", "RC", "CDP", "TD", "CR", "IR", "AR"];
    if metrics
        .iter()
        .any(|(k, _)| !["AV", "AC", "Au", "C", "I", "A"].contains(k) && !OTHER.contains(k))
    {
        return None;
    }
    let av = match get("AV")? {
        "L" => 0.395,
        "A" => 0.646,
        "N" => 1.0,
        _ => return None,
    };
    let ac = match get("AC")? {
        "H" => 0.35,
        "M" => 0.61,
        "L" => 0.71,
        _ => return None,
    };
    let au = match get("Au")? {
        "M" => 0.45,
        "S" => 0.56,
        "N" => 0.704,
        _ => return None,
    };
    let cia = |name: &str| -> Option<f64> {
        match get(name)? {
            "N" => Some(0.0),
            "P" => Some(0.275),
            "C" => Some(0.660),
            _ => None,
        }
    };
    let (c, i, a) = (cia("C")?, cia("I")?, cia("A")?);
    let impact = 10.41 * (1.0 - (1.0 - c) * (1.0 - i) * (1.0 - a));
    let exploitability = 20.0 * av * ac * au;
    let f = if impact == 0.0 { 0.0 } else { 1.176 };
    let raw = ((0.6 * impact) + (0.4 * exploitability) - 1.5) * f;
    // Round half up to one decimal; the small epsilon absorbs binary noise like 4.2499999.
    Some(((raw * 10.0) + 1e-9).round() / 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::path::{Path, PathBuf};

    fn corpus() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus")
    }

    fn osv_files() -> Vec<PathBuf> {
        let mut files = Vec::new();
        for eco in std::fs::read_dir(corpus().join("osv")).unwrap() {
            let eco = eco.unwrap().path();
            if !eco.is_dir() {
                continue;
            }
            for f in std::fs::read_dir(&eco).unwrap() {
                let f = f.unwrap().path();
                if f.extension().is_some_and(|x| x == "json") {
                    files.push(f);
                }
            }
        }
        files.sort();
        files
    }

    fn raw_events(r: &Value) -> Vec<Event> {
        r["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let (k, v) = e.as_object().unwrap().iter().next().unwrap();
                let v = v.as_str().unwrap().to_owned();
                match k.as_str() {
                    "introduced" => Event::Introduced(v),
                    "fixed" => Event::Fixed(v),
                    "last_affected" => Event::LastAffected(v),
                    "limit" => Event::Limit(v),
                    other => panic!("{other}"),
                }
            })
            .collect()
    }

    /// Every field we carry over is compared with the raw JSON, for every corpus record.
    fn assert_matches_raw(adv: &Advisory, raw: &Value, file: &Path) {
        let ctx = file.display();
        assert_eq!(adv.id, raw["id"].as_str().unwrap(), "{ctx}");
        assert_eq!(adv.source, Source::Osv);
        let strs = |v: &Value| -> Vec<String> {
            v.as_array()
                .map(|a| a.iter().map(|s| s.as_str().unwrap().to_owned()).collect())
                .unwrap_or_default()
        };
        assert_eq!(adv.aliases, strs(&raw["aliases"]), "{ctx}");
        assert_eq!(adv.related, strs(&raw["related"]), "{ctx}");
        assert_eq!(
            adv.withdrawn.is_some(),
            raw.get("withdrawn").is_some(),
            "{ctx}"
        );
        if let Some(m) = raw["modified"].as_str() {
            let want = DateTime::parse_from_rfc3339(m).unwrap();
            assert_eq!(adv.modified, want, "{ctx}");
        }
        let raw_aff = raw["affected"].as_array().cloned().unwrap_or_default();
        assert_eq!(adv.affected.len(), raw_aff.len(), "{ctx}");
        for (a, r) in adv.affected.iter().zip(&raw_aff) {
            assert_eq!(a.ecosystem, r["package"]["ecosystem"].as_str().unwrap());
            assert_eq!(a.name, r["package"]["name"].as_str().unwrap());
            assert_eq!(a.purl.as_deref(), r["package"]["purl"].as_str());
            assert_eq!(a.versions, strs(&r["versions"]), "{ctx}");
            let rr = r["ranges"].as_array().cloned().unwrap_or_default();
            assert_eq!(a.ranges.len(), rr.len(), "{ctx}");
            for (range, rraw) in a.ranges.iter().zip(&rr) {
                let kind = serde_json::to_value(range.kind).unwrap();
                assert_eq!(kind, rraw["type"], "{ctx}");
                assert_eq!(range.repo.as_deref(), rraw["repo"].as_str(), "{ctx}");
                assert_eq!(range.events, raw_events(rraw), "{ctx}");
            }
            assert_eq!(
                a.ecosystem_specific.as_ref(),
                r.get("ecosystem_specific"),
                "{ctx}"
            );
        }
        let raw_refs = raw["references"].as_array().cloned().unwrap_or_default();
        assert_eq!(adv.references.len(), raw_refs.len(), "{ctx}");
        let n_sev_top = raw["severity"].as_array().map_or(0, Vec::len);
        assert!(adv.severity.len() >= n_sev_top, "{ctx}");
    }

    #[test]
    fn every_corpus_record_parses_and_matches_its_raw_json() {
        let files = osv_files();
        assert!(files.len() >= 4190, "{}", files.len());
        let mut warned = Vec::new();
        for f in &files {
            let bytes = std::fs::read(f).unwrap();
            let parsed =
                parse_record_detailed(&bytes).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            let raw: Value = serde_json::from_slice(&bytes).unwrap();
            assert_matches_raw(&parsed.advisory, &raw, f);
            if !parsed.warnings.is_empty() {
                warned.push(parsed.advisory.id.clone());
            }
        }
        // Exactly the corpus records lacking `modified` are warned about.
        let missing: Vec<String> = files
            .iter()
            .filter_map(|f| {
                let raw: Value = serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap();
                raw.get("modified")
                    .is_none()
                    .then(|| raw["id"].as_str().unwrap().to_owned())
            })
            .collect();
        assert_eq!(warned, missing);
    }

    #[test]
    fn every_bulk_zip_parses_with_the_loose_file_count() {
        for eco in std::fs::read_dir(corpus().join("osv-bulk")).unwrap() {
            let eco = eco.unwrap().path();
            let zip = eco.join("all.zip");
            if !zip.is_file() {
                continue;
            }
            let advisories =
                parse_zip(&std::fs::read(&zip).unwrap(), &ArchiveLimits::default()).unwrap();
            let loose = corpus().join("osv").join(eco.file_name().unwrap());
            let count = std::fs::read_dir(loose).unwrap().count();
            assert_eq!(advisories.len(), count, "{}", eco.display());
        }
    }

    #[test]
    fn spot_checks_against_raw_json() {
        // A Go record with SEMVER ranges and a crates.io record; events computed from raw JSON.
        for (eco, pick) in [
            ("Go", 0usize),
            ("crates.io", 7),
            ("PyPI", 3),
            ("OSS-Fuzz", 1),
        ] {
            let mut files: Vec<PathBuf> = std::fs::read_dir(corpus().join("osv").join(eco))
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            files.sort();
            let f = &files[pick];
            let bytes = std::fs::read(f).unwrap();
            let adv = parse_record(&bytes).unwrap();
            let raw: Value = serde_json::from_slice(&bytes).unwrap();
            let r0 = &raw["affected"][0]["ranges"][0];
            assert_eq!(adv.affected[0].ranges[0].events, raw_events(r0));
            assert!(!adv.affected[0].ranges[0].events.is_empty());
        }
    }

    #[test]
    fn last_affected_git_and_withdrawn_records_are_carried() {
        let mut saw = (false, false, false);
        for f in osv_files() {
            let adv = parse_record(&std::fs::read(&f).unwrap()).unwrap();
            for r in adv.affected.iter().flat_map(|a| &a.ranges) {
                saw.0 |= r.events.iter().any(|e| matches!(e, Event::LastAffected(_)));
                saw.1 |= r.kind == RangeKind::Git && r.repo.is_some();
            }
            saw.2 |= adv.withdrawn.is_some();
        }
        assert_eq!(saw, (true, true, true));
    }

    #[test]
    fn cvss_scores_of_corpus_vectors() {
        // Every CVSS vector in the corpus (v2, v3.x, v4) gets a base score in range.
        let mut scored = 0;
        let mut unscored = Vec::new();
        for f in osv_files() {
            let adv = parse_record(&std::fs::read(&f).unwrap()).unwrap();
            for s in &adv.severity {
                if let Some(score) = s.base_score {
                    assert!((0.0..=10.0).contains(&score), "{}: {s:?}", adv.id);
                    scored += 1;
                } else {
                    unscored.push((adv.id.clone(), s.vector.clone()));
                }
            }
        }
        assert!(scored > 900, "{scored}");
        assert!(unscored.is_empty(), "{unscored:?}");
        // Published scores: 9.8 is NVD's for this common v3.1 vector; 7.8 is the v2 guide's
        // worked example (CVE-2002-0392).
        assert_eq!(
            cvss_base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
            Some(9.8)
        );
        assert_eq!(cvss_base_score("AV:N/AC:L/Au:N/C:N/I:N/A:C"), Some(7.8));
        assert_eq!(
            cvss_base_score("AV:N/AC:L/Au:N/C:N/I:N/A:C/E:F/RL:OF/RC:C"),
            Some(7.8)
        );
        // Temporal metrics do not change the base score.
        assert_eq!(
            cvss_base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:U/RL:O"),
            Some(9.8)
        );
        assert_eq!(cvss_base_score("CVSS:3.1/AV:N/AC:L"), None);
        assert_eq!(cvss_base_score("garbage"), None);
        assert_eq!(cvss_base_score(""), None);
    }

    /// Every combination of metric values `(name, values)`, as vector strings after `prefix`.
    fn all_vectors(prefix: &str, metrics: &[(&str, &[&str])]) -> Vec<String> {
        let mut out = vec![prefix.to_owned()];
        for (name, values) in metrics {
            out = out
                .iter()
                .flat_map(|v| values.iter().map(move |x| format!("{v}/{name}:{x}")))
                .collect();
        }
        out
    }

    #[test]
    fn every_v3_and_v4_base_vector_scores_in_range_without_panic() {
        let v3 = all_vectors(
            "CVSS:3.1",
            &[
                ("AV", &["N", "A", "L", "P"]),
                ("AC", &["L", "H"]),
                ("PR", &["N", "L", "H"]),
                ("UI", &["N", "R"]),
                ("S", &["U", "C"]),
                ("C", &["H", "L", "N"]),
                ("I", &["H", "L", "N"]),
                ("A", &["H", "L", "N"]),
            ],
        );
        let hln: &[&str] = &["H", "L", "N"];
        let v4 = all_vectors(
            "CVSS:4.0",
            &[
                ("AV", &["N", "A", "L", "P"]),
                ("AC", &["L", "H"]),
                ("AT", &["N", "P"]),
                ("PR", &["N", "L", "H"]),
                ("UI", &["N", "P", "A"]),
                ("VC", hln),
                ("VI", hln),
                ("VA", hln),
                ("SC", hln),
                ("SI", hln),
                ("SA", hln),
            ],
        );
        // v4 has ~10^5 base vectors: a stride coprime to every metric's arity keeps the test
        // fast in debug builds while still varying every metric.
        for v in v3.iter().chain(v4.iter().step_by(7)) {
            let score = cvss_base_score(v).unwrap_or_else(|| panic!("{v}"));
            assert!((0.0..=10.0).contains(&score), "{v}: {score}");
        }
        // No impact at all scores 0 in both versions.
        assert_eq!(
            cvss_base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N"),
            Some(0.0)
        );
        assert_eq!(
            cvss_base_score("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N"),
            Some(0.0)
        );
    }

    #[test]
    fn malformed_records_are_refused_with_location() {
        let err = parse_record(br#"{"id":"X-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"a"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0","fixed":"1"}]}]}]}"#).unwrap_err();
        assert!(
            err.to_string()
                .contains("X-1: affected[0].ranges[0].events[0]"),
            "{err}"
        );
        let err = parse_record(br#"{"id":"X-2","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"a"},"ranges":[{"type":"WEIRD","events":[]}]}]}"#).unwrap_err();
        assert!(err.to_string().contains("unknown range type"), "{err}");
        let err = parse_record(br#"{"id":"X-3","modified":"yesterday"}"#).unwrap_err();
        assert!(err.to_string().contains("X-3: modified"), "{err}");
        let err = parse_record(br#"{"id":"X-4","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Go","name":"a"},"ranges":[{"type":"SEMVER","events":[{"introduced":0}]}]}]}"#).unwrap_err();
        assert!(err.to_string().starts_with("X-4: "), "{err}");
        assert!(parse_record(b"").is_err());
        assert!(parse_record(b"[]").is_err());
        assert!(parse_record(&[0xff, 0xfe]).is_err());
    }

    #[test]
    fn timestamps() {
        let t = parse_timestamp("2023-10-10T14:15:10.603").unwrap();
        assert_eq!(t.to_rfc3339(), "2023-10-10T14:15:10.603+00:00");
        let t = parse_timestamp("2021-10-19T22:14:35+02:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2021-10-19T20:14:35+00:00");
        assert!(parse_timestamp("2021-13-01").is_none());
        assert_eq!(
            parse_timestamp("2021-01-04").unwrap().to_rfc3339(),
            "2021-01-04T00:00:00+00:00"
        );
    }
}
