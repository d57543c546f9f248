//! Exports: what a manufacturer hands to hospitals, regulators and auditors about one released
//! device version. VEX documents in three formats (CycloneDX 1.6 `vulnerabilities[]`,
//! OpenVEX 0.2.0, CSAF 2.0 `csaf_vex`), a CSAF 2.0 `csaf_security_advisory` per fixed ticket,
//! and a release report (HTML, Markdown, CSV) listing every component, every finding, its
//! decision and who signed it.
//!
//! [`load`] is the only function that touches the store: it gathers a [`ReleaseExportData`]
//! snapshot. Everything else is a pure function of that snapshot (no clock, no I/O), with every
//! list sorted, so the same data always gives the same bytes and successive exports diff cleanly.
//!
//! The VEX status of each (vulnerability, release) is derived once, in [`status`], and the three
//! formats only spell it in their own vocabulary. The one rule that matters most: only a
//! signed-off decision may claim `not_affected`; a provisional one stays `under_investigation`
//! (see [`status`] for the full mapping).
//!
//! Document identity and versions: each export has a stable identity per (publisher, product,
//! release) (CycloneDX `serialNumber`, OpenVEX `@id`, CSAF `tracking.id`) and its version is the
//! number of [`Revision`]s, i.e. the audited writes (release upload or supersede, ticket open,
//! re-triage, signoff, transition) that concern the release. The audit trail is append-only, so
//! the version only grows and every revision names the audit entry that caused it.

pub mod csaf;
pub mod cyclonedx;
pub mod openvex;
pub mod report;
pub mod status;

pub use csaf::csaf_security_advisory;
pub use report::{report_csv, report_html, report_markdown};
pub use status::{statements, CdxJustification, Justification, Statement, VexStatus};

use crate::matching::findings::{release_findings, Finding};
use crate::model::{Component, ProductName, ReleaseName, SbomFormat};
use crate::records::{DeviceRecord, SoupRecord};
use crate::store::{ReleaseRecord, Store, StoreError};
use crate::tickets::Ticket;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Who issues the documents (from configuration): the device manufacturer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Publisher {
    /// Legal or trade name, e.g. `Example Medical Inc.`.
    pub name: String,
    /// A URL the publisher controls (CSAF `publisher.namespace`), e.g. `https://psirt.example.com`.
    pub namespace: String,
    /// How to reach the product security team (CSAF `contact_details`).
    pub contact: Option<String>,
}

/// One change of the exported content: an audited write that concerns the release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Revision {
    pub at: DateTime<Utc>,
    /// What changed: `release/{product}/{release}` or `ticket/{ticket id}`.
    pub subject: String,
    pub summary: String,
    /// The audit entry behind it; `None` only for the fallback revision of a store without one.
    pub audit_seq: Option<u64>,
}

/// The released SBOM's own identity, for CycloneDX BOM-Links into it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SbomIdentity {
    /// The bare UUID of `serialNumber` (without `urn:uuid:`), lower-case.
    pub uuid: String,
    pub version: u64,
}

/// Everything the exports of one release are made from, loaded at one point in time.
#[derive(Debug)]
pub struct ReleaseExportData {
    pub release: ReleaseRecord,
    /// The release's components in SBOM order; findings refer to them by index.
    pub components: Vec<Component>,
    /// Findings of the release, retracted ones included (they can mean `fixed`).
    pub findings: Vec<Finding>,
    /// Tickets of the product that list this release.
    pub tickets: Vec<Ticket>,
    pub soup: Vec<SoupRecord>,
    pub device: Option<DeviceRecord>,
    /// `None` when the SBOM has no usable `serialNumber`.
    pub sbom: Option<SbomIdentity>,
    /// Oldest first; never empty when built by [`load`].
    pub revisions: Vec<Revision>,
    /// When the export is made: metadata only, never part of a statement.
    pub generated_at: DateTime<Utc>,
    pub publisher: Publisher,
}

/// The VEX serialisations soupwatch writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VexFormat {
    CycloneDx,
    OpenVex,
    Csaf,
}

impl VexFormat {
    /// `cyclonedx`, `openvex` or `csaf` (the API's `format=` and the CLI's `--format`).
    pub fn parse(s: &str) -> Option<VexFormat> {
        match s.to_ascii_lowercase().as_str() {
            "cyclonedx" | "cdx" => Some(VexFormat::CycloneDx),
            "openvex" => Some(VexFormat::OpenVex),
            "csaf" => Some(VexFormat::Csaf),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            VexFormat::CycloneDx => "application/vnd.cyclonedx+json",
            VexFormat::OpenVex => "application/json",
            VexFormat::Csaf => "application/json",
        }
    }
}

/// The VEX document of the release in `format`.
///
/// OpenVEX requires at least one statement: for a release without findings the document has an
/// empty `statements` list, which the OpenVEX schema refuses; callers should check
/// [`statements`] first and answer "nothing to state" instead.
pub fn vex(data: &ReleaseExportData, format: VexFormat) -> serde_json::Value {
    match format {
        VexFormat::CycloneDx => cyclonedx::vex(data),
        VexFormat::OpenVex => openvex::vex(data),
        VexFormat::Csaf => csaf::vex(data),
    }
}

