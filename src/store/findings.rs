//! Match state: the component and advisory indexes the matcher maintains, the queues it
//! drains, and hit records, one per (release, component, advisory record). Hits are never
//! deleted: a hit that stops applying is kept as `retracted` with the reason and time.

use super::{key, Result, Store, StoreError, T};
use crate::advisory::Source;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HitStatus {
    Active,
    Retracted,
}

/// One advisory record matching one component of one release, with the evidence and the data
/// versions it was computed from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HitRecord {
    pub product: String,
    pub release: String,
    /// SHA-256 of the release's SBOM revision that was matched.
    pub release_sha256: String,
    pub component_index: usize,
    pub component_name: String,
    pub component_version: Option<String>,
    pub purl: Option<String>,
    pub cpe: Option<String>,
    pub bom_ref: Option<String>,
    pub advisory_id: String,
    pub source: Source,
    /// The advisory's `modified` when this was last evaluated.
    pub advisory_modified: DateTime<Utc>,
    /// The range/event or CPE entry that decided (see `matching::engine::Evidence`).
    pub evidence: serde_json::Value,
    pub status: HitStatus,
    pub first_seen: DateTime<Utc>,
    pub last_evaluated: DateTime<Utc>,
    pub retracted_at: Option<DateTime<Utc>>,
    pub retraction_reason: Option<String>,
}

impl HitRecord {
    pub fn store_key(&self) -> Vec<u8> {
        key(&[
            &self.product,
            &self.release,
            &format!("{:06}", self.component_index),
            &self.advisory_id,
            self.source.as_str(),
        ])
    }
    fn advisory_key(&self) -> Vec<u8> {
        key(&[
            &self.advisory_id,
            self.source.as_str(),
            &self.product,
            &self.release,
            &format!("{:06}", self.component_index),
        ])
    }
}

fn prefix(parts: &[&str]) -> Vec<u8> {
    let mut k = key(parts);
    k.push(0);
    k
}

impl Store {
    /// Releases stored but not yet matched.
    pub fn pending_releases(&self) -> Result<Vec<(String, String)>> {
        self.tree(T::ReleaseQueue)
            .iter()
            .keys()
            .map(|k| {
                let k = k?;
                let mut parts = k
                    .split(|b| *b == 0)
                    .map(|p| String::from_utf8_lossy(p).into_owned());
                match (parts.next(), parts.next()) {
                    (Some(p), Some(r)) => Ok((p, r)),
                    _ => Err(StoreError::Corrupt {
                        tree: "release_queue",
                        key: String::from_utf8_lossy(&k).into_owned(),
                        detail: "not product\\0release".into(),
                    }),
                }
            })
            .collect()
    }

    /// Replaces a release's index entries and acknowledges it as indexed, atomically.
    pub fn index_release(&self, product: &str, release: &str, keys: &[Vec<u8>]) -> Result<()> {
        let rkey = key(&[product, release]);
        self.transact(|tx| {
            let old: Option<Vec<Vec<u8>>> = tx.get_json(T::ReleaseKeys, &rkey)?;
            for k in old.unwrap_or_default() {
                tx.remove(T::CompIndex, &k)?;
            }
            for k in keys {
                tx.put_raw(T::CompIndex, k, b"")?;
            }
            tx.put_json(T::ReleaseKeys, &rkey, &keys)
        })
    }

    /// Marks a release as matched. Call after its hits are committed.
    pub fn ack_release(&self, product: &str, release: &str) -> Result<()> {
        self.tree(T::ReleaseQueue)
            .remove(key(&[product, release]))?;
        self.flush()
    }

