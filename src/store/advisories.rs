//! Advisories, alias groups, feed status and exploit enrichment (KEV, EPSS).

use serde::{Deserialize, Serialize};

/// Placeholder filled by the feeds work: the result of upserting one batch.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AdvisoryUpsert {
    pub new: Vec<String>,
    pub changed: Vec<String>,
    pub withdrawn: Vec<String>,
}

/// Per-feed state kept between runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FeedRecord {
    pub name: String,
}
