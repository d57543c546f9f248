//! The background loop of the daemon: route new events, then send what is due, every second,
//! until cancelled. Everything it knows lives in the store (event queue, deliveries with their
//! `next_attempt_at`), so a restart resumes exactly where it stopped: pending deliveries are
//! re-sent with the same idempotency key, digests stay held until their time.
//!
//! Digests need no timer of their own: a digest delivery is created due at the route's next
//! cron time, and at that time every due digest delivery of the route goes out as one message.

use super::channel::Senders;
use super::config::{NotifyConfig, Route};
use super::render::Outgoing;
use super::retry;
use super::router::{self, History};
use crate::store::{Delivery, DeliveryStatus, EventRecord, Store, StoreError};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How often new events are looked for.
const TICK: Duration = Duration::from_secs(1);
/// Longest time between two full scans of the deliveries (catches an admin's retry).
const RESCAN: chrono::Duration = chrono::Duration::seconds(5);
/// Events routed per store read.
const ROUTE_BATCH: usize = 500;
/// Messages in flight at once.
const PARALLEL_SENDS: usize = 4;

#[derive(Clone)]
pub struct Worker {
    store: Arc<Store>,
    config: Arc<NotifyConfig>,
    senders: Arc<Senders>,
}

/// One message to send: a single delivery, or a route's due digest deliveries.
enum Job {
    Single(Delivery),
    Digest(String, Vec<Delivery>),
}

async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> Result<R, StoreError> + Send + 'static,
) -> Result<R, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Engine(format!("notify worker task failed: {e}")))?
}

/// Routes every unrouted event; returns how many deliveries were created.
pub fn route_pending(store: &Store, config: &NotifyConfig) -> Result<usize, StoreError> {
    let mut created = 0;
    loop {
        let events = store.unrouted_events(ROUTE_BATCH)?;
        let Some(oldest) = events.iter().map(|e| e.at).min() else {
            return Ok(created);
        };
        let now = Utc::now();
        let mut history = if config.routes.is_empty() {
            History::default()
        } else {
            // Only deliveries made since the oldest event minus the widest window can matter.
            let widest = config
                .routes
                .iter()
                .map(|r| r.dedup_window)
                .max()
                .unwrap_or_default();
            let since = chrono::Duration::from_std(widest)
                .ok()
                .and_then(|w| oldest.checked_sub_signed(w))
                .unwrap_or(DateTime::<Utc>::MIN_UTC);
            let recent: Vec<Delivery> = store
                .deliveries()?
                .into_iter()
                .filter(|d| d.created_at >= since)
                .collect();
            History::from_deliveries(&recent, |seq| store.event(seq).ok().flatten())
        };
        for ev in &events {
            let plan = router::plan(ev, &config.routes, &mut history, now);
            for s in &plan.suppressed {
                tracing::info!(event = ev.seq, kind = ev.kind.as_str(), subject = %ev.subject,
                    route = %s.route, previous_event = s.previous_seq,
                    "alert suppressed: the route already had this alert within its window");
            }
            if let Some(p) = ev.priority.as_deref() {
                if super::config::Priority::parse(p).is_none() {
                    tracing::warn!(
                        event = ev.seq,
                        priority = p,
                        "unknown priority label; routed as if it matched"
                    );
                }
            }
            store.route_event(ev.seq, &plan.deliveries)?;
            created += plan.deliveries.len();
        }
        if events.len() < ROUTE_BATCH {
            return Ok(created);
        }
    }
}

impl Worker {
    pub fn new(store: Arc<Store>, config: NotifyConfig) -> Self {
        Worker {
            store,
            config: Arc::new(config),
            senders: Arc::new(Senders::default()),
        }
    }

