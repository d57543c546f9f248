//! The router's decision, pure: which routes take an event, and which of those are skipped as
//! duplicates. The worker feeds it the event, the routes and what each route already got, and
//! stores the answer atomically with `Store::route_event`.
//!
//! **De-duplication rule.** An alert is about a (kind, product, subject), where the subject is
//! the alias group id for vulnerability events (so CVE-x and GHSA-y of one flaw are one subject:
//! one alert per alias group) and the feed name for feed events. A route does not get a second
//! delivery with the same key when its event happened less than the route's window (default
//! 24 h) after the event of the last delivery with that key. Exceptions, always delivered:
//! - kinds that report a change of assessment: `priority_changed`, `risk_changed`,
//!   `exploit_evidence` (each is news, however soon after the last);
//! - the opposite news in between: `release_affected` after a `finding_retracted` on the same
//!   key (and the reverse), so a reader never keeps a stale "retracted" as the last word;
//! - earlier deliveries that ended dead: they never reached anyone, so they do not count.
//!
//! Some kinds report several distinct facts about one subject: a deadline reminder per
//! recipient and mark, a missing SOUP record per component. For `deadline_reminder`,
//! `deadline_overdue` and `soup_record_missing` the event title is part of the key, so only an
//! exact repeat is dropped.
//!
//! Times are the events' own times, not routing times, so the outcome does not depend on how
//! long the daemon was down. A skipped duplicate is logged, and the event still counts as routed.

use super::config::{Mode, Priority, Route};
use crate::store::{Delivery, DeliveryStatus, EventKind, EventRecord};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// Kinds that are delivered even right after an alert of the same kind on the same subject.
pub fn is_change_kind(kind: EventKind) -> bool {
    matches!(
        kind,
        EventKind::PriorityChanged | EventKind::RiskChanged | EventKind::ExploitEvidence
    )
}

/// The kind whose delivery in between makes an alert news again.
fn opposite(kind: EventKind) -> Option<EventKind> {
    match kind {
        EventKind::ReleaseAffected => Some(EventKind::FindingRetracted),
        EventKind::FindingRetracted => Some(EventKind::ReleaseAffected),
        _ => None,
    }
}

/// Kinds whose events about one subject are distinct facts told apart by their title.
fn keyed_by_title(kind: EventKind) -> bool {
    matches!(
        kind,
        EventKind::DeadlineReminder | EventKind::DeadlineOverdue | EventKind::SoupRecordMissing
    )
}

/// The delivery id: `{event seq}-{route}`, also the idempotency key of every attempt.
pub fn delivery_id(seq: u64, route: &str) -> String {
    format!("{seq}-{route}")
}

/// Whether `route` takes `ev` by its filters (products, kinds, priority).
pub fn route_matches(route: &Route, ev: &EventRecord) -> bool {
    let f = &route.filter;
    if !f.kinds.is_empty() && !f.kinds.contains(&ev.kind) {
        return false;
    }
    if !f.products.is_empty() {
        match &ev.product {
            Some(p) if f.products.iter().any(|x| x == p) => {}
            _ => return false,
        }
    }
    match ev.priority.as_deref() {
        None => !f.require_priority,
        Some(p) => match (Priority::parse(p), f.min_priority) {
            (Some(p), Some(min)) => p <= min,
            (Some(_), None) => true,
            // An unknown priority label must not silence an alert: it passes (and is logged).
            (None, _) => true,
        },
    }
}

/// The event of the last delivery a route got for one de-duplication key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastAlert {
    pub seq: u64,
    pub at: DateTime<Utc>,
}

/// (route, kind, product, subject, title for kinds keyed by title).
type Key = (String, EventKind, Option<String>, String, Option<String>);

fn key(route: &str, kind: EventKind, ev: &EventRecord) -> Key {
    (
        route.to_string(),
        kind,
        ev.product.clone(),
        ev.subject.clone(),
        keyed_by_title(kind).then(|| ev.title.clone()),
    )
}

/// The latest live (not dead) delivery per route and key.
#[derive(Debug, Default, Clone)]
pub struct History {
    last: HashMap<Key, LastAlert>,
}

