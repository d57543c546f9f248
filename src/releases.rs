//! The release use case: turn an uploaded SBOM into an immutable release record. The HTTP API
//! and the CLI both call [`ingest_release`], so the idempotency and supersede rules live here.

use crate::ingest::{self, IngestError, IngestOptions};
use crate::model::{ProductName, ReleaseName};
use crate::store::{NewRelease, PutOutcome, ReleaseRecord, Store, StoreError};
use chrono::Utc;
use sha2::{Digest, Sha256};

pub struct Upload<'a> {
    pub product: ProductName,
    pub release: ReleaseName,
    pub bytes: &'a [u8],
    pub content_type: Option<&'a str>,
    /// Token name of the caller, recorded on the release and in the audit trail.
    pub uploader: &'a str,
    /// An admin's reason to replace an existing, different SBOM of this release.
    pub supersede_reason: Option<&'a str>,
}

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Parses, validates and stores one SBOM. A refused document stores nothing.
pub fn ingest_release(
    store: &Store,
    opts: &IngestOptions,
    up: &Upload<'_>,
) -> Result<PutOutcome, UploadError> {
    let sha256 = hex::encode(Sha256::digest(up.bytes));
    // Identical bytes already stored for this release: answer without re-parsing.
    if let Some(existing) = store.release(&up.product, &up.release)? {
        if existing.sha256 == sha256 {
            return Ok(PutOutcome::Unchanged(existing));
        }
        if up.supersede_reason.is_none() {
            return Ok(PutOutcome::Conflict(existing));
        }
    }
    let parsed = ingest::parse(up.bytes, up.content_type, opts)?;
    let record = ReleaseRecord {
        product: up.product.clone(),
        release: up.release.clone(),
        revision: 1,
        format: parsed.format,
        spec_version: parsed.spec_version.clone(),
        sha256,
        size: up.bytes.len() as u64,
        uploaded_at: Utc::now(),
        uploaded_by: up.uploader.to_string(),
        component_count: parsed.components.len(),
        subject: parsed.subject.clone(),
        ntia: parsed.ntia.clone(),
        warnings: parsed.warnings.clone(),
        supersedes: None,
    };
    Ok(store.put_release(&NewRelease {
        record,
        bytes: up.bytes,
        components: &parsed.components,
        supersede_reason: up.supersede_reason,
    })?)
}
