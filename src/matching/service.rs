//! The matching service: keeps the store's indexes and hit records in step with releases and
//! advisories, in both directions and incrementally. A stored release is indexed (package
//! identity and CPE product -> component instance) and matched against the advisories indexed
//! under its packages; a new, changed or withdrawn advisory is matched against the component
//! instances indexed under its packages. Both arrive through queues written in the same
//! transaction as the change, and are acknowledged only after the hits are committed, so a crash
//! at any point means the work is redone, never lost. One worker runs this serially.

use super::engine::{match_advisory, AdvisorySet, CompiledAdvisory, ComponentView, Hit, ViewCache};
use crate::advisory::{Advisory, Source};
use crate::model::Component;
use crate::store::{
    hit_digest, hit_key, key, EventKind, EventRecord, HitRecord, HitState, HitStatus,
    ReleaseRecord, Store, StoreError,
};
use chrono::Utc;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

/// What one pass did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct MatchRun {
    pub releases: usize,
    pub advisories: usize,
    pub new_hits: usize,
    pub retracted: usize,
    /// (product, release) pairs that gained an active hit this pass: for "newly affected" alerts.
    pub newly_affected: Vec<(String, String, String)>,
}

pub struct Matcher<'a> {
    store: &'a Store,
}

/// Lookups repeated across the releases and advisories of one pass.
#[derive(Default)]
struct PassCache {
    releases: HashMap<(String, String), Option<ReleaseRecord>>,
    /// advisory id -> alias group id.
    groups: HashMap<String, String>,
    /// Component identities (purl/CPE/version parsed) shared across the pass's releases.
    views: ViewCache,
    /// Advisory records read and compiled once for every release of the pass that names them
    /// (None: gone from the store). Cleared past `ADVISORY_CACHE_LIMIT` entries.
    advisories: HashMap<(String, Source), Option<Arc<LoadedAdvisory>>>,
}

const ADVISORY_CACHE_LIMIT: usize = 50_000;

/// An advisory record as stored, and compiled.
struct LoadedAdvisory {
    record: Advisory,
    compiled: Arc<CompiledAdvisory>,
}

/// A fresh evaluation turned into hit records, not yet committed.
#[derive(Default)]
struct Decided {
    writes: Vec<HitRecord>,
    retracted: Vec<HitRecord>,
}

/// What matching reads of a component and what a hit record copies of it: the value of the
/// component's index entries.
fn match_subject(c: &Component) -> Component {
    Component {
        bom_ref: c.bom_ref.clone(),
        name: c.name.clone(),
        version: c.version.clone(),
        purl: c.purl.clone(),
        cpe: c.cpe.clone(),
        ..Component::default()
    }
}

