//! CSAF 2.0: the `csaf_vex` profile for a release, and the `csaf_security_advisory` profile for
//! a ticket whose fix is released.
//!
//! Product tree: publisher (vendor) → device (product_name) → release (product_version) with the
//! release's product id; the components a statement names are `full_product_names`, joined to
//! the release by `default_component_of` relationships whose product ids the statuses use along
//! with the release's own. Status groups: affected → `known_affected`, not_affected →
//! `known_not_affected`, fixed → `fixed`, under_investigation → `under_investigation`.
//! Profile requirements met by construction: every vulnerability has notes, a CVE or `ids`, a
//! product status; every `known_not_affected` product has an impact statement (a `flags` label
//! when the justification is known, and always a `threats` entry of category `impact`); every
//! `known_affected` product has a remediation (CSAF 2.0 §6.1.27.4-11).

use super::status::{statements, Statement, StatementComponent, TicketFacts, VexStatus};
use super::{ts, usable_purl, ReleaseExportData, Revision};
use crate::advisory::Severity;
use crate::tickets::Ticket;
use crate::triage::TicketState;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

fn release_pid(product: &str, release: &str) -> String {
    format!("{product}-{release}")
}

fn component_pid(c: &StatementComponent) -> String {
    format!(
        "C-{}-{}",
        c.sbom_sha256.get(..12).unwrap_or(&c.sbom_sha256),
        c.index
    )
}

fn helper(purl: Option<&str>, cpe: Option<&str>) -> Option<Value> {
    if let Some(p) = purl.filter(|p| usable_purl(p)) {
        return Some(json!({"purl": p}));
    }
    // CSAF's pattern is the CPE 2.3 formatted-string grammar: give only names that parse, in
    // their canonical form.
    cpe.and_then(|c| c.parse::<crate::matching::cpe::Wfn>().ok())
        .map(|w| json!({"cpe": w.to_string()}))
}

fn engine() -> Value {
    json!({"name": "soupwatch", "version": env!("CARGO_PKG_VERSION")})
}

fn publisher(data: &ReleaseExportData) -> Value {
    let mut p = Map::new();
    p.insert("category".into(), json!("vendor"));
    p.insert("name".into(), json!(data.publisher.name));
    p.insert("namespace".into(), json!(data.publisher.namespace));
    if let Some(c) = data
        .publisher
        .contact
        .as_deref()
        .filter(|c| !c.trim().is_empty())
    {
        p.insert("contact_details".into(), json!(c));
    }
    Value::Object(p)
}

fn tracking(
    id: String,
    status: &str,
    revisions: &[&Revision],
    fallback: chrono::DateTime<chrono::Utc>,
    generated: chrono::DateTime<chrono::Utc>,
) -> Value {
    let history: Vec<Value> = if revisions.is_empty() {
        vec![json!({"date": ts(fallback), "number": "1", "summary": "Initial version."})]
    } else {
        revisions
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let mut m = Map::new();
                m.insert("date".into(), json!(ts(r.at)));
                m.insert("number".into(), json!((i + 1).to_string()));
                m.insert("summary".into(), json!(r.summary));
                if let Some(seq) = r.audit_seq {
                    m.insert("legacy_version".into(), json!(format!("audit entry {seq}")));
                }
                Value::Object(m)
            })
            .collect()
    };
    let first = revisions.iter().map(|r| r.at).min().unwrap_or(fallback);
    let last = revisions.iter().map(|r| r.at).max().unwrap_or(fallback);
    json!({
        "id": id,
        "status": status,
        "version": history.len().to_string(),
        "initial_release_date": ts(first),
        "current_release_date": ts(last),
        "revision_history": history,
        "generator": {"date": ts(generated), "engine": engine()},
    })
}

/// `cve` for a CVE group id, every other id (and further CVEs of the group) under `ids`.
fn identify(v: &mut Map<String, Value>, group: &str, aliases: &[String]) {
    let mut ids: Vec<Value> = Vec::new();
    let cve = group.starts_with("CVE-").then_some(group);
    if let Some(c) = cve {
        v.insert("cve".into(), json!(c));
    }
    for id in std::iter::once(group)
        .chain(aliases.iter().map(String::as_str))
        .filter(|id| Some(*id) != cve)
    {
        let system = id.split('-').next().unwrap_or("OSV");
        ids.push(json!({"system_name": system, "text": id}));
    }
    if !ids.is_empty() {
        v.insert("ids".into(), Value::Array(ids));
    }
}

