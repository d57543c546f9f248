//! The CISA Known Exploited Vulnerabilities catalogue (`known_exploited_vulnerabilities.json`,
//! schema `cisagov/kev-data`): which CVEs are exploited in the wild, for triage priority.
//! Strings are kept as published (dates are `YYYY-MM-DD`); a catalogue entry without a
//! `cveID` refuses the whole document, since a silently shorter catalogue would drop a priority.

use serde::Deserialize;

use super::osv::ParseError;
use super::KevEntry;

#[derive(Debug, Clone, PartialEq)]
pub struct KevCatalog {
    pub catalog_version: Option<String>,
    pub date_released: Option<String>,
    pub entries: Vec<KevEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCatalog {
    catalog_version: Option<String>,
    date_released: Option<String>,
    count: Option<u64>,
    vulnerabilities: Vec<RawEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEntry {
    #[serde(rename = "cveID")]
    cve_id: String,
    vendor_project: Option<String>,
    product: Option<String>,
    vulnerability_name: Option<String>,
    date_added: Option<String>,
    due_date: Option<String>,
    required_action: Option<String>,
    known_ransomware_campaign_use: Option<String>,
}

/// Parses the catalogue JSON. The catalogue's own `count`, when present, must equal the number
/// of entries, catching a truncated download that still happens to be valid JSON.
pub fn parse_catalog(bytes: &[u8]) -> Result<KevCatalog, ParseError> {
    let raw: RawCatalog = serde_json::from_slice(bytes).map_err(|source| ParseError::Json {
        what: "KEV catalog".into(),
        source,
    })?;
    if let Some(count) = raw.count {
        if count != raw.vulnerabilities.len() as u64 {
            return Err(ParseError::invalid(
                "KEV catalog",
                "count",
                format!("says {count} entries, has {}", raw.vulnerabilities.len()),
            ));
        }
    }
    let entries = raw
        .vulnerabilities
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            if v.cve_id.trim().is_empty() {
                return Err(ParseError::invalid(
                    "KEV catalog",
                    format!("vulnerabilities[{i}].cveID"),
                    "empty",
                ));
            }
            Ok(KevEntry {
                cve_id: v.cve_id,
                vendor_project: v.vendor_project,
                product: v.product,
                vulnerability_name: v.vulnerability_name,
                date_added: v.date_added,
                due_date: v.due_date,
                required_action: v.required_action,
                known_ransomware_campaign_use: v.known_ransomware_campaign_use,
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(KevCatalog {
        catalog_version: raw.catalog_version,
        date_released: raw.date_released,
        entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::path::{Path, PathBuf};

    fn corpus() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus")
    }

    fn check(path: &str) -> KevCatalog {
        let bytes = std::fs::read(corpus().join(path)).unwrap();
        let cat = parse_catalog(&bytes).unwrap();
        let raw: Value = serde_json::from_slice(&bytes).unwrap();
        let vulns = raw["vulnerabilities"].as_array().unwrap();
        assert_eq!(cat.entries.len(), vulns.len());
        assert_eq!(
            cat.catalog_version.as_deref(),
            raw["catalogVersion"].as_str()
        );
        assert_eq!(cat.date_released.as_deref(), raw["dateReleased"].as_str());
        for (e, v) in cat.entries.iter().zip(vulns) {
            assert_eq!(e.cve_id, v["cveID"].as_str().unwrap());
            assert_eq!(e.vendor_project.as_deref(), v["vendorProject"].as_str());
            assert_eq!(e.product.as_deref(), v["product"].as_str());
            assert_eq!(
                e.vulnerability_name.as_deref(),
                v["vulnerabilityName"].as_str()
            );
            assert_eq!(e.date_added.as_deref(), v["dateAdded"].as_str());
            assert_eq!(e.due_date.as_deref(), v["dueDate"].as_str());
            assert_eq!(e.required_action.as_deref(), v["requiredAction"].as_str());
            assert_eq!(
                e.known_ransomware_campaign_use.as_deref(),
                v["knownRansomwareCampaignUse"].as_str()
            );
        }
        cat
    }

    #[test]
    fn current_and_history_catalogs_parse() {
        let now = check("kev/known_exploited_vulnerabilities.json");
        let then = check("kev/history/known_exploited_vulnerabilities.2025-07-11.1e644ecb.json");
        assert_ne!(now.catalog_version, then.catalog_version);
        // The catalogue only grows between these snapshots: every old CVE is still listed.
        let ids: std::collections::BTreeSet<_> = now.entries.iter().map(|e| &e.cve_id).collect();
        assert!(then.entries.iter().all(|e| ids.contains(&e.cve_id)));
    }

    #[test]
    fn truncated_or_inconsistent_catalog_is_refused() {
        let bytes =
            std::fs::read(corpus().join("kev/known_exploited_vulnerabilities.json")).unwrap();
        assert!(parse_catalog(&bytes[..bytes.len() / 2]).is_err());
        let mut raw: Value = serde_json::from_slice(&bytes).unwrap();
        raw["vulnerabilities"].as_array_mut().unwrap().pop();
        let err = parse_catalog(&serde_json::to_vec(&raw).unwrap()).unwrap_err();
        assert!(err.to_string().contains("count"), "{err}");
        assert!(parse_catalog(br#"{"vulnerabilities":[{"cveID":" "}]}"#).is_err());
    }
}
