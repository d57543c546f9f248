//! Scan reports: the findings of one SBOM against a set of advisories, grouped so one flaw is
//! one finding per component whatever feeds named it, in the JSON shape `soupwatch scan` prints
//! (plus a table and SARIF rendering). Pure.

use super::alias::AliasGroups;
use super::engine::{AdvisorySet, ComponentView, Hit};
use crate::advisory::{Advisory, Severity, Source};
use crate::model::Component;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Serialize)]
pub struct ScanReport {
    pub results: Vec<SbomResult>,
}

#[derive(Debug, Serialize)]
pub struct SbomResult {
    pub sbom: String,
    pub summary: Summary,
    pub findings: Vec<Finding>,
    /// Components that could not be matched at all, with why: a scan that recognises nothing
    /// must not look clean.
    pub unmatchable: Vec<Unmatchable>,
    /// Pairs that could not be decided (unparsable versions, incomparable CPE bounds).
    pub undetermined: Vec<UndeterminedOut>,
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub components: usize,
    pub matchable: usize,
    pub unmatchable: usize,
    pub findings: usize,
    pub undetermined: usize,
    pub advisories: usize,
}

#[derive(Debug, Serialize)]
pub struct ComponentRef {
    pub name: String,
    pub version: Option<String>,
    pub purl: Option<String>,
    pub cpe: Option<String>,
    pub bom_ref: Option<String>,
}

impl ComponentRef {
    pub fn of(c: &Component) -> ComponentRef {
        ComponentRef {
            name: c.name.clone(),
            version: c.version.clone(),
            purl: c.purl.clone(),
            cpe: c.cpe.clone(),
            bom_ref: c.bom_ref.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Vulnerability {
    /// The alias group's name (smallest CVE id, else smallest id).
    pub id: String,
    pub aliases: Vec<String>,
    pub summary: Option<String>,
    pub severity: Vec<Severity>,
}

#[derive(Debug, Serialize)]
pub struct RecordEvidence {
    pub advisory_id: String,
    pub source: Source,
    pub modified: chrono::DateTime<chrono::Utc>,
    #[serde(flatten)]
    pub evidence: super::engine::Evidence,
}

#[derive(Debug, Serialize)]
pub struct Finding {
    pub component: ComponentRef,
    pub vulnerability: Vulnerability,
    /// The feed family of the first matching record (osv, rustsec, nvd).
    pub source: Source,
    /// Every record of the group that matched, with the range/event or CPE entry that decided.
    pub evidence: EvidenceList,
}

#[derive(Debug, Serialize)]
pub struct EvidenceList {
    pub records: Vec<RecordEvidence>,
}

#[derive(Debug, Serialize)]
pub struct Unmatchable {
    pub component: ComponentRef,
    pub reason: String,
}

#[derive(Debug, Serialize)]
pub struct UndeterminedOut {
    pub component: ComponentRef,
    pub advisory_id: String,
    pub reason: String,
}

/// The advisories a scan reads, with their indexes.
pub struct ScanContext<'a> {
    pub set: AdvisorySet,
    pub groups: AliasGroups,
    by_id: HashMap<(String, Source), &'a Advisory>,
}

impl<'a> ScanContext<'a> {
    pub fn new(advisories: &'a [Advisory]) -> ScanContext<'a> {
        ScanContext {
            set: AdvisorySet::new(advisories),
            groups: AliasGroups::build(advisories),
            by_id: advisories
                .iter()
                .map(|a| ((a.id.clone(), a.source), a))
                .collect(),
        }
    }

    pub fn scan(&self, sbom: &str, components: &[Component]) -> SbomResult {
        let views: Vec<ComponentView> = components
            .iter()
            .enumerate()
            .map(|(i, c)| ComponentView::new(i, c))
            .collect();
        let result = self.set.match_release(&views);
        let unmatchable: Vec<Unmatchable> = views
            .iter()
            .filter_map(|v| {
                v.unmatchable().map(|reason| Unmatchable {
                    component: ComponentRef::of(&components[v.index]),
                    reason,
                })
            })
            .collect();
        let mut grouped: BTreeMap<(usize, String), Vec<&Hit>> = BTreeMap::new();
        for h in &result.hits {
            grouped
                .entry((h.component, self.groups.group(&h.advisory_id)))
                .or_default()
                .push(h);
        }
        let findings: Vec<Finding> = grouped
            .into_iter()
            .map(|((ci, group), hits)| self.finding(&components[ci], group, &hits))
            .collect();
        let undetermined: Vec<UndeterminedOut> = result
            .undetermined
            .iter()
            .map(|u| UndeterminedOut {
                component: ComponentRef::of(&components[u.component]),
                advisory_id: u.advisory_id.to_string(),
                reason: u.reason.clone(),
            })
            .collect();
        SbomResult {
            sbom: sbom.to_string(),
            summary: Summary {
                components: components.len(),
                matchable: components.len() - unmatchable.len(),
                unmatchable: unmatchable.len(),
                findings: findings.len(),
                undetermined: undetermined.len(),
                advisories: self.set.len(),
            },
            findings,
            unmatchable,
            undetermined,
        }
    }

    fn finding(&self, c: &Component, group: String, hits: &[&Hit]) -> Finding {
        let records: Vec<&Advisory> = hits
            .iter()
            .filter_map(|h| {
                self.by_id
                    .get(&(h.advisory_id.to_string(), h.source))
                    .copied()
            })
            .collect();
        let summary = records
            .iter()
            .find_map(|a| a.summary.clone().filter(|s| !s.is_empty()))
            .or_else(|| {
                records
                    .iter()
                    .find_map(|a| a.details.clone().map(|d| d.chars().take(300).collect()))
            });
        let mut severity: Vec<Severity> = Vec::new();
        for a in &records {
            for s in &a.severity {
                if !severity.iter().any(|x| x.vector == s.vector) {
                    severity.push(s.clone());
                }
            }
        }
        let aliases: Vec<String> = self
            .groups
            .members(&group)
            .into_iter()
            .filter(|m| *m != group)
            .collect();
        Finding {
            component: ComponentRef::of(c),
            vulnerability: Vulnerability {
                id: group,
                aliases,
                summary,
                severity,
            },
            source: hits.first().map_or(Source::Osv, |h| h.source),
            evidence: EvidenceList {
                records: hits
                    .iter()
                    .map(|h| RecordEvidence {
                        advisory_id: h.advisory_id.to_string(),
                        source: h.source,
                        modified: h.modified,
                        evidence: h.evidence.clone(),
                    })
                    .collect(),
            },
        }
    }
}

/// A plain-text table for people.
pub fn render_table(report: &ScanReport) -> String {
    let mut s = String::new();
    for r in &report.results {
        s.push_str(&format!(
            "{}: {} components ({} matchable, {} unmatchable), {} findings, {} undetermined\n",
            r.sbom,
            r.summary.components,
            r.summary.matchable,
            r.summary.unmatchable,
            r.summary.findings,
            r.summary.undetermined
        ));
        for f in &r.findings {
            let score = f
                .vulnerability
                .severity
                .iter()
                .filter_map(|s| s.base_score)
                .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))));
            s.push_str(&format!(
                "  {:<22} {:<40} {:<16} {:>4}  {}\n",
                f.vulnerability.id,
                f.component.name,
                f.component.version.as_deref().unwrap_or("-"),
                score
                    .map(|x| format!("{x:.1}"))
                    .unwrap_or_else(|| "-".into()),
                f.evidence
                    .records
                    .iter()
                    .map(|e| e.advisory_id.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            ));
        }
    }
    s
}

