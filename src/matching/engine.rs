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
use std::borrow::Cow;
use std::sync::Arc;

/// What matching derives from a component's purl, CPE and version, parsed once. Identical
/// components in different releases (a product's releases share most of theirs) share one
/// identity through a [`ViewCache`].
#[derive(Debug)]
pub struct ComponentIdentity {
    pub key: Option<PackageKey>,
    /// Shared with every hit's evidence.
    pub version: Option<Arc<str>>,
    /// The version parsed in the scheme of `key`'s ecosystem.
    pub parsed: Option<Version>,
    pub commit: Option<String>,
    pub cpe: Option<Wfn>,
    /// `cpe` ready for NVD evaluation (its version parsed in the generic order), built once
    /// per identity rather than once per (release, advisory).
    pub cpe_candidate: Option<Arc<Candidate<Version>>>,
    /// Why the purl could not be mapped (the component may still match by CPE).
    pub purl_problem: Option<String>,
    /// Notes from the purl mapping (e.g. binary name used as source name), kept as evidence.
    pub notes: Vec<String>,
    /// The component fields this was derived from: (purl, CPE, version), for [`ViewCache`].
    origin: (Option<String>, Option<String>, Option<String>),
}

impl ComponentIdentity {
    pub fn of(c: &Component) -> ComponentIdentity {
        let mut v = ComponentIdentity {
            key: None,
            version: c.version.as_deref().map(Arc::from),
            parsed: None,
            commit: None,
            cpe: None,
            cpe_candidate: None,
            purl_problem: None,
            notes: Vec::new(),
            origin: (c.purl.clone(), c.cpe.clone(), c.version.clone()),
        };
        if let Some(purl) = &c.purl {
            match identity::from_purl(purl) {
                Ok(id) => {
                    if let Some(ver) = id.version {
                        v.version = Some(Arc::from(ver));
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
                Ok(w) => {
                    v.cpe_candidate = Some(Arc::new(Candidate::new(w.clone(), &GenericOrder)));
                    v.cpe = Some(w);
                }
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

    fn derived_from(&self, c: &Component) -> bool {
        self.origin.0 == c.purl && self.origin.1 == c.cpe && self.origin.2 == c.version
    }
}

/// A component of one release as matching sees it: its position and its identity.
#[derive(Debug, Clone)]
pub struct ComponentView {
    /// Position in the release's component list.
    pub index: usize,
    identity: Arc<ComponentIdentity>,
}

impl std::ops::Deref for ComponentView {
    type Target = ComponentIdentity;
    fn deref(&self) -> &ComponentIdentity {
        &self.identity
    }
}

impl ComponentView {
    pub fn new(index: usize, c: &Component) -> ComponentView {
        ComponentView {
            index,
            identity: Arc::new(ComponentIdentity::of(c)),
        }
    }

    /// As [`ComponentView::new`], reusing the identity of an identical component seen earlier
    /// in the same pass.
    pub fn cached(index: usize, c: &Component, cache: &mut ViewCache) -> ComponentView {
        ComponentView {
            index,
            identity: cache.identity(c),
        }
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

/// Component identities of one pass, by purl (else CPE): parsing a purl and its version costs
/// more than matching it, and a portfolio repeats the same components release after release.
/// Bounded: cleared when it grows past `limit` entries.
pub struct ViewCache {
    by_text: FxHashMap<String, Vec<Arc<ComponentIdentity>>>,
    len: usize,
    limit: usize,
}

impl Default for ViewCache {
    fn default() -> Self {
        ViewCache::with_limit(200_000)
    }
}

impl ViewCache {
    pub fn with_limit(limit: usize) -> Self {
        ViewCache {
            by_text: FxHashMap::default(),
            len: 0,
            limit,
        }
    }

    pub fn identity(&mut self, c: &Component) -> Arc<ComponentIdentity> {
        let Some(text) = c.purl.as_deref().or(c.cpe.as_deref()) else {
            return Arc::new(ComponentIdentity::of(c));
        };
        if let Some(found) = self
            .by_text
            .get(text)
            .and_then(|v| v.iter().find(|i| i.derived_from(c)))
        {
            return found.clone();
        }
        if self.len >= self.limit {
            self.by_text.clear();
            self.len = 0;
        }
        let made = Arc::new(ComponentIdentity::of(c));
        self.by_text
            .entry(text.to_string())
            .or_default()
            .push(made.clone());
        self.len += 1;
        made
    }
}

/// One package entry of an advisory, compiled.
#[derive(Debug, Clone)]
pub struct CompiledPackage {
    pub key: PackageKey,
    /// `key`'s ecosystem and name, shared with every hit's evidence.
    ecosystem: Arc<str>,
    name: Arc<str>,
    pub affected_index: usize,
    /// None when the ecosystem's versions have no defined order (only explicit versions count).
    pub ranges: Option<CompiledRanges>,
    /// The entry's `versions`, sorted (see [`super::range::sorted`]).
    pub explicit_versions: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct CompiledAdvisory {
    /// Shared with every hit of this record.
    pub id: Arc<str>,
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
                    ecosystem: Arc::from(key.ecosystem.as_str()),
                    name: Arc::from(key.name.as_str()),
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
            id: Arc::from(a.id.as_str()),
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

/// Why a component matched one advisory record.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Evidence {
    /// OSV / RustSec package match.
    Package {
        ecosystem: Arc<str>,
        package: Arc<str>,
        affected_index: usize,
        version: Arc<str>,
        scheme: Cow<'static, str>,
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
    pub advisory_id: Arc<str>,
    pub source: Source,
    pub modified: DateTime<Utc>,
    pub evidence: Evidence,
}

/// A pair that could not be decided: reported next to the findings, never silently dropped.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Undetermined {
    pub component: usize,
    pub advisory_id: Arc<str>,
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
                ecosystem: pkg.ecosystem.clone(),
                package: pkg.name.clone(),
                affected_index: pkg.affected_index,
                version: view.version.clone().unwrap_or_else(|| Arc::from(raw)),
                scheme: Cow::Borrowed(pkg.ranges.as_ref().map_or("exact", |r| r.scheme().as_str())),
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
        let with_cpe: Vec<&ComponentView> =
            views.iter().filter(|v| v.cpe_candidate.is_some()).collect();
        let candidates = CandidateSet::new(
            with_cpe
                .iter()
                .filter_map(|v| v.cpe_candidate.clone())
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
    /// Shared: a matcher pass compiles each record once for all the releases it matches.
    pub advisories: Vec<Arc<CompiledAdvisory>>,
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
        self.add_shared(Arc::new(c));
    }

    pub fn add_shared(&mut self, c: Arc<CompiledAdvisory>) {
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
            .map(|h| seen.insert((h.component, &*h.advisory_id, h.source)))
            .collect()
    };
    let mut keep = keep.into_iter();
    hits.retain(|_| keep.next().unwrap_or(true));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comp(purl: Option<&str>, cpe: Option<&str>, version: Option<&str>) -> Component {
        Component {
            name: "x".into(),
            purl: purl.map(str::to_string),
            cpe: cpe.map(str::to_string),
            version: version.map(str::to_string),
            ..Component::default()
        }
    }

    #[test]
    fn view_cache_shares_only_identical_components() {
        let mut cache = ViewCache::with_limit(3);
        let a = comp(Some("pkg:pypi/jinja2@2.10"), None, None);
        let a_again = ComponentView::cached(7, &a, &mut cache);
        let a_first = ComponentView::cached(0, &a, &mut cache);
        assert!(Arc::ptr_eq(&a_again.identity, &a_first.identity));
        assert_eq!((a_again.index, a_first.index), (7, 0));
        assert_eq!(
            a_first.key.as_ref().map(|k| k.name.as_str()),
            Some("jinja2")
        );
        // Same purl, but a CPE or a declared version too: a different identity.
        let with_cpe = comp(
            Some("pkg:pypi/jinja2@2.10"),
            Some("cpe:2.3:a:pocoo:jinja2:2.10:*:*:*:*:*:*:*"),
            None,
        );
        let b = ComponentView::cached(1, &with_cpe, &mut cache);
        assert!(!Arc::ptr_eq(&a_first.identity, &b.identity));
        assert!(b.cpe.is_some() && a_first.cpe.is_none());
        let versioned = comp(Some("pkg:pypi/jinja2@2.10"), None, Some("2.10"));
        let c = ComponentView::cached(2, &versioned, &mut cache);
        assert!(!Arc::ptr_eq(&a_first.identity, &c.identity));
        // CPE-only components are cached by CPE; components with neither are not cached.
        let only_cpe = comp(None, Some("cpe:2.3:a:zlib:zlib:1.3:*:*:*:*:*:*:*"), None);
        let d1 = ComponentView::cached(3, &only_cpe, &mut cache);
        let d2 = ComponentView::cached(4, &only_cpe, &mut cache);
        assert!(Arc::ptr_eq(&d1.identity, &d2.identity));
        let bare = comp(None, None, Some("1.0"));
        let e1 = ComponentView::cached(5, &bare, &mut cache);
        let e2 = ComponentView::cached(6, &bare, &mut cache);
        assert!(!Arc::ptr_eq(&e1.identity, &e2.identity));
        assert!(e1.unmatchable().is_some());
        // The limit (3) was reached by the fourth distinct identity: the cache started over.
        let a_later = ComponentView::cached(8, &a, &mut cache);
        assert!(!Arc::ptr_eq(&a_later.identity, &a_first.identity));
        assert!(cache.len <= 3);
    }
}