/// Gathers the export data of one release. `Ok(None)` when the product or release is unknown.
///
/// Reads the whole audit trail once to find the release's revisions (the trail has no index
/// by subject): linear in the audit size, which is fine for an on-demand export.
pub fn load(
    store: &Store,
    product: &str,
    release: &str,
    now: DateTime<Utc>,
    publisher: Publisher,
) -> Result<Option<ReleaseExportData>, StoreError> {
    let (Ok(p), Ok(r)) = (ProductName::parse(product), ReleaseName::parse(release)) else {
        return Ok(None);
    };
    let Some(record) = store.release(&p, &r)? else {
        return Ok(None);
    };
    let components = store.components(&record.sha256)?.unwrap_or_default();
    let findings = release_findings(store, product, release, true)?;
    let tickets: Vec<Ticket> = store
        .tickets()?
        .into_iter()
        .filter(|t| t.product == product && t.releases.iter().any(|x| x.release == release))
        .collect();
    let sbom = store
        .sbom_bytes(&record.sha256)?
        .and_then(|b| sbom_identity(record.format, &b));
    let revisions = revisions(store, product, release, &record)?;
    Ok(Some(ReleaseExportData {
        components,
        findings,
        tickets,
        soup: store.soup_records(product)?,
        device: store.device(product)?,
        sbom,
        revisions,
        generated_at: now,
        publisher,
        release: record,
    }))
}

/// Audited writes on the release itself and on tickets that list it, oldest first.
fn revisions(
    store: &Store,
    product: &str,
    release: &str,
    record: &ReleaseRecord,
) -> Result<Vec<Revision>, StoreError> {
    const PAGE: usize = 1000;
    let release_subject = format!("release/{product}/{release}");
    let ticket_prefix = format!("ticket/{product}:");
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let page = store.audit_entries(after, PAGE)?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        let n = page.len();
        for e in page {
            let concerns = if e.subject == release_subject {
                true
            } else if e.subject.starts_with(&ticket_prefix) {
                // The ticket as written lists this release.
                e.after
                    .as_ref()
                    .and_then(|t| t.get("releases"))
                    .and_then(|v| v.as_array())
                    .is_some_and(|rs| rs.iter().any(|x| x["release"] == release))
            } else {
                false
            };
            if concerns {
                let subject = e
                    .subject
                    .split_once('/')
                    .map_or(e.subject.as_str(), |x| x.1);
                let mut summary = format!("{} {}", e.action, subject);
                if let Some(reason) = e.reason.as_deref().filter(|r| !r.trim().is_empty()) {
                    summary.push_str(": ");
                    summary.push_str(reason.trim());
                }
                out.push(Revision {
                    at: e.at,
                    subject: e.subject.clone(),
                    summary,
                    audit_seq: Some(e.seq),
                });
            }
        }
        if n < PAGE {
            break;
        }
    }
    if out.is_empty() {
        out.push(Revision {
            at: record.uploaded_at,
            subject: release_subject,
            summary: format!("release {product} {release} uploaded"),
            audit_seq: None,
        });
    }
    Ok(out)
}

/// The SBOM's `serialNumber` (`urn:uuid:` form only: BOM-Links need a UUID) and `version`.
fn sbom_identity(format: SbomFormat, bytes: &[u8]) -> Option<SbomIdentity> {
    let (serial, version) = match format {
        SbomFormat::CyclonedxJson => {
            let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
            (
                v.get("serialNumber")?.as_str()?.to_string(),
                v.get("version").and_then(|x| x.as_u64()).unwrap_or(1),
            )
        }
        SbomFormat::CyclonedxXml => xml_root_identity(bytes)?,
        SbomFormat::SpdxJson | SbomFormat::SpdxTagValue => return None,
    };
    let uuid = serial.strip_prefix("urn:uuid:")?.to_ascii_lowercase();
    let groups: Vec<&str> = uuid.split('-').collect();
    let lens = [8, 4, 4, 4, 12];
    let ok = groups.len() == 5
        && groups
            .iter()
            .zip(lens)
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()));
    (ok && version >= 1).then_some(SbomIdentity { uuid, version })
}

/// `serialNumber` and `version` attributes of a CycloneDX XML root element. The bytes were
/// accepted by ingestion (XML guard included) before they were stored.
fn xml_root_identity(bytes: &[u8]) -> Option<(String, u64)> {
    use xml::reader::{EventReader, XmlEvent};
    for ev in EventReader::new(bytes) {
        if let Ok(XmlEvent::StartElement { attributes, .. }) = ev {
            let attr = |n: &str| {
                attributes
                    .iter()
                    .find(|a| a.name.local_name == n)
                    .map(|a| a.value.clone())
            };
            let version = attr("version").and_then(|v| v.parse().ok()).unwrap_or(1);
            return attr("serialNumber").map(|s| (s, version));
        }
        if ev.is_err() {
            return None;
        }
    }
    None
}

