//! The durable outbox: events are appended in the same transaction as the change that caused
//! them; a router turns each event into deliveries (one per matching route) and a delivery
//! worker sends them with retries. Nothing here sends anything; `notify` does.

use super::{Result, Store, StoreError, Tx, TxResult, T};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What happened. Routing and templates key on this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    TicketOpened,
    PriorityChanged,
    RiskChanged,
    ExploitEvidence,
    ReleaseAffected,
    DeadlineReminder,
    DeadlineOverdue,
    SignoffNeeded,
    FeedStale,
    FeedFailing,
    SoupRecordMissing,
    FindingRetracted,
    Test,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::TicketOpened => "ticket_opened",
            EventKind::PriorityChanged => "priority_changed",
            EventKind::RiskChanged => "risk_changed",
            EventKind::ExploitEvidence => "exploit_evidence",
            EventKind::ReleaseAffected => "release_affected",
            EventKind::DeadlineReminder => "deadline_reminder",
            EventKind::DeadlineOverdue => "deadline_overdue",
            EventKind::SignoffNeeded => "signoff_needed",
            EventKind::FeedStale => "feed_stale",
            EventKind::FeedFailing => "feed_failing",
            EventKind::SoupRecordMissing => "soup_record_missing",
            EventKind::FindingRetracted => "finding_retracted",
            EventKind::Test => "test",
        }
    }
}

/// One event, as appended. `seq` is assigned by the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub kind: EventKind,
    pub product: Option<String>,
    /// `P0`..`P4` when the event concerns a triaged vulnerability.
    pub priority: Option<String>,
    /// What the event is about, for de-duplication and threading: the alias group id for
    /// vulnerability events (never one advisory id), the feed name for feed events.
    pub subject: String,
    pub title: String,
    /// Everything a message needs: releases, deadlines, rule trace, links.
    pub payload: serde_json::Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    /// Held for the route's next digest.
    Digest,
    Delivered,
    /// Gave up after the route's maximum attempts; shown by `/healthz` and `/api/v1/outbox`.
    Dead,
}

/// One event on its way to one route's channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// Stable id `{event seq}-{route}`: also the idempotency key (email `Message-ID`,
    /// webhook `X-Soupwatch-Delivery`), so a resend after a crash is recognisably the same.
    pub id: String,
    pub event_seq: u64,
    pub route: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    /// What the receiving server said last (SMTP reply, HTTP status).
    pub last_response: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

const EVENT_SEQ_KEY: &[u8] = b"event_seq";

/// Appends an event inside the caller's transaction (same commit as the change it reports).
pub(crate) fn enqueue(tx: &Tx<'_>, ev: EventRecord) -> TxResult<u64> {
    enqueue_all(tx, std::slice::from_ref(&ev))
}

/// Appends events in order, reading and writing the sequence counter once. Returns the last
/// sequence number used (the current one when `events` is empty).
pub(crate) fn enqueue_all(tx: &Tx<'_>, events: &[EventRecord]) -> TxResult<u64> {
    let last: Option<u64> = tx.get_json(T::Meta, EVENT_SEQ_KEY)?;
    let mut seq = last.unwrap_or(0);
    if events.is_empty() {
        return Ok(seq);
    }
    for ev in events {
        seq += 1;
        let ev = EventRecord { seq, ..ev.clone() };
        tx.put_json(T::Events, &seq.to_be_bytes(), &ev)?;
        tx.put_raw(T::EventQueue, &seq.to_be_bytes(), b"")?;
    }
    tx.put_json(T::Meta, EVENT_SEQ_KEY, &seq)?;
    Ok(seq)
}

fn seq_of(k: &[u8]) -> u64 {
    <[u8; 8]>::try_from(k).map(u64::from_be_bytes).unwrap_or(0)
}

impl Store {
    /// Appends one event in its own transaction (for events not tied to another change).
    pub fn append_event(&self, ev: EventRecord) -> Result<u64> {
        self.transact(|tx| enqueue(tx, ev.clone()))
    }

    pub fn event(&self, seq: u64) -> Result<Option<EventRecord>> {
        self.get_json(T::Events, &seq.to_be_bytes())
    }

    /// Events not yet turned into deliveries, oldest first.
    pub fn unrouted_events(&self, limit: usize) -> Result<Vec<EventRecord>> {
        let mut out = Vec::new();
        for k in self.tree(T::EventQueue).iter().keys().take(limit) {
            if let Some(e) = self.event(seq_of(&k?))? {
                out.push(e);
            }
        }
        Ok(out)
    }

    /// Stores an event's deliveries and marks it routed, atomically.
    pub fn route_event(&self, seq: u64, deliveries: &[Delivery]) -> Result<()> {
        self.transact(|tx| {
            for d in deliveries {
                tx.put_json(T::Deliveries, d.id.as_bytes(), d)?;
            }
            tx.remove(T::EventQueue, &seq.to_be_bytes())
        })
    }

    pub fn delivery(&self, id: &str) -> Result<Option<Delivery>> {
        self.get_json(T::Deliveries, id.as_bytes())
    }

    pub fn deliveries(&self) -> Result<Vec<Delivery>> {
        self.scan_json(T::Deliveries, b"")
    }

    /// Pending deliveries whose next attempt is due.
    pub fn due_deliveries(&self, now: DateTime<Utc>) -> Result<Vec<Delivery>> {
        Ok(self
            .deliveries()?
            .into_iter()
            .filter(|d| d.status == DeliveryStatus::Pending && d.next_attempt_at <= now)
            .collect())
    }

    pub fn put_delivery(&self, d: &Delivery) -> Result<()> {
        self.transact(|tx| tx.put_json(T::Deliveries, d.id.as_bytes(), d))
    }

    /// Puts a dead (or any) delivery back to pending, due now (admin retry).
    pub fn retry_delivery(&self, id: &str) -> Result<Delivery> {
        self.transact(|tx| {
            let Some(mut d) = tx.get_json::<Delivery>(T::Deliveries, id.as_bytes())? else {
                return Err(super::abort(StoreError::NotFound(format!(
                    "no delivery {id:?}"
                ))));
            };
            d.status = DeliveryStatus::Pending;
            d.next_attempt_at = Utc::now();
            tx.put_json(T::Deliveries, id.as_bytes(), &d)?;
            Ok(d)
        })
    }
}
