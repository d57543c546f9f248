//! The store: the only module that knows sled. Domain code calls typed operations here
//! (`put_release`, `create_token`, `append_audit`...) and never sees a tree, a key layout or a
//! transaction, so another engine (redb, or PostgreSQL when several instances share one store)
//! can replace sled behind the same functions.
//!
//! Durability: every operation that changes state runs in one sled transaction over every tree
//! it touches (a crash leaves all or nothing), and is followed by a flush, the commit point,
//! before the caller is told it succeeded. Values are JSON: readable with any tool in an
//! incident, and cheap next to the work that produces them.

mod advisories;
mod audit;
mod findings;
mod outbox;
mod records;
mod releases;
mod tokens;

pub use advisories::{AdvisoryWrite, ChangeCounts, ChangeSet, FeedRecord, FeedValidator};
pub use audit::{AuditEntry, AuditVerification};
pub use findings::{
    hit_digest, hit_key, ComponentInstance, Evaluated, HitRecord, HitState, HitStatus,
};
pub use outbox::{Delivery, DeliveryStatus, EventKind, EventRecord};
pub use releases::{NewRelease, PutOutcome, ReleaseRecord, ReleaseSummary, Supersede};
pub use tokens::{Role, TokenRecord};

use serde::{de::DeserializeOwned, Serialize};
use sled::transaction::{
    ConflictableTransactionError, TransactionError, TransactionalTree, UnabortableTransactionError,
};
use sled::Transactional;
use std::path::{Path, PathBuf};

/// What went wrong in the store. Engine errors are kept as text so the engine stays private.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "data folder {path} is in use by another soupwatch process (or not writable): {detail}"
    )]
    Locked { path: PathBuf, detail: String },
    #[error("storage engine error: {0}")]
    Engine(String),
    #[error("stored record {key} in {tree} is unreadable: {detail}")]
    Corrupt {
        tree: &'static str,
        key: String,
        detail: String,
    },
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotFound(String),
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        StoreError::Engine(e.to_string())
    }
}