impl History {
    /// Builds the history from stored deliveries and a lookup of their events.
    pub fn from_deliveries<'a>(
        deliveries: impl IntoIterator<Item = &'a Delivery>,
        mut event: impl FnMut(u64) -> Option<EventRecord>,
    ) -> History {
        let mut h = History::default();
        for d in deliveries {
            if d.status == DeliveryStatus::Dead {
                continue;
            }
            if let Some(ev) = event(d.event_seq) {
                h.record(&d.route, &ev);
            }
        }
        h
    }

    /// Notes that `route` got a delivery for `ev` (keeps the latest by event sequence).
    pub fn record(&mut self, route: &str, ev: &EventRecord) {
        let new = LastAlert {
            seq: ev.seq,
            at: ev.at,
        };
        self.last
            .entry(key(route, ev.kind, ev))
            .and_modify(|old| {
                if new.seq > old.seq {
                    *old = new;
                }
            })
            .or_insert(new);
    }

    /// The last delivery on `route` with `ev`'s key, but of kind `kind`.
    pub fn last(&self, route: &str, kind: EventKind, ev: &EventRecord) -> Option<LastAlert> {
        self.last.get(&key(route, kind, ev)).copied()
    }

    /// The earlier delivery that makes `ev` a duplicate on `route`, if any.
    pub fn duplicate_of(&self, route: &Route, ev: &EventRecord) -> Option<u64> {
        if is_change_kind(ev.kind) {
            return None;
        }
        let prev = self.last(&route.name, ev.kind, ev)?;
        let window =
            chrono::Duration::from_std(route.dedup_window).unwrap_or(chrono::Duration::MAX);
        if prev.seq >= ev.seq || ev.at.signed_duration_since(prev.at) >= window {
            return None;
        }
        let news_in_between = opposite(ev.kind)
            .and_then(|k| self.last(&route.name, k, ev))
            .is_some_and(|o| o.seq > prev.seq);
        (!news_in_between).then_some(prev.seq)
    }
}

/// Why a matching route gets no delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppressed {
    pub route: String,
    /// The event that already told this route.
    pub previous_seq: u64,
}

/// The routing of one event.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub deliveries: Vec<Delivery>,
    pub suppressed: Vec<Suppressed>,
}

