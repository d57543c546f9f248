//! Read side of matching: hit records grouped into findings, one per (release, component,
//! vulnerability) where the vulnerability is the alias group, and "where am I affected?" for a
//! vulnerability by any of its ids. Grouping happens at read time, so a later alias merge
//! regroups old hits without rewriting them.

use crate::advisory::{EpssScore, KevEntry, Severity};
use crate::store::{HitRecord, HitStatus, Store, StoreError};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Serialize)]
pub struct FindingComponent {
    pub index: usize,
    pub name: String,
    pub version: Option<String>,
    pub purl: Option<String>,
    pub cpe: Option<String>,
    pub bom_ref: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct VulnSummary {
    pub id: String,
    pub aliases: Vec<String>,
    pub summary: Option<String>,
    pub severity: Vec<Severity>,
    /// CISA KEV entry of any CVE in the group: known exploited.
    pub kev: Option<KevEntry>,
    /// The highest EPSS score among the group's CVEs.
    pub epss: Option<EpssScore>,
}

#[derive(Debug, Serialize)]
pub struct Finding {
    pub product: String,
    pub release: String,
    pub component: FindingComponent,
    pub vulnerability: VulnSummary,
    /// Active while any record still matches; retracted (kept, with reasons) otherwise.
    pub status: HitStatus,
    /// Each advisory record that matched, with its evidence, the advisory's `modified` that
    /// produced that evidence and, for retracted ones, why.
    pub records: Vec<HitRecord>,
    /// For each of those records, the latest version of it the matcher re-decided this
    /// finding against (a record whose `modified` moved without changing the evidence leaves
    /// the hit as it was; this says it was checked).
    pub evaluated: Vec<RecordEvaluation>,
}

/// One advisory record's latest matching pass.
#[derive(Debug, Serialize)]
pub struct RecordEvaluation {
    pub advisory_id: String,
    pub source: crate::advisory::Source,
    /// The record's `modified` in that pass.
    pub modified: chrono::DateTime<chrono::Utc>,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// The vulnerability view of an alias group.
fn summarize(store: &Store, group: &str, members: &[String]) -> Result<VulnSummary, StoreError> {
    let mut summary = None;
    let mut severity: Vec<Severity> = Vec::new();
    let mut kev = None;
    let mut epss: Option<EpssScore> = None;
    for m in members {
        for a in store.advisories_by_id(m)? {
            if summary.is_none() {
                summary = a
                    .summary
                    .clone()
                    .filter(|s| !s.is_empty())
                    .or_else(|| a.details.as_ref().map(|d| d.chars().take(300).collect()));
            }
            for s in a.severity {
                if !severity.iter().any(|x| x.vector == s.vector) {
                    severity.push(s);
                }
            }
        }
        if m.starts_with("CVE-") {
            if kev.is_none() {
                kev = store.kev(m)?;
            }
            if let Some(e) = store.epss(m)? {
                if epss.as_ref().is_none_or(|x| e.epss > x.epss) {
                    epss = Some(e);
                }
            }
        }
    }
    Ok(VulnSummary {
        id: group.to_string(),
        aliases: members.iter().filter(|m| *m != group).cloned().collect(),
        summary,
        severity,
        kev,
        epss,
    })
}

fn group_of(store: &Store, id: &str) -> Result<(String, Vec<String>), StoreError> {
    Ok(store
        .alias_group(id)?
        .unwrap_or_else(|| (id.to_string(), vec![id.to_string()])))
}

fn to_findings(
    store: &Store,
    hits: Vec<HitRecord>,
    include_retracted: bool,
) -> Result<Vec<Finding>, StoreError> {
    // (product, release, component, group) -> (group members, hit records)
    type Key = (String, String, usize, String);
    let mut groups: BTreeMap<Key, (Vec<String>, Vec<HitRecord>)> = BTreeMap::new();
    for h in hits {
        let (g, members) = group_of(store, &h.advisory_id)?;
        groups
            .entry((h.product.clone(), h.release.clone(), h.component_index, g))
            .or_insert_with(|| (members, Vec::new()))
            .1
            .push(h);
    }
    let mut out = Vec::new();
    // One read per advisory record, however many releases its findings span.
    let mut marks: BTreeMap<(String, crate::advisory::Source), Option<crate::store::Evaluated>> =
        BTreeMap::new();
    for ((product, release, index, group), (members, records)) in groups {
        let status = if records.iter().any(|r| r.status == HitStatus::Active) {
            HitStatus::Active
        } else {
            HitStatus::Retracted
        };
        if status == HitStatus::Retracted && !include_retracted {
            continue;
        }
        let Some(first) = records.first() else {
            continue;
        };
        let mut evaluated = Vec::new();
        for r in &records {
            let key = (r.advisory_id.clone(), r.source);
            if !marks.contains_key(&key) {
                let mark = store.advisory_evaluated(&r.advisory_id, r.source)?;
                marks.insert(key.clone(), mark);
            }
            if let Some(Some(e)) = marks.get(&key) {
                evaluated.push(RecordEvaluation {
                    advisory_id: r.advisory_id.clone(),
                    source: r.source,
                    modified: e.modified,
                    at: e.at,
                });
            }
        }
        out.push(Finding {
            evaluated,
            component: FindingComponent {
                index,
                name: first.component_name.clone(),
                version: first.component_version.clone(),
                purl: first.purl.clone(),
                cpe: first.cpe.clone(),
                bom_ref: first.bom_ref.clone(),
            },
            vulnerability: summarize(store, &group, &members)?,
            product,
            release,
            status,
            records,
        });
    }
    Ok(out)
}

pub fn release_findings(
    store: &Store,
    product: &str,
    release: &str,
    include_retracted: bool,
) -> Result<Vec<Finding>, StoreError> {
    to_findings(
        store,
        store.hits_of_release(product, release)?,
        include_retracted,
    )
}

#[derive(Debug, Serialize)]
pub struct VulnerabilityView {
    #[serde(flatten)]
    pub vulnerability: VulnSummary,
    /// Every record of the group, as each feed published it (without the raw bytes).
    pub records: Vec<crate::advisory::Advisory>,
    /// Every release, across products, the vulnerability hits (active findings first).
    pub affected: Vec<Finding>,
}

/// "Where am I affected?" `None` only for an id no feed knows.
pub fn vulnerability(store: &Store, id: &str) -> Result<Option<VulnerabilityView>, StoreError> {
    let Some((group, members)) = store.alias_group(id)? else {
        return Ok(None);
    };
    let mut records = Vec::new();
    let mut hits = Vec::new();
    for m in &members {
        for a in store.advisories_by_id(m)? {
            hits.extend(store.hits_of_advisory(&a.id, a.source)?);
            records.push(a);
        }
    }
    let mut affected = to_findings(store, hits, true)?;
    affected.sort_by_key(|f| f.status != HitStatus::Active);
    Ok(Some(VulnerabilityView {
        vulnerability: summarize(store, &group, &members)?,
        records,
        affected,
    }))
}
