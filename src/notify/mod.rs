//! Alerts: routes events from the durable outbox to channels (SMTP email, webhooks) and delivers
//! them at least once with retries.
//!
//! Events are appended by the code that makes a change, in the same transaction (see
//! `store::outbox`). The worker here turns each new event into one delivery per matching
//! `[[notify.route]]` (filters on product, kind and priority, with de-duplication per alias group:
//! see [`router`]), atomically with marking the event routed. It then sends due deliveries
//! through the route's channel: an email (`Message-ID: <{delivery id}@soupwatch>`, text and HTML
//! alternatives) or a signed webhook (`X-Soupwatch-Delivery`, `X-Soupwatch-Signature`). A failed
//! attempt is retried with exponential backoff and jitter until the route's `max_attempts`, then
//! the delivery is dead: listed by `GET /api/v1/outbox`, counted by `/healthz`, and requeued by
//! `POST /api/v1/outbox/{id}/retry` (one more attempt each time). Digest routes hold their
//! deliveries until the route's cron time and send them as one message.
//!
//! At least once, not exactly once: a crash between the server's acceptance and the store write
//! re-sends the message with the same id, which receivers can use to drop the copy.

mod channel;
pub mod config;
pub mod render;
pub mod retry;
pub mod router;
mod worker;

pub use config::NotifyConfig;
pub use worker::route_pending;

use crate::store::{EventKind, EventRecord, Store};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("no route named {0:?}")]
    UnknownRoute(String),
    #[error("route {route:?}: {error}{}", response.as_deref().map(|r| format!(" (server said: {r})")).unwrap_or_default())]
    Send {
        route: String,
        error: String,
        response: Option<String>,
    },
}

/// Starts the router and delivery worker (one task: route new events, send due deliveries and
/// due digests, every second); it stops when `cancel` flips to true.
pub fn spawn_workers(
    store: Arc<Store>,
    config: NotifyConfig,
    cancel: tokio::sync::watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    if config.routes.is_empty() {
        tracing::info!("no notify routes configured: events are recorded but no alerts are sent");
    }
    let worker = worker::Worker::new(store, config);
    vec![tokio::spawn(worker.run(cancel))]
}

/// Sends a test message through one route's channel now (not through the outbox) and returns
/// what the server answered: the final SMTP reply, or the HTTP status and the start of the body.
pub async fn send_test(config: &NotifyConfig, route: &str) -> Result<String, NotifyError> {
    let r = config
        .route(route)
        .ok_or_else(|| NotifyError::UnknownRoute(route.to_string()))?;
    let now = chrono::Utc::now();
    let ev = EventRecord {
        seq: 0,
        at: now,
        kind: EventKind::Test,
        product: None,
        priority: None,
        subject: "test".into(),
        title: format!("soupwatch test message for route {route}"),
        payload: serde_json::json!({
            "route": route,
            "channel": r.channel,
            "note": "Sent by `soupwatch notify test`; no action needed.",
        }),
    };
    let key = format!("test-{route}-{}", now.timestamp_millis());
    let msg = render::Outgoing::single(key, route, ev);
    channel::Senders::default()
        .send(config, r, &msg)
        .await
        .map_err(|e| NotifyError::Send {
            route: route.to_string(),
            error: e.error,
            response: e.response,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::DeliveryStatus;

    fn event(kind: EventKind, subject: &str) -> EventRecord {
        EventRecord {
            seq: 0,
            at: chrono::Utc::now(),
            kind,
            product: Some("demo-pump".into()),
            priority: None,
            subject: subject.into(),
            title: format!("{kind:?} {subject}"),
            payload: serde_json::json!({}),
        }
    }

    #[test]
    fn routing_from_the_store_is_atomic_and_deduplicates_across_batches() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("data")).unwrap();
        let config = NotifyConfig::from_toml(
            r#"
            [[webhook]]
            name = "w"
            url = "http://127.0.0.1:9/"
            [[route]]
            name = "all"
            channel = "w"
            [[route]]
            name = "retractions"
            channel = "w"
            kinds = ["finding_retracted"]
            mode = "digest"
            "#,
        )
        .unwrap();
        let a = store
            .append_event(event(EventKind::ReleaseAffected, "CVE-1"))
            .unwrap();
        let b = store
            .append_event(event(EventKind::ReleaseAffected, "CVE-1"))
            .unwrap();
        let c = store
            .append_event(event(EventKind::FindingRetracted, "CVE-1"))
            .unwrap();
        assert_eq!(route_pending(&store, &config).unwrap(), 3);
        assert!(store.unrouted_events(10).unwrap().is_empty());
        let ids: Vec<String> = store
            .deliveries()
            .unwrap()
            .into_iter()
            .map(|d| d.id)
            .collect();
        let mut want = vec![
            format!("{a}-all"),
            format!("{c}-all"),
            format!("{c}-retractions"),
        ];
        want.sort();
        let mut got = ids.clone();
        got.sort();
        assert_eq!(got, want, "event {b} is a duplicate of {a} on route all");
        assert_eq!(
            store
                .delivery(&format!("{c}-retractions"))
                .unwrap()
                .unwrap()
                .status,
            DeliveryStatus::Digest
        );
        // A later pass (a restart) still sees the earlier deliveries: "affected" again right
        // after "retracted" is news, a repeated "retracted" is not.
        store
            .append_event(event(EventKind::ReleaseAffected, "CVE-1"))
            .unwrap();
        store
            .append_event(event(EventKind::ReleaseAffected, "CVE-1"))
            .unwrap();
        assert_eq!(route_pending(&store, &config).unwrap(), 1);
        assert_eq!(route_pending(&store, &config).unwrap(), 0);
    }

    #[test]
    fn without_routes_events_are_consumed_without_deliveries() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("data")).unwrap();
        store
            .append_event(event(EventKind::ReleaseAffected, "CVE-1"))
            .unwrap();
        assert_eq!(route_pending(&store, &NotifyConfig::default()).unwrap(), 0);
        assert!(store.unrouted_events(10).unwrap().is_empty());
        assert!(store.deliveries().unwrap().is_empty());
    }

    #[tokio::test]
    async fn send_test_names_unknown_routes_and_unreachable_servers() {
        let config = NotifyConfig::from_toml(
            "[[webhook]]\nname = \"w\"\nurl = \"http://127.0.0.1:9/\"\ntimeout_secs = 2\n[[route]]\nname = \"r\"\nchannel = \"w\"\n",
        )
        .unwrap();
        let e = send_test(&config, "nope").await.unwrap_err();
        assert_eq!(e.to_string(), "no route named \"nope\"");
        let e = send_test(&config, "r").await.unwrap_err().to_string();
        assert!(e.starts_with("route \"r\": POST http://127.0.0.1:"), "{e}");
    }
}
