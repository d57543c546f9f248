//! The matching service: keeps the store's indexes and hit records in step with releases and
//! advisories, in both directions and incrementally. A stored release is indexed (package
//! identity and CPE product -> component instance) and matched against the advisories indexed
//! under its packages; a new, changed or withdrawn advisory is matched against the component
//! instances indexed under its packages. Both arrive through queues written in the same
//! transaction as the change, and are acknowledged only after the hits are committed, so a crash
//! at any point means the work is redone, never lost. One worker runs this serially.

use super::engine::{match_advisory, AdvisorySet, CompiledAdvisory, ComponentView, Hit};
use crate::advisory::{Advisory, Source};
use crate::model::Component;
use crate::store::{
    key, EventKind, EventRecord, HitRecord, HitStatus, ReleaseRecord, Store, StoreError,
};
use chrono::Utc;
use std::collections::{BTreeMap, HashMap, HashSet};

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

/// A release with its components and their matching views, cached within one pass.
type LoadedRelease = (ReleaseRecord, Vec<Component>, Vec<ComponentView>);

pub struct Matcher<'a> {
    store: &'a Store,
}

fn component_index_keys(views: &[ComponentView], product: &str, release: &str) -> Vec<Vec<u8>> {
    let mut keys = Vec::new();
    for v in views {
        let idx = format!("{:06}", v.index);
        if let Some(k) = &v.key {
            keys.push(key(&["p", &k.ecosystem, &k.name, product, release, &idx]));
        }
        if let Some((vendor, prod)) = v.cpe.as_ref().and_then(super::engine::cpe_vendor_product) {
            keys.push(key(&["c", &vendor, &prod, product, release, &idx]));
        }
    }
    keys.sort();
    keys.dedup();
    keys
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
        for (p, r) in self.store.pending_releases()? {
            self.process_release(&p, &r, &mut run)?;
            self.store.ack_release(&p, &r)?;
            run.releases += 1;
        }
        loop {
            let ids = self.store.pending_matches(500)?;
            if ids.is_empty() {
                break;
            }
            self.process_advisories(&ids, &mut run)?;
            self.store.ack_matches(&ids)?;
            run.advisories += ids.len();
        }
        Ok(run)
    }

    fn load_release(
        &self,
        p: &str,
        r: &str,
    ) -> Result<Option<(ReleaseRecord, Vec<Component>)>, StoreError> {
        let (Ok(pn), Ok(rn)) = (
            crate::model::ProductName::parse(p),
            crate::model::ReleaseName::parse(r),
        ) else {
            return Ok(None);
        };
        let Some(rec) = self.store.release(&pn, &rn)? else {
            return Ok(None);
        };
        let comps = self.store.components(&rec.sha256)?.unwrap_or_default();
        Ok(Some((rec, comps)))
    }

    fn process_release(&self, p: &str, r: &str, run: &mut MatchRun) -> Result<(), StoreError> {
        let Some((rec, comps)) = self.load_release(p, r)? else {
            return Ok(());
        };
        let views: Vec<ComponentView> = comps
            .iter()
            .enumerate()
            .map(|(i, c)| ComponentView::new(i, c))
            .collect();
        self.store
            .index_release(p, r, &component_index_keys(&views, p, r))?;
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
            if let Some((vendor, prod)) = v.cpe.as_ref().and_then(super::engine::cpe_vendor_product)
            {
                if seen_keys.insert(("c", vendor.clone(), prod.clone())) {
                    candidates.extend(self.store.advisories_under(&["c", &vendor, &prod])?);
                }
            }
        }
        candidates.sort();
        candidates.dedup();
        let mut records: Vec<Advisory> = Vec::new();
        for (id, src) in &candidates {
            if let Some(a) = self.store.advisory(id, *src)? {
                records.push(a);
            }
        }
        let set = AdvisorySet::new(&records);
        let result = set.match_release(&views);
        let modified: HashMap<(String, Source), &Advisory> = records
            .iter()
            .map(|a| ((a.id.clone(), a.source), a))
            .collect();
        // Scope: every hit of this release is re-decided by a full release match.
        let existing = self.store.hits_of_release(p, r)?;
        self.reconcile(&rec, &comps, &result.hits, existing, &modified, run)
    }

    fn process_advisories(&self, ids: &[String], run: &mut MatchRun) -> Result<(), StoreError> {
        let mut release_cache: HashMap<(String, String), Option<LoadedRelease>> = HashMap::new();
        for id in ids {
            for adv in self.store.advisories_by_id(id)? {
                let compiled = CompiledAdvisory::compile(&adv);
                self.store.index_advisory(&advisory_index_keys(&compiled))?;
                let mut releases: BTreeMap<(String, String), ()> = BTreeMap::new();
                for pkg in &compiled.packages {
                    for (p, r, _) in
                        self.store
                            .component_instances(&["p", &pkg.key.ecosystem, &pkg.key.name])?
                    {
                        releases.insert((p, r), ());
                    }
                }
                for (v, pr) in compiled.cpe_products() {
                    for (p, r, _) in self.store.component_instances(&["c", &v, &pr])? {
                        releases.insert((p, r), ());
                    }
                }
                // Releases this record hit before but that its packages no longer name.
                let previous = self.store.hits_of_advisory(&adv.id, adv.source)?;
                for h in &previous {
                    releases.insert((h.product.clone(), h.release.clone()), ());
                }
                let by_id: HashMap<(String, Source), &Advisory> =
                    [((adv.id.clone(), adv.source), &adv)].into_iter().collect();
                for (p, r) in releases.into_keys() {
                    let entry = match release_cache.entry((p.clone(), r.clone())) {
                        std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                        std::collections::hash_map::Entry::Vacant(e) => {
                            let loaded = self.load_release(&p, &r)?.map(|(rec, comps)| {
                                let views = comps
                                    .iter()
                                    .enumerate()
                                    .map(|(i, c)| ComponentView::new(i, c))
                                    .collect();
                                (rec, comps, views)
                            });
                            e.insert(loaded)
                        }
                    };
                    let existing: Vec<HitRecord> = previous
                        .iter()
                        .filter(|h| h.product == p && h.release == r)
                        .cloned()
                        .collect();
                    match entry {
                        Some((rec, comps, views)) => {
                            let result = match_advisory(&compiled, views);
                            self.reconcile(rec, comps, &result.hits, existing, &by_id, run)?;
                        }
                        None => {
                            // The release is gone: nothing to re-decide.
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Turns a fresh evaluation into hit records: new hits become active, hits in `existing`
    /// (the evaluated scope) that did not come back are retracted with the reason.
    fn reconcile(
        &self,
        rec: &ReleaseRecord,
        comps: &[Component],
        hits: &[Hit],
        existing: Vec<HitRecord>,
        advisories: &HashMap<(String, Source), &Advisory>,
        run: &mut MatchRun,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        let mut old: HashMap<Vec<u8>, HitRecord> =
            existing.into_iter().map(|h| (h.store_key(), h)).collect();
        let mut writes = Vec::new();
        let (p, r) = (rec.product.as_str(), rec.release.as_str());
        for h in hits {
            let Some(c) = comps.get(h.component) else {
                continue;
            };
            let evidence = serde_json::to_value(&h.evidence).unwrap_or_default();
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
                advisory_id: h.advisory_id.clone(),
                source: h.source,
                advisory_modified: h.modified,
                evidence,
                status: HitStatus::Active,
                first_seen: now,
                last_evaluated: now,
                retracted_at: None,
                retraction_reason: None,
            };
            let k = fresh.store_key();
            let prior = match old.remove(&k) {
                Some(o) => Some(o),
                None => self.store.get_hit(&k)?,
            };
            match prior {
                Some(o)
                    if o.status == HitStatus::Active
                        && o.evidence == fresh.evidence
                        && o.advisory_modified == fresh.advisory_modified
                        && o.release_sha256 == fresh.release_sha256 => {}
                Some(o) if o.status == HitStatus::Active => writes.push(HitRecord {
                    first_seen: o.first_seen,
                    ..fresh
                }),
                _ => {
                    run.new_hits += 1;
                    run.newly_affected
                        .push((p.to_string(), r.to_string(), h.advisory_id.clone()));
                    writes.push(fresh);
                }
            }
        }
        let mut retracted_now = Vec::new();
        for (_, o) in old {
            if o.status != HitStatus::Active {
                continue;
            }
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
            retracted_now.push(r.clone());
            writes.push(r);
        }
        let events = self.events_for(rec, &writes, &retracted_now)?;
        // Every group whose findings changed on this release is (re-)triaged into its ticket.
        let mut triage: Vec<(String, String)> = Vec::new();
        for h in &writes {
            let g = self
                .store
                .alias_group(&h.advisory_id)?
                .map_or_else(|| h.advisory_id.clone(), |g| g.0);
            triage.push((h.product.clone(), g));
        }
        triage.sort();
        triage.dedup();
        self.store.put_hits(&writes, &events, &triage)
    }

    /// One `release_affected` event per (release, alias group) that had no active hit before,
    /// and one `finding_retracted` per (release, group) left with none: never one per advisory id.
    fn events_for(
        &self,
        rec: &ReleaseRecord,
        writes: &[HitRecord],
        retracted: &[HitRecord],
    ) -> Result<Vec<EventRecord>, StoreError> {
        let (p, r) = (rec.product.as_str(), rec.release.as_str());
        let written: HashSet<Vec<u8>> = writes.iter().map(HitRecord::store_key).collect();
        let before: Vec<HitRecord> = self.store.hits_of_release(p, r)?;
        let group = |id: &str| -> Result<String, StoreError> {
            Ok(self
                .store
                .alias_group(id)?
                .map_or_else(|| id.to_string(), |g| g.0))
        };
        // Active hits per group once these writes land.
        let mut active_after: BTreeMap<String, Vec<&HitRecord>> = BTreeMap::new();
        let mut active_before: HashSet<String> = HashSet::new();
        for h in before.iter().filter(|h| h.status == HitStatus::Active) {
            active_before.insert(group(&h.advisory_id)?);
            if !written.contains(&h.store_key()) {
                active_after
                    .entry(group(&h.advisory_id)?)
                    .or_default()
                    .push(h);
            }
        }
        for h in writes.iter().filter(|h| h.status == HitStatus::Active) {
            active_after
                .entry(group(&h.advisory_id)?)
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
            let g = group(&h.advisory_id)?;
            if !active_after.contains_key(&g) {
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
