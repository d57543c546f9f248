//! The pure matching engine: advisories compiled once (versions parsed, names normalised, an
//! index from package identity and CPE vendor/product to advisory), components viewed once
//! (purl mapped to an OSV package, version parsed in that ecosystem's scheme), then matched.
//! No I/O: the store-backed service and `soupwatch scan` both drive it, and so do the benches.

use super::cpe::{self, BoundOrder, Candidate, CandidateSet, CompiledConfiguration, Wfn};
use super::identity::{self, PackageKey};
use super::range::{CompiledRanges, RangeEvidence, Verdict};
use crate::advisory::{Advisory, Source};
use crate::model::Component;
use crate::versions::{scheme_for, Scheme, Version};
use chrono::{DateTime, Utc};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;

/// A component as matching sees it.
#[derive(Debug, Clone)]
pub struct ComponentView {
    /// Position in the release's component list.
    pub index: usize,
    pub key: Option<PackageKey>,
    pub version: Option<String>,
    /// The version parsed in the scheme of `key`'s ecosystem.
    pub parsed: Option<Version>,
    pub commit: Option<String>,
    pub cpe: Option<Wfn>,
    /// Why the purl could not be mapped (the component may still match by CPE).
    pub purl_problem: Option<String>,
    /// Notes from the purl mapping (e.g. binary name used as source name), kept as evidence.
    pub notes: Vec<String>,
}

impl ComponentView {
    pub fn new(index: usize, c: &Component) -> ComponentView {
        let mut v = ComponentView {
            index,
            key: None,
            version: c.version.clone(),
            parsed: None,
            commit: None,
            cpe: None,
            purl_problem: None,
            notes: Vec::new(),
        };
        if let Some(purl) = &c.purl {
            match identity::from_purl(purl) {
                Ok(id) => {
                    if id.version.is_some() {
                        v.version = id.version;
                    }
                    v.commit = id.commit;
                    v.notes = id.notes;
                    v.key = Some(id.key);
                }
                Err(e) => v.purl_problem = Some(e.to_string()),
            }
        }
        if let (Some(key), Some(ver)) = (&v.key, &v.version) {
            if let Some(s) = scheme_for(&key.ecosystem) {
                v.parsed = Version::parse(s, ver).ok();
            }
        }
        if let Some(c) = &c.cpe {
            match c.parse::<Wfn>() {
                Ok(w) => v.cpe = Some(w),
                Err(e) => {
                    if v.key.is_none() {
                        v.purl_problem = Some(format!(
                            "{}; CPE unusable: {e}",
                            v.purl_problem.clone().unwrap_or_else(|| "no purl".into())
                        ));
                    }
                }
            }
        }
        v
    }

    /// Neither a mappable purl nor a CPE: this component cannot be matched at all.
    pub fn unmatchable(&self) -> Option<String> {
        if self.key.is_some() || self.cpe.is_some() {
            None
        } else {
            Some(
                self.purl_problem
                    .clone()
                    .unwrap_or_else(|| "no purl and no CPE".into()),
            )
        }
    }
}

/// One package entry of an advisory, compiled.
#[derive(Debug, Clone)]
pub struct CompiledPackage {
    pub key: PackageKey,
    pub affected_index: usize,
    /// None when the ecosystem's versions have no defined order (only explicit versions count).
    pub ranges: Option<CompiledRanges>,
    /// The entry's `versions`, sorted (see [`super::range::sorted`]).
    pub explicit_versions: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct CompiledAdvisory {
    pub id: String,
    pub source: Source,
    pub modified: DateTime<Utc>,
    pub withdrawn: bool,
    pub packages: Vec<CompiledPackage>,
    /// package identity -> its entries in `packages` (records such as distro advisories name
    /// hundreds of packages; a component finds its entries with one lookup).
    by_key: FxHashMap<PackageKey, Vec<usize>>,
    /// NVD configurations with criteria and bound versions parsed once.
    pub configurations: Vec<CompiledConfiguration<Version>>,
}

impl CompiledAdvisory {
    pub fn compile(a: &Advisory) -> CompiledAdvisory {
        let packages: Vec<CompiledPackage> = a
            .affected
            .iter()
            .enumerate()
            .map(|(i, af)| {
                let key = PackageKey {
                    ecosystem: af.ecosystem.clone(),
                    name: identity::normalize_name(&af.ecosystem, &af.name),
                };
                CompiledPackage {
                    ranges: scheme_for(&af.ecosystem).map(|s| CompiledRanges::compile(af, s)),
                    explicit_versions: super::range::sorted(&af.versions),
                    affected_index: i,
                    key,
                }
            })
            .collect();
        let mut by_key: FxHashMap<PackageKey, Vec<usize>> = FxHashMap::default();
        for (i, p) in packages.iter().enumerate() {
            by_key.entry(p.key.clone()).or_default().push(i);
        }
        CompiledAdvisory {
            by_key,
            id: a.id.clone(),
            source: a.source,
            modified: a.modified,
            withdrawn: a.withdrawn.is_some(),
            packages,
            configurations: a
                .configurations
                .iter()
                .map(|c| CompiledConfiguration::compile(c, &GenericOrder))
                .collect(),
        }
    }

