//! OSV range evaluation, pure: is this version inside an `affected[]` entry? Follows the OSV
//! schema's algorithm: events sorted by version (`introduced: "0"` first), walked in order
//! (`introduced` opens, `fixed` closes at that version, `last_affected` closes just after it),
//! `limit` events cap the range from above, explicit `versions` lists match exactly.
//!
//! Versions are parsed once per affected entry ([`CompiledRanges`]) so the hot path compares
//! parsed values only. GIT ranges are not evaluated: deciding whether a commit lies in a range
//! needs the repository's history, which soupwatch does not fetch. A component carrying a commit
//! matches a GIT range only when an event names that exact commit; everything else about GIT
//! ranges is left to the SEMVER/ECOSYSTEM ranges and `versions` lists of the same record.

use crate::advisory::{Affected, Event, RangeKind};
use crate::versions::{is_zero_introduced, Scheme, Version};
use serde::Serialize;
use std::borrow::Cow;
use std::cmp::Ordering;
use std::sync::Arc;

/// One event with its version parsed (`None` = `introduced: "0"` or `limit: "*"`).
#[derive(Debug, Clone)]
struct Ev {
    kind: EvKind,
    /// Shared with every hit whose evidence names this event.
    raw: Arc<str>,
    version: Option<Version>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvKind {
    // Order matters for ties: at equal versions `introduced` is processed first, so a range
    // `introduced X, fixed X` is empty rather than "X only".
    Introduced,
    Fixed,
    LastAffected,
    Limit,
}

#[derive(Debug, Clone)]
struct CompiledRange {
    index: usize,
    kind: RangeKind,
    events: Vec<Ev>,
    limits: Vec<Ev>,
}

/// An `affected[]` entry ready for fast evaluation in one version scheme.
#[derive(Debug, Clone)]
pub struct CompiledRanges {
    scheme: Scheme,
    ranges: Vec<CompiledRange>,
    /// The explicit `versions` list, sorted for binary search: records list hundreds and
    /// every component check looks here first.
    versions: Vec<String>,
    /// Why some of the entry could not be compiled (an event version that does not parse).
    pub problems: Vec<String>,
    /// GIT range events (commit ids), matched only by exact commit equality.
    git_commits: Vec<(usize, EvKind, String)>,
}

/// Why a version was judged affected: the range and the events around it, or the list entry.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RangeEvidence {
    Range {
        range_index: usize,
        range_type: Cow<'static, str>,
        /// The event that opened the range for this version (`introduced`).
        introduced: Arc<str>,
        /// The event that would close it above this version, if any (`fixed` / `last_affected`).
        closed_by: Option<(EvKind, Arc<str>)>,
    },
    ExplicitVersion {
        version: String,
    },
    GitCommit {
        range_index: usize,
        commit: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    Affected(RangeEvidence),
    NotAffected,
    /// The record could not be evaluated for this version: reported, never guessed.
    Undetermined {
        reason: String,
    },
}

fn event(e: &Event) -> (EvKind, &str) {
    match e {
        Event::Introduced(v) => (EvKind::Introduced, v),
        Event::Fixed(v) => (EvKind::Fixed, v),
        Event::LastAffected(v) => (EvKind::LastAffected, v),
        Event::Limit(v) => (EvKind::Limit, v),
    }
}

impl CompiledRanges {
    pub fn compile(affected: &Affected, scheme: Scheme) -> CompiledRanges {
        let mut problems = Vec::new();
        let mut ranges = Vec::new();
        let mut git_commits = Vec::new();
        for (index, r) in affected.ranges.iter().enumerate() {
            if r.kind == RangeKind::Git {
                for e in &r.events {
                    let (k, v) = event(e);
                    git_commits.push((index, k, v.to_string()));
                }
                continue;
            }
            let mut events = Vec::new();
            let mut limits = Vec::new();
            let mut ok = true;
            for e in &r.events {
                let (kind, raw) = event(e);
                let version = if (kind == EvKind::Introduced && is_zero_introduced(raw))
                    || (kind == EvKind::Limit && raw == "*")
                {
                    None
                } else {
                    match Version::parse(scheme, raw) {
                        Ok(v) => Some(v),
                        Err(err) => {
                            problems.push(format!("range {index}: {err}"));
                            ok = false;
                            break;
                        }
                    }
                };
                let ev = Ev {
                    kind,
                    raw: Arc::from(raw),
                    version,
                };
                if kind == EvKind::Limit {
                    limits.push(ev);
                } else {
                    events.push(ev);
                }
            }
            if !ok {
                continue;
            }
            // Sort by version, "0" first; stable, with `introduced` before closers on ties.
            events.sort_by(|a, b| match (&a.version, &b.version) {
                (None, None) => a.kind.cmp(&b.kind),
                (None, Some(_)) => Ordering::Less,
                (Some(_), None) => Ordering::Greater,
                (Some(x), Some(y)) => x
                    .cmp_parsed(y)
                    .unwrap_or(Ordering::Equal)
                    .then(a.kind.cmp(&b.kind)),
            });
            ranges.push(CompiledRange {
                index,
                kind: r.kind,
                events,
                limits,
            });
        }
        CompiledRanges {
            scheme,
            ranges,
            versions: sorted(&affected.versions),
            problems,
            git_commits,
        }
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// Evaluates a component version (raw and, when it parsed, parsed in this scheme) and an
    /// optional commit.
    pub fn evaluate(&self, raw: &str, parsed: Option<&Version>, commit: Option<&str>) -> Verdict {
        if contains(&self.versions, raw) {
            return Verdict::Affected(RangeEvidence::ExplicitVersion {
                version: raw.to_string(),
            });
        }
        if let Some(c) = commit {
            for (range_index, kind, v) in &self.git_commits {
                if v.eq_ignore_ascii_case(c) && *kind != EvKind::Fixed && *kind != EvKind::Limit {
                    return Verdict::Affected(RangeEvidence::GitCommit {
                        range_index: *range_index,
                        commit: c.to_string(),
                    });
                }
            }
        }
        let Some(v) = parsed else {
            if self.ranges.is_empty() {
                return Verdict::NotAffected;
            }
            return Verdict::Undetermined {
                reason: format!("version {raw:?} does not parse as {}", self.scheme),
            };
        };
        for r in &self.ranges {
            if let Some(ev) = evaluate_range(r, v) {
                return Verdict::Affected(ev);
            }
        }
        if !self.problems.is_empty() {
            return Verdict::Undetermined {
                reason: format!("advisory range not evaluable: {}", self.problems.join("; ")),
            };
        }
        Verdict::NotAffected
    }
}

/// A sorted, de-duplicated copy of a version list, for [`contains`].
pub fn sorted(versions: &[String]) -> Vec<String> {
    let mut v = versions.to_vec();
    v.sort_unstable();
    v.dedup();
    v
}

/// Exact membership in a list made by [`sorted`].
pub fn contains(sorted: &[String], raw: &str) -> bool {
    sorted.binary_search_by(|v| v.as_str().cmp(raw)).is_ok()
}

fn ge(v: &Version, bound: &Version) -> bool {
    matches!(
        v.cmp_parsed(bound),
        Some(Ordering::Greater | Ordering::Equal)
    )
}

fn evaluate_range(r: &CompiledRange, v: &Version) -> Option<RangeEvidence> {
    if !r.limits.is_empty() {
        // limit "*" (None) means unbounded; otherwise v must be below some limit.
        let below_any = r.limits.iter().any(|l| match &l.version {
            None => true,
            Some(lv) => v.cmp_parsed(lv) == Some(Ordering::Less),
        });
        if !below_any {
            return None;
        }
    }
    let mut open: Option<&Ev> = None;
    let mut closer: Option<&Ev> = None;
    for e in &r.events {
        match e.kind {
            EvKind::Introduced => {
                let opens = match &e.version {
                    None => true,
                    Some(iv) => ge(v, iv),
                };
                if opens {
                    open = Some(e);
                    closer = None;
                } else if open.is_some() && closer.is_none() {
                    break;
                }
            }
            EvKind::Fixed => {
                if let Some(fv) = &e.version {
                    if ge(v, fv) {
                        open = None;
                    } else if open.is_some() && closer.is_none() {
                        closer = Some(e);
                    }
                }
            }
            EvKind::LastAffected => {
                if let Some(lv) = &e.version {
                    if v.cmp_parsed(lv) == Some(Ordering::Greater) {
                        open = None;
                    } else if open.is_some() && closer.is_none() {
                        closer = Some(e);
                    }
                }
            }
            EvKind::Limit => {}
        }
    }
    open.map(|o| RangeEvidence::Range {
        range_index: r.index,
        range_type: match r.kind {
            RangeKind::Semver => "SEMVER",
            RangeKind::Ecosystem => "ECOSYSTEM",
            RangeKind::Git => "GIT",
        }
        .into(),
        introduced: o.raw.clone(),
        closed_by: closer.map(|c| (c.kind, c.raw.clone())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advisory::Range;

    fn aff(events: Vec<Event>, versions: &[&str]) -> Affected {
        Affected {
            ecosystem: "PyPI".into(),
            name: "x".into(),
            purl: None,
            ranges: vec![Range {
                kind: RangeKind::Ecosystem,
                repo: None,
                events,
            }],
            versions: versions.iter().map(|s| s.to_string()).collect(),
            ecosystem_specific: None,
            database_specific: None,
        }
    }

    fn hit(a: &Affected, v: &str) -> bool {
        let c = CompiledRanges::compile(a, Scheme::Pep440);
        let p = Version::parse(Scheme::Pep440, v).ok();
        matches!(c.evaluate(v, p.as_ref(), None), Verdict::Affected(_))
    }

    #[test]
    fn introduced_fixed_boundaries() {
        let a = aff(
            vec![Event::Introduced("1.0".into()), Event::Fixed("1.5".into())],
            &[],
        );
        assert!(!hit(&a, "0.9"));
        assert!(hit(&a, "1.0"));
        assert!(hit(&a, "1.4.99"));
        assert!(
            hit(&a, "1.5rc1"),
            "a pre-release of the fix is still before the fix"
        );
        assert!(!hit(&a, "1.5"));
        assert!(!hit(&a, "2.0"));
    }

    #[test]
    fn zero_introduced_last_affected_and_reopened_ranges() {
        let a = aff(
            vec![
                Event::Introduced("0".into()),
                Event::LastAffected("1.2".into()),
                Event::Introduced("2.0".into()),
                Event::Fixed("2.3".into()),
            ],
            &[],
        );
        assert!(hit(&a, "0.0.1"));
        assert!(hit(&a, "1.2"));
        assert!(!hit(&a, "1.2.1"));
        assert!(!hit(&a, "1.9"));
        assert!(hit(&a, "2.0"));
        assert!(!hit(&a, "2.3"));
    }

    #[test]
    fn events_are_sorted_before_walking() {
        // Published out of order: fixed listed before introduced.
        let a = aff(
            vec![Event::Fixed("3.0".into()), Event::Introduced("2.0".into())],
            &[],
        );
        assert!(hit(&a, "2.5"));
        assert!(!hit(&a, "3.0"));
        assert!(!hit(&a, "1.0"));
    }

    #[test]
    fn limit_caps_the_range_and_empty_ranges_match_nothing() {
        let a = aff(
            vec![Event::Introduced("0".into()), Event::Limit("2.0".into())],
            &[],
        );
        assert!(hit(&a, "1.9"));
        assert!(!hit(&a, "2.0"));
        let empty = aff(
            vec![Event::Introduced("1.0".into()), Event::Fixed("1.0".into())],
            &[],
        );
        assert!(!hit(&empty, "1.0"));
        assert!(!hit(&empty, "1.1"));
    }

    #[test]
    fn explicit_versions_and_unparsable_inputs() {
        let a = aff(vec![], &["1.0", "1.1"]);
        assert!(hit(&a, "1.1"));
        assert!(!hit(&a, "1.2"));
        let r = aff(vec![Event::Introduced("0".into())], &[]);
        let c = CompiledRanges::compile(&r, Scheme::Pep440);
        assert!(matches!(
            c.evaluate("not a version!", None, None),
            Verdict::Undetermined { .. }
        ));
        let bad = aff(
            vec![Event::Introduced("0".into()), Event::Fixed("@@".into())],
            &[],
        );
        let c = CompiledRanges::compile(&bad, Scheme::Pep440);
        let v = Version::parse(Scheme::Pep440, "1.0").unwrap();
        assert!(matches!(
            c.evaluate("1.0", Some(&v), None),
            Verdict::Undetermined { .. }
        ));
    }
}
