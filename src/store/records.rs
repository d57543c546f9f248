//! Device records, SOUP registers, problem-resolution tickets and the triage queue. Every write
//! bumps the record's revision and appends an audit entry in the same transaction; ticket
//! writes carry their outbox events too.

use super::{abort, key, Result, Store, StoreError, Tx, TxResult, T};
use crate::records::{DeviceRecord, SoupRecord};
use crate::tickets::Ticket;
use chrono::Utc;

/// The content of a record without its bookkeeping, to tell a real change from a reload.
fn content<V: serde::Serialize>(v: &V) -> serde_json::Value {
    let mut j = serde_json::to_value(v).unwrap_or_default();
    if let Some(o) = j.as_object_mut() {
        for k in ["revision", "updated_at", "updated_by"] {
            o.remove(k);
        }
    }
    j
}

impl Store {
    pub fn device(&self, product: &str) -> Result<Option<DeviceRecord>> {
        self.get_json(T::Devices, product.as_bytes())
    }

    /// Stores a device record as a new revision. Returns it, or the stored one unchanged when
    /// the content is the same (reloading an unchanged config file is not a change).
    pub fn put_device(&self, rec: &DeviceRecord, actor: &str) -> Result<DeviceRecord> {
        self.transact(|tx| {
            let old: Option<DeviceRecord> = tx.get_json(T::Devices, rec.product.as_bytes())?;
            if let Some(o) = &old {
                if content(o) == content(rec) {
                    return Ok(o.clone());
                }
            }
            let mut new = rec.clone();
            new.revision = old.as_ref().map_or(1, |o| o.revision + 1);
            new.updated_at = Some(Utc::now());
            new.updated_by = Some(actor.to_string());
            tx.put_json(T::Devices, rec.product.as_bytes(), &new)?;
            super::audit::append(
                tx,
                actor,
                "device.put",
                &format!("device/{}", rec.product),
                old.map(|o| content(&o)),
                Some(content(&new)),
                None,
            )?;
            Ok(new)
        })
    }

    pub fn soup_records(&self, product: &str) -> Result<Vec<SoupRecord>> {
        let mut p = product.as_bytes().to_vec();
        p.push(0);
        self.scan_json(T::Soup, &p)
    }

    pub fn soup_record(&self, product: &str, id: &str) -> Result<Option<SoupRecord>> {
        self.get_json(T::Soup, &key(&[product, id]))
    }

    /// Stores one SOUP record as a new revision (unchanged content is not a change).
    pub fn put_soup(&self, product: &str, rec: &SoupRecord, actor: &str) -> Result<SoupRecord> {
        let k = key(&[product, &rec.id]);
        self.transact(|tx| {
            let old: Option<SoupRecord> = tx.get_json(T::Soup, &k)?;
            if let Some(o) = &old {
                if content(o) == content(rec) {
                    return Ok(o.clone());
                }
            }
            let mut new = rec.clone();
            new.revision = old.as_ref().map_or(1, |o| o.revision + 1);
            new.updated_at = Some(Utc::now());
            new.updated_by = Some(actor.to_string());
            tx.put_json(T::Soup, &k, &new)?;
            super::audit::append(
                tx,
                actor,
                "soup.put",
                &format!("soup/{product}/{}", rec.id),
                old.map(|o| content(&o)),
                Some(content(&new)),
                None,
            )?;
            // Tickets of this product are re-triaged with the new record.
            tx.put_raw(T::TriageQueue, &key(&[product, "*"]), b"")?;
            Ok(new)
        })
    }

    pub fn ticket(&self, id: &str) -> Result<Option<Ticket>> {
        self.get_json(T::Tickets, id.as_bytes())
    }

    pub fn tickets(&self) -> Result<Vec<Ticket>> {
        self.scan_json(T::Tickets, b"")
    }

    /// Writes a ticket, its audit entry and its events in one transaction. `expect_version`
    /// guards against a concurrent update (optimistic locking): the stored ticket's `version`
    /// must equal it (None = the ticket must not exist yet).
    pub fn put_ticket(
        &self,
        t: &Ticket,
        expect_version: Option<u64>,
        audit: (&str, &str, Option<&str>),
        events: &[super::EventRecord],
    ) -> Result<()> {
        let (actor, action, reason) = audit;
        self.transact(|tx| {
            let old: Option<Ticket> = tx.get_json(T::Tickets, t.id.as_bytes())?;
            if old.as_ref().map(|o| o.version) != expect_version {
                return Err(abort(StoreError::Conflict(format!(
                    "ticket {} was changed concurrently; reload and retry",
                    t.id
                ))));
            }
            tx.put_json(T::Tickets, t.id.as_bytes(), t)?;
            super::audit::append(
                tx,
                actor,
                action,
                &format!("ticket/{}", t.id),
                old.map(|o| serde_json::to_value(o).unwrap_or_default()),
                Some(serde_json::to_value(t).unwrap_or_default()),
                reason,
            )?;
            for e in events {
                super::outbox::enqueue(tx, e.clone())?;
            }
            Ok(())
        })
    }

    /// (product, vulnerability group) pairs waiting for triage; group `*` = every ticket of
    /// the product (after a device or SOUP record change).
    pub fn pending_triage(&self) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for k in self.tree(T::TriageQueue).iter().keys() {
            let k = k?;
            let mut parts = k
                .split(|b| *b == 0)
                .map(|p| String::from_utf8_lossy(p).into_owned());
            if let (Some(p), Some(g)) = (parts.next(), parts.next()) {
                out.push((p, g));
            }
        }
        Ok(out)
    }

    pub fn ack_triage(&self, product: &str, group: &str) -> Result<()> {
        self.tree(T::TriageQueue).remove(key(&[product, group]))?;
        self.flush()
    }

    /// Queues (product, group) pairs for triage in their own transaction.
    pub fn enqueue_triage(&self, pairs: &[(String, String)]) -> Result<()> {
        self.transact(|tx| {
            for (p, g) in pairs {
                enqueue_triage_tx(tx, p, g)?;
            }
            Ok(())
        })
    }
}

pub(crate) fn enqueue_triage_tx(tx: &Tx<'_>, product: &str, group: &str) -> TxResult<()> {
    tx.put_raw(T::TriageQueue, &key(&[product, group]), b"")
}