impl From<TransactionError<StoreError>> for StoreError {
    fn from(e: TransactionError<StoreError>) -> Self {
        match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => StoreError::Engine(e.to_string()),
        }
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The trees, by role. The discriminant is the index into [`Store::trees`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum T {
    /// Schema version, audit chain head, counters.
    Meta = 0,
    /// token name -> TokenRecord (hash only; never the secret).
    Tokens,
    /// token hash -> token name, so a bearer lookup is one read.
    TokenHashes,
    /// product \0 release -> ReleaseRecord (the current version).
    Releases,
    /// product \0 release \0 revision -> superseded ReleaseRecord.
    ReleaseHistory,
    /// sha256 -> original SBOM bytes (content-addressed, never rewritten).
    Blobs,
    /// sha256 -> normalised components of that document.
    Components,
    /// sequence (big-endian u64) -> AuditEntry, hash-chained.
    Audit,
    /// advisory id -> Advisory.
    Advisories,
    /// advisory id -> raw upstream record bytes (provenance).
    AdvisoryRaw,
    /// any id or alias -> alias group id (the smallest id of the group's closure).
    Aliases,
    /// feed name -> FeedRecord (status, validators, counts).
    Feeds,
    /// CVE id -> KevEntry.
    Kev,
    /// CVE id -> EpssScore.
    Epss,
    /// alias group id -> sorted member ids.
    Groups,
    /// feed \0 advisory id -> (): which feed holds which records, for counts.
    FeedIds,
    /// advisory id -> (): changed advisories not yet matched (written with the change, so a
    /// crash between the feed sync and matching cannot lose a change).
    MatchQueue,
    /// product \0 release -> (): releases stored but not yet indexed and matched.
    ReleaseQueue,
    /// index key -> the component's match subject (name, version, purl, CPE, bom-ref; empty in
    /// stores indexed before values were kept): package identity / CPE product -> component
    /// instances of releases. Keys are built by the matching service:
    /// `p \0 eco \0 name \0 product \0 release \0 idx`,
    /// `c \0 vendor \0 cpe-product \0 product \0 release \0 idx` and, for every component
    /// with a CPE, `k \0 product \0 release \0 idx`.
    CompIndex,
    /// product \0 release -> the CompIndex keys written for it (to remove them on supersede).
    ReleaseKeys,
    /// `p \0 eco \0 name \0 advisory \0 source` / `c \0 vendor \0 product \0 advisory \0 source`:
    /// which advisories name which package or CPE product.
    AdvIndex,
    /// product \0 release \0 component \0 advisory \0 source -> HitRecord (never deleted).
    Hits,
    /// advisory \0 source \0 product \0 release \0 component -> HitState (status and evidence
    /// digest): hits by advisory, enough to tell an unchanged hit without reading it.
    HitsByAdvisory,
    /// seq (big-endian u64) -> EventRecord, appended with the change that caused it.
    Events,
    /// seq -> (): events not yet routed into deliveries.
    EventQueue,
    /// delivery id -> Delivery (pending, digest, delivered, dead).
    Deliveries,
    /// product -> DeviceRecord.
    Devices,
    /// product \0 SOUP id -> SoupRecord.
    Soup,
    /// ticket id -> Ticket.
    Tickets,
    /// product \0 alias group -> (): findings to triage into tickets.
    TriageQueue,
    /// advisory \0 source -> Evaluated: the record version its hits were last re-decided
    /// against (hits whose evidence did not change keep the version that produced it).
    AdvEvaluated,
}

const TREE_NAMES: [&str; 31] = [
    "meta",
    "tokens",
    "token_hashes",
    "releases",
    "release_history",
    "blobs",
    "components",
    "audit",
    "advisories",
    "advisory_raw",
    "aliases",
    "feeds",
    "kev",
    "epss",
    "groups",
    "feed_ids",
    "match_queue",
    "release_queue",
    "comp_index",
    "release_keys",
    "adv_index",
    "hits",
    "hits_by_advisory",
    "events",
    "event_queue",
    "deliveries",
    "devices",
    "soup",
    "tickets",
    "triage_queue",
    "adv_evaluated",
];

const SCHEMA_VERSION: &str = "1";

/// The open store. Cheap to share behind an `Arc`; sled is internally synchronised.
pub struct Store {
    db: sled::Db,
    trees: Vec<sled::Tree>,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the store in `dir`. Fails clearly when another process holds it.
    pub fn open(dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Locked {
            path: dir.to_path_buf(),
            detail: e.to_string(),
        })?;
        let db = sled::Config::new()
            .path(dir.join("db"))
            // sled's default cache is 1 GB; the working set here is far smaller.
            .cache_capacity(128 * 1024 * 1024)
            .mode(sled::Mode::LowSpace)
            .open()
            .map_err(|e| match e {
                sled::Error::Io(io) if io.kind() == std::io::ErrorKind::WouldBlock => {
                    StoreError::Locked {
                        path: dir.to_path_buf(),
                        detail: io.to_string(),
                    }
                }
                sled::Error::Io(io) if io.to_string().contains("lock") => StoreError::Locked {
                    path: dir.to_path_buf(),
                    detail: io.to_string(),
                },
                other => StoreError::Engine(other.to_string()),
            })?;
        let trees = TREE_NAMES
            .iter()
            .map(|n| db.open_tree(n))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let store = Store {
            db,
            trees,
            path: dir.to_path_buf(),
        };
        match store.tree(T::Meta).get("schema_version")? {
            None => {
                store
                    .tree(T::Meta)
                    .insert("schema_version", SCHEMA_VERSION)?;
                store.flush()?;
            }
            Some(v) if v.as_ref() == SCHEMA_VERSION.as_bytes() => {}
            Some(v) => {
                return Err(StoreError::Engine(format!(
                    "data folder has schema version {}, this soupwatch reads {SCHEMA_VERSION}",
                    String::from_utf8_lossy(&v)
                )))
            }
        }
        store.upgrade_match_index()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn tree(&self, t: T) -> &sled::Tree {
        &self.trees[t as usize]
    }

    /// The commit point: everything written before returns only once it is on disk.
    pub fn flush(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }

    /// Bytes on disk, for the disk-usage metric (sled does not give space back by itself).
    pub fn size_on_disk(&self) -> Result<u64> {
        Ok(self.db.size_on_disk()?)
    }

    /// Runs `f` in one transaction over all trees, retried by sled on conflict, then flushes.
    pub(crate) fn transact<R>(&self, f: impl Fn(&Tx<'_>) -> TxResult<R>) -> Result<R> {
        let out = self.transact_unflushed(f)?;
        self.flush()?;
        Ok(out)
    }

    /// A transaction that is atomic but not yet durable: for all but the last of a run of
    /// transactions that end with one flush (sled persists its log in order, so the flush
    /// covers every earlier transaction too).
    pub(crate) fn transact_unflushed<R>(&self, f: impl Fn(&Tx<'_>) -> TxResult<R>) -> Result<R> {
        let refs: Vec<&sled::Tree> = self.trees.iter().collect();
        Ok(refs.as_slice().transaction(|trees| f(&Tx { trees }))?)
    }

    pub(crate) fn get_json<V: DeserializeOwned>(&self, t: T, key: &[u8]) -> Result<Option<V>> {
        match self.tree(t).get(key)? {
            None => Ok(None),
            Some(bytes) => decode(t, key, &bytes).map(Some),
        }
    }

    /// Every value of a tree whose key starts with `prefix`, in key order.
    pub(crate) fn scan_json<V: DeserializeOwned>(&self, t: T, prefix: &[u8]) -> Result<Vec<V>> {
        self.tree(t)
            .scan_prefix(prefix)
            .map(|kv| {
                let (k, v) = kv?;
                decode(t, &k, &v)
            })
            .collect()
    }
}

pub(crate) type TxResult<R> = std::result::Result<R, ConflictableTransactionError<StoreError>>;

/// A transaction over every tree, with typed JSON access.
pub(crate) struct Tx<'a> {
    trees: &'a [TransactionalTree],
}

impl Tx<'_> {
    fn t(&self, t: T) -> &TransactionalTree {
        &self.trees[t as usize]
    }

    pub(crate) fn get_raw(&self, t: T, key: &[u8]) -> TxResult<Option<sled::IVec>> {
        self.t(t).get(key).map_err(unabortable)
    }

    pub(crate) fn get_json<V: DeserializeOwned>(&self, t: T, key: &[u8]) -> TxResult<Option<V>> {
        match self.get_raw(t, key)? {
            None => Ok(None),
            Some(b) => decode(t, key, &b).map(Some).map_err(abort),
        }
    }

    pub(crate) fn put_raw(&self, t: T, key: &[u8], value: &[u8]) -> TxResult<()> {
        self.t(t)
            .insert(key, value)
            .map(|_| ())
            .map_err(unabortable)
    }

    pub(crate) fn put_json<V: Serialize>(&self, t: T, key: &[u8], value: &V) -> TxResult<()> {
        let bytes = serde_json::to_vec(value)
            .map_err(|e| abort(StoreError::Engine(format!("encoding {}: {e}", t.name()))))?;
        self.put_raw(t, key, &bytes)
    }

    pub(crate) fn remove(&self, t: T, key: &[u8]) -> TxResult<()> {
        self.t(t).remove(key).map(|_| ()).map_err(unabortable)
    }
}

impl T {
    fn name(self) -> &'static str {
        TREE_NAMES[self as usize]
    }
}

pub(crate) fn abort(e: StoreError) -> ConflictableTransactionError<StoreError> {
    ConflictableTransactionError::Abort(e)
}

fn unabortable(e: UnabortableTransactionError) -> ConflictableTransactionError<StoreError> {
    e.into()
}

fn decode<V: DeserializeOwned>(t: T, key: &[u8], bytes: &[u8]) -> Result<V> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        tree: t.name(),
        key: String::from_utf8_lossy(key).into_owned(),
        detail: e.to_string(),
    })
}

/// Joins key parts with NUL, which no validated name can contain.
pub fn key(parts: &[&str]) -> Vec<u8> {
    parts.join("\0").into_bytes()
}
