//! CycloneDX 1.6 VEX: a BOM whose `vulnerabilities[]` carry one analysis per vulnerability of the
//! release. The device release is `metadata.component`; the affected components are listed in
//! `components[]` with their original `bom-ref`, so every `affects[].ref` resolves inside this
//! document, and, when the released SBOM has a `serialNumber`, each is also named by a BOM-Link
//! into that SBOM (`urn:cdx:<uuid>/<version>#<bom-ref>`) and the SBOM itself by an external
//! reference of type `bom`.
//!
//! Status spelling (`analysis.state`): affected → `exploitable`, not_affected → `not_affected`,
//! fixed → `resolved`, under_investigation → `in_triage`.

use super::status::{statements, Statement, StatementComponent, VexStatus};
use super::{stable_uuid, ts, ReleaseExportData};
use crate::advisory::Severity;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

pub const SPEC_VERSION: &str = "1.6";

fn state(s: VexStatus) -> &'static str {
    match s {
        VexStatus::Affected => "exploitable",
        VexStatus::NotAffected => "not_affected",
        VexStatus::Fixed => "resolved",
        VexStatus::UnderInvestigation => "in_triage",
    }
}

/// Where a vulnerability id is published, by its prefix.
pub(crate) fn id_source(id: &str) -> (&'static str, String) {
    if id.starts_with("CVE-") {
        ("NVD", format!("https://nvd.nist.gov/vuln/detail/{id}"))
    } else if id.starts_with("GHSA-") {
        (
            "GitHub Advisory Database",
            format!("https://github.com/advisories/{id}"),
        )
    } else {
        ("OSV", format!("https://osv.dev/vulnerability/{id}"))
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters (BOM-Link fragments).
pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The ref a component has inside this VEX BOM: its own `bom-ref` when it is in the release's
/// current SBOM revision, else a soupwatch name that cannot collide with a document's refs.
fn local_ref(data: &ReleaseExportData, c: &StatementComponent) -> String {
    match &c.bom_ref {
        Some(r) if c.sbom_sha256 == data.release.sha256 && !r.starts_with("urn:cdx:") => r.clone(),
        _ => synthetic_ref(c),
    }
}

fn synthetic_ref(c: &StatementComponent) -> String {
    format!(
        "soupwatch:sbom:{}:component:{}",
        c.sbom_sha256.get(..16).unwrap_or(&c.sbom_sha256),
        c.index
    )
}

fn qualitative(score: f64, v2: bool) -> &'static str {
    match score {
        s if s <= 0.0 && !v2 => "none",
        s if s < 4.0 => "low",
        s if s < 7.0 => "medium",
        s if s < 9.0 || v2 => "high",
        _ => "critical",
    }
}

/// CVSS ratings: CycloneDX method from the vector's version; other severity kinds are skipped.
fn ratings(severity: &[Severity]) -> Vec<Value> {
    let mut out: Vec<Value> = severity
        .iter()
        .filter_map(|s| {
            let method = match s.kind.as_str() {
                "CVSS_V2" => "CVSSv2",
                "CVSS_V3" if s.vector.starts_with("CVSS:3.1/") => "CVSSv31",
                "CVSS_V3" => "CVSSv3",
                "CVSS_V4" => "CVSSv4",
                _ => return None,
            };
            let mut r = Map::new();
            if let Some(src) = &s.source {
                r.insert("source".into(), json!({"name": src}));
            }
            if let Some(score) = s.base_score.filter(|x| x.is_finite()) {
                r.insert("score".into(), json!(score));
                r.insert(
                    "severity".into(),
                    json!(qualitative(score, method == "CVSSv2")),
                );
            }
            r.insert("method".into(), json!(method));
            r.insert("vector".into(), json!(s.vector));
            Some(Value::Object(r))
        })
        .collect();
    out.sort_by_key(|v| v.to_string());
    out.dedup();
    out
}

fn vulnerability(
    data: &ReleaseExportData,
    st: &Statement<'_>,
    refs: &BTreeMap<(usize, String), String>,
) -> Value {
    let (src, url) = id_source(&st.vulnerability);
    let mut v = Map::new();
    v.insert("id".into(), json!(st.vulnerability));
    v.insert("source".into(), json!({"name": src, "url": url}));
    if !st.aliases.is_empty() {
        let refs: Vec<Value> = st
            .aliases
            .iter()
            .map(|a| {
                let (n, u) = id_source(a);
                json!({"id": a, "source": {"name": n, "url": u}})
            })
            .collect();
        v.insert("references".into(), Value::Array(refs));
    }
    let r = ratings(&st.severity);
    if !r.is_empty() {
        v.insert("ratings".into(), Value::Array(r));
    }
    if let Some(s) = st.summary.as_deref().filter(|s| !s.trim().is_empty()) {
        v.insert("description".into(), json!(s));
    }
    if let Some(a) = &st.action_statement {
        v.insert("recommendation".into(), json!(a));
    }
    let mut analysis = Map::new();
    analysis.insert("state".into(), json!(state(st.status)));
    if st.status == VexStatus::NotAffected {
        if let Some(j) = st.cdx_justification {
            analysis.insert("justification".into(), json!(j.as_str()));
        }
    }
    if !st.cdx_response.is_empty() {
        analysis.insert("response".into(), json!(st.cdx_response));
    }
    let detail = [
        st.impact_statement.as_deref(),
        st.action_statement.as_deref(),
        Some(st.notes.as_str()),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    analysis.insert("detail".into(), json!(detail));
    analysis.insert("firstIssued".into(), json!(ts(st.first_issued)));
    analysis.insert("lastUpdated".into(), json!(ts(st.last_updated)));
    v.insert("analysis".into(), Value::Object(analysis));
    let mut affects = Vec::new();
    for c in &st.components {
        if let Some(r) = refs.get(&(c.index, c.sbom_sha256.clone())) {
            affects.push(json!({"ref": r}));
        }
        if let (Some(id), Some(bom_ref), true) =
            (&data.sbom, &c.bom_ref, c.sbom_sha256 == data.release.sha256)
        {
            affects.push(json!({"ref": format!("urn:cdx:{}/{}#{}", id.uuid, id.version, percent_encode(bom_ref))}));
        }
    }
    affects.dedup();
    v.insert("affects".into(), Value::Array(affects));
    Value::Object(v)
}

fn component(c: &StatementComponent, r: &str) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), json!("library"));
    m.insert("bom-ref".into(), json!(r));
    m.insert("name".into(), json!(c.name));
    if let Some(v) = &c.version {
        m.insert("version".into(), json!(v));
    }
    if let Some(p) = &c.purl {
        m.insert("purl".into(), json!(p));
    }
    if let Some(p) = &c.cpe {
        m.insert("cpe".into(), json!(p));
    }
    Value::Object(m)
}