    /// Component instances under an index prefix: (product, release, component index).
    pub fn component_instances(
        &self,
        index_prefix: &[&str],
    ) -> Result<Vec<(String, String, usize)>> {
        let pre = prefix(index_prefix);
        let mut out = Vec::new();
        for k in self.tree(T::CompIndex).scan_prefix(&pre).keys() {
            let k = k?;
            let rest = &k[pre.len()..];
            let parts: Vec<String> = rest
                .split(|b| *b == 0)
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect();
            if let [p, r, i] = parts.as_slice() {
                if let Ok(i) = i.parse() {
                    out.push((p.clone(), r.clone(), i));
                }
            }
        }
        Ok(out)
    }

    /// Records which packages / CPE products an advisory record names.
    pub fn index_advisory(&self, keys: &[Vec<u8>]) -> Result<()> {
        let mut batch = sled::Batch::default();
        for k in keys {
            batch.insert(k.as_slice(), &[][..]);
        }
        self.tree(T::AdvIndex).apply_batch(batch)?;
        Ok(())
    }

    /// Advisory records (id, source) indexed under a package or CPE product prefix.
    pub fn advisories_under(&self, index_prefix: &[&str]) -> Result<Vec<(String, Source)>> {
        let pre = prefix(index_prefix);
        let mut out = Vec::new();
        for k in self.tree(T::AdvIndex).scan_prefix(&pre).keys() {
            let k = k?;
            let rest = &k[pre.len()..];
            let mut parts = rest
                .split(|b| *b == 0)
                .map(|p| String::from_utf8_lossy(p).into_owned());
            if let (Some(id), Some(src)) = (parts.next(), parts.next()) {
                let source = match src.as_str() {
                    "osv" => Source::Osv,
                    "rustsec" => Source::Rustsec,
                    "nvd" => Source::Nvd,
                    _ => continue,
                };
                out.push((id, source));
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    pub fn get_hit(&self, store_key: &[u8]) -> Result<Option<HitRecord>> {
        self.get_json(T::Hits, store_key)
    }

    pub fn hits_of_release(&self, product: &str, release: &str) -> Result<Vec<HitRecord>> {
        self.scan_json(T::Hits, &prefix(&[product, release]))
    }

    /// Every hit (any status) of an advisory record, across releases.
    pub fn hits_of_advisory(&self, id: &str, source: Source) -> Result<Vec<HitRecord>> {
        let pre = prefix(&[id, source.as_str()]);
        let mut out = Vec::new();
        for k in self.tree(T::HitsByAdvisory).scan_prefix(&pre).keys() {
            let k = k?;
            let rest = &k[pre.len()..];
            let parts: Vec<String> = rest
                .split(|b| *b == 0)
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect();
            if let [p, r, i] = parts.as_slice() {
                let hk = key(&[p, r, i, id, source.as_str()]);
                if let Some(h) = self.get_json::<HitRecord>(T::Hits, &hk)? {
                    out.push(h);
                }
            }
        }
        Ok(out)
    }

    /// Writes new and changed hit records, and the events they cause, in one transaction per
    /// chunk (the events go with the last chunk): the matcher's commit point.
    pub fn put_hits(
        &self,
        hits: &[HitRecord],
        events: &[super::EventRecord],
        triage: &[(String, String)],
    ) -> Result<()> {
        if hits.is_empty() && events.is_empty() && triage.is_empty() {
            return Ok(());
        }
        let chunks: Vec<&[HitRecord]> = if hits.is_empty() {
            vec![&[]]
        } else {
            hits.chunks(500).collect()
        };
        let last = chunks.len() - 1;
        for (i, chunk) in chunks.into_iter().enumerate() {
            self.transact(|tx| {
                for h in chunk {
                    tx.put_json(T::Hits, &h.store_key(), h)?;
                    tx.put_raw(T::HitsByAdvisory, &h.advisory_key(), b"")?;
                }
                if i == last {
                    for e in events {
                        super::outbox::enqueue(tx, e.clone())?;
                    }
                    for (p, g) in triage {
                        super::records::enqueue_triage_tx(tx, p, g)?;
                    }
                }
                Ok(())
            })?;
        }
        Ok(())
    }
}
