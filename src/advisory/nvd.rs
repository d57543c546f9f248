//! NVD CVE API 2.0 documents parsed into the normalised [`Advisory`]: response pages and the
//! yearly 2.0 feed files (both `{resultsPerPage, startIndex, totalResults, vulnerabilities[]}`),
//! plain or gzip-compressed, and single `{"cve": {...}}` items or bare `cve` objects.
//!
//! Choices worth knowing:
//! - `modified` is NVD's `lastModified`; NVD timestamps carry no zone and are UTC.
//! - A CVE with `vulnStatus: Rejected` is kept as an advisory with `withdrawn = lastModified`,
//!   so a rejection retracts earlier findings through the normal upsert path; its id is also
//!   listed in [`NvdPage::rejected`].
//! - `summary` stays empty (NVD has no title); the English description is `details`.
//! - Severity: every `cvssMetricV2/V30/V31/V40` entry, with NVD's own `baseScore` (falling back to
//!   computing it from the vector) and the scoring `source`. Non-CVSS metrics (SSVC) are skipped.
//! - `configurations` are carried exactly: operator (absent = OR), negate, vulnerable and the
//!   four version bounds of every `cpeMatch`.
//! - NVD `affected` (CVE 5 data), weaknesses and the CISA KEV columns have no place in the model
//!   and are dropped; KEV comes from its own feed.

use serde::Deserialize;

use super::osv::{cvss_base_score, parse_timestamp, ParseError};
use super::{Advisory, CpeConfiguration, CpeMatch, CpeNode, Operator, Reference, Severity, Source};
use crate::feeds::archive::{gunzip_capped, is_gzip};

