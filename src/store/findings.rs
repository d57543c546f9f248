//! Match state: the component and advisory indexes the matcher maintains, the queues it
//! drains, and hit records, one per (release, component, advisory record). Hits are never
//! deleted: a hit that stops applying is kept as `retracted` with the reason and time.

use super::{decode, key, Result, Store, StoreError, T};
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

/// The index value of one hit: what tells the matcher, without reading the record, whether a
/// fresh evaluation changes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct HitIndexValue {
    status: HitStatus,
    digest: String,
}

/// A stored hit as the matcher compares against it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HitState {
    /// Its key in the hits tree ([`HitRecord::store_key`]).
    pub key: Vec<u8>,
    pub product: String,
    pub release: String,
    pub component_index: usize,
    pub advisory_id: String,
    pub source: Source,
    pub status: HitStatus,
    /// [`HitRecord::digest`] of the stored record.
    pub digest: String,
}

/// The record version an advisory's hits were last re-decided against, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evaluated {
    pub modified: DateTime<Utc>,
    pub at: DateTime<Utc>,
}

/// The key of the hit of (release, component, advisory record) in the hits tree.
pub fn hit_key(product: &str, release: &str, index: usize, id: &str, source: Source) -> Vec<u8> {
    key(&[
        product,
        release,
        &format!("{index:06}"),
        id,
        source.as_str(),
    ])
}

/// Digest of what a hit asserts: the evidence (as canonical JSON) on one SBOM revision.
pub fn hit_digest(evidence: &serde_json::Value, release_sha256: &str) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(serde_json::to_vec(evidence).unwrap_or_default());
    h.update([0]);
    h.update(release_sha256.as_bytes());
    hex::encode(&h.finalize()[..16])
}

impl HitRecord {
    /// See [`hit_digest`].
    pub fn digest(&self) -> String {
        hit_digest(&self.evidence, &self.release_sha256)
    }

    pub fn state(&self) -> HitState {
        HitState {
            key: self.store_key(),
            product: self.product.clone(),
            release: self.release.clone(),
            component_index: self.component_index,
            advisory_id: self.advisory_id.clone(),
            source: self.source,
            status: self.status,
            digest: self.digest(),
        }
    }