/// A stable UUID (RFC 9562 version 8, name-based on SHA-256) for a document identity, so the
/// same release always gets the same CycloneDX `serialNumber`.
pub(crate) fn stable_uuid(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &x[0..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

impl ReleaseExportData {
    /// The document version: one per revision.
    pub fn version(&self) -> u64 {
        self.revisions.len().max(1) as u64
    }

    /// When the first revision happened (the document's initial release).
    pub fn first_issued(&self) -> DateTime<Utc> {
        self.revisions
            .iter()
            .map(|r| r.at)
            .min()
            .unwrap_or(self.release.uploaded_at)
    }

    /// When the latest revision happened.
    pub fn last_updated(&self) -> DateTime<Utc> {
        self.revisions
            .iter()
            .map(|r| r.at)
            .max()
            .unwrap_or(self.release.uploaded_at)
    }

    /// The device's trade name from its device record, else the product name.
    pub fn product_title(&self) -> String {
        self.device
            .as_ref()
            .and_then(|d| d.name.clone())
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| self.release.product.to_string())
    }

    /// The device release's purl, when the SBOM's subject gives one.
    pub fn subject_purl(&self) -> Option<&str> {
        self.release
            .subject
            .iter()
            .find_map(|c| c.purl.as_deref().filter(|p| usable_purl(p)))
    }

    /// An IRI naming the release under the publisher's namespace, for documents that need one
    /// when the SBOM subject has no purl.
    pub fn release_iri(&self) -> String {
        format!(
            "{}/products/{}/releases/{}",
            self.publisher.namespace.trim_end_matches('/'),
            self.release.product,
            self.release.release
        )
    }
}

/// A purl that every format's schema accepts: the purl grammar (the `packageurl` crate), a
/// `type` of `[A-Za-z.+-][A-Za-z0-9.+-]*` and no whitespace (CSAF's pattern and `uri` format).
pub(crate) fn usable_purl(p: &str) -> bool {
    use std::str::FromStr;
    let Some(rest) = p.strip_prefix("pkg:") else {
        return false;
    };
    let Some((ty, name)) = rest.split_once('/') else {
        return false;
    };
    let mut ty_chars = ty.chars();
    ty_chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || ".-+".contains(c))
        && ty_chars.all(|c| c.is_ascii_alphanumeric() || ".-+".contains(c))
        && !name.is_empty()
        && !p
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "\"<>\\^`{|}".contains(c))
        && packageurl::PackageUrl::from_str(p).is_ok()
}

/// RFC 3339 with second precision and `Z`, the form every format accepts.
pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_uuid_is_a_version_8_uuid_and_stable() {
        let a = stable_uuid(&["https://x.example", "pump", "1.0"]);
        assert_eq!(a, stable_uuid(&["https://x.example", "pump", "1.0"]));
        assert_ne!(a, stable_uuid(&["https://x.example", "pump", "1.1"]));
        // ["pump1", "0"] must not collide with ["pump", "10"]
        assert_ne!(stable_uuid(&["pump1", "0"]), stable_uuid(&["pump", "10"]));
        let g: Vec<&str> = a.split('-').collect();
        assert_eq!(
            g.iter().map(|x| x.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(g[2].starts_with('8'));
        assert!("89ab".contains(&g[3][..1]));
    }

    #[test]
    fn sbom_identity_reads_json_and_xml_serial_numbers() {
        let j = br#"{"bomFormat":"CycloneDX","serialNumber":"urn:uuid:B4F2954F-a96d-4578-9509-1ae2d6476209","version":3}"#;
        assert_eq!(
            sbom_identity(SbomFormat::CyclonedxJson, j),
            Some(SbomIdentity {
                uuid: "b4f2954f-a96d-4578-9509-1ae2d6476209".into(),
                version: 3
            })
        );
        let x = br#"<?xml version="1.0"?><bom xmlns="http://cyclonedx.org/schema/bom/1.4" serialNumber="urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79" version="1"><components/></bom>"#;
        assert_eq!(
            sbom_identity(SbomFormat::CyclonedxXml, x).map(|s| s.uuid),
            Some("3e671687-395b-41f5-a30f-a58921a69b79".into())
        );
        for bad in [
            &br#"{"serialNumber":"urn:uuid:not-a-uuid"}"#[..],
            br#"{"serialNumber":"b4f2954f-a96d-4578-9509-1ae2d6476209"}"#,
            br#"{"serialNumber":"urn:uuid:b4f2954f-a96d-4578-9509-1ae2d6476209","version":0}"#,
            b"not json",
        ] {
            assert_eq!(sbom_identity(SbomFormat::CyclonedxJson, bad), None);
        }
        assert_eq!(sbom_identity(SbomFormat::SpdxJson, j), None);
    }
}