/// The best CVSS v3 (3.1 preferred, highest score) and v2 scores, in FIRST's JSON form. One per
/// CVSS version per product (CSAF §6.1.7).
fn scores(severity: &[Severity], products: &[String]) -> Option<Value> {
    let best = |kind: &str, pref: &dyn Fn(&Severity) -> bool| {
        severity
            .iter()
            .filter(|s| s.kind == kind && s.base_score.is_some_and(f64::is_finite))
            .max_by(|a, b| {
                (pref(a), a.base_score.unwrap_or(0.0))
                    .partial_cmp(&(pref(b), b.base_score.unwrap_or(0.0)))
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
    };
    let mut score = Map::new();
    if let Some(s) = best("CVSS_V3", &|s| s.vector.starts_with("CVSS:3.1/")) {
        let version = if s.vector.starts_with("CVSS:3.1/") {
            "3.1"
        } else if s.vector.starts_with("CVSS:3.0/") {
            "3.0"
        } else {
            ""
        };
        if let (false, Some(b)) = (version.is_empty(), s.base_score) {
            let sev = match b {
                x if x <= 0.0 => "NONE",
                x if x < 4.0 => "LOW",
                x if x < 7.0 => "MEDIUM",
                x if x < 9.0 => "HIGH",
                _ => "CRITICAL",
            };
            score.insert(
                "cvss_v3".into(),
                json!({"version": version, "vectorString": s.vector, "baseScore": b, "baseSeverity": sev}),
            );
        }
    }
    if let Some(s) = best("CVSS_V2", &|_| true) {
        if let Some(b) = s.base_score {
            let vector = s.vector.trim_start_matches("(").trim_end_matches(')');
            score.insert(
                "cvss_v2".into(),
                json!({"version": "2.0", "vectorString": vector, "baseScore": b}),
            );
        }
    }
    if score.is_empty() {
        return None;
    }
    score.insert("products".into(), json!(products));
    Some(Value::Object(score))
}

fn description_note(summary: Option<&str>) -> Value {
    json!({"category": "description", "title": "Summary",
           "text": summary.filter(|s| !s.trim().is_empty()).unwrap_or("No summary was published for this vulnerability.")})
}

fn fix_released(t: Option<&Ticket>) -> bool {
    t.is_some_and(|t| {
        matches!(
            t.state,
            TicketState::Released | TicketState::DeploymentMonitoring | TicketState::Closed
        )
    })
}

fn vulnerability(
    st: &Statement<'_>,
    rel_pid: &str,
    comp_pids: &BTreeMap<(usize, String), String>,
) -> Value {
    let mut products = vec![rel_pid.to_string()];
    if st.status != VexStatus::Fixed {
        products.extend(
            st.components
                .iter()
                .filter_map(|c| comp_pids.get(&(c.index, c.sbom_sha256.clone())).cloned()),
        );
    }
    products.sort();
    products.dedup();
    let mut v = Map::new();
    identify(&mut v, &st.vulnerability, &st.aliases);
    v.insert(
        "notes".into(),
        json!([description_note(st.summary.as_deref()),
               {"category": "details", "title": "Status basis", "text": st.notes}]),
    );
    let group = match st.status {
        VexStatus::Affected => "known_affected",
        VexStatus::NotAffected => "known_not_affected",
        VexStatus::Fixed => "fixed",
        VexStatus::UnderInvestigation => "under_investigation",
    };
    v.insert("product_status".into(), json!({ group: products }));
    let date = ts(st.last_updated);
    match st.status {
        VexStatus::NotAffected => {
            if let Some(j) = st.justification {
                v.insert(
                    "flags".into(),
                    json!([{"label": j.as_str(), "date": date, "product_ids": products}]),
                );
            }
            let details = st
                .impact_statement
                .clone()
                .unwrap_or_else(|| st.notes.clone());
            v.insert(
                "threats".into(),
                json!([{"category": "impact", "details": details, "date": date, "product_ids": products}]),
            );
        }
        VexStatus::Affected => {
            let category = if fix_released(st.ticket) {
                "vendor_fix"
            } else {
                "none_available"
            };
            let details = st
                .action_statement
                .clone()
                .unwrap_or_else(|| st.notes.clone());
            v.insert(
                "remediations".into(),
                json!([{"category": category, "details": details, "date": date, "product_ids": products}]),
            );
        }
        VexStatus::Fixed | VexStatus::UnderInvestigation => {}
    }
    if let Some(s) = scores(&st.severity, &products) {
        v.insert("scores".into(), json!([s]));
    }
    Value::Object(v)
}

/// The release's `csaf_vex` document.
pub fn vex(data: &ReleaseExportData) -> Value {
    let st = statements(data);
    let rel = &data.release;
    let title = data.product_title();
    let rel_pid = release_pid(rel.product.as_str(), rel.release.as_str());
    let mut release_product = Map::new();
    release_product.insert("name".into(), json!(format!("{title} {}", rel.release)));
    release_product.insert("product_id".into(), json!(rel_pid));
    if let Some(h) = helper(
        data.subject_purl(),
        rel.subject.first().and_then(|s| s.cpe.as_deref()),
    ) {
        release_product.insert("product_identification_helper".into(), h);
    }
    let mut comp_pids: BTreeMap<(usize, String), String> = BTreeMap::new();
    let mut full = Vec::new();
    let mut relationships = Vec::new();
    for c in st
        .iter()
        .filter(|s| s.status != VexStatus::Fixed)
        .flat_map(|s| &s.components)
    {
        let key = (c.index, c.sbom_sha256.clone());
        if comp_pids.contains_key(&key) {
            continue;
        }
        let pid = component_pid(c);
        let name = match &c.version {
            Some(v) => format!("{} {v}", c.name),
            None => c.name.clone(),
        };
        let mut p = Map::new();
        p.insert("name".into(), json!(name));
        p.insert("product_id".into(), json!(pid));
        if let Some(h) = helper(c.purl.as_deref(), c.cpe.as_deref()) {
            p.insert("product_identification_helper".into(), h);
        }
        full.push(Value::Object(p));
        let rel_comp = format!("{rel_pid}:{pid}");
        relationships.push(json!({
            "category": "default_component_of",
            "full_product_name": {"name": format!("{name} as a component of {title} {}", rel.release), "product_id": rel_comp},
            "product_reference": pid,
            "relates_to_product_reference": rel_pid,
        }));
        comp_pids.insert(key, rel_comp);
    }
    let mut tree = Map::new();
    tree.insert(
        "branches".into(),
        json!([{"category": "vendor", "name": data.publisher.name, "branches": [
            {"category": "product_name", "name": title, "branches": [
                {"category": "product_version", "name": rel.release.as_str(), "product": Value::Object(release_product)}
            ]}
        ]}]),
    );
    if !full.is_empty() {
        tree.insert("full_product_names".into(), Value::Array(full));
        tree.insert("relationships".into(), Value::Array(relationships));
    }
    let status = if st.iter().any(|s| s.status == VexStatus::UnderInvestigation) {
        "interim"
    } else {
        "final"
    };
    let counts = [
        VexStatus::Affected,
        VexStatus::NotAffected,
        VexStatus::Fixed,
        VexStatus::UnderInvestigation,
    ]
    .map(|s| {
        format!(
            "{} {}",
            st.iter().filter(|x| x.status == s).count(),
            s.as_str()
        )
    })
    .join(", ");
    let mut document = Map::new();
    document.insert("category".into(), json!("csaf_vex"));
    document.insert("csaf_version".into(), json!("2.0"));
    document.insert("lang".into(), json!("en"));
    document.insert(
        "title".into(),
        json!(format!("VEX for {title} {}", rel.release)),
    );
    document.insert("publisher".into(), publisher(data));
    document.insert(
        "notes".into(),
        json!([{"category": "summary", "title": "About this document", "text": format!(
            "Exploitability of the known vulnerabilities of the third-party software in {title} {} ({counts}). \
             Statuses follow the manufacturer's problem-resolution tickets; only signed-off decisions state not affected.",
            rel.release
        )}]),
    );
    if let Some(id) = &data.sbom {
        document.insert(
            "references".into(),
            json!([{"category": "external", "summary": format!("The released SBOM (CycloneDX BOM-Link; sha256 {})", rel.sha256),
                    "url": format!("urn:cdx:{}/{}", id.uuid, id.version)}]),
        );
    }
    let revisions: Vec<&Revision> = data.revisions.iter().collect();
    document.insert(
        "tracking".into(),
        tracking(
            format!("{}-{}-vex", rel.product, rel.release),
            status,
            &revisions,
            rel.uploaded_at,
            data.generated_at,
        ),
    );
    json!({
        "document": Value::Object(document),
        "product_tree": Value::Object(tree),
        "vulnerabilities": st.iter().map(|s| vulnerability(s, &rel_pid, &comp_pids)).collect::<Vec<_>>(),
    })
}

/// The `csaf_security_advisory` of a ticket whose fix is released (RELEASED,
/// DEPLOYMENT_MONITORING, or CLOSED after a change). `None` for an unknown ticket, a ticket of
/// another product or release, or one without a released fix.
///
/// Products are every release the ticket lists: still-affected releases are `known_affected`
/// with a `vendor_fix` remediation naming the fixed ones; releases no longer affected are `fixed`.
pub fn csaf_security_advisory(data: &ReleaseExportData, ticket_id: &str) -> Option<Value> {
    let t = data.tickets.iter().find(|t| t.id == ticket_id)?;
    let facts = TicketFacts::of(t);
    if !facts.on_fix_path() {
        return None;
    }
    let title = data.product_title();
    let mut releases: Vec<&crate::tickets::TicketRelease> = t.releases.iter().collect();
    releases.sort_by(|a, b| a.release.cmp(&b.release));
    let versions: Vec<Value> = releases
        .iter()
        .map(|r| {
            json!({"category": "product_version", "name": r.release, "product": {
                "name": format!("{title} {}", r.release), "product_id": release_pid(&t.product, &r.release)}})
        })
        .collect();
    let pids = |applicable: bool| -> Vec<String> {
        releases
            .iter()
            .filter(|r| r.applicable == applicable)
            .map(|r| release_pid(&t.product, &r.release))
            .collect()
    };
    let (affected, fixed) = (pids(true), pids(false));
    let mut status = Map::new();
    if !affected.is_empty() {
        status.insert("known_affected".into(), json!(affected));
    }
    if !fixed.is_empty() {
        status.insert("fixed".into(), json!(fixed));
    }
    let finding = data
        .findings
        .iter()
        .find(|f| f.vulnerability.id == t.vulnerability);
    let mut v = Map::new();
    identify(&mut v, &t.vulnerability, &t.aliases);
    v.insert(
        "notes".into(),
        json!([description_note(t.summary.as_deref())]),
    );
    v.insert("product_status".into(), Value::Object(status));
    let fixed_names: Vec<&str> = releases
        .iter()
        .filter(|r| !r.applicable)
        .map(|r| r.release.as_str())
        .collect();
    if !affected.is_empty() {
        let details = if fixed_names.is_empty() {
            "Update the device software to the released fix.".to_string()
        } else {
            format!(
                "Update the device software to a release without the vulnerable component: {}.",
                fixed_names.join(", ")
            )
        };
        v.insert(
            "remediations".into(),
            json!([{"category": "vendor_fix", "details": details, "date": ts(t.updated_at), "product_ids": affected}]),
        );
    }
    let mut all = affected.clone();
    all.extend(fixed.iter().cloned());
    all.sort();
    if let Some(s) = finding.and_then(|f| scores(&f.vulnerability.severity, &all)) {
        v.insert("scores".into(), json!([s]));
    }
    let subject = format!("ticket/{}", t.id);
    let revisions: Vec<&Revision> = data
        .revisions
        .iter()
        .filter(|r| r.subject == subject)
        .collect();
    let signer = t
        .current_signoff()
        .map(|s| format!(" The decision was signed off by {} ({}).", s.by, s.meaning))
        .unwrap_or_default();
    let document = json!({
        "category": "csaf_security_advisory",
        "csaf_version": "2.0",
        "lang": "en",
        "title": format!("{} in {title}", t.vulnerability),
        "publisher": publisher(data),
        "notes": [{"category": "summary", "title": "Summary", "text": format!(
            "{} affects third-party software in {title}. A software update that removes it is released.{signer}",
            t.vulnerability
        )}],
        "tracking": tracking(
            format!("{}-{}", t.product, t.vulnerability),
            "final",
            &revisions,
            t.opened_at,
            data.generated_at,
        ),
    });
    Some(json!({
        "document": document,
        "product_tree": {"branches": [{"category": "vendor", "name": data.publisher.name, "branches": [
            {"category": "product_name", "name": title, "branches": versions}
        ]}]},
        "vulnerabilities": [Value::Object(v)],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cve_groups_use_cve_and_list_other_ids() {
        let mut v = Map::new();
        identify(
            &mut v,
            "CVE-2019-16942",
            &["GHSA-mx7p-6679-8g3q".into(), "CVE-2019-99999".into()],
        );
        assert_eq!(v["cve"], "CVE-2019-16942");
        assert_eq!(
            v["ids"],
            json!([{"system_name": "GHSA", "text": "GHSA-mx7p-6679-8g3q"},
                   {"system_name": "CVE", "text": "CVE-2019-99999"}])
        );
        let mut v = Map::new();
        identify(&mut v, "GHSA-mx7p-6679-8g3q", &[]);
        assert!(v.get("cve").is_none());
        assert_eq!(v["ids"][0]["text"], "GHSA-mx7p-6679-8g3q");
    }

    #[test]
    fn one_score_per_cvss_version_preferring_3_1() {
        let s = |kind: &str, vector: &str, score: f64| Severity {
            kind: kind.into(),
            vector: vector.into(),
            base_score: Some(score),
            source: None,
        };
        let sev = [
            s(
                "CVSS_V3",
                "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                9.8,
            ),
            s(
                "CVSS_V3",
                "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H",
                8.1,
            ),
            s("CVSS_V2", "AV:N/AC:L/Au:N/C:P/I:P/A:P", 7.5),
        ];
        let v = scores(&sev, &["p".into()]).unwrap();
        assert_eq!(v["cvss_v3"]["version"], "3.1");
        assert_eq!(v["cvss_v3"]["baseSeverity"], "HIGH");
        assert_eq!(v["cvss_v2"]["baseScore"], 7.5);
        assert_eq!(v["products"], json!(["p"]));
        assert_eq!(scores(&[], &[]), None);
    }
}