/// Routes one event: one delivery per matching route that is not a duplicate, `Pending` due now
/// for immediate routes, `Digest` due at the next digest time for digest routes. `history` is
/// updated, so events routed one after another in a batch see each other.
pub fn plan(ev: &EventRecord, routes: &[Route], history: &mut History, now: DateTime<Utc>) -> Plan {
    let mut out = Plan::default();
    for route in routes.iter().filter(|r| route_matches(r, ev)) {
        if let Some(previous_seq) = history.duplicate_of(route, ev) {
            out.suppressed.push(Suppressed {
                route: route.name.clone(),
                previous_seq,
            });
            continue;
        }
        let (status, due) = match route.mode {
            Mode::Immediate => (DeliveryStatus::Pending, now),
            Mode::Digest { .. } => (DeliveryStatus::Digest, route.mode.next_digest_after(now)),
        };
        out.deliveries.push(Delivery {
            id: delivery_id(ev.seq, &route.name),
            event_seq: ev.seq,
            route: route.name.clone(),
            status,
            attempts: 0,
            next_attempt_at: due,
            last_error: None,
            last_response: None,
            delivered_at: None,
            created_at: now,
        });
        history.record(&route.name, ev);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::NotifyConfig;

    fn cfg(extra_route: &str) -> NotifyConfig {
        NotifyConfig::from_toml(&format!(
            "[[webhook]]\nname = \"w\"\nurl = \"http://127.0.0.1:9/\"\n[[route]]\nname = \"r\"\nchannel = \"w\"\n{extra_route}"
        ))
        .unwrap()
    }

    fn ev(seq: u64, kind: EventKind, subject: &str, at: &str) -> EventRecord {
        EventRecord {
            seq,
            at: at.parse().unwrap(),
            kind,
            product: Some("pump".into()),
            priority: None,
            subject: subject.into(),
            title: format!("event {seq}"),
            payload: serde_json::json!({}),
        }
    }

    const T0: &str = "2024-05-01T10:00:00Z";

    #[test]
    fn filters_on_kind_product_and_priority() {
        let c = cfg("kinds = [\"ticket_opened\"]\nproducts = [\"pump\"]\nmin_priority = \"P1\"\n");
        let r = &c.routes[0];
        let mut e = ev(1, EventKind::TicketOpened, "CVE-2021-44228", T0);
        e.priority = Some("P1".into());
        assert!(route_matches(r, &e));
        e.priority = Some("P0".into());
        assert!(route_matches(r, &e), "more urgent than the minimum passes");
        e.priority = Some("P2".into());
        assert!(!route_matches(r, &e), "less urgent is filtered");
        e.priority = None;
        assert!(route_matches(r, &e), "no priority passes unless required");
        e.priority = Some("urgent".into());
        assert!(
            route_matches(r, &e),
            "an unknown label never silences an alert"
        );
        e.priority = Some("P1".into());
        e.product = Some("monitor".into());
        assert!(!route_matches(r, &e));
        e.product = None;
        assert!(
            !route_matches(r, &e),
            "a product filter refuses product-less events"
        );
        e.product = Some("pump".into());
        e.kind = EventKind::ReleaseAffected;
        assert!(!route_matches(r, &e));

        let strict = cfg("require_priority = true\n");
        let mut e = ev(1, EventKind::ReleaseAffected, "CVE-1", T0);
        assert!(!route_matches(&strict.routes[0], &e));
        e.priority = Some("P4".into());
        assert!(route_matches(&strict.routes[0], &e));
    }

    #[test]
    fn a_second_alert_on_the_same_subject_within_the_window_is_suppressed() {
        let c = cfg("");
        let mut h = History::default();
        let now = T0.parse().unwrap();
        let first = plan(
            &ev(1, EventKind::ReleaseAffected, "CVE-1", T0),
            &c.routes,
            &mut h,
            now,
        );
        assert_eq!(first.deliveries.len(), 1);
        assert_eq!(first.deliveries[0].id, "1-r");
        assert_eq!(first.deliveries[0].status, DeliveryStatus::Pending);
        // Same kind, product and group 23 h later: suppressed.
        let again = ev(
            2,
            EventKind::ReleaseAffected,
            "CVE-1",
            "2024-05-02T09:00:00Z",
        );
        let p = plan(&again, &c.routes, &mut h, now);
        assert!(p.deliveries.is_empty());
        assert_eq!(
            p.suppressed,
            vec![Suppressed {
                route: "r".into(),
                previous_seq: 1
            }]
        );
        // Another group is another alert.
        let other = plan(
            &ev(3, EventKind::ReleaseAffected, "CVE-2", T0),
            &c.routes,
            &mut h,
            now,
        );
        assert_eq!(other.deliveries.len(), 1);
        // Another product is another alert.
        let mut e = ev(4, EventKind::ReleaseAffected, "CVE-1", T0);
        e.product = Some("monitor".into());
        assert_eq!(plan(&e, &c.routes, &mut h, now).deliveries.len(), 1);
        // 24 h after the first: the window is over.
        let late = ev(
            5,
            EventKind::ReleaseAffected,
            "CVE-1",
            "2024-05-02T10:00:00Z",
        );
        assert_eq!(plan(&late, &c.routes, &mut h, now).deliveries.len(), 1);
    }

    #[test]
    fn changes_and_the_opposite_news_in_between_are_always_delivered() {
        let c = cfg("");
        let mut h = History::default();
        let now = T0.parse().unwrap();
        for seq in 1..=3 {
            let p = plan(
                &ev(seq, EventKind::PriorityChanged, "CVE-1", T0),
                &c.routes,
                &mut h,
                now,
            );
            assert_eq!(p.deliveries.len(), 1, "priority change {seq}");
        }
        let mut sent = |seq: u64, kind: EventKind| {
            plan(&ev(seq, kind, "CVE-9", T0), &c.routes, &mut h, now)
                .deliveries
                .len()
        };
        assert_eq!(sent(10, EventKind::ReleaseAffected), 1);
        assert_eq!(sent(11, EventKind::TicketOpened), 1);
        assert_eq!(
            sent(12, EventKind::ReleaseAffected),
            0,
            "a ticket in between is not news about the release"
        );
        assert_eq!(sent(13, EventKind::FindingRetracted), 1);
        assert_eq!(
            sent(14, EventKind::ReleaseAffected),
            1,
            "affected again after a retraction"
        );
        assert_eq!(sent(15, EventKind::ReleaseAffected), 0);
        assert_eq!(sent(16, EventKind::FindingRetracted), 1);
        assert_eq!(sent(17, EventKind::FindingRetracted), 0);
    }

    #[test]
    fn distinct_reminders_and_missing_records_on_one_subject_are_all_delivered() {
        let c = cfg("");
        let mut h = History::default();
        let now = T0.parse().unwrap();
        let mut sent = |seq: u64, kind: EventKind, title: &str| {
            let mut e = ev(seq, kind, "CVE-2023-44487", T0);
            e.title = title.into();
            plan(&e, &c.routes, &mut h, now).deliveries.len()
        };
        let fda = "demo-pump:CVE-2023-44487: FDA due 2024-05-31 (3d)";
        assert_eq!(sent(1, EventKind::DeadlineReminder, fda), 1);
        assert_eq!(
            sent(
                2,
                EventKind::DeadlineReminder,
                "demo-pump:CVE-2023-44487: EU due 2024-05-20 (3d)"
            ),
            1
        );
        assert_eq!(
            sent(
                3,
                EventKind::DeadlineReminder,
                "demo-pump:CVE-2023-44487: FDA due 2024-05-31 (1d)"
            ),
            1
        );
        assert_eq!(
            sent(4, EventKind::DeadlineReminder, fda),
            0,
            "an exact repeat"
        );
        assert_eq!(
            sent(
                5,
                EventKind::SoupRecordMissing,
                "demo-pump: SOUP record missing for http2-server"
            ),
            1
        );
        assert_eq!(
            sent(
                6,
                EventKind::SoupRecordMissing,
                "demo-pump: SOUP record missing for http2-common"
            ),
            1
        );
        assert_eq!(
            sent(
                7,
                EventKind::SignoffNeeded,
                "PR-1: provisional decision awaits signoff"
            ),
            1
        );
        assert_eq!(
            sent(
                8,
                EventKind::SignoffNeeded,
                "PR-1: decision changed since the last signoff"
            ),
            0
        );
    }

    #[test]
    fn dead_deliveries_do_not_suppress_and_history_keeps_the_latest() {
        let first = ev(1, EventKind::ReleaseAffected, "CVE-1", T0);
        let c = cfg("");
        let now: DateTime<Utc> = T0.parse().unwrap();
        let mut d = plan(&first, &c.routes, &mut History::default(), now).deliveries;
        d[0].status = DeliveryStatus::Dead;
        let mut h = History::from_deliveries(&d, |_| Some(first.clone()));
        let again = ev(2, EventKind::ReleaseAffected, "CVE-1", T0);
        assert_eq!(plan(&again, &c.routes, &mut h, now).deliveries.len(), 1);
        d[0].status = DeliveryStatus::Delivered;
        let mut h = History::from_deliveries(&d, |_| Some(first.clone()));
        assert_eq!(plan(&again, &c.routes, &mut h, now).deliveries.len(), 0);

        let mut h = History::default();
        let later = ev(7, EventKind::ReleaseAffected, "CVE-1", T0);
        h.record("r", &later);
        h.record("r", &ev(6, EventKind::ReleaseAffected, "CVE-1", T0));
        assert_eq!(
            h.last("r", EventKind::ReleaseAffected, &later).unwrap().seq,
            7
        );
    }

    #[test]
    fn zero_window_turns_deduplication_off_and_digest_routes_hold_deliveries() {
        let c =
            cfg("dedup_window_hours = 0\nmode = \"digest\"\ndigest_schedule = \"0 0 7 * * *\"\n");
        let mut h = History::default();
        let now: DateTime<Utc> = "2024-05-01T08:00:00Z".parse().unwrap();
        for seq in 1..=2 {
            let p = plan(
                &ev(seq, EventKind::ReleaseAffected, "CVE-1", T0),
                &c.routes,
                &mut h,
                now,
            );
            assert_eq!(p.deliveries.len(), 1);
            assert_eq!(p.deliveries[0].status, DeliveryStatus::Digest);
            assert_eq!(
                p.deliveries[0].next_attempt_at,
                "2024-05-02T07:00:00Z".parse::<DateTime<Utc>>().unwrap()
            );
        }
    }
}
