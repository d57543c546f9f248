//! Device records and SOUP records: what the manufacturer knows about each product and about
//! each third-party item in it, which the triage rules need. Loaded from `config/products/*.toml`
//! and `config/soup/*.toml` at start-up and managed through the API; every change is a new
//! revision with an audit entry, and decisions name the revision they used.

use crate::triage::input::{Device, Reach, SoupRecord as SoupRisk};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A product's device record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceRecord {
    pub product: String,
    /// Trade name shown in alerts and reports.
    pub name: Option<String>,
    /// 510(k) / De Novo / PMA number.
    pub us_submission: Option<String>,
    /// Notified body number (EU).
    pub notified_body_id: Option<String>,
    /// Devices in the field; informs FSCA scope.
    pub installed_base: Option<u64>,
    /// What the triage rules read (markets, pathway, class, PCCP, ...; see docs/rules.md).
    #[serde(default)]
    pub triage: Device,
    #[serde(default)]
    pub revision: u32,
    pub updated_at: Option<DateTime<Utc>>,
    pub updated_by: Option<String>,
}

/// An ISO 14971 hazard linked to a SOUP item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hazard {
    pub id: String,
    pub description: String,
    pub severity: crate::triage::input::Harm,
}

/// One entry of the SOUP register (IEC 62304 7.1, 8.1.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SoupRecord {
    /// Unique within the product.
    pub id: String,
    pub title: String,
    pub manufacturer: Option<String>,
    /// The software item of the device that contains it.
    pub software_item: Option<String>,
    /// Which components this record covers: a purl pattern where `*` matches any run of
    /// characters (e.g. `pkg:maven/com.google.guava/guava@*`). Qualifiers are ignored.
    pub purl: String,
    /// Safety class, harm, exposure, authentication, clinical function, controls.
    #[serde(default)]
    pub triage: SoupRisk,
    #[serde(default)]
    pub hazards: Vec<Hazard>,
    #[serde(default)]
    pub risk_controls: Vec<String>,
    /// How the item is used; reachability notes.
    pub usage: Option<String>,
    pub reach: Option<Reach>,
    /// CycloneDX/OpenVEX justification when the vulnerable code is not reachable.
    pub vex_justification: Option<String>,
    pub support_level: Option<String>,
    pub end_of_support: Option<NaiveDate>,
    #[serde(default)]
    pub revision: u32,
    pub updated_at: Option<DateTime<Utc>>,
    pub updated_by: Option<String>,
}

impl SoupRecord {
    /// Does this record cover the component with this purl?
    pub fn covers(&self, purl: &str) -> bool {
        let strip = |s: &str| s.split(['?', '#']).next().unwrap_or(s).to_string();
        glob(&strip(&self.purl), &strip(purl))
    }
}

/// `*` matches any run of characters; everything else literally (case-sensitive).
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(pos) => rest = &rest[pos + part.len()..],
                None => return false,
            }
        }
    }
    true
}

/// `config/soup/<product>.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SoupFile {
    product: String,
    #[serde(default)]
    item: Vec<SoupRecord>,
}

#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct RecordFileError {
    pub path: String,
    pub message: String,
}

fn toml_files(dir: &Path) -> Result<Vec<(String, String)>, RecordFileError> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let err = |p: &Path, m: String| RecordFileError {
        path: p.display().to_string(),
        message: m,
    };
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| err(dir, e.to_string()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).map_err(|e| err(&p, e.to_string()))?;
            Ok((p.display().to_string(), text))
        })
        .collect()
}

/// Reads `dir/*.toml` device records.
pub fn load_devices(dir: &Path) -> Result<Vec<DeviceRecord>, RecordFileError> {
    toml_files(dir)?
        .into_iter()
        .map(|(path, text)| {
            let rec: DeviceRecord = toml::from_str(&text).map_err(|e| RecordFileError {
                path: path.clone(),
                message: e.to_string().trim().replace('\n', " "),
            })?;
            crate::model::ProductName::parse(&rec.product)
                .map_err(|e| RecordFileError { path, message: e.0 })?;
            Ok(rec)
        })
        .collect()
}

/// Reads `dir/*.toml` SOUP registers: (product, records).
pub fn load_soup(dir: &Path) -> Result<Vec<(String, Vec<SoupRecord>)>, RecordFileError> {
    toml_files(dir)?
        .into_iter()
        .map(|(path, text)| {
            let f: SoupFile = toml::from_str(&text).map_err(|e| RecordFileError {
                path: path.clone(),
                message: e.to_string().trim().replace('\n', " "),
            })?;
            let mut ids: Vec<&str> = f.item.iter().map(|i| i.id.as_str()).collect();
            ids.sort();
            if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
                return Err(RecordFileError {
                    path,
                    message: format!("two SOUP items have the id {:?}", w[0]),
                });
            }
            Ok((f.product, f.item))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purl_patterns() {
        let r = |p: &str| SoupRecord {
            id: "x".into(),
            title: "x".into(),
            manufacturer: None,
            software_item: None,
            purl: p.into(),
            triage: SoupRisk::default(),
            hazards: vec![],
            risk_controls: vec![],
            usage: None,
            reach: None,
            vex_justification: None,
            support_level: None,
            end_of_support: None,
            revision: 0,
            updated_at: None,
            updated_by: None,
        };
        assert!(r("pkg:maven/com.google.guava/guava@*")
            .covers("pkg:maven/com.google.guava/guava@24.1.1-jre?type=jar"));
        assert!(!r("pkg:maven/com.google.guava/guava@*")
            .covers("pkg:maven/com.google.guava/guava-testlib@24.1"));
        assert!(r("pkg:maven/com.fasterxml.jackson.core/*")
            .covers("pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.9.10"));
        assert!(r("pkg:pypi/requests@2.31.0").covers("pkg:pypi/requests@2.31.0"));
        assert!(!r("pkg:pypi/requests@2.31.0").covers("pkg:pypi/requests@2.31.1"));
    }

    #[test]
    fn shipped_examples_load() {
        let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        let devices = load_devices(&base.join("products")).unwrap();
        assert!(!devices.is_empty());
        let soup = load_soup(&base.join("soup")).unwrap();
        assert!(soup.iter().any(|(_, items)| !items.is_empty()));
    }
}
