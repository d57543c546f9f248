//! OpenVEX 0.2.0: one statement per vulnerability of the release. The product is the device
//! release, named by its SBOM subject's purl (else by an IRI under the publisher's namespace);
//! the affected components are its `subcomponents`, named by purl, else by a BOM-Link into the
//! released SBOM, else by CPE identifier. Statuses and justifications are OpenVEX's own words
//! (see [`super::status`]).

use super::cyclonedx::{id_source, percent_encode};
use super::status::{statements, Statement, StatementComponent};
use super::{ts, usable_purl, ReleaseExportData};
use serde_json::{json, Map, Value};

pub const CONTEXT: &str = "https://openvex.dev/ns/v0.2.0";

fn subcomponent(data: &ReleaseExportData, c: &StatementComponent) -> Option<Value> {
    if let Some(p) = c.purl.as_deref().filter(|p| usable_purl(p)) {
        return Some(json!({"@id": p}));
    }
    if let (Some(id), Some(r), true) =
        (&data.sbom, &c.bom_ref, c.sbom_sha256 == data.release.sha256)
    {
        return Some(
            json!({"@id": format!("urn:cdx:{}/{}#{}", id.uuid, id.version, percent_encode(r))}),
        );
    }
    c.cpe
        .as_ref()
        .filter(|x| x.starts_with("cpe:2.3:"))
        .map(|x| json!({"identifiers": {"cpe23": x}}))
}

fn statement(data: &ReleaseExportData, st: &Statement<'_>) -> Value {
    let mut vuln = Map::new();
    vuln.insert("@id".into(), json!(id_source(&st.vulnerability).1));
    vuln.insert("name".into(), json!(st.vulnerability));
    if let Some(s) = st.summary.as_deref().filter(|s| !s.trim().is_empty()) {
        vuln.insert("description".into(), json!(s));
    }
    if !st.aliases.is_empty() {
        vuln.insert("aliases".into(), json!(st.aliases));
    }
    let mut product = Map::new();
    match data.subject_purl() {
        Some(p) => {
            product.insert("@id".into(), json!(p));
        }
        None => {
            product.insert("@id".into(), json!(data.release_iri()));
        }
    }
    let mut subs: Vec<Value> = st
        .components
        .iter()
        .filter_map(|c| subcomponent(data, c))
        .collect();
    subs.sort_by_key(|v| v.to_string());
    subs.dedup();
    let mut notes = st.notes.clone();
    let unnamed = st.components.len()
        - st.components
            .iter()
            .filter(|c| subcomponent(data, c).is_some())
            .count();
    if unnamed > 0 {
        notes.push_str(&format!(
            " {unnamed} affected component(s) have no purl, BOM-Link or CPE to name them by."
        ));
    }
    if !subs.is_empty() {
        product.insert("subcomponents".into(), Value::Array(subs));
    }
    let mut s = Map::new();
    s.insert("vulnerability".into(), Value::Object(vuln));
    s.insert("timestamp".into(), json!(ts(st.first_issued)));
    s.insert("last_updated".into(), json!(ts(st.last_updated)));
    s.insert("products".into(), json!([Value::Object(product)]));
    s.insert("status".into(), json!(st.status.as_str()));
    if let Some(j) = st.justification {
        s.insert("justification".into(), json!(j.as_str()));
    }
    if let Some(i) = &st.impact_statement {
        s.insert("impact_statement".into(), json!(i));
    }
    if let Some(a) = &st.action_statement {
        s.insert("action_statement".into(), json!(a));
        s.insert(
            "action_statement_timestamp".into(),
            json!(ts(st.last_updated)),
        );
    }
    s.insert("status_notes".into(), json!(notes));
    Value::Object(s)
}

/// The OpenVEX document of the release.
pub fn vex(data: &ReleaseExportData) -> Value {
    let st = statements(data);
    json!({
        "@context": CONTEXT,
        "@id": format!("{}/vex", data.release_iri()),
        "author": data.publisher.name,
        "role": "Document Creator",
        "timestamp": ts(data.first_issued()),
        "last_updated": ts(data.last_updated()),
        "version": data.version(),
        "tooling": format!("soupwatch {}", env!("CARGO_PKG_VERSION")),
        "statements": st.iter().map(|s| statement(data, s)).collect::<Vec<_>>(),
    })
}