/// Largest inflated NVD document accepted; the biggest yearly 2.0 feed inflates to well under
/// 1 GB.
pub const MAX_INFLATED_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// One CVE API 2.0 response page, or one yearly feed file (a single page of everything).
#[derive(Debug, Clone, PartialEq)]
pub struct NvdPage {
    pub results_per_page: u64,
    pub start_index: u64,
    pub total_results: u64,
    pub timestamp: Option<String>,
    /// Every CVE of the page, in page order, rejected ones included (as withdrawn).
    pub advisories: Vec<Advisory>,
    /// Ids of the page's CVEs whose `vulnStatus` is `Rejected`.
    pub rejected: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPage {
    results_per_page: u64,
    start_index: u64,
    total_results: u64,
    timestamp: Option<String>,
    vulnerabilities: Vec<RawItem>,
}

#[derive(Deserialize)]
struct RawItem {
    cve: RawCve,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCve {
    id: String,
    published: Option<String>,
    last_modified: String,
    vuln_status: Option<String>,
    #[serde(default)]
    descriptions: Vec<RawDescription>,
    #[serde(default)]
    metrics: std::collections::BTreeMap<String, Vec<RawMetric>>,
    #[serde(default)]
    configurations: Vec<RawConfiguration>,
    #[serde(default)]
    references: Vec<RawReference>,
}

#[derive(Deserialize)]
struct RawDescription {
    lang: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMetric {
    source: Option<String>,
    cvss_data: Option<RawCvssData>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCvssData {
    vector_string: String,
    base_score: Option<f64>,
}

#[derive(Deserialize)]
struct RawConfiguration {
    operator: Option<String>,
    #[serde(default)]
    negate: bool,
    #[serde(default)]
    nodes: Vec<RawNode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawNode {
    operator: Option<String>,
    #[serde(default)]
    negate: bool,
    #[serde(default)]
    cpe_match: Vec<RawCpeMatch>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCpeMatch {
    vulnerable: bool,
    criteria: String,
    match_criteria_id: Option<String>,
    version_start_including: Option<String>,
    version_start_excluding: Option<String>,
    version_end_including: Option<String>,
    version_end_excluding: Option<String>,
}

#[derive(Deserialize)]
struct RawReference {
    url: String,
    #[serde(default)]
    tags: Vec<String>,
}

/// Parses a CVE API 2.0 response page or yearly feed file, `.json` or `.json.gz`.
pub fn parse_page(bytes: &[u8]) -> Result<NvdPage, ParseError> {
    let bytes = inflate(bytes)?;
    let raw: RawPage = serde_json::from_slice(&bytes).map_err(|source| ParseError::Json {
        what: "NVD CVE page".into(),
        source,
    })?;
    let mut advisories = Vec::with_capacity(raw.vulnerabilities.len());
    let mut rejected = Vec::new();
    for item in raw.vulnerabilities {
        let (advisory, is_rejected) = convert(item.cve)?;
        if is_rejected {
            rejected.push(advisory.id.clone());
        }
        advisories.push(advisory);
    }
    Ok(NvdPage {
        results_per_page: raw.results_per_page,
        start_index: raw.start_index,
        total_results: raw.total_results,
        timestamp: raw.timestamp,
        advisories,
        rejected,
    })
}

/// Parses one CVE: a `vulnerabilities[]` item `{"cve": {...}}` or a bare `cve` object.
pub fn parse_item(bytes: &[u8]) -> Result<Advisory, ParseError> {
    let bytes = inflate(bytes)?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|source| ParseError::Json {
            what: "NVD CVE item".into(),
            source,
        })?;
    let cve = match value {
        serde_json::Value::Object(mut map) if map.contains_key("cve") => {
            map.remove("cve").unwrap_or_default()
        }
        other => other,
    };
    let raw: RawCve = serde_json::from_value(cve).map_err(|source| ParseError::Json {
        what: "NVD CVE item".into(),
        source,
    })?;
    convert(raw).map(|(advisory, _)| advisory)
}

fn inflate(bytes: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>, ParseError> {
    if is_gzip(bytes) {
        Ok(gunzip_capped(bytes, MAX_INFLATED_BYTES)?.into())
    } else {
        Ok(bytes.into())
    }
}

fn convert(cve: RawCve) -> Result<(Advisory, bool), ParseError> {
    let id = cve.id;
    let time = |path: &str, value: &str| {
        parse_timestamp(value).ok_or_else(|| {
            ParseError::invalid(&id, path, format!("not an NVD timestamp: {value:?}"))
        })
    };
    let modified = time("lastModified", &cve.last_modified)?;
    let published = cve
        .published
        .as_deref()
        .map(|p| time("published", p))
        .transpose()?;
    let rejected = cve.vuln_status.as_deref() == Some("Rejected");

    let mut severity = Vec::new();
    for (key, metrics) in &cve.metrics {
        let kind = match key.as_str() {
            "cvssMetricV2" => "CVSS_V2",
            "cvssMetricV30" | "cvssMetricV31" => "CVSS_V3",
            "cvssMetricV40" => "CVSS_V4",
            _ => continue,
        };
        for m in metrics {
            let Some(data) = &m.cvss_data else { continue };
            severity.push(Severity {
                kind: kind.to_owned(),
                vector: data.vector_string.clone(),
                base_score: data
                    .base_score
                    .or_else(|| cvss_base_score(&data.vector_string)),
                source: m.source.clone(),
            });
        }
    }

    let mut configurations = Vec::with_capacity(cve.configurations.len());
    for (i, c) in cve.configurations.into_iter().enumerate() {
        let operator = operator_of(&id, &format!("configurations[{i}].operator"), c.operator)?;
        let mut nodes = Vec::with_capacity(c.nodes.len());
        for (j, n) in c.nodes.into_iter().enumerate() {
            let path = format!("configurations[{i}].nodes[{j}].operator");
            nodes.push(CpeNode {
                operator: operator_of(&id, &path, n.operator)?,
                negate: n.negate,
                cpe_match: n.cpe_match.into_iter().map(cpe_match).collect(),
            });
        }
        configurations.push(CpeConfiguration {
            operator,
            negate: c.negate,
            nodes,
        });
    }

    let details = cve
        .descriptions
        .iter()
        .find(|d| d.lang == "en")
        .or_else(|| cve.descriptions.first())
        .map(|d| d.value.clone());
    let references = cve
        .references
        .into_iter()
        .map(|r| Reference {
            kind: (!r.tags.is_empty()).then(|| r.tags.join(", ")),
            url: r.url,
        })
        .collect();

    Ok((
        Advisory {
            id,
            source: Source::Nvd,
            aliases: Vec::new(),
            related: Vec::new(),
            summary: None,
            details,
            published,
            modified,
            withdrawn: rejected.then_some(modified),
            severity,
            affected: Vec::new(),
            configurations,
            references,
        },
        rejected,
    ))
}

fn operator_of(id: &str, path: &str, value: Option<String>) -> Result<Operator, ParseError> {
    match value.as_deref() {
        None | Some("OR") => Ok(Operator::Or),
        Some("AND") => Ok(Operator::And),
        Some(other) => Err(ParseError::invalid(
            id,
            path,
            format!("unknown operator {other:?}"),
        )),
    }
}

fn cpe_match(m: RawCpeMatch) -> CpeMatch {
    CpeMatch {
        vulnerable: m.vulnerable,
        criteria: m.criteria,
        match_criteria_id: m.match_criteria_id,
        version_start_including: m.version_start_including,
        version_start_excluding: m.version_start_excluding,
        version_end_including: m.version_end_including,
        version_end_excluding: m.version_end_excluding,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::path::{Path, PathBuf};

    fn corpus() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus")
    }

    fn raw_cves(v: &Value) -> Vec<Value> {
        v["vulnerabilities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["cve"].clone())
            .collect()
    }

    /// Configuration, node and match structure equals the raw JSON, field by field.
    fn assert_same_configurations(adv: &Advisory, raw: &Value) {
        let raw_cfgs = raw["configurations"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(adv.configurations.len(), raw_cfgs.len(), "{}", adv.id);
        for (c, rc) in adv.configurations.iter().zip(&raw_cfgs) {
            let op = |v: &Value| match v.as_str() {
                None | Some("OR") => Operator::Or,
                Some("AND") => Operator::And,
                Some(o) => panic!("{o}"),
            };
            assert_eq!(c.operator, op(&rc["operator"]));
            assert_eq!(c.negate, rc["negate"].as_bool().unwrap_or(false));
            let rnodes = rc["nodes"].as_array().unwrap();
            assert_eq!(c.nodes.len(), rnodes.len(), "{}", adv.id);
            for (n, rn) in c.nodes.iter().zip(rnodes) {
                assert_eq!(n.operator, op(&rn["operator"]));
                assert_eq!(n.negate, rn["negate"].as_bool().unwrap_or(false));
                let rms = rn["cpeMatch"].as_array().unwrap();
                assert_eq!(n.cpe_match.len(), rms.len(), "{}", adv.id);
                for (m, rm) in n.cpe_match.iter().zip(rms) {
                    assert_eq!(m.vulnerable, rm["vulnerable"].as_bool().unwrap());
                    assert_eq!(m.criteria, rm["criteria"].as_str().unwrap());
                    assert_eq!(
                        m.match_criteria_id.as_deref(),
                        rm["matchCriteriaId"].as_str()
                    );
                    assert_eq!(
                        m.version_start_including.as_deref(),
                        rm["versionStartIncluding"].as_str()
                    );
                    assert_eq!(
                        m.version_start_excluding.as_deref(),
                        rm["versionStartExcluding"].as_str()
                    );
                    assert_eq!(
                        m.version_end_including.as_deref(),
                        rm["versionEndIncluding"].as_str()
                    );
                    assert_eq!(
                        m.version_end_excluding.as_deref(),
                        rm["versionEndExcluding"].as_str()
                    );
                }
            }
        }
    }

    fn count_nodes_and_matches(cves: &[Value]) -> (usize, usize) {
        let mut nodes = 0;
        let mut matches = 0;
        for c in cves {
            for cfg in c["configurations"].as_array().into_iter().flatten() {
                for n in cfg["nodes"].as_array().unwrap() {
                    nodes += 1;
                    matches += n["cpeMatch"].as_array().unwrap().len();
                }
            }
        }
        (nodes, matches)
    }

    #[test]
    fn records_page_parses_with_raw_counts() {
        let bytes = std::fs::read(corpus().join("nvd/nvdcve-2.0-records.json")).unwrap();
        let page = parse_page(&bytes).unwrap();
        let raw: Value = serde_json::from_slice(&bytes).unwrap();
        let cves = raw_cves(&raw);
        assert_eq!(page.advisories.len(), cves.len());
        assert_eq!(page.advisories.len(), 55);
        assert_eq!(page.total_results, raw["totalResults"].as_u64().unwrap());
        assert_eq!(page.timestamp.as_deref(), raw["timestamp"].as_str());

        let (nodes, matches) = count_nodes_and_matches(&cves);
        let our_nodes: usize = page
            .advisories
            .iter()
            .flat_map(|a| &a.configurations)
            .map(|c| c.nodes.len())
            .sum();
        let our_matches: usize = page
            .advisories
            .iter()
            .flat_map(|a| &a.configurations)
            .flat_map(|c| &c.nodes)
            .map(|n| n.cpe_match.len())
            .sum();
        assert_eq!((our_nodes, our_matches), (nodes, matches));
        assert!(matches > 100);

        for (adv, c) in page.advisories.iter().zip(&cves) {
            assert_eq!(adv.id, c["id"].as_str().unwrap());
            assert_eq!(adv.source, Source::Nvd);
            assert_same_configurations(adv, c);
            let lm = c["lastModified"].as_str().unwrap();
            assert_eq!(
                adv.modified.format("%Y-%m-%dT%H:%M:%S%.3f").to_string(),
                lm.trim_end_matches('Z')
            );
            // Severity: one entry per CVSS metric, with NVD's score and source.
            let mut want = Vec::new();
            for (k, ms) in c["metrics"].as_object().unwrap() {
                if !k.starts_with("cvssMetricV") {
                    continue;
                }
                for m in ms.as_array().unwrap() {
                    want.push((
                        m["cvssData"]["vectorString"].as_str().unwrap().to_owned(),
                        m["cvssData"]["baseScore"].as_f64(),
                        m["source"].as_str().map(str::to_owned),
                    ));
                }
            }
            let mut got: Vec<_> = adv
                .severity
                .iter()
                .map(|s| (s.vector.clone(), s.base_score, s.source.clone()))
                .collect();
            want.sort_by(|a, b| a.0.cmp(&b.0).then(a.2.cmp(&b.2)));
            got.sort_by(|a, b| a.0.cmp(&b.0).then(a.2.cmp(&b.2)));
            assert_eq!(got, want, "{}", adv.id);
            assert_eq!(
                adv.references.len(),
                c["references"].as_array().unwrap().len()
            );
            let en = c["descriptions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["lang"] == "en")
                .map(|d| d["value"].as_str().unwrap());
            assert_eq!(adv.details.as_deref(), en);
            assert_eq!(adv.withdrawn.is_some(), c["vulnStatus"] == "Rejected");
        }
    }

    #[test]
    fn our_cvss_scores_agree_with_nvd_published_scores() {
        // NVD publishes baseScore next to each vector: the independent check of our scoring,
        // including the hand-written v2 formula.
        let bytes = std::fs::read(corpus().join("nvd/nvdcve-2.0-records.json")).unwrap();
        let raw: Value = serde_json::from_slice(&bytes).unwrap();
        let mut checked = [0usize; 3];
        for c in raw_cves(&raw) {
            for (k, ms) in c["metrics"].as_object().unwrap() {
                let slot = match k.as_str() {
                    "cvssMetricV2" => 0,
                    "cvssMetricV30" | "cvssMetricV31" => 1,
                    "cvssMetricV40" => 2,
                    _ => continue,
                };
                for m in ms.as_array().unwrap() {
                    let vector = m["cvssData"]["vectorString"].as_str().unwrap();
                    let published = m["cvssData"]["baseScore"].as_f64().unwrap();
                    let ours = cvss_base_score(vector)
                        .unwrap_or_else(|| panic!("{}: no score for {vector}", c["id"]));
                    assert!(
                        (ours - published).abs() < 1e-9,
                        "{}: {vector}: ours {ours}, NVD {published}",
                        c["id"]
                    );
                    checked[slot] += 1;
                }
            }
        }
        assert!(checked.iter().all(|&n| n > 0), "{checked:?}");
    }

    #[test]
    fn every_api_sample_parses() {
        let dir = corpus().join("nvd/cve-api-2.0");
        let mut files = Vec::new();
        for sub in std::fs::read_dir(&dir).unwrap() {
            for f in std::fs::read_dir(sub.unwrap().path()).unwrap() {
                files.push(f.unwrap().path());
            }
        }
        assert!(files.len() >= 40);
        let (mut pages, mut items) = (0, 0);
        for f in files {
            let bytes = std::fs::read(&f).unwrap();
            let raw: Value = serde_json::from_slice(&bytes).unwrap();
            if raw.get("vulnerabilities").is_some() {
                let page = parse_page(&bytes).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
                let cves = raw_cves(&raw);
                assert_eq!(page.advisories.len(), cves.len());
                assert_eq!(page.start_index, raw["startIndex"].as_u64().unwrap());
                assert_eq!(
                    page.results_per_page,
                    raw["resultsPerPage"].as_u64().unwrap()
                );
                for (a, c) in page.advisories.iter().zip(&cves) {
                    assert_same_configurations(a, c);
                }
                pages += 1;
            } else {
                let adv = parse_item(&bytes).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
                let cve = raw.get("cve").unwrap_or(&raw);
                assert_eq!(adv.id, cve["id"].as_str().unwrap());
                assert_same_configurations(&adv, cve);
                items += 1;
            }
        }
        assert!(pages > 10 && items > 5, "{pages} {items}");
    }

    #[test]
    fn gzipped_page_and_rejected_cve() {
        let bytes = std::fs::read(corpus().join("nvd/nvdcve-2.0-records.json")).unwrap();
        let mut raw: Value = serde_json::from_slice(&bytes).unwrap();
        raw["vulnerabilities"][0]["cve"]["vulnStatus"] = "Rejected".into();
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut enc, &serde_json::to_vec(&raw).unwrap()).unwrap();
        let page = parse_page(&enc.finish().unwrap()).unwrap();
        let first = &page.advisories[0];
        assert_eq!(page.rejected, vec![first.id.clone()]);
        assert_eq!(first.withdrawn, Some(first.modified));
        assert_eq!(page.advisories.len(), 55);
    }

    #[test]
    fn malformed_input_is_an_error() {
        assert!(parse_page(b"{}").is_err());
        assert!(parse_page(b"\x1f\x8b\x08garbage").is_err());
        let bad_op = br#"{"resultsPerPage":1,"startIndex":0,"totalResults":1,"vulnerabilities":[{"cve":{"id":"CVE-1","lastModified":"2024-01-01T00:00:00.000","configurations":[{"operator":"XOR","nodes":[]}]}}]}"#;
        let err = parse_page(bad_op).unwrap_err();
        assert!(
            err.to_string()
                .contains("CVE-1: configurations[0].operator"),
            "{err}"
        );
        let bad_time = br#"{"id":"CVE-2","lastModified":"never"}"#;
        assert!(parse_item(bad_time)
            .unwrap_err()
            .to_string()
            .contains("CVE-2: lastModified"));
    }
}
