//! The RustSec advisory database, read in its native folder layout (`crates/<crate>/*.md`,
//! `rust/<component>/*.md`) through the `rustsec` crate, and normalised to [`Advisory`] with
//! [`Source::Rustsec`]. Version applicability is taken from the crate's own model
//! (`rustsec::osv::ranges_for_advisory` over `[versions] patched/unaffected`), so our ranges are
//! exactly the ones RustSec itself exports to OSV.
//!
//! Choices worth knowing:
//! - Day-precision dates become 12:00 UTC, as in RustSec's OSV export.
//! - `modified` is the advisory `date`, or the `withdrawn` date when later: the format has no
//!   modification time and file mtimes are not deterministic. Consequence for the store: an edit
//!   to a RustSec advisory that leaves its dates alone is not seen as a change by a
//!   newest-`modified` upsert; compare content as well when mirroring RustSec.
//! - Ranges mirror RustSec's OSV export event for event: a range without a lower bound is
//!   `introduced: "0.0.0-0"`, an open upper bound has no `fixed` event.
//! - Informational advisories (`unmaintained`, `unsound`, `notice`, other) are kept; the kind is
//!   in `affected[0].database_specific.informational` (null for vulnerabilities), next to
//!   `categories` and `cvss`, the same shape as RustSec's OSV export. `ecosystem_specific` holds
//!   `affects` (arch, os, functions) likewise.
//! - Advisories of the `rust/` collection concern the toolchain (std, cargo, rustdoc), whose
//!   versions are Rust releases, not crate versions: their ecosystem is
//!   [`RUST_TOOLCHAIN_ECOSYSTEM`], never `crates.io`, so that e.g. the toolchain's `cargo < 1.26`
//!   cannot match every 0.x release of the `cargo` library crate.

use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use rustsec::advisory::Date;
use rustsec::Collection;

use super::osv::ParseError;
use super::{Advisory, Affected, Event, Range, RangeKind, Reference, Severity, Source};

/// OSV ecosystem of crates advisories.
pub const CRATES_ECOSYSTEM: &str = "crates.io";
/// Ecosystem given to advisories about the Rust toolchain itself (the `rust/` collection).
pub const RUST_TOOLCHAIN_ECOSYSTEM: &str = "rust-toolchain";
/// Lower bound RustSec's OSV export writes for ranges open at the bottom.
const OPEN_LOWER_BOUND: &str = "0.0.0-0";

