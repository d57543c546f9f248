//! The audit trail: append-only entries, each carrying the SHA-256 of the previous one, written
//! in the same transaction as the change it records. `verify` walks the chain and names the
//! first entry that does not fit.

use super::{Result, Store, StoreError, Tx, TxResult, T};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const HEAD_KEY: &[u8] = b"audit_head";
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: u64,
    pub at: DateTime<Utc>,
    /// Token name, `cli`, or `soupwatch` for the daemon's own decisions.
    pub actor: String,
    /// Dotted verb, e.g. `release.create`, `token.revoke`.
    pub action: String,
    /// What was changed, as a path: `release/pump/4.2.1`.
    pub subject: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub reason: Option<String>,
    pub prev_sha256: String,
    /// SHA-256 over the canonical JSON of every field above.
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Head {
    seq: u64,
    sha256: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditVerification {
    pub entries: u64,
    /// The first entry whose hash or link is wrong, with why.
    pub first_broken: Option<(u64, String)>,
}

fn entry_hash(e: &AuditEntry) -> String {
    let body = serde_json::json!({
        "seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action, "subject": e.subject,
        "before": e.before, "after": e.after, "reason": e.reason, "prev_sha256": e.prev_sha256,
    });
    hex::encode(Sha256::digest(body.to_string().as_bytes()))
}

/// Appends one entry inside the caller's transaction.
pub(crate) fn append(
    tx: &Tx<'_>,
    actor: &str,
    action: &str,
    subject: &str,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
    reason: Option<&str>,
) -> TxResult<()> {
    let head: Option<Head> = tx.get_json(T::Meta, HEAD_KEY)?;
    let (seq, prev) = match head {
        Some(h) => (h.seq + 1, h.sha256),
        None => (1, GENESIS.to_string()),
    };
    let mut e = AuditEntry {
        seq,
        at: Utc::now(),
        actor: actor.to_string(),
        action: action.to_string(),
        subject: subject.to_string(),
        before,
        after,
        reason: reason.map(str::to_string),
        prev_sha256: prev,
        sha256: String::new(),
    };
    e.sha256 = entry_hash(&e);
    tx.put_json(T::Audit, &seq.to_be_bytes(), &e)?;
    tx.put_json(
        T::Meta,
        HEAD_KEY,
        &Head {
            seq,
            sha256: e.sha256.clone(),
        },
    )
}

impl Store {
    /// Records the rules file in force (audited when its SHA-256 differs from the last one).
    pub fn note_rules(&self, sha256: &str, version: &str, path: &str) -> Result<bool> {
        self.transact(|tx| {
            let last: Option<String> = tx.get_json(T::Meta, b"rules_sha256")?;
            if last.as_deref() == Some(sha256) {
                return Ok(false);
            }
            tx.put_json(T::Meta, b"rules_sha256", &sha256)?;
            append(
                tx,
                "config",
                "rules.load",
                &format!("rules/{path}"),
                last.map(|l| serde_json::json!({"sha256": l})),
                Some(serde_json::json!({"sha256": sha256, "version": version})),
                None,
            )?;
            Ok(true)
        })
    }

    pub fn audit_entries(&self, after_seq: u64, limit: usize) -> Result<Vec<AuditEntry>> {
        let start = (after_seq + 1).to_be_bytes();
        self.tree(T::Audit)
            .range(start..)
            .take(limit)
            .map(|kv| {
                let (k, v) = kv?;
                serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt {
                    tree: "audit",
                    key: hex::encode(k),
                    detail: e.to_string(),
                })
            })
            .collect()
    }

    /// Walks the whole chain: each entry's hash must match its content and link to the one before.
    pub fn verify_audit(&self) -> Result<AuditVerification> {
        let mut prev = GENESIS.to_string();
        let mut n = 0u64;
        for (expected_seq, kv) in (1u64..).zip(self.tree(T::Audit).iter()) {
            let (k, v) = kv?;
            let seq = <[u8; 8]>::try_from(k.as_ref())
                .map(u64::from_be_bytes)
                .unwrap_or(0);
            n += 1;
            let broken = |why: String| {
                Ok(AuditVerification {
                    entries: n,
                    first_broken: Some((seq, why)),
                })
            };
            let e: AuditEntry = match serde_json::from_slice(&v) {
                Ok(e) => e,
                Err(err) => return broken(format!("entry is unreadable: {err}")),
            };
            if e.seq != seq || seq != expected_seq {
                return broken(format!(
                    "sequence gap: expected {expected_seq}, found {seq}"
                ));
            }
            if e.prev_sha256 != prev {
                return broken("link to the previous entry does not match".into());
            }
            if entry_hash(&e) != e.sha256 {
                return broken("content does not match its recorded SHA-256".into());
            }
            prev = e.sha256;
        }
        let head: Option<Head> = self.get_json(T::Meta, HEAD_KEY)?;
        if let Some(h) = head {
            if h.seq != n || h.sha256 != prev {
                return Ok(AuditVerification {
                    entries: n,
                    first_broken: Some((
                        h.seq,
                        "chain head does not match the last entry (entries removed?)".into(),
                    )),
                });
            }
        }
        Ok(AuditVerification {
            entries: n,
            first_broken: None,
        })
    }
}