/// The component index entries of one release: package identity (`p`) and CPE product (`c`)
/// -> instance, and the release's CPE-bearing components (`k`), each valued with the
/// component's [`match_subject`].
fn component_index_entries(
    comps: &[Component],
    views: &[ComponentView],
    product: &str,
    release: &str,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut entries = Vec::new();
    for v in views {
        let Some(c) = comps.get(v.index) else {
            continue;
        };
        let value = serde_json::to_vec(&match_subject(c)).unwrap_or_default();
        let idx = format!("{:06}", v.index);
        if let Some(k) = &v.key {
            entries.push((
                key(&["p", &k.ecosystem, &k.name, product, release, &idx]),
                value.clone(),
            ));
        }
        if let Some(w) = &v.cpe {
            if let Some((vendor, prod)) = super::cpe::vendor_product(w) {
                entries.push((
                    key(&["c", &vendor, &prod, product, release, &idx]),
                    value.clone(),
                ));
            }
            entries.push((key(&["k", product, release, &idx]), value));
        }
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries.dedup_by(|a, b| a.0 == b.0);
    entries
}

fn advisory_index_keys(a: &CompiledAdvisory) -> Vec<Vec<u8>> {
    let mut keys: Vec<Vec<u8>> = a
        .packages
        .iter()
        .map(|p| key(&["p", &p.key.ecosystem, &p.key.name, &a.id, a.source.as_str()]))
        .collect();
    for (v, p) in a.cpe_products() {
        keys.push(key(&["c", &v, &p, &a.id, a.source.as_str()]));
    }
    keys
}

impl<'a> Matcher<'a> {
    pub fn new(store: &'a Store) -> Self {
        Matcher { store }
    }

    /// Drains both queues: releases first (so they are indexed), then advisories.
    pub fn run_pending(&self) -> Result<MatchRun, StoreError> {
        let mut run = MatchRun::default();
        let mut cache = PassCache::default();
        for (p, r) in self.store.pending_releases()? {
            self.process_release(&p, &r, &mut cache, &mut run)?;
            self.store.ack_release(&p, &r)?;
            run.releases += 1;
        }
        // Releases may have been superseded above: read their records afresh. Advisory
        // passes read their (changed) record from the store, not from the release cache.
        cache.releases.clear();
        cache.advisories.clear();
        loop {
            let ids = self.store.pending_matches(500)?;
            if ids.is_empty() {
                break;
            }
            for id in &ids {
                for adv in self.store.advisories_by_id(id)? {
                    self.process_advisory(&adv, &mut cache, &mut run)?;
                }
            }
            self.store.ack_matches(&ids)?;
            run.advisories += ids.len();
        }
        Ok(run)
    }

    fn release_record(
        &self,
        cache: &mut PassCache,
        p: &str,
        r: &str,
    ) -> Result<Option<ReleaseRecord>, StoreError> {
        if let Some(rec) = cache.releases.get(&(p.to_string(), r.to_string())) {
            return Ok(rec.clone());
        }
        let rec = match (
            crate::model::ProductName::parse(p),
            crate::model::ReleaseName::parse(r),
        ) {
            (Ok(pn), Ok(rn)) => self.store.release(&pn, &rn)?,
            _ => None,
        };
        cache
            .releases
            .insert((p.to_string(), r.to_string()), rec.clone());
        Ok(rec)
    }

    fn group_of(&self, cache: &mut PassCache, id: &str) -> Result<String, StoreError> {
        if let Some(g) = cache.groups.get(id) {
            return Ok(g.clone());
        }
        let g = self
            .store
            .alias_group(id)?
            .map_or_else(|| id.to_string(), |g| g.0);
        cache.groups.insert(id.to_string(), g.clone());
        Ok(g)
    }

    fn process_release(
        &self,
        p: &str,
        r: &str,
        cache: &mut PassCache,
        run: &mut MatchRun,
    ) -> Result<(), StoreError> {
        let Some(rec) = self.release_record(cache, p, r)? else {
            return Ok(());
        };
        let comps = self.store.components(&rec.sha256)?.unwrap_or_default();
        let views: Vec<ComponentView> = comps
            .iter()
            .enumerate()
            .map(|(i, c)| ComponentView::cached(i, c, &mut cache.views))
            .collect();
        self.store
            .index_release(p, r, &component_index_entries(&comps, &views, p, r))?;
        let mut candidates: Vec<(String, Source)> = Vec::new();
        let mut seen_keys = HashSet::new();
        for v in &views {
            if let Some(k) = &v.key {
                if seen_keys.insert(("p", k.ecosystem.clone(), k.name.clone())) {
                    candidates.extend(self.store.advisories_under(&[
                        "p",
                        &k.ecosystem,
                        &k.name,
                    ])?);
                }
            }
            if let Some((vendor, prod)) = v.cpe.as_ref().and_then(super::cpe::vendor_product) {
                if seen_keys.insert(("c", vendor.clone(), prod.clone())) {
                    candidates.extend(self.store.advisories_under(&["c", &vendor, &prod])?);
                }
            }
        }
        candidates.sort();
        candidates.dedup();
        if cache.advisories.len() > ADVISORY_CACHE_LIMIT {
            cache.advisories.clear();
        }
        let mut loaded: Vec<Arc<LoadedAdvisory>> = Vec::new();
        for (id, src) in candidates {
            let entry = match cache.advisories.entry((id, src)) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    let found = self.store.advisory(&e.key().0, src)?.map(|record| {
                        Arc::new(LoadedAdvisory {
                            compiled: Arc::new(CompiledAdvisory::compile(&record)),
                            record,
                        })
                    });
                    e.insert(found)
                }
            };
            if let Some(l) = entry {
                loaded.push(l.clone());
            }
        }
        let mut set = AdvisorySet::default();
        for l in &loaded {
            set.add_shared(l.compiled.clone());
        }
        let result = set.match_release(&views);
        let by_id: HashMap<(String, Source), &Advisory> = loaded
            .iter()
            .map(|l| ((l.record.id.clone(), l.record.source), &l.record))
            .collect();
        // Scope: every hit of this release is re-decided by a full release match.
        let existing: Vec<HitState> = self
            .store
            .hits_of_release(p, r)?
            .iter()
            .map(HitRecord::state)
            .collect();
        let decided = self.decide(
            &rec,
            |i| comps.get(i),
            &result.hits,
            existing.clone(),
            &by_id,
            run,
        )?;
        let events = self.events_for(&rec, &decided, &existing, cache)?;
        let triage = self.triage_for(&decided.writes, cache)?;
        self.store.put_hits(&decided.writes, &events, &triage, None)
    }

    /// One new, changed or withdrawn advisory record against every component instance of the
    /// packages (and CPE products) it names, and every release it hit before.
    fn process_advisory(
        &self,
        adv: &Advisory,
        cache: &mut PassCache,
        run: &mut MatchRun,
    ) -> Result<(), StoreError> {
        let compiled = CompiledAdvisory::compile(adv);
        self.store.index_advisory(&advisory_index_keys(&compiled))?;
        // release -> component index -> component (None: an old index entry without value).
        let mut instances: BTreeMap<(String, String), BTreeMap<usize, Option<Component>>> =
            BTreeMap::new();
        // Releases whose CPE components must be read from the release itself (old index).
        let mut all_cpes: BTreeSet<(String, String)> = BTreeSet::new();
        if !compiled.withdrawn {
            let keys: BTreeSet<(&str, &str)> = compiled
                .packages
                .iter()
                .map(|p| (p.key.ecosystem.as_str(), p.key.name.as_str()))
                .collect();
            for (eco, name) in keys {
                for i in self.store.component_instances(&["p", eco, name])? {
                    instances
                        .entry((i.product, i.release))
                        .or_default()
                        .insert(i.index, i.component);
                }
            }
            // An NVD configuration is evaluated over every CPE of a release it names, so that
            // "running on" nodes can be met by another component.
            let mut cpe_releases: BTreeSet<(String, String)> = BTreeSet::new();
            for (v, pr) in compiled.cpe_products() {
                for i in self.store.component_instances(&["c", &v, &pr])? {
                    cpe_releases.insert((i.product, i.release));
                }
            }
            for (p, r) in cpe_releases {
                let found = self.store.release_cpe_instances(&p, &r)?;
                if found.is_empty() {
                    // Indexed before `k` entries existed: read the release's CPEs from it.
                    all_cpes.insert((p.clone(), r.clone()));
                }
                let entry = instances.entry((p, r)).or_default();
                for i in found {
                    entry.insert(i.index, i.component);
                }
            }
        }
        // Releases this record hit before but that its packages no longer name.
        let mut previous: HashMap<(String, String), Vec<HitState>> = HashMap::new();
        for h in self.store.hit_states_of_advisory(&adv.id, adv.source)? {
            instances
                .entry((h.product.clone(), h.release.clone()))
                .or_default();
            previous
                .entry((h.product.clone(), h.release.clone()))
                .or_default()
                .push(h);
        }
        if instances.is_empty() {
            return Ok(());
        }
        // The other records of the alias group: whether the group was already active on a
        // release decides its release_affected / finding_retracted events.
        let members: Vec<(String, Source)> = self
            .store
            .alias_group(&adv.id)?
            .map_or_else(|| vec![adv.id.clone()], |g| g.1)
            .into_iter()
            .flat_map(|m| [Source::Osv, Source::Rustsec, Source::Nvd].map(|s| (m.clone(), s)))
            .filter(|(m, s)| !(*m == adv.id && *s == adv.source))
            .collect();
        let by_id: HashMap<(String, Source), &Advisory> =
            [((adv.id.clone(), adv.source), adv)].into_iter().collect();
        let (mut writes, mut events, mut triage) = (Vec::new(), Vec::new(), Vec::new());
        // The other records' hit states by release, read once, when a first release changes.
        let mut group_states: Option<HashMap<(String, String), Vec<HitState>>> = None;
        for ((p, r), found) in instances {
            let Some(rec) = self.release_record(cache, &p, &r)? else {
                continue; // the release is gone: nothing to re-decide
            };
            let mut comps: BTreeMap<usize, Component> = BTreeMap::new();
            let mut stale = Vec::new();
            for (i, c) in found {
                match c {
                    Some(c) => {
                        comps.insert(i, c);
                    }
                    None => stale.push(i),
                }
            }
            let every_cpe = all_cpes.contains(&(p.clone(), r.clone()));
            if !stale.is_empty() || every_cpe {
                let all = self.store.components(&rec.sha256)?.unwrap_or_default();
                for i in stale {
                    if let Some(c) = all.get(i) {
                        comps.insert(i, match_subject(c));
                    }
                }
                if every_cpe {
                    for (i, c) in all.iter().enumerate().filter(|(_, c)| c.cpe.is_some()) {
                        comps.entry(i).or_insert_with(|| match_subject(c));
                    }
                }
            }
            let views: Vec<ComponentView> = comps
                .iter()
                .map(|(i, c)| ComponentView::cached(*i, c, &mut cache.views))
                .collect();
            let result = match_advisory(&compiled, &views);
            let mut before = previous.remove(&(p.clone(), r.clone())).unwrap_or_default();
            let decided = self.decide(
                &rec,
                |i| comps.get(&i),
                &result.hits,
                before.clone(),
                &by_id,
                run,
            )?;
            if decided.writes.is_empty() {
                continue;
            }
            if group_states.is_none() {
                let mut by_release: HashMap<(String, String), Vec<HitState>> = HashMap::new();
                for (m, src) in &members {
                    for h in self.store.hit_states_of_advisory(m, *src)? {
                        by_release
                            .entry((h.product.clone(), h.release.clone()))
                            .or_default()
                            .push(h);
                    }
                }
                group_states = Some(by_release);
            }
            if let Some(other) = group_states.as_mut().and_then(|g| g.remove(&(p, r))) {
                before.extend(other);
            }
            events.extend(self.events_for(&rec, &decided, &before, cache)?);
            triage.extend(self.triage_for(&decided.writes, cache)?);
            writes.extend(decided.writes);
        }
        triage.sort();
        triage.dedup();
        self.store.put_hits(
            &writes,
            &events,
            &triage,
            Some((&adv.id, adv.source, adv.modified)),
        )
    }

    /// Turns a fresh evaluation into hit records: new hits become active, hits in `existing`
    /// (every stored hit in the evaluated scope: a release, or one advisory record) that did
    /// not come back are retracted with the reason. A hit whose
    /// evidence and SBOM revision are unchanged is left as it is (its `advisory_modified` stays
    /// the record version that produced the evidence; the advisory pass records the version it
    /// re-decided against, see [`Store::advisory_evaluated`]).
    fn decide<'c>(
        &self,
        rec: &ReleaseRecord,
        component: impl Fn(usize) -> Option<&'c Component>,
        hits: &[Hit],
        existing: Vec<HitState>,
        advisories: &HashMap<(String, Source), &Advisory>,
        run: &mut MatchRun,
    ) -> Result<Decided, StoreError> {
        let now = Utc::now();
        let mut old: HashMap<Vec<u8>, HitState> =
            existing.into_iter().map(|h| (h.key.clone(), h)).collect();
        let mut out = Decided::default();
        let (p, r) = (rec.product.as_str(), rec.release.as_str());
        for h in hits {
            let Some(c) = component(h.component) else {
                continue;
            };
            let evidence = serde_json::to_value(&h.evidence).unwrap_or_default();
            let k = hit_key(p, r, h.component, &h.advisory_id, h.source);
            let state = old.remove(&k);
            if let Some(s) = &state {
                if s.status == HitStatus::Active && s.digest == hit_digest(&evidence, &rec.sha256) {
                    continue;
                }
            }
            let fresh = HitRecord {
                product: p.to_string(),
                release: r.to_string(),
                release_sha256: rec.sha256.clone(),
                component_index: h.component,
                component_name: c.name.clone(),
                component_version: c.version.clone(),
                purl: c.purl.clone(),
                cpe: c.cpe.clone(),
                bom_ref: c.bom_ref.clone(),
                advisory_id: h.advisory_id.to_string(),
                source: h.source,
                advisory_modified: h.modified,
                evidence,
                status: HitStatus::Active,
                first_seen: now,
                last_evaluated: now,
                retracted_at: None,
                retraction_reason: None,
            };
            // `existing` holds every stored hit in scope, so only a hit that stays active with
            // new evidence needs its record read (to keep when it was first seen).
            let prior = match &state {
                Some(s) if s.status == HitStatus::Active => self.store.get_hit(&k)?,
                _ => None,
            };
            match prior {
                Some(o) if o.status == HitStatus::Active => out.writes.push(HitRecord {
                    first_seen: o.first_seen,
                    ..fresh
                }),
                _ => {
                    run.new_hits += 1;
                    run.newly_affected.push((
                        p.to_string(),
                        r.to_string(),
                        h.advisory_id.to_string(),
                    ));
                    out.writes.push(fresh);
                }
            }
        }
        for (k, s) in old {
            if s.status != HitStatus::Active {
                continue;
            }
            let Some(o) = self.store.get_hit(&k)? else {
                continue;
            };
            let reason = match advisories.get(&(o.advisory_id.clone(), o.source)) {
                Some(a) if a.withdrawn.is_some() => format!("advisory {} ({}) withdrawn on {}", a.id, a.source.as_str(), a.withdrawn.map(|w| w.to_rfc3339()).unwrap_or_default()),
                Some(a) if o.release_sha256 != rec.sha256 => format!("release superseded (revision {}); re-evaluated against advisory {} modified {}", rec.revision, a.id, a.modified.to_rfc3339()),
                Some(a) => format!("advisory {} ({}) modified {}: component no longer in an affected range", a.id, a.source.as_str(), a.modified.to_rfc3339()),
                None if o.release_sha256 != rec.sha256 => format!("release superseded (revision {})", rec.revision),
                None => format!("advisory {} ({}) no longer names this component", o.advisory_id, o.source.as_str()),
            };
            run.retracted += 1;
            let r = HitRecord {
                status: HitStatus::Retracted,
                retracted_at: Some(now),
                retraction_reason: Some(reason),
                last_evaluated: now,
                ..o
            };
            out.retracted.push(r.clone());
            out.writes.push(r);
        }
        Ok(out)
    }

    /// Every group whose findings changed on a release is (re-)triaged into its ticket.
    fn triage_for(
        &self,
        writes: &[HitRecord],
        cache: &mut PassCache,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let mut triage: Vec<(String, String)> = Vec::new();
        for h in writes {
            triage.push((h.product.clone(), self.group_of(cache, &h.advisory_id)?));
        }
        triage.sort();
        triage.dedup();
        Ok(triage)
    }

    /// One `release_affected` event per (release, alias group) that had no active hit before,
    /// and one `finding_retracted` per (release, group) left with none: never one per advisory id.
    /// `before` holds the release's stored hits in (at least) the groups `decided` touches.
    fn events_for(
        &self,
        rec: &ReleaseRecord,
        decided: &Decided,
        before: &[HitState],
        cache: &mut PassCache,
    ) -> Result<Vec<EventRecord>, StoreError> {
        let (writes, retracted) = (&decided.writes, &decided.retracted);
        let (p, r) = (rec.product.as_str(), rec.release.as_str());
        let written: HashSet<Vec<u8>> = writes.iter().map(HitRecord::store_key).collect();
        let mut active_before: HashSet<String> = HashSet::new();
        // Groups that keep an active hit these writes do not touch.
        let mut still_active: HashSet<String> = HashSet::new();
        for h in before.iter().filter(|h| h.status == HitStatus::Active) {
            let g = self.group_of(cache, &h.advisory_id)?;
            if !written.contains(&h.key) {
                still_active.insert(g.clone());
            }
            active_before.insert(g);
        }
        // Active hits written now, per group. A group with no active hit before has no
        // untouched active hits either, so these are all of its hits once the writes land.
        let mut active_after: BTreeMap<String, Vec<&HitRecord>> = BTreeMap::new();
        for h in writes.iter().filter(|h| h.status == HitStatus::Active) {
            active_after
                .entry(self.group_of(cache, &h.advisory_id)?)
                .or_default()
                .push(h);
        }
        let now = Utc::now();
        let mut events = Vec::new();
        for (g, hits) in &active_after {
            if active_before.contains(g) {
                continue;
            }
            let mut components: Vec<String> = hits
                .iter()
                .map(|h| {
                    format!(
                        "{} {}",
                        h.component_name,
                        h.component_version.as_deref().unwrap_or("")
                    )
                })
                .collect();
            components.sort();
            components.dedup();
            let mut advisories: Vec<&str> = hits.iter().map(|h| h.advisory_id.as_str()).collect();
            advisories.sort();
            advisories.dedup();
            events.push(EventRecord {
                seq: 0,
                at: now,
                kind: EventKind::ReleaseAffected,
                product: Some(p.to_string()),
                priority: None,
                subject: g.clone(),
                title: format!("{p} {r} is affected by {g} ({})", components.join(", ")),
                payload: serde_json::json!({
                    "product": p, "release": r, "vulnerability": g,
                    "components": components, "advisories": advisories,
                }),
            });
        }
        let mut gone: BTreeMap<String, Vec<&HitRecord>> = BTreeMap::new();
        for h in retracted {
            let g = self.group_of(cache, &h.advisory_id)?;
            if !active_after.contains_key(&g) && !still_active.contains(&g) {
                gone.entry(g).or_default().push(h);
            }
        }
        for (g, hits) in gone {
            let reasons: Vec<&str> = hits
                .iter()
                .filter_map(|h| h.retraction_reason.as_deref())
                .collect();
            events.push(EventRecord {
                seq: 0,
                at: now,
                kind: EventKind::FindingRetracted,
                product: Some(p.to_string()),
                priority: None,
                subject: g.clone(),
                title: format!("{p} {r}: finding {g} retracted"),
                payload: serde_json::json!({"product": p, "release": r, "vulnerability": g, "reasons": reasons}),
            });
        }
        Ok(events)
    }
}
