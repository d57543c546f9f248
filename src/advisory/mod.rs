//! The normalised advisory model: one shape for OSV, RustSec and NVD records, so matching and
//! triage never care which feed a fact came from. Parsers for each upstream format live in the
//! submodules; they are pure (bytes in, records out) so they can be tested on the real corpus.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Which feed family a record came from; decides which matcher evaluates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Osv,
    Rustsec,
    Nvd,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Osv => "osv",
            Source::Rustsec => "rustsec",
            Source::Nvd => "nvd",
        }
    }
}

/// One advisory record as a feed published it, normalised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Advisory {
    /// The record's own id (`GHSA-...`, `PYSEC-...`, `RUSTSEC-...`, `CVE-...`).
    pub id: String,
    pub source: Source,
    /// Other ids for the same flaw; the alias grouping is built from these.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// OSV `related`: similar but distinct flaws; never grouped.
    #[serde(default)]
    pub related: Vec<String>,
    pub summary: Option<String>,
    pub details: Option<String>,
    pub published: Option<DateTime<Utc>>,
    /// Upserts keep the newest `modified`; an equal `modified` is not a change.
    pub modified: DateTime<Utc>,
    /// A withdrawn record raises no finding and retracts the ones it raised.
    pub withdrawn: Option<DateTime<Utc>>,
    #[serde(default)]
    pub severity: Vec<Severity>,
    /// Package-based applicability (OSV, RustSec).
    #[serde(default)]
    pub affected: Vec<Affected>,
    /// CPE-based applicability (NVD): the record's `configurations`.
    #[serde(default)]
    pub configurations: Vec<CpeConfiguration>,
    #[serde(default)]
    pub references: Vec<Reference>,
}

/// A severity statement: the CVSS vector as published plus its base score where computable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Severity {
    /// `CVSS_V2`, `CVSS_V3` (3.0 and 3.1), `CVSS_V4`, or an OSV/NVD qualitative type such as `Ubuntu`.
    pub kind: String,
    /// The vector string, or the qualitative value for non-CVSS kinds.
    pub vector: String,
    pub base_score: Option<f64>,
    /// Who scored it (NVD `source`, e.g. `nvd@nist.gov`), when known.
    pub source: Option<String>,
}

/// OSV `affected[]`: one package and the versions of it the flaw is in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Affected {
    /// OSV ecosystem string exactly as published, e.g. `PyPI`, `Debian:12`, `crates.io`.
    pub ecosystem: String,
    pub name: String,
    pub purl: Option<String>,
    #[serde(default)]
    pub ranges: Vec<Range>,
    /// Explicitly enumerated affected versions.
    #[serde(default)]
    pub versions: Vec<String>,
    pub ecosystem_specific: Option<serde_json::Value>,
    pub database_specific: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RangeKind {
    Semver,
    Ecosystem,
    /// Commit ranges: only applicable to components that carry a commit hash.
    Git,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Range {
    pub kind: RangeKind,
    /// GIT ranges only: the repository the commits belong to.
    pub repo: Option<String>,
    /// In the order published; evaluation follows the OSV schema's algorithm.
    pub events: Vec<Event>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    Introduced(String),
    Fixed(String),
    LastAffected(String),
    Limit(String),
}

/// NVD boolean operator of a configuration or node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Operator {
    #[default]
    Or,
    And,
}

/// NVD `configurations[]`: nodes combined by `operator` (absent = OR).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CpeConfiguration {
    pub operator: Operator,
    pub negate: bool,
    pub nodes: Vec<CpeNode>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CpeNode {
    pub operator: Operator,
    pub negate: bool,
    pub cpe_match: Vec<CpeMatch>,
}

/// NVD `cpeMatch`: a CPE 2.3 criteria string plus optional version bounds.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CpeMatch {
    /// False for "running on/with" platform entries: they constrain but never raise a finding.
    pub vulnerable: bool,
    pub criteria: String,
    pub match_criteria_id: Option<String>,
    pub version_start_including: Option<String>,
    pub version_start_excluding: Option<String>,
    pub version_end_including: Option<String>,
    pub version_end_excluding: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    /// OSV reference type (`ADVISORY`, `FIX`, ...) or NVD tags joined.
    pub kind: Option<String>,
    pub url: String,
}

/// CISA KEV catalogue entry: exploitation is known in the wild.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KevEntry {
    pub cve_id: String,
    pub vendor_project: Option<String>,
    pub product: Option<String>,
    pub vulnerability_name: Option<String>,
    pub date_added: Option<String>,
    pub due_date: Option<String>,
    pub required_action: Option<String>,
    pub known_ransomware_campaign_use: Option<String>,
}

/// FIRST EPSS score of one CVE on one day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpssScore {
    pub cve_id: String,
    /// Probability of exploitation activity in the next 30 days, 0..1.
    pub epss: f64,
    /// Only present in the newer file layouts.
    pub percentile: Option<f64>,
    /// The score date from the file's header comment or name.
    pub score_date: Option<String>,
    pub model_version: Option<String>,
}

pub mod epss;
pub mod kev;
pub mod nvd;
pub mod osv;
pub mod rustsec;
