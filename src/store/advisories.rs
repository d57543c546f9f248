//! Advisories, alias groups, feed state and exploit enrichment (KEV, EPSS).
//!
//! Upserts keep the record with the newest `modified`; each batch yields a [`ChangeSet`] and
//! queues the changed ids for matching in the same transaction. Alias groups only grow: an
//! advisory's ids and aliases are merged into one group whose id is its smallest CVE id (else its
//! smallest id), so one flaw is one vulnerability whatever feed named it first.

use super::{key, Result, Store, Tx, TxResult, T};
use crate::advisory::{Advisory, EpssScore, KevEntry, Source};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// One advisory to store, with the upstream bytes it was parsed from (provenance).
pub struct AdvisoryWrite {
    pub advisory: Advisory,
    pub raw: Vec<u8>,
}

/// What one sync changed; the matcher consumes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeSet {
    pub new: Vec<String>,
    pub changed: Vec<String>,
    pub withdrawn: Vec<String>,
}

impl ChangeSet {
    pub fn is_empty(&self) -> bool {
        self.new.is_empty() && self.changed.is_empty() && self.withdrawn.is_empty()
    }
    pub fn len(&self) -> usize {
        self.new.len() + self.changed.len() + self.withdrawn.len()
    }
    pub fn extend(&mut self, other: ChangeSet) {
        self.new.extend(other.new);
        self.changed.extend(other.changed);
        self.withdrawn.extend(other.withdrawn);
    }
}

/// HTTP validators of one fetched URL, for conditional requests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedValidator {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// Per-feed state kept between runs: health, counts and what conditional fetching needs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FeedRecord {
    pub name: String,
    pub last_attempt: Option<DateTime<Utc>>,
    pub last_success: Option<DateTime<Utc>>,
    /// Set when the last attempt failed; cleared by the next success.
    pub last_error: Option<String>,
    pub last_duration_ms: Option<u64>,
    /// Records this feed holds in the store (advisories, KEV entries or EPSS scores).
    pub record_count: u64,
    /// The newest `modified` (or score date) among them.
    pub newest_record: Option<DateTime<Utc>>,
    /// The last sync's change counts.
    pub last_changes: Option<ChangeCounts>,
    /// Where the last good data came from (a URL, a mirror path, the bundled snapshot).
    pub origin: Option<String>,
    /// URL -> validators of its last good copy.
    #[serde(default)]
    pub validators: BTreeMap<String, FeedValidator>,
    /// Incremental cursor (NVD: the lastModEndDate of the last completed window).
    pub cursor: Option<DateTime<Utc>>,
    /// A `feed_stale` event was raised for the current stale period (reset by a success).
    #[serde(default)]
    pub stale_alerted: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeCounts {
    pub new: usize,
    pub changed: usize,
    pub withdrawn: usize,
}

/// Records per transaction: large enough to amortise the flush, small enough to keep sled's
/// transaction write set modest.
const BATCH: usize = 500;

impl Store {
    /// Upserts advisories fed by `feed`; returns what changed. Idempotent: the same records again
    /// yield an empty change set.
    pub fn upsert_advisories(&self, feed: &str, records: &[AdvisoryWrite]) -> Result<ChangeSet> {
        let mut all = ChangeSet::default();
        for chunk in records.chunks(BATCH) {
            let cs = self.transact(|tx| {
                let mut cs = ChangeSet::default();
                for w in chunk {
                    upsert_one(tx, feed, w, &mut cs)?;
                }
                Ok(cs)
            })?;
            all.extend(cs);
        }
        Ok(all)
    }

    /// Every record with this id, one per source that published it.
    pub fn advisories_by_id(&self, id: &str) -> Result<Vec<Advisory>> {
        let mut prefix = id.as_bytes().to_vec();
        prefix.push(0);
        self.scan_json(T::Advisories, &prefix)
    }

    pub fn advisory(&self, id: &str, source: Source) -> Result<Option<Advisory>> {
        self.get_json(T::Advisories, &advisory_key(id, source))
    }