    pub fn store_key(&self) -> Vec<u8> {
        hit_key(
            &self.product,
            &self.release,
            self.component_index,
            &self.advisory_id,
            self.source,
        )
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

/// One component of one stored release, as the component index holds it.
#[derive(Debug, Clone)]
pub struct ComponentInstance {
    pub product: String,
    pub release: String,
    /// Position in the release's component list.
    pub index: usize,
    /// The fields matching reads (None in entries indexed by older versions: load the release).
    pub component: Option<crate::model::Component>,
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

    /// Replaces a release's index entries, atomically. Each value is what matching needs of
    /// the component (see [`ComponentInstance`]), so an advisory change is matched from the
    /// index alone, without loading whole releases.
    pub fn index_release(
        &self,
        product: &str,
        release: &str,
        entries: &[(Vec<u8>, Vec<u8>)],
    ) -> Result<()> {
        let rkey = key(&[product, release]);
        let keys: Vec<&Vec<u8>> = entries.iter().map(|(k, _)| k).collect();
        // Atomic but not flushed here: the release stays queued until its hits are committed
        // (and flushed) by `put_hits`, so a crash before that re-indexes it.
        self.transact_unflushed(|tx| {
            let old: Option<Vec<Vec<u8>>> = tx.get_json(T::ReleaseKeys, &rkey)?;
            for k in old.unwrap_or_default() {
                tx.remove(T::CompIndex, &k)?;
            }
            for (k, v) in entries {
                tx.put_raw(T::CompIndex, k, v)?;
            }
            tx.put_json(T::ReleaseKeys, &rkey, &keys)
        })
    }

    /// Queues every stored release for matching once when the component index format
    /// changes (index values and `k` entries arrived in format 2), so old stores are re-indexed
    /// on their first start instead of relying on the matcher's slower fallbacks forever.
    /// Re-matching rewrites nothing that did not change.
    pub(crate) fn upgrade_match_index(&self) -> Result<()> {
        const KEY: &[u8] = b"match_index_format";
        const FORMAT: &[u8] = b"2";
        if self.tree(T::Meta).get(KEY)?.as_deref() == Some(FORMAT) {
            return Ok(());
        }
        let releases: Vec<Vec<u8>> = self
            .all_releases()?
            .iter()
            .map(|r| key(&[r.product.as_str(), r.release.as_str()]))
            .collect();
        self.transact(|tx| {
            for k in &releases {
                tx.put_raw(T::ReleaseQueue, k, b"")?;
            }
            tx.put_raw(T::Meta, KEY, FORMAT)
        })
    }

    /// Marks a release as matched. Call after its hits are committed.
    pub fn ack_release(&self, product: &str, release: &str) -> Result<()> {
        // Not flushed, as `ack_matches`: a lost acknowledgement means the release is matched
        // again, which rewrites nothing.
        self.tree(T::ReleaseQueue)
            .remove(key(&[product, release]))?;
        Ok(())
    }

    /// Component instances under an index prefix (`["p", ecosystem, name]` or
    /// `["c", vendor, product]`).
    pub fn component_instances(&self, index_prefix: &[&str]) -> Result<Vec<ComponentInstance>> {
        self.instances(&prefix(index_prefix), |rest| match rest {
            [p, r, i] => Some((p.clone(), r.clone(), i.parse().ok()?)),
            _ => None,
        })
    }

    /// Every component of a release that carries a CPE (`["k", product, release]`): what an
    /// NVD configuration with "running on" nodes is evaluated against.
    pub fn release_cpe_instances(
        &self,
        product: &str,
        release: &str,
    ) -> Result<Vec<ComponentInstance>> {
        self.instances(&prefix(&["k", product, release]), |rest| match rest {
            [i] => Some((product.to_string(), release.to_string(), i.parse().ok()?)),
            _ => None,
        })
    }

    fn instances(
        &self,
        pre: &[u8],
        parse: impl Fn(&[String]) -> Option<(String, String, usize)>,
    ) -> Result<Vec<ComponentInstance>> {
        let mut out = Vec::new();
        for kv in self.tree(T::CompIndex).scan_prefix(pre) {
            let (k, v) = kv?;
            let rest: Vec<String> = k[pre.len()..]
                .split(|b| *b == 0)
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect();
            let Some((product, release, index)) = parse(&rest) else {
                continue;
            };
            // Entries written before the index carried components have empty values.
            let component = if v.is_empty() {
                None
            } else {
                Some(decode(T::CompIndex, &k, &v)?)
            };
            out.push(ComponentInstance {
                product,
                release,
                index,
                component,
            });
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

    /// The state of every hit of an advisory record, from the by-advisory index alone.
    pub fn hit_states_of_advisory(&self, id: &str, source: Source) -> Result<Vec<HitState>> {
        self.hit_states(id, source, &prefix(&[id, source.as_str()]))
    }

    fn hit_states(&self, id: &str, source: Source, pre: &[u8]) -> Result<Vec<HitState>> {
        let whole = prefix(&[id, source.as_str()]);
        let mut out = Vec::new();
        for kv in self.tree(T::HitsByAdvisory).scan_prefix(pre) {
            let (k, v) = kv?;
            let parts: Vec<String> = k[whole.len()..]
                .split(|b| *b == 0)
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect();
            let [p, r, i] = parts.as_slice() else {
                continue;
            };
            let hk = key(&[p, r, i, id, source.as_str()]);
            // Entries written before the index carried states: read the record itself.
            let value: Option<HitIndexValue> = if v.is_empty() {
                None
            } else {
                serde_json::from_slice(&v).ok()
            };
            let state = match value {
                Some(v) => HitState {
                    key: hk,
                    product: p.clone(),
                    release: r.clone(),
                    component_index: i.parse().unwrap_or(usize::MAX),
                    advisory_id: id.to_string(),
                    source,
                    status: v.status,
                    digest: v.digest,
                },
                None => match self.get_json::<HitRecord>(T::Hits, &hk)? {
                    Some(h) => h.state(),
                    None => continue,
                },
            };
            out.push(state);
        }
        Ok(out)
    }

    /// The record version an advisory's hits were last re-decided against.
    pub fn advisory_evaluated(&self, id: &str, source: Source) -> Result<Option<Evaluated>> {
        self.get_json(T::AdvEvaluated, &key(&[id, source.as_str()]))
    }

    /// Writes new and changed hit records with the events and triage requests they cause, in
    /// one transaction and one flush: the matcher's commit point. One transaction, not chunks,
    /// so that hits never land without their events (a redo would then see the group already
    /// active and never announce it).
    /// `evaluated` records the advisory version an advisory pass re-decided every hit against.
    pub fn put_hits(
        &self,
        hits: &[HitRecord],
        events: &[super::EventRecord],
        triage: &[(String, String)],
        evaluated: Option<(&str, Source, DateTime<Utc>)>,
    ) -> Result<()> {
        if hits.is_empty() && events.is_empty() && triage.is_empty() && evaluated.is_none() {
            return Ok(());
        }
        // A bare evaluation mark need not be durable on its own: the queue acknowledgement
        // that follows flushes it.
        let durable = !(hits.is_empty() && events.is_empty() && triage.is_empty());
        let encode = |e: serde_json::Error| StoreError::Engine(format!("encoding hits: {e}"));
        type Encoded = (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>);
        let encoded: Vec<Encoded> = hits
            .iter()
            .map(|h| {
                let state = HitIndexValue {
                    status: h.status,
                    digest: h.digest(),
                };
                Ok((
                    h.store_key(),
                    serde_json::to_vec(h).map_err(encode)?,
                    h.advisory_key(),
                    serde_json::to_vec(&state).map_err(encode)?,
                ))
            })
            .collect::<Result<_>>()?;
        let evaluated = match evaluated {
            Some((id, source, modified)) => Some((
                key(&[id, source.as_str()]),
                serde_json::to_vec(&Evaluated {
                    modified,
                    at: Utc::now(),
                })
                .map_err(encode)?,
            )),
            None => None,
        };
        let write = |tx: &super::Tx<'_>| {
            for (k, v, ak, av) in &encoded {
                tx.put_raw(T::Hits, k, v)?;
                tx.put_raw(T::HitsByAdvisory, ak, av)?;
            }
            if let Some((k, v)) = &evaluated {
                tx.put_raw(T::AdvEvaluated, k, v)?;
            }
            super::outbox::enqueue_all(tx, events)?;
            for (p, g) in triage {
                super::records::enqueue_triage_tx(tx, p, g)?;
            }
            Ok(())
        };
        if durable {
            self.transact(write)
        } else {
            self.transact_unflushed(write)
        }
    }
}