    pub async fn run(self, mut cancel: watch::Receiver<bool>) {
        let mut next_scan = Utc::now();
        loop {
            if *cancel.borrow() {
                return;
            }
            let (store, config) = (self.store.clone(), self.config.clone());
            let routed = match blocking(move || route_pending(&store, &config)).await {
                Ok(n) => n,
                Err(e) => {
                    tracing::error!(error = %e, "routing events failed; will retry");
                    0
                }
            };
            if routed > 0 || Utc::now() >= next_scan {
                tokio::select! {
                    earliest = self.deliver_due(Utc::now()) => {
                        next_scan = earliest.min(Utc::now() + RESCAN);
                    }
                    // An interrupted send stays pending and is re-sent (same key) after restart.
                    _ = cancel.changed() => return,
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(TICK) => {}
                _ = cancel.changed() => return,
            }
        }
    }

    /// Sends every due delivery; returns when the next one falls due (or a far time).
    async fn deliver_due(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let far = now + chrono::Duration::days(1);
        let store = self.store.clone();
        let all = match blocking(move || store.deliveries()).await {
            Ok(a) => a,
            Err(e) => {
                tracing::error!(error = %e, "reading the outbox failed; will retry");
                return now;
            }
        };
        let mut earliest = far;
        let mut singles = Vec::new();
        let mut digests: BTreeMap<String, Vec<Delivery>> = BTreeMap::new();
        for d in all {
            let waiting = matches!(d.status, DeliveryStatus::Pending | DeliveryStatus::Digest);
            if !waiting {
                continue;
            }
            if d.next_attempt_at > now {
                earliest = earliest.min(d.next_attempt_at);
            } else if d.status == DeliveryStatus::Pending {
                singles.push(d);
            } else {
                digests.entry(d.route.clone()).or_default().push(d);
            }
        }
        singles.sort_by_key(|d| (d.next_attempt_at, d.event_seq));
        let jobs = singles
            .into_iter()
            .map(Job::Single)
            .chain(digests.into_iter().map(|(r, ds)| Job::Digest(r, ds)));
        let slots = Arc::new(tokio::sync::Semaphore::new(PARALLEL_SENDS));
        let mut set = tokio::task::JoinSet::new();
        for job in jobs {
            let Ok(permit) = slots.clone().acquire_owned().await else {
                break;
            };
            let w = self.clone();
            set.spawn(async move {
                let next = w.run_job(job).await;
                drop(permit);
                next
            });
        }
        while let Some(r) = set.join_next().await {
            if let Ok(Some(next)) = r {
                earliest = earliest.min(next);
            }
        }
        earliest
    }

    /// Sends one message and records the outcome on each delivery it carries. Returns the next
    /// attempt time when it is to be retried.
    async fn run_job(&self, job: Job) -> Option<DateTime<Utc>> {
        let (route_name, mut ds, digest) = match job {
            Job::Single(d) => (d.route.clone(), vec![d], false),
            Job::Digest(r, ds) => (r, ds, true),
        };
        let Some(route) = self.config.route(&route_name).cloned() else {
            for d in &mut ds {
                retry::undeliverable(d, format!("route {route_name:?} is no longer configured"));
            }
            self.save(ds).await;
            return None;
        };
        let store = self.store.clone();
        let seqs: Vec<u64> = ds.iter().map(|d| d.event_seq).collect();
        let events = match blocking(move || {
            seqs.iter()
                .map(|s| store.event(*s))
                .collect::<Result<Vec<_>, _>>()
        })
        .await
        {
            Ok(e) => e,
            Err(e) => {
                tracing::error!(error = %e, "reading events failed; will retry");
                return Some(Utc::now());
            }
        };
        let mut items: Vec<(String, EventRecord)> = Vec::new();
        let mut sendable = Vec::new();
        let mut lost = Vec::new();
        for (mut d, ev) in ds.into_iter().zip(events) {
            match ev {
                Some(ev) => {
                    items.push((d.id.clone(), ev));
                    sendable.push(d);
                }
                None => {
                    let why = format!("event {} is missing", d.event_seq);
                    retry::undeliverable(&mut d, why);
                    lost.push(d);
                }
            }
        }
        self.save(lost).await;
        let msg = if digest {
            if items.is_empty() {
                return None;
            }
            Outgoing::digest(&route.name, items)
        } else {
            let (id, ev) = items.pop()?;
            Outgoing::single(id, &route.name, ev)
        };
        let result = self.senders.send(&self.config, &route, &msg).await;
        let next = self.record(&route, &msg, &mut sendable, result);
        self.save(sendable).await;
        next
    }

    fn record(
        &self,
        route: &Route,
        msg: &Outgoing,
        ds: &mut [Delivery],
        result: Result<String, super::channel::SendError>,
    ) -> Option<DateTime<Utc>> {
        let now = Utc::now();
        match result {
            Ok(answer) => {
                tracing::info!(key = %msg.key, route = %route.name, deliveries = ds.len(), answer = %answer, "alert delivered");
                for d in ds.iter_mut() {
                    retry::succeeded(d, answer.clone(), now);
                }
                None
            }
            Err(e) => {
                // One draw per message, so a digest's deliveries stay together on retry.
                let jitter = retry::jitter();
                for d in ds.iter_mut() {
                    retry::failed(
                        d,
                        e.error.clone(),
                        e.response.clone(),
                        &route.retry,
                        now,
                        jitter,
                    );
                }
                let dead = ds.iter().any(|d| d.status == DeliveryStatus::Dead);
                if dead {
                    tracing::error!(key = %msg.key, route = %route.name, error = %e.error,
                        "alert undeliverable after the route's maximum attempts: dead letter");
                } else {
                    tracing::warn!(key = %msg.key, route = %route.name, error = %e.error, "alert delivery failed; will retry");
                }
                ds.iter()
                    .filter(|d| d.status != DeliveryStatus::Dead)
                    .map(|d| d.next_attempt_at)
                    .min()
            }
        }
    }

    async fn save(&self, ds: Vec<Delivery>) {
        if ds.is_empty() {
            return;
        }
        let store = self.store.clone();
        let r = blocking(move || ds.iter().try_for_each(|d| store.put_delivery(d))).await;
        if let Err(e) = r {
            // The delivery stays as it was: re-sent later with the same key (at least once).
            tracing::error!(error = %e, "recording a delivery outcome failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::EventKind;
    use std::sync::Mutex;

    type Seen = Arc<Mutex<Vec<(axum::http::HeaderMap, Vec<u8>)>>>;

    /// A webhook receiver on 127.0.0.1 answering 200 and recording each request.
    async fn receiver() -> (String, Seen) {
        let seen: Seen = Arc::default();
        let s = seen.clone();
        let app = axum::Router::new().route(
            "/",
            axum::routing::post(move |h: axum::http::HeaderMap, b: axum::body::Bytes| {
                let s = s.clone();
                async move {
                    s.lock().unwrap().push((h, b.to_vec()));
                    "ok"
                }
            }),
        );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", l.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(l, app).await });
        (url, seen)
    }

    fn event(product: &str, subject: &str) -> EventRecord {
        EventRecord {
            seq: 0,
            at: Utc::now(),
            kind: EventKind::ReleaseAffected,
            product: Some(product.into()),
            priority: None,
            subject: subject.into(),
            title: format!("{product} 1.0 is affected by {subject}"),
            payload: serde_json::json!({"product": product, "release": "1.0", "vulnerability": subject}),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn digest_deliveries_wait_for_their_time_and_go_out_as_one_message() {
        let (url, seen) = receiver().await;
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("data")).unwrap());
        let config = NotifyConfig::from_toml(&format!(
            "[[webhook]]\nname = \"w\"\nurl = \"{url}\"\nsecret = \"k\"\n\
             [[route]]\nname = \"daily\"\nchannel = \"w\"\nmode = \"digest\"\n\
             [[route]]\nname = \"now\"\nchannel = \"w\"\nproducts = [\"pump-a\"]\n"
        ))
        .unwrap();
        for (p, s) in [
            ("pump-a", "CVE-1"),
            ("pump-b", "CVE-2"),
            ("pump-b", "CVE-3"),
        ] {
            store.append_event(event(p, s)).unwrap();
        }
        assert_eq!(route_pending(&store, &config).unwrap(), 4);
        let w = Worker::new(store.clone(), config);

        // Now: only the immediate route's delivery is due; the digest waits for 07:00 UTC.
        let now = Utc::now();
        let next = w.deliver_due(now).await;
        assert_eq!(seen.lock().unwrap().len(), 1);
        let digest_time = store.delivery("2-daily").unwrap().unwrap().next_attempt_at;
        assert!(digest_time > now && digest_time <= now + chrono::Duration::days(1));
        assert_eq!(digest_time.format("%H:%M:%S").to_string(), "07:00:00");
        assert_eq!(next, digest_time, "the worker knows when to look again");
        assert_eq!(
            store.delivery("1-now").unwrap().unwrap().status,
            DeliveryStatus::Delivered
        );

        // At the digest time: one message carrying the three held deliveries.
        w.deliver_due(digest_time).await;
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 2, "one digest message");
        let (h, body) = &seen[1];
        assert_eq!(h["x-soupwatch-event"], "digest");
        let key = h["x-soupwatch-delivery"].to_str().unwrap();
        assert!(key.starts_with("digest-daily-"), "{key}");
        assert_eq!(
            h["x-soupwatch-signature"].to_str().unwrap(),
            super::super::render::signature(b"k", body)
        );
        let v: serde_json::Value = serde_json::from_slice(body).unwrap();
        let ids: Vec<&str> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["delivery_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["1-daily", "2-daily", "3-daily"]);
        for id in ids {
            let d = store.delivery(id).unwrap().unwrap();
            assert_eq!(
                (d.status, d.attempts),
                (DeliveryStatus::Delivered, 1),
                "{id}"
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn deliveries_of_a_removed_route_become_dead_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("data")).unwrap());
        let old = NotifyConfig::from_toml(
            "[[webhook]]\nname = \"w\"\nurl = \"http://127.0.0.1:9/\"\n[[route]]\nname = \"gone\"\nchannel = \"w\"\n",
        )
        .unwrap();
        store.append_event(event("pump-a", "CVE-1")).unwrap();
        route_pending(&store, &old).unwrap();
        let w = Worker::new(store.clone(), NotifyConfig::default());
        w.deliver_due(Utc::now()).await;
        let d = store.delivery("1-gone").unwrap().unwrap();
        assert_eq!(d.status, DeliveryStatus::Dead);
        assert!(d.last_error.unwrap().contains("no longer configured"));
    }
}
