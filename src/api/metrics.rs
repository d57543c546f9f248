//! `/metrics` in the Prometheus text format: feed freshness, findings and tickets, deadlines,
//! outbox depth, store size, and HTTP request counts and latencies. Gauges are read from the
//! store at scrape time; HTTP figures are counted by a middleware.

use super::{blocking, error::ApiError, AppState};
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Instant;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Default)]
struct Series {
    count: u64,
    sum: f64,
    buckets: [u64; BUCKETS.len()],
}

/// Request counters keyed by (method, route template, status).
#[derive(Default)]
pub struct HttpMetrics {
    series: Mutex<BTreeMap<(String, String, u16), Series>>,
}

pub async fn track(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    // The route template, never the raw path: ids must not explode the label set.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let start = Instant::now();
    let resp = next.run(req).await;
    let secs = start.elapsed().as_secs_f64();
    let mut map = st
        .http_metrics
        .series
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    let s = map
        .entry((method, route, resp.status().as_u16()))
        .or_default();
    s.count += 1;
    s.sum += secs;
    for (i, b) in BUCKETS.iter().enumerate() {
        if secs <= *b {
            s.buckets[i] += 1;
        }
    }
    resp
}

fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

pub async fn render(State(st): State<AppState>) -> Result<Response, ApiError> {
    let http = {
        let map = st
            .http_metrics
            .series
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP soupwatch_http_requests_total HTTP requests by method, route and status."
        );
        let _ = writeln!(out, "# TYPE soupwatch_http_requests_total counter");
        for ((m, r, c), s) in map.iter() {
            let _ = writeln!(
                out,
                "soupwatch_http_requests_total{{method=\"{m}\",route=\"{}\",status=\"{c}\"}} {}",
                esc(r),
                s.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP soupwatch_http_request_duration_seconds HTTP request latency."
        );
        let _ = writeln!(
            out,
            "# TYPE soupwatch_http_request_duration_seconds histogram"
        );
        for ((m, r, c), s) in map.iter() {
            let labels = format!("method=\"{m}\",route=\"{}\",status=\"{c}\"", esc(r));
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "soupwatch_http_request_duration_seconds_bucket{{{labels},le=\"{b}\"}} {}",
                    s.buckets[i]
                );
            }
            let _ = writeln!(
                out,
                "soupwatch_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "soupwatch_http_request_duration_seconds_sum{{{labels}}} {}",
                s.sum
            );
            let _ = writeln!(
                out,
                "soupwatch_http_request_duration_seconds_count{{{labels}}} {}",
                s.count
            );
        }
        out
    };
    let body = blocking(move || {
        let now = chrono::Utc::now();
        let today = now.date_naive();
        let mut out = String::new();
        let mut gauge = |name: &str, help: &str, rows: Vec<(String, f64)>| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} gauge");
            for (labels, v) in rows {
                if labels.is_empty() {
                    let _ = writeln!(out, "{name} {v}");
                } else {
                    let _ = writeln!(out, "{name}{{{labels}}} {v}");
                }
            }
        };
        let feeds = crate::feeds::status(&st.store, &st.feeds.defs, now)?;
        let fl = |f: &crate::feeds::FeedStatus| format!("feed=\"{}\"", esc(&f.name));
        gauge(
            "soupwatch_feed_last_success_age_seconds",
            "Seconds since the feed's last successful sync (absent: never).",
            feeds
                .iter()
                .filter_map(|f| {
                    f.last_success
                        .map(|t| (fl(f), (now - t).num_seconds() as f64))
                })
                .collect(),
        );
        gauge(
            "soupwatch_feed_newest_record_age_seconds",
            "Age of the newest record the feed holds.",
            feeds
                .iter()
                .filter_map(|f| {
                    f.newest_record
                        .map(|t| (fl(f), (now - t).num_seconds() as f64))
                })
                .collect(),
        );
        gauge(
            "soupwatch_feed_last_sync_duration_seconds",
            "Duration of the feed's last sync attempt.",
            feeds
                .iter()
                .filter_map(|f| f.last_duration_ms.map(|d| (fl(f), d as f64 / 1000.0)))
                .collect(),
        );
        gauge(
            "soupwatch_feed_records",
            "Records the feed holds.",
            feeds
                .iter()
                .map(|f| (fl(f), f.record_count as f64))
                .collect(),
        );
        gauge(
            "soupwatch_feed_stale",
            "1 when the feed is past its staleness limit.",
            feeds
                .iter()
                .map(|f| (fl(f), if f.stale { 1.0 } else { 0.0 }))
                .collect(),
        );
        gauge(
            "soupwatch_feed_failing",
            "1 when the feed's last attempt failed.",
            feeds
                .iter()
                .map(|f| (fl(f), if f.last_error.is_some() { 1.0 } else { 0.0 }))
                .collect(),
        );
        let tickets = st.store.tickets()?;
        let mut by_state: BTreeMap<String, f64> = BTreeMap::new();
        let mut by_priority: BTreeMap<String, f64> = BTreeMap::new();
        let mut overdue = 0.0;
        for t in &tickets {
            let state = serde_json::to_value(t.state)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            *by_state.entry(state).or_default() += 1.0;
            if t.state != crate::triage::TicketState::Closed {
                let active = t
                    .releases
                    .iter()
                    .filter(|r| r.applicable)
                    .map(|r| r.components.len())
                    .sum::<usize>();
                *by_priority
                    .entry(t.decision.priority.as_str().to_string())
                    .or_default() += active as f64;
            }
            overdue += t.overdue_notifications(today) as f64;
        }
        gauge(
            "soupwatch_tickets",
            "Tickets by lifecycle state.",
            by_state
                .into_iter()
                .map(|(k, v)| (format!("state=\"{k}\""), v))
                .collect(),
        );
        gauge(
            "soupwatch_findings_open",
            "Affected components of open tickets, by priority.",
            by_priority
                .into_iter()
                .map(|(k, v)| (format!("priority=\"{k}\""), v))
                .collect(),
        );
        gauge(
            "soupwatch_notifications_overdue",
            "Notification clocks past their deadline and not sent.",
            vec![(String::new(), overdue)],
        );
        let deliveries = st.store.deliveries()?;
        let mut by_status: BTreeMap<&str, f64> = BTreeMap::new();
        for d in &deliveries {
            let s = match d.status {
                crate::store::DeliveryStatus::Pending => "pending",
                crate::store::DeliveryStatus::Digest => "digest",
                crate::store::DeliveryStatus::Delivered => "delivered",
                crate::store::DeliveryStatus::Dead => "dead",
            };
            *by_status.entry(s).or_default() += 1.0;
        }
        gauge(
            "soupwatch_outbox_deliveries",
            "Alert deliveries by status (pending + digest = outbox depth).",
            by_status
                .into_iter()
                .map(|(k, v)| (format!("status=\"{k}\""), v))
                .collect(),
        );
        gauge(
            "soupwatch_advisories",
            "Advisory records held.",
            vec![(String::new(), st.store.advisory_count() as f64)],
        );
        gauge(
            "soupwatch_store_size_bytes",
            "Bytes the store uses on disk.",
            vec![(String::new(), st.store.size_on_disk().unwrap_or(0) as f64)],
        );
        Ok(out)
    })
    .await?;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        format!("{body}{http}"),
    )
        .into_response())
}