/// CycloneDX 1.6 component types; a subject of any other kind becomes `application`.
const TYPES: [&str; 13] = [
    "application",
    "framework",
    "library",
    "container",
    "platform",
    "operating-system",
    "device",
    "device-driver",
    "firmware",
    "file",
    "machine-learning-model",
    "data",
    "cryptographic-asset",
];

/// The CycloneDX 1.6 VEX BOM of the release.
pub fn vex(data: &ReleaseExportData) -> Value {
    let st = statements(data);
    let rel = &data.release;
    let subject = rel.subject.first();
    let subject_ref = subject
        .and_then(|s| s.bom_ref.clone())
        .filter(|r| !r.starts_with("urn:cdx:"))
        .unwrap_or_else(|| format!("soupwatch:release:{}:{}", rel.product, rel.release));
    let mut refs: BTreeMap<(usize, String), String> = BTreeMap::new();
    let mut components: BTreeMap<String, Value> = BTreeMap::new();
    for c in st.iter().flat_map(|s| &s.components) {
        let key = (c.index, c.sbom_sha256.clone());
        if refs.contains_key(&key) {
            continue;
        }
        let mut r = local_ref(data, c);
        if r == subject_ref || components.contains_key(&r) {
            // A clash with the subject's or another component's ref: use a soupwatch name.
            r = synthetic_ref(c);
        }
        components.insert(r.clone(), component(c, &r));
        refs.insert(key, r);
    }
    let mut meta_component = Map::new();
    meta_component.insert(
        "type".into(),
        json!(subject
            .and_then(|s| s.kind.as_deref())
            .filter(|k| TYPES.contains(k))
            .unwrap_or("application")),
    );
    meta_component.insert("bom-ref".into(), json!(subject_ref));
    meta_component.insert("name".into(), json!(data.product_title()));
    meta_component.insert("version".into(), json!(rel.release.as_str()));
    if let Some(p) = data.subject_purl() {
        meta_component.insert("purl".into(), json!(p));
    }
    let mut bom = Map::new();
    bom.insert("bomFormat".into(), json!("CycloneDX"));
    bom.insert("specVersion".into(), json!(SPEC_VERSION));
    bom.insert(
        "serialNumber".into(),
        json!(format!(
            "urn:uuid:{}",
            stable_uuid(&[
                "cyclonedx-vex",
                &data.publisher.namespace,
                rel.product.as_str(),
                rel.release.as_str()
            ])
        )),
    );
    bom.insert("version".into(), json!(data.version()));
    bom.insert(
        "metadata".into(),
        json!({
            "timestamp": ts(data.generated_at),
            "tools": {"components": [{"type": "application", "name": "soupwatch", "version": env!("CARGO_PKG_VERSION")}]},
            "component": Value::Object(meta_component),
            "manufacturer": {"name": data.publisher.name, "url": [data.publisher.namespace]},
        }),
    );
    if !components.is_empty() {
        bom.insert(
            "components".into(),
            Value::Array(components.into_values().collect()),
        );
    }
    if let Some(id) = &data.sbom {
        bom.insert(
            "externalReferences".into(),
            json!([{"type": "bom", "url": format!("urn:cdx:{}/{}", id.uuid, id.version),
                    "comment": format!("the released SBOM of {} {} (sha256 {})", rel.product, rel.release, rel.sha256)}]),
        );
    }
    bom.insert(
        "vulnerabilities".into(),
        Value::Array(st.iter().map(|s| vulnerability(data, s, &refs)).collect()),
    );
    Value::Object(bom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bom_link_fragments_are_percent_encoded() {
        assert_eq!(
            percent_encode("pkg:maven/a/b@1.0?type=jar"),
            "pkg%3Amaven%2Fa%2Fb%401.0%3Ftype%3Djar"
        );
        assert_eq!(percent_encode("plain-ref_1.2~x"), "plain-ref_1.2~x");
        assert_eq!(percent_encode("é"), "%C3%A9");
    }

    #[test]
    fn cvss_severity_bands() {
        assert_eq!(qualitative(0.0, false), "none");
        assert_eq!(qualitative(3.9, false), "low");
        assert_eq!(qualitative(4.0, false), "medium");
        assert_eq!(qualitative(8.9, false), "high");
        assert_eq!(qualitative(9.0, false), "critical");
        assert_eq!(qualitative(10.0, true), "high");
    }
}