    /// The upstream bytes a record was parsed from.
    pub fn advisory_raw(&self, id: &str, source: Source) -> Result<Option<Vec<u8>>> {
        Ok(self
            .tree(T::AdvisoryRaw)
            .get(advisory_key(id, source))?
            .map(|v| v.to_vec()))
    }

    /// Every stored advisory, in id order (for full re-matching and scans).
    pub fn all_advisories(&self) -> Result<Vec<Advisory>> {
        self.scan_json(T::Advisories, b"")
    }

    pub fn advisory_count(&self) -> usize {
        self.tree(T::Advisories).len()
    }

    /// The alias group an id belongs to: (group id, sorted member ids). `None` for an id no feed
    /// has named.
    pub fn alias_group(&self, id: &str) -> Result<Option<(String, Vec<String>)>> {
        let Some(g) = self.tree(T::Aliases).get(id.as_bytes())? else {
            return Ok(None);
        };
        let gid = String::from_utf8_lossy(&g).into_owned();
        let members: Vec<String> = self
            .get_json(T::Groups, &g)?
            .unwrap_or_else(|| vec![gid.clone()]);
        Ok(Some((gid, members)))
    }

    /// Advisory ids waiting to be matched (oldest write first is not guaranteed; order by id).
    pub fn pending_matches(&self, limit: usize) -> Result<Vec<String>> {
        self.tree(T::MatchQueue)
            .iter()
            .keys()
            .take(limit)
            .map(|k| Ok(String::from_utf8_lossy(&k?).into_owned()))
            .collect()
    }

    /// Marks advisory ids as matched. Call only after their findings are committed.
    pub fn ack_matches(&self, ids: &[String]) -> Result<()> {
        let mut batch = sled::Batch::default();
        for id in ids {
            batch.remove(id.as_bytes());
        }
        // Not flushed: losing an acknowledgement in a crash only means the advisory is matched
        // again, which changes nothing (hits are compared before they are written). The hits
        // themselves were made durable by `put_hits` before this call.
        self.tree(T::MatchQueue).apply_batch(batch)?;
        Ok(())
    }

    /// Records held by a feed.
    pub fn feed_record_count(&self, feed: &str) -> u64 {
        let mut prefix = feed.as_bytes().to_vec();
        prefix.push(0);
        self.tree(T::FeedIds).scan_prefix(prefix).count() as u64
    }

    pub fn feed(&self, name: &str) -> Result<Option<FeedRecord>> {
        self.get_json(T::Feeds, name.as_bytes())
    }

    pub fn feeds(&self) -> Result<Vec<FeedRecord>> {
        self.scan_json(T::Feeds, b"")
    }

    pub fn put_feed(&self, rec: &FeedRecord) -> Result<()> {
        self.transact(|tx| tx.put_json(T::Feeds, rec.name.as_bytes(), rec))
    }

    /// Replaces the KEV catalogue's entries; returns the CVE ids that are newly listed.
    pub fn put_kev(&self, feed: &str, entries: &[KevEntry]) -> Result<Vec<String>> {
        let mut newly = Vec::new();
        for chunk in entries.chunks(BATCH) {
            let n = self.transact(|tx| {
                let mut n = Vec::new();
                for e in chunk {
                    let k = e.cve_id.as_bytes();
                    if tx.get_raw(T::Kev, k)?.is_none() {
                        n.push(e.cve_id.clone());
                        tx.put_raw(T::FeedIds, &key(&[feed, &e.cve_id]), b"")?;
                    }
                    tx.put_json(T::Kev, k, e)?;
                }
                Ok(n)
            })?;
            newly.extend(n);
        }
        Ok(newly)
    }

    pub fn kev(&self, cve: &str) -> Result<Option<KevEntry>> {
        self.get_json(T::Kev, cve.as_bytes())
    }