/// Loads every advisory of a RustSec advisory-db checkout, sorted by id. One unreadable
/// advisory fails the load (that is how `rustsec::Database::open` works, and a partial database
/// would look like withdrawals).
pub fn load_database(dir: &Path) -> Result<Vec<Advisory>, ParseError> {
    let db = rustsec::Database::open(dir).map_err(|e| ParseError::Rustsec {
        path: dir.to_owned(),
        message: e.to_string(),
    })?;
    let mut out = db
        .iter()
        .map(|a| convert(a, dir))
        .collect::<Result<Vec<_>, _>>()?;
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// Normalises one advisory as loaded by the `rustsec` crate.
pub fn convert(advisory: &rustsec::Advisory, dir: &Path) -> Result<Advisory, ParseError> {
    let meta = &advisory.metadata;
    let id = meta.id.as_str().to_owned();
    let to_json = |what: &str, v: Result<serde_json::Value, serde_json::Error>| {
        v.map_err(|e| ParseError::Rustsec {
            path: dir.to_owned(),
            message: format!("{id}: cannot represent {what}: {e}"),
        })
    };
    let published = date(&id, &meta.date)?;
    let withdrawn = meta.withdrawn.as_ref().map(|d| date(&id, d)).transpose()?;
    let modified = withdrawn.map_or(published, |w| w.max(published));

    let toolchain = meta.collection == Some(Collection::Rust);
    let name = meta.package.as_str().to_owned();

    let mut events = Vec::new();
    for range in rustsec::osv::ranges_for_advisory(&advisory.versions) {
        events.push(Event::Introduced(
            range
                .introduced
                .map_or_else(|| OPEN_LOWER_BOUND.to_owned(), |v| v.to_string()),
        ));
        if let Some(fixed) = range.fixed {
            events.push(Event::Fixed(fixed.to_string()));
        }
    }

    let affects = advisory.affected.clone().unwrap_or_default();
    let functions: Vec<_> = affects.functions.keys().collect();
    let ecosystem_specific = serde_json::json!({
        "affects": {
            "arch": to_json("arch", serde_json::to_value(&affects.arch))?,
            "os": to_json("os", serde_json::to_value(&affects.os))?,
            "functions": to_json("functions", serde_json::to_value(&functions))?,
        },
        "affected_functions": null,
    });
    let database_specific = serde_json::json!({
        "categories": to_json("categories", serde_json::to_value(&meta.categories))?,
        "cvss": meta.cvss.as_ref().map(|c| c.to_string()),
        "informational": meta.informational.as_ref().map(|i| i.as_str().to_owned()),
    });

    let severity = meta
        .cvss
        .as_ref()
        .map(|cvss| {
            let vector = cvss.to_string();
            Severity {
                kind: if vector.starts_with("CVSS:4") {
                    "CVSS_V4"
                } else {
                    "CVSS_V3"
                }
                .to_owned(),
                base_score: Some(cvss.score()).filter(|s| s.is_finite()),
                vector,
                source: None,
            }
        })
        .into_iter()
        .collect();

    let mut references = Vec::new();
    if !toolchain {
        references.push(Reference {
            kind: Some("PACKAGE".into()),
            url: format!("https://crates.io/crates/{name}"),
        });
    }
    references.push(Reference {
        kind: Some("ADVISORY".into()),
        url: format!("https://rustsec.org/advisories/{id}.html"),
    });
    for url in meta.url.iter().chain(&meta.references) {
        references.push(Reference {
            kind: Some(guess_url_kind(url.as_str()).into()),
            url: url.to_string(),
        });
    }

    Ok(Advisory {
        source: Source::Rustsec,
        aliases: meta.aliases.iter().map(|a| a.as_str().to_owned()).collect(),
        related: meta.related.iter().map(|a| a.as_str().to_owned()).collect(),
        summary: Some(meta.title.clone()).filter(|s| !s.is_empty()),
        details: Some(meta.description.clone()).filter(|s| !s.is_empty()),
        published: Some(published),
        modified,
        withdrawn,
        severity,
        affected: vec![Affected {
            ecosystem: if toolchain {
                RUST_TOOLCHAIN_ECOSYSTEM
            } else {
                CRATES_ECOSYSTEM
            }
            .to_owned(),
            purl: (!toolchain).then(|| format!("pkg:cargo/{name}")),
            name,
            ranges: vec![Range {
                kind: RangeKind::Semver,
                repo: None,
                events,
            }],
            versions: Vec::new(),
            ecosystem_specific: Some(ecosystem_specific),
            database_specific: Some(database_specific),
        }],
        configurations: Vec::new(),
        references,
        id,
    })
}

/// Noon UTC, as RustSec's OSV export renders its day-precision dates.
fn date(id: &str, d: &Date) -> Result<DateTime<Utc>, ParseError> {
    NaiveDate::from_ymd_opt(d.year() as i32, d.month(), d.day())
        .and_then(|n| n.and_hms_opt(12, 0, 0))
        .map(|n| n.and_utc())
        .ok_or_else(|| ParseError::invalid(id, "date", format!("invalid date {}", d.as_str())))
}

/// The reference kinds RustSec's own OSV export assigns (`guess_url_kind` in the crate).
fn guess_url_kind(url: &str) -> &'static str {
    if (url.contains("://github.com/") || url.contains("://gitlab.")) && url.contains("/issues/") {
        "REPORT"
    } else if url.contains("/advisories/") || url.contains("://cve.mitre.org/") {
        "ADVISORY"
    } else if url.contains("://crates.io/crates/") {
        "PACKAGE"
    } else {
        "WEB"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advisory::osv::parse_record;
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::PathBuf;

    fn corpus() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus")
    }

    fn load() -> Vec<Advisory> {
        load_database(&corpus().join("rustsec")).unwrap()
    }

    fn count_md(dir: &Path) -> usize {
        let mut n = 0;
        for pkg in std::fs::read_dir(dir).unwrap() {
            let pkg = pkg.unwrap().path();
            if pkg.is_dir() {
                n += std::fs::read_dir(pkg)
                    .unwrap()
                    .filter(|f| {
                        let p = f.as_ref().unwrap().path();
                        p.extension().is_some_and(|x| x == "md")
                            && !p.file_name().unwrap().to_string_lossy().starts_with('.')
                    })
                    .count();
            }
        }
        n
    }

    #[test]
    fn loads_every_advisory_file() {
        let all = load();
        let root = corpus().join("rustsec");
        let crates = count_md(&root.join("crates"));
        let rust = count_md(&root.join("rust"));
        assert_eq!(all.len(), crates + rust);
        let toolchain = all
            .iter()
            .filter(|a| a.affected[0].ecosystem == RUST_TOOLCHAIN_ECOSYSTEM)
            .count();
        assert_eq!(toolchain, rust);
        assert!(all.iter().all(|a| a.source == Source::Rustsec));
        let ids: BTreeSet<_> = all.iter().map(|a| &a.id).collect();
        assert_eq!(ids.len(), all.len(), "duplicate ids");
        assert!(all.iter().any(|a| a.withdrawn.is_some()));
        let informational = all
            .iter()
            .filter(|a| {
                a.affected[0].database_specific.as_ref().unwrap()["informational"].is_string()
            })
            .count();
        assert!(informational > 100, "{informational}");
    }

    /// The check that the product's two RustSec paths agree: our reading of the native
    /// database through the `rustsec` crate against RustSec's own OSV export in the corpus.
    #[test]
    fn agrees_with_rustsec_osv_export() {
        let ours: BTreeMap<String, Advisory> =
            load().into_iter().map(|a| (a.id.clone(), a)).collect();
        let osv_dir = corpus().join("osv/crates.io");
        let mut compared = 0;
        let mut mismatches = Vec::new();
        for f in std::fs::read_dir(&osv_dir).unwrap() {
            let f = f.unwrap().path();
            let theirs = parse_record(&std::fs::read(&f).unwrap()).unwrap();
            let Some(mine) = ours.get(&theirs.id) else {
                continue;
            };
            compared += 1;
            let name = |a: &Advisory| {
                a.affected
                    .iter()
                    .map(|x| (x.ecosystem.clone(), x.name.clone()))
                    .collect::<Vec<_>>()
            };
            let events = |a: &Advisory| {
                a.affected
                    .iter()
                    .flat_map(|x| &x.ranges)
                    .flat_map(|r| r.events.iter().map(|e| format!("{e:?}")))
                    .collect::<BTreeSet<_>>()
            };
            if name(mine) != name(&theirs) {
                mismatches.push(format!(
                    "{}: package {:?} vs {:?}",
                    mine.id,
                    name(mine),
                    name(&theirs)
                ));
            }
            let ds = |a: &Advisory| a.affected[0].database_specific.clone();
            let es = |a: &Advisory| a.affected[0].ecosystem_specific.clone();
            let sv = |a: &Advisory| {
                a.severity
                    .iter()
                    .map(|s| (s.kind.clone(), s.vector.clone()))
                    .collect::<Vec<_>>()
            };
            for (what, d) in [
                ("aliases", mine.aliases != theirs.aliases),
                ("related", mine.related != theirs.related),
                ("withdrawn", mine.withdrawn != theirs.withdrawn),
                ("published", mine.published != theirs.published),
                ("summary", mine.summary != theirs.summary),
                ("details", mine.details != theirs.details),
                ("dbspec", ds(mine) != ds(&theirs)),
                ("ecospec", es(mine) != es(&theirs)),
                ("severity", sv(mine) != sv(&theirs)),
                ("purl", mine.affected[0].purl != theirs.affected[0].purl),
                ("refs", mine.references != theirs.references),
            ] {
                if d {
                    mismatches.push(format!("{}: {what} differs", mine.id));
                }
            }
            if events(mine) != events(&theirs) {
                mismatches.push(format!(
                    "{}: events {:?} vs {:?}",
                    mine.id,
                    events(mine),
                    events(&theirs)
                ));
            }
        }
        // Every crates advisory of the database is also in the export (the export holds one
        // more, a placeholder id), so nothing escapes the comparison.
        let crate_advisories = ours
            .values()
            .filter(|a| a.affected[0].ecosystem == CRATES_ECOSYSTEM)
            .count();
        assert_eq!(compared, crate_advisories);
        assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    }
}