    /// (vendor, product) of every vulnerable criteria, lower-case literals only.
    pub fn cpe_products(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for e in self.configurations.iter().flat_map(|c| c.entries()) {
            if let (true, Some(w)) = (e.source.vulnerable, e.criteria()) {
                if let Some(vp) = cpe::vendor_product(w) {
                    out.push(vp);
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

/// The literal (vendor, product) of a component CPE, lower-case: its index key.
pub fn cpe_vendor_product(w: &Wfn) -> Option<(String, String)> {
    cpe::vendor_product(w)
}

/// Why a component matched one advisory record.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Evidence {
    /// OSV / RustSec package match.
    Package {
        ecosystem: String,
        package: String,
        affected_index: usize,
        version: String,
        scheme: String,
        #[serde(flatten)]
        range: RangeEvidence,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        notes: Vec<String>,
    },
    /// NVD CPE configuration match.
    Cpe {
        cpe: String,
        criteria: String,
        match_criteria_id: Option<String>,
        bound: Option<String>,
        configuration_index: usize,
    },
}

/// A component affected by one advisory record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    pub component: usize,
    pub advisory_id: String,
    pub source: Source,
    pub modified: DateTime<Utc>,
    pub evidence: Evidence,
}

/// A pair that could not be decided: reported next to the findings, never silently dropped.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Undetermined {
    pub component: usize,
    pub advisory_id: String,
    pub reason: String,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct MatchResult {
    pub hits: Vec<Hit>,
    pub undetermined: Vec<Undetermined>,
    /// Component package/CPE checks made (the unit of the matching benchmark).
    pub checks: u64,
}

/// CPE versions carry no ecosystem: NVD bounds are ordered with OSV's generic rule.
struct GenericOrder;

impl BoundOrder for GenericOrder {
    type V = Version;
    fn parse(&self, s: &str) -> Option<Version> {
        Version::parse(Scheme::Generic, s).ok()
    }
    fn cmp(&self, a: &Version, b: &Version) -> Option<std::cmp::Ordering> {
        a.cmp_parsed(b)
    }
}

/// Matches one component against one compiled package entry.
pub fn match_package(
    view: &ComponentView,
    adv: &CompiledAdvisory,
    pkg: &CompiledPackage,
    out: &mut MatchResult,
) {
    out.checks += 1;
    let Some(raw) = view.version.as_deref() else {
        out.undetermined.push(Undetermined {
            component: view.index,
            advisory_id: adv.id.clone(),
            reason: "component has no version".into(),
        });
        return;
    };
    let verdict = match &pkg.ranges {
        Some(r) => r.evaluate(raw, view.parsed.as_ref(), view.commit.as_deref()),
        None if super::range::contains(&pkg.explicit_versions, raw) => {
            Verdict::Affected(RangeEvidence::ExplicitVersion {
                version: raw.to_string(),
            })
        }
        None => Verdict::NotAffected,
    };
    match verdict {
        Verdict::Affected(range) => out.hits.push(Hit {
            component: view.index,
            advisory_id: adv.id.clone(),
            source: adv.source,
            modified: adv.modified,
            evidence: Evidence::Package {
                ecosystem: pkg.key.ecosystem.clone(),
                package: pkg.key.name.clone(),
                affected_index: pkg.affected_index,
                version: raw.to_string(),
                scheme: pkg
                    .ranges
                    .as_ref()
                    .map_or("exact", |r| r.scheme().as_str())
                    .to_string(),
                range,
                notes: view.notes.clone(),
            },
        }),
        Verdict::NotAffected => {}
        Verdict::Undetermined { reason } => out.undetermined.push(Undetermined {
            component: view.index,
            advisory_id: adv.id.clone(),
            reason,
        }),
    }
}

/// The CPEs of one release, gathered once for every advisory evaluated against it.
pub struct CpeCandidates<'a> {
    with_cpe: Vec<&'a ComponentView>,
    candidates: CandidateSet<Version>,
}

impl<'a> CpeCandidates<'a> {
    pub fn new(views: &'a [ComponentView]) -> Self {
        let with_cpe: Vec<&ComponentView> = views.iter().filter(|v| v.cpe.is_some()).collect();
        let candidates = CandidateSet::new(
            with_cpe
                .iter()
                .filter_map(|v| v.cpe.clone())
                .map(|w| Candidate::new(w, &GenericOrder))
                .collect(),
        );
        CpeCandidates {
            with_cpe,
            candidates,
        }
    }
}

/// Evaluates an advisory's CPE configurations over every CPE of one release.
pub fn match_cpe(views: &[ComponentView], adv: &CompiledAdvisory, out: &mut MatchResult) {
    if adv.configurations.is_empty() {
        return;
    }
    match_cpe_with(&CpeCandidates::new(views), adv, out);
}

fn match_cpe_with(c: &CpeCandidates<'_>, adv: &CompiledAdvisory, out: &mut MatchResult) {
    if adv.configurations.is_empty() {
        return;
    }
    let (with_cpe, candidates) = (&c.with_cpe, &c.candidates);

    if candidates.is_empty() {
        return;
    }
    for (ci, config) in adv.configurations.iter().enumerate() {
        out.checks += candidates.len() as u64;
        let ev = cpe::evaluate_compiled(config, candidates, &GenericOrder);
        for h in ev.hits {
            let view = with_cpe[h.candidate];
            out.hits.push(Hit {
                component: view.index,
                advisory_id: adv.id.clone(),
                source: adv.source,
                modified: adv.modified,
                evidence: Evidence::Cpe {
                    cpe: candidates
                        .list
                        .get(h.candidate)
                        .map(|c| c.wfn.to_string())
                        .unwrap_or_default(),
                    criteria: h.criteria,
                    match_criteria_id: h.match_criteria_id,
                    bound: h.bound,
                    configuration_index: ci,
                },
            });
        }
        for u in ev.undecided {
            if let Some(c) = u.candidate {
                out.undetermined.push(Undetermined {
                    component: with_cpe[c].index,
                    advisory_id: adv.id.clone(),
                    reason: format!("{}: {}", u.criteria, u.reason),
                });
            }
        }
    }
}

/// A set of compiled advisories with indexes for fast lookup in both directions.
#[derive(Default)]
pub struct AdvisorySet {
    pub advisories: Vec<CompiledAdvisory>,
    /// package identity -> (advisory, package entry)
    by_package: FxHashMap<PackageKey, Vec<(usize, usize)>>,
    /// (vendor, product) -> advisories with a vulnerable criteria naming it
    by_cpe: FxHashMap<(String, String), Vec<usize>>,
}

impl AdvisorySet {
    pub fn new<'a>(advisories: impl IntoIterator<Item = &'a Advisory>) -> AdvisorySet {
        let mut set = AdvisorySet::default();
        for a in advisories {
            set.add(CompiledAdvisory::compile(a));
        }
        set
    }

    pub fn add(&mut self, c: CompiledAdvisory) {
        let i = self.advisories.len();
        if !c.withdrawn {
            for (pi, p) in c.packages.iter().enumerate() {
                self.by_package
                    .entry(p.key.clone())
                    .or_default()
                    .push((i, pi));
            }
            for vp in c.cpe_products() {
                self.by_cpe.entry(vp).or_default().push(i);
            }
        }
        self.advisories.push(c);
    }

    pub fn len(&self) -> usize {
        self.advisories.len()
    }

    pub fn is_empty(&self) -> bool {
        self.advisories.is_empty()
    }

    /// Every hit of every (non-withdrawn) advisory in this set on one release's components.
    pub fn match_release(&self, views: &[ComponentView]) -> MatchResult {
        let mut out = MatchResult::default();
        let mut cpe_advs: Vec<usize> = Vec::new();
        for v in views {
            if let Some(k) = &v.key {
                if let Some(entries) = self.by_package.get(k) {
                    for &(ai, pi) in entries {
                        let adv = &self.advisories[ai];
                        match_package(v, adv, &adv.packages[pi], &mut out);
                    }
                } else {
                    out.checks += 1;
                }
            }
            if let Some(w) = &v.cpe {
                if let Some(vp) = cpe::vendor_product(w) {
                    if let Some(advs) = self.by_cpe.get(&vp) {
                        cpe_advs.extend(advs);
                    }
                }
            }
        }
        cpe_advs.sort_unstable();
        cpe_advs.dedup();
        if !cpe_advs.is_empty() {
            let cands = CpeCandidates::new(views);
            for ai in cpe_advs {
                match_cpe_with(&cands, &self.advisories[ai], &mut out);
            }
        }
        dedup_hits(&mut out.hits);
        out
    }
}

/// Matches one advisory against one release (the incremental direction).
pub fn match_advisory(adv: &CompiledAdvisory, views: &[ComponentView]) -> MatchResult {
    let mut out = MatchResult::default();
    if adv.withdrawn {
        return out;
    }
    for v in views {
        if let Some(entries) = v.key.as_ref().and_then(|k| adv.by_key.get(k)) {
            for &pi in entries {
                match_package(v, adv, &adv.packages[pi], &mut out);
            }
        }
    }
    match_cpe(views, adv, &mut out);
    dedup_hits(&mut out.hits);
    out
}

/// One record may name a package in several affected entries, or a CPE in several
/// configurations: one hit per (component, record) is enough; the first keeps its evidence.
fn dedup_hits(hits: &mut Vec<Hit>) {
    let keep: Vec<bool> = {
        let mut seen = FxHashSet::default();
        hits.iter()
            .map(|h| seen.insert((h.component, h.advisory_id.as_str(), h.source)))
            .collect()
    };
    let mut keep = keep.into_iter();
    hits.retain(|_| keep.next().unwrap_or(true));
}