    /// Stores EPSS scores (newer score dates win); returns how many changed.
    pub fn put_epss(&self, feed: &str, scores: &[EpssScore]) -> Result<usize> {
        let mut changed = 0;
        for chunk in scores.chunks(5_000) {
            changed += self.transact(|tx| {
                let mut n = 0;
                for s in chunk {
                    let k = s.cve_id.as_bytes();
                    let old: Option<EpssScore> = tx.get_json(T::Epss, k)?;
                    let newer = match &old {
                        None => true,
                        Some(o) => {
                            o.score_date <= s.score_date
                                && (o.epss != s.epss || o.score_date != s.score_date)
                        }
                    };
                    if newer {
                        if old.is_none() {
                            tx.put_raw(T::FeedIds, &key(&[feed, &s.cve_id]), b"")?;
                        }
                        tx.put_json(T::Epss, k, s)?;
                        n += 1;
                    }
                }
                Ok(n)
            })?;
        }
        Ok(changed)
    }

    pub fn epss(&self, cve: &str) -> Result<Option<EpssScore>> {
        self.get_json(T::Epss, cve.as_bytes())
    }
}

fn upsert_one(tx: &Tx<'_>, feed: &str, w: &AdvisoryWrite, cs: &mut ChangeSet) -> TxResult<()> {
    let a = &w.advisory;
    let k = advisory_key(&a.id, a.source);
    let fk = key(&[feed, &a.id]);
    if tx.get_raw(T::FeedIds, &fk)?.is_none() {
        tx.put_raw(T::FeedIds, &fk, b"")?;
    }
    let old: Option<Advisory> = tx.get_json(T::Advisories, &k)?;
    if let Some(o) = &old {
        // Newest `modified` wins. An equal `modified` is a change only if the content differs
        // (RustSec's date-derived `modified` does not move when an advisory is edited).
        if o.modified > a.modified || (o.modified == a.modified && o == a) {
            return Ok(());
        }
    }
    let newly_withdrawn =
        a.withdrawn.is_some() && old.as_ref().is_none_or(|o| o.withdrawn.is_none());
    if newly_withdrawn {
        cs.withdrawn.push(a.id.clone());
    } else if old.is_none() {
        cs.new.push(a.id.clone());
    } else {
        cs.changed.push(a.id.clone());
    }
    tx.put_json(T::Advisories, &k, a)?;
    tx.put_raw(T::AdvisoryRaw, &k, &w.raw)?;
    tx.put_raw(T::MatchQueue, a.id.as_bytes(), b"")?;
    let mut ids: Vec<&str> = vec![a.id.as_str()];
    ids.extend(a.aliases.iter().map(String::as_str));
    link_aliases(tx, &ids)
}

/// Advisories are keyed by id and source: OSV's export of a RUSTSEC id and the RustSec
/// database's own record are two records of one advisory, each kept as its feed published it.
fn advisory_key(id: &str, source: Source) -> Vec<u8> {
    key(&[id, source.as_str()])
}

/// Merges `ids` and every group any of them is already in into one group.
fn link_aliases(tx: &Tx<'_>, ids: &[&str]) -> TxResult<()> {
    let mut members: BTreeSet<String> = BTreeSet::new();
    let mut old_groups: BTreeSet<String> = BTreeSet::new();
    for id in ids {
        let id = id.trim();
        if id.is_empty() {
            continue;
        }
        members.insert(id.to_string());
        if let Some(g) = tx.get_raw(T::Aliases, id.as_bytes())? {
            let g = String::from_utf8_lossy(&g).into_owned();
            let m: Option<Vec<String>> = tx.get_json(T::Groups, g.as_bytes())?;
            members.extend(m.unwrap_or_default());
            old_groups.insert(g);
        }
    }
    let Some(canonical) = crate::matching::alias::canonical_id(&members) else {
        return Ok(());
    };
    if old_groups.len() == 1 && old_groups.contains(&canonical) {
        let existing: Option<Vec<String>> = tx.get_json(T::Groups, canonical.as_bytes())?;
        if existing.as_ref().is_some_and(|e| e.len() == members.len()) {
            return Ok(());
        }
    }
    for g in &old_groups {
        if *g != canonical {
            tx.remove(T::Groups, g.as_bytes())?;
        }
    }
    for m in &members {
        tx.put_raw(T::Aliases, m.as_bytes(), canonical.as_bytes())?;
    }
    let list: Vec<&String> = members.iter().collect();
    tx.put_json(T::Groups, canonical.as_bytes(), &list)
}