/// SARIF 2.1.0, for code-scanning dashboards.
pub fn render_sarif(report: &ScanReport) -> serde_json::Value {
    let mut rules: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    let mut results = Vec::new();
    for r in &report.results {
        for f in &r.findings {
            let score = f
                .vulnerability
                .severity
                .iter()
                .filter_map(|s| s.base_score)
                .fold(0.0f64, f64::max);
            let level = if score >= 7.0 {
                "error"
            } else if score >= 4.0 || score == 0.0 {
                "warning"
            } else {
                "note"
            };
            rules.entry(f.vulnerability.id.clone()).or_insert_with(|| {
                serde_json::json!({
                    "id": f.vulnerability.id,
                    "shortDescription": {"text": f.vulnerability.summary.clone().unwrap_or_else(|| f.vulnerability.id.clone())},
                    "properties": {"aliases": f.vulnerability.aliases, "security-severity": format!("{score:.1}")},
                })
            });
            results.push(serde_json::json!({
                "ruleId": f.vulnerability.id,
                "level": level,
                "message": {"text": format!("{} {} is affected by {}", f.component.name, f.component.version.as_deref().unwrap_or(""), f.vulnerability.id)},
                "locations": [{
                    "physicalLocation": {"artifactLocation": {"uri": r.sbom}},
                    "logicalLocations": [{"name": f.component.purl.clone().unwrap_or_else(|| f.component.name.clone()), "kind": "package"}],
                }],
            }));
        }
    }
    serde_json::json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "soupwatch", "version": env!("CARGO_PKG_VERSION"), "rules": rules.into_values().collect::<Vec<_>>()}},
            "results": results,
        }],
    })
}
