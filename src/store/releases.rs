//! Releases: the immutable SBOM record of each released device version. The bytes are stored
//! content-addressed by SHA-256 and never rewritten; a supersede keeps the old record in history.

use super::{key, Result, Store, StoreError, T};
use crate::model::{Component, NtiaReport, ProductName, ReleaseName, SbomFormat, ValidationIssue};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The release record returned by the API: everything about the upload except the bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseRecord {
    pub product: ProductName,
    pub release: ReleaseName,
    /// 1 for the first upload, +1 for every supersede.
    pub revision: u32,
    pub format: SbomFormat,
    pub spec_version: String,
    pub sha256: String,
    pub size: u64,
    pub uploaded_at: DateTime<Utc>,
    /// Token name of the uploader (`cli` for local imports).
    pub uploaded_by: String,
    pub component_count: usize,
    pub subject: Vec<Component>,
    pub ntia: NtiaReport,
    /// Validation problems accepted because strict mode was off.
    #[serde(default)]
    pub warnings: Vec<ValidationIssue>,
    /// Set on a record that replaced an earlier revision.
    pub supersedes: Option<Supersede>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Supersede {
    pub previous_sha256: String,
    pub reason: String,
}

/// A short line per release for listings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseSummary {
    pub product: ProductName,
    pub release: ReleaseName,
    pub revision: u32,
    pub sha256: String,
    pub uploaded_at: DateTime<Utc>,
    pub component_count: usize,
}

/// An upload ready to be stored.
pub struct NewRelease<'a> {
    pub record: ReleaseRecord,
    pub bytes: &'a [u8],
    pub components: &'a [Component],
    /// `Some(reason)` when an admin asked to replace an existing, different SBOM.
    pub supersede_reason: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PutOutcome {
    /// First upload of this release.
    Created(ReleaseRecord),
    /// The same bytes were uploaded before: nothing changed.
    Unchanged(ReleaseRecord),
    /// Different bytes for an existing release and no supersede: refused, here is what is stored.
    Conflict(ReleaseRecord),
    /// Different bytes replaced the release; the old record went to history.
    Superseded(ReleaseRecord),
}

impl Store {
    /// Stores a release atomically: bytes, components, record, history and audit entry, or nothing.
    pub fn put_release(&self, new: &NewRelease<'_>) -> Result<PutOutcome> {
        let r = &new.record;
        let rkey = key(&[r.product.as_str(), r.release.as_str()]);
        let components = serde_json::to_vec(new.components)
            .map_err(|e| StoreError::Engine(format!("encoding components: {e}")))?;
        self.transact(|tx| {
            let existing: Option<ReleaseRecord> = tx.get_json(T::Releases, &rkey)?;
            let mut record = r.clone();
            let action = match (&existing, new.supersede_reason) {
                (Some(old), _) if old.sha256 == r.sha256 => {
                    return Ok(PutOutcome::Unchanged(old.clone()))
                }
                (Some(old), None) => return Ok(PutOutcome::Conflict(old.clone())),
                (Some(old), Some(reason)) => {
                    record.revision = old.revision + 1;
                    record.supersedes = Some(Supersede {
                        previous_sha256: old.sha256.clone(),
                        reason: reason.to_string(),
                    });
                    let hkey = key(&[
                        r.product.as_str(),
                        r.release.as_str(),
                        &format!("{:08}", old.revision),
                    ]);
                    tx.put_json(T::ReleaseHistory, &hkey, old)?;
                    "release.supersede"
                }
                (None, _) => {
                    record.revision = 1;
                    record.supersedes = None;
                    "release.create"
                }
            };
            if tx.get_raw(T::Blobs, r.sha256.as_bytes())?.is_none() {
                tx.put_raw(T::Blobs, r.sha256.as_bytes(), new.bytes)?;
                tx.put_raw(T::Components, r.sha256.as_bytes(), &components)?;
            }
            tx.put_json(T::Releases, &rkey, &record)?;
            // Matching picks it up from here, even after a crash right after this commit.
            tx.put_raw(T::ReleaseQueue, &rkey, b"")?;
            super::audit::append(
                tx,
                &record.uploaded_by,
                action,
                &format!("release/{}/{}", r.product, r.release),
                existing
                    .as_ref()
                    .map(|o| serde_json::json!({"sha256": o.sha256, "revision": o.revision})),
                Some(
                    serde_json::json!({"sha256": record.sha256, "revision": record.revision,
                    "format": record.format, "components": record.component_count}),
                ),
                new.supersede_reason,
            )?;
            Ok(if existing.is_some() {
                PutOutcome::Superseded(record)
            } else {
                PutOutcome::Created(record)
            })
        })
    }

    pub fn release(
        &self,
        product: &ProductName,
        release: &ReleaseName,
    ) -> Result<Option<ReleaseRecord>> {
        self.get_json(T::Releases, &key(&[product.as_str(), release.as_str()]))
    }

    /// Superseded revisions of a release, oldest first.
    pub fn release_history(
        &self,
        product: &ProductName,
        release: &ReleaseName,
    ) -> Result<Vec<ReleaseRecord>> {
        let mut prefix = key(&[product.as_str(), release.as_str()]);
        prefix.push(0);
        self.scan_json(T::ReleaseHistory, &prefix)
    }

    pub fn releases_of(&self, product: &ProductName) -> Result<Vec<ReleaseRecord>> {
        let mut prefix = product.as_str().as_bytes().to_vec();
        prefix.push(0);
        self.scan_json(T::Releases, &prefix)
    }

    pub fn all_releases(&self) -> Result<Vec<ReleaseRecord>> {
        self.scan_json(T::Releases, b"")
    }

    /// Distinct product names that have at least one release, sorted.
    pub fn products(&self) -> Result<Vec<ProductName>> {
        let mut out: Vec<ProductName> = Vec::new();
        for kv in self.tree(T::Releases).iter() {
            let (k, _) = kv?;
            let name = k.split(|b| *b == 0).next().unwrap_or_default();
            let name = String::from_utf8_lossy(name);
            if out.last().map(|p| p.as_str()) != Some(name.as_ref()) {
                if let Ok(p) = ProductName::parse(&name) {
                    out.push(p);
                }
            }
        }
        Ok(out)
    }

    /// The normalised components of the document with this SHA-256.
    pub fn components(&self, sha256: &str) -> Result<Option<Vec<Component>>> {
        self.get_json(T::Components, sha256.as_bytes())
    }

    /// The original SBOM bytes, exactly as uploaded.
    pub fn sbom_bytes(&self, sha256: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .tree(T::Blobs)
            .get(sha256.as_bytes())?
            .map(|v| v.to_vec()))
    }
}
